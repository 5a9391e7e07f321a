//! A long read of the open incident arriving in parts (`Msg::IncidentPart`): the worker sends the
//! records as it parses them, at most `worker::FOLD_BATCH` a part, and the update that ends the
//! read after them. Each part is inserted between looks at the keyboard; the derivation (phase,
//! checklist, rules, …) is done once, when the update arrives — what `Incident::open` does, so
//! the console and `show` reach the same state.

use crate::domain::event::Event;
use crate::domain::state::PendingBatch;
use crate::domain::EventKey;
use crate::store::incident::{Update, View};

use super::IncidentModel;

/// The parts of a read taken so far.
#[derive(Debug)]
pub struct Loading {
    pending: PendingBatch,
    /// The view as it was before a part that started the read again from the start: what was
    /// new is judged against it (a reset must not look like the whole history arriving).
    before: Option<Box<View>>,
    /// Records taken so far (shown while the read lasts).
    pub records: usize,
}

impl IncidentModel {
    /// The view that takes what the worker reads: the live one (while replaying, not the one
    /// shown).
    fn live_mut(&mut self) -> &mut View {
        match &mut self.replay {
            Some(r) => &mut r.live,
            None => &mut self.view,
        }
    }

    /// Insert one part of a long read; `reset`: the read starts again from the start, so the
    /// view is dropped first (and kept aside until the read ends, to tell what was new).
    pub fn take_part(&mut self, events: Vec<Event>, reset: bool) {
        let id = self.id.clone();
        let n = events.len();
        if reset {
            let old = std::mem::replace(self.live_mut(), View::new(&id));
            let keep = match self.loading.take() {
                // Reset twice in one read: the first view is what was shown before it.
                Some(Loading { before: Some(b), .. }) => b,
                _ => Box::new(old),
            };
            let pending = self.live_mut().begin_parts();
            self.loading = Some(Loading {
                pending,
                before: Some(keep),
                records: 0,
            });
        }
        if self.loading.is_none() {
            let pending = self.live_mut().begin_parts();
            self.loading = Some(Loading {
                pending,
                before: None,
                records: 0,
            });
        }
        let Some(mut loading) = self.loading.take() else { return };
        self.live_mut().insert_part(&mut loading.pending, events);
        loading.records += n;
        self.loading = Some(loading);
    }
}

/// What the screen says while a long read is in progress (`records` taken so far).
pub fn reading_text(records: usize) -> String {
    format!("reading the incident… {records} records so far")
}

/// What a key that writes is told while a long read is in progress: the state it would be
/// judged against (phase, checklist, commander, severity) is derived only when the read ends, so
/// a phase change, a resolution or a handoff taken now would be decided on an empty incident.
/// Notes do not depend on it and are taken.
pub fn refuses_while_reading(inc: &IncidentModel, writes_note: bool) -> Option<String> {
    let n = inc.reading()?;
    (!writes_note).then(|| format!("{}: wait until it is read — only notes are taken now", reading_text(n)))
}

/// Apply `update` to `view`, ending the read whose parts `loading` took (if any); the keys that
/// were new.
pub fn finish_read(view: &mut View, update: Update, loading: Option<Loading>) -> Vec<EventKey> {
    let Some(loading) = loading else {
        return view.apply(update);
    };
    let mut fresh = view.finish_parts(update, loading.pending);
    if let Some(before) = loading.before {
        fresh.retain(|k| before.state.event(k).is_none());
    }
    fresh
}
