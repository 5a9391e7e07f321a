//! Scale benchmarks (issue 12): each figure beside its floor, a raw read of the same bytes, in the
//! same run. See `benches/README.md` for the figures.
//!
//! ```text
//! cargo bench --bench scale                        # 10k and 100k events, 1000 incidents (minutes)
//! cargo bench --bench scale -- 'open/100k'         # one size
//! WARROOM_BENCH_1M=1 cargo bench --bench scale     # also 1M events (builds ~300 MiB of logs)
//! WARROOM_BENCH_INCIDENTS=200 cargo bench --bench scale -- list   # a smaller board
//! ```
//!
//! Groups (fixtures are built on first use and not timed):
//! - `open/<n>/<w>w`: an incident of `n` note events written by `w` interleaved writers.
//!   `floor: read logs` reads every log's bytes; `parse every line` parses the logs' lines with
//!   the fast reader and with `ron` alone (the reader before it); `Incident::open` is what the
//!   console and `show` do to open it (read, chain-check, parse, fold; freeing it afterwards is
//!   not timed: neither the console nor `show` frees it on opening), cold (this host's log cache
//!   emptied first: the open reads every line and writes the cache) and warm (a second open
//!   takes the records from the cache and folds them); `warroom show --json`, cold and warm,
//!   spawns the release binary (stdout to /dev/null; `WARROOM_BIN` picks another build, to compare)
//!   beside `cat` of the same logs; `peak RSS` prints (not times) the peak resident set of `show
//!   --json`, `show` and `cat` through `/usr/bin/time`.
//! - `list/<k>x100`: `k` incidents of 100 events each. `floor: read every log` reads all their
//!   logs; `warroom list --json` spawns the binary, cold (the local summary cache removed
//!   first) and warm; `cat` of every log is the process floor.
//! - `board/<k>x100`: the console's store worker on the same folder: its first board pass
//!   (cold and warm cache) and an idle safety-net rescan where nothing changed.

use std::cell::OnceCell;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, SamplingMode};

use warroom::cli::context::now_ms;
use warroom::domain::event;
use warroom::domain::identity::WriterId;
use warroom::store::incident::Incident;
use warroom::store::{Identity, Store};

#[path = "common/mod.rs"]
mod common;

use common::{bench_playbook, find_binary, load_average, note_mark, vm_hwm_mib, Pty, Root, HOST};

fn read_all(paths: &[PathBuf]) -> usize {
    paths.iter().map(|p| std::fs::read(p).map_or(0, |b| b.len())).sum()
}

fn run(cmd: &mut Command) {
    let out = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("spawn");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Run `cmd` once under `/usr/bin/time` (stdout to /dev/null) and return its peak resident set
/// in MiB (`%M`, the child's `ru_maxrss`). Through `time`, not a `wait4` of our own: a child
/// spawned from this process would count this process's pages from before its `exec`.
/// `None` where `/usr/bin/time` is missing.
fn peak_rss_mib(cmd: &Command) -> Option<f64> {
    let out = tempfile::NamedTempFile::new().ok()?;
    let mut timed = Command::new("/usr/bin/time");
    timed
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(out.path())
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .envs(cmd.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let status = timed.status().ok()?;
    assert!(status.success(), "{cmd:?} failed");
    let kib: f64 = std::fs::read_to_string(out.path()).ok()?.trim().parse().ok()?;
    Some(kib / 1024.0)
}

/// A peak RSS for printing.
fn mib(m: Option<f64>) -> String {
    m.map_or_else(|| "n/a".into(), |m| format!("{m:.1} MiB"))
}

fn cat(paths: &[PathBuf]) -> Command {
    let mut c = Command::new("cat");
    c.args(paths);
    c
}

fn settle() {
    let _ = Command::new("sync").status();
    std::thread::sleep(Duration::from_secs(2));
}

// ---------------------------------------------------------------------------------------------
// open / show --json

struct OpenFx {
    root: Root,
    id: String,
    logs: Vec<PathBuf>,
}

fn open_fx(n: usize, writers: usize) -> OpenFx {
    let start = Instant::now();
    let root = Root::new("warroom-scale-");
    let id = root.declare("bench open", &bench_playbook());
    root.fill(&id, writers, n);
    let logs = root.logs();
    let bytes: u64 = logs.iter().map(|p| std::fs::metadata(p).map_or(0, |m| m.len())).sum();
    eprintln!(
        "fixture: {n} events from {writers} writer(s), {:.1} MiB, built in {:.1} s",
        bytes as f64 / (1 << 20) as f64,
        start.elapsed().as_secs_f64()
    );
    let inc = Incident::open(&root.store, &id, now_ms());
    // Writers add their own `Heads` checkpoints when other logs are there.
    assert!(inc.state.event_count() >= n, "every event read");
    assert!(inc.problems().is_empty(), "{:?}", inc.problems());
    settle();
    OpenFx { root, id, logs }
}

/// The incident sizes benched: 10k and 100k events, and 1M with `WARROOM_BENCH_1M=1`.
fn sizes() -> Vec<(usize, &'static str)> {
    let mut sizes = vec![(10_000, "10k"), (100_000, "100k")];
    if std::env::var_os("WARROOM_BENCH_1M").is_some() {
        sizes.push((1_000_000, "1M"));
    }
    sizes
}

fn bench_open(c: &mut Criterion) {
    let bin = find_binary();
    for (n, label) in sizes() {
        for writers in [1, 4] {
            let fx = OnceCell::new();
            let fx = || fx.get_or_init(|| open_fx(n, writers));
            let mut g = c.benchmark_group(format!("open/{label}/{writers}w"));
            g.sample_size(10)
                .sampling_mode(SamplingMode::Flat)
                .warm_up_time(Duration::from_millis(500))
                .measurement_time(Duration::from_secs(if n >= 1_000_000 { 30 } else { 4 }));
            g.bench_function("floor: read logs", |b| {
                let fx = fx();
                b.iter(|| black_box(read_all(&fx.logs)))
            });
            let lines = OnceCell::new();
            let lines = || {
                lines.get_or_init(|| {
                    let fx = fx();
                    fx.logs
                        .iter()
                        .flat_map(|p| {
                            std::fs::read_to_string(p)
                                .expect("read log")
                                .lines()
                                .map(String::from)
                                .collect::<Vec<_>>()
                        })
                        .collect::<Vec<String>>()
                })
            };
            g.bench_function("parse every line: event::parse (fast reader)", |b| {
                let lines = lines();
                b.iter(|| lines.iter().filter(|l| event::parse(l).is_ok()).count())
            });
            g.bench_function("parse every line: ron only (before)", |b| {
                let lines = lines();
                b.iter(|| lines.iter().filter(|l| event::parse_with_ron(l).is_ok()).count())
            });
            // Cold: this host has no log cache entry (the first open writes one, timed);
            // warm: a second open takes the logs' records from it (see `store::logcache`).
            g.bench_function("Incident::open, cold (no log cache)", |b| {
                let fx = fx();
                b.iter_batched(
                    || fx.root.drop_log_cache(),
                    |()| Incident::open(&fx.root.store, &fx.id, now_ms()),
                    BatchSize::PerIteration,
                )
            });
            g.bench_function("Incident::open, warm (log cache)", |b| {
                let fx = fx();
                drop(Incident::open(&fx.root.store, &fx.id, now_ms()));
                b.iter_with_large_drop(|| Incident::open(&fx.root.store, &fx.id, now_ms()))
            });
            if let Some(bin) = &bin {
                g.bench_function("floor: cat logs", |b| {
                    let fx = fx();
                    b.iter(|| run(&mut cat(&fx.logs)))
                });
                g.bench_function("warroom show --json, cold (no log cache)", |b| {
                    let fx = fx();
                    b.iter_batched(
                        || fx.root.drop_log_cache(),
                        |()| run(Command::new(bin).args(["show", "--json", &fx.id]).envs(fx.root.env())),
                        BatchSize::PerIteration,
                    )
                });
                g.bench_function("warroom show --json, warm (log cache)", |b| {
                    let fx = fx();
                    run(Command::new(bin).args(["show", "--json", &fx.id]).envs(fx.root.env()));
                    b.iter(|| run(Command::new(bin).args(["show", "--json", &fx.id]).envs(fx.root.env())))
                });
                let printed = std::cell::Cell::new(false);
                g.bench_function("peak RSS (printed, not timed)", |b| {
                    // Memory beside its floor, once: criterion times, this prints.
                    if !printed.replace(true) {
                        print_rss(bin, fx(), &format!("open/{label}/{writers}w"));
                    }
                    b.iter(|| ())
                });
            }
            g.finish();
        }
    }
}

/// Peak RSS of `show --json`, `show` and `cat` of the same logs, printed once per fixture.
fn print_rss(bin: &Path, fx: &OpenFx, label: &str) {
    let show = |args: &[&str]| {
        let mut c = Command::new(bin);
        c.args(args).envs(fx.root.env());
        mib(peak_rss_mib(&c))
    };
    fx.root.drop_log_cache();
    let cold = show(&["show", "--json", &fx.id]);
    eprintln!(
        "peak RSS {label}: warroom show --json {cold} cold, {} warm (log cache), warroom show {}, floor: cat logs {}, log bytes {:.1} MiB",
        show(&["show", "--json", &fx.id]),
        show(&["show", &fx.id]),
        mib(peak_rss_mib(&cat(&fx.logs))),
        fx.logs
            .iter()
            .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
            .sum::<u64>() as f64
            / (1 << 20) as f64,
    );
}

// ---------------------------------------------------------------------------------------------
// console: what the user sees

/// The console's terminal: what a responder on a jump host has.
const CONSOLE_ROWS: u16 = 24;
const CONSOLE_COLS: u16 = 80;

/// Times and peak resident sets of the runs of one row, printed after the group.
#[derive(Default)]
struct Runs {
    times: Vec<Duration>,
    rss: Vec<f64>,
}

impl Runs {
    fn print(&mut self, label: &str) {
        if self.times.is_empty() {
            return;
        }
        self.times.sort();
        self.rss.sort_by(f64::total_cmp);
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let rss = if self.rss.is_empty() {
            "n/a".to_string()
        } else {
            format!(
                "{:.1} MiB (max {:.1})",
                self.rss[self.rss.len() / 2],
                self.rss[self.rss.len() - 1]
            )
        };
        eprintln!(
            "{label}: {} runs, median {:.0} ms, min {:.0} ms, max {:.0} ms; peak RSS median {rss}; load {}",
            self.times.len(),
            ms(self.times[self.times.len() / 2]),
            ms(self.times[0]),
            ms(self.times[self.times.len() - 1]),
            load_average()
        );
    }
}

/// Spawn `cmd` in an 80x24 pseudo-terminal and time it until `needle` is on the parsed screen;
/// the process's peak resident set (`VmHWM`) is read just before it is killed.
fn time_to_screen(cmd: portable_pty::CommandBuilder, needle: &str, timeout: Duration, runs: &mut Runs) -> Duration {
    let start = Instant::now();
    let pty = Pty::spawn(cmd, CONSOLE_ROWS, CONSOLE_COLS);
    let shown = pty.wait(timeout, |s| s.contents().contains(needle));
    let took = start.elapsed();
    assert!(
        shown.is_some(),
        "{needle:?} never showed in {timeout:?}\n{}",
        pty.text()
    );
    if let Some(m) = pty.pid().and_then(vm_hwm_mib) {
        runs.rss.push(m);
    }
    runs.times.push(took);
    took
}

/// The console opening an incident of `n` events from 1 and 4 writers, timed from spawn until the
/// last note's text is on the parsed 80x24 screen, beside `less -S +G` of the logs (until their
/// last line is on screen) in the same run.
fn bench_console(c: &mut Criterion) {
    let Some(bin) = find_binary() else {
        eprintln!("no warroom binary: console/ skipped");
        return;
    };
    let less = Path::new("/usr/bin/less").is_file();
    for (n, label) in sizes() {
        for writers in [1, 4] {
            let fx = OnceCell::new();
            let fx = || fx.get_or_init(|| open_fx(n, writers));
            let timeout = Duration::from_secs(if n >= 1_000_000 { 300 } else { 120 });
            let name = format!("console/{label}/{writers}w");
            let mut g = c.benchmark_group(&name);
            g.sample_size(10)
                .sampling_mode(SamplingMode::Flat)
                .warm_up_time(Duration::from_millis(1))
                .measurement_time(Duration::from_secs(1));
            let mut rows: Vec<(&str, Runs)> = Vec::new();
            if less {
                let mut runs = Runs::default();
                g.bench_function("floor: less -S +G", |b| {
                    let fx = fx();
                    // The last line of the last log (its start: `(v:1,id:"<ULID>"`, unique).
                    let last_log = fx.logs.last().expect("a log");
                    let text = std::fs::read_to_string(last_log).expect("read the log");
                    let needle: String = text.lines().last().unwrap_or_default().chars().take(36).collect();
                    b.iter_custom(|iters| {
                        (0..iters)
                            .map(|_| {
                                let mut cmd = fx.root.pty_cmd(Path::new("/bin/sh"));
                                // One log: less on the file; several: their concatenation, the
                                // last log's last line last.
                                cmd.args([
                                    "-c",
                                    "if [ $# -eq 1 ]; then exec less -S +G \"$1\"; else cat \"$@\" | less -S +G; fi",
                                    "sh",
                                ]);
                                cmd.args(&fx.logs);
                                time_to_screen(cmd, &needle, timeout, &mut runs)
                            })
                            .sum()
                    })
                });
                rows.push(("floor: less -S +G", runs));
            }
            for (row, cold) in [
                (
                    "warroom open (last note on screen), warm: local summaries and log cache kept",
                    false,
                ),
                (
                    "warroom open (last note on screen), cold: no local summaries, no log cache",
                    true,
                ),
            ] {
                let mut runs = Runs::default();
                g.bench_function(row, |b| {
                    let fx = fx();
                    let needle = note_mark(n - 1);
                    b.iter_custom(|iters| {
                        (0..iters)
                            .map(|_| {
                                if cold {
                                    fx.root.drop_cache();
                                    fx.root.drop_log_cache();
                                }
                                let mut cmd = fx.root.pty_cmd(&bin);
                                cmd.args(["open", fx.id.as_str()]);
                                time_to_screen(cmd, &needle, timeout, &mut runs)
                            })
                            .sum()
                    })
                });
                rows.push((row, runs));
            }
            g.finish();
            for (row, mut runs) in rows {
                runs.print(&format!("{name}/{row}"));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// list and the board over many incidents

struct ManyFx {
    root: Root,
    logs: Vec<PathBuf>,
}

fn incidents_wanted() -> usize {
    std::env::var("WARROOM_BENCH_INCIDENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000)
}

fn many_fx(k: usize) -> ManyFx {
    let start = Instant::now();
    let root = Root::new("warroom-scale-");
    let playbook = bench_playbook();
    for i in 0..k {
        let id = root.declare(&format!("bench list {i}"), &playbook);
        root.fill(&id, 1, 100);
    }
    let logs = root.logs();
    eprintln!(
        "fixture: {k} incidents x 100 events, built in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    settle();
    ManyFx { root, logs }
}

fn board_worker(store: &Store) -> warroom::tui::worker::Worker {
    let identity = Identity {
        writer: WriterId {
            name: "w0".into(),
            host: HOST.into(),
        },
        install: "bench1".into(),
    };
    warroom::tui::worker::Worker::new(store.clone(), identity, now_ms, Arc::new(|m| drop(black_box(m))))
}

fn bench_many(c: &mut Criterion) {
    let bin = find_binary();
    let k = incidents_wanted();
    let fx = OnceCell::new();
    let fx = || fx.get_or_init(|| many_fx(k));

    let mut g = c.benchmark_group(format!("list/{k}x100"));
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(5));
    g.bench_function("floor: read every log", |b| {
        let fx = fx();
        b.iter(|| black_box(read_all(&fx.logs)))
    });
    if let Some(bin) = &bin {
        g.bench_function("floor: cat every log", |b| {
            let fx = fx();
            b.iter(|| run(&mut cat(&fx.logs)))
        });
        g.bench_function("warroom list --json, cold", |b| {
            let fx = fx();
            b.iter_batched(
                || fx.root.drop_cache(),
                |()| run(Command::new(bin).args(["list", "--json"]).envs(fx.root.env())),
                BatchSize::PerIteration,
            )
        });
        g.bench_function("warroom list --json, warm", |b| {
            let fx = fx();
            run(Command::new(bin).args(["list", "--json"]).envs(fx.root.env()));
            b.iter(|| run(Command::new(bin).args(["list", "--json"]).envs(fx.root.env())))
        });
    }
    g.finish();

    let mut g = c.benchmark_group(format!("board/{k}x100"));
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(5));
    g.bench_function("first pass, cold", |b| {
        let fx = fx();
        b.iter_batched(
            || {
                fx.root.drop_cache();
                board_worker(&fx.root.store)
            },
            |mut w| {
                w.reconcile_board();
                w
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("first pass, warm", |b| {
        let fx = fx();
        board_worker(&fx.root.store).reconcile_board();
        b.iter_batched(
            || board_worker(&fx.root.store),
            |mut w| {
                w.reconcile_board();
                w
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("idle rescan", |b| {
        let fx = fx();
        let mut w = board_worker(&fx.root.store);
        w.reconcile_board();
        b.iter(|| w.reconcile_board())
    });
    g.finish();
}

// ---------------------------------------------------------------------------------------------
// import

/// A JSON-lines export of `n` entries (about 150 bytes a line), each with its own time.
fn import_input(dir: &Path, n: usize) -> PathBuf {
    use std::io::Write as _;
    let path = dir.join(format!("import-{n}.jsonl"));
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).expect("create the input"));
    for i in 0..n {
        writeln!(
            out,
            "{{\"text\":\"chat: checked fin-ws-{i:07} for the dropper: nothing found\",\"occurred\":\"2026-01-01T{:02}:{:02}:{:02}Z\",\"tags\":[\"chat\"]}}",
            (i / 3600) % 24,
            (i / 60) % 60,
            i % 60
        )
        .expect("write the input");
    }
    out.flush().expect("flush the input");
    path
}

/// Run `cmd` with `input` on stdin under `/usr/bin/time`: elapsed seconds and peak RSS (MiB).
fn timed_with_input(cmd: &Command, input: &Path) -> Option<(f64, f64)> {
    let out = tempfile::NamedTempFile::new().ok()?;
    let status = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%e %M")
        .arg("-o")
        .arg(out.path())
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .envs(cmd.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .stdin(std::fs::File::open(input).ok()?)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()?;
    assert!(status.success(), "{cmd:?} failed");
    let text = std::fs::read_to_string(out.path()).ok()?;
    let mut parts = text.split_whitespace();
    let secs: f64 = parts.next()?.parse().ok()?;
    let kib: f64 = parts.next()?.parse().ok()?;
    Some((secs, kib / 1024.0))
}

/// `warroom import` of 100k lines (1M with `WARROOM_BENCH_1M=1`) into a fresh incident each
/// time, beside `cat` of the same input; peak RSS printed, not timed.
fn bench_import(c: &mut Criterion) {
    let Some(bin) = find_binary() else { return };
    let mut sizes = vec![(100_000, "100k")];
    if std::env::var_os("WARROOM_BENCH_1M").is_some() {
        sizes.push((1_000_000, "1M"));
    }
    for (n, label) in sizes {
        let root = Root::new("warroom-scale-");
        let input = import_input(root.tmp.path(), n);
        let playbook = bench_playbook();
        let fresh = || root.declare("bench import", &playbook);
        let import = |id: &str| {
            let mut c = Command::new(&bin);
            c.args(["import", id]).envs(root.env());
            c
        };
        let mut g = c.benchmark_group(format!("import/{label}"));
        g.sample_size(10)
            .sampling_mode(SamplingMode::Flat)
            .warm_up_time(Duration::from_millis(100))
            .measurement_time(Duration::from_secs(if n >= 1_000_000 { 60 } else { 10 }));
        g.bench_function("floor: cat the input", |b| {
            b.iter(|| {
                let input = std::fs::File::open(&input).expect("input");
                let out = Command::new("cat").stdin(input).stdout(Stdio::null()).status();
                assert!(out.is_ok_and(|s| s.success()));
            })
        });
        g.bench_function("warroom import", |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let id = fresh();
                    let start = Instant::now();
                    let stdin = std::fs::File::open(&input).expect("input");
                    let out = import(&id)
                        .stdin(stdin)
                        .stdout(Stdio::null())
                        .stderr(Stdio::piped())
                        .output();
                    total += start.elapsed();
                    let out = out.expect("spawn import");
                    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
                    let _ = std::fs::remove_dir_all(root.store.incident_dir(&id));
                }
                total
            })
        });
        g.finish();
        let id = fresh();
        let warroom = timed_with_input(&import(&id), &input);
        let cat = timed_with_input(&Command::new("cat"), &input);
        let said = |m: Option<(f64, f64)>| m.map_or_else(|| "n/a".into(), |(s, r)| format!("{s:.2} s, {r:.1} MiB"));
        let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        eprintln!(
            "import/{label} once: warroom import {} (time, peak RSS); floor: cat {}; input {:.1} MiB; load {}",
            said(warroom),
            said(cat),
            std::fs::metadata(&input).map_or(0, |m| m.len()) as f64 / (1 << 20) as f64,
            load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
        );
    }
}

criterion_group!(benches, bench_console, bench_open, bench_many, bench_import);
criterion_main!(benches);
