//! A client for programs that know they run on sharefs: open a file with exactly the
//! access, share set and options `CreateFile` takes (docs/control-api.md).
//!
//! ```no_run
//! use sharefs::client::OpenOptions;
//! let f = OpenOptions::new()
//!     .read(true)
//!     .access("read,delete")
//!     .share("read")
//!     .delete_on_close(true)
//!     .open("/mnt/data/tmp.bin")?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! Thread safety: the intent is per thread. `open` writes the intent and opens the file
//! from the calling thread, so concurrent `open`s on different threads are independent;
//! do not split the two steps across threads.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::control::{DEFAULT_CONTROL_DIR, Intent};

/// Builder in the spirit of `std::fs::OpenOptions`, plus sharefs's modes.
#[derive(Clone, Debug)]
pub struct OpenOptions {
    std: std::fs::OpenOptions,
    access: Option<String>,
    share: Option<String>,
    options: Vec<&'static str>,
    control_dir: Option<PathBuf>,
    directory: bool,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions::new()
    }
}

impl OpenOptions {
    /// Read-only by default, like `std::fs::OpenOptions`.
    pub fn new() -> OpenOptions {
        let mut std = std::fs::OpenOptions::new();
        std.read(true);
        OpenOptions {
            std,
            access: None,
            share: None,
            options: Vec::new(),
            control_dir: None,
            directory: false,
        }
    }

    /// O_RDONLY / O_RDWR data access (as `std::fs::OpenOptions::read`).
    pub fn read(&mut self, on: bool) -> &mut Self {
        self.std.read(on);
        self
    }

    /// Write data access.
    pub fn write(&mut self, on: bool) -> &mut Self {
        self.std.write(on);
        self
    }

    /// O_APPEND.
    pub fn append(&mut self, on: bool) -> &mut Self {
        self.std.append(on);
        self
    }

    /// O_TRUNC.
    pub fn truncate(&mut self, on: bool) -> &mut Self {
        self.std.truncate(on);
        self
    }

    /// O_CREAT.
    pub fn create(&mut self, on: bool) -> &mut Self {
        self.std.create(on);
        self
    }

    /// O_CREAT | O_EXCL.
    pub fn create_new(&mut self, on: bool) -> &mut Self {
        self.std.create_new(on);
        self
    }

    /// Open a directory (O_DIRECTORY, read-only).
    pub fn directory(&mut self, on: bool) -> &mut Self {
        self.directory = on;
        self
    }

    /// The access classes to hold: a comma list of read, write, delete, or "none".
    pub fn access(&mut self, classes: &str) -> &mut Self {
        self.access = Some(classes.to_string());
        self
    }

    /// The share set: a comma list of read, write, delete, or "none".
    pub fn share(&mut self, classes: &str) -> &mut Self {
        self.share = Some(classes.to_string());
        self
    }

    fn option(&mut self, name: &'static str, on: bool) -> &mut Self {
        self.options.retain(|o| *o != name);
        if on {
            self.options.push(name);
        }
        self
    }

    /// FILE_DELETE_ON_CLOSE (needs delete access).
    pub fn delete_on_close(&mut self, on: bool) -> &mut Self {
        self.option("delete_on_close", on)
    }

    /// FILE_FLAG_WRITE_THROUGH.
    pub fn write_through(&mut self, on: bool) -> &mut Self {
        self.option("write_through", on)
    }

    /// FILE_FLAG_NO_BUFFERING.
    pub fn no_buffering(&mut self, on: bool) -> &mut Self {
        self.option("no_buffering", on)
    }

    /// Atomic reads and writes for this handle.
    pub fn atomic(&mut self, on: bool) -> &mut Self {
        self.option("atomic", on)
    }

    /// Exact LockFileEx semantics for this handle's locks.
    pub fn windows_locks(&mut self, on: bool) -> &mut Self {
        self.option("windows_locks", on)
    }

    /// Use this control directory instead of finding `.sharefs` above the path.
    pub fn control_dir(&mut self, dir: impl Into<PathBuf>) -> &mut Self {
        self.control_dir = Some(dir.into());
        self
    }

    /// The intent line these options produce (validated like the daemon does).
    pub fn intent_line(&self) -> io::Result<String> {
        let mut parts = Vec::new();
        if let Some(a) = &self.access {
            parts.push(format!("access={a}"));
        }
        if let Some(s) = &self.share {
            parts.push(format!("share={s}"));
        }
        if !self.options.is_empty() {
            parts.push(format!("options={}", self.options.join(",")));
        }
        let line = parts.join(" ");
        Intent::parse(line.as_bytes())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.0))?;
        Ok(line)
    }

    /// Writes the intent for this thread, then opens `path` from this thread.
    pub fn open(&self, path: impl AsRef<Path>) -> io::Result<File> {
        let path = path.as_ref();
        let line = self.intent_line()?;
        let control = match &self.control_dir {
            Some(d) => d.clone(),
            None => find_control_dir(path)?,
        };
        let mut intent = std::fs::OpenOptions::new()
            .write(true)
            .open(control.join("intent"))?;
        intent.write_all(format!("{line}\n").as_bytes())?;
        drop(intent);
        let opened = if self.directory {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_DIRECTORY)
                .open(path)
        } else {
            self.std.open(path)
        };
        if opened.is_err() {
            // A blank line withdraws the intent if the kernel refused the open before
            // it reached sharefs (e.g. ENOENT), so it cannot leak into a later open.
            if let Ok(mut f) = std::fs::OpenOptions::new()
                .write(true)
                .open(control.join("intent"))
            {
                let _ = f.write_all(b"\n");
            }
        }
        opened
    }
}

/// Finds the control directory of the sharefs mount `path` is on: the nearest
/// ancestor directory holding `.sharefs/intent`, or `$SHAREFS_CONTROL_DIR`.
pub fn find_control_dir(path: &Path) -> io::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("SHAREFS_CONTROL_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()?.join(path)
    };
    let mut dir = absolute.parent();
    while let Some(d) = dir {
        let candidate = d.join(DEFAULT_CONTROL_DIR);
        if candidate.join("intent").exists() {
            return Ok(candidate);
        }
        dir = d.parent();
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        format!(
            "{} is not on a sharefs mount (no {DEFAULT_CONTROL_DIR}/intent above it; set SHAREFS_CONTROL_DIR if the control directory has another name)",
            path.display()
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_intent_lines() {
        let line = OpenOptions::new()
            .access("read,delete")
            .share("read")
            .delete_on_close(true)
            .write_through(true)
            .intent_line()
            .unwrap();
        assert_eq!(
            line,
            "access=read,delete share=read options=delete_on_close,write_through"
        );
        assert!(OpenOptions::new().access("reed").intent_line().is_err());
    }

    #[test]
    fn outside_a_mount_says_so() {
        let dir = tempfile::tempdir().unwrap();
        // SAFETY-free: the env var is only read; make sure it is not set for this test.
        if std::env::var_os("SHAREFS_CONTROL_DIR").is_none() {
            let e = find_control_dir(&dir.path().join("x")).unwrap_err();
            assert!(e.to_string().contains("not on a sharefs mount"));
        }
    }
}
