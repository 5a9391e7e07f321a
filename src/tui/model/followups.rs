//! Follow-ups: created with `F` (type, owner, due date, text; from the selected timeline row when
//! the timeline has the focus) and listed with `U`, where `d`, `c` and `o` mark the selected one
//! done, cancelled or open again.

use super::*;

/// A follow-up being created, carried from one question to the next.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FollowUpDraft {
    pub kind: String,
    pub owner: Option<String>,
    pub due: Option<Millis>,
    /// The id of the timeline record it is created from.
    pub from: Option<String>,
}

/// `F`: ask the type first.
pub(super) fn start_follow_up(m: &mut Model) -> Vec<Effect> {
    let Some(inc) = m.incident.as_ref() else {
        return Vec::new();
    };
    let from = match inc.focus {
        Pane::Timeline => super::timeline::cursor(inc).map(|e| e.id.to_string()),
        _ => None,
    };
    m.overlay = Some(Overlay::Picker(Picker {
        title: "Follow-up type".into(),
        options: FOLLOW_UP_KINDS.iter().map(|k| k.to_string()).collect(),
        sel: 0,
        purpose: PickPurpose::FollowUpKind(FollowUpDraft {
            from,
            ..FollowUpDraft::default()
        }),
    }));
    Vec::new()
}

pub(super) const NOBODY: &str = "(no owner yet)";
/// The last option of the owner picker: type a name that is not listed.
pub(super) const SOMEONE_ELSE: &str = "(someone else: type a name)";

/// The follow-ups overlay's keys.
pub(super) fn follow_ups_key(m: &mut Model, mut sel: usize, k: KeyEvent) -> Vec<Effect> {
    let list = m.incident.as_ref().map(|i| i.state().follow_ups()).unwrap_or_default();
    let state = match k.code {
        KeyCode::Esc | KeyCode::Char('q' | 'U') => return Vec::new(),
        KeyCode::Up | KeyCode::Char('k') => {
            sel = sel.saturating_sub(1);
            None
        }
        KeyCode::Down | KeyCode::Char('j') => {
            sel = (sel + 1).min(list.len().saturating_sub(1));
            None
        }
        KeyCode::Char('d') => Some(FollowUpState::Done),
        KeyCode::Char('c') => Some(FollowUpState::Cancelled),
        KeyCode::Char('o') => Some(FollowUpState::Open),
        KeyCode::Char('F') => {
            return start_follow_up(m);
        }
        _ => None,
    };
    m.overlay = Some(Overlay::FollowUps { sel });
    let (Some(state), Some(f)) = (state, list.get(sel)) else {
        return Vec::new();
    };
    if f.state == state {
        m.flash("it is already so", false);
        return Vec::new();
    }
    let label = format!("follow-up {state:?}");
    write(
        m,
        label,
        vec![FollowUpSet {
            followup: f.id.clone(),
            state,
            owner: None,
            due: None,
            note: None,
        }
        .into()],
    )
}

/// The review overlay's keys: move, `Enter` edits the selected field's answer.
pub(super) fn review_key(m: &mut Model, mut sel: usize, k: KeyEvent) -> Vec<Effect> {
    let fields = m
        .incident
        .as_ref()
        .map(|i| i.state().review_fields())
        .unwrap_or_default();
    match k.code {
        KeyCode::Esc | KeyCode::Char('q' | 'I') => return Vec::new(),
        KeyCode::Up | KeyCode::Char('k') => sel = sel.saturating_sub(1),
        KeyCode::Down | KeyCode::Char('j') => sel = (sel + 1).min(fields.len().saturating_sub(1)),
        KeyCode::Enter => {
            if let Some((field, _, answer)) = fields.get(sel) {
                let mut ed = Editor::new(EditorPurpose::Review, answer.map_or("", |r| r.value.as_str()));
                ed.item = Some(field.clone());
                m.overlay = Some(Overlay::Editor(ed));
                return Vec::new();
            }
        }
        _ => {}
    }
    m.overlay = Some(Overlay::Review { sel });
    Vec::new()
}
