//! Share modes, delete pending and the rename rules through a real mount, with
//! unmodified programs (SEMANTICS.md §1–3, §7). Every test first proves the holder
//! really holds the file open.
#![cfg(target_os = "linux")] // Mounts through Linux FUSE (/dev/fuse, fusermount3, /proc).

mod common;

/// These tests pin SEMANTICS.md's rules as the `windows` profile gives them: the MSVC C
/// runtime's share set for every program and EBUSY for a sharing violation (§7).
/// tests/runtimes.rs pins the default, `auto` (each program gets its runtime's row).
const WINDOWS: &[&str] = &["--profile", "windows"];

use std::fs;
use std::path::Path;
use std::process::Command;

use common::{Holder, Mount, sh, sh_ok, stderr};

/// Runs a Python snippet whose last action may raise OSError; prints the errno name or
/// "OK". The snippet can use `p(rel)` for paths inside the mount.
fn py(mnt: &Path, code: &str) -> String {
    let program = format!(
        "import os, errno, sys\nroot = {:?}\ndef p(r): return os.path.join(root, r)\ntry:\n{}\n    print('OK')\nexcept OSError as e:\n    print(errno.errorcode.get(e.errno, str(e.errno)))\n",
        mnt.to_str().unwrap(),
        code.lines()
            .map(|l| format!("    {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let out = Command::new("python3")
        .arg("-c")
        .arg(&program)
        .output()
        .unwrap();
    assert!(out.status.success(), "python failed: {}", stderr(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn setup_files(b: &Path) {
    fs::write(b.join("f"), b"content\n").unwrap();
    fs::create_dir(b.join("dir")).unwrap();
    fs::write(b.join("dir/g"), b"g\n").unwrap();
}

#[test]
fn windows_profile_open_file_cannot_be_deleted_or_renamed() {
    require_fuse!();
    let m = Mount::with_setup(WINDOWS, setup_files);
    let holder = Holder::open(&m.path("f"), "r");
    let rm = sh(&m.mnt, "rm f");
    assert!(!rm.status.success());
    assert!(
        stderr(&rm).contains("Device or resource busy"),
        "{}",
        stderr(&rm)
    );
    let mv = sh(&m.mnt, "mv f g");
    assert!(
        stderr(&mv).contains("Device or resource busy"),
        "{}",
        stderr(&mv)
    );
    assert!(m.backing_path("f").exists());
    // Reading and writing alongside the holder is fine: it shares read and write.
    sh_ok(&m.mnt, "cat f >/dev/null && echo more >> f");
    holder.release();
    sh_ok(&m.mnt, "rm f");
    assert!(!m.backing_path("f").exists());
}

#[test]
fn rm_r_fails_while_a_file_below_is_held() {
    require_fuse!();
    let m = Mount::with_setup(WINDOWS, setup_files);
    let holder = Holder::open(&m.path("dir/g"), "r");
    let rm = sh(&m.mnt, "rm -r dir");
    assert!(!rm.status.success());
    assert!(
        stderr(&rm).contains("Device or resource busy"),
        "{}",
        stderr(&rm)
    );
    assert!(m.backing_path("dir/g").exists());
    holder.release();
    sh_ok(&m.mnt, "rm -r dir");
    assert!(!m.backing_path("dir").exists());
}

#[test]
fn renaming_a_directory_with_an_open_file_below_is_access_denied() {
    require_fuse!();
    let m = Mount::with_setup(WINDOWS, setup_files);
    let holder = Holder::open(&m.path("dir/g"), "r");
    assert_eq!(py(&m.mnt, "os.rename(p('dir'), p('dir2'))"), "EACCES");
    holder.release();
    assert_eq!(py(&m.mnt, "os.rename(p('dir'), p('dir2'))"), "OK");
    assert!(m.backing_path("dir2/g").exists());
}

#[test]
fn strict_profile_writers_share_nothing_readers_share_read() {
    require_fuse!();
    let m = Mount::with_setup(&["--profile", "strict"], setup_files);
    let writer = Holder::open(&m.path("f"), "a");
    assert_eq!(py(&m.mnt, "open(p('f'), 'a')"), "EBUSY");
    assert_eq!(py(&m.mnt, "open(p('f'), 'r')"), "EBUSY");
    writer.release();
    let reader = Holder::open(&m.path("f"), "r");
    assert_eq!(py(&m.mnt, "open(p('f'), 'r').read()"), "OK");
    assert_eq!(py(&m.mnt, "open(p('f'), 'a')"), "EBUSY");
    // truncate(2) by path is an implicit write open: refused while a reader shares
    // only read.
    assert_eq!(py(&m.mnt, "os.truncate(p('f'), 0)"), "EBUSY");
    reader.release();
    assert_eq!(py(&m.mnt, "os.truncate(p('f'), 0)"), "OK");
}

#[test]
fn posix_profile_lets_everything_through() {
    require_fuse!();
    let m = Mount::with_setup(&["--profile", "posix"], setup_files);
    let holder = Holder::python(&format!(
        "import sys\nf = open({:?})\nprint('held', flush=True)\nsys.stdin.readline()\nprint(f.read(), flush=True)",
        m.path("f").to_str().unwrap()
    ));
    sh_ok(&m.mnt, "mv f f2 && rm f2 && rm -r dir");
    // POSIX delete: the name is gone at once, from the mount and the backing dir.
    assert!(!m.path("f2").exists() && !m.backing_path("f2").exists());
    holder.release();
}

#[test]
fn classic_delete_pending_keeps_the_name_until_the_last_close() {
    require_fuse!();
    // posix profile shares delete; classic delete keeps the name while pending.
    let m = Mount::with_setup(&["--profile", "posix", "--delete", "classic"], setup_files);
    let holder = Holder::python(&format!(
        "import os, sys\nf = open({:?})\nprint('held', flush=True)\nsys.stdin.readline()\nprint(f.read().strip(), os.fstat(f.fileno()).st_size, flush=True)",
        m.path("f").to_str().unwrap()
    ));
    sh_ok(&m.mnt, "rm f");
    // Still listed, but every path query and new open says access denied.
    let listing = sh_ok(&m.mnt, "ls");
    assert!(listing.lines().any(|l| l == "f"), "{listing}");
    assert_eq!(py(&m.mnt, "os.stat(p('f'))"), "EACCES");
    assert_eq!(py(&m.mnt, "open(p('f'))"), "EACCES");
    assert_eq!(py(&m.mnt, "open(p('f'), 'w')"), "EACCES");
    assert!(m.backing_path("f").exists());
    // A directory whose only child is pending is not empty.
    fs::create_dir(m.path("d2")).unwrap();
    let holder2 = Holder::open(&m.path("d2/x"), "w");
    sh_ok(&m.mnt, "rm d2/x");
    assert_eq!(py(&m.mnt, "os.rmdir(p('d2'))"), "ENOTEMPTY");
    holder2.release();
    // The holder keeps reading through its handle, fstat included.
    let mut holder = holder;
    holder.send_line();
    assert_eq!(holder.read_line(), "content 8");
    holder.release();
    wait_gone(&m.backing_path("f"));
    assert!(!sh_ok(&m.mnt, "ls").lines().any(|l| l == "f"));
    wait_gone(&m.backing_path("d2/x"));
    assert_eq!(py(&m.mnt, "os.rmdir(p('d2'))"), "OK");
}

fn wait_gone(p: &Path) {
    for _ in 0..200 {
        if !p.exists() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("{} still exists", p.display());
}

#[test]
fn posix_delete_mode_still_needs_share_delete() {
    require_fuse!();
    let m = Mount::with_setup(&["--profile", "windows", "--delete", "posix"], setup_files);
    let holder = Holder::open(&m.path("f"), "r");
    assert_eq!(py(&m.mnt, "os.unlink(p('f'))"), "EBUSY");
    holder.release();
    assert_eq!(py(&m.mnt, "os.unlink(p('f'))"), "OK");
}

#[test]
fn rename_onto_an_open_target_is_access_denied() {
    require_fuse!();
    let m = Mount::with_setup(&["--profile", "posix", "--delete", "classic"], |b| {
        setup_files(b);
        fs::write(b.join("target"), b"t").unwrap();
    });
    let holder = Holder::open(&m.path("target"), "r");
    assert_eq!(py(&m.mnt, "os.rename(p('f'), p('target'))"), "EACCES");
    holder.release();
    assert_eq!(py(&m.mnt, "os.rename(p('f'), p('target'))"), "OK");
    assert_eq!(fs::read(m.backing_path("target")).unwrap(), b"content\n");
}

#[test]
fn a_killed_holder_releases_its_files() {
    require_fuse!();
    let m = Mount::with_setup(WINDOWS, setup_files);
    let holder = Holder::open(&m.path("f"), "r");
    assert_eq!(py(&m.mnt, "os.unlink(p('f'))"), "EBUSY");
    holder.kill();
    assert_eq!(py(&m.mnt, "os.unlink(p('f'))"), "OK");
}

#[test]
fn directory_listing_handles_do_not_block_rm_r() {
    require_fuse!();
    let m = Mount::with_setup(WINDOWS, setup_files);
    let holder = Holder::python(&format!(
        "import os\nfd = os.open({:?}, os.O_RDONLY | os.O_DIRECTORY)\nos.listdir(fd)\nprint('held', flush=True)\nimport sys; sys.stdin.read()",
        m.path("dir").to_str().unwrap()
    ));
    sh_ok(&m.mnt, "rm -r dir");
    holder.release();
    wait_gone(&m.backing_path("dir"));
}

#[test]
fn tail_f_holding_a_log_blocks_its_rotation() {
    require_fuse!();
    let m = Mount::with_setup(WINDOWS, |b| {
        fs::write(b.join("app.log"), b"line\n").unwrap()
    });
    let mut tail = Command::new("tail")
        .arg("-f")
        .arg(m.path("app.log"))
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Prove tail holds the log open before rotating.
    let fd_dir = format!("/proc/{}/fd", tail.id());
    let mut held = false;
    for _ in 0..200 {
        held = fs::read_dir(&fd_dir)
            .map(|d| {
                d.flatten()
                    .any(|e| fs::read_link(e.path()).is_ok_and(|t| t == m.path("app.log")))
            })
            .unwrap_or(false);
        if held {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(held, "tail never opened the log");
    let mv = sh(&m.mnt, "mv app.log app.log.1");
    let _ = tail.kill();
    let _ = tail.wait();
    assert!(
        stderr(&mv).contains("Device or resource busy"),
        "{}",
        stderr(&mv)
    );
    sh_ok(&m.mnt, "mv app.log app.log.1");
}

#[test]
fn git_checkout_fails_while_an_editor_holds_a_tracked_file() {
    require_fuse!();
    let m = Mount::new(WINDOWS);
    sh_ok(
        &m.mnt,
        "git init -q -b main repo && cd repo && git config user.email t@t && git config user.name t \
         && echo one > a.txt && git add a.txt && git commit -qm one \
         && git checkout -qb other && echo two > a.txt && git commit -qam two && git checkout -q main",
    );
    let holder = Holder::open(&m.path("repo/a.txt"), "r");
    let out = sh(&m.path("repo"), "git checkout other");
    let err = stderr(&out);
    assert!(err.contains("busy") || !out.status.success(), "{err}");
    assert_eq!(
        fs::read_to_string(m.backing_path("repo/a.txt")).unwrap(),
        "one\n"
    );
    holder.release();
    sh_ok(&m.path("repo"), "git checkout -q -f other");
    assert_eq!(fs::read_to_string(m.path("repo/a.txt")).unwrap(), "two\n");
}

#[test]
fn unknown_profile_is_refused_at_mount_time_with_the_list() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(common::bin())
        .args(["mount", "--profile", "nope"])
        .arg(dir.path())
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("windows, strict, posix"),
        "{}",
        stderr(&out)
    );
}
