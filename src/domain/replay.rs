//! Time travel: the incident as it stood at a moment, for `show|export --as-of` and the
//! console's replay mode.
//!
//! "As it stood at T" is the fold of exactly the records whose sort key `at` is at or before T —
//! what a responder's console could have shown then — with clocks evaluated at T. `at` (the
//! hybrid clock, the fold's order), not `wall` or `occurred`: a note backfilled tomorrow about
//! 09:48 today was not on the record at 10:00 today.

use super::state::IncidentState;
use super::time::Millis;

/// A fresh fold of the records with `at <= t`, with the same playbooks, claim and chain marks.
pub fn as_of(s: &IncidentState, t: Millis) -> IncidentState {
    let mut out = IncidentState::new(s.id.clone());
    out.set_claim(s.claim().clone());
    for (hash, p) in s.playbooks() {
        out.add_playbook(hash.clone(), p.clone());
    }
    out.apply_all(s.events().filter(|e| e.at <= t).cloned().collect());
    for ((log, seq), why) in s.marks() {
        out.mark(log, *seq, why.clone());
    }
    out
}

/// The moments a replay steps through: each distinct `at` of the record, in order.
pub fn steps(s: &IncidentState) -> Vec<Millis> {
    let mut v: Vec<Millis> = s.events().map(|e| e.at).collect();
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::event::{
        Body, Declared, Event, Mode, Name, Note, Occurred, PhaseEntered, Resolved, RoleAssigned,
    };
    use crate::domain::Phase;
    use proptest::prelude::*;

    fn ev(log: &str, seq: u64, at: Millis, body: Body) -> Event {
        Event {
            id: format!("{log}-{seq}").into(),
            at,
            wall: at,
            occurred: Occurred::NONE,
            log: Name::with_writer(log, log.split('.').next().unwrap_or(log).into()),
            seq,
            body,
        }
    }

    fn history(kinds: &[(u8, u8, u16)]) -> Vec<Event> {
        let mut v = vec![ev(
            "ic@a.x1",
            1,
            1_000,
            Declared {
                incident: "inc".into(),
                title: "t".into(),
                severity: 2,
                mode: Mode::Real,
                playbook: "t".into(),
                playbook_version: "1".into(),
                playbook_hash: "h".into(),
                commander: "ic".into(),
                require_signatures: false,
            }
            .into(),
        )];
        let mut seqs = [1u64, 0, 0];
        let logs = ["ic@a.x1", "bob@b.x2", "eve@c.x3"];
        for (i, (w, k, dt)) in kinds.iter().enumerate() {
            let w = (*w % 3) as usize;
            seqs[w] += 1;
            let body: Body = match k % 5 {
                0 => Note {
                    text: format!("n{i}").into(),
                    tags: Default::default(),
                }
                .into(),
                1 => PhaseEntered {
                    phase: Phase::ALL[i % 6],
                    override_open: vec![],
                }
                .into(),
                2 => RoleAssigned {
                    role: "commander".into(),
                    who: ["ic", "bob", "eve"][i % 3].into(),
                }
                .into(),
                3 => Resolved {
                    summary: None,
                    override_open: vec![],
                    reason: None,
                }
                .into(),
                _ => crate::domain::event::SeverityChanged {
                    severity: (i % 4) as u8 + 1,
                    reason: None,
                }
                .into(),
            };
            v.push(ev(
                logs[w],
                seqs[w],
                1_000 + (i as Millis + 1) * 10 + Millis::from(*dt % 7),
                body,
            ));
        }
        v
    }

    proptest! {
        /// As-of equals a fresh fold of the prefix, at every moment of the record.
        #[test]
        fn as_of_is_the_fold_of_the_prefix(kinds in proptest::collection::vec((0u8..3, 0u8..5, 0u16..50), 0..25), cut in 0i64..400) {
            let events = history(&kinds);
            let whole = IncidentState::fold("inc", vec![], events.clone());
            let t = 1_000 + cut;
            let prefix: Vec<Event> = events.into_iter().filter(|e| e.at <= t).collect();
            let fresh = IncidentState::fold("inc", vec![], prefix);
            prop_assert_eq!(as_of(&whole, t), fresh);
        }
    }

    #[test]
    fn steps_are_the_distinct_sort_keys() {
        let events = history(&[(0, 0, 0), (1, 0, 0), (2, 4, 0)]);
        let s = IncidentState::fold("inc", vec![], events);
        assert_eq!(steps(&s), vec![1_000, 1_010, 1_020, 1_030]);
        assert_eq!(as_of(&s, 999).event_count(), 0);
        assert_eq!(as_of(&s, 1_020).event_count(), 3);
    }
}
