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
use crate::tui::model::{IncidentModel, Model, Pane};
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
    let title = format!(
        " Facilitator {} {state} x{} ",
        format_scenario(c.scenario_ms(m.view_now())),
        c.speed
    );
    let block = pane_block(title, focused, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.height == 0 || inner.width == 0 {
        return;
    }
    let w = inner.width as usize;
    let upcoming = scheduler::upcoming(&f.scenario, s, &f.skipped);
    let released = s.derived.released_injects.len();
    let mut lines = vec![Line::styled(
        format!(
            "{released} released · {} to come · {} skipped",
            upcoming.len(),
            f.skipped.len()
        ),
        theme.dim(),
    )];
    let sel = m.inject_sel.min(upcoming.len().saturating_sub(1));
    let detail_rows = 3usize;
    let list_rows = (inner.height as usize).saturating_sub(1 + detail_rows).max(1);
    let start = sel.saturating_sub(list_rows.saturating_sub(1));
    for (i, inj) in upcoming.iter().enumerate().skip(start).take(list_rows) {
        let text = fit(&format!("{:<12} {}", when_label(&inj.when), sanitize(&inj.title)), w);
        let style = if i == sel && focused {
            theme.selected()
        } else {
            theme.base()
        };
        lines.push(Line::styled(text, style));
    }
    if let Some(inj) = upcoming.get(sel) {
        lines.push(Line::from(vec![
            Span::styled("expected: ", theme.bold()),
            Span::raw(sanitize(&inj.expected)),
        ]));
    } else if !c.ended {
        lines.push(Line::styled(
            "every inject is out; end with the clock or let it run",
            theme.dim(),
        ));
    }
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), inner);
}
