//! Running an approved command: in a pseudo-terminal of its own (never the console's terminal),
//! as `sh -c LINE` (playbook commands are shell lines), with a timeout after which its whole
//! process group is killed. Everything it writes is recorded as an asciicast v2 recording;
//! [`crate::domain::termtext`] makes the text shown from it safe.
//!
//! Whether it may run at all is decided before, by [`crate::domain::exec_policy::may_run`].

pub mod carry;
pub mod cast;

use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use portable_pty::{native_pty_system, CommandBuilder, PtySize};

use crate::domain::termtext::TermFilter;

/// The longest output recorded in a cast; what comes after is read (so the command is never
/// blocked on a full terminal) and counted, not kept.
pub const MAX_RECORDED: usize = 4 << 20;
/// How long output is still collected after the command exits (a background child may hold the
/// terminal open).
const DRAIN: Duration = Duration::from_millis(300);
/// The plain text kept for the summary (the end of the output).
const TEXT_KEPT: usize = 64 * 1024;

/// What to run.
#[derive(Debug, Clone)]
pub struct Spec {
    pub command: String,
    pub timeout: Duration,
    pub width: u16,
    pub height: u16,
    /// The cast's title (`<incident> <action>`).
    pub title: String,
    /// Extra environment (`WARROOM_INCIDENT`, `WARROOM_ACTION`, the parameters).
    pub env: Vec<(String, String)>,
    /// Set (by a signal handler, or the console quitting) to stop the command: its process
    /// group is killed and what it wrote so far is kept, marked interrupted.
    pub stop: Option<Arc<AtomicBool>>,
}

/// What happened.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The exit status; `None` when it was killed (by the timeout or a signal).
    pub exit: Option<i32>,
    pub timed_out: bool,
    /// Stopped before it ended (Ctrl-C, a hangup, the console quitting): its group was killed.
    pub interrupted: bool,
    /// Killed by this signal (its name), if it was.
    pub signal: Option<String>,
    /// The asciicast v2 recording.
    pub cast: Vec<u8>,
    /// The end of its output as plain text (escape sequences removed).
    pub text: String,
    /// Output bytes read in all (recorded or not).
    pub bytes: usize,
    pub elapsed: Duration,
}

impl Outcome {
    pub fn success(&self) -> bool {
        self.exit == Some(0) && !self.timed_out && !self.interrupted
    }

    /// One line: `exit 0 after 1.2 s`, `timed out after 5.0 s (killed)`.
    pub fn describe(&self) -> String {
        let secs = self.elapsed.as_secs_f64();
        match (self.timed_out, self.exit, &self.signal) {
            _ if self.interrupted => format!("interrupted after {secs:.1} s (killed)"),
            (true, _, _) => format!("timed out after {secs:.1} s (killed)"),
            (_, Some(c), _) => format!("exit {c} after {secs:.1} s"),
            (_, None, Some(s)) => format!("killed by {s} after {secs:.1} s"),
            _ => format!("ended after {secs:.1} s"),
        }
    }
}

/// Run `spec.command` in a new pseudo-terminal and wait for it (at most its timeout, then the
/// process group is killed). Blocks: the console calls it on a thread of its own.
pub fn run(spec: &Spec) -> Result<Outcome, String> {
    let pty = native_pty_system();
    let pair = pty
        .openpty(PtySize {
            rows: spec.height,
            cols: spec.width,
            pixel_width: 0,
            pixel_height: 0,
        })
        .map_err(|e| format!("cannot open a pseudo-terminal: {e}"))?;
    let mut cmd = CommandBuilder::new("/bin/sh");
    cmd.arg("-c");
    cmd.arg(&spec.command);
    if let Ok(dir) = std::env::current_dir() {
        cmd.cwd(dir);
    }
    cmd.env("TERM", "xterm-256color");
    cmd.env("COLUMNS", spec.width.to_string());
    cmd.env("LINES", spec.height.to_string());
    for (k, v) in &spec.env {
        cmd.env(k, v);
    }
    let mut writer = cast::Writer::new(spec.width, spec.height, &spec.command, &spec.title);
    let start = Instant::now();
    let mut child = pair
        .slave
        .spawn_command(cmd)
        .map_err(|e| format!("cannot start /bin/sh: {e}"))?;
    drop(pair.slave);
    // No input is given: the command's stdin is the terminal, and nobody types on it.
    let mut reader = pair
        .master
        .try_clone_reader()
        .map_err(|e| format!("cannot read the pseudo-terminal: {e}"))?;
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    std::thread::Builder::new()
        .name("exec-output".into())
        .spawn(move || {
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if tx.send((Instant::now(), buf[..n].to_vec())).is_err() {
                            break;
                        }
                    }
                }
            }
        })
        .map_err(|e| format!("cannot start a thread: {e}"))?;
    let pid = child.process_id();
    let mut filter = TermFilter::plain();
    let mut text = String::new();
    let mut bytes = 0usize;
    let mut timed_out = false;
    let mut interrupted = false;
    let mut status = None;
    let mut exited_at: Option<Instant> = None;
    let mut take = |at: Instant, chunk: Vec<u8>, text: &mut String, bytes: &mut usize| {
        *bytes += chunk.len();
        let decoded = writer.output(at.duration_since(start), &chunk, MAX_RECORDED);
        text.push_str(&filter.feed(&decoded));
        if text.len() > 2 * TEXT_KEPT {
            let mut cut = text.len() - TEXT_KEPT;
            while !text.is_char_boundary(cut) {
                cut += 1;
            }
            text.drain(..cut);
        }
    };
    loop {
        let now = Instant::now();
        if let Some(t) = exited_at {
            if now.duration_since(t) >= DRAIN {
                break;
            }
        } else if spec.stop.as_ref().is_some_and(|s| s.load(Ordering::SeqCst))
            || now.duration_since(start) >= spec.timeout
        {
            if now.duration_since(start) >= spec.timeout {
                timed_out = true;
            } else {
                interrupted = true;
            }
            kill_group(pid);
            let _ = child.kill();
            status = child.wait().ok();
            exited_at = Some(Instant::now());
            continue;
        }
        match rx.recv_timeout(Duration::from_millis(20)) {
            Ok((at, chunk)) => take(at, chunk, &mut text, &mut bytes),
            Err(mpsc::RecvTimeoutError::Disconnected) if exited_at.is_some() => break,
            Err(mpsc::RecvTimeoutError::Disconnected) => std::thread::sleep(Duration::from_millis(20)),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if exited_at.is_none() {
            match child.try_wait() {
                Ok(Some(s)) => {
                    status = Some(s);
                    exited_at = Some(Instant::now());
                }
                Ok(None) => {}
                Err(e) => return Err(format!("cannot wait for the command: {e}")),
            }
        }
    }
    // Whatever is still queued was written before we stopped listening.
    while let Ok((at, chunk)) = rx.try_recv() {
        take(at, chunk, &mut text, &mut bytes);
    }
    let elapsed = exited_at.unwrap_or_else(Instant::now).duration_since(start);
    if interrupted {
        writer.note(elapsed, "\r\n[warroom: interrupted; the command was killed]\r\n");
    }
    if bytes > MAX_RECORDED {
        writer.note(
            elapsed,
            &format!("\r\n[warroom: {bytes} bytes of output; only the first {MAX_RECORDED} are recorded]\r\n"),
        );
    }
    text.push_str(&filter.finish());
    drop(pair.master);
    let (exit, signal) = match &status {
        Some(s) if s.signal().is_some() => (None, s.signal().map(str::to_string)),
        Some(s) if !timed_out && !interrupted => (Some(i32::try_from(s.exit_code()).unwrap_or(i32::MAX)), None),
        _ => (None, None),
    };
    Ok(Outcome {
        exit,
        timed_out,
        interrupted,
        signal,
        cast: writer.finish(),
        text,
        bytes,
        elapsed,
    })
}

/// Kill the command's process group (it leads its own session in its terminal), so what it
/// started dies with it.
fn kill_group(pid: Option<u32>) {
    if let Some(pid) = pid
        .and_then(|p| i32::try_from(p).ok())
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
}
