//! Notes' texts the console left in their logs (see `domain::note_text`): the worker reads back
//! those drawn without their text (`Effect::ReadTexts`: the drawing notes them, it does no IO),
//! and they are kept here, bounded, for drawing. A search needs every text: the worker then
//! sends them all back, to be put into the records (`Effect::HoldTexts`).
//!
//! Keyed by the log, the line's place there and the text's hash, not by the record's key: a
//! text read back is the text of exactly the line the fold took, so an edit in place or a read
//! from the start never shows a stale one; the log is part of the key because two logs can hold
//! the same text at the same place (two writers importing one export), and an edit of one must
//! not show in the other. A read that failed (the log moved away, the line changed and may be put back) is
//! shown as such and tried again after [`RETRY_MS`]; so is a search's read of every text that
//! left some behind.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use super::{Effect, IncidentModel, Model};
use crate::domain::event::{Body, Event, Name, NoteText, TextAt};
use crate::domain::time::Millis;

/// Texts kept beyond those wanted on screen, before the rest are dropped.
const KEEP: usize = 4096;

/// How long a failed read back is shown as failed before it is tried again (ms).
pub const RETRY_MS: Millis = 2_000;

/// The longest wait between a search's reads of every text that leave some (ms).
pub const HOLD_RETRY_MAX_MS: Millis = 60_000;

/// What a note not read back yet shows.
pub const READING: &str = "…";

/// A text left in a log: the log's name and the text's place there (see the module docs).
type Key = (Name, TextAt);

#[derive(Debug, Default)]
pub struct Texts {
    read: HashMap<Key, Box<str>>,
    /// Reads back that failed: why, and when (the model's clock), to be tried again.
    failed: HashMap<Key, (String, Millis)>,
    /// Drawn without their text (noted by the drawing, which does no IO): asked of the worker
    /// by [`wanted`] after the frame.
    missing: RefCell<Vec<Key>>,
    /// Asked of the worker, not answered yet.
    asked: HashSet<Key>,
    /// Every text was asked for (a search), and not found wanting since.
    hold_asked: bool,
    /// Those texts are still coming back.
    holding: bool,
    /// A search's read of every text left some in their logs (a log could not be read): asked
    /// again from this time on, while a search is applied.
    hold_again_at: Option<Millis>,
    /// The last such read left some (said while it is asked again).
    hold_was_incomplete: bool,
    /// How long after such a read the next is made (ms): [`RETRY_MS`], doubled after each
    /// read that left some, up to [`HOLD_RETRY_MAX_MS`] (each reads every log again).
    hold_retry_ms: Millis,
}

/// A note's text as the console has it.
pub enum Text<'a> {
    Here(&'a str),
    /// Asked of the worker (or about to be).
    Reading,
    /// The read back failed: why.
    Unreadable(&'a str),
}

impl Texts {
    /// The answers (or why none) the worker gave back (log, place, text), at `now`.
    pub fn took(&mut self, texts: Vec<(String, TextAt, Result<Box<str>, String>)>, now: Millis) {
        for (log, at, text) in texts {
            let key = (Name::from(log), at);
            self.asked.remove(&key);
            match text {
                Ok(t) => {
                    self.failed.remove(&key);
                    self.read.insert(key, t);
                }
                Err(why) => {
                    self.failed.insert(key, (why, now));
                }
            }
        }
    }

    /// Every text was asked for (a search) and they are still coming back.
    pub fn holding(&self) -> bool {
        self.holding
    }

    /// A search's read of every text left some in their logs (a log could not be read): what
    /// it shows may be missing matches until they are read (asked again meanwhile).
    pub fn incomplete(&self) -> bool {
        self.hold_again_at.is_some() || (self.holding && self.hold_was_incomplete)
    }
}

/// The text of `e`, a note (`None` for any other record); one not here yet is noted to be
/// asked for.
pub fn text_of<'a>(inc: &'a IncidentModel, e: &'a Event) -> Option<Text<'a>> {
    let Body::Note(n) = &e.body else {
        return None;
    };
    let at = match &n.text {
        NoteText::Held(t) => return Some(Text::Here(t)),
        NoteText::InLog(at) => at,
    };
    let t = &inc.texts;
    // A clone of the log's name is a reference count, not a copy of its text.
    let key = (e.log.clone(), *at);
    Some(match (t.read.get(&key), t.failed.get(&key)) {
        (Some(text), _) => Text::Here(text),
        (None, Some((why, _))) => Text::Unreadable(why),
        (None, None) => {
            t.missing.borrow_mut().push(key);
            Text::Reading
        }
    })
}

/// `e` as drawn: a note whose text is in its log shows the text read back, [`READING`] until
/// then, or why it could not be read.
pub fn shown<'a>(inc: &IncidentModel, e: &'a Event) -> Cow<'a, Event> {
    if !matches!(&e.body, Body::Note(n) if n.text.in_log().is_some()) {
        return Cow::Borrowed(e);
    }
    let text = match text_of(inc, e) {
        Some(Text::Here(t)) => NoteText::from(t),
        Some(Text::Unreadable(why)) => NoteText::from(format!("[text unreadable: {why}]")),
        _ => NoteText::from(READING),
    };
    let mut e = e.clone();
    if let Body::Note(n) = &mut e.body {
        n.text = text;
    }
    Cow::Owned(e)
}

/// Put back texts the worker read from log `log` (seq, place, text) into the records that left
/// them there, in the view shown and the live one behind a replay; `done`: the last came, at
/// `now` — if a note's text is still in its log then (its log could not be read), a search
/// asks again after [`RETRY_MS`], then twice as long each time, up to [`HOLD_RETRY_MAX_MS`].
pub fn hold(
    inc: &mut IncidentModel,
    log: &str,
    texts: Vec<crate::store::note_text::PlacedText>,
    done: bool,
    now: Millis,
) {
    for (seq, at, text) in texts {
        if let Some(r) = inc.replay.as_mut() {
            r.live.state.hold_text(log, seq, at, text.clone());
        }
        inc.view.state.hold_text(log, seq, at, text);
    }
    if done {
        inc.texts.holding = false;
        let left = inc
            .state()
            .events()
            .any(|e| matches!(&e.body, Body::Note(n) if n.text.in_log().is_some()));
        let t = &mut inc.texts;
        t.hold_was_incomplete = left;
        if left {
            t.hold_retry_ms = (t.hold_retry_ms * 2).clamp(RETRY_MS, HOLD_RETRY_MAX_MS);
            t.hold_asked = false;
            t.hold_again_at = Some(now + t.hold_retry_ms);
        } else {
            t.hold_retry_ms = 0;
        }
    }
}

/// What the worker must do for the texts the open incident shows: read back those drawn
/// without their text (noted while drawing: no walk of the timeline here) and those whose read
/// failed a while ago, and send every text while a search is applied. Called after every
/// update and after every frame.
pub fn wanted(m: &mut Model) -> Vec<Effect> {
    let now = m.now;
    let Some(inc) = m.incident.as_mut() else {
        return Vec::new();
    };
    let mut fx = Vec::new();
    let texts = &mut inc.texts;
    if inc.timeline.search.is_some() && !texts.hold_asked && texts.hold_again_at.is_none_or(|t| now >= t) {
        // A search needs every text: asked for all of them.
        texts.hold_asked = true;
        texts.holding = true;
        texts.hold_again_at = None;
        fx.push(Effect::HoldTexts(inc.id.clone()));
    }
    // Failed a while ago: shown as failed until drawn again, then asked again.
    texts.failed.retain(|_, (_, at)| now.saturating_sub(*at) < RETRY_MS);
    let missing = std::mem::take(texts.missing.get_mut());
    if texts.read.len() > KEEP {
        // Drop them all: those drawn again are read again.
        texts.read.clear();
    }
    let mut want: Vec<(String, TextAt)> = Vec::new();
    for key in missing {
        if !texts.read.contains_key(&key) && !texts.failed.contains_key(&key) && !texts.asked.contains(&key) {
            want.push((key.0.to_string(), key.1));
            texts.asked.insert(key);
        }
    }
    if !want.is_empty() {
        fx.push(Effect::ReadTexts {
            incident: inc.id.clone(),
            want,
        });
    }
    fx
}
