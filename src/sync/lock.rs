//! One sync round at a time in one clone.
//!
//! A console running sync every few seconds, a `warroom sync --every` loop beside it, a cron job
//! and a second install sharing the clone all move the same index, `HEAD` and working tree. Two
//! rounds interleaved could set `HEAD` back to an older tip after the other moved it on, so a
//! round holds an exclusive lock on `<git dir>/warroom-sync.lock` from its fetch to its last
//! `update-ref`. The lock is on the clone itself (not in a per-user folder) because every install
//! and user working in the clone must take turns; the lock is released when the file is closed,
//! so a round killed half-way never leaves it held.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;
use std::time::{Duration, Instant};

/// The lock file's name inside the git directory.
pub const LOCK_FILE: &str = "warroom-sync.lock";

/// Held for one round; released on drop.
#[derive(Debug)]
pub struct RoundLock {
    _file: File,
}

/// Take the clone's sync lock, waiting up to `wait` for a round running elsewhere to end.
///
/// Errors: the lock file cannot be opened, the file system refuses locks, or another round still
/// holds it after `wait` (the message says so, for the console's status line).
pub fn acquire(git_dir: &Path, wait: Duration) -> Result<RoundLock, String> {
    let path = git_dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| format!("cannot open the sync lock {}: {e}", path.display()))?;
    let start = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(RoundLock { _file: file }),
            Err(TryLockError::WouldBlock) if start.elapsed() < wait => std::thread::sleep(Duration::from_millis(50)),
            Err(TryLockError::WouldBlock) => {
                return Err(format!(
                    "another sync round in this clone (a console or `warroom sync`) held its lock for over {} s",
                    wait.as_secs()
                ))
            }
            Err(TryLockError::Error(e)) => return Err(format!("cannot lock {}: {e}", path.display())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_round_waits_then_gives_up_and_the_lock_frees_on_drop() {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = acquire(dir.path(), Duration::ZERO).expect("free");
        let err = acquire(dir.path(), Duration::from_millis(200)).expect_err("held");
        assert!(err.contains("another sync round"), "{err}");
        drop(first);
        assert!(acquire(dir.path(), Duration::ZERO).is_ok());
    }

    #[test]
    fn a_waiting_round_gets_the_lock_when_the_other_ends() {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = acquire(dir.path(), Duration::ZERO).expect("free");
        let path = dir.path().to_path_buf();
        let waiter = std::thread::spawn(move || acquire(&path, Duration::from_secs(10)).map(|_| ()));
        std::thread::sleep(Duration::from_millis(150));
        drop(first);
        assert_eq!(waiter.join().expect("thread"), Ok(()));
    }
}
