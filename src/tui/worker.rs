//! The store worker: a thread that does every piece of file IO for the console — reconciling the
//! open incident and the board, writing, declaring — so a hung network mount never freezes the
//! screen. Watcher events are hints that wake it; a timer reconciles anyway.

use std::collections::BTreeMap;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use super::part_gate::{PartGate, PartTicket};
use crate::domain::event::{Mode, TextAt};
use crate::domain::time::Millis;
use crate::domain::Playbook;
use crate::store::incident::{declare, DeclareRequest, Source, View};
use crate::store::reader::Texts;
use crate::store::summary::{self, Scan};
use crate::store::watch::{self, Watch};
use crate::store::writer::{Draft, LogWriter};
use crate::store::{Identity, Store};

use super::model::{BoardRow, Msg, RowStatus, WatchInfo};

/// Commands into the worker.
pub enum Cmd {
    Open(String),
    Close,
    Write {
        token: u64,
        incident: String,
        drafts: Vec<Draft>,
    },
    Declare {
        playbook: Box<Playbook>,
        title: String,
        severity: u8,
        commander: String,
    },
    /// A watcher hint: something under the root may have changed.
    Hint,
    /// The watcher can no longer cover every folder (e.g. inotify watches exhausted): poll.
    WatchLost(&'static str),
    /// Read back these notes' texts, left in their logs (log id, place): answered with
    /// [`Msg::TextsRead`], between the parts of a long read too.
    ReadTexts {
        incident: String,
        want: Vec<(String, TextAt)>,
    },
    /// Hold every note's text of the open incident `id` (a search needs them all): those left
    /// in the logs are sent back ([`Msg::TextsHeld`]) and its reader holds them from then on.
    HoldTexts(String),
    Shutdown,
}

/// How often the board re-lists other incidents (the open one follows the watch mode).
const BOARD_EVERY: Duration = Duration::from_secs(15);
/// A burst of hints (a declare writes several files) re-lists the board at most this often, and
/// once more when the window closes so the burst's last write is seen.
const BOARD_COALESCE: Duration = Duration::from_millis(300);
/// Most events in one update sent to the console: about 10 ms of folding, so keys are read
/// between parts (a first open of a long incident, or a storm of writers).
pub const FOLD_BATCH: usize = 4096;
/// How often the open incident's seen heads are written to the local state directory.
const SEEN_SAVE_EVERY: Duration = Duration::from_secs(2);

/// Incidents on the board whose history is kept in memory after they changed, so the next change
/// is read incrementally: the few most recently changed. Every other incident is only its row
/// and the scan it was made from (see `store::summary`), so memory does not grow with history
/// times the number of incidents.
const HOT_MAX: usize = 8;

struct Tracked {
    row: BoardRow,
    /// The folder as it was just before the row was made (`None`: read it again).
    scan: Option<Scan>,
    /// The read history, for an incident that changed lately.
    hot: Option<Box<(Source, View)>>,
    /// When it last changed (a pass counter), for keeping the most recent hot.
    touched: u64,
    /// What it shows depends on the time it was read (see `Summary::pending`): read again on
    /// each pass, though no file changed, until it does not.
    pending: bool,
}

pub struct Worker {
    store: Store,
    identity: Identity,
    clock: fn() -> Millis,
    send: std::sync::Arc<dyn Fn(Msg) + Send + Sync>,
    /// Bounds the parts of a long read waiting for the console (see `part_gate`); none in
    /// tests that gather every message before looking at them.
    gate: Option<std::sync::Arc<PartGate>>,
    open: Option<Source>,
    board: BTreeMap<String, Tracked>,
    /// Board passes made (orders `Tracked::touched`).
    passes: u64,
    /// The last listing of the root, and the incidents gone from it then.
    last_ids: Vec<String>,
    gone: Vec<crate::domain::Problem>,
    last_rows: Vec<BoardRow>,
    last_problems: Vec<crate::domain::Problem>,
    seen_saved: Instant,
    mode: watch::Mode,
    /// The watcher has started (`mode` is known): said with each pass from then on.
    watching: bool,
    /// Why the mode is polling although inotify was wanted.
    why: Option<String>,
    /// How the watcher is made (a failing stand-in in tests).
    backend: watch::Backend,
    /// The responder's hooks, run on their own thread after this install's writes.
    hooks: Option<std::sync::Arc<crate::hooks::run::Runner>>,
    /// config.ron's signature settings, followed.
    signing_watch: crate::store::config::SigningWatch,
    /// The open incident was read again from the start: its next update replaces the view.
    reset_next: bool,
    /// The incident just opened has not been answered: its first pass sends an update even when
    /// it found nothing (the console says it is reading until then).
    unanswered: bool,
    /// The signature policy the board's rows were made under ([`summary::trust_key`]).
    board_trust: Option<String>,
    /// The stamps of the trust inputs outside the watched root (config.ron, the config's
    /// allowed_signers), looked at every [`TRUST_EVERY`].
    trust_watch: TrustStamps,
    /// Commands from the console (set by [`Worker::run`]), and those taken off it to be done
    /// after the pass in progress.
    inbox: Inbox,
    /// The incident the console starts on (`warroom open ID`): opened before the first board
    /// pass, so that pass leaves it to the open reader instead of reading it whole a second
    /// time (a cold open of a long history read it twice).
    first_open: Option<String>,
    /// The console's own `Open` of that incident, already done.
    opened_first: Option<String>,
}

/// The worker's command queue, looked at between the parts of a long read too: a write found
/// there is made at once (see [`Writing`]); anything else waits for the read to end.
#[derive(Default)]
struct Inbox {
    rx: Option<Receiver<Cmd>>,
    later: std::collections::VecDeque<Cmd>,
}

impl Inbox {
    /// Take every command waiting: make the writes (and read back the texts asked for) now,
    /// keep the rest (one hint for many) for after the read. A write made here is read back by
    /// the pass after it (a hint is kept).
    fn serve_writes(&mut self, w: &Writing) {
        let Some(rx) = &self.rx else { return };
        while let Ok(cmd) = rx.try_recv() {
            let cmd = match w.perform(cmd) {
                Ok(false) => continue,
                Ok(true) => Cmd::Hint,
                Err(other) => other,
            };
            let repeat = matches!(cmd, Cmd::Hint) && self.later.iter().any(|c| matches!(c, Cmd::Hint));
            if !repeat {
                self.later.push_back(cmd);
            }
        }
    }
}

/// What a write needs, borrowed apart from the open incident's reader so that writes are made
/// between the parts of a long read: the one path for the console's writes and declarations.
struct Writing<'a> {
    store: &'a Store,
    identity: &'a Identity,
    clock: fn() -> Millis,
    send: &'a std::sync::Arc<dyn Fn(Msg) + Send + Sync>,
    hooks: &'a Option<std::sync::Arc<crate::hooks::run::Runner>>,
}

impl Writing<'_> {
    /// Make a `Write` or a `Declare` and acknowledge it (once, with `Msg::Written` or
    /// `Msg::Declared`), or read back the texts a `ReadTexts` asks for (`Msg::TextsRead`);
    /// any other command is handed back untouched. `Ok(true)`: something was written.
    fn perform(&self, cmd: Cmd) -> Result<bool, Cmd> {
        match cmd {
            Cmd::ReadTexts { incident, want } => {
                let dir = self.store.incident_dir(&incident);
                let texts = want
                    .into_iter()
                    .map(|(log, at)| {
                        let text = crate::store::note_text::read_back(&dir, &log, at).map_err(|e| e.to_string());
                        (log, at, text)
                    })
                    .collect();
                (self.send)(Msg::TextsRead { incident, texts });
                Ok(false)
            }
            Cmd::Write {
                token,
                incident,
                drafts,
            } => {
                let result = LogWriter::new(self.store, &incident, self.identity)
                    .append(drafts, self.clock)
                    .map(|a| {
                        self.fire_hooks(&incident, &a.events);
                        a.events.into_iter().map(|e| String::from(e.id)).collect()
                    })
                    .map_err(|e| reason_first(&e));
                if let Err(e) = &result {
                    tracing::warn!(%incident, error = %e, "write failed; the console keeps the text and retries");
                }
                (self.send)(Msg::Written { token, result });
                Ok(true)
            }
            Cmd::Declare {
                playbook,
                title,
                severity,
                commander,
            } => {
                let req = DeclareRequest {
                    playbook: &playbook,
                    title,
                    severity,
                    mode: Mode::Real,
                    commander,
                    require_signatures: false,
                    occurred: None,
                };
                let result = declare(self.store, self.identity, req, self.clock)
                    .map(|(id, event)| {
                        self.fire_hooks(&id, &[event]);
                        id
                    })
                    .map_err(|e| reason_first(&e));
                (self.send)(Msg::Declared { result });
                Ok(true)
            }
            other => Err(other),
        }
    }

    /// Hooks never run on this thread: a slow hook must not hold up reading or writing.
    fn fire_hooks(&self, incident: &str, events: &[crate::domain::event::Event]) {
        if let Some(h) = self.hooks {
            let send = self.send.clone();
            let written = events.iter().map(|e| (incident.to_string(), e.clone())).collect();
            h.fire_background(written, move |f| send(Msg::Failed(f)));
        }
    }
}

/// (size, mtime) of config.ron and of the config's allowed_signers file.
type TrustStamps = [Option<(u64, i128)>; 2];

/// How often the trust inputs outside the shared root are looked at (two `stat`s; nothing is
/// read or drawn unless they changed). The shared allowed_signers is under the watched root.
const TRUST_EVERY: Duration = Duration::from_secs(2);

use crate::store::config::file_stamp as stamp;

impl Worker {
    pub fn new(
        store: Store,
        identity: Identity,
        clock: fn() -> Millis,
        send: std::sync::Arc<dyn Fn(Msg) + Send + Sync>,
    ) -> Worker {
        Worker {
            store,
            identity,
            clock,
            send,
            gate: None,
            open: None,
            board: BTreeMap::new(),
            passes: 0,
            last_ids: Vec::new(),
            gone: Vec::new(),
            last_rows: Vec::new(),
            last_problems: Vec::new(),
            seen_saved: Instant::now(),
            mode: watch::Mode::Inotify,
            watching: false,
            why: None,
            backend: watch::notify_backend,
            hooks: None,
            signing_watch: crate::store::config::SigningWatch::default(),
            reset_next: false,
            unanswered: false,
            trust_watch: [None, None],
            board_trust: None,
            inbox: Inbox::default(),
            first_open: None,
            opened_first: None,
        }
    }

    /// Start on this incident (the one the console opens with), read before the board.
    pub fn opening(mut self, id: Option<String>) -> Worker {
        self.first_open = id;
        self
    }

    /// Wait for the console to take the parts of a long read, [`PARTS_AHEAD`] at most waiting
    /// (see `part_gate`).
    ///
    /// [`PARTS_AHEAD`]: super::part_gate::PARTS_AHEAD
    pub fn with_gate(mut self, gate: std::sync::Arc<PartGate>) -> Worker {
        self.gate = Some(gate);
        self
    }

    /// Run these hooks after this install's writes.
    pub fn with_hooks(mut self, hooks: Option<std::sync::Arc<crate::hooks::run::Runner>>) -> Worker {
        self.hooks = hooks;
        self
    }

    /// The one path for writes (see [`Writing`]), borrowed apart from the rest.
    fn writing(&self) -> Writing<'_> {
        Writing {
            store: &self.store,
            identity: &self.identity,
            clock: self.clock,
            send: &self.send,
            hooks: &self.hooks,
        }
    }

    /// Make the watcher with `backend` instead of notify's (tests inject failures).
    pub fn with_backend(mut self, backend: watch::Backend) -> Worker {
        self.backend = backend;
        self
    }

    fn watch_info(&self, last_reconcile: Millis) -> Msg {
        Msg::Watch(WatchInfo {
            mode: watch::label(self.mode, self.why.as_deref()),
            last_reconcile,
        })
    }

    /// A way to report to the console after the worker itself is gone (a caught panic).
    pub fn fatal_sender(&self) -> impl Fn(Msg) {
        let send = self.send.clone();
        move |m| send(m)
    }

    /// Run until `Shutdown` (or the console goes away). `hint_tx` is handed to the watcher.
    pub fn run(mut self, rx: Receiver<Cmd>, hint_tx: Sender<Cmd>, poll: Option<Duration>) {
        let root = self.store.root.clone();
        let lost_tx = hint_tx.clone();
        self.trust_watch = self.trust_stamps();
        self.inbox.rx = Some(rx);
        // The first reads come before the watch: a recursive watch sees every file the first
        // pass opens (inotify reports opens), and its handler thread took a core's share while
        // a cold board of a thousand incidents was read across both; making the watch (a walk of
        // every folder) also delayed the first rows. What lands between the reads and the watch
        // is caught by one more pass right after it (see below).
        if let Some(id) = self.first_open.take() {
            self.opened_first = Some(id.clone());
            self.open_incident(id);
        }
        self.reconcile_board();
        let w = Watch::start_with(
            self.backend,
            &root,
            poll,
            move || {
                let _ = hint_tx.send(Cmd::Hint);
            },
            move |why| {
                let _ = lost_tx.send(Cmd::WatchLost(why));
            },
        );
        self.mode = w.mode;
        self.why = w.why.clone();
        self.watching = true;
        tracing::info!(mode = %w.label(), root = %root.display(), "watching");
        // Anything written since the first reads: the open incident's reader takes new bytes,
        // the board compares stamps (`lstat`s only; an unchanged incident is not read).
        self.reconcile_open();
        self.reconcile_board();
        let mut last_board = Instant::now();
        let mut board_due = false;
        loop {
            let mut wait = self.mode.interval().min(BOARD_EVERY);
            if board_due {
                // A hint arrived inside the coalescing window: re-list when it closes.
                wait = wait.min(BOARD_COALESCE.saturating_sub(last_board.elapsed()));
            }
            let cmd = match self.inbox.later.pop_front() {
                Some(c) => Ok(c),
                None => self.recv_watching_trust(wait),
            };
            match cmd {
                Ok(Cmd::Shutdown) | Err(RecvTimeoutError::Disconnected) => {
                    if let Some(src) = &mut self.open {
                        src.save_seen();
                    }
                    return;
                }
                Ok(Cmd::Open(id)) => {
                    let done = self.opened_first.take().is_some_and(|first| first == id)
                        && self.open.as_ref().is_some_and(|src| src.id == id);
                    if !done {
                        self.open_incident(id);
                    }
                }
                Ok(Cmd::Close) => {
                    if let Some(mut src) = self.open.take() {
                        src.save_seen();
                        self.forget_row_scan(&src.id);
                        // Its row now comes from the board's pass (the console started on it:
                        // there was none).
                        self.reconcile_board();
                        last_board = Instant::now();
                    }
                }
                Ok(Cmd::WatchLost(why)) => {
                    // Folders the watcher could not add would never hint: reconcile on a timer.
                    if self.mode == watch::Mode::Inotify {
                        tracing::warn!(why, "the watcher lost folders; polling");
                        self.why = Some(why.to_string());
                        self.mode = watch::after_loss(self.mode);
                    }
                    self.reconcile_open();
                }
                Ok(cmd @ Cmd::ReadTexts { .. }) => {
                    let _ = self.writing().perform(cmd);
                }
                Ok(Cmd::HoldTexts(id)) => self.hold_texts(&id),
                Ok(cmd @ (Cmd::Write { .. } | Cmd::Declare { .. })) => {
                    let declares = matches!(cmd, Cmd::Declare { .. });
                    // Only writes and declarations are made there; nothing comes back.
                    let _ = self.writing().perform(cmd);
                    if declares {
                        self.reconcile_board();
                    } else {
                        self.reconcile_open();
                    }
                }
                Ok(Cmd::Hint) => {
                    // Coalesce a burst of hints into one pass; keep any other command for next.
                    while let Some(c) = self.inbox.rx.as_ref().and_then(|rx| rx.try_recv().ok()) {
                        if !matches!(c, Cmd::Hint) {
                            self.inbox.later.push_back(c);
                            break;
                        }
                    }
                    self.reconcile_open();
                    if last_board.elapsed() >= BOARD_COALESCE {
                        self.reconcile_board();
                        last_board = Instant::now();
                        board_due = false;
                    } else {
                        board_due = true;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    self.reconcile_open();
                    if board_due || last_board.elapsed() >= BOARD_EVERY || self.open.is_none() {
                        board_due = false;
                        self.reconcile_board();
                        last_board = Instant::now();
                    }
                }
            }
        }
    }

    /// The config's signature settings (`signing: (allowed_signers: ..., require: ...)`) are
    /// inputs of every verdict, like the `allowed_signers` content the reader follows itself:
    /// when config.ron changes them while the console runs (one `stat` a pass), they are taken
    /// up and the open incident is read again from the start, as a restart would read it. A
    /// config that no longer parses changes nothing (the console keeps what it started with).
    fn refresh_config_trust(&mut self) {
        if !self.signing_watch.refresh(&mut self.store.trust) {
            return;
        }
        tracing::info!(
            require = self.store.trust.require,
            "the config's signature settings changed; reading again"
        );
        for t in self.board.values_mut() {
            t.hot = None;
            t.scan = None;
        }
        if let Some(mut src) = self.open.take() {
            src.save_seen();
            let mut fresh = Source::new(&self.store, &src.id);
            fresh.set_texts(src.texts());
            self.open = Some(fresh);
            self.reset_next = true;
        }
    }

    fn trust_stamps(&self) -> TrustStamps {
        let config = crate::store::config::config_dir().and_then(|d| stamp(&d.join("config.ron")));
        let own = self.store.trust.allowed_signers.as_deref().and_then(stamp);
        [config, own]
    }

    /// Wait up to `wait` for a command; meanwhile, a change of a trust input no watcher sees
    /// comes back as a hint (so it is judged within [`TRUST_EVERY`], not at the next safety-net
    /// reconcile).
    fn recv_watching_trust(&mut self, wait: Duration) -> Result<Cmd, RecvTimeoutError> {
        let until = Instant::now() + wait;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            let Some(rx) = &self.inbox.rx else {
                return Err(RecvTimeoutError::Disconnected);
            };
            match rx.recv_timeout(left.min(TRUST_EVERY)) {
                Err(RecvTimeoutError::Timeout) if Instant::now() < until => {
                    let now = self.trust_stamps();
                    if now != self.trust_watch {
                        self.trust_watch = now;
                        return Ok(Cmd::Hint);
                    }
                }
                r => return r,
            }
        }
    }

    /// Hold every note's text of the open incident `id` (a search needs them all): from now
    /// on its reader holds them, and those left in the logs so far are sent to be put back
    /// ([`Msg::TextsHeld`], log by log in parts; writes are made between parts).
    fn hold_texts(&mut self, id: &str) {
        let Some(src) = self.open.as_mut().filter(|s| s.id == id) else {
            return;
        };
        // Asked again when a log could not be read the first time: every log is read again.
        src.set_texts(Texts::Held);
        let dir = self.store.incident_dir(id);
        let writing = Writing {
            store: &self.store,
            identity: &self.identity,
            clock: self.clock,
            send: &self.send,
            hooks: &self.hooks,
        };
        let inbox = &mut self.inbox;
        crate::store::note_text::each_note_text(&dir, &mut |log, texts| {
            (writing.send)(Msg::TextsHeld {
                incident: id.to_string(),
                log: log.to_string(),
                texts,
                done: false,
            });
            inbox.serve_writes(&writing);
        });
        (self.send)(Msg::TextsHeld {
            incident: id.to_string(),
            log: String::new(),
            texts: Vec::new(),
            done: true,
        });
    }

    /// Open `id` (closing the one open): read by the console's reader only while open.
    fn open_incident(&mut self, id: String) {
        if let Some(mut src) = self.open.take() {
            src.save_seen();
            self.forget_row_scan(&src.id);
        }
        // Read by the console's reader only while open (not a second time here).
        if let Some(t) = self.board.get_mut(&id) {
            t.hot = None;
        }
        let mut src = Source::new(&self.store, &id);
        // The bulk of a long history stays in its logs: the console reads back the texts of
        // the rows it shows (`Cmd::ReadTexts`), all of them only for a search.
        src.set_texts(Texts::LeftInLogOnFirstPass);
        self.open = Some(src);
        self.unanswered = true;
        self.reconcile_open();
    }

    /// One pass over the open incident (see [`pass_open`]); a pass that must start again from
    /// the start (the trust changed) is followed by the fresh read, streamed the same way.
    fn reconcile_open(&mut self) {
        let now = (self.clock)();
        self.refresh_config_trust();
        let writing = Writing {
            store: &self.store,
            identity: &self.identity,
            clock: self.clock,
            send: &self.send,
            hooks: &self.hooks,
        };
        if let Some(src) = &mut self.open {
            let mut restarts = 0;
            // A fresh source never asks to start again on its first pass; bounded all the same.
            while pass_open(
                src,
                now,
                &writing,
                &mut self.inbox,
                &mut self.reset_next,
                &mut self.unanswered,
                self.gate.as_ref(),
            ) && restarts < 1
            {
                restarts += 1;
            }
            if self.seen_saved.elapsed() >= SEEN_SAVE_EVERY {
                // The heads this host has seen, for the next run's truncation check.
                src.save_seen();
                self.seen_saved = Instant::now();
            }
        }
        // The mode is not known before the watcher starts (see `run`).
        if self.watching {
            (self.send)(self.watch_info(now));
        }
    }

    /// Re-list the root; re-read incidents that changed since their row was made (resolved and
    /// archived ones too: a reopen brings one back). Whether one changed is judged by `lstat`
    /// alone (see [`Scan::unchanged`]): an idle pass opens no file, so it costs a few stats per
    /// incident and wakes no watcher. A new incident's row comes from the summary cache when it
    /// matches (the first pass reads them across cores); one that changed is read incrementally
    /// while it stays among the few most recently changed. The incident open in the console is
    /// read by its own reader only: the board keeps its last row until it is closed.
    pub fn reconcile_board(&mut self) {
        let now = (self.clock)();
        self.passes += 1;
        // Another allowed_signers (or require setting) may change any row: all are made again
        // (the summary cache misses them too, being keyed by it).
        let trust = summary::trust_key(&self.store);
        if self.board_trust.as_ref().is_some_and(|t| *t != trust) {
            for t in self.board.values_mut() {
                t.scan = None;
                t.hot = None;
            }
        }
        self.board_trust = Some(trust);
        let (ids, mut problems) = match self.store.list_incidents() {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list the shared directory");
                // The directory itself is gone (a vanished mount): keep the last known rows.
                for t in self.board.values_mut() {
                    t.row.status = RowStatus::Vanished;
                }
                self.send_rows();
                return;
            }
        };
        // Incidents this host read that are gone: looked for again only when the listing changed
        // (it reads every memory file in the state directory).
        if ids != self.last_ids {
            self.gone = crate::store::memory::gone(&self.store, &ids);
            self.last_ids = ids.clone();
        }
        problems.extend(self.gone.iter().cloned());
        let open = self.open.as_ref().map(|s| s.id.clone());
        // New incidents, and ones to read again: their summaries, across cores.
        let fresh: Vec<String> = ids
            .iter()
            .filter(|id| Some(*id) != open.as_ref())
            .filter(|id| {
                self.board
                    .get(*id)
                    .is_none_or(|t| t.scan.is_none() || t.row.status == RowStatus::Vanished)
            })
            .cloned()
            .collect();
        for (s, scan) in summary::load_many(&self.store, &fresh, now) {
            let id = s.id.clone();
            let row = BoardRow::from_summary(&s);
            self.board.insert(
                id,
                Tracked {
                    row,
                    scan: Some(scan),
                    hot: None,
                    touched: 0,
                    pending: s.pending,
                },
            );
        }
        for id in &ids {
            if Some(id) == open.as_ref() || fresh.contains(id) {
                continue;
            }
            // Resolved and archived ones too: a `reopen` brings one back (the check is the same
            // `lstat`s, and an unchanged one is not read).
            let Some(t) = self.board.get_mut(id) else { continue };
            let dir = self.store.incident_dir(id);
            // A stamp taken within a timestamp tick of a write may not show the next one
            // (see `Scan::racy`): such an incident is read again until it has been quiet.
            if !t.pending
                && t.scan
                    .as_ref()
                    .is_some_and(|s| !s.racy(summary::RACY) && s.unchanged(&dir))
            {
                continue;
            }
            // Changed: scanned before reading, so a write landing meanwhile shows next pass.
            let scan = Scan::take(&dir);
            let hot = t.hot.get_or_insert_with(|| {
                // A board row shows no note's text.
                let mut source = Source::new(&self.store, id);
                source.set_texts(Texts::LeftInLog);
                Box::new((source, View::new(id)))
            });
            let (source, view) = &mut **hot;
            // Streamed as the console's open is (a long history is never held whole as parsed
            // records), with the console's writes made between parts.
            let writing = Writing {
                store: &self.store,
                identity: &self.identity,
                clock: self.clock,
                send: &self.send,
                hooks: &self.hooks,
            };
            let inbox = &mut self.inbox;
            view.read_from(source, now, false, &mut || inbox.serve_writes(&writing));
            source.save_seen();
            t.row = BoardRow::from_view(id, view);
            t.scan = Some(scan);
            t.touched = self.passes;
            t.pending = !view.settling.is_empty();
        }
        // Keep the histories of the few most recently changed only.
        let mut hot: Vec<(u64, String)> = self
            .board
            .iter()
            .filter(|(_, t)| t.hot.is_some())
            .map(|(id, t)| (t.touched, id.clone()))
            .collect();
        if hot.len() > HOT_MAX {
            hot.sort();
            for (_, id) in &hot[..hot.len() - HOT_MAX] {
                if let Some(t) = self.board.get_mut(id) {
                    t.hot = None;
                }
            }
        }
        for (id, t) in self.board.iter_mut() {
            if !ids.contains(id) {
                t.row.status = RowStatus::Vanished;
            }
        }
        if problems != self.last_problems {
            self.last_problems = problems.clone();
            (self.send)(Msg::BoardProblems(problems));
        }
        self.send_rows();
    }

    /// The board's row of an incident that was open is read again (from the summary cache if
    /// nothing changed while it was open) on the next pass.
    fn forget_row_scan(&mut self, id: &str) {
        if let Some(t) = self.board.get_mut(id) {
            t.scan = None;
        }
    }

    fn send_rows(&mut self) {
        let mut rows: Vec<BoardRow> = self.board.values().map(|t| t.row.clone()).collect();
        // A duplicate whose link is a cycle or leads nowhere is not hidden (it stays Active).
        let links = rows.iter().map(|r| (r.id.clone(), r.duplicate_of.clone())).collect();
        let broken = crate::domain::links::broken_duplicates(&links);
        for r in rows.iter_mut().filter(|r| broken.contains(&r.id)) {
            if r.status == RowStatus::Archived {
                r.status = RowStatus::Active;
                r.problems += 1;
            }
        }
        board_order(&mut rows, (self.clock)());
        // The first pass is sent even when it found nothing: the board says it is reading until then.
        if rows != self.last_rows || self.passes == 1 {
            self.last_rows = rows.clone();
            (self.send)(Msg::Board(rows));
        }
    }
}

/// One pass over the open incident `src`, sent to the console as it is read: what is read ahead
/// of the records (the claim, the playbooks: see [`Source::read_ahead`]) with the first part,
/// the records in parts of at most [`FOLD_BATCH`] (`Msg::IncidentPart`) as the reader parses
/// them, then the update that ends the pass (`Msg::Incident`); a long history is never held
/// whole here, and the console takes each part between looks at the keyboard. The console's
/// writes waiting in `inbox` are made between parts, not after the read. `reset`: the view is
/// to be dropped first (said with the first message, then cleared). Returns whether the source
/// started again from the start (`reset` is set for the pass that must follow).
/// `unanswered`: the console asked for this incident and has had no answer yet — the first
/// pass answers even when it finds nothing (a folder not synced yet), so "reading" ends.
fn pass_open(
    src: &mut Source,
    now: Millis,
    writing: &Writing,
    inbox: &mut Inbox,
    reset: &mut bool,
    unanswered: &mut bool,
    gate: Option<&std::sync::Arc<PartGate>>,
) -> bool {
    let mut parts = Parts {
        id: src.id.clone(),
        ahead: Some(src.read_ahead()).filter(|a| !a.is_empty()),
        reset: std::mem::take(reset),
        streamed: false,
        send: writing.send,
        gate,
    };
    let mut update = src.poll_streaming(
        now,
        Some(&mut |events| {
            parts.send(events, &mut || inbox.serve_writes(writing));
            inbox.serve_writes(writing);
        }),
    );
    if update.reset {
        // Started again: the next pass reads everything, its first message dropping the view.
        *reset = true;
        return true;
    }
    // The rest of the records go the same way, so the update ends the read.
    if parts.streamed {
        parts.send(std::mem::take(&mut update.events), &mut || inbox.serve_writes(writing));
    }
    update.reset = parts.reset;
    if let Some(ahead) = parts.ahead.take() {
        update = ahead.followed_by(update);
    }
    // Taken whatever answers the open: a read that streamed (or found anything) answered it
    // too, and a pass after it that finds nothing sends nothing.
    let first = std::mem::take(unanswered);
    if parts.streamed || !update.is_empty() || first {
        // A short update (the usual pass) is one message.
        for part in update.split(FOLD_BATCH) {
            (writing.send)(Msg::Incident {
                id: parts.id.clone(),
                update: part,
            });
        }
    }
    false
}

/// The parts of one pass over the open incident, as they are sent.
struct Parts<'a> {
    id: String,
    /// Read ahead of the records; goes with the first part.
    ahead: Option<crate::store::incident::Update>,
    /// The view is dropped first; goes with the first message.
    reset: bool,
    streamed: bool,
    send: &'a std::sync::Arc<dyn Fn(Msg) + Send + Sync>,
    gate: Option<&'a std::sync::Arc<PartGate>>,
}

impl Parts<'_> {
    /// Send `events` in parts, each once there is room for it (`between` is called while
    /// waiting: the console's writes are made there).
    fn send(&mut self, events: Vec<crate::domain::event::Event>, between: &mut dyn FnMut()) {
        for events in in_parts(events, FOLD_BATCH) {
            self.streamed = true;
            let ticket = match self.gate {
                Some(gate) => {
                    gate.wait_for_room(&mut *between);
                    gate.ticket()
                }
                None => PartTicket::none(),
            };
            (self.send)(Msg::IncidentPart {
                id: self.id.clone(),
                events,
                reset: std::mem::take(&mut self.reset),
                ahead: self.ahead.take().map(Box::new),
                ticket,
            });
        }
    }
}

/// `events` in parts of at most `max` (in their order), none empty. The first part is `events`
/// itself, cut short: only the records after it are moved (the reader's parts are a little over
/// `max`, so most of a long read is sent without being copied).
fn in_parts<T>(mut events: Vec<T>, max: usize) -> Vec<Vec<T>> {
    let max = max.max(1);
    if events.is_empty() {
        return Vec::new();
    }
    // Cut from the back, each cut at a multiple of `max`.
    let mut tails = Vec::with_capacity((events.len() - 1) / max);
    while events.len() > max {
        let at = (events.len() - 1) / max * max;
        tails.push(events.split_off(at));
    }
    let mut parts = Vec::with_capacity(tails.len() + 1);
    parts.push(events);
    parts.extend(tails.into_iter().rev());
    parts
}

/// The board's order at `now` (ms, UTC): an incident with an OVERDUE deadline leads (overdue
/// leads the Now strip and the board), then the most severe, then the most recently declared.
pub fn board_order(rows: &mut [BoardRow], now: crate::domain::time::Millis) {
    rows.sort_by(|a, b| {
        let overdue = |r: &BoardRow| !r.open_dues.iter().any(|t| *t < now);
        overdue(a)
            .cmp(&overdue(b))
            .then(a.severity.unwrap_or(9).cmp(&b.severity.unwrap_or(9)))
            .then(b.declared_at.cmp(&a.declared_at))
    });
}

/// A store error with the reason first and the path after it: a footer cut at 80 columns still
/// says why ("No space left on device (writing /srv/…)"), not only where.
pub fn reason_first(e: &crate::store::StoreError) -> String {
    match e {
        crate::store::StoreError::Io { what, source } => format!("{source} ({what})"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_incident_with_an_overdue_deadline_leads_the_board() {
        let row = |id: &str, sev: u8, dues: Vec<i64>| BoardRow {
            id: id.into(),
            title: id.into(),
            severity: Some(sev),
            phase: crate::domain::Phase::Identification,
            commander: None,
            declared_at: Some(0),
            resolved_at: None,
            last_update: None,
            mode: None,
            status: RowStatus::Active,
            problems: 0,
            playbook: None,
            duplicate_of: None,
            open_dues: dues,
        };
        let mut rows = vec![
            row("sev1", 1, vec![500]),
            row("sev3-overdue", 3, vec![50]),
            row("sev2", 2, vec![]),
        ];
        board_order(&mut rows, 100);
        let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["sev3-overdue", "sev1", "sev2"]);
        // Before anything is due, severity leads.
        board_order(&mut rows, 10);
        let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["sev1", "sev2", "sev3-overdue"]);
    }
    /// Parts of at most `max`, in order, none empty; the first is the vector given, cut short
    /// (its records are not moved).
    #[test]
    fn in_parts_cuts_in_order_and_keeps_the_first_part_in_place() {
        for n in [0usize, 1, 3, 4, 5, 8, 9, 13] {
            let v: Vec<usize> = (0..n).collect();
            let at = v.as_ptr();
            let parts = in_parts(v, 4);
            assert!(parts.iter().all(|p| !p.is_empty() && p.len() <= 4), "{n}: {parts:?}");
            assert_eq!(parts.concat(), (0..n).collect::<Vec<_>>(), "{n}");
            assert_eq!(parts.len(), n.div_ceil(4), "{n}");
            if let Some(first) = parts.first() {
                assert_eq!(first.as_ptr(), at, "{n}: the first part is the vector given");
            }
        }
    }

    use crate::store::config::{RootChoice, RootSource};
    use std::sync::{Arc, Mutex};

    fn exhausted(_: &std::path::Path, _: watch::Handler) -> notify::Result<Box<dyn std::any::Any + Send>> {
        Err(notify::Error::new(notify::ErrorKind::MaxFilesWatch))
    }

    fn fine(_: &std::path::Path, _: watch::Handler) -> notify::Result<Box<dyn std::any::Any + Send>> {
        Ok(Box::new(()))
    }

    /// The watch modes the worker reports, from start to `Shutdown`, after `cmds`.
    fn modes(backend: watch::Backend, cmds: Vec<Cmd>) -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        let choice = RootChoice {
            path: dir.path().join("root"),
            source: RootSource::Flag,
        };
        let store = Store::open(&choice, dir.path().join("state"), dir.path().join("run")).unwrap();
        let identity = Identity {
            writer: crate::domain::identity::WriterId::parse("alice@jump").unwrap(),
            install: "abc123".into(),
        };
        let modes = Arc::new(Mutex::new(Vec::new()));
        let seen = modes.clone();
        let worker = Worker::new(
            store,
            identity,
            || 0,
            Arc::new(move |m| {
                if let Msg::Watch(w) = m {
                    seen.lock().unwrap().push(w.mode);
                }
            }),
        )
        .with_backend(backend);
        let (tx, rx) = std::sync::mpsc::channel();
        for c in cmds {
            tx.send(c).unwrap();
        }
        tx.send(Cmd::Shutdown).unwrap();
        worker.run(rx, tx.clone(), None);
        let modes = modes.lock().unwrap().clone();
        modes
    }

    #[test]
    fn when_inotify_has_no_watches_left_the_worker_polls_and_says_why() {
        let m = modes(exhausted, vec![]);
        assert_eq!(
            m.first().map(String::as_str),
            Some("poll 2s (inotify watches exhausted)")
        );
        // Watches lost later (a new incident beyond the limit): from then on, polling.
        let m = modes(fine, vec![Cmd::WatchLost("inotify watches exhausted")]);
        assert_eq!(m.first().map(String::as_str), Some("inotify"));
        assert_eq!(
            m.last().map(String::as_str),
            Some("poll 2s (inotify watches exhausted)")
        );
    }

    /// What the [`writes_then_watches`] backend writes before it "starts watching".
    static BEFORE_WATCH: Mutex<Option<Box<dyn Fn() + Send>>> = Mutex::new(None);

    /// A watcher that never reports, made after a write lands (one the first pass cannot see
    /// if it runs before the watch starts).
    fn writes_then_watches(_: &std::path::Path, h: watch::Handler) -> notify::Result<Box<dyn std::any::Any + Send>> {
        if let Some(write) = BEFORE_WATCH.lock().unwrap().take() {
            write();
        }
        Ok(Box::new(h))
    }

    /// A shared root, a store on it, alice's identity and the built-in ransomware playbook.
    fn board_fixture() -> (tempfile::TempDir, Store, Identity, crate::domain::playbook::Playbook) {
        let dir = tempfile::tempdir().unwrap();
        let choice = RootChoice {
            path: dir.path().join("root"),
            source: RootSource::Flag,
        };
        let store = Store::open(&choice, dir.path().join("state"), dir.path().join("run")).unwrap();
        let identity = Identity {
            writer: crate::domain::identity::WriterId::parse("alice@jump").unwrap(),
            install: "abc123".into(),
        };
        let playbook = crate::store::playbooks::Library::built_in()
            .resolve("ransomware")
            .unwrap();
        (dir, store, identity, playbook)
    }

    /// The board's first pass runs before the watcher is made (the watch would report every
    /// file that pass opens), and a write landing in between shows on the pass that follows
    /// the watch's start, with no hint and no timer.
    #[test]
    fn the_first_board_pass_comes_before_the_watch_and_what_lands_between_shows() {
        use crate::domain::event::SeverityChanged;
        let (_dir, store, identity, playbook) = board_fixture();
        let clock = crate::cli::context::now_ms;
        let req = DeclareRequest {
            playbook: &playbook,
            title: "watched".into(),
            severity: 3,
            mode: Mode::Real,
            commander: "alice".into(),
            require_signatures: false,
            occurred: None,
        };
        let id = declare(&store, &identity, req, clock).unwrap().0;
        let (w_store, w_id, w_identity) = (store.clone(), id.clone(), identity.clone());
        *BEFORE_WATCH.lock().unwrap() = Some(Box::new(move || {
            LogWriter::new(&w_store, &w_id, &w_identity)
                .append(
                    vec![Draft::new(SeverityChanged {
                        severity: 1,
                        reason: None,
                    })],
                    clock,
                )
                .unwrap();
        }));
        let boards = Arc::new(Mutex::new(Vec::new()));
        let seen = boards.clone();
        let worker = Worker::new(
            store,
            identity,
            clock,
            Arc::new(move |m| {
                if let Msg::Board(r) = m {
                    seen.lock().unwrap().push(r);
                }
            }),
        )
        .with_backend(writes_then_watches);
        let (tx, rx) = std::sync::mpsc::channel();
        tx.send(Cmd::Shutdown).unwrap();
        worker.run(rx, tx.clone(), None);
        let boards = boards.lock().unwrap().clone();
        let severity = |rows: &Vec<BoardRow>| rows.iter().find(|r| r.id == id).and_then(|r| r.severity);
        assert_eq!(
            boards.first().and_then(severity),
            Some(3),
            "first pass before the watch"
        );
        assert_eq!(boards.last().and_then(severity), Some(1), "the write in between shows");
    }

    /// The board reads summaries and only what changed: a teammate's write to one incident
    /// shows on the next pass, the others keep their rows, and the open incident is left to the
    /// console's own reader.
    #[test]
    fn the_board_follows_changes_through_summaries_and_leaves_the_open_incident_alone() {
        use crate::domain::event::SeverityChanged;
        let (_dir, store, identity, playbook) = board_fixture();
        let clock = crate::cli::context::now_ms;
        let ids: Vec<String> = (0..3)
            .map(|i| {
                let req = DeclareRequest {
                    playbook: &playbook,
                    title: format!("board {i}"),
                    severity: 3,
                    mode: Mode::Real,
                    commander: "alice".into(),
                    require_signatures: false,
                    occurred: None,
                };
                declare(&store, &identity, req, clock).unwrap().0
            })
            .collect();
        let rows = Arc::new(Mutex::new(Vec::new()));
        let seen = rows.clone();
        let mut worker = Worker::new(
            store.clone(),
            identity.clone(),
            clock,
            Arc::new(move |m| {
                if let Msg::Board(r) = m {
                    *seen.lock().unwrap() = r;
                }
            }),
        );
        let severity = |id: &str| {
            rows.lock()
                .unwrap()
                .iter()
                .find(|r| r.id == id)
                .and_then(|r| r.severity)
        };
        worker.reconcile_board();
        assert_eq!(rows.lock().unwrap().len(), 3);
        let raise = |id: &str, severity: u8| {
            LogWriter::new(&store, id, &identity)
                .append(vec![Draft::new(SeverityChanged { severity, reason: None })], clock)
                .unwrap();
        };
        raise(&ids[1], 1);
        worker.reconcile_board();
        assert_eq!(severity(&ids[1]), Some(1), "the change shows on the next pass");
        assert_eq!(severity(&ids[0]), Some(3));
        // Open: the board does not read it a second time; closed: its row is read again.
        worker.open = Some(Source::new(&store, &ids[0]));
        raise(&ids[0], 2);
        worker.reconcile_board();
        assert_eq!(severity(&ids[0]), Some(3), "left to the console's reader while open");
        worker.open = None;
        worker.forget_row_scan(&ids[0]);
        worker.reconcile_board();
        assert_eq!(severity(&ids[0]), Some(2));
        // A fresh worker (a console started again) shows the same rows, from the cache or not.
        let before = rows.lock().unwrap().clone();
        let again = Arc::new(Mutex::new(Vec::new()));
        let seen = again.clone();
        let mut fresh = Worker::new(
            store,
            identity,
            clock,
            Arc::new(move |m| {
                if let Msg::Board(r) = m {
                    *seen.lock().unwrap() = r;
                }
            }),
        );
        fresh.reconcile_board();
        assert_eq!(*again.lock().unwrap(), before);
    }
}
