//! Record ids held without an allocation. [`RecordId`] is a record's own id, as its text
//! (inline for every id a writer makes); [`CompactId`] is the fold's copy of it, as the 128 bits
//! of a canonical ULID (the fold remembers the id of each record it keeps, to tell a repeat from
//! an edit and to check what a correction names).

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Crockford's base-32 digits, as a ULID is written: upper case, no I, L, O or U.
const DIGITS: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Characters in a ULID's text.
const ULID_LEN: usize = 26;
/// Each byte's digit value, or 32 for a byte that is not a digit (a table: this runs for every
/// record the fold keeps).
const VALUE: [u8; 256] = {
    let mut t = [32u8; 256];
    let mut i = 0;
    while i < DIGITS.len() {
        t[DIGITS[i] as usize] = i as u8;
        i += 1;
    }
    t
};

/// An id, compared exactly as its text: a canonical ULID is kept as its 128 bits (one text has
/// them), any other id as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompactId {
    /// The 128 bits of a canonical ULID, big-endian.
    Ulid([u8; 16]),
    /// Any other id.
    Text(Box<str>),
}

impl CompactId {
    pub fn new(id: &str) -> CompactId {
        match ulid_bits(id) {
            Some(bits) => CompactId::Ulid(bits.to_be_bytes()),
            None => CompactId::Text(id.into()),
        }
    }

    /// Whether this is the id `id`: true exactly when the texts are equal.
    pub fn is(&self, id: &str) -> bool {
        match self {
            // A canonical ULID has one text, so equal bits mean equal texts.
            CompactId::Ulid(b) => ulid_bits(id) == Some(u128::from_be_bytes(*b)),
            // A text kept as written is never a canonical ULID: comparing texts is enough.
            CompactId::Text(t) => **t == *id,
        }
    }
}

/// The text it was made from.
impl fmt::Display for CompactId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompactId::Ulid(b) => {
                let mut v = u128::from_be_bytes(*b);
                let mut out = [b'0'; ULID_LEN];
                for c in out.iter_mut().rev() {
                    *c = DIGITS[(v & 31) as usize];
                    v >>= 5;
                }
                // Only DIGITS were written: ASCII.
                f.write_str(std::str::from_utf8(&out).map_err(|_| fmt::Error)?)
            }
            CompactId::Text(t) => f.write_str(t),
        }
    }
}

/// The most bytes of an id held inline (a canonical ULID has 26).
const INLINE: usize = 30;

/// A record's id, held as its text: inline when it has at most 30 bytes (every id a writer
/// makes: a 26-character ULID), else in a `Box<str>` as written — never a `String` with its
/// spare capacity and its own heap block per record. Reads as `&str` (`Deref`) and compares,
/// orders, hashes, prints and serialises exactly as that text does. 32 bytes.
#[derive(Clone)]
pub struct RecordId(Repr);

#[derive(Clone)]
enum Repr {
    /// The first `len` bytes of `bytes` (a whole UTF-8 text: cut nowhere else).
    Inline {
        len: u8,
        bytes: [u8; INLINE],
    },
    Heap(Box<str>),
}

impl RecordId {
    pub fn as_str(&self) -> &str {
        match &self.0 {
            // Made from a whole `&str` of `len` bytes: always UTF-8, so never the "".
            Repr::Inline { len, bytes } => std::str::from_utf8(&bytes[..*len as usize]).unwrap_or(""),
            Repr::Heap(s) => s,
        }
    }
}

impl From<&str> for RecordId {
    fn from(s: &str) -> RecordId {
        if s.len() <= INLINE {
            let mut bytes = [0u8; INLINE];
            bytes[..s.len()].copy_from_slice(s.as_bytes());
            RecordId(Repr::Inline {
                len: s.len() as u8,
                bytes,
            })
        } else {
            RecordId(Repr::Heap(s.into()))
        }
    }
}

impl From<String> for RecordId {
    fn from(s: String) -> RecordId {
        if s.len() <= INLINE {
            RecordId::from(s.as_str())
        } else {
            RecordId(Repr::Heap(s.into_boxed_str()))
        }
    }
}

impl From<&String> for RecordId {
    fn from(s: &String) -> RecordId {
        RecordId::from(s.as_str())
    }
}

impl From<RecordId> for String {
    fn from(id: RecordId) -> String {
        id.as_str().to_string()
    }
}

impl Default for RecordId {
    fn default() -> RecordId {
        RecordId::from("")
    }
}

impl Deref for RecordId {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for RecordId {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for RecordId {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for RecordId {
    fn eq(&self, other: &RecordId) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for RecordId {}

impl PartialOrd for RecordId {
    fn partial_cmp(&self, other: &RecordId) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for RecordId {
    fn cmp(&self, other: &RecordId) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for RecordId {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.as_str().hash(h)
    }
}

impl PartialEq<str> for RecordId {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for RecordId {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for RecordId {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<RecordId> for str {
    fn eq(&self, other: &RecordId) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<RecordId> for &str {
    fn eq(&self, other: &RecordId) -> bool {
        *self == other.as_str()
    }
}

impl PartialEq<RecordId> for String {
    fn eq(&self, other: &RecordId) -> bool {
        self == other.as_str()
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

/// As the text's own `Debug` (quoted), so a record's `{:?}` reads as it did with a `String`.
impl fmt::Debug for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl Serialize for RecordId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// From any string (no `String` is made for one held inline).
impl<'de> Deserialize<'de> for RecordId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RecordId, D::Error> {
        struct Visit;
        impl serde::de::Visitor<'_> for Visit {
            type Value = RecordId;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<RecordId, E> {
                Ok(RecordId::from(s))
            }
            fn visit_string<E: serde::de::Error>(self, s: String) -> Result<RecordId, E> {
                Ok(RecordId::from(s))
            }
        }
        d.deserialize_str(Visit)
    }
}

/// The bits of `id` if it is a canonical ULID: 26 digits of [`DIGITS`], the first at most `7`
/// (so the value fits in 128 bits and no two texts share one value).
fn ulid_bits(id: &str) -> Option<u128> {
    let b = id.as_bytes();
    if b.len() != ULID_LEN || b[0] > b'7' {
        return None;
    }
    b.iter().try_fold(0u128, |v, &c| {
        let d = VALUE[c as usize];
        (d < 32).then_some((v << 5) | d as u128)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_ulid_is_kept_as_bits_and_reads_back() {
        let id = ulid::Ulid::new().to_string();
        let c = CompactId::new(&id);
        assert!(matches!(c, CompactId::Ulid(_)));
        assert_eq!(c.to_string(), id);
        assert!(c.is(&id));
        assert!(!c.is(&id.to_lowercase()));
        let max = "7ZZZZZZZZZZZZZZZZZZZZZZZZZ";
        assert_eq!(CompactId::new(max).to_string(), max);
    }

    #[test]
    fn other_ids_are_kept_as_written() {
        for id in [
            "e1",
            "01arz3ndektsv4rrffq69g5fav",
            "8ZZZZZZZZZZZZZZZZZZZZZZZZZ",
            "01ARZ3NDEKTSV4RRFFQ69G5FAU",
        ] {
            let c = CompactId::new(id);
            assert!(matches!(c, CompactId::Text(_)), "{id}");
            assert!(c.is(id) && c.to_string() == id);
        }
    }

    proptest! {
        /// `is` answers exactly as comparing the texts, ULIDs or not.
        #[test]
        fn is_equals_text_equality(
            a in prop_oneof!["[0-7][0-9A-HJKMNP-TV-Z]{25}", "[0-9A-Za-z]{1,30}"],
            b in prop_oneof!["[0-7][0-9A-HJKMNP-TV-Z]{25}", "[0-9A-Za-z]{1,30}"],
            same in any::<bool>(),
        ) {
            let b = if same { a.clone() } else { b };
            let c = CompactId::new(&a);
            prop_assert_eq!(c.is(&b), a == b);
            prop_assert_eq!(c.to_string(), a);
        }
    }

    #[test]
    fn a_ulid_is_held_inline_and_anything_longer_as_written() {
        let id = ulid::Ulid::new().to_string();
        let r = RecordId::from(id.as_str());
        assert!(matches!(r.0, Repr::Inline { .. }));
        assert_eq!((&*r, format!("{r:?}")), (id.as_str(), format!("{id:?}")));
        let long = "x".repeat(64);
        let r = RecordId::from(long.clone());
        assert!(matches!(r.0, Repr::Heap(_)));
        assert!(r == long);
        assert!(long == r);
        assert_eq!(std::mem::size_of::<RecordId>(), 32);
    }

    fn ids() -> impl Strategy<Value = String> {
        prop_oneof![
            "[0-7][0-9A-HJKMNP-TV-Z]{25}",
            any::<String>(),
            "[a-z]{28,33}",
            "[é🦀a]{5,12}"
        ]
    }

    fn hash_of(v: &impl Hash) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        v.hash(&mut h);
        h.finish()
    }

    proptest! {
        /// Any string reads back, serialises, compares, orders and hashes exactly as itself.
        #[test]
        fn a_record_id_is_its_text(a in ids(), b in ids(), same in any::<bool>()) {
            let b = if same { a.clone() } else { b };
            let (ra, rb) = (RecordId::from(a.as_str()), RecordId::from(b.clone()));
            prop_assert_eq!(&*ra, a.as_str());
            prop_assert_eq!(ra.to_string(), a.clone());
            prop_assert_eq!(String::from(ra.clone()), a.clone());
            prop_assert_eq!(ra == rb, a == b);
            prop_assert_eq!(ra == b, a == b);
            prop_assert_eq!(ra.cmp(&rb), a.cmp(&b));
            prop_assert_eq!(hash_of(&ra), hash_of(&a));
            prop_assert_eq!(ron::to_string(&ra).ok(), ron::to_string(&a).ok());
            prop_assert_eq!(serde_json::to_string(&ra).ok(), serde_json::to_string(&a).ok());
            let back: RecordId = ron::from_str(&ron::to_string(&a).unwrap_or_default()).unwrap_or_default();
            prop_assert_eq!(back, ra);
        }
    }
}
