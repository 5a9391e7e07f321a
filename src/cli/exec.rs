//! `warroom action run` (an approved command, run and recorded) and `warroom replay` (its
//! recording, made safe for a terminal).

use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use super::context::{now_ms, Ctx};
use super::{Fail, Global, Result};
use crate::domain::exec_policy::{self, Ask, Plan};
use crate::domain::sanitize;
use crate::domain::termtext::TermFilter;
use crate::exec::carry::{self, Options};
use crate::exec::cast;
use crate::store::casts;
use crate::store::incident::Incident;

pub struct RunArgs {
    pub incident: String,
    pub action: String,
    pub rollback: bool,
    pub yes: bool,
    pub timeout: Option<f64>,
}

/// Is execution enabled: `--allow-exec`, or `exec: true` in the responder's own config.
pub fn exec_enabled(g: &Global, config: &crate::store::config::Config) -> bool {
    g.allow_exec || config.exec == Some(true)
}

/// The timeout: the flag, else `exec_timeout` in the config, else the default.
pub fn timeout(flag: Option<f64>, config: &crate::store::config::Config) -> Result<Duration> {
    match flag.or(config.exec_timeout) {
        None => Ok(carry::DEFAULT_TIMEOUT),
        Some(s) if s.is_finite() && (0.1..=86_400.0).contains(&s) => Ok(Duration::from_secs_f64(s)),
        Some(s) => Err(Fail {
            message: format!("a timeout of {s} seconds is not between 0.1 and 86400"),
            code: 2,
        }),
    }
}

/// `exec_settle` in the config (seconds, 0–600); `None`: by the file system
/// ([`carry::settle_window`]).
pub fn settle(config: &crate::store::config::Config) -> Result<Option<Duration>> {
    match config.exec_settle {
        None => Ok(None),
        Some(s) if s.is_finite() && (0.0..=600.0).contains(&s) => Ok(Some(Duration::from_secs_f64(s))),
        Some(s) => Err(Fail {
            message: format!("exec_settle of {s} seconds is not between 0 and 600"),
            code: 2,
        }),
    }
}

/// The plan as a responder reads it before saying yes: the exact command, in full.
pub fn describe_plan(plan: &Plan) -> String {
    let mut out = String::new();
    let what = if plan.rollback { " the rollback of" } else { "" };
    out.push_str(&format!(
        "{}{what} `{}` ({}) in {}:\n\n",
        if plan.dry_run { "Record as a dry run" } else { "Run" },
        sanitize(&plan.action),
        sanitize(&plan.title),
        plan.incident
    ));
    for line in crate::domain::sanitize_lines(&plan.shown()) {
        out.push_str(&format!("    {line}\n"));
    }
    out.push('\n');
    if !plan.params.is_empty() {
        out.push_str("the parameters (from the proposal) are given to the command as environment variables, never written into it\n");
    }
    if plan.dry_run {
        out.push_str("exercise: nothing is executed; the command is recorded as a dry run\n");
    } else {
        out.push_str("it runs as `sh -c` in a pseudo-terminal of its own, recorded, on this machine, as you\n");
    }
    out
}

pub fn run(g: &Global, a: RunArgs) -> Result<()> {
    let ctx = Ctx::new(g)?;
    let id = ctx.store.resolve(&a.incident)?;
    let identity = ctx.identity(g)?;
    let me = identity.writer.to_string();
    let limit = timeout(a.timeout, &ctx.config)?;
    let inc = Incident::open(&ctx.store, &id, now_ms());
    if inc.is_syncing() {
        return Err(Fail::new(format!(
            "{id} has not been declared (still syncing?); try again in a moment"
        )));
    }
    let trusted = crate::store::playbooks::trusted(g.playbooks.as_deref());
    let ask = Ask {
        action: &a.action,
        rollback: a.rollback,
        exec_enabled: exec_enabled(g, &ctx.config),
        trusted: &trusted,
        me: &me,
        now: now_ms(),
    };
    let plan = exec_policy::may_run(&inc.state, &ask).map_err(|r| Fail::new(format!("not run: {r}")))?;
    eprint!("{}", describe_plan(&plan));
    let shown = if a.yes || plan.dry_run {
        Some(plan.shown())
    } else {
        ask_yes()?.then(|| plan.shown())
    };
    exec_policy::confirmed(&plan, shown.as_deref()).map_err(|r| Fail::new(r.to_string()))?;
    let (width, height) = if std::io::stderr().is_terminal() {
        crossterm::terminal::size().unwrap_or((120, 40))
    } else {
        (120, 40)
    };
    // Ctrl-C, a hangup or a TERM while it runs: its process group is killed, what it wrote so
    // far recorded, the action set Failed (never left "running" with an orphan behind).
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for sig in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        signal_hook::flag::register(sig, std::sync::Arc::clone(&stop))
            .map_err(|e| Fail::new(format!("nothing was run: cannot handle signals: {e}")))?;
    }
    let opts = Options {
        timeout: limit,
        width: width.max(20),
        height: height.max(5),
        stop: Some(stop),
        settle: settle(&ctx.config)?,
    };
    let done = carry::carry_out(&ctx.store, &identity, &plan, opts, now_ms).map_err(Fail::new)?;
    if let Some(w) = &done.warning {
        eprintln!("warning: {w}");
    }
    if let Some(o) = &done.outcome {
        let text = crate::domain::termtext::tail(&o.text, carry::SUMMARY_BYTES);
        if !text.trim().is_empty() {
            eprintln!("--- output (the end; all of it is in the recording) ---");
            for line in crate::domain::sanitize_lines(text.trim_end_matches('\n')) {
                eprintln!("{line}");
            }
            eprintln!("---");
        }
    }
    outln!("{id} {}", sanitize(&done.summary));
    super::run_hooks(&ctx, &id, &done.written);
    if done.success() {
        Ok(())
    } else {
        Err(Fail::new(format!(
            "{} {}",
            sanitize(&plan.action),
            done.outcome.as_ref().map_or("did not run".into(), |o| o.describe())
        )))
    }
}

/// Ask on the terminal; refused (not confirmed) when there is none.
fn ask_yes() -> Result<bool> {
    if !std::io::stdin().is_terminal() {
        return Err(Fail::new(
            "not confirmed: nothing was run (standard input is not a terminal to ask on; read the command above and pass --yes to run it)",
        ));
    }
    eprint!("Run exactly this command? Type `yes` to run it: ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(line.trim().to_ascii_lowercase().as_str(), "yes" | "y"))
}

/// Print a recording. Untrusted: escape sequences other than colours (SGR) are removed, a lone
/// carriage return starts a new line; colours and timing only on a terminal.
pub fn replay(g: &Global, wanted: &str, incident: Option<&str>, speed: f64, raw: bool) -> Result<()> {
    if !(speed.is_finite() && speed > 0.0) {
        return Err(Fail {
            message: format!("--speed {speed} must be above 0"),
            code: 2,
        });
    }
    let located = match incident {
        Some(i) => {
            let ctx = Ctx::new(g)?;
            let id = ctx.store.resolve(i)?;
            casts::locate(Some(&ctx.store), Some(&id), wanted)
        }
        None => casts::locate(None, None, wanted),
    }
    .map_err(Fail::new)?;
    let (text, matches) = casts::read(&located).map_err(Fail::new)?;
    if matches == Some(false) {
        eprintln!(
            "warning: {} does not match the hash in its name: it was changed after it was recorded",
            located.display()
        );
    }
    let rec = cast::parse(&text).map_err(|e| Fail::new(format!("{}: {e}", located.display())))?;
    let field = |k: &str| {
        rec.header
            .get(k)
            .and_then(|v| v.as_str())
            .map(sanitize)
            .unwrap_or_default()
    };
    eprintln!(
        "recording: {} — command: {} ({} output events; escape sequences other than colours removed)",
        field("title"),
        field("command"),
        rec.events.len()
    );
    if rec.bad_lines > 0 {
        eprintln!(
            "warning: {} lines of the recording are not events; skipped",
            rec.bad_lines
        );
    }
    let tty = std::io::stdout().is_terminal();
    let colours = tty && !raw && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let mut filter = if colours {
        TermFilter::with_colours()
    } else {
        TermFilter::plain()
    };
    let mut last = 0.0f64;
    for (t, data) in &rec.events {
        if tty && !raw {
            let pause = ((t - last) / speed).clamp(0.0, 2.0);
            std::thread::sleep(Duration::from_secs_f64(pause));
        }
        last = *t;
        super::print_out(&filter.feed(data));
    }
    let mut end = filter.finish();
    if colours {
        end.push_str("\u{1b}[0m");
    }
    super::print_out(&end);
    Ok(())
}
