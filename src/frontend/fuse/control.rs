//! The virtual control directory (`.sharefs/` at the mount root; docs/control-api.md):
//! not in the backing directory, not listed by `readdir` of the root, but `stat` and
//! `cd` work. Its files are served with direct I/O so each write reaches the daemon
//! from the writing thread (the FUSE header's pid is that thread's id).

use std::collections::HashMap;
use std::ffi::OsStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::UNIX_EPOCH;

use fuser::{FileAttr, FileType, FopenFlags, INodeNo, Request};

use super::{FsError, SharefsFs};
use crate::backing::{DirEntry, ROOT};
use crate::control::Intent;

/// Node id of the control directory.
pub(super) const CONTROL_DIR: u64 = 2;
/// Node id of `.sharefs/intent`.
pub(super) const INTENT: u64 = 3;
/// Node id of `.sharefs/locks` (text lock table).
const LOCKS: u64 = 4;
/// Node id of `.sharefs/locks.json`.
const LOCKS_JSON: u64 = 5;
/// Node id of `.sharefs/conflicts` (text conflict log).
const CONFLICTS: u64 = 6;
/// Node id of `.sharefs/conflicts.json`.
const CONFLICTS_JSON: u64 = 7;
/// Node id of `.sharefs/stats`.
const STATS: u64 = 8;
/// Node id of `.sharefs/policy` (read: the policy's status; write `reload`).
const POLICY: u64 = 20;

/// fh values of virtual files have the top bit set, so they never collide with the
/// handle table's (which counts up from 1).
const VIRTUAL_FH: u64 = 1 << 63;

/// The files of the control directory: name, node id, mode.
const FILES: &[(&str, u64, u16)] = &[
    ("intent", INTENT, 0o666),
    ("locks", LOCKS, 0o444),
    ("locks.json", LOCKS_JSON, 0o444),
    ("conflicts", CONFLICTS, 0o444),
    ("conflicts.json", CONFLICTS_JSON, 0o444),
    ("stats", STATS, 0o444),
    ("policy", POLICY, 0o644),
];

/// A virtual file's node and (for snapshot files) the content taken at open.
type VirtualOpen = (u64, Option<Arc<Vec<u8>>>);

/// Open virtual files; content snapshots are taken at open so a reader sees one
/// consistent version across several reads.
#[derive(Debug, Default)]
pub struct VirtualHandles {
    map: std::sync::Mutex<HashMap<u64, VirtualOpen>>,
    next: AtomicU64,
}

impl VirtualHandles {
    fn insert(&self, node: u64, content: Option<Arc<Vec<u8>>>) -> u64 {
        let fh = VIRTUAL_FH | self.next.fetch_add(1, Ordering::Relaxed);
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(fh, (node, content));
        fh
    }

    fn get(&self, fh: u64) -> Option<VirtualOpen> {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&fh)
            .cloned()
    }

    fn remove(&self, fh: u64) {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&fh);
    }
}

/// Whether a node id is one of the control directory's.
pub(super) fn is_virtual(node: u64) -> bool {
    node == CONTROL_DIR || FILES.iter().any(|(_, n, _)| *n == node)
}

/// Whether an fh belongs to a virtual file.
pub(super) fn is_virtual_fh(fh: u64) -> bool {
    fh & VIRTUAL_FH != 0
}

fn virtual_attr(node: u64) -> FileAttr {
    let (kind, perm, nlink) = if node == CONTROL_DIR {
        (FileType::Directory, 0o555, 2)
    } else {
        let perm = FILES
            .iter()
            .find(|(_, n, _)| *n == node)
            .map(|(_, _, m)| *m)
            .unwrap_or(0o444);
        (FileType::RegularFile, perm, 1)
    };
    FileAttr {
        ino: INodeNo(node),
        size: 0,
        blocks: 0,
        atime: UNIX_EPOCH,
        mtime: UNIX_EPOCH,
        ctime: UNIX_EPOCH,
        crtime: UNIX_EPOCH,
        kind,
        perm,
        nlink,
        uid: 0,
        gid: 0,
        rdev: 0,
        blksize: 4096,
        flags: 0,
    }
}

impl SharefsFs {
    /// The control directory's name at the root, if `name` is it.
    pub(super) fn is_control_name(&self, parent: u64, name: &OsStr) -> bool {
        parent == ROOT && name == self.cfg.control_name.as_os_str()
    }

    /// Refuses creating, removing or renaming the control directory or anything in it.
    pub(super) fn check_not_control(&self, parent: u64, name: &OsStr) -> Result<(), FsError> {
        if parent == CONTROL_DIR {
            return Err(FsError::errno(libc::EPERM));
        }
        if self.is_control_name(parent, name) {
            return Err(FsError::errno(libc::EEXIST));
        }
        Ok(())
    }

    /// Lookup inside or of the control directory; `None` when not a control name.
    pub(super) fn control_lookup(
        &self,
        parent: u64,
        name: &OsStr,
    ) -> Option<Result<FileAttr, FsError>> {
        if self.is_control_name(parent, name) {
            return Some(Ok(virtual_attr(CONTROL_DIR)));
        }
        if parent != CONTROL_DIR {
            return None;
        }
        Some(
            FILES
                .iter()
                .find(|(n, _, _)| OsStr::new(n) == name)
                .map(|(_, node, _)| virtual_attr(*node))
                .ok_or_else(|| FsError::errno(libc::ENOENT)),
        )
    }

    pub(super) fn control_getattr(&self, node: u64) -> FileAttr {
        virtual_attr(node)
    }

    pub(super) fn control_open(&self, node: u64) -> Result<(u64, FopenFlags), FsError> {
        if node == CONTROL_DIR {
            return Err(FsError::errno(libc::EISDIR));
        }
        // Read-only files are snapshotted at open: one consistent version however the
        // reader splits its reads.
        let content = match node {
            LOCKS => {
                let (rows, raw) = self.lock_rows();
                Some(crate::control::table::render_text(&rows, &raw))
            }
            LOCKS_JSON => Some(crate::control::table::render_json(&self.lock_rows().0)),
            CONFLICTS => Some(self.conflicts.render_text()),
            CONFLICTS_JSON => Some(self.conflicts.render_json()),
            STATS => Some(self.render_stats()),
            POLICY => Some(self.render_policy()),
            _ => None,
        };
        let content = content.map(|c| Arc::new(c.into_bytes()));
        Ok((
            self.virtual_handles.insert(node, content),
            FopenFlags::FOPEN_DIRECT_IO,
        ))
    }

    /// `.sharefs/stats`: conflict counters and a few gauges.
    fn render_stats(&self) -> String {
        let mut s = self.conflicts.render_stats();
        s.push_str(&format!("handles.open {}\n", self.handles.len()));
        s.push_str(&format!("inodes.live {}\n", self.backing.inodes.len()));
        s.push_str(&self.io_stats.render());
        s
    }

    pub(super) fn control_opendir(&self, node: u64) -> Result<u64, FsError> {
        if node != CONTROL_DIR {
            return Err(FsError::errno(libc::ENOTDIR));
        }
        Ok(self.virtual_handles.insert(node, None))
    }

    /// An open, create or opendir consumes the thread's intent whether it succeeds or
    /// fails; a failure before the intent was looked at must still drop it.
    pub(super) fn intent_spent(&self, req: &Request, failed: bool) {
        if failed {
            self.intents.clear(req.pid());
        }
    }

    pub(super) fn control_release(&self, fh: u64) {
        self.virtual_handles.remove(fh);
    }

    /// Entries of the control directory.
    pub(super) fn control_listing(&self) -> Arc<Vec<DirEntry>> {
        let entry = |ino: u64, type_bits: u32, name: &str| DirEntry {
            ino,
            type_bits,
            name: name.into(),
        };
        let mut v = vec![
            entry(CONTROL_DIR, crate::backing::sys::mode::S_IFDIR, "."),
            entry(ROOT, crate::backing::sys::mode::S_IFDIR, ".."),
        ];
        v.extend(
            FILES
                .iter()
                .map(|(n, node, _)| entry(*node, crate::backing::sys::mode::S_IFREG, n)),
        );
        Arc::new(v)
    }

    pub(super) fn control_read(
        &self,
        req: &Request,
        fh: u64,
        offset: u64,
        size: u32,
    ) -> Result<Vec<u8>, FsError> {
        let (node, snapshot) = self
            .virtual_handles
            .get(fh)
            .ok_or_else(|| FsError::errno(libc::EBADF))?;
        let content: Arc<Vec<u8>> = match (node, snapshot) {
            (_, Some(c)) => c,
            (INTENT, None) => {
                let line = self
                    .intents
                    .peek(req.pid())
                    .map(|i| format!("{}\n", i.to_line()))
                    .unwrap_or_default();
                Arc::new(line.into_bytes())
            }
            _ => Arc::new(Vec::new()),
        };
        let start = (offset as usize).min(content.len());
        let end = start.saturating_add(size as usize).min(content.len());
        Ok(content[start..end].to_vec())
    }

    pub(super) fn control_write(
        &self,
        req: &Request,
        fh: u64,
        data: &[u8],
    ) -> Result<u32, FsError> {
        let (node, _) = self
            .virtual_handles
            .get(fh)
            .ok_or_else(|| FsError::errno(libc::EBADF))?;
        if node == POLICY {
            return self.policy_write(req, data);
        }
        if node != INTENT {
            return Err(FsError::errno(libc::EBADF));
        }
        let tid = req.pid();
        // A blank line withdraws the thread's pending intent (clients send one after an
        // open the kernel refused before it reached the daemon, e.g. ENOENT).
        if data.iter().all(|b| b.is_ascii_whitespace()) {
            self.intents.clear(tid);
            return Ok(data.len() as u32);
        }
        match Intent::parse(data) {
            Ok(intent) => {
                tracing::debug!(tid, intent = %intent.to_line(), "intent set");
                self.intents.set(tid, intent);
                Ok(data.len() as u32)
            }
            Err(e) => {
                self.intents.clear(tid);
                tracing::warn!(
                    tid,
                    line = %String::from_utf8_lossy(&data[..data.len().min(256)]),
                    "intent refused: {e}"
                );
                Err(FsError::errno(libc::EINVAL))
            }
        }
    }
}
