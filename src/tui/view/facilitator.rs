//! The facilitator's pane: the exercise clock, upcoming injects with their expected outcomes (only
//! on this host), and what was released when.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use super::{fit, pane_block};
use crate::domain::sanitize;
use crate::exercise::scenario::{format_scenario, When};
use crate::exercise::scheduler;
use crate::tui::model::{FacView, IncidentModel, Model, Pane};
use crate::tui::theme::Theme;

fn when_label(w: &When) -> String {
    match w {
        When::At(t) => format!("E+{t}"),
        When::PhaseEntered(p) => format!("on {p}"),
        When::ItemDone(i) => format!("on {i} done"),
        When::ActionApproved(a) => format!("on {a} approved"),
    }
}

pub fn draw(frame: &mut Frame, area: Rect, m: &Model, inc: &IncidentModel, theme: &Theme) {
    let focused = inc.focus == Pane::Facilitator;
    let Some(f) = &m.facilitator else { return };
    let s = inc.state();
    let c = scheduler::clock(s);
    let state = if c.ended {
        "■ ended"
    } else if c.running {
        "▶ running"
    } else {
        "⏸ paused"
    };
    // A speed change still settling shows at once (`…`: recorded when the presses stop).
    let speed = match m.pending_speed {
        Some((p, _)) => format!("x{p}…"),
        None => format!("x{}", c.speed),
    };
    let title = format!(
        " Facilitator {} {state} {speed} ",
        format_scenario(c.scenario_ms(m.view_now()))
    );
    let block = pane_block(title, focused, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height == 0 || inner.width == 0 {
        return;
    }
    let w = inner.width as usize;
    let upcoming = crate::tui::model::upcoming(m);
    let released = crate::tui::model::released(m);
    let objectives = &f.scenario.objectives;
    let rated = objectives.iter().filter(|o| f.rating(o).is_some()).count();
    let tab = |v: FacView, label: String| {
        let style = if m.fac_view == v { theme.bold() } else { theme.dim() };
        Span::styled(label, style)
    };
    let mut lines = vec![Line::from(vec![
        tab(FacView::Upcoming, format!("{} to come", upcoming.len())),
        Span::styled(" · ", theme.dim()),
        tab(FacView::Released, format!("{} out", released.len())),
        Span::styled(" · ", theme.dim()),
        tab(FacView::Objectives, format!("{rated}/{} rated", objectives.len())),
        Span::styled(
            if f.skipped.is_empty() {
                " (v)".to_string()
            } else {
                format!(" · {} skipped (v)", f.skipped.len())
            },
            theme.dim(),
        ),
    ])];
    let rows: Vec<(String, Option<String>)> = match m.fac_view {
        FacView::Upcoming => upcoming
            .iter()
            .map(|inj| {
                let when = if m.held.contains(&inj.id) {
                    "OVERDUE".to_string()
                } else {
                    when_label(&inj.when)
                };
                (
                    format!("{when:<12} {}", sanitize(&inj.title)),
                    Some(format!("expected: {}", sanitize(&inj.expected))),
                )
            })
            .collect(),
        FacView::Released => released
            .iter()
            .map(|(id, title)| {
                let notes = f
                    .notes
                    .iter()
                    .filter(|n| n.inject.as_deref() == Some(id.as_str()))
                    .count();
                let mark = match notes {
                    0 => String::new(),
                    1 => " (1 note)".to_string(),
                    n => format!(" ({n} notes)"),
                };
                // The count before the title: the title is what gets cut.
                (format!("{}{mark} {}", sanitize(id), sanitize(title)), None)
            })
            .collect(),
        FacView::Objectives => objectives
            .iter()
            .map(|o| {
                let r = f.rating(o);
                let label = r.map_or("unrated", |r| r.rating.label());
                // The whole objective under the list, with the note: the row is cut to fit.
                let note = r
                    .filter(|r| !r.note.is_empty())
                    .map_or(String::new(), |r| format!(" — note: {}", sanitize(&r.note)));
                let note = note.trim_start_matches(" — ").to_string();
                let note = if note.is_empty() { note } else { format!("{note} · ") };
                (
                    format!("{label:<8} {}", sanitize(o)),
                    Some(format!("{note}Enter/o rates — {}", sanitize(o))),
                )
            })
            .collect(),
    };
    let sel = m.inject_sel.min(rows.len().saturating_sub(1));
    // The selected row's detail wraps whole under the list, leaving the list at least a row.
    let room = (inner.height as usize).saturating_sub(2).max(1);
    let mut detail: Vec<String> = match rows.get(sel) {
        Some((_, Some(d))) => super::dialogs::wrap_words(d, w),
        _ => Vec::new(),
    };
    if detail.len() > room {
        detail.truncate(room);
        if let Some(last) = detail.last_mut() {
            *last = fit(&format!("{last} …"), w);
        }
    }
    let detail_rows = detail.len().max(1);
    let list_rows = (inner.height as usize).saturating_sub(1 + detail_rows).max(1);
    let start = sel.saturating_sub(list_rows.saturating_sub(1));
    for (i, (text, _)) in rows.iter().enumerate().skip(start).take(list_rows) {
        let style = if i == sel && focused {
            theme.selected()
        } else if text.starts_with("OVERDUE") {
            theme.warn()
        } else {
            theme.base()
        };
        lines.push(Line::styled(fit(text, w), style));
    }
    match rows.get(sel) {
        Some((_, Some(_))) => lines.extend(detail.into_iter().map(|l| Line::styled(l, theme.dim()))),
        Some(_) => {}
        None if m.fac_view == FacView::Upcoming && !c.ended => {
            lines.push(Line::styled("every inject is out; E ends the exercise", theme.dim()))
        }
        None if m.fac_view == FacView::Released => lines.push(Line::styled("nothing released yet", theme.dim())),
        None => {}
    }
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), inner);
}
