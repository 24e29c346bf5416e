//! Unmodified programs through the mount: git, tar, cp, Python file I/O, a C build,
//! shared mappings, concurrent appenders and inode numbers.
//!
//! Every test uses the default profile (windows: share read and write, never delete):
//! none of these programs deletes or renames a file another process holds open, so
//! none of them should notice the Windows semantics. No test needs `--profile posix`.
#![cfg(target_os = "linux")] // Mounts through Linux FUSE (/dev/fuse, fusermount3, /proc).

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{Mount, sh_ok, stderr};

/// Runs `python3 -c code args…`; panics with its output if it fails; returns stdout.
fn python(code: &str, args: &[&Path]) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(code)
        .args(args)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "python failed\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        stderr(&out)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A manifest of a tree, one line per entry, sorted: type, relative path, permission
/// bits, size, nlink, sha256 of files, symlink targets, and (`with_times`) mtimes of
/// files and directories. Hard-link groups are listed by path (`H a b`), so two trees
/// compare equal only if the same names share an inode in each, whatever the numbers.
const MANIFEST: &str = r#"
import hashlib, os, stat, sys
root, mode = sys.argv[1], sys.argv[2]
def entries():
    yield "."
    for dp, dns, fns in os.walk(root):
        for n in dns + fns:
            yield os.path.relpath(os.path.join(dp, n), root)
groups = {}
out = []
for rel in sorted(entries()):
    p = os.path.join(root, rel)
    s = os.lstat(p)
    perm = "%o" % stat.S_IMODE(s.st_mode)
    t = ""
    if mode == "ns":
        t = " mtime=%d" % s.st_mtime_ns
    elif mode == "sec":
        t = " mtime=%d" % int(s.st_mtime)
    if stat.S_ISLNK(s.st_mode):
        out.append("L %s -> %s" % (rel, os.readlink(p)))
    elif stat.S_ISDIR(s.st_mode):
        out.append("D %s %s%s" % (rel, perm, t if rel != "." else ""))
    elif stat.S_ISREG(s.st_mode):
        with open(p, "rb") as f:
            sha = hashlib.sha256(f.read()).hexdigest()
        out.append("F %s %s size=%d nlink=%d sha256=%s%s" % (rel, perm, s.st_size, s.st_nlink, sha, t))
        if s.st_nlink > 1:
            groups.setdefault(s.st_ino, []).append(rel)
    else:
        out.append("? %s %o" % (rel, s.st_mode))
for g in sorted(sorted(g) for g in groups.values()):
    out.append("H " + " ".join(g))
print("\n".join(out))
"#;

fn manifest(root: &Path, times: &str) -> String {
    python(MANIFEST, &[root, Path::new(times)])
}

/// Asserts two manifests are equal, showing only the differing lines.
fn assert_same_manifest(what: &str, want: &str, got: &str) {
    if want == got {
        return;
    }
    let w: BTreeSet<&str> = want.lines().collect();
    let g: BTreeSet<&str> = got.lines().collect();
    let mut diff = String::new();
    for l in w.difference(&g) {
        diff.push_str(&format!("- {l}\n"));
    }
    for l in g.difference(&w) {
        diff.push_str(&format!("+ {l}\n"));
    }
    panic!("{what}: trees differ (- expected, + through the mount):\n{diff}");
}

/// A small tree with everything tar and cp must carry: nested directories, relative,
/// absolute and directory symlinks, a hard-link pair, a 5 MB random file, an empty
/// file, names with spaces, unusual permission bits.
fn make_tree(dir: &Path) {
    sh_ok(
        dir,
        "mkdir -p a/b/c e 'dir with space' \
         && head -c 5242880 /dev/urandom > a/big.bin \
         && : > empty \
         && printf 'spaces\\n' > 'file with spaces.txt' \
         && printf 'deep\\n' > a/b/c/deep \
         && ln a/b/c/deep e/hard \
         && ln -s ../big.bin a/b/rel_link \
         && ln -s /nonexistent/absolute/target abs_link \
         && ln -s a dir_link \
         && printf '#!/bin/sh\\necho hi\\n' > 'dir with space/run.sh' && chmod 755 'dir with space/run.sh' \
         && printf 'private\\n' > a/private && chmod 600 a/private \
         && chmod 750 a/b",
    );
}

#[test]
fn git_clone_into_the_mount_is_clean_and_complete() {
    require_fuse!();
    let m = Mount::new(&[]);
    let src = tempfile::tempdir().unwrap();
    // No global or system config may change what git does here.
    let env = "export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null \
               GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@t GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@t;";
    sh_ok(
        src.path(),
        &format!(
            "{env} git init -q -b main repo && cd repo \
             && echo one > a.txt && git add a.txt && git commit -qm one \
             && mkdir -p sub/dir && echo two > sub/dir/b.txt && ln -s a.txt link && git add -A && git commit -qm two \
             && head -c 200000 /dev/urandom > blob.bin && chmod +x a.txt && git add -A && git commit -qm three"
        ),
    );
    let repo = src.path().join("repo");
    sh_ok(
        &m.mnt,
        &format!("{env} git clone -q {} clone", repo.display()),
    );
    let clone = m.path("clone");
    assert_eq!(
        sh_ok(&clone, &format!("{env} git status --porcelain")),
        "",
        "a fresh clone must be clean"
    );
    assert_eq!(
        sh_ok(&clone, &format!("{env} git log --oneline | wc -l")).trim(),
        "3"
    );
    sh_ok(&clone, &format!("{env} git fsck --full --strict"));
    // The work tree really is in the backing directory, byte for byte.
    assert_eq!(
        fs::read(m.backing_path("clone/blob.bin")).unwrap(),
        fs::read(repo.join("blob.bin")).unwrap()
    );
    assert_eq!(
        fs::read_link(m.backing_path("clone/link")).unwrap(),
        Path::new("a.txt")
    );
    // Working in the clone: index.lock, object writes and ref renames all succeed.
    sh_ok(
        &clone,
        &format!(
            "{env} echo three >> sub/dir/b.txt && git commit -qam four && git status --porcelain \
             && git checkout -q -b topic HEAD~1 && git checkout -q main"
        ),
    );
    assert_eq!(
        sh_ok(&clone, &format!("{env} git log --oneline | wc -l")).trim(),
        "4"
    );
    assert_eq!(sh_ok(&clone, &format!("{env} git status --porcelain")), "");
    sh_ok(&clone, &format!("{env} git fsck --full --strict"));
    assert_eq!(
        fs::read_to_string(m.backing_path("clone/sub/dir/b.txt")).unwrap(),
        "two\nthree\n"
    );
}

#[test]
fn tar_round_trip_keeps_contents_links_and_permissions() {
    require_fuse!();
    let m = Mount::new(&[]);
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    fs::create_dir(&src).unwrap();
    make_tree(&src);
    let a_tar = work.path().join("a.tar");
    let b_tar = work.path().join("b.tar");
    sh_ok(
        work.path(),
        &format!("tar -C src -cf {} .", a_tar.display()),
    );
    fs::create_dir(m.path("x")).unwrap();
    sh_ok(&m.mnt, &format!("tar -C x -xpf {}", a_tar.display()));
    // The extracted tree, seen through the mount and in the backing directory.
    let want = manifest(&src, "sec");
    assert_same_manifest("extracted (mount)", &want, &manifest(&m.path("x"), "sec"));
    assert_same_manifest(
        "extracted (backing)",
        &want,
        &manifest(&m.backing_path("x"), "sec"),
    );
    // The hard-link pair is one inode inside the mount.
    let ino = |rel: &str| {
        python(
            "import os, sys; s = os.stat(sys.argv[1]); print(s.st_ino, s.st_nlink)",
            &[&m.path(rel)],
        )
    };
    let (deep, hard) = (ino("x/a/b/c/deep"), ino("x/e/hard"));
    assert_eq!(deep, hard, "hard links must share st_ino in the mount");
    assert!(deep.trim().ends_with(" 2"), "nlink: {deep}");
    // Archive again from the mount: tar must see the hard link (by st_ino and nlink)
    // and the symlinks, and the archive must extract to the original tree.
    sh_ok(&m.mnt, &format!("tar -C x -cf {} .", b_tar.display()));
    let listing = sh_ok(work.path(), &format!("tar -tvf {}", b_tar.display()));
    assert!(
        listing.lines().any(|l| l.contains(" link to ")),
        "tar from the mount did not record the hard link:\n{listing}"
    );
    assert!(
        listing
            .lines()
            .any(|l| l.contains("abs_link -> /nonexistent/absolute/target")),
        "{listing}"
    );
    let out2 = work.path().join("out2");
    fs::create_dir(&out2).unwrap();
    sh_ok(
        work.path(),
        &format!("tar -C out2 -xpf {}", b_tar.display()),
    );
    assert_same_manifest("re-archived from the mount", &want, &manifest(&out2, "sec"));
}

#[test]
fn cp_a_into_the_mount_matches_diff_r() {
    require_fuse!();
    let m = Mount::new(&[]);
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    fs::create_dir(&src).unwrap();
    make_tree(&src);
    sh_ok(
        work.path(),
        &format!("cp -a src {}", m.path("copy").display()),
    );
    sh_ok(
        work.path(),
        &format!("diff -r --no-dereference src {}", m.path("copy").display()),
    );
    // cp -a also keeps modes, hard links and nanosecond mtimes (symlinks' too, set by
    // name without following).
    let want = manifest(&src, "ns");
    assert_same_manifest("cp -a", &want, &manifest(&m.path("copy"), "ns"));
    assert_same_manifest(
        "cp -a (backing)",
        &want,
        &manifest(&m.backing_path("copy"), "ns"),
    );
}

#[test]
fn python_read_write_seek_append_reach_the_backing_file() {
    require_fuse!();
    let m = Mount::new(&[]);
    let path = m.path("data.bin");
    let out = python(
        r#"
import os, sys
p = sys.argv[1]
with open(p, "wb") as f:
    f.write(b"0123456789" * 10)
    f.seek(5)
    f.write(b"ABC")
    f.seek(0, 2)
    f.write(b"END")
with open(p, "ab") as f:
    f.write(b"APP")
    f.seek(0)            # ignored for writes in append mode
    f.write(b"APP2")
with open(p, "r+b") as f:
    f.seek(-7, 2)
    tail = f.read()
    f.seek(120)          # past the end: a hole of zeros
    f.write(b"Z")
    f.seek(1)
    f.write(b"x")
    f.flush()
    f.seek(0)
    head = f.read(10)
with open(p, "rb") as f:
    f.seek(100)
    mid = f.read(6)
print(tail.decode(), head.decode(), mid.decode(), os.path.getsize(p))
"#,
        &[&path],
    );
    assert_eq!(out.trim(), "APPAPP2 0x234ABC89 ENDAPP 121");
    let mut want = b"0123456789".repeat(10);
    want[5..8].copy_from_slice(b"ABC");
    want.extend_from_slice(b"ENDAPPAPP2");
    want.resize(120, 0);
    want.push(b'Z');
    want[1] = b'x';
    assert_eq!(fs::read(m.backing_path("data.bin")).unwrap(), want);
}

#[test]
fn a_c_project_builds_and_runs_inside_the_mount() {
    require_fuse!();
    let m = Mount::new(&[]);
    let proj = m.path("proj");
    fs::create_dir(&proj).unwrap();
    fs::write(
        proj.join("calc.h"),
        "int add(int a, int b);\nint mul(int a, int b);\n",
    )
    .unwrap();
    fs::write(
        proj.join("calc.c"),
        "#include \"calc.h\"\nint add(int a, int b) { return a + b; }\nint mul(int a, int b) { return a * b; }\n",
    )
    .unwrap();
    fs::write(
        proj.join("main.c"),
        "#include <stdio.h>\n#include \"calc.h\"\nint main(void) { printf(\"%d %d\\n\", add(40, 2), mul(6, 7)); return 0; }\n",
    )
    .unwrap();
    fs::write(
        proj.join("Makefile"),
        "prog: main.o calc.o\n\tcc -o prog main.o calc.o\n%.o: %.c calc.h\n\tcc -O1 -Wall -c -o $@ $<\nclean:\n\trm -f prog *.o\n",
    )
    .unwrap();
    let out = sh_ok(&proj, "make -s && ./prog");
    assert_eq!(out.trim(), "42 42");
    // A rebuild after a header change (make compares mtimes through the mount).
    std::thread::sleep(std::time::Duration::from_millis(20));
    fs::write(
        proj.join("calc.h"),
        "int add(int a, int b);\nint mul(int a, int b);\n/* changed */\n",
    )
    .unwrap();
    let rebuilt = sh_ok(&proj, "make");
    assert!(
        rebuilt.contains("main.c") && rebuilt.contains("calc.c"),
        "{rebuilt}"
    );
    assert_eq!(sh_ok(&proj, "./prog").trim(), "42 42");
    // The binary is a real executable in the backing directory.
    let direct = Command::new(m.backing_path("proj/prog")).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&direct.stdout).trim(), "42 42");
    sh_ok(&proj, "make -s clean");
    assert!(!m.backing_path("proj/prog").exists());
}

#[test]
fn shared_mmap_writes_reach_the_backing_file() {
    require_fuse!();
    let m = Mount::with_setup(&[], |b| {
        fs::write(b.join("mapped"), vec![b'.'; 3 * 4096]).unwrap();
    });
    let out = python(
        r#"
import mmap, os, sys
with open(sys.argv[1], "r+b") as f:
    mm = mmap.mmap(f.fileno(), 0, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ | mmap.PROT_WRITE)
    before = mm[0:3]
    mm[0:5] = b"HELLO"
    mm[4096 + 10:4096 + 15] = b"WORLD"
    mm[-3:] = b"END"
    mm.flush()
    # A write(2) through another descriptor shows in the live mapping (direct I/O
    # writes invalidate the mapped pages).
    fd = os.open(sys.argv[1], os.O_WRONLY)
    os.pwrite(fd, b"fd", 2 * 4096)
    os.close(fd)
    seen = mm[2 * 4096:2 * 4096 + 2]
    mm.close()
print(before.decode(), seen.decode())
"#,
        &[&m.path("mapped")],
    );
    assert_eq!(
        out.trim(),
        "... fd",
        "the mapping must show the file's content and later writes"
    );
    let mut want = vec![b'.'; 3 * 4096];
    want[0..5].copy_from_slice(b"HELLO");
    want[4096 + 10..4096 + 15].copy_from_slice(b"WORLD");
    want[2 * 4096..2 * 4096 + 2].copy_from_slice(b"fd");
    let n = want.len();
    want[n - 3..].copy_from_slice(b"END");
    let got = fs::read(m.backing_path("mapped")).unwrap();
    assert!(got == want, "backing file does not hold the mapped writes");
    // And a read through the mount agrees.
    assert!(fs::read(m.path("mapped")).unwrap() == want);
}

const APPENDER: &str = r#"
import os, sys, time
path, proc, go, pace = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
while not os.path.exists(go):   # start together
    time.sleep(0.001)
for seq in range(500):
    rec = b"P%d-%05d-" % (proc, seq)
    rec += b"x" * (99 - len(rec)) + b"\n"
    n = os.write(fd, rec)
    assert n == 100, n
    if pace:
        time.sleep(pace)
os.close(fd)
"#;

/// Four processes append through the mount with O_APPEND, and a fifth appends to the
/// backing file directly, so the kernel's cached size (from which it computes an
/// appending write's offset) is stale: the daemon must append at the real end itself.
#[test]
fn concurrent_o_append_writers_never_lose_or_tear_records() {
    require_fuse!();
    let m = Mount::with_setup(&[], |b| fs::write(b.join("shared.log"), b"").unwrap());
    let log = m.path("shared.log");
    let backing_log = m.backing_path("shared.log");
    let ctl = tempfile::tempdir().unwrap();
    let go = ctl.path().join("go");
    let children: Vec<_> = (0..5)
        .map(|p| {
            Command::new("python3")
                .arg("-c")
                .arg(APPENDER)
                .arg(if p < 4 { &log } else { &backing_log })
                .arg(p.to_string())
                .arg(&go)
                // The direct appender is much faster: pace it to span the others.
                .arg(if p < 4 { "0" } else { "0.0003" })
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(300));
    fs::write(&go, b"").unwrap();
    let outputs: Vec<Output> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    for o in &outputs {
        assert!(o.status.success(), "appender failed: {}", stderr(o));
    }
    let data = fs::read(&backing_log).unwrap();
    let text = String::from_utf8_lossy(&data).into_owned();
    let mut seen = BTreeSet::new();
    for (n, line) in text.lines().enumerate() {
        let ok = line.len() == 99
            && line.as_bytes()[0] == b'P'
            && line.as_bytes()[1].is_ascii_digit()
            && &line[2..3] == "-"
            && line[3..8].bytes().all(|b| b.is_ascii_digit())
            && &line[8..9] == "-"
            && line[9..].bytes().all(|b| b == b'x');
        assert!(ok, "line {n} is torn: {line:?}");
        let key = (line[1..2].to_string(), line[3..8].to_string());
        assert!(seen.insert(key), "record repeated: {line}");
    }
    assert_eq!(
        seen.len(),
        2500,
        "records lost (overwritten by an append at a stale offset?)"
    );
    assert_eq!(data.len(), 5 * 500 * 100, "bytes lost or duplicated");
    // Through the mount the whole log reads back the same (once the kernel's cached
    // size has caught up: attributes are cached for up to a second).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while fs::metadata(&log).unwrap().len() != data.len() as u64 {
        assert!(
            std::time::Instant::now() < deadline,
            "size through the mount: {}",
            fs::metadata(&log).unwrap().len()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(fs::read(&log).unwrap() == data);
}

#[test]
fn hard_links_share_one_stable_inode_number() {
    require_fuse!();
    let m = Mount::with_setup(&[], |b| {
        // A hard-link pair made in the backing directory, behind the mount's back.
        fs::write(b.join("outside_a"), b"o").unwrap();
        fs::hard_link(b.join("outside_a"), b.join("outside_b")).unwrap();
    });
    fs::write(m.path("a"), b"data").unwrap();
    fs::create_dir(m.path("sub")).unwrap();
    let probe = r#"
import os, sys
root = sys.argv[1]
def show(mode):
    out = []
    for rel in ("a", "sub/b", "outside_a", "outside_b"):
        s = os.stat(os.path.join(root, rel))
        out.append("%s=%d/%d" % (rel, s.st_ino, s.st_nlink))
    d = {e.name: e.inode() for e in os.scandir(root)}
    d.update({"sub/" + e.name: e.inode() for e in os.scandir(os.path.join(root, "sub"))})
    out.append("readdir:a=%d,sub/b=%d,outside_a=%d,outside_b=%d" % (d["a"], d["sub/b"], d["outside_a"], d["outside_b"]))
    return " ".join(out)
if sys.argv[2] == "link":
    os.link(os.path.join(root, "a"), os.path.join(root, "sub/b"))
print(show(sys.argv[2]))
"#;
    let first = python(probe, &[&m.mnt, Path::new("link")]);
    let fields: Vec<&str> = first.split_whitespace().collect();
    let value = |name: &str| -> String {
        fields
            .iter()
            .find_map(|f| f.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("{name} missing in {first}"))
            .to_string()
    };
    assert_eq!(value("a"), value("sub/b"), "{first}");
    assert!(value("a").ends_with("/2"), "nlink must be 2: {first}");
    assert_eq!(value("outside_a"), value("outside_b"), "{first}");
    assert_ne!(value("a"), value("outside_a"));
    // readdir's d_ino agrees with stat's st_ino.
    let a_ino = value("a").split('/').next().unwrap().to_string();
    let o_ino = value("outside_a").split('/').next().unwrap().to_string();
    assert_eq!(
        fields.last().unwrap(),
        &format!("readdir:a={a_ino},sub/b={a_ino},outside_a={o_ino},outside_b={o_ino}"),
        "{first}"
    );
    // Stable across repeated stats …
    for _ in 0..3 {
        assert_eq!(python(probe, &[&m.mnt, Path::new("stat")]), first);
    }
    // … and after the kernel dropped its dentries and inodes (FORGET to the daemon).
    fs::write("/proc/sys/vm/drop_caches", b"2").expect("drop_caches (needs root)");
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert_eq!(python(probe, &[&m.mnt, Path::new("stat")]), first);
    // Removing one name keeps the other's number.
    fs::remove_file(m.path("a")).unwrap();
    let s = python(
        "import os, sys; s = os.stat(sys.argv[1]); print('%d/%d' % (s.st_ino, s.st_nlink))",
        &[&m.path("sub/b")],
    );
    assert_eq!(s.trim(), format!("{a_ino}/1"));
}

/// Kills and reaps CPU hogs on drop.
struct Hogs(Vec<std::process::Child>);

impl Drop for Hogs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

const LOCKFILE: &str = r#"
import errno, os, sys, time
d = sys.argv[1]
lock, target = os.path.join(d, "config.lock"), os.path.join(d, "config")
fails, i, t0 = [], 0, time.monotonic()
while i < 2000 and time.monotonic() - t0 < 6:
    fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    os.write(fd, b"[core]\n\tn = %d\n" % i)
    os.close(fd)
    try:
        if i % 2:
            os.rename(lock, target)   # commit_lock_file
        else:
            os.unlink(lock)           # rollback_lock_file
    except OSError as e:
        fails.append("%s#%d:%s" % ("rename" if i % 2 else "unlink", i, errno.errorcode.get(e.errno)))
        for _ in range(200):
            try:
                os.unlink(lock)
                break
            except OSError:
                time.sleep(0.01)
    i += 1
print(i, len(fails), " ".join(fails[:10]))
"#;

/// git's lock files (config.lock, index.lock): create, write, close, then rename over
/// the target or unlink. The close's RELEASE reaches the daemon asynchronously; the
/// rename/unlink right after it must not be refused by the program's own, already
/// closed handle, even when the machine is busy (CPU hogs make the daemon's threads
/// wait for a CPU, which is when this used to fail with EBUSY and made
/// `git clone` fail with "unable to unlink '.git/config.lock': Device or resource busy").
#[test]
fn lock_file_close_then_rename_or_unlink_never_sees_its_own_closed_handle() {
    require_fuse!();
    let m = Mount::new(&[]);
    let _hogs = Hogs(
        (0..4)
            .map(|_| {
                Command::new("python3")
                    .args(["-c", "while True: pass"])
                    .spawn()
                    .unwrap()
            })
            .collect(),
    );
    let out = python(LOCKFILE, &[&m.mnt]);
    let mut parts = out.trim().splitn(3, ' ');
    let rounds: u64 = parts.next().unwrap().parse().unwrap();
    let fails: u64 = parts.next().unwrap().parse().unwrap();
    assert!(rounds >= 200, "too few rounds to mean anything: {out}");
    assert_eq!(
        fails,
        0,
        "close() then rename/unlink of the same lock file was refused {fails} times in {rounds} \
         rounds: {}",
        parts.next().unwrap_or("")
    );
}

/// Creation time: the daemon fills FUSE's `crtime` from the backing file's birth time
/// (unit tests in `src/backing` and `src/frontend/fuse` check that). Linux FUSE does not
/// carry it to callers (the kernel's STATX request falls back to GETATTR, which has no
/// birth time), so through the mount `created()` is either unsupported or, should a
/// kernel pass it on, the backing file's own.
#[test]
fn creation_time_through_the_mount_is_absent_or_the_backing_files() {
    let m = Mount::new(&[]);
    fs::write(m.path("born"), b"x").unwrap();
    let through = fs::metadata(m.path("born")).unwrap().created();
    let backing = fs::metadata(m.backing_path("born")).unwrap().created();
    if let Ok(t) = through {
        assert_eq!(Some(t), backing.ok(), "crtime seen through the mount");
    }
}

/// More files than the daemon may hold fds for (`-o inode_fds=64`): every one is still
/// found, read, changed and listed (the least recently used idle fds are closed and the
/// files reached again by name), and the daemon's fd count stays near the budget
/// instead of growing with the tree, which without eviction ends in EMFILE once a tree
/// has more files than `RLIMIT_NOFILE`.
#[test]
fn a_tree_larger_than_the_fd_budget_stays_fully_usable() {
    require_fuse!();
    const DIRS: usize = 20;
    const PER_DIR: usize = 150;
    let m = Mount::with_setup(&["-o", "inode_fds=64"], |b| {
        for d in 0..DIRS {
            let dir = b.join(format!("d{d:02}"));
            fs::create_dir(&dir).unwrap();
            for f in 0..PER_DIR {
                fs::write(dir.join(format!("f{f:03}")), format!("{d}/{f}\n")).unwrap();
            }
            std::os::unix::fs::symlink(format!("f{:03}", d), dir.join("link")).unwrap();
        }
    });
    let out = python(
        r#"
import os, sys
root = sys.argv[1]
n = 0
for _ in range(2):
    for d in sorted(os.listdir(root)):
        for f in sorted(os.listdir(os.path.join(root, d))):
            p = os.path.join(root, d, f)
            if f == 'link':
                assert os.readlink(p) == 'f%03d' % int(d[1:]), p
                continue
            os.stat(p)
            with open(p) as h:
                assert h.read() == '%d/%d\n' % (int(d[1:]), int(f[1:])), p
            os.chmod(p, 0o640)
            assert os.stat(p).st_mode & 0o777 == 0o640, p
            n += 1
print(n)
"#,
        &[&m.mnt],
    );
    assert_eq!(out.trim(), (2 * DIRS * PER_DIR).to_string(), "{}", m.log());
    let held = fs::read_dir(format!("/proc/{}/fd", m.pid()))
        .unwrap()
        .count();
    assert!(
        held < 64 + DIRS + 100,
        "the daemon holds {held} fds for a budget of 64 ({} files looked up)\n{}",
        DIRS * PER_DIR,
        m.log()
    );
    // tar reads the whole tree back through the mount.
    let listed = sh_ok(&m.mnt, "tar -cf - . | tar -tf - | grep -c '/f[0-9]'");
    assert_eq!(listed.trim(), (DIRS * PER_DIR).to_string());
}
