//! The "Now" strip: the commander's first questions — what is blocked, what awaits approval, what is
//! mine, what is due next.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::domain::deadline;
use crate::domain::event::{ActionState, ItemState, Target};
use crate::domain::playbook::Approval;
use crate::domain::sanitize;
use crate::domain::time::format_age;
use crate::tui::model::{IncidentModel, Model};
use crate::tui::theme::Theme;

pub struct Facts {
    pub blocked: Vec<(String, Option<String>, i64)>,
    pub awaiting: Vec<String>,
    pub mine: Vec<String>,
    pub next_due: Option<(String, i64)>,
}

pub fn facts(m: &Model, inc: &IncidentModel) -> Facts {
    let s = inc.state();
    let d = &s.derived;
    let blocked = d
        .items
        .iter()
        .filter(|(_, r)| r.value.state == ItemState::Blocked)
        .map(|(id, r)| (id.clone(), r.value.note.clone(), m.now - r.when))
        .collect();
    let awaiting = d
        .actions
        .iter()
        .filter(|(id, r)| {
            r.value.state == ActionState::Proposed
                && inc
                    .playbook()
                    .and_then(|p| p.action(id))
                    .is_some_and(|a| a.approval != Approval::None)
        })
        .map(|(id, _)| id.clone())
        .collect();
    let mine = d
        .assignments
        .iter()
        .filter(|(_, r)| r.value == m.person)
        .filter(|(t, _)| match t {
            Target::Item(i) => matches!(s.item_state(i), ItemState::Open | ItemState::Blocked),
            Target::Action(a) => !d
                .actions
                .get(a)
                .is_some_and(|r| matches!(r.value.state, ActionState::Done | ActionState::RolledBack)),
        })
        .map(|(t, _)| t.id().to_string())
        .collect();
    let next_due = inc
        .playbook()
        .and_then(|p| deadline::next(s, p, m.now))
        .and_then(|d| Some((format!("{}: {}", d.name, d.stage), d.due? - m.now)));
    Facts {
        blocked,
        awaiting,
        mine,
        next_due,
    }
}

pub fn draw(frame: &mut Frame, area: Rect, m: &Model, inc: &IncidentModel, theme: &Theme) {
    let f = facts(m, inc);
    let mut a = Vec::new();
    if f.blocked.is_empty() {
        a.push(Span::styled("▲ nothing blocked", theme.dim()));
    } else {
        a.push(Span::styled(format!("▲ BLOCKED {}: ", f.blocked.len()), theme.bad()));
        let parts: Vec<String> = f
            .blocked
            .iter()
            .map(|(id, note, age)| match note {
                Some(n) => format!("{id} ({}, {})", sanitize(n), format_age(*age)),
                None => format!("{id} ({})", format_age(*age)),
            })
            .collect();
        a.push(Span::raw(parts.join("; ")));
    }
    // The clock first: the time left is what gets cut last on a narrow terminal.
    let mut b = Vec::new();
    b.push(Span::styled("⏰ ", theme.bold()));
    b.push(match &f.next_due {
        Some((what, left)) => Span::raw(format!(
            "{} due in {}",
            super::fit(&sanitize(what), (area.width as usize / 3).max(12)),
            format_age(*left)
        )),
        None => Span::styled("no deadline running", theme.dim()),
    });
    if f.awaiting.is_empty() {
        b.push(Span::styled("  ⧗ no approvals waiting", theme.dim()));
    } else {
        b.push(Span::styled(
            format!("  ⧗ {} to approve: ", f.awaiting.len()),
            theme.warn(),
        ));
        b.push(Span::raw(f.awaiting.join(", ")));
    }
    b.push(Span::styled("  ☛ mine: ", theme.bold()));
    b.push(Span::raw(if f.mine.is_empty() {
        "-".to_string()
    } else {
        f.mine.join(", ")
    }));
    let lines = if area.height >= 2 {
        vec![Line::from(a), Line::from(b)]
    } else {
        let mut one = a;
        one.push(Span::raw("  "));
        one.extend(b);
        vec![Line::from(one)]
    };
    frame.render_widget(Paragraph::new(lines), area);
}
