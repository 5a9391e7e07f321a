//! What this host remembers of an incident between runs, in its own state directory (never the
//! shared one): the declaring log the claim named when first read, and the newest record of each
//! log it has read. A log later cut back or rewritten below that, or a claim rewritten to name
//! another declarer, is then caught by every host that had read the incident — not only the
//! writer's.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{fsutil, Store};

/// A record this host has seen: its seq and the BLAKE3 of its line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenHead {
    pub seq: u64,
    pub hash: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Memory {
    /// Which incident, and in which shared root (so a removed incident can be named).
    #[serde(default)]
    pub incident: Option<String>,
    #[serde(default)]
    pub root: Option<String>,
    /// The declaring log (`name@host.install`) as `incident.ron` named it when first read.
    #[serde(default)]
    pub claim: Option<String>,
    /// The newest record read of each log, by log id.
    #[serde(default)]
    pub heads: BTreeMap<String, SeenHead>,
}

/// Where an incident's memory is kept: keyed by the incident folder's path.
pub fn path(store: &Store, id: &str) -> PathBuf {
    let dir = store.incident_dir(id);
    let key = &crate::domain::event::line_hash(dir.as_os_str().as_encoded_bytes())[..32];
    store.state_dir.join("seen").join(format!("{key}.ron"))
}

/// Incidents this host read in this shared root that are no longer there (`present` lists the
/// ones that are): removed or renamed, which no one else may notice.
pub fn gone(store: &Store, present: &[String]) -> Vec<crate::domain::Problem> {
    let root = store.root.display().to_string();
    // The memories of the incidents present are where `save` puts them (keyed by their folder's
    // path): not read. Only the others can name an incident that is gone (a thousand incidents'
    // memories were read and parsed here, one by one, before any summary).
    let here: std::collections::HashSet<std::ffi::OsString> = present
        .iter()
        .filter_map(|id| path(store, id).file_name().map(|n| n.to_os_string()))
        .collect();
    let mut out = Vec::new();
    for entry in std::fs::read_dir(store.state_dir.join("seen"))
        .into_iter()
        .flatten()
        .flatten()
    {
        if here.contains(&entry.file_name()) {
            continue;
        }
        let Some(m) = std::fs::read_to_string(entry.path())
            .ok()
            .and_then(|t| ron::from_str::<Memory>(&t).ok())
        else {
            continue;
        };
        if let (Some(id), Some(r)) = (m.incident, m.root) {
            if r == root && !present.contains(&id) {
                out.push(crate::domain::Problem::new(
                    id,
                    None,
                    "this host read this incident before, but its folder is gone from the shared directory (removed or renamed)",
                ));
            }
        }
    }
    out.sort();
    out
}

/// This host's memory of incident `id` (empty if it never read it, or the file is unreadable).
pub fn load(store: &Store, id: &str) -> Memory {
    std::fs::read_to_string(path(store, id))
        .ok()
        .and_then(|t| ron::from_str(&t).ok())
        .unwrap_or_default()
}

/// Write the memory (atomically; a lost update only weakens one later check).
///
/// Replacing a memory this host already had is synced (file and folder): a crash must not
/// leave a torn file in place of heads remembered on earlier runs, which would drop their check.
/// The first memory of an incident is not synced: a crash can then only lose it or leave it torn,
/// and a torn or missing file reads as "never read" ([`load`]), which is exactly where this host
/// stood before that read — nothing remembered earlier is lost. (A first `list` or board of a
/// thousand incidents paid two fsyncs per incident for it: most of its cold time.)
pub fn save(store: &Store, id: &str, memory: &Memory) {
    let file = path(store, id);
    let mut memory = memory.clone();
    memory.incident = Some(id.to_string());
    memory.root = Some(store.root.display().to_string());
    let text = ron::to_string(&memory).unwrap_or_default();
    let first = matches!(std::fs::symlink_metadata(&file), Err(e) if e.kind() == std::io::ErrorKind::NotFound);
    let write = if first {
        fsutil::write_atomic_unsynced
    } else {
        fsutil::write_atomic
    };
    if write(&file, text.as_bytes(), super::Sharing::private()).is_err() {
        // The folder is made on the first write only (not once per incident read).
        if let Some(dir) = file.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = write(&file, text.as_bytes(), super::Sharing::private());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{RootChoice, RootSource};

    /// A first memory is written without fsync (see [`save`]): what a crash can leave of it — a
    /// cut-short file, or zeros where its bytes never reached the disk — must read as "never
    /// read", never as heads this host did not see; the next read writes it whole again.
    #[test]
    fn a_torn_first_memory_reads_as_never_read_and_is_written_again() {
        let tmp = tempfile::tempdir().expect("tmp");
        let choice = RootChoice {
            path: tmp.path().join("shared"),
            source: RootSource::Flag,
        };
        let store = Store::open(&choice, tmp.path().join("state"), tmp.path().join("run")).expect("store");
        let id = "2026-11-30-torn-aaaa";
        let mut m = Memory {
            claim: Some("alice@h1.abc123".into()),
            ..Memory::default()
        };
        for (log, seq) in [("alice@h1.abc123", 100), ("bob@h2.def456", 7)] {
            m.heads.insert(
                log.into(),
                SeenHead {
                    seq,
                    hash: "ab".repeat(32),
                },
            );
        }
        save(&store, id, &m);
        let file = path(&store, id);
        let whole = std::fs::read(&file).expect("written");
        let saved = load(&store, id);
        assert_eq!(
            (saved.claim.clone(), saved.heads.clone()),
            (m.claim.clone(), m.heads.clone())
        );
        for cut in 0..whole.len() {
            std::fs::write(&file, &whole[..cut]).expect("cut");
            assert_eq!(load(&store, id), Memory::default(), "cut at {cut} bytes");
        }
        std::fs::write(&file, vec![0u8; whole.len()]).expect("zeros");
        assert_eq!(load(&store, id), Memory::default());
        // The next save replaces the torn file (synced now: there was a file).
        save(&store, id, &m);
        assert_eq!(std::fs::read(&file).expect("rewritten"), whole);
    }
}
