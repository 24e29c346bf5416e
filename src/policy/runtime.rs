//! The runtime table: what each language runtime does on Windows when a program uses
//! its ordinary file API (../shared/RUNTIMES.md). On Windows the runtime, not the
//! program, picks the share set of an open, the delete call and the errno a program
//! sees; the `auto` profile gives each Linux process the row of its own runtime.
//!
//! One row per runtime, each cell citing the runtime source that decides it. The row of
//! a process is found by `crate::service::runtime_probe`; nothing here reads `/proc`.
//! Tests: `tests::rows_follow_runtimes_md` here, tests/runtimes.rs through a mount.

use std::fmt;
use std::str::FromStr;

use super::ErrnoDialect;
use crate::core::{Classes, DeleteMode};

/// Which java file API a `java` process is taken to use: open(2) cannot tell them apart
/// (both open with `O_RDONLY`/`O_WRONLY|O_CREAT`), so a default is a choice
/// (docs/policy.md, "Java"): java.nio, whose opens share delete, so that a Java
/// program's delete of its own open file never fails here when Windows would let it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum JavaApi {
    /// `java.nio.file` (`Files.*`, `FileChannel`): `WindowsChannelFactory` shares read,
    /// write and delete unless a `NOSHARE_*` option says otherwise.
    #[default]
    Nio,
    /// `java.io` (`FileInputStream`, `FileOutputStream`, `RandomAccessFile`):
    /// `io_util_md.c` `winFileHandleOpen` shares read and write.
    Io,
}

/// The libuv a Node.js process runs, where it changes a row: libuv 1.49.0 ("win,fs: use
/// posix delete semantics, if supported") made `fs.unlink` a POSIX delete.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Libuv {
    /// Before 1.49 (Node 20 bundles 1.46): `fs__unlink` sets the classic
    /// FileDispositionInformation.
    Before149,
    /// 1.49 and later, and any version that could not be read (the newer behaviour is the
    /// more permissive one: a wrong guess misses a bug rather than inventing one).
    #[default]
    From149,
}

/// A runtime that decides how a program's files are opened and deleted on Windows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Runtime {
    /// A C (or C++) program: the MSVC C runtime's row, the conservative default for any
    /// process nothing else is recognised in (RUNTIMES.md, "C programs built for Linux").
    #[default]
    C,
    /// CPython.
    Python,
    /// Node.js (libuv).
    Node(Libuv),
    /// A program built with Rust's std.
    Rust,
    /// A Go program.
    Go,
    /// A JVM; the API and the JDK's feature release (`None`: not read).
    Java(JavaApi, Option<u16>),
    /// .NET (CoreCLR).
    DotNet,
    /// A compiler or linker built on LLVM (clang, lld, rust-lld, rustc's codegen).
    Llvm,
    /// Git for Windows' `compat/mingw.c`.
    Git,
}

/// What the read-only attribute does to a runtime's delete (or rename onto the file).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadOnlyRule {
    /// The call fails with access denied (STATUS_CANNOT_DELETE), as `DeleteFileW` does.
    Refuses,
    /// The runtime clears the attribute (or asks NTFS to ignore it) and the call goes on.
    Clears,
}

impl ReadOnlyRule {
    /// `refuse` or `clear`, as policy files write it.
    pub fn name(self) -> &'static str {
        match self {
            ReadOnlyRule::Refuses => "refuse",
            ReadOnlyRule::Clears => "clear",
        }
    }

    /// Parses `refuse` or `clear`.
    pub fn parse(s: &str) -> Option<ReadOnlyRule> {
        match s {
            "refuse" => Some(ReadOnlyRule::Refuses),
            "clear" => Some(ReadOnlyRule::Clears),
            _ => None,
        }
    }
}

/// One row of the table: what a runtime's ordinary file API does on Windows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RuntimeRow {
    /// The share set of an ordinary open (the `dwShareMode` the runtime passes).
    pub share: Classes,
    /// How its delete takes effect (unlink, rmdir).
    pub delete: DeleteMode,
    /// How its rename treats an existing target: `Classic` = `MoveFileExW` (a target
    /// that is open at all is access denied), `Posix` = FILE_RENAME_POSIX_SEMANTICS (the
    /// target may stay open if every open of it shares delete).
    pub rename: DeleteMode,
    /// A read-only file on delete.
    pub readonly_delete: ReadOnlyRule,
    /// A read-only file as the target of a replacing rename.
    pub readonly_rename: ReadOnlyRule,
    /// The errno it reports a sharing violation (ERROR_SHARING_VIOLATION, 32) as.
    pub sharing_violation: ErrnoDialect,
    /// The errno it reports access denied (ERROR_ACCESS_DENIED, 5) as.
    pub access_denied: ErrnoDialect,
    /// The runtime source this row was read from.
    pub source: &'static str,
}

const RW: Classes = Classes::READ_WRITE;
const RWD: Classes = Classes::ALL;

impl Runtime {
    /// Every runtime name a policy file or `sharefs policy explain` may use.
    pub const NAMES: [&'static str; 11] = [
        "c",
        "python",
        "node",
        "node-classic",
        "rust",
        "go",
        "java",
        "java.io",
        "dotnet",
        "llvm",
        "git",
    ];

    /// Its name (`node`, `java.io`; the form [`Runtime::from_str`] reads).
    pub fn name(self) -> &'static str {
        match self {
            Runtime::C => "c",
            Runtime::Python => "python",
            Runtime::Node(Libuv::From149) => "node",
            Runtime::Node(Libuv::Before149) => "node-classic",
            Runtime::Rust => "rust",
            Runtime::Go => "go",
            Runtime::Java(JavaApi::Nio, _) => "java",
            Runtime::Java(JavaApi::Io, _) => "java.io",
            Runtime::DotNet => "dotnet",
            Runtime::Llvm => "llvm",
            Runtime::Git => "git",
        }
    }

    /// The family name a rule's `runtime = [...]` matches (`node` for every libuv,
    /// `java` for both APIs).
    pub fn family(self) -> &'static str {
        match self {
            Runtime::Node(_) => "node",
            Runtime::Java(..) => "java",
            other => other.name(),
        }
    }

    /// The runtime an executable's file name gives away (RUNTIMES.md, "What a Linux
    /// process shows of its runtime"): `python3.11`, `node`, `java`, `git` and its
    /// `libexec/git-core` helpers, LLVM's tools, rustc and cargo. Version facts (libuv,
    /// JDK release) are the defaults; `None` for any other name.
    pub fn of_exe_name(exe: &str) -> Option<Runtime> {
        let name = exe.rsplit('/').next().unwrap_or(exe);
        Some(
            if name == "python" || name.starts_with("python3") || name.starts_with("pypy3") {
                Runtime::Python
            } else if name == "node" || name == "nodejs" {
                Runtime::Node(Libuv::default())
            } else if name == "java" {
                Runtime::Java(JavaApi::default(), None)
            } else if name == "dotnet" {
                Runtime::DotNet
            } else if name == "git" || (name.starts_with("git-") && exe.contains("/git-core/")) {
                Runtime::Git
            } else if name.starts_with("clang")
                || name.starts_with("llvm-")
                || matches!(name, "lld" | "ld.lld" | "ld64.lld" | "rust-lld" | "wasm-ld")
            {
                Runtime::Llvm
            } else if matches!(name, "rustc" | "cargo" | "rustdoc") {
                // rustc's own file API is std's; its codegen (LLVM) shares delete too.
                Runtime::Rust
            } else {
                return None;
            },
        )
    }

    /// The row (RUNTIMES.md, "The runtimes"; each cell from the source named).
    pub fn row(self) -> RuntimeRow {
        use DeleteMode::{Classic, Posix};
        use ErrnoDialect::{Eacces, Ebusy, Eperm};
        use ReadOnlyRule::{Clears, Refuses};
        // Every DeleteFileW on Windows 10 1909+ is a POSIX delete (RUNTIMES.md, "Delete,
        // by Windows version"; golang/go internal/syscall/windows/at_windows.go).
        let delete_file = Posix;
        match self {
            // UCRT lowio/open.cpp decode_sharing_flags (_SH_DENYNO = read|write);
            // misc/errno.cpp maps ERROR_SHARING_VIOLATION and ERROR_ACCESS_DENIED to
            // EACCES; `rename` is MoveFileExW without REPLACE_EXISTING.
            Runtime::C => RuntimeRow {
                share: RW,
                delete: delete_file,
                rename: Classic,
                readonly_delete: Refuses,
                readonly_rename: Refuses,
                sharing_violation: Eacces,
                access_denied: Eacces,
                source: "UCRT lowio/open.cpp decode_sharing_flags; misc/errno.cpp",
            },
            // Modules/_io/fileio.c _io_FileIO___init___impl opens through _wopen
            // (_SH_DENYNO); Modules/posixmodule.c os_unlink_impl is DeleteFileW;
            // PC/errmap.h winerror_to_errno: 32 and 5 are EACCES (PermissionError).
            Runtime::Python => RuntimeRow {
                share: RW,
                delete: delete_file,
                rename: Classic,
                readonly_delete: Refuses,
                readonly_rename: Refuses,
                sharing_violation: Eacces,
                access_denied: Eacces,
                source: "CPython Modules/_io/fileio.c; Modules/posixmodule.c os_unlink_impl; PC/errmap.h",
            },
            // libuv src/win/fs.c fs__open (FILE_SHARE_READ|WRITE|DELETE), fs__unlink
            // (clears FILE_ATTRIBUTE_READONLY; before 1.49 FileDispositionInformation,
            // since 1.49 FILE_DISPOSITION_POSIX_SEMANTICS), fs__rename (MoveFileExW with
            // MOVEFILE_REPLACE_EXISTING); src/win/error.c uv_translate_sys_error:
            // ERROR_SHARING_VIOLATION is UV_EBUSY, ERROR_ACCESS_DENIED is UV_EPERM.
            Runtime::Node(libuv) => RuntimeRow {
                share: RWD,
                delete: match libuv {
                    Libuv::Before149 => Classic,
                    Libuv::From149 => Posix,
                },
                rename: Classic,
                readonly_delete: Clears,
                readonly_rename: Refuses,
                sharing_violation: Ebusy,
                access_denied: Eperm,
                source: "libuv src/win/fs.c fs__open, fs__unlink, fs__rename; src/win/error.c",
            },
            // library/std/src/sys/fs/windows.rs: OpenOptions::new shares read, write
            // and delete; unlink falls back to a POSIX delete that ignores the read-only
            // attribute; rename uses FileRenameInfoEx with POSIX semantics, so an open
            // target that shares delete is replaced. io/error/windows.rs
            // decode_error_kind: 32 is Uncategorized (EBUSY here: ResourceBusy, likewise
            // not PermissionDenied), 5 is PermissionDenied.
            Runtime::Rust => RuntimeRow {
                share: RWD,
                delete: Posix,
                rename: Posix,
                readonly_delete: Clears,
                readonly_rename: Refuses,
                sharing_violation: Ebusy,
                access_denied: Eacces,
                source: "rust-lang/rust library/std/src/sys/fs/windows.rs OpenOptions::new, unlink, rename",
            },
            // src/syscall/syscall_windows.go Open (FILE_SHARE_READ|FILE_SHARE_WRITE);
            // src/os/file_windows.go Remove (DeleteFile, then RemoveDirectory; clears
            // the read-only attribute and retries), rename (MoveFileEx with
            // REPLACE_EXISTING); Errno.Is: 32 matches no io/fs sentinel (EBUSY here
            // matches none either), 5 is fs.ErrPermission.
            Runtime::Go => RuntimeRow {
                share: RW,
                delete: delete_file,
                rename: Classic,
                readonly_delete: Clears,
                readonly_rename: Refuses,
                sharing_violation: Ebusy,
                access_denied: Eacces,
                source: "golang/go src/syscall/syscall_windows.go Open; src/os/file_windows.go Remove",
            },
            // sun/nio/fs/WindowsChannelFactory.java shares read, write and delete;
            // WindowsFileCopy.java move with REPLACE_EXISTING deletes the target, then
            // moves (an open target that shares delete goes, as with a POSIX rename);
            // WindowsException.java: 5 is AccessDeniedException, 32 a
            // FileSystemException.
            Runtime::Java(JavaApi::Nio, _) => RuntimeRow {
                share: RWD,
                delete: delete_file,
                rename: Posix,
                readonly_delete: Refuses,
                readonly_rename: Refuses,
                sharing_violation: Ebusy,
                access_denied: Eacces,
                source: "openjdk sun/nio/fs/WindowsChannelFactory.java; WindowsFileCopy.java; WindowsException.java",
            },
            // io_util_md.c winFileHandleOpen (FILE_SHARE_READ|FILE_SHARE_WRITE);
            // WinNTFileSystem_md.c removeFileOrDirectory clears the read-only attribute
            // first up to JDK 24 (JDK-8355954 stopped that in JDK 25).
            Runtime::Java(JavaApi::Io, jdk) => RuntimeRow {
                share: RW,
                delete: delete_file,
                rename: Classic,
                readonly_delete: match jdk {
                    Some(v) if v >= 25 => Refuses,
                    _ => Clears,
                },
                readonly_rename: Refuses,
                sharing_violation: Ebusy,
                access_denied: Eacces,
                source: "openjdk io_util_md.c winFileHandleOpen; WinNTFileSystem_md.c removeFileOrDirectory",
            },
            // System/IO/FileStream.cs: FileShare.Read by default; File.cs Delete is
            // DeleteFile (read-only: UnauthorizedAccessException), Move refuses an
            // existing target unless overwrite; Win32Marshal.cs: 32 is an IOException,
            // 5 UnauthorizedAccessException (EACCES on Linux).
            Runtime::DotNet => RuntimeRow {
                share: Classes::READ,
                delete: delete_file,
                rename: Classic,
                readonly_delete: Refuses,
                readonly_rename: Refuses,
                sharing_violation: Ebusy,
                access_denied: Eacces,
                source: "dotnet/runtime System/IO/FileStream.cs; File.cs; Common/src/System/IO/Win32Marshal.cs",
            },
            // llvm/lib/Support/Windows/Path.inc openNativeFileInternal: every file LLVM
            // opens shares read, write and delete; mapWindowsError maps 32 and 5 to
            // errc::permission_denied.
            Runtime::Llvm => RuntimeRow {
                share: RWD,
                delete: delete_file,
                rename: Classic,
                readonly_delete: Refuses,
                readonly_rename: Refuses,
                sharing_violation: Eacces,
                access_denied: Eacces,
                source: "llvm/lib/Support/Windows/Path.inc openNativeFileInternal; mapWindowsError",
            },
            // git-for-windows compat/mingw.c: mingw_open is _wopen (read|write);
            // mingw_unlink makes the file writable (_wchmod 0666) before DeleteFileW;
            // mingw_rename clears FILE_ATTRIBUTE_READONLY of the target and retries;
            // err_win_to_posix maps 32 and 5 to EACCES.
            Runtime::Git => RuntimeRow {
                share: RW,
                delete: delete_file,
                rename: Classic,
                readonly_delete: Clears,
                readonly_rename: Clears,
                sharing_violation: Eacces,
                access_denied: Eacces,
                source: "git-for-windows compat/mingw.c mingw_open, mingw_unlink, mingw_rename, err_win_to_posix",
            },
        }
    }
}

impl fmt::Display for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Runtime {
    type Err = String;

    fn from_str(s: &str) -> Result<Runtime, String> {
        Ok(match s {
            "c" => Runtime::C,
            "python" => Runtime::Python,
            "node" => Runtime::Node(Libuv::From149),
            "node-classic" => Runtime::Node(Libuv::Before149),
            "rust" => Runtime::Rust,
            "go" => Runtime::Go,
            "java" => Runtime::Java(JavaApi::Nio, None),
            "java.io" => Runtime::Java(JavaApi::Io, None),
            "dotnet" => Runtime::DotNet,
            "llvm" => Runtime::Llvm,
            "git" => Runtime::Git,
            other => {
                return Err(format!(
                    "unknown runtime '{other}'; known runtimes: {}",
                    Runtime::NAMES.join(", ")
                ));
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RUNTIMES.md, "The runtimes", column by column.
    #[test]
    fn rows_follow_runtimes_md() {
        let shares_delete: Vec<&str> = Runtime::NAMES
            .iter()
            .filter(|n| {
                n.parse::<Runtime>()
                    .unwrap()
                    .row()
                    .share
                    .contains(Classes::DELETE)
            })
            .copied()
            .collect();
        assert_eq!(
            shares_delete,
            ["node", "node-classic", "rust", "java", "llvm"]
        );
        let clears: Vec<&str> = Runtime::NAMES
            .iter()
            .filter(|n| n.parse::<Runtime>().unwrap().row().readonly_delete == ReadOnlyRule::Clears)
            .copied()
            .collect();
        assert_eq!(
            clears,
            ["node", "node-classic", "rust", "go", "java.io", "git"]
        );
        assert_eq!(
            Runtime::Java(JavaApi::Io, Some(25)).row().readonly_delete,
            ReadOnlyRule::Refuses
        );
        assert_eq!(
            Runtime::Node(Libuv::Before149).row().delete,
            DeleteMode::Classic
        );
        assert_eq!(
            Runtime::Python.row().sharing_violation,
            ErrnoDialect::Eacces
        );
        assert_eq!(
            Runtime::Node(Libuv::From149).row().access_denied,
            ErrnoDialect::Eperm
        );
        assert_eq!(Runtime::Rust.row().rename, DeleteMode::Posix);
        assert_eq!(Runtime::C.row().rename, DeleteMode::Classic);
    }

    #[test]
    fn names_round_trip() {
        for n in Runtime::NAMES {
            assert_eq!(n.parse::<Runtime>().unwrap().name(), n);
        }
        let e = "perl".parse::<Runtime>().unwrap_err();
        assert!(e.contains("python, node"), "{e}");
        assert_eq!(Runtime::Java(JavaApi::Io, Some(17)).family(), "java");
    }
}
