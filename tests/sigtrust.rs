//! Issue 11, the trust inputs: what a reader judged against one `allowed_signers` is judged
//! again when it changes, so a long-running reader (the console) shows what a fresh start shows.
//! Through the library (the console's `Source`/`View` path, as `Incident::refresh` drives it),
//! with keys made by `ssh-keygen`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use warroom::cli::context::now_ms;
use warroom::cli::read::state_json;
use warroom::domain::event::{Mode, Note};
use warroom::domain::identity::WriterId;
use warroom::report::timeline_json;
use warroom::signer::Signer;
use warroom::store::incident::{declare, DeclareRequest, Incident};
use warroom::store::playbooks::Library;
use warroom::store::writer::{Draft, LogWriter};
use warroom::store::{Identity, RootChoice, RootSource, Store};

fn keygen(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&path)
        .env("HOME", dir)
        .output()
        .expect("ssh-keygen (install openssh-client)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    path
}

fn public(key: &Path) -> String {
    std::fs::read_to_string(key.with_extension("pub"))
        .expect("pub")
        .trim()
        .to_string()
}

/// A writer's own store (own state directory) on the shared root, signing with `key`.
fn writer(base: &Path, name: &str, key: &Path, trust_file: Option<&Path>) -> (Store, Identity) {
    let mut store = Store::open(
        &RootChoice {
            path: base.join("shared"),
            source: RootSource::Flag,
        },
        base.join(format!("state-{name}")),
        base.join("run"),
    )
    .expect("store");
    store.signer = Some(Arc::new(
        Signer::from_spec(key.to_str().expect("utf8")).expect("key file"),
    ));
    store.trust.allowed_signers = trust_file.map(Path::to_path_buf);
    let identity = Identity {
        writer: WriterId {
            name: name.into(),
            host: "jump".into(),
        },
        install: format!("{name:a<6}")[..6].to_string(),
    };
    (store, identity)
}

/// Everything a reader shows of an incident, at one `now`: state, timeline with flags,
/// problems, and who signed each record.
fn seen(inc: &Incident, now: i64) -> String {
    let mut problems: Vec<String> = inc
        .problems()
        .iter()
        .map(|p| format!("{} {:?} {}", p.source, p.line, p.what))
        .collect();
    problems.sort();
    let signed: Vec<String> = inc
        .state
        .timeline()
        .map(|e| format!("{}:{} {:?}", e.log, e.seq, inc.state.signed_by(&e.log, e.seq)))
        .collect();
    format!(
        "{}\n{}\n{problems:#?}\n{signed:#?}\nrequired {}",
        state_json(inc, now),
        timeline_json(&inc.state),
        inc.state.requires_signatures()
    )
}

/// For the shared `allowed_signers` and for one the reader's config names: removing a key's
/// line and putting it back leaves a long-running reader where a fresh open is.
#[test]
fn a_reader_rejudges_signatures_when_allowed_signers_changes_as_a_fresh_open_would() {
    for config_file in [false, true] {
        let tmp = tempfile::tempdir().expect("tmp");
        let base = tmp.path();
        let alice_key = keygen(base, "alice");
        let mallory_key = keygen(base, "mallory");
        let trust_path = if config_file {
            base.join("my_allowed_signers")
        } else {
            base.join("shared").join("allowed_signers")
        };
        std::fs::create_dir_all(base.join("shared")).expect("shared");
        let both = format!("alice {}\nmallory {}\n", public(&alice_key), public(&mallory_key));
        let alice_only = format!("alice {}\n", public(&alice_key));
        std::fs::write(&trust_path, &both).expect("allowed_signers");
        let cfg = config_file.then_some(trust_path.as_path());
        let (alice_store, alice) = writer(base, "alice", &alice_key, cfg);
        let (mallory_store, mallory) = writer(base, "mallory", &mallory_key, cfg);
        let playbook = Library::built_in().resolve("ransomware").expect("playbook");
        let (id, _) = declare(
            &alice_store,
            &alice,
            DeclareRequest {
                playbook: &playbook,
                title: "Signed".into(),
                severity: 2,
                mode: Mode::Real,
                commander: "alice".into(),
                require_signatures: true,
                occurred: None,
            },
            now_ms,
        )
        .expect("declare");
        let note = |text: &str| {
            Draft::new(Note {
                text: text.into(),
                tags: Default::default(),
            })
        };
        LogWriter::new(&mallory_store, &id, &mallory)
            .append(vec![note("mallory was here")], now_ms)
            .expect("mallory's note");

        // The reader: alice's console, open all along.
        let mut live = Incident::open(&alice_store, &id, now_ms());
        let mallorys = |inc: &Incident| {
            inc.state
                .timeline()
                .find(|e| e.log.starts_with("mallory@"))
                .map(|e| (e.log.clone(), e.seq))
                .expect("mallory's record is in the timeline")
        };
        let (log, seq) = mallorys(&live);
        assert_eq!(live.state.signed_by(&log, seq), Some("mallory"));
        let refused = |inc: &Incident| {
            inc.problems()
                .iter()
                .any(|p| p.what.contains("carries no valid SSH signature"))
        };
        assert!(!refused(&live), "{:?}", live.problems());

        for (allowed, mallory_signed) in [(&alice_only, false), (&both, true)] {
            std::fs::write(&trust_path, allowed).expect("rewrite allowed_signers");
            // Read again from the start, but nothing it held comes back as new (`tail
            // --follow` prints only what is new).
            assert!(live.refresh(now_ms()).is_empty());
            let now = now_ms();
            let fresh = Incident::open(&alice_store, &id, now);
            assert_eq!(seen(&live, now), seen(&fresh, now), "config file: {config_file}");
            assert_eq!(
                live.state.signed_by(&log, seq).is_some(),
                mallory_signed,
                "config file: {config_file}"
            );
            // Where signatures are required, her unsigned record is a problem, not state.
            assert_eq!(refused(&live), !mallory_signed, "{:?}", live.problems());
        }
        // A refresh with nothing changed reads nothing again.
        assert!(live.refresh(now_ms()).is_empty());
    }
}

/// The local cache of checked signatures (issue 11): a second open takes them from it and shows
/// the same; it never vouches for other signature bytes, and never for an edited entry.
#[test]
fn cached_signatures_show_the_same_and_never_vouch_for_another_signature() {
    use warroom::domain::event::{self, Body};
    let tmp = tempfile::tempdir().expect("tmp");
    let base = tmp.path();
    let alice_key = keygen(base, "alice");
    let mallory_key = keygen(base, "mallory");
    let eve_key = keygen(base, "eve");
    std::fs::create_dir_all(base.join("shared")).expect("shared");
    std::fs::write(
        base.join("shared").join("allowed_signers"),
        format!("alice {}\nmallory {}\n", public(&alice_key), public(&mallory_key)),
    )
    .expect("allowed_signers");
    let (alice_store, alice) = writer(base, "alice", &alice_key, None);
    let (mallory_store, mallory) = writer(base, "mallory", &mallory_key, None);
    let playbook = Library::built_in().resolve("ransomware").expect("playbook");
    let (id, _) = declare(
        &alice_store,
        &alice,
        DeclareRequest {
            playbook: &playbook,
            title: "Cached".into(),
            severity: 2,
            mode: Mode::Real,
            commander: "alice".into(),
            require_signatures: true,
            occurred: None,
        },
        now_ms,
    )
    .expect("declare");
    for i in 0..3 {
        LogWriter::new(&mallory_store, &id, &mallory)
            .append(
                vec![Draft::new(Note {
                    text: format!("note {i}").into(),
                    tags: Default::default(),
                })],
                now_ms,
            )
            .expect("note");
    }
    let cache_lines = || -> usize {
        std::fs::read_dir(alice_store.state_dir.join("sigcache"))
            .expect("cache folder")
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".sigs"))
            .map(|e| std::fs::read_to_string(e.path()).expect("cache").lines().count())
            .sum()
    };
    let now = now_ms();
    let first = Incident::open(&alice_store, &id, now);
    assert_eq!(cache_lines(), 4, "alice's declaration and mallory's three notes");
    let again = Incident::open(&alice_store, &id, now);
    assert_eq!(cache_lines(), 4, "nothing new to keep");
    assert_eq!(seen(&first, now), seen(&again, now));
    assert!(!first.problems().iter().any(|p| p.what.contains("signature")));

    // Mallory's last signature swapped for eve's over the same head: the cache holds a valid
    // verdict for that record, but not for these bytes.
    let log = LogWriter::new(&mallory_store, &id, &mallory).log_path();
    let mut lines: Vec<String> = std::fs::read_to_string(&log)
        .expect("log")
        .lines()
        .map(str::to_string)
        .collect();
    let last = lines.pop().expect("signed line");
    let event::Line { event: mut e, prev } = event::parse_line(&last).expect("parses");
    let eve = Signer::from_spec(eve_key.to_str().expect("utf8")).expect("eve's key");
    let Body::Signed(s) = &mut e.body else {
        panic!("the last line is a signature: {last}")
    };
    let msg = warroom::domain::signing::event_message(s.log.as_deref(), &s.head);
    s.sig = eve.sign("warroom-event", msg.as_bytes()).expect("sign");
    lines.push(event::encode(&e, &prev).expect("encode"));
    std::fs::write(&log, lines.join("\n") + "\n").expect("write");
    let swapped = Incident::open(&alice_store, &id, now_ms());
    let problems = format!("{:?}", swapped.problems());
    assert!(
        problems.contains("is not in allowed_signers for `mallory@jump`"),
        "{problems}"
    );
    assert!(
        problems.contains("carries no valid SSH signature"),
        "her last note no longer counts: {problems}"
    );
}

/// `list` and the board's cached rows follow a change of allowed_signers too: a row folded
/// under the old file is not taken from the cache.
#[test]
fn a_cached_board_row_is_folded_again_when_allowed_signers_changes() {
    use warroom::store::summary::{self, Outcome, Summary};
    let tmp = tempfile::tempdir().expect("tmp");
    let base = tmp.path();
    let alice_key = keygen(base, "alice");
    let mallory_key = keygen(base, "mallory");
    let trust_path = base.join("shared").join("allowed_signers");
    std::fs::create_dir_all(base.join("shared")).expect("shared");
    let both = format!("alice {}\nmallory {}\n", public(&alice_key), public(&mallory_key));
    std::fs::write(&trust_path, &both).expect("allowed_signers");
    let (alice_store, alice) = writer(base, "alice", &alice_key, None);
    let (mallory_store, mallory) = writer(base, "mallory", &mallory_key, None);
    let playbook = Library::built_in().resolve("ransomware").expect("playbook");
    let (id, _) = declare(
        &alice_store,
        &alice,
        DeclareRequest {
            playbook: &playbook,
            title: "Rows".into(),
            severity: 2,
            mode: Mode::Real,
            commander: "alice".into(),
            require_signatures: true,
            occurred: None,
        },
        now_ms,
    )
    .expect("declare");
    LogWriter::new(&mallory_store, &id, &mallory)
        .append(
            vec![Draft::new(Note {
                text: "signed by mallory".into(),
                tags: Default::default(),
            })],
            now_ms,
        )
        .expect("note");
    let never_racy = std::time::Duration::ZERO;
    let (row, _, _) = summary::load_with(&alice_store, &id, now_ms(), never_racy);
    assert_eq!(row.problems, 0);
    let (_, _, outcome) = summary::load_with(&alice_store, &id, now_ms(), never_racy);
    assert_eq!(outcome, Outcome::Hit);
    std::fs::write(&trust_path, format!("alice {}\n", public(&alice_key))).expect("rewrite");
    let now = now_ms();
    let (row, _, outcome) = summary::load_with(&alice_store, &id, now, never_racy);
    assert_ne!(outcome, Outcome::Hit);
    assert_eq!(row, Summary::of(&id, &Incident::open(&alice_store, &id, now)));
    assert!(row.problems > 0, "her unsigned note is refused: {row:?}");
}

/// A console's board (not the open incident) follows a change of allowed_signers on its next
/// pass: a row made under the old file is made again.
#[test]
fn the_board_makes_its_rows_again_when_allowed_signers_changes() {
    use std::sync::Mutex;
    use warroom::tui::model::{BoardRow, Msg};
    use warroom::tui::worker::Worker;
    let tmp = tempfile::tempdir().expect("tmp");
    let base = tmp.path();
    let alice_key = keygen(base, "alice");
    let mallory_key = keygen(base, "mallory");
    let trust_path = base.join("shared").join("allowed_signers");
    std::fs::create_dir_all(base.join("shared")).expect("shared");
    let both = format!("alice {}\nmallory {}\n", public(&alice_key), public(&mallory_key));
    std::fs::write(&trust_path, &both).expect("allowed_signers");
    let (alice_store, alice) = writer(base, "alice", &alice_key, None);
    let (mallory_store, mallory) = writer(base, "mallory", &mallory_key, None);
    let playbook = Library::built_in().resolve("ransomware").expect("playbook");
    let (id, _) = declare(
        &alice_store,
        &alice,
        DeclareRequest {
            playbook: &playbook,
            title: "Board".into(),
            severity: 2,
            mode: Mode::Real,
            commander: "alice".into(),
            require_signatures: true,
            occurred: None,
        },
        now_ms,
    )
    .expect("declare");
    LogWriter::new(&mallory_store, &id, &mallory)
        .append(
            vec![Draft::new(Note {
                text: "signed by mallory".into(),
                tags: Default::default(),
            })],
            now_ms,
        )
        .expect("note");
    let rows: Arc<Mutex<Vec<BoardRow>>> = Arc::default();
    let seen = rows.clone();
    let mut worker = Worker::new(
        alice_store.clone(),
        alice,
        now_ms,
        Arc::new(move |m| {
            if let Msg::Board(r) = m {
                *seen.lock().expect("lock") = r;
            }
        }),
    );
    let problems = || rows.lock().expect("lock").first().map(|r| r.problems);
    // Past the window in which a folder just written is read again anyway (`Scan::racy`), so
    // only the change of allowed_signers can make the row again.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    worker.reconcile_board();
    assert_eq!(problems(), Some(0));
    std::fs::write(&trust_path, format!("alice {}\n", public(&alice_key))).expect("rewrite");
    worker.reconcile_board();
    assert!(problems().is_some_and(|n| n > 0), "{:?}", rows.lock().expect("lock"));
}

/// Accepting a key change (deleting this host's kept copy, the shared file unchanged) while a
/// reader runs: the warning goes and the new key's records count, as on a fresh open.
#[test]
fn accepting_a_key_change_while_reading_is_taken_up_at_once() {
    let tmp = tempfile::tempdir().expect("tmp");
    let base = tmp.path();
    let alice_key = keygen(base, "alice");
    let new_key = keygen(base, "alice2");
    let trust_path = base.join("shared").join("allowed_signers");
    std::fs::create_dir_all(base.join("shared")).expect("shared");
    std::fs::write(&trust_path, format!("alice {}\n", public(&alice_key))).expect("allowed_signers");
    let (alice_store, alice) = writer(base, "alice", &alice_key, None);
    let playbook = Library::built_in().resolve("ransomware").expect("playbook");
    let (id, _) = declare(
        &alice_store,
        &alice,
        DeclareRequest {
            playbook: &playbook,
            title: "Signed".into(),
            severity: 2,
            mode: Mode::Real,
            commander: "alice".into(),
            require_signatures: false,
            occurred: None,
        },
        now_ms,
    )
    .expect("declare");
    let mut live = Incident::open(&alice_store, &id, now_ms());
    // Alice rotates the documented way: the old line kept, a new one added (a pending change
    // on this host, which kept the old file).
    std::fs::write(
        &trust_path,
        format!("alice {}\nalice {}\n", public(&alice_key), public(&new_key)),
    )
    .expect("rotate");
    live.refresh(now_ms());
    let pending = |inc: &Incident| inc.problems().iter().any(|p| p.what.contains("joined by another key"));
    assert!(pending(&live), "{:?}", live.problems());
    // Accepted: this host's copy deleted, as the message says.
    let kept = alice_store.kept_allowed_signers_path().expect("a kept copy");
    std::fs::remove_file(&kept).expect("accept");
    live.refresh(now_ms());
    assert!(!pending(&live), "{:?}", live.problems());
    let now = now_ms();
    let fresh = Incident::open(&alice_store, &id, now);
    assert_eq!(seen(&live, now), seen(&fresh, now));
}
