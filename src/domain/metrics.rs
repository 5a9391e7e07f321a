//! Response metrics of one incident: time to detect, declare, contain, eradicate, recover and
//! resolve, and how long it spent in each phase. Pure: `now` is always passed in, and only
//! records the fold applied count (a refused record is history, not fact).
//!
//! Definitions (README, "Metrics"): every time is `occurred`, else the writer's clock, as
//! everywhere else; every "time to" is measured from the declaration except detection.
//! - **first evidence**: the earliest time anywhere in the record (a backfilled first alert).
//! - **discovery**: when the organisation became aware — an explicitly recorded discovery time
//!   when there is one ([`explicit_discovery`]), else the declaration.
//! - **time to detect**: first evidence → discovery.
//! - **time to declare**: discovery → declaration (measured only with an explicit discovery).
//! - **time to contain**: declaration → the first entry into Eradication or a later phase. Moving
//!   past Containment is the team's judgement that the damage is limited (SANS *Containment*:
//!   keep the incident from spreading and doing more damage; NIST SP 800-61r2 §3.3.1).
//! - **time to eradicate**: declaration → the first entry into Recovery or later.
//! - **time to recover**: declaration → the first entry into Lessons Learned, or the resolution
//!   if that comes first.
//! - **time to resolve**: declaration → the resolution in force (a reopened incident is running).
//!
//! A measure not reached yet is *running* (how long so far at `now`), never a number that looks
//! final. Phase durations come from `PhaseEntered` records ordered by when they happened: a span
//! ends when the next phase is entered, the last one at the resolution; a phase entered more than
//! once has its spans summed; an open span is shown as running.

use serde::Serialize;

use super::event::{Body, Event};
use super::phase::Phase;
use super::state::IncidentState;
use super::time::{format_utc, Millis};

/// One duration, as a number and in words (`2d 3h 05m`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Dur {
    pub ms: Millis,
}

impl Dur {
    pub fn words(&self) -> String {
        format_duration(self.ms)
    }
}

/// `40s`, `12m`, `1h 05m`, `2d 3h 05m`: a duration for people (negative spans count as zero).
pub fn format_duration(ms: Millis) -> String {
    let s = ms.max(0) / 1000;
    let (d, h, m) = (s / 86_400, s / 3600 % 24, s / 60 % 60);
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{m}m"),
        3600..=86_399 => format!("{h}h {m:02}m"),
        _ => format!("{d}d {h}h {m:02}m"),
    }
}

/// Where a measure stands at `now`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Measure {
    /// Reached at `at`, `took` after its start.
    Done { at: Millis, took: Dur },
    /// Started at `since`, not reached yet: `so_far` at `now`.
    Running { since: Millis, so_far: Dur },
    /// Cannot be measured from this record, and why.
    NotMeasured { why: String },
}

impl Measure {
    fn between(start: Option<Millis>, end: Option<Millis>, now: Millis, why: &str) -> Measure {
        match (start, end) {
            (Some(s), Some(e)) => Measure::Done {
                at: e,
                took: Dur { ms: (e - s).max(0) },
            },
            (Some(s), None) => Measure::Running {
                since: s,
                so_far: Dur { ms: (now - s).max(0) },
            },
            (None, _) => Measure::NotMeasured { why: why.to_string() },
        }
    }

    /// `2h 05m (reached 2026-11-26T12:05:00Z)`, `running: 3h 10m so far`, `not measured: why`.
    pub fn words(&self) -> String {
        match self {
            Measure::Done { at, took } => format!("{} (reached {})", took.words(), format_utc(*at)),
            Measure::Running { so_far, .. } => format!("running: {} so far", so_far.words()),
            Measure::NotMeasured { why } => format!("not measured: {why}"),
        }
    }

    pub fn took(&self) -> Option<Millis> {
        match self {
            Measure::Done { took, .. } => Some(took.ms),
            _ => None,
        }
    }
}

/// One stay in a phase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Span {
    pub phase: Phase,
    pub start: Millis,
    /// `None`: still in it (running).
    pub end: Option<Millis>,
    /// Who moved the incident into it (the declarer for the first phase).
    pub by: String,
    /// Required items of earlier phases still open when it was entered (a recorded override).
    pub override_open: Vec<String>,
}

/// Time in one phase: completed spans summed; a running span apart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PhaseTime {
    pub phase: Phase,
    pub entered: usize,
    pub completed: Dur,
    /// The open span's length so far at `now`, if the incident is in this phase now.
    pub running: Option<Dur>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Metrics {
    pub first_evidence: Option<Millis>,
    /// Explicitly recorded discovery time, if any (else discovery is the declaration).
    pub discovered: Option<Millis>,
    pub declared: Option<Millis>,
    pub contained: Option<Millis>,
    pub eradicated: Option<Millis>,
    pub recovered: Option<Millis>,
    pub resolved: Option<Millis>,
    pub time_to_detect: Measure,
    pub time_to_declare: Measure,
    pub time_to_contain: Measure,
    pub time_to_eradicate: Measure,
    pub time_to_recover: Measure,
    pub time_to_resolve: Measure,
    pub spans: Vec<Span>,
    pub phases: Vec<PhaseTime>,
}

impl Metrics {
    /// The six measures with their names, in order.
    pub fn measures(&self) -> [(&'static str, &'static str, &Measure); 6] {
        [
            ("detect", "first evidence → discovery", &self.time_to_detect),
            ("declare", "discovery → declaration", &self.time_to_declare),
            ("contain", "declaration → Eradication entered", &self.time_to_contain),
            ("eradicate", "declaration → Recovery entered", &self.time_to_eradicate),
            (
                "recover",
                "declaration → Lessons Learned entered or resolved",
                &self.time_to_recover,
            ),
            ("resolve", "declaration → resolved", &self.time_to_resolve),
        ]
    }
}

/// The discovery time the commander recorded (`DiscoverySet`), if any; without one, discovery
/// is the declaration.
pub fn explicit_discovery(s: &IncidentState) -> Option<Millis> {
    s.derived.discovery.as_ref().map(|r| r.value)
}

/// The records the fold applied, in fold order (refused ones are left out).
pub fn applied(s: &IncidentState) -> impl Iterator<Item = &Event> {
    s.events().filter(|e| !s.derived.refused.contains_key(&e.key()))
}

/// The metrics of `s` at `now` (ms, UTC).
pub fn metrics(s: &IncidentState, now: Millis) -> Metrics {
    let d = &s.derived;
    let declared = s.declared_at();
    let first_evidence = s.earliest_evidence().map(|(t, _)| t);
    let discovered = explicit_discovery(s);
    let resolved = d.resolved.as_ref().filter(|r| r.value).map(|r| r.when);

    // Phase entries, by when they happened (a backfilled change sorts where it happened).
    let mut entries: Vec<(Millis, &Event, &super::event::PhaseEntered)> = applied(s)
        .filter_map(|e| match &e.body {
            Body::PhaseEntered(p) => Some((e.when(), e, &**p)),
            _ => None,
        })
        .collect();
    entries.sort_by_key(|a| (a.0, a.1.key()));
    let first_at_or_after = |p: Phase| entries.iter().find(|(_, _, x)| x.phase >= p).map(|(t, _, _)| *t);
    let contained = first_at_or_after(Phase::Eradication);
    let eradicated = first_at_or_after(Phase::Recovery);
    let recovered = match (first_at_or_after(Phase::LessonsLearned), resolved) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };

    let mut spans = Vec::new();
    if let Some(decl) = &d.declared {
        spans.push(Span {
            phase: Phase::Identification,
            start: decl.when,
            end: None,
            by: decl.by.clone(),
            override_open: Vec::new(),
        });
    }
    for (t, e, p) in &entries {
        if let Some(last) = spans.last_mut() {
            last.end = Some((*t).max(last.start));
        }
        spans.push(Span {
            phase: p.phase,
            start: *t,
            end: None,
            by: e.by().to_string(),
            override_open: p.override_open.clone(),
        });
    }
    if let (Some(r), Some(last)) = (resolved, spans.last_mut()) {
        last.end = Some(r.max(last.start));
    }
    let phases = Phase::ALL
        .iter()
        .filter_map(|&phase| {
            let mine: Vec<&Span> = spans.iter().filter(|x| x.phase == phase).collect();
            if mine.is_empty() {
                return None;
            }
            let completed = mine.iter().filter_map(|x| x.end.map(|e| e - x.start)).sum();
            let running = mine.iter().find(|x| x.end.is_none()).map(|x| Dur {
                ms: (now - x.start).max(0),
            });
            Some(PhaseTime {
                phase,
                entered: mine.len(),
                completed: Dur { ms: completed },
                running,
            })
        })
        .collect();

    let aware = discovered.or(declared);
    // After resolution nothing runs: a measure not reached by then never will be.
    let settle = |m: Measure| match (m, resolved) {
        (Measure::Running { .. }, Some(_)) => Measure::NotMeasured {
            why: "not reached before resolution".into(),
        },
        (m, _) => m,
    };
    Metrics {
        first_evidence,
        discovered,
        declared,
        contained,
        eradicated,
        recovered,
        resolved,
        time_to_detect: settle(Measure::between(first_evidence, aware, now, "nothing recorded yet")),
        time_to_declare: match discovered {
            Some(_) => Measure::between(discovered, declared, now, "not declared"),
            None => Measure::NotMeasured {
                why: "no discovery time recorded apart from the declaration".into(),
            },
        },
        time_to_contain: settle(Measure::between(declared, contained, now, "not declared")),
        time_to_eradicate: settle(Measure::between(declared, eradicated, now, "not declared")),
        time_to_recover: settle(Measure::between(declared, recovered, now, "not declared")),
        time_to_resolve: Measure::between(declared, resolved, now, "not declared"),
        spans,
        phases,
    }
}

/// The median of some durations (the mean of the middle two for an even count).
pub fn median(mut v: Vec<Millis>) -> Option<Millis> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        v[n / 2 - 1] + (v[n / 2] - v[n / 2 - 1]) / 2
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::event::{Declared, Mode, Name, Note, PhaseEntered, Reopened, Resolved};
    use crate::domain::playbook::{Item, Phases};
    use crate::domain::Playbook;

    const M: Millis = 60_000;
    const H: Millis = 60 * M;
    /// 2026-11-26T10:00:00Z
    const T0: Millis = 1_795_687_200_000;

    fn ev(seq: u64, wall: Millis, occurred: Option<Millis>, body: impl Into<Body>) -> Event {
        Event {
            id: format!("e{seq:03}").into(),
            at: wall,
            wall,
            occurred: occurred.into(),
            log: Name::with_writer("maya@soc.abc123", "maya@soc".into()),
            seq,
            body: body.into(),
        }
    }

    fn phase(seq: u64, at: Millis, p: Phase) -> Event {
        ev(
            seq,
            at,
            None,
            PhaseEntered {
                phase: p,
                override_open: vec![],
            },
        )
    }

    fn fold(mut events: Vec<Event>) -> IncidentState {
        let pb = Playbook {
            id: "t".into(),
            title: "t".into(),
            version: "1".into(),
            description: String::new(),
            base: None,
            partial: false,
            disclaimer: String::new(),
            severity_guidance: vec![],
            questions: vec![],
            roles: vec![],
            phases: Phases {
                identification: vec![Item {
                    id: "x".into(),
                    text: "x".into(),
                    required: true,
                    role: None,
                }],
                ..Phases::default()
            },
            actions: vec![],
            templates: vec![],
            channel: None,
            deadlines: vec![],
            update_cadence: vec![],
        };
        let hash = pb.content_hash();
        events.insert(
            0,
            ev(
                1,
                T0,
                None,
                Declared {
                    incident: "inc".into(),
                    title: "t".into(),
                    severity: 2,
                    mode: Mode::Real,
                    playbook: "t".into(),
                    playbook_version: "1".into(),
                    playbook_hash: hash.clone(),
                    commander: "maya".into(),
                    require_signatures: false,
                },
            ),
        );
        IncidentState::fold("inc", vec![(hash, pb)], events)
    }

    fn note(seq: u64, wall: Millis, occurred: Option<Millis>) -> Event {
        ev(
            seq,
            wall,
            occurred,
            Note {
                text: "n".into(),
                tags: Default::default(),
            },
        )
    }

    #[test]
    fn every_measure_from_a_whole_incident() {
        let s = fold(vec![
            note(2, T0 + M, Some(T0 - 3 * H)), // first alert, backfilled
            phase(3, T0 + H, Phase::Containment),
            phase(4, T0 + 3 * H, Phase::Eradication),
            phase(5, T0 + 5 * H, Phase::Recovery),
            phase(6, T0 + 9 * H, Phase::LessonsLearned),
            ev(
                7,
                T0 + 10 * H,
                None,
                Resolved {
                    summary: None,
                    override_open: vec![],
                    reason: None,
                },
            ),
        ]);
        let m = metrics(&s, T0 + 48 * H);
        assert_eq!(m.time_to_detect.took(), Some(3 * H));
        assert!(matches!(m.time_to_declare, Measure::NotMeasured { .. }));
        assert_eq!(m.time_to_contain.took(), Some(3 * H));
        assert_eq!(m.time_to_eradicate.took(), Some(5 * H));
        assert_eq!(m.time_to_recover.took(), Some(9 * H));
        assert_eq!(m.time_to_resolve.took(), Some(10 * H));
        let by: Vec<(Phase, Millis, Option<Millis>)> = m
            .phases
            .iter()
            .map(|p| (p.phase, p.completed.ms, p.running.map(|r| r.ms)))
            .collect();
        assert_eq!(
            by,
            vec![
                (Phase::Identification, H, None),
                (Phase::Containment, 2 * H, None),
                (Phase::Eradication, 2 * H, None),
                (Phase::Recovery, 4 * H, None),
                (Phase::LessonsLearned, H, None),
            ]
        );
        assert_eq!(m.time_to_resolve.words(), "10h 00m (reached 2026-11-26T20:00:00Z)");
    }

    #[test]
    fn open_spans_run_and_reentered_phases_sum() {
        let s = fold(vec![
            phase(2, T0 + H, Phase::Containment),
            phase(3, T0 + 2 * H, Phase::Eradication),
            phase(4, T0 + 4 * H, Phase::Containment), // back: it spread again
            phase(5, T0 + 5 * H, Phase::Eradication),
        ]);
        let now = T0 + 7 * H;
        let m = metrics(&s, now);
        let cont = m.phases.iter().find(|p| p.phase == Phase::Containment).unwrap();
        assert_eq!((cont.entered, cont.completed.ms, cont.running), (2, 2 * H, None));
        let erad = m.phases.iter().find(|p| p.phase == Phase::Eradication).unwrap();
        assert_eq!(erad.completed.ms, 2 * H);
        assert_eq!(erad.running.map(|r| r.ms), Some(2 * H));
        // Contained at the *first* entry into Eradication; the rest still run.
        assert_eq!(m.time_to_contain.took(), Some(2 * H));
        assert_eq!(
            m.time_to_eradicate,
            Measure::Running {
                since: T0,
                so_far: Dur { ms: 7 * H }
            }
        );
        assert!(m.time_to_resolve.words().starts_with("running: 7h 00m so far"));
    }

    #[test]
    fn a_reopened_incident_is_not_resolved_and_refused_records_do_not_count() {
        let s = fold(vec![
            ev(
                2,
                T0 + H,
                None,
                Resolved {
                    summary: None,
                    override_open: vec![],
                    reason: None,
                },
            ),
            ev(
                3,
                T0 + 2 * H,
                None,
                Reopened {
                    reason: Some("beacon again".into()),
                },
            ),
        ]);
        let m = metrics(&s, T0 + 3 * H);
        assert!(matches!(m.time_to_resolve, Measure::Running { .. }));
        assert!(matches!(m.time_to_recover, Measure::Running { .. }));
        // Entering the phase it is already in is refused by the fold: no span for it.
        let s = fold(vec![
            phase(2, T0 + H, Phase::Containment),
            phase(3, T0 + 2 * H, Phase::Containment),
        ]);
        let m = metrics(&s, T0 + 3 * H);
        assert_eq!(m.spans.len(), 2, "{:?}", m.spans);
    }

    #[test]
    fn a_backfilled_phase_change_before_the_current_phase_is_refused() {
        // Written at +5h, saying +1h, while Eradication was entered at +2h: phases move forward
        // in time, so the fold refuses it and no span runs backwards.
        let s = fold(vec![
            phase(2, T0 + 2 * H, Phase::Eradication),
            ev(
                3,
                T0 + 5 * H,
                Some(T0 + H),
                PhaseEntered {
                    phase: Phase::Containment,
                    override_open: vec![],
                },
            ),
        ]);
        let m = metrics(&s, T0 + 6 * H);
        let order: Vec<Phase> = m.spans.iter().map(|x| x.phase).collect();
        assert_eq!(order, vec![Phase::Identification, Phase::Eradication]);
        assert_eq!(m.time_to_contain.took(), Some(2 * H));
        assert!(m.spans.iter().all(|x| x.end.is_none_or(|e| e >= x.start)));
        // Backfilled in order (after the current phase's entry), it is accepted where it happened.
        let s = fold(vec![
            phase(2, T0 + H, Phase::Containment),
            ev(
                3,
                T0 + 5 * H,
                Some(T0 + 2 * H),
                PhaseEntered {
                    phase: Phase::Eradication,
                    override_open: vec![],
                },
            ),
        ]);
        let m = metrics(&s, T0 + 6 * H);
        assert_eq!(m.time_to_contain.took(), Some(2 * H));
    }

    #[test]
    fn medians_and_durations() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![5, 1, 3]), Some(3));
        assert_eq!(median(vec![4, 1, 3, 2]), Some(2));
        assert_eq!(format_duration(40_000), "40s");
        assert_eq!(format_duration(12 * M), "12m");
        assert_eq!(format_duration(H + 5 * M), "1h 05m");
        assert_eq!(format_duration(51 * H + 5 * M), "2d 3h 05m");
        assert_eq!(format_duration(-5), "0s");
    }
}
