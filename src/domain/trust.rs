//! Comparing `allowed_signers` files, with no IO: which principals' keys differ between the copy
//! this host kept and the file now in force (a key replaced, removed or added for someone already
//! listed), or between a bundle's file and this host's. And what to tell a signer whose key a
//! line limits to other namespaces.

use std::collections::{BTreeMap, BTreeSet};

use ssh_key::HashAlg;

use super::signing::{AllowedSigners, NS_EVENT, NS_EXPORT};

/// A principal whose keys differ between two files: fingerprints (`SHA256:...`) in each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyChange {
    pub principal: String,
    /// In the reference file (the kept copy; this host's own file).
    pub old: Vec<String>,
    /// In the other file (the one now read; the bundle's).
    pub new: Vec<String>,
    /// Keys of `old` missing from `new` only because the new file also gives them to someone
    /// else (so they count for nobody): (fingerprint, the other people and their lines).
    pub shared: Vec<(String, Vec<(String, usize)>)>,
    /// Keys of `new` that `old` did not give this person: (fingerprint, key type as OpenSSH
    /// writes it, the new file's lines giving it to them).
    pub added: Vec<(String, String, Vec<usize>)>,
}

/// Each principal (as written, negations left out) and the fingerprints of the keys its lines give.
/// Principals compare exactly, as the reader matches them (`principal_for`): lines whose
/// principals could never match a warroom name (`ALICE`) are skipped by the parser.
pub fn keys_by_principal(a: &AllowedSigners) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for e in &a.entries {
        let fp = e.key.fingerprint(HashAlg::Sha256).to_string();
        for p in e.principals.iter().filter(|p| !p.starts_with('!')) {
            out.entry(p.clone()).or_default().insert(fp.clone());
        }
    }
    out
}

/// Each person (the part of a principal before `@`: `alice` and `alice@h3` are both alice,
/// compared exactly as the reader compares a principal with a writer's name) and the
/// fingerprints of the keys any of their lines give.
pub fn keys_by_person(a: &AllowedSigners) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (p, keys) in keys_by_principal(a) {
        out.entry(person(&p).to_string()).or_default().extend(keys);
    }
    out
}

/// The keys `a` gives `who` (a person) that are not in `had`: (fingerprint, type, lines).
fn added_keys(a: &AllowedSigners, who: &str, had: &BTreeSet<String>) -> Vec<(String, String, Vec<usize>)> {
    let mut out: Vec<(String, String, Vec<usize>)> = Vec::new();
    for e in &a.entries {
        if !e.principals.iter().any(|p| !p.starts_with('!') && person(p) == who) {
            continue;
        }
        let fp = e.key.fingerprint(HashAlg::Sha256).to_string();
        if had.contains(&fp) {
            continue;
        }
        match out.iter_mut().find(|(f, _, _)| *f == fp) {
            Some((_, _, lines)) => lines.push(e.line),
            None => out.push((fp, e.key.algorithm().as_str().to_string(), vec![e.line])),
        }
    }
    out
}

/// People of `old` whose set of keys is not the same in `new` (replaced, removed, or joined by
/// another key). Compared by person, not by principal: a new line `alice@h3 <key>` gives alice
/// another key as much as `alice <key>` does. People only `new` names are not changes: adding a
/// responder is ordinary.
pub fn key_changes(old: &AllowedSigners, new: &AllowedSigners) -> Vec<KeyChange> {
    let shared_keys = &new.shared_keys;
    let file = new;
    let (old, new) = (keys_by_person(old), keys_by_person(new));
    old.iter()
        .filter_map(|(p, was)| {
            let now = new.get(p).cloned().unwrap_or_default();
            let shared = was
                .iter()
                .filter(|k| !now.contains(*k))
                .filter_map(|k| {
                    let s = shared_keys.iter().find(|s| s.fingerprint == *k)?;
                    let others: Vec<(String, usize)> = s
                        .lines
                        .iter()
                        .filter(|(who, _)| person(who) != p.as_str())
                        .cloned()
                        .collect();
                    Some((k.clone(), others))
                })
                .collect();
            (now != *was).then(|| KeyChange {
                principal: p.clone(),
                old: was.iter().cloned().collect(),
                new: now.into_iter().collect(),
                shared,
                added: added_keys(file, p, was),
            })
        })
        .collect()
}

/// People `theirs` gives a key that `ours` does not give them (a bundle's file against this
/// host's), compared by person as [`key_changes`] does: `old` is what `ours` says (empty: `ours`
/// does not name them), `new` what `theirs` says.
pub fn foreign_keys(ours: &AllowedSigners, theirs: &AllowedSigners) -> Vec<KeyChange> {
    let (ours, theirs) = (keys_by_person(ours), keys_by_person(theirs));
    theirs
        .iter()
        .filter_map(|(p, keys)| {
            let mine = ours.get(p).cloned().unwrap_or_default();
            (!keys.is_subset(&mine)).then(|| KeyChange {
                principal: p.clone(),
                old: mine.into_iter().collect(),
                new: keys.iter().cloned().collect(),
                shared: Vec::new(),
                added: Vec::new(),
            })
        })
        .collect()
}

/// "line 2" / "lines 2, 5": where the new file gives `fp` (from [`KeyChange::added`]).
fn lines_word(added: &[(String, String, Vec<usize>)], fp: &str) -> String {
    let lines: Vec<String> = added
        .iter()
        .filter(|(f, _, _)| f == fp)
        .flat_map(|(_, _, l)| l.iter().map(usize::to_string))
        .collect();
    format!("line{} {}", if lines.len() == 1 { "" } else { "s" }, lines.join(", "))
}

/// How to rotate a key so that earlier records still verify.
pub const ROTATE: &str = "to rotate a key, keep the old key's line beside the new one, optionally with valid-before=\"<a time after its last use>\" on the old line, so earlier records still verify";

impl KeyChange {
    /// For a changed shared file: "alice's key changed (SHA256:old → SHA256:new) since this host
    /// last read it; records signed with the old key no longer verify".
    pub fn since_last_read(&self) -> String {
        let old = self.old.join(", ");
        let p = &self.principal;
        let removed: Vec<&str> = self
            .old
            .iter()
            .filter(|k| !self.new.contains(k))
            .map(String::as_str)
            .collect();
        let gone = !removed.is_empty();
        if self.is_shared_only() {
            // The line is still there: the key was copied under another name, which voids it.
            let each: Vec<String> = self
                .shared
                .iter()
                .map(|(k, others)| {
                    let who: Vec<String> = others.iter().map(|(o, n)| format!("{o} (line {n})")).collect();
                    format!("{k} is now also given to {}", who.join(", "))
                })
                .collect();
            format!(
                "{p}'s key {} since this host last read it: a key listed for two people counts for neither, so {p}'s records signed with it do not count until that line is removed",
                each.join("; ")
            )
        } else if self.new.is_empty() {
            format!(
                "{p}'s key was removed ({old}) since this host last read it; records signed with it no longer verify ({ROTATE})"
            )
        } else if gone && self.added.is_empty() {
            let kept: Vec<&str> = self.new.iter().map(String::as_str).collect();
            format!(
                "{p}'s key {} was removed since this host last read it ({p} keeps {}); records signed with it no longer verify ({ROTATE})",
                removed.join(", "),
                kept.join(", ")
            )
        } else if gone {
            let fps: Vec<&str> = self.added.iter().map(|(f, _, _)| f.as_str()).collect();
            format!(
                "{p}'s key changed ({} → {}) since this host last read it; records signed with the old key no longer verify, and the new key ({}) can act as {p} ({ROTATE})",
                removed.join(", "),
                fps.join(", "),
                self.added_where()
            )
        } else {
            let each: Vec<String> = self
                .added
                .iter()
                .map(|(f, t, _)| format!("{f} ({t}, {})", lines_word(&self.added, f)))
                .collect();
            format!(
                "{p}'s key was joined by another key, {}, since this host last read it; the new key can act as {p}",
                each.join("; ")
            )
        }
    }

    /// "ssh-ed25519, line 2" for each added key.
    fn added_where(&self) -> String {
        let each: Vec<String> = self
            .added
            .iter()
            .map(|(f, t, _)| format!("{t}, {}", lines_word(&self.added, f)))
            .collect();
        each.join("; ")
    }

    /// Whether the only change is keys of this person copied under someone else's name (nothing
    /// to accept: the line that copied it is to be removed).
    pub fn is_shared_only(&self) -> bool {
        !self.shared.is_empty()
            && self
                .old
                .iter()
                .filter(|k| !self.new.contains(k))
                .all(|k| self.shared.iter().any(|(s, _)| s == k))
            && self.new.iter().all(|k| self.old.contains(k))
    }

    /// For a bundle's file against this host's.
    pub fn in_bundle(&self) -> String {
        let p = &self.principal;
        let new = self.new.join(", ");
        if self.old.is_empty() {
            format!("the bundle's allowed_signers gives {p} key {new}; this host's does not list {p}")
        } else {
            format!(
                "the bundle's allowed_signers gives {p} key {new}; this host's gives {p} {}",
                self.old.join(", ")
            )
        }
    }
}

/// The note for the problems list when the shared file's keys changed against the kept copy.
pub fn changed_note(changes: &[KeyChange], kept: &str) -> Option<String> {
    if changes.is_empty() {
        return None;
    }
    let each: Vec<String> = changes.iter().map(KeyChange::since_last_read).collect();
    if changes.iter().all(KeyChange::is_shared_only) {
        // Nothing anyone should accept: the copied line is the fault.
        return Some(format!(
            "{}. Remove the line that gives someone else that key, and find out who added it; this host's copy {kept} still says whose it was",
            each.join("; ")
        ));
    }
    Some(format!(
        "{}. If you expected this (a responder rotated a key), accept it by deleting this host's copy {kept}; otherwise restore the file and find out who changed it",
        each.join("; ")
    ))
}

/// What to tell a signer whose key `a`'s lines allow for `(name, writer)` only outside `when`
/// (ms since the epoch): "key … expired at 2026-11-30 09:30:00 UTC (valid-before on line 1)",
/// naming the key the file gives them now, if one. Adding a line for the old key would undo a
/// rotation, so that is never the advice. `None`: no line limits this key in time.
pub fn expired_refusal(
    a: &AllowedSigners,
    key: &ssh_key::PublicKey,
    name: &str,
    writer: &str,
    when: i64,
) -> Option<String> {
    let utc = |t: i64| {
        chrono::DateTime::from_timestamp_millis(t)
            .map(|d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string())
            .unwrap_or_else(|| t.to_string())
    };
    let fp = key.fingerprint(HashAlg::Sha256).to_string();
    let mine = |e: &&super::signing::Entry| super::signing::principal_for(&e.principals, name, writer).is_some();
    let e = a
        .entries
        .iter()
        .filter(|e| e.key.key_data() == key.key_data())
        .find(|e| mine(e) && (e.valid_before.is_some_and(|t| when >= t) || e.valid_after.is_some_and(|t| when < t)))?;
    let limit = match (e.valid_before.filter(|t| when >= *t), e.valid_after) {
        (Some(t), _) => format!(
            "expired at {} (valid-before on allowed_signers line {})",
            utc(t),
            e.line
        ),
        (None, Some(t)) => format!(
            "is valid only from {} (valid-after on allowed_signers line {})",
            utc(t),
            e.line
        ),
        (None, None) => return None,
    };
    // The key the file gives this person now: the one to sign with.
    let now: Vec<String> = a
        .entries
        .iter()
        .filter(|o| o.key.key_data() != key.key_data() && mine(o))
        .filter(|o| !(o.valid_before.is_some_and(|t| when >= t) || o.valid_after.is_some_and(|t| when < t)))
        .map(|o| format!("{} (line {})", o.key.fingerprint(HashAlg::Sha256), o.line))
        .collect();
    let next = match now.first() {
        Some(k) => format!("sign with your current key, {k}"),
        None => "sign with your current key, once its line is in allowed_signers".to_string(),
    };
    Some(format!(
        "your key {fp} {limit}: it was rotated out; {next} (--sign, WARROOM_SIGNING_KEY or config `signing: (key: ...)`)"
    ))
}

/// The namespaces warroom signs in, for messages.
pub fn warroom_namespaces() -> String {
    format!("warroom signs records in `{NS_EVENT}` and exports and bundles in `{NS_EXPORT}`")
}

/// The lines that list `key` (for `who` = (name, writer), or for anyone when `None`) but limit
/// it to other namespaces than `namespace`: (line, namespaces as written).
pub fn namespace_limits(
    a: &AllowedSigners,
    key: &ssh_key::PublicKey,
    namespace: &str,
    who: Option<(&str, &str)>,
) -> Vec<(usize, String)> {
    a.entries
        .iter()
        .filter(|e| e.key.key_data() == key.key_data())
        .filter(|e| {
            who.is_none_or(|(name, writer)| super::signing::principal_for(&e.principals, name, writer).is_some())
        })
        .filter_map(|e| {
            let ns = e.namespaces.as_ref()?;
            (!ns.iter().any(|n| super::signing::glob(n, namespace))).then(|| (e.line, ns.join(",")))
        })
        .collect()
}

/// The real reason a key is refused when a line lists it but not for `namespace`.
pub fn namespace_refusal(
    a: &AllowedSigners,
    key: &ssh_key::PublicKey,
    namespace: &str,
    fp: &str,
    who: Option<(&str, &str)>,
) -> Option<super::signing::SigError> {
    let (line, ns) = namespace_limits(a, key, namespace, who).into_iter().next()?;
    Some(super::signing::SigError::WrongNamespace(
        fp.to_string(),
        line,
        ns,
        namespace.to_string(),
    ))
}

/// Why a line's principals are refused, if they are: in warroom a principal is one responder's
/// name or full writer id, so OpenSSH patterns (`*`, `?`, `!negation`) — one key signing as
/// anyone, the commander included — and lists naming two people (one person signing as both)
/// are not accepted. `alice,alice@jump` (one person) is.
pub fn principal_refusal(principals: &[String]) -> Option<String> {
    if let Some(p) = principals.iter().find(|p| p.contains(['*', '?', '!'])) {
        return Some(format!(
            "principal patterns are not accepted (`{}`); name each responder (their warroom name or name@host)",
            p.chars().take(40).collect::<String>()
        ));
    }
    // The reader matches a principal exactly against a writer's `name` or `name@host`, which are
    // lowercase: any other principal matches nobody, so the line would silently count for no one.
    if let Some(p) = principals.iter().find(|p| !could_be_writer(p)) {
        let shown = p.chars().take(40).collect::<String>();
        let lower = p.to_ascii_lowercase();
        let hint = if could_be_writer(&lower) {
            format!(": write `{}`", lower.chars().take(40).collect::<String>())
        } else {
            String::new()
        };
        return Some(format!(
            "principal `{shown}` can never match a warroom name (lowercase a-z, 0-9, `.`, `_`, `-`, optionally `@host`){hint}"
        ));
    }
    let people: BTreeSet<&str> = principals.iter().map(|p| person(p)).collect();
    (people.len() > 1).then(|| {
        format!(
            "one key for several responders ({}) would let one person sign as each of them; give each responder their own line and key",
            people.into_iter().collect::<Vec<_>>().join(", ")
        )
    })
}

/// Whether a principal can name a writer: `name` or `name@host` as warroom writes them.
fn could_be_writer(p: &str) -> bool {
    match p.split_once('@') {
        Some((name, host)) => super::identity::valid_name(name) && super::identity::valid_host(host),
        None => super::identity::valid_name(p),
    }
}

/// The person a principal names: `alice` of `alice@jump`.
fn person(principal: &str) -> &str {
    principal.split('@').next().unwrap_or(principal)
}

/// The same rule across lines: a key that lines give to two or more different people counts for
/// none of them — every such line is skipped (its line and why in `skipped`, the key and who had
/// it in `shared_keys`) — so one person never signs as two, and nobody can void another's key by
/// listing it under their own name without being noticed: the message names every line and
/// person neutrally, as the file cannot tell which line is the genuine one.
pub fn one_key_one_person(a: &mut AllowedSigners) {
    // Each distinct key, with the (person, line) of every line giving it.
    let mut holders: Vec<(ssh_key::PublicKey, Vec<(String, usize)>)> = Vec::new();
    for e in &a.entries {
        let who = e.principals.first().map(|p| person(p).to_string()).unwrap_or_default();
        match holders.iter_mut().find(|(k, _)| k.key_data() == e.key.key_data()) {
            Some((_, lines)) => lines.push((who, e.line)),
            None => holders.push((e.key.clone(), vec![(who, e.line)])),
        }
    }
    for (key, lines) in holders {
        let people: BTreeSet<&str> = lines.iter().map(|(p, _)| p.as_str()).collect();
        if people.len() < 2 {
            continue;
        }
        let fingerprint = key.fingerprint(HashAlg::Sha256).to_string();
        let why = shared_key_reason(&fingerprint, &lines);
        for (_, n) in &lines {
            a.skipped.push((*n, why.clone()));
            a.skipped_keys.push((*n, key.clone()));
        }
        a.entries.retain(|e| e.key.key_data() != key.key_data());
        a.shared_keys.push(super::signing::SharedKey { fingerprint, lines });
    }
    a.skipped.sort_by_key(|(n, _)| *n);
}

/// "key SHA256:… is given to zed (line 1) and alice (line 2): it counts for neither until one
/// line is removed".
fn shared_key_reason(fingerprint: &str, lines: &[(String, usize)]) -> String {
    let each: Vec<String> = lines.iter().map(|(p, n)| format!("{p} (line {n})")).collect();
    let (last, rest) = each
        .split_last()
        .map(|(l, r)| (l.clone(), r.join(", ")))
        .unwrap_or_default();
    let until = if lines.len() == 2 {
        "it counts for neither until one line is removed"
    } else {
        "it counts for none of them until only one person's lines remain"
    };
    format!("key {fingerprint} is given to {rest} and {last}: {until}")
}

/// Where this host's kept copy (`kept`) gave a key that `now` gives to several people to one of
/// them, say so on each of those lines' reasons: "this host last read it as alice's".
pub fn note_kept_owner(now: &mut AllowedSigners, kept: &AllowedSigners) {
    let kept = keys_by_person(kept);
    let shared = now.shared_keys.clone();
    for s in &shared {
        let owners: BTreeSet<String> = s
            .lines
            .iter()
            .map(|(p, _)| person(p).to_string())
            .filter(|p| kept.get(p).is_some_and(|keys| keys.contains(&s.fingerprint)))
            .collect();
        let Some(owner) = owners.iter().next().filter(|_| owners.len() == 1) else {
            continue;
        };
        let lines: BTreeSet<usize> = s.lines.iter().map(|(_, n)| *n).collect();
        for (_, why) in now.skipped.iter_mut().filter(|(n, _)| lines.contains(n)) {
            why.push_str(&format!("; this host last read it as {owner}'s"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEPgrG/BuCu7eSfo2iQDu1PESP0pm7QsnCC/5hv3BBQ6";

    fn other_key() -> String {
        key(9)
    }

    /// A distinct public key per seed.
    fn key(seed: u8) -> String {
        let k = ssh_key::PrivateKey::from(ssh_key::private::Ed25519Keypair::from_seed(&[seed; 32]));
        k.public_key().to_openssh().unwrap_or_default()
    }

    #[test]
    fn a_replaced_removed_or_added_key_of_a_listed_principal_is_a_change_a_new_principal_is_not() {
        let (b, m, c3) = (other_key(), key(3), key(4));
        let old = AllowedSigners::parse(&format!("alice {A}\nbob {b}\n"));
        assert!(key_changes(&old, &old).is_empty());
        // alice's key replaced by mallory's: alice changed; carol added: not a change.
        let new = AllowedSigners::parse(&format!("alice {m}\nbob {b}\ncarol {c3}\n"));
        let c = key_changes(&old, &new);
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!(c[0].principal, "alice");
        let text = c[0].since_last_read();
        assert!(
            text.contains("alice's key changed (SHA256:") && text.contains("no longer verify"),
            "{text}"
        );
        assert!(text.contains("keep the old key's line beside the new one"), "{text}");
        // bob removed.
        let new = AllowedSigners::parse(&format!("alice {A}\n"));
        let c = key_changes(&old, &new);
        assert_eq!(c.len(), 1);
        assert!(c[0].since_last_read().contains("bob's key was removed"), "{c:?}");
        // alice given a second key.
        let new = AllowedSigners::parse(&format!("alice {A}\nalice {m}\nbob {b}\n"));
        let c = key_changes(&old, &new);
        assert!(
            c[0].since_last_read().contains("alice's key was joined by another key"),
            "{c:?}"
        );
        let note = changed_note(&c, "/state/trust/x").unwrap_or_default();
        assert!(note.contains("deleting this host's copy /state/trust/x"), "{note}");
        assert_eq!(changed_note(&[], "x"), None);
    }

    fn fp(key: &str) -> String {
        ssh_key::PublicKey::from_openssh(key)
            .map(|k| k.fingerprint(HashAlg::Sha256).to_string())
            .unwrap_or_default()
    }

    #[test]
    fn a_joined_key_is_named_alone_with_its_type_and_line() {
        let m = key(3);
        let old = AllowedSigners::parse(&format!("alice {A}\n"));
        let new = AllowedSigners::parse(&format!("# team\nalice {A}\nalice@h3 {m}\n"));
        let text = key_changes(&old, &new)[0].since_last_read();
        assert!(
            text.starts_with(&format!(
                "alice's key was joined by another key, {} (ssh-ed25519, line 3), since this host last read it",
                fp(&m)
            )),
            "{text}"
        );
        // The key alice kept is not listed as if it were news.
        assert!(!text.contains(&fp(A)), "{text}");
        // Replaced: the old key and the new one, and where the new one is.
        let new = AllowedSigners::parse(&format!("alice {m}\n"));
        let text = key_changes(&old, &new)[0].since_last_read();
        assert!(
            text.contains(&format!("alice's key changed ({} → {}) since", fp(A), fp(&m))),
            "{text}"
        );
        assert!(
            text.contains("the new key (ssh-ed25519, line 1) can act as alice"),
            "{text}"
        );
        // One of two keys removed: that key only.
        let two = AllowedSigners::parse(&format!("alice {A}\nalice {m}\n"));
        let text = key_changes(&two, &old)[0].since_last_read();
        assert!(
            text.starts_with(&format!(
                "alice's key {} was removed since this host last read it (alice keeps {})",
                fp(&m),
                fp(A)
            )),
            "{text}"
        );
    }

    #[test]
    fn a_principal_no_writer_can_have_is_skipped_as_the_reader_never_matches_it() {
        let m = key(3);
        let old = AllowedSigners::parse(&format!("alice {A}\n"));
        let new = AllowedSigners::parse(&format!("alice {A}\nALICE {m}\nbob@Laptop {m}\n"));
        assert_eq!(new.entries.len(), 1, "{:?}", new.skipped);
        assert_eq!(
            new.skipped[0],
            (
                2,
                "principal `ALICE` can never match a warroom name (lowercase a-z, 0-9, `.`, `_`, `-`, optionally `@host`): write `alice`".to_string()
            )
        );
        assert!(new.skipped[1].1.contains("write `bob@laptop`"), "{:?}", new.skipped);
        // So it is no key of alice's: not a change for her.
        assert!(key_changes(&old, &new).is_empty());
    }

    #[test]
    fn a_new_line_for_an_existing_person_under_a_writer_id_is_a_change() {
        let (b, m) = (other_key(), key(3));
        let old = AllowedSigners::parse(&format!("alice {A}\nbob@h2 {b}\n"));
        // mallory's key appended as alice@h3: alice's key joined by another key.
        let new = AllowedSigners::parse(&format!("alice {A}\nbob@h2 {b}\nalice@h3 {m}\n"));
        let c = key_changes(&old, &new);
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!(c[0].principal, "alice");
        let text = c[0].since_last_read();
        assert!(text.contains("alice's key was joined by another key"), "{text}");
        assert!(text.contains("the new key can act as alice"), "{text}");
        // bob's key given to bob (name) in place of bob@h2: the same person, same key: no change.
        let same = AllowedSigners::parse(&format!("alice {A}\nbob {b}\n"));
        assert!(key_changes(&old, &same).is_empty());
        // bob@h2's key replaced under another writer id: a change of bob's.
        let moved = AllowedSigners::parse(&format!("alice {A}\nbob@h9 {m}\n"));
        let c = key_changes(&old, &moved);
        assert_eq!(c.len(), 1, "{c:?}");
        assert!(c[0].since_last_read().contains("bob's key changed"), "{c:?}");
        // A new person under a writer id is not a change.
        let added = AllowedSigners::parse(&format!("alice {A}\nbob@h2 {b}\ncarol@h6 {m}\n"));
        assert!(key_changes(&old, &added).is_empty());
    }

    #[test]
    fn patterns_and_one_key_for_two_people_are_skipped_with_the_reason() {
        let b = other_key();
        let text =
            format!("* {A}\nalice,!bob {A}\na?ice {A}\ncarol,dave {b}\nerin,erin@jump {b}\nfrank {b}\nerin@desk {b}\n");
        let a = AllowedSigners::parse(&text);
        let lines: Vec<usize> = a.skipped.iter().map(|(n, _)| *n).collect();
        assert_eq!(lines, vec![1, 2, 3, 4, 5, 6, 7], "{:?}", a.skipped);
        assert!(
            a.skipped[0].1.contains("principal patterns are not accepted"),
            "{:?}",
            a.skipped
        );
        assert!(
            a.skipped[3].1.contains("one key for several responders (carol, dave)"),
            "{:?}",
            a.skipped
        );
        // erin's key also given to frank: it counts for neither, on any of their lines.
        let fp = ssh_key::PublicKey::from_openssh(&b)
            .map(|k| k.fingerprint(HashAlg::Sha256).to_string())
            .unwrap_or_default();
        let said =
            format!("key {fp} is given to erin (line 5), frank (line 6) and erin (line 7): it counts for none of them");
        assert!(
            a.skipped[4..].iter().all(|(_, why)| why.contains(&said)),
            "{:?}",
            a.skipped
        );
        assert!(a.entries.is_empty(), "{:?}", a.entries);
        let two = AllowedSigners::parse(&format!("erin,erin@jump {b}\nerin@desk {b}\n"));
        assert_eq!(
            two.entries.len(),
            2,
            "one person's lines share a key: {:?}",
            two.skipped
        );
    }

    #[test]
    fn someone_elses_public_key_under_another_name_voids_it_for_both_neutrally() {
        let z = AllowedSigners::parse(&format!("zed {A}\nalice {A}\nbob {}\n", other_key()));
        assert_eq!(z.entries.len(), 1);
        assert_eq!(z.entries[0].principals, vec!["bob"]);
        let fp = z.shared_keys[0].fingerprint.clone();
        let said = format!(
            "key {fp} is given to zed (line 1) and alice (line 2): it counts for neither until one line is removed"
        );
        assert_eq!(z.skipped, vec![(1, said.clone()), (2, said.clone())]);
        // This host's kept copy gave it to alice: say so, on both lines.
        let mut now = z.clone();
        note_kept_owner(&mut now, &AllowedSigners::parse(&format!("alice@h1 {A}\n")));
        assert!(
            now.skipped
                .iter()
                .all(|(_, why)| why == &format!("{said}; this host last read it as alice's")),
            "{:?}",
            now.skipped
        );
        // A kept copy that names neither with that key adds nothing.
        let mut now = z.clone();
        note_kept_owner(&mut now, &AllowedSigners::parse(&format!("alice {}\n", key(7))));
        assert_eq!(now.skipped, z.skipped);
        // And key_changes says what happened — copied under zed's name, not removed — with no
        // advice to accept it.
        let c = key_changes(&AllowedSigners::parse(&format!("alice {A}\n")), &z);
        let said = c[0].since_last_read();
        assert!(
            said.contains(&format!("alice's key {fp} is now also given to zed (line 1)")),
            "{said}"
        );
        assert!(!said.contains("key was removed") && !said.contains("rotate"), "{said}");
        let note = changed_note(&c, "/kept").expect("a note");
        assert!(
            note.contains("Remove the line that gives someone else that key"),
            "{note}"
        );
        assert!(!note.contains("accept it"), "{note}");
        // A real removal beside it still gets the acceptance advice.
        let gone = AllowedSigners::parse(&format!("zed {A}\nalice {A}\n"));
        let c = key_changes(
            &AllowedSigners::parse(&format!("alice {A}\nbob {}\n", other_key())),
            &gone,
        );
        assert!(
            changed_note(&c, "/kept").expect("a note").contains("accept it"),
            "{c:?}"
        );
    }

    #[test]
    fn a_bundle_key_this_host_does_not_give_that_principal_is_named() {
        let b = other_key();
        let (bob, mallory) = (key(5), key(6));
        let ours = AllowedSigners::parse(&format!("alice {A}\nbob {bob}\n"));
        let theirs = AllowedSigners::parse(&format!("bob {b}\nalice {A}\nmallory {mallory}\n"));
        let f = foreign_keys(&ours, &theirs);
        let who: Vec<&str> = f.iter().map(|c| c.principal.as_str()).collect();
        assert_eq!(who, vec!["bob", "mallory"]);
        assert!(f[1].in_bundle().contains("this host's does not list mallory"));
        assert!(foreign_keys(&ours, &AllowedSigners::parse(&format!("alice {A}\n"))).is_empty());
        // Another key for alice under a writer id is alice's, not a new responder's.
        let f = foreign_keys(&ours, &AllowedSigners::parse(&format!("alice@h3 {mallory}\n")));
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(
            f[0].in_bundle()
                .starts_with("the bundle's allowed_signers gives alice key"),
            "{f:?}"
        );
        assert!(f[0].in_bundle().contains("this host's gives alice SHA256:"), "{f:?}");
        let same = AllowedSigners::parse(&format!("alice@h1 {A}\nbob@h2 {bob}\n"));
        assert!(foreign_keys(&ours, &same).is_empty());
    }
}
