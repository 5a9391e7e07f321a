//! A note's tags: a list of words many records share.
//!
//! Real incidents repeat tag lists at scale: every alert entry `warroom ingest` writes carries
//! `alert`, `fingerprint:<fp>` and its status, every line `warroom import` writes the same tags,
//! and an exercise's answers `inject:<id>`; hand-written notes mostly carry none. As a
//! `Vec<String>`, one tag cost every record two allocations (the list's buffer and the word's
//! text): with glibc's 32-byte smallest chunk ≈ 64 B of memory per record, ≈ 6 MiB per 100k
//! records, for what is the same few words over and over.
//!
//! So [`Tags`] is `Option<Arc<Box<[Name]>>>` (one pointer, 8 bytes, in the record: a
//! `Note` held inline in every record's body is as small as that makes it):
//! - no tags allocate nothing (`None`);
//! - a list is two immutable allocations (reference counts and a pointer, then 8 B per word),
//!   which every record with the same list shares: the reader interns lists per log ([`TagInterner`]), so a
//!   record repeating its neighbour's tags costs no heap at all;
//! - each word is a [`Name`] (shared text), so lists that differ in one word (one alert
//!   fingerprint and another) still share the others (`alert`, `firing`). `Arc<[Box<str>]>`
//!   would share whole lists but copy every word of every distinct list.
//!
//! It reads as a slice of `&str`-like words (`Deref<Target = [Name]>`: `iter`, `len`, `join`,
//! indexing), is made from a `Vec<String>` or any iterator of words, and serialises, compares,
//! orders and hashes exactly as the `Vec<String>` it replaces (RON and JSON byte for byte).

use std::collections::HashSet;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

use super::name::Name;

/// A note's tags, shared (see the module's documentation).
#[derive(Clone, Default)]
pub struct Tags(Option<Arc<Box<[Name]>>>);

impl Tags {
    /// The words, in order.
    pub fn as_slice(&self) -> &[Name] {
        self.0.as_deref().map_or(&[], |b| b)
    }

    /// Is `tag` one of the words? (As the slice's `contains`, but with any text.)
    pub fn contains(&self, tag: &str) -> bool {
        self.iter().any(|t| t == tag)
    }

    /// Do `self` and `other` hold one allocation (both empty counts)? For tests of sharing.
    pub fn shares(&self, other: &Tags) -> bool {
        match (&self.0, &other.0) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }

    fn from_names(names: Vec<Name>) -> Tags {
        Tags((!names.is_empty()).then(|| Arc::new(names.into_boxed_slice())))
    }
}

impl Deref for Tags {
    type Target = [Name];
    fn deref(&self) -> &[Name] {
        self.as_slice()
    }
}

impl AsRef<[Name]> for Tags {
    fn as_ref(&self) -> &[Name] {
        self.as_slice()
    }
}

impl std::borrow::Borrow<[Name]> for Tags {
    fn borrow(&self) -> &[Name] {
        self.as_slice()
    }
}

impl<'a> IntoIterator for &'a Tags {
    type Item = &'a Name;
    type IntoIter = std::slice::Iter<'a, Name>;
    fn into_iter(self) -> Self::IntoIter {
        self.as_slice().iter()
    }
}

impl PartialEq for Tags {
    fn eq(&self, other: &Tags) -> bool {
        self.shares(other) || self.as_slice() == other.as_slice()
    }
}

impl Eq for Tags {}

impl PartialOrd for Tags {
    fn partial_cmp(&self, other: &Tags) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Tags {
    fn cmp(&self, other: &Tags) -> std::cmp::Ordering {
        self.as_slice().cmp(other.as_slice())
    }
}

/// As the slice's (so as a `Vec<String>`'s with the same words, and `Borrow<[Name]>` holds).
impl Hash for Tags {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state)
    }
}

impl<S> PartialEq<Vec<S>> for Tags
where
    Name: PartialEq<S>,
{
    fn eq(&self, other: &Vec<S>) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<S> PartialEq<[S]> for Tags
where
    Name: PartialEq<S>,
{
    fn eq(&self, other: &[S]) -> bool {
        self.as_slice() == other
    }
}

impl<S, const N: usize> PartialEq<[S; N]> for Tags
where
    Name: PartialEq<S>,
{
    fn eq(&self, other: &[S; N]) -> bool {
        self.as_slice() == other.as_slice()
    }
}

/// As a list of strings, so a record's `{:?}` reads as it did with a `Vec<String>`.
impl fmt::Debug for Tags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl From<Vec<String>> for Tags {
    fn from(v: Vec<String>) -> Tags {
        v.into_iter().collect()
    }
}

impl From<&[&str]> for Tags {
    fn from(v: &[&str]) -> Tags {
        v.iter().copied().collect()
    }
}

impl<S: Into<Name>> FromIterator<S> for Tags {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Tags {
        Tags::from_names(iter.into_iter().map(Into::into).collect())
    }
}

impl From<Tags> for Vec<String> {
    fn from(t: Tags) -> Vec<String> {
        t.iter().map(String::from).collect()
    }
}

impl serde::Serialize for Tags {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(self.len()))?;
        for t in self.iter() {
            seq.serialize_element(t.as_str())?;
        }
        seq.end()
    }
}

/// As a `Vec<String>`: a sequence of strings, each read as `String` reads it.
impl<'de> serde::Deserialize<'de> for Tags {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Tags, D::Error> {
        struct Word(Name);
        impl<'de> serde::Deserialize<'de> for Word {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Word, D::Error> {
                struct V;
                impl serde::de::Visitor<'_> for V {
                    type Value = Word;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str("a string")
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Word, E> {
                        Ok(Word(Name::from(v)))
                    }
                    fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Word, E> {
                        match std::str::from_utf8(v) {
                            Ok(s) => Ok(Word(Name::from(s))),
                            Err(_) => Err(E::invalid_value(serde::de::Unexpected::Bytes(v), &self)),
                        }
                    }
                }
                d.deserialize_string(V)
            }
        }
        struct Seq;
        impl<'de> serde::de::Visitor<'de> for Seq {
            type Value = Tags;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a sequence")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Tags, A::Error> {
                let mut names = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
                while let Some(Word(n)) = seq.next_element()? {
                    names.push(n);
                }
                Ok(Tags::from_names(names))
            }
        }
        d.deserialize_seq(Seq)
    }
}

/// Lists of tags and words one log's records share, so records repeating tags hold one
/// allocation. Bounded: a log of ever-new words (hostile, or just varied) keeps at most
/// [`MAX_LISTS`] lists and [`MAX_WORDS`] words here, starting afresh when either is full, so its
/// records cost what they would without it (their own lists), never more.
#[derive(Debug, Default)]
pub struct TagInterner {
    lists: HashSet<Tags, foldhash::fast::RandomState>,
    words: HashSet<Name, foldhash::fast::RandomState>,
    /// The words of the list being made (kept to reuse its buffer).
    scratch: Vec<Name>,
    /// The list last given to [`share`](Self::share) and what it was shared as: a run of
    /// records with one list (from another interner) is shared by comparing a pointer.
    last: Option<(Tags, Tags)>,
}

/// How many distinct lists a [`TagInterner`] holds at most.
pub const MAX_LISTS: usize = 256;
/// How many distinct words a [`TagInterner`] holds at most.
pub const MAX_WORDS: usize = 1024;

impl TagInterner {
    pub fn new() -> TagInterner {
        TagInterner::default()
    }

    /// `tags`, or an equal list this interner already holds (then `tags`' own is dropped).
    pub fn share(&mut self, tags: Tags) -> Tags {
        if let Some((seen, held)) = &self.last {
            if seen.shares(&tags) {
                return held.clone();
            }
        }
        let Some(mut list) = tags.0 else {
            return Tags(None);
        };
        if let Some(held) = self.lists.get(&**list).cloned() {
            self.last = Some((Tags(Some(list)), held.clone()));
            return held;
        }
        // A new list: its words shared with the lists held before, where they repeat.
        if let Some(words) = Arc::get_mut(&mut list) {
            for w in words.iter_mut() {
                *w = self.word(w.as_str(), || w.clone());
            }
        }
        let held = self.keep(Tags(Some(list)));
        self.last = Some((held.clone(), held.clone()));
        held
    }

    /// The list of these words: one this interner holds, else a new one it keeps. For a
    /// decoder that reads words as text (no allocation when the list repeats).
    pub fn share_words<'a, I>(&mut self, words: I) -> Tags
    where
        I: IntoIterator<Item = &'a str>,
        I::IntoIter: Clone,
    {
        let words = words.into_iter();
        // A run of records with one list: the words compared with the last list shared, no
        // hashing.
        if let Some((_, held)) = &self.last {
            if held
                .0
                .as_deref()
                .map_or(&[][..], |l| &l[..])
                .iter()
                .map(Name::as_str)
                .eq(words.clone())
            {
                return held.clone();
            }
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        scratch.extend(words.map(|w| self.word(w, || Name::from(w))));
        let out = if scratch.is_empty() {
            Tags(None)
        } else if let Some(held) = self.lists.get(scratch.as_slice()) {
            held.clone()
        } else {
            self.keep(Tags(Some(Arc::new(scratch.as_slice().into()))))
        };
        scratch.clear();
        self.scratch = scratch;
        self.last = Some((out.clone(), out.clone()));
        out
    }

    /// The body with its tags shared (any other kind as it is).
    pub fn share_body(&mut self, body: &mut super::event::Body) {
        if let super::event::Body::Note(n) = body {
            if !n.tags.is_empty() {
                n.tags = self.share(std::mem::take(&mut n.tags));
            }
        }
    }

    fn word(&mut self, w: &str, make: impl FnOnce() -> Name) -> Name {
        if let Some(n) = self.words.get(w) {
            return n.clone();
        }
        if self.words.len() >= MAX_WORDS {
            self.words.clear();
        }
        let n = make();
        self.words.insert(n.clone());
        n
    }

    fn keep(&mut self, tags: Tags) -> Tags {
        if self.lists.len() >= MAX_LISTS {
            self.lists.clear();
        }
        self.lists.insert(tags.clone());
        tags
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tags(words: &[&str]) -> Tags {
        Tags::from(words)
    }

    #[test]
    fn no_tags_allocate_nothing_and_a_list_is_one_pointer() {
        assert!(Tags::default().0.is_none());
        assert!(Tags::from(Vec::<String>::new()).0.is_none());
        assert!(tags(&[]).is_empty());
        assert_eq!(std::mem::size_of::<Tags>(), std::mem::size_of::<usize>());
    }

    #[test]
    fn reads_as_its_words() {
        let t: Tags = vec!["alert".to_string(), "fingerprint:ab".to_string()].into();
        assert!(t.iter().any(|w| w == "alert"));
        assert!(t.contains("alert") && !t.contains("aler"));
        let owned = String::from("alert");
        assert!(t.contains(&owned), "a `String` as the slice's `contains` took it");
        assert_eq!(t.len(), 2);
        assert_eq!(t[1], "fingerprint:ab");
        assert_eq!(t.join(" "), "alert fingerprint:ab");
        assert_eq!(t, ["alert", "fingerprint:ab"]);
        assert_eq!(t, vec!["alert".to_string(), "fingerprint:ab".to_string()]);
        assert_eq!(format!("{t:?}"), r#"["alert", "fingerprint:ab"]"#);
        assert_eq!(Vec::<String>::from(t.clone()), ["alert", "fingerprint:ab"]);
        let from_iter: Tags = ["alert", "fingerprint:ab"].into_iter().collect();
        assert_eq!(from_iter, t);
    }

    #[test]
    fn orders_and_hashes_as_a_list_of_strings() {
        use std::collections::hash_map::DefaultHasher;
        let hash = |h: &dyn Fn(&mut DefaultHasher)| {
            let mut s = DefaultHasher::new();
            h(&mut s);
            s.finish()
        };
        for words in [&[][..], &["a"], &["a", "b"], &["", "x y"]] {
            let v: Vec<String> = words.iter().map(|w| w.to_string()).collect();
            let t = tags(words);
            assert_eq!(hash(&|s| t.hash(s)), hash(&|s| v.hash(s)), "{words:?}");
        }
        let (a, b, c) = (tags(&[]), tags(&["a"]), tags(&["a", "b"]));
        assert!(a < b && b < c && tags(&["b"]) > c);
    }

    #[test]
    fn an_interner_shares_lists_and_words() {
        let mut i = TagInterner::new();
        let a = i.share(tags(&["alert", "fingerprint:1", "firing"]));
        let b = i.share(tags(&["alert", "fingerprint:1", "firing"]));
        assert!(a.shares(&b));
        let c = i.share(tags(&["alert", "fingerprint:2", "firing"]));
        assert!(!a.shares(&c));
        assert!(std::ptr::eq(a[0].as_str(), c[0].as_str()), "`alert` is one allocation");
        assert!(std::ptr::eq(a[2].as_str(), c[2].as_str()));
        let d = i.share_words(["alert", "fingerprint:2", "firing"]);
        assert!(d.shares(&c));
        assert!(i.share_words([]).is_empty());
        assert!(i.share(Tags::default()).is_empty());
    }

    #[test]
    fn an_interner_stays_bounded() {
        let mut i = TagInterner::new();
        for n in 0..10 * MAX_WORDS {
            let t = i.share(tags(&[&format!("w{n}"), &format!("v{n}")]));
            assert_eq!(t, [format!("w{n}"), format!("v{n}")]);
            assert!(i.lists.len() <= MAX_LISTS && i.words.len() <= MAX_WORDS);
        }
    }

    fn word() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("triage".to_string()),
            Just("alert".to_string()),
            "[a-z:]{0,6}",
            any::<String>(),
            "\\PC{0,4}[\"\\\\\u{0}\u{7f}\u{202e}\n]\\PC{0,4}",
        ]
    }

    proptest! {
        #[test]
        fn serialises_and_reads_as_a_vec_of_strings(words in proptest::collection::vec(word(), 0..5)) {
            let t = Tags::from(words.clone());
            let ron_v = ron::to_string(&words).expect("ron");
            let json_v = serde_json::to_string(&words).expect("json");
            prop_assert_eq!(ron::to_string(&t).expect("ron"), ron_v.clone());
            prop_assert_eq!(serde_json::to_string(&t).expect("json"), json_v.clone());
            let back: Tags = ron::from_str(&ron_v).expect("ron back");
            prop_assert_eq!(&back, &words);
            let back: Tags = serde_json::from_str(&json_v).expect("json back");
            prop_assert_eq!(&back, &words);
            let back: Tags = super::super::line_de::from_str(&ron_v).unwrap_or_else(|_| t.clone());
            prop_assert_eq!(&back, &words);
        }

        #[test]
        fn interning_never_changes_a_list(lists in proptest::collection::vec(proptest::collection::vec(word(), 0..4), 0..40)) {
            let mut i = TagInterner::new();
            for words in lists {
                let t = Tags::from(words.clone());
                prop_assert_eq!(&i.share(t.clone()), &t);
                prop_assert_eq!(&i.share_words(words.iter().map(String::as_str)), &t);
            }
        }
    }
}
