//! `tests/data/events-v1.ronl` holds one record of every kind, as warroom 0.1 wrote them. Every later
//! version must still read it: a teammate's older log must never break a newer console.

use warroom::domain::event::{self, *};
use warroom::domain::playbook::Audience;
use warroom::domain::Phase;

const GOLDEN: &str = include_str!("data/events-v1.ronl");

#[test]
fn golden_file_parses_and_has_every_kind() {
    let mut kinds = std::collections::BTreeSet::new();
    for (i, line) in GOLDEN.lines().enumerate() {
        let e = event::parse(line).unwrap_or_else(|err| panic!("line {}: {err}", i + 1));
        assert!(!matches!(e.body, Body::Unknown { .. }), "line {} is unknown", i + 1);
        kinds.insert(e.kind().to_string());
    }
    for k in KINDS {
        assert!(kinds.contains(*k), "golden file lacks kind {k}");
    }
}

#[test]
fn golden_status_updates_keep_their_audiences_old_and_new() {
    let audiences: Vec<Audience> = GOLDEN
        .lines()
        .filter_map(|l| match event::parse(l).ok()?.body {
            Body::StatusUpdate(u) => Some(u.audience),
            _ => None,
        })
        .collect();
    // The 0.1 line (External) reads as it always did; the newer one names Executives.
    assert_eq!(audiences, vec![Audience::External, Audience::Executives]);
    assert!(GOLDEN.contains("audience:External") && GOLDEN.contains("audience:Executives"));
    // Each line is exactly what this version would write for it: nothing was re-encoded.
    for (line, body) in GOLDEN.lines().zip(every_kind()) {
        let e = event::parse(line).unwrap();
        assert_eq!(e.body, body, "{line}");
    }
}

#[test]
fn golden_file_chain_is_intact() {
    let mut prev = event::genesis_hash("2026-11-22-golden-0000", "alice@jump");
    for (i, line) in GOLDEN.lines().enumerate() {
        let e = event::parse_line(line).unwrap();
        assert_eq!(e.prev, prev, "line {}", i + 1);
        let e = e.event;
        assert_eq!(e.seq, i as u64 + 1);
        prev = event::line_hash(line.as_bytes());
    }
}

fn every_kind() -> Vec<Body> {
    let s = |x: &str| x.to_string();
    vec![
        Declared {
            incident: s("2026-11-22-golden-0000"),
            title: s("Golden"),
            severity: 2,
            mode: Mode::Exercise,
            playbook: s("ransomware"),
            playbook_version: s("1.0.0"),
            playbook_hash: s("00"),
            commander: s("alice"),
            require_signatures: false,
        }
        .into(),
        TitleChanged {
            title: s("Golden \"quoted\" \u{1b}[31m"),
        }
        .into(),
        PlaybookChanged {
            hash: s("11"),
            playbook: s("ransomware"),
            version: s("1.0.1"),
        }
        .into(),
        SeverityChanged {
            severity: 1,
            reason: Some(s("exfil")),
        }
        .into(),
        Classified { note: None }.into(),
        MaterialityDetermined { note: Some(s("8-K")) }.into(),
        PhaseEntered {
            phase: Phase::Containment,
            override_open: vec![s("id-scope-hosts")],
        }
        .into(),
        ChecklistSet {
            item: s("id-first-facts"),
            state: ItemState::Done,
            note: Some(s("ok")),
        }
        .into(),
        ActionSet {
            action: s("isolate-host-edr"),
            state: ActionState::DryRun,
            note: None,
        }
        .into(),
        ActionOutput {
            action: s("isolate-host-edr"),
            text: s("isolated 3 hosts\nok"),
            exit: Some(0),
            cast: None,
            timed_out: false,
            rollback: false,
        }
        .into(),
        Assigned {
            target: Target::Item(s("id-exfiltration")),
            who: s("bob"),
        }
        .into(),
        RoleAssigned {
            role: s("scribe"),
            who: s("carol"),
        }
        .into(),
        Note {
            text: s("multi\nline ⏎ note\t\u{202e}").into(),
            tags: vec![s("edr")].into(),
        }
        .into(),
        StatusUpdate {
            audience: Audience::External,
            text: s("We are investigating."),
        }
        .into(),
        FollowUp {
            text: s("Patch VPN"),
            owner: Some(s("bob")),
            kind: s("improvement"),
            due: None,
            from: None,
        }
        .into(),
        InjectReleased {
            inject: s("inj-1"),
            title: s("Press call"),
            text: s("A journalist calls."),
            scenario_ms: 600_000,
        }
        .into(),
        ExerciseClock {
            change: s("Start"),
            speed: 2.0,
            scenario_ms: 0,
        }
        .into(),
        Resolved {
            summary: Some(s("contained")),
            override_open: vec![],
            reason: None,
        }
        .into(),
        Reopened { reason: None }.into(),
        Archived {}.into(),
        DuplicateOf {
            of: s("2026-11-22-other-0000"),
        }
        .into(),
        TailRepaired {
            offset: 1234,
            bytes: 17,
        }
        .into(),
        Heads {
            heads: vec![Head {
                writer: s("bob@h2.abc123"),
                seq: 3,
                hash: s("ff"),
            }],
        }
        .into(),
        // Added after 0.1: appended to the file, never rewriting a line.
        LogRestored {
            found: 3,
            from: 4,
            to: 6,
            restored: 3,
        }
        .into(),
        Disowned { seqs: vec![7, 9] }.into(),
        DiscoverySet {
            discovered: 1_763_990_000_000,
            reason: s("first alert on fin-fs-02"),
        }
        .into(),
        FollowUpSet {
            followup: s("01JDGOLDEN0000000000000014"),
            state: FollowUpState::Done,
            owner: Some(s("carol")),
            due: Some(1_765_000_000_000),
            note: Some(s("patched")),
        }
        .into(),
        Corrected {
            id: s("01JDGOLDEN0000000000000012"),
            log: s("alice@jump"),
            seq: 13,
            text: Some(s("multi-line note, corrected")),
            reason: s("typo"),
            occurred: None,
        }
        .into(),
        ReviewSet {
            field: s("root_cause"),
            text: s("An unpatched VPN appliance"),
        }
        .into(),
        // An audience beyond internal and external (issue 8).
        StatusUpdate {
            audience: Audience::Executives,
            text: s("Board briefed: finance file servers isolated"),
        }
        .into(),
        // An approved command run by warroom: its recording's hash, killed at its timeout.
        ActionOutput {
            action: s("isolate-host-edr"),
            text: s("isolating…\n"),
            exit: None,
            cast: Some(s("af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262")),
            timed_out: true,
            rollback: false,
        }
        .into(),
        Corrected {
            id: s("01JDGOLDEN0000000000000012"),
            log: s("alice@jump"),
            seq: 13,
            text: None,
            reason: s("the first alert was at 09:48, not 10:15"),
            occurred: Some(1_763_990_000_000),
        }
        .into(),
        // Issue 11: an SSH signature over the log up to a head (made with ssh-keygen -Y sign).
        Signed {
            head: "ab".repeat(32),
            key: s("SHA256:r+ViYBprkpBSKFqfhEkm7yhcG8Nn8u7NBbvClSTApi8"),
            sig: s("-----BEGIN SSH SIGNATURE-----\nU1NIU0lHAAAAAQAAADMAAAALc3NoLWVkMjU1MTkAAAAgVpl8DLynanoOHouIEfAaBvYsc+\n0CNhVZVINLs+eaWfYAAAANd2Fycm9vbS1ldmVudAAAAAAAAAAGc2hhNTEyAAAAUwAAAAtz\nc2gtZWQyNTUxOQAAAEAjMfZK3O9cxiTRsmsZi2p5bDpcXQ4+cDNSxoDy14ohRscQnJwoP2\n+82ELcxBFIkJY2b5rE1lXxug4RK3O8RHcH\n-----END SSH SIGNATURE-----\n"),
            log: None,
        }
        .into(),
        // Issue 11: a declaration that requires signed records (the field is written only when true).
        Declared {
            incident: s("2026-11-22-golden-0000"),
            title: s("Golden"),
            severity: 2,
            mode: Mode::Exercise,
            playbook: s("ransomware"),
            playbook_version: s("1.0.0"),
            playbook_hash: s("00"),
            commander: s("alice"),
            require_signatures: true,
        }
        .into(),
        // Issue 11: a signature bound to its log (it signs "<log> <head>").
        Signed {
            head: "cd".repeat(32),
            key: s("SHA256:r+ViYBprkpBSKFqfhEkm7yhcG8Nn8u7NBbvClSTApi8"),
            sig: s("-----BEGIN SSH SIGNATURE-----\nU1NIU0lHAAAAAQAAADMAAAALc3NoLWVkMjU1MTkAAAAgVpl8DLynanoOHouIEfAaBvYsc+\n0CNhVZVINLs+eaWfYAAAANd2Fycm9vbS1ldmVudAAAAAAAAAAGc2hhNTEyAAAAUwAAAAtz\nc2gtZWQyNTUxOQAAAEAjMfZK3O9cxiTRsmsZi2p5bDpcXQ4+cDNSxoDy14ohRscQnJwoP2\n+82ELcxBFIkJY2b5rE1lXxug4RK3O8RHcH\n-----END SSH SIGNATURE-----\n"),
            log: Some(s("alice@jump.abc123")),
        }
        .into(),
    ]
}

/// Run with `cargo test --test golden -- --ignored` only when adding a kind: appends the new
/// kinds' lines, chained on the last one; never rewrites a line.
#[test]
#[ignore]
fn regenerate_golden() {
    let mut prev = event::genesis_hash("2026-11-22-golden-0000", "alice@jump");
    let mut out = String::new();
    for line in GOLDEN.lines() {
        prev = event::line_hash(line.as_bytes());
        out.push_str(line);
        out.push('\n');
    }
    for (i, body) in every_kind().into_iter().enumerate().skip(GOLDEN.lines().count()) {
        let e = Event {
            id: format!("01JDGOLDEN{:016}", i).into(),
            at: 1_764_000_000_000 + i as i64,
            wall: 1_764_000_000_000 + i as i64,
            occurred: (i % 2 == 0).then_some(1_763_999_000_000).into(),
            log: "alice@jump".into(),
            seq: i as u64 + 1,
            body,
        };
        let line = event::encode(&e, &prev.as_str().into()).unwrap();
        prev = event::line_hash(line.as_bytes());
        out.push_str(&line);
        out.push('\n');
    }
    std::fs::write(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/events-v1.ronl"), out).unwrap();
}
