//! FUSE file handles ↔ open backing fds and the core's open ids.
//!
//! `release` only removes the map entry; the fd closes when the last `Arc` drops, so a
//! read racing with the release of its handle finishes safely.

use std::collections::HashMap;
use std::fs::File;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use super::DirEntry;
use super::inode_table::Inode;
use crate::core::{Classes, HandleId};

/// One open file or directory handle.
#[derive(Debug)]
pub struct OpenFile {
    /// The inode it was opened on (keeps the `O_PATH` fd alive).
    pub inode: Arc<Inode>,
    /// The backing I/O fd (for directories: opened `O_RDONLY | O_DIRECTORY`).
    pub file: File,
    /// The core's record of this open.
    pub core: HandleId,
    /// Classes this handle holds; reads/writes outside them fail with EBADF.
    pub access: Classes,
    /// Control-API options of this open (write-through, windows_locks, …).
    pub options: crate::control::OpenOptions,
    /// Writes reach stable storage before they are acknowledged (the fd has O_DSYNC or
    /// O_SYNC).
    pub write_through: bool,
    /// The `O_DIRECT` fd of a no-buffering handle, where the backing fs allows it.
    pub direct: Option<File>,
    /// The daemon appends itself (backing fd has `O_APPEND`): the kernel's offset for a
    /// direct-I/O append comes from a cached size and may be stale.
    pub append: bool,
    /// Directory listing snapshot, taken at offset 0 so offsets stay stable while the
    /// directory changes.
    pub listing: Mutex<Option<Arc<Vec<DirEntry>>>>,
    /// A close() has been seen (FLUSH) or a listing was read to its end: a RELEASE is
    /// probably in flight, so a conflict with this handle is worth a short wait.
    pub closing: AtomicBool,
    /// Its RELEASE has begun: it goes from the table as soon as the core has forgotten
    /// it and any name its close removes is gone.
    pub releasing: AtomicBool,
    /// The process (thread id) that opened it, and the last one whose close() of a
    /// descriptor of it was seen (0: none yet). While either still has a descriptor or
    /// a mapping of the inode, a FLUSH was not its last close.
    pub opener: u32,
    /// See `opener`.
    pub flushed_by: AtomicU32,
    /// Set-user/group-id bits were checked (and dropped) at this handle's first write
    /// by an unprivileged caller.
    pub privs_checked: AtomicBool,
}

/// The table of open handles, keyed by the FUSE `fh`.
#[derive(Debug, Default)]
pub struct HandleTable {
    map: RwLock<HashMap<u64, Arc<OpenFile>>>,
    next: AtomicU64,
}

impl HandleTable {
    /// An empty table.
    pub fn new() -> HandleTable {
        HandleTable {
            map: RwLock::new(HashMap::new()),
            next: AtomicU64::new(1),
        }
    }

    /// Adds a handle and returns its `fh`.
    pub fn insert(&self, file: OpenFile) -> u64 {
        let fh = self.next.fetch_add(1, Ordering::Relaxed);
        self.map
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(fh, Arc::new(file));
        fh
    }

    /// The handle for `fh`, if it belongs to `node` (else the kernel and we disagree:
    /// EBADF).
    pub fn get(&self, fh: u64, node: u64) -> Option<Arc<OpenFile>> {
        let map = self.map.read().unwrap_or_else(|p| p.into_inner());
        map.get(&fh).filter(|h| h.inode.node == node).cloned()
    }

    /// The handle for `fh` whatever its node (copy_file_range names two).
    pub fn get_any(&self, fh: u64) -> Option<Arc<OpenFile>> {
        let map = self.map.read().unwrap_or_else(|p| p.into_inner());
        map.get(&fh).cloned()
    }

    /// Removes a handle; its fd closes when the last user drops it.
    pub fn remove(&self, fh: u64) -> Option<Arc<OpenFile>> {
        self.map
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&fh)
    }

    /// The handle the core knows as `id`, if it is still in the table.
    pub fn by_core(&self, id: HandleId) -> Option<Arc<OpenFile>> {
        let map = self.map.read().unwrap_or_else(|p| p.into_inner());
        map.values().find(|h| h.core == id).cloned()
    }

    /// The handles of the file with `key` whose close() or RELEASE was seen.
    pub fn closing_of(&self, key: crate::core::FileKey) -> Vec<Arc<OpenFile>> {
        let map = self.map.read().unwrap_or_else(|p| p.into_inner());
        map.values()
            .filter(|h| h.inode.key == key && h.closing.load(Ordering::Relaxed))
            .cloned()
            .collect()
    }

    /// Number of open handles.
    pub fn len(&self) -> usize {
        self.map.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// True when no handle is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
