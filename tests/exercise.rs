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
        id: format!("x{n}").into(),
        at: wall,
        wall,
        occurred: Occurred::NONE,
        log: by.into(),
        seq: n,
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
            require_signatures: false,
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

// ---- responses timed in scenario time ---------------------------------------------------------

fn release(n: u64, wall: i64, inject: &str, scenario_ms: i64) -> Event {
    ev(
        n,
        "fac@h",
        wall,
        InjectReleased {
            inject: inject.into(),
            title: format!("{inject} title"),
            text: "what happens".into(),
            scenario_ms,
        },
    )
}

fn note(n: u64, by: &str, wall: i64, text: &str, tags: &[&str]) -> Event {
    ev(
        n,
        by,
        wall,
        Note {
            text: text.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
        },
    )
}

#[test]
fn scenario_time_of_a_moment_replays_the_clock_before_it() {
    use warroom::exercise::scheduler::scenario_at;
    let st = state(vec![
        clock_ev(1, T0, "Start", 1.0, 0),
        // A minute in, twice as fast.
        clock_ev(2, T0 + 60_000, "Speed", 2.0, 60_000),
        // Another real minute (two scenario minutes): paused at E+03:00 for three real minutes.
        clock_ev(3, T0 + 120_000, "Pause", 2.0, 180_000),
        clock_ev(4, T0 + 300_000, "Resume", 2.0, 180_000),
    ]);
    assert_eq!(scenario_at(&st, T0 - 5), None, "before the start");
    assert_eq!(scenario_at(&st, T0 + 30_000), Some(30_000));
    assert_eq!(scenario_at(&st, T0 + 90_000), Some(120_000));
    // While paused the scenario stands still.
    assert_eq!(scenario_at(&st, T0 + 200_000), Some(180_000));
    // Half a real minute after the resume, at x2: one scenario minute more.
    assert_eq!(scenario_at(&st, T0 + 330_000), Some(240_000));
}

#[test]
fn a_response_is_timed_in_scenario_time_and_credited_to_one_inject_only() {
    use warroom::report::inject_responses;
    let st = state(vec![
        clock_ev(1, T0, "Start", 1.0, 0),
        release(2, T0 + 30_000, "inj-01-detection", 30_000),
        clock_ev(3, T0 + 60_000, "Speed", 2.0, 60_000),
        release(4, T0 + 90_000, "inj-02-ed-charge-nurse", 120_000),
        // An untagged note after inj-02: only the most recent inject (inj-02) may take it.
        note(5, "ann@desk", T0 + 100_000, "looking into it", &[]),
        // The explicit answer to inj-01, during a pause of five real minutes.
        clock_ev(6, T0 + 120_000, "Pause", 2.0, 180_000),
        note(
            7,
            "bob@desk",
            T0 + 200_000,
            "isolating the ward PCs",
            &["inject:inj-01-detection"],
        ),
        clock_ev(8, T0 + 420_000, "Resume", 2.0, 180_000),
        // The explicit answer to inj-02, 15 real seconds after the resume (30 s scenario).
        note(
            9,
            "ann@desk",
            T0 + 435_000,
            "charge nurse: downtime forms",
            &["inject:inj-02-ed-charge-nurse"],
        ),
        // The facilitator's own note never counts.
        note(
            10,
            "fac@h",
            T0 + 436_000,
            "well done",
            &["inject:inj-02-ed-charge-nurse"],
        ),
    ]);
    let r = inject_responses(&st);
    assert_eq!(r.len(), 2);
    // inj-01: answered explicitly at E+03:00 (the clock was paused), released at E+00:30.
    assert_eq!(r[0].inject, "inj-01-detection");
    assert!(r[0].explicit);
    assert_eq!(r[0].first_response.map(|e| e.id.as_str()), Some("x7"));
    assert_eq!(r[0].response_scenario_ms, Some(180_000));
    assert_eq!(r[0].after_scenario_ms(), Some(150_000));
    // inj-02: the tied note wins over the untagged one before it; E+03:30 − E+02:00.
    assert_eq!(r[1].first_response.map(|e| e.id.as_str()), Some("x9"));
    assert!(r[1].explicit);
    assert_eq!(r[1].after_scenario_ms(), Some(90_000));
    // No event answers two injects.
    let used: Vec<&str> = r
        .iter()
        .filter_map(|x| x.first_response.map(|e| e.id.as_str()))
        .collect();
    assert_eq!(used.len(), BTreeSet::from_iter(used.iter()).len());
}

#[test]
fn an_untagged_note_answers_only_the_most_recent_inject() {
    use warroom::report::inject_responses;
    let st = state(vec![
        clock_ev(1, T0, "Start", 1.0, 0),
        release(2, T0 + 1_000, "inj-01-detection", 1_000),
        release(3, T0 + 2_000, "inj-02-ed-charge-nurse", 2_000),
        note(4, "ann@desk", T0 + 62_000, "on it", &[]),
    ]);
    let r = inject_responses(&st);
    // inj-01 was no longer the newest when the note came: no response is guessed for it.
    assert!(r[0].first_response.is_none());
    assert_eq!(r[1].first_response.map(|e| e.id.as_str()), Some("x4"));
    assert!(!r[1].explicit);
    assert_eq!(r[1].after_scenario_ms(), Some(60_000));
}
