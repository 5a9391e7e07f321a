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
use crate::tui::model::{reading_text, IncidentModel, Model, Pane, PendingState, TimelineView};
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

/// How many rows the timeline holds (`timeline_at` answers below that): found by bisection.
fn timeline_len(s: &crate::domain::IncidentState) -> usize {
    let (mut lo, mut hi) = (0, s.event_count());
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if s.timeline_at(mid).is_some() {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// Rows newest first: `take` of them after skipping the `skip` newest. Only these are walked.
fn from_newest(inc: &IncidentModel, skip: usize, take: usize) -> Vec<Row<'_>> {
    let t: &TimelineView = &inc.timeline;
    let s = inc.state();
    let mut out: Vec<Row> = Vec::with_capacity(take.min(4096));
    let mut seen = 0;
    let mut end = s.event_count();
    if inc.loading.is_some() {
        // A long read arriving in parts: its records are in the fold before their timeline keys
        // (merged when the read ends), so start at the timeline's last row instead of walking
        // every record read so far on each frame.
        end = timeline_len(s);
    }
    // The row being gathered (walking back from the newest), not yet counted.
    let mut open: Option<Row> = None;
    let full = |out: &Vec<Row>| out.len() >= take;
    let mut walk = s.timeline_rev(end);
    while !full(&out) {
        let Some(e) = walk.next() else { break };
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
        for row in open.take().into_iter().chain([Row { events: vec![e] }]) {
            if full(&out) {
                break;
            }
            if seen < skip {
                seen += 1;
            } else {
                out.push(row);
            }
        }
    }
    if let Some(r) = open.take() {
        if !full(&out) && seen >= skip {
            out.push(r);
        }
    }
    for r in &mut out {
        r.events.reverse();
    }
    out
}

/// The rows in a window of `rows`, oldest first, and which of them is the cursor. The cursor is
/// `back` rows from the newest; the window is `win` rows from the newest (as the reducer left it),
/// moved only as far as needed to hold the cursor, and never left part empty while there are
/// older rows to fill it.
pub fn window(inc: &IncidentModel, rows: usize) -> (Vec<Row<'_>>, usize) {
    let t = &inc.timeline;
    let rows = rows.max(1);
    let win = t.win.clamp((t.back + 1).saturating_sub(rows), t.back);
    let mut all = from_newest(inc, 0, win + rows);
    // Fewer rows than that: the oldest is reached; the window ends at it, full.
    let n = all.len();
    let win = win.min(n.saturating_sub(rows));
    let back = t.back.min(n.saturating_sub(1));
    all.truncate(win + rows);
    let mut shown: Vec<Row> = all.split_off(win.min(all.len()));
    shown.reverse();
    let cursor = shown.len().saturating_sub(1).saturating_sub(back.saturating_sub(win));
    (shown, cursor)
}

/// How many rows the timeline has, counted up to `limit` (a cursor never goes past the oldest).
pub fn rows_upto(inc: &IncidentModel, limit: usize) -> usize {
    from_newest(inc, 0, limit).len()
}

/// The event under the cursor (the newest event of the row `back` rows from the newest).
pub fn cursor(inc: &IncidentModel) -> Option<&Event> {
    from_newest(inc, inc.timeline.back, 1)
        .into_iter()
        .next()
        .and_then(|r| r.newest())
}

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
    }
    if inc.reading().is_some() {
        // Not answered yet, or a long read arriving in parts: what is shown is not complete yet.
        title.push_str(" · reading…");
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
    let (shown, at) = window(inc, rows);
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
        let who = fit(&sanitize(&person_of(&e.by)), 8);
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
            describe_in(inc.state(), e)
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
