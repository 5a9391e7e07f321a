//! A name many records share: a log's id (`name@host.install`) or a writer's (`name@host`).
//!
//! Every record of a log names the same log and, almost always, the same writer: the reader
//! and the writer make each name once per log and give every record a clone (a reference count,
//! not a copy), so the records, their merge keys and the timeline point at one allocation.
//! It reads as a `&str` everywhere (`Deref`, `==` with string types, `Display`), sorts and
//! hashes exactly as its text does, and serialises as a plain string.
//!
//! A log's name also carries its writer's ([`Name::with_writer`]): a record's `by` is read from
//! the log it sits in (`Event::by`), so a record holds one name, not two (8 bytes a record).

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// Shared, immutable text. Cloning it is a reference count; ordering, equality and hashing are
/// those of the text (so a `HashMap<Name, _>` or `BTreeMap<Name, _>` is looked up with a `&str`).
///
/// A thin pointer (8 bytes, not the 16 of an `Arc<str>`): every record holds one (its log's,
/// which also gives its writer's); the text is one more pointer away, and there are few names.
#[derive(Clone)]
pub struct Name(Arc<Text>);

/// A name's text, and for a log's name its writer's (see [`Name::with_writer`]).
struct Text {
    text: Box<str>,
    writer: Option<Name>,
}

impl Name {
    pub fn as_str(&self) -> &str {
        &self.0.text
    }

    fn new(text: Box<str>) -> Name {
        Name(Arc::new(Text { text, writer: None }))
    }

    /// A log's name (`name@host.install`) that knows its writer's (`name@host`, what each of
    /// its records says in `by`): [`Self::writer`] gives it back. Compared, ordered and hashed
    /// as the log's text alone.
    pub fn with_writer(log: &str, writer: Name) -> Name {
        Name(Arc::new(Text {
            text: Box::from(log),
            writer: Some(writer),
        }))
    }

    /// The writer this name was made with ([`Self::with_writer`]); a name made without one is
    /// its own writer (a record parsed outside any log is keyed by its `by`).
    pub fn writer(&self) -> &Name {
        self.0.writer.as_ref().unwrap_or(self)
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Name) -> bool {
        // One log's records share one name: the pointer answers most comparisons.
        Arc::ptr_eq(&self.0, &other.0) || self.0.text == other.0.text
    }
}

impl Eq for Name {}

impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Name) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Name {
    fn cmp(&self, other: &Name) -> std::cmp::Ordering {
        if Arc::ptr_eq(&self.0, &other.0) {
            return std::cmp::Ordering::Equal;
        }
        self.0.text.cmp(&other.0.text)
    }
}

impl std::hash::Hash for Name {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.0.text.hash(h)
    }
}

impl Default for Name {
    fn default() -> Name {
        Name::new(Box::from(""))
    }
}

impl Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0.text
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        &self.0.text
    }
}

impl Borrow<str> for Name {
    fn borrow(&self) -> &str {
        &self.0.text
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.0.text, f)
    }
}

/// As the text's own `Debug` (quoted), so a record's `{:?}` reads as it did with a `String`.
impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0.text, f)
    }
}

impl From<&str> for Name {
    fn from(s: &str) -> Name {
        Name::new(Box::from(s))
    }
}

impl From<String> for Name {
    fn from(s: String) -> Name {
        Name::new(Box::from(s))
    }
}

impl From<&String> for Name {
    fn from(s: &String) -> Name {
        Name::new(Box::from(s.as_str()))
    }
}

impl From<Name> for String {
    fn from(n: Name) -> String {
        n.0.text.to_string()
    }
}

impl From<&Name> for String {
    fn from(n: &Name) -> String {
        n.0.text.to_string()
    }
}

macro_rules! eq_text {
    ($($t:ty),*) => {$(
        impl PartialEq<$t> for Name {
            fn eq(&self, other: &$t) -> bool {
                *self.0.text == **other
            }
        }
        impl PartialEq<Name> for $t {
            fn eq(&self, other: &Name) -> bool {
                **self == *other.0.text
            }
        }
    )*};
}
eq_text!(&str, String);

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        *self.0.text == *other
    }
}

impl PartialEq<Name> for str {
    fn eq(&self, other: &Name) -> bool {
        *self == *other.0.text
    }
}

impl serde::Serialize for Name {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.text)
    }
}

impl<'de> serde::Deserialize<'de> for Name {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Name, D::Error> {
        String::deserialize(d).map(Name::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, HashMap};

    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_name_is_one_pointer() {
        assert_eq!(std::mem::size_of::<Name>(), 8);
    }

    #[test]
    fn clones_share_one_allocation() {
        let a = Name::from("alice@jump.abc123");
        let b = a.clone();
        assert!(std::ptr::eq(a.as_str(), b.as_str()));
    }

    #[test]
    fn reads_compares_and_orders_as_its_text() {
        let a = Name::from("alice@jump");
        let text = String::from("alice@jump");
        assert!(a == "alice@jump");
        assert!("alice@jump" == a);
        assert!(a == *"alice@jump");
        assert!(a == text);
        assert!(text == a);
        assert_ne!(a, "bob@jump");
        let (x, y) = (Name::from("alice@z"), Name::from("bob@a"));
        assert!(x < y);
        assert_eq!(format!("{a} {a:?}"), r#"alice@jump "alice@jump""#);
        assert!(a.starts_with("alice@"));
        assert_eq!(String::from(a.clone()), "alice@jump");
    }

    #[test]
    fn maps_keyed_by_name_are_looked_up_with_text() {
        let hm = HashMap::from([(Name::from("a@h.x"), 1)]);
        let bm = BTreeMap::from([(Name::from("a@h.x"), 2)]);
        assert_eq!((hm.get("a@h.x"), bm.get("a@h.x")), (Some(&1), Some(&2)));
    }

    #[test]
    fn a_log_name_knows_its_writer_and_compares_as_its_text() {
        let w = Name::from("alice@jump.example.com");
        let log = Name::with_writer("alice@jump.example.com.k3x9qa", w.clone());
        assert!(std::ptr::eq(log.writer().as_str(), w.as_str()));
        assert_eq!(log, Name::from("alice@jump.example.com.k3x9qa"));
        assert_eq!(w.writer(), &w);
        let hm = HashMap::from([(log.clone(), 1)]);
        assert_eq!(hm.get("alice@jump.example.com.k3x9qa"), Some(&1));
    }

    #[test]
    fn serialises_as_a_plain_string() {
        let a = Name::from("a\"b@h");
        assert_eq!(serde_json::to_string(&a).ok(), serde_json::to_string("a\"b@h").ok());
        assert_eq!(ron::to_string(&a).ok(), ron::to_string("a\"b@h").ok());
        let back: Result<Name, _> = serde_json::from_str("\"x@y\"");
        assert_eq!(back.ok(), Some(Name::from("x@y")));
    }
}
