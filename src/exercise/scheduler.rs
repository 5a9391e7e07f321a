//! The inject scheduler: a pure function of (scenario, events so far, skips, now). A facilitator
//! whose SSH session dropped resumes and nothing is released twice, because what was released is
//! read back from the shared directory, not remembered.

use std::collections::BTreeSet;

use super::scenario::{Inject, Scenario, When};
use crate::domain::event::ItemState;
use crate::domain::time::Millis;
use crate::domain::IncidentState;

pub use crate::domain::state::ExerciseClockState as Clock;

/// The exercise clock, from the `ExerciseClock` events (stopped at zero before the start).
pub fn clock(state: &IncidentState) -> Clock {
    state.derived.exercise_clock.unwrap_or(Clock {
        running: false,
        ended: false,
        speed: 1.0,
        at_change: 0,
        wall_of_change: 0,
    })
}

/// Inject ids already in the shared directory.
pub fn released(state: &IncidentState) -> BTreeSet<String> {
    state.derived.released_injects.clone()
}

fn condition_holds(when: &When, state: &IncidentState) -> bool {
    match when {
        When::At(_) => false,
        When::PhaseEntered(p) => state.derived.phase.as_ref().is_some_and(|r| r.value.phase >= *p),
        When::ItemDone(i) => state.item_state(i) == ItemState::Done,
        When::ActionApproved(a) => state.derived.actions.get(a).is_some_and(|r| r.value.approver.is_some()),
    }
}

/// Injects to release now, in scenario order. Nothing is released while the clock is paused.
pub fn due<'a>(sc: &'a Scenario, state: &IncidentState, skipped: &BTreeSet<String>, now: Millis) -> Vec<&'a Inject> {
    if !clock(state).running {
        return Vec::new();
    }
    overdue(sc, state, skipped, now)
}

/// Injects whose time has come (or whose condition holds) and that are not out yet, running
/// clock or not: on `--resume` these are shown and released one at a time by the facilitator.
pub fn overdue<'a>(
    sc: &'a Scenario,
    state: &IncidentState,
    skipped: &BTreeSet<String>,
    now: Millis,
) -> Vec<&'a Inject> {
    let c = clock(state);
    if c.ended {
        return Vec::new();
    }
    let t = c.scenario_ms(now);
    let done = released(state);
    sc.injects
        .iter()
        .filter(|i| !done.contains(&i.id) && !skipped.contains(&i.id))
        .filter(|i| match i.at_ms() {
            Some(at) => at <= t,
            None => condition_holds(&i.when, state),
        })
        .collect()
}

/// Injects not yet released or skipped, soonest first (conditions last).
pub fn upcoming<'a>(sc: &'a Scenario, state: &IncidentState, skipped: &BTreeSet<String>) -> Vec<&'a Inject> {
    let done = released(state);
    let mut v: Vec<&Inject> = sc
        .injects
        .iter()
        .filter(|i| !done.contains(&i.id) && !skipped.contains(&i.id))
        .collect();
    v.sort_by_key(|i| i.at_ms().unwrap_or(Millis::MAX));
    v
}

/// The scenario time at wall time `t`: the exercise clock replayed from its records written up to
/// `t` (in merge order). `None` before the exercise started.
pub fn scenario_at(state: &IncidentState, t: Millis) -> Option<Millis> {
    let mut c: Option<Clock> = None;
    for e in state.events() {
        if let crate::domain::event::Body::ExerciseClock(x) = &e.body {
            // A refused or disowned record never moved the clock.
            if e.wall <= t && state.flag(e).is_none() {
                c = Some(Clock::step(c, x, e.wall));
            }
        }
    }
    c.map(|c| c.scenario_ms(t))
}

/// The tag that ties a player's note to the inject it answers: `inject:<id>`.
pub fn response_tag(inject: &str) -> String {
    format!("inject:{inject}")
}

/// The inject a note answers, from its `inject:<id>` tag.
pub fn responds_to(tags: &[crate::domain::Name]) -> Option<&str> {
    tags.iter()
        .find_map(|t| t.strip_prefix("inject:"))
        .filter(|id| !id.is_empty())
}
