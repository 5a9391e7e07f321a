//! The console's open of a long incident: its store worker streams the records as it reads them
//! (parts of at most `FOLD_BATCH`, never the whole history parsed at once), the console's reducer
//! inserts each part and derives once at the end — and the state it reaches is exactly the one
//! `Incident::open` (`show`, `export`) reads: claim, playbook, signatures, problems, marks and the
//! records held back for being dated ahead of the clock.

mod common;

use std::process::Command;
use std::sync::{Arc, Mutex};

use common::*;
use warroom::cli::context::now_ms;
use warroom::domain::event::Note;
use warroom::domain::identity::WriterId;
use warroom::store::incident::Incident;
use warroom::store::writer::{Draft, LogWriter};
use warroom::store::{Identity, RootChoice, RootSource, Store};
use warroom::tui::keymap::Keymap;
use warroom::tui::model::{update, IncidentModel, Model, Msg};
use warroom::tui::worker::{Cmd, Worker, FOLD_BATCH};

const DAY_MS: i64 = 86_400_000;

fn store(w: &World, state: &str) -> Store {
    Store::open(
        &RootChoice {
            path: w.root(),
            source: RootSource::Flag,
        },
        w.path().join(state),
        w.path().join("run").join("warroom"),
    )
    .expect("open the shared directory")
}

fn mate(name: &str) -> Identity {
    Identity {
        writer: WriterId {
            name: name.into(),
            host: "desk".into(),
        },
        install: "mates1".into(),
    }
}

fn notes(who: &str, from: usize, n: usize) -> Vec<Draft> {
    (from..from + n)
        .map(|k| {
            Draft::new(Note {
                text: format!("{who} checked fin-ws-{k:06}").into(),
                tags: vec!["triage".into()].into(),
            })
        })
        .collect()
}

/// Carol declares with a signing key (the shared allowed_signers lets her), three teammates write
/// about 5 parts' worth of notes in interleaved rounds, a fourth writes a record dated three days
/// ahead, one record of a teammate's log is edited in place (its chain breaks), and a stray file
/// sits among the logs.
fn long_incident(w: &World) -> String {
    let keys = w.path().join("keys");
    std::fs::create_dir_all(&keys).expect("keys dir");
    let key = keys.join("carol");
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "carol", "-f"])
        .arg(&key)
        .env("HOME", &keys)
        .output()
        .expect("ssh-keygen (install openssh-client)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let public = std::fs::read_to_string(key.with_extension("pub")).expect("public key");
    std::fs::create_dir_all(w.root()).expect("root");
    std::fs::write(
        w.root().join("allowed_signers"),
        format!("carol@desk namespaces=\"warroom-event\" {}\n", public.trim()),
    )
    .expect("allowed_signers");
    let carol = w.who("carol", "desk");
    let r = w
        .run(
            &carol,
            &[
                "declare",
                "--playbook",
                "ransomware",
                "--title",
                "Long",
                "--severity",
                "2",
                "--sign",
                key.to_str().expect("utf8 path"),
            ],
        )
        .ok();
    let id = r.stdout.trim().to_string();
    let writing = store(w, "state-writers");
    let per_round = FOLD_BATCH / 2 + 7;
    for round in 0..3 {
        for who in ["ann", "bob", "dan"] {
            LogWriter::new(&writing, &id, &mate(who))
                .append(notes(who, round * per_round, per_round), now_ms)
                .expect("write notes");
        }
    }
    LogWriter::new(&writing, &id, &mate("eve"))
        .append(notes("eve", 0, 1), || now_ms() + 3 * DAY_MS)
        .expect("write a record dated ahead");
    // bob's 100th record edited in place: its chain breaks there.
    let bob = log_starting(w, &id, "bob@desk.");
    let text = std::fs::read_to_string(&bob).expect("bob's log");
    let edited = text.replacen("bob checked fin-ws-000099", "bob checked fin-ws-0000XX", 1);
    assert_ne!(edited, text);
    std::fs::write(&bob, edited).expect("edit bob's log");
    std::fs::write(w.events_dir(&id).join("notes.txt"), "not a log\n").expect("a stray file");
    id
}

/// The log of incident `id` whose file name starts with `prefix`.
fn log_starting(w: &World, id: &str, prefix: &str) -> std::path::PathBuf {
    std::fs::read_dir(w.events_dir(id))
        .expect("events")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(prefix)))
        .expect("the log")
}

/// What carol's console worker sends, in order, when it starts over `w` (opening `open`, if
/// any) and is told to stop after its first passes.
fn worker_messages(w: &World, open: Option<&str>) -> Vec<Msg> {
    worker_answers(w, open.map(|id| Cmd::Open(id.to_string())).into_iter().collect())
}

/// What carol's console worker sends, in order, when it is given `cmds` and then told to stop.
fn worker_answers(w: &World, cmds: Vec<Cmd>) -> Vec<Msg> {
    let msgs = Arc::new(Mutex::new(Vec::new()));
    let sent = msgs.clone();
    let worker = Worker::new(
        store(w, "state-console"),
        mate("carol"),
        now_ms,
        Arc::new(move |m| sent.lock().expect("messages").push(m)),
    );
    let (tx, rx) = std::sync::mpsc::channel();
    for cmd in cmds {
        tx.send(cmd).expect("send");
    }
    tx.send(Cmd::Shutdown).expect("send");
    worker.run(rx, tx.clone(), None);
    let msgs = std::mem::take(&mut *msgs.lock().expect("messages"));
    msgs
}

#[test]
fn the_console_streams_a_long_open_and_reaches_the_state_show_reads() {
    let w = World::new();
    let id = long_incident(&w);

    // What `show` reads (its own local state directory: a first read on that host).
    let shown = Incident::open(&store(&w, "state-show"), &id, now_ms());

    // The console: its worker opens the incident, its reducer takes every message in order.
    let msgs = worker_messages(&w, Some(&id));
    let mut model = Model::new("carol@desk", Keymap::default(), "test", now_ms());
    model.incident = Some(IncidentModel::new(&id));
    let (mut parts, mut updates) = (0, 0);
    for m in msgs {
        match &m {
            Msg::IncidentPart { events, .. } => {
                assert!(!events.is_empty() && events.len() <= FOLD_BATCH, "{}", events.len());
                parts += 1;
            }
            Msg::Incident { update, .. } => {
                assert!(update.events.len() <= FOLD_BATCH, "{}", update.events.len());
                updates += 1;
            }
            _ => {}
        }
        update(&mut model, m);
        if parts > 0 && updates == 0 {
            let inc = model.incident.as_ref().expect("open");
            assert!(inc.loading.is_some(), "a read in parts is shown as reading");
        }
    }
    assert!(parts >= 4, "the history came in parts: {parts}");
    assert_eq!(updates, 1, "one update ends the read");
    let inc = model.incident.as_ref().expect("open");
    assert!(inc.loading.is_none(), "the read ended");
    let console = &inc.view;

    // The same incident, both ways.
    assert!(shown.state.event_count() > 3 * FOLD_BATCH);
    assert_eq!(console.state.event_count(), shown.state.event_count());
    let ids = |s: &warroom::domain::IncidentState| s.timeline().map(|e| e.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&console.state), ids(&shown.state));
    assert_eq!(console.state.derived, shown.state.derived);
    assert_eq!(console.state.claim(), shown.state.claim());
    assert_eq!(console.state.marks(), shown.state.marks());
    assert!(!shown.state.marks().is_empty(), "the edit is marked");
    let hashes = |s: &warroom::domain::IncidentState| s.playbooks().map(|(h, _)| h.clone()).collect::<Vec<_>>();
    assert_eq!(hashes(&console.state), hashes(&shown.state));
    assert!(shown.state.playbook().is_some());
    assert!(!shown.is_syncing() && !console.is_syncing());
    let carol_log = shown
        .state
        .events()
        .find(|e| e.seq == 1 && e.by() == "carol@desk")
        .map(|e| e.log.clone())
        .expect("carol's Declared");
    assert_eq!(shown.state.signed_by(&carol_log, 1), Some("carol@desk"));
    assert_eq!(console.state.signed_by(&carol_log, 1), Some("carol@desk"));
    assert_eq!(console.problems(), shown.problems());
    let said = |what: &str| shown.problems().iter().any(|p| p.what.contains(what));
    assert!(said("more than a day ahead"), "{:?}", shown.problems());
    assert!(said("not a warroom log"), "{:?}", shown.problems());
    assert!(
        console.state.events().all(|e| !e.by().starts_with("eve@")),
        "the record dated ahead is held back"
    );
}

/// What the worker sent, in order, as words: "part", "update" (the records' count), "written".
fn record(log: &Mutex<Vec<String>>, what: String) {
    log.lock().expect("log").push(what);
}

/// A note sent while a long first read is arriving is written between two parts, not after the
/// read: when it is acknowledged (once) a second reader already finds it on disk, and the read
/// has not ended; the pass after the read brings it back to the console, once.
#[test]
fn a_note_sent_during_a_long_read_is_on_disk_before_the_read_ends() {
    let w = World::new();
    let id = long_incident(&w);
    let reader = store(&w, "state-reader");
    let (tx, rx) = std::sync::mpsc::channel();
    let log = Arc::new(Mutex::new(Vec::new()));
    let seen = log.clone();
    let write_once = Mutex::new(Some(tx.clone()));
    let shutdown = Mutex::new(tx.clone());
    let incident = id.clone();
    const TEXT: &str = "sent while the history is read";
    let text = TEXT;
    let mentions = move |events: &[warroom::domain::event::Event]| {
        events
            .iter()
            .filter(|e| matches!(&e.body, warroom::domain::event::Body::Note(n) if n.text.held() == Some(TEXT)))
            .count()
    };
    let worker = Worker::new(
        store(&w, "state-console"),
        mate("carol"),
        now_ms,
        Arc::new(move |m| match m {
            Msg::IncidentPart { events, .. } => {
                record(&seen, format!("part {}", mentions(&events)));
                // The console sends a note as the first part arrives.
                if let Some(tx) = write_once.lock().expect("once").take() {
                    let drafts = vec![Draft::new(Note {
                        text: text.into(),
                        tags: Default::default(),
                    })];
                    tx.send(Cmd::Write {
                        token: 7,
                        incident: incident.clone(),
                        drafts,
                    })
                    .expect("send");
                }
            }
            Msg::Incident { update, .. } => record(&seen, format!("update {}", mentions(&update.events))),
            Msg::Written { token, result } => {
                let shown = Incident::open(&reader, &incident, now_ms());
                let on_disk = mentions(&shown.state.events().cloned().collect::<Vec<_>>());
                record(&seen, format!("written {token} {} on disk {on_disk}", result.is_ok()));
                let _ = shutdown.lock().expect("tx").send(Cmd::Shutdown);
            }
            _ => {}
        }),
    );
    tx.send(Cmd::Open(id.clone())).expect("send");
    worker.run(rx, tx.clone(), None);

    let log = log.lock().expect("log").clone();
    let written: Vec<usize> = (0..log.len()).filter(|i| log[*i].starts_with("written")).collect();
    assert_eq!(written.len(), 1, "acknowledged once: {log:?}");
    assert_eq!(log[written[0]], "written 7 true on disk 1", "{log:?}");
    let first_update = log.iter().position(|l| l.starts_with("update")).expect("the read ends");
    assert!(
        written[0] < first_update && log[written[0] + 1..first_update].iter().any(|l| l.starts_with("part")),
        "written between two parts of the read, not after it: {log:?}"
    );
    // Read back by the pass after the read, once (not by the read in progress, which had read
    // carol's log already, nor twice).
    let brought: usize = log
        .iter()
        .filter(|l| !l.starts_with("written"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<usize>().ok())
        .sum();
    assert_eq!(brought, 1, "{log:?}");
}

/// One writer's long log arrives in order: each part is derived as it comes, so when the last
/// part is in, the state (declared, timeline) is already there and the update that ends the read
/// has little left to do; the state equals `Incident::open`'s.
#[test]
fn parts_in_order_are_derived_as_they_come() {
    let w = World::new();
    std::fs::create_dir_all(w.root()).expect("root");
    let id = w.declare(&w.who("carol", "desk"), "Long");
    let shown_before = Incident::open(&store(&w, "state-probe"), &id, now_ms());
    let declarer = shown_before
        .state
        .events()
        .next()
        .map(|e| e.log.clone())
        .expect("the Declared");
    let writing = store(&w, "state-writers");
    let (name, rest) = declarer.split_once('@').expect("name@host.install");
    let (host, install) = rest.split_once('.').expect("host.install");
    let me = Identity {
        writer: WriterId {
            name: name.into(),
            host: host.into(),
        },
        install: install.into(),
    };
    let n = 3 * FOLD_BATCH + 11;
    LogWriter::new(&writing, &id, &me)
        .append(notes("carol", 0, n), now_ms)
        .expect("write notes");
    let shown = Incident::open(&store(&w, "state-show"), &id, now_ms());
    let total = shown.state.event_count();
    assert!(total > n, "{total}");

    let msgs = worker_messages(&w, Some(&id));
    let mut model = Model::new("carol@desk", Keymap::default(), "test", now_ms());
    model.incident = Some(IncidentModel::new(&id));
    assert!(
        matches!(&msgs[..], [.., Msg::Incident { .. }, Msg::Watch(_)]),
        "the read ends with its update"
    );
    let mut parts = 0;
    for m in msgs {
        if let Msg::Incident { update, .. } = &m {
            // Before the update that ends the read: every record is derived already.
            assert!(update.events.is_empty(), "{}", update.events.len());
            let inc = model.incident.as_ref().expect("open");
            assert!(inc.loading.is_some(), "still reading");
            let s = &inc.view.state;
            assert_eq!(s.event_count(), total);
            assert_eq!(s.timeline().count(), total, "in the timeline as they came");
            assert!(
                s.derived.declared.is_some(),
                "derived as they came (the claim came first)"
            );
        }
        parts += usize::from(matches!(m, Msg::IncidentPart { .. }));
        update(&mut model, m);
    }
    assert!(parts >= 4, "{parts}");
    let inc = model.incident.as_ref().expect("open");
    assert!(inc.loading.is_none());
    assert_eq!(inc.view.state.derived, shown.state.derived);
    let ids = |s: &warroom::domain::IncidentState| s.timeline().map(|e| e.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&inc.view.state), ids(&shown.state));
    assert_eq!(inc.view.problems(), shown.problems());
}

/// Run a worker over `w` (opening `open`, if any) until it has done its first passes; the model
/// that took every message it sent.
fn first_passes(w: &World, open: Option<&str>) -> Model {
    let mut model = Model::new("carol@desk", Keymap::default(), "test", now_ms());
    if let Some(id) = open {
        model.incident = Some(IncidentModel::new(id));
        assert!(model.incident.as_ref().and_then(|i| i.reading()).is_some());
    }
    assert!(!model.board_listed);
    for m in worker_messages(w, open) {
        update(&mut model, m);
    }
    model
}

/// The worker answers the board's first pass and the open of an incident even when they find
/// nothing (a directory with no incident, an incident folder whose logs have not synced yet):
/// until it does, the console says it is reading, so it must never stay unanswered.
#[test]
fn the_worker_answers_a_first_board_pass_and_an_open_that_find_nothing() {
    let w = World::new();
    std::fs::create_dir_all(w.root()).expect("the shared root");
    let model = first_passes(&w, None);
    assert!(model.board_listed, "the first pass over an empty directory was sent");
    assert!(model.board.is_empty());

    let id = "2026-11-30-not-synced-yet-0abc";
    std::fs::create_dir_all(w.root().join(id)).expect("an incident folder with nothing in it");
    let model = first_passes(&w, Some(id));
    let inc = model.incident.as_ref().expect("open");
    assert_eq!(inc.reading(), None, "the open was answered");
    assert!(inc.view.is_syncing(), "and the incident reads as syncing, which it is");
}

/// A console started on an incident (`warroom open ID`) reads it once, with the open's reader:
/// the board's first pass leaves it alone (it read the whole history a second time on a cold
/// open), the console's own `Open` of it is not a second read, and once it is closed the board
/// has its row.
#[test]
fn a_console_started_on_an_incident_reads_it_once() {
    let w = World::new();
    let id = long_incident(&w);
    let held = Incident::open(&store(&w, "state-show"), &id, now_ms())
        .state
        .event_count();
    let msgs = Arc::new(Mutex::new(Vec::new()));
    let sent = msgs.clone();
    let worker = Worker::new(
        store(&w, "state-console"),
        mate("carol"),
        now_ms,
        Arc::new(move |m| sent.lock().expect("messages").push(m)),
    )
    .opening(Some(id.clone()));
    let (tx, rx) = std::sync::mpsc::channel();
    for cmd in [Cmd::Open(id.clone()), Cmd::Close, Cmd::Shutdown] {
        tx.send(cmd).expect("send");
    }
    worker.run(rx, tx.clone(), None);
    let msgs = std::mem::take(&mut *msgs.lock().expect("messages"));

    let records: usize = msgs
        .iter()
        .map(|m| match m {
            Msg::IncidentPart { events, .. } => events.len(),
            Msg::Incident { update, .. } => update.events.len(),
            _ => 0,
        })
        .sum();
    assert_eq!(records, held, "every record sent once");
    let boards: Vec<&Vec<_>> = msgs
        .iter()
        .filter_map(|m| match m {
            Msg::Board(rows) => Some(rows),
            _ => None,
        })
        .collect();
    let has = |rows: &Vec<_>| rows.iter().any(|r: &warroom::tui::model::BoardRow| r.id == id);
    let first = boards.first().expect("a first board pass");
    assert!(
        !has(first),
        "the board's first pass left the open incident to its reader"
    );
    assert!(
        boards.last().is_some_and(|r| has(r)),
        "after closing it, the board has its row"
    );
    let first_board = msgs.iter().position(|m| matches!(m, Msg::Board(_)));
    let last_part = msgs
        .iter()
        .rposition(|m| matches!(m, Msg::IncidentPart { .. } | Msg::Incident { .. }));
    assert!(last_part < first_board, "read before the board's pass");
}

/// A resolved incident reopened while a console's board runs comes back as active on it (its
/// row was never looked at again: the board said "resolved" while `list` said active).
#[test]
fn a_reopened_incident_comes_back_on_a_running_board() {
    use warroom::tui::model::RowStatus;
    let w = World::new();
    let ic = w.who("ic", "h1");
    let id = w.declare(&ic, "Beacon on the print server");
    w.run(&ic, &["resolve", &id, "--reason", "contained for now"]).ok();
    let msgs = Arc::new(Mutex::new(Vec::new()));
    let sent = msgs.clone();
    let mut worker = Worker::new(
        store(&w, "state-console"),
        mate("carol"),
        now_ms,
        Arc::new(move |m| sent.lock().expect("messages").push(m)),
    );
    let status = |msgs: &Mutex<Vec<Msg>>| {
        msgs.lock().expect("messages").iter().rev().find_map(|m| match m {
            Msg::Board(rows) => rows.iter().find(|r| r.id == id).map(|r| r.status),
            _ => None,
        })
    };
    worker.reconcile_board();
    assert_eq!(status(&msgs), Some(RowStatus::Resolved));
    w.run(&ic, &["reopen", &id, "--reason", "beacon again"]).ok();
    worker.reconcile_board();
    assert_eq!(status(&msgs), Some(RowStatus::Active));
}

/// The notes' texts of a state: held, left in the log (where), or neither (`None`: not a note).
fn texts_of(s: &warroom::domain::IncidentState) -> Vec<(String, u64, warroom::domain::event::NoteText)> {
    s.timeline()
        .filter_map(|e| match &e.body {
            warroom::domain::event::Body::Note(n) => Some((e.log.to_string(), e.seq, n.text.clone())),
            _ => None,
        })
        .collect()
}

/// The console's first read of a long history leaves the notes' texts in their logs; the
/// worker reads back exactly the texts a reader holding them has (one line each, checked by
/// hash: an edited line gives no text), and `HoldTexts` sends every text back to be put into
/// its record.
#[test]
fn the_console_reads_back_the_texts_it_left_in_the_logs_and_holds_them_all_for_a_search() {
    let w = World::new();
    let id = long_incident(&w);
    let held = texts_of(&Incident::open(&store(&w, "state-show"), &id, now_ms()).state);
    let msgs = worker_answers(&w, vec![Cmd::Open(id.clone())]);
    let mut model = Model::new("carol@desk", Keymap::default(), "test", now_ms());
    model.incident = Some(IncidentModel::new(&id));
    for m in msgs {
        update(&mut model, m);
    }
    let left = texts_of(&model.incident.as_ref().expect("open").view.state);
    assert_eq!(left.len(), held.len());
    assert!(
        left.iter().all(|(_, _, t)| t.in_log().is_some()),
        "the first read leaves every text"
    );

    // Read back, by the worker: each as held. Then one line edited in place: no text for it.
    let want: Vec<_> = left
        .iter()
        .map(|(log, _, t)| (log.clone(), t.in_log().expect("in the log")))
        .collect();
    let back = |w: &World| -> Vec<Result<Box<str>, String>> {
        let answers = worker_answers(
            w,
            vec![Cmd::ReadTexts {
                incident: id.clone(),
                want: want.clone(),
            }],
        );
        let mut read = std::collections::HashMap::new();
        for m in answers {
            if let Msg::TextsRead { incident, texts } = m {
                assert_eq!(incident, id);
                read.extend(texts.into_iter().map(|(log, at, t)| ((log, at), t)));
            }
        }
        want.iter().map(|key| read.remove(key).expect("answered")).collect()
    };
    let first = back(&w);
    for ((_, _, h), b) in held.iter().zip(&first) {
        assert_eq!(b.as_deref().ok(), h.held());
    }
    let (log, seq, _) = &held[held.len() / 2];
    let path = log_starting(&w, &id, log);
    let text = std::fs::read_to_string(&path).expect("log");
    let target = held[held.len() / 2].2.held().expect("held").to_string();
    let edited = text.replacen(&target, &target.replace('c', "k"), 1);
    assert_ne!(edited, text, "seq {seq}: {target}");
    std::fs::write(&path, edited).expect("edit");
    let second = back(&w);
    let i = held.len() / 2;
    assert!(
        second[i].as_ref().is_err_and(|e| e.contains("changed")),
        "{:?}",
        second[i]
    );
    assert_eq!(second.iter().filter(|r| r.is_err()).count(), 1);

    // Held for a search: every text left in the logs comes back and is put into its record
    // (whichever version of the edited line this host's fold took: the text of that line).
    let msgs = worker_answers(&w, vec![Cmd::Open(id.clone()), Cmd::HoldTexts(id.clone())]);
    let mut model = Model::new("carol@desk", Keymap::default(), "test", now_ms());
    model.incident = Some(IncidentModel::new(&id));
    let dones = msgs
        .iter()
        .filter(|m| matches!(m, Msg::TextsHeld { done: true, .. }))
        .count();
    assert_eq!(dones, 1);
    for m in msgs {
        update(&mut model, m);
    }
    let again = texts_of(&model.incident.as_ref().expect("open").view.state);
    assert_eq!(again.len(), held.len());
    for (i, ((_, _, a), (_, _, h))) in again.iter().zip(&held).enumerate() {
        match i == held.len() / 2 {
            true => assert!(a.held().is_some_and(|t| t == target || t == target.replace('c', "k"))),
            false => assert_eq!(a.held(), h.held()),
        }
    }
}

/// A search's read of every text while a log cannot be read leaves that log's texts in it; asked
/// again once the log is back, the same worker reads them all (break round, stop 24).
#[test]
fn texts_a_search_could_not_read_are_read_when_asked_again() {
    let w = World::new();
    let id = long_incident(&w);
    let msgs = Arc::new(Mutex::new(Vec::new()));
    let sent = msgs.clone();
    let worker = Worker::new(
        store(&w, "state-console"),
        mate("carol"),
        now_ms,
        Arc::new(move |m| sent.lock().expect("messages").push(m)),
    );
    let (tx, rx) = std::sync::mpsc::channel();
    let back = tx.clone();
    let running = std::thread::spawn(move || worker.run(rx, back, None));
    let dones = |n: usize| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while std::time::Instant::now() < deadline {
            let got = msgs
                .lock()
                .expect("messages")
                .iter()
                .filter(|m| matches!(m, Msg::TextsHeld { done: true, .. }))
                .count();
            if got >= n {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        panic!("no answer");
    };
    let ann = log_starting(&w, &id, "ann@");
    let away = ann.with_extension("away");
    tx.send(Cmd::Open(id.clone())).expect("send");
    // Once the open has been read: ann's log moves away, and a search asks for every text.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !msgs
        .lock()
        .expect("messages")
        .iter()
        .any(|m| matches!(m, Msg::Incident { .. }))
    {
        assert!(std::time::Instant::now() < deadline, "the open was not read");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::fs::rename(&ann, &away).expect("move away");
    tx.send(Cmd::HoldTexts(id.clone())).expect("send");
    dones(1);
    std::fs::rename(&away, &ann).expect("put back");
    tx.send(Cmd::HoldTexts(id.clone())).expect("send");
    dones(2);
    tx.send(Cmd::Shutdown).expect("send");
    running.join().expect("worker");

    let mut model = Model::new("carol@desk", Keymap::default(), "test", now_ms());
    model.incident = Some(IncidentModel::new(&id));
    let mut left_after_first = None;
    for m in std::mem::take(&mut *msgs.lock().expect("messages")) {
        let first_done = matches!(m, Msg::TextsHeld { done: true, .. }) && left_after_first.is_none();
        update(&mut model, m);
        if first_done {
            let s = &model.incident.as_ref().expect("open").view.state;
            left_after_first = Some(
                texts_of(s)
                    .iter()
                    .filter(|(log, _, t)| log.starts_with("ann@") && t.in_log().is_some())
                    .count(),
            );
        }
    }
    assert!(
        left_after_first.is_some_and(|n| n > 0),
        "ann's texts stayed in her log while it was away"
    );
    let texts = texts_of(&model.incident.as_ref().expect("open").view.state);
    assert!(
        texts.iter().all(|(_, _, t)| t.held().is_some()),
        "every text held once asked again"
    );
}

/// How far ahead the board test's clock is (ms): a `fn` clock, as the worker takes.
static BOARD_AHEAD: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

fn board_clock() -> warroom::domain::time::Millis {
    now_ms() + BOARD_AHEAD.load(std::sync::atomic::Ordering::SeqCst)
}

/// A board row whose incident holds a record back for being dated more than a day ahead
/// changes when this host's clock gets there, though no file changes: the next pass applies it
/// and drops the problem, as `list` does (break round, stop 27: the row kept "⚠1" and the old
/// last update for good).
#[test]
fn the_board_applies_a_record_held_back_once_the_clock_gets_there() {
    const HOUR: i64 = 3_600_000;
    let w = World::new();
    let carol = w.who("carol", "desk");
    let id = w
        .run(
            &carol,
            &[
                "declare",
                "--playbook",
                "ransomware",
                "--title",
                "Edge",
                "--severity",
                "2",
            ],
        )
        .ok()
        .stdout
        .trim()
        .to_string();
    LogWriter::new(&store(&w, "state-writers"), &id, &mate("bob"))
        .append(notes("bob", 0, 1), || now_ms() + 25 * HOUR)
        .expect("a record dated a day ahead");
    // Past the window in which a change may not show in a file's stamp (`summary::RACY`), so
    // the row is read again only if the board knows it depends on the time.
    std::thread::sleep(warroom::store::summary::RACY + std::time::Duration::from_millis(200));
    let rows = Arc::new(Mutex::new(Vec::new()));
    let sent = rows.clone();
    let mut worker = Worker::new(
        store(&w, "state-board"),
        mate("carol"),
        board_clock,
        Arc::new(move |m| {
            if let Msg::Board(r) = m {
                sent.lock().expect("rows").push(r);
            }
        }),
    );
    let row = |rows: &Mutex<Vec<Vec<warroom::tui::model::BoardRow>>>| {
        rows.lock()
            .expect("rows")
            .last()
            .and_then(|r| r.iter().find(|r| r.id == id).cloned())
    };
    worker.reconcile_board();
    let held = row(&rows).expect("a row");
    assert_eq!(held.problems, 1, "{held:?}");
    assert!(held.last_update.as_ref().is_some_and(|(_, by)| by.starts_with("carol")));
    // Two hours on, nothing changed on disk.
    BOARD_AHEAD.store(2 * HOUR, std::sync::atomic::Ordering::SeqCst);
    worker.reconcile_board();
    let applied = row(&rows).expect("a row");
    assert_eq!(applied.problems, 0, "{applied:?}");
    assert!(
        applied
            .last_update
            .as_ref()
            .is_some_and(|(_, by)| by.starts_with("bob")),
        "{applied:?}"
    );
}
