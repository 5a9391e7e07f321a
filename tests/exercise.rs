//! Tabletop exercises: every shipped scenario validates; the inject scheduler is a pure function of
//! (scenario, events, skips, now) with an injected clock; a headless run releases injects that
//! another process sees.

use std::collections::BTreeSet;

use warroom::domain::event::*;
use warroom::domain::{IncidentState, Phase};
use warroom::exercise::scenario::{self, Scenario, BUILT_IN};
use warroom::exercise::scheduler::{clock, due, released, upcoming};
use warroom::store::playbooks::Library;

#[test]
fn every_shipped_scenario_validates_against_its_playbook() {
    let lib = Library::built_in();
    for (name, text) in BUILT_IN {
        let first = scenario::parse(name, text, None).unwrap_or_else(|e| panic!("{e:?}"));
        let pb = lib.resolve(&first.playbook).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        scenario::parse(name, text, Some(&pb)).unwrap_or_else(|e| panic!("{e:?}"));
    }
    assert!(BUILT_IN.len() >= 3);
}

#[test]
fn scenario_errors_point_at_the_line() {
    let text = BUILT_IN[0].1.replacen("when: At(\"05:00\")", "when: At(\"5:99\")", 1);
    let errs = scenario::parse("s.ron", &text, None).unwrap_err();
    assert!(errs[0].starts_with("s.ron:") && errs[0].contains("5:99"), "{errs:?}");
    let text = BUILT_IN[0].1.replacen("objectives:", "objectivs:", 1);
    assert!(scenario::parse("s.ron", &text, None).unwrap_err()[0].starts_with("s.ron:"));
}

const T0: i64 = 1_764_151_200_000;

fn ev(n: u64, by: &str, wall: i64, body: impl Into<Body>) -> Event {
    Event {
        id: format!("x{n}"),
        at: wall,
        wall,
        occurred: None,
        by: by.into(),
        log: by.into(),
        seq: n,
        prev: String::new(),
        body: body.into(),
    }
}

fn clock_ev(n: u64, wall: i64, change: &str, speed: f64, scenario_ms: i64) -> Event {
    ev(
        n,
        "fac@h",
        wall,
        ExerciseClock {
            change: change.into(),
            speed,
            scenario_ms,
        },
    )
}

fn sc() -> Scenario {
    scenario::parse("hospital", BUILT_IN[0].1, None).unwrap()
}

fn state(events: Vec<Event>) -> IncidentState {
    let pb = Library::built_in().resolve("ransomware").unwrap();
    let hash = pb.content_hash();
    let mut all = vec![ev(
        100,
        "fac@h",
        T0 - 1,
        Declared {
            incident: "i".into(),
            title: "t".into(),
            severity: 1,
            mode: Mode::Exercise,
            playbook: "ransomware".into(),
            playbook_version: pb.version.clone(),
            playbook_hash: hash.clone(),
            commander: "fac".into(),
        },
    )];
    all.extend(events);
    IncidentState::fold("i", vec![(hash, pb)], all)
}

fn ids(v: Vec<&scenario::Inject>) -> Vec<String> {
    v.into_iter().map(|i| i.id.clone()).collect()
}

#[test]
fn time_based_injects_follow_the_scenario_clock() {
    let s = sc();
    let st = state(vec![clock_ev(1, T0, "Start", 1.0, 0)]);
    let none = BTreeSet::new();
    assert_eq!(ids(due(&s, &st, &none, T0)), vec!["inj-01-detection"]);
    assert_eq!(
        ids(due(&s, &st, &none, T0 + 5 * 60_000)),
        vec!["inj-01-detection", "inj-02-ed-charge-nurse"]
    );
    // Twice the speed: five scenario minutes in two and a half real ones.
    let fast = state(vec![clock_ev(1, T0, "Start", 2.0, 0)]);
    assert_eq!(due(&s, &fast, &none, T0 + 150_000).len(), 2);
}

#[test]
fn a_paused_clock_releases_nothing_and_resumes_where_it_stopped() {
    let s = sc();
    let none = BTreeSet::new();
    let paused = state(vec![
        clock_ev(1, T0, "Start", 1.0, 0),
        clock_ev(2, T0 + 60_000, "Pause", 1.0, 60_000),
    ]);
    assert!(due(&s, &paused, &none, T0 + 3_600_000).is_empty());
    assert_eq!(clock(&paused).scenario_ms(T0 + 3_600_000), 60_000);
    let resumed = state(vec![
        clock_ev(1, T0, "Start", 1.0, 0),
        clock_ev(2, T0 + 60_000, "Pause", 1.0, 60_000),
        clock_ev(3, T0 + 600_000, "Resume", 1.0, 60_000),
    ]);
    // 60 s before the pause + 240 s after the resume = E+05:00.
    assert_eq!(clock(&resumed).scenario_ms(T0 + 840_000), 300_000);
    assert_eq!(due(&s, &resumed, &none, T0 + 840_000).len(), 2);
}

#[test]
fn condition_injects_fire_when_the_condition_holds() {
    let s = sc();
    let none = BTreeSet::new();
    let start = clock_ev(1, T0, "Start", 1.0, 0);
    let st = state(vec![start.clone()]);
    assert!(!ids(due(&s, &st, &none, T0)).contains(&"inj-04-backups".to_string()));
    let st = state(vec![
        start,
        ev(
            2,
            "ana@h",
            T0 + 1000,
            PhaseEntered {
                phase: Phase::Containment,
                override_open: vec![],
            },
        ),
    ]);
    assert!(ids(due(&s, &st, &none, T0 + 1000)).contains(&"inj-04-backups".to_string()));
}

#[test]
fn released_and_skipped_injects_never_fire_again() {
    let s = sc();
    let st = state(vec![
        clock_ev(1, T0, "Start", 1.0, 0),
        ev(
            2,
            "fac@h",
            T0 + 10,
            InjectReleased {
                inject: "inj-01-detection".into(),
                title: "t".into(),
                text: "x".into(),
                scenario_ms: 10,
            },
        ),
    ]);
    let skipped: BTreeSet<String> = ["inj-02-ed-charge-nurse".to_string()].into();
    assert!(released(&st).contains("inj-01-detection"));
    assert!(due(&s, &st, &skipped, T0 + 6 * 60_000).is_empty());
    let left = ids(upcoming(&s, &st, &skipped));
    assert_eq!(left.first().map(String::as_str), Some("inj-03-spread"));
    assert!(!left.contains(&"inj-01-detection".to_string()));
}

mod common;

#[test]
fn a_headless_exercise_releases_injects_that_another_process_sees() {
    let w = common::World::new();
    let fac = w.who("fac", "bridge");
    let out = w.run(
        &fac,
        &[
            "exercise",
            "run",
            "hospital-ransomware",
            "--headless",
            "--speed",
            "600",
            "--duration",
            "6",
        ],
    );
    let out = out.ok();
    let id = out.stdout.lines().next().unwrap().trim().to_string();
    assert!(id.contains("exercise"), "first line is the id: {out}");
    let player = w.who("pat", "laptop");
    let tail = w.run(&player, &["tail", &id]);
    assert!(tail.stdout.contains("Ransom note on PACS"), "{tail}");
    assert!(tail.stdout.contains("Local TV station calls"), "{tail}");
    // Facilitator secrets never reach the shared directory.
    let shared = std::fs::read_to_string(w.log_of(&fac, &id)).unwrap();
    assert!(!shared.contains("Good teams ask"), "facilitator notes leaked");
    assert!(
        !shared.contains("Holding statement from the external template"),
        "expected outcomes leaked"
    );
    // Resuming releases nothing twice.
    let again = w.run(
        &fac,
        &["exercise", "run", "--resume", &id, "--headless", "--duration", "2"],
    );
    let _ = again.ok();
    let events = w.tail_json(&player, &id);
    let mut seen = BTreeSet::new();
    for e in events.iter().filter(|e| e["kind"] == "InjectReleased") {
        assert!(
            seen.insert(e["body"]["inject"].as_str().unwrap().to_string()),
            "released twice: {e}"
        );
    }
    // The AAR carries the EXERCISE banner and the facilitator's expected outcomes.
    let md = w.run(&fac, &["export", &id, "--format", "md"]);
    assert!(
        md.stdout.contains("**EXERCISE**") && md.stdout.contains("Expected outcome"),
        "{md}"
    );
}
