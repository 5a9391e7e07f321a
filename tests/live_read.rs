//! A reader left open (the console, `tail --follow`) shows what a fresh read of the same files
//! shows, whatever happened to them: appends, bytes overwritten in place (same file, same
//! size: `cp` over it, `dd conv=notrunc`, an editor writing in place), edits put back, cuts,
//! files replaced. The incremental reader reads only bytes past its offset; an edit before it
//! must still reach the screen.

mod common;

use std::fs;
use std::io::{Seek, SeekFrom, Write as _};
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use warroom::cli::read::state_json;
use warroom::domain::event::{self, Event, Mode, Note};
use warroom::domain::identity::WriterId;
use warroom::domain::prev_hash::PrevHash;
use warroom::report::timeline_json;
use warroom::store::incident::{declare, DeclareRequest, Incident};
use warroom::store::playbooks::Library;
use warroom::store::writer::{Draft, LogWriter};
use warroom::store::{Identity, RootChoice, RootSource, Store};

/// Long after every write: a bad last line is reported, not left to settle.
const NOW: i64 = 4_000_000_000_000;

struct World {
    _tmp: tempfile::TempDir,
    /// The reader's host (its own state directory).
    store: Store,
    /// Each writer on its own host.
    stores: Vec<Store>,
    writers: Vec<Identity>,
    id: String,
    stamp: i64,
}

impl World {
    fn new() -> World {
        let tmp = tempfile::tempdir().expect("tmp");
        let base = tmp.path();
        let host = |name: &str| {
            Store::open(
                &RootChoice {
                    path: base.join("shared"),
                    source: RootSource::Flag,
                },
                base.join(format!("state-{name}")),
                base.join(format!("run-{name}")),
            )
            .expect("store")
        };
        let store = host("reader");
        let stores = vec![host("alice"), host("bob")];
        let writers: Vec<Identity> = ["alice", "bob"]
            .iter()
            .map(|name| Identity {
                writer: WriterId {
                    name: (*name).into(),
                    host: "jump".into(),
                },
                install: format!("{name:a<6}")[..6].to_string(),
            })
            .collect();
        let playbook = Library::built_in().resolve("ransomware").expect("playbook");
        let (id, _) = declare(
            &stores[0],
            &writers[0],
            DeclareRequest {
                playbook: &playbook,
                title: "Live".into(),
                severity: 2,
                mode: Mode::Real,
                commander: "alice".into(),
                require_signatures: false,
                occurred: None,
            },
            || 1_700_000_000_000,
        )
        .expect("declare");
        World {
            _tmp: tmp,
            store,
            stores,
            writers,
            id,
            stamp: 1_700_000_000_000,
        }
    }

    fn log(&self, w: usize) -> PathBuf {
        let dir = self.store.incident_dir(&self.id).join("events");
        let who = format!("{}@", self.writers[w].writer.name);
        fs::read_dir(&dir)
            .expect("events")
            .flatten()
            .map(|e| e.path())
            .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(&who)))
            .unwrap_or_else(|| dir.join(format!("{who}none.ronl")))
    }

    /// The last record of writer `w`'s log.
    fn last_record(&self, w: usize) -> Event {
        let log = fs::read_to_string(self.log(w)).expect("log");
        event::parse(log.lines().last().expect("a line")).expect("parses")
    }

    /// The `prev` of the last record of writer `w`'s log.
    fn last_prev(&self, w: usize) -> PrevHash {
        let log = fs::read_to_string(self.log(w)).expect("log");
        event::parse_line(log.lines().last().expect("a line"))
            .expect("parses")
            .prev
    }

    /// Append to writer `w`'s log a copy of `last` with other text and a record chained onto
    /// that copy, as anyone who can write the folder can.
    fn plant_copy_and_next(&self, w: usize, last: &Event) {
        let log = self.log(w);
        common::forge(
            &log,
            &self.id,
            last.by(),
            last.seq,
            last.at,
            common::note_body("FORGED: all clear"),
        );
        common::forge(
            &log,
            &self.id,
            last.by(),
            last.seq + 1,
            last.at + 5,
            common::note_body("FORGED NEXT: close it"),
        );
    }

    fn note(&mut self, w: usize, n: usize) {
        let drafts = (0..n)
            .map(|i| {
                Draft::new(Note {
                    text: format!("note {} {i} from writer {w}", self.stamp).into(),
                    tags: Default::default(),
                })
            })
            .collect();
        self.stamp += 1_000;
        let at = self.stamp;
        // A refused write (the log was cut or edited under the writer) is fine: the reader's
        // view is what is checked.
        let _ = LogWriter::new(&self.stores[w], &self.id, &self.writers[w]).append(drafts, move || at);
    }
}

/// Everything a reader shows of the records (state and timeline with their integrity flags),
/// problems aside: a reader left open has said some of them already.
fn shown(inc: &Incident) -> String {
    let mut state = state_json(inc, NOW);
    if let Some(o) = state.as_object_mut() {
        o.remove("problems");
    }
    let marks: Vec<String> = inc.state.marks().iter().map(|(k, v)| format!("{k:?} {v}")).collect();
    let text = without_memory(&format!("{state:#}\n{:#}\n{marks:#?}", timeline_json(&inc.state)));
    // A record's marks are joined in the order they were found, which differs between a reader
    // that found them over several passes and one that read everything at once (the closing
    // quote of the text is not part of its last mark).
    text.lines()
        .map(|l| {
            let body = l.trim_end_matches([',', '"']);
            let mut parts: Vec<&str> = body.split("; ").collect();
            parts.sort_unstable();
            format!("{}{}", parts.join("; "), &l[body.len()..])
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `text` without the reader's host-memory findings ("seq N differs from the record this host
/// read there before"): they depend on when the reader last looked, which is the point of them,
/// not on the files.
fn without_memory(text: &str) -> String {
    const SAID: &str =
        " differs from the record this host read there before: the log was edited or rewritten at or before it";
    let mut out = text.to_string();
    while let Some(at) = out.find(SAID) {
        let start = out[..at].rfind("seq ").unwrap_or(at);
        let mut end = at + SAID.len();
        if out[end..].starts_with("; ") {
            end += 2;
        }
        out.replace_range(start..end, "");
    }
    out
}

/// The lines where `live` and `fresh` differ (a readable failure).
fn differ(live: &str, fresh: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (live.lines().collect(), fresh.lines().collect());
    let mut out = format!("{} lines live, {} fresh\n", a.len(), b.len());
    for i in 0..a.len().max(b.len()) {
        let (x, y) = (a.get(i).copied().unwrap_or(""), b.get(i).copied().unwrap_or(""));
        if x != y {
            out += &format!("{i}: live  {x}\n{i}: fresh {y}\n");
        }
    }
    out
}

#[derive(Debug, Clone)]
enum Op {
    Note(usize, usize),
    /// Overwrite one byte at this fraction of the log, in place (same file, same size).
    Overwrite(usize, u16),
    /// Overwrite one byte in place and append a note at once (before the reader looks).
    OverwriteAndNote(usize, u16),
    /// Put back the bytes the log had before its last overwrite, in place.
    PutBack(usize),
    /// Cut the log at this fraction of its length.
    Cut(usize, u16),
    /// The file replaced by a copy (a new inode, the same bytes), as sync tools do.
    Replace(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..2usize, 1..6usize).prop_map(|(w, n)| Op::Note(w, n)),
        2 => (0..2usize, any::<u16>()).prop_map(|(w, f)| Op::Overwrite(w, f)),
        1 => (0..2usize, any::<u16>()).prop_map(|(w, f)| Op::OverwriteAndNote(w, f)),
        2 => (0..2usize).prop_map(Op::PutBack),
        1 => (0..2usize, any::<u16>()).prop_map(|(w, f)| Op::Cut(w, f)),
        1 => (0..2usize).prop_map(Op::Replace),
    ]
}

fn at_fraction(len: u64, f: u16) -> u64 {
    len * f as u64 / (u16::MAX as u64 + 1)
}

/// Overwrite one byte of `path` in place (not a newline: an edit inside a record); returns
/// the bytes it had before.
fn overwrite(path: &Path, frac: u16) -> Option<Vec<u8>> {
    let before = fs::read(path).ok().filter(|b| !b.is_empty())?;
    let i = at_fraction(before.len() as u64, frac) as usize;
    if before[i] == b'\n' {
        return None;
    }
    let byte = if before[i] == b'7' { b'8' } else { b'7' };
    let mut f = fs::OpenOptions::new().write(true).open(path).expect("open for write");
    f.seek(SeekFrom::Start(i as u64)).expect("seek");
    f.write_all(&[byte]).expect("write");
    Some(before)
}

/// Write `bytes` over `path` in place (same file: no truncation unless shorter).
fn put_back(path: &Path, bytes: &[u8]) {
    let mut f = fs::OpenOptions::new().write(true).open(path).expect("open for write");
    f.write_all(bytes).expect("write");
    f.set_len(bytes.len() as u64).expect("set_len");
}

fn apply(w: &mut World, op: &Op, saved: &mut [Option<Vec<u8>>; 2]) {
    match *op {
        Op::Note(who, n) => w.note(who, n),
        Op::Overwrite(who, frac) => {
            if let Some(before) = overwrite(&w.log(who), frac) {
                saved[who] = Some(before);
            }
        }
        Op::OverwriteAndNote(who, frac) => {
            if let Some(before) = overwrite(&w.log(who), frac) {
                saved[who] = Some(before);
            }
            w.note(who, 1);
        }
        Op::PutBack(who) => {
            if let Some(before) = saved[who].take() {
                put_back(&w.log(who), &before);
            }
        }
        Op::Cut(who, frac) => {
            if let Ok(f) = fs::OpenOptions::new().write(true).open(w.log(who)) {
                let len = f.metadata().expect("meta").len();
                f.set_len(at_fraction(len, frac)).expect("cut");
            }
        }
        Op::Replace(who) => {
            let path = w.log(who);
            if let Ok(bytes) = fs::read(&path) {
                let tmp = path.with_extension("tmp");
                fs::write(&tmp, bytes).expect("copy");
                fs::rename(&tmp, &path).expect("rename");
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn a_reader_left_open_shows_what_a_fresh_read_shows(ops in proptest::collection::vec(op(), 1..10)) {
        if let Err(why) = live_and_fresh_agree(&ops) {
            prop_assert!(false, "{}", why);
        }
    }
}

/// Apply `ops` one by one; after each, the reader left open shows what a fresh read shows.
fn live_and_fresh_agree(ops: &[Op]) -> Result<(), String> {
    let mut w = World::new();
    w.note(0, 3);
    w.note(1, 2);
    let mut live = Incident::open(&w.store, &w.id, NOW);
    let mut saved = [None, None];
    for op in ops {
        apply(&mut w, op, &mut saved);
        live.refresh(NOW);
        let fresh = Incident::open(&w.store, &w.id, NOW);
        let (a, b) = (shown(&live), shown(&fresh));
        if a != b {
            return Err(format!("after {op:?}:\n{}", differ(&a, &b)));
        }
    }
    Ok(())
}

/// Found by CI: a log edited in place twice (the open reader reads it again from the start each
/// time), then its writer restores its records. The version the open reader read after the
/// edit is the edited one: the writer's restore replaces it, as on a fresh read.
#[test]
fn a_writer_restoring_a_log_edited_in_place_reads_on_an_open_reader_as_on_a_fresh_one() {
    let ops = [Op::Overwrite(1, 39743), Op::Overwrite(1, 24346), Op::Note(1, 1)];
    if let Err(why) = live_and_fresh_agree(&ops) {
        panic!("{why}");
    }
}

/// The example from the break round: a note overwritten in place with text of the same length
/// is flagged on the open reader at once, and unflagged once the original bytes are put back
/// — and the reader says why it read everything again.
#[test]
fn a_line_overwritten_in_place_is_flagged_and_unflagged_on_an_open_reader() {
    let mut w = World::new();
    w.note(1, 3);
    let mut live = Incident::open(&w.store, &w.id, NOW);
    let log = w.log(1);
    let original = fs::read(&log).expect("log");
    let text = String::from_utf8(original.clone()).expect("utf8");
    let from = text.find("from writer 1").expect("a note");
    let mut f = fs::OpenOptions::new().write(true).open(&log).expect("open");
    f.seek(SeekFrom::Start(from as u64)).expect("seek");
    f.write_all(b"FROM WRITER 9").expect("write");
    drop(f);

    live.refresh(NOW);
    assert!(
        live.state.timeline().any(|e| live.state.flag(e).is_some()),
        "the edited record is flagged:\n{}",
        shown(&live)
    );
    assert!(
        live.problems()
            .iter()
            .any(|p| p.what.contains("changed in place after it was read")),
        "{:?}",
        live.problems()
    );
    assert_eq!(shown(&live), shown(&Incident::open(&w.store, &w.id, NOW)));

    put_back(&log, &original);
    live.refresh(NOW);
    assert_eq!(shown(&live), shown(&Incident::open(&w.store, &w.id, NOW)));
    // Nothing was read again when nothing changed.
    assert!(live.refresh(NOW).is_empty());
}

/// A reader left open that has read a record keeps it when a copy of it with other text and a
/// record chained onto that copy are appended (the pattern of a writer restoring an edited
/// record, which a reader that read the record knows it is not); and once it has closed, a
/// fresh read on the same host keeps it too (break round 2).
#[test]
fn an_open_reader_keeps_a_record_it_read_when_a_copy_and_a_record_after_it_are_appended() {
    let mut w = World::new();
    w.note(1, 1);
    let mut live = Incident::open(&w.store, &w.id, NOW);
    w.note(1, 1);
    live.refresh(NOW);
    let last = w.last_record(1);
    let genuine = match &last.body {
        warroom::domain::event::Body::Note(n) => n.text.shown().to_string(),
        _ => panic!("a note"),
    };
    w.plant_copy_and_next(1, &last);
    live.refresh(NOW);
    let text_of = |inc: &Incident, seq: u64| note_text(inc, last.by(), seq).map(|(text, _)| text);
    assert_eq!(
        text_of(&live, last.seq),
        Some(genuine.clone()),
        "the open reader keeps what it read"
    );
    let next = live
        .state
        .timeline()
        .find(|e| e.by() == last.by() && e.seq == last.seq + 1)
        .expect("the record after the copy is shown");
    assert!(live.state.flag(next).is_some(), "and marked");
    live.save_seen();
    let fresh = Incident::open(&w.store, &w.id, NOW);
    assert_eq!(
        text_of(&fresh, last.seq),
        Some(genuine),
        "this host remembers what it read"
    );
}

/// A copy of a writer's last record with other text and a record chained onto it are planted;
/// the writer then writes again (disowning the planted record). Its own host — which remembers
/// its newest record only, now past the copy — keeps the version it wrote, from its local copy
/// of what it acknowledged; a host that read the log before keeps it too; and on both the
/// writer's records after the planted pair are not marked as a gap (break round 2, stop 20).
#[test]
fn a_planted_copy_is_not_used_on_the_writers_host_and_the_writers_next_records_are_not_a_gap() {
    use warroom::domain::event::Body;
    let mut w = World::new();
    w.note(1, 3);
    Incident::open(&w.store, &w.id, NOW).save_seen();
    let last = w.last_record(1);
    w.plant_copy_and_next(1, &last);
    w.note(1, 1);
    let text = |e: &warroom::domain::event::Event| match &e.body {
        Body::Note(n) => n.text.shown().to_string(),
        b => b.kind().to_string(),
    };
    for (host, store) in [("the writer's", &w.stores[1]), ("a reader's", &w.store)] {
        let inc = Incident::open(store, &w.id, NOW);
        let bobs: Vec<_> = inc.state.timeline().filter(|e| e.by() == last.by()).collect();
        let third = bobs.iter().find(|e| e.seq == last.seq).expect("seq 3");
        assert!(
            !text(third).contains("FORGED"),
            "{host} host keeps what was written: {}",
            text(third)
        );
        let after: Vec<_> = bobs.iter().filter(|e| e.seq > last.seq + 1).collect();
        assert_eq!(after.len(), 2, "{host} host: the Disowned and the note");
        for e in after {
            assert_eq!(
                inc.state.flag(e),
                None,
                "{host} host: seq {} {} is not marked",
                e.seq,
                text(e)
            );
        }
    }
    // A host that never read the log cannot tell (only signatures can): the copy is shown,
    // marked, and the planted record after it is refused by its writer.
    let never = Incident::open(&w.stores[0], &w.id, NOW);
    let third = never
        .state
        .timeline()
        .find(|e| e.by() == last.by() && e.seq == last.seq)
        .expect("seq 3");
    // Its mark also quotes the version read first, the genuine one (break round 1, M3).
    let genuine = match &last.body {
        event::Body::Note(n) => n.text.shown().to_string(),
        _ => panic!("a note"),
    };
    let flag = format!("{:?}", never.state.flag(third));
    assert!(
        flag.contains(&format!("the version read first reads: {genuine}")),
        "{flag}"
    );
}

/// A line of writer `w`'s log made by hand: `last` with another seq, text and `prev`.
fn forged_line(last: &Event, seq: u64, text: &str, prev: PrevHash) -> String {
    let mut e = last.clone();
    e.id = format!("01JFORGED{seq:017}").into();
    e.seq = seq;
    e.body = common::note_body(text);
    event::encode(&e, &prev).expect("encodes")
}

fn append(log: &Path, lines: &[&str]) {
    let mut f = fs::OpenOptions::new().append(true).open(log).expect("log");
    for l in lines {
        f.write_all(format!("{l}\n").as_bytes()).expect("append");
    }
}

fn note_text(inc: &Incident, by: &str, seq: u64) -> Option<(String, bool)> {
    inc.state.timeline().find(|e| e.by() == by && e.seq == seq).map(|e| {
        let text = match &e.body {
            warroom::domain::event::Body::Note(n) => n.text.shown().to_string(),
            b => b.kind().to_string(),
        };
        (text, inc.state.flag(e).is_some())
    })
}

/// Break round 1 (stop 21), H1: a record naming a copy's hash as its `prev`, appended right after
/// the genuine record, followed by that copy. A host that read the genuine record (and the
/// writer's own host) keeps it and marks the new record as out of its chain; it is not "the
/// first was edited".
#[test]
fn a_record_vouching_for_a_copy_does_not_replace_a_record_this_host_read() {
    let mut w = World::new();
    w.note(1, 3);
    Incident::open(&w.store, &w.id, NOW).save_seen();
    let last = w.last_record(1);
    let copy = forged_line(&last, last.seq, "FORGED stand down", w.last_prev(1));
    let next = forged_line(
        &last,
        last.seq + 1,
        "FORGED next",
        event::line_hash(copy.as_bytes()).into(),
    );
    append(&w.log(1), &[&next, &copy]);
    for (host, store) in [("a reader's", &w.store), ("the writer's", &w.stores[1])] {
        let inc = Incident::open(store, &w.id, NOW);
        let (text, _) = note_text(&inc, last.by(), last.seq).expect("seq 3");
        assert!(!text.contains("FORGED"), "{host} host keeps the record it read: {text}");
        let (_, marked) = note_text(&inc, last.by(), last.seq + 1).expect("seq 4");
        assert!(marked, "{host} host marks the record that does not chain onto it");
    }
    w.note(1, 1);
    let inc = Incident::open(&w.store, &w.id, NOW);
    let (text, _) = note_text(&inc, last.by(), last.seq).expect("seq 3");
    assert!(!text.contains("FORGED"), "after the writer writes again: {text}");
    let newest = w.last_record(1);
    assert_eq!(
        note_text(&inc, last.by(), newest.seq).map(|t| t.1),
        Some(false),
        "the writer's note is not marked"
    );
}

/// Break round 1 (stop 21), H2: an open reader read a record live; a copy of it is appended and
/// read, then a record chained onto the copy. The open reader keeps what it read, as a fresh
/// read on its host does.
#[test]
fn an_open_reader_keeps_a_record_it_read_when_the_copy_and_the_next_record_come_in_two_reads() {
    let mut w = World::new();
    w.note(1, 3);
    let mut live = Incident::open(&w.store, &w.id, NOW);
    w.note(1, 1);
    live.refresh(NOW);
    let last = w.last_record(1);
    let log = w.log(1);
    common::forge(
        &log,
        &w.id,
        last.by(),
        last.seq,
        last.at,
        common::note_body("FORGED five"),
    );
    live.refresh(NOW);
    common::forge(
        &log,
        &w.id,
        last.by(),
        last.seq + 1,
        last.at + 5,
        common::note_body("FORGED next"),
    );
    live.refresh(NOW);
    let (text, _) = note_text(&live, last.by(), last.seq).expect("the record read");
    assert!(!text.contains("FORGED"), "the open reader keeps it: {text}");
    assert_eq!(
        note_text(&live, last.by(), last.seq + 1).map(|t| t.1),
        Some(true),
        "the record after the copy is marked"
    );
    live.save_seen();
    let (text, _) = note_text(&Incident::open(&w.store, &w.id, NOW), last.by(), last.seq).expect("read");
    assert!(!text.contains("FORGED"), "and a fresh read on the host: {text}");
}

/// Break round 1 (stop 21), H3: the writer's own open reader looked at what its host wrote
/// (a duplicate appended earlier), then the writer wrote more, and a copy of its newest record
/// with a record chained onto it is planted: what its host wrote since is looked at again.
#[test]
fn the_writers_open_reader_checks_copies_against_what_its_host_wrote_since() {
    let mut w = World::new();
    w.note(1, 3);
    let log = w.log(1);
    let third = w.last_record(1);
    let genuine = fs::read_to_string(&log)
        .expect("log")
        .lines()
        .last()
        .expect("a line")
        .to_string();
    append(&log, &[&genuine]);
    common::forge(
        &log,
        &w.id,
        third.by(),
        third.seq + 1,
        third.at + 5,
        common::note_body("attacker"),
    );
    // Its first read looks at what this host wrote (the duplicate is a copy of seq 3).
    let mut live = Incident::open(&w.stores[1], &w.id, NOW);
    w.note(1, 1);
    live.refresh(NOW);
    let newest = w.last_record(1);
    common::forge(
        &log,
        &w.id,
        newest.by(),
        newest.seq,
        newest.at,
        common::note_body("FORGED seven"),
    );
    common::forge(
        &log,
        &w.id,
        newest.by(),
        newest.seq + 1,
        newest.at + 5,
        common::note_body("FORGED eight"),
    );
    live.refresh(NOW);
    let (text, _) = note_text(&live, newest.by(), newest.seq).expect("the writer's newest");
    assert!(
        !text.contains("FORGED"),
        "the writer's open reader keeps its own record: {text}"
    );
    assert_eq!(note_text(&live, newest.by(), newest.seq + 1).map(|t| t.1), Some(true));
}

/// Break round 1 (stop 21), M2: a file whose name holds an escape sequence, and reads as the
/// genuine log's name once cleaned, is named with that sequence written out — the problem is
/// not pinned on the genuine log.
#[test]
fn a_file_named_like_a_log_with_an_escape_sequence_is_not_taken_for_it() {
    let mut w = World::new();
    w.note(1, 1);
    let log = w.log(1);
    let stem = log.file_stem().expect("name").to_string_lossy().into_owned();
    let twin = log.with_file_name(format!("{stem}\u{1b}[0m.ronl"));
    fs::copy(&log, &twin).expect("copy");
    let inc = Incident::open(&w.store, &w.id, NOW);
    let genuine = format!("{}/events/{stem}.ronl", w.id);
    assert!(
        inc.problems()
            .iter()
            .all(|p| warroom::domain::sanitize::sanitize(&p.source) != genuine),
        "{:?}",
        inc.problems()
    );
    assert!(
        inc.problems().iter().any(|p| p.source.ends_with("\\u{1b}[0m.ronl")),
        "{:?}",
        inc.problems()
    );
    let report = warroom::store::verify::verify(&w.store, &w.id);
    assert!(
        report.errors.iter().all(|e| !e.starts_with(&format!("{genuine}:"))),
        "{:?}",
        report.errors
    );
}

/// Break round 2 (stop 21), H1 and M1: a copy of the head with any text, then a record whose
/// `prev` names neither the line before it nor the chain's last record. Every host marks that
/// record as out of its chain (it used to take the copy for an edited record and the planted
/// one for its successor, unmarked); a host that read the head does not mark the genuine head
/// as differing from what it read.
#[test]
fn a_record_after_a_copy_that_chains_onto_nothing_is_out_of_its_chain() {
    let mut w = World::new();
    w.note(1, 3);
    Incident::open(&w.store, &w.id, NOW).save_seen();
    let last = w.last_record(1);
    let copy = forged_line(&last, last.seq, "copy", w.last_prev(1));
    let planted = forged_line(
        &last,
        last.seq + 1,
        "PLANTED: stand down",
        event::line_hash(b"random").into(),
    );
    append(&w.log(1), &[&copy, &planted]);
    for (host, store) in [
        ("a reader's", &w.store),
        ("the writer's", &w.stores[1]),
        ("a new", &w.stores[0]),
    ] {
        let inc = Incident::open(store, &w.id, NOW);
        assert_eq!(
            note_text(&inc, last.by(), last.seq + 1).map(|t| t.1),
            Some(true),
            "{host} host marks the planted record"
        );
        let head = inc
            .state
            .timeline()
            .find(|e| e.by() == last.by() && e.seq == last.seq)
            .expect("head");
        let flag = format!("{:?}", inc.state.flag(head));
        assert!(
            !flag.contains("differs from the record this host read"),
            "{host} host: {flag}"
        );
    }
}

/// Break round 2 (stop 21), H2: an exact copy of an old line appended to a log (harmless on its
/// own) used to make the reading host forget the log altogether: cut back later, nothing was
/// said. What it read up to the copy and after is remembered as read while the log looked whole.
#[test]
fn a_duplicated_old_line_does_not_make_a_host_forget_the_log() {
    let mut w = World::new();
    w.note(1, 3);
    let log = w.log(1);
    let first = fs::read_to_string(&log)
        .expect("log")
        .lines()
        .next()
        .expect("a line")
        .to_string();
    append(&log, &[&first]);
    Incident::open(&w.store, &w.id, NOW).save_seen();
    let bytes = fs::read(&log).expect("log");
    let keep = bytes[..bytes.len() - 1]
        .iter()
        .rposition(|b| *b == b'\n')
        .expect("lines")
        + 1;
    // Cut back to before the duplicate: the head this host read is gone.
    let text = String::from_utf8(bytes[..keep].to_vec()).expect("utf8");
    let cut = text[..text.len() - 1].rfind('\n').map_or(0, |i| i + 1);
    put_back(&log, &bytes[..cut]);
    let inc = Incident::open(&w.store, &w.id, NOW);
    assert!(
        inc.problems().iter().any(|p| p.what.contains("but this host saw seq")),
        "the cut is said: {:?}",
        inc.problems()
    );
}

/// Break round 2 (stop 21), H2 (a): after a stray copy of an old line, the writer writes on and a
/// host reads those records cleanly: they count as read (remembered, and in an open reader), so
/// a copy of the newest with a record chained onto it, planted later, does not replace it.
#[test]
fn records_read_cleanly_after_a_stray_copy_still_count_as_read() {
    let mut w = World::new();
    w.note(1, 3);
    let log = w.log(1);
    let first = fs::read_to_string(&log)
        .expect("log")
        .lines()
        .next()
        .expect("a line")
        .to_string();
    append(&log, &[&first]);
    let mut live = Incident::open(&w.store, &w.id, NOW);
    w.note(1, 2);
    live.refresh(NOW);
    live.save_seen();
    let last = w.last_record(1);
    w.plant_copy_and_next(1, &last);
    live.refresh(NOW);
    let fresh = Incident::open(&w.store, &w.id, NOW);
    for (how, inc) in [("open", &live), ("fresh", &fresh)] {
        let (text, _) = note_text(inc, last.by(), last.seq).expect("the newest");
        assert!(!text.contains("FORGED"), "{how}: {text}");
        assert_eq!(
            note_text(inc, last.by(), last.seq + 1).map(|t| t.1),
            Some(true),
            "{how}"
        );
    }
}

/// Writer `w`'s log, line by line.
fn log_lines(w: &World, writer: usize) -> Vec<String> {
    fs::read_to_string(w.log(writer))
        .expect("log")
        .lines()
        .map(str::to_string)
        .collect()
}

/// Write writer `w`'s log anew, in place (same file), as `lines`.
fn rewrite(w: &World, writer: usize, lines: &[&str]) {
    put_back(&w.log(writer), format!("{}\n", lines.join("\n")).as_bytes());
}

/// A forged version of the record `line` holds: same seq and `prev`, another id and text.
fn forged_version(line: &str, text: &str) -> String {
    let l = event::parse_line(line).expect("parses");
    forged_line(&l.event, l.event.seq, text, l.prev)
}

/// The record `line` holds, written again with a `prev` that chains it onto the line `onto`.
fn rechained(line: &str, onto: &str) -> String {
    let e = event::parse(line).expect("parses");
    event::encode(&e, &event::line_hash(onto.as_bytes()).into()).expect("encodes")
}

/// The readers (by name) that show a forged version of `seq` of writer 1's log, with what they
/// show; `or_marked`: one shown with a mark counts as not shown.
fn forged_shown(w: &World, readers: &[(&str, &Incident)], seq: u64, or_marked: bool) -> Vec<String> {
    let by = w.last_record(1).by().to_string();
    readers
        .iter()
        .filter_map(|(how, inc)| {
            let (text, marked) = note_text(inc, &by, seq).expect("the record");
            (text.contains("FORGED") && !(or_marked && marked)).then(|| format!("{how}: {text}"))
        })
        .collect()
}

/// Writer 1 writes six notes and the reader's host reads them (remembering its head): the world,
/// a reader left open on that host, and writer 1's log line by line.
fn six_notes_read() -> (World, Incident, Vec<String>) {
    notes_read(1, 6)
}

/// [`six_notes_read`] with `n` notes of writer `writer`.
fn notes_read(writer: usize, n: usize) -> (World, Incident, Vec<String>) {
    let mut w = World::new();
    w.note(writer, n);
    Incident::open(&w.store, &w.id, NOW).save_seen();
    let live = Incident::open(&w.store, &w.id, NOW);
    let lines = log_lines(&w, writer);
    (w, live, lines)
}

/// Break round 2 (stop 21), the HIGH left open then: an older record swapped on every host. The
/// attacker rewrites seq 4's `prev` in place to name a forged copy of seq 3, then appends that
/// copy and a byte-exact copy of the genuine seq 4 (so seq 5 still chains). The chain vouches
/// from its head down: seq 5 names the genuine seq 4, and that names the seq 3 in place, so the
/// forged copy is never the version shown — on a host that read the log, one that never did,
/// and an open reader — in either order of the two copies.
#[test]
fn an_older_record_is_not_swapped_by_editing_the_next_records_prev_and_appending_copies() {
    for copy_first in [true, false] {
        let (w, mut live, lines) = six_notes_read();
        let forged = forged_version(&lines[2], "FORGED three: all clear");
        let edited = rechained(&lines[3], &forged);
        assert_eq!(edited.len(), lines[3].len(), "same length: an edit in place");
        let mut now: Vec<&str> = lines.iter().map(String::as_str).collect();
        now[3] = &edited;
        match copy_first {
            true => now.extend([forged.as_str(), &lines[3]]),
            false => now.extend([&lines[3], forged.as_str()]),
        }
        rewrite(&w, 1, &now);
        live.refresh(NOW);
        let reader = Incident::open(&w.store, &w.id, NOW);
        let stranger = Incident::open(&w.stores[0], &w.id, NOW);
        let readers = [
            ("open", &live),
            ("reader", &reader),
            ("a host that never read it", &stranger),
        ];
        assert_eq!(
            forged_shown(&w, &readers, 3, false),
            Vec::<String>::new(),
            "copy first {copy_first}"
        );
        for (how, inc) in readers {
            assert!(
                inc.state.marks().keys().any(|(_, seq)| *seq == 4),
                "copy first {copy_first}, {how}: the edit of seq 4 is marked"
            );
        }
    }
}

/// The same swap one record further: seq 3 and seq 4 rewritten in place (seq 4 chaining onto the
/// forged seq 3), with byte-exact copies of the genuine seq 3 and 4 appended so seq 5 still
/// chains. The genuine seq 4 is the one seq 5 names, and it names the genuine seq 3: both are
/// shown, and the forged seq 3 is marked, on every host.
#[test]
fn two_records_rewritten_in_place_are_not_shown_when_the_chain_from_the_head_names_others() {
    let (w, mut live, lines) = six_notes_read();
    let forged = forged_version(&lines[2], "FORGED three: all clear");
    let fourth = rechained(&lines[3], &forged);
    let mut now: Vec<&str> = lines.iter().map(String::as_str).collect();
    now[2] = &forged;
    now[3] = &fourth;
    now.extend([lines[2].as_str(), &lines[3]]);
    rewrite(&w, 1, &now);
    live.refresh(NOW);
    let reader = Incident::open(&w.store, &w.id, NOW);
    let stranger = Incident::open(&w.stores[0], &w.id, NOW);
    let readers = [
        ("open", &live),
        ("reader", &reader),
        ("a host that never read it", &stranger),
    ];
    assert_eq!(forged_shown(&w, &readers, 3, false), Vec::<String>::new());
    for (how, inc) in readers {
        assert!(
            inc.state.marks().keys().any(|(_, seq)| *seq == 3),
            "{how}: the rewrite of seq 3 is marked"
        );
    }
}

/// The newest record edited in place to name a forged copy of the record before it, and that copy
/// appended: on a host that read the newest record (or wrote it), the edited record vouches for
/// nothing — the copy is not shown there.
#[test]
fn a_newest_record_this_host_read_otherwise_does_not_vouch_for_a_copy() {
    let mut w = World::new();
    w.note(1, 4);
    Incident::open(&w.store, &w.id, NOW).save_seen();
    let lines = log_lines(&w, 1);
    let forged = forged_version(&lines[2], "FORGED three: all clear");
    let fourth = rechained(&lines[3], &forged);
    let mut now: Vec<&str> = lines.iter().map(String::as_str).collect();
    now[3] = &fourth;
    now.push(&forged);
    rewrite(&w, 1, &now);
    let reader = Incident::open(&w.store, &w.id, NOW);
    let writer = Incident::open(&w.stores[1], &w.id, NOW);
    let readers = [("reader", &reader), ("writer", &writer)];
    assert_eq!(forged_shown(&w, &readers, 3, false), Vec::<String>::new());
}

/// Break round (stop 22), F1b: a forged copy of seq 5 and a forged seq 6 chained onto it,
/// inserted before the genuine seq 6. The host remembers the genuine seq 6 (its head) by hash,
/// and that line is still there: the forged seq 6 does not restore the copy on that host (nor in
/// its open reader), so neither forged record is shown there.
#[test]
fn an_inserted_copy_and_next_record_do_not_replace_the_head_this_host_remembers() {
    let (w, mut live, lines) = six_notes_read();
    assert_eq!(lines.len(), 6);
    let forged = forged_version(&lines[4], "FORGED five");
    let sixth = event::parse(&lines[5]).expect("seq 6");
    let next = forged_line(&sixth, 6, "FORGED six", event::line_hash(forged.as_bytes()).into());
    let mut now: Vec<&str> = lines[..5].iter().map(String::as_str).collect();
    now.extend([forged.as_str(), next.as_str(), &lines[5]]);
    rewrite(&w, 1, &now);
    live.refresh(NOW);
    let reader = Incident::open(&w.store, &w.id, NOW);
    let readers = [("open", &live), ("reader", &reader)];
    for seq in [5, 6] {
        assert_eq!(
            forged_shown(&w, &readers, seq, false),
            Vec::<String>::new(),
            "seq {seq}"
        );
    }
}

/// Break round (stop 22), F4: seq 4 and seq 5 edited in place (their `prev` only: seq 4 names a
/// forged seq 3, seq 5 names the edited seq 4), the forged seq 3 appended. Seq 6 finds seq 5
/// edited, so seq 4 is vouched for only through an edited record: its vouch for the forged seq 3
/// is held, on every host. Then the writer writes again (re-appending seqs 4 and 5): the genuine
/// seq 5 names seq 4 and that names the seq 3 in place, which stays.
#[test]
fn a_vouch_named_only_through_an_edited_record_is_held() {
    let (mut w, mut live, lines) = six_notes_read();
    let forged = forged_version(&lines[2], "FORGED three: all clear");
    let fourth = rechained(&lines[3], &forged);
    let fifth = rechained(&lines[4], &fourth);
    assert_eq!(
        (fourth.len(), fifth.len()),
        (lines[3].len(), lines[4].len()),
        "edits in place"
    );
    let mut now: Vec<&str> = lines.iter().map(String::as_str).collect();
    now[3] = &fourth;
    now[4] = &fifth;
    now.push(&forged);
    rewrite(&w, 1, &now);
    live.refresh(NOW);
    let reader = Incident::open(&w.store, &w.id, NOW);
    let stranger = Incident::open(&w.stores[0], &w.id, NOW);
    let readers = [
        ("open", &live),
        ("reader", &reader),
        ("a host that never read it", &stranger),
    ];
    assert_eq!(forged_shown(&w, &readers, 3, false), Vec::<String>::new());
    w.note(1, 1);
    live.refresh(NOW);
    let reader = Incident::open(&w.store, &w.id, NOW);
    let readers = [("open", &live), ("reader", &reader)];
    assert_eq!(
        forged_shown(&w, &readers, 3, false),
        Vec::<String>::new(),
        "after the writer writes again"
    );
}

/// Break round 2 (stop 22), B1: seqs 2, 3 and 4 rewritten in place (a forged seq 2, and the
/// genuine 3 and 4 chained anew onto it), then byte-exact copies of the genuine 4 and 3
/// appended. The chain from the head names the genuine 4, 3 and 2: the forged seq 2 in place is
/// marked on every host, and once the writer writes again (re-appending its seq 2) the genuine
/// one is shown.
#[test]
fn a_forged_record_below_a_rechained_stretch_is_marked_and_restored() {
    let (mut w, _, lines) = six_notes_read();
    let forged = forged_version(&lines[1], "FORGED two: all clear");
    let third = rechained(&lines[2], &forged);
    let fourth = rechained(&lines[3], &third);
    let mut now: Vec<&str> = lines.iter().map(String::as_str).collect();
    now[1] = &forged;
    now[2] = &third;
    now[3] = &fourth;
    now.extend([lines[3].as_str(), &lines[2]]);
    rewrite(&w, 1, &now);
    let hosts = |w: &World| [&w.store, &w.stores[0], &w.stores[1]].map(|s| Incident::open(s, &w.id, NOW));
    let [reader, stranger, writer] = hosts(&w);
    let readers = [("reader", &reader), ("stranger", &stranger), ("writer", &writer)];
    assert_eq!(
        forged_shown(&w, &readers, 2, true),
        Vec::<String>::new(),
        "shown unmarked"
    );
    w.note(1, 1);
    let [reader, stranger, writer] = hosts(&w);
    let readers = [("reader", &reader), ("stranger", &stranger), ("writer", &writer)];
    assert_eq!(
        forged_shown(&w, &readers, 2, false),
        Vec::<String>::new(),
        "after the writer writes again"
    );
}

/// `lines` (a log's genuine lines) with a forged run inserted right after seq `after`: a forged
/// copy of seq `after` (naming the same record before it) and `more` records chained onto it.
fn with_forged_run(lines: &[String], after: usize, more: usize) -> Vec<String> {
    inserted(lines, after, &forged_run(lines, after, more))
}

/// A forged copy of seq `first` of `lines` (naming the same record before it) and `more` forged
/// records chained onto it.
fn forged_run(lines: &[String], first: usize, more: usize) -> Vec<String> {
    let mut forged = vec![forged_version(&lines[first - 1], &format!("FORGED {first}"))];
    let head = event::parse(&lines[lines.len() - 1]).expect("parses");
    for seq in first + 1..=first + more {
        let like = lines
            .get(seq - 1)
            .map_or(head.clone(), |l| event::parse(l).expect("parses"));
        let prev = event::line_hash(forged[forged.len() - 1].as_bytes()).into();
        forged.push(forged_line(&like, seq as u64, &format!("FORGED {seq}"), prev));
    }
    forged
}

/// `lines` with `more` put in after the first `at` of them.
fn inserted(lines: &[String], at: usize, more: &[String]) -> Vec<String> {
    lines[..at].iter().chain(more).chain(&lines[at..]).cloned().collect()
}

/// Writer 1's log rewritten as `lines`; then the open reader reads it again, and the reader's
/// host, a host that never read the log and the writer's host read it afresh.
fn after_rewrite(w: &World, live: &mut Incident, lines: &[String]) -> [(&'static str, Incident); 3] {
    after_rewrite_of(w, live, 1, lines)
}

/// [`after_rewrite`] of writer `writer`'s log.
fn after_rewrite_of(w: &World, live: &mut Incident, writer: usize, lines: &[String]) -> [(&'static str, Incident); 3] {
    rewrite(w, writer, &lines.iter().map(String::as_str).collect::<Vec<_>>());
    live.refresh(NOW);
    [
        ("reader", &w.store),
        ("a host that never read it", &w.stores[1 - writer]),
        ("writer", &w.stores[writer]),
    ]
    .map(|(how, s)| (how, Incident::open(s, &w.id, NOW)))
}

/// Writer 1's log rewritten as `lines`: no reader (open, the reader's host, a host that never
/// read it, the writer's) shows a forged version of `seqs`, and each quotes the forged one.
fn forged_not_used(w: &World, live: &mut Incident, lines: &[String], seqs: std::ops::RangeInclusive<u64>, case: &str) {
    let hosts = after_rewrite(w, live, lines);
    let mut readers = vec![("open", &*live)];
    readers.extend(hosts.iter().map(|(how, inc)| (*how, inc)));
    for seq in seqs {
        assert_eq!(
            forged_shown(w, &readers, seq, false),
            Vec::<String>::new(),
            "{case}: seq {seq}"
        );
        for (how, inc) in &readers {
            assert!(forged_quoted(inc, seq), "{case}, {how}: the forged seq {seq} is quoted");
        }
    }
}

/// Whether every mark of `seq` in `inc` together quotes a forged version ("FORGED").
fn forged_quoted(inc: &Incident, seq: u64) -> bool {
    inc.state
        .marks()
        .iter()
        .any(|((_, s), why)| *s == seq && why.contains("FORGED"))
}

/// Known limit F1 (stop 22): a forged copy of seq N and records chained onto it, *inserted*
/// right after the genuine seq N (after seq 1, mid-file, a run of two or three), with the
/// genuine records going on past the forged run. The chain from the log's head names the
/// genuine records: they are used on every host — an open reader that read the log before, the
/// host that read it, one that never did, the writer's — and the forged ones are marked, quoted.
#[test]
fn a_forged_run_inserted_after_a_genuine_record_is_not_used_when_the_chain_goes_on_past_it() {
    for (after, more) in [(1, 1), (1, 2), (2, 1), (3, 1), (3, 2), (4, 1)] {
        let (w, mut live, lines) = six_notes_read();
        let hosts = after_rewrite(&w, &mut live, &with_forged_run(&lines, after, more));
        let mut readers = vec![("open", &live)];
        readers.extend(hosts.iter().map(|(how, inc)| (*how, inc)));
        for seq in after as u64..=(after + more) as u64 {
            let case = format!("inserted after seq {after}, {more} more: seq {seq}");
            assert_eq!(forged_shown(&w, &readers, seq, false), Vec::<String>::new(), "{case}");
            for (how, inc) in &readers {
                assert!(forged_quoted(inc, seq), "{case}, {how}: the forged version is quoted");
            }
        }
    }
}

/// F1 where the forged branch reaches the log's newest seq (a pair right before the head, a run
/// past it): a host that read the head keeps it; a host that never read the log cannot tell which
/// branch is the writer's (only a signature can) and shows the forged one only marked. Once the
/// writer writes on (chaining onto its own head), the chain from the head names the genuine
/// records, and every host uses them.
#[test]
fn a_forged_run_reaching_the_head_is_marked_and_dropped_once_the_writer_writes_on() {
    for (after, more, notes) in [(5, 1, 1), (3, 4, 2)] {
        let (mut w, mut live, lines) = six_notes_read();
        let hosts = after_rewrite(&w, &mut live, &with_forged_run(&lines, after, more));
        let mut readers = vec![("open", &live)];
        readers.extend(hosts.iter().map(|(how, inc)| (*how, inc)));
        for seq in after as u64..=6 {
            let case = format!("inserted after seq {after}, {more} more: seq {seq}");
            assert_eq!(forged_shown(&w, &readers, seq, true), Vec::<String>::new(), "{case}");
        }
        w.note(1, notes);
        live.refresh(NOW);
        let [reader, writer] = [&w.store, &w.stores[1]].map(|s| Incident::open(s, &w.id, NOW));
        // The host that read it above holds to the seq 6 it read, as a host does.
        let stranger = Incident::open_with(&w.stores[0], &w.id, NOW, Default::default());
        let readers = [
            ("open", &live),
            ("reader", &reader),
            ("a host that never read it", &stranger),
            ("writer", &writer),
        ];
        for seq in after as u64..=(after + more) as u64 {
            let case = format!("inserted after seq {after}, {more} more, the writer wrote on: seq {seq}");
            assert_eq!(forged_shown(&w, &readers, seq, false), Vec::<String>::new(), "{case}");
        }
    }
}

/// Break round (stop 23), layout 1: a forged run inserted *before* the genuine record it copies
/// (`L1 L2 F3 F4 F5 L3 … L8`, and at the log's start, and after seq 1). The chain from the head
/// runs through the genuine records: every host uses them.
#[test]
fn a_forged_run_inserted_before_the_genuine_record_is_not_used() {
    for (first, more) in [(3, 2), (1, 1), (2, 2)] {
        let (w, mut live, lines) = notes_read(1, 8);
        let now = inserted(&lines, first - 1, &forged_run(&lines, first, more));
        let case = format!("a run of {} inserted before seq {first}", more + 1);
        forged_not_used(&w, &mut live, &now, first as u64..=(first + more) as u64, &case);
    }
}

/// Layout 1 with a forged copy of the head appended (the head's seq is in dispute: the walk
/// starts from the newest seq read in one version), or a record far past the head: the
/// inserted run is still not used.
#[test]
fn a_copy_of_the_head_appended_does_not_keep_an_inserted_run_in_use() {
    let (w, mut live, lines) = notes_read(1, 8);
    let mut now = inserted(&lines, 2, &forged_run(&lines, 3, 2));
    now.push(forged_version(&lines[7], "FORGED G8"));
    forged_not_used(&w, &mut live, &now, 3..=5, "a copy of seq 8 appended");
    // Nor a record far past the head, after a gap.
    let mut now = inserted(&lines, 2, &forged_run(&lines, 3, 2));
    let head = event::parse(&lines[7]).expect("parses");
    now.push(forged_line(
        &head,
        100,
        "FORGED 100",
        event::line_hash(b"nothing").into(),
    ));
    forged_not_used(&w, &mut live, &now, 3..=5, "a record with seq 100 appended");
}

/// Layout 1 with a junk record appended as the next seq, its `prev` naming nothing or the record
/// two before it: the chain from it stops at once. A host that read the log or wrote it walks
/// from the head it holds to instead, and does not use the inserted run. (A host that never
/// read it cannot tell a junk head from an edit below the head: the stated limit.)
#[test]
fn a_junk_head_appended_does_not_bring_an_inserted_run_back_where_the_head_is_known() {
    let (w, mut live, lines) = notes_read(1, 8);
    let head = event::parse(&lines[7]).expect("parses");
    for (case, prev) in [
        ("a seq 9 naming nothing appended", event::line_hash(b"nothing")),
        ("a seq 9 naming seq 7 appended", event::line_hash(lines[6].as_bytes())),
    ] {
        let mut now = inserted(&lines, 2, &forged_run(&lines, 3, 2));
        now.push(forged_line(&head, 9, "FORGED 9", prev.into()));
        forged_not_used_where_read(&w, &mut live, &now, 3..=5, case);
    }
}

/// Layout 1 with a junk seq 9 (naming nothing) and records chained onto it appended: a host
/// that read the log remembers the head it read before the junk line, not the end of the run
/// chained onto it, so it still does not use the inserted run on its next read (it flipped to
/// the forged records on its second read: break round 4, stop 23).
#[test]
fn records_chained_onto_a_junk_head_do_not_move_the_head_a_host_remembers() {
    let (w, _live, lines) = notes_read(1, 8);
    let head = event::parse(&lines[7]).expect("parses");
    let mut now = inserted(&lines, 2, &forged_run(&lines, 3, 2));
    now.push(forged_line(&head, 9, "FORGED 9", event::line_hash(b"nothing").into()));
    for seq in 10..=12 {
        let prev = event::line_hash(now[now.len() - 1].as_bytes()).into();
        now.push(forged_line(&head, seq, &format!("FORGED {seq}"), prev));
    }
    rewrite(&w, 1, &now.iter().map(String::as_str).collect::<Vec<_>>());
    for read in ["first", "second", "third"] {
        let mut reader = Incident::open(&w.store, &w.id, NOW);
        reader.save_seen();
        for seq in 3..=5 {
            assert_eq!(
                forged_shown(&w, &[("reader", &reader)], seq, false),
                Vec::<String>::new(),
                "{read} read: seq {seq}"
            );
        }
    }
}

/// Writer 1's log rewritten as `lines`: no reader that read or wrote the log (open, the
/// reader's host, the writer's) shows a forged version of `seqs`.
fn forged_not_used_where_read(
    w: &World,
    live: &mut Incident,
    lines: &[String],
    seqs: std::ops::RangeInclusive<u64>,
    case: &str,
) {
    let hosts = after_rewrite(w, live, lines);
    let mut readers = vec![("open", &*live)];
    readers.extend(
        hosts
            .iter()
            .filter(|(how, _)| *how != "a host that never read it")
            .map(|(how, inc)| (*how, inc)),
    );
    for seq in seqs {
        assert_eq!(
            forged_shown(w, &readers, seq, false),
            Vec::<String>::new(),
            "{case}: seq {seq}"
        );
    }
}

/// Forged versions of the newest seqs inserted before the genuine ones (`L1 … L6 F7 F8 L7
/// L8`): a host that read the genuine head, or wrote it, keeps it (a host that never read the
/// log cannot tell the branches apart: the stated limit).
#[test]
fn forged_versions_of_the_newest_seqs_do_not_displace_the_head_a_host_read_or_wrote() {
    let (w, mut live, lines) = notes_read(1, 8);
    let now = inserted(&lines, 6, &forged_run(&lines, 7, 1));
    forged_not_used_where_read(&w, &mut live, &now, 7..=8, "forged seqs 7 and 8 inserted");
}

/// Layout 2: the inserted forged record hands command to eve (in the commander's log): the
/// handoff is not taken on any host.
#[test]
fn a_forged_handoff_inserted_before_the_genuine_record_takes_no_effect() {
    let (w, mut live, lines) = notes_read(0, 6);
    let mut run = forged_run(&lines, 3, 1);
    let mut handoff = event::parse_line(&run[0]).expect("parses");
    handoff.event.body = event::Body::RoleAssigned(Box::new(event::RoleAssigned {
        role: "commander".into(),
        who: "eve".into(),
    }));
    run[0] = event::encode(&handoff.event, &handoff.prev).expect("encodes");
    run[1] = rechained(&run[1], &run[0]);
    let hosts = after_rewrite_of(&w, &mut live, 0, &inserted(&lines, 2, &run));
    assert_eq!(live.state.commander(), Some("alice"), "open");
    for (how, inc) in &hosts {
        assert_eq!(inc.state.commander(), Some("alice"), "{how}");
    }
}

/// Layout 3: F1 (`L1 L2 L3 F3 F4 L4 … L8`) with one more forged copy of seq 4 right after the
/// genuine one: the genuine records stay in use.
#[test]
fn an_extra_forged_copy_after_an_inserted_run_does_not_bring_it_back() {
    let (w, mut live, lines) = notes_read(1, 8);
    let mut now = with_forged_run(&lines, 3, 1);
    now.insert(6, forged_version(&lines[3], "FORGED G4"));
    forged_not_used(&w, &mut live, &now, 3..=4, "an extra copy G4");
}

/// Layout 4: ten thousand harmless copies (one after each record) before F1: the forged run
/// inserted after seq T is not used.
#[test]
fn an_inserted_forged_run_is_not_used_after_ten_thousand_copies() {
    let (fill, t) = (10_000, 10_005);
    let (w, mut live, lines) = notes_read(1, t + 5);
    let mut now = Vec::new();
    for (k, line) in lines.iter().enumerate().map(|(i, l)| (i + 1, l)) {
        now.push(line.clone());
        if k <= fill {
            now.push(forged_version(line, &format!("junk {k}")));
        }
        if k == t {
            now.extend(forged_run(&lines, t, 1));
        }
    }
    forged_not_used(&w, &mut live, &now, t as u64..=t as u64 + 1, "after 10,000 copies");
}
