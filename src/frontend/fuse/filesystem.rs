//! `impl fuser::Filesystem`: every method decodes its arguments, calls one `do_*`
//! function and replies exactly once.

use std::ffi::OsStr;
use std::path::Path;
use std::time::SystemTime;

use fuser::{
    AccessFlags, BsdFileFlags, CopyFileRangeFlags, FileHandle, Filesystem, FopenFlags, INodeNo,
    InitFlags, IoctlFlags, KernelConfig, LockOwner, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate,
    ReplyData, ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyIoctl, ReplyLock, ReplyLseek,
    ReplyOpen, ReplyStatfs, ReplyWrite, ReplyXattr, Request, TimeOrNow, WriteFlags,
};

use super::attrs::AttrChange;
use super::locks::IoIssuer;
use super::{SharefsFs, file_type};

/// Reply helper: `Ok` → `$ok`, `Err` → the mapped errno.
macro_rules! reply {
    ($self:ident, $reply:ident, $result:expr, |$v:pat_param| $ok:expr) => {
        match $result {
            Ok($v) => $ok,
            Err(e) => $reply.error($self.errno(&e)),
        }
    };
}

impl Filesystem for SharefsFs {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        // ATOMIC_O_TRUNC: O_TRUNC arrives with the open, after the sharing decision,
        // instead of as a separate setattr before it. DIRECT_IO_ALLOW_MMAP: shared
        // mappings keep working on direct-I/O files (linkers, git, SQLite map files).
        // PARALLEL_DIROPS: lookups and readdirs in one directory run concurrently.
        let wanted = InitFlags::FUSE_ATOMIC_O_TRUNC
            | InitFlags::FUSE_DIRECT_IO_ALLOW_MMAP
            | InitFlags::FUSE_PARALLEL_DIROPS
            | InitFlags::FUSE_BIG_WRITES
            | InitFlags::FUSE_ASYNC_READ
            | InitFlags::FUSE_MAX_PAGES

            // ioctls on directories (the control API's delete and rename by handle).
            | InitFlags::FUSE_HAS_IOCTL_DIR
            // fcntl, OFD and flock locks reach the daemon, which makes them mandatory.
            | InitFlags::FUSE_POSIX_LOCKS
            | InitFlags::FUSE_FLOCK_LOCKS;
        let available = config.capabilities() & wanted;
        if let Err(missing) = config.add_capabilities(available) {
            tracing::warn!("kernel refused capabilities {missing:?}");
        }
        if !available.contains(InitFlags::FUSE_DIRECT_IO_ALLOW_MMAP) {
            tracing::warn!("kernel lacks FUSE_DIRECT_IO_ALLOW_MMAP: MAP_SHARED will fail");
        }
        // 1 MiB requests: the largest the kernel allows without raising max_pages_limit.
        let _ = config.set_max_write(1 << 20);
        let _ = config.set_max_background(64);
        let _ = config.set_congestion_threshold(48);
        Ok(())
    }

    fn lookup(&self, req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        reply!(self, reply, self.do_lookup(req, parent, name), |(
            (attr, generation),
            entry_ttl,
        )| {
            reply.entry_with_ttls(
                &self.cfg.attr_ttl,
                &entry_ttl,
                &attr,
                fuser::Generation(generation),
            )
        });
    }

    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        self.backing.inodes.forget(ino.0, nlookup);
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        reply!(self, reply, self.do_getattr(ino), |attr| reply
            .attr(&self.cfg.attr_ttl, &attr));
    }

    fn setattr(
        &self,
        req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let change = AttrChange {
            mode,
            uid,
            gid,
            size,
            atime,
            mtime,
            fh: fh.map(|f| f.0),
        };
        reply!(self, reply, self.do_setattr(req, ino, change), |attr| reply
            .attr(&self.cfg.attr_ttl, &attr));
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        reply!(self, reply, self.do_readlink(ino), |target| reply
            .data(&target));
    }

    fn mknod(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        rdev: u32,
        reply: ReplyEntry,
    ) {
        reply!(
            self,
            reply,
            self.do_mknod(req, parent, name, mode, rdev),
            |(a, g)| {
                reply.entry_with_ttls(
                    &self.cfg.attr_ttl,
                    &self.cfg.entry_ttl,
                    &a,
                    fuser::Generation(g),
                )
            }
        );
    }

    fn mkdir(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        reply: ReplyEntry,
    ) {
        reply!(
            self,
            reply,
            self.do_mkdir(req, parent, name, mode),
            |(a, g)| {
                reply.entry_with_ttls(
                    &self.cfg.attr_ttl,
                    &self.cfg.entry_ttl,
                    &a,
                    fuser::Generation(g),
                )
            }
        );
    }

    fn unlink(&self, req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        reply!(
            self,
            reply,
            self.do_remove(req, parent, name, false),
            |()| reply.ok()
        );
    }

    fn rmdir(&self, req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        reply!(self, reply, self.do_remove(req, parent, name, true), |()| {
            reply.ok()
        });
    }

    fn symlink(
        &self,
        req: &Request,
        parent: INodeNo,
        link_name: &OsStr,
        target: &Path,
        reply: ReplyEntry,
    ) {
        reply!(
            self,
            reply,
            self.do_symlink(req, parent, link_name, target),
            |(a, g)| {
                reply.entry_with_ttls(
                    &self.cfg.attr_ttl,
                    &self.cfg.entry_ttl,
                    &a,
                    fuser::Generation(g),
                )
            }
        );
    }

    fn rename(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        reply!(
            self,
            reply,
            self.do_rename(req, parent, name, newparent, newname, flags),
            |()| reply.ok()
        );
    }

    fn link(
        &self,
        req: &Request,
        ino: INodeNo,
        newparent: INodeNo,
        newname: &OsStr,
        reply: ReplyEntry,
    ) {
        reply!(
            self,
            reply,
            self.do_link(req, ino, newparent, newname),
            |(a, g)| {
                reply.entry_with_ttls(
                    &self.cfg.attr_ttl,
                    &self.cfg.entry_ttl,
                    &a,
                    fuser::Generation(g),
                )
            }
        );
    }

    fn open(&self, req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        let result = self.do_open(req, ino, flags.0);
        self.intent_spent(req, result.is_err());
        reply!(self, reply, result, |(fh, f)| reply
            .opened(FileHandle(fh), f));
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let issuer = IoIssuer::of_read(lock_owner.map(|o| o.0));
        reply!(
            self,
            reply,
            self.do_read(_req, ino, fh.0, offset, size, issuer),
            |data| { reply.data(&data) }
        );
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        write_flags: WriteFlags,
        _flags: OpenFlags,
        lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let issuer = IoIssuer::of_write(
            write_flags.contains(WriteFlags::FUSE_WRITE_CACHE),
            lock_owner.map(|o| o.0),
        );
        reply!(
            self,
            reply,
            self.do_write(_req, ino, fh.0, offset, data, issuer),
            |n| { reply.written(n) }
        );
    }

    fn flush(
        &self,
        req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        reply!(
            self,
            reply,
            self.do_flush(req, ino, fh.0, lock_owner.0),
            |()| { reply.ok() }
        );
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        reply!(self, reply, self.do_release(fh.0), |()| reply.ok());
    }

    fn fsync(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        datasync: bool,
        reply: ReplyEmpty,
    ) {
        reply!(self, reply, self.do_fsync(ino, fh.0, datasync), |()| reply
            .ok());
    }

    fn opendir(&self, req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        let result = self.do_opendir(req, ino, flags.0);
        self.intent_spent(req, result.is_err());
        reply!(self, reply, result, |fh| reply
            .opened(FileHandle(fh), FopenFlags::empty()));
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        reply!(self, reply, self.do_readdir(ino, fh.0, offset), |listing| {
            for (i, e) in listing.iter().enumerate().skip(offset as usize) {
                if reply.add(
                    INodeNo(e.ino),
                    (i + 1) as u64,
                    file_type(e.type_bits),
                    &e.name,
                ) {
                    break;
                }
            }
            reply.ok()
        });
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        reply!(self, reply, self.do_release(fh.0), |()| reply.ok());
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        reply!(self, reply, self.do_fsyncdir(ino, fh.0), |()| reply.ok());
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        reply!(self, reply, self.do_statfs(), |s| reply.statfs(
            s.blocks, s.bfree, s.bavail, s.files, s.ffree, s.bsize, s.namemax, s.frsize,
        ));
    }

    fn setxattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        name: &OsStr,
        value: &[u8],
        flags: i32,
        _position: u32,
        reply: ReplyEmpty,
    ) {
        reply!(
            self,
            reply,
            self.do_setxattr(ino, name, value, flags),
            |()| reply.ok()
        );
    }

    fn getxattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, size: u32, reply: ReplyXattr) {
        reply!(
            self,
            reply,
            self.do_getxattr(ino, name, size),
            |v| if size == 0 {
                reply.size(v.len() as u32)
            } else {
                reply.data(&v)
            }
        );
    }

    fn listxattr(&self, _req: &Request, ino: INodeNo, size: u32, reply: ReplyXattr) {
        reply!(
            self,
            reply,
            self.do_listxattr(ino, size),
            |v| if size == 0 {
                reply.size(v.len() as u32)
            } else {
                reply.data(&v)
            }
        );
    }

    fn removexattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        reply!(self, reply, self.do_removexattr(ino, name), |()| reply.ok());
    }

    fn access(&self, req: &Request, ino: INodeNo, mask: AccessFlags, reply: ReplyEmpty) {
        reply!(self, reply, self.do_access(req, ino, mask.bits()), |()| {
            reply.ok()
        });
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        let result = self.do_create(req, parent, name, mode, flags);
        self.intent_spent(req, result.is_err());
        reply!(self, reply, result, |((attr, generation), fh, f)| reply
            .created(
                &self.cfg.entry_ttl,
                &attr,
                fuser::Generation(generation),
                FileHandle(fh),
                f
            ));
    }

    fn getlk(
        &self,
        req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        lock_owner: LockOwner,
        start: u64,
        end: u64,
        typ: i32,
        _pid: u32,
        reply: ReplyLock,
    ) {
        reply!(
            self,
            reply,
            self.do_getlk(req, ino, fh.0, lock_owner.0, start, end, typ),
            |(s, e, t, p)| reply.locked(s, e, t, p)
        );
    }

    fn setlk(
        &self,
        req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        lock_owner: LockOwner,
        start: u64,
        end: u64,
        typ: i32,
        _pid: u32,
        sleep: bool,
        reply: ReplyEmpty,
    ) {
        self.do_setlk(req, ino, fh.0, lock_owner.0, start, end, typ, sleep, reply);
    }

    fn ioctl(
        &self,
        req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        _flags: IoctlFlags,
        cmd: u32,
        in_data: &[u8],
        _out_size: u32,
        reply: ReplyIoctl,
    ) {
        reply!(
            self,
            reply,
            self.do_ioctl(req, ino, fh.0, cmd, in_data),
            |out| reply.ioctl(0, &out)
        );
    }

    fn fallocate(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        length: u64,
        mode: i32,
        reply: ReplyEmpty,
    ) {
        reply!(
            self,
            reply,
            self.do_fallocate(_req, ino, fh.0, offset, length, mode),
            |()| reply.ok()
        );
    }

    fn lseek(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: i64,
        whence: i32,
        reply: ReplyLseek,
    ) {
        reply!(self, reply, self.do_lseek(ino, fh.0, offset, whence), |o| {
            reply.offset(o)
        });
    }

    fn copy_file_range(
        &self,
        _req: &Request,
        ino_in: INodeNo,
        fh_in: FileHandle,
        offset_in: u64,
        ino_out: INodeNo,
        fh_out: FileHandle,
        offset_out: u64,
        len: u64,
        flags: CopyFileRangeFlags,
        reply: ReplyWrite,
    ) {
        reply!(
            self,
            reply,
            self.do_copy_file_range(
                _req,
                ino_in,
                fh_in.0,
                offset_in,
                ino_out,
                fh_out.0,
                offset_out,
                len,
                flags.bits() as u32
            ),
            |n| reply.written(n)
        );
    }
}
