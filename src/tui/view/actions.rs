//! The containment action panel: short- and long-term actions with state, owner and approver.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::{fit, playbook_pane};
use crate::domain::describe::action_state_word;
use crate::domain::event::{ActionState, Target};
use crate::domain::identity::person_of;
use crate::domain::playbook::{Approval, Term};
use crate::domain::sanitize;
use crate::tui::model::{IncidentModel, Pane};
use crate::tui::theme::Theme;

pub fn glyph(s: Option<ActionState>) -> &'static str {
    match s {
        None => "·",
        Some(ActionState::Proposed) => "?",
        Some(ActionState::Approved) => "✓",
        Some(ActionState::Running) => "▶",
        Some(ActionState::Done) => "✔",
        Some(ActionState::Failed) => "✖",
        Some(ActionState::RolledBack) => "↶",
        Some(ActionState::DryRun) => "⊘",
    }
}

pub fn draw(frame: &mut Frame, area: Rect, inc: &IncidentModel, theme: &Theme) {
    let focused = inc.focus == Pane::Actions;
    let Some((inner, pb)) = playbook_pane(frame, area, " Containment actions ", focused, inc, theme) else {
        return;
    };
    let s = inc.state();
    let w = inner.width as usize;
    let rows = inner.height as usize;
    let start = inc.action_sel.saturating_sub(rows.saturating_sub(1));
    let mut lines = Vec::new();
    for (i, a) in pb.actions.iter().enumerate().skip(start).take(rows) {
        let rec = s.derived.actions.get(&a.id).map(|r| &r.value);
        let st = rec.map(|r| r.state);
        let style = match st {
            Some(ActionState::Proposed) => theme.warn(),
            Some(ActionState::Failed) => theme.bad(),
            Some(ActionState::Done | ActionState::DryRun) => theme.good(),
            Some(ActionState::Running) => theme.bold(),
            _ => theme.base(),
        };
        let term = match a.term {
            Term::Short => "S",
            Term::Long => "L",
        };
        let approval = match a.approval {
            Approval::None => "",
            Approval::Commander => " IC",
            Approval::TwoPerson => " 2P",
        };
        let owner = s
            .derived
            .assignments
            .get(&Target::Action(a.id.clone()))
            .map(|r| r.value.clone())
            .or_else(|| rec.and_then(|r| r.proposer.as_deref()).map(person_of));
        let approver = rec.and_then(|r| r.approver.as_deref()).map(person_of);
        let who = match (owner, approver) {
            (Some(o), Some(a)) => format!(" {o}/✓{a}"),
            (Some(o), None) => format!(" {o}"),
            _ => String::new(),
        };
        let head = format!("{} {term}{approval:<3} ", glyph(st));
        let state = st.map_or(String::new(), |s| format!(" {}", action_state_word(s)));
        let tail = format!("{state}{}", sanitize(&who));
        let title_w = w.saturating_sub(super::width(&head) + super::width(&tail));
        let mut spans = vec![
            Span::styled(head, style),
            Span::styled(fit(&sanitize(&a.title), title_w), theme.base()),
            Span::styled(tail, style),
        ];
        if i == inc.action_sel && focused {
            spans = spans.into_iter().map(|s| s.patch_style(theme.selected())).collect();
        }
        lines.push(Line::from(spans));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}
