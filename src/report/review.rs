//! The post-incident review as data: [`Review`] is a pure struct computed from the folded state,
//! the clocks and the integrity result at a given `now`. The Markdown and the JSON export are
//! both rendered from it, section by section ([`SECTIONS`]), so the JSON holds everything the
//! Markdown shows.
//!
//! Every string here is sanitised on the way in (it came from the shared directory); escaping
//! for Markdown happens only in the renderer.
//!
//! The team writes `summary`, `impact`, `root_cause` and the lessons-learned answers as
//! `ReviewSet` records (`warroom review`, `I` in the console); amendments and retractions
//! (`Corrected`) are shown beside the original, never instead of it.

use serde::Serialize;

use crate::domain::deadline::{self, ClockState};
use crate::domain::describe::{action_state_word, describe_in, item_state_word};
use crate::domain::event::{Body, FollowUpState, ItemState, Mode, Target};
use crate::domain::identity::person_of;
use crate::domain::metrics::{self, Measure, Metrics};
use crate::domain::playbook::COMMANDER;
use crate::domain::sanitize::{sanitize, sanitize_multiline};
use crate::domain::time::{format_elapsed, format_utc, Millis};
use crate::domain::{IncidentState, Phase, Problem};
use crate::exercise::local::FacilitatorState;
use crate::exercise::scenario::format_scenario;
use crate::store::verify::Report as Integrity;

/// The sections of a review, in the order they are rendered. A new kind of record adds a
/// variant here and a renderer for each format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Integrity,
    Overview,
    Summary,
    ImpactAndRootCause,
    Exercise,
    KeyTimes,
    Deadlines,
    Roles,
    Phases,
    Checklists,
    Actions,
    StatusUpdates,
    FollowUps,
    Lessons,
    Timeline,
    Problems,
}

pub const SECTIONS: [Section; 16] = [
    Section::Integrity,
    Section::Overview,
    Section::Summary,
    Section::ImpactAndRootCause,
    Section::Exercise,
    Section::KeyTimes,
    Section::Deadlines,
    Section::Roles,
    Section::Phases,
    Section::Checklists,
    Section::Actions,
    Section::StatusUpdates,
    Section::FollowUps,
    Section::Lessons,
    Section::Timeline,
    Section::Problems,
];

/// Who wrote something and when (UTC text).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stamp {
    pub by: String,
    pub at: String,
}

fn stamp(by: &str, at: Millis) -> Stamp {
    Stamp {
        by: sanitize(&person_of(by)),
        at: format_utc(at),
    }
}

/// A text the team wrote, with who and when; `source` names the record it came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Written {
    pub text: String,
    pub by: String,
    pub at: String,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IntegrityView {
    pub ok: bool,
    pub logs: usize,
    pub records: u64,
    pub errors: Vec<String>,
    pub crashes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Overview {
    pub id: String,
    pub title: String,
    pub mode: Option<String>,
    pub severity: Option<u8>,
    pub phase: String,
    pub status: String,
    pub commander: Option<String>,
    pub playbook: Option<PlaybookRef>,
    pub declared: Option<Stamp>,
    pub first_evidence: Option<String>,
    /// When the organisation became aware: the recorded discovery, else the declaration.
    pub discovered: Option<String>,
    /// Who recorded discovery, when and why (`None`: discovery is the declaration).
    pub discovery_reason: Option<String>,
    /// Required items still open when it was resolved (recorded with the resolution).
    pub resolved_override_open: Vec<String>,
    /// Why someone other than the commander resolved it.
    pub resolved_reason: Option<String>,
    pub classified: Option<String>,
    pub materiality: Option<String>,
    pub resolved: Option<Stamp>,
    pub resolved_after: Option<String>,
    pub events: usize,
    pub notes: usize,
    pub exported: String,
    /// The review shows the incident as it stood at this time (`--as-of`).
    pub as_of: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlaybookRef {
    pub id: String,
    pub version: String,
    pub hash: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyTime {
    pub metric: String,
    pub definition: String,
    /// `done`, `running` or `not_measured`.
    pub state: String,
    pub ms: Option<Millis>,
    pub reached: Option<String>,
    pub words: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Moments {
    pub first_evidence: Option<String>,
    pub discovered: Option<String>,
    pub declared: Option<String>,
    pub contained: Option<String>,
    pub eradicated: Option<String>,
    pub recovered: Option<String>,
    pub resolved: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeadlineRow {
    pub deadline: String,
    pub name: String,
    pub stage: String,
    pub source: String,
    pub trigger: String,
    pub start: Option<String>,
    pub due: Option<String>,
    pub business_days: bool,
    /// `OVERDUE`, `met`, `met LATE`, `waived`, `running`, `not started`, ...
    pub state: String,
    /// Missed: overdue now, or met after its due time.
    pub missed: bool,
    pub words: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoleRow {
    pub role: String,
    pub who: String,
    pub since: String,
}

/// A role changing hands (`commander`: the command handoff).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Handoff {
    pub role: String,
    pub from: Option<String>,
    pub to: String,
    pub by: String,
    pub at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseRow {
    pub phase: String,
    pub entered: usize,
    pub completed_ms: Millis,
    pub completed: String,
    pub running_ms: Option<Millis>,
    pub running: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpanRow {
    pub phase: String,
    pub start: String,
    pub end: Option<String>,
    pub duration: String,
    pub by: String,
    /// Required items of earlier phases still open when it was entered (the override).
    pub override_open: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChecklistPhase {
    pub phase: String,
    pub done: usize,
    pub total: usize,
    pub items: Vec<ItemRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItemRow {
    pub id: String,
    pub text: String,
    pub required: bool,
    pub state: String,
    pub by: Option<String>,
    pub at: Option<String>,
    pub note: Option<String>,
    pub assigned: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionRow {
    pub id: String,
    pub title: String,
    pub term: String,
    pub approval: String,
    pub command: Option<String>,
    pub rollback: Option<String>,
    pub state: String,
    pub proposer: Option<String>,
    pub approver: Option<String>,
    pub assigned: Option<String>,
    pub history: Vec<ActionStep>,
    pub outputs: Vec<OutputRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionStep {
    pub state: String,
    pub by: String,
    pub at: String,
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutputRow {
    pub by: String,
    pub at: String,
    pub exit: Option<i32>,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UpdateRow {
    /// The update was amended or retracted afterwards (the original is `text`).
    pub correction: Option<String>,
    pub audience: String,
    pub by: String,
    pub at: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FollowUpRow {
    /// The `FollowUp` record's id (what `warroom followup` names it by).
    pub id: String,
    pub text: String,
    /// The follow-up's text was amended or retracted (the original is `text`).
    pub correction: Option<String>,
    pub due: Option<String>,
    /// Open and past its due time at the review's moment.
    pub overdue: bool,
    /// Who last changed its state, when, with their note.
    pub changed: Option<String>,
    /// The state before the last change and who had set it: `done by maya`.
    pub was: Option<String>,
    /// The record it was created from (its id), if any.
    pub from: Option<String>,
    pub owner: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    pub by: String,
    pub at: String,
    /// `open`, `done` or `cancelled`.
    pub state: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Question {
    pub id: String,
    pub question: String,
    pub required: bool,
    /// The answer recorded (`warroom review`, `I` in the console); for a playbook without
    /// questions, the lessons-learned item's note.
    pub answer: Option<Written>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineRow {
    /// The record's id (corrections and follow-ups name records by it).
    pub id: String,
    pub at: String,
    pub backfilled: bool,
    pub by: String,
    pub kind: String,
    pub what: String,
    pub flag: Option<String>,
}

/// The after-action part of an exercise.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExerciseReview {
    pub scenario: Option<String>,
    pub objectives: Vec<String>,
    /// The facilitator's rating of each objective (met, partly, not met), with a note.
    pub objective_ratings: Vec<ObjectiveRating>,
    pub injects: Vec<InjectRow>,
    pub never_released: Vec<String>,
    pub skipped: Vec<String>,
    pub went_well: Vec<String>,
    pub to_improve: Vec<String>,
    pub evaluator_notes: Vec<EvaluatorNoteRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InjectRow {
    pub inject: String,
    pub title: String,
    pub scenario_time: String,
    pub released_at: String,
    pub first_response: Option<InjectResponseRow>,
    pub expected: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InjectResponseRow {
    pub by: String,
    pub at: String,
    pub what: String,
    /// Scenario time from the release to the response (`mm:ss`), or `-` when unknown.
    pub after: String,
    /// A note tied to the inject (`a` on it), not the players' next event.
    pub explicit: bool,
    /// Scenario time of the response (ms).
    pub scenario_ms: Option<Millis>,
    /// Scenario time from the release to the response (ms).
    pub after_scenario_ms: Option<Millis>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ObjectiveRating {
    pub objective: String,
    /// `met`, `partly`, `not met`; `None`: not rated.
    pub rating: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvaluatorNoteRow {
    pub inject: Option<String>,
    pub at: String,
    pub text: String,
}

/// Everything a post-incident review shows, as of one moment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Review {
    pub integrity: IntegrityView,
    pub overview: Overview,
    /// The review's summary (`review summary`), else the resolution's (`resolve --summary`).
    pub summary: Option<Written>,
    /// What was affected, for how long (`review impact`).
    pub impact: Option<Written>,
    /// Why it happened (`review root_cause`).
    pub root_cause: Option<Written>,
    pub moments: Moments,
    pub key_times: Vec<KeyTime>,
    pub deadlines: Vec<DeadlineRow>,
    pub deadlines_missed: usize,
    pub roles: Vec<RoleRow>,
    pub handoffs: Vec<Handoff>,
    pub phases: Vec<PhaseRow>,
    pub spans: Vec<SpanRow>,
    pub checklists: Vec<ChecklistPhase>,
    pub actions: Vec<ActionRow>,
    pub status_updates: Vec<UpdateRow>,
    pub follow_ups: Vec<FollowUpRow>,
    pub lessons: Vec<Question>,
    pub exercise: Option<ExerciseReview>,
    pub timeline: Vec<TimelineRow>,
    pub problems: Vec<String>,
    pub clock_skew: Vec<String>,
    #[serde(skip)]
    pub metrics: Metrics,
}

fn opt(s: Option<&str>) -> Option<String> {
    s.map(sanitize)
}

fn key_time(name: &str, definition: &str, m: &Measure) -> KeyTime {
    let (state, ms, reached) = match m {
        Measure::Done { at, took } => ("done", Some(took.ms), Some(format_utc(*at))),
        Measure::Running { so_far, .. } => ("running", Some(so_far.ms), None),
        Measure::NotMeasured { .. } => ("not_measured", None, None),
    };
    KeyTime {
        metric: format!("time to {name}"),
        definition: definition.to_string(),
        state: state.to_string(),
        ms,
        reached,
        words: m.words(),
    }
}

/// `open`, `resolved`, `archived` or `syncing`, from the fold alone.
pub fn status_word(s: &IncidentState) -> &'static str {
    s.status_word()
}

/// What a review is built from.
pub struct Input<'a> {
    pub id: &'a str,
    pub state: &'a IncidentState,
    pub problems: &'a [Problem],
    pub integrity: &'a Integrity,
    pub facilitator: Option<&'a FacilitatorState>,
    /// The moment the review speaks of: clocks and running measures are evaluated here.
    pub now: Millis,
    /// Set when the state is the incident as it stood then (`--as-of`).
    pub as_of: Option<Millis>,
}

impl Review {
    pub fn build(input: &Input) -> Review {
        let s = input.state;
        let d = &s.derived;
        let now = input.now;
        let m = metrics::metrics(s, now);
        let applied: Vec<&crate::domain::Event> = metrics::applied(s).collect();

        let integrity = IntegrityView {
            ok: input.integrity.errors.is_empty(),
            logs: input.integrity.logs,
            records: input.integrity.records,
            errors: input.integrity.errors.iter().map(|e| sanitize(e)).collect(),
            crashes: input.integrity.crashes.iter().map(|e| sanitize(e)).collect(),
        };
        let resolved = d.resolved.as_ref().filter(|r| r.value);
        let resolved_record = resolved.and_then(|r| s.event(&r.key)).and_then(|e| match &e.body {
            Body::Resolved(x) => Some(x),
            _ => None,
        });
        let overview = Overview {
            id: sanitize(input.id),
            title: sanitize(s.title()),
            mode: s.mode().map(|m| m.label().to_string()),
            severity: s.severity(),
            phase: s.phase().label().to_string(),
            status: status_word(s).to_string(),
            commander: opt(s.commander()),
            playbook: d.declared.as_ref().map(|r| PlaybookRef {
                id: sanitize(&r.value.playbook),
                version: sanitize(&r.value.playbook_version),
                hash: sanitize(d.playbook_hash.as_deref().unwrap_or(&r.value.playbook_hash)),
            }),
            declared: d.declared.as_ref().map(|r| stamp(&r.by, r.when)),
            first_evidence: s.earliest_evidence().map(|(t, _)| format_utc(t)),
            discovered: d.discovered.map(format_utc),
            discovery_reason: d.discovery.as_ref().map(|r| {
                let reason = s.event(&r.key).and_then(|e| match &e.body {
                    Body::DiscoverySet(x) => Some(sanitize(&x.reason)),
                    _ => None,
                });
                format!(
                    "set by {} at {}{}",
                    sanitize(&person_of(&r.by)),
                    format_utc(r.when),
                    reason.map(|x| format!(": {x}")).unwrap_or_default()
                )
            }),
            classified: d.classified.map(format_utc),
            materiality: d.materiality.map(format_utc),
            resolved: resolved.map(|r| stamp(&r.by, r.when)),
            resolved_after: resolved.and_then(|r| s.declared_at().map(|t| format_elapsed(r.when - t))),
            resolved_override_open: resolved_record
                .map(|x| x.override_open.iter().map(|i| sanitize(i)).collect())
                .unwrap_or_default(),
            resolved_reason: resolved_record.and_then(|x| x.reason.as_deref().map(sanitize)),
            events: s.event_count(),
            notes: d.notes,
            exported: format_utc(now),
            as_of: input.as_of.map(format_utc),
        };

        // The review fields the team recorded (`ReviewSet`); the summary falls back to the
        // resolution's.
        let field = |name: &str| {
            d.review
                .get(name)
                .filter(|r| !r.value.trim().is_empty())
                .map(|r| Written {
                    text: sanitize_multiline(&r.value),
                    by: sanitize(&person_of(&r.by)),
                    at: format_utc(r.when),
                    source: format!("review {name}"),
                })
        };
        let summary = field("summary").or_else(|| {
            resolved.and_then(|r| {
                applied.iter().find(|e| e.key() == r.key).and_then(|e| match &e.body {
                    Body::Resolved(x) => x.summary.as_ref().filter(|t| !t.trim().is_empty()).map(|t| Written {
                        text: sanitize_multiline(t),
                        by: sanitize(&person_of(e.by())),
                        at: format_utc(e.when()),
                        source: "resolution summary".into(),
                    }),
                    _ => None,
                })
            })
        });

        let opt_utc = |t: Option<Millis>| t.map(format_utc);
        let moments = Moments {
            first_evidence: opt_utc(m.first_evidence),
            discovered: opt_utc(m.discovered),
            declared: opt_utc(m.declared),
            contained: opt_utc(m.contained),
            eradicated: opt_utc(m.eradicated),
            recovered: opt_utc(m.recovered),
            resolved: opt_utc(m.resolved),
        };
        let key_times = m
            .measures()
            .iter()
            .map(|(name, def, measure)| key_time(name, def, measure))
            .collect();

        let pb = s.playbook();
        let deadlines: Vec<DeadlineRow> = pb
            .map(|pb| deadline::clocks(s, pb, now))
            .unwrap_or_default()
            .into_iter()
            .map(|c| DeadlineRow {
                deadline: sanitize(&c.deadline),
                name: sanitize(&c.name),
                stage: sanitize(&c.stage),
                source: sanitize(&c.source),
                trigger: sanitize(&c.trigger),
                start: c.start.map(format_utc),
                due: c.due.map(format_utc),
                business_days: c.business_days,
                state: c.label().to_string(),
                missed: matches!(
                    c.state,
                    ClockState::Overdue { .. } | ClockState::Met { late_ms: Some(_), .. }
                ),
                words: c.words(),
            })
            .collect();
        let deadlines_missed = deadlines.iter().filter(|d| d.missed).count();

        let roles = s
            .roles()
            .map(|(role, r)| RoleRow {
                role: sanitize(role),
                who: sanitize(&r.value),
                since: format_utc(r.when),
            })
            .collect();
        let mut holders: std::collections::BTreeMap<String, String> = Default::default();
        let mut handoffs = Vec::new();
        for e in &applied {
            match &e.body {
                Body::Declared(x) if !x.commander.is_empty() => {
                    holders.insert(COMMANDER.into(), x.commander.clone());
                }
                Body::RoleAssigned(x) => {
                    let from = holders.insert(x.role.clone(), x.who.clone());
                    handoffs.push(Handoff {
                        role: sanitize(&x.role),
                        from: opt(from.as_deref()),
                        to: sanitize(&x.who),
                        by: sanitize(&person_of(e.by())),
                        at: format_utc(e.when()),
                    });
                }
                _ => {}
            }
        }

        let phases = m
            .phases
            .iter()
            .map(|p| PhaseRow {
                phase: p.phase.label().to_string(),
                entered: p.entered,
                completed_ms: p.completed.ms,
                completed: p.completed.words(),
                running_ms: p.running.map(|r| r.ms),
                running: p.running.map(|r| r.words()),
            })
            .collect();
        let spans = m
            .spans
            .iter()
            .map(|x| SpanRow {
                phase: x.phase.label().to_string(),
                start: format_utc(x.start),
                end: x.end.map(format_utc),
                duration: match x.end {
                    Some(e) => metrics::format_duration(e - x.start),
                    None => format!("running: {} so far", metrics::format_duration(now - x.start)),
                },
                by: sanitize(&person_of(&x.by)),
                override_open: x.override_open.iter().map(|i| sanitize(i)).collect(),
            })
            .collect();

        let assigned = |t: Target| d.assignments.get(&t).map(|r| sanitize(&r.value));
        let checklists = pb
            .map(|pb| {
                Phase::ALL
                    .iter()
                    .filter(|p| !pb.phases.get(**p).is_empty())
                    .map(|&phase| {
                        let items = pb.phases.get(phase);
                        let rows: Vec<ItemRow> = items
                            .iter()
                            .map(|i| {
                                let reg = d.items.get(&i.id);
                                ItemRow {
                                    id: sanitize(&i.id),
                                    text: sanitize(&i.text),
                                    required: i.required,
                                    state: item_state_word(s.item_state(&i.id)).to_string(),
                                    by: reg.map(|r| sanitize(&person_of(&r.by))),
                                    at: reg.map(|r| format_utc(r.when)),
                                    note: reg.and_then(|r| r.value.note.as_deref()).map(sanitize),
                                    assigned: assigned(Target::Item(i.id.clone())),
                                }
                            })
                            .collect();
                        ChecklistPhase {
                            phase: phase.label().to_string(),
                            done: items
                                .iter()
                                .filter(|i| matches!(s.item_state(&i.id), ItemState::Done | ItemState::Skipped))
                                .count(),
                            total: items.len(),
                            items: rows,
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();

        let actions = pb
            .map(|pb| {
                pb.actions
                    .iter()
                    .map(|a| {
                        let reg = d.actions.get(&a.id).map(|r| &r.value);
                        let history = applied
                            .iter()
                            .filter_map(|e| match &e.body {
                                Body::ActionSet(x) if x.action == a.id => Some(ActionStep {
                                    state: action_state_word(x.state).to_string(),
                                    by: sanitize(&person_of(e.by())),
                                    at: format_utc(e.when()),
                                    note: x.note.as_deref().map(sanitize),
                                }),
                                _ => None,
                            })
                            .collect();
                        let outputs = applied
                            .iter()
                            .filter_map(|e| match &e.body {
                                Body::ActionOutput(x) if x.action == a.id => Some(OutputRow {
                                    by: sanitize(&person_of(e.by())),
                                    at: format_utc(e.when()),
                                    exit: x.exit,
                                    text: sanitize_multiline(&x.text),
                                }),
                                _ => None,
                            })
                            .collect();
                        ActionRow {
                            id: sanitize(&a.id),
                            title: sanitize(&a.title),
                            term: format!("{:?}", a.term).to_lowercase(),
                            approval: format!("{:?}", a.approval),
                            command: a.command.as_deref().map(sanitize_multiline),
                            rollback: a.rollback.as_deref().map(sanitize_multiline),
                            state: reg.map_or("not proposed", |r| action_state_word(r.state)).to_string(),
                            proposer: reg.and_then(|r| r.proposer.as_deref()).map(|p| sanitize(&person_of(p))),
                            approver: reg.and_then(|r| r.approver.as_deref()).map(|p| sanitize(&person_of(p))),
                            assigned: assigned(Target::Action(a.id.clone())),
                            history,
                            outputs,
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();

        let status_updates = d
            .status_updates
            .iter()
            .map(|u| UpdateRow {
                correction: s.event(&u.key).and_then(|e| correction(s, &e.id)),
                audience: format!("{:?}", u.value.audience),
                by: sanitize(&person_of(&u.by)),
                at: format_utc(u.when),
                text: sanitize_multiline(&u.value.text),
            })
            .collect();
        let follow_ups = s
            .follow_ups()
            .into_iter()
            .map(|f| FollowUpRow {
                id: sanitize(&f.id),
                correction: correction(s, &f.id),
                text: sanitize(&f.text),
                owner: f.owner.as_deref().map(sanitize),
                kind: sanitize(&f.kind),
                due: f.due.map(format_utc),
                overdue: f.state == FollowUpState::Open && f.due.is_some_and(|t| t < now),
                by: sanitize(&person_of(&f.created_by)),
                at: format_utc(f.created_when),
                state: follow_up_state_word(f.state).into(),
                was: f
                    .changed
                    .as_ref()
                    .and_then(|c| c.was.as_ref())
                    .map(|(st, by)| format!("{} by {}", follow_up_state_word(*st), sanitize(&person_of(by)))),
                from: f.from.as_deref().map(sanitize),
                changed: f.changed.as_ref().map(|c| {
                    format!(
                        "{} at {}{}",
                        sanitize(&person_of(&c.by)),
                        format_utc(c.when),
                        c.note
                            .as_deref()
                            .map(|n| format!(": {}", sanitize(n)))
                            .unwrap_or_default()
                    )
                }),
            })
            .collect();
        // The playbook's lessons-learned questions with the answers recorded (`ReviewSet`); a
        // playbook that asks none falls back to its lessons-learned items and their notes.
        let asked: Vec<Question> = s
            .review_fields()
            .into_iter()
            .filter(|(f, _, _)| !crate::domain::playbook::REVIEW_FIELDS.iter().any(|(x, _)| x == f))
            .map(|(id, question, answer)| Question {
                id: sanitize(&id),
                question: sanitize(&question),
                required: false,
                answer: answer.filter(|r| !r.value.trim().is_empty()).map(|r| Written {
                    text: sanitize_multiline(&r.value),
                    by: sanitize(&person_of(&r.by)),
                    at: format_utc(r.when),
                    source: format!("review {}", sanitize(&id)),
                }),
            })
            .collect();
        let lessons = if !asked.is_empty() {
            asked
        } else {
            pb.map(|pb| {
                pb.phases
                    .get(Phase::LessonsLearned)
                    .iter()
                    .map(|i| Question {
                        id: sanitize(&i.id),
                        question: sanitize(&i.text),
                        required: i.required,
                        answer: d.items.get(&i.id).and_then(|r| {
                            r.value.note.as_ref().filter(|n| !n.trim().is_empty()).map(|n| Written {
                                text: sanitize_multiline(n),
                                by: sanitize(&person_of(&r.by)),
                                at: format_utc(r.when),
                                source: format!("note on item {}", sanitize(&i.id)),
                            })
                        }),
                    })
                    .collect()
            })
            .unwrap_or_default()
        };

        let exercise = matches!(s.mode(), Some(Mode::Exercise)).then(|| exercise_review(s, input.facilitator));

        let timeline = s
            .timeline()
            .filter(|e| !matches!(e.body, Body::Heads(_) | Body::Signed(_)))
            .map(|e| TimelineRow {
                id: sanitize(&e.id),
                at: format_utc(e.when()),
                backfilled: e.occurred.is_some(),
                by: sanitize(&person_of(e.by())),
                kind: sanitize(e.kind()),
                what: describe_in(s, e),
                flag: s.flag(e).map(|f| sanitize(&f.label())),
            })
            .collect();

        Review {
            integrity,
            overview,
            summary,
            impact: field("impact"),
            root_cause: field("root_cause"),
            moments,
            key_times,
            deadlines,
            deadlines_missed,
            roles,
            handoffs,
            phases,
            spans,
            checklists,
            actions,
            status_updates,
            follow_ups,
            lessons,
            exercise,
            timeline,
            problems: input.problems.iter().map(|p| sanitize(&p.to_string())).collect(),
            clock_skew: s.skew_warnings(now).iter().map(|w| sanitize(w)).collect(),
            metrics: m,
        }
    }

    pub fn is_exercise(&self) -> bool {
        self.overview.mode.as_deref() == Some(Mode::Exercise.label())
    }
}

fn exercise_review(s: &IncidentState, fac: Option<&FacilitatorState>) -> ExerciseReview {
    let injects = super::inject_responses(s)
        .iter()
        .map(|r| InjectRow {
            inject: sanitize(&r.inject),
            title: sanitize(&r.title),
            scenario_time: format_scenario(r.scenario_ms),
            released_at: format_utc(r.released.when()),
            first_response: r.first_response.map(|x| InjectResponseRow {
                by: sanitize(&person_of(x.by())),
                at: format_utc(x.when()),
                what: describe_in(s, x),
                after: r.after_scenario_ms().map_or("-".into(), |ms| {
                    format_scenario(ms).trim_start_matches("E+").to_string()
                }),
                explicit: r.explicit,
                scenario_ms: r.response_scenario_ms,
                after_scenario_ms: r.after_scenario_ms(),
            }),
            expected: fac
                .and_then(|f| f.scenario.injects.iter().find(|i| i.id == r.inject))
                .map(|i| sanitize(&i.expected)),
        })
        .collect();
    let Some(f) = fac else {
        return ExerciseReview {
            scenario: None,
            objectives: vec![],
            objective_ratings: vec![],
            injects,
            never_released: vec![],
            skipped: vec![],
            went_well: vec![],
            to_improve: vec![],
            evaluator_notes: vec![],
        };
    };
    let never_released = f
        .scenario
        .injects
        .iter()
        .filter(|i| !s.derived.released_injects.contains(&i.id) && !f.skipped.contains(&i.id))
        .map(|i| format!("{} — {}", sanitize(&i.id), sanitize(&i.title)))
        .collect();
    let (good, improve): (Vec<_>, Vec<_>) = f.notes.iter().partition(|n| n.text.trim_start().starts_with('+'));
    let on = |n: &crate::exercise::local::EvaluatorNote| {
        n.inject
            .as_deref()
            .map_or(String::new(), |i| format!(" (on {})", sanitize(i)))
    };
    ExerciseReview {
        scenario: Some(sanitize(&f.scenario.summary)),
        objectives: f.scenario.objectives.iter().map(|o| sanitize(o)).collect(),
        objective_ratings: f
            .scenario
            .objectives
            .iter()
            .map(|o| {
                let r = f.rating(o);
                ObjectiveRating {
                    objective: sanitize(o),
                    rating: r.map(|r| r.rating.label().to_string()),
                    note: r.map(|r| sanitize(&r.note)).filter(|n| !n.is_empty()),
                }
            })
            .collect(),
        injects,
        never_released,
        skipped: f.skipped.iter().map(|x| sanitize(x)).collect(),
        went_well: good
            .iter()
            .map(|n| {
                format!(
                    "{}{}",
                    sanitize(n.text.trim_start().trim_start_matches('+').trim()),
                    on(n)
                )
            })
            .collect(),
        to_improve: improve
            .iter()
            .map(|n| {
                format!(
                    "{}{}",
                    sanitize(n.text.trim_start().trim_start_matches('-').trim()),
                    on(n)
                )
            })
            .collect(),
        evaluator_notes: f
            .notes
            .iter()
            .map(|n| EvaluatorNoteRow {
                inject: n.inject.as_deref().map(sanitize),
                at: format_utc(n.at),
                text: sanitize(&n.text),
            })
            .collect(),
    }
}

/// A follow-up's state in words.
fn follow_up_state_word(s: FollowUpState) -> &'static str {
    match s {
        FollowUpState::Open => "open",
        FollowUpState::Done => "done",
        FollowUpState::Cancelled => "cancelled",
    }
}

/// The latest amendment, re-timing or retraction of the record `id`, in words (the original
/// stays).
fn correction(s: &IncidentState, id: &str) -> Option<String> {
    s.correction_of(id).map(|c| {
        let (who, at, why) = (
            sanitize(&person_of(&c.by)),
            format_utc(c.when),
            sanitize(&c.value.reason),
        );
        if c.value.is_retraction() {
            return format!("retracted by {who} at {at}: {why}");
        }
        let mut what = Vec::new();
        if let Some(t) = &c.value.text {
            what.push(format!("text now: {}", sanitize_multiline(t)));
        }
        if let Some(t) = c.value.occurred {
            what.push(format!("happened at {}", format_utc(t)));
        }
        format!("amended by {who} at {at}: {} (why: {why})", what.join("; "))
    })
}
