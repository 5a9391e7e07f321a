//! The header: what this incident is and how fresh the picture is.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::{fit, severity_label, width};
use crate::domain::event::Mode;
use crate::domain::sanitize;
use crate::domain::time::{format_age, format_elapsed};
use crate::sync::status;
use crate::tui::model::{reading_text, IncidentModel, Model};
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
    let mut clock = s.declared_at().map_or("T+--:--:--".into(), |t| {
        format_elapsed(s.resolved_at().unwrap_or(m.view_now()) - t)
    });
    let mut clock_short = clock.clone();
    if let Some(c) = s.derived.exercise_clock {
        // Exercises run on scenario time, with wall time beside it.
        let (glyph, word) = if c.ended {
            ("■", "ended")
        } else if c.running {
            ("▶", "running")
        } else {
            ("⏸", "paused")
        };
        let scenario = crate::exercise::scenario::format_scenario(c.scenario_ms(m.view_now()));
        clock_short = format!("{scenario} {glyph} {clock}");
        clock = format!("{scenario} {glyph} {word} {clock}");
    }
    let status = if s.is_archived() {
        "  ARCHIVED"
    } else if s.is_resolved() {
        "  RESOLVED"
    } else {
        ""
    };
    // Nothing derived yet (a read in progress), or nothing applied (signatures required and the
    // declaration has none that counts; the Now strip says why): no severity, title, phase or
    // clock to show.
    let unknown = match inc.reading() {
        Some(n) => Some((format!("⧗ {}", reading_text(n)), theme.bold())),
        None => crate::domain::unsigned::unsigned_declaration(s)
            .map(|_| ("✖ nothing applied: signatures required".to_string(), theme.bad())),
    };
    if let Some((text, style)) = unknown {
        let room = w.saturating_sub(l1.iter().map(|s| s.width()).sum());
        l1.push(Span::styled(fit(&text, room), style));
        let problems = inc.view.problems().len();
        let l2 = second_line(m, inc, problems, w, theme);
        frame.render_widget(Paragraph::new(vec![Line::from(l1), l2]), area);
        return;
    }
    let sev = s.severity();
    let banners: usize = l1.iter().map(|s| s.width()).sum();
    // The clock and the phase are never cut: the title gives way first, then the long words.
    let forms = [
        (severity_label(sev), s.phase().label(), &clock),
        (severity_label(sev), s.phase().label(), &clock_short),
        (short_severity(sev), s.phase().label(), &clock_short),
        (short_severity(sev), s.phase().short_label(), &clock_short),
    ];
    let mut chosen = &forms[0];
    let mut room = 0;
    for f in &forms {
        chosen = f;
        let fixed = banners + width(&f.0) + 2 + width(&format!("▶ {}", f.1)) + width(status) + 2 + width(f.2);
        room = w.saturating_sub(fixed + 2);
        // Room for a useful start of the title, else a shorter form (the last is as short as it
        // gets, and the title goes).
        if room >= 8 {
            break;
        }
    }
    let (sev_text, phase, clock) = chosen;
    l1.push(Span::styled(sev_text.clone(), theme.severity(sev)));
    l1.push(Span::raw("  "));
    // A title with less than a few columns left is not shown at all.
    if room >= 4 {
        l1.push(Span::styled(fit(&sanitize(s.title()), room), theme.title()));
        l1.push(Span::raw("  "));
    }
    l1.push(Span::styled(format!("▶ {phase}"), theme.bold()));
    l1.push(Span::styled(status, theme.good()));
    l1.push(Span::raw("  "));
    l1.push(Span::styled(clock.to_string(), theme.bold()));

    let problems = inc.view.problems().len() + s.skew_warnings(m.view_now()).len();
    let l2 = second_line(m, inc, problems, w, theme);
    frame.render_widget(Paragraph::new(vec![Line::from(l1), l2]), area);
}

/// (watch, you, problems, the least room the id may have: `None` = whole, the next update when
/// it is not overdue, sync)
type Candidate<'a> = (
    Option<&'a str>,
    Option<&'a str>,
    &'a str,
    Option<usize>,
    bool,
    Option<&'a str>,
);

/// The second line at `w` columns. It always says who commands (once the incident is read), when a status update is overdue
/// and whether there are problems. Then, by priority: the incident's id whole (what people type
/// after `warroom note` and read out on a call), the next status update, the watch's freshness,
/// the sync status (`--sync-every`), your own name (it is on the board). When that does not fit, in
/// this order: the freshness loses "ago", your name goes, the sync status loses its words
/// (`sync ✖ 3m`), the problems count loses its word, the freshness goes (never when the picture is
/// over a minute old) leaving its place to the sync status, the next update goes (never when it is
/// overdue), a working sync goes (never a failing one), and only then is the id cut.
pub fn second_line(m: &Model, inc: &IncidentModel, problems: usize, w: usize, theme: &Theme) -> Line<'static> {
    let s = inc.state();
    let unknown = inc.reading().is_some() || crate::domain::unsigned::unsigned_declaration(s).is_some();
    let age = m.now.saturating_sub(m.watch.last_reconcile);
    let fresh = format_age(age);
    // Kept to the last when it is a warning: the picture over a minute old, or a polling
    // fallback (whose mode says why).
    let stale = age > 60_000 || m.watch.mode.starts_with("poll");
    // ✎: the record that made them commander carries a valid SSH signature.
    let ic = sanitize(s.commander().unwrap_or("-"))
        + if s.role_signed(crate::domain::playbook::COMMANDER) {
            "✎"
        } else {
            ""
        };
    let id = sanitize(&inc.id);
    let pw_long = format!("⚠ {problems} problem{} (!)", if problems == 1 { "" } else { "s" });
    let pw_short = format!("⚠ {problems} (!)");
    let watch_ago = format!("{} {fresh} ago", m.watch.mode);
    let watch = format!("{} {fresh}", m.watch.mode);
    let you = format!("you {}", m.me);
    // The playbook's status-update cadence: "next update due in 12m", loud once overdue.
    let update = inc
        .playbook()
        .filter(|_| inc.reading().is_none())
        .and_then(|p| crate::domain::cadence::update_due(s, p))
        .map(|u| {
            let late = u.is_overdue(m.view_now());
            let style = if late { theme.bad() } else { theme.bold() };
            (u.short(m.view_now()), style, late)
        });
    let watch_kept = stale.then_some(watch.as_str());
    let sync_long = m.sync.as_ref().map(|l| status::short(l, m.now));
    let sync_short = m.sync.as_ref().map(|l| status::compact(l, m.now));
    let sync_failing = m.sync.as_ref().is_some_and(|l| l.failing());
    let (sl, ss) = (sync_long.as_deref(), sync_short.as_deref());
    let sync_kept = ss.filter(|_| sync_failing);
    // A working sync's age takes the place of a fresh watch's (the picture from the other site is
    // the older one); a failing sync is kept like a stale watch.
    let candidates: [Candidate; 10] = [
        (Some(&watch_ago), Some(&you), &pw_long, None, true, sl),
        (Some(&watch), Some(&you), &pw_long, None, true, sl),
        (Some(&watch), None, &pw_long, None, true, sl),
        (Some(&watch), None, &pw_long, None, true, ss),
        (Some(&watch), None, &pw_short, None, true, ss),
        (watch_kept, None, &pw_short, None, true, sl),
        (watch_kept, None, &pw_short, None, true, ss),
        (watch_kept, None, &pw_short, None, false, ss),
        (watch_kept, None, &pw_short, None, false, sync_kept),
        (watch_kept, None, &pw_short, Some(0), false, sync_kept),
    ];
    let sep = 3;
    let mut chosen: Vec<(String, Style)> = Vec::new();
    for (watch, you, pw, id_min, with_update, sync) in candidates {
        // Who commands is not known while a read is in progress or nothing is applied (not "-",
        // which says nobody).
        let mut parts = if unknown {
            vec![]
        } else {
            vec![(format!("IC {ic}"), theme.base())]
        };
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
        if let Some(sy) = sync {
            parts.push((sy.to_string(), if sync_failing { theme.bad() } else { theme.base() }));
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

/// `SEV1` without its word, for a narrow header.
fn short_severity(s: Option<u8>) -> String {
    match s {
        Some(n) => format!("SEV{n}"),
        None => "SEV?".into(),
    }
}
