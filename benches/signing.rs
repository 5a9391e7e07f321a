//! What SSH-signed records cost (issue 11). See README, "Signed records", for the figures.
//!
//! ```text
//! cargo bench --bench signing
//! ```
//!
//! Groups:
//! - `signed_append`: one `LogWriter::append` of one note (one write, one `sync_data`): unsigned,
//!   signed with an ed25519 key file, and signed through a real `ssh-agent` (started here with
//!   `ssh-agent -D`, skipped if OpenSSH is missing).
//! - `verify_100k`: an incident of 100k notes, each written alone and signed (100k signatures,
//!   200k lines): `warroom verify`'s walk (`store::verify::verify`) and a full read and fold with
//!   every signature checked (`Incident::open`, the local cache of checked signatures emptied
//!   first), and the same open again with the signatures found in that cache. Throughput is in
//!   records (notes) per second.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};

use warroom::cli::context::now_ms;
use warroom::domain::event::{self, Body, Event, Mode, Note, Signed};
use warroom::domain::identity::WriterId;
use warroom::domain::signing::{event_message, NS_EVENT};
use warroom::signer::Signer;
use warroom::store::incident::{declare, DeclareRequest, Incident};
use warroom::store::playbooks::Library;
use warroom::store::writer::{Draft, LogWriter};
use warroom::store::{install_id, Identity, RootChoice, RootSource, Store};

struct Fixture {
    tmp: tempfile::TempDir,
    store: Store,
    identity: Identity,
    id: String,
}

fn fixture(signer: Option<Arc<Signer>>, allowed: &str) -> Fixture {
    let tmp = tempfile::Builder::new()
        .prefix("warroom-bench-sign-")
        .tempdir()
        .expect("tmp");
    let base = tmp.path();
    let mut store = Store::open(
        &RootChoice {
            path: base.join("shared"),
            source: RootSource::Flag,
        },
        base.join("state"),
        base.join("run"),
    )
    .expect("store");
    std::fs::write(base.join("shared").join("allowed_signers"), allowed).expect("allowed");
    store.signer = signer;
    let identity = Identity {
        writer: WriterId {
            name: "bench".into(),
            host: "benchhost".into(),
        },
        install: install_id(&store.state_dir).expect("install"),
    };
    let playbook = Library::built_in().resolve("ransomware").expect("playbook");
    let (id, _) = declare(
        &store,
        &identity,
        DeclareRequest {
            playbook: &playbook,
            title: "bench signing".into(),
            severity: 2,
            mode: Mode::Exercise,
            commander: "bench".into(),
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

fn note(i: usize) -> Note {
    Note {
        text: format!("checked fin-ws-{i:06} for the dropper and the scheduled task: nothing found, host cleared")
            .into(),
        tags: vec!["triage".into()].into(),
    }
}

/// A key made by ssh-keygen (if present) in `dir`, and an agent holding it.
struct Agent {
    child: Child,
    sock: PathBuf,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn keygen(dir: &Path) -> Option<PathBuf> {
    let key = dir.join("id_ed25519");
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .ok()?
        .success();
    ok.then_some(key)
}

fn agent(dir: &Path, key: &Path) -> Option<Agent> {
    let sock = dir.join("agent.sock");
    let child = Command::new("ssh-agent")
        .arg("-D")
        .arg("-a")
        .arg(&sock)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let a = Agent { child, sock };
    let t0 = Instant::now();
    while !a.sock.exists() && t0.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let added = Command::new("ssh-add")
        .arg("-q")
        .arg(key)
        .env("SSH_AUTH_SOCK", &a.sock)
        .status()
        .ok()?
        .success();
    added.then_some(a)
}

fn bench_append(c: &mut Criterion) {
    let keys = tempfile::tempdir().expect("tmp");
    let Some(key) = keygen(keys.path()) else {
        eprintln!("signed_append: skipped (no ssh-keygen)");
        return;
    };
    let public = std::fs::read_to_string(key.with_extension("pub")).expect("pub");
    let allowed = format!("bench {public}");
    let file_signer = Arc::new(Signer::from_spec(key.to_str().expect("utf8")).expect("key file"));
    let mut g = c.benchmark_group("signed_append");
    g.sample_size(30).measurement_time(Duration::from_secs(4));
    let mut i = 0;
    for (name, signer) in [("unsigned", None), ("key file (ed25519)", Some(file_signer))] {
        let fx = fixture(signer, &allowed);
        g.bench_function(name, |b| {
            let w = LogWriter::new(&fx.store, &fx.id, &fx.identity);
            b.iter(|| {
                i += 1;
                black_box(w.append(vec![Draft::new(note(i))], now_ms).expect("append"))
            })
        });
    }
    if let Some(a) = agent(keys.path(), &key) {
        // The signer reads SSH_AUTH_SOCK, as the binary does.
        std::env::set_var("SSH_AUTH_SOCK", &a.sock);
        let spec = key.with_extension("pub");
        let signer = Arc::new(Signer::from_spec(spec.to_str().expect("utf8")).expect("agent signer"));
        let fx = fixture(Some(signer), &allowed);
        g.bench_function("ssh-agent (ed25519)", |b| {
            let w = LogWriter::new(&fx.store, &fx.id, &fx.identity);
            b.iter(|| {
                i += 1;
                black_box(w.append(vec![Draft::new(note(i))], now_ms).expect("append"))
            })
        });
    } else {
        eprintln!("signed_append: ssh-agent skipped (no ssh-agent)");
    }
    g.finish();
}

/// Write `n` notes to the fixture's log, each followed by its own signature, as a signing
/// writer that writes one note per command leaves them (built in memory: no fsync per note).
fn fill_signed(fx: &Fixture, signer: &Signer, n: usize) {
    let w = LogWriter::new(&fx.store, &fx.id, &fx.identity);
    let path = w.log_path();
    let text = std::fs::read_to_string(&path).expect("log");
    let last = text.lines().last().expect("declared");
    let mut prev = event::line_hash(last.as_bytes());
    let mut seq = text.lines().count() as u64;
    let writer = fx.identity.writer.to_string();
    let log = fx.identity.log_id();
    let t0 = now_ms();
    let mut out = String::with_capacity(n * 900);
    for i in 0..n {
        for body in [Some(Body::Note(note(i))), None] {
            seq += 1;
            let body = body.unwrap_or_else(|| {
                Body::Signed(Box::new(Signed {
                    head: prev.clone(),
                    key: signer.fingerprint().to_string(),
                    sig: signer
                        .sign(NS_EVENT, event_message(Some(&log), &prev).as_bytes())
                        .expect("sign"),
                    log: Some(log.clone()),
                }))
            });
            let e = Event {
                id: ulid::Ulid::new().to_string().into(),
                at: t0 + seq as i64,
                wall: t0 + seq as i64,
                occurred: warroom::domain::event::Occurred::NONE,
                seq,
                body,
                log: warroom::domain::event::Name::with_writer(log.as_str(), writer.as_str().into()),
            };
            let line = event::encode(&e, &prev.as_str().into()).expect("encode");
            prev = event::line_hash(line.as_bytes());
            out.push_str(&line);
            out.push('\n');
        }
    }
    let mut all = text;
    all.push_str(&out);
    std::fs::write(&path, all).expect("write");
}

fn bench_verify(c: &mut Criterion) {
    let keys = tempfile::tempdir().expect("tmp");
    let Some(key) = keygen(keys.path()) else {
        eprintln!("verify_100k: skipped (no ssh-keygen)");
        return;
    };
    let public = std::fs::read_to_string(key.with_extension("pub")).expect("pub");
    let signer = Signer::from_spec(key.to_str().expect("utf8")).expect("key file");
    let fx = fixture(None, &format!("bench {public}"));
    // The Declared record is unsigned here; the 100k notes are.
    const N: usize = 100_000;
    let t = Instant::now();
    fill_signed(&fx, &signer, N);
    eprintln!(
        "verify_100k: fixture of {N} signed notes built in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let r = warroom::store::verify::verify(&fx.store, &fx.id);
    assert!(r.errors.is_empty(), "{:?}", r.errors.first());
    // The declaration before them is covered too: the chain links it to the first signature.
    assert_eq!(r.signing.first().map(|s| s.covered), Some(N as u64 + 1));
    let mut g = c.benchmark_group("verify_100k");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .throughput(Throughput::Elements(N as u64));
    g.bench_function("warroom verify (chain + 100k signatures)", |b| {
        b.iter(|| black_box(warroom::store::verify::verify(&fx.store, &fx.id)))
    });
    // Every open checks every signature: the local cache of checked signatures is emptied first.
    let cache_dir = fx.store.state_dir.join("sigcache");
    let empty_cache = || {
        for e in std::fs::read_dir(&cache_dir).into_iter().flatten().flatten() {
            if e.file_name().to_string_lossy().ends_with(".sigs") {
                let _ = std::fs::remove_file(e.path());
            }
        }
    };
    g.bench_function("Incident::open (read, check 100k signatures, fold)", |b| {
        b.iter_batched(
            empty_cache,
            |()| black_box(Incident::open(&fx.store, &fx.id, now_ms())),
            criterion::BatchSize::PerIteration,
        )
    });
    // Opened before on this host: the signatures come from the cache.
    black_box(Incident::open(&fx.store, &fx.id, now_ms()));
    g.bench_function(
        "Incident::open again (100k signatures from the local cache, fold)",
        |b| b.iter(|| black_box(Incident::open(&fx.store, &fx.id, now_ms()))),
    );
    g.finish();
    drop(fx.tmp);
}

criterion_group!(benches, bench_append, bench_verify);
criterion_main!(benches);
