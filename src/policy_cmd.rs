//! `sharefs policy check|explain|reload|status` (docs/policy.md).

use std::io::Write;
#[cfg(unix)]
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::cli::{ExplainArgs, ExplainOpen, PolicyCommand};
use crate::control::DEFAULT_CONTROL_DIR;
use crate::core::Classes;
use crate::policy::file::{self, MountBase};
use crate::policy::{Identity, OpenKinds, Process, Profile, Query, Runtime};

/// The user and group `policy explain` assumes when none is given: this process's.
#[cfg(unix)]
fn caller_ids() -> (u32, u32) {
    std::fs::metadata("/proc/self").map_or((0, 0), |m| (m.uid(), m.gid()))
}

/// Windows has no numeric uid/gid; user rules never match there (docs/windows.md).
#[cfg(windows)]
fn caller_ids() -> (u32, u32) {
    (0, 0)
}

/// Runs one `sharefs policy` subcommand; returns the exit code.
pub fn run(cmd: &PolicyCommand) -> i32 {
    let result = match cmd {
        PolicyCommand::Check { file } => check(file),
        PolicyCommand::Explain(args) => explain(args),
        PolicyCommand::Reload {
            mountpoint,
            control_dir,
        } => reload(
            mountpoint,
            control_dir.as_deref().unwrap_or(DEFAULT_CONTROL_DIR),
        ),
        PolicyCommand::Status {
            mountpoint,
            control_dir,
        } => status(
            mountpoint,
            control_dir.as_deref().unwrap_or(DEFAULT_CONTROL_DIR),
        ),
    };
    match result {
        Ok(text) => {
            print!("{text}");
            0
        }
        Err(msg) => {
            eprintln!("sharefs: {msg}");
            1
        }
    }
}

fn check(path: &Path) -> Result<String, String> {
    let p = file::load(path, MountBase::default()).map_err(|e| e.to_string())?;
    let names: Vec<&str> = p.profiles().iter().map(|d| d.name.as_str()).collect();
    Ok(format!(
        "{}: ok: {} rules; profiles {}; default {}\n",
        path.display(),
        p.rules().len(),
        names.join(", "),
        p.default_profile_name()
    ))
}

/// The kinds and access an `--open` stands for.
pub fn open_of(open: ExplainOpen) -> (OpenKinds, Classes) {
    match open {
        ExplainOpen::Read => (OpenKinds::READ, Classes::READ),
        ExplainOpen::Write => (OpenKinds::WRITE, Classes::WRITE),
        ExplainOpen::Create => (OpenKinds::WRITE | OpenKinds::CREATE, Classes::WRITE),
        ExplainOpen::Delete => (OpenKinds::DELETE, Classes::DELETE),
    }
}

/// A path as the policy sees it: relative to the mount root, no leading `/` or `./`.
pub fn mount_relative(path: &str) -> &str {
    let mut p = path;
    loop {
        if let Some(rest) = p.strip_prefix("./") {
            p = rest;
        } else if let Some(rest) = p.strip_prefix('/') {
            p = rest;
        } else {
            return p;
        }
    }
}

fn explain(args: &ExplainArgs) -> Result<String, String> {
    let profile: Profile = match &args.profile {
        Some(p) => p.parse()?,
        None => Profile::Auto,
    };
    let runtime: Option<Runtime> = args.runtime.as_deref().map(str::parse).transpose()?;
    let policy = file::load(
        &args.policy,
        MountBase {
            profile,
            delete: None,
        },
    )
    .map_err(|e| e.to_string())?;
    let (my_uid, my_gid) = caller_ids();
    let process =
        (args.comm.is_some() || args.exe.is_some() || args.cmdline.is_some() || runtime.is_some())
            .then(|| {
                let comm = args.comm.clone().unwrap_or_else(|| {
                    args.exe
                        .as_deref()
                        .map(|e| e.rsplit('/').next().unwrap_or(e).chars().take(15).collect())
                        .unwrap_or_default()
                });
                Process {
                    pid: 0,
                    comm: comm.into(),
                    exe: args.exe.as_deref().map(Into::into),
                    cmdline: args.cmdline.as_deref().map(Into::into),
                    groups: std::sync::Arc::from([]),
                    runtime: runtime
                        .or_else(|| args.exe.as_deref().and_then(Runtime::of_exe_name))
                        .unwrap_or_default(),
                }
            });
    let (kinds, access) = open_of(args.open);
    let q = Query {
        path: mount_relative(&args.path),
        kinds,
        access,
        is_dir: args.dir,
        uid: args.uid.unwrap_or(my_uid),
        gid: args.gid.unwrap_or(my_gid),
        identity: process.as_ref().map_or(Identity::Unneeded, Identity::Known),
    };
    let e = policy.explain(&q);
    Ok(policy.render_explanation(&q, &e))
}

fn control_file(mountpoint: &Path, control_dir: &str) -> std::path::PathBuf {
    crate::locks_cmd::control_path(mountpoint, control_dir).join("policy")
}

fn status(mountpoint: &Path, control_dir: &str) -> Result<String, String> {
    let f = control_file(mountpoint, control_dir);
    std::fs::read_to_string(&f).map_err(|e| {
        format!(
            "cannot read {}: {e} (is {} a sharefs mount?)",
            f.display(),
            mountpoint.display()
        )
    })
}

fn reload(mountpoint: &Path, control_dir: &str) -> Result<String, String> {
    let f = control_file(mountpoint, control_dir);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(&f)
        .map_err(|e| {
            format!(
                "cannot open {}: {e} (is {} a sharefs mount?)",
                f.display(),
                mountpoint.display()
            )
        })?;
    match file.write_all(b"reload\n") {
        Ok(()) => {
            let st = status(mountpoint, control_dir).unwrap_or_default();
            let rules = st
                .lines()
                .find_map(|l| l.strip_prefix("rules "))
                .unwrap_or("?");
            Ok(format!("policy reloaded: {rules} rules\n"))
        }
        // EINVAL on Linux, ERROR_INVALID_PARAMETER on Windows: the mount refused the file.
        Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {
            let st = status(mountpoint, control_dir).unwrap_or_default();
            let why = st
                .lines()
                .find_map(|l| l.strip_prefix("last_error "))
                .filter(|l| *l != "none")
                .map(|l| l.split_once(' ').map_or(l, |(_, rest)| rest).to_string())
                .unwrap_or_else(|| {
                    "the mount has no policy file, or it is malformed (see the mount's log)".into()
                });
            Err(format!(
                "reload refused, the previous policy stays in force: {why}"
            ))
        }
        Err(e) => Err(format!("cannot write {}: {e}", f.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_made_mount_relative() {
        assert_eq!(mount_relative("/logs/a"), "logs/a");
        assert_eq!(mount_relative("./logs/a"), "logs/a");
        assert_eq!(mount_relative("logs/a"), "logs/a");
        assert_eq!(mount_relative("/"), "");
    }
}
