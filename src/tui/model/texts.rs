//! Notes' texts the console left in their logs (see `domain::note_text`): the worker reads back
//! those drawn without their text (`Effect::ReadTexts`: the drawing notes them, it does no IO),
//! and they are kept here, bounded, for drawing. A search needs every text: the worker then sends them all back,
//! to be put into the records (`Effect::HoldTexts`), once.
//!
//! Keyed by the line's place and hash, not by the record's key: a text read back is the text of
//! exactly the line the fold took, so an edit in place or a read from the start never shows a
//! stale one.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use super::{Effect, IncidentModel, Model};
use crate::domain::event::{Body, Event, NoteText, TextAt};

/// Texts kept beyond those wanted on screen, before the rest are dropped.
const KEEP: usize = 4096;

/// What a note not read back yet shows.
pub const READING: &str = "…";

#[derive(Debug, Default)]
pub struct Texts {
    read: HashMap<TextAt, Result<Box<str>, String>>,
    /// Drawn without their text (noted by the drawing, which does no IO): asked of the worker
    /// by [`wanted`] after the frame.
    missing: RefCell<Vec<(String, TextAt)>>,
    /// Asked of the worker, not answered yet.
    asked: HashSet<TextAt>,
    /// Every text was asked to be held (a search): asked once.
    hold_asked: bool,
    /// Those texts are still coming back.
    holding: bool,
}

impl Texts {
    /// The answers (or why none) the worker gave back.
    pub fn took(&mut self, texts: Vec<(TextAt, Result<Box<str>, String>)>) {
        for (at, text) in texts {
            self.asked.remove(&at);
            self.read.insert(at, text);
        }
    }

    fn get(&self, at: &TextAt) -> Option<&Result<Box<str>, String>> {
        self.read.get(at)
    }

    /// Every text was asked for (a search) and they are still coming back.
    pub fn holding(&self) -> bool {
        self.holding
    }
}

/// Put back texts the worker read from log `log` (seq, place, text) into the records that left
/// them there, in the view shown and the live one behind a replay; `done`: the last came.
pub fn hold(inc: &mut IncidentModel, log: &str, texts: Vec<crate::store::note_text::PlacedText>, done: bool) {
    for (seq, at, text) in texts {
        if let Some(r) = inc.replay.as_mut() {
            r.live.state.hold_text(log, seq, at, text.clone());
        }
        inc.view.state.hold_text(log, seq, at, text);
    }
    if done {
        inc.texts.holding = false;
    }
}

/// `e` as drawn: a note whose text is in its log shows the text read back, [`READING`] until
/// then, or why it could not be read.
pub fn shown<'a>(inc: &IncidentModel, e: &'a Event) -> Cow<'a, Event> {
    let Body::Note(n) = &e.body else {
        return Cow::Borrowed(e);
    };
    let Some(at) = n.text.in_log() else {
        return Cow::Borrowed(e);
    };
    let text = match inc.texts.get(&at) {
        Some(Ok(t)) => NoteText::Held(t.clone()),
        Some(Err(why)) => NoteText::from(format!("[text unreadable: {why}]")),
        None => {
            inc.texts.missing.borrow_mut().push((e.log.to_string(), at));
            NoteText::from(READING)
        }
    };
    let mut e = e.clone();
    if let Body::Note(n) = &mut e.body {
        n.text = text;
    }
    Cow::Owned(e)
}

/// The text of `e` if it is held or read back (a note left in its log and not read back yet:
/// `None`, and noted to be asked for).
pub fn text_of<'a>(inc: &'a IncidentModel, e: &'a Event) -> Option<&'a str> {
    match &e.body {
        Body::Note(n) => match &n.text {
            NoteText::Held(t) => Some(t),
            NoteText::InLog(at) => {
                let text = inc.texts.get(at).and_then(|r| r.as_deref().ok());
                if text.is_none() && inc.texts.get(at).is_none() {
                    inc.texts.missing.borrow_mut().push((e.log.to_string(), *at));
                }
                text
            }
        },
        _ => None,
    }
}

/// What the worker must do for the texts the open incident shows: read back those drawn
/// without their text (noted while drawing: no walk of the timeline here), and hold them all
/// while a search is applied. Called after every update and after every frame.
pub fn wanted(m: &mut Model) -> Vec<Effect> {
    let Some(inc) = m.incident.as_mut() else {
        return Vec::new();
    };
    let mut fx = Vec::new();
    if inc.timeline.search.is_some() && !inc.texts.hold_asked {
        // A search needs every text: asked for once, all of them.
        inc.texts.hold_asked = true;
        inc.texts.holding = true;
        fx.push(Effect::HoldTexts(inc.id.clone()));
    }
    let texts = &mut inc.texts;
    let missing = std::mem::take(texts.missing.get_mut());
    if texts.read.len() > KEEP {
        // Keep those just drawn (read back or not), drop the rest: read again if drawn again.
        texts.read.clear();
    }
    let mut want: Vec<(String, TextAt)> = Vec::new();
    for (log, at) in missing {
        if !texts.read.contains_key(&at) && texts.asked.insert(at) {
            want.push((log, at));
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
