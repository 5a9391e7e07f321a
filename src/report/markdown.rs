//! The review as Markdown that reads well raw in a terminal and rendered.
//!
//! Text from the shared directory is escaped only where it would change meaning ([`md`]): a
//! hostile note cannot open HTML, a link, an image, a heading, a table cell or a code span, but
//! an ordinary `(`, `.`, `!` or `_` in a word stays as written. Commands and outputs go into
//! fenced blocks (a fence longer than any backtick run inside), where nothing is interpreted.

use super::review::{Review, Section, Written, SECTIONS};

/// Inline text for Markdown: one line (sanitised), escaped only where Markdown or HTML would
/// read it as syntax — `<` (HTML, autolinks), `[`/`]` (links, images, references), `|` (table
/// cells), `\` before punctuation, backticks, `*`/`~`/`_` that could pair into emphasis, and
/// what opens a block at the start (`#`, `>`, a list marker, a rule).
pub fn md(s: &str) -> String {
    let text = crate::domain::sanitize(s);
    let chars: Vec<char> = text.chars().collect();
    let count = |c: char| chars.iter().filter(|&&x| x == c).count();
    let pairs = |c: char| count(c) >= 2;
    let (star, tilde, tick) = (pairs('*'), pairs('~'), count('`') >= 1);
    let mut out = String::with_capacity(text.len() + 8);
    let first = chars.iter().position(|c| *c != ' ').unwrap_or(0);
    // `1. ` / `1) ` at the start opens an ordered list: its `.`/`)` is escaped.
    let digits = chars[first..].iter().take_while(|c| c.is_ascii_digit()).count();
    let list_mark = (digits > 0
        && matches!(chars.get(first + digits), Some('.' | ')'))
        && matches!(chars.get(first + digits + 1), None | Some(' ')))
    .then_some(first + digits);
    for (i, &c) in chars.iter().enumerate() {
        let prev = i.checked_sub(1).and_then(|j| chars.get(j)).copied();
        let next = chars.get(i + 1).copied();
        let escape = match c {
            '#' | '>' | '=' if i == first => true,
            '-' | '+' | '*' if i == first && next.is_none_or(|n| n == ' ' || n == c) => true,
            '.' | ')' if Some(i) == list_mark => true,
            '<' => {
                out.push_str("&lt;");
                continue;
            }
            '[' | ']' | '|' => true,
            // `](` never survives, even with both brackets escaped.
            '(' => prev == Some(']'),
            '\\' => next.is_some_and(|n| n.is_ascii_punctuation()),
            '`' => tick,
            '*' => star,
            '~' => tilde,
            // `snake_case` never emphasises; `_a_` at word edges could.
            '_' => {
                let inner = prev.is_some_and(|p| p.is_alphanumeric()) && next.is_some_and(|n| n.is_alphanumeric());
                !inner && pairs('_')
            }
            '&' => {
                // `&lt;` would be read as an entity: keep the text as written.
                let rest: String = chars[i + 1..].iter().take(10).collect();
                let entity = rest.split_once(';').is_some_and(|(name, _)| {
                    !name.is_empty() && name.chars().all(|x| x.is_ascii_alphanumeric() || x == '#')
                });
                if entity {
                    out.push_str("&amp;");
                    continue;
                }
                false
            }
            _ => false,
        };
        if escape {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A fenced block for text shown as written (commands, outputs): the fence is longer than any
/// run of backticks inside, so nothing in the text can close it.
fn fenced(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat((longest + 1).max(3));
    let body: Vec<String> = crate::domain::sanitize_lines(text);
    format!("{fence}text\n{}\n{fence}\n", body.join("\n"))
}

/// Renders sections into Markdown, keeping every value it inserts (`data`) so a test can check
/// that the JSON holds each one.
struct Md {
    o: String,
    data: Vec<String>,
}

impl Md {
    /// A value, escaped for inline Markdown.
    fn t(&mut self, s: &str) -> String {
        self.data.push(s.to_string());
        md(s)
    }
    fn opt(&mut self, s: Option<&str>, none: &str) -> String {
        match s {
            Some(x) => self.t(x),
            None => none.to_string(),
        }
    }
    fn n(&mut self, n: impl ToString) -> String {
        let s = n.to_string();
        self.data.push(s.clone());
        s
    }
    fn fence(&mut self, s: &str) -> String {
        self.data.extend(crate::domain::sanitize_lines(s));
        fenced(s)
    }
    fn line(&mut self, s: &str) {
        self.o.push_str(s);
        self.o.push('\n');
    }
    fn blank(&mut self) {
        self.o.push('\n');
    }
    /// Multi-line text as a block quote, each line escaped; its line breaks kept (a backslash
    /// hard break between two lines of text).
    fn quote(&mut self, text: &str) {
        let lines: Vec<String> = crate::domain::sanitize_lines(text);
        for (i, l) in lines.iter().enumerate() {
            let l = self.t(l);
            let l = l.trim_end();
            let next_text = lines.get(i + 1).is_some_and(|n| !n.trim().is_empty());
            let brk = if !l.is_empty() && next_text && !l.ends_with('\\') {
                "\\"
            } else {
                ""
            };
            self.line(format!("> {l}{brk}").trim_end());
        }
        self.blank();
    }
    fn written(&mut self, w: &Option<Written>, none: &str) {
        match w {
            Some(w) => {
                self.quote(&w.text);
                let (by, at, src) = (self.t(&w.by), self.t(&w.at), self.t(&w.source));
                self.line(&format!("— {by}, {at} ({src})"));
                self.blank();
            }
            None => {
                self.line(none);
                self.blank();
            }
        }
    }
}

/// The review as Markdown, section by section in [`SECTIONS`] order.
pub fn markdown(r: &Review) -> String {
    render(r).0
}

/// The Markdown and every value it shows (for the test that the JSON holds them all).
pub fn render(r: &Review) -> (String, Vec<String>) {
    let mut m = Md {
        o: String::new(),
        data: Vec::new(),
    };
    let kind = if r.is_exercise() {
        "After-action report"
    } else {
        "Incident record"
    };
    let title = m.t(&r.overview.title);
    m.line(&format!("# {kind}: {title}"));
    m.blank();
    match r.overview.mode.as_deref() {
        Some("EXERCISE") => m.line("> **EXERCISE** — a tabletop exercise, not a real incident.\n"),
        Some("DEMO") => m.line("> **DEMO** — simulated data.\n"),
        _ => {}
    }
    for section in SECTIONS {
        match section {
            Section::Integrity => integrity(&mut m, r),
            Section::Overview => overview(&mut m, r),
            Section::Summary => {
                m.line("## Summary");
                m.blank();
                m.written(&r.summary, "_Not recorded yet._");
            }
            Section::ImpactAndRootCause => {
                m.line("## Impact");
                m.blank();
                m.written(&r.impact, "_Not recorded yet._");
                m.line("## Root cause");
                m.blank();
                m.written(&r.root_cause, "_Not recorded yet._");
            }
            Section::Exercise => exercise(&mut m, r),
            Section::KeyTimes => key_times(&mut m, r),
            Section::Deadlines => deadlines(&mut m, r),
            Section::Roles => roles(&mut m, r),
            Section::Phases => phases(&mut m, r),
            Section::Checklists => checklists(&mut m, r),
            Section::Actions => actions(&mut m, r),
            Section::StatusUpdates => updates(&mut m, r),
            Section::FollowUps => follow_ups(&mut m, r),
            Section::Lessons => lessons(&mut m, r),
            Section::Timeline => timeline(&mut m, r),
            Section::Problems => problems(&mut m, r),
        }
    }
    (m.o, m.data)
}

fn integrity(m: &mut Md, r: &Review) {
    let i = &r.integrity;
    let (logs, records) = (m.n(i.logs), m.n(i.records));
    if i.ok {
        m.line(&format!("> **Integrity: verified** — {logs} log(s), {records} record(s); every hash chain and cross-log head checks out (tamper-evident, not proof)."));
        m.blank();
    } else {
        let n = m.n(i.errors.len());
        m.line(&format!("> **Integrity: TAMPERING OR LOSS FOUND** — {n} problem(s) found checking {logs} log(s); records marked below are not to be taken as fact:"));
        m.line(">");
        for e in &i.errors {
            let e = m.t(e);
            m.line(&format!("> - {e}"));
        }
        m.blank();
    }
    for c in &i.crashes {
        let c = m.t(c);
        m.line(&format!("> crash (not tampering): {c}"));
        m.blank();
    }
}

fn overview(m: &mut Md, r: &Review) {
    let o = &r.overview;
    m.line("| | |\n|---|---|");
    let id = m.t(&o.id);
    m.line(&format!("| Incident | {id} |"));
    let sev = o.severity.map_or("?".to_string(), |s| m.n(s));
    m.line(&format!("| Severity | SEV{sev} |"));
    if let Some(mode) = &o.mode {
        let mode = m.t(mode);
        m.line(&format!("| Mode | {mode} |"));
    }
    let (phase, status) = (m.t(&o.phase), m.t(&o.status));
    m.line(&format!("| Phase | {phase} |"));
    m.line(&format!("| Status | {status} |"));
    let cmd = m.opt(o.commander.as_deref(), "-");
    m.line(&format!("| Commander | {cmd} |"));
    if let Some(p) = &o.playbook {
        let (id, v) = (m.t(&p.id), m.t(&p.version));
        let h: String = p.hash.chars().take(12).collect();
        let h = m.t(&h);
        m.line(&format!("| Playbook | {id} {v} ({h}) |"));
    }
    if let Some(d) = &o.declared {
        let (at, by) = (m.t(&d.at), m.t(&d.by));
        m.line(&format!("| Declared | {at} by {by} |"));
    }
    for (label, t) in [
        ("First evidence", &o.first_evidence),
        ("Classified", &o.classified),
        ("Materiality determined", &o.materiality),
    ] {
        if let Some(t) = t {
            let t = m.t(t);
            m.line(&format!("| {label} | {t} |"));
        }
    }
    if let Some(t) = &o.discovered {
        let t = m.t(t);
        let how = m.opt(
            o.discovery_reason.as_deref(),
            "the declaration (no discovery time recorded)",
        );
        m.line(&format!("| Discovered | {t} — {how} |"));
    }
    if let Some(res) = &o.resolved {
        let (at, by) = (m.t(&res.at), m.t(&res.by));
        let after = m.opt(o.resolved_after.as_deref(), "");
        m.line(&format!("| Resolved | {at} by {by} ({after}) |"));
        if let Some(why) = &o.resolved_reason {
            let why = m.t(why);
            m.line(&format!("| Resolved by a non-commander because | {why} |"));
        }
        if !o.resolved_override_open.is_empty() {
            let open: Vec<String> = o.resolved_override_open.iter().map(|i| m.t(i)).collect();
            m.line(&format!(
                "| **Resolved with required items open** | {} |",
                open.join(", ")
            ));
        }
    }
    let (ev, notes) = (m.n(o.events), m.n(o.notes));
    m.line(&format!("| Events | {ev} ({notes} notes) |"));
    let ex = m.t(&o.exported);
    m.line(&format!("| Exported | {ex} |"));
    if let Some(t) = &o.as_of {
        let t = m.t(t);
        m.line(&format!("| **As of** | {t} — the incident as it stood then |"));
    }
    m.blank();
}

fn key_times(m: &mut Md, r: &Review) {
    m.line("## Key times");
    m.blank();
    m.line("Measured from the declaration except detection; times are when things happened (backfilled times count). Definitions: README, \"Metrics\".");
    m.blank();
    m.line("| Measure | From → to | Result |\n|---|---|---|");
    for k in &r.key_times {
        let (name, def, words) = (m.t(&k.metric), m.t(&k.definition), m.t(&k.words));
        m.line(&format!("| {name} | {def} | {words} |"));
    }
    m.blank();
    let mo = &r.moments;
    let rows = [
        ("First evidence", &mo.first_evidence),
        ("Discovered", &mo.discovered),
        ("Declared", &mo.declared),
        ("Contained (Eradication entered)", &mo.contained),
        ("Eradicated (Recovery entered)", &mo.eradicated),
        ("Recovered", &mo.recovered),
        ("Resolved", &mo.resolved),
    ];
    m.line("| Moment | When (UTC) |\n|---|---|");
    for (label, t) in rows {
        let t = m.opt(t.as_deref(), "-");
        m.line(&format!("| {label} | {t} |"));
    }
    m.blank();
}

fn deadlines(m: &mut Md, r: &Review) {
    if r.deadlines.is_empty() {
        return;
    }
    let missed = m.n(r.deadlines_missed);
    m.line(&format!("## Deadline clocks ({missed} missed)"));
    m.blank();
    let asof = m.t(&r.overview.as_of.clone().unwrap_or(r.overview.exported.clone()));
    m.line(&format!("_As of {asof} UTC. Not legal advice: counsel confirms every deadline. Business days count Monday to Friday; public holidays are not known._"));
    m.blank();
    m.line("| State | Deadline | Stage | Starts | Due | Where it stands | Source |\n|---|---|---|---|---|---|---|");
    for d in &r.deadlines {
        let state = m.t(&d.state);
        let (name, stage, trigger) = (m.t(&d.name), m.t(&d.stage), m.t(&d.trigger));
        let starts = match &d.start {
            Some(t) => format!("{trigger} {}", m.t(t)),
            None => format!("on {trigger}"),
        };
        let due = match &d.due {
            Some(t) => format!("{}{}", m.t(t), if d.business_days { " (business days)" } else { "" }),
            None => "-".into(),
        };
        let (words, source) = (m.t(&d.words), m.t(&d.source));
        m.line(&format!(
            "| {state} | {name} | {stage} | {starts} | {due} | {words} | {source} |"
        ));
    }
    m.blank();
    let missed: Vec<_> = r.deadlines.iter().filter(|d| d.missed).collect();
    if missed.is_empty() {
        m.line("No deadline missed.");
    } else {
        m.line("Missed:");
        m.blank();
        for d in missed {
            let (name, stage, words) = (m.t(&d.name), m.t(&d.stage), m.t(&d.words));
            m.line(&format!("- {name} — {stage}: {words}"));
        }
    }
    m.blank();
}

fn roles(m: &mut Md, r: &Review) {
    m.line("## Roles and handoffs");
    m.blank();
    for role in &r.roles {
        let (name, who, since) = (m.t(&role.role), m.t(&role.who), m.t(&role.since));
        m.line(&format!("- {name}: {who} (since {since})"));
    }
    m.blank();
    if r.handoffs.is_empty() {
        m.line("No role changed hands.");
    } else {
        m.line("| When | Role | From | To | By |\n|---|---|---|---|---|");
        for h in &r.handoffs {
            let (at, role) = (m.t(&h.at), m.t(&h.role));
            let from = m.opt(h.from.as_deref(), "-");
            let (to, by) = (m.t(&h.to), m.t(&h.by));
            m.line(&format!("| {at} | {role} | {from} | {to} | {by} |"));
        }
    }
    m.blank();
}

fn phases(m: &mut Md, r: &Review) {
    m.line("## Time in each phase");
    m.blank();
    m.line("| Phase | Entered | Time (completed stays) | Now |\n|---|---|---|---|");
    for p in &r.phases {
        let (phase, entered, done) = (m.t(&p.phase), m.n(p.entered), m.t(&p.completed));
        let now = match &p.running {
            Some(x) => format!("running: {} so far", m.t(x)),
            None => "-".into(),
        };
        m.line(&format!("| {phase} | {entered}× | {done} | {now} |"));
    }
    m.blank();
    m.line("| Phase | From | To | Duration | Entered by | Open required items overridden |\n|---|---|---|---|---|---|");
    for x in &r.spans {
        let (phase, start) = (m.t(&x.phase), m.t(&x.start));
        let end = m.opt(x.end.as_deref(), "(now)");
        let (dur, by) = (m.t(&x.duration), m.t(&x.by));
        let over = if x.override_open.is_empty() {
            "-".to_string()
        } else {
            let items: Vec<String> = x.override_open.iter().map(|i| m.t(i)).collect();
            format!("**override:** {}", items.join(", "))
        };
        m.line(&format!("| {phase} | {start} | {end} | {dur} | {by} | {over} |"));
    }
    m.blank();
}

fn checklists(m: &mut Md, r: &Review) {
    if r.checklists.is_empty() {
        return;
    }
    m.line("## Checklists");
    m.blank();
    for c in &r.checklists {
        let (phase, done, total) = (m.t(&c.phase), m.n(c.done), m.n(c.total));
        m.line(&format!("### {phase} ({done}/{total})"));
        m.blank();
        for i in &c.items {
            let mark = if i.state == "done" { "x" } else { " " };
            let (id, text, state) = (m.t(&i.id), m.t(&i.text), m.t(&i.state));
            let req = if i.required { " (required)" } else { "" };
            let meta = match (&i.by, &i.at) {
                (Some(by), Some(at)) => format!(" — {state} by {} {}", m.t(by), m.t(at)),
                _ => format!(" — {state}"),
            };
            let note = i.note.as_deref().map(|n| format!(" — {}", m.t(n))).unwrap_or_default();
            let assigned = i
                .assigned
                .as_deref()
                .map(|a| format!(" — assigned to {}", m.t(a)))
                .unwrap_or_default();
            m.line(&format!("- [{mark}] {id}: {text}{req}{meta}{note}{assigned}"));
        }
        m.blank();
    }
    let overrides: Vec<_> = r.spans.iter().filter(|s| !s.override_open.is_empty()).collect();
    if !overrides.is_empty() {
        m.line("### Overrides (moved on with required items open)");
        m.blank();
        for s in overrides {
            let (phase, at, by) = (m.t(&s.phase), m.t(&s.start), m.t(&s.by));
            let items: Vec<String> = s.override_open.iter().map(|i| m.t(i)).collect();
            m.line(&format!(
                "- {phase} entered {at} by {by} with open: {}",
                items.join(", ")
            ));
        }
        m.blank();
    }
}

fn actions(m: &mut Md, r: &Review) {
    if r.actions.is_empty() {
        return;
    }
    m.line("## Containment actions");
    m.blank();
    m.line("| Action | Term | Approval | State | Proposed by | Approved by |\n|---|---|---|---|---|---|");
    for a in &r.actions {
        let (title, term, approval, state) = (m.t(&a.title), m.t(&a.term), m.t(&a.approval), m.t(&a.state));
        let prop = m.opt(a.proposer.as_deref(), "-");
        let appr = m.opt(a.approver.as_deref(), "-");
        m.line(&format!(
            "| {title} | {term} | {approval} | {state} | {prop} | {appr} |"
        ));
    }
    m.blank();
    for a in r.actions.iter().filter(|a| !a.history.is_empty()) {
        let (title, id) = (m.t(&a.title), m.t(&a.id));
        m.line(&format!("### {title} ({id})"));
        m.blank();
        for h in &a.history {
            let (state, by, at) = (m.t(&h.state), m.t(&h.by), m.t(&h.at));
            let note = h.note.as_deref().map(|n| format!(" — {}", m.t(n))).unwrap_or_default();
            m.line(&format!("- {state} by {by} {at}{note}"));
        }
        if let Some(x) = a.assigned.as_deref() {
            let x = m.t(x);
            m.line(&format!("- assigned to {x}"));
        }
        m.blank();
        if let Some(c) = &a.command {
            // What the record says happened: run by warroom (its start record, or output it
            // recorded), recorded as a dry run, or carried out by hand.
            let notes = || a.history.iter().filter_map(|h| h.note.as_deref());
            let ran = !a.outputs.is_empty() || notes().any(|n| n.starts_with("run by warroom"));
            let dry = notes().any(|n| n.starts_with("dry run (exercise)"));
            m.line(if ran {
                "Command (from the playbook; run by warroom, its parameters given as environment variables, and recorded — output below):"
            } else if dry {
                "Command (from the playbook; recorded as a dry run in the exercise, not executed):"
            } else {
                "Command (from the playbook; not run by warroom — carried out by hand, if at all):"
            });
            m.blank();
            let f = m.fence(c);
            m.o.push_str(&f);
            m.blank();
        }
        if let Some(c) = &a.rollback {
            m.line("Rollback:");
            m.blank();
            let f = m.fence(c);
            m.o.push_str(&f);
            m.blank();
        }
        for out in &a.outputs {
            let (by, at) = (m.t(&out.by), m.t(&out.at));
            let exit = out.exit.map(|e| format!(", exit {}", m.n(e))).unwrap_or_default();
            m.line(&format!("Output recorded by {by} {at}{exit}:"));
            m.blank();
            let f = m.fence(&out.text);
            m.o.push_str(&f);
            m.blank();
        }
    }
}

fn updates(m: &mut Md, r: &Review) {
    m.line("## Status updates (recorded — not sent by warroom)");
    m.blank();
    if r.status_updates.is_empty() {
        m.line("None recorded.");
        m.blank();
    }
    for u in &r.status_updates {
        let (aud, at, by) = (m.t(&u.audience), m.t(&u.at), m.t(&u.by));
        m.line(&format!("**{aud}**, {at} by {by}:"));
        m.blank();
        m.quote(&u.text);
        if let Some(c) = &u.correction {
            let c = m.t(c);
            m.line(&format!("_Correction: {c}_"));
            m.blank();
        }
    }
}

fn follow_ups(m: &mut Md, r: &Review) {
    let title = if r.is_exercise() {
        "Improvement items (follow-ups)"
    } else {
        "Follow-ups"
    };
    m.line(&format!("## {title}"));
    m.blank();
    if r.follow_ups.is_empty() {
        m.line("None recorded.");
    }
    for f in &r.follow_ups {
        let text = m.t(&f.text);
        let owner = m.opt(f.owner.as_deref(), "unassigned");
        let kind = if f.kind.is_empty() {
            String::new()
        } else {
            format!(", {}", m.t(&f.kind))
        };
        let (by, at, state, id) = (m.t(&f.by), m.t(&f.at), m.t(&f.state), m.t(&f.id));
        let short: String = id.chars().take(10).collect();
        let due = match (&f.due, f.overdue) {
            (Some(d), true) => format!(", due {} **OVERDUE**", m.t(d)),
            (Some(d), false) => format!(", due {}", m.t(d)),
            (None, _) => String::new(),
        };
        let was = f
            .was
            .as_deref()
            .map(|w| format!(", was {}", m.t(w)))
            .unwrap_or_default();
        let changed = f
            .changed
            .as_deref()
            .map(|c| format!(", {state} by {}{was}", m.t(c)))
            .unwrap_or_default();
        let from = f
            .from
            .as_deref()
            .map(|x| format!("; from `{}`", m.t(&x.chars().take(10).collect::<String>())))
            .unwrap_or_default();
        // A cancelled follow-up is no task: struck through, no checkbox.
        let lead = match f.state.as_str() {
            "done" => format!("- [x] {text}"),
            "cancelled" => format!("- ~~{text}~~ (cancelled)"),
            _ => format!("- [ ] {text}"),
        };
        m.line(&format!(
            "{lead} — owner: {owner}{kind}{due} (by {by}, {at}; {state}{changed}{from}; `{short}`)"
        ));
        if let Some(c) = &f.correction {
            let c = m.t(c);
            m.line(&format!("  - _Correction: {c}_"));
        }
    }
    m.blank();
}

fn lessons(m: &mut Md, r: &Review) {
    m.line("## Lessons learned");
    m.blank();
    if r.lessons.is_empty() {
        m.line("The playbook asks no lessons-learned questions.");
        m.blank();
    }
    for q in &r.lessons {
        let (text, id) = (m.t(&q.question), m.t(&q.id));
        m.line(&format!("**{text}** ({id})"));
        m.blank();
        m.written(&q.answer, "_No answer recorded yet._");
    }
}

fn exercise(m: &mut Md, r: &Review) {
    let Some(x) = &r.exercise else {
        return;
    };
    if let Some(s) = &x.scenario {
        let s = m.t(s);
        m.line(&format!("## Scenario\n\n{s}\n\n### Objectives\n"));
        for o in &x.objective_ratings {
            let text = m.t(&o.objective);
            let line = match (&o.rating, &o.note) {
                (Some(r), Some(n)) => format!("- {text} — **{}**: {}", m.t(r), m.t(n)),
                (Some(r), None) => format!("- {text} — **{}**", m.t(r)),
                (None, _) => format!("- {text} — not rated"),
            };
            m.line(&line);
        }
        m.blank();
    }
    m.line("## Injects and responses");
    m.blank();
    m.line("| Inject | Released | First response | After (scenario time) | Expected outcome |\n|---|---|---|---|---|");
    for i in &x.injects {
        let (id, title, st, at) = (
            m.t(&i.inject),
            m.t(&i.title),
            m.t(&i.scenario_time),
            m.t(&i.released_at),
        );
        let (resp, after) = match &i.first_response {
            Some(f) => (
                format!(
                    "{}{}: {}",
                    if f.explicit { "" } else { "(next event, not tied) " },
                    m.t(&f.by),
                    m.t(&f.what)
                ),
                m.t(&f.after),
            ),
            None => ("no response recorded".into(), "-".into()),
        };
        let exp = m.opt(i.expected.as_deref(), "-");
        m.line(&format!("| {id} — {title} | {st} ({at}) | {resp} | {after} | {exp} |"));
    }
    m.blank();
    m.line("A response is a note tied to the inject (`a` on it in the console); where there is none, the players' next event before the next inject, marked \"not tied\". Times are scenario time (the exercise clock).");
    m.blank();
    if x.scenario.is_none() {
        return;
    }
    if !x.never_released.is_empty() {
        let v: Vec<String> = x.never_released.iter().map(|s| m.t(s)).collect();
        m.line(&format!("Never released: {}", v.join("; ")));
        m.blank();
    }
    if !x.skipped.is_empty() {
        let v: Vec<String> = x.skipped.iter().map(|s| m.t(s)).collect();
        m.line(&format!("Skipped by the facilitator: {}", v.join(", ")));
        m.blank();
    }
    m.line("## What went well");
    m.blank();
    for n in &x.went_well {
        let n = m.t(n);
        m.line(&format!("- {n}"));
    }
    if x.went_well.is_empty() {
        m.line("- (no evaluator notes starting with `+`)");
    }
    m.blank();
    m.line("## What to improve");
    m.blank();
    for n in &x.to_improve {
        let n = m.t(n);
        m.line(&format!("- {n}"));
    }
    if x.to_improve.is_empty() {
        m.line("- (no evaluator notes)");
    }
    m.blank();
}

fn timeline(m: &mut Md, r: &Review) {
    m.line("## Timeline (UTC)");
    m.blank();
    m.line("| When | Who | What | Id |\n|---|---|---|---|");
    for e in &r.timeline {
        let at = m.t(&e.at);
        let back = if e.backfilled { " (backfilled)" } else { "" };
        let (by, what) = (m.t(&e.by), m.t(&e.what));
        // The short id that corrections and follow-ups name this record by.
        let id = m.t(&e.id.chars().take(10).collect::<String>());
        m.line(&format!("| {at}{back} | {by} | {what} | `{id}` |"));
    }
    m.blank();
}

fn problems(m: &mut Md, r: &Review) {
    if r.problems.is_empty() && r.clock_skew.is_empty() {
        return;
    }
    m.line("## Problems found while reading");
    m.blank();
    for p in &r.problems {
        let p = m.t(p);
        m.line(&format!("- {p}"));
    }
    for w in &r.clock_skew {
        let w = m.t(w);
        m.line(&format!("- clock skew: {w}"));
    }
    m.blank();
}

#[cfg(test)]
mod tests {
    use super::md;

    #[test]
    fn markdown_from_the_shared_directory_stays_text() {
        let out =
            md("![pixel](https://evil.example/x.png) [reset](https://phish.example) a\\| `c` <img src=x> \u{1b}[31m");
        assert!(!out.contains("!["), "{out}");
        assert!(!out.contains("]("), "{out}");
        assert!(!out.contains('<') && !out.contains('\u{1b}'), "{out}");
        // Every pipe is escaped, and an escaped backslash cannot un-escape it.
        assert!(out.contains("a\\\\\\|"), "{out}");
        assert!(!out.contains(" `c`"), "{out}");
    }

    #[test]
    fn ordinary_text_is_not_escaped() {
        for s in [
            "Hosts isolated (fin-fs-02, fin-fs-03); next update 10:30Z!",
            "snake_case names, C:\\Users\\maya, a + b = c, 5 * 3, ~30 hosts, {json}",
            "see https://status.example.com/x?a=1&b=2",
        ] {
            assert_eq!(md(s), s, "needless escaping");
        }
    }

    #[test]
    fn what_opens_a_block_or_pairs_is_defused() {
        assert_eq!(md("# not a heading"), "\\# not a heading");
        assert_eq!(md("> not a quote"), "\\> not a quote");
        assert_eq!(md("- not a list"), "\\- not a list");
        assert_eq!(md("1. not a list"), "1\\. not a list");
        assert_eq!(md("1.2.0"), "1.2.0");
        assert_eq!(md("---"), "\\---");
        assert_eq!(md("**bold** and ~~gone~~"), "\\*\\*bold\\*\\* and \\~\\~gone\\~\\~");
        assert_eq!(md("_a_ b"), "\\_a\\_ b");
        assert_eq!(md("`rm -rf`"), "\\`rm -rf\\`");
        assert_eq!(md("&lt;b&gt;"), "&amp;lt;b&amp;gt;");
        assert_eq!(md("[x]: https://evil"), "\\[x\\]: https://evil");
        assert_eq!(md("a | b"), "a \\| b");
    }

    #[test]
    fn fences_cannot_be_closed_from_inside() {
        let f = super::fenced("echo ```\n````\nok");
        assert!(f.starts_with("`````text\n"), "{f}");
        assert!(f.ends_with("\n`````\n"), "{f}");
    }
}
