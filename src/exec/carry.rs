//! Carrying out a confirmed [`Plan`]: the records before and after, the run, the recording.
//! Shared by `warroom action run` and the console (which calls it on a thread of its own).

use std::time::Duration;

use crate::domain::event::{ActionOutput, ActionState, Body, Event, EventKey, Note};
use crate::domain::exec_policy::Plan;
use crate::domain::state::IncidentState;
use crate::domain::termtext;
use crate::domain::time::Millis;
use crate::store::incident::Incident;
use crate::store::writer::{Draft, LogWriter};
use crate::store::{casts, Identity, Store};

/// The most of a command's output put on the timeline (its end; the whole is in the recording).
pub const SUMMARY_BYTES: usize = 2048;
/// How long a command may run unless the responder says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// How long a claim waits, on a local file system, for another host's claim to show before it
/// is checked (two installs on one machine, or clocks a little apart).
pub const LOCAL_SETTLE: Duration = Duration::from_secs(1);
/// The same on a network file system (NFS, SMB, FUSE: what the watcher polls, see
/// `store::watch::network_fs`): 5 of its 2 s polls, for attribute caching and clock skew.
pub const NETWORK_SETTLE: Duration = Duration::from_secs(10);
/// The tag of a rollback's claim note (with `rollback:<action>`).
pub const CLAIM_TAG: &str = "exec-claim";
/// The tag of the note that withdraws this log's claim (stopped while it settled).
pub const WITHDRAWN_TAG: &str = "exec-claim-withdrawn";
/// A rollback claim that neither ran nor was withdrawn within this long (its process died) no
/// longer blocks anyone: longer than any settle window plus the default timeout.
pub const STALE_CLAIM_MS: Millis = 15 * 60_000;

/// The settle window for the shared directory at `root`: `configured` (`exec_settle` in the
/// config, seconds), else [`NETWORK_SETTLE`] on a network file system, else [`LOCAL_SETTLE`].
pub fn settle_window(root: &std::path::Path, configured: Option<Duration>) -> Duration {
    configured.unwrap_or_else(|| {
        if crate::store::watch::network_fs(root).is_some() {
            NETWORK_SETTLE
        } else {
            LOCAL_SETTLE
        }
    })
}

/// How to run it.
#[derive(Debug, Clone)]
pub struct Options {
    pub timeout: Duration,
    pub width: u16,
    pub height: u16,
    /// Set to stop the command (a signal, the console quitting): killed, recorded as interrupted.
    pub stop: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    /// How long a claim waits before it is checked; `None`: [`settle_window`] of the root.
    pub settle: Option<Duration>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            timeout: DEFAULT_TIMEOUT,
            width: 120,
            height: 40,
            stop: None,
            settle: None,
        }
    }
}

/// Wait out the settle window (cut short by the stop flag: then nothing runs).
fn settle(store: &Store, opts: &Options) -> Result<(), String> {
    let until = std::time::Instant::now() + settle_window(&store.root, opts.settle);
    while std::time::Instant::now() < until {
        if opts
            .stop
            .as_ref()
            .is_some_and(|s| s.load(std::sync::atomic::Ordering::SeqCst))
        {
            return Err("stopped before it ran: nothing was run".into());
        }
        std::thread::sleep(Duration::from_millis(50).min(until - std::time::Instant::now()));
    }
    Ok(())
}

/// The loser of a claim says on the timeline that it did not run and who did (best effort: the
/// refusal is returned whether or not the note could be written).
fn record_not_run(writer: &LogWriter, action: &str, why: &str, clock: impl Fn() -> Millis + Copy) {
    let note = Note {
        text: format!("did not run {action}: {why}").into(),
        tags: vec!["exec".into(), "not-run".into()].into(),
    };
    if let Err(e) = writer.append(vec![Draft::new(note)], clock) {
        tracing::warn!(error = %e, "cannot record that the action did not run");
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
    // A rollback writes nothing before it runs: within this install, its lock is held while it
    // runs, and a rollback started meanwhile finds the action rolled back and stops.
    let _rollback_lock = if plan.rollback && !plan.dry_run {
        let lock = claim_lock(store, plan)?;
        let now = Incident::open(store, &plan.incident, clock());
        let state = now.state.derived.actions.get(&plan.action).map(|r| r.value.state);
        if !matches!(state, Some(ActionState::Done | ActionState::Failed)) {
            return Err(format!(
                "not run: {} is {} now (rolled back, or being run, meanwhile)",
                plan.action,
                state.map_or("not proposed".to_string(), |s| format!("{s:?}"))
            ));
        }
        // Across hosts: a claim note, the settle window, then the first claim since the action
        // was done (or failed) rolls back; any other says it did not.
        let claim = Note {
            text: format!(
                "rolling back {}: claimed by this host (runs unless another claimed first)",
                plan.action
            )
            .into(),
            tags: vec![CLAIM_TAG.into(), format!("rollback:{}", plan.action)].into(),
        };
        let appended = writer
            .append(vec![Draft::new(claim)], clock)
            .map_err(|e| format!("nothing was run: cannot record the claim: {e}"))?;
        let ours = appended.events.last().map(Event::key);
        written.extend(appended.events);
        if let Err(stopped) = settle(store, &opts) {
            let note = Note {
                text: format!("did not run the rollback of {}: {stopped}", plan.action).into(),
                tags: vec!["exec".into(), WITHDRAWN_TAG.into(), format!("rollback:{}", plan.action)].into(),
            };
            let _ = writer.append(vec![Draft::new(note)], clock);
            return Err(stopped);
        }
        let now = Incident::open(store, &plan.incident, clock());
        let current = now.state.derived.actions.get(&plan.action);
        let state = current.map(|r| r.value.state);
        let first = current.and_then(|r| first_rollback_claim(&now.state, &plan.action, &r.key, clock()));
        if !matches!(state, Some(ActionState::Done | ActionState::Failed))
            || first.as_ref().map(|f| &f.0) != ours.as_ref()
        {
            let who = first
                .map(|f| f.1)
                .or_else(|| current.map(|r| r.by.clone()))
                .unwrap_or_else(|| "someone else".into());
            let why = format!("{who} is rolling it back (claimed first)");
            record_not_run(&writer, &plan.action, &why, clock);
            return Err(format!("not run: {} — {why}", plan.action));
        }
        Some(lock)
    } else {
        None
    };
    if let Some(start) = plan.start() {
        let claiming = start.state == ActionState::Running;
        // Within this install, one process at a time decides (claim, then check); across
        // installs the record on disk decides: the Running that sorts first is the one applied.
        let _lock = if claiming { Some(claim_lock(store, plan)?) } else { None };
        if claiming {
            let now = Incident::open(store, &plan.incident, clock());
            if let Some(by) = running_by(&now.state, &plan.action) {
                return Err(format!("not run: {} is already being run by {by}", plan.action));
            }
        }
        let appended = writer
            .append(vec![Draft::new(start)], clock)
            .map_err(|e| format!("nothing was run: cannot record the start: {e}"))?;
        written.extend(appended.events);
        if claiming {
            // Claim, wait for other hosts' claims to show, then check: run only if our Running
            // is the one the fold applied (the first by sort order).
            if let Err(stopped) = settle(store, &opts) {
                // Never left "running": the claim is closed as failed, nothing having run.
                if let Some(finish) = plan.finish(false, "interrupted before it ran: nothing was run") {
                    let _ = writer.append(vec![Draft::new(finish)], clock);
                }
                return Err(format!("interrupted before it ran: {stopped}"));
            }
            let now = Incident::open(store, &plan.incident, clock());
            // Our Running record (a Heads checkpoint or a signature may follow it in the write).
            let ours = written
                .iter()
                .rev()
                .find(|e| matches!(e.body, crate::domain::Body::ActionSet(_)))
                .map(Event::key);
            let refused = ours.as_ref().and_then(|k| now.state.derived.refused.get(k));
            if let Some(why) = refused {
                let by = running_by(&now.state, &plan.action).unwrap_or_else(|| "someone else".into());
                record_not_run(
                    &writer,
                    &plan.action,
                    &format!("{by} is running it (claimed first)"),
                    clock,
                );
                return Err(format!(
                    "not run: {} is already being run by {by} (our start record was not applied: {why})",
                    plan.action
                ));
            }
        }
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
        // The parameters reach the shell as environment variables: expanded as data, never
        // read as code.
        env: [
            ("WARROOM_INCIDENT".to_string(), plan.incident.clone()),
            ("WARROOM_ACTION".to_string(), plan.action.clone()),
        ]
        .into_iter()
        .chain(plan.params.iter().cloned())
        .collect(),
        stop: opts.stop.clone(),
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
            if o.interrupted {
                format!(
                    "{}\n[interrupted: the command was killed]",
                    termtext::tail(&o.text, SUMMARY_BYTES).trim_end()
                )
            } else {
                termtext::tail(&o.text, SUMMARY_BYTES)
            },
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
        (false, false) if plan.has_rollback => {
            "FAILED (its rollback can be run: `warroom action run … --rollback`, or z on the action in the console)"
        }
        (false, false) => "FAILED (the playbook gives it no rollback)",
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

/// The first live rollback claim for `action`: its key and who wrote it. Live: after the record
/// that made the action what it is (`since`) and after the last rollback that ran, not withdrawn
/// later by its own log, and not older than [`STALE_CLAIM_MS`] at `now`.
fn first_rollback_claim(
    state: &IncidentState,
    action: &str,
    since: &EventKey,
    now: Millis,
) -> Option<(EventKey, String)> {
    let tag = format!("rollback:{action}");
    let tagged = |e: &Event, which: &str| matches!(&e.body, Body::Note(n) if n.tags.iter().any(|t| t == which) && n.tags.contains(&tag));
    let ran = state
        .events()
        .filter(|e| matches!(&e.body, Body::ActionOutput(o) if o.action == action && o.rollback))
        .map(Event::key)
        .max();
    let since = ran.filter(|r| r > since).unwrap_or_else(|| since.clone());
    let withdrawn: Vec<EventKey> = state
        .events()
        .filter(|e| tagged(e, WITHDRAWN_TAG))
        .map(Event::key)
        .collect();
    state
        .events()
        .filter(|e| e.key() > since && tagged(e, CLAIM_TAG))
        .filter(|e| e.at >= now - STALE_CLAIM_MS)
        .filter(|e| !withdrawn.iter().any(|w| w.log == e.log && *w > e.key()))
        .map(|e| (e.key(), e.by().to_string()))
        .min_by(|a, b| a.0.cmp(&b.0))
}

/// Who is running `action` now, by the fold's record (`None`: nobody).
fn running_by(state: &IncidentState, action: &str) -> Option<String> {
    state
        .derived
        .actions
        .get(action)
        .filter(|r| r.value.state == ActionState::Running)
        .map(|r| r.by.clone())
}

/// The install's lock for running `plan`'s action (held while deciding and claiming).
fn claim_lock(store: &Store, plan: &Plan) -> Result<std::fs::File, String> {
    let dir = store.state_dir.join("locks");
    std::fs::create_dir_all(&dir).map_err(|e| format!("nothing was run: cannot create {}: {e}", dir.display()))?;
    let key = blake3::hash(format!("{}\0{}", plan.incident, plan.action).as_bytes()).to_hex();
    let path = dir.join(format!("exec-{}.lock", &key[..32]));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| format!("nothing was run: cannot open lock {}: {e}", path.display()))?;
    file.lock()
        .map_err(|e| format!("nothing was run: cannot lock {}: {e}", path.display()))?;
    Ok(file)
}
