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
//! 4. bring the working tree up to that commit with a two-tree `read-tree -m -u`, which writes
//!    only the files other sites changed: this install's own logs are never rewound, not even
//!    for a moment (a `git pull --rebase` would check out the old tip under a live writer).
//!
//! It never force-pushes and never commits another install's file: a file of another writer that
//! differs locally from git's copy was rolled back or edited here, and is reported instead.
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

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use git::{first_lines, Git};
use plan::{Change, Kind};

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
         warroom sync --init <url>          (clones the remote, or initialises and fetches it)\n  \
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

    let fetch = git.run(&["fetch", "--quiet", "--no-tags", &opts.remote], None)?;
    let fetch_error =
        (!fetch.ok).then(|| format!("cannot fetch from {}: {}", opts.remote, first_lines(&fetch.all(), 3)));
    let tracking = format!("refs/remotes/{}/{branch}", opts.remote);
    let mut upstream = rev(&git, &tracking)?;
    let head = rev(&git, "HEAD")?;
    if let (Some(u), Some(_)) = (&upstream, &head) {
        let log = git.ok(&["log", "--format=%s", &format!("{u}..HEAD")], None)?.text();
        if let Some(foreign) = log.lines().find(|s| !s.starts_with(COMMIT_PREFIX)) {
            return Err(format!(
                "the local branch has commits not made by warroom sync (\"{foreign}\"): push or drop them with git first"
            ));
        }
    }
    let mut base = upstream.clone().or_else(|| head.clone());

    let others = foreign_changes(&git, site, head.is_some())?;
    report.warnings.extend(others);
    let snapshot = snapshot(&git, site, base.as_deref(), report)?;
    let identity = commit_identity(&git, site);
    let message = format!(
        "{COMMIT_PREFIX} from {}.{}: {} file(s)",
        site.host,
        site.install,
        snapshot.len()
    );

    let mut tip = build(&identity, &git_dir, base.as_deref(), &snapshot, &message)?;
    if let Some(e) = fetch_error {
        report.error = Some(format!("{e}; your records are committed locally and go out next round"));
    } else {
        let mut attempt = 0;
        while let Some(t) = tip.clone().filter(|t| Some(t) != upstream.as_ref()) {
            let refspec = format!("{t}:refs/heads/{branch}");
            let push = git.run(&["push", "--porcelain", "--quiet", &opts.remote, &refspec], None)?;
            if push.ok {
                report.pushed = true;
                break;
            }
            let said = push.all();
            if plan::is_push_race(&said) && attempt < opts.retries {
                attempt += 1;
                report.races = attempt;
                std::thread::sleep(Duration::from_millis(100 * u64::from(attempt) + rand_ms(200)));
                git.ok(&["fetch", "--quiet", "--no-tags", &opts.remote], None)?;
                upstream = rev(&git, &tracking)?;
                base = upstream.clone().or_else(|| head.clone());
                tip = build(&identity, &git_dir, base.as_deref(), &snapshot, &message)?;
                continue;
            }
            report.error = Some(format!(
                "push to {} failed{}: {}; your records are committed locally and go out next round",
                opts.remote,
                if attempt > 0 {
                    format!(" after {attempt} retries")
                } else {
                    String::new()
                },
                first_lines(&said, 3)
            ));
            break;
        }
    }
    report.committed = snapshot
        .iter()
        .filter(|e| tip.is_some() && e.change != Change::Same)
        .map(Entry::describe)
        .collect();
    if let Some(t) = &tip {
        if head.as_ref() != Some(t) {
            report.received = update_worktree(&git, site, head.as_deref(), t, &snapshot)?;
        }
    }
    Ok(())
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
        let tmp =
            tempfile::NamedTempFile::new_in(root).map_err(|e| format!("cannot write in {}: {e}", root.display()))?;
        std::fs::write(tmp.path(), text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        tmp.persist(&path)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}

/// Files of other writers (or claims) that differ locally from git's copy: never committed,
/// reported with the way back.
fn foreign_changes(git: &Git, site: &Site, have_head: bool) -> Result<Vec<String>, String> {
    if !have_head {
        return Ok(Vec::new());
    }
    let out = git.ok(&["diff", "--name-only", "--no-renames", "-z"], None)?;
    Ok(out
        .stdout
        .split(|b| *b == 0)
        .filter_map(|p| std::str::from_utf8(p).ok())
        .filter(|p| !p.is_empty())
        .filter(|p| !matches!(plan::classify(p, &site.install), Kind::OwnLog | Kind::Attributes))
        .map(|p| {
            format!(
                "{p} differs from git's copy here (rolled back or edited locally?): not committed; `git -C {} checkout -- {p}` restores git's copy",
                site.root.display()
            )
        })
        .collect())
}

/// The files this install commits this round, with their bytes stored as blobs.
fn snapshot(git: &Git, site: &Site, base: Option<&str>, report: &mut Report) -> Result<Vec<Entry>, String> {
    let in_base: HashMap<String, (String, u64)> = match base {
        Some(b) => plan::parse_ls_tree(&git.ok(&["ls-tree", "-r", "-l", b], None)?.text())
            .into_iter()
            .map(|(p, id, size)| (p, (id, size)))
            .collect(),
        None => HashMap::new(),
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
        let bytes: Vec<u8> = match kind {
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
                if blake3::hash(&bytes).to_hex().as_str() != hash {
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
                if git.ok(&["hash-object", "--stdin"], Some(&bytes))?.text() == *id {
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
            Change::New | Change::Appended { .. } => {}
        }
        let blob = git.ok(&["hash-object", "-w", "--stdin"], Some(&bytes))?.text();
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
    match base {
        Some(b) => g.ok(&["read-tree", b], None)?,
        None => g.ok(&["read-tree", "--empty"], None)?,
    };
    g.ok(
        &["update-index", "--add", "--index-info"],
        Some(index_info(entries).as_bytes()),
    )?;
    let tree = g.ok(&["write-tree"], None)?.text();
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

fn index_info(entries: &[Entry]) -> String {
    entries
        .iter()
        .map(|e| format!("100644 {}\t{}\n", e.blob, e.path))
        .collect()
}

/// Move the working tree and branch from `head` to `tip`. Own files are staged at the snapshot
/// first, so git keeps them as they are (a writer may have appended since); other sites' files
/// are written. A local change to another writer's file that git would have to overwrite stops
/// the update, with git's reason.
fn update_worktree(git: &Git, site: &Site, head: Option<&str>, tip: &str, entries: &[Entry]) -> Result<usize, String> {
    if !entries.is_empty() {
        git.ok(
            &["update-index", "--add", "--index-info"],
            Some(index_info(entries).as_bytes()),
        )?;
    }
    let received = match head {
        Some(h) => git
            .ok(&["diff", "--name-only", "--no-renames", "-z", h, tip], None)?
            .stdout
            .split(|b| *b == 0)
            .filter_map(|p| std::str::from_utf8(p).ok())
            .filter(|p| !p.is_empty() && !entries.iter().any(|e| e.path == *p))
            .count(),
        None => 0,
    };
    let read = match head {
        Some(h) => git.run(&["read-tree", "-m", "-u", h, tip], None)?,
        None => git.run(&["read-tree", "-m", "-u", tip], None)?,
    };
    if !read.ok {
        return Err(format!(
            "cannot bring {} up to date (your records are committed): {}",
            site.root.display(),
            first_lines(&read.all(), 4)
        ));
    }
    git.ok(&["update-ref", "-m", COMMIT_PREFIX, "HEAD", tip], None)?;
    Ok(received)
}

fn rand_ms(max: u64) -> u64 {
    use rand::Rng;
    rand::rng().random_range(0..max.max(1))
}

/// `warroom sync --init URL`: clone into an empty shared directory, or make a non-empty one a
/// repository with the remote and its default branch.
pub fn init(root: &Path, remote: &str, url: &str, timeout: Duration) -> Result<String, String> {
    let git = Git::new(root, timeout);
    if check_toplevel(&git, root).is_ok() {
        return Ok(format!("{} is a git repository already", root.display()));
    }
    let empty = std::fs::read_dir(root).map(|mut d| d.next().is_none()).unwrap_or(true);
    if empty {
        let root_s = root.to_string_lossy().into_owned();
        git.ok(&["clone", "--quiet", "--origin", remote, "--", url, &root_s], None)?;
        return Ok(format!("cloned {url} into {}", root.display()));
    }
    git.ok(&["init", "--quiet"], None)?;
    git.ok(&["remote", "add", remote, url], None)?;
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
    Ok(format!("initialised {} with {remote} = {url}", root.display()))
}
