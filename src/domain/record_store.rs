//! The fold's records, sorted by merge key `(at, log, seq)`: a vector of boxed records, looked
//! up by binary search.
//!
//! Why not a `BTreeMap<EventKey, Box<Event>>`: a heap profile of `show --json` on a 100k-note
//! incident put its nodes at ~6.4 MB (≈ 64 bytes a record: the 40-byte entry, in leaves left
//! half full because std's B-tree splits in the middle and records arrive mostly in key order),
//! on top of the records themselves. Here a record costs its 8-byte pointer plus the vector's
//! spare room, which grows by a quarter at a time (not doubling).
//!
//! Records arrive mostly in key order, so the common insert is a push. One that sorts before
//! the last record is moved into place with `Vec::insert` — except inside a batch (a first open
//! of several logs, a reconcile pass during a storm of writers), where such records are held
//! aside and merged into the tail once, at [`RecordStore::finish_batch`]: one move of the part
//! that sorts after the batch's first record, not one per record.
//!
//! A key is held once: a record whose key is already held is dropped (the first one stays).

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::OnceLock;

use super::event::{Event, EventKey};

/// How a record sorts against a key: `EventKey`'s order, without building a key (no `Name`
/// clone per comparison).
fn cmp_key(e: &Event, k: &EventKey) -> Ordering {
    (e.at, e.log.as_str(), e.seq).cmp(&(k.at, k.log.as_str(), k.seq))
}

/// How two records sort (by merge key).
fn cmp_records(a: &Event, b: &Event) -> Ordering {
    (a.at, a.log.as_str(), a.seq).cmp(&(b.at, b.log.as_str(), b.seq))
}

/// Records sorted by merge key, each key once.
///
/// Boxed on purpose (`vec_box`): a slot, spare or not, costs 8 bytes rather than a record's
/// ~300, and an insert or a merge moves pointers, not records.
#[allow(clippy::vec_box)]
#[derive(Debug, Clone, Default)]
pub struct RecordStore {
    /// Sorted by key, no key twice.
    records: Vec<Box<Event>>,
    /// Inside a batch: the records that sorted before the last one when they came, in arrival
    /// order (merged by [`RecordStore::finish_batch`]). `None`: no batch.
    batch: Option<Vec<Box<Event>>>,
    /// key → place in `batch` (the first record with that key), built on the first lookup
    /// that reaches the batch (rare: a repeated seq, an edit, a view dropped mid-read) so that
    /// lookups stay O(1) there; kept up to date by pushes, dropped with the batch.
    batch_index: OnceLock<HashMap<EventKey, usize>>,
}

/// Two stores hold the same records (a batch not merged yet compares as it arrived).
impl PartialEq for RecordStore {
    fn eq(&self, other: &Self) -> bool {
        self.records == other.records && self.batch == other.batch
    }
}

impl RecordStore {
    /// How many records are held, a batch's not merged yet included.
    pub fn len(&self) -> usize {
        self.records.len() + self.batch.as_ref().map_or(0, Vec::len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The record that sorts last (a batch never holds aside a record that sorts after it).
    pub fn last(&self) -> Option<&Event> {
        self.records.last().map(|e| &**e)
    }

    /// Whether a record with `key` would sort after every record held.
    pub fn sorts_last(&self, key: &EventKey) -> bool {
        self.records.last().is_none_or(|e| cmp_key(e, key).is_lt())
    }

    /// The records in key order. A batch's records held aside are not among them until it is
    /// merged (as the timeline's keys of a batch are not either).
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Event> + ExactSizeIterator {
        self.records.iter().map(|e| &**e)
    }

    /// The records that sort after `key` (all of them when `None`), in key order: where a
    /// replay from a checkpoint starts. Not a batch's records held aside (see [`Self::iter`]).
    pub fn after(&self, key: Option<&EventKey>) -> impl DoubleEndedIterator<Item = &Event> + ExactSizeIterator {
        let start = key.map_or(0, |k| self.records.partition_point(|e| cmp_key(e, k).is_le()));
        self.records[start..].iter().map(|e| &**e)
    }

    pub fn get(&self, key: &EventKey) -> Option<&Event> {
        if let Ok(i) = self.records.binary_search_by(|e| cmp_key(e, key)) {
            return Some(&self.records[i]);
        }
        let batch = self.batch.as_ref().filter(|b| !b.is_empty())?;
        let index = self.batch_index.get_or_init(|| index_of(batch));
        index.get(key).map(|&i| &*batch[i])
    }

    /// The record with `key`, to change only what the fold never reads (a note's text left in
    /// its log, put back: see `IncidentState::hold_text`).
    pub fn get_mut(&mut self, key: &EventKey) -> Option<&mut Event> {
        if let Ok(i) = self.records.binary_search_by(|e| cmp_key(e, key)) {
            return Some(&mut self.records[i]);
        }
        let batch = self.batch.as_mut().filter(|b| !b.is_empty())?;
        let i = *self.batch_index.get_or_init(|| index_of(batch)).get(key)?;
        batch.get_mut(i).map(|e| &mut **e)
    }

    /// Where the record with `key` is among the merged records (not a batch's held aside),
    /// looked for beside `near` first (where a walk through nearby keys last was: the next one
    /// is usually adjacent), then by search.
    pub fn position_near(&self, key: &EventKey, near: Option<usize>) -> Option<usize> {
        if let Some(n) = near {
            for p in [n.wrapping_sub(1), n, n + 1] {
                if self.records.get(p).is_some_and(|e| cmp_key(e, key).is_eq()) {
                    return Some(p);
                }
            }
        }
        self.records.binary_search_by(|e| cmp_key(e, key)).ok()
    }

    /// The merged record at `place` (see [`Self::position_near`]).
    pub fn at(&self, place: usize) -> Option<&Event> {
        self.records.get(place).map(|e| &**e)
    }

    /// Keep `e` (dropped if its key is held already: see the module's doc). A record that sorts
    /// after the last one is pushed; inside a batch, one that sorts before it is held aside.
    pub fn insert(&mut self, e: Box<Event>) {
        let place = match self.records.last() {
            None => Err(0),
            Some(last) if cmp_records(last, &e).is_lt() => Err(self.records.len()),
            // Sorts before the last record: a batch merges it at its end (and drops it then if
            // the key was held before).
            Some(_) if self.batch.is_some() => {
                self.hold_aside(e);
                return;
            }
            Some(_) => self.records.binary_search_by(|x| cmp_records(x, &e)),
        };
        let Err(pos) = place else {
            return; // held already
        };
        grow_for(&mut self.records, 1);
        self.records.insert(pos, e);
    }

    fn hold_aside(&mut self, e: Box<Event>) {
        let Some(batch) = &mut self.batch else {
            return;
        };
        if let Some(index) = self.batch_index.get_mut() {
            index.entry(e.key()).or_insert(batch.len());
        }
        batch.push(e);
    }

    /// Take out the record with this key, if held. Inside a batch, what was held aside is
    /// merged first (a removal is rare: an edited record's other version), so a record held
    /// aside still always sorts before the last one.
    pub fn remove(&mut self, key: &EventKey) -> Option<Box<Event>> {
        if self.batch.as_ref().is_some_and(|b| !b.is_empty()) {
            self.finish_batch();
            self.begin_batch();
        }
        let i = self.records.binary_search_by(|e| cmp_key(e, key)).ok()?;
        Some(self.records.remove(i))
    }

    /// Start a batch: records that sort before the last one are held aside until
    /// [`Self::finish_batch`]. Nothing if one is started already.
    pub fn begin_batch(&mut self) {
        if self.batch.is_none() {
            self.batch = Some(Vec::new());
        }
    }

    /// End a batch: merge the records held aside into place. Only the records that sort after
    /// the batch's first one move: O(m log m + t) for m held aside and a tail of t.
    pub fn finish_batch(&mut self) {
        self.batch_index = OnceLock::new();
        let Some(mut new) = self.batch.take() else {
            return;
        };
        if new.is_empty() {
            return;
        }
        // Stable: of two records with one key, the first to arrive comes first and stays.
        new.sort_by(|a, b| cmp_records(a, b));
        new.dedup_by(|later, first| cmp_records(later, first).is_eq());
        let start = self.records.partition_point(|e| cmp_records(e, &new[0]).is_lt());
        let tail: Vec<Box<Event>> = self.records.drain(start..).collect();
        grow_for(&mut self.records, tail.len() + new.len());
        let (mut a, mut b) = (tail.into_iter().peekable(), new.into_iter().peekable());
        loop {
            let next = match (a.peek(), b.peek()) {
                (Some(x), Some(y)) => match cmp_records(x, y) {
                    Ordering::Less => a.next(),
                    // A key held before the batch keeps its record (it came first).
                    Ordering::Equal => {
                        b.next();
                        a.next()
                    }
                    Ordering::Greater => b.next(),
                },
                (Some(_), None) => a.next(),
                (None, Some(_)) => b.next(),
                (None, None) => break,
            };
            self.records.extend(next);
        }
    }
}

/// key → place of the first record with that key.
fn index_of(batch: &[Box<Event>]) -> HashMap<EventKey, usize> {
    let mut index = HashMap::with_capacity(batch.len());
    for (i, e) in batch.iter().enumerate() {
        index.entry(e.key()).or_insert(i);
    }
    index
}

/// Room for `more` elements: a quarter more when full, as the fold's timeline grows (`Vec`'s
/// doubling would leave up to half of a long incident's vector unused); copying stays linear.
fn grow_for<T>(v: &mut Vec<T>, more: usize) {
    if v.capacity() - v.len() < more {
        v.reserve_exact(more.max(v.len() / 4).max(16));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::event::{Body, Note};
    use proptest::prelude::*;

    fn rec(at: i64, log: &str, seq: u64, id: &str) -> Box<Event> {
        Box::new(Event {
            id: id.into(),
            at,
            wall: at,
            occurred: None,
            by: log.into(),
            log: log.into(),
            seq,
            body: Body::Note(Note {
                text: id.into(),
                tags: Default::default(),
            }),
        })
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
        let spare = s.records.capacity() - s.records.len();
        assert!(spare <= s.records.len() / 4 + 16, "{spare}");
    }

    /// A record: (at, log, seq, id) from small ranges, so keys repeat.
    fn arb_rec() -> impl Strategy<Value = (i64, u8, u64, u8)> {
        (0i64..40, 0u8..3, 1u64..6, 0u8..3)
    }

    fn build(r: &(i64, u8, u64, u8)) -> Box<Event> {
        rec(r.0, ["a", "b", "c"][r.1 as usize], r.2, &format!("id{}", r.3))
    }

    proptest! {
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
            let mut model: std::collections::BTreeMap<EventKey, Box<Event>> = Default::default();
            for r in &recs {
                let e = build(r);
                model.entry(e.key()).or_insert(e);
            }
            let sorted: Vec<Box<Event>> = model.values().cloned().collect();
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
            let mut model: std::collections::BTreeMap<EventKey, Box<Event>> = Default::default();
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
        }
    }
}
