//! A record's `prev`: the lowercase hex BLAKE3 of the line before it (see
//! [`super::event::line_hash`]). Every writer writes 64 hex digits; held as their 32 bytes that
//! is 40 bytes a record instead of a 24-byte `String` and an 80-byte heap block. A hand-written
//! or hostile line may say anything: that is kept as written, so it reads back, compares and
//! serialises exactly as its text.

use std::fmt;
use std::ops::Deref;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// A `prev` as its text. Equality (with another `PrevHash`, a `str` or a `String`) is the
/// text's: a text of 64 lowercase hex digits is always held as its bytes, any other as written,
/// so one text has one form.
#[derive(Clone, PartialEq, Eq)]
pub struct PrevHash(Repr);

#[derive(Clone, PartialEq, Eq)]
enum Repr {
    /// The bytes 64 lowercase hex digits spell.
    Blake3([u8; 32]),
    /// Any other text, as written.
    Text(Box<str>),
}

impl PrevHash {
    /// The 32 bytes, when the text is 64 lowercase hex digits.
    pub fn bytes(&self) -> Option<&[u8; 32]> {
        match &self.0 {
            Repr::Blake3(b) => Some(b),
            Repr::Text(_) => None,
        }
    }

    /// The hash whose text is the lowercase hex of `b`.
    pub fn from_bytes(b: [u8; 32]) -> PrevHash {
        PrevHash(Repr::Blake3(b))
    }

    /// The text, on the stack (64 bytes) when held as bytes: reads as `&str`.
    pub fn text(&self) -> PrevText<'_> {
        match &self.0 {
            Repr::Blake3(b) => {
                let mut out = [0u8; 64];
                for (pair, byte) in out.chunks_exact_mut(2).zip(b) {
                    pair[0] = HEX[(byte >> 4) as usize];
                    pair[1] = HEX[(byte & 15) as usize];
                }
                PrevText::Hex(out)
            }
            Repr::Text(t) => PrevText::Str(t),
        }
    }

    /// Whether this is the text `s` (no allocation).
    pub fn is(&self, s: &str) -> bool {
        match &self.0 {
            // Spelling the bytes out and comparing texts is cheaper than decoding `s`.
            Repr::Blake3(_) => *self.text() == *s,
            // Never 64 lowercase hex digits (those are held as bytes): comparing texts is enough.
            Repr::Text(t) => **t == *s,
        }
    }
}

/// Each byte's value as a lowercase hex digit, or 0xff: a table, so a `prev` is decoded without
/// a branch per digit (every record's `prev` is decoded once when read and compared once with
/// the head the chain check computed).
const NIBBLE: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// The bytes `s` spells if it is exactly 64 lowercase hex digits.
fn decode(s: &str) -> Option<[u8; 32]> {
    let s = s.as_bytes();
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    // A digit's value has no high bits; 0xff (not a digit) has.
    let mut bad = 0u8;
    for (o, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
        let (hi, lo) = (NIBBLE[pair[0] as usize], NIBBLE[pair[1] as usize]);
        bad |= hi | lo;
        *o = (hi << 4) | (lo & 15);
    }
    (bad & 0xf0 == 0).then_some(out)
}

/// A [`PrevHash`]'s text (see [`PrevHash::text`]).
pub enum PrevText<'a> {
    Hex([u8; 64]),
    Str(&'a str),
}

impl Deref for PrevText<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        match self {
            // Only hex digits were written: always UTF-8, so never the "".
            PrevText::Hex(b) => std::str::from_utf8(b).unwrap_or(""),
            PrevText::Str(s) => s,
        }
    }
}

impl From<&str> for PrevHash {
    fn from(s: &str) -> PrevHash {
        PrevHash(match decode(s) {
            Some(b) => Repr::Blake3(b),
            None => Repr::Text(s.into()),
        })
    }
}

impl From<String> for PrevHash {
    fn from(s: String) -> PrevHash {
        PrevHash(match decode(&s) {
            Some(b) => Repr::Blake3(b),
            None => Repr::Text(s.into_boxed_str()),
        })
    }
}

impl From<&String> for PrevHash {
    fn from(s: &String) -> PrevHash {
        PrevHash::from(s.as_str())
    }
}

impl Default for PrevHash {
    fn default() -> PrevHash {
        PrevHash(Repr::Text("".into()))
    }
}

impl PartialEq<str> for PrevHash {
    fn eq(&self, other: &str) -> bool {
        self.is(other)
    }
}

impl PartialEq<&str> for PrevHash {
    fn eq(&self, other: &&str) -> bool {
        self.is(other)
    }
}

impl PartialEq<String> for PrevHash {
    fn eq(&self, other: &String) -> bool {
        self.is(other)
    }
}

impl PartialEq<PrevHash> for str {
    fn eq(&self, other: &PrevHash) -> bool {
        other.is(self)
    }
}

impl PartialEq<PrevHash> for &str {
    fn eq(&self, other: &PrevHash) -> bool {
        other.is(self)
    }
}

impl PartialEq<PrevHash> for String {
    fn eq(&self, other: &PrevHash) -> bool {
        other.is(self)
    }
}

impl fmt::Display for PrevHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text())
    }
}

/// As the text's own `Debug` (quoted), so a record's `{:?}` reads as it did with a `String`.
impl fmt::Debug for PrevHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.text(), f)
    }
}

impl Serialize for PrevHash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text())
    }
}

/// From any string (no `String` is made for a hash).
impl<'de> Deserialize<'de> for PrevHash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<PrevHash, D::Error> {
        struct Visit;
        impl serde::de::Visitor<'_> for Visit {
            type Value = PrevHash;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<PrevHash, E> {
                Ok(PrevHash::from(s))
            }
            fn visit_string<E: serde::de::Error>(self, s: String) -> Result<PrevHash, E> {
                Ok(PrevHash::from(s))
            }
        }
        d.deserialize_str(Visit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_blake3_hex_is_held_as_bytes() {
        let h = crate::domain::event::line_hash(b"a line");
        let p = PrevHash::from(h.as_str());
        assert_eq!(
            p.bytes().map(|b| b.to_vec()),
            Some(blake3::hash(b"a line").as_bytes().to_vec())
        );
        assert_eq!(&*p.text(), h);
        assert!(p == h);
        assert!(h == p);
        assert_eq!(format!("{p:?}"), format!("{h:?}"));
        for other in [
            h.to_uppercase(),
            h[1..].to_string(),
            format!("{h}0"),
            String::new(),
            "p".into(),
        ] {
            let q = PrevHash::from(other.as_str());
            assert!(q.bytes().is_none(), "{other}");
            assert_eq!(&*q.text(), other);
            assert!(q != p && p != other && q == other);
        }
    }

    fn texts() -> impl Strategy<Value = String> {
        prop_oneof![
            "[0-9a-f]{64}",
            "[0-9a-fA-F]{63,65}",
            any::<String>(),
            "[0-9a-f]{64}".prop_map(|s| format!("{}G", &s[1..])),
        ]
    }

    proptest! {
        /// Any text reads back, serialises and compares exactly as the text itself.
        #[test]
        fn any_text_round_trips_and_compares_as_text(a in texts(), b in texts(), same in any::<bool>()) {
            let b = if same { a.clone() } else { b };
            let (pa, pb) = (PrevHash::from(a.as_str()), PrevHash::from(b.clone()));
            prop_assert_eq!(&*pa.text(), a.as_str());
            prop_assert_eq!(pa.to_string(), a.clone());
            prop_assert_eq!(pa == pb, a == b);
            prop_assert_eq!(pa == b, a == b);
            prop_assert_eq!(b == pa, a == b);
            prop_assert_eq!(ron::to_string(&pa).ok(), ron::to_string(&a).ok());
            prop_assert_eq!(serde_json::to_string(&pa).ok(), serde_json::to_string(&a).ok());
            let back: PrevHash = ron::from_str(&ron::to_string(&a).unwrap_or_default()).unwrap_or_default();
            prop_assert_eq!(&*back.text(), a.as_str());
            prop_assert_eq!(format!("{pa:?}"), format!("{a:?}"));
        }
    }
}
