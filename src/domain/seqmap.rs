//! A map from a log's seqs to values, for what the fold remembers of every record: a log's
//! seqs are dense from 1, so a vector indexed by seq holds them with no hashing and no per-entry
//! overhead. A log read from the shared folder is untrusted: seqs with gaps, or one of 2^53,
//! go to a sorted map instead, so the vector never grows to more than about twice the values
//! it holds.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::name::Name;

/// Slots the vector may always hold, whatever is filled (a small log with gaps stays dense).
const SLACK: usize = 64;

/// seq → `T`. Memory: at most `2 × len + 64` vector slots of `Option<T>`, plus a B-tree entry
/// per value that would have broken that bound.
#[derive(Debug, Clone)]
pub struct SeqMap<T> {
    /// Slot `i` holds seq `i + 1`.
    dense: Vec<Option<T>>,
    /// Values in `dense`.
    filled: usize,
    /// Values whose seq lies too far past the vector's end (or is 0).
    sparse: BTreeMap<u64, T>,
}

impl<T> Default for SeqMap<T> {
    fn default() -> Self {
        SeqMap {
            dense: Vec::new(),
            filled: 0,
            sparse: BTreeMap::new(),
        }
    }
}

impl<T> SeqMap<T> {
    pub fn get(&self, seq: u64) -> Option<&T> {
        slot(seq)
            .and_then(|i| self.dense.get(i))
            .and_then(Option::as_ref)
            .or_else(|| self.sparse.get(&seq))
    }

    /// Keep `value` at `seq`, replacing what was there.
    pub fn insert(&mut self, seq: u64, value: T) {
        let Some(i) = slot(seq).filter(|&i| self.fits(i)) else {
            self.sparse.insert(seq, value);
            return;
        };
        if i >= self.dense.len() {
            // A quarter more at a time, not `Vec`'s doubling (which leaves up to half of a
            // long log's slots unused); still linear copying as a log is read seq by seq.
            let more = i + 1 - self.dense.len();
            if self.dense.capacity() - self.dense.len() < more {
                self.dense.reserve_exact(more.max(self.dense.len() / 4).max(16));
            }
            self.dense.resize_with(i + 1, || None);
        }
        if self.dense[i].replace(value).is_none() {
            self.filled += 1;
            // It may have been put aside before the vector reached it.
            self.sparse.remove(&seq);
        }
    }

    /// Whether slot `i` may be used: it exists, or the vector grown to reach it would still
    /// be at least half full.
    fn fits(&self, i: usize) -> bool {
        i < self.dense.len() || i < 2 * (self.filled + 1) + SLACK
    }

    /// How many values it holds.
    pub fn len(&self) -> usize {
        self.filled + self.sparse.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// (log, seq) → `T`: one [`SeqMap`] per log, each log's name held once. Records come in runs
/// from one log (a reader hands a log's records on in order), so the log looked up last is
/// remembered by the address of its text: a run of lookups with one log's shared name hashes
/// no name (at 1M records, three hashes of a name a record were ≈ 40 ms of a second open).
#[derive(Debug)]
pub struct LogSeqs<T> {
    index: HashMap<Name, usize, foldhash::fast::RandomState>,
    logs: Vec<(Name, SeqMap<T>)>,
    /// Index in `logs` of the log found last (`usize::MAX`: none). Atomic only so the map
    /// stays `Sync`; relaxed, as a hint: a stale value is checked before it is used.
    last: AtomicUsize,
}

impl<T> Default for LogSeqs<T> {
    fn default() -> Self {
        LogSeqs {
            index: HashMap::default(),
            logs: Vec::new(),
            last: AtomicUsize::new(usize::MAX),
        }
    }
}

impl<T: Clone> Clone for LogSeqs<T> {
    fn clone(&self) -> Self {
        LogSeqs {
            index: self.index.clone(),
            logs: self.logs.clone(),
            last: AtomicUsize::new(self.last.load(Ordering::Relaxed)),
        }
    }
}

impl<T> LogSeqs<T> {
    /// Where `log` sits in `logs`.
    fn find(&self, log: &str) -> Option<usize> {
        let last = self.last.load(Ordering::Relaxed);
        // The very text the name remembered holds (address and length): the same log.
        if self
            .logs
            .get(last)
            .is_some_and(|(name, _)| std::ptr::eq(name.as_str(), log))
        {
            return Some(last);
        }
        let i = *self.index.get(log)?;
        self.last.store(i, Ordering::Relaxed);
        Some(i)
    }

    pub fn get(&self, log: &str, seq: u64) -> Option<&T> {
        self.logs[self.find(log)?].1.get(seq)
    }

    pub fn insert(&mut self, log: &Name, seq: u64, value: T) {
        let i = match self.find(log) {
            Some(i) => i,
            None => {
                let i = self.logs.len();
                self.logs.push((log.clone(), SeqMap::default()));
                self.index.insert(log.clone(), i);
                self.last.store(i, Ordering::Relaxed);
                i
            }
        };
        self.logs[i].1.insert(seq, value);
    }
}

/// The vector slot of `seq`: seqs start at 1.
fn slot(seq: u64) -> Option<usize> {
    usize::try_from(seq.checked_sub(1)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_huge_seq_allocates_nothing_for_the_gap() {
        let mut m = SeqMap::default();
        m.insert(1, 'a');
        m.insert(1 << 60, 'b');
        m.insert(u64::MAX, 'c');
        m.insert(0, 'z');
        assert!(m.dense.len() <= 1 + SLACK, "{}", m.dense.len());
        assert_eq!(
            (m.get(1), m.get(1 << 60), m.get(u64::MAX), m.get(0), m.get(2)),
            (Some(&'a'), Some(&'b'), Some(&'c'), Some(&'z'), None)
        );
        assert_eq!(m.len(), 4);
    }

    #[test]
    fn a_dense_log_lives_in_the_vector() {
        let mut m = SeqMap::default();
        for s in 1..=10_000u64 {
            m.insert(s, s * 2);
        }
        assert!(m.sparse.is_empty());
        assert_eq!(m.dense.len(), 10_000);
        assert_eq!(m.get(5000), Some(&10_000));
    }

    #[test]
    fn a_log_is_found_by_its_text_whichever_name_holds_it() {
        let (a, b) = (Name::from("alice@h1.x"), Name::from("bob@h2.x"));
        let mut m = LogSeqs::default();
        m.insert(&a, 1, 'a');
        m.insert(&b, 1, 'b');
        m.insert(&Name::from("alice@h1.x"), 2, 'c');
        // Another allocation of the same text, a plain `&str`, the name itself: one log.
        let other = String::from("alice@h1.x");
        assert_eq!(
            (m.get(&other, 1), m.get(&a, 2), m.get("bob@h2.x", 1)),
            (Some(&'a'), Some(&'c'), Some(&'b'))
        );
        // A prefix of a remembered text (same address, shorter) is another log.
        assert_eq!(m.get(&a[..5], 1), None);
        assert_eq!(m.clone().get(&b, 1), Some(&'b'));
    }

    proptest! {
        /// Any sequence of inserts reads back as a `BTreeMap` would, and the vector stays
        /// within twice the values it holds (plus the slack).
        #[test]
        fn behaves_as_a_map_with_bounded_slots(
            ops in prop::collection::vec(
                (prop_oneof![4 => 1u64..300, 1 => any::<u64>(), 1 => Just(0u64)], any::<u8>()),
                0..400,
            ),
            probes in prop::collection::vec(0u64..400, 0..50),
        ) {
            let (mut m, mut model) = (SeqMap::default(), BTreeMap::new());
            for (s, v) in ops {
                m.insert(s, v);
                model.insert(s, v);
                prop_assert!(m.dense.len() <= 2 * m.filled + SLACK + 2);
            }
            prop_assert_eq!(m.len(), model.len());
            for s in model.keys().chain(probes.iter()) {
                prop_assert_eq!(m.get(*s), model.get(s));
            }
        }
    }
}
