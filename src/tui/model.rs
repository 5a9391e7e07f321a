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

/// Failed writes are retried this often.
pub const RETRY_MS: Millis = 5_000;
/// Drafts are saved once typing pauses this long.
pub const DRAFT_PAUSE_MS: Millis = 1_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowStatus {
    Active,
    Resolved,
    Archived,
    Syncing,
    Vanished,
}

/// One incident on the board.
#[derive(Debug, Clone, PartialEq)]
pub struct BoardRow {
    pub id: String,
    pub title: String,
    pub severity: Option<u8>,
    pub phase: Phase,
    pub commander: Option<String>,
    pub declared_at: Option<Millis>,
    pub last_update: Option<(Millis, String)>,
    pub mode: Option<Mode>,
    pub status: RowStatus,
    pub problems: usize,
    /// The playbook the incident runs: id and version.
    pub playbook: Option<(String, String)>,
    /// The incident this one duplicates, if it says so.
    pub duplicate_of: Option<String>,
}

impl BoardRow {
    pub fn from_view(id: &str, v: &View) -> BoardRow {
        let s = &v.state;
        let d = &s.derived;
        BoardRow {
            id: id.to_string(),
            title: s.title().to_string(),
            severity: s.severity(),
            phase: s.phase(),
            commander: s.commander().map(str::to_string),
            declared_at: s.declared_at(),
            last_update: d.last_update.clone(),
            mode: s.mode(),
            status: if v.is_syncing() {
                RowStatus::Syncing
            } else if d.archived.is_some() {
                RowStatus::Archived
            } else if s.is_resolved() {
                RowStatus::Resolved
            } else {
                RowStatus::Active
            },
            problems: v.problems().len(),
            playbook: s.playbook().map(|p| (p.id.clone(), p.version.clone())),
            duplicate_of: d.duplicate_of.as_ref().map(|r| r.value.clone()),
        }
    }

    /// The library's version of this row's playbook, if it is newer than the one the incident runs.
    pub fn newer_in_library<'a>(&self, library: &'a BTreeMap<String, String>) -> Option<&'a str> {
        let (id, version) = self.playbook.as_ref()?;
        let lib = library.get(id)?;
        (version_key(lib) > version_key(version)).then_some(lib.as_str())
    }
}

/// `1.10.0` > `1.9.2`: numeric parts compared as numbers.
pub fn version_key(v: &str) -> Vec<u64> {
    v.split(['.', '-']).map(|p| p.parse().unwrap_or(0)).collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoardFilter {
    Active,
    Exercises,
    Archived,
}

impl BoardFilter {
    pub const ALL: [BoardFilter; 3] = [BoardFilter::Active, BoardFilter::Exercises, BoardFilter::Archived];
    pub fn label(self) -> &'static str {
        match self {
            BoardFilter::Active => "Active",
            BoardFilter::Exercises => "Exercises",
            BoardFilter::Archived => "Archived",
        }
    }
    pub fn shows(self, r: &BoardRow) -> bool {
        let exercise = matches!(r.mode, Some(Mode::Exercise | Mode::Demo));
        match self {
            BoardFilter::Active => !exercise && !matches!(r.status, RowStatus::Archived),
            BoardFilter::Exercises => exercise && !matches!(r.status, RowStatus::Archived),
            BoardFilter::Archived => matches!(r.status, RowStatus::Archived),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Checklist,
    Actions,
    Facilitator,
    Timeline,
}

impl Pane {
    fn cycle(facilitating: bool) -> &'static [Pane] {
        if facilitating {
            &[Pane::Checklist, Pane::Actions, Pane::Facilitator, Pane::Timeline]
        } else {
            &[Pane::Checklist, Pane::Actions, Pane::Timeline]
        }
    }
    fn step(self, facilitating: bool, by: usize) -> Pane {
        let c = Pane::cycle(facilitating);
        let i = c.iter().position(|p| *p == self).unwrap_or(0);
        c[(i + by) % c.len()]
    }
    fn context(self) -> Context {
        match self {
            Pane::Checklist => Context::Checklist,
            Pane::Actions => Context::Actions,
            Pane::Facilitator => Context::Facilitator,
            Pane::Timeline => Context::Timeline,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KindFilter {
    All,
    Notes,
    Checklist,
    Actions,
    Comms,
    Command,
}

impl KindFilter {
    pub fn label(self) -> &'static str {
        match self {
            KindFilter::All => "all",
            KindFilter::Notes => "notes",
            KindFilter::Checklist => "checklist",
            KindFilter::Actions => "actions",
            KindFilter::Comms => "status updates",
            KindFilter::Command => "command",
        }
    }
    fn next(self) -> KindFilter {
        use KindFilter::*;
        match self {
            All => Notes,
            Notes => Checklist,
            Checklist => Actions,
            Actions => Comms,
            Comms => Command,
            Command => All,
        }
    }
    pub fn matches(self, b: &Body) -> bool {
        match self {
            KindFilter::All => true,
            KindFilter::Notes => matches!(b, Body::Note(_) | Body::InjectReleased(_)),
            KindFilter::Checklist => matches!(b, Body::ChecklistSet(_)),
            KindFilter::Actions => matches!(b, Body::ActionSet(_) | Body::ActionOutput(_)),
            KindFilter::Comms => matches!(b, Body::StatusUpdate(_)),
            KindFilter::Command => matches!(
                b,
                Body::Declared(_)
                    | Body::PhaseEntered(_)
                    | Body::SeverityChanged(_)
                    | Body::RoleAssigned(_)
                    | Body::Assigned(_)
                    | Body::Classified(_)
                    | Body::MaterialityDetermined(_)
                    | Body::Resolved(_)
                    | Body::Reopened(_)
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TimelineView {
    /// Rows scrolled back from the newest; 0 follows new events.
    pub back: usize,
    pub kind: KindFilter,
    pub author: Option<String>,
    pub search: Option<String>,
    pub local_time: bool,
}

impl TimelineView {
    pub fn shows(&self, e: &Event) -> bool {
        if matches!(e.body, Body::Heads(_)) || !self.kind.matches(&e.body) {
            return false;
        }
        if self.author.as_ref().is_some_and(|a| person_of(&e.by) != *a) {
            return false;
        }
        match &self.search {
            Some(q) if !q.is_empty() => {
                let text = crate::domain::describe::describe(e).to_lowercase();
                text.contains(&q.to_lowercase()) || e.by.contains(&q.to_lowercase())
            }
            _ => true,
        }
    }
}

/// The war-room view of one incident.
pub struct IncidentModel {
    pub id: String,
    pub view: View,
    pub focus: Pane,
    pub phase_tab: Phase,
    pub item_sel: usize,
    pub action_sel: usize,
    pub timeline: TimelineView,
    /// The saved note draft, restored into the editor.
    pub draft: String,
    /// Whether the tab followed the incident's phase until the user picked another.
    pub tab_follows_phase: bool,
}

impl IncidentModel {
    pub fn new(id: &str) -> IncidentModel {
        IncidentModel {
            id: id.to_string(),
            view: View::new(id),
            focus: Pane::Checklist,
            phase_tab: Phase::Identification,
            item_sel: 0,
            action_sel: 0,
            timeline: TimelineView {
                back: 0,
                kind: KindFilter::All,
                author: None,
                search: None,
                local_time: false,
            },
            draft: String::new(),
            tab_follows_phase: true,
        }
    }
    pub fn state(&self) -> &IncidentState {
        &self.view.state
    }
    pub fn playbook(&self) -> Option<&Playbook> {
        self.view.state.playbook()
    }
    pub fn selected_item(&self) -> Option<&crate::domain::playbook::Item> {
        self.playbook()?.phases.get(self.phase_tab).get(self.item_sel)
    }
    pub fn selected_action(&self) -> Option<&crate::domain::playbook::Action> {
        self.playbook()?.actions.get(self.action_sel)
    }
    /// People seen in this incident (authors, role holders, assignees), for pickers.
    pub fn people(&self, me: &str) -> Vec<String> {
        let s = self.state();
        let mut set: BTreeSet<String> = s.events().map(|e| person_of(&e.by)).collect();
        set.extend(s.derived.roles.values().map(|r| r.value.clone()));
        set.extend(s.derived.assignments.values().map(|r| r.value.clone()));
        set.insert(me.to_string());
        set.into_iter().collect()
    }
}

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditorPurpose {
    Note,
    Blocked,
    Status(Audience),
    FollowUp,
    Search,
    Title,
    Evaluator,
    SeverityReason(u8),
}

pub struct Editor {
    pub purpose: EditorPurpose,
    pub area: TextArea<'static>,
    /// The item a Blocked note is for.
    pub item: Option<String>,
    /// Already warned about unfilled template placeholders.
    pub warned: bool,
}

impl Editor {
    pub fn new(purpose: EditorPurpose, text: &str) -> Box<Editor> {
        let lines: Vec<String> = if text.is_empty() {
            vec![String::new()]
        } else {
            text.split('\n').map(str::to_string).collect()
        };
        let mut area = TextArea::new(lines);
        if !matches!(purpose, EditorPurpose::Search | EditorPurpose::Title) {
            area.set_wrap_mode(ratatui_textarea::WrapMode::WordOrGlyph);
        }
        area.move_cursor(ratatui_textarea::CursorMove::Bottom);
        area.move_cursor(ratatui_textarea::CursorMove::End);
        Box::new(Editor {
            purpose,
            area,
            item: None,
            warned: false,
        })
    }
    pub fn text(&self) -> String {
        self.area.lines().join("\n")
    }
    pub fn single_line(&self) -> bool {
        matches!(self.purpose, EditorPurpose::Search | EditorPurpose::Title)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum PickPurpose {
    Severity,
    Assign(Target),
    Role,
    RolePerson(String),
    StatusAudience,
    DeclarePlaybook,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Picker {
    pub title: String,
    pub options: Vec<String>,
    pub sel: usize,
    pub purpose: PickPurpose,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Confirm {
    /// Enter `phase` although these required items are open.
    Phase { phase: Phase, open: Vec<String> },
    /// Approve this containment action (its title, why and command are shown first).
    Approve { action: crate::domain::playbook::Action },
    /// Quit although these changes are not on disk yet (notes among them go into the draft).
    Quit { unsaved: Vec<String> },
}

/// The declare form: playbook, title, severity.
#[derive(Debug, Clone, PartialEq)]
pub struct DeclareForm {
    pub playbook: usize,
    pub severity: u8,
    pub title: String,
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
    /// The full text of the timeline event at the cursor.
    Detail,
}

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
    Resize,
    Board(Vec<BoardRow>),
    /// Odd entries in the shared root (symlinks, stray folders), shown with `!` on the board.
    BoardProblems(Vec<Problem>),
    Incident {
        id: String,
        update: Update,
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
    /// SIGHUP, SIGTERM, SIGINT and the like (or the terminal went away): save what is typed,
    /// then quit.
    Hangup,
    /// Something the shell could not do, to show.
    Failed(String),
    /// The store thread died: nothing more is read or written, so the console must end.
    StoreDied(String),
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
    /// Skips and evaluator notes stay in the local state directory.
    SaveFacilitator(Box<FacilitatorState>),
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
        }
    }

    pub fn visible_rows(&self) -> Vec<&BoardRow> {
        self.board.iter().filter(|r| self.board_filter.shows(r)).collect()
    }

    pub fn contexts(&self) -> Vec<Context> {
        match &self.incident {
            None => vec![Context::Board],
            Some(i) => vec![i.focus.context(), Context::Incident],
        }
    }

    fn flash(&mut self, text: impl Into<String>, error: bool) {
        self.flash = Some(Flash {
            text: text.into(),
            error,
            at: self.now,
        });
    }
}

pub fn update(m: &mut Model, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Tick(now) => tick(m, now),
        Msg::Resize => Vec::new(),
        Msg::BoardProblems(p) => {
            m.board_problems = p;
            Vec::new()
        }
        Msg::Board(rows) => {
            m.board = rows;
            let n = m.visible_rows().len();
            m.board_sel = m.board_sel.min(n.saturating_sub(1));
            Vec::new()
        }
        Msg::Incident { id, update } => {
            if let Some(inc) = m.incident.as_mut().filter(|i| i.id == id) {
                let fresh = inc.view.apply(update);
                let ids: BTreeSet<&str> = fresh
                    .iter()
                    .filter_map(|k| inc.view.state.event(k))
                    .map(|e| e.id.as_str())
                    .collect();
                // Scrolled back: stay on what the reader is looking at while new events arrive.
                if inc.timeline.back > 0 {
                    let shown = fresh
                        .iter()
                        .filter_map(|k| inc.view.state.event(k))
                        .filter(|e| inc.timeline.shows(e))
                        .count();
                    inc.timeline.back += shown;
                }
                m.pending.retain(|p| match &p.state {
                    PendingState::Written(w) => !w.iter().any(|x| ids.contains(x.as_str())),
                    _ => true,
                });
                if inc.tab_follows_phase {
                    inc.phase_tab = inc.state().phase();
                }
                clamp(inc);
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
                        note = Some(format!("not saved: {error} — kept, retrying (r to retry now)"));
                        PendingState::Failed { error, at: now }
                    }
                };
            }
            if let Some(n) = note {
                m.flash(n, true);
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
            let mut fx = save_editor_draft(m);
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
        Msg::StoreDied(what) => {
            let mut fx = save_editor_draft(m);
            fx.extend(save_failed_writes(m));
            m.fatal = Some(format!(
                "the store thread stopped ({what}); drafts were saved — restart warroom"
            ));
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
    })
}

/// A paste that came as keys: text in a text field, as if bracketed; anywhere else nothing is
/// written or confirmed, and the user is told.
fn unbracketed_paste(m: &mut Model, keys: &[KeyEvent]) -> Vec<Effect> {
    if matches!(m.overlay, Some(Overlay::Editor(_))) {
        return paste(m, input::burst_text(keys));
    }
    // A dialog the first keys of this paste opened (keys arriving one by one) closes again.
    if !matches!(m.overlay, Some(Overlay::Help { .. } | Overlay::Problems { .. })) && m.keys.opened_recently() {
        m.overlay = None;
    }
    let n = m.keys.pasted;
    let hint = if m.incident.is_some() && !m.observer {
        " — press n to write a note"
    } else {
        ""
    };
    m.flash(
        format!("ignored a {n}-character paste outside a text field{hint}"),
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
    fx.extend(release_due(m));
    if m.draft_dirty_at.is_some_and(|t| now - t >= DRAFT_PAUSE_MS) {
        m.draft_dirty_at = None;
        fx.extend(save_editor_draft(m));
    }
    fx
}

/// The note being typed, saved so an SSH drop loses nothing.
fn save_editor_draft(m: &mut Model) -> Vec<Effect> {
    let Some(inc) = &mut m.incident else {
        return Vec::new();
    };
    if let Some(Overlay::Editor(ed)) = &m.overlay {
        if ed.purpose == EditorPurpose::Note {
            inc.draft = ed.text();
        }
    }
    vec![Effect::SaveDraft {
        incident: inc.id.clone(),
        text: inc.draft.clone(),
    }]
}

/// On the way out, writes that never landed go into the draft file rather than vanish.
fn save_failed_writes(m: &mut Model) -> Vec<Effect> {
    let Some(inc) = &m.incident else {
        return Vec::new();
    };
    let unsent: Vec<String> = m
        .pending
        .iter()
        .filter(|p| p.incident == inc.id && !matches!(p.state, PendingState::Written(_)))
        .flat_map(|p| p.drafts.iter())
        .filter_map(|d| match &d.body {
            Body::Note(n) => Some(n.text.clone()),
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
    // A paste is text, never keys: a `q` inside a pasted log must not quit.
    match &mut m.overlay {
        Some(Overlay::Editor(ed)) => {
            if ed.single_line() {
                ed.area.insert_str(text.replace(['\r', '\n'], " "));
            } else {
                ed.area.insert_str(text.replace("\r\n", "\n").replace('\r', "\n"));
            }
            m.draft_dirty_at = Some(m.now);
            Vec::new()
        }
        None if m.incident.is_some() => {
            let draft = m.incident.as_ref().map(|i| i.draft.clone()).unwrap_or_default();
            let mut ed = Editor::new(EditorPurpose::Note, &draft);
            ed.area.insert_str(text.replace("\r\n", "\n").replace('\r', "\n"));
            m.overlay = Some(Overlay::Editor(ed));
            m.draft_dirty_at = Some(m.now);
            Vec::new()
        }
        _ => Vec::new(),
    }
}

fn clamp(inc: &mut IncidentModel) {
    let (items, actions) = match inc.playbook() {
        Some(p) => (p.phases.get(inc.phase_tab).len(), p.actions.len()),
        None => (0, 0),
    };
    inc.item_sel = inc.item_sel.min(items.saturating_sub(1));
    inc.action_sel = inc.action_sel.min(actions.saturating_sub(1));
}

fn open(m: &mut Model, id: &str) -> Vec<Effect> {
    m.incident = Some(IncidentModel::new(id));
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
    for b in &bodies {
        if let Err(v) = inc.state().check(b, &m.me, m.now) {
            m.flash(format!("refused: {v}"), true);
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
    if m.flash.as_ref().is_some_and(|f| f.error) {
        m.flash = None;
    }
    match m.overlay.take() {
        Some(Overlay::Editor(ed)) => return editor_key(m, ed, k),
        Some(Overlay::Picker(p)) => return picker_key(m, p, k),
        Some(Overlay::Confirm(c)) => return confirm_key(m, c, k),
        Some(Overlay::Declare(f)) => return declare_key(m, f, k),
        Some(Overlay::Help { scroll }) => {
            m.overlay = match k.code {
                KeyCode::Esc | KeyCode::Char('q' | '?') | KeyCode::Enter => None,
                KeyCode::Down | KeyCode::Char('j') | KeyCode::PageDown => Some(Overlay::Help { scroll: scroll + 1 }),
                KeyCode::Up | KeyCode::Char('k') | KeyCode::PageUp => Some(Overlay::Help {
                    scroll: scroll.saturating_sub(1),
                }),
                _ => Some(Overlay::Help { scroll }),
            };
            return Vec::new();
        }
        Some(Overlay::Problems { scroll }) => {
            m.overlay = match k.code {
                KeyCode::Esc | KeyCode::Char('q' | '!') | KeyCode::Enter => None,
                KeyCode::Down | KeyCode::Char('j') => Some(Overlay::Problems { scroll: scroll + 1 }),
                KeyCode::Up | KeyCode::Char('k') => Some(Overlay::Problems {
                    scroll: scroll.saturating_sub(1),
                }),
                _ => Some(Overlay::Problems { scroll }),
            };
            return Vec::new();
        }
        Some(Overlay::Detail) => return Vec::new(),
        None => {}
    }
    let Some(action) = m.keymap.lookup(&m.contexts(), Key::from_event(&k)) else {
        // Enter shows the whole of what the cursor is on: an event, an item, an action.
        if k.code == KeyCode::Enter && m.incident.is_some() {
            m.overlay = Some(Overlay::Detail);
        }
        return Vec::new();
    };
    match action {
        Action::Help => {
            m.overlay = Some(Overlay::Help { scroll: 0 });
            Vec::new()
        }
        Action::Problems => {
            m.overlay = Some(Overlay::Problems { scroll: 0 });
            Vec::new()
        }
        _ if m.incident.is_none() => board_action(m, action),
        _ => incident_action(m, action),
    }
}

fn board_action(m: &mut Model, a: Action) -> Vec<Effect> {
    let n = m.visible_rows().len();
    match a {
        Action::Quit => ask_or_quit(m),
        Action::Up => {
            m.board_sel = m.board_sel.saturating_sub(1);
            Vec::new()
        }
        Action::Down => {
            m.board_sel = (m.board_sel + 1).min(n.saturating_sub(1));
            Vec::new()
        }
        Action::Open => match m.visible_rows().get(m.board_sel).map(|r| r.id.clone()) {
            Some(id) => open(m, &id),
            None => Vec::new(),
        },
        Action::BoardFilter => {
            let i = BoardFilter::ALL.iter().position(|f| *f == m.board_filter).unwrap_or(0);
            m.board_filter = BoardFilter::ALL[(i + 1) % 3];
            m.board_sel = 0;
            Vec::new()
        }
        Action::Declare => {
            if m.observer {
                m.flash("observer mode: read-only", true);
            } else if m.playbooks.is_empty() {
                m.flash("no playbooks found; see `warroom playbook list`", true);
            } else {
                // The title first (what people type right away), then playbook and severity.
                m.declare_form = Some(DeclareForm {
                    playbook: 0,
                    severity: 2,
                    title: String::new(),
                });
                m.overlay = Some(Overlay::Editor(Editor::new(EditorPurpose::Title, "")));
            }
            Vec::new()
        }
        _ => Vec::new(),
    }
}

fn incident_action(m: &mut Model, a: Action) -> Vec<Effect> {
    let person = m.person.clone();
    let facilitating = m.facilitator.is_some();
    let Some(inc) = m.incident.as_mut() else {
        return Vec::new();
    };
    match a {
        Action::Quit => ask_or_quit(m),
        Action::Back
            if inc.timeline.search.is_some()
                || inc.timeline.author.is_some()
                || inc.timeline.kind != KindFilter::All =>
        {
            // Esc first clears what narrows the timeline, then leaves the incident.
            inc.timeline.search = None;
            inc.timeline.author = None;
            inc.timeline.kind = KindFilter::All;
            inc.timeline.back = 0;
            Vec::new()
        }
        Action::Back => {
            let mut fx = save_failed_writes(m);
            m.incident = None;
            fx.push(Effect::Close);
            fx
        }
        Action::NextPane => {
            inc.focus = inc.focus.step(facilitating, 1);
            Vec::new()
        }
        Action::PrevPane => {
            inc.focus = inc.focus.step(facilitating, Pane::cycle(facilitating).len() - 1);
            Vec::new()
        }
        Action::PauseResume
        | Action::Faster
        | Action::Slower
        | Action::ReleaseNow
        | Action::SkipInject
        | Action::EvaluatorNote => facilitate(m, a),
        Action::Up | Action::Down | Action::PageUp | Action::PageDown | Action::Top | Action::Bottom => {
            move_cursor(inc, a, &mut m.inject_sel);
            Vec::new()
        }
        Action::Left | Action::Right => {
            let i = inc.phase_tab.index();
            let j = if a == Action::Left {
                i.saturating_sub(1)
            } else {
                (i + 1).min(5)
            };
            inc.phase_tab = Phase::ALL[j];
            inc.tab_follows_phase = false;
            inc.item_sel = 0;
            Vec::new()
        }
        Action::Note => {
            let ed = Editor::new(EditorPurpose::Note, &inc.draft);
            m.overlay = Some(Overlay::Editor(ed));
            Vec::new()
        }
        Action::FollowUp => {
            m.overlay = Some(Overlay::Editor(Editor::new(EditorPurpose::FollowUp, "")));
            Vec::new()
        }
        Action::Search => {
            let q = inc.timeline.search.clone().unwrap_or_default();
            m.overlay = Some(Overlay::Editor(Editor::new(EditorPurpose::Search, &q)));
            Vec::new()
        }
        Action::Status => {
            m.overlay = Some(Overlay::Picker(Picker {
                title: "Status update for".into(),
                options: vec!["internal".into(), "external".into()],
                sel: 0,
                purpose: PickPurpose::StatusAudience,
            }));
            Vec::new()
        }
        Action::Severity => {
            m.overlay = Some(Overlay::Picker(Picker {
                title: "Severity".into(),
                options: (1..=4).map(|s| format!("SEV{s}")).collect(),
                sel: inc.state().severity().map_or(1, |s| (s as usize).saturating_sub(1)),
                purpose: PickPurpose::Severity,
            }));
            Vec::new()
        }
        Action::Handoff => {
            let probe: Body = RoleAssigned {
                role: COMMANDER.into(),
                who: person.clone(),
            }
            .into();
            if let Err(v) = inc.state().check(&probe, &m.me, m.now) {
                m.flash(format!("{v}"), true);
                return Vec::new();
            }
            let current = inc.state().commander().map(str::to_string);
            let people: Vec<String> = inc
                .people(&person)
                .into_iter()
                .filter(|p| Some(p) != current.as_ref())
                .collect();
            m.overlay = Some(Overlay::Picker(Picker {
                title: "Hand off command to".into(),
                options: people,
                sel: 0,
                purpose: PickPurpose::RolePerson(COMMANDER.into()),
            }));
            Vec::new()
        }
        Action::AssignRole => {
            let mut roles = vec![COMMANDER.to_string()];
            if let Some(p) = inc.playbook() {
                roles.extend(p.roles.iter().map(|r| r.id.clone()));
            }
            m.overlay = Some(Overlay::Picker(Picker {
                title: "Assign which role".into(),
                options: roles,
                sel: 0,
                purpose: PickPurpose::Role,
            }));
            Vec::new()
        }
        Action::Assign => {
            let target = match inc.focus {
                Pane::Checklist => inc.selected_item().map(|i| Target::Item(i.id.clone())),
                Pane::Actions => inc.selected_action().map(|a| Target::Action(a.id.clone())),
                Pane::Timeline | Pane::Facilitator => None,
            };
            if let Some(t) = target {
                let people = inc.people(&person);
                let sel = people.iter().position(|p| *p == person).unwrap_or(0);
                m.overlay = Some(Overlay::Picker(Picker {
                    title: format!("Assign {} to", t.id()),
                    options: people,
                    sel,
                    purpose: PickPurpose::Assign(t),
                }));
            }
            Vec::new()
        }
        Action::NextPhase => {
            let current = inc.state().phase();
            let Some(next) = current.next() else {
                m.flash("already in the last phase (Lessons Learned)", false);
                return Vec::new();
            };
            let open = inc.state().open_required_before(next);
            if open.is_empty() {
                write(
                    m,
                    format!("phase → {next}"),
                    vec![PhaseEntered {
                        phase: next,
                        override_open: vec![],
                    }
                    .into()],
                )
            } else {
                m.overlay = Some(Overlay::Confirm(Confirm::Phase { phase: next, open }));
                Vec::new()
            }
        }
        Action::ItemDone | Action::ItemSkipped | Action::ItemOpen => {
            let Some(item) = inc.selected_item().map(|i| i.id.clone()) else {
                return Vec::new();
            };
            let state = match a {
                Action::ItemDone => ItemState::Done,
                Action::ItemSkipped => ItemState::Skipped,
                _ => ItemState::Open,
            };
            write(
                m,
                format!("{item} {state:?}"),
                vec![ChecklistSet {
                    item,
                    state,
                    note: None,
                }
                .into()],
            )
        }
        Action::ItemBlocked => {
            let Some(item) = inc.selected_item().map(|i| i.id.clone()) else {
                return Vec::new();
            };
            let mut ed = Editor::new(EditorPurpose::Blocked, "");
            ed.item = Some(item);
            m.overlay = Some(Overlay::Editor(ed));
            Vec::new()
        }
        Action::Propose
        | Action::Approve
        | Action::Run
        | Action::ActionDone
        | Action::ActionFailed
        | Action::RollBack => {
            let Some(def) = inc.selected_action().cloned() else {
                return Vec::new();
            };
            let exercise = matches!(inc.state().mode(), Some(Mode::Exercise | Mode::Demo));
            let state = match a {
                Action::Propose => ActionState::Proposed,
                Action::Approve => ActionState::Approved,
                // In an exercise a command is never executed: it is recorded as a dry run.
                Action::Run if exercise && def.command.is_some() => ActionState::DryRun,
                Action::Run => ActionState::Running,
                Action::ActionDone => ActionState::Done,
                Action::ActionFailed => ActionState::Failed,
                _ => ActionState::RolledBack,
            };
            let body: Body = ActionSet {
                action: def.id.clone(),
                state,
                note: None,
            }
            .into();
            if state == ActionState::Approved {
                // An approval is a second pair of eyes: show what is being approved first.
                if let Err(v) = inc.state().check(&body, &m.me, m.now) {
                    m.flash(format!("refused: {v}"), true);
                    return Vec::new();
                }
                m.overlay = Some(Overlay::Confirm(Confirm::Approve { action: def }));
                return Vec::new();
            }
            write(m, format!("{} {state:?}", def.id), vec![body])
        }
        Action::FilterKind => {
            inc.timeline.kind = inc.timeline.kind.next();
            inc.timeline.back = 0;
            Vec::new()
        }
        Action::FilterAuthor => {
            let people: Vec<String> = inc.people(&person);
            inc.timeline.author = match &inc.timeline.author {
                None => people.first().cloned(),
                Some(cur) => people.iter().skip_while(|p| *p != cur).nth(1).cloned(),
            };
            inc.timeline.back = 0;
            Vec::new()
        }
        Action::LocalTime => {
            inc.timeline.local_time = !inc.timeline.local_time;
            Vec::new()
        }
        Action::Retry => {
            let mut fx = Vec::new();
            for p in &mut m.pending {
                if matches!(p.state, PendingState::Failed { .. }) {
                    p.state = PendingState::InFlight;
                    fx.push(Effect::Write {
                        token: p.token,
                        incident: p.incident.clone(),
                        drafts: p.drafts.clone(),
                    });
                }
            }
            fx
        }
        _ => Vec::new(),
    }
}

/// `q`: quit at once, unless writes are still on their way or failed (they would be lost): then
/// ask first.
fn ask_or_quit(m: &mut Model) -> Vec<Effect> {
    let unsaved: Vec<String> = m
        .pending
        .iter()
        .filter(|p| !matches!(p.state, PendingState::Written(_)))
        .map(|p| p.label.clone())
        .collect();
    if unsaved.is_empty() {
        return quit(m);
    }
    m.overlay = Some(Overlay::Confirm(Confirm::Quit { unsaved }));
    Vec::new()
}

/// Quit: unsent notes go into the draft, and the user is told on the way out.
fn quit(m: &mut Model) -> Vec<Effect> {
    let mut fx = save_failed_writes(m);
    m.quit = true;
    m.farewell = draft_farewell(m, &fx);
    fx.push(Effect::Quit);
    fx
}

/// "Your note is kept as a draft", when the way out leaves one.
fn draft_farewell(m: &Model, fx: &[Effect]) -> Option<String> {
    let inc = m.incident.as_ref()?;
    let saved = fx
        .iter()
        .any(|f| matches!(f, Effect::SaveDraft { text, .. } if !text.trim().is_empty()));
    (saved || !inc.draft.trim().is_empty()).then(|| {
        format!(
            "your unsent note for {} is kept as a draft; `warroom open {}` and n continue it",
            inc.id, inc.id
        )
    })
}

fn move_cursor(inc: &mut IncidentModel, a: Action, inject_sel: &mut usize) {
    let page = 10;
    match inc.focus {
        Pane::Facilitator => {
            *inject_sel = match a {
                Action::Up => inject_sel.saturating_sub(1),
                Action::Down => *inject_sel + 1,
                Action::Top => 0,
                _ => *inject_sel,
            };
        }
        Pane::Checklist | Pane::Actions => {
            let len = match (inc.focus, inc.playbook()) {
                (Pane::Checklist, Some(p)) => p.phases.get(inc.phase_tab).len(),
                (_, Some(p)) => p.actions.len(),
                _ => 0,
            };
            let sel = if inc.focus == Pane::Checklist {
                &mut inc.item_sel
            } else {
                &mut inc.action_sel
            };
            *sel = match a {
                Action::Up => sel.saturating_sub(1),
                Action::Down => *sel + 1,
                Action::PageUp => sel.saturating_sub(page),
                Action::PageDown => *sel + page,
                Action::Top => 0,
                _ => len,
            }
            .min(len.saturating_sub(1));
        }
        Pane::Timeline => {
            let t = &mut inc.timeline;
            t.back = match a {
                Action::Up => t.back + 1,
                Action::Down => t.back.saturating_sub(1),
                Action::PageUp => t.back + page,
                Action::PageDown => t.back.saturating_sub(page),
                Action::Top => inc.view.state.event_count(),
                _ => 0,
            };
            // Never scroll past the oldest event.
            t.back = t.back.min(inc.view.state.event_count().saturating_sub(1));
        }
    }
}

fn is_newline_key(k: &KeyEvent) -> bool {
    (k.code == KeyCode::Enter && k.modifiers.contains(KeyModifiers::ALT))
        || (k.code == KeyCode::Char('j') && k.modifiers.contains(KeyModifiers::CONTROL))
}

fn editor_key(m: &mut Model, mut ed: Box<Editor>, k: KeyEvent) -> Vec<Effect> {
    if k.code == KeyCode::Esc {
        // Cancel, but keep what was typed.
        if ed.purpose == EditorPurpose::Note {
            if let Some(inc) = m.incident.as_mut() {
                inc.draft = ed.text();
            }
            return save_editor_draft(m);
        }
        if ed.purpose == EditorPurpose::Title {
            if let Some(mut f) = m.declare_form.take() {
                f.title = ed.text();
                m.overlay = Some(Overlay::Declare(f));
            }
        }
        return Vec::new();
    }
    if is_newline_key(&k) {
        if !ed.single_line() {
            ed.area.insert_newline();
        }
        m.overlay = Some(Overlay::Editor(ed));
        return Vec::new();
    }
    if k.code == KeyCode::Enter {
        return submit_editor(m, ed);
    }
    ed.area.input(k);
    if ed.purpose == EditorPurpose::Note {
        m.draft_dirty_at = Some(m.now);
    }
    m.overlay = Some(Overlay::Editor(ed));
    Vec::new()
}

fn submit_editor(m: &mut Model, ed: Box<Editor>) -> Vec<Effect> {
    let text = ed.text();
    let trimmed = text.trim().to_string();
    match ed.purpose {
        EditorPurpose::Search => {
            if let Some(inc) = m.incident.as_mut() {
                inc.timeline.search = (!trimmed.is_empty()).then_some(trimmed);
                inc.timeline.back = 0;
            }
            Vec::new()
        }
        EditorPurpose::Title => {
            if let Some(mut f) = m.declare_form.take() {
                f.title = trimmed;
                m.overlay = Some(Overlay::Declare(f));
            }
            Vec::new()
        }
        _ if trimmed.is_empty() => {
            m.overlay = Some(Overlay::Editor(ed));
            Vec::new()
        }
        EditorPurpose::Note => {
            let mut fx = write(
                m,
                short_label(&trimmed),
                vec![Note {
                    text: text.trim_end().to_string(),
                    tags: vec![],
                }
                .into()],
            );
            if let Some(inc) = m.incident.as_mut() {
                inc.draft.clear();
                fx.push(Effect::SaveDraft {
                    incident: inc.id.clone(),
                    text: String::new(),
                });
            }
            m.draft_dirty_at = None;
            fx
        }
        EditorPurpose::Blocked => {
            let item = ed.item.clone().unwrap_or_default();
            write(
                m,
                format!("{item} blocked"),
                vec![ChecklistSet {
                    item,
                    state: ItemState::Blocked,
                    note: Some(trimmed),
                }
                .into()],
            )
        }
        EditorPurpose::Status(_) if has_placeholder(&trimmed) && !ed.warned => {
            let mut ed = ed;
            ed.warned = true;
            m.flash(
                "the update still has [PLACEHOLDERS]; fill them in, or Enter again to record it as is",
                true,
            );
            m.overlay = Some(Overlay::Editor(ed));
            Vec::new()
        }
        EditorPurpose::Status(audience) => write(
            m,
            "status update",
            vec![StatusUpdate {
                audience,
                text: trimmed,
            }
            .into()],
        ),
        EditorPurpose::SeverityReason(severity) => write(
            m,
            format!("severity → SEV{severity}"),
            vec![SeverityChanged {
                severity,
                reason: Some(trimmed),
            }
            .into()],
        ),
        EditorPurpose::Evaluator => {
            let inject = ed.item.clone();
            let now = m.now;
            match &mut m.facilitator {
                Some(f) => {
                    f.notes.push(EvaluatorNote {
                        inject,
                        at: now,
                        text: trimmed,
                    });
                    m.flash = Some(Flash {
                        text: "evaluator note kept privately (in the AAR)".into(),
                        error: false,
                        at: now,
                    });
                    vec![Effect::SaveFacilitator(Box::new(f.clone()))]
                }
                None => Vec::new(),
            }
        }
        EditorPurpose::FollowUp => write(
            m,
            "follow-up",
            vec![FollowUp {
                text: trimmed,
                owner: None,
                kind: "improvement".into(),
            }
            .into()],
        ),
    }
}

fn short_label(text: &str) -> String {
    let one = crate::domain::sanitize(text);
    let mut s: String = one.chars().take(40).collect();
    if one.chars().count() > 40 {
        s.push('…');
    }
    s
}

fn picker_key(m: &mut Model, mut p: Picker, k: KeyEvent) -> Vec<Effect> {
    match k.code {
        KeyCode::Esc => {
            if p.purpose == PickPurpose::DeclarePlaybook {
                if let Some(f) = m.declare_form.take() {
                    m.overlay = Some(Overlay::Declare(f));
                }
            }
            return Vec::new();
        }
        KeyCode::Up | KeyCode::Char('k') => p.sel = p.sel.saturating_sub(1),
        KeyCode::Down | KeyCode::Char('j') => p.sel = (p.sel + 1).min(p.options.len().saturating_sub(1)),
        KeyCode::Char(c @ '1'..='9') => {
            let i = c as usize - '1' as usize;
            if i < p.options.len() {
                p.sel = i;
                if !(picker_writes(&p) && confirm_too_soon(m, &c.to_string())) {
                    return choose(m, p);
                }
            }
        }
        KeyCode::Enter if picker_writes(&p) && confirm_too_soon(m, "Enter") => {}
        KeyCode::Enter => return choose(m, p),
        _ => {}
    }
    m.overlay = Some(Overlay::Picker(p));
    Vec::new()
}

/// Whether choosing in this picker writes a record (and so needs a person's deliberate key).
fn picker_writes(p: &Picker) -> bool {
    matches!(p.purpose, PickPurpose::Assign(_) | PickPurpose::RolePerson(_))
}

fn choose(m: &mut Model, p: Picker) -> Vec<Effect> {
    let Some(choice) = p.options.get(p.sel).cloned() else {
        return Vec::new();
    };
    match p.purpose {
        PickPurpose::Severity => {
            // A severity change is a decision: ask why (the reason goes in the record).
            let mut ed = Editor::new(EditorPurpose::SeverityReason((p.sel + 1) as u8), "");
            ed.item = None;
            m.overlay = Some(Overlay::Editor(ed));
            Vec::new()
        }
        PickPurpose::Assign(target) => write(
            m,
            format!("assign {} → {choice}", target.id()),
            vec![Assigned { target, who: choice }.into()],
        ),
        PickPurpose::Role => {
            let people = m.incident.as_ref().map(|i| i.people(&m.person)).unwrap_or_default();
            m.overlay = Some(Overlay::Picker(Picker {
                title: format!("Give {choice} to"),
                options: people,
                sel: 0,
                purpose: PickPurpose::RolePerson(choice),
            }));
            Vec::new()
        }
        PickPurpose::RolePerson(role) => write(
            m,
            format!("{role} → {choice}"),
            vec![RoleAssigned { role, who: choice }.into()],
        ),
        PickPurpose::StatusAudience => {
            let audience = if p.sel == 0 {
                Audience::Internal
            } else {
                Audience::External
            };
            let text = m
                .incident
                .as_ref()
                .map(|i| status_template(i, audience))
                .unwrap_or_default();
            m.overlay = Some(Overlay::Editor(Editor::new(EditorPurpose::Status(audience), &text)));
            Vec::new()
        }
        PickPurpose::DeclarePlaybook => {
            if let Some(mut f) = m.declare_form.take() {
                f.playbook = p.sel;
                m.overlay = Some(Overlay::Declare(f));
            }
            Vec::new()
        }
    }
}

/// The playbook's first template for the audience, with the incident's facts filled in.
pub fn status_template(inc: &IncidentModel, audience: Audience) -> String {
    let s = inc.state();
    let Some(t) = inc
        .playbook()
        .and_then(|p| p.templates.iter().find(|t| t.audience == audience))
    else {
        return String::new();
    };
    let mut fills: BTreeMap<&str, String> = BTreeMap::new();
    fills.insert("{title}", s.title().to_string());
    fills.insert("{severity}", s.severity().map_or("?".into(), |v| format!("SEV{v}")));
    fills.insert("{phase}", s.phase().label().to_string());
    fills.insert("{commander}", s.commander().unwrap_or("-").to_string());
    let mut text = t.text.clone();
    for (k, v) in fills {
        text = text.replace(k, &v);
    }
    text
}

fn confirm_key(m: &mut Model, c: Confirm, k: KeyEvent) -> Vec<Effect> {
    match k.code {
        KeyCode::Char(y @ ('y' | 'Y')) if confirm_too_soon(m, &y.to_string()) => {
            m.overlay = Some(Overlay::Confirm(c));
            Vec::new()
        }
        KeyCode::Char('y') | KeyCode::Char('Y') => match c {
            Confirm::Quit { .. } => quit(m),
            Confirm::Phase { phase, open } => write(
                m,
                format!("phase → {phase} (override)"),
                vec![PhaseEntered {
                    phase,
                    override_open: open,
                }
                .into()],
            ),
            Confirm::Approve { action } => {
                let body = ActionSet {
                    action: action.id.clone(),
                    state: ActionState::Approved,
                    note: None,
                }
                .into();
                write(m, format!("{} approved", action.id), vec![body])
            }
        },
        KeyCode::Char('n') | KeyCode::Esc => Vec::new(),
        _ => {
            m.overlay = Some(Overlay::Confirm(c));
            Vec::new()
        }
    }
}

fn declare_key(m: &mut Model, mut f: DeclareForm, k: KeyEvent) -> Vec<Effect> {
    match k.code {
        KeyCode::Esc => return Vec::new(),
        KeyCode::Char(c @ '1'..='4') => f.severity = c as u8 - b'0',
        KeyCode::Char('p') | KeyCode::Up | KeyCode::Down => {
            let options = m.playbooks.iter().map(|(id, t)| format!("{id} — {t}")).collect();
            m.declare_form = Some(f.clone());
            m.overlay = Some(Overlay::Picker(Picker {
                title: "Playbook".into(),
                options,
                sel: f.playbook,
                purpose: PickPurpose::DeclarePlaybook,
            }));
            return Vec::new();
        }
        KeyCode::Char('t') => {
            m.declare_form = Some(f.clone());
            m.overlay = Some(Overlay::Editor(Editor::new(EditorPurpose::Title, &f.title)));
            return Vec::new();
        }
        KeyCode::Enter if !f.title.trim().is_empty() && confirm_too_soon(m, "Enter") => {}
        KeyCode::Enter => {
            if f.title.trim().is_empty() {
                m.declare_form = Some(f.clone());
                m.overlay = Some(Overlay::Editor(Editor::new(EditorPurpose::Title, "")));
                return Vec::new();
            }
            let Some((playbook, _)) = m.playbooks.get(f.playbook).cloned() else {
                return Vec::new();
            };
            m.flash("declaring…", false);
            return vec![Effect::Declare {
                playbook,
                title: f.title,
                severity: f.severity,
            }];
        }
        _ => {}
    }
    m.overlay = Some(Overlay::Declare(f));
    Vec::new()
}

/// The facilitator's console releases injects as the pure scheduler says, once each.
fn release_due(m: &mut Model) -> Vec<Effect> {
    let (Some(f), Some(inc)) = (&m.facilitator, &m.incident) else {
        return Vec::new();
    };
    if inc.id != f.incident || inc.view.is_syncing() {
        return Vec::new();
    }
    let state = inc.state();
    m.releasing.retain(|id| !state.derived.released_injects.contains(id));
    let t = scheduler::clock(state).scenario_ms(m.now);
    let due: Vec<Body> = scheduler::due(&f.scenario, state, &f.skipped, m.now)
        .into_iter()
        .filter(|i| !m.releasing.contains(&i.id))
        .map(|i| {
            InjectReleased {
                inject: i.id.clone(),
                title: i.title.clone(),
                text: i.text.clone(),
                scenario_ms: t,
            }
            .into()
        })
        .collect();
    if due.is_empty() {
        return Vec::new();
    }
    for b in &due {
        if let Body::InjectReleased(i) = b {
            m.releasing.insert(i.inject.clone());
        }
    }
    write(m, format!("{} inject(s) released", due.len()), due)
}

fn facilitate(m: &mut Model, a: Action) -> Vec<Effect> {
    let (Some(f), Some(inc)) = (&m.facilitator, &m.incident) else {
        return Vec::new();
    };
    let state = inc.state();
    let c = scheduler::clock(state);
    let t = c.scenario_ms(m.now);
    let upcoming: Vec<crate::exercise::scenario::Inject> = scheduler::upcoming(&f.scenario, state, &f.skipped)
        .into_iter()
        .cloned()
        .collect();
    let selected = upcoming
        .get(m.inject_sel.min(upcoming.len().saturating_sub(1)))
        .cloned();
    let clock = |change: &str, speed: f64| -> Body {
        ExerciseClock {
            change: change.into(),
            speed,
            scenario_ms: t,
        }
        .into()
    };
    match a {
        Action::PauseResume if c.ended => Vec::new(),
        Action::PauseResume => {
            let body = clock(if c.running { "Pause" } else { "Resume" }, c.speed);
            write(
                m,
                if c.running {
                    "exercise paused"
                } else {
                    "exercise resumed"
                },
                vec![body],
            )
        }
        Action::Faster | Action::Slower => {
            let speed = if a == Action::Faster {
                c.speed * 2.0
            } else {
                c.speed / 2.0
            }
            .clamp(0.125, 64.0);
            let body = clock(if c.running { "Speed" } else { "Pause" }, speed);
            write(m, format!("exercise speed x{speed}"), vec![body])
        }
        Action::ReleaseNow => match selected {
            Some(i) if !m.releasing.contains(&i.id) => {
                m.releasing.insert(i.id.clone());
                let body = InjectReleased {
                    inject: i.id,
                    title: i.title,
                    text: i.text,
                    scenario_ms: t,
                }
                .into();
                write(m, "inject released by hand", vec![body])
            }
            _ => Vec::new(),
        },
        Action::SkipInject => match (selected, &mut m.facilitator) {
            (Some(i), Some(f)) => {
                f.skipped.insert(i.id.clone());
                let fx = vec![Effect::SaveFacilitator(Box::new(f.clone()))];
                m.flash = Some(Flash {
                    text: format!("skipped {} (private to you)", i.id),
                    error: false,
                    at: m.now,
                });
                fx
            }
            _ => Vec::new(),
        },
        Action::EvaluatorNote => {
            let mut ed = Editor::new(EditorPurpose::Evaluator, "");
            ed.item = selected.map(|i| i.id);
            m.overlay = Some(Overlay::Editor(ed));
            Vec::new()
        }
        _ => Vec::new(),
    }
}

/// A template's fill-in like `[CHANNEL]` or `[TIME, UTC]` still in the text.
fn has_placeholder(text: &str) -> bool {
    text.split('[').skip(1).any(|rest| {
        rest.split_once(']').is_some_and(|(inside, _)| {
            !inside.is_empty()
                && inside.chars().any(|c| c.is_ascii_uppercase())
                && !inside.chars().any(|c| c.is_ascii_lowercase())
        })
    })
}
