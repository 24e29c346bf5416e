//! Directory handles: a listing is snapshotted when read from offset 0, so offsets stay
//! stable while the directory changes (an entry added or removed meanwhile is neither
//! duplicated nor skipped; `rewinddir` takes a fresh snapshot).

use std::ffi::OsString;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use fuser::{INodeNo, Request};

use super::{FsError, SharefsFs};
use crate::backing::{DirEntry, ROOT};
use crate::core::FileKey;

impl SharefsFs {
    pub(super) fn do_opendir(
        &self,
        req: &Request,
        ino: INodeNo,
        flags: i32,
    ) -> Result<u64, FsError> {
        if super::control::is_virtual(ino.0) {
            return self.control_opendir(ino.0);
        }
        let inode = self.inode(ino)?;
        if inode.kind != crate::backing::Kind::Dir {
            return Err(FsError::errno(libc::ENOTDIR));
        }
        // A listing handle holds read (FILE_LIST_DIRECTORY) and shares everything, as
        // FindFirstFile's handles do.
        let flags = (flags & !libc::O_ACCMODE) | libc::O_RDONLY | libc::O_DIRECTORY;
        self.open_inode(req, &inode, flags)
    }

    /// The listing to serve from `offset` (entries carry node ids as `d_ino`).
    pub(super) fn do_readdir(
        &self,
        ino: INodeNo,
        fh: u64,
        offset: u64,
    ) -> Result<Arc<Vec<DirEntry>>, FsError> {
        if super::control::is_virtual_fh(fh) {
            return Ok(self.control_listing());
        }
        let h = self.handle_of(ino, fh)?;
        let mut slot = h.listing.lock().unwrap_or_else(|p| p.into_inner());
        let listing = match (&*slot, offset) {
            (Some(l), o) if o > 0 => l.clone(),
            _ => {
                let fresh = Arc::new(self.snapshot_listing(&h.inode, &h.file)?);
                *slot = Some(fresh.clone());
                fresh
            }
        };
        if offset as usize >= listing.len() {
            // Read to the end: most programs close the directory next, and its RELEASE
            // is sent asynchronously (see `retry_after_release`).
            h.closing.store(true, Ordering::Relaxed);
        }
        Ok(listing)
    }

    fn snapshot_listing(
        &self,
        dir: &crate::backing::Inode,
        file: &std::fs::File,
    ) -> Result<Vec<DirEntry>, FsError> {
        let parent = dir.location().map(|l| l.parent).unwrap_or(ROOT);
        let mut out = vec![
            DirEntry {
                ino: dir.node,
                type_bits: crate::backing::sys::mode::S_IFDIR,
                name: OsString::from("."),
            },
            DirEntry {
                ino: parent,
                type_bits: crate::backing::sys::mode::S_IFDIR,
                name: OsString::from(".."),
            },
        ];
        for mut e in self.backing.list(file)? {
            e.ino = self.backing.inodes.node_id_for(FileKey {
                dev: self.backing.root_dev,
                ino: e.ino,
            });
            out.push(e);
        }
        Ok(out)
    }

    pub(super) fn do_fsyncdir(&self, ino: INodeNo, fh: u64) -> Result<(), FsError> {
        let h = self.handle_of(ino, fh)?;
        h.file.sync_all()?;
        Ok(())
    }
}
