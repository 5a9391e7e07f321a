//! Small file-system helpers with the durability and permission rules of the shared directory.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// What says a file was written since it was last looked at: (device, inode) and (length,
/// mtime ns, ctime ns). Any write moves the ctime, which no user can set back.
pub type Stamp = ((u64, u64), (u64, i128, i128));

pub fn stamp(meta: &fs::Metadata) -> Stamp {
    (
        (meta.dev(), meta.ino()),
        (
            meta.len(),
            meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128,
            meta.ctime() as i128 * 1_000_000_000 + meta.ctime_nsec() as i128,
        ),
    )
}

/// `O_NOFOLLOW`: below the shared root a symlink is never followed.
const O_NOFOLLOW: i32 = libc::O_NOFOLLOW;

/// How new folders and files under the root are shared with teammates on the same host.
#[derive(Debug, Clone, Copy)]
pub struct Sharing {
    pub dir_mode: u32,
    pub file_mode: u32,
    pub gid: Option<u32>,
}

impl Sharing {
    /// Take the root's group; group-writable when the root is; never world-writable.
    pub fn of_root(root: &Path) -> Sharing {
        match fs::metadata(root) {
            Ok(m) => {
                let group_writable = m.mode() & 0o020 != 0;
                Sharing {
                    dir_mode: if group_writable { 0o2775 } else { 0o755 },
                    file_mode: if group_writable { 0o664 } else { 0o644 },
                    gid: Some(m.gid()),
                }
            }
            Err(_) => Sharing {
                dir_mode: 0o755,
                file_mode: 0o644,
                gid: None,
            },
        }
    }

    /// Best effort: a file system that ignores modes (SMB, some FUSE) must not stop the work.
    pub fn apply(&self, path: &Path, is_dir: bool) {
        let mode = if is_dir { self.dir_mode } else { self.file_mode };
        if let Some(gid) = self.gid {
            if fs::symlink_metadata(path).is_ok_and(|m| m.gid() != gid) {
                let _ = std::os::unix::fs::chown(path, None, Some(gid));
            }
        }
        let _ = fs::set_permissions(path, fs::Permissions::from_mode(mode));
    }
}

/// Create one folder (not its parents); `Ok(false)` if it already existed.
pub fn create_dir(path: &Path, sharing: Sharing) -> io::Result<bool> {
    match fs::create_dir(path) {
        Ok(()) => {
            sharing.apply(path, true);
            if let Some(parent) = path.parent() {
                sync_dir(parent);
            }
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let m = fs::symlink_metadata(path)?;
            if m.file_type().is_symlink() || !m.is_dir() {
                return Err(io::Error::other(format!(
                    "{} exists and is not a folder",
                    path.display()
                )));
            }
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// fsync a directory so a new entry in it survives a crash. Some network file systems refuse:
/// that is not an error worth stopping for.
pub fn sync_dir(path: &Path) {
    if let Ok(d) = File::open(path) {
        let _ = d.sync_all();
    }
}

/// A folder below the shared root, itself and not a symlink to somewhere else: below the root
/// nothing is followed (an `events/` replaced by a symlink would send reads and writes into
/// another incident).
pub fn real_dir(path: &Path) -> io::Result<()> {
    let m = fs::symlink_metadata(path)?;
    if m.file_type().is_symlink() {
        return Err(io::Error::other(
            "is a symlink; symlinks below the shared root are not followed",
        ));
    }
    if !m.is_dir() {
        return Err(io::Error::other("is not a folder"));
    }
    Ok(())
}

/// A text file a person or a tool wrote (playbook, scenario, config, keymap): read as UTF-8,
/// with a leading byte-order mark dropped and CRLF line endings read as LF.
pub fn read_text_file(path: &Path) -> io::Result<String> {
    let text = std::fs::read_to_string(path)?;
    Ok(match crate::domain::input::normalise_text(&text) {
        std::borrow::Cow::Borrowed(b) if b.len() == text.len() => text,
        clean => clean.into_owned(),
    })
}

/// Open a regular file for reading without following a symlink. `O_NONBLOCK` keeps a FIFO planted
/// in the shared directory from hanging the reader; anything but a regular file is refused.
pub fn open_read(path: &Path) -> io::Result<File> {
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)?;
    if !f.metadata()?.is_file() {
        return Err(io::Error::other("not a regular file"));
    }
    Ok(f)
}

/// Open (creating if needed) a file for positioned writes without following a symlink.
/// Returns whether it was created.
pub fn open_write(path: &Path, sharing: Sharing) -> io::Result<(File, bool)> {
    match OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .custom_flags(O_NOFOLLOW)
        .mode(sharing.file_mode)
        .open(path)
    {
        Ok(f) => {
            sharing.apply(path, false);
            if let Some(parent) = path.parent() {
                sync_dir(parent);
            }
            Ok((f, true))
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .custom_flags(O_NOFOLLOW)
                .open(path)?;
            Ok((f, false))
        }
        Err(e) => Err(e),
    }
}

/// Write a whole file: temp file in the same folder, fsync, rename into place, fsync the folder.
pub fn write_atomic(path: &Path, bytes: &[u8], sharing: Sharing) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    sharing.apply(tmp.path(), false);
    tmp.persist(path).map_err(|e| e.error)?;
    sync_dir(dir);
    Ok(())
}

/// Like [`write_atomic`] without the syncs: for a local cache, where a file lost to a crash
/// costs only a rebuild (never a wrong read: the rename is atomic).
pub fn write_atomic_unsynced(path: &Path, bytes: &[u8], sharing: Sharing) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    sharing.apply(tmp.path(), false);
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// The numeric uid of this process (without unsafe code: the owner of `/proc/self`).
pub fn current_uid() -> Option<u32> {
    fs::metadata("/proc/self").ok().map(|m| m.uid())
}

impl Sharing {
    /// For files in the user's own state folder.
    pub fn private() -> Sharing {
        Sharing {
            dir_mode: 0o700,
            file_mode: 0o600,
            gid: None,
        }
    }
}
