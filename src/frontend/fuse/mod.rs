//! The FUSE front-end (Linux, and macOS through macFUSE): decodes each request, asks the
//! semantics core, performs the backing operation and replies exactly once.
//!
//! Each `Filesystem` method is a two-line shim over a `do_*` function that returns
//! `Result<_, FsError>`; only the shim touches the reply object.
//!
//! Lock order: handle table → core shard → inode table; none is held across a syscall.

mod attrs;
mod control;
mod decide;
mod dirs;
mod durability;
mod entries;
pub mod errno;
mod files;
mod filesystem;
mod handle_ops;
mod invalidate;
mod locks;
mod names;
pub mod preflight;
mod report;
pub mod session;

use std::collections::HashMap;
use std::ffi::OsString;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fuser::{FileAttr, FileType, INodeNo, Request};

pub use errno::FsError;
pub use invalidate::Invalidator;

use crate::backing::{Backing, HandleTable, Inode, Stat};
use crate::control::IntentTable;
use crate::control::conflicts::ConflictLog;
use crate::core::{Core, FileKey, Owner, SemanticError};
use crate::policy::Profile;
use crate::service::process;
use crate::service::{Admission, Caller};

/// Settings of one mount that the front-end needs.
#[derive(Clone, Debug)]
pub struct FsConfig {
    /// Share sets for programs that cannot ask for one.
    pub profile: Profile,
    /// How long the kernel may cache a name → inode mapping.
    pub entry_ttl: Duration,
    /// How long the kernel may cache attributes.
    pub attr_ttl: Duration,
    /// errno for a sharing violation (EBUSY by default, SEMANTICS.md §7).
    pub sharing_errno: i32,
    /// The daemon runs as root: create files with the caller's fsuid/fsgid.
    pub switch_creds: bool,
    /// Worker threads (to size waits; fuser owns the threads).
    pub threads: usize,
    /// Name of the virtual control directory at the mount root.
    pub control_name: OsString,
    /// How long an unconsumed control-API intent stays valid.
    pub intent_ttl: Duration,
    /// How many refusals `.sharefs/conflicts` keeps.
    pub conflict_log: usize,
    /// Model FILE_ATTRIBUTE_READONLY (a file without write bits cannot be written,
    /// truncated, deleted or replaced, not even by root).
    pub readonly_attr: bool,
    /// Every write on the mount is write-through, and creates and renames sync their
    /// directories (`-o write_through`).
    pub write_through: bool,
    /// The policy in force (built-in profile, or a policy file; reloadable).
    pub policy: Arc<crate::policy::PolicyHandle>,
    /// Name semantics (docs/names.md).
    pub names: crate::names::NameMode,
    /// Paths longer than MAX_PATH may be created (names=windows only).
    pub long_paths: bool,
    /// Where the mount is, as the daemon's `/proc/self/mountinfo` shows it (absolute,
    /// resolved): finds the mount's device for `/proc` checks of other processes.
    pub mountpoint: Option<std::path::PathBuf>,
}

impl Default for FsConfig {
    fn default() -> Self {
        FsConfig {
            profile: Profile::Windows,
            entry_ttl: Duration::from_secs(1),
            attr_ttl: Duration::from_secs(1),
            sharing_errno: libc::EBUSY,
            switch_creds: false,
            threads: 8,
            control_name: OsString::from(crate::control::DEFAULT_CONTROL_DIR),
            intent_ttl: crate::control::intent::INTENT_TTL,
            conflict_log: 1000,
            readonly_attr: true,
            write_through: false,
            policy: Default::default(),
            names: crate::names::NameMode::Posix,
            long_paths: false,
            mountpoint: None,
        }
    }
}

/// Where a file's name lives when the inode table cannot tell: a delete-pending file
/// from its unlink to its last close (the kernel forgets the dentry at unlink, so the
/// parent may leave the inode table), or a file renamed by handle into a directory the
/// kernel has never looked up.
#[derive(Debug)]
struct PendingName {
    parent: Arc<Inode>,
    name: OsString,
    is_dir: bool,
}

/// How long a refused operation waits for the RELEASE of handles whose close() was
/// already seen (the kernel sends RELEASE asynchronously after close() returns; under
/// CPU load the worker that serves it was seen to need over 150 ms).
const RELEASE_GRACE: Duration = Duration::from_millis(500);

/// The filesystem served over FUSE.
#[derive(Debug)]
pub struct SharefsFs {
    /// The mirrored directory.
    backing: Backing,
    /// Open handles.
    handles: HandleTable,
    /// The semantics core (shared with the control interface).
    core: Arc<Core>,
    /// Mount settings.
    cfg: FsConfig,
    /// The live policy and the caller resolution it needs (the service layer).
    admission: Admission,
    /// Names to remove at the last close of delete-pending files.
    pending_names: Mutex<HashMap<FileKey, PendingName>>,
    /// Kernel cache invalidations, sent from a thread of their own.
    invalidator: Arc<Invalidator>,
    /// Count of releases, and a condvar signalled at each, for [`RELEASE_GRACE`] waits.
    released: (AtomicU64, Mutex<()>, Condvar),
    /// Opens waiting in `retry_after_release` (so a RELEASE with none waiting skips the
    /// mutex and the futex wake-up).
    release_waiters: AtomicU64,
    /// Pending control-API intents by thread.
    intents: IntentTable,
    /// Open handles of the control directory's files.
    virtual_handles: control::VirtualHandles,
    /// The last refusals, with both parties, and counters by kind.
    conflicts: Arc<ConflictLog>,
    /// Parked blocking lock requests (F_SETLKW, flock without LOCK_NB).
    lock_waiters: Arc<locks::LockWaiters>,
    /// I/O counters for `.sharefs/stats`.
    io_stats: durability::IoStats,
    /// Folded-name indexes of directories (names=windows).
    name_index: crate::names::IndexCache,
    /// `/proc/TID/syscall` of recent callers, kept open (names=windows reads it on every
    /// lookup that finds a case variant; re-read with one `pread`).
    #[cfg(target_os = "linux")]
    syscall_files: Mutex<lru::LruCache<u32, Arc<std::fs::File>>>,
    /// The mount's device as mountinfo writes it ("0:53"), read at first need.
    mount_dev: std::sync::OnceLock<Option<String>>,
    /// RELEASEs between their start and the removal of their handle from the table.
    releases_in_flight: AtomicUsize,
    /// See [`SharefsFs::releases_done`].
    releases_settled: AtomicU64,
}

impl SharefsFs {
    /// A filesystem over `backing`.
    pub fn new(
        backing: Backing,
        core: Arc<Core>,
        cfg: FsConfig,
        invalidator: Arc<Invalidator>,
    ) -> SharefsFs {
        let intent_ttl = cfg.intent_ttl;
        let conflict_log = cfg.conflict_log;
        let admission = Admission::serving(cfg.policy.clone(), cfg.mountpoint.clone());
        SharefsFs {
            backing,
            handles: HandleTable::new(),
            core,
            cfg,
            admission,
            pending_names: Mutex::new(HashMap::new()),
            invalidator,
            released: (AtomicU64::new(0), Mutex::new(()), Condvar::new()),
            release_waiters: AtomicU64::new(0),
            intents: IntentTable::with_ttl(intent_ttl),
            virtual_handles: Default::default(),
            conflicts: Arc::new(ConflictLog::new(conflict_log)),
            lock_waiters: Default::default(),
            io_stats: Default::default(),
            name_index: Default::default(),
            #[cfg(target_os = "linux")]
            syscall_files: Mutex::new(lru::LruCache::new(
                std::num::NonZeroUsize::new(32).unwrap_or(std::num::NonZeroUsize::MIN),
            )),
            mount_dev: std::sync::OnceLock::new(),
            releases_in_flight: AtomicUsize::new(0),
            releases_settled: AtomicU64::new(0),
        }
    }

    /// The conflict log, shared (for `sharefs run`'s report after the session ends).
    pub fn conflict_log(&self) -> Arc<ConflictLog> {
        self.conflicts.clone()
    }

    fn inode(&self, node: INodeNo) -> Result<Arc<Inode>, FsError> {
        if control::is_virtual(node.0) {
            // Operations the control directory does not serve.
            return Err(FsError::errno(libc::EPERM));
        }
        self.backing
            .inodes
            .get(node.0)
            .ok_or_else(|| FsError::errno(libc::ESTALE))
    }

    /// The open handle `fh` of node `ino` (EBADF if the kernel and we disagree).
    fn handle_of(&self, ino: INodeNo, fh: u64) -> Result<Arc<crate::backing::OpenFile>, FsError> {
        self.handles
            .get(fh, ino.0)
            .ok_or_else(|| FsError::errno(libc::EBADF))
    }

    /// The sender of a request, in the service layer's terms.
    fn caller(req: &Request) -> Caller {
        Caller {
            tid: req.pid(),
            uid: req.uid(),
            gid: req.gid(),
        }
    }

    fn owner(&self, req: &Request) -> Arc<Owner> {
        self.admission.owner(Self::caller(req))
    }

    fn errno(&self, e: &FsError) -> fuser::Errno {
        e.to_errno(self.cfg.sharing_errno)
    }

    /// Path of a node (relative to the mount root) for records and logs.
    fn path_of(&self, node: u64) -> Arc<str> {
        Arc::from(self.backing.inodes.path_of(node))
    }

    fn child_path(&self, parent: u64, name: &std::ffi::OsStr) -> Arc<str> {
        let p = self.backing.inodes.path_of(parent);
        let n = name.to_string_lossy();
        Arc::from(if p.is_empty() {
            n.into_owned()
        } else {
            format!("{p}/{n}")
        })
    }

    /// Refuses creating entries in a delete-pending directory (SEMANTICS.md §2).
    fn check_parent_live(&self, parent: &Inode) -> Result<(), FsError> {
        if self.core.delete_state(parent.key).pending {
            return Err(SemanticError::DeletePending.into());
        }
        Ok(())
    }

    /// Runs `attempt`; if it is refused by open handles whose close() was already seen,
    /// waits (bounded) for their asynchronous RELEASE and tries again. Without this,
    /// `close(fd); unlink(path)` could race the kernel's background RELEASE.
    fn retry_after_release<T>(
        &self,
        mut attempt: impl FnMut() -> Result<T, FsError>,
    ) -> Result<T, FsError> {
        // The common case (no refusal) costs one atomic load: no lock, no clock.
        let mut deadline = None;
        loop {
            let seen = self.released.0.load(Ordering::Acquire);
            let result = attempt();
            let Err(FsError::Denied(err)) = &result else {
                return result;
            };
            let waiting = err.holders().iter().any(|h| {
                self.handles
                    .by_core(h.handle)
                    .is_some_and(|open| self.release_expected(&open))
            });
            let deadline = *deadline.get_or_insert_with(|| Instant::now() + RELEASE_GRACE);
            if !waiting || Instant::now() >= deadline {
                return result;
            }
            self.await_release(seen, deadline);
        }
    }

    /// A lookup of a file whose name goes when its handles close (delete pending or
    /// delete-on-close) waits, bounded by [`RELEASE_GRACE`], for the RELEASEs that are
    /// coming, so close-then-stat or close-then-open finds the name gone every time
    /// (tests/close_race.rs). Returns whether it waited.
    fn wait_for_vanishing(&self, key: crate::core::FileKey) -> bool {
        let deadline = Instant::now() + RELEASE_GRACE;
        let mut waited = false;
        loop {
            let seen = self.released.0.load(Ordering::Acquire);
            // A RELEASE in progress may have closed the core's open already while the
            // name it removes is still there: wait for those of this file too.
            let may_vanish = self.releases_in_flight.load(Ordering::SeqCst) > 0
                || self.core.delete_awaits_close(key);
            let coming = may_vanish
                && self
                    .handles
                    .closing_of(key)
                    .iter()
                    .any(|h| self.release_expected(h));
            if !coming || Instant::now() >= deadline {
                return waited;
            }
            waited = true;
            self.await_release(seen, deadline);
        }
    }

    /// Whether a RELEASE of `h` is on its way: it has begun, or a close() of it was seen
    /// (FLUSH) and neither the process that opened it nor the one that closed it still
    /// has a descriptor or mapping of the inode. The kernel queues the RELEASE of a
    /// last close before close() returns, but says at FLUSH only who closed, not
    /// whether it was the last reference (fs/fuse/file.c: `fuse_flush`,
    /// `fuse_file_release`). A descriptor inherited by a third process (a grandchild,
    /// or one passed over a socket) is not seen: then a wait ends at [`RELEASE_GRACE`].
    fn release_expected(&self, h: &crate::backing::OpenFile) -> bool {
        if h.releasing.load(Ordering::Relaxed) {
            return true;
        }
        if !h.closing.load(Ordering::Relaxed) {
            return false;
        }
        let flusher = h.flushed_by.load(Ordering::Relaxed);
        if flusher == 0 {
            // A directory whose listing was read to its end: no FLUSH, a guess.
            return true;
        }
        let mut parties = vec![flusher];
        if h.opener != flusher && h.opener != 0 {
            parties.push(h.opener);
        }
        let Some(dev) = self
            .mount_dev
            .get_or_init(|| process::mount_device(self.cfg.mountpoint.as_deref()?))
        else {
            return true;
        };
        !parties
            .into_iter()
            .any(|pid| process::reach(pid, dev, h.inode.node) == process::Reach::Holds)
    }

    /// How many RELEASEs have closed their core open and settled the names they remove
    /// (counted before their handle leaves the table, so a lookup that probed a name
    /// before this count moved looks again).
    fn releases_done(&self) -> u64 {
        self.releases_settled.load(Ordering::SeqCst)
    }

    /// Sleeps until the next RELEASE after the one counted `seen`, or `deadline`.
    fn await_release(&self, seen: u64, deadline: Instant) {
        let guard = self.released.1.lock().unwrap_or_else(|p| p.into_inner());
        // Announce the wait before the last look at the counter; `note_release` bumps
        // the counter before it looks at the waiters (both SeqCst), so one of the two
        // sees the other and no wake-up is lost.
        self.release_waiters.fetch_add(1, Ordering::SeqCst);
        if self.released.0.load(Ordering::SeqCst) == seen {
            let left = deadline.saturating_duration_since(Instant::now());
            let _ = self.released.2.wait_timeout(guard, left);
        }
        self.release_waiters.fetch_sub(1, Ordering::SeqCst);
    }

    fn note_release(&self) {
        self.released.0.fetch_add(1, Ordering::SeqCst);
        if self.release_waiters.load(Ordering::SeqCst) == 0 {
            return;
        }
        // Taking the mutex orders this wake-up after a waiter's check of the counter.
        drop(self.released.1.lock().unwrap_or_else(|p| p.into_inner()));
        self.released.2.notify_all();
    }
}

/// A node's attributes as FUSE wants them (`st_ino` is the node id: stable for the
/// mount, shared by hard links).
fn attr(node: u64, st: &Stat) -> FileAttr {
    FileAttr {
        ino: INodeNo(node),
        size: st.st_size as u64,
        blocks: st.st_blocks as u64,
        atime: time(st.st_atime, st.st_atime_nsec),
        mtime: time(st.st_mtime, st.st_mtime_nsec),
        ctime: time(st.st_ctime, st.st_ctime_nsec),
        // Birth time where the backing filesystem records it (Linux statx STATX_BTIME,
        // macOS st_birthtime). Linux FUSE does not pass it on to callers; macFUSE does.
        crtime: st
            .st_birthtime
            .map_or(UNIX_EPOCH, |(sec, nsec)| time(sec, nsec)),
        kind: file_type(st.st_mode),
        perm: (st.st_mode & 0o7777) as u16,
        nlink: st.st_nlink as u32,
        uid: st.st_uid,
        gid: st.st_gid,
        rdev: st.st_rdev as u32,
        blksize: st.st_blksize as u32,
        flags: 0,
    }
}

fn time(sec: i64, nsec: i64) -> SystemTime {
    let nsec = nsec.clamp(0, 999_999_999) as u32;
    if sec >= 0 {
        UNIX_EPOCH + Duration::new(sec as u64, nsec)
    } else {
        UNIX_EPOCH - Duration::new(sec.unsigned_abs(), 0) + Duration::new(0, nsec)
    }
}

fn file_type(mode: u32) -> FileType {
    use crate::backing::sys::mode::*;
    match mode & S_IFMT {
        S_IFDIR => FileType::Directory,
        S_IFLNK => FileType::Symlink,
        S_IFIFO => FileType::NamedPipe,
        S_IFSOCK => FileType::Socket,
        S_IFCHR => FileType::CharDevice,
        S_IFBLK => FileType::BlockDevice,
        _ => FileType::RegularFile,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crtime_is_the_birth_time_or_the_epoch() {
        let mut st = Stat {
            st_mode: crate::backing::sys::mode::S_IFREG | 0o644,
            st_birthtime: Some((1_700_000_000, 250)),
            ..Stat::default()
        };
        assert_eq!(
            attr(70, &st).crtime,
            UNIX_EPOCH + Duration::new(1_700_000_000, 250)
        );
        st.st_birthtime = None;
        assert_eq!(attr(70, &st).crtime, UNIX_EPOCH);
    }
}
