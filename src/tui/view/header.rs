//! The header: what this incident is and how fresh the picture is.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::{fit, severity_label};
use crate::domain::event::Mode;
use crate::domain::sanitize;
use crate::domain::time::{format_age, format_elapsed};
use crate::tui::model::{IncidentModel, Model};
use crate::tui::theme::Theme;

pub fn draw(frame: &mut Frame, area: Rect, m: &Model, inc: &IncidentModel, theme: &Theme) {
    let s = inc.state();
    let w = area.width as usize;
    let mut l1 = Vec::new();
    match s.mode() {
        Some(Mode::Exercise) => l1.push(Span::styled(" EXERCISE ", theme.banner())),
        Some(Mode::Demo) => l1.push(Span::styled(" DEMO ", theme.banner())),
        _ => {}
    }
    if !l1.is_empty() {
        l1.push(Span::raw(" "));
    }
    l1.push(Span::styled(severity_label(s.severity()), theme.severity(s.severity())));
    l1.push(Span::raw("  "));
    let mut clock = s
        .declared_at()
        .map_or("T+--:--:--".into(), |t| format_elapsed(m.now - t));
    if let Some(c) = s.derived.exercise_clock {
        // Exercises run on scenario time, with wall time beside it.
        let run = if c.ended {
            "■ ended"
        } else if c.running {
            "▶ running"
        } else {
            "⏸ paused"
        };
        clock = format!(
            "{} {run} {clock}",
            crate::exercise::scenario::format_scenario(c.scenario_ms(m.now))
        );
    }
    let phase = format!("▶ {}", s.phase().label());
    let status = if s.is_resolved() { "  RESOLVED" } else { "" };
    let fixed: usize =
        l1.iter().map(|s| s.width()).sum::<usize>() + phase.chars().count() + clock.len() + status.len() + 6;
    l1.push(Span::styled(
        fit(&sanitize(s.title()), w.saturating_sub(fixed).max(8)),
        theme.title(),
    ));
    l1.push(Span::raw("  "));
    l1.push(Span::styled(phase, theme.bold()));
    l1.push(Span::styled(status, theme.good()));
    l1.push(Span::raw("  "));
    l1.push(Span::styled(clock, theme.bold()));

    let problems = inc.view.problems().len() + s.skew_warnings(m.now).len();
    let fresh = format_age(m.now - m.watch.last_reconcile);
    // Most important first; the id is last because it is the longest and the least read.
    let mut l2 = vec![
        Span::styled("IC ", theme.dim()),
        Span::raw(sanitize(s.commander().unwrap_or("-"))),
        Span::styled(" · you ", theme.dim()),
        Span::raw(m.me.clone()),
        Span::styled(" · ", theme.dim()),
        Span::raw(format!("{} {fresh} ago", m.watch.mode)),
    ];
    if problems > 0 {
        l2.push(Span::styled(" · ", theme.dim()));
        l2.push(Span::styled(
            format!("⚠ {problems} problem{} (!)", if problems == 1 { "" } else { "s" }),
            theme.warn(),
        ));
    }
    l2.push(Span::styled(" · ", theme.dim()));
    l2.push(Span::styled(sanitize(&inc.id), theme.dim()));
    frame.render_widget(Paragraph::new(vec![Line::from(l1), Line::from(l2)]), area);
}
