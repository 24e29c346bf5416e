//! Close means closed (SEMANTICS.md §2): when close(2) of a file's last handle returns,
//! a delete-on-close or delete-pending file's name is gone for every later request, and
//! the kernel's dentry cache does not show it either; a close that is not the last
//! deletes nothing. The kernel's RELEASE is asynchronous (docs/architecture.md, "The
//! RELEASE race"), so each case below is run thousands of times. Before the fix, 996 of
//! 1,000 close-then-stat tries still found a delete-on-close file, and a holder that had
//! started a child made every refusal wait the whole 500 ms grace.
#![cfg(target_os = "linux")] // Mounts through Linux FUSE (/dev/fuse, fusermount3, /proc).

mod common;

/// These tests pin SEMANTICS.md's rules as the `windows` profile gives them: the MSVC C
/// runtime's share set for every program and EBUSY for a sharing violation (§7).
/// tests/runtimes.rs pins the default, `auto` (each program gets its runtime's row).
const WINDOWS: &[&str] = &["--profile", "windows"];

use std::process::Command;

use common::{Holder, Mount, py_client as py};

/// 10,000 times: open delete-on-close, close, stat → ENOENT; and open, unlink (delete
/// pending: the handle shares delete), close, open → ENOENT. Never success, never
/// EACCES.
#[test]
fn close_then_stat_or_open_never_sees_a_deleted_file() {
    require_fuse!();
    let m = Mount::new(WINDOWS);
    let got = py(
        &m,
        r#"
outcomes = {}
def note(case, f):
    try:
        f(); r = 'found'
    except OSError as e:
        r = errno.errorcode.get(e.errno, str(e.errno))
    outcomes[case + ' ' + r] = outcomes.get(case + ' ' + r, 0) + 1
for i in range(5000):
    p = os.path.join(root, 'doc%d' % (i % 20))
    fd = sc.open_fd(p, os.O_RDWR | os.O_CREAT, access=ALL, share=ALL, delete_on_close=True)
    os.close(fd)
    note('doc-stat', lambda: os.stat(p))
for i in range(5000):
    p = os.path.join(root, 'pending%d' % (i % 20))
    fd = sc.open_fd(p, os.O_RDWR | os.O_CREAT, access=ALL, share=ALL)
    os.unlink(p)
    os.close(fd)
    note('pending-open', lambda: os.close(os.open(p, os.O_RDONLY)))
print(sorted(outcomes.items()))
"#,
    );
    assert_eq!(
        got,
        "[('doc-stat ENOENT', 5000), ('pending-open ENOENT', 5000)]"
    );
    assert_eq!(
        std::fs::read_dir(&m.backing).unwrap().count(),
        0,
        "every name went"
    );
}

/// A close that is not the last (a dup stays open) deletes nothing and answers without
/// waiting for a RELEASE that is not coming; the last close deletes.
#[test]
fn closing_a_dup_deletes_nothing_and_does_not_wait() {
    require_fuse!();
    let m = Mount::new(WINDOWS);
    let got = py(
        &m,
        r#"
p = os.path.join(root, 'dup')
fd = sc.open_fd(p, os.O_RDWR | os.O_CREAT, access=ALL, share=ALL, delete_on_close=True)
fd2 = os.dup(fd)
slowest = 0
for i in range(20):
    fd3 = os.dup(fd2)
    os.close(fd3)
    t = time.monotonic()
    assert os.path.exists(p)
    slowest = max(slowest, time.monotonic() - t)
os.write(fd2, b'still open')
os.close(fd)
os.close(fd2)
print(os.path.exists(p), 'slow' if slowest > 0.25 else 'fast')
"#,
    );
    assert_eq!(got, "False fast");
}

/// A holder that has started a child (which closes its inherited copies of the
/// descriptors) still holds its file: the refusals it causes answer at once, not after
/// the 500 ms release grace.
#[test]
fn a_holder_that_started_a_child_is_refused_against_at_once() {
    require_fuse!();
    let m = Mount::with_setup(WINDOWS, |b| std::fs::write(b.join("held"), b"x").unwrap());
    let path = m.path("held");
    let mut holder = Holder::python(&format!(
        "import subprocess, sys\n\
         f = open({path:?})\n\
         print('held', flush=True)\n\
         sys.stdin.readline()\n\
         subprocess.run(['true'])\n\
         print('ran', flush=True)\n\
         sys.stdin.read()",
        path = path.to_str().unwrap()
    ));
    holder.send_line();
    assert_eq!(holder.read_line(), "ran");
    let got = py(
        &m,
        r#"
p = os.path.join(root, 'held')
times = []
for i in range(20):
    t = time.monotonic()
    try:
        os.unlink(p); r = 'OK'
    except OSError as e:
        r = errno.errorcode[e.errno]
    times.append(time.monotonic() - t)
    assert r == 'EBUSY', r
    t = time.monotonic()
    try:
        os.rename(p, p + '.new'); r = 'OK'
    except OSError as e:
        r = errno.errorcode[e.errno]
    times.append(time.monotonic() - t)
    assert r == 'EBUSY', r
times.sort()
print('median', 'under-10ms' if times[len(times) // 2] < 0.010 else times[len(times) // 2],
      'max', 'under-250ms' if times[-1] < 0.25 else times[-1])
"#,
    );
    assert_eq!(got, "median under-10ms max under-250ms");
    holder.release();
}

/// rmdir of a non-empty directory while two other processes open and close it in a
/// loop, for 20 s: it fails every time (ENOTEMPTY, or EBUSY when an open does not share
/// delete), never returns 0, and the directory and its file stay usable. Before, about
/// one rmdir in 200,000 returned 0 and left a directory answering EACCES (346 of 260,062
/// in the issue's run; 1 of 181,621 in 5 s here): this loop makes about 235,000 calls,
/// so it caught the old code about once a run, and the fix in none of 235,644.
#[test]
fn rmdir_of_a_non_empty_directory_racing_openers_always_fails() {
    require_fuse!();
    let m = Mount::with_setup(WINDOWS, |b| {
        std::fs::create_dir(b.join("d")).unwrap();
        std::fs::write(b.join("d").join("f"), b"x").unwrap();
    });
    let d = m.path("d");
    let opener = format!(
        "import os, time\nend = time.time() + 21\n\
         while time.time() < end:\n    os.close(os.open({d:?}, os.O_RDONLY | os.O_DIRECTORY))",
        d = d.to_str().unwrap()
    );
    let mut openers: Vec<std::process::Child> = (0..2)
        .map(|_| {
            Command::new("python3")
                .args(["-c", &opener])
                .spawn()
                .expect("python3")
        })
        .collect();
    let got = py(
        &m,
        r#"
d = os.path.join(root, 'd')
outcomes, end = {}, time.time() + 20
while time.time() < end:
    try:
        os.rmdir(d); r = 'REMOVED'
    except OSError as e:
        r = errno.errorcode.get(e.errno, str(e.errno))
    outcomes[r] = outcomes.get(r, 0) + 1
bad = {k: v for k, v in outcomes.items() if k not in ('ENOTEMPTY', 'EBUSY')}
print(bad, sum(outcomes.values()) > 1000, os.listdir(d))
"#,
    );
    for o in &mut openers {
        let _ = o.kill();
        let _ = o.wait();
    }
    assert_eq!(got, "{} True ['f']");
    assert_eq!(std::fs::read(m.path("d/f")).unwrap(), b"x");
}
