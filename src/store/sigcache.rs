//! Record signatures this host has already checked, kept in its own state directory (never the
//! shared one), so opening a long signed incident does not check 100k signatures again (~60 µs
//! each). Only valid signatures are kept.
//!
//! An entry can never vouch for anything but the exact check it records: it is found by a key
//! that covers every input of that check — the incident folder, the log, the record's seq and
//! writer, the namespace, the message signed (log and head), the signature's bytes, the record's time (for
//! `valid-after`/`valid-before`) and the digest of the `allowed_signers` content in force — so a
//! changed signature, record or `allowed_signers` simply misses and is checked again. Keys and
//! the check of each entry are BLAKE3 keyed with a secret made once in the state directory
//! (mode 0600): an entry edited, made up or copied from another host's cache does not match.
//! `warroom verify` never uses it: it checks every signature itself.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::domain::signing::Verified;

/// A cache file over this size is dropped and started again (old `allowed_signers` contents
/// leave entries no key can reach any more). About 300k entries.
pub const MAX_CACHE: u64 = 64 << 20;

/// Everything a record signature's verdict depends on.
#[derive(Debug, Clone, Copy)]
pub struct SigInput<'a> {
    pub log: &'a str,
    pub seq: u64,
    pub writer: &'a str,
    pub namespace: &'a str,
    /// The signed message (`"<log> <head>"`, or the head alone for an older signature).
    pub msg: &'a str,
    pub sig: &'a str,
    pub when: i64,
    /// [`crate::domain::signing::AllowedSigners::digest`] of the file in force.
    pub trust: &'a str,
}

/// Looked-up key of one check.
pub type Key = [u8; 32];

pub struct SigCache {
    path: PathBuf,
    secret: [u8; 32],
    /// The incident folder (its path): part of every key.
    scope: String,
    known: HashMap<Key, Verified>,
    fresh: Vec<(Key, Verified)>,
}

impl SigCache {
    /// The cache of the incident in folder `incident_dir`, in `state_dir` (`None` when the
    /// secret cannot be read or made: then every signature is checked, as before).
    pub fn open(state_dir: &Path, incident_dir: &Path) -> Option<SigCache> {
        Some(SigCache::open_keyed(state_dir, incident_dir, local_secret(state_dir)?))
    }

    /// [`SigCache::open`] with the [`local_secret`] already read (an incident's caches share it).
    pub fn open_keyed(state_dir: &Path, incident_dir: &Path, secret: [u8; 32]) -> SigCache {
        let dir = state_dir.join("sigcache");
        let scope = incident_dir.to_string_lossy().into_owned();
        let name = &blake3::hash(scope.as_bytes()).to_hex()[..32];
        let mut cache = SigCache {
            path: dir.join(format!("{name}.sigs")),
            secret,
            scope,
            known: HashMap::new(),
            fresh: Vec::new(),
        };
        cache.load();
        cache
    }

    fn load(&mut self) {
        let Ok(file) = std::fs::File::open(&self.path) else {
            return;
        };
        if !file.metadata().is_ok_and(|m| m.len() <= MAX_CACHE) {
            let _ = std::fs::remove_file(&self.path);
            return;
        }
        let mut text = String::new();
        if file.take(MAX_CACHE).read_to_string(&mut text).is_err() {
            return;
        }
        for line in text.lines() {
            if let Some((key, v)) = self.parse_entry(line) {
                self.known.insert(key, v);
            }
        }
    }

    /// `key mac fingerprint principal-hex`; `None` unless its check matches.
    fn parse_entry(&self, line: &str) -> Option<(Key, Verified)> {
        let mut f = line.split(' ');
        let key = *blake3::Hash::from_hex(f.next()?).ok()?.as_bytes();
        let mac = blake3::Hash::from_hex(f.next()?).ok()?;
        let fingerprint = f.next()?.to_string();
        let principal = String::from_utf8(unhex(f.next()?)?).ok()?;
        if f.next().is_some() {
            return None;
        }
        let v = Verified { principal, fingerprint };
        // blake3::Hash compares in constant time.
        (self.mac(&key, &v) == mac).then_some((key, v))
    }

    fn mac(&self, key: &Key, v: &Verified) -> blake3::Hash {
        let mut h = blake3::Hasher::new_keyed(&self.secret);
        h.update(b"warroom-sigcache-entry-v1\0");
        h.update(key);
        field(&mut h, v.principal.as_bytes());
        field(&mut h, v.fingerprint.as_bytes());
        h.finalize()
    }

    /// The key of one check.
    pub fn key(&self, i: &SigInput) -> Key {
        let mut h = blake3::Hasher::new_keyed(&self.secret);
        h.update(b"warroom-sigcache-key-v1\0");
        for part in [
            self.scope.as_bytes(),
            i.log.as_bytes(),
            &i.seq.to_le_bytes(),
            i.writer.as_bytes(),
            i.namespace.as_bytes(),
            i.msg.as_bytes(),
            i.sig.as_bytes(),
            &i.when.to_le_bytes(),
            i.trust.as_bytes(),
        ] {
            field(&mut h, part);
        }
        *h.finalize().as_bytes()
    }

    /// A valid verdict recorded for exactly this check.
    pub fn get(&self, key: &Key) -> Option<&Verified> {
        self.known.get(key)
    }

    /// Keep a valid verdict (written by [`SigCache::save`]).
    pub fn remember(&mut self, key: Key, v: Verified) {
        if let std::collections::hash_map::Entry::Vacant(slot) = self.known.entry(key) {
            slot.insert(v.clone());
            self.fresh.push((key, v));
        }
    }

    /// Append what was remembered since the last save (one write; failures only cost speed).
    pub fn save(&mut self) {
        if self.fresh.is_empty() {
            return;
        }
        let mut out = String::new();
        for (key, v) in std::mem::take(&mut self.fresh) {
            out.push_str(&format!(
                "{} {} {} {}\n",
                blake3::Hash::from(key).to_hex(),
                self.mac(&key, &v).to_hex(),
                v.fingerprint,
                hex(v.principal.as_bytes())
            ));
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&self.path);
        if let Ok(mut f) = file {
            let _ = f.write_all(out.as_bytes());
        }
    }
}

/// A length-prefixed field, so no two different inputs hash alike.
pub(super) fn field(h: &mut blake3::Hasher, bytes: &[u8]) {
    h.update(&(bytes.len() as u64).to_le_bytes());
    h.update(bytes);
}

/// This host's 32-byte secret for keying local caches (`<state>/sigcache/secret`, made once,
/// mode 0600); `None` if it cannot be had.
pub fn local_secret(state_dir: &Path) -> Option<[u8; 32]> {
    let dir = state_dir.join("sigcache");
    std::fs::create_dir_all(&dir).ok()?;
    secret(&dir.join("secret"))
}

/// The 32-byte secret, made once (mode 0600); `None` if it cannot be had.
fn secret(path: &Path) -> Option<[u8; 32]> {
    let read = |p: &Path| -> Option<[u8; 32]> { std::fs::read(p).ok()?.try_into().ok() };
    if let Some(s) = read(path) {
        return Some(s);
    }
    let s: [u8; 32] = rand::random();
    // A file that is there but not 32 bytes is made again (it keys nothing of value).
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .ok()?;
    f.write_all(&s).ok()?;
    f.sync_all().ok()?;
    drop(f);
    // Two processes at once: the first rename wins for later opens; this one uses its own
    // for now (its entries just miss later).
    std::fs::rename(&tmp, path).ok()?;
    read(path)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input<'a>(sig: &'a str, trust: &'a str) -> SigInput<'a> {
        SigInput {
            log: "mallory@jump.abc123",
            seq: 3,
            writer: "mallory@jump",
            namespace: "warroom-event",
            msg: "mallory@jump.abc123 00ff",
            sig,
            when: 1_700_000_000_000,
            trust,
        }
    }

    fn verified(principal: &str) -> Verified {
        Verified {
            principal: principal.into(),
            fingerprint: "SHA256:abc".into(),
        }
    }

    #[test]
    fn a_saved_verdict_is_found_again_only_for_the_same_check() {
        let tmp = tempfile::tempdir().unwrap();
        let inc = tmp.path().join("root/inc-1");
        let mut c = SigCache::open(tmp.path(), &inc).unwrap();
        let k = c.key(&input("SIG", "T1"));
        c.remember(k, verified("mallory"));
        c.save();
        let c = SigCache::open(tmp.path(), &inc).unwrap();
        assert_eq!(c.get(&k), Some(&verified("mallory")));
        // Any other input misses: other signature bytes, other allowed_signers, other incident.
        assert!(c.get(&c.key(&input("SIG2", "T1"))).is_none());
        assert!(c.get(&c.key(&input("SIG", "T2"))).is_none());
        let other = SigCache::open(tmp.path(), &tmp.path().join("root/inc-2")).unwrap();
        assert!(other.get(&other.key(&input("SIG", "T1"))).is_none());
    }

    #[test]
    fn an_edited_made_up_or_foreign_entry_is_ignored() {
        let tmp = tempfile::tempdir().unwrap();
        let inc = tmp.path().join("root/inc-1");
        let mut c = SigCache::open(tmp.path(), &inc).unwrap();
        let k = c.key(&input("SIG", "T1"));
        c.remember(k, verified("mallory"));
        c.save();
        let path = c.path.clone();
        let text = std::fs::read_to_string(&path).unwrap();
        // Another principal on the same entry.
        let edited = text.replace(&hex(b"mallory"), &hex(b"alice"));
        assert_ne!(edited, text);
        std::fs::write(&path, &edited).unwrap();
        assert!(SigCache::open(tmp.path(), &inc).unwrap().get(&k).is_none());
        // An entry for a check never made, keyed without the secret.
        let forged_key = blake3::hash(b"SIG2");
        let line = format!(
            "{} {} SHA256:abc {}\n",
            forged_key.to_hex(),
            blake3::hash(b"x").to_hex(),
            hex(b"mallory")
        );
        std::fs::write(&path, line).unwrap();
        let c = SigCache::open(tmp.path(), &inc).unwrap();
        assert!(c.get(forged_key.as_bytes()).is_none());
        assert!(c.known.is_empty());
        // The genuine file, under another secret (another host's cache copied in).
        std::fs::write(&path, &text).unwrap();
        std::fs::write(tmp.path().join("sigcache/secret"), [7u8; 32]).unwrap();
        let c = SigCache::open(tmp.path(), &inc).unwrap();
        assert!(c.known.is_empty());
        // Garbage lines are skipped, nothing breaks.
        std::fs::write(&path, "zz\n\u{0}\nonly two\n").unwrap();
        assert!(SigCache::open(tmp.path(), &inc).unwrap().known.is_empty());
    }
}
