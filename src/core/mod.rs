//! The semantics core: Windows share modes, delete pending / delete-on-close and the
//! rename rules, independent of any front-end.
//!
//! This module imports nothing but `std` (no `libc`, `fuser` or `winfsp`; the test
//! `core_is_platform_free` in `tests/layout.rs` keeps it so). Files are identified by
//! [`FileKey`] = `(st_dev, st_ino)`, never by name, so hard links and renames share state.
//!
//! Every decision that looks at existing opens is O(1) in their number: each file keeps
//! [`ShareCounters`] updated on open and close, and the list of opens is only walked to
//! name the other parties after a refusal.
//!
//! Lock order: a shard lock is the only lock the core takes, and no operation holds two
//! shard locks at once except [`Core::snapshot`], which takes them in index order.

pub mod access;
pub mod byte_range;
pub mod error;
pub mod rename;
pub mod share_table;

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

pub use access::{Classes, OpenKind, OpenRecord, OpenRequest, Owner};
pub use byte_range::{ByteLock, IoOrigin, IoRequester, LockList, LockOwner, LockRequest};
pub use error::SemanticError;
pub use rename::{RenameRequest, RenameTarget, RenameTicket};
pub use share_table::{ShareCounters, SharingConflict, check_sharing};

/// Identity of a backing file: `(st_dev, st_ino)`. Names are not identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileKey {
    /// Device of the backing file.
    pub dev: u64,
    /// Inode number of the backing file.
    pub ino: u64,
}

/// The core's id for one open (a program's handle or an implicit open).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HandleId(pub u64);

/// How a delete takes effect (SEMANTICS.md §2, "Version split").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DeleteMode {
    /// Older Windows, and every delete-on-close: the name stays listed, new opens and
    /// path queries fail with delete pending, the file goes at the last close.
    #[default]
    Classic,
    /// Windows 10 1809+ DeleteFile (FILE_DISPOSITION_POSIX_SEMANTICS): the name goes at
    /// once; open handles keep working and see delete pending.
    Posix,
}

/// Facts about the file that the front-end knows and the core needs for a decision.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FileFacts {
    /// FILE_ATTRIBUTE_READONLY (on a regular file).
    pub readonly: bool,
}

/// What the front-end must do after a close.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CloseOutcome {
    /// The last handle of a delete-pending file closed: remove its backing name now, then
    /// call [`Core::name_removed`].
    pub remove_name: bool,
    /// A delete-on-close handle closed and left the file pending for other handles (the
    /// front-end should drop cached names of it).
    pub became_pending: bool,
}

/// What the front-end must do after [`Core::commit_delete`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeleteOutcome {
    /// Remove the backing name now, then call [`Core::name_removed`]. When false the file
    /// is delete-pending and [`Core::close`] will ask for the removal later.
    pub remove_name_now: bool,
}

/// Delete state of a file with state in the core.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeleteState {
    /// The file is waiting for its last handle to close.
    pub pending: bool,
    /// Its backing name has already been removed (POSIX delete, or replaced by a rename).
    pub name_gone: bool,
}

/// One file as the lock table shows it.
#[derive(Clone, Debug)]
pub struct FileView {
    /// Identity.
    pub key: FileKey,
    /// Delete state.
    pub delete: DeleteState,
    /// Who made it delete-pending, and when.
    pub pending_by: Option<(Arc<Owner>, SystemTime)>,
    /// Its opens, by handle id.
    pub opens: Vec<OpenRecord>,
    /// Its byte-range locks, by start.
    pub locks: Vec<ByteLock>,
}

/// One file's opens and delete state.
#[derive(Debug, Default)]
struct FileState {
    /// Summary of the participating opens; always equals a recount of `opens`.
    counters: ShareCounters,
    /// Every open of the file, attribute-only and implicit ones included.
    opens: HashMap<HandleId, OpenRecord>,
    /// Delete disposition / delete pending (per file, not per handle).
    delete: DeleteState,
    /// Who made the file delete-pending, and when (for the lock table's PENDING row).
    pending_by: Option<(Arc<Owner>, SystemTime)>,
    /// Byte-range locks (each taken through one of `opens`).
    locks: LockList,
}

impl FileState {
    fn is_idle(&self) -> bool {
        self.opens.is_empty() && !self.delete.pending && self.locks.is_empty()
    }

    fn conflict_holders(&self, conflict: SharingConflict) -> Vec<OpenRecord> {
        let mut v: Vec<OpenRecord> = self
            .opens
            .values()
            .filter(|r| conflict.involves(r))
            .cloned()
            .collect();
        v.sort_by_key(|r| r.handle);
        v
    }

    fn insert(&mut self, handle: HandleId, req: OpenRequest) {
        let record = OpenRecord {
            handle,
            access: req.access,
            share: req.share,
            delete_on_close: req.delete_on_close,
            owner: req.owner,
            flags: req.flags,
            path: req.path,
            since: SystemTime::now(),
            kind: req.kind,
            backup: req.backup,
        };
        if record.participates() {
            self.counters.add(record.access, record.share);
        }
        self.opens.insert(handle, record);
    }

    fn remove(&mut self, handle: HandleId) -> Option<OpenRecord> {
        let record = self.opens.remove(&handle)?;
        if record.participates() {
            self.counters.remove(record.access, record.share);
        }
        Some(record)
    }

    /// The CreateFile checks in Windows' order: delete pending first (SEMANTICS.md §2,
    /// "checked before sharing"), then the sharing rule.
    fn admit(&self, req: &OpenRequest) -> Result<(), SemanticError> {
        if self.delete.pending {
            return Err(SemanticError::DeletePending);
        }
        if req.backup {
            return Ok(());
        }
        check_sharing(&self.counters, req.access, req.share).map_err(|conflict| {
            SemanticError::SharingViolation {
                conflict,
                holders: self.conflict_holders(conflict),
            }
        })
    }
}

/// Number of independently locked shards of the open registry.
const SHARDS: usize = 64;

/// The open registry and every decision over it.
#[derive(Debug)]
pub struct Core {
    /// Per-file state, sharded by key so unrelated files do not contend.
    shards: Box<[Mutex<HashMap<FileKey, FileState>>]>,
    /// Next handle id; ids are never reused during a mount.
    next_handle: AtomicU64,
}

impl Default for Core {
    fn default() -> Self {
        Core::new()
    }
}

impl Core {
    /// An empty registry.
    pub fn new() -> Core {
        Core {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            next_handle: AtomicU64::new(1),
        }
    }

    fn shard(&self, key: FileKey) -> MutexGuard<'_, HashMap<FileKey, FileState>> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut h);
        let i = (h.finish() as usize) % SHARDS;
        // A poisoned shard only means another request panicked mid-update; the counters
        // are updated before any fallible step, so the data is still consistent.
        self.shards[i].lock().unwrap_or_else(|p| p.into_inner())
    }

    fn new_handle(&self) -> HandleId {
        HandleId(self.next_handle.fetch_add(1, Ordering::Relaxed))
    }

    /// Decides and records an open (CreateFile). Delete-on-close needs delete access
    /// (SEMANTICS.md §2: invalid parameter, nothing created) and is refused on a
    /// read-only file (access denied; Wine `test_file_readonly_access`-style cases).
    pub fn open(
        &self,
        key: FileKey,
        req: OpenRequest,
        facts: FileFacts,
    ) -> Result<HandleId, SemanticError> {
        Self::validate(&req, facts)?;
        let mut shard = self.shard(key);
        let state = shard.entry(key).or_default();
        if let Err(e) = state.admit(&req) {
            if state.is_idle() {
                shard.remove(&key);
            }
            return Err(e);
        }
        let handle = self.new_handle();
        state.insert(handle, req);
        Ok(handle)
    }

    /// Checks that do not depend on other opens.
    pub fn validate(req: &OpenRequest, facts: FileFacts) -> Result<(), SemanticError> {
        if req.delete_on_close && !req.access.contains(Classes::DELETE) {
            return Err(SemanticError::InvalidParameter(
                "delete-on-close without delete access",
            ));
        }
        if req.delete_on_close && facts.readonly {
            return Err(SemanticError::AccessDenied {
                reason: "delete-on-close on a read-only file",
                holders: Vec::new(),
            });
        }
        // FILE_ATTRIBUTE_READONLY: no open for writing, whoever asks (Wine
        // dlls/kernel32/tests/file.c: test_file_readonly_access).
        if facts.readonly && req.access.contains(Classes::WRITE) {
            return Err(SemanticError::AccessDenied {
                reason: "file is read-only",
                holders: Vec::new(),
            });
        }
        Ok(())
    }

    /// Would an open be admitted now? Records nothing (used for checks by path).
    pub fn probe(&self, key: FileKey, req: &OpenRequest) -> Result<(), SemanticError> {
        let shard = self.shard(key);
        match shard.get(&key) {
            Some(state) => state.admit(req),
            None => Ok(()),
        }
    }

    /// Removes an open. A delete-on-close handle makes the file delete-pending when it
    /// closes (SEMANTICS.md §2); the last close of a pending file asks the front-end to
    /// remove the name.
    pub fn close(&self, key: FileKey, handle: HandleId) -> Result<CloseOutcome, SemanticError> {
        let mut shard = self.shard(key);
        let Some(state) = shard.get_mut(&key) else {
            return Err(SemanticError::UnknownHandle);
        };
        let Some(record) = state.remove(handle) else {
            return Err(SemanticError::UnknownHandle);
        };
        // Locks go away when their handle closes (SEMANTICS.md §4).
        state.locks.release_handle(handle);
        let mut outcome = CloseOutcome::default();
        if record.delete_on_close && !state.delete.pending {
            state.delete.pending = true;
            state.pending_by = Some((record.owner.clone(), SystemTime::now()));
            outcome.became_pending = !state.opens.is_empty();
        }
        if state.opens.is_empty() && state.delete.pending {
            if state.delete.name_gone {
                shard.remove(&key);
            } else {
                outcome.remove_name = true;
            }
        } else if state.is_idle() {
            shard.remove(&key);
        }
        Ok(outcome)
    }

    /// Registers a daemon-internal open that shares everything, as DeleteFile, MoveFile
    /// and truncate-by-path do on Windows (SEMANTICS.md §1, last paragraph).
    pub fn begin_implicit(
        &self,
        key: FileKey,
        access: Classes,
        owner: Arc<Owner>,
        path: Arc<str>,
    ) -> Result<HandleId, SemanticError> {
        let mut req = OpenRequest::new(access, Classes::ALL, owner, path);
        req.kind = OpenKind::Implicit;
        self.open(key, req, FileFacts::default())
    }

    /// Ends an implicit open without any delete effect of its own. Like [`Core::close`]
    /// (which it is): if the file became delete-pending meanwhile (a delete-on-close
    /// handle closed, a disposition was set, a racing unlink committed) and this was its
    /// last open, `remove_name` asks the front-end to remove the name now; otherwise
    /// nobody would, and the file would stay pending until the mount ends.
    pub fn end_implicit(&self, key: FileKey, handle: HandleId) -> CloseOutcome {
        self.close(key, handle).unwrap_or_default()
    }

    /// Sets the delete disposition through the implicit delete-open `handle` (unlink and
    /// rmdir = DeleteFile / RemoveDirectory) and ends that open. A read-only file cannot
    /// be deleted (STATUS_CANNOT_DELETE; Wine `test_DeleteFileA`).
    pub fn commit_delete(
        &self,
        key: FileKey,
        handle: HandleId,
        mode: DeleteMode,
        facts: FileFacts,
    ) -> Result<DeleteOutcome, SemanticError> {
        let mut shard = self.shard(key);
        let Some(state) = shard.get_mut(&key) else {
            return Err(SemanticError::UnknownHandle);
        };
        let Some(implicit) = state.remove(handle) else {
            return Err(SemanticError::UnknownHandle);
        };
        if facts.readonly {
            if state.is_idle() {
                shard.remove(&key);
            }
            return Err(SemanticError::CannotDelete);
        }
        state.delete.pending = true;
        state.pending_by = Some((implicit.owner, SystemTime::now()));
        let remove_name_now = mode == DeleteMode::Posix || state.opens.is_empty();
        Ok(DeleteOutcome { remove_name_now })
    }

    /// Reports the result of a backing removal the core asked for. On success the name is
    /// gone (and the state too once no handle remains); on failure the delete is undone,
    /// so the file is usable again and the error reaches the caller.
    pub fn name_removed(&self, key: FileKey, ok: bool) {
        let mut shard = self.shard(key);
        if let Some(state) = shard.get_mut(&key) {
            if ok {
                state.delete.name_gone = true;
            } else {
                state.delete.pending = false;
            }
            if state.opens.is_empty() {
                shard.remove(&key);
            }
        }
    }

    /// SetFileInformationByHandle(FileDispositionInfo): needs delete access on the handle
    /// (else access denied); read-only files cannot be deleted. Clearing works for any
    /// handle with delete access and does not cancel delete-on-close (SEMANTICS.md §2).
    pub fn set_disposition(
        &self,
        key: FileKey,
        handle: HandleId,
        delete: bool,
        facts: FileFacts,
    ) -> Result<(), SemanticError> {
        let mut shard = self.shard(key);
        let Some(state) = shard.get_mut(&key) else {
            return Err(SemanticError::UnknownHandle);
        };
        let Some(record) = state.opens.get(&handle) else {
            return Err(SemanticError::UnknownHandle);
        };
        if !record.access.contains(Classes::DELETE) {
            return Err(SemanticError::AccessDenied {
                reason: "handle lacks delete access",
                holders: Vec::new(),
            });
        }
        if delete && facts.readonly {
            return Err(SemanticError::CannotDelete);
        }
        if !state.delete.name_gone {
            state.delete.pending = delete;
            state.pending_by = delete.then(|| (record.owner.clone(), SystemTime::now()));
        }
        Ok(())
    }

    /// The delete state of a file, if the core has any state for it.
    pub fn delete_state(&self, key: FileKey) -> DeleteState {
        self.shard(key)
            .get(&key)
            .map(|s| s.delete)
            .unwrap_or_default()
    }

    /// Whether the file's name goes when its handles close: it is delete-pending, or a
    /// delete-on-close open of it is still open (SEMANTICS.md §2).
    pub fn delete_awaits_close(&self, key: FileKey) -> bool {
        self.shard(key)
            .get(&key)
            .is_some_and(|s| s.delete.pending || s.opens.values().any(|r| r.delete_on_close))
    }

    /// The open records of one file, sorted by handle.
    pub fn opens_of(&self, key: FileKey) -> Vec<OpenRecord> {
        let shard = self.shard(key);
        let mut v: Vec<OpenRecord> = shard
            .get(&key)
            .map(|s| s.opens.values().cloned().collect())
            .unwrap_or_default();
        v.sort_by_key(|r| r.handle);
        v
    }

    /// One open record.
    pub fn record(&self, key: FileKey, handle: HandleId) -> Option<OpenRecord> {
        self.shard(key)
            .get(&key)
            .and_then(|s| s.opens.get(&handle).cloned())
    }

    /// The per-file counters (for tests and the lock table's consistency checks).
    pub fn counters(&self, key: FileKey) -> ShareCounters {
        self.shard(key)
            .get(&key)
            .map(|s| s.counters)
            .unwrap_or_default()
    }

    /// Keys of every file that has at least one open of a program (not implicit ones).
    pub fn open_files(&self) -> Vec<FileKey> {
        let mut keys = Vec::new();
        for shard in self.shards.iter() {
            let shard = shard.lock().unwrap_or_else(|p| p.into_inner());
            keys.extend(
                shard
                    .iter()
                    .filter(|(_, s)| s.opens.values().any(|r| r.kind == OpenKind::Handle))
                    .map(|(k, _)| *k),
            );
        }
        keys
    }

    /// A consistent snapshot of every file's opens and delete state: all shards are
    /// locked (in index order) before any is read, so every row was true at one instant.
    /// [`Core::table`] without locks and pending owners (what the property tests compare).
    pub fn snapshot(&self) -> Vec<(FileKey, DeleteState, Vec<OpenRecord>)> {
        self.table()
            .into_iter()
            .map(|f| (f.key, f.delete, f.opens))
            .collect()
    }

    /// A consistent view of every file for the lock table: all shards are locked (in
    /// index order) before any is read, so every row was true at one instant.
    pub fn table(&self) -> Vec<FileView> {
        let guards: Vec<_> = self
            .shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()))
            .collect();
        let mut out = Vec::new();
        for g in &guards {
            for (key, state) in g.iter() {
                let mut opens: Vec<OpenRecord> = state.opens.values().cloned().collect();
                opens.sort_by_key(|r| r.handle);
                out.push(FileView {
                    key: *key,
                    delete: state.delete,
                    pending_by: state.pending_by.clone(),
                    opens,
                    locks: state.locks.all(),
                });
            }
        }
        drop(guards);
        out.sort_by_key(|f| f.key);
        out
    }

    /// True when the registry holds no state at all (every handle closed, nothing
    /// pending).
    pub fn is_empty(&self) -> bool {
        self.shards
            .iter()
            .all(|s| s.lock().unwrap_or_else(|p| p.into_inner()).is_empty())
    }

    /// Checks every file's counters against a recount of its opens (used by tests).
    pub fn counters_consistent(&self) -> bool {
        self.shards.iter().all(|s| {
            s.lock()
                .unwrap_or_else(|p| p.into_inner())
                .values()
                .all(|st| st.counters == ShareCounters::recount(st.opens.values()))
        })
    }
}

impl Core {
    /// LockFileEx / fcntl(F_SETLK): grants the lock or names the conflicting locks
    /// (LOCK_NOT_GRANTED). The handle must be open on the file.
    pub fn lock(&self, key: FileKey, req: &LockRequest) -> Result<(), SemanticError> {
        let mut shard = self.shard(key);
        let state = shard.get_mut(&key).ok_or(SemanticError::UnknownHandle)?;
        if !state.opens.contains_key(&req.via) {
            return Err(SemanticError::UnknownHandle);
        }
        state
            .locks
            .lock(req)
            .map(drop)
            .map_err(|locks| SemanticError::LockNotGranted { locks })
    }

    /// The locks a request would conflict with (F_GETLK), without taking it.
    pub fn lock_conflicts(&self, key: FileKey, req: &LockRequest) -> Vec<ByteLock> {
        self.shard(key)
            .get(&key)
            .map(|s| s.locks.conflicts(req))
            .unwrap_or_default()
    }

    /// UnlockFileEx (exact match, else STATUS_RANGE_NOT_LOCKED) or a POSIX unlock
    /// (splits, never fails).
    pub fn unlock(
        &self,
        key: FileKey,
        owner: LockOwner,
        start: u64,
        len: u64,
        windows: bool,
    ) -> Result<(), SemanticError> {
        let mut shard = self.shard(key);
        let Some(state) = shard.get_mut(&key) else {
            return if windows {
                Err(SemanticError::NotLocked)
            } else {
                Ok(())
            };
        };
        if windows {
            if !state.locks.unlock_exact(owner, start, len) {
                return Err(SemanticError::NotLocked);
            }
        } else {
            state.locks.unlock_posix(owner, start, len);
        }
        Ok(())
    }

    /// Drops every lock of a POSIX owner on a file (classic locks are released by any
    /// close of the process's descriptors of the file). Returns how many went.
    pub fn release_lock_owner(&self, key: FileKey, owner: LockOwner) -> usize {
        self.shard(key)
            .get_mut(&key)
            .map_or(0, |s| s.locks.release_owner(owner))
    }

    /// Whether a file has any byte-range lock (the I/O fast path skips the check).
    pub fn has_locks(&self, key: FileKey) -> bool {
        self.shard(key)
            .get(&key)
            .is_some_and(|s| !s.locks.is_empty())
    }

    /// The mandatory I/O check (SEMANTICS.md §4): refuses reading or writing a range
    /// another owner has locked exclusively, and writing any range under a shared lock.
    /// A mapped view's page I/O is never refused ([`IoOrigin::MappedView`]).
    pub fn check_io(
        &self,
        key: FileKey,
        origin: IoOrigin,
        start: u64,
        len: u64,
        write: bool,
    ) -> Result<(), SemanticError> {
        let who = match origin {
            IoOrigin::Handle(who) => who,
            IoOrigin::MappedView => return Ok(()),
        };
        let shard = self.shard(key);
        let Some(state) = shard.get(&key) else {
            return Ok(());
        };
        let locks = state.locks.io_conflicts(who, start, len, write);
        if locks.is_empty() {
            Ok(())
        } else {
            Err(SemanticError::LockConflict { locks })
        }
    }
}

#[cfg(test)]
mod tests;
