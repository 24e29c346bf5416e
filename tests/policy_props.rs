//! Property tests of policy files: the parser never panics on any input and places every
//! error inside the file; decisions follow first-match-wins and the settings precedence
//! of docs/policy.md, checked against an independent model; the fast path agrees with
//! `explain`; a reload swaps whole policies only.

use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;

use globset::GlobBuilder;
use proptest::prelude::*;
use sharefs::core::{Classes, DeleteMode};
use sharefs::policy::file::{MountBase, parse};
use sharefs::policy::{
    ErrnoDialect, Identity, OpenKinds, PolicyHandle, Process, Profile, Query, Runtime,
};

fn load(text: &str) -> Result<sharefs::policy::Policy, sharefs::policy::PolicyError> {
    parse(text, Path::new("p.toml"), MountBase::default())
}

// ---------------------------------------------------------------------------------------
// The parser on arbitrary input.

const KEYS: &[&str] = &[
    "name",
    "path",
    "comm",
    "exe",
    "cmdline",
    "uid",
    "gid",
    "user",
    "group",
    "open",
    "profile",
    "share",
    "write_through",
    "no_buffering",
    "atomic",
    "delete",
    "sharing_violation_errno",
    "backup",
    "base",
    "shares",
    "default",
    "version",
    "bogus",
];
const VALUES: &[&str] = &[
    "\"logs/**\"",
    "[\"a\", \"b[\"]",
    "[]",
    "true",
    "false",
    "0",
    "-1",
    "4294967296",
    "\"strict\"",
    "\"mine\"",
    "\"read,write\"",
    "\"none\"",
    "\"EACCES\"",
    "\"posix\"",
    "[1, 2]",
    "[{ access = \"write\", share = \"read\" }]",
    "\"root\"",
    "\"no-such-user-q\"",
    "\"\"",
    "\"é/**\"",
    "{ a = 1 }",
    "1.5",
    "\"logs/\"",
    "[\"read\", \"write\"]",
    "\"exec\"",
];
const HEADERS: &[&str] = &[
    "[[rule]]",
    "[profiles.mine]",
    "[profiles.windows]",
    "[rule]",
    "[[rule",
    "",
];

fn toml_line() -> impl Strategy<Value = String> {
    prop_oneof![
        (0..HEADERS.len()).prop_map(|i| HEADERS[i].to_string()),
        (0..KEYS.len(), 0..VALUES.len()).prop_map(|(k, v)| format!("{} = {}", KEYS[k], VALUES[v])),
        ".{0,30}",
    ]
}

fn check_error_place(text: &str, e: &sharefs::policy::PolicyError) {
    let lines = text.split('\n').count();
    if let Some(l) = e.line {
        assert!(l >= 1 && l <= lines, "line {l} of {lines}: {e}");
    }
    if let Some(c) = e.column {
        assert!(c >= 1, "{e}");
    }
    assert!(e.to_string().starts_with("p.toml"), "{e}");
    assert!(!e.message.is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parser_never_panics_on_arbitrary_strings(s in "\\PC*") {
        if let Err(e) = load(&s) {
            check_error_place(&s, &e);
        }
    }

    #[test]
    fn parser_never_panics_on_arbitrary_bytes_as_text(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let s = String::from_utf8_lossy(&bytes);
        if let Err(e) = load(&s) {
            check_error_place(&s, &e);
        }
    }

    #[test]
    fn parser_never_panics_on_policy_shaped_text(lines in proptest::collection::vec(toml_line(), 0..12)) {
        let s = lines.join("\n");
        match load(&s) {
            Ok(p) => {
                // Whatever it accepted decides without panicking.
                let q = Query {
                    path: "logs/a", kinds: OpenKinds::READ, access: Classes::READ, is_dir: false,
                    uid: 0, gid: 0, identity: Identity::Unneeded,
                };
                let _ = p.decide(&q);
                let _ = p.explain(&q);
            }
            Err(e) => check_error_place(&s, &e),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Matching and precedence against a model.

const PATHS: &[&str] = &[
    "logs/**",
    "**/*.log",
    "src/*",
    "a/b",
    "*.txt",
    "{a,b}/**",
    "data/[0-9]*",
    "/x.txt",
];
const COMMS: &[&str] = &["cat", "python3*", "ld*", "*sh"];
const EXES: &[&str] = &["python3*", "/usr/bin/*", "**/node", "cat"];
const CMDLINES: &[&str] = &["*pytest*", "* -q*"];
const PROFILES: &[&str] = &["windows", "strict", "posix", "custom"];
const CLASS_SETS: &[(&str, Classes)] = &[
    ("none", Classes::NONE),
    ("read", Classes::READ),
    ("read,write", Classes::READ_WRITE),
    ("read,delete", Classes::from_bits(5)),
    ("all", Classes::ALL),
];
const KIND_NAMES: [&str; 4] = ["read", "write", "create", "delete"];

#[derive(Clone, Debug)]
struct RuleSpec {
    path: Option<Vec<usize>>,
    comm: Option<Vec<usize>>,
    exe: Option<Vec<usize>>,
    cmdline: Option<Vec<usize>>,
    uid: Option<Vec<u32>>,
    gid: Option<Vec<u32>>,
    open: Option<u8>,
    action: Action,
    delete: Option<bool>,
    errno: Option<bool>,
    write_through: Option<bool>,
    backup: bool,
}

#[derive(Clone, Debug)]
enum Action {
    Profile(usize),
    Share(usize),
    None,
}

fn picks(n: usize) -> impl Strategy<Value = Option<Vec<usize>>> {
    proptest::option::weighted(0.35, proptest::collection::vec(0..n, 1..3))
}

fn rule_spec() -> impl Strategy<Value = RuleSpec> {
    (
        (
            picks(PATHS.len()),
            picks(COMMS.len()),
            picks(EXES.len()),
            picks(CMDLINES.len()),
        ),
        (
            proptest::option::weighted(0.3, proptest::collection::vec(0u32..3, 1..3)),
            proptest::option::weighted(0.3, proptest::collection::vec(0u32..3, 1..3)),
            proptest::option::weighted(0.4, 1u8..16),
        ),
        prop_oneof![
            (0..PROFILES.len()).prop_map(Action::Profile),
            (0..CLASS_SETS.len()).prop_map(Action::Share),
            Just(Action::None)
        ],
        (
            proptest::option::of(any::<bool>()),
            proptest::option::of(any::<bool>()),
            proptest::option::of(any::<bool>()),
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                (path, comm, exe, cmdline),
                (uid, gid, open),
                action,
                (delete, errno, wt, backup),
            )| {
                let mut r = RuleSpec {
                    path,
                    comm,
                    exe,
                    cmdline,
                    uid,
                    gid,
                    open,
                    action,
                    delete,
                    errno,
                    write_through: wt,
                    backup,
                };
                // Backup never with write/create/delete kinds (the parser refuses it).
                if r.open.is_some_and(|k| k & !1 != 0) {
                    r.backup = false;
                }
                // A rule must set something.
                if matches!(r.action, Action::None)
                    && r.delete.is_none()
                    && r.errno.is_none()
                    && r.write_through.is_none()
                    && !r.backup
                {
                    r.write_through = Some(false);
                }
                r
            },
        )
}

fn list(idx: &[usize], from: &[&str]) -> String {
    let items: Vec<String> = idx.iter().map(|i| format!("{:?}", from[*i])).collect();
    format!("[{}]", items.join(", "))
}

fn render(default: usize, mount_delete: Option<bool>, rules: &[RuleSpec]) -> String {
    let _ = mount_delete;
    let mut s = format!(
        "default = \"{}\"\n\n[profiles.custom]\nbase = \"strict\"\nshares = [{{ access = \"write\", share = \"read,delete\" }}, {{ access = \"read\", share = \"all\" }}]\ndelete = \"posix\"\nsharing_violation_errno = \"EACCES\"\n",
        PROFILES[default]
    );
    for r in rules {
        s.push_str("\n[[rule]]\n");
        if let Some(p) = &r.path {
            s.push_str(&format!("path = {}\n", list(p, PATHS)));
        }
        if let Some(p) = &r.comm {
            s.push_str(&format!("comm = {}\n", list(p, COMMS)));
        }
        if let Some(p) = &r.exe {
            s.push_str(&format!("exe = {}\n", list(p, EXES)));
        }
        if let Some(p) = &r.cmdline {
            s.push_str(&format!("cmdline = {}\n", list(p, CMDLINES)));
        }
        if let Some(u) = &r.uid {
            s.push_str(&format!("uid = {u:?}\n"));
        }
        if let Some(g) = &r.gid {
            s.push_str(&format!("gid = {g:?}\n"));
        }
        if let Some(k) = r.open {
            let names: Vec<String> = (0..4)
                .filter(|b| k & (1 << b) != 0)
                .map(|b| format!("{:?}", KIND_NAMES[b]))
                .collect();
            s.push_str(&format!("open = [{}]\n", names.join(", ")));
        }
        match r.action {
            Action::Profile(p) => s.push_str(&format!("profile = \"{}\"\n", PROFILES[p])),
            Action::Share(c) => s.push_str(&format!("share = \"{}\"\n", CLASS_SETS[c].0)),
            Action::None => {}
        }
        if let Some(d) = r.delete {
            s.push_str(&format!(
                "delete = \"{}\"\n",
                if d { "posix" } else { "classic" }
            ));
        }
        if let Some(e) = r.errno {
            s.push_str(&format!(
                "sharing_violation_errno = \"{}\"\n",
                if e { "EACCES" } else { "EBUSY" }
            ));
        }
        if let Some(w) = r.write_through {
            s.push_str(&format!("write_through = {w}\n"));
        }
        if r.backup {
            s.push_str("backup = true\n");
        }
    }
    s
}

/// (comm, exe, cmdline, supplementary groups) by index into QCOMMS, QEXES, QCMDS.
type ProcessSpec = (usize, Option<usize>, Option<usize>, Vec<u32>);

#[derive(Clone, Debug)]
struct QuerySpec {
    path: &'static str,
    process: Option<ProcessSpec>,
    exited: bool,
    uid: u32,
    gid: u32,
    kinds: u8,
    access: u8,
    is_dir: bool,
}

const QPATHS: &[&str] = &[
    "logs/a.log",
    "logs/x/y.log",
    "src/main.c",
    "src/x/main.c",
    "a/b",
    "b/c/d.txt",
    "x.txt",
    "data/1.bin",
    "data/x",
    "",
    "deep/er/file.log",
];
const QCOMMS: &[&str] = &["cat", "python3.12", "ld.lld", "bash", "node"];
const QEXES: &[&str] = &[
    "/usr/bin/python3.12",
    "/usr/bin/node",
    "/bin/cat",
    "/opt/x/bin/node",
];
const QCMDS: &[&str] = &["python3 -m pytest -q", "cat x", "node a.js -q"];

fn query_spec() -> impl Strategy<Value = QuerySpec> {
    (
        0..QPATHS.len(),
        proptest::option::weighted(
            0.8,
            (
                0..QCOMMS.len(),
                proptest::option::of(0..QEXES.len()),
                proptest::option::of(0..QCMDS.len()),
                proptest::collection::vec(0u32..4, 0..3),
            ),
        ),
        proptest::bool::weighted(0.1),
        (
            0u32..3,
            0u32..3,
            0u8..16,
            0u8..8,
            proptest::bool::weighted(0.1),
        ),
    )
        .prop_map(
            |(p, process, exited, (uid, gid, kinds, access, is_dir))| QuerySpec {
                path: QPATHS[p],
                process,
                exited,
                uid,
                gid,
                kinds,
                access,
                is_dir,
            },
        )
}

fn glob_match(pattern: &str, literal_separator: bool, s: &str) -> bool {
    GlobBuilder::new(pattern)
        .literal_separator(literal_separator)
        .backslash_escape(true)
        .build()
        .unwrap()
        .compile_matcher()
        .is_match(s)
}

/// The model of one rule's matchers (docs/policy.md, "Rules").
fn model_matches(r: &RuleSpec, q: &QuerySpec, p: Option<&Process>) -> bool {
    if r.open.is_some_and(|k| k & q.kinds == 0) {
        return false;
    }
    if r.uid.as_ref().is_some_and(|u| !u.contains(&q.uid)) {
        return false;
    }
    if let Some(g) = &r.gid {
        let groups: &[u32] = p.map_or(&[], |p| &p.groups);
        if !g.contains(&q.gid) && !groups.iter().any(|x| g.contains(x)) {
            return false;
        }
    }
    if let Some(ps) = &r.path
        && !ps
            .iter()
            .any(|i| glob_match(PATHS[*i].trim_start_matches('/'), true, q.path))
    {
        return false;
    }
    let needs_process = r.comm.is_some() || r.exe.is_some() || r.cmdline.is_some();
    if needs_process && p.is_none() {
        return false;
    }
    if let (Some(cs), Some(p)) = (&r.comm, p)
        && !cs.iter().any(|i| glob_match(COMMS[*i], false, &p.comm))
    {
        return false;
    }
    if let (Some(es), Some(p)) = (&r.exe, p) {
        let Some(exe) = p.exe.as_deref() else {
            return false;
        };
        let ok = es.iter().any(|i| {
            let g = EXES[*i];
            if g.contains('/') {
                glob_match(g, true, exe)
            } else {
                glob_match(g, true, exe.rsplit('/').next().unwrap_or(exe))
            }
        });
        if !ok {
            return false;
        }
    }
    if let (Some(cs), Some(p)) = (&r.cmdline, p) {
        let Some(c) = p.cmdline.as_deref() else {
            return false;
        };
        if !cs.iter().any(|i| glob_match(CMDLINES[*i], false, c)) {
            return false;
        }
    }
    true
}

fn model_share(profile: usize, access: Classes, is_dir: bool) -> Classes {
    if is_dir {
        return Classes::ALL;
    }
    match PROFILES[profile] {
        "custom" if access.contains(Classes::WRITE) => Classes::from_bits(5),
        "custom" if access.contains(Classes::READ) => Classes::ALL,
        "custom" => Profile::Strict.share_for(access, false, Runtime::C),
        name => name
            .parse::<Profile>()
            .unwrap()
            .share_for(access, false, Runtime::C),
    }
}

/// Many rules, each with a path glob and a uid (so the first match lands anywhere,
/// across the fast path's 64-rule words).
fn many_rules() -> impl Strategy<Value = Vec<RuleSpec>> {
    proptest::collection::vec((rule_spec(), 0..PATHS.len(), 0u32..6), 60..260).prop_map(|v| {
        v.into_iter()
            .map(|(mut r, p, u)| {
                r.path.get_or_insert_with(Vec::new).push(p);
                r.uid.get_or_insert_with(Vec::new).push(u);
                r
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(60))]

    #[test]
    fn first_match_wins_across_many_rules(
        default in 0..PROFILES.len(),
        rules in many_rules(),
        queries in proptest::collection::vec(query_spec(), 1..12),
        mount_delete in proptest::option::of(any::<bool>()),
    ) {
        check_policy(default, rules, queries, mount_delete)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn first_match_wins_and_settings_follow_precedence(
        default in 0..PROFILES.len(),
        rules in proptest::collection::vec(rule_spec(), 0..8),
        queries in proptest::collection::vec(query_spec(), 1..8),
        mount_delete in proptest::option::of(any::<bool>()),
    ) {
        check_policy(default, rules, queries, mount_delete)?;
    }
}

/// The decision of every query against the model (docs/policy.md).
fn check_policy(
    default: usize,
    rules: Vec<RuleSpec>,
    queries: Vec<QuerySpec>,
    mount_delete: Option<bool>,
) -> Result<(), TestCaseError> {
    {
        let text = render(default, mount_delete, &rules);
        let base = MountBase {
            profile: Profile::Windows,
            delete: mount_delete.map(|p| {
                if p {
                    DeleteMode::Posix
                } else {
                    DeleteMode::Classic
                }
            }),
        };
        let policy =
            parse(&text, Path::new("p.toml"), base).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let uses_process = rules
            .iter()
            .any(|r| r.comm.is_some() || r.exe.is_some() || r.cmdline.is_some());
        for qs in &queries {
            let process = qs.process.as_ref().map(|(c, e, cmd, groups)| Process {
                pid: 7,
                comm: QCOMMS[*c].into(),
                exe: e.map(|e| QEXES[e].into()),
                cmdline: cmd.map(|c| QCMDS[c].into()),
                groups: Arc::from(groups.as_slice()),
                runtime: Runtime::C,
            });
            let identity = match (&process, qs.exited) {
                (_, true) => Identity::Exited,
                (Some(p), false) => Identity::Known(p),
                (None, false) => Identity::Unneeded,
            };
            let access = Classes::from_bits(qs.access);
            let q = Query {
                path: qs.path,
                kinds: OpenKinds::from_bits(qs.kinds),
                access,
                is_dir: qs.is_dir,
                uid: qs.uid,
                gid: qs.gid,
                identity,
            };
            let d = policy.decide(&q);
            // First match wins (an exited process gets the default when rules match on processes).
            let known = if qs.exited { None } else { process.as_ref() };
            let want_rule = if qs.exited && uses_process {
                None
            } else {
                rules.iter().position(|r| model_matches(r, qs, known))
            };
            prop_assert_eq!(
                d.rule,
                want_rule,
                "{}\n{}",
                text,
                policy.render_explanation(&q, &policy.explain(&q))
            );
            // explain agrees with the fast path, and every rule before the match says why not.
            let e = policy.explain(&q);
            prop_assert_eq!(e.decision, d);
            if let Some(i) = d.rule {
                prop_assert_eq!(e.steps.len(), i + 1);
                prop_assert!(e.steps[..i].iter().all(|(_, r)| r.is_err()));
            }
            // Settings: rule, then profile, then mount, then built-in defaults.
            let r = want_rule.map(|i| &rules[i]);
            let profile = match r.map(|r| &r.action) {
                Some(Action::Profile(p)) => *p,
                _ => default,
            };
            prop_assert_eq!(policy.profile_name(d.profile), PROFILES[profile]);
            let custom = PROFILES[profile] == "custom";
            let share = match r.map(|r| &r.action) {
                Some(Action::Share(_)) if qs.is_dir => Classes::ALL,
                Some(Action::Share(c)) => CLASS_SETS[*c].1,
                _ => model_share(profile, access, qs.is_dir),
            };
            prop_assert_eq!(d.share, share);
            let delete = r
                .and_then(|r| r.delete)
                .or(if custom { Some(true) } else { None })
                .or(mount_delete)
                .unwrap_or(PROFILES[profile] == "posix");
            prop_assert_eq!(d.delete == DeleteMode::Posix, delete);
            let eacces = r.and_then(|r| r.errno).unwrap_or(custom);
            prop_assert_eq!(d.errno == ErrnoDialect::Eacces, eacces);
            prop_assert_eq!(
                d.write_through,
                r.and_then(|r| r.write_through).unwrap_or(false)
            );
            let read_only = !access.is_empty() && Classes::READ.contains(access);
            prop_assert_eq!(d.backup, r.is_some_and(|r| r.backup) && read_only);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Reload: whole policies only.

#[test]
fn concurrent_decisions_during_reloads_see_whole_policies() {
    let a = "[[rule]]\npath = \"x/**\"\nprofile = \"strict\"\nsharing_violation_errno = \"EACCES\"\nwrite_through = true\n";
    let b = "[[rule]]\npath = \"x/**\"\nprofile = \"posix\"\nsharing_violation_errno = \"EBUSY\"\n";
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(a.as_bytes()).unwrap();
    let h = Arc::new(PolicyHandle::load(Profile::Windows, None, Some(f.path().into())).unwrap());
    let q = Query {
        path: "x/f",
        kinds: OpenKinds::WRITE,
        access: Classes::WRITE,
        is_dir: false,
        uid: 0,
        gid: 0,
        identity: Identity::Unneeded,
    };
    let da = load(a).unwrap().decide(&q);
    let db = load(b).unwrap().decide(&q);
    assert_ne!(
        (da.share, da.errno, da.write_through),
        (db.share, db.errno, db.write_through)
    );
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (h, stop) = (h.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let d = h.current().decide(&q);
                    let key = (d.share, d.errno, d.write_through, d.delete);
                    assert!(
                        key == (da.share, da.errno, da.write_through, da.delete)
                            || key == (db.share, db.errno, db.write_through, db.delete),
                        "a mixed decision: {d:?}"
                    );
                    n += 1;
                }
                n
            })
        })
        .collect();
    for i in 0..200 {
        std::fs::write(f.path(), if i % 2 == 0 { b } else { a }).unwrap();
        h.reload().unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let total: u64 = readers.into_iter().map(|t| t.join().unwrap()).sum();
    assert!(total > 0);
}
