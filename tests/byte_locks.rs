//! Byte-range locks through a real mount with unmodified programs (SEMANTICS.md §4, §7;
//! docs/semantics.md, "Byte-range locks"): fcntl F_SETLK/F_SETLKW/F_GETLK (python3
//! `fcntl.lockf` and `fcntl.fcntl` with a packed `struct flock`), OFD locks, flock, and
//! dd/cat as the other party. Every test first proves the holder holds what it should
//! (the lock table or F_GETLK), then checks the conflict.
//!
//! Errno map under test: I/O into another owner's locked range → EACCES (nothing
//! transferred); F_SETLK conflict → EAGAIN; flock LOCK_NB conflict → EWOULDBLOCK (=
//! EAGAIN); windows_locks unlock without an exact match → ENOLCK; two-party deadlock on
//! F_SETLKW → EDEADLK; interrupted F_SETLKW → EINTR (Python retries after running the
//! handler, PEP 475).
#![cfg(target_os = "linux")] // Mounts through Linux FUSE (/dev/fuse, fusermount3, /proc).

mod common;

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use common::{Mount, sh};

fn client_path() -> &'static str {
    concat!(env!("CARGO_MANIFEST_DIR"), "/clients/python")
}

/// Python prelude shared by agents and one-shot scripts: `p(rel)`, lock helpers over a
/// packed x86_64 `struct flock` ('hhqqi' + 4 bytes of padding), and `err(fn)` (errno
/// name or 'OK').
fn prelude(root: &Path) -> String {
    format!(
        r#"
import os, sys, json, fcntl, struct, errno, time, signal
sys.path.insert(0, {client:?})
root = {root:?}
def p(r): return os.path.join(root, r)
F_GETLK, F_SETLK, F_SETLKW = 5, 6, 7
F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW = 36, 37, 38
RD, WR, UN = fcntl.F_RDLCK, fcntl.F_WRLCK, fcntl.F_UNLCK
def flock_struct(typ, start, length):
    return struct.pack('hhqqi4x', typ, os.SEEK_SET, start, length, 0)
def lk(fd, typ, start, length, cmd=F_SETLK):
    fcntl.fcntl(fd, cmd, flock_struct(typ, start, length))
def ofd(fd, typ, start, length, wait=False):
    lk(fd, typ, start, length, F_OFD_SETLKW if wait else F_OFD_SETLK)
def getlk(fd, typ, start, length, cmd=F_GETLK):
    t, _w, s, l, pid = struct.unpack('hhqqi4x', fcntl.fcntl(fd, cmd, flock_struct(typ, start, length)))
    return '%d %d %d %d' % (t, s, l, pid)
def name(e):
    return {{errno.EDEADLK: 'EDEADLK', errno.EAGAIN: 'EAGAIN'}}.get(e, errno.errorcode.get(e, str(e)))
def err(f):
    try:
        f()
        return 'OK'
    except OSError as e:
        return name(e.errno)
"#,
        client = client_path(),
        root = root.to_str().unwrap(),
    )
}

/// Runs a one-shot Python program (with the prelude) and returns its stdout, trimmed.
fn py(m: &Mount, body: &str) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(format!("{}\n{body}", prelude(&m.mnt)))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python failed:\n{}\n{}",
        common::stderr(&out),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A long-lived python3 process driven line by line: each command is Python code run
/// in one persistent namespace; the reply is the value of `out` ('OK' unless the code
/// sets it) or the errno name of an OSError. Killed and reaped on drop.
struct Agent {
    child: Child,
    stdin: ChildStdin,
    rx: Receiver<String>,
}

impl Agent {
    fn new(m: &Mount) -> Agent {
        Self::spawn(&m.mnt, "")
    }

    fn spawn(root: &Path, setup: &str) -> Agent {
        let program = format!(
            r#"{prelude}
{setup}
print(json.dumps('ready'), flush=True)
for line in sys.stdin:
    code = json.loads(line)
    out = 'OK'
    try:
        exec(code)
        r = out
    except OSError as e:
        r = name(e.errno)
    print(json.dumps(str(r)), flush=True)
"#,
            prelude = prelude(root)
        );
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(program)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let text: String = serde_json::from_str(&line).unwrap_or(line);
                if tx.send(text).is_err() {
                    break;
                }
            }
        });
        let mut a = Agent { child, stdin, rx };
        assert_eq!(a.recv(Duration::from_secs(10)).as_deref(), Some("ready"));
        a
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a command without waiting for its reply (for calls that block).
    fn send(&mut self, code: &str) {
        let line = serde_json::to_string(code).unwrap();
        writeln!(self.stdin, "{line}").unwrap();
        self.stdin.flush().unwrap();
    }

    /// The next reply, if one comes within `timeout`.
    fn recv(&mut self, timeout: Duration) -> Option<String> {
        match self.rx.recv_timeout(timeout) {
            Ok(s) => Some(s),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => {
                let _ = self.child.try_wait();
                None
            }
        }
    }

    /// Runs a command and returns its reply (panics after 10 s).
    fn run(&mut self, code: &str) -> String {
        self.send(code);
        self.recv(Duration::from_secs(10))
            .unwrap_or_else(|| panic!("no reply to {code:?}"))
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A spawned process killed and reaped on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn rows(m: &Mount) -> Vec<serde_json::Value> {
    let text = fs::read_to_string(m.path(".sharefs/locks.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The RANGE rows as (pid, start, end or None for EOF, mode), sorted.
fn ranges(m: &Mount) -> Vec<(u64, u64, Option<u64>, String)> {
    let mut v: Vec<_> = rows(m)
        .into_iter()
        .filter(|r| r["kind"] == "RANGE")
        .map(|r| {
            (
                r["pid"].as_u64().unwrap(),
                r["start"].as_u64().unwrap(),
                r["end"].as_u64(),
                r["mode"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

/// Polls until `ranges(m)` equals `want` (releases arrive asynchronously).
fn wait_ranges(m: &Mount, want: &[(u64, u64, Option<u64>, &str)]) {
    let want: Vec<(u64, u64, Option<u64>, String)> = want
        .iter()
        .map(|&(p, s, e, mode)| (p, s, e, mode.to_string()))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let got = ranges(m);
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "lock table: {got:?}, want {want:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn conflicts(m: &Mount) -> Vec<serde_json::Value> {
    let text = fs::read_to_string(m.path(".sharefs/conflicts.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn filled(len: usize, byte: u8) -> impl FnOnce(&Path) {
    move |b: &Path| fs::write(b.join("f"), vec![byte; len]).unwrap()
}

/// Runs a shell command in the mount; returns (success, stderr).
fn shell(m: &Mount, script: &str) -> (bool, String) {
    let out = sh(&m.mnt, script);
    (out.status.success(), common::stderr(&out))
}

const OPEN_RW: &str = "fd = os.open(p('f'), os.O_RDWR)";

// ---------------------------------------------------------------------------------------
// Mandatory I/O
// ---------------------------------------------------------------------------------------

#[test]
fn exclusive_lock_fails_others_io_inside_the_range_only() {
    require_fuse!();
    let m = Mount::with_setup(&[], filled(16384, b'.'));
    let mut a = Agent::new(&m);
    a.run(OPEN_RW);
    // lockf(len, start): bytes 4096..8191.
    assert_eq!(
        a.run("fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 4096, 4096)"),
        "OK"
    );
    // The holder holds it: F_GETLK from another process names its pid and range, and
    // the lock table shows the RANGE row.
    let got = py(
        &m,
        "fd = os.open(p('f'), os.O_RDONLY)\nprint(getlk(fd, WR, 0, 0))",
    );
    assert_eq!(got, format!("1 4096 4096 {}", a.pid()));
    assert_eq!(
        ranges(&m),
        vec![(a.pid() as u64, 4096, Some(8191), "EXCLUSIVE".to_string())]
    );

    // dd and cat from another process: inside fails with EACCES, outside works.
    let (ok, e) = shell(&m, "dd if=f of=/dev/null bs=4096 skip=1 count=1");
    assert!(
        !ok && e.contains("Permission denied"),
        "dd read inside: {e}"
    );
    let (ok, e) = shell(&m, "dd if=f of=/dev/null bs=4096 skip=0 count=1");
    assert!(ok, "dd read before the range: {e}");
    let (ok, e) = shell(&m, "dd if=f of=/dev/null bs=4096 skip=2 count=2");
    assert!(ok, "dd read after the range: {e}");
    let (ok, e) = shell(
        &m,
        "dd if=/dev/zero of=f bs=4096 seek=1 count=1 conv=notrunc",
    );
    assert!(
        !ok && e.contains("Permission denied"),
        "dd write inside: {e}"
    );
    let (ok, e) = shell(
        &m,
        "dd if=/dev/zero of=f bs=4096 seek=3 count=1 conv=notrunc",
    );
    assert!(ok, "dd write after the range: {e}");
    let (ok, e) = shell(&m, "cat f >/dev/null");
    assert!(!ok && e.contains("Permission denied"), "cat: {e}");

    // Python: partial overlaps count; nothing is transferred on a refusal.
    let out = py(
        &m,
        r#"
fd = os.open(p('f'), os.O_RDWR)
print(err(lambda: os.pread(fd, 10, 5000)))
print(err(lambda: os.pread(fd, 200, 4000)))
print(err(lambda: os.pread(fd, 1, 8191)))
print(len(os.pread(fd, 4096, 0)), len(os.pread(fd, 100, 8192)))
print(err(lambda: os.pwrite(fd, b'X' * 10, 6000)))
print(err(lambda: os.pwrite(fd, b'X' * 20, 4090)))
print(err(lambda: os.pwrite(fd, b'X', 8191)))
print(os.pwrite(fd, b'Y' * 10, 9000), os.pwrite(fd, b'Y' * 6, 4090))
"#,
    );
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "EACCES", "EACCES", "EACCES", "4096 100", "EACCES", "EACCES", "EACCES", "10 6"
        ],
        "{out}"
    );
    let data = fs::read(m.backing_path("f")).unwrap();
    assert!(
        data[4096..8192].iter().all(|&b| b == b'.'),
        "a refused write changed the locked range"
    );
    assert_eq!(&data[4090..4096], b"YYYYYY");
    assert_eq!(&data[9000..9010], b"YYYYYYYYYY");
    assert!(data[12288..16384].iter().all(|&b| b == 0), "dd's write");

    // The holder reads and writes its range, through any of its descriptors (a classic
    // lock belongs to the process).
    assert_eq!(a.run("out = len(os.pread(fd, 4096, 4096))"), "4096");
    assert_eq!(a.run("out = os.pwrite(fd, b'HHHH', 5000)"), "4");
    a.run("fd2 = os.open(p('f'), os.O_RDONLY)");
    assert_eq!(a.run("out = os.pread(fd2, 4, 5000)"), "b'HHHH'");
    assert_eq!(&fs::read(m.backing_path("f")).unwrap()[5000..5004], b"HHHH");
    // And the lock is still there (opening another descriptor does not drop it).
    assert_eq!(ranges(&m).len(), 1);
}

#[test]
fn shared_lock_blocks_every_write_the_holders_too_but_no_read() {
    require_fuse!();
    let m = Mount::with_setup(&[], filled(1000, b'.'));
    let mut a = Agent::new(&m);
    a.run(OPEN_RW);
    assert_eq!(
        a.run("fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB, 100, 0)"),
        "OK"
    );
    let got = py(
        &m,
        "fd = os.open(p('f'), os.O_RDONLY)\nprint(getlk(fd, WR, 0, 0))",
    );
    assert_eq!(
        got,
        format!("0 0 100 {}", a.pid()),
        "F_GETLK sees the shared lock"
    );
    assert_eq!(
        ranges(&m),
        vec![(a.pid() as u64, 0, Some(99), "SHARED".to_string())]
    );
    // The holder: reads yes, writes no (SEMANTICS.md §4: "the holder included").
    assert_eq!(a.run("out = len(os.pread(fd, 100, 0))"), "100");
    assert_eq!(a.run("os.pwrite(fd, b'a', 10)"), "EACCES");
    assert_eq!(a.run("os.pwrite(fd, b'a', 99)"), "EACCES");
    assert_eq!(a.run("out = os.pwrite(fd, b'a', 100)"), "1");
    // Everyone else: the same.
    let out = py(
        &m,
        r#"
fd = os.open(p('f'), os.O_RDWR)
print(len(os.pread(fd, 100, 0)))
print(err(lambda: os.pwrite(fd, b'b', 50)))
print(os.pwrite(fd, b'b', 101))
# Shared locks stack across owners; an exclusive one is refused.
print(err(lambda: fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB, 10, 0)))
print(err(lambda: fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 50)))
"#,
    );
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["100", "EACCES", "1", "OK", "EAGAIN"],
        "{out}"
    );
    let (ok, e) = shell(&m, "dd if=f of=/dev/null bs=100 count=1");
    assert!(ok, "dd read under a shared lock: {e}");
    let (ok, e) = shell(&m, "dd if=/dev/zero of=f bs=10 count=1 conv=notrunc");
    assert!(!ok && e.contains("Permission denied"), "dd write: {e}");
    let data = fs::read(m.backing_path("f")).unwrap();
    assert!(data[..100].iter().all(|&b| b == b'.'), "{:?}", &data[..100]);
    assert_eq!((data[100], data[101]), (b'a', b'b'));
}

// ---------------------------------------------------------------------------------------
// F_SETLKW: waiting, waking, signals, deadlock
// ---------------------------------------------------------------------------------------

/// How long a waiter must stay blocked before the holder lets go (proves it waited).
const HOLD: Duration = Duration::from_millis(400);

#[test]
fn setlkw_waits_and_wakes_when_the_holder_unlocks_closes_or_dies() {
    require_fuse!();
    let m = Mount::with_setup(&[], filled(100, b'.'));
    for how in ["unlock", "close", "kill"] {
        let mut a = Agent::new(&m);
        a.run(OPEN_RW);
        assert_eq!(a.run("fcntl.lockf(fd, fcntl.LOCK_EX, 10, 0)"), "OK");
        wait_ranges(&m, &[(a.pid() as u64, 0, Some(9), "EXCLUSIVE")]);
        let mut b = Agent::new(&m);
        b.run(OPEN_RW);
        b.send("t0 = time.time(); fcntl.lockf(fd, fcntl.LOCK_EX, 10, 0); out = time.time() - t0");
        assert_eq!(b.recv(HOLD), None, "{how}: F_SETLKW did not wait");
        let released = Instant::now();
        match how {
            "unlock" => assert_eq!(a.run("fcntl.lockf(fd, fcntl.LOCK_UN, 10, 0)"), "OK"),
            "close" => assert_eq!(a.run("os.close(fd)"), "OK"),
            _ => a.kill(),
        }
        let waited: f64 = b
            .recv(Duration::from_secs(3))
            .unwrap_or_else(|| panic!("{how}: the waiter was not woken"))
            .parse()
            .unwrap_or_else(|e| panic!("{how}: {e}"));
        let latency = released.elapsed();
        assert!(waited >= HOLD.as_secs_f64() * 0.9, "{how}: waited {waited}");
        assert!(
            latency < Duration::from_secs(2),
            "{how}: woke after {latency:?}"
        );
        // The waiter holds it now.
        let got = py(
            &m,
            "fd = os.open(p('f'), os.O_RDONLY)\nprint(getlk(fd, WR, 0, 0))",
        );
        assert_eq!(got, format!("1 0 10 {}", b.pid()), "{how}");
        drop(b);
        drop(a);
        wait_ranges(&m, &[]);
    }
}

/// Spawns `python3 -c prelude+body`; returns the process once it printed "waiting".
fn spawn_waiter(m: &Mount, body: &str) -> (Proc, BufReader<std::process::ChildStdout>) {
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(format!("{}\n{body}", prelude(&m.mnt)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "waiting");
    wait_blocked_in_lock_call(child.id());
    (Proc(child), out)
}

/// Waits until `pid` is inside fcntl(2) or flock(2) (`/proc/PID/syscall`). A signal sent
/// before the call starts is handled by Python first and the call then blocks with
/// nothing pending, on any filesystem; under load "waiting" can be printed well before
/// the call is made.
fn wait_blocked_in_lock_call(pid: u32) {
    let calls = [libc::SYS_fcntl.to_string(), libc::SYS_flock.to_string()];
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let now = fs::read_to_string(format!("/proc/{pid}/syscall")).unwrap_or_default();
        if calls
            .iter()
            .any(|c| now.split(' ').next() == Some(c.as_str()))
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the waiter never blocked in fcntl/flock: {now}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn kill(pid: u32, sig: &str) {
    let st = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(st.success());
}

fn wait_exit(p: &mut Proc, within: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Some(st) = p.0.try_wait().unwrap() {
            return Some(st);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

#[test]
fn sigint_and_sigkill_end_a_blocked_setlkw_at_once() {
    require_fuse!();
    let m = Mount::with_setup(&[], filled(100, b'.'));
    let mut a = Agent::new(&m);
    a.run(OPEN_RW);
    assert_eq!(a.run("fcntl.lockf(fd, fcntl.LOCK_EX, 10, 0)"), "OK");
    wait_ranges(&m, &[(a.pid() as u64, 0, Some(9), "EXCLUSIVE")]);
    // Python installs its KeyboardInterrupt handler only if SIGINT is not ignored at
    // start, and a shell ignores SIGINT for background jobs: install it explicitly, so
    // the test does not depend on how the suite was started.
    let body = "signal.signal(signal.SIGINT, signal.default_int_handler)\nfd = os.open(p('f'), os.O_RDWR)\nprint('waiting', flush=True)\nfcntl.lockf(fd, fcntl.LOCK_EX, 10, 0)\nprint('GOT', flush=True)\nsys.stdin.read()";
    for sig in ["INT", "KILL"] {
        let (mut w, _out) = spawn_waiter(&m, body);
        std::thread::sleep(HOLD);
        assert!(
            w.0.try_wait().unwrap().is_none(),
            "SIG{sig}: the waiter did not block"
        );
        let sent = Instant::now();
        kill(w.0.id(), sig);
        let st = wait_exit(&mut w, Duration::from_secs(2)).unwrap_or_else(|| {
            let pid = w.0.id();
            let syscall = fs::read_to_string(format!("/proc/{pid}/syscall")).unwrap_or_default();
            let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            let signals: Vec<&str> = status
                .lines()
                .filter(|l| {
                    ["State", "SigPnd", "ShdPnd", "SigBlk", "SigIgn"]
                        .iter()
                        .any(|k| l.starts_with(k))
                })
                .collect();
            panic!(
                "SIG{sig} did not end the F_SETLKW wait within 2 s; waiter syscall: {syscall}; \
                 {signals:?}; daemon log:\n{}",
                m.log()
            )
        });
        eprintln!(
            "SIG{sig}: waiter ended {:?} after the signal",
            sent.elapsed()
        );
        assert!(!st.success());
        if sig == "INT" {
            let mut e = String::new();
            use std::io::Read;
            w.0.stderr.take().unwrap().read_to_string(&mut e).unwrap();
            assert!(e.contains("KeyboardInterrupt"), "{e}");
        }
    }
    // The interrupted waits were dropped, not granted later: when the holder unlocks,
    // the lock is free for a newcomer at once.
    assert_eq!(a.run("fcntl.lockf(fd, fcntl.LOCK_UN, 10, 0)"), "OK");
    wait_ranges(&m, &[]);
    let out = py(
        &m,
        "fd = os.open(p('f'), os.O_RDWR)\nprint(err(lambda: fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 0)))",
    );
    assert_eq!(out, "OK");
}

#[test]
fn a_handled_signal_interrupts_the_wait_and_python_retries_until_granted() {
    require_fuse!();
    let m = Mount::with_setup(&[], filled(100, b'.'));
    let mut a = Agent::new(&m);
    a.run(OPEN_RW);
    assert_eq!(a.run("fcntl.lockf(fd, fcntl.LOCK_EX, 10, 0)"), "OK");
    wait_ranges(&m, &[(a.pid() as u64, 0, Some(9), "EXCLUSIVE")]);
    let (mut w, mut out) = spawn_waiter(
        &m,
        r#"
handled = []
signal.signal(signal.SIGUSR1, lambda s, f: handled.append(time.time()))
fd = os.open(p('f'), os.O_RDWR)
t0 = time.time()
print('waiting', flush=True)
fcntl.lockf(fd, fcntl.LOCK_EX, 10, 0)
print(json.dumps({'handled': [h - t0 for h in handled], 'got': time.time() - t0}), flush=True)
sys.stdin.read()
"#,
    );
    std::thread::sleep(HOLD);
    kill(w.0.id(), "USR1");
    // The wait goes on after the handler (the lock is still held).
    std::thread::sleep(HOLD);
    assert!(w.0.try_wait().unwrap().is_none(), "the waiter died");
    assert_eq!(
        ranges(&m).len(),
        1,
        "granted while still held: {:?}",
        ranges(&m)
    );
    assert_eq!(a.run("fcntl.lockf(fd, fcntl.LOCK_UN, 10, 0)"), "OK");
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("waiter said {line:?}: {e}"));
    let handled: Vec<f64> = v["handled"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    let got = v["got"].as_f64().unwrap();
    assert_eq!(handled.len(), 1, "{v}");
    // The handler ran while waiting (EINTR at once), well before the lock came.
    assert!(
        handled[0] + 0.25 < got,
        "handler at {handled:?}, lock at {got}"
    );
    assert!(got >= 2.0 * HOLD.as_secs_f64() * 0.9, "{v}");
    wait_ranges(&m, &[(w.0.id() as u64, 0, Some(9), "EXCLUSIVE")]);
}

#[test]
fn crossed_setlkw_waits_get_edeadlk() {
    require_fuse!();
    let m = Mount::with_setup(&[], filled(100, b'.'));
    let mut a = Agent::new(&m);
    let mut b = Agent::new(&m);
    a.run(OPEN_RW);
    b.run(OPEN_RW);
    assert_eq!(a.run("fcntl.lockf(fd, fcntl.LOCK_EX, 10, 0)"), "OK"); // 0-9
    assert_eq!(b.run("fcntl.lockf(fd, fcntl.LOCK_EX, 10, 10)"), "OK"); // 10-19
    let (pa, pb) = (a.pid() as u64, b.pid() as u64);
    let mut want = vec![
        (pa, 0, Some(9), "EXCLUSIVE".to_string()),
        (pb, 10, Some(19), "EXCLUSIVE".to_string()),
    ];
    want.sort();
    assert_eq!(ranges(&m), want);
    // A waits for B's range.
    a.send("fcntl.lockf(fd, fcntl.LOCK_EX, 10, 10)");
    assert_eq!(a.recv(HOLD), None, "A did not wait");
    // B now waits for A's range: a deadlock, refused at once.
    let t = Instant::now();
    assert_eq!(b.run("fcntl.lockf(fd, fcntl.LOCK_EX, 10, 0)"), "EDEADLK");
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    // B gives up its range: A gets it.
    assert_eq!(b.run("fcntl.lockf(fd, fcntl.LOCK_UN, 10, 10)"), "OK");
    assert_eq!(a.recv(Duration::from_secs(3)).as_deref(), Some("OK"));
    // A holds 0-19 now (as one lock or as two adjacent ones), B nothing.
    let got = py(
        &m,
        "fd = os.open(p('f'), os.O_RDONLY)\nprint(getlk(fd, WR, 10, 10))\nprint(getlk(fd, RD, 0, 20))",
    );
    for line in got.lines() {
        assert!(
            line.starts_with("1 ") && line.ends_with(&format!(" {pa}")),
            "{got}"
        );
    }
    let r = ranges(&m);
    assert!(!r.is_empty() && r.iter().all(|x| x.0 == pa), "{r:?}");
}

// ---------------------------------------------------------------------------------------
// flock, OFD and classic owners
// ---------------------------------------------------------------------------------------

#[test]
fn flock_conflicts_are_ewouldblock_and_lock_the_whole_file() {
    require_fuse!();
    let m = Mount::with_setup(&[], filled(100, b'.'));
    let mut a = Agent::new(&m);
    a.run(OPEN_RW);
    assert_eq!(
        a.run("fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)"),
        "OK"
    );
    assert_eq!(
        ranges(&m),
        vec![(a.pid() as u64, 0, None, "EXCLUSIVE".to_string())]
    );
    let out = py(
        &m,
        r#"
fd = os.open(p('f'), os.O_RDWR)
def nb(op):
    try:
        fcntl.flock(fd, op | fcntl.LOCK_NB)
        return 'OK'
    except OSError as e:
        return 'EWOULDBLOCK' if e.errno == errno.EWOULDBLOCK else name(e.errno)
print(nb(fcntl.LOCK_EX))
print(nb(fcntl.LOCK_SH))
print(err(lambda: os.pread(fd, 1, 99)))
"#,
    );
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["EWOULDBLOCK", "EWOULDBLOCK", "EACCES"]
    );
    // flock belongs to the open file description: another open in the holder's own
    // process conflicts too.
    a.run("fd3 = os.open(p('f'), os.O_RDWR)");
    assert_eq!(
        a.run("fcntl.flock(fd3, fcntl.LOCK_EX | fcntl.LOCK_NB)"),
        "EAGAIN"
    );
    assert_eq!(a.run("out = len(os.pread(fd, 100, 0))"), "100");
    assert_eq!(a.run("fcntl.flock(fd, fcntl.LOCK_UN)"), "OK");
    wait_ranges(&m, &[]);
    let out = py(
        &m,
        "fd = os.open(p('f'), os.O_RDWR)\nprint(err(lambda: fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)))",
    );
    assert_eq!(out, "OK");
}

#[test]
fn ofd_locks_of_two_descriptors_in_one_process_conflict() {
    require_fuse!();
    let m = Mount::with_setup(&[], filled(100, b'.'));
    let mut a = Agent::new(&m);
    a.run("fd1 = os.open(p('f'), os.O_RDWR); fd2 = os.open(p('f'), os.O_RDWR)");
    assert_eq!(a.run("ofd(fd1, WR, 0, 10)"), "OK");
    assert_eq!(
        ranges(&m),
        vec![(a.pid() as u64, 0, Some(9), "EXCLUSIVE".to_string())]
    );
    // F_OFD_GETLK through the other descriptor sees the lock.
    let got = a.run("out = getlk(fd2, WR, 0, 0, F_OFD_GETLK)");
    assert!(got.starts_with("1 0 10 "), "{got}");
    assert_eq!(a.run("ofd(fd2, WR, 0, 10)"), "EAGAIN");
    assert_eq!(a.run("ofd(fd2, RD, 9, 1)"), "EAGAIN");
    assert_eq!(a.run("ofd(fd2, WR, 10, 10)"), "OK", "adjacent range");
    // Classic and OFD locks conflict as well (Linux does the same).
    assert_eq!(a.run("lk(fd2, WR, 5, 1)"), "EAGAIN");
    // Mandatory I/O: the other descriptor is another handle.
    assert_eq!(a.run("os.pread(fd2, 10, 0)"), "EACCES");
    assert_eq!(a.run("os.pwrite(fd2, b'x', 0)"), "EACCES");
    assert_eq!(a.run("out = len(os.pread(fd1, 10, 0))"), "10");
    assert_eq!(a.run("out = os.pwrite(fd1, b'y', 0)"), "1");
    // Whereas classic locks of one process never conflict with each other.
    assert_eq!(a.run("lk(fd1, WR, 50, 10)"), "OK");
    assert_eq!(a.run("lk(fd2, WR, 50, 10)"), "OK");
    assert_eq!(fs::read(m.backing_path("f")).unwrap()[0], b'y');
}

#[test]
fn closing_any_descriptor_drops_classic_locks_but_not_ofd_locks() {
    require_fuse!();
    let m = Mount::with_setup(&[], filled(200, b'.'));
    let mut a = Agent::new(&m);
    a.run("fd1 = os.open(p('f'), os.O_RDWR); fd3 = os.open(p('f'), os.O_RDWR)");
    assert_eq!(a.run("lk(fd1, WR, 0, 10)"), "OK");
    assert_eq!(a.run("ofd(fd3, WR, 100, 10)"), "OK");
    let pa = a.pid() as u64;
    wait_ranges(
        &m,
        &[
            (pa, 0, Some(9), "EXCLUSIVE"),
            (pa, 100, Some(109), "EXCLUSIVE"),
        ],
    );
    let got = py(
        &m,
        "fd = os.open(p('f'), os.O_RDONLY)\nprint(getlk(fd, WR, 0, 10))",
    );
    assert_eq!(got, format!("1 0 10 {pa}"));
    // close() of an unrelated descriptor of the same file drops the classic lock only.
    a.run("fd2 = os.open(p('f'), os.O_RDONLY); os.close(fd2)");
    wait_ranges(&m, &[(pa, 100, Some(109), "EXCLUSIVE")]);
    let out = py(
        &m,
        r#"
fd = os.open(p('f'), os.O_RDWR)
print(err(lambda: lk(fd, WR, 0, 10)))
print(err(lambda: lk(fd, RD, 100, 10)))
print(err(lambda: os.pread(fd, 10, 100)))
print(len(os.pread(fd, 10, 0)))
"#,
    );
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["OK", "EAGAIN", "EACCES", "10"]
    );
    // The OFD lock goes with its own descriptor.
    a.run("os.close(fd3)");
    wait_ranges(&m, &[]);
}

#[test]
fn locks_vanish_when_the_holder_is_killed() {
    require_fuse!();
    let m = Mount::with_setup(&[], filled(100, b'.'));
    let mut a = Agent::new(&m);
    a.run("fd1 = os.open(p('f'), os.O_RDWR); fd2 = os.open(p('f'), os.O_RDWR)");
    // A classic lock (to EOF, then cut back to 0-49) and an OFD lock beside it.
    assert_eq!(a.run("lk(fd1, WR, 0, 0)"), "OK");
    assert_eq!(a.run("lk(fd1, UN, 50, 0)"), "OK");
    assert_eq!(a.run("ofd(fd2, RD, 50, 0)"), "OK");
    let pa = a.pid() as u64;
    wait_ranges(
        &m,
        &[(pa, 0, Some(49), "EXCLUSIVE"), (pa, 50, None, "SHARED")],
    );
    assert_eq!(
        py(
            &m,
            "fd = os.open(p('f'), os.O_RDONLY)\nprint(err(lambda: os.pread(fd, 1, 0)))"
        ),
        "EACCES"
    );
    a.kill();
    wait_ranges(&m, &[]);
    let out = py(
        &m,
        "fd = os.open(p('f'), os.O_RDWR)\nprint(len(os.pread(fd, 100, 0)))\nprint(err(lambda: lk(fd, WR, 0, 0)))",
    );
    assert_eq!(out.lines().collect::<Vec<_>>(), ["100", "OK"]);
}

#[test]
fn append_into_a_range_locked_past_eof_fails() {
    require_fuse!();
    let m = Mount::with_setup(&[], filled(100, b'.'));
    let mut a = Agent::new(&m);
    a.run(OPEN_RW);
    // From the current end of file to EOF-forever: appends land there.
    assert_eq!(a.run("lk(fd, WR, 100, 0)"), "OK");
    wait_ranges(&m, &[(a.pid() as u64, 100, None, "EXCLUSIVE")]);
    // F_GETLK reports a to-EOF lock with l_len 0.
    let got = py(
        &m,
        "fd = os.open(p('f'), os.O_RDONLY)\nprint(getlk(fd, RD, 0, 0))",
    );
    assert_eq!(got, format!("1 100 0 {}", a.pid()));
    // (coreutils echo: dash's builtin reports every write error as "I/O error")
    let (ok, e) = shell(&m, "/bin/echo more >> f");
    assert!(!ok && e.contains("Permission denied"), "append: {e}");
    let out = py(
        &m,
        "fd = os.open(p('f'), os.O_WRONLY | os.O_APPEND)\nprint(err(lambda: os.write(fd, b'x')))",
    );
    assert_eq!(out, "EACCES");
    assert_eq!(fs::metadata(m.backing_path("f")).unwrap().len(), 100);
    // The holder appends.
    a.run("fa = os.open(p('f'), os.O_WRONLY | os.O_APPEND)");
    assert_eq!(a.run("out = os.write(fa, b'mine')"), "4");
    assert_eq!(fs::metadata(m.backing_path("f")).unwrap().len(), 104);
}

/// A classic POSIX lock belongs to the process that took it (POSIX: not inherited by
/// fork), and on Windows a lock belongs to the handle *and* the process (an inherited
/// handle in a child process is not the owner). A forked child that shares the
/// holder's descriptor is another process: its F_SETLK is refused, and so must be its
/// reads and writes of the range.
#[test]
fn forked_child_sharing_the_descriptor_does_not_hold_its_parents_classic_lock() {
    require_fuse!();
    let m = Mount::with_setup(&[], filled(100, b'.'));
    let out = py(
        &m,
        r#"
fd = os.open(p('f'), os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 0)
r, w = os.pipe()
child = os.fork()
if child == 0:
    res = [getlk(fd, WR, 0, 10),
           err(lambda: fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 0)),
           err(lambda: os.pread(fd, 10, 0)),
           err(lambda: os.pwrite(fd, b'c', 0))]
    os.write(w, json.dumps(res).encode())
    os._exit(0)
os.close(w)
os.waitpid(child, 0)
res = json.loads(os.read(r, 4096))
print(os.getpid())
for x in res: print(x)
# The child's exit (its close of the inherited descriptor) left the lock alone.
fd2 = os.open(p('f'), os.O_RDONLY)
print(err(lambda: os.pread(fd2, 1, 0)))
"#,
    );
    let lines: Vec<&str> = out.lines().collect();
    let parent = lines[0];
    assert_eq!(
        lines[1],
        format!("1 0 10 {parent}"),
        "the child sees the parent's lock"
    );
    assert_eq!(lines[2], "EAGAIN", "the child cannot lock the range");
    assert_eq!(
        lines[3..5],
        ["EACCES", "EACCES"],
        "the child read/wrote the parent's locked range through the inherited descriptor"
    );
    assert_eq!(lines[5], "OK");
    assert_eq!(fs::read(m.backing_path("f")).unwrap()[0], b'.');
}

/// copy_file_range reads its source range and writes its destination range: both
/// must respect the mandatory locks like read and write do.
#[test]
fn copy_file_range_into_or_out_of_a_locked_range_fails() {
    require_fuse!();
    let m = Mount::with_setup(&[], |b| {
        fs::write(b.join("f"), vec![b'.'; 100]).unwrap();
        fs::write(b.join("g"), vec![b'G'; 100]).unwrap();
    });
    let mut a = Agent::new(&m);
    a.run(OPEN_RW);
    assert_eq!(a.run("lk(fd, WR, 0, 50)"), "OK");
    wait_ranges(&m, &[(a.pid() as u64, 0, Some(49), "EXCLUSIVE")]);
    let out = py(
        &m,
        r#"
f = os.open(p('f'), os.O_RDWR)
g = os.open(p('g'), os.O_RDWR)
print(err(lambda: os.pread(f, 10, 0)))
print(err(lambda: os.copy_file_range(f, g, 10, 60, 80)))  # out of 60-69: free
print(err(lambda: os.copy_file_range(g, f, 10, 0, 60)))   # into 60-69: free
print(err(lambda: os.copy_file_range(g, f, 10, 0, 10)))   # into 10-19: locked
print(err(lambda: os.copy_file_range(f, g, 10, 10, 20)))  # out of 10-19: locked
"#,
    );
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["EACCES", "OK", "OK", "EACCES", "EACCES"],
        "{out}"
    );
    let f = fs::read(m.backing_path("f")).unwrap();
    assert!(
        f[..50].iter().all(|&b| b == b'.'),
        "locked range written: {f:?}"
    );
    assert_eq!(&f[60..70], b"GGGGGGGGGG");
    let g = fs::read(m.backing_path("g")).unwrap();
    assert!(
        g[20..30].iter().all(|&b| b == b'G'),
        "locked range read: {g:?}"
    );
}

/// Punching a hole zeroes the bytes: into another owner's locked range it is a write
/// and must fail like one (outside the range it works).
#[test]
fn punching_a_hole_into_another_owners_locked_range_fails() {
    require_fuse!();
    let m = Mount::with_setup(&[], filled(8192, b'.'));
    let mut a = Agent::new(&m);
    a.run(OPEN_RW);
    assert_eq!(a.run("lk(fd, RD, 0, 4096)"), "OK");
    wait_ranges(&m, &[(a.pid() as u64, 0, Some(4095), "SHARED")]);
    let (ok, e) = shell(&m, "fallocate --punch-hole --offset 4096 --length 4096 f");
    assert!(ok, "punch outside the range: {e}");
    let (ok, e) = shell(&m, "fallocate --punch-hole --offset 0 --length 4096 f");
    let data = fs::read(m.backing_path("f")).unwrap();
    assert!(
        data[..4096].iter().all(|&b| b == b'.'),
        "a hole was punched into a locked range (fallocate said ok={ok}: {e})"
    );
    assert!(!ok && e.contains("Permission denied"), "{e}");
    assert!(data[4096..].iter().all(|&b| b == 0));
}

// ---------------------------------------------------------------------------------------
// windows_locks handles (LockFileEx semantics)
// ---------------------------------------------------------------------------------------

#[test]
fn windows_locks_stack_refuse_own_overlaps_and_need_exact_unlocks() {
    require_fuse!();
    let m = Mount::with_setup(&[], filled(300, b'.'));
    let mut a = Agent::spawn(&m.mnt, "import sharefs_client as sc");
    let open = "sc.open_fd(p('f'), os.O_RDWR, access='read,write', share='read,write', windows_locks=True)";
    a.run(&format!("fa = {open}; fb = {open}"));
    let pa = a.pid() as u64;
    // Shared locks stack: two rows for the same range of one handle.
    assert_eq!(a.run("ofd(fa, RD, 0, 10)"), "OK");
    assert_eq!(a.run("ofd(fa, RD, 0, 10)"), "OK");
    assert_eq!(
        ranges(&m),
        vec![
            (pa, 0, Some(9), "SHARED".to_string()),
            (pa, 0, Some(9), "SHARED".to_string())
        ]
    );
    // An exclusive lock conflicts with the handle's own shared locks.
    assert_eq!(a.run("ofd(fa, WR, 0, 10)"), "EAGAIN");
    assert_eq!(a.run("ofd(fa, WR, 5, 1)"), "EAGAIN");
    // Unlock must match exactly; each stacked lock needs its own unlock.
    assert_eq!(a.run("ofd(fa, UN, 0, 5)"), "ENOLCK");
    assert_eq!(a.run("ofd(fa, UN, 0, 20)"), "ENOLCK");
    assert_eq!(a.run("ofd(fa, UN, 0, 10)"), "OK");
    assert_eq!(ranges(&m).len(), 1);
    assert_eq!(a.run("ofd(fa, UN, 0, 10)"), "OK");
    assert_eq!(a.run("ofd(fa, UN, 0, 10)"), "ENOLCK");
    assert!(ranges(&m).is_empty());

    // An exclusive lock of handle A blocks reads and writes through handle B of the
    // same process; A itself reads and writes.
    assert_eq!(a.run("ofd(fa, WR, 100, 10)"), "OK");
    assert_eq!(
        ranges(&m),
        vec![(pa, 100, Some(109), "EXCLUSIVE".to_string())]
    );
    assert_eq!(a.run("os.pread(fb, 10, 100)"), "EACCES");
    assert_eq!(a.run("os.pwrite(fb, b'b', 105)"), "EACCES");
    assert_eq!(a.run("out = len(os.pread(fa, 10, 100))"), "10");
    assert_eq!(a.run("out = os.pwrite(fa, b'a', 105)"), "1");
    // A shared lock over the handle's own exclusive one is allowed; the exclusive one is
    // unlocked first, after which B may read but nobody may write.
    assert_eq!(a.run("ofd(fa, RD, 100, 10)"), "OK");
    assert_eq!(a.run("ofd(fa, UN, 100, 10)"), "OK");
    assert_eq!(ranges(&m), vec![(pa, 100, Some(109), "SHARED".to_string())]);
    assert_eq!(a.run("out = len(os.pread(fb, 10, 100))"), "10");
    assert_eq!(a.run("os.pwrite(fb, b'b', 105)"), "EACCES");
    assert_eq!(a.run("os.pwrite(fa, b'a', 106)"), "EACCES");

    // Classic fcntl locks through a windows_locks handle belong to the handle: they
    // stack, and closing another descriptor of the process does not release them.
    assert_eq!(a.run("lk(fa, RD, 200, 10)"), "OK");
    assert_eq!(a.run("lk(fa, RD, 200, 10)"), "OK");
    a.run("fc = os.open(p('f'), os.O_RDONLY); os.close(fc)");
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        ranges(&m),
        vec![
            (pa, 100, Some(109), "SHARED".to_string()),
            (pa, 200, Some(209), "SHARED".to_string()),
            (pa, 200, Some(209), "SHARED".to_string())
        ]
    );
    let data = fs::read(m.backing_path("f")).unwrap();
    assert_eq!(&data[104..107], b".a.");
    // Closing the handle drops its locks.
    a.run("os.close(fa)");
    wait_ranges(&m, &[]);
}

// ---------------------------------------------------------------------------------------
// Truncation, the lock table and the conflict log
// ---------------------------------------------------------------------------------------

#[test]
fn truncation_into_another_owners_locked_range_fails() {
    require_fuse!();
    let m = Mount::with_setup(&[], filled(1000, b'.'));
    let mut a = Agent::new(&m);
    a.run(OPEN_RW);
    assert_eq!(a.run("lk(fd, WR, 100, 100)"), "OK"); // 100-199 exclusive
    assert_eq!(a.run("lk(fd, RD, 300, 100)"), "OK"); // 300-399 shared
    let pa = a.pid() as u64;
    wait_ranges(
        &m,
        &[
            (pa, 100, Some(199), "EXCLUSIVE"),
            (pa, 300, Some(399), "SHARED"),
        ],
    );
    let out = py(
        &m,
        r#"
size = lambda: os.stat(p('f')).st_size
print(err(lambda: os.truncate(p('f'), 150)), size())
print(err(lambda: os.truncate(p('f'), 350)), size())
fd = os.open(p('f'), os.O_RDWR)
print(err(lambda: os.ftruncate(fd, 50)), size())
print(err(lambda: os.ftruncate(fd, 399)), size())
# Past every lock: shrinking and growing work.
print(err(lambda: os.truncate(p('f'), 500)), size())
print(err(lambda: os.ftruncate(fd, 2000)), size())
"#,
    );
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "EACCES 1000",
            "EACCES 1000",
            "EACCES 1000",
            "EACCES 1000",
            "OK 500",
            "OK 2000"
        ],
        "{out}"
    );
    let (ok, e) = shell(&m, "truncate -s 120 f");
    assert!(!ok && e.contains("Permission denied"), "truncate(1): {e}");
    assert_eq!(fs::metadata(m.backing_path("f")).unwrap().len(), 2000);
    // SEMANTICS.md §4: truncating opens are not blocked by locks.
    let out = py(
        &m,
        "print(err(lambda: os.open(p('f'), os.O_WRONLY | os.O_TRUNC)), os.stat(p('f')).st_size)",
    );
    assert_eq!(out, "OK 0");
}

#[test]
fn lock_table_and_conflict_log_show_ranges_and_both_pids() {
    require_fuse!();
    let m = Mount::with_setup(&[], filled(1000, b'.'));
    let mut a = Agent::new(&m);
    a.run(OPEN_RW);
    assert_eq!(
        a.run("fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 10)"),
        "OK"
    );
    assert_eq!(
        a.run("fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB, 0, 100)"),
        "OK"
    );
    let pa = a.pid() as u64;
    let r = rows(&m);
    let range_rows: Vec<_> = r.iter().filter(|x| x["kind"] == "RANGE").collect();
    assert_eq!(range_rows.len(), 2, "{r:#?}");
    let ex = range_rows.iter().find(|x| x["start"] == 10).expect("10-19");
    assert_eq!(ex["end"], 19);
    assert_eq!(ex["mode"], "EXCLUSIVE");
    assert_eq!(ex["pid"], pa);
    assert_eq!(ex["comm"], "python3");
    assert_eq!(ex["path"], "f");
    assert_eq!(ex["mandatory"], true);
    let sh_row = range_rows.iter().find(|x| x["start"] == 100).expect("100-");
    assert!(sh_row["end"].is_null(), "to EOF: {sh_row}");
    assert_eq!(sh_row["mode"], "SHARED");
    assert_eq!(sh_row["pid"], pa);
    // The RANGE rows belong to the holder's handle, which has its SHARE row.
    let share = r.iter().find(|x| x["kind"] == "SHARE").expect("SHARE row");
    assert_eq!(share["handle"], ex["handle"]);
    let text = fs::read_to_string(m.path(".sharefs/locks")).unwrap();
    assert!(
        text.lines()
            .any(|l| l.contains(" RANGE MANDATORY EXCLUSIVE ") && l.contains(" 10 19 ")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains(" RANGE MANDATORY SHARED ") && l.contains(" 100 EOF ")),
        "{text}"
    );

    let before = conflicts(&m).len();
    let out = py(
        &m,
        r#"
fd = os.open(p('f'), os.O_RDWR)
print(os.getpid())
print(err(lambda: fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 5, 12)))
print(err(lambda: os.pread(fd, 5, 15)))
print(err(lambda: os.pwrite(fd, b'w', 150)))
"#,
    );
    let lines: Vec<&str> = out.lines().collect();
    let pb: u64 = lines[0].parse().unwrap();
    assert_eq!(lines[1..], ["EAGAIN", "EACCES", "EACCES"], "{out}");
    let log = conflicts(&m);
    assert_eq!(log.len(), before + 3, "{log:#?}");
    let expect = [
        ("lock", "lock_not_granted", "EAGAIN", "EXCLUSIVE 10-19"),
        ("read", "lock_conflict", "EACCES", "EXCLUSIVE 10-19"),
        ("write", "lock_conflict", "EACCES", "SHARED 100-EOF"),
    ];
    for (c, (op, kind, errno, holds)) in log[before..].iter().zip(expect) {
        assert_eq!(c["op"], op, "{c:#}");
        assert_eq!(c["kind"], kind, "{c:#}");
        assert_eq!(c["errno_name"], errno, "{c:#}");
        assert_eq!(c["path"], "f", "{c:#}");
        assert_eq!(c["requester"]["pid"], pb, "{c:#}");
        let holders = c["holders"].as_array().unwrap();
        assert_eq!(holders.len(), 1, "{c:#}");
        assert_eq!(holders[0]["pid"], pa, "{c:#}");
        assert_eq!(holders[0]["holds"], holds, "{c:#}");
    }
    let stats = fs::read_to_string(m.path(".sharefs/stats")).unwrap();
    assert!(stats.contains("conflicts.lock_not_granted 1\n"), "{stats}");
    assert!(stats.contains("conflicts.lock_conflict 2\n"), "{stats}");
}

// ---------------------------------------------------------------------------------------
// fsx next to a process holding shared locks past fsx's range
// ---------------------------------------------------------------------------------------

#[test]
fn fsx_with_shared_locks_held_past_its_range() {
    require_fuse!();
    let Some(bin) = common::tool("fsx") else {
        return;
    };
    let m = Mount::new(&[]);
    let file = m.path("locked.dat");
    fs::write(&file, b"").unwrap();
    const MIB: u64 = 1 << 20;
    // fsx's flen is 1 MiB (tests/conformance/fsx.toml): lock 2-3 MiB and 4 MiB-EOF.
    let mut h = Agent::new(&m);
    h.run("fd = os.open(p('locked.dat'), os.O_RDONLY)");
    assert_eq!(
        h.run(&format!(
            "fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB, {MIB}, {})",
            2 * MIB
        )),
        "OK"
    );
    assert_eq!(
        h.run(&format!(
            "fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB, 0, {})",
            4 * MIB
        )),
        "OK"
    );
    let ph = h.pid() as u64;
    let want = [
        (ph, 2 * MIB, Some(3 * MIB - 1), "SHARED"),
        (ph, 4 * MIB, None, "SHARED"),
    ];
    wait_ranges(&m, &want);
    let artifacts = tempfile::tempdir().unwrap();
    let seed = 99;
    eprintln!("fsx seed {seed}, 20000 ops, with shared locks past its range");
    let out = Command::new(&bin)
        .arg("-f")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/fsx.toml"))
        .args(["-N", "20000", "-S", &seed.to_string(), "-P"])
        .arg(artifacts.path())
        .arg(&file)
        .output()
        .expect("run fsx");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "fsx seed {seed} failed:\n{text}");
    // The locks are still there, and still enforced.
    wait_ranges(&m, &want);
    let refused = py(
        &m,
        &format!(
            "fd = os.open(p('locked.dat'), os.O_RDWR)\nprint(err(lambda: os.pwrite(fd, b'x', {})))",
            2 * MIB + 5
        ),
    );
    assert_eq!(refused, "EACCES");
}
