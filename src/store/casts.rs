//! Recordings of commands warroom ran, `<incident>/casts/<blake3>.cast` (asciicast v2),
//! content-addressed like the playbook copies: written once to a temp file in the folder, then
//! renamed to their hash. Whoever can write the shared folder could replace one; the hash on the
//! timeline (`ActionOutput.cast`) says whether it is the recording that was made.

use std::path::{Path, PathBuf};

use super::{fsutil, Store, StoreError, CASTS_DIR};
use crate::domain::event::is_hash;

/// The largest recording read back (a recording keeps at most 4 MiB of output, JSON-escaped).
pub const MAX_CAST: u64 = 32 << 20;

/// Store a recording; returns its hash.
pub fn save(store: &Store, incident: &str, bytes: &[u8]) -> Result<String, StoreError> {
    let dir = store.incident_dir(incident).join(CASTS_DIR);
    fsutil::create_dir(&dir, store.sharing).map_err(StoreError::io(format!("cannot create {}", dir.display())))?;
    let hash = blake3::hash(bytes).to_hex().to_string();
    let path = dir.join(format!("{hash}.cast"));
    fsutil::write_atomic(&path, bytes, store.sharing)
        .map_err(StoreError::io(format!("cannot write {}", path.display())))?;
    Ok(hash)
}

/// The recording named by `wanted` (a path to a file, or a hash or unique prefix of one in the
/// incident's `casts/` folder).
pub fn locate(store: Option<&Store>, incident: Option<&str>, wanted: &str) -> Result<PathBuf, String> {
    let as_path = Path::new(wanted);
    if wanted.contains('/') || wanted.ends_with(".cast") || incident.is_none() {
        return Ok(as_path.to_path_buf());
    }
    let (Some(store), Some(id)) = (store, incident) else {
        return Ok(as_path.to_path_buf());
    };
    let dir = store.incident_dir(id).join(CASTS_DIR);
    let mut hits: Vec<String> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter_map(|n| n.strip_suffix(".cast").map(str::to_string))
        .filter(|h| is_hash(h) && h.starts_with(wanted))
        .collect();
    hits.sort();
    match hits.as_slice() {
        [one] => Ok(dir.join(format!("{one}.cast"))),
        [] => Err(format!(
            "{id} has no recording whose hash starts with `{}`",
            crate::domain::sanitize(wanted)
        )),
        many => Err(format!(
            "`{}` names {} recordings: give more of the hash",
            crate::domain::sanitize(wanted),
            many.len()
        )),
    }
}

/// Read a recording (size-capped, never through a symlink); also says whether its content
/// matches the hash in its file name (`None`: the name is not a hash).
pub fn read(path: &Path) -> Result<(String, Option<bool>), String> {
    let file = fsutil::open_read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if len > MAX_CAST {
        return Err(format!(
            "{}: {len} bytes is larger than a recording can be",
            path.display()
        ));
    }
    let mut bytes = Vec::new();
    use std::io::Read;
    file.take(MAX_CAST)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let named = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(".cast"))
        .filter(|h| is_hash(h));
    let matches = named.map(|h| blake3::hash(&bytes).to_hex().as_str() == h);
    let text = String::from_utf8(bytes).map_err(|_| format!("{}: not UTF-8 text", path.display()))?;
    Ok((text, matches))
}
