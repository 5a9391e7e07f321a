//! The merged timeline: every responder's events, newest at the bottom, following new events
//! unless scrolled back. Only the visible slice is walked, so a 100k-event incident draws as fast
//! as a new one.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::{fit, hhmmss, pane_block};
use crate::domain::describe::describe_in;
use crate::domain::event::{Body, Event};
use crate::domain::identity::person_of;
use crate::domain::sanitize;
use crate::tui::model::{IncidentModel, Model, Pane, PendingState, TimelineView};
use crate::tui::theme::Theme;

/// One row of the timeline: an event, or a run of consecutive exercise-clock changes shown as
/// one (oldest first).
pub struct Row<'a> {
    pub events: Vec<&'a Event>,
}

impl<'a> Row<'a> {
    /// The row's newest event (what Enter opens).
    pub fn newest(&self) -> Option<&'a Event> {
        self.events.last().copied()
    }
}

fn is_clock(e: &Event) -> bool {
    matches!(e.body, Body::ExerciseClock(_))
}

/// The rows to show, oldest first: at most `rows`, ending `back` rows from the newest.
pub fn visible(inc: &IncidentModel, rows: usize) -> Vec<Row<'_>> {
    fn push<'a>(row: Row<'a>, out: &mut Vec<Row<'a>>, skipped: &mut usize, back: usize) {
        if *skipped < back {
            *skipped += 1;
        } else {
            out.push(row);
        }
    }
    let t: &TimelineView = &inc.timeline;
    let s = inc.state();
    let mut out: Vec<Row> = Vec::with_capacity(rows);
    let mut skipped = 0;
    let mut i = s.event_count();
    // The row being gathered (walking back from the newest), not yet counted.
    let mut open: Option<Row> = None;
    while i > 0 && out.len() < rows {
        i -= 1;
        let Some(e) = s.timeline_at(i) else { continue };
        if !t.shows(e) {
            continue;
        }
        if t.condense_clock && is_clock(e) {
            match &mut open {
                Some(r) => r.events.push(e),
                None => open = Some(Row { events: vec![e] }),
            }
            continue;
        }
        if let Some(r) = open.take() {
            push(r, &mut out, &mut skipped, t.back);
            if out.len() >= rows {
                break;
            }
        }
        push(Row { events: vec![e] }, &mut out, &mut skipped, t.back);
    }
    if let Some(r) = open.take() {
        if out.len() < rows {
            push(r, &mut out, &mut skipped, t.back);
        }
    }
    for r in &mut out {
        r.events.reverse();
    }
    out.reverse();
    out
}

/// The event under the cursor (the newest event of the newest visible row).
pub fn cursor(inc: &IncidentModel) -> Option<&Event> {
    visible(inc, 1).into_iter().next().and_then(|r| r.newest())
}

/// A run of clock changes in one line: where the clock stands now, then every change.
fn clock_summary(events: &[&Event]) -> String {
    let changes: Vec<String> = events
        .iter()
        .filter_map(|e| match &e.body {
            Body::ExerciseClock(c) => Some(match sanitize(&c.change).as_str() {
                "Start" | "Speed" => format!("{} x{}", sanitize(&c.change), c.speed),
                other => other.to_string(),
            }),
            _ => None,
        })
        .collect();
    let now = changes.last().cloned().unwrap_or_default();
    format!(
        "exercise clock: {now} — {} changes ({})",
        changes.len(),
        changes.join(", ")
    )
}

fn style_for(e: &Event, theme: &Theme) -> ratatui::style::Style {
    match &e.body {
        Body::Note(_) => theme.base(),
        Body::InjectReleased(_) => theme.warn(),
        Body::PhaseEntered(_) | Body::SeverityChanged(_) | Body::Declared(_) | Body::RoleAssigned(_) => theme.bold(),
        Body::Unknown { .. } => theme.dim(),
        Body::StatusUpdate(_) => theme.title(),
        _ => theme.dim(),
    }
}

pub fn draw(frame: &mut Frame, area: Rect, m: &Model, inc: &IncidentModel, theme: &Theme) {
    let focused = inc.focus == Pane::Timeline;
    let t = &inc.timeline;
    let n = inc.state().event_count();
    let mut title = format!(" Timeline ({n} event{}", if n == 1 { "" } else { "s" });
    if t.kind != crate::tui::model::KindFilter::All {
        title.push_str(&format!(" · {}", t.kind.label()));
    }
    if let Some(a) = &t.author {
        title.push_str(&format!(" · by {a}"));
    }
    if let Some(q) = &t.search {
        title.push_str(&format!(" · /{}", sanitize(q)));
    }
    title.push_str(if t.local_time { " · local)" } else { " · UTC)" });
    if t.back > 0 {
        title.push_str(&format!(" ↑{} — End to follow ", t.back));
    } else {
        title.push(' ');
    }
    let block = pane_block(title, focused, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height == 0 || inner.width == 0 {
        return;
    }
    let pending: Vec<&crate::tui::model::Pending> = m
        .pending
        .iter()
        .filter(|p| p.incident == inc.id && !matches!(p.state, PendingState::Written(_)))
        .collect();
    let pending_rows = pending.len().min(inner.height as usize / 2);
    let rows = inner.height as usize - pending_rows;
    let w = inner.width as usize;
    let mut lines: Vec<Line> = Vec::new();
    let shown = visible(inc, rows);
    let last = shown.len().saturating_sub(1);
    for (i, row) in shown.into_iter().enumerate() {
        let Some(e) = row.newest() else { continue };
        // The cursor is the newest row in view (↑ scrolls back): ▸ marks it; Enter opens it.
        let cursor = focused && i == last;
        let when = hhmmss(e.when(), t.local_time);
        let who = fit(&sanitize(&person_of(&e.by)), 8);
        let late = if e.occurred.is_some() { "~" } else { " " };
        let mark = if cursor { "▸" } else { " " };
        let head = format!("{mark}{when}{late}{who:<8} ");
        let text = if row.events.len() > 1 {
            clock_summary(&row.events)
        } else {
            describe_in(inc.state(), e)
        };
        let body_w = w.saturating_sub(head.chars().count());
        // A refused or tampered record reads as a warning, not as fact.
        let style = if inc.state().flag(e).is_some() {
            theme.bad()
        } else {
            style_for(e, theme)
        };
        let line = Line::from(vec![
            Span::styled(head, theme.dim()),
            Span::styled(fit(&text, body_w), style),
        ]);
        lines.push(if cursor {
            line.patch_style(theme.selected())
        } else {
            line
        });
    }
    if lines.is_empty() {
        lines.push(Line::styled("no events match", theme.dim()));
    }
    for p in pending.iter().take(pending_rows) {
        let (glyph, style, extra) = match &p.state {
            PendingState::Failed { error, .. } => (
                "✖ not saved",
                theme.bad(),
                format!(" — {} (kept; retrying, r now)", sanitize(error)),
            ),
            _ => ("⧗ sending", theme.dim(), String::new()),
        };
        lines.push(Line::from(Span::styled(
            fit(&format!("{glyph}: {}{extra}", p.label), w),
            style,
        )));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}
