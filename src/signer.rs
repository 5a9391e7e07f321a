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
    #[error("signing key {0} is damaged: its private part does not sign for its public key ({1}); use a good copy of the key")]
    Damaged(String, String),
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
            let key = match PrivateKey::from_openssh(&text) {
                Ok(key) => key,
                Err(e) => pad_short_ecdsa_scalar(&text)
                    .ok_or_else(|| SignError::Unreadable(path.display().to_string(), e.to_string()))?,
            };
            if key.is_encrypted() {
                return Err(SignError::Encrypted(path.display().to_string()));
            }
            let public = key.public_key().clone();
            let signer = Signer {
                fingerprint: public.fingerprint(HashAlg::Sha256).to_string(),
                public,
                source: Source::File(Box::new(key)),
            };
            // A key file whose private part was damaged (a flipped byte) still parses: it would
            // sign records nobody can verify. One probe signature finds it, with the right words.
            const PROBE: &[u8] = b"warroom key check";
            let damaged = |why: String| SignError::Damaged(path.display().to_string(), why);
            let probe = signer
                .sign_sig("warroom-key-check", PROBE)
                .map_err(|e| damaged(e.to_string()))?;
            signer
                .public
                .verify("warroom-key-check", PROBE, &probe)
                .map_err(|e| damaged(e.to_string()))?;
            return Ok(signer);
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
        let sig = self.sign_sig(namespace, msg)?;
        sig.to_pem(LineEnding::LF).map_err(|e| SignError::Crypto(e.to_string()))
    }

    fn sign_sig(&self, namespace: &str, msg: &[u8]) -> Result<SshSig, SignError> {
        Ok(match &self.source {
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
        })
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

/// The key of an unencrypted ECDSA key file whose private scalar OpenSSH wrote short; `None` for
/// any other file (its own error then stands).
///
/// OpenSSH writes the scalar as an SSH `mpint` (RFC 4251 §5: big-endian, no leading zero bytes,
/// one zero byte only before a set top bit), so a scalar whose first byte is zero and whose second
/// is below 0x80 comes out short: about one nistp256 or nistp384 key in 512, and about one nistp521
/// key in 4 (its 66-byte scalar starts with 0 or 1). ssh-key 0.6 wants the curve's size exactly
/// (or one more, a leading zero) and refuses such a file ("length invalid"). Here the
/// `openssh-key-v1` container (OpenSSH's PROTOCOL.key) is read, the scalar left-padded with zeros
/// to its curve's size — the same number — and the container, re-encoded, is handed back to
/// ssh-key, which checks the rest as for any key file (the public key in both places, the check
/// ints, the padding).
fn pad_short_ecdsa_scalar(pem: &str) -> Option<PrivateKey> {
    let mut decoder = pem_rfc7468::Decoder::new_wrapped(pem.as_bytes(), 70).ok()?;
    if decoder.type_label() != "OPENSSH PRIVATE KEY" {
        return None;
    }
    let mut bytes = Vec::new();
    decoder.decode_to_end(&mut bytes).ok()?;
    PrivateKey::from_bytes(&repad_container(&bytes)?).ok()
}

/// The `openssh-key-v1` container `bytes` with its ECDSA scalar padded to the curve's size, if the
/// container is unencrypted, holds one ECDSA key, and that key's scalar is short.
fn repad_container(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut r = bytes;
    if take(&mut r, 15)? != b"openssh-key-v1\0" {
        return None;
    }
    let (cipher, kdf, _kdf_options) = (string(&mut r)?, string(&mut r)?, string(&mut r)?);
    let (count, _public) = (take(&mut r, 4)?, string(&mut r)?);
    let head = &bytes[..bytes.len() - r.len()];
    let mut private = string(&mut r)?;
    if cipher != b"none" || kdf != b"none" || count != [0, 0, 0, 1] || !r.is_empty() {
        return None;
    }
    let checkints = take(&mut private, 8)?;
    let (key_type, curve, point) = (string(&mut private)?, string(&mut private)?, string(&mut private)?);
    let (scalar, comment) = (string(&mut private)?, string(&mut private)?);
    // What is left is the padding: 1, 2, 3, … short of a whole block.
    if private.len() >= 8 || private.iter().zip(1u8..).any(|(&b, i)| b != i) {
        return None;
    }
    let size = match (key_type, curve) {
        (b"ecdsa-sha2-nistp256", b"nistp256") => 32,
        (b"ecdsa-sha2-nistp384", b"nistp384") => 48,
        (b"ecdsa-sha2-nistp521", b"nistp521") => 66,
        _ => return None,
    };
    let scalar = left_pad_mpint(scalar, size)?;
    let mut section = checkints.to_vec();
    for field in [key_type, curve, point, &scalar, comment] {
        put_string(&mut section, field)?;
    }
    // Padded again to a whole number of blocks (8 bytes when there is no cipher).
    section.extend(1..=((8 - section.len() % 8) % 8) as u8);
    let mut out = head.to_vec();
    put_string(&mut out, &section)?;
    Some(out)
}

/// An mpint's bytes left-padded with zeros to `size` bytes: `None` unless it is positive and
/// shorter than `size` (an mpint of full size or more is not the short case).
fn left_pad_mpint(mpint: &[u8], size: usize) -> Option<Vec<u8>> {
    let first = *mpint.first()?;
    if mpint.len() >= size || first & 0x80 != 0 {
        return None;
    }
    let mut out = vec![0; size - mpint.len()];
    out.extend_from_slice(mpint);
    Some(out)
}

/// The first `n` bytes of `r`, which moves past them.
fn take<'a>(r: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    let (head, rest) = r.split_at_checked(n)?;
    *r = rest;
    Some(head)
}

/// An SSH `string` (a big-endian u32 length, then the bytes) off the front of `r`.
fn string<'a>(r: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = u32::from_be_bytes(take(r, 4)?.try_into().ok()?);
    take(r, usize::try_from(len).ok()?)
}

fn put_string(out: &mut Vec<u8>, field: &[u8]) -> Option<()> {
    out.extend(u32::try_from(field.len()).ok()?.to_be_bytes());
    out.extend_from_slice(field);
    Some(())
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

    /// Keys `ssh-keygen` made whose private scalar starts with a zero byte, so OpenSSH wrote it a
    /// byte short (tests/data/keys): (private key file, its .pub).
    const SHORT_SCALAR: [(&str, &str); 3] = [
        (
            include_str!("../tests/data/keys/ecdsa-p256-short-scalar"),
            include_str!("../tests/data/keys/ecdsa-p256-short-scalar.pub"),
        ),
        (
            include_str!("../tests/data/keys/ecdsa-p384-short-scalar"),
            include_str!("../tests/data/keys/ecdsa-p384-short-scalar.pub"),
        ),
        (
            include_str!("../tests/data/keys/ecdsa-p521-short-scalar"),
            include_str!("../tests/data/keys/ecdsa-p521-short-scalar.pub"),
        ),
    ];

    #[test]
    fn an_ecdsa_key_file_with_a_short_scalar_signs() {
        let dir = tempfile::tempdir().expect("tmp");
        for (i, (private, public)) in SHORT_SCALAR.into_iter().enumerate() {
            assert!(
                PrivateKey::from_openssh(private).is_err(),
                "ssh-key reads fixture {i} itself now"
            );
            let path = dir.path().join(format!("id{i}"));
            std::fs::write(&path, private).expect("write");
            let signer = Signer::from_spec(path.to_str().expect("utf8")).expect("signer");
            let public = PublicKey::from_openssh(public.trim()).expect("pub");
            assert_eq!(signer.public_key().key_data(), public.key_data());
            assert_eq!(signer.public_key().comment(), public.comment());
            let head = "cd".repeat(32);
            let sig = signer.sign(NS_EVENT, head.as_bytes()).expect("sign");
            let allowed = AllowedSigners::parse(&format!("carol {}", public.to_openssh().expect("pub")));
            let ok = allowed
                .check("carol@desk", NS_EVENT, head.as_bytes(), &sig, 0)
                .expect("verified");
            assert_eq!(ok.fingerprint, signer.fingerprint());
            assert!(allowed.check("carol@desk", NS_EVENT, b"other", &sig, 0).is_err());
        }
    }

    /// A key file with one byte of its private scalar flipped still parses; it is refused when
    /// loaded, saying the key is damaged (not, later, that records were "changed after signing").
    #[test]
    fn a_key_file_whose_private_part_is_damaged_is_refused_in_words() {
        let (private, _) = SHORT_SCALAR[2];
        let mut container = Vec::new();
        pem_rfc7468::Decoder::new_wrapped(private.as_bytes(), 70)
            .expect("pem")
            .decode_to_end(&mut container)
            .expect("base64");
        let comment = b"short-scalar-p521";
        let at = container
            .windows(comment.len())
            .rposition(|w| w == comment)
            .expect("the comment");
        // The scalar's last byte sits just before the comment's 4-byte length.
        container[at - 5] ^= 1;
        let key = repad_container(&container)
            .and_then(|c| PrivateKey::from_bytes(&c).ok())
            .expect("still a key");
        let pem = key.to_openssh(LineEnding::LF).expect("pem");
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("id");
        std::fs::write(&path, pem.as_bytes()).expect("write");
        let got = Signer::from_spec(path.to_str().expect("utf8"));
        assert!(matches!(got, Err(SignError::Damaged(..))), "{:?}", got.err());
    }

    #[test]
    fn a_short_scalar_key_file_that_is_encrypted_or_cut_short_is_still_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("id");
        std::fs::write(
            &path,
            include_str!("../tests/data/keys/ecdsa-p256-short-scalar-encrypted"),
        )
        .expect("write");
        let spec = path.to_str().expect("utf8");
        assert!(matches!(Signer::from_spec(spec), Err(SignError::Encrypted(_))));
        let mut container = Vec::new();
        pem_rfc7468::Decoder::new_wrapped(SHORT_SCALAR[0].0.as_bytes(), 70)
            .expect("pem")
            .decode_to_end(&mut container)
            .expect("base64");
        assert!(repad_container(&container).is_some());
        for end in 0..container.len() {
            assert_eq!(repad_container(&container[..end]), None, "cut at {end}");
        }
        // The public key outside and inside the container must still agree.
        let mut other = container.clone();
        let at = other.len() / 4;
        other[at] ^= 1;
        assert!(repad_container(&other)
            .and_then(|c| PrivateKey::from_bytes(&c).ok())
            .is_none());
        let lines: Vec<&str> = SHORT_SCALAR[0].0.lines().collect();
        std::fs::write(&path, lines[..lines.len() - 2].join("\n")).expect("write");
        assert!(matches!(Signer::from_spec(spec), Err(SignError::Unreadable(..))));
    }

    proptest::proptest! {
        /// OpenSSH writes a scalar as an mpint (RFC 4251 §5); padding gives the scalar back.
        #[test]
        fn an_mpint_shorter_than_its_curve_pads_back_to_the_scalar(
            size in proptest::sample::select(vec![32usize, 48, 66]),
            zeros in 0usize..4,
            bytes in proptest::collection::vec(proptest::arbitrary::any::<u8>(), 66),
        ) {
            let mut scalar = bytes[..size].to_vec();
            scalar[..zeros].fill(0);
            let mut mpint: Vec<u8> = scalar.iter().copied().skip_while(|&b| b == 0).collect();
            if mpint.first().is_some_and(|b| b & 0x80 != 0) {
                mpint.insert(0, 0);
            }
            let want = (!mpint.is_empty() && mpint.len() < size).then_some(scalar);
            proptest::prop_assert_eq!(left_pad_mpint(&mpint, size), want);
        }
    }
}
