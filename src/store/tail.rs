//! Reading the end of a log without reading its history: write verbs look only at the last line of
//! each log, so their cost does not grow with the incident.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use crate::domain::event::{self, Event, MAX_LINE};

const CHUNK: usize = 16 * 1024;
/// How far back from the end a tail read may look.
const SCAN_LIMIT: u64 = 4 * (MAX_LINE as u64 + 1);

/// Lines of a file from the end backwards, each without its newline.
pub(crate) struct RevLines<'a> {
    file: &'a File,
    /// Offset just past the newline that ends the next line to yield.
    end: u64,
    /// Never read before this offset.
    floor: u64,
}

impl<'a> RevLines<'a> {
    /// Lines ending at or before `end` (just past a newline), never reading before `floor`.
    pub(crate) fn new(file: &'a File, end: u64, floor: u64) -> RevLines<'a> {
        RevLines { file, end, floor }
    }

    /// Yields `(start offset, bytes)`; a line longer than `MAX_LINE` is yielded empty.
    pub(crate) fn next_line(&mut self) -> io::Result<Option<(u64, Vec<u8>)>> {
        if self.end <= self.floor {
            return Ok(None);
        }
        let line_end = self.end - 1; // the newline
        let mut start = line_end;
        let mut buf: Vec<u8> = Vec::new();
        let mut too_long = false;
        loop {
            if start <= self.floor {
                break;
            }
            let n = ((start - self.floor) as usize).min(CHUNK);
            let mut chunk = vec![0u8; n];
            self.file.read_exact_at(&mut chunk, start - n as u64)?;
            if let Some(i) = chunk.iter().rposition(|&b| b == b'\n') {
                if !too_long {
                    buf.splice(0..0, chunk[i + 1..].iter().copied());
                }
                start = start - n as u64 + i as u64 + 1;
                break;
            }
            if !too_long {
                buf.splice(0..0, chunk.iter().copied());
                if buf.len() > MAX_LINE {
                    too_long = true;
                    buf.clear();
                }
            }
            start -= n as u64;
        }
        self.end = start;
        Ok(Some((start, if too_long { Vec::new() } else { buf })))
    }
}

/// What a writer needs to know about the end of a log.
#[derive(Debug, Default, Clone)]
pub struct Tail {
    pub len: u64,
    /// Offset just past the last newline: where the next record goes.
    pub complete_end: u64,
    /// Bytes after the last newline (a write torn by a crash).
    pub torn_bytes: u64,
    /// BLAKE3 of the last complete line (the next record's `prev`), if any.
    pub last_hash: Option<String>,
    /// The last record that parses (scanning back over unreadable lines).
    pub last_event: Option<Event>,
    /// 1-based line number of `last_event`, counted from the end (1 = last line).
    pub lines_back: usize,
    /// BLAKE3 of `last_event`'s line.
    pub last_event_hash: Option<String>,
}

/// How many unreadable lines to step over when looking for the last good record.
const MAX_SCAN_BACK: usize = 64;

/// The end of a log; records not by `writer` (a line planted in someone else's log) are stepped
/// over like unreadable ones.
pub fn read_tail(file: &File, writer: &str) -> io::Result<Tail> {
    let len = file.metadata()?.len();
    let mut tail = Tail { len, ..Tail::default() };
    if len == 0 {
        return Ok(tail);
    }
    // Find the last newline, looking back no further than a few records' worth: a huge or
    // sparse file planted in the folder must not make every write read gigabytes.
    let floor = len.saturating_sub(SCAN_LIMIT);
    let mut pos = len;
    let mut complete_end = floor;
    while pos > floor {
        let n = ((pos - floor) as usize).min(CHUNK);
        let mut chunk = vec![0u8; n];
        file.read_exact_at(&mut chunk, pos - n as u64)?;
        if let Some(i) = chunk.iter().rposition(|&b| b == b'\n') {
            complete_end = pos - n as u64 + i as u64 + 1;
            break;
        }
        pos -= n as u64;
    }
    if complete_end == floor && floor > 0 {
        // No newline near the end: not a log this writer can extend.
        return Err(io::Error::other(
            "no record boundary near the end of the file (not a warroom log?)",
        ));
    }
    tail.complete_end = complete_end;
    tail.torn_bytes = len - complete_end;
    let mut lines = RevLines {
        file,
        end: complete_end,
        floor,
    };
    let mut back = 0;
    while let Some((_, bytes)) = lines.next_line()? {
        back += 1;
        if back == 1 {
            tail.last_hash = Some(event::line_hash(&bytes));
        }
        let parsed = std::str::from_utf8(&bytes).ok().and_then(|s| event::parse(s).ok());
        if let Some(e) = parsed.filter(|e| e.by() == writer) {
            tail.last_event = Some(e);
            tail.last_event_hash = Some(event::line_hash(&bytes));
            tail.lines_back = back;
            break;
        }
        if back >= MAX_SCAN_BACK {
            break;
        }
    }
    Ok(tail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn finds_last_line_and_torn_bytes() {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(b"garbage one\nsecond line\npartial").unwrap();
        let t = read_tail(&f, "a@b").unwrap();
        assert_eq!(t.complete_end, 24);
        assert_eq!(t.torn_bytes, 7);
        assert_eq!(t.last_hash.unwrap(), event::line_hash(b"second line"));
        assert!(t.last_event.is_none());
    }

    #[test]
    fn long_lines_across_chunks() {
        let mut f = tempfile::tempfile().unwrap();
        let long = "x".repeat(CHUNK * 3 + 5);
        writeln!(f, "a\n{long}").unwrap();
        let t = read_tail(&f, "a@b").unwrap();
        assert_eq!(t.last_hash.unwrap(), event::line_hash(long.as_bytes()));
        let mut lines = RevLines {
            file: &f,
            end: t.complete_end,
            floor: 0,
        };
        assert_eq!(lines.next_line().unwrap().unwrap().1.len(), long.len());
        assert_eq!(lines.next_line().unwrap().unwrap(), (0, b"a".to_vec()));
        assert!(lines.next_line().unwrap().is_none());
    }
}
