//! Deadline hooks: a deadline crossing amber or overdue comes from the clock, not from a record,
//! so no write fires it. A long-running process of this install (the console, `ingest --listen`)
//! looks every [`TICK`] and fires each crossing once per (incident, deadline, stage, level),
//! remembered in the state directory (see [`super::run::Runner::fire_deadlines`]).
//!
//! Pure: which crossings an incident has at `now`, and the JSON a hook reads.

use serde_json::{json, Value};

use crate::domain::deadline::{clocks, Clock, ClockState, AMBER_DIVISOR};
use crate::domain::event::Mode;
use crate::domain::playbook::Playbook;
use crate::domain::state::IncidentState;
use crate::domain::time::{format_utc, Millis};

/// How often a long-running process looks for crossings.
pub const TICK: std::time::Duration = std::time::Duration::from_secs(30);
/// A crossing fired more than this after it happened is marked `"late": true` (the process was
/// not running then: a console started later, a restart).
pub const LATE_AFTER_MS: Millis = 2 * 30_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// A quarter of the window or less left (red, under an hour, is past amber and counts).
    Amber,
    Overdue,
}

impl Level {
    pub fn word(self) -> &'static str {
        match self {
            Level::Amber => "amber",
            Level::Overdue => "overdue",
        }
    }
}

/// One deadline stage past a level at `now`.
#[derive(Debug, Clone, PartialEq)]
pub struct Crossing {
    pub deadline: String,
    pub stage: String,
    pub name: String,
    /// The rule it comes from, as the playbook says (e.g. "GDPR Art. 33(1)").
    pub source: String,
    pub level: Level,
    /// When the stage is due (ms, UTC).
    pub due: Millis,
    /// When it crossed the level (ms, UTC): the due time for overdue, the start of the last
    /// quarter of the window for amber.
    pub crossed: Millis,
}

impl Crossing {
    /// What is remembered so it fires once: `incident/deadline/stage/level`.
    pub fn key(&self, incident: &str) -> String {
        format!("{incident}/{}/{}/{}", self.deadline, self.stage, self.level.word())
    }
}

/// The crossings of an open incident at `now`: for each running stage that is amber or red, an
/// [`Level::Amber`]; for each overdue one, an [`Level::Amber`] and an [`Level::Overdue`] (the
/// caller fires only the highest new one of a stage). Met, waived and not-started stages, and
/// resolved incidents, have none.
pub fn crossings(state: &IncidentState, playbook: &Playbook, now: Millis) -> Vec<Crossing> {
    if state.is_resolved() || state.derived.declared.is_none() {
        return Vec::new();
    }
    clocks(state, playbook, now)
        .into_iter()
        .flat_map(|c| {
            let levels: &[Level] = match c.state {
                ClockState::Amber { .. } | ClockState::Red { .. } => &[Level::Amber],
                ClockState::Overdue { .. } => &[Level::Amber, Level::Overdue],
                _ => &[],
            };
            levels.iter().filter_map(move |l| crossing(&c, *l)).collect::<Vec<_>>()
        })
        .collect()
}

fn crossing(c: &Clock, level: Level) -> Option<Crossing> {
    let (start, due) = (c.start?, c.due?);
    let crossed = match level {
        Level::Overdue => due,
        Level::Amber => due - due.saturating_sub(start).max(0) / AMBER_DIVISOR,
    };
    Some(Crossing {
        deadline: c.deadline.clone(),
        stage: c.stage.clone(),
        name: c.name.clone(),
        source: c.source.clone(),
        level,
        due,
        crossed,
    })
}

/// Which hook a level fires.
pub fn trigger_of(level: Level) -> super::Trigger {
    match level {
        Level::Amber => super::Trigger::DeadlineAmber,
        Level::Overdue => super::Trigger::DeadlineOverdue,
    }
}

/// The JSON a deadline hook reads on stdin, shaped like the other hooks' (`v`, `hook`,
/// `incident`, `title`, `mode`) with the deadline: `deadline` (id), `stage`, `name`, `source`
/// (the rule), `level` (`amber`|`overdue`), `due` and `crossed_at` (UTC), and `late` (fired
/// more than [`LATE_AFTER_MS`] after it crossed). Every string sanitised.
pub fn payload(c: &Crossing, incident: &str, title: &str, mode: Option<Mode>, now: Millis) -> Value {
    let s = crate::domain::sanitize;
    json!({
        "v": 1,
        "hook": trigger_of(c.level).name(),
        "incident": s(incident),
        "title": s(title),
        "mode": mode.map(|m| m.label()),
        "deadline": s(&c.deadline),
        "stage": s(&c.stage),
        "name": s(&c.name),
        "source": s(&c.source),
        "level": c.level.word(),
        "due": format_utc(c.due),
        "crossed_at": format_utc(c.crossed),
        "late": now - c.crossed > LATE_AFTER_MS,
    })
}
