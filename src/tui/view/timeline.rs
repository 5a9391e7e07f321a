//! The merged timeline: every responder's events, newest at the bottom, following new events
//! unless scrolled back. Only the visible slice is walked, so a 100k-event incident draws as fast
//! as a new one.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::{fit, pane_block};
use crate::domain::describe::describe_in;
use crate::domain::event::{Body, Event};
use crate::domain::identity::person_of;
use crate::domain::sanitize;
use crate::tui::model::{reading_text, IncidentModel, Model, Pane, PendingState};
use crate::tui::theme::Theme;

pub use crate::tui::model::timeline::{cursor, window, Row};

/// Rows of events the timeline pane shows at the terminal's size (its inside, less the rows of
/// writes on their way).
pub fn pane_rows(m: &Model) -> usize {
    let Some(inc) = m.incident.as_ref() else { return 1 };
    let area = Rect::new(0, 0, m.size.0, m.size.1);
    let a = super::layout_with_footer(area, inc.focus, super::footer_height(m, m.size.0));
    let inner = a.timeline.height.saturating_sub(2) as usize;
    let pending = m
        .pending
        .iter()
        .filter(|p| p.incident == inc.id && !matches!(p.state, PendingState::Written(_)))
        .count();
    inner.saturating_sub(pending.min(inner / 2)).max(1)
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
        if inc.texts.incomplete() {
            // A log could not be read: its notes are not matched until it can (asked again).
            title.push_str(" · some texts unreadable, retrying");
        } else if inc.texts.holding() {
            // Notes whose text is still in its log are matched as their texts come back.
            title.push_str(" · reading texts…");
        }
    }
    if inc.reading().is_some() {
        // Not answered yet, or a long read arriving in parts: what is shown is not complete yet.
        title.push_str(" · reading…");
    }
    title.push_str(if t.local_time { " · local)" } else { " · UTC)" });
    if t.anchor.is_some() {
        let more = if t.back_more { "+" } else { "" };
        title.push_str(&format!(" ↑{}{more} — End to follow ", t.back));
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
    // A search over a long read in progress would walk every record read so far on each
    // frame: its rows are shown when the read ends.
    let (shown, at) = if t.search.is_some() && inc.reading().is_some() {
        (Vec::new(), 0)
    } else {
        crate::tui::model::timeline::window_drawn(inc, rows)
    };
    // Rows from another day than today carry their date, all of them so the column stays aligned.
    let today = super::day_of(m.view_now(), t.local_time);
    let dated = shown
        .iter()
        .filter_map(|r| r.newest())
        .any(|e| super::day_of(e.when(), t.local_time) != today);
    for (i, row) in shown.into_iter().enumerate() {
        let Some(e) = row.newest() else { continue };
        // ▸ marks the cursor's row, the one Enter opens.
        let cursor = focused && i == at;
        let when = super::row_time(e.when(), t.local_time, dated);
        let who = fit(&sanitize(&person_of(e.by())), 8);
        let late = if e.occurred.is_some() { "~" } else { " " };
        let mark = if cursor { "▸" } else { " " };
        // ✎: a valid SSH signature vouches for this record (README, "Signed records").
        // Right after the name, so it reads as the name's (an 8-character name: in the gap).
        let signed = if inc.state().signed_by(&e.log, e.seq).is_some() {
            "✎"
        } else {
            ""
        };
        let who = format!("{who}{signed}");
        let head = format!("{mark}{when}{late}{who:<9}");
        let text = if row.events.len() > 1 {
            clock_summary(&row.events)
        } else {
            describe_in(inc.state(), &crate::tui::model::texts::shown(inc, e))
        };
        let body_w = w.saturating_sub(super::width(&head));
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
        // A first read in progress: what it read is shown when it ends, not "nothing matches".
        lines.push(match inc.reading() {
            Some(n) => Line::styled(format!("{} (shown when read)", reading_text(n)), theme.dim()),
            None => Line::styled("no events match", theme.dim()),
        });
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
