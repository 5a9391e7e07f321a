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

/// The records a filtered view shows, by timeline index (see [`hits`]), for the timeline's
/// records as they were ([`crate::domain::IncidentState::generation`]) and that filter.
#[derive(Debug)]
pub struct Hits {
    generation: u64,
    filter: (crate::tui::model::KindFilter, Option<String>, Option<String>),
    at: std::rc::Rc<Vec<u32>>,
}

/// The timeline indexes of the records a filtered view shows (`None`: not filtered, every
/// record but signatures is shown). Found by one walk of the timeline, then kept until the
/// records or the filter change: a search with few hits in a long history walked all of it
/// for every key (≈ 0.3 s a key at 1M), and now walks only its hits (see [`walk_back`]).
fn hits(inc: &IncidentModel) -> Option<std::rc::Rc<Vec<u32>>> {
    let t = &inc.timeline;
    if !t.filtered() {
        return None;
    }
    let s = inc.state();
    let filter = (t.kind, t.author.clone(), t.search.clone());
    if let Some(h) = inc
        .hits
        .borrow()
        .as_ref()
        .filter(|h| h.generation == s.generation() && h.filter == filter)
    {
        return Some(h.at.clone());
    }
    let at: std::rc::Rc<Vec<u32>> = std::rc::Rc::new(
        s.timeline_from(0)
            .filter(|(_, e)| t.shows(e))
            .filter_map(|(i, _)| u32::try_from(i).ok())
            .collect(),
    );
    *inc.hits.borrow_mut() = Some(Hits {
        generation: s.generation(),
        filter,
        at: at.clone(),
    });
    Some(at)
}

/// Records a walk looks at one by one before it takes a filtered view's hits instead (found
/// once for all: see [`hits`]): a filter matching often fills a window well within them, so a
/// teammate's note in a storm costs no walk of the whole history.
#[cfg(not(test))]
const DIRECT: usize = 4096;
/// Small in the unit tests, so that their walks take the hits too.
#[cfg(test)]
const DIRECT: usize = 3;

/// The records before timeline index `end`, newest first, with their indexes. Of a filtered
/// view: the nearest [`DIRECT`] one by one, then only its hits (the caller still asks `shows`).
fn walk_back(inc: &IncidentModel, end: usize) -> Box<dyn Iterator<Item = (usize, &Event)> + '_> {
    let s = inc.state();
    let end = end.min(s.timeline_len());
    if !inc.timeline.filtered() || end <= DIRECT {
        return Box::new(s.timeline_rev_at(end));
    }
    near_then_hits(inc, s.timeline_rev_at(end).take(DIRECT), move |at| {
        (0..at.partition_point(|&i| (i as usize) < end - DIRECT)).rev()
    })
}

/// The records from timeline index `start` on, oldest first (see [`walk_back`]).
fn walk_on(inc: &IncidentModel, start: usize) -> Box<dyn Iterator<Item = (usize, &Event)> + '_> {
    let s = inc.state();
    if !inc.timeline.filtered() || s.timeline_len().saturating_sub(start) <= DIRECT {
        return Box::new(s.timeline_from(start));
    }
    near_then_hits(inc, s.timeline_from(start).take(DIRECT), move |at| {
        at.partition_point(|&i| (i as usize) < start + DIRECT)..at.len()
    })
}

/// `near`, then the hits (see [`hits`]) at the places in the hit list that `places` picks:
/// found only if the walk goes on past `near`.
fn near_then_hits<'a, P: Iterator<Item = usize> + 'a>(
    inc: &'a IncidentModel,
    near: impl Iterator<Item = (usize, &'a Event)> + 'a,
    places: impl FnOnce(&[u32]) -> P + 'a,
) -> Box<dyn Iterator<Item = (usize, &'a Event)> + 'a> {
    let s = inc.state();
    let mut places = Some(places);
    let mut far: Option<(std::rc::Rc<Vec<u32>>, P)> = None;
    Box::new(near.chain(std::iter::from_fn(move || {
        if far.is_none() {
            let at = hits(inc).unwrap_or_default();
            let picked = (places.take()?)(&at);
            far = Some((at, picked));
        }
        let (at, picked) = far.as_mut()?;
        picked.find_map(|j| {
            let i = *at.get(j)? as usize;
            s.timeline_at(i).map(|e| (i, e))
        })
    })))
}

/// Up to `take` rows older than timeline index `end`, newest first.
fn older(inc: &IncidentModel, end: usize, take: usize) -> Vec<Span<'_>> {
    let walk = walk_back(inc, end);
    // A run of clock changes is gathered newest first: it grows towards the oldest.
    let mut out = rows_of(&inc.timeline, walk, take, |r, i| r.lo = i);
    for r in &mut out {
        r.row.events.reverse();
    }
    out
}

/// Up to `take` rows newer than timeline index `start` on (`start` included), oldest first.
fn newer(inc: &IncidentModel, start: usize, take: usize) -> Vec<Span<'_>> {
    let walk = walk_on(inc, start);
    rows_of(&inc.timeline, walk, take, |r, i| r.hi = i + 1)
}

/// Up to `take` rows of the records `walk` gives (timeline index, record), in its order: the
/// rows `t` shows, a run of condensed clock changes as one row (`grow` moves its far bound to a
/// record joining it; a run still open when `take` rows are counted is not one of them).
fn rows_of<'a>(
    t: &TimelineView,
    walk: impl Iterator<Item = (usize, &'a Event)>,
    take: usize,
    grow: impl Fn(&mut Span<'a>, usize),
) -> Vec<Span<'a>> {
    let mut out: Vec<Span> = Vec::with_capacity(take.min(4096));
    if take == 0 {
        return out;
    }
    // A run of clock changes being gathered, not yet counted.
    let mut open: Option<Span> = None;
    for (i, e) in walk {
        if !t.shows(e) {
            continue;
        }
        if condensed(t, e) {
            match &mut open {
                Some(r) => {
                    r.row.events.push(e);
                    grow(r, i);
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
    let mut span = Span::one(i, e);
    for (j, x) in walk_back(inc, i) {
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
    for (j, x) in walk_on(inc, i + 1) {
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
    let (i, e) = match walk_back(inc, end).find(|(_, e)| t.shows(e)) {
        Some(found) => found,
        None => walk_on(inc, end).find(|(_, e)| t.shows(e))?,
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

/// What [`window_drawn`] drew last: the records of each row (by key), for the timeline's
/// records as they were ([`crate::domain::IncidentState::generation`]), the view and the rows.
#[derive(Debug)]
pub struct WindowMemo {
    generation: u64,
    view: TimelineView,
    rows: usize,
    shown: Vec<Vec<crate::domain::event::EventKey>>,
    at: usize,
}

/// [`window`] for drawing: the same rows as last frame's while neither the timeline's records,
/// the view (cursor, filters) nor the rows changed. A filter with few matches in a long history
/// walks much of it to fill the window: with the clock redrawing every second, that walk is
/// made once, not every second.
pub fn window_drawn(inc: &IncidentModel, rows: usize) -> (Vec<Row<'_>>, usize) {
    let s = inc.state();
    let same = |m: &WindowMemo| m.generation == s.generation() && m.rows == rows && m.view == inc.timeline;
    if let Some(m) = inc.window_memo.borrow().as_ref().filter(|m| same(m)) {
        let shown: Option<Vec<Row>> = m
            .shown
            .iter()
            .map(|keys| {
                let events: Option<Vec<&Event>> = keys.iter().map(|k| s.event(k)).collect();
                events.map(|events| Row { events })
            })
            .collect();
        if let Some(shown) = shown {
            return (shown, m.at);
        }
    }
    let (shown, at) = window(inc, rows);
    *inc.window_memo.borrow_mut() = Some(WindowMemo {
        generation: s.generation(),
        view: inc.timeline.clone(),
        rows,
        shown: shown
            .iter()
            .map(|r| r.events.iter().map(|e| e.key()).collect())
            .collect(),
        at,
    });
    (shown, at)
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
    let oldest = walk_on(inc, 0)
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
    // Scrolled back, the record under the cursor stays. Following the newest row of a filtered
    // view (a search's one hit far back), it stays too: clearing the search lands on it.
    let on = match inc.timeline.anchor {
        Some(_) => cursor(inc).map(timeline_key),
        None if inc.timeline.filtered() => cursor(inc).map(timeline_key),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::event::{ChecklistSet, ExerciseClock, ItemState, Note, Occurred};
    use proptest::prelude::*;

    /// The computation the anchored window replaced, kept as the reference it is checked against:
    /// the cursor and the window counted in rows from the newest (`back`, `win`), every row from
    /// the newest down to the cursor walked each time.
    mod old {
        use super::super::{is_clock, Row, TimelineKey};
        use crate::domain::event::{Event, EventKey};
        use crate::domain::state::timeline_key;
        use crate::tui::keymap::Action;
        use crate::tui::model::{IncidentModel, TimelineView};

        #[derive(Debug, Default)]
        pub struct Old {
            pub back: usize,
            pub win: usize,
        }

        fn from_newest(inc: &IncidentModel, skip: usize, take: usize) -> Vec<Row<'_>> {
            let t: &TimelineView = &inc.timeline;
            let s = inc.state();
            let mut out: Vec<Row> = Vec::new();
            let mut seen = 0;
            let mut open: Option<Row> = None;
            let full = |out: &Vec<Row>| out.len() >= take;
            let mut walk = s.timeline_rev(s.timeline_len());
            while !full(&out) {
                let Some(e) = walk.next() else { break };
                if !t.shows(e) {
                    continue;
                }
                if t.condense_clock && is_clock(e) {
                    match &mut open {
                        Some(r) => r.events.push(e),
                        None => open = Some(Row { events: vec![e] }),
                    }
                    continue;
                }
                for row in open.take().into_iter().chain([Row { events: vec![e] }]) {
                    if full(&out) {
                        break;
                    }
                    if seen < skip {
                        seen += 1;
                    } else {
                        out.push(row);
                    }
                }
            }
            if let Some(r) = open.take() {
                if !full(&out) && seen >= skip {
                    out.push(r);
                }
            }
            for r in &mut out {
                r.events.reverse();
            }
            out
        }

        pub fn window<'a>(inc: &'a IncidentModel, o: &Old, rows: usize) -> (Vec<Row<'a>>, usize) {
            let rows = rows.max(1);
            let win = o.win.clamp((o.back + 1).saturating_sub(rows), o.back);
            let mut all = from_newest(inc, 0, win + rows);
            let n = all.len();
            let win = win.min(n.saturating_sub(rows));
            let back = o.back.min(n.saturating_sub(1));
            all.truncate(win + rows);
            let mut shown: Vec<Row> = all.split_off(win.min(all.len()));
            shown.reverse();
            let cursor = shown.len().saturating_sub(1).saturating_sub(back.saturating_sub(win));
            (shown, cursor)
        }

        fn rows_upto(inc: &IncidentModel, limit: usize) -> usize {
            from_newest(inc, 0, limit).len()
        }

        pub fn cursor<'a>(inc: &'a IncidentModel, o: &Old) -> Option<&'a Event> {
            from_newest(inc, o.back, 1).into_iter().next().and_then(|r| r.newest())
        }

        pub fn place(inc: &IncidentModel, o: &Old) -> Option<TimelineKey> {
            if o.back == 0 {
                return None;
            }
            cursor(inc, o).map(timeline_key)
        }

        /// The place a filter change keeps: as [`place`], and the newest row of a filtered view.
        pub fn place_for_filter(inc: &IncidentModel, o: &Old) -> Option<TimelineKey> {
            if o.back == 0 && !inc.timeline.filtered() {
                return None;
            }
            cursor(inc, o).map(timeline_key)
        }

        pub fn keep(inc: &IncidentModel, o: &mut Old, at: Option<TimelineKey>, fresh: &[EventKey]) {
            let Some(at) = at else { return };
            let shown = fresh
                .iter()
                .filter_map(|k| inc.view.state.event(k))
                .filter(|e| inc.timeline.shows(e) && timeline_key(e) > at)
                .count();
            o.back += shown;
            o.win += shown;
        }

        /// What `refilter` did once the filter had changed, from the place taken before.
        pub fn refiltered(inc: &IncidentModel, o: &mut Old, place: Option<TimelineKey>) {
            o.back = 0;
            o.win = 0;
            let Some(at) = place else { return };
            let newer = inc
                .state()
                .timeline_rev(usize::MAX)
                .take_while(|e| timeline_key(e) > at)
                .filter(|e| inc.timeline.shows(e))
                .count();
            let rows = rows_upto(inc, newer + 1);
            let back = newer.min(rows.saturating_sub(1));
            o.back = back;
            o.win = back;
        }

        pub fn move_cursor(inc: &IncidentModel, o: &mut Old, a: Action, rows: usize) {
            let rows = rows.max(1);
            let page = rows.saturating_sub(1).max(1);
            let back = match a {
                Action::Up => o.back + 1,
                Action::Down => o.back.saturating_sub(1),
                Action::PageUp => o.back + page,
                Action::PageDown => o.back.saturating_sub(page),
                Action::Top => inc.view.state.event_count(),
                _ => 0,
            };
            let n = rows_upto(inc, back + 1);
            let back = back.min(n.saturating_sub(1));
            let win = match a {
                Action::PageUp => o.win + page,
                Action::PageDown => o.win.saturating_sub(page),
                _ => o.win,
            };
            o.win = win.clamp((back + 1).saturating_sub(rows), back);
            o.back = back;
        }
    }

    const AUTHORS: [&str; 3] = ["ann", "bob", "cy"];

    /// A record by `who` (one log each), at its log's `seq`, placed in the timeline at `when`.
    fn rec(who: &str, seq: u64, when: i64, body: Body) -> Event {
        let by = format!("{who}@desk");
        Event {
            id: format!("{who}-{seq}").into(),
            at: 1_000_000 + seq as i64,
            wall: 1_000_000 + seq as i64,
            occurred: Occurred::new(Some(when)),
            log: by.as_str().into(),
            seq,
            body,
        }
    }

    fn note(text: &str) -> Body {
        Body::Note(Note {
            text: text.into(),
            tags: Default::default(),
        })
    }

    /// New records arrive as an update does: the place taken before, kept after.
    fn arrive(inc: &mut IncidentModel, events: Vec<Event>) -> Vec<EventKey> {
        let place = Place::of(inc);
        let fresh = inc.view.state.apply_all(events);
        place.keep(inc, &fresh);
        fresh
    }

    fn ids(rows: &[Row]) -> Vec<String> {
        rows.iter()
            .filter_map(|r| r.newest())
            .map(|e| e.id.to_string())
            .collect()
    }

    fn cursor_id(inc: &IncidentModel) -> Option<String> {
        cursor(inc).map(|e| e.id.to_string())
    }

    const ROWS: usize = 18;

    /// 50k notes by ann, one every 10 ms of `occurred`, odd ones mentioning "disk".
    fn large() -> IncidentModel {
        let mut inc = IncidentModel::new("large");
        let notes = (1..=50_000u64)
            .map(|i| {
                let text = if i % 2 == 1 { "disk full" } else { "checked" };
                rec("ann", i, i as i64 * 10, note(&format!("{text} {i}")))
            })
            .collect();
        arrive(&mut inc, notes);
        inc
    }

    /// Scrolled back near the oldest of 50k records, records arriving before the cursor's and
    /// after it (between it and the newest, and newest) leave the cursor and the window on the
    /// same records; the rows back count those after it.
    #[test]
    fn scrolled_back_in_a_large_timeline_arrivals_keep_the_cursor_on_its_record() {
        let mut inc = large();
        move_cursor(&mut inc, Action::Top, ROWS);
        for _ in 0..3 {
            move_cursor(&mut inc, Action::PageDown, ROWS);
        }
        move_cursor(&mut inc, Action::Up, ROWS);
        let on = cursor_id(&inc);
        let (rows, at) = window(&inc, ROWS);
        let before = (ids(&rows), at);
        assert_eq!(on.as_deref(), Some("ann-51"), "{before:?}");
        assert!(inc.timeline.back_more, "far from the newest: counted to a bound");
        let back = inc.timeline.back;
        // Older than the cursor's record: nothing moves.
        arrive(
            &mut inc,
            (1..=20).map(|i| rec("bob", i, 5 + i as i64, note("early"))).collect(),
        );
        assert_eq!(cursor_id(&inc), on);
        let (rows, at) = window(&inc, ROWS);
        assert_eq!(at, before.1);
        assert_eq!(
            ids(&rows)[at..],
            before.0[at..],
            "the cursor's row and those below it stay"
        );
        assert_eq!(inc.timeline.back, back);
        // Newer: between it and the newest, and the newest.
        let mid = (21..=40).map(|i| rec("bob", i, 300_000 + i as i64, note("middle")));
        let last = (41..=60).map(|i| rec("bob", i, 900_000 + i as i64, note("late")));
        arrive(&mut inc, mid.chain(last).collect());
        assert_eq!(cursor_id(&inc), on);
        let (rows, at) = window(&inc, ROWS);
        assert_eq!(at, before.1);
        assert_eq!(ids(&rows)[at..], before.0[at..]);
        assert_eq!(inc.timeline.back, back + 40);
        // And the keys still move from there.
        move_cursor(&mut inc, Action::Down, ROWS);
        assert_eq!(cursor_id(&inc).as_deref(), Some("ann-52"));
    }

    /// Scrolled back in 50k records, a filter change keeps the record under the cursor when it
    /// still shows, else goes to the nearest older row shown; clearing it comes back.
    #[test]
    fn scrolled_back_in_a_large_timeline_a_filter_change_keeps_the_record() {
        let mut inc = large();
        move_cursor(&mut inc, Action::Top, ROWS);
        for _ in 0..20 {
            move_cursor(&mut inc, Action::Down, ROWS);
        }
        assert_eq!(cursor_id(&inc).as_deref(), Some("ann-21"));
        refilter(&mut inc, |t| t.kind = t.kind.next());
        assert_eq!(inc.timeline.kind, super::super::KindFilter::Notes);
        assert_eq!(cursor_id(&inc).as_deref(), Some("ann-21"), "a note: still shown");
        refilter(&mut inc, |t| t.search = Some("disk".into()));
        assert_eq!(cursor_id(&inc).as_deref(), Some("ann-21"), "it mentions disk");
        refilter(&mut inc, |t| t.search = Some("checked".into()));
        assert_eq!(cursor_id(&inc).as_deref(), Some("ann-20"), "the nearest older shown");
        refilter(&mut inc, |t| {
            t.search = None;
            t.kind = super::super::KindFilter::All;
        });
        assert_eq!(cursor_id(&inc).as_deref(), Some("ann-20"));
        let (rows, at) = window(&inc, ROWS);
        assert_eq!(at, ROWS - 1, "a filter change leaves the cursor at the window's bottom");
        assert_eq!(ids(&rows).first().map(String::as_str), Some("ann-3"));
        // A filter hiding every older row: the oldest row shown.
        refilter(&mut inc, |t| t.search = Some("full 49999".into()));
        assert_eq!(cursor_id(&inc).as_deref(), Some("ann-49999"));
        assert!(
            inc.timeline.anchor.is_none(),
            "the only row shown is the newest: following"
        );
    }

    /// The record under the cursor gone from the view (its log read again without it, on a
    /// reset): the cursor goes to the nearest older row, and stays there.
    #[test]
    fn the_cursor_record_gone_goes_to_the_nearest_older_row() {
        let notes = |skip: u64| -> Vec<Event> {
            (1..=100u64)
                .filter(|i| *i != skip)
                .map(|i| rec("ann", i, i as i64 * 10, note(&format!("n {i}"))))
                .collect()
        };
        let mut inc = IncidentModel::new("reset");
        arrive(&mut inc, notes(0));
        for _ in 0..10 {
            move_cursor(&mut inc, Action::Up, ROWS);
        }
        assert_eq!(cursor_id(&inc).as_deref(), Some("ann-90"));
        let place = Place::of(&inc);
        let mut again = crate::store::incident::View::new("reset").state;
        again.apply_all(notes(90));
        inc.view.state = again;
        place.keep(&mut inc, &[]);
        assert_eq!(cursor_id(&inc).as_deref(), Some("ann-89"));
        arrive(&mut inc, vec![rec("ann", 90, 900, note("n 90"))]);
        assert_eq!(cursor_id(&inc).as_deref(), Some("ann-89"), "it stays there");
    }

    #[derive(Debug, Clone)]
    enum Op {
        Key(u8),
        /// Records by an author (index), each at a place in the timeline (0..1000), a note
        /// (mentioning "alpha" or not) or a checklist change.
        Arrive(Vec<(u8, i64, bool, bool)>),
        Kind,
        Author,
        Search,
        Clock,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (0u8..6).prop_map(Op::Key),
            3 => prop::collection::vec((0u8..3, 0i64..1000, any::<bool>(), any::<bool>()), 1..6)
                .prop_map(Op::Arrive),
            1 => Just(Op::Kind),
            1 => Just(Op::Author),
            1 => Just(Op::Search),
            1 => Just(Op::Clock),
        ]
    }

    proptest! {
        /// Runs of exercise-clock changes shown as one row: random keys over a timeline holding
        /// them show the rows the old count from the newest showed, the cursor on the same row.
        #[test]
        fn clock_runs_are_one_row_in_the_anchored_window_as_before(
            start in prop::collection::vec((0i64..400, any::<bool>()), 1..80),
            keys in prop::collection::vec(0u8..6, 1..40),
            rows in 1usize..10,
        ) {
            let mut inc = IncidentModel::new("c");
            let mut o = old::Old::default();
            let evs = start
                .into_iter()
                .enumerate()
                .map(|(i, (when, clock))| {
                    let body = if clock {
                        ExerciseClock {
                            change: "Pause".into(),
                            speed: 1.0,
                            scenario_ms: 0,
                        }
                        .into()
                    } else {
                        note("a note")
                    };
                    rec("ann", i as u64 + 1, when, body)
                })
                .collect();
            arrive(&mut inc, evs);
            for k in keys {
                let a = [Action::Up, Action::Down, Action::PageUp, Action::PageDown, Action::Top, Action::Bottom][k as usize];
                old::move_cursor(&inc, &mut o, a, rows);
                move_cursor(&mut inc, a, rows);
                let (new_rows, new_at) = window(&inc, rows);
                let (old_rows, old_at) = old::window(&inc, &o, rows);
                prop_assert_eq!(ids(&new_rows), ids(&old_rows));
                // What the drawing keeps from frame to frame is what a walk gives now.
                let (drawn, drawn_at) = window_drawn(&inc, rows);
                prop_assert_eq!(ids(&drawn), ids(&new_rows));
                prop_assert_eq!(drawn_at, new_at);
                prop_assert_eq!(new_at, old_at);
                prop_assert_eq!(cursor_id(&inc), old::cursor(&inc, &o).map(|e| e.id.to_string()));
                prop_assert_eq!(inc.timeline.back, o.back);
            }
        }

        /// Random keys, arrivals and filter changes: the anchored window shows the rows the old
        /// count from the newest showed, with the cursor on the same record, and the same "↑N".
        #[test]
        fn the_anchored_window_matches_the_count_from_the_newest(
            start in prop::collection::vec((0u8..3, 0i64..1000, any::<bool>(), any::<bool>()), 0..60),
            ops in prop::collection::vec(op(), 1..40),
            rows in 1usize..12,
        ) {
            let mut inc = IncidentModel::new("p");
            let mut o = old::Old::default();
            let mut seqs = [0u64; 3];
            let mut make = |batch: Vec<(u8, i64, bool, bool)>| -> Vec<Event> {
                batch
                    .into_iter()
                    .map(|(w, when, alpha, checklist)| {
                        let w = w as usize % 3;
                        seqs[w] += 1;
                        let body = if checklist {
                            ChecklistSet {
                                item: "triage".into(),
                                state: ItemState::Done,
                                note: None,
                            }
                            .into()
                        } else {
                            note(if alpha { "alpha seen" } else { "beta seen" })
                        };
                        rec(AUTHORS[w], seqs[w], when, body)
                    })
                    .collect()
            };
            let first = make(start);
            arrive(&mut inc, first);
            for op in ops {
                match op {
                    Op::Key(k) => {
                        let a = [Action::Up, Action::Down, Action::PageUp, Action::PageDown, Action::Top, Action::Bottom][k as usize];
                        old::move_cursor(&inc, &mut o, a, rows);
                        move_cursor(&mut inc, a, rows);
                    }
                    Op::Arrive(batch) => {
                        let evs = make(batch);
                        let at = old::place(&inc, &o);
                        let fresh = arrive(&mut inc, evs);
                        old::keep(&inc, &mut o, at, &fresh);
                    }
                    Op::Kind | Op::Author | Op::Search | Op::Clock => {
                        let at = old::place_for_filter(&inc, &o);
                        refilter(&mut inc, |t| match op {
                            Op::Kind => t.kind = t.kind.next(),
                            Op::Author => {
                                t.author = match t.author.as_deref() {
                                    None => Some("ann".into()),
                                    Some("ann") => Some("bob".into()),
                                    _ => None,
                                }
                            }
                            Op::Search => {
                                t.search = match t.search {
                                    None => Some("alpha".into()),
                                    Some(_) => None,
                                }
                            }
                            _ => t.condense_clock = !t.condense_clock,
                        });
                        old::refiltered(&inc, &mut o, at);
                    }
                }
                let (new_rows, new_at) = window(&inc, rows);
                let (old_rows, old_at) = old::window(&inc, &o, rows);
                prop_assert_eq!(ids(&new_rows), ids(&old_rows));
                // What the drawing keeps from frame to frame is what a walk gives now.
                let (drawn, drawn_at) = window_drawn(&inc, rows);
                prop_assert_eq!(ids(&drawn), ids(&new_rows));
                prop_assert_eq!(drawn_at, new_at);
                prop_assert_eq!(new_at, old_at);
                prop_assert_eq!(cursor_id(&inc), old::cursor(&inc, &o).map(|e| e.id.to_string()));
                prop_assert_eq!(inc.timeline.anchor.is_some(), o.back > 0);
                prop_assert!(!inc.timeline.back_more);
                prop_assert_eq!(inc.timeline.back, o.back);
            }
        }
    }
}
