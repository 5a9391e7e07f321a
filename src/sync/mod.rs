//! `warroom sync`: git as the sync engine between sites.
//!
//! Every log has one writer, `incident.ron` is written once by the declarer and playbook copies
//! are content-addressed, so the commits of two sites never touch the same lines. A round:
//!
//! 1. fetch the remote;
//! 2. snapshot this install's own files — its logs (complete lines only), the claims it wrote,
//!    new playbook copies whose name is their hash, `.gitattributes` — into blobs;
//! 3. build a commit of *the remote's tip plus those files* in a temporary index (so nothing in
//!    the working tree moves while a writer may be appending), and push it; if another site
//!    pushed first, fetch and build again on its tip, a bounded number of times;
//! 4. bring the working tree up to that commit by writing files itself, append-only: a file
//!    another site added is created, a log another site extended grows by the new bytes in place
//!    (readers see growth, never a replaced file). Nothing is ever deleted or overwritten here,
//!    and this install's own logs are never touched, not even for a moment (a `git pull
//!    --rebase` would check out the old tip under a live writer). Blobs are read raw with
//!    `git cat-file --batch` and `$GIT_DIR/info/attributes` overrides any committed
//!    `.gitattributes`, so no attribute a site commits can convert a record. `HEAD` moves with
//!    `update-ref`; git's main index is refreshed best effort and never needed, so a stale
//!    `index.lock` or a round killed after its push does not jam later rounds.
//!
//! The remote only ever gets appends: when it deleted or rewrote another writer's file (or this
//! install's own log) since the last commit both sides share, the known-good copy goes back into
//! this round's commit and the round reports it as tampering, naming the commit and its author.
//! It never force-pushes and never commits another install's file otherwise: a file of another
//! writer that differs locally from git's copy was rolled back or edited here, and is reported.
//!
//! Why the `git` binary and not a crate (git2/gix): the responder's git already knows their
//! remotes, ssh keys and agent, credential helpers, proxies and `insteadOf` rules, and is what
//! they will debug with when a push fails; libgit2 reimplements transport and auth with its own
//! gaps (ssh agent forwarding, newer key types), and gix's push support is not complete. The
//! plumbing used here (`hash-object`, `read-tree`, `update-index`, `write-tree`, `commit-tree`,
//! `push`) is stable across git versions.

pub mod git;
pub mod lock;
pub mod plan;
pub mod status;
mod trust;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use git::Git;
use plan::{Change, Kind};

use crate::domain::sanitize::sanitize;
use crate::store::incident::{valid_incident_id, Header};
use crate::store::{CASTS_DIR, EVENTS_DIR, HEADER_FILE, PLAYBOOKS_DIR};

/// Marks the commits sync makes (and so the unpushed local commits it may rebuild).
pub const COMMIT_PREFIX: &str = "warroom sync";

#[derive(Debug, Clone)]
pub struct Options {
    pub remote: String,
    pub timeout: Duration,
    /// Pushes tried again after another site won the race.
    pub retries: u32,
    /// Settle an `allowed_signers` conflict (or refuse the remote's change) by sending this
    /// site's copy as the agreed one (`warroom sync --keep-trust`, one round).
    pub keep_trust: bool,
}

/// This installation, as sync sees it.
#[derive(Debug, Clone)]
pub struct Site {
    pub root: PathBuf,
    pub install: String,
    pub host: String,
}

/// What one round did.
#[derive(Debug, Default)]
pub struct Report {
    /// Own files committed this round, with what changed ("…/events/a@b.x.ronl +3 lines").
    pub committed: Vec<String>,
    pub pushed: bool,
    /// Push attempts lost to another site before one succeeded.
    pub races: u32,
    /// Files other sites changed that arrived in the working tree.
    pub received: usize,
    /// Things reported but not fatal (a rolled-back file of another writer, …).
    pub warnings: Vec<String>,
    pub error: Option<String>,
    /// `allowed_signers` was changed at both sites and the round left it unsettled.
    pub trust_conflict: bool,
}

impl Report {
    pub fn did_something(&self) -> bool {
        !self.committed.is_empty() || self.pushed || self.received > 0 || self.error.is_some()
    }

    /// One line: what was committed, pushed, received, and what failed.
    pub fn line(&self, remote: &str) -> String {
        let mut parts = Vec::new();
        if !self.committed.is_empty() {
            parts.push(format!(
                "committed {} file(s): {}",
                self.committed.len(),
                self.committed.join(", ")
            ));
        }
        if self.pushed {
            parts.push(match self.races {
                0 => format!("pushed to {remote}"),
                n => format!("pushed to {remote} after {n} race(s) with other sites"),
            });
        }
        if self.received > 0 {
            parts.push(format!("received {} file(s) from other sites", self.received));
        }
        if let Some(e) = &self.error {
            parts.push(format!("FAILED: {e}"));
        }
        if self.trust_conflict {
            parts.push(format!(
                "{} CONFLICT not settled (see the warning)",
                crate::store::ALLOWED_SIGNERS_FILE
            ));
        }
        if parts.is_empty() {
            parts.push("up to date".into());
        }
        parts.join("; ")
    }
}

/// How to make the shared directory a repository, for the error that says it is not one.
pub fn setup_help(root: &Path) -> String {
    format!(
        "{} is not the top folder of a git repository. Set it up with one of:\n  \
         warroom sync --init <url>          (clones or fetches the remote, checks nothing out)\n  \
         git -C {0} init && git -C {0} remote add origin <url>",
        root.display()
    )
}

/// One round: fetch, commit own files on the remote's tip, push (retrying a lost race), bring the
/// working tree up to date. Never fails half-way silently: everything goes into the report.
pub fn round(site: &Site, opts: &Options) -> Report {
    let mut report = Report::default();
    if let Err(e) = round_inner(site, opts, &mut report) {
        report.error = Some(e);
    }
    report
}

fn round_inner(site: &Site, opts: &Options, report: &mut Report) -> Result<(), String> {
    let git = Git::new(&site.root, opts.timeout);
    check_toplevel(&git, &site.root)?;
    let branch = git
        .ok(&["symbolic-ref", "--quiet", "--short", "HEAD"], None)
        .map_err(|_| "the shared directory's repository is not on a branch (detached HEAD): check one out".to_string())?
        .text();
    let git_dir = PathBuf::from(git.ok(&["rev-parse", "--absolute-git-dir"], None)?.text());
    // Held to the end of the round: another round in this clone waits (see `lock`).
    let _lock = lock::acquire(&git_dir, opts.timeout)?;
    ensure_attributes(&site.root)?;
    ensure_info_attributes(&git_dir)?;

    // Refused before anything is committed: a round with nowhere to send records says so.
    let (fetch_args, tracking) = remote_source(&git, site, &opts.remote, &branch)?;
    let seen_ref = seen_ref(&tracking);
    let fetch_args: Vec<&str> = fetch_args.iter().map(String::as_str).collect();
    let fetch = git.run(&fetch_args, None)?;
    let fetch_error = (!fetch.ok).then(|| format!("cannot fetch from {}: {}", opts.remote, reason(&fetch.all())));
    if fetch.ok {
        if let Some(w) = other_branches(&git, &tracking, &branch)? {
            report.warnings.push(w);
        }
    }
    let mut upstream = rev(&git, &tracking)?;
    let head = rev(&git, "HEAD")?;
    // A clone last synced by a warroom without that ref: where the last fetch found the remote.
    let seen = match rev(&git, &seen_ref)? {
        Some(s) => Some(s),
        None => rev(&git, &format!("{tracking}@{{1}}"))?,
    };
    if let (Some(u), Some(h)) = (&upstream, &head) {
        if let Some(foreign) = local_commit(&git, h, u, seen.as_deref(), &tracking)? {
            return Err(format!(
                "the local branch has commits not made by warroom sync (\"{}\"): push or drop them with git first",
                sanitize(&foreign)
            ));
        }
    }
    let mut base = upstream.clone().or_else(|| head.clone());
    let mut rewritten = rewrite(&git, seen.as_deref(), upstream.as_deref())?;

    if git_dir.join("index.lock").exists() {
        report.warnings.push(format!(
            "{} exists (a git command running, or one that crashed): sync does not need git's index, but `git status` may be out of date until it is removed",
            git_dir.join("index.lock").display()
        ));
    } else {
        let others = foreign_changes(&git, site, head.is_some())?;
        report.warnings.extend(others);
    }
    let snapshot = snapshot(&git, site, base.as_deref(), head.as_deref(), rewritten, report)?;
    let identity = commit_identity(&git, site);

    // What this round commits on top of `base`: own logs, what the remote dropped, the trust
    // file; planned again from the new base when a push loses a race.
    let plan_tip = |base: Option<&str>, rewritten: bool| -> Result<_, String> {
        let (restored, said) = restores(&git, site, head.as_deref(), base, rewritten)?;
        let signers = trust::plan(
            &git,
            &site.root,
            &git_dir,
            trust::Round {
                head: head.as_deref(),
                base,
                rewritten,
                keep: opts.keep_trust,
            },
        )?;
        let tip = build(
            &identity,
            &git_dir,
            base,
            &entries(&snapshot, &restored, &signers),
            &message(site, &snapshot, &restored, &signers),
        )?;
        Ok((restored, said, signers, tip))
    };
    let (mut restored, mut said, mut signers, mut tip) = plan_tip(base.as_deref(), rewritten)?;
    let mut accepted = false;
    if let Some(e) = fetch_error {
        report.error = Some(format!(
            "{e}; your records are committed locally and go out on the next round that reaches {}",
            opts.remote
        ));
    } else {
        accepted = true;
        let mut attempt = 0;
        while let Some(t) = tip.clone().filter(|t| Some(t) != upstream.as_ref()) {
            let refspec = format!("{t}:refs/heads/{branch}");
            let push = git.run(&["push", "--porcelain", "--quiet", &opts.remote, &refspec], None)?;
            if push.ok {
                report.pushed = true;
                break;
            }
            let out = push.all();
            if plan::is_push_race(&out) && attempt < opts.retries {
                attempt += 1;
                report.races = attempt;
                std::thread::sleep(Duration::from_millis(100 * u64::from(attempt) + rand_ms(200)));
                git.ok(&fetch_args, None)?;
                upstream = rev(&git, &tracking)?;
                base = upstream.clone().or_else(|| head.clone());
                rewritten = rewrite(&git, seen.as_deref(), upstream.as_deref())?;
                (restored, said, signers, tip) = plan_tip(base.as_deref(), rewritten)?;
                continue;
            }
            accepted = false;
            let rejected = out.contains("[remote rejected]") || out.contains("hook declined");
            report.error = Some(format!(
                "push to {} {}{}: {}; your records are kept here (committed locally) and the push is retried each round",
                opts.remote,
                if rejected { "rejected by the remote" } else { "failed" },
                if attempt > 0 {
                    format!(" after {attempt} retries")
                } else {
                    String::new()
                },
                reason(&out)
            ));
            break;
        }
    }
    if rewritten {
        report.warnings.insert(
            0,
            format!(
                "TAMPERING? the remote's history was rewritten ({}): it no longer holds the commit this site last synced ({}); sync goes on from the new history and commits back every file the rewrite dropped or changed",
                upstream.as_deref().map_or("force-push".to_string(), |u| force_push(&git, u)),
                seen.as_deref().map_or("?".to_string(), |s| s.chars().take(12).collect())
            ),
        );
    }
    report.warnings.extend(said);
    report.warnings.append(&mut signers.warnings);
    report.trust_conflict = signers.conflict;
    report.committed = snapshot
        .iter()
        .chain(&restored)
        .chain(&signers.commit)
        .filter(|e| tip.is_some() && e.change != Change::Same)
        .map(Entry::describe)
        .collect();
    if let Some(id) = &signers.take {
        match trust::write_here(&git, &site.root, id) {
            Ok(()) => {
                report.received += 1;
                report.warnings.extend(signers.notice.take());
            }
            Err(e) => {
                report.warnings.push(e);
                signers.agreed = None;
            }
        }
    }
    // The agreed copy of allowed_signers only moves once the remote holds it.
    if let Some(agreed) = signers.agreed.as_ref().filter(|_| accepted || signers.commit.is_none()) {
        trust::record(&git_dir, agreed);
    }
    if let Some(t) = &tip {
        if head.as_ref() != Some(t) {
            report.received += update_worktree(&git, site, head.as_deref(), t, &snapshot, report)?;
        }
    }
    // What the remote is known to hold now: the reference for the next round's "was the
    // remote's history rewritten?" and "which commits came from the remote?".
    let known = if report.pushed { tip.as_ref() } else { upstream.as_ref() };
    if let Some(k) = known {
        git.ok(&["update-ref", "-m", COMMIT_PREFIX, &seen_ref, k], None)?;
    }
    refresh_index(&git, &git_dir);
    Ok(())
}

/// The ref keeping the last commit this clone knew the remote's branch at (`tracking` is moved by
/// every fetch, this one only by a round).
fn seen_ref(tracking: &str) -> String {
    format!(
        "refs/warroom/seen/{}",
        tracking.strip_prefix("refs/").unwrap_or(tracking)
    )
}

/// Was the remote's history rewritten since the last round: does its tip no longer contain
/// the commit it was last known at?
fn rewrite(git: &Git, seen: Option<&str>, upstream: Option<&str>) -> Result<bool, String> {
    let (Some(s), Some(u)) = (seen, upstream) else {
        return Ok(false);
    };
    if s == u {
        return Ok(false);
    }
    Ok(!git.run(&["merge-base", "--is-ancestor", s, u], None)?.ok)
}

/// The subject of a commit on the branch that neither sync made nor came from the remote (a
/// commit made by hand in the shared directory), if any. A commit the remote once had — still
/// there, or dropped since by a rewritten history — is not local.
fn local_commit(
    git: &Git,
    head: &str,
    upstream: &str,
    seen: Option<&str>,
    tracking: &str,
) -> Result<Option<String>, String> {
    let mut args: Vec<String> = ["log", "--format=%s", head, "--not", upstream]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend(seen.map(str::to_string));
    // Where the remote's branch was at each earlier fetch (a clone from before `seen` existed).
    if let Ok(o) = git.run(&["reflog", "--format=%H", "-n", "200", tracking, "--"], None) {
        if o.ok {
            args.extend(o.text().lines().filter(|l| !l.is_empty()).map(str::to_string));
        }
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let log = git.ok(&args, None)?.text();
    Ok(log.lines().find(|s| !s.starts_with(COMMIT_PREFIX)).map(str::to_string))
}

/// Everything the round commits.
fn entries(snapshot: &[Entry], restored: &[Entry], signers: &trust::Plan) -> Vec<Entry> {
    snapshot
        .iter()
        .chain(restored)
        .chain(&signers.commit)
        .cloned()
        .collect()
}

/// The commit's title: how many files it sends, and what it puts back.
fn message(site: &Site, snapshot: &[Entry], restored: &[Entry], signers: &trust::Plan) -> String {
    let own = snapshot.iter().filter(|e| e.change != Change::Restored).count();
    let own_restored = snapshot.len() - own;
    let mut parts = Vec::new();
    if own > 0 {
        parts.push(format!("{own} file(s)"));
    }
    if own_restored + restored.len() > 0 {
        parts.push(format!(
            "restores {} file(s) the remote deleted or rewrote",
            own_restored + restored.len()
        ));
    }
    if signers.commit.is_some() {
        parts.push(format!("{} changed", crate::store::ALLOWED_SIGNERS_FILE));
    }
    if parts.is_empty() {
        parts.push("0 file(s)".into());
    }
    format!(
        "{COMMIT_PREFIX} from {}.{}: {}",
        site.host,
        site.install,
        parts.join(", ")
    )
}

/// What to fetch and the ref the remote's branch lands in. A configured remote uses its own
/// tracking ref; a URL is fetched into a private ref named by its hash, so a round can build on
/// what another site pushed there. Anything else is refused before a commit is made.
fn remote_source(git: &Git, site: &Site, remote: &str, branch: &str) -> Result<(Vec<String>, String), String> {
    let remotes = git.ok(&["remote"], None)?.text();
    let fetch = |rest: &[&str]| {
        ["fetch", "--quiet", "--no-tags", remote]
            .iter()
            .chain(rest)
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
    };
    if remotes.lines().any(|r| r == remote) {
        return Ok((fetch(&[]), format!("refs/remotes/{remote}/{branch}")));
    }
    if remote.contains('/') || remote.contains(':') {
        let key = &blake3::hash(remote.as_bytes()).to_hex()[..16];
        let spec = format!("+refs/heads/*:refs/warroom/tip/{key}/*");
        return Ok((fetch(&[&spec]), format!("refs/warroom/tip/{key}/{branch}")));
    }
    let root = site.root.display();
    Err(if remotes.is_empty() {
        format!(
            "{root} has no git remote, so there is nowhere to send records (nothing was committed): add one with `git remote add {remote} <url>` in that folder, or run `warroom sync --init <url>` in an empty folder"
        )
    } else {
        format!(
            "no git remote named `{remote}` in {root} (it has: {}); nothing was committed: pass one of those with --remote, or add it with `git remote add {remote} <url>` in that folder",
            remotes.lines().collect::<Vec<_>>().join(", ")
        )
    })
}

/// Branches the remote holds besides the one this site syncs: sites on different branches (a
/// `git init` on a host whose git defaults to `master`, beside clones of a remote on `main`)
/// never see each other's records, and each round would still say "up to date".
fn other_branches(git: &Git, tracking: &str, branch: &str) -> Result<Option<String>, String> {
    let Some(prefix) = tracking.strip_suffix(&format!("/{branch}")) else {
        return Ok(None);
    };
    let prefix = format!("{prefix}/");
    let refs = git.ok(&["for-each-ref", "--format=%(refname)", &prefix], None)?.text();
    let others: Vec<String> = refs
        .lines()
        .filter_map(|r| r.strip_prefix(&prefix))
        .filter(|b| *b != branch && *b != "HEAD")
        .map(|b| format!("`{}`", crate::domain::sanitize(b)))
        .collect();
    Ok((!others.is_empty()).then(|| {
        format!(
            "the remote also has branch {} but this site syncs `{}`: sites on different branches never see each other's records. Put every site on one branch: here, `git -C <shared dir> symbolic-ref HEAD refs/heads/<their branch>` (the files stay; sync commits this site's own), then sync; once no site uses a branch, delete it from the remote (`git -C <shared dir> push <remote> --delete <branch>`; the other sites then run `git -C <shared dir> fetch --prune <remote>`)",
            others.join(", "),
            crate::domain::sanitize(branch),
        )
    }))
}

/// Git's reason for a failure, for one report line: the `remote:` lines (a hook's reason) and
/// git's own `error:`/`fatal:`/rejection lines first, control characters removed, bounded.
pub fn reason(text: &str) -> String {
    // Sequences first, over the whole text: one may span what later splits into lines.
    let text = crate::domain::termtext::plain_text(text);
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let key: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| {
            ["remote:", "error:", "fatal:", "!"].iter().any(|p| l.starts_with(p))
                && !l.trim_start_matches("remote:").trim().is_empty()
        })
        .collect();
    let chosen = if key.is_empty() { lines } else { key };
    // Whole escape sequences go (a hook's `ESC ]0;title BEL` leaves nothing, not `]0;title`).
    let mut out = chosen
        .iter()
        .take(10)
        .map(|l| sanitize(l).trim().to_string())
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    if out.chars().count() > 800 {
        out = out.chars().take(800).collect::<String>() + "…";
    }
    out
}

/// A file this install commits: its path, the blob of the bytes snapshotted, and how it changed.
#[derive(Debug, Clone)]
struct Entry {
    path: String,
    blob: String,
    change: Change,
}

impl Entry {
    fn describe(&self) -> String {
        match self.change {
            Change::Appended { lines } => format!("{} +{lines} line(s)", self.path),
            Change::Restored => format!("{} (restored)", self.path),
            Change::Trust => format!("{} (changed here)", self.path),
            _ => format!("{} (new)", self.path),
        }
    }
}

fn rev(git: &Git, name: &str) -> Result<Option<String>, String> {
    let out = git.run(
        &["rev-parse", "--verify", "--quiet", &format!("{name}^{{commit}}")],
        None,
    )?;
    Ok(out.ok.then(|| out.text()).filter(|s| !s.is_empty()))
}

fn check_toplevel(git: &Git, root: &Path) -> Result<(), String> {
    let out = git.run(&["rev-parse", "--show-toplevel"], None)?;
    let top = PathBuf::from(out.text());
    let same = out.ok && top.canonicalize().ok().as_deref() == Some(root);
    if same {
        Ok(())
    } else {
        Err(setup_help(root))
    }
}

fn ensure_attributes(root: &Path) -> Result<(), String> {
    let path = root.join(plan::ATTRIBUTES_FILE);
    let current = std::fs::read_to_string(&path).ok();
    if let Some(text) = plan::attributes_needed(current.as_deref()) {
        let tmp = tempfile::Builder::new()
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666))
            .tempfile_in(root)
            .map_err(|e| format!("cannot write in {}: {e}", root.display()))?;
        std::fs::write(tmp.path(), text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        tmp.persist(&path)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}

/// Attributes in `$GIT_DIR/info/attributes` take precedence over any committed
/// `.gitattributes`: no git command this clone runs ever converts, filters or expands a record,
/// whatever another site commits.
fn ensure_info_attributes(git_dir: &Path) -> Result<(), String> {
    let info = git_dir.join("info");
    let path = info.join("attributes");
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    if current.lines().any(|l| l.trim() == plan::INFO_ATTRIBUTES) {
        return Ok(());
    }
    std::fs::create_dir_all(&info).map_err(|e| format!("cannot create {}: {e}", info.display()))?;
    let mut text = current;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(plan::INFO_ATTRIBUTES);
    text.push('\n');
    std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Files of other writers (or claims) that differ locally from git's copy and are not an
/// extension of it (another install sharing this clone writes ahead of git; a round cut off
/// half-way may have appended already): never committed, reported. `git checkout` is offered
/// only where git's copy is one sync itself would have written here (a regular file that extends
/// the local copy, or a content-addressed file that matches its name): never for a file sync
/// refused, which checking out would plant (a symlink to `/etc`, a rewritten log).
fn foreign_changes(git: &Git, site: &Site, have_head: bool) -> Result<Vec<String>, String> {
    if !have_head {
        return Ok(Vec::new());
    }
    let out = git.ok(&["diff", "--name-only", "--no-renames", "-z"], None)?;
    let paths: Vec<&str> = out
        .stdout
        .split(|b| *b == 0)
        .filter_map(|p| std::str::from_utf8(p).ok())
        .filter(|p| !p.is_empty() && plan::safe_path(p))
        .filter(|p| {
            !matches!(
                plan::classify(p, &site.install),
                Kind::OwnLog | Kind::Attributes | Kind::Trust
            )
        })
        .filter(|p| !p.split('/').any(|c| c.eq_ignore_ascii_case(".git")))
        .collect();
    if paths.is_empty() {
        return Ok(Vec::new());
    }
    let in_git = tree_of(git, Some("HEAD"))?;
    let ids: Vec<String> = paths
        .iter()
        .filter_map(|p| in_git.get(*p))
        .filter(|(mode, _)| regular_mode(mode))
        .map(|(_, id)| id.clone())
        .collect();
    let known = cat_blobs(git, &ids)?;
    let mut out = Vec::new();
    for p in paths {
        let Some((mode, id)) = in_git.get(p) else {
            continue;
        };
        if !regular_mode(mode) {
            out.push(format!(
                "{p}: the remote's commit has a {} here, which sync refused to write (it could point outside the shared directory): left out on purpose; do not check it out with git",
                if mode == "120000" { "symlink" } else { "non-regular file" }
            ));
            continue;
        }
        if let Some(dir) = symlinked_folder(&site.root, p) {
            out.push(format!(
                "{p}: {} is not a folder here (a symlink?): sync refused to write through it; do not check it out with git",
                dir.display()
            ));
            continue;
        }
        let Some(git_copy) = known.get(id) else {
            continue;
        };
        let kind = plan::classify(p, &site.install);
        let local = match std::fs::symlink_metadata(site.root.join(p)) {
            Err(_) => None,
            Ok(m) if !m.file_type().is_file() => {
                out.push(format!(
                    "{p}: not a regular file here (a symlink?): not committed, not replaced; move it away"
                ));
                continue;
            }
            Ok(_) => std::fs::read(site.root.join(p)).ok(),
        };
        let writable = match (&kind, &local) {
            // Another install sharing this clone writes ahead of git: nothing to say.
            (Kind::OtherLog, Some(l)) if l.starts_with(git_copy) => continue,
            (Kind::OtherLog, l) => {
                plan::complete_lines(git_copy).len() == git_copy.len()
                    && l.as_ref().is_none_or(|l| git_copy.starts_with(l))
            }
            (Kind::Playbook { hash } | Kind::Cast { hash }, _) => {
                blake3::hash(git_copy).to_hex().as_str() == hash.as_str()
            }
            (Kind::Header, l) => l.is_none(),
            _ => false,
        };
        out.push(if writable {
            format!(
                "{p} differs from git's copy here (rolled back or edited locally?): not committed; `git -C {} checkout -- {p}` restores git's copy",
                site.root.display()
            )
        } else {
            format!(
                "{p} differs from git's copy here, which does not extend it (the remote's copy was refused here, or this copy was edited): the local copy is kept, not committed; `warroom verify` checks it"
            )
        });
    }
    Ok(out)
}

fn regular_mode(mode: &str) -> bool {
    mode == "100644" || mode == "100755"
}

/// The first folder on the way to `path` that is not a real folder here (a symlink), if any.
fn symlinked_folder(root: &Path, path: &str) -> Option<PathBuf> {
    let mut dir = root.to_path_buf();
    let parts: Vec<&str> = path.split('/').collect();
    for part in &parts[..parts.len().saturating_sub(1)] {
        dir.push(part);
        match std::fs::symlink_metadata(&dir) {
            Ok(m) if m.file_type().is_dir() => {}
            Ok(_) => return Some(dir),
            Err(_) => return None,
        }
    }
    None
}

/// Blobs by name (an id, or `:path` for the index's copy), read with `git cat-file --batch`:
/// raw bytes, no attribute or filter applies. Names git does not know are left out.
fn cat_blobs(git: &Git, names: &[String]) -> Result<HashMap<String, Vec<u8>>, String> {
    let mut out = HashMap::new();
    if names.is_empty() {
        return Ok(out);
    }
    let input: String = names.iter().map(|n| format!("{n}\n")).collect();
    let raw = git.ok(&["cat-file", "--batch"], Some(input.as_bytes()))?.stdout;
    let mut rest = &raw[..];
    for name in names {
        let Some(nl) = rest.iter().position(|b| *b == b'\n') else {
            break;
        };
        let header = String::from_utf8_lossy(&rest[..nl]).into_owned();
        rest = &rest[nl + 1..];
        if header.ends_with(" missing") || header.ends_with(" ambiguous") {
            continue;
        }
        // `<id> <type> <size>` (the id, not the name asked for: a path with spaces is fine).
        let f: Vec<&str> = header.split(' ').collect();
        if let [_, "blob", size] = f.as_slice() {
            let size: usize = size.parse().map_err(|_| format!("git cat-file said `{header}`"))?;
            if rest.len() < size + 1 {
                return Err("git cat-file --batch ended early".into());
            }
            out.insert(name.clone(), rest[..size].to_vec());
            rest = &rest[size + 1..];
        } else if let [_, _, size] = f.as_slice() {
            // Not a blob (a tree or commit named by a hostile path): skip its bytes.
            let size: usize = size.parse().unwrap_or(0);
            rest = rest.get(size + 1..).unwrap_or(&[]);
        }
        // "<name> missing": nothing follows.
    }
    Ok(out)
}

/// `git ls-tree -r -z` of a commit: path → (mode, blob id).
fn tree_of(git: &Git, commit: Option<&str>) -> Result<HashMap<String, (String, String)>, String> {
    let Some(c) = commit else {
        return Ok(HashMap::new());
    };
    let out = git.ok(&["ls-tree", "-r", "-z", "--full-tree", c], None)?;
    Ok(out
        .stdout
        .split(|b| *b == 0)
        .filter_map(|rec| {
            // A name that is not UTF-8 keeps U+FFFD in place of its bad bytes: `safe_path`
            // refuses it, and the round reports it rather than dropping it without a word.
            let rec = String::from_utf8_lossy(rec);
            let (meta, path) = rec.split_once('\t')?;
            let mut f = meta.split(' ');
            let (mode, kind, id) = (f.next()?, f.next()?, f.next()?);
            (kind == "blob").then(|| (path.to_string(), (mode.to_string(), id.to_string())))
        })
        .collect())
}

/// Who made the remote's change to `path` since this clone's last commit, for a tampering report
/// (the remote's tip itself without a `head`, or when no commit since touched the path). The
/// author's name and address come from the remote: sanitised.
fn blame(git: &Git, head: Option<&str>, base: Option<&str>, path: &str) -> String {
    let Some(b) = base else {
        return "commit unknown".into();
    };
    let range = match head {
        Some(h) => format!("{h}..{b}"),
        None => b.to_string(),
    };
    let said = |args: &[&str]| {
        git.run(args, None)
            .ok()
            .filter(|o| o.ok && !o.text().is_empty())
            .map(|o| sanitize(&o.text()))
    };
    let format = "--format=commit %h by %an <%ae>";
    // A path no commit of a rewritten history touches: the author of its tip.
    (!path.is_empty())
        .then(|| said(&["log", "-1", format, &range, "--", path]))
        .flatten()
        .or_else(|| said(&["log", "-1", format, b]))
        .unwrap_or_else(|| "commit unknown".into())
}

/// The commit that deleted `path` in `from..base`: one whose parent had it, never a commit that
/// merely predates it. Remote text: sanitised.
fn deleted_by(git: &Git, from: &str, base: &str, path: &str) -> String {
    let range = format!("{from}..{base}");
    git.run(
        &[
            "log",
            "-1",
            "--no-renames",
            "--diff-filter=D",
            "--format=commit %h by %an <%ae>",
            &range,
            "--",
            path,
        ],
        None,
    )
    .ok()
    .filter(|o| o.ok && !o.text().is_empty())
    .map(|o| sanitize(&o.text()))
    .unwrap_or_else(|| "no commit since the last sync deletes it".into())
}

/// A rewritten history's tip, for a file it dropped: no commit of it is blamed for the drop (the
/// new history may reuse old commits that predate the file). Remote text: sanitised.
fn force_push(git: &Git, tip: &str) -> String {
    git.run(&["log", "-1", "--format=%h, committed by %cn <%ce>", tip], None)
        .ok()
        .filter(|o| o.ok && !o.text().is_empty())
        .map(|o| format!("force-push to {}", sanitize(&o.text())))
        .unwrap_or_else(|| "force-push".into())
}

/// Other writers' files (logs, claims, playbook copies, recordings) that the remote deleted or
/// rewrote since the last commit both sides share: their known-good copy goes back into this
/// round's commit, and each is reported. The remote only ever gets appends.
fn restores(
    git: &Git,
    site: &Site,
    head: Option<&str>,
    base: Option<&str>,
    rewritten: bool,
) -> Result<(Vec<Entry>, Vec<String>), String> {
    let (Some(h), Some(b)) = (head, base) else {
        return Ok((Vec::new(), Vec::new()));
    };
    if h == b {
        return Ok((Vec::new(), Vec::new()));
    }
    // The last commit both sides share; after a rewritten history there is none that holds
    // what the remote had, so what this clone has is the reference.
    let mb = git.run(&["merge-base", h, b], None)?;
    let mb = if rewritten || !mb.ok { h.to_string() } else { mb.text() };
    let before = tree_of(git, Some(&mb))?;
    let now = tree_of(git, Some(b))?;
    let mut changed: Vec<(&String, &String, Option<&String>)> = Vec::new();
    for (path, (_, id)) in &before {
        let kind = plan::classify(path, &site.install);
        if matches!(kind, Kind::OwnLog | Kind::Attributes | Kind::Trust | Kind::Foreign) || !plan::safe_path(path) {
            continue;
        }
        match now.get(path) {
            Some((mode, nid)) if nid == id && (mode == "100644" || mode == "100755") => {}
            Some((mode, nid)) => changed.push((path, id, (mode == "100644" || mode == "100755").then_some(nid))),
            None => changed.push((path, id, None)),
        }
    }
    changed.sort();
    let mut names: Vec<String> = Vec::new();
    for (_, id, nid) in &changed {
        names.push((*id).clone());
        if let Some(n) = nid {
            names.push((*n).clone());
        }
    }
    let blobs = cat_blobs(git, &names)?;
    let mut entries = Vec::new();
    let mut said = Vec::new();
    for (path, id, nid) in changed {
        let what = match nid {
            None => "deleted",
            Some(n) => {
                let grown = plan::classify(path, &site.install) == Kind::OtherLog
                    && match (blobs.get(id), blobs.get(n)) {
                        (Some(old), Some(new)) => new.starts_with(old),
                        _ => false,
                    };
                if grown {
                    continue;
                }
                "rewritten"
            }
        };
        let how = if rewritten {
            let gone = if nid.is_none() {
                "gone from the remote"
            } else {
                "changed on the remote"
            };
            format!("{gone} after its history was rewritten ({})", force_push(git, b))
        } else if nid.is_none() {
            format!("deleted on the remote ({})", deleted_by(git, &mb, b, path))
        } else {
            format!("{what} on the remote ({})", blame(git, Some(&mb), Some(b), path))
        };
        said.push(format!(
            "{path}: TAMPERING? {how}, where its writer only ever appends: the copy this site had is kept here and committed back"
        ));
        entries.push(Entry {
            path: path.clone(),
            blob: id.clone(),
            change: Change::Restored,
        });
    }
    Ok((entries, said))
}

/// The files this install commits this round, with their bytes stored as blobs.
fn snapshot(
    git: &Git,
    site: &Site,
    base: Option<&str>,
    head: Option<&str>,
    rewritten: bool,
    report: &mut Report,
) -> Result<Vec<Entry>, String> {
    let tree = |c: Option<&str>| -> Result<HashMap<String, (String, u64)>, String> {
        Ok(match c {
            Some(b) => plan::parse_ls_tree(&git.ok(&["ls-tree", "-r", "-l", b], None)?.text())
                .into_iter()
                .map(|(p, id, size)| (p, (id, size)))
                .collect(),
            None => HashMap::new(),
        })
    };
    let in_base = tree(base)?;
    // What the remote held when this clone last synced with it (the part of `head` both share;
    // all of `head` when the remote's history was rewritten): the reference that says whether
    // the remote or this copy moved. Not `head` itself: a commit whose push the remote refused
    // is only here, and a log missing from the remote because of that is no tampering.
    let in_head = match (head, base) {
        (Some(h), Some(b)) if h != b => {
            if rewritten {
                tree(head)?
            } else {
                let mb = git.run(&["merge-base", h, b], None)?;
                if mb.ok {
                    tree(Some(&mb.text()))?
                } else {
                    HashMap::new()
                }
            }
        }
        _ => HashMap::new(),
    };
    let mut entries = Vec::new();
    for (path, kind) in candidates(&site.root, &site.install) {
        if !plan::safe_path(&path) {
            continue;
        }
        let Ok(bytes) = std::fs::read(site.root.join(&path)) else {
            continue;
        };
        let known = in_base.get(&path);
        let bytes: Vec<u8> = match &kind {
            Kind::OwnLog => plan::complete_lines(&bytes).to_vec(),
            Kind::Header => {
                let ours = std::str::from_utf8(&bytes)
                    .ok()
                    .and_then(|t| ron::from_str::<Header>(t).ok())
                    .is_some_and(|h| plan::claim_is_ours(h.log.as_deref(), &site.install));
                if !ours || known.is_some() {
                    continue;
                }
                bytes
            }
            Kind::Playbook { hash } | Kind::Cast { hash } => {
                if known.is_some() {
                    continue;
                }
                if blake3::hash(&bytes).to_hex().as_str() != hash.as_str() {
                    report
                        .warnings
                        .push(format!("{path}: its content does not match its name (a playbook copy or recording is named by its hash): not committed"));
                    continue;
                }
                bytes
            }
            Kind::Attributes if known.is_none() => bytes,
            _ => continue,
        };
        if bytes.is_empty() {
            continue;
        }
        let change = match known {
            None => Change::New,
            // Same size: the same bytes unless edited; git's own hash says which, without a copy.
            Some((id, size)) if *size == bytes.len() as u64 => {
                if git
                    .ok(&["hash-object", "--no-filters", "--stdin"], Some(&bytes))?
                    .text()
                    == *id
                {
                    Change::Same
                } else {
                    Change::Rewritten
                }
            }
            Some((id, _)) => {
                let old = git.ok(&["cat-file", "blob", id], None)?.stdout;
                plan::compare(Some(&old), &bytes)
            }
        };
        // The remote's copy of this install's log is not what this install wrote, while the
        // local copy still holds everything this clone last had: the remote was rewritten (or
        // the log deleted there). The true log goes back over it.
        let tampered = kind == Kind::OwnLog
            && head != base
            && matches!(change, Change::RolledBack | Change::Rewritten | Change::New)
            && match in_head.get(&path) {
                Some((id, _)) => bytes.starts_with(&git.ok(&["cat-file", "blob", id], None)?.stdout),
                None => false,
            };
        let change = if tampered {
            let how = match (rewritten, head, base) {
                (true, _, Some(b)) => format!(
                    "{} after its history was rewritten ({})",
                    if known.is_some() { "was changed" } else { "is gone" },
                    force_push(git, b)
                ),
                (false, Some(h), Some(b)) if known.is_none() => {
                    format!("was deleted ({})", deleted_by(git, h, b, &path))
                }
                _ => format!("was rewritten ({})", blame(git, head, base, &path)),
            };
            report.warnings.push(format!(
                "{path}: TAMPERING? the remote's copy of your own log {how}: your true log is committed over it"
            ));
            Change::Restored
        } else {
            change
        };
        match change {
            Change::Same => continue,
            Change::RolledBack => {
                report.warnings.push(format!(
                    "{path}: your own log is shorter here than in git (rolled back locally; your next write restores it): not committed"
                ));
                continue;
            }
            Change::Rewritten => {
                report.warnings.push(format!(
                    "{path}: your own log no longer starts with what git holds (edited here?): not committed; `warroom verify` shows where"
                ));
                continue;
            }
            Change::New | Change::Appended { .. } | Change::Restored | Change::Trust => {}
        }
        let blob = git
            .ok(&["hash-object", "--no-filters", "-w", "--stdin"], Some(&bytes))?
            .text();
        entries.push(Entry { path, blob, change });
    }
    Ok(entries)
}

/// Paths (relative, `/`-separated) this install may commit, found without following symlinks.
fn candidates(root: &Path, install: &str) -> Vec<(String, Kind)> {
    let mut out = vec![(plan::ATTRIBUTES_FILE.to_string(), Kind::Attributes)];
    let mut ids: Vec<String> = list(root)
        .into_iter()
        .filter(|(n, dir)| *dir && valid_incident_id(n))
        .map(|(n, _)| n)
        .collect();
    ids.sort();
    for id in ids {
        let dir = root.join(&id);
        out.push((format!("{id}/{HEADER_FILE}"), Kind::Header));
        for sub in [EVENTS_DIR, PLAYBOOKS_DIR, CASTS_DIR] {
            let mut files: Vec<String> = list(&dir.join(sub))
                .into_iter()
                .filter(|(_, d)| !d)
                .map(|(n, _)| n)
                .collect();
            files.sort();
            for f in files {
                let path = format!("{id}/{sub}/{f}");
                if let k @ (Kind::OwnLog | Kind::Playbook { .. } | Kind::Cast { .. }) = plan::classify(&path, install) {
                    out.push((path, k));
                }
            }
        }
    }
    out.retain(|(p, k)| *k != Kind::Header || is_file(&root.join(p)));
    out
}

/// Entries of a folder as `(name, is_dir)`, symlinks left out.
fn list(dir: &Path) -> Vec<(String, bool)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let t = e.file_type().ok()?;
            if t.is_symlink() {
                return None;
            }
            let name = e.file_name().to_str()?.to_string();
            Some((name, t.is_dir()))
        })
        .collect()
}

fn is_file(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_file())
}

/// The author of sync commits: the responder's own git identity if set, else this install.
fn commit_identity(git: &Git, site: &Site) -> Git {
    let configured = git
        .run(&["config", "--get", "user.email"], None)
        .is_ok_and(|o| o.ok && !o.text().is_empty())
        || std::env::var_os("GIT_AUTHOR_EMAIL").is_some();
    if configured {
        return git.clone();
    }
    let name = format!("warroom sync ({}.{})", site.host, site.install);
    let email = format!("warroom@{}", site.host);
    git.with_env("GIT_AUTHOR_NAME", &name)
        .with_env("GIT_AUTHOR_EMAIL", &email)
        .with_env("GIT_COMMITTER_NAME", &name)
        .with_env("GIT_COMMITTER_EMAIL", &email)
}

/// The commit of `base` plus the snapshot, built in a temporary index; `base` itself when the
/// snapshot adds nothing; None when there is nothing at all.
fn build(
    git: &Git,
    git_dir: &Path,
    base: Option<&str>,
    entries: &[Entry],
    message: &str,
) -> Result<Option<String>, String> {
    if entries.is_empty() {
        return Ok(base.map(str::to_string));
    }
    let index = tempfile::Builder::new()
        .prefix("warroom-sync-index.")
        .tempfile_in(git_dir)
        .map_err(|e| format!("cannot make a temporary index in {}: {e}", git_dir.display()))?;
    let index_path = index.path().to_string_lossy().into_owned();
    // git wants to create the index itself.
    let _ = std::fs::remove_file(index.path());
    let g = git.with_env("GIT_INDEX_FILE", &index_path);
    let read = match base {
        Some(b) => g.run(&["read-tree", b], None)?,
        None => g.run(&["read-tree", "--empty"], None)?,
    };
    let tree = if read.ok {
        g.ok(
            &["update-index", "--add", "--replace", "--index-info"],
            Some(index_info(entries).as_bytes()),
        )?;
        g.ok(&["write-tree"], None)?.text()
    } else {
        // The remote's tree holds a path git refuses in an index (`.git/…`, put there with
        // `mktree`): the files are grafted onto its trees directly, so the site is not cut off.
        let paths: Vec<(Vec<&str>, &str)> = entries
            .iter()
            .map(|e| (e.path.split('/').collect(), e.blob.as_str()))
            .collect();
        graft(git, base.map(|b| format!("{b}^{{tree}}")).as_deref(), &paths)?
    };
    if let Some(b) = base {
        let base_tree = git.ok(&["rev-parse", &format!("{b}^{{tree}}")], None)?.text();
        if base_tree == tree {
            return Ok(Some(b.to_string()));
        }
    }
    let mut args = vec!["commit-tree", tree.as_str(), "-m", message];
    if let Some(b) = base {
        args.extend(["-p", b]);
    }
    Ok(Some(g.ok(&args, None)?.text()))
}

/// `tree` with each `(path components, blob)` put in place as a regular file (replacing whatever
/// was at that name, a symlink included), written with `git mktree`, which reads no index.
fn graft(git: &Git, tree: Option<&str>, entries: &[(Vec<&str>, &str)]) -> Result<String, String> {
    // (mode, type, id) by name.
    let mut items: std::collections::BTreeMap<String, (String, String, String)> = std::collections::BTreeMap::new();
    if let Some(t) = tree {
        for rec in git.ok(&["ls-tree", "-z", t], None)?.stdout.split(|b| *b == 0) {
            let Ok(rec) = std::str::from_utf8(rec) else {
                continue;
            };
            let Some((meta, name)) = rec.split_once('\t') else {
                continue;
            };
            let f: Vec<&str> = meta.split(' ').collect();
            if let [mode, kind, id] = f.as_slice() {
                items.insert(name.to_string(), (mode.to_string(), kind.to_string(), id.to_string()));
            }
        }
    }
    let mut subdirs: std::collections::BTreeMap<&str, Vec<(Vec<&str>, &str)>> = std::collections::BTreeMap::new();
    for (parts, blob) in entries {
        match parts.as_slice() {
            [] => {}
            [name] => {
                items.insert(name.to_string(), ("100644".into(), "blob".into(), blob.to_string()));
            }
            [dir, rest @ ..] => subdirs.entry(dir).or_default().push((rest.to_vec(), blob)),
        }
    }
    for (dir, inner) in subdirs {
        let existing = items
            .get(dir)
            .filter(|(_, kind, _)| kind == "tree")
            .map(|(_, _, id)| id.clone());
        let id = graft(git, existing.as_deref(), &inner)?;
        items.insert(dir.to_string(), ("040000".into(), "tree".into(), id));
    }
    let input: String = items
        .iter()
        .map(|(name, (mode, kind, id))| format!("{mode} {kind} {id}\t{name}\0"))
        .collect();
    Ok(git.ok(&["mktree", "-z"], Some(input.as_bytes()))?.text())
}

fn index_info(entries: &[Entry]) -> String {
    entries
        .iter()
        .map(|e| format!("100644 {}\t{}\n", e.blob, e.path))
        .collect()
}

/// Bring the working tree from `head` to `tip` and move the branch, writing files itself and
/// only ever appending: a file another site added is created, a log another site extended grows
/// by the new bytes. Nothing is deleted or replaced here — this install's own files never, and
/// a file whose new copy is not an extension of the local one is kept and reported (a remote
/// deletion or rewrite of a log was restored in this round's commit already). Git's main index is
/// refreshed afterwards, best effort: a stale `index.lock` never fails a round.
fn update_worktree(
    git: &Git,
    site: &Site,
    head: Option<&str>,
    tip: &str,
    entries: &[Entry],
    report: &mut Report,
) -> Result<usize, String> {
    let old = tree_of(git, head)?;
    let new = tree_of(git, Some(tip))?;
    let mut todo: Vec<(&String, &String)> = Vec::new();
    for (path, (mode, id)) in &new {
        if old.get(path).is_some_and(|(_, o)| o == id) && head.is_some() {
            continue;
        }
        if entries.iter().any(|e| e.path == *path) {
            continue;
        }
        if !plan::safe_path(path) {
            report.warnings.push(format!(
                "\"{}\" (shown sanitised): a file whose name holds control characters, quotes, backslashes or bytes that are not UTF-8 in the remote's commit: not written here",
                sanitize(path)
            ));
            continue;
        }
        if path.split('/').any(|c| c.eq_ignore_ascii_case(".git")) {
            // git itself never checks such a path out: it would write into the repository (hooks).
            report.warnings.push(format!(
                "{path}: a path inside .git in the remote's commit: not written here"
            ));
            continue;
        }
        let kind = plan::classify(path, &site.install);
        // allowed_signers is the round's own decision (see `trust`).
        if matches!(kind, Kind::OwnLog | Kind::Trust) {
            continue;
        }
        if mode != "100644" && mode != "100755" {
            report.warnings.push(format!(
                "{path}: not a regular file in the remote's commit (a symlink?): not written here"
            ));
            continue;
        }
        todo.push((path, id));
    }
    todo.sort();
    let names: Vec<String> = todo.iter().map(|(_, id)| (*id).clone()).collect();
    let blobs = cat_blobs(git, &names)?;
    let mut received = 0;
    for (path, id) in todo {
        let Some(blob) = blobs.get(id) else {
            continue;
        };
        match write_one(&site.root, path, blob, plan::classify(path, &site.install)) {
            Ok(true) => received += 1,
            Ok(false) => {}
            Err(e) => report.warnings.push(e),
        }
    }
    match head {
        Some(h) => git.ok(&["update-ref", "-m", COMMIT_PREFIX, "HEAD", tip, h], None)?,
        None => git.ok(&["update-ref", "-m", COMMIT_PREFIX, "HEAD", tip], None)?,
    };
    Ok(received)
}

/// Git's main index in step with HEAD, so `git status` shows only what differs locally. A round
/// never needs the index: a stale `index.lock` (reported at the start of the round) or an
/// interrupted earlier round only leaves `git status` out of date until the next round.
fn refresh_index(git: &Git, git_dir: &Path) {
    if git_dir.join("index.lock").exists() {
        return;
    }
    // One tree with -m keeps the stat data of unchanged entries (no file read again).
    let read = git.run(&["read-tree", "-m", "HEAD"], None).is_ok_and(|o| o.ok)
        || git.run(&["read-tree", "HEAD"], None).is_ok_and(|o| o.ok);
    if read {
        let _ = git.run(&["update-index", "-q", "--refresh"], None);
    }
}

/// Write one file of another site: create it if missing, append if the new copy extends the
/// local one. Ok(true) when something was written; Err says why a differing file was kept.
fn write_one(root: &Path, path: &str, blob: &[u8], kind: Kind) -> Result<bool, String> {
    use std::io::Write;
    let target = root.join(path);
    // Never through a symlink: every folder on the way must be a real folder (or be created).
    let mut dir = root.to_path_buf();
    let parts: Vec<&str> = path.split('/').collect();
    for part in &parts[..parts.len().saturating_sub(1)] {
        dir.push(part);
        match std::fs::symlink_metadata(&dir) {
            Ok(m) if m.file_type().is_dir() => {}
            Ok(_) => {
                return Err(format!(
                    "{path}: {} is not a folder here (a symlink?): not written",
                    dir.display()
                ))
            }
            Err(_) => std::fs::create_dir(&dir).map_err(|e| format!("{path}: cannot create {}: {e}", dir.display()))?,
        }
    }
    let local = match std::fs::symlink_metadata(&target) {
        Err(_) => {
            if kind == Kind::OtherLog && plan::complete_lines(blob).len() != blob.len() {
                return Err(format!("{path}: the remote's copy ends in a partial line: not written"));
            }
            // 0o666 less the umask, as git would create it (a temporary file is 0o600 otherwise,
            // unreadable to the other responders of a shared clone).
            let tmp = tempfile::Builder::new()
                .prefix(".warroom-sync.")
                .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666))
                .tempfile_in(&dir)
                .map_err(|e| format!("{path}: cannot write in {}: {e}", dir.display()))?;
            std::fs::write(tmp.path(), blob).map_err(|e| format!("{path}: cannot write: {e}"))?;
            tmp.persist_noclobber(&target)
                .map_err(|e| format!("{path}: cannot create: {}", e.error))?;
            return Ok(true);
        }
        Ok(m) if !m.file_type().is_file() => {
            return Err(format!("{path}: not a regular file here (a symlink?): left as it is"));
        }
        Ok(_) => std::fs::read(&target).map_err(|e| format!("{path}: cannot read: {e}"))?,
    };
    if local == blob || (kind == Kind::OtherLog && local.starts_with(blob)) {
        // The same, or another install sharing this clone has written ahead of git.
        return Ok(false);
    }
    if kind == Kind::Attributes {
        // This site's own `.gitattributes` stays; sync never relies on it (see info/attributes).
        return Ok(false);
    }
    if kind == Kind::OtherLog && blob.starts_with(&local) {
        let more = plan::complete_lines(&blob[local.len()..]);
        if more.is_empty() {
            return Ok(false);
        }
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&target)
            .map_err(|e| format!("{path}: cannot append: {e}"))?;
        f.write_all(more).map_err(|e| format!("{path}: cannot append: {e}"))?;
        return Ok(true);
    }
    Err(format!(
        "{path}: the remote's copy is not an extension of the one here: the local copy is kept (`warroom verify` checks it)"
    ))
}

fn rand_ms(max: u64) -> u64 {
    use rand::Rng;
    rand::rng().random_range(0..max.max(1))
}

/// `warroom sync --init URL`: make the shared directory (missing, empty, or holding incidents
/// already) a repository with the remote and its default branch, and fetch it. Nothing is
/// checked out: a plain `git clone` writes the remote's tree as it is (a symlink to `/etc`, a name
/// with escape characters, a file through a `.gitattributes` filter) before any check of sync
/// runs. The branch is left unborn, so the round that follows writes every file itself, like any
/// round, and reports what it refused.
pub fn init(root: &Path, remote: &str, url: &str, timeout: Duration) -> Result<String, String> {
    let git = Git::new(root, timeout);
    if check_toplevel(&git, root).is_ok() {
        return Ok(format!("{} is a git repository already", root.display()));
    }
    std::fs::create_dir_all(root).map_err(|e| format!("cannot create {}: {e}", root.display()))?;
    let empty = std::fs::read_dir(root).map(|mut d| d.next().is_none()).unwrap_or(false);
    if empty {
        // A clone, not init + fetch: only a clone learns the branch of an empty remote's HEAD.
        let root_s = root.to_string_lossy().into_owned();
        git.ok(
            &[
                "clone",
                "--quiet",
                "--no-checkout",
                "--no-tags",
                "--origin",
                remote,
                "--",
                url,
                &root_s,
            ],
            None,
        )?;
    } else {
        git.ok(&["init", "--quiet"], None)?;
        git.ok(&["remote", "add", "--", remote, url], None)?;
    }
    // Before anything of the remote's is read (the round does it too).
    let git_dir = PathBuf::from(git.ok(&["rev-parse", "--absolute-git-dir"], None)?.text());
    ensure_info_attributes(&git_dir)?;
    if empty {
        // The clone's branch starts at the remote's tip; unborn, the first round writes the files.
        if rev(&git, "HEAD")?.is_some() {
            git.ok(&["update-ref", "-d", "HEAD"], None)?;
        }
    } else {
        git.ok(&["fetch", "--quiet", "--no-tags", remote], None)?;
        if git
            .run(&["remote", "set-head", remote, "--auto"], None)
            .is_ok_and(|o| o.ok)
        {
            let head = git
                .ok(
                    &["symbolic-ref", "--quiet", &format!("refs/remotes/{remote}/HEAD")],
                    None,
                )?
                .text();
            if let Some(branch) = head.strip_prefix(&format!("refs/remotes/{remote}/")) {
                git.ok(&["symbolic-ref", "HEAD", &format!("refs/heads/{branch}")], None)?;
            }
        }
    }
    Ok(format!(
        "{} {} with {remote} = {url}: nothing checked out (sync writes the files it accepts)",
        if empty {
            "cloned into"
        } else {
            "initialised and fetched"
        },
        root.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rejecting_remote_keeps_its_words_and_gits_error_lines() {
        let said = "To /srv/git/warroom.git\n!\trefs/heads/main:refs/heads/main\t[remote rejected] (pre-receive hook declined)\nDone\n\
                    remote: REJECTED by policy\x1b[31m\nremote: \nerror: failed to push some refs to '/srv/git/warroom.git'\n";
        let r = reason(said);
        assert!(r.contains("REJECTED by policy"), "{r}");
        assert!(
            r.contains("pre-receive hook declined") && r.contains("failed to push"),
            "{r}"
        );
        assert!(!r.contains('\x1b') && !r.contains("Done"), "{r}");
        let long = "remote: x\n".repeat(500);
        assert!(reason(&long).chars().count() <= 801);
    }

    #[test]
    fn blobs_are_read_raw_and_missing_names_skipped() {
        let dir = tempfile::tempdir().expect("temp dir");
        let git = Git::new(dir.path(), Duration::from_secs(30));
        git.ok(&["init", "--quiet"], None).expect("init");
        let id = git
            .ok(&["hash-object", "--no-filters", "-w", "--stdin"], Some(b"a\r\nb\n"))
            .expect("blob")
            .text();
        let names = vec![":a b missing".to_string(), id.clone(), ":x y".to_string()];
        let blobs = cat_blobs(&git, &names).expect("cat-file");
        assert_eq!(blobs.len(), 1);
        assert_eq!(blobs.get(&id).map(Vec::as_slice), Some(&b"a\r\nb\n"[..]));
    }

    #[test]
    fn a_received_file_is_created_or_appended_never_replaced() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        let path = "2026-11-22-x-0001/events/a@b.zzzzzz.ronl";
        assert_eq!(write_one(root, path, b"one\n", Kind::OtherLog), Ok(true));
        assert_eq!(write_one(root, path, b"one\ntwo\n", Kind::OtherLog), Ok(true));
        assert_eq!(std::fs::read(root.join(path)).expect("file"), b"one\ntwo\n");
        // A shorter copy (this clone is ahead) changes nothing; a rewrite is refused.
        assert_eq!(write_one(root, path, b"one\n", Kind::OtherLog), Ok(false));
        assert!(write_one(root, path, b"ONE\n", Kind::OtherLog).is_err());
        assert_eq!(std::fs::read(root.join(path)).expect("file"), b"one\ntwo\n");
        // Created like git would: readable by the group and others as the umask allows.
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(root.join("plain"), b"x").expect("plain file");
        let mode = |p: &str| std::fs::metadata(root.join(p)).expect("file").permissions().mode() & 0o777;
        assert_eq!(mode(path), mode("plain"));
        // Never through a symlinked folder.
        std::os::unix::fs::symlink(root.join("2026-11-22-x-0001"), root.join("2026-11-22-y-0001")).expect("symlink");
        assert!(write_one(root, "2026-11-22-y-0001/events/c@d.zzzzzz.ronl", b"x\n", Kind::OtherLog).is_err());
    }
}
