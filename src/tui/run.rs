//! The shell around the pure parts: one `select!` over key presses, store messages, signals and a
//! clock; draw only when something changed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossterm::event::Event as TermEvent;
use crossterm::execute;
use crossterm::terminal::{BeginSynchronizedUpdate, EndSynchronizedUpdate};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

use super::keymap::Keymap;
use super::model::{update, Effect, Model, Msg};
use super::terminal::Guard;
use super::theme::Theme;
use super::view;
use super::worker::{Cmd, Worker};
use crate::domain::playbook::Audience;
use crate::domain::time::Millis;
use crate::store::playbooks::Library;
use crate::store::{fsutil, Identity, Store};

pub struct Options {
    pub store: Store,
    pub identity: Identity,
    pub observer: bool,
    pub open: Option<String>,
    pub poll: Option<Duration>,
    pub library: Library,
    pub keymap: Keymap,
    pub clock: fn() -> Millis,
    /// `ascii:` from the config file (the environment decides otherwise).
    pub ascii: Option<bool>,
    /// Set when the facilitator runs an exercise from this console.
    pub facilitator: Option<crate::exercise::local::FacilitatorState>,
    /// `warroom demo`: its DEMO incident is listed under Active on the board.
    pub demo: bool,
    /// `exercise run --resume`: injects overdue at the start wait for the facilitator's key.
    pub resumed: bool,
    /// Whether approved commands may run from this console, and from which playbooks.
    pub exec: super::model::ExecSetup,
    /// Sync rounds with a git remote every so often (`--sync-every`), on a thread of their own.
    pub sync: Option<super::sync::SyncSetup>,
}

fn draft_path(store: &Store, incident: &str) -> PathBuf {
    store.state_dir.join("drafts").join(format!("{incident}.txt"))
}

/// A status update closed unsent: `<state>/drafts/<incident>.status-<audience>.txt`.
fn status_draft_path(store: &Store, incident: &str, audience: Audience) -> PathBuf {
    store
        .state_dir
        .join("drafts")
        .join(format!("{incident}.status-{}.txt", audience.word()))
}

/// Write (or, for an empty text, remove) a draft, synced to disk: `Err` says why it is not kept.
fn write_draft(path: &Path, text: &str) -> Result<(), String> {
    if text.trim().is_empty() {
        let _ = std::fs::remove_file(path);
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{e} (creating {})", dir.display()))?;
    }
    fsutil::write_atomic(path, text.as_bytes(), fsutil::Sharing::private())
        .map_err(|e| format!("{e} (writing {})", path.display()))
}

/// A draft sent to the local thread and not known to be on disk: still on its way (`why` is
/// `None`) or failed. Whatever is left here on the way out is printed, never called kept.
struct Unkept {
    what: String,
    text: String,
    why: Option<String>,
}

type UnkeptDrafts = Arc<Mutex<BTreeMap<PathBuf, Unkept>>>;

fn unkept_lock(u: &UnkeptDrafts) -> std::sync::MutexGuard<'_, BTreeMap<PathBuf, Unkept>> {
    // A panic on the local thread must not lose the texts: the map is still whole.
    u.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The sending half of the local thread; it notes every draft it passes on until the thread
/// reports it on disk.
struct LocalTx {
    tx: std::sync::mpsc::Sender<Local>,
    store: Store,
    unkept: UnkeptDrafts,
}

impl LocalTx {
    fn send(&self, job: Local) -> Result<(), std::sync::mpsc::SendError<Local>> {
        if let Some((path, what, text)) = job.draft(&self.store) {
            unkept_lock(&self.unkept).insert(path, Unkept { what, text, why: None });
        }
        self.tx.send(job)
    }
}

/// Log to `<state dir>/warroom.log`, never to the terminal the console owns (`WARROOM_LOG` sets
/// the filter, default `info`).
fn start_log(store: &Store) {
    let path = store.state_dir.join("warroom.log");
    if std::fs::create_dir_all(&store.state_dir).is_err() {
        return;
    }
    let Ok(file) = std::fs::OpenOptions::new().create(true).append(true).open(&path) else {
        return;
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("WARROOM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(file))
        .try_init();
}

/// Run the console until the user quits (or the terminal hangs up).
/// Seconds between reads of the sync status file when the console runs no rounds itself.
const SYNC_FILE_TICKS: u64 = 5;

/// How long store messages are applied before the keyboard is looked at again.
const DRAIN_BUDGET: Duration = Duration::from_millis(8);

pub fn run(opts: Options) -> std::io::Result<()> {
    start_log(&opts.store);
    tracing::info!(dir = %opts.store.describe(), me = %opts.identity.writer, "console started");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(event_loop(opts))
}

async fn event_loop(opts: Options) -> std::io::Result<()> {
    let clock = opts.clock;
    let theme = Theme::from_env_and(opts.ascii);
    let mut model = Model::new(
        &opts.identity.writer.to_string(),
        opts.keymap.clone(),
        &opts.store.describe(),
        clock(),
    );
    model.observer = opts.observer;
    model.facilitator = opts.facilitator.clone();
    model.demo = opts.demo;
    model.hold_overdue = opts.resumed;
    model.exec = opts.exec.clone();
    model.sync = opts.sync.as_ref().map(|s| s.live(&opts.store.state_dir));
    model.library_versions = opts
        .library
        .visible()
        .iter()
        .map(|e| (e.playbook.id.clone(), e.playbook.version.clone()))
        .collect();
    model.playbooks = opts
        .library
        .visible()
        .iter()
        .filter(|e| !e.playbook.partial) // building blocks are never declared on their own
        .map(|e| (e.playbook.id.clone(), e.playbook.title.clone()))
        .collect();

    let (msg_tx, mut msg_rx) = mpsc::unbounded_channel::<Msg>();
    let (local, local_thread) = spawn_local(opts.store.clone(), msg_tx.clone())?;
    let unkept = Arc::clone(&local.unkept);
    let exec_tx = msg_tx.clone();
    // Kept for the life of the loop: dropping it stops the rounds.
    let _sync_stop = match &opts.sync {
        Some(setup) => Some(super::sync::spawn(
            setup.clone(),
            opts.store.state_dir.clone(),
            clock,
            msg_tx.clone(),
        )?),
        None => None,
    };
    let hooks = crate::hooks::run::Runner::from_config(&opts.store);
    if let Some(h) = &hooks {
        // Deadlines crossing amber or overdue: fired once per install, failures in the footer.
        let fail_tx = msg_tx.clone();
        h.watch_deadlines(clock, move |f| {
            let _ = fail_tx.send(Msg::Failed(f));
        });
    }
    let (cmd_tx, cmd_rx) = std::sync::mpsc::channel::<Cmd>();
    let worker = Worker::new(
        opts.store.clone(),
        opts.identity.clone(),
        clock,
        std::sync::Arc::new(move |m| {
            let _ = msg_tx.send(m);
        }),
    )
    .with_gate(std::sync::Arc::new(super::part_gate::PartGate::default()))
    .with_hooks(hooks)
    .opening(opts.open.clone());
    let hint_tx = cmd_tx.clone();
    let poll = opts.poll;
    // Not joined on exit: a worker stuck on a dead mount must not keep the console from quitting.
    std::thread::Builder::new()
        .name("warroom-store".into())
        .spawn(move || {
            let fatal = worker.fatal_sender();
            let run = std::panic::AssertUnwindSafe(move || worker.run(cmd_rx, hint_tx, poll));
            if let Err(panic) = std::panic::catch_unwind(run) {
                let what = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                tracing::error!(%what, "store thread panicked");
                fatal(Msg::StoreDied(what));
            }
        })?;

    // Signals first: one that arrives while the terminal is being set up must not leave it raw.
    let mut signals = Signals::new()?;
    let mut pending = Vec::new();
    let (guard, mut terminal) = Guard::enter()?;
    // Start on a clean screen: after an SSH reconnect the old shell line must not stay on row 1.
    // (Written directly: ratatui's `clear` asks the terminal where the cursor is first.)
    let _ = execute!(
        terminal.backend_mut(),
        crossterm::terminal::Clear(crossterm::terminal::ClearType::All),
        crossterm::cursor::MoveTo(0, 0)
    );
    if let Ok(size) = terminal.size() {
        pending.extend(update(
            &mut model,
            Msg::Resize {
                width: size.width,
                height: size.height,
            },
        ));
    }
    let started = std::time::Instant::now();
    let mut events = read_terminal(started)?;
    let mut ended_by: Option<&'static str> = None;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);

    if let Some(id) = &opts.open {
        let mut inc = super::model::IncidentModel::new(id);
        inc.timeline.condense_clock = model.facilitator.is_none();
        model.incident = Some(inc);
        pending.push(Effect::Open(id.clone()));
    }
    let mut dirty = true;
    // A part of a long read changed the screen: drawn at most every `PART_FRAME`.
    let mut parts_dirty = false;
    let mut last_draw = std::time::Instant::now();
    let mut last_minute = clock() / 60_000;
    // Without rounds of its own, the console shows what a `warroom sync` beside it recorded
    // (a local file, read on the local thread every few seconds).
    let read_sync_file = opts.sync.is_none() && !opts.demo;
    let mut ticks: u64 = 0;
    if read_sync_file {
        let _ = local.send(Local::LoadSyncStatus);
    }
    loop {
        while !pending.is_empty() {
            let effects: Vec<Effect> = std::mem::take(&mut pending);
            for fx in effects {
                dirty = true;
                if let Some(msg) = execute_effect(fx, &opts, &model, &cmd_tx, &local, &exec_tx) {
                    pending.extend(update(&mut model, msg));
                }
            }
        }
        if model.quit {
            break;
        }
        if parts_dirty && last_draw.elapsed() >= PART_FRAME {
            dirty = true;
        }
        if dirty {
            parts_dirty = false;
            last_draw = std::time::Instant::now();
            let _ = execute!(terminal.backend_mut(), BeginSynchronizedUpdate);
            let drawn = terminal.draw(|f| view::draw(f, &model, &theme)).is_ok();
            let _ = execute!(terminal.backend_mut(), EndSynchronizedUpdate);
            dirty = false;
            if !drawn {
                // The terminal is gone (an SSH link dropped before its SIGHUP): save and leave.
                pending.extend(update(&mut model, Msg::Hangup));
                continue;
            }
            // The notes drawn without their text (left in their logs) are asked for now.
            pending.extend(crate::tui::model::texts::wanted(&mut model));
            if !pending.is_empty() {
                continue;
            }
        }
        // Keys first: the terminal is looked at before the store's messages, whatever is queued.
        let msgs: Vec<Msg> = tokio::select! {
            biased;
            ev = events.recv() => match ev {
                Some(Ok(first)) => terminal_msgs(drain(first, &mut events)),
                // The terminal is gone (SSH dropped): save and leave.
                Some(Err(_)) | None => vec![Msg::Hangup],
            },
            Some(m) = msg_rx.recv() => vec![m],
            name = signals.recv() => {
                tracing::info!(signal = name, "ending on a signal; drafts are saved");
                ended_by = Some(name);
                vec![Msg::Hangup]
            }
            _ = tick.tick() => {
                let now = clock();
                ticks += 1;
                if read_sync_file && ticks.is_multiple_of(SYNC_FILE_TICKS) {
                    let _ = local.send(Local::LoadSyncStatus);
                }
                // Redraw for a visible clock: every second in the war room, every minute on the board.
                let minute = now / 60_000;
                if model.incident.is_some() || minute != last_minute || model.flash.is_some() || !model.pending.is_empty() {
                    dirty = true;
                }
                last_minute = minute;
                vec![Msg::Tick(now)]
            }
        };
        for msg in msgs {
            take_drawing(&mut model, msg, &mut pending, &mut dirty, &mut parts_dirty);
        }
        // Drain what else is queued before drawing once, within a budget: in a storm of updates
        // (each at most `FOLD_BATCH` events) the rest waits for the next pass, after the
        // terminal's keys have been read again.
        let drain_from = std::time::Instant::now();
        while drain_from.elapsed() < DRAIN_BUDGET {
            let Ok(m) = msg_rx.try_recv() else { break };
            take_drawing(&mut model, m, &mut pending, &mut dirty, &mut parts_dirty);
        }
    }
    stop_running_command();
    let _ = cmd_tx.send(Cmd::Shutdown);
    // Let the last drafts reach the disk (a few seconds at most: a hung home directory must not
    // keep the console from quitting).
    drop(local);
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while !local_thread.is_finished() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let finished = local_thread.is_finished();
    // The terminal is back to normal before anything is printed.
    drop(guard);
    let unkept = std::mem::take(&mut *unkept_lock(&unkept));
    if let Some(note) = &model.farewell {
        // Only what is on disk is called kept (the note's line, the status updates' line).
        let note_lost = unkept.values().any(|u| u.what.starts_with("note "));
        let status_lost = unkept.values().any(|u| u.what.starts_with("status update "));
        for line in note.lines() {
            let lost = if line.starts_with(super::model::FAREWELL_NOTE) {
                note_lost
            } else {
                status_lost
            };
            if !lost {
                eprintln!("warroom: {line}");
            }
        }
    }
    for u in unkept.values() {
        let why = match &u.why {
            Some(why) => why.clone(),
            None if finished => "not saved".into(),
            None => "the state directory did not answer within 3 s".into(),
        };
        eprintln!(
            "warroom: your unsent {} could NOT be kept as a draft ({why}); here it is:\n{}\n",
            u.what, u.text
        );
    }
    if let Some(name) = ended_by {
        eprintln!("warroom: ended by {name}");
        // As a shell expects of a process a signal ended: 128 + its number.
        std::process::exit(128 + signal_number(name));
    }
    let fatal = model.fatal.take();
    // The process ends now: a long incident's fold is left to the OS rather than freed record
    // by record (about a fifth of the console thread's time after opening 100k). Nothing is
    // lost by it: writes are the worker's (not joined, as before), drafts were saved above.
    std::mem::forget(model);
    std::mem::forget(msg_rx);
    match fatal {
        Some(why) => Err(std::io::Error::other(why)),
        // Not a clean exit: a script or the user's shell sees that something was not kept.
        None if !unkept.is_empty() => Err(std::io::Error::other(
            "unsent text could not be kept as a draft; it is printed above",
        )),
        None => Ok(()),
    }
}

/// While a long read arrives in parts, the screen shows its progress at most this often: a
/// frame of a large incident costs more than taking a part, and keys are drawn at once anyway.
const PART_FRAME: Duration = Duration::from_millis(100);

/// [`take`], with a part of a long read marking `parts_dirty` (drawn within [`PART_FRAME`])
/// rather than `dirty` (drawn now).
fn take_drawing(model: &mut Model, msg: Msg, pending: &mut Vec<Effect>, dirty: &mut bool, parts_dirty: &mut bool) {
    let part = matches!(msg, Msg::IncidentPart { .. });
    let changed = take(model, msg, pending);
    if part {
        *parts_dirty |= changed;
    } else {
        *dirty |= changed;
    }
}

/// Give the reducer one message; whether the screen must be drawn again. A tick draws only for a
/// visible clock (decided by the loop); a sync round that changes nothing on screen draws nothing
/// (a sync every second must not become a redraw every second on the board).
fn take(model: &mut Model, msg: Msg, pending: &mut Vec<Effect>) -> bool {
    let tick = matches!(msg, Msg::Tick(_));
    let sync = matches!(msg, Msg::Synced { .. } | Msg::SyncStatus(_));
    let before = sync.then(|| sync_seen(model));
    pending.extend(update(model, msg));
    match before {
        Some(b) => sync_seen(model) != b,
        None => !tick,
    }
}

/// What a sync round can change on screen: the header's words and the footer's message.
fn sync_seen(model: &Model) -> (Option<String>, Option<super::model::Flash>) {
    let words = model.sync.as_ref().map(|l| {
        if model.incident.is_some() {
            crate::sync::status::short(l, model.now)
        } else {
            crate::sync::status::compact_with(l, model.now, crate::domain::time::format_age_minutes)
        }
    });
    (words, model.flash.clone())
}

/// Every signal whose default would end the console ends it cleanly instead: terminal restored,
/// what is typed saved. (SIGPIPE is ignored by Rust's runtime; a write to a closed terminal fails
/// and the loop treats that as a hang-up.)
struct Signals(Vec<(&'static str, tokio::signal::unix::Signal)>);

impl Signals {
    fn new() -> std::io::Result<Signals> {
        let kinds = [
            ("SIGHUP", SignalKind::hangup()),
            ("SIGTERM", SignalKind::terminate()),
            ("SIGINT", SignalKind::interrupt()),
            ("SIGQUIT", SignalKind::quit()),
            ("SIGUSR1", SignalKind::user_defined1()),
            ("SIGUSR2", SignalKind::user_defined2()),
            // Timers a stray `kill` or a misbehaving library may send: their default also ends
            // the process, so they end the console cleanly too.
            ("SIGALRM", SignalKind::alarm()),
            ("SIGVTALRM", SignalKind::from_raw(libc::SIGVTALRM)),
            ("SIGPROF", SignalKind::from_raw(libc::SIGPROF)),
            ("SIGXCPU", SignalKind::from_raw(libc::SIGXCPU)),
            ("SIGPWR", SignalKind::from_raw(libc::SIGPWR)),
            ("SIGIO", SignalKind::from_raw(libc::SIGIO)),
            ("SIGSTKFLT", SignalKind::from_raw(libc::SIGSTKFLT)),
        ];
        let mut all = Vec::new();
        for (name, kind) in kinds {
            all.push((name, signal(kind)?));
        }
        Ok(Signals(all))
    }

    /// The name of the next signal to arrive.
    async fn recv(&mut self) -> &'static str {
        let waits = self.0.iter_mut().map(|(name, s)| {
            let name: &'static str = name;
            Box::pin(async move {
                s.recv().await;
                name
            })
        });
        futures::future::select_all(waits).await.0
    }
}

/// The number of a signal the console ends on, by name (for its exit status).
fn signal_number(name: &str) -> i32 {
    match name {
        "SIGHUP" => libc::SIGHUP,
        "SIGINT" => libc::SIGINT,
        "SIGQUIT" => libc::SIGQUIT,
        "SIGUSR1" => libc::SIGUSR1,
        "SIGUSR2" => libc::SIGUSR2,
        "SIGALRM" => libc::SIGALRM,
        "SIGVTALRM" => libc::SIGVTALRM,
        "SIGPROF" => libc::SIGPROF,
        "SIGXCPU" => libc::SIGXCPU,
        "SIGPWR" => libc::SIGPWR,
        "SIGIO" => libc::SIGIO,
        "SIGSTKFLT" => libc::SIGSTKFLT,
        _ => libc::SIGTERM,
    }
}

/// Terminal events, each stamped (ms since `started`) when it was read. A thread of their own
/// reads them as they come, so the stamps are arrival times even while the screen is busy (a long
/// paste being typed into a field): a key pressed after the paste ended is never taken for part
/// of it because it was handled late.
type Stamped = (TermEvent, Millis);

fn read_terminal(started: std::time::Instant) -> std::io::Result<mpsc::UnboundedReceiver<std::io::Result<Stamped>>> {
    let (tx, rx) = mpsc::unbounded_channel();
    // Not joined: it waits on the terminal until the process ends.
    std::thread::Builder::new()
        .name("warroom-keys".into())
        .spawn(move || loop {
            let read = crossterm::event::read();
            let at = Millis::try_from(started.elapsed().as_millis()).unwrap_or(Millis::MAX);
            let end = read.is_err();
            if tx.send(read.map(|e| (e, at))).is_err() || end {
                break;
            }
        })?;
    Ok(rx)
}

/// The event just received and everything else already read.
fn drain(first: Stamped, rx: &mut mpsc::UnboundedReceiver<std::io::Result<Stamped>>) -> Vec<Stamped> {
    let mut all = vec![first];
    // Bounded, so a flood of input cannot keep the screen from being drawn.
    while all.len() < 4096 {
        match rx.try_recv() {
            Ok(Ok(e)) => all.push(e),
            _ => break,
        }
    }
    all
}

/// Terminal events in order, with keys that arrived together (one read from the terminal, as a
/// paste without bracketed-paste markers does) kept as one batch stamped with their arrival.
fn terminal_msgs(events: Vec<Stamped>) -> Vec<Msg> {
    let mut out = Vec::new();
    let mut keys = Vec::new();
    for (e, at) in events {
        match e {
            TermEvent::Key(k) => keys.push((k, at)),
            TermEvent::Paste(p) => {
                flush_keys(&mut out, &mut keys);
                out.push(Msg::Paste(p));
            }
            TermEvent::Resize(width, height) => {
                flush_keys(&mut out, &mut keys);
                out.push(Msg::Resize { width, height });
            }
            _ => {}
        }
    }
    flush_keys(&mut out, &mut keys);
    out
}

fn flush_keys(out: &mut Vec<Msg>, keys: &mut Vec<(crossterm::event::KeyEvent, Millis)>) {
    for (keys, at) in super::input::batches(std::mem::take(keys)) {
        tracing::debug!(keys = keys.len(), at, "keys read at once");
        out.push(Msg::Keys { keys, at });
    }
}

/// Carry out one effect; some answer at once with a message for the reducer.
/// Work on the local state directory (drafts, the facilitator's notes). It runs on its own
/// thread, in order, because a home directory on NFS can hang, and the screen must not.
enum Local {
    LoadDraft(String),
    SaveDraft {
        incident: String,
        text: String,
    },
    SaveStatusDraft {
        incident: String,
        audience: Audience,
        text: String,
    },
    SaveFacilitator(Box<crate::exercise::local::FacilitatorState>),
    SaveCopy {
        what: String,
        name: String,
        text: String,
    },
    /// Read the sync status a `warroom sync` of this install keeps for this directory.
    LoadSyncStatus,
}

impl Local {
    /// A draft to save: where, what it is (in the user's words) and its text.
    fn draft(&self, store: &Store) -> Option<(PathBuf, String, String)> {
        match self {
            Local::SaveDraft { incident, text } => Some((
                draft_path(store, incident),
                format!("note for {incident}"),
                text.clone(),
            )),
            Local::SaveStatusDraft {
                incident,
                audience,
                text,
            } => Some((
                status_draft_path(store, incident, *audience),
                format!("status update ({}) for {incident}", audience.word()),
                text.clone(),
            )),
            _ => None,
        }
    }
}

/// Save copied text to `<state dir>/copied/<name>`, the fallback for a terminal that does not
/// pass OSC 52 on; the path is shown to the user.
fn save_copy(store: &Store, name: &str, text: &str) -> Result<String, String> {
    // The name comes from ids in the shared directory: only plain characters reach a path.
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let safe = safe.trim_start_matches('.').to_string();
    let dir = store.state_dir.join("copied");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{e} (creating {})", dir.display()))?;
    let path = dir.join(if safe.is_empty() { "copied.txt".into() } else { safe });
    let mut body = text.to_string();
    body.push('\n');
    fsutil::write_atomic(&path, body.as_bytes(), fsutil::Sharing::private())
        .map_err(|e| format!("{e} (writing {})", path.display()))?;
    Ok(path.display().to_string())
}

type LocalThread = (LocalTx, std::thread::JoinHandle<()>);

fn spawn_local(store: Store, reply: mpsc::UnboundedSender<Msg>) -> std::io::Result<LocalThread> {
    let (tx, rx) = std::sync::mpsc::channel::<Local>();
    let unkept: UnkeptDrafts = Arc::default();
    let local = LocalTx {
        tx,
        store: store.clone(),
        unkept: Arc::clone(&unkept),
    };
    let handle = std::thread::Builder::new()
        .name("warroom-local".into())
        .spawn(move || {
            for job in rx {
                if let Local::LoadDraft(incident) = &job {
                    // The status updates closed unsent come back with the note's draft.
                    for audience in Audience::ALL {
                        if let Ok(text) = std::fs::read_to_string(status_draft_path(&store, incident, audience)) {
                            let _ = reply.send(Msg::StatusDraftLoaded {
                                incident: incident.clone(),
                                audience,
                                text,
                            });
                        }
                    }
                }
                if let Some((path, what, text)) = job.draft(&store) {
                    let saved = write_draft(&path, &text);
                    let mut left = unkept_lock(&unkept);
                    // Only the latest text of a draft counts: an older save finishing late is
                    // not news.
                    if left.get(&path).is_some_and(|u| u.text == text) {
                        match &saved {
                            Ok(()) => {
                                left.remove(&path);
                            }
                            Err(why) => {
                                if let Some(u) = left.get_mut(&path) {
                                    u.why = Some(why.clone());
                                }
                            }
                        }
                    }
                    drop(left);
                    if let Err(why) = saved {
                        tracing::warn!(%why, "a draft could not be saved");
                        let _ = reply.send(Msg::Failed(format!("your {what} could not be kept as a draft: {why}")));
                    }
                    continue;
                }
                let msg = match job {
                    Local::SaveCopy { what, name, text } => Some(Msg::Copied {
                        what,
                        saved: save_copy(&store, &name, &text),
                    }),
                    Local::LoadDraft(incident) => std::fs::read_to_string(draft_path(&store, &incident))
                        .ok()
                        .map(|text| Msg::DraftLoaded { incident, text }),
                    // Handled above, with their outcome.
                    Local::SaveDraft { .. } | Local::SaveStatusDraft { .. } => None,
                    Local::SaveFacilitator(f) => f.save(&store.state_dir).err().map(Msg::Failed),
                    Local::LoadSyncStatus => {
                        let dir = store.root.display().to_string();
                        Some(Msg::SyncStatus(
                            crate::sync::status::load(&store.state_dir).filter(|s| s.dir == dir),
                        ))
                    }
                };
                if let Some(m) = msg {
                    let _ = reply.send(m);
                }
            }
        })?;
    Ok((local, handle))
}

fn execute_effect(
    fx: Effect,
    opts: &Options,
    model: &Model,
    cmd_tx: &std::sync::mpsc::Sender<Cmd>,
    local: &LocalTx,
    reply: &mpsc::UnboundedSender<Msg>,
) -> Option<Msg> {
    match fx {
        Effect::Open(id) => {
            let _ = cmd_tx.send(Cmd::Open(id.clone()));
            let _ = local.send(Local::LoadDraft(id));
            None
        }
        Effect::Close => {
            let _ = cmd_tx.send(Cmd::Close);
            None
        }
        Effect::ReadTexts { incident, want } => {
            let _ = cmd_tx.send(Cmd::ReadTexts { incident, want });
            None
        }
        Effect::HoldTexts(id) => {
            let _ = cmd_tx.send(Cmd::HoldTexts(id));
            None
        }
        Effect::Write {
            token,
            incident,
            drafts,
        } => {
            let _ = cmd_tx.send(Cmd::Write {
                token,
                incident,
                drafts,
            });
            None
        }
        Effect::Declare {
            playbook,
            title,
            severity,
        } => match opts.library.resolve(&playbook) {
            Ok(p) => {
                let _ = cmd_tx.send(Cmd::Declare {
                    playbook: Box::new(p),
                    title,
                    severity,
                    commander: model.person.clone(),
                });
                None
            }
            Err(e) => Some(Msg::Declared {
                result: Err(e.join("; ")),
            }),
        },
        Effect::SaveStatusDraft {
            incident,
            audience,
            text,
        } => {
            let _ = local.send(Local::SaveStatusDraft {
                incident,
                audience,
                text,
            });
            None
        }
        Effect::SaveDraft { incident, text } => {
            let _ = local.send(Local::SaveDraft { incident, text });
            None
        }
        Effect::SaveFacilitator(f) => {
            let _ = local.send(Local::SaveFacilitator(f));
            None
        }
        Effect::Copy { what, name, text } => {
            // OSC 52 (through tmux and SSH where allowed); the terminal never sees the raw text.
            use std::io::Write;
            let mut out = std::io::stdout();
            let _ = out.write_all(super::clipboard::osc52(&text).as_bytes());
            let _ = out.flush();
            let _ = local.send(Local::SaveCopy { what, name, text });
            None
        }
        Effect::Exec(plan) => {
            spawn_exec(opts, &model.exec, *plan, reply.clone());
            None
        }
        Effect::Quit => None,
    }
}

/// Run a confirmed command on a thread of its own (the console keeps drawing: "running…"), in a
/// pseudo-terminal of its own; its records reach the timeline through the watcher like any
/// other, and the responder's hooks run for them.
fn spawn_exec(
    opts: &Options,
    setup: &super::model::ExecSetup,
    plan: crate::domain::exec_policy::Plan,
    reply: mpsc::UnboundedSender<Msg>,
) {
    let store = opts.store.clone();
    let identity = opts.identity.clone();
    let clock = opts.clock;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let run_opts = crate::exec::carry::Options {
        timeout: setup.timeout.unwrap_or(crate::exec::carry::DEFAULT_TIMEOUT),
        stop: Some(std::sync::Arc::clone(&stop)),
        settle: setup.settle,
        ..Default::default()
    };
    let action = plan.action.clone();
    let fail = reply.clone();
    let spawned = std::thread::Builder::new().name("warroom-exec".into()).spawn(move || {
        let result = crate::exec::carry::carry_out(&store, &identity, &plan, run_opts, clock);
        if let Ok(done) = &result {
            if let Some(hooks) = crate::hooks::run::Runner::from_config(&store) {
                let written: Vec<_> = done
                    .written
                    .iter()
                    .map(|e| (plan.incident.clone(), e.clone()))
                    .collect();
                for f in hooks.fire(&written) {
                    let _ = reply.send(Msg::Failed(f));
                }
            }
            if let Some(w) = &done.warning {
                let _ = reply.send(Msg::Failed(w.clone()));
            }
        }
        let _ = reply.send(Msg::Ran {
            action: plan.action.clone(),
            result: result.map(|d| (d.success(), d.summary)),
        });
    });
    match spawned {
        Ok(handle) => {
            if let Ok(mut running) = RUNNING.lock() {
                *running = Some((stop, handle));
            }
        }
        Err(e) => {
            let _ = fail.send(Msg::Ran {
                action,
                result: Err(format!("cannot start a thread to run it: {e}")),
            });
        }
    }
}

/// The command the console is running, if any: its stop flag and its thread.
type Running = (
    std::sync::Arc<std::sync::atomic::AtomicBool>,
    std::thread::JoinHandle<()>,
);
static RUNNING: std::sync::Mutex<Option<Running>> = std::sync::Mutex::new(None);

/// On the way out (quit, a hangup, a signal): a command still running is stopped — its process
/// group killed, what it wrote so far recorded as interrupted, the action set Failed — and its
/// records written before the console ends (never an orphan, never an action left "running").
fn stop_running_command() {
    let taken = RUNNING.lock().ok().and_then(|mut r| r.take());
    let Some((stop, handle)) = taken else { return };
    if handle.is_finished() {
        return;
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while !handle.is_finished() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    if handle.is_finished() {
        let _ = handle.join();
    }
}
