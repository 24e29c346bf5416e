//! `sharefs hold`: open a file with exact modes and keep it open, like `flock(1)` for
//! share modes (docs/control-api.md). For shell scripts and tests that must simulate
//! "another program holds this file".

use std::io::{Read, Write};
use std::process::Command;
use std::sync::mpsc;

use crate::cli::HoldArgs;
use crate::client::OpenOptions;

/// Exit status when the open is refused by a sharing violation.
pub const EXIT_SHARING_VIOLATION: i32 = 2;

/// Runs `sharefs hold`; returns the exit code.
pub fn run(args: &HoldArgs) -> i32 {
    let mut opts = OpenOptions::new();
    let access = args.access.as_deref().unwrap_or("read");
    let wants = |c: &str| access.split(',').any(|w| w == c);
    let is_dir = args.path.is_dir();
    if is_dir {
        opts.directory(true);
    } else {
        // O_RDONLY goes with any access (none, delete, read); write needs O_WRONLY or
        // O_RDWR, which the daemon checks against the access.
        opts.read(wants("read") || !wants("write"))
            .write(wants("write"));
        if args.create {
            if !wants("write") {
                eprintln!("sharefs hold: --create needs write access (--access write,…)");
                return 1;
            }
            opts.create(true);
        }
    }
    opts.access(access);
    if let Some(share) = &args.share {
        opts.share(share);
    }
    opts.delete_on_close(args.delete_on_close)
        .write_through(args.write_through);
    if let Some(dir) = &args.control_dir {
        opts.control_dir(dir);
    }
    let file = match opts.open(&args.path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("sharefs hold: {}: {e}", args.path.display());
            if e.raw_os_error() != Some(libc::EBUSY) {
                return 1;
            }
            if let Some(rows) = holders_of(args) {
                eprintln!("held by:\n{}", crate::locks_cmd::render_table(&rows));
            }
            return EXIT_SHARING_VIOLATION;
        }
    };
    println!("held {}", args.path.display());
    let _ = std::io::stdout().flush();
    let code = if args.command.is_empty() {
        wait_for_release();
        0
    } else {
        run_command(&args.command)
    };
    drop(file);
    code
}

/// The lock table rows of the file `args.path` names, to show who holds it.
fn holders_of(args: &HoldArgs) -> Option<Vec<crate::control::table::Row>> {
    let control = match &args.control_dir {
        Some(d) => d.clone(),
        None => crate::client::find_control_dir(&args.path).ok()?,
    };
    let root = std::fs::canonicalize(control.parent()?).ok()?;
    let name = args.path.file_name()?;
    let parent = match args.path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let rel = std::fs::canonicalize(parent).ok()?.join(name);
    let rel = rel.strip_prefix(&root).ok()?.to_string_lossy().into_owned();
    let control_name = control.file_name()?.to_string_lossy().into_owned();
    let rows = crate::locks_cmd::read_rows(&root, &control_name).ok()?;
    Some(rows.into_iter().filter(|r| r.path == rel).collect())
}

fn run_command(command: &[String]) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    match Command::new(&command[0]).args(&command[1..]).status() {
        Ok(status) => status
            .code()
            .or_else(|| status.signal().map(|s| 128 + s))
            .unwrap_or(1),
        Err(e) => {
            eprintln!("sharefs hold: cannot run {}: {e}", command[0]);
            127
        }
    }
}

/// Waits until stdin reaches end of file or SIGINT/SIGTERM/SIGHUP arrives.
fn wait_for_release() {
    let (tx, rx) = mpsc::channel::<()>();
    let stdin_tx = tx.clone();
    let _ = std::thread::Builder::new()
        .name("hold-stdin".into())
        .spawn(move || {
            let mut sink = [0u8; 4096];
            let mut stdin = std::io::stdin();
            while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
            let _ = stdin_tx.send(());
        });
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    if let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) {
        let _ = std::thread::Builder::new()
            .name("hold-signals".into())
            .spawn(move || {
                if signals.forever().next().is_some() {
                    let _ = tx.send(());
                }
            });
    }
    let _ = rx.recv();
}
