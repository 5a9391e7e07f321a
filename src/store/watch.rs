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

/// Why the watcher cannot cover the folder, in words for the header.
pub fn why_unwatched(e: &notify::Error) -> &'static str {
    match &e.kind {
        notify::ErrorKind::MaxFilesWatch => "inotify watches exhausted",
        notify::ErrorKind::Io(io) if io.raw_os_error() == Some(libc::ENOSPC) => "inotify watches exhausted",
        notify::ErrorKind::Io(io) if io.raw_os_error() == Some(libc::EMFILE) => "inotify instances exhausted",
        _ => "watcher failed",
    }
}

/// Whether a watcher error means some folders are no longer watched (not just "reconcile now").
pub fn loses_watches(e: &notify::Error) -> bool {
    why_unwatched(e) != "watcher failed"
}

/// The watch mode once the watcher has lost folders: polling, unless the user already set one.
pub fn after_loss(mode: Mode) -> Mode {
    match mode {
        Mode::Inotify => Mode::Poll(NETWORK_POLL),
        poll => poll,
    }
}

/// Receives watcher events (and errors).
pub type Handler = Box<dyn FnMut(notify::Result<notify::Event>) + Send>;
/// Whether `p` lies inside a folder directly under `root` whose name starts with a dot (`.git`):
/// never an incident (their ids start with a date), so nothing there is worth a reconcile.
pub fn in_hidden_folder(root: &Path, p: &Path) -> bool {
    let mut rest = match p.strip_prefix(root) {
        Ok(r) => r.components(),
        Err(_) => return false,
    };
    let first = rest.next();
    rest.next().is_some() && first.is_some_and(|c| c.as_os_str().to_string_lossy().starts_with('.'))
}

/// Creates a watcher on a folder and registers it; notify's inotify watcher in the console, a
/// failing stand-in in tests. What it returns is kept alive for as long as the watch runs.
pub type Backend = fn(&Path, Handler) -> notify::Result<Box<dyn std::any::Any + Send>>;

/// notify's recommended watcher (inotify on Linux), recursive over the folder.
pub fn notify_backend(path: &Path, handler: Handler) -> notify::Result<Box<dyn std::any::Any + Send>> {
    let mut w = notify::recommended_watcher(handler)?;
    w.watch(path, RecursiveMode::Recursive)?;
    Ok(Box::new(w))
}

/// A live watch on a folder: calls `hint` whenever something may have changed (including on
/// overflow and on watcher errors, which simply mean "reconcile now").
pub struct Watch {
    pub mode: Mode,
    /// Why the watch polls although inotify was wanted (e.g. "inotify watches exhausted").
    pub why: Option<String>,
    _watcher: Option<Box<dyn std::any::Any + Send>>,
}

impl Watch {
    pub fn start(path: &Path, poll_override: Option<Duration>, hint: impl Fn() + Send + 'static) -> Watch {
        Watch::start_with(notify_backend, path, poll_override, hint, |_| {})
    }

    /// Start with `backend`; `lost` is told (with the reason) when a later watcher error means
    /// folders are no longer watched — new incidents beyond the inotify limit, say — so the
    /// caller can fall back to polling.
    pub fn start_with(
        backend: Backend,
        path: &Path,
        poll_override: Option<Duration>,
        hint: impl Fn() + Send + 'static,
        lost: impl Fn(&'static str) + Send + 'static,
    ) -> Watch {
        let root = path.to_path_buf();
        let handler: Handler = Box::new(move |res: notify::Result<notify::Event>| {
            if let Err(e) = &res {
                if loses_watches(e) {
                    lost(why_unwatched(e));
                }
            }
            // Our own reads open and close files: those access events must not wake us, or each
            // reconcile would trigger the next one. Nor does git's work in `.git` (a sync round
            // every few seconds would redraw the console each time). Errors and overflows
            // (Rescan) do wake us.
            let quiet = matches!(&res, Ok(e) if matches!(e.kind, notify::EventKind::Access(_))
                || (!e.paths.is_empty() && e.paths.iter().all(|p| in_hidden_folder(&root, p))));
            if !quiet {
                hint()
            }
        });
        let (watcher, why) = match backend(path, handler) {
            Ok(w) => (Some(w), None),
            Err(e) => {
                tracing::warn!(error = %e, path = %path.display(), "cannot watch; polling instead");
                (None, Some(why_unwatched(&e).to_string()))
            }
        };
        let mode = match (poll_override, network_fs(path), &watcher) {
            (Some(d), _, _) => Mode::Poll(d),
            (None, Some(_), _) | (None, None, None) => Mode::Poll(NETWORK_POLL),
            (None, None, Some(_)) => Mode::Inotify,
        };
        Watch {
            mode,
            // A poll the user chose needs no excuse.
            why: why.filter(|_| poll_override.is_none()),
            _watcher: watcher,
        }
    }

    /// The mode for the header, with the reason when it is a fallback.
    pub fn label(&self) -> String {
        label(self.mode, self.why.as_deref())
    }
}

/// `poll 2s (inotify watches exhausted)`.
pub fn label(mode: Mode, why: Option<&str>) -> String {
    match why {
        Some(w) => format!("{} ({w})", mode.label()),
        None => mode.label(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn exhausted(_: &Path, _: Handler) -> notify::Result<Box<dyn std::any::Any + Send>> {
        // What notify reports when inotify_add_watch fails with ENOSPC (max_user_watches).
        Err(notify::Error::new(notify::ErrorKind::MaxFilesWatch))
    }

    fn enospc(_: &Path, _: Handler) -> notify::Result<Box<dyn std::any::Any + Send>> {
        Err(notify::Error::io(std::io::Error::from_raw_os_error(libc::ENOSPC)))
    }

    #[test]
    fn git_work_in_a_dot_folder_is_not_a_hint() {
        let root = Path::new("/srv/warroom");
        assert!(in_hidden_folder(root, Path::new("/srv/warroom/.git/objects/ab/cdef")));
        assert!(in_hidden_folder(root, Path::new("/srv/warroom/.git/index.lock")));
        // The folder's own creation or removal, root files, incidents and other roots still count.
        assert!(!in_hidden_folder(root, Path::new("/srv/warroom/.git")));
        assert!(!in_hidden_folder(root, Path::new("/srv/warroom/.gitattributes")));
        assert!(!in_hidden_folder(
            root,
            Path::new("/srv/warroom/2026-11-30-x-ab12/events/a@b.c.ronl")
        ));
        assert!(!in_hidden_folder(
            root,
            Path::new("/srv/warroom/2026-11-30-x-ab12/.tmp123")
        ));
        assert!(!in_hidden_folder(root, Path::new("/elsewhere/.git/index")));
    }

    #[test]
    fn no_watches_left_means_polling_and_the_header_says_why() {
        let dir = tempfile::tempdir().unwrap();
        for backend in [exhausted as Backend, enospc as Backend] {
            let w = Watch::start_with(backend, dir.path(), None, || {}, |_| {});
            assert_eq!(w.mode, Mode::Poll(NETWORK_POLL));
            assert_eq!(w.label(), "poll 2s (inotify watches exhausted)");
        }
        // A poll interval the user chose is shown as it is.
        let d = Duration::from_secs(5);
        let w = Watch::start_with(exhausted, dir.path(), Some(d), || {}, |_| {});
        assert_eq!(w.label(), "poll 5s");
    }

    /// Keeps the handler, to feed it errors later as inotify would.
    static HANDLER: Mutex<Option<Handler>> = Mutex::new(None);

    fn keeps_handler(_: &Path, h: Handler) -> notify::Result<Box<dyn std::any::Any + Send>> {
        *HANDLER.lock().unwrap() = Some(h);
        Ok(Box::new(()))
    }

    #[test]
    fn watches_lost_later_are_reported_so_the_worker_can_poll() {
        let dir = tempfile::tempdir().unwrap();
        let lost = Arc::new(Mutex::new(Vec::new()));
        let hints = Arc::new(Mutex::new(0));
        let (l, h) = (lost.clone(), hints.clone());
        let w = Watch::start_with(
            keeps_handler,
            dir.path(),
            None,
            move || *h.lock().unwrap() += 1,
            move |why| l.lock().unwrap().push(why),
        );
        assert_eq!(w.mode, Mode::Inotify);
        let mut handler = HANDLER.lock().unwrap().take().unwrap();
        // A new incident folder beyond the limit: notify cannot add its watch.
        handler(Err(notify::Error::new(notify::ErrorKind::MaxFilesWatch)));
        // Other errors only mean "reconcile now".
        handler(Err(notify::Error::generic("queue overflow")));
        assert_eq!(*lost.lock().unwrap(), vec!["inotify watches exhausted"]);
        assert_eq!(*hints.lock().unwrap(), 2);
        assert_eq!(after_loss(Mode::Inotify), Mode::Poll(NETWORK_POLL));
        assert_eq!(
            after_loss(Mode::Poll(Duration::from_secs(7))),
            Mode::Poll(Duration::from_secs(7))
        );
    }
}
