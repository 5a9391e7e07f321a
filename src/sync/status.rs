//! The sync status kept in the local state directory, so `warroom list` can say when this
//! install last synced and what failed; and what the console says of its own rounds (`Live`,
//! pure: the time comes in as an argument).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::domain::sanitize::sanitize;
use crate::domain::time::{format_age, Millis};

pub const STATUS_FILE: &str = "sync-status.ron";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// The shared directory synced (a state directory may serve several).
    pub dir: String,
    pub remote: String,
    pub last_attempt: Millis,
    pub last_success: Option<Millis>,
    pub last_error: Option<String>,
}

pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join(STATUS_FILE)
}

pub fn load(state_dir: &Path) -> Option<Status> {
    let text = std::fs::read_to_string(path(state_dir)).ok()?;
    ron::from_str(&text).ok()
}

/// Write the status atomically (a temp file renamed into place). A failure is returned, for a
/// warning: the sync itself happened either way.
pub fn save(state_dir: &Path, status: &Status) -> Result<(), String> {
    let text = ron::to_string(status).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(state_dir).map_err(|e| format!("cannot create {}: {e}", state_dir.display()))?;
    let tmp = tempfile::NamedTempFile::new_in(state_dir)
        .map_err(|e| format!("cannot write in {}: {e}", state_dir.display()))?;
    std::fs::write(tmp.path(), text).map_err(|e| format!("cannot write {}: {e}", tmp.path().display()))?;
    tmp.persist(path(state_dir))
        .map(|_| ())
        .map_err(|e| format!("cannot write {}: {e}", path(state_dir).display()))
}

/// Record one round's outcome in the state directory's status file (kept per shared directory).
pub fn record_round(
    state_dir: &Path,
    dir: &Path,
    remote: &str,
    error: Option<String>,
    now: Millis,
) -> Result<(), String> {
    let dir = dir.display().to_string();
    let mut st = load(state_dir).filter(|s| s.dir == dir).unwrap_or_default();
    st.dir = dir;
    st.remote = remote.to_string();
    st.last_attempt = now;
    if error.is_none() {
        st.last_success = Some(now);
    }
    st.last_error = error;
    save(state_dir, &st)
}

/// What a console knows of sync rounds: its own (`--sync-every`), or those of a `warroom sync`
/// of this install run beside it (read from the status file). Times are ms since the Unix epoch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Live {
    /// The console runs the rounds itself (else they are read from the status file).
    pub own: bool,
    pub remote: String,
    /// Milliseconds between the end of one round and the start of the next.
    pub every_ms: Millis,
    pub last_attempt: Option<Millis>,
    pub last_success: Option<Millis>,
    /// The last round's error, whole (git's words; sanitised where shown).
    pub last_error: Option<String>,
    /// When the rounds started failing (the first failed round since the last success).
    pub failing_since: Option<Millis>,
    /// What the last round reported but did not fail on (a file it would not commit).
    pub warnings: Vec<String>,
}

impl Live {
    pub fn new(remote: &str, every_ms: Millis) -> Live {
        Live {
            own: true,
            remote: remote.to_string(),
            every_ms,
            ..Live::default()
        }
    }

    /// The rounds of a `warroom sync` run beside the console, from the status file it keeps.
    /// When the failures began is not kept there: the last success stands in for it.
    pub fn from_status(st: &Status) -> Live {
        let failing = st.last_error.is_some();
        Live {
            own: false,
            remote: st.remote.clone(),
            every_ms: 0,
            last_attempt: Some(st.last_attempt),
            last_success: st.last_success,
            last_error: st.last_error.clone(),
            failing_since: failing.then(|| st.last_success.unwrap_or(st.last_attempt)),
            warnings: Vec::new(),
        }
    }

    /// Take in a round that ended at `at`, with its error if it failed.
    pub fn record(&mut self, at: Millis, error: Option<String>) {
        self.last_attempt = Some(at);
        match error {
            None => {
                self.last_success = Some(at);
                self.failing_since = None;
            }
            Some(_) => {
                self.failing_since.get_or_insert(at);
            }
        }
        self.last_error = error;
    }

    pub fn failing(&self) -> bool {
        self.last_error.is_some()
    }

    /// When the next round starts (the last one's end plus the interval).
    pub fn next_round(&self) -> Option<Millis> {
        self.last_attempt.map(|t| t.saturating_add(self.every_ms))
    }
}

/// A few words for what failed, from a round's error: what fits a status line at 80 columns.
/// The words are fixed (never git's text), so nothing a remote says reaches the header.
pub fn reason(error: &str) -> &'static str {
    let e = error.to_ascii_lowercase();
    if e.contains("did not finish within") {
        "git timed out"
    } else if e.contains("another sync round") {
        "clone busy"
    } else if e.starts_with("push to") {
        if e.contains("rejected") || e.contains("denied") {
            "push rejected"
        } else {
            "push failed"
        }
    } else if e.starts_with("cannot fetch") {
        "fetch failed"
    } else if e.contains("is not the top folder of a git repository") {
        "not a git clone"
    } else if e.contains("detached head") {
        "detached HEAD"
    } else if e.contains("commits not made by warroom sync") {
        "local commits"
    } else if e.contains("has no git remote") {
        "no remote"
    } else if e.contains("no git remote named") {
        "unknown remote"
    } else if e.contains("git is not installed") {
        "git missing"
    } else if e.contains("cannot bring") {
        "checkout failed"
    } else {
        "error"
    }
}

/// The status line's words: `sync 12s ago`, `sync failed 3m: push rejected` (failing for 3m),
/// `sync starting` before the first round ends.
pub fn short(live: &Live, now: Millis) -> String {
    match (&live.last_error, live.last_success) {
        (Some(e), _) => {
            let since = live.failing_since.or(live.last_attempt).unwrap_or(now);
            format!("sync failed {}: {}", format_age(now.saturating_sub(since)), reason(e))
        }
        (None, Some(t)) => format!("sync {} ago", format_age(now.saturating_sub(t))),
        (None, None) => "sync starting".to_string(),
    }
}

/// The shortest form, for a narrow status line: `sync 12s`, `sync ✖ 3m`, `sync …`.
pub fn compact(live: &Live, now: Millis) -> String {
    compact_with(live, now, format_age)
}

/// `compact` with the age written by `age` (whole minutes on a screen redrawn once a minute).
pub fn compact_with(live: &Live, now: Millis, age: fn(Millis) -> String) -> String {
    match (&live.last_error, live.last_success) {
        (Some(_), _) => {
            let since = live.failing_since.or(live.last_attempt).unwrap_or(now);
            format!("sync ✖ {}", age(now.saturating_sub(since)))
        }
        (None, Some(t)) => format!("sync {}", age(now.saturating_sub(t))),
        (None, None) => "sync …".to_string(),
    }
}

/// The whole story, a line each, sanitised: the remote and interval, the last success, the last
/// error, the next round, and what a failure means for the records.
pub fn detail(live: &Live, now: Millis) -> Vec<String> {
    let remote = sanitize(&live.remote);
    let mut out = vec![if live.own {
        format!(
            "sync: this console runs `warroom sync` with {remote} every {} s",
            live.every_ms / 1000
        )
    } else {
        format!("sync: as `warroom sync` of this install last recorded it, with {remote} (this console runs no rounds: --sync-every)")
    }];
    out.push(match live.last_success {
        Some(t) => format!("last synced {} ago", format_age(now.saturating_sub(t))),
        None if live.last_attempt.is_none() => "the first round is running".to_string(),
        None => "never synced yet".to_string(),
    });
    if let Some(e) = &live.last_error {
        let since = live.failing_since.or(live.last_attempt).unwrap_or(now);
        out.push(format!(
            "failing for {}; the last round said: {}",
            format_age(now.saturating_sub(since)),
            sanitize(e)
        ));
        // Only a round that got as far as committing keeps records waiting to go out.
        let committed = matches!(reason(e), "push rejected" | "push failed" | "fetch failed");
        if committed && !e.contains("committed locally") {
            out.push("your records stay committed locally and go out with the first round that succeeds".to_string());
        }
    }
    out.extend(live.warnings.iter().map(|w| format!("warning: {}", sanitize(w))));
    if let Some(next) = live.next_round().filter(|_| live.own) {
        out.push(if next > now {
            format!("next round in {}", format_age(next - now))
        } else {
            "next round now".to_string()
        });
    }
    out
}

/// One line for `warroom list`: "sync: last synced 3m ago with origin; last round failed: …".
pub fn describe(status: &Status, now: Millis, age: impl Fn(Millis) -> String) -> String {
    let last = match status.last_success {
        Some(t) => format!("last synced {} ago with {}", age(now.saturating_sub(t)), status.remote),
        None => format!("never synced with {}", status.remote),
    };
    match &status.last_error {
        Some(e) => format!(
            "sync: {last}; the last round ({} ago) failed: {e}",
            age(now.saturating_sub(status.last_attempt))
        ),
        None => format!("sync: {last}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failing(error: &str) -> Live {
        let mut l = Live::new("origin", 5_000);
        l.record(1_000, None);
        l.record(10_000, Some(error.into()));
        l.record(190_000, Some(error.into()));
        l
    }

    #[test]
    fn status_words_for_never_synced_failed() {
        let mut l = Live::new("origin", 5_000);
        assert_eq!(short(&l, 0), "sync starting");
        assert_eq!(compact(&l, 0), "sync …");
        l.record(100_000, None);
        assert_eq!(short(&l, 112_000), "sync 12s ago");
        assert_eq!(compact(&l, 112_000), "sync 12s");
        let f = failing("push to origin failed: ! [rejected] main -> main (fetch first); your records are committed locally and go out next round");
        assert_eq!(short(&f, 190_000), "sync failed 3m: push rejected");
        assert_eq!(compact(&f, 190_000), "sync ✖ 3m");
        // A success clears the failure and its start.
        let mut ok = f.clone();
        ok.record(200_000, None);
        assert_eq!(short(&ok, 201_000), "sync 1s ago");
        assert_eq!(ok.failing_since, None);
        // Failing from the start: failing since the first round.
        let mut never = Live::new("origin", 5_000);
        never.record(10_000, Some("cannot fetch from origin: fatal: unable to access".into()));
        assert_eq!(short(&never, 70_000), "sync failed 1m: fetch failed");
    }

    #[test]
    fn reasons_are_fixed_words() {
        for (e, r) in [
            ("git push did not finish within 60 s and was stopped", "git timed out"),
            (
                "another sync round in this clone (a console or `warroom sync`) held its lock for over 60 s",
                "clone busy",
            ),
            ("push to origin failed: remote: permission denied", "push rejected"),
            (
                "/srv/x has no git remote, so there is nowhere to send records",
                "no remote",
            ),
            (
                "no git remote named `upstream` in /srv/x (it has: origin)",
                "unknown remote",
            ),
            (
                "push to origin failed: fatal: could not read from remote",
                "push failed",
            ),
            (
                "/srv/x is not the top folder of a git repository. Set it up",
                "not a git clone",
            ),
            ("\u{1b}[31mremote says hi", "error"),
        ] {
            assert_eq!(reason(e), r, "{e}");
        }
    }

    #[test]
    fn detail_names_remote_error_and_next_round_sanitised() {
        let f = failing("push to origin failed: remote: \u{1b}[2Jgo away");
        let d = detail(&f, 192_000);
        assert_eq!(d[0], "sync: this console runs `warroom sync` with origin every 5 s");
        assert_eq!(d[1], "last synced 3m ago");
        assert!(
            d[2].starts_with("failing for 3m; the last round said: push to origin failed"),
            "{d:?}"
        );
        assert!(!d.iter().any(|l| l.contains('\u{1b}')), "{d:?}");
        assert_eq!(d.last().map(String::as_str), Some("next round in 3s"));
        // A round that never got to commit promises nothing about records going out.
        let mut unset = Live::new("origin", 5_000);
        unset.record(
            1_000,
            Some("/srv/x is not the top folder of a git repository. Set it up".into()),
        );
        assert!(!detail(&unset, 2_000).iter().any(|l| l.contains("committed locally")));
        let mut fetch_failed = Live::new("origin", 5_000);
        fetch_failed.record(1_000, Some("cannot fetch from origin: fatal: unable to access".into()));
        assert!(detail(&fetch_failed, 2_000)
            .iter()
            .any(|l| l.contains("committed locally")));
        let mut fresh = Live::new("origin", 5_000);
        assert_eq!(detail(&fresh, 0)[1], "the first round is running");
        fresh.record(0, None);
        assert_eq!(detail(&fresh, 9_000).last().map(String::as_str), Some("next round now"));
    }

    #[test]
    fn a_loop_beside_the_console_is_read_from_its_status_file() {
        let st = Status {
            dir: "/srv/warroom".into(),
            remote: "origin".into(),
            last_attempt: 200_000,
            last_success: Some(20_000),
            last_error: Some("push to origin failed: ! [rejected]".into()),
        };
        let l = Live::from_status(&st);
        assert_eq!(short(&l, 200_000), "sync failed 3m: push rejected");
        let d = detail(&l, 200_000);
        assert!(
            d[0].contains("as `warroom sync` of this install last recorded it"),
            "{d:?}"
        );
        assert!(!d.iter().any(|l| l.starts_with("next round")), "{d:?}");
        let ok = Live::from_status(&Status {
            last_error: None,
            last_success: Some(200_000),
            ..st
        });
        assert_eq!(short(&ok, 212_000), "sync 12s ago");
    }

    #[test]
    fn a_round_is_recorded_per_directory() {
        let state = tempfile::tempdir().expect("temp dir");
        let dir = Path::new("/srv/warroom");
        assert_eq!(record_round(state.path(), dir, "origin", None, 5_000), Ok(()));
        assert_eq!(
            record_round(state.path(), dir, "origin", Some("boom".into()), 9_000),
            Ok(())
        );
        let st = load(state.path()).expect("saved");
        assert_eq!(
            (st.last_success, st.last_attempt, st.last_error.as_deref()),
            (Some(5_000), 9_000, Some("boom"))
        );
    }

    #[test]
    fn round_trip_and_describe() {
        let dir = tempfile::tempdir().expect("temp dir");
        let s = Status {
            dir: "/srv/warroom".into(),
            remote: "origin".into(),
            last_attempt: 10_000,
            last_success: Some(4_000),
            last_error: Some("push refused".into()),
        };
        assert_eq!(save(dir.path(), &s), Ok(()));
        assert_eq!(load(dir.path()), Some(s.clone()));
        let line = describe(&s, 70_000, |ms| format!("{}s", ms / 1000));
        assert_eq!(
            line,
            "sync: last synced 66s ago with origin; the last round (60s ago) failed: push refused"
        );
        let ok = Status { last_error: None, ..s };
        assert_eq!(
            describe(&ok, 70_000, |ms| format!("{}s", ms / 1000)),
            "sync: last synced 66s ago with origin"
        );
    }
}
