//! The versioned event envelope: one RON record per line of a writer's log.
//!
//! `(v:1, id:"<ULID>", at:<ms>, wall:<ms>, occurred:Some(<ms>)|None, by:"name@host", seq:N,
//!   prev:"<hex>", kind:"Note", body:(...))`
//!
//! The envelope is parsed first with `body` kept raw, so a kind from a newer warroom is kept and
//! shown as unknown instead of breaking the reader.

use ron::value::RawValue;
use serde::{Deserialize, Serialize};

pub use super::compact_id::RecordId;
pub use super::name::Name;
pub use super::note_text::{text_hash, NoteText, TextAt};
use super::phase::Phase;
use super::playbook::Audience;
pub use super::prev_hash::PrevHash;
pub use super::tags::Tags;
use super::time::Millis;

/// The envelope version this binary writes.
pub const VERSION: u32 = 1;

/// The last millisecond of year 9999: no time in a record may lie beyond it.
pub const MAX_TIME: Millis = 253_402_300_799_999;
/// Sequence numbers stay far from overflow (2^53).
pub const MAX_SEQ: u64 = 1 << 53;

/// The longest record any writer may append and any reader will buffer.
pub const MAX_LINE: usize = 256 * 1024;

/// The order of the merged record: `(at, log, seq)`. A record is identified by its log file
/// (writer + install) and its seq there, never by a person or a host, so the same person writing
/// from two installs never collides.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct EventKey {
    pub at: Millis,
    /// Shared with the record's `log` (see [`Name`]).
    pub log: Name,
    pub seq: u64,
}

#[derive(Debug, Clone)]
pub struct Event {
    /// Its text as written (see [`RecordId`]: no allocation for a writer's ULID).
    pub id: RecordId,
    pub at: Millis,
    pub wall: Millis,
    /// When the responder said it happened, if they did (`occurred` in the line).
    pub occurred: Occurred,
    pub seq: u64,
    pub body: Body,
    /// The log this record sits in, `name@host.install` (the file name without `.ronl`): the unit
    /// of `seq`, of the hash chain and of "two records claim one seq". Not part of the line: the
    /// reader takes it from the file name, the writer from its own log; [`parse`] alone keys a
    /// record by its `by`. One allocation per log, shared by its records and their keys (see
    /// [`Name`]), which also holds the writer the records say they are by ([`Event::by`]).
    pub log: Name,
}

/// Equal records: every field, and what they say in `by` (held in the log's name, which
/// compares as its text alone).
impl PartialEq for Event {
    fn eq(&self, other: &Event) -> bool {
        self.id == other.id
            && self.at == other.at
            && self.wall == other.wall
            && self.occurred == other.occurred
            && self.seq == other.seq
            && self.body == other.body
            && self.log == other.log
            && self.by() == other.by()
    }
}

/// `Option<Millis>` in 8 bytes, not 16: one is held for every record (8 MB at 1M records). The
/// time is kept with its sign bit flipped, so that no time but `i64::MIN` is 0 and `None` needs
/// no tag; `i64::MIN`, which no record may carry (times lie in `0..=MAX_TIME`, see
/// [`validate`]), is kept as `i64::MIN + 1`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Occurred(Option<std::num::NonZeroU64>);

impl Occurred {
    pub const NONE: Occurred = Occurred(None);
    const FLIP: u64 = 1 << 63;

    pub fn new(t: Option<Millis>) -> Occurred {
        Occurred(t.map(|t| std::num::NonZeroU64::new(t as u64 ^ Occurred::FLIP).unwrap_or(std::num::NonZeroU64::MIN)))
    }

    pub fn get(self) -> Option<Millis> {
        self.0.map(|v| (v.get() ^ Occurred::FLIP) as Millis)
    }

    pub fn unwrap_or(self, default: Millis) -> Millis {
        self.get().unwrap_or(default)
    }

    pub fn is_some(self) -> bool {
        self.0.is_some()
    }

    pub fn is_none(self) -> bool {
        self.0.is_none()
    }
}

impl From<Option<Millis>> for Occurred {
    fn from(t: Option<Millis>) -> Occurred {
        Occurred::new(t)
    }
}

impl From<Occurred> for Option<Millis> {
    fn from(o: Occurred) -> Option<Millis> {
        o.get()
    }
}

/// As the `Option<Millis>` it holds.
impl std::fmt::Debug for Occurred {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}

/// As the `Option<Millis>` it holds (`None` / `Some(ms)`, as a line writes it).
impl Serialize for Occurred {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.get().serialize(s)
    }
}

/// A line as read or written: its record and its `prev`, the hash of the line before it (see
/// [`PrevHash`]). The `prev` is the chain's: the reader checks it against the line before and
/// then hands on the record alone, so the records held for every line of an incident (the
/// fold's, the console's) do not each carry 40 bytes nothing after the chain check reads.
/// So two lines that differ only in `prev` hold equal records: telling them apart is the
/// chain check's (by line hash), which marks the one out of its chain where it reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub event: Event,
    pub prev: PrevHash,
}

impl Event {
    /// The writer it says it is by, `name@host` (the line's `by`): the writer its log's name
    /// was made with (see [`Name::with_writer`]).
    pub fn by(&self) -> &Name {
        self.log.writer()
    }

    pub fn key(&self) -> EventKey {
        EventKey {
            at: self.at,
            log: self.log.clone(),
            seq: self.seq,
        }
    }

    /// How its key sorts against `k` (`EventKey`'s order), without building its key.
    pub fn cmp_key(&self, k: &EventKey) -> std::cmp::Ordering {
        (self.at, &self.log, self.seq).cmp(&(k.at, &k.log, k.seq))
    }

    /// How two records' keys sort (`EventKey`'s order), without building either.
    pub fn cmp_keys(&self, other: &Event) -> std::cmp::Ordering {
        (self.at, &self.log, self.seq).cmp(&(other.at, &other.log, other.seq))
    }
    /// When it happened, as shown and measured: `occurred`, else the writer's clock.
    pub fn when(&self) -> Millis {
        self.occurred.unwrap_or(self.wall)
    }
    pub fn kind(&self) -> &str {
        self.body.kind()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mode {
    Real,
    Exercise,
    Demo,
}

impl Mode {
    pub fn label(self) -> &'static str {
        match self {
            Mode::Real => "real",
            Mode::Exercise => "EXERCISE",
            Mode::Demo => "DEMO",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ItemState {
    Open,
    Done,
    Skipped,
    Blocked,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ActionState {
    Proposed,
    Approved,
    Running,
    Done,
    Failed,
    RolledBack,
    /// Taken in an exercise: recorded, never executed.
    DryRun,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Target {
    Item(String),
    Action(String),
}

impl Target {
    pub fn id(&self) -> &str {
        match self {
            Target::Item(s) | Target::Action(s) => s,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Declared {
    pub incident: String,
    pub title: String,
    pub severity: u8,
    pub mode: Mode,
    pub playbook: String,
    #[serde(default)]
    pub playbook_version: String,
    pub playbook_hash: String,
    pub commander: String,
    /// Every record of this incident must carry a valid SSH signature (see README, "Signed
    /// records"); unsigned or badly signed ones are problems, never state. Written only when true,
    /// so older logs and older binaries read as before.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_signatures: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TitleChanged {
    pub title: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaybookChanged {
    pub hash: String,
    #[serde(default)]
    pub playbook: String,
    #[serde(default)]
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeverityChanged {
    pub severity: u8,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Classified {
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaterialityDetermined {
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseEntered {
    pub phase: Phase,
    /// Required items of earlier phases still open when the commander moved on.
    #[serde(default)]
    pub override_open: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChecklistSet {
    pub item: String,
    pub state: ItemState,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionSet {
    pub action: String,
    pub state: ActionState,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionOutput {
    pub action: String,
    /// What the command wrote, as plain text (escape sequences removed), its last ~2 KB.
    pub text: String,
    #[serde(default)]
    pub exit: Option<i32>,
    /// The BLAKE3 (hex) of its recording, `casts/<hash>.cast` in the incident folder.
    #[serde(default)]
    pub cast: Option<String>,
    /// It ran out of time and was killed.
    #[serde(default)]
    pub timed_out: bool,
    /// It was the action's rollback that ran.
    #[serde(default)]
    pub rollback: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assigned {
    pub target: Target,
    pub who: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleAssigned {
    pub role: String,
    pub who: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// Held, or left in the log by a reader that does not show texts (see [`NoteText`]).
    pub text: NoteText,
    /// Shared by the records with the same tags (see [`Tags`]); written as a list of strings.
    #[serde(default)]
    pub tags: Tags,
}

/// The tag every alert entry (a Note `warroom ingest` writes) carries, and the prefix of its
/// fingerprint tag.
pub const ALERT_TAG: &str = "alert";
pub const FINGERPRINT_TAG: &str = "fingerprint:";

/// The fingerprint an alert entry's tags record (`alert` and `fingerprint:<fp>`); `None` for any
/// other note.
pub fn alert_fingerprint(tags: &[Name]) -> Option<&str> {
    if !tags.iter().any(|t| t == ALERT_TAG) {
        return None;
    }
    tags.iter()
        .find_map(|t| t.strip_prefix(FINGERPRINT_TAG))
        .filter(|f| !f.is_empty())
}

impl Note {
    /// An alert entry: written by an ingesting account, not by a person at the keyboard.
    pub fn is_alert_entry(&self) -> bool {
        alert_fingerprint(&self.tags).is_some()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusUpdate {
    pub audience: Audience,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowUp {
    pub text: String,
    #[serde(default)]
    pub owner: Option<String>,
    /// `corrective`, `preventive` or `detective` ([`FOLLOW_UP_KINDS`]); older records hold any word.
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub due: Option<Millis>,
    /// The id of the timeline record it was created from.
    #[serde(default)]
    pub from: Option<String>,
}

/// The kinds of follow-up the CLI and the console offer.
pub const FOLLOW_UP_KINDS: &[&str] = &["corrective", "preventive", "detective"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum FollowUpState {
    Open,
    Done,
    Cancelled,
}

/// A follow-up (named by its `FollowUp` record's id) changes state, owner or due date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowUpSet {
    pub followup: String,
    pub state: FollowUpState,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub due: Option<Millis>,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InjectReleased {
    pub inject: String,
    pub title: String,
    pub text: String,
    #[serde(default)]
    pub scenario_ms: Millis,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExerciseClock {
    /// `Start`, `Pause`, `Resume`, `Speed`, `End`.
    pub change: String,
    pub speed: f64,
    pub scenario_ms: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolved {
    #[serde(default)]
    pub summary: Option<String>,
    /// Required items still open when it was resolved (recorded as an override, as a phase
    /// change records them).
    #[serde(default)]
    pub override_open: Vec<String>,
    /// Why someone other than the commander resolved it (the fold refuses a non-commander's
    /// `Resolved` without one).
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reopened {
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Archived {}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DuplicateOf {
    pub of: String,
}

/// A correction of an earlier record (a Note, StatusUpdate or FollowUp), named by its id and its
/// place (log, seq). The original stays on the record; `text: None` retracts it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Corrected {
    pub id: String,
    pub log: String,
    pub seq: u64,
    /// The corrected text; `None` (and no `occurred`): the record is retracted.
    #[serde(default)]
    pub text: Option<String>,
    pub reason: String,
    /// The corrected time it happened (ms, UTC): the record's effective time for evidence and
    /// the timeline from now on (the original stays on the record and is shown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurred: Option<Millis>,
}

impl Corrected {
    /// A retraction: neither a new text nor a new time.
    pub fn is_retraction(&self) -> bool {
        self.text.is_none() && self.occurred.is_none()
    }
}

/// The kinds a `Corrected` may name.
pub fn correctable(b: &Body) -> bool {
    matches!(b, Body::Note(_) | Body::StatusUpdate(_) | Body::FollowUp(_))
}

/// An answer in the post-incident review: `field` is `summary`, `impact`, `root_cause` or the id
/// of one of the playbook's lessons-learned questions. Last by key wins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewSet {
    pub field: String,
    pub text: String,
}

/// The commander sets when the organisation became aware (it moves the regulators' clocks:
/// every deadline whose trigger is discovery). Last by key wins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscoverySet {
    pub discovered: Millis,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TailRepaired {
    pub offset: u64,
    pub bytes: u64,
}

/// A sync tool (two-way rsync, `git pull --rebase` while a writer ran) put an older or different
/// copy of this log in place. The writer re-appended, verbatim, the records it had acknowledged
/// that the copy lacked (seqs `from..=to`, from its local copy), and says so here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRestored {
    /// The writer's last record that the shared copy still held (0: none).
    pub found: u64,
    pub from: u64,
    pub to: u64,
    /// How many of `from..=to` the local copy held and re-appended (fewer: some are lost).
    pub restored: u64,
}

/// The log's writer found records under its name, in its own log, that it never wrote (its
/// local copy of what it acknowledged has no record with those seqs): planted by someone who can
/// write the folder. They stay on the record, marked, and are not applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disowned {
    pub seqs: Vec<u64>,
}

/// How many seqs one `Disowned` names at most.
pub const MAX_DISOWNED: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    pub writer: String,
    pub seq: u64,
    pub hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heads {
    pub heads: Vec<Head>,
}

/// An SSH signature over this log up to `head` (see [`super::signing`]): written in the same
/// write as the records it vouches for, right after them, so `head` is also this record's `prev`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signed {
    /// Lowercase hex BLAKE3 of the last line signed (64 characters): the signed message.
    pub head: String,
    /// `SHA256:...` fingerprint of the signing key (for people; the check uses the key inside `sig`).
    pub key: String,
    /// The armored SSHSIG (`-----BEGIN SSH SIGNATURE-----`...), namespace `warroom-event`.
    pub sig: String,
    /// The log (`name@host.install`) the signature is bound to: the signed message is then
    /// `"<log> <head>"` (see [`super::signing::event_message`]), so a log copied under another
    /// name does not verify. `None`: an older signature over `head` alone (still checked;
    /// `verify` says it is not bound to its log). Written only when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
}

#[derive(Serialize)]
struct OutEnvelope<'a, B: Serialize> {
    v: u32,
    id: &'a str,
    at: Millis,
    wall: Millis,
    occurred: Option<Millis>,
    by: &'a str,
    seq: u64,
    prev: &'a PrevHash,
    kind: &'a str,
    body: &'a B,
}

/// A record as read. The body is parsed in the same pass when `kind` comes before it (as warroom
/// writes it); a hand-written line with `body` first is kept raw and parsed afterwards.
struct InEnvelope {
    v: u32,
    id: RecordId,
    at: Millis,
    wall: Millis,
    occurred: Option<Millis>,
    by: String,
    seq: u64,
    prev: PrevHash,
    kind: String,
    body: InBody,
}

enum InBody {
    Parsed(Body),
    Raw(Box<RawValue>),
    /// A kind (or envelope version) this binary does not know: skipped, the line is kept.
    Unknown,
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "lowercase")]
enum Field {
    V,
    Id,
    At,
    Wall,
    Occurred,
    By,
    Seq,
    Prev,
    Kind,
    Body,
    #[serde(other)]
    Other,
}

struct BodySeed<'a>(&'a str);

impl<'de> serde::de::DeserializeSeed<'de> for BodySeed<'_> {
    type Value = InBody;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<InBody, D::Error> {
        use serde::de::Error;
        Body::deserialize_kind(self.0, d)
            .map_err(|e| D::Error::custom(format!("bad `{}` body ({e})", self.0)))
            .map(|b| b.map_or(InBody::Unknown, InBody::Parsed))
    }
}

impl<'de> Deserialize<'de> for InEnvelope {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<InEnvelope, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = InEnvelope;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a warroom record (v:1, id:..., kind:..., body:(...))")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<InEnvelope, A::Error> {
                use serde::de::{Error, IgnoredAny};
                let (mut v, mut id, mut at, mut wall, mut occurred) = (None, None, None, None, None);
                let (mut by, mut seq, mut prev, mut kind, mut body) = (None, None, None, None::<String>, None);
                while let Some(key) = map.next_key::<Field>()? {
                    match key {
                        Field::V => v = Some(map.next_value::<u32>()?),
                        Field::Id => id = Some(map.next_value()?),
                        Field::At => at = Some(map.next_value()?),
                        Field::Wall => wall = Some(map.next_value()?),
                        Field::Occurred => occurred = map.next_value()?,
                        Field::By => by = Some(map.next_value()?),
                        Field::Seq => seq = Some(map.next_value()?),
                        Field::Prev => prev = Some(map.next_value()?),
                        Field::Kind => kind = Some(map.next_value()?),
                        Field::Body => {
                            body = Some(match (&kind, v) {
                                (_, Some(v)) if v > VERSION => {
                                    map.next_value::<IgnoredAny>()?;
                                    InBody::Unknown
                                }
                                (Some(k), Some(_)) => map.next_value_seed(BodySeed(k))?,
                                _ => InBody::Raw(map.next_value()?),
                            })
                        }
                        Field::Other => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                let need = |name: &'static str| A::Error::missing_field(name);
                Ok(InEnvelope {
                    v: v.ok_or_else(|| need("v"))?,
                    id: id.ok_or_else(|| need("id"))?,
                    at: at.ok_or_else(|| need("at"))?,
                    wall: wall.ok_or_else(|| need("wall"))?,
                    occurred,
                    by: by.ok_or_else(|| need("by"))?,
                    seq: seq.ok_or_else(|| need("seq"))?,
                    prev: prev.ok_or_else(|| need("prev"))?,
                    kind: kind.ok_or_else(|| need("kind"))?,
                    body: body.ok_or_else(|| need("body"))?,
                })
            }
        }
        const FIELDS: &[&str] = &["v", "id", "at", "wall", "occurred", "by", "seq", "prev", "kind", "body"];
        d.deserialize_struct("Envelope", FIELDS, Visit)
    }
}

macro_rules! bodies {
    ($($kind:ident: $held:ty),* $(,)?) => {
        /// What happened. The variant name is the `kind` on disk. A kind bigger than a `Note`
        /// is boxed (as the list below says), so every record is not as big as the biggest kind.
        /// An unknown kind is boxed too.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Body {
            $($kind($held),)*
            /// A kind this binary does not know (a newer warroom wrote it): kept, shown, not applied.
            Unknown(Box<Unknown>),
        }

        /// Every kind this binary reads and writes.
        pub const KINDS: &[&str] = &[$(stringify!($kind)),*];

        impl Body {
            pub fn kind(&self) -> &str {
                match self {
                    $(Body::$kind(_) => stringify!($kind),)*
                    Body::Unknown(u) => &u.kind,
                }
            }

            /// The body of a known kind; `None` (after skipping it) for a kind this binary lacks.
            fn deserialize_kind<'de, D: serde::Deserializer<'de>>(kind: &str, d: D) -> Result<Option<Body>, D::Error> {
                match kind {
                    $(stringify!($kind) => <$held>::deserialize(d).map(|b| Some(Body::$kind(b))),)*
                    _ => serde::de::IgnoredAny::deserialize(d).map(|_| None),
                }
            }

            fn encode(&self, e: &Event, prev: &PrevHash) -> Result<String, EncodeError> {
                fn go<B: Serialize>(e: &Event, prev: &PrevHash, kind: &str, body: &B) -> Result<String, EncodeError> {
                    let out = OutEnvelope {
                        v: VERSION, id: &e.id, at: e.at, wall: e.wall, occurred: e.occurred.get(),
                        by: e.by(), seq: e.seq, prev, kind, body,
                    };
                    ron::to_string(&out).map_err(|err| EncodeError::Ron(err.to_string()))
                }
                match self {
                    $(Body::$kind(b) => go(e, prev, stringify!($kind), b),)*
                    Body::Unknown(u) => Err(EncodeError::Unknown(u.kind.clone())),
                }
            }
        }

        impl Body {
            /// The body as JSON (strings not yet sanitised).
            pub fn to_json(&self) -> serde_json::Value {
                match self {
                    $(Body::$kind(b) => serde_json::to_value(b).unwrap_or(serde_json::Value::Null),)*
                    Body::Unknown(u) => serde_json::json!({ "unknown": u.kind, "raw": u.raw }),
                }
            }
        }

        $(impl From<$kind> for Body {
            fn from(b: $kind) -> Body { Body::$kind(b.into()) }
        }
        /// What a boxed kind's variant holds (one more allocation for a kind held inline).
        impl From<Box<$kind>> for Body {
            fn from(b: Box<$kind>) -> Body { Body::from(*b) }
        })*
    };
}

/// A record of a kind this binary does not know (a newer warroom wrote it): its kind (with the
/// envelope version when that is newer) and its whole line.
#[derive(Debug, Clone, PartialEq)]
pub struct Unknown {
    pub kind: String,
    pub raw: Box<str>,
}

// Boxed: the kinds over 24 bytes (a `Note`'s size; `size_of` in the tests below).
bodies!(
    Declared: Box<Declared>,
    TitleChanged: TitleChanged,
    PlaybookChanged: Box<PlaybookChanged>,
    SeverityChanged: Box<SeverityChanged>,
    Classified: Classified,
    MaterialityDetermined: MaterialityDetermined,
    PhaseEntered: Box<PhaseEntered>,
    ChecklistSet: Box<ChecklistSet>,
    ActionSet: Box<ActionSet>,
    ActionOutput: Box<ActionOutput>,
    Assigned: Box<Assigned>,
    RoleAssigned: Box<RoleAssigned>,
    Note: Note,
    StatusUpdate: Box<StatusUpdate>,
    FollowUp: Box<FollowUp>,
    InjectReleased: Box<InjectReleased>,
    ExerciseClock: Box<ExerciseClock>,
    Resolved: Box<Resolved>,
    Reopened: Reopened,
    Archived: Archived,
    DuplicateOf: DuplicateOf,
    TailRepaired: TailRepaired,
    LogRestored: Box<LogRestored>,
    Disowned: Disowned,
    Heads: Heads,
    DiscoverySet: Box<DiscoverySet>,
    FollowUpSet: Box<FollowUpSet>,
    Corrected: Box<Corrected>,
    ReviewSet: Box<ReviewSet>,
    Signed: Box<Signed>,
);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EncodeError {
    #[error("cannot encode event: {0}")]
    Ron(String),
    #[error("an unknown event kind `{0}` is never written by this warroom")]
    Unknown(String),
    #[error("record is {0} bytes; the limit is {MAX_LINE} bytes (split the text or attach a file path instead)")]
    TooLong(usize),
    #[error("{0}")]
    Invalid(String),
}

/// The longest identifier (item, action, role, tag, playbook id) a record may carry.
pub const MAX_IDENT: usize = 128;

/// The one validation of a record, run by the writer before it writes ([`encode`]) and by every
/// reader when it reads ([`parse`]): so a record a writer acknowledged is never refused later.
/// Rules about the *history* (transitions, approvals, command) are the fold's
/// ([`super::state::IncidentState::check`]); these need only the record.
///
/// Errors are a plain sentence naming the field, e.g. "`occurred` -2208988800000 is not a time
/// between 1970 and 9999". `prev` is the line's (see [`Line`]).
pub fn validate(e: &Event, prev: &PrevHash) -> Result<(), String> {
    // Times and counters are untrusted: keep them where arithmetic cannot overflow.
    for (name, t) in [
        ("at", Some(e.at)),
        ("wall", Some(e.wall)),
        ("occurred", e.occurred.get()),
    ] {
        t.map_or(Ok(()), |t| check_time(name, t))?;
    }
    if !(1..=MAX_SEQ).contains(&e.seq) {
        return Err(format!("`seq` {} is out of range", e.seq));
    }
    if super::identity::WriterId::parse(e.by()).is_none() {
        return Err(format!("`by` {:?} is not a writer id (name@host)", clip(e.by())));
    }
    if !is_token(&e.id, 64) {
        return Err(format!("`id` {:?} is not a record id", clip(&e.id)));
    }
    if !is_token(&prev.text(), 128) {
        return Err(format!("`prev` {:?} is not a hash", clip(&prev.text())));
    }
    validate_body(&e.body)
}

fn validate_body(body: &Body) -> Result<(), String> {
    let ident = |field: &str, v: &str| {
        if v.is_empty() || v.chars().count() > MAX_IDENT || v.chars().any(char::is_control) {
            Err(format!(
                "`{field}` {:?} must be 1-{MAX_IDENT} characters without control characters",
                clip(v)
            ))
        } else {
            Ok(())
        }
    };
    let person = |field: &str, v: &str| {
        if super::identity::valid_name(v) {
            Ok(())
        } else {
            Err(format!(
                "`{field}` {:?} is not a responder name (a-z, 0-9, . _ -)",
                clip(v)
            ))
        }
    };
    let severity = |s: u8| {
        if (1..=4).contains(&s) {
            Ok(())
        } else {
            Err(format!("severity must be 1..4, not {s}"))
        }
    };
    let time = |field: &str, t: Millis| {
        if (0..=MAX_TIME).contains(&t) {
            Ok(())
        } else {
            Err(format!("`{field}` {t} is out of range"))
        }
    };
    let text = |field: &str, v: &str| {
        if v.trim().is_empty() {
            Err(format!("`{field}` is empty: say why"))
        } else {
            Ok(())
        }
    };
    match body {
        Body::Declared(d) => {
            severity(d.severity)?;
            // Empty: no commander yet (an incident an alert declared, its rule naming nobody).
            if !d.commander.is_empty() {
                person("commander", &d.commander)?;
            }
            ident("playbook", &d.playbook)?;
            ident("playbook_hash", &d.playbook_hash)
        }
        Body::SeverityChanged(x) => severity(x.severity),
        Body::PlaybookChanged(x) => ident("hash", &x.hash),
        Body::ChecklistSet(x) => ident("item", &x.item),
        Body::ActionSet(x) => ident("action", &x.action),
        Body::ActionOutput(x) => {
            ident("action", &x.action)?;
            match &x.cast {
                Some(h) if !is_hash(h) => Err(format!("`cast` {:?} is not a BLAKE3 hash", clip(h))),
                _ => Ok(()),
            }
        }
        Body::Assigned(x) => {
            ident("target", x.target.id())?;
            person("who", &x.who)
        }
        Body::RoleAssigned(x) => {
            ident("role", &x.role)?;
            person("who", &x.who)
        }
        Body::Note(n) => n.tags.iter().try_for_each(|t| ident("tag", t)),
        Body::InjectReleased(x) => {
            ident("inject", &x.inject)?;
            time("scenario_ms", x.scenario_ms)
        }
        Body::ExerciseClock(x) => {
            if !(x.speed.is_finite() && (0.01..=1000.0).contains(&x.speed)) {
                return Err(format!("exercise speed {} is not between 0.01 and 1000", x.speed));
            }
            time("scenario_ms", x.scenario_ms)
        }
        Body::DuplicateOf(x) => ident("of", &x.of),
        Body::FollowUp(x) => {
            // `owner` stays free text: records written before it was checked must stay valid.
            if let Some(f) = &x.from {
                ident("from", f)?;
            }
            x.due.map_or(Ok(()), |t| time("due", t))
        }
        Body::FollowUpSet(x) => {
            ident("followup", &x.followup)?;
            if let Some(o) = &x.owner {
                person("owner", o)?;
            }
            x.due.map_or(Ok(()), |t| time("due", t))
        }
        Body::Corrected(x) => {
            ident("id", &x.id)?;
            ident("log", &x.log)?;
            if !(1..=MAX_SEQ).contains(&x.seq) {
                return Err(format!("`seq` {} is out of range", x.seq));
            }
            if let Some(t) = &x.text {
                text("text", t)?;
            }
            if let Some(t) = x.occurred {
                time("occurred", t)?;
            }
            text("reason", &x.reason)
        }
        Body::ReviewSet(x) => ident("field", &x.field),
        Body::Signed(x) => {
            if x.head.len() != 64 || !x.head.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
                return Err("a Signed record's `head` must be a 64-character lowercase hex hash".into());
            }
            ident("key", &x.key)?;
            if let Some(log) = &x.log {
                ident("log", log)?;
            }
            if x.sig.len() > super::signing::MAX_SIG || !x.sig.starts_with("-----BEGIN SSH SIGNATURE-----") {
                return Err(format!(
                    "a Signed record's `sig` must be an armored SSH signature of at most {} bytes",
                    super::signing::MAX_SIG
                ));
            }
            Ok(())
        }
        Body::DiscoverySet(x) => {
            time("discovered", x.discovered)?;
            text("reason", &x.reason)
        }
        Body::Disowned(x) if x.seqs.len() > MAX_DISOWNED || x.seqs.iter().any(|s| !(1..=MAX_SEQ).contains(s)) => Err(
            format!("a Disowned record names at most {MAX_DISOWNED} seqs, each 1..2^53"),
        ),
        Body::Heads(h) => h.heads.iter().try_for_each(|h| {
            ident("writer", &h.writer)?;
            if (1..=MAX_SEQ).contains(&h.seq) {
                Ok(())
            } else {
                Err(format!("heads: `seq` {} is out of range", h.seq))
            }
        }),
        _ => Ok(()),
    }
}

/// Would a record with this body and `occurred` be accepted? The same [`validate`] and size check
/// as [`encode`], with the longest envelope a writer makes — so a batch (an import) can refuse
/// one bad line and keep the others.
pub fn check_draft(body: &Body, occurred: Option<Millis>) -> Result<(), String> {
    let probe = Event {
        id: "0".repeat(26).into(),
        at: MAX_TIME,
        wall: MAX_TIME,
        occurred: occurred.into(),
        seq: MAX_SEQ,
        body: body.clone(),
        log: Name::with_writer("", format!("{}@{}", "n".repeat(32), "h".repeat(63)).into()),
    };
    encode(&probe, &"0".repeat(64).into())
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// 64 lowercase hex digits: a BLAKE3 hash as warroom writes it (content-addressed file names).
pub fn is_hash(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Printable ASCII without spaces, 1..=max bytes: ids and hashes.
fn is_token(s: &str, max: usize) -> bool {
    (1..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic())
}

/// At most 40 characters of an untrusted value, for an error message.
fn clip(s: &str) -> String {
    s.chars().take(40).collect()
}

/// A record's time `name` (`at`, `wall`, `occurred`) lies in `0..=MAX_TIME`.
fn check_time(name: &str, t: Millis) -> Result<(), String> {
    if (0..=MAX_TIME).contains(&t) {
        Ok(())
    } else {
        Err(format!("`{name}` {t} is not a time between 1970 and 9999"))
    }
}

/// Encode an event as one line (without the newline) after the line `prev` hashes, after
/// [`validate`]: what this refuses no reader would have accepted.
pub fn encode(e: &Event, prev: &PrevHash) -> Result<String, EncodeError> {
    validate(e, prev).map_err(EncodeError::Invalid)?;
    let line = e.body.encode(e, prev)?;
    if line.len() > MAX_LINE {
        return Err(EncodeError::TooLong(line.len()));
    }
    Ok(line)
}

/// Parse one line (without its newline): its record, without its `prev` (see [`parse_line`]).
/// The error is a plain sentence for the problems list.
pub fn parse(line: &str) -> Result<Event, String> {
    parse_named(line, None).map(|l| l.event)
}

/// Parse one line (without its newline): its record and its `prev`. The error is as [`parse`]'s.
///
/// A line in the writer's canonical form is read by the fast reader ([`super::line_de`]);
/// anything else, and every error, by `ron` (so its messages and `line:col` stay).
pub fn parse_line(line: &str) -> Result<Line, String> {
    parse_named(line, None)
}

/// [`parse_line`], with the record's names taken from `names` where they match (see [`parse_in`]).
fn parse_named(line: &str, names: Option<&LogNames>) -> Result<Line, String> {
    match super::line_de::from_str(line) {
        Ok(env) => finish(line, env, names),
        Err(_) => parse_with_ron_named(line, names),
    }
}

/// [`parse`] by the fast reader alone: `None` where it leaves the line to `ron`. For tests that
/// hold the two readers to one rule.
#[doc(hidden)]
pub fn parse_fast(line: &str) -> Option<Result<Line, String>> {
    super::line_de::from_str(line).ok().map(|env| finish(line, env, None))
}

/// [`parse`] by `ron` alone (the reference the fast reader is held to).
#[doc(hidden)]
pub fn parse_with_ron(line: &str) -> Result<Line, String> {
    parse_with_ron_named(line, None)
}

fn parse_with_ron_named(line: &str, names: Option<&LogNames>) -> Result<Line, String> {
    let env: InEnvelope = ron::from_str(line).map_err(|e| {
        let text = e.to_string();
        if text.contains("bad `") {
            text
        } else {
            format!("not a warroom record ({text})")
        }
    })?;
    finish(line, env, names)
}

/// The event an envelope holds, validated. Its `log` is `names`' log (else its `by`), and its
/// `by` is `names`' writer when the text is the same (one allocation per log, not per record).
fn finish(line: &str, env: InEnvelope, names: Option<&LogNames>) -> Result<Line, String> {
    let unknown = |kind: String| Body::Unknown(Box::new(Unknown { kind, raw: line.into() }));
    let body = match env.body {
        _ if env.v > VERSION => unknown(format!("{} v{}", env.kind, env.v)),
        InBody::Parsed(b) => b,
        InBody::Unknown => unknown(env.kind.clone()),
        InBody::Raw(raw) => match Body::deserialize_kind(
            &env.kind,
            &mut ron::Deserializer::from_str(raw.get_ron()).map_err(|e| e.to_string())?,
        ) {
            Ok(Some(b)) => b,
            Ok(None) => unknown(env.kind.clone()),
            Err(e) => return Err(format!("bad `{}` body ({e})", env.kind)),
        },
    };
    let log = match names {
        Some(n) if n.writer == env.by => n.log.clone(),
        // A record naming another writer than its log's: its own name, for the reader to refuse.
        Some(n) => Name::with_writer(&n.log, Name::from(env.by)),
        None => Name::from(env.by),
    };
    // Checked before it is packed: `Occurred` keeps `i64::MIN` as `i64::MIN + 1`, and the
    // problem must quote the line.
    env.occurred.map_or(Ok(()), |t| check_time("occurred", t))?;
    let e = Event {
        id: env.id,
        at: env.at,
        wall: env.wall,
        occurred: env.occurred.into(),
        log,
        seq: env.seq,
        body,
    };
    validate(&e, &env.prev)?;
    Ok(Line {
        event: e,
        prev: env.prev,
    })
}

/// The names the records of one log share: made once per log (see [`Name`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogNames {
    /// The log, `name@host.install` (its file name without `.ronl`).
    pub log: Name,
    /// Its writer, `name@host`: what every record of the log must say in `by`.
    pub writer: Name,
}

impl LogNames {
    /// The names of log `log` (`name@host.install`) of writer `writer` (`name@host`): the
    /// log's name carries the writer's, so its records' `by` is read from it.
    pub fn new(log: &str, writer: &str) -> LogNames {
        let writer = Name::from(writer);
        LogNames {
            log: Name::with_writer(log, writer.clone()),
            writer,
        }
    }
}

/// Parse one line of the log `names.log`: the record is keyed by that log, and its `by` shares
/// `names.writer`'s allocation when it names that writer (a record naming anyone else keeps its
/// own, for the reader to refuse). Errors as [`parse`].
pub fn parse_in(line: &str, names: &LogNames) -> Result<Line, String> {
    parse_named(line, Some(names))
}

/// The event as one JSON object (`"v":1`), every string sanitised for a terminal.
pub fn to_json(e: &Event) -> serde_json::Value {
    let mut v = serde_json::json!({
        "v": VERSION,
        "id": e.id,
        "at": e.at,
        "wall": e.wall,
        "occurred": e.occurred,
        "when": super::time::format_utc(e.when()),
        "by": e.by(),
        "seq": e.seq,
        "kind": e.kind(),
        "body": e.body.to_json(),
    });
    super::sanitize::sanitize_json(&mut v);
    v
}

/// BLAKE3 of a line's exact bytes (without its newline), lowercase hex: the next record's `prev`.
pub fn line_hash(line: &[u8]) -> String {
    blake3::hash(line).to_hex().to_string()
}

/// The `prev` of a writer's first record.
pub fn genesis_hash(incident: &str, writer: &str) -> String {
    line_hash(format!("{incident}\n{writer}").as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(text: &str) -> Event {
        Event {
            id: "01JDQ0000000000000000000AA".into(),
            at: 1_764_150_000_000,
            wall: 1_764_150_000_000,
            occurred: Occurred::new(Some(1_764_149_000_000)),
            log: "alice@jump".into(),
            seq: 3,
            body: Note {
                text: text.into(),
                tags: vec!["ioc".into()].into(),
            }
            .into(),
        }
    }

    #[test]
    fn round_trips_and_stays_on_one_line() {
        let e = note("line one\nline two \u{1b}[31m \u{202e}");
        let prev = PrevHash::from("ab");
        let line = encode(&e, &prev).unwrap();
        assert!(!line.contains('\n'));
        assert!(line.starts_with("(v:1,"), "{line}");
        assert_eq!(parse_line(&line).unwrap(), Line { event: e, prev });
    }

    #[test]
    fn unknown_kinds_and_fields_are_kept() {
        let line =
            r#"(v:1,id:"x",at:5,wall:5,occurred:None,by:"a@b",seq:1,prev:"p",kind:"Poll",body:(question:"?"),extra:1)"#;
        let e = parse(line).unwrap();
        assert_eq!(e.kind(), "Poll");
        assert!(matches!(e.body, Body::Unknown(_)));
        let newer = r#"(v:1,id:"x",at:5,wall:5,occurred:None,by:"a@b",seq:1,prev:"p",kind:"Note",body:(text:"hi",tags:[],mood:"calm"))"#;
        assert!(matches!(parse(newer).unwrap().body, Body::Note(_)));
    }

    #[test]
    fn field_order_and_newer_versions() {
        // Hand-written, body before kind: still read.
        let line =
            r#"(body:(text:"hi",tags:[]),kind:"Note",v:1,id:"x",at:5,wall:5,occurred:None,by:"a@b",seq:1,prev:"p")"#;
        assert!(matches!(parse(line).unwrap().body, Body::Note(n) if n.text.held() == Some("hi")));
        // A newer envelope version is kept as unknown, even for a kind this binary knows.
        let v2 = r#"(v:2,id:"x",at:5,wall:5,occurred:None,by:"a@b",seq:1,prev:"p",kind:"Note",body:(words:["hi"]))"#;
        assert!(matches!(parse(v2).unwrap().body, Body::Unknown(u) if u.kind == "Note v2"));
        // A bad body says which kind.
        let bad = r#"(v:1,id:"x",at:5,wall:5,occurred:None,by:"a@b",seq:1,prev:"p",kind:"Note",body:(text:3))"#;
        assert!(
            parse(bad).unwrap_err().contains("bad `Note` body"),
            "{}",
            parse(bad).unwrap_err()
        );
    }

    #[test]
    fn extreme_numbers_are_refused() {
        for (field, value) in [
            ("at:5", "at:-9223372036854775808"),
            ("at:5", "at:9223372036854775807"),
            ("wall:5", "wall:-1"),
            ("occurred:None", "occurred:Some(-9223372036854775807)"),
            ("seq:1", "seq:18446744073709551615"),
            ("seq:1", "seq:0"),
        ] {
            let line = r#"(v:1,id:"x",at:5,wall:5,occurred:None,by:"a@b",seq:1,prev:"p",kind:"Note",body:(text:"hi",tags:[]))"#
                .replace(field, value);
            assert!(parse(&line).is_err(), "{value} accepted");
        }
    }

    /// The problem quotes the time as the line wrote it, `i64::MIN` too (which `Occurred`
    /// could not hold), by either reader.
    #[test]
    fn a_refused_occurred_is_quoted_as_written() {
        let line = r#"(v:1,id:"x",at:5,wall:5,occurred:Some(-9223372036854775808),by:"a@b",seq:1,prev:"p",kind:"Note",body:(text:"hi",tags:[]))"#;
        let want = "`occurred` -9223372036854775808 is not a time between 1970 and 9999";
        assert_eq!(parse(line).err().as_deref(), Some(want));
        assert_eq!(parse_with_ron(line).err().as_deref(), Some(want));
    }

    /// A record is held for every line of an incident: its body is as big as the biggest kind
    /// kept inline (a `Note`), not as the biggest kind; a note is its text (held, or where its
    /// line is: 24 bytes) and one pointer to its shared tags (see [`Tags`]), and the body's kind
    /// fits in the spare values of the text's own tag.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_body_is_as_small_as_a_note() {
        use std::mem::size_of;
        assert_eq!(size_of::<NoteText>(), 24);
        assert_eq!(size_of::<Note>(), size_of::<NoteText>() + size_of::<Tags>());
        assert_eq!(size_of::<Body>(), size_of::<Note>(), "{}", size_of::<Body>());
    }

    /// The fold holds every record in an arena (see `domain::record_store`), at its own size:
    /// each 8 bytes is 8 MB at a million records. `Occurred` keeps `occurred` in 8 bytes, and
    /// `by` is read from the log's name.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_record_is_104_bytes() {
        assert_eq!(std::mem::size_of::<Occurred>(), 8);
        assert!(std::mem::size_of::<Event>() <= 104, "{}", std::mem::size_of::<Event>());
    }

    #[test]
    fn occurred_keeps_every_time_a_record_may_carry() {
        for t in [0, 1, 1_764_151_200_000, MAX_TIME, -1, i64::MIN + 1, i64::MAX] {
            assert_eq!(Occurred::new(Some(t)).get(), Some(t));
        }
        assert_eq!(Occurred::new(None).get(), None);
        assert_eq!(Occurred::default(), Occurred::NONE);
        assert_eq!(format!("{:?}", Occurred::new(Some(5))), "Some(5)");
    }

    #[test]
    fn refuses_garbage_and_oversize() {
        assert!(parse("hello").is_err());
        assert!(
            parse(r#"(v:1,id:"x",at:5,wall:5,occurred:None,by:"a@b",seq:1,prev:"p",kind:"Note",body:(tags:[]))"#)
                .is_err()
        );
        let e = note(&"x".repeat(MAX_LINE));
        assert!(matches!(encode(&e, &"ab".into()), Err(EncodeError::TooLong(_))));
    }
}
