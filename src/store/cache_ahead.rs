//! A first read of an incident whose logs this host read before (a second open): every log's
//! local cache entry is checked (its seal, the log's first bytes) on a thread of its own,
//! two entries at a time, and their records are decoded and handed on **merged in key order**
//! (issue 12: a second open of 1M records spent 0.9 s with both on one thread, about half of it
//! checking and decoding; then, with the logs taken one after the other, every log after the
//! first sorted among what was held, so the fold waited for the whole read and replayed it).
//! Merged, the records come as one writer's log read in order does: the console derives each
//! part as it comes, beside the decoding, and the end of the read has little left to do.
//!
//! Nothing is decided here that the reader would decide otherwise: an entry is used only if
//! [`LogCache::load`] takes it, exactly as on the calling thread, and only if the file the
//! reader opens is the one the entry was checked against, unwritten since (same device, inode,
//! length, mtime and ctime: [`fsutil::stamp`]), or still holds the bytes the entry covers (the
//! log grew meanwhile: its block hashes are checked). A log whose file is another one is read
//! as if nothing had been taken ahead; its records are not handed on. The records handed on
//! are the ones the entries hold, in another order (the fold does not depend on it). What
//! waits is bounded: one channel of [`AHEAD_PARTS`] parts of at most [`STREAM_EVENTS`] records.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use super::fsutil::{self, Stamp};
use super::logcache::{Expect, Hit, LogCache, Position, Recorder};
use super::prefix::ReadPrefix;
use super::reader::{SeenHead, STREAM_EVENTS};
use super::{writer_of_log, LOG_EXT};
use crate::domain::event::{Event, LogNames};
use crate::domain::tags::TagInterner;
use crate::domain::time::Millis;

/// Parts of at most [`STREAM_EVENTS`] records decoded ahead of the reader (≈ 2 MB).
const AHEAD_PARTS: usize = 4;

/// Entries checked at once (each check hashes the entry and the log's first bytes: ≈ 0.1 s for
/// 250k records; the console's thread has nothing to fold yet, so two cores are free).
const CHECKING_THREADS: usize = 2;

/// What the thread sends, in this order: one `Opened`, then `Records` (any number), then an
/// `End` or `Broken` for each log whose entry was taken.
pub enum Part {
    /// Per log (in the order given): the file its entry was checked against, as it was before
    /// its bytes were hashed, and whether the entry was taken (`false`: none matches; the
    /// reader reads the log itself). `None`: the file could not be opened.
    Opened(Vec<Option<(Stamp, bool)>>),
    /// Records of the entries taken, every log's merged by key.
    Records(Vec<Event>),
    /// Every record of log `.0` was sent: where the reader stands after them.
    End(usize, Box<Tail>),
    /// Log `.0`'s entry stopped decoding (it cannot: this build sealed it): what was sent of it
    /// is all there is.
    Broken(usize),
}

/// Where the reader stands after an entry's records.
pub struct Tail {
    pub position: Position,
    /// The hashes of the log's bytes the entry covers.
    pub read: ReadPrefix,
    /// A new entry carrying this one's records on, if the log grew enough to be worth one.
    pub recorder: Option<Recorder>,
    /// The log's names and tag lists, shared by the records sent.
    pub names: LogNames,
    pub tags: TagInterner,
    pub records: u64,
}

/// What the thread needs, owned (it borrows nothing of the reader).
pub struct Job {
    pub cache: LogCache,
    pub events_dir: PathBuf,
    pub trust: [u8; 32],
    pub remembered: BTreeMap<String, SeenHead>,
    /// Notes' texts held, else left in the log (see `IncidentReader::leave_texts_in_log`).
    pub texts: bool,
}

/// What was taken ahead of one log, for the reader to use when it reads that log.
pub enum Taken {
    /// No entry matches: the reader reads the log itself.
    NoEntry,
    /// The entry's records were handed on: where the reader stands after them, or `None` if
    /// the entry stopped decoding (what was handed on of it is read again from the log).
    Records { stamp: Stamp, tail: Option<Box<Tail>> },
}

/// The reader's end.
pub struct Ahead {
    rx: Receiver<Part>,
    /// The place of each log (file name) in the order the thread took them.
    place: BTreeMap<String, usize>,
    /// What was taken of each log; `None`: nothing usable (the reader checks the entry itself).
    taken: Vec<Option<Taken>>,
}

impl Ahead {
    /// Hand on the records taken ahead (to `hand_on`, in parts, merged by key), then keep what
    /// each log's reading needs. Each log's file (in `events_dir`) is opened again first: the
    /// records of a log whose file is not the one its entry was checked against are dropped,
    /// and that log is read as if nothing had been taken ahead.
    pub fn hand_on(&mut self, events_dir: &Path, hand_on: &mut dyn FnMut(Vec<Event>)) {
        let Ok(Part::Opened(opened)) = self.rx.recv() else {
            return;
        };
        let mut names: Vec<&str> = vec![""; self.place.len()];
        for (name, &i) in &self.place {
            names[i] = name;
        }
        // The logs (ids, as records name them) whose records are dropped.
        let mut dropped: Vec<String> = Vec::new();
        let mut taken: Vec<Option<Taken>> = Vec::with_capacity(opened.len());
        for (i, o) in opened.into_iter().enumerate() {
            taken.push(match o {
                Some((_, false)) => Some(Taken::NoEntry),
                Some((stamp, true)) => {
                    let now = fsutil::open_read(&events_dir.join(names[i]))
                        .and_then(|f| f.metadata())
                        .map(|m| fsutil::stamp(&m));
                    match now {
                        Ok(now) if now.0 == stamp.0 => Some(Taken::Records { stamp, tail: None }),
                        _ => {
                            dropped.push(names[i].trim_end_matches(LOG_EXT).to_string());
                            None
                        }
                    }
                }
                None => None,
            });
        }
        self.taken = taken;
        while let Ok(part) = self.rx.recv() {
            match part {
                Part::Records(mut events) => {
                    if !dropped.is_empty() {
                        events.retain(|e| !dropped.iter().any(|d| d == e.log.as_str()));
                    }
                    if !events.is_empty() {
                        hand_on(events);
                    }
                }
                Part::End(i, end) => {
                    if let Some(Some(Taken::Records { tail, .. })) = self.taken.get_mut(i) {
                        *tail = Some(end);
                    }
                }
                Part::Broken(i) => {
                    if let Some(Some(Taken::Records { tail, .. })) = self.taken.get_mut(i) {
                        *tail = None;
                    }
                }
                Part::Opened(_) => {}
            }
        }
    }

    /// What was taken ahead of log `name` (see [`Taken`]); `None`: nothing usable, the reader
    /// checks the entry itself. Taken once.
    pub fn take(&mut self, name: &str) -> Option<Taken> {
        let i = *self.place.get(name)?;
        self.taken.get_mut(i)?.take()
    }
}

/// Start taking `names` (log file names) ahead: the reader's end, and the thread's (for
/// [`run`]). Dropping the reader's end ends the thread.
pub fn start(names: &[String]) -> (Ahead, SyncSender<Part>) {
    let (tx, rx) = sync_channel(AHEAD_PARTS);
    let place = names.iter().enumerate().map(|(i, n)| (n.clone(), i)).collect();
    (
        Ahead {
            rx,
            place,
            taken: Vec::new(),
        },
        tx,
    )
}

/// One log's entry, checked.
struct Checked {
    stamp: Stamp,
    /// The entry, if it matches, with the new entry to carry it on (if the log grew enough).
    hit: Option<(Hit, Option<Recorder>)>,
}

/// Check every log's entry ([`CHECKING_THREADS`] at once), then send the records of those
/// that match merged by key, then where each log's reading stands; stops once the reader
/// drops its end.
pub fn run(job: Job, names: Vec<String>, tx: SyncSender<Part>) {
    let checked = check_all(&job, &names);
    let opened = checked
        .iter()
        .map(|c| c.as_ref().map(|c| (c.stamp, c.hit.is_some())))
        .collect();
    if tx.send(Part::Opened(opened)).is_err() {
        return;
    }
    let mut streams: Vec<Stream> = Vec::new();
    for (i, c) in checked.into_iter().enumerate() {
        if let Some(Checked {
            hit: Some((hit, recorder)),
            ..
        }) = c
        {
            let name = &names[i];
            streams.push(Stream {
                place: i,
                names: LogNames::new(name.trim_end_matches(LOG_EXT), &writer_of_log(name).unwrap_or_default()),
                hit,
                recorder,
                tags: TagInterner::default(),
                records: 0,
                head: None,
            });
        }
    }
    merge(&job, streams, &|part| tx.send(part).is_ok());
}

/// Check each log's entry, on up to [`CHECKING_THREADS`] threads; `None` for a log that
/// cannot be opened (the reader reads it itself).
fn check_all(job: &Job, names: &[String]) -> Vec<Option<Checked>> {
    let next = AtomicUsize::new(0);
    let threads = CHECKING_THREADS.min(names.len()).min(super::threads()).max(1);
    let work = || {
        let mut out = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(name) = names.get(i) else {
                return out;
            };
            out.push((i, check(job, name)));
        }
    };
    let mut all: Vec<(usize, Option<Checked>)> = std::thread::scope(|scope| {
        let others: Vec<_> = (1..threads).map(|_| scope.spawn(work)).collect();
        let mut all = work();
        for t in others {
            // A check that panicked leaves its logs to the reader.
            all.extend(t.join().unwrap_or_default());
        }
        all
    });
    all.sort_by_key(|(i, _)| *i);
    let mut out: Vec<Option<Checked>> = (0..names.len()).map(|_| None).collect();
    for (i, c) in all {
        out[i] = c;
    }
    out
}

/// One log's entry, checked as the reader would (see [`LogCache::load`]).
fn check(job: &Job, name: &str) -> Option<Checked> {
    let mut file = fsutil::open_read(&job.events_dir.join(name)).ok()?;
    let meta = file.metadata().ok().filter(|m| m.is_file())?;
    // Taken before the bytes are hashed: a write after it changes what the reader sees.
    let stamp = fsutil::stamp(&meta);
    let len = meta.len();
    let log = name.trim_end_matches(LOG_EXT);
    let expect = Expect {
        log,
        trust: &job.trust,
        remembered: job.remembered.get(log).map(|h| (h.seq, h.hash.as_str())),
    };
    let hit = job.cache.load(&expect, &mut file, len).map(|hit| {
        // As `reader::read_log` decides: an entry that ends where a problem was found is not
        // extended (reading on from it finds the same problem).
        let recorder = (len - hit.position.len >= job.cache.min_new() && !hit.position.ends_at_problem)
            .then(|| job.cache.recorder(log, &job.trust))
            .flatten();
        (hit, recorder)
    });
    Some(Checked { stamp, hit })
}

/// One entry's records, decoded one at a time for the merge.
struct Stream {
    /// The log's place in the reader's list.
    place: usize,
    names: LogNames,
    hit: Hit,
    recorder: Option<Recorder>,
    tags: TagInterner,
    records: u64,
    /// The next record, decoded.
    head: Option<Event>,
}

impl Stream {
    /// Decode the next record into `head`: `Err` if the entry stopped decoding.
    fn advance(&mut self, texts: bool) -> Result<(), ()> {
        self.head = match self.hit.next_record(&self.names, &mut self.tags, texts) {
            None => None,
            Some(Ok(e)) => {
                self.records += 1;
                if let Some(r) = &mut self.recorder {
                    r.frame_raw(self.hit.frame());
                }
                Some(e)
            }
            Some(Err(_)) => return Err(()),
        };
        Ok(())
    }

    fn end(self) -> Part {
        Part::End(
            self.place,
            Box::new(Tail {
                position: self.hit.position,
                read: self.hit.read,
                recorder: self.recorder,
                names: self.names,
                tags: self.tags,
                records: self.records,
            }),
        )
    }
}

/// The merge key of a stream's next record: its time, then its log's rank by name (the
/// order of `EventKey`), then its seq.
type Head = Reverse<(Millis, usize, u64)>;

/// Send the streams' records merged by key (each stream is in its log's order, which is key
/// order unless its writer's clock went back: the merge then still sends every record, a few
/// out of order), then each stream's end. `None` once a send fails.
fn merge(job: &Job, mut streams: Vec<Stream>, send: &dyn Fn(Part) -> bool) -> Option<()> {
    // Ranks by log name: `EventKey` compares the log's text.
    let mut by_name: Vec<usize> = (0..streams.len()).collect();
    by_name.sort_by(|&a, &b| streams[a].names.log.as_str().cmp(streams[b].names.log.as_str()));
    let mut rank = vec![0; streams.len()];
    for (r, &s) in by_name.iter().enumerate() {
        rank[s] = r;
    }
    let mut broken = Vec::new();
    let mut heap: BinaryHeap<(Head, usize)> = BinaryHeap::with_capacity(streams.len());
    for (s, stream) in streams.iter_mut().enumerate() {
        match stream.advance(job.texts) {
            Ok(()) => {
                if let Some(e) = &stream.head {
                    heap.push((Reverse((e.at, rank[s], e.seq)), s));
                }
            }
            Err(()) => broken.push(stream.place),
        }
    }
    let mut part = Vec::with_capacity(STREAM_EVENTS);
    while let Some((_, s)) = heap.pop() {
        // A writer's records come in runs (its stretch of the incident): while the stream's
        // next record still sorts before every other stream's, it is taken without the heap.
        loop {
            let stream = &mut streams[s];
            if let Some(e) = stream.head.take() {
                part.push(e);
            }
            if part.len() >= STREAM_EVENTS && !send(Part::Records(std::mem::take(&mut part))) {
                return None;
            }
            if stream.advance(job.texts).is_err() {
                broken.push(stream.place);
                break;
            }
            let Some(e) = &stream.head else {
                break;
            };
            let head = Reverse((e.at, rank[s], e.seq));
            if heap.peek().is_some_and(|(next, _)| *next > head) {
                heap.push((head, s));
                break;
            }
        }
    }
    if !part.is_empty() && !send(Part::Records(part)) {
        return None;
    }
    for stream in streams {
        let end = match broken.contains(&stream.place) {
            true => Part::Broken(stream.place),
            false => stream.end(),
        };
        if !send(end) {
            return None;
        }
    }
    Some(())
}

/// Whether the reader reads the log file `name` (and so whether it is taken ahead).
pub fn readable(name: &str, is_symlink: bool) -> bool {
    !is_symlink && name.ends_with(LOG_EXT) && writer_of_log(name).is_some()
}
