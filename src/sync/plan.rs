//! Pure decisions of a sync round, apart from any IO: which files of the shared directory this
//! install may commit, whether a file's new content only appends to what git holds, and how to
//! read git's answers.

use crate::store::incident::valid_incident_id;
use crate::store::{writer_of_log, CASTS_DIR, EVENTS_DIR, HEADER_FILE, LOG_EXT, PLAYBOOKS_DIR};

/// The lines `.gitattributes` must hold so git never converts line endings in a record.
// (Recordings, `*.cast`, are JSON lines: a raw carriage return never appears in one, so git has
// nothing to convert.)
pub const ATTRIBUTES: [&str; 2] = ["*.ronl -text", "*.ron -text"];
pub const ATTRIBUTES_FILE: &str = ".gitattributes";
/// The line of `$GIT_DIR/info/attributes` that overrides any committed `.gitattributes`.
pub const INFO_ATTRIBUTES: &str = "* -text -eol -filter -ident -working-tree-encoding";

/// What a path in the shared directory is, for this install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A log this install writes (`<id>/events/<name>@<host>.<install>.ronl`).
    OwnLog,
    /// Another install's log: never committed from here.
    OtherLog,
    /// `<id>/incident.ron`, written once by the declarer.
    Header,
    /// `<id>/playbooks/<hash>.ron`, content-addressed.
    Playbook { hash: String },
    /// `<id>/casts/<hash>.cast`, a recording of a command warroom ran, content-addressed.
    Cast { hash: String },
    /// `.gitattributes` at the root.
    Attributes,
    /// `allowed_signers` at the root: any site may change it (see `sync::trust`).
    Trust,
    /// Anything else: never committed by sync.
    Foreign,
}

/// Classify a path relative to the root (`/`-separated).
pub fn classify(path: &str, install: &str) -> Kind {
    if path == ATTRIBUTES_FILE {
        return Kind::Attributes;
    }
    if path == crate::store::ALLOWED_SIGNERS_FILE {
        return Kind::Trust;
    }
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        [id, file] if valid_incident_id(id) && *file == HEADER_FILE => Kind::Header,
        [id, dir, file] if valid_incident_id(id) && *dir == EVENTS_DIR => {
            if writer_of_log(file).is_none() {
                return Kind::Foreign;
            }
            match file.strip_suffix(LOG_EXT).and_then(|s| s.rsplit_once('.')) {
                Some((_, i)) if i == install => Kind::OwnLog,
                _ => Kind::OtherLog,
            }
        }
        [id, dir, file] if valid_incident_id(id) && *dir == PLAYBOOKS_DIR => match file.strip_suffix(".ron") {
            Some(h) if h.len() == 64 && h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) => {
                Kind::Playbook { hash: h.to_string() }
            }
            _ => Kind::Foreign,
        },
        [id, dir, file] if valid_incident_id(id) && *dir == CASTS_DIR => match file.strip_suffix(".cast") {
            Some(h) if crate::domain::event::is_hash(h) => Kind::Cast { hash: h.to_string() },
            _ => Kind::Foreign,
        },
        _ => Kind::Foreign,
    }
}

/// Does a claim (`incident.ron`'s `log`, `name@host.install`) name this install?
pub fn claim_is_ours(log: Option<&str>, install: &str) -> bool {
    log.and_then(|l| l.rsplit_once('.')).is_some_and(|(_, i)| i == install)
}

/// The complete lines of a log: a write still landing (no newline yet) is left for next round.
pub fn complete_lines(bytes: &[u8]) -> &[u8] {
    match bytes.iter().rposition(|b| *b == b'\n') {
        Some(i) => &bytes[..=i],
        None => &[],
    }
}

/// How this install's file compares with the copy git already holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Not in git yet: add it.
    New,
    /// Same bytes: nothing to do.
    Same,
    /// Git's copy plus new lines: commit.
    Appended { lines: usize },
    /// Shorter than git's copy: the local file was rolled back (the writer re-appends on its
    /// next write). Not committed: git keeps the longer copy.
    RolledBack,
    /// Git's copy is not a prefix: the local file was edited. Not committed.
    Rewritten,
    /// The remote's copy was rewritten or deleted while this copy still holds everything this
    /// clone had: the known-good copy is committed over it.
    Restored,
    /// The shared `allowed_signers`, changed here since the sites last agreed on it.
    Trust,
}

/// Compare an append-only file with git's copy of it.
pub fn compare(old: Option<&[u8]>, new: &[u8]) -> Change {
    match old {
        None => Change::New,
        Some(old) if old == new => Change::Same,
        Some(old) if new.starts_with(old) => Change::Appended {
            lines: new[old.len()..].iter().filter(|b| **b == b'\n').count(),
        },
        Some(old) if old.starts_with(new) => Change::RolledBack,
        Some(_) => Change::Rewritten,
    }
}

/// `.gitattributes` with the lines warroom needs, or None if it has them already.
pub fn attributes_needed(current: Option<&str>) -> Option<String> {
    let current = current.unwrap_or("");
    let have: Vec<&str> = current.lines().map(str::trim).collect();
    let missing: Vec<&str> = ATTRIBUTES.iter().copied().filter(|l| !have.contains(l)).collect();
    if missing.is_empty() {
        return None;
    }
    let mut out = current.to_string();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    for l in missing {
        out.push_str(l);
        out.push('\n');
    }
    Some(out)
}

/// Did `git push` fail because the remote moved on meanwhile (another site pushed first)? Then
/// fetching and building on the new tip again is the answer; anything else is reported.
pub fn is_push_race(output: &str) -> bool {
    [
        "[rejected]",
        "non-fast-forward",
        "fetch first",
        "cannot lock ref",
        "stale info",
        "but expected",
    ]
    .iter()
    .any(|m| output.contains(m))
}

/// `git ls-tree -r -l` output: `(path, blob id, size)` of every blob.
pub fn parse_ls_tree(text: &str) -> Vec<(String, String, u64)> {
    text.lines()
        .filter_map(|line| {
            let (meta, path) = line.split_once('\t')?;
            let mut f = meta.split_whitespace();
            let (_mode, kind, id, size) = (f.next()?, f.next()?, f.next()?, f.next()?);
            (kind == "blob").then(|| (path.to_string(), id.to_string(), size.parse().unwrap_or(u64::MAX)))
        })
        .collect()
}

/// Paths safe to hand to git's `--index-info` and to report: no control characters, no `..`,
/// relative. Everything sync commits passes `classify` first, so this is a second fence.
pub fn safe_path(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.split('/').any(|p| p.is_empty() || p == "." || p == "..")
        && !path
            .chars()
            .any(|c| c.is_control() || c == '"' || c == '\\' || c == char::REPLACEMENT_CHARACTER)
}

/// A remote name or URL handed to git as an argument: it must never read as an option.
pub fn valid_remote_arg(s: &str) -> bool {
    !s.is_empty() && !s.starts_with('-') && !s.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "2026-11-22-ransomware-fin-7f3a";

    #[test]
    fn own_and_other_logs() {
        assert_eq!(
            classify(&format!("{ID}/events/alice@jump.k3x9qa.ronl"), "k3x9qa"),
            Kind::OwnLog
        );
        assert_eq!(
            classify(&format!("{ID}/events/alice@jump.zzzzzz.ronl"), "k3x9qa"),
            Kind::OtherLog
        );
        assert_eq!(
            classify(&format!("{ID}/events/bob@other.k3x9qa.ronl"), "k3x9qa"),
            Kind::OwnLog
        );
        assert_eq!(
            classify(&format!("{ID}/events/Not A Log.ronl"), "k3x9qa"),
            Kind::Foreign
        );
        assert_eq!(
            classify(&format!("{ID}/events/alice@jump.k3x9qa.ronl.tmp"), "k3x9qa"),
            Kind::Foreign
        );
        assert_eq!(
            classify("not-an-id/events/alice@jump.k3x9qa.ronl", "k3x9qa"),
            Kind::Foreign
        );
        assert_eq!(classify(&format!("{ID}/incident.ron"), "x"), Kind::Header);
        assert_eq!(classify(".gitattributes", "x"), Kind::Attributes);
        assert_eq!(classify("allowed_signers", "x"), Kind::Trust);
        assert_eq!(classify("README", "x"), Kind::Foreign);
        let h = "a".repeat(64);
        assert_eq!(
            classify(&format!("{ID}/playbooks/{h}.ron"), "x"),
            Kind::Playbook { hash: h }
        );
        assert_eq!(classify(&format!("{ID}/playbooks/short.ron"), "x"), Kind::Foreign);
    }

    #[test]
    fn claims() {
        assert!(claim_is_ours(Some("alice@jump.k3x9qa"), "k3x9qa"));
        assert!(!claim_is_ours(Some("alice@jump.zzzzzz"), "k3x9qa"));
        assert!(!claim_is_ours(None, "k3x9qa"));
    }

    #[test]
    fn only_complete_lines() {
        assert_eq!(complete_lines(b"a\nb\npart"), b"a\nb\n");
        assert_eq!(complete_lines(b"part"), b"");
        assert_eq!(complete_lines(b""), b"");
    }

    #[test]
    fn appends_are_committed_rollbacks_and_edits_are_not() {
        assert_eq!(compare(None, b"a\n"), Change::New);
        assert_eq!(compare(Some(b"a\n"), b"a\n"), Change::Same);
        assert_eq!(compare(Some(b"a\n"), b"a\nb\nc\n"), Change::Appended { lines: 2 });
        assert_eq!(compare(Some(b"a\nb\n"), b"a\n"), Change::RolledBack);
        assert_eq!(compare(Some(b"a\nb\n"), b"a\nX\n"), Change::Rewritten);
    }

    #[test]
    fn recordings_are_content_addressed() {
        let h = "a".repeat(64);
        assert_eq!(
            classify(&format!("2026-11-22-x-0001/casts/{h}.cast"), "abc123"),
            Kind::Cast { hash: h.clone() }
        );
        assert_eq!(classify("2026-11-22-x-0001/casts/evil.cast", "abc123"), Kind::Foreign);
        assert_eq!(
            classify(&format!("2026-11-22-x-0001/casts/{h}.sh"), "abc123"),
            Kind::Foreign
        );
    }

    #[test]
    fn attributes() {
        assert_eq!(attributes_needed(None).as_deref(), Some("*.ronl -text\n*.ron -text\n"));
        assert_eq!(attributes_needed(Some("*.ron -text\n*.ronl -text\n")), None);
        assert_eq!(
            attributes_needed(Some("*.png binary")).as_deref(),
            Some("*.png binary\n*.ronl -text\n*.ron -text\n")
        );
    }

    #[test]
    fn races() {
        assert!(is_push_race(" ! [rejected]        main -> main (fetch first)"));
        assert!(is_push_race(
            "! [remote rejected] main -> main (cannot lock ref 'refs/heads/main': is at 1 but expected 2)"
        ));
        assert!(!is_push_race("fatal: could not read from remote repository"));
    }

    #[test]
    fn ls_tree() {
        let t = "100644 blob abc     12\ta/b.ron\n040000 tree def       -\tdir\n";
        assert_eq!(parse_ls_tree(t), vec![("a/b.ron".to_string(), "abc".to_string(), 12)]);
    }

    #[test]
    fn remote_args_are_never_options() {
        assert!(valid_remote_arg("origin"));
        assert!(valid_remote_arg("git@example.com:ir/warroom.git"));
        assert!(!valid_remote_arg("--upload-pack=touch /tmp/x"));
        assert!(!valid_remote_arg(""));
        assert!(!valid_remote_arg("a\nb"));
    }

    #[test]
    fn paths() {
        assert!(safe_path(&format!("{ID}/events/a@b.c.ronl")));
        assert!(!safe_path("../x"));
        assert!(!safe_path("/x"));
        assert!(!safe_path("a\nb"));
    }
}
