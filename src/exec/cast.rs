//! asciicast v2 (<https://docs.asciinema.org/manual/asciicast/v2/>): a JSON header line, then one
//! `[seconds, "o", "text"]` line per chunk of output. Any asciicast player replays it; so does
//! `warroom replay`, which filters it first (a recording is untrusted: see
//! [`crate::domain::termtext`]).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

/// Writes a recording as output arrives.
pub struct Writer {
    out: Vec<u8>,
    /// Bytes of an incomplete UTF-8 character at the end of the last chunk.
    pending: Vec<u8>,
    recorded: usize,
}

impl Writer {
    pub fn new(width: u16, height: u16, command: &str, title: &str) -> Writer {
        let stamp = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let header = json!({
            "version": 2,
            "width": width,
            "height": height,
            "timestamp": stamp,
            "command": command,
            "title": title,
            "env": { "SHELL": "/bin/sh", "TERM": "xterm-256color" },
        });
        let mut out = header.to_string().into_bytes();
        out.push(b'\n');
        Writer {
            out,
            pending: Vec::new(),
            recorded: 0,
        }
    }

    /// Record a chunk of output at `at` (since the start), up to `limit` bytes in all; returns the
    /// chunk as text (invalid UTF-8 replaced), recorded or not.
    pub fn output(&mut self, at: Duration, chunk: &[u8], limit: usize) -> String {
        self.pending.extend_from_slice(chunk);
        let mut text = String::new();
        let mut rest: &[u8] = &self.pending;
        loop {
            match std::str::from_utf8(rest) {
                Ok(s) => {
                    text.push_str(s);
                    rest = &[];
                    break;
                }
                Err(e) => {
                    let (good, bad) = rest.split_at(e.valid_up_to());
                    text.push_str(std::str::from_utf8(good).unwrap_or_default());
                    match e.error_len() {
                        Some(n) => {
                            text.push('\u{fffd}');
                            rest = &bad[n..];
                        }
                        // An incomplete character: the next chunk finishes it.
                        None => {
                            rest = bad;
                            break;
                        }
                    }
                }
            }
        }
        self.pending = rest.to_vec();
        if !text.is_empty() && self.recorded < limit {
            self.recorded += text.len();
            self.event(at, &text);
        }
        text
    }

    /// Add a line of warroom's own (not the command's output).
    pub fn note(&mut self, at: Duration, text: &str) {
        self.event(at, text);
    }

    fn event(&mut self, at: Duration, text: &str) {
        let secs = (at.as_secs_f64() * 1e6).round() / 1e6;
        self.out
            .extend_from_slice(json!([secs, "o", text]).to_string().as_bytes());
        self.out.push(b'\n');
    }

    pub fn finish(mut self) -> Vec<u8> {
        if !self.pending.is_empty() {
            let tail = String::from_utf8_lossy(&self.pending).into_owned();
            self.event(Duration::ZERO, &tail);
        }
        self.out
    }
}

/// A recording read back: its header and its output events.
#[derive(Debug, Clone)]
pub struct Recording {
    pub header: Value,
    /// `(seconds, text)` of each output event, in order.
    pub events: Vec<(f64, String)>,
    /// Lines that were not events (reported, skipped).
    pub bad_lines: usize,
}

/// Parse an asciicast v2 file. Only `"o"` events are kept; anything else is skipped.
pub fn parse(text: &str) -> Result<Recording, String> {
    let mut lines = text.lines();
    let header: Value = lines
        .next()
        .and_then(|l| serde_json::from_str(l).ok())
        .ok_or("not an asciicast recording (no JSON header line)")?;
    if header.get("version").and_then(Value::as_u64) != Some(2) {
        return Err("not an asciicast v2 recording (its header does not say version 2)".into());
    }
    let mut events = Vec::new();
    let mut bad_lines = 0;
    for line in lines.filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str::<(f64, String, String)>(line) {
            Ok((t, kind, data)) if kind == "o" && t.is_finite() && t >= 0.0 => events.push((t, data)),
            Ok(_) => {}
            Err(_) => bad_lines += 1,
        }
    }
    Ok(Recording {
        header,
        events,
        bad_lines,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_character_split_across_chunks_is_kept_whole() {
        let mut w = Writer::new(80, 24, "echo é", "t");
        let bytes = "é\u{1b}[31m!".as_bytes();
        let a = w.output(Duration::from_millis(1), &bytes[..1], 1 << 20);
        let b = w.output(Duration::from_millis(2), &bytes[1..], 1 << 20);
        assert_eq!(format!("{a}{b}"), "é\u{1b}[31m!");
        w.output(Duration::from_millis(3), b"\xff", 1 << 20);
        let rec = parse(std::str::from_utf8(&w.finish()).unwrap()).unwrap();
        assert_eq!(rec.header["version"], 2);
        assert_eq!(rec.header["command"], "echo é");
        let all: String = rec.events.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(all, "é\u{1b}[31m!\u{fffd}");
    }
}
