//! `warroom exercise`: run a tabletop scenario. Injects are released into the shared directory on
//! schedule; the scenario and the facilitator's notes stay in the local state directory.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::context::{now_ms, Ctx};
use super::write::report;
use super::{Fail, Global, Result};
use crate::domain::event::{ExerciseClock, InjectReleased, Mode};
use crate::domain::sanitize;
use crate::exercise::local::{EvaluatorNote, FacilitatorState};
use crate::exercise::scenario::{self, format_scenario, Scenario, BUILT_IN};
use crate::exercise::scheduler;
use crate::store::incident::{declare, DeclareRequest, Incident};
use crate::store::playbooks::Library;
use crate::store::writer::{Draft, LogWriter};
use crate::store::{Identity, Store};

/// A scenario by built-in id or path, checked against its playbook.
pub fn load_scenario(g: &Global, wanted: &str) -> Result<(Scenario, crate::domain::Playbook)> {
    let (file, text) = if Path::new(wanted).exists() || wanted.ends_with(".ron") {
        let text = crate::store::fsutil::read_text_file(Path::new(wanted))
            .map_err(|e| Fail::new(format!("cannot read {wanted}: {e}")))?;
        (wanted.to_string(), text)
    } else {
        let (name, text) = BUILT_IN
            .iter()
            .find(|(name, _)| name.trim_end_matches(".ron") == wanted)
            .ok_or_else(|| {
                let known: Vec<&str> = BUILT_IN.iter().map(|(n, _)| n.trim_end_matches(".ron")).collect();
                Fail::new(format!("no scenario `{wanted}`; built in: {}", known.join(", ")))
            })?;
        (format!("assets/scenarios/{name}"), text.to_string())
    };
    let first = scenario::parse(&file, &text, None).map_err(|e| Fail::new(e.join("\n")))?;
    let lib = Library::load(g.playbooks.as_deref());
    let pb = lib.resolve(&first.playbook).map_err(|e| Fail::new(e.join("\n")))?;
    let sc = scenario::parse(&file, &text, Some(&pb)).map_err(|e| Fail::new(e.join("\n")))?;
    Ok((sc, pb))
}

pub fn list() -> Result<()> {
    for (name, text) in BUILT_IN {
        match scenario::parse(name, text, None) {
            Ok(s) => outln!(
                "{}\t{}\t{} injects\tplaybook {}",
                s.id,
                sanitize(&s.title),
                s.injects.len(),
                s.playbook
            ),
            Err(e) => eprintln!("{}", e.join("\n")),
        }
    }
    Ok(())
}

pub fn check(g: &Global, wanted: &str) -> Result<()> {
    let (sc, _) = load_scenario(g, wanted)?;
    outln!("ok: {} ({} injects)", sc.id, sc.injects.len());
    Ok(())
}

fn append(store: &Store, id: &str, me: &Identity, drafts: Vec<Draft>) -> Result<()> {
    LogWriter::new(store, id, me).append(drafts, now_ms)?;
    Ok(())
}

fn clock_event(change: &str, speed: f64, scenario_ms: i64) -> Draft {
    Draft::new(ExerciseClock {
        change: change.into(),
        speed,
        scenario_ms,
    })
}

pub struct RunArgs<'a> {
    pub scenario: Option<&'a str>,
    pub resume: Option<&'a str>,
    pub speed: f64,
    pub duration: Option<f64>,
    pub headless: bool,
    pub commander: Option<String>,
}

pub fn run(g: &Global, args: RunArgs) -> Result<()> {
    let ctx = Ctx::new(g)?;
    let me = ctx.identity(g)?;
    if !args.headless {
        // The facilitator console needs a terminal: say so before the exercise is declared.
        super::console::check_terminal()?;
    }
    let (id, mut fac) = match (args.scenario, args.resume) {
        (_, Some(r)) => {
            let id = ctx.store.resolve(r)?;
            let fac = FacilitatorState::load(&ctx.store.state_dir, &id).map_err(Fail::new)?;
            outln!("{id}");
            eprintln!(
                "resuming {} — nothing already released is released again",
                sanitize(&fac.scenario.title)
            );
            (id, fac)
        }
        (Some(s), None) => {
            let (sc, pb) = load_scenario(g, s)?;
            let req = DeclareRequest {
                playbook: &pb,
                title: sc.title.clone(),
                severity: sc.severity,
                mode: Mode::Exercise,
                commander: match &args.commander {
                    Some(c) => crate::domain::identity::normalise_name(c, &[]).map_err(Fail::new)?,
                    None => me.writer.name.clone(),
                },
                require_signatures: false,
                occurred: None,
            };
            let (id, _) = declare(&ctx.store, &me, req, now_ms)?;
            outln!("{id}");
            let fac = FacilitatorState::new(&id, sc);
            fac.save(&ctx.store.state_dir).map_err(Fail::new)?;
            append(
                &ctx.store,
                &id,
                &me,
                vec![clock_event("Start", args.speed.max(0.01), 0)],
            )?;
            (id, fac)
        }
        (None, None) => {
            return Err(Fail {
                message: "give a SCENARIO or --resume INCIDENT".into(),
                code: 2,
            })
        }
    };
    if !args.headless {
        // The facilitator's console runs the same pure scheduler on its clock tick.
        return super::console::facilitate(g, &id, fac, args.resume.is_some());
    }
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        let _ = signal_hook::flag::register(sig, stop.clone());
    }
    let started = Instant::now();
    let mut inc = Incident::open(&ctx.store, &id, now_ms());
    loop {
        if stop.load(Ordering::SeqCst) {
            eprintln!("stopped; resume with: warroom exercise run --resume {id}");
            return Ok(());
        }
        if args.duration.is_some_and(|d| started.elapsed().as_secs_f64() >= d) {
            return Ok(());
        }
        inc.refresh(now_ms());
        // Skips and notes may come from another shell (`warroom exercise control`).
        if let Ok(f) = FacilitatorState::load(&ctx.store.state_dir, &id) {
            fac = f;
        }
        let clock = scheduler::clock(&inc.state);
        if clock.ended {
            outln!("exercise ended");
            return Ok(());
        }
        let now = now_ms();
        let due: Vec<_> = scheduler::due(&fac.scenario, &inc.state, &fac.skipped, now)
            .into_iter()
            .cloned()
            .collect();
        if !due.is_empty() {
            let t = clock.scenario_ms(now);
            let drafts = due
                .iter()
                .map(|i| {
                    Draft::new(InjectReleased {
                        inject: i.id.clone(),
                        title: i.title.clone(),
                        text: i.text.clone(),
                        scenario_ms: t,
                    })
                })
                .collect();
            append(&ctx.store, &id, &me, drafts)?;
            for i in &due {
                outln!("{}  released {}: {}", format_scenario(t), i.id, sanitize(&i.title));
            }
            inc.refresh(now_ms());
        }
        if scheduler::upcoming(&fac.scenario, &inc.state, &fac.skipped).is_empty() {
            append(
                &ctx.store,
                &id,
                &me,
                vec![clock_event("End", clock.speed, clock.scenario_ms(now_ms()))],
            )?;
            outln!("all injects released; exercise ended");
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `exercise control`: pause, resume, speed, release now, skip, note, end.
pub fn control(g: &Global, incident: &str, what: &str, arg: Option<&str>) -> Result<()> {
    let ctx = Ctx::new(g)?;
    let me = ctx.identity(g)?;
    let id = ctx.store.resolve(incident)?;
    let mut fac = FacilitatorState::load(&ctx.store.state_dir, &id).map_err(Fail::new)?;
    let inc = Incident::open(&ctx.store, &id, now_ms());
    let clock = scheduler::clock(&inc.state);
    let t = clock.scenario_ms(now_ms());
    let need = |what: &str| {
        arg.map(str::to_string).ok_or_else(|| Fail {
            message: format!("`{what}` needs an argument"),
            code: 2,
        })
    };
    let drafts = match what {
        "pause" => vec![clock_event("Pause", clock.speed, t)],
        "resume" => vec![clock_event("Resume", clock.speed, t)],
        "end" => vec![clock_event("End", clock.speed, t)],
        "speed" => {
            let s: f64 = need("speed")?
                .parse()
                .map_err(|_| Fail::new("speed is a number, e.g. 2 or 0.5"))?;
            vec![clock_event(
                if clock.running { "Speed" } else { "Pause" },
                s.max(0.01),
                t,
            )]
        }
        "release" => {
            let inj_id = need("release")?;
            let inj = fac
                .scenario
                .injects
                .iter()
                .find(|i| i.id == inj_id)
                .ok_or_else(|| Fail::new(format!("no inject `{inj_id}`")))?;
            if scheduler::released(&inc.state).contains(&inj_id) {
                return Err(Fail::new(format!("{inj_id} was already released")));
            }
            vec![Draft::new(InjectReleased {
                inject: inj.id.clone(),
                title: inj.title.clone(),
                text: inj.text.clone(),
                scenario_ms: t,
            })]
        }
        "skip" => {
            let inj_id = need("skip")?;
            fac.skipped.insert(inj_id);
            fac.save(&ctx.store.state_dir).map_err(Fail::new)?;
            outln!("skipped (kept private to this host)");
            return Ok(());
        }
        "note" => {
            let text = need("note")?;
            fac.notes.push(EvaluatorNote {
                inject: None,
                at: now_ms(),
                text,
            });
            fac.save(&ctx.store.state_dir).map_err(Fail::new)?;
            outln!("evaluator note kept privately; it appears in the after-action report");
            return Ok(());
        }
        other => {
            return Err(Fail {
                message: format!(
                    "unknown control `{other}`: pause, resume, speed X, release ID, skip ID, note TEXT, end"
                ),
                code: 2,
            })
        }
    };
    let a = LogWriter::new(&ctx.store, &id, &me).append(drafts, now_ms)?;
    report(&id, &a);
    Ok(())
}
