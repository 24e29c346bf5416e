//! The control API through a real mount (docs/control-api.md): every key, word and
//! error of the intent file, per-thread intents, expiry, the delete and rename ioctls,
//! delete-on-close, attribute-only opens, and `sharefs hold`.
#![cfg(target_os = "linux")] // Mounts through Linux FUSE (/dev/fuse, fusermount3, /proc).

mod common;

/// These tests pin SEMANTICS.md's rules as the `windows` profile gives them: the MSVC C
/// runtime's share set for every program and EBUSY for a sharing violation (§7).
/// tests/runtimes.rs pins the default, `auto` (each program gets its runtime's row).
const WINDOWS: &[&str] = &["--profile", "windows"];

use std::fs;
use std::path::Path;
use std::process::Command;

use common::{Mount, sh, sh_ok, stderr};

/// Runs Python with the client module importable as `sc`, `root` = the mount, and
/// helpers `p(rel)`, `intent(line)` and `err(fn)` (errno name or "OK").
fn py(mnt: &Path, body: &str) -> String {
    let client = concat!(env!("CARGO_MANIFEST_DIR"), "/clients/python");
    let program = format!(
        r#"
import os, sys, errno, struct, fcntl, threading, time
sys.path.insert(0, {client:?})
import sharefs_client as sc
root = {root:?}
def p(r): return os.path.join(root, r)
def intent(line):
    fd = os.open(p('.sharefs/intent'), os.O_WRONLY)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)
def err(f):
    try:
        f()
        return 'OK'
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
{body}
"#,
        root = mnt.to_str().unwrap(),
    );
    let out = Command::new("python3")
        .arg("-c")
        .arg(&program)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python failed:\n{}\n{}",
        stderr(&out),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn files(b: &Path) {
    fs::write(b.join("f"), b"data\n").unwrap();
    fs::create_dir(b.join("d")).unwrap();
    fs::write(b.join("d/inner"), b"x").unwrap();
    fs::create_dir(b.join("empty")).unwrap();
}

#[test]
fn control_dir_is_virtual_unlisted_and_stat_able() {
    require_fuse!();
    let m = Mount::with_setup(WINDOWS, files);
    let listing = sh_ok(&m.mnt, "ls -a");
    assert!(!listing.contains(".sharefs"), "{listing}");
    sh_ok(
        &m.mnt,
        "stat .sharefs >/dev/null && cd .sharefs && ls intent",
    );
    let mode = sh_ok(&m.mnt, "stat -c %a .sharefs/intent");
    assert_eq!(mode.trim(), "666");
    assert!(!m.backing_path(".sharefs").exists());
    // It cannot be created over, removed or renamed.
    assert!(!sh(&m.mnt, "mkdir .sharefs").status.success());
    assert!(!sh(&m.mnt, "rm -rf .sharefs/intent").status.success());
    assert!(!sh(&m.mnt, "touch .sharefs/new").status.success());
}

#[test]
fn backing_entry_with_the_control_name_refuses_the_mount_unless_renamed() {
    require_fuse!();
    let dir = tempfile::tempdir().unwrap();
    let backing = dir.path().join("b");
    let mnt = dir.path().join("m");
    fs::create_dir_all(backing.join(".sharefs")).unwrap();
    fs::create_dir(&mnt).unwrap();
    let out = Command::new(common::bin())
        .arg("mount")
        .arg(&backing)
        .arg(&mnt)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--control-dir"), "{}", stderr(&out));
    let m = Mount::with_setup(&["--control-dir", ".ctl"], |b| {
        fs::create_dir(b.join(".sharefs")).unwrap();
    });
    assert!(m.path(".sharefs").is_dir());
    assert!(m.path(".ctl/intent").exists());
}

#[test]
fn malformed_intents_fail_the_write_with_einval_and_leave_none() {
    require_fuse!();
    let m = Mount::with_setup(WINDOWS, files);
    let out = py(
        &m.mnt,
        r#"
for line in ['acces=read', 'access=reed', 'access=read access=write', 'share=read,read',
             'options=fast', 'access=none,read', 'share', 'x' * 5000, 'access=read\naccess=write']:
    print(err(lambda: intent(line)))
intent('access=read share=none')
print(repr(open(p('.sharefs/intent')).read()))
print(err(lambda: intent('bogus=1')))
print(repr(open(p('.sharefs/intent')).read()))
"#,
    );
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[..9].iter().all(|l| *l == "EINVAL"), "{out}");
    assert_eq!(lines[9], "'access=read share=none\\n'");
    assert_eq!(lines[10], "EINVAL");
    assert_eq!(lines[11], "''", "a refused write leaves no intent");
    assert!(m.log().contains("intent refused"), "{}", m.log());
}

#[test]
fn intent_applies_to_the_next_open_only_and_is_consumed_on_failure() {
    require_fuse!();
    let m = Mount::with_setup(WINDOWS, files);
    let out = py(
        &m.mnt,
        r#"
intent('share=none')
a = open(p('f'))                       # consumes: share none
print(err(lambda: open(p('f'))))       # EBUSY: a shares nothing
a.close()
intent('share=none')
b = open(p('f'))
intent('access=read share=read,write')
print(err(lambda: open(p('f'))))       # EBUSY, and the intent is consumed
b.close()
print(repr(open(p('.sharefs/intent')).read()))
"#,
    );
    assert_eq!(out, "EBUSY\nEBUSY\n''", "{out}");
}

#[test]
fn intents_are_per_thread() {
    require_fuse!();
    let m = Mount::with_setup(WINDOWS, files);
    let out = py(
        &m.mnt,
        r#"
barrier = threading.Barrier(2)
results = {}
def worker(name, share):
    sc_line = 'access=read share=' + share
    intent(sc_line)
    barrier.wait()
    f = open(p('f'))
    barrier.wait()
    results[name] = 'opened'
    barrier.wait()
    f.close()
t1 = threading.Thread(target=worker, args=('a', 'read'))
t2 = threading.Thread(target=worker, args=('b', 'read'))
t1.start(); t2.start(); t1.join(); t2.join()
print(sorted(results.items()))
# Now two threads with incompatible intents: the second open must fail, whichever it is.
barrier2 = threading.Barrier(2)
outcome = []
lock = threading.Lock()
def w2(share):
    intent('access=read share=' + share)
    barrier2.wait()
    with lock:
        r = err(lambda: outcome.append(open(p('f'))))
    print(share, r)
t1 = threading.Thread(target=w2, args=('none',))
t2 = threading.Thread(target=w2, args=('none',))
t1.start(); t1.join(timeout=0.01); t2.start(); t1.join(); t2.join()
"#,
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "[('a', 'opened'), ('b', 'opened')]", "{out}");
    let ok = lines[1..].iter().filter(|l| l.ends_with("OK")).count();
    let busy = lines[1..].iter().filter(|l| l.ends_with("EBUSY")).count();
    assert_eq!((ok, busy), (1, 1), "{out}");
}

#[test]
fn intents_expire() {
    require_fuse!();
    let m = Mount::with_setup(&["-o", "intent_ttl=0.3"], files);
    let out = py(
        &m.mnt,
        r#"
intent('share=none')
time.sleep(0.6)
print(repr(open(p('.sharefs/intent')).read()))
a = open(p('f'))
print(err(lambda: open(p('f'))))   # default share (read, write): OK
"#,
    );
    assert_eq!(out, "''\nOK", "{out}");
}

#[test]
fn open_flags_must_fit_the_intent_access() {
    require_fuse!();
    let m = Mount::with_setup(WINDOWS, files);
    let out = py(
        &m.mnt,
        r#"
def opener(line, flags):
    intent(line)
    fd = os.open(p('f'), flags)
    os.close(fd)
print(err(lambda: opener('access=read', os.O_WRONLY)))
print(err(lambda: opener('access=write', os.O_RDWR)))
print(err(lambda: opener('access=read', os.O_RDONLY | os.O_TRUNC)))
print(err(lambda: opener('access=none', os.O_RDONLY)))
print(err(lambda: opener('access=delete', os.O_RDONLY)))
print(err(lambda: opener('access=read,write', os.O_RDWR)))
# delete_on_close needs delete access: EINVAL and nothing is created
print(err(lambda: opener_create('access=read options=delete_on_close')))
print(os.path.exists(p('new')))
"#
        .replace(
            "print(err(lambda: opener_create",
            "def opener_create(line):\n    intent(line)\n    os.close(os.open(p('new'), os.O_RDONLY | os.O_CREAT, 0o644))\nprint(err(lambda: opener_create",
        )
        .as_str(),
    );
    assert_eq!(
        out, "EINVAL\nEINVAL\nEINVAL\nOK\nOK\nOK\nEINVAL\nFalse",
        "{out}"
    );
    assert!(!m.backing_path("new").exists());
}

#[test]
fn io_outside_the_handles_access_fails_with_ebadf() {
    require_fuse!();
    let m = Mount::with_setup(WINDOWS, files);
    let out = py(
        &m.mnt,
        r#"
intent('access=delete')
fd = os.open(p('f'), os.O_RDONLY)
print(err(lambda: os.read(fd, 10)))
os.close(fd)
intent('access=none')
fd = os.open(p('f'), os.O_RDONLY)
print(err(lambda: os.read(fd, 10)))
print(os.fstat(fd).st_size)
os.close(fd)
"#,
    );
    assert_eq!(out, "EBADF\nEBADF\n5", "{out}");
}

#[test]
fn attribute_only_opens_never_conflict_in_either_direction() {
    require_fuse!();
    let m = Mount::with_setup(WINDOWS, files);
    let out = py(
        &m.mnt,
        r#"
intent('access=read share=none')
excl = os.open(p('f'), os.O_RDONLY)
intent('access=none share=none')
print(err(lambda: os.close(os.open(p('f'), os.O_RDONLY))))
os.close(excl)
intent('access=none share=none')
attr = os.open(p('f'), os.O_RDONLY)
intent('access=read,write,delete share=none')
print(err(lambda: os.close(os.open(p('f'), os.O_RDWR))))
print(err(lambda: os.unlink(p('f'))))
os.close(attr)
"#,
    );
    assert_eq!(out, "OK\nOK\nOK", "{out}");
}

#[test]
fn delete_on_close_removes_the_file_after_the_last_close_of_its_handle() {
    require_fuse!();
    let m = Mount::with_setup(WINDOWS, files);
    let out = py(
        &m.mnt,
        r#"
intent('access=read,delete share=read,delete options=delete_on_close')
doc = os.open(p('f'), os.O_RDONLY)
dup = os.dup(doc)
# Not pending while the DOC handle is open: others open it under normal sharing.
intent('access=read share=read,write,delete')
other = os.open(p('f'), os.O_RDONLY)
print(os.path.exists(p('f')))
os.close(doc)
print(os.path.exists(p('f')))          # the dup keeps the handle alive
os.close(dup)
time.sleep(0.2)
# The DOC handle closed with another handle open: pending for everyone else.
print(err(lambda: open(p('f'))))
print(os.read(other, 4))
os.close(other)
time.sleep(0.2)
print(os.path.exists(p('f')))
"#,
    );
    assert_eq!(out, "True\nTrue\nEACCES\nb'data'\nFalse", "{out}");
    assert!(!m.backing_path("f").exists());
}

#[test]
fn delete_ioctl_sets_clears_and_reports_every_documented_error() {
    require_fuse!();
    let m = Mount::with_setup(WINDOWS, |b| {
        files(b);
        fs::write(b.join("ro"), b"r").unwrap();
        let mut perm = fs::metadata(b.join("ro")).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o444);
        fs::set_permissions(b.join("ro"), perm).unwrap();
    });
    let out = py(
        &m.mnt,
        r#"
intent('access=read share=read,write,delete')
fd = os.open(p('f'), os.O_RDONLY)
print(err(lambda: sc.set_delete(fd)))               # no delete access: EACCES
os.close(fd)
intent('access=read,delete share=read,write,delete')
fd = os.open(p('f'), os.O_RDONLY)
sc.set_delete(fd); print(sc.get_delete(fd))
print(err(lambda: os.stat(p('f'))))                 # pending: path queries EACCES
sc.set_delete(fd, False); print(sc.get_delete(fd), os.path.exists(p('f')))
sc.set_delete(fd)
os.close(fd)
time.sleep(0.2)
print(os.path.exists(p('f')))
intent('access=read,delete share=read,write,delete')
dfd = os.open(p('d'), os.O_RDONLY | os.O_DIRECTORY)
print(err(lambda: sc.set_delete(dfd)))              # non-empty directory
os.close(dfd)
intent('access=read,delete share=read,write,delete')
efd = os.open(p('empty'), os.O_RDONLY | os.O_DIRECTORY)
sc.set_delete(efd); os.close(efd); time.sleep(0.2)
print(os.path.exists(p('empty')))
intent('access=read,delete share=read,write,delete')
rfd = os.open(p('ro'), os.O_RDONLY)
print(err(lambda: sc.set_delete(rfd)))              # read-only file
os.close(rfd)
"#,
    );
    assert_eq!(
        out, "EACCES\nTrue\nEACCES\nFalse True\nFalse\nENOTEMPTY\nFalse\nEACCES",
        "{out}"
    );
}

#[test]
fn rename_ioctl_follows_the_rename_rules() {
    require_fuse!();
    let m = Mount::with_setup(WINDOWS, |b| {
        files(b);
        fs::write(b.join("taken"), b"t").unwrap();
    });
    let out = py(
        &m.mnt,
        r#"
intent('access=read share=read,write,delete')
fd = os.open(p('f'), os.O_RDONLY)
print(err(lambda: sc.rename(fd, 'g')))              # no delete access
os.close(fd)
intent('access=read,delete share=none')
fd = os.open(p('f'), os.O_RDONLY)
print(err(lambda: sc.rename(fd, 'taken')))          # exists, replace=0
holder = open(p('taken'))
print(err(lambda: sc.rename(fd, 'taken', True)))    # target open
holder.close(); time.sleep(0.1)
print(err(lambda: sc.rename(fd, 'd/moved')))        # own share=none does not matter
print(os.path.exists(p('d/moved')), os.path.exists(p('f')))
print(err(lambda: sc.rename(fd, 'taken', True)))    # replace a closed file
print(os.read(fd, 5))
os.close(fd)
print(open(p('taken')).read().strip())
intent('access=read,delete share=read,write,delete')
dfd = os.open(p('empty'), os.O_RDONLY | os.O_DIRECTORY)
print(err(lambda: sc.rename(dfd, 'renamed_dir')))
os.close(dfd)
print(os.path.isdir(p('renamed_dir')))
"#,
    );
    assert_eq!(
        out, "EACCES\nEEXIST\nEACCES\nOK\nTrue False\nOK\nb'data\\n'\ndata\nOK\nTrue",
        "{out}"
    );
}

#[test]
fn sharefs_hold_blocks_other_programs_until_its_command_exits() {
    require_fuse!();
    let m = Mount::with_setup(WINDOWS, files);
    let marker = m.root.path().join("held.out");
    // Wait for `held f` before touching the file: a cat racing the hold's own open would
    // (correctly) make the hold fail with a sharing violation.
    let wait_held = format!(
        "for i in $(seq 500); do grep -q '^held f$' {0} 2>/dev/null && break; sleep 0.02; done",
        marker.display()
    );
    let script = format!(
        "{bin} hold --share none f -- sleep 3 > {out} &\n\
         {wait_held}\n\
         cat {out}\n\
         cat f 2>&1; echo \"cat=$?\"\n\
         wait\n\
         cat f; echo \"cat=$?\"",
        bin = common::bin(),
        out = marker.display()
    );
    let out = sh_ok(&m.mnt, &script);
    assert!(out.starts_with("held f\n"), "{out}");
    assert!(out.contains("Device or resource busy\ncat=1"), "{out}");
    assert!(out.trim_end().ends_with("data\ncat=0"), "{out}");
    // A refused hold exits 2.
    let blocked = format!(
        "{bin} hold --share none f -- sleep 3 > {out} & {wait_held}; {bin} hold --access read f -- true; echo \"rc=$?\"; wait",
        bin = common::bin(),
        out = marker.display()
    );
    let _ = std::fs::remove_file(&marker);
    let out = sh_ok(&m.mnt, &blocked);
    assert!(out.contains("rc=2"), "{out}");
}

#[test]
fn a_blank_line_withdraws_and_failed_opens_spend_the_intent() {
    require_fuse!();
    let m = Mount::with_setup(WINDOWS, files);
    let out = py(
        &m.mnt,
        r#"
intent('share=none')
intent('\n')
print(repr(open(p('.sharefs/intent')).read()))
# An open that fails inside sharefs before the intent was looked at spends it.
intent('share=none')
print(err(lambda: os.open(p('.sharefs/new'), os.O_WRONLY | os.O_CREAT)))
print(repr(open(p('.sharefs/intent')).read()))
# One the kernel refuses itself never reaches sharefs: the intent stays pending.
intent('share=none')
print(err(lambda: os.open(p('d'), os.O_WRONLY)))
print(repr(open(p('.sharefs/intent')).read()))
intent('\n')
# The clients withdraw the intent when the kernel refuses the open (ENOENT).
print(err(lambda: sc.open(p('missing'), share='none')))
print(repr(open(p('.sharefs/intent')).read()))
"#,
    );
    assert_eq!(
        out, "''\nEPERM\n''\nEISDIR\n'share=none\\n'\nENOENT\n''",
        "{out}"
    );
}

/// Rename by handle takes its delete mode from the policy, as rename by path does: under
/// a `delete = "posix"` rule a directory with an open file below it may be renamed
/// through a handle; elsewhere (classic) the same rename is access denied.
#[test]
fn rename_ioctl_uses_the_policy_delete_mode() {
    require_fuse!();
    let dir = tempfile::Builder::new()
        .prefix("sharefs-policy-")
        .tempdir()
        .unwrap();
    let policy = dir.path().join("policy.toml");
    fs::write(
        &policy,
        "[[rule]]\nname = \"posix deletes\"\npath = \"px/**\"\ndelete = \"posix\"\n",
    )
    .unwrap();
    let m = Mount::with_setup(&["--policy", policy.to_str().unwrap()], |b| {
        for d in ["px/sub", "cl/sub"] {
            fs::create_dir_all(b.join(d)).unwrap();
            fs::write(b.join(d).join("f"), b"x").unwrap();
        }
    });
    let out = py(
        &m.mnt,
        r#"
res = []
for top in ('px', 'cl'):
    child = open(p(top + '/sub/f'))
    intent('access=read,delete share=read,write,delete')
    dfd = os.open(p(top + '/sub'), os.O_RDONLY | os.O_DIRECTORY)
    res.append(err(lambda: sc.rename(dfd, top + '/moved')))
    os.close(dfd)
    child.close()
print(' '.join(res))
"#,
    );
    assert_eq!(out, "OK EACCES", "{out}\n{}", m.log());
}
