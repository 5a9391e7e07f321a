//! Key → screen (issue 12): the release binary's console in a pseudo-terminal, on an incident of
//! 10k or 100k events while 20 teammates append notes; a key is written to the terminal and
//! timed until its change is seen on the screen as a terminal emulator (`vt100`) parses it.
//!
//! ```text
//! cargo bench --bench keys                       # 10k and 100k events (a few minutes)
//! cargo bench --bench keys -- 'keys/100k'
//! WARROOM_BENCH_WRITE_MS=0 cargo bench --bench keys    # teammates append as fast as they can
//! ```
//!
//! The keys type into the note editor (a character) and take back what was typed (Backspace),
//! 40 of each in turn, so each one changes the line on screen. Each key's time is recorded;
//! criterion reports the mean, and the bench prints p50 / p99 / max of every key timed (warm-up
//! included) and the teammates' write rate. The floor is the same harness on `cat` in a raw
//! terminal (each byte read and written back by a process), with the same teammates writing.
//! `WARROOM_BIN` picks another build.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode};
use portable_pty::{native_pty_system, Child, CommandBuilder, MasterPty, PtySize};

use warroom::cli::context::now_ms;
use warroom::domain::event::{Mode, Note};
use warroom::domain::identity::WriterId;
use warroom::store::incident::{declare, DeclareRequest};
use warroom::store::playbooks::Library;
use warroom::store::writer::{Draft, LogWriter};
use warroom::store::{install_id, Identity, RootChoice, RootSource, Store};

const HOST: &str = "benchhost";
const COLS: u16 = 120;
const ROWS: u16 = 40;
/// Teammates appending while keys are timed.
const MATES: usize = 20;
/// Characters typed before they are taken back.
const SPAN: usize = 40;
/// The first character typed, found on screen to locate the editor's line.
const MARK: char = '¤';

struct Fixture {
    tmp: tempfile::TempDir,
    store: Store,
    install: String,
    id: String,
}

impl Fixture {
    fn new(events: usize) -> Fixture {
        let start = Instant::now();
        let mut builder = tempfile::Builder::new();
        builder.prefix("warroom-keys-");
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
            base.join("run").join("warroom"),
        )
        .expect("open store");
        let install = install_id(&store.state_dir).expect("install id");
        let mut fx = Fixture {
            tmp,
            store,
            install,
            id: String::new(),
        };
        let playbook = Library::built_in().resolve("ransomware").expect("playbook");
        fx.id = declare(
            &fx.store,
            &fx.identity("w0"),
            DeclareRequest {
                playbook: &playbook,
                title: "bench keys".into(),
                severity: 2,
                mode: Mode::Real,
                commander: "w0".into(),
                require_signatures: false,
                occurred: None,
            },
            now_ms,
        )
        .expect("declare")
        .0;
        // The history: 4 writers, interleaved parts.
        let mut have = 1;
        let mut w = 0;
        while have < events {
            let n = (events - have).min(5_000);
            let drafts = (have..have + n).map(|i| Draft::new(note("hist", i))).collect();
            LogWriter::new(&fx.store, &fx.id, &fx.identity(&format!("h{}", w % 4)))
                .append(drafts, now_ms)
                .expect("fill");
            have += n;
            w += 1;
        }
        let _ = std::process::Command::new("sync").status();
        eprintln!("fixture: {events} events in {:.1} s", start.elapsed().as_secs_f64());
        fx
    }

    fn identity(&self, name: &str) -> Identity {
        Identity {
            writer: WriterId {
                name: name.into(),
                host: HOST.into(),
            },
            install: self.install.clone(),
        }
    }
}

fn note(who: &str, i: usize) -> Note {
    Note {
        text: format!("{who}: checked fin-ws-{i:06} for the dropper and the scheduled task: nothing found"),
        tags: vec!["triage".into()],
    }
}

/// Twenty teammates appending notes until dropped: one note an append, `WARROOM_BENCH_WRITE_MS`
/// apart each (default 50: 400 notes a second in all; 0: as fast as the disk allows).
struct Storm {
    stop: Arc<AtomicBool>,
    written: Arc<AtomicUsize>,
    started: Instant,
    mates: Vec<JoinHandle<()>>,
}

impl Storm {
    fn start(fx: &Fixture) -> Storm {
        let gap = std::env::var("WARROOM_BENCH_WRITE_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(50u64);
        let stop = Arc::new(AtomicBool::new(false));
        let written = Arc::new(AtomicUsize::new(0));
        let mates = (0..MATES)
            .map(|m| {
                let (store, id, me) = (fx.store.clone(), fx.id.clone(), fx.identity(&format!("mate{m:02}")));
                let (stop, written) = (stop.clone(), written.clone());
                std::thread::spawn(move || {
                    let log = LogWriter::new(&store, &id, &me);
                    let mut i = 0;
                    while !stop.load(Ordering::Relaxed) {
                        if log.append(vec![Draft::new(note("mate", i))], now_ms).is_ok() {
                            written.fetch_add(1, Ordering::Relaxed);
                        }
                        i += 1;
                        std::thread::sleep(Duration::from_millis(gap));
                    }
                })
            })
            .collect();
        Storm {
            stop,
            written,
            started: Instant::now(),
            mates,
        }
    }

    fn rate(&self) -> f64 {
        self.written.load(Ordering::Relaxed) as f64 / self.started.elapsed().as_secs_f64()
    }
}

impl Drop for Storm {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for m in self.mates.drain(..) {
            let _ = m.join();
        }
    }
}

/// A program in a pseudo-terminal, its output parsed as it arrives; `changed` is notified after
/// every read.
struct Pty {
    child: Box<dyn Child + Send + Sync>,
    _master: Box<dyn MasterPty + Send>,
    writer: Box<dyn Write + Send>,
    screen: Arc<(Mutex<vt100::Parser>, Condvar)>,
}

impl Pty {
    fn spawn(cmd: CommandBuilder) -> Pty {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows: ROWS,
                cols: COLS,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("open a pty");
        let child = pair.slave.spawn_command(cmd).expect("spawn in the pty");
        drop(pair.slave);
        let screen = Arc::new((Mutex::new(vt100::Parser::new(ROWS, COLS, 0)), Condvar::new()));
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
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("write to the pty");
        self.writer.flush().expect("flush the pty");
    }

    /// Wait until `cond` holds for the screen; how long it took, or `None` after `timeout`.
    fn wait(&self, timeout: Duration, cond: impl Fn(&vt100::Screen) -> bool) -> Option<Duration> {
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

    fn text(&self) -> String {
        self.screen.0.lock().expect("parser").screen().contents()
    }

    /// Wait until nothing is written for `quiet` (the console has settled), at most `max`.
    fn settle(&self, quiet: Duration, max: Duration) {
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

fn find_binary() -> Option<PathBuf> {
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

fn base_cmd(program: &Path, fx: &Fixture) -> CommandBuilder {
    let mut cmd = CommandBuilder::new(program);
    cmd.env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    let base = fx.tmp.path();
    cmd.env("HOME", base);
    cmd.env("WARROOM_DIR", base.join("shared"));
    cmd.env("WARROOM_STATE_DIR", base.join("state"));
    cmd.env("XDG_RUNTIME_DIR", base.join("run"));
    cmd.env("XDG_CONFIG_HOME", base.join("config"));
    cmd.env("WARROOM_USER", "w0");
    cmd.env("WARROOM_HOST", HOST);
    cmd.env("TERM", "xterm-256color");
    cmd.cwd(base);
    cmd
}

/// Where the typed text sits on screen: the row and column of `MARK`.
fn locate(screen: &vt100::Screen) -> Option<(u16, u16)> {
    for row in 0..ROWS {
        let line = screen.contents_between(row, 0, row, COLS);
        if let Some(byte) = line.find(MARK) {
            return Some((row, line[..byte].chars().count() as u16));
        }
    }
    None
}

/// The key that comes `n`-th: SPAN characters typed, then SPAN Backspaces, over again; and the
/// text after it (without the mark).
fn key(n: usize) -> (Vec<u8>, String) {
    let round = n % (2 * SPAN);
    let typed = |len: usize| -> String {
        (0..len)
            .map(|i| char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[(i * 7 + n / (2 * SPAN)) % 36]))
            .collect()
    };
    if round < SPAN {
        let after = typed(round + 1);
        let c = after.chars().last().unwrap_or('a');
        (vec![c as u8], after)
    } else {
        (vec![0x7f], typed(2 * SPAN - round - 1))
    }
}

fn percentiles(label: &str, times: &mut [Duration], storm: &Storm) {
    if times.is_empty() {
        return;
    }
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    eprintln!(
        "{label}: {} keys, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; teammates wrote {:.0} notes/s; load {}",
        times.len(),
        ms(at(0.50)),
        ms(at(0.99)),
        ms(times[times.len() - 1]),
        storm.rate(),
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    );
}

/// Time keys on `pty` whose typed line starts at `(row, col)` (just after the mark):
/// `expected(screen, text)` says the key's change is drawn.
fn time_keys(
    c: &mut Criterion,
    group: &str,
    name: &str,
    pty: &mut Pty,
    storm: &Storm,
    drawn: impl Fn(&vt100::Screen, &str) -> bool,
) {
    let mut g = c.benchmark_group(group);
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10));
    let mut n = 0usize;
    let mut times: Vec<Duration> = Vec::new();
    let mut lost = 0usize;
    g.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let (bytes, text) = key(n);
                n += 1;
                let start = Instant::now();
                pty.send(&bytes);
                match pty.wait(Duration::from_secs(10), |s| drawn(s, &text)) {
                    Some(_) => {
                        let t = start.elapsed();
                        times.push(t);
                        total += t;
                    }
                    None => {
                        lost += 1;
                        total += Duration::from_secs(10);
                    }
                }
            }
            total
        })
    });
    g.finish();
    percentiles(&format!("{group}/{name}"), &mut times, storm);
    assert_eq!(lost, 0, "{group}/{name}: {lost} keys never showed\n{}", pty.text());
}

fn bench_keys(c: &mut Criterion) {
    let Some(bin) = find_binary() else {
        eprintln!("no warroom binary (build it with `cargo build --release` or set WARROOM_BIN): skipped");
        return;
    };
    for (events, label) in [(10_000, "10k"), (100_000, "100k")] {
        let fx = Fixture::new(events);
        let group = format!("keys/{label}/{MATES}w");

        // The floor: `cat` in a raw terminal echoes each byte, with the same teammates writing.
        {
            let mut cmd = base_cmd(Path::new("/bin/sh"), &fx);
            cmd.args(["-c", "stty raw -echo; printf 'ready\\r\\n'; exec cat"]);
            let mut pty = Pty::spawn(cmd);
            pty.wait(Duration::from_secs(10), |s| s.contents().contains("ready"))
                .expect("the shell started");
            let storm = Storm::start(&fx);
            // `cat` writes the characters back; a Backspace (DEL) moves nothing, so the floor
            // sends `\b \b` for it, which is what a line editor answers.
            let mut floor_key = 0usize;
            let mut g = c.benchmark_group(&group);
            g.sample_size(10)
                .sampling_mode(SamplingMode::Flat)
                .warm_up_time(Duration::from_secs(1))
                .measurement_time(Duration::from_secs(10));
            let mut times = Vec::new();
            g.bench_function("floor: cat in a raw pty", |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let (bytes, text) = key(floor_key);
                        floor_key += 1;
                        let bytes = if bytes == [0x7f] { b"\x08 \x08".to_vec() } else { bytes };
                        let want = text.chars().count() as u16;
                        let start = Instant::now();
                        pty.send(&bytes);
                        let ok = pty.wait(Duration::from_secs(10), |s| {
                            s.cursor_position().1 == want && s.contents_between(1, 0, 1, COLS).trim_end() == text
                        });
                        let t = start.elapsed();
                        if ok.is_some() {
                            times.push(t);
                        }
                        total += t;
                    }
                    total
                })
            });
            g.finish();
            percentiles(&format!("{group}/floor: cat in a raw pty"), &mut times, &storm);
        }

        // The console: open the incident, wait for its first read to settle, open the editor.
        let mut cmd = base_cmd(&bin, &fx);
        cmd.args(["open", fx.id.as_str()]);
        let mut pty = Pty::spawn(cmd);
        let opened = Instant::now();
        pty.wait(Duration::from_secs(120), |s| s.contents().contains("Timeline"))
            .expect("the war-room view");
        // The whole history read and folded: its last note is on screen.
        let last = format!("fin-ws-{:06}", events - 1);
        let read = pty.wait(Duration::from_secs(30), |s| s.contents().contains(&last));
        eprintln!("{group}: the history's last note on screen: {}", read.is_some());
        pty.settle(Duration::from_millis(600), Duration::from_secs(120));
        eprintln!(
            "{group}: console open and settled in {:.1} s",
            opened.elapsed().as_secs_f64()
        );
        pty.send(b"n");
        pty.wait(Duration::from_secs(30), |s| s.contents().contains("Enter sends"))
            .expect("the note editor");
        let mut mark = [0u8; 4];
        pty.send(MARK.encode_utf8(&mut mark).as_bytes());
        pty.wait(Duration::from_secs(30), |s| locate(s).is_some())
            .expect("the mark in the editor");
        let Some((row, col)) = pty.wait(Duration::ZERO, |_| true).and_then(|_| {
            let p = pty.screen.0.lock().expect("parser");
            locate(p.screen())
        }) else {
            panic!("the mark is gone\n{}", pty.text())
        };
        let storm = Storm::start(&fx);
        std::thread::sleep(Duration::from_secs(1));
        time_keys(
            c,
            &group,
            "key → screen (note editor)",
            &mut pty,
            &storm,
            move |s, text| {
                let line = s.contents_between(row, col + 1, row, COLS);
                line.starts_with(text) && !line[text.len()..].starts_with(|ch: char| ch.is_ascii_alphanumeric())
            },
        );
        drop(storm);
        // Leave the draft behind rather than sending it.
        pty.send(b"\x1b");
    }
}

criterion_group!(benches, bench_keys);
criterion_main!(benches);
