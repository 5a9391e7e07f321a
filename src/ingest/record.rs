//! The IO side of ingesting: writes a plan's steps through the store (the same `declare` and
//! `LogWriter::append` every CLI verb uses), and remembers which incident each alert belongs to —
//! in a local map in the state directory, and from the incidents' own notes (the
//! `fingerprint:<fp>` tag), so another host ingesting the same alert finds the same incident.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use super::alert::Batch;
use super::alert::Status;
use super::plan::{fingerprint_of, plan, Known, NoteDraft, Seen, Step, Target};
use super::rules::Rules;
use crate::domain::event::{Body, Event, Mode, Note};
use crate::domain::identity::person_of;
use crate::domain::sanitize;
use crate::domain::time::Millis;
use crate::domain::Playbook;
use crate::store::fsutil::{self, Sharing};
use crate::store::incident::{declare, declare_keyed, Declaration, DeclareRequest, Incident};
use crate::store::writer::{Draft, LogWriter};
use crate::store::{summary, Identity, Store, StoreError};

/// Events written, each with its incident (handed to hooks).
pub type Written = Vec<(String, Event)>;

/// The local map's file in the state directory.
pub const MAP_FILE: &str = "ingest-fingerprints.ron";

/// What happened to one alert, as answered to the sender and printed.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Outcome {
    pub fingerprint: String,
    /// `declared`, `annotated` or `skipped`.
    pub action: &'static str,
    pub incident: Option<String>,
    /// The rule that routed it, or why it was skipped.
    pub detail: String,
}

impl Outcome {
    /// One line for a terminal or a log (everything sanitised).
    pub fn line(&self) -> String {
        format!(
            "{} {} {}{}",
            sanitize(&self.fingerprint),
            self.action,
            self.incident.as_deref().map(sanitize).unwrap_or_default(),
            if self.detail.is_empty() {
                String::new()
            } else {
                format!(" ({})", sanitize(&self.detail))
            }
        )
    }
}

pub struct Ingestor {
    pub store: Store,
    pub identity: Identity,
    pub rules: Rules,
    /// The playbooks the rules name, resolved before listening.
    pub playbooks: BTreeMap<String, Playbook>,
    /// `ingest --commander`: who commands an incident its rule names nobody for.
    pub commander: Option<String>,
    pub clock: fn() -> Millis,
    map: BTreeMap<String, String>,
    map_file: PathBuf,
    /// Incidents found archived (their alerts start a new incident).
    archived: BTreeSet<String>,
    /// The newest open real incident, from the last scan.
    newest_open: Option<String>,
    /// Accounts known to write alert entries (this one, and any seen on an incident read):
    /// never an alert-declared incident's commander.
    alert_writers: BTreeSet<String>,
}

/// `name`, unless it is an account that writes alert entries (`writers`, lower-case persons):
/// such an account would hold command nobody could take while its own alert notes kept it
/// "active". One rule for the rule's template, `--commander` and any other source.
pub fn admissible_commander(name: Option<&String>, writers: &BTreeSet<String>) -> Option<String> {
    let name = name?.trim().to_lowercase();
    (crate::domain::identity::valid_name(&name) && !writers.contains(&person_of(&name))).then_some(name)
}

impl Ingestor {
    pub fn new(
        store: Store,
        identity: Identity,
        rules: Rules,
        playbooks: BTreeMap<String, Playbook>,
        commander: Option<String>,
        clock: fn() -> Millis,
    ) -> Ingestor {
        let identity_name = identity.writer.name.clone();
        let map_file = store.state_dir.join(MAP_FILE);
        let map = fsutil::read_text_file(&map_file)
            .ok()
            .and_then(|t| ron::from_str::<BTreeMap<String, String>>(&t).ok())
            .unwrap_or_default();
        Ingestor {
            store,
            identity,
            rules,
            playbooks,
            commander,
            clock,
            map,
            map_file,
            archived: BTreeSet::new(),
            newest_open: None,
            alert_writers: BTreeSet::from([person_of(&identity_name)]),
        }
    }

    /// Who commands a new alert-declared incident: the rule's name, else `--commander`, unless
    /// it is an account that writes alert entries (then nobody yet).
    fn commander_for(&self, rule: Option<&String>) -> Option<String> {
        admissible_commander(rule.or(self.commander.as_ref()), &self.alert_writers)
    }

    /// The incident an alert's fingerprint belongs to, if it still exists and is not archived.
    fn known(&self, fp: &str) -> Option<String> {
        self.map
            .get(fp)
            .filter(|id| !self.archived.contains(*id) && self.store.incident_dir(id).is_dir())
            .cloned()
    }

    /// Look over every incident through the summary cache (a folder unchanged since it was last
    /// folded is not read again; no incident's history is held): fingerprints from alert notes
    /// (the local map wins), who writes alerts, which incidents are archived, and the newest open
    /// real one.
    pub fn scan(&mut self) {
        let now = (self.clock)();
        let Ok((ids, _)) = self.store.list_incidents() else {
            return;
        };
        let mut newest: Option<(Millis, String)> = None;
        for (s, _) in summary::load_many(&self.store, &ids, now) {
            let id = s.id;
            if s.archived {
                self.archived.insert(id);
                continue;
            }
            self.archived.remove(&id);
            self.alert_writers.extend(s.alert_writers);
            for fp in s.alert_fingerprints {
                if self.known(&fp).is_none() {
                    self.map.insert(fp, id.clone());
                }
            }
            if s.mode == Some(Mode::Real) && !s.resolved && s.duplicate_of.is_none() {
                let at = s.declared_at.unwrap_or(0);
                if newest.as_ref().is_none_or(|(t, _)| at > *t) {
                    newest = Some((at, id.clone()));
                }
            }
        }
        self.newest_open = newest.map(|(_, id)| id);
    }

    /// Record one batch. Returns what happened to each alert and the events written (for
    /// hooks). A write that fails stops the batch with the reason (the sender retries).
    pub fn ingest(&mut self, batch: &Batch) -> Result<(Vec<Outcome>, Written), String> {
        let now = (self.clock)();
        // Only an unknown alert that a rule routes somewhere needs a look for its incident: an
        // ignored one (or one no rule matches) costs nothing.
        let unknown = batch.alerts.iter().any(|a| {
            self.known(&a.fingerprint).is_none()
                && self
                    .rules
                    .route(a)
                    .is_some_and(|r| !matches!(r.route, super::rules::Route::Ignore))
        });
        if unknown {
            // Another host may have declared it: its notes say so.
            self.scan();
        }
        // Each known incident read once, fresh from disk (another host may have recorded the
        // same notification): its alert entries make a repeat a no-op.
        let mut history: BTreeMap<String, Vec<(String, Seen)>> = BTreeMap::new();
        for a in &batch.alerts {
            if let Some(id) = self.known(&a.fingerprint) {
                if let std::collections::btree_map::Entry::Vacant(v) = history.entry(id) {
                    let h = self.alert_history(v.key(), now);
                    v.insert(h);
                }
            }
        }
        let lookup = |fp: &str| -> Option<Known> {
            let id = self.known(fp)?;
            let seen = history
                .get(&id)
                .map(|h| h.iter().filter(|(f, _)| f == fp).map(|(_, s)| *s).collect())
                .unwrap_or_default();
            Some((id, seen))
        };
        let steps = plan(batch, &self.rules, &lookup, now);
        let mut declared: BTreeMap<usize, String> = BTreeMap::new();
        let mut outcomes = Vec::new();
        let mut written = Vec::new();
        let mut result = Ok(());
        for (i, step) in steps.iter().enumerate() {
            match self.step(step, &declared, &mut written) {
                Ok(o) => {
                    if let (Step::Declare { .. }, Some(id)) = (step, &o.incident) {
                        declared.insert(i, id.clone());
                    }
                    outcomes.push(o);
                }
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        self.save_map();
        result.map(|()| (outcomes, written))
    }

    fn step(
        &mut self,
        step: &Step,
        declared: &BTreeMap<usize, String>,
        written: &mut Vec<(String, Event)>,
    ) -> Result<Outcome, String> {
        match step {
            Step::Skip { fingerprint, why } => Ok(Outcome {
                fingerprint: fingerprint.clone(),
                action: "skipped",
                incident: None,
                detail: why.clone(),
            }),
            Step::Declare {
                fingerprint,
                rule,
                playbook,
                title,
                severity,
                commander,
                occurred,
                note,
                key,
            } => {
                let pb = self
                    .playbooks
                    .get(playbook)
                    .ok_or_else(|| format!("rule `{rule}`: playbook `{playbook}` was not loaded"))?;
                let commander = self.commander_for(commander.as_ref());
                let req = DeclareRequest {
                    playbook: pb,
                    title: title.clone(),
                    severity: *severity,
                    mode: Mode::Real,
                    // The rule's, else --commander, else nobody yet (empty: the fold assigns
                    // no commander, so the first responder takes command at once).
                    commander: commander.clone().unwrap_or_default(),
                    require_signatures: false,
                    occurred: *occurred,
                };
                let cannot = |e: StoreError| format!("cannot declare `{}`: {e}", sanitize(title));
                let (id, event) =
                    match declare_keyed(&self.store, &self.identity, req, self.clock, Some(key)).map_err(cannot)? {
                        Declaration::New(id, event) => (id, *event),
                        Declaration::Taken(id) if !self.is_archived(&id) => {
                            // Another host declared this alert's incident at the same moment: this
                            // host's entry goes there (its log is its own), once the claim and
                            // the Declared a write needs are there (they follow the mkdir at once;
                            // a few seconds at most, else the sender retries).
                            let mut tries = 0;
                            while let Err(e) = self.append(&id, note, written) {
                                tries += 1;
                                if tries >= 100 {
                                    return Err(e);
                                }
                                std::thread::sleep(std::time::Duration::from_millis(30));
                            }
                            self.map.insert(fingerprint.clone(), id.clone());
                            return Ok(Outcome {
                                fingerprint: fingerprint.clone(),
                                action: "annotated",
                                incident: Some(id),
                                detail: format!("rule {rule}, declared by another host at the same time"),
                            });
                        }
                        Declaration::Taken(_) => {
                            // The same key once declared an incident that is archived now.
                            let req = DeclareRequest {
                                playbook: pb,
                                title: title.clone(),
                                severity: *severity,
                                mode: Mode::Real,
                                commander: commander.clone().unwrap_or_default(),
                                require_signatures: false,
                                occurred: *occurred,
                            };
                            declare(&self.store, &self.identity, req, self.clock).map_err(cannot)?
                        }
                    };
                written.push((id.clone(), event));
                self.map.insert(fingerprint.clone(), id.clone());
                self.append(&id, note, written)?;
                self.newest_open = Some(id.clone());
                Ok(Outcome {
                    fingerprint: fingerprint.clone(),
                    action: "declared",
                    incident: Some(id),
                    detail: match &commander {
                        Some(c) => format!("rule {rule}, commander {c}"),
                        None => format!("rule {rule}, no commander yet"),
                    },
                })
            }
            Step::Annotate {
                fingerprint,
                rule,
                target,
                note,
            } => {
                let id = match target {
                    Target::Incident(id) => id.clone(),
                    Target::Step(n) => declared
                        .get(n)
                        .cloned()
                        .ok_or_else(|| "the group's incident was not declared".to_string())?,
                    Target::Named(prefix) => self
                        .store
                        .resolve(prefix)
                        .map_err(|e| format!("rule {}: {e}", rule.as_deref().unwrap_or("?")))?,
                    Target::NewestOpen => {
                        self.scan();
                        match self.newest_open.clone() {
                            Some(id) => id,
                            None => {
                                return Ok(Outcome {
                                    fingerprint: fingerprint.clone(),
                                    action: "skipped",
                                    incident: None,
                                    detail: "no open incident to annotate".into(),
                                })
                            }
                        }
                    }
                };
                self.append(&id, note, written)?;
                self.map.insert(fingerprint.clone(), id.clone());
                Ok(Outcome {
                    fingerprint: fingerprint.clone(),
                    action: "annotated",
                    incident: Some(id),
                    detail: rule
                        .as_ref()
                        .map(|r| format!("rule {r}"))
                        .unwrap_or_else(|| "repeat".into()),
                })
            }
        }
    }

    /// Whether incident `id` is archived (reads that one incident).
    fn is_archived(&self, id: &str) -> bool {
        Incident::open(&self.store, id, (self.clock)())
            .state
            .derived
            .archived
            .is_some()
    }

    /// The alert entries on incident `id`: (fingerprint, what it said and when it was timed).
    fn alert_history(&mut self, id: &str, now: Millis) -> Vec<(String, Seen)> {
        let inc = Incident::open(&self.store, id, now);
        self.alert_writers
            .extend(inc.state.derived.alert_writers.iter().cloned());
        inc.state
            .events()
            .filter_map(|e| match &e.body {
                Body::Note(n) => fingerprint_of(&n.tags).map(|fp| {
                    let status = if n.tags.iter().any(|t| t == Status::Resolved.word()) {
                        Status::Resolved
                    } else {
                        Status::Firing
                    };
                    (
                        fp.to_string(),
                        Seen {
                            status,
                            at: e.occurred.get(),
                        },
                    )
                }),
                _ => None,
            })
            .collect()
    }

    fn append(&self, id: &str, note: &NoteDraft, written: &mut Vec<(String, Event)>) -> Result<(), String> {
        let draft = Draft::new(Note {
            text: note.text.clone().into(),
            tags: note.tags.clone().into(),
        })
        .at(note.occurred);
        let appended = LogWriter::new(&self.store, id, &self.identity)
            .append(vec![draft], self.clock)
            .map_err(|e| format!("cannot write to {id}: {e}"))?;
        written.extend(appended.events.into_iter().map(|e| (id.to_string(), e)));
        Ok(())
    }

    fn save_map(&self) {
        let text = ron::to_string(&self.map).unwrap_or_default();
        if let Err(e) = fsutil::write_atomic(&self.map_file, text.as_bytes(), Sharing::private()) {
            tracing::warn!(error = %e, file = %self.map_file.display(), "cannot save the fingerprint map");
            eprintln!(
                "warroom ingest: cannot save {}: {e} (alerts are still recognised from the incidents' notes)",
                self.map_file.display()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alert_writing_account_is_never_the_commander() {
        let writers = BTreeSet::from(["alertmanager".to_string(), "alertmanager2".to_string()]);
        let name = |s: &str| Some(s.to_string());
        assert_eq!(
            admissible_commander(name("Maya").as_ref(), &writers).as_deref(),
            Some("maya")
        );
        assert_eq!(admissible_commander(name("AlertManager").as_ref(), &writers), None);
        assert_eq!(admissible_commander(name("alertmanager2").as_ref(), &writers), None);
        assert_eq!(admissible_commander(name("").as_ref(), &writers), None);
        assert_eq!(admissible_commander(name("no such name!").as_ref(), &writers), None);
        assert_eq!(admissible_commander(None, &writers), None);
    }
}
