//! The board: every incident in the shared directory.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use super::{fit, footer, pane_block};
use crate::domain::event::Mode;
use crate::domain::sanitize;
use crate::domain::time::format_age_minutes as format_age;
use crate::tui::model::{BoardFilter, Model, RowStatus};
use crate::tui::theme::Theme;

pub fn draw(frame: &mut Frame, area: Rect, m: &Model, theme: &Theme) {
    let [head, body, foot] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(0),
        Constraint::Length(super::footer_height(m, area.width)),
    ])
    .areas(area);
    let mut tabs = vec![Span::styled("warroom ", theme.title())];
    for f in BoardFilter::ALL {
        // Not "0" before the first pass has counted them.
        let n = match m.board_listed {
            true => m.board.iter().filter(|r| f.shows(r, m.demo)).count().to_string(),
            false => "…".to_string(),
        };
        let style = if f == m.board_filter {
            theme.selected()
        } else {
            theme.dim()
        };
        tabs.push(Span::styled(format!(" {} {n} ", f.label()), style));
        tabs.push(Span::raw(" "));
    }
    // The directory gives way to what follows it (watch mode, sync, you, problems), never the
    // reverse. The board is redrawn once a minute: the sync's age is in whole minutes here.
    let problems = (!m.board_problems.is_empty()).then(|| format!(" · ⚠ {} (!)", m.board_problems.len()));
    let sync = m.sync.as_ref().map(|l| {
        let t = crate::sync::status::compact_with(l, m.now, format_age);
        (format!(" · {t}"), l.failing())
    });
    let tail_w = |you: bool| {
        3 + super::width(&m.watch.mode)
            + sync.as_ref().map_or(0, |(t, _)| super::width(t))
            + if you { 7 + super::width(&m.me) } else { 0 }
            + problems.as_deref().map_or(0, super::width)
    };
    let total = area.width as usize;
    let with_you = total >= 4 + 12 + tail_w(true) || super::width(&m.store_desc) + 4 + tail_w(true) <= total;
    let dir_w = total.saturating_sub(4 + tail_w(with_you));
    let mut info = vec![
        Span::styled("dir ", theme.dim()),
        Span::raw(fit(&m.store_desc, dir_w)),
        Span::styled(" · ", theme.dim()),
        Span::raw(m.watch.mode.clone()),
    ];
    if let Some((t, failing)) = sync {
        info.push(Span::styled(t, if failing { theme.bad() } else { theme.base() }));
    }
    if with_you {
        info.push(Span::styled(" · you ", theme.dim()));
        info.push(Span::raw(m.me.clone()));
    }
    if let Some(p) = problems {
        info.push(Span::styled(p, theme.warn()));
    }
    frame.render_widget(Paragraph::new(vec![Line::from(tabs), Line::from(info)]), head);

    let block = pane_block(format!(" {} incidents ", m.board_filter.label()), true, theme);
    let inner = block.inner(body);
    frame.render_widget(block, body);
    let rows = m.visible_rows();
    if rows.is_empty() {
        let text = match m.board_filter {
            // Not "no incidents" (which invites declaring one twice) before the list is read.
            _ if !m.board_listed => vec![
                Line::from("Reading the incidents in this directory…"),
                Line::from(""),
                Line::styled("They are listed when the first pass ends.", theme.dim()),
            ],
            BoardFilter::Active => vec![
                Line::from("No active incidents in this directory."),
                Line::from(""),
                Line::from(vec![
                    Span::raw("Press "),
                    Span::styled("d", theme.bold()),
                    Span::raw(" to declare one, or from a shell:"),
                ]),
                Line::styled(
                    "  warroom declare --playbook ransomware --title \"…\" --severity 2",
                    theme.dim(),
                ),
                Line::from(""),
                Line::from(vec![
                    Span::raw("Teammates see it when they run warroom on the same directory (--dir or WARROOM_DIR). "),
                    Span::styled("f", theme.bold()),
                    Span::raw(" shows exercises and archived incidents."),
                ]),
            ],
            _ => vec![Line::from(format!(
                "No {} incidents.",
                m.board_filter.label().to_lowercase()
            ))],
        };
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: false }), inner);
    } else {
        let w = inner.width as usize;
        // Below 110 columns the flags take their short forms, and the column is as wide as the
        // widest row's flags: a flag is never cut (OVERDUE leads, so it is the last to go).
        let wide = w >= 110;
        let flags: Vec<String> = rows.iter().map(|r| row_flags(m, r, wide).join(" ")).collect();
        let flags_w = flags
            .iter()
            .map(|f| super::dialogs::text_width(f))
            .max()
            .unwrap_or(0)
            .max(5);
        // The phase whole where there is room for "Lessons Learned", else its short name.
        let phase_w = if wide { 15 } else { 8 };
        let fixed = 26 + phase_w;
        let mut last_w = 14;
        if w.saturating_sub(fixed + last_w + flags_w) < 16 {
            // Narrow: the last update gives up room before the title does.
            last_w = 9;
        }
        let title_w = w.saturating_sub(fixed + last_w + flags_w).max(12);
        let mut lines = vec![Line::styled(
            format!(
                "{:<5} {:<title_w$} {:<phase_w$} {:<9} {:>6} {:<last_w$} FLAGS",
                "SEV",
                "TITLE",
                "PHASE",
                "IC",
                "T+",
                if last_w >= 11 { "LAST UPDATE" } else { "UPDATED" }
            ),
            theme.dim(),
        )];
        let height = inner.height as usize - 1;
        let start = m.board_sel.saturating_sub(height.saturating_sub(1));
        for (i, r) in rows.iter().enumerate().skip(start).take(height) {
            let sev = r.severity.map_or("SEV?".into(), |s| format!("SEV{s}"));
            // Minutes are enough on the board (it redraws each minute); seconds live in the war room.
            let age = r.declared_at.map_or("-".into(), |t| {
                format_age(r.resolved_at.unwrap_or(m.now).saturating_sub(t))
            });
            let last = r.last_update.as_ref().map_or("-".into(), |(t, by)| {
                format!("{} {}", format_age(m.now - t), crate::domain::identity::person_of(by))
            });
            let flags = flags.get(i).cloned().unwrap_or_default();
            let phase = if wide { r.phase.label() } else { r.phase.short_label() };
            let ic = fit(&sanitize(r.commander.as_deref().unwrap_or("-")), 9);
            let line = Line::from(vec![
                Span::styled(format!("{sev:<5} "), theme.severity(r.severity)),
                Span::raw(format!(
                    "{:<title_w$} {phase:<phase_w$} {ic:<9} {age:>6} {:<last_w$} ",
                    fit(&sanitize(&r.title), title_w),
                    fit(&sanitize(&last), last_w)
                )),
                Span::styled(fit(&flags, w.saturating_sub(fixed + last_w + title_w)), theme.warn()),
            ]);
            lines.push(if i == m.board_sel {
                line.patch_style(theme.selected())
            } else {
                line
            });
        }
        frame.render_widget(Paragraph::new(lines), inner);
    }
    footer(frame, foot, m, theme);
}

/// A row's flags, most urgent first; `wide` gives the long forms (short ones below 110 columns).
fn row_flags(m: &Model, r: &crate::tui::model::BoardRow, wide: bool) -> Vec<String> {
    let mut flags = Vec::new();
    // A missed deadline leads the row's flags: it must never disappear.
    let overdue = r.overdue(m.now);
    if overdue > 0 {
        flags.push(format!("OVERDUE {overdue}"));
    }
    match r.mode {
        Some(Mode::Exercise) => flags.push("EXERCISE".to_string()),
        Some(Mode::Demo) => flags.push("DEMO".to_string()),
        _ => {}
    }
    match r.status {
        RowStatus::Resolved => flags.push("resolved".into()),
        RowStatus::Archived => flags.push("archived".into()),
        RowStatus::Syncing => flags.push("syncing".into()),
        RowStatus::Unsigned => flags.push(crate::domain::unsigned::STATUS.into()),
        RowStatus::Vanished => flags.push("VANISHED".into()),
        RowStatus::Active => {}
    }
    if let Some(newer) = r.newer_in_library(&m.library_versions) {
        let runs = r.playbook.as_ref().map_or("", |p| p.1.as_str());
        flags.push(if wide {
            format!("playbook {} < {}", sanitize(runs), sanitize(newer))
        } else {
            "old pb".to_string()
        });
    }
    if r.problems > 0 {
        flags.push(if wide {
            format!("⚠{} problem{}", r.problems, if r.problems == 1 { "" } else { "s" })
        } else {
            format!("⚠{}", r.problems)
        });
    }
    flags
}
