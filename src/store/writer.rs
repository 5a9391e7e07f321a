//! Appending to this writer's own log: one lock around each append, a positioned write at the
//! offset just read (no O_APPEND: unsafe on NFS and some sshfs), `sync_data`, torn-tail repair and
//! rollback repair. Only the tails of the logs are read, so a write costs the same on day one
//! and on day ten of an incident.
//!
//! Every line this install acknowledged is also kept in a local copy (the state directory, never
//! the shared one). If a sync tool puts an older copy of the log in place, the next append
//! re-appends the missing lines verbatim (same bytes, so readers that saw them see duplicates,
//! and the chain still links) and records `LogRestored`: a writer is never locked out.

use std::fs::{self, File};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::tail::{read_tail, RevLines, Tail};
use super::{fsutil, writer_of_log, Identity, Store, StoreError, EVENTS_DIR, LOG_EXT};
use crate::domain::event::{self, Body, Disowned, Event, Head, Heads, LogRestored, Name, TailRepaired};
use crate::domain::state::{next_at, Claim, MAX_AHEAD_MS};
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
    /// A sync tool had rolled the log back: what was re-appended.
    pub restored: Option<LogRestored>,
    /// Seqs of records in this log that this install never wrote (someone wrote under its
    /// name, or edited its records).
    pub foreign: Vec<u64>,
}

/// This host's memory of the last record it wrote to a log (for rollback refusal).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
struct LocalHead {
    seq: u64,
    hash: String,
    /// The record's sort key (read from the local copy; not in the hint file).
    #[serde(default, skip_serializing)]
    at: Millis,
    /// Offset just past the record in the shared log, as this install wrote it.
    #[serde(default)]
    end: Option<u64>,
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

    /// The local copy of every line this install acknowledged in the log at `path`.
    fn acked_file(&self, path: &Path) -> PathBuf {
        acked_path(self.store, path)
    }

    /// Take the per-log locks: one in the install's state directory, then one in the local lock
    /// folder (never on the shared file system). Two of one install's processes that see
    /// different `XDG_RUNTIME_DIR`s (cron, `su`, an ssh session without systemd, containers
    /// sharing a home) still take turns through the first; the order is fixed, so no deadlock.
    fn lock(&self, path: &Path) -> Result<(File, File), StoreError> {
        let dir = self.store.state_dir.join("locks");
        fs::create_dir_all(&dir).map_err(StoreError::io(format!("cannot create lock folder {}", dir.display())))?;
        let lock_path = dir.join(format!("{}.lock", Self::key_of(path)));
        let install_lock = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(StoreError::io(format!("cannot open lock {}", lock_path.display())))?;
        install_lock
            .lock()
            .map_err(StoreError::io(format!("cannot lock {}", lock_path.display())))?;
        Ok((install_lock, self.runtime_lock(path)?))
    }

    fn runtime_lock(&self, path: &Path) -> Result<File, StoreError> {
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
        for dir in [self.store.incident_dir(&self.incident), events_dir.clone()] {
            match fsutil::real_dir(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(StoreError::Refused(format!(
                        "{} is missing: the shared directory is unreachable or the incident folder was removed",
                        dir.display()
                    )))
                }
                Err(e) => return Err(StoreError::Refused(format!("{} {e}: nothing written", dir.display()))),
            }
        }
        if let Some(e) = &self.store.trust.signer_error {
            return Err(StoreError::Refused(format!("cannot sign: {e}; nothing written")));
        }
        let required = self.signatures_required();
        if required.is_some() && self.store.signer.is_none() {
            return Err(StoreError::Refused(format!(
                "{} requires SSH-signed records and no signing key is set: sign with --sign agent (or --sign ~/.ssh/KEY.pub), \
                 WARROOM_SIGNING_KEY, or config.ron `signing: (key: ...)`; nothing written",
                required.unwrap_or_default()
            )));
        }
        // Checked once, before anything is written: the reader applies the same check. Whether or
        // not signatures are required, a signature every reader would call a mismatch (a key the
        // allowed_signers file does not allow for this name) is refused here first.
        let trust = self.store.signer.as_ref().map(|_| self.store.allowed_signers());
        let need_trust = required.is_some();
        let _lock = self.lock(&path)?;
        let (file, created) = fsutil::open_write(&path, self.store.sharing)
            .map_err(StoreError::io(format!("cannot open {}", path.display())))?;
        // A write refused after the log was made leaves no empty log behind (dropped before the
        // lock, so no other process of this writer has it open).
        let _unmade = created.then(|| RemoveIfEmpty(&path, &file));
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
        let head_file = self.head_file(&path);
        let acked_file = self.acked_file(&path);
        let tail = match read_tail(&file, &self.identity.writer.to_string()) {
            Ok(t) => t,
            // Megabytes without a newline after this install's last record (planted, or a
            // sync tool's debris): cut back to where this install's last write ended.
            Err(e) => after_own_end(&file, &head_file, &acked_file).ok_or_else(|| StoreError::Io {
                what: format!("cannot read {}", path.display()),
                source: e,
            })?,
        };
        let restore = lost_lines(&tail, &path, &head_file, &acked_file, &self.identity.writer.to_string());

        if let (Some(r), Some(_)) = (&restore, &self.store.signer) {
            if !r.strangers.is_empty() {
                return Err(StoreError::Refused(format!(
                    "TAMPERED: {} holds {} line(s) this install never wrote (seq {}); a signature now would vouch for them, \
                     so nothing is signed or written. See `warroom verify {}`; to go on, rename the log out of the way \
                     (e.g. to {}.tampered, kept as evidence) and write again: this host re-appends your acknowledged \
                     records from its local copy {}",
                    path.display(),
                    r.strangers.len(),
                    r.strangers
                        .iter()
                        .take(10)
                        .map(u64::to_string)
                        .collect::<Vec<_>>()
                        .join(", "),
                    self.incident,
                    path.display(),
                    acked_file.display()
                )));
            }
        }
        let mut out = Appended::default();
        let mut pending: Vec<Draft> = Vec::with_capacity(drafts.len() + 2);
        if tail.torn_bytes > 0 {
            // A crash mid-write: cut back to the last newline (below, once every record encodes),
            // under the lock, and say so.
            out.repaired = Some((tail.complete_end, tail.torn_bytes));
            pending.push(Draft::new(TailRepaired {
                offset: tail.complete_end,
                bytes: tail.torn_bytes,
            }));
        }

        let others = self.other_tails(&path);
        let writer = self.identity.writer.to_string();
        let log = self.identity.log_id();
        self.require_declaration(&log, &others)?;
        // Made once: every record of this append shares them (see `Name`).
        let log_name = Name::with_writer(&log, Name::from(&writer));
        // Seq and sort key continue from this install's own records: a record someone planted
        // under its name (seq 2^53, `at` in the year 9999) must not lock it out or drag it along.
        let (mut seq, mut own_at) = match &restore {
            Some(r) => (r.base_seq, r.base_at),
            None => (
                tail.last_event.as_ref().map_or(0, |e| e.seq),
                tail.last_event.as_ref().map(|e| e.at),
            ),
        };
        let mut prev = tail
            .last_hash
            .clone()
            .unwrap_or_else(|| event::genesis_hash(&self.incident, &writer));
        let mut buf = Vec::new();
        if let Some(r) = &restore {
            out.foreign = r.foreign.clone();
            // Verbatim: the same bytes, ids and seqs the readers may already have seen.
            for (_, line) in &r.lines {
                buf.extend_from_slice(line);
                buf.push(b'\n');
                prev = event::line_hash(line);
            }
            if !r.planted.is_empty() {
                pending.push(Draft::new(Disowned {
                    seqs: r.planted.clone(),
                }));
            }
            if !r.lines.is_empty() {
                let note = LogRestored {
                    found: r.found,
                    from: r.lines.first().map_or(r.found + 1, |(e, _)| e.seq),
                    to: r.lines.last().map_or(r.found, |(e, _)| e.seq),
                    restored: r.lines.len() as u64,
                };
                out.restored = Some(note.clone());
                pending.push(Draft::new(note));
            }
        }
        pending.extend(drafts);
        // (log, at, wall) of every other log's last record.
        let other_last: Vec<(&str, Millis, Millis)> = others
            .iter()
            .filter_map(|(w, t)| t.last_event.as_ref().map(|e| (w.as_str(), e.at, e.wall)))
            .collect();

        // `None`: the signature over the log up to the record just pushed.
        let mut push = |body: Option<Body>, occurred: Option<Millis>, out: &mut Appended| -> Result<u64, StoreError> {
            let wall = clock();
            let body = match body {
                Some(b) => b,
                None => self.sign_head(&prev, trust.as_ref(), need_trust, wall)?.into(),
            };
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
                id: ulid::Ulid::new().to_string().into(),
                at,
                wall,
                occurred: occurred.into(),
                seq,
                body,
                log: log_name.clone(),
            };
            let line = event::encode(&e, &prev.as_str().into()).map_err(|err| StoreError::Refused(err.to_string()))?;
            prev = event::line_hash(line.as_bytes());
            own_at = Some(at);
            buf.extend_from_slice(line.as_bytes());
            buf.push(b'\n');
            out.events.push(e);
            Ok(seq)
        };
        for d in pending {
            let wants_heads = matches!(d.body, Body::PhaseEntered(_) | Body::Resolved(_));
            let written = push(Some(d.body), d.occurred, &mut out)?;
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
                push(Some(Body::Heads(Heads { heads })), None, &mut out)?;
            }
        }
        // One signature over the whole batch, in the same write: its head is the batch's last line.
        if self.store.signer.is_some() && !out.events.is_empty() {
            push(None, None, &mut out)?;
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
        // Acknowledged only once the local copy holds it too (what a rollback could take away).
        let new_bytes = &buf[restore.as_ref().map_or(0, |r| r.bytes)..];
        append_local(&acked_file, new_bytes).map_err(StoreError::io(format!(
            "wrote {} but cannot keep a local copy in {}",
            path.display(),
            acked_file.display()
        )))?;
        if let Some(last) = out.events.last() {
            let head = LocalHead {
                seq: last.seq,
                hash: prev.clone(),
                at: last.at,
                end: Some(tail.complete_end + buf.len() as u64),
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

    /// Whether records written here must be signed, and why (`None`: they need not be): the
    /// responder's config, or the incident's declaration (its copy in `incident.ron`).
    fn signatures_required(&self) -> Option<String> {
        if self.store.trust.require {
            return Some("your config (signing: (require: true))".into());
        }
        let dir = self.store.incident_dir(&self.incident);
        let header = fsutil::open_read(&dir.join(super::HEADER_FILE))
            .and_then(std::io::read_to_string)
            .ok()?;
        let header: super::incident::Header = ron::from_str(header.trim_start_matches('\u{feff}')).ok()?;
        header.require_signatures.then(|| format!("incident {}", self.incident))
    }

    /// Sign the log up to `head` (the hash of the last line of this batch). The signature must
    /// pass the readers' check against `trust`, so a record a writer acknowledged is never refused
    /// or called tampering later; with no usable allowed_signers (readers then say "not checked")
    /// that is an error only where signatures are `required`.
    fn sign_head(
        &self,
        head: &str,
        trust: Option<&crate::domain::signing::AllowedSigners>,
        required: bool,
        wall: Millis,
    ) -> Result<event::Signed, StoreError> {
        use crate::domain::signing::NS_EVENT;
        let Some(signer) = &self.store.signer else {
            return Err(StoreError::Refused("no signing key; nothing written".into()));
        };
        // Bound to this log: a copy under another log's name does not verify.
        let log = self.identity.log_id();
        let msg = crate::domain::signing::event_message(Some(&log), head);
        let sig = signer
            .sign(NS_EVENT, msg.as_bytes())
            .map_err(|e| StoreError::Refused(format!("{e}; nothing written")))?;
        if let Some(trust) = trust {
            let writer = self.identity.writer.to_string();
            let checked = match trust.check(&writer, NS_EVENT, msg.as_bytes(), &sig, wall) {
                Err(crate::domain::signing::SigError::NoTrust(_)) if !required => Ok(()),
                r => r.map(|_| ()),
            };
            checked.map_err(|e| {
                use crate::domain::signing::SigError;
                let why = if required {
                    "signatures are required and yours would be refused"
                } else {
                    "every reader would call your signature tampering"
                };
                let path = self.store.allowed_signers_path();
                let name = &self.identity.writer.name;
                let expired = crate::domain::trust::expired_refusal(trust, signer.public_key(), name, &writer, wall);
                match (&e, expired) {
                    // A rotated-out key: another line for it would undo the rotation.
                    (SigError::Expired(_), Some(said)) => {
                        StoreError::Refused(format!("{why}: {said} (in {}); nothing written", path.display()))
                    }
                    // The line is there; what is missing is this host's acceptance of the change
                    // that brought it (the change's note says how to accept).
                    (SigError::Unaccepted(fp, note), _) => StoreError::Refused(format!(
                        "{why}: your key {fp} came with a change to {} that this host has not accepted, so no reader here counts it yet: {note}. Once it is accepted, write again; nothing written",
                        path.display()
                    )),
                    // A key listed for other namespaces needs its namespaces fixed, and one on a
                    // skipped line needs that line fixed (its reason says how), not a second line.
                    (SigError::WrongNamespace(..), _) => {
                        StoreError::Refused(format!("{why}: {e} (in {}); nothing written", path.display()))
                    }
                    _ if trust.skipped_has(signer.public_key()) => {
                        StoreError::Refused(format!("{why}: {e} (in {}); nothing written", path.display()))
                    }
                    _ => StoreError::Refused(format!(
                        "{why}: {e} (in {}; add a line `{name} {}`); nothing written",
                        path.display(),
                        signer.public_key().to_openssh().unwrap_or_default()
                    )),
                }
            })?;
        }
        Ok(event::Signed {
            head: head.to_string(),
            key: signer.fingerprint().to_string(),
            sig,
            log: Some(log),
        })
    }

    /// Write only where the incident's declaration is in view: the claim (`incident.ron`) and the
    /// log it names must be here, so every record sorts after the `Declared` it answers (the
    /// hybrid clock follows that log) and the fold never refuses what was acknowledged.
    fn require_declaration(&self, own: &str, others: &[(String, Tail)]) -> Result<(), StoreError> {
        let dir = self.store.incident_dir(&self.incident);
        let not_yet = |what: String| {
            StoreError::Refused(format!(
                "{what}: the incident has not fully synced to this host yet; nothing written — try again in a moment"
            ))
        };
        // The declarer this host read first is the one it keeps (a claim rewritten or removed
        // later changes nothing here; readers report it); the first read is remembered.
        let mut memory = super::memory::load(self.store, &self.incident);
        let claim = match memory.claim.clone() {
            Some(log) => Claim::Log(log),
            None => {
                let header = fsutil::open_read(&dir.join(super::HEADER_FILE))
                    .and_then(std::io::read_to_string)
                    .map_err(|e| {
                        not_yet(format!(
                            "cannot read {}/{} ({e}; not synced yet, or removed)",
                            self.incident,
                            super::HEADER_FILE
                        ))
                    })?;
                let header: super::incident::Header = ron::from_str(header.trim_start_matches('\u{feff}'))
                    .map_err(|e| not_yet(format!("{}/{} is unreadable ({e})", self.incident, super::HEADER_FILE)))?;
                let claim = header.claim();
                if let Claim::Log(log) = &claim {
                    memory.claim = Some(log.clone());
                    super::memory::save(self.store, &self.incident, &memory);
                }
                claim
            }
        };
        let present = |wanted: &dyn Fn(&str) -> bool| {
            wanted(own) || others.iter().any(|(stem, t)| wanted(stem) && t.last_event.is_some())
        };
        let ok = match claim {
            Claim::Log(l) => present(&|stem: &str| stem == l),
            Claim::Writer(w) => present(&|stem: &str| stem.rsplit_once('.').is_some_and(|(wr, _)| wr == w)),
            Claim::Unchecked | Claim::Pending => true,
        };
        if ok {
            Ok(())
        } else {
            Err(not_yet("the declaring log is not here".into()))
        }
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

/// What the shared log lacks of what this install acknowledged, found by comparing it with the
/// local copy — done only when the log does not end with this install's last record.
struct Lost {
    /// The last of this install's records the shared log still holds (0: none).
    found: u64,
    /// Acknowledged lines the log no longer holds (cut off, or edited), oldest first: re-appended
    /// verbatim.
    lines: Vec<(Event, Vec<u8>)>,
    /// Their size in the buffer, newlines included.
    bytes: usize,
    /// Seqs of records under this writer's name that this install never wrote.
    foreign: Vec<u64>,
    /// Those of them at seqs this install never used: planted, to be disowned. (An edited
    /// version of one of its own records is answered by re-appending the original instead.)
    planted: Vec<u64>,
    /// Where this install's own records leave off: seq and sort key to continue from.
    base_seq: u64,
    base_at: Option<Millis>,
    /// Seqs of every line in the shared log this install never wrote, whoever it names: a
    /// signature over the log would vouch for them.
    strangers: Vec<u64>,
}

/// The fast path is a comparison of the log's last record with the local copy's; anything else
/// (rolled back, replaced, edited, planted under this name, garbage after it) reads both files
/// whole and re-appends what the log lacks.
fn lost_lines(tail: &Tail, path: &Path, head_file: &Path, acked_file: &Path, writer: &str) -> Option<Lost> {
    // Records already in a log this install never wrote to were put there by someone else
    // (a name and install id copied from another incident): all of them are strangers.
    let mine = match acked_head(acked_file).or_else(|| read_head_file(head_file)) {
        Some(m) => m,
        None if tail.last_event.is_some() => LocalHead::default(),
        None => return None,
    };
    let at_end = tail.last_event.as_ref().is_some_and(|e| e.seq == mine.seq)
        && tail.last_event_hash.as_deref() == Some(mine.hash.as_str());
    if at_end {
        return None;
    }
    let acked = all_lines(acked_file).unwrap_or_default();
    let acked_hashes: std::collections::HashSet<String> = acked.iter().map(|(_, l)| event::line_hash(l)).collect();
    let shared = all_lines(path).ok()?;
    let shared_hashes: std::collections::HashSet<String> = shared.iter().map(|(_, l)| event::line_hash(l)).collect();
    let mut found = 0;
    let mut foreign = Vec::new();
    let mut strangers = Vec::new();
    for (e, line) in &shared {
        if acked_hashes.contains(&event::line_hash(line)) {
            found = found.max(e.seq);
        } else {
            strangers.push(e.seq);
            if e.by() == writer {
                foreign.push(e.seq);
            }
        }
    }
    let own_seqs: std::collections::HashSet<u64> = acked.iter().map(|(e, _)| e.seq).collect();
    let planted: Vec<u64> = foreign
        .iter()
        .copied()
        .filter(|s| !own_seqs.contains(s))
        .take(event::MAX_DISOWNED)
        .collect();
    let lines: Vec<(Event, Vec<u8>)> = acked
        .into_iter()
        .filter(|(_, l)| !shared_hashes.contains(&event::line_hash(l)))
        .collect();
    let bytes = lines.iter().map(|(_, l)| l.len() + 1).sum();
    // Continue after plausible strangers' seqs, so this install's next records do not clash
    // with them; a seq far beyond anything written (planted to lock the writer out) is ignored.
    let plausible = foreign.iter().copied().filter(|s| *s <= mine.seq + 1_000_000).max();
    Some(Lost {
        found,
        base_seq: mine.seq.max(plausible.unwrap_or(0)),
        base_at: (mine.seq > 0).then_some(mine.at),
        lines,
        bytes,
        foreign,
        planted,
        strangers,
    })
}

/// Every record of a log file, parsed, with its line; unreadable lines are skipped.
fn all_lines(path: &Path) -> std::io::Result<Vec<(Event, Vec<u8>)>> {
    use std::io::BufRead;
    let mut out = Vec::new();
    for line in std::io::BufReader::new(File::open(path)?).split(b'\n') {
        let line = line?;
        if line.len() > event::MAX_LINE {
            continue;
        }
        if let Some(e) = std::str::from_utf8(&line).ok().and_then(|s| event::parse(s).ok()) {
            out.push((e, line));
        }
    }
    Ok(out)
}

/// When no record boundary is near the end of the log: if this install's last write still ends
/// where it did (its last line right before), everything after it is debris to cut.
fn after_own_end(file: &File, head_file: &Path, acked_file: &Path) -> Option<Tail> {
    let head = read_head_file(head_file)?;
    let mine = acked_head(acked_file)?;
    let end = head.end.filter(|e| *e > 0)?;
    let len = file.metadata().ok()?.len();
    let mut lines = RevLines::new(file, end, end.saturating_sub(event::MAX_LINE as u64 + 1));
    let (_, last) = lines.next_line().ok()??;
    if event::line_hash(&last) != mine.hash || len <= end {
        return None;
    }
    let e = std::str::from_utf8(&last).ok().and_then(|s| event::parse(s).ok())?;
    Some(Tail {
        len,
        complete_end: end,
        torn_bytes: len - end,
        last_hash: Some(mine.hash.clone()),
        last_event: Some(e),
        lines_back: 1,
        last_event_hash: Some(mine.hash),
    })
}

/// Removes a log this write created if it is still empty when dropped (the write was refused).
struct RemoveIfEmpty<'a>(&'a Path, &'a File);

impl Drop for RemoveIfEmpty<'_> {
    fn drop(&mut self) {
        if self.1.metadata().is_ok_and(|m| m.len() == 0) {
            let _ = fs::remove_file(self.0);
        }
    }
}

fn acked_path(store: &Store, log: &Path) -> PathBuf {
    acked_path_in(&store.state_dir, log)
}

fn acked_path_in(state_dir: &Path, log: &Path) -> PathBuf {
    state_dir
        .join("acked")
        .join(format!("{}{LOG_EXT}", LogWriter::key_of(log)))
}

/// Append to the local copy and sync it (local disk: O_APPEND is safe here).
fn append_local(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    if bytes.is_empty() {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let mut f = fs::OpenOptions::new().create(true).append(true).open(path)?;
    f.write_all(bytes)?;
    f.sync_data()
}

/// The hash of every line this host wrote to the log at `log`, by seq, from its local copy
/// (`<state>/acked/`); empty if it never wrote there. Read only when a copy of a record shows
/// up in that log (rare): the writer's own host never takes a copy it did not write for its own.
pub fn own_versions(state_dir: &Path, log: &Path) -> std::collections::HashMap<u64, String> {
    all_lines(&acked_path_in(state_dir, log))
        .unwrap_or_default()
        .into_iter()
        .map(|(e, line)| (e.seq, event::line_hash(&line)))
        .collect()
}

/// The length of the local copy [`own_versions`] reads (0: none): it grows with every write
/// this host acknowledges, and what was read of it is stale once it has.
pub fn own_versions_len(state_dir: &Path, log: &Path) -> u64 {
    fs::metadata(acked_path_in(state_dir, log)).map_or(0, |m| m.len())
}

/// What this host last wrote to `log` (seq and line hash), if it ever wrote there.
pub fn local_head(store: &Store, log: &Path) -> Option<(u64, String)> {
    let acked = acked_path(store, log);
    let heads = store
        .state_dir
        .join("heads")
        .join(format!("{}.ron", LogWriter::key_of(log)));
    let head = acked_head(&acked).or_else(|| read_head_file(&heads))?;
    Some((head.seq, head.hash))
}

/// The last record of the local copy: what this install last acknowledged (the head file is
/// only a hint kept for installs from before the copy existed).
fn acked_head(acked: &Path) -> Option<LocalHead> {
    let file = File::open(acked).ok()?;
    let len = file.metadata().ok()?.len();
    let mut lines = RevLines::new(&file, len, len.saturating_sub(4 * (event::MAX_LINE as u64 + 1)));
    while let Ok(Some((_, bytes))) = lines.next_line() {
        if let Some(e) = std::str::from_utf8(&bytes).ok().and_then(|s| event::parse(s).ok()) {
            return Some(LocalHead {
                seq: e.seq,
                hash: event::line_hash(&bytes),
                at: e.at,
                end: None,
            });
        }
    }
    None
}

fn read_head_file(path: &Path) -> Option<LocalHead> {
    ron::from_str(&fs::read_to_string(path).ok()?).ok()
}
