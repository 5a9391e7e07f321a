//! A note's text: held in memory, or left in its log and named by where its line is.
//!
//! Notes are the bulk of a long incident (alert streams, imported chat), and their text is most
//! of what a record costs to hold: ≈ 96 of ≈ 300 bytes a record at 1M records. The fold never
//! reads it (a note counts, and its tags say whether it is an alert entry), so a reader that
//! will not show texts (`show`, `list`, the board) leaves them in the log. What it keeps is the
//! line's place and the first 8 bytes of the text's BLAKE3 hash: enough to read the text back,
//! to know that the text there is still the one that was read (`store::note_text`), and to
//! judge two versions of a record by their texts as a reader holding them does (an edited copy
//! of a note is told from an unchanged one wherever its line sits).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Where a note's line sits in its log (`events/<log>.ronl`), and which text it held. 16 bytes:
/// the place packs the line's offset (40 bits: logs up to 1 TiB) and length (24 bits; a line
/// is at most `event::MAX_LINE`), so that a note stays as small as a held one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TextAt {
    place: u64,
    /// The first 8 bytes of the BLAKE3 hash of the note's text ([`text_hash`]): read back, the
    /// text must hash to this or it was changed since it was read.
    hash: u64,
}

const LEN_BITS: u32 = 24;

impl TextAt {
    /// The place of a line of `len` bytes at `offset` whose note reads `text`; `None` past
    /// 1 TiB or for a line over 16 MiB (the text is then held).
    pub fn of_text(offset: u64, len: usize, text: &str) -> Option<TextAt> {
        TextAt::new(offset, len as u64, text_hash(text))
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

    /// The first 8 bytes of the text's hash ([`text_hash`]).
    pub fn hash(&self) -> u64 {
        self.hash
    }

    /// Whether `text` is the text this names (by hash; its place is the caller's to check).
    pub fn reads(&self, text: &str) -> bool {
        text_hash(text) == self.hash
    }
}

/// The first 8 bytes (little-endian) of the BLAKE3 hash of a note's text: what a text left in
/// its log is known and compared by.
pub fn text_hash(text: &str) -> u64 {
    let mut first = [0u8; 8];
    first.copy_from_slice(&blake3::hash(text.as_bytes()).as_bytes()[..8]);
    u64::from_le_bytes(first)
}

/// What a note whose text was left in its log shows where its text was expected.
pub const NOT_READ: &str = "[text not read from the log]";

/// A note's text (see the module docs). Written and parsed as its text when held; a text left
/// in the log is never written (serialising it is an error: read it back first). Compared by
/// the text, wherever it is: a text left in the log by the hash it had when read (so two
/// versions of a record are judged alike by a reader holding texts and by one leaving them).
#[derive(Debug, Clone)]
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

impl PartialEq for NoteText {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (NoteText::Held(a), NoteText::Held(b)) => a == b,
            (NoteText::InLog(a), NoteText::InLog(b)) => a.hash == b.hash,
            (NoteText::Held(t), NoteText::InLog(at)) | (NoteText::InLog(at), NoteText::Held(t)) => at.reads(t),
        }
    }
}

impl Eq for NoteText {}

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
    fn a_place_names_only_its_own_text() {
        let at = TextAt::of_text(100, 57, "disk full").expect("fits");
        assert_eq!((at.offset(), at.len()), (100, 57));
        assert!(at.reads("disk full"));
        assert!(!at.reads("disk fine"));
        assert!(!at.reads("disk ful"));
    }

    #[test]
    fn a_place_past_what_it_can_hold_is_none() {
        assert!(TextAt::of_text((1 << 40) - 1, (1 << 24) - 1, "x").is_some());
        assert!(TextAt::of_text(1 << 40, 1, "x").is_none());
        assert!(TextAt::of_text(0, 1 << 24, "x").is_none());
    }

    /// Two versions of a note are the same when their texts are, held or left in the log at
    /// any place: a reader leaving texts judges an edit as one holding them does.
    #[test]
    fn texts_compare_by_what_they_read_wherever_they_are() {
        let held = NoteText::from("disk full");
        let here = NoteText::InLog(TextAt::of_text(0, 60, "disk full").expect("fits"));
        let there = NoteText::InLog(TextAt::of_text(900, 61, "disk full").expect("fits"));
        let edited = NoteText::InLog(TextAt::of_text(0, 60, "disk fulk").expect("fits"));
        assert_eq!(held, here);
        assert_eq!(here, held);
        assert_eq!(here, there);
        assert_ne!(here, edited);
        assert_ne!(held, edited);
        assert_ne!(held, NoteText::from("disk fulk"));
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
