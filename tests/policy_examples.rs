//! Every example policy is loaded and checked: each `examples/*.toml`, and each `toml`
//! block of docs/policy.md. `# check:` lines in them give a query and the decision it
//! must get (docs/policy.md, "Examples"); `toml malformed` blocks must be refused with
//! exactly the error shown in the `text` block after them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sharefs::core::Classes;
use sharefs::policy::file::{MountBase, parse};
use sharefs::policy::{Identity, OpenKinds, Policy, Process, Query, delete_mode_name};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Splits on whitespace; `key="a b"` keeps its quoted spaces (quotes dropped).
fn tokens(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in s.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Runs one `# check:` line against `policy`; panics naming `origin` on a mismatch.
fn check(policy: &Policy, line: &str, origin: &str) {
    let (query, expect) = line
        .split_once("=>")
        .unwrap_or_else(|| panic!("{origin}: check line without '=>': {line}"));
    let q = tokens(query);
    let path = q[0].clone();
    let mut kinds = OpenKinds::READ;
    let mut access = Classes::READ;
    let (mut comm, mut exe, mut cmdline) = (None, None, None);
    let (mut uid, mut gid, mut is_dir) = (0u32, 0u32, false);
    for t in &q[1..] {
        let (k, v) = t.split_once('=').unwrap_or((t.as_str(), ""));
        match k {
            "open" => {
                (kinds, access) = match v {
                    "read" => (OpenKinds::READ, Classes::READ),
                    "write" => (OpenKinds::WRITE, Classes::WRITE),
                    "create" => (OpenKinds::WRITE | OpenKinds::CREATE, Classes::WRITE),
                    "delete" => (OpenKinds::DELETE, Classes::DELETE),
                    other => panic!("{origin}: bad open={other}"),
                }
            }
            "comm" => comm = Some(v.to_string()),
            "exe" => exe = Some(v.to_string()),
            "cmdline" => cmdline = Some(v.to_string()),
            "uid" => uid = v.parse().expect("uid"),
            "gid" => gid = v.parse().expect("gid"),
            "dir" => is_dir = true,
            other => panic!("{origin}: unknown query key {other}"),
        }
    }
    let process = (comm.is_some() || exe.is_some() || cmdline.is_some()).then(|| Process {
        pid: 1,
        comm: comm
            .clone()
            .or_else(|| {
                exe.as_deref()
                    .map(|e| e.rsplit('/').next().unwrap_or(e).to_string())
            })
            .unwrap_or_default()
            .into(),
        exe: exe.clone().map(Into::into),
        cmdline: cmdline.map(Into::into),
        groups: Arc::from([]),
        // As `sharefs policy explain --exe` does: the runtime its name gives away.
        runtime: exe
            .as_deref()
            .and_then(sharefs::policy::Runtime::of_exe_name)
            .unwrap_or_default(),
    });
    let query = Query {
        path: &path,
        kinds,
        access,
        is_dir,
        uid,
        gid,
        identity: process.as_ref().map_or(Identity::Unneeded, Identity::Known),
    };
    let d = policy.decide(&query);
    // The fast path and the explanation agree.
    let e = policy.explain(&query);
    assert_eq!(e.decision, d, "{origin}: explain disagrees for {line}");
    let yes_no = |b: bool| if b { "yes" } else { "no" }.to_string();
    for t in tokens(expect) {
        let (k, want) = t
            .split_once('=')
            .unwrap_or_else(|| panic!("{origin}: bad expectation {t}"));
        let got = match k {
            "rule" => d
                .rule
                .map(|i| {
                    policy.rules()[i]
                        .name
                        .clone()
                        .unwrap_or_else(|| format!("#{}", i + 1))
                })
                .unwrap_or_else(|| "default".into()),
            "share" => d.share.rwd(),
            "delete" => delete_mode_name(d.delete).to_string(),
            "errno" => d.errno.name().to_string(),
            "backup" => yes_no(d.backup),
            "write_through" => yes_no(d.write_through),
            "no_buffering" => yes_no(d.no_buffering),
            "atomic" => yes_no(d.atomic),
            "profile" => policy.profile_name(d.profile).to_string(),
            other => panic!("{origin}: unknown expectation {other}"),
        };
        assert_eq!(
            got,
            want,
            "{origin}: `{line}`: {k}\n{}",
            policy.render_explanation(&query, &e)
        );
    }
}

/// Loads `text` and runs its `# check:` lines; returns how many ran.
fn load_and_check(text: &str, origin: &str) -> usize {
    let policy = parse(text, Path::new(origin), MountBase::default())
        .unwrap_or_else(|e| panic!("{origin} is refused: {e}"));
    let mut n = 0;
    for line in text.lines() {
        if let Some(c) = line.trim().strip_prefix("# check:") {
            check(&policy, c, origin);
            n += 1;
        }
    }
    n
}

#[test]
fn every_example_file_loads_and_its_checks_hold() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("examples"))
        .expect("examples/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "{files:?}");
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let n = load_and_check(&text, &f.display().to_string());
        assert!(n >= 3, "{}: only {n} check lines", f.display());
    }
}

#[test]
fn python_example_matches_interpreters_by_exe_and_chooses_eacces() {
    let text = std::fs::read_to_string(root().join("examples/python.toml")).unwrap();
    let p = parse(&text, Path::new("python.toml"), MountBase::default()).unwrap();
    let r = &p.rules()[0];
    assert!(r.exes.is_some() && r.comms.is_none() && r.paths.is_none());
    assert_eq!(
        r.settings.errno,
        Some(sharefs::policy::ErrnoDialect::Eacces)
    );
}

/// (info string, body, first line number) of each fenced block.
fn fenced_blocks(md: &str) -> Vec<(String, String, usize)> {
    let mut out = Vec::new();
    let mut cur: Option<(String, String, usize)> = None;
    for (i, line) in md.lines().enumerate() {
        match (&mut cur, line.strip_prefix("```")) {
            (None, Some(info)) => cur = Some((info.trim().to_string(), String::new(), i + 2)),
            (Some(_), Some(_)) => out.extend(cur.take()),
            (Some((_, body, _)), None) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, None) => {}
        }
    }
    out
}

#[test]
fn every_toml_block_of_the_docs_loads_and_its_checks_hold() {
    let md = std::fs::read_to_string(root().join("docs/policy.md")).unwrap();
    let blocks = fenced_blocks(&md);
    let mut good = 0;
    let mut checks = 0;
    let mut malformed = 0;
    for (i, (info, body, line)) in blocks.iter().enumerate() {
        let origin = format!("docs/policy.md:{line}");
        match info.as_str() {
            "toml" => {
                checks += load_and_check(body, &origin);
                good += 1;
            }
            "toml malformed" => {
                let err = parse(body, Path::new("policy.toml"), MountBase::default())
                    .err()
                    .unwrap_or_else(|| panic!("{origin}: a malformed example is accepted"));
                let (next_info, shown, _) = blocks
                    .get(i + 1)
                    .unwrap_or_else(|| panic!("{origin}: no text block after it"));
                assert_eq!(next_info, "text", "{origin}");
                assert_eq!(
                    shown.trim(),
                    err.to_string(),
                    "{origin}: the error shown differs"
                );
                malformed += 1;
            }
            _ => {}
        }
    }
    assert!(
        good >= 4 && checks >= 10 && malformed >= 3,
        "{good} {checks} {malformed}"
    );
}

#[test]
fn the_docs_list_every_example_file() {
    let md = std::fs::read_to_string(root().join("docs/policy.md")).unwrap();
    for e in std::fs::read_dir(root().join("examples")).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        if name.ends_with(".toml") {
            assert!(
                md.contains(&format!("examples/{name}")),
                "docs/policy.md misses {name}"
            );
        }
    }
}
