//! Access and share classes, and who asks.
//!
//! Only three access classes take part in Windows sharing decisions (SEMANTICS.md §1,
//! Wine `server/fd.c: check_sharing`): read (FILE_READ_DATA / FILE_EXECUTE), write
//! (FILE_WRITE_DATA / FILE_APPEND_DATA) and delete (DELETE). Attribute, EA, READ_CONTROL
//! and SYNCHRONIZE rights never conflict, so they are not modelled at all.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

/// A set over {read, write, delete}; used both for the access an open holds and for the
/// access it lets others hold (its share set).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Classes(u8);

impl Classes {
    /// No class: an attribute-only open, or a share set that shares nothing.
    pub const NONE: Classes = Classes(0);
    /// FILE_READ_DATA or FILE_EXECUTE; FILE_SHARE_READ.
    pub const READ: Classes = Classes(1);
    /// FILE_WRITE_DATA or FILE_APPEND_DATA; FILE_SHARE_WRITE.
    pub const WRITE: Classes = Classes(2);
    /// DELETE; FILE_SHARE_DELETE.
    pub const DELETE: Classes = Classes(4);
    /// Read and write.
    pub const READ_WRITE: Classes = Classes(3);
    /// Every class.
    pub const ALL: Classes = Classes(7);

    /// The three single classes, in the order used by counters and by `rwd` strings.
    pub const EACH: [Classes; 3] = [Classes::READ, Classes::WRITE, Classes::DELETE];

    /// Builds a set from its bits (read = 1, write = 2, delete = 4); other bits are dropped.
    pub const fn from_bits(bits: u8) -> Classes {
        Classes(bits & 7)
    }

    /// The raw bits (read = 1, write = 2, delete = 4).
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// True when every class of `other` is in `self`.
    pub const fn contains(self, other: Classes) -> bool {
        self.0 & other.0 == other.0
    }

    /// True when the two sets share at least one class.
    pub const fn intersects(self, other: Classes) -> bool {
        self.0 & other.0 != 0
    }

    /// True for the empty set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Set union.
    pub const fn union(self, other: Classes) -> Classes {
        Classes(self.0 | other.0)
    }

    /// Set intersection.
    pub const fn intersection(self, other: Classes) -> Classes {
        Classes(self.0 & other.0)
    }

    /// The classes not in `self`.
    pub const fn complement(self) -> Classes {
        Classes(!self.0 & 7)
    }

    /// `rwd`-style rendering used by the lock table: `rw-`, `r--`, `---`.
    pub fn rwd(self) -> String {
        let mut s = String::with_capacity(3);
        s.push(if self.contains(Classes::READ) {
            'r'
        } else {
            '-'
        });
        s.push(if self.contains(Classes::WRITE) {
            'w'
        } else {
            '-'
        });
        s.push(if self.contains(Classes::DELETE) {
            'd'
        } else {
            '-'
        });
        s
    }

    /// Index of a single class in counter arrays (read 0, write 1, delete 2).
    pub(crate) fn index_of(single: Classes) -> usize {
        match single.0 {
            1 => 0,
            2 => 1,
            _ => 2,
        }
    }
}

impl std::ops::BitOr for Classes {
    type Output = Classes;
    fn bitor(self, rhs: Classes) -> Classes {
        self.union(rhs)
    }
}

impl fmt::Debug for Classes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.rwd())
    }
}

impl fmt::Display for Classes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        let names: Vec<&str> = [
            (Classes::READ, "read"),
            (Classes::WRITE, "write"),
            (Classes::DELETE, "delete"),
        ]
        .iter()
        .filter(|(c, _)| self.contains(*c))
        .map(|(_, n)| *n)
        .collect();
        f.write_str(&names.join(","))
    }
}

/// The process (and thread) behind a request, as far as the front-end can tell.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Owner {
    /// Thread-group id (the process id users see).
    pub pid: u32,
    /// The calling thread's id (FUSE's request header carries this one).
    pub tid: u32,
    /// Process name (`/proc/PID/comm`), for logs and the lock table.
    pub comm: String,
    /// Caller's user id.
    pub uid: u32,
    /// Caller's group id.
    pub gid: u32,
    /// The language runtime sharefs recognised in the process (`c`, `python`, `node`…;
    /// `""` when it was not looked up), for the lock table and the conflict log.
    pub runtime: &'static str,
}

/// Why an open exists; implicit opens are the ones Windows performs inside DeleteFile,
/// MoveFile and SetEndOfFile-by-path, which sharefs models the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenKind {
    /// An open a program asked for (FUSE open/create/opendir).
    Handle,
    /// A short-lived open the daemon makes for unlink, rmdir, rename or truncate-by-path.
    Implicit,
}

/// Everything the core needs to decide and record one open.
#[derive(Clone, Debug)]
pub struct OpenRequest {
    /// Classes this open will hold.
    pub access: Classes,
    /// Classes this open lets other opens hold.
    pub share: Classes,
    /// FILE_DELETE_ON_CLOSE: the file becomes delete-pending when this handle closes.
    pub delete_on_close: bool,
    /// Who asks.
    pub owner: Arc<Owner>,
    /// Raw open flags, for display only.
    pub flags: i32,
    /// Path relative to the mount root at open time, for display only.
    pub path: Arc<str>,
    /// Whether this is a program's handle or one of the daemon's implicit opens.
    pub kind: OpenKind,
    /// Opened past share-mode denials by a backup reader (policy); never blocks others.
    pub backup: bool,
}

impl OpenRequest {
    /// A program's open with the given access and share; other fields at their defaults.
    pub fn new(access: Classes, share: Classes, owner: Arc<Owner>, path: Arc<str>) -> Self {
        OpenRequest {
            access,
            share,
            delete_on_close: false,
            owner,
            flags: 0,
            path,
            kind: OpenKind::Handle,
            backup: false,
        }
    }
}

/// One registered open, as the lock table and the conflict log show it.
#[derive(Clone, Debug)]
pub struct OpenRecord {
    /// The core's id for this open.
    pub handle: super::HandleId,
    /// Classes held.
    pub access: Classes,
    /// Classes shared.
    pub share: Classes,
    /// Delete-on-close was asked at open.
    pub delete_on_close: bool,
    /// Who opened it.
    pub owner: Arc<Owner>,
    /// Raw open flags.
    pub flags: i32,
    /// Path at open time (relative to the mount root).
    pub path: Arc<str>,
    /// When the open was granted.
    pub since: SystemTime,
    /// Program handle or daemon-internal implicit open.
    pub kind: OpenKind,
    /// Backup-reader open (does not take part in sharing).
    pub backup: bool,
}

impl OpenRecord {
    /// Whether this open takes part in sharing decisions at all: attribute-only opens and
    /// backup readers never do (SEMANTICS.md §1 rule 3; NKS NX_OFLAG_BACKUP).
    pub fn participates(&self) -> bool {
        !self.access.is_empty() && !self.backup
    }
}
