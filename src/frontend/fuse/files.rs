//! Open files: open/create (the CreateFile decision), I/O, flush, release, fsync.

use std::ffi::OsStr;
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use fuser::{FopenFlags, INodeNo, Request};

use super::entries::Entry;
use super::{FsError, SharefsFs, attr};
use crate::backing::{Inode, Kind, OpenFile, key_of, sys};
use crate::core::{Classes, FileFacts, OpenRequest, SemanticError};

/// Open flags passed on to the backing open. `O_CREAT`/`O_EXCL` are handled by `create`;
/// `O_NOATIME` would need the daemon to own the file; `O_DIRECT` needs aligned buffers
/// that FUSE does not guarantee (a later issue handles no-buffering).
const PASSED_FLAGS: i32 = libc::O_ACCMODE
    | libc::O_APPEND
    | libc::O_TRUNC
    | libc::O_SYNC
    | libc::O_DSYNC
    | libc::O_DIRECTORY
    | libc::O_LARGEFILE;

/// The access classes an open's flags ask for: O_RDONLY → read, O_WRONLY/O_APPEND →
/// write, O_RDWR → both, O_TRUNC also needs write (docs/semantics.md, "Access").
pub(super) fn access_from_flags(flags: i32) -> Classes {
    let mut access = match flags & libc::O_ACCMODE {
        libc::O_RDONLY => Classes::READ,
        libc::O_WRONLY => Classes::WRITE,
        _ => Classes::READ_WRITE,
    };
    if flags & (libc::O_TRUNC | libc::O_APPEND) != 0 {
        access = access | Classes::WRITE;
    }
    access
}

/// Direct I/O so every read and write reaches the daemon (mandatory locks and atomic
/// I/O depend on it), with parallel direct writes so the kernel does not serialize
/// writers per inode (docs/architecture.md, "Caching").
fn fopen_flags() -> FopenFlags {
    FopenFlags::FOPEN_DIRECT_IO | FopenFlags::FOPEN_PARALLEL_DIRECT_WRITES
}

impl SharefsFs {
    /// The CreateFile decision for one open of an existing inode, then the backing open.
    /// If the backing open fails the core's record is undone.
    pub(super) fn open_inode(
        &self,
        req: &Request,
        inode: &Arc<Inode>,
        flags: i32,
    ) -> Result<u64, FsError> {
        let is_dir = inode.kind == Kind::Dir;
        let access = access_from_flags(flags);
        let share = self.cfg.profile.share_for(access, is_dir);
        let owner = self.owner(req);
        let path = self.path_of(inode.node);
        let mut request = OpenRequest::new(access, share, owner.clone(), path.clone());
        request.flags = flags;
        let core_handle = self
            .retry_after_release(|| {
                Ok(self
                    .core
                    .open(inode.key, request.clone(), FileFacts::default())?)
            })
            .map_err(|e| self.refused("open", &path, &owner, e))?;
        let file = match self.backing.open_io(inode, flags & PASSED_FLAGS) {
            Ok(f) => f,
            Err(e) => {
                let _ = self.core.close(inode.key, core_handle);
                return Err(e.into());
            }
        };
        Ok(self.handles.insert(OpenFile {
            inode: inode.clone(),
            file,
            core: core_handle,
            access,
            append: flags & libc::O_APPEND != 0,
            listing: Default::default(),
            closing: AtomicBool::new(false),
        }))
    }

    pub(super) fn do_open(
        &self,
        req: &Request,
        ino: INodeNo,
        flags: i32,
    ) -> Result<(u64, FopenFlags), FsError> {
        let inode = self.inode(ino)?;
        if inode.kind == Kind::Dir && flags & libc::O_ACCMODE != libc::O_RDONLY {
            return Err(FsError::errno(libc::EISDIR));
        }
        let fh = self.open_inode(req, &inode, flags)?;
        Ok((fh, fopen_flags()))
    }

    pub(super) fn do_create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        flags: i32,
    ) -> Result<(Entry, u64, FopenFlags), FsError> {
        let parent = self.inode(parent)?;
        self.check_parent_live(&parent)?;
        let created = self.as_caller(req, || {
            self.backing
                .create_file(&parent, name, flags & PASSED_FLAGS, mode)
        });
        match created {
            Ok((file, path_fd, st)) => {
                let inode = self.backing.remember(&parent, name, path_fd, &st);
                let access = access_from_flags(flags);
                let owner = self.owner(req);
                let path = self.path_of(inode.node);
                let share = self.cfg.profile.share_for(access, false);
                let mut request = OpenRequest::new(access, share, owner, path);
                request.flags = flags;
                let core_handle = match self.core.open(inode.key, request, FileFacts::default()) {
                    Ok(h) => h,
                    Err(e) => {
                        self.backing.inodes.forget(inode.node, 1);
                        return Err(e.into());
                    }
                };
                let fh = self.handles.insert(OpenFile {
                    inode: inode.clone(),
                    file,
                    core: core_handle,
                    access,
                    append: flags & libc::O_APPEND != 0,
                    listing: Default::default(),
                    closing: AtomicBool::new(false),
                });
                Ok(((attr(inode.node, &st), inode.generation), fh, fopen_flags()))
            }
            // The name exists (created meanwhile, or a delete-pending file): open the
            // existing file, through the sharing decision, unless O_EXCL was asked.
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) && flags & libc::O_EXCL == 0 => {
                let (fd, st) = self.backing.probe(&parent, name)?;
                if self.core.delete_state(key_of(&st)).pending {
                    return Err(SemanticError::DeletePending.into());
                }
                match Kind::from_mode(st.st_mode) {
                    Kind::Dir => return Err(FsError::errno(libc::EISDIR)),
                    Kind::Symlink => return Err(FsError::errno(libc::ELOOP)),
                    _ => {}
                }
                let inode = self.backing.remember(&parent, name, fd, &st);
                match self.open_inode(req, &inode, flags & !libc::O_CREAT) {
                    Ok(fh) => {
                        let st = self.backing.stat(&inode)?;
                        Ok(((attr(inode.node, &st), inode.generation), fh, fopen_flags()))
                    }
                    Err(e) => {
                        self.backing.inodes.forget(inode.node, 1);
                        Err(e)
                    }
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    fn handle(&self, ino: INodeNo, fh: u64) -> Result<Arc<OpenFile>, FsError> {
        self.handles
            .get(fh, ino.0)
            .ok_or_else(|| FsError::errno(libc::EBADF))
    }

    pub(super) fn do_read(
        &self,
        ino: INodeNo,
        fh: u64,
        offset: u64,
        size: u32,
    ) -> Result<Vec<u8>, FsError> {
        let h = self.handle(ino, fh)?;
        if !h.access.contains(Classes::READ) {
            return Err(FsError::errno(libc::EBADF));
        }
        let mut buf = vec![0u8; size as usize];
        let mut done = 0;
        while done < buf.len() {
            match h.file.read_at(&mut buf[done..], offset + done as u64) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        buf.truncate(done);
        Ok(buf)
    }

    pub(super) fn do_write(
        &self,
        ino: INodeNo,
        fh: u64,
        offset: u64,
        data: &[u8],
    ) -> Result<u32, FsError> {
        let h = self.handle(ino, fh)?;
        if !h.access.contains(Classes::WRITE) {
            return Err(FsError::errno(libc::EBADF));
        }
        // With O_APPEND on the backing fd, Linux pwrite appends whatever the offset: the
        // daemon appends itself, so concurrent appenders through the mount never
        // overwrite each other (the kernel's offset comes from a possibly stale size).
        let at = if h.append { 0 } else { offset };
        h.file.write_all_at(data, at)?;
        Ok(data.len() as u32)
    }

    pub(super) fn do_flush(&self, ino: INodeNo, fh: u64) -> Result<(), FsError> {
        let h = self.handle(ino, fh)?;
        // Each close() of a descriptor sends FLUSH; a RELEASE follows asynchronously if
        // it was the last one. Remember it so conflicts can wait for that RELEASE.
        h.closing.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Drops a handle: the core forgets the open, a delete-on-close or pending delete
    /// takes effect at the last close (SEMANTICS.md §2).
    pub(super) fn do_release(&self, fh: u64) -> Result<(), FsError> {
        let Some(h) = self.handles.remove(fh) else {
            return Err(FsError::errno(libc::EBADF));
        };
        let result = match self.core.close(h.inode.key, h.core) {
            Ok(outcome) => {
                if outcome.remove_name {
                    self.settle_pending(h.inode.key);
                } else if outcome.became_pending
                    && let Some(loc) = h.inode.location()
                {
                    self.invalidator.entry(loc.parent, &loc.name);
                }
                Ok(())
            }
            Err(e) => {
                tracing::error!(
                    fh,
                    node = h.inode.node,
                    "release of a handle the core does not know: {e}"
                );
                Err(e.into())
            }
        };
        drop(h);
        self.note_release();
        result
    }

    pub(super) fn do_fsync(&self, ino: INodeNo, fh: u64, datasync: bool) -> Result<(), FsError> {
        let h = self.handle(ino, fh)?;
        if datasync {
            h.file.sync_data()?;
        } else {
            h.file.sync_all()?;
        }
        Ok(())
    }

    pub(super) fn do_fallocate(
        &self,
        ino: INodeNo,
        fh: u64,
        offset: u64,
        length: u64,
        mode: i32,
    ) -> Result<(), FsError> {
        let h = self.handle(ino, fh)?;
        if !h.access.contains(Classes::WRITE) {
            return Err(FsError::errno(libc::EBADF));
        }
        sys::fallocate(h.file.as_fd(), mode, offset as i64, length as i64)?;
        Ok(())
    }

    pub(super) fn do_lseek(
        &self,
        ino: INodeNo,
        fh: u64,
        offset: i64,
        whence: i32,
    ) -> Result<i64, FsError> {
        let h = self.handle(ino, fh)?;
        Ok(sys::lseek(h.file.as_fd(), offset, whence)?)
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn do_copy_file_range(
        &self,
        ino_in: INodeNo,
        fh_in: u64,
        offset_in: u64,
        ino_out: INodeNo,
        fh_out: u64,
        offset_out: u64,
        len: u64,
        flags: u32,
    ) -> Result<u32, FsError> {
        let src = self.handle(ino_in, fh_in)?;
        let dst = self.handle(ino_out, fh_out)?;
        if !src.access.contains(Classes::READ) || !dst.access.contains(Classes::WRITE) {
            return Err(FsError::errno(libc::EBADF));
        }
        let len = len.min(u32::MAX as u64 & !0xfff) as usize;
        let n = if dst.append {
            // copy_file_range refuses O_APPEND destinations (EBADF), as it does natively.
            return Err(FsError::errno(libc::EBADF));
        } else {
            sys::copy_file_range(
                src.file.as_fd(),
                offset_in as i64,
                dst.file.as_fd(),
                offset_out as i64,
                len,
                flags,
            )?
        };
        Ok(n as u32)
    }
}
