//! `warroom import`: bulk timeline entries on stdin — JSON lines (`--format jsonl`, the default),
//! a Slack channel export (`slack`) or CSV (`csv`) — written as one batch: one lock, one write,
//! one sync. The original time of each entry is kept as `occurred`, read by the same time rules
//! as `--occurred`. Good entries are written even when others are rejected; any rejected entry
//! makes the command fail (exit 1) and names its line (or message) and why.

pub mod csv;
pub mod slack;

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
        let body: Body = Note { text, tags: self.tags }.into();
        // The writer's own check, entry by entry: one bad tag must not refuse the whole import.
        crate::domain::event::check_draft(&body, self.occurred)?;
        Ok(Draft::new(body).at(self.occurred))
    }
}

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

/// `imported 8 of 10 lines into ID; line 3: why; line 7: why`.
fn summary(written: usize, lines: usize, id: &str, rejected: &[(usize, String)]) -> String {
    let mut msg = format!("imported {written} of {lines} lines into {id}");
    for (n, why) in rejected.iter().take(LISTED_REJECTS) {
        msg.push_str(&format!("; line {n}: {why}"));
    }
    if rejected.len() > LISTED_REJECTS {
        msg.push_str(&format!(
            "; and {} more rejected lines",
            rejected.len() - LISTED_REJECTS
        ));
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

pub fn import(g: &Global, wanted: &str, format: super::ImportFormat) -> Result<()> {
    let ctx = Ctx::new(g)?;
    let id = ctx.store.resolve(wanted)?;
    let identity = ctx.identity(g)?;
    let now = now_ms();
    let mut drafts = Vec::new();
    let mut rejected: Vec<(usize, String)> = Vec::new();
    let mut lines = 0;
    let mut take = |n: usize, r: std::result::Result<Option<Draft>, String>| match r {
        Ok(None) => {}
        Ok(Some(draft)) => {
            lines += 1;
            drafts.push(draft);
        }
        Err(why) => {
            lines += 1;
            rejected.push((n, why));
        }
    };
    match format {
        super::ImportFormat::Jsonl => {
            for (i, line) in std::io::stdin().lock().split(b'\n').enumerate() {
                take(i + 1, read_line(&line?, now, &ctx.zone));
            }
        }
        super::ImportFormat::Slack => {
            let entries = slack::read(&read_all()?, now).map_err(Fail::new)?;
            for (n, e) in entries {
                take(n, e.and_then(|e| e.map(Entry::draft).transpose()));
            }
        }
        super::ImportFormat::Csv => {
            let entries = csv::read(&read_all()?, now, &ctx.zone).map_err(Fail::new)?;
            for (n, e) in entries {
                take(n, e.and_then(|e| e.map(Entry::draft).transpose()));
            }
        }
    }
    let count = drafts.len();
    if count > 0 {
        LogWriter::new(&ctx.store, &id, &identity)
            .append(drafts, now_ms)
            .map_err(|e| Fail::new(format!("nothing imported: {e}")))?;
        super::write::propose_discovery(&ctx, &id);
    }
    if !rejected.is_empty() {
        return Err(Fail::new(summary(count, lines, &id, &rejected)));
    }
    outln!(
        "imported {count} entr{} into {id}",
        if count == 1 { "y" } else { "ies" }
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
            summary(8, 10, "inc", &rejected),
            "imported 8 of 10 lines into inc; line 3: empty text; line 7: not UTF-8"
        );
        let many: Vec<(usize, String)> = (1..=25).map(|n| (n, "x".to_string())).collect();
        assert!(summary(0, 25, "inc", &many).ends_with("; line 20: x; and 5 more rejected lines"));
    }
}
