//! `warroom import`: bulk timeline entries on stdin — JSON lines (`--format jsonl`, the default),
//! a Slack channel export (`slack`) or CSV (`csv`) — written in parts of [`CHUNK`] entries, each
//! one append (one lock, one write, one sync), so a JSON-lines import of any length runs in
//! bounded memory. The original time of each entry is kept as `occurred`, read by the same time
//! rules as `--occurred`. Good entries are written even when others are rejected; any rejected
//! entry makes the command fail (exit 1) and names its line (or message) and why.
//!
//! Re-running an import is safe: an entry this writer's log already holds (same text, tags and
//! `occurred`, counted, so an export's own repeated lines are kept) is skipped. So after a
//! failure half-way (a full disk, a read error), the same command again writes only the rest.

pub mod csv;
pub mod slack;

use std::collections::HashMap;
use std::io::{BufRead, Read};

use serde::Deserialize;

use super::context::{now_ms, Ctx};
use super::{Fail, Global, Result};
use crate::domain::event::{Body, Note, MAX_LINE};
use crate::domain::input::normalise_text;
use crate::domain::time::{bare_number_error, parse_occurred, to_datetime, Millis, Zone};
use crate::store::writer::{Draft, LogWriter};

/// The largest Slack or CSV export read from stdin.
const MAX_INPUT: u64 = 256 * 1024 * 1024;

/// An entry (or a skipped row, or why it is refused) with its line or message number.
pub type Numbered = (usize, std::result::Result<Option<Entry>, String>);

/// One entry from an export, before it becomes a note.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub text: String,
    pub author: Option<String>,
    pub occurred: Option<Millis>,
    pub tags: Vec<String>,
}

impl Entry {
    /// The note: `author: text`, held to the record's limits (so one bad entry never fails the
    /// whole batch at the writer).
    pub fn draft(self) -> std::result::Result<Draft, String> {
        let text = match self.author {
            Some(a) => format!("{}: {}", a.trim(), self.text),
            None => self.text,
        };
        let body: Body = Note {
            text: text.into(),
            tags: self.tags.into(),
        }
        .into();
        // The writer's own check, entry by entry: one bad tag must not refuse the whole import.
        crate::domain::event::check_draft(&body, self.occurred)?;
        Ok(Draft::new(body).at(self.occurred))
    }
}

/// Entries per append: one sync each, and what is held in memory at once.
const CHUNK: usize = 10_000;

/// How many rejected lines the failure message lists before summing up the rest.
const LISTED_REJECTS: usize = 20;

/// `occurred` as found in the line: a number is kept only to say why it is refused.
#[derive(Deserialize)]
#[serde(untagged)]
enum Occurred {
    Number(serde_json::Number),
    Text(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    text: String,
    #[serde(default)]
    occurred: Option<Occurred>,
    #[serde(default)]
    tags: Vec<String>,
}

/// One stdin line as a draft note, or why it is refused. `Ok(None)` for a blank line.
fn read_line(raw: &[u8], now: Millis, zone: &Zone) -> std::result::Result<Option<Draft>, String> {
    if raw.len() > MAX_LINE {
        return Err(format!("over {MAX_LINE} bytes"));
    }
    let text = std::str::from_utf8(raw).map_err(|_| "not UTF-8".to_string())?;
    // A BOM (first line) and a CR before the newline come from Windows tools; neither is data.
    let text = normalise_text(text);
    let text = text.trim_end_matches('\r');
    if text.trim().is_empty() {
        return Ok(None);
    }
    let entry: Line = serde_json::from_str(text).map_err(|e| e.to_string())?;
    if entry.text.trim().is_empty() {
        return Err("empty text".into());
    }
    let occurred = match entry.occurred {
        None => None,
        Some(Occurred::Number(n)) => return Err(format!("occurred: {}", bare_number_error(&n.to_string()))),
        Some(Occurred::Text(t)) => {
            Some(parse_occurred(&t, to_datetime(now), zone).map_err(|e| format!("occurred: {e}"))?)
        }
    };
    Entry {
        text: entry.text,
        author: None,
        occurred,
        tags: entry.tags,
    }
    .draft()
    .map(Some)
}

/// `imported 8 of 10 lines into ID; line 3: why; line 7: why`: `rejected` lists the first
/// `LISTED_REJECTS` of `rejects`.
fn summary(written: usize, lines: usize, id: &str, rejected: &[(usize, String)], rejects: usize) -> String {
    let mut msg = format!("imported {written} of {lines} lines into {id}");
    for (n, why) in rejected.iter().take(LISTED_REJECTS) {
        msg.push_str(&format!("; line {n}: {why}"));
    }
    let listed = rejected.len().min(LISTED_REJECTS);
    if rejects > listed {
        msg.push_str(&format!("; and {} more rejected lines", rejects - listed));
    }
    msg
}

/// Read a whole export from stdin (Slack and CSV are not line-based).
fn read_all() -> Result<String> {
    let mut bytes = Vec::new();
    std::io::stdin().lock().take(MAX_INPUT + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_INPUT {
        return Err(Fail::new(format!(
            "the export is larger than {MAX_INPUT} bytes; split it"
        )));
    }
    String::from_utf8(bytes).map_err(|_| Fail::new("the export is not UTF-8"))
}

/// What identifies an imported entry in the log, to skip it on a re-run: its text, tags and
/// `occurred` (a 128-bit hash: 16 bytes a note held while importing).
fn entry_key(text: &str, tags: &[crate::domain::Name], occurred: Option<Millis>) -> u128 {
    let mut h = blake3::Hasher::new();
    h.update(text.as_bytes());
    for t in tags {
        h.update(b"\x00");
        h.update(t.as_bytes());
    }
    h.update(b"\x01");
    h.update(&occurred.map_or(i64::MIN, |t| t).to_le_bytes());
    let mut k = [0u8; 16];
    k.copy_from_slice(&h.finalize().as_bytes()[..16]);
    u128::from_le_bytes(k)
}

fn draft_key(d: &Draft) -> Option<u128> {
    match &d.body {
        Body::Note(n) => Some(entry_key(n.text.shown(), &n.tags, d.occurred)),
        _ => None,
    }
}

/// The notes this writer's log already holds, by key and count: what an earlier run of the same
/// import wrote is skipped. Read line by line; a line that does not parse is left to the readers.
fn already_written(path: &std::path::Path) -> Result<HashMap<u128, u32>> {
    let mut seen: HashMap<u128, u32> = HashMap::new();
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(seen),
        Err(e) => {
            return Err(Fail::new(format!(
                "cannot read {}: {e}; nothing imported",
                path.display()
            )))
        }
    };
    let mut lines = std::io::BufReader::new(file);
    let mut line = String::new();
    loop {
        line.clear();
        match lines.read_line(&mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                return Err(Fail::new(format!(
                    "cannot read {}: {e}; nothing imported",
                    path.display()
                )));
            }
        }
        // Only notes can be imported entries: skip the others without parsing them.
        if !line.contains("Note") {
            continue;
        }
        if let Ok(e) = crate::domain::event::parse(line.trim_end()) {
            if let Body::Note(n) = &e.body {
                *seen
                    .entry(entry_key(n.text.shown(), &n.tags, e.occurred.get()))
                    .or_default() += 1;
            }
        }
    }
    Ok(seen)
}

/// The incident's discovery time as the fold has it — the last `DiscoverySet` in merge order,
/// else the declaration's time — read line by line, parsing only those records (the incident is
/// not folded: an import of a million lines must not hold them all). `None` when unknown.
fn discovery_time(store: &crate::store::Store, id: &str) -> Option<Millis> {
    let dir = store.incident_dir(id).join("events");
    let mut declared = None;
    let mut set: Option<((Millis, String, u64), Millis)> = None;
    for log in std::fs::read_dir(&dir).ok()?.flatten() {
        let name = log.file_name().to_string_lossy().trim_end_matches(".ronl").to_string();
        let file = std::fs::File::open(log.path()).ok()?;
        for line in std::io::BufReader::new(file).split(b'\n') {
            let line = line.ok()?;
            let Ok(line) = std::str::from_utf8(&line) else { continue };
            if !(line.contains("Declared") || line.contains("DiscoverySet")) {
                continue;
            }
            match crate::domain::event::parse(line) {
                Ok(e) => match &e.body {
                    Body::Declared(_) => declared = Some(e.when()),
                    Body::DiscoverySet(d) => {
                        let key = (e.at, name.clone(), e.seq);
                        if set.as_ref().is_none_or(|(k, _)| key > *k) {
                            set = Some((key, d.discovered));
                        }
                    }
                    _ => {}
                },
                Err(_) => continue,
            }
        }
    }
    set.map(|(_, t)| t).or(declared)
}

/// After writing entries dated before discovery: say so, and what the commander can do (as a
/// backdated note does), about the earliest entry written.
fn propose_discovery(store: &crate::store::Store, id: &str, earliest: Millis, by: &str) {
    let Some(discovered) = discovery_time(store, id) else {
        return;
    };
    if earliest >= discovered {
        return;
    }
    let n = crate::domain::deadline::DiscoveryNudge {
        evidence: earliest,
        record: format!("note by {}", crate::domain::identity::person_of(by)),
        record_id: String::new(),
        discovered,
        moves: Vec::new(),
    };
    let (e, d) = (
        crate::domain::deadline::short_time(n.evidence, n.discovered),
        crate::domain::deadline::short_time(n.discovered, n.evidence),
    );
    eprintln!(
        "earliest imported entry {e} ({}) is before discovery {d} — the commander can set it: warroom discovery {id} {} --reason \"{}\"",
        n.record,
        crate::domain::time::format_utc(n.evidence),
        n.reason().replace('"', "'")
    );
}

/// Writes entries in parts and keeps the count of what is acknowledged by the disk.
struct Batches<'a> {
    writer: LogWriter<'a>,
    pending: Vec<Draft>,
    /// Entries the log already held (an earlier run), left to skip.
    seen: HashMap<u128, u32>,
    written: usize,
    skipped: usize,
    /// The earliest `occurred` among the entries written.
    earliest: Option<Millis>,
}

impl Batches<'_> {
    fn push(&mut self, draft: Draft) -> std::result::Result<(), String> {
        if let Some(k) = draft_key(&draft) {
            if let Some(n) = self.seen.get_mut(&k).filter(|n| **n > 0) {
                *n -= 1;
                self.skipped += 1;
                return Ok(());
            }
        }
        if let Some(t) = draft.occurred {
            self.earliest = Some(self.earliest.map_or(t, |e| e.min(t)));
        }
        self.pending.push(draft);
        if self.pending.len() >= CHUNK {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> std::result::Result<(), String> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let part = std::mem::take(&mut self.pending);
        let n = part.len();
        self.writer.append(part, now_ms).map_err(|e| e.to_string())?;
        self.written += n;
        Ok(())
    }
}

/// One line of at most `MAX_LINE` bytes (and its newline) into `buf`, the rest of a longer line
/// skipped, so a line without an end never fills memory. `Ok(false)` at the end of the input.
fn next_line(input: &mut impl BufRead, buf: &mut Vec<u8>) -> std::io::Result<bool> {
    buf.clear();
    let limit = MAX_LINE as u64 + 2;
    let n = input.by_ref().take(limit).read_until(b'\n', buf)?;
    if n == 0 {
        return Ok(false);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
    } else if n as u64 == limit {
        // Too long: drop the rest of it (the line is refused as over the limit).
        let mut rest = Vec::new();
        loop {
            rest.clear();
            let m = input.by_ref().take(64 * 1024).read_until(b'\n', &mut rest)?;
            if m == 0 || rest.last() == Some(&b'\n') {
                break;
            }
        }
    }
    Ok(true)
}

pub fn import(g: &Global, wanted: &str, format: super::ImportFormat) -> Result<()> {
    let ctx = Ctx::new(g)?;
    let id = ctx.store.resolve(wanted)?;
    let identity = ctx.identity(g)?;
    let now = now_ms();
    let writer = LogWriter::new(&ctx.store, &id, &identity);
    let seen = already_written(&writer.log_path())?;
    let mut out = Batches {
        writer,
        pending: Vec::new(),
        seen,
        written: 0,
        skipped: 0,
        earliest: None,
    };
    // The first few rejects are listed; the rest only counted.
    let mut rejected: Vec<(usize, String)> = Vec::new();
    let mut rejects = 0;
    let mut lines = 0;
    let mut failed: Option<String> = None;
    let mut take = |out: &mut Batches, n: usize, r: std::result::Result<Option<Draft>, String>| match r {
        Ok(None) => Ok(()),
        Ok(Some(draft)) => {
            lines += 1;
            out.push(draft)
        }
        Err(why) => {
            lines += 1;
            rejects += 1;
            if rejected.len() < LISTED_REJECTS {
                rejected.push((n, why));
            }
            Ok(())
        }
    };
    match format {
        super::ImportFormat::Jsonl => {
            let stdin = std::io::stdin();
            let mut input = stdin.lock();
            let mut buf = Vec::new();
            let mut n = 0;
            loop {
                match next_line(&mut input, &mut buf) {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(e) => {
                        failed = Some(format!("cannot read stdin after line {n}: {e}"));
                        break;
                    }
                }
                n += 1;
                if let Err(e) = take(&mut out, n, read_line(&buf, now, &ctx.zone)) {
                    failed = Some(e);
                    break;
                }
            }
        }
        super::ImportFormat::Slack | super::ImportFormat::Csv => {
            let text = read_all()?;
            let entries = if matches!(format, super::ImportFormat::Slack) {
                slack::read(&text, now)
            } else {
                csv::read(&text, now, &ctx.zone)
            }
            .map_err(Fail::new)?;
            drop(text);
            for (n, e) in entries {
                if let Err(e) = take(&mut out, n, e.and_then(|e| e.map(Entry::draft).transpose())) {
                    failed = Some(e);
                    break;
                }
            }
        }
    }
    if failed.is_none() {
        if let Err(e) = out.flush() {
            failed = Some(e);
        }
    }
    let (written, skipped) = (out.written, out.skipped);
    if let Some(why) = failed {
        // Exactly what is on disk, and that the same command again is safe.
        let skipped_said = if skipped > 0 {
            format!(" ({skipped} already there, skipped)")
        } else {
            String::new()
        };
        return Err(Fail::new(format!(
            "{why}; {written} entr{} imported into {id} before it stopped{skipped_said}; \
             running the same import again writes only the rest (entries already in the log are skipped)",
            if written == 1 { "y was" } else { "ies were" }
        )));
    }
    if let Some(t) = out.earliest {
        propose_discovery(&ctx.store, &id, t, &identity.writer.to_string());
    }
    let skipped_said = if skipped > 0 {
        format!(" ({skipped} already there, skipped)")
    } else {
        String::new()
    };
    if rejects > 0 {
        let msg = summary(written, lines, &id, &rejected, rejects);
        return Err(Fail::new(if skipped > 0 {
            format!("{msg}; {skipped} already there, skipped")
        } else {
            msg
        }));
    }
    outln!(
        "imported {written} entr{} into {id}{skipped_said}",
        if written == 1 { "y" } else { "ies" }
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_from_windows_tools_are_read() {
        let now = 1_795_000_000_000;
        let cases: &[&[u8]] = &[
            b"\xef\xbb\xbf{\"text\":\"with a BOM\"}",
            b"{\"text\":\"with CRLF\"}\r",
            b"\xef\xbb\xbf{\"text\":\"both\",\"occurred\":\"-5m\"}\r",
        ];
        for raw in cases {
            assert!(matches!(read_line(raw, now, &Zone::Utc), Ok(Some(_))), "{raw:?}");
        }
        assert!(matches!(read_line(b"\r", now, &Zone::Utc), Ok(None)));
    }

    #[test]
    fn refusals_say_why() {
        let now = 1_795_000_000_000;
        let cases: &[(&[u8], &str)] = &[
            (
                br#"{"text":"x","occurred":1732000000}"#,
                "occurred: `1732000000` is a bare number",
            ),
            (
                br#"{"text":"x","occurred":"1900-01-01T00:00:00Z"}"#,
                "occurred: 1900-01-01T00:00:00Z is before 2000",
            ),
            (br#"{"text":"  "}"#, "empty text"),
            (b"\xff", "not UTF-8"),
            (br#"{"txt":"x"}"#, "unknown field `txt`"),
        ];
        for (raw, want) in cases {
            match read_line(raw, now, &Zone::Utc) {
                Err(why) => assert!(why.starts_with(want), "{why}"),
                Ok(_) => panic!("accepted {raw:?}"),
            }
        }
    }

    #[test]
    fn summary_lists_lines_and_says_what_was_written() {
        let rejected = vec![(3, "empty text".to_string()), (7, "not UTF-8".to_string())];
        assert_eq!(
            summary(8, 10, "inc", &rejected, 2),
            "imported 8 of 10 lines into inc; line 3: empty text; line 7: not UTF-8"
        );
        let many: Vec<(usize, String)> = (1..=25).map(|n| (n, "x".to_string())).collect();
        assert!(summary(0, 25, "inc", &many[..20], 25).ends_with("; line 20: x; and 5 more rejected lines"));
    }
}
