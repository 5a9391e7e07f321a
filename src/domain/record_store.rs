//! The fold's records, each held once in an arena of fixed-size chunks, and two orders over
//! them kept as 4-byte slot numbers: merge order (by key `(at, log, seq)`) and timeline order
//! (`occurred`, else `at`, then the key: see `state::timeline_key`).
//!
//! Why an arena and slot numbers: a heap profile of `show --json` on 1M notes (stop 24) put the
//! records at 128 bytes each (a boxed 120-byte record in a 128-byte block), their pointers in
//! the merge-ordered vector at 8 and their keys in the timeline at 32 (time, key), plus a 16 MB
//! sort buffer for the timeline at the end of a first open. Here a record costs its own 120
//! bytes and 4 bytes in each order. (A `BTreeMap<EventKey, Box<Event>>`, before that, cost
//! about 64 bytes a record in half-full leaves on top of the records.)
//!
//! Records arrive mostly in key order, so the common insert is a push. One that sorts before
//! the last record is moved into place with `Vec::insert` — except inside a batch (a first open
//! of several logs, a reconcile pass during a storm of writers), where such records are held
//! aside and merged in once, at [`RecordStore::finish_batch`]: one move of the part that sorts
//! after the batch's first record, not one per record, and a few comparisons a record wherever
//! it lands (see `merge_in_place`). Inside a batch the timeline is not touched: every record
//! of the batch takes its place there when the batch ends.
//!
//! A key is held once: a record whose key is already held is dropped (the first one stays).

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::OnceLock;

use super::event::{Event, EventKey};
use super::time::Millis;

/// How a record sorts against a timeline key (`state::timeline_key`'s order, built from none).
fn cmp_time_key(e: &Event, k: &(Millis, EventKey)) -> Ordering {
    (e.occurred.unwrap_or(e.at), e.at, &e.log, e.seq).cmp(&(k.0, k.1.at, &k.1.log, k.1.seq))
}

/// How two records sort on the timeline.
fn cmp_time(a: &Event, b: &Event) -> Ordering {
    (a.occurred.unwrap_or(a.at), a.at, &a.log, a.seq).cmp(&(b.occurred.unwrap_or(b.at), b.at, &b.log, b.seq))
}

/// Records per chunk of the arena: a chunk is allocated whole (≈ 480 KB) and never moves, so
/// the arena grows without copying what it holds and wastes at most one chunk.
const CHUNK: usize = 4096;

/// A record's place in the arena.
type Slot = u32;

/// Where a record is held, for the fold's map from (log, seq) to its record: 4 bytes, and
/// `Option<RecordRef>` too. Valid until that record is removed; after that it may name another
/// record (its slot is used again), so a holder checks what it finds (see
/// [`RecordStore::by_ref`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordRef(std::num::NonZeroU32);

impl RecordRef {
    fn new(s: Slot) -> Option<RecordRef> {
        std::num::NonZeroU32::new(s.wrapping_add(1)).map(RecordRef)
    }

    fn slot(self) -> Slot {
        self.0.get() - 1
    }
}

/// The arena: records by slot; a slot freed (a record replaced by another version, a key held
/// twice) is used again by the next record.
#[derive(Debug, Clone, Default)]
struct Slots {
    chunks: Vec<Vec<Option<Event>>>,
    free: Vec<Slot>,
}

impl Slots {
    fn put(&mut self, e: Event) -> Slot {
        if let Some(s) = self.free.pop() {
            self.chunks[s as usize / CHUNK][s as usize % CHUNK] = Some(e);
            return s;
        }
        if self.chunks.last().is_none_or(|c| c.len() == CHUNK) {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        let n = self.chunks.len() - 1;
        let chunk = &mut self.chunks[n];
        chunk.push(Some(e));
        // 2^32 records would be 480 GiB of records alone: memory ends long before a slot would.
        Slot::try_from(n * CHUNK + chunk.len() - 1).expect("fewer than 2^32 records")
    }

    /// The record in a slot that holds one. Every slot listed in an order holds one (the
    /// store's invariant), so this is never asked of an empty slot.
    fn at(&self, s: Slot) -> &Event {
        self.get(s).expect("a listed slot holds a record")
    }

    fn get(&self, s: Slot) -> Option<&Event> {
        self.chunks.get(s as usize / CHUNK)?.get(s as usize % CHUNK)?.as_ref()
    }

    fn get_mut(&mut self, s: Slot) -> Option<&mut Event> {
        self.chunks
            .get_mut(s as usize / CHUNK)?
            .get_mut(s as usize % CHUNK)?
            .as_mut()
    }

    fn take(&mut self, s: Slot) -> Option<Event> {
        let e = self
            .chunks
            .get_mut(s as usize / CHUNK)?
            .get_mut(s as usize % CHUNK)?
            .take()?;
        self.free.push(s);
        Some(e)
    }
}

/// A batch being inserted (see [`RecordStore::begin_batch`]).
#[derive(Debug, Clone, Default)]
struct Batch {
    /// The records that sorted before the last one when they came, in arrival order.
    late: Vec<Slot>,
    /// Every record of the batch, in arrival order: their places in the timeline.
    timeline: Vec<Slot>,
    /// key → slot of the first record in `late` with that key, built on the first lookup that
    /// reaches `late` (rare: a repeated seq, an edit, a view dropped mid-read) so that lookups
    /// stay O(1) there; kept up to date by pushes, dropped by a removal.
    index: OnceLock<HashMap<EventKey, Slot>>,
}

/// Records sorted by merge key and by timeline key, each key once.
#[derive(Debug, Clone, Default)]
pub struct RecordStore {
    slots: Slots,
    /// Sorted by key, no key twice.
    by_key: Vec<Slot>,
    /// Sorted by timeline key (a batch's records not among them until it ends).
    by_time: Vec<Slot>,
    batch: Option<Batch>,
}

/// Two stores hold the same records in the same orders (a batch not merged yet compares as it
/// arrived), whatever their slots.
impl PartialEq for RecordStore {
    fn eq(&self, other: &Self) -> bool {
        let records = |s: &RecordStore, v: &[Slot]| v.iter().map(|&x| s.slots.at(x)).cloned().collect::<Vec<_>>();
        let (a, b) = (self.batch.as_ref(), other.batch.as_ref());
        self.iter().eq(other.iter())
            && self.timeline().eq(other.timeline())
            && a.is_some() == b.is_some()
            && a.zip(b).is_none_or(|(a, b)| {
                records(self, &a.late) == records(other, &b.late)
                    && records(self, &a.timeline) == records(other, &b.timeline)
            })
    }
}

impl RecordStore {
    /// How many records are held, a batch's not merged yet included.
    pub fn len(&self) -> usize {
        self.by_key.len() + self.batch.as_ref().map_or(0, |b| b.late.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The record that sorts last (a batch never holds aside a record that sorts after it).
    pub fn last(&self) -> Option<&Event> {
        self.by_key.last().map(|&s| self.slots.at(s))
    }

    /// Whether a record with `key` would sort after every record held.
    pub fn sorts_last(&self, key: &EventKey) -> bool {
        self.last().is_none_or(|e| Event::cmp_key(e, key).is_lt())
    }

    /// The records in key order. A batch's records held aside are not among them until it is
    /// merged (as they are not on the timeline either).
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Event> + ExactSizeIterator {
        self.by_key.iter().map(|&s| self.slots.at(s))
    }

    /// The records that sort after `key` (all of them when `None`), in key order: where a
    /// replay from a checkpoint starts. Not a batch's records held aside (see [`Self::iter`]).
    pub fn after(&self, key: Option<&EventKey>) -> impl DoubleEndedIterator<Item = &Event> + ExactSizeIterator {
        let start = key.map_or(0, |k| {
            self.by_key
                .partition_point(|&s| Event::cmp_key(self.slots.at(s), k).is_le())
        });
        self.by_key[start..].iter().map(|&s| self.slots.at(s))
    }

    fn slot_of(&self, key: &EventKey) -> Option<Slot> {
        if let Ok(i) = self.by_key.binary_search_by(|&s| Event::cmp_key(self.slots.at(s), key)) {
            return Some(self.by_key[i]);
        }
        let batch = self.batch.as_ref().filter(|b| !b.late.is_empty())?;
        let index = batch.index.get_or_init(|| index_of(&self.slots, &batch.late));
        index.get(key).copied()
    }

    pub fn get(&self, key: &EventKey) -> Option<&Event> {
        self.slot_of(key).map(|s| self.slots.at(s))
    }

    /// The record with `key`, to change only what neither order nor the fold reads (a note's
    /// text left in its log, put back: see `IncidentState::hold_text`).
    pub fn get_mut(&mut self, key: &EventKey) -> Option<&mut Event> {
        let s = self.slot_of(key)?;
        self.slots.get_mut(s)
    }

    /// Keep `e`, in both orders (dropped if its key is held already: see the module's doc). A
    /// record that sorts after the last one is pushed; inside a batch, one that sorts before it
    /// is held aside, and every record waits for the batch's end to take its timeline place.
    pub fn insert(&mut self, e: Event) -> Option<RecordRef> {
        /// Where a record goes in key order: at a place, or held aside until the batch ends.
        enum Place {
            At(usize),
            Late,
        }
        let place = match self.last() {
            None => Place::At(0),
            Some(last) if Event::cmp_keys(last, &e).is_lt() => Place::At(self.by_key.len()),
            Some(_) if self.batch.is_some() => Place::Late,
            Some(_) => match self.by_key.binary_search_by(|&s| Event::cmp_keys(self.slots.at(s), &e)) {
                Ok(_) => return None, // held already
                Err(pos) => Place::At(pos),
            },
        };
        let key = matches!(place, Place::Late).then(|| e.key());
        let slot = self.slots.put(e);
        if let Place::At(pos) = place {
            grow_for(&mut self.by_key, 1);
            self.by_key.insert(pos, slot);
        }
        match &mut self.batch {
            Some(batch) => {
                if let Some(key) = key {
                    // Sorts before the last record: merged at the batch's end (and dropped then
                    // if the key was held before).
                    if let Some(index) = batch.index.get_mut() {
                        index.entry(key).or_insert(slot);
                    }
                    batch.late.push(slot);
                }
                grow_for(&mut batch.timeline, 1);
                batch.timeline.push(slot);
            }
            None => {
                let e = self.slots.at(slot);
                let pos = self.by_time.partition_point(|&s| cmp_time(self.slots.at(s), e).is_lt());
                grow_for(&mut self.by_time, 1);
                self.by_time.insert(pos, slot);
            }
        }
        RecordRef::new(slot)
    }

    /// The record `r` names, if it is still held (see [`RecordRef`]: it may be another one
    /// than was inserted, if that was removed).
    pub fn by_ref(&self, r: RecordRef) -> Option<&Event> {
        self.slots.get(r.slot())
    }

    /// [`Self::by_ref`], to change only what neither order nor the fold reads (see
    /// [`Self::get_mut`]).
    pub fn by_ref_mut(&mut self, r: RecordRef) -> Option<&mut Event> {
        self.slots.get_mut(r.slot())
    }

    /// Take out the record with this key, if held, from both orders. Inside a batch, what was
    /// held aside is merged first (a removal is rare: an edited record's other version), so a
    /// second record of the key held aside goes with it and no record of it is left.
    pub fn remove(&mut self, key: &EventKey) -> Option<Event> {
        self.merge_late();
        let i = self
            .by_key
            .binary_search_by(|&s| Event::cmp_key(self.slots.at(s), key))
            .ok()?;
        let slot = self.by_key.remove(i);
        // On the timeline by search; else it came in this batch (its place waits for the end).
        let e = self.slots.at(slot);
        let from = self.by_time.partition_point(|&s| cmp_time(self.slots.at(s), e).is_lt());
        if self.by_time.get(from) == Some(&slot) {
            self.by_time.remove(from);
        } else if let Some(b) = self.batch.as_mut() {
            if let Some(i) = b.timeline.iter().rposition(|&s| s == slot) {
                b.timeline.remove(i);
            }
        }
        self.slots.take(slot)
    }

    /// Start a batch: records that sort before the last one are held aside, and every record's
    /// place on the timeline waits, until [`Self::finish_batch`]. Nothing if one is started.
    pub fn begin_batch(&mut self) {
        if self.batch.is_none() {
            self.batch = Some(Batch::default());
        }
    }

    /// Whether a batch is started.
    pub fn in_batch(&self) -> bool {
        self.batch.is_some()
    }

    /// The keys of the records inserted since the batch began (none outside a batch).
    pub fn batch_keys(&self) -> Vec<EventKey> {
        let Some(batch) = &self.batch else {
            return Vec::new();
        };
        batch.timeline.iter().map(|&s| self.slots.at(s).key()).collect()
    }

    /// End a batch: merge the records held aside into key order, and the batch's records into
    /// the timeline. Only what sorts after the batch's first record moves, in each order:
    /// O(m log m) comparisons and t moves for m records and a tail of t. Sorting is stable and
    /// finds runs, so a first open of a few logs (each in order) costs about a merge of those
    /// runs.
    pub fn finish_batch(&mut self) {
        self.merge_late();
        let Some(Batch { mut timeline, .. }) = self.batch.take() else {
            return;
        };
        let slots = &self.slots;
        if timeline.is_empty() {
            return;
        }
        timeline.sort_by(|&a, &b| cmp_time(slots.at(a), slots.at(b)));
        if self.by_time.is_empty() {
            timeline.shrink_to_fit();
            self.by_time = timeline;
            return;
        }
        // Timeline keys end with the record's key, held once: no two are equal.
        merge_in_place(
            &mut self.by_time,
            timeline,
            |&a, &b| cmp_time(slots.at(a), slots.at(b)),
            |_| debug_assert!(false, "two records with one key on the timeline"),
        );
    }

    /// Merge the records a batch held aside into key order (the batch goes on: their timeline
    /// places still wait for its end). Of two records with one key the first to come stays; the
    /// other is dropped, from the batch's timeline too.
    fn merge_late(&mut self) {
        let Some(batch) = self.batch.as_mut() else {
            return;
        };
        if batch.late.is_empty() {
            return;
        }
        let mut late = std::mem::take(&mut batch.late);
        batch.index = OnceLock::new();
        let slots = &self.slots;
        // Stable: of two records with one key, the first to arrive comes first and stays.
        late.sort_by(|&a, &b| Event::cmp_keys(slots.at(a), slots.at(b)));
        // Of two records with one key the first to arrive stays, and a record held before
        // stays over any of them.
        let mut dropped = Vec::new();
        late.dedup_by(|later, first| {
            let same = Event::cmp_keys(slots.at(*later), slots.at(*first)).is_eq();
            if same {
                dropped.push(*later);
            }
            same
        });
        merge_in_place(
            &mut self.by_key,
            late,
            |&a, &b| Event::cmp_keys(slots.at(a), slots.at(b)),
            |s| dropped.push(s),
        );
        if dropped.is_empty() {
            return;
        }
        for &s in &dropped {
            self.slots.take(s);
        }
        // The records dropped take no place on the timeline either.
        let slots = &self.slots;
        if let Some(batch) = self.batch.as_mut() {
            batch.timeline.retain(|&s| slots.get(s).is_some());
        }
    }

    // ---- the timeline ------------------------------------------------------------------------

    /// How many records are on the timeline (a batch's not yet).
    pub fn timeline_len(&self) -> usize {
        self.by_time.len()
    }

    /// The `i`th record on the timeline.
    pub fn timeline_at(&self, i: usize) -> Option<&Event> {
        self.by_time.get(i).map(|&s| self.slots.at(s))
    }

    /// The timeline's records in `range` (clamped to the timeline), with their indexes.
    pub fn timeline_range(
        &self,
        range: std::ops::Range<usize>,
    ) -> impl DoubleEndedIterator<Item = (usize, &Event)> + ExactSizeIterator {
        let end = range.end.min(self.by_time.len());
        let start = range.start.min(end);
        self.by_time[start..end]
            .iter()
            .enumerate()
            .map(move |(i, &s)| (start + i, self.slots.at(s)))
    }

    /// The timeline's records, in order.
    pub fn timeline(&self) -> impl DoubleEndedIterator<Item = &Event> + ExactSizeIterator {
        self.by_time.iter().map(|&s| self.slots.at(s))
    }

    /// How many of the timeline's records sort at or before `key` (a timeline key).
    pub fn timeline_upto(&self, key: &(Millis, EventKey)) -> usize {
        self.by_time
            .partition_point(|&s| cmp_time_key(self.slots.at(s), key).is_le())
    }
}

/// Merge the sorted `small` into the sorted `into` (both by `cmp`), in place from the back:
/// each element of `small`, from the last, finds its place among what is left of `into` by
/// galloping back from where the one after it went, then what sorts after it moves up in one
/// copy. `m` elements cost O(m log(n/m)) comparisons and one move of what sorts after the first
/// of them, so a few records landing anywhere in a long order cost a few comparisons each,
/// not a comparison per element held (which made a first open of 4 logs with unsorted
/// `occurred` times quadratic in its parts). An element of `small` equal to one of `into`
/// (held before) is not merged but handed to `dup`; `small` must hold no two equal elements.
fn merge_in_place<T: Copy>(into: &mut Vec<T>, small: Vec<T>, cmp: impl Fn(&T, &T) -> Ordering, mut dup: impl FnMut(T)) {
    let Some(&fill) = small.first() else {
        return;
    };
    let n = into.len();
    grow_for(into, small.len());
    into.resize(n + small.len(), fill);
    // `into[..i]` is what of `into` is not yet placed; `into[k..]` is placed; the slots between
    // are free. While elements of `small` are left, `k - i` is at least their count.
    let mut k = into.len();
    let mut i = n;
    for s in small.into_iter().rev() {
        // Gallop: `into[hi..i]` sort after `s`; find a `lo` with `into[..lo]` at or before it.
        let (mut lo, mut hi, mut step) = (0, i, 1);
        while hi > 0 {
            let probe = hi.saturating_sub(step);
            if cmp(&into[probe], &s).is_gt() {
                hi = probe;
                step *= 2;
            } else {
                lo = probe + 1;
                break;
            }
        }
        let p = lo + into[lo..hi].partition_point(|e| cmp(e, &s).is_le());
        into.copy_within(p..i, k - (i - p));
        k -= i - p;
        i = p;
        if p > 0 && cmp(&into[p - 1], &s).is_eq() {
            dup(s);
        } else {
            k -= 1;
            into[k] = s;
        }
    }
    // What was dropped left free slots between the two parts: close them.
    if k > i {
        into.copy_within(k.., i);
        into.truncate(into.len() - (k - i));
    }
}

/// key → slot of the first record in `late` with that key.
fn index_of(slots: &Slots, late: &[Slot]) -> HashMap<EventKey, Slot> {
    let mut index = HashMap::with_capacity(late.len());
    for &s in late {
        index.entry(slots.at(s).key()).or_insert(s);
    }
    index
}

/// Room for `more` elements: a quarter more when full (`Vec`'s doubling would leave up to half
/// of a long incident's vector unused); copying stays linear.
fn grow_for<T>(v: &mut Vec<T>, more: usize) {
    if v.capacity() - v.len() < more {
        v.reserve_exact(more.max(v.len() / 4).max(16));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::event::{Body, Note, Occurred};
    use proptest::prelude::*;

    fn rec(at: i64, log: &str, seq: u64, id: &str) -> Event {
        Event {
            id: id.into(),
            at,
            wall: at,
            occurred: Occurred::NONE,
            log: log.into(),
            seq,
            body: Body::Note(Note {
                text: id.into(),
                tags: Default::default(),
            }),
        }
    }

    fn keys(s: &RecordStore) -> Vec<(i64, String, u64)> {
        s.iter().map(|e| (e.at, e.log.to_string(), e.seq)).collect()
    }

    fn key(at: i64, log: &str, seq: u64) -> EventKey {
        EventKey {
            at,
            log: log.into(),
            seq,
        }
    }

    #[test]
    fn sorts_as_event_key_orders_and_keeps_the_first_of_a_key() {
        let mut s = RecordStore::default();
        s.insert(rec(20, "b", 1, "x"));
        s.insert(rec(10, "b", 2, "x"));
        s.insert(rec(20, "a", 9, "x"));
        s.insert(rec(20, "b", 1, "second"));
        assert_eq!(
            keys(&s),
            vec![(10, "b".into(), 2), (20, "a".into(), 9), (20, "b".into(), 1)]
        );
        assert_eq!(s.get(&key(20, "b", 1)).map(|e| e.id.as_str()), Some("x"));
        assert_eq!(s.last().map(Event::key), Some(key(20, "b", 1)));
        assert!(s.get(&key(20, "b", 2)).is_none());
        assert_eq!(s.remove(&key(20, "a", 9)).map(|e| e.seq), Some(9));
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn a_batch_holds_late_records_aside_and_merges_them_into_the_tail() {
        let mut s = RecordStore::default();
        for i in 0..10 {
            s.insert(rec(i * 10, "a", i as u64 + 1, "a"));
        }
        s.begin_batch();
        s.insert(rec(95, "a", 11, "pushed"));
        s.insert(rec(55, "b", 1, "late"));
        s.insert(rec(5, "b", 2, "older"));
        s.insert(rec(55, "b", 1, "again"));
        // Held aside: counted, found, not listed until merged.
        assert_eq!(s.len(), 14);
        assert_eq!(s.iter().len(), 11);
        assert_eq!(s.get(&key(55, "b", 1)).map(|e| e.id.as_str()), Some("late"));
        s.insert(rec(56, "b", 3, "after the index"));
        assert_eq!(s.get(&key(56, "b", 3)).map(|e| e.seq), Some(3));
        assert_eq!(s.remove(&key(5, "b", 2)).map(|e| e.seq), Some(2));
        s.finish_batch();
        assert_eq!(s.len(), 13);
        let k = keys(&s);
        assert!(k.windows(2).all(|w| w[0] < w[1]), "{k:?}");
        assert_eq!(s.get(&key(55, "b", 1)).map(|e| e.id.as_str()), Some("late"));
        assert!(s.get(&key(5, "b", 2)).is_none());
    }

    #[test]
    fn growth_is_by_a_quarter_not_doubling() {
        let mut s = RecordStore::default();
        for i in 0..100_000 {
            s.insert(rec(i, "a", i as u64 + 1, "a"));
        }
        for v in [&s.by_key, &s.by_time] {
            let spare = v.capacity() - v.len();
            assert!(spare <= v.len() / 4 + 16, "{spare}");
        }
        // The arena wastes at most one chunk, and a record costs its own size there.
        assert!(s.slots.chunks.len() <= 100_000 / CHUNK + 1);
        assert_eq!(std::mem::size_of::<Option<Event>>(), std::mem::size_of::<Event>());
    }

    /// A record: (at, log, seq, id, occurred) from small ranges, so keys repeat.
    fn arb_rec() -> impl Strategy<Value = (i64, u8, u64, u8, Option<i64>)> {
        (0i64..40, 0u8..3, 1u64..6, 0u8..3, prop::option::of(0i64..40))
    }

    fn build(r: &(i64, u8, u64, u8, Option<i64>)) -> Event {
        let mut e = rec(r.0, ["a", "b", "c"][r.1 as usize], r.2, &format!("id{}", r.3));
        e.occurred = r.4.into();
        e
    }

    /// The timeline a store shows: its records sorted by timeline key.
    fn want_timeline<'a>(records: impl Iterator<Item = &'a Event>) -> Vec<(i64, EventKey)> {
        let mut t: Vec<(i64, EventKey)> = records.map(crate::domain::state::timeline_key).collect();
        t.sort();
        t
    }

    proptest! {
        /// Merging a sorted vector into another in place gives the sorted whole; of equal
        /// elements the one held before stays and the other is handed back.
        #[test]
        fn merge_in_place_gives_the_sorted_whole(
            a in prop::collection::vec(0u16..60, 0..80),
            b in prop::collection::btree_set(0u16..60, 0..40),
        ) {
            let mut a: Vec<(u16, u8)> = a.into_iter().map(|x| (x, 1)).collect();
            a.sort();
            let b: Vec<(u16, u8)> = b.into_iter().map(|x| (x, 0)).collect();
            let (mut want, mut want_dups) = (a.clone(), Vec::new());
            for x in &b {
                if a.iter().any(|y| y.0 == x.0) {
                    want_dups.push(*x);
                } else {
                    want.push(*x);
                }
            }
            want.sort_by_key(|x| x.0);
            let mut dups = Vec::new();
            merge_in_place(&mut a, b, |x, y| x.0.cmp(&y.0), |x| dups.push(x));
            dups.reverse();
            prop_assert_eq!(a, want);
            prop_assert_eq!(dups, want_dups);
        }

        /// Any arrival order, with duplicates, one at a time or in batches of any size, gives
        /// the store that inserting the sorted, de-duplicated records gives (the first record of
        /// a key kept); `after` equals a filter; lookups find what a map would.
        #[test]
        fn any_order_equals_sorted(
            recs in prop::collection::vec(arb_rec(), 0..120),
            cuts in prop::collection::vec((0usize..120, any::<bool>()), 0..6),
            probe in arb_rec(),
        ) {
            // The model: first record per key, sorted.
            let mut model: std::collections::BTreeMap<EventKey, Event> = Default::default();
            for r in &recs {
                let e = build(r);
                model.entry(e.key()).or_insert(e);
            }
            let sorted: Vec<Event> = model.values().cloned().collect();
            let mut want = RecordStore::default();
            for e in sorted {
                want.insert(e);
            }

            // Arrival order as given, split into stretches each either one at a time or a batch.
            let mut s = RecordStore::default();
            let mut bounds: Vec<(usize, bool)> = cuts.iter().map(|(c, b)| (c % (recs.len() + 1), *b)).collect();
            bounds.sort();
            let mut batching = false;
            let mut next_cut = bounds.into_iter().peekable();
            for (i, r) in recs.iter().enumerate() {
                while let Some((_, b)) = next_cut.next_if(|(c, _)| *c == i) {
                    if batching { s.finish_batch(); }
                    batching = b;
                    if b { s.begin_batch(); }
                }
                s.insert(build(r));
                // Lookups in the middle of a batch find the first record of a key.
                let k = build(r).key();
                prop_assert_eq!(s.get(&k).map(|e| e.id.clone()), model.get(&k).map(|e| e.id.clone()));
            }
            s.finish_batch();
            prop_assert!(s == want);
            let timeline: Vec<(i64, EventKey)> = s.timeline().map(crate::domain::state::timeline_key).collect();
            prop_assert_eq!(&timeline, &want_timeline(model.values()));
            prop_assert_eq!(s.timeline_len(), model.len());
            let tp = crate::domain::state::timeline_key(&build(&probe));
            prop_assert_eq!(s.timeline_upto(&tp), timeline.iter().filter(|k| **k <= tp).count());
            prop_assert_eq!(s.len(), model.len());
            prop_assert_eq!(s.last().map(Event::key), model.keys().next_back().cloned());

            let p = build(&probe).key();
            let after: Vec<EventKey> = s.after(Some(&p)).map(Event::key).collect();
            let filtered: Vec<EventKey> = model.keys().filter(|k| **k > p).cloned().collect();
            prop_assert_eq!(after, filtered);
            prop_assert_eq!(s.after(None).len(), model.len());
            prop_assert_eq!(s.get(&p).map(|e| e.id.clone()), model.get(&p).map(|e| e.id.clone()));
            prop_assert_eq!(s.iter().rev().map(Event::key).collect::<Vec<_>>(), model.keys().rev().cloned().collect::<Vec<_>>());
        }

        /// Removing a record, in or out of a batch, leaves what removing it from the sorted
        /// records leaves.
        #[test]
        fn remove_equals_removing_from_the_sorted(
            recs in prop::collection::vec(arb_rec(), 1..80),
            gone in prop::collection::vec(arb_rec(), 0..10),
            in_batch in any::<bool>(),
        ) {
            let mut model: std::collections::BTreeMap<EventKey, Event> = Default::default();
            let mut s = RecordStore::default();
            if in_batch { s.begin_batch(); }
            for r in &recs {
                let e = build(r);
                model.entry(e.key()).or_insert_with(|| e.clone());
                s.insert(e);
            }
            for g in &gone {
                let k = build(g).key();
                let a = s.remove(&k).map(|e| e.id.clone());
                let b = model.remove(&k).map(|e| e.id.clone());
                prop_assert_eq!(a, b);
            }
            s.finish_batch();
            prop_assert_eq!(s.iter().map(Event::key).collect::<Vec<_>>(), model.keys().cloned().collect::<Vec<_>>());
            prop_assert_eq!(s.iter().map(|e| e.id.clone()).collect::<Vec<_>>(), model.values().map(|e| e.id.clone()).collect::<Vec<_>>());
            let timeline: Vec<(i64, EventKey)> = s.timeline().map(crate::domain::state::timeline_key).collect();
            prop_assert_eq!(timeline, want_timeline(model.values()));
            // Freed slots are used again, and both orders still list only live records.
            for r in &recs {
                s.insert(build(r));
                model.entry(build(r).key()).or_insert_with(|| build(r));
            }
            prop_assert_eq!(s.iter().map(Event::key).collect::<Vec<_>>(), model.keys().cloned().collect::<Vec<_>>());
            let timeline: Vec<(i64, EventKey)> = s.timeline().map(crate::domain::state::timeline_key).collect();
            prop_assert_eq!(timeline, want_timeline(model.values()));
        }
    }
}
