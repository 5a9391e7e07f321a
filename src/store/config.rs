//! Where things are: the shared root (and where that setting came from), the local state and lock
//! folders, the user's config file. Resolution is a pure function of its inputs, table-tested.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The optional user config file, `$XDG_CONFIG_HOME/warroom/config.ron`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The shared incident directory.
    #[serde(default)]
    pub dir: Option<PathBuf>,
    /// Account names several people share; they must say who they are with `--as`.
    #[serde(default)]
    pub shared_accounts: Option<Vec<String>>,
    /// Seconds between reconcile passes on network file systems.
    #[serde(default)]
    pub poll_interval: Option<f64>,
    /// Draw ASCII instead of glyphs (as on the Linux console, `TERM=linux`).
    #[serde(default)]
    pub ascii: Option<bool>,
    /// Commands run when this install records chosen events (see README, "Hooks out").
    #[serde(default)]
    pub hooks: Vec<crate::hooks::Hook>,
    /// Let warroom run approved containment commands from your trusted playbooks (see README,
    /// "Approved commands"). Off unless set here or by `--allow-exec`.
    #[serde(default)]
    pub exec: Option<bool>,
    /// Seconds an approved command may run before it is killed (default 120).
    #[serde(default)]
    pub exec_timeout: Option<f64>,
    /// Seconds between the console's `warroom sync` rounds (as `--sync-every`); none by default.
    #[serde(default)]
    pub sync_every: Option<f64>,
    /// The git remote the console syncs with (default `origin`).
    #[serde(default)]
    pub sync_remote: Option<String>,
    /// Seconds a run (or rollback) waits after writing its claim before checking it is the first,
    /// so another host's claim has time to show (default 1 local, 10 on NFS/SMB/FUSE).
    #[serde(default)]
    pub exec_settle: Option<f64>,
    /// SSH signatures on records (see README, "Signed records").
    #[serde(default)]
    pub signing: Option<Signing>,
}

/// config.ron `signing: (key: "~/.ssh/id_ed25519.pub", allowed_signers: "...", require: true)`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Signing {
    /// `agent`, a public key path (signed through ssh-agent) or an unencrypted private key path;
    /// `--sign` and `WARROOM_SIGNING_KEY` win over it.
    #[serde(default)]
    pub key: Option<String>,
    /// Your own `allowed_signers` file: used instead of `<shared dir>/allowed_signers`.
    #[serde(default)]
    pub allowed_signers: Option<PathBuf>,
    /// Treat every incident as requiring signed records.
    #[serde(default)]
    pub require: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootSource {
    Flag,
    Env,
    ConfigFile,
    Default,
}

impl RootSource {
    pub fn describe(self) -> &'static str {
        match self {
            RootSource::Flag => "--dir",
            RootSource::Env => "WARROOM_DIR",
            RootSource::ConfigFile => "config file",
            RootSource::Default => "per-user default",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RootChoice {
    pub path: PathBuf,
    pub source: RootSource,
}

/// `--dir`, else `WARROOM_DIR`, else the config file, else a per-user data directory.
pub fn choose_root(flag: Option<&Path>, env: Option<&str>, config: &Config, default: &Path) -> RootChoice {
    let pick = |p: &Path, source| RootChoice {
        path: p.to_path_buf(),
        source,
    };
    if let Some(p) = flag {
        return pick(p, RootSource::Flag);
    }
    if let Some(e) = env.filter(|e| !e.trim().is_empty()) {
        return pick(Path::new(e), RootSource::Env);
    }
    if let Some(p) = &config.dir {
        return pick(p, RootSource::ConfigFile);
    }
    pick(default, RootSource::Default)
}

pub fn config_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CONFIG_HOME")
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .or_else(|| directories::BaseDirs::new().map(|b| b.config_dir().to_path_buf()))
        .map(|d| d.join("warroom"))
}

pub fn load_config() -> Result<(Config, Option<PathBuf>), String> {
    let Some(path) = config_dir().map(|d| d.join("config.ron")) else {
        return Ok((Config::default(), None));
    };
    match super::fsutil::read_text_file(&path) {
        Ok(text) => parse_config(&path.display().to_string(), &text).map(|c| (c, Some(path.clone()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok((Config::default(), None)),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// Put the trust settings `signing` gives into `trust` (`require`, and the config's own
/// `allowed_signers` with `~` expanded): whether that changed `trust`.
pub fn apply_signing(trust: &mut super::Trust, signing: &Signing) -> bool {
    let allowed = signing
        .allowed_signers
        .as_ref()
        .map(|p| crate::signer::expand_home(&p.to_string_lossy()));
    if signing.require == trust.require && allowed == trust.allowed_signers {
        return false;
    }
    trust.require = signing.require;
    trust.allowed_signers = allowed;
    true
}

/// (size, mtime in ns) of a file, if there is one: what tells a changed file without reading it.
pub fn file_stamp(path: &std::path::Path) -> Option<(u64, i128)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path)
        .ok()
        .map(|m| (m.len(), m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128))
}

/// config.ron's `signing: (allowed_signers: ..., require: ...)` followed while a reader runs
/// (the console, `tail --follow`): they are inputs of every verdict, like the `allowed_signers`
/// content the reader follows itself. One `stat` a look; the file is read only when it changed.
#[derive(Debug, Default)]
pub struct SigningWatch {
    /// config.ron's [`file_stamp`] when its settings were last compared.
    stamp: Option<(u64, i128)>,
}

impl SigningWatch {
    /// Take up a change of config.ron's signature settings into `trust`: whether they changed
    /// (then what was read must be read again from the start, as a restart would). A config
    /// that no longer parses changes nothing (logged): the reader keeps what it started with.
    pub fn refresh(&mut self, trust: &mut super::Trust) -> bool {
        let Some(path) = config_dir().map(|d| d.join("config.ron")) else {
            return false;
        };
        let stamp = file_stamp(&path);
        if stamp == self.stamp {
            return false;
        }
        self.stamp = stamp;
        match load_config() {
            Ok((c, _)) => apply_signing(trust, &c.signing.unwrap_or_default()),
            Err(e) => {
                tracing::warn!(error = %e, "config.ron does not parse; its signature settings stay as they were");
                false
            }
        }
    }
}

/// The config file's text, strictly: every error as `file:line:col: message`, one a line.
pub fn parse_config(file: &str, text: &str) -> Result<Config, String> {
    let config: Config = crate::domain::ron_input::parse_ron_strict(text).map_err(|ds| {
        ds.iter()
            .map(|d| format!("{file}:{}:{}: {}", d.line, d.col, d.message))
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    crate::hooks::check(&config.hooks).map_err(|e| format!("{file}: {e}"))?;
    Ok(config)
}

/// Per-user default shared directory (only this user will see it).
pub fn default_root() -> PathBuf {
    directories::BaseDirs::new()
        .map(|b| b.data_dir().join("warroom").join("incidents"))
        .unwrap_or_else(|| PathBuf::from(".warroom"))
}

/// Local, per-user state: install id, each log's last written head, drafts, logs.
pub fn state_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("WARROOM_STATE_DIR").filter(|s| !s.is_empty()) {
        return PathBuf::from(d);
    }
    directories::BaseDirs::new()
        .map(|b| b.state_dir().unwrap_or(b.data_local_dir()).join("warroom"))
        .unwrap_or_else(|| std::env::temp_dir().join("warroom-state"))
}

/// Lock files live on a local file system, so locking never depends on NFS/SMB lock support.
pub fn lock_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("XDG_RUNTIME_DIR").filter(|s| !s.is_empty()) {
        return PathBuf::from(d).join("warroom");
    }
    let uid = super::fsutil::current_uid().unwrap_or(0);
    std::env::temp_dir().join(format!("warroom-{uid}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_written_plainly_or_with_some() {
        for text in [
            r#"(dir: "/x", poll_interval: 3, ascii: true)"#,
            r#"(dir: Some("/x"), poll_interval: Some(3.0), ascii: Some(true))"#,
        ] {
            let c = parse_config("config.ron", text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(c.dir.as_deref(), Some(std::path::Path::new("/x")), "{text}");
            assert_eq!(c.poll_interval, Some(3.0));
            assert_eq!(c.ascii, Some(true));
        }
    }

    #[test]
    fn signing_is_read_with_or_without_some() {
        for text in [
            r#"(signing: (key: "~/.ssh/id_ed25519.pub", allowed_signers: "/etc/warroom/allowed_signers", require: true))"#,
            r#"(signing: Some((key: Some("~/.ssh/id_ed25519.pub"), allowed_signers: Some("/etc/warroom/allowed_signers"), require: true)))"#,
        ] {
            let c = parse_config("config.ron", text).unwrap_or_else(|e| panic!("{text}: {e}"));
            let s = c.signing.unwrap_or_default();
            assert_eq!(s.key.as_deref(), Some("~/.ssh/id_ed25519.pub"));
            assert_eq!(
                s.allowed_signers.as_deref(),
                Some(std::path::Path::new("/etc/warroom/allowed_signers"))
            );
            assert!(s.require);
        }
        assert!(
            parse_config("config.ron", "(signing: (keys: \"x\"))").is_err(),
            "unknown fields are refused"
        );
    }

    #[test]
    fn root_resolution_order() {
        let cfg = Config {
            dir: Some("/cfg".into()),
            ..Config::default()
        };
        let none = Config::default();
        let d = Path::new("/default");
        type Case<'a> = (Option<&'a str>, Option<&'a str>, &'a Config, &'a str, RootSource);
        let cases: &[Case] = &[
            (Some("/flag"), Some("/env"), &cfg, "/flag", RootSource::Flag),
            (None, Some("/env"), &cfg, "/env", RootSource::Env),
            (None, Some("  "), &cfg, "/cfg", RootSource::ConfigFile),
            (None, None, &cfg, "/cfg", RootSource::ConfigFile),
            (None, None, &none, "/default", RootSource::Default),
        ];
        for (flag, env, config, want, source) in cases {
            let got = choose_root(flag.map(Path::new), *env, config, d);
            assert_eq!(got.path, Path::new(want));
            assert_eq!(got.source, *source);
        }
    }
}
