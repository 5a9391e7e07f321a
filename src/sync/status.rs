//! The sync status kept in the local state directory, so `warroom list` can say when this
//! install last synced and what failed.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::domain::time::Millis;

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
