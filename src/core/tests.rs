//! Rule tables for the semantics core (SEMANTICS.md §1-3); the randomised properties are
//! in `tests/core_props.rs`.
//!
//! Every table row is named after the rule it pins. The oracle for share modes is Wine's
//! `dlls/kernel32/tests/file.c: test_file_sharing` (`is_sharing_compatible`), run on real
//! Windows: two opens are compatible iff either holds no class, or each one's share set
//! covers the other's access set. Every test that expects a refusal also checks which
//! existing opens (by handle id) the refusal names.

use super::share_table::check_sharing_by_scan;
use super::*;

// ---------------------------------------------------------------------------------------
// Vocabulary
// ---------------------------------------------------------------------------------------

const NONE: Classes = Classes::NONE;
const R: Classes = Classes::READ;
const W: Classes = Classes::WRITE;
const D: Classes = Classes::DELETE;
const RW: Classes = Classes::READ_WRITE;
const RD: Classes = Classes::from_bits(5);
const WD: Classes = Classes::from_bits(6);
const ALL: Classes = Classes::ALL;

/// DOS/NetWare deny modes as share sets (SEMANTICS.md §1, last paragraph); none of them
/// shares delete.
const DENYNO: Classes = RW;
const DENYRD: Classes = W;
const DENYWR: Classes = R;
const DENYALL: Classes = NONE;

const FILE: FileKey = FileKey { dev: 1, ino: 10 };
const SRC: FileKey = FileKey { dev: 1, ino: 20 };
const SRC_DIR: FileKey = FileKey { dev: 1, ino: 21 };
const DST_DIR: FileKey = FileKey { dev: 1, ino: 22 };
const DST: FileKey = FileKey { dev: 1, ino: 23 };
const BELOW: FileKey = FileKey { dev: 1, ino: 24 };

const PLAIN: FileFacts = FileFacts { readonly: false };
const READONLY: FileFacts = FileFacts { readonly: true };

type Decision = Result<(), SharingConflict>;
const OK: Decision = Ok(());

const fn wanted(c: Classes) -> Decision {
    Err(SharingConflict::WantedNotShared(c))
}

const fn held(c: Classes) -> Decision {
    Err(SharingConflict::HeldNotShared(c))
}

fn owner() -> Arc<Owner> {
    Arc::new(Owner {
        pid: 42,
        tid: 42,
        comm: "test".into(),
        uid: 1000,
        gid: 1000,
        runtime: "c",
    })
}

fn req(access: Classes, share: Classes) -> OpenRequest {
    OpenRequest::new(access, share, owner(), Arc::from("f"))
}

fn doc_req(access: Classes, share: Classes) -> OpenRequest {
    let mut r = req(access, share);
    r.delete_on_close = true;
    r
}

fn backup_req(access: Classes, share: Classes) -> OpenRequest {
    let mut r = req(access, share);
    r.backup = true;
    r
}

fn implicit_delete(core: &Core, key: FileKey) -> Result<HandleId, SemanticError> {
    core.begin_implicit(key, D, owner(), Arc::from("f"))
}

fn ids(records: &[OpenRecord]) -> Vec<HandleId> {
    records.iter().map(|r| r.handle).collect()
}

/// Everything observable in the registry, for "a refusal changes nothing" checks.
type View = Vec<(FileKey, DeleteState, Vec<(HandleId, Classes, Classes)>)>;

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

/// Asserts a refusal of the given kind naming exactly `holders` (by handle id).
#[track_caller]
fn refused<T: std::fmt::Debug>(
    result: Result<T, SemanticError>,
    kind: &str,
    holders: &[HandleId],
) -> SemanticError {
    let e = match result {
        Ok(v) => panic!("expected {kind}, got Ok({v:?})"),
        Err(e) => e,
    };
    assert_eq!(e.kind(), kind, "wrong refusal: {e}");
    assert_eq!(ids(e.holders()), holders, "wrong holders for {e}");
    e
}

/// Closes a handle and, like the front-end, answers a removal request at once.
fn close_answering(core: &Core, key: FileKey, h: HandleId) -> CloseOutcome {
    let out = core.close(key, h).unwrap();
    if out.remove_name {
        core.name_removed(key, true);
    }
    out
}

// ---------------------------------------------------------------------------------------
// §1 Share modes: one row per rule
// ---------------------------------------------------------------------------------------

struct ShareRow {
    rule: &'static str,
    /// Existing opens (access, share), opened in this order; they must admit each other.
    existing: &'static [(Classes, Classes)],
    /// The new open (access, share).
    request: (Classes, Classes),
    expect: Decision,
    /// Indexes into `existing` of the opens a refusal must name.
    holders: &'static [usize],
}

const SHARE_RULES: &[ShareRow] = &[
    // Rule 2: the new open wants a class an existing open does not share.
    ShareRow {
        rule: "reader_sharing_read_refuses_writer",
        existing: &[(R, R)],
        request: (W, ALL),
        expect: wanted(W),
        holders: &[0],
    },
    ShareRow {
        rule: "reader_sharing_read_admits_reader",
        existing: &[(R, R)],
        request: (R, R),
        expect: OK,
        holders: &[],
    },
    ShareRow {
        rule: "writer_sharing_read_refuses_second_writer",
        existing: &[(W, R)],
        request: (W, ALL),
        expect: wanted(W),
        holders: &[0],
    },
    ShareRow {
        rule: "writers_sharing_write_admit_each_other",
        existing: &[(W, RW)],
        request: (W, RW),
        expect: OK,
        holders: &[],
    },
    ShareRow {
        rule: "share_none_refuses_reader",
        existing: &[(R, NONE)],
        request: (R, ALL),
        expect: wanted(R),
        holders: &[0],
    },
    ShareRow {
        rule: "share_none_refuses_writer",
        existing: &[(R, NONE)],
        request: (W, ALL),
        expect: wanted(W),
        holders: &[0],
    },
    ShareRow {
        rule: "share_none_refuses_delete",
        existing: &[(R, NONE)],
        request: (D, ALL),
        expect: wanted(D),
        holders: &[0],
    },
    ShareRow {
        rule: "delete_wanted_but_not_shared",
        existing: &[(R, RW)],
        request: (D, ALL),
        expect: wanted(D),
        holders: &[0],
    },
    ShareRow {
        rule: "delete_wanted_and_shared",
        existing: &[(R, RD)],
        request: (D, ALL),
        expect: OK,
        holders: &[],
    },
    ShareRow {
        rule: "read_write_wanted_first_missing_class_reported",
        existing: &[(R, W)],
        request: (RW, ALL),
        expect: wanted(R),
        holders: &[0],
    },
    // Rule 4: an existing open holds a class the new open's share set lacks.
    ShareRow {
        rule: "held_read_not_shared_by_new_open",
        existing: &[(R, ALL)],
        request: (W, W),
        expect: held(R),
        holders: &[0],
    },
    ShareRow {
        rule: "held_write_not_shared_by_new_open",
        existing: &[(W, ALL)],
        request: (R, R),
        expect: held(W),
        holders: &[0],
    },
    ShareRow {
        rule: "held_delete_not_shared_by_new_open",
        existing: &[(D, ALL)],
        request: (R, RW),
        expect: held(D),
        holders: &[0],
    },
    ShareRow {
        rule: "new_share_set_covers_held_classes",
        existing: &[(RW, ALL)],
        request: (R, RW),
        expect: OK,
        holders: &[],
    },
    ShareRow {
        rule: "new_open_sharing_nothing_refused_by_any_data_holder",
        existing: &[(R, ALL)],
        request: (R, NONE),
        expect: held(R),
        holders: &[0],
    },
    // Both directions fail: the wanted half (rule 2) is reported.
    ShareRow {
        rule: "both_halves_fail_wanted_reported_first",
        existing: &[(R, R)],
        request: (W, NONE),
        expect: wanted(W),
        holders: &[0],
    },
    // The rule is symmetric: swapping the two opens of a row gives the same verdict.
    ShareRow {
        rule: "symmetric_reader_then_writer",
        existing: &[(W, ALL)],
        request: (R, R),
        expect: held(W),
        holders: &[0],
    },
    ShareRow {
        rule: "symmetric_writer_then_reader",
        existing: &[(R, R)],
        request: (W, ALL),
        expect: wanted(W),
        holders: &[0],
    },
    // Rule 3 and rule 1's parenthesis: attribute-only opens, in either position.
    ShareRow {
        rule: "attribute_only_open_never_conflicts",
        existing: &[(R, NONE)],
        request: (NONE, NONE),
        expect: OK,
        holders: &[],
    },
    ShareRow {
        rule: "attribute_only_new_open_share_set_ignored",
        existing: &[(ALL, ALL)],
        request: (NONE, NONE),
        expect: OK,
        holders: &[],
    },
    ShareRow {
        rule: "attribute_only_existing_open_shares_everything",
        existing: &[(NONE, NONE)],
        request: (ALL, NONE),
        expect: OK,
        holders: &[],
    },
    ShareRow {
        rule: "attribute_only_existing_opens_are_never_holders",
        existing: &[(NONE, NONE), (R, R), (NONE, NONE)],
        request: (W, ALL),
        expect: wanted(W),
        holders: &[1],
    },
    ShareRow {
        rule: "attribute_only_existing_open_does_not_hold_classes",
        existing: &[(NONE, ALL), (R, ALL)],
        request: (R, R),
        expect: OK,
        holders: &[],
    },
    // Rule 1: several existing opens, share sets intersected, access sets united.
    ShareRow {
        rule: "share_sets_intersect_across_opens",
        existing: &[(R, RW), (R, RD)],
        request: (W, ALL),
        expect: wanted(W),
        holders: &[1],
    },
    ShareRow {
        rule: "share_sets_intersect_common_class_admitted",
        existing: &[(R, RW), (R, RD)],
        request: (R, R),
        expect: OK,
        holders: &[],
    },
    ShareRow {
        rule: "share_sets_intersect_of_three",
        existing: &[(R, ALL), (R, RW), (R, RD)],
        request: (D, ALL),
        expect: wanted(D),
        holders: &[1],
    },
    ShareRow {
        rule: "every_open_not_sharing_is_named",
        existing: &[(R, R), (R, ALL), (R, R)],
        request: (W, ALL),
        expect: wanted(W),
        holders: &[0, 2],
    },
    ShareRow {
        rule: "access_sets_unite_across_opens",
        existing: &[(R, ALL), (W, ALL)],
        request: (R, R),
        expect: held(W),
        holders: &[1],
    },
    ShareRow {
        rule: "every_holder_of_unshared_class_is_named",
        existing: &[(R, ALL), (RW, ALL), (W, ALL)],
        request: (R, R),
        expect: held(W),
        holders: &[1, 2],
    },
    ShareRow {
        rule: "united_access_covered_by_new_share",
        existing: &[(R, ALL), (W, ALL), (D, ALL)],
        request: (RW, ALL),
        expect: OK,
        holders: &[],
    },
    ShareRow {
        rule: "many_compatible_readers_and_writers",
        existing: &[(R, RW), (W, RW), (RW, RW)],
        request: (RW, RW),
        expect: OK,
        holders: &[],
    },
    // DOS/NetWare deny modes.
    ShareRow {
        rule: "denyno_admits_reader_and_writer",
        existing: &[(RW, DENYNO)],
        request: (RW, DENYNO),
        expect: OK,
        holders: &[],
    },
    ShareRow {
        rule: "denyno_does_not_share_delete",
        existing: &[(R, DENYNO)],
        request: (D, ALL),
        expect: wanted(D),
        holders: &[0],
    },
    ShareRow {
        rule: "denyrd_refuses_reader",
        existing: &[(R, DENYRD)],
        request: (R, DENYNO),
        expect: wanted(R),
        holders: &[0],
    },
    ShareRow {
        rule: "denyrd_admits_writer",
        existing: &[(R, DENYRD)],
        request: (W, DENYNO),
        expect: OK,
        holders: &[],
    },
    ShareRow {
        rule: "denyrd_new_open_refused_by_existing_reader",
        existing: &[(R, DENYNO)],
        request: (W, DENYRD),
        expect: held(R),
        holders: &[0],
    },
    ShareRow {
        rule: "denywr_refuses_writer",
        existing: &[(R, DENYWR)],
        request: (W, DENYNO),
        expect: wanted(W),
        holders: &[0],
    },
    ShareRow {
        rule: "denywr_admits_reader",
        existing: &[(R, DENYWR)],
        request: (R, DENYWR),
        expect: OK,
        holders: &[],
    },
    ShareRow {
        rule: "denywr_new_open_refused_by_existing_writer",
        existing: &[(W, DENYNO)],
        request: (R, DENYWR),
        expect: held(W),
        holders: &[0],
    },
    ShareRow {
        rule: "denyall_refuses_reader",
        existing: &[(R, DENYALL)],
        request: (R, DENYNO),
        expect: wanted(R),
        holders: &[0],
    },
    ShareRow {
        rule: "denyall_new_open_refused_by_any_reader",
        existing: &[(R, DENYNO)],
        request: (R, DENYALL),
        expect: held(R),
        holders: &[0],
    },
    ShareRow {
        rule: "denyall_admits_attribute_only_open",
        existing: &[(RW, DENYALL)],
        request: (NONE, DENYALL),
        expect: OK,
        holders: &[],
    },
    ShareRow {
        rule: "denyall_on_idle_file_admitted",
        existing: &[(NONE, DENYALL)],
        request: (RW, DENYALL),
        expect: OK,
        holders: &[],
    },
];

#[test]
fn share_mode_rules() {
    let mut names = std::collections::HashSet::new();
    for row in SHARE_RULES {
        assert!(names.insert(row.rule), "duplicate rule name {}", row.rule);
        let rule = row.rule;
        let core = Core::new();
        let handles: Vec<HandleId> = row
            .existing
            .iter()
            .enumerate()
            .map(|(i, &(a, s))| {
                core.open(FILE, req(a, s), PLAIN)
                    .unwrap_or_else(|e| panic!("{rule}: existing open #{i} refused: {e}"))
            })
            .collect();
        let (access, share) = row.request;

        // The O(1) decision and Wine's scan agree with the row.
        let counters = core.counters(FILE);
        assert_eq!(
            check_sharing(&counters, access, share),
            row.expect,
            "{rule}: check_sharing"
        );
        assert_eq!(
            check_sharing_by_scan(&core.opens_of(FILE), access, share),
            row.expect.is_ok(),
            "{rule}: check_sharing_by_scan"
        );
        // probe() decides the same and records nothing.
        let before = view(&core);
        assert_eq!(
            core.probe(FILE, &req(access, share)).is_ok(),
            row.expect.is_ok(),
            "{rule}: probe"
        );
        assert_eq!(view(&core), before, "{rule}: probe changed the registry");

        let expected_holders: Vec<HandleId> = row.holders.iter().map(|&i| handles[i]).collect();
        match (core.open(FILE, req(access, share), PLAIN), row.expect) {
            (Ok(h), Ok(())) => {
                assert!(row.holders.is_empty(), "{rule}: holders listed for Ok");
                assert!(core.counters_consistent(), "{rule}: counters");
                core.close(FILE, h).unwrap();
            }
            (Err(SemanticError::SharingViolation { conflict, holders }), Err(want)) => {
                assert_eq!(conflict, want, "{rule}: conflict half/class");
                assert_eq!(ids(&holders), expected_holders, "{rule}: holders");
                assert_eq!(view(&core), before, "{rule}: refusal changed the registry");
            }
            (got, want) => panic!("{rule}: got {got:?}, want {want:?}"),
        }
        for h in handles {
            core.close(FILE, h).unwrap();
        }
        assert!(
            core.is_empty(),
            "{rule}: registry not empty after closing all"
        );
    }
}

/// Wine's `is_sharing_compatible`, reduced to the three classes.
fn wine_compatible(a1: Classes, s1: Classes, a2: Classes, s2: Classes) -> bool {
    a1.is_empty() || a2.is_empty() || (s1.contains(a2) && s2.contains(a1))
}

fn all_classes() -> impl Iterator<Item = Classes> + Clone {
    (0u8..8).map(Classes::from_bits)
}

fn record(handle: u64, access: Classes, share: Classes) -> OpenRecord {
    OpenRecord {
        handle: HandleId(handle),
        access,
        share,
        delete_on_close: false,
        owner: owner(),
        flags: 0,
        path: Arc::from("f"),
        since: std::time::SystemTime::UNIX_EPOCH,
        kind: OpenKind::Handle,
        backup: false,
    }
}

/// Wine `test_file_sharing`: every (access1, share1) x (access2, share2), 8^4 pairs,
/// through the counters, the scan and the registry.
#[test]
fn wine_test_file_sharing_exhaustive() {
    let core = Core::new();
    let mut refused_count = 0;
    for a1 in all_classes() {
        for s1 in all_classes() {
            let mut counters = ShareCounters::default();
            counters.add(a1, s1);
            let first = [record(1, a1, s1)];
            for a2 in all_classes() {
                for s2 in all_classes() {
                    let ctx = format!("first ({a1:?},{s1:?}) then ({a2:?},{s2:?})");
                    let expect = wine_compatible(a1, s1, a2, s2);
                    assert_eq!(expect, wine_compatible(a2, s2, a1, s1), "{ctx}: symmetric");
                    let decision = check_sharing(&counters, a2, s2);
                    assert_eq!(decision.is_ok(), expect, "{ctx}: check_sharing");
                    assert_eq!(
                        check_sharing_by_scan(&first, a2, s2),
                        expect,
                        "{ctx}: check_sharing_by_scan"
                    );
                    // The reported half names a class that really is the conflict.
                    match decision {
                        Ok(()) => {}
                        Err(SharingConflict::WantedNotShared(c)) => {
                            assert!(a2.contains(c) && !s1.contains(c), "{ctx}: {c:?}");
                        }
                        Err(SharingConflict::HeldNotShared(c)) => {
                            assert!(a1.contains(c) && !s2.contains(c), "{ctx}: {c:?}");
                        }
                    }
                    let h1 = core.open(FILE, req(a1, s1), PLAIN).unwrap();
                    match core.open(FILE, req(a2, s2), PLAIN) {
                        Ok(h2) => {
                            assert!(expect, "{ctx}: admitted");
                            core.close(FILE, h2).unwrap();
                        }
                        Err(e) => {
                            assert!(!expect, "{ctx}: refused: {e}");
                            refused_count += 1;
                            refused(Err::<(), _>(e), "sharing_violation", &[h1]);
                        }
                    }
                    core.close(FILE, h1).unwrap();
                }
            }
        }
    }
    assert!(core.is_empty());
    // Sanity: the oracle is not trivial.
    // Of the 49 * 64 cases where both opens hold a class, (sum over non-empty a of
    // 2^(3-|a|))^2 = 19^2 are compatible.
    assert_eq!(refused_count, 49 * 64 - 19 * 19);
}

/// With two existing opens the decision is the conjunction of the pairwise Wine verdicts
/// (8^6 cases; counters and scan).
#[test]
fn two_existing_opens_decision_is_pairwise_conjunction() {
    for a1 in all_classes() {
        for s1 in all_classes() {
            for a2 in all_classes() {
                for s2 in all_classes() {
                    let mut counters = ShareCounters::default();
                    counters.add(a1, s1);
                    counters.add(a2, s2);
                    let records = [record(1, a1, s1), record(2, a2, s2)];
                    for a3 in all_classes() {
                        for s3 in all_classes() {
                            let expect =
                                wine_compatible(a1, s1, a3, s3) && wine_compatible(a2, s2, a3, s3);
                            assert_eq!(
                                check_sharing(&counters, a3, s3).is_ok(),
                                expect,
                                "({a1:?},{s1:?}) ({a2:?},{s2:?}) + ({a3:?},{s3:?})"
                            );
                            assert_eq!(check_sharing_by_scan(&records, a3, s3), expect);
                        }
                    }
                }
            }
        }
    }
}

/// Deny modes x data access, both orders, against the Wine oracle.
#[test]
fn deny_modes_match_oracle() {
    let modes = [
        ("DENYNO", DENYNO),
        ("DENYRD", DENYRD),
        ("DENYWR", DENYWR),
        ("DENYALL", DENYALL),
    ];
    for (n1, m1) in modes {
        for (n2, m2) in modes {
            for a1 in [R, W, RW] {
                for a2 in [R, W, RW] {
                    let core = Core::new();
                    let h1 = core.open(FILE, req(a1, m1), PLAIN).unwrap();
                    let got = core.open(FILE, req(a2, m2), PLAIN);
                    assert_eq!(
                        got.is_ok(),
                        wine_compatible(a1, m1, a2, m2),
                        "{a1:?}/{n1} then {a2:?}/{n2}"
                    );
                    match got {
                        Ok(h2) => core.close(FILE, h2).map(|_| ()).unwrap(),
                        Err(e) => assert_eq!(ids(e.holders()), vec![h1]),
                    }
                    // No deny mode shares delete: unlink is refused under every one.
                    refused(implicit_delete(&core, FILE), "sharing_violation", &[h1]);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// §1 last paragraph: implicit delete opens (unlink, rmdir, rename by path)
// ---------------------------------------------------------------------------------------

struct ImplicitRow {
    rule: &'static str,
    existing: &'static [(Classes, Classes)],
    expect: Decision,
    holders: &'static [usize],
}

const IMPLICIT_DELETE_RULES: &[ImplicitRow] = &[
    ImplicitRow {
        rule: "implicit_delete_on_idle_file_admitted",
        existing: &[],
        expect: OK,
        holders: &[],
    },
    ImplicitRow {
        rule: "implicit_delete_blocked_by_open_lacking_share_delete",
        existing: &[(R, RW)],
        expect: wanted(D),
        holders: &[0],
    },
    ImplicitRow {
        rule: "implicit_delete_blocked_by_share_none",
        existing: &[(W, NONE)],
        expect: wanted(D),
        holders: &[0],
    },
    ImplicitRow {
        rule: "implicit_delete_not_blocked_by_open_sharing_delete",
        existing: &[(RW, ALL)],
        expect: OK,
        holders: &[],
    },
    ImplicitRow {
        rule: "implicit_delete_not_blocked_by_reader_sharing_only_delete",
        existing: &[(R, D)],
        expect: OK,
        holders: &[],
    },
    ImplicitRow {
        rule: "implicit_delete_not_blocked_by_attribute_only_open",
        existing: &[(NONE, NONE)],
        expect: OK,
        holders: &[],
    },
    ImplicitRow {
        rule: "implicit_delete_not_blocked_by_attribute_only_among_sharers",
        existing: &[(NONE, NONE), (RW, ALL), (NONE, R)],
        expect: OK,
        holders: &[],
    },
    ImplicitRow {
        rule: "implicit_delete_blocked_by_one_of_many",
        existing: &[(R, ALL), (W, RW), (NONE, NONE), (R, ALL)],
        expect: wanted(D),
        holders: &[1],
    },
    ImplicitRow {
        rule: "implicit_delete_names_every_open_lacking_share_delete",
        existing: &[(R, RW), (R, ALL), (R, R)],
        expect: wanted(D),
        holders: &[0, 2],
    },
    ImplicitRow {
        rule: "implicit_delete_not_blocked_by_delete_open_sharing_delete",
        existing: &[(D, ALL)],
        expect: OK,
        holders: &[],
    },
    ImplicitRow {
        rule: "implicit_delete_blocked_by_delete_open_not_sharing_delete",
        existing: &[(WD, RW)],
        expect: wanted(D),
        holders: &[0],
    },
];

#[test]
fn implicit_delete_rules() {
    for row in IMPLICIT_DELETE_RULES {
        let rule = row.rule;
        let core = Core::new();
        let handles: Vec<HandleId> = row
            .existing
            .iter()
            .map(|&(a, s)| core.open(FILE, req(a, s), PLAIN).unwrap())
            .collect();
        let expected_holders: Vec<HandleId> = row.holders.iter().map(|&i| handles[i]).collect();
        let before = view(&core);
        match (implicit_delete(&core, FILE), row.expect) {
            (Ok(h), Ok(())) => {
                let rec = core.record(FILE, h).unwrap();
                assert_eq!(rec.kind, OpenKind::Implicit, "{rule}");
                assert_eq!((rec.access, rec.share), (D, ALL), "{rule}");
                core.end_implicit(FILE, h);
                assert_eq!(view(&core), before, "{rule}: end_implicit left traces");
            }
            (Err(SemanticError::SharingViolation { conflict, holders }), Err(want)) => {
                assert_eq!(conflict, want, "{rule}");
                assert_eq!(ids(&holders), expected_holders, "{rule}: holders");
                assert_eq!(view(&core), before, "{rule}: refusal changed the registry");
            }
            (got, want) => panic!("{rule}: got {got:?}, want {want:?}"),
        }
        for h in handles {
            core.close(FILE, h).unwrap();
        }
        assert!(core.is_empty(), "{rule}");
    }
}

/// Rename by path is the same implicit delete open of the source (§3, first bullet), so
/// the implicit-delete table holds for the source of a rename too.
#[test]
fn implicit_delete_rules_hold_for_rename_source() {
    for row in IMPLICIT_DELETE_RULES {
        let rule = row.rule;
        let core = Core::new();
        let handles: Vec<HandleId> = row
            .existing
            .iter()
            .map(|&(a, s)| core.open(SRC, req(a, s), PLAIN).unwrap())
            .collect();
        let expected_holders: Vec<HandleId> = row.holders.iter().map(|&i| handles[i]).collect();
        let before = view(&core);
        match (core.begin_rename(&rename_req(None)), row.expect) {
            (Ok(t), Ok(())) => assert!(core.finish_rename(t, true).is_empty(), "{rule}"),
            (Err(SemanticError::SharingViolation { conflict, holders }), Err(want)) => {
                assert_eq!(conflict, want, "{rule}");
                assert_eq!(ids(&holders), expected_holders, "{rule}: holders");
            }
            (got, want) => panic!("{rule}: got {got:?}, want {want:?}"),
        }
        assert_eq!(view(&core), before, "{rule}: rename left traces");
        for h in handles {
            core.close(SRC, h).unwrap();
        }
        assert!(core.is_empty(), "{rule}");
    }
}

#[test]
fn implicit_delete_open_blocks_new_opens_not_sharing_delete() {
    let core = Core::new();
    let i = implicit_delete(&core, FILE).unwrap();
    refused(
        core.open(FILE, req(R, RW), PLAIN),
        "sharing_violation",
        &[i],
    );
    let h = core.open(FILE, req(R, ALL), PLAIN).unwrap();
    let a = core.open(FILE, req(NONE, NONE), PLAIN).unwrap();
    core.end_implicit(FILE, i);
    core.close(FILE, h).unwrap();
    core.close(FILE, a).unwrap();
    assert!(core.is_empty());
}

#[test]
fn implicit_opens_are_not_listed_as_program_opens() {
    let core = Core::new();
    let i = implicit_delete(&core, FILE).unwrap();
    assert!(core.open_files().is_empty());
    let h = core.open(FILE, req(R, ALL), PLAIN).unwrap();
    assert_eq!(core.open_files(), vec![FILE]);
    core.end_implicit(FILE, i);
    core.close(FILE, h).unwrap();
    assert!(core.is_empty());
}

// ---------------------------------------------------------------------------------------
// Backup readers (policy): never conflict, never block
// ---------------------------------------------------------------------------------------

#[test]
fn backup_open_never_conflicts() {
    let core = Core::new();
    let h = core.open(FILE, req(RW, NONE), PLAIN).unwrap();
    let b = core.open(FILE, backup_req(RW, NONE), PLAIN).unwrap();
    assert!(!core.record(FILE, b).unwrap().participates());
    assert!(core.counters_consistent());
    core.close(FILE, h).unwrap();
    core.close(FILE, b).unwrap();
    assert!(core.is_empty());
}

#[test]
fn backup_open_never_blocks() {
    let core = Core::new();
    let b = core.open(FILE, backup_req(ALL, NONE), PLAIN).unwrap();
    assert!(core.counters(FILE).is_empty());
    let h = core.open(FILE, req(RW, NONE), PLAIN).unwrap();
    core.close(FILE, h).unwrap();
    // Unlink and rename are not blocked either.
    let i = implicit_delete(&core, FILE).unwrap();
    core.end_implicit(FILE, i);
    // A refusal caused by someone else does not name the backup reader.
    let h = core.open(FILE, req(R, R), PLAIN).unwrap();
    refused(
        core.open(FILE, req(W, ALL), PLAIN),
        "sharing_violation",
        &[h],
    );
    core.close(FILE, h).unwrap();
    core.close(FILE, b).unwrap();
    assert!(core.is_empty());
}

#[test]
fn backup_open_of_delete_pending_file_is_delete_pending() {
    let core = Core::new();
    let h = core.open(FILE, req(R, ALL), PLAIN).unwrap();
    let i = implicit_delete(&core, FILE).unwrap();
    core.commit_delete(FILE, i, DeleteMode::Classic, PLAIN)
        .unwrap();
    refused(
        core.open(FILE, backup_req(R, ALL), PLAIN),
        "delete_pending",
        &[],
    );
    close_answering(&core, FILE, h);
    assert!(core.is_empty());
}

// ---------------------------------------------------------------------------------------
// §2 Delete pending and delete-on-close
// ---------------------------------------------------------------------------------------

/// Every kind of new open a pending file must refuse, including ones that would also
/// violate sharing (delete pending is checked first).
const PROBES: &[(Classes, Classes)] = &[
    (NONE, NONE),
    (NONE, ALL),
    (R, ALL),
    (W, NONE),
    (RW, RW),
    (D, ALL),
    (ALL, NONE),
];

#[track_caller]
fn assert_new_opens_delete_pending(core: &Core, key: FileKey) {
    let before = view(core);
    for &(a, s) in PROBES {
        refused(core.open(key, req(a, s), PLAIN), "delete_pending", &[]);
        refused(core.probe(key, &req(a, s)), "delete_pending", &[]);
    }
    refused(implicit_delete(core, key), "delete_pending", &[]);
    assert_eq!(view(core), before, "refused opens changed the registry");
}

#[test]
fn delete_with_no_other_opens_removes_name_now() {
    let core = Core::new();
    let i = implicit_delete(&core, FILE).unwrap();
    let out = core
        .commit_delete(FILE, i, DeleteMode::Classic, PLAIN)
        .unwrap();
    assert!(out.remove_name_now);
    assert!(core.opens_of(FILE).is_empty(), "the implicit open ended");
    assert!(core.delete_state(FILE).pending);
    // Until the front-end reports the removal the name is still pending.
    assert_new_opens_delete_pending(&core, FILE);
    core.name_removed(FILE, true);
    assert!(core.is_empty());
}

#[test]
fn classic_delete_with_open_sharing_delete_is_pending() {
    let core = Core::new();
    // Shares only delete: any other data open would be a sharing violation.
    let h = core.open(FILE, req(RW, D), PLAIN).unwrap();
    let i = implicit_delete(&core, FILE).unwrap();
    let out = core
        .commit_delete(FILE, i, DeleteMode::Classic, PLAIN)
        .unwrap();
    assert!(!out.remove_name_now);
    assert_eq!(
        core.delete_state(FILE),
        DeleteState {
            pending: true,
            name_gone: false
        }
    );
    assert_eq!(ids(&core.opens_of(FILE)), vec![h]);
    // New opens: delete pending, before sharing (W/NONE would also violate sharing).
    assert_new_opens_delete_pending(&core, FILE);
    // The last close asks for the removal.
    let out = core.close(FILE, h).unwrap();
    assert_eq!(
        out,
        CloseOutcome {
            remove_name: true,
            became_pending: false
        }
    );
    assert_new_opens_delete_pending(&core, FILE);
    core.name_removed(FILE, true);
    assert!(core.is_empty());
}

#[test]
fn classic_delete_waits_for_every_handle() {
    let core = Core::new();
    let h1 = core.open(FILE, req(R, ALL), PLAIN).unwrap();
    let h2 = core.open(FILE, req(NONE, NONE), PLAIN).unwrap();
    let i = implicit_delete(&core, FILE).unwrap();
    assert!(
        !core
            .commit_delete(FILE, i, DeleteMode::Classic, PLAIN)
            .unwrap()
            .remove_name_now
    );
    assert_eq!(core.close(FILE, h1).unwrap(), CloseOutcome::default());
    assert!(core.delete_state(FILE).pending);
    assert!(core.close(FILE, h2).unwrap().remove_name);
    core.name_removed(FILE, true);
    assert!(core.is_empty());
}

#[test]
fn posix_delete_removes_name_now_and_stays_pending_until_last_close() {
    let core = Core::new();
    let h = core.open(FILE, req(RW, ALL), PLAIN).unwrap();
    let i = implicit_delete(&core, FILE).unwrap();
    let out = core
        .commit_delete(FILE, i, DeleteMode::Posix, PLAIN)
        .unwrap();
    assert!(out.remove_name_now);
    core.name_removed(FILE, true);
    assert_eq!(
        core.delete_state(FILE),
        DeleteState {
            pending: true,
            name_gone: true
        }
    );
    assert_eq!(
        ids(&core.opens_of(FILE)),
        vec![h],
        "the handle keeps working"
    );
    assert_new_opens_delete_pending(&core, FILE);
    // The name is already gone: the last close asks for nothing.
    assert_eq!(core.close(FILE, h).unwrap(), CloseOutcome::default());
    assert!(core.is_empty());
}

#[test]
fn failed_name_removal_undoes_delete_of_idle_file() {
    let core = Core::new();
    let i = implicit_delete(&core, FILE).unwrap();
    assert!(
        core.commit_delete(FILE, i, DeleteMode::Classic, PLAIN)
            .unwrap()
            .remove_name_now
    );
    core.name_removed(FILE, false);
    assert!(core.is_empty());
    let h = core.open(FILE, req(RW, NONE), PLAIN).unwrap();
    core.close(FILE, h).unwrap();
    assert!(core.is_empty());
}

#[test]
fn failed_name_removal_undoes_posix_delete() {
    let core = Core::new();
    let h = core.open(FILE, req(R, ALL), PLAIN).unwrap();
    let i = implicit_delete(&core, FILE).unwrap();
    assert!(
        core.commit_delete(FILE, i, DeleteMode::Posix, PLAIN)
            .unwrap()
            .remove_name_now
    );
    core.name_removed(FILE, false);
    assert_eq!(core.delete_state(FILE), DeleteState::default());
    let h2 = core.open(FILE, req(R, ALL), PLAIN).unwrap();
    assert_eq!(core.close(FILE, h).unwrap(), CloseOutcome::default());
    assert_eq!(core.close(FILE, h2).unwrap(), CloseOutcome::default());
    assert!(core.is_empty());
}

#[test]
fn failed_name_removal_after_last_close_forgets_the_file() {
    let core = Core::new();
    let h = core.open(FILE, req(R, ALL), PLAIN).unwrap();
    let i = implicit_delete(&core, FILE).unwrap();
    core.commit_delete(FILE, i, DeleteMode::Classic, PLAIN)
        .unwrap();
    assert!(core.close(FILE, h).unwrap().remove_name);
    core.name_removed(FILE, false);
    assert!(core.is_empty());
}

#[test]
fn readonly_file_cannot_be_deleted() {
    let core = Core::new();
    let i = implicit_delete(&core, FILE).unwrap();
    refused(
        core.commit_delete(FILE, i, DeleteMode::Classic, READONLY),
        "cannot_delete",
        &[],
    );
    assert!(core.is_empty(), "the implicit open ended, nothing pending");

    let h = core.open(FILE, req(R, ALL), PLAIN).unwrap();
    let before = view(&core);
    let i = implicit_delete(&core, FILE).unwrap();
    refused(
        core.commit_delete(FILE, i, DeleteMode::Posix, READONLY),
        "cannot_delete",
        &[],
    );
    assert_eq!(view(&core), before);
    assert_eq!(core.close(FILE, h).unwrap(), CloseOutcome::default());
    assert!(core.is_empty());
}

#[test]
fn delete_on_close_needs_delete_access() {
    let core = Core::new();
    for access in [NONE, R, W, RW] {
        let e = refused(
            core.open(FILE, doc_req(access, ALL), PLAIN),
            "invalid_parameter",
            &[],
        );
        assert!(matches!(e, SemanticError::InvalidParameter(_)));
        assert!(core.is_empty(), "nothing created for {access:?}");
    }
    // Even on a read-only file the parameter check comes first.
    refused(
        core.open(FILE, doc_req(R, ALL), READONLY),
        "invalid_parameter",
        &[],
    );
    assert!(core.is_empty());
}

#[test]
fn delete_on_close_on_readonly_file_is_access_denied() {
    let core = Core::new();
    let h = core.open(FILE, req(R, ALL), PLAIN).unwrap();
    let before = view(&core);
    refused(
        core.open(FILE, doc_req(D, ALL), READONLY),
        "access_denied",
        &[],
    );
    assert_eq!(view(&core), before);
    core.close(FILE, h).unwrap();
    assert!(core.is_empty());
}

#[test]
fn delete_on_close_open_is_not_pending_while_open() {
    let core = Core::new();
    let d = core.open(FILE, doc_req(RD, ALL), PLAIN).unwrap();
    assert_eq!(core.delete_state(FILE), DeleteState::default());
    // Others may open under normal sharing ...
    let h = core.open(FILE, req(RW, ALL), PLAIN).unwrap();
    // ... and normal sharing still applies.
    refused(
        core.open(FILE, req(R, RW), PLAIN),
        "sharing_violation",
        &[d],
    );
    core.close(FILE, h).unwrap();
    assert!(core.close(FILE, d).unwrap().remove_name);
    core.name_removed(FILE, true);
    assert!(core.is_empty());
}

#[test]
fn delete_on_close_handle_close_makes_file_pending_for_others() {
    let core = Core::new();
    let d = core.open(FILE, doc_req(D, ALL), PLAIN).unwrap();
    let h = core.open(FILE, req(R, ALL), PLAIN).unwrap();
    let out = core.close(FILE, d).unwrap();
    assert_eq!(
        out,
        CloseOutcome {
            remove_name: false,
            became_pending: true
        }
    );
    assert!(core.delete_state(FILE).pending);
    assert_new_opens_delete_pending(&core, FILE);
    let out = core.close(FILE, h).unwrap();
    assert_eq!(
        out,
        CloseOutcome {
            remove_name: true,
            became_pending: false
        }
    );
    core.name_removed(FILE, true);
    assert!(core.is_empty());
}

#[test]
fn delete_on_close_as_last_handle_removes_name() {
    let core = Core::new();
    let d = core.open(FILE, doc_req(ALL, NONE), PLAIN).unwrap();
    let out = core.close(FILE, d).unwrap();
    assert_eq!(
        out,
        CloseOutcome {
            remove_name: true,
            became_pending: false
        }
    );
    assert_new_opens_delete_pending(&core, FILE);
    core.name_removed(FILE, true);
    assert!(core.is_empty());
}

#[test]
fn set_disposition_needs_delete_access() {
    let core = Core::new();
    let h = core.open(FILE, req(RW, ALL), PLAIN).unwrap();
    let a = core.open(FILE, req(NONE, ALL), PLAIN).unwrap();
    for handle in [h, a] {
        for delete in [true, false] {
            refused(
                core.set_disposition(FILE, handle, delete, PLAIN),
                "access_denied",
                &[],
            );
        }
    }
    assert_eq!(core.delete_state(FILE), DeleteState::default());
    core.close(FILE, h).unwrap();
    core.close(FILE, a).unwrap();
    assert!(core.is_empty());
}

#[test]
fn set_disposition_on_readonly_file_is_cannot_delete() {
    let core = Core::new();
    let h = core.open(FILE, req(D, ALL), PLAIN).unwrap();
    refused(
        core.set_disposition(FILE, h, true, READONLY),
        "cannot_delete",
        &[],
    );
    assert_eq!(core.delete_state(FILE), DeleteState::default());
    // Clearing is always allowed.
    core.set_disposition(FILE, h, false, READONLY).unwrap();
    assert_eq!(core.close(FILE, h).unwrap(), CloseOutcome::default());
    assert!(core.is_empty());
}

#[test]
fn set_disposition_sets_and_clears_through_any_delete_handle() {
    let core = Core::new();
    let h1 = core.open(FILE, req(D, ALL), PLAIN).unwrap();
    let h2 = core.open(FILE, req(RD, ALL), PLAIN).unwrap();
    core.set_disposition(FILE, h1, true, PLAIN).unwrap();
    assert!(
        core.delete_state(FILE).pending,
        "the flag belongs to the file"
    );
    assert_new_opens_delete_pending(&core, FILE);
    // Another handle with delete access clears it.
    core.set_disposition(FILE, h2, false, PLAIN).unwrap();
    assert_eq!(core.delete_state(FILE), DeleteState::default());
    let h3 = core.open(FILE, req(R, ALL), PLAIN).unwrap();
    core.close(FILE, h3).unwrap();
    // Set again; the last close removes.
    core.set_disposition(FILE, h2, true, PLAIN).unwrap();
    assert_eq!(core.close(FILE, h2).unwrap(), CloseOutcome::default());
    assert!(core.close(FILE, h1).unwrap().remove_name);
    core.name_removed(FILE, true);
    assert!(core.is_empty());
}

#[test]
fn clearing_disposition_does_not_cancel_delete_on_close() {
    let core = Core::new();
    let d = core.open(FILE, doc_req(D, ALL), PLAIN).unwrap();
    let h = core.open(FILE, req(D, ALL), PLAIN).unwrap();
    core.set_disposition(FILE, h, true, PLAIN).unwrap();
    core.set_disposition(FILE, d, false, PLAIN).unwrap();
    assert_eq!(core.delete_state(FILE), DeleteState::default());
    let out = core.close(FILE, d).unwrap();
    assert!(out.became_pending, "delete-on-close still applies");
    assert_new_opens_delete_pending(&core, FILE);
    assert!(core.close(FILE, h).unwrap().remove_name);
    core.name_removed(FILE, true);
    assert!(core.is_empty());
}

#[test]
fn attribute_only_open_of_pending_file_is_delete_pending() {
    let core = Core::new();
    let h = core.open(FILE, req(D, ALL), PLAIN).unwrap();
    core.set_disposition(FILE, h, true, PLAIN).unwrap();
    refused(
        core.open(FILE, req(NONE, ALL), PLAIN),
        "delete_pending",
        &[],
    );
    assert!(core.close(FILE, h).unwrap().remove_name);
    core.name_removed(FILE, true);
    assert!(core.is_empty());
}

/// An implicit open (unlink, rename, truncate by path) can be the last open of a file
/// that became delete-pending meanwhile; ending it must then ask for the removal like a
/// close does, or the file stays pending forever with nobody left to remove it.
#[test]
fn ending_last_implicit_open_of_pending_file_asks_for_removal() {
    let core = Core::new();
    let d = core.open(FILE, doc_req(D, ALL), PLAIN).unwrap();
    let t = core
        .begin_implicit(FILE, W, owner(), Arc::from("f"))
        .unwrap();
    assert!(core.close(FILE, d).unwrap().became_pending);
    let out = core.end_implicit(FILE, t);
    assert!(out.remove_name);
    core.name_removed(FILE, true);
    assert!(core.is_empty());

    // Two unlinks racing: the second one gives up after the first committed.
    let i1 = implicit_delete(&core, FILE).unwrap();
    let i2 = implicit_delete(&core, FILE).unwrap();
    assert!(
        !core
            .commit_delete(FILE, i1, DeleteMode::Classic, PLAIN)
            .unwrap()
            .remove_name_now
    );
    assert!(core.end_implicit(FILE, i2).remove_name);
    core.name_removed(FILE, true);
    assert!(core.is_empty());
}

#[test]
fn unknown_handles_are_reported_not_panicked() {
    let core = Core::new();
    refused(core.close(FILE, HandleId(999)), "unknown_handle", &[]);
    refused(
        core.commit_delete(FILE, HandleId(999), DeleteMode::Classic, PLAIN),
        "unknown_handle",
        &[],
    );
    refused(
        core.set_disposition(FILE, HandleId(999), true, PLAIN),
        "unknown_handle",
        &[],
    );
    let h = core.open(FILE, req(R, ALL), PLAIN).unwrap();
    refused(core.close(FILE, HandleId(999)), "unknown_handle", &[]);
    core.end_implicit(FILE, HandleId(999));
    core.close(FILE, h).unwrap();
    refused(core.close(FILE, h), "unknown_handle", &[]);
    assert!(core.is_empty());
}

#[test]
fn handle_ids_are_not_reused() {
    let core = Core::new();
    let mut seen = std::collections::HashSet::new();
    for _ in 0..100 {
        let h = core.open(FILE, req(R, ALL), PLAIN).unwrap();
        assert!(seen.insert(h));
        core.close(FILE, h).unwrap();
    }
}

// ---------------------------------------------------------------------------------------
// §3 Rename: one row per rule
// ---------------------------------------------------------------------------------------

/// An existing open a refused rename must name.
#[derive(Clone, Copy, Debug)]
enum Party {
    Source(usize),
    SourceDir(usize),
    TargetDir(usize),
    Target(usize),
    /// An open of a file below the source directory.
    Below(usize),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RenameExpect {
    Granted,
    Sharing(SharingConflict),
    /// Access denied; the reason must contain this text.
    AccessDenied(&'static str),
}

#[derive(Clone, Copy)]
struct TargetSpec {
    is_dir: bool,
    readonly: bool,
    opens: &'static [(Classes, Classes)],
}

const CLOSED_FILE: TargetSpec = TargetSpec {
    is_dir: false,
    readonly: false,
    opens: &[],
};

#[derive(Clone, Copy)]
struct RenameRow {
    rule: &'static str,
    mode: DeleteMode,
    source_opens: &'static [(Classes, Classes)],
    source_dir_opens: &'static [(Classes, Classes)],
    /// `None`: the rename stays in the source directory.
    target_dir_opens: Option<&'static [(Classes, Classes)]>,
    target: Option<TargetSpec>,
    exchange: bool,
    /// Opens of a file below the (directory) source, as the front-end reports them.
    below_opens: &'static [(Classes, Classes)],
    expect: RenameExpect,
    holders: &'static [Party],
    /// The target's delete state after `finish_rename(ticket, true)`.
    target_after: DeleteState,
}

const BASE: RenameRow = RenameRow {
    rule: "",
    mode: DeleteMode::Classic,
    source_opens: &[],
    source_dir_opens: &[],
    target_dir_opens: None,
    target: None,
    exchange: false,
    below_opens: &[],
    expect: RenameExpect::Granted,
    holders: &[],
    target_after: DeleteState {
        pending: false,
        name_gone: false,
    },
};

const GONE_PENDING: DeleteState = DeleteState {
    pending: true,
    name_gone: true,
};

const RENAME_RULES: &[RenameRow] = &[
    RenameRow {
        rule: "rename_of_closed_file_granted",
        ..BASE
    },
    // Source: rename by path is an implicit delete open.
    RenameRow {
        rule: "source_open_without_share_delete_is_sharing_violation",
        source_opens: &[(R, RW)],
        expect: RenameExpect::Sharing(SharingConflict::WantedNotShared(D)),
        holders: &[Party::Source(0)],
        ..BASE
    },
    RenameRow {
        rule: "source_open_sharing_delete_does_not_block",
        source_opens: &[(RW, ALL), (D, ALL)],
        ..BASE
    },
    RenameRow {
        rule: "source_attribute_only_open_does_not_block",
        source_opens: &[(NONE, NONE)],
        ..BASE
    },
    RenameRow {
        rule: "source_blocked_in_posix_mode_too",
        mode: DeleteMode::Posix,
        source_opens: &[(R, ALL), (W, RW)],
        expect: RenameExpect::Sharing(SharingConflict::WantedNotShared(D)),
        holders: &[Party::Source(1)],
        ..BASE
    },
    // Existing target, classic rules.
    RenameRow {
        rule: "classic_replace_of_closed_regular_file_granted",
        target: Some(CLOSED_FILE),
        ..BASE
    },
    RenameRow {
        rule: "classic_target_open_sharing_everything_is_access_denied",
        target: Some(TargetSpec {
            opens: &[(R, ALL)],
            ..CLOSED_FILE
        }),
        expect: RenameExpect::AccessDenied("open"),
        holders: &[Party::Target(0)],
        ..BASE
    },
    RenameRow {
        rule: "classic_target_attribute_only_open_is_access_denied",
        target: Some(TargetSpec {
            opens: &[(NONE, NONE)],
            ..CLOSED_FILE
        }),
        expect: RenameExpect::AccessDenied("open"),
        holders: &[Party::Target(0)],
        ..BASE
    },
    RenameRow {
        rule: "classic_target_opens_all_named",
        target: Some(TargetSpec {
            opens: &[(NONE, ALL), (RW, ALL), (R, RW)],
            ..CLOSED_FILE
        }),
        expect: RenameExpect::AccessDenied("open"),
        holders: &[Party::Target(0), Party::Target(1), Party::Target(2)],
        ..BASE
    },
    RenameRow {
        rule: "classic_target_directory_is_access_denied",
        target: Some(TargetSpec {
            is_dir: true,
            ..CLOSED_FILE
        }),
        expect: RenameExpect::AccessDenied("directory"),
        holders: &[],
        ..BASE
    },
    RenameRow {
        rule: "classic_target_readonly_is_access_denied",
        target: Some(TargetSpec {
            readonly: true,
            ..CLOSED_FILE
        }),
        expect: RenameExpect::AccessDenied("read-only"),
        holders: &[],
        ..BASE
    },
    // Existing target, POSIX semantics.
    RenameRow {
        rule: "posix_replace_of_closed_file_granted",
        mode: DeleteMode::Posix,
        target: Some(CLOSED_FILE),
        ..BASE
    },
    RenameRow {
        rule: "posix_target_open_sharing_delete_becomes_pending_name_gone",
        mode: DeleteMode::Posix,
        target: Some(TargetSpec {
            opens: &[(RW, ALL)],
            ..CLOSED_FILE
        }),
        target_after: GONE_PENDING,
        ..BASE
    },
    RenameRow {
        rule: "posix_target_attribute_only_open_becomes_pending_name_gone",
        mode: DeleteMode::Posix,
        target: Some(TargetSpec {
            opens: &[(NONE, NONE)],
            ..CLOSED_FILE
        }),
        target_after: GONE_PENDING,
        ..BASE
    },
    RenameRow {
        rule: "posix_target_open_without_share_delete_is_sharing_violation",
        mode: DeleteMode::Posix,
        target: Some(TargetSpec {
            opens: &[(R, ALL), (R, RW)],
            ..CLOSED_FILE
        }),
        expect: RenameExpect::Sharing(SharingConflict::WantedNotShared(D)),
        holders: &[Party::Target(1)],
        ..BASE
    },
    RenameRow {
        rule: "posix_target_readonly_is_access_denied",
        mode: DeleteMode::Posix,
        target: Some(TargetSpec {
            readonly: true,
            opens: &[(R, ALL)],
            ..CLOSED_FILE
        }),
        expect: RenameExpect::AccessDenied("read-only"),
        holders: &[],
        ..BASE
    },
    // Parent directories.
    RenameRow {
        rule: "parent_open_with_delete_access_blocks_child_rename",
        source_dir_opens: &[(D, ALL)],
        expect: RenameExpect::Sharing(SharingConflict::HeldNotShared(D)),
        holders: &[Party::SourceDir(0)],
        ..BASE
    },
    RenameRow {
        rule: "parent_open_with_data_access_and_share_none_blocks_child_rename",
        source_dir_opens: &[(R, NONE)],
        expect: RenameExpect::Sharing(SharingConflict::HeldNotShared(D)),
        holders: &[Party::SourceDir(0)],
        ..BASE
    },
    RenameRow {
        rule: "parent_attribute_only_open_does_not_block",
        source_dir_opens: &[(NONE, NONE)],
        ..BASE
    },
    RenameRow {
        rule: "parent_open_with_data_access_sharing_does_not_block",
        source_dir_opens: &[(RW, RW), (R, ALL)],
        ..BASE
    },
    RenameRow {
        rule: "parent_blockers_named_among_other_parent_opens",
        source_dir_opens: &[(NONE, NONE), (R, ALL), (RD, ALL), (D, ALL)],
        expect: RenameExpect::Sharing(SharingConflict::HeldNotShared(D)),
        holders: &[Party::SourceDir(2), Party::SourceDir(3)],
        ..BASE
    },
    RenameRow {
        rule: "parent_share_none_open_named_among_attribute_only_opens",
        source_dir_opens: &[(NONE, NONE), (W, NONE), (NONE, ALL)],
        expect: RenameExpect::Sharing(SharingConflict::HeldNotShared(D)),
        holders: &[Party::SourceDir(1)],
        ..BASE
    },
    RenameRow {
        rule: "target_parent_open_with_delete_access_blocks",
        target_dir_opens: Some(&[(D, ALL)]),
        expect: RenameExpect::Sharing(SharingConflict::HeldNotShared(D)),
        holders: &[Party::TargetDir(0)],
        ..BASE
    },
    RenameRow {
        rule: "target_parent_attribute_only_open_does_not_block",
        target_dir_opens: Some(&[(NONE, NONE)]),
        target: Some(CLOSED_FILE),
        ..BASE
    },
    // Directories with open files below them.
    RenameRow {
        rule: "classic_directory_with_open_file_below_is_access_denied",
        below_opens: &[(R, ALL)],
        expect: RenameExpect::AccessDenied("below"),
        holders: &[Party::Below(0)],
        ..BASE
    },
    RenameRow {
        rule: "classic_directory_with_attribute_only_open_below_is_access_denied",
        below_opens: &[(NONE, NONE), (RW, ALL)],
        expect: RenameExpect::AccessDenied("below"),
        holders: &[Party::Below(0), Party::Below(1)],
        ..BASE
    },
    // RENAME_EXCHANGE: both names are sources.
    RenameRow {
        rule: "exchange_with_target_open_sharing_delete_granted",
        exchange: true,
        target: Some(TargetSpec {
            opens: &[(RW, ALL)],
            ..CLOSED_FILE
        }),
        ..BASE
    },
    RenameRow {
        rule: "exchange_target_open_without_share_delete_is_sharing_violation",
        exchange: true,
        target: Some(TargetSpec {
            opens: &[(NONE, NONE), (R, RW)],
            ..CLOSED_FILE
        }),
        expect: RenameExpect::Sharing(SharingConflict::WantedNotShared(D)),
        holders: &[Party::Target(1)],
        ..BASE
    },
    RenameRow {
        rule: "exchange_source_open_without_share_delete_is_sharing_violation",
        exchange: true,
        source_opens: &[(W, W)],
        target: Some(CLOSED_FILE),
        expect: RenameExpect::Sharing(SharingConflict::WantedNotShared(D)),
        holders: &[Party::Source(0)],
        ..BASE
    },
];

fn rename_req(target: Option<RenameTarget>) -> RenameRequest {
    RenameRequest {
        source: SRC,
        source_parent: SRC_DIR,
        target_parent: SRC_DIR,
        target,
        exchange: false,
        open_descendants: Vec::new(),
        source_handle: None,
        mode: DeleteMode::Classic,
        owner: owner(),
        path: Arc::from("dir/src"),
    }
}

fn open_all(core: &Core, key: FileKey, opens: &[(Classes, Classes)]) -> Vec<HandleId> {
    opens
        .iter()
        .map(|&(a, s)| core.open(key, req(a, s), PLAIN).unwrap())
        .collect()
}

fn implicit_deletes_of(core: &Core, key: FileKey) -> usize {
    core.opens_of(key)
        .iter()
        .filter(|r| r.kind == OpenKind::Implicit && r.access == D && r.share == ALL)
        .count()
}

#[test]
fn rename_rules() {
    let mut names = std::collections::HashSet::new();
    for row in RENAME_RULES {
        assert!(names.insert(row.rule), "duplicate rule name {}", row.rule);
        let rule = row.rule;
        let core = Core::new();
        let src = open_all(&core, SRC, row.source_opens);
        let src_dir = open_all(&core, SRC_DIR, row.source_dir_opens);
        let dst_dir = open_all(&core, DST_DIR, row.target_dir_opens.unwrap_or(&[]));
        let dst = open_all(&core, DST, row.target.map(|t| t.opens).unwrap_or(&[]));
        let below = open_all(&core, BELOW, row.below_opens);
        let mut request = rename_req(row.target.map(|t| RenameTarget {
            key: DST,
            is_dir: t.is_dir,
            facts: FileFacts {
                readonly: t.readonly,
            },
        }));
        request.mode = row.mode;
        request.exchange = row.exchange;
        request.open_descendants = core.opens_of(BELOW);
        if row.target_dir_opens.is_some() {
            request.target_parent = DST_DIR;
        }
        let expected_holders: Vec<HandleId> = row
            .holders
            .iter()
            .map(|p| match *p {
                Party::Source(i) => src[i],
                Party::SourceDir(i) => src_dir[i],
                Party::TargetDir(i) => dst_dir[i],
                Party::Target(i) => dst[i],
                Party::Below(i) => below[i],
            })
            .collect();

        let before = view(&core);
        match (core.begin_rename(&request), row.expect) {
            (Ok(ticket), RenameExpect::Granted) => {
                assert_eq!(implicit_deletes_of(&core, SRC), 1, "{rule}: source");
                let target_implicit =
                    row.exchange || (row.mode == DeleteMode::Posix && row.target.is_some());
                assert_eq!(
                    implicit_deletes_of(&core, DST),
                    usize::from(target_implicit),
                    "{rule}: target implicit open"
                );
                assert!(core.finish_rename(ticket, true).is_empty());
                assert_eq!(core.delete_state(DST), row.target_after, "{rule}: target");
                assert_eq!(core.delete_state(SRC), DeleteState::default(), "{rule}");
                let after = view(&core);
                let strip = |v: View| -> View {
                    v.into_iter()
                        .map(|(k, _, o)| (k, DeleteState::default(), o))
                        .collect()
                };
                assert_eq!(strip(after), strip(before), "{rule}: implicit opens left");
            }
            (Err(e), want) => {
                match (&e, want) {
                    (
                        SemanticError::SharingViolation { conflict, .. },
                        RenameExpect::Sharing(c),
                    ) => {
                        assert_eq!(*conflict, c, "{rule}")
                    }
                    (SemanticError::AccessDenied { reason, .. }, RenameExpect::AccessDenied(r)) => {
                        assert!(reason.contains(r), "{rule}: reason {reason:?}")
                    }
                    _ => panic!("{rule}: got {e:?}, want {want:?}"),
                }
                assert_eq!(ids(e.holders()), expected_holders, "{rule}: holders");
                assert_eq!(view(&core), before, "{rule}: refusal changed the registry");
            }
            (got, want) => panic!("{rule}: got {got:?}, want {want:?}"),
        }
        for (key, handles) in [
            (SRC, src),
            (SRC_DIR, src_dir),
            (DST_DIR, dst_dir),
            (DST, dst),
            (BELOW, below),
        ] {
            for h in handles {
                let out = close_answering(&core, key, h);
                if key == DST && row.target_after.name_gone {
                    assert!(!out.remove_name, "{rule}: target name is already gone");
                }
            }
        }
        assert!(core.is_empty(), "{rule}: registry not empty at the end");
    }
}

#[test]
fn exchange_registers_implicit_delete_on_both() {
    let core = Core::new();
    let mut request = rename_req(Some(RenameTarget {
        key: DST,
        is_dir: true,
        facts: READONLY,
    }));
    request.exchange = true;
    let ticket = core.begin_rename(&request).unwrap();
    assert_eq!(implicit_deletes_of(&core, SRC), 1);
    assert_eq!(implicit_deletes_of(&core, DST), 1);
    // While the rename runs, both files refuse opens that do not share delete.
    let s = core.opens_of(SRC)[0].handle;
    let t = core.opens_of(DST)[0].handle;
    refused(core.open(SRC, req(R, RW), PLAIN), "sharing_violation", &[s]);
    refused(core.open(DST, req(R, RW), PLAIN), "sharing_violation", &[t]);
    assert!(core.finish_rename(ticket, true).is_empty());
    assert_eq!(core.delete_state(DST), DeleteState::default());
    assert!(core.is_empty());
}

#[test]
fn posix_replace_of_open_target_then_last_close() {
    let core = Core::new();
    let h = core.open(DST, req(R, ALL), PLAIN).unwrap();
    let mut request = rename_req(Some(RenameTarget {
        key: DST,
        is_dir: false,
        facts: PLAIN,
    }));
    request.mode = DeleteMode::Posix;
    let ticket = core.begin_rename(&request).unwrap();
    assert!(core.finish_rename(ticket, true).is_empty());
    assert_eq!(core.delete_state(DST), GONE_PENDING);
    assert_eq!(ids(&core.opens_of(DST)), vec![h], "the handle stays valid");
    assert_new_opens_delete_pending(&core, DST);
    assert_eq!(core.close(DST, h).unwrap(), CloseOutcome::default());
    assert!(core.is_empty());
}

#[test]
fn failed_posix_replace_leaves_target_untouched() {
    let core = Core::new();
    let h = core.open(DST, req(R, ALL), PLAIN).unwrap();
    let before = view(&core);
    let mut request = rename_req(Some(RenameTarget {
        key: DST,
        is_dir: false,
        facts: PLAIN,
    }));
    request.mode = DeleteMode::Posix;
    let ticket = core.begin_rename(&request).unwrap();
    assert!(core.finish_rename(ticket, false).is_empty());
    assert_eq!(view(&core), before);
    core.close(DST, h).unwrap();
    assert!(core.is_empty());
}

#[test]
fn rename_of_delete_pending_source_is_delete_pending() {
    let core = Core::new();
    let h = core.open(SRC, req(D, ALL), PLAIN).unwrap();
    core.set_disposition(SRC, h, true, PLAIN).unwrap();
    let before = view(&core);
    refused(core.begin_rename(&rename_req(None)), "delete_pending", &[]);
    assert_eq!(view(&core), before);
    assert!(close_answering(&core, SRC, h).remove_name);
    assert!(core.is_empty());
}

#[test]
fn rename_onto_own_hard_link_ignores_target_rules() {
    let core = Core::new();
    let h = core.open(SRC, req(R, ALL), PLAIN).unwrap();
    let request = rename_req(Some(RenameTarget {
        key: SRC,
        is_dir: false,
        facts: READONLY,
    }));
    let ticket = core.begin_rename(&request).unwrap();
    assert!(core.finish_rename(ticket, true).is_empty());
    assert_eq!(core.delete_state(SRC), DeleteState::default());
    core.close(SRC, h).unwrap();
    assert!(core.is_empty());
}

#[test]
fn rename_implicit_open_blocks_new_opens_not_sharing_delete_while_it_runs() {
    let core = Core::new();
    let ticket = core.begin_rename(&rename_req(None)).unwrap();
    let i = core.opens_of(SRC)[0].handle;
    refused(core.open(SRC, req(R, R), PLAIN), "sharing_violation", &[i]);
    let h = core.open(SRC, req(R, ALL), PLAIN).unwrap();
    assert!(core.finish_rename(ticket, true).is_empty());
    assert_eq!(
        ids(&core.opens_of(SRC)),
        vec![h],
        "open handles follow the file"
    );
    core.close(SRC, h).unwrap();
    assert!(core.is_empty());
}

/// A mapped view's page I/O is never refused by a byte-range lock (LockFileEx, Remarks:
/// "Locking a region of a file does not prevent reading from a mapped file view"), while
/// the same range read or written through another handle is a lock conflict.
#[test]
fn mapped_view_io_ignores_locks_that_refuse_handle_io() {
    let core = Core::new();
    let both = Classes::READ_WRITE;
    let holder = core.open(FILE, req(both, both), PLAIN).unwrap();
    let other = core.open(FILE, req(both, both), PLAIN).unwrap();
    for exclusive in [true, false] {
        let lock = LockRequest {
            start: 120,
            len: 8,
            exclusive,
            owner: LockOwner::Handle(holder),
            via: holder,
            windows: true,
            taker: owner(),
        };
        core.lock(FILE, &lock).unwrap();
        let through_other = IoOrigin::Handle(IoRequester {
            lock_owner: None,
            via: other,
            pid: 43,
        });
        assert!(matches!(
            core.check_io(FILE, through_other, 0, 4096, true),
            Err(SemanticError::LockConflict { .. })
        ));
        for write in [false, true] {
            assert!(
                core.check_io(FILE, IoOrigin::MappedView, 0, 4096, write)
                    .is_ok()
            );
        }
        core.unlock(FILE, lock.owner, lock.start, lock.len, true)
            .unwrap();
    }
}
