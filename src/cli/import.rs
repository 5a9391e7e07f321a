//! `warroom import`: bulk timeline entries (e.g. a chat export) as JSON lines on stdin, written as
//! one batch: one lock, one write, one sync.

use std::io::BufRead;

use serde::Deserialize;

use super::context::{now_ms, Ctx};
use super::{Fail, Global, Result};
use crate::domain::event::{Note, MAX_LINE};
use crate::domain::time::{parse_occurred, to_datetime, Millis, FUTURE_SLACK_MS};
use crate::store::writer::{Draft, LogWriter};

#[derive(Deserialize)]
#[serde(untagged)]
enum Occurred {
    Millis(Millis),
    Text(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    text: String,
    #[serde(default)]
    occurred: Option<Occurred>,
    #[serde(default)]
    tags: Vec<String>,
}

pub fn import(g: &Global, wanted: &str) -> Result<()> {
    let ctx = Ctx::new(g)?;
    let id = ctx.store.resolve(wanted)?;
    let identity = ctx.identity(g)?;
    let now = now_ms();
    let mut drafts = Vec::new();
    let mut rejected = Vec::new();
    let stdin = std::io::stdin().lock();
    for (i, line) in stdin.split(b'\n').enumerate() {
        let n = i + 1;
        let line = line?;
        if line.len() > MAX_LINE {
            rejected.push(format!("line {n}: over {MAX_LINE} bytes"));
            continue;
        }
        let Ok(text) = std::str::from_utf8(&line) else {
            rejected.push(format!("line {n}: not UTF-8"));
            continue;
        };
        if text.trim().is_empty() {
            continue;
        }
        let entry: Entry = match serde_json::from_str(text) {
            Ok(e) => e,
            Err(e) => {
                rejected.push(format!("line {n}: {e}"));
                continue;
            }
        };
        if entry.text.trim().is_empty() {
            rejected.push(format!("line {n}: empty text"));
            continue;
        }
        let occurred = match entry.occurred {
            None => None,
            Some(Occurred::Millis(ms)) if ms - now > FUTURE_SLACK_MS => {
                rejected.push(format!("line {n}: occurred is in the future"));
                continue;
            }
            Some(Occurred::Millis(ms)) => Some(ms),
            Some(Occurred::Text(t)) => match parse_occurred(&t, to_datetime(now), &ctx.zone) {
                Ok(ms) => Some(ms),
                Err(e) => {
                    rejected.push(format!("line {n}: {e}"));
                    continue;
                }
            },
        };
        drafts.push(
            Draft::new(Note {
                text: entry.text,
                tags: entry.tags,
            })
            .at(occurred),
        );
    }
    let count = drafts.len();
    if count > 0 {
        LogWriter::new(&ctx.store, &id, &identity)
            .append(drafts, now_ms)
            .map_err(|e| Fail::new(format!("nothing imported: {e}")))?;
    }
    println!(
        "imported {count} entr{} into {id}",
        if count == 1 { "y" } else { "ies" }
    );
    if !rejected.is_empty() {
        eprintln!("rejected {} line(s):", rejected.len());
        for r in &rejected {
            eprintln!("  {r}");
        }
    }
    Ok(())
}
