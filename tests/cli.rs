//! The headless command line, driven through the real binary: help, declare, refused writes,
//! playbook checks, import, list, tail --follow and the demo.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

// ---- 1. help ------------------------------------------------------------------------------------

#[test]
fn help_works_for_every_verb() {
    let w = World::new();
    let me = w.who("alice", "jump");
    let verbs: &[&[&str]] = &[
        &[],
        &["declare"],
        &["note"],
        &["check"],
        &["action"],
        &["assign"],
        &["phase"],
        &["severity"],
        &["role"],
        &["classify"],
        &["materiality"],
        &["status"],
        &["resolve"],
        &["reopen"],
        &["discovery"],
        &["followup", "x", "add"],
        &["followup", "x", "done"],
        &["followup", "x", "list"],
        &["correct"],
        &["review"],
        &["list"],
        &["show"],
        &["tail"],
        &["import"],
        &["verify"],
        &["export"],
        &["report"],
        &["bundle"],
        &["playbook"],
        &["demo"],
        &["playbook", "list"],
        &["playbook", "check"],
    ];
    for verb in verbs {
        let mut args = verb.to_vec();
        args.push("--help");
        let r = w.run(&me, &args);
        assert_eq!(r.code, 0, "warroom {}\n{r}", args.join(" "));
        assert!(r.stdout.contains("Usage: warroom"), "warroom {}\n{r}", args.join(" "));
    }
    // No help run touched the shared directory.
    assert!(!w.root().exists() || std::fs::read_dir(w.root()).unwrap().next().is_none());
}

// ---- 2. declare ---------------------------------------------------------------------------------

#[test]
fn declare_prints_only_the_id() {
    let w = World::new();
    let me = w.who("alice", "jump");
    let r = w
        .run(
            &me,
            &[
                "declare",
                "--playbook",
                "phishing",
                "--title",
                "Wire fraud: CFO mailbox!",
                "--severity",
                "1",
            ],
        )
        .ok();
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{r}");
    let id = lines[0];
    assert!(looks_like_incident_id(id), "not an incident id: {id:?}");
    assert!(w.root().join(id).join("events").is_dir());
    let s = w.show(&me, id);
    assert_eq!(s["id"], id);
    assert_eq!(s["severity"], 1);
    assert_eq!(s["commander"], "alice");
    assert_eq!(s["title"], "Wire fraud: CFO mailbox!");
}

// ---- 3. refused writes --------------------------------------------------------------------------

/// Run a write that must be refused: exit 1, nothing written. Returns stderr.
fn refused(w: &World, who: &Who, id: &str, args: &[&str]) -> String {
    let before = w.show(who, id)["events"].clone();
    let r = w.run(who, args).code(1);
    assert!(r.stdout.trim().is_empty(), "a refused write prints no result\n{r}");
    assert_eq!(
        w.show(who, id)["events"],
        before,
        "a refused write wrote something\n{r}"
    );
    r.stderr
}

#[test]
fn two_person_action_cannot_be_approved_by_its_proposer() {
    let w = World::new();
    let ic = w.who("ic", "jump");
    let bob = w.who("bob", "laptop");
    let id = w.declare(&ic, "Two person");
    w.run(&bob, &["action", &id, "cut-segment-egress", "proposed"]).ok();
    let err = refused(&w, &bob, &id, &["action", &id, "cut-segment-egress", "approved"]);
    assert!(err.contains("two people") && err.contains("bob"), "{err}");
    // The same person on another host is still the same person.
    let bob_elsewhere = w.who("bob", "phone");
    let err = refused(
        &w,
        &bob_elsewhere,
        &id,
        &["action", &id, "cut-segment-egress", "approved"],
    );
    assert!(err.contains("two people"), "{err}");
    // Someone else may.
    w.run(
        &w.who("carol", "jump"),
        &["action", &id, "cut-segment-egress", "approved"],
    )
    .ok();
    let s = w.show(&ic, &id);
    let a = s["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == "cut-segment-egress")
        .unwrap();
    assert_eq!(a["state"], "approved");
    assert_eq!(a["proposer"], "bob@laptop");
    assert_eq!(a["approver"], "carol@jump");
}

#[test]
fn commander_action_is_approved_only_by_the_commander() {
    let w = World::new();
    let ic = w.who("ic", "jump");
    let bob = w.who("bob", "laptop");
    let id = w.declare(&ic, "Commander approval");
    w.run(&bob, &["action", &id, "disable-ad-account", "proposed"]).ok();
    let err = refused(
        &w,
        &w.who("carol", "jump"),
        &id,
        &["action", &id, "disable-ad-account", "approved"],
    );
    assert!(err.contains("commander") && err.contains("carol"), "{err}");
    w.run(&ic, &["action", &id, "disable-ad-account", "approved"]).ok();
    // An action that needs no approval may run at once.
    w.run(&bob, &["action", &id, "isolate-host-edr", "running"]).ok();
}

#[test]
fn unknown_checklist_item_lists_the_known_ids() {
    let w = World::new();
    let ic = w.who("ic", "jump");
    let id = w.declare(&ic, "Unknown item");
    let err = refused(&w, &ic, &id, &["check", &id, "id-frist-facts", "done"]);
    assert!(err.contains("id-frist-facts"), "{err}");
    assert!(err.contains("known:") && err.contains("id-first-facts"), "{err}");
    w.run(&ic, &["check", &id, "id-first-facts", "done"]).ok();
    let s = w.show(&ic, &id);
    let item = s["checklist"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == "id-first-facts")
        .unwrap();
    assert_eq!(item["state"], "done");
    assert_eq!(item["by"], "ic@jump");
}

#[test]
fn occurred_in_the_future_is_refused_and_the_past_is_echoed_in_utc() {
    let w = World::new();
    let ic = w.who("ic", "jump");
    let id = w.declare(&ic, "Occurred");
    let future = (chrono::Utc::now() + chrono::Duration::minutes(10))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let err = refused(&w, &ic, &id, &["note", &id, "from the future", "--occurred", &future]);
    assert!(err.contains("future"), "{err}");

    let before = chrono::Utc::now() - chrono::Duration::minutes(15);
    let r = w.run(&ic, &["note", &id, "backfilled", "--occurred", "-15m"]).ok();
    let echoed = r
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("occurred: "))
        .unwrap_or_else(|| panic!("no `occurred:` echo\n{r}"));
    assert!(echoed.ends_with('Z'), "echoed in UTC: {echoed}");
    let t = chrono::DateTime::parse_from_rfc3339(echoed).unwrap();
    let off = (t.with_timezone(&chrono::Utc) - before).num_seconds().abs();
    assert!(off < 120, "echo {echoed} is not 15 minutes ago");
    let events = w.tail_json(&ic, &id);
    let note = events.iter().find(|e| e["kind"] == "Note").unwrap();
    assert_eq!(note["when"], echoed);
}

#[test]
fn shared_account_must_say_who_it_is() {
    let w = World::new();
    let ic = w.who("ic", "jump");
    let id = w.declare(&ic, "Shared account");
    let root = w.who("root", "jump");
    let err = refused(&w, &root, &id, &["note", &id, "who am i"]);
    assert!(err.contains("--as"), "{err}");
    w.run(&root, &["--as", "dave", "note", &id, "it is dave"]).ok();
    let events = w.tail_json(&ic, &id);
    assert!(events.iter().any(|e| e["by"] == "dave@jump"), "{events:?}");
}

/// Break round 2 (stop 21), L1: an error quoting what the user typed writes out the characters
/// that are never shown (a bidi override, a zero-width space, an escape), not the raw ones.
#[test]
fn errors_write_out_invisible_characters_the_user_typed() {
    let w = World::new();
    let ic = w.who("ic", "jump");
    let r = w.run(&ic, &["show", "2026-01-01-x\u{202e}\u{200b}\u{1b}[2J"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("\\u{202e}\\u{200b}\\u{1b}[2J"), "{r}");
    assert!(!r.stderr.contains(['\u{202e}', '\u{200b}', '\u{1b}']), "{r}");
}

#[test]
fn usage_errors_exit_2() {
    let w = World::new();
    let ic = w.who("ic", "jump");
    let id = w.declare(&ic, "Usage");
    for args in [
        vec!["note"],
        vec!["severity", &id, "7"],
        vec!["declare", "--title", "x", "--severity", "2"],
        vec!["no-such-verb"],
        vec!["check", &id, "id-first-facts", "finished"],
    ] {
        let r = w.run(&ic, &args);
        assert_eq!(r.code, 2, "warroom {}\n{r}", args.join(" "));
        assert!(!r.stderr.is_empty());
    }
    assert_eq!(w.show(&ic, &id)["events"], 1);
}

// ---- 4. playbook check --------------------------------------------------------------------------

#[test]
fn playbook_check_passes_the_shipped_playbooks() {
    let w = World::new();
    let dir = manifest_dir().join("playbooks");
    let r = w
        .run(&w.who("a", "b"), &["playbook", "check", dir.to_str().unwrap()])
        .ok();
    assert!(r.stdout.starts_with("ok:"), "{r}");
}

/// 1-based line number of the first line of `text` that contains `needle` (after `from`).
fn line_of(text: &str, needle: &str, from: usize) -> usize {
    text.lines()
        .enumerate()
        .skip(from)
        .find(|(_, l)| l.contains(needle))
        .map(|(i, _)| i + 1)
        .unwrap_or_else(|| panic!("{needle} not found"))
}

/// Asserts some stderr line starts `file:LINE:COL:`; returns that line.
fn finding<'a>(stderr: &'a str, file: &str, line: usize) -> &'a str {
    let prefix = format!("{file}:{line}:");
    stderr
        .lines()
        .find(|l| {
            l.strip_prefix(&prefix).is_some_and(|rest| {
                let (col, _) = rest.split_once(':').unwrap_or(("", ""));
                !col.is_empty() && col.bytes().all(|b| b.is_ascii_digit())
            })
        })
        .unwrap_or_else(|| panic!("no `{prefix}COL:` finding in:\n{stderr}"))
}

#[test]
fn playbook_check_points_at_the_broken_line() {
    let w = World::new();
    let me = w.who("a", "b");
    let original = std::fs::read_to_string(manifest_dir().join("playbooks/ransomware.ron")).unwrap();
    let dir = w.path().join("pb");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("ransomware.ron");
    let file_s = file.to_str().unwrap();

    // An unknown field inserted before the top-level `title:`.
    let at = line_of(&original, "  title: ", 0);
    let mut lines: Vec<&str> = original.lines().collect();
    lines.insert(at - 1, "  titel: \"typo\",");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let r = w.run(&me, &["playbook", "check", file_s]).code(1);
    let f = finding(&r.stderr, file_s, at);
    assert!(f.contains("titel"), "{f}");
    // Checking the folder names the file too.
    let r = w.run(&me, &["playbook", "check", dir.to_str().unwrap()]).code(1);
    finding(&r.stderr, file_s, at);

    // A duplicate checklist item id: the second one is reported.
    let first = line_of(&original, "(id: \"id-first-facts\"", 0);
    let second = line_of(&original, "(id: \"id-scope-hosts\"", 0);
    assert!(second > first);
    let dup = original.replace("(id: \"id-scope-hosts\"", "(id: \"id-first-facts\"");
    std::fs::write(&file, dup).unwrap();
    let r = w.run(&me, &["playbook", "check", file_s]).code(1);
    let f = finding(&r.stderr, file_s, second);
    assert!(f.contains("id-first-facts"), "{f}");

    // A playbook that does not parse at all is named with a line, and `declare` refuses it.
    let broken = original.replacen("  version: ", "  version ", 1);
    std::fs::write(&file, broken).unwrap();
    let r = w.run(&me, &["playbook", "check", file_s]).code(1);
    finding(&r.stderr, file_s, line_of(&original, "  version: ", 0));
    let r = w.run(
        &me,
        &["declare", "--playbook", file_s, "--title", "x", "--severity", "3"],
    );
    assert_eq!(r.code, 1, "{r}");
    assert!(r.stdout.is_empty(), "{r}");
}

#[test]
fn playbook_list_shows_the_built_in_set() {
    let w = World::new();
    let r = w.run(&w.who("a", "b"), &["playbook", "list"]).ok();
    let ids: Vec<&str> = r.stdout.lines().filter_map(|l| l.split('\t').next()).collect();
    assert!(ids.contains(&"ransomware") && ids.contains(&"phishing"), "{r}");
}

// ---- 4b. files from real tools: misspellings, BOM, CRLF -------------------------------------------

/// `text` as a Windows editor saves it: a byte-order mark and CRLF line endings.
fn windows(text: &str) -> String {
    format!("\u{feff}{}", text.replace('\n', "\r\n"))
}

/// 1-based column of `needle` on its first line.
fn col_of(text: &str, needle: &str) -> usize {
    let line = text.lines().find(|l| l.contains(needle)).unwrap();
    line[..line.find(needle).unwrap()].chars().count() + 1
}

#[test]
fn a_misspelled_field_is_reported_at_its_own_line_in_every_file_type() {
    let w = World::new();
    let me = w.who("alice", "jump");
    let dir = w.path().join("files");
    std::fs::create_dir_all(&dir).unwrap();

    // Playbook: a misspelled required field is not "missing at the end of the file".
    let original = std::fs::read_to_string(manifest_dir().join("playbooks/ransomware.ron")).unwrap();
    let typo = original.replacen("  phases: (", "  phaseszz: (", 1);
    let (line, col) = (line_of(&typo, "phaseszz", 0), col_of(&typo, "phaseszz"));
    let file = dir.join("ransomware.ron");
    let file_s = file.to_str().unwrap();
    for text in [typo.clone(), windows(&typo)] {
        std::fs::write(&file, &text).unwrap();
        let r = w.run(&me, &["playbook", "check", "--strict", file_s]).code(1);
        assert_eq!(
            r.stderr.lines().next().unwrap_or(""),
            format!("{file_s}:{line}:{col}: unknown field `phaseszz` — did you mean `phases`? (`phases` is required)"),
            "{r}"
        );
    }

    // Scenario: a required and an optional field, each at its own line.
    let original = std::fs::read_to_string(manifest_dir().join("assets/scenarios/leaked-cloud-keys.ron")).unwrap();
    let typo =
        original
            .replacen("    objectives: [", "    objectivs: [", 1)
            .replacen("notes: \"\",", "notess: \"\",", 1);
    let file = dir.join("scenario.ron");
    let file_s = file.to_str().unwrap();
    std::fs::write(&file, windows(&typo)).unwrap();
    let r = w.run(&me, &["exercise", "check", file_s]).code(1);
    let want = [
        format!(
            "warroom: {file_s}:{}:5: unknown field `objectivs` — did you mean `objectives`? (`objectives` is required)",
            line_of(&typo, "objectivs", 0)
        ),
        format!(
            "{file_s}:{}:{}: unknown field `notess` — did you mean `notes`?",
            line_of(&typo, "notess", 0),
            col_of(&typo, "notess")
        ),
    ];
    assert_eq!(r.stderr.lines().collect::<Vec<_>>(), want, "{r}");

    // Config: every field is optional, so only the suggestion.
    let cfg = w.path().join("cfg").join("warroom");
    std::fs::create_dir_all(&cfg).unwrap();
    let config = cfg.join("config.ron");
    std::fs::write(&config, windows("(\n  poll_intervall: 2.0,\n)\n")).unwrap();
    let r = w.run(&me, &["list"]).code(1);
    assert_eq!(
        r.stderr.trim(),
        format!(
            "warroom: {}:2:3: unknown field `poll_intervall` — did you mean `poll_interval`?",
            config.display()
        ),
        "{r}"
    );
    std::fs::remove_file(&config).unwrap();

    // Keymap: checked before the console needs a terminal.
    let keys = cfg.join("keys.ron");
    std::fs::write(&keys, windows("[\n  (context: Board, key: \"x\", acton: Quit),\n]\n")).unwrap();
    let r = w.run(&me, &[]).code(1);
    assert_eq!(
        r.stderr.trim(),
        format!(
            "warroom: {}:2:30: unknown field `acton` — did you mean `action`? (`action` is required)",
            keys.display()
        ),
        "{r}"
    );
}

#[test]
fn strict_check_refuses_control_and_invisible_characters() {
    let w = World::new();
    let me = w.who("alice", "jump");
    let original = std::fs::read_to_string(manifest_dir().join("playbooks/ransomware.ron")).unwrap();
    // An escape in the title (as RON writes it) and a raw zero-width space in an item.
    let bad = original.replacen("  title: \"", "  title: \"\\u{1b}[2J", 1).replacen(
        "(id: \"id-first-facts\", text: \"",
        "(id: \"id-first-facts\", text: \"\u{200b}",
        1,
    );
    let file = w.path().join("ransomware.ron");
    let file_s = file.to_str().unwrap();
    std::fs::write(&file, &bad).unwrap();
    let r = w.run(&me, &["playbook", "check", "--strict", file_s]).code(1);
    let title = (line_of(&bad, "  title: ", 0), col_of(&bad, "\\u{1b}"));
    let item = (line_of(&bad, "\u{200b}", 0), col_of(&bad, "\u{200b}"));
    let want = [
        format!(
            "{file_s}:{}:{}: control character U+001B (ESC, starts terminal escape sequences), written as `\\u{{1b}}`, is not allowed in playbook text: it can hide or rewrite what a console shows",
            title.0, title.1
        ),
        format!(
            "{file_s}:{}:{}: invisible format character U+200B (zero-width space) is not allowed in playbook text: it can hide or rewrite what a console shows",
            item.0, item.1
        ),
    ];
    for line in &want {
        assert!(r.stderr.lines().any(|l| l == line), "missing: {line}\n{r}");
    }
    // The content bar is --strict's: a plain check lets the file through.
    w.run(&me, &["playbook", "check", file_s]).ok();
}

#[test]
fn files_with_a_bom_and_crlf_are_read_like_any_other() {
    let w = World::new();
    let me = w.who("alice", "jump");
    let dir = w.path().join("files");
    std::fs::create_dir_all(&dir).unwrap();
    let windows_copy = |rel: &str| {
        let text = std::fs::read_to_string(manifest_dir().join(rel)).unwrap();
        let file = dir.join(Path::new(rel).file_name().unwrap());
        std::fs::write(&file, windows(&text)).unwrap();
        file.to_str().unwrap().to_string()
    };
    let playbook = windows_copy("playbooks/ransomware.ron");
    let r = w.run(&me, &["playbook", "check", "--strict", &playbook]).ok();
    assert!(r.stdout.starts_with("ok:"), "{r}");
    let r = w
        .run(
            &me,
            &[
                "declare",
                "--playbook",
                &playbook,
                "--title",
                "From Windows",
                "--severity",
                "3",
            ],
        )
        .ok();
    assert!(!r.stdout.trim().is_empty(), "{r}");
    let scenario = windows_copy("assets/scenarios/leaked-cloud-keys.ron");
    let r = w.run(&me, &["exercise", "check", &scenario]).ok();
    assert!(r.stdout.starts_with("ok: leaked-cloud-keys"), "{r}");

    let cfg = w.path().join("cfg").join("warroom");
    std::fs::create_dir_all(&cfg).unwrap();
    std::fs::write(cfg.join("config.ron"), windows("(\n  poll_interval: Some(2.0),\n)\n")).unwrap();
    w.run(&me, &["list"]).ok();
    std::fs::write(
        cfg.join("keys.ron"),
        windows("[\n  (context: Board, key: \"x\", action: Quit),\n]\n"),
    )
    .unwrap();
    // The keymap was accepted: the console got as far as asking for a terminal.
    let r = w.run(&me, &[]).code(1);
    assert!(r.stderr.contains("needs a terminal"), "{r}");
}

// ---- 5. import ----------------------------------------------------------------------------------

#[test]
fn import_takes_good_lines_and_names_bad_ones() {
    let w = World::new();
    let ic = w.who("ic", "jump");
    let scribe = w.who("scribe", "laptop");
    let id = w.declare(&ic, "Import");
    let future_ms = chrono::Utc::now().timestamp_millis() + 3_600_000;
    let input = [
        r#"{"text":"chat: first alert seen","occurred":"-30m","tags":["chat"]}"#.to_string(),
        r#"{"text": "unterminated"#.to_string(),
        r#"{"text":"chat: bridge opened"}"#.to_string(),
        format!(r#"{{"text":"chat: from the future","occurred":{future_ms}}}"#),
        r#"{"text":"chat: EDR isolating","occurred":"2020-01-01T00:00:00Z"}"#.to_string(),
    ]
    .join("\n")
        + "\n";
    let r = w.run_stdin(&scribe, &["import", &id], &input).code(1);
    // One message: what was written, then each rejected line and why.
    // Evidence older than discovery: the commander is told how to move it.
    assert!(r.stderr.contains("the commander can set it: warroom discovery"), "{r}");
    let msg = r.stderr.trim().lines().last().unwrap_or_default();
    let prefix = format!("warroom: imported 3 of 5 lines into {id}; line 2: ");
    assert!(msg.starts_with(&prefix), "{r}");
    assert!(msg.contains("; line 4: occurred: `"), "{r}");
    assert!(msg.contains("` is a bare number: seconds or milliseconds?"), "{r}");
    assert_eq!(msg.matches("; line ").count(), 2, "{r}");

    let tail = w.run(&ic, &["tail", &id]).ok();
    for text in ["chat: first alert seen", "chat: bridge opened", "chat: EDR isolating"] {
        assert!(tail.stdout.contains(text), "{text} missing\n{tail}");
    }
    assert!(!tail.stdout.contains("from the future"), "{tail}");

    // Every line good: exit 0; a Windows export (BOM, CRLF) is read like any other.
    let windows =
        "\u{feff}{\"text\":\"chat: windows one\"}\r\n{\"text\":\"chat: windows two\",\"occurred\":\"-1m\"}\r\n";
    let r = w.run_stdin(&scribe, &["import", &id], windows).ok();
    assert!(r.stdout.contains("imported 2 entries"), "{r}");
    assert_eq!(w.show(&ic, &id)["notes"], 5);
    // Two batches, one chain.
    let recs = check_chain(&id, &w.log_of(&scribe, &id));
    assert_eq!(recs.len(), 5);
}

#[test]
fn a_time_no_one_means_is_refused_and_nothing_is_written() {
    let w = World::new();
    let ic = w.who("ic", "jump");
    let id = w.declare(&ic, "Times");
    let log = w.log_of(&ic, &id);
    let before = std::fs::read(&log).unwrap();
    let cases: &[(&str, &str)] = &[
        (
            "1900-01-01T00:00:00Z",
            "warroom: 1900-01-01T00:00:00Z is before 2000: no incident record starts that early; check the year",
        ),
        (
            "1732000000",
            "warroom: `1732000000` is a bare number: seconds or milliseconds?",
        ),
    ];
    for (typed, want) in cases {
        let r = w.run(&ic, &["note", &id, "backfilled", "--occurred", typed]).code(1);
        assert!(r.stderr.starts_with(want), "{typed}\n{r}");
        assert!(r.stdout.is_empty(), "{r}");
    }
    assert_eq!(std::fs::read(&log).unwrap(), before, "nothing was written");
}

// ---- 6. list --------------------------------------------------------------------------------------

#[test]
fn list_shows_incidents() {
    let w = World::new();
    let ic = w.who("ic", "jump");
    let id = w.declare(&ic, "Listed incident");
    let r = w.run(&ic, &["list", "--json"]).ok();
    let v = r.json();
    let incidents = v["incidents"].as_array().unwrap();
    assert_eq!(incidents.len(), 1, "{v}");
    assert_eq!(incidents[0]["id"], id.as_str());
    assert_eq!(incidents[0]["title"], "Listed incident");
    assert_eq!(incidents[0]["status"], "active");
    assert_eq!(v["source"], "WARROOM_DIR");

    let r = w.run(&ic, &["list"]).ok();
    assert!(r.stdout.contains(&id), "{r}");
    assert!(r.stdout.contains("SEV2"), "{r}");
    assert!(
        r.stderr.contains("WARROOM_DIR"),
        "names where the directory came from\n{r}"
    );
}

#[test]
fn list_creates_a_missing_directory_and_says_how_to_declare() {
    let w = World::new();
    let me = w.who("alice", "jump");
    let missing = w.path().join("not").join("yet");
    let r = Run::from_output(w.cmd(&me).env("WARROOM_DIR", &missing).arg("list").output().unwrap()).ok();
    assert!(missing.is_dir(), "the shared directory was created");
    assert!(r.stderr.contains("declare"), "{r}");
    assert!(r.stderr.contains(missing.to_str().unwrap()), "names the directory\n{r}");
}

// ---- 7. tail --follow -----------------------------------------------------------------------------

/// The lines a child writes to `pipe`, as they come: read on a thread (joined after the child is
/// killed) and waited for with [`Lines::wait_for`].
struct Lines {
    rx: mpsc::Receiver<String>,
    reader: std::thread::JoinHandle<()>,
}

impl Lines {
    fn of(pipe: impl std::io::Read + Send + 'static) -> Lines {
        let (tx, rx) = mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Lines { rx, reader }
    }

    /// The first line holding `needle` within `secs`, or every line seen meanwhile.
    fn wait_for(&self, needle: &str, secs: u64) -> Result<String, Vec<String>> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut seen = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.rx.recv_timeout(left) {
                Ok(l) if l.contains(needle) => return Ok(l),
                Ok(l) => seen.push(l),
                Err(_) => break,
            }
        }
        Err(seen)
    }
}

#[test]
fn tail_follow_prints_a_teammates_note() {
    let w = World::new();
    let ic = w.who("ic", "jump");
    let id = w.declare(&ic, "Follow");
    let mut child = w
        .cmd(&ic)
        .args(["--poll-interval", "1", "tail", &id, "--follow"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = Lines::of(child.stdout.take().unwrap());
    let wait_for = |needle: &str| lines.wait_for(needle, 5);
    let result = (|| {
        wait_for("Declared").map_err(|s| format!("no Declared line: {s:?}"))?;
        w.note(&w.who("bob", "laptop"), &id, "bob joins the bridge");
        wait_for("bob joins the bridge").map_err(|s| format!("note did not arrive in 5 s: {s:?}"))
    })();
    let _ = child.kill();
    let _ = child.wait();
    lines.reader.join().unwrap();
    let line = result.unwrap();
    assert!(line.contains("bob@laptop"), "{line}");
}

/// `tail --follow` takes up config.ron's `signing: (require: true)` while it runs, as the console
/// does: a teammate's unsigned note becomes a problem without a restart.
#[test]
fn tail_follow_takes_up_a_signing_change_in_the_config() {
    let w = World::new();
    let ic = w.who("ic", "jump");
    let id = w.declare(&ic, "Follow trust");
    w.note(&w.who("bob", "laptop"), &id, "an unsigned note from bob");
    let mut child = w
        .cmd(&ic)
        .args(["--poll-interval", "1", "tail", &id, "--follow"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = Lines::of(child.stderr.take().unwrap());
    let wait_for = |needle: &str| lines.wait_for(needle, 10);
    let config = w.path().join("cfg").join("warroom").join("config.ron");
    let result = (|| {
        wait_for("following").map_err(|s| format!("tail did not start: {s:?}"))?;
        std::fs::create_dir_all(config.parent().unwrap()).unwrap();
        std::fs::write(&config, "(signing: (require: true))\n").unwrap();
        wait_for("carries no valid SSH signature and this incident requires them")
            .map_err(|s| format!("the config change was not taken up: {s:?}"))
    })();
    let _ = child.kill();
    let _ = child.wait();
    lines.reader.join().unwrap();
    let line = result.unwrap();
    assert!(line.starts_with("problem: "), "{line}");
}

// ---- 8. demo --------------------------------------------------------------------------------------

#[test]
fn headless_demo_runs_and_cleans_up() {
    let w = World::new();
    let me = w.who("viewer", "jump");
    let r = w
        .run(&me, &["demo", "--headless", "--duration", "4", "--speed", "20"])
        .ok();
    assert!(r.stdout.lines().any(|l| l.contains("Declared")), "{r}");
    for mate in ["maya@", "jon@", "priya@"] {
        let n = r.stdout.lines().filter(|l| l.contains(mate)).count();
        assert!(n >= 2, "{mate} wrote {n} events\n{r}");
    }
    assert!(r.stdout.lines().count() >= 10, "{r}");
    assert_clean_text(&r.stdout);
    // stderr: "demo: incident ID in DIR (removed when the demo ends)"
    let dir = r
        .stderr
        .lines()
        .find_map(|l| {
            l.strip_prefix("demo: incident ")?
                .split_once(" in ")?
                .1
                .split(" (")
                .next()
        })
        .unwrap_or_else(|| panic!("no demo directory on stderr\n{r}"));
    let dir = Path::new(dir);
    assert!(dir.is_absolute(), "{}", dir.display());
    assert!(!dir.exists(), "{} was left behind", dir.display());
    // It lived under TMPDIR, never in WARROOM_DIR, and nothing is left there.
    let tmpdir = w.path().join("tmp").canonicalize().unwrap();
    assert!(dir.starts_with(&tmpdir), "{} is not under TMPDIR", dir.display());
    assert!(std::fs::read_dir(w.path().join("tmp")).unwrap().next().is_none());
    assert!(!w.root().exists() || std::fs::read_dir(w.root()).unwrap().next().is_none());
}

fn assert_clean_text(s: &str) {
    assert!(
        !s.contains(['\x1b', '\x07', '\u{202e}']),
        "control characters in output"
    );
}

// ---- the command line for a commander under stress ---------------------------------------------

#[test]
fn every_argument_has_help_text() {
    use clap::CommandFactory;
    fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
        for a in cmd.get_arguments() {
            let id = a.get_id().as_str();
            if id == "help" || id == "version" {
                continue;
            }
            if a.get_help().is_none() && a.get_long_help().is_none() {
                missing.push(format!("{path} {id}"));
            }
        }
        for sub in cmd.get_subcommands() {
            walk(sub, &format!("{path} {}", sub.get_name()), missing);
        }
    }
    let mut missing = Vec::new();
    walk(&warroom::cli::Cli::command(), "warroom", &mut missing);
    assert!(missing.is_empty(), "arguments without help: {missing:#?}");
}

#[test]
fn note_and_status_read_their_text_from_stdin_given_a_dash() {
    let w = World::new();
    let me = w.who("alice", "jump");
    let id = w.declare(&me, "Stdin");
    let text = "Update 10:30Z\r\nHosts isolated: fin-fs-02, fin-fs-03\r\n";
    w.run_stdin(&me, &["note", &id, "-"], text).ok();
    w.run_stdin(
        &me,
        &["status", &id, "--audience", "internal", "-"],
        "All hands: bridge moved\n",
    )
    .ok();
    let ev = w.tail_json(&me, &id);
    assert!(
        note_texts(&ev).contains(&"Update 10:30Z\nHosts isolated: fin-fs-02, fin-fs-03".to_string()),
        "{ev:#?}"
    );
    assert!(ev
        .iter()
        .any(|e| e["kind"] == "StatusUpdate" && e["body"]["text"] == "All hands: bridge moved"));
    // An empty stdin is refused, not recorded.
    let r = w.run_stdin(&me, &["note", &id, "-"], "\n").code(1);
    assert!(r.stderr.contains("empty"), "{r}");
}

#[test]
fn observer_needs_no_identity() {
    let w = World::new();
    let me = w.who("alice", "jump");
    // Without a name, the console refuses for want of an identity...
    let out = w.cmd(&me).env_remove("WARROOM_USER").output().unwrap();
    let r = Run::from_output(out);
    assert!(r.stderr.contains("who you are"), "{r}");
    // ...an observer gets as far as the terminal check (here stdin is not a terminal).
    let out = w
        .cmd(&me)
        .env_remove("WARROOM_USER")
        .arg("--observer")
        .output()
        .unwrap();
    let r = Run::from_output(out);
    assert!(!r.stderr.contains("who you are"), "{r}");
    assert!(
        r.stderr.contains("needs a terminal") && r.stderr.contains("--follow"),
        "{r}"
    );
    assert_eq!(
        warroom::cli::console::terminal_refusal(true, "dumb").map(|s| s.contains("TERM=dumb")),
        Some(true)
    );
    assert_eq!(warroom::cli::console::terminal_refusal(true, "xterm-256color"), None);
}

#[test]
fn import_reads_slack_exports_and_csv_keeping_their_times() {
    let w = World::new();
    let scribe = w.who("scribe", "h1");
    let id = w.declare(&scribe, "Chat export");
    let slack = r#"[
      {"type":"message","user":"U1","user_profile":{"real_name":"Maya K"},"text":"fin-fs-02 encrypting","ts":"1795340880.000200"},
      {"type":"message","subtype":"channel_join","user":"U2","text":"<@U2> has joined","ts":"1795340890.0"},
      {"type":"message","user_name":"jon","text":"isolating \u001b[2J now","ts":"1795340940.0"}
    ]"#;
    let r = w.run_stdin(&scribe, &["import", &id, "--format", "slack"], slack).ok();
    assert!(r.stdout.contains("imported 2 entries"), "{r}");
    let csv = "time,author,text,tags\n2026-11-22T10:05:00Z,priya,\"backups, offline\",backup;ioc\n2026-11-22T10:06:00Z,priya,,\n";
    let r = w.run_stdin(&scribe, &["import", &id, "--format", "csv"], csv).code(1);
    assert!(
        r.stderr.contains("imported 1 of 2 lines") && r.stderr.contains("line 3: empty text"),
        "{r}"
    );
    let events = w.tail_json(&scribe, &id);
    let notes: Vec<&serde_json::Value> = events.iter().filter(|e| e["kind"] == "Note").collect();
    let seen: Vec<(String, String)> = notes
        .iter()
        .map(|n| {
            (
                n["when"].as_str().unwrap().to_string(),
                n["body"]["text"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        seen[0],
        ("2026-11-22T09:48:00Z".into(), "Maya K: fin-fs-02 encrypting".into())
    );
    assert_eq!(seen[1].0, "2026-11-22T09:49:00Z");
    assert_eq!(
        seen[2],
        ("2026-11-22T10:05:00Z".into(), "priya: backups, offline".into())
    );
    assert_eq!(notes[2]["body"]["tags"], serde_json::json!(["backup", "ioc"]));
    // What reaches a terminal is sanitised: no escape sequence from the export.
    let r = w.run(&scribe, &["tail", &id]).ok();
    assert!(!r.stdout.contains('\u{1b}') && !r.stdout.contains("[2J"), "{r}");
    let r = w
        .run_stdin(&scribe, &["import", &id, "--format", "slack"], "{}")
        .code(1);
    assert!(r.stderr.contains("expected a JSON array"), "{r}");
}

#[test]
fn show_json_lists_every_deadline_clock_overdue_met_and_waived() {
    let w = World::new();
    let me = w.who("maya", "soc");
    let id = w.declare(&me, "Clocks");
    // Evidence from four days ago only proposes moving discovery; the commander moves it back:
    // GDPR's 72 h and the insurer's 24 h passed.
    w.run(&me, &["note", &id, "first encrypted file", "--occurred", "-4d"])
        .ok();
    assert!(w.show(&me, &id)["discovery_nudge"].is_object());
    w.run(
        &me,
        &[
            "discovery",
            &id,
            "-4d",
            "--reason",
            "earliest evidence: first encrypted file",
        ],
    )
    .ok();
    w.run(&me, &["check", &id, "id-notify-insurer", "done"]).ok();
    let v = w.show(&me, &id);
    let clocks = &v["clocks"];
    let all = clocks["deadlines"].as_array().expect("deadlines");
    let pb_stages = 10; // ransomware.ron and the base's post-incident review
    assert_eq!(all.len(), pb_stages, "every stage of every deadline: {clocks:#}");
    // Overdue leads; the GDPR clock is overdue, not gone.
    assert_eq!(all[0]["state"], "overdue", "{clocks:#}");
    let gdpr = all.iter().find(|c| c["deadline"] == "gdpr-art33").expect("gdpr");
    assert_eq!(gdpr["state"], "overdue");
    assert!(gdpr["overdue_ms"].as_i64().unwrap_or(0) > 23 * 3_600_000, "{gdpr:#}");
    assert!(
        gdpr["words"].as_str().unwrap_or("").starts_with("OVERDUE by "),
        "{gdpr:#}"
    );
    // The hotline stage is met by the item, late, by maya; the written notice still runs.
    let insurer: Vec<&serde_json::Value> = all.iter().filter(|c| c["deadline"] == "cyber-insurance").collect();
    let hotline = insurer.iter().find(|c| c["state"] == "met").expect("hotline met");
    assert_eq!(hotline["met"]["by"], "maya@soc");
    assert!(hotline["met"]["late_ms"].as_i64().unwrap_or(0) > 0, "{hotline:#}");
    assert!(insurer.iter().any(|c| c["state"] == "running"), "{clocks:#}");
    // Not started until classification; the update cadence of SEV2 and the nudges are there.
    let nis2 = all.iter().find(|c| c["deadline"] == "nis2-art23").expect("nis2");
    assert_eq!(nis2["state"], "not_started");
    assert!(
        clocks["update"]["words"].as_str().unwrap_or("").contains("update"),
        "{clocks:#}"
    );
    assert!(clocks["nudges"].is_array());
    // A skipped item with a note waives its deadline, with the reason.
    w.run(
        &me,
        &[
            "check",
            &id,
            "id-notify-insurer",
            "skipped",
            "--note",
            "no cyber policy in force",
        ],
    )
    .ok();
    let v = w.show(&me, &id);
    let all = v["clocks"]["deadlines"].as_array().expect("deadlines").clone();
    let waived = all.iter().find(|c| c["state"] == "waived").expect("waived");
    assert_eq!(waived["waived"]["reason"], "no cyber policy in force");
    // The export carries the same clocks: Markdown table and JSON.
    let md = w.run(&me, &["export", &id, "--format", "md"]).ok().stdout;
    assert!(md.contains("## Deadline clocks"), "{md}");
    assert!(
        md.contains("| OVERDUE | GDPR supervisory authority notification |"),
        "{md}"
    );
    assert!(md.contains("| waived | Cyber-insurance notice of claim |"), "{md}");
    let json = w.run(&me, &["export", &id, "--format", "json"]).ok().json();
    assert_eq!(json["clocks"]["deadlines"].as_array().map(Vec::len), Some(10));
    // The text show says it too.
    let text = w.run(&me, &["show", &id]).ok().stdout;
    assert!(
        text.contains("Clocks (UTC") && text.contains("[OVERDUE]") && text.contains("[waived]"),
        "{text}"
    );
}

// ---- the post-incident review -------------------------------------------------------------------

fn utc(ms: i64) -> String {
    warroom::domain::time::format_utc(ms)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Declared five days back with a backfilled first alert, through every phase, one deadline
/// missed (GDPR 72 h) and one met (the insurer's hotline within 24 h), resolved: the export's
/// sections and durations in Markdown and JSON; `--as-of`; `report`; `bundle` and its check.
#[test]
fn the_review_writes_itself_end_to_end() {
    const H: i64 = 3_600_000;
    let w = World::new();
    let alice = w.who("alice", "jump");
    let priya = w.who("priya", "laptop");
    let base = (now_ms() - 5 * 24 * H) / H * H;
    let at = |h: i64| utc(base + h * H);
    let id = w
        .run(
            &alice,
            &[
                "declare",
                "--playbook",
                "ransomware",
                "--title",
                "Finance file servers encrypted (fin-fs-02)",
                "--severity",
                "1",
                "--occurred",
                &at(0),
            ],
        )
        .ok()
        .stdout
        .trim()
        .to_string();
    // A drill on the same directory: never counted by `report`.
    w.run(
        &alice,
        &[
            "declare",
            "--playbook",
            "phishing",
            "--title",
            "Drill",
            "--severity",
            "3",
            "--exercise",
        ],
    )
    .ok();
    w.run(
        &alice,
        &["note", &id, "first EDR alert on fin-fs-02", "--occurred", &at(-2)],
    )
    .ok();
    w.run(
        &alice,
        &[
            "note",
            &id,
            "helpdesk calls: files renamed .lockbit",
            "--occurred",
            &at(0),
        ],
    )
    .ok();
    let r = w.run(&alice, &["phase", &id, "containment", "--occurred", &at(1)]).ok();
    assert!(r.stderr.contains("recorded as an override"), "{r}");
    w.run(
        &alice,
        &[
            "status",
            &id,
            "--audience",
            "external",
            "Some systems are down (we are on it).\nNext update 14:00Z",
            "--occurred",
            &at(2),
        ],
    )
    .ok();
    // The insurer's hotline within 24 h of discovery: met.
    w.run(
        &alice,
        &["check", &id, "id-notify-insurer", "done", "--occurred", &at(3)],
    )
    .ok();
    w.run(&alice, &["role", &id, "commander", "priya", "--occurred", &at(4)])
        .ok();
    std::thread::sleep(Duration::from_millis(30));
    let between = now_ms();
    std::thread::sleep(Duration::from_millis(30));
    w.run(&priya, &["phase", &id, "eradication", "--occurred", &at(5)]).ok();
    w.run(&priya, &["phase", &id, "recovery", "--occurred", &at(9)]).ok();
    w.run(&priya, &["phase", &id, "lessons-learned", "--occurred", &at(20)])
        .ok();
    w.run(
        &priya,
        &[
            "resolve",
            &id,
            "--summary",
            "Restored from immutable backups; no data left the network.",
            "--occurred",
            &at(24),
        ],
    )
    .ok();
    w.run(
        &priya,
        &[
            "check",
            &id,
            "ll-review",
            "done",
            "--note",
            "Held 3 days later: EDR coverage gaps on file servers.",
            "--occurred",
            &at(26),
        ],
    )
    .ok();
    w.run(
        &alice,
        &[
            "review",
            &id,
            "detection",
            "EDR saw the encryptor 40 min before the first ticket; alert routing missed it.",
        ],
    )
    .ok();
    w.run(&alice, &["review", &id, "root_cause", "An unpatched VPN appliance."])
        .ok();

    let md = w.run(&alice, &["export", &id, "--format", "md"]).ok().stdout;
    let sections = [
        "> **Integrity: verified**",
        "## Summary",
        "## Impact",
        "## Root cause",
        "## Key times",
        "## Deadline clocks",
        "## Roles and handoffs",
        "## Time in each phase",
        "## Checklists",
        "## Containment actions",
        "## Status updates",
        "## Follow-ups",
        "## Lessons learned",
        "## Timeline (UTC)",
    ];
    let mut from = 0;
    for s in sections {
        from += md[from..]
            .find(s)
            .unwrap_or_else(|| panic!("{s} missing or out of order\n{md}"));
    }
    for want in [
        "| time to detect | first evidence → discovery | 2h 00m",
        "| time to contain | declaration → Eradication entered | 5h 00m",
        "| time to eradicate | declaration → Recovery entered | 9h 00m",
        "| time to recover | declaration → Lessons Learned entered or resolved | 20h 00m",
        "| time to resolve | declaration → resolved | 1d 0h 00m",
        "| Identification | 1× | 1h 00m | - |",
        "| Containment | 1× | 4h 00m | - |",
        "| Eradication | 1× | 4h 00m | - |",
        "| Recovery | 1× | 11h 00m | - |",
        "| Lessons Learned | 1× | 4h 00m | - |",
        "**override:** id-",
        "| met | Cyber-insurance notice of claim |",
        "| OVERDUE | GDPR supervisory authority notification |",
        "- GDPR supervisory authority notification — Notify the lead supervisory authority",
        "| commander | alice | priya | alice |",
        "Restored from immutable backups; no data left the network.",
        "> Some systems are down (we are on it).\\\n> Next update 14:00Z",
        "Held 3 days later: EDR coverage gaps on file servers.",
        "Finance file servers encrypted (fin-fs-02)",
    ] {
        assert!(md.contains(want), "missing {want:?}\n{md}");
    }
    assert!(!md.contains("\\("), "needless escaping\n{md}");

    let j = w.run(&alice, &["export", &id, "--format", "json"]).ok().json();
    let r = &j["review"];
    let kt = |name: &str| {
        r["key_times"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["metric"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(kt("time to detect")["ms"], 2 * H);
    assert_eq!(kt("time to contain")["ms"], 5 * H);
    assert_eq!(kt("time to resolve")["ms"], 24 * H);
    assert_eq!(kt("time to declare")["state"], "not_measured");
    let phase_ms = |p: &str| {
        r["phases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["phase"] == p)
            .map(|x| x["completed_ms"].as_i64().unwrap())
    };
    assert_eq!(phase_ms("Containment"), Some(4 * H));
    assert_eq!(phase_ms("Recovery"), Some(11 * H));
    assert!(r["deadlines_missed"].as_u64().unwrap() >= 1, "{r}");
    let missed: Vec<&serde_json::Value> = r["deadlines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["missed"] == true)
        .collect();
    assert!(missed.iter().any(|d| d["deadline"] == "gdpr-art33"), "{missed:?}");
    assert!(r["deadlines"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["deadline"] == "cyber-insurance" && d["state"] == "met"));
    assert_eq!(r["handoffs"][0]["to"], "priya");
    assert_eq!(
        r["summary"]["text"],
        "Restored from immutable backups; no data left the network."
    );
    assert_eq!(
        r["status_updates"][0]["text"],
        "Some systems are down (we are on it).\nNext update 14:00Z"
    );
    assert!(r["lessons"].as_array().unwrap().iter().any(|q| q["id"] == "detection"
        && q["answer"]["text"] == "EDR saw the encryptor 40 min before the first ticket; alert routing missed it."));
    assert_eq!(r["root_cause"]["text"], "An unpatched VPN appliance.");
    assert!(md.contains("An unpatched VPN appliance."), "{md}");
    assert_eq!(j["integrity"]["ok"], true);

    // As it stood before priya moved it on: Containment, commander priya, clocks then.
    let then = utc(between);
    let then = format!("{}.{:03}Z", &then[..then.len() - 1], between % 1000);
    let v = w.run(&alice, &["show", &id, "--json", "--as-of", &then]).ok().json();
    assert_eq!(v["phase"], "containment", "{v}");
    assert_eq!(v["commander"], "priya");
    assert_eq!(v["status"], "active");
    let old = w
        .run(&alice, &["export", &id, "--format", "json", "--as-of", &then])
        .ok()
        .json();
    assert_eq!(old["review"]["overview"]["as_of"], utc(between));
    assert_eq!(old["review"]["overview"]["status"], "open");
    let live = w.show(&alice, &id);
    assert_eq!(live["phase"], "lessons-learned");

    // `report`: the real incident only, with its times.
    let rep = w.run(&alice, &["report", "--json"]).ok().json();
    assert_eq!(rep["incidents"], 1, "{rep}");
    assert_eq!(rep["excluded"]["exercise"], 1, "{rep}");
    assert_eq!(rep["by_playbook"]["ransomware"], 1);
    assert_eq!(rep["by_severity"]["SEV1"], 1);
    assert_eq!(rep["median_time_to_contain"]["ms"], 5 * H);
    assert_eq!(rep["median_time_to_resolve"]["ms"], 24 * H);
    assert!(rep["missed"].to_string().contains("GDPR"), "{rep}");
    let text = w.run(&alice, &["report"]).ok().stdout;
    assert!(
        text.contains("median time to resolve") && text.contains("1d 0h 00m"),
        "{text}"
    );
    let rep = w.run(&alice, &["report", "--since", "-1d", "--json"]).ok().json();
    assert_eq!(rep["incidents"], 0, "{rep}");

    // The sealed bundle: a roundtrip checks out; a flipped byte, a removed and an added member
    // do not.
    let tar_path = w.path().join("inc.tar");
    let tar_s = tar_path.to_str().unwrap();
    w.run(&alice, &["bundle", &id, "-o", tar_s]).ok();
    let ok = w.run(&alice, &["bundle", "--check", tar_s]).ok();
    assert!(ok.stdout.contains("ok: every member matches the manifest"), "{ok}");
    let bytes = std::fs::read(&tar_path).unwrap();
    let members = |b: &[u8]| -> Vec<(String, Vec<u8>)> {
        let mut a = tar::Archive::new(b);
        a.entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let p = e.path().unwrap().to_string_lossy().into_owned();
                let mut v = Vec::new();
                std::io::Read::read_to_end(&mut e, &mut v).unwrap();
                (p, v)
            })
            .collect()
    };
    let pack = |files: &[(String, Vec<u8>)]| -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (p, v) in files {
            let mut h = tar::Header::new_ustar();
            h.set_size(v.len() as u64);
            h.set_mode(0o644);
            b.append_data(&mut h, p, &v[..]).unwrap();
        }
        b.into_inner().unwrap()
    };
    let all = members(&bytes);
    let manifest: serde_json::Value =
        serde_json::from_slice(&all.iter().find(|(p, _)| p == "MANIFEST.json").unwrap().1).unwrap();
    assert_eq!(manifest["incident"], id.as_str());
    assert_eq!(manifest["verify"]["ok"], true);
    assert_eq!(manifest["export"]["review"]["key_times"][2]["ms"], 5 * H);
    assert!(manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["blake3"].as_str().unwrap().len() == 64));
    let check = |files: Vec<(String, Vec<u8>)>, name: &str| -> Run {
        let p = w.path().join(name);
        std::fs::write(&p, pack(&files)).unwrap();
        w.run(&alice, &["bundle", "--check", p.to_str().unwrap()]).code(1)
    };
    let log = all.iter().position(|(p, _)| p.ends_with(".ronl")).unwrap();
    let mut flipped = all.clone();
    let n = flipped[log].1.len() / 2;
    flipped[log].1[n] ^= 0x01;
    let r = check(flipped, "flipped.tar");
    assert!(r.stdout.contains("CHANGED:") && r.stdout.contains(".ronl"), "{r}");
    let mut removed = all.clone();
    removed.remove(log);
    let r = check(removed, "removed.tar");
    assert!(r.stdout.contains("MISSING:"), "{r}");
    let mut added = all.clone();
    added.push((format!("{id}/events/mallory@evil.abc123.ronl"), b"planted\n".to_vec()));
    let r = check(added, "added.tar");
    assert!(r.stdout.contains("EXTRA:"), "{r}");
    // A manifest is untrusted too: a path it lists reaches the terminal without its escapes.
    let mut hostile = all.clone();
    let at = hostile.iter().position(|(p, _)| p == "MANIFEST.json").unwrap();
    let mut m: serde_json::Value = serde_json::from_slice(&hostile[at].1).unwrap();
    m["files"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"path": "x\u{1b}]0;pwned\u{7}\u{1b}[2Jy", "size": 1, "blake3": "0"}));
    hostile[at].1 = serde_json::to_vec(&m).unwrap();
    let r = check(hostile, "hostile.tar");
    assert!(r.stdout.contains("MISSING: x") && !r.stdout.contains('\u{1b}'), "{r}");
}

// ---- closing: discovery, resolve, follow-ups, corrections, review ------------------------------

#[test]
fn discovery_is_the_commanders_and_a_backfilled_note_only_proposes_it() {
    let w = World::new();
    let ic = w.who("ic", "jump");
    let jon = w.who("jon", "laptop");
    let id = w.declare(&ic, "Discovery");
    let declared = w.show(&ic, &id)["discovered"].clone();
    assert!(declared.is_string(), "discovery defaults to the declaration");
    let r = w.run(&jon, &["note", &id, "first alert", "--occurred", "-3h"]).ok();
    assert!(
        r.stderr.contains("earliest evidence now") && r.stderr.contains("the commander can set it: warroom discovery"),
        "{r}"
    );
    let s = w.show(&ic, &id);
    assert_eq!(s["discovered"], declared, "a backfilled note does not move discovery");
    let nudge = s["discovery_nudge"]["text"].as_str().unwrap_or_default().to_string();
    assert!(
        nudge.contains("note by jon") && nudge.contains("set discovery to"),
        "{s}"
    );
    let text = w.run(&ic, &["show", &id]).ok().stdout;
    assert!(text.contains("earliest evidence"), "{text}");
    // Only the commander sets it, with a reason.
    let err = refused(&w, &jon, &id, &["discovery", &id, "-3h", "--reason", "alert"]);
    assert!(
        err.contains("only the commander (ic)") && err.contains("regulators"),
        "{err}"
    );
    let err = refused(&w, &ic, &id, &["discovery", &id, "-3h", "--reason", " "]);
    assert!(err.contains("reason"), "{err}");
    w.run(&ic, &["discovery", &id, "-3h", "--reason", "first alert"]).ok();
    let s = w.show(&ic, &id);
    assert_ne!(s["discovered"], declared);
    assert_eq!(s["discovery"]["by"], "ic@jump");
    let tail = w.run(&ic, &["tail", &id]).ok().stdout;
    assert!(tail.contains("discovery set to") && tail.contains("(was "), "{tail}");
}

#[test]
fn only_the_commander_resolves_or_says_why_and_open_items_are_recorded() {
    let w = World::new();
    let ic = w.who("ic", "jump");
    let jon = w.who("jon", "laptop");
    let id = w.declare(&ic, "Resolve");
    let err = refused(&w, &jon, &id, &["resolve", &id, "--summary", "done"]);
    assert!(
        err.contains("only the commander (ic)") && err.contains("--reason"),
        "{err}"
    );
    let r = w
        .run(&jon, &["resolve", &id, "--reason", "ic off shift, handover failed"])
        .ok();
    assert!(r.stderr.contains("required item(s) still open"), "{r}");
    let tail = w.tail_json(&ic, &id);
    let resolved = tail.iter().find(|e| e["kind"] == "Resolved").expect("resolved");
    assert!(
        !resolved["body"]["override_open"].as_array().unwrap().is_empty(),
        "{resolved}"
    );
    assert_eq!(resolved["body"]["reason"], "ic off shift, handover failed");
    assert_eq!(w.show(&ic, &id)["status"], "resolved");
    refused(&w, &ic, &id, &["resolve", &id]);
    w.run(&ic, &["reopen", &id, "--reason", "beacon again"]).ok();
    w.run(&ic, &["resolve", &id, "--summary", "contained"]).ok();
}

#[test]
fn follow_ups_are_added_marked_and_listed_by_id_prefix() {
    let w = World::new();
    let ic = w.who("ic", "jump");
    let id = w.declare(&ic, "Follow-ups");
    w.note(&ic, &id, "VPN appliance was unpatched");
    let note_id = w.tail_json(&ic, &id).iter().find(|e| e["kind"] == "Note").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    w.run(
        &ic,
        &[
            "followup",
            &id,
            "add",
            "Patch the VPN",
            "--type",
            "corrective",
            "--owner",
            "bob",
            "--due",
            "+14d",
            "--from",
            &note_id[..20],
        ],
    )
    .ok();
    // Only the three types are offered.
    let r = w.run(&ic, &["followup", &id, "add", "x", "--type", "improvement"]);
    assert_eq!(r.code, 2, "{r}");
    let list = w.run(&ic, &["followup", &id, "list", "--json"]).ok().json();
    let f = &list[0];
    assert_eq!(f["type"], "corrective");
    assert_eq!(f["owner"], "bob");
    assert_eq!(f["from"], note_id.as_str());
    assert_eq!(f["state"], "open");
    assert!(f["due"].is_string());
    let fid = f["id"].as_str().unwrap().to_string();
    let err = refused(&w, &ic, &id, &["followup", &id, "done", "ZZZ"]);
    assert!(err.contains("no follow-up has an id starting with"), "{err}");
    w.run(&ic, &["followup", &id, "done", &fid[..22], "--note", "patched to 7.2"])
        .ok();
    let err = refused(&w, &ic, &id, &["followup", &id, "done", &fid]);
    assert!(err.contains("already"), "{err}");
    let text = w.run(&ic, &["followup", &id, "list"]).ok().stdout;
    assert!(text.contains("[done] corrective · bob"), "{text}");
    assert_eq!(w.show(&ic, &id)["follow_ups"][0]["changed"]["note"], "patched to 7.2");
}

/// A follow-up amended (`correct --text`) is listed with its new text, and one retracted is
/// not listed at all — in `followup list`, `show --json` and the review export alike.
#[test]
fn an_amended_follow_up_is_listed_as_amended_and_a_retracted_one_not_at_all() {
    let w = World::new();
    let ic = w.who("ic", "jump");
    let id = w.declare(&ic, "Follow-up corrections");
    for text in ["Patch the VPN", "Rotate krbtgt on the wrong domain"] {
        w.run(&ic, &["followup", &id, "add", text, "--type", "corrective"]).ok();
    }
    let ids: Vec<String> = w
        .run(&ic, &["followup", &id, "list", "--json"])
        .ok()
        .json()
        .as_array()
        .expect("a list")
        .iter()
        .map(|f| f["id"].as_str().expect("id").to_string())
        .collect();
    assert_eq!(ids.len(), 2);
    w.run(
        &ic,
        &[
            "correct",
            &id,
            &ids[0],
            "--text",
            "Patch the VPN to 7.2.1",
            "--reason",
            "version",
        ],
    )
    .ok();
    w.run(
        &ic,
        &["correct", &id, &ids[1], "--retract", "--reason", "other incident"],
    )
    .ok();
    let list = w.run(&ic, &["followup", &id, "list", "--json"]).ok().json();
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list[0]["text"], "Patch the VPN to 7.2.1", "{list}");
    let show = w.show(&ic, &id);
    assert_eq!(show["follow_ups"].as_array().map(Vec::len), Some(1), "{show}");
    assert_eq!(show["follow_ups"][0]["text"], "Patch the VPN to 7.2.1");
    let text = w.run(&ic, &["followup", &id, "list"]).ok().stdout;
    assert!(!text.contains("wrong domain"), "{text}");
    let err = refused(&w, &ic, &id, &["followup", &id, "done", &ids[1]]);
    assert!(err.contains("was retracted"), "{err}");
}

#[test]
fn corrections_amend_or_retract_and_keep_the_original() {
    let w = World::new();
    let ic = w.who("ic", "jump");
    let jon = w.who("jon", "laptop");
    let carol = w.who("carol", "jump");
    let id = w.declare(&ic, "Corrections");
    w.note(&jon, &id, "host fin-fs-20 encrypted");
    let note_id = w.tail_json(&ic, &id).iter().find(|e| e["kind"] == "Note").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let err = refused(
        &w,
        &carol,
        &id,
        &["correct", &id, &note_id[..20], "--text", "x", "--reason", "typo"],
    );
    assert!(err.contains("only its author (jon) or the commander"), "{err}");
    let err = refused(
        &w,
        &jon,
        &id,
        &["correct", &id, &note_id, "--text", "x", "--reason", " "],
    );
    assert!(err.contains("reason"), "{err}");
    w.run(
        &jon,
        &[
            "correct",
            &id,
            &note_id[..20],
            "--text",
            "host fin-fs-02 encrypted",
            "--reason",
            "typo",
        ],
    )
    .ok();
    let tail = w.run(&ic, &["tail", &id]).ok().stdout;
    assert!(
        tail.contains("[AMENDED by jon: host fin-fs-02 encrypted] host fin-fs-20 encrypted"),
        "{tail}"
    );
    assert!(tail.contains("amended "), "{tail}");
    w.run(
        &ic,
        &["correct", &id, &note_id, "--retract", "--reason", "wrong incident"],
    )
    .ok();
    let tail = w.run(&ic, &["tail", &id]).ok().stdout;
    assert!(
        tail.contains("[RETRACTED by ic: wrong incident] host fin-fs-20"),
        "{tail}"
    );
}

#[test]
fn review_fields_are_answered_and_printed() {
    let w = World::new();
    let ic = w.who("ic", "jump");
    let id = w.declare(&ic, "Review");
    w.run(&ic, &["review", &id, "summary", "Ransomware on two file servers"])
        .ok();
    w.run_stdin(&ic, &["review", &id, "detection", "-"], "EDR alert\nafter 40 minutes\n")
        .ok();
    let err = refused(&w, &ic, &id, &["review", &id, "vibes", "good"]);
    assert!(err.contains("no field `vibes`") && err.contains("detection"), "{err}");
    let text = w.run(&ic, &["review", &id]).ok().stdout;
    assert!(text.contains("summary — Summary"), "{text}");
    assert!(text.contains("    after 40 minutes"), "{text}");
    assert!(
        text.contains("root_cause") && text.contains("not answered yet"),
        "{text}"
    );
    let v = w.run(&ic, &["review", &id, "--json"]).ok().json();
    assert!(v
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["field"] == "detection" && f["answer"] == "EDR alert\nafter 40 minutes"));
    assert_eq!(
        w.show(&ic, &id)["review"]["summary"]["text"],
        "Ransomware on two file servers"
    );
}

// ---- audiences beyond internal and external ----------------------------------------------------

#[test]
fn status_to_executives_is_recorded_and_a_regulator_update_meets_its_deadline() {
    let w = World::new();
    let me = w.who("maya", "soc");
    let id = w.declare(&me, "Audiences");
    w.run(
        &me,
        &[
            "status",
            &id,
            "--audience",
            "executives",
            "Board briefed: servers isolated",
        ],
    )
    .ok();
    let ev = w.tail_json(&me, &id);
    assert!(
        ev.iter().any(|e| e["kind"] == "StatusUpdate"
            && e["body"]["audience"] == "Executives"
            && e["body"]["text"] == "Board briefed: servers isolated"),
        "{ev:#?}"
    );
    let text = w.run(&me, &["tail", &id]).ok().stdout;
    assert!(
        text.contains("executives status update (recorded — not sent): Board briefed"),
        "{text}"
    );
    // An update to the regulator is recorded as such; the ransomware playbook's GDPR clock is
    // met by its notification item (the DPO files through the authority's portal).
    let gdpr = |v: &serde_json::Value| {
        v["clocks"]["deadlines"]
            .as_array()
            .and_then(|a| a.iter().find(|c| c["deadline"] == "gdpr-art33").cloned())
            .expect("gdpr clock")
    };
    assert_eq!(gdpr(&w.show(&me, &id))["state"], "running");
    w.run(
        &me,
        &[
            "status",
            &id,
            "--audience",
            "regulator",
            "Art. 33 notification submitted (ref 4711)",
        ],
    )
    .ok();
    let text = w.run(&me, &["tail", &id]).ok().stdout;
    assert!(text.contains("regulator status update"), "{text}");
    w.run(
        &me,
        &["check", &id, "re-notifications", "done", "--note", "DPA ref 4711"],
    )
    .ok();
    let clock = gdpr(&w.show(&me, &id));
    assert_eq!(clock["state"], "met", "{clock:#}");
    assert_eq!(clock["met"]["by"], "maya@soc", "{clock:#}");
    // Every one of the five is accepted; anything else is a usage error naming them.
    w.run(&me, &["status", &id, "--audience", "customers", "Notice sent"])
        .ok();
    let r = w.run(&me, &["status", &id, "--audience", "board", "x"]).code(2);
    assert!(r.stderr.contains("executives") && r.stderr.contains("regulator"), "{r}");
}

// ---- issue 8: clocks that never mislead -----------------------------------------------------------

fn declare_with(w: &World, who: &Who, playbook: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "declare",
        "--playbook",
        playbook,
        "--title",
        "Clocks",
        "--severity",
        "2",
    ];
    args.extend_from_slice(extra);
    w.run(who, &args).ok().stdout.trim().to_string()
}

#[test]
fn a_regulatory_deadline_is_met_by_its_notification_item_and_says_what_meets_it() {
    let w = World::new();
    let me = w.who("maya", "soc");
    let id = declare_with(&w, &me, "data-breach", &["--occurred", "-4d"]);
    let v = w.show(&me, &id);
    let all = v["clocks"]["deadlines"].as_array().expect("deadlines").clone();
    let gdpr = all.iter().find(|c| c["deadline"] == "gdpr-art33").expect("gdpr");
    assert_eq!(gdpr["state"], "overdue", "{gdpr:#}");
    // A running (or overdue) clock says what would meet it.
    assert_eq!(gdpr["met_by"], "item re-notify-authorities done", "{gdpr:#}");
    assert!(
        gdpr["words"]
            .as_str()
            .unwrap_or("")
            .contains("met by: item re-notify-authorities done"),
        "{gdpr:#}"
    );
    let text = w.run(&me, &["show", &id]).ok().stdout;
    assert!(text.contains("met by: item re-notify-authorities done"), "{text}");
    w.run(
        &me,
        &[
            "check",
            &id,
            "re-notify-authorities",
            "done",
            "--note",
            "filed DPA ref 123",
        ],
    )
    .ok();
    let v = w.show(&me, &id);
    let all = v["clocks"]["deadlines"].as_array().expect("deadlines").clone();
    let gdpr = all.iter().find(|c| c["deadline"] == "gdpr-art33").expect("gdpr");
    assert_eq!(gdpr["state"], "met", "{gdpr:#}");
    assert!(gdpr["met"]["late_ms"].as_i64().unwrap_or(0) > 0, "{gdpr:#}");
    let text = w.run(&me, &["show", &id]).ok().stdout;
    assert!(!text.contains("[OVERDUE] GDPR"), "{text}");
}

#[test]
fn skipping_a_required_item_needs_a_reason_and_waiving_a_deadline_is_the_commanders() {
    let w = World::new();
    let ic = w.who("ic", "jump");
    let jon = w.who("jon", "laptop");
    let id = w.declare(&ic, "Skip");
    // id-notify-insurer meets the insurer's hotline deadline: only the commander waives it.
    let err = refused(
        &w,
        &jon,
        &id,
        &["check", &id, "id-notify-insurer", "skipped", "--note", "no policy"],
    );
    assert!(
        err.contains("only the commander (ic)") && err.contains("waives"),
        "{err}"
    );
    let err = refused(&w, &ic, &id, &["check", &id, "id-notify-insurer", "skipped"]);
    assert!(err.contains("needs a reason"), "{err}");
    w.run(
        &ic,
        &[
            "check",
            &id,
            "id-notify-insurer",
            "skipped",
            "--note",
            "no cyber policy",
        ],
    )
    .ok();
    // A required item without a deadline: anyone may skip it, with a reason.
    let err = refused(&w, &jon, &id, &["check", &id, "id-start-timeline", "skipped"]);
    assert!(err.contains("needs a reason"), "{err}");
    w.run(
        &jon,
        &[
            "check",
            &id,
            "id-start-timeline",
            "skipped",
            "--note",
            "done in the ticket",
        ],
    )
    .ok();
}

#[test]
fn reopening_an_archived_incident_unarchives_it_and_needs_a_reason() {
    let w = World::new();
    let ic = w.who("ic", "jump");
    let id = w.declare(&ic, "Archive");
    w.run(&ic, &["resolve", &id, "--summary", "done", "--reason", "contained"])
        .ok();
    w.run(&ic, &["archive", &id]).ok();
    assert_eq!(w.show(&ic, &id)["status"], "archived");
    // Without --reason: a usage error, nothing written.
    w.run(&ic, &["reopen", &id]).code(2);
    let err = refused(&w, &ic, &id, &["reopen", &id, "--reason", "  "]);
    assert!(err.contains("reason"), "{err}");
    w.run(&ic, &["reopen", &id, "--reason", "beacon again"]).ok();
    let s = w.show(&ic, &id);
    assert_eq!(s["status"], "active", "{s}");
    let list = w.run(&ic, &["list"]).ok().stdout;
    assert!(!list.contains("archived"), "{list}");
}

#[test]
fn evidence_ignores_retracted_records_and_a_corrected_time_counts() {
    let w = World::new();
    let ic = w.who("ic", "jump");
    let id = w.declare(&ic, "Evidence");
    w.run(&ic, &["note", &id, "wrong host", "--occurred", "-5d"]).ok();
    let note = |w: &World| {
        w.tail_json(&ic, &id).iter().find(|e| e["kind"] == "Note").unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let n = note(&w);
    assert!(w.show(&ic, &id)["discovery_nudge"].is_object());
    w.run(&ic, &["correct", &id, &n, "--retract", "--reason", "other host"])
        .ok();
    let s = w.show(&ic, &id);
    assert!(s["discovery_nudge"].is_null(), "a retracted record is no evidence: {s}");
    // A retraction is final; a correction is not corrected.
    let err = refused(&w, &ic, &id, &["correct", &id, &n, "--retract", "--reason", "again"]);
    assert!(err.contains("already retracted"), "{err}");
    let err = refused(&w, &ic, &id, &["correct", &id, &n, "--text", "x", "--reason", "again"]);
    assert!(err.contains("already retracted"), "{err}");
    let corr = w.tail_json(&ic, &id).iter().find(|e| e["kind"] == "Corrected").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let err = refused(&w, &ic, &id, &["correct", &id, &corr, "--text", "x", "--reason", "r"]);
    assert!(
        err.contains("a correction cannot be corrected; correct the original"),
        "{err}"
    );
    // A wrong time is corrected: the record's effective time moves, the original stays shown.
    w.run(&ic, &["note", &id, "first alert"]).ok();
    let first = w.tail_json(&ic, &id).iter().rfind(|e| e["kind"] == "Note").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    w.run(
        &ic,
        &[
            "correct",
            &id,
            &first,
            "--occurred",
            "-2d",
            "--reason",
            "the alert was two days ago",
        ],
    )
    .ok();
    let s = w.show(&ic, &id);
    assert!(s["discovery_nudge"].is_object(), "{s}");
    let text = w.run(&ic, &["tail", &id]).ok().stdout;
    assert!(text.contains("TIME CORRECTED to"), "{text}");
}

#[test]
fn discovery_and_phases_never_move_after_the_declaration_or_backwards() {
    let w = World::new();
    let ic = w.who("ic", "jump");
    let id = declare_with(&w, &ic, "ransomware", &["--occurred", "-4d"]);
    let err = refused(&w, &ic, &id, &["discovery", &id, "-1m", "--reason", "late"]);
    assert!(
        err.contains("after the declaration") && err.contains("being aware"),
        "{err}"
    );
    w.run(&ic, &["discovery", &id, "-5d", "--reason", "first alert"]).ok();
    let err = refused(&w, &ic, &id, &["phase", &id, "containment", "--occurred", "-5d"]);
    assert!(err.contains("before the declaration"), "{err}");
    w.run(&ic, &["phase", &id, "containment", "--occurred", "-1h"]).ok();
    let err = refused(&w, &ic, &id, &["phase", &id, "eradication", "--occurred", "-2h"]);
    assert!(err.contains("before Containment was entered"), "{err}");
    // Resolved without eradication: time to eradicate is not reached, never running.
    w.run(&ic, &["resolve", &id, "--summary", "done", "--reason", "contained"])
        .ok();
    let md = w.run(&ic, &["export", &id, "--format", "md"]).ok().stdout;
    assert!(!md.contains("so far"), "{md}");
    assert!(md.contains("not reached before resolution"), "{md}");
}

#[test]
fn as_of_before_the_declaration_or_in_the_future_says_so() {
    let w = World::new();
    let ic = w.who("ic", "jump");
    let id = w.declare(&ic, "As of");
    let r = w.run(&ic, &["show", &id, "--as-of", "-1h"]).code(1);
    assert!(r.stderr.contains("not declared yet at"), "{r}");
    let r = w.run(&ic, &["export", &id, "--as-of", "-1h"]).code(1);
    assert!(
        r.stderr.contains("not declared yet at") && !r.stdout.contains("syncing"),
        "{r}"
    );
    for t in ["+1h", "2099-01-01T00:00:00Z"] {
        let r = w.run(&ic, &["show", &id, "--as-of", t]).code(1);
        assert!(r.stderr.contains("in the future"), "{t}: {r}");
    }
    let md = w
        .run(&ic, &["export", &id, "--format", "md", "--as-of", "now"])
        .ok()
        .stdout;
    assert!(md.contains("| **As of** |"), "{md}");
}

#[test]
fn the_markdown_export_keeps_follow_up_history_line_breaks_and_names_records_by_id() {
    let w = World::new();
    let ic = w.who("maya", "jump");
    let zed = w.who("zed", "laptop");
    let id = w.declare(&ic, "Markdown");
    w.note(&ic, &id, "VPN appliance was unpatched");
    let note_id = w.tail_json(&ic, &id).iter().find(|e| e["kind"] == "Note").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    w.run(
        &ic,
        &[
            "followup",
            &id,
            "add",
            "Patch the VPN",
            "--type",
            "corrective",
            "--from",
            &note_id,
        ],
    )
    .ok();
    w.run(&ic, &["followup", &id, "add", "Buy a new VPN", "--type", "corrective"])
        .ok();
    let list = w.run(&ic, &["followup", &id, "list", "--json"]).ok().json();
    let (a, b) = (
        list[0]["id"].as_str().unwrap().to_string(),
        list[1]["id"].as_str().unwrap().to_string(),
    );
    w.run(&ic, &["followup", &id, "done", &a, "--note", "patched"]).ok();
    w.run(&zed, &["followup", &id, "reopen", &a, "--note", "still 7.1"])
        .ok();
    w.run(&ic, &["followup", &id, "cancel", &b, "--note", "not needed"])
        .ok();
    w.run_stdin(
        &ic,
        &["status", &id, "--audience", "internal", "-"],
        "line one\nline two\n",
    )
    .ok();
    w.run(
        &ic,
        &[
            "correct",
            &id,
            &note_id,
            "--text",
            "VPN was unpatched (7.1)",
            "--reason",
            "typo",
        ],
    )
    .ok();
    let md = w.run(&ic, &["export", &id, "--format", "md"]).ok().stdout;
    let short: String = note_id.chars().take(10).collect();
    let fu = md.lines().find(|l| l.contains("Patch the VPN")).unwrap_or_default();
    assert!(fu.starts_with("- [ ] "), "{fu}");
    assert!(fu.contains("was done by maya") && fu.contains("open by zed"), "{fu}");
    assert!(fu.contains(&format!("from `{short}`")), "{fu}");
    let cancelled = md.lines().find(|l| l.contains("Buy a new VPN")).unwrap_or_default();
    assert!(cancelled.starts_with("- ~~Buy a new VPN~~ (cancelled)"), "{cancelled}");
    assert!(md.contains("> line one\\\n> line two"), "{md}");
    // Every timeline row carries the short id that corrections name.
    assert!(md.contains(&format!("| `{short}` |")), "{md}");
}

#[test]
fn a_negative_zone_offset_is_read_and_report_names_an_unreadable_claim() {
    let w = World::new();
    let ic = w.who("ic", "jump");
    let id = w.declare(&ic, "Zones");
    w.run(&ic, &["--tz", "-12:00", "show", &id]).ok();
    w.run(&ic, &["show", &id, "--tz", "-12:00"]).ok();
    let other = w.declare(&ic, "Broken claim");
    std::fs::write(w.root().join(&other).join("incident.ron"), "garbage (").unwrap();
    let r = w.run(&ic, &["report", "--json"]).ok();
    assert!(r.stderr.contains("incident.ron"), "{r}");
    let v = r.json();
    assert!(v.to_string().contains("unreadable"), "{v}");
}

#[test]
fn bundle_check_refuses_a_huge_member_without_reading_it_into_memory() {
    let w = World::new();
    let me = w.who("maya", "soc");
    let path = w.path().join("huge.tar");
    let id = "2026-11-30-huge-abcd";
    {
        let f = std::fs::File::create(&path).unwrap();
        let mut t = tar::Builder::new(f);
        let manifest = format!(r#"{{"incident":"{id}","files":[]}}"#);
        let mut h = tar::Header::new_gnu();
        h.set_size(manifest.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        t.append_data(&mut h, "MANIFEST.json", manifest.as_bytes()).unwrap();
        // A member whose header says 1 GiB + 1: the file is sparse, never written out.
        let mut h = tar::Header::new_gnu();
        let size = (1u64 << 30) + 1;
        h.set_size(size);
        h.set_mode(0o644);
        h.set_path(format!("{id}/events/x.ronl")).unwrap();
        h.set_cksum();
        use std::io::{Seek, Write};
        t.get_mut().write_all(h.as_bytes()).unwrap();
        let at = t.get_mut().stream_position().unwrap();
        drop(t);
        let padded = size.div_ceil(512) * 512;
        let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(at + padded + 1024).unwrap();
    }
    let r = w.run(&me, &["bundle", "--check", path.to_str().unwrap()]).code(1);
    assert!(r.stdout.contains("too large") && r.stdout.contains("not read"), "{r}");
}

#[test]
fn a_follow_up_due_date_is_ahead_and_sane_and_the_list_flags_overdue() {
    let w = World::new();
    let ic = w.who("ic", "jump");
    let id = w.declare(&ic, "Due");
    for (due, why) in [("2020-01-01", "in the past"), ("+99999d", "five years")] {
        let err = refused(
            &w,
            &ic,
            &id,
            &["followup", &id, "add", "Patch", "--type", "corrective", "--due", due],
        );
        assert!(err.contains(why), "{due}: {err}");
    }
    w.run(
        &ic,
        &["followup", &id, "add", "Patch", "--type", "corrective", "--due", "+1d"],
    )
    .ok();
    let list = w.run(&ic, &["followup", &id, "list", "--json"]).ok().json();
    assert_eq!(list[0]["overdue"], false, "{list}");
}

/// The review names what a correction changed: a new text, a new time, or a retraction.
#[test]
fn the_review_says_what_a_correction_changed() {
    let w = World::new();
    let ic = w.who("ic", "jump");
    let id = w.declare(&ic, "Corrections in the review");
    w.run(&ic, &["status", &id, "--audience", "internal", "Hosts isolated"])
        .ok();
    let ev = w.tail_json(&ic, &id);
    let upd = ev
        .iter()
        .find(|e| e["kind"] == "StatusUpdate")
        .and_then(|e| e["id"].as_str())
        .expect("the update's id")
        .to_string();
    w.run(
        &ic,
        &["correct", &id, &upd, "--occurred", "-5m", "--reason", "sent earlier"],
    )
    .ok();
    let j: serde_json::Value =
        serde_json::from_str(&w.run(&ic, &["export", &id, "--format", "json"]).ok().stdout).expect("json export");
    let c = j["review"]["status_updates"][0]["correction"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        c.starts_with("amended by ic") && c.contains("happened at") && c.contains("sent earlier"),
        "{c}"
    );
    assert!(!c.contains("retracted"), "{c}");
}

// ---- import streams, and a re-run writes only what is missing -----------------------------------

/// Note texts in `who`'s log of `id`, in order.
fn imported_notes(w: &World, who: &Who, id: &str) -> Vec<String> {
    use warroom::domain::event::{parse, Body};
    lines_of(&w.log_of(who, id))
        .iter()
        .filter_map(|l| parse(l).ok())
        .filter_map(|e| match e.body {
            Body::Note(n) => n.text.held().map(str::to_string),
            _ => None,
        })
        .collect()
}

/// A bad line half-way through a long import is refused and the rest written (in several
/// appends); the same import again, the line fixed, writes that line only: every entry once,
/// an export's own repeated lines kept as often as they appear.
#[test]
fn an_import_run_again_after_a_bad_line_writes_each_entry_once() {
    let w = World::new();
    let ic = w.who("ic", "jump");
    let id = w.declare(&ic, "Import twice");
    let line = |i: usize| format!("{{\"text\":\"entry {i}\",\"occurred\":\"2026-01-01T00:00:00Z\"}}\n");
    let mut good = String::new();
    let mut bad = String::new();
    for i in 0..12_000 {
        let l = if i == 6_000 {
            "{\"text\":\"entry 6000\",\"occurred\":1\n".to_string()
        } else {
            line(i)
        };
        good.push_str(&line(i));
        bad.push_str(&l);
    }
    // Two identical lines in the export: both are entries, both kept.
    good.push_str("{\"text\":\"said twice\"}\n{\"text\":\"said twice\"}\n");
    bad.push_str("{\"text\":\"said twice\"}\n{\"text\":\"said twice\"}\n");

    let r = w.run_stdin(&ic, &["import", &id], &bad).code(1);
    assert!(
        r.stderr
            .contains(&format!("imported 12001 of 12002 lines into {id}; line 6001: ")),
        "{r}"
    );
    assert_eq!(imported_notes(&w, &ic, &id).len(), 12_001);

    let r = w.run_stdin(&ic, &["import", &id], &good).ok();
    assert!(r.stdout.contains("imported 1 entry"), "{r}");
    assert!(r.stdout.contains("12001 already there, skipped"), "{r}");
    let r = w.run_stdin(&ic, &["import", &id], &good).ok();
    assert!(r.stdout.contains("imported 0 entries"), "{r}");

    let mut notes = imported_notes(&w, &ic, &id);
    assert_eq!(notes.iter().filter(|t| *t == "said twice").count(), 2);
    notes.retain(|t| t != "said twice");
    let mut want: Vec<String> = (0..12_000).map(|i| format!("entry {i}")).collect();
    notes.sort();
    want.sort();
    assert_eq!(notes, want, "every entry exactly once");
    check_chain(&id, &w.log_of(&ic, &id));
}

/// A write failing half-way (the incident's folder gone, as an unmounted share) stops the import
/// with exit 1 and says how many entries were written before; the same import again, the folder
/// back, writes the rest: every entry exactly once.
#[test]
fn an_import_that_fails_half_way_says_what_was_written_and_a_re_run_completes_it() {
    use std::io::Write as _;
    let w = World::new();
    let ic = w.who("ic", "jump");
    let id = w.declare(&ic, "Import fails");
    let input: String = (0..15_000).map(|i| format!("{{\"text\":\"line {i}\"}}\n")).collect();
    let (first, rest) = input.split_at(input.find("{\"text\":\"line 10500\"}").expect("line 10500"));
    let mut child = w
        .cmd(&ic)
        .args(["import", &id])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn warroom import");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(first.as_bytes()).expect("feed the first part");
    stdin.flush().expect("flush");
    // The first part (10k entries) reaches the log before the rest is read. Polled while the
    // import may be mid-append: only whole lines count (a torn last line is not a fault here).
    let whole_notes = || {
        let text = std::fs::read_to_string(w.log_of(&ic, &id)).unwrap_or_default();
        let whole = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
        whole
            .lines()
            .filter_map(|l| warroom::domain::event::parse(l).ok())
            .filter(|e| matches!(e.body, warroom::domain::event::Body::Note(_)))
            .count()
    };
    let start = Instant::now();
    while whole_notes() < 10_000 {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the first part never landed"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let events = w.events_dir(&id);
    let away = events.with_extension("away");
    std::fs::rename(&events, &away).expect("take the folder away");
    stdin.write_all(rest.as_bytes()).expect("feed the rest");
    drop(stdin);
    let out = child.wait_with_output().expect("wait for import");
    std::fs::rename(&away, &events).expect("put the folder back");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("10000 entries were imported into {id} before it stopped")),
        "{stderr}"
    );
    assert!(
        stderr.contains("running the same import again writes only the rest"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "nothing acknowledged on stdout");
    assert_eq!(imported_notes(&w, &ic, &id).len(), 10_000);

    let r = w.run_stdin(&ic, &["import", &id], &input).ok();
    assert!(r.stdout.contains("imported 5000 entries"), "{r}");
    assert!(r.stdout.contains("10000 already there, skipped"), "{r}");
    let notes = imported_notes(&w, &ic, &id);
    let want: Vec<String> = (0..15_000).map(|i| format!("line {i}")).collect();
    assert_eq!(notes, want, "every line once, in order");
    check_chain(&id, &w.log_of(&ic, &id));
}

/// With signatures required by this host's config and a declaration written unsigned, `show`
/// says why nothing is applied and what to do (not "syncing"), in text and JSON; a write is not
/// told the incident is syncing either.
#[test]
fn show_says_why_nothing_is_applied_when_required_signatures_are_missing() {
    let w = World::new();
    let alice = w.who("alice", "jump");
    let id = w.declare(&alice, "Unsigned declaration");
    let cfg = w.path().join("cfg").join("warroom");
    std::fs::create_dir_all(&cfg).unwrap();
    std::fs::write(cfg.join("config.ron"), "(signing: (require: true))\n").unwrap();
    let why = "your config requires signatures (require: true); the Declared record by alice@jump has no signature — declare again with --sign, or lift require";
    let r = w.run(&alice, &["show", &id]).ok();
    assert!(r.stdout.contains(&format!("not applied: {why}")), "{r}");
    let j = w.run(&alice, &["show", &id, "--json"]).ok().json();
    assert_eq!(j["not_applied"], why, "{j:#}");
    let n = w.run(&alice, &["note", &id, "hello"]).code(1);
    assert!(!n.stderr.contains("syncing"), "{n}");
}

/// The same incident in `list` and in `show`'s header (text and JSON): "unsigned" and
/// "(nothing applied: signatures required)", never "syncing" — and the board/list cache does
/// not keep the old word.
#[test]
fn list_and_show_call_an_unsigned_declaration_unsigned_not_syncing() {
    let w = World::new();
    let alice = w.who("alice", "jump");
    let id = w.declare(&alice, "Unsigned declaration");
    // Listed once before signatures are required: its cached entry must not outlive the policy.
    let r = w.run(&alice, &["list"]).ok();
    assert!(r.stdout.contains("active"), "{r}");
    let cfg = w.path().join("cfg").join("warroom");
    std::fs::create_dir_all(&cfg).unwrap();
    std::fs::write(cfg.join("config.ron"), "(signing: (require: true))\n").unwrap();
    for _ in 0..2 {
        // The second run reads the cache the first one wrote.
        let r = w.run(&alice, &["list"]).ok();
        assert!(!r.stdout.contains("syncing"), "{r}");
        let row = r
            .stdout
            .lines()
            .find(|l| l.starts_with(id.as_str()))
            .unwrap_or_default();
        assert!(row.contains(" unsigned "), "{r}");
        let j = w.run(&alice, &["list", "--json"]).ok().json();
        assert_eq!(j["incidents"][0]["status"], "unsigned", "{j:#}");
    }
    let r = w.run(&alice, &["show", &id]).ok();
    assert!(!r.stdout.contains("syncing"), "{r}");
    let mut head = r.stdout.lines();
    assert!(
        head.next()
            .is_some_and(|l| l.ends_with("SEV?  (nothing applied: signatures required)")),
        "{r}"
    );
    assert!(
        head.next()
            .is_some_and(|l| l.contains("commander - · unsigned · unsigned")),
        "{r}"
    );
    let j = w.run(&alice, &["show", &id, "--json"]).ok().json();
    assert_eq!(j["status"], "unsigned", "{j:#}");
    assert_eq!(j["title"], "(nothing applied: signatures required)", "{j:#}");
}
