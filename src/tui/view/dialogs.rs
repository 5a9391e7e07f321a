//! Overlays: help (generated from the keymap), problems, the message log, the text editor,
//! pickers, confirmations, the declare form and the full text of what the cursor is on.
//!
//! Every dialog but the editor is a [`Dialog`]: a title, rows of text wrapped to the box and the
//! keys that answer it. The box sizes to its content, scrolls when the terminal is too short, and
//! its keys are drawn on its last row whatever the scroll.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};
use ratatui::Frame;
use unicode_width::UnicodeWidthChar;

use super::{hhmmss, pane_block, timeline};
use crate::domain::describe::describe;
use crate::domain::{sanitize, sanitize_lines};
use crate::tui::keymap::Context;
use crate::tui::model::{Confirm, EditorPurpose, IncidentModel, Model, Overlay, Pane};
use crate::tui::theme::Theme;

/// One row of a dialog's body before it is fitted to the box.
pub enum Row {
    /// Text wrapped at spaces (a word longer than the box is broken).
    Words { text: String, style: Style, indent: usize },
    /// Text broken at the box's edge exactly, spaces kept: a command reads whole, as it runs.
    Hard { text: String, style: Style },
    /// A line drawn as it is (cut at the edge): pickers, help entries.
    Line(Line<'static>),
}

impl Row {
    pub fn words(text: impl Into<String>, style: Style) -> Row {
        Row::Words {
            text: text.into(),
            style,
            indent: 0,
        }
    }
    pub fn indented(text: impl Into<String>, style: Style, indent: usize) -> Row {
        Row::Words {
            text: text.into(),
            style,
            indent,
        }
    }
    fn width(&self) -> usize {
        match self {
            Row::Words { text, indent, .. } => text_width(text) + indent,
            Row::Hard { text, .. } => text_width(text),
            Row::Line(l) => l.width(),
        }
    }
}

/// A dialog: what it says and the keys that answer it.
pub struct Dialog {
    pub title: String,
    pub rows: Vec<Row>,
    /// `(keys, what they do)`, drawn on the last row, always.
    pub keys: Vec<(String, String)>,
    /// The widest the box may grow.
    pub max_width: u16,
}

pub(crate) fn text_width(s: &str) -> usize {
    s.chars().map(|c| c.width().unwrap_or(0)).sum()
}

/// Wrap `text` to `width` columns at spaces; a word longer than a line is broken.
pub fn wrap_words(text: &str, width: usize) -> Vec<String> {
    wrap_hanging(text, width, width)
}

/// Wrap `text` at spaces, the first line `first` columns wide and the others `rest`: a word
/// longer than a line is broken at the edge only, and never gets a space put into it.
pub fn wrap_hanging(text: &str, first: usize, rest: usize) -> Vec<String> {
    let rest = rest.max(1);
    let mut width = first.max(1);
    let mut out = Vec::new();
    // Leading spaces (a bullet's indent) are kept on the first line.
    let body = text.trim_start_matches(' ');
    let lead = (text.len() - body.len()).min(width.saturating_sub(1));
    let mut line = " ".repeat(lead);
    let mut w = lead;
    // No word on the line yet (only its indent).
    let mut fresh = true;
    for word in body.split(' ') {
        let ww = text_width(word);
        // A word longer than any line is broken anyway: it starts where it is, saving a row.
        if !fresh && w + 1 + ww > width && ww <= rest {
            out.push(std::mem::take(&mut line));
            width = rest;
            w = 0;
            fresh = true;
        }
        if !fresh {
            line.push(' ');
            w += 1;
        }
        fresh = false;
        if ww > width.saturating_sub(w) {
            // A path breaks after a `/` where one fits (`…/warroom/trust/` then the file name),
            // else at the edge; no space is put in.
            for piece in word.split_inclusive('/') {
                let pw = text_width(piece);
                if w + pw > width && !line.trim_start().is_empty() && pw <= rest {
                    out.push(std::mem::take(&mut line).trim_end().to_string());
                    width = rest;
                    w = 0;
                }
                for c in piece.chars() {
                    let cw = c.width().unwrap_or(0);
                    if w + cw > width && w > 0 {
                        out.push(std::mem::take(&mut line));
                        width = rest;
                        w = 0;
                    }
                    line.push(c);
                    w += cw;
                }
            }
        } else {
            line.push_str(word);
            w += ww;
        }
    }
    out.push(line);
    out
}

/// Break `text` at exactly `width` columns, keeping every character (spaces too).
pub fn wrap_hard(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut out = Vec::new();
    let mut line = String::new();
    let mut w = 0;
    for c in text.chars() {
        let cw = c.width().unwrap_or(0);
        if w + cw > width && w > 0 {
            out.push(std::mem::take(&mut line));
            w = 0;
        }
        line.push(c);
        w += cw;
    }
    out.push(line);
    out
}

/// The rows of a body fitted to `width` columns.
fn fit_rows(rows: &[Row], width: usize) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    for r in rows {
        match r {
            Row::Words { text, style, indent } => {
                // A hanging indent: the first line as written, the ones after it indented. The
                // text is wrapped once, so a long word (a path) is broken at the edge only.
                let pad = " ".repeat(*indent);
                let rest = width.saturating_sub(*indent).max(1);
                for (i, l) in wrap_hanging(text, width, rest).into_iter().enumerate() {
                    let l = if i == 0 { l } else { format!("{pad}{l}") };
                    out.push(Line::styled(l, *style));
                }
            }
            Row::Hard { text, style } => {
                out.extend(wrap_hard(text, width).into_iter().map(|l| Line::styled(l, *style)));
            }
            Row::Line(l) => out.push(fit_line(l, width)),
        }
    }
    out
}

/// A line cut to `width` columns, ending in `…` when cut: never cut without a sign.
fn fit_line(l: &Line<'static>, width: usize) -> Line<'static> {
    if l.width() <= width {
        return l.clone();
    }
    let mut left = width.saturating_sub(1);
    let mut spans = Vec::new();
    for s in &l.spans {
        if left == 0 {
            break;
        }
        let w = text_width(&s.content);
        if w <= left {
            spans.push(s.clone());
            left -= w;
        } else {
            let mut cut = String::new();
            for c in s.content.chars() {
                let cw = c.width().unwrap_or(0);
                if cw > left {
                    break;
                }
                cut.push(c);
                left -= cw;
            }
            spans.push(Span::styled(cut, s.style));
            left = 0;
        }
    }
    spans.push(Span::styled("…", l.spans.last().map(|s| s.style).unwrap_or_default()));
    Line::from(spans).style(l.style)
}

/// Where a dialog goes and what of it is seen: the box, its body lines, how many fit.
pub struct Placed {
    pub rect: Rect,
    pub body: Vec<Line<'static>>,
    pub keys: Vec<Line<'static>>,
    pub body_rows: usize,
}

impl Placed {
    pub fn max_scroll(&self) -> usize {
        self.body.len().saturating_sub(self.body_rows)
    }
}

fn keys_text(keys: &[(String, String)]) -> String {
    keys.iter()
        .map(|(k, h)| format!("{k} {h}"))
        .collect::<Vec<_>>()
        .join(" · ")
}

/// Size a dialog to its content within `area`.
pub fn place(area: Rect, d: &Dialog) -> Placed {
    let room_w = area.width.saturating_sub(4).max(area.width.min(20));
    let natural = d
        .rows
        .iter()
        .map(Row::width)
        .max()
        .unwrap_or(0)
        .max(text_width(&d.title) + 2)
        .max(text_width(&keys_text(&d.keys)))
        + 2;
    let w = (natural as u16).clamp(30.min(room_w), room_w.min(d.max_width));
    let inner_w = w.saturating_sub(2) as usize;
    let body = fit_rows(&d.rows, inner_w);
    let keys: Vec<Line<'static>> = wrap_words(&keys_text(&d.keys), inner_w)
        .into_iter()
        .map(Line::raw)
        .collect();
    let keys = if d.keys.is_empty() { Vec::new() } else { keys };
    // A blank row between the text and the keys, when there is room for it.
    let wanted = body.len() + keys.len() + usize::from(!keys.is_empty()) + 2;
    let h = (wanted as u16).min(area.height.saturating_sub(2).max(area.height.min(3)));
    let inner_h = h.saturating_sub(2) as usize;
    let gap = usize::from(!keys.is_empty() && inner_h > body.len() + keys.len());
    let body_rows = inner_h.saturating_sub(keys.len() + gap);
    Placed {
        rect: centered(area, w, h),
        body,
        keys,
        body_rows,
    }
}

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let [r] = Layout::horizontal([Constraint::Length(w.min(area.width))])
        .flex(Flex::Center)
        .areas(area);
    let [r] = Layout::vertical([Constraint::Length(h.min(area.height))])
        .flex(Flex::Center)
        .areas(r);
    r
}

/// Clear `r` for a popup. A wide character (⏰) just left of it whose right half lies under the
/// popup's border would be drawn over that border by the terminal: it is blanked first.
pub fn clear(frame: &mut Frame, r: Rect) {
    blank_straddlers(frame.buffer_mut(), r);
    frame.render_widget(Clear, r);
}

/// Blank every wide character that starts left of `r` and reaches into it.
pub fn blank_straddlers(buf: &mut Buffer, r: Rect) {
    if r.x == 0 || r.width == 0 {
        return;
    }
    let area = buf.area;
    for y in r.top()..r.bottom().min(area.bottom()) {
        for back in 1..=3u16 {
            let Some(x) = r.x.checked_sub(back) else { break };
            if x < area.x {
                break;
            }
            let w = text_width(buf[(x, y)].symbol()) as u16;
            if w > back {
                buf[(x, y)].set_symbol(" ");
            }
        }
    }
}

/// Draw a dialog scrolled by `scroll` rows (kept in range).
pub fn draw_dialog(frame: &mut Frame, area: Rect, d: &Dialog, scroll: usize, theme: &Theme) {
    let p = place(area, d);
    clear(frame, p.rect);
    // A title wider than the dialog ends in `…`, never mid-word without a sign.
    let title = super::fit(&d.title, (p.rect.width as usize).saturating_sub(4));
    let block = pane_block(format!(" {title} "), true, theme);
    let inner = block.inner(p.rect);
    frame.render_widget(block, p.rect);
    if inner.height == 0 || inner.width == 0 {
        return;
    }
    let scroll = scroll.min(p.max_scroll());
    let mut lines: Vec<Line> = p.body.iter().skip(scroll).take(p.body_rows).cloned().collect();
    let body_area = Rect {
        height: (p.body_rows as u16).min(inner.height),
        ..inner
    };
    lines.truncate(body_area.height as usize);
    frame.render_widget(Paragraph::new(lines), body_area);
    let keys_h = (p.keys.len() as u16).min(inner.height);
    let keys_area = Rect {
        y: inner.bottom() - keys_h,
        height: keys_h,
        ..inner
    };
    let mut keys: Vec<Line> = p.keys.iter().map(|l| l.clone().style(theme.bold())).collect();
    if p.max_scroll() > 0 {
        // Where the reader is, on the border, so the keys row stays whole.
        let shown = format!(
            " {}-{} of {} · j/k PgUp/PgDn ",
            scroll + 1,
            (scroll + p.body_rows).min(p.body.len()),
            p.body.len()
        );
        let w = text_width(&shown) as u16;
        if w + 2 < p.rect.width {
            let x = p.rect.right() - w - 1;
            frame
                .buffer_mut()
                .set_string(x, p.rect.bottom() - 1, &shown, theme.dim());
        }
    }
    keys.truncate(keys_h as usize);
    frame.render_widget(Paragraph::new(keys), keys_area);
}

fn k(keys: &str, what: &str) -> (String, String) {
    (keys.to_string(), what.to_string())
}

/// The dialog on screen, as content (for drawing, and for the reducer to know how far it scrolls).
pub fn dialog_of(m: &Model, area: Rect, theme: &Theme) -> Option<(Dialog, usize)> {
    let overlay = m.overlay.as_ref()?;
    let d = match overlay {
        Overlay::Help { scroll } => return Some((help(m, area, theme), *scroll)),
        Overlay::Problems { scroll } => return Some((problems(m, theme), *scroll)),
        Overlay::Messages { scroll } => return Some((messages(m, theme), *scroll)),
        Overlay::Clocks { scroll } => return Some((clocks(m, theme)?, *scroll)),
        Overlay::Review { sel } => {
            let (d, row) = review(m, *sel, theme)?;
            let placed = place(area, &d);
            return Some((d, row.saturating_sub(placed.body_rows.saturating_sub(4))));
        }
        Overlay::FollowUps { sel } => {
            let (d, row) = follow_ups(m, *sel, theme)?;
            let placed = place(area, &d);
            return Some((d, row.saturating_sub(placed.body_rows.saturating_sub(3))));
        }
        Overlay::Editor(_) => return None,
        Overlay::Picker(p) => {
            let rows = p
                .options
                .iter()
                .enumerate()
                .map(|(i, o)| {
                    let text = format!(
                        "{} {}",
                        if i < 9 { format!("{}", i + 1) } else { " ".into() },
                        sanitize(o)
                    );
                    Row::Line(if i == p.sel {
                        Line::styled(format!("▸{text}"), theme.selected())
                    } else {
                        Line::raw(format!(" {text}"))
                    })
                })
                .collect();
            let d = Dialog {
                title: sanitize(&p.title),
                rows,
                keys: vec![k("↑↓", "choose"), k("Enter/1-9", "pick"), k("Esc", "cancel")],
                max_width: 100,
            };
            // The selection stays in view.
            let placed = place(area, &d);
            let scroll = p.sel.saturating_sub(placed.body_rows.saturating_sub(1));
            return Some((d, scroll));
        }
        Overlay::Confirm(c) => confirm(m, c, theme),
        Overlay::Declare(f) => {
            let pb = m
                .playbooks
                .get(f.playbook)
                .map(|(id, t)| format!("{id} — {t}"))
                .unwrap_or_default();
            let title = if f.title.is_empty() {
                "(press t to type it)".to_string()
            } else {
                sanitize(&f.title)
            };
            Dialog {
                title: "Declare an incident".into(),
                rows: vec![
                    Row::Line(Line::from(vec![
                        Span::styled("p   playbook  ", theme.bold()),
                        Span::raw(sanitize(&pb)),
                    ])),
                    Row::Line(Line::from(vec![
                        Span::styled("t   title     ", theme.bold()),
                        Span::raw(title),
                    ])),
                    Row::Line(Line::from(vec![
                        Span::styled("1-4 severity  ", theme.bold()),
                        Span::styled(
                            super::severity_label(Some(f.severity)),
                            theme.severity(Some(f.severity)),
                        ),
                    ])),
                ],
                keys: vec![k("Enter", "declare"), k("Esc", "cancel")],
                max_width: 90,
            }
        }
        Overlay::Detail => detail(m, theme)?,
    };
    Some((d, m.dialog_scroll))
}

/// Where dialogs go: the screen above the footer while it shows a message, so a dialog never
/// covers what the user is being told (a saved file's path, a refusal's reason).
pub fn dialog_area(m: &Model, area: Rect) -> Rect {
    if m.flash.is_none() {
        return area;
    }
    let foot = super::footer_height(m, area.width).min(area.height.saturating_sub(super::MIN_HEIGHT / 2));
    Rect {
        height: area.height - foot,
        ..area
    }
}

/// How far the dialog on screen can scroll at the terminal's size.
pub fn max_scroll(m: &Model) -> usize {
    let area = dialog_area(m, Rect::new(0, 0, m.size.0, m.size.1));
    match dialog_of(m, area, &Theme::mono()) {
        Some((d, _)) => place(area, &d).max_scroll(),
        None => 0,
    }
}

/// Rows a page-down moves in the dialog on screen.
pub fn page(m: &Model) -> usize {
    let area = dialog_area(m, Rect::new(0, 0, m.size.0, m.size.1));
    match dialog_of(m, area, &Theme::mono()) {
        Some((d, _)) => place(area, &d).body_rows.saturating_sub(1).max(1),
        None => 1,
    }
}

pub fn draw(frame: &mut Frame, area: Rect, m: &Model, theme: &Theme) {
    let Some(overlay) = &m.overlay else { return };
    let area = dialog_area(m, area);
    if let Overlay::Editor(ed) = overlay {
        let (title, keys, h) = editor_labels(ed);
        let r = centered(area, area.width.saturating_sub(4).min(100), h);
        clear(frame, r);
        // The keys sit on the bottom border, shortened before they would be cut; the title,
        // which only says what is asked, is what gives way (ending in `…`).
        let inner_w = r.width.saturating_sub(2) as usize;
        let keys = editor_keys(&keys, inner_w.saturating_sub(2));
        let title = super::fit(&title, inner_w.saturating_sub(2));
        let block = pane_block(format!(" {title} "), true, theme)
            .title_bottom(Line::styled(format!(" {keys} "), theme.bold()).right_aligned());
        let inner = block.inner(r);
        frame.render_widget(block, r);
        frame.render_widget(&ed.area, inner);
        return;
    }
    if let Some((d, scroll)) = dialog_of(m, area, theme) {
        draw_dialog(frame, area, &d, scroll, theme);
    }
}

/// An editor's title (what it asks), its keys and its height.
pub fn editor_labels(ed: &crate::tui::model::Editor) -> (String, Vec<(&'static str, &'static str)>, u16) {
    let item = |fallback: &str| sanitize(ed.item.as_deref().unwrap_or(fallback));
    let records = [("Enter", "records"), ("Esc", "cancels")];
    let then_confirm = [("Enter", "then confirm"), ("Esc", "cancels")];
    match ed.purpose {
        EditorPurpose::Note => (
            "Note".into(),
            vec![
                ("Enter", "sends"),
                ("Alt+Enter/Ctrl+J", "new line"),
                ("Esc", "keeps draft"),
            ],
            8,
        ),
        EditorPurpose::Blocked => (
            format!("Why is {} blocked?", item("it")),
            vec![("Enter", "sends"), ("Esc", "cancels")],
            5,
        ),
        EditorPurpose::Skip => (
            format!("Why skip {}? (a required item)", item("this item")),
            records.to_vec(),
            5,
        ),
        EditorPurpose::Params => (
            format!("Parameters of {} (NAME=value; ↑↓ line)", item("the action")),
            vec![("Enter", "proposes"), ("Esc", "cancels")],
            8,
        ),
        EditorPurpose::Status(audience) => {
            let word = audience.word();
            let mut chars = word.chars();
            let first: String = chars.next().map(|c| c.to_uppercase().collect()).unwrap_or_default();
            (
                format!("{first}{} update — recorded, not sent", chars.as_str()),
                vec![("Enter", "records"), ("Ctrl+R", "template"), ("Esc", "keeps draft")],
                10,
            )
        }
        EditorPurpose::FollowUp => {
            let d = ed.follow.clone().unwrap_or_default();
            (
                format!(
                    "{} follow-up{}{} — what is to be done?",
                    sanitize(&d.kind),
                    d.owner.map(|o| format!(" for {}", sanitize(&o))).unwrap_or_default(),
                    d.due
                        .map(|t| format!(" due {}", &crate::domain::time::format_utc(t)[..10]))
                        .unwrap_or_default()
                ),
                records.to_vec(),
                5,
            )
        }
        EditorPurpose::Review => (
            format!("Review: {}", item("")),
            vec![("Enter", "records"), ("Alt+Enter", "new line"), ("Esc", "cancels")],
            10,
        ),
        EditorPurpose::Amend => (
            format!("Amend {} — the corrected text; the original stays", subject(ed)),
            vec![("Enter", "then why"), ("Esc", "cancels")],
            8,
        ),
        EditorPurpose::AmendReason => (format!("Why amend {}?", subject(ed)), records.to_vec(), 5),
        EditorPurpose::RetractReason => (
            format!("Retract {} — why? (it stays, marked retracted)", subject(ed)),
            records.to_vec(),
            5,
        ),
        EditorPurpose::FollowUpOwnerName => ("Owner's name (a-z, 0-9, . _ -)".into(), records.to_vec(), 3),
        EditorPurpose::FollowUpDue => (
            "Due (2026-12-15, +14d; empty: none; UTC)".into(),
            vec![("Enter", "next"), ("Esc", "cancels")],
            3,
        ),
        EditorPurpose::Search => (
            "Search timeline (empty clears)".into(),
            vec![("Enter", "applies"), ("Esc", "cancels")],
            3,
        ),
        EditorPurpose::Title => ("Incident title".into(), vec![("Enter", "next"), ("Esc", "cancels")], 3),
        EditorPurpose::SeverityReason(_) => ("Why change the severity?".into(), records.to_vec(), 5),
        EditorPurpose::Evaluator => (
            match &ed.item {
                Some(i) => format!("Evaluator note on {} (private; + went well, - to improve)", sanitize(i)),
                None => "Evaluator note (private; + went well, - to improve)".into(),
            },
            vec![("Enter", "keeps it"), ("Esc", "cancels")],
            6,
        ),
        EditorPurpose::Response => (
            format!("Answer to inject {}", item("?")),
            vec![("Enter", "sends"), ("Esc", "cancels")],
            8,
        ),
        EditorPurpose::Rating(r) => (
            format!("Objective {} — a note (optional)", r.label()),
            vec![("Enter", "keeps it"), ("Esc", "cancels")],
            6,
        ),
        EditorPurpose::ResolveReason => (
            "You are not the commander: why do you resolve it?".into(),
            then_confirm.to_vec(),
            5,
        ),
        EditorPurpose::ReopenReason => ("Why reopen it?".into(), then_confirm.to_vec(), 5),
        EditorPurpose::Discovery(t) => (
            format!("Set discovery to {} — why?", crate::domain::time::format_utc(t)),
            then_confirm.to_vec(),
            5,
        ),
    }
}

/// An editor's keys in at most `w` columns: with their words, else the first and last with
/// theirs, else the keys alone. `Enter` and `Esc` are always there.
fn editor_keys(keys: &[(&str, &str)], w: usize) -> String {
    let join = |ks: &[(&str, &str)], words: bool| {
        ks.iter()
            .map(|(k, h)| if words { format!("{k} {h}") } else { k.to_string() })
            .collect::<Vec<_>>()
            .join(" · ")
    };
    let full = join(keys, true);
    if text_width(&full) <= w || keys.len() < 2 {
        return full;
    }
    let ends = [keys[0], keys[keys.len() - 1]];
    let short = join(&ends, true);
    if text_width(&short) <= w {
        return short;
    }
    join(&ends, false)
}

fn confirm(m: &Model, c: &Confirm, theme: &Theme) -> Dialog {
    let inc = m.incident.as_ref();
    match c {
        Confirm::Exec { plan } => {
            let what = match (plan.dry_run, plan.rollback) {
                (true, _) => "Exercise: nothing is executed; recorded as a dry run:",
                (false, false) => "Runs on this machine, as you, in a terminal of its own (sh -c), recorded:",
                (false, true) => {
                    "Runs the ROLLBACK on this machine, as you, in a terminal of its own (sh -c), recorded:"
                }
            };
            let mut rows = vec![
                Row::words(sanitize(&plan.title), theme.bold()),
                Row::words(what, theme.warn()),
            ];
            // The parameter values (given as environment variables), then the exact command,
            // broken at the box's edge, never at a space: every character shows.
            rows.extend(sanitize_lines(&plan.shown()).into_iter().map(|l| Row::Hard {
                text: l,
                style: theme.bold(),
            }));
            if !plan.params.is_empty() {
                let given: Vec<String> = plan
                    .params
                    .iter()
                    .map(|(k, v)| format!("{k}={}", sanitize(v)))
                    .collect();
                rows.push(Row::words(
                    format!("parameters (from the proposal): {}", given.join("; ")),
                    theme.base(),
                ));
            }
            Dialog {
                title: if plan.rollback {
                    "Run this rollback?".into()
                } else {
                    "Run this command?".into()
                },
                rows,
                keys: vec![k("y/Enter", "run it"), k("n/Esc", "not now")],
                max_width: 100,
            }
        }
        Confirm::Approve { action } => {
            let mut rows = vec![
                Row::words(sanitize(&action.title), theme.bold()),
                Row::words(format!("why: {}", sanitize(&action.why)), theme.base()),
                Row::words(format!("approval: {}", approval_words(action.approval)), theme.base()),
            ];
            // Who asked for it, and with what: the approver approves a person's proposal.
            if let Some(reg) = inc.and_then(|i| i.state().derived.actions.get(&action.id)) {
                let who = reg.value.proposer.as_deref().unwrap_or(reg.by.as_str());
                let note = reg
                    .value
                    .note
                    .as_deref()
                    .map(|n| format!(" — {}", sanitize(n)))
                    .unwrap_or_default();
                rows.insert(
                    1,
                    Row::words(
                        format!("proposed by {} at {}{note}", sanitize(who), hhmmss(reg.when, false)),
                        theme.base(),
                    ),
                );
            }
            if let Some(c) = &action.command {
                rows.push(Row::words(
                    "command (once approved, x runs it where execution is enabled; or by hand):",
                    theme.warn(),
                ));
                rows.extend(sanitize_lines(c).into_iter().map(|l| Row::Hard {
                    text: l,
                    style: theme.base(),
                }));
            }
            Dialog {
                title: "Approve this action?".into(),
                rows,
                keys: vec![k("y/Enter", "approve"), k("n/Esc", "not now")],
                max_width: 100,
            }
        }
        Confirm::Phase { phase, open } => {
            let mut rows = vec![Row::words(
                format!("▲ {} required item(s) are still open:", open.len()),
                theme.warn(),
            )];
            for id in open {
                let text = inc
                    .and_then(|i| i.playbook())
                    .and_then(|p| p.phases.all().find(|(_, it)| it.id == *id))
                    .map(|(_, it)| sanitize(&it.text))
                    .unwrap_or_default();
                // Each item whole, wrapped under its bullet; the box takes the screen's width
                // and scrolls when the list is longer than the screen.
                let line = format!("  • {} — {text}", sanitize(id));
                rows.push(Row::indented(line, theme.base(), 4));
            }
            rows.push(Row::words(
                "Moving on is allowed; the override and these items are recorded in the timeline.",
                theme.dim(),
            ));
            Dialog {
                title: format!("Move to {phase}?"),
                rows,
                keys: vec![k("y/Enter", "move on"), k("n/Esc", "stay")],
                max_width: u16::MAX,
            }
        }
        Confirm::Quit { unsaved, running } => {
            let mut rows = Vec::new();
            if let Some(action) = running {
                rows.push(Row::words(
                    format!(
                        "`{}` is still running: quitting stops it (its process group is killed), records what it wrote so far as interrupted and sets it failed.",
                        sanitize(action)
                    ),
                    theme.warn(),
                ));
            }
            if !unsaved.is_empty() {
                rows.push(Row::words(
                    format!("{} change(s) not on disk yet:", unsaved.len()),
                    theme.warn(),
                ));
                rows.extend(
                    unsaved
                        .iter()
                        .map(|u| Row::indented(format!("  • {}", sanitize(u)), theme.base(), 4)),
                );
                rows.push(Row::words(
                    "Notes among them go into the draft (printed on the way out if it cannot be saved); other changes are lost.",
                    theme.dim(),
                ));
            }
            Dialog {
                title: if running.is_some() {
                    "Quit and stop the running command?".into()
                } else {
                    "Quit with changes not saved?".into()
                },
                rows,
                keys: vec![k("y/Enter", "quit anyway"), k("n/Esc", "stay")],
                max_width: 90,
            }
        }
        Confirm::EndExercise => Dialog {
            title: "End the exercise?".into(),
            rows: vec![
                Row::words(
                    "The exercise clock stops for every player and no more injects are released.",
                    theme.bold(),
                ),
                Row::words(
                    "The end is recorded; `warroom export` then writes the after-action report.",
                    theme.base(),
                ),
            ],
            keys: vec![k("y/Enter", "end it"), k("n/Esc", "keep running")],
            max_width: 90,
        },
        Confirm::Resolve { open, reason } => {
            let mut rows = Vec::new();
            if open.is_empty() {
                rows.push(Row::words("No required item is open.", theme.good()));
            } else {
                rows.push(Row::words(
                    format!("▲ {} required item(s) are still open:", open.len()),
                    theme.warn(),
                ));
                for id in open {
                    let text = inc
                        .and_then(|i| i.playbook())
                        .and_then(|p| p.item(id))
                        .map(|(_, it)| sanitize(&it.text))
                        .unwrap_or_default();
                    rows.push(Row::Line(Line::raw(super::fit(
                        &format!("  • {} — {text}", sanitize(id)),
                        74,
                    ))));
                }
                rows.push(Row::words("They are recorded with the resolution.", theme.dim()));
            }
            if let Some(r) = reason {
                rows.push(Row::words(
                    format!("why (not the commander): {}", sanitize(r)),
                    theme.base(),
                ));
            }
            rows.push(Row::words(
                "The T+ clock stops; the post-incident review (I) and follow-ups (U) stay open.",
                theme.dim(),
            ));
            Dialog {
                title: "Resolve the incident?".into(),
                rows,
                keys: vec![k("y/Enter", "resolve"), k("n/Esc", "not yet")],
                max_width: 100,
            }
        }
        Confirm::Reopen { reason } => Dialog {
            title: "Reopen the incident?".into(),
            rows: vec![
                Row::words("It shows as active again and its clock runs on.", theme.bold()),
                Row::words(format!("why: {}", sanitize(reason)), theme.base()),
            ],
            keys: vec![k("y/Enter", "reopen"), k("n/Esc", "leave resolved")],
            max_width: 90,
        },
        Confirm::Archive => Dialog {
            title: "Archive the incident?".into(),
            rows: vec![Row::words(
                "It leaves the active board (f shows archived ones); nothing is deleted.",
                theme.bold(),
            )],
            keys: vec![k("y/Enter", "archive"), k("n/Esc", "keep on the board")],
            max_width: 90,
        },
        Confirm::Classify | Confirm::Materiality => {
            let s = inc.map(|i| i.state());
            let (what, first, trigger) = match c {
                Confirm::Classify => (
                    "classified as a reportable incident",
                    s.and_then(|s| s.derived.classified),
                    crate::domain::playbook::Trigger::Classified,
                ),
                _ => (
                    "materiality determined",
                    s.and_then(|s| s.derived.materiality),
                    crate::domain::playbook::Trigger::MaterialityDetermined,
                ),
            };
            let starts: Vec<String> = inc
                .and_then(|i| i.playbook())
                .map(|p| {
                    p.deadlines
                        .iter()
                        .filter(|d| d.trigger == trigger)
                        .map(|d| sanitize(&d.source))
                        .collect()
                })
                .unwrap_or_default();
            let mut rows = vec![Row::words(format!("Record: {what}, now."), theme.bold())];
            rows.push(Row::words(
                if starts.is_empty() {
                    "No deadline of the playbook starts with it.".to_string()
                } else {
                    format!("It starts: {}.", starts.join(", "))
                },
                theme.warn(),
            ));
            if let Some(t) = first {
                rows.push(Row::words(
                    format!(
                        "Already recorded at {}: the clocks keep that first time.",
                        crate::domain::time::format_utc(t)
                    ),
                    theme.dim(),
                ));
            }
            Dialog {
                title: if matches!(c, Confirm::Classify) {
                    "Classified as reportable?".into()
                } else {
                    "Materiality determined?".into()
                },
                rows,
                keys: vec![k("y/Enter", "record it"), k("n/Esc", "not now")],
                max_width: 90,
            }
        }
        Confirm::Discovery { at, reason } => {
            let s = inc.map(|i| i.state());
            let was = s
                .and_then(|s| s.derived.discovered)
                .map_or("-".into(), crate::domain::time::format_utc);
            let moves = s
                .and_then(crate::domain::deadline::discovery_nudge)
                .map(|n| n.moves)
                .unwrap_or_default();
            let mut rows = vec![
                Row::words(
                    format!(
                        "Discovery becomes {} (now {was}).",
                        crate::domain::time::format_utc(*at)
                    ),
                    theme.bold(),
                ),
                Row::words(format!("why: {}", sanitize(reason)), theme.base()),
            ];
            rows.push(Row::words(
                if moves.is_empty() {
                    "Every deadline that starts at discovery moves with it.".to_string()
                } else {
                    format!("This moves: {}.", sanitize(&moves.join(", ")))
                },
                theme.warn(),
            ));
            Dialog {
                title: "Set the discovery time?".into(),
                rows,
                keys: vec![k("y/Enter", "set it"), k("n/Esc", "leave it")],
                max_width: 90,
            }
        }
        Confirm::Handoff { to } => {
            let from = inc.and_then(|i| i.state().commander()).unwrap_or("-");
            Dialog {
                title: "Hand off command?".into(),
                rows: vec![
                    Row::words(
                        format!(
                            "{} becomes the incident commander (now {}).",
                            sanitize(to),
                            sanitize(from)
                        ),
                        theme.bold(),
                    ),
                    Row::words(
                        "From then on they approve commander actions and hand off command; the handoff is recorded.",
                        theme.base(),
                    ),
                ],
                keys: vec![k("y/Enter", "hand off"), k("n/Esc", "keep command")],
                max_width: 90,
            }
        }
    }
}

/// The post-incident review: every field and question with its answer; returns the selected row.
fn review(m: &Model, sel: usize, theme: &Theme) -> Option<(Dialog, usize)> {
    let inc = m.incident.as_ref()?;
    let fields = inc.state().review_fields();
    let mut rows = Vec::new();
    let mut at = 0;
    for (i, (f, q, r)) in fields.iter().enumerate() {
        if i == sel {
            at = rows.len();
        }
        let head = format!("{}{} — {}", if i == sel { "▸" } else { " " }, sanitize(f), sanitize(q));
        let style = if i == sel { theme.selected() } else { theme.bold() };
        rows.push(Row::Line(Line::styled(head, style)));
        match r {
            Some(r) => {
                for line in crate::domain::sanitize_lines(&r.value) {
                    rows.push(Row::indented(format!("   {line}"), theme.base(), 3));
                }
                rows.push(Row::indented(
                    format!("   — {} {}", sanitize(&r.by), hhmmss(r.when, false)),
                    theme.dim(),
                    3,
                ));
            }
            None => rows.push(Row::indented("   (not answered yet)".to_string(), theme.dim(), 3)),
        }
    }
    Some((
        Dialog {
            title: "Post-incident review".into(),
            rows,
            keys: vec![k("j/k", "choose"), k("Enter", "answer"), k("Esc/I", "close")],
            max_width: 100,
        },
        at,
    ))
}

/// The follow-ups, the selected one marked; returns the dialog and the selected row.
fn follow_ups(m: &Model, sel: usize, theme: &Theme) -> Option<(Dialog, usize)> {
    use crate::domain::event::FollowUpState;
    let inc = m.incident.as_ref()?;
    let list = inc.state().follow_ups();
    let mut rows = Vec::new();
    let mut at = 0;
    if list.is_empty() {
        rows.push(Row::words("No follow-ups yet: F records one.", theme.dim()));
    }
    for (i, f) in list.iter().enumerate() {
        let mark = match f.state {
            FollowUpState::Open => "☐",
            FollowUpState::Done => "✔",
            FollowUpState::Cancelled => "✖",
        };
        let state = match f.state {
            FollowUpState::Open => "open",
            FollowUpState::Done => "done",
            FollowUpState::Cancelled => "cancelled",
        };
        let due = f
            .due
            .map(|t| {
                let late = f.state == FollowUpState::Open && t < m.now;
                format!(
                    " due {}{}",
                    &crate::domain::time::format_utc(t)[..10],
                    if late { " OVERDUE" } else { "" }
                )
            })
            .unwrap_or_default();
        let head = format!(
            "{}{mark} {} {state} · {}{}{due}",
            if i == sel { "▸" } else { " " },
            sanitize(&f.id.chars().take(8).collect::<String>()),
            sanitize(if f.kind.is_empty() { "-" } else { &f.kind }),
            f.owner
                .as_ref()
                .map(|o| format!(" · {}", sanitize(o)))
                .unwrap_or_default(),
        );
        if i == sel {
            at = rows.len();
        }
        let style = if i == sel { theme.selected() } else { theme.bold() };
        rows.push(Row::Line(Line::styled(head, style)));
        rows.push(Row::indented(format!("   {}", sanitize(&f.text)), theme.base(), 3));
        if let Some(c) = &f.changed {
            let note = c
                .note
                .as_deref()
                .map(|n| format!(": {}", sanitize(n)))
                .unwrap_or_default();
            rows.push(Row::indented(
                format!("   {state} by {} {}{note}", sanitize(&c.by), hhmmss(c.when, false)),
                theme.dim(),
                3,
            ));
        }
    }
    Some((
        Dialog {
            title: format!("Follow-ups ({})", list.len()),
            rows,
            keys: vec![
                k("j/k", "choose"),
                k("d", "done"),
                k("c", "cancel"),
                k("o", "open"),
                k("F", "new"),
                k("Esc/U", "close"),
            ],
            max_width: 100,
        },
        at,
    ))
}

/// The whole of what the cursor is on: an event, a checklist item or an action (with its command
/// and rollback, to copy and run by hand, or — approved, trusted, execution enabled — to run with
/// `x` and `z`).
fn detail(m: &Model, theme: &Theme) -> Option<Dialog> {
    let inc = m.incident.as_ref()?;
    let close = k("Esc/Enter", "close");
    match inc.focus {
        Pane::Timeline => {
            let e = timeline::cursor(inc)?;
            let mut full = match &e.body {
                crate::domain::Body::Note(_) => {
                    use crate::tui::model::texts::{text_of, Text, READING};
                    match text_of(inc, e) {
                        Some(Text::Here(t)) => t.to_string(),
                        Some(Text::Unreadable(why)) => format!("[text unreadable: {why}]"),
                        _ => format!("{READING} reading the text from its log"),
                    }
                }
                crate::domain::Body::StatusUpdate(s) => s.text.clone(),
                _ => describe(e),
            };
            if let Some(flag) = inc.state().flag(e) {
                // Why this record is not to be taken as fact comes first.
                full = format!("{}\n\n{full}", flag.label());
            }
            Some(Dialog {
                title: format!(
                    "{} by {} at {}",
                    e.kind(),
                    sanitize(e.by()),
                    hhmmss(e.when(), inc.timeline.local_time)
                ),
                rows: sanitize_lines(&full)
                    .into_iter()
                    .map(|l| Row::words(l, theme.base()))
                    .collect(),
                keys: vec![close],
                max_width: 100,
            })
        }
        Pane::Checklist => Some(item_detail(inc, theme, close)?),
        Pane::Actions => Some(action_detail(inc, m.saved_copy.as_ref(), theme, close)?),
        Pane::Facilitator => None,
    }
}

fn item_detail(inc: &IncidentModel, theme: &Theme, close: (String, String)) -> Option<Dialog> {
    let item = inc.selected_item()?;
    let reg = inc.state().derived.items.get(&item.id);
    let mut rows = vec![
        Row::words(sanitize(&item.text), theme.base()),
        Row::words(
            format!(
                "{}role: {}",
                if item.required { "required · " } else { "" },
                sanitize(item.role.as_deref().unwrap_or("-"))
            ),
            theme.dim(),
        ),
    ];
    match reg {
        Some(r) => {
            rows.push(Row::words(
                format!(
                    "{} by {} at {}",
                    crate::domain::describe::item_state_word(r.value.state),
                    sanitize(&r.by),
                    crate::domain::time::format_utc(r.when)
                ),
                theme.base(),
            ));
            if let Some(n) = &r.value.note {
                rows.push(Row::words(format!("note: {}", sanitize(n)), theme.base()));
            }
        }
        None => rows.push(Row::words("open (nobody has set it yet)", theme.base())),
    }
    Some(Dialog {
        title: sanitize(&item.id),
        rows,
        keys: vec![close],
        max_width: 100,
    })
}

fn action_detail(
    inc: &IncidentModel,
    saved: Option<&(String, String)>,
    theme: &Theme,
    close: (String, String),
) -> Option<Dialog> {
    let a = inc.selected_action()?;
    let mut rows = vec![
        Row::words(sanitize(&a.title), theme.bold()),
        Row::words(format!("why: {}", sanitize(&a.why)), theme.base()),
    ];
    let term = match a.term {
        crate::domain::playbook::Term::Short => "short-term",
        crate::domain::playbook::Term::Long => "long-term",
    };
    rows.push(Row::words(
        format!("{term} · approval: {}", approval_words(a.approval)),
        theme.dim(),
    ));
    match inc.state().derived.actions.get(&a.id) {
        Some(r) => {
            let who = |w: &Option<String>| w.as_deref().map(sanitize).unwrap_or_else(|| "-".into());
            rows.push(Row::words(
                format!(
                    "now {} (by {} at {}) · proposed by {} · approved by {}",
                    crate::domain::describe::action_state_word(r.value.state),
                    sanitize(&r.by),
                    crate::domain::time::format_utc(r.when),
                    who(&r.value.proposer),
                    who(&r.value.approver)
                ),
                theme.base(),
            ));
            if let Some(n) = &r.value.note {
                rows.push(Row::words(format!("note: {}", sanitize(n)), theme.base()));
            }
        }
        None => rows.push(Row::words("not proposed yet", theme.base())),
    }
    let mut keys = Vec::new();
    // Commands are broken at the box's edge, never at a space: every character is on screen.
    if let Some(c) = &a.command {
        rows.push(Row::words(
            "command (x runs it once approved, if execution is enabled and the playbook is one you trust; or copy it and run it yourself):",
            theme.warn(),
        ));
        rows.extend(sanitize_lines(c).into_iter().map(|l| Row::Hard {
            text: l,
            style: theme.base(),
        }));
        keys.push(k("c", "copy command"));
        saved_rows(&mut rows, saved, &format!("the command of {}", sanitize(&a.id)), theme);
        keys.push(k("x", "run it"));
    }
    if let Some(r) = &a.rollback {
        rows.push(Row::words("rollback:", theme.bold()));
        rows.extend(sanitize_lines(r).into_iter().map(|l| Row::Hard {
            text: l,
            style: theme.base(),
        }));
        keys.push(k("R", "copy rollback"));
        saved_rows(&mut rows, saved, &format!("the rollback of {}", sanitize(&a.id)), theme);
        keys.push(k("z", "run rollback"));
    }
    keys.push(k("M", "messages"));
    keys.push(close);
    Some(Dialog {
        title: sanitize(&a.id),
        rows,
        keys,
        max_width: 100,
    })
}

/// Where the copy of `what` was saved, whole, under what was copied.
fn saved_rows(rows: &mut Vec<Row>, saved: Option<&(String, String)>, what: &str, theme: &Theme) {
    if let Some((_, path)) = saved.filter(|(w, _)| w == what) {
        rows.push(Row::words(
            "saved to (and copied where the terminal allows):",
            theme.good(),
        ));
        rows.push(Row::Hard {
            text: sanitize(path),
            style: theme.base(),
        });
    }
}

fn help(m: &Model, area: Rect, theme: &Theme) -> Dialog {
    let contexts: &[(Context, &str)] = if m.incident.is_some() {
        &[
            (Context::Incident, "War room"),
            (Context::Checklist, "Checklist pane"),
            (Context::Actions, "Actions pane"),
            (Context::Timeline, "Timeline pane"),
            (Context::Facilitator, "Facilitator pane (exercises)"),
        ]
    } else {
        &[(Context::Board, "Board")]
    };
    let mut rows = Vec::new();
    // Two columns where the terminal is wide enough for both whole, else one.
    let two = area.width >= 132;
    for (c, name) in contexts {
        rows.push(Row::Line(Line::styled(*name, theme.title())));
        let entries = m.keymap.help_where(*c, |a| m.offers(a));
        for pair in entries.chunks(if two { 2 } else { 1 }) {
            let mut spans = Vec::new();
            for (i, (keys, h)) in pair.iter().enumerate() {
                spans.push(Span::styled(format!("  {keys:>11} "), theme.bold()));
                let col = 48;
                spans.push(Span::raw(if two && i == 0 {
                    format!("{:<col$}", super::fit(h, col))
                } else {
                    h.clone()
                }));
            }
            rows.push(Row::Line(Line::from(spans)));
        }
    }
    rows.push(Row::Line(Line::styled("Every dialog", theme.title())));
    for (keys, h) in [
        ("Enter", "yes / send / pick / close (as the dialog's keys say)"),
        (
            "Esc",
            "no / cancel / close (a note or status update is kept as a draft)",
        ),
        ("j/k PgUp/PgDn", "scroll a dialog or detail that does not fit"),
    ] {
        rows.push(Row::Line(Line::from(vec![
            Span::styled(format!("  {keys:>11} "), theme.bold()),
            Span::raw(h),
        ])));
    }
    rows.push(Row::words(
        "In the timeline, ~ after a time marks a backfilled time (given with --occurred); ✎ after a name, a record a valid SSH signature vouches for (beside IC: the handoff was signed).",
        theme.dim(),
    ));
    rows.push(Row::words(
        "Keys can be changed in ~/.config/warroom/keys.ron",
        theme.dim(),
    ));
    Dialog {
        title: "Keys".into(),
        rows,
        keys: vec![k("j/k PgUp/PgDn", "scroll"), k("Esc/Enter", "close")],
        max_width: 110,
    }
}

fn problems(m: &Model, theme: &Theme) -> Dialog {
    let list = match &m.incident {
        Some(inc) => {
            let mut v: Vec<String> = inc.view.problems().iter().map(|p| p.to_string()).collect();
            v.extend(
                inc.state()
                    .skew_warnings(m.view_now())
                    .into_iter()
                    .map(|w| format!("clock skew: {}", sanitize(&w))),
            );
            v
        }
        None => m.board_problems.iter().map(|p| p.to_string()).collect(),
    };
    let mut rows = Vec::new();
    // This console's sync rounds first: the remote, the last success, the whole error, the next
    // round (the header has room for a few words only).
    if let Some(live) = &m.sync {
        let style = if live.failing() { theme.bad() } else { theme.base() };
        for (i, line) in crate::sync::status::detail(live, m.now).into_iter().enumerate() {
            let glyph = match (i, live.failing()) {
                (0, true) => "✖ ",
                (0, false) => "✔ ",
                _ => "  ",
            };
            rows.push(Row::indented(format!("{glyph}{line}"), style, 2));
        }
        rows.push(Row::words("", theme.base()));
    }
    if list.is_empty() {
        rows.push(Row::words("No problems: every file and line was read.", theme.good()));
    }
    for p in list {
        rows.push(Row::indented(format!("⚠ {}", sanitize(&p)), theme.base(), 2));
    }
    Dialog {
        title: "Problems: skipped files and lines, refused events, clock skew, sync".into(),
        rows,
        keys: vec![k("Esc/Enter", "close")],
        max_width: 120,
    }
}

fn messages(m: &Model, theme: &Theme) -> Dialog {
    let mut rows = Vec::new();
    if m.messages.is_empty() {
        rows.push(Row::words("No messages yet.", theme.dim()));
    }
    for f in &m.messages {
        let (glyph, style) = if f.error {
            ("✖", theme.bad())
        } else {
            ("✔", theme.good())
        };
        rows.push(Row::indented(
            format!("{} {glyph} {}", hhmmss(f.at, false), sanitize(&f.text)),
            style,
            11,
        ));
    }
    Dialog {
        title: "Messages (newest last, times UTC)".into(),
        rows,
        keys: vec![k("j/k PgUp/PgDn", "scroll"), k("Esc/Enter", "close")],
        max_width: 110,
    }
}

/// `Thu 26 Nov 10:00Z`: the weekday matters where business days count.
pub fn clock_time(ms: crate::domain::time::Millis) -> String {
    crate::domain::time::to_datetime(ms)
        .format("%a %d %b %H:%MZ")
        .to_string()
}

/// Every deadline of the incident's playbook and where its clock stands (`C`), most urgent first.
fn clocks(m: &Model, theme: &Theme) -> Option<Dialog> {
    use crate::domain::deadline::{clocks, ClockState};
    let inc = m.incident.as_ref()?;
    let s = inc.state();
    let mut rows = Vec::new();
    let Some(pb) = inc.playbook() else {
        rows.push(Row::words(
            "The incident's playbook copy is missing or unreadable: no deadlines to show (see !).",
            theme.warn(),
        ));
        return Some(Dialog {
            title: "Deadline clocks".into(),
            rows,
            keys: vec![k("Esc/Enter/C", "close")],
            max_width: 110,
        });
    };
    if let Some(n) = crate::domain::deadline::discovery_nudge(s) {
        rows.push(Row::words(format!("▲ {}", n.text()), theme.warn()));
        rows.push(Row::words(
            "d: set discovery to the earliest evidence (the commander; asks why, then confirms)",
            theme.dim(),
        ));
        rows.push(Row::Line(Line::raw("")));
    }
    if let Some(u) = crate::domain::cadence::update_due(s, pb) {
        let style = if u.is_overdue(m.view_now()) {
            theme.bad()
        } else {
            theme.bold()
        };
        rows.push(Row::words(
            format!(
                "Status updates: {} (every {} at SEV{})",
                u.words(m.view_now()),
                crate::domain::time::format_age(u.every_ms),
                s.severity().unwrap_or(0)
            ),
            style,
        ));
        rows.push(Row::Line(Line::raw("")));
    }
    let all = clocks(s, pb, m.view_now());
    if all.is_empty() {
        rows.push(Row::words("This playbook names no deadlines.", theme.dim()));
    }
    for (i, c) in all.iter().enumerate() {
        if i > 0 {
            rows.push(Row::Line(Line::raw("")));
        }
        let style = match c.state {
            ClockState::Overdue { .. } | ClockState::Red { .. } => theme.bad(),
            ClockState::Amber { .. } => theme.warn(),
            ClockState::Running { .. } => theme.bold(),
            ClockState::NotStarted => theme.dim(),
            ClockState::Met { .. } | ClockState::Waived { .. } => theme.good(),
        };
        // A column of words on the left, so every wrapped line hangs under the text.
        let col = |word: &str, text: String| format!("{word:<11} {text}");
        rows.push(Row::indented(col(c.label(), sanitize(&c.name)), style, 12));
        rows.push(Row::indented(col("stage", sanitize(&c.stage)), theme.base(), 12));
        let when = match (c.start, c.due) {
            (Some(start), Some(due)) => format!(
                " · {} {} → due {}{}",
                sanitize(&c.trigger),
                clock_time(start),
                clock_time(due),
                if c.business_days {
                    " (business days Mon–Fri; holidays not known)"
                } else {
                    ""
                }
            ),
            _ => String::new(),
        };
        rows.push(Row::indented(
            col("clock", format!("{}{when}", c.state_words())),
            style,
            12,
        ));
        if let (Some(m), false) = (
            &c.met_by,
            matches!(c.state, ClockState::Met { .. } | ClockState::Waived { .. }),
        ) {
            rows.push(Row::indented(col("met by", sanitize(m)), theme.base(), 12));
        }
        rows.push(Row::indented(
            col(
                "rule",
                format!("{} · to {}", sanitize(&c.source), sanitize(&c.audience)),
            ),
            theme.dim(),
            12,
        ));
    }
    Some(Dialog {
        title: "Deadline clocks (UTC) — not legal advice: counsel confirms".into(),
        rows,
        keys: vec![k("j/k PgUp/PgDn", "scroll"), k("Esc/Enter/C", "close")],
        max_width: 110,
    })
}

/// The approval rule in words.
pub fn approval_words(a: crate::domain::playbook::Approval) -> &'static str {
    match a {
        crate::domain::playbook::Approval::None => "none needed",
        crate::domain::playbook::Approval::Commander => "the incident commander",
        crate::domain::playbook::Approval::TwoPerson => "two people: someone other than the proposer",
    }
}

/// The record an amend or retract dialog is for, in words ("bob's note \"…\""), sanitised: it
/// quotes text from the shared directory.
fn subject(ed: &crate::tui::model::Editor) -> String {
    ed.subject.as_deref().map_or_else(|| "it".to_string(), sanitize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_wrap_and_long_words_break() {
        assert_eq!(wrap_words("a bb ccc", 4), vec!["a bb", "ccc"]);
        assert_eq!(wrap_words("abcdefgh", 3), vec!["abc", "def", "gh"]);
        assert_eq!(wrap_hard("ab  cd", 3), vec!["ab ", " cd"]);
        assert_eq!(wrap_words("", 5), vec![""]);
    }

    #[test]
    fn an_indented_long_word_is_broken_at_the_edge_only() {
        let path = "/home/maya/.local/state/warroom/copied/2026-11-30-leaked-aws-keys-in-public-repo-p-zodu-cmd.txt";
        let row = Row::indented(format!("03:40 saved to {path}"), Style::default(), 6);
        let lines: Vec<String> = fit_rows(&[row], 30)
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect();
        assert!(lines.iter().all(|l| text_width(l) <= 30), "{lines:?}");
        assert!(lines[1..].iter().all(|l| l.starts_with("      ")), "{lines:?}");
        // Put back together without the indent, the path is whole: no space was put into it.
        let joined: String = lines.iter().map(|l| l.trim_start()).collect::<Vec<_>>().join("");
        assert!(joined.contains(path), "{joined}");
        assert_eq!(wrap_hanging("aa bb cc dd", 5, 3), vec!["aa bb", "cc", "dd"]);
    }

    #[test]
    fn a_path_longer_than_the_line_breaks_after_a_slash_not_mid_name() {
        let kept = "/home/alice/.local/state/warroom/trust/6a5d3dfe9d927f83.allowed_signers";
        let text = format!("accept it by deleting this host's copy {kept}; otherwise restore the file");
        let lines = wrap_hanging(&text, 48, 48);
        assert!(lines.iter().all(|l| text_width(l) <= 48), "{lines:?}");
        assert!(lines.iter().any(|l| l.ends_with("/warroom/trust/")), "{lines:?}");
        assert!(
            lines.iter().any(|l| l.starts_with("6a5d3dfe9d927f83.allowed_signers;")),
            "{lines:?}"
        );
        // Nothing lost or put in: a line ending in `/` continues the path on the next.
        let joined: String = lines
            .iter()
            .map(|l| if l.ends_with('/') { l.clone() } else { format!("{l} ") })
            .collect();
        assert_eq!(joined.trim_end(), text);
    }

    #[test]
    fn a_wide_glyph_under_a_popup_edge_is_blanked() {
        let mut buf = Buffer::empty(Rect::new(0, 0, 20, 3));
        buf.set_string(8, 1, "⏰x", Style::default());
        blank_straddlers(&mut buf, Rect::new(9, 0, 5, 3));
        assert_eq!(buf[(8, 1)].symbol(), " ");
        // One that ends before the popup stays.
        let mut buf = Buffer::empty(Rect::new(0, 0, 20, 3));
        buf.set_string(7, 1, "⏰", Style::default());
        blank_straddlers(&mut buf, Rect::new(9, 0, 5, 3));
        assert_eq!(buf[(7, 1)].symbol(), "⏰");
    }
}
