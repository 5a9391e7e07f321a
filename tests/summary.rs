//! The local summary cache (`store::summary`) is only a cache: whatever `list` and the board
//! show through it is exactly what a fresh read and fold shows, after appends, torn tails,
//! edits, rollbacks, a rewritten claim or a removed playbook copy. A cache that does not match
//! is rebuilt, never trusted; one that matches is used.

use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use proptest::prelude::*;

use warroom::cli::context::now_ms;
use warroom::domain::event::{Mode, Note, SeverityChanged};
use warroom::domain::identity::WriterId;
use warroom::store::incident::{declare, DeclareRequest, Incident};
use warroom::store::playbooks::Library;
use warroom::store::summary::{self, Outcome, Summary};
use warroom::store::writer::{Draft, LogWriter};
use warroom::store::{Identity, RootChoice, RootSource, Store};

struct World {
    _tmp: tempfile::TempDir,
    store: Store,
    id: String,
    writers: Vec<Identity>,
}

fn identity(name: &str, host: &str) -> Identity {
    Identity {
        writer: WriterId {
            name: name.into(),
            host: host.into(),
        },
        install: "inst01".into(),
    }
}

fn world() -> World {
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
    let writers = vec![identity("alice", "jump"), identity("bob", "laptop")];
    let playbook = Library::built_in().resolve("ransomware").unwrap();
    let (id, _) = declare(
        &store,
        &writers[0],
        DeclareRequest {
            playbook: &playbook,
            title: "cache".into(),
            severity: 2,
            mode: Mode::Real,
            commander: "alice".into(),
            require_signatures: false,
            occurred: None,
        },
        now_ms,
    )
    .unwrap();
    World {
        _tmp: tmp,
        store,
        id,
        writers,
    }
}

impl World {
    fn log(&self, w: usize) -> PathBuf {
        LogWriter::new(&self.store, &self.id, &self.writers[w]).log_path()
    }

    /// A fresh read and fold (texts held: a reader leaving them in the log, as the summary's
    /// own does, finds the same; see `readers_agree`).
    fn fresh(&self) -> Summary {
        Summary::of(&self.id, &Incident::open(&self.store, &self.id, now_ms()))
    }

    fn cached(&self) -> (Summary, Outcome) {
        let (s, _, o) = summary::load_with(&self.store, &self.id, now_ms(), Duration::ZERO);
        (s, o)
    }
}

#[derive(Debug, Clone)]
enum Op {
    /// Notes from writer w (an append through the writer).
    Append(usize, usize),
    /// A severity change from writer w.
    Severity(usize, u8),
    /// Half a line at the end of writer w's log (a write still landing, or a crash).
    TornTail(usize, usize),
    /// A byte of writer w's log flipped in place at (line, column), length kept.
    Edit(usize, usize, usize),
    /// Writer w's log cut back by k lines (a sync tool's rollback).
    Rollback(usize, usize),
    /// The claim rewritten with another title.
    Claim,
    /// The playbook copies removed.
    DropPlaybook,
    /// Nothing changes (the cache must be used).
    Nothing,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..2usize, 1..4usize).prop_map(|(w, n)| Op::Append(w, n)),
        1 => (0..2usize, 1..5u8).prop_map(|(w, s)| Op::Severity(w, s)),
        2 => (0..2usize, 1..60usize).prop_map(|(w, n)| Op::TornTail(w, n)),
        2 => (0..2usize, 0..8usize, 0..400usize).prop_map(|(w, l, c)| Op::Edit(w, l, c)),
        2 => (0..2usize, 1..3usize).prop_map(|(w, k)| Op::Rollback(w, k)),
        1 => Just(Op::Claim),
        1 => Just(Op::DropPlaybook),
        2 => Just(Op::Nothing),
    ]
}

/// Byte offsets of the starts of the complete lines of `bytes`, and its end.
fn line_starts(bytes: &[u8]) -> Vec<usize> {
    let mut v = vec![0];
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'\n' {
            v.push(i + 1);
        }
    }
    v
}

fn apply(w: &World, op: &Op) {
    match *op {
        Op::Append(who, n) => {
            let drafts = (0..n)
                .map(|i| {
                    Draft::new(Note {
                        text: format!("note {i} from {who}").into(),
                        tags: Default::default(),
                    })
                })
                .collect();
            // A refused append (the writer noticed its log rolled back) is a valid outcome too.
            let _ = LogWriter::new(&w.store, &w.id, &w.writers[who]).append(drafts, now_ms);
        }
        Op::Severity(who, severity) => {
            let _ = LogWriter::new(&w.store, &w.id, &w.writers[who])
                .append(vec![Draft::new(SeverityChanged { severity, reason: None })], now_ms);
        }
        Op::TornTail(who, n) => {
            let path = w.log(who);
            if path.exists() {
                let line = "(v:1, id:\"01JTORNTORNTORNTORNTORNTORN\", at:1, wall:1, occurred:None, by:\"x\"";
                let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
                f.write_all(&line.as_bytes()[..n.min(line.len())]).unwrap();
            }
        }
        Op::Edit(who, line, col) => edit(&w.log(who), line, col),
        Op::Rollback(who, k) => {
            let path = w.log(who);
            if let Ok(bytes) = std::fs::read(&path) {
                let starts = line_starts(&bytes);
                let keep = starts[starts.len().saturating_sub(1 + k)..][0];
                let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
                f.set_len(keep as u64).unwrap();
            }
        }
        Op::Claim => {
            let path = w.store.incident_dir(&w.id).join("incident.ron");
            if let Ok(text) = std::fs::read_to_string(&path) {
                std::fs::write(&path, text.replace("\"cache\"", "\"rewritten\"")).unwrap();
            }
        }
        Op::DropPlaybook => {
            let _ = std::fs::remove_dir_all(w.store.incident_dir(&w.id).join("playbooks"));
        }
        Op::Nothing => {}
    }
}

/// Flip one letter of line `line` of a log in place (the length stays).
fn edit(path: &Path, line: usize, col: usize) {
    let Ok(bytes) = std::fs::read(path) else { return };
    let starts = line_starts(&bytes);
    if starts.len() < 2 {
        return;
    }
    let l = line % (starts.len() - 1);
    let (from, to) = (starts[l], starts[l + 1] - 1);
    let at = from + col % (to - from).max(1);
    let b = bytes[at];
    let new = if b.is_ascii_lowercase() && b != b'z' {
        b + 1
    } else if b == b'z' {
        b'a'
    } else {
        return;
    };
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.write_all_at(&[new], at as u64).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn what_the_cache_gives_is_what_a_fresh_fold_gives(ops in proptest::collection::vec(op(), 1..8)) {
        let w = world();
        apply(&w, &Op::Append(1, 2));
        let (first, _) = w.cached();
        prop_assert_eq!(&first, &w.fresh());
        for op in &ops {
            // A file system stamps times in ticks: a change inside the tick of the last scan would
            // leave the stamp as it was. `load` refuses to keep a summary of such a fresh change
            // (`summary::RACY`); the test, which turns that off, waits the tick out instead.
            std::thread::sleep(Duration::from_millis(12));
            apply(&w, op);
            std::thread::sleep(Duration::from_millis(12));
            let (cached, outcome) = w.cached();
            let fresh = w.fresh();
            prop_assert_eq!(&cached, &fresh, "after {:?} ({:?})", op, outcome);
            // Asked again with nothing changed, it is the same; and used from the cache when
            // the read before could keep it.
            let (again, outcome2) = w.cached();
            prop_assert_eq!(&again, &fresh, "again after {:?}", op);
            if outcome == Outcome::Folded {
                let (_, outcome3) = w.cached();
                prop_assert_eq!(outcome3, Outcome::Hit, "after {:?}: {:?} then {:?}", op, outcome, outcome2);
            }
        }
    }
}

/// What a reader leaving notes' texts in the log (`show`, `list`, the board, the console) finds
/// is what a reader holding them finds: the same problems, marks and derived state, after any
/// mix of appends, edits, copies and rollbacks. Two versions of one record are judged by their
/// content, never by where their lines sit.
fn readers_agree(w: &World, after: &str) -> Result<(), TestCaseError> {
    let memory = || warroom::store::incident::remembered(&w.store, &w.id);
    let held = Incident::open_with(&w.store, &w.id, now_ms(), memory());
    let lean = Incident::open_without_texts(&w.store, &w.id, now_ms(), memory());
    let text = |v: &Incident| v.problems().into_iter().map(|p| p.to_string()).collect::<Vec<_>>();
    prop_assert_eq!(text(&lean), text(&held), "problems after {}", after);
    prop_assert_eq!(&lean.state.derived, &held.state.derived, "derived after {}", after);
    let keys = |v: &Incident| v.state.timeline().map(|e| e.key()).collect::<Vec<_>>();
    prop_assert_eq!(keys(&lean), keys(&held), "timeline after {}", after);
    prop_assert_eq!(
        Summary::of(&w.id, &lean),
        Summary::of(&w.id, &held),
        "summary after {}",
        after
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn a_reader_leaving_texts_in_the_log_finds_what_one_holding_them_finds(ops in proptest::collection::vec(op(), 1..8)) {
        let w = world();
        apply(&w, &Op::Append(1, 2));
        readers_agree(&w, "the start")?;
        for op in &ops {
            apply(&w, op);
            readers_agree(&w, &format!("{op:?}"))?;
        }
    }
}

/// The case that found it: bob's first line edited, his log rolled back and his writer
/// appending again (the lean reader reported one more "two different records claim seq 1").
#[test]
fn an_edited_record_appended_again_is_judged_alike_by_both_readers() {
    let w = world();
    apply(&w, &Op::Append(1, 2));
    for op in [
        Op::Edit(1, 0, 135),
        Op::Edit(0, 7, 19),
        Op::Rollback(1, 1),
        Op::Append(1, 3),
        Op::Rollback(0, 2),
        Op::Rollback(1, 1),
    ] {
        apply(&w, &op);
        readers_agree(&w, &format!("{op:?}")).unwrap();
    }
}

#[test]
fn an_unchanged_incident_is_served_from_the_cache_and_deleting_the_cache_changes_nothing() {
    let w = world();
    apply(&w, &Op::Append(0, 3));
    std::thread::sleep(Duration::from_millis(12));
    let (a, first) = w.cached();
    assert_eq!(first, Outcome::Folded);
    let (b, second) = w.cached();
    assert_eq!(second, Outcome::Hit);
    assert_eq!(a, b);
    std::fs::remove_file(summary::cache_path(&w.store)).unwrap();
    let (c, third) = w.cached();
    assert_eq!(third, Outcome::Folded);
    assert_eq!(a, c);
    assert_eq!(a, w.fresh());
}

#[test]
fn a_change_within_the_racy_window_is_not_kept() {
    let w = world();
    apply(&w, &Op::Append(0, 1));
    let (_, _, outcome) = summary::load(&w.store, &w.id, now_ms());
    assert_eq!(outcome, Outcome::NotCached, "written a moment ago: not kept");
}

#[test]
fn a_cache_entry_that_does_not_match_is_not_trusted() {
    let w = world();
    apply(&w, &Op::Append(0, 3));
    std::thread::sleep(Duration::from_millis(12));
    assert_eq!(w.cached().1, Outcome::Folded);
    // A forged entry (another title) with a stale key: rebuilt, not shown.
    let path = summary::cache_path(&w.store);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("\"cache\"", "\"forged\"")).unwrap();
    apply(&w, &Op::Append(1, 1));
    std::thread::sleep(Duration::from_millis(12));
    let (s, outcome) = w.cached();
    assert_eq!(outcome, Outcome::Folded);
    assert_eq!(s.title, "cache");
}

/// The console applies a long update in bounded parts (keys are read between them): the parts
/// applied one after another give the state the whole gives.
#[test]
fn an_update_applied_in_parts_folds_to_the_same_state() {
    use warroom::store::incident::{Source, View};
    let w = world();
    for round in 0..6 {
        apply(&w, &Op::Append(round % 2, 7));
        apply(&w, &Op::Severity((round + 1) % 2, 1 + (round % 4) as u8));
    }
    let mut whole = View::new(&w.id);
    whole.apply(Source::new(&w.store, &w.id).poll(now_ms()));
    for max in [1, 5, 13, 1000] {
        let mut parts = View::new(&w.id);
        for part in Source::new(&w.store, &w.id).poll(now_ms()).split(max) {
            parts.apply(part);
        }
        assert_eq!(Summary::of(&w.id, &parts), Summary::of(&w.id, &whole), "parts of {max}");
        let a: Vec<_> = parts.state.timeline().map(|e| e.key()).collect();
        let b: Vec<_> = whole.state.timeline().map(|e| e.key()).collect();
        assert_eq!(a, b, "timeline, parts of {max}");
        assert_eq!(parts.state.derived, whole.state.derived, "derived, parts of {max}");
    }
}

const HOUR: i64 = 3_600_000;

/// A note from bob, whose host runs 25 hours ahead: held back by a reader on time.
fn note_from_a_day_ahead(w: &World) {
    LogWriter::new(&w.store, &w.id, &w.writers[1])
        .append(
            vec![Draft::new(Note {
                text: "from a host a day ahead".into(),
                tags: Default::default(),
            })],
            || now_ms() + 25 * HOUR,
        )
        .unwrap();
}

/// What a summary found settled holds at any later time, not at an earlier one: an entry folded
/// while this host's clock ran more than a day ahead (a record dated a day ahead applied) is not
/// used once the clock is set back — the record is held back again, as a fresh read holds it
/// (break round, stop 27).
#[test]
fn a_summary_is_not_used_after_the_clock_is_set_back() {
    let w = world();
    apply(&w, &Op::Append(0, 1));
    note_from_a_day_ahead(&w);
    std::thread::sleep(Duration::from_millis(12));
    // Read on a host 26 hours ahead: nothing held back, the entry kept.
    let ahead = now_ms() + 26 * HOUR;
    let (then, outcome) = {
        let (s, _, o) = summary::load_with(&w.store, &w.id, ahead, Duration::ZERO);
        (s, o)
    };
    assert_eq!(outcome, Outcome::Folded);
    assert_eq!(then.problems, 0, "{then:?}");
    assert!(then.last_update.as_ref().is_some_and(|(_, by)| by.starts_with("bob")));
    // The clock set right: as a fresh read, bob's record is held back again.
    let (now, outcome) = w.cached();
    assert_ne!(outcome, Outcome::Hit);
    assert_eq!(now, w.fresh());
    assert_eq!(now.problems, 1, "{now:?}");
    assert!(now.last_update.as_ref().is_some_and(|(_, by)| by.starts_with("alice")));
    // Later than the entry was folded, it is used again.
    let (s, _, o) = summary::load_with(&w.store, &w.id, ahead + HOUR, Duration::ZERO);
    assert_eq!((o, s), (Outcome::Hit, then));
}

/// A record held back for being dated more than a day ahead is a problem only while it is
/// held: once this host's clock gets there, a reader left open applies it and no longer lists
/// it as "not applied" (break round, stop 27: the console kept the problem), and its summary
/// says it depends on the time it was read, so the board reads it again on its next pass.
#[test]
fn a_record_held_back_is_a_problem_only_while_it_is_held() {
    let w = world();
    apply(&w, &Op::Append(0, 1));
    note_from_a_day_ahead(&w);
    let t0 = now_ms();
    let mut open = Incident::open(&w.store, &w.id, t0);
    let ahead = |inc: &Incident| inc.problems().iter().any(|p| p.what.contains("more than a day ahead"));
    assert!(ahead(&open), "{:?}", open.problems());
    let held = Summary::of(&w.id, &open);
    assert!(held.pending && held.problems == 1, "{held:?}");
    // Nothing changes on disk; the clock gets there.
    let later = t0 + 2 * HOUR;
    open.refresh(later);
    assert!(!ahead(&open), "{:?}", open.problems());
    assert!(open.state.events().any(|e| e.by().starts_with("bob@")));
    let fresh = Incident::open(&w.store, &w.id, later);
    assert_eq!(open.problems(), fresh.problems());
    let released = Summary::of(&w.id, &open);
    assert!(!released.pending, "{released:?}");
    assert_eq!(released, Summary::of(&w.id, &fresh));
}

/// A record held back for being dated ahead stays held when its log also holds an edited twin
/// of it: the version its chain vouches for is held too, never applied through the preference
/// between the two (break round, stop 27: a forged SEV4 dated 9999 outranked an honest SEV1).
#[test]
fn a_record_held_back_stays_held_with_an_edited_twin() {
    const YEAR: i64 = 365 * 86_400_000;
    let w = world();
    LogWriter::new(&w.store, &w.id, &w.writers[1])
        .append(
            vec![Draft::new(SeverityChanged {
                severity: 4,
                reason: Some("forged".into()),
            })],
            || now_ms() + 7000 * YEAR,
        )
        .unwrap();
    let path = w.log(1);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(text.replace("forged", "forgeX").as_bytes()).unwrap();
    drop(f);
    apply(&w, &Op::Severity(0, 1));
    let inc = Incident::open(&w.store, &w.id, now_ms());
    assert_eq!(inc.state.severity(), Some(1));
    assert!(
        inc.state.events().all(|e| !e.by().starts_with("bob")),
        "bob's record is held"
    );
    assert!(inc.problems().iter().any(|p| p.what.contains("more than a day ahead")));
    let s = w.fresh();
    assert!(
        s.last_update.as_ref().is_some_and(|(_, by)| by.starts_with("alice")),
        "{s:?}"
    );
}
