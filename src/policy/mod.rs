//! Which share set, delete mode and per-open flags an unmodified program gets for an
//! open, by path, process and user (docs/policy.md).
//!
//! - [`profile`]: the built-in profiles (auto, windows, strict, posix).
//! - [`runtime`]: the runtime table (what each language runtime does on Windows), which
//!   the `auto` profile applies to each process.
//! - [`file`]: the TOML policy file: parsing and validation, with file:line:column errors.
//! - [`rules`]: the compiled policy ([`Policy`]): profiles, the ordered rules, the first-match
//!   decision ([`Policy::decide`]) and its explanation ([`Policy::explain`]).
//! - [`handle`]: the live policy of a mount ([`PolicyHandle`]): an atomic swap on reload.
//! - [`users`]: user and group names from `/etc/passwd` and `/etc/group`.
//!
//! Nothing here touches FUSE: the front-end builds a [`Query`] per open and asks
//! [`Policy::decide`].

pub mod file;
pub mod handle;
pub mod profile;
pub mod rules;
pub mod runtime;
pub mod users;

use std::fmt;
use std::sync::Arc;

use crate::core::{Classes, DeleteMode};

pub use file::PolicyError;
pub use handle::PolicyHandle;
pub use profile::Profile;
pub use rules::{Decision, Explanation, Policy};
pub use runtime::{ReadOnlyRule, Runtime, RuntimeRow};

/// What kind of operation an open is, for rules' `open = [...]`: a set over read, write,
/// create and delete.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct OpenKinds(u8);

impl OpenKinds {
    /// No kind (an attribute-only open).
    pub const NONE: OpenKinds = OpenKinds(0);
    /// The open reads (O_RDONLY or O_RDWR).
    pub const READ: OpenKinds = OpenKinds(1);
    /// The open writes (O_WRONLY, O_RDWR, O_TRUNC, O_APPEND).
    pub const WRITE: OpenKinds = OpenKinds(2);
    /// The open created the file.
    pub const CREATE: OpenKinds = OpenKinds(4);
    /// unlink, rmdir, rename (the source), or an open with delete access.
    pub const DELETE: OpenKinds = OpenKinds(8);

    /// The names, in `open = [...]` and `--open` spelling.
    pub const NAMES: [(&'static str, OpenKinds); 4] = [
        ("read", OpenKinds::READ),
        ("write", OpenKinds::WRITE),
        ("create", OpenKinds::CREATE),
        ("delete", OpenKinds::DELETE),
    ];

    /// The kinds of an open holding `access`, which created the file or not.
    pub fn of_open(access: Classes, created: bool) -> OpenKinds {
        let mut k = OpenKinds::NONE;
        if access.contains(Classes::READ) {
            k = k | OpenKinds::READ;
        }
        if access.contains(Classes::WRITE) {
            k = k | OpenKinds::WRITE;
        }
        if access.contains(Classes::DELETE) {
            k = k | OpenKinds::DELETE;
        }
        if created {
            k = k | OpenKinds::CREATE;
        }
        k
    }

    /// One kind by name.
    pub fn parse_one(word: &str) -> Option<OpenKinds> {
        OpenKinds::NAMES
            .iter()
            .find(|(n, _)| *n == word)
            .map(|(_, k)| *k)
    }

    /// True when the sets share a kind.
    pub const fn intersects(self, other: OpenKinds) -> bool {
        self.0 & other.0 != 0
    }

    /// True when every kind of `other` is in `self`.
    pub const fn contains(self, other: OpenKinds) -> bool {
        self.0 & other.0 == other.0
    }

    /// True for the empty set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The raw bits (read 1, write 2, create 4, delete 8).
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Builds a set from its bits; other bits are dropped.
    pub const fn from_bits(bits: u8) -> OpenKinds {
        OpenKinds(bits & 15)
    }
}

impl std::ops::BitOr for OpenKinds {
    type Output = OpenKinds;
    fn bitor(self, rhs: OpenKinds) -> OpenKinds {
        OpenKinds(self.0 | rhs.0)
    }
}

impl fmt::Display for OpenKinds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        let names: Vec<&str> = OpenKinds::NAMES
            .iter()
            .filter(|(_, k)| self.contains(*k))
            .map(|(n, _)| *n)
            .collect();
        f.write_str(&names.join(","))
    }
}

impl fmt::Debug for OpenKinds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The errno a program sees for a Windows error its runtime reports as one: a sharing
/// violation (ERROR_SHARING_VIOLATION, 32) or access denied (ERROR_ACCESS_DENIED, 5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ErrnoDialect {
    /// EBUSY, as Samba, the Linux SMB client and Node.js (libuv) report a sharing
    /// violation (the default for one).
    #[default]
    Ebusy,
    /// EACCES, as CPython and the MSVC C runtime report both (PermissionError in Python).
    Eacces,
    /// EPERM, as libuv reports access denied.
    Eperm,
}

impl ErrnoDialect {
    /// The errno value.
    pub fn errno(self) -> i32 {
        match self {
            ErrnoDialect::Ebusy => libc::EBUSY,
            ErrnoDialect::Eacces => libc::EACCES,
            ErrnoDialect::Eperm => libc::EPERM,
        }
    }

    /// `EBUSY` or `EACCES`, as written in policy files.
    pub fn name(self) -> &'static str {
        match self {
            ErrnoDialect::Ebusy => "EBUSY",
            ErrnoDialect::Eacces => "EACCES",
            ErrnoDialect::Eperm => "EPERM",
        }
    }

    /// Parses `EBUSY`, `EACCES` or `EPERM`.
    pub fn parse(s: &str) -> Option<ErrnoDialect> {
        match s {
            "EBUSY" => Some(ErrnoDialect::Ebusy),
            "EACCES" => Some(ErrnoDialect::Eacces),
            "EPERM" => Some(ErrnoDialect::Eperm),
            _ => None,
        }
    }
}

/// The errnos a refusal is reported in for one caller: its runtime's (or its rule's)
/// spelling of a sharing violation and of access denied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errnos {
    /// ERROR_SHARING_VIOLATION (32).
    pub sharing_violation: ErrnoDialect,
    /// ERROR_ACCESS_DENIED (5): delete pending, cannot delete, access denied.
    pub access_denied: ErrnoDialect,
}

impl Default for Errnos {
    /// SEMANTICS.md §7: EBUSY and EACCES.
    fn default() -> Self {
        Errnos {
            sharing_violation: ErrnoDialect::Ebusy,
            access_denied: ErrnoDialect::Eacces,
        }
    }
}

impl Decision {
    /// The errnos of a refusal of this decision's operation.
    pub fn errnos(&self) -> Errnos {
        Errnos {
            sharing_violation: self.errno,
            access_denied: self.access_denied,
        }
    }
}

/// What a policy can know about the process behind a request (from `/proc`).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Process {
    /// Thread-group id.
    pub pid: u32,
    /// `/proc/PID/comm` (at most 15 bytes on Linux).
    pub comm: Arc<str>,
    /// The executable's path (`/proc/PID/exe`); `None` when it cannot be read (another
    /// user's process and the daemon is not root, or a kernel thread).
    pub exe: Option<Arc<str>>,
    /// The command line, arguments joined by single spaces; `None` when unreadable.
    pub cmdline: Option<Arc<str>>,
    /// Supplementary groups (`Groups:` of `/proc/PID/status`).
    pub groups: Arc<[u32]>,
    /// The language runtime recognised in it (`C` when none is).
    pub runtime: Runtime,
}

/// The process behind a query, as far as the front-end could tell.
#[derive(Clone, Copy, Debug)]
pub enum Identity<'a> {
    /// Identified through `/proc`.
    Known(&'a Process),
    /// The process had exited before it could be looked up: the default profile applies
    /// when the policy has process rules (the caller logs it).
    Exited,
    /// Not looked up because no rule matches on process (`comm`, `exe`, `cmdline`).
    Unneeded,
}

/// One open (or delete) to decide.
#[derive(Clone, Copy, Debug)]
pub struct Query<'a> {
    /// Path relative to the mount root, without a leading `/` (`""` is the root).
    pub path: &'a str,
    /// Read, write, create, delete.
    pub kinds: OpenKinds,
    /// The access classes the open holds.
    pub access: Classes,
    /// A directory (directory handles always share everything).
    pub is_dir: bool,
    /// The caller's uid (from the request).
    pub uid: u32,
    /// The caller's gid (from the request).
    pub gid: u32,
    /// The calling process.
    pub identity: Identity<'a>,
}

impl Query<'_> {
    /// The caller's runtime: the recognised one, else the C runtime's row (a process
    /// that is gone or was not looked up).
    pub fn runtime(&self) -> Runtime {
        match self.identity {
            Identity::Known(p) => p.runtime,
            Identity::Exited | Identity::Unneeded => Runtime::C,
        }
    }
}

/// Parses a comma list of `read`, `write`, `delete`, or one of `none`, `all`.
pub fn parse_classes(value: &str) -> Result<Classes, String> {
    match value.trim() {
        "none" => return Ok(Classes::NONE),
        "all" => return Ok(Classes::ALL),
        _ => {}
    }
    let mut set = Classes::NONE;
    for word in value.split(',').map(str::trim) {
        let class = match word {
            "read" => Classes::READ,
            "write" => Classes::WRITE,
            "delete" => Classes::DELETE,
            other => {
                return Err(format!(
                    "expected a comma list of read, write, delete (or one of none, all), found '{other}'"
                ));
            }
        };
        set = set | class;
    }
    Ok(set)
}

/// `classic` or `posix`, for messages.
pub fn delete_mode_name(mode: DeleteMode) -> &'static str {
    match mode {
        DeleteMode::Classic => "classic",
        DeleteMode::Posix => "posix",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_kinds_of_an_open() {
        assert_eq!(
            OpenKinds::of_open(Classes::READ_WRITE, true),
            OpenKinds::READ | OpenKinds::WRITE | OpenKinds::CREATE
        );
        assert_eq!(
            OpenKinds::of_open(Classes::DELETE, false),
            OpenKinds::DELETE
        );
        assert_eq!(OpenKinds::of_open(Classes::NONE, false), OpenKinds::NONE);
        assert_eq!(
            (OpenKinds::READ | OpenKinds::DELETE).to_string(),
            "read,delete"
        );
    }

    #[test]
    fn classes_parse() {
        assert_eq!(parse_classes("read, write").unwrap(), Classes::READ_WRITE);
        assert_eq!(parse_classes("none").unwrap(), Classes::NONE);
        assert_eq!(parse_classes("all").unwrap(), Classes::ALL);
        assert!(parse_classes("read,exec").unwrap_err().contains("'exec'"));
        assert!(parse_classes("").is_err());
    }

    #[test]
    fn errno_dialects() {
        assert_eq!(ErrnoDialect::default().errno(), libc::EBUSY);
        assert_eq!(ErrnoDialect::parse("EACCES"), Some(ErrnoDialect::Eacces));
        assert_eq!(ErrnoDialect::parse("eacces"), None);
    }
}
