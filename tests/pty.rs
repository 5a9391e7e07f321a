//! End-to-end tests of the console: the real binary in a pseudo-terminal, its output parsed by a
//! terminal emulator (`vt100`), keys and pastes written to it like a user would, teammates played
//! by separate `warroom` processes on the same shared directory.
//!
//! Timeouts are generous (nothing here asserts speed); every child is killed when its handle is
//! dropped, so a failing test never leaves a console hanging.

mod common;

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::*;
use portable_pty::{native_pty_system, Child, CommandBuilder, ExitStatus, MasterPty, PtySize};

const WAIT: Duration = Duration::from_secs(10);

const ENTER_ALT: &[u8] = b"\x1b[?1049h";
const LEAVE_ALT: &[u8] = b"\x1b[?1049l";
const PASTE_ON: &[u8] = b"\x1b[?2004h";
const PASTE_OFF: &[u8] = b"\x1b[?2004l";

// ---- the harness -------------------------------------------------------------------------------

/// Options for one console process.
struct Spawn<'a> {
    args: &'a [&'a str],
    cols: u16,
    rows: u16,
    no_color: bool,
    term: &'a str,
}

impl<'a> Spawn<'a> {
    fn new(args: &'a [&'a str]) -> Spawn<'a> {
        Spawn {
            args,
            cols: 80,
            rows: 24,
            no_color: false,
            term: "xterm-256color",
        }
    }
    fn size(mut self, cols: u16, rows: u16) -> Self {
        self.cols = cols;
        self.rows = rows;
        self
    }
    fn no_color(mut self) -> Self {
        self.no_color = true;
        self
    }
}

/// A `warroom` running in a pseudo-terminal.
struct Console {
    child: Box<dyn Child + Send + Sync>,
    /// Kept open for the life of the child (closing it would hang the terminal up).
    _master: Box<dyn MasterPty + Send>,
    writer: Box<dyn Write + Send>,
    parser: Arc<Mutex<vt100::Parser>>,
    /// Every byte the console wrote, in order.
    raw: Arc<Mutex<Vec<u8>>>,
    bytes: Arc<AtomicUsize>,
    eof: Arc<AtomicBool>,
    reader: Option<JoinHandle<()>>,
    status: Option<ExitStatus>,
}

impl Console {
    /// Start `warroom ARGS` as `who` in `world`, in a terminal of the given size.
    fn spawn(world: &World, who: &Who, opts: Spawn) -> Console {
        let pty = native_pty_system();
        let pair = pty
            .openpty(PtySize {
                rows: opts.rows,
                cols: opts.cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("open a pty");
        let mut cmd = CommandBuilder::new(BIN);
        cmd.args(opts.args);
        // Nothing of the real user's environment leaks in.
        cmd.env_clear();
        if let Some(path) = std::env::var_os("PATH") {
            cmd.env("PATH", path);
        }
        let tmp = world.path();
        cmd.env("HOME", tmp.join("home"));
        cmd.env("WARROOM_DIR", world.root());
        cmd.env("WARROOM_USER", &who.user);
        cmd.env("WARROOM_STATE_DIR", &who.state);
        cmd.env("WARROOM_HOST", &who.host);
        cmd.env("XDG_RUNTIME_DIR", tmp.join("run"));
        cmd.env("XDG_CONFIG_HOME", tmp.join("cfg"));
        cmd.env("TMPDIR", tmp.join("tmp"));
        cmd.env("TERM", opts.term);
        if opts.no_color {
            cmd.env("NO_COLOR", "1");
        }
        cmd.cwd(tmp);
        let child = pair.slave.spawn_command(cmd).expect("spawn warroom in the pty");
        // Only the child holds the slave now: when it exits, reads on the master end.
        drop(pair.slave);

        let parser = Arc::new(Mutex::new(vt100::Parser::new(opts.rows, opts.cols, 0)));
        let raw = Arc::new(Mutex::new(Vec::new()));
        let bytes = Arc::new(AtomicUsize::new(0));
        let eof = Arc::new(AtomicBool::new(false));
        let mut rd = pair.master.try_clone_reader().expect("pty reader");
        let reader = {
            let (parser, raw, bytes, eof) = (parser.clone(), raw.clone(), bytes.clone(), eof.clone());
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                loop {
                    match rd.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            parser.lock().unwrap().process(&buf[..n]);
                            raw.lock().unwrap().extend_from_slice(&buf[..n]);
                            bytes.fetch_add(n, Ordering::SeqCst);
                        }
                    }
                }
                eof.store(true, Ordering::SeqCst);
            })
        };
        let writer = pair.master.take_writer().expect("pty writer");
        Console {
            child,
            _master: pair.master,
            writer,
            parser,
            raw,
            bytes,
            eof,
            reader: Some(reader),
            status: None,
        }
    }

    /// The screen as text, rows separated by newlines.
    fn screen(&self) -> String {
        self.parser.lock().unwrap().screen().contents()
    }

    /// Bytes written by the console so far.
    fn byte_count(&self) -> usize {
        self.bytes.load(Ordering::SeqCst)
    }

    /// Every byte the console wrote so far.
    fn output(&self) -> Vec<u8> {
        self.raw.lock().unwrap().clone()
    }

    fn pid(&self) -> i32 {
        self.child.process_id().expect("child pid") as i32
    }

    /// Wait until `cond` holds for the screen text; panics with the screen if it never does.
    fn wait_until(&mut self, what: &str, timeout: Duration, cond: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if cond(&s) {
                return s;
            }
            if start.elapsed() > timeout {
                let exited = self.child.try_wait().ok().flatten();
                panic!(
                    "timed out after {timeout:?} waiting for {what}\nchild exit: {exited:?}\n--- screen ---\n{s}\n--------------"
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Wait until the screen contains `text`.
    fn wait_for(&mut self, text: &str, timeout: Duration) -> String {
        self.wait_until(&format!("{text:?} on screen"), timeout, |s| s.contains(text))
    }

    fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("write to the pty");
        self.writer.flush().expect("flush the pty");
    }

    /// Type `text` one key at a time, as a person would (not as a paste: a fast typist leaves
    /// tens of milliseconds between keys; a few milliseconds is a machine).
    fn type_text(&mut self, text: &str) {
        for c in text.chars() {
            let mut b = [0u8; 4];
            self.send(c.encode_utf8(&mut b).as_bytes());
            std::thread::sleep(Duration::from_millis(40));
        }
    }

    /// A bracketed paste of `text`.
    fn paste(&mut self, text: &str) {
        let mut b = b"\x1b[200~".to_vec();
        b.extend_from_slice(text.as_bytes());
        b.extend_from_slice(b"\x1b[201~");
        self.send(&b);
    }

    /// Still running?
    fn running(&mut self) -> bool {
        self.status.is_none() && self.child.try_wait().expect("try_wait").is_none()
    }

    /// Wait for the process to exit (and for its last output to be read); panics on timeout.
    fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        if let Some(s) = &self.status {
            return s.clone();
        }
        let start = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                break s;
            }
            if start.elapsed() > timeout {
                panic!(
                    "the console did not exit within {timeout:?}\n--- screen ---\n{}",
                    self.screen()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        // Drain what the child wrote before it went away.
        while !self.eof.load(Ordering::SeqCst) && start.elapsed() < timeout + Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.status = Some(status.clone());
        status
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        if self.status.is_none() {
            if let Ok(None) = self.child.try_wait() {
                let _ = self.child.kill();
            }
            let _ = self.child.wait();
        }
        // The reader ends once the child is gone; don't block on it if it somehow doesn't.
        if let Some(h) = self.reader.take() {
            if self.eof.load(Ordering::SeqCst) {
                let _ = h.join();
            }
        }
    }
}

fn find_last(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}

fn find_first_after(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

/// SGR sequences (`ESC[...m`) in `bytes` that set a foreground or background colour (basic,
/// bright, 256 or RGB); default-colour resets (39, 49) and attributes (bold, reverse…) are fine.
fn colour_sgrs(bytes: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    let mut i = 0;
    while i + 1 < bytes.len() {
        if bytes[i] == 0x1b && bytes[i + 1] == b'[' {
            let start = i + 2;
            let mut j = start;
            while j < bytes.len() && (bytes[j].is_ascii_digit() || bytes[j] == b';' || bytes[j] == b':') {
                j += 1;
            }
            if j < bytes.len() && bytes[j] == b'm' {
                let params = String::from_utf8_lossy(&bytes[start..j]).into_owned();
                let mut ps = params.split([';', ':']);
                while let Some(p) = ps.next() {
                    let n: u32 = p.parse().unwrap_or(0);
                    match n {
                        30..=37 | 40..=47 | 90..=97 | 100..=107 => {
                            found.push(format!("ESC[{params}m"));
                            break;
                        }
                        38 | 48 => {
                            found.push(format!("ESC[{params}m"));
                            break;
                        }
                        58 => {
                            // Underline colour: not a text colour, but skip its arguments.
                            let _ = ps.next().and_then(|k| match k {
                                "5" => ps.next(),
                                "2" => ps.nth(2),
                                _ => None,
                            });
                        }
                        _ => {}
                    }
                }
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    found
}

/// Poll `tail --json` until `cond` holds for the incident's events; panics with them if never.
fn wait_events(
    w: &World,
    who: &Who,
    id: &str,
    what: &str,
    cond: impl Fn(&[serde_json::Value]) -> bool,
) -> Vec<serde_json::Value> {
    let start = Instant::now();
    loop {
        let ev = w.tail_json(who, id);
        if cond(&ev) {
            return ev;
        }
        if start.elapsed() > WAIT {
            panic!("timed out waiting for {what}; events:\n{ev:#?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The console is up on an incident: its war-room view has drawn the timeline pane.
fn open_incident(w: &World, who: &Who, id: &str, title: &str, spawn: Spawn) -> Console {
    let mut c = Console::spawn(w, who, spawn);
    c.wait_until("the war-room view", WAIT, |s| {
        s.contains(title) && s.contains(id) && s.contains("Timeline")
    });
    c
}

// ---- 1. a teammate's writes appear live --------------------------------------------------------

#[test]
fn teammate_note_and_tick_appear_in_the_open_incident() {
    let w = World::new();
    let alice = w.who("alice", "jump");
    let bob = w.who("bob", "laptop");
    let id = w.declare(&alice, "Teammate writes live");
    let args = ["open", id.as_str()];
    let mut c = open_incident(&w, &alice, &id, "Teammate writes live", Spawn::new(&args).size(120, 40));

    w.note(&bob, &id, "bob sees lockbit on fin-fs-02");
    w.run(&bob, &["check", &id, "id-first-facts", "done"]).ok();

    let s = c.wait_for("bob sees lockbit on fin-fs-02", WAIT);
    assert!(s.contains("bob"), "the author is shown\n{s}");
    c.wait_for("done id-first-facts", WAIT);
    assert!(c.running());
}

/// A teammate's line overwritten in place (same file, same size: `cp` over it, an editor
/// writing in place) after the console read it: flagged on screen at once, as a fresh read
/// flags it, and unflagged when the original bytes are put back (break round, stop 19).
#[test]
fn a_line_overwritten_in_place_is_flagged_on_the_open_console_and_unflagged_when_put_back() {
    let w = World::new();
    let alice = w.who("alice", "jump");
    let bob = w.who("bob", "laptop");
    let id = w.declare(&alice, "Edited in place");
    w.note(&bob, &id, "bob: fin-fs-02 isolated at 10:02");
    w.note(&bob, &id, "bob: backups look intact");
    let args = ["open", id.as_str()];
    let mut c = open_incident(&w, &alice, &id, "Edited in place", Spawn::new(&args).size(120, 40));
    c.wait_for("fin-fs-02 isolated at 10:02", WAIT);
    let log = w.log_of(&bob, &id);
    let original = std::fs::read(&log).expect("bob's log");
    let edited = String::from_utf8(original.clone())
        .expect("utf8")
        .replace("isolated at 10:02", "isolated at 09:02");
    let overwrite = |bytes: &[u8]| {
        use std::io::Write as _;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&log)
            .expect("open in place");
        f.write_all(bytes).expect("overwrite");
    };
    overwrite(edited.as_bytes());
    let s = c.wait_until("the edit flagged", WAIT, |s| s.contains("[INTEGRITY"));
    assert!(s.contains("seq 1 was edited"), "the record edited is named\n{s}");
    overwrite(&original);
    let s = c.wait_until("the flag gone", WAIT, |s| {
        !s.contains("[INTEGRITY") && s.contains("isolated at 10:02")
    });
    assert!(c.running(), "{s}");
}

/// Notes written before the console opened are read without their texts (left in their logs)
/// and read back for the rows on screen; a search reads every text back and finds an old note
/// scrolled far out of view (stop 24).
#[test]
fn a_search_finds_an_old_note_whose_text_was_left_in_its_log() {
    let w = World::new();
    let alice = w.who("alice", "jump");
    let bob = w.who("bob", "laptop");
    let id = w.declare(&alice, "Texts in the logs");
    w.note(&bob, &id, "bob: the needle is on fin-fs-07");
    for i in 0..60 {
        w.note(&bob, &id, &format!("bob: routine check {i}"));
    }
    let args = ["open", id.as_str()];
    let mut c = open_incident(&w, &alice, &id, "Texts in the logs", Spawn::new(&args).size(100, 30));
    c.wait_for("bob: routine check 59", WAIT);
    let footer_offers_search = |s: &str| s.lines().last().is_some_and(|l| l.contains("search"));
    for _ in 0..4 {
        if footer_offers_search(&c.screen()) {
            break;
        }
        c.send(b"\t");
        std::thread::sleep(Duration::from_millis(300));
    }
    c.wait_until("the timeline pane", WAIT, footer_offers_search);
    c.send(b"/");
    c.wait_for("Search timeline", WAIT);
    c.type_text("needle");
    c.send(b"\r");
    let s = c.wait_until("the old note found", WAIT, |s| {
        s.lines().any(|l| l.contains("the needle is on fin-fs-07")) && !s.contains("reading texts")
    });
    assert!(!s.contains("routine check"), "only the match is shown\n{s}");
    assert!(c.running());
}

// ---- 2. a note typed in the console reaches the shared log --------------------------------------

#[test]
fn note_typed_in_the_console_lands_in_the_shared_log() {
    let w = World::new();
    let alice = w.who("alice", "jump");
    let id = w.declare(&alice, "Typed note");
    let args = ["open", id.as_str()];
    let mut c = open_incident(&w, &alice, &id, "Typed note", Spawn::new(&args));

    c.send(b"n");
    c.wait_for("Enter sends · Alt+Enter", WAIT);
    c.type_text("typed from the console");
    c.wait_for("typed from the console", WAIT);
    c.send(b"\r");

    let reader = w.who("carol", "desk");
    let ev = wait_events(&w, &reader, &id, "the typed note", |ev| {
        note_texts(ev).iter().any(|t| t == "typed from the console")
    });
    let note = ev
        .iter()
        .find(|e| e["kind"] == "Note" && e["body"]["text"] == "typed from the console")
        .unwrap();
    assert_eq!(note["by"], alice.writer(), "{note:#}");
    // And the console shows its own note through the reader too.
    c.wait_until("the note in the timeline", WAIT, |s| {
        s.lines()
            .any(|l| l.contains("alice") && l.contains("typed from the console"))
    });
    assert!(c.running());
}

// ---- 3. a paste is text, never keys -------------------------------------------------------------

#[test]
fn bracketed_paste_with_q_and_newlines_becomes_one_note() {
    let w = World::new();
    let alice = w.who("alice", "jump");
    let id = w.declare(&alice, "Paste safety");
    let args = ["open", id.as_str()];
    let mut c = open_incident(&w, &alice, &id, "Paste safety", Spawn::new(&args).size(100, 30));

    c.paste("line one\nquit q\nline three");
    c.wait_until("the pasted text in the editor", WAIT, |s| {
        s.contains("line one") && s.contains("quit q") && s.contains("line three")
    });
    // Give a wrongly-handled `q` every chance to quit before checking.
    std::thread::sleep(Duration::from_millis(300));
    assert!(c.running(), "a paste containing q quit the console\n{}", c.screen());
    c.send(b"\r");

    let reader = w.who("carol", "desk");
    wait_events(&w, &reader, &id, "the pasted note", |ev| !note_texts(ev).is_empty());
    // Let any stray extra write land before counting.
    std::thread::sleep(Duration::from_millis(500));
    let ev = w.tail_json(&reader, &id);
    let notes = note_texts(&ev);
    assert_eq!(notes.len(), 1, "the paste became exactly one note: {notes:#?}");
    for line in ["line one", "quit q", "line three"] {
        assert!(notes[0].contains(line), "{line:?} missing from {:?}", notes[0]);
    }
    assert_eq!(notes[0], "line one\nquit q\nline three");
    assert!(c.running(), "the console quit\n{}", c.screen());
    c.send(b"q");
    assert!(c.wait_exit(WAIT).success());
}

// ---- 4. q restores the terminal ----------------------------------------------------------------

#[test]
fn q_exits_zero_and_restores_the_terminal() {
    let w = World::new();
    let alice = w.who("alice", "jump");
    let id = w.declare(&alice, "Clean quit");
    let args = ["open", id.as_str()];
    let mut c = open_incident(&w, &alice, &id, "Clean quit", Spawn::new(&args));

    c.send(b"q");
    let status = c.wait_exit(WAIT);
    assert!(status.success(), "exit status {status:?}");
    assert_restored(&c.output());
}

/// After the last enable of the alternate screen and of bracketed paste, both are disabled.
fn assert_restored(out: &[u8]) {
    let alt_on = find_last(out, ENTER_ALT).expect("the console entered the alternate screen");
    let paste_on = find_last(out, PASTE_ON).expect("the console enabled bracketed paste");
    assert!(
        find_first_after(out, LEAVE_ALT, alt_on).is_some(),
        "no ESC[?1049l after the last ESC[?1049h; tail of output: {:?}",
        String::from_utf8_lossy(&out[out.len().saturating_sub(200)..])
    );
    assert!(
        find_first_after(out, PASTE_OFF, paste_on).is_some(),
        "no ESC[?2004l after the last ESC[?2004h; tail of output: {:?}",
        String::from_utf8_lossy(&out[out.len().saturating_sub(200)..])
    );
}

// ---- 5. the board follows the shared directory --------------------------------------------------

#[test]
fn board_shows_an_incident_declared_while_it_is_open() {
    let w = World::new();
    let alice = w.who("alice", "jump");
    let bob = w.who("bob", "laptop");
    w.declare(&alice, "Already here");
    let mut c = Console::spawn(&w, &alice, Spawn::new(&[]).size(120, 30));
    c.wait_for("Already here", WAIT);
    // Let the board settle so the declare below is a change it has to notice.
    std::thread::sleep(Duration::from_millis(700));

    w.declare(&bob, "Declared by a teammate");
    let s = c.wait_for("Declared by a teammate", WAIT);
    assert!(s.contains("Already here"), "{s}");
    c.send(b"q");
    assert!(c.wait_exit(WAIT).success());
}

// ---- 6. 80x24 and NO_COLOR ---------------------------------------------------------------------

#[test]
fn war_room_renders_at_80x24_with_no_color() {
    let w = World::new();
    let alice = w.who("alice", "jump");
    let id = w.declare(&alice, "Mono render");
    w.note(&w.who("bob", "laptop"), &id, "a note to colour in");
    let args = ["open", id.as_str()];

    // With colour: the detector below does find colour codes (so its silence means something).
    let mut colour = open_incident(&w, &alice, &id, "Mono render", Spawn::new(&args));
    colour.wait_for("a note to colour in", WAIT);
    colour.send(b"q");
    assert!(colour.wait_exit(WAIT).success());
    assert!(
        !colour_sgrs(&colour.output()).is_empty(),
        "expected colour codes without NO_COLOR"
    );

    let mut mono = open_incident(&w, &alice, &id, "Mono render", Spawn::new(&args).no_color());
    let s = mono.wait_for("a note to colour in", WAIT);
    assert!(s.contains("Mono render") && s.contains("Timeline"), "{s}");
    // Let a few clock redraws happen too.
    std::thread::sleep(Duration::from_millis(1500));
    mono.send(b"q");
    assert!(mono.wait_exit(WAIT).success());
    let found = colour_sgrs(&mono.output());
    assert!(found.is_empty(), "colour codes with NO_COLOR=1: {found:?}");
}

// ---- 7. too small ------------------------------------------------------------------------------

#[test]
fn too_small_terminal_says_so() {
    let w = World::new();
    let alice = w.who("alice", "jump");
    let id = w.declare(&alice, "Tiny");
    let args = ["open", id.as_str()];
    let mut c = Console::spawn(&w, &alice, Spawn::new(&args).size(40, 10));
    c.wait_for("terminal too small", WAIT);
    c.send(b"q");
    assert!(c.wait_exit(WAIT).success());
}

// ---- 8. SIGTERM restores the terminal ----------------------------------------------------------

#[test]
fn sigterm_restores_the_terminal_and_exits() {
    let w = World::new();
    let alice = w.who("alice", "jump");
    let id = w.declare(&alice, "Terminated");
    let args = ["open", id.as_str()];
    let mut c = open_incident(&w, &alice, &id, "Terminated", Spawn::new(&args));

    let rc = unsafe { libc::kill(c.pid(), libc::SIGTERM) };
    assert_eq!(rc, 0, "kill: {}", std::io::Error::last_os_error());
    let status = c.wait_exit(WAIT);
    eprintln!("exit status after SIGTERM: {status:?}");
    assert_restored(&c.output());
}

// ---- 9. idle cost (a measurement) --------------------------------------------------------------

#[test]
fn idle_incident_view_output_rate() {
    let w = World::new();
    let alice = w.who("alice", "jump");
    let id = w.declare(&alice, "Idle cost");
    let args = ["open", id.as_str()];
    let c = open_incident(&w, &alice, &id, "Idle cost", Spawn::new(&args));
    // Past the first full draw and the initial reconcile.
    std::thread::sleep(Duration::from_millis(1500));

    let m = idle_window(&c, Duration::from_secs(5));
    eprintln!(
        "idle incident view at 80x24: {} bytes in 5 s = {:.0} bytes/s; {} frames; {}",
        m.bytes,
        m.bytes as f64 / 5.0,
        m.frames,
        m.cpu_ticks
            .map(|t| format!("{t} CPU ticks (1/100 s)"))
            .unwrap_or_else(|| "CPU not measured".into())
    );
    assert!(m.bytes < 20_000, "{} bytes in 5 s while idle", m.bytes);
}

/// The same measurement as a regression check: an idle console redraws for its clock (once a
/// second), not continuously. 30 frames in 5 s leaves a wide margin over the expected ~5. (Guards
/// the fix for the watcher busy loop, where the store worker's own file opens woke it again.)
#[test]
fn idle_incident_view_does_not_redraw_continuously() {
    let w = World::new();
    let alice = w.who("alice", "jump");
    let id = w.declare(&alice, "Idle loop");
    let args = ["open", id.as_str()];
    let c = open_incident(&w, &alice, &id, "Idle loop", Spawn::new(&args));
    std::thread::sleep(Duration::from_millis(1500));
    let m = idle_window(&c, Duration::from_secs(5));
    assert!(m.frames < 30, "{} frames in 5 s while idle ({m:?})", m.frames);
}

#[derive(Debug)]
struct Idle {
    bytes: usize,
    /// Synchronized-update frames (`ESC[?2026h`), one per draw.
    frames: usize,
    /// utime + stime of the console process over the window, in clock ticks (Linux only).
    cpu_ticks: Option<u64>,
}

fn cpu_ticks(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let f: Vec<&str> = stat.rsplit(')').next()?.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

fn idle_window(c: &Console, window: Duration) -> Idle {
    let pid = c.pid();
    let cpu0 = cpu_ticks(pid);
    let start = c.byte_count();
    std::thread::sleep(window);
    let bytes = c.byte_count() - start;
    let out = c.output();
    let cpu1 = cpu_ticks(pid);
    let slice = &out[start.min(out.len())..];
    Idle {
        bytes,
        frames: slice.windows(8).filter(|w| *w == b"\x1b[?2026h").count(),
        cpu_ticks: cpu0.zip(cpu1).map(|(a, b)| b.saturating_sub(a)),
    }
}

// ---- 10. the demo ------------------------------------------------------------------------------

#[test]
fn demo_shows_teammates_and_quits() {
    let w = World::new();
    let viewer = w.who("viewer", "desk");
    let mut c = Console::spawn(&w, &viewer, Spawn::new(&["demo"]).size(100, 30));
    c.wait_until("DEMO and a teammate in the timeline", WAIT, |s| {
        s.contains("DEMO")
            && timeline_rows(s)
                .iter()
                .any(|l| ["maya", "jon", "priya"].iter().any(|n| l.contains(n)))
    });
    c.send(b"q");
    let status = c.wait_exit(WAIT);
    assert!(status.success(), "exit status {status:?}");
    assert_restored(&c.output());
    // The demo never touches the shared directory.
    let root = w.root();
    assert!(
        !root.exists() || std::fs::read_dir(&root).unwrap().next().is_none(),
        "the demo wrote into WARROOM_DIR"
    );
}

/// The rows below the Timeline pane's title.
fn timeline_rows(screen: &str) -> Vec<&str> {
    screen.lines().skip_while(|l| !l.contains("Timeline")).skip(1).collect()
}

// ---- an SSH drop loses nothing -----------------------------------------------------------------

#[test]
fn a_hangup_keeps_the_note_being_typed_for_the_next_open() {
    let w = World::new();
    let alice = w.who("alice", "jump");
    let id = w.declare(&alice, "Dropped link");
    let args = ["open", id.as_str()];
    let mut c = open_incident(&w, &alice, &id, "Dropped link", Spawn::new(&args));
    c.send(b"n");
    c.wait_for("Note", WAIT);
    c.send(b"half a thought");
    c.wait_for("half a thought", WAIT);
    // The SSH session drops: the terminal hangs up.
    let rc = unsafe { libc::kill(c.pid(), libc::SIGHUP) };
    assert_eq!(rc, 0);
    c.wait_exit(WAIT);
    assert_restored(&c.output());
    // Next time, the draft is there.
    let mut again = open_incident(&w, &alice, &id, "Dropped link", Spawn::new(&args));
    again.wait_for("draft was restored", WAIT);
    again.send(b"n");
    again.wait_for("half a thought", WAIT);
}

// ---- a paste without markers is never a keystroke ------------------------------------------------

/// Approvals of `action` in the shared record.
fn approvals(w: &World, reader: &Who, id: &str, action: &str) -> usize {
    w.tail_json(reader, id)
        .iter()
        .filter(|e| e["kind"] == "ActionSet" && e["body"]["action"] == action && e["body"]["state"] == "Approved")
        .count()
}

#[test]
fn an_unbracketed_paste_on_the_actions_pane_approves_nothing() {
    let w = World::new();
    let alice = w.who("alice", "jump");
    let bob = w.who("bob", "laptop");
    let id = w.declare(&alice, "Unmarked paste");
    w.run(&bob, &["action", &id, "cut-segment-egress", "proposed"]).ok();
    let args = ["open", id.as_str()];
    let mut c = open_incident(&w, &alice, &id, "Unmarked paste", Spawn::new(&args));
    c.wait_for("proposed", WAIT);
    // To the actions pane and down to the proposed two-person action, at a person's pace.
    c.type_text("\tjjjjj");
    c.wait_until("the proposed action selected", WAIT, |s| s.contains("proposed"));
    std::thread::sleep(Duration::from_millis(300));

    // GNU screen / tmux paste-buffer without -p: the text arrives as keys, in one write.
    c.send(b"Approved by lead");
    let s = c.wait_for("paste outside a text field", WAIT);
    assert!(s.contains("ignored a 16-character paste"), "{s}");
    assert!(!s.contains("Approve this action?"), "the paste opened the dialog\n{s}");
    std::thread::sleep(Duration::from_millis(700));
    let reader = w.who("carol", "desk");
    assert_eq!(
        approvals(&w, &reader, &id, "cut-segment-egress"),
        0,
        "a paste approved an action"
    );
    assert!(c.running());

    // The same keys typed by a person who reads the dialog do what they say.
    c.send(b"A");
    c.wait_for("Approve this action?", WAIT);
    std::thread::sleep(Duration::from_millis(400));
    c.send(b"y");
    wait_events(&w, &reader, &id, "the approval", |ev| {
        ev.iter()
            .any(|e| e["kind"] == "ActionSet" && e["body"]["state"] == "Approved")
    });
    c.send(b"q");
    assert!(c.wait_exit(WAIT).success());
}

#[test]
fn a_confirm_key_right_after_the_dialog_opened_is_ignored() {
    let w = World::new();
    let alice = w.who("alice", "jump");
    let bob = w.who("bob", "laptop");
    let id = w.declare(&alice, "Too quick");
    w.run(&bob, &["action", &id, "cut-segment-egress", "proposed"]).ok();
    let args = ["open", id.as_str()];
    let mut c = open_incident(&w, &alice, &id, "Too quick", Spawn::new(&args));
    c.wait_for("proposed", WAIT);
    c.type_text("\tjjjjj");
    std::thread::sleep(Duration::from_millis(300));
    // Two keys in one write: a paste of "Ay", or a key bounce; either way not a decision.
    c.send(b"Ay");
    let s = c.wait_for("too soon after this dialog opened", WAIT);
    assert!(s.contains("Approve this action?"), "{s}");
    std::thread::sleep(Duration::from_millis(500));
    let reader = w.who("carol", "desk");
    assert_eq!(approvals(&w, &reader, &id, "cut-segment-egress"), 0);
    c.send(b"n");
    c.send(b"q");
    assert!(c.wait_exit(WAIT).success());
}

#[test]
fn an_unbracketed_paste_in_the_note_editor_is_text() {
    let w = World::new();
    let alice = w.who("alice", "jump");
    let id = w.declare(&alice, "Paste into a note");
    let args = ["open", id.as_str()];
    let mut c = open_incident(&w, &alice, &id, "Paste into a note", Spawn::new(&args).size(100, 30));
    c.send(b"n");
    c.wait_for("Enter sends · Alt+Enter", WAIT);
    // A newline inside the paste starts a new line; it does not send the note half-way.
    c.send(b"Approved by lead\rq and y");
    c.wait_until("the pasted text in the editor", WAIT, |s| {
        s.contains("Approved by lead") && s.contains("q and y")
    });
    std::thread::sleep(Duration::from_millis(300));
    c.send(b"\r");
    let reader = w.who("carol", "desk");
    let ev = wait_events(&w, &reader, &id, "the note", |ev| !note_texts(ev).is_empty());
    assert_eq!(note_texts(&ev), vec!["Approved by lead\nq and y".to_string()]);
    c.send(b"q");
    assert!(c.wait_exit(WAIT).success());
}

/// A log pasted without markers, as tmux `paste-buffer` (no `-p`) sends it: lines ended by CR, keys
/// that are commands elsewhere (q, y, A, P, Z), more than one 1024-byte terminal read long, and
/// written to the terminal in one piece as tmux writes it.
fn long_unmarked_paste(n: usize) -> String {
    let mut s = String::new();
    let mut i = 0;
    while s.len() < n {
        s.push_str(&format!(
            "{i:04} fin-fs-02 kernel: q y A P Z segfault at 7f3a ip 00401a sp 7ffe\r"
        ));
        i += 1;
    }
    s.truncate(n - 4);
    s.push_str("TAIL");
    s
}

#[test]
fn an_enter_typed_after_a_long_unmarked_paste_sends_the_note() {
    let w = World::new();
    let alice = w.who("alice", "jump");
    let id = w.declare(&alice, "Long paste");
    let args = ["open", id.as_str()];
    let mut c = open_incident(&w, &alice, &id, "Long paste", Spawn::new(&args));
    let reader = w.who("carol", "desk");
    // Three 1024-byte reads; then more than the console takes from the terminal in one pass.
    for (i, n) in [2761, 9000].into_iter().enumerate() {
        c.send(b"n");
        c.wait_for("Enter sends · Alt+Enter", WAIT);
        let paste = long_unmarked_paste(n);
        c.send(paste.as_bytes());
        // All of it reaches the editor at once, not only the first read of it (the rest used to
        // wait in the terminal for the next key, and arrived with the Enter as part of the paste).
        c.wait_for("TAIL", WAIT);
        std::thread::sleep(Duration::from_millis(1500));
        c.send(b"\r");
        let ev = wait_events(&w, &reader, &id, "the pasted note", |ev| note_texts(ev).len() > i);
        let notes = note_texts(&ev);
        assert_eq!(notes.len(), i + 1, "{notes:#?}");
        assert_eq!(notes[i], paste.replace('\r', "\n"), "the note is the paste, whole");
        assert!(c.running(), "a key in the paste acted as a command");
        c.wait_until("the editor closed", WAIT, |s| !s.contains("Enter sends"));
    }
    c.send(b"q");
    assert!(c.wait_exit(WAIT).success());
}

#[test]
fn a_long_unmarked_paste_outside_a_text_field_is_counted_whole_and_does_nothing() {
    let w = World::new();
    let alice = w.who("alice", "jump");
    let id = w.declare(&alice, "Long paste ignored");
    let args = ["open", id.as_str()];
    let mut c = open_incident(&w, &alice, &id, "Long paste ignored", Spawn::new(&args));
    std::thread::sleep(Duration::from_millis(300));
    c.send(long_unmarked_paste(2761).as_bytes());
    let s = c.wait_for("ignored a 2761-character paste", WAIT);
    assert!(!s.contains("Enter sends"), "the paste opened an editor\n{s}");
    assert!(c.running(), "a q in the paste quit the console");
    // Nothing was written: only the declaration is in the record.
    std::thread::sleep(Duration::from_millis(500));
    let reader = w.who("carol", "desk");
    let kinds: Vec<String> = w
        .tail_json(&reader, &id)
        .iter()
        .map(|e| e["kind"].to_string())
        .collect();
    assert!(
        kinds
            .iter()
            .all(|k| !k.contains("Phase") && !k.contains("Resolved") && !k.contains("Note")),
        "{kinds:?}"
    );
    c.send(b"q");
    assert!(c.wait_exit(WAIT).success());
}

/// Ctrl+C (a key in raw mode, not a signal) quits as `q` does: the note being typed is kept as
/// the draft, the terminal is restored and the way out says so.
#[test]
fn ctrl_c_quits_and_keeps_the_note_being_typed() {
    let w = World::new();
    let alice = w.who("alice", "jump");
    let id = w.declare(&alice, "Ctrl C");
    let args = ["open", id.as_str()];
    let mut c = open_incident(&w, &alice, &id, "Ctrl C", Spawn::new(&args));
    c.send(b"n");
    c.wait_for("Enter sends · Alt+Enter", WAIT);
    c.type_text("half a note");
    c.wait_for("half a note", WAIT);
    c.send(b"\x03");
    assert!(c.wait_exit(WAIT).success(), "{}", c.screen());
    let s = c.screen();
    assert!(
        s.contains("your unsent note for") && s.contains("kept as a draft"),
        "{s}"
    );
    let draft = alice.state.join("drafts").join(format!("{id}.txt"));
    assert_eq!(std::fs::read_to_string(&draft).unwrap_or_default(), "half a note");
    let out = c.output();
    let alt = find_last(&out, ENTER_ALT).expect("the alternate screen was used");
    assert!(
        find_first_after(&out, LEAVE_ALT, alt).is_some(),
        "the terminal was restored"
    );
}

// ---- every signal that ends the console restores the terminal and keeps the draft ---------------

#[test]
fn every_ending_signal_restores_the_terminal_and_saves_the_draft() {
    let signals = [
        ("SIGHUP", libc::SIGHUP),
        ("SIGTERM", libc::SIGTERM),
        ("SIGINT", libc::SIGINT),
        ("SIGQUIT", libc::SIGQUIT),
        ("SIGUSR1", libc::SIGUSR1),
        ("SIGUSR2", libc::SIGUSR2),
        ("SIGALRM", libc::SIGALRM),
        ("SIGVTALRM", libc::SIGVTALRM),
        ("SIGPROF", libc::SIGPROF),
    ];
    let w = World::new();
    let alice = w.who("alice", "jump");
    let id = w.declare(&alice, "Signals");
    let draft = alice.state.join("drafts").join(format!("{id}.txt"));
    let args = ["open", id.as_str()];
    for (name, sig) in signals {
        let _ = std::fs::remove_file(&draft);
        let mut c = open_incident(&w, &alice, &id, "Signals", Spawn::new(&args));
        c.send(b"n");
        c.wait_for("Enter sends · Alt+Enter", WAIT);
        let text = format!("typed before {name}");
        c.type_text(&text);
        c.wait_for(&text, WAIT);
        let rc = unsafe { libc::kill(c.pid(), sig) };
        assert_eq!(rc, 0, "kill {name}: {}", std::io::Error::last_os_error());
        let status = c.wait_exit(WAIT);
        assert_eq!(status.exit_code(), 128 + sig as u32, "{name}: exit status {status:?}");
        let out = c.output();
        assert_restored(&out);
        // The cursor is shown again, after the last time it was hidden.
        let hidden = find_last(&out, b"\x1b[?25l").unwrap_or(0);
        assert!(
            find_first_after(&out, b"\x1b[?25h", hidden).is_some(),
            "{name}: cursor left hidden"
        );
        {
            let p = c.parser.lock().unwrap();
            assert!(!p.screen().alternate_screen(), "{name}: still on the alternate screen");
            assert!(!p.screen().hide_cursor(), "{name}: cursor hidden");
        }
        let saved = std::fs::read_to_string(&draft).unwrap_or_else(|e| panic!("{name}: no draft: {e}"));
        assert_eq!(saved, text, "{name}");
        c.wait_for(&format!("warroom: ended by {name}"), WAIT);
    }
}

#[test]
fn sigpipe_does_not_end_the_console() {
    let w = World::new();
    let alice = w.who("alice", "jump");
    let id = w.declare(&alice, "Broken pipe");
    let args = ["open", id.as_str()];
    let mut c = open_incident(&w, &alice, &id, "Broken pipe", Spawn::new(&args));
    let rc = unsafe { libc::kill(c.pid(), libc::SIGPIPE) };
    assert_eq!(rc, 0);
    std::thread::sleep(Duration::from_millis(500));
    assert!(c.running(), "SIGPIPE ended the console");
    c.send(b"q");
    assert!(c.wait_exit(WAIT).success());
    assert_restored(&c.output());
}

#[test]
fn quitting_with_a_draft_says_where_it_is() {
    let w = World::new();
    let alice = w.who("alice", "jump");
    let id = w.declare(&alice, "Quit with a draft");
    let args = ["open", id.as_str()];
    let mut c = open_incident(&w, &alice, &id, "Quit with a draft", Spawn::new(&args));
    c.send(b"n");
    c.wait_for("Enter sends · Alt+Enter", WAIT);
    c.type_text("unsent");
    c.send(b"\x1b");
    std::thread::sleep(Duration::from_millis(300));
    c.send(b"q");
    assert!(c.wait_exit(WAIT).success());
    c.wait_for("kept as a draft", WAIT);
    let draft = alice.state.join("drafts").join(format!("{id}.txt"));
    assert_eq!(std::fs::read_to_string(draft).ok().as_deref(), Some("unsent"));
}

/// A draft that cannot be written (a file where the drafts folder should be) is never called
/// kept: the console says why and prints the text once the terminal is restored.
#[test]
fn a_draft_that_cannot_be_saved_is_printed_not_called_kept() {
    let w = World::new();
    let alice = w.who("alice", "jump");
    let id = w.declare(&alice, "Quit with nowhere to keep a draft");
    std::fs::create_dir_all(&alice.state).expect("state dir");
    std::fs::write(alice.state.join("drafts"), b"not a folder").expect("blocker");
    let args = ["open", id.as_str()];
    let mut c = open_incident(&w, &alice, &id, "Quit with nowhere", Spawn::new(&args));
    c.send(b"n");
    c.wait_for("Enter sends · Alt+Enter", WAIT);
    c.type_text("rollback at 14:02");
    std::thread::sleep(Duration::from_millis(300));
    // Ctrl+C from the editor takes q's way out.
    c.send(b"\x03");
    assert!(
        !c.wait_exit(WAIT).success(),
        "a lost draft must not end as a clean exit"
    );
    let out = c.wait_for("could NOT be kept as a draft", WAIT);
    assert!(out.contains("rollback at 14:02"), "the unsent text is printed: {out}");
    assert!(!out.contains("is kept as a draft"), "{out}");
    assert_restored(&c.output());
}

// ---- 80x24 for a commander under stress: jump keys and confirmations ---------------------------

#[test]
fn jump_keys_reach_my_approval_and_enter_approves_it() {
    let w = World::new();
    let alice = w.who("alice", "jump");
    let bob = w.who("bob", "laptop");
    let id = w.declare(&alice, "Jump keys");
    w.run(&bob, &["action", &id, "cut-segment-egress", "proposed"]).ok();
    w.run(&bob, &["assign", &id, "id-exfiltration", "alice"]).ok();
    let args = ["open", id.as_str()];
    let mut c = open_incident(&w, &alice, &id, "Jump keys", Spawn::new(&args));
    c.wait_for("1 to approve", WAIT);
    // m: what is assigned to me.
    c.send(b"m");
    c.wait_for("1 of 1: id-exfiltration", WAIT);
    std::thread::sleep(Duration::from_millis(200));
    // w: the approval waiting for me; A opens the dialog, Enter (read, then pressed) approves.
    c.send(b"w");
    c.wait_for("1 of 1: cut-segment-egress", WAIT);
    std::thread::sleep(Duration::from_millis(200));
    c.send(b"A");
    // The whole dialog, not its first half: a loaded machine may draw it in two reads.
    c.wait_until("the approve dialog", WAIT, |s| {
        s.contains("Approve this action?") && s.contains("y/Enter approve")
    });
    std::thread::sleep(Duration::from_millis(400));
    c.send(b"\r");
    let reader = w.who("carol", "desk");
    wait_events(&w, &reader, &id, "the approval", |ev| {
        ev.iter()
            .any(|e| e["kind"] == "ActionSet" && e["body"]["state"] == "Approved")
    });
    // i: the next open required item.
    std::thread::sleep(Duration::from_millis(200));
    c.send(b"i");
    c.wait_until("a required item", WAIT, |s| s.contains(" of ") && s.contains("("));
    c.send(b"q");
    assert!(c.wait_exit(WAIT).success());
}

#[test]
fn handing_off_command_and_skipping_a_required_item_ask_first() {
    let w = World::new();
    let alice = w.who("alice", "jump");
    let bob = w.who("bob", "laptop");
    let id = w.declare(&alice, "Confirmations");
    w.note(&bob, &id, "bob is here");
    let args = ["open", id.as_str()];
    let mut c = open_incident(&w, &alice, &id, "Confirmations", Spawn::new(&args));
    c.wait_for("bob is here", WAIT);
    // s on a required item asks why, and the reason is recorded.
    c.send(b"s");
    c.wait_for("(a required item)", WAIT);
    c.type_text("bridge opened by phone");
    c.send(b"\r");
    let reader = w.who("carol", "desk");
    wait_events(&w, &reader, &id, "the skip with its reason", |ev| {
        ev.iter().any(|e| {
            e["kind"] == "ChecklistSet"
                && e["body"]["state"] == "Skipped"
                && e["body"]["note"] == "bridge opened by phone"
        })
    });
    // H: pick bob, then confirm.
    std::thread::sleep(Duration::from_millis(300));
    c.send(b"H");
    c.wait_for("Hand off command to", WAIT);
    std::thread::sleep(Duration::from_millis(400));
    c.send(b"1");
    let s = c.wait_for("Hand off command?", WAIT);
    assert!(s.contains("bob becomes the incident commander"), "{s}");
    assert!(s.contains("y/Enter hand off"), "{s}");
    // Nothing is recorded until the answer.
    std::thread::sleep(Duration::from_millis(500));
    assert!(!w
        .tail_json(&reader, &id)
        .iter()
        .any(|e| e["kind"] == "RoleAssigned" && e["body"]["who"] == "bob"));
    c.send(b"y");
    wait_events(&w, &reader, &id, "the handoff", |ev| {
        ev.iter()
            .any(|e| e["kind"] == "RoleAssigned" && e["body"]["who"] == "bob")
    });
    c.send(b"q");
    assert!(c.wait_exit(WAIT).success());
}

#[test]
fn term_dumb_refuses_the_console_with_a_hint() {
    let w = World::new();
    let alice = w.who("alice", "jump");
    let mut spawn = Spawn::new(&[]);
    spawn.term = "dumb";
    let mut c = Console::spawn(&w, &alice, spawn);
    let status = c.wait_exit(WAIT);
    assert!(!status.success());
    let out = String::from_utf8_lossy(&c.output()).into_owned();
    assert!(
        out.contains("TERM=dumb") && out.contains("tail <incident> --follow"),
        "{out}"
    );
    assert!(!c.output().windows(ENTER_ALT.len()).any(|x| x == ENTER_ALT));
}

#[test]
fn the_screen_is_cleared_on_start() {
    let w = World::new();
    let alice = w.who("alice", "jump");
    let id = w.declare(&alice, "Clean start");
    let args = ["open", id.as_str()];
    let c = open_incident(&w, &alice, &id, "Clean start", Spawn::new(&args));
    let out = c.output();
    let alt = find_first_after(&out, ENTER_ALT, 0).expect("alternate screen");
    assert!(
        find_first_after(&out, b"\x1b[2J", alt).is_some(),
        "no clear after entering the alternate screen: {:?}",
        String::from_utf8_lossy(&out[alt..(alt + 120).min(out.len())])
    );
}

#[test]
fn the_facilitator_ends_the_exercise_from_the_console() {
    let w = World::new();
    let fac = w.who("fac", "bridge");
    let args = ["exercise", "run", "hospital-ransomware", "--speed", "2"];
    let mut c = Console::spawn(&w, &fac, Spawn::new(&args));
    c.wait_until("the facilitator console", WAIT, |s| {
        s.contains("EXERCISE") && s.contains("Timeline")
    });
    let reader = w.who("carol", "desk");
    let list = w.run(&reader, &["list", "--json"]).ok();
    let id = list.json()["incidents"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|v| v["id"].as_str().map(str::to_string))
        .expect("the exercise is listed");
    // To the facilitator pane (checklist → actions → facilitator), then E, read, y.
    c.type_text("\t\t");
    std::thread::sleep(Duration::from_millis(300));
    c.send(b"E");
    let s = c.wait_for("End the exercise?", WAIT);
    assert!(s.contains("y/Enter end it"), "{s}");
    std::thread::sleep(Duration::from_millis(400));
    c.send(b"y");
    wait_events(&w, &reader, &id, "the exercise's end", |ev| {
        ev.iter()
            .any(|e| e["kind"] == "ExerciseClock" && e["body"]["change"] == "End")
    });
    c.send(b"q");
    assert!(c.wait_exit(WAIT).success());
}

#[test]
fn on_resume_overdue_injects_are_released_one_at_a_time_on_the_facilitators_key() {
    let w = World::new();
    let fac = w.who("fac", "bridge");
    // An exercise whose facilitator went away: it ran half a second (inj-01 out at E+00:00)...
    let r = w
        .run(
            &fac,
            &[
                "exercise",
                "run",
                "hospital-ransomware",
                "--headless",
                "--duration",
                "0.5",
            ],
        )
        .ok();
    let id = r.stdout.lines().next().expect("the id first").trim().to_string();
    // ...then its clock ran on fast with nobody releasing, and was paused at E+25:00 or later.
    w.run(&fac, &["exercise", "control", &id, "speed", "1000"]).ok();
    std::thread::sleep(Duration::from_millis(2_000));
    w.run(&fac, &["exercise", "control", &id, "pause"]).ok();
    let reader = w.who("carol", "desk");
    let injects = |ev: &[serde_json::Value]| ev.iter().filter(|e| e["kind"] == "InjectReleased").count();
    assert_eq!(injects(&w.tail_json(&reader, &id)), 1);
    // Back: three injects are overdue (E+05:00, E+12:00, E+25:00); none goes out by itself.
    let args = ["exercise", "run", "--resume", id.as_str()];
    let mut c = Console::spawn(&w, &fac, Spawn::new(&args));
    c.wait_for("3 inject(s) fell due", WAIT);
    c.type_text("\t\t");
    let s = c.wait_for("OVERDUE", WAIT);
    assert!(s.contains("Facilitator"), "{s}");
    std::thread::sleep(Duration::from_millis(1_500));
    assert_eq!(
        injects(&w.tail_json(&reader, &id)),
        1,
        "released without the facilitator"
    );
    // Enter: one; a while later still one; Enter again: the next.
    c.send(b"\r");
    wait_events(&w, &reader, &id, "the first overdue inject", |ev| injects(ev) == 2);
    std::thread::sleep(Duration::from_millis(1_500));
    let ev = w.tail_json(&reader, &id);
    assert_eq!(injects(&ev), 2, "more than one released");
    assert!(ev
        .iter()
        .any(|e| e["kind"] == "InjectReleased" && e["body"]["inject"] == "inj-02-ed-charge-nurse"));
    c.send(b"\r");
    wait_events(&w, &reader, &id, "the second overdue inject", |ev| injects(ev) == 3);
    c.send(b"q");
    assert!(c.wait_exit(WAIT).success());
}

// ---- 9. keys come first: a storm of writes never swallows a key ---------------------------------

/// Notes in `who`'s log of incident `id`, in order (empty while it has none).
fn notes_in_log(w: &World, who: &Who, id: &str) -> Vec<String> {
    use warroom::domain::event::{parse, Body};
    let Ok(text) = std::fs::read_to_string(w.log_of(who, id)) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|l| parse(l).ok())
        .filter_map(|e| match e.body {
            Body::Note(n) => n.text.held().map(str::to_string),
            _ => None,
        })
        .collect()
}

/// Poll `who`'s log until it holds `n` notes; its notes then (fewer if it never did).
fn wait_notes(w: &World, who: &Who, id: &str, n: usize, timeout: Duration) -> Vec<String> {
    let start = Instant::now();
    loop {
        let notes = notes_in_log(w, who, id);
        if notes.len() >= n || start.elapsed() > timeout {
            return notes;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Twenty teammates append notes as fast as their disks allow, into an incident that already
/// holds thousands of events, while the responder types a note of a few hundred characters key
/// by key (with pauses, as a person does) and then pastes another: every key arrives exactly once
/// and in order (the note written is exactly what was typed), the paste arrives whole as text
/// (its `q` and new lines are not keys), and the typed note shows on screen. Behaviour only: how
/// long keys take under load is measured by `benches/keys.rs`, not asserted here.
#[test]
fn every_key_typed_during_a_twenty_writer_storm_arrives() {
    use warroom::domain::event::Note;
    use warroom::domain::identity::WriterId;
    use warroom::store::writer::{Draft, LogWriter};
    use warroom::store::{Identity, RootChoice, RootSource, Store};

    let w = World::new();
    let alice = w.who("alice", "jump");
    let id = w.declare(&alice, "Storm");
    let store = Store::open(
        &RootChoice {
            path: w.root(),
            source: RootSource::Flag,
        },
        w.path().join("state-storm"),
        w.path().join("run").join("warroom"),
    )
    .expect("open the shared directory");
    let mate = |name: String| Identity {
        writer: WriterId {
            name,
            host: "storm".into(),
        },
        install: "storm1".into(),
    };
    let notes = |from: usize, n: usize, who: &str| -> Vec<Draft> {
        (from..from + n)
            .map(|k| {
                Draft::new(Note {
                    text: format!("{who} checked host {k}").into(),
                    tags: Default::default(),
                })
            })
            .collect()
    };
    // A history of some thousands of events before the console opens.
    let history = LogWriter::new(&store, &id, &mate("history".into()));
    for part in 0..5 {
        history
            .append(notes(part * 1000, 1000, "history"), warroom::cli::context::now_ms)
            .expect("write the history");
    }
    let args = ["open", id.as_str()];
    let mut c = open_incident(&w, &alice, &id, "Storm", Spawn::new(&args).size(120, 40));

    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicUsize::new(0));
    let mates: Vec<JoinHandle<()>> = (0..20)
        .map(|i| {
            let (store, id, stop, written) = (store.clone(), id.clone(), stop.clone(), written.clone());
            let me = mate(format!("mate{i:02}"));
            std::thread::spawn(move || {
                let log = LogWriter::new(&store, &id, &me);
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) && n < 4_000 {
                    let drafts = notes(n, 40, &format!("mate {i}"));
                    if log.append(drafts, warroom::cli::context::now_ms).is_ok() {
                        n += 40;
                        written.fetch_add(40, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    // The storm is on before the first key.
    let start = Instant::now();
    while written.load(Ordering::Relaxed) < 2_000 && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }

    let storm_wait = Duration::from_secs(60);
    c.send(b"n");
    c.wait_for("Enter sends", storm_wait);
    // About 300 characters: letters, digits, punctuation, repeated letters (a doubled or lost
    // key changes the count), ending with a marker to wait for.
    let mut text = String::new();
    for round in 0..5 {
        text.push_str(&format!(
            "round {round}: aabbcc 0123456789 the quick brown fox, (jumps) over; lazy-dogs! ~#%& "
        ));
    }
    text.push_str("END-OF-TYPING");
    for (k, ch) in text.chars().enumerate() {
        let mut b = [0u8; 4];
        c.send(ch.encode_utf8(&mut b).as_bytes());
        // Mostly a fast typist, with a pause now and then (a person looking something up).
        let pause = if k % 60 == 59 { 400 } else { 5 };
        std::thread::sleep(Duration::from_millis(pause));
    }
    // The end of what was typed is on screen (the editor scrolls to its cursor); then Enter on
    // its own (keys read in one go with Enter among them are a paste, where Enter is a new line).
    c.wait_for("END-OF-TYPING", storm_wait);
    std::thread::sleep(Duration::from_millis(200));
    c.send(b"\r");
    let typed = wait_notes(&w, &alice, &id, 1, storm_wait);

    // A bracketed paste during the storm: text, whole, even its `q` and new lines.
    let pasted = "pasted in the storm\nq quits nothing here\n\tand this line too";
    c.paste(pasted);
    c.wait_for("pasted in the storm", storm_wait);
    std::thread::sleep(Duration::from_millis(300));
    assert!(c.running(), "a paste quit the console\n{}", c.screen());
    c.send(b"\r");
    let both = wait_notes(&w, &alice, &id, 2, storm_wait);

    // The typed note shows in the timeline, found by the search while the storm goes on: Tab to
    // the timeline pane (its footer offers the search), then `/`.
    let footer_offers_search = |s: &str| s.lines().last().is_some_and(|l| l.contains("search"));
    for _ in 0..4 {
        if footer_offers_search(&c.screen()) {
            break;
        }
        c.send(b"\t");
        std::thread::sleep(Duration::from_millis(500));
    }
    c.wait_until("the timeline pane", storm_wait, footer_offers_search);
    c.send(b"/");
    c.wait_for("Search timeline", storm_wait);
    c.type_text("lazy-dogs");
    c.send(b"\r");
    let shown = c
        .wait_until("the typed note in the timeline", storm_wait, |s| {
            s.lines().any(|l| l.contains("alice") && l.contains("round 0: aabbcc"))
        })
        .to_string();

    stop.store(true, Ordering::Relaxed);
    for m in mates {
        let _ = m.join();
    }
    assert_eq!(typed.len(), 1, "the typed note was written once: {typed:#?}");
    assert_eq!(typed[0], text, "every key typed, once, in order");
    assert_eq!(both.len(), 2, "the paste was written as one note: {both:#?}");
    assert_eq!(both[0], text);
    // The editor keeps a tab as typed or as spaces; everything else is exactly the paste.
    assert_eq!(both[1].replace("    ", "\t"), pasted, "the paste arrived whole");
    assert!(written.load(Ordering::Relaxed) >= 2_000, "the storm ran");
    assert!(c.running(), "{shown}");
    // Nothing more was written for alice after the storm settled (no key replayed later).
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(notes_in_log(&w, &alice, &id).len(), 2);
}

/// Keys typed while a long history is still being read (it arrives in parts, each inserted
/// between looks at the keyboard, the timeline's title saying "reading…") all land: the note
/// written is exactly what was typed, once, and the history's last record shows after.
#[test]
fn every_key_typed_while_a_long_history_is_read_arrives() {
    use warroom::domain::event::Note;
    use warroom::domain::identity::WriterId;
    use warroom::store::writer::{Draft, LogWriter};
    use warroom::store::{Identity, RootChoice, RootSource, Store};

    let w = World::new();
    let alice = w.who("alice", "jump");
    let id = w.declare(&alice, "Long read");
    let store = Store::open(
        &RootChoice {
            path: w.root(),
            source: RootSource::Flag,
        },
        w.path().join("state-history"),
        w.path().join("run").join("warroom"),
    )
    .expect("open the shared directory");
    // 40k records from two teammates (a debug build reads them in seconds: many parts).
    let total = 40_000;
    for part in 0..8 {
        let who = if part % 2 == 0 { "ann" } else { "bob" };
        let me = Identity {
            writer: WriterId {
                name: who.into(),
                host: "desk".into(),
            },
            install: "hist01".into(),
        };
        let drafts = (part * 5_000..(part + 1) * 5_000)
            .map(|k| {
                Draft::new(Note {
                    text: format!("{who} checked fin-ws-{k:06}").into(),
                    tags: Default::default(),
                })
            })
            .collect();
        LogWriter::new(&store, &id, &me)
            .append(drafts, warroom::cli::context::now_ms)
            .expect("write the history");
    }
    let args = ["open", id.as_str()];
    let mut c = Console::spawn(&w, &alice, Spawn::new(&args).size(120, 40));
    let slow = Duration::from_secs(120);
    // The first key as soon as the read is under way.
    c.wait_until("the history being read", slow, |s| {
        s.contains("Timeline") && s.contains("reading…")
    });
    c.send(b"n");
    c.wait_for("Enter sends", slow);
    let text = "typed during the read: 0123456789 abcdef, (q) quits nothing; END";
    for ch in text.chars() {
        let mut b = [0u8; 4];
        c.send(ch.encode_utf8(&mut b).as_bytes());
        std::thread::sleep(Duration::from_millis(5));
    }
    c.wait_for("quits nothing; END", slow);
    std::thread::sleep(Duration::from_millis(200));
    c.send(b"\r");
    let typed = wait_notes(&w, &alice, &id, 1, slow);
    assert_eq!(typed, vec![text.to_string()], "every key typed, once, in order");
    let last = format!("fin-ws-{:06}", total - 1);
    let s = c.wait_until("the history's last record", slow, |s| {
        s.contains(&last) && !s.contains("reading…")
    });
    assert!(c.running(), "{s}");
}

// ---- the console runs git sync ------------------------------------------------------------------

/// Git as the tests want it: no system or global configuration of the machine, HOME in the world.
fn git_in(w: &World, dir: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", w.path().join("home"))
        .env("GIT_CONFIG_GLOBAL", w.path().join("home").join(".gitconfig"))
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A `warroom sync --every` loop run beside the console, stopped (and reaped) on drop.
struct SyncLoop(std::process::Child);

impl SyncLoop {
    /// Stop it and return what it printed (a line a round that did something).
    fn stop(mut self) -> String {
        use std::io::Read as _;
        let _ = self.0.kill();
        let _ = self.0.wait();
        let mut out = String::new();
        if let Some(mut o) = self.0.stdout.take() {
            let _ = o.read_to_string(&mut out);
        }
        out
    }
}

impl Drop for SyncLoop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sync_git_env(w: &World, c: &mut std::process::Command) {
    c.env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", w.path().join("home"))
        .env("GIT_CONFIG_GLOBAL", w.path().join("home").join(".gitconfig"));
}

/// The world's shared directory made a clone of a new, empty bare repository; its path.
fn clone_of_a_bare_remote(w: &World, who: &Who) -> std::path::PathBuf {
    std::fs::create_dir_all(w.path().join("home")).expect("home");
    let bare = w.path().join("remote.git");
    git_in(
        w,
        w.path(),
        &["init", "--quiet", "--bare", "-b", "main", &bare.to_string_lossy()],
    );
    let mut init = w.cmd(who);
    sync_git_env(w, &mut init);
    Run::from_output(
        init.args(["sync", "--init", &bare.to_string_lossy()])
            .output()
            .expect("sync --init"),
    )
    .ok();
    bare
}

/// Sync rounds every second on an idle board draw nothing: the board's `sync <1m` does not change,
/// and git's own writes under `.git` are not incidents.
#[test]
fn an_idle_board_with_sync_every_second_does_not_redraw() {
    let w = World::new();
    let alice = w.who("alice", "jump");
    clone_of_a_bare_remote(&w, &alice);
    w.declare(&alice, "Idle sync");
    let args = ["--sync-every", "1"];
    let mut c = Console::spawn(&w, &alice, Spawn::new(&args));
    c.wait_until("the board with a synced status", WAIT, |s| {
        s.contains("Idle sync") && s.contains("sync <1m")
    });
    std::thread::sleep(Duration::from_millis(1500));
    let m = idle_window(&c, Duration::from_secs(5));
    eprintln!(
        "idle board with --sync-every 1: {} bytes, {} frames in 5 s; {}",
        m.bytes,
        m.frames,
        m.cpu_ticks
            .map(|t| format!("{t} CPU ticks (1/100 s) in the console process"))
            .unwrap_or_default()
    );
    // At most a minute boundary's redraw.
    assert!(m.frames <= 2, "{} frames in 5 s while idle ({m:?})", m.frames);
}

#[test]
fn a_console_with_sync_every_pushes_a_typed_note_and_shows_the_sync_status() {
    let w = World::new();
    let alice = w.who("alice", "jump");
    let bare = clone_of_a_bare_remote(&w, &alice);
    let git_env = |c: &mut std::process::Command| sync_git_env(&w, c);
    let id = w.declare(&alice, "Synced console");

    // A `warroom sync --every` loop beside the console, in the same clone: the two take turns.
    let mut beside = w.cmd(&alice);
    git_env(&mut beside);
    let beside = SyncLoop(
        beside
            .args(["sync", "--every", "0.3"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start a sync loop"),
    );

    let args = ["--sync-every", "1", "open", id.as_str()];
    let mut c = open_incident(&w, &alice, &id, "Synced console", Spawn::new(&args));
    c.wait_until("a synced status in the header", WAIT, |s| {
        s.lines()
            .nth(1)
            .is_some_and(|l| l.contains("sync ") && l.contains(" ago"))
    });

    c.send(b"n");
    c.wait_for("Enter sends · Alt+Enter", WAIT);
    c.type_text("pushed by the console");
    c.send(b"\r");
    let log_name = w
        .log_of(&alice, &id)
        .file_name()
        .expect("log name")
        .to_string_lossy()
        .into_owned();
    let remote_log = || {
        std::process::Command::new("git")
            .arg("-C")
            .arg(&bare)
            .args(["show", &format!("main:{id}/events/{log_name}")])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    let start = Instant::now();
    while !remote_log().contains("pushed by the console") {
        assert!(
            start.elapsed() < WAIT * 6,
            "the note never reached the bare remote\n{}",
            c.screen()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = git_in(&w, &bare, &["log", "--format=%s", "main"]);
    assert!(log.lines().all(|l| l.starts_with("warroom sync from jump.")), "{log}");
    let merges = git_in(&w, &bare, &["rev-list", "--merges", "main"]);
    assert_eq!(merges, "", "a merge commit on the remote");

    // The remote goes away: the console says the sync fails, keeps the note here, and pushes it
    // once the remote is back.
    let said = beside.stop();
    assert!(
        !said.contains("FAILED"),
        "the loop beside the console failed a round:\n{said}"
    );
    let away = w.path().join("remote.git.away");
    std::fs::rename(&bare, &away).expect("take the remote away");
    c.wait_until("a failing sync in the header", WAIT, |s| {
        s.lines().nth(1).is_some_and(|l| l.contains("sync ✖"))
    });
    c.send(b"n");
    c.wait_for("Enter sends · Alt+Enter", WAIT);
    c.type_text("written while the remote was away");
    // The text on screen first, so the Enter comes alone (a loaded console that read the last
    // keys and the Enter at once would take them for a paste, and the Enter for a new line).
    c.wait_for("written while the remote was away", WAIT);
    c.send(b"\r");
    c.wait_until("the note dialog closed", WAIT, |s| {
        !s.contains("Enter sends · Alt+Enter")
    });
    c.wait_for("written while the remote was away", WAIT);
    c.send(b"!");
    // Generous, as above: on a loaded machine the failing round may end after the dialog opens.
    let s = c.wait_for("failing for", WAIT * 3);
    assert!(s.contains("cannot fetch from origin"), "{s}");
    c.send(b"\x1b");
    std::fs::rename(&away, &bare).expect("bring the remote back");
    let start = Instant::now();
    while !remote_log().contains("written while the remote was away") {
        // Generous: a loaded machine makes every git round slow; this is not a timing test.
        assert!(start.elapsed() < WAIT * 6, "the note never went out\n{}", c.screen());
        std::thread::sleep(Duration::from_millis(100));
    }
    c.wait_until("the sync working again", WAIT, |s| {
        s.lines()
            .nth(1)
            .is_some_and(|l| l.contains("sync ") && l.contains(" ago"))
    });
    assert!(c.running());
    // Both sides agree and the clone is clean: nothing lost, nothing left behind.
    assert_eq!(git_in(&w, &w.root(), &["status", "--porcelain"]), "");
    w.run(&alice, &["verify", &id]).ok();
}

/// Without rounds of its own, the console shows what a `warroom sync` of this install recorded.
#[test]
fn a_console_shows_the_sync_a_loop_beside_it_recorded() {
    let w = World::new();
    let alice = w.who("alice", "jump");
    clone_of_a_bare_remote(&w, &alice);
    let id = w.declare(&alice, "Loop beside");
    let mut sync = w.cmd(&alice);
    sync_git_env(&w, &mut sync);
    Run::from_output(sync.arg("sync").output().expect("warroom sync")).ok();
    let args = ["open", id.as_str()];
    let mut c = open_incident(&w, &alice, &id, "Loop beside", Spawn::new(&args));
    c.wait_until("the loop's sync status in the header", WAIT, |s| {
        s.lines()
            .nth(1)
            .is_some_and(|l| l.contains("sync ") && l.contains(" ago"))
    });
    c.send(b"!");
    c.wait_for("as `warroom sync` of this install last recorded it", WAIT);
}

// ---- SSH-signed records: a change of allowed_signers is judged live ---------------------------

/// A key made by `ssh-keygen` (private key path; `.pub` beside it).
fn ssh_keygen(dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    let out = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&path)
        .env("HOME", dir)
        .output()
        .expect("ssh-keygen (install openssh-client)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    path
}

/// Mallory's key line leaves the shared allowed_signers while a console shows her signed
/// records: the ✎ marks go (and come back when the line does), as a fresh start would show,
/// and `verify` and `show` say the same.
#[test]
fn a_key_removed_from_allowed_signers_takes_the_signed_mark_away_live() {
    let w = World::new();
    let keys = tempfile::tempdir().expect("tmp");
    let key = ssh_keygen(keys.path(), "mallory");
    let public = std::fs::read_to_string(key.with_extension("pub")).expect("pub");
    // Another responder's line stays, so the file still checks signatures once hers is gone.
    let other = "alice ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEPgrG/BuCu7eSfo2iQDu1PESP0pm7QsnCC/5hv3BBQ6";
    let with = format!("{other}\nmallory {}\n", public.trim());
    std::fs::create_dir_all(w.root()).expect("root");
    let allowed = w.root().join("allowed_signers");
    std::fs::write(&allowed, &with).expect("allowed_signers");
    let mallory = w.who("mallory", "jump");
    let key_arg = key.to_str().expect("utf8");
    let r = w
        .run(
            &mallory,
            &[
                "--sign",
                key_arg,
                "declare",
                "--playbook",
                "ransomware",
                "--title",
                "Signed IC",
                "--severity",
                "2",
            ],
        )
        .ok();
    let id = r.stdout.trim().to_string();
    w.run(&mallory, &["--sign", key_arg, "note", &id, "mallory signed this"])
        .ok();

    let alice = w.who("alice", "jump");
    let args = ["open", id.as_str()];
    let mut c = open_incident(&w, &alice, &id, "Signed IC", Spawn::new(&args).size(120, 40));
    c.wait_for("IC mallory✎", WAIT);
    c.wait_for("mallory signed this", WAIT);

    // Her line goes (rewritten in place, as an editor would).
    std::fs::write(&allowed, format!("{other}\n")).expect("rewrite");
    let s = c.wait_until("no ✎ left once her key is not allowed", WAIT, |s| {
        s.contains("IC mallory") && !s.contains('✎') && s.contains("problem")
    });
    assert!(
        s.contains("mallory signed this"),
        "her records stay in the timeline\n{s}"
    );
    // The one-shot readers agree with the console. The removal is a change this host has not
    // accepted, so verify says it is pending (exit 3), not tampering.
    let v = w.run(&alice, &["verify", &id]).code(3);
    assert!(!v.stdout.contains("signed by mallory"), "{v}");
    assert!(!v.stdout.contains("TAMPERED"), "{v}");
    assert!(
        v.stdout
            .contains("PENDING ACCEPTANCE: allowed_signers: mallory's key was removed"),
        "{v}"
    );
    let show = w.run(&alice, &["show", &id, "--json"]).ok().json();
    assert!(
        show["problems"]
            .to_string()
            .contains("is not in allowed_signers for `mallory@jump`"),
        "{show}"
    );

    // And back: the line returns, the marks do.
    std::fs::write(&allowed, &with).expect("rewrite");
    c.wait_for("IC mallory✎", WAIT);
    let v = w.run(&alice, &["verify", &id]).ok();
    assert!(v.stdout.contains("signed by mallory"), "{v}");
    assert!(c.running());
}

/// The config's `signing: (require: true)` set while a console shows unsigned records: they
/// become problems, not state, at once (and are state again when the setting goes), as a
/// restart would show.
#[test]
fn requiring_signatures_in_the_config_while_running_takes_effect_live() {
    let w = World::new();
    let alice = w.who("alice", "jump");
    let bob = w.who("bob", "laptop");
    let id = w.declare(&alice, "Require later");
    w.note(&bob, &id, "an unsigned note from bob");
    let args = ["open", id.as_str()];
    let mut c = open_incident(&w, &alice, &id, "Require later", Spawn::new(&args).size(120, 40));
    let s = c.wait_for("an unsigned note from bob", WAIT);
    assert!(!s.contains("problem"), "{s}");
    let config = w.path().join("cfg").join("warroom").join("config.ron");
    std::fs::create_dir_all(config.parent().expect("dir")).expect("cfg dir");
    std::fs::write(&config, "(signing: (require: true))\n").expect("config");
    c.wait_until("unsigned records refused once signatures are required", WAIT, |s| {
        s.contains("problems")
    });
    std::fs::remove_file(&config).expect("remove config");
    c.wait_until("no problems once the setting is gone", WAIT, |s| !s.contains("problem"));
    assert!(c.running());
}

/// At 80x24 the problems dialog shows a pending key change readably: the added key with its
/// line, and the kept copy's path broken after a `/`, never inside the file name to delete.
#[test]
fn a_pending_key_change_reads_whole_in_the_problems_dialog_at_80x24() {
    let w = World::new();
    let keys = tempfile::tempdir().expect("tmp");
    let (old, new) = (ssh_keygen(keys.path(), "alice"), ssh_keygen(keys.path(), "alice2"));
    let public = |k: &std::path::Path| {
        std::fs::read_to_string(k.with_extension("pub"))
            .expect("pub")
            .trim()
            .to_string()
    };
    std::fs::create_dir_all(w.root()).expect("root");
    let allowed = w.root().join("allowed_signers");
    std::fs::write(&allowed, format!("alice {}\n", public(&old))).expect("allowed_signers");
    let alice = w.who("alice", "jump");
    let id = w.declare(&alice, "Rotation");
    w.run(&alice, &["verify", &id]).ok(); // this host keeps its copy
    std::fs::write(&allowed, format!("alice {}\nalice {}\n", public(&old), public(&new))).expect("rotate");
    let args = ["open", id.as_str()];
    let mut c = open_incident(&w, &alice, &id, "Rotation", Spawn::new(&args).size(80, 24));
    let kept = std::fs::read_dir(alice.state.join("trust"))
        .expect("trust/")
        .flatten()
        .next()
        .expect("kept copy")
        .file_name()
        .to_string_lossy()
        .into_owned();
    c.send(b"!");
    // The file name to delete reads whole; the path before it ends a line at `trust/`.
    let s = c.wait_for(&kept, WAIT);
    assert!(s.contains("(ssh-ed25519, line 2)"), "{s}");
    assert!(s.lines().any(|l| l.contains("/trust/║")), "{s}");
    assert!(c.running());
}
