//! `warroom sync`: two sites (two clones of a bare repository, each its own shared directory and
//! its own installs) converge through git with no merge conflict, nothing lost, a lost push race
//! retried, an offline site catching up, and no rollback of a live writer's log. All local: the
//! "remote" is a bare repository in a temporary folder. Also: rsync both ways.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{check_chain, note_texts, Run, Who, World};
use serde_json::Value;

/// Git with no global or system configuration of the machine running the tests (CI's git has
/// none; a developer's may have autocrlf or hooks), and an identity for the test's own commits.
fn git_env(c: &mut Command, home: &Path) {
    c.env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", home.join("gitconfig"))
        .env("HOME", home)
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE");
}

struct Sites {
    remote: tempfile::TempDir,
    a: World,
    b: World,
    alice: Who,
    bob: Who,
}

impl Sites {
    fn bare(&self) -> PathBuf {
        self.remote.path().join("remote.git")
    }

    /// Two sites cloned from an empty bare repository with `warroom sync --init`.
    fn new() -> Sites {
        let remote = tempfile::tempdir().expect("temp dir");
        std::fs::write(remote.path().join("gitconfig"), "[init]\n\tdefaultBranch = main\n").expect("gitconfig");
        let s = Sites {
            a: World::new(),
            b: World::new(),
            remote,
            alice: Who {
                user: "alice".into(),
                host: "site-a".into(),
                state: PathBuf::new(),
                skew_ms: None,
            },
            bob: Who {
                user: "bob".into(),
                host: "site-b".into(),
                state: PathBuf::new(),
                skew_ms: None,
            },
        };
        let s = Sites {
            alice: s.a.who("alice", "site-a"),
            bob: s.b.who("bob", "site-b"),
            ..s
        };
        let bare = s.bare();
        s.git(
            s.remote.path(),
            &["init", "--quiet", "--bare", "-b", "main", &bare.to_string_lossy()],
        );
        let url = bare.to_string_lossy().into_owned();
        s.warroom(&s.a, &s.alice, &["sync", "--init", &url]).ok();
        s.warroom(&s.b, &s.bob, &["sync", "--init", &url]).ok();
        s
    }

    fn git(&self, dir: &Path, args: &[&str]) -> String {
        let mut c = Command::new("git");
        c.arg("-C").arg(dir).args(args).stdin(Stdio::null());
        git_env(&mut c, self.remote.path());
        c.env("GIT_AUTHOR_NAME", "test")
            .env("GIT_AUTHOR_EMAIL", "test@example.invalid")
            .env("GIT_COMMITTER_NAME", "test")
            .env("GIT_COMMITTER_EMAIL", "test@example.invalid");
        let out = c.output().expect("run git");
        let run = Run::from_output(out);
        assert_eq!(run.code, 0, "git {args:?} in {}\n{run}", dir.display());
        run.stdout
    }

    fn warroom(&self, w: &World, who: &Who, args: &[&str]) -> Run {
        let mut c = w.cmd(who);
        git_env(&mut c, self.remote.path());
        Run::from_output(c.args(args).output().expect("run warroom"))
    }

    /// A plain git clone of the remote, for a hostile (or careless) site's commits.
    fn evil(&self) -> PathBuf {
        let dir = self.remote.path().join("evil");
        if !dir.exists() {
            let url = self.bare().to_string_lossy().into_owned();
            self.git(self.remote.path(), &["clone", "--quiet", &url, &dir.to_string_lossy()]);
        } else {
            self.git(&dir, &["pull", "--quiet", "--ff-only"]);
        }
        dir
    }

    /// Commit everything in the evil clone and push it.
    fn evil_push(&self, message: &str) {
        let dir = self.evil();
        self.git(&dir, &["add", "-A"]);
        self.git(&dir, &["commit", "--quiet", "-m", message]);
        self.git(&dir, &["push", "--quiet", "origin", "HEAD:main"]);
    }

    fn sync_a(&self) -> Run {
        self.warroom(&self.a, &self.alice, &["sync"]).ok()
    }
    fn sync_b(&self) -> Run {
        self.warroom(&self.b, &self.bob, &["sync"]).ok()
    }

    /// Both sites: same state, same timeline, verify clean, git clean, linear history equal to
    /// the remote's, no merge commit and no conflict marker anywhere.
    fn assert_converged(&self, id: &str) -> Vec<String> {
        let show_a = strip_volatile(self.a.show(&self.alice, id));
        let show_b = strip_volatile(self.b.show(&self.bob, id));
        assert_eq!(show_a, show_b, "the two sites disagree on the state");
        let tail_a = self.a.tail_json(&self.alice, id);
        let tail_b = self.b.tail_json(&self.bob, id);
        assert_eq!(tail_a, tail_b, "the two sites disagree on the timeline");
        self.warroom(&self.a, &self.alice, &["verify", id]).ok();
        self.warroom(&self.b, &self.bob, &["verify", id]).ok();
        let main = self.git(&self.bare(), &["rev-parse", "main"]);
        for (w, name) in [(&self.a, "A"), (&self.b, "B")] {
            let root = w.root();
            assert_eq!(
                self.git(&root, &["rev-parse", "HEAD"]),
                main,
                "site {name} is not at the remote's tip"
            );
            assert_eq!(
                self.git(&root, &["status", "--porcelain"]),
                "",
                "site {name} has changes git did not take"
            );
            assert_eq!(
                self.git(&root, &["rev-list", "--merges", "HEAD"]),
                "",
                "a merge commit on site {name}"
            );
            for log in w.logs(id) {
                check_chain(id, &log);
            }
        }
        assert!(
            !tail_a.iter().any(|e| e["kind"] == "LogRestored"),
            "sync rolled a log back (the writer had to restore it)"
        );
        note_texts(&tail_a)
    }
}

/// `show --json` carries times relative to now (deadlines); drop what the clock moves.
fn strip_volatile(mut v: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(m) => {
                m.retain(|k, _| {
                    !matches!(
                        k.as_str(),
                        "remaining" | "age" | "now" | "due_in" | "overdue" | "dir" | "clocks"
                    )
                });
                m.values_mut().for_each(walk);
            }
            Value::Array(a) => a.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut v);
    v
}

#[test]
fn two_sites_converge_without_conflict_and_nothing_is_lost() {
    let s = Sites::new();
    let id = s.a.declare(&s.alice, "Finance file servers encrypted");
    let out = s.sync_a();
    assert!(out.stderr.contains("pushed to origin"), "{out}");
    // Site B gets the incident, the claim and the playbook copy.
    let out = s.sync_b();
    assert!(out.stderr.contains("received"), "{out}");
    assert_eq!(s.b.show(&s.bob, &id)["title"], "Finance file servers encrypted");
    // `.gitattributes` keeps git away from line endings.
    let attrs = s.git(&s.bare(), &["show", "main:.gitattributes"]);
    assert!(
        attrs.contains("*.ronl -text") && attrs.contains("*.ron -text"),
        "{attrs}"
    );

    let mut expected = Vec::new();
    for round in 0..4 {
        for k in 0..2 {
            let t = format!("alice round {round} note {k}");
            s.a.note(&s.alice, &id, &t);
            expected.push(t);
            let t = format!("bob round {round} note {k}");
            s.b.note(&s.bob, &id, &t);
            expected.push(t);
        }
        // Interleave: sometimes A first, sometimes B; both have unpushed lines each time.
        if round % 2 == 0 {
            s.sync_a();
            s.sync_b();
        } else {
            s.sync_b();
            s.sync_a();
        }
    }
    s.sync_a();
    s.sync_b();
    s.sync_a();
    let notes = s.assert_converged(&id);
    for t in &expected {
        assert!(notes.contains(t), "lost: {t}");
    }
    // Each commit touched only its own install's logs: no log was ever changed by two sites,
    // so no two commits can conflict.
    let log = s.git(&s.bare(), &["log", "--format=@@%s", "--name-only", "main"]);
    let mut commits = 0;
    for commit in log.split("@@").filter(|c| !c.trim().is_empty()) {
        let mut lines = commit.lines();
        let subject = lines.next().unwrap_or_default();
        let install = subject
            .split_once(" from ")
            .and_then(|(_, rest)| rest.split_once(':'))
            .and_then(|(site, _)| site.rsplit_once('.'))
            .map(|(_, install)| install.to_string())
            .unwrap_or_else(|| panic!("not a sync commit: {subject}"));
        for path in lines.filter(|l| l.contains("/events/")) {
            assert!(
                path.ends_with(&format!(".{install}.ronl")),
                "{subject} changed {path}, another install's log"
            );
        }
        commits += 1;
    }
    assert!(commits >= 8, "{log}");
    // `list` says when this install last synced.
    let list = s.warroom(&s.a, &s.alice, &["list"]).ok();
    assert!(list.stderr.contains("sync: last synced"), "{list}");
    let list = s.warroom(&s.a, &s.alice, &["list", "--json"]).ok().json();
    assert_eq!(list["sync"]["remote"], "origin", "{list}");
    assert!(list["sync"]["last_error"].is_null(), "{list}");
}

#[test]
fn a_lost_push_race_is_retried() {
    let s = Sites::new();
    let id = s.a.declare(&s.alice, "Race");
    s.sync_a();
    s.sync_b();
    s.a.note(&s.alice, &id, "alice before the race");
    s.b.note(&s.bob, &id, "bob before the race");
    // Site A's pre-push hook lets site B push first, once: A's push is then refused by the
    // remote (its tip moved) and A must fetch, build again on B's commit and push.
    let hook = s.a.root().join(".git/hooks/pre-push");
    let marker = s.remote.path().join("raced");
    let mut script = String::from("#!/bin/sh\n");
    script.push_str(&format!(
        "[ -e '{}' ] && exit 0\n: > '{}'\n",
        marker.display(),
        marker.display()
    ));
    let (mut unset, mut set) = (String::new(), String::new());
    let mut c = s.b.cmd(&s.bob);
    git_env(&mut c, s.remote.path());
    for (k, v) in c.get_envs() {
        match v {
            Some(v) => set.push_str(&format!("{}='{}' ", k.to_string_lossy(), v.to_string_lossy())),
            None => unset.push_str(&format!("-u {} ", k.to_string_lossy())),
        }
    }
    script.push_str(&format!(
        "env -u GIT_DIR -u GIT_INDEX_FILE -u GIT_WORK_TREE -u GIT_QUARANTINE_PATH {unset}{set}'{}' sync >&2\n",
        common::BIN
    ));
    std::fs::write(&hook, script).expect("hook");
    let mut perm = std::fs::metadata(&hook).expect("hook").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(&hook, perm).expect("chmod");

    let out = s.sync_a();
    assert!(marker.exists(), "the hook did not run\n{out}");
    assert!(
        out.stderr.contains("race"),
        "A should have lost one race and retried\n{out}"
    );
    std::fs::remove_file(&hook).expect("rm hook");
    s.sync_b();
    let notes = s.assert_converged(&id);
    assert!(notes.contains(&"alice before the race".to_string()));
    assert!(notes.contains(&"bob before the race".to_string()));
}

#[test]
fn both_sites_pushing_at_once_converge() {
    let s = Sites::new();
    let id = s.a.declare(&s.alice, "At once");
    s.sync_a();
    s.sync_b();
    for round in 0..3 {
        s.a.note(&s.alice, &id, &format!("a{round}"));
        s.b.note(&s.bob, &id, &format!("b{round}"));
        let spawn = |w: &World, who: &Who| {
            let mut c = w.cmd(who);
            git_env(&mut c, s.remote.path());
            c.arg("sync")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn")
        };
        let (pa, pb) = (spawn(&s.a, &s.alice), spawn(&s.b, &s.bob));
        Run::from_output(pa.wait_with_output().expect("wait")).ok();
        Run::from_output(pb.wait_with_output().expect("wait")).ok();
    }
    s.sync_a();
    s.sync_b();
    s.sync_a();
    let notes = s.assert_converged(&id);
    for r in 0..3 {
        assert!(
            notes.contains(&format!("a{r}")) && notes.contains(&format!("b{r}")),
            "{notes:?}"
        );
    }
}

#[test]
fn an_offline_site_keeps_its_records_and_catches_up() {
    let s = Sites::new();
    let id = s.a.declare(&s.alice, "Offline");
    s.sync_a();
    s.sync_b();
    let url = s.bare().to_string_lossy().into_owned();
    let broot = s.b.root();
    s.git(&broot, &["remote", "set-url", "origin", "/nonexistent/remote.git"]);
    for k in 0..3 {
        s.b.note(&s.bob, &id, &format!("offline {k}"));
        let out = s.warroom(&s.b, &s.bob, &["sync"]).code(1);
        assert!(out.stderr.contains("committed locally"), "{out}");
        s.a.note(&s.alice, &id, &format!("online {k}"));
        s.sync_a();
    }
    let list = s.warroom(&s.b, &s.bob, &["list"]).ok();
    assert!(
        list.stderr.contains("failed"),
        "list should say the last sync failed\n{list}"
    );
    s.git(&broot, &["remote", "set-url", "origin", &url]);
    let out = s.sync_b();
    assert!(
        out.stderr.contains("pushed") && out.stderr.contains("received"),
        "{out}"
    );
    s.sync_a();
    let notes = s.assert_converged(&id);
    for k in 0..3 {
        assert!(
            notes.contains(&format!("offline {k}")) && notes.contains(&format!("online {k}")),
            "{notes:?}"
        );
    }
}

#[test]
fn another_writers_rolled_back_log_is_reported_not_committed() {
    let s = Sites::new();
    let id = s.a.declare(&s.alice, "Rollback");
    s.a.note(&s.alice, &id, "one");
    s.a.note(&s.alice, &id, "two");
    s.sync_a();
    s.sync_b();
    // On site B, alice's log goes back to its first line (a bad copy, a restored backup).
    let log = s.b.log_of(&s.alice, &id);
    let text = std::fs::read_to_string(&log).expect("log");
    let first = text.split_inclusive('\n').next().expect("a line").to_string();
    std::fs::write(&log, &first).expect("write");
    s.b.note(&s.bob, &id, "bob writes meanwhile");
    let out = s.sync_b();
    assert!(
        out.stderr.contains("differs from git's copy") && out.stderr.contains("not committed"),
        "{out}"
    );
    let name = log.file_name().expect("name").to_string_lossy().into_owned();
    let remote_copy = s.git(&s.bare(), &["show", &format!("main:{id}/events/{name}")]);
    assert_eq!(remote_copy, text, "the remote must keep alice's whole log");
    // git's copy brings it back; then both sides agree and nothing is lost.
    s.git(&s.b.root(), &["checkout", "--", &format!("{id}/events/{name}")]);
    s.sync_a();
    s.sync_b();
    let notes = s.assert_converged(&id);
    for t in ["one", "two", "bob writes meanwhile"] {
        assert!(notes.contains(&t.to_string()), "{notes:?}");
    }
}

#[test]
fn sync_loops_running_beside_live_writers_never_roll_a_log_back() {
    let s = Sites::new();
    let id = s.a.declare(&s.alice, "Live");
    s.sync_a();
    s.sync_b();
    let spawn_loop = |w: &World, who: &Who| {
        let mut c = w.cmd(who);
        git_env(&mut c, s.remote.path());
        c.args(["sync", "--every", "0.2"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn sync loop")
    };
    let la = spawn_loop(&s.a, &s.alice);
    let lb = spawn_loop(&s.b, &s.bob);
    let mut expected = Vec::new();
    for k in 0..12 {
        let (ta, tb) = (format!("live a{k}"), format!("live b{k}"));
        s.a.note(&s.alice, &id, &ta);
        s.b.note(&s.bob, &id, &tb);
        expected.extend([ta, tb]);
    }
    std::thread::sleep(std::time::Duration::from_millis(800));
    for child in [la, lb] {
        let pid = rustix::process::Pid::from_child(&child);
        rustix::process::kill_process(pid, rustix::process::Signal::INT).expect("signal");
        let out = Run::from_output(child.wait_with_output().expect("wait"));
        assert_eq!(out.code, 0, "{out}");
        assert!(!out.stdout.contains("FAILED"), "{out}");
    }
    s.sync_a();
    s.sync_b();
    s.sync_a();
    let notes = s.assert_converged(&id);
    for t in &expected {
        assert!(notes.contains(t), "lost: {t}");
    }
}

#[test]
fn sync_outside_a_repository_says_how_to_set_it_up() {
    let w = World::new();
    let who = w.who("carol", "site-c");
    let out = Run::from_output(w.cmd(&who).arg("sync").output().expect("run")).code(1);
    assert!(
        out.stderr.contains("not the top folder of a git repository") && out.stderr.contains("--init"),
        "{out}"
    );
    assert!(!out.stderr.contains('⏎'), "line breaks shown as ⏎\n{out}");
    assert_eq!(out.stderr.matches("not the top folder").count(), 1, "said twice\n{out}");
}

/// rsync both ways carries two sites' folders to the same state with `--append-verify`: a file
/// is only ever grown (a log has one writer, so the longer copy is the newer one), never
/// replaced by an older copy — which `-a --update` does when both copies changed in one second.
#[test]
fn rsync_both_ways_converges() {
    if Command::new("rsync")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_err()
    {
        assert!(
            std::env::var_os("CI").is_none(),
            "rsync must be installed in CI (.ci/run installs it)"
        );
        eprintln!("skipped: rsync is not installed");
        return;
    }
    let a = World::new();
    let b = World::new();
    let alice = a.who("alice", "site-a");
    let bob = b.who("bob", "site-b");
    let rsync = |from: &Path, to: &Path| {
        let out = Command::new("rsync")
            .args(["-a", "--append-verify"])
            .arg(format!("{}/", from.display()))
            .arg(format!("{}/", to.display()))
            .output()
            .expect("rsync");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    let both = || {
        rsync(&a.root(), &b.root());
        rsync(&b.root(), &a.root());
    };
    let id = a.declare(&alice, "Rsync");
    both();
    let mut expected = Vec::new();
    for k in 0..5 {
        let (ta, tb) = (format!("a{k}"), format!("b{k}"));
        a.note(&alice, &id, &ta);
        b.note(&bob, &id, &tb);
        expected.extend([ta, tb]);
        both();
    }
    assert_eq!(strip_volatile(a.show(&alice, &id)), strip_volatile(b.show(&bob, &id)));
    assert_eq!(a.tail_json(&alice, &id), b.tail_json(&bob, &id));
    for (w, who) in [(&a, &alice), (&b, &bob)] {
        Run::from_output(w.cmd(who).args(["verify", &id]).output().expect("verify")).ok();
        let notes = note_texts(&w.tail_json(who, &id));
        for t in &expected {
            assert!(notes.contains(t), "lost: {t}");
        }
    }
}

#[test]
fn an_edited_own_log_is_reported_not_committed() {
    let s = Sites::new();
    let id = s.a.declare(&s.alice, "Edited");
    s.a.note(&s.alice, &id, "the original words");
    s.sync_a();
    let log = s.a.log_of(&s.alice, &id);
    let text = std::fs::read_to_string(&log).expect("log");
    std::fs::write(&log, text.replace("the original words", "the REVISED words!")).expect("write");
    let out = s.sync_a();
    assert!(out.stderr.contains("no longer starts with what git holds"), "{out}");
    let name = log.file_name().expect("name").to_string_lossy().into_owned();
    let remote_copy = s.git(&s.bare(), &["show", &format!("main:{id}/events/{name}")]);
    assert_eq!(remote_copy, text, "the remote keeps what was pushed");
}

#[test]
fn two_installs_sharing_one_clone_each_send_their_own_logs() {
    let s = Sites::new();
    let carol = s.a.who("carol", "site-a");
    let id = s.a.declare(&s.alice, "Shared clone");
    s.a.note(&carol, &id, "carol on site A");
    // Alice's sync sends only alice's files: carol's log stays untracked here.
    s.sync_a();
    let listed = s.git(&s.bare(), &["ls-tree", "-r", "--name-only", "main"]);
    assert!(!listed.contains("carol@site-a"), "{listed}");
    s.warroom(&s.a, &carol, &["sync"]).ok();
    s.sync_b();
    s.b.note(&s.bob, &id, "bob on site B");
    s.sync_b();
    s.sync_a();
    s.warroom(&s.a, &carol, &["sync"]).ok();
    let notes = s.assert_converged(&id);
    for t in ["carol on site A", "bob on site B"] {
        assert!(notes.contains(&t.to_string()), "{notes:?}");
    }
}

#[test]
fn rounds_started_at_once_in_one_clone_take_turns() {
    let s = Sites::new();
    let carol = s.a.who("carol", "site-a");
    let id = s.a.declare(&s.alice, "One clone, two loops");
    for k in 0..4 {
        s.a.note(&s.alice, &id, &format!("alice {k}"));
        s.a.note(&carol, &id, &format!("carol {k}"));
        // A console's round and a `warroom sync` loop's round (two installs, one clone) at once.
        let rounds: Vec<_> = [&s.alice, &carol, &s.alice]
            .into_iter()
            .map(|who| {
                let mut c = s.a.cmd(who);
                git_env(&mut c, s.remote.path());
                c.arg("sync")
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("start sync")
            })
            .collect();
        for r in rounds {
            let run = Run::from_output(r.wait_with_output().expect("sync"));
            assert_eq!(run.code, 0, "a round failed beside another\n{run}");
        }
    }
    s.warroom(&s.a, &s.alice, &["sync"]).ok();
    s.warroom(&s.a, &carol, &["sync"]).ok();
    s.sync_b();
    let notes = s.assert_converged(&id);
    for k in 0..4 {
        for who in ["alice", "carol"] {
            assert!(notes.contains(&format!("{who} {k}")), "lost {who} {k}: {notes:?}");
        }
    }
}

#[test]
fn a_console_sync_interval_under_a_second_is_refused_before_the_terminal() {
    let w = World::new();
    let alice = w.who("alice", "site-a");
    let run = w.run(&alice, &["--sync-every", "0.2"]).code(2);
    assert!(run.stderr.contains("--sync-every"), "{run}");
    // Only the console runs rounds: a headless verb says where to look instead.
    let run = w.run(&alice, &["--sync-every", "5", "list"]).code(2);
    assert!(run.stderr.contains("--sync-every is for the console"), "{run}");
    let cfg = w.path().join("cfg").join("warroom");
    std::fs::create_dir_all(&cfg).expect("config folder");
    std::fs::write(cfg.join("config.ron"), "(sync_every: 0.5, sync_remote: \"origin\")").expect("config");
    let run = w.run(&alice, &["open", "nothing-here"]);
    assert_ne!(run.code, 0, "{run}");
    let run = w.run(&alice, &[]).code(2);
    assert!(run.stderr.contains("sync_every"), "{run}");
    // A good interval passes the check and reaches the terminal check (no terminal here).
    std::fs::write(cfg.join("config.ron"), "(sync_every: 10)").expect("config");
    let run = w.run(&alice, &[]);
    assert!(run.stderr.contains("needs a terminal"), "{run}");
}

#[test]
fn a_round_waits_for_another_in_the_same_clone_then_says_so() {
    let s = Sites::new();
    let id = s.a.declare(&s.alice, "Locked clone");
    // Another round (a console's, say) holds the clone's sync lock.
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(s.a.root().join(".git").join("warroom-sync.lock"))
        .expect("lock file");
    lock.lock().expect("take the lock");
    let run = s.warroom(&s.a, &s.alice, &["sync", "--timeout", "1"]);
    assert_eq!(run.code, 1, "{run}");
    assert!(run.stderr.contains("another sync round in this clone"), "{run}");
    drop(lock);
    s.sync_a();
    s.sync_b();
    s.assert_converged(&id);
}

fn log_name(path: &Path) -> String {
    path.file_name().expect("name").to_string_lossy().into_owned()
}

#[test]
fn a_remote_commit_deleting_other_writers_logs_is_restored_not_applied() {
    let s = Sites::new();
    let carol = s.a.who("carol", "site-a");
    let id = s.a.declare(&s.alice, "Deleted on the remote");
    s.a.note(&s.alice, &id, "alice one");
    s.a.note(&carol, &id, "carol one");
    s.sync_a();
    s.warroom(&s.a, &carol, &["sync"]).ok();
    s.sync_b();
    s.b.note(&s.bob, &id, "bob one");
    s.sync_b();
    s.sync_a();
    let alice_log = s.a.log_of(&s.alice, &id);
    let alice_text = std::fs::read_to_string(&alice_log).expect("log");
    let carol_text = std::fs::read_to_string(s.a.log_of(&carol, &id)).expect("log");
    // Someone runs `git rm -r <id>/events` and puts a symlink in its place.
    let evil = s.evil();
    s.git(&evil, &["rm", "-r", "--quiet", &format!("{id}/events")]);
    std::os::unix::fs::symlink("/tmp", evil.join(&id).join("events")).expect("symlink");
    s.evil_push("tidy up");
    // Site B (idle) and site A: nothing deleted locally, the deletion reported, the logs back.
    let out = s.sync_b();
    assert!(
        out.stderr.contains("TAMPERING") && out.stderr.contains("deleted on the remote") && out.stderr.contains("test"),
        "{out}"
    );
    assert_eq!(
        std::fs::read_to_string(s.b.log_of(&s.alice, &id)).expect("alice's log on B"),
        alice_text
    );
    assert!(s.b.events_dir(&id).is_dir());
    let out = s.sync_a();
    assert!(
        out.stderr.contains("pushed") || out.stderr.contains("up to date"),
        "{out}"
    );
    assert_eq!(
        std::fs::read_to_string(&alice_log).expect("alice's log on A"),
        alice_text
    );
    assert_eq!(
        std::fs::read_to_string(s.a.log_of(&carol, &id)).expect("carol's live log"),
        carol_text
    );
    let remote = s.git(
        &s.bare(),
        &["show", &format!("main:{id}/events/{}", log_name(&alice_log))],
    );
    assert_eq!(remote, alice_text, "the remote has alice's log back");
    s.a.note(&s.alice, &id, "alice two");
    s.sync_a();
    s.sync_b();
    for (w, who) in [(&s.a, &s.alice), (&s.b, &s.bob)] {
        s.warroom(w, who, &["verify", &id]).ok();
        let notes = note_texts(&w.tail_json(who, &id));
        for t in ["alice one", "carol one", "bob one", "alice two"] {
            assert!(notes.contains(&t.to_string()), "{notes:?}");
        }
    }
    s.warroom(&s.a, &carol, &["sync"]).ok();
    s.sync_b();
    s.sync_a();
    s.assert_converged(&id);
}

#[test]
fn a_forged_line_in_my_own_log_on_the_remote_never_reaches_my_log() {
    let s = Sites::new();
    let id = s.a.declare(&s.alice, "Forged");
    s.a.note(&s.alice, &id, "the true words");
    s.sync_a();
    s.sync_b();
    let log = s.a.log_of(&s.alice, &id);
    let truth = std::fs::read_to_string(&log).expect("log");
    let evil = s.evil();
    let path = format!("{id}/events/{}", log_name(&log));
    let forged = truth.replace("the true words", "the forged words");
    std::fs::write(evil.join(&path), &forged).expect("forge");
    s.evil_push("fix typo");
    // Site A is idle: its log stays, the forgery is reported and overwritten on the remote.
    let out = s.sync_a();
    assert!(
        out.stderr.contains("TAMPERING") && out.stderr.contains("your true log"),
        "{out}"
    );
    assert!(!out.stderr.contains("not committed"), "contradicting message\n{out}");
    assert_eq!(std::fs::read_to_string(&log).expect("log"), truth);
    assert_eq!(s.git(&s.bare(), &["show", &format!("main:{path}")]), truth);
    // Writing again and syncing keeps working, every round.
    for k in 0..2 {
        s.a.note(&s.alice, &id, &format!("after {k}"));
        let out = s.sync_a();
        assert!(!out.stderr.contains("Cannot merge"), "{out}");
        s.sync_b();
    }
    let notes = s.assert_converged(&id);
    assert!(notes.contains(&"the true words".to_string()), "{notes:?}");
    assert!(!notes.contains(&"the forged words".to_string()), "{notes:?}");
}

#[test]
fn init_in_a_folder_with_incidents_joins_a_remote_with_content() {
    let s = Sites::new();
    let id = s.a.declare(&s.alice, "Already on the remote");
    s.sync_a();
    let c = World::new();
    let carol = c.who("carol", "site-c");
    let mine = c.declare(&carol, "Declared before sync was set up");
    let url = s.bare().to_string_lossy().into_owned();
    let out = s.warroom(&c, &carol, &["sync", "--init", &url]).ok();
    assert!(
        out.stderr.contains("received") && out.stderr.contains("pushed"),
        "{out}"
    );
    assert_eq!(c.show(&carol, &id)["title"], "Already on the remote");
    s.sync_a();
    assert_eq!(s.a.show(&s.alice, &mine)["title"], "Declared before sync was set up");
    s.warroom(&c, &carol, &["sync"]).ok();
    s.warroom(&c, &carol, &["verify", &id]).ok();
}

#[test]
fn a_round_cut_off_after_its_push_or_a_stale_index_lock_never_jams_the_clone() {
    let s = Sites::new();
    let id = s.a.declare(&s.alice, "Cut off");
    s.sync_a();
    s.sync_b();
    // A round killed after its push: the branch and git's index still at the older commit.
    s.b.note(&s.bob, &id, "bob before the kill");
    s.sync_b();
    let broot = s.b.root();
    s.git(&broot, &["reset", "--quiet", "--soft", "HEAD~1"]);
    s.git(&broot, &["read-tree", "HEAD"]);
    s.a.note(&s.alice, &id, "alice meanwhile");
    s.sync_a();
    let out = s.sync_b();
    assert!(out.stderr.contains("received"), "{out}");
    // A stale index.lock (a git command killed earlier): rounds still go both ways.
    std::fs::write(broot.join(".git").join("index.lock"), "").expect("lock");
    s.b.note(&s.bob, &id, "bob under a stale lock");
    s.a.note(&s.alice, &id, "alice again");
    s.sync_a();
    let out = s.sync_b();
    assert!(
        out.stderr.contains("pushed") && out.stderr.contains("received"),
        "{out}"
    );
    assert!(out.stderr.contains("index.lock"), "{out}");
    std::fs::remove_file(broot.join(".git").join("index.lock")).expect("unlock");
    s.sync_b();
    s.sync_a();
    let notes = s.assert_converged(&id);
    for t in [
        "bob before the kill",
        "alice meanwhile",
        "bob under a stale lock",
        "alice again",
    ] {
        assert!(notes.contains(&t.to_string()), "{notes:?}");
    }
}

#[test]
fn a_committed_gitattributes_never_converts_a_log() {
    let s = Sites::new();
    let id = s.a.declare(&s.alice, "Attributes");
    s.sync_a();
    s.sync_b();
    let evil = s.evil();
    std::fs::write(
        evil.join(".gitattributes"),
        "*.ronl text eol=crlf\n*.ron text eol=crlf\n",
    )
    .expect("attrs");
    s.evil_push("normalise line endings");
    for k in 0..3 {
        s.a.note(&s.alice, &id, &format!("alice {k}"));
        s.b.note(&s.bob, &id, &format!("bob {k}"));
        s.sync_a().ok();
        s.sync_b().ok();
        if k == 1 {
            std::fs::write(s.evil().join(".gitattributes"), "* text=auto\n").expect("attrs");
            s.evil_push("again");
        }
    }
    s.sync_a();
    for (w, who) in [(&s.a, &s.alice), (&s.b, &s.bob)] {
        s.warroom(w, who, &["verify", &id]).ok();
        for log in w.logs(&id) {
            let bytes = std::fs::read(&log).expect("log");
            assert!(!bytes.contains(&b'\r'), "{} converted", log.display());
        }
        let notes = note_texts(&w.tail_json(who, &id));
        assert!(
            notes.contains(&"alice 2".to_string()) && notes.contains(&"bob 2".to_string()),
            "{notes:?}"
        );
    }
}

/// A reader holding the log open (a console's tail) sees it grow: sync appends, it never puts a
/// new file in place (a replaced file reads as a shrunk or rewritten log: a false alarm).
#[test]
fn a_received_log_grows_in_place_never_replaced() {
    use std::io::Read;
    let s = Sites::new();
    let id = s.a.declare(&s.alice, "In place");
    s.sync_a();
    s.sync_b();
    let on_b = s.b.log_of(&s.alice, &id);
    let mut reader = std::fs::File::open(&on_b).expect("log");
    let mut seen = String::new();
    reader.read_to_string(&mut seen).expect("read");
    s.a.note(&s.alice, &id, "grows in place");
    s.sync_a();
    s.sync_b();
    let mut more = String::new();
    reader.read_to_string(&mut more).expect("read");
    assert!(more.contains("grows in place"), "the open log did not grow: {more:?}");
    assert_eq!(std::fs::read_to_string(&on_b).expect("log"), seen + &more);
}

#[test]
fn a_rejecting_remote_says_why() {
    let s = Sites::new();
    s.a.declare(&s.alice, "Policy");
    let hook = s.bare().join("hooks").join("pre-receive");
    std::fs::write(&hook, "#!/bin/sh\necho 'REJECTED by policy: ask the IC' >&2\nexit 1\n").expect("hook");
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
    let out = s.warroom(&s.a, &s.alice, &["sync"]).code(1);
    assert!(out.stderr.contains("REJECTED by policy: ask the IC"), "{out}");
    assert_eq!(out.stderr.matches("FAILED").count(), 1, "said twice\n{out}");
}

#[test]
fn no_remote_or_an_unknown_one_is_refused_before_committing() {
    let w = World::new();
    let carol = w.who("carol", "site-c");
    w.declare(&carol, "No remote");
    let home = tempfile::tempdir().expect("home");
    let git = |args: &[&str]| {
        let mut c = Command::new("git");
        c.arg("-C").arg(w.root()).args(args);
        git_env(&mut c, home.path());
        c.status().expect("git").success()
    };
    assert!(git(&["init", "--quiet"]));
    let run = |args: &[&str]| {
        let mut c = w.cmd(&carol);
        git_env(&mut c, home.path());
        Run::from_output(c.args(args).output().expect("warroom"))
    };
    let out = run(&["sync"]).code(1);
    assert!(
        out.stderr.contains("git remote add origin") && out.stderr.contains("--init"),
        "{out}"
    );
    assert!(!out.stderr.contains("committed locally"), "{out}");
    let out = run(&["sync", "--remote", "upstream"]).code(1);
    assert!(out.stderr.contains("nothing was committed"), "{out}");
    assert!(
        !git(&["rev-parse", "--verify", "--quiet", "HEAD"]),
        "a commit was made with nowhere to send it"
    );
}

#[test]
fn a_url_remote_builds_on_what_other_sites_pushed() {
    let s = Sites::new();
    let id = s.a.declare(&s.alice, "By URL");
    let url = s.bare().to_string_lossy().into_owned();
    s.sync_a();
    s.sync_b();
    for k in 0..3 {
        s.a.note(&s.alice, &id, &format!("alice {k}"));
        s.warroom(&s.a, &s.alice, &["sync", "--remote", &url]).ok();
        s.b.note(&s.bob, &id, &format!("bob {k}"));
        let out = s.warroom(&s.b, &s.bob, &["sync", "--remote", &url]).ok();
        assert!(out.stderr.contains("pushed"), "{out}");
    }
    s.sync_a();
    s.sync_b();
    s.sync_a();
    let notes = s.assert_converged(&id);
    assert!(
        notes.contains(&"bob 2".to_string()) && notes.contains(&"alice 2".to_string()),
        "{notes:?}"
    );
}

/// A remote commit carrying `.git/hooks/pre-push` (a tree git itself would never check out) is
/// not written: nothing of the remote ever lands inside the repository.
#[test]
fn a_path_inside_dot_git_from_the_remote_is_never_written() {
    let s = Sites::new();
    let id = s.a.declare(&s.alice, "Hooks");
    s.sync_a();
    s.sync_b();
    let evil = s.evil();
    let marker = s.remote.path().join("pwned");
    let hook = format!("#!/bin/sh\ntouch '{}'\n", marker.display());
    let with_input = |args: &[&str], input: &str| {
        let mut c = Command::new("git");
        c.arg("-C").arg(&evil).args(args);
        git_env(&mut c, s.remote.path());
        c.env("GIT_AUTHOR_NAME", "evil")
            .env("GIT_AUTHOR_EMAIL", "evil@example.invalid")
            .env("GIT_COMMITTER_NAME", "evil")
            .env("GIT_COMMITTER_EMAIL", "evil@example.invalid")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        let mut child = c.spawn().expect("git");
        std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), input.as_bytes()).expect("write");
        let out = child.wait_with_output().expect("git");
        assert!(out.status.success(), "git {args:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let blob = with_input(&["hash-object", "-w", "--stdin"], &hook);
    let hooks = with_input(&["mktree"], &format!("100755 blob {blob}\tpre-push\n"));
    let dot_git = with_input(&["mktree"], &format!("040000 tree {hooks}\thooks\n"));
    let top = s.git(&evil, &["ls-tree", "HEAD"]);
    let tree = with_input(
        &["mktree"],
        &format!("{}\n040000 tree {dot_git}\t.git\n", top.trim_end()),
    );
    let commit = with_input(&["commit-tree", &tree, "-p", "HEAD", "-m", "hooks"], "");
    s.git(
        &evil,
        &["push", "--quiet", "origin", &format!("{commit}:refs/heads/main")],
    );
    let out = s.sync_b();
    assert!(out.stderr.contains("inside .git"), "{out}");
    assert!(
        !s.b.root().join(".git/hooks/pre-push").exists(),
        "a hook was written from the remote"
    );
    // Writing and syncing go on (the site is not cut off by a tree git refuses in an index).
    s.b.note(&s.bob, &id, "after the hook commit");
    let out = s.sync_b();
    assert!(out.stderr.contains("pushed"), "{out}");
    assert!(!marker.exists(), "the remote's hook ran");
    let name = log_name(&s.b.log_of(&s.bob, &id));
    let remote = s.git(&s.bare(), &["show", &format!("main:{id}/events/{name}")]);
    assert!(remote.contains("after the hook commit"), "{remote}");
}

/// An unencrypted ed25519 key made by `ssh-keygen` in `dir`: (private key path, public line).
fn keygen(dir: &Path, name: &str) -> (PathBuf, String) {
    let path = dir.join(name);
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&path)
        .env("HOME", dir)
        .output()
        .expect("ssh-keygen (install openssh-client)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let public = std::fs::read_to_string(path.with_extension("pub")).expect("pub");
    (path, public.trim().to_string())
}

/// Other responders' public keys: each person has their own (a key given to two people counts
/// for neither).
const BOB: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOkiUkAZb1z/p4qN+xxU0OvdIWiw0PSZfH6qosJg6/8h";
const CAROL: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILnef1MUB6hEPl/jWVAvl4Mn+g+FurxmLwuk5kWsjtPK";
const DAVE: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPKTUHEoJ37vmPU1jPrkk7yZ6qEE5ZTnSVibok0oL/3N";

/// `allowed_signers` is no one writer's file: it reaches the other site, a change made at either
/// site reaches the other, and a change made at both is never settled silently.
#[test]
fn allowed_signers_travels_both_ways_and_a_change_at_both_sites_is_a_conflict() {
    let s = Sites::new();
    let keys = tempfile::tempdir().expect("keys");
    let (key, public) = keygen(keys.path(), "alice");
    let key = key.to_string_lossy().into_owned();
    let signers_a = s.a.root().join("allowed_signers");
    let signers_b = s.b.root().join("allowed_signers");
    std::fs::write(&signers_a, format!("alice {public}\n")).expect("allowed_signers");
    let run = |w: &World, who: &Who, args: &[&str]| {
        let mut c = w.cmd(who);
        git_env(&mut c, s.remote.path());
        c.env_remove("SSH_AUTH_SOCK").env_remove("WARROOM_SIGNING_KEY");
        Run::from_output(c.args(args).output().expect("run warroom"))
    };
    let declared = run(
        &s.a,
        &s.alice,
        &[
            "declare",
            "--playbook",
            "ransomware",
            "--title",
            "Signed at A",
            "--severity",
            "1",
            "--require-signatures",
            "--sign",
            &key,
        ],
    )
    .ok();
    let id = declared.stdout.trim().to_string();
    s.sync_a();
    let out = s.sync_b();
    assert!(out.stderr.contains("received"), "{out}");
    assert_eq!(
        std::fs::read_to_string(&signers_b).expect("allowed_signers reached B"),
        format!("alice {public}\n")
    );
    let show = s.b.show(&s.bob, &id);
    assert_eq!(show["title"], "Signed at A", "{show}");
    let v = run(&s.b, &s.bob, &["verify", &id]).ok();
    assert!(v.stdout.contains("signed by alice"), "{v}");

    // A change at B (a key added) reaches A.
    std::fs::write(&signers_b, format!("alice {public}\nbob {BOB}\n")).expect("edit");
    let out = s.sync_b();
    assert!(out.stderr.contains("allowed_signers (changed here)"), "{out}");
    s.sync_a();
    assert_eq!(
        std::fs::read_to_string(&signers_a).expect("A"),
        format!("alice {public}\nbob {BOB}\n")
    );

    // Changed at both sites: each keeps its own, B says so every round and never pushes it.
    std::fs::write(&signers_a, format!("alice {public}\nbob {BOB}\ncarol {CAROL}\n")).expect("edit");
    std::fs::write(&signers_b, format!("alice {public}\ndave {DAVE}\n")).expect("edit");
    s.sync_a();
    for _ in 0..2 {
        let out = s.sync_b();
        assert!(out.stderr.contains("allowed_signers CONFLICT"), "{out}");
        assert_eq!(
            std::fs::read_to_string(&signers_b).expect("B"),
            format!("alice {public}\ndave {DAVE}\n"),
            "B's copy was replaced"
        );
        let remote = s.git(&s.bare(), &["show", "main:allowed_signers"]);
        assert!(remote.contains("carol") && !remote.contains("dave"), "{remote}");
    }
    // Merged by hand at B (every line of the remote's kept): it goes out, and A takes it.
    std::fs::write(
        &signers_b,
        format!("alice {public}\nbob {BOB}\ncarol {CAROL}\ndave {DAVE}\n"),
    )
    .expect("merge");
    let out = s.sync_b();
    assert!(!out.stderr.contains("CONFLICT"), "{out}");
    let out = s.sync_a();
    assert!(!out.stderr.contains("CONFLICT"), "{out}");
    assert!(std::fs::read_to_string(&signers_a).expect("A").contains("dave"));
    s.warroom(&s.a, &s.alice, &["verify", &id]).ok();
    // Deleted on the remote: put back. Deleted here: written back (sync deletes nothing).
    let evil = s.evil();
    s.git(&evil, &["rm", "--quiet", "allowed_signers"]);
    s.git(&evil, &["commit", "--quiet", "-m", "drop trust"]);
    s.git(&evil, &["push", "--quiet", "origin", "HEAD:main"]);
    let out = s.sync_a();
    assert!(
        out.stderr.contains("allowed_signers: TAMPERING? deleted on the remote"),
        "{out}"
    );
    assert!(s.git(&s.bare(), &["show", "main:allowed_signers"]).contains("dave"));
    std::fs::remove_file(&signers_b).expect("rm");
    let out = s.sync_b();
    assert!(out.stderr.contains("written back"), "{out}");
    assert!(std::fs::read_to_string(&signers_b).expect("B").contains("dave"));
    s.warroom(&s.b, &s.bob, &["verify", &id]).ok();
}

/// A hostile clone's commit, then a force-pushed history without bob's log: no site blames
/// its own clone, both go on from the new history, and bob's log is back on the remote.
#[test]
fn a_force_pushed_history_is_built_on_and_every_dropped_log_restored() {
    let s = Sites::new();
    let id = s.a.declare(&s.alice, "Rewritten");
    s.sync_a();
    s.sync_b();
    s.b.note(&s.bob, &id, "bob one");
    s.sync_b();
    s.sync_a();
    let evil = s.evil();
    std::fs::write(evil.join("README"), "hello\n").expect("file");
    s.evil_push("evil");
    s.sync_a();
    s.sync_b();
    let bob_log = s.b.log_of(&s.bob, &id);
    let bob_text = std::fs::read_to_string(&bob_log).expect("log");
    let bob_path = format!("{id}/events/{}", log_name(&bob_log));
    s.git(&evil, &["pull", "--quiet", "--ff-only"]);
    s.git(&evil, &["checkout", "--quiet", "--orphan", "rewritten"]);
    s.git(&evil, &["rm", "--quiet", "--cached", &bob_path]);
    s.git(&evil, &["commit", "--quiet", "-m", "rewritten"]);
    s.git(&evil, &["push", "--quiet", "--force", "origin", "rewritten:main"]);
    // Site B as a clone last synced by a warroom that kept no record of the remote's tip.
    s.git(
        &s.b.root(),
        &["update-ref", "-d", "refs/warroom/seen/remotes/origin/main"],
    );
    for _ in 0..2 {
        let out = s.sync_a();
        assert!(!out.stderr.contains("not made by warroom sync"), "{out}");
        let out = s.sync_b();
        assert!(!out.stderr.contains("not made by warroom sync"), "{out}");
    }
    assert_eq!(s.git(&s.bare(), &["show", &format!("main:{bob_path}")]), bob_text);
    let titles = s.git(&s.bare(), &["log", "--format=%s", "main"]);
    assert!(titles.contains("restores 1 file(s)"), "{titles}");
    assert!(!titles.contains(": 0 file(s)"), "{titles}");
    s.a.note(&s.alice, &id, "alice after");
    s.b.note(&s.bob, &id, "bob after");
    s.sync_a();
    s.sync_b();
    let out = s.sync_a();
    assert!(!out.stderr.contains("rewritten"), "said again once settled\n{out}");
    let notes = s.assert_converged(&id);
    for t in ["bob one", "alice after", "bob after"] {
        assert!(notes.contains(&t.to_string()), "{notes:?}");
    }
}

/// The first round after the rewrite says so (a round later it is history).
#[test]
fn a_force_push_is_reported_as_a_rewritten_history() {
    let s = Sites::new();
    let id = s.a.declare(&s.alice, "Rewritten");
    s.sync_a();
    let evil = s.evil();
    s.git(&evil, &["checkout", "--quiet", "--orphan", "rewritten"]);
    s.git(&evil, &["rm", "-r", "--quiet", "--cached", &id]);
    s.git(&evil, &["commit", "--quiet", "--allow-empty", "-m", "rewritten"]);
    s.git(&evil, &["push", "--quiet", "--force", "origin", "rewritten:main"]);
    let out = s.sync_a();
    assert!(
        out.stderr.contains("history was rewritten") && out.stderr.contains("by test"),
        "{out}"
    );
    assert!(s
        .git(&s.bare(), &["ls-tree", "-r", "--name-only", "main"])
        .contains(&id));
}

/// A push refused by a hook says so with the hook's words (escape sequences removed whole), and
/// is never taken for tampering (a log only this clone has is not "deleted on the remote"); a
/// failed round is not a sync for `list`.
#[test]
fn a_push_the_remote_refuses_is_said_as_such_never_as_tampering() {
    let s = Sites::new();
    s.a.declare(&s.alice, "Already there");
    s.sync_a();
    let hook = s.bare().join("hooks").join("pre-receive");
    std::fs::write(
        &hook,
        "#!/bin/sh\nprintf '\\033]0;HOOKED\\007\\033[2J policy says no\\n' >&2\nexit 1\n",
    )
    .expect("hook");
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
    // A new site, with an incident of its own, joins while the remote refuses every push.
    let c = World::new();
    let carol = c.who("carol", "site-c");
    c.declare(&carol, "Declared at C");
    let url = s.bare().to_string_lossy().into_owned();
    for k in 0..3 {
        let args: &[&str] = if k == 0 { &["sync", "--init", &url] } else { &["sync"] };
        let out = s.warroom(&c, &carol, args).code(1);
        assert!(
            out.stderr.contains("rejected by the remote") && out.stderr.contains("policy says no"),
            "{out}"
        );
        assert!(!out.stderr.contains("TAMPERING"), "{out}");
        assert!(
            !out.stderr.contains("HOOKED") && !out.stderr.contains("[2J") && !out.stderr.contains('\u{1b}'),
            "{out}"
        );
        let list = s.warroom(&c, &carol, &["list"]).ok();
        assert!(list.stderr.contains("never synced"), "{list}");
        assert!(!list.stderr.contains("last synced"), "{list}");
    }
    std::fs::remove_file(&hook).expect("hook");
    let out = s.warroom(&c, &carol, &["sync"]).ok();
    assert!(
        out.stderr.contains("pushed") && !out.stderr.contains("TAMPERING"),
        "{out}"
    );
    let list = s.warroom(&c, &carol, &["list"]).ok();
    assert!(list.stderr.contains("last synced"), "{list}");
}

/// What sync refused from the remote (a symlink, a file that does not extend the one here, a
/// name with escape characters) is said with why, and git is never offered to put it back.
#[test]
fn what_sync_refused_is_never_offered_back_through_git() {
    let s = Sites::new();
    let id = s.a.declare(&s.alice, "Refused");
    s.sync_a();
    s.sync_b();
    let zed = format!("{id}/events/zed@h.cccccc.ronl");
    std::fs::write(s.b.root().join(&zed), "here\n").expect("local copy");
    let evil = s.evil();
    std::os::unix::fs::symlink("/etc/passwd", evil.join(&id).join("events/link@h.bbbbbb.ronl")).expect("symlink");
    std::os::unix::fs::symlink("/etc", evil.join("evil")).expect("symlink");
    std::fs::write(evil.join(&zed), "there\n").expect("other copy");
    std::fs::write(evil.join(&id).join("events/bad\u{1b}[31m@h.dddddd.ronl"), "x\n").expect("bad name");
    s.evil_push("plant");
    let out = s.sync_b();
    assert!(out.stderr.contains("not a regular file"), "{out}");
    assert!(
        out.stderr.contains("shown sanitised") && !out.stderr.contains('\u{1b}'),
        "{out}"
    );
    for _ in 0..2 {
        let out = s.sync_b();
        assert!(
            !out.stderr.contains("checkout"),
            "advice that plants what sync refused\n{out}"
        );
        assert!(
            out.stderr.contains("link@h.bbbbbb.ronl") && out.stderr.contains("symlink"),
            "{out}"
        );
        assert!(
            out.stderr.contains("zed@h.cccccc.ronl") && out.stderr.contains("refused"),
            "{out}"
        );
    }
    assert!(std::fs::symlink_metadata(s.b.root().join("evil")).is_err());
    assert_eq!(std::fs::read_to_string(s.b.root().join(&zed)).expect("kept"), "here\n");
}

/// `sync --init` never lets git check the remote out: a symlink to `/etc/passwd` posing as a log,
/// a folder that is a symlink to `/etc`, a name with escape characters and a `.gitattributes`
/// filter (that this machine's git would run on checkout) stay out of the new folder; the valid
/// logs arrive, the refusals are said as in any round, and the incident reads and verifies there.
#[test]
fn init_writes_only_what_sync_accepts_never_a_checkout() {
    let s = Sites::new();
    let id = s.a.declare(&s.alice, "Joined safely");
    s.a.note(&s.alice, &id, "first note");
    s.sync_a();
    let evil = s.evil();
    let events = evil.join(&id).join("events");
    std::os::unix::fs::symlink("/etc/passwd", events.join("link@h.bbbbbb.ronl")).expect("symlink");
    std::os::unix::fs::symlink("/etc", evil.join("evil")).expect("symlink");
    std::fs::write(events.join("bad\u{1b}[31m@h.dddddd.ronl"), "x\n").expect("bad name");
    let attributes = evil.join(".gitattributes");
    let mut text = std::fs::read_to_string(&attributes).expect(".gitattributes");
    text.push_str("* filter=pwn\n");
    std::fs::write(&attributes, text).expect(".gitattributes");
    s.evil_push("plant");
    // A filter driver this machine's git has (as git-lfs is): a checkout would run it.
    let marker = s.remote.path().join("smudged");
    let config = s.remote.path().join("gitconfig");
    let mut gitconfig = std::fs::read_to_string(&config).expect("gitconfig");
    gitconfig.push_str(&format!(
        "[filter \"pwn\"]\n\tsmudge = touch '{}' && cat\n",
        marker.display()
    ));
    std::fs::write(&config, gitconfig).expect("gitconfig");

    // An empty folder is cloned, one holding an incident already is initialised and fetched.
    for (site, prepared) in [("site-c", false), ("site-d", true)] {
        let c = World::new();
        let carol = c.who("carol", site);
        if prepared {
            c.declare(&carol, "Declared before sync was set up");
        }
        let url = s.bare().to_string_lossy().into_owned();
        let out = s.warroom(&c, &carol, &["sync", "--init", &url]).ok();
        let root = c.root();
        assert!(std::fs::symlink_metadata(root.join("evil")).is_err(), "{out}");
        let link = root.join(&id).join("events/link@h.bbbbbb.ronl");
        assert!(std::fs::symlink_metadata(&link).is_err(), "{out}");
        let names: Vec<String> = std::fs::read_dir(root.join(&id).join("events"))
            .expect("events")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert!(!names.iter().any(|n| n.chars().any(char::is_control)), "{names:?}");
        assert!(!marker.exists(), "the remote's filter ran on a checkout");
        // The refusals, said as any round says them (names sanitised).
        for said in [
            "link@h.bbbbbb.ronl",
            "evil: not a regular file",
            "shown sanitised",
            "received",
        ] {
            assert!(out.stderr.contains(said), "{said}\n{out}");
        }
        assert!(!out.stderr.contains('\u{1b}'), "{out}");
        // The valid log arrived whole and raw.
        let mine = s.a.log_of(&s.alice, &id);
        let there = root.join(&id).join("events").join(log_name(&mine));
        assert_eq!(std::fs::read(&there).expect("log"), std::fs::read(&mine).expect("log"));
        assert_eq!(c.show(&carol, &id)["title"], "Joined safely");
        s.warroom(&c, &carol, &["verify", &id]).ok();
        // Later rounds keep refusing, and never offer git's copy back.
        let out = s.warroom(&c, &carol, &["sync"]).ok();
        assert!(!out.stderr.contains("checkout"), "{out}");
        assert!(std::fs::symlink_metadata(&link).is_err() && !marker.exists(), "{out}");
        assert!(note_texts(&c.tail_json(&carol, &id)).contains(&"first note".to_string()));
    }
}

/// An empty remote whose branch is not the machine's default: `--init` into an empty folder takes
/// the remote's branch (as a clone does), so the first push lands there.
#[test]
fn init_from_an_empty_remote_takes_its_branch() {
    let s = Sites::new();
    let trunk = s.remote.path().join("trunk.git");
    s.git(
        s.remote.path(),
        &["init", "--quiet", "--bare", "-b", "trunk", &trunk.to_string_lossy()],
    );
    let c = World::new();
    let carol = c.who("carol", "site-c");
    let id = c.declare(&carol, "On trunk");
    let empty = World::new();
    let dave = empty.who("dave", "site-d");
    let url = trunk.to_string_lossy().into_owned();
    s.warroom(&empty, &dave, &["sync", "--init", &url]).ok();
    s.warroom(&c, &carol, &["sync", "--init", &url]).ok();
    s.warroom(&empty, &dave, &["sync"]).ok();
    assert_eq!(empty.show(&dave, &id)["title"], "On trunk");
    assert_eq!(
        s.git(&empty.root(), &["symbolic-ref", "--short", "HEAD"]).trim(),
        "trunk"
    );
}

/// A hostile change to `allowed_signers` made while this site changed its own copy: a CONFLICT
/// every round (never "up to date"), still one after merging every line but the hostile one, and
/// settled by `sync --keep-trust`, which sends this site's copy; the other site is told its
/// trust changed.
#[test]
fn an_allowed_signers_conflict_is_settled_by_keeping_this_sites_copy() {
    let s = Sites::new();
    let keys = tempfile::tempdir().expect("keys");
    let (_, alice) = keygen(keys.path(), "alice");
    let (_, mallory) = keygen(keys.path(), "mallory");
    let (_, bob) = keygen(keys.path(), "bob");
    let signers_a = s.a.root().join("allowed_signers");
    let signers_b = s.b.root().join("allowed_signers");
    std::fs::write(&signers_a, format!("alice {alice}\n")).expect("allowed_signers");
    s.sync_a();
    let out = s.sync_b();
    assert!(
        out.stderr.contains("allowed_signers changed by the remote (commit")
            && out.stderr.contains("1 line(s) added, 0 removed"),
        "{out}"
    );
    // A hostile site swaps alice's key and adds a junk line; A adds bob meanwhile.
    let evil = s.evil();
    std::fs::write(evil.join("allowed_signers"), format!("alice {mallory}\njunk\n")).expect("evil");
    s.evil_push("rotate alice");
    let out = s.sync_b();
    assert!(
        out.stderr.contains("allowed_signers changed by the remote (commit")
            && out
                .stderr
                .contains("by test <test@example.invalid>): 2 line(s) added, 1 removed"),
        "{out}"
    );
    std::fs::write(&signers_a, format!("alice {alice}\nbob {bob}\n")).expect("edit");
    for _ in 0..2 {
        let out = s.sync_a();
        assert!(
            out.stderr.contains("allowed_signers CONFLICT") && out.stderr.contains("warroom sync --keep-trust"),
            "{out}"
        );
        assert!(!out.stderr.contains("up to date"), "{out}");
        assert!(out.stderr.contains("CONFLICT not settled"), "{out}");
    }
    // Every line of the remote's but the hostile one: still a conflict.
    let mine = format!("alice {alice}\nbob {bob}\njunk\n");
    std::fs::write(&signers_a, &mine).expect("merge");
    let out = s.sync_a();
    assert!(out.stderr.contains("allowed_signers CONFLICT"), "{out}");
    // Kept deliberately: sent over the remote's, and settled.
    s.warroom(&s.a, &s.alice, &["sync", "--keep-trust", "--every", "1"])
        .code(2);
    let out = s.warroom(&s.a, &s.alice, &["sync", "--keep-trust"]).ok();
    assert!(!out.stderr.contains("CONFLICT"), "{out}");
    assert!(
        out.stderr.contains("--keep-trust") && out.stderr.contains("pushed"),
        "{out}"
    );
    assert_eq!(s.git(&s.bare(), &["show", "main:allowed_signers"]), mine);
    assert_eq!(std::fs::read_to_string(&signers_a).expect("A"), mine);
    let out = s.sync_a();
    assert!(
        !out.stderr.contains("CONFLICT") && out.stderr.contains("up to date"),
        "{out}"
    );
    // B took the hostile copy, then A's: each time it is told.
    let out = s.sync_b();
    assert!(
        out.stderr.contains("allowed_signers changed by the remote (commit")
            && out.stderr.contains("by warroom sync (site-a.")
            && out.stderr.contains("2 line(s) added, 1 removed"),
        "{out}"
    );
    assert_eq!(std::fs::read_to_string(&signers_b).expect("B"), mine);
    assert!(!out.stderr.contains("CONFLICT"), "{out}");
}

/// A deletion is blamed only on a commit that deleted the file; after a force-push to an old
/// commit (made before the files existed), on no commit at all.
#[test]
fn a_deletion_is_blamed_on_the_commit_that_made_it_never_an_older_one() {
    let s = Sites::new();
    let evil = s.evil();
    std::fs::write(evil.join("README"), "hello\n").expect("file");
    s.git(&evil, &["add", "README"]);
    s.git(
        &evil,
        &["commit", "--quiet", "--author", "alice <alice@x>", "-m", "root"],
    );
    s.git(&evil, &["push", "--quiet", "origin", "HEAD:main"]);
    let root = s.git(&evil, &["rev-parse", "HEAD"]).trim().to_string();
    let id = s.a.declare(&s.alice, "Blame");
    s.sync_a();
    s.sync_b();
    s.b.note(&s.bob, &id, "bob one");
    s.sync_b();
    s.sync_a();
    // Deleted by eve, then an unrelated commit by someone else on top.
    let evil = s.evil();
    s.git(&evil, &["rm", "-r", "--quiet", &format!("{id}/incident.ron")]);
    s.git(
        &evil,
        &[
            "commit",
            "--quiet",
            "--author",
            "eve\x1b]0;pwned\x07 <eve@x>",
            "-m",
            "tidy",
        ],
    );
    std::fs::write(evil.join("README"), "hello again\n").expect("file");
    s.evil_push("unrelated");
    let out = s.sync_b();
    assert!(
        out.stderr
            .contains("incident.ron: TAMPERING? deleted on the remote (commit")
            && out.stderr.contains("by eve"),
        "{out}"
    );
    assert!(!out.stderr.contains('\x1b') && !out.stderr.contains("pwned"), "{out}");
    s.sync_a();
    // Force-pushed back to the root commit, which predates every file.
    let evil = s.evil();
    s.git(
        &evil,
        &["push", "--quiet", "--force", "origin", &format!("{root}:main")],
    );
    let out = s.sync_b();
    assert!(
        out.stderr
            .contains("gone from the remote after its history was rewritten (force-push to")
            && out.stderr.contains("committed by test"),
        "{out}"
    );
    assert!(
        out.stderr
            .contains("the remote's copy of your own log is gone after its history was rewritten (force-push to"),
        "{out}"
    );
    assert!(!out.stderr.contains("by alice"), "{out}");
    assert!(!out.stderr.contains("deleted on the remote (commit"), "{out}");
    assert!(s
        .git(&s.bare(), &["ls-tree", "-r", "--name-only", "main"])
        .contains(&format!("{id}/incident.ron")));
}

/// A site whose git named its branch `master` beside sites on the remote's `main`: each round
/// says so (it would otherwise say "up to date" for ever while the sites never meet), and the
/// rename it advises joins them.
#[test]
fn a_site_on_another_branch_than_the_remote_is_told_and_the_advice_joins_them() {
    let s = Sites::new();
    s.git(&s.a.root(), &["symbolic-ref", "HEAD", "refs/heads/master"]);
    let id_a = s.a.declare(&s.alice, "Declared at A");
    let id_b = s.b.declare(&s.bob, "Declared at B");
    s.sync_b();
    s.sync_a();
    let out = s.sync_a();
    assert!(
        out.stderr
            .contains("the remote also has branch `main` but this site syncs `master`"),
        "{out}"
    );
    let out = s.sync_b();
    assert!(
        out.stderr.contains("branch `master` but this site syncs `main`"),
        "{out}"
    );
    // The advice: put this site on their branch (the files stay; sync commits its own), then sync.
    s.git(&s.a.root(), &["symbolic-ref", "HEAD", "refs/heads/main"]);
    s.sync_a();
    s.sync_b();
    assert!(s.b.show(&s.bob, &id_a)["title"] == "Declared at A");
    assert!(s.a.show(&s.alice, &id_b)["title"] == "Declared at B");
    // The branch no site uses any more, deleted as advised: the warning goes.
    s.git(&s.a.root(), &["push", "--quiet", "origin", "--delete", "master"]);
    s.git(&s.b.root(), &["fetch", "--quiet", "--prune", "origin"]);
    assert!(!s.sync_a().stderr.contains("also has branch"));
    assert!(!s.sync_b().stderr.contains("also has branch"));
}
