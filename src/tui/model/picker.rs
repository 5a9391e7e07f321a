//! Pickers: severity, people, roles, audiences, playbooks.

use super::*;
use crate::domain::template;

#[derive(Debug, Clone, PartialEq)]
pub enum PickPurpose {
    Severity,
    Assign(Target),
    Role,
    RolePerson(String),
    /// The audiences offered, in the order of the options.
    StatusAudience(Vec<Audience>),
    DeclarePlaybook,
    /// Rate this objective of the exercise (the facilitator's, private).
    Rating(String),
    FollowUpKind(FollowUpDraft),
    FollowUpOwner(FollowUpDraft),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Picker {
    pub title: String,
    pub options: Vec<String>,
    pub sel: usize,
    pub purpose: PickPurpose,
}

pub(super) fn picker_key(m: &mut Model, mut p: Picker, k: KeyEvent) -> Vec<Effect> {
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
pub(super) fn picker_writes(p: &Picker) -> bool {
    matches!(p.purpose, PickPurpose::Assign(_) | PickPurpose::RolePerson(_))
}

pub(super) fn choose(m: &mut Model, p: Picker) -> Vec<Effect> {
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
        PickPurpose::RolePerson(role) if role == COMMANDER => {
            // Handing off command is the commander's biggest decision: it is confirmed.
            m.overlay = Some(Overlay::Confirm(Confirm::Handoff { to: choice }));
            Vec::new()
        }
        PickPurpose::RolePerson(role) => write(
            m,
            format!("{role} → {choice}"),
            vec![RoleAssigned { role, who: choice }.into()],
        ),
        PickPurpose::StatusAudience(audiences) => {
            let Some(audience) = audiences.get(p.sel).copied() else {
                return Vec::new();
            };
            let (template, kept) = match m.incident.as_ref() {
                Some(i) => (
                    status_template(i, audience, m.now),
                    i.status_drafts.get(&audience).filter(|t| !t.trim().is_empty()).cloned(),
                ),
                None => (String::new(), None),
            };
            if kept.is_some() {
                m.flash(
                    format!(
                        "your {} draft is back; Ctrl+R starts again from the template",
                        audience.word()
                    ),
                    false,
                );
            }
            let mut ed = Editor::new(EditorPurpose::Status(audience), kept.as_deref().unwrap_or(&template));
            ed.template = Some(template);
            m.overlay = Some(Overlay::Editor(ed));
            Vec::new()
        }
        PickPurpose::Rating(objective) => super::facilitator::rating_picked(m, objective, p.sel),
        PickPurpose::FollowUpKind(mut d) => {
            d.kind = choice;
            let mut people = m.incident.as_ref().map(|i| i.people(&m.person)).unwrap_or_default();
            people.insert(0, NOBODY.to_string());
            people.push(super::followups::SOMEONE_ELSE.to_string());
            m.overlay = Some(Overlay::Picker(Picker {
                title: "Who owns it".into(),
                options: people,
                sel: 0,
                purpose: PickPurpose::FollowUpOwner(d),
            }));
            Vec::new()
        }
        PickPurpose::FollowUpOwner(d) if choice == super::followups::SOMEONE_ELSE => {
            let mut ed = Editor::new(EditorPurpose::FollowUpOwnerName, "");
            ed.follow = Some(d);
            m.overlay = Some(Overlay::Editor(ed));
            Vec::new()
        }
        PickPurpose::FollowUpOwner(mut d) => {
            d.owner = (choice != NOBODY).then_some(choice);
            let mut ed = Editor::new(EditorPurpose::FollowUpDue, "+14d");
            ed.follow = Some(d);
            m.overlay = Some(Overlay::Editor(ed));
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

/// The playbook's first template for the audience, with the incident's facts filled in (see
/// [`crate::domain::template`]); empty when the playbook has none for it.
pub fn status_template(inc: &IncidentModel, audience: Audience, now: Millis) -> String {
    let Some(pb) = inc.playbook() else {
        return String::new();
    };
    template::first_for(pb, audience)
        .map(|t| template::fill(&t.text, inc.state(), pb, now))
        .unwrap_or_default()
}

/// `u`: internal and external always, then the audiences the playbook names; one with a kept
/// draft says so.
pub fn status_picker(inc: &IncidentModel) -> Picker {
    let audiences = template::audiences(inc.playbook());
    let options = audiences
        .iter()
        .map(|a| {
            let kept = inc.status_drafts.get(a).is_some_and(|t| !t.trim().is_empty());
            let title = inc
                .playbook()
                .and_then(|p| template::first_for(p, *a))
                .map(|t| {
                    // "Executives: leadership briefing" after "executives" says it twice.
                    let title = crate::domain::sanitize(&t.title);
                    let short = title
                        .split_once(':')
                        .filter(|(head, _)| head.trim().eq_ignore_ascii_case(a.word()))
                        .map_or(title.as_str(), |(_, rest)| rest.trim());
                    format!(" — {short}")
                })
                .unwrap_or_default();
            format!("{}{}{title}", a.word(), if kept { " (draft kept)" } else { "" })
        })
        .collect();
    Picker {
        title: "Status update (recorded, not sent) for".into(),
        options,
        sel: 0,
        purpose: PickPurpose::StatusAudience(audiences),
    }
}
