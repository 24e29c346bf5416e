//! Node ids handed to the kernel ↔ backing inodes held open as `O_PATH` fds (Linux; on
//! macOS directories are held as directory fds and other files by their location, see
//! [`NodeFd`]).
//!
//! A node id is a counter, never the backing inode number, and a [`FileKey`] keeps its
//! node id for the whole mount (even after the kernel forgets it), so `st_ino` is stable
//! for the life of the mount and hard links share one node. The entry's lookup count is
//! the kernel's: `lookup`/`create`/`mkdir`… add one, `forget` subtracts.
//!
//! Lock order: the table lock is taken alone and never held across a syscall; an inode's
//! `location` mutex is taken with or without it, never the other way round.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
#[cfg(target_os = "linux")]
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

#[cfg(target_os = "linux")]
use super::sys;
use super::sys::mode;
use crate::core::FileKey;

/// How the daemon holds a backing inode between requests. Linux: an `O_PATH` fd of any
/// inode (I/O reopens it through `/proc/self/fd`).
#[cfg(target_os = "linux")]
pub type NodeFd = OwnedFd;
/// How the daemon holds a backing inode between requests. macOS has no `O_PATH`: a
/// directory is held as an `O_RDONLY | O_DIRECTORY` fd; anything else as `None`, reached
/// again through its parent's fd and last known name and checked against its key
/// (`Backing::at_location`; docs/macos.md).
#[cfg(not(target_os = "linux"))]
pub type NodeFd = Option<OwnedFd>;

/// How an inode's `O_PATH` fd is held (Linux). Directories are pinned: every name below
/// them is resolved through their fd. Any other inode's fd may be closed when the mount
/// holds more fds than its budget ([`InodeTable::set_fd_budget`]); the inode is then
/// reached again through its parent's fd and last known name, and checked against its
/// key (`Backing::held_fd`), so a lookup of more files than `RLIMIT_NOFILE` allows
/// does not fail with `EMFILE`.
#[cfg(target_os = "linux")]
#[derive(Debug)]
enum Held {
    /// A directory: its fd for as long as the inode lives.
    Pinned(OwnedFd),
    /// Anything else: the fd while held (shared with users, so closing the slot never
    /// closes an fd in use), and when it was last used (for choosing what to evict).
    Evictable {
        slot: Mutex<Option<Arc<OwnedFd>>>,
        used: AtomicU64,
    },
}

/// Whether an eviction may wait for locks held by other threads.
#[cfg(target_os = "linux")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wait {
    Yes,
    No,
}

/// The inode tables that give back idle fds when an open runs out of them.
#[cfg(target_os = "linux")]
static SHORTAGE_WATCH: Mutex<Vec<std::sync::Weak<InodeTable>>> = Mutex::new(Vec::new());

/// The hook `sys` calls when an fd-creating call fails with EMFILE or ENFILE: every
/// table closes idle fds; returns how many closed (the call is retried if any did).
#[cfg(target_os = "linux")]
fn relieve_fd_shortage_everywhere() -> usize {
    // Clone the list out: a table's eviction never runs under the registry lock.
    let tables: Vec<Arc<InodeTable>> = match SHORTAGE_WATCH.try_lock() {
        Ok(tables) => tables.iter().filter_map(std::sync::Weak::upgrade).collect(),
        Err(std::sync::TryLockError::Poisoned(p)) => p
            .into_inner()
            .iter()
            .filter_map(std::sync::Weak::upgrade)
            .collect(),
        Err(std::sync::TryLockError::WouldBlock) => return 0,
    };
    tables.iter().map(|t| t.relieve_fd_shortage()).sum()
}

/// Evictable fds currently held by every inode table of the process, and the clock
/// their `used` stamps come from.
#[cfg(target_os = "linux")]
static HELD_FDS: AtomicUsize = AtomicUsize::new(0);
#[cfg(target_os = "linux")]
static USE_CLOCK: AtomicU64 = AtomicU64::new(0);

#[cfg(target_os = "linux")]
impl Held {
    fn new(fd: OwnedFd, kind: Kind) -> Held {
        if kind == Kind::Dir {
            return Held::Pinned(fd);
        }
        HELD_FDS.fetch_add(1, Ordering::Relaxed);
        Held::Evictable {
            slot: Mutex::new(Some(Arc::new(fd))),
            used: AtomicU64::new(USE_CLOCK.fetch_add(1, Ordering::Relaxed)),
        }
    }

    /// Takes the fd out of an evictable slot (it closes when its last user drops it).
    fn evict(&self) -> Option<Arc<OwnedFd>> {
        let Held::Evictable { slot, .. } = self else {
            return None;
        };
        let taken = slot.lock().unwrap_or_else(|p| p.into_inner()).take();
        if taken.is_some() {
            HELD_FDS.fetch_sub(1, Ordering::Relaxed);
        }
        taken
    }
}

#[cfg(target_os = "linux")]
impl Drop for Held {
    fn drop(&mut self) {
        let _ = self.evict();
    }
}

/// An inode's `O_PATH` fd for the length of one operation: borrowed from a pinned
/// directory, or a share of an evictable slot's fd.
#[cfg(target_os = "linux")]
#[derive(Debug)]
pub enum FdRef<'a> {
    /// A directory's pinned fd.
    Borrowed(BorrowedFd<'a>),
    /// A share of a non-directory's fd.
    Shared(Arc<OwnedFd>),
}

#[cfg(target_os = "linux")]
impl AsFd for FdRef<'_> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            FdRef::Borrowed(fd) => *fd,
            FdRef::Shared(fd) => fd.as_fd(),
        }
    }
}

/// A directory's fd as held by an inode.
#[cfg(target_os = "linux")]
fn dir_node(fd: OwnedFd) -> Held {
    Held::Pinned(fd)
}

/// A directory's fd as a [`NodeFd`].
#[cfg(not(target_os = "linux"))]
fn dir_node(fd: OwnedFd) -> NodeFd {
    Some(fd)
}

/// The FUSE root node id.
pub const ROOT: u64 = 1;

/// Node ids below this one are reserved for the front-end's virtual nodes (the control
/// directory and its files); backing inodes get ids from here on.
pub const FIRST_DYNAMIC: u64 = 64;

/// What kind of backing file an inode is (from `st_mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Regular file.
    File,
    /// Directory.
    Dir,
    /// Symbolic link.
    Symlink,
    /// FIFO, socket or device node.
    Special,
}

impl Kind {
    /// Classifies an `st_mode`.
    pub fn from_mode(mode: u32) -> Kind {
        match mode & mode::S_IFMT {
            mode::S_IFREG => Kind::File,
            mode::S_IFDIR => Kind::Dir,
            mode::S_IFLNK => Kind::Symlink,
            _ => Kind::Special,
        }
    }
}

/// Where an inode was last seen: parent node and name (for paths in logs and the lock
/// table, and to remove a delete-pending file's name at its last close).
#[derive(Clone, Debug)]
pub struct Location {
    /// Parent node id.
    pub parent: u64,
    /// Name in the parent.
    pub name: OsString,
    /// The parent itself (macOS): a file without an fd is reopened through it, so it must
    /// outlive the kernel's reference to the parent.
    #[cfg(not(target_os = "linux"))]
    pub dir: Arc<Inode>,
}

impl Location {
    fn new(parent: &Arc<Inode>, name: &OsStr) -> Location {
        Location {
            parent: parent.node,
            name: name.to_owned(),
            #[cfg(not(target_os = "linux"))]
            dir: parent.clone(),
        }
    }
}

/// One backing inode the kernel knows about.
#[derive(Debug)]
pub struct Inode {
    /// Node id as the kernel sees it (also reported as `st_ino`).
    pub node: u64,
    /// Generation for this node id (bumped when a key's node is recreated).
    pub generation: u64,
    /// Backing identity.
    pub key: FileKey,
    /// The backing inode as held between requests (see [`NodeFd`]).
    #[cfg(not(target_os = "linux"))]
    fd: NodeFd,
    /// The backing inode's `O_PATH` fd (see [`Held`]).
    #[cfg(target_os = "linux")]
    fd: Held,
    /// File type.
    pub kind: Kind,
    /// Last known name; `None` for the root.
    location: Mutex<Option<Location>>,
    /// Atomic-I/O gate shared by every handle of this inode.
    pub gate: super::io_gate::RangeGate,
}

impl Inode {
    /// An inode the kernel does not know (not in the table): a directory the daemon
    /// resolved itself, kept to remove a name in it later.
    pub fn detached(fd: OwnedFd, key: FileKey, kind: Kind) -> Inode {
        Inode {
            node: 0,
            generation: 0,
            key,
            fd: dir_node(fd),
            kind,
            location: Mutex::new(None),
            gate: Default::default(),
        }
    }

    /// The `O_PATH` fd while it is held: always for a directory; for anything else
    /// unless it was evicted (then `Backing::held_fd` reaches the inode again).
    #[cfg(target_os = "linux")]
    pub fn held_fd(&self) -> Option<FdRef<'_>> {
        match &self.fd {
            Held::Pinned(fd) => Some(FdRef::Borrowed(fd.as_fd())),
            Held::Evictable { slot, used } => {
                let fd = slot.lock().unwrap_or_else(|p| p.into_inner()).clone()?;
                used.store(USE_CLOCK.fetch_add(1, Ordering::Relaxed), Ordering::Relaxed);
                Some(FdRef::Shared(fd))
            }
        }
    }

    /// Holds a freshly resolved fd again (after an eviction); returns a share of it. If
    /// another thread held one first, that one is kept.
    #[cfg(target_os = "linux")]
    pub fn rehold(&self, fd: OwnedFd) -> FdRef<'_> {
        match &self.fd {
            Held::Pinned(pinned) => FdRef::Borrowed(pinned.as_fd()),
            Held::Evictable { slot, used } => {
                let mut held = slot.lock().unwrap_or_else(|p| p.into_inner());
                used.store(USE_CLOCK.fetch_add(1, Ordering::Relaxed), Ordering::Relaxed);
                if held.is_none() {
                    HELD_FDS.fetch_add(1, Ordering::Relaxed);
                }
                FdRef::Shared(held.get_or_insert_with(|| Arc::new(fd)).clone())
            }
        }
    }

    /// How the inode is held (macOS).
    #[cfg(not(target_os = "linux"))]
    pub fn node_fd(&self) -> &NodeFd {
        &self.fd
    }

    /// The fd of a directory, for `*at()` calls on its entries; `ENOTDIR` for an inode
    /// that is not a directory.
    #[cfg(target_os = "linux")]
    pub fn dir_fd(&self) -> io::Result<BorrowedFd<'_>> {
        match &self.fd {
            Held::Pinned(fd) => Ok(fd.as_fd()),
            Held::Evictable { .. } => Err(io::Error::from_raw_os_error(libc::ENOTDIR)),
        }
    }

    /// The fd of a directory, for `*at()` calls on its entries; `ENOTDIR` for an inode
    /// that is not a directory.
    #[cfg(not(target_os = "linux"))]
    pub fn dir_fd(&self) -> io::Result<BorrowedFd<'_>> {
        dir_fd_of(&self.fd)
    }

    /// Last known parent and name.
    pub fn location(&self) -> Option<Location> {
        self.location
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Records a new name (after lookup or rename).
    pub fn set_location(&self, parent: &Arc<Inode>, name: &OsStr) {
        *self.location.lock().unwrap_or_else(|p| p.into_inner()) =
            Some(Location::new(parent, name));
    }
}

/// The directory fd of a [`NodeFd`] (see [`Inode::dir_fd`]).
#[cfg(target_os = "linux")]
pub fn dir_fd_of(fd: &NodeFd) -> io::Result<BorrowedFd<'_>> {
    Ok(fd.as_fd())
}

/// The directory fd of a [`NodeFd`] (see [`Inode::dir_fd`]).
#[cfg(not(target_os = "linux"))]
pub fn dir_fd_of(fd: &NodeFd) -> io::Result<BorrowedFd<'_>> {
    fd.as_ref()
        .map(|fd| fd.as_fd())
        .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOTDIR))
}

#[derive(Debug, Default)]
struct Inner {
    /// Inodes the kernel currently holds references to.
    live: HashMap<u64, (Arc<Inode>, u64)>,
    /// Node id and generation of every key seen during the mount (ids are never reused).
    ids: HashMap<FileKey, (u64, u64)>,
    /// Live node id by key, so hard links and repeated lookups share one node.
    live_by_key: HashMap<FileKey, u64>,
    /// Next node id to hand out.
    next: u64,
}

/// The table of inodes the kernel knows.
#[derive(Debug)]
pub struct InodeTable {
    inner: RwLock<Inner>,
    /// Most evictable fds held before the least recently used are closed (Linux).
    #[cfg(target_os = "linux")]
    fd_budget: AtomicUsize,
}

impl InodeTable {
    /// A table holding only the root.
    pub fn new(root_fd: OwnedFd, root_key: FileKey) -> InodeTable {
        let root = Arc::new(Inode {
            node: ROOT,
            generation: 0,
            key: root_key,
            fd: dir_node(root_fd),
            kind: Kind::Dir,
            location: Mutex::new(None),
            gate: Default::default(),
        });
        let mut inner = Inner {
            next: FIRST_DYNAMIC,
            ..Inner::default()
        };
        inner.live.insert(ROOT, (root, 1));
        inner.ids.insert(root_key, (ROOT, 0));
        inner.live_by_key.insert(root_key, ROOT);
        InodeTable {
            inner: RwLock::new(inner),
            #[cfg(target_os = "linux")]
            fd_budget: AtomicUsize::new(usize::MAX),
        }
    }

    /// Sets how many non-directory fds the table may hold (Linux; at least 16).
    #[cfg(target_os = "linux")]
    pub fn set_fd_budget(&self, budget: usize) {
        self.fd_budget.store(budget.max(16), Ordering::Relaxed);
    }

    /// Closes the least recently used evictable fds when more than the budget are held:
    /// down to 7/8 of it, so evictions come in batches. Only inodes nobody else holds a
    /// reference to right now (no open handle, no request in flight) and that have a
    /// location to be reached again by are chosen; their fds are closed after the table
    /// lock is released.
    #[cfg(target_os = "linux")]
    pub fn evict_over_budget(&self) {
        let budget = self.fd_budget.load(Ordering::Relaxed);
        let held = HELD_FDS.load(Ordering::Relaxed);
        if held <= budget {
            return;
        }
        let closed = self.evict_least_recently_used(held - budget + budget / 8, Wait::Yes);
        tracing::debug!(closed, held, budget, "evicted idle inode fds");
    }

    /// Closes up to `want` idle evictable fds, least recently used first; returns how
    /// many closed. With [`Wait::No`] a table or slot lock that is taken is skipped
    /// rather than waited for: the fd-shortage path may run inside any open.
    #[cfg(target_os = "linux")]
    fn evict_least_recently_used(&self, want: usize, wait: Wait) -> usize {
        let inner = match wait {
            Wait::Yes => self.read(),
            Wait::No => match self.inner.try_read() {
                Ok(inner) => inner,
                Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => return 0,
            },
        };
        let mut candidates: Vec<(u64, &Arc<Inode>)> = inner
            .live
            .values()
            .filter_map(|(inode, _)| match &inode.fd {
                Held::Evictable { slot, used }
                    if Arc::strong_count(inode) == 1
                        && slot.try_lock().is_ok_and(|held| held.is_some())
                        && inode.location().is_some() =>
                {
                    Some((used.load(Ordering::Relaxed), inode))
                }
                _ => None,
            })
            .collect();
        candidates.sort_unstable_by_key(|(used, _)| *used);
        let closed: Vec<Arc<OwnedFd>> = candidates
            .into_iter()
            .take(want)
            .filter_map(|(_, inode)| inode.fd.evict())
            .collect();
        drop(inner);
        // The fds close here, after the table lock is released.
        closed.len()
    }

    /// An open of the daemon's failed with EMFILE or ENFILE: closes half of the idle
    /// evictable fds (at least 32) and lowers the budget to what stays held, so the
    /// daemon keeps room for programs' handles under the limit it really has. Returns
    /// how many fds closed.
    #[cfg(target_os = "linux")]
    fn relieve_fd_shortage(&self) -> usize {
        let held = HELD_FDS.load(Ordering::Relaxed);
        let closed = self.evict_least_recently_used((held / 2).max(32), Wait::No);
        if closed > 0 {
            let budget = HELD_FDS.load(Ordering::Relaxed).max(16);
            let before = self.fd_budget.fetch_min(budget, Ordering::Relaxed);
            if budget < before {
                tracing::warn!(
                    closed,
                    budget,
                    limit = sys::fd_limit(),
                    "out of file descriptors: closed idle inode fds, budget lowered \
                     (raise the hard RLIMIT_NOFILE to keep more)"
                );
            }
        }
        closed
    }

    /// Registers the table for [`relieve_fd_shortage_everywhere`] (every mount of the
    /// process: `sharefs run` serves more than one).
    #[cfg(target_os = "linux")]
    pub fn watch_fd_shortage(table: &Arc<InodeTable>) {
        let mut tables = SHORTAGE_WATCH.lock().unwrap_or_else(|p| p.into_inner());
        tables.retain(|t| t.strong_count() > 0);
        tables.push(Arc::downgrade(table));
        sys::on_fd_shortage(relieve_fd_shortage_everywhere);
    }

    /// Evictable fds held by the process (for tests and stats).
    #[cfg(target_os = "linux")]
    pub fn held_fds() -> usize {
        HELD_FDS.load(Ordering::Relaxed)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The inode for a node id the kernel sent.
    pub fn get(&self, node: u64) -> Option<Arc<Inode>> {
        self.read().live.get(&node).map(|(i, _)| i.clone())
    }

    /// The live inode of a backing key, if the kernel holds one.
    pub fn by_key(&self, key: FileKey) -> Option<Arc<Inode>> {
        let inner = self.read();
        let node = inner.live_by_key.get(&key)?;
        inner.live.get(node).map(|(i, _)| i.clone())
    }

    /// Records one kernel reference to the inode `fd` refers to (found as `name` in
    /// `parent`), creating the entry if needed. If the key is already live, `fd` is
    /// dropped and the existing entry is returned.
    pub fn remember(
        &self,
        key: FileKey,
        fd: NodeFd,
        kind: Kind,
        parent: &Arc<Inode>,
        name: &OsStr,
    ) -> Arc<Inode> {
        let mut inner = self.write();
        if let Some(node) = inner.live_by_key.get(&key).copied()
            && let Some((inode, count)) = inner.live.get_mut(&node)
            && inode.kind == kind
        {
            *count += 1;
            let inode = inode.clone();
            drop(inner);
            inode.set_location(parent, name);
            return inode;
        }
        let (node, generation) = match inner.ids.get(&key).copied() {
            Some((node, gen_)) if !inner.live.contains_key(&node) => (node, gen_.wrapping_add(1)),
            _ => {
                let node = inner.next;
                inner.next += 1;
                (node, 0)
            }
        };
        let inode = Arc::new(Inode {
            node,
            generation,
            key,
            #[cfg(target_os = "linux")]
            fd: Held::new(fd, kind),
            #[cfg(not(target_os = "linux"))]
            fd,
            kind,
            location: Mutex::new(Some(Location::new(parent, name))),
            gate: Default::default(),
        });
        inner.ids.insert(key, (node, generation));
        inner.live_by_key.insert(key, node);
        inner.live.insert(node, (inode.clone(), 1));
        drop(inner);
        #[cfg(target_os = "linux")]
        self.evict_over_budget();
        inode
    }

    /// The node id a key has (or will have when looked up), for `d_ino` in listings so
    /// that `readdir` and `stat` agree. Reserves an id without making the key live.
    pub fn node_id_for(&self, key: FileKey) -> u64 {
        if let Some((node, _)) = self.read().ids.get(&key) {
            return *node;
        }
        let mut inner = self.write();
        if let Some((node, _)) = inner.ids.get(&key) {
            return *node;
        }
        let node = inner.next;
        inner.next += 1;
        // Stored as the generation before 0, so the first lookup makes it live at 0.
        inner.ids.insert(key, (node, u64::MAX));
        node
    }

    /// Drops `n` kernel references; the entry (and its fd) goes at zero. The root stays.
    pub fn forget(&self, node: u64, n: u64) {
        if node == ROOT {
            return;
        }
        let mut inner = self.write();
        let gone = match inner.live.get_mut(&node) {
            Some((_, count)) => {
                *count = count.saturating_sub(n);
                *count == 0
            }
            None => false,
        };
        if gone
            && let Some((inode, _)) = inner.live.remove(&node)
            && inner.live_by_key.get(&inode.key) == Some(&node)
        {
            inner.live_by_key.remove(&inode.key);
        }
    }

    /// Number of live inodes (root included).
    pub fn len(&self) -> usize {
        self.read().live.len()
    }

    /// True when only... never: the root is always live. Present for clippy's sake.
    pub fn is_empty(&self) -> bool {
        self.read().live.is_empty()
    }

    /// The path of a node relative to the mount root (`""` for the root), from the last
    /// known names. Names are joined for display only, never for a syscall.
    pub fn path_of(&self, node: u64) -> String {
        String::from_utf8_lossy(&self.path_bytes_of(node)).into_owned()
    }

    /// [`InodeTable::path_of`] as raw bytes (names need not be UTF-8).
    pub fn path_bytes_of(&self, node: u64) -> Vec<u8> {
        let mut parts: Vec<OsString> = Vec::new();
        let mut current = node;
        // A rename loop in stale names cannot make this spin: depth is bounded.
        for _ in 0..4096 {
            if current == ROOT {
                break;
            }
            let Some(inode) = self.get(current) else {
                parts.push(OsString::from("?"));
                break;
            };
            match inode.location() {
                Some(loc) => {
                    parts.push(loc.name);
                    current = loc.parent;
                }
                None => break,
            }
        }
        parts.reverse();
        parts
            .iter()
            .map(|p| p.as_bytes())
            .collect::<Vec<_>>()
            .join(&b'/')
    }

    /// Whether `ancestor` is a strict ancestor of `node` by last known names.
    pub fn is_below(&self, node: u64, ancestor: u64) -> bool {
        let mut current = node;
        for _ in 0..4096 {
            let Some(inode) = self.get(current) else {
                return false;
            };
            match inode.location() {
                Some(loc) if loc.parent == ancestor => return true,
                Some(loc) => current = loc.parent,
                None => return false,
            }
        }
        false
    }
}
