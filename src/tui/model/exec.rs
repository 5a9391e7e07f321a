//! Running an action's command from the console (`x`; `z` its rollback): the policy decides ([`may_run`]), a confirmation
//! shows the exact command, and the shell runs it on a thread of its own ([`Effect::Exec`]) in a
//! pseudo-terminal of its own — never this console's terminal. Its records come back through the
//! timeline like any other.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::domain::exec_policy::{self, may_run, Ask, Plan};

/// What the console needs to decide: set once at start from the responder's own config.
#[derive(Debug, Clone, Default)]
pub struct ExecSetup {
    /// `exec: true` in the config, or `--allow-exec`.
    pub enabled: bool,
    /// The responder's trusted playbooks by content hash.
    pub trusted: Arc<BTreeMap<String, Playbook>>,
    /// How long a command may run.
    pub timeout: Option<Duration>,
    /// How long a claim waits for other hosts' claims (`exec_settle`; `None`: by file system).
    pub settle: Option<Duration>,
}

/// `x` (or `z`: the rollback) on an action: refused with the policy's words, or a confirmation
/// that shows the exact command.
pub(super) fn ask_exec(m: &mut Model, rollback: bool) -> Vec<Effect> {
    if m.observer {
        m.flash("read-only console (--observer): nothing is run", true);
        return Vec::new();
    }
    let Some(inc) = m.incident.as_ref() else {
        return Vec::new();
    };
    if let Some(running) = &m.running {
        m.flash(format!("{running} is still running; one command at a time"), true);
        return Vec::new();
    }
    let Some(def) = inc.selected_action().cloned() else {
        return Vec::new();
    };
    let ask = Ask {
        action: &def.id,
        rollback,
        exec_enabled: m.exec.enabled,
        trusted: &m.exec.trusted,
        me: &m.me,
        now: m.now,
    };
    match may_run(inc.state(), &ask) {
        Err(r) => m.flash(r.to_string(), true),
        Ok(plan) => {
            m.dialog_scroll = 0;
            m.overlay = Some(Overlay::Confirm(Confirm::Exec { plan: Box::new(plan) }));
        }
    }
    Vec::new()
}

/// The confirmation said yes to exactly `plan.shown()` (its values, then its command).
pub(super) fn confirmed_exec(m: &mut Model, plan: Box<Plan>) -> Vec<Effect> {
    if let Err(r) = exec_policy::confirmed(&plan, Some(&plan.shown())) {
        m.flash(r.to_string(), true);
        return Vec::new();
    }
    let what = if plan.dry_run {
        "recording a dry run of"
    } else {
        "running"
    };
    m.flash(
        format!(
            "{what} {}… (its output arrives on the timeline)",
            crate::domain::sanitize(&plan.action)
        ),
        false,
    );
    m.running = Some(plan.action.clone());
    vec![Effect::Exec(plan)]
}

/// The command finished (or could not be run).
pub(super) fn ran(m: &mut Model, action: String, result: Result<(bool, String), String>) -> Vec<Effect> {
    m.running = None;
    match result {
        Ok((true, summary)) => m.flash(crate::domain::sanitize(&summary), false),
        Ok((false, summary)) => m.flash(
            format!(
                "{} — z on {} runs its rollback (asks first)",
                crate::domain::sanitize(&summary),
                crate::domain::sanitize(&action)
            ),
            true,
        ),
        Err(e) => m.flash(crate::domain::sanitize(&e), true),
    }
    Vec::new()
}
