//! Operations on an open handle that FUSE carries as ioctls (docs/control-api.md): the
//! delete disposition (SetFileInformationByHandle(FileDispositionInfo)) and rename by
//! handle (FileRenameInformation).

use std::ffi::OsStr;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use fuser::{INodeNo, Request};

use super::{FsError, SharefsFs};
use crate::backing::{Backing, Kind, key_of, sys};
use crate::control::{IOC_GET_DELETE, IOC_RENAME, IOC_SET_DELETE};
use crate::core::{DeleteMode, RenameRequest, RenameTarget};

fn u32_arg(data: &[u8]) -> Result<u32, FsError> {
    let bytes: [u8; 4] = data
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| FsError::errno(libc::EINVAL))?;
    Ok(u32::from_ne_bytes(bytes))
}

impl SharefsFs {
    /// Serves an ioctl; returns the data to copy out.
    pub(super) fn do_ioctl(
        &self,
        req: &Request,
        ino: INodeNo,
        fh: u64,
        cmd: u32,
        in_data: &[u8],
    ) -> Result<Vec<u8>, FsError> {
        if super::control::is_virtual_fh(fh) {
            return Err(FsError::errno(libc::ENOTTY));
        }
        let h = self.handle_of(ino, fh)?;
        match cmd {
            IOC_SET_DELETE => {
                let delete = u32_arg(in_data)? != 0;
                let inode = &h.inode;
                // A non-empty directory cannot be deleted (STATUS_DIRECTORY_NOT_EMPTY).
                if delete && inode.kind == Kind::Dir && !self.backing.is_dir_inode_empty(inode)? {
                    return Err(FsError::errno(libc::ENOTEMPTY));
                }
                let facts = self.facts_of(inode);
                self.core
                    .set_disposition(inode.key, h.core, delete, facts)
                    .map_err(|e| {
                        let owner = self.owner(req);
                        self.refused(
                            "set_delete",
                            &self.path_of(inode.node),
                            &owner,
                            "set delete disposition",
                            e.into(),
                        )
                    })?;
                if delete {
                    // Path queries must now reach the daemon (and fail: delete pending),
                    // starting with the caller's next one: invalidate before replying.
                    if let Some(loc) = inode.location() {
                        self.invalidator.entry_now(loc.parent, &loc.name);
                    }
                }
                Ok(Vec::new())
            }
            IOC_GET_DELETE => {
                let pending = self.core.delete_state(h.inode.key).pending;
                Ok(u32::from(pending).to_ne_bytes().to_vec())
            }
            IOC_RENAME => self.rename_by_handle(req, &h, in_data).map(|()| Vec::new()),
            // Other ioctls are not forwarded: their arguments may be pointers the kernel
            // cannot copy for us. ENOTTY is what a filesystem without them answers.
            _ => Err(FsError::errno(libc::ENOTTY)),
        }
    }

    /// Resolves a path relative to the mount root to (parent fd, last name), one
    /// component at a time, never following a symlink.
    fn resolve_parent<'a>(&self, target: &'a [u8]) -> Result<(OwnedFd, &'a OsStr), FsError> {
        let parts: Vec<&[u8]> = target
            .split(|b| *b == b'/')
            .filter(|p| !p.is_empty())
            .collect();
        let (last, dirs) = parts
            .split_last()
            .ok_or_else(|| FsError::errno(libc::EINVAL))?;
        if parts.iter().any(|p| *p == b"." || *p == b"..") {
            return Err(FsError::errno(libc::EINVAL));
        }
        if self.is_control_name(crate::backing::ROOT, OsStr::from_bytes(parts[0])) {
            return Err(FsError::errno(libc::EPERM));
        }
        let root = self.inode(INodeNo(crate::backing::ROOT))?;
        let mut dir = self.backing.dup_dir(&root)?;
        for part in dirs {
            dir = Backing::open_dir_at(dir.as_fd(), OsStr::from_bytes(part))?;
        }
        Ok((dir, OsStr::from_bytes(last)))
    }

    /// FileRenameInformation: needs delete access on the handle (else EACCES); the
    /// handle's own share set does not matter; EEXIST when the target exists and
    /// `replace` is 0; otherwise the rename rules of SEMANTICS.md §3.
    fn rename_by_handle(
        &self,
        req: &Request,
        h: &crate::backing::OpenFile,
        arg: &[u8],
    ) -> Result<(), FsError> {
        let replace = u32_arg(arg)? != 0;
        let raw = &arg[4..];
        let end = raw
            .iter()
            .position(|b| *b == 0)
            .ok_or_else(|| FsError::errno(libc::EINVAL))?;
        let (target_dir, target_name) = self.resolve_parent(&raw[..end])?;
        let inode = &h.inode;
        let loc = inode
            .location()
            .ok_or_else(|| FsError::errno(libc::EBUSY))?;
        let src_parent = self.inode(INodeNo(loc.parent))?;
        let target_parent_key = key_of(&sys::fstat(target_dir.as_fd())?);
        // Creating a name in a delete-pending directory is refused (SEMANTICS.md §2).
        if self.core.delete_state(target_parent_key).pending {
            return Err(crate::core::SemanticError::DeletePending.into());
        }
        // names=windows: a name that exists in another case is the target, unless it
        // is the source itself (a case-only rename), as for a rename by path
        // (entries.rs). Known only where the kernel has looked the directory up. Test:
        // tests/delete_rename.rs: rename_by_handle_without_replace_onto_another_case_is_eexist.
        let target_parent = self.backing.inodes.by_key(target_parent_key);
        let other_case = match &target_parent {
            Some(parent) if self.windows_names() => {
                match self.existing_spelling(parent, target_name)? {
                    std::borrow::Cow::Owned(stored)
                        if !matches!(Backing::probe_at(target_dir.as_fd(), &stored),
                            Ok((_, st)) if key_of(&st) == inode.key) =>
                    {
                        Some(stored)
                    }
                    _ => None,
                }
            }
            _ => None,
        };
        let target_name: &OsStr = other_case.as_deref().unwrap_or(target_name);
        let target_c = sys::cname(target_name)?;
        let target = match Backing::probe_at(target_dir.as_fd(), target_name) {
            Ok((_, st)) => Some(RenameTarget {
                key: key_of(&st),
                is_dir: Kind::from_mode(st.st_mode) == Kind::Dir,
                facts: self.facts_of_stat(&st),
            }),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => None,
            Err(e) => return Err(e.into()),
        };
        // Onto its own name: nothing to do, and Windows says success, with or without
        // replace (FileRenameInformation; SEMANTICS.md §3; tests/delete_rename.rs:
        // rename_by_handle_onto_its_own_name_succeeds).
        if target.as_ref().is_some_and(|t| t.key == inode.key)
            && target_parent_key == src_parent.key
            && target_name == loc.name.as_os_str()
        {
            return Ok(());
        }
        if target.is_some() && !replace {
            return Err(FsError::errno(libc::EEXIST));
        }
        let owner = self.owner(req);
        let path = self.path_of(inode.node);
        // The policy's delete mode and errno for this caller and path, as for a rename
        // by path (entries.rs).
        let decision =
            self.admission
                .delete_decision(Self::caller(req), &path, inode.kind == Kind::Dir);
        let mode = decision.rename;
        let open_descendants = if inode.kind == Kind::Dir && mode == DeleteMode::Classic {
            self.open_records_below(inode.key)
        } else {
            Vec::new()
        };
        let request = RenameRequest {
            source: inode.key,
            source_parent: src_parent.key,
            target_parent: target_parent_key,
            target,
            exchange: false,
            open_descendants,
            mode,
            owner: owner.clone(),
            path: path.clone(),
            source_handle: Some(h.core),
        };
        let ticket = self.core.begin_rename(&request).map_err(|e| {
            self.refused_with(
                decision.errnos(),
                "rename_by_handle",
                &path,
                &owner,
                &format!(
                    "rename by handle to {}",
                    String::from_utf8_lossy(&raw[..end])
                ),
                e.into(),
            )
        })?;
        // A directory may replace a closed file (Wine `test_file_rename_information`:
        // directory over file with ReplaceIfExists succeeds); renameat2 refuses that
        // (ENOTDIR), so the two are exchanged atomically and the file, now at the
        // directory's old name, is removed (tests/delete_rename.rs:
        // a_directory_replaces_a_closed_file_by_handle).
        let dir_over_file = inode.kind == Kind::Dir && target.as_ref().is_some_and(|t| !t.is_dir);
        let flags = match (replace, dir_over_file) {
            (false, _) => sys::RENAME_NOREPLACE,
            (true, true) => sys::RENAME_EXCHANGE,
            (true, false) => 0,
        };
        let source_c = sys::cname(&loc.name)?;
        let result = sys::renameat2(
            src_parent.dir_fd()?,
            &source_c,
            target_dir.as_fd(),
            &target_c,
            flags,
        )
        .and_then(|()| match dir_over_file {
            true => sys::unlinkat(src_parent.dir_fd()?, &source_c, 0),
            false => Ok(()),
        });
        for key in self.core.finish_rename(ticket, result.is_ok()) {
            self.settle_pending(key);
        }
        result?;
        // The kernel did not see this rename: drop its cached names for both sides
        // before replying, so the caller's next path query already sees the new state
        // (an ioctl holds no directory lock; tests/control_api.rs:
        // rename_ioctl_follows_the_rename_rules saw the old name under load).
        self.invalidator.entry_now(loc.parent, &loc.name);
        let mut names = self.pending_names.lock().unwrap_or_else(|p| p.into_inner());
        names.remove(&inode.key);
        if let Some(parent) = self.backing.inodes.by_key(target_parent_key) {
            inode.set_location(&parent, target_name);
            // Not under the pending-names lock: a synchronous invalidation waits for the
            // directory's lock, which an unlink holding it may hold while it waits for ours.
            drop(names);
            self.invalidator.entry_now(parent.node, target_name);
        } else {
            // The kernel has never looked the target directory up, so the inode table
            // cannot name the new location: keep it here for a later delete.
            let parent = std::sync::Arc::new(crate::backing::Inode::detached(
                target_dir,
                target_parent_key,
                Kind::Dir,
            ));
            // macOS reaches a file without an fd through its location, so it needs the
            // new one even in a directory the kernel does not know (docs/macos.md).
            #[cfg(not(target_os = "linux"))]
            inode.set_location(&parent, target_name);
            names.insert(
                inode.key,
                super::PendingName {
                    parent,
                    name: target_name.to_owned(),
                    is_dir: inode.kind == Kind::Dir,
                },
            );
        }
        Ok(())
    }
}
