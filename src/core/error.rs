//! What the core refuses, in Windows terms. Front-ends map these to their own error codes
//! in one table (`frontend::fuse::errno`).

use std::fmt;

use super::access::{Classes, OpenRecord};
use super::byte_range::ByteLock;
use super::share_table::SharingConflict;

/// A refusal by the semantics core.
#[derive(Clone, Debug)]
pub enum SemanticError {
    /// STATUS_SHARING_VIOLATION: an open or implicit open conflicts with existing opens.
    SharingViolation {
        /// Which half of the rule refused it.
        conflict: SharingConflict,
        /// The existing opens it conflicts with (the other parties, for the conflict log).
        holders: Vec<OpenRecord>,
    },
    /// STATUS_DELETE_PENDING: the file is waiting for its last handle to close.
    DeletePending,
    /// STATUS_ACCESS_DENIED: e.g. rename onto an open target, rename of a directory with
    /// open descendants, disposition set through a handle without delete access.
    AccessDenied {
        /// Why, for the log.
        reason: &'static str,
        /// Open handles that caused it, if any.
        holders: Vec<OpenRecord>,
    },
    /// STATUS_CANNOT_DELETE: the file is read-only.
    CannotDelete,
    /// STATUS_DIRECTORY_NOT_EMPTY.
    DirectoryNotEmpty,
    /// STATUS_INVALID_PARAMETER: e.g. delete-on-close without delete access.
    InvalidParameter(&'static str),
    /// STATUS_OBJECT_NAME_COLLISION.
    NameCollision,
    /// The handle is unknown to the core (a front-end bug; reported, never panics).
    UnknownHandle,
    /// STATUS_LOCK_NOT_GRANTED: a lock request conflicts with these locks.
    LockNotGranted {
        /// The conflicting locks.
        locks: Vec<ByteLock>,
    },
    /// STATUS_FILE_LOCK_CONFLICT: a read or write into a range locked by these.
    LockConflict {
        /// The locks that forbid the I/O.
        locks: Vec<ByteLock>,
    },
    /// STATUS_RANGE_NOT_LOCKED: a Windows unlock matched no lock exactly.
    NotLocked,
    /// STATUS_OBJECT_NAME_INVALID: a name Windows cannot hold (names=windows; why).
    InvalidName(String),
}

impl SemanticError {
    /// The refusals Win32 reports as ERROR_ACCESS_DENIED (5): delete pending, cannot
    /// delete, access denied (SEMANTICS.md §7). A runtime spells them in one errno
    /// (RUNTIMES.md, last column; tests/runtimes.rs).
    pub fn is_access_denied(&self) -> bool {
        matches!(
            self,
            SemanticError::DeletePending
                | SemanticError::AccessDenied { .. }
                | SemanticError::CannotDelete
        )
    }

    /// The byte-range locks that are the other parties of a lock refusal.
    pub fn lock_holders(&self) -> &[ByteLock] {
        match self {
            SemanticError::LockNotGranted { locks } | SemanticError::LockConflict { locks } => {
                locks
            }
            _ => &[],
        }
    }

    /// The existing opens that are the other parties of this refusal.
    pub fn holders(&self) -> &[OpenRecord] {
        match self {
            SemanticError::SharingViolation { holders, .. }
            | SemanticError::AccessDenied { holders, .. } => holders,
            _ => &[],
        }
    }

    /// A short machine-friendly name (for logs and counters).
    pub fn kind(&self) -> &'static str {
        match self {
            SemanticError::SharingViolation { .. } => "sharing_violation",
            SemanticError::DeletePending => "delete_pending",
            SemanticError::AccessDenied { .. } => "access_denied",
            SemanticError::CannotDelete => "cannot_delete",
            SemanticError::DirectoryNotEmpty => "directory_not_empty",
            SemanticError::InvalidParameter(_) => "invalid_parameter",
            SemanticError::NameCollision => "name_collision",
            SemanticError::UnknownHandle => "unknown_handle",
            SemanticError::LockNotGranted { .. } => "lock_not_granted",
            SemanticError::LockConflict { .. } => "lock_conflict",
            SemanticError::NotLocked => "not_locked",
            SemanticError::InvalidName(_) => "invalid_name",
        }
    }
}

impl fmt::Display for SemanticError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SemanticError::SharingViolation { conflict, holders } => {
                let what = match conflict {
                    SharingConflict::WantedNotShared(c) => {
                        format!("wants {} that an open does not share", describe(*c))
                    }
                    SharingConflict::HeldNotShared(c) => {
                        format!("does not share {} that an open holds", describe(*c))
                    }
                };
                write!(f, "sharing violation: {what} ({} holder(s))", holders.len())
            }
            SemanticError::DeletePending => f.write_str("delete pending"),
            SemanticError::AccessDenied { reason, .. } => write!(f, "access denied: {reason}"),
            SemanticError::CannotDelete => f.write_str("cannot delete a read-only file"),
            SemanticError::DirectoryNotEmpty => f.write_str("directory not empty"),
            SemanticError::InvalidParameter(why) => write!(f, "invalid parameter: {why}"),
            SemanticError::NameCollision => f.write_str("name collision"),
            SemanticError::UnknownHandle => f.write_str("unknown handle"),
            SemanticError::LockNotGranted { locks } => {
                write!(f, "lock not granted ({} conflicting lock(s))", locks.len())
            }
            SemanticError::LockConflict { locks } => {
                write!(f, "range locked ({} lock(s))", locks.len())
            }
            SemanticError::NotLocked => f.write_str("range not locked"),
            SemanticError::InvalidName(why) => write!(f, "invalid name: {why}"),
        }
    }
}

fn describe(c: Classes) -> String {
    c.to_string()
}

impl std::error::Error for SemanticError {}
