//! Rendering: a pure function of the model. One module per pane; no IO, no locks, no clock.

pub mod actions;
pub mod board;
pub mod checklist;
pub mod dialogs;
pub mod facilitator;
pub mod header;
pub mod now;
pub mod timeline;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use ratatui::Frame;

use super::model::{reading_text, Model, Pane};
use super::theme::Theme;

pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 16;

/// Where each pane of the war-room view goes. Panes collapse in a fixed order as the terminal
/// shrinks: the Now strip to one line, then actions share the top row with the checklist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    pub header: Rect,
    pub now: Rect,
    pub checklist: Option<Rect>,
    pub actions: Option<Rect>,
    pub timeline: Rect,
    pub footer: Rect,
}

pub fn too_small(area: Rect) -> bool {
    area.width < MIN_WIDTH || area.height < MIN_HEIGHT
}

pub fn layout(area: Rect, focus: Pane) -> Areas {
    layout_with_footer(area, focus, 1)
}

/// The layout with a footer of `footer_h` rows (a long message wraps onto up to three).
pub fn layout_with_footer(area: Rect, focus: Pane, footer_h: u16) -> Areas {
    // A third row (the nudges) on a tall terminal.
    let now_h = match area.height {
        36.. => 3,
        24.. => 2,
        _ => 1,
    };
    let [header, now, body, footer] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(now_h),
        Constraint::Min(0),
        Constraint::Length(footer_h),
    ])
    .areas(area);
    let top_share = if body.height >= 30 { 55 } else { 52 };
    let [top, timeline] = Layout::vertical([Constraint::Percentage(top_share), Constraint::Min(0)]).areas(body);
    let (checklist, actions) = if area.height >= 20 {
        let [l, r] = Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(top);
        (Some(l), Some(r))
    } else if matches!(focus, Pane::Actions | Pane::Facilitator) {
        (None, Some(top))
    } else {
        (Some(top), None)
    };
    Areas {
        header,
        now,
        checklist,
        actions,
        timeline,
        footer,
    }
}

pub fn draw(frame: &mut Frame, m: &Model, theme: &Theme) {
    let area = frame.area();
    if too_small(area) {
        let msg = format!(
            "terminal too small: {}x{} (warroom needs {MIN_WIDTH}x{MIN_HEIGHT})",
            area.width, area.height
        );
        frame.render_widget(Paragraph::new(msg).wrap(ratatui::widgets::Wrap { trim: true }), area);
        return;
    }
    match &m.incident {
        None => board::draw(frame, area, m, theme),
        Some(inc) => {
            let a = layout_with_footer(area, inc.focus, footer_height(m, area.width));
            header::draw(frame, a.header, m, inc, theme);
            now::draw(frame, a.now, m, inc, theme);
            if let Some(r) = a.checklist {
                checklist::draw(frame, r, inc, theme);
            }
            if let Some(r) = a.actions {
                // The facilitator's pane shares the right-hand slot with the actions.
                if m.facilitator.is_some() && inc.focus != Pane::Actions {
                    facilitator::draw(frame, r, m, inc, theme);
                } else {
                    actions::draw(frame, r, inc, theme);
                }
            }
            timeline::draw(frame, a.timeline, m, inc, theme);
            footer(frame, a.footer, m, theme);
        }
    }
    dialogs::draw(frame, area, m, theme);
    if theme.ascii {
        crate::tui::glyphs::asciify(frame.buffer_mut());
    }
}

/// A bordered block whose border shows focus without colour too (double lines when focused).
pub fn pane_block<'a>(title: impl Into<Line<'a>>, focused: bool, theme: &Theme) -> Block<'a> {
    let block = Block::default().borders(Borders::ALL).title(title);
    if focused {
        block
            .border_type(ratatui::widgets::BorderType::Double)
            .border_style(theme.focus_border())
    } else {
        block.border_style(theme.border())
    }
}

/// The footer's rows: one for the keys, up to three for a message that wraps.
pub fn footer_height(m: &Model, width: u16) -> u16 {
    match &m.flash {
        Some(f) => (flash_lines(&f.text, width as usize).len() as u16).clamp(1, FOOTER_MAX),
        None => 1,
    }
}

/// A footer message wraps onto at most this many rows; `M` shows it whole.
pub const FOOTER_MAX: u16 = 3;

fn flash_lines(text: &str, width: usize) -> Vec<String> {
    let text = format!("✖ {}", crate::domain::sanitize(text));
    let mut lines = dialogs::wrap_words(&text, width.max(10));
    if lines.len() > FOOTER_MAX as usize {
        lines.truncate(FOOTER_MAX as usize);
        if let Some(last) = lines.last_mut() {
            *last = fit(&format!("{last} …"), width.saturating_sub(12));
            last.push_str(" (M: in full)");
        }
    }
    lines
}

/// The footer: a message if any (wrapped, the reason first), else the keys for where the user is
/// (from the keymap), as many whole entries as fit, help first.
pub fn footer(frame: &mut Frame, area: Rect, m: &Model, theme: &Theme) {
    if area.width == 0 || area.height == 0 {
        return;
    }
    if let Some(f) = &m.flash {
        let style = if f.error { theme.bad() } else { theme.good() };
        let lines: Vec<Line> = flash_lines(&f.text, area.width as usize)
            .into_iter()
            .enumerate()
            .map(|(i, l)| {
                // The first line's glyph says error or done.
                let l = if i == 0 && !f.error {
                    l.replacen('✖', "✔", 1)
                } else {
                    l
                };
                Line::styled(l, style)
            })
            .collect();
        frame.render_widget(Paragraph::new(lines), area);
        return;
    }
    let mut spans = Vec::new();
    let mut used = 0;
    if m.observer {
        spans.push(Span::styled(" OBSERVER ", theme.banner()));
        spans.push(Span::raw(" "));
        used += 11;
    }
    let replaying = m.incident.as_ref().is_some_and(|i| i.replay.is_some());
    let mut entries = if replaying {
        // Replay is read-only: its own keys, from the keymap.
        let key_of = |a: crate::tui::keymap::Action| m.keymap.key_for(&m.contexts(), a).unwrap_or_default();
        vec![
            ("REPLAY".to_string(), "read-only".to_string()),
            (
                format!(
                    "{}/{}",
                    key_of(crate::tui::keymap::Action::ReplayPrev),
                    key_of(crate::tui::keymap::Action::ReplayNext)
                ),
                "step".to_string(),
            ),
            (
                format!(
                    "{}/{}",
                    key_of(crate::tui::keymap::Action::ReplayBack),
                    key_of(crate::tui::keymap::Action::ReplayForward)
                ),
                "×10".to_string(),
            ),
            ("Esc".to_string(), "live".to_string()),
        ]
    } else {
        // Observer mode: only the keys that read; an ended exercise: no clock keys; answering an
        // inject only where there are injects.
        let injects = m
            .incident
            .as_ref()
            .is_some_and(|i| !i.state().derived.released_injects.is_empty());
        m.keymap.footer_where(&m.contexts(), |a| {
            m.offers(a) && (injects || a != crate::tui::keymap::Action::Respond)
        })
    };
    if let Some(i) = entries.iter().position(|(_, h)| h == "help") {
        let help = entries.remove(i);
        entries.insert(0, help);
    }
    for (i, (k, h)) in entries.into_iter().enumerate() {
        let sep = if i > 0 { 3 } else { 0 };
        let w = sep + width(&k) + 1 + width(&h);
        if used + w > area.width as usize {
            break;
        }
        used += w;
        if i > 0 {
            spans.push(Span::styled(" · ", theme.dim()));
        }
        spans.push(Span::styled(k, theme.bold()));
        spans.push(Span::raw(format!(" {h}")));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// Columns a string takes on screen.
pub fn width(s: &str) -> usize {
    use unicode_width::UnicodeWidthChar;
    s.chars().map(|c| c.width().unwrap_or(0)).sum()
}

/// Draw a pane's border and return its inside and the incident's playbook, or `None` when there
/// is nothing to draw into (a tiny area) or the playbook copy has not synced yet (said in the pane).
pub fn playbook_pane<'a>(
    frame: &mut Frame,
    area: Rect,
    title: &'static str,
    focused: bool,
    inc: &'a super::model::IncidentModel,
    theme: &Theme,
) -> Option<(Rect, &'a crate::domain::Playbook)> {
    let block = pane_block(title, focused, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height == 0 || inner.width == 0 {
        return None;
    }
    match (inc.playbook(), inc.reading()) {
        (Some(pb), None) => Some((inner, pb)),
        (_, Some(n)) => {
            frame.render_widget(
                Paragraph::new(format!("{} (shown when read)", reading_text(n))).wrap(Wrap { trim: false }),
                inner,
            );
            None
        }
        (None, None) => {
            let why = match crate::domain::unsigned::unsigned_declaration(inc.state()) {
                Some(_) => "nothing applied: signatures required (see above)",
                None => "playbook copy not synced yet",
            };
            frame.render_widget(Paragraph::new(why).wrap(Wrap { trim: false }), inner);
            None
        }
    }
}

/// Truncate to `width` columns with an ellipsis.
pub fn fit(s: &str, width: usize) -> String {
    use unicode_width::UnicodeWidthChar;
    let mut out = String::new();
    let mut w = 0;
    let total: usize = s.chars().map(|c| c.width().unwrap_or(0)).sum();
    if total <= width {
        return s.to_string();
    }
    for c in s.chars() {
        let cw = c.width().unwrap_or(0);
        if w + cw + 1 > width {
            break;
        }
        out.push(c);
        w += cw;
    }
    if width > 0 {
        out.push('…');
    }
    out
}

/// `████░░ ` : a small progress bar that reads without colour.
pub fn bar(done: usize, total: usize, width: usize) -> String {
    if total == 0 || width == 0 {
        return "░".repeat(width);
    }
    let filled = (done * width).div_ceil(total).min(width);
    let filled = if done < total { filled.min(width - 1) } else { filled };
    format!("{}{}", "█".repeat(filled), "░".repeat(width - filled))
}

pub fn severity_label(s: Option<u8>) -> String {
    match s {
        Some(1) => "SEV1 critical".into(),
        Some(2) => "SEV2 high".into(),
        Some(3) => "SEV3 medium".into(),
        Some(4) => "SEV4 low".into(),
        _ => "SEV? syncing".into(),
    }
}

/// A timeline row's time: `HH:MM:SS`, or `MM-DD HH:MM` when `dated` (the rows on screen span
/// more than today: a backfilled record from last week must not read as this morning).
pub fn row_time(ms: i64, local: bool, dated: bool) -> String {
    if !dated {
        return hhmmss(ms, local);
    }
    let t = crate::domain::time::to_datetime(ms);
    if local {
        t.with_timezone(&chrono::Local).format("%m-%d %H:%M").to_string()
    } else {
        t.format("%m-%d %H:%M").to_string()
    }
}

/// The calendar day of `ms` (UTC or local), for [`row_time`].
pub fn day_of(ms: i64, local: bool) -> chrono::NaiveDate {
    let t = crate::domain::time::to_datetime(ms);
    if local {
        t.with_timezone(&chrono::Local).date_naive()
    } else {
        t.date_naive()
    }
}

pub fn hhmmss(ms: i64, local: bool) -> String {
    let t = crate::domain::time::to_datetime(ms);
    if local {
        t.with_timezone(&chrono::Local).format("%H:%M:%S").to_string()
    } else {
        t.format("%H:%M:%S").to_string()
    }
}
