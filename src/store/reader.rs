//! Tailing an incident's logs by offset: each pass reads only new bytes and consumes complete
//! lines. Bad lines become problems and are skipped; nothing here can stop the other logs from
//! being read.
//!
//! The chain check of `verify` runs here too, incrementally: each record's `seq` and `prev` are
//! checked against the line before it, and against the heads this host remembers having seen,
//! so an edited, dropped, reordered or cut-off record is a problem in every output (console,
//! `show`, `tail`, `export`), naming log and line, and the record is marked where it is shown.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::{cache_ahead, fsutil, writer_of_log, EVENTS_DIR, LOG_EXT};
use std::sync::Arc;

#[path = "settle.rs"]
mod settle;

use crate::domain::event::{self, Body, Event, Line, LogNames, Name, PrevHash, Signed, MAX_LINE};
use crate::domain::signing::{AllowedSigners, SigError, NS_EVENT};
use crate::domain::tags::TagInterner;
use crate::domain::time::Millis;
use crate::domain::Problem;

/// How long an unparseable last line may stay bad before it is reported (a remote write may
/// still be landing).
pub const SETTLE_MS: Millis = 30_000;

const READ_CHUNK: usize = 1 << 20;
/// Bytes of a growing log checked again per pass beside its last block (see [`ReadPrefix`]):
/// ≈ 0.1 ms; a log of 256 KiB or less (about 800 records) is checked whole on every change, a
/// 300 MB one over ≈ 1,200 passes.
///
/// [`ReadPrefix`]: super::prefix::ReadPrefix
const SCRUB_BUDGET: u64 = 256 << 10;

/// How many parsed records [`IncidentReader::poll_streaming`] holds before handing them on.
pub const STREAM_EVENTS: usize = 4096;

#[derive(Debug, Default)]
struct Cursor {
    /// Shared by every record read from this log (see [`Name`]).
    writer: Name,
    /// `name@host.install`: the log's id, shared likewise.
    log: Name,
    /// Hash of the last line consumed (`None`: at the start, where the genesis hash is due).
    prev_line: Option<String>,
    /// Hash of the last record of this writer consumed, and its seq and line.
    last_record: Option<(u64, String, u64)>,
    /// The last record that passed the chain check (seq, hash): what the next one must follow,
    /// so one planted record does not make every honest one after it look out of place.
    last_good: Option<(u64, String)>,
    /// The chain check found something wrong in this log: its head is not remembered as seen,
    /// so the problem is found again on every run.
    tainted: bool,
    /// Copies of a seq already read (a second version), by seq: if the next record chains onto
    /// one of them, that version is the one the chain vouches for (the writer re-appending its
    /// original after an edit) — unless this host read another version of that seq before.
    repeats: BTreeMap<u64, (String, Event, PrevHash)>,
    /// Seqs found edited, with what the record after them holds for them (see [`Vouch`]): a
    /// copy of that seq appended later with that hash is the version the chain vouches for, and
    /// replaces the edited one at once. Bounded.
    vouched: BTreeMap<u64, Vouch>,
    /// Seqs found edited, with what their line in place holds: its hash, the `prev` it names and
    /// its line. The chain vouches from its head down: when a copy of the record after one of
    /// them is used, the version that copy names is the one to use (see [`settle_below`]).
    /// Bounded with `vouched`.
    in_place: BTreeMap<u64, (String, PrevHash, u64)>,
    /// Seqs whose record in place was found not to be the one the chain vouches for by a version
    /// of the record after them (see [`settle_below`]): what that record in place chained onto
    /// is vouched for by it alone. Bounded.
    doubted: BTreeSet<u64>,
    /// The `prev` of the last record consumed (what `in_place` keeps of it).
    last_prev: Option<PrevHash>,
    /// Where the line of `last_good` lies in the file (start, length) and its line number;
    /// `None` after records taken from the log cache.
    good_line: Option<(u64, u64, u64)>,
    /// Seqs where a copy was read while the record in place with that seq was the chain's last
    /// (a fork: a copy and records chained onto it may take the chain on from there), with
    /// where that record in place lies, not the record itself: it is read again from the file
    /// only if the chain from the head comes back to it (see [`settle_fork`]). Bounded.
    forks: BTreeMap<u64, Fork>,
    /// Seqs handed on by records out of their chain (after a gap): a record with the same seq
    /// that does follow the chain is its version, and replaces the other. Bounded.
    loose: BTreeSet<u64>,
    /// The newest record of this log read while nothing was found wrong in it (seq, hash): what
    /// this host remembers of the log once something is (see [`IncidentReader::heads`]).
    clean_head: Option<(u64, String)>,
    /// The chain's last record when a record that does not chain onto it was first read (a
    /// line naming nothing, planted after the head): records chained onto that one are not the
    /// writer's chain going on, so the head this host remembers stays here (see `read_log`).
    break_head: Option<(u64, String)>,
    /// The chain's last seq when this pass began, if nothing was wrong in the log then: a copy
    /// of a seq read in an earlier pass is never taken for the writer's restore — this reader
    /// read the version it holds.
    read_to: Option<u64>,
    /// A record was taken into the chain with something found wrong about it (an edit, a record
    /// that differs from what this host read): the chain itself is in doubt from there on. While
    /// it is not, problems beside the chain (a stray copy, a record out of its chain) do not stop
    /// what follows the chain from counting as read.
    chain_doubted: bool,
    /// The line just consumed was a copy of a seq read before: (its hash, seq, line). Only the
    /// next seq may chain onto it (see `repeats`); any other record doing so is out of its chain.
    after_copy: Option<(String, u64, u64)>,
    /// What this host wrote to this log itself, seq → line hash (see [`super::writer::own_versions`]),
    /// with the length of the local copy it was read from: loaded when a copy of a record first
    /// needs it, and again once this host has written more. On the writer's own host the version
    /// used is always the one it wrote.
    own_versions: Option<(u64, std::collections::HashMap<u64, String>)>,
    /// Bytes consumed.
    offset: u64,
    /// The hashes of the bytes consumed (`offset` of them): a log changed in place after it
    /// was read is read again from the start, as a fresh read would see it.
    prefix: super::prefix::ReadPrefix,
    /// (length, mtime ns, ctime ns) when last read: unchanged, nothing was written since.
    stamp: Option<(u64, i128, i128)>,
    /// Lines consumed (for `file:line` in problems).
    line: u64,
    /// (device, inode): a file replaced by one that begins with the bytes read is read on from
    /// the offset (sync tools replace files whole), else everything is read again.
    file_id: (u64, u64),
    /// The unparseable last line seen at this offset, and since when.
    pending_bad: Option<(u64, Millis)>,
    /// Inside an over-long line: skip to the next newline without buffering.
    skipping: bool,
    /// The first seq of the unbroken stretch of chain that ends at the last record read: a
    /// signature vouches for the records of that stretch only.
    intact_from: u64,
    /// Writing this log's records to the local cache while it is read from the start.
    recorder: Option<super::logcache::Recorder>,
    /// The tag lists of this log's records, shared (see [`Tags`](crate::domain::tags::Tags)):
    /// parsing runs across threads, so lists are shared here, in order, as records are taken.
    tags: TagInterner,
    /// What this host read of the log in earlier passes while it looked whole (seq, hash), as
    /// this pass began: a head it holds to (see [`settle`]).
    pass_head: Option<(u64, String)>,
    /// The stretch of the log from its lowest seq read in more than one version, settled from
    /// the log's head at the end of each pass (see [`settle`]).
    stretch: Option<settle::Stretch>,
}

/// What the chain says a seq found edited reads (see `Cursor::vouched`).
#[derive(Debug)]
struct Vouch {
    /// The hash the record after it names for it.
    hash: String,
    /// That record's line.
    by: u64,
    /// A record in place above it was found edited since: the records in place between them are
    /// vouched for only by that edited record, so this vouch is in doubt — held, using no copy —
    /// until a version of that record the chain does vouch for names them (see [`settle_below`]).
    held: bool,
}

/// The record in place at a fork (see `Cursor::forks`).
#[derive(Debug)]
struct Fork {
    /// Its line's hash, line number, and where the line lies in the file (start, length).
    hash: String,
    line: u64,
    at: (u64, u64),
    /// The copy used instead of it, while one is: its hash, and what it reads (for the mark
    /// once it is not used).
    copy_used: Option<(String, String)>,
}

/// Everything new since the last pass.
#[derive(Debug, Default)]
pub struct Batch {
    pub events: Vec<Event>,
    pub problems: Vec<Problem>,
    /// Records the chain check found wrong: (log, seq, why).
    pub marks: Vec<(String, u64, String)>,
    /// Versions of records the chain vouches for where another version of the same seq was
    /// read first (an edit, answered by the writer re-appending its original).
    pub preferred: Vec<Event>,
    /// Stretches of logs a valid SSH signature vouches for.
    pub signed: Vec<SignedRange>,
    /// The `allowed_signers` in force changed since records were judged against it: what was
    /// read must be read again from the start (see `Source::poll`), and this batch is stale.
    pub retrust: bool,
    /// A log read before no longer holds the bytes read (overwritten in place, cut, or replaced
    /// by a file that does not begin with them): what was read is stale, and everything is read
    /// again from the start (see `Source::poll`), as by a console started now. Why, as a problem.
    pub reread: Option<Problem>,
    /// Signatures checked valid in this pass, for the local cache.
    learned: Vec<(super::sigcache::Key, crate::domain::signing::Verified)>,
}

/// Records `from..=to` of `log` are vouched for by a valid signature of `principal`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRange {
    pub log: String,
    pub from: u64,
    pub to: u64,
    pub principal: String,
    pub fingerprint: String,
}

pub use super::memory::SeenHead;

pub struct IncidentReader {
    id: String,
    dir: PathBuf,
    cursors: BTreeMap<String, Cursor>,
    /// Files already reported as skipped (reported once).
    reported: BTreeMap<String, ()>,
    /// The newest record of each log that this host saw on an earlier run, by log id: a log that
    /// no longer holds it was cut back or edited, whoever's host did it.
    remembered: BTreeMap<String, SeenHead>,
    /// Logs that, fully read, end before what this host remembers of them, as problems: said
    /// while it is so (with [`IncidentReader::settling`]), gone when the records are back.
    short: Vec<Problem>,
    /// The `allowed_signers` file signatures are checked against, and its parsed contents
    /// (reloaded when its size or modification time changes).
    trust_path: Option<PathBuf>,
    trust_follow: bool,
    trust_kept: Option<PathBuf>,
    /// The note of the trust in force, once reported (reported again only when it changes).
    trust_note: Option<String>,
    /// The kept copy's (length, mtime ns) when the trust was last loaded.
    trust_kept_stamp: Option<(u64, i128)>,
    trust: (Option<(u64, i128)>, Arc<AllowedSigners>),
    /// The digest of the `allowed_signers` content the records read so far were judged against.
    trust_digest: Option<String>,
    /// Signatures this host already checked (local state); `None`: check every one.
    sig_cache: Option<super::sigcache::SigCache>,
    /// Records of logs this host read before (local state); `None`: read every log whole.
    log_cache: Option<super::logcache::LogCache>,
    /// [`super::logcache::trust_key`] of the trust in force.
    trust_key: [u8; 32],
    /// Records taken from the log cache so far.
    cached_records: u64,
    /// Logs found changed in place (or cut back) after they were read, in this run (kept
    /// across the read from the start that follows, see [`IncidentReader::changed_in_place`]):
    /// what was read of them since is what the edit left, not what this host read first, so a
    /// copy restored by their writer is not refused for it.
    changed_in_place: BTreeSet<String>,
    /// This host's state directory, where its writer keeps what it wrote (see `own_versions`).
    state_dir: Option<PathBuf>,
    /// Which notes' texts are held (see [`Texts`]).
    texts: Texts,
    /// Whether this pass holds them.
    pass_texts: bool,
}

/// Which notes' texts a reader holds; the others carry where their line is in the log
/// ([`event::NoteText::InLog`], read back by `store::note_text`). The state folded is the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Texts {
    /// Every one (the default).
    Held,
    /// None: for a caller that shows no note's text (`show`, the summaries behind `list`).
    LeftInLog,
    /// Those of the first pass (the bulk of a long history) left in the log, those read after
    /// it held: for the console, which reads back only the rows on screen and shows a
    /// teammate's new note as it comes.
    LeftInLogOnFirstPass,
}

impl IncidentReader {
    /// The logs found changed in place after they were read, in this run: carried by the
    /// caller into the reader that reads everything again (see `Batch::reread`).
    pub fn changed_in_place(&self) -> BTreeSet<String> {
        self.changed_in_place.clone()
    }

    /// Carry [`IncidentReader::changed_in_place`] over from the reader this one replaces.
    pub fn carry_changed_in_place(&mut self, logs: BTreeSet<String>) {
        self.changed_in_place.extend(logs);
    }

    /// Unreadable last lines still inside their settling time (a write may be landing): shown,
    /// not yet skipped.
    /// And the logs that end short of what this host read of them before, while they do (a log
    /// put back is not short any more).
    pub fn settling(&self) -> Vec<Problem> {
        self.cursors
            .iter()
            .filter_map(|(name, c)| {
                c.pending_bad.map(|_| {
                    Problem::new(
                        self.rel(name),
                        Some(c.line + 1),
                        "last line unreadable: looked at again for 30 s in case a write is still landing",
                    )
                })
            })
            .chain(self.short.iter().cloned())
            .collect()
    }

    pub fn new(incident_dir: PathBuf) -> IncidentReader {
        let id = incident_dir
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        IncidentReader {
            id,
            dir: incident_dir,
            cursors: BTreeMap::new(),
            reported: BTreeMap::new(),
            remembered: BTreeMap::new(),
            short: Vec::new(),
            trust_path: None,
            trust_follow: false,
            trust_kept: None,
            trust_note: None,
            trust_kept_stamp: None,
            trust: (None, Arc::new(AllowedSigners::default())),
            trust_digest: None,
            sig_cache: None,
            log_cache: None,
            trust_key: [0; 32],
            cached_records: 0,
            texts: Texts::Held,
            pass_texts: true,
            changed_in_place: BTreeSet::new(),
            state_dir: None,
        }
    }

    /// Check signatures against this `allowed_signers` file (none set: no signature verifies).
    /// `follow`: the file may be a symlink (the responder's own file, never the shared one).
    /// `kept`: this host's copy of the last good shared file, used when it is missing.
    pub fn set_trust(&mut self, path: PathBuf, follow: bool, kept: Option<PathBuf>) {
        self.trust_follow = follow;
        self.trust_kept = kept;
        self.trust_path = Some(path);
        self.trust.0 = None;
    }

    /// Take signatures found valid before from `cache`, and keep the new ones there.
    pub fn set_sig_cache(&mut self, cache: Option<super::sigcache::SigCache>) {
        self.sig_cache = cache;
    }

    /// Take the records of a log's start from `cache` when they match it, and keep them there
    /// after a long read (see [`super::logcache`]).
    pub fn set_log_cache(&mut self, cache: Option<super::logcache::LogCache>) {
        self.log_cache = cache;
    }

    /// Where this host's writer keeps what it wrote (`<state>/acked/`): a copy of a record in a
    /// log this host wrote is used only if this host wrote it.
    pub fn set_state_dir(&mut self, state_dir: PathBuf) {
        self.state_dir = Some(state_dir);
    }

    /// Which notes' texts the passes from the next one on hold (see [`Texts`]).
    pub fn set_texts(&mut self, texts: Texts) {
        self.texts = texts;
    }

    /// Leave every note's text in the log ([`Texts::LeftInLog`]).
    pub fn leave_texts_in_log(&mut self) {
        self.set_texts(Texts::LeftInLog);
    }

    pub fn texts(&self) -> Texts {
        self.texts
    }

    /// How many records were taken from the log cache instead of read from the logs.
    pub fn cached_records(&self) -> u64 {
        self.cached_records
    }

    /// Reload the `allowed_signers` file if it changed (one `stat` per pass); each line it
    /// skips is a problem (`file:line`, why), reported when the file is (re)read.
    fn refresh_trust(&mut self, batch: &mut Batch) {
        let Some(path) = &self.trust_path else { return };
        let stamp_of = |p: &Path| {
            fs::metadata(p)
                .ok()
                .map(|m| (m.len(), m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128))
        };
        let stamp = stamp_of(path);
        // The kept copy too: deleting it accepts a key change (the file itself unchanged).
        let kept_stamp = self.trust_kept.as_deref().and_then(stamp_of);
        if stamp.is_some() && stamp == self.trust.0 && kept_stamp == self.trust_kept_stamp {
            return;
        }
        let trust = super::load_trust(path, self.trust_follow, self.trust_kept.as_deref());
        // Read after the load, which may have written the copy (a change accepted).
        self.trust_kept_stamp = self.trust_kept.as_deref().and_then(stamp_of);
        // A change accepted (or newly pending) changes which keys count, the file unchanged.
        let accepted_changed = self.trust.1.unaccepted != trust.unaccepted;
        if trust.note != self.trust_note {
            if let Some(n) = &trust.note {
                batch
                    .problems
                    .push(Problem::new(path.display().to_string(), None, n.clone()));
            }
            self.trust_note = trust.note.clone();
        }
        if stamp.is_some() {
            for (n, why) in &trust.skipped {
                batch.problems.push(Problem::new(
                    path.display().to_string(),
                    Some(*n as u64),
                    format!("allowed_signers line skipped, does not count: {why}"),
                ));
            }
        }
        // A key added or removed changes verdicts already given (marks, signed stretches,
        // records refused or applied where signatures are required): say so, so they are all
        // given again from the start, as a fresh start would.
        if (self.trust_digest.as_ref().is_some_and(|d| *d != trust.digest) || accepted_changed)
            && !self.cursors.is_empty()
        {
            batch.retrust = true;
        }
        self.trust_digest = Some(trust.digest.clone());
        self.trust_key = super::logcache::trust_key(&trust);
        self.trust = (stamp, Arc::new(trust));
    }

    /// The heads this host saw on earlier runs: checked as the logs are read.
    pub fn remember(&mut self, heads: BTreeMap<String, SeenHead>) {
        self.remembered = heads;
    }

    /// The newest record read of each log, by log id (to remember for the next run).
    pub fn heads(&self) -> BTreeMap<String, SeenHead> {
        self.cursors
            .values()
            .filter_map(|c| {
                // Once something is wrong in a log, what is remembered is its newest record read
                // before that: a copy appended later does not become what this host saw.
                let (seq, hash) = if c.tainted {
                    c.clean_head.clone()?
                } else {
                    let (seq, hash, _) = c.last_record.clone()?;
                    (seq, hash)
                };
                Some((c.log.to_string(), SeenHead { seq, hash }))
            })
            .collect()
    }

    /// A log's path as shown in problems: a name holding characters that are never shown reads
    /// with them written out, not as the genuine log's name (see [`crate::domain::sanitize::visible`]).
    fn rel(&self, name: &str) -> String {
        format!("{}/{EVENTS_DIR}/{}", self.id, crate::domain::sanitize::visible(name))
    }

    /// One reconcile pass over every log: re-list the folder, re-open each file (this forces NFS
    /// close-to-open revalidation), read from the offset.
    pub fn poll(&mut self, now: Millis) -> Batch {
        self.poll_streaming(now, None)
    }

    /// [`Self::poll`], handing the records read to `sink` in parts of about [`STREAM_EVENTS`] as
    /// they are read (in log order, each log's in its order), so a first read of a long log is
    /// never held whole as parsed records; the batch returned holds the rest, and every problem,
    /// mark and signature found. What the sink is given is exactly what `poll` would return.
    pub fn poll_streaming(&mut self, now: Millis, mut sink: Option<&mut dyn FnMut(Vec<Event>)>) -> Batch {
        self.pass_texts = match self.texts {
            Texts::Held => true,
            Texts::LeftInLog => false,
            Texts::LeftInLogOnFirstPass => !self.cursors.is_empty(),
        };
        let mut batch = Batch::default();
        self.refresh_trust(&mut batch);
        if batch.retrust {
            return batch;
        }
        let events_dir = self.dir.join(EVENTS_DIR);
        for (dir, rel) in [
            (&self.dir, self.id.clone()),
            (&events_dir, format!("{}/{EVENTS_DIR}", self.id)),
        ] {
            match fsutil::real_dir(dir) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    if self.reported.insert(rel.clone(), ()).is_none() {
                        batch.problems.push(Problem::new(rel, None, format!("{e}; not read")));
                    }
                    return batch;
                }
                _ => {}
            }
        }
        let entries = match fs::read_dir(&events_dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if !self.cursors.is_empty() {
                    batch.problems.push(Problem::new(
                        format!("{}/{EVENTS_DIR}", self.id),
                        None,
                        "the incident folder vanished (unmounted or removed); showing the last known state",
                    ));
                }
                return batch;
            }
            Err(e) => {
                batch.problems.push(Problem::new(
                    format!("{}/{EVENTS_DIR}", self.id),
                    None,
                    format!("cannot list: {e}"),
                ));
                return batch;
            }
        };
        let mut names: Vec<(String, bool)> = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let is_symlink = entry.file_type().is_ok_and(|t| t.is_symlink());
            names.push((name, is_symlink));
        }
        names.sort();
        // A first read with the log cache on: entries are checked and decoded ahead, on a
        // thread of their own, while this one folds (see `cache_ahead`).
        let job = match &self.log_cache {
            Some(cache)
                if self.cursors.is_empty() && super::threads() >= 2 && !serial_only() && cache.may_hold_entries() =>
            {
                Some(cache_ahead::Job {
                    cache: cache.clone(),
                    events_dir: events_dir.clone(),
                    trust: self.trust_key,
                    remembered: self.remembered.clone(),
                    texts: self.pass_texts,
                })
            }
            _ => None,
        };
        std::thread::scope(|scope| {
            // `ahead` is dropped before the scope waits for the thread, even on a panic, so a
            // thread waiting to send to a receiver nobody reads ends.
            let mut ahead = job.map(|job| {
                let logs: Vec<String> = names
                    .iter()
                    .filter(|(n, l)| cache_ahead::readable(n, *l))
                    .map(|(n, _)| n.clone())
                    .collect();
                let (ahead, tx) = cache_ahead::start(&logs);
                scope.spawn(move || cache_ahead::run(job, logs, tx));
                ahead
            });
            // The entries' records first, every log's merged by key; each log's reading then
            // goes on from where its entry ends.
            if let Some(ahead) = ahead.as_mut() {
                ahead.hand_on(&events_dir, &mut |events| {
                    if batch.events.is_empty() {
                        batch.events = events;
                    } else {
                        batch.events.extend(events);
                    }
                    if let Some(sink) = &mut sink {
                        if batch.events.len() >= STREAM_EVENTS {
                            sink(std::mem::take(&mut batch.events));
                        }
                    }
                });
            }
            for (name, is_symlink) in names {
                if !cache_ahead::readable(&name, is_symlink) {
                    if self.reported.insert(name.clone(), ()).is_none() {
                        let why = if is_symlink {
                            "a symlink is not followed; skipped".to_string()
                        } else {
                            "not a warroom log (name@host.install.ronl); skipped".to_string()
                        };
                        batch.problems.push(Problem::new(self.rel(&name), None, why));
                    }
                    continue;
                }
                self.read_log(&name, now, &mut batch, &mut sink, ahead.as_mut());
                if batch.reread.is_some() {
                    return;
                }
            }
        });
        if batch.reread.is_some() {
            return batch;
        }
        self.check_remembered();
        if let Some(cache) = &mut self.sig_cache {
            for (k, v) in std::mem::take(&mut batch.learned) {
                cache.remember(k, v);
            }
            cache.save();
        }
        batch
    }

    /// Report a log that, fully read, ends before a record this host saw on an earlier run, or
    /// that vanished: cut back or rolled back, on whichever host it was done.
    fn check_remembered(&mut self) {
        let mut short = Vec::new();
        for (log, seen) in &self.remembered {
            let name = format!("{log}{LOG_EXT}");
            let ends_at = match self.cursors.get(&name) {
                Some(c) if c.pending_bad.is_some() || c.skipping => continue, // still landing
                // The chain's last record: a repeat planted after it does not end the log.
                Some(c) => Some(c.last_good.as_ref().map_or(0, |r| r.0)),
                None => None,
            };
            if ends_at.is_none_or(|n| n < seen.seq) {
                let what = match ends_at {
                    Some(n) => format!(
                        "ends at seq {n}, but this host saw seq {} of it before: records were cut off or the log was rolled back",
                        seen.seq
                    ),
                    None => format!(
                        "is gone, but this host saw seq {} of it before: the log was removed or renamed",
                        seen.seq
                    ),
                };
                short.push(Problem::new(self.rel(&name), None, what));
            }
        }
        self.short = short;
    }

    /// `ahead`: this log's entry as checked and decoded ahead (see `cache_ahead`), if it was.
    fn read_log(
        &mut self,
        name: &str,
        now: Millis,
        batch: &mut Batch,
        sink: &mut Option<&mut dyn FnMut(Vec<Event>)>,
        ahead: Option<&mut cache_ahead::Ahead>,
    ) {
        let rel = self.rel(name);
        let path = self.dir.join(EVENTS_DIR).join(name);
        let mut file = match fsutil::open_read(&path) {
            Ok(f) => f,
            Err(e) => {
                batch
                    .problems
                    .push(Problem::new(rel, None, format!("cannot open: {e}")));
                return;
            }
        };
        let Ok(meta) = file.metadata() else { return };
        if !meta.is_file() {
            return;
        }
        let names = LogNames::new(name.trim_end_matches(LOG_EXT), &writer_of_log(name).unwrap_or_default());
        let (writer, log) = (names.writer, names.log);
        let cursor = self.cursors.entry(name.to_string()).or_insert_with(|| Cursor {
            writer,
            log,
            file_id: (meta.dev(), meta.ino()),
            ..Cursor::default()
        });
        let len = meta.len();
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(now, |d| d.as_millis() as Millis);
        let (_, stamp) = fsutil::stamp(&meta);
        let replaced = cursor.file_id != (meta.dev(), meta.ino());
        if cursor.offset > 0 && (replaced || cursor.stamp != Some(stamp)) {
            // Written since the last read: bytes added (the usual), or bytes already read
            // overwritten, cut or replaced, which only reading again shows. Grown in place,
            // the block being filled and a few more in turn are checked; otherwise all of it.
            let grown = !replaced && len > cursor.offset;
            let held = match len >= cursor.offset {
                true => cursor.prefix.check(&mut file, grown.then_some(SCRUB_BUDGET)),
                false => Ok(false),
            };
            match held {
                Ok(true) => cursor.file_id = (meta.dev(), meta.ino()),
                Ok(false) => {
                    let what = if len < cursor.offset {
                        "log file shrank (cut back or rolled back) after it was read; everything is read again from the start"
                    } else {
                        "log file changed in place after it was read (bytes already read differ); everything is read again from the start"
                    };
                    batch.reread = Some(Problem::new(rel, None, what));
                    self.changed_in_place.insert(name.to_string());
                    return;
                }
                Err(e) => {
                    batch
                        .problems
                        .push(Problem::new(rel, None, format!("read failed: {e}")));
                    return;
                }
            }
        }
        cursor.stamp = Some(stamp);
        let before = (
            batch.problems.len(),
            batch.marks.len(),
            batch.preferred.len(),
            batch.signed.len(),
        );
        // Only what was read while the log looked whole counts as read (an edit this reader
        // read, and found, is what a writer's restore replaces; so is whatever was read of a
        // log after it was found changed in place). Once something is found wrong in a log,
        // what was read before still counts: a copy planted later does not replace it.
        // Taken before records come from the log cache: those are read in this pass, as if from
        // the log itself.
        let whole = match cursor.tainted {
            false => cursor.last_good.as_ref(),
            true => cursor.clean_head.as_ref(),
        };
        cursor.pass_head = whole.filter(|_| !self.changed_in_place.contains(name)).cloned();
        cursor.read_to = cursor.pass_head.as_ref().map(|g| g.0);
        let fresh = cursor.offset == 0 && cursor.line == 0 && !cursor.skipping && cursor.last_record.is_none();
        if let (true, Some(cache)) = (fresh, &self.log_cache) {
            let taken = ahead.and_then(|a| take_ahead(cursor, a, (name, &rel), fsutil::stamp(&meta), &mut file, batch));
            if batch.reread.is_some() {
                self.changed_in_place.insert(name.to_string());
                return;
            }
            let expect = super::logcache::Expect {
                log: &cursor.log,
                trust: &self.trust_key,
                remembered: self
                    .remembered
                    .get(cursor.log.as_str())
                    .map(|h| (h.seq, h.hash.as_str())),
            };
            match taken {
                Some(Some(n)) => self.cached_records += n,
                Some(None) if len >= cache.min_new() => cursor.recorder = cache.recorder(&cursor.log, &self.trust_key),
                Some(None) => {}
                None => match cache.load(&expect, &mut file, len) {
                    Some(hit) => {
                        // An entry that ends where a problem was found is not extended: reading on
                        // from it finds the same problem.
                        let recorder = (len - hit.position.len >= cache.min_new() && !hit.position.ends_at_problem)
                            .then(|| cache.recorder(&cursor.log, &self.trust_key))
                            .flatten();
                        self.cached_records += restore(cursor, hit, recorder, batch, sink, self.pass_texts);
                    }
                    None if len >= cache.min_new() => cursor.recorder = cache.recorder(&cursor.log, &self.trust_key),
                    None => {}
                },
            }
        }
        if len > cursor.offset && file.seek(SeekFrom::Start(cursor.offset)).is_ok() {
            let names = LogNames {
                log: cursor.log.clone(),
                writer: cursor.writer.clone(),
            };
            let ctx = Ctx {
                rel: &rel,
                log: &names.log,
                names: &names,
                incident: &self.id,
                trust: &self.trust.1,
                cache: self.sig_cache.as_ref(),
                remembered: self.remembered.get(cursor.log.as_str()),
                own: self.state_dir.as_deref().map(|d| (path.as_path(), d)),
                path: &path,
                len,
                at_eof: false,
                now,
                mtime,
                texts: self.pass_texts,
            };
            read_text(cursor, &mut file, ctx, batch, sink, before.3);
            settle::settle(cursor, &ctx, batch, before.2);
        }
        if !cursor.tainted {
            cursor.clean_head = cursor.last_record.as_ref().map(|(seq, hash, _)| (*seq, hash.clone()));
        } else if !cursor.chain_doubted {
            let head = cursor.break_head.as_ref().or(cursor.last_good.as_ref());
            cursor.clean_head = head.cloned();
        }
        if let Some(recorder) = cursor.recorder.take() {
            // Only a stretch whose reading found nothing wrong is kept (see `logcache`): the
            // whole log, or what was read before the first problem or a last line settling.
            let problem = (batch.problems.len(), batch.marks.len(), batch.preferred.len())
                != (before.0, before.1, before.2)
                || cursor.tainted
                || !cursor.repeats.is_empty()
                || cursor.skipping;
            match position(cursor, &batch.signed[before.3..]) {
                Some(pos) if !problem && cursor.pending_bad.is_none() => recorder.finish(&pos, cursor.prefix.digest()),
                _ => recorder.finish_at_checkpoint(problem),
            }
        }
    }
}

/// Where the reader stands in `cursor`'s log, for the log cache (`None` before any record).
fn position(cursor: &Cursor, signed: &[SignedRange]) -> Option<super::logcache::Position> {
    Some(super::logcache::Position {
        len: cursor.offset,
        line: cursor.line,
        intact_from: cursor.intact_from,
        prev_line: cursor.prev_line.clone()?,
        last_record: cursor.last_record.clone()?,
        last_prev: cursor
            .last_prev
            .as_ref()
            .map(|p| p.text().to_string())
            .unwrap_or_default(),
        last_good: cursor.last_good.clone()?,
        good_line: cursor.good_line,
        signed: signed
            .iter()
            .map(|r| (r.from, r.to, r.principal.clone(), r.fingerprint.clone()))
            .collect(),
        ends_at_problem: false,
    })
}

/// Read `cursor`'s log from its offset (where `file` stands) to its end, consuming complete
/// lines; the last chunk is read knowing it is the last (`ctx.at_eof`).
///
/// A long stretch (a first read of a long log) is read and parsed ahead on another thread
/// ([`read_ahead`]) while this one checks the chain and hands records on: that check is in
/// order and was most of a cold open, so parsing beside it rather than before it is what uses
/// the second core. What is consumed, and how, does not change.
fn read_text(
    cursor: &mut Cursor,
    file: &mut fs::File,
    ctx: Ctx,
    batch: &mut Batch,
    sink: &mut Option<&mut dyn FnMut(Vec<Event>)>,
    signed_from: usize,
) {
    let from = cursor.offset;
    let left = ctx.len.saturating_sub(from);
    if left < PIPELINE_MIN_BYTES || super::threads() < 2 || serial_only() {
        // Sized to what is there to read: a teammate's note is a few hundred bytes, and zeroing a
        // whole chunk for it, on every change of every log, was most of a live console's reading.
        let want = left.clamp(8 << 10, READ_CHUNK as u64) as usize;
        let mut chunk = vec![0u8; want];
        let mut next = |buf: &mut Vec<u8>| match file.read(&mut chunk) {
            Ok(0) => None,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                Some(Ok(None))
            }
            Err(e) => Some(Err(e)),
        };
        return read_loop(cursor, ctx, batch, sink, signed_from, &mut next);
    }
    // The reading thread's own view of the log (`at_eof` is this thread's to set).
    let ahead_ctx = Ctx { at_eof: false, ..ctx };
    let rel = ctx.rel;
    // Blocks sent and not yet taken (see `read_ahead`).
    let waiting = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        // Two blocks ahead at most: the parsed records of a block are a few MiB.
        let (tx, rx) = std::sync::mpsc::sync_channel(2);
        // The buffers come back to be read into again: a block of this size may be mapped
        // fresh each time it is allocated (glibc's mmap threshold), and then a new one per block
        // costs a page fault per 4 KiB read.
        let (spent_tx, spent) = std::sync::mpsc::channel();
        let (ahead_ctx, waiting) = (&ahead_ctx, &waiting);
        let reading = scope.spawn(move || read_ahead(file, from, ahead_ctx, tx, spent, waiting));
        let mut next = |buf: &mut Vec<u8>| match rx.recv() {
            Ok(Ok((bytes, lines))) => {
                waiting.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                // A block ends where a line does: what is held is usually nothing, and the
                // block is taken as it is rather than copied.
                let back = if buf.is_empty() {
                    std::mem::replace(buf, bytes)
                } else {
                    buf.extend_from_slice(&bytes);
                    bytes
                };
                let _ = spent_tx.send(back);
                Some(Ok(Some(lines)))
            }
            Ok(Err(e)) => Some(Err(e)),
            Err(_) => None, // the reading thread is done (or died: see below)
        };
        read_loop(cursor, ctx, batch, sink, signed_from, &mut next);
        // A reading thread still sending (it cannot be: the loop ends only when it is done)
        // gets an error and stops, so the join never waits.
        drop(rx);
        if reading.join().is_err() {
            // It cannot die (parsing returns errors), but if it did, what it read is consumed
            // and the rest is read on the next pass: said, never taken for the log's end.
            batch.problems.push(Problem::new(
                rel,
                None,
                "read failed: the reading thread stopped; the rest is read on the next pass",
            ));
        }
    });
}

/// Tests compare a pipelined read with one on the calling thread alone.
#[cfg(test)]
static SERIAL_ONLY: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn serial_only() -> bool {
    #[cfg(test)]
    return SERIAL_ONLY.load(std::sync::atomic::Ordering::Relaxed);
    #[cfg(not(test))]
    false
}

/// Below this many bytes left to read, a log is read on the calling thread alone (a live
/// read of a few new records: a thread costs more than it saves).
const PIPELINE_MIN_BYTES: u64 = 2 * READ_CHUNK as u64;

/// One line hashed and parsed ahead by [`read_ahead`]: where it starts in the file and how
/// long it is (without its newline), so `consume` takes it only for exactly that line.
struct AheadLine {
    at: u64,
    len: usize,
    pre: Prepared,
}

/// What [`read_ahead`] hands on per block: the block's bytes (every byte of the log once, in
/// order; a block ends where a line does, but for the end of the file and an over-long line),
/// and the lines in it that were hashed and parsed ahead. Errors are the file's read errors
/// (the last thing sent).
type Ahead = std::io::Result<(Vec<u8>, Vec<AheadLine>)>;

/// The share of a block's lines [`read_ahead`] parses, in 1/64ths; `consume` parses the rest
/// as it goes. On two cores the reading thread and the consuming one each have one, and the
/// chain check is about a third of the work: parsing everything ahead left the consumer
/// waiting (and a helper thread per block made three threads share two cores: 72 % of them
/// used on a first open of 1M records, stop 28).
const SHARE_START: usize = 48;
const SHARE_MIN: usize = 8;
const SHARE_STEP: usize = 2;

/// Read `file` from `from` (where it stands) to its end, in blocks of about [`READ_CHUNK`],
/// hashing and parsing the first part of every block's complete lines (see [`preparse`]) and
/// sending each block to `tx`; buffers come back on `spent` to be read into again.
///
/// How much of a block is parsed here follows the consumer: `waiting` counts the blocks sent
/// and not yet taken. None waiting when the next is ready: the consumer waits on this thread,
/// which parses less; two: this thread waits on it, and parses more. A line longer than
/// [`MAX_LINE`] is not held nor parsed (`consume` reports it); the lines after it are.
fn read_ahead(
    file: &mut fs::File,
    from: u64,
    ctx: &Ctx,
    tx: std::sync::mpsc::SyncSender<Ahead>,
    spent: std::sync::mpsc::Receiver<Vec<u8>>,
    waiting: &std::sync::atomic::AtomicUsize,
) {
    use std::sync::atomic::Ordering::Relaxed;
    // The other threads parse beside this one; the consumer has a core of its own.
    let helpers = super::threads().saturating_sub(1).max(1);
    let mut share = if helpers > 1 { 64 } else { SHARE_START };
    // Bytes read and not yet sent, from file offset `held_at`: at most the start of one line
    // between blocks. `in_long`: they are the end of an over-long line whose start was sent
    // unparsed (not a line of their own).
    let mut held: Vec<u8> = Vec::new();
    let mut held_at = from;
    let mut in_long = false;
    let send = |block: Vec<u8>, lines: Vec<AheadLine>| {
        waiting.fetch_add(1, Relaxed);
        tx.send(Ok((block, lines))).is_ok()
    };
    loop {
        let before = held.len();
        // A block of about READ_CHUNK in all, in a buffer of that size (one sent back is).
        let want = READ_CHUNK.saturating_sub(before).max(64 << 10);
        held.reserve_exact(want);
        // Read into the spare room as it is (no zeroing per block).
        let n = match (&mut *file).take(want as u64).read_to_end(&mut held) {
            Ok(n) => n,
            Err(e) => {
                let _ = tx.send(Err(e));
                return;
            }
        };
        if n == 0 {
            // The end: a last line without its newline goes as it is (`consume` decides).
            if !held.is_empty() {
                send(held, Vec::new());
            }
            return;
        }
        let Some(last) = memchr::memrchr(b'\n', &held[before..]).map(|i| before + i) else {
            if held.len() > MAX_LINE {
                // Never a line to parse: sent as it is, its end skipped when it comes.
                held_at += held.len() as u64;
                in_long = true;
                if !send(std::mem::take(&mut held), Vec::new()) {
                    return;
                }
            }
            continue;
        };
        let mut start = 0;
        if in_long {
            // The end of an over-long line: skipped, as `consume` skips it.
            start = memchr::memchr(b'\n', &held).map_or(held.len(), |nl| nl + 1);
            in_long = false;
        }
        let queued = waiting.load(Relaxed);
        if helpers == 1 {
            share = match queued {
                0 => share.saturating_sub(SHARE_STEP).max(SHARE_MIN),
                q if q >= 2 => (share + SHARE_STEP).min(64),
                _ => share,
            };
        }
        let mut lines = Vec::new();
        let mut at = held_at + start as u64;
        for (len, pre) in preparse_share(&held[start..=last], ctx, helpers, share) {
            lines.push(AheadLine { at, len, pre });
            at += len as u64 + 1;
        }
        let mut next = match spent.try_recv() {
            Ok(mut b) => {
                b.clear();
                b
            }
            Err(_) => Vec::new(),
        };
        next.extend_from_slice(&held[last + 1..]);
        held.truncate(last + 1);
        held_at += held.len() as u64;
        if !send(std::mem::replace(&mut held, next), lines) {
            return;
        }
    }
}

/// The reading loop of [`read_text`]: `next` appends the next bytes read to the buffer, with
/// the lines parsed ahead (`None`: `consume` parses them); `None` at the end of the file.
#[allow(clippy::type_complexity)]
fn read_loop(
    cursor: &mut Cursor,
    mut ctx: Ctx,
    batch: &mut Batch,
    sink: &mut Option<&mut dyn FnMut(Vec<Event>)>,
    signed_from: usize,
    next: &mut dyn FnMut(&mut Vec<u8>) -> Option<std::io::Result<Option<Vec<AheadLine>>>>,
) {
    let rel = ctx.rel;
    let len = ctx.len;
    let mut pos = cursor.offset; // file position of buf[0]
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let ahead = match next(&mut buf) {
            None => break,
            Some(Ok(ahead)) => ahead,
            Some(Err(e)) => {
                batch
                    .problems
                    .push(Problem::new(rel, None, format!("read failed: {e}")));
                break;
            }
        };
        ctx.at_eof = pos + buf.len() as u64 >= len;
        let found = (batch.problems.len(), batch.marks.len(), batch.preferred.len());
        let used = consume(cursor, &ctx, &buf, pos, ahead, batch);
        cursor.prefix.feed(&buf[..used]);
        if let Some(r) = &mut cursor.recorder {
            r.consumed(used);
        }
        if found != (batch.problems.len(), batch.marks.len(), batch.preferred.len()) {
            // Something wrong in this log: its entry ends at the last clean point (see
            // `logcache`); stop encoding its records now rather than at its end.
            if let Some(r) = cursor.recorder.take() {
                r.finish_at_checkpoint(true);
            }
        } else if cursor.recorder.is_some() && !cursor.skipping && cursor.repeats.is_empty() && !cursor.tainted {
            if let Some(pos) = position(cursor, &batch.signed[signed_from..]) {
                if let Some(r) = &mut cursor.recorder {
                    r.checkpoint(pos, cursor.prefix.digest());
                }
            }
        }
        if let Some(sink) = sink {
            if batch.events.len() >= STREAM_EVENTS {
                sink(std::mem::take(&mut batch.events));
            }
        }
        buf.drain(..used);
        pos += used as u64;
        if cursor.skipping {
            // Over-long line: drop what we hold and keep skipping to the next newline.
            cursor.prefix.feed(&buf);
            pos += buf.len() as u64;
            cursor.offset = pos;
            buf.clear();
        }
    }
}

/// Take a log's first records from a cache entry: the reader then stands where reading them
/// would have left it. An entry that fails to decode part-way (it cannot: this build sealed
/// it) leaves the cursor at the start, to read the log itself (records already handed on are
/// handed on again, the same; the fold takes a record it holds as a duplicate).
fn restore(
    cursor: &mut Cursor,
    mut hit: super::logcache::Hit,
    mut recorder: Option<super::logcache::Recorder>,
    batch: &mut Batch,
    sink: &mut Option<&mut dyn FnMut(Vec<Event>)>,
    texts: bool,
) -> u64 {
    let names = LogNames {
        log: cursor.log.clone(),
        writer: cursor.writer.clone(),
    };
    let log = cursor.log.to_string();
    let mut n = 0;
    while let Some(next) = hit.next_record(&names, &mut cursor.tags, texts) {
        let Ok(e) = next else {
            tracing::warn!(log = %log, "local log cache entry does not decode; reading the log");
            return 0;
        };
        n += 1;
        if let Some(r) = &mut recorder {
            r.frame_raw(hit.frame());
        }
        batch.events.push(e);
        if let Some(sink) = sink {
            if batch.events.len() >= STREAM_EVENTS {
                sink(std::mem::take(&mut batch.events));
            }
        }
    }
    resume_after(cursor, hit.position, hit.read, recorder, batch);
    n
}

/// What was taken ahead of `cursor`'s log, `name`, from its log cache entry (see
/// [`cache_ahead`]: its records were handed on already). `None`: nothing usable was taken ahead
/// (the caller checks the entry itself). `Some(None)`: no entry matches. `Some(Some(n))`: `n`
/// records restored (0: the entry stopped decoding; what was handed on of it is read again from
/// the log). The file the reader opened (`stamp`) must still hold the bytes the records came
/// from, checked as a poll checks a log written since it was read (grown: the block being
/// filled and a budget of the others; else all of them); if it does not, `batch.reread` says
/// so.
fn take_ahead(
    cursor: &mut Cursor,
    ahead: &mut cache_ahead::Ahead,
    (name, rel): (&str, &str),
    stamp: fsutil::Stamp,
    file: &mut std::fs::File,
    batch: &mut Batch,
) -> Option<Option<u64>> {
    use cache_ahead::Taken;
    let (checked, tail) = match ahead.take(name)? {
        Taken::NoEntry => return Some(None),
        Taken::Records { tail: None, .. } => {
            tracing::warn!(log = %cursor.log, "local log cache entry does not decode; reading the log");
            return Some(Some(0));
        }
        Taken::Records {
            stamp,
            tail: Some(tail),
        } => (stamp, *tail),
    };
    let mut read = tail.read;
    if checked != stamp {
        let grown = checked.0 == stamp.0 && stamp.1 .0 > read.len();
        if !read.check(file, grown.then_some(SCRUB_BUDGET)).unwrap_or(false) {
            batch.reread = Some(Problem::new(
                rel,
                None,
                "log file changed in place while it was read (bytes already read differ); everything is read again from the start",
            ));
            return Some(Some(0));
        }
    }
    cursor.log = tail.names.log;
    cursor.writer = tail.names.writer;
    cursor.tags = tail.tags;
    resume_after(cursor, tail.position, read, tail.recorder, batch);
    Some(Some(tail.records))
}

/// Stand where a log cache entry's records end (`p`), the log's bytes up to there hashed in
/// `read`; `recorder` carries the entry on as the log is read further.
fn resume_after(
    cursor: &mut Cursor,
    p: super::logcache::Position,
    read: super::prefix::ReadPrefix,
    mut recorder: Option<super::logcache::Recorder>,
    batch: &mut Batch,
) {
    let log = cursor.log.to_string();
    if let Some(r) = &mut recorder {
        r.continue_from(p.len);
    }
    batch.signed.extend(
        p.signed
            .into_iter()
            .map(|(from, to, principal, fingerprint)| SignedRange {
                log: log.clone(),
                from,
                to,
                principal,
                fingerprint,
            }),
    );
    cursor.offset = p.len;
    cursor.last_prev = (!p.last_prev.is_empty()).then(|| PrevHash::from(p.last_prev.as_str()));
    cursor.prefix = read;
    cursor.line = p.line;
    cursor.intact_from = p.intact_from;
    cursor.prev_line = Some(p.prev_line);
    cursor.last_record = Some(p.last_record);
    cursor.last_good = Some(p.last_good);
    cursor.good_line = p.good_line;
    cursor.recorder = recorder;
}

/// What `consume` needs to know about the file it reads.
#[derive(Clone, Copy)]
struct Ctx<'a> {
    rel: &'a str,
    /// The log's id (`name@host.install`), from its file name.
    log: &'a str,
    /// The log's and its writer's names, for every record parsed from it to share.
    names: &'a LogNames,
    incident: &'a str,
    trust: &'a AllowedSigners,
    cache: Option<&'a super::sigcache::SigCache>,
    remembered: Option<&'a SeenHead>,
    /// The log's file and this host's state directory (see `Cursor::own_versions`).
    own: Option<(&'a Path, &'a Path)>,
    /// The log's file (a record in place at a fork is read again from it, see `Cursor::forks`).
    path: &'a Path,
    len: u64,
    at_eof: bool,
    now: Millis,
    mtime: Millis,
    /// Notes' texts held, else left in the log (see `IncidentReader::texts`).
    texts: bool,
}

/// Consume complete lines from `buf` (which starts at file offset `pos`). Returns bytes used.
/// `ahead`: lines already hashed and parsed (see [`read_ahead`]), each taken only for the line
/// at exactly its offset and length; `None`: every line is parsed here.
fn consume(
    cursor: &mut Cursor,
    ctx: &Ctx,
    buf: &[u8],
    pos: u64,
    ahead: Option<Vec<AheadLine>>,
    batch: &mut Batch,
) -> usize {
    let Ctx {
        rel,
        len,
        at_eof,
        now,
        mtime,
        ..
    } = *ctx;
    let mut used = 0;
    // Hashing and parsing every complete line is the costly part: done up front, across cores;
    // the chain check below stays one line at a time, in order.
    let mut pre = match &ahead {
        None => preparse(buf, ctx),
        Some(_) => Vec::new(),
    }
    .into_iter();
    let mut ahead = ahead.unwrap_or_default().into_iter().peekable();
    // For the lines parsed here rather than ahead (see `read_ahead`'s share).
    let mut tags = TagInterner::new();
    while let Some(nl) = memchr::memchr(b'\n', &buf[used..]) {
        let line = &buf[used..used + nl];
        let line_start = pos + used as u64;
        let next = used + nl + 1;
        let line_no = cursor.line + 1;
        // Lines parsed ahead that are not this one (the end of an over-long line) are passed.
        while ahead.next_if(|a| a.at < line_start).is_some() {}
        let (digest, parsed, verdict, learned, text) = match ahead.next_if(|a| a.at == line_start && a.len == nl) {
            Some(a) => a.pre,
            None => pre.next().unwrap_or_else(|| prepare(line, ctx, &mut tags)),
        };
        // The line's hash as text ([`event::line_hash`]), on the stack: the cursor's copies
        // below reuse their own buffers rather than allocating per line.
        let hex = digest.to_hex();
        let hash = hex.as_str();
        batch.learned.extend(learned);
        if cursor.skipping {
            // The end of an over-long line already counted and reported.
            cursor.skipping = false;
            used = next;
            cursor.offset = pos + used as u64;
            continue;
        }
        match parsed {
            // Worded as when only the line's start is in view (see below): what is said of a
            // line must not depend on how much of the log one read took.
            None => batch.problems.push(Problem::new(
                rel,
                Some(line_no),
                format!("line is over the {MAX_LINE}-byte limit; skipped"),
            )),
            Some(parsed) => match parsed {
                Ok(Line { event: e, .. }) if *e.by() != cursor.writer => batch.problems.push(Problem::new(
                    rel,
                    Some(line_no),
                    format!(
                        "record says it is by `{}` but sits in {}'s log; skipped",
                        e.by(),
                        cursor.writer
                    ),
                )),
                Ok(Line { event: mut e, prev }) => {
                    cursor.tags.share_body(&mut e.body);
                    let after_copy = cursor.after_copy.take();
                    let (follows, clean) =
                        check_chain(cursor, ctx, &e, &prev, hash, line_no, after_copy.as_ref(), batch);
                    // Hand it on as a record (else: as the version to use instead of the one
                    // held, or not at all).
                    let mut record = true;
                    if follows {
                        cursor.chain_doubted |= !clean;
                        match &mut cursor.last_good {
                            Some((seq, h)) => {
                                *seq = e.seq;
                                hash.clone_into(h);
                            }
                            None => cursor.last_good = Some((e.seq, hash.to_string())),
                        }
                        cursor.good_line = Some((line_start, nl as u64, line_no));
                        // The record before this one, in the version it chains onto.
                        if let Some(prev_seq) = e.seq.checked_sub(1) {
                            if let Some((h, v, named)) = cursor.repeats.remove(&prev_seq) {
                                if h == prev {
                                    batch.marks.push((
                                        cursor.log.to_string(),
                                        prev_seq,
                                        format!("two versions of seq {prev_seq}: the chain vouches for the later one (line {line_no} chains onto it); the first was edited"),
                                    ));
                                    if let Some(f) = cursor.forks.get_mut(&prev_seq) {
                                        f.copy_used = Some((h, quoted(&v)));
                                    }
                                    batch.preferred.push(v);
                                    settle_fork(cursor, ctx, prev_seq, named, line_no, batch);
                                }
                            }
                        }
                        if cursor.loose.remove(&e.seq) {
                            // A record out of the chain claimed this seq first: the chain's wins.
                            batch.marks.push((
                                cursor.log.to_string(),
                                e.seq,
                                format!("two records claim seq {}: the one at line {line_no} follows its log's chain and is used", e.seq),
                            ));
                            batch.preferred.push(e.clone());
                            record = false;
                        }
                    } else if cursor.last_good.as_ref().is_some_and(|g| e.seq <= g.0) || cursor.loose.contains(&e.seq) {
                        // A copy of a seq already handed on, out of place: used at once when the
                        // record after the edited version vouches for exactly these bytes; used
                        // if the next record chains onto it (see `repeats`); else not used.
                        // Either way the chain from the head settles it at the end of the pass.
                        settle::disputed(cursor, e.seq);
                        if cursor.vouched.get(&e.seq).is_some_and(|v| !v.held && v.hash == hash)
                            && !ctx.remembered.is_some_and(|r| r.seq == e.seq && r.hash != hash)
                            && !wrote_other_version(cursor, ctx, e.seq, hash)
                        {
                            cursor.vouched.remove(&e.seq);
                            batch.marks.push((
                                cursor.log.to_string(),
                                e.seq,
                                format!("two versions of seq {}: the one at line {line_no} is the one its log's chain vouches for; the first was edited", e.seq),
                            ));
                            batch.preferred.push(e.clone());
                            settle_below(cursor, ctx, &e, &prev, line_no, batch);
                        } else {
                            let other = quoted(&e);
                            batch.marks.push((
                                cursor.log.to_string(),
                                e.seq,
                                format!("seq {} appears again at line {line_no}, out of its chain; that copy reads: {other}", e.seq),
                            ));
                            if cursor.repeats.len() < 10_000 {
                                cursor
                                    .repeats
                                    .insert(e.seq, (hash.to_string(), e.clone(), prev.clone()));
                            }
                            note_fork(cursor, e.seq, hash);
                            cursor.after_copy = Some((hash.to_string(), e.seq, line_no));
                        }
                        record = false;
                    } else if cursor.loose.len() < 10_000 {
                        cursor.loose.insert(e.seq);
                    }
                    if !clean && !cursor.tainted && !follows {
                        // The first thing found wrong in this log, and the chain is not moved by
                        // it: what this host read of the log so far is its newest record read
                        // while the log looked whole (remembered, and counted as read).
                        cursor.clean_head.clone_from(&cursor.last_good);
                    }
                    cursor.tainted |= !clean;
                    if !clean || cursor.intact_from == 0 {
                        // The chain to the records before this one is broken (or starts here).
                        cursor.intact_from = if clean { 1 } else { e.seq };
                    }
                    if let (Body::Signed(s), Some(verdict)) = (&e.body, verdict) {
                        check_signature(cursor, ctx, &e, &prev, s, verdict, line_no, batch);
                    }
                    match &mut cursor.last_record {
                        Some((seq, h, line)) => {
                            (*seq, *line) = (e.seq, line_no);
                            hash.clone_into(h);
                        }
                        None => cursor.last_record = Some((e.seq, hash.to_string(), line_no)),
                    }
                    cursor.last_prev = Some(prev.clone());
                    if record {
                        let at = text.and_then(|h| event::TextAt::new(line_start, nl as u64, h));
                        if let Some(r) = &mut cursor.recorder {
                            r.record(&e, line, at);
                        }
                        if let (false, Body::Note(n), Some(at)) = (ctx.texts, &mut e.body, at) {
                            n.text = event::NoteText::InLog(at);
                        }
                        batch.events.push(e);
                    }
                }
                Err(why) => {
                    let is_last = pos + next as u64 >= len && at_eof;
                    if is_last {
                        // Bad since the file last changed, or since we first saw it, whichever is
                        // earlier: a one-shot command reports a line that has long been bad.
                        let first_seen = match cursor.pending_bad {
                            Some((off, t)) if off == line_start => t,
                            _ => {
                                let since = now.min(mtime);
                                cursor.pending_bad = Some((line_start, since));
                                since
                            }
                        };
                        if now.saturating_sub(first_seen) < SETTLE_MS {
                            break; // may still be landing: retry next pass
                        }
                    }
                    batch
                        .problems
                        .push(Problem::new(rel, Some(line_no), format!("{why}; skipped")));
                }
            },
        }
        cursor.pending_bad = None;
        match &mut cursor.prev_line {
            Some(h) => hash.clone_into(h),
            None => cursor.prev_line = Some(hash.to_string()),
        }
        cursor.line += 1;
        used = next;
        cursor.offset = pos + used as u64;
    }
    // A partial line longer than the limit can never become valid: skip it without buffering.
    if buf.len() - used > MAX_LINE && !cursor.skipping {
        batch.problems.push(Problem::new(
            rel,
            Some(cursor.line + 1),
            format!("line is over the {MAX_LINE}-byte limit; skipped"),
        ));
        cursor.skipping = true;
        cursor.line += 1;
    }
    used
}

/// Check a `Signed` record: its head is the line just before it (as read, so an edit of that
/// line is caught), and its SSHSIG over the head is valid and made by a key `allowed_signers`
/// allows for this log's writer. Valid: the unbroken stretch of chain up to the head is signed.
/// Otherwise a problem and a mark: "signature does not match", or — refused only because of a
/// key change this host has not accepted — "signature awaits acceptance".
#[allow(clippy::too_many_arguments)]
fn check_signature(
    cursor: &Cursor,
    ctx: &Ctx,
    e: &Event,
    prev: &PrevHash,
    s: &Signed,
    checked: SigVerdict,
    line_no: u64,
    batch: &mut Batch,
) {
    let mismatch = |why: String| format!("signature does not match: {why}");
    let verdict = if cursor.prev_line.as_deref() != Some(s.head.as_str()) || *prev != s.head {
        Err(mismatch(SigError::WrongHead.to_string()))
    } else {
        match checked {
            // No allowed_signers file at all: nothing to check against, so nothing is signed
            // (and nothing is wrong); `verify` says so.
            Err(SigError::NoTrust(_)) => return,
            // Refused only because of a key change this host has not accepted: the record is
            // intact, so it is not called a mismatch (as `verify` says: pending acceptance).
            Err(err)
                if ctx.trust.refused_by_pending_change(&err, |a| {
                    crate::domain::signing::check_signed(a, ctx.log, e.by(), s, e.wall)
                }) =>
            {
                Err(format!(
                    "signature awaits acceptance of the allowed_signers change: {}",
                    err.pending_reason()
                ))
            }
            r => r.map_err(|err| mismatch(err.to_string())),
        }
    };
    match verdict {
        Ok(v) if e.seq > cursor.intact_from => batch.signed.push(SignedRange {
            log: cursor.log.to_string(),
            from: cursor.intact_from.max(1),
            to: e.seq - 1,
            principal: v.principal,
            fingerprint: v.fingerprint,
        }),
        Ok(_) => {}
        Err(why) => {
            batch.problems.push(Problem::new(ctx.rel, Some(line_no), why.clone()));
            batch.marks.push((cursor.log.to_string(), e.seq, why));
        }
    }
}

/// One line's hash, and its record parsed (`None`: over `MAX_LINE`, not parsed).
/// A `Signed` record's signature check is done here too (the costly part, ~60 µs), so it runs
/// across cores; its place in the chain is checked in order, in `check_signature`. A signature
/// this host already found valid for exactly these inputs is taken from the cache; one newly
/// found valid comes back to be cached.
type Prepared = (
    blake3::Hash,
    Option<Result<Line, String>>,
    Option<SigVerdict>,
    Option<(super::sigcache::Key, crate::domain::signing::Verified)>,
    // A note's `event::text_hash` (hashed here, across cores, like the line).
    Option<u64>,
);

/// What [`AllowedSigners::check`] said of a `Signed` record, for the writer the record names.
type SigVerdict = Result<crate::domain::signing::Verified, SigError>;

/// `tags` shares the tag lists of the lines one thread parses: what it parsed and dropped is
/// freed by that thread (freeing another thread's memory is slow), and `consume` makes the
/// log's records share one list each.
fn prepare(line: &[u8], ctx: &Ctx, tags: &mut TagInterner) -> Prepared {
    let parsed = (line.len() <= MAX_LINE).then(|| {
        std::str::from_utf8(line)
            .map_err(|_| "not UTF-8".to_string())
            .and_then(|l| event::parse_in(l, ctx.names))
            .map(|mut l| {
                tags.share_body(&mut l.event.body);
                l
            })
    });
    let mut learned = None;
    let verdict = match &parsed {
        Some(Ok(Line { event: e, .. })) => match &e.body {
            Body::Signed(s) => {
                let msg = crate::domain::signing::event_message(s.log.as_deref(), &s.head);
                let input = super::sigcache::SigInput {
                    log: ctx.log,
                    seq: e.seq,
                    writer: e.by(),
                    namespace: NS_EVENT,
                    msg: &msg,
                    sig: &s.sig,
                    when: e.wall,
                    trust: &ctx.trust.digest,
                };
                let key = ctx.cache.map(|c| (c.key(&input), c));
                match key.as_ref().and_then(|(k, c)| c.get(k)) {
                    Some(v) => Some(Ok(v.clone())),
                    None => {
                        let v = crate::domain::signing::check_signed(ctx.trust, ctx.log, e.by(), s, e.wall);
                        if let (Ok(v), Some((k, _))) = (&v, &key) {
                            learned = Some((*k, v.clone()));
                        }
                        Some(v)
                    }
                }
            }
            _ => None,
        },
        _ => None,
    };
    let text = match &parsed {
        Some(Ok(Line { event: e, .. })) => match &e.body {
            Body::Note(n) => n.text.held().map(event::text_hash),
            _ => None,
        },
        _ => None,
    };
    // `event::line_hash`, kept as bytes until the chain check (no allocation per line here).
    (blake3::hash(line), parsed, verdict, learned, text)
}

/// Below this many lines a pass is parsed on the calling thread (threads cost more than they save).
const PARALLEL_MIN_LINES: usize = 256;

/// Hash and parse every complete line of `buf`, in order, spread over the cores when there are
/// many (a first open of a long log). The result does not depend on how it was split.
fn preparse(buf: &[u8], ctx: &Ctx) -> Vec<Prepared> {
    let lines = complete_lines(buf);
    let threads = if lines.len() < PARALLEL_MIN_LINES {
        1
    } else {
        super::threads()
    };
    prepare_all(&lines, ctx, threads)
}

/// The complete lines of `buf` (without their newlines).
fn complete_lines(buf: &[u8]) -> Vec<&[u8]> {
    let mut lines = Vec::new();
    let mut start = 0;
    for nl in memchr::memchr_iter(b'\n', buf) {
        lines.push(&buf[start..nl]);
        start = nl + 1;
    }
    lines
}

/// [`preparse`] of the first `share`/64 of `buf`'s complete lines, on `threads` threads (this
/// one among them), each with its length: the lines [`read_ahead`] parses ahead.
fn preparse_share(buf: &[u8], ctx: &Ctx, threads: usize, share: usize) -> Vec<(usize, Prepared)> {
    let mut lines = complete_lines(buf);
    lines.truncate((lines.len() * share).div_ceil(64));
    let threads = if lines.len() < PARALLEL_MIN_LINES { 1 } else { threads };
    let lens: Vec<usize> = lines.iter().map(|l| l.len()).collect();
    lens.into_iter().zip(prepare_all(&lines, ctx, threads)).collect()
}

/// Every line of `lines` hashed and parsed, in order, on `threads` threads (this one among them).
fn prepare_all(lines: &[&[u8]], ctx: &Ctx, threads: usize) -> Vec<Prepared> {
    if threads < 2 {
        let mut tags = TagInterner::new();
        return lines.iter().map(|l| prepare(l, ctx, &mut tags)).collect();
    }
    let per = lines.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let mut parts = lines.chunks(per);
        let first = parts.next().unwrap_or_default();
        let handles: Vec<_> = parts
            .map(|part| {
                scope.spawn(move || {
                    let mut tags = TagInterner::new();
                    part.iter().map(|l| prepare(l, ctx, &mut tags)).collect::<Vec<_>>()
                })
            })
            .collect();
        let mut tags = TagInterner::new();
        let mut out: Vec<Prepared> = Vec::with_capacity(lines.len());
        out.extend(first.iter().map(|l| prepare(l, ctx, &mut tags)));
        for (h, part) in handles.into_iter().zip(lines.chunks(per).skip(1)) {
            // A thread that died (it cannot: parsing returns errors) is redone here.
            out.extend(
                h.join()
                    .unwrap_or_else(|_| part.iter().map(|l| prepare(l, ctx, &mut tags)).collect()),
            );
        }
        out
    })
}

/// Whether this host wrote a version of `seq` of this log other than the line hashed `hash`
/// (its writer's local copy of what it acknowledged says so): then that line is not its own.
fn wrote_other_version(cursor: &mut Cursor, ctx: &Ctx, seq: u64, hash: &str) -> bool {
    own_version(cursor, ctx, seq).is_some_and(|h| h != hash)
}

/// The hash of the line this host wrote as `seq` of this log, if it wrote one.
fn own_version(cursor: &mut Cursor, ctx: &Ctx, seq: u64) -> Option<String> {
    let (log, state_dir) = ctx.own?;
    let len = super::writer::own_versions_len(state_dir, log);
    if cursor.own_versions.as_ref().is_none_or(|(read, _)| *read != len) {
        cursor.own_versions = Some((len, super::writer::own_versions(state_dir, log)));
    }
    cursor.own_versions.as_ref().and_then(|(_, own)| own.get(&seq).cloned())
}

/// `used`, a copy of its seq read at `line_no`, is now the version shown: the chain from the
/// log's head vouches for it, so the version of the seq before it that the chain vouches for is
/// the one `used` names, not what the edited record in place at `used.seq` named. Where that is
/// the version in place, it stays (a pending vouch for another version is dropped); where it is
/// not, the version in place is marked and a copy with those bytes is used: one read already
/// (and then the same holds one seq further down), else one read later (see `vouched`).
fn settle_below(cursor: &mut Cursor, ctx: &Ctx, used: &Event, named: &PrevHash, line_no: u64, batch: &mut Batch) {
    let log = cursor.log.to_string();
    let (mut seq, mut want) = (used.seq, named.text().to_string());
    let mut by = format!("seq {seq} at line {line_no}");
    while let Some(below) = seq.checked_sub(1).filter(|s| *s > 0) {
        // The version of `below` in place: kept where it was found edited, else the one the
        // record in place at `seq` named (it chained onto it).
        // `None`: not kept, where the record in place at `seq` was found not to be the chain's
        // (it chained onto the one in place at `below`, which is then vouched for by it alone).
        let known = match (cursor.in_place.get(&below), cursor.in_place.get(&seq)) {
            (Some((h, _, line)), _) => Some((h.clone(), Some(*line))),
            (None, Some((_, prev, _))) => Some((prev.text().to_string(), None)),
            (None, None) if cursor.doubted.contains(&seq) => None,
            (None, None) => return,
        };
        if let Some((_, line)) = known.as_ref().filter(|(h, _)| *h == want) {
            let line = *line;
            cursor.vouched.remove(&below);
            // Said where it was marked edited (by a record in place that is not the chain's).
            if let Some(line) = line {
                batch.marks.push((
                    log.clone(),
                    below,
                    format!("seq {below} at line {line} is the version its log's chain vouches for: {by}, the version of seq {seq} the chain vouches for, chains onto it"),
                ));
            }
            // The records in place from `below` down to the next seq found edited are the
            // chain's: what the lowest of them names for that seq stands again, and a copy with
            // those bytes read already is used now.
            let Some((&k, v)) = cursor.vouched.range_mut(..below).next_back() else {
                return;
            };
            v.held = false;
            let (hash, vouch_line) = (v.hash.clone(), v.by);
            let may = !ctx.remembered.is_some_and(|r| r.seq == k && r.hash != hash)
                && !wrote_other_version(cursor, ctx, k, &hash);
            match cursor.repeats.get(&k) {
                Some((h, copy, named)) if may && *h == hash => {
                    let (copy, named) = (copy.clone(), named.text().to_string());
                    cursor.repeats.remove(&k);
                    cursor.vouched.remove(&k);
                    batch.marks.push((
                        log.clone(),
                        k,
                        format!("two versions of seq {k}: the copy read earlier is the one its log's chain vouches for (line {vouch_line} names it)"),
                    ));
                    (seq, want) = (k, named);
                    by = format!("the copy of seq {k}");
                    batch.preferred.push(copy);
                    continue;
                }
                _ => return,
            }
        }
        if ctx.remembered.is_some_and(|r| r.seq == below && r.hash != want)
            || wrote_other_version(cursor, ctx, below, &want)
        {
            return;
        }
        let why = match known {
            Some(_) => format!("seq {below} in place is not the version its log's chain vouches for: {by}, the version of seq {seq} the chain vouches for, names other bytes"),
            None => format!("seq {below} in place is vouched for only by a record that is not its log's chain's (seq {seq} in place): {by}, the version of seq {seq} the chain vouches for, names bytes for it that this reader cannot check here (`warroom verify` can)"),
        };
        batch.marks.push((log.clone(), below, why));
        if cursor.doubted.len() < 10_000 {
            cursor.doubted.insert(below);
        }
        match cursor.repeats.get(&below) {
            Some((h, copy, named)) if *h == want => {
                let (copy, named) = (copy.clone(), named.text().to_string());
                cursor.repeats.remove(&below);
                cursor.vouched.remove(&below);
                batch.marks.push((
                    log.clone(),
                    below,
                    format!(
                        "two versions of seq {below}: the copy read earlier is the one its log's chain vouches for"
                    ),
                ));
                (seq, want) = (below, named);
                by = format!("the copy of seq {below}");
                batch.preferred.push(copy);
            }
            _ => {
                if cursor.vouched.len() < 10_000 {
                    let by = line_no;
                    cursor.vouched.insert(
                        below,
                        Vouch {
                            hash: want,
                            by,
                            held: false,
                        },
                    );
                }
                return;
            }
        }
    }
}

/// What a record reads, as a mark quotes it (cleaned, at most 200 characters).
fn quoted(e: &Event) -> String {
    let text = crate::domain::sanitize::sanitize(&crate::domain::describe::describe(e));
    text.chars().take(200).collect()
}

/// A copy of `seq` hashed `hash` was read: where the record in place with that seq is the
/// chain's last, that is a fork (see `Cursor::forks`), and where that record lies is kept.
fn note_fork(cursor: &mut Cursor, seq: u64, hash: &str) {
    let Some((good, (start, len, line))) = cursor.last_good.as_ref().zip(cursor.good_line) else {
        return;
    };
    if good.0 != seq || good.1 == hash || cursor.forks.len() >= 10_000 {
        return;
    }
    let hash = good.1.clone();
    cursor.forks.entry(seq).or_insert(Fork {
        hash,
        line,
        at: (start, len),
        copy_used: None,
    });
}

/// The record `fork` holds the place of, read again from the log, if its line is still the
/// one read there (the same hash).
fn line_at(ctx: &Ctx, fork: &Fork) -> Option<Line> {
    let (start, len) = fork.at;
    let mut file = fsutil::open_read(ctx.path).ok()?;
    file.seek(SeekFrom::Start(start)).ok()?;
    let mut bytes = vec![0u8; usize::try_from(len).ok()?.min(MAX_LINE)];
    file.read_exact(&mut bytes).ok()?;
    if blake3::hash(&bytes).to_hex().as_str() != fork.hash {
        return None;
    }
    event::parse_in(std::str::from_utf8(&bytes).ok()?, ctx.names).ok()
}

/// A copy of `seq` is now the version used, because the record after it chains onto it (see
/// `repeats`): the chain from the log's head runs through it, so below it the versions used are
/// the ones it names, down to the lowest fork whose copy is in use. Where the copy branch took
/// the chain on from a fork and the genuine records in place go on past it (a forged copy and
/// records chained onto it *inserted* right after the record they copy), this comes back to
/// the record in place at the fork: it is used again (read again from the file), and the copy
/// is marked out of its chain. A version named that this host read or wrote otherwise stops it.
fn settle_fork(cursor: &mut Cursor, ctx: &Ctx, seq: u64, named: PrevHash, line_no: u64, batch: &mut Batch) {
    let log = cursor.log.to_string();
    fork_left(
        cursor,
        ctx,
        seq,
        &format!("line {line_no} chains onto the copy of it"),
        batch,
    );
    let (mut seq, mut want) = (seq, named.text().to_string());
    while let Some(below) = seq.checked_sub(1).filter(|s| *s > 0) {
        // Only down to the lowest fork: below it, the chain is the one in place, and no copy
        // read there is taken for it.
        if cursor.forks.first_key_value().is_none_or(|(k, _)| *k > below)
            || ctx.remembered.is_some_and(|r| r.seq == below && r.hash != want)
            || wrote_other_version(cursor, ctx, below, &want)
        {
            return;
        }
        let by = format!("the version of seq {seq} used, which the chain from line {line_no} runs through, names it");
        if cursor.repeats.get(&below).is_some_and(|(h, _, _)| *h == want) {
            let Some((h, copy, next)) = cursor.repeats.remove(&below) else {
                return;
            };
            batch.marks.push((
                log.clone(),
                below,
                format!("two versions of seq {below}: the copy read earlier is the one its log's chain vouches for ({by}); the one used before is out of its chain"),
            ));
            if let Some(f) = cursor.forks.get_mut(&below) {
                f.copy_used = Some((h, quoted(&copy)));
            }
            fork_left(cursor, ctx, below, &by, batch);
            batch.preferred.push(copy);
            (seq, want) = (below, next.text().to_string());
            continue;
        }
        let Some(fork) = cursor
            .forks
            .get(&below)
            .filter(|f| f.hash == want && f.copy_used.is_some())
        else {
            return;
        };
        let Some(Line { event: mut e, prev }) = line_at(ctx, fork) else {
            return;
        };
        let copy = fork.copy_used.as_ref().map_or("", |(_, q)| q.as_str());
        batch.marks.push((
            log.clone(),
            below,
            format!("seq {below} at line {} is the version its log's chain vouches for ({by}): the copy used before is out of its chain; that copy reads: {copy}", fork.line),
        ));
        if let Some(f) = cursor.forks.get_mut(&below) {
            f.copy_used = None;
        }
        cursor.tags.share_body(&mut e.body);
        batch.preferred.push(e);
        (seq, want) = (below, prev.text().to_string());
    }
}

/// A copy of `seq` is used now: where the record in place is a fork's, it is out of its chain —
/// marked, quoting it (read again from the file), as a copy out of its chain is.
fn fork_left(cursor: &Cursor, ctx: &Ctx, seq: u64, by: &str, batch: &mut Batch) {
    let Some(fork) = cursor.forks.get(&seq).filter(|f| f.copy_used.is_some()) else {
        return;
    };
    let Some(Line { event: e, .. }) = line_at(ctx, fork) else {
        return;
    };
    batch.marks.push((
        cursor.log.to_string(),
        seq,
        format!(
            "seq {seq} at line {} is out of its chain: a copy of it is the version its log's chain vouches for ({by}); the one at line {} reads: {}",
            fork.line,
            fork.line,
            quoted(&e)
        ),
    ));
}

/// Whether this host read `seq` of this log in an earlier pass while it looked whole — and did
/// not find that record edited since (a seq found edited is what a writer's restore replaces).
fn read_before(cursor: &Cursor, seq: u64) -> bool {
    cursor.read_to.is_some_and(|n| seq <= n) && !cursor.vouched.contains_key(&seq)
}

/// Whether this host read the record `seq` of this log as the line hashed `hash` — in an earlier
/// pass while the log looked whole, as the newest record it remembers from an earlier run, or
/// as a line it wrote itself — so that version is the one it holds to.
fn read_as(cursor: &mut Cursor, ctx: &Ctx, seq: u64, hash: &str) -> bool {
    read_before(cursor, seq)
        || ctx.remembered.is_some_and(|r| r.seq == seq && r.hash == hash)
        || own_version(cursor, ctx, seq).is_some_and(|h| h == hash)
}

/// Check one record's place in its log's hash chain (what `verify` does, one line at a time):
/// its seq follows the last record's, its `prev` is the hash of the line before it (or of the
/// last record, when a stranger's line was put between them), and a record this host saw on an
/// earlier run still has the same bytes.
/// Returns (whether this record takes its place in the chain, whether nothing was found wrong).
#[allow(clippy::too_many_arguments)]
fn check_chain(
    cursor: &mut Cursor,
    ctx: &Ctx,
    e: &Event,
    prev: &PrevHash,
    hash: &str,
    line_no: u64,
    after_copy: Option<&(String, u64, u64)>,
    batch: &mut Batch,
) -> (bool, bool) {
    let rel = ctx.rel;
    let log = cursor.log.clone();
    let mut good = true;
    let mut mark = |seq: u64, line: u64, why: String| {
        good = false;
        batch.problems.push(Problem::new(rel, Some(line), why.clone()));
        batch.marks.push((log.to_string(), seq, why));
    };
    // (A copy of a seq the chain has passed is not the record shown there: its own mark says so.)
    let repeat = cursor.last_good.as_ref().is_some_and(|g| e.seq <= g.0);
    if !repeat && ctx.remembered.is_some_and(|s| s.seq == e.seq && s.hash != hash) {
        mark(
            e.seq,
            line_no,
            format!(
                "seq {} differs from the record this host read there before: the log was edited or rewritten at or before it",
                e.seq
            ),
        );
    }
    let expected = cursor.last_good.as_ref().map_or(1, |r| r.0 + 1);
    if let Some((h, seq, line)) = after_copy.filter(|(h, _, _)| *prev == h.as_str()) {
        // Chaining onto a copy of a seq read before: only the next seq may (the writer
        // re-appending its original and going on from it), and not where this host read another
        // version of that seq before, on an earlier run or in an earlier pass (anyone who can
        // append can write a copy and a record after it; a host keeps what it read).
        let restores = e.seq == seq + 1
            && e.seq == expected
            && !ctx.remembered.is_some_and(|r| r.seq == *seq && r.hash != *h)
            // Nor by a record that differs from the one this host read with its seq.
            && !ctx.remembered.is_some_and(|r| r.seq == e.seq && r.hash != hash)
            && !read_before(cursor, *seq)
            && !wrote_other_version(cursor, ctx, *seq, h);
        if !restores {
            mark(
                e.seq,
                line_no,
                format!(
                    "seq {} chains onto the copy of seq {seq} at line {line}, which is not used: out of its chain",
                    e.seq
                ),
            );
            return (false, false);
        }
    }
    let genesis;
    let due = match &cursor.prev_line {
        Some(p) => p.as_str(),
        None => {
            genesis = event::genesis_hash(ctx.incident, &cursor.writer);
            genesis.as_str()
        }
    };
    let after_record = cursor.last_good.as_ref().is_some_and(|r| r.1 == *prev);
    // Seqs skipped over are not missing when records with them are right here, out of their
    // chain (a copy planted with a record after it: the writer numbers on past those, and the
    // records after them are not a gap for a host that refused them).
    let skipped_here = e.seq > expected
        && e.seq - expected <= cursor.loose.len() as u64
        && (expected..e.seq).all(|s| cursor.loose.contains(&s))
        && (*prev == due || after_record);
    if skipped_here {
        cursor.loose.retain(|s| *s > e.seq);
    } else if e.seq > expected {
        mark(
            e.seq,
            line_no,
            format!(
                "seq {} where {expected} was due: records {expected}-{} of this log are missing (dropped)",
                e.seq,
                e.seq - 1
            ),
        );
        return (false, false);
    }
    if e.seq < expected {
        mark(
            e.seq,
            line_no,
            format!(
                "seq {} again after seq {}: records were reordered or repeated",
                e.seq,
                expected - 1
            ),
        );
        return (false, false);
    }
    if *prev != due && !after_record {
        match cursor.last_record.clone() {
            // The record before is the one this host read: this one does not chain onto it
            // (written after it by someone else, naming another version of it).
            // Or the line before is not in the chain at all (a copy, a record out of its chain):
            // what does not chain onto the chain's last record is out of it too.
            Some((seq, before, line))
                if cursor.last_good.as_ref().is_none_or(|g| g.1 != before) || read_as(cursor, ctx, seq, &before) =>
            {
                let why = match cursor.last_good.as_ref().is_none_or(|g| g.1 != before) {
                    true => format!(
                        "seq {} chains neither onto the line before it (seq {seq} at line {line}, itself out of the chain) nor onto the chain's last record: out of its chain",
                        e.seq
                    ),
                    false => format!(
                        "seq {} does not chain onto seq {seq} at line {line}, which this host read: out of its chain",
                        e.seq
                    ),
                };
                mark(e.seq, line_no, why);
                if cursor.break_head.is_none() {
                    cursor.break_head.clone_from(&cursor.last_good);
                }
                return (false, false);
            }
            // The record before was edited; this one is in its place, and says what its bytes
            // were (a copy of them appended later is that record's version).
            Some((seq, before, line)) => {
                mark(
                    seq,
                    line,
                    format!(
                        "seq {seq} was edited after it was written: its bytes no longer match the hash that line {line_no} holds"
                    ),
                );
                // The record in place at `seq` is not the chain's: the records in place below it
                // are vouched for by it alone now, so what they vouch for is held until a version
                // of `seq` the chain does vouch for names them (see `settle_below`).
                for (_, v) in cursor.vouched.range_mut(..seq) {
                    v.held = true;
                }
                // A record this host read (or wrote) otherwise vouches for nothing: it is the
                // edited one.
                let contradicted = ctx.remembered.is_some_and(|r| r.seq == e.seq && r.hash != hash)
                    || wrote_other_version(cursor, ctx, e.seq, hash);
                if cursor.vouched.len() < 10_000 && !contradicted {
                    let hash = prev.text().to_string();
                    let by = line_no;
                    cursor.vouched.insert(seq, Vouch { hash, by, held: false });
                    if let Some(named) = cursor.last_prev.clone() {
                        cursor.in_place.insert(seq, (before, named, line));
                    }
                }
            }
            None => mark(
                e.seq,
                line_no,
                "the first record does not start this log's chain: records before it were dropped, or it was edited"
                    .into(),
            ),
        }
        return (cursor.last_record.is_some(), false);
    }
    (true, good)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A log of `n` notes of about 300 bytes, its chain intact, as the writer writes it.
    fn chain(incident: &str, by: &str, n: u64) -> Vec<String> {
        let mut lines: Vec<String> = Vec::new();
        for seq in 1..=n {
            let prev = match lines.last() {
                Some(l) => event::line_hash(l.as_bytes()),
                None => event::genesis_hash(incident, by),
            };
            let e = Event {
                id: format!("01JTEST{seq:019}").into(),
                at: 1_700_000_000_000 + seq as i64,
                wall: 1_700_000_000_000 + seq as i64,
                occurred: event::Occurred::NONE,
                log: by.into(),
                seq,
                body: event::Note {
                    text: format!("note {seq} {}", "x".repeat(220)).into(),
                    tags: Default::default(),
                }
                .into(),
            };
            lines.push(event::encode(&e, &prev.into()).expect("a valid note"));
        }
        lines
    }

    /// Everything a read found, as text (records, problems, marks, preferred versions).
    fn read_all(dir: &Path, serial: bool) -> (String, u64) {
        SERIAL_ONLY.store(serial, std::sync::atomic::Ordering::Relaxed);
        let mut reader = IncidentReader::new(dir.to_path_buf());
        let batch = reader.poll(i64::MAX / 2);
        SERIAL_ONLY.store(false, std::sync::atomic::Ordering::Relaxed);
        let cursor = reader.cursors.values().next().expect("the log was read");
        let seen = format!(
            "{:?}\n{:?}\n{:?}\n{:?}\n{:?} {:?} {:?}",
            batch.events, batch.problems, batch.marks, batch.preferred, cursor.last_good, cursor.prev_line, cursor.line
        );
        (seen, cursor.offset)
    }

    /// A long log (read ahead on another thread) is read exactly as on the calling thread
    /// alone: over-long lines (one across a chunk's end), a line that does not parse, an edit,
    /// a repeated record and an unfinished last line included.
    #[test]
    fn read_ahead_reads_as_the_calling_thread_does() {
        let tmp = tempfile::tempdir().expect("a temporary folder");
        let dir = tmp.path().join("2026-01-01-readahead-abcd");
        std::fs::create_dir_all(dir.join(EVENTS_DIR)).expect("the events folder");
        let by = "w0@host";
        let mut lines = chain("2026-01-01-readahead-abcd", by, 12_000);
        let long = "y".repeat(MAX_LINE + 5_000);
        lines.insert(3_000, long.clone());
        lines.insert(3_400, long.clone() + &long);
        lines.insert(5_000, "not a record".into());
        lines[7_000] = lines[7_000].replace("note 6998", "note 6998 edited");
        let copy = lines[8_000].clone();
        lines.insert(9_000, copy);
        let mut text = lines.join("\n");
        text.push('\n');
        text.push_str("(unfinished");
        assert!(text.len() as u64 > 2 * PIPELINE_MIN_BYTES);
        let mut f = std::fs::File::create(dir.join(EVENTS_DIR).join(format!("{by}.inst{LOG_EXT}"))).expect("the log");
        f.write_all(text.as_bytes()).expect("written");
        drop(f);
        let (serial, serial_at) = read_all(&dir, true);
        let (ahead, ahead_at) = read_all(&dir, false);
        assert_eq!(serial_at, ahead_at);
        assert!(serial.contains("over the"), "the over-long lines are reported");
        assert!(serial.contains("edited"), "the edit is found");
        assert!(serial == ahead, "a read ahead differs from a serial read");
    }

    /// Records taken ahead are handed on only for the very file the reader opens (a log
    /// removed and written again since the thread looked is read from its bytes, its records
    /// dropped), and a log written since its records were handed on must still hold the bytes
    /// they came from: grown, it goes on from where its entry ends; changed in place, the read
    /// starts again from the start.
    #[test]
    fn records_taken_ahead_are_used_only_for_the_file_as_the_thread_saw_it() {
        use cache_ahead::{Part, Tail, Taken};
        let tmp = tempfile::tempdir().expect("a temporary folder");
        let names: Vec<String> = ["a", "b", "c"]
            .iter()
            .map(|n| format!("{n}@host.inst{LOG_EXT}"))
            .collect();
        let path = |i: usize| tmp.path().join(&names[i]);
        for i in 0..3 {
            std::fs::write(path(i), b"x\n").expect("the log");
        }
        let stamp = |i: usize| fsutil::stamp(&std::fs::metadata(path(i)).expect("meta"));
        let note = |i: usize| Event {
            id: "01JTEST0000000000000000001".into(),
            at: 1 + i as i64,
            wall: 1,
            occurred: event::Occurred::NONE,
            log: Name::with_writer(names[i].trim_end_matches(LOG_EXT), "w0@host".into()),
            seq: 1,
            body: event::Note {
                text: "seen".into(),
                tags: Default::default(),
            }
            .into(),
        };
        let tail = |i: usize| {
            let mut read = super::super::prefix::ReadPrefix::default();
            read.feed(b"x\n");
            Box::new(Tail {
                position: super::super::logcache::Position {
                    len: 2,
                    line: 1,
                    intact_from: 1,
                    prev_line: "h".into(),
                    last_record: (1, "h".into(), 1),
                    last_prev: String::new(),
                    last_good: (1, "h".into()),
                    good_line: None,
                    signed: Vec::new(),
                    ends_at_problem: false,
                },
                read,
                recorder: None,
                names: LogNames::new(names[i].trim_end_matches(LOG_EXT), "w0@host"),
                tags: Default::default(),
                records: 1,
            })
        };
        let (mut ahead, tx) = cache_ahead::start(&names);
        // Log "b" as the thread saw it was another file (another inode).
        let mut other = stamp(1);
        other.0 .1 += 1;
        let opened = vec![Some((stamp(0), true)), Some((other, true)), Some((stamp(2), true))];
        let sent = [tail(0), tail(1), tail(2)];
        let events = vec![note(0), note(1), note(2)];
        // Sent from a thread: the channel holds only a few parts.
        let thread = std::thread::spawn(move || {
            let _ = tx.send(Part::Opened(opened));
            let _ = tx.send(Part::Records(events));
            for (i, t) in sent.into_iter().enumerate() {
                let _ = tx.send(Part::End(i, t));
            }
        });
        let mut handed = Vec::new();
        ahead.hand_on(tmp.path(), &mut |events| handed.extend(events));
        thread.join().expect("the sending thread");
        let logs: Vec<&str> = handed.iter().map(|e| e.log.as_str()).collect();
        assert_eq!(
            logs,
            ["a@host.inst", "c@host.inst"],
            "another file's records are dropped"
        );
        assert!(ahead.take(&names[1]).is_none(), "another file is read from its bytes");
        assert!(matches!(
            ahead.take(&names[0]),
            Some(Taken::Records { tail: Some(_), .. })
        ));
        // Taken once.
        assert!(ahead.take(&names[0]).is_none());
        // "a" edited in place since (same length); "c" grown.
        let (mut ahead, tx) = cache_ahead::start(&names);
        let opened = vec![Some((stamp(0), true)), None, Some((stamp(2), true))];
        let sent = [tail(0), tail(2)];
        let thread = std::thread::spawn(move || {
            let _ = tx.send(Part::Opened(opened));
            let [a, c] = sent;
            let _ = tx.send(Part::End(0, a));
            let _ = tx.send(Part::End(2, c));
        });
        ahead.hand_on(tmp.path(), &mut |_| {});
        thread.join().expect("the sending thread");
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(path(0), b"y\n").expect("edit");
        std::fs::OpenOptions::new()
            .append(true)
            .open(path(2))
            .and_then(|mut f| f.write_all(b"more\n"))
            .expect("append");
        let mut batch = Batch::default();
        let mut cursor = Cursor::default();
        let mut file = std::fs::File::open(path(2)).expect("c");
        let taken = take_ahead(
            &mut cursor,
            &mut ahead,
            (&names[2], "c"),
            stamp(2),
            &mut file,
            &mut batch,
        );
        assert!(matches!(taken, Some(Some(1))), "a grown log goes on from its entry");
        assert!(batch.reread.is_none());
        assert_eq!(cursor.offset, 2);
        let mut cursor = Cursor::default();
        let mut file = std::fs::File::open(path(0)).expect("a");
        take_ahead(
            &mut cursor,
            &mut ahead,
            (&names[0], "a"),
            stamp(0),
            &mut file,
            &mut batch,
        );
        let reread = batch.reread.expect("a log changed in place is read again");
        assert!(reread.to_string().contains("changed in place"), "{reread}");
    }

    /// Everything a read through the log cache in `state` found, as text, and how many records
    /// came from the cache.
    fn read_cached(dir: &Path, state: &Path, serial: bool) -> (String, u64) {
        SERIAL_ONLY.store(serial, std::sync::atomic::Ordering::Relaxed);
        let mut reader = IncidentReader::new(dir.to_path_buf());
        reader.set_log_cache(Some(super::super::logcache::LogCache::open_keyed(state, dir, [7; 32])));
        let batch = reader.poll(i64::MAX / 2);
        SERIAL_ONLY.store(false, std::sync::atomic::Ordering::Relaxed);
        let cursors: Vec<String> = reader
            .cursors
            .values()
            .map(|c| format!("{} {:?} {:?} {} {}", c.log, c.last_good, c.prev_line, c.line, c.offset))
            .collect();
        // Taken ahead, the entries' records come merged by key, not log after log.
        let mut events = batch.events;
        events.sort_by(|a, b| a.cmp_keys(b));
        let seen = format!(
            "{events:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{cursors:?}",
            batch.problems, batch.marks, batch.preferred, batch.signed
        );
        (seen, reader.cached_records())
    }

    /// A second open takes each log's cache entry ahead, on a thread of its own (see
    /// `cache_ahead`), and reads exactly what it reads on the calling thread alone: logs whose
    /// entries cover them, one grown a little, one grown enough to carry its entry on, and one
    /// changed in place since (its entry is not used).
    #[test]
    fn cache_entries_taken_ahead_read_as_the_calling_thread_does() {
        let tmp = tempfile::tempdir().expect("a temporary folder");
        let id = "2026-01-01-cacheahead-abcd";
        let dir = tmp.path().join("shared").join(id);
        let state = tmp.path().join("state");
        std::fs::create_dir_all(dir.join(EVENTS_DIR)).expect("the events folder");
        let by = ["w0@host", "w1@host", "w2@host", "w3@host"];
        let logs: Vec<Vec<String>> = by.iter().map(|b| chain(id, b, 14_000)).collect();
        let path = |w: usize| dir.join(EVENTS_DIR).join(format!("{}.inst{LOG_EXT}", by[w]));
        let write = |w: usize, lines: &[String]| {
            let mut text = lines.join("\n");
            text.push('\n');
            std::fs::write(path(w), text).expect("the log");
        };
        for (w, lines) in logs.iter().enumerate() {
            write(w, &lines[..10_000]);
        }
        let (cold, cached) = read_cached(&dir, &state, true);
        assert_eq!(cached, 0, "a first open reads the logs");
        let (warm, cached) = read_cached(&dir, &state, false);
        assert_eq!(cached, 40_000, "a second open takes every record from the cache");
        assert!(cold == warm, "a warm read differs from a cold one");
        write(1, &logs[1][..10_010]);
        write(2, &logs[2]);
        let mut edited = logs[3][..10_000].to_vec();
        edited[500] = edited[500].replace("note 501", "note 5O1");
        write(3, &edited);
        let (serial, _) = read_cached(&dir, &state.join("serial"), true);
        let _ = std::fs::remove_dir_all(state.join("serial"));
        let state_copy = tmp.path().join("state-copy");
        let copy = std::process::Command::new("cp")
            .arg("-a")
            .arg(&state)
            .arg(&state_copy)
            .status()
            .expect("cp");
        assert!(copy.success());
        let (serial_warm, serial_cached) = read_cached(&dir, &state_copy, true);
        let (ahead, ahead_cached) = read_cached(&dir, &state, false);
        assert_eq!(serial_cached, ahead_cached);
        assert_eq!(ahead_cached, 30_000, "the edited log's entry is not used");
        assert!(serial_warm == ahead, "entries taken ahead read differently");
        assert!(
            serial == ahead,
            "a read through the cache differs from a read of the logs"
        );
        assert!(ahead.contains("edited") || ahead.contains("5O1"), "the edit is read");
        // The entry carried on by the grown log is read the same way next time.
        let (again, cached) = read_cached(&dir, &state, false);
        assert!(cached > 30_000, "the grown log's entry was carried on");
        assert!(again == ahead);
    }
}
