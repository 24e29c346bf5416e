//! `sharefs check-names DIR`: every name under DIR that a `names=windows` mount (and
//! Windows itself) would have trouble with, without mounting: names that differ only
//! in case within one directory, and names Win32 refuses (docs/names.md).

use std::ffi::OsString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::index::DirIndex;
use super::rules::{check_component, check_path_len};

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
    /// Names in directory `dir` (relative) that differ only in case.
    Collision {
        /// The directory, relative to the checked root ("" for the root).
        dir: String,
        /// The spellings.
        names: Vec<String>,
    },
    /// A name Windows cannot hold.
    Invalid {
        /// Path relative to the checked root.
        path: String,
        /// Why.
        reason: String,
    },
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finding::Collision { dir, names } => {
                let dir = if dir.is_empty() { "." } else { dir };
                write!(f, "case collision in {dir}: {}", names.join(", "))
            }
            Finding::Invalid { path, reason } => write!(f, "invalid name {path}: {reason}"),
        }
    }
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// Walks `root` (never following symlinks) and returns every finding, sorted by path.
/// Path lengths are checked unless `long_paths`.
pub fn check_tree(root: &Path, long_paths: bool) -> io::Result<Vec<Finding>> {
    let mut out = Vec::new();
    let mut stack = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, rel)) = stack.pop() {
        let mut names: Vec<OsString> = Vec::new();
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let shown = String::from_utf8_lossy(name.as_bytes()).into_owned();
            let path = join(&rel, &shown);
            let verdict = match std::str::from_utf8(name.as_bytes()) {
                Ok(s) => check_component(s).and_then(|()| {
                    if long_paths {
                        Ok(())
                    } else {
                        check_path_len(&path)
                    }
                }),
                Err(_) => {
                    out.push(Finding::Invalid {
                        path: path.clone(),
                        reason: "name is not valid UTF-8 (no UTF-16 form)".into(),
                    });
                    Ok(())
                }
            };
            if let Err(e) = verdict {
                out.push(Finding::Invalid {
                    path: path.clone(),
                    reason: e.to_string(),
                });
            }
            if entry.file_type()?.is_dir() {
                stack.push((entry.path(), path));
            }
            names.push(name);
        }
        for group in DirIndex::build(names).collisions() {
            out.push(Finding::Collision {
                dir: rel.clone(),
                names: group
                    .iter()
                    .map(|n| String::from_utf8_lossy(n.as_bytes()).into_owned())
                    .collect(),
            });
        }
    }
    out.sort_by_key(key);
    Ok(out)
}

fn key(f: &Finding) -> (String, u8) {
    match f {
        Finding::Collision { dir, .. } => (dir.clone(), 0),
        Finding::Invalid { path, .. } => (path.clone(), 1),
    }
}

/// Runs the command: prints findings, returns 1 if any, 0 if none, 2 on error.
pub fn run(dir: &Path, long_paths: bool) -> i32 {
    match check_tree(dir, long_paths) {
        Ok(findings) => {
            for f in &findings {
                println!("{f}");
            }
            if findings.is_empty() {
                0
            } else {
                eprintln!(
                    "sharefs: {} name problem(s) under {}",
                    findings.len(),
                    dir.display()
                );
                1
            }
        }
        Err(e) => {
            eprintln!("sharefs: check-names {}: {e}", dir.display());
            2
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_collisions_and_invalid_names() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        std::fs::write(r.join("Readme.md"), "").unwrap();
        std::fs::write(r.join("README.md"), "").unwrap();
        std::fs::write(r.join("fine.txt"), "").unwrap();
        std::fs::create_dir(r.join("sub")).unwrap();
        std::fs::write(r.join("sub/aux.c"), "").unwrap();
        std::fs::write(r.join("sub/what?"), "").unwrap();
        let f = check_tree(r, false).unwrap();
        let text: Vec<String> = f.iter().map(|f| f.to_string()).collect();
        assert_eq!(
            text,
            vec![
                "case collision in .: README.md, Readme.md",
                "invalid name sub/aux.c: reserved device name AUX",
                "invalid name sub/what?: character '?' not allowed",
            ]
        );
        let clean = tempfile::tempdir().unwrap();
        std::fs::write(clean.path().join("ok"), "").unwrap();
        assert!(check_tree(clean.path(), false).unwrap().is_empty());
    }
}
