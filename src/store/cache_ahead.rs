//! A first read of an incident whose logs this host read before (a second open): each log's
//! local cache entry is checked (its seal, the log's first bytes) and its records decoded on a
//! thread of its own, log after log in the order the reader takes them, while the calling
//! thread folds the records of the logs before (issue 12: a second open of 1M records spent
//! 0.9 s with both on one thread, about half of it checking and decoding).
//!
//! Nothing is decided here that the reader would decide otherwise: an entry is used only if
//! [`LogCache::load`] takes it, exactly as on the calling thread, and only if the file the
//! reader then opens is the one the entry was checked against, unwritten since (same device,
//! inode, length, mtime and ctime: [`fsutil::stamp`]); anything else is read as if nothing had
//! been taken ahead. All logs share one channel of [`AHEAD_PARTS`] parts of at most
//! [`STREAM_EVENTS`] records, so what waits is bounded whatever the number of logs.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use super::fsutil::{self, Stamp};
use super::logcache::{Expect, LogCache, Position, Recorder};
use super::prefix::ReadPrefix;
use super::reader::{SeenHead, STREAM_EVENTS};
use super::{writer_of_log, LOG_EXT};
use crate::domain::event::{Event, LogNames};
use crate::domain::tags::TagInterner;

/// Parts of at most [`STREAM_EVENTS`] records decoded ahead of the reader, all logs together
/// (≈ 2 MB).
const AHEAD_PARTS: usize = 4;

/// What the thread sends of one log, in this order: `Opened`, then, if the entry was taken,
/// `Records` (any number) and one `End` or `Broken`.
pub enum Part {
    /// The file the entry was checked against, as it was before its bytes were hashed, and
    /// whether the entry was taken (`false`: none matches; the reader reads the log itself).
    Opened {
        stamp: Stamp,
        hit: bool,
    },
    Records(Vec<Event>),
    /// Every record was sent: where the reader stands after them.
    End(Box<Tail>),
    /// The entry stopped decoding (it cannot: this build sealed it): what was sent is all there is.
    Broken,
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

/// The reader's end: the parts sent, each with the place of its log in the list.
pub struct Ahead {
    rx: Receiver<(usize, Part)>,
    /// The place of each log in the order the thread takes them.
    place: BTreeMap<String, usize>,
    /// A part of a later log, received while looking for an earlier one's.
    held: Option<(usize, Part)>,
}

impl Ahead {
    /// The next part of log `name`, if the thread sent one: parts of logs before it (which the
    /// reader did not take, or took no further) are dropped; a part of a later log is kept for
    /// that log. `None`: nothing (more) of this log comes.
    pub fn next(&mut self, name: &str) -> Option<Part> {
        let want = *self.place.get(name)?;
        loop {
            let (i, part) = match self.held.take() {
                Some(held) => held,
                None => self.rx.recv().ok()?,
            };
            match i.cmp(&want) {
                std::cmp::Ordering::Less => continue,
                std::cmp::Ordering::Equal => return Some(part),
                std::cmp::Ordering::Greater => {
                    self.held = Some((i, part));
                    return None;
                }
            }
        }
    }
}

/// Start taking `names` (log file names, in the order the reader will read them) ahead: the
/// reader's end, and the thread's work (for [`run`]). Dropping the reader's end ends the thread.
pub fn start(names: &[String]) -> (Ahead, SyncSender<(usize, Part)>) {
    let (tx, rx) = sync_channel(AHEAD_PARTS);
    let place = names.iter().enumerate().map(|(i, n)| (n.clone(), i)).collect();
    (Ahead { rx, place, held: None }, tx)
}

/// Check and decode each log's entry in turn, sending what was found; stops once the reader
/// drops its end.
pub fn run(job: Job, names: Vec<String>, tx: SyncSender<(usize, Part)>) {
    for (i, name) in names.iter().enumerate() {
        if one(&job, name, &|part| tx.send((i, part)).is_ok()).is_none() {
            return;
        }
    }
}

/// One log: `None` once a send fails (the reader is gone); `Some` otherwise, whatever was
/// found (a log that cannot be opened sends nothing: the reader reads it itself).
fn one(job: &Job, name: &str, send: &dyn Fn(Part) -> bool) -> Option<()> {
    let Ok(mut file) = fsutil::open_read(&job.events_dir.join(name)) else {
        return Some(());
    };
    let Some(meta) = file.metadata().ok().filter(|m| m.is_file()) else {
        return Some(());
    };
    // Taken before the bytes are hashed: a write after it changes what the reader sees.
    let stamp = fsutil::stamp(&meta);
    let len = meta.len();
    let log = name.trim_end_matches(LOG_EXT);
    let expect = Expect {
        log,
        trust: &job.trust,
        remembered: job.remembered.get(log).map(|h| (h.seq, h.hash.as_str())),
    };
    let Some(mut hit) = job.cache.load(&expect, &mut file, len) else {
        return send(Part::Opened { stamp, hit: false }).then_some(());
    };
    if !send(Part::Opened { stamp, hit: true }) {
        return None;
    }
    // As `reader::read_log` decides: an entry that ends where a problem was found is not
    // extended (reading on from it finds the same problem).
    let mut recorder = (len - hit.position.len >= job.cache.min_new() && !hit.position.ends_at_problem)
        .then(|| job.cache.recorder(log, &job.trust))
        .flatten();
    let names = LogNames::new(log, &writer_of_log(name).unwrap_or_default());
    let mut tags = TagInterner::default();
    let mut part = Vec::with_capacity(STREAM_EVENTS);
    let mut records = 0;
    while let Some(next) = hit.next_record(&names, &mut tags, job.texts) {
        let Ok(e) = next else {
            return (send(Part::Records(part)) && send(Part::Broken)).then_some(());
        };
        records += 1;
        if let Some(r) = &mut recorder {
            r.frame_raw(hit.frame());
        }
        part.push(e);
        if part.len() >= STREAM_EVENTS && !send(Part::Records(std::mem::take(&mut part))) {
            return None;
        }
    }
    let tail = Tail {
        position: hit.position,
        read: hit.read,
        recorder,
        names,
        tags,
        records,
    };
    (send(Part::Records(part)) && send(Part::End(Box::new(tail)))).then_some(())
}

/// Whether the reader reads the log file `name` (and so whether it is taken ahead).
pub fn readable(name: &str, is_symlink: bool) -> bool {
    !is_symlink && name.ends_with(LOG_EXT) && writer_of_log(name).is_some()
}
