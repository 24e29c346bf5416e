//! The one table from refusals and backing errors to the errno a Linux program sees
//! (SEMANTICS.md §7; the Linux SMB client's `smb2maperror.c` maps the same statuses).

use std::io;

use fuser::Errno;

use crate::core::SemanticError;
use crate::policy::Errnos;

/// An operation's failure: a backing syscall's error (errno kept as is) or a refusal by
/// the semantics core.
#[derive(Debug)]
pub enum FsError {
    /// The backing filesystem's own error.
    Io(io::Error),
    /// The semantics core refused.
    Denied(SemanticError),
}

impl From<io::Error> for FsError {
    fn from(e: io::Error) -> Self {
        FsError::Io(e)
    }
}

impl From<SemanticError> for FsError {
    fn from(e: SemanticError) -> Self {
        FsError::Denied(e)
    }
}

impl FsError {
    /// An error from a raw errno value.
    pub fn errno(code: i32) -> FsError {
        FsError::Io(io::Error::from_raw_os_error(code))
    }

    /// The errno to reply with. `sharing_violation` is the errno chosen for sharing
    /// violations (EBUSY by default, SEMANTICS.md §7).
    pub fn code(&self, sharing_violation: i32) -> i32 {
        match self {
            // An io::Error without an OS code is a bug in our own code: EIO, never 0.
            FsError::Io(e) => e.raw_os_error().filter(|c| *c > 0).unwrap_or(libc::EIO),
            FsError::Denied(e) => semantic_errno(e, sharing_violation),
        }
    }

    /// The errno to reply with for a caller whose runtime (or rule) spells a sharing
    /// violation and access denied as `errnos` say (RUNTIMES.md, the last two columns).
    pub fn code_in(&self, errnos: Errnos) -> i32 {
        match self {
            FsError::Denied(e) if e.is_access_denied() => errnos.access_denied.errno(),
            _ => self.code(errnos.sharing_violation.errno()),
        }
    }

    /// The fuser reply value.
    pub fn to_errno(&self, sharing_violation: i32) -> Errno {
        Errno::from_i32(self.code(sharing_violation))
    }
}

/// SEMANTICS.md §7, one row per status. Each row is pinned by `tests::table`.
pub fn semantic_errno(e: &SemanticError, sharing_violation: i32) -> i32 {
    match e {
        // STATUS_SHARING_VIOLATION (32): EBUSY as Samba and the Linux SMB client map it.
        SemanticError::SharingViolation { .. } => sharing_violation,
        // STATUS_DELETE_PENDING: Win32 access denied.
        SemanticError::DeletePending => libc::EACCES,
        // STATUS_ACCESS_DENIED (5).
        SemanticError::AccessDenied { .. } => libc::EACCES,
        // STATUS_CANNOT_DELETE: Win32 access denied.
        SemanticError::CannotDelete => libc::EACCES,
        // STATUS_DIRECTORY_NOT_EMPTY (145).
        SemanticError::DirectoryNotEmpty => libc::ENOTEMPTY,
        // STATUS_INVALID_PARAMETER (87).
        SemanticError::InvalidParameter(_) => libc::EINVAL,
        // STATUS_OBJECT_NAME_COLLISION (183).
        SemanticError::NameCollision => libc::EEXIST,
        // A handle the core does not know: an internal inconsistency, logged by the caller.
        SemanticError::UnknownHandle => libc::EIO,
        // STATUS_LOCK_NOT_GRANTED: what F_SETLK callers test for (EWOULDBLOCK for
        // flock is the same value on Linux).
        SemanticError::LockNotGranted { .. } => libc::EAGAIN,
        // STATUS_FILE_LOCK_CONFLICT: the Linux SMB client's EACCES.
        SemanticError::LockConflict { .. } => libc::EACCES,
        // STATUS_RANGE_NOT_LOCKED.
        SemanticError::NotLocked => libc::ENOLCK,
        // STATUS_OBJECT_NAME_INVALID (123, ERROR_INVALID_NAME): EINVAL as Samba's client.
        SemanticError::InvalidName(_) => libc::EINVAL,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::SharingConflict;
    use crate::core::access::Classes;

    #[test]
    fn table() {
        let rows: Vec<(SemanticError, i32)> = vec![
            (
                SemanticError::SharingViolation {
                    conflict: SharingConflict::WantedNotShared(Classes::DELETE),
                    holders: vec![],
                },
                libc::EBUSY,
            ),
            (SemanticError::DeletePending, libc::EACCES),
            (
                SemanticError::AccessDenied {
                    reason: "x",
                    holders: vec![],
                },
                libc::EACCES,
            ),
            (SemanticError::CannotDelete, libc::EACCES),
            (SemanticError::DirectoryNotEmpty, libc::ENOTEMPTY),
            (SemanticError::InvalidParameter("x"), libc::EINVAL),
            (SemanticError::NameCollision, libc::EEXIST),
            (SemanticError::UnknownHandle, libc::EIO),
            (
                SemanticError::LockNotGranted { locks: vec![] },
                libc::EAGAIN,
            ),
            (SemanticError::LockConflict { locks: vec![] }, libc::EACCES),
            (SemanticError::NotLocked, libc::ENOLCK),
            (SemanticError::InvalidName("CON".into()), libc::EINVAL),
        ];
        for (err, want) in rows {
            assert_eq!(semantic_errno(&err, libc::EBUSY), want, "{err}");
        }
    }

    #[test]
    fn sharing_violation_errno_is_configurable() {
        let e = SemanticError::SharingViolation {
            conflict: SharingConflict::HeldNotShared(Classes::WRITE),
            holders: vec![],
        };
        assert_eq!(semantic_errno(&e, libc::EACCES), libc::EACCES);
    }

    #[test]
    fn io_errors_keep_their_code_and_never_become_zero() {
        assert_eq!(FsError::errno(libc::ENOSPC).code(libc::EBUSY), libc::ENOSPC);
        let e = FsError::Io(io::Error::other("no code"));
        assert_eq!(e.code(libc::EBUSY), libc::EIO);
    }
}
