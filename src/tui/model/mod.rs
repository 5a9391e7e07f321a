//! The console's state and its reducer: `update(&mut Model, Msg) -> Vec<Effect>`. Pure: no IO, no
//! terminal, no clock (time arrives in messages). Every write is an effect that goes through the
//! store and comes back through the reader, exactly like a teammate's.

use std::collections::{BTreeMap, BTreeSet};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui_textarea::TextArea;

use super::input::{self, KeyClock, Verdict};
use super::keymap::{Action, Context, Key, Keymap};
use crate::domain::event::*;
use crate::domain::identity::person_of;
use crate::domain::playbook::{Audience, Playbook, COMMANDER};
use crate::domain::time::Millis;
use crate::domain::{IncidentState, Phase, Problem};
use crate::exercise::local::{EvaluatorNote, FacilitatorState};
use crate::exercise::scheduler;
use crate::store::incident::{Update, View};
use crate::store::writer::Draft;

mod board;
mod confirm;
mod declare;
mod detail;
mod editor;
mod facilitator;
mod followups;
mod incident;
mod jump;
mod loading;
mod picker;
mod sync;
pub mod texts;
pub mod timeline;

pub use board::*;
pub use confirm::*;
pub use declare::*;
use detail::*;
pub use editor::*;
mod exec;
pub use exec::ExecSetup;
use exec::*;
use facilitator::*;
pub use facilitator::{next_speed, released, speed_settled, upcoming, SPEED_SETTLE_MS};
pub use followups::*;
pub use incident::*;
use loading::{drop_read_back, finish_read, refuses_while_reading, wants_fresh};
pub use loading::{reading_text, Loading};
pub use picker::*;

/// Failed writes are retried this often.
pub const RETRY_MS: Millis = 5_000;
/// Drafts are saved once typing pauses this long.
pub const DRAFT_PAUSE_MS: Millis = 1_000;

#[derive(Debug, Clone, PartialEq)]
pub enum PendingState {
    InFlight,
    /// On disk; shown as committed once these events come back through the reader.
    Written(Vec<String>),
    Failed {
        error: String,
        at: Millis,
    },
}

#[derive(Debug, Clone)]
pub struct Pending {
    pub token: u64,
    pub incident: String,
    pub drafts: Vec<Draft>,
    pub label: String,
    pub state: PendingState,
}

pub enum Overlay {
    Help {
        scroll: usize,
    },
    Problems {
        scroll: usize,
    },
    Editor(Box<Editor>),
    Picker(Picker),
    Confirm(Confirm),
    Declare(DeclareForm),
    /// The whole of what the cursor is on: a timeline event, a checklist item or an action
    /// (scrolled with `dialog_scroll`).
    Detail,
    /// The log of recent footer messages, newest last.
    Messages {
        scroll: usize,
    },
    /// Every deadline of the playbook and where its clock stands.
    Clocks {
        scroll: usize,
    },
    /// The follow-ups, one selected: `d` done, `c` cancelled, `o` open again.
    FollowUps {
        sel: usize,
    },
    /// The post-incident review's fields, one selected: `Enter` edits its answer.
    Review {
        sel: usize,
    },
}

/// How many footer messages the log keeps.
pub const MESSAGE_LOG: usize = 100;

#[derive(Debug, Clone, PartialEq)]
pub struct Flash {
    pub text: String,
    pub error: bool,
    pub at: Millis,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WatchInfo {
    pub mode: String,
    pub last_reconcile: Millis,
}

/// Messages into the reducer.
pub enum Msg {
    /// Keys read from the terminal together, and when they arrived (ms on a monotonic clock):
    /// the timing tells a person's keys from a paste that came without bracketed-paste markers.
    Keys {
        keys: Vec<KeyEvent>,
        at: Millis,
    },
    Paste(String),
    Tick(Millis),
    /// The terminal's size (at start and on every change): dialogs scroll by its pages.
    Resize {
        width: u16,
        height: u16,
    },
    /// A command was copied (OSC 52) and saved to this file, or could not be saved.
    Copied {
        what: String,
        saved: Result<String, String>,
    },
    Board(Vec<BoardRow>),
    /// Odd entries in the shared root (symlinks, stray folders), shown with `!` on the board.
    BoardProblems(Vec<Problem>),
    /// Records of the open incident read ahead of the update that ends their read (a first
    /// open, or any long stretch of new records), at most `worker::FOLD_BATCH` a part: taken
    /// as they come, between looks at the keyboard (see `loading`). `reset`: the view is
    /// dropped first (everything is being read again from the start).
    IncidentPart {
        id: String,
        events: Vec<Event>,
        reset: bool,
        /// What the worker read ahead of the records (claim, playbooks), with a read's first part.
        ahead: Option<Box<Update>>,
        /// Dropped with the message, once the part is taken: the worker sends the next ones
        /// only while few wait (see `part_gate`).
        ticket: crate::tui::part_gate::PartTicket,
    },
    Incident {
        id: String,
        update: Update,
    },
    /// Notes' texts read back from their logs, as `Effect::ReadTexts` asked (or why not).
    TextsRead {
        incident: String,
        /// (log, place, text or why not), as asked.
        texts: Vec<(String, TextAt, Result<Box<str>, String>)>,
    },
    /// Notes' texts of log `log` (seq, place, text), to put back into the records that left
    /// them there (`Effect::HoldTexts`); `done`: the last of them was sent.
    TextsHeld {
        incident: String,
        log: String,
        texts: Vec<crate::store::note_text::PlacedText>,
        done: bool,
    },
    Written {
        token: u64,
        result: Result<Vec<String>, String>,
    },
    Declared {
        result: Result<String, String>,
    },
    Watch(WatchInfo),
    DraftLoaded {
        incident: String,
        text: String,
    },
    /// A status update closed unsent in an earlier session, for this audience.
    StatusDraftLoaded {
        incident: String,
        audience: Audience,
        text: String,
    },
    /// SIGHUP, SIGTERM, SIGINT and the like (or the terminal went away): save what is typed,
    /// then quit.
    Hangup,
    /// Something the shell could not do, to show.
    Failed(String),
    /// A command run from the console ended: `Ok((success, summary))`, or why it did not run.
    Ran {
        action: String,
        result: Result<(bool, String), String>,
    },
    /// The store thread died: nothing more is read or written, so the console must end.
    StoreDied(String),
    /// A sync round of this console ended at `at` (ms), with its error if it failed and what it
    /// reported on the way (files it would not commit).
    Synced {
        at: Millis,
        error: Option<String>,
        warnings: Vec<String>,
    },
    /// The sync status file of this install for this directory (what a `warroom sync` run beside
    /// the console last recorded), read every few seconds when the console runs no rounds.
    SyncStatus(Option<crate::sync::status::Status>),
}

/// What the shell must do.
#[derive(Debug, Clone)]
pub enum Effect {
    Open(String),
    Close,
    Write {
        token: u64,
        incident: String,
        drafts: Vec<Draft>,
    },
    Declare {
        playbook: String,
        title: String,
        severity: u8,
    },
    SaveDraft {
        incident: String,
        text: String,
    },
    /// The status update to this audience closed unsent (empty: none kept).
    SaveStatusDraft {
        incident: String,
        audience: Audience,
        text: String,
    },
    /// Put this text on the clipboard (OSC 52) and save it to a file in the state directory
    /// (the fallback where the terminal does not pass OSC 52 on).
    Copy {
        what: String,
        name: String,
        text: String,
    },
    /// Skips and evaluator notes stay in the local state directory.
    SaveFacilitator(Box<FacilitatorState>),
    /// Run a confirmed command (on a thread of its own; [`Msg::Ran`] says how it ended).
    Exec(Box<crate::domain::exec_policy::Plan>),
    /// Read back these notes' texts, left in their logs (log id, place): [`Msg::TextsRead`].
    ReadTexts {
        incident: String,
        want: Vec<(String, TextAt)>,
    },
    /// Hold every note's text of this incident (a search is applied): the worker sends every
    /// text left in the logs back ([`Msg::TextsHeld`]).
    HoldTexts(String),
    Quit,
}

pub struct Model {
    pub me: String,
    pub person: String,
    pub observer: bool,
    pub now: Millis,
    pub keymap: Keymap,
    pub store_desc: String,
    pub board: Vec<BoardRow>,
    /// The board's first pass over the directory has ended (until then an empty board says the
    /// directory is being read, not that it holds no incident).
    pub board_listed: bool,
    pub board_sel: usize,
    pub board_filter: BoardFilter,
    pub board_problems: Vec<Problem>,
    pub incident: Option<IncidentModel>,
    pub overlay: Option<Overlay>,
    pub flash: Option<Flash>,
    pub watch: WatchInfo,
    pub pending: Vec<Pending>,
    pub next_token: u64,
    /// Playbooks offered when declaring: (id, title).
    pub playbooks: Vec<(String, String)>,
    /// The library's version of each playbook id (to flag incidents on an older one).
    pub library_versions: BTreeMap<String, String>,
    pub declare_form: Option<DeclareForm>,
    pub draft_dirty_at: Option<Millis>,
    /// The facilitator's private half of an exercise (scenario, skips, evaluator notes).
    pub facilitator: Option<FacilitatorState>,
    pub inject_sel: usize,
    /// Injects whose release is on its way to the store (never sent twice).
    pub releasing: BTreeSet<String>,
    /// Why the console had to end, printed once the terminal is restored.
    pub fatal: Option<String>,
    /// What the user should know on the way out (a note kept as a draft), printed once the
    /// terminal is restored.
    pub farewell: Option<String>,
    /// The timing of keys, to tell a person from a paste.
    pub keys: KeyClock,
    pub quit: bool,
    /// Every footer message of this session (at most `MESSAGE_LOG`), for `M`.
    pub messages: Vec<Flash>,
    /// The terminal's size, so a dialog scrolls by its pages and never past its end.
    pub size: (u16, u16),
    /// How far the confirmation or detail on screen is scrolled.
    pub dialog_scroll: usize,
    /// The file the last copied command was saved to: `(what was copied, path)`, shown in the
    /// action's detail whole.
    pub saved_copy: Option<(String, String)>,
    /// `warroom demo` runs this console: its DEMO incident is listed under Active.
    pub demo: bool,
    /// The last jump key's target and what it was (`item:ID`, `action:ID`): its footer message is
    /// cleared once the user acts again or that target no longer qualifies.
    pub jumped: Option<(Action, String)>,
    /// `exercise run --resume`: on the first look at the loaded exercise, injects already due are
    /// held (`held`) for the facilitator to release one at a time.
    pub hold_overdue: bool,
    /// Overdue injects found on resume, released only by the facilitator's key.
    pub held: BTreeSet<String>,
    /// A speed change not recorded yet, and when it was last pressed: presses within about a
    /// second make one `Speed` record.
    pub pending_speed: Option<(f64, Millis)>,
    /// What the facilitator pane lists.
    pub fac_view: FacView,
    /// May commands run here, and from which playbooks.
    pub exec: ExecSetup,
    /// The action whose command is running now (one at a time).
    pub running: Option<String>,
    /// This console's own sync rounds (`--sync-every`), when it runs them.
    pub sync: Option<crate::sync::status::Live>,
}

/// What the facilitator pane lists (`v` cycles).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FacView {
    Upcoming,
    Released,
    Objectives,
}

impl Model {
    pub fn new(me: &str, keymap: Keymap, store_desc: &str, now: Millis) -> Model {
        Model {
            me: me.to_string(),
            person: person_of(me),
            observer: false,
            now,
            keymap,
            store_desc: store_desc.to_string(),
            board: Vec::new(),
            board_listed: false,
            board_sel: 0,
            board_filter: BoardFilter::Active,
            board_problems: Vec::new(),
            incident: None,
            overlay: None,
            flash: None,
            watch: WatchInfo {
                mode: "starting".into(),
                last_reconcile: now,
            },
            pending: Vec::new(),
            next_token: 1,
            playbooks: Vec::new(),
            library_versions: BTreeMap::new(),
            declare_form: None,
            draft_dirty_at: None,
            facilitator: None,
            inject_sel: 0,
            releasing: BTreeSet::new(),
            fatal: None,
            farewell: None,
            keys: KeyClock::default(),
            quit: false,
            messages: Vec::new(),
            size: (80, 24),
            dialog_scroll: 0,
            saved_copy: None,
            demo: false,
            jumped: None,
            hold_overdue: false,
            held: BTreeSet::new(),
            pending_speed: None,
            fac_view: FacView::Upcoming,
            exec: ExecSetup::default(),
            running: None,
            sync: None,
        }
    }

    /// The moment the screen shows: the replay cursor while replaying, else now.
    pub fn view_now(&self) -> Millis {
        self.incident.as_ref().and_then(|i| i.replay_at()).unwrap_or(self.now)
    }

    pub fn visible_rows(&self) -> Vec<&BoardRow> {
        self.board
            .iter()
            .filter(|r| self.board_filter.shows(r, self.demo))
            .collect()
    }

    pub fn contexts(&self) -> Vec<Context> {
        match &self.incident {
            None => vec![Context::Board],
            Some(i) => vec![i.focus.context(), Context::Incident],
        }
    }

    /// Whether the footer and help offer `a` here: no writes in observer mode or replay (one
    /// rule, `Action::writes`), no exercise-clock or inject keys once the exercise has ended.
    pub fn offers(&self, a: Action) -> bool {
        let replay = self.incident.as_ref().is_some_and(|i| i.replay.is_some());
        if (self.observer || replay) && a.writes() {
            return false;
        }
        if a.writes()
            && self
                .incident
                .as_ref()
                .is_some_and(|i| refuses_while_reading(i, a == Action::Note).is_some())
        {
            return false;
        }
        let ended = self
            .incident
            .as_ref()
            .and_then(|i| i.state().derived.exercise_clock)
            .is_some_and(|c| c.ended);
        !(ended && a.exercise_clock())
    }

    /// Say something in the footer; it is kept in the message log too (`M`).
    pub fn flash(&mut self, text: impl Into<String>, error: bool) {
        let f = Flash {
            text: text.into(),
            error,
            at: self.now,
        };
        if self.messages.len() >= MESSAGE_LOG {
            self.messages.remove(0);
        }
        self.messages.push(f.clone());
        self.flash = Some(f);
        self.jumped = None;
    }
}

pub fn update(m: &mut Model, msg: Msg) -> Vec<Effect> {
    let mut fx = update_with(m, msg);
    fx.extend(texts::wanted(m));
    fx
}

fn update_with(m: &mut Model, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Tick(now) => tick(m, now),
        Msg::Resize { width, height } => {
            m.size = (width, height);
            Vec::new()
        }
        Msg::Copied { what, saved } => {
            match saved {
                Ok(path) => {
                    // The path first: it is what the user came for.
                    m.flash(
                        format!(
                            "saved to {path} — {what}, also copied to the clipboard (where the terminal allows OSC 52)"
                        ),
                        false,
                    );
                    m.saved_copy = Some((what, path));
                }
                Err(e) => m.flash(
                    format!("{e} — {what} copied with OSC 52 only; the file could not be saved"),
                    true,
                ),
            }
            Vec::new()
        }
        Msg::BoardProblems(p) => {
            m.board_problems = p;
            Vec::new()
        }
        Msg::Board(rows) => {
            m.board = rows;
            m.board_listed = true;
            let n = m.visible_rows().len();
            m.board_sel = m.board_sel.min(n.saturating_sub(1));
            Vec::new()
        }
        Msg::IncidentPart {
            id,
            events,
            reset,
            ahead,
            ticket: _,
        } => {
            if let Some(inc) = m.incident.as_mut().filter(|i| i.id == id) {
                let place = Place::of(inc);
                let want = wants_fresh(inc.replay.is_none() && inc.timeline.anchor.is_some(), &m.pending);
                let fresh = inc.take_part(events, reset, ahead, want);
                match inc.replay.as_ref() {
                    Some(r) => drop_read_back(&mut m.pending, &r.live.state, &fresh),
                    None => {
                        place.keep(inc, &fresh);
                        drop_read_back(&mut m.pending, &inc.view.state, &fresh);
                    }
                }
            }
            Vec::new()
        }
        Msg::Incident { id, update } => {
            if let Some(inc) = m.incident.as_mut().filter(|i| i.id == id) {
                inc.answered = true;
                let loading = inc.loading.take();
                if let Some(r) = inc.replay.as_mut() {
                    // Replaying: the live view takes the update; the replay stays where it is.
                    let want = wants_fresh(false, &m.pending);
                    let fresh = finish_read(&mut r.live, update, loading, want);
                    drop_read_back(&mut m.pending, &r.live.state, &fresh);
                    r.steps = crate::domain::replay::steps(&r.live.state);
                    r.cursor = r.cursor.min(r.steps.len().saturating_sub(1));
                    return Vec::new();
                }
                let place = Place::of(inc);
                let want = wants_fresh(inc.timeline.anchor.is_some(), &m.pending);
                let fresh = finish_read(&mut inc.view, update, loading, want);
                place.keep(inc, &fresh);
                drop_read_back(&mut m.pending, &inc.view.state, &fresh);
                if inc.tab_follows_phase {
                    inc.phase_tab = inc.state().phase();
                }
                clamp(inc);
                // A jump's message goes once its target is done (approved, ticked, reassigned).
                if !jump::still_points(m) {
                    m.jumped = None;
                    m.flash = None;
                }
            }
            Vec::new()
        }
        Msg::TextsRead { incident, texts } => {
            if let Some(inc) = m.incident.as_mut().filter(|i| i.id == incident) {
                inc.texts.took(texts, m.now);
            }
            Vec::new()
        }
        Msg::TextsHeld {
            incident,
            log,
            texts,
            done,
        } => {
            if let Some(inc) = m.incident.as_mut().filter(|i| i.id == incident) {
                texts::hold(inc, &log, texts, done, m.now);
            }
            Vec::new()
        }
        Msg::Written { token, result } => {
            let now = m.now;
            let mut note = None;
            if let Some(p) = m.pending.iter_mut().find(|p| p.token == token) {
                p.state = match result {
                    Ok(ids) => PendingState::Written(ids),
                    Err(error) => {
                        note = Some(format!(
                            "{error} — not saved; kept and retried every 5 s (r retries now)"
                        ));
                        PendingState::Failed { error, at: now }
                    }
                };
            }
            if let Some(n) = note {
                m.flash(n, true);
                return Vec::new();
            }
            // `q` asked only because this write was on its way: it landed, so do what was asked.
            if matches!(m.overlay, Some(Overlay::Confirm(Confirm::Quit { .. }))) {
                m.overlay = None;
                return ask_or_quit(m);
            }
            Vec::new()
        }
        Msg::Declared { result } => match result {
            Ok(id) => {
                m.flash(format!("declared {id}"), false);
                open(m, &id)
            }
            Err(e) => {
                m.flash(format!("could not declare: {e}"), true);
                Vec::new()
            }
        },
        Msg::Watch(w) => {
            m.watch = w;
            Vec::new()
        }
        Msg::Synced { at, error, warnings } => {
            sync::synced(m, at, error, warnings);
            Vec::new()
        }
        Msg::SyncStatus(st) => {
            sync::status_file(m, st);
            Vec::new()
        }
        Msg::StatusDraftLoaded {
            incident,
            audience,
            text,
        } => {
            if let Some(inc) = m.incident.as_mut().filter(|i| i.id == incident) {
                if !text.trim().is_empty() {
                    inc.status_drafts.entry(audience).or_insert(text);
                }
            }
            Vec::new()
        }
        Msg::DraftLoaded { incident, text } => {
            if let Some(inc) = m.incident.as_mut().filter(|i| i.id == incident) {
                if !text.trim().is_empty() {
                    inc.draft = text;
                    m.flash("your unsent note draft was restored — press n to continue it", false);
                }
            }
            Vec::new()
        }
        Msg::Hangup => {
            let mut fx = flush_speed(m);
            fx.extend(save_editor_draft(m));
            fx.extend(save_failed_writes(m));
            fx.push(Effect::Quit);
            m.quit = true;
            m.farewell = draft_farewell(m, &fx);
            fx
        }
        Msg::Failed(text) => {
            m.flash(text, true);
            Vec::new()
        }
        Msg::Ran { action, result } => ran(m, action, result),
        Msg::StoreDied(what) => {
            let mut fx = save_editor_draft(m);
            fx.extend(save_failed_writes(m));
            m.fatal = Some(format!("the store thread stopped ({what}); restart warroom"));
            m.quit = true;
            fx.push(Effect::Quit);
            fx
        }
        Msg::Paste(text) => paste(m, text),
        Msg::Keys { keys, at } => keys_in(m, keys, at),
    }
}

/// Keys read together: a paste if they came machine-fast, else each key in turn. A dialog that a
/// key opens remembers when, so a confirming key from the same burst or too soon is refused.
fn keys_in(m: &mut Model, keys: Vec<KeyEvent>, at: Millis) -> Vec<Effect> {
    if m.keys.arrive(&keys, at) == Verdict::Paste {
        return unbracketed_paste(m, &keys);
    }
    let mut fx = Vec::new();
    for k in keys {
        let before = dialog_id(&m.overlay);
        fx.extend(key(m, k));
        let after = dialog_id(&m.overlay);
        if after.is_some() && after != before {
            m.keys.dialog_opened();
            m.dialog_scroll = 0;
        }
        if m.quit {
            break;
        }
    }
    fx
}

/// Which dialog is on screen (a picker that leads to the next one counts as a new dialog).
fn dialog_id(o: &Option<Overlay>) -> Option<(u8, Option<PickPurpose>)> {
    Some(match o.as_ref()? {
        Overlay::Help { .. } => (0, None),
        Overlay::Problems { .. } => (1, None),
        Overlay::Editor(_) => (2, None),
        Overlay::Picker(p) => (3, Some(p.purpose.clone())),
        Overlay::Confirm(_) => (4, None),
        Overlay::Declare(_) => (5, None),
        Overlay::Detail => (6, None),
        Overlay::Messages { .. } => (7, None),
        Overlay::Clocks { .. } => (8, None),
        Overlay::FollowUps { .. } => (9, None),
        Overlay::Review { .. } => (10, None),
    })
}

/// A paste that came as keys: text in a text field, as if bracketed; anywhere else nothing is
/// written or confirmed, and the user is told.
fn unbracketed_paste(m: &mut Model, keys: &[KeyEvent]) -> Vec<Effect> {
    if matches!(m.overlay, Some(Overlay::Editor(_))) {
        return paste(m, input::burst_text(keys));
    }
    // `/`, a search term and Enter in one burst (ssh batches keystrokes): the search, as typed
    // slowly. Searching writes nothing, so a pasted path starting with `/` costs nothing.
    if m.overlay.is_none() && m.incident.is_some() {
        let text = input::burst_text(keys);
        if let (Some(rest), Some(slash)) = (text.strip_prefix('/'), keys.first()) {
            let mut fx = key(m, *slash);
            if matches!(&m.overlay, Some(Overlay::Editor(ed)) if ed.purpose == EditorPurpose::Search) {
                fx.extend(paste(m, rest.to_string()));
                return fx;
            }
        }
    }
    // A dialog the first keys of this paste opened (keys arriving one by one) closes again.
    if !matches!(m.overlay, Some(Overlay::Help { .. } | Overlay::Problems { .. })) && m.keys.opened_recently() {
        m.overlay = None;
    }
    let n = m.keys.pasted;
    ignored_paste(m, n)
}

/// A paste (bracketed or told by its speed) where no text field takes it: dropped, and said so.
fn ignored_paste(m: &mut Model, chars: usize) -> Vec<Effect> {
    let hint = if m.incident.is_some() && !m.observer {
        " — press n to write a note"
    } else {
        ""
    };
    m.flash(
        format!("ignored a {chars}-character paste outside a text field{hint}"),
        true,
    );
    Vec::new()
}

/// A confirming key that came too soon is refused, and the user told why.
fn confirm_too_soon(m: &mut Model, key: &str) -> bool {
    if m.keys.too_soon() {
        m.flash(
            format!("{key} ignored: too soon after this dialog opened — read it, then press {key}"),
            true,
        );
        return true;
    }
    false
}

fn tick(m: &mut Model, now: Millis) -> Vec<Effect> {
    m.now = now;
    let mut fx = Vec::new();
    if m.flash
        .as_ref()
        .is_some_and(|f| now - f.at > if f.error { 15_000 } else { 6_000 })
    {
        m.flash = None;
    }
    for p in &mut m.pending {
        if let PendingState::Failed { at, .. } = p.state {
            if now - at >= RETRY_MS {
                p.state = PendingState::InFlight;
                fx.push(Effect::Write {
                    token: p.token,
                    incident: p.incident.clone(),
                    drafts: p.drafts.clone(),
                });
            }
        }
    }
    if speed_settled(m.pending_speed, now) {
        fx.extend(flush_speed(m));
    }
    fx.extend(release_due(m));
    if m.draft_dirty_at.is_some_and(|t| now - t >= DRAFT_PAUSE_MS) {
        m.draft_dirty_at = None;
        fx.extend(save_editor_draft(m));
    }
    fx
}

/// The note (or status update) being typed, saved so an SSH drop loses nothing.
fn save_editor_draft(m: &mut Model) -> Vec<Effect> {
    let Some(inc) = &mut m.incident else {
        return Vec::new();
    };
    let mut fx = Vec::new();
    if let Some(Overlay::Editor(ed)) = &m.overlay {
        if ed.purpose == EditorPurpose::Note {
            inc.draft = ed.text();
        }
        if let EditorPurpose::Status(audience) = ed.purpose {
            fx.push(keep_status_draft(inc, audience, ed));
        }
    }
    fx.push(Effect::SaveDraft {
        incident: inc.id.clone(),
        text: inc.draft.clone(),
    });
    fx
}

/// Keep the status update being closed as this audience's draft — unless it is the template as
/// it was filled in (nothing was written: next time the template is filled in afresh) or empty.
pub(super) fn keep_status_draft(inc: &mut IncidentModel, audience: Audience, ed: &Editor) -> Effect {
    let text = ed.text();
    let untouched = ed.template.as_deref().is_some_and(|t| t.trim_end() == text.trim_end());
    if text.trim().is_empty() || untouched {
        inc.status_drafts.remove(&audience);
    } else {
        inc.status_drafts.insert(audience, text.clone());
    }
    Effect::SaveStatusDraft {
        incident: inc.id.clone(),
        audience,
        text: inc.status_drafts.get(&audience).cloned().unwrap_or_default(),
    }
}

/// On the way out, writes that never landed go into the draft file rather than vanish.
fn save_failed_writes(m: &mut Model) -> Vec<Effect> {
    let mut fx = save_failed_status_updates(m);
    fx.extend(save_failed_notes(m));
    fx
}

/// A status update that never landed becomes its audience's draft (unless one is kept already).
fn save_failed_status_updates(m: &mut Model) -> Vec<Effect> {
    let Some(inc) = &mut m.incident else {
        return Vec::new();
    };
    let unsent: Vec<(Audience, String)> = m
        .pending
        .iter()
        .filter(|p| p.incident == inc.id && !matches!(p.state, PendingState::Written(_)))
        .flat_map(|p| p.drafts.iter())
        .filter_map(|d| match &d.body {
            Body::StatusUpdate(u) => Some((u.audience, u.text.clone())),
            _ => None,
        })
        .collect();
    let mut fx = Vec::new();
    for (audience, text) in unsent {
        if inc.status_drafts.get(&audience).is_some_and(|d| !d.trim().is_empty()) {
            continue;
        }
        inc.status_drafts.insert(audience, text.clone());
        fx.push(Effect::SaveStatusDraft {
            incident: inc.id.clone(),
            audience,
            text,
        });
    }
    fx
}

fn save_failed_notes(m: &mut Model) -> Vec<Effect> {
    let Some(inc) = &m.incident else {
        return Vec::new();
    };
    let unsent: Vec<String> = m
        .pending
        .iter()
        .filter(|p| p.incident == inc.id && !matches!(p.state, PendingState::Written(_)))
        .flat_map(|p| p.drafts.iter())
        .filter_map(|d| match &d.body {
            Body::Note(n) => Some(n.text.shown().to_string()),
            _ => None,
        })
        .collect();
    if unsent.is_empty() {
        return Vec::new();
    }
    let mut text = inc.draft.clone();
    for u in unsent {
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        text.push_str(&u);
    }
    vec![Effect::SaveDraft {
        incident: inc.id.clone(),
        text,
    }]
}

fn paste(m: &mut Model, text: String) -> Vec<Effect> {
    // What is pasted is what is shown and sent: escape sequences (a terminal's title, colours)
    // go whole, as every reader's screen drops them, not leaving `]0;…` in the editor.
    let text = crate::domain::sanitize::sanitize_multiline(&text);
    // A paste is text, never keys: a `q` inside a pasted log must not quit.
    // One line and its Enter, into the search field: typed in one burst (ssh batches keys, and
    // three keys within 10 ms read as a paste) or pasted, it is a search, applied.
    if let Some(Overlay::Editor(ed)) = &m.overlay {
        let line = text.strip_suffix('\n').map(|t| t.strip_suffix('\r').unwrap_or(t));
        if let Some(line) = line.filter(|l| ed.purpose == EditorPurpose::Search && !l.contains(['\r', '\n'])) {
            if let Some(Overlay::Editor(mut ed)) = m.overlay.take() {
                ed.area.insert_str(line);
                return submit_editor(m, ed);
            }
        }
    }
    match &mut m.overlay {
        Some(Overlay::Editor(ed)) => {
            if ed.single_line() {
                ed.area.insert_str(text.replace('\n', " "));
            } else {
                ed.area.insert_str(&text);
            }
            m.draft_dirty_at = Some(m.now);
            Vec::new()
        }
        None if m.incident.is_some() && m.observer => {
            m.flash("observer mode: read-only — the paste was not kept", true);
            Vec::new()
        }
        None if m.incident.is_some() => {
            let draft = m.incident.as_ref().map(|i| i.draft.clone()).unwrap_or_default();
            let mut ed = Editor::new(EditorPurpose::Note, &draft);
            ed.area.insert_str(&text);
            m.overlay = Some(Overlay::Editor(ed));
            m.draft_dirty_at = Some(m.now);
            Vec::new()
        }
        // The board, or a dialog over the incident: the same as a paste told by its speed.
        _ => ignored_paste(m, text.chars().count()),
    }
}

fn open(m: &mut Model, id: &str) -> Vec<Effect> {
    let mut inc = IncidentModel::new(id);
    inc.timeline.condense_clock = m.facilitator.is_none();
    m.incident = Some(inc);
    m.overlay = None;
    vec![Effect::Open(id.to_string())]
}

/// Ask the store to write; the result comes back as `Msg::Written`, the event through the reader.
fn write(m: &mut Model, label: impl Into<String>, bodies: Vec<Body>) -> Vec<Effect> {
    let Some(inc) = &m.incident else {
        return Vec::new();
    };
    if m.observer {
        m.flash("observer mode: read-only", true);
        return Vec::new();
    }
    if inc.replay.is_some() {
        m.flash("replay is read-only: Esc returns to the live incident", true);
        return Vec::new();
    }
    // The last guard, also for a dialog opened before a read started again from the start.
    if let Some(why) = refuses_while_reading(inc, bodies.iter().all(|b| matches!(b, Body::Note(_)))) {
        m.flash(why, true);
        return Vec::new();
    }
    for b in &bodies {
        if let Err(v) = inc.state().check(b, &m.me, m.now) {
            m.flash(format!("{v} (refused)"), true);
            return Vec::new();
        }
    }
    let token = m.next_token;
    m.next_token += 1;
    let drafts: Vec<Draft> = bodies.into_iter().map(Draft::new).collect();
    m.pending.push(Pending {
        token,
        incident: inc.id.clone(),
        drafts: drafts.clone(),
        label: label.into(),
        state: PendingState::InFlight,
    });
    vec![Effect::Write {
        token,
        incident: inc.id.clone(),
        drafts,
    }]
}

fn key(m: &mut Model, k: KeyEvent) -> Vec<Effect> {
    if k.kind == crossterm::event::KeyEventKind::Release {
        return Vec::new();
    }
    // A refusal has been read once the user acts again: do not let it linger over later work.
    // Nor does where a jump key went (it would point at the wrong thing after the next action).
    if m.flash.as_ref().is_some_and(|f| f.error) || m.jumped.take().is_some() {
        m.flash = None;
    }
    // Ctrl+C in a dialog or text field, where the keymap is not consulted: what a terminal user
    // presses to leave. On a screen the keymap decides (Ctrl+c quits by default).
    if m.overlay.is_some() && k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL) {
        return interrupt(m);
    }
    match m.overlay.take() {
        Some(Overlay::Editor(ed)) => return editor_key(m, ed, k),
        Some(Overlay::Picker(p)) => return picker_key(m, p, k),
        Some(Overlay::Confirm(c)) => return confirm_key(m, c, k),
        Some(Overlay::Declare(f)) => return declare_key(m, f, k),
        Some(Overlay::FollowUps { sel }) => return follow_ups_key(m, sel, k),
        Some(Overlay::Review { sel }) => return review_key(m, sel, k),
        Some(
            o @ (Overlay::Help { .. }
            | Overlay::Problems { .. }
            | Overlay::Messages { .. }
            | Overlay::Clocks { .. }
            | Overlay::Detail),
        ) => return reader_key(m, o, k),
        None => {}
    }
    let Some(action) = m.keymap.lookup(&m.contexts(), Key::from_event(&k)) else {
        // Enter shows the whole of what the cursor is on: an event, an item, an action.
        if k.code == KeyCode::Enter && m.incident.is_some() {
            m.overlay = Some(Overlay::Detail);
            let area = ratatui::layout::Rect::new(0, 0, m.size.0, m.size.1);
            if crate::tui::view::dialogs::dialog_of(m, area, &crate::tui::theme::Theme::mono()).is_none() {
                m.overlay = None;
            }
        }
        return Vec::new();
    };
    // Observer mode refuses a write at once, before any editor or dialog opens.
    if m.observer && action.writes() {
        m.flash("observer mode: read-only", true);
        return Vec::new();
    }
    // So does a long read in progress, for anything but a note (see `refuses_while_reading`).
    if action.writes() {
        if let Some(why) = m
            .incident
            .as_ref()
            .and_then(|i| refuses_while_reading(i, action == Action::Note))
        {
            m.flash(why, true);
            return Vec::new();
        }
    }
    match action {
        Action::Help => {
            m.overlay = Some(Overlay::Help { scroll: 0 });
            Vec::new()
        }
        Action::Problems => {
            m.overlay = Some(Overlay::Problems { scroll: 0 });
            Vec::new()
        }
        Action::Messages => {
            // The newest at the bottom, in view.
            m.overlay = Some(Overlay::Messages { scroll: usize::MAX });
            let end = crate::tui::view::dialogs::max_scroll(m);
            m.overlay = Some(Overlay::Messages { scroll: end });
            Vec::new()
        }
        Action::Clocks if m.incident.is_some() => {
            m.overlay = Some(Overlay::Clocks { scroll: 0 });
            Vec::new()
        }
        _ if m.incident.is_none() => board_action(m, action),
        _ => incident_action(m, action),
    }
}

/// `q`: quit at once, unless writes are still on their way or failed (they would be lost) or a
/// command is running (it would be stopped): then ask first.
fn ask_or_quit(m: &mut Model) -> Vec<Effect> {
    let unsaved: Vec<String> = m
        .pending
        .iter()
        .filter(|p| !matches!(p.state, PendingState::Written(_)))
        .map(|p| p.label.clone())
        .collect();
    // A command still running is stopped on the way out (killed, recorded as interrupted): ask.
    let running = m.running.clone();
    if unsaved.is_empty() && running.is_none() {
        return quit(m);
    }
    m.overlay = Some(Overlay::Confirm(Confirm::Quit { unsaved, running }));
    Vec::new()
}

/// `Ctrl+C` over a dialog or text field: close it and quit as `q` does. Text in an open editor is
/// kept as its draft first (as `Esc` keeps it); unsaved writes or a running command ask first.
fn interrupt(m: &mut Model) -> Vec<Effect> {
    let mut fx = Vec::new();
    if matches!(m.overlay, Some(Overlay::Editor(_))) {
        fx = save_editor_draft(m);
    }
    m.overlay = None;
    fx.extend(ask_or_quit(m));
    fx
}

/// Quit: unsent notes go into the draft, and the user is told on the way out.
fn quit(m: &mut Model) -> Vec<Effect> {
    let mut fx = flush_speed(m);
    fx.extend(save_failed_writes(m));
    m.quit = true;
    m.farewell = draft_farewell(m, &fx);
    fx.push(Effect::Quit);
    fx
}

/// How the farewell's line about the note begins (the shell drops it when the draft did not
/// reach the disk).
pub const FAREWELL_NOTE: &str = "your unsent note";

/// "Your note is kept as a draft", when the way out leaves one (said by the shell only once
/// the draft is on disk).
fn draft_farewell(m: &Model, fx: &[Effect]) -> Option<String> {
    let inc = m.incident.as_ref()?;
    let saved = fx
        .iter()
        .any(|f| matches!(f, Effect::SaveDraft { text, .. } if !text.trim().is_empty()));
    let note = (saved || !inc.draft.trim().is_empty()).then(|| {
        format!(
            "{FAREWELL_NOTE} for {} is kept as a draft; `warroom open {}` and n continue it",
            inc.id, inc.id
        )
    });
    let audiences: Vec<&str> = inc
        .status_drafts
        .iter()
        .filter(|(_, t)| !t.trim().is_empty())
        .map(|(a, _)| a.word())
        .collect();
    let status = (!audiences.is_empty()).then(|| {
        format!(
            "your unsent status update ({}) for {} is kept; `warroom open {}` and u continue it",
            audiences.join(", "),
            inc.id,
            inc.id
        )
    });
    match (note, status) {
        (Some(n), Some(s)) => Some(format!("{n}\n{s}")),
        (n, s) => n.or(s),
    }
}
