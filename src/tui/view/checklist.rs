//! Phase checklists: a tab per phase with a progress gauge, the selected phase's items with their
//! required marker, role, state, and who set it when.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::{bar, fit, hhmmss, playbook_pane};
use crate::domain::describe::item_state_word;
use crate::domain::event::ItemState;
use crate::domain::{sanitize, Phase};
use crate::tui::model::{IncidentModel, Pane};
use crate::tui::theme::Theme;

pub fn glyph(s: ItemState) -> &'static str {
    match s {
        ItemState::Open => "☐",
        ItemState::Done => "✔",
        ItemState::Skipped => "↷",
        ItemState::Blocked => "✖",
    }
}

/// The phase's short name on a tab.
pub fn short(p: Phase) -> &'static str {
    match p {
        Phase::Preparation => "Prep",
        Phase::Identification => "Ident",
        Phase::Containment => "Contain",
        Phase::Eradication => "Erad",
        Phase::Recovery => "Recov",
        Phase::LessonsLearned => "Lessons",
    }
}

pub fn draw(frame: &mut Frame, area: Rect, inc: &IncidentModel, theme: &Theme) {
    let focused = inc.focus == Pane::Checklist;
    let Some((inner, pb)) = playbook_pane(frame, area, " Checklists ", focused, inc, theme) else {
        return;
    };
    let s = inc.state();
    let w = inner.width as usize;
    let tabs = tab_line(inc, pb, w, theme);
    let mut lines = vec![Line::from(tabs)];
    let items = pb.phases.get(inc.phase_tab);
    let done = items
        .iter()
        .filter(|i| matches!(s.item_state(&i.id), ItemState::Done | ItemState::Skipped))
        .count();
    let required_open = items
        .iter()
        .filter(|i| i.required && matches!(s.item_state(&i.id), ItemState::Open | ItemState::Blocked))
        .count();
    let gauge_w = w.saturating_sub(40).clamp(4, 20);
    // A narrow pane keeps the counts and drops the gauge (the tab above repeats done/total).
    let narrow = w < 50;
    lines.push(Line::from(vec![
        Span::styled(format!("{} ", inc.phase_tab.label()), theme.bold()),
        Span::styled(
            if narrow {
                String::new()
            } else {
                format!("{} ", bar(done, items.len(), gauge_w))
            },
            theme.good(),
        ),
        Span::raw(format!("{done}/{}{}", items.len(), if narrow { "" } else { " done" })),
        Span::styled(
            if required_open > 0 {
                format!(" · {required_open} required open")
            } else {
                String::new()
            },
            theme.warn(),
        ),
    ]));
    let rows = (inner.height as usize).saturating_sub(lines.len());
    let start = inc.item_sel.saturating_sub(rows.saturating_sub(1));
    for (i, item) in items.iter().enumerate().skip(start).take(rows) {
        let st = s.item_state(&item.id);
        let reg = s.derived.items.get(&item.id);
        let style = match st {
            ItemState::Done | ItemState::Skipped => theme.dim(),
            ItemState::Blocked => theme.bad(),
            ItemState::Open => theme.base(),
        };
        // Narrow panes keep the text and drop the role; who/when stays (it answers "who did it").
        let who = reg
            .map(|r| {
                format!(
                    " {} {}",
                    crate::domain::identity::person_of(&r.by),
                    hhmmss(r.when, inc.timeline.local_time)
                )
            })
            .unwrap_or_default();
        let role = match &item.role {
            Some(r) if w >= 70 => format!(" [{r}]"),
            _ => String::new(),
        };
        let assigned = s
            .derived
            .assignments
            .get(&crate::domain::event::Target::Item(item.id.clone()))
            .map(|r| format!(" →{}", r.value))
            .unwrap_or_default();
        // The state in a word beside its glyph (open is the unmarked case; Enter shows it too).
        let word = match st {
            ItemState::Open => String::new(),
            _ => format!("{} ", item_state_word(st)),
        };
        let head = format!("{}{} {word}", glyph(st), if item.required { "*" } else { " " });
        let tail = format!("{role}{assigned}{who}");
        let text_w = w.saturating_sub(super::width(&head) + super::width(&tail));
        let mut spans = vec![
            Span::styled(head, style),
            Span::styled(fit(&sanitize(&item.text), text_w), style),
            Span::styled(sanitize(&tail), theme.dim()),
        ];
        if i == inc.item_sel && focused {
            spans = spans.into_iter().map(|s| s.patch_style(theme.selected())).collect();
        }
        lines.push(Line::from(spans));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

/// Two letters for a phase, where the tab line is narrow.
pub fn initials(p: Phase) -> &'static str {
    match p {
        Phase::Preparation => "Pr",
        Phase::Identification => "Id",
        Phase::Containment => "Co",
        Phase::Eradication => "Er",
        Phase::Recovery => "Re",
        Phase::LessonsLearned => "LL",
    }
}

/// The tab line: all six phases, always. As wide as it can be: short names with done/total;
/// else two letters with done/total; else two letters, with the selected tab's name and count
/// whole (the line below it repeats them with a gauge). ▶ marks the incident's phase.
pub fn tab_line(inc: &IncidentModel, pb: &crate::domain::Playbook, w: usize, theme: &Theme) -> Vec<Span<'static>> {
    let s = inc.state();
    let labels = |level: u8| -> Vec<(Phase, String)> {
        Phase::ALL
            .iter()
            .map(|&p| {
                let items = pb.phases.get(p);
                let done = items
                    .iter()
                    .filter(|i| matches!(s.item_state(&i.id), ItemState::Done | ItemState::Skipped))
                    .count();
                let mark = if s.phase() == p { "▶" } else { "" };
                let count = format!(" {done}/{}", items.len());
                let label = match level {
                    0 => format!("{mark}{}{count}", short(p)),
                    1 => format!("{mark}{}{count}", initials(p)),
                    _ if p == inc.phase_tab => format!("{mark}{}{count}", short(p)),
                    _ => format!("{mark}{}", initials(p)),
                };
                (p, label)
            })
            .collect()
    };
    let total = |l: &[(Phase, String)]| l.iter().map(|(_, t)| super::width(t) + 1).sum::<usize>();
    let chosen = (0..3)
        .map(labels)
        .find(|l| total(l) <= w + 1)
        .unwrap_or_else(|| labels(2));
    let mut tabs = Vec::new();
    for (p, label) in chosen {
        let style = if p == inc.phase_tab {
            theme.selected()
        } else if s.phase() == p {
            theme.bold()
        } else {
            theme.dim()
        };
        tabs.push(Span::styled(label, style));
        tabs.push(Span::raw(" "));
    }
    tabs
}
