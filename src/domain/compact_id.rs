//! A record id held without an allocation when it is a canonical ULID (as every writer makes
//! it). The fold remembers the id of each record it keeps (to tell a repeat from an edit and to
//! check what a correction names); a `String` copy of each was one more allocation per record.

use std::fmt;

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
}
