//! `warroom ingest`: alerts from standard input or an HTTP listener, routed by rules into
//! incidents. Rules, playbooks and the secret are loaded and checked before anything listens.

use std::collections::BTreeMap;
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::context::{now_ms, Ctx};
use super::{Fail, Global, Result};
use crate::domain::sanitize;
use crate::ingest::alert::parse_documents;
use crate::ingest::record::Ingestor;
use crate::ingest::rules::Rules;
use crate::ingest::server::{self, Shared};

pub struct IngestArgs {
    pub stdin: bool,
    pub listen: Option<String>,
    pub rules: Option<PathBuf>,
    pub secret_file: Option<PathBuf>,
    pub commander: Option<String>,
    pub max_body: usize,
}

/// `--rules FILE`, else `rules.ron` in the responder's config folder.
fn load_rules(flag: Option<&Path>) -> Result<(Rules, PathBuf)> {
    let path = match flag {
        Some(p) => p.to_path_buf(),
        None => crate::store::config::config_dir()
            .map(|d| d.join("rules.ron"))
            .ok_or_else(|| Fail::new("no config folder: pass --rules FILE"))?,
    };
    let text = crate::store::fsutil::read_text_file(&path).map_err(|e| {
        Fail::new(format!(
            "cannot read routing rules {}: {e}\n(pass --rules FILE or copy assets/rules.ron to {}; see README, \"Alerts in\")",
            path.display(),
            path.display()
        ))
    })?;
    let rules = Rules::parse(&path.display().to_string(), &text).map_err(Fail::new)?;
    Ok((rules, path))
}

/// `PORT` alone, `localhost:PORT` or an address; a non-loopback address is allowed (it was
/// asked for) with a warning.
pub fn listen_addr(s: &str) -> std::result::Result<(SocketAddr, Option<String>), String> {
    let s = s.trim();
    let addr = if let Ok(port) = s.parse::<u16>() {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)
    } else if let Some(port) = s.strip_prefix("localhost:") {
        let port = port
            .parse::<u16>()
            .map_err(|_| format!("`{}` is not a port", sanitize(port)))?;
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)
    } else {
        s.parse::<SocketAddr>().map_err(|_| {
            format!(
                "`{}` is not an address to listen on; use 127.0.0.1:9095 (or a port alone)",
                sanitize(s)
            )
        })?
    };
    let warning = (!addr.ip().is_loopback()).then(|| {
        format!(
            "warning: listening on {addr}, not loopback: anything that can reach this port can open incidents; use --secret-file and a firewall"
        )
    });
    Ok((addr, warning))
}

fn read_secret(path: &Path) -> Result<blake3::Hash> {
    let text = crate::store::fsutil::read_text_file(path)
        .map_err(|e| Fail::new(format!("cannot read the secret file {}: {e}", path.display())))?;
    let secret = text.trim();
    if secret.len() < 16 {
        return Err(Fail::new(format!(
            "the secret in {} is shorter than 16 characters",
            path.display()
        )));
    }
    Ok(blake3::hash(secret.as_bytes()))
}

pub fn ingest(g: &Global, args: IngestArgs) -> Result<()> {
    let ctx = Ctx::new(g)?;
    let identity = ctx.identity(g)?;
    let (rules, rules_path) = load_rules(args.rules.as_deref())?;
    let mut playbooks = BTreeMap::new();
    for name in rules.playbooks() {
        if playbooks.contains_key(name) {
            continue;
        }
        let pb = super::write::resolve_playbook(g, name)
            .map_err(|e| Fail::new(format!("{}: playbook `{name}`: {}", rules_path.display(), e.message)))?;
        if pb.partial {
            return Err(Fail::new(format!(
                "{}: `{name}` is a building block, not a playbook to declare",
                rules_path.display()
            )));
        }
        playbooks.insert(name.to_string(), pb);
    }
    let commander = match &args.commander {
        Some(c) => {
            let c = c.trim().to_lowercase();
            if !crate::domain::identity::valid_name(&c) {
                return Err(Fail::new(format!("`{}` is not a responder name", sanitize(&c))));
            }
            if crate::domain::identity::person_of(&identity.writer.name) == c {
                return Err(Fail::new(format!(
                    "--commander `{c}` is the ingesting account (--as): an account that writes alerts never commands; name a person"
                )));
            }
            Some(c)
        }
        None => None,
    };
    let secret = args.secret_file.as_deref().map(read_secret).transpose()?;
    let ingestor = Ingestor::new(ctx.store.clone(), identity, rules, playbooks, commander, now_ms);
    let hooks = crate::hooks::run::Runner::from_config(&ctx.store);
    if args.stdin {
        return from_stdin(ingestor, args.max_body, hooks);
    }
    let Some(listen) = &args.listen else {
        return Err(Fail {
            message: "say where alerts come from: --stdin or --listen 127.0.0.1:PORT".into(),
            code: 2,
        });
    };
    let (addr, warning) = listen_addr(listen).map_err(|m| Fail { message: m, code: 2 })?;
    if let Some(w) = warning {
        eprintln!("{w}");
    }
    eprintln!(
        "warroom ingest: rules from {}; writing to {}",
        rules_path.display(),
        ctx.store.describe()
    );
    if let Some(h) = &hooks {
        // A long-running process of this install: it fires deadline hooks too (once per install).
        h.watch_deadlines(now_ms, |f| eprintln!("warroom ingest: {f}"));
    }
    let shared = Arc::new(Shared {
        ingestor: Mutex::new(ingestor),
        secret,
        after: Box::new(move |written| {
            if let Some(h) = &hooks {
                // Never hold up the answer to Alertmanager.
                h.fire_background(written.to_vec(), |f| eprintln!("warroom ingest: {f}"));
            }
        }),
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Fail::new(format!("cannot start the runtime: {e}")))?;
    rt.block_on(server::serve(addr, shared, args.max_body))
        .map_err(|e| Fail::new(format!("cannot listen on {addr}: {e}")))
}

fn from_stdin(mut ingestor: Ingestor, max_body: usize, hooks: Option<Arc<crate::hooks::run::Runner>>) -> Result<()> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .lock()
        .take(max_body as u64 + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() > max_body {
        return Err(Fail::new(format!(
            "standard input is larger than {max_body} bytes (--max-body)"
        )));
    }
    let parsed = parse_documents(&bytes).map_err(|e| Fail::new(format!("refused: {}", sanitize(&e))))?;
    for b in &parsed.batches {
        let (outcomes, written) = ingestor.ingest(b).map_err(|e| Fail::new(sanitize(&e)))?;
        for f in hooks.iter().flat_map(|h| h.fire(&written)) {
            eprintln!("warning: {f}");
        }
        for o in outcomes {
            println!("{}", o.line());
        }
    }
    // The good alerts are recorded; what was refused is said, and the exit status tells.
    for why in &parsed.refused {
        eprintln!("refused: {}", sanitize(why));
    }
    match parsed.refused.len() {
        0 => Ok(()),
        n => Err(Fail::new(format!(
            "{n} part(s) of the input refused (above); the rest was recorded"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses() {
        let ok = |s: &str| listen_addr(s).expect("parses");
        assert_eq!(ok("9095").0.to_string(), "127.0.0.1:9095");
        assert_eq!(ok("localhost:9095").0.to_string(), "127.0.0.1:9095");
        assert!(ok("127.0.0.1:0").1.is_none());
        assert!(ok("[::1]:9095").1.is_none());
        assert!(ok("0.0.0.0:9095").1.is_some_and(|w| w.contains("not loopback")));
        assert!(listen_addr("example.com:80").is_err());
        assert!(listen_addr("localhost:x").is_err());
    }
}
