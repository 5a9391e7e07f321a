//! Export: the record of an incident as Markdown or JSON, both rendered from one [`Review`]
//! (`review.rs`), section by section, so the JSON holds everything the Markdown shows. For an
//! exercise the Markdown is the after-action report, merging in the facilitator's private
//! scenario and evaluator notes. Everything from the shared directory is sanitised in the model
//! and escaped here.

pub mod markdown;
pub mod review;
pub mod summary;

use serde_json::{json, Value};

use crate::domain::deadline;
use crate::domain::event::{Body, Event};
use crate::domain::identity::person_of;
use crate::domain::sanitize::sanitize_json;
use crate::domain::time::{format_utc, Millis};
use crate::domain::IncidentState;
use crate::store::verify::Report as Integrity;
pub use markdown::markdown;
pub use review::{Review, Section};

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
        .map(|e| person_of(e.by()))
        .collect();
    let timeline: Vec<&Event> = s.timeline().collect();
    let player = |x: &Event| {
        !matches!(
            x.body,
            Body::InjectReleased(_) | Body::ExerciseClock(_) | Body::Heads(_) | Body::Signed(_)
        ) && !facilitators.contains(&person_of(x.by()))
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
                "met_by": c.met_by,
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

/// The export as JSON: `v`, the integrity result first, the folded state (as `show --json`),
/// the whole review (every section the Markdown shows, as data), the timeline as records and,
/// for an exercise, the injects and the facilitator's notes.
pub fn json(state: Value, review: &Review, s: &IncidentState) -> Value {
    // The integrity result comes first: whoever reads the export reads it before the record.
    let mut v = json!({"v": 1, "integrity": review.integrity});
    if let (Some(out), Value::Object(rest)) = (v.as_object_mut(), state) {
        out.extend(rest.into_iter().filter(|(k, _)| k != "v"));
    }
    v["review"] = serde_json::to_value(review).unwrap_or(Value::Null);
    v["timeline"] = timeline_json(s);
    if let Some(x) = &review.exercise {
        v["injects"] = serde_json::to_value(&x.injects).unwrap_or(Value::Null);
        v["objectives"] = json!(x.objectives);
        v["objective_ratings"] = serde_json::to_value(&x.objective_ratings).unwrap_or(Value::Null);
        v["evaluator_notes"] = serde_json::to_value(&x.evaluator_notes).unwrap_or(Value::Null);
    }
    sanitize_json(&mut v);
    v
}

/// The timeline as records (`tail --json` form, with the flag of a record not to be taken as
/// fact), for the JSON export.
pub fn timeline_json(s: &IncidentState) -> Value {
    Value::Array(
        s.timeline()
            .filter(|e| !matches!(e.body, Body::Heads(_) | Body::Signed(_)))
            .map(|e| {
                let mut j = crate::domain::event::to_json(e);
                if let Some(flag) = s.flag(e) {
                    j["flag"] = json!(crate::domain::sanitize(&flag.label()));
                }
                j
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::review::{Input, Review};
    use crate::domain::event::*;
    use crate::domain::playbook::Audience;
    use crate::domain::time::Millis;
    use crate::domain::{IncidentState, Phase};
    use serde_json::Value;

    const H: Millis = 3_600_000;
    /// 2026-11-26T10:00:00Z
    const T0: Millis = 1_795_687_200_000;

    fn ev(by: &str, seq: u64, at: Millis, body: impl Into<Body>) -> Event {
        Event {
            id: format!("{by}{seq:03}").into(),
            at,
            wall: at,
            occurred: Occurred::NONE,
            log: Name::with_writer(&format!("{by}@soc.abc123"), format!("{by}@soc").into()),
            seq,
            body: body.into(),
        }
    }

    /// A whole incident on the built-in ransomware playbook, with hostile text everywhere.
    fn incident() -> IncidentState {
        let pb = crate::store::playbooks::Library::built_in()
            .resolve("ransomware")
            .expect("built-in ransomware");
        let hash = pb.content_hash();
        let action = pb.actions[0].id.clone();
        let lesson = pb.phases.get(Phase::LessonsLearned)[0].id.clone();
        let hostile = "# Heading? <script>x</script> [link](https://evil.example) | pipe `tick` *a* (fine)";
        let events = vec![
            ev(
                "maya",
                1,
                T0,
                Declared {
                    incident: "inc".into(),
                    title: format!("Finance encrypted {hostile}"),
                    severity: 1,
                    mode: Mode::Real,
                    playbook: "ransomware".into(),
                    playbook_version: pb.version.clone(),
                    playbook_hash: hash.clone(),
                    commander: "maya".into(),
                    require_signatures: false,
                },
            ),
            ev(
                "jon",
                1,
                T0 + H,
                Note {
                    text: hostile.into(),
                    tags: Default::default(),
                },
            ),
            ev(
                "maya",
                2,
                T0 + H,
                PhaseEntered {
                    phase: Phase::Containment,
                    override_open: vec!["id-first-facts".into()],
                },
            ),
            ev(
                "jon",
                2,
                T0 + 2 * H,
                ActionSet {
                    action: action.clone(),
                    state: ActionState::Proposed,
                    note: Some(format!("params {hostile}")),
                },
            ),
            ev(
                "maya",
                3,
                T0 + 2 * H + 1,
                ActionSet {
                    action: action.clone(),
                    state: ActionState::Approved,
                    note: None,
                },
            ),
            ev(
                "jon",
                3,
                T0 + 2 * H + 2,
                ActionOutput {
                    action: action.clone(),
                    text: format!("line one\n```\n{hostile}"),
                    exit: Some(0),
                    cast: None,
                    timed_out: false,
                    rollback: false,
                },
            ),
            ev(
                "maya",
                4,
                T0 + 3 * H,
                RoleAssigned {
                    role: "commander".into(),
                    who: "priya".into(),
                },
            ),
            ev(
                "jon",
                4,
                T0 + 3 * H + 1,
                StatusUpdate {
                    audience: Audience::External,
                    text: format!("First line\n{hostile}\n---"),
                },
            ),
            ev(
                "jon",
                5,
                T0 + 3 * H + 2,
                FollowUp {
                    text: format!("Patch {hostile}"),
                    owner: Some("jon".into()),
                    kind: "corrective".into(),
                    due: None,
                    from: None,
                },
            ),
            ev(
                "priya",
                1,
                T0 + 4 * H,
                PhaseEntered {
                    phase: Phase::Eradication,
                    override_open: vec![],
                },
            ),
            ev(
                "priya",
                2,
                T0 + 5 * H,
                ChecklistSet {
                    item: lesson,
                    state: ItemState::Done,
                    note: Some(format!("answer {hostile}")),
                },
            ),
            ev(
                "priya",
                3,
                T0 + 6 * H,
                PhaseEntered {
                    phase: Phase::LessonsLearned,
                    override_open: vec![],
                },
            ),
            ev(
                "priya",
                4,
                T0 + 7 * H,
                Resolved {
                    summary: Some(format!("Restored from backups. {hostile}")),
                    override_open: vec![],
                    reason: None,
                },
            ),
        ];
        IncidentState::fold("inc", vec![(hash, pb)], events)
    }

    fn review(s: &IncidentState) -> Review {
        let integrity = crate::store::verify::Report {
            logs: 3,
            records: 13,
            ..Default::default()
        };
        Review::build(&Input {
            id: "inc",
            state: s,
            problems: &[],
            integrity: &integrity,
            facilitator: None,
            now: T0 + 9 * 24 * H,
            as_of: None,
        })
    }

    fn leaves(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => out.push(s.clone()),
            Value::Number(n) => out.push(n.to_string()),
            Value::Array(a) => a.iter().for_each(|x| leaves(x, out)),
            Value::Object(m) => m.values().for_each(|x| leaves(x, out)),
            _ => {}
        }
    }

    #[test]
    fn the_json_holds_everything_the_markdown_shows() {
        let s = incident();
        let r = review(&s);
        let (md, shown) = super::markdown::render(&r);
        let json = super::json(serde_json::json!({"v": 1}), &r, &s);
        let mut all = Vec::new();
        leaves(&json, &mut all);
        assert!(shown.len() > 100, "{}", shown.len());
        for datum in &shown {
            let d = crate::domain::sanitize(datum);
            assert!(
                all.iter().any(|l| l.contains(&d)),
                "shown in Markdown but not in the JSON: {d:?}\n{md}"
            );
        }
    }

    #[test]
    fn every_section_in_order_and_no_injection() {
        let s = incident();
        let md = super::markdown(&review(&s));
        let order = [
            "> **Integrity: verified**",
            "## Summary",
            "## Impact",
            "## Root cause",
            "## Key times",
            "## Deadline clocks",
            "## Roles and handoffs",
            "## Time in each phase",
            "## Checklists",
            "### Overrides",
            "## Containment actions",
            "## Status updates",
            "## Follow-ups",
            "## Lessons learned",
            "## Timeline (UTC)",
        ];
        let mut at = 0;
        for h in order {
            let i = md[at..]
                .find(h)
                .unwrap_or_else(|| panic!("{h} missing or out of order\n{md}"));
            at += i;
        }
        // Durations: contained 4h after the declaration, resolved after 7h.
        assert!(
            md.contains(
                "| time to contain | declaration → Eradication entered | 4h 00m (reached 2026-11-26T14:00:00Z) |"
            ),
            "{md}"
        );
        assert!(
            md.contains("| time to resolve | declaration → resolved | 7h 00m"),
            "{md}"
        );
        assert!(md.contains("| Containment | 1× | 3h 00m | - |"), "{md}");
        assert!(md.contains("| commander | maya | priya | maya |"), "{md}");
        assert!(md.contains("Restored from backups."), "{md}");
        assert!(md.contains("answer "), "{md}");
        assert!(md.contains("**override:** id-first-facts"), "{md}");
        // Hostile text never becomes a heading, HTML, a link, a cell or a code span; plain
        // parentheses are not escaped.
        // (Inside a fenced block nothing is interpreted: the text is shown as written.)
        let mut fence: Option<String> = None;
        for line in md.lines() {
            if let Some(f) = &fence {
                if line == f {
                    fence = None;
                }
                continue;
            }
            if line.starts_with("```") {
                fence = Some(line.trim_end_matches("text").to_string());
                continue;
            }
            if line.contains("Heading?") {
                assert!(
                    !line.starts_with('#') || line.starts_with("# Incident record"),
                    "{line}"
                );
                assert!(!line.contains("<script") && !line.contains("]("), "{line}");
                assert!(line.contains("\\| pipe") && !line.contains(" `tick`"), "{line}");
            }
        }
        assert!(fence.is_none(), "a fence left open");
        assert!(md.contains("(fine)") && !md.contains("\\(fine\\)"), "{md}");
        // The output's fence is longer than the backticks inside it.
        assert!(md.contains("````text\nline one\n```\n"), "{md}");
        // The status update's `---` line stays text.
        assert!(md.contains("> \\---"), "{md}");
    }
}
