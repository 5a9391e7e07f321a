//! The "Now" strip: the commander's first questions — what is blocked, what awaits approval, what is
//! mine, what is due next.
//!
//! At 80 columns every count and the time left are whole, and each part says which key jumps to
//! it. The first line is what is due and what is stuck (overdue deadlines — they never disappear —
//! else the next deadline, then blocked items), the second the nudges everyone sees (no
//! commander, update overdue, required items open, approvals waiting) and what waits for people
//! (approvals, then what is mine); names fill the room left, in that order, as many whole as fit
//! and `+N` for the rest.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::{fit, width};
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
    /// Deadline stages past due and neither met nor waived: what, and by how much (ms).
    pub overdue: Vec<(String, i64)>,
    /// Nudges everyone sees (no commander, update overdue, …), loud ones first.
    pub nudges: Vec<crate::domain::cadence::Nudge>,
}

pub fn facts(m: &Model, inc: &IncidentModel) -> Facts {
    let s = inc.state();
    let d = &s.derived;
    let blocked = d
        .items
        .iter()
        .filter(|(_, r)| r.value.state == ItemState::Blocked)
        .map(|(id, r)| (id.clone(), r.value.note.clone(), m.view_now() - r.when))
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
        .and_then(|p| deadline::next(s, p, m.view_now()))
        .and_then(|d| Some((format!("{}: {}", d.name, d.stage), d.due? - m.view_now())));
    let overdue = inc
        .playbook()
        .map(|p| deadline::clocks(s, p, m.view_now()))
        .unwrap_or_default()
        .into_iter()
        .filter_map(|c| match c.state {
            deadline::ClockState::Overdue { by_ms } => Some((format!("{}: {}", c.name, c.stage), by_ms)),
            _ => None,
        })
        .collect();
    let nudges = crate::domain::cadence::nudges(s, inc.playbook(), m.view_now());
    Facts {
        blocked,
        awaiting,
        mine,
        next_due,
        overdue,
        nudges,
    }
}

/// `a, b +2`: as many whole names as fit in `budget` columns and how many more there are; the
/// first name is cut with an ellipsis rather than left out when there is room for a few letters.
pub fn names_fit(names: &[String], budget: usize) -> Option<String> {
    let mut out = String::new();
    for (i, n) in names.iter().enumerate() {
        let rest = names.len() - i - 1;
        let more = if rest > 0 { format!(" +{rest}") } else { String::new() };
        let sep = if i == 0 { "" } else { ", " };
        let cand = format!("{out}{sep}{n}");
        if width(&cand) + width(&more) <= budget {
            out = cand;
            continue;
        }
        let more = format!(" +{}", names.len() - i);
        if i == 0 {
            let room = budget.saturating_sub(width(&format!(" +{rest}")) * usize::from(rest > 0));
            if room < 8 {
                return None;
            }
            let tail = if rest > 0 { format!(" +{rest}") } else { String::new() };
            return Some(format!("{}{tail}", fit(n, room)));
        }
        return Some(format!("{out}{more}"));
    }
    (!out.is_empty()).then_some(out)
}

/// One part of the strip: a head always shown, names if they fit, a tail (the jump key).
struct Part {
    head: String,
    names: Vec<String>,
    tail: String,
    style: Style,
}

impl Part {
    fn short(&self) -> usize {
        width(&self.head) + width(&self.tail)
    }
}

/// Lay parts on one line of `w` columns: every head and tail, then names by priority.
fn line_of(parts: Vec<Part>, w: usize, theme: &Theme) -> Line<'static> {
    let sep = 2;
    let mut left = w.saturating_sub(parts.iter().map(Part::short).sum::<usize>() + sep * parts.len().saturating_sub(1));
    let mut spans = Vec::new();
    let names_in = |p: &Part, budget: usize| -> Option<String> {
        if p.names.is_empty() || budget < 4 {
            return None;
        }
        names_fit(&p.names, budget - 2).map(|n| format!(": {n}"))
    };
    // A fair share each first (one long note must not hide the rest), then what is left over
    // goes to the parts in order.
    let with_names = parts.iter().filter(|p| !p.names.is_empty()).count().max(1);
    let share = left / with_names;
    let mut filled: Vec<Option<String>> = parts.iter().map(|p| names_in(p, share)).collect();
    left = left.saturating_sub(filled.iter().map(|n| n.as_deref().map_or(0, width)).sum());
    for (p, names) in parts.iter().zip(filled.iter_mut()) {
        let had = names.as_deref().map_or(0, width);
        if let Some(more) = names_in(p, had + left) {
            left = (had + left).saturating_sub(width(&more));
            *names = Some(more);
        }
    }
    for (i, (p, names)) in parts.into_iter().zip(filled).enumerate() {
        if i > 0 {
            spans.push(Span::raw("  "));
        }
        spans.push(Span::styled(p.head, p.style));
        if let Some(n) = names {
            spans.push(Span::raw(n));
        }
        spans.push(Span::styled(p.tail, theme.dim()));
    }
    Line::from(spans)
}

pub fn lines(m: &Model, inc: &IncidentModel, w: usize, rows: u16, theme: &Theme) -> Vec<Line<'static>> {
    if inc.reading().is_some() {
        // Deadlines, approvals and owners are derived when the read ends (the header counts it).
        return vec![Line::styled(
            fit("⧗ deadlines, approvals and owners: shown when the incident is read", w),
            theme.dim(),
        )];
    }
    if let Some(why) = crate::domain::unsigned::unsigned_declaration(inc.state()) {
        // Loud, whole: wrapped over the strip's rows (see `draw`).
        return vec![Line::styled(format!("✖ {}", sanitize(&why)), theme.bad())];
    }
    let f = facts(m, inc);
    let blocked = if f.blocked.is_empty() {
        Part {
            head: "▲ nothing blocked".into(),
            names: vec![],
            tail: String::new(),
            style: theme.dim(),
        }
    } else {
        Part {
            head: format!("▲ BLOCKED {}", f.blocked.len()),
            names: f
                .blocked
                .iter()
                .map(|(id, note, age)| match note {
                    // The note last: a cut takes it before the id or the age.
                    Some(n) => format!("{} ({}, {})", sanitize(id), format_age(*age), sanitize(n)),
                    None => format!("{} ({})", sanitize(id), format_age(*age)),
                })
                .collect(),
            tail: String::new(),
            style: theme.bad(),
        }
    };
    let approvals = if f.awaiting.is_empty() {
        Part {
            head: "⧗ no approvals".into(),
            names: vec![],
            tail: String::new(),
            style: theme.dim(),
        }
    } else {
        Part {
            head: format!("⧗ {} to approve", f.awaiting.len()),
            names: f.awaiting.iter().map(|a| sanitize(a)).collect(),
            tail: " (w)".into(),
            style: theme.warn(),
        }
    };
    let mine = if f.mine.is_empty() {
        Part {
            head: "☛ nothing mine".into(),
            names: vec![],
            tail: String::new(),
            style: theme.dim(),
        }
    } else {
        Part {
            head: format!("☛ {} mine", f.mine.len()),
            names: f.mine.iter().map(|a| sanitize(a)).collect(),
            tail: " (m)".into(),
            style: theme.bold(),
        }
    };
    // The time left is never cut; what the deadline is fills the room after it. A missed
    // deadline leads instead, loud, until it is met or waived: it never disappears.
    let due = match (f.overdue.first(), &f.next_due) {
        (Some((_, by)), _) => Part {
            head: format!("⏰ {} OVERDUE {}", f.overdue.len(), format_age(*by)),
            names: f.overdue.iter().map(|(w, _)| sanitize(w)).collect(),
            tail: " (C)".into(),
            style: theme.bad(),
        },
        (None, next) => match next {
            Some((what, left)) => Part {
                head: format!("⏰ {} left", format_age(*left)),
                names: vec![sanitize(what)],
                tail: String::new(),
                style: theme.bold(),
            },
            None => Part {
                head: "⏰ no deadline running".into(),
                names: vec![],
                tail: String::new(),
                style: theme.dim(),
            },
        },
    };
    // Nudges: with a third row, all of them there, each whole; else only the loud ones (no
    // commander, no severity) lead the second row. An overdue update is not repeated here: the
    // header says it, loud. The quiet ones are in view anyway: required items open in the
    // checklist pane's title, a long wait for approval turns its count red.
    use crate::domain::cadence::NudgeKind;
    let shown = |all: bool| -> Vec<&crate::domain::cadence::Nudge> {
        f.nudges
            .iter()
            .filter(|n| n.kind != NudgeKind::UpdateOverdue && (all || n.loud))
            .collect()
    };
    let style_of = |loud: bool| if loud { theme.bad() } else { theme.warn() };
    // In two rows or one: the first by priority in its compact form, and how many more. Waiting
    // approvals and open required items are in view there already (the approvals count turns
    // red, the checklist pane's title counts them), so they are left to the third row.
    let nudge = |all: bool| {
        let v: Vec<_> = shown(all)
            .into_iter()
            .filter(|n| !matches!(n.kind, NudgeKind::ApprovalWaiting | NudgeKind::RequiredOpen))
            .collect();
        v.split_first().map(|(first, rest)| Part {
            head: format!("☞ {}", first.short),
            names: vec![],
            tail: if rest.is_empty() {
                String::new()
            } else {
                format!(" +{} more", rest.len())
            },
            style: style_of(first.loud),
        })
    };
    let approvals = if f
        .nudges
        .iter()
        .any(|n| n.kind == crate::domain::cadence::NudgeKind::ApprovalWaiting)
    {
        Part {
            style: theme.bad(),
            ..approvals
        }
    } else {
        approvals
    };
    if rows >= 3 {
        let mut out = vec![
            line_of(vec![due, blocked], w, theme),
            line_of(vec![approvals, mine], w, theme),
        ];
        // Each in its compact form, in the fixed priority order, so none crowds out the rest.
        let parts: Vec<Part> = shown(true)
            .into_iter()
            .map(|n| Part {
                head: format!("☞ {}", n.short),
                names: vec![],
                tail: String::new(),
                style: style_of(n.loud),
            })
            .collect();
        if !parts.is_empty() {
            out.push(line_of(parts, w, theme));
        }
        out
    } else if rows == 2 {
        let mut second: Vec<Part> = nudge(true).into_iter().collect();
        second.extend([approvals, mine]);
        vec![line_of(vec![due, blocked], w, theme), line_of(second, w, theme)]
    } else {
        let mut one = vec![due];
        one.extend(nudge(true));
        one.extend([blocked, approvals, mine]);
        vec![line_of(one, w, theme)]
    }
}

pub fn draw(frame: &mut Frame, area: Rect, m: &Model, inc: &IncidentModel, theme: &Theme) {
    if area.width == 0 || area.height == 0 {
        return;
    }
    let lines = lines(m, inc, area.width as usize, area.height, theme);
    // Each line is fitted to the width, but for one long reason that must be read whole.
    frame.render_widget(Paragraph::new(lines).wrap(ratatui::widgets::Wrap { trim: false }), area);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_whole_or_say_how_many_more() {
        let n: Vec<String> = ["alpha", "beta", "gamma"].iter().map(|s| s.to_string()).collect();
        assert_eq!(names_fit(&n, 40).as_deref(), Some("alpha, beta, gamma"));
        assert_eq!(names_fit(&n, 13).as_deref(), Some("alpha +2"));
        assert_eq!(names_fit(&n, 14).as_deref(), Some("alpha, beta +1"));
        assert_eq!(names_fit(&n, 4), None);
        let long = vec!["rebuild-from-gold-images".to_string()];
        assert_eq!(names_fit(&long, 12).as_deref(), Some("rebuild-fro…"));
    }
}
