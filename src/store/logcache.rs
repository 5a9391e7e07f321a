//! A local cache of each log's records (issue 12: a second open does the work of what changed,
//! not of the whole history): a first read of a long log writes the records it produced, in a
//! compact binary form, to this host's state directory (never the shared one); the next open
//! takes them from there instead of hashing, chain-checking and parsing every line again, and
//! reads only the bytes after them.
//!
//! One file per log, `<state>/logcache/<incident key>/<log>.bin`. An entry is used only when
//! - the log's first `len` bytes still hash (BLAKE3) to what they did when it was written: any
//!   edit, cut, rollback or replacement of them misses;
//! - the `allowed_signers` in force is the same (its digest and this host's unaccepted changes:
//!   signature verdicts depend on both), and so is the build (encoding and reader rules);
//! - the head this host remembers seeing of that log is the entry's last record or lies after
//!   it (a remembered head inside the stretch would have to be compared record by record);
//! - the whole file checks against a BLAKE3 keyed with this host's secret (the one
//!   [`super::sigcache`] makes, mode 0600): an edited, made-up or copied entry is never used.
//!
//! Only a clean stretch is kept: one whose reading raised no problem, mark or second version
//! (those are found and reported again on every open, so they are always read from the log).
//! What the reader hands on from an entry is exactly what reading the same bytes would have
//! (`tests/logcache.rs` holds it to that for appends, torn tails, edits and rollbacks). A miss,
//! an unreadable file or a full disk only costs speed; deleting the folder is always safe.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::sigcache::field;
use crate::domain::event::{self, Body, Event, LogNames, Name, Note, NoteText, Signed, TextAt};
use crate::domain::tags::TagInterner;

/// Bump when the encoding changes (the build id changes too, but a rebuild of the same source
/// keeps entries that the same code wrote).
const FORMAT: u32 = 8;
const MAGIC: &[u8; 8] = b"WRLOGC01";
/// `trailer length (u32) | keyed BLAKE3 of everything before the footer (32) | MAGIC`.
const FOOTER: u64 = 4 + 32 + 8;
/// Below this many new bytes a log is not worth writing an entry for (~3k records): reading
/// them from the log costs a few ms.
pub const MIN_NEW_BYTES: u64 = 1 << 20;
/// Bytes read at a time when an entry is checked or decoded, and written at a time when one is
/// made. A second open of 1M records checks and decodes four entries at once, six buffers: with
/// 1 MiB each it took ≈ 0.08 s longer and ≈ 5 MiB more (median of 6 opens each, stop 26); a
/// first open writes four entries at once.
const COPY_BUF: usize = 128 << 10;
/// A record frame over this is refused on reading (a writer's line is at most 256 KiB).
const MAX_FRAME: usize = 4 * event::MAX_LINE;

/// The cache of one incident's logs.
#[derive(Debug, Clone)]
pub struct LogCache {
    dir: PathBuf,
    secret: [u8; 32],
    build: String,
    incident: String,
    min_new: u64,
}

/// Where the reader stood after an entry's records: what it needs to go on reading the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// Bytes of the log the entry covers (complete lines).
    pub len: u64,
    pub line: u64,
    pub intact_from: u64,
    /// Hash of the last line (the chain head).
    pub prev_line: String,
    pub last_record: (u64, String, u64),
    /// The `prev` the last record names (records are kept without theirs): what the reader
    /// needs if the line after the entry shows that record edited.
    pub last_prev: String,
    pub last_good: (u64, String),
    /// Where the line of `last_good` lies (start, length) and its line number: a copy of that
    /// record read right after the entry is a fork (see `reader::note_fork`), as on a fresh read.
    pub good_line: Option<(u64, u64, u64)>,
    /// Signed stretches found in it: (from, to, principal, fingerprint).
    pub signed: Vec<(u64, u64, String, String)>,
    /// The entry ends where the reading found the log's first problem: reading on from it finds
    /// that problem again, so the entry is not rewritten to cover more.
    pub ends_at_problem: bool,
}

/// What an entry must match to be used.
pub struct Expect<'a> {
    pub log: &'a str,
    /// [`trust_key`] of the `allowed_signers` in force.
    pub trust: &'a [u8; 32],
    /// The head this host remembers of the log (seq, line hash).
    pub remembered: Option<(u64, &'a str)>,
}

/// A matching entry, its records not yet read.
pub struct Hit {
    pub position: Position,
    /// The block hashes of the log's first `position.len` bytes (the reader goes on from them,
    /// and checks that they stay as read).
    pub read: super::prefix::ReadPrefix,
    data: std::io::Take<BufReader<File>>,
    records: u64,
    /// The last record's frame (see [`Hit::frame`]); its buffer is reused.
    frame: Vec<u8>,
}

/// Writes a new entry as a log is read; dropped unfinished, it leaves nothing behind.
pub struct Recorder {
    tmp: PathBuf,
    dest: PathBuf,
    /// `None` after a write failed (a full disk: no entry this time).
    out: Option<File>,
    mac: blake3::Hasher,
    /// Bytes written but not yet fed to `mac` nor to the file: both take them in large pieces
    /// (see [`MAC_BATCH`]), from this one buffer.
    unmacked: Vec<u8>,
    /// Log bytes consumed so far (from offset 0).
    hashed: u64,
    records: u64,
    /// Bytes written to `tmp`.
    written: u64,
    frame: Vec<u8>,
    key: Vec<u8>,
    /// The last point at which everything read was clean (taken once per chunk read), to end
    /// the entry at when a problem turns up after it.
    checkpoint: Option<Checkpoint>,
    /// How much of the log the entry it continues already covered.
    base_len: u64,
}

struct Checkpoint {
    written: u64,
    records: u64,
    mac: blake3::Hasher,
    /// [`ReadPrefix::digest`](super::prefix::ReadPrefix::digest) of the log bytes read then.
    prefix: [u8; 32],
    hashed: u64,
    position: Position,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("dest", &self.dest)
            .field("records", &self.records)
            .finish()
    }
}

/// The part of the trust in force that signature verdicts depend on.
pub fn trust_key(t: &crate::domain::signing::AllowedSigners) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(b"warroom-logcache-trust-v1\0");
    field(&mut h, t.digest.as_bytes());
    field(&mut h, format!("{:?}", t.unaccepted).as_bytes());
    field(&mut h, format!("{:?}", t.shared_keys).as_bytes());
    // A verdict refused only by an unaccepted change is worded against the accepted copy.
    field(&mut h, t.accepted.as_ref().map_or("", |a| a.digest.as_str()).as_bytes());
    *h.finalize().as_bytes()
}

impl LogCache {
    /// The cache of the incident in folder `incident_dir`, in `state_dir` (`None` when the
    /// local secret cannot be had: then every log is read from its start, as before).
    pub fn open(state_dir: &Path, incident_dir: &Path) -> Option<LogCache> {
        Some(LogCache::open_keyed(
            state_dir,
            incident_dir,
            super::sigcache::local_secret(state_dir)?,
        ))
    }

    /// [`LogCache::open`] with the local secret already read (an incident's caches share it).
    pub fn open_keyed(state_dir: &Path, incident_dir: &Path, secret: [u8; 32]) -> LogCache {
        let scope = incident_dir.to_string_lossy().into_owned();
        let name = &blake3::hash(scope.as_bytes()).to_hex()[..32];
        LogCache {
            dir: state_dir.join("logcache").join(name),
            secret,
            build: super::summary::build_id().to_string(),
            incident: scope,
            // Tests set it to 0 so that every run after the first reads through the cache.
            min_new: std::env::var("WARROOM_LOGCACHE_MIN_BYTES")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(MIN_NEW_BYTES),
        }
    }

    /// Write entries once at least `bytes` new bytes were read (tests use 0).
    pub fn with_min_new(mut self, bytes: u64) -> LogCache {
        self.min_new = bytes;
        self
    }

    /// Whether any entry of this incident may be here (its folder exists): a first read of an
    /// incident this host never cached starts no thread to look for them.
    pub fn may_hold_entries(&self) -> bool {
        self.dir.is_dir()
    }

    pub fn min_new(&self) -> u64 {
        self.min_new
    }

    fn path(&self, log: &str) -> PathBuf {
        self.dir.join(format!("{log}.bin"))
    }

    /// Everything an entry is bound to besides the log's bytes.
    fn key(&self, log: &str, trust: &[u8; 32]) -> Vec<u8> {
        let mut k = Vec::new();
        put_u32(&mut k, FORMAT);
        put_str(&mut k, &self.build);
        put_str(&mut k, &self.incident);
        put_str(&mut k, log);
        k.extend_from_slice(trust);
        k
    }

    /// The entry of `expect.log` if it matches the log in `file` (`len` bytes long). Reads the
    /// entry once to check its seal and the log's first bytes to check their hash.
    pub fn load(&self, expect: &Expect, file: &mut File, len: u64) -> Option<Hit> {
        let path = self.path(expect.log);
        // Not blocking on a FIFO, not following a symlink: only a plain file is an entry.
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&path)
            .ok()?;
        let meta = f.metadata().ok().filter(|m| m.is_file())?;
        let size = meta.len();
        if size < FOOTER {
            return None;
        }
        f.seek(SeekFrom::Start(size - FOOTER)).ok()?;
        let mut footer = [0u8; FOOTER as usize];
        f.read_exact(&mut footer).ok()?;
        if &footer[36..] != MAGIC {
            return None;
        }
        let trailer_len = u32::from_le_bytes(footer[..4].try_into().ok()?) as u64;
        let mac: [u8; 32] = footer[4..36].try_into().ok()?;
        let body = size - FOOTER;
        if trailer_len > body {
            return None;
        }
        // The seal first: nothing in the file is looked at before it checks.
        f.seek(SeekFrom::Start(0)).ok()?;
        let mut h = blake3::Hasher::new_keyed(&self.secret);
        if copy_hashing((&mut f).take(body), &mut h)? != body {
            return None;
        }
        if blake3::Hash::from(mac) != h.finalize() {
            return None;
        }
        let mut trailer = vec![0u8; trailer_len as usize];
        f.seek(SeekFrom::Start(body - trailer_len)).ok()?;
        f.read_exact(&mut trailer).ok()?;
        let mut d = Dec { b: &trailer, at: 0 };
        let key = self.key(expect.log, expect.trust);
        if d.bytes(key.len())? != key.as_slice() {
            return None;
        }
        let records = d.u64()?;
        let prefix_hash: [u8; 32] = d.bytes(32)?.try_into().ok()?;
        let position = read_position(&mut d)?;
        if d.at != trailer.len() || position.len > len {
            return None;
        }
        match expect.remembered {
            Some((seq, _)) if seq < position.last_record.0 => return None,
            Some((seq, hash)) if seq == position.last_record.0 && hash != position.last_record.1 => return None,
            _ => {}
        }
        // The log's first bytes are still what the entry was made from.
        file.seek(SeekFrom::Start(0)).ok()?;
        let mut read = super::prefix::ReadPrefix::default();
        if copy_with(file.take(position.len), |bytes| read.feed(bytes))? != position.len {
            return None;
        }
        if read.digest() != prefix_hash {
            return None;
        }
        f.seek(SeekFrom::Start(0)).ok()?;
        Some(Hit {
            position,
            read,
            data: BufReader::with_capacity(COPY_BUF, f).take(body - trailer_len),
            records,
            frame: Vec::new(),
        })
    }

    /// A recorder for a new entry of `log` (`None` if the folder cannot be made).
    pub fn recorder(&self, log: &str, trust: &[u8; 32]) -> Option<Recorder> {
        // The entries hold every teammate's records: no more readable than the logs are to
        // this user (folders 0700, files 0600), whatever the umask.
        if let Some(parent) = self.dir.parent() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)
                .ok()?;
        }
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .ok()?;
        sweep(&self.dir);
        note_incident(&self.dir, &self.incident);
        static PRUNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        if !PRUNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
            if let Some(all) = self.dir.parent() {
                prune_removed(all);
            }
        }
        let dest = self.path(log);
        // Two readers of one log in one process (the console's board and open incident) each
        // write their own file; the last rename wins, both complete.
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = self.dir.join(format!(".{log}.{}.{n}.tmp", std::process::id()));
        let out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .ok()?;
        Some(Recorder {
            tmp,
            dest,
            out: Some(out),
            mac: blake3::Hasher::new_keyed(&self.secret),
            unmacked: Vec::with_capacity(MAC_BATCH),
            hashed: 0,
            records: 0,
            written: 0,
            frame: Vec::new(),
            key: self.key(log, trust),
            checkpoint: None,
            base_len: 0,
        })
    }
}

impl Hit {
    /// The next record (its log set to `log`); `None` after the last. Its frame as stored (to
    /// carry into a new entry) is [`Hit::frame`] until the next call. An entry that does not
    /// decode (it cannot: it was sealed by this build) is an error. Its tags are shared through
    /// `tags`, the log's interner. `texts`: notes' texts held (else left in the log).
    pub fn next_record(
        &mut self,
        names: &LogNames,
        tags: &mut TagInterner,
        texts: bool,
    ) -> Option<Result<Event, String>> {
        if self.records == 0 {
            return None;
        }
        self.records -= 1;
        let mut len = [0u8; 4];
        if self.data.read_exact(&mut len).is_err() {
            return Some(Err("cache entry ends early".into()));
        }
        let n = u32::from_le_bytes(len) as usize;
        if n > MAX_FRAME {
            return Some(Err("cache entry frame too long".into()));
        }
        self.frame.resize(n, 0);
        if self.data.read_exact(&mut self.frame).is_err() {
            return Some(Err("cache entry ends early".into()));
        }
        Some(decode(&self.frame, names, tags, texts))
    }

    /// The frame of the record [`Hit::next_record`] gave last.
    pub fn frame(&self) -> &[u8] {
        &self.frame
    }
}

impl Recorder {
    /// The log's next `n` bytes were consumed (every byte from offset 0, in order; the reader
    /// hashes them, see [`ReadPrefix`](super::prefix::ReadPrefix)).
    pub fn consumed(&mut self, n: usize) {
        self.hashed += n as u64;
    }

    /// Continue from a cache entry covering the log's first `len` bytes.
    pub fn continue_from(&mut self, len: u64) {
        self.hashed = len;
        self.base_len = len;
    }

    /// Everything read so far was clean, and the reader stands at `pos`; `prefix`: the
    /// [`ReadPrefix::digest`](super::prefix::ReadPrefix::digest) of the bytes read.
    pub fn checkpoint(&mut self, pos: Position, prefix: [u8; 32]) {
        if self.hashed != pos.len {
            return;
        }
        self.feed_mac();
        self.checkpoint = Some(Checkpoint {
            written: self.written,
            records: self.records,
            mac: self.mac.clone(),
            prefix,
            hashed: self.hashed,
            position: pos,
        });
    }

    /// A problem turned up: end the entry at the last clean point, if it covers more than the
    /// entry it continues.
    /// `problem`: a problem was found (not only a last line still settling).
    pub fn finish_at_checkpoint(mut self, problem: bool) {
        let Some(mut cp) = self.checkpoint.take() else { return };
        if cp.position.len <= self.base_len {
            return;
        }
        let Some(mut file) = self.out.take() else { return };
        if file.set_len(cp.written).is_err() {
            return;
        }
        if file.seek(SeekFrom::End(0)).is_err() {
            return;
        }
        self.out = Some(file);
        self.written = cp.written;
        self.records = cp.records;
        // What was written after the checkpoint is cut off the file: its MAC input goes too.
        self.unmacked.clear();
        self.mac = cp.mac;
        self.hashed = cp.hashed;
        cp.position.ends_at_problem = problem;
        self.finish(&cp.position, cp.prefix);
    }

    /// One record read (`line`: its line, without the newline).
    pub fn record(&mut self, e: &Event, line: &[u8], at: Option<TextAt>) {
        let mut frame = std::mem::take(&mut self.frame);
        frame.clear();
        encode(e, line, at, &mut frame);
        self.frame_raw(&frame);
        self.frame = frame;
    }

    /// One record carried over from an entry, as stored there.
    pub fn frame_raw(&mut self, frame: &[u8]) {
        let len = (frame.len() as u32).to_le_bytes();
        self.write(&len);
        self.write(frame);
        self.records += 1;
    }

    fn write(&mut self, bytes: &[u8]) {
        self.unmacked.extend_from_slice(bytes);
        self.written += bytes.len() as u64;
        if self.unmacked.len() >= MAC_BATCH {
            self.feed_mac();
        }
    }

    /// Feed the bytes written since the last call to the MAC and to the file (the same MAC
    /// as feeding them one write at a time: BLAKE3's result does not depend on how its input
    /// is split).
    fn feed_mac(&mut self) {
        self.mac.update(&self.unmacked);
        if let Some(out) = &mut self.out {
            if out.write_all(&self.unmacked).is_err() {
                self.out = None; // a full disk: no entry this time
            }
        }
        self.unmacked.clear();
    }

    /// Seal the entry and put it in place; the reader stood at `pos` after the records, and
    /// `prefix` is the [`ReadPrefix::digest`](super::prefix::ReadPrefix::digest) of the bytes
    /// it read.
    pub fn finish(mut self, pos: &Position, prefix: [u8; 32]) {
        if self.hashed != pos.len {
            return;
        }
        let mut t = std::mem::take(&mut self.key);
        put_u64(&mut t, self.records);
        t.extend_from_slice(&prefix);
        write_position(&mut t, pos);
        self.write(&t);
        self.feed_mac();
        let mut footer = Vec::with_capacity(FOOTER as usize);
        put_u32(&mut footer, t.len() as u32);
        footer.extend_from_slice(self.mac.finalize().as_bytes());
        footer.extend_from_slice(MAGIC);
        let Some(mut out) = self.out.take() else { return };
        if out.write_all(&footer).is_err() {
            return;
        }
        drop(out);
        let _ = std::fs::rename(&self.tmp, &self.dest);
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        // Finished: already renamed (this fails harmlessly). Dropped: the half entry goes.
        let _ = std::fs::remove_file(&self.tmp);
    }
}

/// How many written bytes [`Recorder`] gathers before feeding them to its MAC: fed a frame
/// (≈ 200 bytes) at a time, BLAKE3 compresses one 64-byte block after another, where a
/// large piece is hashed many blocks at once (SIMD); that was ≈ 15 % of a cold open's
/// serial thread.
const MAC_BATCH: usize = 64 << 10;

/// A half-written entry older than this was left by a process that was killed (an SSH drop
/// during a first open): removed when the next entry of that incident is written.
const STALE_TMP: std::time::Duration = std::time::Duration::from_secs(3600);

/// A half-written entry whose writer process is gone (its pid is in the name) and that has not
/// been written for this long is removed at once: a console killed during a first open leaves
/// up to a log's size behind. (A state folder shared by hosts through an NFS home may name
/// another host's live process: its entry is then only not kept, a cache miss.)
const ORPHAN_TMP: std::time::Duration = std::time::Duration::from_secs(60);

fn sweep(dir: &Path) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if !(name.starts_with('.') && name.ends_with(".tmp")) {
            continue;
        }
        let Some(age) = e
            .metadata()
            .ok()
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.elapsed().ok())
        else {
            continue;
        };
        if age > STALE_TMP || (age > ORPHAN_TMP && writer_gone(&name)) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Whether the process that wrote the temporary file `name` has exited (this host's `/proc`):
/// entries are `.<log>.<pid>.<n>.tmp`, the incident file `.incident.<pid>.tmp`.
fn writer_gone(name: &str) -> bool {
    let stem = name.trim_end_matches(".tmp");
    let mut from_end = stem.rsplit('.');
    let pid = if stem.starts_with(&format!(".{INCIDENT_FILE}.")) {
        from_end.next()
    } else {
        from_end.nth(1)
    };
    pid.and_then(|p| p.parse::<u32>().ok())
        .is_some_and(|pid| pid != std::process::id() && !Path::new("/proc").join(pid.to_string()).exists())
}

/// The file in an incident's folder of entries that names the incident folder they cache.
const INCIDENT_FILE: &str = "incident";

/// Write which incident folder `dir`'s entries belong to (once), so they can be pruned when it
/// is removed.
fn note_incident(dir: &Path, incident: &str) {
    let path = dir.join(INCIDENT_FILE);
    if path.exists() {
        return;
    }
    let tmp = dir.join(format!(".{INCIDENT_FILE}.{}.tmp", std::process::id()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| f.write_all(incident.as_bytes()));
    if written.is_ok() {
        let _ = std::fs::rename(&tmp, &path);
    } else {
        let _ = std::fs::remove_file(&tmp);
    }
}

/// Remove the entries (under `all`, the `logcache` folder) of incidents whose folder is gone
/// while the shared folder that held it is still there: an `rm -r` of an incident, not a
/// vanished mount (then nothing is removed). Entries written before this rule (no incident
/// file) are left. Done once per process, when an entry is written: entries cost about the
/// size of their logs, and a jump host keeps a year of incidents.
pub fn prune_removed(all: &Path) {
    for e in std::fs::read_dir(all).into_iter().flatten().flatten() {
        let Ok(named) = std::fs::read(e.path().join(INCIDENT_FILE)) else {
            continue;
        };
        let Ok(named) = String::from_utf8(named) else {
            continue;
        };
        let incident = Path::new(&named);
        if !incident.is_absolute() {
            continue;
        }
        let gone =
            matches!(std::fs::symlink_metadata(incident), Err(err) if err.kind() == std::io::ErrorKind::NotFound);
        let root_there = incident
            .parent()
            .is_some_and(|root| std::fs::metadata(root).is_ok_and(|m| m.is_dir()));
        if gone && root_there {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// Read `r` to its end into `h`; how many bytes, `None` on a read error.
fn copy_hashing(r: impl Read, h: &mut blake3::Hasher) -> Option<u64> {
    copy_with(r, |bytes| {
        h.update(bytes);
    })
}

/// Hand everything `r` reads to `take`, in pieces; returns the bytes read.
fn copy_with(mut r: impl Read, mut take: impl FnMut(&[u8])) -> Option<u64> {
    let mut buf = vec![0u8; COPY_BUF];
    let mut total = 0;
    loop {
        let n = r.read(&mut buf).ok()?;
        if n == 0 {
            return Some(total);
        }
        take(&buf[..n]);
        total += n as u64;
    }
}

fn write_position(t: &mut Vec<u8>, p: &Position) {
    put_u64(t, p.len);
    put_u64(t, p.line);
    put_u64(t, p.intact_from);
    put_str(t, &p.prev_line);
    put_u64(t, p.last_record.0);
    put_str(t, &p.last_record.1);
    put_u64(t, p.last_record.2);
    put_str(t, &p.last_prev);
    put_u64(t, p.last_good.0);
    put_str(t, &p.last_good.1);
    match p.good_line {
        None => t.push(0),
        Some((start, len, line)) => {
            t.push(1);
            put_u64(t, start);
            put_u64(t, len);
            put_u64(t, line);
        }
    }
    t.push(u8::from(p.ends_at_problem));
    put_u64(t, p.signed.len() as u64);
    for (from, to, principal, fingerprint) in &p.signed {
        put_u64(t, *from);
        put_u64(t, *to);
        put_str(t, principal);
        put_str(t, fingerprint);
    }
}

fn read_position(d: &mut Dec) -> Option<Position> {
    let len = d.u64()?;
    let line = d.u64()?;
    let intact_from = d.u64()?;
    let prev_line = d.string()?;
    let last_record = (d.u64()?, d.string()?, d.u64()?);
    let last_prev = d.string()?;
    let last_good = (d.u64()?, d.string()?);
    let good_line = match d.u8()? {
        0 => None,
        1 => Some((d.u64()?, d.u64()?, d.u64()?)),
        _ => return None,
    };
    let ends_at_problem = match d.u8()? {
        0 => false,
        1 => true,
        _ => return None,
    };
    let n = d.u64()?;
    let mut signed = Vec::new();
    for _ in 0..n {
        signed.push((d.u64()?, d.u64()?, d.string()?, d.string()?));
    }
    Some(Position {
        len,
        line,
        intact_from,
        prev_line,
        last_record,
        last_prev,
        last_good,
        good_line,
        signed,
        ends_at_problem,
    })
}

const NOTE: u8 = 0;
const SIGNED: u8 = 1;
/// Any other kind: the line itself, parsed again when read (they are few in a long log).
const LINE: u8 = 2;

/// One record in the cache's form: notes and signatures (the bulk of a long log) field by
/// field, anything else as its line. `at`: where its line is in the log (a note's text can be
/// left there when read back from the cache, see [`NoteText`]).
pub fn encode(e: &Event, line: &[u8], at: Option<TextAt>, out: &mut Vec<u8>) {
    let common = |out: &mut Vec<u8>| {
        put_str(out, &e.id);
        put_u64(out, e.at as u64);
        put_u64(out, e.wall as u64);
        match e.occurred.get() {
            Some(t) => {
                out.push(1);
                put_u64(out, t as u64);
            }
            None => out.push(0),
        }
        put_str(out, e.by());
        put_u64(out, e.seq);
    };
    match &e.body {
        // A note whose text is not held (never so when read: the reader records before it
        // leaves a text in the log) goes as its line, like any other kind: never a text made up.
        Body::Note(n) if n.text.held().is_some() => {
            out.push(NOTE);
            common(out);
            // Where its line is, if that can be named (else the text is always held).
            match at {
                Some(at) => {
                    out.push(1);
                    put_u64(out, at.offset());
                    put_u64(out, at.len());
                    put_u64(out, at.hash());
                }
                None => out.push(0),
            }
            put_str(out, n.text.held().unwrap_or_default()); // held: see the arm's guard
            put_u64(out, n.tags.len() as u64);
            for t in &n.tags {
                put_str(out, t);
            }
        }
        Body::Signed(s) => {
            out.push(SIGNED);
            common(out);
            put_str(out, &s.head);
            put_str(out, &s.key);
            put_str(out, &s.sig);
            match &s.log {
                Some(l) => {
                    out.push(1);
                    put_str(out, l);
                }
                None => out.push(0),
            }
        }
        _ => {
            out.push(LINE);
            out.extend_from_slice(line);
        }
    }
}

/// The record [`encode`] wrote, in the log `names` names (whose names it shares), its tags
/// shared through `tags` (the log's interner). `texts`: a note's text is held; else it is
/// left in the log ([`NoteText::InLog`]) and not even copied out of the frame.
pub fn decode(frame: &[u8], names: &LogNames, tags: &mut TagInterner, texts: bool) -> Result<Event, String> {
    let bad = || "cache entry does not decode".to_string();
    let (&kind, rest) = frame.split_first().ok_or_else(bad)?;
    if kind == LINE {
        let line = std::str::from_utf8(rest).map_err(|_| bad())?;
        let mut e = event::parse_in(line, names)?.event;
        tags.share_body(&mut e.body);
        return Ok(e);
    }
    let mut d = Dec { b: rest, at: 0 };
    let mut go = || -> Option<Event> {
        let id = event::RecordId::from(d.str()?);
        let at = d.u64()? as i64;
        let wall = d.u64()? as i64;
        let occurred = match d.u8()? {
            0 => None,
            1 => Some(d.u64()? as i64),
            _ => return None,
        };
        // Every record of a clean log is by its writer: share that name.
        let by = d.str()?;
        // A record by another writer than its log's (the reader refuses it) keys its own name.
        let log = if names.writer.as_str() == by {
            names.log.clone()
        } else {
            Name::with_writer(&names.log, by.into())
        };
        let seq = d.u64()?;
        let body = match kind {
            NOTE => {
                let at = match d.u8()? {
                    0 => None,
                    1 => Some(TextAt::new(d.u64()?, d.u64()?, d.u64()?)?),
                    _ => return None,
                };
                let text = match at {
                    Some(at) if !texts => {
                        // Checked when the entry was written, under its seal: not again here.
                        let n = d.u32()?;
                        d.bytes(n as usize)?;
                        NoteText::InLog(at)
                    }
                    _ => NoteText::from(d.str()?),
                };
                let n = d.u64()?;
                // The words are checked first, then shared straight from the frame (no list
                // of them is built per record: a run of records with one list costs a compare).
                let mut words = d.clone();
                for _ in 0..n {
                    d.str()?;
                }
                let tags = tags.share_words((0..n).map(move |_| words.str().unwrap_or_default()));
                Body::Note(Note { text, tags })
            }
            SIGNED => {
                let head = d.string()?;
                let key = d.string()?;
                let sig = d.string()?;
                let log = match d.u8()? {
                    0 => None,
                    1 => Some(d.string()?),
                    _ => return None,
                };
                Body::Signed(Box::new(Signed { head, key, sig, log }))
            }
            _ => return None,
        };
        Some(Event {
            id,
            at,
            wall,
            occurred: occurred.into(),
            seq,
            body,
            log,
        })
    };
    let e = go().ok_or_else(bad)?;
    if d.at != d.b.len() {
        return Err(bad());
    }
    Ok(e)
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_u32(out, s.len() as u32);
    out.extend_from_slice(s.as_bytes());
}

#[derive(Clone)]
struct Dec<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Dec<'a> {
    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let s = self.b.get(self.at..end)?;
        self.at = end;
        Some(s)
    }

    fn u8(&mut self) -> Option<u8> {
        Some(self.bytes(1)?[0])
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.bytes(4)?.try_into().ok()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.bytes(8)?.try_into().ok()?))
    }

    fn str(&mut self) -> Option<&'a str> {
        let n = u32::from_le_bytes(self.bytes(4)?.try_into().ok()?) as usize;
        std::str::from_utf8(self.bytes(n)?).ok()
    }

    fn string(&mut self) -> Option<String> {
        self.str().map(str::to_string)
    }
}

#[cfg(test)]
mod tests {
    /// A FIFO (or anything but a plain file) where an entry would be is no entry: looking for
    /// it does not wait for a writer that never comes.
    #[test]
    fn a_fifo_in_place_of_an_entry_is_passed_over_without_waiting() {
        let tmp = tempfile::tempdir().expect("tmp");
        let incident = tmp.path().join("shared").join("inc");
        std::fs::create_dir_all(&incident).expect("incident folder");
        let cache = super::LogCache::open(&tmp.path().join("state"), &incident).expect("cache");
        std::fs::create_dir_all(&cache.dir).expect("dir");
        let made = std::process::Command::new("mkfifo")
            .arg(cache.path("bob@h.abc123"))
            .status()
            .expect("mkfifo");
        assert!(made.success(), "mkfifo");
        let log = tmp.path().join("log");
        std::fs::write(&log, b"").expect("log");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut file = std::fs::File::open(&log).expect("log");
            let expect = super::Expect {
                log: "bob@h.abc123",
                trust: &[0; 32],
                remembered: None,
            };
            let _ = tx.send(cache.load(&expect, &mut file, 0).is_none());
        });
        let missed = rx.recv_timeout(std::time::Duration::from_secs(20));
        assert_eq!(missed, Ok(true), "a FIFO is no entry, and is not waited on");
    }

    /// A console killed during a first open (Ctrl-C, an SSH drop) leaves a half-written entry:
    /// the next entry written for that incident removes it once it is a minute old, not an hour.
    #[test]
    fn a_killed_first_opens_half_written_entry_goes_with_the_next_entry() {
        let tmp = tempfile::tempdir().expect("tmp");
        let incident = tmp.path().join("shared").join("inc");
        std::fs::create_dir_all(&incident).expect("incident folder");
        let cache = super::LogCache::open(&tmp.path().join("state"), &incident).expect("cache");
        std::fs::create_dir_all(&cache.dir).expect("dir");
        let orphan = cache.dir.join(".bob@h.abc123.4194305.0.tmp");
        let fresh = cache.dir.join(".bob@h.abc123.4194306.0.tmp");
        let two_minutes_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(120);
        for (path, at) in [(&orphan, two_minutes_ago), (&fresh, std::time::SystemTime::now())] {
            let f = std::fs::File::create(path).expect("tmp entry");
            f.set_modified(at).expect("mtime");
        }
        drop(cache.recorder("alice@h.abc123", &[0; 32]));
        assert!(!orphan.exists(), "the orphan is removed");
        assert!(fresh.exists(), "one written a moment ago may still be written: kept");
    }

    #[test]
    fn a_half_written_entry_of_an_exited_process_is_an_orphan_and_a_live_ones_is_not() {
        let me = std::process::id();
        assert!(!super::writer_gone(&format!(".alice@h.abc123.{me}.7.tmp")));
        assert!(!super::writer_gone(&format!(".incident.{me}.tmp")));
        // pid 1 is always running; a pid above the kernel's limit never is.
        assert!(!super::writer_gone(".alice@h.abc123.1.3.tmp"));
        assert!(super::writer_gone(".alice@h.abc123.4194305.3.tmp"));
        assert!(super::writer_gone(".incident.4194305.tmp"));
        assert!(!super::writer_gone(".alice@h.abc123.notapid.3.tmp"));
    }

    use super::*;

    fn ev(body: Body) -> Event {
        Event {
            id: "01J0000000000000000000000A".into(),
            at: 1_700_000_000_000,
            wall: 1_700_000_000_123,
            occurred: event::Occurred::new(Some(1_699_999_000_000)),
            seq: 7,
            body,
            log: Name::with_writer("alice@h1.x", "alice@h1".into()),
        }
    }

    fn names() -> LogNames {
        LogNames::new("alice@h1.x", "alice@h1")
    }

    #[test]
    fn notes_and_signatures_decode_to_what_was_encoded() {
        for body in [
            Body::Note(Note {
                text: "host cleared — ✓ \"quoted\"".into(),
                tags: vec!["triage".into(), "fingerprint:abc".into()].into(),
            }),
            Body::Note(Note {
                text: "".into(),
                tags: Default::default(),
            }),
            Body::Signed(Box::new(Signed {
                head: "cd".repeat(32),
                key: "SHA256:xyz".into(),
                sig: "-----BEGIN SSH SIGNATURE-----\nabc\n-----END SSH SIGNATURE-----".into(),
                log: Some("alice@h1.x".into()),
            })),
            Body::Signed(Box::new(Signed {
                head: "cd".repeat(32),
                key: "k".into(),
                sig: "s".into(),
                log: None,
            })),
        ] {
            let e = ev(body);
            let mut out = Vec::new();
            let at = TextAt::new(400_000_000_123, 411, 0x0123_4567_89ab_cdef).expect("fits");
            encode(&e, b"", Some(at), &mut out);
            assert_eq!(
                decode(&out, &names(), &mut TagInterner::new(), true).expect("decodes"),
                e
            );
            // Left in the log, a note's text is where its line is; anything else is as held.
            let mut left = e.clone();
            if let Body::Note(n) = &mut left.body {
                n.text = NoteText::InLog(at);
            }
            let got = decode(&out, &names(), &mut TagInterner::new(), false).expect("decodes");
            assert_eq!(got, left);
            // Texts compare by what they read: the place is checked on its own.
            if let Body::Note(n) = &got.body {
                assert_eq!(n.text.in_log(), Some(at));
            }
            // A note whose text is not held goes as its line: read back from the entry, it
            // is the line's text.
            if let Body::Note(_) = &e.body {
                let line = event::encode(&e, &"p".into()).expect("a valid note");
                let mut as_line = Vec::new();
                encode(&left, line.as_bytes(), Some(at), &mut as_line);
                assert_eq!(as_line[0], LINE);
                let back = decode(&as_line, &names(), &mut TagInterner::new(), true).expect("decodes");
                assert_eq!(back.body, e.body);
            }
            // A line whose place cannot be named keeps its text held.
            let mut unplaced = Vec::new();
            encode(&e, b"", None, &mut unplaced);
            assert_eq!(
                decode(&unplaced, &names(), &mut TagInterner::new(), false).expect("decodes"),
                e
            );
            // A frame cut short or extended never decodes.
            for texts in [true, false] {
                assert!(decode(&out[..out.len() - 1], &names(), &mut TagInterner::new(), texts).is_err());
                let mut longer = out.clone();
                longer.push(0);
                assert!(decode(&longer, &names(), &mut TagInterner::new(), texts).is_err());
            }
        }
    }
}
