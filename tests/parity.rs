//! POSIX parity (like mergerfs's posix_parity): one list of operations, run by Python
//! once in a plain directory and once in a fresh mount with `--profile posix` (share
//! modes must not interfere), from identical trees. Every result (value or errno name)
//! must be the same, stat fields included (st_mode, st_size, st_nlink, st_uid, st_gid;
//! not inode numbers, and times only where an operation set them explicitly).
#![cfg(target_os = "linux")] // Mounts through Linux FUSE (/dev/fuse, fusermount3, /proc).

mod common;

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;

use common::{Mount, stderr};

/// The operations. Prints one JSON document per line: `[op, {"ok": value}]` or
/// `[op, {"err": "ERRNO"}]`. Operations run in order and may depend on earlier ones.
const PARITY: &str = r#"
import ctypes, errno, json, os, sys

root = sys.argv[1]
os.chdir(root)
libc = ctypes.CDLL(None, use_errno=True)
RENAME_NOREPLACE, RENAME_EXCHANGE = 1, 2

def renameat2(a, b, flags):
    if libc.renameat2(-100, a.encode(), -100, b.encode(), flags) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return 0

def st(p, follow=False):
    s = os.stat(p, follow_symlinks=follow)
    return {"mode": oct(s.st_mode), "size": s.st_size, "nlink": s.st_nlink,
            "uid": s.st_uid, "gid": s.st_gid}

def read(p):
    with open(p, "rb") as f:
        return f.read().decode("latin-1")

def listing(p):
    return sorted(os.listdir(p))

def op_open(p, flags, mode=0o644):
    fd = os.open(p, flags, mode)
    os.close(fd)
    return "opened"

def ftrunc(p, n):
    fd = os.open(p, os.O_RDWR)
    try:
        os.ftruncate(fd, n)
        return st(p)
    finally:
        os.close(fd)

def sparse():
    fd = os.open("sparse", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.ftruncate(fd, 1 << 20)
        os.pwrite(fd, b"D" * 4096, 512 * 1024)
        return [os.lseek(fd, 0, os.SEEK_DATA), os.lseek(fd, 512 * 1024, os.SEEK_HOLE),
                os.lseek(fd, 0, os.SEEK_HOLE) , st("sparse")["size"]]
    finally:
        os.close(fd)

def seek_data_past_end():
    fd = os.open("sparse", os.O_RDONLY)
    try:
        return os.lseek(fd, 2 << 20, os.SEEK_DATA)
    finally:
        os.close(fd)

def fallocate():
    fd = os.open("falloc", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.posix_fallocate(fd, 0, 8192)
        return st("falloc")
    finally:
        os.close(fd)

def cfr():
    with open("cfr_src", "wb") as f:
        f.write(bytes(range(256)) * 64)
    src = os.open("cfr_src", os.O_RDONLY)
    dst = os.open("cfr_dst", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        n = os.copy_file_range(src, dst, 10000, 100, 0)
    finally:
        os.close(src)
        os.close(dst)
    with open("cfr_dst", "rb") as f:
        same = f.read() == (bytes(range(256)) * 64)[100:100 + n]
    return [n, same, st("cfr_dst")]

def cfr_append():
    src = os.open("cfr_src", os.O_RDONLY)
    dst = os.open("cfr_dst", os.O_WRONLY | os.O_APPEND)
    try:
        return os.copy_file_range(src, dst, 10)
    finally:
        os.close(src)
        os.close(dst)

def statvfs():
    s = os.statvfs(".")
    return {"bsize": s.f_bsize, "namemax": s.f_namemax}

def append_write():
    fd = os.open("ap", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, b"abc")
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, b"def")
        return [os.fstat(fd).st_size, read("ap")]
    finally:
        os.close(fd)

def write_rdonly():
    fd = os.open("ap", os.O_RDONLY)
    try:
        return os.write(fd, b"x")
    finally:
        os.close(fd)

def ftrunc_rdonly():
    fd = os.open("ap", os.O_RDONLY)
    try:
        return os.ftruncate(fd, 0)
    finally:
        os.close(fd)

def punch_hole():
    fd = os.open("holey", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.write(fd, b"Z" * (64 * 1024))
        r = libc.fallocate(fd, 3, ctypes.c_long(16 * 1024), ctypes.c_long(16 * 1024))
        if r != 0:
            e = ctypes.get_errno()
            raise OSError(e, os.strerror(e))
        return [os.lseek(fd, 0, os.SEEK_HOLE), os.lseek(fd, 16 * 1024, os.SEEK_DATA), os.fstat(fd).st_size,
                read("holey")[16 * 1024:16 * 1024 + 4]]
    finally:
        os.close(fd)

OPS = [
    ("open_creat_excl_existing", lambda: op_open("f", os.O_CREAT | os.O_EXCL | os.O_WRONLY)),
    ("open_directory_on_file", lambda: op_open("f", os.O_RDONLY | os.O_DIRECTORY)),
    ("open_dir_wronly", lambda: op_open("d", os.O_WRONLY)),
    ("open_dir_rdwr", lambda: op_open("d", os.O_RDWR)),
    ("open_missing", lambda: op_open("missing", os.O_RDONLY)),
    ("open_missing_parent", lambda: op_open("nodir/x", os.O_CREAT | os.O_WRONLY)),
    ("open_through_file", lambda: op_open("f/x", os.O_RDONLY)),
    ("open_creat_new", lambda: [op_open("new", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600), st("new")]),
    ("open_trunc", lambda: [op_open("g", os.O_WRONLY | os.O_TRUNC), st("g")]),
    ("unlink_missing", lambda: os.unlink("missing")),
    ("unlink_dir", lambda: os.unlink("d")),
    ("rmdir_file", lambda: os.rmdir("f")),
    ("rmdir_nonempty", lambda: os.rmdir("n")),
    ("rmdir_missing", lambda: os.rmdir("missing")),
    ("mkdir_existing", lambda: os.mkdir("d")),
    ("mkdir_over_file", lambda: os.mkdir("f")),
    ("mkdir_new", lambda: [os.mkdir("m1", 0o750), st("m1")]),
    ("rename_file_over_dir", lambda: os.rename("f2", "d")),
    ("rename_dir_over_file", lambda: os.rename("d", "f2")),
    ("rename_dir_over_nonempty", lambda: os.rename("d", "n")),
    ("rename_dir_into_itself", lambda: os.rename("d", "d/sub")),
    ("rename_missing", lambda: os.rename("missing", "x")),
    ("rename_dir_over_empty", lambda: [os.rename("d", "e"), listing("."), listing("e")]),
    ("rename_file_over_file", lambda: [os.rename("f2", "f3"), read("f3"), os.path.exists("f2")]),
    ("renameat2_noreplace_existing", lambda: renameat2("f3", "f", RENAME_NOREPLACE)),
    ("renameat2_noreplace_new", lambda: [renameat2("f3", "f4", RENAME_NOREPLACE), read("f4")]),
    ("renameat2_exchange", lambda: [renameat2("f", "f4", RENAME_EXCHANGE), read("f"), read("f4")]),
    ("renameat2_exchange_file_dir", lambda: [renameat2("f4", "e2", RENAME_EXCHANGE), st("f4"), st("e2")]),
    ("renameat2_exchange_missing", lambda: renameat2("f", "missing", RENAME_EXCHANGE)),
    ("renameat2_both_flags", lambda: renameat2("f", "g", RENAME_EXCHANGE | RENAME_NOREPLACE)),
    ("readlink_symlink", lambda: os.readlink("s")),
    ("readlink_file", lambda: os.readlink("f")),
    ("readlink_missing", lambda: os.readlink("missing")),
    ("lstat_symlink", lambda: st("s")),
    ("stat_through_symlink", lambda: st("s", True)),
    ("symlink_over_existing", lambda: os.symlink("x", "f")),
    ("symlink_new", lambda: [os.symlink("some/where", "s2"), os.readlink("s2"), st("s2")]),
    ("link_dir", lambda: os.link("n", "nlink")),
    ("link_file", lambda: [os.link("g", "glink"), st("g"), st("glink")]),
    ("link_over_existing", lambda: os.link("g", "f")),
    ("link_missing", lambda: os.link("missing", "x")),
    ("setxattr", lambda: os.setxattr("f", "user.a", b"1")),
    ("setxattr_second", lambda: os.setxattr("f", "user.b", b"two")),
    ("getxattr", lambda: os.getxattr("f", "user.b").decode()),
    ("listxattr", lambda: sorted(x for x in os.listxattr("f") if x.startswith("user."))),
    ("setxattr_create_existing", lambda: os.setxattr("f", "user.a", b"x", os.XATTR_CREATE)),
    ("setxattr_replace_missing", lambda: os.setxattr("f", "user.zz", b"x", os.XATTR_REPLACE)),
    ("setxattr_replace", lambda: [os.setxattr("f", "user.a", b"3", os.XATTR_REPLACE), os.getxattr("f", "user.a").decode()]),
    ("removexattr", lambda: [os.removexattr("f", "user.a"), sorted(x for x in os.listxattr("f") if x.startswith("user."))]),
    ("getxattr_missing", lambda: os.getxattr("f", "user.a")),
    ("removexattr_missing", lambda: os.removexattr("f", "user.a")),
    ("setxattr_dir", lambda: [os.setxattr("n", "user.d", b"dir"), os.getxattr("n", "user.d").decode()]),
    ("truncate_shrink", lambda: [os.truncate("h", 3), read("h"), st("h")]),
    ("truncate_grow", lambda: [os.truncate("h", 10), read("h"), st("h")]),
    ("truncate_dir", lambda: os.truncate("n", 0)),
    ("ftruncate", lambda: ftrunc("h", 5)),
    ("chmod", lambda: [os.chmod("h", 0o640), st("h")]),
    ("chmod_dir", lambda: [os.chmod("n", 0o701), st("n")]),
    ("chown", lambda: [os.chown("h", 1234, 5678), st("h")]),
    ("chown_uid_only", lambda: [os.chown("h", 4321, -1), st("h")]),
    ("lchown_symlink", lambda: [os.chown("s", 42, 43, follow_symlinks=False), st("s"), st("f")]),
    ("utime_ns", lambda: [os.utime("h", ns=(1_000_000_123, 2_000_000_456)),
                          os.stat("h").st_atime_ns, os.stat("h").st_mtime_ns]),
    ("utime_dir_ns", lambda: [os.utime("n", ns=(3_000_000_001, 4_000_000_002)), os.stat("n").st_mtime_ns]),
    ("utime_symlink_nofollow", lambda: [os.utime("s", ns=(5_000_000_000, 6_000_000_000), follow_symlinks=False),
                                       os.lstat("s").st_mtime_ns, os.stat("f").st_mtime_ns == 6_000_000_000]),
    ("seek_data_hole", sparse),
    ("seek_data_past_end", seek_data_past_end),
    ("posix_fallocate", fallocate),
    ("copy_file_range", cfr),
    ("copy_file_range_append", cfr_append),
    ("statvfs", statvfs),
    ("access_missing_f_ok", lambda: os.access("missing", os.F_OK)),
    ("access_missing_r_ok", lambda: os.access("missing", os.R_OK)),
    ("access_file_r_ok", lambda: os.access("f", os.R_OK)),
    ("access_file_x_ok", lambda: os.access("f", os.X_OK)),
    ("mkfifo", lambda: [os.mkfifo("fifo", 0o600), st("fifo")]),
    ("unlink_fifo", lambda: [os.unlink("fifo"), os.path.lexists("fifo")]),
    ("mkdir_missing_parent", lambda: os.mkdir("nodir/x")),
    ("rmdir_dot", lambda: os.rmdir("n/.")),
    ("rmdir_symlink_to_dir", lambda: [os.symlink("n", "sn"), os.rmdir("sn")]),
    ("unlink_symlink_to_dir", lambda: [os.unlink("sn"), os.path.lexists("sn"), os.path.isdir("n")]),
    ("rename_hardlinks_same_inode", lambda: [os.link("h", "hl"), os.rename("h", "hl"), os.path.exists("h"), os.path.exists("hl"), st("hl")]),
    ("unlink_one_hardlink", lambda: [os.unlink("hl"), st("h")]),
    ("name_max", lambda: [op_open("N" * 255, os.O_CREAT | os.O_WRONLY), os.unlink("N" * 255)]),
    ("name_too_long", lambda: op_open("N" * 256, os.O_CREAT | os.O_WRONLY)),
    ("symlink_long_target", lambda: [os.symlink("t" * 4000, "slong"), len(os.readlink("slong")), st("slong")]),
    ("append_write", append_write),
    ("write_rdonly_fd", write_rdonly),
    ("ftruncate_rdonly_fd", ftrunc_rdonly),
    ("punch_hole", punch_hole),
    ("access_ro_w_ok", lambda: [os.chmod("g", 0o444), os.access("g", os.W_OK)]),
    ("access_x_ok_some_bit", lambda: [os.chmod("g", 0o010), os.access("g", os.X_OK)]),
    ("open_mode_000_as_root", lambda: [os.chmod("g", 0o000), op_open("g", os.O_RDWR)]),
    ("chmod_special_bits", lambda: [os.chmod("n", 0o3775), st("n")]),
    ("final_tree", lambda: sorted((p, sorted(fs)) for p, _, fs in os.walk("."))),
]

for name, fn in OPS:
    try:
        res = {"ok": fn()}
    except OSError as e:
        res = {"err": errno.errorcode.get(e.errno, str(e.errno))}
    print(json.dumps([name, res], sort_keys=True))
"#;

/// The starting tree, made directly (not through any mount).
fn setup(dir: &Path) {
    fs::write(dir.join("f"), b"hello\n").unwrap();
    fs::write(dir.join("f2"), b"two\n").unwrap();
    fs::write(dir.join("g"), b"gee\n").unwrap();
    fs::write(dir.join("h"), b"aitch\n").unwrap();
    for d in ["d", "e", "e2", "n"] {
        fs::create_dir(dir.join(d)).unwrap();
    }
    fs::write(dir.join("d/x"), b"x\n").unwrap();
    fs::write(dir.join("n/y"), b"y\n").unwrap();
    symlink("f", dir.join("s")).unwrap();
}

fn run(root: &Path) -> Vec<(String, String)> {
    let out = Command::new("python3")
        .arg("-c")
        .arg(PARITY)
        .arg(root)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "parity script failed in {}:\n{}",
        root.display(),
        stderr(&out)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let name = l
                .strip_prefix("[\"")
                .and_then(|r| r.split_once('"'))
                .map(|(n, _)| n.to_string())
                .unwrap_or_else(|| panic!("bad line: {l}"));
            (name, l.to_string())
        })
        .collect()
}

/// What the operations do natively: proves the list exercises what its names say
/// (a script that failed every call the same way would otherwise "match").
const NATIVE: &[(&str, &str)] = &[
    ("open_creat_excl_existing", r#"{"err": "EEXIST"}"#),
    ("open_directory_on_file", r#"{"err": "ENOTDIR"}"#),
    ("open_dir_wronly", r#"{"err": "EISDIR"}"#),
    ("open_missing", r#"{"err": "ENOENT"}"#),
    ("unlink_missing", r#"{"err": "ENOENT"}"#),
    ("unlink_dir", r#"{"err": "EISDIR"}"#),
    ("rmdir_file", r#"{"err": "ENOTDIR"}"#),
    ("rmdir_nonempty", r#"{"err": "ENOTEMPTY"}"#),
    ("mkdir_existing", r#"{"err": "EEXIST"}"#),
    ("rename_file_over_dir", r#"{"err": "EISDIR"}"#),
    ("rename_dir_over_nonempty", r#"{"err": "ENOTEMPTY"}"#),
    ("rename_dir_over_empty", r#"{"ok": [null, "#),
    ("renameat2_noreplace_existing", r#"{"err": "EEXIST"}"#),
    ("renameat2_noreplace_new", r#"{"ok": [0, "two\n"]}"#),
    ("renameat2_exchange", r#"{"ok": [0, "two\n", "hello\n"]}"#),
    ("readlink_symlink", r#"{"ok": "f"}"#),
    ("readlink_file", r#"{"err": "EINVAL"}"#),
    ("symlink_over_existing", r#"{"err": "EEXIST"}"#),
    ("link_dir", r#"{"err": "EPERM"}"#),
    ("getxattr", r#"{"ok": "two"}"#),
    ("listxattr", r#"{"ok": ["user.a", "user.b"]}"#),
    ("getxattr_missing", r#"{"err": "ENODATA"}"#),
    ("truncate_shrink", r#"{"ok": [null, "ait", "#),
    ("ftruncate", r#""size": 5"#),
    ("chmod", r#""mode": "0o100640""#),
    ("chown", r#""gid": 5678"#),
    ("utime_ns", r#"{"ok": [null, 1000000123, 2000000456]}"#),
    ("seek_data_hole", r#"{"ok": [524288, 528384, 0, 1048576]}"#),
    ("posix_fallocate", r#""size": 8192"#),
    ("copy_file_range", r#"{"ok": [10000, true, "#),
    ("statvfs", r#"{"ok": {"bsize": "#),
    ("access_missing_f_ok", r#"{"ok": false}"#),
    ("access_missing_r_ok", r#"{"ok": false}"#),
    ("access_file_r_ok", r#"{"ok": true}"#),
];

#[test]
fn operations_match_a_plain_directory() {
    require_fuse!();
    let plain = tempfile::tempdir().unwrap();
    setup(plain.path());
    let native = run(plain.path());

    let m = Mount::with_setup(&["--profile", "posix"], setup);
    let mounted = run(&m.mnt);

    for (op, want) in NATIVE {
        let line = native
            .iter()
            .find(|(n, _)| n == op)
            .unwrap_or_else(|| panic!("op {op} missing"));
        assert!(
            line.1.contains(want),
            "natively {op} gave {} (expected {want}): the script is wrong here",
            line.1
        );
    }
    assert_eq!(
        native.iter().map(|(n, _)| n).collect::<Vec<_>>(),
        mounted.iter().map(|(n, _)| n).collect::<Vec<_>>(),
        "the two runs did not run the same operations"
    );
    let diff: Vec<String> = native
        .iter()
        .zip(&mounted)
        .filter(|(a, b)| a.1 != b.1)
        .map(|(a, b)| format!("  {}\n    native: {}\n    sharefs: {}", a.0, a.1, b.1))
        .collect();
    assert!(
        diff.is_empty(),
        "{} of {} operations differ from a plain directory:\n{}",
        diff.len(),
        native.len(),
        diff.join("\n")
    );
    // The backing directory ended up as the plain one did.
    let tree = |p: &Path| {
        let out = Command::new("sh")
            .arg("-c")
            .arg("find . -printf '%y %p %s %m\\n' | grep -v '^d \\. ' | sort")
            .current_dir(p)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(tree(&m.backing), tree(plain.path()));
}
