//! Overlays: help (generated from the keymap), problems, the text editor, pickers, confirmations,
//! the declare form and an event's full text.

use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::{hhmmss, pane_block, timeline};
use crate::domain::describe::describe;
use crate::domain::sanitize_lines;
use crate::tui::keymap::Context;
use crate::tui::model::{Confirm, EditorPurpose, Model, Overlay};
use crate::tui::theme::Theme;

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let [r] = Layout::horizontal([Constraint::Length(w.min(area.width))])
        .flex(Flex::Center)
        .areas(area);
    let [r] = Layout::vertical([Constraint::Length(h.min(area.height))])
        .flex(Flex::Center)
        .areas(r);
    r
}

pub fn draw(frame: &mut Frame, area: Rect, m: &Model, theme: &Theme) {
    let Some(overlay) = &m.overlay else { return };
    match overlay {
        Overlay::Help { scroll } => help(frame, area, m, *scroll, theme),
        Overlay::Problems { scroll } => problems(frame, area, m, *scroll, theme),
        Overlay::Editor(ed) => {
            let (title, h) = match ed.purpose {
                EditorPurpose::Note => (" Note — Enter sends · Alt+Enter/Ctrl+J new line · Esc keeps draft ", 8),
                EditorPurpose::Blocked => (" Why is it blocked? Enter sends · Esc cancels ", 5),
                EditorPurpose::Status(_) => (" Status update — recorded, not sent · Enter records · Esc cancels ", 10),
                EditorPurpose::FollowUp => (" Follow-up — Enter records · Esc cancels ", 5),
                EditorPurpose::Search => (" Search timeline — Enter applies (empty clears) ", 3),
                EditorPurpose::Title => (" Incident title — Enter ", 3),
                EditorPurpose::SeverityReason(_) => (" Why change the severity? Enter records · Esc cancels ", 5),
                EditorPurpose::Evaluator => (
                    " Evaluator note (private; + went well, - to improve) — Enter keeps it ",
                    6,
                ),
            };
            let r = centered(area, area.width.saturating_sub(4).min(100), h);
            frame.render_widget(Clear, r);
            let block = pane_block(title, true, theme);
            let inner = block.inner(r);
            frame.render_widget(block, r);
            frame.render_widget(&ed.area, inner);
        }
        Overlay::Picker(p) => {
            let h = (p.options.len() as u16 + 2).min(area.height.saturating_sub(2));
            let w = p
                .options
                .iter()
                .map(|o| o.chars().count())
                .max()
                .unwrap_or(10)
                .max(p.title.chars().count()) as u16
                + 8;
            let r = centered(area, w.min(area.width), h);
            frame.render_widget(Clear, r);
            let block = pane_block(format!(" {} ", p.title), true, theme);
            let inner = block.inner(r);
            frame.render_widget(block, r);
            let rows = inner.height as usize;
            let start = p.sel.saturating_sub(rows.saturating_sub(1));
            let lines: Vec<Line> = p
                .options
                .iter()
                .enumerate()
                .skip(start)
                .take(rows)
                .map(|(i, o)| {
                    let text = format!(
                        "{} {}",
                        if i < 9 { format!("{}", i + 1) } else { " ".into() },
                        crate::domain::sanitize(o)
                    );
                    if i == p.sel {
                        Line::styled(format!("▸{text}"), theme.selected())
                    } else {
                        Line::raw(format!(" {text}"))
                    }
                })
                .collect();
            frame.render_widget(Paragraph::new(lines), inner);
        }
        Overlay::Confirm(Confirm::Approve { action }) => {
            use crate::domain::sanitize;
            let r = centered(
                area,
                area.width.saturating_sub(4).min(100),
                area.height.saturating_sub(4).min(16),
            );
            frame.render_widget(Clear, r);
            let block = pane_block(" Approve this action? ", true, theme);
            let inner = block.inner(r);
            frame.render_widget(block, r);
            let mut lines = vec![
                Line::styled(sanitize(&action.title), theme.bold()),
                Line::raw(format!("why: {}", sanitize(&action.why))),
                Line::raw(format!("approval: {}", approval_words(action.approval))),
            ];
            if let Some(c) = &action.command {
                lines.push(Line::styled("command (to be run by hand):", theme.warn()));
                lines.extend(sanitize_lines(c).into_iter().map(|l| Line::raw(format!("  {l}"))));
            }
            lines.push(Line::raw(""));
            lines.push(Line::from(vec![
                Span::styled("y", theme.bold()),
                Span::raw(" approve · "),
                Span::styled("n", theme.bold()),
                Span::raw(" not now"),
            ]));
            frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
        }
        Overlay::Confirm(Confirm::Phase { phase, open }) => {
            let r = centered(area, 70, 9);
            frame.render_widget(Clear, r);
            let block = pane_block(format!(" Move to {phase}? "), true, theme);
            let inner = block.inner(r);
            frame.render_widget(block, r);
            let text = vec![
                Line::styled(
                    format!("▲ {} required item(s) are still open:", open.len()),
                    theme.warn(),
                ),
                Line::raw(open.join(", ")),
                Line::raw(""),
                Line::raw("Moving on is allowed; the override is recorded in the timeline."),
                Line::from(vec![
                    Span::styled("y", theme.bold()),
                    Span::raw(" move on · "),
                    Span::styled("n", theme.bold()),
                    Span::raw(" stay"),
                ]),
            ];
            frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), inner);
        }
        Overlay::Confirm(Confirm::Quit { unsaved }) => {
            let r = centered(area, 70, 9);
            frame.render_widget(Clear, r);
            let block = pane_block(" Quit with changes not saved? ", true, theme);
            let inner = block.inner(r);
            frame.render_widget(block, r);
            let text = vec![
                Line::styled(format!("{} change(s) not on disk yet:", unsaved.len()), theme.warn()),
                Line::raw(crate::domain::sanitize(&unsaved.join(", "))),
                Line::raw(""),
                Line::raw("Notes among them are kept as a draft; other changes are lost."),
                Line::from(vec![
                    Span::styled("y", theme.bold()),
                    Span::raw(" quit anyway · "),
                    Span::styled("n", theme.bold()),
                    Span::raw(" stay"),
                ]),
            ];
            frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), inner);
        }
        Overlay::Declare(f) => {
            let r = centered(area, 70, 9);
            frame.render_widget(Clear, r);
            let block = pane_block(" Declare an incident ", true, theme);
            let inner = block.inner(r);
            frame.render_widget(block, r);
            let pb = m
                .playbooks
                .get(f.playbook)
                .map(|(id, t)| format!("{id} — {t}"))
                .unwrap_or_default();
            let title = if f.title.is_empty() {
                "(press t to type it)".to_string()
            } else {
                crate::domain::sanitize(&f.title)
            };
            let text = vec![
                Line::from(vec![Span::styled("p  playbook  ", theme.bold()), Span::raw(pb)]),
                Line::from(vec![Span::styled("t  title     ", theme.bold()), Span::raw(title)]),
                Line::from(vec![
                    Span::styled("1-4 severity ", theme.bold()),
                    Span::styled(
                        super::severity_label(Some(f.severity)),
                        theme.severity(Some(f.severity)),
                    ),
                ]),
                Line::raw(""),
                Line::from(vec![
                    Span::styled("Enter", theme.bold()),
                    Span::raw(" declare · "),
                    Span::styled("Esc", theme.bold()),
                    Span::raw(" cancel"),
                ]),
            ];
            frame.render_widget(Paragraph::new(text), inner);
        }
        Overlay::Detail => {
            let Some(inc) = &m.incident else { return };
            if inc.focus != crate::tui::model::Pane::Timeline {
                return detail_of_selection(frame, area, inc, theme);
            }
            let Some(e) = timeline::cursor(inc) else {
                return;
            };
            let r = centered(
                area,
                area.width.saturating_sub(4).min(100),
                area.height.saturating_sub(4),
            );
            frame.render_widget(Clear, r);
            let block = pane_block(
                format!(
                    " {} by {} at {} ",
                    e.kind(),
                    crate::domain::sanitize(&e.by),
                    hhmmss(e.when(), inc.timeline.local_time)
                ),
                true,
                theme,
            );
            let inner = block.inner(r);
            frame.render_widget(block, r);
            let mut full = match &e.body {
                crate::domain::Body::Note(n) => n.text.clone(),
                crate::domain::Body::StatusUpdate(s) => s.text.clone(),
                _ => describe(e),
            };
            if let Some(flag) = inc.state().flag(e) {
                // Why this record is not to be taken as fact comes first.
                full = format!("{}\n\n{full}", flag.label());
            }
            let lines: Vec<Line> = sanitize_lines(&full).into_iter().map(Line::raw).collect();
            frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
        }
    }
}

fn help(frame: &mut Frame, area: Rect, m: &Model, scroll: usize, theme: &Theme) {
    let r = centered(
        area,
        area.width.saturating_sub(2).min(110),
        area.height.saturating_sub(2),
    );
    frame.render_widget(Clear, r);
    let block = pane_block(" Keys (j/k scroll · Esc closes) ", true, theme);
    let inner = block.inner(r);
    frame.render_widget(block, r);
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
    let mut lines = Vec::new();
    for (c, name) in contexts {
        lines.push(Line::styled(*name, theme.title()));
        let entries = m.keymap.help(*c);
        // Two columns where they fit whole, else one.
        let per_row = if inner.width >= 96 { 2 } else { 1 };
        let text_w = (inner.width as usize / per_row).saturating_sub(12);
        for row in entries.chunks(per_row) {
            let mut spans = Vec::new();
            for (k, h) in row {
                spans.push(Span::styled(format!("  {k:>9} "), theme.bold()));
                spans.push(Span::raw(format!("{:<text_w$}", super::fit(h, text_w))));
            }
            lines.push(Line::from(spans));
        }
    }
    lines.push(Line::styled(
        "In the timeline, ~ after a time marks a backfilled time (given with --occurred).",
        theme.dim(),
    ));
    lines.push(Line::styled(
        "Keys can be changed in ~/.config/warroom/keys.ron",
        theme.dim(),
    ));
    let max_scroll = lines.len().saturating_sub(inner.height as usize);
    let lines: Vec<Line> = lines.into_iter().skip(scroll.min(max_scroll)).collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

fn problems(frame: &mut Frame, area: Rect, m: &Model, scroll: usize, theme: &Theme) {
    let r = centered(area, area.width.saturating_sub(2), area.height.saturating_sub(2));
    frame.render_widget(Clear, r);
    let block = pane_block(
        " Problems: skipped files and lines, refused events, clock skew (Esc closes) ",
        true,
        theme,
    );
    let inner = block.inner(r);
    frame.render_widget(block, r);
    let mut lines: Vec<Line> = Vec::new();
    let list = match &m.incident {
        Some(inc) => {
            let mut v: Vec<String> = inc.view.problems().iter().map(|p| p.to_string()).collect();
            v.extend(
                inc.state()
                    .skew_warnings(m.now)
                    .into_iter()
                    .map(|w| format!("clock skew: {}", crate::domain::sanitize(&w))),
            );
            v
        }
        None => m.board_problems.iter().map(|p| p.to_string()).collect(),
    };
    if list.is_empty() {
        lines.push(Line::styled("No problems: every file and line was read.", theme.good()));
    }
    for p in list.into_iter().skip(scroll) {
        lines.push(Line::raw(format!("⚠ {p}")));
    }
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}

/// The selected checklist item or action in full: text, role, why, and the command (shown to copy
/// and run by hand; warroom never executes it).
fn detail_of_selection(frame: &mut Frame, area: Rect, inc: &crate::tui::model::IncidentModel, theme: &Theme) {
    use crate::domain::sanitize;
    use crate::tui::model::Pane;
    let mut lines: Vec<Line> = Vec::new();
    let mut commands: Vec<Line> = Vec::new();
    let title = match inc.focus {
        Pane::Checklist => {
            let Some(item) = inc.selected_item() else { return };
            let reg = inc.state().derived.items.get(&item.id);
            lines.push(Line::styled(sanitize(&item.text), theme.base()));
            lines.push(Line::raw(""));
            lines.push(Line::raw(format!(
                "{}role: {}",
                if item.required { "required · " } else { "" },
                sanitize(item.role.as_deref().unwrap_or("-"))
            )));
            if let Some(r) = reg {
                lines.push(Line::raw(format!(
                    "{} by {} at {}",
                    crate::domain::describe::item_state_word(r.value.state),
                    sanitize(&r.by),
                    crate::domain::time::format_utc(r.when)
                )));
                if let Some(n) = &r.value.note {
                    lines.push(Line::raw(format!("note: {}", sanitize(n))));
                }
            } else {
                lines.push(Line::raw("open (nobody has set it yet)"));
            }
            format!(" {} ", sanitize(&item.id))
        }
        Pane::Actions => {
            let Some(a) = inc.selected_action() else { return };
            lines.push(Line::styled(sanitize(&a.title), theme.bold()));
            lines.push(Line::raw(format!("why: {}", sanitize(&a.why))));
            let term = match a.term {
                crate::domain::playbook::Term::Short => "short-term",
                crate::domain::playbook::Term::Long => "long-term",
            };
            lines.push(Line::raw(format!("{term} · approval: {}", approval_words(a.approval))));
            match inc.state().derived.actions.get(&a.id) {
                Some(r) => {
                    let who = |w: &Option<String>| w.as_deref().map(sanitize).unwrap_or_else(|| "-".into());
                    lines.push(Line::raw(format!(
                        "now {} (by {} at {}) · proposed by {} · approved by {}",
                        crate::domain::describe::action_state_word(r.value.state),
                        sanitize(&r.by),
                        crate::domain::time::format_utc(r.when),
                        who(&r.value.proposer),
                        who(&r.value.approver)
                    )));
                    if let Some(n) = &r.value.note {
                        lines.push(Line::raw(format!("note: {}", sanitize(n))));
                    }
                }
                None => lines.push(Line::raw("not proposed yet")),
            }
            // Commands are never wrapped, so what is copied from the screen is what runs.
            if let Some(c) = &a.command {
                commands.push(Line::styled(
                    "command (run it yourself; warroom never executes commands):",
                    theme.warn(),
                ));
                commands.extend(sanitize_lines(c).into_iter().map(Line::raw));
            }
            if let Some(r) = &a.rollback {
                commands.push(Line::styled("rollback:", theme.bold()));
                commands.extend(sanitize_lines(r).into_iter().map(Line::raw));
            }
            format!(" {} ", sanitize(&a.id))
        }
        _ => return,
    };
    let r = centered(
        area,
        area.width.saturating_sub(4).min(100),
        area.height.saturating_sub(4),
    );
    frame.render_widget(Clear, r);
    let block = pane_block(title, true, theme);
    let inner = block.inner(r);
    frame.render_widget(block, r);
    let [text, cmds] = Layout::vertical([Constraint::Min(0), Constraint::Length(commands.len() as u16)]).areas(inner);
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), text);
    frame.render_widget(Paragraph::new(commands), cmds);
}

/// The approval rule in words.
pub fn approval_words(a: crate::domain::playbook::Approval) -> &'static str {
    match a {
        crate::domain::playbook::Approval::None => "none needed",
        crate::domain::playbook::Approval::Commander => "the incident commander",
        crate::domain::playbook::Approval::TwoPerson => "two people: someone other than the proposer",
    }
}
