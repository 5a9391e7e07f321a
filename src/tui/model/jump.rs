//! Jump keys: to the next action waiting for my approval, to the next thing assigned to me, to
//! the next open required item. Each press goes to the next one after the cursor, wrapping.

use super::*;
use crate::domain::playbook::Approval;

/// A place the cursor can go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spot {
    Item(Phase, usize),
    Action(usize),
}

fn here(inc: &IncidentModel) -> Spot {
    match inc.focus {
        Pane::Actions => Spot::Action(inc.action_sel),
        _ => Spot::Item(inc.phase_tab, inc.item_sel),
    }
}

/// Every spot in reading order: the checklists phase by phase, then the actions.
fn order(s: Spot) -> (usize, usize) {
    match s {
        Spot::Item(p, i) => (p.index(), i),
        Spot::Action(i) => (6, i),
    }
}

pub(super) fn jump(m: &mut Model, a: Action) {
    let Some(inc) = m.incident.as_ref() else { return };
    let from = order(here(inc));
    let Some((spots, what)) = spots(m, inc, a) else {
        m.flash("the playbook copy has not synced yet", true);
        return;
    };
    let Some(to) = spots
        .iter()
        .find(|s| order(**s) > from)
        .or_else(|| spots.first())
        .copied()
    else {
        m.flash(what, false);
        return;
    };
    let Some(inc) = m.incident.as_mut() else { return };
    match to {
        Spot::Item(p, i) => {
            inc.focus = Pane::Checklist;
            inc.phase_tab = p;
            inc.tab_follows_phase = false;
            inc.item_sel = i;
        }
        Spot::Action(i) => {
            inc.focus = Pane::Actions;
            inc.action_sel = i;
        }
    }
    let n = spots.len();
    let k = spots.iter().position(|s| *s == to).map_or(1, |k| k + 1);
    m.flash(format!("{k} of {n}: {}", what_is(m, to)), false);
    m.jumped = Some((a, spot_key(m, to)));
}

/// A spot by what is there (`item:ID`, `action:ID`), which outlives cursor positions.
fn spot_key(m: &Model, s: Spot) -> String {
    let Some(pb) = m.incident.as_ref().and_then(|i| i.playbook()) else {
        return String::new();
    };
    match s {
        Spot::Item(p, i) => pb
            .phases
            .get(p)
            .get(i)
            .map_or(String::new(), |it| format!("item:{}", it.id)),
        Spot::Action(i) => pb.actions.get(i).map_or(String::new(), |a| format!("action:{}", a.id)),
    }
}

/// Whether the last jump's target still is one (else its footer message is stale). True when
/// there was no jump.
pub(super) fn still_points(m: &Model) -> bool {
    let (Some((a, key)), Some(inc)) = (&m.jumped, &m.incident) else {
        return true;
    };
    spots(m, inc, *a).is_some_and(|(spots, _)| spots.iter().any(|s| spot_key(m, *s) == *key))
}

/// The spots a jump key goes to, in order, and what to say when there are none.
fn spots(m: &Model, inc: &IncidentModel, a: Action) -> Option<(Vec<Spot>, &'static str)> {
    let (me, person, now) = (&m.me, &m.person, m.now);
    let pb = inc.playbook()?;
    let s = inc.state();
    let d = &s.derived;
    let mut spots: Vec<Spot> = Vec::new();
    let what = match a {
        Action::JumpApproval => {
            for (i, act) in pb.actions.iter().enumerate() {
                let proposed = d
                    .actions
                    .get(&act.id)
                    .is_some_and(|r| r.value.state == ActionState::Proposed);
                let approve: Body = ActionSet {
                    action: act.id.clone(),
                    state: ActionState::Approved,
                    note: None,
                }
                .into();
                if proposed && act.approval != Approval::None && s.check(&approve, me, now).is_ok() {
                    spots.push(Spot::Action(i));
                }
            }
            "no action is waiting for your approval"
        }
        Action::JumpMine => {
            let mine = |t: Target| d.assignments.get(&t).is_some_and(|r| r.value == *person);
            for (p, items) in Phase::ALL.iter().map(|p| (*p, pb.phases.get(*p))) {
                for (i, it) in items.iter().enumerate() {
                    let open = matches!(s.item_state(&it.id), ItemState::Open | ItemState::Blocked);
                    if open && mine(Target::Item(it.id.clone())) {
                        spots.push(Spot::Item(p, i));
                    }
                }
            }
            for (i, act) in pb.actions.iter().enumerate() {
                let finished = d
                    .actions
                    .get(&act.id)
                    .is_some_and(|r| matches!(r.value.state, ActionState::Done | ActionState::RolledBack));
                if !finished && mine(Target::Action(act.id.clone())) {
                    spots.push(Spot::Action(i));
                }
            }
            "nothing open is assigned to you"
        }
        _ => {
            for (p, items) in Phase::ALL.iter().map(|p| (*p, pb.phases.get(*p))) {
                for (i, it) in items.iter().enumerate() {
                    if it.required && matches!(s.item_state(&it.id), ItemState::Open | ItemState::Blocked) {
                        spots.push(Spot::Item(p, i));
                    }
                }
            }
            "no required item is open"
        }
    };
    Some((spots, what))
}

fn what_is(m: &Model, s: Spot) -> String {
    let Some(pb) = m.incident.as_ref().and_then(|i| i.playbook()) else {
        return String::new();
    };
    match s {
        Spot::Item(p, i) => pb.phases.get(p).get(i).map_or(String::new(), |it| {
            format!("{} ({})", crate::domain::sanitize(&it.id), p.label())
        }),
        Spot::Action(i) => pb
            .actions
            .get(i)
            .map_or(String::new(), |a| crate::domain::sanitize(&a.id)),
    }
}
