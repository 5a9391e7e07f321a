//! SSH signatures over records: OpenSSH's `allowed_signers` file and the SSHSIG check (the
//! format of `ssh-keygen -Y sign`), with no IO. The same [`AllowedSigners::check`] serves the
//! reader (every output), `verify`, `bundle --check` and detached export signatures.
//!
//! What a record signature signs: the log's id (`name@host.install`, its file name without
//! `.ronl`), a space, and the 64 lowercase hex characters of the BLAKE3 hash of the last line it
//! vouches for (its `head`), no newline, in namespace [`NS_EVENT`]. That line's `prev` chains back
//! to the log's first line, whose `prev` is BLAKE3(incident id + "\n" + writer id), so one
//! signature vouches for every line of its log up to the head, in this incident and this log
//! only. `printf '%s %s' LOG HEAD | ssh-keygen -Y verify -f allowed_signers -I alice -n
//! warroom-event -s sig` checks the same thing. Older signatures (no `log` in the record) sign
//! the head alone: they still count, and `verify` says they are not bound to their log.
//!
//! Principals: a signature counts for writer `name@host` when an `allowed_signers` line with the
//! signing key names `name` or `name@host`. OpenSSH's patterns (`*`, `?`, `!negation`) and a key
//! given to two responders are refused (see `domain::trust::principal_refusal`).

use ssh_key::{HashAlg, PublicKey, SshSig};

/// The SSHSIG namespace of record signatures.
pub const NS_EVENT: &str = "warroom-event";

/// The message a record signature signs: `"<log> <head>"` when it is bound to its log (a log id
/// holds no space), else — an older signature — the head alone.
pub fn event_message(log: Option<&str>, head: &str) -> String {
    match log {
        Some(log) => format!("{log} {head}"),
        None => head.to_string(),
    }
}
/// The SSHSIG namespace of detached signatures of exports and bundles.
pub const NS_EXPORT: &str = "warroom-export";
/// The longest armored signature a record may carry (an RSA-8192 SSHSIG is ~1.9 KB).
pub const MAX_SIG: usize = 8 * 1024;

/// Check a record signature read from log `log` (its file name without `.ronl`), written by
/// `writer`, at `when`: one bound to another log is a copy and fails before any crypto.
pub fn check_signed(
    trust: &AllowedSigners,
    log: &str,
    writer: &str,
    s: &crate::domain::event::Signed,
    when: i64,
) -> Result<Verified, SigError> {
    if let Some(other) = s.log.as_deref().filter(|l| *l != log) {
        return Err(SigError::OtherLog(other.to_string()));
    }
    let msg = event_message(s.log.as_deref(), &s.head);
    trust.check(writer, NS_EVENT, msg.as_bytes(), &s.sig, when)
}

/// One line of an `allowed_signers` file.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Comma-separated principal patterns, as written.
    pub principals: Vec<String>,
    pub key: PublicKey,
    /// `namespaces="a,b"`: the namespaces this key may sign in (`None`: any).
    pub namespaces: Option<Vec<String>>,
    /// `valid-after` / `valid-before`, in ms since the epoch (UTC).
    pub valid_after: Option<i64>,
    pub valid_before: Option<i64>,
    /// The file's line number (1-based).
    pub line: usize,
}

/// A parsed `allowed_signers` file. Lines it cannot use are listed in `skipped` with the reason
/// (a `cert-authority` line is refused: certificates are not supported).
#[derive(Debug, Clone, Default)]
pub struct AllowedSigners {
    pub entries: Vec<Entry>,
    pub skipped: Vec<(usize, String)>,
    /// The key found on a skipped line, if one parses there: a signature by it is told why
    /// that line did not count.
    pub skipped_keys: Vec<(usize, PublicKey)>,
    /// Where it came from when that is worth a problem (the shared file is missing and this
    /// host's kept copy is used): a sentence.
    pub note: Option<String>,
    /// Key changes against this host's kept copy not yet accepted (set by the store): the
    /// fingerprints a change brought in, and the note saying what changed and how to accept it.
    /// A detached signature by such a key is not called trusted.
    pub unaccepted: Vec<(String, String)>,
    /// Keys that lines give to two or more different people (all those lines are skipped).
    pub shared_keys: Vec<SharedKey>,
    /// BLAKE3 (hex) of the text parsed (empty: no file): what every verdict depends on, so a
    /// change of it means every signature must be judged again.
    pub digest: String,
    /// The copy this host last accepted (its kept copy), set by the store while the file in
    /// force changes someone's keys against it: a signature that fails only because of that
    /// change is told apart from tampering (see [`AllowedSigners::refused_by_pending_change`]).
    pub accepted: Option<Box<AllowedSigners>>,
}

/// A key that lines give to several people: its fingerprint and each line's (person, line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedKey {
    pub fingerprint: String,
    pub lines: Vec<(String, usize)>,
}

/// A signature that checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The principal pattern of the `allowed_signers` line that allowed it.
    pub principal: String,
    /// `SHA256:...` of the signing key.
    pub fingerprint: String,
}

/// Why a signature does not count. `Display` is a sentence for a problem list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigError {
    #[error("signature is not a readable SSHSIG ({0})")]
    Unreadable(String),
    #[error("signature is for namespace `{0}`, not `{1}`")]
    Namespace(String, String),
    #[error("the content is not what key {0} signed (changed after signing)")]
    Mismatch(String),
    /// (key, line, namespaces as written, the namespace wanted)
    #[error("key {0} is in allowed_signers (line {1}) but only for namespaces=\"{2}\", not `{3}`: add {3} to that line's namespaces ({ns})", ns = super::trust::warroom_namespaces())]
    WrongNamespace(String, usize, String, String),
    #[error("key {0} is not in allowed_signers for `{1}`{2}")]
    NotAllowed(String, String, String),
    /// (key, how a skipped line names it): a detached signature no line of this host's file allows.
    #[error("no key this host trusts made it (key {0} is not in allowed_signers){1}")]
    Untrusted(String, String),
    /// (key, the key-change note): a key a change this host has not accepted brought in.
    #[error("key {0} came with a key change this host has not accepted, so it is not trusted yet: {1}")]
    Unaccepted(String, String),
    #[error("key {0} is not valid at that time (allowed_signers valid-after/valid-before)")]
    Expired(String),
    #[error("no allowed_signers file, or one that lists no keys: signatures cannot be checked (key {0})")]
    NoTrust(String),
    #[error("the line before it is not the one it signed (edited or moved)")]
    WrongHead,
    #[error("it was signed for log `{0}`, not this one (the log was copied under another name)")]
    OtherLog(String),
}

impl SigError {
    /// Why a signature refused only because of a pending key change (see
    /// [`AllowedSigners::refused_by_pending_change`]) waits, in a sentence without the change's
    /// whole note (said once, on its own).
    pub fn pending_reason(&self) -> String {
        match self {
            SigError::Unaccepted(fp, _) => format!("key {fp} came with a key change this host has not accepted"),
            other => format!("{other} (the copy this host accepted allows it)"),
        }
    }
}

impl AllowedSigners {
    /// Parse OpenSSH's format: `principals [options] keytype base64 [comment]`, `#` comments.
    /// Options: `namespaces="..."`, `valid-after="YYYYMMDD[HHMM[SS]][Z]"`, `valid-before=...`;
    /// `cert-authority` is refused with a reason. Never fails: bad lines are `skipped`.
    pub fn parse(text: &str) -> AllowedSigners {
        let mut out = AllowedSigners {
            digest: blake3::hash(text.as_bytes()).to_hex().to_string(),
            ..AllowedSigners::default()
        };
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match parse_line(line, i + 1) {
                Ok(e) => out.entries.push(e),
                Err(why) => {
                    if let Some(k) = key_on(line) {
                        out.skipped_keys.push((i + 1, k));
                    }
                    out.skipped.push((i + 1, why));
                }
            }
        }
        super::trust::one_key_one_person(&mut out);
        out
    }

    /// Check an armored SSHSIG over `msg` in `namespace`, made by a key allowed for writer
    /// `writer` (`name@host`) at time `when` (ms since the epoch).
    pub fn check(
        &self,
        writer: &str,
        namespace: &str,
        msg: &[u8],
        armored: &str,
        when: i64,
    ) -> Result<Verified, SigError> {
        let sig = parse_sig(armored)?;
        let key = PublicKey::new(sig.public_key().clone(), "");
        let fingerprint = key.fingerprint(HashAlg::Sha256).to_string();
        if sig.namespace() != namespace {
            return Err(SigError::Namespace(sig.namespace().to_string(), namespace.to_string()));
        }
        key.verify(namespace, msg, &sig)
            .map_err(|_| SigError::Mismatch(fingerprint.clone()))?;
        let verified = self.allowed(writer, namespace, &key, when, &fingerprint)?;
        // A key that an unaccepted change of the shared file brought in (a new line for a
        // person this host knew, a replaced key) vouches for nothing yet: anyone who can write
        // the shared directory could have added it. The same rule as detached signatures.
        if let Some((_, note)) = self.unaccepted.iter().find(|(fp, _)| *fp == fingerprint) {
            return Err(SigError::Unaccepted(fingerprint, note.clone()));
        }
        Ok(verified)
    }

    /// Which line allows `key` to sign for `writer` in `namespace` at `when`.
    fn allowed(
        &self,
        writer: &str,
        namespace: &str,
        key: &PublicKey,
        when: i64,
        fp: &str,
    ) -> Result<Verified, SigError> {
        let name = writer.split('@').next().unwrap_or(writer);
        let mut expired = false;
        for e in self.entries.iter().filter(|e| e.key.key_data() == key.key_data()) {
            let Some(principal) = principal_for(&e.principals, name, writer) else {
                continue;
            };
            if e.namespaces
                .as_ref()
                .is_some_and(|ns| !ns.iter().any(|n| glob(n, namespace)))
            {
                continue;
            }
            if e.valid_after.is_some_and(|t| when < t) || e.valid_before.is_some_and(|t| when >= t) {
                expired = true;
                continue;
            }
            return Ok(Verified {
                principal,
                fingerprint: fp.to_string(),
            });
        }
        if expired {
            Err(SigError::Expired(fp.to_string()))
        } else if let Some(e) = super::trust::namespace_refusal(self, key, namespace, fp, Some((name, writer))) {
            Err(e)
        } else if self.lists_no_keys() {
            Err(SigError::NoTrust(fp.to_string()))
        } else {
            Err(SigError::NotAllowed(
                fp.to_string(),
                writer.to_string(),
                self.skipped_hint(key),
            ))
        }
    }
}

impl AllowedSigners {
    /// Check a detached signature (an export, a bundle) over `msg` in `namespace`, made by any
    /// key the file allows in that namespace at `when`: the principal is the first one its line
    /// names (not negated). Errors as [`AllowedSigners::check`].
    pub fn check_any(&self, namespace: &str, msg: &[u8], armored: &str, when: i64) -> Result<Verified, SigError> {
        let sig = parse_sig(armored)?;
        let key = PublicKey::new(sig.public_key().clone(), "");
        let fingerprint = key.fingerprint(HashAlg::Sha256).to_string();
        if sig.namespace() != namespace {
            return Err(SigError::Namespace(sig.namespace().to_string(), namespace.to_string()));
        }
        key.verify(namespace, msg, &sig)
            .map_err(|_| SigError::Mismatch(fingerprint.clone()))?;
        let principal = self
            .entries
            .iter()
            .filter(|e| e.key.key_data() == key.key_data())
            .filter(|e| {
                e.namespaces
                    .as_ref()
                    .is_none_or(|ns| ns.iter().any(|n| glob(n, namespace)))
            })
            .filter(|e| !(e.valid_after.is_some_and(|t| when < t) || e.valid_before.is_some_and(|t| when >= t)))
            .find_map(|e| e.principals.iter().find(|p| !p.starts_with('!')).cloned());
        if principal.is_some() {
            if let Some((_, note)) = self.unaccepted.iter().find(|(fp, _)| *fp == fingerprint) {
                return Err(SigError::Unaccepted(fingerprint, note.clone()));
            }
        }
        match principal {
            Some(principal) => Ok(Verified { principal, fingerprint }),
            None if self.lists_no_keys() => Err(SigError::NoTrust(fingerprint)),
            None => Err(
                super::trust::namespace_refusal(self, &key, namespace, &fingerprint, None)
                    .unwrap_or(SigError::Untrusted(fingerprint.clone(), self.skipped_hint(&key))),
            ),
        }
    }
}

impl AllowedSigners {
    /// Whether there is nothing to check signatures against: no file, or one without a single
    /// line to judge (empty, blank, comments only). Readers then say "not checked" and a writer
    /// signs unchecked where signatures are not required. A file whose lines are all *skipped*
    /// (one key given to everyone, patterns only) is not this: it allows no key, so a signature
    /// is judged against it and refused — by the writer first, as every reader would.
    pub fn lists_no_keys(&self) -> bool {
        self.entries.is_empty() && self.skipped.is_empty()
    }

    /// Whether a signature this file refused with `err` fails only because of a key change this
    /// host has not accepted: the key came with the change, or the accepted copy allows it
    /// (`recheck` runs the same check against that copy). The signed records are intact; what
    /// changed is the trust. A signature that does not match its content, its head or its log is
    /// never this.
    pub fn refused_by_pending_change(
        &self,
        err: &SigError,
        recheck: impl FnOnce(&AllowedSigners) -> Result<Verified, SigError>,
    ) -> bool {
        match err {
            SigError::Unaccepted(..) => true,
            SigError::NotAllowed(..) | SigError::Expired(..) | SigError::WrongNamespace(..) => {
                self.accepted.as_deref().is_some_and(|a| recheck(a).is_ok())
            }
            _ => false,
        }
    }

    /// "; line N names this key but was skipped: why", for each skipped line with `key`.
    fn skipped_hint(&self, key: &PublicKey) -> String {
        let mut hint: String = self
            .skipped_keys
            .iter()
            .filter(|(_, k)| k.key_data() == key.key_data())
            .filter_map(|(n, _)| self.skipped.iter().find(|(m, _)| m == n))
            .map(|(n, why)| format!("; allowed_signers line {n} has this key but was skipped: {why}"))
            .collect();
        if self.entries.is_empty() && !self.skipped.is_empty() {
            hint.push_str(&format!(
                "; every line of allowed_signers was skipped ({} line(s)), so it allows no key at all: fix those lines",
                self.skipped.len()
            ));
        }
        hint
    }

    /// Whether a skipped line holds `key` (its reason is then the advice, not another line).
    pub fn skipped_has(&self, key: &PublicKey) -> bool {
        self.skipped_keys.iter().any(|(_, k)| k.key_data() == key.key_data())
    }
}

/// The first `keytype base64` pair on a line that parses as a public key.
fn key_on(line: &str) -> Option<PublicKey> {
    let words: Vec<&str> = line.split_whitespace().collect();
    words
        .windows(2)
        .find_map(|w| PublicKey::from_openssh(&format!("{} {}", w[0], w[1])).ok())
}

/// The fingerprint (`SHA256:...`) of the key inside an armored SSHSIG, if it parses.
pub fn sig_fingerprint(armored: &str) -> Option<String> {
    let sig = parse_sig(armored).ok()?;
    Some(
        PublicKey::new(sig.public_key().clone(), "")
            .fingerprint(HashAlg::Sha256)
            .to_string(),
    )
}

fn parse_sig(armored: &str) -> Result<SshSig, SigError> {
    if armored.len() > MAX_SIG {
        return Err(SigError::Unreadable(format!("over {MAX_SIG} bytes")));
    }
    SshSig::from_pem(armored.trim()).map_err(|e| SigError::Unreadable(e.to_string()))
}

/// The principal that matches `name` or `writer` in a pattern list, OpenSSH style: a negated
/// pattern that matches refuses the whole list.
pub(crate) fn principal_for(patterns: &[String], name: &str, writer: &str) -> Option<String> {
    let mut found = None;
    for p in patterns {
        if let Some(neg) = p.strip_prefix('!') {
            if glob(neg, name) || glob(neg, writer) {
                return None;
            }
        } else if found.is_none() && (glob(p, name) || glob(p, writer)) {
            found = Some(if p.contains(['*', '?']) {
                name.to_string()
            } else {
                p.clone()
            });
        }
    }
    found
}

/// OpenSSH's pattern match: `*` any run, `?` one character; case-sensitive like OpenSSH.
pub fn glob(pattern: &str, s: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), s.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Split off one token; a double-quoted run (options) stays in one token.
fn token(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    let mut quoted = false;
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => return (&s[..i], &s[i..]),
            _ => {}
        }
    }
    (s, "")
}

fn parse_line(line: &str, no: usize) -> Result<Entry, String> {
    let (principals, rest) = token(line);
    let principals: Vec<String> = principals
        .trim_matches('"')
        .split(',')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    if principals.is_empty() {
        return Err("no principals".into());
    }
    if let Some(why) = super::trust::principal_refusal(&principals) {
        return Err(why);
    }
    let (mut next, mut rest) = token(rest);
    let (mut namespaces, mut valid_after, mut valid_before) = (None, None, None);
    // Options come before the key type when the next token is not a key type.
    if !is_key_type(next) {
        for opt in split_options(next) {
            let (k, v) = opt.split_once('=').unwrap_or((opt.as_str(), ""));
            let v = v.trim_matches('"');
            match k.to_ascii_lowercase().as_str() {
                "cert-authority" => {
                    return Err(
                        "cert-authority lines are not supported (sign with plain keys, not certificates)".into(),
                    )
                }
                "namespaces" => namespaces = Some(v.split(',').map(str::to_string).collect()),
                "valid-after" => valid_after = Some(parse_time(v)?),
                "valid-before" => valid_before = Some(parse_time(v)?),
                other if opt.contains('=') => return Err(format!("unknown option `{other}`")),
                _ => return Err(NOT_A_LINE.into()),
            }
        }
        (next, rest) = token(rest);
    }
    if !is_key_type(next) {
        return Err(format!(
            "`{}` is not an SSH key type; {NOT_A_LINE}",
            next.chars().take(40).collect::<String>()
        ));
    }
    let (b64, _comment) = token(rest);
    let key = PublicKey::from_openssh(&format!("{next} {b64}")).map_err(|e| format!("unreadable key ({e})"))?;
    Ok(Entry {
        principals,
        key,
        namespaces,
        valid_after,
        valid_before,
        line: no,
    })
}

/// What a skipped line that is not in the format at all is told.
const NOT_A_LINE: &str = "the line is not `principals [options] key-type base64-key`";

fn is_key_type(s: &str) -> bool {
    s.starts_with("ssh-") || s.starts_with("ecdsa-sha2-") || s.starts_with("sk-")
}

fn split_options(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in s.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c)
            }
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// `YYYYMMDD[HHMM[SS]][Z]` as OpenSSH writes it; local time without `Z` is taken as UTC here
/// (warroom never guesses a host's zone for a check).
fn parse_time(v: &str) -> Result<i64, String> {
    let digits = v.trim_end_matches(['Z', 'z']);
    let bad = || format!("`{v}` is not a time (YYYYMMDD[HHMM[SS]][Z])");
    if !digits.chars().all(|c| c.is_ascii_digit()) || ![8, 12, 14].contains(&digits.len()) {
        return Err(bad());
    }
    let padded = format!("{digits:0<14}");
    let dt = chrono::NaiveDateTime::parse_from_str(&padded, "%Y%m%d%H%M%S").map_err(|_| bad())?;
    Ok(dt.and_utc().timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEPgrG/BuCu7eSfo2iQDu1PESP0pm7QsnCC/5hv3BBQ6";

    #[test]
    fn parses_principals_options_and_refuses_cert_authority() {
        let text = format!(
            "# team\nalice,alice@jump {KEY} alice@laptop\nalice namespaces=\"warroom-event,git\",valid-after=\"20260101\" {KEY}\n\
             dave cert-authority {KEY}\nerin garbage\n"
        );
        let a = AllowedSigners::parse(&text);
        assert_eq!(a.entries.len(), 2);
        assert_eq!(a.entries[0].principals, vec!["alice", "alice@jump"]);
        assert_eq!(
            a.entries[1].namespaces.as_deref(),
            Some(&["warroom-event".to_string(), "git".into()][..])
        );
        assert_eq!(a.entries[1].valid_after, Some(1_767_225_600_000));
        assert_eq!(a.skipped.len(), 2);
        assert!(a.skipped[0].1.contains("cert-authority"));
        assert!(
            a.skipped[1]
                .1
                .contains("not `principals [options] key-type base64-key`"),
            "{:?}",
            a.skipped
        );
        let g = AllowedSigners::parse("garbage line here\n");
        assert_eq!(g.skipped[0].1, NOT_A_LINE);
    }

    #[test]
    fn principals_match_name_or_writer_and_negation_refuses() {
        let p = |s: &str| s.split(',').map(str::to_string).collect::<Vec<_>>();
        assert_eq!(principal_for(&p("alice"), "alice", "alice@jump"), Some("alice".into()));
        assert_eq!(
            principal_for(&p("alice@jump"), "alice", "alice@jump"),
            Some("alice@jump".into())
        );
        assert_eq!(principal_for(&p("alice@other"), "alice", "alice@jump"), None);
        assert_eq!(principal_for(&p("*,!mallory"), "mallory", "mallory@jump"), None);
        assert_eq!(principal_for(&p("a*"), "alice", "alice@jump"), Some("alice".into()));
    }

    #[test]
    fn check_any_says_no_trusted_key_made_it_and_refuses_a_key_from_an_unaccepted_change() {
        let k = ssh_key::PrivateKey::from(ssh_key::private::Ed25519Keypair::from_seed(&[7; 32]));
        let sig = k
            .sign(NS_EXPORT, HashAlg::Sha512, b"x")
            .and_then(|s| s.to_pem(ssh_key::LineEnding::LF))
            .unwrap_or_default();
        let fp = k.public_key().fingerprint(HashAlg::Sha256).to_string();
        let other = AllowedSigners::parse(&format!("bob {KEY}\n"));
        let e = other
            .check_any(NS_EXPORT, b"x", &sig, 0)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert_eq!(
            e,
            format!("no key this host trusts made it (key {fp} is not in allowed_signers)")
        );
        let pk = k.public_key().to_openssh().unwrap_or_default();
        let mut mine = AllowedSigners::parse(&format!("bob {KEY}\nalice@h3 {pk}\n"));
        assert!(mine.check_any(NS_EXPORT, b"x", &sig, 0).is_ok());
        mine.unaccepted = vec![(fp.clone(), "alice's key was joined by another key".into())];
        let e = mine
            .check_any(NS_EXPORT, b"x", &sig, 0)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.contains("has not accepted") && e.contains("alice's key was joined"),
            "{e}"
        );
    }

    #[test]
    fn only_a_refusal_the_accepted_copy_would_not_make_is_put_down_to_a_pending_change() {
        let k = ssh_key::PrivateKey::from(ssh_key::private::Ed25519Keypair::from_seed(&[5; 32]));
        let pk = k.public_key().to_openssh().unwrap_or_default();
        let sig = k
            .sign(NS_EVENT, HashAlg::Sha512, b"m")
            .and_then(|s| s.to_pem(ssh_key::LineEnding::LF))
            .unwrap_or_default();
        // alice's key replaced by another in the file now in force.
        let mut now = AllowedSigners::parse(&format!("alice {KEY}\n"));
        let err = now.check("alice@jump", NS_EVENT, b"m", &sig, 0).err();
        let err = err.unwrap_or(SigError::WrongHead);
        assert!(matches!(err, SigError::NotAllowed(..)), "{err:?}");
        let recheck = |a: &AllowedSigners| a.check("alice@jump", NS_EVENT, b"m", &sig, 0);
        // No change pending: a plain refusal.
        assert!(!now.refused_by_pending_change(&err, recheck));
        // The copy this host accepted allows it: pending, not tampering.
        now.accepted = Some(Box::new(AllowedSigners::parse(&format!("alice {pk}\n"))));
        assert!(now.refused_by_pending_change(&err, recheck));
        assert!(err
            .pending_reason()
            .ends_with("(the copy this host accepted allows it)"));
        // Content that does not match is never put down to the change.
        let changed = SigError::Mismatch("SHA256:x".into());
        assert!(!now.refused_by_pending_change(&changed, recheck));
        // Nor a refusal the accepted copy would make too.
        now.accepted = Some(Box::new(AllowedSigners::parse(&format!("bob {pk}\n"))));
        assert!(!now.refused_by_pending_change(&err, recheck));
    }

    proptest! {
        #[test]
        fn glob_star_matches_everything_and_literal_only_itself(s in "[a-z@.]{0,12}") {
            prop_assert!(glob("*", &s));
            prop_assert!(glob(&s, &s));
            prop_assert_eq!(glob(&format!("{s}x"), &s), false);
        }
    }
}
