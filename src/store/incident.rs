//! One incident folder: claiming it (`mkdir`), the header copy, the playbook copies, and an open
//! incident that folds what the reader brings in.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::memory::{self, Memory};
use super::reader::{IncidentReader, Texts};
use super::writer::{Draft, LogWriter};
use super::{fsutil, Identity, Store, StoreError, EVENTS_DIR, HEADER_FILE, PLAYBOOKS_DIR};
use crate::domain::event::{Body, Declared, Event, Mode};
use crate::domain::state::{Claim, PendingBatch};
use crate::domain::time::Millis;
use crate::domain::{playbook, IncidentState, Playbook, Problem};

/// `2026-11-22-ransomware-fin-7f3a`: a date, a slug of the title, a random suffix.
pub fn valid_incident_id(s: &str) -> bool {
    (12..=80).contains(&s.len())
        && s.as_bytes()[..10].iter().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                *b == b'-'
            } else {
                b.is_ascii_digit()
            }
        })
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

pub fn slug(title: &str, max: usize) -> String {
    let mut out = String::new();
    for c in title.chars().flat_map(|c| c.to_lowercase()) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
        if out.len() >= max {
            break;
        }
    }
    let s = out.trim_matches('-').to_string();
    if s.is_empty() {
        "incident".to_string()
    } else {
        s
    }
}

/// The claim's record (`incident.ron`), written right after the `mkdir` that claimed the id and
/// before the `Declared` event: it names the declaring log, whose `Declared` (seq 1) is the
/// incident's authority for title, severity, mode and playbook. The other fields are a copy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub incident: String,
    pub title: String,
    pub severity: u8,
    pub mode: Mode,
    pub playbook: String,
    pub playbook_hash: String,
    pub commander: String,
    pub declared_by: String,
    pub declared_at: Millis,
    /// The declaring log, `name@host.install` (absent in claims written before it was recorded:
    /// then `declared_by` names the writer).
    #[serde(default)]
    pub log: Option<String>,
    /// A copy of the `Declared` record's `require_signatures` (the record is the authority).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_signatures: bool,
}

impl Header {
    /// Which `Declared` is the incident's.
    pub fn claim(&self) -> Claim {
        match &self.log {
            Some(log) => Claim::Log(log.clone()),
            None => Claim::Writer(self.declared_by.clone()),
        }
    }
}

pub struct DeclareRequest<'a> {
    pub playbook: &'a Playbook,
    pub title: String,
    pub severity: u8,
    pub mode: Mode,
    pub commander: String,
    pub occurred: Option<Millis>,
    /// Every record must be SSH-signed (the declarer must be signing).
    pub require_signatures: bool,
}

/// Claim a new incident folder with `mkdir` (atomic on NFS and SMB), store the resolved playbook,
/// write the Declared event as seq 1 of the declarer's log, then the header copy.
pub fn declare(
    store: &Store,
    identity: &Identity,
    req: DeclareRequest,
    clock: impl Fn() -> Millis + Copy,
) -> Result<(String, Event), StoreError> {
    match declare_keyed(store, identity, req, clock, None)? {
        Declaration::New(id, event) => Ok((id, *event)),
        Declaration::Taken(id) => Err(StoreError::Refused(format!("{id} was claimed already"))),
    }
}

/// What a keyed declaration found.
#[derive(Debug)]
pub enum Declaration {
    /// Declared: the new incident and its `Declared`.
    New(String, Box<Event>),
    /// The id this key gives was claimed already (another host declaring the same thing).
    Taken(String),
}

/// The id suffix a key gives: 4 characters of its hash, in the random suffix's alphabet, so two
/// hosts declaring for the same key on the same day claim the same folder.
pub fn keyed_suffix(key: &str) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    blake3::hash(key.as_bytes()).as_bytes()[..4]
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

/// [`declare`], with an optional key (an alert's routing key): its suffix is derived from the
/// key, and a folder of that id already claimed is answered `Taken` (never a second incident).
pub fn declare_keyed(
    store: &Store,
    identity: &Identity,
    req: DeclareRequest,
    clock: impl Fn() -> Millis + Copy,
    key: Option<&str>,
) -> Result<Declaration, StoreError> {
    if !(1..=4).contains(&req.severity) {
        return Err(StoreError::Refused(format!(
            "severity must be 1..4, not {}",
            req.severity
        )));
    }
    let date = crate::domain::time::to_datetime(clock()).format("%Y-%m-%d").to_string();
    // An exercise or a demo says so in its folder name too.
    let kind = match req.mode {
        Mode::Real => "",
        Mode::Exercise => "exercise-",
        Mode::Demo => "demo-",
    };
    let base = format!("{date}-{kind}{}", slug(&req.title, 32));
    let mut id = String::new();
    if let Some(key) = key {
        let candidate = format!("{base}-{}", keyed_suffix(key));
        let dir = store.incident_dir(&candidate);
        if !fsutil::create_dir(&dir, store.sharing).map_err(StoreError::io(format!(
            "cannot create {} in {}",
            candidate,
            store.describe()
        )))? {
            return Ok(Declaration::Taken(candidate));
        }
        id = candidate;
    }
    for _ in 0..20 {
        if !id.is_empty() {
            break;
        }
        let candidate = format!("{base}-{}", super::random_id(4));
        let dir = store.incident_dir(&candidate);
        if fsutil::create_dir(&dir, store.sharing).map_err(StoreError::io(format!(
            "cannot create {} in {}",
            candidate,
            store.describe()
        )))? {
            id = candidate;
            break;
        }
    }
    if id.is_empty() {
        return Err(StoreError::Refused("could not claim a fresh incident id".into()));
    }
    let dir = store.incident_dir(&id);
    for sub in [EVENTS_DIR, PLAYBOOKS_DIR] {
        fsutil::create_dir(&dir.join(sub), store.sharing)
            .map_err(StoreError::io(format!("cannot create {}/{sub}", dir.display())))?;
    }
    let hash = req.playbook.content_hash();
    let copy = dir.join(PLAYBOOKS_DIR).join(format!("{hash}.ron"));
    fsutil::write_atomic(&copy, req.playbook.canonical_ron().as_bytes(), store.sharing)
        .map_err(StoreError::io(format!("cannot write {}", copy.display())))?;
    let declared = Declared {
        incident: id.clone(),
        title: req.title.clone(),
        severity: req.severity,
        mode: req.mode,
        playbook: req.playbook.id.clone(),
        playbook_version: req.playbook.version.clone(),
        playbook_hash: hash.clone(),
        commander: req.commander.clone(),
        require_signatures: req.require_signatures,
    };
    // The claim names the declaring log before the Declared is written, so no reader ever sees a
    // Declared without knowing whether it is the incident's.
    let header = Header {
        incident: id.clone(),
        title: req.title,
        severity: req.severity,
        mode: req.mode,
        playbook: req.playbook.id.clone(),
        playbook_hash: hash,
        commander: req.commander,
        declared_by: identity.writer.to_string(),
        declared_at: req.occurred.unwrap_or_else(clock),
        log: Some(identity.log_id()),
        require_signatures: req.require_signatures,
    };
    let text = ron::ser::to_string_pretty(&header, ron::ser::PrettyConfig::new()).unwrap_or_default();
    let written = fsutil::write_atomic(&dir.join(HEADER_FILE), text.as_bytes(), store.sharing)
        .map_err(StoreError::io(format!("cannot write {}/{HEADER_FILE}", dir.display())))
        .and_then(|()| LogWriter::new(store, &id, identity).append(vec![Draft::new(declared).at(req.occurred)], clock))
        .and_then(|appended| {
            appended
                .events
                .into_iter()
                .next()
                .ok_or_else(|| StoreError::Refused("the Declared event was not written".into()))
        });
    match written {
        Ok(event) => Ok(Declaration::New(id, Box::new(event))),
        Err(e) => {
            // Half a declaration (a full disk) must not leave an incident "syncing" for ever:
            // nothing was acknowledged, so the claim is withdrawn.
            let _ = std::fs::remove_dir_all(&dir);
            Err(e)
        }
    }
}

/// What one reconcile pass found: new events (arrival order), newly readable playbook copies and
/// new problems with files and lines.
#[derive(Debug, Default)]
pub struct Update {
    pub events: Vec<Event>,
    /// Shared with the parse kept per content hash (see `parse_playbook_once`).
    pub playbooks: Vec<(String, std::sync::Arc<Playbook>)>,
    pub problems: Vec<Problem>,
    /// What depends on the time it is read — the unreadable last lines still settling, the
    /// records held back for being dated more than a day ahead — when that set changed
    /// (replaces the last one: a record released, or a line settled, is no problem any more).
    pub settling: Option<Vec<Problem>>,
    /// Which `Declared` is the incident's, when the claim was first read.
    pub claim: Option<Claim>,
    /// Records the chain check found wrong: (log, seq, why).
    pub marks: Vec<(String, u64, String)>,
    /// Versions of records their log's chain vouches for over another version read first.
    pub preferred: Vec<Event>,
    /// Stretches of logs a valid SSH signature vouches for.
    pub signed: Vec<super::reader::SignedRange>,
    /// The responder's config requires signatures on every incident.
    pub require_signatures: bool,
    /// Everything is read again from the start (the `allowed_signers` in force changed): the
    /// view drops what it holds and takes this update as a fresh start's first. From
    /// [`Source::poll_streaming`], such an update holds nothing else: poll again (see
    /// [`Source::poll`]).
    pub reset: bool,
}

impl Update {
    /// The same update as parts of at most `max` events each, in the fold's order (`at`, log,
    /// seq), so each part is applied in bounded time and a first open of a long history does
    /// not hold the console's keys back. Applying the parts one after another gives the state
    /// applying the whole gives (the fold is order-independent): the claim, marks and playbooks
    /// come with the first part, the versions the chain vouches for with the last.
    pub fn split(mut self, max: usize) -> Vec<Update> {
        let max = max.max(1);
        if self.events.len() <= max {
            return vec![self];
        }
        self.events.sort_by_cached_key(Event::key);
        let mut rest = std::mem::take(&mut self.events);
        let preferred = std::mem::take(&mut self.preferred);
        let tail = rest.split_off(max);
        self.events = rest;
        let mut parts = vec![self];
        let mut tail = tail.into_iter().peekable();
        while tail.peek().is_some() {
            parts.push(Update {
                events: tail.by_ref().take(max).collect(),
                ..Update::default()
            });
        }
        if let Some(last) = parts.last_mut() {
            last.preferred = preferred;
        }
        parts
    }

    /// This update, then `rest` (read after it), as one update: what applying one and then the
    /// other gives.
    pub fn followed_by(mut self, rest: Update) -> Update {
        self.events.extend(rest.events);
        self.playbooks.extend(rest.playbooks);
        self.problems.extend(rest.problems);
        self.settling = rest.settling.or(self.settling);
        self.claim = self.claim.or(rest.claim);
        self.marks.extend(rest.marks);
        self.preferred.extend(rest.preferred);
        self.signed.extend(rest.signed);
        self.require_signatures |= rest.require_signatures;
        self.reset |= rest.reset;
        self
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
            && self.playbooks.is_empty()
            && self.problems.is_empty()
            && self.settling.is_none()
            && self.claim.is_none()
            && self.marks.is_empty()
            && self.preferred.is_empty()
            && self.signed.is_empty()
            && !self.reset
    }
}

/// Records that sort more than a day ahead of this host's clock are held back, not applied:
/// no writer follows such a clock (see `state::next_at`), so one forged `at` in the year 9999
/// would otherwise outrank every honest record for good. They are applied if this host's
/// clock ever gets there (on the next pass after it does); meanwhile each is a problem that
/// lasts as long as it is held (see [`held_problems`]).
fn hold_future(held: &mut Vec<Event>, events: &mut Vec<Event>, now: Millis) {
    let limit = now.saturating_add(crate::domain::state::FOLLOW_LIMIT_MS);
    let is_due = |e: &Event| e.at.max(e.wall) <= limit;
    if held.is_empty() && events.iter().all(is_due) {
        // The usual case: nothing to hold back or release, so the records are not moved.
        return;
    }
    let (due, mut still): (Vec<Event>, Vec<Event>) = std::mem::take(held).into_iter().partition(is_due);
    let (mut ok, future): (Vec<Event>, Vec<Event>) = std::mem::take(events).into_iter().partition(is_due);
    still.extend(future);
    ok.extend(due);
    *held = still;
    *events = ok;
}

/// What the records held back now are shown as: one problem each, for as long as it is held.
fn held_problems(id: &str, held: &[Event]) -> Vec<Problem> {
    held.iter()
        .map(|e| {
            Problem::new(
                format!("{id}/{EVENTS_DIR}/{}{}", e.log, super::LOG_EXT),
                Some(e.seq),
                format!(
                    "record seq {} is dated {}, more than a day ahead of this host's clock: not applied (forged, or a badly wrong clock)",
                    e.seq,
                    crate::domain::time::format_utc(e.at.max(e.wall))
                ),
            )
        })
        .collect()
}

/// What a source notes of records as they are read, before they are applied: future-dated ones
/// held back, the playbook copies they name, the `Declared`s the claim is checked against.
struct Screen<'a> {
    held: &'a mut Vec<Event>,
    wanted: &'a mut Vec<String>,
    /// `None` once the claim has been checked.
    declareds: Option<&'a mut Vec<(String, String, Declared)>>,
    now: Millis,
}

impl Screen<'_> {
    fn screen(&mut self, events: &mut Vec<Event>) {
        hold_future(self.held, events, self.now);
        for e in events.iter() {
            match &e.body {
                Body::Declared(d) => {
                    self.wanted.push(d.playbook_hash.clone());
                    if let Some(ds) = &mut self.declareds {
                        ds.push((e.log.to_string(), e.by().to_string(), Declared::clone(d)));
                    }
                }
                Body::PlaybookChanged(p) => self.wanted.push(p.hash.clone()),
                _ => {}
            }
        }
    }
}

/// The IO side of an open incident: the reader's position in every log and which playbook copies
/// were read. Lives wherever IO may block (a worker thread for the console).
pub struct Source {
    pub id: String,
    pub dir: PathBuf,
    reader: IncidentReader,
    playbook_files: BTreeMap<String, ()>,
    /// Problems already reported (each is reported once).
    reported: BTreeMap<(String, Option<u64>, String), ()>,
    header_checked: bool,
    /// Playbook hashes the events name.
    wanted: Vec<String>,
    last_settling: Vec<Problem>,
    /// The claim (`incident.ron`), once read.
    header: Option<Header>,
    /// Playbook hashes already looked up in this host's library.
    library_tried: Vec<String>,
    /// Every Declared seen (log, writer, record) until the claim has been checked against them.
    declareds: Vec<(String, String, Declared)>,
    /// What this host remembers of the incident between runs (local state, never shared).
    store: Store,
    memory: Memory,
    memory_dirty: bool,
    /// The claim came from memory (incident.ron missing): said once.
    claim_from_memory: bool,
    /// Records dated more than a day ahead of this host's clock, held back.
    held: Vec<Event>,
    /// The versions the chain vouches for (see `Update::preferred`) of records held back: a
    /// version dated ahead is held as the record is, or it would be applied through the
    /// preference (break round, stop 27: an edited twin of a record dated 9999 won for good).
    held_preferred: Vec<Event>,
    /// Why the source before this one started again (a log changed after it was read): said
    /// with this one's first update.
    carried: Vec<Problem>,
}

/// What this host remembers of incident `id` (see `memory`), with the heads of its own logs
/// that it wrote: what this host wrote counts as seen, so its own show notices its own log cut
/// back.
pub fn remembered(store: &Store, id: &str) -> Memory {
    let dir = store.incident_dir(id);
    let mut memory = memory::load(store, id);
    for entry in std::fs::read_dir(dir.join(EVENTS_DIR)).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(super::LOG_EXT) else {
            continue;
        };
        if let Some((seq, hash)) = super::writer::local_head(store, &entry.path()) {
            if memory.heads.get(stem).is_none_or(|h| h.seq < seq) {
                memory.heads.insert(stem.to_string(), memory::SeenHead { seq, hash });
            }
        }
    }
    memory
}

/// A digest of what this host remembers of an incident (the checks a read makes depend on it).
pub fn memory_hash(memory: &Memory) -> String {
    let text = ron::to_string(&(&memory.claim, &memory.heads)).unwrap_or_default();
    crate::domain::event::line_hash(text.as_bytes())
}

impl Source {
    pub fn new(store: &Store, id: &str) -> Source {
        Source::with_memory(store, id, remembered(store, id))
    }

    /// A source starting from `memory` (what [`remembered`] gave a moment ago).
    pub fn with_memory(store: &Store, id: &str, memory: Memory) -> Source {
        let dir = store.incident_dir(id);
        let mut reader = IncidentReader::new(dir.clone());
        reader.remember(memory.heads.clone());
        reader.set_state_dir(store.state_dir.clone());
        reader.set_trust(
            store.allowed_signers_path(),
            store.allowed_signers_follows(),
            store.kept_allowed_signers_path(),
        );
        // The local secret keys both caches: read once.
        let secret = store.local_secret();
        reader.set_sig_cache(secret.map(|k| super::sigcache::SigCache::open_keyed(&store.state_dir, &dir, k)));
        reader.set_log_cache(secret.map(|k| super::logcache::LogCache::open_keyed(&store.state_dir, &dir, k)));
        Source {
            id: id.to_string(),
            reader,
            dir,
            playbook_files: BTreeMap::new(),
            reported: BTreeMap::new(),
            header_checked: false,
            wanted: Vec::new(),
            last_settling: Vec::new(),
            header: None,
            library_tried: Vec::new(),
            declareds: Vec::new(),
            store: store.clone(),
            memory,
            memory_dirty: false,
            claim_from_memory: false,
            held: Vec::new(),
            held_preferred: Vec::new(),
            carried: Vec::new(),
        }
    }

    /// Which notes' texts to hold (see [`Texts`]), from the next pass on; kept across a read
    /// from the start.
    pub fn set_texts(&mut self, texts: Texts) {
        self.reader.set_texts(texts);
    }

    pub fn texts(&self) -> Texts {
        self.reader.texts()
    }

    /// Nothing read so far depends on the time it was read: no last line still settling, no
    /// record held back for being dated ahead, no playbook taken from this host's library.
    /// (What the summary cache needs before it keeps a summary.)
    pub fn settled(&self) -> bool {
        self.held.is_empty()
            && self.held_preferred.is_empty()
            && self.library_tried.is_empty()
            && self.last_settling.is_empty()
    }

    /// Remember the newest record of every log read so far, and the declarer (local state), so
    /// a later run on this host notices a log cut back or rewritten below them. A log whose chain
    /// or remembered head was found broken keeps its old head, so it is reported on every run.
    /// Cheap: one small file, written only when something moved.
    pub fn save_seen(&mut self) {
        for (log, h) in self.reader.heads() {
            if self.memory.heads.get(&log).is_none_or(|s| s.seq < h.seq) {
                self.memory.heads.insert(log, h);
                self.memory_dirty = true;
            }
        }
        if self.memory_dirty {
            memory::save(&self.store, &self.id, &self.memory);
            self.memory_dirty = false;
        }
    }

    /// Read the claim (`incident.ron`) until it is there; never through a symlink.
    fn read_claim(&mut self, problems: &mut Vec<Problem>) -> Option<Claim> {
        if self.header.is_some() {
            return None;
        }
        let rel = format!("{}/{HEADER_FILE}", self.id);
        let path = self.dir.join(HEADER_FILE);
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_symlink() => {
                problems.push(Problem::new(
                    rel,
                    None,
                    "is a symlink; not followed (the incident shows as syncing until a real claim is there)",
                ));
                return None;
            }
            Err(_) => {
                // Not synced yet — or removed after this host read it: then the declarer it
                // named is still known here.
                let seen = self.memory.claim.clone()?;
                if !self.claim_from_memory {
                    self.claim_from_memory = true;
                    problems.push(Problem::new(
                        rel,
                        None,
                        format!("is missing; this host read it naming {seen} as the declarer, which is used"),
                    ));
                    return Some(Claim::Log(seen));
                }
                return None;
            }
            Ok(_) => {}
        }
        let text = match fsutil::open_read(&path).and_then(std::io::read_to_string) {
            Ok(t) => t,
            Err(e) => {
                problems.push(Problem::new(rel, None, format!("cannot read: {e}")));
                return None;
            }
        };
        match ron::from_str::<Header>(text.trim_start_matches('\u{feff}')) {
            Ok(h) if h.incident == self.id => {
                let mut claim = h.claim();
                match (&self.memory.claim, &claim) {
                    (Some(seen), Claim::Log(now)) if seen != now => {
                        problems.push(Problem::new(
                            rel,
                            None,
                            format!(
                                "now names {now} as the declarer, but this host read it naming {seen}: rewritten? {seen} is used"
                            ),
                        ));
                        claim = Claim::Log(seen.clone());
                    }
                    (None, Claim::Log(now)) => {
                        self.memory.claim = Some(now.clone());
                        self.memory_dirty = true;
                    }
                    _ => {}
                }
                self.header = Some(h);
                Some(claim)
            }
            Ok(_) => {
                problems.push(Problem::new(rel, None, "names another incident; not used"));
                None
            }
            Err(e) => {
                problems.push(Problem::new(rel, Some(e.span.start.line as u64), e.code.to_string()));
                None
            }
        }
    }

    /// One reconcile pass. A pass that had to start again from the start (the trust changed)
    /// reads everything again at once and says so (`reset`).
    pub fn poll(&mut self, now: Millis) -> Update {
        let update = self.poll_streaming(now, None);
        if !update.reset {
            return update;
        }
        let mut update = self.poll_streaming(now, None);
        update.reset = true;
        update
    }

    /// What a read should know before the records, read once before the logs: the claim
    /// (which `Declared` is the incident's) and the playbook copies, with their problems, and
    /// whether this host requires signatures. With them first, a view can derive a long read's
    /// parts as they come (see `tui::model::loading`) rather than all at its end. Empty once
    /// the claim was read (a later pass reads a late claim or copy with the records).
    pub fn read_ahead(&mut self) -> Update {
        let mut problems = Vec::new();
        let claim = self.read_claim(&mut problems);
        let mut playbooks = Vec::new();
        let named = self.header.as_ref().map(|h| h.playbook_hash.clone());
        if claim.is_some() && named.is_some_and(|h| !self.playbook_files.contains_key(&h)) {
            let (found, p) = self.read_new_playbooks();
            playbooks = found;
            problems.extend(p);
        }
        self.first_report(&mut problems);
        Update {
            playbooks,
            problems,
            claim,
            require_signatures: self.store.trust.require,
            ..Update::default()
        }
    }

    /// Keep only the problems not reported before (each is reported once).
    fn first_report(&mut self, problems: &mut Vec<Problem>) {
        problems.retain(|p| {
            self.reported
                .insert((p.source.clone(), p.line, p.what.clone()), ())
                .is_none()
        });
    }

    /// [`Self::poll`], handing the new records to `sink` in parts as they are read (see
    /// [`IncidentReader::poll_streaming`]); the update returned holds the rest of them and
    /// everything else, after what [`Self::read_ahead`] reads (unless the caller took that
    /// first). Applying the parts and then the update gives what applying `poll`'s update gives
    /// (the fold is order-independent). A pass that must start again from the start (the
    /// `allowed_signers` in force changed) stops there and returns only `reset`: the caller
    /// drops its view and polls again, streaming the fresh read the same way.
    pub fn poll_streaming(&mut self, now: Millis, mut sink: Option<&mut dyn FnMut(Vec<Event>)>) -> Update {
        let ahead = self.read_ahead();
        let mut screen = Screen {
            held: &mut self.held,
            wanted: &mut self.wanted,
            declareds: (!self.header_checked).then_some(&mut self.declareds),
            now,
        };
        let mut batch = match &mut sink {
            Some(sink) => self.reader.poll_streaming(
                now,
                Some(&mut |mut events: Vec<Event>| {
                    screen.screen(&mut events);
                    sink(events);
                }),
            ),
            None => self.reader.poll(now),
        };
        screen.screen(&mut batch.events);
        if batch.retrust || batch.reread.is_some() {
            // Signatures already judged (marks, signed stretches, records refused or applied
            // where signatures are required) may be judged otherwise now, or bytes already read
            // are not there any more: start again, exactly as a console started now would (a
            // fresh source reads from the start and reports every problem again). Records a
            // sink took already are dropped with the view the reset replaces.
            self.save_seen();
            let changed = self.reader.changed_in_place();
            let texts = self.reader.texts();
            *self = Source::new(&self.store, &self.id);
            self.reader.carry_changed_in_place(changed);
            self.set_texts(texts);
            self.carried.extend(batch.reread);
            return Update {
                reset: true,
                ..Update::default()
            };
        }
        let mut found = std::mem::take(&mut self.carried);
        found.extend(batch.problems);
        let mut problems = found;
        let claim = self.read_claim(&mut problems);
        let mut playbooks = Vec::new();
        // Sync tools deliver files in any order: look again until every named copy is here.
        if self.wanted.iter().any(|h| !self.playbook_files.contains_key(h)) {
            let (found, p) = self.read_new_playbooks();
            playbooks = found;
            problems.extend(p);
            // A copy that is missing or edited in the shared folder: this host's own library
            // may hold the same playbook (same content hash), which is as good as the original.
            for hash in self.wanted.clone() {
                if self.playbook_files.contains_key(&hash) || self.library_tried.contains(&hash) {
                    continue;
                }
                self.library_tried.push(hash.clone());
                if let Some(p) = library_copy(&hash) {
                    self.playbook_files.insert(hash.clone(), ());
                    problems.push(Problem::new(
                        format!("{}/{PLAYBOOKS_DIR}/{hash}.ron", self.id),
                        None,
                        "missing or not matching its hash here; this host's library copy with the same hash is used",
                    ));
                    playbooks.push((hash, p.into()));
                }
            }
        }
        if !self.header_checked {
            if let Some(h) = &self.header {
                // The claimed log's Declared, checked against the claim's copy of its fields.
                let claim = h.claim();
                let claimed = self.declareds.iter().find_map(|(log, by, d)| {
                    (claim == Claim::Log(log.clone()) || claim == Claim::Writer(by.clone())).then_some(d)
                });
                if let Some(d) = claimed {
                    let mismatch = d.title != h.title || d.playbook_hash != h.playbook_hash;
                    self.header_checked = true;
                    self.declareds.clear();
                    if mismatch {
                        problems.push(Problem::new(
                            format!("{}/{HEADER_FILE}", self.id),
                            None,
                            "does not match the Declared event; the event wins",
                        ));
                    }
                }
            }
        }
        self.first_report(&mut problems);
        let mut preferred = batch.preferred;
        hold_future(&mut self.held_preferred, &mut preferred, now);
        // What depends on the time it is read: last lines still settling, records held back.
        let mut settling = self.reader.settling();
        settling.extend(held_problems(&self.id, &self.held));
        let settling = (settling != self.last_settling).then(|| {
            self.last_settling = settling.clone();
            settling
        });
        ahead.followed_by(Update {
            settling,
            events: batch.events,
            playbooks,
            problems,
            claim,
            marks: batch.marks,
            preferred,
            signed: batch.signed,
            require_signatures: self.store.trust.require,
            reset: false,
        })
    }

    /// Read the playbook copies not yet loaded (leniently: a newer binary may have added fields).
    fn read_new_playbooks(&mut self) -> (Vec<(String, std::sync::Arc<Playbook>)>, Vec<Problem>) {
        let dir = self.dir.join(PLAYBOOKS_DIR);
        let mut found = Vec::new();
        let mut problems = Vec::new();
        if let Err(e) = fsutil::real_dir(&dir) {
            if e.kind() != std::io::ErrorKind::NotFound {
                problems.push(Problem::new(
                    format!("{}/{PLAYBOOKS_DIR}", self.id),
                    None,
                    format!("{e}; not read"),
                ));
            }
            return (found, problems);
        }
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return (found, problems);
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(hash) = name.strip_suffix(".ron") else {
                continue;
            };
            if self.playbook_files.contains_key(hash) || !entry.file_type().is_ok_and(|t| t.is_file()) {
                continue;
            }
            let rel = format!("{}/{PLAYBOOKS_DIR}/{name}", self.id);
            let text = match read_playbook_copy(&entry.path(), hash) {
                Ok(t) => t,
                Err(f @ CopyFault::TooBig) => {
                    self.playbook_files.insert(hash.to_string(), ());
                    problems.push(Problem::new(rel, None, format!("{f}; skipped")));
                    continue;
                }
                // Edited, or only partly synced (or not readable yet): never used for the rules,
                // looked at again later.
                Err(f) => {
                    problems.push(Problem::new(rel, None, format!("{f}; not used")));
                    continue;
                }
            };
            self.playbook_files.insert(hash.to_string(), ());
            match parse_playbook_once(hash, &text) {
                Ok((p, unknown)) => {
                    problems.extend(unknown.into_iter().map(|d| {
                        Problem::new(
                            rel.clone(),
                            Some(d.line as u64),
                            format!("{} (from a newer warroom?)", d.message),
                        )
                    }));
                    found.push((hash.to_string(), p));
                }
                Err(d) => problems.push(Problem::new(rel, Some(d.line as u64), d.message)),
            }
        }
        (found, problems)
    }
}

/// Largest shared playbook copy read (a playbook is a few KiB; this bounds a hostile file).
const MAX_PLAYBOOK_COPY: u64 = 4 << 20;

/// Why a shared playbook copy (`<incident>/playbooks/<hash>.ron`) is not usable.
#[derive(Debug, thiserror::Error)]
pub enum CopyFault {
    #[error("over 4 MiB, not a playbook copy")]
    TooBig,
    #[error("not a regular file")]
    NotFile,
    #[error("cannot read: {0}")]
    Unreadable(std::io::Error),
    /// Edited after it was written, or still syncing: the copies are content-addressed.
    #[error("content does not match its hash (edited, or still syncing)")]
    Edited,
}

/// Read one shared playbook copy and check it against the content hash its file name claims:
/// the one rule `open`, the board and `verify` apply. Sized (without following a symlink)
/// before it is read.
pub fn read_playbook_copy(path: &Path, hash: &str) -> Result<String, CopyFault> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if !m.is_file() => return Err(CopyFault::NotFile),
        Ok(m) if m.len() > MAX_PLAYBOOK_COPY => return Err(CopyFault::TooBig),
        Ok(_) => {}
        Err(e) => return Err(CopyFault::Unreadable(e)),
    }
    let text = fsutil::open_read(path)
        .and_then(std::io::read_to_string)
        .map_err(CopyFault::Unreadable)?;
    if !hashes_to(hash, &text) {
        return Err(CopyFault::Edited);
    }
    Ok(text)
}

/// Whether `text` hashes to `hash`. Copies are content-addressed, so `list` and the board find
/// the same bytes in every incident using a playbook: bytes equal to a copy already found to
/// hash to `hash` (this process) do so too, and are compared rather than hashed again.
fn hashes_to(hash: &str, text: &str) -> bool {
    /// Copies kept (a handful of playbooks in practice), and the largest kept: a folder full of
    /// planted copies cannot hold more than a few MiB here.
    const KEEP: usize = 64;
    const KEEP_BYTES: usize = 256 << 10;
    static KNOWN: std::sync::OnceLock<std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<str>>>> =
        std::sync::OnceLock::new();
    let known = KNOWN.get_or_init(Default::default);
    let lock = || known.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if lock().get(hash).is_some_and(|k| **k == *text) {
        return true;
    }
    if crate::domain::event::line_hash(text.as_bytes()) != hash {
        return false;
    }
    if text.len() <= KEEP_BYTES {
        let mut map = lock();
        if map.len() >= KEEP {
            map.clear();
        }
        map.insert(hash.to_string(), text.into());
    }
    true
}

/// A playbook copy's parse: the playbook (shared, not copied, by every incident using it) and
/// what a newer warroom added that this one does not know.
type Parsed =
    Result<(std::sync::Arc<Playbook>, Vec<crate::domain::ron_input::Diagnostic>), crate::domain::ron_input::Diagnostic>;

/// A playbook copy's parse, once per content hash in this process: `list` and the board read
/// one playbook in every incident that uses it, and the copies are content-addressed (the caller
/// has checked that `text` hashes to `hash`), so one parse serves them all.
fn parse_playbook_once(hash: &str, text: &str) -> Parsed {
    static PARSED: std::sync::OnceLock<std::sync::Mutex<std::collections::HashMap<String, Parsed>>> =
        std::sync::OnceLock::new();
    /// Distinct playbooks kept (a handful in practice; a folder full of planted copies cannot
    /// grow it without bound).
    const KEEP: usize = 256;
    let cache = PARSED.get_or_init(Default::default);
    let lock = || cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(hit) = lock().get(hash) {
        return hit.clone();
    }
    let parsed = playbook::parse(text).map(|(p, unknown)| (std::sync::Arc::new(p), unknown));
    let mut map = lock();
    if map.len() >= KEEP {
        map.clear();
    }
    map.insert(hash.to_string(), parsed.clone());
    parsed
}

/// The playbook with content hash `hash` from this host's own library (the responder's
/// playbook folder and the built-in set), resolved as `declare` resolves it.
fn library_copy(hash: &str) -> Option<Playbook> {
    let lib = super::playbooks::Library::load(None);
    lib.entries
        .iter()
        .filter_map(|e| lib.resolve_entry(e, &mut Vec::new()).ok())
        .find(|p| p.content_hash() == hash)
}

/// The fold of an incident plus the file problems found on the way: what a view shows.
#[derive(Debug, Clone)]
pub struct View {
    pub state: IncidentState,
    pub file_problems: Vec<Problem>,
    pub settling: Vec<Problem>,
}

impl View {
    /// A view of an incident read from the shared directory: no `Declared` counts until the
    /// claim (`incident.ron`) says whose it is.
    pub fn new(id: &str) -> View {
        let mut state = IncidentState::new(id);
        state.set_claim(Claim::Pending);
        View {
            state,
            file_problems: Vec::new(),
            settling: Vec::new(),
        }
    }

    /// Apply an update; returns the keys of the events that were new.
    pub fn apply(&mut self, update: Update) -> Vec<crate::domain::EventKey> {
        self.apply_keys(update, true)
    }

    /// [`Self::apply`], returning the new records' keys only if `want_fresh` (at 1M records
    /// they are a clone of a name each, made and dropped for nothing where nobody reads them).
    pub fn apply_keys(&mut self, update: Update, want_fresh: bool) -> Vec<crate::domain::EventKey> {
        let pending = self.state.begin_batch(want_fresh);
        self.finish(update, pending, want_fresh)
    }

    /// Read what `source` has now into this view: records are inserted as they are parsed (a
    /// long history is never held whole as parsed records beside the fold's copy) and derived
    /// once at the end; `between` runs after each part (the console's worker answers writes
    /// there). A read that must start again from the start (the trust changed) drops the view
    /// and reads again the same way. `keep_fresh`: return the keys of the records that were new.
    pub fn read_from(
        &mut self,
        source: &mut Source,
        now: Millis,
        keep_fresh: bool,
        between: &mut dyn FnMut(),
    ) -> Vec<crate::domain::EventKey> {
        let mut restarts = 0;
        loop {
            let mut pending = self.state.begin_batch(keep_fresh);
            let state = &mut self.state;
            let update = source.poll_streaming(
                now,
                Some(&mut |events| {
                    state.insert_batch(&mut pending, events);
                    between();
                }),
            );
            let restarted = update.reset;
            let fresh = self.finish(update, pending, keep_fresh);
            // A fresh source never asks to start again on its first pass; bounded all the same.
            if !restarted || restarts > 0 {
                return fresh;
            }
            restarts += 1;
        }
    }

    /// Start taking an update's records in parts as they are read, before the update itself
    /// (the console's open of a long incident; see [`Source::poll_streaming`]): the parts go in
    /// with [`Self::insert_part`], and nothing is derived until [`Self::finish_parts`] — exactly
    /// as [`Incident::open`] reads. The parts' keys are not collected as they come (see
    /// [`IncidentState::begin_batch_lazy`]): `finish_parts` is told whether they are wanted.
    pub fn begin_parts(&mut self) -> PendingBatch {
        self.state.begin_batch_lazy()
    }

    /// Insert one part of records (any order, duplicates ignored); nothing is derived yet.
    pub fn insert_part(&mut self, pending: &mut PendingBatch, events: Vec<Event>) {
        self.state.insert_batch(pending, events);
    }

    /// Apply the update that ends a read whose records came in parts: derives once. Returns the
    /// keys of every record that was new (the parts' included) if `want_fresh`, in no
    /// particular order; else none.
    pub fn finish_parts(
        &mut self,
        update: Update,
        pending: PendingBatch,
        want_fresh: bool,
    ) -> Vec<crate::domain::EventKey> {
        self.finish(update, pending, want_fresh)
    }

    /// Apply the rest of an update whose records were partly inserted already (`pending`, see
    /// [`IncidentState::begin_batch`]): whatever asks for a replay (the claim, a playbook, a
    /// signature) is done once, with the records' derivation.
    fn finish(&mut self, update: Update, mut pending: PendingBatch, want_fresh: bool) -> Vec<crate::domain::EventKey> {
        // After a reset, only records this view did not hold before count as new (a `tail
        // --follow` must not print the history again, nor the console move its scroll). The
        // batch begun on the old view goes with it.
        let before = update.reset.then(|| {
            let fresh = View::new(&self.state.id);
            std::mem::replace(self, fresh)
        });
        if before.is_some() {
            pending = self.state.begin_batch(true);
        }
        self.file_problems.extend(update.problems);
        for (log, seq, why) in update.marks {
            self.state.mark(&log, seq, why);
        }
        if update.require_signatures {
            self.state.set_require_signatures(true);
        }
        for r in update.signed {
            self.state.note_signed(&r.log, r.from, r.to, &r.principal);
        }
        if let Some(claim) = update.claim {
            self.state.set_claim(claim);
        }
        if let Some(settling) = update.settling {
            self.settling = settling;
        }
        for (hash, p) in update.playbooks {
            self.state.add_playbook(hash, p);
        }
        self.state.insert_batch(&mut pending, update.events);
        let fresh = self.state.finish_batch_keys(pending, want_fresh);
        self.state.prefer_all(update.preferred);
        match before {
            Some(before) => fresh.into_iter().filter(|k| before.state.event(k).is_none()).collect(),
            None => fresh,
        }
    }

    /// Every problem: files and lines skipped or settling, rules the fold refused.
    pub fn problems(&self) -> Vec<Problem> {
        let mut v = self.file_problems.clone();
        v.extend(self.settling.iter().cloned());
        v.extend(self.state.problems());
        v
    }

    /// Declared yet? (Sync tools deliver files in any order.)
    pub fn is_syncing(&self) -> bool {
        self.state.derived.declared.is_none()
    }
}

/// An incident read in one go (the CLI): a source and its view, read the same way the console
/// reads it. Derefs to the [`View`] (`inc.state`, `inc.problems()`).
pub struct Incident {
    pub id: String,
    pub dir: PathBuf,
    /// Its duplicate link is a cycle or leads nowhere (judged across incidents by `list`): it
    /// stays on the active board.
    pub link_broken: bool,
    source: Source,
    view: View,
    /// Read again from the start ([`Incident::retrust`]): the next update replaces the view.
    reset_next: bool,
}

impl std::ops::Deref for Incident {
    type Target = View;
    fn deref(&self) -> &View {
        &self.view
    }
}

impl Incident {
    /// Read everything there is now (and remember the heads seen, for the next run's check).
    pub fn open(store: &Store, id: &str, now: Millis) -> Incident {
        Incident::open_with(store, id, now, remembered(store, id))
    }

    /// [`Incident::open`] starting from `memory` (what [`remembered`] gave a moment ago).
    pub fn open_with(store: &Store, id: &str, now: Millis, memory: Memory) -> Incident {
        Incident::open_from(Source::with_memory(store, id, memory), now)
    }

    /// [`Incident::open`] for a caller that shows no note's text (`show`, a summary): the
    /// notes' texts stay in the log ([`crate::domain::event::NoteText::InLog`]), ≈ 100 bytes
    /// a note less; the state derived is the same.
    pub fn open_without_texts(store: &Store, id: &str, now: Millis, memory: Memory) -> Incident {
        let mut source = Source::with_memory(store, id, memory);
        source.set_texts(Texts::LeftInLog);
        Incident::open_from(source, now)
    }

    fn open_from(source: Source, now: Millis) -> Incident {
        let id = source.id.clone();
        let mut inc = Incident {
            view: View::new(&id),
            id,
            dir: source.dir.clone(),
            link_broken: false,
            source,
            reset_next: false,
        };
        inc.view.read_from(&mut inc.source, now, false, &mut || {});
        inc.source.save_seen();
        inc
    }

    /// Remember the heads read so far (local state), for the next run's truncation check.
    pub fn save_seen(&mut self) {
        self.source.save_seen();
    }

    /// Show the incident as it stood at `t` (`--as-of`): the fold of the records with `at <= t`.
    /// Problems found reading the files are kept.
    pub fn rewind(&mut self, t: Millis) {
        self.view.state = crate::domain::replay::as_of(&self.view.state, t);
    }

    /// Whether what was read can be kept in the summary cache (see [`Source::settled`]).
    pub fn cacheable(&self) -> bool {
        self.source.settled() && self.view.settling.is_empty()
    }

    /// [`memory_hash`] of what this host remembers now (after this read).
    pub fn remembered_hash(&self) -> String {
        memory_hash(&self.source.memory)
    }

    /// Read again from the start under `store`'s signature policy (it changed: the config's
    /// `signing:`), as a fresh open would judge every signature; the next [`Incident::refresh`]
    /// replaces the view and returns only records it did not hold, so nothing is printed twice.
    pub fn retrust(&mut self, store: &Store) {
        self.source.save_seen();
        let texts = self.source.texts();
        self.source = Source::new(store, &self.id);
        self.source.set_texts(texts);
        self.reset_next = true;
    }

    /// One reconcile pass: returns the events that were new (in arrival order).
    pub fn refresh(&mut self, now: Millis) -> Vec<Event> {
        let mut update = self.source.poll(now);
        update.reset |= std::mem::take(&mut self.reset_next);
        let fresh = self.view.apply(update);
        fresh.iter().filter_map(|k| self.view.state.event(k).cloned()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A copy's bytes are compared with a copy already found to hash to its name, not trusted
    /// for its name: a copy edited in another incident is still refused after a genuine one.
    #[test]
    fn a_copy_is_checked_against_its_hash_after_a_genuine_one_with_that_name() {
        let tmp = tempfile::tempdir().expect("tmp");
        let text = "(id: \"copy-check\")\n";
        let hash = crate::domain::event::line_hash(text.as_bytes());
        let genuine = tmp.path().join("a.ron");
        let edited = tmp.path().join("b.ron");
        std::fs::write(&genuine, text).expect("write");
        std::fs::write(&edited, "(id: \"copy-chEck\")\n").expect("write");
        for _ in 0..2 {
            assert_eq!(read_playbook_copy(&genuine, &hash).ok().as_deref(), Some(text));
            assert!(matches!(read_playbook_copy(&edited, &hash), Err(CopyFault::Edited)));
        }
        assert!(hashes_to(&hash, text));
        assert!(!hashes_to(&hash, "(id: \"copy-check\")"));
        assert!(!hashes_to(&crate::domain::event::line_hash(b"other"), text));
    }

    /// A store (and its clones: one per incident read) reads this host's cache secret once;
    /// another store reads the file again.
    #[test]
    fn a_store_reads_the_local_secret_once() {
        let tmp = tempfile::tempdir().expect("tmp");
        let open = || {
            Store::open(
                &crate::store::RootChoice {
                    path: tmp.path().join("root"),
                    source: crate::store::RootSource::Flag,
                },
                tmp.path().join("state"),
                tmp.path().join("run"),
            )
            .expect("store")
        };
        let store = open();
        let first = store.local_secret().expect("made");
        let file = tmp.path().join("state").join("sigcache").join("secret");
        assert_eq!(std::fs::read(&file).ok().as_deref(), Some(&first[..]));
        std::fs::write(&file, [7u8; 32]).expect("replace");
        assert_eq!(store.clone().local_secret(), Some(first), "kept, not read again");
        let other = open();
        assert_eq!(other.local_secret(), Some([7u8; 32]));
    }
}
