//! Opening the console: configuration and playbooks are loaded and checked before the terminal
//! goes into raw mode, so their errors print normally.

use std::time::Duration;

use super::context::{host_name, now_ms, Ctx};
use super::{Fail, Global, Result};
use crate::demo::Demo;
use crate::domain::identity::{normalise_name, WriterId, SHARED_ACCOUNTS};
use crate::domain::sanitize::sanitize;
use crate::store::config::config_dir;
use crate::store::playbooks::Library;
use crate::store::{random_id, Identity, Store};
use crate::tui::keymap::Keymap;
use crate::tui::model::ExecSetup;
use crate::tui::run::{run, Options};
use crate::tui::sync::SyncSetup;

fn keymap() -> Result<Keymap> {
    let Some(path) = config_dir().map(|d| d.join("keys.ron")) else {
        return Ok(Keymap::default());
    };
    match crate::store::fsutil::read_text_file(&path) {
        Ok(text) => Keymap::with_overrides(&text, &path.display().to_string()).map_err(Fail::new),
        Err(_) => Ok(Keymap::default()),
    }
}

fn poll(g: &Global, ctx_poll: Option<f64>) -> Option<Duration> {
    g.poll_interval.or(ctx_poll).map(crate::store::watch::poll_duration)
}

/// Refuse, before anything is written, a console that could not run here.
pub fn check_terminal() -> Result<()> {
    use std::io::IsTerminal;
    let term = std::env::var("TERM").unwrap_or_default();
    terminal_refusal(std::io::stdout().is_terminal() && std::io::stdin().is_terminal(), &term)
        .map_or(Ok(()), |why| Err(Fail::new(why)))
}

/// Why the console cannot run here, if it cannot: no terminal, or one that cannot move the cursor.
pub fn terminal_refusal(is_terminal: bool, term: &str) -> Option<String> {
    const HINT: &str = "follow an incident with `warroom tail <incident> --follow`, list them with `warroom list`";
    let dumb = term == "dumb";
    if !is_terminal {
        let also = if dumb {
            " (and TERM=dumb could not draw it: set TERM)"
        } else {
            ""
        };
        return Some(format!("the console needs a terminal{also}; {HINT}"));
    }
    // There is a terminal: only one that says it cannot draw.
    if dumb {
        return Some(
            "TERM=dumb cannot draw the console; use `warroom tail <incident> --follow`, or set TERM \
             (e.g. TERM=xterm-256color)"
                .into(),
        );
    }
    None
}

/// Sync rounds for this console: `--sync-every`, else `sync_every:` in the config; the remote from
/// `sync_remote:` (default `origin`). Refused before the terminal is taken over: an interval under
/// one second, a remote that is not a name or URL.
fn sync_setup(g: &Global, ctx: &Ctx, identity: &Identity) -> Result<Option<SyncSetup>> {
    let Some(every) = g.sync_every.or(ctx.config.sync_every) else {
        return Ok(None);
    };
    if !(every.is_finite() && (1.0..=86_400.0).contains(&every)) {
        return Err(Fail {
            message: "--sync-every (sync_every: in the config) takes a number of seconds from 1 to 86400".into(),
            code: 2,
        });
    }
    let remote = ctx.config.sync_remote.clone().unwrap_or_else(|| "origin".into());
    if !crate::sync::plan::valid_remote_arg(&remote) {
        return Err(Fail {
            message: format!("sync_remote: `{}` is not a git remote name or URL", sanitize(&remote)),
            code: 2,
        });
    }
    Ok(Some(SyncSetup {
        site: crate::sync::Site {
            root: ctx.store.root.clone(),
            install: identity.install.clone(),
            host: host_name(),
        },
        options: crate::sync::Options {
            remote,
            timeout: Duration::from_secs(60),
            retries: 8,
            keep_trust: false,
        },
        every: Duration::from_secs_f64(every),
    }))
}

/// Who the console writes as; an observer writes nothing and needs no name.
fn console_identity(ctx: &Ctx, g: &Global) -> Result<Identity> {
    match ctx.identity(g) {
        Ok(i) => Ok(i),
        Err(_) if g.observer => Ok(Identity {
            writer: WriterId {
                name: "observer".into(),
                host: host_name(),
            },
            install: "000000".into(),
        }),
        Err(e) => Err(e),
    }
}

/// Whether approved commands may run from this console: the responder's own config or flag,
/// their trusted playbooks, the timeout. Checked before the terminal is taken over.
fn exec_setup(g: &Global, ctx: &Ctx) -> Result<ExecSetup> {
    Ok(ExecSetup {
        enabled: super::exec::exec_enabled(g, &ctx.config),
        trusted: std::sync::Arc::new(crate::store::playbooks::trusted(g.playbooks.as_deref())),
        timeout: Some(super::exec::timeout(None, &ctx.config)?),
        settle: super::exec::settle(&ctx.config)?,
    })
}

pub fn console(g: &Global, open: Option<&str>) -> Result<()> {
    let ctx = Ctx::new(g)?;
    let identity = console_identity(&ctx, g)?;
    let open = open.map(|o| ctx.store.resolve(o)).transpose()?;
    let keymap = keymap()?;
    let library = Library::load(g.playbooks.as_deref());
    let exec = exec_setup(g, &ctx)?;
    let sync = sync_setup(g, &ctx, &identity)?;
    check_terminal()?;
    run(Options {
        poll: poll(g, ctx.config.poll_interval),
        store: ctx.store,
        identity,
        observer: g.observer,
        sync,
        open,
        library,
        keymap,
        clock: now_ms,
        ascii: ctx.config.ascii,
        facilitator: None,
        demo: false,
        resumed: false,
        exec,
    })
    .map_err(|e| Fail::new(e.to_string()))
}

/// The viewer's name in the demo: who they say they are, else "you".
fn demo_name(g: &Global) -> String {
    let shared: Vec<String> = SHARED_ACCOUNTS.iter().map(|s| s.to_string()).collect();
    g.as_name
        .clone()
        .or_else(|| std::env::var("WARROOM_USER").ok())
        .or_else(|| std::env::var("USER").ok())
        .and_then(|n| normalise_name(&n, &shared).ok())
        .filter(|n| !["maya", "jon", "priya"].contains(&n.as_str()))
        .unwrap_or_else(|| "you".into())
}

pub fn demo(g: &Global, speed: f64) -> Result<()> {
    let keymap = keymap()?;
    check_terminal()?;
    let name = demo_name(g);
    let demo = Demo::start(&name, speed)?;
    let identity = Identity {
        writer: WriterId {
            name,
            host: host_name(),
        },
        install: random_id(6),
    };
    let store: Store = demo.store.clone();
    let result = run(Options {
        store,
        identity,
        observer: g.observer,
        open: Some(demo.incident.clone()),
        poll: g.poll_interval.map(crate::store::watch::poll_duration),
        library: Library::built_in(),
        keymap,
        clock: now_ms,
        ascii: None,
        facilitator: None,
        demo: true,
        resumed: false,
        // A demo never runs anything (its actions are recorded as dry runs).
        exec: ExecSetup::default(),
        // Its directory is a temporary one: nothing to sync.
        sync: None,
    });
    drop(demo); // stops the teammates and removes the directory
    result.map_err(|e| Fail::new(e.to_string()))
}

/// The facilitator's console for an exercise declared (or resumed) by `exercise run`.
pub fn facilitate(
    g: &Global,
    incident: &str,
    facilitator: crate::exercise::local::FacilitatorState,
    resumed: bool,
) -> Result<()> {
    let ctx = Ctx::new(g)?;
    let identity = ctx.identity(g)?;
    let keymap = keymap()?;
    let exec = exec_setup(g, &ctx)?;
    let sync = sync_setup(g, &ctx, &identity)?;
    check_terminal()?;
    run(Options {
        poll: poll(g, ctx.config.poll_interval),
        store: ctx.store,
        identity,
        observer: false,
        open: Some(incident.to_string()),
        library: Library::load(g.playbooks.as_deref()),
        keymap,
        clock: now_ms,
        ascii: ctx.config.ascii,
        facilitator: Some(facilitator),
        demo: false,
        resumed,
        exec,
        sync,
    })
    .map_err(|e| Fail::new(e.to_string()))
}
