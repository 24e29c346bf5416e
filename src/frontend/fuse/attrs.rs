//! Attributes: getattr/setattr, statfs, extended attributes, access.

use std::ffi::OsStr;
use std::time::UNIX_EPOCH;

use fuser::{FileAttr, INodeNo, Request, TimeOrNow};

use super::{FsError, SharefsFs, attr};
use crate::backing::{Backing, Kind, sys};
use crate::core::Classes;

/// "No such attribute": `ENODATA` on Linux, `ENOATTR` on macOS.
#[cfg(target_os = "linux")]
const NO_XATTR: i32 = libc::ENODATA;
#[cfg(not(target_os = "linux"))]
const NO_XATTR: i32 = libc::ENOATTR;

/// What a setattr asks to change.
#[derive(Debug, Default)]
pub(super) struct AttrChange {
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub size: Option<u64>,
    pub atime: Option<TimeOrNow>,
    pub mtime: Option<TimeOrNow>,
    pub fh: Option<u64>,
}

fn timespec(t: Option<TimeOrNow>) -> sys::TimeSpec {
    match t {
        None => sys::TimeSpec::Omit,
        Some(TimeOrNow::Now) => sys::TimeSpec::Now,
        Some(TimeOrNow::SpecificTime(t)) => match t.duration_since(UNIX_EPOCH) {
            Ok(d) => sys::TimeSpec::At(d.as_secs() as i64, d.subsec_nanos() as i64),
            Err(e) => {
                let d = e.duration();
                let (mut sec, mut nsec) = (-(d.as_secs() as i64), -(d.subsec_nanos() as i64));
                if nsec < 0 {
                    sec -= 1;
                    nsec += 1_000_000_000;
                }
                sys::TimeSpec::At(sec, nsec)
            }
        },
    }
}

impl SharefsFs {
    pub(super) fn do_getattr(&self, ino: INodeNo) -> Result<FileAttr, FsError> {
        if super::control::is_virtual(ino.0) {
            return Ok(self.control_getattr(ino.0));
        }
        let inode = self.inode(ino)?;
        let st = self.backing.stat(&inode)?;
        Ok(attr(inode.node, &st))
    }

    pub(super) fn do_setattr(
        &self,
        req: &Request,
        ino: INodeNo,
        change: AttrChange,
    ) -> Result<FileAttr, FsError> {
        if super::control::is_virtual(ino.0) {
            // `echo … > .sharefs/intent` truncates first; virtual files ignore it.
            return Ok(self.control_getattr(ino.0));
        }
        let inode = self.inode(ino)?;
        if let Some(mode) = change.mode {
            if inode.kind == Kind::Symlink {
                return Err(FsError::errno(libc::EOPNOTSUPP));
            }
            self.backing.chmod(&inode, mode & 0o7777)?;
        }
        if change.uid.is_some() || change.gid.is_some() {
            self.backing.chown(&inode, change.uid, change.gid)?;
        }
        if let Some(size) = change.size {
            self.truncate(req, &inode, change.fh, size)?;
        }
        if change.atime.is_some() || change.mtime.is_some() {
            let (a, m) = (timespec(change.atime), timespec(change.mtime));
            if inode.kind == Kind::Symlink {
                let loc = inode
                    .location()
                    .ok_or_else(|| FsError::errno(libc::ESTALE))?;
                let parent = self.inode(INodeNo(loc.parent))?;
                let (fd, c) = Backing::entry(&parent, &loc.name)?;
                sys::utimens_at_nofollow(fd, &c, a, m)?;
            } else {
                self.backing.utimens(&inode, a, m)?;
            }
        }
        let st = self.backing.stat(&inode)?;
        Ok(attr(inode.node, &st))
    }

    /// ftruncate through a handle, or truncate by path: an implicit open with write
    /// access that shares everything (SetEndOfFile after CreateFile), so an open that
    /// does not share write refuses it.
    fn truncate(
        &self,
        req: &Request,
        inode: &std::sync::Arc<crate::backing::Inode>,
        fh: Option<u64>,
        size: u64,
    ) -> Result<(), FsError> {
        if let Some(h) = fh.and_then(|fh| self.handles.get(fh, inode.node)) {
            let _gate = inode.gate.enter(0, u64::MAX, true);
            self.check_truncate_locks(req, inode, h.core, size)?;
            h.file.set_len(size)?;
            return Ok(());
        }
        if inode.kind == Kind::Dir {
            return Err(FsError::errno(libc::EISDIR));
        }
        let owner = self.owner(req);
        let path = self.path_of(inode.node);
        if self.facts_of(inode).readonly {
            // SetEndOfFile needs a write open, which a read-only file refuses.
            let e = crate::core::SemanticError::AccessDenied {
                reason: "file is read-only",
                holders: Vec::new(),
            };
            return Err(self.refused("truncate", &path, &owner, "truncate (write)", e.into()));
        }
        let implicit = self
            .retry_after_release(|| {
                Ok(self.core.begin_implicit(
                    inode.key,
                    Classes::WRITE,
                    owner.clone(),
                    path.clone(),
                )?)
            })
            .map_err(|e| self.refused("truncate", &path, &owner, "truncate (write)", e))?;
        let result = {
            let _gate = inode.gate.enter(0, u64::MAX, true);
            match self.check_truncate_locks(req, inode, implicit, size) {
                Ok(()) => self
                    .backing
                    .open_io(inode, libc::O_WRONLY)
                    .and_then(|f| f.set_len(size))
                    .map_err(FsError::from),
                Err(e) => Err(e),
            }
        };
        if self.core.end_implicit(inode.key, implicit).remove_name {
            self.settle_pending(inode.key);
        }
        result
    }

    /// Truncation and extension respect byte-range locks like a write of the bytes
    /// between the old and the new size (locks past EOF included).
    fn check_truncate_locks(
        &self,
        req: &Request,
        inode: &crate::backing::Inode,
        via: crate::core::HandleId,
        size: u64,
    ) -> Result<(), FsError> {
        if !self.core.has_locks(inode.key) {
            return Ok(());
        }
        let old = self.backing.stat(inode)?.st_size as u64;
        let (from, to) = (old.min(size), old.max(size));
        let who = crate::core::IoOrigin::Handle(crate::core::IoRequester {
            lock_owner: None,
            via,
            pid: self.owner(req).pid,
        });
        self.core
            .check_io(inode.key, who, from, to - from, true)
            .map_err(|e| {
                let owner = self.owner(req);
                let path = self.path_of(inode.node);
                self.refused(
                    "truncate",
                    &path,
                    &owner,
                    &format!("truncate to {size}"),
                    e.into(),
                )
            })
    }

    pub(super) fn do_statfs(&self) -> Result<sys::StatFs, FsError> {
        Ok(self.backing.statfs()?)
    }

    pub(super) fn do_getxattr(
        &self,
        ino: INodeNo,
        name: &OsStr,
        size: u32,
    ) -> Result<Vec<u8>, FsError> {
        if super::control::is_virtual(ino.0) {
            return Err(FsError::errno(NO_XATTR));
        }
        let inode = self.inode(ino)?;
        if inode.kind == Kind::Symlink {
            // Reaching a symlink's own xattrs needs its name; user.* cannot be set on
            // symlinks on Linux anyway.
            return Err(FsError::errno(NO_XATTR));
        }
        Ok(self
            .backing
            .getxattr(&inode, &sys::cname(name)?, size as usize)?)
    }

    pub(super) fn do_listxattr(&self, ino: INodeNo, size: u32) -> Result<Vec<u8>, FsError> {
        if super::control::is_virtual(ino.0) {
            return Ok(Vec::new());
        }
        let inode = self.inode(ino)?;
        if inode.kind == Kind::Symlink {
            return Ok(Vec::new());
        }
        Ok(self.backing.listxattr(&inode, size as usize)?)
    }

    pub(super) fn do_setxattr(
        &self,
        ino: INodeNo,
        name: &OsStr,
        value: &[u8],
        flags: i32,
    ) -> Result<(), FsError> {
        let inode = self.inode(ino)?;
        if inode.kind == Kind::Symlink {
            return Err(FsError::errno(libc::EPERM));
        }
        Ok(self
            .backing
            .setxattr(&inode, &sys::cname(name)?, value, flags)?)
    }

    pub(super) fn do_removexattr(&self, ino: INodeNo, name: &OsStr) -> Result<(), FsError> {
        let inode = self.inode(ino)?;
        if inode.kind == Kind::Symlink {
            return Err(FsError::errno(libc::EPERM));
        }
        Ok(self.backing.removexattr(&inode, &sys::cname(name)?)?)
    }

    /// access(2) when the kernel does not check permissions itself (no
    /// `default_permissions`): the caller's uid/gid against the mode bits.
    pub(super) fn do_access(&self, req: &Request, ino: INodeNo, mask: i32) -> Result<(), FsError> {
        if super::control::is_virtual(ino.0) {
            return Ok(());
        }
        let inode = self.inode(ino)?;
        let st = self.backing.stat(&inode)?;
        if mask == libc::F_OK {
            return Ok(());
        }
        let mode = st.st_mode;
        let allowed = if req.uid() == 0 {
            // root may read and write anything, and execute what someone may execute.
            let x_ok = inode.kind == Kind::Dir || mode & 0o111 != 0;
            libc::R_OK | libc::W_OK | if x_ok { libc::X_OK } else { 0 }
        } else {
            let bits = if req.uid() == st.st_uid {
                (mode >> 6) & 7
            } else if req.gid() == st.st_gid {
                (mode >> 3) & 7
            } else {
                mode & 7
            };
            bits as i32
        };
        if mask & !allowed != 0 {
            return Err(FsError::errno(libc::EACCES));
        }
        Ok(())
    }
}
