//! The folded state of one incident.
//!
//! The state is a pure function of the *set* of events (and the playbooks they name, and the log
//! the incident's claim names as its declarer): events are kept in `(at, log, seq)` order and the registers are replayed from that order. An event that sorts
//! after everything seen is applied in place; a late one (sync lag, a laptop back online) triggers a
//! replay. So applying events one at a time, in any order, with duplicates, equals the batch fold —
//! the property the tests check.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use super::event::*;
use super::identity::{is_person, person_of};
use super::phase::Phase;
use super::playbook::{Approval, Playbook, COMMANDER};
use super::problem::Problem;
use super::record_store::{RecordRef, RecordStore};
use super::seqmap::LogSeqs;
use super::time::Millis;

/// An `at` this far from the writer's own `wall` means clocks disagree.
pub const SKEW_WARN_MS: Millis = 30_000;
/// How far ahead of this host's clock another writer's `at` is still followed.
pub const FOLLOW_LIMIT_MS: Millis = 24 * 3_600_000;
/// Whether a record says something happened (not bookkeeping, not a discovery decision).
fn is_evidence(b: &Body) -> bool {
    !matches!(
        b,
        Body::Heads(_)
            | Body::Signed(_)
            | Body::TailRepaired(_)
            | Body::LogRestored(_)
            | Body::Disowned(_)
            | Body::DiscoverySet(_)
    )
}

/// A correction that names no record sorting before it.
fn no_record_to_correct(c: &Corrected) -> RuleViolation {
    RuleViolation(format!(
        "there is no record {} at seq {} of log {} before this correction to correct (a correction sorts after what it corrects)",
        c.id, c.seq, c.log
    ))
}

/// How long a commander must be silent before someone else may take command.
pub const TAKEOVER_AFTER_MS: Millis = 30 * 60_000;
/// Another writer's `at` further ahead than this is ignored by the hybrid clock.
pub const MAX_AHEAD_MS: Millis = 5 * 60_000;

/// A register's value and the write that set it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reg<T> {
    pub value: T,
    pub by: String,
    /// When it happened (`occurred`, else `wall`).
    pub when: Millis,
    #[serde(skip)]
    pub key: EventKey,
}

impl<T> Reg<T> {
    fn of(e: &Event, value: T) -> Reg<T> {
        Reg {
            value,
            by: e.by().to_string(),
            when: e.when(),
            key: e.key(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItemRecord {
    pub state: ItemState,
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionRecord {
    pub state: ActionState,
    pub note: Option<String>,
    /// Who proposed it most recently.
    pub proposer: Option<String>,
    pub approver: Option<String>,
    /// The note of the proposal it stands on (`parameters: HOST=…`), kept through approval and
    /// running: the command's parameters come from it.
    #[serde(skip)]
    pub proposal: Option<String>,
}

/// One follow-up as it stands: its `FollowUp` record with the `FollowUpSet`s applied.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FollowUpView {
    /// The `FollowUp` record's id: how the follow-up is named.
    pub id: String,
    pub text: String,
    /// `corrective`, `preventive`, `detective` (any word in older records).
    pub kind: String,
    pub owner: Option<String>,
    pub due: Option<Millis>,
    /// The id of the timeline record it was created from.
    pub from: Option<String>,
    pub state: FollowUpState,
    pub created_by: String,
    pub created_when: Millis,
    /// The last change (`FollowUpSet`), if any.
    pub changed: Option<FollowUpChange>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FollowUpChange {
    pub by: String,
    pub when: Millis,
    pub note: Option<String>,
    /// The state before this change and who had set it (`None`: it was as created).
    pub was: Option<(FollowUpState, String)>,
}

/// Everything derived from the events; replaced wholesale on a replay.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Derived {
    pub declared: Option<Reg<Declared>>,
    pub title: Option<Reg<String>>,
    pub severity: Option<Reg<u8>>,
    pub phase: Option<Reg<PhaseEntered>>,
    /// The playbook hash in force (Declared, then PlaybookChanged).
    pub playbook_hash: Option<String>,
    pub items: BTreeMap<String, Reg<ItemRecord>>,
    pub actions: BTreeMap<String, Reg<ActionRecord>>,
    pub roles: BTreeMap<String, Reg<String>>,
    pub assignments: BTreeMap<Target, Reg<String>>,
    pub notes: usize,
    pub status_updates: Vec<Reg<StatusUpdate>>,
    pub follow_ups: Vec<Reg<FollowUp>>,
    /// Changes to follow-ups (`FollowUpSet`), in key order: see [`IncidentState::follow_ups`].
    pub follow_up_sets: Vec<Reg<FollowUpSet>>,
    /// The post-incident review's answers by field (`ReviewSet`, last by key wins).
    pub review: BTreeMap<String, Reg<String>>,
    /// Corrections (`Corrected`), in key order: see [`IncidentState::correction_of`].
    pub corrections: Vec<Reg<Corrected>>,
    pub classified: Option<Millis>,
    pub materiality: Option<Millis>,
    pub resolved: Option<Reg<bool>>,
    pub archived: Option<Reg<()>>,
    pub duplicate_of: Option<Reg<String>>,
    /// When the organisation became aware, as the commander set it (`DiscoverySet`, last by key).
    pub discovery: Option<Reg<Millis>>,
    /// The discovery time the clocks use: the commander's [`Derived::discovery`] if set, else the
    /// claimed `Declared` record's `when()`. A backfilled note never moves it.
    pub discovered: Option<Millis>,
    /// The earliest `when()` of the applied records (bookkeeping and `DiscoverySet` aside): when a
    /// record says something happened. Earlier than `discovered`, the console proposes moving it.
    pub earliest_evidence: Option<Millis>,
    /// The record that holds [`Derived::earliest_evidence`].
    pub earliest_evidence_key: Option<EventKey>,
    /// What `discovered` was just before each applied `DiscoverySet` (for "was …" on the timeline).
    pub discovery_was: BTreeMap<EventKey, Option<Millis>>,
    pub last_update: Option<(Millis, String)>,
    /// Events that broke a rule: kept in the timeline, not applied.
    pub rejected: Vec<Problem>,
    /// The same, by record: why each refused record was not applied (shown beside it).
    pub refused: BTreeMap<EventKey, String>,
    /// Since the commander last wrote (or command last changed hands), per log: its writer and
    /// the first and last `wall` of its records. Each span is measured on one host's own clock,
    /// so a clock that is off by any constant cannot shorten the commander's silence.
    pub since_commander: BTreeMap<String, (String, Millis, Millis)>,
    /// Who has written alert entries here (persons, lower-case): accounts that ingest alerts.
    /// Such an account never holds command (see [`IncidentState::commander`]), and its alert
    /// entries never count as the commander being active.
    pub alert_writers: BTreeSet<String>,
    pub unknown_kinds: BTreeSet<String>,
    pub tail_repairs: Vec<(String, u64, u64)>,
    /// Writers whose `at` and `wall` differ by more than [`SKEW_WARN_MS`].
    pub skewed: BTreeSet<String>,
    /// Each writer's newest wall clock (for "clock ahead" warnings without walking history).
    pub latest_wall: BTreeMap<String, Millis>,
    /// When the first event of each kind happened (deadline triggers).
    pub first_of_kind: BTreeMap<String, Millis>,
    /// The exercise clock as of the last `ExerciseClock` event.
    pub exercise_clock: Option<ExerciseClockState>,
    /// Injects already released into the shared directory.
    pub released_injects: BTreeSet<String>,
}

/// Where the exercise clock stands: scenario time at the last change, and how it runs since.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExerciseClockState {
    pub running: bool,
    pub ended: bool,
    pub speed: f64,
    pub at_change: Millis,
    pub wall_of_change: Millis,
}

impl ExerciseClockState {
    /// The clock after one `ExerciseClock` record written at `wall` (the fold's one rule, also
    /// used to replay the clock up to a moment: the report's scenario times).
    pub fn step(prev: Option<ExerciseClockState>, x: &ExerciseClock, wall: Millis) -> ExerciseClockState {
        // Untrusted numbers: a sane speed, a scenario time within the calendar.
        let speed = if x.speed.is_finite() && x.speed > 0.0 {
            x.speed.clamp(0.01, 1000.0)
        } else {
            prev.map_or(1.0, |c| c.speed)
        };
        let was_running = prev.is_some_and(|c| c.running);
        let ended = prev.is_some_and(|c| c.ended) || x.change == "End";
        let running = !ended
            && match x.change.as_str() {
                "Start" | "Resume" => true,
                "Pause" => false,
                _ => was_running,
            };
        ExerciseClockState {
            running,
            ended,
            speed,
            at_change: x.scenario_ms.clamp(0, MAX_TIME),
            wall_of_change: wall,
        }
    }

    /// Scenario time at `now`.
    pub fn scenario_ms(&self, now: Millis) -> Millis {
        if self.running {
            let ran = (now.saturating_sub(self.wall_of_change).max(0) as f64 * self.speed) as Millis;
            self.at_change.saturating_add(ran)
        } else {
            self.at_change
        }
    }
}

/// Which `Declared` record is the incident's: the one in the log its claim (`incident.ron`,
/// written with the `mkdir` that claimed the id) names. Any other is refused, never state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Any `Declared` that is seq 1 of its log (a pure fold of trusted events: tests, benches).
    Unchecked,
    /// The claim has not been read yet (a sync tool delivers files in any order): no `Declared`
    /// is applied, so the incident shows as syncing rather than as a forger's.
    Pending,
    /// The declaring log, `name@host.install`.
    Log(String),
    /// An older claim that names only the writer (`name@host`).
    Writer(String),
}

#[derive(Debug, Clone)]
pub struct IncidentState {
    pub id: String,
    /// Every record, in merge order and in timeline order (`occurred`, what the responder
    /// said, else the sort key `at`, then the key): see [`RecordStore`], 4 bytes a record for
    /// each order.
    events: RecordStore,
    /// log → seq → where the record kept there is held (4 bytes a record). Nested so a log's
    /// name is held once, not once per record; a log's seqs are dense from 1, so by seq in a
    /// vector (see [`SeqMap`]).
    seen: LogSeqs<RecordRef>,
    /// Shared: `list` and the board fold a thousand incidents naming one playbook, parsed once.
    playbooks: HashMap<String, std::sync::Arc<Playbook>>,
    /// Same log and seq, different record: only an edit does that.
    conflicts: BTreeSet<(String, u64)>,
    /// Per log, the stretches a valid SSH signature vouches for: last seq → (first seq, principal).
    /// Checked by the reader (see `store::reader`); the fold only keeps them.
    signatures: HashMap<String, BTreeMap<u64, (u64, String)>>,
    /// The responder's config requires signatures on every incident.
    require_signatures: bool,
    claim: Claim,
    /// Every `Declared` record in the set, by key: the claimed one is looked up here. The flag
    /// is its `require_signatures`: kept outside the fold, so no later record can take it away.
    declareds: BTreeMap<EventKey, (String, u64, bool)>,
    /// The key of the incident's `Declared` among `declareds` (see [`Self::declared_key`]),
    /// found again whenever they or the claim change: every step compares a record with it.
    declared: Option<EventKey>,
    /// (log, seq) of records their log's writer disowned (`Disowned`) → the seqs (in that log) of
    /// the `Disowned` records that say so. A disowning counts only where its record may take
    /// effect (signed, where signatures are required), and never for a `Declared` record.
    disowned: BTreeMap<(Name, u64), BTreeSet<u64>>,
    /// What the reader found wrong with a record's place in its log's hash chain, by (log, seq):
    /// a fact about the files, kept across replays.
    marks: BTreeMap<(String, u64), String>,
    /// Snapshots of `derived` every [`CHECKPOINT_EVERY`] events, so an event that arrives late is
    /// applied from the snapshot before it, never by replaying the whole history.
    checkpoints: Vec<Checkpoint>,
    checkpoint_every: usize,
    since_checkpoint: usize,
    /// A batch is arriving in parts (see [`IncidentState::begin_batch`]): derivation waits.
    deferring: bool,
    /// A replay was asked for while deferring.
    replay_pending: bool,
    pub derived: Derived,
    /// Changes whenever the records on the timeline do (one added, replaced, merged in, a note's
    /// text put back): unique across states, so that a view can keep what it drew from the
    /// timeline (which rows a filter shows) until then. Not compared.
    generation: u64,
}

/// A batch being inserted in parts (see [`IncidentState::begin_batch`]).
#[derive(Debug)]
pub struct PendingBatch {
    /// The last key applied before the batch.
    last: Option<EventKey>,
    /// The smallest new key.
    first: Option<EventKey>,
    fresh: Option<Vec<EventKey>>,
    /// The new keys are not collected as they come: [`IncidentState::finish_batch_keys`] takes
    /// them from the batch's timeline keys when the batch ends, if they are wanted then.
    lazy: bool,
    replaced: bool,
}

/// How many events apart the fold keeps snapshots of its derived state.
pub const CHECKPOINT_EVERY: usize = 2048;

/// `derived` as it stood after the event `after`: the small registers cloned, the lists that
/// only grow (in key order) kept as lengths to cut back to.
#[derive(Debug, Clone)]
struct Checkpoint {
    after: EventKey,
    registers: Derived,
    rejected: usize,
    status_updates: usize,
    follow_ups: usize,
    follow_up_sets: usize,
    corrections: usize,
    tail_repairs: usize,
}

/// How long a record's mark grows (bytes) before further reasons are left out.
const MARK_MAX: usize = 4096;
/// What ends a mark that reached [`MARK_MAX`].
const MARK_MORE: &str = "; … (more reasons: see the problems list and `warroom verify`)";

/// Why a record is shown with a warning: the fold refused it, or its log's chain says it was
/// edited or that records around it are missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flag<'a> {
    Refused(&'a str),
    Integrity(&'a str),
}

impl Flag<'_> {
    /// "REFUSED: why" / "TAMPERED?: why": one line, words first (never a glyph alone).
    pub fn label(&self) -> String {
        match self {
            Flag::Refused(why) => format!("REFUSED: {why}"),
            Flag::Integrity(why) => format!("INTEGRITY: {why}"),
        }
    }
}

impl PartialEq for IncidentState {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
            && self.events == other.events
            && self.derived == other.derived
            && self.conflicts == other.conflicts
            && self.claim == other.claim
    }
}

enum Inserted {
    New,
    Replaced,
    Duplicate,
}

/// Why the fold refuses an event (the CLI refuses the write for the same reason).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RuleViolation(pub String);

impl IncidentState {
    pub fn new(id: impl Into<String>) -> IncidentState {
        IncidentState {
            id: id.into(),
            events: RecordStore::default(),
            seen: LogSeqs::default(),
            playbooks: HashMap::new(),
            conflicts: BTreeSet::new(),
            signatures: HashMap::new(),
            require_signatures: false,
            claim: Claim::Unchecked,
            declareds: BTreeMap::new(),
            declared: None,
            disowned: BTreeMap::new(),
            marks: BTreeMap::new(),
            checkpoints: Vec::new(),
            checkpoint_every: CHECKPOINT_EVERY,
            since_checkpoint: 0,
            deferring: false,
            replay_pending: false,
            derived: Derived::default(),
            generation: next_generation(),
        }
    }

    /// Say which log's `Declared` is the incident's (from its claim); replays if it changed.
    pub fn set_claim(&mut self, claim: Claim) {
        if self.claim != claim {
            self.claim = claim;
            self.find_declared();
            self.replay();
        }
    }

    pub fn claim(&self) -> &Claim {
        &self.claim
    }

    /// The sort key of the incident's `Declared`: the one in the log the claim names (any seq-1
    /// `Declared` in a pure fold). Records that sort before it are not the incident's.
    fn declared_key(&self) -> Option<&EventKey> {
        self.declared.as_ref()
    }

    /// Find [`Self::declared_key`] again (after `declareds` or the claim changed).
    fn find_declared(&mut self) {
        self.declared = self
            .declareds
            .iter()
            .find(|(k, (by, seq, _))| {
                *seq == 1
                    && match &self.claim {
                        Claim::Unchecked => true,
                        Claim::Pending => false,
                        Claim::Log(log) => k.log == *log,
                        Claim::Writer(w) => by == w,
                    }
            })
            .map(|(k, _)| k.clone());
    }

    /// Records `from..=to` of `log` carry a valid signature of `principal` (the reader checked it
    /// against `allowed_signers`). Where signatures are required and a record of that stretch
    /// was refused for lacking one (its signature landed in a later read), the fold is replayed.
    pub fn note_signed(&mut self, log: &str, from: u64, to: u64, principal: &str) {
        self.signatures
            .entry(log.to_string())
            .or_default()
            .insert(to, (from, principal.to_string()));
        let late = self.requires_signatures()
            && self
                .derived
                .refused
                .keys()
                .any(|k| k.log == log && (from..=to).contains(&k.seq));
        if late {
            self.replay();
        }
    }

    /// The principal whose valid signature vouches for record `seq` of `log`, if any.
    pub fn signed_by(&self, log: &str, seq: u64) -> Option<&str> {
        let (_, (from, who)) = self.signatures.get(log)?.range(seq..).next()?;
        (*from <= seq).then_some(who.as_str())
    }

    /// Whether the record that gave `role` its holder carries a valid signature.
    pub fn role_signed(&self, role: &str) -> bool {
        self.derived
            .roles
            .get(role)
            .is_some_and(|r| self.signed_by(&r.key.log, r.key.seq).is_some())
    }

    /// Treat this incident as requiring signatures whatever its declaration says (the
    /// responder's config); replays.
    pub fn set_require_signatures(&mut self, on: bool) {
        if self.require_signatures != on {
            self.require_signatures = on;
            self.replay();
        }
    }

    /// Whether records must be signed: the declaration says so, or the responder's config.
    ///
    /// The declaration's word is read from the claimed `Declared` record itself, not from the
    /// fold's result: a record that disowns, replaces or out-sorts the declaration cannot lift
    /// the requirement.
    pub fn requires_signatures(&self) -> bool {
        self.require_signatures
            || self
                .derived
                .declared
                .as_ref()
                .is_some_and(|d| d.value.require_signatures)
            || self
                .declared_key()
                .is_some_and(|k| self.declareds.get(k).is_some_and(|d| d.2))
    }

    /// Whether record `seq` of `log` was disowned by its log's writer in a way that counts: by a
    /// `Disowned` record that may itself take effect (signed, where signatures are required). A
    /// `Declared` record is never disowned (the declaration and what it requires stay).
    fn is_disowned(&self, e: &Event) -> bool {
        if self.disowned.is_empty() || matches!(e.body, Body::Declared(_) | Body::Disowned(_)) {
            return false;
        }
        let Some(by) = self.disowned.get(&(e.log.clone(), e.seq)) else {
            return false;
        };
        !self.requires_signatures() || by.iter().any(|s| self.signed_by(&e.log, *s).is_some())
    }

    /// Record what the reader found wrong with record `seq` of `log` (chain broken, edited).
    pub fn mark(&mut self, log: &str, seq: u64, why: impl Into<String>) {
        let why = why.into();
        let entry = self.marks.entry((log.to_string(), seq)).or_default();
        // Bounded: thousands of copies of one record each add a reason, and checking a growing
        // text for each was quadratic (a 9 MB log of 40k copies took a minute to read).
        if entry.len() >= MARK_MAX {
            if !entry.ends_with(MARK_MORE) {
                entry.push_str(MARK_MORE);
            }
            return;
        }
        if !entry.contains(&why) {
            if !entry.is_empty() {
                entry.push_str("; ");
            }
            entry.push_str(&why);
        }
    }

    /// Why a record is shown with a warning, if it is: refused by the fold, or marked by the
    /// reader's chain check.
    pub fn flag(&self, e: &Event) -> Option<Flag<'_>> {
        if let Some(why) = self.derived.refused.get(&e.key()) {
            return Some(Flag::Refused(why));
        }
        self.marks
            .get(&(e.log.to_string(), e.seq))
            .map(|why| Flag::Integrity(why.as_str()))
    }

    /// Records the reader marked, by (log, seq).
    pub fn marks(&self) -> &BTreeMap<(String, u64), String> {
        &self.marks
    }

    /// Batch fold; `playbooks` are keyed by the content hash the events name.
    pub fn fold(
        id: impl Into<String>,
        playbooks: Vec<(String, Playbook)>,
        events: impl IntoIterator<Item = Event>,
    ) -> Self {
        let mut s = IncidentState::new(id);
        s.playbooks
            .extend(playbooks.into_iter().map(|(h, p)| (h, std::sync::Arc::new(p))));
        s.events.begin_batch();
        for e in events {
            s.insert(e);
        }
        s.finish_store_batch();
        s.replay();
        s
    }

    /// Make a playbook (by its content hash) available to the rules; replays if it is new.
    pub fn add_playbook(&mut self, hash: String, playbook: impl Into<std::sync::Arc<Playbook>>) {
        if self.playbooks.insert(hash, playbook.into()).is_none() {
            self.replay();
        }
    }

    pub fn playbooks(&self) -> impl Iterator<Item = (&String, &Playbook)> {
        self.playbooks.iter().map(|(h, p)| (h, &**p))
    }

    pub fn has_playbook(&self, hash: &str) -> bool {
        self.playbooks.contains_key(hash)
    }

    /// Apply one event, in any order; duplicates are ignored. Returns true if it was new.
    pub fn apply(&mut self, e: Event) -> bool {
        let key = e.key();
        let is_last = self.events.sorts_last(&key);
        // A Declared decides which records came before the incident, a Disowned which records
        // are not their log's: either judges earlier records again.
        let declares = matches!(e.body, Body::Declared(_) | Body::Disowned(_));
        match self.insert(e) {
            Inserted::Duplicate => return false,
            // A record edited into another version, or a Declared (which decides what came before
            // the incident): judge everything again.
            Inserted::Replaced => self.replay(),
            Inserted::New if declares => self.replay(),
            Inserted::New if is_last => {
                // `step` reads the records only through the store lent to it: lend it out
                // rather than copy the record.
                let events = std::mem::take(&mut self.events);
                if let Some(e) = events.get(&key) {
                    self.step_and_checkpoint(&events, e);
                }
                self.events = events;
            }
            Inserted::New => self.replay_from(&key),
        }
        true
    }

    /// Snapshots every `n` events instead of [`CHECKPOINT_EVERY`] (tests use a small `n` so
    /// the late-arrival path is exercised on small histories).
    pub fn set_checkpoint_every(&mut self, n: usize) {
        self.checkpoint_every = n.max(1);
        self.replay();
    }

    /// Apply a batch (one reconcile pass): at most one replay however many arrive late.
    /// Returns the keys of the events that were new, in arrival order.
    pub fn apply_all(&mut self, events: Vec<Event>) -> Vec<EventKey> {
        let mut pending = self.begin_batch(true);
        self.insert_batch(&mut pending, events);
        self.finish_batch(pending)
    }

    /// Start a batch that arrives in parts (a first open streams a long log in chunks, so it is
    /// never held whole as parsed records): parts are inserted with [`Self::insert_batch`], and
    /// nothing is derived until [`Self::finish_batch`]; a replay asked for in between (a claim, a
    /// playbook, a signature) is done once there. `keep_fresh`: collect the new keys to return.
    pub fn begin_batch(&mut self, keep_fresh: bool) -> PendingBatch {
        self.deferring = true;
        self.events.begin_batch();
        PendingBatch {
            last: self.events.last().map(Event::key),
            first: None,
            fresh: keep_fresh.then(Vec::new),
            lazy: false,
            replaced: false,
        }
    }

    /// [`Self::begin_batch`] for a batch whose new keys may or may not be wanted when it ends
    /// (the console's long read: only a scrolled timeline or a write waiting for its records
    /// needs them): none are collected as the parts come — about 24 bytes a record, ≈ 25 MB at
    /// the end of a 1M-record open — and [`Self::finish_batch_keys`] says whether to take them.
    pub fn begin_batch_lazy(&mut self) -> PendingBatch {
        let mut pending = self.begin_batch(false);
        pending.lazy = true;
        pending
    }

    /// Insert one part of a batch (see [`Self::begin_batch`]); nothing is derived yet.
    pub fn insert_batch(&mut self, pending: &mut PendingBatch, events: Vec<Event>) {
        for e in events {
            // A key is built only where one is kept (a key holds a clone of the log's name).
            let first = pending.first.as_ref().is_none_or(|f| e.cmp_key(f).is_lt());
            let key = (first || pending.fresh.is_some()).then(|| e.key());
            pending.replaced |= matches!(e.body, Body::Declared(_) | Body::Disowned(_));
            match self.insert(e) {
                Inserted::New => {}
                Inserted::Replaced => pending.replaced = true,
                Inserted::Duplicate => continue,
            }
            let Some(key) = key else { continue };
            if first {
                pending.first = Some(key.clone());
            }
            if let Some(fresh) = &mut pending.fresh {
                fresh.push(key);
            }
        }
    }

    /// Derive what a batch changed: a replay if one was asked for or a record was replaced, else
    /// from the last snapshot before its first new record, else (all of it sorts after what was
    /// applied) a step through the new records in order. Returns the new keys (arrival order)
    /// when the batch kept them.
    pub fn finish_batch(&mut self, pending: PendingBatch) -> Vec<EventKey> {
        self.finish_batch_keys(pending, true)
    }

    /// [`Self::finish_batch`]; a batch begun with [`Self::begin_batch_lazy`] returns the keys of
    /// the records it made new (in no particular order) only if `want` — taken from the batch's
    /// records, which are exactly those.
    pub fn finish_batch_keys(&mut self, pending: PendingBatch, want: bool) -> Vec<EventKey> {
        let PendingBatch {
            last,
            first,
            mut fresh,
            lazy,
            replaced,
        } = pending;
        if lazy && want {
            fresh = Some(self.events.batch_keys());
        }
        self.deferring = false;
        self.finish_store_batch();
        let asked = std::mem::take(&mut self.replay_pending);
        if asked {
            self.replay();
        } else if let Some(first) = first {
            match last {
                _ if replaced => self.replay(),
                Some(last) if first < last => self.replay_from(&first),
                // Everything new sorts after what was applied (every record after `last` is
                // new): step through it in order.
                last => {
                    let events = std::mem::take(&mut self.events);
                    for e in events.after(last.as_ref()) {
                        self.step_and_checkpoint(&events, e);
                    }
                    self.events = events;
                }
            }
        }
        fresh.unwrap_or_default()
    }

    /// End the store's batch: the records held aside take their places in key order, and the
    /// batch's records theirs on the timeline (see [`RecordStore::finish_batch`]).
    fn finish_store_batch(&mut self) {
        self.generation = next_generation();
        self.events.finish_batch();
    }

    /// [`Self::prefer`] for each of `versions`, judging the records again once at the end, not
    /// once per version (a log made of thousands of copy-and-next pairs cost a replay each).
    pub fn prefer_all(&mut self, versions: Vec<Event>) {
        if versions.is_empty() {
            return;
        }
        let was = std::mem::replace(&mut self.deferring, true);
        for e in versions {
            self.prefer(e);
        }
        self.deferring = was;
        if !was && std::mem::take(&mut self.replay_pending) {
            self.replay();
        }
    }

    /// Use `e` as the version of its record (log, seq) — the one its log's chain vouches for —
    /// instead of another version read first (an edit). Re-derives if that changes anything.
    pub fn prefer(&mut self, e: Event) {
        let id = (e.log.to_string(), e.seq);
        let Some(old_key) = self.kept(&e.log, e.seq).map(Event::key) else {
            self.apply(e);
            return;
        };
        if self.events.get(&old_key) == Some(&e) {
            return;
        }
        if let Some(old) = self.events.remove(&old_key) {
            self.generation = next_generation();
            // The version shown is the other one now: say what the one read first said, so the
            // mark does not only quote the text on screen.
            let first = super::sanitize::sanitize(&super::describe::describe(&old));
            let first: String = first.chars().take(200).collect();
            self.mark(&id.0, id.1, format!("the version read first reads: {first}"));
        }
        self.declareds.remove(&old_key);
        self.find_declared();
        self.conflicts.insert(id);
        self.add(e);
        self.replay();
    }

    /// The record kept at (log, seq).
    fn kept(&self, log: &str, seq: u64) -> Option<&Event> {
        self.kept_in(&self.events, log, seq)
    }

    /// The record kept at (log, seq), looked up in `records` (the store, lent out of `self`
    /// while the fold steps through it).
    fn kept_in<'a>(&self, records: &'a RecordStore, log: &str, seq: u64) -> Option<&'a Event> {
        let r = *self.seen.get(log, seq)?;
        // A record ref may name another record once its own was removed: check it.
        records.by_ref(r).filter(|e| e.seq == seq && *e.log == *log)
    }

    pub fn event(&self, key: &EventKey) -> Option<&Event> {
        self.events.get(key)
    }

    /// See the field: equal while the timeline's records are unchanged.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Put back the text of the note kept at (`log`, `seq`), left in its log at `at` (see
    /// `domain::note_text`): only if that record is a note whose text was left at exactly `at`
    /// (so only the text of the very line the fold took). Whether it was put back. Nothing
    /// derived changes: the fold never reads a note's text.
    pub fn hold_text(&mut self, log: &str, seq: u64, at: TextAt, text: Box<str>) -> bool {
        let Some(&r) = self.seen.get(log, seq) else {
            return false;
        };
        let record = self.events.by_ref_mut(r).filter(|e| e.seq == seq && *e.log == *log);
        match record.map(|e| &mut e.body) {
            Some(Body::Note(n)) if n.text.in_log() == Some(at) => {
                n.text = NoteText::Held(text);
                self.generation = next_generation();
                true
            }
            _ => false,
        }
    }

    fn insert(&mut self, e: Event) -> Inserted {
        if let Some((prev_id, prev_key)) = self.kept(&e.log, e.seq).map(|k| (k.id.to_string(), k.key())) {
            let id = (e.log.to_string(), e.seq);
            if prev_id == e.id {
                if self.events.get(&prev_key).is_some_and(|old| *old != e) {
                    // The same record in two versions: one of them was edited. The first read
                    // stays in the state; the mark shown beside it quotes the other version.
                    self.conflicts.insert(id.clone());
                    let other = super::sanitize::sanitize(&super::describe::describe(&e));
                    let other: String = other.chars().take(200).collect();
                    self.mark(
                        &id.0,
                        id.1,
                        format!("two versions of this record exist, one edited; the other reads: {other}"),
                    );
                }
                return Inserted::Duplicate;
            }
            // Two records claim one (log, seq): only an edit does that. Keep the
            // one with the smaller id whatever the arrival order, so every reader agrees.
            self.conflicts.insert(id.clone());
            if e.id.as_str() > prev_id.as_str() {
                return Inserted::Duplicate;
            }
            self.declareds.remove(&prev_key);
            self.find_declared();
            if self.events.remove(&prev_key).is_some() {
                self.generation = next_generation();
            }
            self.add(e);
            return Inserted::Replaced;
        }
        self.add(e);
        Inserted::New
    }

    fn add(&mut self, e: Event) {
        self.generation = next_generation();
        if matches!(e.body, Body::Declared(_)) {
            let require = matches!(&e.body, Body::Declared(d) if d.require_signatures);
            self.declareds.insert(e.key(), (e.by().to_string(), e.seq, require));
            self.find_declared();
        }
        if let Body::Disowned(d) = &e.body {
            for s in &d.seqs {
                self.disowned.entry((e.log.clone(), *s)).or_default().insert(e.seq);
            }
        }
        let (log, seq) = (e.log.clone(), e.seq);
        // Not held only if its key was (never: `insert` looked it up by (log, seq) first).
        let Some(r) = self.events.insert(e) else {
            return;
        };
        self.seen.insert(&log, seq, r);
    }

    fn replay(&mut self) {
        if self.deferring {
            // Inside a batch arriving in parts: done once, when it is finished.
            self.replay_pending = true;
            return;
        }
        self.derived = Derived::default();
        self.checkpoints.clear();
        self.since_checkpoint = 0;
        // `step` reads the records only through the store lent to it: lend it out.
        let events = std::mem::take(&mut self.events);
        for e in events.iter() {
            self.step_and_checkpoint(&events, e);
        }
        self.events = events;
    }

    /// Re-derive from the last snapshot before `key` (an event that arrived late): the work is
    /// the events after that snapshot, not the whole history.
    fn replay_from(&mut self, key: &EventKey) {
        let Some(i) = self.checkpoints.iter().rposition(|c| c.after < *key) else {
            return self.replay();
        };
        self.checkpoints.truncate(i + 1);
        let cp = &self.checkpoints[i];
        let after = cp.after.clone();
        let mut d = cp.registers.clone();
        let mut grown = std::mem::take(&mut self.derived);
        grown.rejected.truncate(cp.rejected);
        grown.status_updates.truncate(cp.status_updates);
        grown.follow_ups.truncate(cp.follow_ups);
        grown.follow_up_sets.truncate(cp.follow_up_sets);
        grown.corrections.truncate(cp.corrections);
        grown.tail_repairs.truncate(cp.tail_repairs);
        grown.refused.retain(|k, _| *k <= after);
        d.rejected = grown.rejected;
        d.status_updates = grown.status_updates;
        d.follow_ups = grown.follow_ups;
        d.follow_up_sets = grown.follow_up_sets;
        d.corrections = grown.corrections;
        d.tail_repairs = grown.tail_repairs;
        d.refused = grown.refused;
        self.derived = d;
        self.since_checkpoint = 0;
        let events = std::mem::take(&mut self.events);
        for e in events.after(Some(&after)) {
            self.step_and_checkpoint(&events, e);
        }
        self.events = events;
    }

    /// `records`: the record store, lent out of `self` while the fold steps through it.
    fn step_and_checkpoint(&mut self, records: &RecordStore, e: &Event) {
        self.step(records, e);
        self.since_checkpoint += 1;
        if self.since_checkpoint >= self.checkpoint_every {
            self.since_checkpoint = 0;
            let d = &mut self.derived;
            // The growing lists are not cloned: a snapshot keeps their lengths.
            let grown = (
                std::mem::take(&mut d.rejected),
                std::mem::take(&mut d.status_updates),
                std::mem::take(&mut d.follow_ups),
                std::mem::take(&mut d.tail_repairs),
                std::mem::take(&mut d.refused),
                std::mem::take(&mut d.follow_up_sets),
                std::mem::take(&mut d.corrections),
            );
            let cp = Checkpoint {
                after: e.key(),
                registers: d.clone(),
                rejected: grown.0.len(),
                status_updates: grown.1.len(),
                follow_ups: grown.2.len(),
                tail_repairs: grown.3.len(),
                follow_up_sets: grown.5.len(),
                corrections: grown.6.len(),
            };
            (
                d.rejected,
                d.status_updates,
                d.follow_ups,
                d.tail_repairs,
                d.refused,
                d.follow_up_sets,
                d.corrections,
            ) = grown;
            self.checkpoints.push(cp);
        }
    }

    pub fn playbook(&self) -> Option<&Playbook> {
        self.derived
            .playbook_hash
            .as_ref()
            .and_then(|h| self.playbooks.get(h))
            .map(|p| &**p)
    }

    /// Would the fold accept this event on top of the current state? (`at` is its sort key: the
    /// CLI and the console pass the time they are about to write.)
    ///
    /// `wall` is the writer's own clock at the time of writing (a takeover is measured on it,
    /// never compared with another host's clock).
    pub fn check(&self, body: &Body, by: &str, wall: Millis) -> Result<(), RuleViolation> {
        self.check_in(&self.events, body, by, wall)
    }

    /// [`IncidentState::check`] with the records looked up in `records` (lent out of `self`
    /// while the fold steps through them).
    fn check_in(&self, records: &RecordStore, body: &Body, by: &str, wall: Millis) -> Result<(), RuleViolation> {
        if let Body::Note(_) = body {
            // No rule limits a note (the `_` arm below): skips the playbook's lookup, once per
            // record of a long read.
            return Ok(());
        }
        let d = &self.derived;
        let playbook = self.playbook();
        let no = |s: String| Err(RuleViolation(s));
        match body {
            Body::RoleAssigned(r) if r.role == COMMANDER => self.check_handoff(by, wall),
            Body::Declared(_) if d.declared.is_some() => no("this incident was already declared".into()),
            Body::DuplicateOf(x) if x.of == self.id => no("an incident cannot be a duplicate of itself".into()),
            Body::PhaseEntered(p) if d.phase.as_ref().is_some_and(|r| r.value.phase == p.phase) => {
                no(format!("the incident is already in {}", p.phase))
            }
            Body::SeverityChanged(s) if !(1..=4).contains(&s.severity) => {
                no(format!("severity must be 1..4, not {}", s.severity))
            }
            Body::ChecklistSet(_)
            | Body::RoleAssigned(_)
            | Body::Assigned(_)
            | Body::ActionSet(_)
            | Body::ReviewSet(_)
                if playbook.is_none() =>
            {
                // Judged again (replayed) as soon as a copy that matches the hash is read.
                no(format!(
                    "the incident's playbook ({}) is not available here, so this cannot be checked against it",
                    d.playbook_hash
                        .as_deref()
                        .map_or("not declared yet".to_string(), |h| format!(
                            "hash {}",
                            h.chars().take(12).collect::<String>()
                        ))
                ))
            }
            Body::ChecklistSet(c) => match playbook.map(|p| (p, p.item(&c.item))) {
                Some((_, None)) => no(format!("the playbook has no checklist item `{}`", c.item)),
                Some((p, Some((_, item)))) if c.state == ItemState::Skipped => {
                    self.check_skip(p, &c.item, item.required, c.note.as_deref(), by)
                }
                _ => Ok(()),
            },
            Body::RoleAssigned(r) => match playbook {
                Some(p) if !p.has_role(&r.role) => no(format!("the playbook has no role `{}`", r.role)),
                _ => Ok(()),
            },
            Body::Assigned(a) => match (playbook, &a.target) {
                (Some(p), Target::Item(i)) if p.item(i).is_none() => {
                    no(format!("the playbook has no checklist item `{i}`"))
                }
                (Some(p), Target::Action(x)) if p.action(x).is_none() => {
                    no(format!("the playbook has no action `{x}`"))
                }
                _ => Ok(()),
            },
            Body::ActionSet(a) => self.check_action(a, by),
            Body::DiscoverySet(x) => {
                self.check_commander(by, "sets the discovery time: it moves the regulators' clocks")?;
                match self.declared_at() {
                    Some(t) if x.discovered > t => no(format!(
                        "discovery {} is after the declaration {}: declaring the incident is being aware of it, so discovery is at or before {}",
                        super::time::format_utc(x.discovered),
                        super::time::format_utc(t),
                        super::time::format_utc(t)
                    )),
                    _ => Ok(()),
                }
            }
            // The playbook decides which commands may run: only the commander switches it.
            Body::PlaybookChanged(_) => self.check_commander(by, "changes the incident's playbook"),
            Body::FollowUpSet(f) if self.follow_up_key(records, &f.followup).is_none() => no(format!(
                "there is no follow-up `{}` (a FollowUp record's id, written before this)",
                f.followup
            )),
            Body::Corrected(c) => self.check_correction(records, c, by),
            Body::ReviewSet(r) => match playbook {
                Some(p) if !p.has_review_field(&r.field) => no(format!(
                    "the review has no field `{}` (summary, impact, root_cause or a question of the playbook: {})",
                    r.field,
                    p.questions.iter().map(|q| q.id.as_str()).collect::<Vec<_>>().join(", ")
                )),
                _ => Ok(()),
            },
            Body::Reopened(r) if r.reason.as_deref().is_none_or(|x| x.trim().is_empty()) => {
                no("reopening needs a reason: say what brought it back".into())
            }
            Body::Resolved(r) if r.reason.as_deref().is_none_or(|x| x.trim().is_empty()) => self
                .check_commander(by, "resolves the incident without saying why")
                .map_err(|v| RuleViolation(format!("{} (anyone else records why they resolve it)", v.0))),
            _ => Ok(()),
        }
    }

    /// Skipping a required item needs a reason (its note); skipping an item that meets a
    /// deadline waives that deadline, which is the commander's call (and needs a reason too).
    fn check_skip(
        &self,
        p: &Playbook,
        item: &str,
        required: bool,
        note: Option<&str>,
        by: &str,
    ) -> Result<(), RuleViolation> {
        let waives = p.deadlines_met_by_item(item);
        if !waives.is_empty() {
            self.check_commander(
                by,
                &format!(
                    "skips `{item}`: it meets {} and skipping it waives that deadline",
                    waives.join(", ")
                ),
            )?;
        }
        if (required || !waives.is_empty()) && note.is_none_or(|n| n.trim().is_empty()) {
            let what = if waives.is_empty() {
                "a required item"
            } else {
                "an item that meets a deadline"
            };
            return Err(RuleViolation(format!(
                "skipping `{item}` ({what}) needs a reason: give it as the note"
            )));
        }
        Ok(())
    }

    /// Is `by` the incident's commander? Refused with `what` ("sets the discovery time: …") if not.
    fn check_commander(&self, by: &str, what: &str) -> Result<(), RuleViolation> {
        let me = person_of(by);
        match self.commander().map(|c| c.to_ascii_lowercase()) {
            Some(c) if c == me => Ok(()),
            Some(c) => Err(RuleViolation(format!("only the commander ({c}) {what}; {me} is not"))),
            None => Err(RuleViolation(format!(
                "only the commander {what}, and the incident has none yet"
            ))),
        }
    }

    /// A correction names a record that exists (that id at that log and seq), of a kind that is
    /// corrected, and is written by that record's author or the commander.
    fn check_correction(&self, records: &RecordStore, c: &Corrected, by: &str) -> Result<(), RuleViolation> {
        let kept = match self.kept_in(records, &c.log, c.seq) {
            Some(k) if k.id.as_str() == c.id => k,
            _ => return Err(no_record_to_correct(c)),
        };
        if !super::event::correctable(&kept.body) {
            return Err(RuleViolation(
                "only a note, a status update or a follow-up is corrected".into(),
            ));
        }
        if let Some(prev) = self.correction_of(&c.id).filter(|p| p.value.is_retraction()) {
            return Err(RuleViolation(format!(
                "record {} was already retracted by {} ({}); a retraction is final",
                c.id,
                person_of(&prev.by),
                prev.value.reason
            )));
        }
        let me = person_of(by);
        if person_of(&c.log) != me && !self.is_commander(by) {
            return Err(RuleViolation(format!(
                "only its author ({}) or the commander corrects a record; {me} is neither",
                person_of(&c.log)
            )));
        }
        Ok(())
    }

    /// The review's fields in order — summary, impact, root_cause, then the playbook's questions,
    /// then answers to fields the playbook no longer names — as (field, question, answer).
    pub fn review_fields(&self) -> Vec<(String, String, Option<&Reg<String>>)> {
        let review = &self.derived.review;
        let mut out: Vec<(String, String, Option<&Reg<String>>)> = super::playbook::REVIEW_FIELDS
            .iter()
            .map(|(f, q)| (f.to_string(), q.to_string(), review.get(*f)))
            .collect();
        if let Some(p) = self.playbook() {
            out.extend(
                p.questions
                    .iter()
                    .map(|q| (q.id.clone(), q.text.clone(), review.get(&q.id))),
            );
        }
        for (f, r) in review {
            if !out.iter().any(|(x, _, _)| x == f) {
                out.push((f.clone(), String::new(), Some(r)));
            }
        }
        out
    }

    /// The effective time of a record (ms, UTC): its latest corrected time if a `Corrected`
    /// gave one, else `occurred`, else `wall`.
    pub fn effective_when(&self, e: &Event) -> Millis {
        if correctable(&e.body) {
            if let Some(t) = self
                .derived
                .corrections
                .iter()
                .rev()
                .filter(|r| r.value.id == e.id)
                .find_map(|r| r.value.occurred)
            {
                return t;
            }
        }
        e.when()
    }

    /// Whether the record was retracted.
    pub fn is_retracted(&self, e: &Event) -> bool {
        self.correction_of(&e.id).is_some_and(|c| c.value.is_retraction())
    }

    /// The earliest evidence: the earliest effective time of an applied record (bookkeeping and
    /// `DiscoverySet` aside), ignoring refused and retracted records and using corrected times.
    /// Returns the time and the record.
    pub fn earliest_evidence(&self) -> Option<(Millis, &Event)> {
        let d = &self.derived;
        let touched = d
            .corrections
            .iter()
            .any(|c| c.value.is_retraction() || c.value.occurred.is_some());
        if !touched {
            let k = d.earliest_evidence_key.as_ref()?;
            return Some((d.earliest_evidence?, self.event(k)?));
        }
        self.events()
            .filter(|e| is_evidence(&e.body) && !d.refused.contains_key(&e.key()))
            .filter(|e| self.kept(&e.log, e.seq).is_some_and(|k| k.id == e.id))
            .filter(|e| !self.is_retracted(e))
            .map(|e| (self.effective_when(e), e))
            .min_by_key(|(t, e)| (*t, e.key()))
    }

    /// The latest correction of the record with this id, if any.
    pub fn correction_of(&self, record_id: &str) -> Option<&Reg<Corrected>> {
        self.derived.corrections.iter().rev().find(|r| r.value.id == record_id)
    }

    /// The merge key of the applied `FollowUp` record with this id.
    fn follow_up_key(&self, records: &RecordStore, id: &str) -> Option<&EventKey> {
        self.derived
            .follow_ups
            .iter()
            .map(|r| &r.key)
            .find(|k| records.get(k).is_some_and(|e| e.id.as_str() == id))
    }

    /// The id of a retracted follow-up that `prefix` names (a retracted one is not listed: see
    /// [`IncidentState::follow_ups`]), to say so rather than that none has that id.
    pub fn retracted_follow_up(&self, prefix: &str) -> Option<String> {
        let prefix = prefix.trim();
        self.derived
            .follow_ups
            .iter()
            .filter_map(|r| self.events.get(&r.key))
            .find(|e| !prefix.is_empty() && e.id.as_str().starts_with(prefix) && self.is_retracted(e))
            .map(|e| e.id.to_string())
    }

    /// Every follow-up, in the order they were recorded, with its latest state, owner and due
    /// date (the `FollowUpSet`s applied over the `FollowUp` record) and its text as last
    /// amended (`Corrected`); a retracted one is not a follow-up (it stays on the timeline,
    /// marked retracted, as every corrected record does).
    pub fn follow_ups(&self) -> Vec<FollowUpView> {
        let mut out: Vec<FollowUpView> = self
            .derived
            .follow_ups
            .iter()
            .filter_map(|r| {
                let id = self.events.get(&r.key).map(|e| e.id.to_string()).unwrap_or_default();
                let correction = self.correction_of(&id).map(|c| &c.value);
                if correction.is_some_and(Corrected::is_retraction) {
                    return None;
                }
                let text = correction.and_then(|c| c.text.clone());
                Some((r, id, text))
            })
            .map(|(r, id, text)| FollowUpView {
                id,
                text: text.unwrap_or_else(|| r.value.text.clone()),
                kind: r.value.kind.clone(),
                owner: r.value.owner.clone(),
                due: r.value.due,
                from: r.value.from.clone(),
                state: FollowUpState::Open,
                created_by: r.by.clone(),
                created_when: r.when,
                changed: None,
            })
            .collect();
        for set in &self.derived.follow_up_sets {
            if let Some(f) = out.iter_mut().find(|f| f.id == set.value.followup) {
                let was = f
                    .changed
                    .as_ref()
                    .filter(|_| f.state != set.value.state)
                    .map(|c| (f.state, c.by.clone()));
                f.state = set.value.state;
                if set.value.owner.is_some() {
                    f.owner = set.value.owner.clone();
                }
                if set.value.due.is_some() {
                    f.due = set.value.due;
                }
                f.changed = Some(FollowUpChange {
                    by: set.by.clone(),
                    when: set.when,
                    note: set.value.note.clone(),
                    was,
                });
            }
        }
        out
    }

    /// Whether `by` is the incident's commander (by person, case-insensitive).
    pub fn is_commander(&self, by: &str) -> bool {
        self.commander().map(|c| c.to_ascii_lowercase()) == Some(person_of(by))
    }

    /// The rules for an event as read from a log: its body's rules, and a `Declared` that is seq 1
    /// of its log, for this incident, with a real severity.
    fn check_event(&self, records: &RecordStore, e: &Event) -> Result<(), RuleViolation> {
        let required = self.requires_signatures() || matches!(&e.body, Body::Declared(d) if d.require_signatures);
        if required && !matches!(e.body, Body::Signed(_)) && self.signed_by(&e.log, e.seq).is_none() {
            return Err(RuleViolation(
                "it carries no valid SSH signature and this incident requires them (see `warroom verify`)".into(),
            ));
        }
        if let Body::Declared(d) = &e.body {
            if e.seq != 1 || (!self.id.is_empty() && d.incident != self.id) {
                return Err(RuleViolation(
                    "a Declared record must be the first of its log, for this incident".into(),
                ));
            }
            let named = match &self.claim {
                Claim::Unchecked | Claim::Pending => true,
                Claim::Log(log) => *log == e.log,
                Claim::Writer(w) => *w == **e.by(),
            };
            if !named {
                return Err(RuleViolation(
                    "this is not the incident's declaration: incident.ron names another log as the declarer (forged or misplaced)"
                        .into(),
                ));
            }
        }
        if let Body::Corrected(c) = &e.body {
            // One reason whether the target has not arrived yet or sorts after the correction,
            // so the verdict reads the same in any arrival order (a target arriving late and
            // sorting before it replays the correction, which is then applied).
            let before = self.kept_in(records, &c.log, c.seq).is_some_and(|k| {
                k.id.as_str() == c.id && (k.at, c.log.as_str(), c.seq) < (e.at, e.log.as_str(), e.seq)
            });
            if !before {
                return Err(no_record_to_correct(c));
            }
        }
        self.check_when(&e.body, e.when())?;
        self.check_in(records, &e.body, e.by(), e.wall)
    }

    /// Rules on when a record says it happened (`occurred`, else `wall`): a phase is entered
    /// neither before the declaration nor before the current phase was entered. The writer
    /// passes the time it is about to record.
    pub fn check_when(&self, body: &Body, when: Millis) -> Result<(), RuleViolation> {
        use super::time::format_utc;
        if let Body::PhaseEntered(p) = body {
            if let Some(t) = self.declared_at().filter(|t| when < *t) {
                return Err(RuleViolation(format!(
                    "entering {} at {} is before the declaration {}: a phase starts at or after it",
                    p.phase,
                    format_utc(when),
                    format_utc(t)
                )));
            }
            if let Some(r) = self.derived.phase.as_ref().filter(|r| when < r.when) {
                return Err(RuleViolation(format!(
                    "entering {} at {} is before {} was entered ({}): phases move forward in time",
                    p.phase,
                    format_utc(when),
                    r.value.phase,
                    format_utc(r.when)
                )));
            }
        }
        Ok(())
    }

    /// Command is handed off by the commander; anyone may take it over once the commander has
    /// been silent for [`TAKEOVER_AFTER_MS`] (an IC who went off shift without a handoff).
    ///
    /// Silence is measured skew-safely: records that sort after the commander's last one show
    /// time passing only as the span between two `wall`s of *one* host (a log, or `by`'s own
    /// clock now), so a taker whose clock runs 40 minutes fast gains nothing from it.
    fn check_handoff(&self, by: &str, wall: Millis) -> Result<(), RuleViolation> {
        let Some(current) = self.commander().map(|c| c.to_ascii_lowercase()) else {
            return Ok(());
        };
        let me = person_of(by);
        if me == current {
            return Ok(());
        }
        let silent = self.commander_silence(by, wall);
        if silent >= TAKEOVER_AFTER_MS {
            return Ok(());
        }
        Err(RuleViolation(format!(
            "only the commander ({current}) hands off command; {me} can take over once {current} has been silent for 30 minutes, as shown by the record since {current}'s last entry (so far {} min on one clock)",
            silent / 60_000
        )))
    }

    /// How long the commander has been silent (ms), as the longest span that one host's own
    /// clock shows between records written after the commander's last one; `by` writing at
    /// `wall` now counts as a record of that host.
    pub fn commander_silence(&self, by: &str, wall: Millis) -> Millis {
        self.derived
            .since_commander
            .values()
            .map(|(writer, first, last)| {
                let last = if writer == by { (*last).max(wall) } else { *last };
                last.saturating_sub(*first)
            })
            .max()
            .unwrap_or(0)
    }

    fn check_action(&self, a: &ActionSet, by: &str) -> Result<(), RuleViolation> {
        let Some(playbook) = self.playbook() else {
            return Ok(()); // the playbook copy has not synced yet: judged on replay once it has
        };
        let Some(def) = playbook.action(&a.action) else {
            return Err(RuleViolation(format!("the playbook has no action `{}`", a.action)));
        };
        if let Some(note) = a.note.as_deref() {
            super::exec_policy::check_param_note(note).map_err(RuleViolation)?;
        }
        let held = self.derived.actions.get(&a.action);
        let current = held.map(|r| &r.value);
        let from = current.map(|r| r.state);
        if !transition_allowed(from, a.state, def.approval) {
            let hint = match (from, def.approval, a.state) {
                // Two hosts starting one action: say who started it, not "needs approval".
                (Some(ActionState::Running), _, ActionState::Running) => format!(
                    " ({} is already running it)",
                    held.map(|r| super::sanitize::sanitize(&r.by)).unwrap_or_default()
                ),
                (_, Approval::None, _) => String::new(),
                (_, _, ActionState::Running | ActionState::Done | ActionState::DryRun) => {
                    " (it needs approval first)".to_string()
                }
                _ => String::new(),
            };
            let from = from.map_or("not proposed".to_string(), |s| format!("{s:?}"));
            return Err(RuleViolation(format!(
                "action `{}` cannot go from {from} to {:?}{hint}",
                a.action, a.state
            )));
        }
        if a.state == ActionState::Approved {
            let me = person_of(by);
            match def.approval {
                Approval::TwoPerson => {
                    if current.and_then(|r| r.proposer.as_deref()).map(person_of) == Some(me.clone()) {
                        return Err(RuleViolation(format!(
                            "action `{}` needs two people: {me} proposed it, so someone else must approve it",
                            a.action
                        )));
                    }
                }
                Approval::Commander => {
                    let commander = self.commander().map(|c| c.to_ascii_lowercase());
                    if commander.as_deref() != Some(me.as_str()) {
                        return Err(RuleViolation(format!(
                            "action `{}` is approved by the incident commander ({}), not {me}",
                            a.action,
                            commander.unwrap_or_else(|| "unassigned".into())
                        )));
                    }
                }
                Approval::None => {}
            }
        }
        Ok(())
    }

    fn step(&mut self, records: &RecordStore, e: &Event) {
        if matches!(e.body, Body::Declared(_)) && self.claim == Claim::Pending {
            return; // judged once the claim is read (replayed then)
        }
        let before_declared =
            !matches!(e.body, Body::Declared(_)) && self.declared_key().is_some_and(|k| e.cmp_key(k).is_lt());
        let disowned = self.is_disowned(e);
        let verdict = if disowned {
            Err(RuleViolation(
                "its log's writer says it never wrote this record (planted under their name)".into(),
            ))
        } else if before_declared {
            Err(RuleViolation(
                "it sorts before the incident's declaration (a writer that had seen the incident could not have written it there)".into(),
            ))
        } else {
            self.check_event(records, e)
        };
        if let Err(v) = verdict {
            self.derived.rejected.push(Problem::new(
                e.log.clone(),
                Some(e.seq),
                format!("{} not applied: {}", e.kind(), v.0),
            ));
            self.derived.refused.insert(e.key(), v.0);
            return;
        }
        let d = &mut self.derived;
        if is_evidence(&e.body) && d.earliest_evidence.is_none_or(|t| e.when() < t) {
            d.earliest_evidence = Some(e.when());
            d.earliest_evidence_key = Some(e.key());
        }
        if !matches!(e.body, Body::Heads(_) | Body::Signed(_) | Body::TailRepaired(_)) {
            // The writer's name is copied only when it changes hands (it rarely does).
            match &mut d.last_update {
                Some((wall, by)) if *by == *e.by() => *wall = e.wall,
                last => *last = Some((e.wall, e.by().to_string())),
            }
        }
        if (e.at - e.wall).abs() > SKEW_WARN_MS && !d.skewed.contains(e.by().as_str()) {
            d.skewed.insert(e.by().to_string());
        }
        let alert_entry = matches!(&e.body, Body::Note(n) if n.is_alert_entry());
        if alert_entry {
            d.alert_writers.insert(person_of(e.by()));
        }
        let by_commander = d.roles.get(COMMANDER).is_some_and(|r| is_person(&r.value, e.by()));
        if !alert_entry && by_commander {
            d.since_commander.clear();
        } else if !matches!(
            e.body,
            Body::Heads(_) | Body::Signed(_) | Body::TailRepaired(_) | Body::LogRestored(_) | Body::Disowned(_)
        ) {
            // Looked up before inserting: the names are copied once per log, not per record.
            match d.since_commander.get_mut(&*e.log) {
                Some((_, _, last)) => *last = (*last).max(e.wall),
                None => {
                    d.since_commander
                        .insert(e.log.to_string(), (e.by().to_string(), e.wall, e.wall));
                }
            }
        }
        match d.latest_wall.get_mut(e.by().as_str()) {
            Some(w) => *w = (*w).max(e.wall),
            None => {
                d.latest_wall.insert(e.by().to_string(), e.wall);
            }
        }
        match d.first_of_kind.get_mut(e.kind()) {
            Some(first) => *first = (*first).min(e.when()),
            None => {
                d.first_of_kind.insert(e.kind().to_string(), e.when());
            }
        }
        match &e.body {
            Body::Declared(x) => {
                d.title = Some(Reg::of(e, x.title.clone()));
                d.severity = Some(Reg::of(e, x.severity));
                d.playbook_hash = Some(x.playbook_hash.clone());
                // An empty commander (an incident an alert declared with nobody named) is no
                // commander: anyone takes command at once, and the board says "no commander".
                if !d.roles.contains_key(COMMANDER) && !x.commander.trim().is_empty() {
                    d.roles.insert(COMMANDER.into(), Reg::of(e, x.commander.clone()));
                    d.since_commander.clear();
                }
                d.declared = Some(Reg::of(e, Declared::clone(x)));
            }
            Body::TitleChanged(x) => d.title = Some(Reg::of(e, x.title.clone())),
            Body::PlaybookChanged(x) => d.playbook_hash = Some(x.hash.clone()),
            Body::SeverityChanged(x) => d.severity = Some(Reg::of(e, x.severity)),
            Body::Classified(_) => d.classified = Some(d.classified.unwrap_or(e.when())),
            Body::MaterialityDetermined(_) => d.materiality = Some(d.materiality.unwrap_or(e.when())),
            Body::PhaseEntered(x) => d.phase = Some(Reg::of(e, PhaseEntered::clone(x))),
            Body::ChecklistSet(x) => {
                d.items.insert(
                    x.item.clone(),
                    Reg::of(
                        e,
                        ItemRecord {
                            state: x.state,
                            note: x.note.clone(),
                        },
                    ),
                );
            }
            Body::ActionSet(x) => {
                let prev = d.actions.get(&x.action).map(|r| r.value.clone());
                let (proposer, approver) = match x.state {
                    ActionState::Proposed => (Some(e.by().to_string()), None),
                    ActionState::Approved => (prev.as_ref().and_then(|p| p.proposer.clone()), Some(e.by().to_string())),
                    _ => (
                        prev.as_ref()
                            .and_then(|p| p.proposer.clone())
                            .or_else(|| Some(e.by().to_string())),
                        prev.as_ref().and_then(|p| p.approver.clone()),
                    ),
                };
                let proposal = match x.state {
                    ActionState::Proposed => x.note.clone(),
                    _ => prev.as_ref().and_then(|p| p.proposal.clone()),
                };
                d.actions.insert(
                    x.action.clone(),
                    Reg::of(
                        e,
                        ActionRecord {
                            state: x.state,
                            note: x.note.clone(),
                            proposer,
                            approver,
                            proposal,
                        },
                    ),
                );
            }
            Body::Assigned(x) => {
                d.assignments.insert(x.target.clone(), Reg::of(e, x.who.clone()));
            }
            Body::RoleAssigned(x) => {
                if x.role == COMMANDER {
                    // The new commander's silence starts at the handoff.
                    d.since_commander.clear();
                }
                d.roles.insert(x.role.clone(), Reg::of(e, x.who.clone()));
            }
            Body::Note(_) => d.notes += 1,
            Body::StatusUpdate(x) => d.status_updates.push(Reg::of(e, StatusUpdate::clone(x))),
            Body::FollowUp(x) => d.follow_ups.push(Reg::of(e, FollowUp::clone(x))),
            Body::FollowUpSet(x) => d.follow_up_sets.push(Reg::of(e, FollowUpSet::clone(x))),
            Body::Corrected(x) => d.corrections.push(Reg::of(e, Corrected::clone(x))),
            Body::ReviewSet(x) => {
                d.review.insert(x.field.clone(), Reg::of(e, x.text.clone()));
            }
            Body::Resolved(_) => d.resolved = Some(Reg::of(e, true)),
            Body::Reopened(_) => {
                // Reopening brings it back from resolved and from archived: one status.
                d.resolved = Some(Reg::of(e, false));
                d.archived = None;
            }
            Body::Archived(_) => d.archived = Some(Reg::of(e, ())),
            Body::DuplicateOf(x) => d.duplicate_of = Some(Reg::of(e, x.of.clone())),
            Body::TailRepaired(x) => d.tail_repairs.push((e.by().to_string(), x.offset, x.bytes)),
            Body::Unknown(u) => {
                d.unknown_kinds.insert(u.kind.clone());
            }
            Body::InjectReleased(x) => {
                d.released_injects.insert(x.inject.clone());
            }
            Body::ExerciseClock(x) => {
                d.exercise_clock = Some(ExerciseClockState::step(d.exercise_clock, x, e.wall));
            }
            Body::DiscoverySet(x) => {
                d.discovery_was.insert(e.key(), d.discovered);
                d.discovery = Some(Reg::of(e, x.discovered));
            }
            Body::ActionOutput(_) | Body::Heads(_) | Body::Signed(_) | Body::LogRestored(_) | Body::Disowned(_) => {}
        }
        d.discovered = d
            .discovery
            .as_ref()
            .map(|r| r.value)
            .or(d.declared.as_ref().map(|r| r.when));
    }

    // ---- read accessors -------------------------------------------------------------------

    pub fn events(&self) -> impl DoubleEndedIterator<Item = &Event> + ExactSizeIterator {
        self.events.iter()
    }

    pub fn event_count(&self) -> usize {
        self.events.len()
    }

    /// The `i`th event in timeline order (`occurred`, else `at`).
    pub fn timeline_at(&self, i: usize) -> Option<&Event> {
        self.events.timeline_at(i)
    }

    /// The timeline's records before index `end`, newest first.
    pub fn timeline_rev(&self, end: usize) -> impl Iterator<Item = &Event> + '_ {
        self.timeline_rev_at(end).map(|(_, e)| e)
    }

    /// [`Self::timeline_rev`] with each record's index in the timeline.
    pub fn timeline_rev_at(&self, end: usize) -> impl Iterator<Item = (usize, &Event)> + '_ {
        self.events.timeline_range(0..end).rev()
    }

    /// The timeline's records from index `start` on, oldest first, with their indexes.
    pub fn timeline_from(&self, start: usize) -> impl Iterator<Item = (usize, &Event)> + '_ {
        self.events.timeline_range(start..usize::MAX)
    }

    /// How many records the timeline holds (a batch's not merged yet are not among them).
    pub fn timeline_len(&self) -> usize {
        self.events.timeline_len()
    }

    /// How many of the timeline's records sort at or before `key` (a [`timeline_key`]): where a
    /// record with that key is, or would be, by binary search.
    pub fn timeline_upto(&self, key: &(Millis, EventKey)) -> usize {
        self.events.timeline_upto(key)
    }

    pub fn timeline(&self) -> impl DoubleEndedIterator<Item = &Event> + '_ {
        self.events.timeline()
    }

    pub fn latest_key(&self) -> Option<EventKey> {
        self.events.last().map(Event::key)
    }

    pub fn title(&self) -> &str {
        match &self.derived.title {
            Some(r) => r.value.as_str(),
            None if super::unsigned::is_unsigned(self) => super::unsigned::TITLE,
            None => "(syncing)",
        }
    }

    pub fn severity(&self) -> Option<u8> {
        self.derived.severity.as_ref().map(|r| r.value)
    }

    pub fn phase(&self) -> Phase {
        self.derived
            .phase
            .as_ref()
            .map_or(Phase::Identification, |r| r.value.phase)
    }

    pub fn mode(&self) -> Option<Mode> {
        self.derived.declared.as_ref().map(|d| d.value.mode)
    }

    /// The incident commander. An account that writes alert entries here (an ingesting
    /// account, however it came to be named) is never the commander: command is open to anyone.
    pub fn commander(&self) -> Option<&str> {
        self.derived
            .roles
            .get(COMMANDER)
            .map(|r| r.value.as_str())
            .filter(|c| !self.derived.alert_writers.contains(&c.to_ascii_lowercase()))
    }

    /// The roles held, by role id: the registers, less a command the fold voids (an alert
    /// account's, see [`IncidentState::commander`]). What `show`, `review` and exports list.
    pub fn roles(&self) -> impl Iterator<Item = (&String, &Reg<String>)> {
        let commander = self.commander();
        self.derived
            .roles
            .iter()
            .filter(move |(role, _)| role.as_str() != COMMANDER || commander.is_some())
    }

    pub fn declared_at(&self) -> Option<Millis> {
        self.derived.declared.as_ref().map(|d| d.when)
    }

    /// The incident's status, derived in one place: `syncing` (not declared yet; `unsigned` when
    /// its declaration is refused for want of a signature), `archived`,
    /// `resolved` or `open`. A reopen brings it back from either.
    pub fn status_word(&self) -> &'static str {
        let d = &self.derived;
        if d.declared.is_none() {
            if super::unsigned::is_unsigned(self) {
                super::unsigned::STATUS
            } else {
                "syncing"
            }
        } else if d.archived.is_some() {
            "archived"
        } else if self.is_resolved() {
            "resolved"
        } else {
            "open"
        }
    }

    pub fn is_archived(&self) -> bool {
        self.derived.archived.is_some()
    }

    pub fn is_resolved(&self) -> bool {
        self.derived.resolved.as_ref().is_some_and(|r| r.value)
    }

    /// When it was resolved (`occurred`, else `wall`), while it stays resolved: the T+ clock
    /// stops there.
    pub fn resolved_at(&self) -> Option<Millis> {
        self.derived.resolved.as_ref().filter(|r| r.value).map(|r| r.when)
    }

    /// Required items of the phases before Lessons Learned still open or blocked: what resolving
    /// now leaves undone (warned and recorded as `override_open`).
    pub fn open_required_at_resolve(&self) -> Vec<String> {
        self.open_required_before(Phase::LessonsLearned)
    }

    pub fn item_state(&self, id: &str) -> ItemState {
        self.derived.items.get(id).map_or(ItemState::Open, |r| r.value.state)
    }

    /// Required items of phases before `phase` that are still open.
    pub fn open_required_before(&self, phase: Phase) -> Vec<String> {
        let Some(p) = self.playbook() else {
            return Vec::new();
        };
        p.phases
            .all()
            .filter(|(ph, i)| *ph < phase && i.required)
            .filter(|(_, i)| matches!(self.item_state(&i.id), ItemState::Open | ItemState::Blocked))
            .map(|(_, i)| i.id.clone())
            .collect()
    }

    /// Every problem the fold knows of: rule violations and conflicting records.
    pub fn problems(&self) -> Vec<Problem> {
        let mut v = self.derived.rejected.clone();
        v.extend(self.conflicts.iter().map(|(log, seq)| {
            Problem::new(
                log.clone(),
                Some(*seq),
                format!(
                    "two different records claim seq {seq} of log {log} (one was edited): the one its log's chain vouches for is used, else the smaller id"
                ),
            )
        }));
        if let Some(h) = &self.derived.playbook_hash {
            if !self.playbooks.contains_key(h) {
                v.push(Problem::new(
                    format!("playbooks/{h}.ron"),
                    None,
                    "the incident's playbook copy is missing or unreadable; checklist rules are not enforced",
                ));
            }
        }
        for k in &self.derived.unknown_kinds {
            v.push(Problem::new(
                "events",
                None,
                format!("unknown event {k} (written by a newer warroom)"),
            ));
        }
        v
    }

    /// Clock-skew warnings: writers whose sort key ran away from their wall clock, and writers whose
    /// wall clock is ahead of `now` (so other writers ignore them when ordering).
    pub fn skew_warnings(&self, now: Millis) -> Vec<String> {
        let mut out: Vec<String> = self
            .derived
            .skewed
            .iter()
            .map(|w| {
                format!("{w}: its records sort more than 30 s away from its own clock: its clock, or a teammate's, is wrong")
            })
            .collect();
        let ahead = self
            .derived
            .latest_wall
            .iter()
            .filter(|(_, wall)| **wall - now > MAX_AHEAD_MS)
            .map(|(w, wall)| (w, wall - now));
        for (w, by) in ahead {
            out.push(format!(
                "{w}: clock is {} min ahead of this host; its events are not used to order others",
                by / 60_000
            ));
        }
        out
    }
}

/// The action state machine. `approval` relaxes it: an action that needs no approval may run at once.
pub fn transition_allowed(from: Option<ActionState>, to: ActionState, approval: Approval) -> bool {
    use ActionState::*;
    let free = approval == Approval::None;
    match to {
        Proposed => matches!(from, None | Some(Failed | RolledBack | DryRun)),
        Approved => from == Some(Proposed),
        Running | DryRun => matches!(from, Some(Approved)) || (free && matches!(from, None | Some(Proposed))),
        Done => matches!(from, Some(Approved | Running | DryRun)) || (free && matches!(from, None | Some(Proposed))),
        Failed => matches!(from, Some(Approved | Running)),
        RolledBack => matches!(from, Some(Running | Done | Failed)),
    }
}

/// The hybrid sort key for a new event: never behind this writer's own last `at`, and after
/// everything it has seen from others, so cause sorts before effect even on a host whose clock is
/// hours behind. An `at` more than [`FOLLOW_LIMIT_MS`] ahead of this host's clock is not followed
/// (a host a day fast must not drag everyone); their indexes are returned so it can be said.
/// (Design change: ARCHITECTURE's limit was 5 minutes, but from one host a fast teammate and its
/// own slow clock look the same, and a 5-minute limit put a slow writer's replies before what
/// they answered.)
pub fn next_at(
    wall: Millis,
    own_last: Option<Millis>,
    others: impl IntoIterator<Item = Millis>,
) -> (Millis, Vec<usize>) {
    let mut at = wall.max(own_last.unwrap_or(Millis::MIN));
    let mut ignored = Vec::new();
    for (i, o) in others.into_iter().enumerate() {
        if o.saturating_sub(wall) > FOLLOW_LIMIT_MS {
            ignored.push(i);
        } else {
            at = at.max(o.saturating_add(1));
        }
    }
    (at, ignored)
}

/// A record's place in the timeline: when the responder said it happened (`occurred`), else its
/// merge key's `at`, then the merge key.
pub fn timeline_key(e: &Event) -> (Millis, EventKey) {
    (e.occurred.unwrap_or(e.at), e.key())
}

/// A [`IncidentState::generation`] no state had before.
fn next_generation() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    /// What the fold keeps per record in its (log, seq) map is 4 bytes.
    #[test]
    fn a_record_ref_is_4_bytes() {
        assert_eq!(std::mem::size_of::<Option<super::RecordRef>>(), 4);
    }
}
