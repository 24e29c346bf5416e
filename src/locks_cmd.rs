//! `sharefs locks` and `sharefs conflicts`: the lock table and the conflict log of one
//! or every sharefs mount, for humans (aligned, like `lsof`/`smbstatus`) or as JSON.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::{ConflictsArgs, LocksArgs};
use crate::control::DEFAULT_CONTROL_DIR;
use crate::control::conflicts::Conflict;
use crate::control::table::{Row, escape_path};
/// Mount points of every sharefs mount visible here.
#[cfg(unix)]
pub fn sharefs_mounts() -> Vec<PathBuf> {
    crate::frontend::fuse::preflight::mounts()
        .into_iter()
        .filter(|m| m.fs_type == "fuse.sharefs")
        .map(|m| m.mount_point)
        .collect()
}

/// Mount points of every sharefs mount visible here: Windows keeps no mount table
/// to read, so the mountpoint must be named.
#[cfg(windows)]
pub fn sharefs_mounts() -> Vec<PathBuf> {
    Vec::new()
}

#[cfg(unix)]
const NO_MOUNT_FOUND: &str = "no sharefs mount found in /proc/self/mountinfo";
#[cfg(windows)]
const NO_MOUNT_FOUND: &str = "name the sharefs mount (a drive letter such as S: or a directory)";

fn targets(mountpoint: &Option<PathBuf>) -> Result<Vec<PathBuf>, String> {
    match mountpoint {
        Some(m) => Ok(vec![m.clone()]),
        None => {
            let all = sharefs_mounts();
            if all.is_empty() {
                Err(NO_MOUNT_FOUND.into())
            } else {
                Ok(all)
            }
        }
    }
}

/// The control directory of the mount at `mountpoint`.
pub fn control_path(mountpoint: &Path, control_dir: &str) -> PathBuf {
    control_path_on(mountpoint, control_dir, cfg!(windows))
}

/// On Windows a bare drive letter (`S:`, a WinFsp mount) means that drive's root, not its
/// current directory (which `Path::join` would give: `S:.sharefs`).
fn control_path_on(mountpoint: &Path, control_dir: &str, windows: bool) -> PathBuf {
    let s = mountpoint.as_os_str().as_encoded_bytes();
    if windows && s.len() == 2 && s[0].is_ascii_alphabetic() && s[1] == b':' {
        let mut root = mountpoint.as_os_str().to_owned();
        root.push("\\");
        return PathBuf::from(root).join(control_dir);
    }
    mountpoint.join(control_dir)
}

/// Reads and parses a mount's lock table.
pub fn read_rows(mountpoint: &Path, control_dir: &str) -> Result<Vec<Row>, String> {
    let file = control_path(mountpoint, control_dir).join("locks.json");
    let text = std::fs::read_to_string(&file).map_err(|e| {
        format!(
            "cannot read {}: {e} (is {} a sharefs mount?)",
            file.display(),
            mountpoint.display()
        )
    })?;
    serde_json::from_str(&text)
        .map_err(|e| format!("{}: malformed lock table: {e}", file.display()))
}

fn filter(rows: Vec<Row>, args: &LocksArgs) -> Result<Vec<Row>, String> {
    let glob = match &args.path {
        Some(g) => Some(
            globset::Glob::new(g)
                .map_err(|e| format!("bad --path glob '{g}': {e}"))?
                .compile_matcher(),
        ),
        None => None,
    };
    Ok(rows
        .into_iter()
        .filter(|r| glob.as_ref().is_none_or(|g| g.is_match(&r.path)))
        .filter(|r| args.pid.is_none_or(|p| r.pid == p))
        .collect())
}

/// Rows as an aligned table with a header.
pub fn render_table(rows: &[Row]) -> String {
    let header = [
        "ROW",
        "KIND",
        "MODE",
        "PID",
        "COMM",
        "RUNTIME",
        "UID",
        "DEV:INODE",
        "RANGE",
        "SINCE",
        "PATH",
    ];
    let mut lines: Vec<[String; 11]> = vec![header.map(String::from)];
    for r in rows {
        let range = match (r.kind, r.end) {
            (crate::control::table::RowKind::Range, Some(e)) => format!("{}-{e}", r.start),
            (crate::control::table::RowKind::Range, None) => format!("{}-EOF", r.start),
            _ => "-".into(),
        };
        lines.push([
            r.row.to_string(),
            format!("{:?}", r.kind).to_uppercase(),
            r.mode.clone(),
            r.pid.to_string(),
            escape_path(r.comm.as_bytes()),
            if r.runtime.is_empty() {
                "?".into()
            } else {
                r.runtime.clone()
            },
            r.uid.to_string(),
            format!("{}:{}", r.dev, r.inode),
            range,
            r.since.clone(),
            escape_path(r.path.as_bytes()),
        ]);
    }
    let widths: Vec<usize> = (0..11)
        .map(|c| {
            lines
                .iter()
                .map(|l| l[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for l in &lines {
        let cells: Vec<String> = l
            .iter()
            .enumerate()
            .map(|(c, cell)| {
                if c == 9 {
                    cell.clone()
                } else {
                    format!("{cell:<w$}", w = widths[c])
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

fn print_locks(args: &LocksArgs) -> Result<(), String> {
    let control = args.control_dir.as_deref().unwrap_or(DEFAULT_CONTROL_DIR);
    let all = targets(&args.mountpoint)?;
    let several = all.len() > 1;
    let mut json = Vec::new();
    let mut failed = None;
    for m in &all {
        let rows = match read_rows(m, control) {
            Ok(rows) => filter(rows, args)?,
            // With several mounts, one unreadable table does not hide the others.
            Err(e) if several => {
                eprintln!("sharefs locks: {e}");
                failed = Some(e);
                continue;
            }
            Err(e) => return Err(e),
        };
        if args.json {
            json.push(serde_json::json!({ "mountpoint": m, "rows": rows }));
        } else {
            if several {
                println!("{}:", m.display());
            }
            print!("{}", render_table(&rows));
        }
    }
    if args.json {
        let value = if args.mountpoint.is_some() {
            json.pop().map(|mut v| v["rows"].take()).unwrap_or_default()
        } else {
            serde_json::Value::Array(json)
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
    }
    match failed {
        Some(e) => Err(format!("some tables could not be read (last: {e})")),
        None => Ok(()),
    }
}

/// `sharefs locks`.
pub fn run_locks(args: &LocksArgs) -> i32 {
    loop {
        if args.watch {
            // Clear the screen and home the cursor: a live view.
            print!("\x1b[H\x1b[2J");
        }
        if let Err(e) = print_locks(args) {
            eprintln!("sharefs locks: {e}");
            return 1;
        }
        if !args.watch {
            return 0;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn read_conflicts(mountpoint: &Path, control_dir: &str) -> Result<Vec<Conflict>, String> {
    let file = control_path(mountpoint, control_dir).join("conflicts.json");
    let text = std::fs::read_to_string(&file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: malformed: {e}", file.display()))
}

/// `sharefs conflicts`.
pub fn run_conflicts(args: &ConflictsArgs) -> i32 {
    let control = args.control_dir.as_deref().unwrap_or(DEFAULT_CONTROL_DIR);
    let all = match targets(&args.mountpoint) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("sharefs conflicts: {e}");
            return 1;
        }
    };
    let mut last_seen = vec![0u64; all.len()];
    loop {
        for (i, m) in all.iter().enumerate() {
            let entries = match read_conflicts(m, control) {
                Ok(e) => e,
                Err(e) => {
                    eprintln!("sharefs conflicts: {e}");
                    return 1;
                }
            };
            let seen = last_seen[i];
            for c in entries.iter().filter(|c| c.seq > seen) {
                if args.json {
                    println!("{}", serde_json::to_string(c).unwrap_or_default());
                } else if all.len() > 1 {
                    println!("{}: {}", m.display(), c.to_line());
                } else {
                    println!("{}", c.to_line());
                }
                last_seen[i] = c.seq;
            }
        }
        if !args.follow {
            return 0;
        }
        use std::io::Write;
        let _ = std::io::stdout().flush();
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drive_letter_means_the_drive_root_on_windows_only() {
        let p = control_path_on(Path::new("S:"), ".sharefs", true);
        assert_eq!(p.as_os_str().as_encoded_bytes()[..3], *b"S:\\");
        assert!(p.as_os_str().to_string_lossy().ends_with(".sharefs"));
        assert_eq!(
            control_path_on(Path::new("S:"), ".sharefs", false),
            Path::new("S:/.sharefs")
        );
        assert_eq!(
            control_path_on(Path::new("/mnt/p"), ".sharefs", true),
            Path::new("/mnt/p/.sharefs")
        );
    }
}
