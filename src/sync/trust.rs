//! The shared `allowed_signers`, carried both ways.
//!
//! Unlike a log it has no single writer: any site may add or revoke a key. So a round compares
//! three copies — this host's file, the remote's, and the one both last agreed on (kept in
//! `<git dir>/warroom-trust-agreed`, because `HEAD` moves on to the remote's copy even when this
//! host keeps its own) — and a change made on one side only goes to the other. A change made on
//! both sides is never settled silently: this host's copy stays, is not pushed, and every round
//! says so until the two copies agree (or this host's copy holds every line of the remote's,
//! which is what a merge by hand looks like, or `sync --keep-trust` sends this host's copy as the
//! agreed one). A copy taken from the remote is always said, with its commit and line counts.

use std::path::Path;

use super::git::Git;
use super::{blame, cat_blobs, deleted_by, force_push, Entry};
use crate::store::{ALLOWED_SIGNERS_FILE, MAX_ALLOWED_SIGNERS};

/// The file in the git directory holding the blob id of the last copy both sides agreed on
/// (`none` when neither had one).
const AGREED_FILE: &str = "warroom-trust-agreed";

/// What a round does with `allowed_signers`.
#[derive(Debug, Default, Clone)]
pub struct Plan {
    /// This host's copy, to commit (changed here only, or a merge of both).
    pub commit: Option<Entry>,
    /// The remote's copy (blob id), to write here (changed there only).
    pub take: Option<String>,
    /// The copy both sides hold once the round has pushed (`Some(None)`: neither has one);
    /// `None`: leave the record as it is.
    pub agreed: Option<Option<String>>,
    pub warnings: Vec<String>,
    /// What the remote changed, said once its copy is written here (never a silent trust change).
    pub notice: Option<String>,
    /// Changed at both sites and left unsettled this round.
    pub conflict: bool,
}

/// Where a round stands, for `plan`.
#[derive(Debug, Clone, Copy)]
pub struct Round<'a> {
    /// The branch this clone was on.
    pub head: Option<&'a str>,
    /// The commit the round builds on (the remote's tip).
    pub base: Option<&'a str>,
    /// The remote's history was rewritten since the last round.
    pub rewritten: bool,
    /// `--keep-trust`: this site's copy is sent as the agreed one, whatever the remote changed.
    pub keep: bool,
}

fn agreed_path(git_dir: &Path) -> std::path::PathBuf {
    git_dir.join(AGREED_FILE)
}

/// The copy both sides last agreed on: the record, else (a clone synced by an older warroom)
/// the copy in `HEAD`.
fn last_agreed(git: &Git, git_dir: &Path, head: Option<&str>) -> Result<Option<String>, String> {
    if let Ok(text) = std::fs::read_to_string(agreed_path(git_dir)) {
        let t = text.trim();
        if t == "none" {
            return Ok(None);
        }
        if !t.is_empty() && t.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(Some(t.to_string()));
        }
    }
    Ok(entry_of(git, head)?.and_then(|(mode, id)| regular(&mode).then_some(id)))
}

/// Record the agreed copy (best effort: without it the next round falls back to `HEAD`'s copy).
pub fn record(git_dir: &Path, agreed: &Option<String>) {
    let _ = std::fs::write(agreed_path(git_dir), agreed.as_deref().unwrap_or("none"));
}

fn regular(mode: &str) -> bool {
    mode == "100644" || mode == "100755"
}

/// `allowed_signers` in a commit: (mode, id).
fn entry_of(git: &Git, commit: Option<&str>) -> Result<Option<(String, String)>, String> {
    let Some(c) = commit else { return Ok(None) };
    let out = git.ok(&["ls-tree", "-z", c, "--", ALLOWED_SIGNERS_FILE], None)?;
    Ok(out.stdout.split(|b| *b == 0).find_map(|rec| {
        let rec = std::str::from_utf8(rec).ok()?;
        let (meta, name) = rec.split_once('\t')?;
        let f: Vec<&str> = meta.split(' ').collect();
        match f.as_slice() {
            [mode, "blob", id] if name == ALLOWED_SIGNERS_FILE => Some((mode.to_string(), id.to_string())),
            _ => None,
        }
    }))
}

/// Decide what this round does with `allowed_signers`, given the commit it builds on (`base`,
/// the remote's tip) and the branch this clone was on (`head`).
pub fn plan(git: &Git, root: &Path, git_dir: &Path, round: Round) -> Result<Plan, String> {
    let Round {
        head,
        base,
        rewritten,
        keep,
    } = round;
    let mut plan = Plan::default();
    let path = root.join(ALLOWED_SIGNERS_FILE);
    let agreed = last_agreed(git, git_dir, head)?;
    // This host's copy: a regular file of sane size, never followed through a symlink.
    let local = match std::fs::symlink_metadata(&path) {
        Err(_) => None,
        Ok(m) if !m.file_type().is_file() => {
            plan.warnings.push(format!(
                "{ALLOWED_SIGNERS_FILE} here is not a regular file (a symlink?): it is neither sent nor replaced"
            ));
            return Ok(plan);
        }
        Ok(m) if m.len() > MAX_ALLOWED_SIGNERS => {
            plan.warnings.push(format!(
                "{ALLOWED_SIGNERS_FILE} here is over 4 MiB (readers ignore it): not sent"
            ));
            return Ok(plan);
        }
        Ok(_) => {
            let bytes = std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let id = git
                .ok(&["hash-object", "--no-filters", "-w", "--stdin"], Some(&bytes))?
                .text();
            Some(id)
        }
    };
    let remote = match entry_of(git, base)? {
        Some((mode, _)) if !regular(&mode) => {
            plan.warnings.push(format!(
                "{ALLOWED_SIGNERS_FILE}: not a regular file in the remote's commit (a symlink?): not written here; this host's copy is committed over it"
            ));
            None
        }
        other => other.map(|(_, id)| id),
    };
    // A missing file here is not a change to send (sync never deletes it elsewhere, and a key is
    // revoked by deleting its line): it counts as the agreed copy, and the round writes it back.
    let missing_here = local.is_none();
    let local = if missing_here { agreed.clone() } else { local };
    if missing_here && local.is_some() {
        plan.warnings.push(format!(
            "{ALLOWED_SIGNERS_FILE} was missing here: it is written back (sync never deletes it; to revoke a key, delete its line)"
        ));
    }
    let entry = |id: &str| Entry {
        path: ALLOWED_SIGNERS_FILE.to_string(),
        blob: id.to_string(),
        change: super::plan::Change::Trust,
    };
    if local == remote {
        if keep {
            plan.warnings.push(format!(
                "--keep-trust: {ALLOWED_SIGNERS_FILE} here and on the remote are the same: nothing to keep"
            ));
        }
        plan.agreed = Some(local);
        return Ok(written_back(plan, missing_here));
    }
    // Kept deliberately: this site's copy (a real file here) goes out as the agreed one.
    if let (true, false, Some(l)) = (keep, missing_here, &local) {
        let (added, removed) = match &remote {
            Some(r) => counts(git, r, l)?,
            None => (0, 0),
        };
        plan.warnings.push(format!(
            "--keep-trust: this site's {ALLOWED_SIGNERS_FILE} is sent as the agreed copy over the remote's ({}): {removed} line(s) of the remote's dropped, {added} added; other sites take it as an ordinary change and say so",
            blame(git, head, base, ALLOWED_SIGNERS_FILE)
        ));
        plan.commit = Some(entry(l));
        plan.agreed = Some(Some(l.clone()));
        return Ok(plan);
    }
    let here_changed = local != agreed;
    let there_changed = remote != agreed;
    match (&local, &remote) {
        // Changed on the remote only: take it (a missing local file counts as unchanged).
        (_, Some(r)) if !here_changed => {
            let (added, removed) = match &local {
                Some(l) => counts(git, l, r)?,
                None => (lines_of(git, r)?, 0),
            };
            plan.notice = Some(format!(
                "{ALLOWED_SIGNERS_FILE} changed by the remote ({}): {added} line(s) added, {removed} removed; if it is not wanted, edit {} back and sync (the edit goes out)",
                blame(git, head, base, ALLOWED_SIGNERS_FILE),
                path.display()
            ));
            plan.take = Some(r.clone());
            plan.agreed = Some(Some(r.clone()));
        }
        (Some(l), None) => {
            if there_changed {
                let how = match (rewritten, head, base) {
                    (true, _, Some(b)) => format!(
                        "gone from the remote after its history was rewritten ({})",
                        force_push(git, b)
                    ),
                    (false, Some(h), Some(b)) => {
                        format!(
                            "deleted on the remote ({})",
                            deleted_by(git, h, b, ALLOWED_SIGNERS_FILE)
                        )
                    }
                    _ => "deleted on the remote".to_string(),
                };
                plan.warnings.push(format!(
                    "{ALLOWED_SIGNERS_FILE}: TAMPERING? {how}: this host's copy is committed back"
                ));
            }
            plan.commit = Some(entry(l));
            plan.agreed = Some(Some(l.clone()));
        }
        (Some(l), Some(_)) if !there_changed => {
            plan.commit = Some(entry(l));
            plan.agreed = Some(Some(l.clone()));
        }
        (Some(l), Some(r)) => {
            // Both changed. A copy here holding every line of the remote's is a merge: send it.
            let blobs = cat_blobs(git, &[l.clone(), r.clone()])?;
            let merged = match (blobs.get(l), blobs.get(r)) {
                (Some(lb), Some(rb)) => {
                    let mine: std::collections::HashSet<&[u8]> = lines(lb).collect();
                    lines(rb).all(|line| mine.contains(line))
                }
                _ => false,
            };
            if merged {
                plan.commit = Some(entry(l));
                plan.agreed = Some(Some(l.clone()));
            } else {
                // Pinned: `HEAD` moves on to the remote's copy, which must not read as "agreed"
                // next round (this copy would then go out silently).
                plan.agreed = Some(agreed.clone());
                plan.conflict = true;
                plan.warnings.push(format!(
                    "{ALLOWED_SIGNERS_FILE} CONFLICT: changed both here and on the remote ({}) since the last sync: this host's copy is kept and NOT sent, and the remote's is not written here, so the sites may trust different keys. Settle it: merge the remote's lines (`git -C {} show {}:{ALLOWED_SIGNERS_FILE}`) into {} by hand (once this copy holds every line of the remote's, the next round sends it), or run `warroom sync --keep-trust` to send this copy as it is over the remote's (lines only the remote has are dropped everywhere)",
                    blame(git, head, base, ALLOWED_SIGNERS_FILE),
                    root.display(),
                    base.map_or("HEAD".to_string(), |b| b.chars().take(12).collect()),
                    path.display()
                ));
            }
        }
        (None, _) => {}
    }
    Ok(written_back(plan, missing_here))
}

/// A copy missing here comes back as the one the round settles on.
fn written_back(mut plan: Plan, missing_here: bool) -> Plan {
    if missing_here && plan.take.is_none() {
        plan.take = plan.agreed.clone().flatten();
    }
    plan
}

/// Lines of `to` not in `from`, and of `from` not in `to`: (added, removed).
fn counts(git: &Git, from: &str, to: &str) -> Result<(usize, usize), String> {
    let blobs = cat_blobs(git, &[from.to_string(), to.to_string()])?;
    let set = |id: &str| -> std::collections::HashSet<&[u8]> {
        blobs.get(id).map(|b| lines(b).collect()).unwrap_or_default()
    };
    let (a, b) = (set(from), set(to));
    Ok((b.difference(&a).count(), a.difference(&b).count()))
}

fn lines_of(git: &Git, id: &str) -> Result<usize, String> {
    let blobs = cat_blobs(git, &[id.to_string()])?;
    Ok(blobs.get(id).map_or(0, |b| lines(b).count()))
}

/// Non-empty lines, without their line ending, for comparing two copies.
fn lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    bytes
        .split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
}

/// Put the remote's copy in place here: whole (it is one file of many lines, not a log), through
/// a temporary file renamed over it, never through a symlink, as git would create it.
pub fn write_here(git: &Git, root: &Path, id: &str) -> Result<(), String> {
    let path = root.join(ALLOWED_SIGNERS_FILE);
    let blobs = cat_blobs(git, &[id.to_string()])?;
    let Some(bytes) = blobs.get(id) else {
        return Err(format!("{ALLOWED_SIGNERS_FILE}: git has no blob {id}"));
    };
    if bytes.len() as u64 > MAX_ALLOWED_SIGNERS {
        return Err(format!(
            "{ALLOWED_SIGNERS_FILE}: the remote's copy is over 4 MiB: not written here"
        ));
    }
    if std::fs::symlink_metadata(&path).is_ok_and(|m| !m.file_type().is_file()) {
        return Err(format!(
            "{ALLOWED_SIGNERS_FILE} here is not a regular file (a symlink?): left as it is"
        ));
    }
    let tmp = tempfile::Builder::new()
        .prefix(".warroom-sync.")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666))
        .tempfile_in(root)
        .map_err(|e| format!("{ALLOWED_SIGNERS_FILE}: cannot write in {}: {e}", root.display()))?;
    std::fs::write(tmp.path(), bytes).map_err(|e| format!("{ALLOWED_SIGNERS_FILE}: cannot write: {e}"))?;
    tmp.persist(&path)
        .map(|_| ())
        .map_err(|e| format!("{ALLOWED_SIGNERS_FILE}: cannot replace: {}", e.error))
}
