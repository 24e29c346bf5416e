//! Memory-mapped views and byte-range locks through a real mount (SEMANTICS.md §4;
//! docs/semantics.md, "Mapped views"). Windows checks LockFileEx ranges for ReadFile and
//! WriteFile only: "Locking a region of a file does not prevent reading from a mapped
//! file view" (LockFileEx, Remarks), and a view's pages are written back as paging I/O,
//! which is not checked either. SQLite's WAL index depends on it: every connection maps
//! `-shm` and takes fcntl locks on bytes 120..135 of it. So a lock never turns a page
//! fault into SIGBUS, while read(2)/write(2) of the same range still get EACCES.
#![cfg(target_os = "linux")] // Mounts through Linux FUSE (/dev/fuse, fusermount3, /proc).

mod common;

use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::process::Command;

use common::{Holder, Mount};

/// Runs a Python program in a child process; returns (exit signal, exit code, stdout,
/// stderr).
fn run_python(program: &str) -> (Option<i32>, Option<i32>, String, String) {
    let out = Command::new("python3")
        .arg("-c")
        .arg(program)
        .output()
        .expect("python3");
    (
        out.status.signal(),
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A holder that takes a classic fcntl lock (`F_WRLCK` or `F_RDLCK`) on `len` bytes at
/// `start` of `path`, proven by F_GETLK from the test's side before returning.
fn lock_holder(path: &std::path::Path, kind: &str, start: u64, len: u64) -> Holder {
    Holder::python(&format!(
        "import os, fcntl, sys\n\
         fd = os.open({path:?}, os.O_RDWR)\n\
         fcntl.lockf(fd, fcntl.LOCK_{kind} | fcntl.LOCK_NB, {len}, {start})\n\
         print('held', flush=True)\n\
         sys.stdin.read()",
        path = path.to_str().expect("utf8 path"),
    ))
}

const ERRNO_OF: &str = "
import os, mmap, errno
def err(f):
    try:
        f()
        return 'OK'
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
";

/// The smallest reproduction: A takes F_WRLCK on byte 120 of an 8 KiB file; B
/// maps it MAP_SHARED and reads byte 0 (and the locked byte itself). B used to die of
/// SIGBUS; on Windows and on a plain directory it reads the bytes.
#[test]
fn a_lock_never_kills_a_reader_of_a_mapping_but_read_2_is_still_refused() {
    require_fuse!();
    let m = Mount::with_setup(&[], |b| fs::write(b.join("f"), vec![b'.'; 8192]).unwrap());
    let holder = lock_holder(&m.path("f"), "EX", 120, 1);
    let (signal, code, out, err) = run_python(&format!(
        "{ERRNO_OF}
fd = os.open({path:?}, os.O_RDWR)
view = mmap.mmap(fd, 8192, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
print(chr(view[0]), chr(view[120]), chr(view[8191]),
      err(lambda: os.pread(fd, 1, 120)), err(lambda: os.pread(fd, 1, 0)))",
        path = m.path("f").to_str().unwrap()
    ));
    assert_eq!(
        signal, None,
        "the mapping reader was killed by a signal: {err}"
    );
    assert_eq!(code, Some(0), "reader failed: {err}");
    // The mapping reads every byte, the locked one included; read(2) of the locked byte
    // is a lock conflict (EACCES), read(2) outside it works.
    assert_eq!(out, ". . . EACCES OK");
    holder.release();
}

/// Stores into a mapping under another process's shared lock (which refuses every
/// write(2), SEMANTICS.md §4) reach the backing file in place at msync.
#[test]
fn mapped_writes_under_a_shared_lock_reach_the_file_in_place() {
    require_fuse!();
    let m = Mount::with_setup(&[], |b| fs::write(b.join("f"), vec![b'.'; 8192]).unwrap());
    let holder = lock_holder(&m.path("f"), "SH", 0, 8192);
    let (signal, code, out, err) = run_python(&format!(
        "{ERRNO_OF}
fd = os.open({path:?}, os.O_RDWR)
view = mmap.mmap(fd, 8192, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
view[100:104] = b'MMAP'
view.flush()
print(err(lambda: os.pwrite(fd, b'W', 200)))",
        path = m.path("f").to_str().unwrap()
    ));
    assert_eq!(
        signal, None,
        "the mapping writer was killed by a signal: {err}"
    );
    assert_eq!(code, Some(0), "writer failed: {err}");
    assert_eq!(
        out, "EACCES",
        "write(2) under a shared lock must still fail"
    );
    let bytes = fs::read(m.backing_path("f")).unwrap();
    assert_eq!(bytes.len(), 8192);
    assert_eq!(&bytes[100..104], b"MMAP");
    assert_eq!(bytes[200], b'.');
    holder.release();
}

/// A mapping made through an appending descriptor (`open(path, "a+b")`, O_RDWR |
/// O_APPEND): the kernel writes its dirty pages back through that handle
/// (`fuse_file_mmap` links a shared writable mapping's file for writeback), and they must
/// land at their offset, not at the end of the file; an ordinary write(2) on the same
/// descriptor still appends.
#[test]
fn writeback_of_a_mapping_made_through_an_appending_descriptor_stays_in_place() {
    require_fuse!();
    let m = Mount::with_setup(&[], |b| fs::write(b.join("f"), vec![b'.'; 8192]).unwrap());
    let (signal, code, out, err) = run_python(&format!(
        "import os, mmap
f = open({path:?}, 'a+b', buffering=0)
view = mmap.mmap(f.fileno(), 8192, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
view[4096:4100] = b'PAGE'
view.flush()
f.write(b'TAIL')
print(os.fstat(f.fileno()).st_size)",
        path = m.path("f").to_str().unwrap()
    ));
    assert_eq!(signal, None, "killed by a signal: {err}");
    assert_eq!(code, Some(0), "failed: {err}");
    assert_eq!(out, "8196");
    let bytes = fs::read(m.backing_path("f")).unwrap();
    assert_eq!(bytes.len(), 8196, "the written-back page was appended");
    assert_eq!(&bytes[4096..4100], b"PAGE");
    assert_eq!(&bytes[8192..], b"TAIL");
}
