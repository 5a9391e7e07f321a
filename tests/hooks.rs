//! Hooks out: commands in the responder's config run on chosen events with the event as JSON on
//! stdin; a failing or hanging hook is reported and logged, and never stops the write.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

fn script(w: &World, name: &str, body: &str) -> String {
    let p = w.path().join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    let mut perm = std::fs::metadata(&p).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(&p, perm).unwrap();
    p.display().to_string()
}

fn config(w: &World, hooks: &str) {
    let dir = w.path().join("cfg").join("warroom");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.ron"), format!("(hooks: [{hooks}])")).unwrap();
}

fn received(dir: &Path) -> Vec<Value> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    files
        .iter()
        .map(|f| serde_json::from_str(&std::fs::read_to_string(f).unwrap()).expect("hook got JSON"))
        .collect()
}

#[test]
fn hooks_get_chosen_events_as_json_on_stdin() {
    let w = World::new();
    let out = w.path().join("got");
    std::fs::create_dir_all(&out).unwrap();
    let hook = script(
        &w,
        "record.sh",
        &format!("cat > {}/$(date +%s%N)-$WARROOM_HOOK.json", out.display()),
    );
    config(
        &w,
        &format!(
            r#"(name: "record", on: [Declared, SeverityChanged, StatusUpdate, ApprovalRequested], command: ["{hook}"])"#
        ),
    );
    let ic = w.who("maya", "h1");
    let id = w.declare(&ic, "Hooked");
    w.note(&ic, &id, "not a hook event");
    w.run(&ic, &["severity", &id, "1"]).ok();
    w.run(
        &ic,
        &["status", &id, "--audience", "internal", "Hosts isolated\u{1b}[2J"],
    )
    .ok();
    w.run(&ic, &["action", &id, "cut-segment-egress", "proposed"]).ok();
    let got = received(&out);
    let hooks: Vec<&str> = got.iter().map(|v| v["hook"].as_str().unwrap()).collect();
    assert_eq!(
        hooks,
        ["Declared", "SeverityChanged", "StatusUpdate", "ApprovalRequested"]
    );
    assert!(got.iter().all(|v| v["incident"] == id.as_str() && v["mode"] == "real"));
    assert_eq!(got[0]["title"], "Hooked");
    assert_eq!(
        got[2]["text"], "Hosts isolated",
        "sanitised (the whole sequence) before it leaves"
    );
    assert_eq!(got[3]["event"]["body"]["action"], "cut-segment-egress");
}

#[test]
fn a_failing_or_hanging_hook_is_reported_and_logged_never_blocks() {
    let w = World::new();
    let fail = script(&w, "fail.sh", "cat >/dev/null; echo 'chat said 500' >&2; exit 3");
    let hang = script(&w, "hang.sh", "sleep 30 & sleep 30");
    config(
        &w,
        &format!(
            r#"(name: "fails", on: [Declared], command: ["{fail}"]), (name: "hangs", on: [Declared], command: ["{hang}"], timeout_secs: Some(0.5)), (name: "missing", on: [Declared], command: ["/nonexistent/hook"])"#
        ),
    );
    let ic = w.who("maya", "h1");
    let start = Instant::now();
    let r = w
        .run(
            &ic,
            &["declare", "--playbook", "ransomware", "--title", "x", "--severity", "2"],
        )
        .ok();
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "a hanging hook is killed at its timeout"
    );
    assert!(looks_like_incident_id(r.stdout.trim()), "the write happened: {r}");
    assert!(
        r.stderr.contains("hook `fails` on Declared") && r.stderr.contains("exited with status 3: chat said 500"),
        "{r}"
    );
    assert!(
        r.stderr.contains("hook `hangs` on Declared") && r.stderr.contains("timed out after 0.5 s"),
        "{r}"
    );
    assert!(
        r.stderr.contains("hook `missing` on Declared") && r.stderr.contains("cannot start /nonexistent/hook"),
        "{r}"
    );
    let log = std::fs::read_to_string(ic.state.join("hooks.log")).expect("hooks.log");
    assert_eq!(log.lines().count(), 3, "{log}");
}

#[test]
fn a_bad_hook_in_the_config_is_named() {
    let w = World::new();
    config(&w, r#"(name: "empty", on: [Declared], command: [])"#);
    let ic = w.who("maya", "h1");
    let r = w.run(&ic, &["list"]).code(1);
    assert!(r.stderr.contains("hook `empty` has no command"), "{r}");
    config(&w, r#"(name: "typo", on: [Declard], command: ["x"])"#);
    let r = w.run(&ic, &["list"]).code(1);
    assert!(r.stderr.contains("config.ron:1:"), "{r}");
}

#[test]
fn deadline_crossings_fire_once_per_install_and_a_missed_one_says_it_is_late() {
    let w = World::new();
    let out = w.path().join("got");
    let tmp = w.path().join("got-tmp");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::create_dir_all(&tmp).unwrap();
    // Written aside, then moved in: a file in `got` is always whole.
    let hook = script(
        &w,
        "clock.sh",
        &format!(
            "f=$(date +%s%N)-$$-$WARROOM_HOOK.json; cat > {tmp}/$f && mv {tmp}/$f {out}/$f",
            tmp = tmp.display(),
            out = out.display()
        ),
    );
    config(
        &w,
        &format!(r#"(name: "clock", on: [DeadlineAmber, DeadlineOverdue], command: ["{hook}"])"#),
    );
    let maya = w.who("maya", "h1");
    // Declared (so discovered) four days ago: GDPR Art. 33's 72 hours have run out.
    let r = w
        .run(
            &maya,
            &[
                "declare",
                "--playbook",
                "ransomware",
                "--title",
                "Old",
                "--severity",
                "2",
                "--occurred",
                "-4d",
            ],
        )
        .ok();
    let id = r.stdout.trim().to_string();
    let show = w.show(&maya, &id);

    // A long-running process of this install (`ingest --listen`) fires it when it starts.
    let rules = w.path().join("rules.ron");
    std::fs::write(&rules, r#"(rules: [(name: "all", labels: {}, route: Ignore)])"#).unwrap();
    let mut listener = w
        .cmd(&maya)
        .args(["ingest", "--listen", "127.0.0.1:0", "--rules", rules.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let gdpr = loop {
        let got = received(&out);
        if let Some(v) = got.iter().find(|v| v["deadline"] == "gdpr-art33") {
            break v.clone();
        }
        if start.elapsed() > Duration::from_secs(20) {
            let _ = listener.kill();
            panic!("no deadline hook: {got:#?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = listener.kill();
    let _ = listener.wait();
    assert_eq!(gdpr["hook"], "DeadlineOverdue");
    assert_eq!(gdpr["level"], "overdue");
    assert_eq!(gdpr["incident"], id.as_str());
    assert_eq!(gdpr["title"], "Old");
    assert_eq!(gdpr["mode"], "real");
    assert_eq!(gdpr["source"], "GDPR Art. 33(1)");
    assert_eq!(gdpr["late"], true, "it crossed a day before anything was running");
    let clocks = show["clocks"]["deadlines"].as_array().expect("clocks");
    let clock = clocks
        .iter()
        .find(|c| c["deadline"] == "gdpr-art33")
        .expect("gdpr clock");
    assert_eq!(clock["state"], "overdue");
    assert_eq!(gdpr["due"], clock["due"], "the due time the clocks show");

    // Another process of the same install (a second console, a restart, cron) fires none again:
    // what the listener found was remembered before any hook ran.
    let r = w.run(&maya, &["deadline-hooks"]).ok();
    assert!(r.stdout.contains("0 deadline crossing(s) fired"), "{r}");

    // Another install fires its own, once; overdue first seen, its amber is not fired as well.
    let carol = w.who("carol", "h3");
    let r = w.run(&carol, &["deadline-hooks"]).ok();
    let fired: Vec<&str> = r.stdout.lines().filter(|l| l.starts_with("fired ")).collect();
    assert!(fired.contains(&format!("fired {id} gdpr-art33/Notify the lead supervisory authority (phased notification allowed under Art. 33(4); explain any delay) overdue").as_str()), "{r}");
    assert!(
        !fired.iter().any(|l| l.contains("gdpr-art33") && l.ends_with(" amber")),
        "{r}"
    );
    let r2 = w.run(&carol, &["deadline-hooks"]).ok();
    assert!(r2.stdout.contains("0 deadline crossing(s) fired"), "{r2}");
    // Two processes of one install at the same moment: each crossing fired by one of them.
    let bob = w.who("bob", "h2");
    let spawn = || {
        w.cmd(&bob)
            .arg("deadline-hooks")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let runs = [a, b].map(|k| Run::from_output(k.wait_with_output().unwrap()));
    let total: usize = runs
        .iter()
        .map(|r| r.stdout.lines().filter(|l| l.starts_with("fired ")).count())
        .sum();
    assert_eq!(total, fired.len(), "{runs:#?}");
}

#[test]
fn a_failing_deadline_hook_is_logged_and_reported_and_not_retried() {
    let w = World::new();
    let hook = script(&w, "broken.sh", "cat >/dev/null; echo 'chat is down' >&2; exit 3");
    config(
        &w,
        &format!(r#"(name: "broken", on: [DeadlineOverdue], command: ["{hook}"])"#),
    );
    let maya = w.who("maya", "h1");
    w.run(
        &maya,
        &[
            "declare",
            "--playbook",
            "ransomware",
            "--title",
            "Old",
            "--severity",
            "2",
            "--occurred",
            "-4d",
        ],
    )
    .ok();
    let r = w.run(&maya, &["deadline-hooks"]).ok();
    assert!(
        r.stderr.contains("warning: hook `broken` on DeadlineOverdue for") && r.stderr.contains("failed"),
        "{r}"
    );
    let log = std::fs::read_to_string(maya.state.join("hooks.log")).unwrap_or_default();
    assert!(log.contains("hook `broken` on DeadlineOverdue"), "{log}");
    // Fired once, even though it failed: the failure is the report, not a retry every 30 s.
    let r = w.run(&maya, &["deadline-hooks"]).ok();
    assert!(
        r.stdout.contains("0 deadline crossing(s) fired") && r.stderr.is_empty(),
        "{r}"
    );
}
