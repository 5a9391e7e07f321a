//! A first read of an incident whose logs this host read before (a second open): each log's
//! local cache entry is checked (its seal, the log's first bytes) and its records decoded on a
//! thread of its own, log after log in the order the reader takes them, while the calling
//! thread folds the records of the logs before (issue 12: a second open of 1M records spent
//! 0.9 s with both on one thread, about half of it checking and decoding).
//!
//! Nothing is decided here that the reader would decide otherwise: an entry is used only if
//! [`LogCache::load`] takes it, exactly as on the calling thread, and only for the file the
//! reader then opens (same device, inode and length; anything else is read as if nothing had
//! been taken ahead). At most [`AHEAD_PARTS`] parts of [`STREAM_EVENTS`] records wait per log,
//! so a long log is never held whole.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use super::logcache::{Expect, LogCache, Position, Recorder};
use super::prefix::ReadPrefix;
use super::reader::{SeenHead, STREAM_EVENTS};
use super::{fsutil, writer_of_log, LOG_EXT};
use crate::domain::event::{Event, LogNames};
use crate::domain::tags::TagInterner;

/// Parts of [`STREAM_EVENTS`] records decoded ahead of the reader, per log (≈ 2 MB).
const AHEAD_PARTS: usize = 4;

/// What the thread sends of one log, in this order: `Opened`, then `Records` (any number) and
/// one `End` or `Broken` if the entry was taken.
pub enum Part {
    /// The file the entry was checked against (device, inode) and its length, and whether the
    /// entry was taken (`false`: none matches, the reader reads the log itself).
    Opened {
        file_id: (u64, u64),
        len: u64,
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

/// The receiving ends, by log file name; a log's receiver dropped unread lets the thread go on.
pub type Ahead = BTreeMap<String, Receiver<Part>>;

/// What the thread needs, owned (it outlives no borrow of the reader).
pub struct Job {
    pub cache: LogCache,
    pub events_dir: PathBuf,
    pub trust: [u8; 32],
    pub remembered: BTreeMap<String, SeenHead>,
}

/// Channels for `names` (log file names, in the order they will be read), and the work for the
/// thread that fills them.
pub fn plan(names: Vec<String>) -> (Ahead, Vec<(String, SyncSender<Part>)>) {
    let mut ahead = Ahead::new();
    let mut senders = Vec::with_capacity(names.len());
    for name in names {
        let (tx, rx) = sync_channel(AHEAD_PARTS);
        ahead.insert(name.clone(), rx);
        senders.push((name, tx));
    }
    (ahead, senders)
}

/// Check and decode each log's entry in turn, sending what was found. A send that fails (the
/// reader dropped that log's receiver: it read the log itself) moves on to the next log.
pub fn run(job: Job, logs: Vec<(String, SyncSender<Part>)>) {
    for (name, tx) in logs {
        one(&job, &name, &tx);
    }
}

fn one(job: &Job, name: &str, tx: &SyncSender<Part>) -> Option<()> {
    let mut file = fsutil::open_read(&job.events_dir.join(name)).ok()?;
    let meta = file.metadata().ok().filter(|m| m.is_file())?;
    let (file_id, len) = ((meta.dev(), meta.ino()), meta.len());
    let log = name.trim_end_matches(LOG_EXT);
    let expect = Expect {
        log,
        trust: &job.trust,
        remembered: job.remembered.get(log).map(|h| (h.seq, h.hash.as_str())),
    };
    let Some(mut hit) = job.cache.load(&expect, &mut file, len) else {
        return tx
            .send(Part::Opened {
                file_id,
                len,
                hit: false,
            })
            .ok();
    };
    tx.send(Part::Opened {
        file_id,
        len,
        hit: true,
    })
    .ok()?;
    // As `reader::read_log` decides: an entry that ends where a problem was found is not
    // extended (reading on from it finds the same problem).
    let mut recorder = (len - hit.position.len >= job.cache.min_new() && !hit.position.ends_at_problem)
        .then(|| job.cache.recorder(log, &job.trust))
        .flatten();
    let names = LogNames {
        log: log.into(),
        writer: writer_of_log(name).unwrap_or_default().into(),
    };
    let mut tags = TagInterner::default();
    let mut part = Vec::with_capacity(STREAM_EVENTS);
    let mut records = 0;
    while let Some(next) = hit.next_record(&names, &mut tags) {
        let Ok(e) = next else {
            tx.send(Part::Records(part)).ok()?;
            return tx.send(Part::Broken).ok();
        };
        records += 1;
        if let Some(r) = &mut recorder {
            r.frame_raw(hit.frame());
        }
        part.push(e);
        if part.len() >= STREAM_EVENTS {
            tx.send(Part::Records(std::mem::replace(
                &mut part,
                Vec::with_capacity(STREAM_EVENTS),
            )))
            .ok()?;
        }
    }
    if !part.is_empty() {
        tx.send(Part::Records(part)).ok()?;
    }
    tx.send(Part::End(Box::new(Tail {
        position: hit.position,
        read: hit.read,
        recorder,
        names,
        tags,
        records,
    })))
    .ok()
}

/// The logs a first read takes ahead: every log file `names` lists that the reader will read
/// (see `IncidentReader::poll_streaming`).
pub fn readable(name: &str, is_symlink: bool) -> bool {
    !is_symlink && name.ends_with(LOG_EXT) && writer_of_log(name).is_some()
}
