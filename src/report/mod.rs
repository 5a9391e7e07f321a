//! Export: the record of an incident as Markdown or JSON. For an exercise the Markdown is the
//! after-action report, merging in the facilitator's private scenario and evaluator notes.
//! Everything from the shared directory is sanitised and escaped here.

use std::fmt::Write;

use serde_json::{json, Value};

use crate::domain::deadline;
use crate::domain::describe::{action_state_word, describe_in, item_state_word};
use crate::domain::event::{Body, Event, ItemState, Mode};
use crate::domain::identity::person_of;
use crate::domain::sanitize::{sanitize, sanitize_json, sanitize_multiline};
use crate::domain::time::{format_elapsed, format_utc, Millis};
use crate::domain::{IncidentState, Phase, Problem};
use crate::exercise::local::FacilitatorState;
use crate::exercise::scenario::format_scenario;
use crate::store::verify::Report as Integrity;

/// Inline text for Markdown: one line, every Markdown and HTML character escaped, so text from
/// the shared directory can never become a link, an image, HTML or a table break.
fn md(s: &str) -> String {
    let mut out = String::new();
    for c in sanitize(s).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '!' | '|' | '#' | '~' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

fn who(by: &str) -> String {
    md(&person_of(by))
}

/// How players answered an inject: their first response, and how long it took in scenario time.
pub struct InjectResponse<'a> {
    pub released: &'a Event,
    pub inject: String,
    pub title: String,
    pub scenario_ms: Millis,
    pub first_response: Option<&'a Event>,
    /// The response is a note tied to this inject (`inject:<id>`), not the players' next event.
    pub explicit: bool,
    /// Scenario time of the response (the exercise clock replayed to it).
    pub response_scenario_ms: Option<Millis>,
}

impl InjectResponse<'_> {
    /// How long the players took, in scenario time (what the exercise clock showed).
    pub fn after_scenario_ms(&self) -> Option<Millis> {
        self.response_scenario_ms.map(|t| (t - self.scenario_ms).max(0))
    }
}

/// Each released inject with the players' first response. A note tagged `inject:<id>` (the
/// console's `a` on an inject) answers that inject only. Where no such note exists, the players'
/// first other event after the release counts as an implicit response, but only while this inject
/// is the most recent one (before the next release) and only if it is not an explicit answer to
/// another: so no event is ever credited to two injects. The facilitator's own events (whoever
/// released injects or ran the clock) never count.
pub fn inject_responses(s: &IncidentState) -> Vec<InjectResponse<'_>> {
    let facilitators: std::collections::BTreeSet<String> = s
        .events()
        .filter(|e| matches!(e.body, Body::InjectReleased(_) | Body::ExerciseClock(_)))
        .map(|e| person_of(&e.by))
        .collect();
    let timeline: Vec<&Event> = s.timeline().collect();
    let player = |x: &Event| {
        !matches!(
            x.body,
            Body::InjectReleased(_) | Body::ExerciseClock(_) | Body::Heads(_)
        ) && !facilitators.contains(&person_of(&x.by))
            && s.flag(x).is_none()
    };
    let tied = |x: &Event| match &x.body {
        Body::Note(n) => crate::exercise::scheduler::responds_to(&n.tags).map(str::to_string),
        _ => None,
    };
    let mut out = Vec::new();
    for (i, e) in timeline.iter().enumerate() {
        let Body::InjectReleased(inj) = &e.body else {
            continue;
        };
        let after = &timeline[i + 1..];
        let explicit = after
            .iter()
            .find(|x| player(x) && tied(x).as_deref() == Some(inj.inject.as_str()))
            .copied();
        let implicit = || {
            after
                .iter()
                .take_while(|x| !matches!(x.body, Body::InjectReleased(_)))
                .find(|x| player(x) && tied(x).is_none())
                .copied()
        };
        let first_response = explicit.or_else(implicit);
        out.push(InjectResponse {
            released: e,
            inject: inj.inject.clone(),
            title: inj.title.clone(),
            scenario_ms: inj.scenario_ms,
            first_response,
            explicit: explicit.is_some(),
            response_scenario_ms: first_response.and_then(|x| crate::exercise::scheduler::scenario_at(s, x.when())),
        });
    }
    out
}

/// The export opens with its integrity result: what `verify` says of every chain and head.
fn integrity_md(o: &mut String, r: &Integrity) {
    if r.errors.is_empty() {
        let _ = writeln!(
            o,
            "> **Integrity: verified** — {} log(s), {} record(s); every hash chain and cross-log head checks out (tamper-evident, not proof).\n",
            r.logs, r.records
        );
    } else {
        let _ = writeln!(
            o,
            "> **Integrity: TAMPERING OR LOSS FOUND** — {} problem(s) in {} log(s); records marked below are not to be taken as fact:\n>",
            r.errors.len(),
            r.logs
        );
        for e in &r.errors {
            let _ = writeln!(o, "> - {}", md(e));
        }
        o.push('\n');
    }
    for c in &r.crashes {
        let _ = writeln!(o, "> crash (not tampering): {}\n", md(c));
    }
}

/// The integrity result as JSON: `{"ok", "logs", "records", "errors": [..], "crashes": [..]}`.
pub fn integrity_json(r: &Integrity) -> Value {
    let mut v = json!({
        "ok": r.errors.is_empty(),
        "logs": r.logs,
        "records": r.records,
        "errors": r.errors,
        "crashes": r.crashes,
    });
    sanitize_json(&mut v);
    v
}

pub fn markdown(
    id: &str,
    s: &IncidentState,
    problems: &[Problem],
    integrity: &Integrity,
    fac: Option<&FacilitatorState>,
    now: Millis,
) -> String {
    let mut o = String::new();
    let d = &s.derived;
    let exercise = matches!(s.mode(), Some(Mode::Exercise));
    let banner = match s.mode() {
        Some(Mode::Exercise) => "> **EXERCISE** — a tabletop exercise, not a real incident.\n\n",
        Some(Mode::Demo) => "> **DEMO** — simulated data.\n\n",
        _ => "",
    };
    let kind = if exercise {
        "After-action report"
    } else {
        "Incident record"
    };
    let _ = writeln!(o, "# {kind}: {}\n", md(s.title()));
    o.push_str(banner);
    integrity_md(&mut o, integrity);
    let _ = writeln!(o, "| | |\n|---|---|");
    let _ = writeln!(o, "| Incident | {} |", md(id));
    let _ = writeln!(
        o,
        "| Severity | SEV{} |",
        s.severity().map_or("?".into(), |v| v.to_string())
    );
    let _ = writeln!(o, "| Phase | {} |", s.phase());
    let _ = writeln!(o, "| Status | {} |", if s.is_resolved() { "resolved" } else { "open" });
    let _ = writeln!(o, "| Commander | {} |", md(s.commander().unwrap_or("-")));
    if let Some(decl) = &d.declared {
        let _ = writeln!(
            o,
            "| Playbook | {} {} ({}) |",
            md(&decl.value.playbook),
            md(&decl.value.playbook_version),
            md(&decl.value.playbook_hash.chars().take(12).collect::<String>())
        );
        let _ = writeln!(o, "| Declared | {} by {} |", format_utc(decl.when), who(&decl.by));
    }
    for (label, t) in [
        ("Discovered", d.discovered),
        ("Classified", d.classified),
        ("Materiality determined", d.materiality),
    ] {
        if let Some(t) = t {
            let _ = writeln!(o, "| {label} | {} |", format_utc(t));
        }
    }
    if let Some(r) = d.resolved.as_ref().filter(|r| r.value) {
        let dur = s.declared_at().map(|t| format_elapsed(r.when - t)).unwrap_or_default();
        let _ = writeln!(o, "| Resolved | {} by {} ({dur}) |", format_utc(r.when), who(&r.by));
    }
    let _ = writeln!(o, "| Events | {} ({} notes) |", s.event_count(), d.notes);
    let _ = writeln!(o, "| Exported | {} |\n", format_utc(now));

    if exercise {
        if let Some(f) = fac {
            let _ = writeln!(o, "## Scenario\n\n{}\n\n### Objectives\n", md(&f.scenario.summary));
            for obj in &f.scenario.objectives {
                match f.rating(obj) {
                    Some(r) if r.note.is_empty() => {
                        let _ = writeln!(o, "- {} — **{}**", md(obj), r.rating.label());
                    }
                    Some(r) => {
                        let _ = writeln!(o, "- {} — **{}**: {}", md(obj), r.rating.label(), md(&r.note));
                    }
                    None => {
                        let _ = writeln!(o, "- {} — not rated", md(obj));
                    }
                }
            }
            o.push('\n');
        }
        let _ = writeln!(o, "## Injects and responses\n");
        let _ = writeln!(
            o,
            "| Inject | Released | First response | After (scenario time) | Expected outcome |\n|---|---|---|---|---|"
        );
        for r in inject_responses(s) {
            let expected = fac
                .and_then(|f| f.scenario.injects.iter().find(|i| i.id == r.inject))
                .map_or("-".to_string(), |i| md(&i.expected));
            let (resp, after) = match r.first_response {
                Some(x) => (
                    format!(
                        "{}{}: {}",
                        if r.explicit { "" } else { "(next event, not tied) " },
                        who(&x.by),
                        md(&describe_in(s, x))
                    ),
                    r.after_scenario_ms().map_or("-".into(), |ms| {
                        format_scenario(ms).trim_start_matches("E+").to_string()
                    }),
                ),
                None => ("no response recorded".into(), "-".into()),
            };
            let _ = writeln!(
                o,
                "| {} — {} | {} ({}) | {} | {} | {} |",
                md(&r.inject),
                md(&r.title),
                format_scenario(r.scenario_ms),
                format_utc(r.released.when()),
                resp,
                after,
                expected
            );
        }
        let _ = writeln!(
            o,
            "\nA response is a note tied to the inject (`a` on it in the console); where there is none, the players' next event before the next inject, marked \"not tied\". Times are scenario time (the exercise clock)."
        );
        if let Some(f) = fac {
            let never: Vec<String> = f
                .scenario
                .injects
                .iter()
                .filter(|i| !s.derived.released_injects.contains(&i.id) && !f.skipped.contains(&i.id))
                .map(|i| format!("{} — {}", md(&i.id), md(&i.title)))
                .collect();
            if !never.is_empty() {
                let _ = writeln!(o, "\nNever released: {}", never.join("; "));
            }
            let skipped: Vec<&str> = f.skipped.iter().map(String::as_str).collect();
            if !skipped.is_empty() {
                let _ = writeln!(o, "\nSkipped by the facilitator: {}", md(&skipped.join(", ")));
            }
            let (good, improve): (Vec<_>, Vec<_>) = f.notes.iter().partition(|n| n.text.trim_start().starts_with('+'));
            let _ = writeln!(o, "\n## What went well\n");
            let on = |n: &crate::exercise::local::EvaluatorNote| {
                n.inject
                    .as_deref()
                    .map_or(String::new(), |i| format!(" (on {})", md(i)))
            };
            for n in &good {
                let _ = writeln!(
                    o,
                    "- {}{}",
                    md(n.text.trim_start().trim_start_matches('+').trim()),
                    on(n)
                );
            }
            if good.is_empty() {
                let _ = writeln!(o, "- (no evaluator notes starting with `+`)");
            }
            let _ = writeln!(o, "\n## What to improve\n");
            for n in &improve {
                let _ = writeln!(
                    o,
                    "- {}{}",
                    md(n.text.trim_start().trim_start_matches('-').trim()),
                    on(n)
                );
            }
            if improve.is_empty() {
                let _ = writeln!(o, "- (no evaluator notes)");
            }
        }
        o.push('\n');
    }

    let _ = writeln!(
        o,
        "## {}\n",
        if exercise {
            "Improvement items (follow-ups)"
        } else {
            "Follow-ups"
        }
    );
    if d.follow_ups.is_empty() {
        let _ = writeln!(o, "None recorded.\n");
    } else {
        for f in &d.follow_ups {
            let _ = writeln!(
                o,
                "- [ ] {} — owner: {} (by {}, {})",
                md(&f.value.text),
                md(f.value.owner.as_deref().unwrap_or("unassigned")),
                who(&f.by),
                format_utc(f.when)
            );
        }
        o.push('\n');
    }

    let _ = writeln!(o, "## Roles\n");
    for (role, r) in &d.roles {
        let _ = writeln!(o, "- {}: {} (since {})", md(role), md(&r.value), format_utc(r.when));
    }
    o.push('\n');

    if let Some(pb) = s.playbook() {
        let _ = writeln!(o, "## Checklists\n");
        for phase in Phase::ALL {
            let items = pb.phases.get(phase);
            if items.is_empty() {
                continue;
            }
            let done = items
                .iter()
                .filter(|i| matches!(s.item_state(&i.id), ItemState::Done | ItemState::Skipped))
                .count();
            let _ = writeln!(o, "### {phase} ({done}/{})\n", items.len());
            for i in items {
                let st = s.item_state(&i.id);
                let mark = if st == ItemState::Done { "x" } else { " " };
                let reg = d.items.get(&i.id);
                let meta = reg
                    .map(|r| format!(" — {} {} {}", item_state_word(st), who(&r.by), format_utc(r.when)))
                    .unwrap_or_default();
                let note = reg
                    .and_then(|r| r.value.note.as_ref())
                    .map(|n| format!(" — {}", md(n)))
                    .unwrap_or_default();
                let req = if i.required { " (required)" } else { "" };
                let _ = writeln!(o, "- [{mark}] {}: {}{req}{meta}{note}", md(&i.id), md(&i.text));
            }
            o.push('\n');
        }
        let _ = writeln!(o, "## Containment actions\n\n| Action | Term | Approval | State | Proposed by | Approved by |\n|---|---|---|---|---|---|");
        for a in &pb.actions {
            let r = d.actions.get(&a.id).map(|r| &r.value);
            let _ = writeln!(
                o,
                "| {} | {:?} | {:?} | {} | {} | {} |",
                md(&a.title),
                a.term,
                a.approval,
                r.map_or("not proposed", |r| action_state_word(r.state)),
                r.and_then(|r| r.proposer.as_deref()).map_or("-".into(), who),
                r.and_then(|r| r.approver.as_deref()).map_or("-".into(), who),
            );
        }
        o.push('\n');
        let clocks = deadline::clocks(s, pb, now);
        if !clocks.is_empty() {
            let _ = writeln!(
                o,
                "## Deadline clocks\n\n_As of {} UTC. Not legal advice: counsel confirms every deadline. Business days count Monday to Friday; public holidays are not known._\n\n| State | Deadline | Stage | Starts | Due | Where it stands | Source |\n|---|---|---|---|---|---|---|",
                format_utc(now)
            );
            for c in clocks {
                let _ = writeln!(
                    o,
                    "| {} | {} | {} | {} | {} | {} | {} |",
                    c.label(),
                    md(&c.name),
                    md(&c.stage),
                    c.start.map_or_else(
                        || format!("on {}", md(&c.trigger)),
                        |t| format!("{} {}", md(&c.trigger), format_utc(t))
                    ),
                    c.due.map_or("-".into(), |t| format!(
                        "{}{}",
                        format_utc(t),
                        if c.business_days { " (business days)" } else { "" }
                    )),
                    md(&c.words()),
                    md(&c.source)
                );
            }
            o.push('\n');
        }
    }

    let _ = writeln!(o, "## Timeline (UTC)\n\n| When | Who | What |\n|---|---|---|");
    for e in s.timeline().filter(|e| !matches!(e.body, Body::Heads(_))) {
        let backfilled = if e.occurred.is_some() { " (backfilled)" } else { "" };
        let _ = writeln!(
            o,
            "| {}{backfilled} | {} | {} |",
            format_utc(e.when()),
            who(&e.by),
            md(&describe_in(s, e))
        );
    }
    o.push('\n');
    let updates: Vec<_> = d.status_updates.iter().collect();
    if !updates.is_empty() {
        let _ = writeln!(o, "## Status updates (recorded — not sent by warroom)\n");
        for u in updates {
            let _ = writeln!(
                o,
                "**{:?}**, {} by {}:\n",
                u.value.audience,
                format_utc(u.when),
                who(&u.by)
            );
            for line in sanitize_multiline(&u.value.text).lines() {
                let _ = writeln!(o, "> {}", md(line));
            }
            o.push('\n');
        }
    }
    if !problems.is_empty() {
        let _ = writeln!(o, "## Problems found while reading\n");
        for p in problems {
            let _ = writeln!(o, "- {}", md(&p.to_string()));
        }
    }
    o
}

/// The clocks of every deadline stage at `now` (ms, UTC), times as UTC text, for `show --json`
/// and `export --format json`; with the status-update cadence and the nudges.
pub fn clocks_json(s: &IncidentState, now: Millis) -> Value {
    use crate::domain::deadline::ClockState;
    let Some(pb) = s.playbook() else {
        return json!({"as_of": format_utc(now), "deadlines": [], "update": null, "nudges": []});
    };
    let deadlines: Vec<Value> = deadline::clocks(s, pb, now)
        .iter()
        .map(|c| {
            let mut v = json!({
                "deadline": c.deadline,
                "name": c.name,
                "source": c.source,
                "stage": c.stage,
                "audience": c.audience,
                "trigger": c.trigger,
                "start": c.start.map(format_utc),
                "due": c.due.map(format_utc),
                "business_days": c.business_days,
                "state": match c.state {
                    ClockState::NotStarted => "not_started",
                    ClockState::Running { .. } => "running",
                    ClockState::Amber { .. } => "amber",
                    ClockState::Red { .. } => "red",
                    ClockState::Overdue { .. } => "overdue",
                    ClockState::Met { .. } => "met",
                    ClockState::Waived { .. } => "waived",
                },
                "words": c.words(),
            });
            match &c.state {
                ClockState::Running { left_ms } | ClockState::Amber { left_ms } | ClockState::Red { left_ms } => {
                    v["left_ms"] = json!(left_ms);
                }
                ClockState::Overdue { by_ms } => v["overdue_ms"] = json!(by_ms),
                ClockState::Met { what, at, by, late_ms } => {
                    v["met"] = json!({"what": what, "at": format_utc(*at), "by": by, "late_ms": late_ms});
                }
                ClockState::Waived { what, reason, at, by } => {
                    v["waived"] = json!({"what": what, "reason": reason, "at": format_utc(*at), "by": by});
                }
                ClockState::NotStarted => {}
            }
            v
        })
        .collect();
    let update = crate::domain::cadence::update_due(s, pb).map(|u| {
        json!({
            "every_ms": u.every_ms,
            "since": format_utc(u.since),
            "after_update": u.after_update,
            "due": format_utc(u.due),
            "overdue": u.is_overdue(now),
            "words": u.words(now),
        })
    });
    let nudges = crate::domain::cadence::nudges(s, Some(pb), now);
    let mut v = json!({"as_of": format_utc(now), "deadlines": deadlines, "update": update, "nudges": nudges});
    sanitize_json(&mut v);
    v
}

pub fn json(state: Value, s: &IncidentState, integrity: &Integrity, fac: Option<&FacilitatorState>) -> Value {
    // The integrity result comes first: whoever reads the export reads it before the record.
    let mut v = json!({"v": 1, "integrity": integrity_json(integrity)});
    if let (Some(out), Value::Object(rest)) = (v.as_object_mut(), state) {
        out.extend(rest.into_iter().filter(|(k, _)| k != "v"));
    }
    v["timeline"] = Value::Array(
        s.timeline()
            .filter(|e| !matches!(e.body, Body::Heads(_)))
            .map(|e| {
                let mut j = crate::domain::event::to_json(e);
                if let Some(flag) = s.flag(e) {
                    j["flag"] = json!(sanitize(&flag.label()));
                }
                j
            })
            .collect(),
    );
    let injects: Vec<Value> = inject_responses(s)
        .iter()
        .map(|r| {
            json!({
                "inject": r.inject,
                "title": r.title,
                "scenario_ms": r.scenario_ms,
                "released_at": format_utc(r.released.when()),
                "first_response": r.first_response.map(|x| json!({"by": x.by, "at": format_utc(x.when()), "what": describe_in(s, x), "explicit": r.explicit, "scenario_ms": r.response_scenario_ms, "after_scenario_ms": r.after_scenario_ms()})),
                "expected": fac.and_then(|f| f.scenario.injects.iter().find(|i| i.id == r.inject)).map(|i| i.expected.clone()),
            })
        })
        .collect();
    v["injects"] = Value::Array(injects);
    if let Some(f) = fac {
        v["objectives"] = json!(f.scenario.objectives);
        v["objective_ratings"] = json!(f
            .scenario
            .objectives
            .iter()
            .map(|obj| {
                let r = f.rating(obj);
                json!({"objective": obj, "rating": r.map(|r| r.rating.label()), "note": r.map(|r| r.note.clone())})
            })
            .collect::<Vec<_>>());
        v["evaluator_notes"] = json!(f
            .notes
            .iter()
            .map(|n| json!({"inject": n.inject, "at": format_utc(n.at), "text": n.text}))
            .collect::<Vec<_>>());
    }
    sanitize_json(&mut v);
    v
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
}
