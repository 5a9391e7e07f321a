//! Reading back a note's text left in its log (see `domain::note_text`): the one line at the
//! place the reader noted, parsed, its text taken if it hashes as the text the reader noted.
//!
//! IO: never from render or the fold. The console asks its worker; a verb reads here itself.

use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::domain::event::{self, Body, TextAt, MAX_LINE};

use super::{fsutil, writer_of_log, EVENTS_DIR, LOG_EXT};

/// Why a note's text could not be read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// The log cannot be opened or read there (gone, cut back, a mount gone).
    #[error("its log cannot be read: {0}")]
    Unreadable(String),
    /// The bytes there are not a note with the text that was read: the log was changed in
    /// place since (the reader marks it on its next pass).
    #[error("its line changed in the log since it was read")]
    Changed,
}

/// The text of the note whose line is at `at` in log `log` (`name@host.install`) of the
/// incident in `incident_dir`.
///
/// Errors: [`TextError::Unreadable`] for a log that cannot be opened (or is not a plain file,
/// or names no writer) or read that far; [`TextError::Changed`] when the bytes there are not a
/// note whose text hashes as the text read did.
pub fn read_back(incident_dir: &Path, log: &str, at: TextAt) -> Result<Box<str>, TextError> {
    let name = format!("{log}{LOG_EXT}");
    if writer_of_log(&name).is_none() {
        return Err(TextError::Unreadable(format!("`{log}` names no writer's log")));
    }
    if at.len() > MAX_LINE as u64 {
        return Err(TextError::Changed);
    }
    let file = fsutil::open_read(&incident_dir.join(EVENTS_DIR).join(&name))
        .map_err(|e| TextError::Unreadable(e.to_string()))?;
    let mut line = vec![0u8; at.len() as usize];
    file.read_exact_at(&mut line, at.offset())
        .map_err(|e| TextError::Unreadable(e.to_string()))?;
    let text = std::str::from_utf8(&line).map_err(|_| TextError::Changed)?;
    match event::parse(text).map(|e| e.body) {
        Ok(Body::Note(n)) => match n.text.held() {
            Some(t) if at.reads(t) => Ok(Box::from(t)),
            _ => Err(TextError::Changed),
        },
        _ => Err(TextError::Changed),
    }
}

/// Notes' texts handed on at a time by [`each_note_text`].
pub const TEXTS_PART: usize = 4096;

/// A note's seq in its log, the place of its line, and its text.
pub type PlacedText = (u64, TextAt, Box<str>);

/// Every note's text in the logs of the incident in `incident_dir`, with its seq and the place
/// of its line: handed to `part` in parts of at most [`TEXTS_PART`], log by log (`part(log,
/// texts)`). For putting back the texts a reader left in the logs (a search needs them all):
/// each is taken only where the record held is that very line (`IncidentState::hold_text`), so
/// a line here that the reader did not use (a forged copy, a line appended since) puts back
/// nothing. Lines that do not parse, and a last line without its newline, are passed over.
pub fn each_note_text(incident_dir: &Path, part: &mut dyn FnMut(&str, Vec<PlacedText>)) {
    use std::io::BufRead;
    let events = incident_dir.join(EVENTS_DIR);
    let mut names: Vec<String> = std::fs::read_dir(&events)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| writer_of_log(n).is_some())
        .collect();
    names.sort();
    for name in names {
        let Ok(file) = fsutil::open_read(&events.join(&name)) else {
            continue;
        };
        let log = name.trim_end_matches(LOG_EXT);
        let mut lines = std::io::BufReader::with_capacity(1 << 20, file);
        let mut texts = Vec::new();
        let mut line = Vec::new();
        let mut offset = 0u64;
        loop {
            line.clear();
            // At most a line's limit (and its newline) at a time: a longer line is passed over.
            let Ok(n) = std::io::Read::take(&mut lines, MAX_LINE as u64 + 1).read_until(b'\n', &mut line) else {
                break;
            };
            if n == 0 {
                break;
            }
            let start = offset;
            offset += n as u64;
            let Some(body) = line.strip_suffix(b"\n") else {
                if n > MAX_LINE {
                    // The rest of an over-long line: skip to its end.
                    let mut rest = Vec::new();
                    match lines.read_until(b'\n', &mut rest) {
                        Ok(m) => offset += m as u64,
                        Err(_) => break,
                    }
                    continue;
                }
                break; // a last line still being written
            };
            // Every line is parsed: a note's kind may be written with spaces or escapes that
            // the reader accepts, and a text passed over here would never be put back.
            let Ok(text) = std::str::from_utf8(body) else { continue };
            if let Ok(e) = event::parse(text) {
                if let Body::Note(n) = e.body {
                    if let Some(t) = n.text.held() {
                        if let Some(at) = TextAt::of_text(start, body.len(), t) {
                            texts.push((e.seq, at, Box::from(t)));
                        }
                    }
                }
            }
            if texts.len() >= TEXTS_PART {
                part(log, std::mem::take(&mut texts));
            }
        }
        if !texts.is_empty() {
            part(log, texts);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "alice@h1.abc";

    /// A log of notes with `texts`, chained as its writer writes it, in an incident folder;
    /// and where each line is.
    fn log_of(texts: &[&str]) -> (tempfile::TempDir, Vec<TextAt>) {
        let tmp = tempfile::tempdir().expect("tmp");
        let incident = tmp.path().file_name().expect("name").to_string_lossy().into_owned();
        std::fs::create_dir_all(tmp.path().join(EVENTS_DIR)).expect("events");
        let mut bytes = Vec::new();
        let mut places = Vec::new();
        let mut prev = event::genesis_hash(&incident, "alice@h1");
        for (i, text) in texts.iter().enumerate() {
            let seq = i as u64 + 1;
            let e = event::Event {
                id: format!("01JTEST{seq:019}").into(),
                at: 1_700_000_000_000 + seq as i64,
                wall: 1_700_000_000_000 + seq as i64,
                occurred: event::Occurred::NONE,
                log: event::Name::with_writer(LOG, "alice@h1".into()),
                seq,
                body: event::Note {
                    text: (*text).into(),
                    tags: Default::default(),
                }
                .into(),
            };
            let line = event::encode(&e, &prev.as_str().into()).expect("a valid note");
            places.push(TextAt::of_text(bytes.len() as u64, line.len(), text).expect("fits"));
            prev = event::line_hash(line.as_bytes());
            bytes.extend_from_slice(line.as_bytes());
            bytes.push(b'\n');
        }
        std::fs::write(tmp.path().join(EVENTS_DIR).join(format!("{LOG}{LOG_EXT}")), bytes).expect("log");
        (tmp, places)
    }

    #[test]
    fn a_text_is_read_back_from_its_line() {
        let (tmp, at) = log_of(&["first", "disk \"full\" ✓"]);
        assert_eq!(read_back(tmp.path(), LOG, at[1]).as_deref(), Ok("disk \"full\" ✓"));
        assert_eq!(read_back(tmp.path(), LOG, at[0]).as_deref(), Ok("first"));
    }

    /// An edit in place (same length or not), a log cut back or gone, a place in another log:
    /// never some other text.
    #[test]
    fn a_changed_line_or_a_missing_log_gives_no_text() {
        let (tmp, at) = log_of(&["disk full", "x"]);
        let path = tmp.path().join(EVENTS_DIR).join(format!("{LOG}{LOG_EXT}"));
        let bytes = std::fs::read(&path).expect("log");
        std::fs::write(
            &path,
            String::from_utf8(bytes.clone())
                .expect("utf8")
                .replace("disk full", "disk fine"),
        )
        .expect("edit");
        assert_eq!(read_back(tmp.path(), LOG, at[0]), Err(TextError::Changed));
        assert_eq!(read_back(tmp.path(), LOG, at[1]).as_deref(), Ok("x"));
        std::fs::write(&path, &bytes[..10]).expect("cut");
        assert!(matches!(
            read_back(tmp.path(), LOG, at[1]),
            Err(TextError::Unreadable(_))
        ));
        assert!(matches!(
            read_back(tmp.path(), "bob@h2.abc", at[0]),
            Err(TextError::Unreadable(_))
        ));
        assert!(matches!(
            read_back(tmp.path(), "../x", at[0]),
            Err(TextError::Unreadable(_))
        ));
        std::fs::remove_file(&path).expect("rm");
        assert!(matches!(
            read_back(tmp.path(), LOG, at[0]),
            Err(TextError::Unreadable(_))
        ));
    }

    /// Every note's text, with the place the reader noted for it: putting them back gives the
    /// state a reader holding texts has.
    #[test]
    fn every_text_put_back_gives_the_state_held() {
        use crate::domain::IncidentState;
        use crate::store::reader::IncidentReader;
        let texts: Vec<String> = (0..TEXTS_PART + 10).map(|i| format!("note {i}")).collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let (tmp, _) = log_of(&refs);
        let dir = tmp.path().to_path_buf();
        // A line still being written, and a stray file: passed over.
        let path = dir.join(EVENTS_DIR).join(format!("{LOG}{LOG_EXT}"));
        let mut bytes = std::fs::read(&path).expect("log");
        bytes.extend_from_slice(b"(v:1,id:\"x\",kind:\"Note\"");
        std::fs::write(&path, bytes).expect("append");
        std::fs::write(dir.join(EVENTS_DIR).join("notes.txt"), "kind:\"Note\"\n").expect("stray");
        let fold = |events: Vec<event::Event>| {
            let mut s = IncidentState::new("x");
            s.apply_all(events);
            s
        };
        let held = fold(IncidentReader::new(dir.clone()).poll(0).events);
        let mut lean = IncidentReader::new(dir.clone());
        lean.leave_texts_in_log();
        let mut state = fold(lean.poll(0).events);
        let records = |s: &IncidentState| s.events().cloned().collect::<Vec<_>>();
        // Records compare by their texts wherever those are: count the texts held.
        let held_texts = |s: &IncidentState| {
            s.events()
                .filter(|e| matches!(&e.body, Body::Note(n) if n.text.held().is_some()))
                .count()
        };
        assert_eq!(records(&state), records(&held));
        assert_eq!(held_texts(&state), 0);
        let (mut parts, mut put) = (0, 0);
        each_note_text(&dir, &mut |log, texts| {
            assert_eq!(log, LOG);
            assert!(texts.len() <= TEXTS_PART);
            parts += 1;
            for (seq, at, text) in texts {
                put += usize::from(state.hold_text(log, seq, at, text));
            }
        });
        assert_eq!((parts, put), (2, texts.len()));
        assert_eq!(held_texts(&state), texts.len());
        assert_eq!(records(&state), records(&held));
        assert_eq!(state.derived, held.derived);
    }

    /// A note line written with spaces (valid RON, which a reader accepts) is not passed over.
    #[test]
    fn a_note_written_with_spaces_is_read_too() {
        let (tmp, _) = log_of(&["one"]);
        let path = tmp.path().join(EVENTS_DIR).join(format!("{LOG}{LOG_EXT}"));
        let line = std::fs::read_to_string(&path)
            .expect("log")
            .replace("kind:\"Note\"", "kind: \"Note\"");
        std::fs::write(&path, &line).expect("rewrite");
        let mut got = Vec::new();
        each_note_text(tmp.path(), &mut |_, texts| got.extend(texts));
        assert_eq!(got.len(), 1);
        let body = line.trim_end().as_bytes();
        assert_eq!(got[0].1, TextAt::of_text(0, body.len(), "one").expect("fits"));
        assert_eq!(&*got[0].2, "one");
    }

    /// The reader leaves a note's text where its line is; reading it back gives the text the
    /// reader holding texts has (from the log, and from this host's cache of it).
    #[test]
    fn texts_left_by_the_reader_read_back_as_held() {
        use crate::store::reader::IncidentReader;
        let (tmp, _) = log_of(&["one", "two"]);
        let dir = tmp.path().to_path_buf();
        let held: Vec<_> = IncidentReader::new(dir.clone()).poll(0).events;
        let mut lean = IncidentReader::new(dir.clone());
        lean.leave_texts_in_log();
        let left = lean.poll(0).events;
        assert_eq!(held.len(), 2);
        assert_eq!(held.len(), left.len());
        for (h, l) in held.iter().zip(&left) {
            let (Body::Note(h), Body::Note(l)) = (&h.body, &l.body) else {
                panic!("notes");
            };
            let at = l.text.in_log().expect("left in the log");
            assert_eq!(read_back(&dir, LOG, at).as_deref().ok(), h.text.held());
        }
    }
}
