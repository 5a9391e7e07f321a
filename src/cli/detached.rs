//! Detached SSH signatures of exports and bundles: `<file>.sig` beside the file, an SSHSIG over
//! the file's exact bytes in namespace `warroom-export` (as `ssh-keygen -Y sign -n
//! warroom-export FILE` makes), checked against the same `allowed_signers` as records.

use std::path::{Path, PathBuf};

use super::{Fail, Result};
use crate::domain::sanitize;
use crate::domain::signing::{SigError, NS_EXPORT};
use crate::store::fsutil::{write_atomic, Sharing};
use crate::store::Store;

/// `<file>.sig`
pub fn sig_path(file: &Path) -> PathBuf {
    let mut s = file.as_os_str().to_owned();
    s.push(".sig");
    PathBuf::from(s)
}

/// Sign `bytes` (the content of `file`) into `<file>.sig` when a signing key is set; a key that
/// was asked for but cannot be used is an error (nothing unsigned by accident).
pub fn sign(store: &Store, file: &Path, bytes: &[u8]) -> Result<Option<PathBuf>> {
    if let Some(e) = &store.trust.signer_error {
        return Err(Fail::new(format!("cannot sign: {e}")));
    }
    let Some(signer) = &store.signer else {
        return Ok(None);
    };
    let sig = signer
        .sign(NS_EXPORT, bytes)
        .map_err(|e| Fail::new(format!("cannot sign {}: {e}", file.display())))?;
    // A signature readers will refuse is worth a warning before anyone relies on it.
    match store
        .allowed_signers()
        .check_any(NS_EXPORT, bytes, &sig, super::context::now_ms())
    {
        Ok(_) | Err(SigError::NoTrust(_)) => {}
        Err(e) => eprintln!(
            "warning: {}.sig will not verify here: {}",
            file.display(),
            sanitize(&e.to_string())
        ),
    }
    let path = sig_path(file);
    write_atomic(&path, sig.as_bytes(), Sharing::private())
        .map_err(|e| Fail::new(format!("cannot write {}: {e}", path.display())))?;
    Ok(Some(path))
}

/// What a detached signature says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    /// Valid, by a key `allowed_signers` allows: (principal, fingerprint).
    Signed(String, String),
    /// No `.sig` beside the file.
    Missing,
    /// Valid by its own key, but there is no `allowed_signers` file to check the key against.
    Unchecked(String),
    /// It does not check out: why.
    Bad(String),
}

impl Checked {
    /// One line for people.
    pub fn describe(&self, file: &Path) -> String {
        let f = sanitize(&file.display().to_string());
        match self {
            Checked::Signed(p, fp) => format!("{f}: signed by {} ({})", sanitize(p), sanitize(fp)),
            Checked::Missing => format!("{f}: no detached signature ({f}.sig)"),
            Checked::Unchecked(fp) => {
                format!(
                    "{f}: signed with {} but not checked: no allowed_signers file, or one that lists no keys",
                    sanitize(fp)
                )
            }
            Checked::Bad(why) => format!("{f}: signature does not match: {}", sanitize(why)),
        }
    }
}

/// Check `file` against `sig` (default `<file>.sig`) and the store's `allowed_signers`.
pub fn check(store: &Store, file: &Path, sig: Option<&Path>) -> Result<Checked> {
    // The file itself first: a missing file is not "no signature".
    if let Err(e) = std::fs::metadata(file) {
        return Err(Fail::new(format!("cannot read {}: {e}", file.display())));
    }
    let sig_file = sig.map_or_else(|| sig_path(file), Path::to_path_buf);
    let armored = match std::fs::read(&sig_file) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && sig.is_none() => return Ok(Checked::Missing),
        Err(e) => return Err(Fail::new(format!("cannot read {}: {e}", sig_file.display()))),
    };
    let bytes = std::fs::read(file).map_err(|e| Fail::new(format!("cannot read {}: {e}", file.display())))?;
    let now = super::context::now_ms();
    Ok(
        match store.allowed_signers().check_any(NS_EXPORT, &bytes, &armored, now) {
            Ok(v) => Checked::Signed(v.principal, v.fingerprint),
            Err(SigError::NoTrust(fp)) => Checked::Unchecked(fp),
            Err(e) => Checked::Bad(e.to_string()),
        },
    )
}
