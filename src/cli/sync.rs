//! `warroom sync`: keep the shared directory in step with a git remote (see `crate::sync`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::context::{host_name, now_ms, Ctx};
use super::{Fail, Global, Result};
use crate::domain::sanitize::{sanitize, sanitize_multiline};
use crate::domain::time::format_utc;
use crate::store::install_id;
use crate::sync::{self, status, Options, Site};

pub struct SyncArgs {
    pub remote: String,
    pub every: Option<f64>,
    pub init: Option<String>,
    pub timeout: f64,
    pub keep_trust: bool,
}

pub fn sync(g: &Global, args: SyncArgs) -> Result<()> {
    for arg in std::iter::once(&args.remote).chain(args.init.as_ref()) {
        if !sync::plan::valid_remote_arg(arg) {
            return Err(Fail {
                message: format!("`{}` is not a git remote name or URL", sanitize(arg)),
                code: 2,
            });
        }
    }
    let ctx = Ctx::new(g)?;
    let timeout = Duration::from_secs_f64(args.timeout.clamp(1.0, 3600.0));
    if let Some(url) = &args.init {
        let said = sync::init(&ctx.store.root, &args.remote, url, timeout).map_err(Fail::new)?;
        eprintln!("sync: {said}");
    }
    let site = Site {
        root: ctx.store.root.clone(),
        install: install_id(&ctx.store.state_dir)?,
        host: host_name(),
    };
    let opts = Options {
        remote: args.remote.clone(),
        timeout,
        retries: 8,
        keep_trust: args.keep_trust,
    };
    let every = match args.every {
        Some(s) if !(s.is_finite() && s >= 0.1) => {
            return Err(Fail {
                message: "--every takes a number of seconds (at least 0.1)".into(),
                code: 2,
            })
        }
        Some(s) => Some(Duration::from_secs_f64(s)),
        None => None,
    };
    let stop = Arc::new(AtomicBool::new(false));
    if every.is_some() {
        for sig in [
            signal_hook::consts::SIGINT,
            signal_hook::consts::SIGTERM,
            signal_hook::consts::SIGHUP,
        ] {
            let _ = signal_hook::flag::register(sig, Arc::clone(&stop));
        }
        eprintln!(
            "sync: {} with {} every {:.1} s (Ctrl-C stops)",
            ctx.store.describe(),
            args.remote,
            every.map_or(0.0, |d| d.as_secs_f64())
        );
    }
    loop {
        let report = sync::round(&site, &opts);
        let now = now_ms();
        if let Err(e) = status::record_round(
            &ctx.store.state_dir,
            &site.root,
            &args.remote,
            report.error.clone(),
            now,
        ) {
            eprintln!("warning: cannot record the sync status: {e}");
        }
        // Paths and git's messages can carry what another site wrote: sanitised like every output.
        for w in &report.warnings {
            eprintln!("warning: {}", sanitize(w));
        }
        let Some(every) = every else {
            // A failure is said once, by the caller (`warroom: sync: … FAILED: …`), with its
            // line breaks (the set-up help is several lines).
            return match report.error {
                Some(_) => Err(Fail::new(format!(
                    "sync: {}",
                    sanitize_multiline(&report.line(&args.remote))
                ))),
                None => {
                    eprintln!("sync: {}", sanitize(&report.line(&args.remote)));
                    Ok(())
                }
            };
        };
        if report.did_something() {
            outln!("{} {}", format_utc(now), sanitize(&report.line(&args.remote)));
        }
        let until = Instant::now() + every;
        while Instant::now() < until {
            if stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50).min(until.saturating_duration_since(Instant::now())));
        }
        if stop.load(Ordering::Relaxed) {
            return Ok(());
        }
    }
}
