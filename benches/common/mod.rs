//! What the benches share: a temporary shared directory with its state and lock folders (`Root`),
//! the release binary, and a program in a pseudo-terminal whose output is parsed as a terminal
//! emulator (`vt100`) would show it (`Pty`). Included by each bench with
//! `#[path = "common/mod.rs"] mod common;`.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{native_pty_system, Child, CommandBuilder, MasterPty, PtySize};

use warroom::cli::context::now_ms;
use warroom::domain::event::{Mode, Note};
use warroom::domain::identity::WriterId;
use warroom::domain::Playbook;
use warroom::store::incident::{declare, DeclareRequest};
use warroom::store::playbooks::Library;
use warroom::store::writer::{Draft, LogWriter};
use warroom::store::{install_id, Identity, RootChoice, RootSource, Store};

pub const HOST: &str = "benchhost";

/// A shared directory with its state and lock folders, in one temp folder (`WARROOM_BENCH_DIR`
/// puts it elsewhere, a network mount say).
pub struct Root {
    pub tmp: tempfile::TempDir,
    pub store: Store,
    pub install: String,
}

impl Root {
    pub fn new(prefix: &str) -> Root {
        let mut builder = tempfile::Builder::new();
        builder.prefix(prefix);
        let tmp = match std::env::var_os("WARROOM_BENCH_DIR") {
            Some(dir) => builder.tempdir_in(dir),
            None => builder.tempdir(),
        }
        .expect("temp dir");
        let base = tmp.path();
        let store = Store::open(
            &RootChoice {
                path: base.join("shared"),
                source: RootSource::Flag,
            },
            base.join("state"),
            // What `config::lock_dir()` gives the binary with XDG_RUNTIME_DIR=<base>/run.
            base.join("run").join("warroom"),
        )
        .expect("open store");
        let install = install_id(&store.state_dir).expect("install id");
        Root { tmp, store, install }
    }

    pub fn identity(&self, name: &str) -> Identity {
        Identity {
            writer: WriterId {
                name: name.into(),
                host: HOST.into(),
            },
            install: self.install.clone(),
        }
    }

    /// Declare an incident as `w0` with the built-in ransomware playbook; its id.
    pub fn declare(&self, title: &str, playbook: &Playbook) -> String {
        let (id, _) = declare(
            &self.store,
            &self.identity("w0"),
            DeclareRequest {
                playbook,
                title: title.into(),
                severity: 2,
                mode: Mode::Real,
                commander: "w0".into(),
                require_signatures: false,
                occurred: None,
            },
            now_ms,
        )
        .expect("declare");
        id
    }

    /// Append notes ([`note`]`(i)`, i = 1, 2, …) to incident `id` from `writers` writers (w0, w1,
    /// …) in interleaved rounds until it holds `total` events (the Declared counts): the last
    /// note written is `note(total - 1)`.
    pub fn fill(&self, id: &str, writers: usize, total: usize) {
        let round = (total / (writers * 20)).clamp(100, 50_000);
        let ids: Vec<Identity> = (0..writers).map(|w| self.identity(&format!("w{w}"))).collect();
        let mut have = 1;
        let mut w = 0;
        while have < total {
            let n = (total - have).min(round);
            let drafts = (have..have + n).map(|i| Draft::new(note(i))).collect();
            LogWriter::new(&self.store, id, &ids[w % writers])
                .append(drafts, now_ms)
                .expect("fill append");
            have += n;
            w += 1;
        }
    }

    /// Every log file under the root, sorted.
    pub fn logs(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for inc in std::fs::read_dir(&self.store.root).into_iter().flatten().flatten() {
            for log in std::fs::read_dir(inc.path().join("events"))
                .into_iter()
                .flatten()
                .flatten()
            {
                out.push(log.path());
            }
        }
        out.sort();
        out
    }

    /// The environment that makes the binary use this root, as `w0`.
    pub fn env(&self) -> Vec<(&'static str, PathBuf)> {
        let base = self.tmp.path();
        vec![
            ("WARROOM_DIR", base.join("shared")),
            ("WARROOM_STATE_DIR", base.join("state")),
            ("XDG_RUNTIME_DIR", base.join("run")),
            ("XDG_CONFIG_HOME", base.join("config")),
            ("WARROOM_USER", "w0".into()),
            ("WARROOM_HOST", HOST.into()),
        ]
    }

    /// Forget the local summary cache (what a first run on this host sees).
    pub fn drop_cache(&self) {
        let _ = std::fs::remove_dir_all(self.store.state_dir.join("summaries"));
    }

    /// Forget the local log cache (what a first open on this host sees).
    pub fn drop_log_cache(&self) {
        let _ = std::fs::remove_dir_all(self.store.state_dir.join("logcache"));
    }

    /// A command for a program in a pseudo-terminal with only this root's environment (and
    /// `PATH`, `HOME`, `TERM`).
    pub fn pty_cmd(&self, program: &Path) -> CommandBuilder {
        let mut cmd = CommandBuilder::new(program);
        cmd.env_clear();
        if let Some(path) = std::env::var_os("PATH") {
            cmd.env("PATH", path);
        }
        let base = self.tmp.path();
        cmd.env("HOME", base);
        cmd.env("TERM", "xterm-256color");
        cmd.env("LESSHISTFILE", "-");
        for (k, v) in self.env() {
            cmd.env(k, v);
        }
        cmd.cwd(base);
        cmd
    }
}

pub fn bench_playbook() -> Playbook {
    Library::built_in()
        .resolve("ransomware")
        .expect("built-in ransomware playbook")
}

/// The `i`-th note of a fixture: about 90 characters, one tag.
pub fn note(i: usize) -> Note {
    Note {
        text: format!("checked fin-ws-{i:06} for the dropper and the scheduled task: nothing found, host cleared")
            .into(),
        tags: vec!["triage".into()].into(),
    }
}

/// What is unique to the `i`-th note's text (and fits a narrow timeline pane).
pub fn note_mark(i: usize) -> String {
    format!("fin-ws-{i:06}")
}

/// The warroom binary: `WARROOM_BIN`, else the one cargo built beside the bench.
pub fn find_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("WARROOM_BIN") {
        return Some(PathBuf::from(p));
    }
    if let Some(p) = option_env!("CARGO_BIN_EXE_warroom") {
        if Path::new(p).is_file() {
            return Some(PathBuf::from(p));
        }
    }
    let exe = std::env::current_exe().ok()?;
    exe.ancestors()
        .skip(1)
        .take(3)
        .map(|d| d.join("warroom"))
        .find(|p| p.is_file())
}

/// The 1, 5 and 15 minute load averages, as `/proc/loadavg` gives them.
pub fn load_average() -> String {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

/// The peak resident set of a running process (`VmHWM` in `/proc/<pid>/status`), in MiB.
pub fn vm_hwm_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// A program in a pseudo-terminal, its output parsed as it arrives; `changed` is notified after
/// every read. The program is killed when this is dropped.
pub struct Pty {
    child: Box<dyn Child + Send + Sync>,
    _master: Box<dyn MasterPty + Send>,
    writer: Box<dyn Write + Send>,
    pub screen: Arc<(Mutex<vt100::Parser>, Condvar)>,
    pub rows: u16,
    pub cols: u16,
}

impl Pty {
    pub fn spawn(cmd: CommandBuilder, rows: u16, cols: u16) -> Pty {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("open a pty");
        let child = pair.slave.spawn_command(cmd).expect("spawn in the pty");
        drop(pair.slave);
        let screen = Arc::new((Mutex::new(vt100::Parser::new(rows, cols, 0)), Condvar::new()));
        let mut rd = pair.master.try_clone_reader().expect("pty reader");
        let s = screen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 16384];
            while let Ok(n) = rd.read(&mut buf) {
                if n == 0 {
                    break;
                }
                s.0.lock().expect("parser").process(&buf[..n]);
                s.1.notify_all();
            }
        });
        let writer = pair.master.take_writer().expect("pty writer");
        Pty {
            child,
            _master: pair.master,
            writer,
            screen,
            rows,
            cols,
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.process_id()
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("write to the pty");
        self.writer.flush().expect("flush the pty");
    }

    /// Wait until `cond` holds for the screen; how long it took, or `None` after `timeout`.
    pub fn wait(&self, timeout: Duration, cond: impl Fn(&vt100::Screen) -> bool) -> Option<Duration> {
        let start = Instant::now();
        let (lock, cv) = &*self.screen;
        let mut p = lock.lock().expect("parser");
        loop {
            if cond(p.screen()) {
                return Some(start.elapsed());
            }
            let left = timeout.checked_sub(start.elapsed())?;
            p = cv.wait_timeout(p, left).expect("parser").0;
        }
    }

    pub fn text(&self) -> String {
        self.screen.0.lock().expect("parser").screen().contents()
    }

    /// Wait until nothing is written for `quiet` (the program has settled), at most `max`.
    pub fn settle(&self, quiet: Duration, max: Duration) {
        let start = Instant::now();
        let mut last = self.text();
        let mut since = Instant::now();
        while start.elapsed() < max && since.elapsed() < quiet {
            std::thread::sleep(Duration::from_millis(20));
            let now = self.text();
            if now != last {
                last = now;
                since = Instant::now();
            }
        }
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
