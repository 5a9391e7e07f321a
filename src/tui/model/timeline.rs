//! The timeline's window, anchored on the record under the cursor. The model keeps that record's
//! timeline key ([`TimelineView::anchor`]) and how many rows of the window lie below it; drawing,
//! moving the cursor and changing a filter find it by binary search in the timeline and walk only
//! the rows they need around it, however far back the reader scrolled. (A count of rows from the
//! newest made each of them walk every row in between: ≈ 0.2 s a key, and 8 % of a core idle, at
//! the top of a 1M-record incident.) Rows the filter hides are skipped on the way, so a filter
//! that shows few rows still walks the records between them.
//!
//! The title's "↑N" (rows back from the newest) is kept beside the anchor: moved by what a key
//! moves, raised by the records arriving above the cursor, and counted again from the anchor —
//! up to [`BACK_COUNTED`] rows, beyond which it reads "↑N+" — only where it cannot be known
//! otherwise (a filter changed, Home).

use crate::domain::event::{Body, Event, EventKey};
use crate::domain::state::timeline_key;
use crate::domain::time::Millis;
use crate::tui::keymap::Action;

use super::{IncidentModel, TimelineView};

/// A record's place in the timeline ([`timeline_key`]).
pub type TimelineKey = (Millis, EventKey);

/// How many rows back from the newest are counted where the count is not known (after a filter
/// change or Home): beyond it the title says "↑N+", N a lower bound.
pub const BACK_COUNTED: usize = 1000;

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

/// A row and the stretch of the timeline it spans: indexes `lo..hi`.
struct Span<'a> {
    row: Row<'a>,
    lo: usize,
    hi: usize,
}

impl<'a> Span<'a> {
    fn one(i: usize, e: &'a Event) -> Span<'a> {
        Span {
            row: Row { events: vec![e] },
            lo: i,
            hi: i + 1,
        }
    }
    fn key(&self) -> Option<TimelineKey> {
        self.row.newest().map(timeline_key)
    }
}

fn is_clock(e: &Event) -> bool {
    matches!(e.body, Body::ExerciseClock(_))
}

/// Whether `e` joins its neighbours into a run of clock changes shown as one row.
fn condensed(t: &TimelineView, e: &Event) -> bool {
    t.condense_clock && is_clock(e)
}

/// Up to `take` rows older than timeline index `end`, newest first.
fn older(inc: &IncidentModel, end: usize, take: usize) -> Vec<Span<'_>> {
    let t = &inc.timeline;
    let mut out: Vec<Span> = Vec::with_capacity(take.min(4096));
    if take == 0 {
        return out;
    }
    // A run of clock changes being gathered (newest first), not yet counted.
    let mut open: Option<Span> = None;
    for (i, e) in inc.state().timeline_rev_at(end) {
        if !t.shows(e) {
            continue;
        }
        if condensed(t, e) {
            match &mut open {
                Some(r) => {
                    r.row.events.push(e);
                    r.lo = i;
                }
                None => open = Some(Span::one(i, e)),
            }
            continue;
        }
        if let Some(r) = open.take() {
            out.push(r);
            if out.len() >= take {
                break;
            }
        }
        out.push(Span::one(i, e));
        if out.len() >= take {
            break;
        }
    }
    if let Some(r) = open.take().filter(|_| out.len() < take) {
        out.push(r);
    }
    for r in &mut out {
        r.row.events.reverse();
    }
    out
}

/// Up to `take` rows newer than timeline index `start` on (`start` included), oldest first.
fn newer(inc: &IncidentModel, start: usize, take: usize) -> Vec<Span<'_>> {
    let t = &inc.timeline;
    let mut out: Vec<Span> = Vec::with_capacity(take.min(4096));
    if take == 0 {
        return out;
    }
    let mut open: Option<Span> = None;
    for (i, e) in inc.state().timeline_from(start) {
        if !t.shows(e) {
            continue;
        }
        if condensed(t, e) {
            match &mut open {
                Some(r) => {
                    r.row.events.push(e);
                    r.hi = i + 1;
                }
                None => open = Some(Span::one(i, e)),
            }
            continue;
        }
        if let Some(r) = open.take() {
            out.push(r);
            if out.len() >= take {
                break;
            }
        }
        out.push(Span::one(i, e));
        if out.len() >= take {
            break;
        }
    }
    if let Some(r) = open.take().filter(|_| out.len() < take) {
        out.push(r);
    }
    out
}

/// The row holding the shown record `e` at timeline index `i`: itself, or the whole run of clock
/// changes it is part of.
fn row_at<'a>(inc: &'a IncidentModel, i: usize, e: &'a Event) -> Span<'a> {
    let t = &inc.timeline;
    if !condensed(t, e) {
        return Span::one(i, e);
    }
    let s = inc.state();
    let mut span = Span::one(i, e);
    for (j, x) in s.timeline_rev_at(i) {
        if !t.shows(x) {
            continue;
        }
        if !condensed(t, x) {
            break;
        }
        span.row.events.push(x);
        span.lo = j;
    }
    span.row.events.reverse();
    for (j, x) in s.timeline_from(i + 1) {
        if !t.shows(x) {
            continue;
        }
        if !condensed(t, x) {
            break;
        }
        span.row.events.push(x);
        span.hi = j + 1;
    }
    span
}

/// The cursor's row: the one holding the anchor record, else (gone, or hidden by the filter) the
/// nearest older row shown, else the oldest row; following, the newest row. `None`: no rows.
fn cursor_row(inc: &IncidentModel) -> Option<Span<'_>> {
    let s = inc.state();
    let t = &inc.timeline;
    let end = match &t.anchor {
        None => s.timeline_len(),
        Some(k) => s.timeline_upto(k),
    };
    let (i, e) = match s.timeline_rev_at(end).find(|(_, e)| t.shows(e)) {
        Some(found) => found,
        None => s.timeline_from(end).find(|(_, e)| t.shows(e))?,
    };
    Some(row_at(inc, i, e))
}

/// The event under the cursor (the newest event of the cursor's row).
pub fn cursor(inc: &IncidentModel) -> Option<&Event> {
    cursor_row(inc).and_then(|r| r.row.newest())
}

/// The rows in a window of `rows`, oldest first, and which of them is the cursor. The cursor's
/// row has `below` rows under it (as the reducer left it, at most the window's), and the window
/// is never left part empty while there are rows to fill it: at the oldest row it ends there,
/// full with newer ones.
pub fn window(inc: &IncidentModel, rows: usize) -> (Vec<Row<'_>>, usize) {
    let rows = rows.max(1);
    let Some(at) = cursor_row(inc) else {
        return (Vec::new(), 0);
    };
    let newer = newer(inc, at.hi, rows - 1);
    let older = older(inc, at.lo, rows - 1);
    let below = inc.timeline.below.min(rows - 1).min(newer.len());
    let up = older.len().min(rows - 1 - below);
    let down = newer.len().min(rows - 1 - up);
    let mut shown: Vec<Row> = older.into_iter().take(up).map(|s| s.row).collect();
    shown.reverse();
    shown.push(at.row);
    shown.extend(newer.into_iter().take(down).map(|s| s.row));
    (shown, up)
}

/// Back to following the newest row.
fn follow(t: &mut TimelineView) {
    t.anchor = None;
    t.below = 0;
    t.back = 0;
    t.back_more = false;
}

/// Count again how many rows are newer than the cursor's, up to [`BACK_COUNTED`].
fn recount(inc: &mut IncidentModel) {
    let n = match cursor_row(inc) {
        Some(at) if inc.timeline.anchor.is_some() => newer(inc, at.hi, BACK_COUNTED).len(),
        _ => 0,
    };
    inc.timeline.back = n;
    inc.timeline.back_more = n >= BACK_COUNTED;
}

/// Move the timeline's cursor for a key, with `rows` rows in its pane: up and down a row or a
/// page, Home to the oldest row, End (anything else) to the newest, following it. The window
/// moves only as far as the cursor needs (a page moves both); the cursor never goes past the
/// oldest row. Only the rows moved over (and a window's worth around them) are walked.
pub fn move_cursor(inc: &mut IncidentModel, a: Action, rows: usize) {
    let rows = rows.max(1);
    let page = rows.saturating_sub(1).max(1);
    match a {
        Action::Up | Action::Down | Action::PageUp | Action::PageDown => {}
        Action::Top => return home(inc, rows),
        _ => return follow(&mut inc.timeline),
    }
    let Some(at) = cursor_row(inc) else {
        return follow(&mut inc.timeline);
    };
    // Rows back are counted from here, `v` of them to the newest (exact when fewer than
    // `reach`; else far enough that no move below reaches the newest).
    let reach = page + rows.max(inc.timeline.below) + 2;
    let newer = newer(inc, at.hi, reach);
    let older = older(inc, at.lo, reach);
    let v = newer.len();
    let near_newest = v < reach;
    let win = v - inc.timeline.below.min(v);
    let back = match a {
        Action::Up => v + 1,
        Action::Down => v.saturating_sub(1),
        Action::PageUp => v + page,
        _ => v.saturating_sub(page),
    }
    // Never past the oldest row.
    .min(v + older.len());
    // The window moves only as far as the cursor needs (a page moves both).
    let win = match a {
        Action::PageUp => win + page,
        Action::PageDown => win.saturating_sub(page),
        _ => win,
    }
    .clamp((back + 1).saturating_sub(rows), back);
    let to = match back.cmp(&v) {
        std::cmp::Ordering::Greater => older.get(back - v - 1).and_then(Span::key),
        std::cmp::Ordering::Less => newer.get(v - back - 1).and_then(Span::key),
        std::cmp::Ordering::Equal => at.key(),
    };
    let t = &mut inc.timeline;
    if back == 0 && near_newest {
        return follow(t);
    }
    t.anchor = to;
    t.below = back - win;
    if near_newest {
        t.back = back;
        t.back_more = false;
    } else if back >= v {
        t.back += back - v;
    } else {
        t.back = t.back.saturating_sub(v - back);
        if t.back_more && t.back < BACK_COUNTED / 2 {
            recount(inc);
        }
    }
}

/// Home: the oldest row, the window holding as many rows below it as it can keep from where it
/// was.
fn home(inc: &mut IncidentModel, rows: usize) {
    let Some(at) = cursor_row(inc) else {
        return follow(&mut inc.timeline);
    };
    let below = inc.timeline.below;
    let older = older(inc, at.lo, rows).len();
    let s = inc.state();
    let oldest = s
        .timeline_from(0)
        .find(|(_, e)| inc.timeline.shows(e))
        .map(|(i, e)| row_at(inc, i, e));
    let Some(oldest) = oldest.filter(|o| !newer(inc, o.hi, 1).is_empty()) else {
        // One row at most: it is the newest.
        return follow(&mut inc.timeline);
    };
    let to = oldest.key();
    inc.timeline.anchor = to;
    inc.timeline.below = (older + below).min(rows - 1);
    recount(inc);
}

/// Put the anchor on the record the cursor is on: the anchor's own (still there and shown), else
/// the nearest older row shown, else the oldest; the newest row follows again. After a filter
/// change the cursor is at the bottom of the window.
fn land(inc: &mut IncidentModel) {
    let Some(at) = cursor_row(inc) else {
        return follow(&mut inc.timeline);
    };
    if newer(inc, at.hi, 1).is_empty() {
        return follow(&mut inc.timeline);
    }
    let to = at.key();
    inc.timeline.anchor = to;
    recount(inc);
}

/// Change what the timeline shows (kind, author, search), staying on the record under the cursor
/// when scrolled back: on it if the new filter shows it, else on the nearest older row shown.
/// Following the newest, it keeps following.
pub(super) fn refilter(inc: &mut IncidentModel, change: impl FnOnce(&mut TimelineView)) {
    let on = match inc.timeline.anchor {
        Some(_) => cursor(inc).map(timeline_key),
        None => None,
    };
    change(&mut inc.timeline);
    let Some(on) = on else {
        return follow(&mut inc.timeline);
    };
    inc.timeline.anchor = Some(on);
    inc.timeline.below = 0;
    land(inc);
}

/// Where a reader scrolled back in the timeline is, taken before new records arrive (in a part
/// of a long read or an update), so they stay on the same records after: the timeline key of
/// the record under the cursor.
pub(super) struct Place(Option<TimelineKey>);

impl Place {
    pub(super) fn of(inc: &IncidentModel) -> Place {
        // Following the newest: nothing to keep.
        Place(inc.timeline.anchor.clone())
    }

    /// Count the records `fresh` (new in the view) shown above the cursor into the rows back
    /// (the ones sorting before it do not move it). The cursor stays on its record; if that
    /// went (a log read again without it), on the nearest older row shown.
    pub(super) fn keep(self, inc: &mut IncidentModel, fresh: &[EventKey]) {
        let Some(at) = self.0 else { return };
        let shown = fresh
            .iter()
            .filter_map(|k| inc.view.state.event(k))
            .filter(|e| inc.timeline.shows(e) && timeline_key(e) > at)
            .count();
        inc.timeline.back += shown;
        let on = cursor(inc).map(timeline_key);
        if on.is_some() && on != inc.timeline.anchor {
            inc.timeline.anchor = on;
        }
    }
}
