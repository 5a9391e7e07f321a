//! Confirmations of decisions that are recorded (phase override, approval, hand-off, quit).
//! `y` and `Enter` say yes, `n` and `Esc` say no, in every one; the scroll keys move a long one.

use super::*;

#[derive(Debug, Clone, PartialEq)]
pub enum Confirm {
    /// Enter `phase` although these required items are open.
    Phase { phase: Phase, open: Vec<String> },
    /// Approve this containment action (its title, why and command are shown first).
    Approve { action: crate::domain::playbook::Action },
    /// Quit although these changes are not on disk yet (notes among them go into the draft).
    Quit {
        unsaved: Vec<String>,
        /// The action whose command is running (quitting stops it).
        running: Option<String>,
    },
    /// Hand command of the incident to this person.
    Handoff { to: String },
    /// End the exercise (the facilitator's console).
    EndExercise,
    /// Resolve the incident although these required items are open; `reason` is why someone
    /// other than the commander resolves it.
    Resolve { open: Vec<String>, reason: Option<String> },
    /// Reopen the resolved incident, for this reason.
    Reopen { reason: String },
    /// Archive the resolved incident (hidden from the default board; nothing is deleted).
    Archive,
    /// Record that the incident was classified as reportable (starts its clocks).
    Classify,
    /// Record that materiality was determined (starts e.g. the SEC 8-K clock).
    Materiality,
    /// Set the discovery time (the commander), with this reason.
    Discovery { at: Millis, reason: String },
    /// Run exactly this command (shown in full, parameters filled in).
    Exec {
        plan: Box<crate::domain::exec_policy::Plan>,
    },
}

pub(super) fn confirm_key(m: &mut Model, c: Confirm, k: KeyEvent) -> Vec<Effect> {
    let yes = match k.code {
        KeyCode::Char('y' | 'Y') | KeyCode::Enter => true,
        KeyCode::Char('n' | 'N') | KeyCode::Esc => return Vec::new(),
        _ => false,
    };
    if !yes {
        m.overlay = Some(Overlay::Confirm(c));
        scroll_dialog(m, &k);
        return Vec::new();
    }
    let name = match k.code {
        KeyCode::Char(y) => y.to_string(),
        _ => "Enter".to_string(),
    };
    if confirm_too_soon(m, &name) {
        m.overlay = Some(Overlay::Confirm(c));
        return Vec::new();
    }
    match c {
        Confirm::Quit { .. } => quit(m),
        Confirm::Phase { phase, open } => write(
            m,
            format!("phase → {phase} (override)"),
            vec![PhaseEntered {
                phase,
                override_open: open,
            }
            .into()],
        ),
        Confirm::Approve { action } => {
            let body = ActionSet {
                action: action.id.clone(),
                state: ActionState::Approved,
                note: None,
            }
            .into();
            write(m, format!("{} approved", action.id), vec![body])
        }
        Confirm::EndExercise => end_exercise(m),
        Confirm::Exec { plan } => confirmed_exec(m, plan),
        Confirm::Resolve { open, reason } => write(
            m,
            "resolved",
            vec![Resolved {
                summary: None,
                override_open: open,
                reason,
            }
            .into()],
        ),
        Confirm::Reopen { reason } => write(m, "reopened", vec![Reopened { reason: Some(reason) }.into()]),
        Confirm::Archive => write(m, "archived", vec![Archived {}.into()]),
        Confirm::Classify => write(m, "classified", vec![Classified { note: None }.into()]),
        Confirm::Materiality => write(
            m,
            "materiality determined",
            vec![MaterialityDetermined { note: None }.into()],
        ),
        Confirm::Discovery { at, reason } => {
            write(m, "discovery set", vec![DiscoverySet { discovered: at, reason }.into()])
        }
        Confirm::Handoff { to } => write(
            m,
            format!("{COMMANDER} → {to}"),
            vec![RoleAssigned {
                role: COMMANDER.into(),
                who: to,
            }
            .into()],
        ),
    }
}
