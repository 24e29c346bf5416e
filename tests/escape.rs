//! Nothing escapes the backing directory through the daemon.
//!
//! What is and is not an escape. The kernel resolves the symlinks it meets in a path
//! itself, in the caller's view of the file system: an absolute target, or a relative
//! one climbing out of the mount, leads the caller outside the mount exactly as it would
//! without sharefs. That is the caller's own doing with its own rights, not the
//! daemon's. The daemon escapes if *it* resolves a name through a symlink (or `..`), so
//! that an operation the caller addressed to a file inside the mount lands outside the
//! backing directory.
//!
//! The fixture puts `backing/` and `mnt/` side by side, so a symlink target resolves to
//! the same host path whether the daemon resolved it relative to `backing/` or the
//! kernel relative to `mnt/`; comparing paths cannot tell the two apart. These tests
//! therefore run the caller in a private mount namespace (`unshare -m`) where the
//! `outside/` directory next to `backing/` is covered by an empty tmpfs. Whatever the
//! caller reaches by following a symlink lands in that tmpfs; only the daemon, which
//! stays in the host namespace, could reach the real `outside/`. So "the real
//! `outside/` is untouched" proves precisely that the daemon did not follow.
#![cfg(target_os = "linux")] // Mounts through Linux FUSE (/dev/fuse, fusermount3, /proc).

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{MetadataExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};

use common::{Mount, stderr};

/// The fixture root (parent of `backing/` and `mnt/`).
fn root_of(m: &Mount) -> PathBuf {
    m.root.path().to_path_buf()
}

/// `outside/` next to the backing directory.
fn outside_of(m: &Mount) -> PathBuf {
    root_of(m).join("outside")
}

/// Every file in the fixture root outside `backing/` and `mnt/` (and the daemon's own
/// log), with size, mode, owner, mtime and content, to show nothing was created or
/// changed there.
fn snapshot_outside(root: &Path) -> BTreeMap<PathBuf, String> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<PathBuf, String>) {
        for e in fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().to_path_buf();
            if dir == root
                && matches!(
                    rel.to_str(),
                    Some("backing") | Some("mnt") | Some("sharefs.log")
                )
            {
                continue;
            }
            let md = fs::symlink_metadata(&p).unwrap();
            let content = if md.is_file() {
                String::from_utf8_lossy(&fs::read(&p).unwrap()).into_owned()
            } else if md.file_type().is_symlink() {
                fs::read_link(&p).unwrap().display().to_string()
            } else {
                String::new()
            };
            out.insert(
                rel,
                format!(
                    "mode={:o} uid={} gid={} size={} mtime={} {}",
                    md.mode(),
                    md.uid(),
                    md.gid(),
                    md.len(),
                    md.mtime_nsec() + md.mtime() * 1_000_000_000,
                    content
                ),
            );
            if md.is_dir() {
                walk(&p, root, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// A python3 program running in a private mount namespace where `shadow` (a directory
/// outside the backing dir) is covered by a fresh, empty tmpfs. Talks over stdin/stdout
/// lines; killed and reaped on drop.
struct Private {
    child: Child,
    out: BufReader<ChildStdout>,
}

impl Private {
    fn start(shadow: &Path, program: &str, args: &[&Path]) -> Private {
        let mut child = Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c"])
            .arg("mount -t tmpfs sharefs-shadow \"$1\" || exit 97; shift; exec python3 -c \"$@\"")
            .arg("sh")
            .arg(shadow)
            .arg(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("unshare");
        let out = BufReader::new(child.stdout.take().unwrap());
        Private { child, out }
    }

    fn send(&mut self, line: &str) {
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin.write_all(format!("{line}\n").as_bytes()).unwrap();
        stdin.flush().unwrap();
    }

    fn read_line(&mut self) -> String {
        let mut line = String::new();
        self.out.read_line(&mut line).unwrap();
        if line.is_empty() {
            let mut err = String::new();
            if let Some(mut e) = self.child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut err);
            }
            panic!("private-namespace program ended early:\n{err}");
        }
        line.trim_end().to_string()
    }

    /// Runs a program to completion; returns its stdout.
    fn run(shadow: &Path, program: &str, args: &[&Path]) -> String {
        let mut p = Private::start(shadow, program, args);
        drop(p.child.stdin.take());
        let mut text = String::new();
        std::io::Read::read_to_string(&mut p.out, &mut text).unwrap();
        let status = p.child.wait().unwrap();
        let mut err = String::new();
        if let Some(mut e) = p.child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut err);
        }
        assert!(
            status.success(),
            "private-namespace program failed ({status}):\nstdout: {text}\nstderr: {err}"
        );
        text.trim_end().to_string()
    }
}

impl Drop for Private {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a Python snippet in this (host) namespace; returns stdout, panics on failure.
fn python(code: &str, args: &[&Path]) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(code)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        stderr(&out)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

const HELPERS: &str = r#"
import errno, os, sys
def name(e):
    return errno.errorcode.get(e.errno, str(e.errno))
def attempt(f):
    try:
        r = f()
        return "ok" if r is None else str(r)
    except OSError as e:
        return name(e)
def read(p):
    with open(p, "rb") as f:
        return f.read().decode()
"#;

fn secret_setup(b: &Path) {
    let root = b.parent().unwrap();
    fs::create_dir(root.join("outside")).unwrap();
    fs::write(root.join("outside/secret"), b"TOP SECRET").unwrap();
    symlink(root.join("outside/secret"), b.join("abs")).unwrap();
    symlink("../outside/secret", b.join("rel")).unwrap();
    symlink(root.join("outside"), b.join("absdir")).unwrap();
}

/// Symlinks in the backing directory pointing outside: the daemon hands out the stored
/// target verbatim and every operation it performs on the link node acts on the link,
/// never on the file outside.
#[test]
fn symlinks_to_outside_are_served_verbatim_and_never_followed_by_the_daemon() {
    require_fuse!();
    let m = Mount::with_setup(&[], secret_setup);
    let root = root_of(&m);
    let outside = outside_of(&m);
    let secret = outside.join("secret");
    // A marker the daemon would hand out if it followed the link for xattrs.
    python(
        "import os, sys; os.setxattr(sys.argv[1], 'user.leak', b'leaked')",
        &[&secret],
    );
    let before = snapshot_outside(&root);

    // readlink: the stored target, byte for byte; lstat: a symlink of that length.
    assert_eq!(fs::read_link(m.path("abs")).unwrap(), secret);
    assert_eq!(
        fs::read_link(m.path("rel")).unwrap(),
        Path::new("../outside/secret")
    );
    let md = fs::symlink_metadata(m.path("abs")).unwrap();
    assert!(md.file_type().is_symlink());
    assert_eq!(md.len(), secret.as_os_str().len() as u64);

    // In the host namespace the caller's own kernel-side resolution reaches the secret
    // (as it would with a symlink anywhere else): normal, not an escape.
    assert_eq!(fs::read_to_string(m.path("abs")).unwrap(), "TOP SECRET");

    // In a namespace where `outside/` is an empty tmpfs the same reads find nothing: the
    // daemon did not serve the secret's bytes as if the link were a regular file.
    let private = Private::run(
        &outside,
        &format!(
            "{HELPERS}
m = sys.argv[1]
print(attempt(lambda: read(os.path.join(m, 'abs'))))
print(attempt(lambda: read(os.path.join(m, 'rel'))))
print(attempt(lambda: sorted(os.listdir(os.path.join(m, 'absdir')))))
print(attempt(lambda: os.open(os.path.join(m, 'abs'), os.O_RDONLY | os.O_NOFOLLOW)))
print(attempt(lambda: os.readlink(os.path.join(m, 'rel'))))
"
        ),
        &[&m.mnt],
    );
    assert_eq!(
        private.lines().collect::<Vec<_>>(),
        ["ENOENT", "ENOENT", "[]", "ELOOP", "../outside/secret"],
        "the daemon resolved a symlink itself"
    );

    // Operations the daemon performs on the link node itself (no kernel-side follow).
    let out = python(
        &format!(
            "{HELPERS}
m = sys.argv[1]
link = os.path.join(m, 'abs')
print(attempt(lambda: os.getxattr(link, 'user.leak', follow_symlinks=False)))
print(attempt(lambda: 'user.leak' in os.listxattr(link, follow_symlinks=False)))
print(attempt(lambda: os.setxattr(link, 'user.new', b'x', follow_symlinks=False)))
print(attempt(lambda: os.removexattr(link, 'user.leak', follow_symlinks=False)))
print(attempt(lambda: os.chown(link, 4242, 4343, follow_symlinks=False)))
print(attempt(lambda: os.utime(link, ns=(1_000_000_000, 2_000_000_000), follow_symlinks=False)))
print(attempt(lambda: os.link(link, os.path.join(m, 'abs_hardlink'), follow_symlinks=False)))
"
        ),
        &[&m.mnt],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_ne!(lines[0], "leaked", "getxattr followed the link");
    assert_eq!(lines[1], "False", "listxattr followed the link");
    assert_ne!(
        lines[2], "ok",
        "setxattr on a symlink must fail (user.* on a link)"
    );
    assert_ne!(lines[3], "ok", "removexattr reached the secret");
    assert_eq!(lines[4..], ["ok", "ok", "ok"], "{out}");
    // They acted on the link in the backing directory …
    let link_md = fs::symlink_metadata(m.backing_path("abs")).unwrap();
    assert_eq!((link_md.uid(), link_md.gid()), (4242, 4343));
    assert_eq!(link_md.mtime(), 2);
    let hard = fs::symlink_metadata(m.backing_path("abs_hardlink")).unwrap();
    assert!(
        hard.file_type().is_symlink(),
        "link() of a symlink made a hard link to its target"
    );
    assert_eq!(
        fs::read_link(m.backing_path("abs_hardlink")).unwrap(),
        secret
    );
    // … and nothing outside changed: content, owner, times, xattrs.
    assert_eq!(snapshot_outside(&root), before);
    assert_eq!(
        python(
            "import os, sys; print(sorted(os.listxattr(sys.argv[1])), os.getxattr(sys.argv[1], 'user.leak'))",
            &[&secret]
        ),
        "['user.leak'] b'leaked'"
    );
}

/// `..` at the mount root is the mountpoint's parent, not the backing directory's
/// parent by way of the daemon. The kernel handles `..` itself (it never sends `..`
/// lookups for path walks), so this pins the caller-visible behaviour; the daemon also
/// rejects `.`/`..`/`/` in names (`check_name`).
#[test]
fn dotdot_at_the_mount_root_is_the_mountpoint_parent() {
    require_fuse!();
    let m = Mount::with_setup(&[], |b| {
        fs::create_dir_all(b.join("sub/deeper")).unwrap();
    });
    let key = |p: &Path| {
        let md = fs::metadata(p).unwrap();
        (md.dev(), md.ino())
    };
    let parent = m.mnt.parent().unwrap();
    assert_eq!(key(&m.mnt.join("..")), key(parent));
    assert_eq!(key(&m.path("sub/deeper/../../..")), key(parent));
    assert_eq!(key(&m.path("sub/..")), key(&m.mnt));
    assert_ne!(
        key(&m.mnt),
        key(&m.backing),
        "the mount is not the backing dir"
    );
    // Through a directory fd inside the mount, `..` climbs to the mount root, then out.
    let out = python(
        "import os, sys
fd = os.open(os.path.join(sys.argv[1], 'sub', 'deeper'), os.O_RDONLY | os.O_DIRECTORY)
up = os.open('../..', os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
s, r = os.fstat(up), os.stat(sys.argv[1])
print((s.st_dev, s.st_ino) == (r.st_dev, r.st_ino))",
        &[&m.mnt],
    );
    assert_eq!(out, "True");
}

const RACE_ATTACKER: &str = r#"
import errno, json, os, select, sys
mnt, shadow = sys.argv[1], sys.argv[2]
d = os.path.join(mnt, "d")
def name(e):
    return errno.errorcode.get(e.errno, str(e.errno))
# A directory fd of the real `d`, opened while it is a directory (O_NOFOLLOW).
dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
print("ready", flush=True)
def create(how, fname):
    if how == "dirfd":
        fd = os.open(fname, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644, dir_fd=dfd)
    else:
        fd = os.open(os.path.join(d, fname), os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
    os.write(fd, b"pwned")
    os.close(fd)
# Deterministic phase: the test has replaced backing/d by a symlink to outside/.
sys.stdin.readline()
res = []
for how in ("dirfd", "path"):
    try:
        create(how, "det_" + how)
        res.append("ok")
    except OSError as e:
        res.append(name(e))
print(" ".join(res), flush=True)
# Race phase: until told to stop, while the test swaps d and the symlink.
sys.stdin.readline()
counts, rounds = {}, 0
while not select.select([sys.stdin], [], [], 0)[0]:
    for how in ("dirfd", "path"):
        try:
            create(how, "pwned")
            k = how + ":ok"
        except OSError as e:
            k = how + ":" + name(e)
        counts[k] = counts.get(k, 0) + 1
    rounds += 1
print(json.dumps(counts, sort_keys=True), flush=True)
print(rounds, flush=True)
# What the caller itself reached by following the symlink: its private outside/.
print(" ".join(sorted(os.listdir(shadow))) or "-", flush=True)
"#;

/// A directory swapped for a symlink to outside, after the kernel (and a process's
/// directory fd) know it as a directory: creates addressed to it must land in the real
/// directory (which the daemon holds by fd), never through the symlink.
#[test]
fn a_directory_swapped_for_a_symlink_never_leads_the_daemon_outside() {
    require_fuse!();
    let m = Mount::with_setup(&[], |b| {
        fs::create_dir(b.join("d")).unwrap();
        fs::write(b.join("d/existing"), b"e").unwrap();
        fs::create_dir(b.parent().unwrap().join("outside")).unwrap();
    });
    let root = root_of(&m);
    let outside = outside_of(&m);
    let before = snapshot_outside(&root);
    let (d, away) = (m.backing_path("d"), m.backing_path("d.away"));
    let to_symlink = || {
        fs::rename(&d, &away).unwrap();
        symlink(&outside, &d).unwrap();
    };
    let to_dir = || {
        fs::remove_file(&d).unwrap();
        fs::rename(&away, &d).unwrap();
    };
    let mut attacker = Private::start(&outside, RACE_ATTACKER, &[&m.mnt, &outside]);
    assert_eq!(attacker.read_line(), "ready");

    // Deterministic: backing/d is a symlink to outside/ right now.
    to_symlink();
    attacker.send("go");
    let det = attacker.read_line();
    // The dirfd create went to the daemon with the node of the real directory: the file
    // is in the real directory (now backing/d.away). A daemon that resolved the node's
    // name would have followed backing/d to the real outside/.
    assert!(det.starts_with("ok "), "dirfd create failed: {det}");
    assert_eq!(fs::read(away.join("det_dirfd")).unwrap(), b"pwned");
    assert_eq!(names_in(&outside), Vec::<String>::new(), "{det}");
    to_dir();

    // Race: 2000 swaps while the attacker creates by dir fd and by path.
    attacker.send("race");
    for i in 0..2000 {
        to_symlink();
        if i % 4 == 0 {
            std::thread::yield_now();
        }
        to_dir();
    }
    attacker.send("stop");
    let counts = attacker.read_line();
    let rounds: u64 = attacker.read_line().parse().unwrap();
    let shadow = attacker.read_line();
    eprintln!("race: {rounds} attacker rounds, {counts}; caller-side follows reached: {shadow}");
    assert!(rounds > 0);
    assert!(
        counts.contains("\"dirfd:ok\""),
        "no create through the dir fd succeeded: {counts}"
    );
    // The real outside/ is untouched and empty; nothing else outside changed.
    assert_eq!(names_in(&outside), Vec::<String>::new());
    assert_eq!(snapshot_outside(&root), before);
    // The creates landed in the real directory, inside the backing dir.
    assert_eq!(fs::read(d.join("pwned")).unwrap(), b"pwned");
    assert!(d.join("existing").exists());
}

/// `open(O_CREAT)` of a name that is a dangling symlink to outside. Natively Linux
/// follows it and creates the target; through sharefs the kernel looks the name up,
/// gets a symlink and follows it in the caller's namespace (the caller creates the
/// target, as natively). The daemon itself never creates anything outside: in the
/// private namespace the caller's creates land in the tmpfs, the real outside/ stays
/// empty.
#[test]
fn creating_through_a_dangling_symlink_is_the_callers_own_resolution() {
    require_fuse!();
    let m = Mount::with_setup(&[], |b| {
        let root = b.parent().unwrap();
        fs::create_dir(root.join("outside")).unwrap();
        fs::create_dir(root.join("plain")).unwrap();
        symlink(root.join("outside/created"), b.join("evil")).unwrap();
        symlink("../outside/created_rel", b.join("evil_rel")).unwrap();
        symlink(root.join("outside/native"), root.join("plain/evil")).unwrap();
    });
    let root = root_of(&m);
    let outside = outside_of(&m);
    let before = snapshot_outside(&root);
    let out = Private::run(
        &outside,
        &format!(
            "{HELPERS}
m, plain, shadow = sys.argv[1], sys.argv[2], sys.argv[3]
def create(p, flags):
    fd = os.open(p, flags, 0o644)
    os.write(fd, b'x')
    os.close(fd)
W = os.O_CREAT | os.O_WRONLY
print(attempt(lambda: create(os.path.join(m, 'evil'), W | os.O_EXCL)))
print(attempt(lambda: create(os.path.join(m, 'evil'), W | os.O_NOFOLLOW)))
print(attempt(lambda: create(os.path.join(m, 'evil'), W)))
print(attempt(lambda: create(os.path.join(m, 'evil_rel'), W)))
print(attempt(lambda: create(os.path.join(plain, 'evil'), W)))
print(' '.join(sorted(os.listdir(shadow))))
"
        ),
        &[&m.mnt, &root.join("plain"), &outside],
    );
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "EEXIST",
            "ELOOP",
            "ok",
            "ok",
            "ok",
            // The caller's own follows (through the mount and natively) reached its
            // private outside/, like native Linux does.
            "created created_rel native",
        ]
    );
    // The daemon created nothing outside; the links are still links.
    assert_eq!(names_in(&outside), Vec::<String>::new());
    assert_eq!(snapshot_outside(&root), before);
    assert!(
        fs::symlink_metadata(m.backing_path("evil"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

/// The kernel caches a name as a regular file; behind its back the name is replaced by
/// a symlink to a file outside. Opening the cached name for writing goes to the daemon
/// with the node it knows, which it holds by fd: the write lands in the original inode,
/// and the file outside keeps its content.
#[test]
fn a_file_swapped_for_a_symlink_is_written_through_the_held_inode() {
    require_fuse!();
    // Long entry/attribute timeouts: the kernel keeps using the cached dentry.
    let m = Mount::with_setup(&["-o", "entry_timeout=60,attr_timeout=60"], |b| {
        let root = b.parent().unwrap();
        fs::create_dir(root.join("outside")).unwrap();
        fs::write(root.join("outside/target"), b"original").unwrap();
        fs::write(b.join("victim"), b"innocent").unwrap();
    });
    let root = root_of(&m);
    let outside = outside_of(&m);
    // The kernel looks the name up now (and caches it).
    assert_eq!(fs::read(m.path("victim")).unwrap(), b"innocent");
    let before = snapshot_outside(&root);
    fs::hard_link(m.backing_path("victim"), m.backing_path("keep")).unwrap();
    fs::remove_file(m.backing_path("victim")).unwrap();
    symlink(outside.join("target"), m.backing_path("victim")).unwrap();
    let out = Private::run(
        &outside,
        &format!(
            "{HELPERS}
def overwrite(p):
    with open(p, 'r+b') as f:
        f.write(b'PWNED')
print(attempt(lambda: overwrite(sys.argv[1])))
"
        ),
        &[&m.path("victim")],
    );
    assert_eq!(out, "ok", "the cached name could not be opened");
    assert_eq!(fs::read(m.backing_path("keep")).unwrap(), b"PWNEDent");
    assert_eq!(fs::read(outside.join("target")).unwrap(), b"original");
    assert_eq!(snapshot_outside(&root), before);
}

const CREATE_RACER: &str = r#"
import errno, json, os, select, sys
mnt, shadow = sys.argv[1], sys.argv[2]
p = os.path.join(mnt, "race")
mdev = os.stat(mnt).st_dev
counts = {}
print("ready", flush=True)
while not select.select([sys.stdin], [], [], 0)[0]:
    try:
        fd = os.open(p, os.O_CREAT | os.O_WRONLY, 0o644)
        # Where did it land: a file of the mount, or (caller-side follow) the tmpfs?
        k = "in_mount" if os.fstat(fd).st_dev == mdev else "followed_by_caller"
        os.close(fd)
    except OSError as e:
        k = errno.errorcode.get(e.errno, str(e.errno))
    counts[k] = counts.get(k, 0) + 1
print(json.dumps(counts, sort_keys=True), flush=True)
"#;

/// A name that flips between absent and a symlink to outside while a process creates it
/// through the mount: when the kernel's lookup saw "absent" and the CREATE reaches the
/// daemon after the symlink appeared, the daemon must refuse (it creates with
/// `O_EXCL | O_NOFOLLOW` beneath the parent fd) rather than follow the link.
#[test]
fn racing_creates_against_a_symlink_never_create_outside() {
    require_fuse!();
    // No entry caching: every open looks the name up afresh, so the kernel sends CREATE
    // whenever its lookup found nothing.
    let m = Mount::with_setup(&["-o", "entry_timeout=0,attr_timeout=0"], |b| {
        fs::create_dir(b.parent().unwrap().join("outside")).unwrap();
    });
    let root = root_of(&m);
    let outside = outside_of(&m);
    let before = snapshot_outside(&root);
    let race = m.backing_path("race");
    let mut racer = Private::start(&outside, CREATE_RACER, &[&m.mnt, &outside]);
    assert_eq!(racer.read_line(), "ready");
    for _ in 0..2000 {
        // A regular file the racer's create left (the daemon made it while the name was
        // absent) is removed, so the name keeps flipping.
        let _ = fs::remove_file(&race);
        let _ = symlink(outside.join("race_created"), &race);
        std::thread::yield_now();
        let _ = fs::remove_file(&race);
    }
    racer.send("stop");
    let counts = racer.read_line();
    eprintln!("create race: {counts}");
    assert_eq!(
        names_in(&outside),
        Vec::<String>::new(),
        "the daemon created outside the backing dir: {counts}"
    );
    assert_eq!(snapshot_outside(&root), before);
    // Both sides of the race happened: creates while the name was absent, and CREATEs
    // that reached the daemon after the symlink had appeared, refused with ELOOP.
    assert!(counts.contains("\"in_mount\""), "{counts}");
    assert!(
        counts.contains("\"ELOOP\""),
        "the race never sent the daemon a CREATE over a symlink: {counts}"
    );
}
