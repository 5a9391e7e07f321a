//! Carrying out a confirmed [`Plan`]: the records before and after, the run, the recording.
//! Shared by `warroom action run` and the console (which calls it on a thread of its own).

use std::time::Duration;

use crate::domain::event::{ActionOutput, Body, Event};
use crate::domain::exec_policy::Plan;
use crate::domain::termtext;
use crate::domain::time::Millis;
use crate::store::writer::{Draft, LogWriter};
use crate::store::{casts, Identity, Store};

/// The most of a command's output put on the timeline (its end; the whole is in the recording).
pub const SUMMARY_BYTES: usize = 2048;
/// How long a command may run unless the responder says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// How to run it.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub timeout: Duration,
    pub width: u16,
    pub height: u16,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            timeout: DEFAULT_TIMEOUT,
            width: 120,
            height: 40,
        }
    }
}

/// What was done.
#[derive(Debug, Clone)]
pub struct Carried {
    /// `None` for a dry run.
    pub outcome: Option<super::Outcome>,
    pub cast: Option<String>,
    /// Every record written.
    pub written: Vec<Event>,
    /// One line for the responder: what happened and where the recording is.
    pub summary: String,
    /// A recording that could not be stored (the output summary is on the timeline regardless).
    pub warning: Option<String>,
}

impl Carried {
    pub fn success(&self) -> bool {
        self.outcome.as_ref().is_none_or(super::Outcome::success)
    }
}

/// Write the start record, run the command, store its recording and write what happened. A dry
/// run writes its record and runs nothing.
pub fn carry_out(
    store: &Store,
    identity: &Identity,
    plan: &Plan,
    opts: Options,
    clock: impl Fn() -> Millis + Copy,
) -> Result<Carried, String> {
    let writer = LogWriter::new(store, &plan.incident, identity);
    let mut written = Vec::new();
    if let Some(start) = plan.start() {
        let appended = writer
            .append(vec![Draft::new(start)], clock)
            .map_err(|e| format!("nothing was run: cannot record the start: {e}"))?;
        written.extend(appended.events);
    }
    if plan.dry_run {
        return Ok(Carried {
            outcome: None,
            cast: None,
            written,
            summary: format!(
                "{}: recorded as a dry run (exercise); nothing was executed",
                plan.action
            ),
            warning: None,
        });
    }
    let spec = super::Spec {
        command: plan.command.clone(),
        timeout: opts.timeout,
        width: opts.width,
        height: opts.height,
        title: format!(
            "{} {}{}",
            plan.incident,
            plan.action,
            if plan.rollback { " (rollback)" } else { "" }
        ),
        env: vec![
            ("WARROOM_INCIDENT".into(), plan.incident.clone()),
            ("WARROOM_ACTION".into(), plan.action.clone()),
        ],
    };
    let (outcome, failure) = match super::run(&spec) {
        Ok(o) => (Some(o), None),
        Err(e) => (None, Some(e)),
    };
    let mut warning = None;
    let cast = outcome
        .as_ref()
        .and_then(|o| match casts::save(store, &plan.incident, &o.cast) {
            Ok(h) => Some(h),
            Err(e) => {
                warning = Some(format!("the recording was not stored: {e}"));
                None
            }
        });
    let (text, exit, timed_out, how) = match (&outcome, &failure) {
        (Some(o), _) => (
            termtext::tail(&o.text, SUMMARY_BYTES),
            o.exit,
            o.timed_out,
            o.describe(),
        ),
        (None, Some(e)) => (e.clone(), None, false, format!("did not start: {e}")),
        (None, None) => (String::new(), None, false, "did not run".into()),
    };
    let success = outcome.as_ref().is_some_and(super::Outcome::success);
    let mut drafts = vec![Draft::new(Body::from(ActionOutput {
        action: plan.action.clone(),
        text,
        exit,
        cast: cast.clone(),
        timed_out,
        rollback: plan.rollback,
    }))];
    let note = match &cast {
        Some(h) => format!("{how}; recording {}", &h[..12]),
        None => how.clone(),
    };
    if let Some(finish) = plan.finish(success, &note) {
        drafts.push(Draft::new(finish));
    }
    let appended = writer
        .append(drafts, clock)
        .map_err(|e| format!("the command ran ({how}) but its result could not be recorded: {e}"))?;
    written.extend(appended.events);
    let what = if plan.rollback { "rollback of " } else { "" };
    let verdict = match (success, plan.rollback) {
        (true, false) => "done",
        (true, true) => "rolled back",
        (false, false) => {
            "FAILED (its rollback can be run: `warroom action run … --rollback`, or z on the action in the console)"
        }
        (false, true) => "rollback FAILED",
    };
    let summary = format!(
        "{what}{}: {how}: {verdict}{}",
        plan.action,
        cast.as_ref()
            .map(|h| format!("; recording casts/{h}.cast"))
            .unwrap_or_default()
    );
    Ok(Carried {
        outcome,
        cast,
        written,
        summary,
        warning,
    })
}
