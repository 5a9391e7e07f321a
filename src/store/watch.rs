//! Watching the shared directory. Watcher events are only hints; a reconcile pass (re-list,
//! re-open, read from the offset) is the truth. inotify is instant for writers on this host; on
//! NFS, SMB/CIFS and FUSE (sshfs) it never sees other machines' writes, so we reconcile on a
//! short timer there and on a long one elsewhere as a safety net.

use std::path::Path;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};

const NFS: i64 = 0x6969;
const SMB: i64 = 0x517B;
const CIFS: i64 = 0xFF53_4D42;
const SMB2: i64 = 0xFE53_4D42;
const FUSE: i64 = 0x6573_5546;

pub const NETWORK_POLL: Duration = Duration::from_secs(2);
pub const LOCAL_SAFETY_NET: Duration = Duration::from_secs(20);

/// A user's `--poll-interval` (or config) in seconds, kept between 0.1 s and an hour.
pub fn poll_duration(secs: f64) -> Duration {
    let secs = if secs.is_finite() {
        secs.clamp(0.1, 3600.0)
    } else {
        3600.0
    };
    Duration::from_secs_f64(secs)
}

/// What kind of file system the root is on, by `statfs` magic number.
pub fn network_fs(path: &Path) -> Option<&'static str> {
    let st = rustix::fs::statfs(path).ok()?;
    #[allow(clippy::unnecessary_cast)]
    match st.f_type as i64 {
        NFS => Some("nfs"),
        SMB | CIFS | SMB2 => Some("smb"),
        FUSE => Some("fuse"),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// inotify hints, with a slow safety-net reconcile.
    Inotify,
    /// A network file system (or a watcher that failed): reconcile on a timer.
    Poll(Duration),
}

impl Mode {
    pub fn label(self) -> String {
        match self {
            Mode::Inotify => "inotify".to_string(),
            Mode::Poll(d) => format!("poll {}", fmt_secs(d)),
        }
    }
    /// How long to wait for a hint before reconciling anyway.
    pub fn interval(self) -> Duration {
        match self {
            Mode::Inotify => LOCAL_SAFETY_NET,
            Mode::Poll(d) => d,
        }
    }
}

fn fmt_secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{}s", s as u64)
    } else {
        format!("{s:.1}s")
    }
}

/// A live watch on a folder: calls `hint` whenever something may have changed (including on
/// overflow and on watcher errors, which simply mean "reconcile now").
pub struct Watch {
    pub mode: Mode,
    _watcher: Option<notify::RecommendedWatcher>,
}

impl Watch {
    pub fn start(path: &Path, poll_override: Option<Duration>, hint: impl Fn() + Send + 'static) -> Watch {
        let watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            // Our own reads open and close files: those access events must not wake us, or each
            // reconcile would trigger the next one. Errors and overflows (Rescan) do wake us.
            if !matches!(res, Ok(ref e) if matches!(e.kind, notify::EventKind::Access(_))) {
                hint()
            }
        })
        .and_then(|mut w| w.watch(path, RecursiveMode::Recursive).map(|_| w))
        .ok();
        let mode = match (poll_override, network_fs(path), &watcher) {
            (Some(d), _, _) => Mode::Poll(d),
            (None, Some(_), _) | (None, None, None) => Mode::Poll(NETWORK_POLL),
            (None, None, Some(_)) => Mode::Inotify,
        };
        Watch {
            mode,
            _watcher: watcher,
        }
    }
}
