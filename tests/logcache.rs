//! The local log cache (issue 12) never changes what is read: a reader that takes a log's start
//! from the cache and reads only the bytes after it hands on exactly what a reader of the whole
//! log does — records, problems, marks, second versions, signed stretches and the heads it
//! remembers — after appends, torn tails, edits, rollbacks and replaced files, run after run.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use warroom::domain::event::{self, Body, Event, Note};
use warroom::store::logcache::LogCache;
use warroom::store::reader::{Batch, IncidentReader, SeenHead};

const INCIDENT: &str = "2026-11-30-cache-test";
const WRITERS: [&str; 2] = ["alice@h1", "bob@h2"];

fn log_path(dir: &Path, w: usize) -> PathBuf {
    dir.join("events").join(format!("{}.abc123.ronl", WRITERS[w]))
}

/// Append `n` records to writer `w`'s log, each chained on the file's last line as it is now
/// (after an edit or a cut, the chain continues from what is there, as a writer would).
fn append(dir: &Path, w: usize, n: usize, stamp: &mut i64) {
    let path = log_path(dir, w);
    let text = fs::read_to_string(&path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let mut prev = match lines.last() {
        Some(l) => event::line_hash(l.as_bytes()),
        None => event::genesis_hash(INCIDENT, WRITERS[w]),
    };
    let last = lines
        .iter()
        .filter_map(|l| event::parse(l).ok())
        .map(|e| e.seq)
        .max()
        .unwrap_or(0);
    let mut f = fs::OpenOptions::new().create(true).append(true).open(&path).unwrap();
    // A torn tail (no newline) is ended first, as the next write's newline would.
    if !text.is_empty() && !text.ends_with('\n') {
        f.write_all(b"\n").unwrap();
    }
    for seq in last + 1..=last + n as u64 {
        *stamp += 7;
        let e = Event {
            id: format!("01JCACHE{:018}", *stamp).into(),
            at: 1_700_000_000_000 + *stamp,
            wall: 1_700_000_000_000 + *stamp,
            occurred: (*stamp % 3 == 0).then_some(1_699_000_000_000 + *stamp).into(),
            log: WRITERS[w].into(),
            seq,
            body: Body::Note(Note {
                text: format!("note {stamp} \"quoted\" ✓").into(),
                tags: match *stamp % 6 {
                    0 | 2 => vec!["triage".into()].into(),
                    3 => vec!["alert".into(), format!("fingerprint:{}", *stamp % 4)].into(),
                    _ => Default::default(),
                },
            }),
        };
        let line = event::encode(&e, &prev.as_str().into()).expect("encodes");
        writeln!(f, "{line}").unwrap();
        prev = event::line_hash(line.as_bytes());
    }
}

#[derive(Debug, Clone)]
enum Op {
    Append(usize, usize),
    /// Bytes of a record with no newline (a write still landing, or torn).
    Tear(usize, usize),
    /// Flip one byte at this fraction of the log.
    Edit(usize, u16),
    /// Cut the log at this fraction of its length (anywhere, not only at a line end).
    Cut(usize, u16),
    /// The file replaced by a copy (a new inode, the same bytes).
    Replace(usize),
    /// The cache entry itself edited.
    SpoilCache(u16),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..2usize, 1..40usize).prop_map(|(w, n)| Op::Append(w, n)),
        1 => (0..2usize, 1..60usize).prop_map(|(w, n)| Op::Tear(w, n)),
        1 => (0..2usize, any::<u16>()).prop_map(|(w, f)| Op::Edit(w, f)),
        1 => (0..2usize, any::<u16>()).prop_map(|(w, f)| Op::Cut(w, f)),
        1 => (0..2usize).prop_map(Op::Replace),
        1 => any::<u16>().prop_map(Op::SpoilCache),
    ]
}

fn at_fraction(len: u64, f: u16) -> u64 {
    len * f as u64 / (u16::MAX as u64 + 1)
}

fn apply(dir: &Path, state: &Path, op: &Op, stamp: &mut i64) {
    match *op {
        Op::Append(w, n) => append(dir, w, n, stamp),
        Op::Tear(w, n) => {
            let mut f = fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log_path(dir, w))
                .unwrap();
            let torn = b"(v:1,id:\"01JTORN\",at:17000000";
            f.write_all(&torn[..n.min(torn.len())]).unwrap();
        }
        Op::Edit(w, frac) => {
            let path = log_path(dir, w);
            if let Ok(mut bytes) = fs::read(&path) {
                if !bytes.is_empty() {
                    let i = at_fraction(bytes.len() as u64, frac) as usize;
                    // Keep newlines where they are: an edit inside a record.
                    if bytes[i] != b'\n' {
                        bytes[i] = if bytes[i] == b'7' { b'8' } else { b'7' };
                        fs::write(&path, bytes).unwrap();
                    }
                }
            }
        }
        Op::Cut(w, frac) => {
            let path = log_path(dir, w);
            if let Ok(f) = fs::OpenOptions::new().write(true).open(&path) {
                let len = f.metadata().unwrap().len();
                f.set_len(at_fraction(len, frac)).unwrap();
            }
        }
        Op::Replace(w) => {
            let path = log_path(dir, w);
            if let Ok(bytes) = fs::read(&path) {
                let tmp = path.with_extension("tmp");
                fs::write(&tmp, bytes).unwrap();
                fs::rename(&tmp, &path).unwrap();
            }
        }
        Op::SpoilCache(frac) => {
            for entry in walk(&state.join("logcache")) {
                let mut bytes = fs::read(&entry).unwrap();
                if !bytes.is_empty() {
                    let i = at_fraction(bytes.len() as u64, frac) as usize;
                    bytes[i] ^= 0x20;
                    fs::write(&entry, bytes).unwrap();
                }
            }
        }
    }
}

/// A temp folder holding an empty incident folder (`INCIDENT/events`) and a state folder; the
/// folder is removed when the first value is dropped.
fn fresh_incident() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(INCIDENT);
    let state = tmp.path().join("state");
    fs::create_dir_all(dir.join("events")).unwrap();
    (tmp, dir, state)
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.extension().is_some_and(|x| x == "bin") {
            out.push(p);
        }
    }
    out
}

/// What a reader hands on, in a comparable form.
fn seen(b: &Batch, r: &IncidentReader) -> String {
    format!(
        "events {:#?}\nproblems {:#?}\nmarks {:#?}\npreferred {:#?}\nsigned {:#?}\nheads {:#?}",
        b.events,
        b.problems,
        b.marks,
        b.preferred,
        b.signed,
        r.heads()
    )
}

/// One run on this host: a fresh reader (with or without the cache), remembering `heads`.
fn run(
    dir: &Path,
    state: &Path,
    heads: &std::collections::BTreeMap<String, SeenHead>,
    cached: bool,
) -> (String, IncidentReader) {
    run_holding(dir, state, heads, cached, true)
}

/// [`run`], leaving notes' texts in the log unless `texts`; such texts are read back from the
/// log (`store::note_text`) before the records are compared.
fn run_holding(
    dir: &Path,
    state: &Path,
    heads: &std::collections::BTreeMap<String, SeenHead>,
    cached: bool,
    texts: bool,
) -> (String, IncidentReader) {
    let mut r = IncidentReader::new(dir.to_path_buf());
    r.remember(heads.clone());
    if !texts {
        r.leave_texts_in_log();
    }
    if cached {
        r.set_log_cache(LogCache::open(state, dir).map(|c| c.with_min_new(0)));
    }
    // Long after every write: a bad last line is reported, not left to settle.
    let now = 4_000_000_000_000;
    let mut streamed = Vec::new();
    let mut b = r.poll_streaming(now, Some(&mut |part: Vec<Event>| streamed.extend(part)));
    streamed.append(&mut b.events);
    for e in &mut streamed {
        if let Body::Note(n) = &mut e.body {
            if let Some(at) = n.text.in_log() {
                assert!(!texts, "a text left in the log by a reader holding texts");
                let text = warroom::store::note_text::read_back(dir, &e.log, at);
                n.text = text.unwrap_or_else(|err| format!("not read back: {err}").into()).into();
            }
        }
    }
    // A reader hands records on in no promised order (a cached run hands them merged by key,
    // a plain one log by log); the fold orders them by key, so compare them in that order.
    streamed.sort_by(|a, b| a.cmp_keys(b));
    b.events = streamed;
    (seen(&b, &r), r)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn a_reader_from_the_cache_hands_on_what_a_reader_of_the_whole_log_does(ops in proptest::collection::vec(op(), 1..12)) {
        let (_tmp, dir, state) = fresh_incident();
        let mut stamp = 0;
        append(&dir, 0, 5, &mut stamp);
        let mut heads = std::collections::BTreeMap::new();
        for op in &ops {
            apply(&dir, &state, op, &mut stamp);
            let (plain, _) = run(&dir, &state, &heads, false);
            let (from_cache, r) = run(&dir, &state, &heads, true);
            prop_assert_eq!(&from_cache, &plain, "after {:?}", op);
            // And again, now that the entries of this run are written.
            let (again, _) = run(&dir, &state, &heads, true);
            prop_assert_eq!(&again, &plain, "second run after {:?}", op);
            // Texts left in the log (read from it, and from the entries) read back as held.
            let (lean, _) = run_holding(&dir, &state, &heads, false, false);
            prop_assert_eq!(&lean, &plain, "texts left in the log after {:?}", op);
            let (lean, _) = run_holding(&dir, &state, &heads, true, false);
            prop_assert_eq!(&lean, &plain, "texts left in the log, from the cache, after {:?}", op);
            heads = r.heads();
        }
    }
}

/// A fresh reader's records, and the reader.
fn read(dir: &Path, state: &Path, cached: bool) -> (Vec<Event>, IncidentReader) {
    let mut r = IncidentReader::new(dir.to_path_buf());
    if cached {
        r.set_log_cache(LogCache::open(state, dir).map(|c| c.with_min_new(0)));
    }
    let b = r.poll(4_000_000_000_000);
    (b.events, r)
}

/// The reader shares tag lists among a log's records (read from the log or from the cache) and
/// that never changes what is read: every record equals its line parsed alone.
#[test]
fn records_share_their_tags_and_read_as_each_line_alone() {
    let (_tmp, dir, state) = fresh_incident();
    let mut stamp = 0;
    append(&dir, 0, 600, &mut stamp);
    let text = fs::read_to_string(log_path(&dir, 0)).unwrap();
    let alone: Vec<Event> = text
        .lines()
        .map(|l| {
            let mut e = event::parse(l).expect("parses");
            e.log = warroom::domain::event::Name::with_writer(&format!("{}.abc123", WRITERS[0]), WRITERS[0].into());
            e
        })
        .collect();
    for (cached, from_cache) in [(false, 0), (true, 0), (true, 600)] {
        let (events, r) = read(&dir, &state, cached);
        assert_eq!(r.cached_records(), from_cache);
        assert_eq!(events, alone, "cached {cached}, from the cache {from_cache}");
        let tags = |words: &[&str]| -> Vec<_> {
            events
                .iter()
                .filter_map(|e| match &e.body {
                    Body::Note(n) if n.tags[..] == *words => Some(n.tags.clone()),
                    _ => None,
                })
                .collect()
        };
        let triage = tags(&["triage"]);
        assert!(triage.len() > 100);
        assert!(triage.iter().all(|t| t.shares(&triage[0])), "one list for `triage`");
        let alerts: Vec<_> = (0..4)
            .flat_map(|fp| tags(&["alert", &format!("fingerprint:{fp}")]))
            .collect();
        assert!(alerts.len() > 50);
        assert!(
            alerts
                .iter()
                .all(|t| std::ptr::eq(t[0].as_str(), alerts[0][0].as_str())),
            "one `alert` word for every list"
        );
    }
}

/// The cache is used at all: a second run takes a long log from it and reads only what was
/// appended since; a log whose start was edited misses (and its edit is found as before).
#[test]
fn a_second_run_takes_the_log_from_the_cache_and_an_edit_misses() {
    let (_tmp, dir, state) = fresh_incident();
    let mut stamp = 0;
    append(&dir, 0, 300, &mut stamp);
    let none = std::collections::BTreeMap::new();
    let (plain, _) = run(&dir, &state, &none, false);
    let (first, r) = run(&dir, &state, &none, true);
    assert_eq!(first, plain);
    assert_eq!(r.cached_records(), 0, "nothing cached yet");
    let entries = walk(&state.join("logcache"));
    assert_eq!(entries.len(), 1, "one entry for the one log");
    // Every teammate's records are in it: readable by this user alone, whatever the umask.
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&entries[0]), 0o600);
    assert_eq!(mode(entries[0].parent().unwrap()), 0o700);
    assert_eq!(mode(&state.join("logcache")), 0o700);
    append(&dir, 0, 3, &mut stamp);
    let (plain, _) = run(&dir, &state, &none, false);
    let (cached, r) = run(&dir, &state, &none, true);
    assert_eq!(cached, plain);
    assert_eq!(r.cached_records(), 300, "the first 300 from the cache, 3 read");
    let (_, r) = run(&dir, &state, &none, true);
    assert_eq!(r.cached_records(), 303, "the entry was extended");
    // An edit in the first record: the entry misses, the edit is found as before.
    apply(&dir, &state, &Op::Edit(0, 200), &mut stamp);
    let (plain, _) = run(&dir, &state, &none, false);
    let (cached, r) = run(&dir, &state, &none, true);
    assert_eq!(cached, plain);
    assert_eq!(r.cached_records(), 0);
    assert!(plain.contains("edited") || plain.contains("skipped"), "{plain}");
    // An entry edited on this host is not used either.
    append(&dir, 1, 50, &mut stamp);
    run(&dir, &state, &none, true);
    apply(&dir, &state, &Op::SpoilCache(30_000), &mut stamp);
    let (plain, _) = run(&dir, &state, &none, false);
    let (cached, r) = run(&dir, &state, &none, true);
    assert_eq!(cached, plain);
    assert_eq!(r.cached_records(), 0);
}

/// The entries of an incident removed from the shared folder are removed too; a whole shared
/// folder gone (a vanished mount) removes nothing.
#[test]
fn entries_of_a_removed_incident_are_pruned_not_those_of_a_vanished_mount() {
    let tmp = tempfile::tempdir().unwrap();
    // Two shared folders (the records' chains are bound to the incident's name).
    let root = tmp.path().join("shared-b");
    let state = tmp.path().join("state");
    let (a, b) = (tmp.path().join("shared-a").join(INCIDENT), root.join(INCIDENT));
    let none = std::collections::BTreeMap::new();
    let mut stamp = 0;
    for dir in [&a, &b] {
        fs::create_dir_all(dir.join("events")).unwrap();
        append(dir, 0, 20, &mut stamp);
        run(dir, &state, &none, true);
    }
    let all = state.join("logcache");
    assert_eq!(walk(&all).len(), 2);
    fs::remove_dir_all(&a).unwrap();
    warroom::store::logcache::prune_removed(&all);
    let left = walk(&all);
    assert_eq!(left.len(), 1, "{left:?}");
    let (_, r) = run(&b, &state, &none, true);
    assert_eq!(r.cached_records(), 20, "the other incident's entry is kept and used");
    // The shared folder itself gone (an unmounted share): nothing is removed.
    fs::rename(&root, tmp.path().join("elsewhere")).unwrap();
    warroom::store::logcache::prune_removed(&all);
    assert_eq!(walk(&all).len(), 1);
}

/// A log with a problem past its first MiB: the entry keeps the clean stretch read before it
/// (up to the last whole chunk read clean), the rest is read — and its problem reported — on
/// every open, and the entry is not rewritten to go past the problem.
#[test]
fn a_problem_late_in_a_long_log_keeps_the_clean_stretch_before_it() {
    let (_tmp, dir, state) = fresh_incident();
    let mut stamp = 0;
    // About 2.5 MiB: three chunks of the reader's 1 MiB.
    append(&dir, 0, 9_000, &mut stamp);
    let path = log_path(&dir, 0);
    let mut f = fs::OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(b"not a record\n").unwrap();
    drop(f);
    append(&dir, 0, 10, &mut stamp);
    let none = std::collections::BTreeMap::new();
    let (plain, _) = run(&dir, &state, &none, false);
    assert!(plain.contains("skipped"), "the bad line is reported");
    let (first, r) = run(&dir, &state, &none, true);
    assert_eq!(first, plain);
    assert_eq!(r.cached_records(), 0);
    let (second, r) = run(&dir, &state, &none, true);
    assert_eq!(second, plain, "the problem is reported from the log again");
    let cached = r.cached_records();
    assert!(
        cached > 3_000 && cached < 9_000,
        "the clean chunks came from the cache: {cached}"
    );
    let size = |p: &Path| fs::metadata(p).unwrap().modified().unwrap();
    let entry = walk(&state.join("logcache"))[0].clone();
    let written = size(&entry);
    append(&dir, 0, 4_000, &mut stamp);
    let (plain, _) = run(&dir, &state, &none, false);
    let (third, r) = run(&dir, &state, &none, true);
    assert_eq!(third, plain);
    assert_eq!(r.cached_records(), cached, "the same stretch from the cache");
    assert_eq!(
        size(&entry),
        written,
        "an entry that ends at a problem is not rewritten"
    );
}
