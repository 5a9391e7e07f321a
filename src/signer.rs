//! Making SSH signatures (SSHSIG, as `ssh-keygen -Y sign`) with the responder's key: through the
//! running `ssh-agent` (`SSH_AUTH_SOCK`; agent forwarding with `ssh -A` is the common case on a
//! jump host) or an unencrypted key file. RustCrypto's `ssh-key` builds and checks the SSHSIG
//! in-process and `ssh-agent-client-rs` speaks the agent protocol, so signing costs one round
//! trip to the agent and checking spawns no process.
//!
//! Which key: a spec string, from `--sign`, `WARROOM_SIGNING_KEY` or config.ron's
//! `signing: (key: ...)`:
//! - `agent`: the agent's only key (several keys: name one);
//! - a path to a public key (`~/.ssh/id_ed25519.pub`): that key, through the agent;
//! - a path to a private key file (unencrypted): signed in-process, no agent.

use std::path::{Path, PathBuf};

use ssh_key::{HashAlg, LineEnding, PrivateKey, PublicKey, SshSig};

/// A signing key, ready to sign.
pub struct Signer {
    source: Source,
    public: PublicKey,
    fingerprint: String,
}

enum Source {
    /// A connection per signature: the agent client is not `Send`, and a connect is cheap.
    Agent {
        socket: PathBuf,
    },
    File(Box<PrivateKey>),
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let how = match &self.source {
            Source::Agent { socket } => format!("agent at {}", socket.display()),
            Source::File(_) => "key file".into(),
        };
        write!(f, "Signer({} via {how})", self.fingerprint)
    }
}

/// Why no signature could be made. Each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("no ssh-agent: SSH_AUTH_SOCK is not set — start one (eval $(ssh-agent); ssh-add), forward yours with `ssh -A`, or sign with an unencrypted key file")]
    NoAgent,
    #[error(
        "cannot reach the ssh-agent at {0}: {1} — is it still running (forwarded agents end with their ssh session)?"
    )]
    AgentUnreachable(String, String),
    #[error("the ssh-agent holds no keys, or it is locked (a locked agent lists none: unlock it with `ssh-add -X`) — otherwise add yours with `ssh-add`")]
    AgentEmpty,
    #[error("the ssh-agent holds {0} keys — say which one signs: --sign ~/.ssh/KEY.pub (or WARROOM_SIGNING_KEY)")]
    AgentAmbiguous(usize),
    #[error("key {0} is not in the ssh-agent — add it with `ssh-add {1}` (if the agent is locked, it lists no keys: `ssh-add -X` unlocks it)")]
    NotInAgent(String, String),
    #[error("the ssh-agent refused to sign with {0} ({1}) — a key added with `ssh-add -c` needs confirming, and a locked agent refuses (`ssh-add -X` unlocks it); try again or check the agent")]
    AgentRefused(String, String),
    #[error("cannot read signing key {0}: {1}")]
    Unreadable(String, String),
    #[error("signing key {0} is passphrase-protected — add it to the agent (`ssh-add {0}`) and sign with `agent` or its .pub file")]
    Encrypted(String),
    #[error("cannot sign: {0}")]
    Crypto(String),
}

impl Signer {
    /// Resolve a spec (`agent`, a `.pub` path, or a private key path; `~/` expands to `$HOME`).
    pub fn from_spec(spec: &str) -> Result<Signer, SignError> {
        let spec = spec.trim();
        if spec == "agent" {
            return Signer::agent(None);
        }
        let path = expand_home(spec);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| SignError::Unreadable(path.display().to_string(), e.to_string()))?;
        if text.trim_start().starts_with("-----BEGIN") {
            let key = PrivateKey::from_openssh(&text)
                .map_err(|e| SignError::Unreadable(path.display().to_string(), e.to_string()))?;
            if key.is_encrypted() {
                return Err(SignError::Encrypted(path.display().to_string()));
            }
            let public = key.public_key().clone();
            return Ok(Signer {
                fingerprint: public.fingerprint(HashAlg::Sha256).to_string(),
                public,
                source: Source::File(Box::new(key)),
            });
        }
        let public = PublicKey::from_openssh(text.trim())
            .map_err(|e| SignError::Unreadable(path.display().to_string(), e.to_string()))?;
        Signer::agent(Some((public, path)))
    }

    fn agent(wanted: Option<(PublicKey, PathBuf)>) -> Result<Signer, SignError> {
        let socket = std::env::var_os("SSH_AUTH_SOCK")
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
            .ok_or(SignError::NoAgent)?;
        let mut client = connect(&socket)?;
        let keys = client
            .list_all_identities()
            .map_err(|e| SignError::AgentUnreachable(socket.display().to_string(), e.to_string()))?
            .into_iter()
            // Certificates are not used for signing records: their plain keys are.
            .filter_map(|id| match id {
                ssh_agent_client_rs::Identity::PublicKey(k) => Some(k.into_owned()),
                ssh_agent_client_rs::Identity::Certificate(_) => None,
            })
            .collect::<Vec<PublicKey>>();
        let public = match wanted {
            Some((want, path)) => keys
                .into_iter()
                .find(|k| k.key_data() == want.key_data())
                .ok_or_else(|| {
                    let private = path.with_extension("");
                    SignError::NotInAgent(
                        want.fingerprint(HashAlg::Sha256).to_string(),
                        private.display().to_string(),
                    )
                })?,
            None => match keys.len() {
                0 => return Err(SignError::AgentEmpty),
                1 => keys.into_iter().next().ok_or(SignError::AgentEmpty)?,
                n => return Err(SignError::AgentAmbiguous(n)),
            },
        };
        Ok(Signer {
            fingerprint: public.fingerprint(HashAlg::Sha256).to_string(),
            public,
            source: Source::Agent { socket },
        })
    }

    /// `SHA256:...` of the signing key.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// An armored SSHSIG over `msg` in `namespace` (SHA-512, as `ssh-keygen -Y sign`).
    pub fn sign(&self, namespace: &str, msg: &[u8]) -> Result<String, SignError> {
        let sig = match &self.source {
            Source::File(key) => match key.key_data().rsa() {
                Some(rsa) => sign_rsa(rsa, namespace, msg)?,
                None => key
                    .sign(namespace, HashAlg::Sha512, msg)
                    .map_err(|e| SignError::Crypto(e.to_string()))?,
            },
            Source::Agent { socket } => {
                let data = SshSig::signed_data(namespace, HashAlg::Sha512, msg)
                    .map_err(|e| SignError::Crypto(e.to_string()))?;
                let signature = connect(socket)?.sign(&self.public, &data).map_err(|e| match e {
                    ssh_agent_client_rs::Error::RemoteFailure => {
                        SignError::AgentRefused(self.fingerprint.clone(), "the agent answered failure".into())
                    }
                    e => SignError::AgentUnreachable(socket.display().to_string(), e.to_string()),
                })?;
                SshSig::new(self.public.key_data().clone(), namespace, HashAlg::Sha512, signature)
                    .map_err(|e| SignError::Crypto(e.to_string()))?
            }
        };
        sig.to_pem(LineEnding::LF).map_err(|e| SignError::Crypto(e.to_string()))
    }
}

/// An SSHSIG with an RSA key file, as `ssh-keygen -Y sign` makes it: rsa-sha2-512 (PKCS#1 v1.5
/// over SHA-512) of the SSHSIG signed data.
fn sign_rsa(key: &ssh_key::private::RsaKeypair, namespace: &str, msg: &[u8]) -> Result<SshSig, SignError> {
    use rsa::signature::{SignatureEncoding, Signer as _};
    let crypto = |e: String| SignError::Crypto(format!("RSA key: {e}"));
    let big = |m: &ssh_key::Mpint| rsa::BigUint::try_from(m).map_err(|e| crypto(e.to_string()));
    let private = rsa::RsaPrivateKey::from_components(
        big(&key.public.n)?,
        big(&key.public.e)?,
        big(&key.private.d)?,
        vec![big(&key.private.p)?, big(&key.private.q)?],
    )
    .map_err(|e| crypto(e.to_string()))?;
    let data = SshSig::signed_data(namespace, HashAlg::Sha512, msg).map_err(|e| crypto(e.to_string()))?;
    let signature = rsa::pkcs1v15::SigningKey::<rsa::sha2::Sha512>::new(private)
        .try_sign(&data)
        .map_err(|e| crypto(e.to_string()))?;
    let signature = ssh_key::Signature::new(
        ssh_key::Algorithm::Rsa {
            hash: Some(HashAlg::Sha512),
        },
        signature.to_vec(),
    )
    .map_err(|e| crypto(e.to_string()))?;
    SshSig::new(
        ssh_key::public::KeyData::Rsa(key.public.clone()),
        namespace,
        HashAlg::Sha512,
        signature,
    )
    .map_err(|e| crypto(e.to_string()))
}

fn connect(socket: &Path) -> Result<ssh_agent_client_rs::Client, SignError> {
    ssh_agent_client_rs::Client::connect(socket)
        .map_err(|e| SignError::AgentUnreachable(socket.display().to_string(), e.to_string()))
}

/// `~/x` → `$HOME/x`; anything else unchanged.
pub fn expand_home(p: &str) -> PathBuf {
    match (p.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::signing::{AllowedSigners, NS_EVENT};

    #[test]
    fn a_key_file_signature_checks_against_allowed_signers() {
        let key = PrivateKey::from(ssh_key::private::Ed25519Keypair::from_seed(&[7; 32]));
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("id");
        std::fs::write(&path, key.to_openssh(LineEnding::LF).expect("pem").as_bytes()).expect("write");
        let signer = Signer::from_spec(path.to_str().expect("utf8")).expect("signer");
        let head = "ab".repeat(32);
        let sig = signer.sign(NS_EVENT, head.as_bytes()).expect("sign");
        let allowed = AllowedSigners::parse(&format!("alice {}", key.public_key().to_openssh().expect("pub")));
        let ok = allowed
            .check("alice@jump", NS_EVENT, head.as_bytes(), &sig, 0)
            .expect("verified");
        assert_eq!(ok.principal, "alice");
        assert_eq!(ok.fingerprint, signer.fingerprint());
        assert!(allowed.check("bob@jump", NS_EVENT, head.as_bytes(), &sig, 0).is_err());
        assert!(allowed.check("alice@jump", NS_EVENT, b"other", &sig, 0).is_err());
        assert!(allowed.check("alice@jump", "git", head.as_bytes(), &sig, 0).is_err());
    }
}
