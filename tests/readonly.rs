//! The read-only attribute through a real mount (SEMANTICS.md §2–3; Wine
//! dlls/kernel32/tests/file.c: test_file_readonly_access, test_DeleteFileA): a regular
//! file with no write bit for anyone cannot be deleted, replaced, written or truncated,
//! not even by root; renaming it and changing its mode stay allowed.
#![cfg(target_os = "linux")] // Mounts through Linux FUSE (/dev/fuse, fusermount3, /proc).

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use common::{Mount, sh, sh_ok, stderr};

fn ro_file(b: &Path) {
    fs::write(b.join("ro.txt"), b"keep\n").unwrap();
    fs::set_permissions(b.join("ro.txt"), fs::Permissions::from_mode(0o444)).unwrap();
    fs::create_dir(b.join("rodir")).unwrap();
    fs::set_permissions(b.join("rodir"), fs::Permissions::from_mode(0o555)).unwrap();
}

fn py(mnt: &Path, code: &str) -> String {
    let program = format!(
        "import os, errno\np = lambda r: os.path.join({:?}, r)\ntry:\n    {code}\n    print('OK')\nexcept OSError as e:\n    print(errno.errorcode.get(e.errno, e.errno))",
        mnt.to_str().unwrap()
    );
    let out = Command::new("python3")
        .arg("-c")
        .arg(program)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn read_only_files_refuse_delete_replace_write_and_truncate_even_for_root() {
    require_fuse!();
    let m = Mount::with_setup(&[], ro_file);
    let rm = sh(&m.mnt, "rm -f ro.txt");
    assert!(!rm.status.success(), "rm -f must fail");
    assert!(stderr(&rm).contains("Permission denied"), "{}", stderr(&rm));
    assert_eq!(py(&m.mnt, "open(p('ro.txt'), 'a')"), "EACCES");
    assert_eq!(py(&m.mnt, "open(p('ro.txt'), 'w')"), "EACCES");
    assert_eq!(py(&m.mnt, "os.truncate(p('ro.txt'), 0)"), "EACCES");
    fs::write(m.path("other"), b"x").unwrap();
    assert_eq!(py(&m.mnt, "os.rename(p('other'), p('ro.txt'))"), "EACCES");
    assert_eq!(fs::read(m.backing_path("ro.txt")).unwrap(), b"keep\n");
    // Reading, renaming the file itself and `attrib -r` stay allowed.
    assert_eq!(py(&m.mnt, "open(p('ro.txt')).read()"), "OK");
    sh_ok(
        &m.mnt,
        "mv ro.txt ro2.txt && chmod u+w ro2.txt && rm ro2.txt",
    );
    assert!(!m.backing_path("ro2.txt").exists());
    // A directory's mode does not make it read-only.
    sh_ok(&m.mnt, "rmdir rodir");
}

#[test]
fn delete_on_close_and_disposition_on_a_read_only_file_are_access_denied() {
    require_fuse!();
    let m = Mount::with_setup(&[], ro_file);
    let client = concat!(env!("CARGO_MANIFEST_DIR"), "/clients/python");
    let out = Command::new("python3")
        .arg("-c")
        .arg(format!(
            r#"
import os, sys, errno
sys.path.insert(0, {client:?})
import sharefs_client as sc
p = os.path.join({root:?}, 'ro.txt')
try:
    sc.open_fd(p, os.O_RDONLY, access='read,delete', share='read,write,delete', delete_on_close=True)
    print('OK')
except OSError as e:
    print(errno.errorcode[e.errno])
fd = sc.open_fd(p, os.O_RDONLY, access='read,delete', share='read,write,delete')
try:
    sc.set_delete(fd)
    print('OK')
except OSError as e:
    print(errno.errorcode[e.errno])
"#,
            root = m.mnt.to_str().unwrap()
        ))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "EACCES\nEACCES\n",
        "{}",
        stderr(&out)
    );
    assert!(m.backing_path("ro.txt").exists());
}

#[test]
fn shutil_rmtree_of_a_git_checkout_fails_like_on_windows_and_onerror_fixes_it() {
    require_fuse!();
    let m = Mount::new(&[]);
    sh_ok(
        &m.mnt,
        "git init -q repo && cd repo && git config user.email t@t && git config user.name t \
         && echo a > a && git add a && git commit -qm a",
    );
    // git leaves its objects read-only (0444).
    let objects = sh_ok(
        &m.path("repo"),
        "find .git/objects -type f -perm 444 | wc -l",
    );
    assert!(objects.trim().parse::<u32>().unwrap() > 0);
    let rmtree = |onerror: bool| {
        let handler = if onerror {
            "def fix(func, path, exc):\n    os.chmod(path, stat.S_IWRITE)\n    func(path)\nshutil.rmtree('repo', onerror=fix)"
        } else {
            "shutil.rmtree('repo')"
        };
        Command::new("python3")
            .arg("-c")
            .arg(format!(
                "import os, shutil, stat\n{handler}\nprint('removed')"
            ))
            .current_dir(&m.mnt)
            .output()
            .unwrap()
    };
    let out = rmtree(false);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("PermissionError"), "{}", stderr(&out));
    // It stopped at git's read-only objects: they are still there.
    let left = sh_ok(&m.backing_path("repo"), "find .git/objects -type f | wc -l");
    assert!(
        left.trim().parse::<u32>().unwrap() > 0,
        "objects were deleted"
    );
    let out = rmtree(true);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!m.backing_path("repo").exists());
}

#[test]
fn posix_profile_and_the_mount_option_turn_the_attribute_off() {
    require_fuse!();
    for args in [
        &["--profile", "posix"][..],
        &["-o", "readonly_attribute=off"][..],
    ] {
        let m = Mount::with_setup(args, ro_file);
        sh_ok(&m.mnt, "rm -f ro.txt");
        assert!(!m.backing_path("ro.txt").exists(), "{args:?}");
    }
}
