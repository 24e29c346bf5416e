//! sharefs: a user-space filesystem that mirrors a backing directory and gives every
//! program that uses the mount Windows file semantics: share modes, delete pending and
//! delete-on-close, and the rename rules (see `docs/semantics.md`).
//!
//! # Layout
//!
//! - [`core`]: the semantics core. Platform-free (std only): the open registry keyed by
//!   `(st_dev, st_ino)`, the CreateFile sharing decision, delete and rename rules.
//! - [`policy`]: which share set and flags an unmodified program gets: built-in profiles
//!   and policy files by path, process and user (docs/policy.md); [`policy_cmd`] is
//!   `sharefs policy`.
//! - [`control`]: the control API's protocol (intent lines, ioctl numbers), served by
//!   front-ends in the virtual `.sharefs/` directory.
//! - [`backing`]: the mirrored directory. All syscalls, and all `unsafe`, live in
//!   `backing::sys`; names are resolved one component at a time relative to held fds.
//! - [`service`]: the protocol-neutral layer under the front-ends: admission (policy,
//!   caller, runtime table), caller resolution and runtime recognition.
//! - [`frontend`]: protocol front-ends; `frontend::fuse` serves the mount through
//!   `fuser`, asks the core, calls the backing layer and replies once.
//! - [`config`]: a validated mount configuration from the CLI and `-o` options.
//! - [`client`]: the Rust client of the control API; [`hold`] is `sharefs hold`.
//! - [`cli`]: the clap command line; `main.rs` only parses it and calls [`run`].
//!
//! # Lock order
//!
//! handle table → core shard → inode table; an inode's location mutex last. No table
//! lock is held across a syscall.

#[cfg(unix)]
pub mod backing;
pub mod cli;
#[cfg(unix)]
pub mod client;
pub mod config;
pub mod control;
pub mod core;
pub mod frontend;
#[cfg(unix)]
pub mod hold;
pub mod locks_cmd;
pub mod names;
pub mod policy;
pub mod policy_cmd;
#[cfg(unix)]
pub mod run;
#[cfg(unix)]
pub mod service;

use cli::{Cli, Command, MountArgs};
use config::MountConfig;

/// Runs a parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> i32 {
    match cli.command {
        Command::Mount(args) => run_mount(args),
        #[cfg(unix)]
        Command::Hold(args) => hold::run(&args),
        #[cfg(windows)]
        Command::Hold(_) => {
            unsupported_here("hold", "open the file with CreateFile's own share mode")
        }
        Command::Locks(args) => locks_cmd::run_locks(&args),
        Command::Conflicts(args) => locks_cmd::run_conflicts(&args),
        #[cfg(unix)]
        Command::Run(args) => run::run(&args),
        #[cfg(windows)]
        Command::Run(_) => unsupported_here(
            "run",
            "mount with `sharefs mount` and run the command there",
        ),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "sharefs", &mut std::io::stdout());
            0
        }
        Command::Man => {
            let cmd = <Cli as clap::CommandFactory>::command();
            match clap_mangen::Man::new(cmd).render(&mut std::io::stdout()) {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("sharefs man: {e}");
                    1
                }
            }
        }
        Command::Policy(cmd) => policy_cmd::run(&cmd),
        #[cfg(unix)]
        Command::CheckNames(args) => names::check::run(&args.dir, args.long_paths),
        #[cfg(windows)]
        Command::CheckNames(_) => {
            unsupported_here("check-names", "Windows refuses such names itself")
        }
    }
}

fn run_mount(args: MountArgs) -> i32 {
    let cfg = match mount_config(&args) {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("sharefs: {msg}");
            return 2;
        }
    };
    #[cfg(unix)]
    let mounted = frontend::fuse::session::mount(&cfg, args.daemon);
    #[cfg(windows)]
    let mounted = frontend::winfsp::mount(&cfg, args.daemon);
    match mounted {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("sharefs: {e}");
            1
        }
    }
}

/// A subcommand that needs Linux or macOS; says what to do instead.
#[cfg(windows)]
fn unsupported_here(command: &str, instead: &str) -> i32 {
    eprintln!("sharefs {command}: not available on Windows; {instead} (docs/windows.md)");
    2
}

fn mount_config(args: &MountArgs) -> Result<MountConfig, String> {
    let mut cfg = MountConfig::new(args.backing.clone(), args.mountpoint.clone());
    for list in &args.options {
        cfg.apply_options(list)?;
    }
    if let Some(p) = &args.profile {
        cfg.profile = p.parse()?;
        if args.delete.is_none() && !args.options.iter().any(|o| o.contains("delete=")) {
            cfg.delete_mode = None;
        }
    }
    if let Some(d) = &args.delete {
        cfg.delete_mode = Some(config::parse_delete_mode(d)?);
    }
    if let Some(name) = &args.control_dir {
        cfg.control_dir = config::parse_control_dir(name)?;
    }
    if let Some(t) = &args.threads {
        cfg.threads = config::parse_threads(t)?;
    }
    if let Some(n) = &args.names {
        cfg.names = n.parse()?;
    }
    if let Some(p) = &args.policy {
        cfg.policy_file = Some(p.clone());
    }
    Ok(cfg)
}
