//! Shared helpers for the integration tests: a temporary world (shared root, lock folder, config
//! folder) and simulated installs (user + host + local state directory) that run the real binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde::Deserialize;
use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_warroom");

/// One temporary world: a shared incident directory that several simulated installs use.
pub struct World {
    pub tmp: tempfile::TempDir,
    /// The shared directory when it is not `<tmp>/root` (a network mount, say).
    pub shared: Option<PathBuf>,
}

/// One simulated install: who, on which host, with its own local state directory (and so its
/// own install id and its own log file per incident).
#[derive(Clone, Debug)]
pub struct Who {
    pub user: String,
    pub host: String,
    pub state: PathBuf,
    /// `WARROOM_CLOCK_SKEW_MS` for this install, if its clock is wrong.
    pub skew_ms: Option<i64>,
}

impl Who {
    /// The writer id, `name@host`.
    pub fn writer(&self) -> String {
        format!("{}@{}", self.user, self.host)
    }
    pub fn skewed(mut self, ms: i64) -> Who {
        self.skew_ms = Some(ms);
        self
    }
}

/// What a finished command said.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub raw_stdout: Vec<u8>,
}

impl Run {
    pub fn from_output(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            raw_stdout: out.stdout,
        }
    }
    /// Panics with everything the command said unless it exited 0.
    pub fn ok(self) -> Run {
        assert_eq!(self.code, 0, "expected success\n{self}");
        self
    }
    /// Panics unless the command exited with `code`.
    pub fn code(self, code: i32) -> Run {
        assert_eq!(self.code, code, "expected exit {code}\n{self}");
        self
    }
    pub fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim()).unwrap_or_else(|e| panic!("stdout is not one JSON value: {e}\n{self}"))
    }
    pub fn json_lines(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {e}: {l}\n{self}")))
            .collect()
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

impl Default for World {
    fn default() -> Self {
        World::new()
    }
}

impl World {
    pub fn new() -> World {
        let tmp = tempfile::Builder::new()
            .prefix("warroom-it-")
            .tempdir()
            .expect("temp dir");
        for d in ["run", "cfg", "tmp"] {
            std::fs::create_dir_all(tmp.path().join(d)).unwrap();
        }
        World { tmp, shared: None }
    }

    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// A world whose shared incident directory is `shared` (its installs' state stays local).
    pub fn at(shared: PathBuf) -> World {
        World {
            shared: Some(shared),
            ..World::new()
        }
    }

    /// The shared incident directory.
    pub fn root(&self) -> PathBuf {
        self.shared.clone().unwrap_or_else(|| self.tmp.path().join("root"))
    }

    /// A simulated install of `user` on `host` (its own state directory).
    pub fn who(&self, user: &str, host: &str) -> Who {
        Who {
            user: user.into(),
            host: host.into(),
            state: self.tmp.path().join(format!("state-{user}-{host}")),
            skew_ms: None,
        }
    }

    /// A command for `who`, with every setting pinned so nothing of the real user's leaks in.
    pub fn cmd(&self, who: &Who) -> Command {
        let mut c = Command::new(BIN);
        c.env("WARROOM_DIR", self.root())
            .env("WARROOM_USER", &who.user)
            .env("WARROOM_STATE_DIR", &who.state)
            .env("WARROOM_HOST", &who.host)
            .env("XDG_RUNTIME_DIR", self.tmp.path().join("run"))
            .env("XDG_CONFIG_HOME", self.tmp.path().join("cfg"))
            .env("TMPDIR", self.tmp.path().join("tmp"))
            .env("NO_COLOR", "1")
            // Every run after the first reads the logs through the local log cache (issue 12),
            // so every test also holds the cache to reading what the logs say.
            .env("WARROOM_LOGCACHE_MIN_BYTES", "0")
            .env_remove("WARROOM_CLOCK_SKEW_MS")
            .env_remove("USER")
            .env_remove("LOGNAME")
            .stdin(Stdio::null());
        if let Some(ms) = who.skew_ms {
            c.env("WARROOM_CLOCK_SKEW_MS", ms.to_string());
        }
        c
    }

    /// Run `warroom ARGS` as `who`.
    pub fn run(&self, who: &Who, args: &[&str]) -> Run {
        let out = self.cmd(who).args(args).output().expect("run warroom");
        Run::from_output(out)
    }

    /// Run `warroom ARGS` as `who` with `input` on stdin.
    pub fn run_stdin(&self, who: &Who, args: &[&str], input: &str) -> Run {
        use std::io::Write;
        let mut child = self
            .cmd(who)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn warroom");
        let mut stdin = child.stdin.take().unwrap();
        let input = input.to_string();
        let feeder = std::thread::spawn(move || {
            let _ = stdin.write_all(input.as_bytes());
        });
        let out = child.wait_with_output().expect("wait warroom");
        feeder.join().unwrap();
        Run::from_output(out)
    }

    /// Declare a ransomware incident as `who`; returns its id.
    pub fn declare(&self, who: &Who, title: &str) -> String {
        let r = self
            .run(
                who,
                &[
                    "declare",
                    "--playbook",
                    "ransomware",
                    "--title",
                    title,
                    "--severity",
                    "2",
                ],
            )
            .ok();
        let id = r.stdout.trim().to_string();
        assert!(!id.is_empty() && !id.contains('\n'), "{r}");
        id
    }

    pub fn note(&self, who: &Who, id: &str, text: &str) -> Run {
        self.run(who, &["note", id, text]).ok()
    }

    pub fn show(&self, who: &Who, id: &str) -> Value {
        self.run(who, &["show", id, "--json"]).ok().json()
    }

    pub fn tail_json(&self, who: &Who, id: &str) -> Vec<Value> {
        self.run(who, &["tail", id, "--json"]).ok().json_lines()
    }

    pub fn events_dir(&self, id: &str) -> PathBuf {
        self.root().join(id).join("events")
    }

    /// The log file `who` writes for incident `id` (it must exist).
    pub fn log_of(&self, who: &Who, id: &str) -> PathBuf {
        let prefix = format!("{}.", who.writer());
        let mut found: Vec<PathBuf> = std::fs::read_dir(self.events_dir(id))
            .expect("events dir")
            .flatten()
            .filter(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                n.starts_with(&prefix) && n.ends_with(".ronl")
            })
            .map(|e| e.path())
            .collect();
        assert_eq!(found.len(), 1, "expected one log for {}: {found:?}", who.writer());
        found.pop().unwrap()
    }

    /// Every log file in the incident's events folder, sorted.
    pub fn logs(&self, id: &str) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(self.events_dir(id))
            .expect("events dir")
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "ronl"))
            .collect();
        v.sort();
        v
    }
}

/// The envelope of one log line, parsed independently of warroom's own code (body ignored).
#[derive(Debug, Deserialize)]
pub struct Rec {
    pub v: u32,
    pub id: String,
    pub at: i64,
    pub wall: i64,
    pub by: String,
    pub seq: u64,
    pub prev: String,
    pub kind: String,
}

pub fn parse_line(line: &str) -> Rec {
    ron::from_str(line).unwrap_or_else(|e| panic!("not a log record: {e}: {line}"))
}

/// Lines of a file (without newlines); panics if the file does not end in a newline.
pub fn lines_of(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "{} does not end with a newline",
        path.display()
    );
    text.lines().map(str::to_string).collect()
}

pub fn blake3_hex(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

/// Check one log independently: seq 1..n without gaps, `prev` is the BLAKE3 of the previous
/// line (the first line's of `incident\nwriter`), every line by the file's writer, `at` never
/// decreases. Returns the records.
pub fn check_chain(incident: &str, path: &Path) -> Vec<Rec> {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let stem = name.strip_suffix(".ronl").unwrap();
    let writer = stem.rsplit_once('.').unwrap().0.to_string();
    let mut prev = blake3_hex(format!("{incident}\n{writer}").as_bytes());
    let mut last_at = i64::MIN;
    let mut recs = Vec::new();
    for (i, line) in lines_of(path).iter().enumerate() {
        let r = parse_line(line);
        assert_eq!(r.v, 1);
        assert_eq!(r.seq, i as u64 + 1, "{name}: seq gap or repeat at line {}", i + 1);
        assert_eq!(r.prev, prev, "{name}: chain broken at line {}", i + 1);
        assert_eq!(r.by, writer, "{name}: line {} by the wrong writer", i + 1);
        assert!(r.at >= last_at, "{name}: at went backwards at line {}", i + 1);
        last_at = r.at;
        prev = blake3_hex(line.as_bytes());
        recs.push(r);
    }
    recs
}

/// Texts of the Note events in `tail --json` output.
pub fn note_texts(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["kind"] == "Note")
        .map(|e| e["body"]["text"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// `2026-11-22-ransomware-fin-7f3a`: `^\d{4}-\d{2}-\d{2}-[a-z0-9-]+$` without a regex crate.
pub fn looks_like_incident_id(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() > 11
        && b[..10].iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        })
        && b[10] == b'-'
        && b[11..]
            .iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

/// Append one hand-made record (by `by`, in the log file `log`) chained on the file's last line.
pub fn forge(
    log: &std::path::Path,
    incident: &str,
    by: &str,
    seq: u64,
    at: i64,
    body: warroom::domain::event::Body,
) -> String {
    use warroom::domain::event::{self, Event, Occurred};
    let existing = if log.exists() { lines_of(log) } else { Vec::new() };
    let prev = match existing.last() {
        Some(l) => event::line_hash(l.as_bytes()),
        None => event::genesis_hash(incident, by),
    };
    let e = Event {
        id: format!("01JFORGED{seq:017}").into(),
        at,
        wall: at,
        occurred: Occurred::NONE,
        log: by.into(),
        seq,
        body,
    };
    let line = event::encode(&e, &prev.into()).expect("encodes");
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
    std::io::Write::write_all(&mut f, format!("{line}\n").as_bytes()).unwrap();
    line
}

/// A note's body with `text` (for hand-made records).
pub fn note_body(text: &str) -> warroom::domain::event::Body {
    warroom::domain::event::Note {
        text: text.into(),
        tags: Default::default(),
    }
    .into()
}
