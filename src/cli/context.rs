//! What every verb needs: the store (and where its directory came from), who is writing, the
//! clock and the time zone.

use std::time::{SystemTime, UNIX_EPOCH};

use super::{Fail, Global, Result, When};
use crate::domain::identity::{normalise_host, normalise_name, WriterId, SHARED_ACCOUNTS};
use crate::domain::time::{format_utc, parse_occurred, to_datetime, Millis, Zone};
use crate::store::config::{self, Config, RootSource};
use crate::store::{install_id, Identity, Store};

/// Milliseconds since the epoch on this host's clock. `WARROOM_CLOCK_SKEW_MS` shifts it, so tests
/// (and a facilitator rehearsing skew) can play a host whose clock is wrong.
pub fn now_ms() -> Millis {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as Millis);
    let skew = std::env::var("WARROOM_CLOCK_SKEW_MS")
        .ok()
        .and_then(|s| s.parse::<Millis>().ok())
        .unwrap_or(0);
    ms + skew
}

pub struct Ctx {
    pub store: Store,
    pub config: Config,
    pub zone: Zone,
}

impl Ctx {
    pub fn new(g: &Global) -> Result<Ctx> {
        let (config, _) = config::load_config().map_err(Fail::new)?;
        let env = std::env::var("WARROOM_DIR").ok();
        let choice = config::choose_root(g.dir.as_deref(), env.as_deref(), &config, &config::default_root());
        let mut store = Store::open(&choice, config::state_dir(), config::lock_dir())?;
        let signing = config.signing.clone().unwrap_or_default();
        config::apply_signing(&mut store.trust, &signing);
        if let Some(spec) = g.sign.clone().filter(|s| !s.is_empty()).or(signing.key) {
            match crate::signer::Signer::from_spec(&spec) {
                Ok(s) => store.signer = Some(std::sync::Arc::new(s)),
                Err(e) => store.trust.signer_error = Some(e.to_string()),
            }
        }
        if choice.source == RootSource::Default {
            eprintln!(
                "warroom: using {} — only you will see these incidents; share a directory with --dir or WARROOM_DIR",
                store.describe()
            );
        }
        let zone = Zone::parse(&g.tz).map_err(|m| Fail { message: m, code: 2 })?;
        Ok(Ctx { store, config, zone })
    }

    /// Who is writing: `--as`, `WARROOM_USER`, `$USER`; a shared account must say who it is.
    pub fn identity(&self, g: &Global) -> Result<Identity> {
        let raw = g
            .as_name
            .clone()
            .or_else(|| std::env::var("WARROOM_USER").ok().filter(|s| !s.is_empty()))
            .or_else(|| std::env::var("USER").ok().filter(|s| !s.is_empty()))
            .or_else(|| std::env::var("LOGNAME").ok().filter(|s| !s.is_empty()))
            .ok_or_else(|| Fail::new("cannot tell who you are: pass --as NAME or set WARROOM_USER"))?;
        let shared: Vec<String> = self
            .config
            .shared_accounts
            .clone()
            .unwrap_or_else(|| SHARED_ACCOUNTS.iter().map(|s| s.to_string()).collect());
        let name = normalise_name(&raw, &shared).map_err(Fail::new)?;
        Ok(Identity {
            writer: WriterId {
                name,
                host: host_name(),
            },
            install: install_id(&self.store.state_dir)?,
        })
    }

    /// Parse `--occurred` and echo it back in UTC on stderr (stdout stays for results).
    pub fn occurred(&self, when: &When) -> Result<Option<Millis>> {
        let Some(text) = &when.occurred else {
            return Ok(None);
        };
        let ms = parse_occurred(text, to_datetime(now_ms()), &self.zone).map_err(Fail::new)?;
        eprintln!("occurred: {}", format_utc(ms));
        Ok(Some(ms))
    }
}

impl Ctx {
    /// Parse `--as-of` (the forms of `--occurred`) and say on stderr what is shown.
    pub fn as_of(&self, a: &super::AsOf) -> Result<Option<Millis>> {
        let Some(text) = &a.as_of else {
            return Ok(None);
        };
        let future = || {
            Fail::new(format!(
                "--as-of `{}` is in the future: it shows the incident as it stood at a past time",
                text.trim()
            ))
        };
        if text.trim().starts_with('+') {
            return Err(future());
        }
        let ms = parse_occurred(text, to_datetime(now_ms()), &self.zone).map_err(|e| {
            if e.contains("is in the future") || e.contains("still ahead") {
                future()
            } else {
                Fail::new(e)
            }
        })?;
        eprintln!(
            "as of {}: the incident as it stood then (records written by then)",
            format_utc(ms)
        );
        Ok(Some(ms))
    }
}

/// The lowercase short hostname (`WARROOM_HOST` overrides, e.g. in containers with random names).
pub fn host_name() -> String {
    let raw = std::env::var("WARROOM_HOST")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| rustix::system::uname().nodename().to_string_lossy().into_owned());
    normalise_host(&raw)
}
