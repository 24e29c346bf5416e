//! The mount fixture: runs the built `sharefs` binary as a child (serving and using a
//! mount from one process deadlocks in known ways), waits for its entry in
//! `/proc/self/mountinfo`, and on drop (also while panicking) unmounts, kills and reaps
//! the child. Under `CI=true` a missing /dev/fuse fails the test instead of skipping it.

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The built binary.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_sharefs")
}

/// Whether mount tests can run here. Under CI=true they must: panics instead.
pub fn fuse_available() -> bool {
    let ok = Path::new("/dev/fuse").exists();
    if !ok {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("/dev/fuse is missing and CI=true: mount tests must not be skipped");
        }
        eprintln!("SKIPPED: /dev/fuse is missing (set up FUSE to run mount tests)");
    }
    ok
}

/// Returns early from a test when FUSE is unavailable outside CI.
#[macro_export]
macro_rules! require_fuse {
    () => {
        if !common::fuse_available() {
            return;
        }
    };
}

/// A test tool installed by `mount-scripts/setup.sh --test-tools` (pjdfstest, fsx):
/// found on PATH or in ~/.cargo/bin. Missing under `CI=true` fails the test; elsewhere
/// the test is reported as skipped.
pub fn tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let home_bin = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin"));
    std::env::split_paths(&path)
        .chain(home_bin)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .or_else(|| {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{name} is not installed and CI=true (mount-scripts/setup.sh --test-tools installs it)"
            );
            eprintln!("SKIPPED: {name} is not installed (mount-scripts/setup.sh --test-tools)");
            None
        })
}

/// One live sharefs mount over a fresh backing directory.
pub struct Mount {
    /// Temp dir holding `backing/`, `mnt/` and the daemon's log.
    pub root: tempfile::TempDir,
    /// The backing directory.
    pub backing: PathBuf,
    /// The mountpoint.
    pub mnt: PathBuf,
    child: Option<Child>,
    log: PathBuf,
}

/// Finds the mountinfo line for `mnt`, if mounted.
pub fn mountinfo_line(mnt: &Path) -> Option<String> {
    let text = fs::read_to_string("/proc/self/mountinfo").ok()?;
    let want = mnt.to_str()?.replace(' ', "\\040");
    text.lines()
        .find(|l| l.split(' ').nth(4) == Some(want.as_str()))
        .map(str::to_string)
}

impl Mount {
    /// Mounts with extra `sharefs mount` arguments (e.g. `["--profile", "posix"]`).
    pub fn new(args: &[&str]) -> Mount {
        Self::with_setup(args, |_| {})
    }

    /// Like [`Mount::new`], after `setup` has filled the backing directory.
    pub fn with_setup(args: &[&str], setup: impl FnOnce(&Path)) -> Mount {
        Self::wrapped(&[], args, setup)
    }

    /// Like [`Mount::with_setup`], with the daemon started through `wrapper` (a command
    /// and its arguments that end by running the rest, e.g. `prlimit --nofile=N:N --`).
    pub fn wrapped(wrapper: &[&str], args: &[&str], setup: impl FnOnce(&Path)) -> Mount {
        let root = tempfile::Builder::new()
            .prefix("sharefs-test-")
            .tempdir()
            .expect("tempdir");
        let backing = root.path().join("backing");
        let mnt = root.path().join("mnt");
        fs::create_dir(&backing).expect("mkdir backing");
        fs::create_dir(&mnt).expect("mkdir mnt");
        setup(&backing);
        let log = root.path().join("sharefs.log");
        let mut command = match wrapper.split_first() {
            Some((program, wrapper_args)) => {
                let mut c = Command::new(program);
                c.args(wrapper_args).arg(bin());
                c
            }
            None => Command::new(bin()),
        };
        let child = command
            .arg("mount")
            .arg(&backing)
            .arg(&mnt)
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("spawn sharefs");
        let mut m = Mount {
            root,
            backing,
            mnt,
            child: Some(child),
            log,
        };
        m.wait_mounted();
        m
    }

    fn wait_mounted(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(line) = mountinfo_line(&self.mnt) {
                assert!(
                    line.contains(" - fuse.sharefs ") || line.contains(" - fuse "),
                    "mountpoint has a foreign mount: {line}"
                );
                return;
            }
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!(
                    "sharefs exited with {status} before mounting:\n{}",
                    self.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "mount did not appear:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A path inside the mount.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.mnt.join(rel)
    }

    /// The same path in the backing directory.
    pub fn backing_path(&self, rel: &str) -> PathBuf {
        self.backing.join(rel)
    }

    /// The daemon's log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The daemon's pid.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// Kills the daemon with SIGKILL (the mount stays, stale) and reaps it.
    pub fn kill_daemon(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Unmounts and waits for the daemon to exit by itself; returns its exit status.
    pub fn unmount(&mut self) -> Option<std::process::ExitStatus> {
        let _ = Command::new("fusermount3")
            .arg("-u")
            .arg(&self.mnt)
            .stderr(Stdio::null())
            .status();
        if mountinfo_line(&self.mnt).is_some() {
            let _ = Command::new("umount")
                .arg("-l")
                .arg(&self.mnt)
                .stderr(Stdio::null())
                .status();
        }
        let mut child = self.child.take()?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        child.wait().ok()
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        self.unmount();
        if mountinfo_line(&self.mnt).is_some() {
            let _ = Command::new("umount").arg("-l").arg(&self.mnt).status();
        }
    }
}

/// Runs `sh -c script` with `dir` as cwd; returns the output.
pub fn sh(dir: &Path, script: &str) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .output()
        .expect("run sh")
}

/// Runs a shell script and asserts it succeeded, returning stdout.
pub fn sh_ok(dir: &Path, script: &str) -> String {
    let out = sh(dir, script);
    assert!(
        out.status.success(),
        "script failed: {script}\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A process that holds a file open (python3), proven open before returning: it
/// prints "held" only after open() succeeded. Killed and reaped on drop.
pub struct Holder {
    child: Child,
    out: std::io::BufReader<std::process::ChildStdout>,
}

impl Holder {
    /// Opens `path` with Python `open(path, mode)` and keeps it open.
    pub fn open(path: &Path, mode: &str) -> Holder {
        Self::python(&format!(
            "f = open({:?}, {:?})\nprint('held', flush=True)\nimport sys; sys.stdin.read()",
            path.to_str().expect("utf8 path"),
            mode
        ))
    }

    /// Runs a Python program that prints "held" once its handles are open, then waits
    /// for stdin to close.
    pub fn python(program: &str) -> Holder {
        let mut cmd = Command::new("python3");
        cmd.arg("-c").arg(program);
        Self::spawn(cmd)
    }

    /// Runs any program that prints "held" once its handles are open, then waits for
    /// stdin to close (a Node.js, Java or Go holder).
    pub fn spawn(mut cmd: Command) -> Holder {
        use std::io::{BufRead, BufReader};
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("holder program");
        let stdout = child.stdout.take().expect("stdout");
        let mut out = BufReader::new(stdout);
        let mut line = String::new();
        out.read_line(&mut line).expect("read");
        if line.trim() != "held" {
            let out = child.wait_with_output().expect("wait");
            panic!(
                "holder failed to open: {line}{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Holder { child, out }
    }

    /// Writes one line to the holder's stdin (a signal to its program).
    pub fn send_line(&mut self) {
        use std::io::Write;
        if let Some(stdin) = self.child.stdin.as_mut() {
            let _ = stdin.write_all(b"\n");
            let _ = stdin.flush();
        }
    }

    /// Reads the next line the holder prints.
    pub fn read_line(&mut self) -> String {
        use std::io::BufRead;
        let mut line = String::new();
        let _ = self.out.read_line(&mut line);
        line.trim_end().to_string()
    }

    /// The holder's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Closes the handles by ending the process normally, and waits.
    pub fn release(mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }

    /// Kills the holder with SIGKILL and reaps it.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// stderr of an output as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs a Python program on mount `m` with the control-API client importable as `sc`,
/// `root` the mountpoint, `ALL` = "read,write,delete" and `err(f)` (errno name or
/// 'OK'); returns its stdout, trimmed, and fails the test if Python failed.
pub fn py_client(m: &Mount, body: &str) -> String {
    let program = format!(
        "import os, sys, time, errno\nsys.path.insert(0, {client:?})\n\
         import sharefs_client as sc\nroot = {root:?}\n\
         ALL = 'read,write,delete'\n\
         def err(f):\n    try:\n        f(); return 'OK'\n    except OSError as e:\n        return errno.errorcode.get(e.errno, str(e.errno))\n\
         {body}",
        client = concat!(env!("CARGO_MANIFEST_DIR"), "/clients/python"),
        root = m.mnt.to_str().expect("utf8 mountpoint"),
    );
    let out = Command::new("python3")
        .args(["-c", &program])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
