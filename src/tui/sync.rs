//! The console's sync rounds (`--sync-every`, `sync_every:`): `crate::sync::round` on a thread of
//! its own, never on the UI thread. Each round's git commands have a timeout, a round holds the
//! clone's sync lock (so a `warroom sync --every` beside the console takes turns with it), and
//! each outcome goes to the reducer as `Msg::Synced` and to the state directory's status file
//! (what `warroom list` shows).

use std::path::PathBuf;
use std::sync::mpsc::{channel, RecvTimeoutError, Sender};
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;

use super::model::Msg;
use crate::domain::time::Millis;
use crate::sync::{self, status, Site};

/// What the console needs to run sync rounds.
#[derive(Debug, Clone)]
pub struct SyncSetup {
    pub site: Site,
    pub options: sync::Options,
    /// Between the end of one round and the start of the next.
    pub every: Duration,
}

impl SyncSetup {
    /// The status the header starts from, before the first round ends: the last success
    /// recorded in the state directory for this shared directory (what `warroom list` says), so
    /// the console and `list` never tell two stories.
    pub fn live(&self, state_dir: &std::path::Path) -> status::Live {
        let every_ms = Millis::try_from(self.every.as_millis()).unwrap_or(Millis::MAX);
        let mut live = status::Live::new(&self.options.remote, every_ms);
        let dir = self.site.root.display().to_string();
        live.last_success = status::load(state_dir)
            .filter(|st| st.dir == dir)
            .and_then(|st| st.last_success);
        live
    }
}

/// Start the rounds: the first at once, then one `every` after each ends. Dropping the returned
/// sender stops them (a round under way ends first; its git commands have their timeout).
pub fn spawn(
    setup: SyncSetup,
    state_dir: PathBuf,
    clock: fn() -> Millis,
    reply: UnboundedSender<Msg>,
) -> std::io::Result<Sender<()>> {
    let (stop, stopped) = channel::<()>();
    // Not joined on exit: a round stuck on a dead link must not keep the console from quitting.
    std::thread::Builder::new()
        .name("warroom-sync".into())
        .spawn(move || loop {
            let report = sync::round(&setup.site, &setup.options);
            let at = clock();
            let remote = &setup.options.remote;
            if report.did_something() {
                tracing::info!(line = %report.line(remote), "sync round");
            }
            for w in &report.warnings {
                tracing::warn!(warning = %w, "sync round");
            }
            if let Err(e) = status::record_round(&state_dir, &setup.site.root, remote, report.error.clone(), at) {
                tracing::warn!(error = %e, "cannot record the sync status");
            }
            let msg = Msg::Synced {
                at,
                error: report.error,
                warnings: report.warnings,
            };
            if reply.send(msg).is_err() {
                break;
            }
            match stopped.recv_timeout(setup.every) {
                Err(RecvTimeoutError::Timeout) => {}
                Ok(()) | Err(RecvTimeoutError::Disconnected) => break,
            }
        })?;
    Ok(stop)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The console starts from the last success `warroom list` reports for this directory (a
    /// failed round is not one), never from "never synced" while `list` says otherwise.
    #[test]
    fn the_console_starts_from_the_recorded_last_success_of_its_directory() {
        let state = tempfile::tempdir().expect("temp dir");
        let root = PathBuf::from("/srv/warroom");
        let setup = SyncSetup {
            site: Site {
                root: root.clone(),
                install: "abc123".into(),
                host: "h".into(),
            },
            options: sync::Options {
                remote: "origin".into(),
                timeout: Duration::from_secs(5),
                retries: 1,
                keep_trust: false,
            },
            every: Duration::from_secs(5),
        };
        assert_eq!(setup.live(state.path()).last_success, None);
        status::record_round(state.path(), &root, "origin", None, 5_000).expect("record");
        status::record_round(state.path(), &root, "origin", Some("push rejected".into()), 9_000).expect("record");
        let live = setup.live(state.path());
        assert_eq!(live.last_success, Some(5_000));
        assert_eq!(status::detail(&live, 65_000)[1], "last synced 1m ago");
        // Another directory's record is not this one's.
        status::record_round(state.path(), std::path::Path::new("/elsewhere"), "origin", None, 60_000).expect("record");
        assert_eq!(setup.live(state.path()).last_success, None);
    }
}
