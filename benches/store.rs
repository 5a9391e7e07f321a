//! Store benchmarks: what a write costs, what reading an incident costs, and what one
//! `warroom note` costs on a long incident. See `benches/README.md` for the figures.
//!
//! ```text
//! cargo bench --bench store                 # everything (a few minutes; builds a 1M-event log)
//! cargo bench --bench store -- append       # one group
//! WARROOM_BENCH_DIR=/mnt/nfs cargo bench --bench store   # put the temp folders elsewhere
//! ```
//!
//! Groups:
//! - `append`: one `LogWriter::append` of one note, and of 1000 notes (one write and one
//!   `sync_data` per append), beside a bare `pwrite`+`fdatasync` of one record-sized line.
//! - `load_100k`: an incident of 100k note events: `fs::read` of the log, `event::parse` of every
//!   line, `IncidentState::fold` of the parsed events, and `Incident::open` (all of it); and an
//!   open reader taking one teammate's note (`Incident::refresh` after one append, which checks
//!   that the bytes already read are unchanged: the last 64 KiB block and 256 KiB more in turn).
//! - `cli_note`: spawning the real binary for `warroom note` on a 10-event and a 1M-event
//!   incident, beside spawning `/bin/true` and beside the same append done in-process.
//! - `record_store/<n>k, unsorted occurred`: the fold's record store taking 100k records (1M
//!   with `WARROOM_BENCH_1M=1`) from 4 interleaved logs whose `occurred` times are in no
//!   order, in parts of 4,096 as a long read hands them to the console, beside one batch.

use std::cell::OnceCell;
use std::hint::black_box;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, SamplingMode, Throughput};

use warroom::cli::context::now_ms;
use warroom::domain::event::{self, Event, Mode, Note};
use warroom::domain::identity::WriterId;
use warroom::domain::{IncidentState, Playbook};
use warroom::store::incident::{declare, DeclareRequest, Incident};
use warroom::store::playbooks::Library;
use warroom::store::writer::{Draft, LogWriter};
use warroom::store::{install_id, Identity, RootChoice, RootSource, Store};

/// The writer every fixture (and the spawned binary) uses, so the binary appends to the same log.
const NAME: &str = "bench";
const HOST: &str = "benchhost";
/// Drafts per `append` while building fixtures (bounds the memory of one append).
const FILL_BATCH: usize = 50_000;

/// A shared directory, state and lock folders in one temp folder, with one declared incident.
struct Fixture {
    tmp: tempfile::TempDir,
    store: Store,
    identity: Identity,
    id: String,
}

impl Fixture {
    fn new(title: &str) -> Fixture {
        let mut builder = tempfile::Builder::new();
        builder.prefix("warroom-bench-");
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
        let identity = Identity {
            writer: WriterId {
                name: NAME.into(),
                host: HOST.into(),
            },
            install: install_id(&store.state_dir).expect("install id"),
        };
        let playbook = bench_playbook();
        let (id, _) = declare(
            &store,
            &identity,
            DeclareRequest {
                playbook: &playbook,
                title: title.into(),
                severity: 2,
                mode: Mode::Exercise,
                commander: NAME.into(),
                require_signatures: false,
                occurred: None,
            },
            now_ms,
        )
        .expect("declare");
        Fixture {
            tmp,
            store,
            identity,
            id,
        }
    }

    fn writer(&self) -> LogWriter<'_> {
        LogWriter::new(&self.store, &self.id, &self.identity)
    }

    fn log_path(&self) -> PathBuf {
        self.writer().log_path()
    }

    /// Append notes until the log holds `total` events (the Declared event counts).
    fn fill_to(&self, total: usize) -> &Self {
        let start = Instant::now();
        let writer = self.writer();
        let mut have = 1;
        while have < total {
            let n = (total - have).min(FILL_BATCH);
            let drafts = (have..have + n).map(|i| Draft::new(note(i))).collect();
            writer.append(drafts, now_ms).expect("fill append");
            have += n;
        }
        let bytes = std::fs::metadata(self.log_path()).map_or(0, |m| m.len());
        eprintln!(
            "fixture: {total} events, {:.1} MiB ({} B/event), built in {:.1} s",
            bytes as f64 / (1 << 20) as f64,
            bytes / total as u64,
            start.elapsed().as_secs_f64()
        );
        self
    }

    /// The environment that makes the binary use this fixture's folders and identity.
    fn env(&self) -> Vec<(&'static str, PathBuf)> {
        let base = self.tmp.path();
        vec![
            ("WARROOM_DIR", base.join("shared")),
            ("WARROOM_STATE_DIR", base.join("state")),
            ("XDG_RUNTIME_DIR", base.join("run")),
            ("XDG_CONFIG_HOME", base.join("config")),
            ("WARROOM_USER", NAME.into()),
            ("WARROOM_HOST", HOST.into()),
        ]
    }
}

/// The built-in ransomware playbook (or, if it does not resolve in this tree, any built-in one).
fn bench_playbook() -> Playbook {
    let lib = Library::built_in();
    lib.resolve("ransomware")
        .or_else(|errors| {
            eprintln!("ransomware playbook does not resolve ({errors:?}); using another built-in");
            lib.visible()
                .iter()
                .find_map(|e| lib.resolve(&e.playbook.id).ok())
                .ok_or(errors)
        })
        .expect("a built-in playbook that resolves")
}

/// A note of a realistic size.
fn note(i: usize) -> Note {
    Note {
        text: format!("checked fin-ws-{i:06} for the dropper and the scheduled task: nothing found, host cleared")
            .into(),
        tags: vec!["triage".into()].into(),
    }
}

// ---------------------------------------------------------------------------------------------
// 1. append + fsync

fn bench_append(c: &mut Criterion) {
    let fx = Fixture::new("bench append");
    let writer = fx.writer();
    let mut g = c.benchmark_group("append");
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));

    // The floor: what the file system charges for one durable small write.
    let raw_path = fx.tmp.path().join("raw.bin");
    let raw = std::fs::File::create(&raw_path).expect("raw file");
    let line = vec![b'x'; 250];
    let mut off = 0u64;
    g.throughput(Throughput::Elements(1));
    g.bench_function("raw pwrite+fdatasync 250B", |b| {
        b.iter(|| {
            raw.write_all_at(&line, off).unwrap();
            raw.sync_data().unwrap();
            off += line.len() as u64;
        })
    });

    let mut i = 0;
    g.bench_function("1 note per append", |b| {
        b.iter(|| {
            i += 1;
            black_box(writer.append(vec![Draft::new(note(i))], now_ms).unwrap());
        })
    });

    g.throughput(Throughput::Elements(1000));
    g.bench_function("1000 notes per append", |b| {
        b.iter_batched(
            || (0..1000).map(|k| Draft::new(note(k))).collect::<Vec<_>>(),
            |drafts| black_box(writer.append(drafts, now_ms).unwrap()),
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

// ---------------------------------------------------------------------------------------------
// 2. load + fold of 100k events

/// The 100k-event incident and its log, read and parsed once outside the timings.
struct LoadData {
    fx: Fixture,
    log: PathBuf,
    text: String,
    events: Vec<Event>,
    playbooks: Vec<(String, Playbook)>,
}

const LOAD_N: usize = 100_000;

fn load_data() -> LoadData {
    let fx = Fixture::new("bench load");
    fx.fill_to(LOAD_N);
    let log = fx.log_path();
    let text = std::fs::read_to_string(&log).expect("read log");
    let events: Vec<Event> = text.lines().map(|l| event::parse(l).unwrap()).collect();
    assert_eq!(events.len(), LOAD_N);
    let playbook = bench_playbook();
    let playbooks = vec![(playbook.content_hash(), playbook)];
    {
        let inc = Incident::open(&fx.store, &fx.id, now_ms());
        assert_eq!(inc.state.event_count(), LOAD_N, "Incident::open saw every event");
        assert!(inc.problems().is_empty(), "{:?}", inc.problems());
    }
    LoadData {
        fx,
        log,
        text,
        events,
        playbooks,
    }
}

fn bench_load(c: &mut Criterion) {
    // Built on first use, so `cargo bench -- append` does not build it.
    let data = OnceCell::new();
    let data = || data.get_or_init(load_data);

    let mut g = c.benchmark_group("load_100k");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8))
        .throughput(Throughput::Elements(LOAD_N as u64));

    g.bench_function("fs::read", |b| {
        let d = data();
        b.iter(|| black_box(std::fs::read(&d.log).unwrap()))
    });
    g.bench_function("parse every line", |b| {
        let d = data();
        b.iter(|| {
            let n = d.text.lines().map(|l| event::parse(l).unwrap()).map(black_box).count();
            assert_eq!(n, LOAD_N);
        })
    });
    g.bench_function("fold parsed events", |b| {
        let d = data();
        b.iter_batched(
            || (d.playbooks.clone(), d.events.clone()),
            |(p, e)| black_box(IncidentState::fold(d.fx.id.as_str(), p, e)),
            BatchSize::PerIteration,
        )
    });
    g.bench_function("Incident::open (read+parse+fold)", |b| {
        let d = data();
        b.iter(|| black_box(Incident::open(&d.fx.store, &d.fx.id, now_ms())))
    });
    g.finish();

    // One teammate's note on a reader left open (the console's pass): the append is not timed.
    let mut g = c.benchmark_group("live_100k");
    g.sample_size(30).warm_up_time(Duration::from_secs(1));
    g.bench_function("refresh after one appended note", |b| {
        let d = data();
        let mut live = Incident::open(&d.fx.store, &d.fx.id, now_ms());
        let mut i = LOAD_N;
        b.iter_batched(
            || {
                i += 1;
                d.fx.writer().append(vec![Draft::new(note(i))], now_ms).expect("append");
            },
            |()| {
                let fresh = live.refresh(now_ms());
                assert_eq!(fresh.len(), 1);
                black_box(fresh)
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

// ---------------------------------------------------------------------------------------------
// 3. `warroom note` on a 1M-event incident, beside `true`

/// The release binary next to this bench: `target/release/deps/store-… → target/release/warroom`.
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

fn spawn(cmd: &mut Command) {
    let out = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("spawn");
    assert!(
        out.status.success(),
        "{:?} failed: {}",
        cmd,
        String::from_utf8_lossy(&out.stderr)
    );
}

fn note_cmd(bin: &Path, fx: &Fixture) -> Command {
    let mut cmd = Command::new(bin);
    cmd.args(["note", &fx.id, "isolated fin-ws-000042 from the network"])
        .env_remove("WARROOM_CLOCK_SKEW_MS")
        .envs(fx.env());
    cmd
}

/// Check that the binary appends to the fixture's own log (same identity and install id).
fn check_binary_uses(bin: &Path, fx: &Fixture) {
    spawn(&mut note_cmd(bin, fx));
    let logs = std::fs::read_dir(fx.log_path().parent().unwrap())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".ronl"))
        .count();
    assert_eq!(logs, 1, "the binary wrote to a different log than the fixture");
}

/// Let the file system finish with the 300 MiB just written, so its writeback does not land in
/// the next timings (without this, the first benchmark after the fixture reads ~50% slower).
fn settle() {
    let _ = Command::new("sync").status();
    std::thread::sleep(Duration::from_secs(3));
}

fn bench_cli(c: &mut Criterion) {
    let Some(bin) = find_binary() else {
        eprintln!(
            "cli_note: skipped: no warroom binary beside {:?} (build it with `cargo build --release`, or set WARROOM_BIN)",
            std::env::current_exe().ok()
        );
        return;
    };
    eprintln!("cli_note: using {}", bin.display());
    // Built on first use, so a filtered run does not build the 1M-event log.
    let (small, big) = (OnceCell::new(), OnceCell::new());
    let small = || {
        small.get_or_init(|| {
            let fx = Fixture::new("bench cli small");
            fx.fill_to(10);
            check_binary_uses(&bin, &fx);
            fx
        })
    };
    let big = || {
        big.get_or_init(|| {
            let fx = Fixture::new("bench cli big");
            fx.fill_to(1_000_000);
            check_binary_uses(&bin, &fx);
            settle();
            fx
        })
    };
    let t = Path::new("/bin/true");
    let truth = if t.is_file() { t } else { Path::new("/usr/bin/true") };

    let mut g = c.benchmark_group("cli_note");
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    g.bench_function("spawn /bin/true", |b| b.iter(|| spawn(&mut Command::new(truth))));
    g.bench_function("warroom note, 10 events", |b| {
        let fx = small();
        b.iter(|| spawn(&mut note_cmd(&bin, fx)))
    });
    g.bench_function("warroom note, 1M events", |b| {
        let fx = big();
        b.iter(|| spawn(&mut note_cmd(&bin, fx)))
    });
    // The same append without a process, to split process cost from write cost.
    let mut i = 0;
    g.bench_function("in-process append, 10 events", |b| {
        let writer = small().writer();
        b.iter(|| {
            i += 1;
            black_box(writer.append(vec![Draft::new(note(i))], now_ms).unwrap());
        })
    });
    g.bench_function("in-process append, 1M events", |b| {
        let writer = big().writer();
        b.iter(|| {
            i += 1;
            black_box(writer.append(vec![Draft::new(note(i))], now_ms).unwrap());
        })
    });
    g.finish();
}

/// Records from `logs` interleaved logs whose `occurred` times are in no order (an import of a
/// firewall log, alerts replayed): record `i` of log `w` is at `T + 4i + w` ms, said to have
/// happened at a time of day that wraps every 86,400 records.
fn scattered(n: usize, logs: usize) -> Vec<Event> {
    const T: i64 = 1_764_000_000_000;
    (0..n)
        .map(|k| {
            let (i, w) = (k / logs, k % logs);
            Event {
                id: format!("{k:026}").into(),
                at: T + 4 * i as i64 + w as i64,
                wall: T + 4 * i as i64 + w as i64,
                occurred: event::Occurred::new(Some(T - 86_400_000 + (i as i64 % 86_400) * 1000)),
                log: format!("w{w}@bench.inst01").as_str().into(),
                seq: i as u64 + 1,
                body: Note {
                    text: "x".into(),
                    tags: Default::default(),
                }
                .into(),
            }
        })
        .collect()
}

/// The record store's two orders (`domain::record_store`) taking records in the parts a long
/// read hands the console (4,096 records each), where each part's timeline places scatter over
/// the whole timeline: a few comparisons a record and one move of the tail per part (before
/// stop 27, a comparison per record held, per part). Beside it, the same records in one batch
/// (one sort: the floor).
fn bench_record_store(c: &mut Criterion) {
    use warroom::domain::record_store::RecordStore;
    let sizes: &[usize] = if std::env::var_os("WARROOM_BENCH_1M").is_some() {
        &[100_000, 1_000_000]
    } else {
        &[100_000]
    };
    for &n in sizes {
        let records = scattered(n, 4);
        let mut g = c.benchmark_group(format!("record_store/{}k, unsorted occurred", n / 1000));
        g.sample_size(10);
        g.throughput(Throughput::Elements(n as u64));
        let fill = |part: usize| {
            let mut store = RecordStore::default();
            for chunk in records.chunks(part) {
                store.begin_batch();
                for e in chunk {
                    store.insert(e.clone());
                }
                store.finish_batch();
            }
            store
        };
        g.bench_function("floor: one batch (one sort)", |b| b.iter_with_large_drop(|| fill(n)));
        g.bench_function("parts of 4096", |b| b.iter_with_large_drop(|| fill(4096)));
        g.finish();
    }
}

criterion_group!(benches, bench_append, bench_load, bench_cli, bench_record_store);
criterion_main!(benches);
