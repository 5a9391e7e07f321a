//! Comparing `allowed_signers` files, with no IO: which principals' keys differ between the copy
//! this host kept and the file now in force (a key replaced, removed or added for someone already
//! listed), or between a bundle's file and this host's. And what to tell a signer whose key a
//! line limits to other namespaces.

use std::collections::{BTreeMap, BTreeSet};

use ssh_key::HashAlg;

use super::identity::person_of;
use super::signing::{AllowedSigners, NS_EVENT, NS_EXPORT};

/// A principal whose keys differ between two files: fingerprints (`SHA256:...`) in each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyChange {
    pub principal: String,
    /// In the reference file (the kept copy; this host's own file).
    pub old: Vec<String>,
    /// In the other file (the one now read; the bundle's).
    pub new: Vec<String>,
}

/// Each principal (as written, negations left out) and the fingerprints of the keys its lines give.
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

/// Each person (the part of a principal before `@`, as [`person_of`] says: `alice` and
/// `alice@h3` are both alice) and the fingerprints of the keys any of their lines give.
pub fn keys_by_person(a: &AllowedSigners) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (p, keys) in keys_by_principal(a) {
        out.entry(person_of(&p)).or_default().extend(keys);
    }
    out
}

/// People of `old` whose set of keys is not the same in `new` (replaced, removed, or joined by
/// another key). Compared by person, not by principal: a new line `alice@h3 <key>` gives alice
/// another key as much as `alice <key>` does. People only `new` names are not changes: adding a
/// responder is ordinary.
pub fn key_changes(old: &AllowedSigners, new: &AllowedSigners) -> Vec<KeyChange> {
    let (old, new) = (keys_by_person(old), keys_by_person(new));
    old.iter()
        .filter_map(|(p, was)| {
            let now = new.get(p).cloned().unwrap_or_default();
            (now != *was).then(|| KeyChange {
                principal: p.clone(),
                old: was.iter().cloned().collect(),
                new: now.into_iter().collect(),
            })
        })
        .collect()
}

/// Principals `theirs` gives a key that `ours` does not give them (a bundle's file against this
/// host's): `old` is what `ours` says (empty: `ours` does not name them), `new` what `theirs` says.
pub fn foreign_keys(ours: &AllowedSigners, theirs: &AllowedSigners) -> Vec<KeyChange> {
    let (ours, theirs) = (keys_by_principal(ours), keys_by_principal(theirs));
    theirs
        .iter()
        .filter_map(|(p, keys)| {
            let mine = ours.get(p).cloned().unwrap_or_default();
            (!keys.is_subset(&mine)).then(|| KeyChange {
                principal: p.clone(),
                old: mine.into_iter().collect(),
                new: keys.iter().cloned().collect(),
            })
        })
        .collect()
}

impl KeyChange {
    /// For a changed shared file: "alice's key changed (SHA256:old → SHA256:new) since this host
    /// last read it; records signed with the old key no longer verify".
    pub fn since_last_read(&self) -> String {
        let (old, new) = (self.old.join(", "), self.new.join(", "));
        let p = &self.principal;
        let gone = self.old.iter().any(|k| !self.new.contains(k));
        if self.new.is_empty() {
            format!(
                "{p}'s key was removed ({old}) since this host last read it; records signed with it no longer verify"
            )
        } else if gone {
            format!("{p}'s key changed ({old} → {new}) since this host last read it; records signed with the old key no longer verify, and the new key can act as {p}")
        } else {
            format!(
                "{p}'s key was joined by another key ({old} → {new}) since this host last read it; the new key can act as {p}"
            )
        }
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
    Some(format!(
        "{}. If you expected this (a responder rotated a key), accept it by deleting this host's copy {kept}; otherwise restore the file and find out who changed it",
        each.join("; ")
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
    let people: BTreeSet<&str> = principals.iter().map(|p| person(p)).collect();
    (people.len() > 1).then(|| {
        format!(
            "one key for several responders ({}) would let one person sign as each of them; give each responder their own line and key",
            people.into_iter().collect::<Vec<_>>().join(", ")
        )
    })
}

/// The person a principal names: `alice` of `alice@jump`.
fn person(principal: &str) -> &str {
    principal.split('@').next().unwrap_or(principal)
}

/// The same rule across lines: a key already given to one responder, on a later line for
/// another, is skipped (its line and why in `skipped`), so one person never signs as two.
pub fn one_key_one_person(a: &mut AllowedSigners) {
    let mut owner: Vec<(ssh_key::PublicKey, String, usize)> = Vec::new();
    let mut keep = Vec::with_capacity(a.entries.len());
    for e in std::mem::take(&mut a.entries) {
        let who = e.principals.first().map(|p| person(p).to_string()).unwrap_or_default();
        match owner.iter().find(|(k, _, _)| k.key_data() == e.key.key_data()) {
            Some((_, first, line)) if *first != who => {
                a.skipped.push((
                    e.line,
                    format!(
                        "this key is already given to {first} on line {line}: one key for two responders would let one person sign as both; give {who} their own key"
                    ),
                ));
                a.skipped_keys.push((e.line, e.key.clone()));
            }
            Some(_) => keep.push(e),
            None => {
                owner.push((e.key.clone(), who, e.line));
                keep.push(e);
            }
        }
    }
    a.skipped.sort_by_key(|(n, _)| *n);
    a.entries = keep;
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
        assert_eq!(lines, vec![1, 2, 3, 4, 6], "{:?}", a.skipped);
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
        assert!(
            a.skipped[4].1.contains("already given to erin on line 5"),
            "{:?}",
            a.skipped
        );
        assert_eq!(a.entries.len(), 2);
        assert!(a.entries.iter().all(|e| e.principals[0].starts_with("erin")));
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
    }
}
