//! Open files: open/create (the CreateFile decision), I/O, flush, release, fsync.

use std::ffi::OsStr;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use fuser::{FopenFlags, INodeNo, Request};

use super::entries::Entry;
use super::locks::IoIssuer;
use super::{FsError, SharefsFs, attr};
use crate::backing::{Inode, Kind, OpenFile, key_of, sys};
use crate::control::OpenOptions;
use crate::core::{Classes, FileFacts, OpenRequest, SemanticError};
use crate::service::OpenModes;
use crate::service::admission::IntentModes;

/// Open flags passed on to the backing open. `O_CREAT`/`O_EXCL` are handled by `create`;
/// `O_NOATIME` would need the daemon to own the file; `O_DIRECT` needs aligned buffers
/// that FUSE does not guarantee (a later issue handles no-buffering).
#[cfg(target_os = "linux")]
const PASSED_FLAGS: i32 = libc::O_ACCMODE
    | libc::O_APPEND
    | libc::O_TRUNC
    | libc::O_SYNC
    | libc::O_DSYNC
    | libc::O_DIRECTORY
    | libc::O_LARGEFILE;
/// Open flags passed on to the backing open (macOS has no `O_LARGEFILE`).
#[cfg(not(target_os = "linux"))]
const PASSED_FLAGS: i32 = libc::O_ACCMODE
    | libc::O_APPEND
    | libc::O_TRUNC
    | libc::O_SYNC
    | libc::O_DSYNC
    | libc::O_DIRECTORY;

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

/// A write by an unprivileged user clears set-user-id and set-group-id (with group
/// execute) bits, as the kernel does natively. The daemon writes as root, whose
/// CAP_FSETID would keep them, so it drops them itself.
fn drop_set_id_bits(file: &std::fs::File) -> std::io::Result<bool> {
    use crate::backing::sys::mode::{S_ISGID, S_ISUID, S_IXGRP};
    use std::os::unix::fs::PermissionsExt;
    let mode = file.metadata()?.permissions().mode();
    let mut clear = S_ISUID;
    if mode & S_IXGRP != 0 {
        clear |= S_ISGID;
    }
    if mode & clear == 0 {
        return Ok(false);
    }
    file.set_permissions(std::fs::Permissions::from_mode(mode & !clear & 0o7777))?;
    Ok(true)
}

impl SharefsFs {
    /// Access, share, options and policy grant of an open: from the thread's control-API
    /// intent where it has one (consumed here, whether the open then succeeds or not),
    /// else from the open flags; the policy decides the share set the intent leaves open
    /// and adds its flags (docs/policy.md).
    fn open_modes(
        &self,
        req: &Request,
        node: u64,
        flags: i32,
        is_dir: bool,
    ) -> Result<OpenModes, FsError> {
        let intent = self.intents.take(req.pid());
        let from_flags = access_from_flags(flags);
        let created = flags & libc::O_CREAT != 0;
        let path_of = || self.path_of(node);
        let Some(intent) = intent else {
            return Ok(self.admission.open_modes(
                Self::caller(req),
                &path_of,
                created,
                is_dir,
                from_flags,
                None,
            ));
        };
        if let Err(e) = intent.check_flags(flags) {
            tracing::info!(tid = req.pid(), "open refused by its intent: {e}");
            return Err(FsError::errno(libc::EINVAL));
        }
        let access = intent.access.unwrap_or(from_flags);
        Ok(self.admission.open_modes(
            Self::caller(req),
            &path_of,
            created,
            is_dir,
            access,
            Some(IntentModes {
                share: intent.share,
                options: intent.options,
            }),
        ))
    }

    /// The core's request for an open with the given modes.
    fn open_request(&self, req: &Request, node: u64, flags: i32, modes: OpenModes) -> OpenRequest {
        let mut request = OpenRequest::new(
            modes.access,
            modes.share,
            self.owner(req),
            self.path_of(node),
        );
        request.flags = flags;
        request.delete_on_close = modes.options.delete_on_close;
        request.backup = modes.grant.backup;
        request
    }

    /// Backing open flags for a handle: write-through handles get O_DSYNC.
    fn backing_flags(&self, flags: i32, options: OpenOptions) -> i32 {
        let mut f = flags & PASSED_FLAGS;
        // No-buffering implies write-through for the requests the O_DIRECT fd cannot
        // take (unaligned ones), so nothing acknowledged sits in a cache.
        if self.wants_write_through(flags, options.write_through || options.no_buffering)
            && f & libc::O_SYNC != libc::O_SYNC
        {
            f |= libc::O_DSYNC;
        }
        f
    }

    /// The CreateFile decision for one open of an existing inode, then the backing open.
    /// If the backing open fails the core's record is undone.
    pub(super) fn open_inode(
        &self,
        req: &Request,
        inode: &Arc<Inode>,
        flags: i32,
    ) -> Result<u64, FsError> {
        let is_dir = inode.kind == Kind::Dir;
        let modes = self.open_modes(req, inode.node, flags, is_dir)?;
        let request = self.open_request(req, inode.node, flags, modes);
        // The read-only attribute only refuses writing and delete-on-close opens: other
        // opens skip the stat it needs.
        let facts = if request.access.contains(Classes::WRITE) || request.delete_on_close {
            self.facts_of(inode)
        } else {
            FileFacts::default()
        };
        let core_handle = self
            .retry_after_release(|| Ok(self.core.open(inode.key, request.clone(), facts)?))
            .map_err(|e| {
                self.refused_with(
                    modes.grant.errnos,
                    "open",
                    &request.path,
                    &request.owner,
                    &format!(
                        "open access={} share={}",
                        request.access.rwd(),
                        request.share.rwd()
                    ),
                    e,
                )
            })?;
        let file = match self
            .backing
            .open_io(inode, self.backing_flags(flags, modes.options))
        {
            Ok(f) => f,
            Err(e) => {
                self.close_core(inode.key, core_handle);
                return Err(e.into());
            }
        };
        Ok(self.insert_handle(inode, file, core_handle, flags, modes, req.pid()))
    }

    fn insert_handle(
        &self,
        inode: &Arc<Inode>,
        file: std::fs::File,
        core: crate::core::HandleId,
        flags: i32,
        modes: OpenModes,
        opener: u32,
    ) -> u64 {
        let OpenModes {
            access, options, ..
        } = modes;
        let direct = (options.no_buffering && inode.kind == Kind::File)
            .then(|| self.open_direct(inode, flags))
            .flatten();
        self.handles.insert(OpenFile {
            inode: inode.clone(),
            file,
            core,
            access,
            options,
            write_through: self
                .wants_write_through(flags, options.write_through || options.no_buffering),
            direct,
            append: flags & libc::O_APPEND != 0,
            listing: Default::default(),
            closing: AtomicBool::new(false),
            releasing: AtomicBool::new(false),
            opener,
            flushed_by: AtomicU32::new(0),
            privs_checked: AtomicBool::new(false),
        })
    }

    /// Undoes a core open whose backing open failed (a delete-on-close open then takes
    /// effect like any close).
    fn close_core(&self, key: crate::core::FileKey, handle: crate::core::HandleId) {
        if let Ok(outcome) = self.core.close(key, handle)
            && outcome.remove_name
        {
            self.settle_pending(key);
        }
    }

    /// Attributes the core's rules depend on (see [`SharefsFs::facts_of_stat`]).
    pub(super) fn facts_of(&self, inode: &Inode) -> FileFacts {
        match self.backing.stat(inode) {
            Ok(st) => self.facts_of_stat(&st),
            Err(_) => FileFacts::default(),
        }
    }

    /// FILE_ATTRIBUTE_READONLY is a regular file with no write bit for anyone (as
    /// `chmod a-w` and git's objects leave it), when the mount's profile models the
    /// attribute. A directory's mode never makes it read-only: Windows ignores the
    /// attribute on directories for these rules. A file with no permission bits at all
    /// (mode 000) is not read-only but a placeholder: GNU tar creates one for every
    /// symlink and hard link it delays, and must be able to unlink it (tests/programs.rs:
    /// tar_round_trip_keeps_contents_links_and_permissions).
    pub(super) fn facts_of_stat(&self, st: &crate::backing::Stat) -> FileFacts {
        FileFacts {
            readonly: self.cfg.readonly_attr
                && Kind::from_mode(st.st_mode) == Kind::File
                && st.st_mode & 0o222 == 0
                && st.st_mode & 0o777 != 0,
        }
    }

    /// The facts of a rename's existing target for the caller: a runtime that clears the
    /// read-only attribute of the target first (git's mingw_rename; RUNTIMES.md) is not
    /// stopped by it.
    pub(super) fn rename_target_facts(
        &self,
        st: &crate::backing::Stat,
        decision: &crate::policy::Decision,
    ) -> FileFacts {
        let mut facts = self.facts_of_stat(st);
        if decision.readonly_rename == crate::policy::ReadOnlyRule::Clears {
            facts.readonly = false;
        }
        facts
    }

    pub(super) fn do_open(
        &self,
        req: &Request,
        ino: INodeNo,
        flags: i32,
    ) -> Result<(u64, FopenFlags), FsError> {
        if super::control::is_virtual(ino.0) {
            return self.control_open(ino.0);
        }
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
        self.check_not_control(parent.0, name)?;
        let parent = self.inode(parent)?;
        self.check_parent_live(&parent)?;
        // names=windows: Win32's name rules, and an existing name in another case is
        // opened (or EEXIST under O_EXCL) rather than created again (docs/names.md).
        let spelled = self.name_to_create(req, &parent, name, "create")?;
        let name: &OsStr = &spelled;
        // The intent is looked at (not consumed) before creating, so an invalid one
        // creates nothing; the open below consumes it.
        let peeked = self.intents.peek(req.pid());
        if let Some(intent) = peeked {
            let access = intent.access.unwrap_or(access_from_flags(flags));
            let invalid_doc = intent.options.delete_on_close && !access.contains(Classes::DELETE);
            if intent.check_flags(flags).is_err() || invalid_doc {
                self.intents.take(req.pid());
                return Err(FsError::errno(libc::EINVAL));
            }
            // CreateFile(FILE_FLAG_DELETE_ON_CLOSE) of a new read-only file is refused
            // (STATUS_CANNOT_DELETE) and creates nothing (SEMANTICS.md §2; tests/
            // delete_rename.rs: delete_on_close_create_of_a_read_only_file_creates_nothing).
            let readonly_new = self.cfg.readonly_attr && mode & 0o222 == 0 && mode & 0o777 != 0;
            if intent.options.delete_on_close && readonly_new {
                self.intents.take(req.pid());
                return Err(SemanticError::CannotDelete.into());
            }
        }
        let created = self.as_caller(req, || {
            self.backing.create_file(
                &parent,
                name,
                self.backing_flags(flags, peeked.unwrap_or_default().options),
                mode,
            )
        });
        match created {
            Ok((file, path_fd, st)) => {
                let inode = self.backing.remember(&parent, name, path_fd, &st);
                let modes = match self.open_modes(req, inode.node, flags, false) {
                    Ok(m) => m,
                    Err(e) => {
                        self.backing.inodes.forget(inode.node, 1);
                        return Err(e);
                    }
                };
                // The policy decides after the create: a write-through it adds to the
                // intent's options needs the fd reopened with O_DSYNC.
                let wanted = self.backing_flags(flags, modes.options);
                let file =
                    if wanted != self.backing_flags(flags, peeked.unwrap_or_default().options) {
                        match self.backing.open_io(&inode, wanted & !libc::O_TRUNC) {
                            Ok(f) => f,
                            Err(e) => {
                                tracing::warn!(
                                    path = %self.path_of(inode.node),
                                    "cannot reopen a new file write-through: {e}"
                                );
                                file
                            }
                        }
                    } else {
                        file
                    };
                let request = self.open_request(req, inode.node, flags, modes);
                let core_handle = match self.core.open(inode.key, request, FileFacts::default()) {
                    Ok(h) => h,
                    Err(e) => {
                        self.backing.inodes.forget(inode.node, 1);
                        return Err(e.into());
                    }
                };
                let fh = self.insert_handle(&inode, file, core_handle, flags, modes, req.pid());
                // A new file under write-through: its directory entry is made durable
                // too, as a careful database would (fsync of the parent).
                if self.wants_write_through(flags, modes.options.write_through) {
                    self.sync_dir(&parent)?;
                }
                Ok(((attr(inode.node, &st), inode.generation), fh, fopen_flags()))
            }
            // The name exists (created meanwhile, or a delete-pending file): open the
            // existing file, through the sharing decision, unless O_EXCL was asked.
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) && flags & libc::O_EXCL == 0 => {
                let (fd, st) = self.backing.probe(&parent, name)?;
                if self.core.delete_state(key_of(&st)).pending {
                    self.intents.take(req.pid());
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
            Err(e) => {
                self.intents.take(req.pid());
                Err(e.into())
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn do_read(
        &self,
        req: &Request,
        ino: INodeNo,
        fh: u64,
        offset: u64,
        size: u32,
        issuer: IoIssuer,
    ) -> Result<Vec<u8>, FsError> {
        if super::control::is_virtual_fh(fh) {
            return self.control_read(req, fh, offset, size);
        }
        let h = self.handle_of(ino, fh)?;
        if !h.access.contains(Classes::READ) {
            return Err(FsError::errno(libc::EBADF));
        }
        // Atomic: no overlapping write is in flight while we read (SEMANTICS.md §6);
        // mandatory: the range is checked against locks inside the gate, so no lock is
        // granted between the check and the read.
        // Still in use: a close() seen earlier was of another descriptor.
        h.closing.store(false, Ordering::Relaxed);
        let _gate = h.inode.gate.enter(offset, size as u64, false);
        self.check_io_locks(req, &h, issuer, offset, size as u64, false)?;
        let mut buf = vec![0u8; size as usize];
        let done = self.read_data(&h, &mut buf, offset)?;
        buf.truncate(done);
        Ok(buf)
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn do_write(
        &self,
        req: &Request,
        ino: INodeNo,
        fh: u64,
        offset: u64,
        data: &[u8],
        issuer: IoIssuer,
    ) -> Result<u32, FsError> {
        if super::control::is_virtual_fh(fh) {
            return self.control_write(req, fh, data);
        }
        let h = self.handle_of(ino, fh)?;
        if !h.access.contains(Classes::WRITE) {
            return Err(FsError::errno(libc::EBADF));
        }
        // With O_APPEND on the backing fd, Linux pwrite appends whatever the offset: the
        // daemon appends itself, so concurrent appenders through the mount never
        // overwrite each other (the kernel's offset comes from a possibly stale size).
        if req.uid() != 0
            && !h.privs_checked.swap(true, Ordering::Relaxed)
            && drop_set_id_bits(&h.file)?
        {
            self.invalidator.attributes(h.inode.node);
        }
        let len = data.len() as u64;
        if let IoIssuer::PageCache = issuer {
            // Writeback of a mapping's dirty pages: in place at the pages' offset, even
            // when the handle the kernel picked appends (its backing fd has O_APPEND,
            // which would move the bytes to the end of the file).
            let _gate = h.inode.gate.enter(offset, len, true);
            self.check_io_locks(req, &h, issuer, offset, len, true)?;
            self.write_back_pages(&h, data, offset)?;
        } else if h.append {
            // An append's offset is the size at the moment of the write: hold the whole
            // file so the size cannot move between the lock check and the write.
            let _gate = h.inode.gate.enter(0, u64::MAX, true);
            if self.core.has_locks(h.inode.key) {
                let size = h.file.metadata()?.len();
                self.check_io_locks(req, &h, issuer, size, len, true)?;
            }
            self.write_data(&h, data, 0)?;
        } else {
            let _gate = h.inode.gate.enter(offset, len, true);
            self.check_io_locks(req, &h, issuer, offset, len, true)?;
            self.write_data(&h, data, offset)?;
        }
        Ok(data.len() as u32)
    }

    pub(super) fn do_flush(
        &self,
        req: &Request,
        ino: INodeNo,
        fh: u64,
        lock_owner: u64,
    ) -> Result<(), FsError> {
        if super::control::is_virtual_fh(fh) {
            return Ok(());
        }
        let h = self.handle_of(ino, fh)?;
        // POSIX: any close() of the process's descriptors of a file drops its classic
        // locks on it.
        self.release_posix_locks(&h, lock_owner);
        // Each close() of a descriptor sends FLUSH; a RELEASE follows asynchronously if
        // it was the last one (it is queued before close() returns). Remember who closed
        // so conflicts and lookups can tell whether that RELEASE is coming.
        h.flushed_by.store(req.pid(), Ordering::Relaxed);
        h.closing.store(true, Ordering::Relaxed);
        // If this was the last close, the file's name goes at its RELEASE (delete pending
        // or delete-on-close): make the kernel forget the dentry before close() returns,
        // so the program's next path query reaches the daemon, which waits for that
        // RELEASE (`wait_for_vanishing`). The kernel holds no directory lock in FLUSH.
        if self.core.delete_awaits_close(h.inode.key)
            && let Some(loc) = h.inode.location()
        {
            self.invalidator.entry_now(loc.parent, &loc.name);
        }
        Ok(())
    }

    /// Drops a handle: the core forgets the open, a delete-on-close or pending delete
    /// takes effect at the last close (SEMANTICS.md §2).
    pub(super) fn do_release(&self, fh: u64) -> Result<(), FsError> {
        if super::control::is_virtual_fh(fh) {
            self.control_release(fh);
            return Ok(());
        }
        let Some(h) = self.handles.get_any(fh) else {
            return Err(FsError::errno(libc::EBADF));
        };
        // The handle stays in the table (marked releasing) until the core has forgotten
        // it and its name is settled, so an operation refused by it, or a lookup of the
        // name, meanwhile knows to wait for this release.
        self.releases_in_flight.fetch_add(1, Ordering::SeqCst);
        h.releasing.store(true, Ordering::Relaxed);
        h.closing.store(true, Ordering::Relaxed);
        let result = match self.core.close(h.inode.key, h.core) {
            Ok(outcome) => {
                if outcome.remove_name {
                    self.settle_pending(h.inode.key);
                } else if outcome.became_pending
                    && let Some(loc) = h.inode.location()
                {
                    self.invalidator.entry_now(loc.parent, &loc.name);
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
        self.releases_settled.fetch_add(1, Ordering::SeqCst);
        self.handles.remove(fh);
        self.releases_in_flight.fetch_sub(1, Ordering::SeqCst);
        // Its byte-range locks went with it: parked lock requests may now be granted.
        self.locks_released(h.inode.key, &h.inode.gate);
        drop(h);
        self.note_release();
        result
    }

    pub(super) fn do_fsync(&self, ino: INodeNo, fh: u64, datasync: bool) -> Result<(), FsError> {
        let h = self.handle_of(ino, fh)?;
        self.sync_handle(&h, datasync)
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn do_fallocate(
        &self,
        req: &Request,
        ino: INodeNo,
        fh: u64,
        offset: u64,
        length: u64,
        mode: i32,
    ) -> Result<(), FsError> {
        let h = self.handle_of(ino, fh)?;
        if !h.access.contains(Classes::WRITE) {
            return Err(FsError::errno(libc::EBADF));
        }
        // Allocation, punching holes, collapsing and inserting ranges all change the
        // bytes of the range (or beyond it): locks apply as to a write of the range,
        // and collapse/insert move everything after it, so they hold the whole file.
        let shifts = sys::fallocate_shifts(mode);
        let (from, len) = if shifts {
            (offset, u64::MAX - offset)
        } else {
            (offset, length)
        };
        let _gate = h.inode.gate.enter(from, len, true);
        let issuer = IoIssuer::Program { lock_owner: None };
        self.check_io_locks(req, &h, issuer, from, len, true)?;
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
        let h = self.handle_of(ino, fh)?;
        Ok(sys::lseek(h.file.as_fd(), offset, whence)?)
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn do_copy_file_range(
        &self,
        req: &Request,
        ino_in: INodeNo,
        fh_in: u64,
        offset_in: u64,
        ino_out: INodeNo,
        fh_out: u64,
        offset_out: u64,
        len: u64,
        flags: u32,
    ) -> Result<u32, FsError> {
        let src = self.handle_of(ino_in, fh_in)?;
        let dst = self.handle_of(ino_out, fh_out)?;
        if !src.access.contains(Classes::READ) || !dst.access.contains(Classes::WRITE) {
            return Err(FsError::errno(libc::EBADF));
        }
        let len = len.min(u32::MAX as u64 & !0xfff) as usize;
        if dst.append {
            // copy_file_range refuses O_APPEND destinations (EBADF), as it does natively.
            return Err(FsError::errno(libc::EBADF));
        }
        // Atomic and mandatory like a read of the source and a write of the target.
        // Gates are entered in node order (one gate over both ranges for one file), so
        // two opposite copies cannot deadlock.
        let n = len as u64;
        let _gates = if src.inode.node == dst.inode.node {
            let from = offset_in.min(offset_out);
            let to = offset_in.max(offset_out).saturating_add(n);
            (Some(src.inode.gate.enter(from, to - from, true)), None)
        } else if src.inode.node < dst.inode.node {
            let a = src.inode.gate.enter(offset_in, n, false);
            (Some(a), Some(dst.inode.gate.enter(offset_out, n, true)))
        } else {
            let b = dst.inode.gate.enter(offset_out, n, true);
            (Some(b), Some(src.inode.gate.enter(offset_in, n, false)))
        };
        // copy_file_range(2) is a program's own I/O; the request has no lock owner.
        let issuer = IoIssuer::Program { lock_owner: None };
        self.check_io_locks(req, &src, issuer, offset_in, n, false)?;
        self.check_io_locks(req, &dst, issuer, offset_out, n, true)?;
        let copied = sys::copy_file_range(
            src.file.as_fd(),
            offset_in as i64,
            dst.file.as_fd(),
            offset_out as i64,
            len,
            flags,
        )?;
        Ok(copied as u32)
    }
}
