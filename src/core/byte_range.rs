//! Byte-range locks (SEMANTICS.md §4; Wine `server/fd.c: lock_fd`, Samba
//! `source3/locking/brlock.c`, smbtorture `base/locking.c`, `smb2/lock.c`) and the
//! mandatory I/O check.
//!
//! Two request styles share one lock list per file:
//! - **Windows** (handles opened with `windows_locks`): LockFileEx rules — locks stack,
//!   an exclusive lock conflicts with every overlapping lock including the same
//!   handle's own, unlock must match exactly (else "not locked").
//! - **POSIX** (fcntl, OFD locks, flock): a new lock replaces the same owner's locks in
//!   its range (splitting them), unlock splits and never fails, locks conflict only
//!   between different owners.
//!
//! The I/O check is the same for both: under an exclusive lock only its holder may read
//! or write; under a shared lock everyone may read and nobody may write, the holder
//! included.
//!
//! Lookup structure: locks are kept in a `BTreeMap` ordered by start, plus the longest
//! length among "short" locks; locks longer than [`LONG`] (whole-file and to-EOF locks)
//! sit in a second, usually tiny, map. Finding the locks that overlap `[a, b)` walks the
//! short map from `a - max_short_len` to `b` and the long map: O(log n + k + m) for k
//! short locks starting in that window and m long locks, instead of a scan of all n.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use super::HandleId;
use super::access::Owner;

/// Locks at least this long are kept apart (they would widen every window).
pub const LONG: u64 = 1 << 32;

/// Who owns a lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LockOwner {
    /// The kernel's lock owner id: the process (`files_struct`) for classic POSIX locks,
    /// the open file description for OFD locks and `flock`.
    Posix(u64),
    /// The handle itself (Windows semantics, `windows_locks`).
    Handle(HandleId),
}

/// One granted lock.
#[derive(Clone, Debug)]
pub struct ByteLock {
    /// Unique id (stacked locks are told apart and unlocked in order).
    pub id: u64,
    /// First byte.
    pub start: u64,
    /// Length in bytes; 0 is a zero-length lock (Windows only).
    pub len: u64,
    /// Exclusive (F_WRLCK) or shared (F_RDLCK).
    pub exclusive: bool,
    /// Owner.
    pub owner: LockOwner,
    /// The handle it was taken through (released when that handle closes).
    pub via: HandleId,
    /// Who took it (pid for F_GETLK and the lock table).
    pub taker: Arc<Owner>,
    /// When.
    pub since: SystemTime,
}

impl ByteLock {
    /// One past the last byte, without overflow.
    pub fn end(&self) -> u128 {
        self.start as u128 + self.len as u128
    }
}

/// A lock request or a range to check.
#[derive(Clone, Debug)]
pub struct LockRequest {
    /// First byte.
    pub start: u64,
    /// Length; 0 is zero-length.
    pub len: u64,
    /// Exclusive or shared.
    pub exclusive: bool,
    /// Owner.
    pub owner: LockOwner,
    /// Handle it comes through.
    pub via: HandleId,
    /// Windows (stacking, exact unlock) or POSIX semantics.
    pub windows: bool,
    /// Who asks.
    pub taker: Arc<Owner>,
}

/// Who performs an I/O, for the mandatory check.
#[derive(Clone, Copy, Debug)]
pub struct IoRequester {
    /// The kernel's lock owner of the calling process, when the request carries it.
    pub lock_owner: Option<u64>,
    /// The handle the I/O comes through.
    pub via: HandleId,
    /// The calling process.
    pub pid: u32,
}

impl IoRequester {
    /// Whether this requester holds `lock` for I/O purposes. A lock belongs to the handle
    /// *and* the process that took it (Windows: an inherited handle in a child process is
    /// not the owner), and a classic POSIX lock to its process whatever descriptor it
    /// uses (the request's lock owner is the process's).
    fn holds(&self, lock: &ByteLock) -> bool {
        (lock.via == self.via && lock.taker.pid == self.pid)
            || matches!((lock.owner, self.lock_owner), (LockOwner::Posix(o), Some(r)) if o == r)
    }
}

/// Where a read or write comes from, for the mandatory check (SEMANTICS.md §4).
#[derive(Clone, Copy, Debug)]
pub enum IoOrigin {
    /// A program's own read, write, copy or size change through a handle: checked
    /// against every byte-range lock.
    Handle(IoRequester),
    /// The page cache filling or writing back a memory-mapped view: never checked.
    /// LockFileEx (Remarks): "Locking a region of a file does not prevent reading from
    /// a mapped file view"; a view's dirty pages reach the file as paging I/O, which
    /// Windows file systems do not check against byte-range locks either (FastFAT's
    /// read and write paths test locks for non-paging I/O only). SQLite's WAL index
    /// (`-shm`) depends on it. Pinned by tests/mapped_io.rs.
    MappedView,
}

fn overlaps(a_start: u64, a_len: u64, b_start: u64, b_len: u64) -> bool {
    let (a0, a1) = (a_start as u128, a_start as u128 + a_len as u128);
    let (b0, b1) = (b_start as u128, b_start as u128 + b_len as u128);
    a0 < b1 && b0 < a1
}

/// Whether two locks collide as ranges, with the zero-length rule: zero-length locks
/// never collide with each other, and a zero-length lock at X collides only with an
/// *exclusive* range that has start < X < end (SEMANTICS.md §4; smbtorture
/// `base/locking.c: torture_locktest5`-style zero-byte cases).
fn collide(n_start: u64, n_len: u64, n_excl: bool, e: &ByteLock) -> bool {
    match (n_len == 0, e.len == 0) {
        (true, true) => false,
        (true, false) => {
            e.exclusive && (e.start as u128) < n_start as u128 && (n_start as u128) < e.end()
        }
        (false, true) => {
            n_excl
                && (n_start as u128) < e.start as u128
                && (e.start as u128) < n_start as u128 + n_len as u128
        }
        (false, false) => overlaps(n_start, n_len, e.start, e.len),
    }
}

/// A file's byte-range locks.
#[derive(Debug, Default, Clone)]
pub struct LockList {
    short: BTreeMap<(u64, u64), ByteLock>,
    long: BTreeMap<(u64, u64), ByteLock>,
    /// Longest length among short locks (only grows until the map empties).
    max_short: u64,
    next_id: u64,
}

impl LockList {
    /// No locks.
    pub fn is_empty(&self) -> bool {
        self.short.is_empty() && self.long.is_empty()
    }

    /// Number of locks.
    pub fn len(&self) -> usize {
        self.short.len() + self.long.len()
    }

    /// All locks, ordered by start.
    pub fn all(&self) -> Vec<ByteLock> {
        let mut v: Vec<ByteLock> = self
            .short
            .values()
            .chain(self.long.values())
            .cloned()
            .collect();
        v.sort_by_key(|l| (l.start, l.id));
        v
    }

    /// Locks whose ranges could touch `[start, start + max(len, 1))`.
    fn candidates(&self, start: u64, len: u64) -> impl Iterator<Item = &ByteLock> {
        let end = (start as u128 + len.max(1) as u128).min(u64::MAX as u128) as u64;
        let from = start.saturating_sub(self.max_short);
        let upper = if end == u64::MAX && len > 0 {
            std::ops::Bound::Included((u64::MAX, u64::MAX))
        } else {
            std::ops::Bound::Excluded((end.max(start.saturating_add(1)), 0))
        };
        self.short
            .range((std::ops::Bound::Included((from, 0)), upper))
            .map(|(_, l)| l)
            .chain(self.long.values())
    }

    fn insert(&mut self, mut lock: ByteLock) -> u64 {
        self.next_id += 1;
        lock.id = self.next_id;
        let key = (lock.start, lock.id);
        if lock.len >= LONG {
            self.long.insert(key, lock);
        } else {
            self.max_short = self.max_short.max(lock.len);
            self.short.insert(key, lock);
        }
        self.next_id
    }

    fn remove_id(&mut self, start: u64, id: u64) -> Option<ByteLock> {
        let removed = self
            .short
            .remove(&(start, id))
            .or_else(|| self.long.remove(&(start, id)));
        if self.short.is_empty() {
            self.max_short = 0;
        }
        removed
    }

    /// The existing locks a request conflicts with (empty: grantable).
    pub fn conflicts(&self, req: &LockRequest) -> Vec<ByteLock> {
        self.candidates(req.start, req.len)
            .filter(|e| {
                if req.windows {
                    // LockFileEx: exclusive conflicts with every overlapping lock, the
                    // same handle's included; shared only with others' exclusive ones.
                    collide(req.start, req.len, req.exclusive, e)
                        && (req.exclusive || (e.exclusive && e.owner != req.owner))
                } else {
                    // POSIX: only other owners' locks, and only if one is exclusive.
                    e.owner != req.owner
                        && (req.exclusive || e.exclusive)
                        && collide(req.start, req.len, req.exclusive, e)
                }
            })
            .cloned()
            .collect()
    }

    /// Grants a request if nothing conflicts. POSIX requests first drop the owner's own
    /// locks in the range (conversion, splitting), as fcntl does.
    pub fn lock(&mut self, req: &LockRequest) -> Result<u64, Vec<ByteLock>> {
        let conflicts = self.conflicts(req);
        if !conflicts.is_empty() {
            return Err(conflicts);
        }
        if !req.windows {
            self.unlock_posix(req.owner, req.start, req.len);
        }
        Ok(self.insert(ByteLock {
            id: 0,
            start: req.start,
            len: req.len,
            exclusive: req.exclusive,
            owner: req.owner,
            via: req.via,
            taker: req.taker.clone(),
            since: SystemTime::now(),
        }))
    }

    /// Windows unlock: removes the owner's lock with exactly this range; of a stack the
    /// exclusive one goes first. `false` if none matches (STATUS_RANGE_NOT_LOCKED).
    pub fn unlock_exact(&mut self, owner: LockOwner, start: u64, len: u64) -> bool {
        let matching: Vec<&ByteLock> = self
            .candidates(start, len)
            .filter(|l| l.owner == owner && l.start == start && l.len == len)
            .collect();
        let pick = matching
            .iter()
            .find(|l| l.exclusive)
            .or_else(|| matching.first())
            .map(|l| (l.start, l.id));
        match pick {
            Some((s, id)) => self.remove_id(s, id).is_some(),
            None => false,
        }
    }

    /// POSIX unlock of `[start, start + len)` for `owner`: partially covered locks are
    /// split, never fails.
    pub fn unlock_posix(&mut self, owner: LockOwner, start: u64, len: u64) {
        let victims: Vec<ByteLock> = self
            .candidates(start, len)
            .filter(|l| l.owner == owner && l.len > 0 && overlaps(start, len, l.start, l.len))
            .cloned()
            .collect();
        let cut_end = start as u128 + len as u128;
        for v in victims {
            self.remove_id(v.start, v.id);
            if (v.start as u128) < start as u128 {
                let mut left = v.clone();
                left.len = start - v.start;
                self.insert(left);
            }
            if v.end() > cut_end {
                let mut right = v.clone();
                right.start = cut_end as u64;
                right.len = (v.end() - cut_end) as u64;
                self.insert(right);
            }
        }
    }

    /// Drops every lock of a POSIX owner (classic locks at close of any of the process's
    /// descriptors of the file). Returns how many went.
    pub fn release_owner(&mut self, owner: LockOwner) -> usize {
        self.release_where(|l| l.owner == owner)
    }

    /// Drops every lock taken through a handle (at its last close). Returns how many.
    pub fn release_handle(&mut self, via: HandleId) -> usize {
        self.release_where(|l| l.via == via)
    }

    fn release_where(&mut self, pred: impl Fn(&ByteLock) -> bool) -> usize {
        let keys: Vec<(u64, u64)> = self
            .short
            .values()
            .chain(self.long.values())
            .filter(|l| pred(l))
            .map(|l| (l.start, l.id))
            .collect();
        for (s, id) in &keys {
            self.remove_id(*s, *id);
        }
        keys.len()
    }

    /// The mandatory I/O check: the locks that forbid reading or writing
    /// `[start, start + len)` for `who`. Zero-length I/O never conflicts.
    pub fn io_conflicts(
        &self,
        who: IoRequester,
        start: u64,
        len: u64,
        write: bool,
    ) -> Vec<ByteLock> {
        if len == 0 || self.is_empty() {
            return Vec::new();
        }
        self.candidates(start, len)
            .filter(|l| l.len > 0 && overlaps(start, len, l.start, l.len))
            .filter(|l| {
                if l.exclusive {
                    !who.holds(l)
                } else {
                    // Shared locks block every write, the holder's included.
                    write
                }
            })
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner() -> Arc<Owner> {
        Arc::new(Owner::default())
    }

    fn win(h: u64, start: u64, len: u64, exclusive: bool) -> LockRequest {
        LockRequest {
            start,
            len,
            exclusive,
            owner: LockOwner::Handle(HandleId(h)),
            via: HandleId(h),
            windows: true,
            taker: owner(),
        }
    }

    fn posix(o: u64, via: u64, start: u64, len: u64, exclusive: bool) -> LockRequest {
        LockRequest {
            start,
            len,
            exclusive,
            owner: LockOwner::Posix(o),
            via: HandleId(via),
            windows: false,
            taker: owner(),
        }
    }

    /// (rule, existing locks, request, granted?) — LockFileEx, SEMANTICS.md §4.
    #[test]
    fn windows_rules_table() {
        let rows: &[(&str, &[LockRequest], LockRequest, bool)] = &[
            (
                "exclusive_conflicts_with_own_exclusive",
                &[win(1, 0, 10, true)],
                win(1, 5, 10, true),
                false,
            ),
            (
                "exclusive_conflicts_with_own_shared",
                &[win(1, 0, 10, false)],
                win(1, 5, 10, true),
                false,
            ),
            (
                "shared_over_own_exclusive_is_allowed",
                &[win(1, 0, 10, true)],
                win(1, 0, 10, false),
                true,
            ),
            (
                "shared_conflicts_with_others_exclusive",
                &[win(1, 0, 10, true)],
                win(2, 5, 1, false),
                false,
            ),
            (
                "shared_locks_stack",
                &[win(1, 0, 10, false), win(2, 0, 10, false)],
                win(1, 0, 10, false),
                true,
            ),
            (
                "exclusive_conflicts_with_others_shared",
                &[win(1, 0, 10, false)],
                win(2, 9, 1, true),
                false,
            ),
            (
                "adjacent_ranges_do_not_overlap",
                &[win(1, 0, 10, true)],
                win(2, 10, 10, true),
                true,
            ),
            (
                "zero_length_locks_never_conflict",
                &[win(1, 5, 0, true)],
                win(2, 5, 0, true),
                true,
            ),
            (
                "zero_length_inside_exclusive_conflicts",
                &[win(1, 0, 10, true)],
                win(2, 5, 0, false),
                false,
            ),
            (
                "zero_length_at_exclusive_start_is_free",
                &[win(1, 0, 10, true)],
                win(2, 0, 0, true),
                true,
            ),
            (
                "zero_length_at_exclusive_end_is_free",
                &[win(1, 0, 10, true)],
                win(2, 10, 0, true),
                true,
            ),
            (
                "zero_length_inside_shared_is_free",
                &[win(1, 0, 10, false)],
                win(2, 5, 0, true),
                true,
            ),
            (
                "exclusive_range_over_zero_length_conflicts",
                &[win(1, 5, 0, false)],
                win(2, 0, 10, true),
                false,
            ),
            (
                "shared_range_over_zero_length_is_free",
                &[win(1, 5, 0, true)],
                win(2, 0, 10, false),
                true,
            ),
            (
                "unsigned_64_bit_offsets_adjacent",
                &[win(1, u64::MAX - 10, 10, true)],
                win(2, u64::MAX - 20, 10, true),
                true,
            ),
            (
                "unsigned_64_bit_offsets_overlap",
                &[win(1, u64::MAX - 10, 10, true)],
                win(2, u64::MAX - 1, 1, true),
                false,
            ),
            (
                "ranges_past_2_63_overlap",
                &[win(1, 1 << 63, 100, true)],
                win(2, (1 << 63) + 50, 10, false),
                false,
            ),
        ];
        for (rule, existing, req, granted) in rows {
            let mut list = LockList::default();
            for e in existing.iter() {
                list.lock(e).unwrap_or_else(|_| panic!("{rule}: setup"));
            }
            assert_eq!(list.lock(req).is_ok(), *granted, "{rule}");
        }
    }

    #[test]
    fn windows_unlock_is_exact_and_exclusive_first() {
        let mut list = LockList::default();
        list.lock(&win(1, 0, 10, true)).unwrap();
        list.lock(&win(1, 0, 10, false)).unwrap();
        let owner = LockOwner::Handle(HandleId(1));
        assert!(!list.unlock_exact(owner, 0, 5), "no merging or splitting");
        assert!(list.unlock_exact(owner, 0, 10));
        // The exclusive one went first: another handle may now take a shared lock.
        assert!(list.lock(&win(2, 0, 10, false)).is_ok());
        assert!(list.unlock_exact(owner, 0, 10));
        assert!(!list.unlock_exact(owner, 0, 10));
    }

    #[test]
    fn posix_locks_convert_split_and_release() {
        let mut list = LockList::default();
        list.lock(&posix(7, 1, 0, 100, true)).unwrap();
        // Same owner: no conflict, replaces the overlapped part.
        list.lock(&posix(7, 2, 40, 20, false)).unwrap();
        let all = list.all();
        assert_eq!(
            all.iter()
                .map(|l| (l.start, l.len, l.exclusive))
                .collect::<Vec<_>>(),
            vec![(0, 40, true), (40, 20, false), (60, 40, true)]
        );
        // Another owner may share-lock only the shared middle.
        assert!(list.lock(&posix(8, 3, 45, 5, false)).is_ok());
        assert!(list.lock(&posix(8, 3, 30, 20, false)).is_err());
        list.unlock_posix(LockOwner::Posix(7), 0, 50);
        assert_eq!(list.release_owner(LockOwner::Posix(7)), 2);
        assert_eq!(list.release_handle(HandleId(3)), 1);
        assert!(list.is_empty());
    }

    #[test]
    fn io_check_follows_the_mandatory_rules() {
        let mut list = LockList::default();
        list.lock(&win(1, 0, 10, true)).unwrap();
        list.lock(&win(2, 100, 10, false)).unwrap();
        let h1 = IoRequester {
            lock_owner: None,
            via: HandleId(1),
            pid: 0,
        };
        let h2 = IoRequester {
            lock_owner: None,
            via: HandleId(2),
            pid: 0,
        };
        assert!(
            list.io_conflicts(h1, 0, 10, true).is_empty(),
            "holder reads and writes"
        );
        assert!(
            !list.io_conflicts(h2, 5, 1, false).is_empty(),
            "others cannot read"
        );
        assert!(
            !list.io_conflicts(h2, 9, 5, true).is_empty(),
            "others cannot write"
        );
        assert!(
            list.io_conflicts(h2, 10, 90, true).is_empty(),
            "outside is free"
        );
        assert!(
            list.io_conflicts(h1, 100, 10, false).is_empty(),
            "shared: all may read"
        );
        assert!(
            !list.io_conflicts(h2, 105, 1, true).is_empty(),
            "shared: holder cannot write"
        );
        assert!(
            list.io_conflicts(h2, 5, 0, false).is_empty(),
            "zero-length I/O"
        );
        // Classic POSIX: the holder is the process, whatever descriptor it uses.
        let mut p = LockList::default();
        p.lock(&posix(42, 1, 0, 10, true)).unwrap();
        let same_process = IoRequester {
            lock_owner: Some(42),
            via: HandleId(9),
            pid: 0,
        };
        let other = IoRequester {
            lock_owner: Some(43),
            via: HandleId(9),
            pid: 0,
        };
        assert!(p.io_conflicts(same_process, 0, 10, true).is_empty());
        assert!(!p.io_conflicts(other, 0, 10, true).is_empty());
    }

    #[test]
    fn many_distant_locks_keep_lookups_narrow() {
        let mut list = LockList::default();
        for i in 0..10_000u64 {
            list.lock(&win(1, i * 1_000_000, 100, i % 2 == 0)).unwrap();
        }
        let who = IoRequester {
            lock_owner: None,
            via: HandleId(2),
            pid: 0,
        };
        assert!(list.io_conflicts(who, 500, 4096, true).is_empty());
        assert_eq!(list.candidates(2_000_050, 10).count(), 1);
        assert_eq!(list.io_conflicts(who, 2_000_050, 10, false).len(), 1);
    }
}
