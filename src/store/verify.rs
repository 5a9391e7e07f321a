//! `warroom verify`: walk every hash chain and the cross-log heads. Tamper-evident, no more: it
//! names the log and line of an edited, dropped or reordered record, and tells a crash (a torn
//! tail, repaired or not) apart from tampering.

use std::collections::HashMap;
use std::io::BufRead;

use super::incident::CopyFault;
use super::writer::local_head;
use super::{fsutil, writer_of_log, Store, EVENTS_DIR, LOG_EXT, PLAYBOOKS_DIR};
use crate::domain::event::{self, Body, MAX_LINE};
use crate::domain::sanitize;
use crate::domain::signing::SigError;
use crate::domain::state::Claim;

#[derive(Debug, Default)]
pub struct Report {
    pub logs: usize,
    pub records: u64,
    /// Signs of tampering or loss: `file:line: what`.
    pub errors: Vec<String>,
    /// Crashes (torn writes), which are not tampering.
    pub crashes: Vec<String>,
    /// Per log: how many of its records no other log's checkpoint (`Heads`) vouches for yet —
    /// cutting those off is caught only by hosts that saw them. `(log, not anchored, records)`.
    pub unanchored: Vec<(String, u64, u64)>,
    /// Per log, what SSH signatures vouch for (see README, "Signed records").
    pub signing: Vec<LogSigning>,
    /// Lines of the allowed_signers file in force that were skipped: `file:line: why`.
    pub trust_skipped: Vec<String>,
    /// Signatures that count for nothing only because `allowed_signers` changed keys against
    /// the copy this host accepted (`file:line: what`): the records are intact, the trust
    /// change awaits acceptance. Not tampering.
    pub pending: Vec<String>,
    /// The change awaiting acceptance (who, which line, how to accept), when there is one.
    pub pending_change: Option<String>,
}

/// What signatures vouch for in one log.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LogSigning {
    /// `name@host.install`
    pub log: String,
    /// Records other than the signatures themselves.
    pub records: u64,
    /// Of those, how many a valid signature vouches for.
    pub covered: u64,
    /// Principal and key fingerprint of the last valid signature.
    pub signer: Option<(String, String)>,
    /// `line N: why` for each signature that does not check out.
    pub bad: Vec<String>,
    /// `line N: why` for each signature that counts for nothing only until a key change of
    /// `allowed_signers` is accepted (see [`Report::pending`]).
    pub pending: Vec<String>,
    /// Signed with this key, but there is no `allowed_signers` file to check it against.
    pub unchecked: Option<String>,
    /// Valid signatures made before signatures named their log (over the head alone): a copy of
    /// the log under another name would verify as well.
    pub unbound: u64,
}

impl LogSigning {
    /// One line for people: "signed by alice (SHA256:…)", "unsigned", "signature does not match".
    pub fn describe(&self) -> String {
        let log = sanitize(&self.log);
        let by = |(p, f): &(String, String)| format!("{} ({})", sanitize(p), sanitize(f));
        if let Some(first) = self.bad.first() {
            return format!(
                "{log}: signature does not match ({}); {} of {} record(s) covered by a valid one",
                sanitize(first),
                self.covered,
                self.records
            );
        }
        if let Some(first) = self.pending.first() {
            return format!(
                "{log}: {} signature(s) await acceptance of the allowed_signers change ({}); {} of {} record(s) covered by a counted one",
                self.pending.len(),
                sanitize(first),
                self.covered,
                self.records
            );
        }
        if let (None, Some(fp)) = (&self.signer, &self.unchecked) {
            return format!(
                "{log}: signed with {} but not checked: no allowed_signers file, or one that lists no keys ({} record(s))",
                sanitize(fp),
                self.records
            );
        }
        let unbound = if self.unbound > 0 && self.signer.is_some() {
            format!(
                "; {} signature(s) not bound to their log (an older warroom signed the head alone: a copy of this log under another name would verify too)",
                self.unbound
            )
        } else {
            String::new()
        };
        let said = match &self.signer {
            Some(s) if self.covered == self.records => {
                format!("{log}: signed by {} — all {} record(s)", by(s), self.records)
            }
            Some(s) => format!(
                "{log}: partially signed by {} — {} of {} record(s) covered ({} unsigned)",
                by(s),
                self.covered,
                self.records,
                self.records - self.covered
            ),
            None => format!("{log}: unsigned ({} record(s))", self.records),
        };
        said + &unbound
    }
}

struct Seen {
    /// seq → hash of that record's line
    hashes: HashMap<u64, String>,
    max_seq: u64,
}

pub fn verify(store: &Store, id: &str) -> Report {
    let mut report = Report::default();
    let dir = store.incident_dir(id).join(EVENTS_DIR);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(LOG_EXT))
        .collect();
    names.sort();
    let mut seen: HashMap<String, Seen> = HashMap::new();
    let trust = store.allowed_signers();
    let trust_path = store.allowed_signers_path();
    if trust.accepted.is_some() {
        report.pending_change = trust.note.clone();
    } else {
        report.trust_skipped.extend(trust.note.clone());
    }
    for (n, why) in &trust.skipped {
        report
            .trust_skipped
            .push(format!("{}:{n}: skipped, does not count: {why}", trust_path.display()));
    }
    // The claim names the declaring log; a Declared anywhere else is forged or misplaced.
    let claim = super::fsutil::open_read(&store.incident_dir(id).join(super::HEADER_FILE))
        .and_then(std::io::read_to_string)
        .ok()
        .and_then(|t| ron::from_str::<super::incident::Header>(t.trim_start_matches('\u{feff}')).ok())
        .map(|h| h.claim());
    // (file, line, heads) to check once every log is read
    let mut heads_claims = Vec::new();
    // (file, line, hash) of each recording the timeline names
    let mut named_casts: Vec<(String, usize, String)> = Vec::new();
    for name in &names {
        let rel = format!("{id}/{EVENTS_DIR}/{}", crate::domain::sanitize::visible(name));
        let Some(writer) = writer_of_log(name) else {
            report.errors.push(format!("{rel}: not a warroom log name"));
            continue;
        };
        let path = dir.join(name);
        let file = match fsutil::open_read(&path) {
            Ok(f) => f,
            Err(e) => {
                report.errors.push(format!("{rel}: cannot read: {e}"));
                continue;
            }
        };
        report.logs += 1;
        let mut prev = event::genesis_hash(id, &writer);
        let mut expected = 1u64;
        // The hash of the chain's last record (a record may chain onto it over a stranger's line).
        let mut last_good: Option<String> = None;
        let mut s = Seen {
            hashes: HashMap::new(),
            max_seq: 0,
        };
        // Streamed line by line, each capped at MAX_LINE: a huge file never sits in memory.
        let mut signing = LogSigning {
            log: name.trim_end_matches(LOG_EXT).to_string(),
            ..LogSigning::default()
        };
        // Seqs of records no valid signature covers yet, and where the unbroken chain starts.
        let mut pending: Vec<u64> = Vec::new();
        let mut intact_from = 1u64;
        let mut lines = Lines::new(std::io::BufReader::new(file));
        let mut numbered = Vec::new();
        let lines = std::iter::from_fn(|| match lines.next_line() {
            Ok(Some(Line::Complete(l))) => Some(Some(l)),
            Ok(Some(Line::TooLong)) => Some(None),
            Ok(Some(Line::Partial(n))) => {
                numbered.push(n);
                None
            }
            Ok(None) | Err(_) => None,
        });
        let lines: Vec<Option<Vec<u8>>> = lines.collect();
        // The signatures' crypto (~60 µs each) across cores; their place in the chain below.
        let mut checked = check_signatures(&lines, &signing.log, &writer, &trust);
        if let Some(n) = numbered.first() {
            report.crashes.push(format!(
                "{rel}: the last {n} bytes are an incomplete record (a crash mid-write, or a write still landing); the writer repairs it on its next append"
            ));
        }
        for (i, line) in lines.iter().enumerate() {
            let Some(line) = line else {
                report.errors.push(format!(
                    "{rel}:{}: line over {MAX_LINE} bytes (not written by warroom)",
                    i + 1
                ));
                prev = String::new();
                continue;
            };
            let line = line.as_slice();
            let line_no = i + 1;
            let hash = event::line_hash(line);
            let parsed = std::str::from_utf8(line).ok().and_then(|t| event::parse_line(t).ok());
            match parsed {
                None => report
                    .errors
                    .push(format!("{rel}:{line_no}: unreadable record (edited or corrupted)")),
                Some(event::Line { event: e, prev: e_prev }) => {
                    report.records += 1;
                    if **e.by() != *writer {
                        report.errors.push(format!(
                            "{rel}:{line_no}: record claims writer {} (edited?)",
                            sanitize(e.by())
                        ));
                    }
                    // A repeat (a copy of a seq read before) does not move the chain back: the
                    // records after it are checked against the chain's last record, as readers do.
                    let repeat = e.seq < expected;
                    if e.seq != expected {
                        let what = if e.seq > expected {
                            format!("seq {} where {expected} was expected: records were dropped", e.seq)
                        } else {
                            format!(
                                "seq {} where {expected} was expected: records were reordered or repeated",
                                e.seq
                            )
                        };
                        report.errors.push(format!("{rel}:{line_no}: {what}"));
                        intact_from = e.seq;
                    } else if e_prev != prev && !last_good.as_deref().is_some_and(|h| e_prev == h) {
                        report.errors.push(format!(
                            "{rel}:{line_no}: hash chain broken: line {} was edited, or a record before this one was dropped or moved",
                            line_no.saturating_sub(1).max(1)
                        ));
                        intact_from = e.seq;
                    }
                    if let Body::Signed(sig) = &e.body {
                        let verdict = if sig.head != prev || e_prev != sig.head {
                            Err(SigError::WrongHead)
                        } else {
                            checked[i].take().unwrap_or_else(|| {
                                crate::domain::signing::check_signed(&trust, &signing.log, &writer, sig, e.wall)
                            })
                        };
                        let verdict = match verdict {
                            Err(SigError::NoTrust(fp)) => {
                                signing.unchecked = Some(fp);
                                Ok(None)
                            }
                            Ok(v) => Ok(Some(v)),
                            Err(x)
                                if trust.refused_by_pending_change(&x, |a| {
                                    crate::domain::signing::check_signed(a, &signing.log, &writer, sig, e.wall)
                                }) =>
                            {
                                let why = x.pending_reason();
                                report.pending.push(format!(
                                    "{rel}:{line_no}: the signature counts for nothing here until the change is accepted: {why}"
                                ));
                                signing.pending.push(format!("line {line_no}: {why}"));
                                Ok(None)
                            }
                            Err(x) => Err(x.to_string()),
                        };
                        match verdict {
                            Ok(None) => {}
                            Ok(Some(v)) => {
                                signing.unbound += u64::from(sig.log.is_none());
                                let before = pending.len();
                                pending.retain(|s| !(intact_from..e.seq).contains(s));
                                signing.covered += (before - pending.len()) as u64;
                                // What lies before a break is never covered by a later signature.
                                pending.clear();
                                signing.signer = Some((v.principal, v.fingerprint));
                            }
                            Err(why) => {
                                report
                                    .errors
                                    .push(format!("{rel}:{line_no}: signature does not match: {why}"));
                                signing.bad.push(format!("line {line_no}: {why}"));
                            }
                        }
                    } else {
                        signing.records += 1;
                        pending.push(e.seq);
                    }
                    if let Body::TailRepaired(t) = &e.body {
                        report.crashes.push(format!(
                            "{rel}:{line_no}: a crash cut a write short ({} bytes at offset {}); the writer repaired it",
                            t.bytes, t.offset
                        ));
                    }
                    if let Body::Declared(_) = &e.body {
                        let log = name.trim_end_matches(LOG_EXT);
                        let named = match &claim {
                            Some(Claim::Log(l)) => l == log,
                            Some(Claim::Writer(w)) => *w == **e.by(),
                            _ => false,
                        };
                        if claim.is_none() {
                            // Not tampering by itself: a sync tool may not have delivered it yet.
                            report.crashes.push(format!(
                                "{rel}:{line_no}: a Declared record, but incident.ron (the claim that names the declarer) is not here yet, or was removed"
                            ));
                        } else if !named {
                            report.errors.push(format!(
                                "{rel}:{line_no}: a Declared record in a log that incident.ron does not name as the declarer (forged or misplaced)"
                            ));
                        }
                    }
                    if let Body::Disowned(d) = &e.body {
                        report.errors.push(format!(
                            "{rel}:{line_no}: its writer never wrote seq {}: records planted under its name",
                            d.seqs
                                .iter()
                                .take(10)
                                .map(u64::to_string)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ));
                    }
                    if let Body::Heads(h) = &e.body {
                        heads_claims.push((rel.clone(), line_no, h.heads.clone()));
                    }
                    if let Body::ActionOutput(o) = &e.body {
                        if let Some(c) = &o.cast {
                            named_casts.push((rel.clone(), line_no, c.clone()));
                        }
                    }
                    if !repeat {
                        s.hashes.insert(e.seq, hash.clone());
                        last_good = Some(hash.clone());
                    }
                    s.max_seq = s.max_seq.max(e.seq);
                    expected = expected.max(e.seq + 1);
                }
            }
            prev = hash;
        }
        if let Some((seq, hash)) = local_head(store, &path) {
            match s.hashes.get(&seq) {
                Some(h) if *h == hash => {}
                Some(_) => report.errors.push(format!(
                    "{rel}: record seq {seq} differs from what this host wrote (edited)"
                )),
                None => report.errors.push(format!(
                    "{rel}: this host wrote up to seq {seq}, but the log ends at seq {} (truncated or rolled back)",
                    s.max_seq
                )),
            }
        }
        seen.insert(name.trim_end_matches(LOG_EXT).to_string(), s);
        report.signing.push(signing);
    }
    check_memory(store, id, claim.as_ref(), &seen, &mut report);
    let required = store.trust.require || header_requires_signatures(store, id);
    if required {
        for l in &report.signing {
            if l.covered < l.records && l.bad.is_empty() && !l.pending.is_empty() {
                // Records the accepted copy would count as signed: not applied, yet not tampered.
                report.pending.push(format!(
                    "{id}/{EVENTS_DIR}/{}{LOG_EXT}: {} of {} record(s) carry no counted signature while the change awaits acceptance, and this incident requires them (not applied until then)",
                    sanitize(&l.log),
                    l.records - l.covered,
                    l.records
                ));
            } else if l.covered < l.records {
                report.errors.push(format!(
                    "{id}/{EVENTS_DIR}/{}{LOG_EXT}: {} of {} record(s) carry no valid SSH signature, and this incident requires them (not applied)",
                    sanitize(&l.log),
                    l.records - l.covered,
                    l.records
                ));
            }
        }
    }
    check_casts(store, id, &named_casts, &mut report);
    // The highest seq of each log that another log's checkpoint vouches for.
    let mut anchored: HashMap<String, u64> = HashMap::new();
    for (rel, _, heads) in &heads_claims {
        for h in heads {
            if !rel.ends_with(&format!("/{}{LOG_EXT}", h.writer)) {
                let a = anchored.entry(h.writer.clone()).or_default();
                *a = (*a).max(h.seq);
            }
        }
    }
    let mut logs: Vec<_> = seen.iter().collect();
    logs.sort_by(|a, b| a.0.cmp(b.0));
    for (log, s) in logs {
        let a = anchored.get(log).copied().unwrap_or(0).min(s.max_seq);
        let records = s.hashes.len() as u64;
        let not_anchored = s.hashes.keys().filter(|seq| **seq > a).count() as u64;
        if not_anchored > 0 {
            report.unanchored.push((log.clone(), not_anchored, records));
        }
    }
    for (rel, line_no, heads) in heads_claims {
        for h in heads {
            let who = sanitize(&h.writer);
            match seen.get(&h.writer) {
                None => report.errors.push(format!("{rel}:{line_no}: saw log {who} at seq {}, but that log is gone", h.seq)),
                Some(s) => match s.hashes.get(&h.seq) {
                    Some(x) if *x == h.hash => {}
                    Some(_) => report
                        .errors
                        .push(format!("{id}/{EVENTS_DIR}/{who}{LOG_EXT}: record seq {} was edited after {rel}:{line_no} saw it", h.seq)),
                    None => report.errors.push(format!(
                        "{id}/{EVENTS_DIR}/{who}{LOG_EXT}: ends at seq {} but {rel}:{line_no} saw seq {}: truncated or rolled back",
                        s.max_seq, h.seq
                    )),
                },
            }
        }
    }
    playbook_copies(store, id, &mut report);
    report
}

/// Every playbook copy must hash to its name: the copy is what teammates without that playbook
/// read the checklists and commands from, so an edited copy is tampering, not a detail.
fn playbook_copies(store: &Store, id: &str, report: &mut Report) {
    let dir = store.incident_dir(id).join(PLAYBOOKS_DIR);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    let mut names: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".ron"))
        .collect();
    names.sort();
    for name in names {
        let rel = format!("{id}/{PLAYBOOKS_DIR}/{}", sanitize(&name));
        let hash = name.trim_end_matches(".ron");
        match super::incident::read_playbook_copy(&dir.join(&name), hash) {
            Ok(_) => {}
            Err(f @ CopyFault::Edited) => report.errors.push(format!(
                "{rel}: {f}: the shared copy of the playbook was edited (or is still syncing); restore it from a trusted copy of that playbook"
            )),
            Err(f) => report.errors.push(format!("{rel}: {f}")),
        }
    }
}

/// The signature check of every `Signed` line of a log, by line index (`None` for other lines),
/// spread over the cores: the order-dependent checks stay in the walk.
fn check_signatures(
    lines: &[Option<Vec<u8>>],
    log: &str,
    writer: &str,
    trust: &crate::domain::signing::AllowedSigners,
) -> Vec<Option<Result<crate::domain::signing::Verified, SigError>>> {
    let one = |l: &Option<Vec<u8>>| {
        let e = std::str::from_utf8(l.as_deref()?)
            .ok()
            .and_then(|t| event::parse(t).ok())?;
        match &e.body {
            Body::Signed(s) => Some(crate::domain::signing::check_signed(trust, log, writer, s, e.wall)),
            _ => None,
        }
    };
    if lines.len() < 256 {
        return lines.iter().map(one).collect();
    }
    let threads = super::threads();
    if threads < 2 {
        return lines.iter().map(one).collect();
    }
    let per = lines.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = lines
            .chunks(per)
            .map(|part| scope.spawn(move || part.iter().map(one).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .zip(lines.chunks(per))
            // A thread that died (it cannot: checks return errors) is redone here.
            .flat_map(|(h, part)| h.join().unwrap_or_else(|_| part.iter().map(one).collect()))
            .collect()
    })
}

/// Whether `incident.ron` says the incident requires signed records.
fn header_requires_signatures(store: &Store, id: &str) -> bool {
    fsutil::open_read(&store.incident_dir(id).join(super::HEADER_FILE))
        .and_then(std::io::read_to_string)
        .ok()
        .and_then(|t| ron::from_str::<super::incident::Header>(t.trim_start_matches('\u{feff}')).ok())
        .is_some_and(|h| h.require_signatures)
}

/// The recordings: each one the timeline names is there and matches its hash; every one in
/// `casts/` matches the hash in its name (a changed recording is reported here, not only by
/// `replay`).
fn check_casts(store: &Store, id: &str, named: &[(String, usize, String)], report: &mut Report) {
    let dir = store.incident_dir(id).join(super::CASTS_DIR);
    for (rel, line_no, hash) in named {
        if !event::is_hash(hash) {
            report.errors.push(format!(
                "{rel}:{line_no}: names a recording `{}` that is not a hash",
                sanitize(hash)
            ));
            continue;
        }
        let path = dir.join(format!("{hash}.cast"));
        if !path.exists() {
            report.errors.push(format!(
                "{rel}:{line_no}: its recording {id}/{}/{hash}.cast is missing (deleted, or not synced here yet)",
                super::CASTS_DIR
            ));
        }
    }
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".cast"))
        .collect();
    names.sort();
    for name in names {
        let rel = format!("{id}/{}/{}", super::CASTS_DIR, sanitize(&name));
        match super::casts::read(&dir.join(&name)) {
            Ok((_, Some(true))) => {}
            Ok((_, Some(false))) => report.errors.push(format!(
                "{rel}: does not match the hash in its name: the recording was changed after it was made"
            )),
            Ok((_, None)) => report
                .errors
                .push(format!("{rel}: not a recording warroom made (its name is not a hash)")),
            Err(e) => report.errors.push(format!("{rel}: cannot be read: {}", sanitize(&e))),
        }
    }
}

/// What this host remembers (the declarer the claim named, the newest record of each log it
/// read) against what is there now: a cut, a rewrite or a rewritten claim is caught on every host
/// that had read the incident.
fn check_memory(store: &Store, id: &str, claim: Option<&Claim>, seen: &HashMap<String, Seen>, report: &mut Report) {
    let memory = super::memory::load(store, id);
    let rel = |log: &str| format!("{id}/{EVENTS_DIR}/{}{LOG_EXT}", sanitize(log));
    match (&memory.claim, claim) {
        (Some(was), Some(Claim::Log(now))) if was != now => report.errors.push(format!(
            "{id}/incident.ron: names {} as the declarer, but this host read it naming {}: rewritten",
            sanitize(now),
            sanitize(was)
        )),
        (Some(was), None) => report.errors.push(format!(
            "{id}/incident.ron: missing or unreadable, but this host read it naming {} as the declarer",
            sanitize(was)
        )),
        _ => {}
    }
    if let Some(Claim::Log(log)) = claim {
        if !seen.contains_key(log) {
            report.errors.push(format!(
                "{}: the declaring log that incident.ron names is not here (removed, or not synced yet)",
                rel(log)
            ));
        }
    }
    for (log, head) in &memory.heads {
        match seen.get(log) {
            None => report.errors.push(format!(
                "{}: gone, but this host read it up to seq {}",
                rel(log),
                head.seq
            )),
            Some(s) => match s.hashes.get(&head.seq) {
                Some(h) if *h == head.hash => {}
                Some(_) => report.errors.push(format!(
                    "{}: seq {} differs from the record this host read there: edited or rewritten",
                    rel(log),
                    head.seq
                )),
                None => report.errors.push(format!(
                    "{}: ends at seq {}, but this host read it up to seq {}: truncated or rolled back",
                    rel(log),
                    s.max_seq,
                    head.seq
                )),
            },
        }
    }
}

enum Line {
    Complete(Vec<u8>),
    TooLong,
    /// Bytes after the last newline.
    Partial(usize),
}

/// Lines of a reader without their newlines, none longer than `MAX_LINE` held in memory.
struct Lines<R> {
    r: R,
    done: bool,
}

impl<R: BufRead> Lines<R> {
    fn new(r: R) -> Lines<R> {
        Lines { r, done: false }
    }

    fn next_line(&mut self) -> std::io::Result<Option<Line>> {
        if self.done {
            return Ok(None);
        }
        let mut buf = Vec::new();
        let mut too_long = false;
        loop {
            let chunk = self.r.fill_buf()?;
            if chunk.is_empty() {
                self.done = true;
                return Ok(match (too_long, buf.len()) {
                    (false, 0) => None,
                    (true, _) => Some(Line::TooLong),
                    (false, n) => Some(Line::Partial(n)),
                });
            }
            let (take, found) = match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (i, true),
                None => (chunk.len(), false),
            };
            if !too_long {
                buf.extend_from_slice(&chunk[..take]);
                if buf.len() > MAX_LINE {
                    too_long = true;
                    buf = Vec::new();
                }
            }
            self.r.consume(if found { take + 1 } else { take });
            if found {
                return Ok(Some(if too_long { Line::TooLong } else { Line::Complete(buf) }));
            }
        }
    }
}
