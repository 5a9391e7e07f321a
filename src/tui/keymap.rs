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
    FilterKind,
    FilterAuthor,
    LocalTime,
    Retry,
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
            other => return Err(format!("unknown key `{other}` (use e.g. q, Ctrl+j, Enter, Esc, Tab, Up, F-keys are not supported)")),
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
    /// Shown in the footer (the most used keys only).
    pub footer: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Keymap {
    pub bindings: Vec<Binding>,
}

const DEFAULTS: &[(Context, &str, Action, &str, bool)] = {
    use Action::*;
    use Context::*;
    &[
        (Board, "Enter", Open, "open the incident", true),
        (Board, "d", Declare, "declare an incident", true),
        (
            Board,
            "f",
            BoardFilter,
            "filter: active / exercises / archived",
            true,
        ),
        (Board, "Up", Up, "previous incident", false),
        (Board, "k", Up, "previous incident", false),
        (Board, "Down", Down, "next incident", false),
        (Board, "j", Down, "next incident", false),
        (Board, "?", Help, "help", true),
        (Board, "q", Quit, "quit", true),
        (
            Board,
            "!",
            Problems,
            "problems found in the shared directory",
            false,
        ),
        (Incident, "Esc", Back, "back to the board", true),
        (Incident, "q", Quit, "quit", false),
        (Incident, "?", Help, "help", true),
        (Incident, "Tab", NextPane, "next pane", true),
        (Incident, "BackTab", PrevPane, "previous pane", false),
        (Incident, "n", Note, "add a note", true),
        (
            Incident,
            "u",
            Status,
            "status update (internal / external)",
            true,
        ),
        (Incident, "F", FollowUp, "record a follow-up", false),
        (Incident, "P", NextPhase, "move to the next phase", true),
        (Incident, "S", Severity, "change severity", false),
        (Incident, "H", Handoff, "hand off command", false),
        (Incident, "R", AssignRole, "assign a role", false),
        (
            Incident,
            "!",
            Problems,
            "problems and clock-skew warnings",
            false,
        ),
        (Incident, "r", Retry, "retry writes that failed", false),
        (Incident, "Up", Up, "move up", false),
        (Incident, "k", Up, "move up", false),
        (Incident, "Down", Down, "move down", false),
        (Incident, "j", Down, "move down", false),
        (Incident, "PageUp", PageUp, "page up", false),
        (Incident, "PageDown", PageDown, "page down", false),
        (Incident, "Home", Top, "first", false),
        (
            Incident,
            "End",
            Bottom,
            "last (timeline: follow new events)",
            false,
        ),
        (Checklist, "Left", Left, "previous phase", false),
        (Checklist, "h", Left, "previous phase", false),
        (Checklist, "Right", Right, "next phase tab", false),
        (Checklist, "l", Right, "next phase tab", false),
        (Checklist, "Space", ItemDone, "mark done", true),
        (Checklist, "x", ItemDone, "mark done", false),
        (
            Checklist,
            "b",
            ItemBlocked,
            "mark blocked (with a note)",
            true,
        ),
        (Checklist, "s", ItemSkipped, "mark skipped", false),
        (Checklist, "o", ItemOpen, "reopen", false),
        (Checklist, "a", Assign, "assign the item", false),
        (Actions, "p", Propose, "propose the action", true),
        (Actions, "A", Approve, "approve", true),
        (Actions, "g", Run, "mark running", false),
        (Actions, "D", ActionDone, "mark done", false),
        (Actions, "X", ActionFailed, "mark failed", false),
        (Actions, "B", RollBack, "mark rolled back", false),
        (Actions, "a", Assign, "assign the action", false),
        (Timeline, "/", Search, "search", true),
        (Timeline, "K", FilterKind, "filter by kind", false),
        (Timeline, "W", FilterAuthor, "filter by author", false),
        (Timeline, "L", LocalTime, "UTC / local time", false),
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
                        footer: *footer,
                    })
                })
                .collect(),
        }
    }
}

impl Keymap {
    /// Defaults patched by a user's RON overrides (a key bound anew replaces its old meaning).
    pub fn with_overrides(text: &str, file: &str) -> Result<Keymap, String> {
        let overrides: Vec<Override> = ron::from_str(text).map_err(|e| {
            format!(
                "{file}:{}:{}: {}",
                e.span.start.line, e.span.start.col, e.code
            )
        })?;
        let mut map = Keymap::default();
        for o in overrides {
            let key = Key::parse(&o.key).map_err(|e| format!("{file}: {e}"))?;
            let help = map
                .bindings
                .iter()
                .find(|b| b.action == o.action)
                .map_or_else(|| format!("{:?}", o.action), |b| b.help.clone());
            map.bindings
                .retain(|b| !(b.context == o.context && b.key == key));
            map.bindings.insert(
                0,
                Binding {
                    context: o.context,
                    key,
                    action: o.action,
                    help,
                    footer: false,
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

    /// `(keys, help)` for the footer of these contexts, in table order, one entry per action.
    pub fn footer(&self, contexts: &[Context]) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for c in contexts {
            for b in self.bindings.iter().filter(|b| b.context == *c && b.footer) {
                if !out.iter().any(|(_, h)| *h == b.help) {
                    out.push((b.key.to_string(), short(&b.help)));
                }
            }
        }
        out
    }

    /// Every binding of a context, keys of one action joined: `j/↓  move down`.
    pub fn help(&self, context: Context) -> Vec<(String, String)> {
        let mut out: Vec<(Action, Vec<String>, String)> = Vec::new();
        for b in self.bindings.iter().filter(|b| b.context == context) {
            match out.iter_mut().find(|(a, _, _)| *a == b.action) {
                Some((_, keys, _)) => keys.push(b.key.to_string()),
                None => out.push((b.action, vec![b.key.to_string()], b.help.clone())),
            }
        }
        out.into_iter().map(|(_, k, h)| (k.join("/"), h)).collect()
    }
}

fn short(help: &str) -> String {
    help.split([' ', '(']).next().unwrap_or(help).to_string()
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
        let map = Keymap::with_overrides(r#"[(context: Board, key: "x", action: Quit), (context: Board, key: "q", action: Help)]"#, "keys.ron").unwrap();
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
