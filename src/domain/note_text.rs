//! A note's text: held in memory, or left in its log and named by where its line is.
//!
//! Notes are the bulk of a long incident (alert streams, imported chat), and their text is most
//! of what a record costs to hold: ≈ 96 of ≈ 300 bytes a record at 1M records. The fold never
//! reads it (a note counts, and its tags say whether it is an alert entry), so a reader that
//! will not show texts (`show`, `list`, the board) leaves them in the log. What it keeps is the
//! line's place and the first 8 bytes of its BLAKE3 hash: enough to read the text back and to
//! know that the line there is still the one that was read (`store::note_text`).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Where a note's line sits in its log (`events/<log>.ronl`), and which line it was. 16 bytes:
/// the place packs the line's offset (40 bits: logs up to 1 TiB) and length (24 bits; a line
/// is at most `event::MAX_LINE`), so that a note stays as small as a held one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TextAt {
    place: u64,
    /// The first 8 bytes of the line's BLAKE3 hash (the hash its chain names), little-endian:
    /// read back, the line must hash to this or it was changed since it was read.
    hash: u64,
}

const LEN_BITS: u32 = 24;

impl TextAt {
    /// The place of a line of `len` bytes at `offset` whose BLAKE3 hash is `digest`; `None`
    /// past 1 TiB or for a line over 16 MiB (the text is then held).
    pub fn of_line(offset: u64, len: usize, digest: &blake3::Hash) -> Option<TextAt> {
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest.as_bytes()[..8]);
        TextAt::new(offset, len as u64, u64::from_le_bytes(first))
    }

    /// From its parts as [`TextAt::offset`], [`TextAt::len`] and [`TextAt::hash`] give them.
    pub fn new(offset: u64, len: u64, hash: u64) -> Option<TextAt> {
        (offset < 1 << (64 - LEN_BITS) && len < 1 << LEN_BITS).then_some(TextAt {
            place: offset << LEN_BITS | len,
            hash,
        })
    }

    /// The line's first byte, from the start of the log file.
    pub fn offset(&self) -> u64 {
        self.place >> LEN_BITS
    }

    /// The line's length in bytes, without its newline.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> u64 {
        self.place & ((1 << LEN_BITS) - 1)
    }

    /// The first 8 bytes of the line's hash.
    pub fn hash(&self) -> u64 {
        self.hash
    }

    /// Whether `line` is the line this names (by hash and length; its place is the caller's
    /// to check).
    pub fn names(&self, line: &[u8]) -> bool {
        TextAt::of_line(self.offset(), line.len(), &blake3::hash(line)) == Some(*self)
    }
}

/// What a note whose text was left in its log shows where its text was expected.
pub const NOT_READ: &str = "[text not read from the log]";

/// A note's text (see the module docs). Written, parsed and compared as its text when held; a
/// text left in the log is never written (serialising it is an error: read it back first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoteText {
    Held(Box<str>),
    InLog(TextAt),
}

impl NoteText {
    /// The text, when it is held.
    pub fn held(&self) -> Option<&str> {
        match self {
            NoteText::Held(t) => Some(t),
            NoteText::InLog(_) => None,
        }
    }

    /// The text as shown where a text was expected to be held: a reader that leaves texts in
    /// the log is used only where none is shown, so [`NOT_READ`] there is a bug made visible,
    /// not a text lost.
    pub fn shown(&self) -> &str {
        self.held().unwrap_or(NOT_READ)
    }

    /// Where the text's line is, when it was left in the log.
    pub fn in_log(&self) -> Option<TextAt> {
        match self {
            NoteText::Held(_) => None,
            NoteText::InLog(at) => Some(*at),
        }
    }
}

impl Default for NoteText {
    fn default() -> Self {
        NoteText::Held(Box::default())
    }
}

impl From<&str> for NoteText {
    fn from(s: &str) -> Self {
        NoteText::Held(s.into())
    }
}

impl From<String> for NoteText {
    fn from(s: String) -> Self {
        NoteText::Held(s.into_boxed_str())
    }
}

impl From<Box<str>> for NoteText {
    fn from(s: Box<str>) -> Self {
        NoteText::Held(s)
    }
}

impl Serialize for NoteText {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            NoteText::Held(t) => s.serialize_str(t),
            NoteText::InLog(at) => Err(serde::ser::Error::custom(format!(
                "a note's text left in its log (line at byte {}) was not read back",
                at.offset()
            ))),
        }
    }
}

impl<'de> Deserialize<'de> for NoteText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Box::<str>::deserialize(d).map(NoteText::Held)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_place_names_only_its_own_line() {
        let line = br#"(v:1,id:"x",kind:"Note",body:(text:"disk full",tags:[]))"#;
        let at = TextAt::of_line(100, line.len(), &blake3::hash(line)).expect("fits");
        assert_eq!((at.offset(), at.len()), (100, line.len() as u64));
        assert!(at.names(line));
        assert!(!at.names(br#"(v:1,id:"x",kind:"Note",body:(text:"disk fine",tags:[]))"#));
        assert!(!at.names(&line[..line.len() - 1]));
    }

    #[test]
    fn a_place_past_what_it_can_hold_is_none() {
        let h = blake3::hash(b"x");
        assert!(TextAt::of_line((1 << 40) - 1, (1 << 24) - 1, &h).is_some());
        assert!(TextAt::of_line(1 << 40, 1, &h).is_none());
        assert!(TextAt::of_line(0, 1 << 24, &h).is_none());
    }

    #[test]
    fn a_text_left_in_the_log_is_never_written() {
        let at = NoteText::InLog(TextAt::new(7, 3, 1).expect("fits"));
        assert!(ron::to_string(&at).is_err());
        assert_eq!(ron::to_string(&NoteText::from("hi")).unwrap(), "\"hi\"");
        let back: NoteText = ron::from_str("\"hi\"").unwrap();
        assert_eq!(back.held(), Some("hi"));
    }
}
