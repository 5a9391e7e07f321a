//! Appending to this writer's own log: one lock around each append, a positioned write at the
//! offset just read (no O_APPEND: unsafe on NFS and some sshfs), `sync_data`, torn-tail repair and
//! rollback refusal. Only the tails of the logs are read, so a write costs the same on day one
//! and on day ten of an incident.

use std::fs::{self, File};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::tail::{read_tail, Tail};
use super::{fsutil, writer_of_log, Identity, Store, StoreError, EVENTS_DIR, LOG_EXT};
use crate::domain::event::{self, Body, Event, Head, Heads, TailRepaired};
use crate::domain::state::{next_at, MAX_AHEAD_MS};
use crate::domain::time::Millis;

/// Record the heads of the other logs every this many events (and at phase changes and resolve).
pub const HEADS_EVERY: u64 = 100;

/// An event to be written: what, and when it really happened if the responder said so.
#[derive(Debug, Clone)]
pub struct Draft {
    pub body: Body,
    pub occurred: Option<Millis>,
}

impl Draft {
    pub fn new(body: impl Into<Body>) -> Draft {
        Draft {
            body: body.into(),
            occurred: None,
        }
    }
    pub fn at(mut self, occurred: Option<Millis>) -> Draft {
        self.occurred = occurred;
        self
    }
}

/// What an append did.
#[derive(Debug, Clone, Default)]
pub struct Appended {
    pub events: Vec<Event>,
    /// `(offset, bytes)` of a torn tail that was cut off first.
    pub repaired: Option<(u64, u64)>,
    /// Writers more than 5 minutes ahead of this host's clock (or this host is behind).
    pub ahead: Vec<String>,
}

/// This host's memory of the last record it wrote to a log (for rollback refusal).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
struct LocalHead {
    seq: u64,
    hash: String,
}

/// The writer for one incident and one identity.
pub struct LogWriter<'s> {
    store: &'s Store,
    incident: String,
    identity: Identity,
}

impl<'s> LogWriter<'s> {
    pub fn new(store: &'s Store, incident: &str, identity: &Identity) -> LogWriter<'s> {
        LogWriter {
            store,
            incident: incident.to_string(),
            identity: identity.clone(),
        }
    }

    pub fn events_dir(&self) -> PathBuf {
        self.store.incident_dir(&self.incident).join(EVENTS_DIR)
    }

    pub fn log_path(&self) -> PathBuf {
        self.events_dir().join(self.identity.log_file_name())
    }

    fn key_of(path: &Path) -> String {
        event::line_hash(path.as_os_str().as_encoded_bytes())[..32].to_string()
    }

    fn head_file(&self, path: &Path) -> PathBuf {
        self.store
            .state_dir
            .join("heads")
            .join(format!("{}.ron", Self::key_of(path)))
    }

    /// Take the per-log lock in the local lock folder (never on the shared file system).
    fn lock(&self, path: &Path) -> Result<File, StoreError> {
        let dir = &self.store.lock_dir;
        if !dir.exists() {
            fs::create_dir_all(dir).map_err(StoreError::io(format!("cannot create lock folder {}", dir.display())))?;
            let _ = fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o700));
        }
        if let (Ok(meta), Some(uid)) = (fs::metadata(dir), fsutil::current_uid()) {
            if meta.uid() != uid {
                return Err(StoreError::Refused(format!(
                    "lock folder {} belongs to another user; set XDG_RUNTIME_DIR",
                    dir.display()
                )));
            }
        }
        let lock_path = dir.join(format!("{}.lock", Self::key_of(path)));
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(StoreError::io(format!("cannot open lock {}", lock_path.display())))?;
        file.lock()
            .map_err(StoreError::io(format!("cannot lock {}", lock_path.display())))?;
        Ok(file)
    }

    /// Append drafts as one write and one sync. `clock` gives the writer's wall time.
    pub fn append(&self, drafts: Vec<Draft>, clock: impl Fn() -> Millis) -> Result<Appended, StoreError> {
        let path = self.log_path();
        let events_dir = self.events_dir();
        if !events_dir.is_dir() {
            return Err(StoreError::Refused(format!(
                "{} is missing: the shared directory is unreachable or the incident folder was removed",
                events_dir.display()
            )));
        }
        let _lock = self.lock(&path)?;
        let (file, _created) = fsutil::open_write(&path, self.store.sharing)
            .map_err(StoreError::io(format!("cannot open {}", path.display())))?;
        let meta = file
            .metadata()
            .map_err(StoreError::io(format!("cannot stat {}", path.display())))?;
        if !meta.is_file() {
            return Err(StoreError::Refused(format!("{} is not a regular file", path.display())));
        }
        if fsutil::current_uid().is_some_and(|uid| uid != meta.uid()) {
            return Err(StoreError::Refused(format!(
                "{} belongs to another Unix user; logs are only written by their owner (use your own --as name)",
                path.display()
            )));
        }
        let tail = read_tail(&file, &self.identity.writer.to_string())
            .map_err(StoreError::io(format!("cannot read {}", path.display())))?;
        let head_file = self.head_file(&path);
        self.refuse_rollback(&path, &tail, &head_file)?;

        let mut out = Appended::default();
        let mut pending: Vec<Draft> = Vec::with_capacity(drafts.len() + 1);
        if tail.torn_bytes > 0 {
            // A crash mid-write: cut back to the last newline (below, once every record encodes),
            // under the lock, and say so.
            out.repaired = Some((tail.complete_end, tail.torn_bytes));
            pending.push(Draft::new(TailRepaired {
                offset: tail.complete_end,
                bytes: tail.torn_bytes,
            }));
        }
        pending.extend(drafts);

        let others = self.other_tails(&path);
        let writer = self.identity.writer.to_string();
        let mut seq = tail.last_event.as_ref().map_or(0, |e| e.seq);
        let mut own_at = tail.last_event.as_ref().map(|e| e.at);
        let mut prev = tail
            .last_hash
            .clone()
            .unwrap_or_else(|| event::genesis_hash(&self.incident, &writer));
        // (log, at, wall) of every other log's last record.
        let other_last: Vec<(&str, Millis, Millis)> = others
            .iter()
            .filter_map(|(w, t)| t.last_event.as_ref().map(|e| (w.as_str(), e.at, e.wall)))
            .collect();

        let mut buf = Vec::new();
        let mut push = |body: Body, occurred: Option<Millis>, out: &mut Appended| -> Result<u64, StoreError> {
            let wall = clock();
            let (at, ignored) = next_at(wall, own_at, other_last.iter().map(|(_, at, _)| *at));
            // Name writers whose own clock runs ahead of ours (by their wall clock, so a writer
            // who merely followed a fast one is not blamed), and any not followed at all.
            for (i, (w, _, their_wall)) in other_last.iter().enumerate() {
                let far = ignored.contains(&i) || their_wall.saturating_sub(wall) > MAX_AHEAD_MS;
                if far && !out.ahead.iter().any(|a| a == w) {
                    out.ahead.push(w.to_string());
                }
            }
            seq += 1;
            let e = Event {
                id: ulid::Ulid::new().to_string(),
                at,
                wall,
                occurred,
                by: writer.clone(),
                seq,
                prev: prev.clone(),
                body,
            };
            let line = event::encode(&e).map_err(|err| StoreError::Refused(err.to_string()))?;
            prev = event::line_hash(line.as_bytes());
            own_at = Some(at);
            buf.extend_from_slice(line.as_bytes());
            buf.push(b'\n');
            out.events.push(e);
            Ok(seq)
        };
        for d in pending {
            let wants_heads = matches!(d.body, Body::PhaseEntered(_) | Body::Resolved(_));
            let written = push(d.body, d.occurred, &mut out)?;
            if (wants_heads || written % HEADS_EVERY == 0) && !others.is_empty() {
                let heads = others
                    .iter()
                    // Only where the last line is the record the seq came from, so a garbage
                    // line after it never makes an honest log look edited.
                    .filter(|(_, t)| t.lines_back == 1)
                    .filter_map(|(w, t)| {
                        Some(Head {
                            writer: w.clone(),
                            seq: t.last_event.as_ref()?.seq,
                            hash: t.last_hash.clone()?,
                        })
                    })
                    .collect();
                push(Body::Heads(Heads { heads }), None, &mut out)?;
            }
        }

        if tail.torn_bytes > 0 {
            file.set_len(tail.complete_end)
                .map_err(StoreError::io(format!("cannot repair torn tail of {}", path.display())))?;
        }
        if let Err(e) = file
            .write_all_at(&buf, tail.complete_end)
            .and_then(|_| file.sync_data())
        {
            // Leave no half record behind if we can help it (a full disk); the caller keeps the text.
            let _ = file.set_len(tail.complete_end);
            return Err(StoreError::Io {
                what: format!("cannot write to {}", path.display()),
                source: e,
            });
        }
        if let Some(last) = out.events.last() {
            let head = LocalHead {
                seq: last.seq,
                hash: prev.clone(),
            };
            if let Some(dir) = head_file.parent() {
                let _ = fs::create_dir_all(dir);
            }
            // A hint for rollback refusal, not a record: replaced atomically but not fsynced (the
            // log itself is synced; losing this file in a crash only skips one check).
            let text = ron::to_string(&head).unwrap_or_default();
            let tmp = head_file.with_extension("ron.tmp");
            if fs::write(&tmp, text).is_ok() {
                let _ = fs::rename(&tmp, &head_file);
            }
        }
        Ok(out)
    }

    fn refuse_rollback(&self, path: &Path, tail: &Tail, head_file: &Path) -> Result<(), StoreError> {
        let Ok(text) = fs::read_to_string(head_file) else {
            return Ok(());
        };
        let Ok(mine) = ron::from_str::<LocalHead>(&text) else {
            return Ok(());
        };
        let found = tail.last_event.as_ref().map_or(0, |e| e.seq);
        // Shorter than what this host wrote, or the same length but another last record (a
        // different copy of the file was put in its place).
        let replaced =
            found == mine.seq && tail.lines_back == 1 && tail.last_hash.as_deref() != Some(mine.hash.as_str());
        if found < mine.seq || replaced {
            return Err(StoreError::RolledBack {
                log: path.display().to_string(),
                found,
                ours: mine.seq,
                state: head_file.display().to_string(),
            });
        }
        Ok(())
    }

    /// The last line of every other log (by file stem, `name@host.install`): their `at` for
    /// ordering and their heads.
    fn other_tails(&self, own: &Path) -> Vec<(String, Tail)> {
        let mut out = Vec::new();
        let Ok(entries) = fs::read_dir(self.events_dir()) else {
            return out;
        };
        for entry in entries.flatten() {
            let p = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if p == own || !name.ends_with(LOG_EXT) || !entry.file_type().is_ok_and(|t| t.is_file()) {
                continue;
            }
            let Some(writer) = writer_of_log(&name) else {
                continue;
            };
            let stem = name.trim_end_matches(LOG_EXT).to_string();
            if let Ok(t) = fsutil::open_read(&p).and_then(|f| read_tail(&f, &writer)) {
                out.push((stem, t));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

/// What this host last wrote to `log` (seq and line hash), if it ever wrote there.
pub fn local_head(store: &Store, log: &Path) -> Option<(u64, String)> {
    let file = store
        .state_dir
        .join("heads")
        .join(format!("{}.ron", LogWriter::key_of(log)));
    let head: LocalHead = ron::from_str(&fs::read_to_string(file).ok()?).ok()?;
    Some((head.seq, head.hash))
}
