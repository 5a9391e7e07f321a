//! Overlays that are read, not answered: help, problems, the message log and the full text of what
//! the cursor is on. They scroll (a line, a page, to either end), `Esc` and `Enter` close them, and
//! the detail of an action copies its command or rollback.

use super::*;
use crate::tui::view::dialogs;

/// A scroll key's new position, or `None` if the key does not scroll.
pub(super) fn scrolled(k: &KeyEvent, scroll: usize, page: usize) -> Option<usize> {
    Some(match k.code {
        KeyCode::Down | KeyCode::Char('j') => scroll + 1,
        KeyCode::Up | KeyCode::Char('k') => scroll.saturating_sub(1),
        KeyCode::PageDown | KeyCode::Char(' ') => scroll + page,
        KeyCode::PageUp => scroll.saturating_sub(page),
        KeyCode::Home | KeyCode::Char('g') => 0,
        KeyCode::End | KeyCode::Char('G') => usize::MAX,
        _ => return None,
    })
}

/// Scroll the dialog on screen (help, problems, messages, a detail or a confirmation), never past
/// its end at the terminal's size.
pub(super) fn scroll_dialog(m: &mut Model, k: &KeyEvent) -> bool {
    let current = match &m.overlay {
        Some(
            Overlay::Help { scroll }
            | Overlay::Problems { scroll }
            | Overlay::Messages { scroll }
            | Overlay::Clocks { scroll },
        ) => *scroll,
        Some(Overlay::Detail | Overlay::Confirm(_)) => m.dialog_scroll,
        _ => return false,
    };
    let Some(new) = scrolled(k, current, dialogs::page(m)) else {
        return false;
    };
    let new = new.min(dialogs::max_scroll(m));
    match &mut m.overlay {
        Some(
            Overlay::Help { scroll }
            | Overlay::Problems { scroll }
            | Overlay::Messages { scroll }
            | Overlay::Clocks { scroll },
        ) => *scroll = new,
        _ => m.dialog_scroll = new,
    }
    true
}

/// Keys of a read-only overlay.
pub(super) fn reader_key(m: &mut Model, o: Overlay, k: KeyEvent) -> Vec<Effect> {
    let closes = matches!(
        (&o, k.code),
        (_, KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q'))
            | (Overlay::Help { .. }, KeyCode::Char('?'))
            | (Overlay::Problems { .. }, KeyCode::Char('!'))
            | (Overlay::Messages { .. }, KeyCode::Char('M'))
            | (Overlay::Clocks { .. }, KeyCode::Char('C'))
    );
    if closes {
        return Vec::new();
    }
    // The message log is one key away from any reader (a detail's copy says where it saved).
    if k.code == KeyCode::Char('M') {
        m.overlay = Some(Overlay::Messages { scroll: usize::MAX });
        let end = dialogs::max_scroll(m);
        m.overlay = Some(Overlay::Messages { scroll: end });
        return Vec::new();
    }
    let detail = matches!(o, Overlay::Detail);
    if matches!(o, Overlay::Clocks { .. }) && k.code == KeyCode::Char('d') {
        return accept_discovery(m);
    }
    m.overlay = Some(o);
    if detail {
        match k.code {
            KeyCode::Char('c') => return copy_action(m, false),
            KeyCode::Char('R') => return copy_action(m, true),
            KeyCode::Char('x' | 'z') if m.incident.as_ref().is_some_and(|i| i.focus == Pane::Actions) => {
                m.overlay = None;
                return ask_exec(m, k.code == KeyCode::Char('z'));
            }
            _ => {}
        }
    }
    scroll_dialog(m, &k);
    Vec::new()
}

/// Copy the selected action's command (or rollback), as shown: sanitized, line by line.
fn copy_action(m: &mut Model, rollback: bool) -> Vec<Effect> {
    let Some(inc) = m.incident.as_ref().filter(|i| i.focus == Pane::Actions) else {
        return Vec::new();
    };
    let Some(a) = inc.selected_action() else {
        return Vec::new();
    };
    let (what, text) = if rollback {
        ("rollback", a.rollback.as_deref())
    } else {
        ("command", a.command.as_deref())
    };
    let Some(text) = text else {
        m.flash(format!("{} has no {what}", a.id), true);
        return Vec::new();
    };
    let text = crate::domain::sanitize_lines(text).join("\n");
    let id = crate::domain::sanitize(&a.id);
    vec![Effect::Copy {
        what: format!("the {what} of {id}"),
        name: format!("{}-{id}-{what}.txt", inc.id),
        text,
    }]
}

/// Propose moving discovery back to the earliest evidence: the commander only (refused here
/// first, with the fold's words), asked why (prefilled), then confirmed.
pub(super) fn accept_discovery(m: &mut Model) -> Vec<Effect> {
    let Some(inc) = m.incident.as_ref() else {
        return Vec::new();
    };
    let Some(n) = crate::domain::deadline::discovery_nudge(inc.state()) else {
        m.flash("no record is earlier than the discovery time: nothing to move", false);
        return Vec::new();
    };
    let probe: Body = DiscoverySet {
        discovered: n.evidence,
        reason: n.reason(),
    }
    .into();
    if let Err(v) = inc.state().check(&probe, &m.me, m.now) {
        m.flash(format!("{v} (refused)"), true);
        return Vec::new();
    }
    m.overlay = Some(Overlay::Editor(Editor::new(
        EditorPurpose::Discovery(n.evidence),
        &n.reason(),
    )));
    Vec::new()
}
