//! `warroom demo --headless`: the demo's merged timeline on stdout, like `tail --follow`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use super::context::{now_ms, Ctx};
use super::read::{follow_incident, tail_line};
use super::{Fail, Result};
use crate::demo::Demo;
use crate::domain::time::Zone;
use crate::store::config::Config;
use crate::store::incident::Incident;

pub fn run(_headless: bool, duration: Option<f64>, speed: f64) -> Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        signal_hook::flag::register(sig, stop.clone()).map_err(|e| Fail::new(format!("cannot handle signals: {e}")))?;
    }
    let demo = Demo::start("you", speed)?;
    eprintln!(
        "demo: incident {} in {} (removed when the demo ends)",
        demo.incident,
        demo.store.root.display()
    );
    let ctx = Ctx {
        store: demo.store.clone(),
        config: Config::default(),
        zone: Zone::Utc,
    };
    let mut inc = Incident::open(&ctx.store, &demo.incident, now_ms());
    for e in inc.state.timeline() {
        outln!("{}", tail_line(&inc.state, e));
    }
    let started = Instant::now();
    let done = move || stop.load(Ordering::SeqCst) || duration.is_some_and(|d| started.elapsed().as_secs_f64() >= d);
    follow_incident(&ctx, &mut inc, Some(0.5), false, Some(&done))?;
    drop(demo);
    Ok(())
}
