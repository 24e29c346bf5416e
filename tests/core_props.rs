//! Property tests of the semantics core (SEMANTICS.md §1-3); the rule tables are in
//! `src/core/tests.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::SystemTime;

use proptest::prelude::*;
use sharefs::core::share_table::check_sharing_by_scan;
use sharefs::core::*;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

const NONE: Classes = Classes::NONE;
const D: Classes = Classes::DELETE;
const PLAIN: FileFacts = FileFacts { readonly: false };

fn classes() -> impl Strategy<Value = Classes> {
    (0u8..8).prop_map(Classes::from_bits)
}

/// One open as the strategies describe it.
#[derive(Clone, Copy, Debug)]
struct Spec {
    access: Classes,
    share: Classes,
    backup: bool,
}

fn spec() -> impl Strategy<Value = Spec> {
    (classes(), classes(), prop::bool::weighted(0.1)).prop_map(|(access, share, backup)| Spec {
        access,
        share,
        backup,
    })
}

fn owner() -> Arc<Owner> {
    Arc::new(Owner::default())
}

fn req(s: Spec) -> OpenRequest {
    let mut r = OpenRequest::new(s.access, s.share, owner(), Arc::from("p"));
    r.backup = s.backup;
    r
}

fn plain(access: Classes, share: Classes) -> OpenRequest {
    OpenRequest::new(access, share, owner(), Arc::from("p"))
}

fn record(i: usize, s: Spec) -> OpenRecord {
    OpenRecord {
        handle: HandleId(i as u64 + 1),
        access: s.access,
        share: s.share,
        delete_on_close: false,
        owner: owner(),
        flags: 0,
        path: Arc::from("p"),
        since: SystemTime::UNIX_EPOCH,
        kind: OpenKind::Handle,
        backup: s.backup,
    }
}

type Opens = Vec<(HandleId, Classes, Classes)>;
type View = Vec<(FileKey, DeleteState, Opens)>;

fn view(core: &Core) -> View {
    core.snapshot()
        .into_iter()
        .map(|(k, d, opens)| {
            (
                k,
                d,
                opens
                    .iter()
                    .map(|r| (r.handle, r.access, r.share))
                    .collect(),
            )
        })
        .collect()
}

fn key(i: u8) -> FileKey {
    FileKey {
        dev: 7,
        ino: u64::from(i) + 100,
    }
}

const K: FileKey = FileKey { dev: 7, ino: 1 };

/// Opens `specs` in order, returning (index into `specs`, handle) of the admitted ones.
fn open_admitted(core: &Core, k: FileKey, specs: &[Spec]) -> Vec<(usize, HandleId)> {
    specs
        .iter()
        .enumerate()
        .filter_map(|(i, &s)| core.open(k, req(s), PLAIN).ok().map(|h| (i, h)))
        .collect()
}

/// Makes `k` delete-pending through an unlink, if the unlink is admitted.
fn try_make_pending(core: &Core, k: FileKey) -> bool {
    match core.begin_implicit(k, D, owner(), Arc::from("p")) {
        Ok(h) => {
            core.commit_delete(k, h, DeleteMode::Classic, PLAIN)
                .unwrap();
            true
        }
        Err(_) => false,
    }
}

/// Outcome of an open, comparable across two registries: the conflict and the
/// (access, share) sets of the holders.
fn comparable(r: &Result<HandleId, SemanticError>) -> Result<(), (String, Vec<(u8, u8)>)> {
    match r {
        Ok(_) => Ok(()),
        Err(e) => {
            let detail = match e {
                SemanticError::SharingViolation { conflict, .. } => format!("{conflict:?}"),
                other => other.kind().to_string(),
            };
            let mut holders: Vec<(u8, u8)> = e
                .holders()
                .iter()
                .map(|r| (r.access.bits(), r.share.bits()))
                .collect();
            holders.sort_unstable();
            Err((detail, holders))
        }
    }
}

// ---------------------------------------------------------------------------------------
// (a) O(1) counters == Wine's scan
// ---------------------------------------------------------------------------------------

proptest! {
    #[test]
    fn counters_decide_like_the_scan(
        existing in prop::collection::vec(spec(), 0..10),
        access in classes(),
        share in classes(),
    ) {
        let records: Vec<OpenRecord> =
            existing.iter().enumerate().map(|(i, &s)| record(i, s)).collect();
        let recount = ShareCounters::recount(&records);
        let mut incremental = ShareCounters::default();
        for r in records.iter().filter(|r| r.participates()) {
            incremental.add(r.access, r.share);
        }
        prop_assert_eq!(recount, incremental);
        let decision = check_sharing(&recount, access, share);
        prop_assert_eq!(decision.is_ok(), check_sharing_by_scan(&records, access, share));
        if let Err(conflict) = decision {
            // A refusal always has at least one party to name.
            prop_assert!(records.iter().any(|r| conflict.involves(r)));
        }
        // Removing everything again gives empty counters.
        for r in records.iter().filter(|r| r.participates()) {
            incremental.remove(r.access, r.share);
        }
        prop_assert_eq!(incremental, ShareCounters::default());
    }
}

// ---------------------------------------------------------------------------------------
// (b) The decision does not depend on the order of the existing opens
// ---------------------------------------------------------------------------------------

fn specs_and_permutation() -> impl Strategy<Value = (Vec<Spec>, Vec<usize>)> {
    prop::collection::vec(spec(), 0..8).prop_flat_map(|v| {
        let n = v.len();
        (Just(v), Just((0..n).collect::<Vec<usize>>()).prop_shuffle())
    })
}

proptest! {
    #[test]
    fn decision_is_independent_of_open_order(
        (specs, perm) in specs_and_permutation(),
        request in spec(),
    ) {
        // Pure decision: scan and counters over the permuted list.
        let records: Vec<OpenRecord> =
            specs.iter().enumerate().map(|(i, &s)| record(i, s)).collect();
        let permuted: Vec<OpenRecord> = perm.iter().map(|&i| records[i].clone()).collect();
        prop_assert_eq!(
            check_sharing_by_scan(&records, request.access, request.share),
            check_sharing_by_scan(&permuted, request.access, request.share)
        );
        prop_assert_eq!(
            check_sharing(&ShareCounters::recount(&records), request.access, request.share),
            check_sharing(&ShareCounters::recount(&permuted), request.access, request.share)
        );

        // Registry: whatever set one order admitted, any other order admits too, and the
        // new open is then decided the same way, naming the same parties.
        let a = Core::new();
        let admitted_a = open_admitted(&a, K, &specs);
        let admitted: BTreeSet<usize> = admitted_a.iter().map(|&(i, _)| i).collect();
        let b = Core::new();
        let mut admitted_b = Vec::new();
        for &i in perm.iter().filter(|i| admitted.contains(i)) {
            let h = b.open(K, req(specs[i]), PLAIN);
            prop_assert!(h.is_ok(), "open #{} refused in the other order: {:?}", i, h);
            admitted_b.push((i, h.unwrap()));
        }
        let index_a: BTreeMap<HandleId, usize> = admitted_a.iter().map(|&(i, h)| (h, i)).collect();
        let index_b: BTreeMap<HandleId, usize> = admitted_b.iter().map(|&(i, h)| (h, i)).collect();
        let ra = a.open(K, req(request), PLAIN);
        let rb = b.open(K, req(request), PLAIN);
        prop_assert_eq!(ra.is_ok(), rb.is_ok());
        if let (Err(ea), Err(eb)) = (&ra, &rb) {
            prop_assert_eq!(ea.kind(), eb.kind());
            let mut ha: Vec<usize> = ea.holders().iter().map(|r| index_a[&r.handle]).collect();
            let mut hb: Vec<usize> = eb.holders().iter().map(|r| index_b[&r.handle]).collect();
            ha.sort_unstable();
            hb.sort_unstable();
            prop_assert_eq!(ha, hb);
        }
        prop_assert!(a.counters_consistent() && b.counters_consistent());
    }
}

// ---------------------------------------------------------------------------------------
// (c) Random operation sequences keep the counters consistent and leave nothing behind
// ---------------------------------------------------------------------------------------

const KEYS: u8 = 3;

#[derive(Clone, Debug)]
enum Op {
    Open {
        key: u8,
        spec: Spec,
        delete_on_close: bool,
    },
    Close(usize),
    Implicit {
        key: u8,
        access: Classes,
    },
    EndImplicit(usize),
    CommitDelete {
        pick: usize,
        posix: bool,
    },
    SetDisposition {
        pick: usize,
        delete: bool,
    },
    NameRemoved {
        pick: usize,
        ok: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let pick = 0usize..16;
    prop_oneof![
        4 => (0..KEYS, spec(), prop::bool::weighted(0.2)).prop_map(|(key, spec, delete_on_close)| {
            Op::Open { key, spec, delete_on_close }
        }),
        3 => pick.clone().prop_map(Op::Close),
        2 => (0..KEYS, prop_oneof![Just(D), classes()])
            .prop_map(|(key, access)| Op::Implicit { key, access }),
        1 => pick.clone().prop_map(Op::EndImplicit),
        2 => (pick.clone(), any::<bool>()).prop_map(|(pick, posix)| Op::CommitDelete { pick, posix }),
        1 => (pick.clone(), any::<bool>()).prop_map(|(pick, delete)| Op::SetDisposition { pick, delete }),
        2 => (pick, prop::bool::weighted(0.8)).prop_map(|(pick, ok)| Op::NameRemoved { pick, ok }),
    ]
}

/// What the test (playing the front-end) knows.
#[derive(Default)]
struct Model {
    handles: Vec<(FileKey, HandleId)>,
    implicits: Vec<(FileKey, HandleId)>,
    /// Files whose name the core asked to remove and that await `name_removed`.
    owed: Vec<FileKey>,
}

impl Model {
    fn owe(&mut self, k: FileKey) {
        if !self.owed.contains(&k) {
            self.owed.push(k);
        }
    }
}

fn take<T>(v: &mut Vec<T>, pick: usize) -> Option<T> {
    if v.is_empty() {
        None
    } else {
        let i = pick % v.len();
        Some(v.remove(i))
    }
}

/// Invariants that must hold after every step.
fn check_invariants(core: &Core, model: &Model) -> Result<(), TestCaseError> {
    prop_assert!(
        core.counters_consistent(),
        "counters drifted from a recount"
    );
    let snapshot = core.snapshot();
    let live: BTreeSet<HandleId> = snapshot
        .iter()
        .flat_map(|(_, _, opens)| opens.iter().map(|r| r.handle))
        .collect();
    let known: BTreeSet<HandleId> = model
        .handles
        .iter()
        .chain(&model.implicits)
        .map(|&(_, h)| h)
        .collect();
    prop_assert_eq!(
        live,
        known,
        "registry and front-end disagree on live handles"
    );
    for (k, state, opens) in &snapshot {
        // A file with no open left must be on its way out, or nobody would remove it.
        if opens.is_empty() {
            prop_assert!(
                state.pending && model.owed.contains(k),
                "stale state for {:?}: {:?}",
                k,
                state
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]
    #[test]
    fn random_operations_keep_the_registry_consistent(
        ops in prop::collection::vec(op(), 1..60),
        readonly in prop::collection::vec(any::<bool>(), KEYS as usize),
    ) {
        let core = Core::new();
        let mut m = Model::default();
        let facts = |k: FileKey| FileFacts { readonly: readonly[(k.ino - 100) as usize] };
        for op in &ops {
            match *op {
                Op::Open { key: k, spec, delete_on_close } => {
                    let k = key(k);
                    let mut r = req(spec);
                    r.delete_on_close = delete_on_close;
                    if let Ok(h) = core.open(k, r, facts(k)) {
                        m.handles.push((k, h));
                    }
                }
                Op::Close(pick) => {
                    if let Some((k, h)) = take(&mut m.handles, pick) {
                        let out = core.close(k, h).unwrap();
                        if out.remove_name {
                            m.owe(k);
                        }
                    }
                }
                Op::Implicit { key: k, access } => {
                    let k = key(k);
                    if let Ok(h) = core.begin_implicit(k, access, owner(), Arc::from("p")) {
                        m.implicits.push((k, h));
                    }
                }
                Op::EndImplicit(pick) => {
                    if let Some((k, h)) = take(&mut m.implicits, pick)
                        && core.end_implicit(k, h).remove_name
                    {
                        m.owe(k);
                    }
                }
                Op::CommitDelete { pick, posix } => {
                    if let Some((k, h)) = take(&mut m.implicits, pick) {
                        let mode = if posix { DeleteMode::Posix } else { DeleteMode::Classic };
                        match core.commit_delete(k, h, mode, facts(k)) {
                            Ok(out) => {
                                if out.remove_name_now {
                                    m.owe(k);
                                }
                            }
                            Err(e) => prop_assert_eq!(e.kind(), "cannot_delete"),
                        }
                    }
                }
                Op::SetDisposition { pick, delete } => {
                    if !m.handles.is_empty() {
                        let (k, h) = m.handles[pick % m.handles.len()];
                        // Refusals (no delete access, read-only) are fine here.
                        let _ = core.set_disposition(k, h, delete, facts(k));
                    }
                }
                Op::NameRemoved { pick, ok } => {
                    if let Some(k) = take(&mut m.owed, pick) {
                        core.name_removed(k, ok);
                    }
                }
            }
            check_invariants(&core, &m)?;
        }

        // Close everything, answering every removal request with success.
        while let Some((k, h)) = m.implicits.pop() {
            if core.end_implicit(k, h).remove_name {
                m.owe(k);
            }
            check_invariants(&core, &m)?;
        }
        while let Some((k, h)) = m.handles.pop() {
            if core.close(k, h).unwrap().remove_name {
                m.owe(k);
            }
            check_invariants(&core, &m)?;
        }
        while let Some(k) = m.owed.pop() {
            core.name_removed(k, true);
        }
        prop_assert!(core.is_empty(), "left behind: {:?}", view(&core));
    }
}

// ---------------------------------------------------------------------------------------
// (d) Attribute-only opens are never refused by sharing and never cause a refusal
// ---------------------------------------------------------------------------------------

proptest! {
    #[test]
    fn attribute_only_opens_neither_conflict_nor_block(
        existing in prop::collection::vec(spec(), 0..8),
        attr_share in classes(),
        pending in prop::bool::weighted(0.2),
        later in prop::collection::vec(spec(), 1..4),
    ) {
        let with = Core::new();
        let without = Core::new();
        let admitted = open_admitted(&with, K, &existing);
        let admitted_specs: Vec<Spec> = admitted.iter().map(|&(i, _)| existing[i]).collect();
        prop_assert_eq!(open_admitted(&without, K, &admitted_specs).len(), admitted.len());
        let is_pending = pending && try_make_pending(&with, K);
        if is_pending {
            prop_assert!(try_make_pending(&without, K));
        }

        let attr = with.open(K, plain(NONE, attr_share), PLAIN);
        if is_pending {
            prop_assert_eq!(attr.map_err(|e| e.kind()), Err("delete_pending"));
            return Ok(());
        }
        let attr = attr.map_err(|e| e.to_string());
        prop_assert!(attr.is_ok(), "attribute-only open refused: {:?}", attr);
        let attr = attr.unwrap();

        // Later opens are decided as if the attribute-only open did not exist.
        for s in later {
            let rw = with.open(K, req(s), PLAIN);
            let rwo = without.open(K, req(s), PLAIN);
            prop_assert_eq!(comparable(&rw), comparable(&rwo));
            if let Err(e) = &rw {
                prop_assert!(e.holders().iter().all(|r| r.handle != attr));
            }
        }
        // So are unlinks.
        let iw = with.begin_implicit(K, D, owner(), Arc::from("p"));
        let iwo = without.begin_implicit(K, D, owner(), Arc::from("p"));
        prop_assert_eq!(comparable(&iw), comparable(&iwo));
    }
}

// ---------------------------------------------------------------------------------------
// (e) A refused open (or rename) changes nothing
// ---------------------------------------------------------------------------------------

proptest! {
    #[test]
    fn refused_open_changes_nothing(
        existing in prop::collection::vec(spec(), 0..8),
        pending in prop::bool::weighted(0.2),
        request in spec(),
        delete_on_close in prop::bool::weighted(0.3),
        readonly in prop::bool::weighted(0.2),
    ) {
        let core = Core::new();
        let _ = open_admitted(&core, K, &existing);
        if pending {
            try_make_pending(&core, K);
        }
        let before = view(&core);
        let mut r = req(request);
        r.delete_on_close = delete_on_close;
        let probe = core.probe(K, &r);
        prop_assert_eq!(&view(&core), &before, "probe changed the registry");
        match core.open(K, r, FileFacts { readonly }) {
            Ok(_) => {
                prop_assert!(probe.is_ok());
                prop_assert!(core.counters_consistent());
            }
            Err(_) => prop_assert_eq!(view(&core), before),
        }
    }

    #[test]
    fn refused_rename_changes_nothing(
        source in prop::collection::vec(spec(), 0..4),
        parent in prop::collection::vec(spec(), 0..3),
        target in prop::collection::vec(spec(), 0..4),
        has_target in any::<bool>(),
        target_is_dir in any::<bool>(),
        target_readonly in prop::bool::weighted(0.2),
        exchange in prop::bool::weighted(0.2),
        posix in any::<bool>(),
        succeeded in any::<bool>(),
    ) {
        let (src, dir, dst) = (key(0), key(1), key(2));
        let core = Core::new();
        let opened: Vec<(FileKey, HandleId)> = [(src, &source), (dir, &parent), (dst, &target)]
            .into_iter()
            .flat_map(|(k, specs)| {
                open_admitted(&core, k, specs).into_iter().map(move |(_, h)| (k, h))
            })
            .collect();
        let before = view(&core);
        let request = RenameRequest {
            source: src,
            source_parent: dir,
            target_parent: dir,
            target: has_target.then_some(RenameTarget {
                key: dst,
                is_dir: target_is_dir,
                facts: FileFacts { readonly: target_readonly },
            }),
            exchange,
            open_descendants: Vec::new(),
            source_handle: None,
            mode: if posix { DeleteMode::Posix } else { DeleteMode::Classic },
            owner: owner(),
            path: Arc::from("p"),
        };
        match core.begin_rename(&request) {
            Err(_) => prop_assert_eq!(view(&core), before),
            Ok(ticket) => {
                prop_assert!(core.counters_consistent());
                prop_assert!(core.finish_rename(ticket, succeeded).is_empty());
                prop_assert!(core.counters_consistent());
                // Only the target's delete state may have changed; the implicit opens
                // are gone.
                let strip = |v: View| -> Vec<(FileKey, Opens)> {
                    v.into_iter().map(|(k, _, o)| (k, o)).collect()
                };
                prop_assert_eq!(strip(view(&core)), strip(before));
                prop_assert_eq!(core.delete_state(src), DeleteState::default());
            }
        }
        for (k, h) in opened {
            if core.close(k, h).unwrap().remove_name {
                core.name_removed(k, true);
            }
        }
        prop_assert!(core.is_empty());
    }
}
