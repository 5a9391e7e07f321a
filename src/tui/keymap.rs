//! Keys → actions, per context. One table drives the key handling, the footer and the help screen;
//! users patch it with `~/.config/warroom/keys.ron`.

use std::fmt;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
pub enum Context {
    Board,
    Incident,
    Checklist,
    Timeline,
    Actions,
    Facilitator,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
pub enum Action {
    Quit,
    Back,
    Open,
    Help,
    Problems,
    NextPane,
    PrevPane,
    Up,
    Down,
    Left,
    Right,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Declare,
    BoardFilter,
    Note,
    Status,
    FollowUp,
    Search,
    NextPhase,
    Severity,
    Handoff,
    AssignRole,
    Assign,
    ItemDone,
    ItemBlocked,
    ItemSkipped,
    ItemOpen,
    Propose,
    Approve,
    Run,
    ActionDone,
    ActionFailed,
    RollBack,
    Execute,
    ExecuteRollback,
    FilterKind,
    FilterAuthor,
    LocalTime,
    Retry,
    PauseResume,
    Faster,
    Slower,
    ReleaseNow,
    SkipInject,
    EvaluatorNote,
    EndExercise,
    Messages,
    JumpApproval,
    JumpMine,
    JumpRequired,
    Clocks,
    FacView,
    RateObjective,
    Respond,
    ReplayPrev,
    ReplayNext,
    ReplayBack,
    ReplayForward,
    Discovery,
    Resolve,
    Reopen,
    Archive,
    Classify,
    Materiality,
    FollowUps,
    Amend,
    Retract,
    Review,
}

impl Action {
    /// Every action, for the help screen's test (the match below keeps the list whole).
    pub const ALL: &'static [Action] = &[
        Action::Quit,
        Action::Back,
        Action::Open,
        Action::Help,
        Action::Problems,
        Action::NextPane,
        Action::PrevPane,
        Action::Up,
        Action::Down,
        Action::Left,
        Action::Right,
        Action::PageUp,
        Action::PageDown,
        Action::Top,
        Action::Bottom,
        Action::Declare,
        Action::BoardFilter,
        Action::Note,
        Action::Status,
        Action::FollowUp,
        Action::Search,
        Action::NextPhase,
        Action::Severity,
        Action::Handoff,
        Action::AssignRole,
        Action::Assign,
        Action::ItemDone,
        Action::ItemBlocked,
        Action::ItemSkipped,
        Action::ItemOpen,
        Action::Propose,
        Action::Approve,
        Action::Run,
        Action::ActionDone,
        Action::ActionFailed,
        Action::RollBack,
        Action::Execute,
        Action::ExecuteRollback,
        Action::FilterKind,
        Action::FilterAuthor,
        Action::LocalTime,
        Action::Retry,
        Action::PauseResume,
        Action::Faster,
        Action::Slower,
        Action::ReleaseNow,
        Action::SkipInject,
        Action::EvaluatorNote,
        Action::EndExercise,
        Action::Messages,
        Action::JumpApproval,
        Action::JumpMine,
        Action::JumpRequired,
        Action::Clocks,
        Action::FacView,
        Action::RateObjective,
        Action::Respond,
        Action::ReplayPrev,
        Action::ReplayNext,
        Action::ReplayBack,
        Action::ReplayForward,
        Action::Discovery,
        Action::Resolve,
        Action::Reopen,
        Action::Archive,
        Action::Classify,
        Action::Materiality,
        Action::FollowUps,
        Action::Amend,
        Action::Retract,
        Action::Review,
    ];

    /// Whether the action records something (in the shared folder or the facilitator's private
    /// notes). The one rule for what observer mode and replay refuse, and leave out of the
    /// footer and help. The match names every action, so a new one fails to compile here: list
    /// it in [`Action::ALL`] too.
    pub fn writes(self) -> bool {
        match self {
            Action::Declare
            | Action::Note
            | Action::Status
            | Action::FollowUp
            | Action::NextPhase
            | Action::Severity
            | Action::Handoff
            | Action::AssignRole
            | Action::Assign
            | Action::ItemDone
            | Action::ItemBlocked
            | Action::ItemSkipped
            | Action::ItemOpen
            | Action::Propose
            | Action::Approve
            | Action::Run
            | Action::ActionDone
            | Action::ActionFailed
            | Action::RollBack
            | Action::Retry
            | Action::PauseResume
            | Action::Faster
            | Action::Slower
            | Action::ReleaseNow
            | Action::SkipInject
            | Action::EvaluatorNote
            | Action::EndExercise
            | Action::RateObjective
            | Action::Respond
            | Action::Discovery
            | Action::Resolve
            | Action::Reopen
            | Action::Archive
            | Action::Classify
            | Action::Materiality
            | Action::Amend
            | Action::Retract
            | Action::Execute
            | Action::ExecuteRollback => true,
            Action::Quit
            | Action::Back
            | Action::Open
            | Action::Help
            | Action::Problems
            | Action::NextPane
            | Action::PrevPane
            | Action::Up
            | Action::Down
            | Action::Left
            | Action::Right
            | Action::PageUp
            | Action::PageDown
            | Action::Top
            | Action::Bottom
            | Action::BoardFilter
            | Action::Search
            | Action::FilterKind
            | Action::FilterAuthor
            | Action::LocalTime
            | Action::Messages
            | Action::JumpApproval
            | Action::JumpMine
            | Action::JumpRequired
            | Action::Clocks
            | Action::FacView
            | Action::ReplayPrev
            | Action::ReplayNext
            | Action::ReplayBack
            | Action::ReplayForward
            | Action::FollowUps
            | Action::Review => false,
        }
    }

    /// Whether the action runs a live exercise (its clock, its injects): gone once it has ended.
    pub fn exercise_clock(self) -> bool {
        matches!(
            self,
            Action::PauseResume
                | Action::Faster
                | Action::Slower
                | Action::ReleaseNow
                | Action::SkipInject
                | Action::EndExercise
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

impl Key {
    pub fn from_event(e: &KeyEvent) -> Key {
        // Shifted letters arrive as uppercase chars; the SHIFT bit would only get in the way.
        let mods = match e.code {
            KeyCode::Char(_) => e.modifiers - KeyModifiers::SHIFT,
            _ => e.modifiers,
        };
        Key { code: e.code, mods }
    }

    pub fn parse(s: &str) -> Result<Key, String> {
        let mut mods = KeyModifiers::NONE;
        let mut rest = s;
        loop {
            if let Some(r) = rest.strip_prefix("Ctrl+") {
                mods |= KeyModifiers::CONTROL;
                rest = r;
            } else if let Some(r) = rest.strip_prefix("Alt+") {
                mods |= KeyModifiers::ALT;
                rest = r;
            } else {
                break;
            }
        }
        let code = match rest {
            "Enter" => KeyCode::Enter,
            "Esc" => KeyCode::Esc,
            "Tab" => KeyCode::Tab,
            "BackTab" => KeyCode::BackTab,
            "Space" => KeyCode::Char(' '),
            "Up" => KeyCode::Up,
            "Down" => KeyCode::Down,
            "Left" => KeyCode::Left,
            "Right" => KeyCode::Right,
            "PageUp" => KeyCode::PageUp,
            "PageDown" => KeyCode::PageDown,
            "Home" => KeyCode::Home,
            "End" => KeyCode::End,
            one if one.chars().count() == 1 => KeyCode::Char(one.chars().next().unwrap_or(' ')),
            other => {
                return Err(format!(
                    "unknown key `{other}` (use e.g. q, Ctrl+j, Enter, Esc, Tab, Up, F-keys are not supported)"
                ))
            }
        };
        Ok(Key { code, mods })
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mods.contains(KeyModifiers::CONTROL) {
            f.write_str("^")?;
        }
        if self.mods.contains(KeyModifiers::ALT) {
            f.write_str("M-")?;
        }
        match self.code {
            KeyCode::Enter => f.write_str("Enter"),
            KeyCode::Esc => f.write_str("Esc"),
            KeyCode::Tab => f.write_str("Tab"),
            KeyCode::BackTab => f.write_str("S-Tab"),
            KeyCode::Char(' ') => f.write_str("Space"),
            KeyCode::Up => f.write_str("↑"),
            KeyCode::Down => f.write_str("↓"),
            KeyCode::Left => f.write_str("←"),
            KeyCode::Right => f.write_str("→"),
            KeyCode::PageUp => f.write_str("PgUp"),
            KeyCode::PageDown => f.write_str("PgDn"),
            KeyCode::Home => f.write_str("Home"),
            KeyCode::End => f.write_str("End"),
            KeyCode::Char(c) => write!(f, "{c}"),
            _ => f.write_str("?"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    pub context: Context,
    pub key: Key,
    pub action: Action,
    pub help: String,
    /// The footer's word for it (the most used keys only).
    pub footer: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Keymap {
    pub bindings: Vec<Binding>,
}

/// (context, key, action, help, footer label: the most used keys only)
const DEFAULTS: &[(Context, &str, Action, &str, Option<&str>)] = {
    use Action::*;
    use Context::*;
    &[
        (Board, "Enter", Open, "open the incident", Some("open")),
        (Board, "d", Declare, "declare an incident", Some("declare")),
        (
            Board,
            "f",
            BoardFilter,
            "filter: active / exercises / archived",
            Some("filter"),
        ),
        (Board, "Up", Up, "previous incident", None),
        (Board, "k", Up, "previous incident", None),
        (Board, "Down", Down, "next incident", None),
        (Board, "j", Down, "next incident", None),
        (Board, "?", Help, "help", Some("help")),
        (Board, "q", Quit, "quit", Some("quit")),
        (Board, "Ctrl+c", Quit, "quit", None),
        (
            Board,
            "!",
            Problems,
            "problems found in the shared directory; sync status",
            None,
        ),
        (Board, "M", Messages, "recent messages (the footer's log)", None),
        (Incident, "Esc", Back, "back to the board", Some("board")),
        (Incident, "q", Quit, "quit", None),
        (Incident, "Ctrl+c", Quit, "quit", None),
        (Incident, "?", Help, "help", Some("help")),
        (Incident, "Tab", NextPane, "next pane", Some("pane")),
        (Incident, "BackTab", PrevPane, "previous pane", None),
        (Incident, "n", Note, "add a note", Some("note")),
        (
            Incident,
            "u",
            Status,
            "status update (internal / external)",
            Some("status"),
        ),
        (Incident, "F", FollowUp, "record a follow-up", None),
        (Incident, "P", NextPhase, "move to the next phase", Some("phase")),
        (Incident, "S", Severity, "change severity", None),
        (Incident, "H", Handoff, "hand off command", None),
        (Incident, "R", AssignRole, "assign a role", None),
        (
            Incident,
            "!",
            Problems,
            "problems, clock-skew warnings, sync status",
            None,
        ),
        (Incident, "r", Retry, "retry writes that failed", None),
        (Incident, "M", Messages, "recent messages (the footer's log)", None),
        (
            Incident,
            "C",
            Clocks,
            "deadline clocks: every deadline, due, overdue, met or waived",
            None,
        ),
        (
            Incident,
            "w",
            JumpApproval,
            "jump to the next approval waiting for me",
            None,
        ),
        (Incident, "m", JumpMine, "jump to the next thing assigned to me", None),
        (Incident, "i", JumpRequired, "jump to the next open required item", None),
        (
            Incident,
            "[",
            ReplayPrev,
            "replay: as it stood a record earlier (Esc: live)",
            None,
        ),
        (Incident, "]", ReplayNext, "replay: one record later", None),
        (Incident, "{", ReplayBack, "replay: ten records earlier", None),
        (Incident, "}", ReplayForward, "replay: ten records later", None),
        (
            Incident,
            "V",
            Discovery,
            "set discovery to the earliest evidence (commander)",
            None,
        ),
        (
            Incident,
            "Z",
            Resolve,
            "resolve (asks first; warns of open required items)",
            None,
        ),
        (Incident, "O", Reopen, "reopen a resolved incident (asks why)", None),
        (Incident, "Y", Archive, "archive a resolved incident (asks first)", None),
        (
            Incident,
            "G",
            Classify,
            "record: classified as reportable (asks first)",
            None,
        ),
        (
            Incident,
            "T",
            Materiality,
            "record: materiality determined (asks first)",
            None,
        ),
        (
            Incident,
            "U",
            FollowUps,
            "follow-ups: list, mark done or cancelled",
            None,
        ),
        (
            Incident,
            "I",
            Review,
            "post-incident review: summary, root cause, questions",
            None,
        ),
        (Incident, "Up", Up, "move up", None),
        (Incident, "k", Up, "move up", None),
        (Incident, "Down", Down, "move down", None),
        (Incident, "j", Down, "move down", None),
        (Incident, "PageUp", PageUp, "page up", None),
        (Incident, "PageDown", PageDown, "page down", None),
        (Incident, "Home", Top, "first", None),
        (Incident, "End", Bottom, "last (timeline: follow new events)", None),
        (Checklist, "Left", Left, "previous phase", None),
        (Checklist, "h", Left, "previous phase", None),
        (Checklist, "Right", Right, "next phase tab", None),
        (Checklist, "l", Right, "next phase tab", None),
        (Checklist, "Space", ItemDone, "mark done", Some("done")),
        (Checklist, "x", ItemDone, "mark done", None),
        (
            Checklist,
            "b",
            ItemBlocked,
            "mark blocked (with a note)",
            Some("blocked"),
        ),
        (Checklist, "s", ItemSkipped, "mark skipped", None),
        (Checklist, "o", ItemOpen, "reopen", None),
        (Checklist, "a", Assign, "assign the item", None),
        (Actions, "p", Propose, "propose the action", Some("propose")),
        (Actions, "A", Approve, "approve", Some("approve")),
        (Actions, "g", Run, "mark running", None),
        (Actions, "D", ActionDone, "mark done", None),
        (Actions, "X", ActionFailed, "mark failed", None),
        (Actions, "B", RollBack, "mark rolled back", None),
        (Actions, "a", Assign, "assign the action", None),
        (
            Actions,
            "x",
            Execute,
            "run its command (approved, trusted, exec enabled; shows the exact command first)",
            None,
        ),
        (
            Actions,
            "z",
            ExecuteRollback,
            "run its rollback (after it failed or was done; asks first)",
            None,
        ),
        (Timeline, "/", Search, "search", Some("search")),
        (
            Timeline,
            "a",
            Respond,
            "answer the inject under the cursor (a note tied to it)",
            Some("answer"),
        ),
        (
            Timeline,
            "e",
            Amend,
            "amend the selected record (its author or the commander)",
            None,
        ),
        (Timeline, "x", Retract, "retract the selected record (asks why)", None),
        (
            Facilitator,
            "Space",
            PauseResume,
            "pause / resume the exercise clock",
            Some("pause"),
        ),
        (Facilitator, "+", Faster, "exercise clock twice as fast", Some("faster")),
        (Facilitator, "-", Slower, "exercise clock half as fast", Some("slower")),
        (
            Facilitator,
            "Enter",
            ReleaseNow,
            "release the selected inject now (objectives: rate it)",
            Some("release"),
        ),
        (Facilitator, "s", SkipInject, "skip the selected inject", Some("skip")),
        (
            Facilitator,
            "e",
            EvaluatorNote,
            "evaluator note on the selected inject, upcoming or released (private)",
            Some("note"),
        ),
        (
            Facilitator,
            "v",
            FacView,
            "list upcoming injects / released injects / objectives",
            Some("list"),
        ),
        (
            Facilitator,
            "o",
            RateObjective,
            "rate the selected objective: met, partly, not met, with a note (private)",
            None,
        ),
        (
            Facilitator,
            "E",
            EndExercise,
            "end the exercise (asks first)",
            Some("end"),
        ),
        (Timeline, "K", FilterKind, "filter by kind", None),
        (Timeline, "W", FilterAuthor, "filter by author", None),
        (Timeline, "L", LocalTime, "UTC / local time", None),
    ]
};

/// One override in `keys.ron`: `[(context: Checklist, key: "d", action: ItemDone)]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Override {
    context: Context,
    key: String,
    action: Action,
}

impl Default for Keymap {
    fn default() -> Keymap {
        Keymap {
            bindings: DEFAULTS
                .iter()
                .filter_map(|(context, key, action, help, footer)| {
                    Some(Binding {
                        context: *context,
                        key: Key::parse(key).ok()?,
                        action: *action,
                        help: help.to_string(),
                        footer: footer.map(str::to_string),
                    })
                })
                .collect(),
        }
    }
}

impl Keymap {
    /// Defaults patched by a user's RON overrides (a key bound anew replaces its old meaning).
    /// BOM and CRLF are allowed; errors are `file:line:col: message`, one a line.
    pub fn with_overrides(text: &str, file: &str) -> Result<Keymap, String> {
        let overrides: Vec<Override> = crate::domain::ron_input::parse_ron_strict(text).map_err(|ds| {
            ds.iter()
                .map(|d| format!("{file}:{}:{}: {}", d.line, d.col, d.message))
                .collect::<Vec<_>>()
                .join("\n")
        })?;
        let mut map = Keymap::default();
        for o in overrides {
            let key = Key::parse(&o.key).map_err(|e| format!("{file}: {e}"))?;
            let help = map
                .bindings
                .iter()
                .find(|b| b.action == o.action)
                .map_or_else(|| format!("{:?}", o.action), |b| b.help.clone());
            map.bindings.retain(|b| !(b.context == o.context && b.key == key));
            map.bindings.insert(
                0,
                Binding {
                    context: o.context,
                    key,
                    action: o.action,
                    help,
                    footer: None,
                },
            );
        }
        Ok(map)
    }

    /// The action for a key in the most specific of `contexts` (listed most specific first).
    pub fn lookup(&self, contexts: &[Context], key: Key) -> Option<Action> {
        contexts.iter().find_map(|c| {
            self.bindings
                .iter()
                .find(|b| b.context == *c && b.key == key)
                .map(|b| b.action)
        })
    }

    /// The first key bound to `action` in these contexts, as shown.
    pub fn key_for(&self, contexts: &[Context], action: Action) -> Option<String> {
        contexts.iter().find_map(|c| {
            self.bindings
                .iter()
                .find(|b| b.context == *c && b.action == action)
                .map(|b| b.key.to_string())
        })
    }

    /// `(keys, help)` for the footer of these contexts, in table order, one entry per action.
    pub fn footer(&self, contexts: &[Context]) -> Vec<(String, String)> {
        self.footer_where(contexts, |_| true)
    }

    /// The footer's entries for the actions `keep` lets through (observer mode: no writes).
    pub fn footer_where(&self, contexts: &[Context], keep: impl Fn(Action) -> bool) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for c in contexts {
            for b in self.bindings.iter().filter(|b| b.context == *c && keep(b.action)) {
                if let Some(label) = &b.footer {
                    if !out.iter().any(|(_, h)| h == label) {
                        out.push((b.key.to_string(), label.clone()));
                    }
                }
            }
        }
        out
    }

    /// Every binding of a context, keys of one action joined: `j/↓  move down`.
    pub fn help(&self, context: Context) -> Vec<(String, String)> {
        self.help_where(context, |_| true)
    }

    /// The help entries of a context for the actions `keep` lets through.
    pub fn help_where(&self, context: Context, keep: impl Fn(Action) -> bool) -> Vec<(String, String)> {
        let mut out: Vec<(Action, Vec<String>, String)> = Vec::new();
        for b in self.bindings.iter().filter(|b| b.context == context && keep(b.action)) {
            match out.iter_mut().find(|(a, _, _)| *a == b.action) {
                Some((_, keys, _)) => keys.push(b.key.to_string()),
                None => out.push((b.action, vec![b.key.to_string()], b.help.clone())),
            }
        }
        out.into_iter().map(|(_, k, h)| (k.join("/"), h)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_and_overrides_replace() {
        let map = Keymap::default();
        assert_eq!(map.bindings.len(), DEFAULTS.len());
        let q = Key::parse("q").unwrap();
        assert_eq!(map.lookup(&[Context::Board], q), Some(Action::Quit));
        let map = Keymap::with_overrides(
            r#"[(context: Board, key: "x", action: Quit), (context: Board, key: "q", action: Help)]"#,
            "keys.ron",
        )
        .unwrap();
        assert_eq!(
            map.lookup(&[Context::Board], Key::parse("x").unwrap()),
            Some(Action::Quit)
        );
        assert_eq!(map.lookup(&[Context::Board], q), Some(Action::Help));
        assert!(
            Keymap::with_overrides("[(context: Nope, key: \"x\", action: Quit)]", "k.ron")
                .unwrap_err()
                .starts_with("k.ron:1:")
        );
    }

    #[test]
    fn specific_context_wins() {
        let map = Keymap::default();
        let a = Key::parse("a").unwrap();
        assert_eq!(
            map.lookup(&[Context::Checklist, Context::Incident], a),
            Some(Action::Assign)
        );
        let ctrl_j = Key::parse("Ctrl+j").unwrap();
        assert!(ctrl_j.mods.contains(KeyModifiers::CONTROL));
    }
}
