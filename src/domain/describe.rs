//! One line of words for an event, as the timeline and `tail` show it. Sanitised: the text came
//! from the shared directory.

use super::event::{correctable, ActionState, Body, Event, ItemState, Target};
use super::sanitize::sanitize;
use super::time::format_utc;

pub fn item_state_word(s: ItemState) -> &'static str {
    match s {
        ItemState::Open => "open",
        ItemState::Done => "done",
        ItemState::Skipped => "skipped",
        ItemState::Blocked => "blocked",
    }
}

pub fn action_state_word(s: ActionState) -> &'static str {
    match s {
        ActionState::Proposed => "proposed",
        ActionState::Approved => "approved",
        ActionState::Running => "running",
        ActionState::Done => "done",
        ActionState::Failed => "failed",
        ActionState::RolledBack => "rolled back",
        ActionState::DryRun => "dry run",
    }
}

fn with_note(s: String, note: &Option<String>) -> String {
    match note {
        Some(n) if !n.trim().is_empty() => format!("{s} — {}", sanitize(n)),
        _ => s,
    }
}

/// A record's kind in words: "note", "status update", "checklist change".
pub fn kind_word(b: &Body) -> String {
    match b {
        Body::Note(_) => "note".into(),
        Body::StatusUpdate(_) => "status update".into(),
        Body::FollowUp(_) => "follow-up".into(),
        Body::ChecklistSet(_) => "checklist change".into(),
        Body::ActionSet(_) => "action change".into(),
        Body::ActionOutput(_) => "action output".into(),
        Body::Declared(_) => "declaration".into(),
        Body::InjectReleased(_) => "inject".into(),
        other => {
            // `SeverityChanged` → "severity changed"
            let mut out = String::new();
            for (i, c) in other.kind().chars().enumerate() {
                if c.is_ascii_uppercase() && i > 0 {
                    out.push(' ');
                }
                out.push(c.to_ascii_lowercase());
            }
            sanitize(&out)
        }
    }
}

/// The event in words, led by why it is not to be taken as fact when it is not: "[REFUSED: …]"
/// for a record the fold did not apply, "[INTEGRITY: …]" for one its log's chain calls edited
/// or out of place. Every output that shows a record (timeline, `tail`, exports) uses this.
pub fn describe_in(s: &super::IncidentState, e: &Event) -> String {
    let mut text = describe(e);
    if let Body::DiscoverySet(x) = &e.body {
        if let Some(Some(was)) = s.derived.discovery_was.get(&e.key()) {
            text = format!(
                "discovery set to {} (was {}): {}",
                format_utc(x.discovered),
                format_utc(*was),
                sanitize(&x.reason)
            );
        }
    }
    if correctable(&e.body) {
        if let Some(c) = s.correction_of(&e.id) {
            let who = super::identity::person_of(&c.by);
            let when = s.effective_when(e);
            let retimed = if when != e.when() {
                format!(
                    " [TIME CORRECTED to {}; recorded as {}]",
                    format_utc(when),
                    format_utc(e.when())
                )
            } else {
                String::new()
            };
            text = match &c.value.text {
                _ if !c.value.is_retraction() && c.value.text.is_none() => format!("{text}{retimed}"),
                Some(t) => format!("[AMENDED by {}: {}] {text}{retimed}", sanitize(&who), sanitize(t)),
                None => format!(
                    "[RETRACTED by {}: {}] {text}",
                    sanitize(&who),
                    sanitize(&c.value.reason)
                ),
            };
        }
    }
    match s.flag(e) {
        Some(flag) => format!("[{}] {text}", sanitize(&flag.label())),
        None => text,
    }
}

/// The event in words, without time or author.
pub fn describe(e: &Event) -> String {
    let s = sanitize;
    match &e.body {
        Body::Declared(d) => format!(
            "declared {}SEV{} \"{}\" with playbook {} {}; commander {}",
            match d.mode {
                super::event::Mode::Real => "",
                super::event::Mode::Exercise => "EXERCISE ",
                super::event::Mode::Demo => "DEMO ",
            },
            d.severity,
            s(&d.title),
            s(&d.playbook),
            s(&d.playbook_version),
            if d.commander.is_empty() {
                "none yet".to_string()
            } else {
                s(&d.commander)
            }
        ),
        Body::TitleChanged(t) => format!("title → \"{}\"", s(&t.title)),
        Body::PlaybookChanged(p) => format!("playbook → {} {}", s(&p.playbook), s(&p.version)),
        Body::SeverityChanged(x) => with_note(format!("severity → SEV{}", x.severity), &x.reason),
        Body::Classified(x) => with_note("classified as a reportable incident".into(), &x.note),
        Body::MaterialityDetermined(x) => with_note("materiality determined".into(), &x.note),
        Body::PhaseEntered(p) => {
            let mut t = format!("phase → {}", p.phase);
            if !p.override_open.is_empty() {
                t.push_str(&format!(
                    " (override: {} required item(s) open: {})",
                    p.override_open.len(),
                    s(&p.override_open.join(", "))
                ));
            }
            t
        }
        Body::ChecklistSet(c) => with_note(format!("{} {}", item_state_word(c.state), s(&c.item)), &c.note),
        Body::ActionSet(a) => with_note(
            format!("action {} {}", s(&a.action), action_state_word(a.state)),
            &a.note,
        ),
        Body::ActionOutput(o) => {
            let status = match (o.timed_out, o.exit) {
                (true, _) => " (timed out, killed)".to_string(),
                (false, Some(c)) if o.cast.is_some() => format!(" (exit {c})"),
                _ => String::new(),
            };
            let cast = o
                .cast
                .as_deref()
                .map(|h| format!(" [recording {}]", s(&h[..h.len().min(12)])))
                .unwrap_or_default();
            let what = if o.rollback { "rollback output" } else { "output" };
            format!("{what} of {}{status}: {}{cast}", s(&o.action), s(&o.text))
        }
        Body::Assigned(a) => match &a.target {
            Target::Item(i) => format!("assigned item {} to {}", s(i), s(&a.who)),
            Target::Action(x) => format!("assigned action {} to {}", s(x), s(&a.who)),
        },
        Body::RoleAssigned(r) => format!("{} is now {}", s(&r.who), s(&r.role)),
        Body::Note(n) => {
            // A player's answer to an inject (`inject:<id>`) says so first.
            let answers = n.tags.iter().find_map(|t| t.strip_prefix("inject:"));
            let tags: String = n
                .tags
                .iter()
                .filter(|t| !t.starts_with("inject:"))
                .map(|t| format!(" #{}", s(t)))
                .collect();
            match answers {
                Some(id) => format!("answer to inject {}: {}{tags}", s(id), s(n.text.shown())),
                None => format!("{}{tags}", s(n.text.shown())),
            }
        }
        Body::StatusUpdate(u) => format!(
            "{} status update (recorded — not sent): {}",
            u.audience.word(),
            s(&u.text)
        ),
        Body::FollowUp(f) => format!(
            "{}follow-up{}{}: {}",
            if f.kind.trim().is_empty() {
                String::new()
            } else {
                format!("{} ", s(&f.kind))
            },
            f.owner.as_ref().map(|o| format!(" for {}", s(o))).unwrap_or_default(),
            f.due.map(|t| format!(" due {}", format_utc(t))).unwrap_or_default(),
            s(&f.text)
        ),
        Body::FollowUpSet(f) => {
            let mut t = format!(
                "follow-up {} {}",
                s(&f.followup.chars().take(10).collect::<String>()),
                match f.state {
                    super::event::FollowUpState::Open => "open",
                    super::event::FollowUpState::Done => "done",
                    super::event::FollowUpState::Cancelled => "cancelled",
                }
            );
            if let Some(o) = &f.owner {
                t.push_str(&format!(", owner {}", s(o)));
            }
            if let Some(d) = f.due {
                t.push_str(&format!(", due {}", format_utc(d)));
            }
            with_note(t, &f.note)
        }
        Body::InjectReleased(i) => format!(
            "INJECT {} {}: {}",
            super::time::format_scenario(i.scenario_ms),
            s(&i.title),
            s(&i.text)
        ),
        Body::ExerciseClock(c) => format!("exercise clock: {} (x{})", s(&c.change), c.speed),
        Body::Resolved(r) => {
            let mut t = with_note("resolved".into(), &r.summary);
            if let Some(why) = r.reason.as_deref().filter(|w| !w.trim().is_empty()) {
                t.push_str(&format!(" (resolved by other than the commander because: {})", s(why)));
            }
            if !r.override_open.is_empty() {
                t.push_str(&format!(
                    " (override: {} required item(s) open: {})",
                    r.override_open.len(),
                    s(&r.override_open.join(", "))
                ));
            }
            t
        }
        Body::Reopened(r) => with_note("reopened".into(), &r.reason),
        Body::Archived(_) => "archived".into(),
        Body::DuplicateOf(d) => format!("duplicate of {}", s(&d.of)),
        Body::TailRepaired(t) => format!(
            "repaired a torn write after a crash ({} bytes at offset {})",
            t.bytes, t.offset
        ),
        Body::LogRestored(r) => format!(
            "this log had lost {} record(s) its writer acknowledged (a sync tool rolled it back, or someone edited it); re-appended seqs {}-{} verbatim from the writer's own copy",
            r.restored, r.from, r.to
        ),
        Body::Disowned(d) => format!(
            "this log's writer never wrote its record(s) seq {}: planted under their name, not applied",
            d.seqs.iter().take(10).map(u64::to_string).collect::<Vec<_>>().join(", ")
        ),
        Body::Heads(h) => format!("checkpoint of {} other log(s)", h.heads.len()),
        Body::Signed(x) => format!("signed this log up to here with key {}", sanitize(&x.key)),
        Body::Corrected(c) => match (&c.text, c.occurred) {
            (None, Some(t)) => format!(
                "time of {} corrected to {} — {}",
                s(&c.id.chars().take(10).collect::<String>()),
                format_utc(t),
                s(&c.reason)
            ),
            (Some(t), Some(at)) => format!(
                "amended {}: \"{}\", time corrected to {} — {}",
                s(&c.id.chars().take(10).collect::<String>()),
                s(t),
                format_utc(at),
                s(&c.reason)
            ),
            (Some(t), None) => format!(
                "amended {}: \"{}\" — {}",
                s(&c.id.chars().take(10).collect::<String>()),
                s(t),
                s(&c.reason)
            ),
            (None, None) => format!(
                "retracted {}: {}",
                s(&c.id.chars().take(10).collect::<String>()),
                s(&c.reason)
            ),
        },
        Body::ReviewSet(r) => format!("review {}: {}", s(&r.field), s(&r.text)),
        Body::DiscoverySet(x) => format!("discovery set to {}: {}", format_utc(x.discovered), s(&x.reason)),
        Body::Unknown(u) => format!("unknown event {} (newer warroom)", s(&u.kind)),
    }
}
