//! Checks before mounting: every mistake gets a clear message and touches nothing.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::config::MountConfig;

/// A mount that cannot start, with what to do about it.
#[derive(Debug)]
pub struct PreflightError(pub String);

impl std::fmt::Display for PreflightError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn err<T>(msg: String) -> Result<T, PreflightError> {
    Err(PreflightError(msg))
}

/// One line of `/proc/self/mountinfo`: mount point and filesystem type.
#[derive(Debug, Clone)]
pub struct MountEntry {
    /// Where it is mounted (octal escapes decoded).
    pub mount_point: PathBuf,
    /// Filesystem type, e.g. `fuse.sharefs`.
    pub fs_type: String,
    /// Mount source.
    pub source: String,
}

/// Decodes mountinfo's `\040`-style octal escapes.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 4], 8)
        {
            out.push(v);
            i += 4;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses `/proc/self/mountinfo`.
pub fn mounts() -> Vec<MountEntry> {
    let Ok(text) = fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let mount_point = left.split(' ').nth(4)?;
            let mut r = right.split(' ');
            let fs_type = r.next()?;
            let source = r.next().unwrap_or("");
            Some(MountEntry {
                mount_point: PathBuf::from(unescape(mount_point)),
                fs_type: fs_type.to_string(),
                source: unescape(source),
            })
        })
        .collect()
}

/// Validates the backing directory and the mountpoint; returns their canonical forms.
pub fn check(cfg: &MountConfig) -> Result<(PathBuf, PathBuf), PreflightError> {
    let backing = match fs::canonicalize(&cfg.backing) {
        Ok(p) => p,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return err(format!(
                "backing directory {} does not exist",
                cfg.backing.display()
            ));
        }
        Err(e) => {
            return err(format!(
                "cannot use backing directory {}: {e}",
                cfg.backing.display()
            ));
        }
    };
    if !backing.is_dir() {
        return err(format!(
            "backing path {} is not a directory",
            backing.display()
        ));
    }
    if fs::symlink_metadata(backing.join(&cfg.control_dir)).is_ok() {
        return err(format!(
            "the backing directory {} already has an entry named {:?}, which is the name of sharefs's control directory; choose another name with --control-dir NAME",
            backing.display(),
            cfg.control_dir
        ));
    }
    let mountpoint = check_mountpoint(&cfg.mountpoint, cfg.nonempty)?;
    if mountpoint.starts_with(&backing) {
        return err(format!(
            "mountpoint {} is inside the backing directory {}: the mount would contain itself; choose a mountpoint outside it",
            mountpoint.display(),
            backing.display()
        ));
    }
    check_fuse_device()?;
    Ok((backing, mountpoint))
}

fn check_mountpoint(path: &Path, nonempty: bool) -> Result<PathBuf, PreflightError> {
    match fs::metadata(path) {
        Ok(m) if !m.is_dir() => {
            return err(format!("mountpoint {} is not a directory", path.display()));
        }
        Ok(_) => {}
        Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => {
            return err(format!(
                "mountpoint {0} is a stale FUSE mount (its daemon has died); remove it with `fusermount3 -u {0}` (or `umount -l {0}` as root) and try again",
                path.display()
            ));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return err(format!(
                "mountpoint {0} does not exist; create it first (mkdir -p {0})",
                path.display()
            ));
        }
        Err(e) => return err(format!("cannot use mountpoint {}: {e}", path.display())),
    }
    let canonical = fs::canonicalize(path)
        .map_err(|e| PreflightError(format!("cannot use mountpoint {}: {e}", path.display())))?;
    if let Some(m) = mounts().iter().rev().find(|m| m.mount_point == canonical) {
        return err(format!(
            "{} is already a mount point ({} from {}); unmount it first or choose another directory",
            canonical.display(),
            m.fs_type,
            m.source
        ));
    }
    if !nonempty {
        let mut entries = fs::read_dir(&canonical).map_err(|e| {
            PreflightError(format!(
                "cannot read mountpoint {}: {e}",
                canonical.display()
            ))
        })?;
        if entries.next().is_some() {
            return err(format!(
                "mountpoint {} is not empty; mounting would hide its files (use -o nonempty to mount anyway)",
                canonical.display()
            ));
        }
    }
    Ok(canonical)
}

/// macOS mounts through macFUSE: its filesystem bundle must be installed.
#[cfg(not(target_os = "linux"))]
fn check_fuse_device() -> Result<(), PreflightError> {
    if Path::new("/Library/Filesystems/macfuse.fs").exists() {
        Ok(())
    } else {
        err("macFUSE is not installed (/Library/Filesystems/macfuse.fs is missing): install it from https://macfuse.github.io/ (or `brew install --cask macfuse`) and allow its system extension".to_string())
    }
}

#[cfg(target_os = "linux")]
fn check_fuse_device() -> Result<(), PreflightError> {
    match fs::OpenOptions::new().read(true).write(true).open("/dev/fuse") {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => err(
            "/dev/fuse is missing: install FUSE (Debian/Ubuntu: apt-get install fuse3; load the module with modprobe fuse); in a container pass --device /dev/fuse --cap-add SYS_ADMIN".to_string(),
        ),
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            if which("fusermount3").is_none() {
                err("cannot open /dev/fuse and fusermount3 is not installed: install it (apt-get install fuse3) or run as root".to_string())
            } else {
                Ok(())
            }
        }
        Err(e) => err(format!("cannot open /dev/fuse: {e}")),
    }
}

/// Finds a program on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescapes_mountinfo_octal() {
        assert_eq!(unescape("/mnt/a\\040b"), "/mnt/a b");
        assert_eq!(unescape("/plain"), "/plain");
        assert_eq!(unescape("/tail\\"), "/tail\\");
    }

    #[test]
    fn missing_backing_is_explained() {
        let cfg = MountConfig::new("/nonexistent/sharefs-b".into(), "/tmp".into());
        let e = check(&cfg).unwrap_err();
        assert!(e.0.contains("does not exist"), "{e}");
    }

    #[test]
    fn mountpoint_inside_backing_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let inner = dir.path().join("mnt");
        fs::create_dir(&inner).unwrap();
        let cfg = MountConfig::new(dir.path().into(), inner);
        let e = check(&cfg).unwrap_err();
        assert!(e.0.contains("inside the backing directory"), "{e}");
    }

    #[test]
    fn nonempty_mountpoint_is_refused() {
        let b = tempfile::tempdir().unwrap();
        let m = tempfile::tempdir().unwrap();
        fs::write(m.path().join("x"), b"x").unwrap();
        let cfg = MountConfig::new(b.path().into(), m.path().into());
        let e = check(&cfg).unwrap_err();
        assert!(e.0.contains("not empty"), "{e}");
    }
}
