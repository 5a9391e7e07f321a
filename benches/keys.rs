//! Key → screen (issue 12): the release binary's console in a pseudo-terminal, on an incident of
//! 10k, 100k or 1M events while 20 teammates append notes; a key is written to the terminal and
//! timed until its change is seen on the screen as a terminal emulator (`vt100`) parses it.
//!
//! ```text
//! cargo bench --bench keys                       # 10k and 100k events (a few minutes)
//! cargo bench --bench keys -- 'keys/100k'
//! WARROOM_BENCH_1M=1 cargo bench --bench keys -- 'keys/1M'   # 1M events (~300 MiB of logs)
//! WARROOM_BENCH_WRITE_MS=0 cargo bench --bench keys    # teammates append as fast as they can
//! ```
//!
//! The keys type into the note editor (a character) and take back what was typed (Backspace),
//! 40 of each in turn, so each one changes the line on screen. Each key's time is recorded;
//! criterion reports the mean, and the bench prints p50 / p99 / max of every key timed (warm-up
//! included) and the teammates' write rate. The floor is the same harness on `cat` in a raw
//! terminal (each byte read and written back by a process), with the same teammates writing.
//! `WARROOM_BIN` picks another build.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode};

use warroom::cli::context::now_ms;
use warroom::domain::event::Note;
use warroom::store::writer::{Draft, LogWriter};

#[path = "common/mod.rs"]
mod common;

use common::{bench_playbook, find_binary, load_average, Pty, Root};

const COLS: u16 = 120;
const ROWS: u16 = 40;
/// Teammates appending while keys are timed.
const MATES: usize = 20;
/// Characters typed before they are taken back.
const SPAN: usize = 40;
/// The first character typed, found on screen to locate the editor's line.
const MARK: char = '¤';

/// An incident of `events` events from 4 interleaved writers (w0…w3).
struct Fixture {
    root: Root,
    id: String,
}

impl Fixture {
    fn new(events: usize) -> Fixture {
        let start = Instant::now();
        let root = Root::new("warroom-keys-");
        let id = root.declare("bench keys", &bench_playbook());
        root.fill(&id, 4, events);
        let _ = std::process::Command::new("sync").status();
        eprintln!("fixture: {events} events in {:.1} s", start.elapsed().as_secs_f64());
        Fixture { root, id }
    }
}

fn mate_note(i: usize) -> Note {
    Note {
        text: format!("mate: checked fin-ws-{i:06} for the dropper and the scheduled task: nothing found").into(),
        tags: vec!["triage".into()].into(),
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
                let (store, id, me) = (
                    fx.root.store.clone(),
                    fx.id.clone(),
                    fx.root.identity(&format!("mate{m:02}")),
                );
                let (stop, written) = (stop.clone(), written.clone());
                std::thread::spawn(move || {
                    let log = LogWriter::new(&store, &id, &me);
                    let mut i = 0;
                    while !stop.load(Ordering::Relaxed) {
                        if log.append(vec![Draft::new(mate_note(i))], now_ms).is_ok() {
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

/// Records in the logs: one a line.
fn record_count(logs: &[std::path::PathBuf]) -> usize {
    logs.iter()
        .map(|p| std::fs::read(p).map_or(0, |b| b.iter().filter(|c| **c == b'\n').count()))
        .sum()
}

/// The count in the timeline pane's title, `Timeline (N events`.
fn timeline_count(screen: &str) -> Option<usize> {
    let from = screen.find("Timeline (")? + "Timeline (".len();
    let digits: String = screen[from..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
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
    eprintln!(
        "{label}: {} keys, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; teammates wrote {:.0} notes/s; load {}",
        times.len(),
        ms(at(0.50)),
        ms(at(0.99)),
        ms(times[times.len() - 1]),
        storm.rate(),
        load_average()
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
    let mut sizes = vec![(10_000, "10k"), (100_000, "100k")];
    if std::env::var_os("WARROOM_BENCH_1M").is_some() {
        sizes.push((1_000_000, "1M"));
    }
    for (events, label) in sizes {
        let fx = Fixture::new(events);
        let group = format!("keys/{label}/{MATES}w");

        // The floor: `cat` in a raw terminal echoes each byte, with the same teammates writing.
        {
            let mut cmd = fx.root.pty_cmd(Path::new("/bin/sh"));
            cmd.args(["-c", "stty raw -echo; printf 'ready\\r\\n'; exec cat"]);
            let mut pty = Pty::spawn(cmd, ROWS, COLS);
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
        let mut cmd = fx.root.pty_cmd(&bin);
        cmd.args(["open", fx.id.as_str()]);
        let mut pty = Pty::spawn(cmd, ROWS, COLS);
        let opened = Instant::now();
        pty.wait(Duration::from_secs(120), |s| s.contents().contains("Timeline"))
            .expect("the war-room view");
        // The whole history read and folded. Not "its last note on screen": the floor's
        // teammates wrote into the same incident just before, and their notes sort after the
        // history's, so its last note is off screen (the check this replaced never matched and
        // fell through after 30 s). The timeline's title counts every record on disk now.
        let on_disk = record_count(&fx.root.logs());
        pty.wait(Duration::from_secs(120), |s| {
            timeline_count(&s.contents()) >= Some(on_disk)
        })
        .unwrap_or_else(|| panic!("the {on_disk} records were never all read\n{}", pty.text()));
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
