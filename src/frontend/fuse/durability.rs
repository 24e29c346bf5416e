//! Write-through and no-buffering (SEMANTICS.md §5; FILE_FLAG_WRITE_THROUGH, NKS SYNCWR,
//! FILE_FLAG_NO_BUFFERING, NKS DIRECTIO; docs/semantics.md, "Durability").
//!
//! Write-through is the backing fd opened with `O_DSYNC` (the program's own `O_SYNC`
//! passes through as `O_SYNC`): one `pwrite` that returns once the data and the metadata
//! needed to read it back are on stable storage, cheaper than `pwrite` + `fdatasync`
//! (bench/run.sh measures both). No-buffering adds a second backing fd opened with
//! `O_DIRECT`, used for requests whose offset and length are multiples of
//! [`DIRECT_ALIGN`] (the data is copied into an aligned buffer); other requests, and
//! backing file systems that refuse `O_DIRECT` (tmpfs), fall back to the write-through
//! fd followed by `POSIX_FADV_DONTNEED`, so no page cache is left behind.

use std::fs::File;
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{FsError, SharefsFs};
use crate::backing::{Inode, OpenFile, sys};

/// Alignment `O_DIRECT` needs on every common Linux file system (logical block size).
pub(super) const DIRECT_ALIGN: usize = 4096;

/// Counters shown in `.sharefs/stats` (tests read them to see which path a write took).
#[derive(Debug, Default)]
pub struct IoStats {
    /// Data writes served.
    pub writes: AtomicU64,
    /// Of those, through a write-through (O_DSYNC/O_SYNC) fd.
    pub write_through: AtomicU64,
    /// Of those, through the O_DIRECT fd.
    pub direct: AtomicU64,
    /// fsync/fdatasync requests served.
    pub fsyncs: AtomicU64,
    /// Parent directories synced after a create or rename under write-through.
    pub dir_syncs: AtomicU64,
}

impl IoStats {
    /// `name value` lines for `.sharefs/stats`.
    pub fn render(&self) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        format!(
            "io.writes {}\nio.write_through_writes {}\nio.direct_writes {}\nio.fsyncs {}\nio.dir_syncs {}\n",
            get(&self.writes),
            get(&self.write_through),
            get(&self.direct),
            get(&self.fsyncs),
            get(&self.dir_syncs)
        )
    }
}

/// A buffer of `len` bytes whose start is aligned to [`DIRECT_ALIGN`], without unsafe:
/// over-allocate and slice at the aligned offset.
fn aligned(len: usize) -> (Vec<u8>, usize) {
    let buf = vec![0u8; len + DIRECT_ALIGN];
    let start = buf.as_ptr().align_offset(DIRECT_ALIGN).min(DIRECT_ALIGN);
    (buf, start)
}

fn is_aligned(offset: u64, len: usize) -> bool {
    len > 0 && offset % DIRECT_ALIGN as u64 == 0 && len % DIRECT_ALIGN == 0
}

impl SharefsFs {
    /// Whether a handle's writes must reach stable storage before they are acknowledged.
    pub(super) fn wants_write_through(&self, flags: i32, options_write_through: bool) -> bool {
        self.cfg.write_through
            || options_write_through
            || flags & (libc::O_SYNC | libc::O_DSYNC) != 0
    }

    /// Opens the `O_DIRECT` fd of a no-buffering handle; `None` (with a log line) where
    /// the backing file system refuses it.
    pub(super) fn open_direct(&self, inode: &Inode, flags: i32) -> Option<File> {
        #[cfg(target_os = "linux")]
        let opened = self
            .backing
            .open_io(inode, (flags & libc::O_ACCMODE) | libc::O_DIRECT);
        // macOS has no O_DIRECT: F_NOCACHE on the fd is its uncached I/O.
        #[cfg(not(target_os = "linux"))]
        let opened = self
            .backing
            .open_io(inode, flags & libc::O_ACCMODE)
            .and_then(|f| sys::set_nocache(f.as_fd()).map(|()| f));
        match opened {
            Ok(f) => Some(f),
            Err(e) => {
                tracing::info!(
                    node = inode.node,
                    "no O_DIRECT on the backing file system ({e}): no-buffering falls back to write-through + FADV_DONTNEED"
                );
                None
            }
        }
    }

    /// Writes `data` at `offset` (already checked against locks, inside the gate).
    pub(super) fn write_data(&self, h: &OpenFile, data: &[u8], offset: u64) -> Result<(), FsError> {
        self.io_stats.writes.fetch_add(1, Ordering::Relaxed);
        if let Some(direct) = h
            .direct
            .as_ref()
            .filter(|_| !h.append && is_aligned(offset, data.len()))
        {
            let (mut buf, start) = aligned(data.len());
            buf[start..start + data.len()].copy_from_slice(data);
            direct.write_all_at(&buf[start..start + data.len()], offset)?;
            self.io_stats.direct.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        h.file
            .write_all_at(data, if h.append { 0 } else { offset })?;
        if h.write_through {
            self.io_stats.write_through.fetch_add(1, Ordering::Relaxed);
        }
        if h.options.no_buffering {
            // Drop what the write left in the page cache (best effort).
            let _ = sys::fadvise_dontneed(h.file.as_fd());
        }
        Ok(())
    }

    /// Writes a mapping's dirty pages back at `offset` (inside the gate). Through a
    /// handle that appends, a fresh non-appending fd of the same inode takes them.
    pub(super) fn write_back_pages(
        &self,
        h: &OpenFile,
        data: &[u8],
        offset: u64,
    ) -> Result<(), FsError> {
        if !h.append {
            return self.write_data(h, data, offset);
        }
        self.io_stats.writes.fetch_add(1, Ordering::Relaxed);
        let in_place = self.backing.open_io(&h.inode, libc::O_WRONLY)?;
        in_place.write_all_at(data, offset)?;
        if h.write_through {
            in_place.sync_data()?;
        }
        Ok(())
    }

    /// Reads into `buf` from `offset` (inside the gate); returns the bytes read.
    pub(super) fn read_data(
        &self,
        h: &OpenFile,
        buf: &mut [u8],
        offset: u64,
    ) -> Result<usize, FsError> {
        if let Some(direct) = h.direct.as_ref().filter(|_| is_aligned(offset, buf.len())) {
            let (mut tmp, start) = aligned(buf.len());
            let n = read_full(direct, &mut tmp[start..start + buf.len()], offset)?;
            buf[..n].copy_from_slice(&tmp[start..start + n]);
            return Ok(n);
        }
        read_full(&h.file, buf, offset)
    }

    /// fsync/fdatasync of a handle (FlushFileBuffers).
    pub(super) fn sync_handle(&self, h: &OpenFile, datasync: bool) -> Result<(), FsError> {
        self.io_stats.fsyncs.fetch_add(1, Ordering::Relaxed);
        if datasync {
            h.file.sync_data()?;
        } else {
            h.file.sync_all()?;
        }
        Ok(())
    }

    /// Makes a directory entry durable (a careful database's fsync of the parent after
    /// creating or renaming a file under write-through).
    pub(super) fn sync_dir(&self, dir: &Inode) -> Result<(), FsError> {
        let f = self
            .backing
            .open_io(dir, libc::O_RDONLY | libc::O_DIRECTORY)?;
        f.sync_all()?;
        self.io_stats.dir_syncs.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

fn read_full(file: &File, buf: &mut [u8], offset: u64) -> Result<usize, FsError> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_buffers_are_aligned() {
        for len in [4096, 8192, 1 << 20] {
            let (buf, start) = aligned(len);
            assert_eq!((buf.as_ptr() as usize + start) % DIRECT_ALIGN, 0);
            assert!(buf.len() >= start + len);
        }
        assert!(is_aligned(8192, 4096));
        assert!(!is_aligned(100, 4096));
        assert!(!is_aligned(0, 100));
        assert!(!is_aligned(0, 0));
    }
}
