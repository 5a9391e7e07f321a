//! One incident folder: claiming it (`mkdir`), the header copy, the playbook copies, and an open
//! incident that folds what the reader brings in.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::reader::IncidentReader;
use super::writer::{Draft, LogWriter};
use super::{fsutil, Identity, Store, StoreError, EVENTS_DIR, HEADER_FILE, PLAYBOOKS_DIR};
use crate::domain::event::{Body, Declared, Event, Mode};
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

/// The convenience copy of the Declared header (`incident.ron`); the event is the authority.
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
}

pub struct DeclareRequest<'a> {
    pub playbook: &'a Playbook,
    pub title: String,
    pub severity: u8,
    pub mode: Mode,
    pub commander: String,
    pub occurred: Option<Millis>,
}

/// Claim a new incident folder with `mkdir` (atomic on NFS and SMB), store the resolved playbook,
/// write the Declared event as seq 1 of the declarer's log, then the header copy.
pub fn declare(
    store: &Store,
    identity: &Identity,
    req: DeclareRequest,
    clock: impl Fn() -> Millis + Copy,
) -> Result<(String, Event), StoreError> {
    if !(1..=4).contains(&req.severity) {
        return Err(StoreError::Refused(format!(
            "severity must be 1..4, not {}",
            req.severity
        )));
    }
    let date = crate::domain::time::to_datetime(clock())
        .format("%Y-%m-%d")
        .to_string();
    let base = format!("{date}-{}", slug(&req.title, 32));
    let mut id = String::new();
    for _ in 0..20 {
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
        return Err(StoreError::Refused(
            "could not claim a fresh incident id".into(),
        ));
    }
    let dir = store.incident_dir(&id);
    for sub in [EVENTS_DIR, PLAYBOOKS_DIR] {
        fsutil::create_dir(&dir.join(sub), store.sharing).map_err(StoreError::io(format!(
            "cannot create {}/{sub}",
            dir.display()
        )))?;
    }
    let hash = req.playbook.content_hash();
    let copy = dir.join(PLAYBOOKS_DIR).join(format!("{hash}.ron"));
    fsutil::write_atomic(
        &copy,
        req.playbook.canonical_ron().as_bytes(),
        store.sharing,
    )
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
    };
    let appended = LogWriter::new(store, &id, identity)
        .append(vec![Draft::new(declared).at(req.occurred)], clock)?;
    let event = appended
        .events
        .into_iter()
        .next()
        .ok_or_else(|| StoreError::Refused("the Declared event was not written".into()))?;
    let header = Header {
        incident: id.clone(),
        title: req.title,
        severity: req.severity,
        mode: req.mode,
        playbook: req.playbook.id.clone(),
        playbook_hash: hash,
        commander: req.commander,
        declared_by: identity.writer.to_string(),
        declared_at: event.when(),
    };
    let text =
        ron::ser::to_string_pretty(&header, ron::ser::PrettyConfig::new()).unwrap_or_default();
    fsutil::write_atomic(&dir.join(HEADER_FILE), text.as_bytes(), store.sharing).map_err(
        StoreError::io(format!("cannot write {}/{HEADER_FILE}", dir.display())),
    )?;
    Ok((id, event))
}

/// An incident being read: the reader's position in every log and the fold so far.
pub struct Incident {
    pub id: String,
    pub dir: PathBuf,
    pub state: IncidentState,
    reader: IncidentReader,
    /// Problems with files and lines (deduplicated), in the order found.
    file_problems: BTreeMap<(String, Option<u64>), Problem>,
    playbook_files: BTreeMap<String, ()>,
}

impl Incident {
    /// Read everything there is now.
    pub fn open(store: &Store, id: &str, now: Millis) -> Incident {
        let dir = store.incident_dir(id);
        let mut inc = Incident {
            id: id.to_string(),
            reader: IncidentReader::new(dir.clone()),
            dir,
            state: IncidentState::new(id),
            file_problems: BTreeMap::new(),
            playbook_files: BTreeMap::new(),
        };
        let batch = inc.reader.poll(now);
        inc.note(batch.problems);
        let playbooks = inc.read_new_playbooks();
        inc.state = IncidentState::fold(id, playbooks, batch.events);
        inc
    }

    /// One reconcile pass: returns the events that were new (in arrival order).
    pub fn refresh(&mut self, now: Millis) -> Vec<Event> {
        let batch = self.reader.poll(now);
        self.note(batch.problems);
        if self
            .state
            .derived
            .playbook_hash
            .as_ref()
            .is_some_and(|h| !self.state.has_playbook(h))
            || batch
                .events
                .iter()
                .any(|e| matches!(e.body, Body::PlaybookChanged(_) | Body::Declared(_)))
        {
            for (hash, p) in self.read_new_playbooks() {
                self.state.add_playbook(hash, p);
            }
        }
        batch
            .events
            .into_iter()
            .filter(|e| self.state.apply(e.clone()))
            .collect()
    }

    fn note(&mut self, problems: Vec<Problem>) {
        for p in problems {
            self.file_problems
                .entry((p.source.clone(), p.line))
                .or_insert(p);
        }
    }

    /// Read the playbook copies not yet loaded (leniently: a newer binary may have added fields).
    fn read_new_playbooks(&mut self) -> Vec<(String, Playbook)> {
        let dir = self.dir.join(PLAYBOOKS_DIR);
        let mut found = Vec::new();
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return found;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(hash) = name.strip_suffix(".ron") else {
                continue;
            };
            if self.playbook_files.contains_key(hash)
                || !entry.file_type().is_ok_and(|t| t.is_file())
            {
                continue;
            }
            let rel = format!("{}/{PLAYBOOKS_DIR}/{name}", self.id);
            let text = match fsutil::open_read(&entry.path()).and_then(std::io::read_to_string) {
                Ok(t) => t,
                Err(e) => {
                    self.note(vec![Problem::new(rel, None, format!("cannot read: {e}"))]);
                    continue;
                }
            };
            if text.len() > 4 << 20 {
                self.note(vec![Problem::new(
                    rel,
                    None,
                    "playbook copy is over 4 MiB; skipped",
                )]);
                self.playbook_files.insert(hash.to_string(), ());
                continue;
            }
            match playbook::parse(&text) {
                Ok((p, unknown)) => {
                    let mut notes: Vec<Problem> = unknown
                        .into_iter()
                        .map(|d| {
                            Problem::new(
                                rel.clone(),
                                Some(d.line as u64),
                                format!("{} (from a newer warroom?)", d.message),
                            )
                        })
                        .collect();
                    if crate::domain::event::line_hash(text.as_bytes()) != hash {
                        notes.push(Problem::new(
                            rel.clone(),
                            None,
                            "content does not match its hash: the copy was edited",
                        ));
                    }
                    self.note(notes);
                    found.push((hash.to_string(), p));
                }
                Err(d) => self.note(vec![Problem::new(rel, Some(d.line as u64), d.message)]),
            }
            self.playbook_files.insert(hash.to_string(), ());
        }
        found
    }

    /// The header copy, checked against the Declared event.
    pub fn header_problems(&self) -> Vec<Problem> {
        let rel = format!("{}/{HEADER_FILE}", self.id);
        let Some(decl) = &self.state.derived.declared else {
            return Vec::new();
        };
        match fsutil::open_read(&self.dir.join(HEADER_FILE)).and_then(std::io::read_to_string) {
            Err(_) => vec![Problem::new(
                rel,
                None,
                "missing (the events are the authority)",
            )],
            Ok(text) => match ron::from_str::<Header>(&text) {
                Ok(h)
                    if h.incident == self.id
                        && h.title == decl.value.title
                        && h.playbook_hash == decl.value.playbook_hash =>
                {
                    Vec::new()
                }
                Ok(_) => vec![Problem::new(
                    rel,
                    None,
                    "does not match the Declared event; the event wins",
                )],
                Err(e) => vec![Problem::new(
                    rel,
                    Some(e.span.start.line as u64),
                    e.code.to_string(),
                )],
            },
        }
    }

    /// Every problem: files and lines skipped, rules the fold refused, the header copy.
    pub fn problems(&self) -> Vec<Problem> {
        let mut v: Vec<Problem> = self.file_problems.values().cloned().collect();
        v.extend(self.state.problems());
        v.extend(self.header_problems());
        v
    }

    /// Declared yet? (Sync tools deliver files in any order.)
    pub fn is_syncing(&self) -> bool {
        self.state.derived.declared.is_none()
    }
}
