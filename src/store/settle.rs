//! Settling a log's disputed stretch from its head: the chain vouches from its head down, so
//! where some seq of a log was read in more than one version, the version used for each seq on
//! the chain from the head is the one that chain runs through — whatever the incremental rules
//! of [`consume`](super::consume) chose while the lines came in one at a time. Run at the end of
//! each pass that read the log; idempotent (the same file settles the same way again).
//!
//! Only what places a line in the chain is kept per line of the stretch (seq, hashes, where it
//! lies), never the record: a version used is read back from the file and checked by its hash.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};

use super::{own_version, quoted, Batch, Ctx, Cursor};
use crate::domain::event::{self, Event, MAX_LINE};
use crate::domain::Problem;

/// Lines of a disputed stretch kept at most: past it, the stretch is said to be too long to
/// settle (never settled by a guess).
const MAX_STRETCH: usize = 200_000;

/// A line of the disputed stretch.
#[derive(Debug, Clone, Copy)]
struct Entry {
    seq: u64,
    hash: [u8; 32],
    prev: Option<[u8; 32]>,
    /// Where the line lies in the file (start, length) and its line number.
    at: (u64, u64),
    line: u64,
}

/// The lines of a log from one below its lowest disputed seq on (see `Cursor::stretch`).
#[derive(Debug, Default)]
pub(super) struct Stretch {
    /// The lowest seq read in more than one version.
    disputed: u64,
    /// Lines kept (seq `disputed - 1` and up), in file order.
    lines: Vec<Entry>,
    /// Bytes and lines of the log scanned into `lines`.
    scanned: (u64, u64),
    /// What the walk last handed on, by seq: the version's hash and how many other versions were
    /// marked (the same again needs nothing new).
    settled: HashMap<u64, ([u8; 32], usize)>,
    /// Over [`MAX_STRETCH`]: said once, nothing settled.
    too_long: bool,
}

/// A record with `seq` was read again (a copy, or a version out of the chain): from one below
/// it on, the log is settled from its head at the end of the pass.
pub(super) fn disputed(cursor: &mut Cursor, seq: u64) {
    let s = cursor.stretch.get_or_insert_with(|| Stretch {
        disputed: seq,
        ..Stretch::default()
    });
    if seq < s.disputed {
        // Lower than what is kept: scanned again from the start.
        *s = Stretch {
            disputed: seq,
            ..Stretch::default()
        };
    }
}

/// At the end of a pass: settle `cursor`'s disputed stretch, if it has one, from its head.
/// `preferred_from`: where this pass's versions handed on for this log begin in `batch`.
pub(super) fn settle(cursor: &mut Cursor, ctx: &Ctx, batch: &mut Batch, preferred_from: usize) {
    let Some(mut s) = cursor.stretch.take() else {
        return;
    };
    if !s.too_long {
        scan(&mut s, cursor, ctx);
        if s.lines.len() > MAX_STRETCH {
            s.too_long = true;
            s.lines = Vec::new();
            batch.problems.push(Problem::new(
                ctx.rel,
                None,
                format!(
                    "the stretch of this log read in more than one version (from seq {}) is over {MAX_STRETCH} lines: too long to settle from its head; the versions shown there are not vouched for (`warroom verify` checks it)",
                    s.disputed
                ),
            ));
        } else {
            apply(&mut s, cursor, ctx, batch, preferred_from);
        }
    }
    cursor.stretch = Some(s);
}

/// Read the log's lines not scanned yet (up to what was consumed) into the stretch.
fn scan(s: &mut Stretch, cursor: &Cursor, ctx: &Ctx) {
    let Ok(mut file) = super::fsutil::open_read(ctx.path) else {
        return;
    };
    if file.seek(SeekFrom::Start(s.scanned.0)).is_err() {
        return;
    }
    let mut reader = std::io::Read::take(BufReader::new(file), cursor.offset.saturating_sub(s.scanned.0));
    let mut buf = Vec::new();
    while s.lines.len() <= MAX_STRETCH {
        buf.clear();
        // A line over the limit is not held whole: it is no record (`consume` skips it too).
        match (&mut reader).take(MAX_LINE as u64 + 1).read_until(b'\n', &mut buf) {
            Ok(n) if n > 0 && buf.ends_with(b"\n") => {}
            Ok(n) if n > MAX_LINE => {
                let rest = reader.skip_until(b'\n').unwrap_or(0);
                s.scanned = (s.scanned.0 + (n + rest) as u64, s.scanned.1 + 1);
                continue;
            }
            _ => break,
        }
        let at = (s.scanned.0, buf.len() as u64 - 1);
        s.scanned = (s.scanned.0 + buf.len() as u64, s.scanned.1 + 1);
        let line = &buf[..buf.len() - 1];
        let Some(l) = std::str::from_utf8(line)
            .ok()
            .and_then(|t| event::parse_in(t, ctx.names).ok())
        else {
            continue;
        };
        if *l.event.by() != cursor.writer || l.event.seq.saturating_add(1) < s.disputed {
            continue;
        }
        s.lines.push(Entry {
            seq: l.event.seq,
            hash: *blake3::hash(line).as_bytes(),
            prev: l.prev.bytes().copied(),
            at,
            line: s.scanned.1,
        });
    }
}

/// The versions this host holds to among the stretch's seqs (seq → line hash): the ones its
/// writer wrote (on the writer's own host), else the head it remembers from an earlier run, else
/// the newest record it read in an earlier pass while the log looked whole.
fn known(s: &Stretch, cursor: &mut Cursor, ctx: &Ctx) -> HashMap<u64, String> {
    let mut known = HashMap::new();
    let heads = [
        ctx.remembered.map(|r| (r.seq, r.hash.clone())),
        cursor.pass_head.clone(),
    ];
    for (seq, hash) in heads.into_iter().flatten().rev() {
        known.insert(seq, hash);
    }
    // Loaded (or loaded again) once, then looked up for every seq of the stretch.
    let _ = own_version(cursor, ctx, 0);
    if let Some((_, own)) = &cursor.own_versions {
        for e in &s.lines {
            if let Some(h) = own.get(&e.seq) {
                known.insert(e.seq, h.clone());
            }
        }
    }
    known
}

fn hex(h: &[u8; 32]) -> String {
    blake3::Hash::from(*h).to_hex().to_string()
}

/// The line the chain goes on to below line `i` (the one its `prev` names, with the seq before
/// its own), within the stretch.
fn below(s: &Stretch, by_hash: &HashMap<[u8; 32], usize>, i: usize) -> Option<usize> {
    let e = s.lines[i];
    e.prev
        .and_then(|p| by_hash.get(&p).copied())
        .filter(|&j| e.seq.checked_sub(1) == Some(s.lines[j].seq) && e.seq >= s.disputed)
}

/// For each line, `step` folded over the chain from it down to where that chain ends, from the
/// bottom up (`base` below the last line). Each line is looked at once: a chain shares its lower
/// part with every chain above it.
fn down_each<T: Copy>(
    s: &Stretch,
    by_hash: &HashMap<[u8; 32], usize>,
    base: T,
    step: impl Fn(T, &Entry) -> T,
) -> Vec<Option<T>> {
    let mut memo: Vec<Option<T>> = vec![None; s.lines.len()];
    for start in 0..s.lines.len() {
        let mut path = Vec::new();
        let mut at = Some(start);
        let mut acc = base;
        while let Some(i) = at {
            if let Some(r) = memo[i] {
                acc = r;
                break;
            }
            path.push(i);
            at = below(s, by_hash, i);
        }
        for &i in path.iter().rev() {
            acc = step(acc, &s.lines[i]);
            memo[i] = Some(acc);
        }
    }
    memo
}

/// For each line, whether the chain from it down passes no version of a seq other than the one
/// this host holds to.
fn reaches(s: &Stretch, by_hash: &HashMap<[u8; 32], usize>, known: &HashMap<u64, String>) -> Vec<bool> {
    let ok = |acc: bool, e: &Entry| acc && known.get(&e.seq).is_none_or(|h| *h == hex(&e.hash));
    down_each(s, by_hash, true, ok)
        .into_iter()
        .map(|r| r.unwrap_or(false))
        .collect()
}

/// For each line, the lowest seq the chain from it down reaches within the stretch.
fn bottoms(s: &Stretch, by_hash: &HashMap<[u8; 32], usize>) -> Vec<u64> {
    down_each(s, by_hash, u64::MAX, |low, e| low.min(e.seq))
        .into_iter()
        .map(|b| b.unwrap_or(u64::MAX))
        .collect()
}

/// The head to walk from, and the walk (line indexes, head first). The head is the newest line
/// whose seq was read in one version only (where a seq is in dispute, nothing tells which
/// branch is the writer's) and whose chain passes no version this host holds to otherwise
/// (what it wrote, the head it remembers or read); a line past a gap (no line with the seq
/// before it) is no head. Else the newest line this host holds to. `None`: nothing to settle
/// from. A chain that breaks (an edited record) settles only what it passes.
fn head_walk(s: &Stretch, known: &HashMap<u64, String>) -> Option<Vec<usize>> {
    let mut by_hash = HashMap::with_capacity(s.lines.len());
    let mut by_seq: std::collections::BTreeMap<u64, Vec<usize>> = Default::default();
    for (i, e) in s.lines.iter().enumerate() {
        by_hash.entry(e.hash).or_insert(i);
        by_seq.entry(e.seq).or_default().push(i);
    }
    let reach = reaches(s, &by_hash, known);
    let gap = |i: usize| {
        let seq = s.lines[i].seq;
        seq > s.disputed && !by_seq.contains_key(&(seq - 1))
    };
    let head = by_seq
        .values()
        .rev()
        .filter(|v| v.iter().all(|&i| s.lines[i].hash == s.lines[v[0]].hash))
        .map(|v| v[0])
        .find(|&i| reach[i] && !gap(i));
    // The newest version this host holds to (what it wrote, the head it read) is the head
    // instead where it is as new (forged versions of the newest seqs do not displace it), or
    // where the chain from the other breaks before it gets below the disputed seqs (a junk
    // record appended as the newest, naming nothing, vouches for nothing). A host that holds
    // to nothing cannot tell a junk head from an edit below the head: the rules above decide.
    let deep = bottoms(s, &by_hash);
    let floor = s.disputed.saturating_sub(1).max(1);
    let holds = |i: usize| reach[i] && known.get(&s.lines[i].seq).is_some_and(|h| *h == hex(&s.lines[i].hash));
    // Of those, the newest whose chain gets below the disputed seqs (records planted between
    // it and a newer one it holds to, which the writer then wrote on from, vouch for nothing).
    let newest = |deep_only: bool| {
        (0..s.lines.len())
            .filter(|&i| holds(i) && (!deep_only || deep[i] <= floor))
            .max_by_key(|&i| s.lines[i].seq)
    };
    let held = newest(true).or_else(|| newest(false));
    let mut at = match (head, held) {
        (Some(h), Some(k)) if s.lines[k].seq >= s.lines[h].seq || deep[h] > floor => k,
        (Some(h), _) => h,
        (None, k) => k?,
    };
    let mut chain = vec![at];
    while let Some(i) = below(s, &by_hash, at) {
        chain.push(i);
        at = i;
    }
    Some(chain)
}

/// Hand on the versions the chain from the head runs through where a seq was read in more than
/// one version, and mark every other version of those seqs out of its chain, quoting it. Only
/// what changed since the last pass is handed on again: a seq whose version on the walk or
/// whose count of versions changed, or that this pass's incremental rules handed another
/// version of.
fn apply(s: &mut Stretch, cursor: &mut Cursor, ctx: &Ctx, batch: &mut Batch, preferred_from: usize) {
    let known = known(s, cursor, ctx);
    let Some(chain) = head_walk(s, &known) else {
        return;
    };
    // A version handed on before that the walk does not pass now (a fork overtaken, a chain
    // broken by an edit): what was shown is stale, and the log is read again from the start, as
    // a fresh read would see it, so an open console never keeps what a fresh read does not show.
    let walked: HashMap<u64, [u8; 32]> = chain.iter().map(|&i| (s.lines[i].seq, s.lines[i].hash)).collect();
    if let Some(seq) = s
        .settled
        .iter()
        .find(|(seq, (h, _))| walked.get(seq) != Some(h))
        .map(|(seq, _)| *seq)
    {
        batch.reread = Some(Problem::new(
            ctx.rel,
            None,
            format!("the chain from this log's head no longer runs through the version of seq {seq} used before; everything is read again from the start"),
        ));
        return;
    }
    let touched: std::collections::HashSet<u64> = batch.preferred[preferred_from..].iter().map(|e| e.seq).collect();
    let mut versions: HashMap<u64, Vec<usize>> = HashMap::new();
    for (i, e) in s.lines.iter().enumerate() {
        versions.entry(e.seq).or_default().push(i);
    }
    let Ok(mut file) = super::fsutil::open_read(ctx.path) else {
        return;
    };
    let log = cursor.log.to_string();
    for &i in chain.iter().rev() {
        let used = s.lines[i];
        let others: Vec<Entry> = versions
            .get(&used.seq)
            .into_iter()
            .flatten()
            .map(|&j| s.lines[j])
            .filter(|o| o.hash != used.hash)
            .collect();
        let now = (used.hash, others.len());
        if others.is_empty() || (s.settled.get(&used.seq) == Some(&now) && !touched.contains(&used.seq)) {
            continue;
        }
        let Some(mut e) = read_back(&mut file, ctx, &used) else {
            continue;
        };
        cursor.tags.share_body(&mut e.body);
        batch.preferred.push(e);
        s.settled.insert(used.seq, now);
        for o in others {
            let Some(other) = read_back(&mut file, ctx, &o) else {
                continue;
            };
            batch.marks.push((
                log.clone(),
                o.seq,
                format!(
                    "seq {} at line {} is out of its chain: the chain from the log's head runs through the one at line {}; the one at line {} reads: {}",
                    o.seq, o.line, used.line, o.line, quoted(&other)
                ),
            ));
        }
    }
}

/// The record on line `e`, read back from the file, if that line still has its hash.
fn read_back(file: &mut std::fs::File, ctx: &Ctx, e: &Entry) -> Option<Event> {
    let (start, len) = e.at;
    file.seek(SeekFrom::Start(start)).ok()?;
    let mut bytes = vec![0u8; usize::try_from(len).ok()?.min(MAX_LINE)];
    file.read_exact(&mut bytes).ok()?;
    if *blake3::hash(&bytes).as_bytes() != e.hash {
        return None;
    }
    event::parse_in(std::str::from_utf8(&bytes).ok()?, ctx.names)
        .ok()
        .map(|l| l.event)
}
