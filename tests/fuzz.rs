//! Fuzzing on stable Rust: `arbitrary`-style property tests, many cases each, for every parser a
//! teammate's file reaches (log lines, whole log files, the claim `incident.ron`, playbook copies).
//! Each must never panic; what parses must validate and round-trip; a reader always gets on with
//! the other files. `PROPTEST_CASES` raises the count for a longer run.

use proptest::prelude::*;
use warroom::domain::event::{self, Body};
use warroom::domain::playbook;

const GOLDEN: &str = include_str!("data/events-v1.ronl");
const PLAYBOOK: &str = include_str!("../playbooks/ransomware.ron");

fn golden_lines() -> Vec<&'static str> {
    GOLDEN.lines().collect()
}

/// A real line with a few bytes changed, cut, or inserted: the mutations a sync tool, a disk or
/// an attacker makes.
fn mutated(base: &'static str) -> impl Strategy<Value = Vec<u8>> {
    let len = base.len();
    proptest::collection::vec((0..len.max(1), any::<u8>(), 0u8..4), 1..6).prop_map(move |edits| {
        let mut b = base.as_bytes().to_vec();
        for (at, byte, op) in edits {
            let at = at.min(b.len());
            match op {
                0 if at < b.len() => b[at] = byte,
                1 => b.insert(at, byte),
                2 if at < b.len() => {
                    b.remove(at);
                }
                _ => b.truncate(at),
            }
        }
        b
    })
}

fn any_line() -> impl Strategy<Value = Vec<u8>> {
    let lines = golden_lines();
    let strings = golden_lines();
    prop_oneof![
        any::<Vec<u8>>(),
        any::<String>().prop_map(String::into_bytes),
        (0..lines.len()).prop_flat_map(move |i| mutated(lines[i])),
        // A real record with one string of its body holding any text at all (multibyte,
        // controls): what every view and rule then does with that text must hold.
        (0..strings.len(), 0..6usize, any::<String>())
            .prop_map(move |(i, k, text)| respell(strings[i], k, &text).into_bytes()),
    ]
}

/// `line` with the contents of its body's `k`th string (or its last) replaced by `text`,
/// RON-escaped.
fn respell(line: &str, k: usize, text: &str) -> String {
    let Some(body) = line.find("body:(") else {
        return line.to_string();
    };
    let quotes: Vec<usize> = line[body..].match_indices('"').map(|(i, _)| body + i).collect();
    let pairs = quotes.len() / 2;
    if pairs == 0 {
        return line.to_string();
    }
    let n = k.min(pairs - 1);
    let (open, close) = (quotes[2 * n], quotes[2 * n + 1]);
    let escaped = ron::to_string(text).unwrap_or_default();
    format!("{}{}{}", &line[..open], escaped, &line[close + 1..])
}

fn check_line(bytes: &[u8]) -> Result<(), TestCaseError> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Ok(());
    };
    if let Ok(l) = event::parse_line(text) {
        // What a reader accepts is what a writer would have accepted: the one validation.
        prop_assert!(event::validate(&l.event, &l.prev).is_ok());
        if !matches!(l.event.body, Body::Unknown { .. }) {
            let line = event::encode(&l.event, &l.prev).expect("a parsed record encodes");
            prop_assert_eq!(event::parse_line(&line).expect("and parses back"), l);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10_000, ..ProptestConfig::default() })]

    #[test]
    fn log_lines_never_panic_and_round_trip(bytes in any_line()) {
        check_line(&bytes)?;
    }

    #[test]
    fn claims_never_panic(text in prop_oneof![
        any::<String>(),
        mutated("(incident:\"2026-11-22-a-0000\",title:\"t\",severity:2,mode:Real,playbook:\"p\",playbook_hash:\"00\",commander:\"a\",declared_by:\"a@h\",declared_at:1,log:Some(\"a@h.abc123\"))")
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ]) {
        let _ = ron::from_str::<warroom::store::incident::Header>(&text);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    /// The incident's playbook copy is read leniently from the shared folder.
    #[test]
    fn playbook_copies_never_panic(bytes in mutated(PLAYBOOK)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = playbook::parse(&text);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Whole log files of hostile bytes beside a good one: the reader never panics, every line
    /// is a record or a problem, and the good log is read in full.
    #[test]
    fn a_reader_gets_through_any_files(files in proptest::collection::vec(
        proptest::collection::vec(any_line(), 0..8), 1..4)
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("2026-11-22-golden-0000");
        let events = dir.join("events");
        std::fs::create_dir_all(&events).unwrap();
        std::fs::write(events.join("alice@jump.golden.ronl"), GOLDEN).unwrap();
        for (i, lines) in files.iter().enumerate() {
            let mut content = Vec::new();
            for l in lines {
                content.extend_from_slice(l);
                content.push(b'\n');
            }
            std::fs::write(events.join(format!("bob@h{i}.fuzz{i}.ronl")), content).unwrap();
        }
        let mut reader = warroom::store::reader::IncidentReader::new(dir);
        // Long after any settling time, so every bad line is reported rather than retried.
        let batch = reader.poll(i64::MAX / 4);
        let good = batch.events.iter().filter(|e| e.log == "alice@jump.golden").count();
        prop_assert_eq!(good, GOLDEN.lines().count());
        // Every rule and every view of what was read: no panic, whatever the text.
        let state = warroom::domain::IncidentState::fold("2026-11-22-golden-0000", vec![], batch.events);
        for e in state.timeline() {
            let _ = warroom::domain::describe::describe_in(&state, e);
            let _ = warroom::domain::event::to_json(e);
        }
        let _ = state.problems();
        let _ = state.skew_warnings(0);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// The golden history with one string anywhere in it holding any text: the fold's rules and
    /// every view of the result hold (no slicing inside a character, nothing left unsanitised).
    #[test]
    fn any_text_in_any_field_folds_and_shows(i in 0..GOLDEN.lines().count(), k in 0..6usize, text in any::<String>()) {
        let events: Vec<_> = golden_lines()
            .iter()
            .enumerate()
            .filter_map(|(n, l)| event::parse(&if n == i { respell(l, k, &text) } else { l.to_string() }).ok())
            .collect();
        let state = warroom::domain::IncidentState::fold("2026-11-22-golden-0000", vec![], events);
        for e in state.timeline() {
            let shown = warroom::domain::describe::describe_in(&state, e);
            prop_assert!(!shown.chars().any(warroom::domain::sanitize::is_forbidden), "{shown:?}");
        }
        for p in state.problems() {
            let shown = p.to_string();
            prop_assert!(!shown.chars().any(warroom::domain::sanitize::is_forbidden), "{shown:?}");
        }
    }
}
