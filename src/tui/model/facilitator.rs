//! The facilitator's half of an exercise: releasing injects, the exercise clock, rating
//! objectives and evaluator notes (private, in the local state directory).

use super::*;
use crate::exercise::local::Rating;
use crate::exercise::scenario::Inject;

/// `+`/`-` pressed again within this long make one speed change: the record is written once the
/// presses settle (the screen shows the pending speed at once). Ticks come each second, so this
/// is "about a second after the last press".
pub const SPEED_SETTLE_MS: Millis = 1_500;

/// The speed `+` (faster) or `-` asks for, from the pending speed if a change is waiting, else the
/// clock's. Between x0.125 and x64.
pub fn next_speed(clock: f64, pending: Option<f64>, faster: bool) -> f64 {
    let base = pending.unwrap_or(clock);
    if faster { base * 2.0 } else { base / 2.0 }.clamp(0.125, 64.0)
}

/// Whether a pending speed change has settled at `now` and is to be recorded.
pub fn speed_settled(pending: Option<(f64, Millis)>, now: Millis) -> bool {
    pending.is_some_and(|(_, at)| now - at >= SPEED_SETTLE_MS)
}

/// The injects the facilitator pane lists as upcoming: those held on resume (overdue) first,
/// then the rest soonest first.
pub fn upcoming(m: &Model) -> Vec<&Inject> {
    let (Some(f), Some(inc)) = (&m.facilitator, &m.incident) else {
        return Vec::new();
    };
    let mut v = scheduler::upcoming(&f.scenario, inc.state(), &f.skipped);
    v.sort_by_key(|i| !m.held.contains(&i.id));
    v
}

/// Injects already released, in the order they went out (oldest first).
pub fn released(m: &Model) -> Vec<(String, String)> {
    let Some(inc) = &m.incident else {
        return Vec::new();
    };
    inc.state()
        .timeline()
        .filter_map(|e| match &e.body {
            Body::InjectReleased(i) => Some((i.inject.clone(), i.title.clone())),
            _ => None,
        })
        .collect()
}

/// How many rows the pane's current list has.
pub(super) fn list_len(m: &Model) -> usize {
    match m.fac_view {
        FacView::Upcoming => upcoming(m).len(),
        FacView::Released => released(m).len(),
        FacView::Objectives => m.facilitator.as_ref().map_or(0, |f| f.scenario.objectives.len()),
    }
}

/// The facilitator's console releases injects as the pure scheduler says, once each.
pub(super) fn release_due(m: &mut Model) -> Vec<Effect> {
    let (Some(f), Some(inc)) = (&m.facilitator, &m.incident) else {
        return Vec::new();
    };
    if inc.id != f.incident || inc.view.is_syncing() {
        return Vec::new();
    }
    let state = inc.state();
    let out = &state.derived.released_injects;
    let releasing: BTreeSet<String> = m.releasing.iter().filter(|id| !out.contains(*id)).cloned().collect();
    let held: BTreeSet<String> = m
        .held
        .iter()
        .filter(|id| !out.contains(*id) && !f.skipped.contains(*id))
        .cloned()
        .collect();
    if m.hold_overdue {
        // Back after a drop: what fell due meanwhile is shown, and released one at a time by the
        // facilitator's key, never in one burst.
        let overdue: BTreeSet<String> = scheduler::overdue(&f.scenario, state, &f.skipped, m.now)
            .into_iter()
            .map(|i| i.id.clone())
            .collect();
        m.hold_overdue = false;
        m.releasing = releasing;
        if !overdue.is_empty() {
            let n = overdue.len();
            m.held = overdue;
            m.fac_view = FacView::Upcoming;
            m.inject_sel = 0;
            m.flash(
                format!("{n} inject(s) fell due while you were away: they wait for you — Enter on the facilitator pane releases the selected one"),
                false,
            );
        }
        return Vec::new();
    }
    let t = scheduler::clock(state).scenario_ms(m.now);
    let due: Vec<Body> = scheduler::due(&f.scenario, state, &f.skipped, m.now)
        .into_iter()
        .filter(|i| !releasing.contains(&i.id) && !held.contains(&i.id))
        .map(|i| {
            InjectReleased {
                inject: i.id.clone(),
                title: i.title.clone(),
                text: i.text.clone(),
                scenario_ms: t,
            }
            .into()
        })
        .collect();
    m.releasing = releasing;
    m.held = held;
    if due.is_empty() {
        return Vec::new();
    }
    for b in &due {
        if let Body::InjectReleased(i) = b {
            m.releasing.insert(i.inject.clone());
        }
    }
    write(m, format!("{} inject(s) released", due.len()), due)
}

/// Record the speed change the facilitator asked for, if one is waiting.
pub(super) fn flush_speed(m: &mut Model) -> Vec<Effect> {
    flush_speed_then(m).0
}

/// Record a waiting speed change; also say which speed it recorded (a clock record written
/// right after it must carry that speed, not the one the fold still shows).
fn flush_speed_then(m: &mut Model) -> (Vec<Effect>, Option<f64>) {
    let Some((speed, _)) = m.pending_speed.take() else {
        return (Vec::new(), None);
    };
    let Some(inc) = &m.incident else {
        return (Vec::new(), None);
    };
    let c = scheduler::clock(inc.state());
    if c.ended || (speed - c.speed).abs() < 1e-9 {
        return (Vec::new(), None);
    }
    let body = ExerciseClock {
        change: if c.running { "Speed" } else { "Pause" }.into(),
        speed,
        scenario_ms: c.scenario_ms(m.now),
    }
    .into();
    let fx = write(m, format!("exercise speed x{speed}"), vec![body]);
    let sent = (!fx.is_empty()).then_some(speed);
    (fx, sent)
}

pub(super) fn facilitate(m: &mut Model, a: Action) -> Vec<Effect> {
    if m.facilitator.is_none() || m.incident.is_none() {
        return Vec::new();
    }
    if matches!(a, Action::Faster | Action::Slower) {
        let Some(inc) = &m.incident else {
            return Vec::new();
        };
        let c = scheduler::clock(inc.state());
        if c.ended {
            m.flash("the exercise has ended", false);
            return Vec::new();
        }
        let speed = next_speed(c.speed, m.pending_speed.map(|p| p.0), a == Action::Faster);
        m.pending_speed = Some((speed, m.now));
        m.flash(
            format!("exercise speed x{speed} (recorded once you stop pressing)"),
            false,
        );
        return Vec::new();
    }
    // Anything else first records a speed change still waiting, so the record keeps its order.
    let (mut fx, speed) = flush_speed_then(m);
    fx.extend(facilitate_now(m, a, speed));
    fx
}

fn facilitate_now(m: &mut Model, a: Action, speed: Option<f64>) -> Vec<Effect> {
    let (Some(f), Some(inc)) = (&m.facilitator, &m.incident) else {
        return Vec::new();
    };
    let state = inc.state();
    let mut c = scheduler::clock(state);
    // After the end, the clock and the injects are done with: say so rather than nothing.
    let rates = m.fac_view == FacView::Objectives && a == Action::ReleaseNow;
    if c.ended && a.exercise_clock() && !rates {
        m.flash("the exercise has ended", false);
        return Vec::new();
    }
    if let Some(s) = speed {
        c.speed = s;
    }
    let t = c.scenario_ms(m.now);
    let sel = m.inject_sel.min(list_len(m).saturating_sub(1));
    let selected: Option<Inject> = match m.fac_view {
        FacView::Upcoming => upcoming(m).get(sel).map(|i| (*i).clone()),
        _ => None,
    };
    let selected_released: Option<String> = match m.fac_view {
        FacView::Released => released(m).get(sel).map(|(id, _)| id.clone()),
        _ => None,
    };
    let objective: Option<String> = match m.fac_view {
        FacView::Objectives => f.scenario.objectives.get(sel).cloned(),
        _ => None,
    };
    match a {
        Action::PauseResume => {
            let body = ExerciseClock {
                change: if c.running { "Pause" } else { "Resume" }.into(),
                speed: c.speed,
                scenario_ms: t,
            }
            .into();
            write(
                m,
                if c.running {
                    "exercise paused"
                } else {
                    "exercise resumed"
                },
                vec![body],
            )
        }
        Action::FacView => {
            m.fac_view = match m.fac_view {
                FacView::Upcoming => FacView::Released,
                FacView::Released => FacView::Objectives,
                FacView::Objectives => FacView::Upcoming,
            };
            m.inject_sel = 0;
            Vec::new()
        }
        Action::ReleaseNow if m.fac_view == FacView::Objectives => rate(m, objective),
        Action::RateObjective if m.fac_view == FacView::Objectives => rate(m, objective),
        Action::RateObjective => {
            m.fac_view = FacView::Objectives;
            m.inject_sel = 0;
            m.flash("objectives: ↑↓ choose, Enter or o rates (met, partly, not met)", false);
            Vec::new()
        }
        Action::ReleaseNow if m.fac_view == FacView::Released => {
            m.flash("already released; e adds an evaluator note on it", false);
            Vec::new()
        }
        Action::ReleaseNow => match selected {
            Some(i) if !m.releasing.contains(&i.id) => {
                m.releasing.insert(i.id.clone());
                m.held.remove(&i.id);
                let body = InjectReleased {
                    inject: i.id,
                    title: i.title,
                    text: i.text,
                    scenario_ms: t,
                }
                .into();
                write(m, "inject released by hand", vec![body])
            }
            _ => Vec::new(),
        },
        Action::SkipInject => match (selected, &mut m.facilitator) {
            (Some(i), Some(f)) => {
                f.skipped.insert(i.id.clone());
                m.held.remove(&i.id);
                let fx = vec![Effect::SaveFacilitator(Box::new(f.clone()))];
                m.flash(format!("skipped {} (private to you)", i.id), false);
                fx
            }
            _ => Vec::new(),
        },
        Action::EndExercise => {
            m.overlay = Some(Overlay::Confirm(Confirm::EndExercise));
            Vec::new()
        }
        Action::EvaluatorNote => {
            // On the inject selected, upcoming or already released (or on none: the objectives).
            let mut ed = Editor::new(EditorPurpose::Evaluator, "");
            ed.item = selected.map(|i| i.id).or(selected_released);
            m.overlay = Some(Overlay::Editor(ed));
            Vec::new()
        }
        _ => Vec::new(),
    }
}

/// Rate an objective: pick met / partly / not met, then a note.
fn rate(m: &mut Model, objective: Option<String>) -> Vec<Effect> {
    let Some(obj) = objective else {
        return Vec::new();
    };
    let current = m
        .facilitator
        .as_ref()
        .and_then(|f| f.rating(&obj))
        .and_then(|r| Rating::ALL.iter().position(|x| *x == r.rating))
        .unwrap_or(0);
    m.overlay = Some(Overlay::Picker(Picker {
        title: format!("Rate: {}", crate::domain::sanitize(&obj)),
        options: Rating::ALL.iter().map(|r| r.label().to_string()).collect(),
        sel: current,
        purpose: PickPurpose::Rating(obj),
    }));
    Vec::new()
}

/// The rating picked: ask for its note (the earlier note of this objective offered to edit).
pub(super) fn rating_picked(m: &mut Model, objective: String, sel: usize) -> Vec<Effect> {
    let rating = Rating::ALL.get(sel).copied().unwrap_or(Rating::Met);
    let note = m
        .facilitator
        .as_ref()
        .and_then(|f| f.rating(&objective))
        .map(|r| r.note.clone())
        .unwrap_or_default();
    let mut ed = Editor::new(EditorPurpose::Rating(rating), &note);
    ed.item = Some(objective);
    m.overlay = Some(Overlay::Editor(ed));
    Vec::new()
}

/// The rating and its note (may be empty) are kept privately, for the report.
pub(super) fn rating_noted(m: &mut Model, objective: String, rating: Rating, note: &str) -> Vec<Effect> {
    let now = m.now;
    let Some(f) = &mut m.facilitator else {
        return Vec::new();
    };
    f.rate(&objective, rating, note, now);
    let fx = vec![Effect::SaveFacilitator(Box::new(f.clone()))];
    m.flash(
        format!("objective rated {} (private; in the report)", rating.label()),
        false,
    );
    fx
}

/// The exercise's end, recorded for every player (the clock stops; the report can be written).
pub(super) fn end_exercise(m: &mut Model) -> Vec<Effect> {
    let (mut fx, speed) = flush_speed_then(m);
    let Some(inc) = &m.incident else {
        return fx;
    };
    let mut c = scheduler::clock(inc.state());
    if let Some(s) = speed {
        c.speed = s;
    }
    if c.ended {
        return fx;
    }
    let body = ExerciseClock {
        change: "End".into(),
        speed: c.speed,
        scenario_ms: c.scenario_ms(m.now),
    }
    .into();
    fx.extend(write(m, "exercise ended", vec![body]));
    fx
}

/// A player answers the inject under the timeline's cursor: a note tied to it (`inject:<id>`).
pub(super) fn respond(m: &mut Model) -> Vec<Effect> {
    let Some(inc) = &m.incident else {
        return Vec::new();
    };
    let target = super::timeline::cursor(inc).and_then(|e| match &e.body {
        Body::InjectReleased(i) => Some(i.inject.clone()),
        _ => None,
    });
    match target {
        Some(id) => {
            let mut ed = Editor::new(EditorPurpose::Response, "");
            ed.item = Some(id);
            m.overlay = Some(Overlay::Editor(ed));
        }
        None => m.flash(
            "a answers the inject under the cursor (▸): move to one with ↑/↓ in the timeline",
            false,
        ),
    }
    Vec::new()
}
