//! Failure handling: a killed daemon loses no acknowledged data and leaves a stale
//! mount that `sharefs mount` explains; bad command lines get a clear message and an
//! exit code and touch nothing; a backing directory that vanishes while mounted gives
//! errors, not a dead daemon.
#![cfg(target_os = "linux")] // Mounts through Linux FUSE (/dev/fuse, fusermount3, /proc).

mod common;

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use common::{Mount, mountinfo_line, stderr};

/// A `sharefs mount` started by a test itself (not the fixture). On drop: unmounts,
/// kills and reaps it.
struct Daemon {
    child: Option<Child>,
    mnt: PathBuf,
}

impl Daemon {
    fn start(args: &[&std::ffi::OsStr]) -> Child {
        Command::new(common::bin())
            .arg("mount")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn sharefs")
    }

    /// Starts a daemon that is expected to mount `mnt`; waits until it has.
    fn mounted(args: &[&std::ffi::OsStr], mnt: &Path) -> Daemon {
        let mut d = Daemon {
            child: Some(Self::start(args)),
            mnt: mnt.to_path_buf(),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while mountinfo_line(mnt).is_none() {
            if let Ok(Some(status)) = d.child.as_mut().unwrap().try_wait() {
                let mut err = String::new();
                let _ = d
                    .child
                    .as_mut()
                    .unwrap()
                    .stderr
                    .take()
                    .unwrap()
                    .read_to_string(&mut err);
                panic!("sharefs exited with {status} before mounting: {err}");
            }
            assert!(Instant::now() < deadline, "mount did not appear");
            std::thread::sleep(Duration::from_millis(20));
        }
        d
    }

    /// SIGTERM (a clean unmount); waits for the exit status.
    fn terminate(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("sharefs did not exit after SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if mountinfo_line(&self.mnt).is_some() {
            let _ = Command::new("fusermount3")
                .arg("-u")
                .arg(&self.mnt)
                .stderr(Stdio::null())
                .status();
        }
        if mountinfo_line(&self.mnt).is_some() {
            let _ = Command::new("umount").arg("-l").arg(&self.mnt).status();
        }
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Runs `sharefs args…` that must fail (or, for `--version`, exit) on its own within
/// 10 s. Should it mount instead, the mount is removed and the test fails.
fn run_sharefs(args: &[&std::ffi::OsStr], watch: &Path) -> Output {
    let mut child = Command::new(common::bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sharefs");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            return child.wait_with_output().unwrap();
        }
        if Instant::now() > deadline {
            let _guard = Daemon {
                child: Some(child),
                mnt: watch.to_path_buf(),
            };
            panic!("sharefs {args:?} kept running (it mounted?)");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn os(s: &str) -> &std::ffi::OsStr {
    std::ffi::OsStr::new(s)
}

/// Names and sizes in a directory, to prove a failed command touched nothing.
fn listing(dir: &Path) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = match fs::read_dir(dir) {
        Ok(rd) => rd
            .flatten()
            .map(|e| {
                (
                    e.file_name().to_string_lossy().into_owned(),
                    e.metadata().map(|m| m.len()).unwrap_or(0),
                )
            })
            .collect(),
        Err(_) => return vec![("<absent>".into(), 0)],
    };
    v.sort();
    v
}

const WRITER: &str = r#"
import errno, os, sys
path, ack = sys.argv[1], sys.argv[2]
fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
i = 0
try:
    while True:
        head = b"REC%08d:" % i
        rec = head + bytes([65 + i % 26]) * (4096 - len(head) - 1) + b"\n"
        if os.pwrite(fd, rec, i * 4096) != 4096:
            raise OSError(errno.EIO, "short write")
        os.fsync(fd)
        # Acknowledged: record the number outside the mount, atomically.
        with open(ack + ".tmp", "w") as f:
            f.write(str(i))
        os.replace(ack + ".tmp", ack)
        i += 1
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)), i, flush=True)
"#;

fn record(i: u64) -> Vec<u8> {
    let mut rec = format!("REC{i:08}:").into_bytes();
    let fill = b'A' + (i % 26) as u8;
    rec.resize(4095, fill);
    rec.push(b'\n');
    rec
}

#[test]
fn kill_9_keeps_every_acknowledged_record_and_the_stale_mount_is_explained() {
    require_fuse!();
    let mut m = Mount::new(&[]);
    let ctl = tempfile::tempdir().unwrap();
    let ack = ctl.path().join("ack");
    let mut writer = Command::new("python3")
        .arg("-c")
        .arg(WRITER)
        .arg(m.path("journal"))
        .arg(&ack)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let acked = || -> Option<u64> { fs::read_to_string(&ack).ok()?.trim().parse().ok() };
    let deadline = Instant::now() + Duration::from_secs(10);
    while acked().unwrap_or(0) < 100 {
        if let Ok(Some(s)) = writer.try_wait() {
            let mut err = String::new();
            writer
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            panic!("writer exited early ({s}): {err}");
        }
        assert!(Instant::now() < deadline, "writer too slow: {:?}", acked());
        std::thread::sleep(Duration::from_millis(5));
    }
    m.kill_daemon();
    // The writer now fails (the connection is gone) instead of hanging.
    let deadline = Instant::now() + Duration::from_secs(10);
    while writer.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = writer.kill();
            let _ = writer.wait();
            panic!("the writer hangs after the daemon was killed");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = writer.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        said.starts_with("ENOTCONN") || said.starts_with("ECONNABORTED"),
        "writer: {said} {}",
        stderr(&out)
    );
    let last = acked().expect("ack file");
    assert!(last >= 100);
    // Every acknowledged record is in the backing file, intact and in place.
    let data = fs::read(m.backing_path("journal")).unwrap();
    assert!(
        data.len() as u64 >= (last + 1) * 4096,
        "{} bytes for {} acknowledged records",
        data.len(),
        last + 1
    );
    for i in 0..=last {
        let at = (i * 4096) as usize;
        assert!(
            data[at..at + 4096] == record(i)[..],
            "acknowledged record {i} is damaged"
        );
    }

    // The mount is stale now: a new mount on it is refused with the way out.
    assert!(mountinfo_line(&m.mnt).is_some(), "the stale mount vanished");
    let refused = run_sharefs(
        &[os("mount"), m.backing.as_os_str(), m.mnt.as_os_str()],
        &m.mnt,
    );
    let msg = stderr(&refused);
    assert_eq!(refused.status.code(), Some(1), "{msg}");
    assert!(
        msg.contains("stale") && msg.contains("fusermount3 -u"),
        "unhelpful message: {msg}"
    );
    // Once it is unmounted, the same directories mount again and show the data.
    m.unmount();
    assert!(mountinfo_line(&m.mnt).is_none(), "stale mount not removed");
    let mut again = Daemon::mounted(&[m.backing.as_os_str(), m.mnt.as_os_str()], &m.mnt);
    let through = fs::read(m.path("journal")).unwrap();
    assert!(through[..4096] == record(0)[..]);
    assert!(again.terminate().success());
    assert!(mountinfo_line(&m.mnt).is_none());
}

/// One refused command line: exit code, words the message must contain, and that the
/// backing dir and mountpoint are unchanged and nothing got mounted.
fn refused(args: &[&std::ffi::OsStr], code: i32, words: &[&str], backing: &Path, mnt: &Path) {
    let (b0, m0) = (listing(backing), listing(mnt));
    let was_mounted = mountinfo_line(mnt).is_some();
    let out = run_sharefs(args, mnt);
    let msg = stderr(&out);
    assert_eq!(out.status.code(), Some(code), "{args:?}: {msg}");
    for w in words {
        assert!(msg.contains(w), "{args:?}: message lacks {w:?}: {msg}");
    }
    assert!(
        msg.starts_with("sharefs: ") || msg.starts_with("error: "),
        "{msg}"
    );
    assert_eq!(listing(backing), b0, "{args:?} touched the backing dir");
    assert_eq!(listing(mnt), m0, "{args:?} touched the mountpoint");
    assert_eq!(
        mountinfo_line(mnt).is_some(),
        was_mounted,
        "{args:?} mounted"
    );
}

#[test]
fn bad_command_lines_are_explained_and_touch_nothing() {
    require_fuse!();
    let t = tempfile::tempdir().unwrap();
    let (b, mnt) = (t.path().join("backing"), t.path().join("mnt"));
    fs::create_dir(&b).unwrap();
    fs::create_dir(&mnt).unwrap();
    fs::write(b.join("data"), b"d").unwrap();
    let missing = t.path().join("missing");
    let file = t.path().join("file");
    fs::write(&file, b"f").unwrap();
    let (bo, mo) = (b.as_os_str(), mnt.as_os_str());

    refused(
        &[os("mount"), missing.as_os_str(), mo],
        1,
        &["backing directory", "does not exist"],
        &b,
        &mnt,
    );
    refused(
        &[os("mount"), file.as_os_str(), mo],
        1,
        &["is not a directory"],
        &b,
        &mnt,
    );
    refused(
        &[os("mount"), bo, missing.as_os_str()],
        1,
        &["does not exist", "mkdir -p"],
        &b,
        &mnt,
    );
    assert!(!missing.exists(), "the missing mountpoint was created");
    refused(
        &[os("mount"), bo, file.as_os_str()],
        1,
        &["not a directory"],
        &b,
        &mnt,
    );
    let inner = b.join("inner");
    fs::create_dir(&inner).unwrap();
    refused(
        &[os("mount"), bo, inner.as_os_str()],
        1,
        &["inside the backing directory"],
        &b,
        &mnt,
    );
    fs::remove_dir(&inner).unwrap();
    refused(
        &[os("mount"), bo, mo, os("-o"), os("allow_other,bogus")],
        2,
        &["unknown mount option 'bogus'"],
        &b,
        &mnt,
    );
    refused(
        &[os("mount"), bo, mo, os("--delete"), os("later")],
        2,
        &["'later'"],
        &b,
        &mnt,
    );
    refused(
        &[os("mount"), bo, mo, os("--threads"), os("0")],
        2,
        &["threads"],
        &b,
        &mnt,
    );

    // A non-empty mountpoint is refused, then `-o nonempty` mounts over it.
    fs::write(mnt.join("hidden"), b"h").unwrap();
    refused(
        &[os("mount"), bo, mo],
        1,
        &["not empty", "-o nonempty"],
        &b,
        &mnt,
    );
    let mut d = Daemon::mounted(&[bo, mo, os("-o"), os("nonempty")], &mnt);
    assert_eq!(listing(&mnt), vec![("data".to_string(), 1)]);
    assert!(d.terminate().success());
    assert!(mountinfo_line(&mnt).is_none());
    assert_eq!(listing(&mnt), vec![("hidden".to_string(), 1)]);

    // --version prints the crate version and exits 0.
    let v = run_sharefs(&[os("--version")], &mnt);
    assert!(v.status.success());
    assert_eq!(
        String::from_utf8_lossy(&v.stdout).trim(),
        format!("sharefs {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn already_mounted_mountpoint_is_refused() {
    require_fuse!();
    let m = Mount::with_setup(&[], |b| fs::write(b.join("f"), b"x").unwrap());
    let other = tempfile::tempdir().unwrap();
    refused(
        &[os("mount"), other.path().as_os_str(), m.mnt.as_os_str()],
        1,
        &["already a mount point", "fuse.sharefs"],
        other.path(),
        &m.mnt,
    );
    // The existing mount still works.
    assert_eq!(fs::read(m.path("f")).unwrap(), b"x");
}

fn errno_of(r: std::io::Result<impl Sized>) -> Option<i32> {
    r.err().map(|e| e.raw_os_error().unwrap_or(-1))
}

#[test]
fn backing_directory_vanishing_gives_errors_not_a_dead_daemon() {
    require_fuse!();
    // No kernel caching: every operation below reaches the daemon.
    let mut m = Mount::with_setup(&["-o", "entry_timeout=0,attr_timeout=0"], |b| {
        fs::write(b.join("f"), b"file").unwrap();
        fs::create_dir(b.join("d")).unwrap();
        fs::write(b.join("d/g"), b"g").unwrap();
    });
    assert_eq!(fs::read(m.path("d/g")).unwrap(), b"g");
    let pid = m.pid();
    let status = Command::new("rm")
        .arg("-rf")
        .arg(&m.backing)
        .status()
        .unwrap();
    assert!(status.success());
    assert!(!m.backing.exists());

    let gone = [libc::ENOENT, libc::ESTALE, libc::EIO];
    let check = |what: &str, e: Option<i32>| {
        let e = e.unwrap_or_else(|| panic!("{what} succeeded on a vanished backing dir"));
        assert!(gone.contains(&e), "{what}: unexpected errno {e}");
    };
    check("stat f", errno_of(fs::metadata(m.path("f"))));
    check("read d/g", errno_of(fs::read(m.path("d/g"))));
    check("create", errno_of(fs::write(m.path("new"), b"n")));
    check("mkdir", errno_of(fs::create_dir(m.path("newdir"))));
    // The root: either still answers (the daemon holds it by fd) or fails cleanly.
    match fs::metadata(&m.mnt) {
        Ok(md) => assert!(md.is_dir()),
        Err(e) => check("stat root", e.raw_os_error()),
    }
    match fs::read_dir(&m.mnt) {
        Ok(rd) => assert_eq!(rd.flatten().count(), 0, "entries of a deleted dir"),
        Err(e) => check("readdir root", e.raw_os_error()),
    }
    // Nothing was recreated where the backing dir was.
    assert!(!m.backing.exists());
    // The daemon is alive and still serving.
    let state = fs::read_to_string(format!("/proc/{pid}/stat")).expect("daemon gone");
    let state = state.rsplit(") ").next().unwrap_or("").chars().next();
    assert!(
        matches!(state, Some('S') | Some('R') | Some('D')),
        "daemon state {state:?}"
    );
    assert!(mountinfo_line(&m.mnt).is_some(), "mount vanished");
    // And it unmounts and exits 0.
    let status = m.unmount().expect("daemon status");
    assert!(status.success(), "daemon exit: {status}\n{}", m.log());
    assert!(mountinfo_line(&m.mnt).is_none());
}
