//! Status-update templates filled with what the incident knows.
//!
//! A template's text names facts in braces: `{severity}`, `{next_update}`… ([`PLACEHOLDERS`]).
//! [`fill`] replaces each in one pass (a value that itself holds `{title}` is never filled again);
//! a name warroom does not know stays as written, visible to the author, and `playbook check
//! --strict` names it. What only a person knows is written `[LIKE THIS]` and left to the author.

use super::playbook::{Audience, Playbook, Template};
use super::sanitize::sanitize;
use super::state::IncidentState;
use super::time::{format_age, to_datetime, Millis};

/// Every placeholder [`fill`] knows, with what it becomes.
pub const PLACEHOLDERS: &[(&str, &str)] = &[
    ("title", "the incident's title"),
    ("id", "the incident's id"),
    ("severity", "the severity, e.g. SEV2 (SEV? when none is set)"),
    ("phase", "the current phase, e.g. Containment"),
    ("commander", "the incident commander's name"),
    ("channel", "the playbook's `channel` (else [CHANNEL] to fill in)"),
    ("declared", "when the incident was declared (UTC)"),
    ("discovered", "the discovery time the deadlines use (UTC; the declaration if none was recorded)"),
    ("now", "the time the template is filled in (UTC)"),
    ("elapsed", "how long since the declaration, e.g. 2h05m"),
    (
        "next_update",
        "when the next update is due if this one goes out now, under the playbook's cadence at the current severity (UTC; else [TIME, UTC] to fill in)",
    ),
];

/// `2026-11-26 10:30 UTC`: a time a reader of the update can act on.
pub fn format_when(ms: Millis) -> String {
    to_datetime(ms).format("%Y-%m-%d %H:%M UTC").to_string()
}

/// Every `{name}` in the text (lowercase letters, digits and `_`), in order of first use.
pub fn placeholders(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (_, name, _) in tokens(text) {
        if !out.iter().any(|n| n == name) {
            out.push(name.to_string());
        }
    }
    out
}

/// The `{name}`s in the text that [`fill`] does not know (a typo such as `{severty}`).
pub fn unknown_placeholders(text: &str) -> Vec<String> {
    placeholders(text)
        .into_iter()
        .filter(|n| !PLACEHOLDERS.iter().any(|(k, _)| k == n))
        .collect()
}

/// `(start, name, end)` of each `{name}`: byte offsets of the braces.
fn tokens(text: &str) -> Vec<(usize, &str, usize)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = text[from..].find('{') {
        let start = from + i;
        let rest = &text[start + 1..];
        let len = rest
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(rest.len());
        if len > 0 && rest[len..].starts_with('}') {
            out.push((start, &rest[..len], start + 1 + len + 1));
            from = start + 1 + len + 1;
        } else {
            from = start + 1;
        }
    }
    out
}

/// The value of one placeholder for this incident, or `None` for a name warroom does not know.
fn value(name: &str, state: &IncidentState, playbook: &Playbook, now: Millis) -> Option<String> {
    let declared = state.declared_at();
    Some(match name {
        "title" => sanitize(state.title()),
        "id" => sanitize(&state.id),
        "severity" => state.severity().map_or("SEV?".into(), |v| format!("SEV{v}")),
        "phase" => state.phase().label().to_string(),
        "commander" => state.commander().map_or("-".into(), sanitize),
        "channel" => playbook
            .channel
            .as_deref()
            .map(sanitize)
            .filter(|c| !c.trim().is_empty())
            .unwrap_or_else(|| "[CHANNEL]".into()),
        "declared" => declared.map_or("[TIME, UTC]".into(), format_when),
        "discovered" => state
            .derived
            .discovered
            .or(declared)
            .map_or("[TIME, UTC]".into(), format_when),
        "now" => format_when(now),
        "elapsed" => declared.map_or("-".into(), |d| format_age(now.saturating_sub(d).max(0))),
        "next_update" => next_update(state, playbook, now).map_or("[TIME, UTC]".into(), format_when),
        _ => return None,
    })
}

/// When the next update is due if one goes out at `now`: the cadence at the current severity.
pub fn next_update(state: &IncidentState, playbook: &Playbook, now: Millis) -> Option<Millis> {
    let sev = state.severity()?;
    let c = playbook.update_cadence.iter().find(|c| c.severity == sev)?;
    now.checked_add(Millis::from(c.minutes).checked_mul(60_000)?)
}

/// The template's text with every known placeholder filled in from the incident; unknown ones
/// are left as written.
pub fn fill(text: &str, state: &IncidentState, playbook: &Playbook, now: Millis) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (start, name, end) in tokens(text) {
        out.push_str(&text[last..start]);
        match value(name, state, playbook, now) {
            Some(v) => out.push_str(&v),
            None => out.push_str(&text[start..end]),
        }
        last = end;
    }
    out.push_str(&text[last..]);
    out
}

/// The playbook's first template for the audience.
pub fn first_for(playbook: &Playbook, audience: Audience) -> Option<&Template> {
    playbook.templates.iter().find(|t| t.audience == audience)
}

/// The audiences to offer for a status update: internal and external always, then those the
/// playbook's templates or deadlines (`met_by: StatusUpdate(…)`) name, in [`Audience::ALL`] order.
pub fn audiences(playbook: Option<&Playbook>) -> Vec<Audience> {
    use super::playbook::MetBy;
    Audience::ALL
        .into_iter()
        .filter(|a| {
            matches!(a, Audience::Internal | Audience::External)
                || playbook.is_some_and(|p| {
                    p.templates.iter().any(|t| t.audience == *a)
                        || p.deadlines.iter().any(|d| {
                            d.met_by
                                .iter()
                                .chain(d.stages.iter().filter_map(|s| s.met_by.as_ref()))
                                .any(|m| *m == MetBy::StatusUpdate(*a))
                        })
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::event::{Declared, DiscoverySet, Event, Mode, Occurred, PhaseEntered, RoleAssigned};
    use crate::domain::playbook::{MetBy, Stage, Trigger, Within};
    use crate::domain::{Body, Phase};

    const MIN: Millis = 60_000;
    /// 2026-11-26T10:00:00Z
    const T0: Millis = 1_795_687_200_000;

    fn ev(seq: u64, at: Millis, body: impl Into<Body>) -> Event {
        Event {
            id: format!("e{seq:03}").into(),
            at,
            wall: at,
            occurred: Occurred::NONE,
            log: "maya@soc".into(),
            seq,
            body: body.into(),
        }
    }

    fn playbook(channel: Option<&str>) -> Playbook {
        let text = r#"(id: "t", title: "T", version: "1", description: "d", phases: (),
            update_cadence: [(severity: 1, minutes: 30), (severity: 2, minutes: 60)])"#;
        let (mut p, _) = crate::domain::playbook::parse(text).expect("parses");
        p.channel = channel.map(str::to_string);
        p
    }

    fn state(pb: &Playbook, severity: u8, more: Vec<Event>) -> IncidentState {
        let hash = pb.content_hash();
        let mut all = vec![ev(
            1,
            T0,
            Declared {
                incident: "2026-11-26-t-0001".into(),
                title: "Finance {severity} servers".into(),
                severity,
                mode: Mode::Real,
                playbook: "t".into(),
                playbook_version: "1".into(),
                playbook_hash: hash.clone(),
                commander: "maya".into(),
                require_signatures: false,
            },
        )];
        all.extend(more);
        IncidentState::fold("2026-11-26-t-0001", vec![(hash, pb.clone())], all)
    }

    #[test]
    fn a_template_is_filled_with_what_the_incident_knows() {
        let pb = playbook(Some("#inc-bridge (Signal)"));
        let s = state(
            &pb,
            2,
            vec![
                ev(
                    2,
                    T0 + MIN,
                    DiscoverySet {
                        discovered: T0 - 90 * MIN,
                        reason: "first alert".into(),
                    },
                ),
                ev(
                    4,
                    T0 + 3 * MIN,
                    PhaseEntered {
                        phase: Phase::Containment,
                        override_open: vec![],
                    },
                ),
                ev(
                    3,
                    T0 + 2 * MIN,
                    RoleAssigned {
                        role: "commander".into(),
                        who: "jon".into(),
                    },
                ),
            ],
        );
        let text = "{title} [{id}] {severity} {phase} IC {commander} on {channel}\n\
                    declared {declared}, discovered {discovered}, now {now} (T+{elapsed})\n\
                    next update {next_update}; {unknown} and {Severity} and {} stay";
        let got = fill(text, &s, &pb, T0 + 125 * MIN);
        assert_eq!(
            got,
            "Finance {severity} servers [2026-11-26-t-0001] SEV2 Containment IC jon on #inc-bridge (Signal)\n\
             declared 2026-11-26 10:00 UTC, discovered 2026-11-26 08:30 UTC, now 2026-11-26 12:05 UTC (T+2h05m)\n\
             next update 2026-11-26 13:05 UTC; {unknown} and {Severity} and {} stay"
        );
        assert_eq!(unknown_placeholders(text), vec!["unknown".to_string()]);
        assert!(PLACEHOLDERS
            .iter()
            .all(|(k, _)| placeholders(text).iter().any(|p| p == k)));
    }

    #[test]
    fn what_the_incident_does_not_know_is_left_for_the_author() {
        let pb = playbook(None);
        // SEV3 has no cadence in this playbook: the next update is the author's to say.
        let s = state(&pb, 3, vec![]);
        let got = fill("{channel} · {next_update} · {discovered}", &s, &pb, T0 + MIN);
        assert_eq!(got, "[CHANNEL] · [TIME, UTC] · 2026-11-26 10:00 UTC");
        // A cut-off or empty brace is text, not a placeholder.
        assert_eq!(fill("{title", &s, &pb, T0), "{title");
        assert!(placeholders("{ title } {TITLE} {}").is_empty());
    }

    #[test]
    fn the_audiences_offered_are_internal_external_and_what_the_playbook_names() {
        assert_eq!(audiences(None), vec![Audience::Internal, Audience::External]);
        let mut pb = playbook(None);
        assert_eq!(audiences(Some(&pb)), vec![Audience::Internal, Audience::External]);
        pb.templates.push(Template {
            id: "exec".into(),
            audience: Audience::Executives,
            title: "Executives".into(),
            text: "x".into(),
        });
        pb.deadlines.push(crate::domain::playbook::Deadline {
            id: "gdpr".into(),
            name: "n".into(),
            source: "s".into(),
            trigger: Trigger::Discovered,
            stages: vec![Stage {
                label: "l".into(),
                within: Within::Hours(72),
                met_by: Some(MetBy::StatusUpdate(Audience::Regulator)),
            }],
            audience: "DPA".into(),
            met_by: None,
        });
        assert_eq!(
            audiences(Some(&pb)),
            vec![
                Audience::Internal,
                Audience::External,
                Audience::Executives,
                Audience::Regulator
            ]
        );
    }
}
