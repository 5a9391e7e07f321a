//! The inject scheduler: a pure function of (scenario, events so far, skips, now). A facilitator
//! whose SSH session dropped resumes and nothing is released twice, because what was released is
//! read back from the shared directory, not remembered.

use std::collections::BTreeSet;

use super::scenario::{Inject, Scenario, When};
use crate::domain::event::{Body, ItemState};
use crate::domain::time::Millis;
use crate::domain::IncidentState;

/// The exercise clock, from the `ExerciseClock` events.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Clock {
    pub started: bool,
    pub running: bool,
    pub ended: bool,
    pub speed: f64,
    /// Scenario time at the last change, and the wall time of that change.
    pub at_change: Millis,
    pub wall_of_change: Millis,
}

impl Clock {
    /// Scenario time now.
    pub fn scenario_ms(&self, now: Millis) -> Millis {
        if self.running {
            self.at_change + ((now - self.wall_of_change).max(0) as f64 * self.speed) as Millis
        } else {
            self.at_change
        }
    }
}

pub fn clock(state: &IncidentState) -> Clock {
    let mut c = Clock {
        started: false,
        running: false,
        ended: false,
        speed: 1.0,
        at_change: 0,
        wall_of_change: 0,
    };
    for e in state.events() {
        if let Body::ExerciseClock(x) = &e.body {
            c.at_change = x.scenario_ms;
            c.wall_of_change = e.wall;
            c.speed = if x.speed > 0.0 { x.speed } else { c.speed };
            match x.change.as_str() {
                "Start" | "Resume" => {
                    c.started = true;
                    c.running = true;
                }
                "Pause" => c.running = false,
                "End" => {
                    c.running = false;
                    c.ended = true;
                }
                _ => {} // "Speed" keeps running state
            }
        }
    }
    c
}

/// Inject ids already in the shared directory.
pub fn released(state: &IncidentState) -> BTreeSet<String> {
    state
        .events()
        .filter_map(|e| match &e.body {
            Body::InjectReleased(i) => Some(i.inject.clone()),
            _ => None,
        })
        .collect()
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
    let c = clock(state);
    if !c.running {
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
