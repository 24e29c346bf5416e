//! The Windows front-end's translation tables, platform-free so their tests run on
//! every host: NT access masks and share access → the core's classes (SEMANTICS.md §1),
//! the core's refusals → NTSTATUS, and NTSTATUS → the core's refusal kinds, which the
//! front-end uses to compare its decision with the one WinFsp's driver made natively.
//!
//! Values are from the Windows SDK (winnt.h, ntstatus.h); MS-FSCC and MS-ERREF give the
//! same numbers.

use crate::core::{Classes, SemanticError};

/// Access-mask bits (winnt.h) that matter here.
pub mod access {
    /// FILE_READ_DATA / FILE_LIST_DIRECTORY.
    pub const FILE_READ_DATA: u32 = 0x0000_0001;
    /// FILE_WRITE_DATA / FILE_ADD_FILE.
    pub const FILE_WRITE_DATA: u32 = 0x0000_0002;
    /// FILE_APPEND_DATA / FILE_ADD_SUBDIRECTORY.
    pub const FILE_APPEND_DATA: u32 = 0x0000_0004;
    /// FILE_READ_EA.
    pub const FILE_READ_EA: u32 = 0x0000_0008;
    /// FILE_WRITE_EA.
    pub const FILE_WRITE_EA: u32 = 0x0000_0010;
    /// FILE_EXECUTE / FILE_TRAVERSE.
    pub const FILE_EXECUTE: u32 = 0x0000_0020;
    /// FILE_READ_ATTRIBUTES.
    pub const FILE_READ_ATTRIBUTES: u32 = 0x0000_0080;
    /// FILE_WRITE_ATTRIBUTES.
    pub const FILE_WRITE_ATTRIBUTES: u32 = 0x0000_0100;
    /// DELETE.
    pub const DELETE: u32 = 0x0001_0000;
    /// READ_CONTROL.
    pub const READ_CONTROL: u32 = 0x0002_0000;
    /// SYNCHRONIZE.
    pub const SYNCHRONIZE: u32 = 0x0010_0000;
    /// MAXIMUM_ALLOWED: resolved by the access check before a file system sees it.
    pub const MAXIMUM_ALLOWED: u32 = 0x0200_0000;
    /// GENERIC_ALL.
    pub const GENERIC_ALL: u32 = 0x1000_0000;
    /// GENERIC_EXECUTE.
    pub const GENERIC_EXECUTE: u32 = 0x2000_0000;
    /// GENERIC_WRITE.
    pub const GENERIC_WRITE: u32 = 0x4000_0000;
    /// GENERIC_READ.
    pub const GENERIC_READ: u32 = 0x8000_0000;
    /// FILE_GENERIC_READ (the file object's generic mapping of GENERIC_READ).
    pub const FILE_GENERIC_READ: u32 = 0x0012_0089;
    /// FILE_GENERIC_WRITE.
    pub const FILE_GENERIC_WRITE: u32 = 0x0012_0116;
    /// FILE_GENERIC_EXECUTE.
    pub const FILE_GENERIC_EXECUTE: u32 = 0x0012_00A0;
    /// FILE_ALL_ACCESS.
    pub const FILE_ALL_ACCESS: u32 = 0x001F_01FF;
}

/// Share-access bits (FILE_SHARE_*).
pub mod share {
    /// FILE_SHARE_READ.
    pub const READ: u32 = 0x1;
    /// FILE_SHARE_WRITE.
    pub const WRITE: u32 = 0x2;
    /// FILE_SHARE_DELETE.
    pub const DELETE: u32 = 0x4;
}

/// Create options (NtCreateFile's CreateOptions) used by the front-end.
pub mod create_options {
    /// FILE_DIRECTORY_FILE.
    pub const DIRECTORY_FILE: u32 = 0x0000_0001;
    /// FILE_WRITE_THROUGH.
    pub const WRITE_THROUGH: u32 = 0x0000_0002;
    /// FILE_NO_INTERMEDIATE_BUFFERING.
    pub const NO_INTERMEDIATE_BUFFERING: u32 = 0x0000_0008;
    /// FILE_NON_DIRECTORY_FILE.
    pub const NON_DIRECTORY_FILE: u32 = 0x0000_0040;
    /// FILE_DELETE_ON_CLOSE.
    pub const DELETE_ON_CLOSE: u32 = 0x0000_1000;
    /// FILE_OPEN_REPARSE_POINT.
    pub const OPEN_REPARSE_POINT: u32 = 0x0020_0000;
}

/// FILE_ATTRIBUTE_* values the front-end reports.
pub mod attributes {
    /// FILE_ATTRIBUTE_READONLY.
    pub const READONLY: u32 = 0x0001;
    /// FILE_ATTRIBUTE_HIDDEN.
    pub const HIDDEN: u32 = 0x0002;
    /// FILE_ATTRIBUTE_SYSTEM.
    pub const SYSTEM: u32 = 0x0004;
    /// FILE_ATTRIBUTE_DIRECTORY.
    pub const DIRECTORY: u32 = 0x0010;
    /// FILE_ATTRIBUTE_ARCHIVE.
    pub const ARCHIVE: u32 = 0x0020;
    /// FILE_ATTRIBUTE_NORMAL (only ever alone).
    pub const NORMAL: u32 = 0x0080;
    /// FILE_ATTRIBUTE_REPARSE_POINT.
    pub const REPARSE_POINT: u32 = 0x0400;
}

/// NTSTATUS values (ntstatus.h), as the signed 32-bit integers WinFsp returns.
pub mod status {
    #![allow(overflowing_literals)]
    /// STATUS_SUCCESS.
    pub const SUCCESS: i32 = 0;
    /// STATUS_INVALID_INFO_CLASS.
    pub const INVALID_INFO_CLASS: i32 = 0xC000_0003_u32 as i32;
    /// STATUS_INVALID_HANDLE.
    pub const INVALID_HANDLE: i32 = 0xC000_0008_u32 as i32;
    /// STATUS_INVALID_PARAMETER.
    pub const INVALID_PARAMETER: i32 = 0xC000_000D_u32 as i32;
    /// STATUS_INVALID_DEVICE_REQUEST.
    pub const INVALID_DEVICE_REQUEST: i32 = 0xC000_0010_u32 as i32;
    /// STATUS_END_OF_FILE.
    pub const END_OF_FILE: i32 = 0xC000_0011_u32 as i32;
    /// STATUS_ACCESS_DENIED.
    pub const ACCESS_DENIED: i32 = 0xC000_0022_u32 as i32;
    /// STATUS_OBJECT_NAME_INVALID.
    pub const OBJECT_NAME_INVALID: i32 = 0xC000_0033_u32 as i32;
    /// STATUS_OBJECT_NAME_NOT_FOUND.
    pub const OBJECT_NAME_NOT_FOUND: i32 = 0xC000_0034_u32 as i32;
    /// STATUS_OBJECT_NAME_COLLISION.
    pub const OBJECT_NAME_COLLISION: i32 = 0xC000_0035_u32 as i32;
    /// STATUS_OBJECT_PATH_NOT_FOUND.
    pub const OBJECT_PATH_NOT_FOUND: i32 = 0xC000_003A_u32 as i32;
    /// STATUS_SHARING_VIOLATION.
    pub const SHARING_VIOLATION: i32 = 0xC000_0043_u32 as i32;
    /// STATUS_FILE_LOCK_CONFLICT.
    pub const FILE_LOCK_CONFLICT: i32 = 0xC000_0054_u32 as i32;
    /// STATUS_LOCK_NOT_GRANTED.
    pub const LOCK_NOT_GRANTED: i32 = 0xC000_0055_u32 as i32;
    /// STATUS_DELETE_PENDING.
    pub const DELETE_PENDING: i32 = 0xC000_0056_u32 as i32;
    /// STATUS_RANGE_NOT_LOCKED.
    pub const RANGE_NOT_LOCKED: i32 = 0xC000_007E_u32 as i32;
    /// STATUS_DISK_FULL.
    pub const DISK_FULL: i32 = 0xC000_007F_u32 as i32;
    /// STATUS_FILE_IS_A_DIRECTORY.
    pub const FILE_IS_A_DIRECTORY: i32 = 0xC000_00BA_u32 as i32;
    /// STATUS_NOT_SUPPORTED.
    pub const NOT_SUPPORTED: i32 = 0xC000_00BB_u32 as i32;
    /// STATUS_DIRECTORY_NOT_EMPTY.
    pub const DIRECTORY_NOT_EMPTY: i32 = 0xC000_0101_u32 as i32;
    /// STATUS_NOT_A_DIRECTORY.
    pub const NOT_A_DIRECTORY: i32 = 0xC000_0103_u32 as i32;
    /// STATUS_CANNOT_DELETE.
    pub const CANNOT_DELETE: i32 = 0xC000_0121_u32 as i32;
    /// STATUS_INTERNAL_ERROR.
    pub const INTERNAL_ERROR: i32 = 0xC000_00E5_u32 as i32;
}

/// The classes an NT access mask holds (SEMANTICS.md §1): read = FILE_READ_DATA or
/// FILE_EXECUTE, write = FILE_WRITE_DATA or FILE_APPEND_DATA, delete = DELETE. Generic
/// rights count through the file object's generic mapping (GENERIC_READ holds read,
/// GENERIC_WRITE write, GENERIC_EXECUTE read through FILE_EXECUTE, GENERIC_ALL all
/// three); attribute, EA, READ_CONTROL and SYNCHRONIZE rights hold none (Wine
/// `server/fd.c`, `check_sharing`, which tests the same bits).
pub fn access_classes(mask: u32) -> Classes {
    let mask = map_generic(mask);
    let mut classes = Classes::NONE;
    if mask & (access::FILE_READ_DATA | access::FILE_EXECUTE) != 0 {
        classes = classes | Classes::READ;
    }
    if mask & (access::FILE_WRITE_DATA | access::FILE_APPEND_DATA) != 0 {
        classes = classes | Classes::WRITE;
    }
    if mask & access::DELETE != 0 {
        classes = classes | Classes::DELETE;
    }
    classes
}

/// Replaces GENERIC_* bits with the specific rights they stand for on a file.
pub fn map_generic(mask: u32) -> u32 {
    let mut out = mask
        & !(access::GENERIC_READ
            | access::GENERIC_WRITE
            | access::GENERIC_EXECUTE
            | access::GENERIC_ALL);
    if mask & access::GENERIC_READ != 0 {
        out |= access::FILE_GENERIC_READ;
    }
    if mask & access::GENERIC_WRITE != 0 {
        out |= access::FILE_GENERIC_WRITE;
    }
    if mask & access::GENERIC_EXECUTE != 0 {
        out |= access::FILE_GENERIC_EXECUTE;
    }
    if mask & access::GENERIC_ALL != 0 {
        out |= access::FILE_ALL_ACCESS;
    }
    out
}

/// The access WinFsp's driver adds, for its share check only, to an open that overwrites
/// or supersedes an existing file (`CreateOptions >> 24` is the disposition): write for
/// FILE_OVERWRITE and FILE_OVERWRITE_IF, delete for FILE_SUPERSEDE (winfsp
/// `src/sys/create.c`, FspFsvolCreateComplete, "AdditionalGrantedAccess", GitHub issue
/// #364). It is checked against the other opens but not recorded for this one.
pub fn overwrite_check_classes(create_options: u32) -> Classes {
    match create_options >> 24 {
        disposition::SUPERSEDE => Classes::DELETE,
        disposition::OVERWRITE | disposition::OVERWRITE_IF => Classes::WRITE,
        _ => Classes::NONE,
    }
}

/// NtCreateFile's CreateDisposition values (the top byte of WinFsp's CreateOptions).
pub mod disposition {
    /// FILE_SUPERSEDE.
    pub const SUPERSEDE: u32 = 0;
    /// FILE_OPEN.
    pub const OPEN: u32 = 1;
    /// FILE_CREATE.
    pub const CREATE: u32 = 2;
    /// FILE_OPEN_IF.
    pub const OPEN_IF: u32 = 3;
    /// FILE_OVERWRITE.
    pub const OVERWRITE: u32 = 4;
    /// FILE_OVERWRITE_IF.
    pub const OVERWRITE_IF: u32 = 5;
}

/// The attribute bits FileBasicInformation may set (FILE_ATTRIBUTE_VALID_SET_FLAGS in
/// ntifs.h): an overwrite merges the old attributes with the new ones, and the old ones
/// can carry bits (directory, compressed, sparse, reparse point) that cannot be set.
pub const SETTABLE_ATTRIBUTES: u32 = 0x0000_31A7;

/// The classes a FILE_SHARE_* set shares.
pub fn share_classes(share_access: u32) -> Classes {
    let mut classes = Classes::NONE;
    if share_access & share::READ != 0 {
        classes = classes | Classes::READ;
    }
    if share_access & share::WRITE != 0 {
        classes = classes | Classes::WRITE;
    }
    if share_access & share::DELETE != 0 {
        classes = classes | Classes::DELETE;
    }
    classes
}

/// FILE_SHARE_* bits of a share set (the inverse of [`share_classes`]).
pub fn share_access(classes: Classes) -> u32 {
    let mut bits = 0;
    if classes.contains(Classes::READ) {
        bits |= share::READ;
    }
    if classes.contains(Classes::WRITE) {
        bits |= share::WRITE;
    }
    if classes.contains(Classes::DELETE) {
        bits |= share::DELETE;
    }
    bits
}

/// The NTSTATUS a refusal of the core is reported with (SEMANTICS.md §7, first column).
pub fn status_of(error: &SemanticError) -> i32 {
    match error {
        SemanticError::SharingViolation { .. } => status::SHARING_VIOLATION,
        SemanticError::DeletePending => status::DELETE_PENDING,
        SemanticError::AccessDenied { .. } => status::ACCESS_DENIED,
        SemanticError::CannotDelete => status::CANNOT_DELETE,
        SemanticError::DirectoryNotEmpty => status::DIRECTORY_NOT_EMPTY,
        SemanticError::InvalidParameter(_) => status::INVALID_PARAMETER,
        SemanticError::NameCollision => status::OBJECT_NAME_COLLISION,
        SemanticError::UnknownHandle => status::INVALID_HANDLE,
        SemanticError::LockNotGranted { .. } => status::LOCK_NOT_GRANTED,
        SemanticError::LockConflict { .. } => status::FILE_LOCK_CONFLICT,
        SemanticError::NotLocked => status::RANGE_NOT_LOCKED,
        SemanticError::InvalidName(_) => status::OBJECT_NAME_INVALID,
    }
}

/// The core's refusal kind ([`SemanticError::kind`]) a status stands for, if it is one
/// the core decides. Used to compare a refusal WinFsp's driver made natively with what
/// the core would have decided.
pub fn kind_of_status(status: i32) -> Option<&'static str> {
    Some(match status {
        status::SHARING_VIOLATION => "sharing_violation",
        status::DELETE_PENDING => "delete_pending",
        status::ACCESS_DENIED => "access_denied",
        status::CANNOT_DELETE => "cannot_delete",
        status::DIRECTORY_NOT_EMPTY => "directory_not_empty",
        status::INVALID_PARAMETER => "invalid_parameter",
        status::OBJECT_NAME_COLLISION => "name_collision",
        status::INVALID_HANDLE => "unknown_handle",
        status::LOCK_NOT_GRANTED => "lock_not_granted",
        status::FILE_LOCK_CONFLICT => "lock_conflict",
        status::RANGE_NOT_LOCKED => "not_locked",
        status::OBJECT_NAME_INVALID => "invalid_name",
        _ => return None,
    })
}

/// The Win32 error code (`GetLastError`) a program sees for a status the core produces,
/// as RtlNtStatusToDosError maps it (SEMANTICS.md §7, second column).
pub fn win32_error_of_status(status: i32) -> Option<u32> {
    Some(match status {
        status::SUCCESS => 0,
        status::SHARING_VIOLATION => 32,
        status::DELETE_PENDING | status::ACCESS_DENIED | status::CANNOT_DELETE => 5,
        status::FILE_LOCK_CONFLICT | status::LOCK_NOT_GRANTED => 33,
        status::RANGE_NOT_LOCKED => 158,
        status::DIRECTORY_NOT_EMPTY => 145,
        status::OBJECT_NAME_COLLISION => 183,
        status::INVALID_PARAMETER => 87,
        status::INVALID_HANDLE => 6,
        status::OBJECT_NAME_INVALID => 123,
        _ => return None,
    })
}

/// FILE_ATTRIBUTE_* for a backing file: the read-only attribute the core enforces, the
/// directory bit, and NORMAL when nothing else is set (it is only valid alone).
pub fn file_attributes(is_dir: bool, readonly: bool, hidden: bool) -> u32 {
    let mut bits = 0;
    if is_dir {
        bits |= attributes::DIRECTORY;
    }
    if readonly && !is_dir {
        bits |= attributes::READONLY;
    }
    if hidden {
        bits |= attributes::HIDDEN;
    }
    if bits == 0 {
        bits = attributes::NORMAL;
    }
    bits
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::share_table::SharingConflict;
    use proptest::prelude::*;

    /// Overwrite and supersede are share-checked with write or delete added; other
    /// dispositions add nothing (the top byte of CreateOptions is the disposition).
    #[test]
    fn overwrite_adds_check_classes() {
        let with = |d: u32| (d << 24) | create_options::NON_DIRECTORY_FILE;
        assert_eq!(
            overwrite_check_classes(with(disposition::SUPERSEDE)),
            Classes::DELETE
        );
        assert_eq!(
            overwrite_check_classes(with(disposition::OVERWRITE)),
            Classes::WRITE
        );
        assert_eq!(
            overwrite_check_classes(with(disposition::OVERWRITE_IF)),
            Classes::WRITE
        );
        for d in [disposition::OPEN, disposition::CREATE, disposition::OPEN_IF] {
            assert_eq!(
                overwrite_check_classes(with(d)),
                Classes::NONE,
                "disposition {d}"
            );
        }
    }

    /// Access masks programs pass to CreateFile, with the classes SEMANTICS.md §1 says
    /// they hold.
    #[test]
    fn access_mask_rows() {
        let rows: &[(u32, Classes)] = &[
            (access::GENERIC_READ, Classes::READ),
            (access::GENERIC_WRITE, Classes::WRITE),
            (
                access::GENERIC_READ | access::GENERIC_WRITE,
                Classes::READ_WRITE,
            ),
            (access::GENERIC_EXECUTE, Classes::READ),
            (access::GENERIC_ALL, Classes::ALL),
            (access::FILE_ALL_ACCESS, Classes::ALL),
            (access::FILE_READ_DATA, Classes::READ),
            (access::FILE_EXECUTE, Classes::READ),
            (access::FILE_APPEND_DATA, Classes::WRITE),
            (access::FILE_WRITE_DATA, Classes::WRITE),
            (access::DELETE, Classes::DELETE),
            (access::DELETE | access::SYNCHRONIZE, Classes::DELETE),
            (access::FILE_READ_ATTRIBUTES, Classes::NONE),
            (access::FILE_WRITE_ATTRIBUTES, Classes::NONE),
            (access::FILE_READ_EA | access::FILE_WRITE_EA, Classes::NONE),
            (access::READ_CONTROL | access::SYNCHRONIZE, Classes::NONE),
            (0, Classes::NONE),
        ];
        for (mask, want) in rows {
            assert_eq!(access_classes(*mask), *want, "mask {mask:#x}");
        }
    }

    #[test]
    fn share_bits_round_trip() {
        for bits in 0..8u32 {
            assert_eq!(share_access(share_classes(bits)), bits);
        }
        assert_eq!(
            share_classes(share::READ | share::WRITE),
            Classes::READ_WRITE
        );
        // DOS deny modes (SEMANTICS.md §1): DENYNO shares read+write, never delete.
        assert!(!share_classes(share::READ | share::WRITE).contains(Classes::DELETE));
    }

    fn every_error() -> Vec<SemanticError> {
        vec![
            SemanticError::SharingViolation {
                conflict: SharingConflict::WantedNotShared(Classes::READ),
                holders: Vec::new(),
            },
            SemanticError::DeletePending,
            SemanticError::AccessDenied {
                reason: "test",
                holders: Vec::new(),
            },
            SemanticError::CannotDelete,
            SemanticError::DirectoryNotEmpty,
            SemanticError::InvalidParameter("test"),
            SemanticError::NameCollision,
            SemanticError::UnknownHandle,
            SemanticError::LockNotGranted { locks: Vec::new() },
            SemanticError::LockConflict { locks: Vec::new() },
            SemanticError::NotLocked,
            SemanticError::InvalidName("test".into()),
        ]
    }

    /// Every refusal has its own status, and the status names the refusal back: the
    /// front-end's agreement check relies on it.
    #[test]
    fn status_table_is_a_bijection_on_core_refusals() {
        let errors = every_error();
        let mut seen = std::collections::HashSet::new();
        for e in &errors {
            let s = status_of(e);
            assert!(s < 0, "{} must be an error status", e.kind());
            assert!(seen.insert(s), "{} shares its status", e.kind());
            assert_eq!(kind_of_status(s), Some(e.kind()));
        }
        assert_eq!(kind_of_status(status::SUCCESS), None);
        assert_eq!(kind_of_status(status::DISK_FULL), None);
    }

    /// SEMANTICS.md §7's Win32 column.
    #[test]
    fn win32_codes_match_the_semantics_table() {
        let want = [
            ("sharing_violation", 32),
            ("delete_pending", 5),
            ("cannot_delete", 5),
            ("lock_conflict", 33),
            ("lock_not_granted", 33),
            ("access_denied", 5),
            ("directory_not_empty", 145),
            ("name_collision", 183),
            ("invalid_parameter", 87),
        ];
        for e in every_error() {
            if let Some((_, code)) = want.iter().find(|(k, _)| *k == e.kind()) {
                assert_eq!(
                    win32_error_of_status(status_of(&e)),
                    Some(*code),
                    "{}",
                    e.kind()
                );
            }
        }
    }

    #[test]
    fn attributes_of_files_and_directories() {
        assert_eq!(file_attributes(false, false, false), attributes::NORMAL);
        assert_eq!(file_attributes(false, true, false), attributes::READONLY);
        assert_eq!(file_attributes(true, false, false), attributes::DIRECTORY);
        // Directories never carry the read-only attribute here (docs/semantics.md).
        assert_eq!(file_attributes(true, true, false), attributes::DIRECTORY);
        assert_eq!(
            file_attributes(false, false, true),
            attributes::HIDDEN,
            "NORMAL only alone"
        );
    }

    proptest! {
        /// Classifying never depends on bits outside the nine that carry classes.
        #[test]
        fn only_class_bits_matter(mask in any::<u32>()) {
            let class_bits = access::FILE_READ_DATA | access::FILE_EXECUTE
                | access::FILE_WRITE_DATA | access::FILE_APPEND_DATA | access::DELETE
                | access::GENERIC_READ | access::GENERIC_WRITE | access::GENERIC_EXECUTE
                | access::GENERIC_ALL;
            prop_assert_eq!(access_classes(mask), access_classes(mask & class_bits));
        }

        /// Adding rights never removes a class.
        #[test]
        fn classes_are_monotone(a in any::<u32>(), b in any::<u32>()) {
            prop_assert!(access_classes(a | b).contains(access_classes(a)));
        }
    }
}
