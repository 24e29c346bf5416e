//! The lock table and the conflict log through a real mount (docs/lock-table.md).
#![cfg(target_os = "linux")] // Mounts through Linux FUSE (/dev/fuse, fusermount3, /proc).

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::{Holder, Mount, sh, sh_ok, stderr};

fn client_path() -> &'static str {
    concat!(env!("CARGO_MANIFEST_DIR"), "/clients/python")
}

fn rows(m: &Mount) -> Vec<serde_json::Value> {
    let text = fs::read_to_string(m.path(".sharefs/locks.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn conflicts(m: &Mount) -> Vec<serde_json::Value> {
    let text = fs::read_to_string(m.path(".sharefs/conflicts.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// A python3 holder that opens files with exact modes through the client and prints
/// "held" once they are all open.
fn holder(m: &Mount, opens: &[(&str, &str, &str)]) -> Holder {
    let mut program = format!(
        "import sys, os\nsys.path.insert(0, {:?})\nimport sharefs_client as sc\nfs = []\n",
        client_path()
    );
    for (path, access, share) in opens {
        program.push_str(&format!(
            "fs.append(sc.open_fd({:?}, os.O_RDONLY, access={access:?}, share={share:?}))\n",
            m.path(path).to_str().unwrap()
        ));
    }
    program.push_str("print('held', flush=True)\nsys.stdin.read()\n");
    Holder::python(&program)
}

fn setup(b: &Path) {
    fs::write(b.join("a"), b"a").unwrap();
    fs::create_dir(b.join("dir")).unwrap();
    fs::write(b.join("dir/b"), b"b").unwrap();
}

#[test]
fn table_shows_exactly_the_open_handles_and_follows_renames() {
    require_fuse!();
    let m = Mount::with_setup(&["--profile", "posix", "--delete", "classic"], setup);
    assert!(rows(&m).is_empty());
    let h = holder(
        &m,
        &[
            ("a", "read", "read,delete"),
            ("dir/b", "read,delete", "read,write,delete"),
        ],
    );
    let r = rows(&m);
    assert_eq!(r.len(), 2, "{r:#?}");
    let a = r.iter().find(|x| x["path"] == "a").expect("row for a");
    assert_eq!(a["kind"], "SHARE");
    assert_eq!(a["mode"], "access=r-- share=r-d");
    assert_eq!(a["pid"], h.pid());
    assert_eq!(a["comm"], "python3");
    assert_eq!(a["mandatory"], true);
    assert_eq!(a["start"], 0);
    assert!(a["end"].is_null());
    let b = r
        .iter()
        .find(|x| x["path"] == "dir/b")
        .expect("row for dir/b");
    assert_eq!(b["mode"], "access=r-d share=rwd");
    // The text form has the same rows, in the documented column order.
    let text = fs::read_to_string(m.path(".sharefs/locks")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    for (line, row) in lines.iter().zip(&r) {
        let cols: Vec<&str> = line.split(' ').collect();
        assert_eq!(cols[0], format!("{}:", row["row"]));
        assert_eq!(cols[1], "SHARE");
        assert_eq!(cols[2], "MANDATORY");
        assert_eq!(
            format!("{} {}", cols[3], cols[4]),
            row["mode"].as_str().unwrap()
        );
        assert_eq!(cols[5], row["pid"].to_string());
        assert_eq!(cols[6], "python3");
        assert_eq!(
            cols[8],
            format!("{}:{}", row["dev"].as_str().unwrap(), row["inode"])
        );
        assert_eq!((cols[9], cols[10]), ("0", "EOF"));
        assert!(
            cols[11].ends_with('Z') && cols[11].len() == 24,
            "{}",
            cols[11]
        );
        assert_eq!(cols[12], row["path"].as_str().unwrap());
    }
    // A rename of an open directory's parent is refused, but renaming the directory
    // holding nothing open works; the path column follows a rename of the file itself.
    fs::rename(m.path("a"), m.path("a2")).unwrap();
    assert!(
        rows(&m).iter().any(|x| x["path"] == "a2"),
        "{:#?}",
        rows(&m)
    );
    // Delete pending shows as a PENDING row.
    fs::remove_file(m.path("dir/b")).unwrap();
    let pending: Vec<_> = rows(&m)
        .into_iter()
        .filter(|x| x["kind"] == "PENDING")
        .collect();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0]["path"], "dir/b");
    assert_eq!(pending[0]["mode"], "DELETE");
    h.release();
    for _ in 0..100 {
        if rows(&m).is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(rows(&m).is_empty(), "{:#?}", rows(&m));
}

#[test]
fn rows_disappear_when_the_holder_is_killed() {
    require_fuse!();
    let m = Mount::with_setup(&[], setup);
    let h = Holder::open(&m.path("a"), "r");
    assert_eq!(rows(&m).len(), 1);
    h.kill();
    for _ in 0..100 {
        if rows(&m).is_empty() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("row left after kill: {:#?}", rows(&m));
}

#[test]
fn every_refusal_is_one_conflict_naming_both_parties() {
    require_fuse!();
    let m = Mount::with_setup(&["--profile", "posix", "--delete", "classic"], setup);
    let h = holder(
        &m,
        &[
            ("a", "read", "read"),
            ("dir/b", "read", "read,write,delete"),
        ],
    );
    let cases: &[(&str, &str, &str)] = &[
        ("os.open(p('a'), os.O_WRONLY)", "open", "sharing_violation"),
        ("os.unlink(p('a'))", "unlink", "sharing_violation"),
        ("os.rename(p('a'), p('c'))", "rename", "sharing_violation"),
        ("os.truncate(p('a'), 0)", "truncate", "sharing_violation"),
        ("os.rename(p('dir'), p('dir2'))", "rename", "access_denied"),
    ];
    let mut seen = 0;
    for (code, op, kind) in cases {
        let out = Command::new("python3")
            .arg("-c")
            .arg(format!(
                "import os\np = lambda r: os.path.join({:?}, r)\ntry:\n    {code}\n    print('OK')\nexcept OSError as e:\n    print(e.errno)\nprint(os.getpid())",
                m.mnt.to_str().unwrap()
            ))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let mut it = text.lines();
        let result = it.next().unwrap_or("");
        let pid: u64 = it.next().unwrap_or("0").parse().unwrap();
        assert_ne!(result, "OK", "{code} should be refused");
        let log = conflicts(&m);
        assert_eq!(
            log.len(),
            seen + 1,
            "exactly one conflict for {code}: {log:#?}"
        );
        seen += 1;
        let c = log.last().unwrap();
        assert_eq!(c["op"], *op, "{c:#}");
        assert_eq!(c["kind"], *kind, "{c:#}");
        assert_eq!(c["requester"]["pid"], pid, "{c:#}");
        let holders = c["holders"].as_array().unwrap();
        assert!(!holders.is_empty(), "{c:#}");
        assert!(holders.iter().all(|x| x["pid"] == h.pid()), "{c:#}");
    }
    // The text log and the stats agree.
    let text = fs::read_to_string(m.path(".sharefs/conflicts")).unwrap();
    assert_eq!(text.lines().count(), seen);
    assert!(
        text.lines()
            .all(|l| l.contains(&format!("held by pid={}", h.pid()))),
        "{text}"
    );
    let stats = fs::read_to_string(m.path(".sharefs/stats")).unwrap();
    assert!(stats.contains("conflicts.sharing_violation 4\n"), "{stats}");
    assert!(stats.contains("conflicts.access_denied 1\n"), "{stats}");
    assert!(
        stats.contains(&format!("conflicts.total {seen}\n")),
        "{stats}"
    );
    // The daemon's log has the structured event too.
    assert!(m.log().contains("sharefs::conflict"), "{}", m.log());
    h.release();
}

#[test]
fn names_cannot_forge_rows() {
    require_fuse!();
    let evil = "x\n2: SHARE MANDATORY access=rwd share=--- 1 init 0 00:00:1 0 EOF t y";
    let m = Mount::with_setup(&[], |b| {
        fs::write(b.join(evil), b"e").unwrap();
        use std::os::unix::ffi::OsStrExt;
        fs::write(
            b.join(std::ffi::OsStr::from_bytes(b"bad\xffname with space")),
            b"n",
        )
        .unwrap();
    });
    let h1 = Holder::open(&m.path(evil), "r");
    let h2 = Holder::python(&format!(
        "import os, sys\nfd = os.open(os.path.join({:?}.encode(), b'bad\\xffname with space'), os.O_RDONLY)\nprint('held', flush=True)\nsys.stdin.read()",
        m.mnt.to_str().unwrap()
    ));
    let text = fs::read_to_string(m.path(".sharefs/locks")).unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.contains("x\\0122:\\040SHARE"), "{text}");
    assert!(text.contains("bad\\377name\\040with\\040space"), "{text}");
    for line in text.lines() {
        assert_eq!(line.split(' ').count(), 13, "{line}");
    }
    h1.release();
    h2.release();
}

#[test]
fn snapshots_stay_well_formed_under_concurrent_opens() {
    require_fuse!();
    let m = Mount::with_setup(&[], |b| {
        for t in 0..8 {
            fs::write(b.join(format!("f{t}")), b"x").unwrap();
        }
    });
    let program = format!(
        "import os, threading, time\nroot = {:?}\nstop = time.time() + 2\ndef work(t):\n    while time.time() < stop:\n        fd = os.open(os.path.join(root, 'f%d' % t), os.O_RDONLY)\n        os.close(fd)\nts = [threading.Thread(target=work, args=(t,)) for t in range(8)]\n[t.start() for t in ts]\n[t.join() for t in ts]\n",
        m.mnt.to_str().unwrap()
    );
    let mut churn = Command::new("python3")
        .arg("-c")
        .arg(&program)
        .spawn()
        .unwrap();
    let mut snapshots = 0;
    while churn.try_wait().unwrap().is_none() {
        let r = rows(&m);
        let text = fs::read_to_string(m.path(".sharefs/locks")).unwrap();
        // Row numbers are 1..n and handles unique.
        let numbers: Vec<u64> = r.iter().map(|x| x["row"].as_u64().unwrap()).collect();
        assert_eq!(numbers, (1..=r.len() as u64).collect::<Vec<_>>());
        let mut handles: Vec<u64> = r.iter().map(|x| x["handle"].as_u64().unwrap()).collect();
        handles.sort();
        handles.dedup();
        assert_eq!(handles.len(), r.len());
        // Every row is one of the churned files. (A file may briefly show two rows: the
        // kernel sends RELEASE after close() returns, so a reopen can overtake it.)
        assert!(
            r.iter().all(|x| {
                let p = x["path"].as_str().unwrap();
                p.len() == 2 && p.starts_with('f')
            }),
            "{r:#?}"
        );
        assert!(text.lines().all(|l| l.split(' ').count() == 13), "{text}");
        snapshots += 1;
    }
    assert!(churn.wait().unwrap().success());
    assert!(snapshots > 5, "only {snapshots} snapshots");
}

#[test]
fn sharefs_locks_and_conflicts_commands() {
    require_fuse!();
    let m = Mount::with_setup(&[], setup);
    let h = Holder::open(&m.path("dir/b"), "r");
    let _ = sh(&m.mnt, "rm dir/b");
    let out = sh_ok(
        &m.mnt,
        &format!("{} locks {}", common::bin(), m.mnt.display()),
    );
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("ROW") && lines[0].contains("PATH"),
        "{out}"
    );
    assert!(
        lines[1].contains("python3") && lines[1].ends_with("dir/b"),
        "{out}"
    );
    let json = sh_ok(
        &m.mnt,
        &format!(
            "{} locks {} --json --path 'dir/*' --pid {}",
            common::bin(),
            m.mnt.display(),
            h.pid()
        ),
    );
    let v: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    assert_eq!(v.len(), 1);
    let none = sh_ok(
        &m.mnt,
        &format!(
            "{} locks {} --json --path 'other/*'",
            common::bin(),
            m.mnt.display()
        ),
    );
    assert_eq!(
        serde_json::from_str::<Vec<serde_json::Value>>(&none)
            .unwrap()
            .len(),
        0
    );
    let c = sh_ok(
        &m.mnt,
        &format!("{} conflicts {}", common::bin(), m.mnt.display()),
    );
    // `rm` is a C program: the CRT row of the runtime table reports a sharing
    // violation as EACCES (UCRT errno.cpp), and both parties' runtimes are named.
    assert!(
        c.contains("unlink sharing_violation EACCES dir/b by pid=")
            && c.contains("comm=rm runtime=c"),
        "{c}"
    );
    assert!(c.contains("comm=python3 runtime=python"), "{c}");
    assert!(
        lines[0].contains("RUNTIME") && lines[1].contains("python"),
        "{out}"
    );
    assert!(c.contains(&format!("held by pid={}", h.pid())), "{c}");
    let bad = Command::new(common::bin())
        .args(["locks", "/"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("sharefs mount"), "{}", stderr(&bad));
    h.release();
}
