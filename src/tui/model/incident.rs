//! The war-room view of one incident: panes, cursors, the timeline's filters, and its keys.

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Checklist,
    Actions,
    Facilitator,
    Timeline,
}

impl Pane {
    pub(super) fn cycle(facilitating: bool) -> &'static [Pane] {
        if facilitating {
            &[Pane::Checklist, Pane::Actions, Pane::Facilitator, Pane::Timeline]
        } else {
            &[Pane::Checklist, Pane::Actions, Pane::Timeline]
        }
    }
    pub(super) fn step(self, facilitating: bool, by: usize) -> Pane {
        let c = Pane::cycle(facilitating);
        let i = c.iter().position(|p| *p == self).unwrap_or(0);
        c[(i + by) % c.len()]
    }
    pub(super) fn context(self) -> Context {
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
    pub(super) fn next(self) -> KindFilter {
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
    /// The record under the cursor, by its timeline key (see [`super::timeline`]); `None`
    /// follows new events, the cursor on the newest row.
    pub anchor: Option<super::timeline::TimelineKey>,
    /// Rows of the window below the cursor's: the window moves only when the cursor reaches its
    /// edge. The view keeps it holding the cursor and full.
    pub below: usize,
    /// How many rows back from the newest the cursor is (the title's "↑N"); a lower bound when
    /// `back_more` (not counted that far: see [`super::timeline::BACK_COUNTED`]).
    pub back: usize,
    pub back_more: bool,
    pub kind: KindFilter,
    pub author: Option<String>,
    pub search: Option<String>,
    pub local_time: bool,
    /// Consecutive exercise-clock changes (start, pause, resume, speed, end) show as one row:
    /// players are not flooded by them. The facilitator's console sees each.
    pub condense_clock: bool,
}

impl TimelineView {
    /// Whether a search, an author or a kind hides rows.
    pub fn filtered(&self) -> bool {
        self.search.is_some() || self.author.is_some() || self.kind != KindFilter::All
    }

    pub fn shows(&self, e: &Event) -> bool {
        if matches!(e.body, Body::Heads(_) | Body::Signed(_)) || !self.kind.matches(&e.body) {
            return false;
        }
        if self.author.as_ref().is_some_and(|a| person_of(e.by()) != *a) {
            return false;
        }
        match &self.search {
            // A text left in its log is not searched until every text is held (a search asks
            // for that, see `texts`): not shown meanwhile rather than matched blind.
            Some(q) if !q.is_empty() && matches!(&e.body, Body::Note(n) if n.text.in_log().is_some()) => false,
            Some(q) if !q.is_empty() => {
                let text = crate::domain::describe::describe(e).to_lowercase();
                text.contains(&q.to_lowercase()) || e.by().contains(&q.to_lowercase())
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
    /// Status updates closed unsent, per audience: reopened instead of the template (`Ctrl+R`
    /// in the editor goes back to the template). Saved in the local state directory.
    pub status_drafts: BTreeMap<Audience, String>,
    /// Whether the tab followed the incident's phase until the user picked another.
    pub tab_follows_phase: bool,
    /// Replay mode: `view` shows the incident as it stood at a cursor time; the live view is
    /// kept here and still takes every update. Writes are disabled.
    pub replay: Option<Replay>,
    /// A long read arriving in parts, until the update that ends it.
    pub loading: Option<super::loading::Loading>,
    /// The first update since it was opened has arrived (until then nothing is read).
    pub answered: bool,
    /// Notes' texts read back from their logs (see [`super::texts`]).
    pub texts: super::texts::Texts,
    /// The rows the timeline drew last (see [`super::timeline::window_drawn`]).
    pub window_memo: std::cell::RefCell<Option<super::timeline::WindowMemo>>,
    /// The records the timeline's filter shows (see `timeline::hits`).
    pub hits: std::cell::RefCell<Option<super::timeline::Hits>>,
}

/// The replay cursor over the record.
pub struct Replay {
    pub live: View,
    /// Each distinct sort key `at` of the record (`domain::replay::steps`).
    pub steps: Vec<Millis>,
    pub cursor: usize,
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
                anchor: None,
                below: 0,
                back: 0,
                back_more: false,
                kind: KindFilter::All,
                author: None,
                search: None,
                local_time: false,
                condense_clock: true,
            },
            draft: String::new(),
            status_drafts: BTreeMap::new(),
            tab_follows_phase: true,
            replay: None,
            loading: None,
            answered: false,
            texts: Default::default(),
            window_memo: Default::default(),
            hits: Default::default(),
        }
    }

    /// The time replay shows, if replaying.
    pub fn replay_at(&self) -> Option<Millis> {
        self.replay.as_ref().and_then(|r| r.steps.get(r.cursor).copied())
    }

    /// Step the replay cursor by `by` records (entering replay at the newest record first).
    pub fn replay_step(&mut self, by: isize) {
        let mut r = match self.replay.take() {
            Some(r) => r,
            None => {
                let steps = crate::domain::replay::steps(&self.view.state);
                if steps.is_empty() {
                    return;
                }
                Replay {
                    cursor: steps.len() - 1,
                    steps,
                    live: self.view.clone(),
                }
            }
        };
        let last = r.steps.len().saturating_sub(1) as isize;
        r.cursor = (r.cursor as isize + by).clamp(0, last) as usize;
        self.show_replay(r);
    }

    fn show_replay(&mut self, r: Replay) {
        let t = r.steps.get(r.cursor).copied().unwrap_or(Millis::MIN);
        self.view = View {
            state: crate::domain::replay::as_of(&r.live.state, t),
            file_problems: r.live.file_problems.clone(),
            settling: r.live.settling.clone(),
        };
        self.replay = Some(r);
        if self.tab_follows_phase {
            self.phase_tab = self.view.state.phase();
        }
        clamp(self);
    }

    /// Back to the live view.
    pub fn replay_exit(&mut self) {
        if let Some(r) = self.replay.take() {
            self.view = r.live;
            if self.tab_follows_phase {
                self.phase_tab = self.view.state.phase();
            }
            clamp(self);
        }
    }
    pub fn state(&self) -> &IncidentState {
        &self.view.state
    }
    /// While the incident is being read — opened and not answered yet (the worker may still be
    /// on its first board pass), or a long read arriving in parts — the records taken so far.
    /// Until the read ends nothing is derived (severity, phase, commander, deadlines), so the
    /// screen says it is reading instead of what an empty incident would say.
    pub fn reading(&self) -> Option<usize> {
        match &self.loading {
            Some(l) => Some(l.records),
            None => (!self.answered).then_some(0),
        }
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
        let mut set: BTreeSet<String> = s.events().map(|e| person_of(e.by())).collect();
        set.extend(s.derived.roles.values().map(|r| r.value.clone()));
        set.extend(s.derived.assignments.values().map(|r| r.value.clone()));
        set.insert(me.to_string());
        set.into_iter().collect()
    }
}

pub(super) use super::timeline::{refilter, Place};

pub(super) fn clamp(inc: &mut IncidentModel) {
    let (items, actions) = match inc.playbook() {
        Some(p) => (p.phases.get(inc.phase_tab).len(), p.actions.len()),
        None => (0, 0),
    };
    inc.item_sel = inc.item_sel.min(items.saturating_sub(1));
    inc.action_sel = inc.action_sel.min(actions.saturating_sub(1));
}

pub(super) fn incident_action(m: &mut Model, a: Action) -> Vec<Effect> {
    let person = m.person.clone();
    let timeline_rows = crate::tui::view::timeline::pane_rows(m);
    let facilitating = m.facilitator.is_some();
    let Some(inc) = m.incident.as_mut() else {
        return Vec::new();
    };
    if inc.replay.is_some() && a.writes() {
        m.flash("replay is read-only: Esc returns to the live incident", true);
        return Vec::new();
    }
    match a {
        Action::Quit => ask_or_quit(m),
        Action::ReplayPrev | Action::ReplayNext | Action::ReplayBack | Action::ReplayForward => {
            let by = match a {
                Action::ReplayPrev => -1,
                Action::ReplayNext => 1,
                Action::ReplayBack => -10,
                _ => 10,
            };
            let entering = inc.replay.is_none();
            // Entering goes to the newest record first, then steps from there.
            inc.replay_step(if entering && by > 0 { 0 } else { by });
            Vec::new()
        }
        Action::Back if inc.replay.is_some() => {
            inc.replay_exit();
            Vec::new()
        }
        Action::Back
            if inc.timeline.search.is_some()
                || inc.timeline.author.is_some()
                || inc.timeline.kind != KindFilter::All =>
        {
            // Esc first clears what narrows the timeline, then leaves the incident.
            refilter(inc, |t| {
                t.search = None;
                t.author = None;
                t.kind = KindFilter::All;
            });
            Vec::new()
        }
        Action::Back => {
            let mut fx = flush_speed(m);
            fx.extend(save_failed_writes(m));
            // The board's row of it is brought up to date from this view (the store worker does
            // not read an open incident a second time; it reads its row again after this). An
            // incident the console started on has no row yet: this is its first.
            if let Some(inc) = m.incident.as_ref().filter(|i| i.reading().is_none()) {
                let fresh = BoardRow::from_view(&inc.id, &inc.view);
                match m.board.iter_mut().find(|r| r.id == inc.id) {
                    Some(row) if row.status == RowStatus::Vanished => {}
                    Some(row) => *row = fresh,
                    None => m.board.push(fresh),
                }
            }
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
        | Action::EvaluatorNote
        | Action::FacView
        | Action::RateObjective
        | Action::EndExercise => facilitate(m, a),
        Action::Respond => respond(m),
        Action::Up | Action::Down | Action::PageUp | Action::PageDown | Action::Top | Action::Bottom
            if inc.focus == Pane::Facilitator =>
        {
            let n = super::facilitator::list_len(m);
            m.inject_sel = match a {
                Action::Up => m.inject_sel.saturating_sub(1),
                Action::Down => m.inject_sel + 1,
                Action::PageUp => m.inject_sel.saturating_sub(10),
                Action::PageDown => m.inject_sel + 10,
                Action::Top => 0,
                _ => n,
            }
            .min(n.saturating_sub(1));
            Vec::new()
        }
        Action::Up | Action::Down | Action::PageUp | Action::PageDown | Action::Top | Action::Bottom => {
            move_cursor(inc, a, &mut m.inject_sel, timeline_rows);
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
        Action::FollowUp => start_follow_up(m),
        Action::Amend | Action::Retract => {
            let Some(e) = super::timeline::cursor(inc) else {
                return Vec::new();
            };
            let current = match &e.body {
                Body::Note(_) => match super::texts::text_of(inc, e) {
                    Some(super::texts::Text::Here(t)) => t.to_string(),
                    Some(super::texts::Text::Unreadable(why)) => {
                        // Never corrected blind; it is tried again in a moment.
                        let why = format!("the note's text cannot be read from its log ({why}): try again in a moment");
                        m.flash(why, true);
                        return Vec::new();
                    }
                    _ => {
                        // Asked of the worker (noted just now): never corrected blind.
                        m.flash(
                            "the note's text is still being read from its log: press it again in a moment",
                            true,
                        );
                        return Vec::new();
                    }
                },
                Body::StatusUpdate(u) => u.text.clone(),
                Body::FollowUp(f) => f.text.clone(),
                _ => {
                    m.flash("only a note, a status update or a follow-up is corrected", true);
                    return Vec::new();
                }
            };
            let current = inc
                .state()
                .correction_of(&e.id)
                .and_then(|c| c.value.text.clone())
                .unwrap_or(current);
            let target = (e.id.to_string(), e.log.to_string(), e.seq);
            let probe: Body = Corrected {
                id: target.0.clone(),
                log: target.1.clone(),
                seq: target.2,
                text: None,
                reason: "probe".into(),
                occurred: None,
            }
            .into();
            if let Err(v) = inc.state().check(&probe, &m.me, m.now) {
                m.flash(format!("{v} (refused)"), true);
                return Vec::new();
            }
            let mut ed = if a == Action::Amend {
                Editor::new(EditorPurpose::Amend, &current)
            } else {
                Editor::new(EditorPurpose::RetractReason, "")
            };
            ed.target = Some(target);
            // Which record, in words: the cursor may have been moved by the time the title is read.
            let first_line = current.lines().next().unwrap_or_default();
            let clipped: String = first_line.chars().take(40).collect();
            let more = if clipped.len() < current.len() { "…" } else { "" };
            ed.subject = Some(format!(
                "{}'s {} \"{clipped}{more}\"",
                crate::domain::identity::person_of(e.by()),
                e.kind()
                    .to_ascii_lowercase()
                    .replace("statusupdate", "status update")
                    .replace("followup", "follow-up"),
            ));
            m.overlay = Some(Overlay::Editor(ed));
            Vec::new()
        }
        Action::Review => {
            m.overlay = Some(Overlay::Review { sel: 0 });
            Vec::new()
        }
        Action::FollowUps => {
            m.overlay = Some(Overlay::FollowUps { sel: 0 });
            Vec::new()
        }
        Action::Search => {
            let q = inc.timeline.search.clone().unwrap_or_default();
            m.overlay = Some(Overlay::Editor(Editor::new(EditorPurpose::Search, &q)));
            Vec::new()
        }
        Action::Status => {
            m.overlay = Some(Overlay::Picker(status_picker(inc)));
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
        Action::ItemSkipped
            if inc.selected_item().is_some_and(|i| {
                i.required
                    || inc
                        .playbook()
                        .is_some_and(|p| !p.deadlines_met_by_item(&i.id).is_empty())
            }) =>
        {
            // Skipping a required step (or one that meets a deadline, waiving it) is a
            // decision: the record says why.
            let mut ed = Editor::new(EditorPurpose::Skip, "");
            ed.item = inc.selected_item().map(|i| i.id.clone());
            m.overlay = Some(Overlay::Editor(ed));
            Vec::new()
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
        Action::Execute => ask_exec(m, false),
        Action::ExecuteRollback => ask_exec(m, true),
        Action::Propose
        | Action::Approve
        | Action::Run
        | Action::ActionDone
        | Action::ActionFailed
        | Action::RollBack => {
            let Some(def) = inc.selected_action().cloned() else {
                return Vec::new();
            };
            let params = def.parameters();
            if a == Action::Propose && !params.is_empty() {
                let probe: Body = ActionSet {
                    action: def.id.clone(),
                    state: ActionState::Proposed,
                    note: None,
                }
                .into();
                if let Err(v) = inc.state().check(&probe, &m.me, m.now) {
                    m.flash(format!("{v} (refused)"), true);
                    return Vec::new();
                }
                // Where the playbook names parameters (host, segment…), the proposal carries them.
                let text: Vec<String> = params.iter().map(|p| format!("{p}=")).collect();
                let mut ed = Editor::new(EditorPurpose::Params, &text.join("\n"));
                ed.area.move_cursor(ratatui_textarea::CursorMove::Top);
                ed.area.move_cursor(ratatui_textarea::CursorMove::End);
                ed.item = Some(def.id.clone());
                m.overlay = Some(Overlay::Editor(ed));
                return Vec::new();
            }
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
                    m.flash(format!("{v} (refused)"), true);
                    return Vec::new();
                }
                m.overlay = Some(Overlay::Confirm(Confirm::Approve { action: def }));
                return Vec::new();
            }
            write(m, format!("{} {state:?}", def.id), vec![body])
        }
        Action::Discovery => accept_discovery(m),
        Action::Resolve => {
            if inc.state().is_resolved() {
                m.flash("already resolved (O reopens it)", false);
                return Vec::new();
            }
            let open = inc.state().open_required_at_resolve();
            if inc.state().is_commander(&m.me) {
                m.overlay = Some(Overlay::Confirm(Confirm::Resolve { open, reason: None }));
            } else {
                // Only the commander resolves, or someone records why they do.
                m.overlay = Some(Overlay::Editor(Editor::new(EditorPurpose::ResolveReason, "")));
            }
            Vec::new()
        }
        Action::Reopen => {
            if !inc.state().is_resolved() {
                m.flash("not resolved: nothing to reopen", false);
                return Vec::new();
            }
            m.overlay = Some(Overlay::Editor(Editor::new(EditorPurpose::ReopenReason, "")));
            Vec::new()
        }
        Action::Archive => {
            if !inc.state().is_resolved() {
                m.flash("resolve it first (Z), then archive it", true);
                return Vec::new();
            }
            if inc.state().derived.archived.is_some() {
                m.flash("already archived", false);
                return Vec::new();
            }
            m.overlay = Some(Overlay::Confirm(Confirm::Archive));
            Vec::new()
        }
        Action::Classify => {
            m.overlay = Some(Overlay::Confirm(Confirm::Classify));
            Vec::new()
        }
        Action::Materiality => {
            m.overlay = Some(Overlay::Confirm(Confirm::Materiality));
            Vec::new()
        }
        Action::JumpApproval | Action::JumpMine | Action::JumpRequired => {
            super::jump::jump(m, a);
            Vec::new()
        }
        Action::FilterKind => {
            refilter(inc, |t| t.kind = t.kind.next());
            Vec::new()
        }
        Action::FilterAuthor => {
            let people: Vec<String> = inc.people(&person);
            refilter(inc, |t| {
                t.author = match &t.author {
                    None => people.first().cloned(),
                    Some(cur) => people.iter().skip_while(|p| *p != cur).nth(1).cloned(),
                };
            });
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

pub(super) fn move_cursor(inc: &mut IncidentModel, a: Action, inject_sel: &mut usize, rows: usize) {
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
        Pane::Timeline => super::timeline::move_cursor(inc, a, rows),
    }
}
