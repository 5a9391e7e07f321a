//! The declare form: playbook, title, severity.

use super::*;

/// The declare form: playbook, title, severity.
#[derive(Debug, Clone, PartialEq)]
pub struct DeclareForm {
    pub playbook: usize,
    pub severity: u8,
    pub title: String,
}

pub(super) fn declare_key(m: &mut Model, mut f: DeclareForm, k: KeyEvent) -> Vec<Effect> {
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
