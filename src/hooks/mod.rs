//! Hooks out: commands from the responder's own config run when this install records an event
//! of a chosen kind (an incident declared, its severity changed, an approval requested, a status
//! update recorded), with the event as JSON on stdin and a timeout. Only events this install
//! wrote fire them, so a team of ten does not post every update ten times. A deadline crossing
//! amber or overdue has no record: the long-running processes of an install fire it once
//! ([`deadline`]).
//!
//! This module is pure (which event fires which hook, the JSON handed over); [`run`] does IO.

pub mod deadline;
pub mod run;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::domain::event::{to_json, ActionState, Body, Event, Mode};
use crate::domain::playbook::{Approval, Playbook};

/// A hook's default timeout.
pub const DEFAULT_TIMEOUT_SECS: f64 = 10.0;

/// One hook in `config.ron`: `(name: "chat", on: [StatusUpdate], command: ["/path/hook.sh"])`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Hook {
    pub name: String,
    pub on: Vec<Trigger>,
    /// The program and its arguments (no shell, unless you name one).
    pub command: Vec<String>,
    /// Seconds before the hook is killed (default 10).
    #[serde(default)]
    pub timeout_secs: Option<f64>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
pub enum Trigger {
    Declared,
    SeverityChanged,
    /// An action that needs approval was proposed.
    ApprovalRequested,
    StatusUpdate,
    /// A deadline stage has a quarter of its window (or less) left.
    DeadlineAmber,
    /// A deadline stage is past due, neither met nor waived.
    DeadlineOverdue,
}

impl Trigger {
    pub fn name(self) -> &'static str {
        match self {
            Trigger::Declared => "Declared",
            Trigger::SeverityChanged => "SeverityChanged",
            Trigger::ApprovalRequested => "ApprovalRequested",
            Trigger::StatusUpdate => "StatusUpdate",
            Trigger::DeadlineAmber => "DeadlineAmber",
            Trigger::DeadlineOverdue => "DeadlineOverdue",
        }
    }
}

impl Hook {
    pub fn timeout(&self) -> std::time::Duration {
        let s = self
            .timeout_secs
            .filter(|s| s.is_finite() && *s > 0.0)
            .unwrap_or(DEFAULT_TIMEOUT_SECS)
            .min(600.0);
        std::time::Duration::from_secs_f64(s)
    }
}

/// Hooks as read from the config: a hook without a command or a trigger is a mistake.
pub fn check(hooks: &[Hook]) -> Result<(), String> {
    for h in hooks {
        if h.command.first().is_none_or(|c| c.trim().is_empty()) {
            return Err(format!("hook `{}` has no command", h.name));
        }
        if h.on.is_empty() {
            return Err(format!("hook `{}` runs on nothing (`on: []`)", h.name));
        }
    }
    Ok(())
}

/// What an event is, for hooks (None: no hook runs on it). The playbook says whether a proposed
/// action needs approval.
pub fn trigger_of(e: &Event, playbook: Option<&Playbook>) -> Option<Trigger> {
    match &e.body {
        Body::Declared(_) => Some(Trigger::Declared),
        Body::SeverityChanged(_) => Some(Trigger::SeverityChanged),
        Body::StatusUpdate(_) => Some(Trigger::StatusUpdate),
        Body::ActionSet(a) if a.state == ActionState::Proposed => {
            let needs = playbook
                .and_then(|p| p.action(&a.action))
                .is_some_and(|x| x.approval != Approval::None);
            needs.then_some(Trigger::ApprovalRequested)
        }
        _ => None,
    }
}

/// The JSON a hook reads on stdin: the trigger, the incident, and the event as `tail --json`
/// prints it (sanitised).
pub fn payload(trigger: Trigger, incident: &str, title: &str, mode: Option<Mode>, e: &Event) -> Value {
    let mut v = json!({
        "v": 1,
        "hook": trigger.name(),
        "incident": incident,
        "title": crate::domain::sanitize(title),
        "mode": mode.map(|m| m.label()),
        "event": to_json(e),
    });
    if let Body::StatusUpdate(s) = &e.body {
        v["text"] = Value::String(crate::domain::sanitize::sanitize_multiline(&s.text));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::event::{ActionSet, Name, Note, Occurred, SeverityChanged, StatusUpdate};
    use crate::domain::playbook::Audience;

    fn event(body: Body) -> Event {
        Event {
            id: "01J".into(),
            at: 1,
            wall: 1,
            occurred: Occurred::NONE,
            seq: 2,
            body,
            log: Name::with_writer("maya@h.abc", "maya@h".into()),
        }
    }

    #[test]
    fn which_events_fire() {
        let pb = crate::store::playbooks::Library::load(None)
            .resolve("ransomware")
            .expect("built-in");
        let two_person = pb
            .actions
            .iter()
            .find(|a| a.approval != Approval::None)
            .expect("an approved action");
        let cases = [
            (
                Body::from(SeverityChanged {
                    severity: 1,
                    reason: None,
                }),
                Some(Trigger::SeverityChanged),
            ),
            (
                StatusUpdate {
                    audience: Audience::Internal,
                    text: "x".into(),
                }
                .into(),
                Some(Trigger::StatusUpdate),
            ),
            (
                ActionSet {
                    action: two_person.id.clone(),
                    state: ActionState::Proposed,
                    note: None,
                }
                .into(),
                Some(Trigger::ApprovalRequested),
            ),
            (
                ActionSet {
                    action: two_person.id.clone(),
                    state: ActionState::Approved,
                    note: None,
                }
                .into(),
                None,
            ),
            (
                Note {
                    text: "x".into(),
                    tags: Default::default(),
                }
                .into(),
                None,
            ),
        ];
        for (body, want) in cases {
            assert_eq!(trigger_of(&event(body.clone()), Some(&pb)), want, "{body:?}");
        }
    }

    #[test]
    fn payload_is_sanitised() {
        let e = event(
            StatusUpdate {
                audience: Audience::External,
                text: "isolated\u{1b}]0;pwned\u{7}".into(),
            }
            .into(),
        );
        let v = payload(Trigger::StatusUpdate, "inc", "T\u{202e}", Some(Mode::Real), &e);
        assert_eq!(v["hook"], "StatusUpdate");
        assert_eq!(v["mode"], "real");
        assert!(!v.to_string().contains('\u{1b}') && !v["title"].as_str().unwrap_or("").contains('\u{202e}'));
        assert_eq!(v["event"]["kind"], "StatusUpdate");
    }

    #[test]
    fn bad_hooks_are_named() {
        let h = |command: Vec<&str>, on: Vec<Trigger>| Hook {
            name: "h".into(),
            on,
            command: command.into_iter().map(String::from).collect(),
            timeout_secs: None,
        };
        assert!(check(&[h(vec!["/bin/true"], vec![Trigger::Declared])]).is_ok());
        assert!(check(&[h(vec![], vec![Trigger::Declared])]).is_err_and(|e| e.contains("no command")));
        assert!(check(&[h(vec!["x"], vec![])]).is_err_and(|e| e.contains("runs on nothing")));
        assert_eq!(h(vec!["x"], vec![]).timeout(), std::time::Duration::from_secs(10));
    }
}
