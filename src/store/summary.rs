//! What `list` and the board show of an incident, cached per incident (in one file per shared
//! root) in this host's state directory (never the shared one), so a board of a thousand
//! incidents does not read and fold a thousand histories every time.
//!
//! The cache is only a cache: each entry is keyed by what it was made from — every log's
//! length, identity (device, inode) and change times and the hash of its last line (the head of
//! its chain), the claim's bytes, the playbook copies' identities, what this host remembers of
//! the incident (`memory`), the signature policy in force (the `allowed_signers` content and
//! whether signatures are required), and the binary that folded it. A key that does not match the folder
//! now is not trusted: the incident is read and folded again and the entry rewritten. An entry
//! is written only when the folder did not move while it was folded, and nothing time-dependent
//! was found (a last line still settling, a record held back for being dated ahead, a playbook
//! taken from this host's library), and it is used only at or after the time it was folded: what
//! was settled then is settled at any later time, but a clock set back (one that ran a day ahead,
//! corrected) would hold back records again that the entry has applied. Delete the folder and
//! every output is the same.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::incident::{Incident, View};
use super::{fsutil, Store, EVENTS_DIR, HEADER_FILE, LOG_EXT, PLAYBOOKS_DIR};
use crate::domain::event::Mode;
use crate::domain::time::Millis;
use crate::domain::Phase;

/// Bumped when the entry's layout or meaning changes.
const FORMAT: u32 = 4;
/// How many bytes of a log's end are read to find its last line's hash.
const TAIL: u64 = 4096;

/// One incident as `list` and the board show it: exactly what a fresh fold gives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub id: String,
    pub title: String,
    pub severity: Option<u8>,
    pub phase: Phase,
    pub commander: Option<String>,
    pub mode: Option<Mode>,
    pub declared_at: Option<Millis>,
    /// When it was resolved (ms, UTC): the board's age stops there.
    #[serde(default)]
    pub resolved_at: Option<Millis>,
    pub last_update: Option<(Millis, String)>,
    pub syncing: bool,
    /// Not declared because its declaration lacks a signature that counts (`syncing` too, but
    /// never shown as such). No serde default: an entry without it is of an older format.
    pub unsigned: bool,
    pub archived: bool,
    pub resolved: bool,
    /// Files, lines and rules: `View::problems().len()`.
    pub problems: usize,
    /// The playbook the incident runs: id and version.
    pub playbook: Option<(String, String)>,
    pub duplicate_of: Option<String>,
    /// Due times of deadline stages running and neither met nor waived.
    pub open_dues: Vec<Millis>,
    pub events: usize,
    /// The fingerprints its alert entries record (`ingest` finds an alert's incident by them
    /// without reading any history).
    #[serde(default)]
    pub alert_fingerprints: std::collections::BTreeSet<String>,
    /// Who wrote those entries (persons): accounts that write alerts.
    #[serde(default)]
    pub alert_writers: std::collections::BTreeSet<String>,
    /// Something in it depends on the time it was read (a last line still settling, a record
    /// held back for being dated more than a day ahead): it changes with no file changing, so
    /// the board reads it again on each pass until nothing does. Never kept in the cache.
    #[serde(default)]
    pub pending: bool,
}

impl Summary {
    pub fn of(id: &str, v: &View) -> Summary {
        let s = &v.state;
        let d = &s.derived;
        Summary {
            id: id.to_string(),
            title: s.title().to_string(),
            severity: s.severity(),
            phase: s.phase(),
            commander: s.commander().map(str::to_string),
            mode: s.mode(),
            declared_at: s.declared_at(),
            resolved_at: s.resolved_at(),
            last_update: d.last_update.clone(),
            syncing: v.is_syncing(),
            unsigned: crate::domain::unsigned::is_unsigned(s),
            archived: d.archived.is_some(),
            resolved: s.is_resolved(),
            problems: v.problems().len(),
            playbook: s.playbook().map(|p| (p.id.clone(), p.version.clone())),
            duplicate_of: d.duplicate_of.as_ref().map(|r| r.value.clone()),
            open_dues: s
                .playbook()
                .map(|p| crate::domain::deadline::open_dues(s, p))
                .unwrap_or_default(),
            events: s.event_count(),
            alert_fingerprints: s
                .events()
                .filter_map(|e| match &e.body {
                    crate::domain::event::Body::Note(n) => crate::domain::event::alert_fingerprint(&n.tags),
                    _ => None,
                })
                .map(str::to_string)
                .collect(),
            alert_writers: d.alert_writers.clone(),
            pending: !v.settling.is_empty(),
        }
    }
}

/// A file's identity and change stamp, from `lstat` (never following a symlink).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    kind: char,
    len: u64,
    dev: u64,
    ino: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

fn stamp(path: &Path) -> Option<Stamp> {
    let m = std::fs::symlink_metadata(path).ok()?;
    let t = m.file_type();
    Some(Stamp {
        kind: if t.is_symlink() {
            'l'
        } else if t.is_dir() {
            'd'
        } else if t.is_file() {
            'f'
        } else {
            'o'
        },
        len: m.len(),
        dev: m.dev(),
        ino: m.ino(),
        mtime: (m.mtime(), m.mtime_nsec()),
        ctime: (m.ctime(), m.ctime_nsec()),
    })
}

/// What an incident folder holds now, as far as the summary depends on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scan {
    header: Option<Stamp>,
    /// BLAKE3 of the claim's bytes (a regular file only).
    header_hash: Option<String>,
    playbooks_dir: Option<Stamp>,
    playbooks: Vec<(String, Option<Stamp>)>,
    events_dir: Option<Stamp>,
    /// Every entry of the events folder (dot-files aside: the reader skips them), with the hash
    /// of a log's last line: the head of its chain.
    logs: Vec<(String, Option<Stamp>, Option<String>)>,
}

/// Entry names of a folder (not through a symlink), sorted, dot-files aside. `stamp` is the
/// folder's, just taken: a symlink or anything but a folder is not listed (one `lstat` less per
/// folder than asking again).
fn names(dir: &Path, stamp: Option<&Stamp>) -> Vec<String> {
    if stamp.is_none_or(|s| s.kind != 'd') {
        return Vec::new();
    }
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    v.sort();
    v
}

/// BLAKE3 of the last complete line of a log `len` bytes long (what the next record's `prev`
/// names), or of its last `TAIL` bytes when that line is longer.
fn head_hash(path: &Path, len: u64) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = fsutil::open_read(path).ok()?;
    let from = len.saturating_sub(TAIL);
    f.seek(SeekFrom::Start(from)).ok()?;
    let mut buf = Vec::with_capacity((len - from) as usize);
    f.take(len - from).read_to_end(&mut buf).ok()?;
    let end = buf.iter().rposition(|&b| b == b'\n')?;
    match buf[..end].iter().rposition(|&b| b == b'\n') {
        Some(nl) => Some(crate::domain::event::line_hash(&buf[nl + 1..end])),
        None if from == 0 => Some(crate::domain::event::line_hash(&buf[..end])),
        None => Some(format!("tail:{}", crate::domain::event::line_hash(&buf))),
    }
}

impl Scan {
    /// Look at the folder: stats, the events folder's listing, each log's last line, the claim.
    pub fn take(dir: &Path) -> Scan {
        let header_path = dir.join(HEADER_FILE);
        let header = stamp(&header_path);
        let header_hash = header
            .as_ref()
            .filter(|s| s.kind == 'f' && s.len <= 1 << 20)
            .and_then(|s| fsutil::open_read(&header_path).ok().map(|f| (f, s.len)))
            .and_then(|(f, len)| {
                use std::io::Read;
                // Sized from the stamp: `take` hides the file's size from `read_to_end`, which
                // then reads a claim of a few hundred bytes 32 bytes at a time.
                let mut b = Vec::with_capacity(len as usize + 1);
                f.take(1 << 20).read_to_end(&mut b).ok().map(|_| b)
            })
            .map(|b| crate::domain::event::line_hash(&b));
        let pdir = dir.join(PLAYBOOKS_DIR);
        let edir = dir.join(EVENTS_DIR);
        let playbooks_dir = stamp(&pdir);
        let events_dir = stamp(&edir);
        Scan {
            header,
            header_hash,
            playbooks: names(&pdir, playbooks_dir.as_ref())
                .into_iter()
                .map(|n| {
                    let s = stamp(&pdir.join(&n));
                    (n, s)
                })
                .collect(),
            playbooks_dir,
            logs: names(&edir, events_dir.as_ref())
                .into_iter()
                .map(|n| {
                    let p = edir.join(&n);
                    let s = stamp(&p);
                    let head = s
                        .as_ref()
                        .filter(|s| s.kind == 'f' && n.ends_with(LOG_EXT))
                        .and_then(|s| head_hash(&p, s.len));
                    (n, s, head)
                })
                .collect(),
            events_dir,
        }
    }

    /// The stats alone, in a fixed order: what [`Scan::unchanged`] compares.
    fn stamps(&self) -> Vec<Option<&Stamp>> {
        let mut v = vec![self.header.as_ref(), self.playbooks_dir.as_ref()];
        v.extend(self.playbooks.iter().map(|(_, s)| s.as_ref()));
        v.push(self.events_dir.as_ref());
        v.extend(self.logs.iter().map(|(_, s, _)| s.as_ref()));
        v
    }

    /// Whether the folder looks as it did at this scan, by `lstat` alone (no file or folder is
    /// opened, so it costs a few microseconds and wakes no watcher). A folder's own stamp moves
    /// when an entry is added or removed; a file's when it is written, replaced or renamed.
    pub fn unchanged(&self, dir: &Path) -> bool {
        let pdir = dir.join(PLAYBOOKS_DIR);
        let edir = dir.join(EVENTS_DIR);
        let mut now = vec![stamp(&dir.join(HEADER_FILE)), stamp(&pdir)];
        now.extend(self.playbooks.iter().map(|(n, _)| stamp(&pdir.join(n))));
        now.push(stamp(&edir));
        now.extend(self.logs.iter().map(|(n, _, _)| stamp(&edir.join(n))));
        now.iter().map(Option::as_ref).eq(self.stamps())
    }
}

impl Scan {
    /// Whether a file changed so recently (within `window` of now) that another write in the
    /// same timestamp tick would leave its stamp as it is (file systems keep times in ticks of
    /// a few milliseconds, some in seconds): a summary made from it is not kept ("racy", as git
    /// calls it), and the board reads it again next pass. Such an incident is being written to.
    /// (A file server whose clock is far ahead stamps files in the future: those are not
    /// counted, or every pass would read them again.)
    pub fn racy(&self, window: std::time::Duration) -> bool {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let pair = |d: std::time::Duration| (d.as_secs() as i64, i64::from(d.subsec_nanos()));
        let (from, to) = (pair(now.saturating_sub(window)), pair(now + window));
        self.stamps()
            .into_iter()
            .flatten()
            .any(|s| (from..=to).contains(&s.ctime) || (from..=to).contains(&s.mtime))
    }
}

/// How recent a change makes a scan racy (see [`Scan::racy`]).
pub const RACY: std::time::Duration = std::time::Duration::from_secs(2);

/// The binary folding: a cache written by another build (other fold rules) is not trusted.
pub(crate) fn build_id() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        let exe = std::env::current_exe()
            .ok()
            .and_then(|p| std::fs::metadata(p).ok())
            .map(|m| format!("{}.{}.{}", m.len(), m.mtime(), m.mtime_nsec()))
            .unwrap_or_default();
        format!("{} {exe}", env!("CARGO_PKG_VERSION"))
    })
}

/// One incident's summary and what it was made from.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    memory: String,
    scan: Scan,
    summary: Summary,
    /// This host's clock when it was folded (ms, UTC): the entry is used only from then on.
    folded_at: Millis,
}

/// Every incident's entry for one shared root, in one file: read once and written once by a
/// `list` or a board pass, however many incidents there are. Two processes writing it at once
/// lose one's entries, which only costs a fold later.
#[derive(Debug, Default, Serialize, Deserialize)]
struct CacheFile {
    format: u32,
    build: String,
    entries: BTreeMap<String, Entry>,
}

/// Where the entries of this store's shared root are kept: keyed by the root's path.
pub fn cache_path(store: &Store) -> PathBuf {
    let key = &crate::domain::event::line_hash(store.root.as_os_str().as_encoded_bytes())[..32];
    store.state_dir.join("summaries").join(format!("{key}.json"))
}

fn read_cache(path: &Path) -> BTreeMap<String, Entry> {
    let Ok(m) = std::fs::metadata(path) else {
        return BTreeMap::new();
    };
    if m.len() > 256 << 20 {
        return BTreeMap::new();
    }
    std::fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice::<CacheFile>(&b).ok())
        .filter(|c| c.format == FORMAT && c.build == build_id())
        .map(|c| c.entries)
        .unwrap_or_default()
}

fn write_cache(path: &Path, entries: BTreeMap<String, Entry>) {
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let file = CacheFile {
        format: FORMAT,
        build: build_id().to_string(),
        entries,
    };
    if let Ok(text) = serde_json::to_vec(&file) {
        // A lost write only costs a fold next time.
        let _ = fsutil::write_atomic_unsynced(path, &text, super::Sharing::private());
    }
}

/// What happened when a summary was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The entry matched the folder: nothing was read but stats, heads and the claim.
    Hit,
    /// Read and folded (no entry, or one that did not match); the entry was rewritten.
    Folded,
    /// Read and folded; not cached (the folder moved meanwhile, or something time-dependent).
    NotCached,
}

/// Incident `id`'s summary, from the cache when its entry matches the folder now, else from a
/// fresh read and fold (and the entry rewritten). Also returns the scan taken before reading,
/// for a cheap "has anything changed since" later.
pub fn load(store: &Store, id: &str, now: Millis) -> (Summary, Scan, Outcome) {
    load_with(store, id, now, RACY)
}

/// [`load`] with another racy window (tests, which wait out timestamp ticks themselves).
pub fn load_with(store: &Store, id: &str, now: Millis, racy: std::time::Duration) -> (Summary, Scan, Outcome) {
    let path = cache_path(store);
    let mut entries = read_cache(&path);
    let (summary, scan, fresh) = one(store, id, now, racy, &trust_key(store), entries.get(id));
    let outcome = match fresh {
        Some(Some(e)) => {
            entries.insert(id.to_string(), e);
            write_cache(&path, entries);
            Outcome::Folded
        }
        Some(None) => Outcome::NotCached,
        None => Outcome::Hit,
    };
    (summary, scan, outcome)
}

/// One incident's summary, the scan before reading, and `None` on a hit, else the new entry if
/// it may be kept.
type One = (Summary, Scan, Option<Option<Entry>>);

/// The signature policy a summary was folded under: the `allowed_signers` content in force and
/// whether this responder requires signatures (a row where signatures are required changes with
/// them).
pub fn trust_key(store: &Store) -> String {
    format!("{} {}", store.allowed_signers().digest, store.trust.require)
}

/// `trust` is [`trust_key`], taken before reading: a change while folding leaves an entry that
/// misses next time.
fn one(store: &Store, id: &str, now: Millis, racy: std::time::Duration, trust: &str, cached: Option<&Entry>) -> One {
    let dir = store.incident_dir(id);
    let remembered = super::incident::remembered(store, id);
    let memory = format!("{} {trust}", super::incident::memory_hash(&remembered));
    let scan = Scan::take(&dir);
    if let Some(e) = cached {
        if e.memory == memory && e.scan == scan && e.summary.id == id && now >= e.folded_at {
            return (e.summary.clone(), scan, None);
        }
    }
    // A summary shows no note's text.
    let inc = Incident::open_without_texts(store, id, now, remembered);
    let summary = Summary::of(id, &inc);
    // Whether the folder moved while it was read: by `lstat` alone, which is as strict here as
    // scanning again (heads and claim hashed anew) would be. A write changes the written file's
    // change time (`ctime`, which no one can set back), so a stamp taken before it differs
    // afterwards — unless the write fell in the same timestamp tick as the stamp, and then the
    // scan is racy and nothing is kept anyway. (Scanning again cost ≈ 25 syscalls and two
    // hashes per incident: a quarter of a cold `list`'s system calls.)
    let keep = (inc.cacheable() && !scan.racy(racy) && scan.unchanged(&dir)).then(|| Entry {
        memory: format!("{} {trust}", inc.remembered_hash()),
        scan: scan.clone(),
        summary: summary.clone(),
        folded_at: now,
    });
    (summary, scan, Some(keep))
}

/// [`load`] for many incidents, spread over the cores; results in the order of `ids`. The cache
/// file is read once and written once, if anything changed (entries of incidents whose folder
/// is gone are dropped then).
pub fn load_many(store: &Store, ids: &[String], now: Millis) -> Vec<(Summary, Scan)> {
    let path = cache_path(store);
    let entries = read_cache(&path);
    let threads = super::threads().min(ids.len().max(1));
    // Read once for all of them, before any is read (see `one`).
    let trust = trust_key(store);
    let run = |id: &String| one(store, id, now, RACY, &trust, entries.get(id));
    let run = &run;
    let results: Vec<One> = if threads < 2 || ids.len() < 4 {
        ids.iter().map(run).collect()
    } else {
        // Interleaved, so a few long incidents next to each other do not all land on one thread.
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    scope.spawn(move || {
                        ids.iter()
                            .enumerate()
                            .skip(t)
                            .step_by(threads)
                            .map(|(i, id)| (i, run(id)))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            let mut out: Vec<Option<One>> = vec![None; ids.len()];
            for h in handles {
                if let Ok(part) = h.join() {
                    for (i, r) in part {
                        out[i] = Some(r);
                    }
                }
            }
            // A thread that died (it cannot: reading returns problems, not panics) is redone here.
            out.into_iter()
                .zip(ids)
                .map(|(r, id)| r.unwrap_or_else(|| run(id)))
                .collect()
        })
    };
    // Entries of the other incidents stay, unless their folder is gone.
    let mut next = entries;
    let before = next.len();
    next.retain(|k, _| ids.contains(k) || store.incident_dir(k).is_dir());
    let mut changed = next.len() != before;
    let mut out = Vec::with_capacity(ids.len());
    for (id, (summary, scan, fresh)) in ids.iter().zip(results) {
        match fresh {
            None => {}
            Some(Some(e)) => {
                changed = true;
                next.insert(id.clone(), e);
            }
            Some(None) => changed |= next.remove(id).is_some(),
        }
        out.push((summary, scan));
    }
    if changed {
        write_cache(&path, next);
    }
    out
}
