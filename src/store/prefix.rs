//! What the reader already read of a log, kept as hashes of its 64 KiB blocks, so that a log
//! changed in place after it was read (same file, bytes overwritten: `cp` over it, an editor
//! writing in place, `dd conv=notrunc`) is found without reading it whole again.
//!
//! The reader reads only bytes past its offset; whatever changed before the offset would stay
//! on screen as it was read while a fresh read (`show`, `verify`, a console started now) sees
//! the new bytes. Checking costs one BLAKE3 pass over the bytes checked (≈ 0.1 ms per MiB from
//! the page cache); [`ReadPrefix::check`] checks everything, or a budget of blocks in turn.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

/// Bytes per hashed block: 300 MB of log keep 4,800 hashes (150 KB).
pub const BLOCK: u64 = 64 << 10;

/// The hashes of the first [`ReadPrefix::len`] bytes of a log, block by block.
#[derive(Clone, Default)]
pub struct ReadPrefix {
    /// BLAKE3 of each whole block, in order.
    blocks: Vec<[u8; 32]>,
    /// Hashing the block being filled (`len % BLOCK` bytes so far).
    tail: blake3::Hasher,
    /// Hashing the hashes of the whole blocks, for [`ReadPrefix::digest`].
    chain: blake3::Hasher,
    len: u64,
    /// The next whole block a budgeted check looks at (they are checked in turn).
    next: usize,
}

impl std::fmt::Debug for ReadPrefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadPrefix")
            .field("len", &self.len)
            .field("blocks", &self.blocks.len())
            .finish()
    }
}

impl ReadPrefix {
    /// Bytes hashed so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether no byte was hashed yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// One hash of all the bytes taken (through the block hashes and the length): what the
    /// local log cache keeps of the log's start, so the bytes are hashed once on a cached open.
    pub fn digest(&self) -> [u8; 32] {
        let mut h = self.chain.clone();
        h.update(self.tail.finalize().as_bytes());
        h.update(&self.len.to_le_bytes());
        *h.finalize().as_bytes()
    }

    /// Take the next bytes of the log, in order.
    pub fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let room = (BLOCK - self.len % BLOCK) as usize;
            let (now, rest) = bytes.split_at(room.min(bytes.len()));
            self.tail.update(now);
            self.len += now.len() as u64;
            if self.len.is_multiple_of(BLOCK) {
                let block = *self.tail.finalize().as_bytes();
                self.chain.update(&block);
                self.blocks.push(block);
                self.tail.reset();
            }
            bytes = rest;
        }
    }

    /// Whether `file` still holds the bytes hashed: the block being filled always, and the
    /// whole blocks before it — all of them (`budget: None`), or about `budget` bytes of them,
    /// taking the blocks in turn from where the last check stopped (a log that keeps growing
    /// is checked whole every `len / budget` checks). A file shorter than what was read does
    /// not hold it. Errors are the file's read errors.
    pub fn check(&mut self, file: &mut File, budget: Option<u64>) -> std::io::Result<bool> {
        let whole = self.blocks.len();
        let tail_at = whole as u64 * BLOCK;
        let mut buf = vec![0u8; BLOCK as usize];
        if !same(
            file,
            &mut buf,
            tail_at,
            self.len - tail_at,
            self.tail.finalize().as_bytes(),
        )? {
            return Ok(false);
        }
        match budget {
            None => {
                for (i, want) in self.blocks.iter().enumerate() {
                    if !same(file, &mut buf, i as u64 * BLOCK, BLOCK, want)? {
                        return Ok(false);
                    }
                }
            }
            Some(b) => {
                for _ in 0..(b.div_ceil(BLOCK) as usize).min(whole) {
                    let i = self.next % whole;
                    if !same(file, &mut buf, i as u64 * BLOCK, BLOCK, &self.blocks[i])? {
                        return Ok(false);
                    }
                    self.next = (i + 1) % whole;
                }
            }
        }
        Ok(true)
    }
}

/// Whether `file`'s `len` bytes at `at` (at most a block, read into `buf`) hash to `want` (a
/// short file does not).
fn same(file: &mut File, buf: &mut [u8], at: u64, len: u64, want: &[u8; 32]) -> std::io::Result<bool> {
    file.seek(SeekFrom::Start(at))?;
    let buf = &mut buf[..len as usize];
    let mut got = 0;
    while got < buf.len() {
        match file.read(&mut buf[got..])? {
            0 => return Ok(false),
            n => got += n,
        }
    }
    Ok(blake3::hash(buf).as_bytes() == want)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::Write;

    fn file_with(bytes: &[u8]) -> (tempfile::NamedTempFile, File) {
        let mut f = tempfile::NamedTempFile::new().expect("temp file");
        f.write_all(bytes).expect("write");
        let read = File::open(f.path()).expect("open");
        (f, read)
    }

    fn fed(bytes: &[u8], pieces: &[usize]) -> ReadPrefix {
        let mut p = ReadPrefix::default();
        let mut rest = bytes;
        for &n in pieces {
            let (a, b) = rest.split_at(n.min(rest.len()));
            p.feed(a);
            rest = b;
        }
        p.feed(rest);
        p
    }

    #[test]
    fn unchanged_bytes_check_and_a_changed_byte_anywhere_does_not() {
        let bytes: Vec<u8> = (0..(3 * BLOCK + 100)).map(|i| (i % 251) as u8).collect();
        let mut p = fed(&bytes, &[7, 70_000, 1]);
        assert_eq!(p.len(), bytes.len() as u64);
        let mut edited = bytes.clone();
        edited[5] ^= 1;
        assert_ne!(p.digest(), fed(&edited, &[]).digest());
        assert_ne!(p.digest(), fed(&bytes[..bytes.len() - 1], &[]).digest());
        let (_t, mut f) = file_with(&bytes);
        assert!(p.check(&mut f, None).expect("read"));
        for at in [
            0,
            BLOCK as usize - 1,
            BLOCK as usize,
            2 * BLOCK as usize + 5,
            bytes.len() - 1,
        ] {
            let mut edited = bytes.clone();
            edited[at] ^= 1;
            let (_t, mut f) = file_with(&edited);
            assert!(!p.check(&mut f, None).expect("read"), "edit at {at} missed");
        }
    }

    #[test]
    fn a_shorter_file_does_not_hold_what_was_read_and_a_longer_one_may() {
        let bytes = vec![b'x'; BLOCK as usize + 10];
        let mut p = fed(&bytes, &[]);
        let (_t, mut f) = file_with(&bytes[..bytes.len() - 1]);
        assert!(!p.check(&mut f, None).expect("read"));
        let mut longer = bytes.clone();
        longer.extend_from_slice(b"appended\n");
        let (_t, mut f) = file_with(&longer);
        assert!(p.check(&mut f, None).expect("read"));
    }

    #[test]
    fn a_budgeted_check_finds_an_edit_within_len_over_budget_checks() {
        let blocks = 10;
        let bytes = vec![b'a'; (blocks * BLOCK) as usize];
        let mut p = fed(&bytes, &[]);
        let mut edited = bytes.clone();
        edited[(3 * BLOCK + 9) as usize] = b'b';
        let (_t, mut f) = file_with(&edited);
        let found = (0..blocks).position(|_| !p.check(&mut f, Some(BLOCK)).expect("read"));
        assert!(found.is_some_and(|n| n <= 3), "found after {found:?} checks");
    }

    proptest! {
        /// However the bytes were fed, the hashes are the same.
        #[test]
        fn feeding_in_any_pieces_hashes_the_same(len in 0usize..200_000, cuts in proptest::collection::vec(0usize..80_000, 0..6)) {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 7 % 256) as u8).collect();
            let a = fed(&bytes, &cuts);
            let b = fed(&bytes, &[]);
            prop_assert_eq!(&a.blocks, &b.blocks);
            prop_assert_eq!(a.digest(), b.digest());
            prop_assert_eq!(a.tail.finalize(), b.tail.finalize());
            prop_assert_eq!(a.len, b.len);
        }
    }
}
