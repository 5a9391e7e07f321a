//! The fast line reader is held to `ron`: one rule, one place. For any record a writer makes, the
//! fast reader reads it (no fallback) and gets what `ron` gets; for any bytes at all (mutations of
//! real lines, arbitrary text), whenever the fast reader answers, `ron` gives the same answer.
//! `PROPTEST_CASES` raises the count for a longer run.

use proptest::prelude::*;
use warroom::domain::event::*;
use warroom::domain::phase::Phase;
use warroom::domain::playbook::Audience;

const GOLDEN: &str = include_str!("data/events-v1.ronl");

fn cases(n: u32) -> ProptestConfig {
    let n = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(n);
    ProptestConfig::with_cases(n)
}

/// Whenever the fast reader answers, `ron` answers the same (value or error).
fn agree(line: &str) -> Result<(), TestCaseError> {
    if let Some(fast) = parse_fast(line) {
        prop_assert_eq!(fast, parse_with_ron(line), "line: {:?}", line);
    }
    prop_assert_eq!(parse_line(line), parse_with_ron(line), "line: {:?}", line);
    Ok(())
}

#[test]
fn every_golden_line_is_read_fast_and_the_same() {
    let mut fast = 0;
    for line in GOLDEN.lines() {
        let slow = parse_with_ron(line);
        if let Some(f) = parse_fast(line) {
            assert_eq!(f, slow, "{line}");
            fast += 1;
        }
        assert_eq!(parse_line(line), slow, "{line}");
    }
    // Only the float of `ExerciseClock` is left to `ron`.
    let total = GOLDEN.lines().count();
    assert!(fast + 1 >= total, "{fast} of {total} read fast");
}

#[test]
fn what_it_leaves_to_ron() {
    let base = r#"(v:1,id:"x",at:5,wall:5,occurred:None,by:"a@b",seq:1,prev:"p",kind:"Note",body:(text:"hi",tags:[]))"#;
    assert!(parse_fast(base).is_some());
    for other in [
        base.replace(",id:", ", id:"),                      // whitespace
        base.replace("at:5", "at:0x5"),                     // hex
        base.replace("at:5", "at:05"),                      // leading zero
        base.replace("at:5", "at:+5"),                      // sign
        base.replace("at:5", "at:5_0"),                     // separator
        base.replace("\"hi\"", "r\"hi\""),                  // raw string
        base.replace("\"hi\"", "\"h\\x69\""),               // byte escape
        base.replace("tags:[]", "tags:[],"),                // trailing comma
        base.replace("tags:[]", "tags:[],mood:1"),          // unknown field
        base.replace("(text", "Note(text"),                 // struct name
        format!("{base} "),                                 // trailing space
        format!("{base}// c"),                              // comment
        format!("#![enable(implicit_some)]{base}"),         // extensions
        base.replace("occurred:None", "occurred:Some(5,)"), // comma in Some
        base.replace("v:1,id:\"x\"", "id:\"x\",v:1")
            .replace("kind:\"Note\",body:", "body:"), // body first
    ] {
        assert!(parse_fast(&other).is_none(), "read fast: {other}");
        assert_eq!(parse_line(&other), parse_with_ron(&other), "{other}");
    }
    // Integers at their bounds read as ron reads them; `-0` is left to it.
    for n in ["-9223372036854775808", "9223372036854775807", "0"] {
        let line = base.replace(
            "kind:\"Note\",body:(text:\"hi\",tags:[])",
            &format!("kind:\"FollowUp\",body:(text:\"t\",owner:None,type:\"corrective\",due:Some({n}),from:None)"),
        );
        assert!(parse_fast(&line).is_some(), "{line}");
        assert_eq!(parse_line(&line), parse_with_ron(&line), "{line}");
    }
    for n in ["-0", "9223372036854775808", "-9223372036854775809"] {
        let line = base.replace("at:5", &format!("at:{n}"));
        assert!(parse_fast(&line).is_none(), "{line}");
        assert_eq!(parse_line(&line), parse_with_ron(&line), "{line}");
    }
    // Errors are always ron's, with its position.
    let bad = base.replace("text:\"hi\"", "text:3");
    assert!(parse_fast(&bad).is_none());
    assert!(parse(&bad).unwrap_err().contains("bad `Note` body"));
}

#[test]
fn escapes_read_as_ron_reads_them() {
    for text in [
        "\\'",
        "\\\"",
        "\\\\",
        "\\n\\r\\t\\0",
        "\\u{1b}[31m",
        "\\u{10FFFF}",
        "\\u{202e}x",
        "é\\u{301}",
    ] {
        let line = format!(
            r#"(v:1,id:"x",at:5,wall:5,occurred:None,by:"a@b",seq:1,prev:"p",kind:"Note",body:(text:"{text}",tags:[]))"#
        );
        assert!(parse_fast(&line).is_some(), "{line}");
        assert_eq!(parse_line(&line), parse_with_ron(&line));
    }
    for bad in ["\\u{110000}", "\\u{d800}", "\\u{}", "\\u{1234567}", "\\q", "\\u1234"] {
        let line = format!(
            r#"(v:1,id:"x",at:5,wall:5,occurred:None,by:"a@b",seq:1,prev:"p",kind:"Note",body:(text:"{bad}",tags:[]))"#
        );
        assert!(parse_fast(&line).is_none(), "{line}");
        assert!(parse(&line).is_err(), "{line}");
    }
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-z0-9 ._'\"\\\\-]{0,40}",
        Just(String::new()),
        Just("\u{1b}[31m\u{202e}\u{2028}\r\n\t\0'\"\\\u{301}".to_string()),
    ]
}

fn opt_text() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(text())
}

fn millis() -> impl Strategy<Value = i64> {
    prop_oneof![any::<i64>(), 0i64..4_102_444_800_000, Just(0), Just(MAX_TIME)]
}

fn body() -> impl Strategy<Value = Body> {
    let phase = prop_oneof![
        Just(Phase::Preparation),
        Just(Phase::Identification),
        Just(Phase::Containment),
        Just(Phase::LessonsLearned)
    ];
    prop_oneof![
        (text(), proptest::collection::vec(text(), 0..3)).prop_map(|(text, tags)| Note {
            text: text.into(),
            tags: tags.into()
        }
        .into()),
        (any::<u8>(), opt_text()).prop_map(|(severity, reason)| SeverityChanged { severity, reason }.into()),
        (phase, proptest::collection::vec(text(), 0..3)).prop_map(|(phase, override_open)| PhaseEntered {
            phase,
            override_open
        }
        .into()),
        (text(), opt_text()).prop_map(|(item, note)| ChecklistSet {
            item,
            state: ItemState::Blocked,
            note
        }
        .into()),
        (
            text(),
            text(),
            proptest::option::of(any::<i32>()),
            opt_text(),
            any::<bool>(),
            any::<bool>()
        )
            .prop_map(|(action, text, exit, cast, timed_out, rollback)| ActionOutput {
                action,
                text,
                exit,
                cast,
                timed_out,
                rollback
            }
            .into()),
        (text(), text(), any::<bool>()).prop_map(|(id, who, item)| Assigned {
            target: if item { Target::Item(id) } else { Target::Action(id) },
            who
        }
        .into()),
        (text(), any::<bool>()).prop_map(|(text, ext)| StatusUpdate {
            audience: if ext { Audience::External } else { Audience::Internal },
            text
        }
        .into()),
        (text(), opt_text(), proptest::option::of(millis()), opt_text()).prop_map(|(text, owner, due, from)| {
            FollowUp {
                text,
                owner,
                kind: "corrective".into(),
                due,
                from,
            }
            .into()
        }),
        (text(), text(), any::<u64>(), opt_text(), proptest::option::of(millis())).prop_map(
            |(id, reason, seq, text, occurred)| Corrected {
                id,
                log: "a@b".into(),
                seq,
                text,
                reason,
                occurred
            }
            .into()
        ),
        (any::<u64>(), any::<u64>()).prop_map(|(offset, bytes)| TailRepaired { offset, bytes }.into()),
        proptest::collection::vec(1u64..1000, 0..5).prop_map(|seqs| Disowned { seqs }.into()),
        proptest::collection::vec(("[a-z]{1,8}@[a-z]{1,8}", 1u64..1_000_000), 0..3).prop_map(|hs| Heads {
            heads: hs
                .into_iter()
                .map(|(writer, seq)| Head {
                    writer,
                    seq,
                    hash: "0".repeat(64)
                })
                .collect()
        }
        .into()),
        (opt_text(), proptest::collection::vec(text(), 0..2), opt_text()).prop_map(
            |(summary, override_open, reason)| Resolved {
                summary,
                override_open,
                reason
            }
            .into()
        ),
        Just(Archived {}.into()),
        (text(), any::<f64>(), millis()).prop_map(|(change, speed, scenario_ms)| ExerciseClock {
            change,
            speed,
            scenario_ms
        }
        .into()),
    ]
}

fn event() -> impl Strategy<Value = Line> {
    (
        "[0-9A-Z]{26}",
        millis(),
        millis(),
        proptest::option::of(millis()),
        "[a-z]{1,8}@[a-z0-9-]{1,12}",
        prop_oneof![1u64..100, any::<u64>(), Just(MAX_SEQ)],
        "[0-9a-f]{64}",
        body(),
    )
        .prop_map(|(id, at, wall, occurred, by, seq, prev, body)| Line {
            event: Event {
                id: id.into(),
                at,
                wall,
                occurred: occurred.into(),
                log: by.into(),
                seq,
                body,
            },
            prev: prev.into(),
        })
}

/// A line with a few bytes changed, cut, or inserted.
fn mutate(line: &str, edits: &[(usize, u8, u8)]) -> Vec<u8> {
    let mut b = line.as_bytes().to_vec();
    for &(at, byte, op) in edits {
        let at = at % (b.len() + 1);
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
}

/// Bytes that matter to the grammar, more often than chance would pick them.
fn byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        any::<u8>(),
        proptest::sample::select(b"()[]{},:\"\\'#_-+.0123456789eExuSomeNn rb/".to_vec())
    ]
}

proptest! {
    #![proptest_config(cases(2000))]

    /// Every record a writer makes is read fast (floats aside) and read as `ron` reads it.
    #[test]
    fn writer_lines_read_fast_and_the_same(e in event()) {
        let Ok(line) = encode(&e.event, &e.prev) else { return Ok(()) };
        let slow = parse_with_ron(&line);
        prop_assert_eq!(slow.as_ref(), Ok(&e));
        match parse_fast(&line) {
            Some(fast) => prop_assert_eq!(fast, slow),
            None => prop_assert!(matches!(e.event.body, Body::ExerciseClock(_)), "left to ron: {}", line),
        }
    }

    /// Mutated records: whenever the fast reader answers, `ron` gives the same answer.
    #[test]
    fn mutated_writer_lines_agree(e in event(), edits in proptest::collection::vec((any::<usize>(), byte(), 0u8..4), 1..4)) {
        let Ok(line) = encode(&e.event, &e.prev) else { return Ok(()) };
        let bytes = mutate(&line, &edits);
        if let Ok(s) = std::str::from_utf8(&bytes) {
            agree(s)?;
        }
    }

    #[test]
    fn mutated_golden_lines_agree(i in 0usize..64, edits in proptest::collection::vec((any::<usize>(), byte(), 0u8..4), 1..6)) {
        let lines: Vec<&str> = GOLDEN.lines().collect();
        let bytes = mutate(lines[i % lines.len()], &edits);
        if let Ok(s) = std::str::from_utf8(&bytes) {
            agree(s)?;
        }
    }

    #[test]
    fn arbitrary_text_agrees(s in any::<String>()) {
        agree(&s)?;
    }
}
