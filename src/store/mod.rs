//! The shared incident directory: layout, the per-writer log writer, the tailing reader, the
//! watcher. Everything read here is untrusted (see `domain::sanitize`).
//!
//! ```text
//! <root>/<incident-id>/incident.ron              copy of the Declared header
//! <root>/<incident-id>/playbooks/<hash>.ron      resolved playbook, content-addressed
//! <root>/<incident-id>/events/<name>@<host>.<install>.ronl   one append-only log per writer
//! ```

pub mod cache_ahead;
pub mod casts;
pub mod config;
pub mod fsutil;
pub mod incident;
pub mod logcache;
pub mod memory;
pub mod note_text;
pub mod playbooks;
pub mod prefix;
pub mod reader;
pub mod sigcache;
pub mod summary;
pub mod tail;
pub mod verify;
pub mod watch;
pub mod writer;

use std::io;
use std::path::{Path, PathBuf};

use crate::domain::identity::{valid_host, valid_name, WriterId};
use crate::domain::Problem;
pub use config::{RootChoice, RootSource};
pub use fsutil::Sharing;

pub const EVENTS_DIR: &str = "events";
pub const PLAYBOOKS_DIR: &str = "playbooks";
pub const HEADER_FILE: &str = "incident.ron";
/// Recordings of the commands warroom ran (`<hash>.cast`, asciicast v2).
pub const CASTS_DIR: &str = "casts";
pub const LOG_EXT: &str = ".ronl";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{what}: {source}")]
    Io { what: String, source: io::Error },
    #[error("{0}")]
    Refused(String),
    #[error("no incident matches `{0}` in {1}")]
    NoSuchIncident(String, String),
    #[error("`{0}` matches several incidents: {1}")]
    Ambiguous(String, String),
}

impl StoreError {
    pub fn io(what: impl Into<String>) -> impl FnOnce(io::Error) -> StoreError {
        let what = what.into();
        move |source| StoreError::Io { what, source }
    }
}

/// Who is writing, and from which installation: the log file is `name@host.install.ronl`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub writer: WriterId,
    pub install: String,
}

impl Identity {
    pub fn log_file_name(&self) -> String {
        format!("{}{LOG_EXT}", self.log_id())
    }

    /// `name@host.install`: the log this identity writes, the unit of seq and chain.
    pub fn log_id(&self) -> String {
        format!("{}.{}", self.writer, self.install)
    }
}

/// `alice@jump.k3x9qa.ronl` → `alice@jump`, if the name is well formed.
pub fn writer_of_log(file_name: &str) -> Option<String> {
    let stem = file_name.strip_suffix(LOG_EXT)?;
    let (writer, install) = stem.rsplit_once('.')?;
    let (name, host) = writer.split_once('@')?;
    (valid_name(name) && valid_host(host) && !install.is_empty() && install.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then(|| writer.to_string())
}

/// The random id of this installation, made once, so two cloned machines with one hostname never
/// share a log file.
pub fn install_id(state_dir: &Path) -> Result<String, StoreError> {
    let path = state_dir.join("install-id");
    if let Ok(s) = std::fs::read_to_string(&path) {
        let s = s.trim().to_string();
        if s.len() == 6 && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()) {
            return Ok(s);
        }
    }
    std::fs::create_dir_all(state_dir).map_err(StoreError::io(format!("cannot create {}", state_dir.display())))?;
    // Several first runs at once must agree on one id: write a temp file, then hard-link it into
    // place (fails if another process won the race, whose complete file we then read).
    let id = random_id(6);
    let tmp = state_dir.join(format!(".install-id.{}", random_id(8)));
    std::fs::write(&tmp, &id).map_err(StoreError::io(format!("cannot write {}", tmp.display())))?;
    let linked = std::fs::hard_link(&tmp, &path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(id),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => std::fs::read_to_string(&path)
            .map(|s| s.trim().to_string())
            .map_err(StoreError::io(format!("cannot read {}", path.display()))),
        Err(e) => Err(StoreError::Io {
            what: format!("cannot write {}", path.display()),
            source: e,
        }),
    }
}

/// The threads a long read or check is spread over: the cores this process may use, at most 8.
/// Asked once per process: the standard library reads the cgroup files (`/proc/self/cgroup`,
/// `cpu.max`…) on every call, which a `list` of a thousand incidents paid once per incident.
pub fn threads() -> usize {
    static N: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *N.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()).min(8))
}

pub fn random_id(n: usize) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..n)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// An opened shared directory.
#[derive(Debug, Clone)]
pub struct Store {
    pub root: PathBuf,
    pub source: RootSource,
    pub sharing: Sharing,
    pub state_dir: PathBuf,
    pub lock_dir: PathBuf,
    /// Signs every record this process writes (`--sign`, `WARROOM_SIGNING_KEY`, config `signing`).
    pub signer: Option<std::sync::Arc<crate::signer::Signer>>,
    /// Where signatures are checked against, and whether this responder requires them.
    pub trust: Trust,
    /// This host's secret keying the local caches, once had (see [`Store::local_secret`]).
    pub local_secret: LocalSecret,
}

/// The local cache secret, read once per store (and its clones): `list` and the board open the
/// caches of a thousand incidents, and reading the file for each cost 7 syscalls.
#[derive(Debug, Clone, Default)]
pub struct LocalSecret(std::sync::Arc<std::sync::OnceLock<[u8; 32]>>);

/// The signature policy of this responder (see README, "Signed records").
#[derive(Debug, Clone, Default)]
pub struct Trust {
    /// An `allowed_signers` file from the responder's config: used instead of the shared one.
    pub allowed_signers: Option<PathBuf>,
    /// Treat every incident as requiring signatures (config `signing: (require: true)`).
    pub require: bool,
    /// A signing key was asked for but cannot be used: every write refuses with this, so a
    /// responder who asked to sign never writes unsigned by accident.
    pub signer_error: Option<String>,
}

/// The shared `allowed_signers` file, in the root beside the incident folders.
pub const ALLOWED_SIGNERS_FILE: &str = "allowed_signers";

impl Store {
    /// This host's secret keying the local caches ([`sigcache::local_secret`]), read on first use
    /// and kept by this store and its clones. Not had (an unwritable state directory) is not
    /// kept: a later call tries again. A secret file replaced meanwhile only makes the entries
    /// written with the one kept miss for other processes; both key caches alone.
    pub fn local_secret(&self) -> Option<[u8; 32]> {
        if let Some(s) = self.local_secret.0.get() {
            return Some(*s);
        }
        let s = sigcache::local_secret(&self.state_dir)?;
        Some(*self.local_secret.0.get_or_init(|| s))
    }

    /// The `allowed_signers` file in force: the config's if set, else `<root>/allowed_signers`.
    pub fn allowed_signers_path(&self) -> PathBuf {
        self.trust
            .allowed_signers
            .clone()
            .unwrap_or_else(|| self.root.join(ALLOWED_SIGNERS_FILE))
    }

    /// The `allowed_signers` file in force, parsed (missing: empty, so nothing verifies).
    /// The shared file, when gone, is replaced by the copy this host last read (see
    /// [`Store::kept_allowed_signers_path`]).
    pub fn allowed_signers(&self) -> crate::domain::signing::AllowedSigners {
        load_trust(
            &self.allowed_signers_path(),
            self.allowed_signers_follows(),
            self.kept_allowed_signers_path().as_deref(),
        )
    }

    /// Where this host keeps the last good shared `allowed_signers` it read, per shared root
    /// (`None` when the config names its own file: that one is the responder's to keep).
    pub fn kept_allowed_signers_path(&self) -> Option<PathBuf> {
        if self.allowed_signers_follows() {
            return None;
        }
        let key = blake3::hash(self.root.to_string_lossy().as_bytes()).to_hex();
        Some(
            self.state_dir
                .join("trust")
                .join(format!("{}.allowed_signers", &key.as_str()[..16])),
        )
    }

    /// The bytes of the `allowed_signers` file in force (the kept copy when the shared file is
    /// gone), as [`Store::allowed_signers`] reads them; `None` when there is none.
    pub fn allowed_signers_bytes(&self) -> Option<Vec<u8>> {
        match read_allowed_signers(&self.allowed_signers_path(), self.allowed_signers_follows()) {
            Ok(b) => Some(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => self
                .kept_allowed_signers_path()
                .and_then(|k| read_allowed_signers(&k, false).ok()),
            Err(_) => None,
        }
    }

    /// Whether the file in force may be a symlink: the responder's own (config) file may; the
    /// shared one, below the root, never is followed.
    pub fn allowed_signers_follows(&self) -> bool {
        self.trust.allowed_signers.is_some()
    }
}

/// The largest `allowed_signers` file read.
pub const MAX_ALLOWED_SIGNERS: u64 = 4 * 1024 * 1024;

/// Read and parse an `allowed_signers` file; missing or unreadable: empty. Only a regular file is
/// read (a FIFO or a device would block every reader), opened non-blocking and checked after
/// opening, at most [`MAX_ALLOWED_SIGNERS`]; a symlink is followed only when `follow` (the
/// responder's own file from the config; never the shared one).
pub fn load_allowed_signers(path: &Path, follow: bool) -> crate::domain::signing::AllowedSigners {
    read_allowed_signers(path, follow)
        .map(|b| crate::domain::signing::AllowedSigners::parse(&String::from_utf8_lossy(&b)))
        .unwrap_or_default()
}

/// [`load_allowed_signers`], keeping a copy of what was read in `kept` (when it differs), and
/// falling back to that copy when the file is missing — with a note saying so, for the problems.
pub fn load_trust(path: &Path, follow: bool, kept: Option<&Path>) -> crate::domain::signing::AllowedSigners {
    use crate::domain::signing::AllowedSigners;
    let parse = |b: &[u8]| AllowedSigners::parse(&String::from_utf8_lossy(b));
    match (read_allowed_signers(path, follow), kept) {
        (Ok(bytes), Some(kept)) => {
            let mut a = parse(&bytes);
            if !a.shared_keys.is_empty() {
                if let Ok(old) = read_allowed_signers(kept, false) {
                    crate::domain::trust::note_kept_owner(&mut a, &parse(&old));
                }
            }
            let pending = keep_trust_copy(kept, &bytes, &a);
            (a.note, a.unaccepted, a.accepted) = (pending.note, pending.brought, pending.accepted.map(Box::new));
            a
        }
        (Ok(bytes), None) => parse(&bytes),
        (Err(e), Some(kept)) if e.kind() == std::io::ErrorKind::NotFound => {
            let Ok(bytes) = read_allowed_signers(kept, false) else {
                return AllowedSigners::default();
            };
            let when = std::fs::metadata(kept)
                .and_then(|m| m.modified())
                .map(|t| {
                    chrono::DateTime::<chrono::Utc>::from(t)
                        .format("%Y-%m-%d %H:%M:%S UTC")
                        .to_string()
                })
                .unwrap_or_else(|_| "an earlier time".into());
            let mut a = parse(&bytes);
            a.note = Some(format!(
                "allowed_signers is missing from the shared directory ({}); using the copy this host read at {when} ({})",
                path.display(),
                kept.display()
            ));
            a
        }
        _ => AllowedSigners::default(),
    }
}

/// A key change of the file in force against this host's kept copy, not accepted yet.
#[derive(Default)]
struct Pending {
    /// What changed and how to accept it.
    note: Option<String>,
    /// Each key the change brought in (not in the copy for that person), with the note.
    brought: Vec<(String, String)>,
    /// The kept copy, parsed: what this host accepted last.
    accepted: Option<crate::domain::signing::AllowedSigners>,
}

/// Update this host's copy of the shared `allowed_signers` with `bytes` (parsed: `now`), unless a
/// principal's key was replaced, removed or added against the copy: then the copy stays as it
/// was (so every later read says so again, on every output) and the change is returned.
fn keep_trust_copy(kept: &Path, bytes: &[u8], now: &crate::domain::signing::AllowedSigners) -> Pending {
    use crate::domain::{signing::AllowedSigners, trust};
    let old = read_allowed_signers(kept, false).ok();
    if old.as_deref() == Some(bytes) {
        return Pending::default();
    }
    if let Some(old) = &old {
        let old = AllowedSigners::parse(&String::from_utf8_lossy(old));
        let changes = trust::key_changes(&old, now);
        if let Some(note) = trust::changed_note(&changes, &kept.display().to_string()) {
            let brought: Vec<(String, String)> = changes
                .iter()
                .flat_map(|c| c.new.iter().filter(|k| !c.old.contains(k)))
                .map(|k| (k.clone(), note.clone()))
                .collect();
            return Pending {
                note: Some(note),
                brought,
                accepted: Some(old),
            };
        }
    }
    if let Some(dir) = kept.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = fsutil::write_atomic(kept, bytes, Sharing::private());
    Pending::default()
}

/// The bytes of an `allowed_signers` file, read as [`load_allowed_signers`] says.
pub fn read_allowed_signers(path: &Path, follow: bool) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let f = if follow {
        let f = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)?;
        if !f.metadata()?.is_file() {
            return Err(std::io::Error::other("not a regular file"));
        }
        f
    } else {
        fsutil::open_read(path)?
    };
    let mut bytes = Vec::new();
    f.take(MAX_ALLOWED_SIGNERS + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_ALLOWED_SIGNERS {
        return Err(std::io::Error::other("larger than 4 MiB"));
    }
    Ok(bytes)
}

impl Store {
    /// Open (creating if missing) the shared root. The root is canonicalised once: a root that is
    /// itself a symlink is normal; below it nothing is followed.
    pub fn open(choice: &RootChoice, state_dir: PathBuf, lock_dir: PathBuf) -> Result<Store, StoreError> {
        let path = &choice.path;
        if !path.exists() {
            std::fs::create_dir_all(path).map_err(StoreError::io(format!(
                "cannot create the shared directory {} (from {})",
                path.display(),
                choice.source.describe()
            )))?;
        }
        let root = path.canonicalize().map_err(StoreError::io(format!(
            "cannot open the shared directory {} (from {})",
            path.display(),
            choice.source.describe()
        )))?;
        if !root.is_dir() {
            return Err(StoreError::Refused(format!(
                "the shared directory {} (from {}) is not a folder",
                root.display(),
                choice.source.describe()
            )));
        }
        Ok(Store {
            sharing: Sharing::of_root(&root),
            root,
            source: choice.source,
            state_dir,
            lock_dir,
            signer: None,
            trust: Trust::default(),
            local_secret: LocalSecret::default(),
        })
    }

    /// "/srv/warroom (from WARROOM_DIR)": every listing and error names the directory in use.
    pub fn describe(&self) -> String {
        format!("{} (from {})", self.root.display(), self.source.describe())
    }

    pub fn incident_dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    /// Incident folders under the root (never following symlinks), sorted; odd entries are problems.
    pub fn list_incidents(&self) -> Result<(Vec<String>, Vec<Problem>), StoreError> {
        let mut ids = Vec::new();
        let mut problems = Vec::new();
        let entries =
            std::fs::read_dir(&self.root).map_err(StoreError::io(format!("cannot list {}", self.describe())))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            match entry.file_type() {
                Ok(t) if t.is_symlink() => problems.push(Problem::new(
                    crate::domain::sanitize::visible(&name),
                    None,
                    "a symlink in the shared directory is not followed",
                )),
                Ok(t) if t.is_dir() => {
                    if incident::valid_incident_id(&name) {
                        ids.push(name);
                    } else {
                        problems.push(Problem::new(
                            crate::domain::sanitize::visible(&name),
                            None,
                            "not an incident folder name; ignored",
                        ));
                    }
                }
                _ => {}
            }
        }
        ids.sort();
        Ok((ids, problems))
    }

    /// An incident by id or unique prefix.
    pub fn resolve(&self, wanted: &str) -> Result<String, StoreError> {
        let (ids, _) = self.list_incidents()?;
        if ids.iter().any(|i| i == wanted) {
            return Ok(wanted.to_string());
        }
        let matches: Vec<&String> = ids
            .iter()
            .filter(|i| i.starts_with(wanted) || i.contains(wanted))
            .collect();
        let prefixed: Vec<&&String> = matches.iter().filter(|i| i.starts_with(wanted)).collect();
        match (prefixed.as_slice(), matches.as_slice()) {
            ([one], _) => Ok((**one).clone()),
            ([], [one]) => Ok((*one).clone()),
            ([], []) => Err(StoreError::NoSuchIncident(wanted.to_string(), self.describe())),
            (_, many) => Err(StoreError::Ambiguous(
                wanted.to_string(),
                many.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
            )),
        }
    }
}
