//! The facilitator's half of an exercise: releasing injects, the exercise clock.

use super::*;

/// The facilitator's console releases injects as the pure scheduler says, once each.
pub(super) fn release_due(m: &mut Model) -> Vec<Effect> {
    let (Some(f), Some(inc)) = (&m.facilitator, &m.incident) else {
        return Vec::new();
    };
    if inc.id != f.incident || inc.view.is_syncing() {
        return Vec::new();
    }
    let state = inc.state();
    m.releasing.retain(|id| !state.derived.released_injects.contains(id));
    let t = scheduler::clock(state).scenario_ms(m.now);
    let due: Vec<Body> = scheduler::due(&f.scenario, state, &f.skipped, m.now)
        .into_iter()
        .filter(|i| !m.releasing.contains(&i.id))
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

pub(super) fn facilitate(m: &mut Model, a: Action) -> Vec<Effect> {
    let (Some(f), Some(inc)) = (&m.facilitator, &m.incident) else {
        return Vec::new();
    };
    let state = inc.state();
    let c = scheduler::clock(state);
    let t = c.scenario_ms(m.now);
    let upcoming: Vec<crate::exercise::scenario::Inject> = scheduler::upcoming(&f.scenario, state, &f.skipped)
        .into_iter()
        .cloned()
        .collect();
    let selected = upcoming
        .get(m.inject_sel.min(upcoming.len().saturating_sub(1)))
        .cloned();
    let clock = |change: &str, speed: f64| -> Body {
        ExerciseClock {
            change: change.into(),
            speed,
            scenario_ms: t,
        }
        .into()
    };
    match a {
        Action::PauseResume if c.ended => Vec::new(),
        Action::PauseResume => {
            let body = clock(if c.running { "Pause" } else { "Resume" }, c.speed);
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
        Action::Faster | Action::Slower => {
            let speed = if a == Action::Faster {
                c.speed * 2.0
            } else {
                c.speed / 2.0
            }
            .clamp(0.125, 64.0);
            let body = clock(if c.running { "Speed" } else { "Pause" }, speed);
            write(m, format!("exercise speed x{speed}"), vec![body])
        }
        Action::ReleaseNow => match selected {
            Some(i) if !m.releasing.contains(&i.id) => {
                m.releasing.insert(i.id.clone());
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
                let fx = vec![Effect::SaveFacilitator(Box::new(f.clone()))];
                m.flash(format!("skipped {} (private to you)", i.id), false);
                fx
            }
            _ => Vec::new(),
        },
        Action::EndExercise if c.ended => {
            m.flash("the exercise has already ended", false);
            Vec::new()
        }
        Action::EndExercise => {
            m.overlay = Some(Overlay::Confirm(Confirm::EndExercise));
            Vec::new()
        }
        Action::EvaluatorNote => {
            let mut ed = Editor::new(EditorPurpose::Evaluator, "");
            ed.item = selected.map(|i| i.id);
            m.overlay = Some(Overlay::Editor(ed));
            Vec::new()
        }
        _ => Vec::new(),
    }
}

/// The exercise's end, recorded for every player (the clock stops; the report can be written).
pub(super) fn end_exercise(m: &mut Model) -> Vec<Effect> {
    let Some(inc) = &m.incident else {
        return Vec::new();
    };
    let c = scheduler::clock(inc.state());
    if c.ended {
        return Vec::new();
    }
    let body = ExerciseClock {
        change: "End".into(),
        speed: c.speed,
        scenario_ms: c.scenario_ms(m.now),
    }
    .into();
    write(m, "exercise ended", vec![body])
}
