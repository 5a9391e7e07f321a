//! The header: what this incident is and how fresh the picture is.

use ratatui::layout::Rect;
use ratatui::style::Style;
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
    if let (Some(t), Some(r)) = (inc.replay_at(), inc.replay.as_ref()) {
        l1.push(Span::styled(
            format!(
                " REPLAY {} {}/{} ",
                crate::domain::time::format_utc(t),
                r.cursor + 1,
                r.steps.len()
            ),
            theme.banner(),
        ));
        l1.push(Span::raw(" "));
    }
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
    let mut clock = s.declared_at().map_or("T+--:--:--".into(), |t| {
        format_elapsed(s.resolved_at().unwrap_or(m.view_now()) - t)
    });
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
            crate::exercise::scenario::format_scenario(c.scenario_ms(m.view_now()))
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

    let problems = inc.view.problems().len() + s.skew_warnings(m.view_now()).len();
    let l2 = second_line(m, inc, problems, w, theme);
    frame.render_widget(Paragraph::new(vec![Line::from(l1), l2]), area);
}

/// (watch, you, problems, the least room the id may have: `None` = whole, the next update when
/// it is not overdue)
type Candidate<'a> = (Option<&'a str>, Option<&'a str>, &'a str, Option<usize>, bool);

/// The second line at `w` columns. It always says who commands, when the next status update is
/// due (when the playbook sets a cadence) and whether there are problems,
/// and the incident's id whole when it can (what people type after `warroom note` and read out
/// on a call). When that does not fit, in this order: the freshness loses "ago", your own name
/// goes (it is on the board), the problems count loses its word, the id is cut to no less than
/// 20 columns (its start still names it for the CLI), the next update goes (never when it is
/// overdue), the watch mode goes, the id is cut further.
pub fn second_line(m: &Model, inc: &IncidentModel, problems: usize, w: usize, theme: &Theme) -> Line<'static> {
    let s = inc.state();
    let fresh = format_age(m.now.saturating_sub(m.watch.last_reconcile));
    let ic = sanitize(s.commander().unwrap_or("-"));
    let id = sanitize(&inc.id);
    let pw_long = format!("⚠ {problems} problem{} (!)", if problems == 1 { "" } else { "s" });
    let pw_short = format!("⚠ {problems} (!)");
    let watch_ago = format!("{} {fresh} ago", m.watch.mode);
    let watch = format!("{} {fresh}", m.watch.mode);
    let you = format!("you {}", m.me);
    // The playbook's status-update cadence: "next update due in 12m", loud once overdue.
    let update = inc
        .playbook()
        .and_then(|p| crate::domain::cadence::update_due(s, p))
        .map(|u| {
            let late = u.is_overdue(m.view_now());
            let style = if late { theme.bad() } else { theme.bold() };
            (u.short(m.view_now()), style, late)
        });
    let candidates: [Candidate; 8] = [
        (Some(&watch_ago), Some(&you), &pw_long, None, true),
        (Some(&watch), Some(&you), &pw_long, None, true),
        (Some(&watch), None, &pw_long, None, true),
        (Some(&watch), None, &pw_short, None, true),
        (Some(&watch), None, &pw_short, Some(20), true),
        (Some(&watch), None, &pw_short, Some(20), false),
        (None, None, &pw_short, None, true),
        (None, None, &pw_short, Some(0), true),
    ];
    let sep = 3;
    let mut chosen: Vec<(String, Style)> = Vec::new();
    for (watch, you, pw, id_min, with_update) in candidates {
        let mut parts = vec![(format!("IC {ic}"), theme.base())];
        if let Some((u, style, late)) = &update {
            if with_update || *late {
                parts.push((u.clone(), *style));
            }
        }
        if problems > 0 {
            parts.push((pw.to_string(), theme.warn()));
        }
        if let Some(y) = you {
            parts.push((y.to_string(), theme.base()));
        }
        if let Some(wt) = watch {
            parts.push((wt.to_string(), theme.base()));
        }
        let used: usize = parts.iter().map(|(t, _)| super::width(t)).sum::<usize>() + sep * parts.len();
        let room = w.saturating_sub(used);
        let fits = match id_min {
            None => super::width(&id) <= room,
            Some(min) => room >= min,
        };
        chosen = parts;
        chosen.push((fit(&id, room), theme.dim()));
        if fits {
            break;
        }
    }
    let mut spans = Vec::new();
    for (i, (t, st)) in chosen.into_iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" · ", theme.dim()));
        }
        spans.push(Span::styled(t, st));
    }
    Line::from(spans)
}
