//! `sharefs run`: mount sharefs in place over a directory, run a command there, unmount,
//! and report every conflict that would have broken on Windows.
//!
//! Private by default: the process first moves into a new mount namespace (as root, or
//! as an unprivileged user through a user namespace where the kernel allows it), so only
//! the command and its children see the mount, and nothing stays mounted even if sharefs
//! is killed. The daemon holds an fd to the directory opened before mounting over it, so
//! it mirrors exactly the directory it covers and paths in the test suite do not change.
//!
//! Linux only: it needs mount namespaces. Elsewhere `run` says so; the report code below
//! is still compiled there (type-checked, unused).
#![cfg_attr(not(target_os = "linux"), allow(dead_code, unused_imports))]

use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::{Command, ExitStatus};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;

use crate::backing::{Backing, sys};
use crate::cli::{ReportFormat, RunArgs};
use crate::config::MountConfig;
use crate::control::conflicts::Conflict;

/// Exit status when the command passed but `--fail-on-conflict` found conflicts.
pub const EXIT_CONFLICTS: i32 = 3;

/// What to tell a user who lacks what a private mount needs.
const PRIVILEGE_HINT: &str = "sharefs run needs root (or unprivileged user namespaces) and /dev/fuse; in a container pass --device /dev/fuse --cap-add SYS_ADMIN (and --security-opt apparmor:unconfined where AppArmor blocks mounts)";

fn fail(msg: impl std::fmt::Display) -> i32 {
    eprintln!("sharefs run: {msg}");
    2
}

/// Enters a private mount namespace: as root directly, else through a user namespace
/// that maps the caller to root inside it.
#[cfg(target_os = "linux")]
fn enter_private_namespace() -> Result<(), String> {
    if sys::geteuid() == 0 {
        sys::unshare(libc::CLONE_NEWNS)
            .map_err(|e| format!("cannot create a mount namespace: {e}. {PRIVILEGE_HINT}"))?;
    } else {
        let (uid, gid) = sys::getuid_gid();
        sys::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNS).map_err(|e| {
            format!("cannot create a user and mount namespace: {e}. {PRIVILEGE_HINT}")
        })?;
        let write = |file: &str, text: String| {
            std::fs::write(file, text).map_err(|e| format!("cannot write {file}: {e}"))
        };
        write("/proc/self/setgroups", "deny".into())?;
        write("/proc/self/uid_map", format!("0 {uid} 1"))?;
        write("/proc/self/gid_map", format!("0 {gid} 1"))?;
    }
    sys::make_mounts_private().map_err(|e| format!("cannot make mounts private: {e}"))
}

fn mount_config(args: &RunArgs, dir: &Path) -> Result<MountConfig, String> {
    let mut cfg = MountConfig::new(dir.to_path_buf(), dir.to_path_buf());
    for list in &args.options {
        cfg.apply_options(list)?;
    }
    if let Some(p) = &args.profile {
        cfg.profile = p.parse()?;
    }
    if let Some(d) = &args.delete {
        cfg.delete_mode = Some(crate::config::parse_delete_mode(d)?);
    }
    cfg.fsname = Some(format!("sharefs-run:{}", dir.display()));
    Ok(cfg)
}

/// `sharefs run` needs a private mount namespace, which only Linux has.
#[cfg(not(target_os = "linux"))]
pub fn run(_args: &RunArgs) -> i32 {
    fail(
        "sharefs run needs Linux mount namespaces; on this system mount with \
         `sharefs mount BACKING MOUNTPOINT` and run the command in the mountpoint",
    )
}

/// Runs `sharefs run`; returns the exit code.
#[cfg(target_os = "linux")]
pub fn run(args: &RunArgs) -> i32 {
    let cwd = match std::env::current_dir() {
        Ok(c) => c,
        Err(e) => return fail(format!("no current directory: {e}")),
    };
    let dir = match std::fs::canonicalize(args.dir.as_deref().unwrap_or(&cwd)) {
        Ok(d) if d.is_dir() => d,
        Ok(d) => return fail(format!("{} is not a directory", d.display())),
        Err(e) => return fail(format!("cannot use directory: {e}")),
    };
    // The command starts where we are, if that is inside DIR; else at DIR's root.
    let rel = cwd
        .strip_prefix(&dir)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let cfg = match mount_config(args, &dir) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    if !Path::new("/dev/fuse").exists() {
        return fail(format!("/dev/fuse is missing. {PRIVILEGE_HINT}"));
    }
    if !args.shared {
        if let Err(e) = enter_private_namespace() {
            return fail(e);
        }
    } else if sys::geteuid() != 0 {
        return fail(format!("--shared mounts need root. {PRIVILEGE_HINT}"));
    }
    // Opened before mounting over it: the daemon mirrors the covered directory.
    let dir_fd = match sys::cname(dir.as_os_str())
        .and_then(|c| sys::open_path(&c, libc::O_PATH | libc::O_DIRECTORY))
    {
        Ok(fd) => fd,
        Err(e) => return fail(format!("cannot open {}: {e}", dir.display())),
    };
    run_mounted(args, &cfg, &dir, dir_fd, &rel)
}

#[cfg(target_os = "linux")]
fn run_mounted(args: &RunArgs, cfg: &MountConfig, dir: &Path, dir_fd: OwnedFd, rel: &Path) -> i32 {
    let backing = match Backing::from_root_fd(dir_fd) {
        Ok(b) => b,
        Err(e) => return fail(format!("cannot use {}: {e}", dir.display())),
    };
    let mount = match crate::frontend::fuse::session::mount_in_background(backing, cfg, dir) {
        Ok(m) => m,
        Err(e) => return fail(e),
    };
    let conflicts = mount.conflicts.clone();
    let status = run_command(&args.command, &dir.join(rel));
    mount.unmount(Duration::from_secs(5));
    let entries = conflicts.entries();
    let report = Report::new(&entries);
    eprint!("{}", report.summary());
    if let Some(path) = &args.report {
        let text = match args.report_format {
            ReportFormat::Json => report.json(),
            ReportFormat::Junit => report.junit(),
        };
        if let Err(e) = std::fs::write(path, text) {
            eprintln!("sharefs run: cannot write report {}: {e}", path.display());
        }
    }
    let code = match status {
        Ok(s) => exit_code(s),
        Err(code) => code,
    };
    if code == 0 && args.fail_on_conflict && !entries.is_empty() {
        return EXIT_CONFLICTS;
    }
    code
}

fn exit_code(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1)
}

/// `runtime node` (the row of the runtime table the party got), or `runtime ?`.
fn runtime_label(runtime: &str) -> String {
    format!("runtime {}", if runtime.is_empty() { "?" } else { runtime })
}

/// Runs the command; SIGINT/SIGTERM go to it, and a second SIGINT stops waiting (the
/// mount is then torn down while the command may still run).
fn run_command(command: &[String], cwd: &Path) -> Result<ExitStatus, i32> {
    let mut child = Command::new(&command[0])
        .args(&command[1..])
        .current_dir(cwd)
        .spawn()
        .map_err(|e| {
            eprintln!("sharefs run: cannot run {}: {e}", command[0]);
            127
        })?;
    let pid = Arc::new(AtomicU32::new(child.id()));
    let interrupts = Arc::new(AtomicUsize::new(0));
    let forced = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let (pid, interrupts, forced) = (pid.clone(), interrupts.clone(), forced.clone());
        if let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) {
            let _ = std::thread::Builder::new()
                .name("run-signals".into())
                .spawn(move || {
                    for sig in signals.forever() {
                        let _ = sys::kill(pid.load(Ordering::Relaxed), sig);
                        if sig == SIGINT && interrupts.fetch_add(1, Ordering::SeqCst) >= 1 {
                            eprintln!("sharefs run: second interrupt, tearing down");
                            forced.store(true, Ordering::SeqCst);
                        }
                    }
                });
        }
    }
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) if forced.load(Ordering::SeqCst) => return Err(130),
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => {
                eprintln!("sharefs run: waiting for the command failed: {e}");
                return Err(1);
            }
        }
    }
}

/// The end-of-run report: conflicts grouped by kind and path.
struct Report<'a> {
    groups: BTreeMap<(String, String), Vec<&'a Conflict>>,
    total: usize,
}

impl<'a> Report<'a> {
    fn new(entries: &'a [Conflict]) -> Report<'a> {
        let mut groups: BTreeMap<(String, String), Vec<&Conflict>> = BTreeMap::new();
        for c in entries {
            groups
                .entry((c.kind.clone(), c.path.clone()))
                .or_default()
                .push(c);
        }
        Report {
            groups,
            total: entries.len(),
        }
    }

    fn describe(c: &Conflict) -> String {
        let mut s = format!(
            "`{}` (pid {}, {}) could not {} {} ({})",
            c.requester.comm,
            c.requester.pid,
            runtime_label(&c.requester.runtime),
            c.requester.asked,
            c.path,
            c.errno_name
        );
        for h in &c.holders {
            s.push_str(&format!(
                ": held by `{}` (pid {}, {}) with {} since {}",
                h.comm,
                h.pid,
                runtime_label(&h.runtime),
                h.holds,
                h.since
            ));
        }
        s
    }

    /// Human summary for stderr.
    fn summary(&self) -> String {
        if self.total == 0 {
            return "sharefs run: no Windows conflicts\n".into();
        }
        let mut out = format!(
            "sharefs run: {} conflict(s) that would have failed on Windows:\n",
            self.total
        );
        for ((kind, path), list) in &self.groups {
            out.push_str(&format!(
                "  {} {} on {}:\n",
                list.len(),
                kind.replace('_', " "),
                path
            ));
            for c in list {
                out.push_str(&format!("    {}\n", Self::describe(c)));
            }
        }
        out
    }

    fn json(&self) -> String {
        let groups: Vec<serde_json::Value> = self
            .groups
            .iter()
            .map(|((kind, path), list)| {
                serde_json::json!({ "kind": kind, "path": path, "count": list.len(), "conflicts": list })
            })
            .collect();
        let value = serde_json::json!({ "total": self.total, "groups": groups });
        serde_json::to_string_pretty(&value).unwrap_or_default() + "\n"
    }

    /// JUnit XML: one failing test case per conflict group, or one passing case.
    fn junit(&self) -> String {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let cases = self.groups.len().max(1);
        out.push_str(&format!(
            "<testsuites name=\"sharefs\" tests=\"{cases}\" failures=\"{}\">\n  <testsuite name=\"sharefs.windows-semantics\" tests=\"{cases}\" failures=\"{}\">\n",
            self.groups.len(),
            self.groups.len()
        ));
        if self.groups.is_empty() {
            out.push_str("    <testcase classname=\"sharefs\" name=\"no Windows conflicts\"/>\n");
        }
        for ((kind, path), list) in &self.groups {
            let details: Vec<String> = list.iter().map(|c| Self::describe(c)).collect();
            out.push_str(&format!(
                "    <testcase classname=\"sharefs.{}\" name=\"{}\">\n      <failure message=\"{} {} on {}\" type=\"{}\">{}</failure>\n    </testcase>\n",
                xml(kind),
                xml(path),
                list.len(),
                xml(&kind.replace('_', " ")),
                xml(path),
                xml(kind),
                xml(&details.join("\n"))
            ));
        }
        out.push_str("  </testsuite>\n</testsuites>\n");
        out
    }
}

/// Escapes text for XML attributes and content; drops characters XML 1.0 forbids.
fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' | '\t' | '\r' => out.push(ch),
            c if (c as u32) < 0x20 => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::conflicts::{Holder, Requester};

    fn conflict(kind: &str, path: &str) -> Conflict {
        Conflict {
            seq: 1,
            time: "t".into(),
            op: "unlink".into(),
            kind: kind.into(),
            errno: 16,
            errno_name: "EBUSY".into(),
            path: path.into(),
            requester: Requester {
                pid: 812,
                tid: 812,
                comm: "pytest".into(),
                runtime: "python".into(),
                uid: 0,
                asked: "delete".into(),
            },
            holders: vec![Holder {
                pid: 790,
                comm: "python3".into(),
                runtime: "python".into(),
                uid: 0,
                holds: "access=r-- share=rw-".into(),
                since: "12:01:03.114".into(),
                path: path.into(),
            }],
        }
    }

    #[test]
    fn report_groups_and_names_both_parties() {
        let entries = vec![
            conflict("sharing_violation", "build/out.log"),
            conflict("sharing_violation", "build/out.log"),
            conflict("delete_pending", "a<b>"),
        ];
        let r = Report::new(&entries);
        let s = r.summary();
        assert!(s.contains("3 conflict(s)"), "{s}");
        assert!(s.contains("2 sharing violation on build/out.log"), "{s}");
        assert!(
            s.contains("`pytest` (pid 812, runtime python)")
                && s.contains("`python3` (pid 790, runtime python)"),
            "{s}"
        );
        let j: serde_json::Value = serde_json::from_str(&r.json()).unwrap();
        assert_eq!(j["total"], 3);
        let x = r.junit();
        assert!(
            x.contains("failures=\"2\"") && x.contains("a&lt;b&gt;"),
            "{x}"
        );
        assert!(Report::new(&[]).junit().contains("no Windows conflicts"));
    }
}
