//! Names: lookup, create-like operations, unlink, rmdir, rename, readlink.

use std::ffi::OsStr;
use std::sync::Arc;

use fuser::{FileAttr, INodeNo, RenameFlags, Request};

use super::{FsError, PendingName, SharefsFs, attr};
use crate::backing::{Backing, Inode, Kind, key_of, sys};
use crate::core::{Classes, DeleteMode, FileKey, RenameRequest, RenameTarget, SemanticError};
use crate::policy::ReadOnlyRule;

/// Reply payload of operations that create a name: attributes and generation.
pub(super) type Entry = (FileAttr, u64);

impl SharefsFs {
    /// Runs `f` with the caller's fsuid/fsgid when the daemon is root, so new files get
    /// the caller's ownership and the parent's permissions are checked for the caller.
    pub(super) fn as_caller<T>(&self, req: &Request, f: impl FnOnce() -> T) -> T {
        if self.cfg.switch_creds && req.uid() != 0 {
            let _guard = sys::FsCredsGuard::switch(req.uid(), req.gid());
            f()
        } else {
            f()
        }
    }

    pub(super) fn do_lookup(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
    ) -> Result<(Entry, std::time::Duration), FsError> {
        if let Some(virtual_entry) = self.control_lookup(parent.0, name) {
            return virtual_entry.map(|attr| ((attr, 0), self.cfg.entry_ttl));
        }
        let parent = self.inode(parent)?;
        // names=windows: an exact miss finds the stored spelling in another case, except
        // as the target of a rename, which must see it absent (docs/names.md).
        let releases_before = self.releases_done();
        let (fd, st, stored) = self.probe_name(&parent, name)?;
        // Its last close was just seen and its name goes at that RELEASE: look again
        // once the RELEASE is done (most often: ENOENT). Look again too if a RELEASE
        // finished since the probe: it may have removed the name just probed.
        let (fd, st, stored) =
            if self.wait_for_vanishing(key_of(&st)) || self.releases_done() != releases_before {
                self.probe_name(&parent, name)?
            } else {
                (fd, st, stored)
            };
        if stored != name && self.is_rename_target_lookup(req.pid(), name) {
            return Err(FsError::errno(libc::ENOENT));
        }
        // A name found in another spelling is not cached by the kernel (entry TTL 0):
        // a later rename or delete through the stored spelling could not invalidate it.
        let entry_ttl = if stored == name {
            self.cfg.entry_ttl
        } else {
            std::time::Duration::ZERO
        };
        let name: &OsStr = &stored;
        // Classic delete pending: the name is still listed but every path query of it
        // fails (SEMANTICS.md §2; Wine `test_delete_pending`-style cases).
        if self.core.delete_state(key_of(&st)).pending {
            return Err(SemanticError::DeletePending.into());
        }
        let inode = self.backing.remember(&parent, name, fd, &st);
        Ok(((attr(inode.node, &st), inode.generation), entry_ttl))
    }

    /// Looks up a name just created by us and returns its entry.
    fn entry_of(&self, parent: &Arc<Inode>, name: &OsStr) -> Result<Entry, FsError> {
        let (inode, st) = self.backing.lookup(parent, name)?;
        Ok((attr(inode.node, &st), inode.generation))
    }

    pub(super) fn do_mkdir(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
    ) -> Result<Entry, FsError> {
        self.check_not_control(parent.0, name)?;
        let parent = self.inode(parent)?;
        self.check_parent_live(&parent)?;
        let spelled = self.name_to_create(req, &parent, name, "mkdir")?;
        let name: &OsStr = &spelled;
        let (fd, c) = Backing::entry(&parent, name)?;
        self.as_caller(req, || sys::mkdirat(fd, &c, mode))?;
        self.entry_of(&parent, name)
    }

    pub(super) fn do_mknod(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        rdev: u32,
    ) -> Result<Entry, FsError> {
        self.check_not_control(parent.0, name)?;
        let parent = self.inode(parent)?;
        self.check_parent_live(&parent)?;
        let spelled = self.name_to_create(req, &parent, name, "mknod")?;
        let name: &OsStr = &spelled;
        let (fd, c) = Backing::entry(&parent, name)?;
        self.as_caller(req, || sys::mknodat(fd, &c, mode, rdev as libc::dev_t))?;
        self.entry_of(&parent, name)
    }

    pub(super) fn do_symlink(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        target: &std::path::Path,
    ) -> Result<Entry, FsError> {
        self.check_not_control(parent.0, name)?;
        let parent = self.inode(parent)?;
        self.check_parent_live(&parent)?;
        let spelled = self.name_to_create(req, &parent, name, "symlink")?;
        let name: &OsStr = &spelled;
        let (fd, c) = Backing::entry(&parent, name)?;
        // The target is stored verbatim and never resolved by the daemon: the kernel
        // resolves it inside the mount, where `..` and absolute paths cannot reach the
        // backing directory's outside through us.
        let t = sys::cname(target.as_os_str())?;
        self.as_caller(req, || sys::symlinkat(&t, fd, &c))?;
        self.entry_of(&parent, name)
    }

    pub(super) fn do_link(
        &self,
        req: &Request,
        ino: INodeNo,
        newparent: INodeNo,
        newname: &OsStr,
    ) -> Result<Entry, FsError> {
        self.check_not_control(newparent.0, newname)?;
        let inode = self.inode(ino)?;
        let newparent = self.inode(newparent)?;
        self.check_parent_live(&newparent)?;
        if self.core.delete_state(inode.key).pending {
            return Err(SemanticError::DeletePending.into());
        }
        let spelled = self.name_to_create(req, &newparent, newname, "link")?;
        let newname: &OsStr = &spelled;
        let (fd, c) = Backing::entry(&newparent, newname)?;
        self.backing.link(&inode, fd, &c)?;
        self.entry_of(&newparent, newname)
    }

    pub(super) fn do_readlink(&self, ino: INodeNo) -> Result<Vec<u8>, FsError> {
        let inode = self.inode(ino)?;
        if inode.kind != Kind::Symlink {
            return Err(FsError::errno(libc::EINVAL));
        }
        Ok(self.backing.readlink(&inode)?)
    }

    /// unlink and rmdir: DeleteFile / RemoveDirectory = an implicit open with delete
    /// access that shares everything, then the delete disposition (SEMANTICS.md §1, §2).
    pub(super) fn do_remove(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        is_dir: bool,
    ) -> Result<(), FsError> {
        if self.is_control_name(parent.0, name) || parent.0 == super::control::CONTROL_DIR {
            return Err(FsError::errno(libc::EPERM));
        }
        let parent = self.inode(parent)?;
        let owner = self.owner(req);
        let path = self.child_path(parent.node, name);
        let op = if is_dir { "rmdir" } else { "unlink" };
        let (child_fd, st, stored) = self.probe_name(&parent, name)?;
        let name: &OsStr = &stored;
        let kind = Kind::from_mode(st.st_mode);
        match (is_dir, kind) {
            (false, Kind::Dir) => return Err(FsError::errno(libc::EISDIR)),
            (true, k) if k != Kind::Dir => return Err(FsError::errno(libc::ENOTDIR)),
            _ => {}
        }
        let key = key_of(&st);
        let decision = self
            .admission
            .delete_decision(Self::caller(req), &path, is_dir);
        let mode = decision.delete;
        // A runtime that clears the read-only attribute before deleting (libuv, Go, Rust,
        // git's mingw_unlink; RUNTIMES.md) is not stopped by it (tests/runtimes.rs:
        // read_only_files_are_deleted_by_the_runtimes_that_clear_the_attribute).
        let mut facts = self.facts_of_stat(&st);
        if decision.readonly_delete == ReadOnlyRule::Clears {
            facts.readonly = false;
        }
        let outcome = self
            .retry_after_release(|| {
                let h =
                    self.core
                        .begin_implicit(key, Classes::DELETE, owner.clone(), path.clone())?;
                // A directory must be empty now, whether it goes at once or only at its
                // last close: a pending removal could not fail any more (SEMANTICS.md §2:
                // a directory whose only child is pending still counts as not empty).
                // Checked every time, not only when other opens exist: an opendir that
                // registers between this decision and the commit would otherwise make a
                // non-empty directory pending, and rmdir would return 0 and remove
                // nothing (tests/close_race.rs: rmdir_of_a_non_empty_directory_...).
                if is_dir {
                    let empty = self.backing.is_dir_empty(&child_fd);
                    if !matches!(empty, Ok(true)) {
                        if self.core.end_implicit(key, h).remove_name {
                            self.settle_pending(key);
                        }
                        return Err(match empty {
                            Err(e) => FsError::Io(e),
                            Ok(_) => FsError::errno(libc::ENOTEMPTY),
                        });
                    }
                }
                Ok(self.core.commit_delete(key, h, mode, facts)?)
            })
            .map_err(|e| self.refused_with(decision.errnos(), op, &path, &owner, "delete", e))?;
        if outcome.remove_name_now {
            let removed = self.backing.remove(&parent, name, is_dir);
            self.core.name_removed(key, removed.is_ok());
            removed?;
        } else {
            tracing::debug!(path = %path, "delete pending until the last handle closes");
            self.pending_names
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(
                    key,
                    PendingName {
                        parent: parent.clone(),
                        name: name.to_owned(),
                        is_dir,
                    },
                );
        }
        Ok(())
    }

    /// Removes the backing name of a delete-pending file whose last open has gone (the
    /// core asked for it with `remove_name`), and reports the result to the core.
    pub(super) fn settle_pending(&self, key: FileKey) {
        let stored = self
            .pending_names
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&key);
        let target = match stored {
            Some(p) => Some((p.parent, p.name, p.is_dir)),
            None => self.backing.inodes.by_key(key).and_then(|inode| {
                let loc = inode.location()?;
                let parent = self.backing.inodes.get(loc.parent)?;
                Some((parent, loc.name, inode.kind == Kind::Dir))
            }),
        };
        let Some((parent, name, is_dir)) = target else {
            tracing::warn!(?key, "delete-pending file has no known name left");
            self.core.name_removed(key, false);
            return;
        };
        // The name must still be this file: a backing change behind our back must not
        // make us delete another file.
        let same = matches!(self.backing.probe(&parent, &name), Ok((_, st)) if key_of(&st) == key);
        let ok = same && self.backing.remove(&parent, &name, is_dir).is_ok();
        if !ok {
            tracing::warn!(?key, name = ?name, "could not remove delete-pending file");
        }
        self.core.name_removed(key, ok);
        self.invalidator.entry(parent.node, &name);
    }

    pub(super) fn do_rename(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
    ) -> Result<(), FsError> {
        for (p, n) in [(parent, name), (newparent, newname)] {
            if self.is_control_name(p.0, n) || p.0 == super::control::CONTROL_DIR {
                return Err(FsError::errno(libc::EPERM));
            }
        }
        let parent = self.inode(parent)?;
        let newparent = self.inode(newparent)?;
        self.check_parent_live(&newparent)?;
        let owner = self.owner(req);
        let path = self.child_path(parent.node, name);
        let (_src_fd, src_st, src_stored) = self.probe_name(&parent, name)?;
        let name: &OsStr = &src_stored;
        let source = key_of(&src_st);
        let src_kind = Kind::from_mode(src_st.st_mode);
        // names=windows: the new name must be one Windows can hold; an existing name in
        // another case is the target (replaced), unless it is the source itself: then
        // this is a case-only rename to the new spelling.
        self.check_windows_name(req, &newparent, newname, "rename")?;
        let target_spelling = match self.existing_spelling(&newparent, newname)? {
            std::borrow::Cow::Owned(v)
                if matches!(self.backing.probe(&newparent, &v),
                    Ok((_, st)) if key_of(&st) == source) =>
            {
                std::borrow::Cow::Borrowed(newname)
            }
            other => other,
        };
        let newname: &OsStr = &target_spelling;
        let decision =
            self.admission
                .delete_decision(Self::caller(req), &path, src_kind == Kind::Dir);
        let target = match self.backing.probe(&newparent, newname) {
            Ok((_, st)) => Some(RenameTarget {
                key: key_of(&st),
                is_dir: Kind::from_mode(st.st_mode) == Kind::Dir,
                facts: self.rename_target_facts(&st, &decision),
            }),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => None,
            Err(e) => return Err(e.into()),
        };
        let raw = flags.bits();
        if raw & sys::RENAME_NOREPLACE != 0 && target.is_some() {
            return Err(FsError::errno(libc::EEXIST));
        }
        let exchange = raw & sys::RENAME_EXCHANGE != 0;
        let mode = decision.rename;
        let ticket = self
            .retry_after_release(|| {
                let open_descendants = if src_kind == Kind::Dir && mode == DeleteMode::Classic {
                    self.open_records_below(source)
                } else {
                    Vec::new()
                };
                let request = RenameRequest {
                    source,
                    source_parent: parent.key,
                    target_parent: newparent.key,
                    target,
                    exchange,
                    open_descendants,
                    mode,
                    source_handle: None,
                    owner: owner.clone(),
                    path: path.clone(),
                };
                Ok(self.core.begin_rename(&request)?)
            })
            .map_err(|e| {
                self.refused_with(
                    decision.errnos(),
                    "rename",
                    &path,
                    &owner,
                    &format!("rename to {}", newname.to_string_lossy()),
                    e,
                )
            })?;
        let result = sys::renameat2(
            parent.dir_fd()?,
            &sys::cname(name)?,
            newparent.dir_fd()?,
            &sys::cname(newname)?,
            raw,
        );
        for key in self.core.finish_rename(ticket, result.is_ok()) {
            self.settle_pending(key);
        }
        result?;
        if let Some(inode) = self.backing.inodes.by_key(source) {
            inode.set_location(&newparent, newname);
        }
        // Under -o write_through a rename is durable when it returns: both directories.
        if self.cfg.write_through {
            self.sync_dir(&parent)?;
            if newparent.node != parent.node {
                self.sync_dir(&newparent)?;
            }
        }
        // A name remembered for a later delete is stale now.
        self.pending_names
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&source);
        if exchange && let Some(t) = target.and_then(|t| self.backing.inodes.by_key(t.key)) {
            t.set_location(&parent, name);
        }
        Ok(())
    }

    /// Open records of every file whose last known location is below the directory
    /// `dir` (by name chain). Only walks when some file is open at all.
    pub(super) fn open_records_below(
        &self,
        dir: crate::core::FileKey,
    ) -> Vec<crate::core::OpenRecord> {
        let Some(dir_inode) = self.backing.inodes.by_key(dir) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for key in self.core.open_files() {
            if let Some(inode) = self.backing.inodes.by_key(key)
                && self.backing.inodes.is_below(inode.node, dir_inode.node)
            {
                out.extend(self.core.opens_of(key));
            }
        }
        out
    }
}
