//! Running hooks: each in its own process group with the event on stdin, killed (with anything
//! it started) at its timeout. Failures are logged (`<state dir>/hooks.log` and tracing) and
//! returned for the caller to show; nothing here ever blocks the console, which calls
//! [`Runner::fire_background`].

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{payload, trigger_of, Hook, Trigger};
use crate::domain::event::{Event, Mode};
use crate::domain::{playbook, sanitize, Playbook};
use crate::store::incident::Header;
use crate::store::{Store, HEADER_FILE, PLAYBOOKS_DIR};

/// The log of hook failures in the state directory.
pub const LOG_FILE: &str = "hooks.log";
/// The deadline crossings this install has fired (`incident/deadline/stage/level`, one a line
/// of a RON list), in the state directory.
pub const DEADLINES_FILE: &str = "hooks-deadlines.ron";

pub struct Runner {
    hooks: Vec<Hook>,
    store: Store,
}

/// What hooks need to know about an incident: its header copy and playbook (cheap to read).
struct Known {
    header: Option<Header>,
    playbook: Option<Playbook>,
}

impl Runner {
    pub fn new(hooks: Vec<Hook>, store: Store) -> Runner {
        Runner { hooks, store }
    }

    /// The hooks in the responder's config, if any (a config error was reported at start).
    pub fn from_config(store: &Store) -> Option<Arc<Runner>> {
        let (config, _) = crate::store::config::load_config().ok()?;
        (!config.hooks.is_empty()).then(|| Arc::new(Runner::new(config.hooks, store.clone())))
    }

    fn known(&self, id: &str) -> Known {
        let dir = self.store.incident_dir(id);
        let header: Option<Header> = std::fs::read_to_string(dir.join(HEADER_FILE))
            .ok()
            .and_then(|t| ron::from_str(&t).ok());
        let playbook = header.as_ref().and_then(|h| {
            let text =
                std::fs::read_to_string(dir.join(PLAYBOOKS_DIR).join(format!("{}.ron", h.playbook_hash))).ok()?;
            playbook::parse(&text).ok().map(|(p, _)| p)
        });
        Known { header, playbook }
    }

    /// Run every hook the events call for, one after another; returns the failures.
    pub fn fire(&self, written: &[(String, Event)]) -> Vec<String> {
        let mut failures = Vec::new();
        let mut incidents: BTreeMap<&str, Known> = BTreeMap::new();
        for (id, e) in written {
            let k = incidents.entry(id.as_str()).or_insert_with(|| self.known(id));
            let mode = k.header.as_ref().map(|h| h.mode);
            if mode == Some(Mode::Demo) {
                continue;
            }
            let Some(trigger) = trigger_of(e, k.playbook.as_ref()) else {
                continue;
            };
            let title = k.header.as_ref().map_or("", |h| h.title.as_str());
            let json = payload(trigger, id, title, mode, e).to_string();
            for hook in self.hooks.iter().filter(|h| h.on.contains(&trigger)) {
                if let Err(why) = run_one(hook, trigger, id, &json) {
                    let msg = format!(
                        "hook `{}` on {} for {id} failed: {}",
                        sanitize(&hook.name),
                        trigger.name(),
                        sanitize(&why)
                    );
                    tracing::warn!(hook = %hook.name, incident = %id, why = %why, "hook failed");
                    self.log(&msg);
                    failures.push(msg);
                }
            }
        }
        failures
    }

    /// Run the hooks on a thread of their own; `on_fail` hears each failure.
    pub fn fire_background(self: &Arc<Self>, written: Vec<(String, Event)>, on_fail: impl Fn(String) + Send + 'static) {
        let me = self.clone();
        let spawned = std::thread::Builder::new().name("hooks".into()).spawn(move || {
            for f in me.fire(&written) {
                on_fail(f);
            }
        });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot start a thread for hooks");
        }
    }

    /// Does any hook run on a deadline crossing?
    pub fn wants_deadlines(&self) -> bool {
        self.hooks.iter().any(|h| {
            h.on.iter()
                .any(|t| matches!(t, Trigger::DeadlineAmber | Trigger::DeadlineOverdue))
        })
    }

    /// Fire the deadline hooks for crossings not fired yet by this install, once each: under the
    /// install's lock the new crossings are found and remembered (in [`DEADLINES_FILE`]) before
    /// any hook runs, so two consoles of one install, or a restart, never fire one twice. A
    /// crossing that happened while nothing ran is fired when first seen, marked late. Demo
    /// incidents never fire; an exercise fires with its mode. Returns what was fired (one line
    /// each: `incident deadline/stage level`, sanitised) and the failures.
    pub fn fire_deadlines(&self, now: crate::domain::time::Millis) -> (Vec<String>, Vec<String>) {
        use super::deadline::{crossings, payload, trigger_of, Level};
        if !self.wants_deadlines() {
            return (Vec::new(), Vec::new());
        }
        let mut due: Vec<(String, Trigger, String)> = Vec::new();
        let mut fired_now: Vec<String> = Vec::new();
        {
            let Some(_lock) = self.deadline_lock() else {
                return (
                    Vec::new(),
                    vec!["deadline hooks: cannot take the install's lock (not fired now; tried again later)".into()],
                );
            };
            let path = self.store.state_dir.join(DEADLINES_FILE);
            let mut fired: std::collections::BTreeSet<String> = crate::store::fsutil::read_text_file(&path)
                .ok()
                .and_then(|t| ron::from_str(&t).ok())
                .unwrap_or_default();
            let before = fired.len();
            let ids = self.store.list_incidents().map(|(ids, _)| ids).unwrap_or_default();
            // The board's cached summaries first: only an open, non-demo incident with a stage
            // started and neither met nor waived can have a crossing, and only it is folded.
            let candidates: Vec<String> = crate::store::summary::load_many(&self.store, &ids, now)
                .into_iter()
                .filter(|(s, _)| {
                    !(s.resolved || s.archived || s.syncing || s.mode == Some(Mode::Demo) || s.open_dues.is_empty())
                })
                .map(|(s, _)| s.id)
                .collect();
            for id in candidates {
                let k = self.known(&id);
                let mode = k.header.as_ref().map(|h| h.mode);
                if mode == Some(Mode::Demo) || k.header.is_none() {
                    continue;
                }
                let inc = crate::store::incident::Incident::open(&self.store, &id, now);
                let Some(pb) = inc.state.playbook() else {
                    continue;
                };
                let all = crossings(&inc.state, pb, now);
                let title = k.header.as_ref().map_or("", |h| h.title.as_str());
                for c in &all {
                    if !fired.insert(c.key(&id)) {
                        continue;
                    }
                    // Overdue seen first: its amber is past news, remembered but not fired.
                    let superseded = c.level == Level::Amber
                        && all
                            .iter()
                            .any(|o| o.level == Level::Overdue && o.deadline == c.deadline && o.stage == c.stage);
                    if !superseded {
                        let json = payload(c, &id, title, mode, now).to_string();
                        due.push((id.clone(), trigger_of(c.level), json));
                        fired_now.push(sanitize(&format!("{id} {}/{} {}", c.deadline, c.stage, c.level.word())));
                    }
                }
            }
            if fired.len() != before {
                let text = ron::to_string(&fired).unwrap_or_default();
                if let Err(e) =
                    crate::store::fsutil::write_atomic(&path, text.as_bytes(), crate::store::Sharing::private())
                {
                    // Not remembered: not fired either, so nothing fires twice.
                    return (
                        Vec::new(),
                        vec![format!(
                            "deadline hooks: cannot save {}: {e} (not fired)",
                            path.display()
                        )],
                    );
                }
            }
        }
        let mut failures = Vec::new();
        for (id, trigger, json) in due {
            for hook in self.hooks.iter().filter(|h| h.on.contains(&trigger)) {
                if let Err(why) = run_one(hook, trigger, &id, &json) {
                    let msg = format!(
                        "hook `{}` on {} for {id} failed: {}",
                        sanitize(&hook.name),
                        trigger.name(),
                        sanitize(&why)
                    );
                    tracing::warn!(hook = %hook.name, incident = %id, why = %why, "hook failed");
                    self.log(&msg);
                    failures.push(msg);
                }
            }
        }
        (fired_now, failures)
    }

    /// Look for deadline crossings now and every [`super::deadline::TICK`], on a thread of its
    /// own for as long as the process runs (nothing when no hook runs on a deadline).
    pub fn watch_deadlines(
        self: &Arc<Self>,
        clock: fn() -> crate::domain::time::Millis,
        on_fail: impl Fn(String) + Send + 'static,
    ) {
        if !self.wants_deadlines() {
            return;
        }
        let me = self.clone();
        let spawned = std::thread::Builder::new()
            .name("deadline-hooks".into())
            .spawn(move || loop {
                for f in me.fire_deadlines(clock()).1 {
                    on_fail(f);
                }
                std::thread::sleep(super::deadline::TICK);
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot start a thread for deadline hooks");
        }
    }

    /// The install's lock for deadline hooks (blocking; `None` when it cannot be had).
    fn deadline_lock(&self) -> Option<std::fs::File> {
        let dir = self.store.state_dir.join("locks");
        std::fs::create_dir_all(&dir).ok()?;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("hooks-deadlines.lock"))
            .ok()?;
        file.lock().ok()?;
        Some(file)
    }

    fn log(&self, line: &str) {
        let path = self.store.state_dir.join(LOG_FILE);
        let stamp = crate::domain::time::format_utc(crate::cli::context::now_ms());
        let file = std::fs::OpenOptions::new().create(true).append(true).open(&path);
        if let Ok(mut f) = file {
            let _ = writeln!(f, "{stamp} {line}");
        }
    }
}

/// Run one hook with `json` on stdin; Ok when it exits 0 within its timeout.
fn run_one(hook: &Hook, trigger: Trigger, incident: &str, json: &str) -> Result<(), String> {
    let Some((program, args)) = hook.command.split_first() else {
        return Err("no command".into());
    };
    let mut child = Command::new(program)
        .args(args)
        .env("WARROOM_HOOK", trigger.name())
        .env("WARROOM_INCIDENT", incident)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start {program}: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        let input = json.as_bytes().to_vec();
        // A hook that never reads its stdin must not hold us up.
        std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
            let _ = stdin.write_all(b"\n");
        });
    }
    let (err_tx, err_rx) = std::sync::mpsc::channel();
    if let Some(stderr) = child.stderr.take() {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = stderr.take(64 * 1024).read_to_end(&mut buf);
            let _ = err_tx.send(buf);
        });
    }
    let limit = hook.timeout();
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() >= limit => {
                kill_group(child.id());
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("timed out after {:.1} s (killed)", limit.as_secs_f64()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("cannot wait for it: {e}")),
        }
    };
    if status.success() {
        return Ok(());
    }
    let stderr = err_rx.recv_timeout(Duration::from_millis(500)).unwrap_or_default();
    let text = String::from_utf8_lossy(&stderr);
    let last = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("");
    let last: String = sanitize(last).chars().take(200).collect();
    Err(match status.code() {
        Some(c) => format!(
            "exited with status {c}{}",
            if last.is_empty() {
                String::new()
            } else {
                format!(": {last}")
            }
        ),
        None => "killed by a signal".into(),
    })
}

/// Kill the hook's process group (a shell script's `curl` too).
fn kill_group(pid: u32) {
    if let Some(pid) = i32::try_from(pid).ok().and_then(rustix::process::Pid::from_raw) {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
}
