//! Status updates on time and the nudges everyone sees.
//!
//! The cadence comes from the playbook's optional `update_cadence` (e.g. SEV1 every 30 min): the
//! next update is due that long after the last status update to any audience, or after the
//! declaration when there has been none. All times are milliseconds since the Unix epoch, UTC;
//! `now` is always passed in.

use serde::Serialize;

use super::event::{ActionState, ItemState};
use super::playbook::{Approval, Playbook};
use super::sanitize::sanitize;
use super::state::IncidentState;
use super::time::{format_age, Millis};

/// An action proposed and waiting for approval longer than this (ms) is a nudge.
pub const APPROVAL_WAIT_MS: Millis = 15 * 60_000;

/// When the next status update is due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpdateDue {
    /// The playbook's cadence at the current severity (ms).
    pub every_ms: Millis,
    /// The last status update (ms, UTC), or the declaration when there has been none.
    pub since: Millis,
    /// Whether `since` is a status update (false: the declaration).
    pub after_update: bool,
    /// `since + every_ms` (ms, UTC).
    pub due: Millis,
}

impl UpdateDue {
    pub fn is_overdue(&self, now: Millis) -> bool {
        now > self.due
    }

    /// `next update in 12m` / `UPDATE OVERDUE 5m`: for a header line.
    pub fn short(&self, now: Millis) -> String {
        if self.is_overdue(now) {
            format!("UPDATE OVERDUE {}", format_age(now - self.due))
        } else {
            format!("next update in {}", format_age(self.due - now))
        }
    }

    /// `next update due in 12m` / `UPDATE OVERDUE by 5m`.
    pub fn words(&self, now: Millis) -> String {
        if self.is_overdue(now) {
            format!("UPDATE OVERDUE by {}", format_age(now - self.due))
        } else {
            format!("next update due in {}", format_age(self.due - now))
        }
    }
}

/// When the next status update is due under the playbook's cadence for the incident's current
/// severity; `None` when the playbook sets no cadence for it, or the incident is resolved.
pub fn update_due(state: &IncidentState, playbook: &Playbook) -> Option<UpdateDue> {
    if state.is_resolved() {
        return None;
    }
    let sev = state.severity()?;
    let c = playbook.update_cadence.iter().find(|c| c.severity == sev)?;
    let every_ms = Millis::from(c.minutes).checked_mul(60_000)?;
    let last = state.derived.status_updates.iter().map(|u| u.when).max();
    let (since, after_update) = match last {
        Some(t) => (t, true),
        None => (state.declared_at()?, false),
    };
    Some(UpdateDue {
        every_ms,
        since,
        after_update,
        due: since.checked_add(every_ms)?,
    })
}

/// One nudge: what it is about, words for everyone, and whether it is loud (something is late
/// or nobody is in charge).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Nudge {
    pub kind: NudgeKind,
    pub text: String,
    /// The compact form for a narrow strip: `discovery? 09:48Z (V)`, `2 approvals waiting`.
    pub short: String,
    pub loud: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NudgeKind {
    NoCommander,
    NoSeverity,
    UpdateOverdue,
    ApprovalWaiting,
    RequiredOpen,
    /// A record says something happened before the discovery time: move discovery back?
    DiscoveryEarlier,
}

/// What the incident is missing, for everyone to see: no commander, no severity, status update
/// overdue, required items of the current phase open, approvals waiting longer than
/// [`APPROVAL_WAIT_MS`]. Loud ones first. Text is sanitised.
pub fn nudges(state: &IncidentState, playbook: Option<&Playbook>, now: Millis) -> Vec<Nudge> {
    let mut out = Vec::new();
    if state.is_resolved() || state.derived.declared.is_none() {
        return out;
    }
    if state.commander().is_none_or(|c| c.trim().is_empty()) {
        out.push(Nudge {
            kind: NudgeKind::NoCommander,
            text: "no commander".into(),
            short: "no commander".into(),
            loud: true,
        });
    }
    if state.severity().is_none_or(|s| !(1..=4).contains(&s)) {
        out.push(Nudge {
            kind: NudgeKind::NoSeverity,
            text: "no severity set".into(),
            short: "no severity".into(),
            loud: true,
        });
    }
    if let Some(n) = super::deadline::discovery_nudge(state) {
        out.push(Nudge {
            kind: NudgeKind::DiscoveryEarlier,
            text: n.text(),
            short: format!(
                "discovery? {} (V)",
                super::deadline::short_time(n.evidence, n.discovered)
            ),
            loud: false,
        });
    }
    let Some(pb) = playbook else { return out };
    if let Some(u) = update_due(state, pb).filter(|u| u.is_overdue(now)) {
        out.push(Nudge {
            kind: NudgeKind::UpdateOverdue,
            text: u.words(now),
            short: "update overdue".into(),
            loud: true,
        });
    }
    let waiting: Vec<String> = state
        .derived
        .actions
        .iter()
        .filter(|(id, r)| {
            r.value.state == ActionState::Proposed
                && now.saturating_sub(r.when) > APPROVAL_WAIT_MS
                && pb.action(id).is_some_and(|a| a.approval != Approval::None)
        })
        .map(|(id, r)| format!("{} ({})", sanitize(id), format_age(now - r.when)))
        .collect();
    if !waiting.is_empty() {
        out.push(Nudge {
            kind: NudgeKind::ApprovalWaiting,
            text: format!("approval waiting: {}", waiting.join(", ")),
            short: format!(
                "{} approval{} waiting (w)",
                waiting.len(),
                if waiting.len() == 1 { "" } else { "s" }
            ),
            loud: false,
        });
    }
    let phase = state.phase();
    let open = pb
        .phases
        .get(phase)
        .iter()
        .filter(|i| i.required && matches!(state.item_state(&i.id), ItemState::Open | ItemState::Blocked))
        .count();
    if open > 0 {
        out.push(Nudge {
            kind: NudgeKind::RequiredOpen,
            text: format!(
                "{open} required {} of {phase} open",
                if open == 1 { "item" } else { "items" }
            ),
            short: format!("{open} required open"),
            loud: false,
        });
    }
    // A fixed priority: the loud ones, then the waiting approvals, the required items open,
    // and the discovery proposal (a decision, not an emergency).
    out.sort_by_key(|n| {
        (
            !n.loud,
            match n.kind {
                NudgeKind::ApprovalWaiting => 0,
                NudgeKind::RequiredOpen => 1,
                NudgeKind::DiscoveryEarlier => 2,
                _ => 3,
            },
        )
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::event::{
        ActionSet, ChecklistSet, Declared, Event, Mode, Occurred, SeverityChanged, StatusUpdate,
    };
    use crate::domain::playbook::{Action, Audience, Cadence, Item, Phases, Term};
    use crate::domain::Body;

    const MIN: Millis = 60_000;
    /// 2026-11-26T10:00:00Z
    const T0: Millis = 1_764_151_200_000;

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

    fn playbook() -> Playbook {
        Playbook {
            id: "t".into(),
            title: "t".into(),
            version: "1".into(),
            description: String::new(),
            base: None,
            partial: false,
            disclaimer: String::new(),
            severity_guidance: vec![],
            roles: vec![],
            phases: Phases {
                identification: vec![Item {
                    id: "scope".into(),
                    text: "scope".into(),
                    required: true,
                    role: None,
                }],
                ..Phases::default()
            },
            actions: vec![Action {
                id: "cut".into(),
                title: "cut".into(),
                why: "w".into(),
                term: Term::Short,
                approval: Approval::TwoPerson,
                role: None,
                command: None,
                rollback: None,
                params: vec![],
            }],
            templates: vec![],
            channel: None,
            deadlines: vec![],
            questions: vec![],
            update_cadence: vec![
                Cadence {
                    severity: 1,
                    minutes: 30,
                },
                Cadence {
                    severity: 2,
                    minutes: 60,
                },
            ],
        }
    }

    fn state(severity: u8, commander: &str, events: Vec<Event>) -> (IncidentState, Playbook) {
        let pb = playbook();
        let hash = pb.content_hash();
        let mut all = vec![ev(
            1,
            T0,
            Declared {
                incident: "inc".into(),
                title: "t".into(),
                severity,
                mode: Mode::Real,
                playbook: "t".into(),
                playbook_version: "1".into(),
                playbook_hash: hash.clone(),
                commander: commander.into(),
                require_signatures: false,
            },
        )];
        all.extend(events);
        (IncidentState::fold("inc", vec![(hash, pb.clone())], all), pb)
    }

    fn update(seq: u64, at: Millis) -> Event {
        ev(
            seq,
            at,
            StatusUpdate {
                audience: Audience::Internal,
                text: "x".into(),
            },
        )
    }

    #[test]
    fn the_next_update_follows_the_last_one_at_the_current_severity() {
        // (severity, events, now, words)
        let cases: Vec<(u8, Vec<Event>, Millis, Option<&str>)> = vec![
            (1, vec![], T0 + 18 * MIN, Some("next update due in 12m")),
            (1, vec![], T0 + 35 * MIN, Some("UPDATE OVERDUE by 5m")),
            (
                1,
                vec![update(2, T0 + 20 * MIN)],
                T0 + 35 * MIN,
                Some("next update due in 15m"),
            ),
            (
                2,
                vec![update(2, T0 + 20 * MIN)],
                T0 + 35 * MIN,
                Some("next update due in 45m"),
            ),
            (3, vec![], T0 + 35 * MIN, None),
            (
                2,
                vec![ev(
                    2,
                    T0 + MIN,
                    SeverityChanged {
                        severity: 1,
                        reason: None,
                    },
                )],
                T0 + 31 * MIN,
                Some("UPDATE OVERDUE by 1m"),
            ),
        ];
        for (i, (sev, events, now, want)) in cases.into_iter().enumerate() {
            let (s, pb) = state(sev, "maya", events);
            assert_eq!(update_due(&s, &pb).map(|u| u.words(now)).as_deref(), want, "case {i}");
        }
    }

    #[test]
    fn nudges_say_what_is_missing_loud_ones_first() {
        let (s, pb) = state(1, "maya", vec![]);
        let words = |s: &IncidentState, now| {
            nudges(s, Some(&pb), now)
                .into_iter()
                .map(|n| n.text)
                .collect::<Vec<_>>()
        };
        assert_eq!(words(&s, T0 + MIN), vec!["1 required item of Identification open"]);
        let (s, _) = state(
            1,
            "maya",
            vec![
                ev(
                    2,
                    T0 + MIN,
                    ActionSet {
                        action: "cut".into(),
                        state: ActionState::Proposed,
                        note: None,
                    },
                ),
                ev(
                    3,
                    T0 + MIN,
                    ChecklistSet {
                        item: "scope".into(),
                        state: ItemState::Done,
                        note: None,
                    },
                ),
            ],
        );
        assert_eq!(words(&s, T0 + 10 * MIN), Vec::<String>::new());
        assert_eq!(
            words(&s, T0 + 40 * MIN),
            vec![
                "UPDATE OVERDUE by 10m".to_string(),
                "approval waiting: cut (39m)".to_string()
            ]
        );
        let (s, _) = state(1, "", vec![]);
        assert_eq!(words(&s, T0 + MIN)[0], "no commander");
    }
}
