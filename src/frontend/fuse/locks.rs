//! Byte-range locks over FUSE: fcntl F_SETLK/F_SETLKW/F_GETLK, OFD locks and flock reach
//! the daemon (FUSE_POSIX_LOCKS, FUSE_FLOCK_LOCKS) and are recorded in the core, which
//! makes them mandatory for every read and write on the mount (docs/semantics.md,
//! "Byte-range locks").
//!
//! Owners: the kernel's `lock_owner` is the process (`files_struct`) for classic POSIX
//! locks and the open file description for OFD locks and flock, so POSIX semantics hold
//! as they are; handles opened with `windows_locks` own their locks themselves and get
//! LockFileEx semantics (stacking, exact unlock → ENOLCK).
//!
//! Blocking requests (F_SETLKW, flock without LOCK_NB) do not hold a worker thread: the
//! reply is parked in [`LockWaiters`] and sent when the lock is granted. fuser answers
//! FUSE_INTERRUPT with ENOSYS, after which the kernel never interrupts a request, so a
//! watcher thread looks at each waiting thread's pending signals in
//! `/proc/TID/status` and answers EINTR when one is deliverable, or drops the wait when
//! the thread is gone.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use fuser::{INodeNo, ReplyEmpty, Request};

use super::{FsError, SharefsFs};
use crate::core::{Core, FileKey, IoOrigin, IoRequester, LockOwner, LockRequest, SemanticError};

/// FUSE's "to end of file" end offset (OFFSET_MAX).
const OFFSET_MAX: u64 = i64::MAX as u64;

/// How often the watcher looks at waiting threads.
const WATCH_PERIOD: Duration = Duration::from_millis(20);

/// Converts FUSE's inclusive `[start, end]` to (start, len).
fn range(start: u64, end: u64) -> (u64, u64) {
    if end < start {
        (start, 0)
    } else {
        (start, (end - start).saturating_add(1))
    }
}

/// One parked blocking lock request.
struct Waiter {
    key: FileKey,
    req: LockRequest,
    tid: u32,
    reply: ReplyEmpty,
}

/// Parked F_SETLKW requests, granted in arrival order.
pub struct LockWaiters {
    queue: Mutex<Vec<Waiter>>,
    work: Condvar,
    watcher_started: std::sync::Once,
}

impl Default for LockWaiters {
    fn default() -> Self {
        LockWaiters {
            queue: Mutex::new(Vec::new()),
            work: Condvar::new(),
            watcher_started: std::sync::Once::new(),
        }
    }
}

impl std::fmt::Debug for LockWaiters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.queue.lock().map(|q| q.len()).unwrap_or(0);
        write!(f, "LockWaiters({n} waiting)")
    }
}

/// Whether a thread has a signal it will act on as soon as its syscall returns:
/// pending (thread or process) and neither blocked nor ignored.
#[cfg(target_os = "linux")]
fn signal_pending(tid: u32) -> Option<bool> {
    let text = std::fs::read_to_string(format!("/proc/{tid}/status")).ok()?;
    let mut pending = 0u64;
    let mut masked = 0u64;
    let mut zombie = false;
    for line in text.lines() {
        let hex = |v: &str| u64::from_str_radix(v.trim(), 16).unwrap_or(0);
        if let Some(v) = line
            .strip_prefix("SigPnd:")
            .or_else(|| line.strip_prefix("ShdPnd:"))
        {
            pending |= hex(v);
        } else if let Some(v) = line
            .strip_prefix("SigBlk:")
            .or_else(|| line.strip_prefix("SigIgn:"))
        {
            masked |= hex(v);
        } else if let Some(v) = line.strip_prefix("State:") {
            zombie = v.trim_start().starts_with('Z') || v.trim_start().starts_with('X');
        }
    }
    if zombie {
        return None;
    }
    Some(pending & !masked != 0)
}

/// macOS: another process's pending signals cannot be read, so a waiting request is
/// never answered EINTR; it is dropped once its process is gone (macFUSE sends the
/// process id). Documented in docs/macos.md.
#[cfg(not(target_os = "linux"))]
fn signal_pending(pid: u32) -> Option<bool> {
    crate::backing::sys::pid_alive(pid).then_some(false)
}

/// Lock types as FUSE carries them, `i32` (macOS's `F_*LCK` are `c_short`; the values
/// are the platform's own, which is what its kernel sends).
#[allow(clippy::unnecessary_cast)]
const F_RDLCK: i32 = libc::F_RDLCK as i32;
#[allow(clippy::unnecessary_cast)]
const F_WRLCK: i32 = libc::F_WRLCK as i32;
#[allow(clippy::unnecessary_cast)]
const F_UNLCK: i32 = libc::F_UNLCK as i32;

impl LockWaiters {
    fn start_watcher(self: &Arc<Self>) {
        let me = self.clone();
        self.watcher_started.call_once(|| {
            let spawned = std::thread::Builder::new()
                .name("sharefs-lockwatch".into())
                .spawn(move || me.watch());
            if let Err(e) = spawned {
                tracing::error!("cannot start the lock-wait watcher: {e}");
            }
        });
    }

    /// Answers EINTR for waiters whose thread has a deliverable signal, and drops those
    /// whose thread is gone (killed: nobody waits for the answer any more).
    fn watch(&self) {
        let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            while queue.is_empty() {
                queue = self.work.wait(queue).unwrap_or_else(|p| p.into_inner());
            }
            let mut i = 0;
            while i < queue.len() {
                match signal_pending(queue[i].tid) {
                    Some(false) => i += 1,
                    state => {
                        let w = queue.remove(i);
                        tracing::debug!(
                            tid = w.tid,
                            gone = state.is_none(),
                            "lock wait interrupted"
                        );
                        w.reply.error(fuser::Errno::EINTR);
                    }
                }
            }
            queue = self
                .work
                .wait_timeout(queue, WATCH_PERIOD)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Grants every parked request on `key` that no longer conflicts, in order.
    fn wake(&self, core: &Core, key: FileKey, gate: Option<&crate::backing::io_gate::RangeGate>) {
        let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        let mut i = 0;
        while i < queue.len() {
            if queue[i].key != key {
                i += 1;
                continue;
            }
            let granted = {
                let w = &queue[i];
                let _g = gate.map(|g| g.enter(w.req.start, w.req.len, true));
                core.lock(key, &w.req)
            };
            match granted {
                Ok(()) => queue.remove(i).reply.ok(),
                Err(SemanticError::LockNotGranted { .. }) => i += 1,
                // The handle went away meanwhile.
                Err(_) => queue.remove(i).reply.error(fuser::Errno::EBADF),
            }
        }
    }

    /// Simple two-party deadlock: `owner` is about to wait for `blockers`, and one of
    /// them already waits for a lock `owner` holds.
    fn would_deadlock(&self, core: &Core, owner: LockOwner, blockers: &[LockOwner]) -> bool {
        let queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        queue.iter().any(|w| {
            blockers.contains(&w.req.owner)
                && core
                    .lock_conflicts(w.key, &w.req)
                    .iter()
                    .any(|l| l.owner == owner)
        })
    }
}

impl SharefsFs {
    /// The lock request a FUSE setlk/getlk describes.
    fn lock_request(
        &self,
        req: &Request,
        h: &crate::backing::OpenFile,
        lock_owner: u64,
        start: u64,
        end: u64,
        exclusive: bool,
    ) -> LockRequest {
        let (start, len) = range(start, end);
        let windows = h.options.windows_locks;
        LockRequest {
            start,
            len,
            exclusive,
            owner: if windows {
                LockOwner::Handle(h.core)
            } else {
                LockOwner::Posix(lock_owner)
            },
            via: h.core,
            windows,
            taker: self.owner(req),
        }
    }

    /// F_GETLK: the first conflicting lock, with its holder's pid (or F_UNLCK).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn do_getlk(
        &self,
        req: &Request,
        ino: INodeNo,
        fh: u64,
        lock_owner: u64,
        start: u64,
        end: u64,
        typ: i32,
    ) -> Result<(u64, u64, i32, u32), FsError> {
        let h = self.handle_of(ino, fh)?;
        let request = self.lock_request(req, &h, lock_owner, start, end, typ == F_WRLCK);
        Ok(
            match self.core.lock_conflicts(h.inode.key, &request).first() {
                Some(l) => {
                    let last = (l.end().saturating_sub(1)).min(OFFSET_MAX as u128) as u64;
                    let t = if l.exclusive { F_WRLCK } else { F_RDLCK };
                    (l.start, last, t, l.taker.pid)
                }
                None => (start, end, F_UNLCK, 0),
            },
        )
    }

    /// F_SETLK / F_SETLKW / flock. Replies itself: a blocking request that cannot be
    /// granted now is parked.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn do_setlk(
        &self,
        req: &Request,
        ino: INodeNo,
        fh: u64,
        lock_owner: u64,
        start: u64,
        end: u64,
        typ: i32,
        sleep: bool,
        reply: ReplyEmpty,
    ) {
        let h = match self.handle_of(ino, fh) {
            Ok(h) => h,
            Err(e) => return reply.error(self.errno(&e)),
        };
        let key = h.inode.key;
        if typ == F_UNLCK {
            let request = self.lock_request(req, &h, lock_owner, start, end, false);
            let result = self.core.unlock(
                key,
                request.owner,
                request.start,
                request.len,
                request.windows,
            );
            self.lock_waiters.wake(&self.core, key, Some(&h.inode.gate));
            return match result {
                Ok(()) => reply.ok(),
                Err(e) => reply.error(self.errno(&FsError::Denied(e))),
            };
        }
        let request = self.lock_request(req, &h, lock_owner, start, end, typ == F_WRLCK);
        let granted = {
            let _g = h.inode.gate.enter(request.start, request.len, true);
            self.core.lock(key, &request)
        };
        let conflicts = match granted {
            Ok(()) => return reply.ok(),
            Err(SemanticError::LockNotGranted { locks }) => locks,
            Err(e) => return reply.error(self.errno(&FsError::Denied(e))),
        };
        let path = self.path_of(h.inode.node);
        let asked = format!(
            "lock {} {}-{}",
            if request.exclusive {
                "EXCLUSIVE"
            } else {
                "SHARED"
            },
            request.start,
            (request.start as u128 + request.len as u128).saturating_sub(1)
        );
        if !sleep {
            let e = FsError::Denied(SemanticError::LockNotGranted { locks: conflicts });
            let e = self.refused("lock", &path, &request.taker, &asked, e);
            return reply.error(self.errno(&e));
        }
        let blockers: Vec<LockOwner> = conflicts.iter().map(|l| l.owner).collect();
        if self
            .lock_waiters
            .would_deadlock(&self.core, request.owner, &blockers)
        {
            tracing::info!(path = %path, "lock wait refused: deadlock");
            return reply.error(fuser::Errno::from_i32(libc::EDEADLK));
        }
        self.lock_waiters.start_watcher();
        let tid = req.pid();
        {
            let mut queue = self
                .lock_waiters
                .queue
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            queue.push(Waiter {
                key,
                req: request,
                tid,
                reply,
            });
        }
        self.lock_waiters.work.notify_all();
        // The conflicting lock may have gone between the refusal and the parking.
        self.lock_waiters.wake(&self.core, key, Some(&h.inode.gate));
    }

    /// Called after locks may have been released on `key` (unlock, flush, release).
    pub(super) fn locks_released(&self, key: FileKey, gate: &crate::backing::io_gate::RangeGate) {
        self.lock_waiters.wake(&self.core, key, Some(gate));
    }

    /// FLUSH: a close() of one of the process's descriptors releases its classic POSIX
    /// locks on the file (POSIX; not OFD locks, flock or windows_locks handles).
    pub(super) fn release_posix_locks(&self, h: &crate::backing::OpenFile, lock_owner: u64) {
        if self
            .core
            .release_lock_owner(h.inode.key, LockOwner::Posix(lock_owner))
            > 0
        {
            self.locks_released(h.inode.key, &h.inode.gate);
        }
    }

    /// The mandatory I/O check for a read or write through handle `h`.
    pub(super) fn check_io_locks(
        &self,
        req: &Request,
        h: &crate::backing::OpenFile,
        issuer: IoIssuer,
        offset: u64,
        len: u64,
        write: bool,
    ) -> Result<(), FsError> {
        if !self.core.has_locks(h.inode.key) {
            return Ok(());
        }
        // The caller is resolved (a /proc lookup on a cache miss) only for a program's
        // own I/O: a mapped view's pages are never refused and name no caller.
        let origin = match issuer {
            IoIssuer::Program { lock_owner } => IoOrigin::Handle(IoRequester {
                lock_owner,
                via: h.core,
                // The process, not the thread: locks belong to processes.
                pid: self.owner(req).pid,
            }),
            IoIssuer::PageCache => IoOrigin::MappedView,
        };
        self.core
            .check_io(h.inode.key, origin, offset, len, write)
            .map_err(|e| {
                let asked = format!(
                    "{} {}-{}",
                    if write { "write" } else { "read" },
                    offset,
                    offset.saturating_add(len).saturating_sub(1)
                );
                self.refused(
                    if write { "write" } else { "read" },
                    &self.path_of(h.inode.node),
                    &self.owner(req),
                    &asked,
                    e.into(),
                )
            })
    }
}

/// Who issued a FUSE read or write, as the kernel tells it (fs/fuse/file.c).
#[derive(Clone, Copy, Debug)]
pub(crate) enum IoIssuer {
    /// A program's read(2), write(2), copy_file_range(2) or size change. Every open is
    /// `FOPEN_DIRECT_IO` (files.rs), so the kernel sends read(2) and write(2) from the
    /// calling task with `FUSE_READ_LOCKOWNER` / `FUSE_WRITE_LOCKOWNER` and the caller's
    /// lock owner (`fuse_direct_io`: `owner = current->files`).
    Program {
        /// The caller's POSIX lock owner, where the request carries one.
        lock_owner: Option<u64>,
    },
    /// The page cache of a memory mapping: a page fill (`fuse_read_folio`,
    /// `fuse_readahead`) carries no lock owner, a writeback (`fuse_writepages`) has
    /// `FUSE_WRITE_CACHE` and a handle the kernel picked among the writable ones.
    PageCache,
}

impl IoIssuer {
    /// A FUSE read: without a lock owner it is a page fill, since no open is cached.
    pub(crate) fn of_read(lock_owner: Option<u64>) -> IoIssuer {
        match lock_owner {
            Some(o) => IoIssuer::Program {
                lock_owner: Some(o),
            },
            None => IoIssuer::PageCache,
        }
    }

    /// A FUSE write: `FUSE_WRITE_CACHE` marks a writeback of cached pages.
    pub(crate) fn of_write(from_page_cache: bool, lock_owner: Option<u64>) -> IoIssuer {
        if from_page_cache {
            IoIssuer::PageCache
        } else {
            IoIssuer::Program { lock_owner }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fuse_ranges_convert() {
        assert_eq!(range(0, OFFSET_MAX), (0, OFFSET_MAX + 1));
        assert_eq!(range(10, 19), (10, 10));
        assert_eq!(range(5, 4), (5, 0));
    }

    #[test]
    fn own_thread_has_no_pending_signal() {
        let tid = std::process::id();
        assert_eq!(signal_pending(tid), Some(false));
        assert_eq!(signal_pending(u32::MAX - 3), None);
    }
}
