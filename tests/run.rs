//! `sharefs run` through real (private) mounts: in-place mirroring, exit statuses, the
//! conflict report, signals, and nothing left mounted.
#![cfg(target_os = "linux")] // Mounts through Linux FUSE (/dev/fuse, fusermount3, /proc).

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use common::stderr;

fn run_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(common::bin())
        .arg("run")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("sharefs run")
}

fn host_sees_mount_on(dir: &Path) -> bool {
    common::mountinfo_line(dir).is_some()
}

fn project() -> tempfile::TempDir {
    let d = tempfile::Builder::new()
        .prefix("sharefs-run-")
        .tempdir()
        .unwrap();
    fs::create_dir_all(d.path().join("pkg/sub")).unwrap();
    fs::write(d.path().join("pkg/a.txt"), b"alpha\n").unwrap();
    fs::write(d.path().join("pkg/sub/b.bin"), vec![7u8; 10_000]).unwrap();
    d
}

fn listing(dir: &Path) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg("find . -path ./.sharefs -prune -o -print0 | sort -z | xargs -0 sha256sum 2>/dev/null; find . -path ./.sharefs -prune -o -printf '%p %y %m %s\\n' | sort")
        .current_dir(dir)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_clean_command_passes_in_place_and_leaves_its_files() {
    require_fuse!();
    let p = project();
    let before = listing(p.path());
    let report = p.path().join("../report.json");
    let script = format!(
        "grep -q ' {} .* - fuse.sharefs ' /proc/self/mountinfo || exit 9; \
         [ \"$(pwd)\" = \"{}\" ] || exit 8; \
         find . -path ./.sharefs -prune -o -print0 | sort -z | xargs -0 sha256sum 2>/dev/null; \
         find . -path ./.sharefs -prune -o -printf '%p %y %m %s\\n' | sort; \
         echo made > new.txt",
        p.path().display(),
        p.path().display()
    );
    let out = run_in(
        p.path(),
        &[
            "--report",
            report.to_str().unwrap(),
            "--",
            "sh",
            "-c",
            &script,
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Inside, the mount mirrors the directory exactly.
    assert_eq!(String::from_utf8_lossy(&out.stdout), before);
    assert!(
        stderr(&out).contains("no Windows conflicts"),
        "{}",
        stderr(&out)
    );
    let r: serde_json::Value = serde_json::from_str(&fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(r["total"], 0);
    // Written inside, present in the directory afterwards; no mount left.
    assert_eq!(
        fs::read_to_string(p.path().join("new.txt")).unwrap(),
        "made\n"
    );
    assert!(!host_sees_mount_on(p.path()));
    let _ = fs::remove_file(report);
}

#[test]
fn deleting_a_held_file_is_reported_with_both_parties() {
    require_fuse!();
    let p = project();
    let report = p.path().join("../report.xml");
    let program = "import os\nf = open('pkg/a.txt')\ntry:\n    os.remove('pkg/a.txt')\n    print('removed')\nexcept OSError as e:\n    print('errno', e.errno)\n";
    let out = run_in(
        p.path(),
        &[
            "--report",
            report.to_str().unwrap(),
            "--report-format",
            "junit",
            "--",
            "python3",
            "-c",
            program,
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    // CPython on Windows sees ERROR_SHARING_VIOLATION as PermissionError, errno EACCES
    // (PC/errmap.h; the `auto` profile's python row).
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "errno 13");
    let err = stderr(&out);
    assert!(err.contains("1 sharing violation on pkg/a.txt"), "{err}");
    assert!(
        err.contains("`python3` (pid")
            && err.contains("held by `python3`")
            && err.contains("runtime python)"),
        "{err}"
    );
    // The JUnit report parses and has one failing case for the group.
    let check = Command::new("python3")
        .arg("-c")
        .arg(format!(
            "import xml.etree.ElementTree as ET\nr = ET.parse({:?}).getroot()\nassert r.tag == 'testsuites'\ncases = r.findall('.//testcase')\nfails = r.findall('.//testcase/failure')\nprint(len(cases), len(fails), cases[0].get('name'), fails[0].get('type'))",
            report.to_str().unwrap()
        ))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&check.stdout).trim(),
        "1 1 pkg/a.txt sharing_violation",
        "{}",
        stderr(&check)
    );
    assert!(p.path().join("pkg/a.txt").exists());
    let _ = fs::remove_file(report);
}

#[test]
fn fail_on_conflict_turns_a_swallowed_error_into_a_failure() {
    require_fuse!();
    let p = project();
    let program = "import os\nf = open('pkg/a.txt')\ntry:\n    os.remove('pkg/a.txt')\nexcept OSError:\n    pass\n";
    let ok = run_in(p.path(), &["--", "python3", "-c", program]);
    assert_eq!(ok.status.code(), Some(0));
    let strict = run_in(
        p.path(),
        &["--fail-on-conflict", "--", "python3", "-c", program],
    );
    assert_eq!(strict.status.code(), Some(3), "{}", stderr(&strict));
    let clean = run_in(p.path(), &["--fail-on-conflict", "--", "true"]);
    assert_eq!(clean.status.code(), Some(0));
}

#[test]
fn a_command_killed_by_a_signal_gives_128_plus_n_and_no_mount() {
    require_fuse!();
    let p = project();
    let out = run_in(p.path(), &["--", "sh", "-c", "kill -TERM $$"]);
    assert_eq!(
        out.status.code(),
        Some(128 + libc::SIGTERM),
        "{}",
        stderr(&out)
    );
    let out = run_in(p.path(), &["--", "sh", "-c", "exit 7"]);
    assert_eq!(out.status.code(), Some(7));
    assert!(!host_sees_mount_on(p.path()));
}

#[test]
fn a_killed_sharefs_leaves_nothing_mounted_for_the_host() {
    require_fuse!();
    let p = project();
    let mut child = Command::new(common::bin())
        .args(["run", "--", "sleep", "30"])
        .current_dir(p.path())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    // Private: the host never sees the mount, before or after SIGKILL.
    assert!(!host_sees_mount_on(p.path()));
    let _ = child.kill();
    let _ = child.wait();
    std::thread::sleep(Duration::from_millis(100));
    assert!(!host_sees_mount_on(p.path()));
    // The directory is intact and usable.
    assert_eq!(
        fs::read_to_string(p.path().join("pkg/a.txt")).unwrap(),
        "alpha\n"
    );
    let _ = Command::new("pkill").args(["-f", "^sleep 30$"]).status();
}

#[test]
fn shared_mode_is_visible_to_the_host_while_running() {
    require_fuse!();
    let p = project();
    let dir = p.path().to_str().unwrap().to_string();
    let out = run_in(
        p.path(),
        &[
            "--shared",
            "--",
            "sh",
            "-c",
            &format!("grep -q ' {dir} .* - fuse.sharefs ' /proc/1/mountinfo && echo visible"),
        ],
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "visible",
        "{}",
        stderr(&out)
    );
    assert!(!host_sees_mount_on(p.path()));
}

/// `cargo new hello && sharefs run -- cargo build` works, as on Windows: rustc renames
/// its incremental `dep-graph.part.bin` while it holds it open, and rust-lld its output;
/// Rust's std and LLVM open files sharing delete (RUNTIMES.md), so both are legal.
/// Incremental and not, with no conflict reported.
#[test]
fn cargo_build_of_a_new_crate_succeeds_under_run() {
    require_fuse!();
    let Some(cargo) = common::tool("cargo") else {
        return;
    };
    let p = project();
    let made = Command::new(&cargo)
        .args(["new", "--vcs", "none", "hello"])
        .current_dir(p.path())
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", stderr(&made));
    let crate_dir = p.path().join("hello");
    for incremental in ["1", "0"] {
        let out = Command::new(common::bin())
            .args(["run", "--fail-on-conflict", "--"])
            .arg(&cargo)
            .args(["build", "--offline"])
            .current_dir(&crate_dir)
            .env("CARGO_INCREMENTAL", incremental)
            .env(
                "CARGO_TARGET_DIR",
                crate_dir.join(format!("target-{incremental}")),
            )
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "CARGO_INCREMENTAL={incremental}: {}",
            stderr(&out)
        );
        let binary = crate_dir.join(format!("target-{incremental}/debug/hello"));
        let ran = Command::new(&binary).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&ran.stdout), "Hello, world!\n");
    }
}

/// A git workflow (commits, a rebase, `git gc`, a clone) raises no conflict: git for
/// Windows deletes its read-only loose objects after clearing the attribute
/// (compat/mingw.c mingw_unlink), which the git row of the runtime table models.
/// Auto-maintenance runs in the foreground, as it does on Windows, where git's
/// `daemonize()` is not available (NO_POSIX_GOODIES); the Linux-only detached run still
/// reports a conflict on `objects/maintenance.lock` (noted for its own issue).
#[test]
fn a_git_workflow_reports_no_conflict_under_run() {
    require_fuse!();
    let p = project();
    let script = "set -e
        export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@t GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@t
        git init -q -b main repo && cd repo
        git config maintenance.autoDetach false && git config gc.autoDetach false
        for i in 1 2 3 4 5; do echo $i > f$i; git add f$i; git commit -qm c$i; done
        git checkout -qb side HEAD~2 && echo s > s && git add s && git commit -qm side
        git rebase -q main
        git gc -q --prune=now
        git fsck --no-progress
        cd .. && git clone -q repo copy && git -C copy log --oneline | wc -l";
    let out = run_in(p.path(), &["--fail-on-conflict", "--", "sh", "-c", script]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "6");
}
