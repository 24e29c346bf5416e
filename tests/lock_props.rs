//! Property tests of the byte-range lock list (SEMANTICS.md §4, `src/core/byte_range.rs`):
//! random sequences of Windows-style (LockFileEx: stacking, exact unlock) and POSIX-style
//! (fcntl: replace/split, unlock never fails) requests and releases over a small range
//! space, checked after every step against
//! - invariants read straight from `all()` (no two different owners hold a byte when one
//!   of them is exclusive, and no zero-length lock sits strictly inside another owner's
//!   exclusive range);
//! - a brute-force byte map of `all()` for the mandatory I/O check (`io_conflicts`);
//! - an independent reference model (Windows locks as a multiset, POSIX locks as per-owner
//!   byte maps) that decides every grant from the rules as SEMANTICS.md states them;
//!
//! At the end of each sequence: releasing every handle empties the list, and a POSIX
//! unlock of everything an owner holds leaves none of its locks.

use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;
use sharefs::core::{ByteLock, HandleId, IoRequester, LockList, LockOwner, LockRequest, Owner};

/// Bytes the model tracks: offsets 0..64 plus lengths 0..16, and probes up to 100.
const N: usize = 128;
/// The handles (Windows owners; every lock is taken through one of them).
const HANDLES: [u64; 3] = [1, 2, 3];
/// The POSIX lock owners (kernel lock_owner ids).
const POSIX: [u64; 2] = [100, 101];

fn taker() -> Arc<Owner> {
    Arc::new(Owner::default())
}

#[derive(Clone, Debug)]
enum Op {
    WinLock {
        h: u64,
        start: u64,
        len: u64,
        excl: bool,
    },
    /// An unlock of a random range (usually matches nothing: must fail, change nothing).
    WinUnlock {
        h: u64,
        start: u64,
        len: u64,
    },
    /// An unlock of the range of one of the handle's existing locks (index mod count).
    WinUnlockExisting {
        h: u64,
        idx: usize,
    },
    PosixLock {
        o: u64,
        via: u64,
        start: u64,
        len: u64,
        excl: bool,
    },
    PosixUnlock {
        o: u64,
        start: u64,
        len: u64,
    },
    /// F_UNLCK with l_len = 0 (to end of file).
    PosixUnlockToEof {
        o: u64,
        start: u64,
    },
    ReleaseOwner {
        o: u64,
    },
    ReleaseHandle {
        h: u64,
    },
}

fn handle() -> impl Strategy<Value = u64> {
    prop::sample::select(HANDLES.to_vec())
}

fn posix_owner() -> impl Strategy<Value = u64> {
    prop::sample::select(POSIX.to_vec())
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (handle(), 0u64..64, 0u64..16, any::<bool>())
            .prop_map(|(h, start, len, excl)| Op::WinLock { h, start, len, excl }),
        1 => (handle(), 0u64..64, 0u64..16)
            .prop_map(|(h, start, len)| Op::WinUnlock { h, start, len }),
        3 => (handle(), any::<usize>()).prop_map(|(h, idx)| Op::WinUnlockExisting { h, idx }),
        6 => (posix_owner(), handle(), 0u64..64, 1u64..16, any::<bool>())
            .prop_map(|(o, via, start, len, excl)| Op::PosixLock { o, via, start, len, excl }),
        2 => (posix_owner(), 0u64..64, 1u64..16)
            .prop_map(|(o, start, len)| Op::PosixUnlock { o, start, len }),
        1 => (posix_owner(), 0u64..64).prop_map(|(o, start)| Op::PosixUnlockToEof { o, start }),
        1 => posix_owner().prop_map(|o| Op::ReleaseOwner { o }),
        1 => handle().prop_map(|h| Op::ReleaseHandle { h }),
    ]
}

/// An I/O to check against the list after each step.
#[derive(Clone, Copy, Debug)]
struct Probe {
    start: u64,
    len: u64,
    write: bool,
    lock_owner: Option<u64>,
    via: u64,
}

fn probe() -> impl Strategy<Value = Probe> {
    (
        0u64..80,
        0u64..20,
        any::<bool>(),
        prop::option::of(prop::sample::select(vec![100u64, 101, 999])),
        prop::sample::select(vec![1u64, 2, 3, 4]),
    )
        .prop_map(|(start, len, write, lock_owner, via)| Probe {
            start,
            len,
            write,
            lock_owner,
            via,
        })
}

/// A lock as compared between the list and the model (ids and timestamps left out).
type Shape = (LockOwner, u64, u64, bool, HandleId);

fn shape(l: &ByteLock) -> Shape {
    (l.owner, l.start, l.len, l.exclusive, l.via)
}

fn shapes(list: &LockList) -> Vec<Shape> {
    let mut v: Vec<Shape> = list.all().iter().map(shape).collect();
    v.sort();
    v
}

// ---------------------------------------------------------------------------------------
// The reference model
// ---------------------------------------------------------------------------------------

/// POSIX byte: (lock id, exclusive, via). A lock is a maximal run of bytes with one id:
/// a split leaves two runs with the same id separated by the cut, never adjacent.
type PosixByte = Option<(u64, bool, u64)>;

#[derive(Clone, Debug)]
struct Model {
    /// Windows locks: (handle, start, len, exclusive), a multiset.
    win: Vec<(u64, u64, u64, bool)>,
    /// POSIX owners' byte maps.
    posix: BTreeMap<u64, Vec<PosixByte>>,
    next_id: u64,
}

impl Model {
    fn new() -> Model {
        Model {
            win: Vec::new(),
            posix: POSIX.iter().map(|&o| (o, vec![None; N])).collect(),
            next_id: 0,
        }
    }

    /// Every lock the model holds, as shapes.
    fn locks(&self) -> Vec<Shape> {
        let mut v: Vec<Shape> = self
            .win
            .iter()
            .map(|&(h, s, l, x)| (LockOwner::Handle(HandleId(h)), s, l, x, HandleId(h)))
            .collect();
        for (&o, bytes) in &self.posix {
            let mut b = 0;
            while b < N {
                if let Some((id, x, via)) = bytes[b] {
                    let start = b;
                    while b < N && bytes[b].is_some_and(|(i, _, _)| i == id) {
                        b += 1;
                    }
                    v.push((
                        LockOwner::Posix(o),
                        start as u64,
                        (b - start) as u64,
                        x,
                        HandleId(via),
                    ));
                } else {
                    b += 1;
                }
            }
        }
        v.sort();
        v
    }

    /// The locks a request conflicts with, from SEMANTICS.md §4 as written:
    /// - ranges collide when they share a byte; zero-length locks never collide with each
    ///   other; a zero-length lock at X collides only with an *exclusive* range that has
    ///   start < X < end (whichever of the two is the existing one);
    /// - Windows: a new exclusive lock fails on any collision, the same handle's own
    ///   locks included; a new shared lock only on another owner's exclusive lock;
    /// - POSIX: only another owner's locks, and only when one of the two is exclusive.
    fn conflicts(
        &self,
        owner: LockOwner,
        start: u64,
        len: u64,
        excl: bool,
        windows: bool,
    ) -> Vec<Shape> {
        let collide = |e: &Shape| -> bool {
            let (_, es, el, ex, _) = *e;
            match (len == 0, el == 0) {
                (true, true) => false,
                (true, false) => ex && es < start && start < es + el,
                (false, true) => excl && start < es && es < start + len,
                (false, false) => start < es + el && es < start + len,
            }
        };
        let mut v: Vec<Shape> = self
            .locks()
            .into_iter()
            .filter(|e| {
                if windows {
                    collide(e) && (excl || (e.3 && e.0 != owner))
                } else {
                    e.0 != owner && (excl || e.3) && collide(e)
                }
            })
            .collect();
        v.sort();
        v
    }

    fn posix_set(&mut self, o: u64, start: u64, len: u64, val: Option<(bool, u64)>) {
        let id = val.map(|_| {
            self.next_id += 1;
            self.next_id
        });
        let end = (start as u128 + len as u128).min(N as u128) as usize;
        let bytes = self.posix.get_mut(&o).expect("posix owner");
        for b in bytes.iter_mut().take(end).skip(start as usize) {
            *b = val.map(|(x, via)| (id.unwrap(), x, via));
        }
    }

    fn win_unlock(&mut self, h: u64, start: u64, len: u64) -> bool {
        let matching =
            |&(wh, ws, wl, _): &(u64, u64, u64, bool)| wh == h && ws == start && wl == len;
        let pick = self
            .win
            .iter()
            .position(|w| matching(w) && w.3)
            .or_else(|| self.win.iter().position(matching));
        match pick {
            Some(i) => {
                self.win.remove(i);
                true
            }
            None => false,
        }
    }

    fn release_handle(&mut self, h: u64) {
        self.win.retain(|w| w.0 != h);
        for bytes in self.posix.values_mut() {
            for b in bytes.iter_mut() {
                if b.is_some_and(|(_, _, via)| via == h) {
                    *b = None;
                }
            }
        }
    }
}

fn win_req(h: u64, start: u64, len: u64, excl: bool) -> LockRequest {
    LockRequest {
        start,
        len,
        exclusive: excl,
        owner: LockOwner::Handle(HandleId(h)),
        via: HandleId(h),
        windows: true,
        taker: taker(),
    }
}

fn posix_req(o: u64, via: u64, start: u64, len: u64, excl: bool) -> LockRequest {
    LockRequest {
        start,
        len,
        exclusive: excl,
        owner: LockOwner::Posix(o),
        via: HandleId(via),
        windows: false,
        taker: taker(),
    }
}

/// Applies one step to both; checks the grant decision (and the conflicting locks it
/// names) against the model.
fn step(list: &mut LockList, model: &mut Model, op: &Op) -> Result<(), TestCaseError> {
    match *op {
        Op::WinLock {
            h,
            start,
            len,
            excl,
        } => {
            let req = win_req(h, start, len, excl);
            let expected = model.conflicts(req.owner, start, len, excl, true);
            let mut named: Vec<Shape> = list.conflicts(&req).iter().map(shape).collect();
            named.sort();
            prop_assert_eq!(&named, &expected, "conflicts() of {:?}", op);
            let granted = list.lock(&req);
            prop_assert_eq!(granted.is_ok(), expected.is_empty(), "lock() of {:?}", op);
            if granted.is_ok() {
                model.win.push((h, start, len, excl));
            }
        }
        Op::WinUnlock { h, start, len } => {
            let ok = list.unlock_exact(LockOwner::Handle(HandleId(h)), start, len);
            prop_assert_eq!(ok, model.win_unlock(h, start, len), "{:?}", op);
        }
        Op::WinUnlockExisting { h, idx } => {
            let mine: Vec<(u64, u64)> = model
                .win
                .iter()
                .filter(|w| w.0 == h)
                .map(|w| (w.1, w.2))
                .collect();
            if !mine.is_empty() {
                let (start, len) = mine[idx % mine.len()];
                let ok = list.unlock_exact(LockOwner::Handle(HandleId(h)), start, len);
                prop_assert!(model.win_unlock(h, start, len));
                prop_assert!(ok, "exact unlock of an existing lock failed: {:?}", op);
            }
        }
        Op::PosixLock {
            o,
            via,
            start,
            len,
            excl,
        } => {
            let req = posix_req(o, via, start, len, excl);
            let expected = model.conflicts(req.owner, start, len, excl, false);
            let mut named: Vec<Shape> = list.conflicts(&req).iter().map(shape).collect();
            named.sort();
            prop_assert_eq!(&named, &expected, "conflicts() of {:?}", op);
            let granted = list.lock(&req);
            prop_assert_eq!(granted.is_ok(), expected.is_empty(), "lock() of {:?}", op);
            if granted.is_ok() {
                model.posix_set(o, start, len, Some((excl, via)));
            }
        }
        Op::PosixUnlock { o, start, len } => {
            list.unlock_posix(LockOwner::Posix(o), start, len);
            model.posix_set(o, start, len, None);
        }
        Op::PosixUnlockToEof { o, start } => {
            // FUSE's to-EOF range: [start, OFFSET_MAX], i.e. len = 2^63 - start.
            let len = (i64::MAX as u64) - start + 1;
            list.unlock_posix(LockOwner::Posix(o), start, len);
            model.posix_set(o, start, len, None);
        }
        Op::ReleaseOwner { o } => {
            let before = model
                .locks()
                .iter()
                .filter(|l| l.0 == LockOwner::Posix(o))
                .count();
            let n = list.release_owner(LockOwner::Posix(o));
            prop_assert_eq!(n, before, "{:?}", op);
            model.posix_set(o, 0, N as u64, None);
        }
        Op::ReleaseHandle { h } => {
            let before = model.locks().iter().filter(|l| l.4 == HandleId(h)).count();
            let n = list.release_handle(HandleId(h));
            prop_assert_eq!(n, before, "{:?}", op);
            model.release_handle(h);
        }
    }
    Ok(())
}

/// (a) No byte is held by two different owners when one of them holds it exclusively,
/// and no zero-length lock lies strictly inside another owner's exclusive range.
fn check_exclusion(list: &LockList) -> Result<(), TestCaseError> {
    let all = list.all();
    for (i, a) in all.iter().enumerate() {
        for b in &all[i + 1..] {
            if a.owner == b.owner {
                continue;
            }
            let share_a_byte = a.len > 0
                && b.len > 0
                && (a.start as u128) < b.end()
                && (b.start as u128) < a.end();
            prop_assert!(
                !(share_a_byte && (a.exclusive || b.exclusive)),
                "two owners hold a byte, one exclusively: {:?} / {:?}",
                a,
                b
            );
            for (z, r) in [(a, b), (b, a)] {
                let inside = z.len == 0
                    && r.len > 0
                    && r.exclusive
                    && (r.start as u128) < z.start as u128
                    && (z.start as u128) < r.end();
                prop_assert!(
                    !inside,
                    "zero-length lock inside another owner's exclusive range: {:?} / {:?}",
                    z,
                    r
                );
            }
        }
    }
    Ok(())
}

/// (b) `io_conflicts` against a byte map of `all()`: an exclusive lock blocks others'
/// reads and writes but not its holder's (same `via` handle, or the requester's process
/// is its POSIX owner); a shared lock blocks every write; zero-length I/O never
/// conflicts and zero-length locks block nothing.
fn check_io(list: &LockList, p: Probe) -> Result<(), TestCaseError> {
    let all = list.all();
    let mut map: Vec<Vec<usize>> = vec![Vec::new(); N];
    for (i, l) in all.iter().enumerate() {
        for (b, slot) in map.iter_mut().enumerate() {
            if (l.start as u128) <= b as u128 && (b as u128) < l.end() {
                slot.push(i);
            }
        }
    }
    let mut expected: Vec<u64> = Vec::new();
    for slot in map.iter().skip(p.start as usize).take(p.len as usize) {
        for &i in slot {
            let l = &all[i];
            let holder = l.via == HandleId(p.via)
                || matches!((l.owner, p.lock_owner), (LockOwner::Posix(o), Some(r)) if o == r);
            let blocks = if l.exclusive { !holder } else { p.write };
            if blocks {
                expected.push(l.id);
            }
        }
    }
    expected.sort_unstable();
    expected.dedup();
    let who = IoRequester {
        lock_owner: p.lock_owner,
        via: HandleId(p.via),
        pid: 0,
    };
    let mut got: Vec<u64> = list
        .io_conflicts(who, p.start, p.len, p.write)
        .iter()
        .map(|l| l.id)
        .collect();
    got.sort_unstable();
    prop_assert_eq!(got, expected, "io_conflicts of {:?} over {:?}", p, all);
    Ok(())
}

proptest! {
    // No regression file is written next to this source (failures print the minimal case).
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn lock_list_matches_the_rules_after_any_sequence(
        ops in prop::collection::vec(op(), 1..48),
        probes in prop::collection::vec(probe(), 16),
    ) {
        let mut list = LockList::default();
        let mut model = Model::new();
        for op in &ops {
            step(&mut list, &mut model, op)?;
            // The list holds exactly what the model holds.
            prop_assert_eq!(shapes(&list), model.locks(), "after {:?}", op);
            prop_assert_eq!(list.is_empty(), model.locks().is_empty());
            prop_assert_eq!(list.len(), model.locks().len());
            check_exclusion(&list)?;
            for &p in &probes {
                check_io(&list, p)?;
            }
        }

        // (d) A POSIX unlock of everything an owner holds leaves none of its locks and
        // touches nobody else's.
        for o in POSIX {
            let mut l = list.clone();
            let others: Vec<Shape> =
                shapes(&l).into_iter().filter(|s| s.0 != LockOwner::Posix(o)).collect();
            l.unlock_posix(LockOwner::Posix(o), 0, u64::MAX);
            prop_assert!(l.all().iter().all(|x| x.owner != LockOwner::Posix(o)));
            prop_assert_eq!(shapes(&l), others.clone());
            // The same through FUSE's whole-file range [0, OFFSET_MAX].
            let mut l = list.clone();
            l.unlock_posix(LockOwner::Posix(o), 0, i64::MAX as u64 + 1);
            prop_assert!(l.all().iter().all(|x| x.owner != LockOwner::Posix(o)));
            prop_assert_eq!(shapes(&l), others);
        }

        // (c) Releasing every handle empties the list, and the counts add up.
        let mut l = list.clone();
        let total = l.len();
        let released: usize = HANDLES.iter().map(|&h| l.release_handle(HandleId(h))).sum();
        prop_assert!(l.is_empty(), "left after releasing every handle: {:?}", l.all());
        prop_assert_eq!(released, total);
        prop_assert!(l.all().is_empty());
    }

    /// A POSIX owner's requests never conflict with its own locks, through whichever
    /// handle they come, and its locks never overlap each other (replace/split).
    #[test]
    fn posix_owner_never_conflicts_with_itself(
        locks in prop::collection::vec((0u64..64, 1u64..16, any::<bool>()), 1..20),
    ) {
        let mut list = LockList::default();
        for (i, &(start, len, excl)) in locks.iter().enumerate() {
            let via = HANDLES[i % HANDLES.len()];
            prop_assert!(
                list.lock(&posix_req(100, via, start, len, excl)).is_ok(),
                "one owner's lock refused against its own: {:?}",
                list.all()
            );
        }
        let all = list.all();
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                prop_assert!(a.end() <= b.start as u128 || b.end() <= a.start as u128,
                    "one POSIX owner's locks overlap: {:?} / {:?}", a, b);
            }
        }
    }
}

/// The zero-length rule is symmetric in SEMANTICS.md §4 ("a zero-length lock at X
/// conflicts only with an exclusive range that has start < X < end"), and the Windows
/// path follows it (`shared_range_over_zero_length_is_free` in byte_range.rs). A POSIX
/// shared range over another owner's zero-length exclusive lock must be granted too.
#[test]
fn posix_shared_range_over_a_zero_length_exclusive_lock_is_granted() {
    let mut list = LockList::default();
    list.lock(&win_req(1, 24, 0, true)).unwrap();
    // Windows-style shared request: granted.
    assert!(list.conflicts(&win_req(2, 16, 9, false)).is_empty());
    // The same range as a POSIX F_RDLCK: must be granted as well.
    let posix = posix_req(100, 2, 16, 9, false);
    assert!(
        list.conflicts(&posix).is_empty(),
        "POSIX shared range refused by a zero-length lock: {:?}",
        list.conflicts(&posix)
    );
    // An exclusive POSIX range over it is refused (the range is exclusive).
    assert!(!list.conflicts(&posix_req(100, 2, 16, 9, true)).is_empty());
}
