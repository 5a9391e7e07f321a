//! Several real `warroom` processes sharing one incident directory: concurrent writers, crashes,
//! wrong clocks, rollbacks, tampering and hostile content.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;

use common::*;
use serde_json::Value;

/// The largest `at` in a `tail --json` listing.
fn max_at(events: &[Value]) -> i64 {
    events.iter().map(|e| e["at"].as_i64().unwrap()).max().unwrap()
}

fn append(path: &std::path::Path, bytes: &[u8]) {
    let mut f = fs::OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(bytes).unwrap();
}

fn write_lines(path: &std::path::Path, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    fs::write(path, text).unwrap();
}

// ---- 1. concurrent writers ------------------------------------------------------------------

#[test]
fn concurrent_writers_lose_nothing_and_readers_agree() {
    let w = World::new();
    let ic = w.who("ic", "jump");
    let id = w.declare(&ic, "Concurrent writers");

    // Two processes share one identity (same user, host and state dir → same log file, taking
    // turns under the lock); two others are different people on different hosts.
    let alice = w.who("alice", "jump");
    // Make alice's install id before the race (a concurrent first run makes two: see
    // `first_run_of_one_install_makes_one_install_id`).
    w.note(&alice, &id, "warm-up");
    let writers = [
        alice.clone(),
        alice.clone(),
        w.who("bob", "laptop"),
        w.who("carol", "jump"),
    ];
    const PER: usize = 25;
    std::thread::scope(|s| {
        for (p, who) in writers.iter().enumerate() {
            let (w, id) = (&w, &id);
            s.spawn(move || {
                for n in 0..PER {
                    w.note(who, id, &format!("p{p}-n{n}"));
                }
            });
        }
    });

    let mut expected: BTreeSet<String> = (0..writers.len())
        .flat_map(|p| (0..PER).map(move |n| format!("p{p}-n{n}")))
        .collect();
    expected.insert("warm-up".into());

    // Every log: seq 1..n without gaps, an unbroken chain, `at` never decreasing.
    let mut per_writer: BTreeMap<String, usize> = BTreeMap::new();
    for log in w.logs(&id) {
        let recs = check_chain(&id, &log);
        *per_writer.entry(recs[0].by.clone()).or_default() += recs.len();
    }
    assert_eq!(per_writer.get("alice@jump"), Some(&(2 * PER + 1)), "{per_writer:?}");
    assert_eq!(per_writer.get("bob@laptop"), Some(&PER));
    assert_eq!(per_writer.get("carol@jump"), Some(&PER));
    assert_eq!(per_writer.get("ic@jump"), Some(&1));
    assert_eq!(w.logs(&id).len(), 4, "two processes of one identity share one log");

    // Nothing lost or duplicated, seen through `tail --json`.
    let events = w.tail_json(&ic, &id);
    let texts = note_texts(&events);
    assert_eq!(texts.len(), expected.len(), "duplicates or losses in tail");
    assert_eq!(texts.iter().cloned().collect::<BTreeSet<_>>(), expected);
    let ids: BTreeSet<&str> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), events.len(), "event ids are unique");

    // verify passes.
    let v = w.run(&ic, &["verify", &id]).ok();
    assert!(v.stdout.contains("ok:"), "{v}");
    assert!(!v.stdout.contains("crash:"), "{v}");

    // Readers from different installs (writers and a bystander) agree on the same state.
    let readers = [ic.clone(), alice, w.who("bob", "laptop"), w.who("dave", "elsewhere")];
    // The clocks say where each deadline stands at the moment of each `show`: compared apart.
    let states: Vec<Value> = readers
        .iter()
        .map(|r| {
            let mut v = w.show(r, &id);
            assert!(v["clocks"]["deadlines"].is_array(), "{v}");
            if let Some(o) = v.as_object_mut() {
                o.remove("clocks");
            }
            v
        })
        .collect();
    assert_eq!(states[0]["notes"], 101);
    assert_eq!(states[0]["events"], 102);
    assert_eq!(states[0]["problems"], serde_json::json!([]));
    for (r, s) in readers.iter().zip(&states).skip(1) {
        assert_eq!(s, &states[0], "{} sees a different state", r.writer());
    }
}

/// Several processes of one install starting at once (its very first run) must agree on one
/// install id, so one person on one host still writes one log.
#[test]
fn first_run_of_one_install_makes_one_install_id() {
    let w = World::new();
    let ic = w.who("ic", "jump");
    let id = w.declare(&ic, "Install id race");
    // A race: try a number of fresh installs, each started by 6 processes at once.
    for round in 0..20 {
        let who = w.who(&format!("u{round}"), "jump");
        let start = std::sync::Barrier::new(6);
        std::thread::scope(|s| {
            for n in 0..6 {
                let (w, id, who, start) = (&w, &id, &who, &start);
                s.spawn(move || {
                    start.wait();
                    w.note(who, id, &format!("round {round} note {n}"))
                });
            }
        });
        let prefix = format!("{}.", who.writer());
        let logs = w
            .logs(&id)
            .into_iter()
            .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(&prefix))
            .count();
        assert_eq!(logs, 1, "round {round}: {} has {logs} logs", who.writer());
    }
}

// ---- 2. torn tail -----------------------------------------------------------------------------

#[test]
fn torn_tail_is_repaired_and_recorded() {
    let w = World::new();
    let ic = w.who("ic", "jump");
    let bob = w.who("bob", "laptop");
    let id = w.declare(&ic, "Torn tail");
    for n in 1..=3 {
        w.note(&bob, &id, &format!("before crash {n}"));
    }
    let log = w.log_of(&bob, &id);
    let good_len = fs::metadata(&log).unwrap().len();
    // A crash mid-write: half a record, no newline.
    let torn = br#"(v:1,id:"01TORNTORNTORN",at:17956"#;
    append(&log, torn);

    // Before repair: a crash, not tampering; readers do not choke on it.
    let v = w.run(&ic, &["verify", &id]).ok();
    assert!(v.stdout.contains("crash:"), "{v}");
    let s = w.show(&ic, &id);
    assert_eq!(s["notes"], 3);
    assert_eq!(
        s["problems"],
        serde_json::json!([]),
        "a torn tail still landing is not a problem yet"
    );

    // The writer comes back and writes more.
    let r = w.note(&bob, &id, "after crash 1");
    assert!(r.stderr.contains("repaired"), "{r}");
    w.note(&bob, &id, "after crash 2");

    let text = fs::read_to_string(&log).unwrap();
    assert!(!text.contains("01TORNTORNTORN"), "the torn bytes were cut off");
    let recs = check_chain(&id, &log);
    assert_eq!(recs.len(), 6, "3 notes, TailRepaired, 2 notes");
    assert_eq!(recs[3].kind, "TailRepaired");

    let v = w.run(&ic, &["verify", &id]).ok();
    assert!(v.stdout.lines().any(|l| l.starts_with("crash:")), "{v}");
    assert!(v.stdout.contains("ok:"), "{v}");

    let s = w.show(&ic, &id);
    assert_eq!(s["notes"], 5);
    let events = w.tail_json(&ic, &id);
    let repaired: Vec<&Value> = events.iter().filter(|e| e["kind"] == "TailRepaired").collect();
    assert_eq!(repaired.len(), 1, "{events:?}");
    assert_eq!(repaired[0]["by"], "bob@laptop");
    assert_eq!(repaired[0]["body"]["bytes"], torn.len() as u64);
    assert_eq!(repaired[0]["body"]["offset"], good_len);
    assert_eq!(
        note_texts(&events),
        [
            "before crash 1",
            "before crash 2",
            "before crash 3",
            "after crash 1",
            "after crash 2"
        ]
    );
}

// ---- 3. clocks ----------------------------------------------------------------------------------

/// A writer whose clock is behind, but within the 5-minute window, still sorts after everything it
/// saw (the hybrid clock), and readers are warned about it.
#[test]
fn writer_with_slow_clock_sorts_after_what_it_saw() {
    let w = World::new();
    let ic = w.who("ic", "jump");
    let id = w.declare(&ic, "Slow clock");
    w.note(&w.who("bob", "laptop"), &id, "bob was first");
    let seen = w.tail_json(&ic, &id);

    let slow = w.who("carl", "oldbox").skewed(-120_000); // two minutes behind
    w.note(&slow, &id, "carl answers bob");
    let events = w.tail_json(&ic, &id);
    let carl = events.iter().find(|e| e["by"] == "carl@oldbox").unwrap();
    let at = carl["at"].as_i64().unwrap();
    let wall = carl["wall"].as_i64().unwrap();
    assert!(at > max_at(&seen), "carl's at {at} must sort after {}", max_at(&seen));
    assert!(wall < at - 60_000, "carl's own clock is behind: wall {wall}, at {at}");

    let skew = w.show(&ic, &id)["clock_skew"].to_string();
    assert!(skew.contains("carl@oldbox"), "clock_skew: {skew}");
}

/// The brief's case: a clock a whole hour behind still sorts after what it saw. (From the slow
/// host everyone looks an hour ahead; the writer follows them anyway and says so.)
#[test]
fn writer_an_hour_behind_sorts_after_what_it_saw() {
    let w = World::new();
    let ic = w.who("ic", "jump");
    let id = w.declare(&ic, "Hour behind");
    w.note(&w.who("bob", "laptop"), &id, "bob was first");
    let seen = w.tail_json(&ic, &id);
    let slow = w.who("carl", "oldbox").skewed(-3_600_000);
    w.note(&slow, &id, "carl answers bob");
    let events = w.tail_json(&ic, &id);
    let carl = events.iter().find(|e| e["by"] == "carl@oldbox").unwrap();
    assert!(carl["at"].as_i64().unwrap() > max_at(&seen), "{carl}");
}

/// An hour-behind writer is told that its clock and the others' disagree, and on its own host
/// `show` names the writers that look ahead.
#[test]
fn writer_an_hour_behind_is_warned() {
    let w = World::new();
    let ic = w.who("ic", "jump");
    let id = w.declare(&ic, "Hour behind warned");
    w.note(&w.who("bob", "laptop"), &id, "bob was first");
    let slow = w.who("carl", "oldbox").skewed(-3_600_000);
    let r = w.note(&slow, &id, "carl answers bob");
    assert!(r.stderr.contains("ic@jump") && r.stderr.contains("bob@laptop"), "{r}");
    assert!(r.stderr.contains("one of the two clocks is wrong"), "{r}");
    let skew = w.show(&slow, &id)["clock_skew"].to_string();
    assert!(skew.contains("ic@jump") && skew.contains("ahead"), "{skew}");
    assert_eq!(w.show(&ic, &id)["notes"], 2);
}

/// Teammates with a correct clock are warned about the writer an hour behind too.
#[test]
fn writer_an_hour_behind_is_flagged_to_everyone() {
    let w = World::new();
    let ic = w.who("ic", "jump");
    let id = w.declare(&ic, "Hour behind flagged");
    w.note(&w.who("bob", "laptop"), &id, "bob was first");
    let slow = w.who("carl", "oldbox").skewed(-3_600_000);
    w.note(&slow, &id, "carl answers bob");
    let skew = w.show(&ic, &id)["clock_skew"].to_string();
    assert!(skew.contains("carl@oldbox"), "clock_skew seen by ic: {skew}");
}

/// The design (Merge): "The timeline shows events ordered by (occurred, else at)". A writer two
/// minutes behind answers bob; its answer must not be listed before bob's note.
#[test]
fn timeline_keeps_cause_before_effect_for_slow_writer() {
    let w = World::new();
    let ic = w.who("ic", "jump");
    let id = w.declare(&ic, "Cause before effect");
    w.note(&w.who("bob", "laptop"), &id, "question from bob");
    let slow = w.who("carl", "oldbox").skewed(-120_000);
    w.note(&slow, &id, "answer from carl");
    let texts = note_texts(&w.tail_json(&ic, &id));
    assert_eq!(texts, ["question from bob", "answer from carl"]);
}

// ---- 4. rollback --------------------------------------------------------------------------------

/// A sync tool that restores an older copy of a writer's log (two-way rsync, `git pull --rebase`
/// while a writer ran) cannot lose acknowledged notes or lock the writer out: the next write
/// re-appends what the copy lacked, verbatim, and says so.
#[test]
fn a_rolled_back_log_is_restored_not_refused() {
    let w = World::new();
    let ic = w.who("ic", "jump");
    let bob = w.who("bob", "laptop");
    let id = w.declare(&ic, "Rollback");
    w.note(&bob, &id, "one");
    w.note(&bob, &id, "two");
    let log = w.log_of(&bob, &id);
    let old = fs::read(&log).unwrap();
    w.note(&bob, &id, "three");
    w.note(&bob, &id, "three and a half");
    fs::write(&log, &old).unwrap(); // a sync tool restores the old copy

    let r = w.run(&bob, &["note", &id, "four"]).ok();
    assert!(r.stderr.contains("re-appended seqs"), "{r}");
    let show = w.run(&ic, &["tail", &id, "--json"]).ok();
    let texts: Vec<String> = show
        .json_lines()
        .iter()
        .filter(|e| e["kind"] == "Note")
        .map(|e| e["body"]["text"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(texts, ["one", "two", "three", "three and a half", "four"], "{show}");
    assert!(show.stdout.contains("LogRestored"), "the restore is on the record");
    // The chain still links: verify finds nothing wrong.
    w.run(&ic, &["verify", &id]).ok();
    // Garbage a teammate appends to bob's log cannot block him either.
    let mut f = fs::OpenOptions::new().append(true).open(&log).unwrap();
    use std::io::Write as _;
    writeln!(f, "(v:1, garbage").unwrap();
    writeln!(f, "not even ron").unwrap();
    w.note(&bob, &id, "five");
    w.note(&ic, &id, "ic carries on");
}

// ---- 5. tampering -------------------------------------------------------------------------------

#[test]
fn verify_detects_edited_deleted_and_swapped_lines() {
    let w = World::new();
    let ic = w.who("ic", "jump");
    let bob = w.who("bob", "laptop");
    let auditor = w.who("audit", "elsewhere");
    let id = w.declare(&ic, "Tamper");
    for n in 1..=5 {
        w.note(&bob, &id, &format!("bob note {n}"));
    }
    let log = w.log_of(&bob, &id);
    let name = log.file_name().unwrap().to_string_lossy().into_owned();
    let original = lines_of(&log);
    w.run(&auditor, &["verify", &id]).ok();

    // Edit line 3's text, keeping valid RON: the chain breaks at line 4.
    let mut edited = original.clone();
    edited[2] = edited[2].replace("bob note 3", "bob note 3 (nothing happened)");
    assert_ne!(edited[2], original[2]);
    parse_line(&edited[2]);
    write_lines(&log, &edited);
    let v = w.run(&auditor, &["verify", &id]).code(1);
    assert!(
        v.stdout.contains(&format!("{name}:4:")),
        "names the file and next line\n{v}"
    );

    // Delete line 3.
    let mut deleted = original.clone();
    deleted.remove(2);
    write_lines(&log, &deleted);
    let v = w.run(&auditor, &["verify", &id]).code(1);
    assert!(v.stdout.contains(&format!("{name}:3:")), "{v}");

    // Swap lines 2 and 3.
    let mut swapped = original.clone();
    swapped.swap(1, 2);
    write_lines(&log, &swapped);
    let v = w.run(&auditor, &["verify", &id]).code(1);
    assert!(v.stdout.contains(&name), "{v}");

    // Restored, it verifies again.
    write_lines(&log, &original);
    w.run(&auditor, &["verify", &id]).ok();
}

/// The last line has no successor to carry its hash, but the writer's own host remembers it.
#[test]
fn verify_on_the_writers_host_detects_an_edited_last_line() {
    let w = World::new();
    let ic = w.who("ic", "jump");
    let bob = w.who("bob", "laptop");
    let id = w.declare(&ic, "Tamper last");
    w.note(&bob, &id, "first");
    w.note(&bob, &id, "the last word");
    let log = w.log_of(&bob, &id);
    let mut lines = lines_of(&log);
    lines[1] = lines[1].replace("the last word", "a different word");
    write_lines(&log, &lines);
    let v = w.run(&bob, &["verify", &id]).code(1);
    assert!(v.stdout.contains("differs from what this host wrote"), "{v}");
}

/// Heads recorded at a phase change let verify notice a log that lost its end.
#[test]
fn verify_detects_a_truncated_log_through_heads() {
    let w = World::new();
    let ic = w.who("ic", "jump");
    let bob = w.who("bob", "laptop");
    let id = w.declare(&ic, "Truncated");
    for n in 1..=3 {
        w.note(&bob, &id, &format!("bob {n}"));
    }
    w.run(&ic, &["phase", &id, "containment"]).ok(); // records Heads (bob, 3, hash)
    let log = w.log_of(&bob, &id);
    let name = log.file_name().unwrap().to_string_lossy().into_owned();
    let mut lines = lines_of(&log);
    lines.pop();
    write_lines(&log, &lines);
    let v = w.run(&w.who("audit", "elsewhere"), &["verify", &id]).code(1);
    assert!(v.stdout.contains(&name) && v.stdout.contains("truncated"), "{v}");
}

// ---- 6. hostile content -------------------------------------------------------------------------

fn assert_clean(what: &str, out: &[u8]) {
    assert!(!out.contains(&0x1b), "{what}: ESC reached the output");
    assert!(!out.contains(&0x07), "{what}: BEL reached the output");
    let text = String::from_utf8_lossy(out);
    assert!(!text.contains('\u{202e}'), "{what}: U+202E reached the output");
}

/// Every string inside a JSON value, recursively.
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(m) => m.iter().for_each(|(k, x)| {
            out.push(k.clone());
            strings(x, out)
        }),
        _ => {}
    }
}

#[test]
fn hostile_note_text_never_reaches_the_terminal() {
    let w = World::new();
    let ic = w.who("ic", "jump");
    let eve = w.who("eve", "box");
    let id = w.declare(&ic, "Hostile");
    let evil = "evil \x1b[31mred\x1b]0;pwned\x07 bell\x07 \u{202e}gpj.exe\nsecond line\r\nthird\x1b[2J";
    w.note(&eve, &id, evil);
    // The file keeps it escaped on one line.
    let log = w.log_of(&eve, &id);
    assert_eq!(lines_of(&log).len(), 1);

    let tail = w.run(&ic, &["tail", &id]).ok();
    assert_clean("tail", &tail.raw_stdout);
    assert!(tail.stdout.contains("second line"), "{tail}");
    assert_eq!(tail.stdout.lines().count(), 2, "one line per event\n{tail}");

    let show = w.run(&ic, &["show", &id]).ok();
    assert_clean("show", &show.raw_stdout);
    let list = w.run(&ic, &["list"]).ok();
    assert_clean("list", &list.raw_stdout);

    for args in [vec!["tail", &id, "--json"], vec!["show", &id, "--json"]] {
        let r = w.run(&ic, &args).ok();
        assert_clean(&args.join(" "), &r.raw_stdout);
        let mut all = Vec::new();
        for v in r.json_lines() {
            strings(&v, &mut all);
        }
        for s in &all {
            assert!(
                !s.contains(['\x1b', '\x07', '\u{202e}', '\r']),
                "{}: decoded JSON string still holds a control: {s:?}",
                args.join(" ")
            );
        }
        if args[0] == "tail" {
            assert!(all.iter().any(|s| s.contains("second line")));
        }
    }
}

#[test]
fn bad_lines_and_files_are_problems_and_the_rest_still_loads() {
    let w = World::new();
    let ic = w.who("ic", "jump");
    let bob = w.who("bob", "laptop");
    let carol = w.who("carol", "jump");
    let id = w.declare(&ic, "Bad lines");
    w.note(&carol, &id, "carol's note");
    w.note(&bob, &id, "bob one");
    w.note(&bob, &id, "bob two");
    let events = w.events_dir(&id);
    let bob_log = w.log_of(&bob, &id);
    let bob_name = bob_log.file_name().unwrap().to_string_lossy().into_owned();
    let carol_line = lines_of(&w.log_of(&carol, &id)).remove(0);

    // A garbage line, then a real record that claims another writer.
    append(&bob_log, b"this is not a record\n");
    append(&bob_log, format!("{carol_line}\n").as_bytes());
    // A symlink posing as a log, pointing outside the shared directory at a well-formed log.
    let outside = w.path().join("outside.ronl");
    let forged = carol_line
        .replace("carol@jump", "mallory@evil")
        .replace("carol's note", "FOLLOWED A SYMLINK");
    fs::write(&outside, format!("{forged}\n")).unwrap();
    std::os::unix::fs::symlink(&outside, events.join("mallory@evil.abc123.ronl")).unwrap();

    let s = w.show(&w.who("dave", "elsewhere"), &id);
    let problems = s["problems"].as_array().unwrap();
    let has = |source_end: &str, line: Option<u64>| {
        problems
            .iter()
            .any(|p| p["source"].as_str().unwrap().ends_with(source_end) && line.is_none_or(|l| p["line"] == l))
    };
    assert!(has(&bob_name, Some(3)), "garbage line: {problems:#?}");
    assert!(has(&bob_name, Some(4)), "wrong `by`: {problems:#?}");
    assert!(has("mallory@evil.abc123.ronl", None), "symlink: {problems:#?}");
    assert_eq!(problems.len(), 3, "{problems:#?}");
    // Everything else still loads; nothing came through the symlink.
    assert_eq!(s["notes"], 3);
    assert_eq!(s["title"], "Bad lines");
    let texts = note_texts(&w.tail_json(&ic, &id));
    assert!(!texts.iter().any(|t| t.contains("FOLLOWED")), "{texts:?}");
}

/// A foreign record at the end of my log (hand-planted, or a sync tool's mix-up) must not make
/// my writer continue from *its* seq: today the writer takes the last parseable line as its own.
#[test]
fn foreign_line_at_end_of_own_log_does_not_block_the_writer() {
    let w = World::new();
    let ic = w.who("ic", "jump");
    let bob = w.who("bob", "laptop");
    let carol = w.who("carol", "jump");
    let id = w.declare(&ic, "Foreign line");
    w.note(&carol, &id, "carol's note");
    w.note(&bob, &id, "bob one");
    w.note(&bob, &id, "bob two");
    let carol_line = lines_of(&w.log_of(&carol, &id)).remove(0);
    append(&w.log_of(&bob, &id), format!("{carol_line}\n").as_bytes());
    w.note(&bob, &id, "bob three");
    let s = w.show(&ic, &id);
    assert_eq!(s["notes"], 4, "{s:#}");
}

/// A folder that disappears (a vanished mount) is reported, and the last known state is kept.
#[test]
fn a_vanished_incident_folder_keeps_its_last_known_state() {
    use warroom::store::incident::Incident;
    use warroom::store::{RootChoice, RootSource, Store};
    let w = World::new();
    let ic = w.who("ic", "jump");
    let id = w.declare(&ic, "Will vanish");
    w.note(&ic, &id, "before the mount went away");
    let store = Store::open(
        &RootChoice {
            path: w.root(),
            source: RootSource::Flag,
        },
        w.path().join("state-reader"),
        w.path().join("run"),
    )
    .unwrap();
    let now = warroom::cli::context::now_ms();
    let mut inc = Incident::open(&store, &id, now);
    assert_eq!(inc.state.derived.notes, 1);
    std::fs::rename(w.root().join(&id), w.path().join("moved-away")).unwrap();
    inc.refresh(now);
    assert_eq!(inc.state.derived.notes, 1, "last known state kept");
    assert!(
        inc.problems().iter().any(|p| p.what.contains("vanished")),
        "{:?}",
        inc.problems()
    );
    // Writing now fails loudly instead of creating a stray folder.
    let r = w.run(&ic, &["note", &id, "after"]);
    assert_ne!(r.code, 0, "{r}");
}

/// A team on one jump host: a group-writable root makes every folder and log group-writable (and
/// never world-writable), so a second Unix user can write from the first minute.
#[test]
fn a_group_writable_root_shares_what_it_creates() {
    use std::os::unix::fs::PermissionsExt;
    let w = World::new();
    std::fs::create_dir_all(w.root()).unwrap();
    std::fs::set_permissions(w.root(), std::fs::Permissions::from_mode(0o2770)).unwrap();
    let ic = w.who("ic", "jump");
    let id = w.declare(&ic, "Shared host");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    let dir = w.root().join(&id);
    assert_eq!(mode(&dir), 0o2775, "incident folder");
    assert_eq!(mode(&dir.join("events")), 0o2775, "events folder");
    for log in w.logs(&id) {
        assert_eq!(mode(&log), 0o664, "{}", log.display());
    }
    assert_eq!(mode(&dir.join("incident.ron")) & 0o002, 0, "never world-writable");
}

/// A FIFO planted in the events folder must not hang readers (it is reported and skipped).
#[test]
fn a_planted_fifo_does_not_hang_readers() {
    let w = World::new();
    let ic = w.who("ic", "jump");
    let id = w.declare(&ic, "Fifo");
    let fifo = w.events_dir(&id).join("mallory@evil.abc123.ronl");
    let status = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(status.success());
    let shown = w.show(&ic, &id);
    assert_eq!(shown["events"], 1, "{shown}");
    assert!(shown["problems"].to_string().contains("mallory@evil"), "{shown}");
}

/// A playbook copy edited in the shared folder (say, to drop an approval rule) is never used.
#[test]
fn an_edited_playbook_copy_is_not_used() {
    let w = World::new();
    let ic = w.who("ic", "jump");
    let id = w.declare(&ic, "Edited copy");
    let dir = w.root().join(&id).join("playbooks");
    let copy = std::fs::read_dir(&dir).unwrap().flatten().next().unwrap().path();
    let text = std::fs::read_to_string(&copy).unwrap().replace("TwoPerson", "None");
    std::fs::write(&copy, text).unwrap();
    let shown = w.show(&ic, &id);
    let problems = shown["problems"].to_string();
    assert!(problems.contains("does not match its hash"), "{problems}");
    // This host's library holds the same playbook (same hash): that copy's rules are used.
    assert!(problems.contains("library copy with the same hash"), "{problems}");
    let approval = shown["actions"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["id"] == "cut-segment-egress"))
        .map(|x| x["approval"].clone());
    assert_eq!(
        approval,
        Some(serde_json::json!("TwoPerson")),
        "the edited copy is not used"
    );
}

/// A huge sparse file planted in the events folder costs a write nothing: tails are read from the
/// end, a bounded distance back.
#[test]
fn a_huge_planted_file_does_not_slow_writes() {
    let w = World::new();
    let ic = w.who("ic", "jump");
    let id = w.declare(&ic, "Sparse");
    let huge = std::fs::File::create(w.events_dir(&id).join("eve@evil.abc123.ronl")).unwrap();
    huge.set_len(256 << 20).unwrap(); // 256 MiB of zeros, no newline
    w.note(&ic, &id, "still writing").ok();
    let shown = w.show(&ic, &id);
    assert_eq!(shown["notes"], 1, "{shown}");
    let r = w.run(&ic, &["verify", &id]);
    assert!(r.stdout.contains("eve@evil") || r.stderr.contains("eve@evil"), "{r}");
}

/// An unreadable last line is shown at once as settling (a write may be landing), then reported
/// as skipped once it has stayed bad; every other record still loads.
#[test]
fn an_unreadable_last_line_is_shown_while_it_settles() {
    let w = World::new();
    let ic = w.who("ic", "jump");
    let id = w.declare(&ic, "Settling");
    let bad = w.events_dir(&id).join("mallory@evil.abc123.ronl");
    std::fs::write(&bad, "garbage(\n").unwrap();
    let problems = w.show(&ic, &id)["problems"].to_string();
    assert!(
        problems.contains("mallory@evil") && problems.contains("looked at again"),
        "{problems}"
    );
    // Long bad (its file unchanged for a minute): reported as skipped by a one-shot command.
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
    std::fs::File::options()
        .write(true)
        .open(&bad)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let problems = w.show(&ic, &id)["problems"].to_string();
    assert!(problems.contains("skipped"), "{problems}");
    assert_eq!(w.show(&ic, &id)["events"], 1);
}

/// A write refused for being too long leaves a torn tail for the next good write to repair and
/// record, rather than cutting it silently.
#[test]
fn a_refused_write_keeps_the_torn_tail_for_the_record() {
    let w = World::new();
    let ic = w.who("ic", "jump");
    let id = w.declare(&ic, "Torn then refused");
    let log = w.log_of(&ic, &id);
    let before = std::fs::metadata(&log).unwrap().len();
    std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .unwrap()
        .write_all(b"(v:1,id:\"torn")
        .unwrap();
    // Control characters are escaped in RON, so 100 KB of them makes a record over the limit.
    let huge = "\u{1}".repeat(100_000);
    let r = w.run(&ic, &["note", &id, &huge]);
    assert_eq!(r.code, 1, "{r}");
    assert_eq!(
        std::fs::metadata(&log).unwrap().len(),
        before + 13,
        "the torn bytes are still there"
    );
    w.note(&ic, &id, "after").ok();
    let kinds: Vec<String> = w
        .tail_json(&ic, &id)
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect();
    assert!(kinds.contains(&"TailRepaired".to_string()), "{kinds:?}");
}
