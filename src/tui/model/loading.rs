//! A long read of the open incident arriving in parts (`Msg::IncidentPart`): the worker sends
//! what it read ahead of the records (the claim, the playbooks) with the first part, then the
//! records as it parses them, at most `worker::FOLD_BATCH` a part, and the update that ends the
//! read after them. Each part is taken between looks at the keyboard. A part that sorts after
//! everything held (one writer's log, read in order) is derived as it comes, so the end of the
//! read leaves little to do; once a part sorts among what is held (another writer's log), the
//! rest is only inserted and derived once, when the update arrives. Either way the console
//! reaches the state `Incident::open` (`show`) reads: the fold does not depend on the order.

use crate::domain::event::Event;
use crate::domain::state::PendingBatch;
use crate::domain::EventKey;
use crate::store::incident::{Update, View};

use super::{IncidentModel, Pending, PendingState};

/// The parts of a read taken so far.
#[derive(Debug)]
pub struct Loading {
    /// Records inserted but not derived yet (a part sorted among what was held): derived once,
    /// when the read ends. `None`: everything taken so far is derived.
    deferred: Option<PendingBatch>,
    /// What was read ahead, when it came after records were deferred: applied with the update.
    ahead: Option<Update>,
    /// The view as it was before a part that started the read again from the start: what was
    /// new is judged against it (a reset must not look like the whole history arriving).
    before: Option<Box<View>>,
    /// Records taken so far (shown while the read lasts).
    pub records: usize,
}

impl Loading {
    fn new(before: Option<Box<View>>) -> Loading {
        Loading {
            deferred: None,
            ahead: None,
            before,
            records: 0,
        }
    }
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

    /// Take one part of a long read: `ahead` (the claim, the playbooks) first, then `events`.
    /// `reset`: the read starts again from the start, so the view is dropped first (and kept
    /// aside until the read ends, to tell what was new).
    /// Returns the keys of the records this part made new (derived now; a deferred part's come
    /// when the read ends), if `want_fresh` (see [`wants_fresh`]): the caller uses them and
    /// drops them, so a long read does not hold a second list of every key it took (≈ 32 MB at
    /// 1M records).
    pub fn take_part(
        &mut self,
        events: Vec<Event>,
        reset: bool,
        ahead: Option<Box<Update>>,
        want_fresh: bool,
    ) -> Vec<EventKey> {
        let id = self.id.clone();
        let n = events.len();
        if reset {
            let old = std::mem::replace(self.live_mut(), View::new(&id));
            let keep = match self.loading.take() {
                // Reset twice in one read: the first view is what was shown before it.
                Some(Loading { before: Some(b), .. }) => b,
                _ => Box::new(old),
            };
            self.loading = Some(Loading::new(Some(keep)));
        }
        let mut loading = self.loading.take().unwrap_or_else(|| Loading::new(None));
        let live = self.live_mut();
        let mut fresh = Vec::new();
        if let Some(ahead) = ahead {
            match loading.deferred {
                None => fresh.extend(live.apply_keys(*ahead, want_fresh)),
                Some(_) => loading.ahead = Some(*ahead),
            }
        }
        let in_order = loading.deferred.is_none() && {
            let last = live.state.events().next_back();
            last.is_none_or(|last| events.iter().all(|e| e.cmp_keys(last).is_gt()))
        };
        if in_order {
            // Sorts after everything held: deriving it is a step through these records only.
            fresh.extend(live.apply_keys(
                Update {
                    events,
                    ..Update::default()
                },
                want_fresh,
            ));
        } else {
            let pending = loading.deferred.get_or_insert_with(|| live.begin_parts());
            live.insert_part(pending, events);
        }
        loading.records += n;
        if let Some(before) = &loading.before {
            fresh.retain(|k| before.state.event(k).is_none());
        }
        self.loading = Some(loading);
        fresh
    }
}

/// What the screen says while a long read is in progress (`records` taken so far).
pub fn reading_text(records: usize) -> String {
    format!("reading the incident… {records} records so far")
}

/// What a key that writes is told while a long read is in progress: the state it would be
/// judged against (phase, checklist, commander, severity) is not derived from the whole read
/// until it ends, so a phase change, a resolution or a handoff taken now would be decided on a
/// part of the incident. Notes do not depend on it and are taken.
pub fn refuses_while_reading(inc: &IncidentModel, writes_note: bool) -> Option<String> {
    let n = inc.reading()?;
    (!writes_note).then(|| format!("{}: wait until it is read — only notes are taken now", reading_text(n)))
}

/// Apply `update` to `view`, ending the read whose parts `loading` took (if any); the keys that
/// were new since the last part. The keys of parts that were only inserted (a long read of
/// several logs) are returned only if `want_fresh` (see [`wants_fresh`]): at 1M records they
/// are ≈ 25 MB that nothing reads when the timeline follows the newest and no write waits.
pub fn finish_read(view: &mut View, update: Update, loading: Option<Loading>, want_fresh: bool) -> Vec<EventKey> {
    let Some(loading) = loading else {
        return view.apply(update);
    };
    let update = match loading.ahead {
        Some(ahead) => ahead.followed_by(update),
        None => update,
    };
    let mut fresh = match loading.deferred {
        Some(pending) => view.finish_parts(update, pending, want_fresh),
        None => view.apply(update),
    };
    if let Some(before) = loading.before {
        fresh.retain(|k| before.state.event(k).is_none());
    }
    fresh
}

/// Whether the keys of the records a read made new are used when it ends: to keep a scrolled
/// timeline's cursor and count (`anchor`), or to find the records of writes acknowledged on
/// disk among them ([`drop_read_back`]).
pub fn wants_fresh(anchor: bool, pending: &[Pending]) -> bool {
    anchor || pending.iter().any(|p| matches!(p.state, PendingState::Written(_)))
}

/// Writes acknowledged on disk whose records are among `fresh` (read back into `state`) are
/// done: they leave `pending`. The keys are looked up only while a write waits for its records
/// (a long read's keys are many: a set of all their ids cost about 50 ms at 100k).
pub fn drop_read_back(pending: &mut Vec<Pending>, state: &crate::domain::IncidentState, fresh: &[EventKey]) {
    let waiting: std::collections::BTreeSet<String> = pending
        .iter()
        .filter_map(|p| match &p.state {
            PendingState::Written(ids) => Some(ids),
            _ => None,
        })
        .flatten()
        .cloned()
        .collect();
    if waiting.is_empty() {
        return;
    }
    let back: std::collections::BTreeSet<&str> = fresh
        .iter()
        .filter_map(|k| state.event(k))
        .map(|e| e.id.as_str())
        .filter(|id| waiting.contains(*id))
        .collect();
    pending.retain(|p| match &p.state {
        PendingState::Written(ids) => !ids.iter().any(|x| back.contains(x.as_str())),
        _ => true,
    });
}
