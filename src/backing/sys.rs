//! The only module with `unsafe`: thin wrappers over the `*at()` system calls sharefs
//! needs and std does not offer. Every wrapper takes directory fds and single names, never
//! joined paths, and returns `io::Result` with the OS error code intact.

use std::ffi::{CStr, CString, OsStr};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
#[cfg(not(target_os = "linux"))]
use std::os::{fd::IntoRawFd, unix::ffi::OsStringExt};

/// Mode bits as `u32` on every platform (`mode_t` is `u32` on Linux, `u16` on macOS); the
/// crate works with `u32` modes throughout.
#[allow(clippy::unnecessary_cast)]
pub mod mode {
    /// File type mask.
    pub const S_IFMT: u32 = libc::S_IFMT as u32;
    /// Regular file.
    pub const S_IFREG: u32 = libc::S_IFREG as u32;
    /// Directory.
    pub const S_IFDIR: u32 = libc::S_IFDIR as u32;
    /// Symbolic link.
    pub const S_IFLNK: u32 = libc::S_IFLNK as u32;
    /// FIFO.
    pub const S_IFIFO: u32 = libc::S_IFIFO as u32;
    /// Socket.
    pub const S_IFSOCK: u32 = libc::S_IFSOCK as u32;
    /// Character device.
    pub const S_IFCHR: u32 = libc::S_IFCHR as u32;
    /// Block device.
    pub const S_IFBLK: u32 = libc::S_IFBLK as u32;
    /// Set-user-id.
    pub const S_ISUID: u32 = libc::S_ISUID as u32;
    /// Set-group-id.
    pub const S_ISGID: u32 = libc::S_ISGID as u32;
    /// Group execute.
    pub const S_IXGRP: u32 = libc::S_IXGRP as u32;

    /// A `u32` mode as the platform's `mode_t` (permission and type bits fit in 16 bits).
    pub fn to_mode_t(mode: u32) -> libc::mode_t {
        mode as libc::mode_t
    }
}

/// A backing file's attributes, with the same field widths on every platform (Linux and
/// macOS `struct stat` differ), plus its creation time where the filesystem records one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stat {
    /// Device.
    pub st_dev: u64,
    /// Inode number.
    pub st_ino: u64,
    /// Type and permission bits.
    pub st_mode: u32,
    /// Hard links.
    pub st_nlink: u64,
    /// Owner.
    pub st_uid: u32,
    /// Group.
    pub st_gid: u32,
    /// Device of a device node.
    pub st_rdev: u64,
    /// Size in bytes.
    pub st_size: i64,
    /// Preferred I/O size.
    pub st_blksize: i64,
    /// 512-byte blocks allocated.
    pub st_blocks: i64,
    /// Access time, seconds.
    pub st_atime: i64,
    /// Access time, nanoseconds.
    pub st_atime_nsec: i64,
    /// Modification time, seconds.
    pub st_mtime: i64,
    /// Modification time, nanoseconds.
    pub st_mtime_nsec: i64,
    /// Status change time, seconds.
    pub st_ctime: i64,
    /// Status change time, nanoseconds.
    pub st_ctime_nsec: i64,
    /// Creation (birth) time as seconds and nanoseconds; `None` when the filesystem does
    /// not record it (Linux: `statx` without `STATX_BTIME` in its mask).
    pub st_birthtime: Option<(i64, i64)>,
}

impl Stat {
    /// From the platform's `struct stat` (no birth time on Linux: `stat` has none).
    #[allow(clippy::unnecessary_cast)]
    fn from_libc(st: &libc::stat) -> Stat {
        Stat {
            st_dev: st.st_dev as u64,
            st_ino: st.st_ino as u64,
            st_mode: st.st_mode as u32,
            st_nlink: st.st_nlink as u64,
            st_uid: st.st_uid,
            st_gid: st.st_gid,
            st_rdev: st.st_rdev as u64,
            st_size: st.st_size as i64,
            st_blksize: st.st_blksize as i64,
            st_blocks: st.st_blocks as i64,
            st_atime: st.st_atime as i64,
            st_atime_nsec: st.st_atime_nsec as i64,
            st_mtime: st.st_mtime as i64,
            st_mtime_nsec: st.st_mtime_nsec as i64,
            st_ctime: st.st_ctime as i64,
            st_ctime_nsec: st.st_ctime_nsec as i64,
            #[cfg(target_os = "linux")]
            st_birthtime: None,
            #[cfg(not(target_os = "linux"))]
            st_birthtime: Some((st.st_birthtime as i64, st.st_birthtime_nsec as i64)),
        }
    }

    /// From `statx`; the birth time only when the kernel says it filled it in.
    #[cfg(target_os = "linux")]
    fn from_statx(stx: &libc::statx) -> Stat {
        let t = |t: &libc::statx_timestamp| (t.tv_sec, i64::from(t.tv_nsec));
        let (atime, mtime, ctime) = (t(&stx.stx_atime), t(&stx.stx_mtime), t(&stx.stx_ctime));
        Stat {
            // The encoding std and glibc's stat use for st_dev.
            st_dev: libc::makedev(stx.stx_dev_major, stx.stx_dev_minor),
            st_ino: stx.stx_ino,
            st_mode: u32::from(stx.stx_mode),
            st_nlink: u64::from(stx.stx_nlink),
            st_uid: stx.stx_uid,
            st_gid: stx.stx_gid,
            st_rdev: libc::makedev(stx.stx_rdev_major, stx.stx_rdev_minor),
            st_size: stx.stx_size as i64,
            st_blksize: i64::from(stx.stx_blksize),
            st_blocks: stx.stx_blocks as i64,
            st_atime: atime.0,
            st_atime_nsec: atime.1,
            st_mtime: mtime.0,
            st_mtime_nsec: mtime.1,
            st_ctime: ctime.0,
            st_ctime_nsec: ctime.1,
            st_birthtime: (stx.stx_mask & libc::STATX_BTIME != 0).then(|| t(&stx.stx_btime)),
        }
    }
}

fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Called when an fd-creating call fails with EMFILE or ENFILE: closes idle fds the
/// daemon holds and returns how many (the inode table registers it).
static FD_SHORTAGE_HOOK: std::sync::OnceLock<fn() -> usize> = std::sync::OnceLock::new();

/// Sets what [`retry_on_fd_shortage`] calls to free descriptors (first call wins).
pub fn on_fd_shortage(hook: fn() -> usize) {
    let _ = FD_SHORTAGE_HOOK.set(hook);
}

/// Runs an fd-creating call; when it fails for lack of descriptors (EMFILE, ENFILE) and
/// the hook closed idle ones, runs it once more. So a program sees EMFILE only when
/// handles really fill the limit, never while the daemon sits on idle inode fds
/// (tests/fd_limit.rs).
pub fn retry_on_fd_shortage<T>(mut call: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    match call() {
        Err(e) if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) => {
            match FD_SHORTAGE_HOOK.get() {
                Some(relieve) if relieve() > 0 => call(),
                _ => Err(e),
            }
        }
        other => other,
    }
}

fn cvt_ssize(ret: isize) -> io::Result<usize> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret as usize)
    }
}

/// A name as a C string; names with NUL bytes cannot exist on Linux (EINVAL).
pub fn cname(name: &OsStr) -> io::Result<CString> {
    CString::new(name.as_bytes()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

/// `/proc/self/fd/N` for an fd: re-opens exactly that inode, whatever its names are now.
#[cfg(target_os = "linux")]
pub fn proc_fd_path(fd: BorrowedFd<'_>) -> CString {
    // A decimal number never contains NUL.
    CString::new(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap_or_default()
}

#[cfg(target_os = "linux")]
fn openat2_beneath(
    dir: BorrowedFd<'_>,
    name: &CStr,
    flags: libc::c_int,
    mode: libc::mode_t,
) -> io::Result<OwnedFd> {
    // SAFETY: open_how is a plain C struct of integers; all-zero is a valid value.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = flags as u64;
    how.mode = mode as u64;
    how.resolve = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS;
    // SAFETY: `how` is a valid open_how of the size passed; `name` is NUL-terminated and
    // outlives the call; the returned fd is fresh and owned by us.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir.as_raw_fd(),
            name.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel returned a new, valid fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Opens `name` (one component) inside `dir`, never following a symlink and never leaving
/// `dir`: `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)` where the kernel has it, else
/// `openat(O_NOFOLLOW)`, which is equally safe for a single component without `/`.
/// `mode` is a `u32` on every platform: the variadic `openat` takes it promoted anyway.
pub fn open_beneath(
    dir: BorrowedFd<'_>,
    name: &CStr,
    flags: libc::c_int,
    mode: u32,
) -> io::Result<OwnedFd> {
    if name.to_bytes().contains(&b'/') || name.to_bytes() == b".." {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // Without RESOLVE_BENEATH, "." and "" are refused too: only a real child name may
    // be opened (docs/macos.md).
    #[cfg(not(target_os = "linux"))]
    if name.to_bytes().is_empty() || name.to_bytes() == b"." {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let flags = flags | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    retry_on_fd_shortage(|| {
        #[cfg(target_os = "linux")]
        match openat2_beneath(dir, name, flags, mode) {
            Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {}
            other => return other,
        }
        // SAFETY: `name` is NUL-terminated; the fd returned is fresh and owned by us.
        let fd = cvt(unsafe { libc::openat(dir.as_raw_fd(), name.as_ptr(), flags, mode) })?;
        // SAFETY: fresh fd from the kernel.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    })
}

/// Opens an absolute path (startup only: the backing root, `/proc/self/fd`).
pub fn open_path(path: &CStr, flags: libc::c_int) -> io::Result<OwnedFd> {
    retry_on_fd_shortage(|| {
        // SAFETY: `path` is NUL-terminated; the fd returned is fresh and owned by us.
        let fd = cvt(unsafe { libc::open(path.as_ptr(), flags | libc::O_CLOEXEC) })?;
        // SAFETY: fresh fd from the kernel.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    })
}

/// Re-opens the inode behind an `O_PATH` fd for I/O, through `/proc/self/fd` (the only
/// way to turn an `O_PATH` fd into an I/O fd; the inode is the one we hold, not a name).
#[cfg(target_os = "linux")]
pub fn reopen(fd: BorrowedFd<'_>, flags: libc::c_int) -> io::Result<OwnedFd> {
    let path = proc_fd_path(fd);
    let flags = (flags | libc::O_CLOEXEC) & !(libc::O_NOFOLLOW | libc::O_CREAT | libc::O_EXCL);
    retry_on_fd_shortage(|| {
        // SAFETY: `path` is NUL-terminated; the fd returned is fresh and owned by us.
        let fd = cvt(unsafe { libc::open(path.as_ptr(), flags) })?;
        // SAFETY: fresh fd from the kernel.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    })
}

/// `statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)`: works on `O_PATH` fds, and gives
/// the birth time where the filesystem has one, in the one syscall `fstatat` would cost.
/// Falls back to `fstatat` where statx is missing (`ENOSYS`: old kernel or seccomp).
#[cfg(target_os = "linux")]
pub fn fstat(fd: BorrowedFd<'_>) -> io::Result<Stat> {
    let mut stx = std::mem::MaybeUninit::<libc::statx>::zeroed();
    // SAFETY: `stx` is a valid out-buffer of the right type; "" is a valid C string.
    let r = cvt(unsafe {
        libc::statx(
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW,
            libc::STATX_BASIC_STATS | libc::STATX_BTIME,
            stx.as_mut_ptr(),
        )
    });
    match r {
        // SAFETY: statx succeeded, so it filled the buffer.
        Ok(_) => Ok(Stat::from_statx(unsafe { stx.assume_init_ref() })),
        Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => fstatat_empty(fd),
        Err(e) => Err(e),
    }
}

/// `fstatat(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)`: works on `O_PATH` fds.
#[cfg(target_os = "linux")]
fn fstatat_empty(fd: BorrowedFd<'_>) -> io::Result<Stat> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::zeroed();
    // SAFETY: `st` is a valid out-buffer of the right type; "" is a valid C string.
    cvt(unsafe {
        libc::fstatat(
            fd.as_raw_fd(),
            c"".as_ptr(),
            st.as_mut_ptr(),
            libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW,
        )
    })?;
    // SAFETY: fstatat succeeded, so it filled the buffer.
    Ok(Stat::from_libc(unsafe { st.assume_init_ref() }))
}

/// `fstat` of an open fd (macOS has no `O_PATH`: every fd held is a real open).
#[cfg(not(target_os = "linux"))]
pub fn fstat(fd: BorrowedFd<'_>) -> io::Result<Stat> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::zeroed();
    // SAFETY: `st` is a valid out-buffer of the right type.
    cvt(unsafe { libc::fstat(fd.as_raw_fd(), st.as_mut_ptr()) })?;
    // SAFETY: fstat succeeded, so it filled the buffer.
    Ok(Stat::from_libc(unsafe { st.assume_init_ref() }))
}

/// `fstatat(dir, name, AT_SYMLINK_NOFOLLOW)`: a single entry, never following a symlink.
pub fn fstatat_nofollow(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<Stat> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::zeroed();
    // SAFETY: `st` is a valid out-buffer; `name` is NUL-terminated and outlives the call.
    cvt(unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            name.as_ptr(),
            st.as_mut_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })?;
    // SAFETY: fstatat succeeded, so it filled the buffer.
    Ok(Stat::from_libc(unsafe { st.assume_init_ref() }))
}

/// Opens a fresh description of the directory behind `dir` (`openat(dir, ".")`): its own
/// offset for a listing, and I/O flags of its own. macOS only; Linux reopens `O_PATH`
/// fds through `/proc/self/fd`.
#[cfg(not(target_os = "linux"))]
pub fn reopen_dir(dir: BorrowedFd<'_>, flags: libc::c_int) -> io::Result<OwnedFd> {
    let flags = (flags | libc::O_DIRECTORY | libc::O_CLOEXEC)
        & !(libc::O_CREAT | libc::O_EXCL | libc::O_TRUNC);
    // SAFETY: "." is NUL-terminated; the fd returned is fresh and owned by us.
    let fd = cvt(unsafe { libc::openat(dir.as_raw_fd(), c".".as_ptr(), flags) })?;
    // SAFETY: fresh fd from the kernel.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The entries of a directory (without `.` and `..`) as (inode, `d_type`, name), read
/// through a fresh description of `dir` so concurrent listings never share an offset.
#[cfg(not(target_os = "linux"))]
pub fn read_dir(dir: BorrowedFd<'_>) -> io::Result<Vec<(u64, u8, std::ffi::OsString)>> {
    let fd = reopen_dir(dir, libc::O_RDONLY)?;
    // SAFETY: fdopendir takes ownership of the fd on success; on failure we still own it.
    let dirp = unsafe { libc::fdopendir(fd.as_raw_fd()) };
    if dirp.is_null() {
        return Err(io::Error::last_os_error());
    }
    let _owned_by_dirp = fd.into_raw_fd();
    let mut out = Vec::new();
    let result = loop {
        // errno tells the end of the listing (unchanged) from an error (set).
        // SAFETY: __error() returns this thread's errno location.
        unsafe { *libc::__error() = 0 };
        // SAFETY: `dirp` is a valid open DIR until closedir below.
        let entry = unsafe { libc::readdir(dirp) };
        if entry.is_null() {
            let err = io::Error::last_os_error();
            break if err.raw_os_error() == Some(0) {
                Ok(())
            } else {
                Err(err)
            };
        }
        // SAFETY: readdir returned a valid entry whose d_name is NUL-terminated; it stays
        // valid until the next readdir on `dirp`, and we copy it out before that.
        let (ino, typ, name) = unsafe {
            let e = &*entry;
            (
                e.d_ino,
                e.d_type,
                CStr::from_ptr(e.d_name.as_ptr()).to_bytes().to_vec(),
            )
        };
        if name != b"." && name != b".." {
            out.push((ino, typ, std::ffi::OsString::from_vec(name)));
        }
    };
    // SAFETY: `dirp` came from fdopendir and is closed exactly once (closing its fd).
    unsafe { libc::closedir(dirp) };
    result.map(|()| out)
}

/// `mkdirat`.
pub fn mkdirat(dir: BorrowedFd<'_>, name: &CStr, mode: u32) -> io::Result<()> {
    let mode = mode::to_mode_t(mode);
    // SAFETY: `name` is NUL-terminated and outlives the call.
    cvt(unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), mode) }).map(drop)
}

/// `mknodat`.
pub fn mknodat(dir: BorrowedFd<'_>, name: &CStr, mode: u32, rdev: libc::dev_t) -> io::Result<()> {
    let mode = mode::to_mode_t(mode);
    // SAFETY: `name` is NUL-terminated and outlives the call.
    cvt(unsafe { libc::mknodat(dir.as_raw_fd(), name.as_ptr(), mode, rdev) }).map(drop)
}

/// `symlinkat(target, dir, name)`; the target is stored verbatim, never resolved here.
pub fn symlinkat(target: &CStr, dir: BorrowedFd<'_>, name: &CStr) -> io::Result<()> {
    // SAFETY: both strings are NUL-terminated and outlive the call.
    cvt(unsafe { libc::symlinkat(target.as_ptr(), dir.as_raw_fd(), name.as_ptr()) }).map(drop)
}

/// `unlinkat(dir, name, flags)` (`AT_REMOVEDIR` for rmdir).
pub fn unlinkat(dir: BorrowedFd<'_>, name: &CStr, flags: libc::c_int) -> io::Result<()> {
    // SAFETY: `name` is NUL-terminated and outlives the call.
    cvt(unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), flags) }).map(drop)
}

/// The FUSE rename flag "do not replace" as this OS's kernel sends it (Linux
/// `RENAME_NOREPLACE`; macFUSE passes Darwin's `RENAME_EXCL`).
#[cfg(target_os = "linux")]
pub const RENAME_NOREPLACE: u32 = libc::RENAME_NOREPLACE;
/// The FUSE rename flag "exchange" (Linux `RENAME_EXCHANGE`).
#[cfg(target_os = "linux")]
pub const RENAME_EXCHANGE: u32 = libc::RENAME_EXCHANGE;
/// The FUSE rename flag "do not replace" as macFUSE sends it (`RENAME_EXCL`).
#[cfg(not(target_os = "linux"))]
pub const RENAME_NOREPLACE: u32 = libc::RENAME_EXCL;
/// The FUSE rename flag "exchange" as macFUSE sends it (`RENAME_SWAP`).
#[cfg(not(target_os = "linux"))]
pub const RENAME_EXCHANGE: u32 = libc::RENAME_SWAP;

/// `renameat2` with `RENAME_NOREPLACE` / `RENAME_EXCHANGE` / `RENAME_WHITEOUT` flags.
#[cfg(target_os = "linux")]
pub fn renameat2(
    olddir: BorrowedFd<'_>,
    oldname: &CStr,
    newdir: BorrowedFd<'_>,
    newname: &CStr,
    flags: libc::c_uint,
) -> io::Result<()> {
    // SAFETY: both names are NUL-terminated and outlive the call.
    cvt(unsafe {
        libc::renameat2(
            olddir.as_raw_fd(),
            oldname.as_ptr(),
            newdir.as_raw_fd(),
            newname.as_ptr(),
            flags,
        )
    })
    .map(drop)
}

/// `renameatx_np`, macOS's `renameat2`: takes [`RENAME_NOREPLACE`] (`RENAME_EXCL`) and
/// [`RENAME_EXCHANGE`] (`RENAME_SWAP`), the flags macFUSE passes on.
#[cfg(not(target_os = "linux"))]
pub fn renameat2(
    olddir: BorrowedFd<'_>,
    oldname: &CStr,
    newdir: BorrowedFd<'_>,
    newname: &CStr,
    flags: libc::c_uint,
) -> io::Result<()> {
    if flags & !(RENAME_NOREPLACE | RENAME_EXCHANGE) != 0 {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: both names are NUL-terminated and outlive the call.
    cvt(unsafe {
        libc::renameatx_np(
            olddir.as_raw_fd(),
            oldname.as_ptr(),
            newdir.as_raw_fd(),
            newname.as_ptr(),
            flags,
        )
    })
    .map(drop)
}

/// `linkat(olddir, oldname, newdir, newname, 0)`: links the entry itself, never a
/// symlink's target.
pub fn linkat(
    olddir: BorrowedFd<'_>,
    oldname: &CStr,
    newdir: BorrowedFd<'_>,
    newname: &CStr,
) -> io::Result<()> {
    // SAFETY: both names are NUL-terminated and outlive the call.
    cvt(unsafe {
        libc::linkat(
            olddir.as_raw_fd(),
            oldname.as_ptr(),
            newdir.as_raw_fd(),
            newname.as_ptr(),
            0,
        )
    })
    .map(drop)
}

/// `readlinkat(dir, name)`: the target of the symlink `name`, verbatim.
pub fn readlinkat(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; libc::PATH_MAX as usize + 1];
    // SAFETY: `buf` is writable for its whole length; `name` is NUL-terminated.
    let n = cvt_ssize(unsafe {
        libc::readlinkat(
            dir.as_raw_fd(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    })?;
    buf.truncate(n);
    Ok(buf)
}

/// `fchmodat(dir, name, mode, AT_SYMLINK_NOFOLLOW)`.
pub fn chmod_at_nofollow(dir: BorrowedFd<'_>, name: &CStr, mode: u32) -> io::Result<()> {
    let mode = mode::to_mode_t(mode);
    // SAFETY: `name` is NUL-terminated and outlives the call.
    cvt(unsafe {
        libc::fchmodat(
            dir.as_raw_fd(),
            name.as_ptr(),
            mode,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })
    .map(drop)
}

/// `fchownat(dir, name, AT_SYMLINK_NOFOLLOW)`; `None` leaves an id unchanged.
pub fn chown_at_nofollow(
    dir: BorrowedFd<'_>,
    name: &CStr,
    uid: Option<u32>,
    gid: Option<u32>,
) -> io::Result<()> {
    let uid = uid.unwrap_or(u32::MAX);
    let gid = gid.unwrap_or(u32::MAX);
    // SAFETY: `name` is NUL-terminated; the ids are plain integers.
    cvt(unsafe {
        libc::fchownat(
            dir.as_raw_fd(),
            name.as_ptr(),
            uid,
            gid,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })
    .map(drop)
}

/// `fchmod` of an open fd.
pub fn fchmod(fd: BorrowedFd<'_>, mode: u32) -> io::Result<()> {
    let mode = mode::to_mode_t(mode);
    // SAFETY: plain integer arguments on an fd we hold.
    cvt(unsafe { libc::fchmod(fd.as_raw_fd(), mode) }).map(drop)
}

/// `fchown` of an open fd; `None` leaves an id unchanged.
pub fn fchown(fd: BorrowedFd<'_>, uid: Option<u32>, gid: Option<u32>) -> io::Result<()> {
    let uid = uid.unwrap_or(u32::MAX);
    let gid = gid.unwrap_or(u32::MAX);
    // SAFETY: plain integer arguments on an fd we hold.
    cvt(unsafe { libc::fchown(fd.as_raw_fd(), uid, gid) }).map(drop)
}

/// Creates a hard link to the inode behind `fd` (an `O_PATH` fd) as `newdir/newname`.
#[cfg(target_os = "linux")]
pub fn link_fd(fd: BorrowedFd<'_>, newdir: BorrowedFd<'_>, newname: &CStr) -> io::Result<()> {
    // SAFETY: "" and `newname` are NUL-terminated; AT_EMPTY_PATH links the fd's inode.
    let r = cvt(unsafe {
        libc::linkat(
            fd.as_raw_fd(),
            c"".as_ptr(),
            newdir.as_raw_fd(),
            newname.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    });
    match r {
        // AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; without it go through /proc.
        Err(e)
            if e.raw_os_error() == Some(libc::ENOENT) || e.raw_os_error() == Some(libc::EPERM) =>
        {
            let path = proc_fd_path(fd);
            // SAFETY: both paths are NUL-terminated and outlive the call.
            cvt(unsafe {
                libc::linkat(
                    libc::AT_FDCWD,
                    path.as_ptr(),
                    newdir.as_raw_fd(),
                    newname.as_ptr(),
                    libc::AT_SYMLINK_FOLLOW,
                )
            })
            .map(drop)
        }
        other => other.map(drop),
    }
}

/// `readlinkat(fd, "")` on an `O_PATH` fd of a symlink.
#[cfg(target_os = "linux")]
pub fn readlink_fd(fd: BorrowedFd<'_>) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; libc::PATH_MAX as usize + 1];
    // SAFETY: `buf` is writable for its whole length; "" is NUL-terminated.
    let n = cvt_ssize(unsafe {
        libc::readlinkat(
            fd.as_raw_fd(),
            c"".as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    })?;
    buf.truncate(n);
    Ok(buf)
}

/// `chmod` of the inode behind an `O_PATH` fd (not a symlink: callers check).
#[cfg(target_os = "linux")]
pub fn chmod_fd(fd: BorrowedFd<'_>, mode: libc::mode_t) -> io::Result<()> {
    let path = proc_fd_path(fd);
    // SAFETY: `path` is NUL-terminated and outlives the call.
    cvt(unsafe { libc::chmod(path.as_ptr(), mode) }).map(drop)
}

/// `fchownat(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)`; -1 leaves an id unchanged.
#[cfg(target_os = "linux")]
pub fn chown_fd(fd: BorrowedFd<'_>, uid: Option<u32>, gid: Option<u32>) -> io::Result<()> {
    let uid = uid.unwrap_or(u32::MAX);
    let gid = gid.unwrap_or(u32::MAX);
    // SAFETY: "" is NUL-terminated; the ids are plain integers.
    cvt(unsafe {
        libc::fchownat(
            fd.as_raw_fd(),
            c"".as_ptr(),
            uid,
            gid,
            libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW,
        )
    })
    .map(drop)
}

/// A timestamp for [`utimens`]: a value, "now", or "leave unchanged".
#[derive(Clone, Copy, Debug)]
pub enum TimeSpec {
    /// Seconds and nanoseconds since the epoch.
    At(i64, i64),
    /// UTIME_NOW.
    Now,
    /// UTIME_OMIT.
    Omit,
}

fn timespec(t: TimeSpec) -> libc::timespec {
    match t {
        TimeSpec::At(sec, nsec) => libc::timespec {
            tv_sec: sec as libc::time_t,
            tv_nsec: nsec as _,
        },
        TimeSpec::Now => libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_NOW,
        },
        TimeSpec::Omit => libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_OMIT,
        },
    }
}

/// `utimensat` on the inode behind an `O_PATH` fd (not a symlink), via `/proc/self/fd`.
#[cfg(target_os = "linux")]
pub fn utimens_fd(fd: BorrowedFd<'_>, atime: TimeSpec, mtime: TimeSpec) -> io::Result<()> {
    let path = proc_fd_path(fd);
    let times = [timespec(atime), timespec(mtime)];
    // SAFETY: `path` is NUL-terminated; `times` is a valid 2-element array.
    cvt(unsafe { libc::utimensat(libc::AT_FDCWD, path.as_ptr(), times.as_ptr(), 0) }).map(drop)
}

/// `utimensat(dir, name, AT_SYMLINK_NOFOLLOW)`: timestamps of a symlink itself.
pub fn utimens_at_nofollow(
    dir: BorrowedFd<'_>,
    name: &CStr,
    atime: TimeSpec,
    mtime: TimeSpec,
) -> io::Result<()> {
    let times = [timespec(atime), timespec(mtime)];
    // SAFETY: `name` is NUL-terminated; `times` is a valid 2-element array.
    cvt(unsafe {
        libc::utimensat(
            dir.as_raw_fd(),
            name.as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })
    .map(drop)
}

/// `futimens` of an open fd.
pub fn futimens(fd: BorrowedFd<'_>, atime: TimeSpec, mtime: TimeSpec) -> io::Result<()> {
    let times = [timespec(atime), timespec(mtime)];
    // SAFETY: `times` is a valid 2-element array; the fd is ours.
    cvt(unsafe { libc::futimens(fd.as_raw_fd(), times.as_ptr()) }).map(drop)
}

/// Whether an `fallocate` mode moves the bytes after the range (collapse, insert): the
/// caller holds the whole file for it.
#[cfg(target_os = "linux")]
pub fn fallocate_shifts(mode: i32) -> bool {
    mode & (libc::FALLOC_FL_COLLAPSE_RANGE | libc::FALLOC_FL_INSERT_RANGE) != 0
}

/// Whether an `fallocate` mode moves the bytes after the range: no such mode on macOS.
#[cfg(not(target_os = "linux"))]
pub fn fallocate_shifts(_mode: i32) -> bool {
    false
}

/// `fallocate`.
#[cfg(target_os = "linux")]
pub fn fallocate(fd: BorrowedFd<'_>, mode: i32, offset: i64, len: i64) -> io::Result<()> {
    // SAFETY: plain integer arguments on an fd we hold.
    cvt(unsafe { libc::fallocate(fd.as_raw_fd(), mode, offset, len) }).map(drop)
}

/// `fallocate` on macOS: plain allocation (mode 0, which also extends the file like
/// Linux) and `FALLOC_FL_KEEP_SIZE` (1) through `F_PREALLOCATE`; every other mode
/// (punching holes, zeroing, collapsing, inserting) is `EOPNOTSUPP`.
#[cfg(not(target_os = "linux"))]
pub fn fallocate(fd: BorrowedFd<'_>, mode: i32, offset: i64, len: i64) -> io::Result<()> {
    const KEEP_SIZE: i32 = 1;
    if mode & !KEEP_SIZE != 0 {
        return Err(io::Error::from_raw_os_error(libc::EOPNOTSUPP));
    }
    let end = offset
        .checked_add(len)
        .filter(|_| offset >= 0 && len > 0)
        .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
    let size = fstat(fd)?.st_size;
    if end > size {
        // F_PREALLOCATE counts from the physical end of file: ask for the difference,
        // contiguous first, then in pieces.
        let mut store = libc::fstore_t {
            fst_flags: libc::F_ALLOCATECONTIG | libc::F_ALLOCATEALL,
            fst_posmode: libc::F_PEOFPOSMODE,
            fst_offset: 0,
            fst_length: end - size,
            fst_bytesalloc: 0,
        };
        // SAFETY: `store` is a valid fstore_t the kernel reads and updates.
        let r = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_PREALLOCATE, &raw mut store) };
        if r < 0 {
            store.fst_flags = libc::F_ALLOCATEALL;
            // SAFETY: as above.
            cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_PREALLOCATE, &raw mut store) })?;
        }
        if mode & KEEP_SIZE == 0 {
            // SAFETY: plain integer arguments on an fd we hold.
            cvt(unsafe { libc::ftruncate(fd.as_raw_fd(), end) })?;
        }
    }
    Ok(())
}

/// `lseek` (for SEEK_DATA / SEEK_HOLE on the backing fd).
pub fn lseek(fd: BorrowedFd<'_>, offset: i64, whence: i32) -> io::Result<i64> {
    // SAFETY: plain integer arguments on an fd we hold.
    let r = unsafe { libc::lseek(fd.as_raw_fd(), offset, whence) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// `copy_file_range` between two backing fds at explicit offsets.
#[cfg(target_os = "linux")]
pub fn copy_file_range(
    fd_in: BorrowedFd<'_>,
    off_in: i64,
    fd_out: BorrowedFd<'_>,
    off_out: i64,
    len: usize,
    flags: u32,
) -> io::Result<usize> {
    let mut off_in = off_in;
    let mut off_out = off_out;
    // SAFETY: the offsets are valid local variables the kernel may update.
    cvt_ssize(unsafe {
        libc::copy_file_range(
            fd_in.as_raw_fd(),
            &mut off_in,
            fd_out.as_raw_fd(),
            &mut off_out,
            len,
            flags,
        )
    })
}

/// No `copy_file_range` on macOS: `EOPNOTSUPP`, and the caller copies by reading and
/// writing, through the mount's own locks and gates.
#[cfg(not(target_os = "linux"))]
pub fn copy_file_range(
    _fd_in: BorrowedFd<'_>,
    _off_in: i64,
    _fd_out: BorrowedFd<'_>,
    _off_out: i64,
    _len: usize,
    _flags: u32,
) -> io::Result<usize> {
    Err(io::Error::from_raw_os_error(libc::EOPNOTSUPP))
}

/// A filesystem's `statvfs`, in the widths FUSE's STATFS reply takes (macOS counts
/// blocks and files in 32 bits, Linux in 64).
#[derive(Clone, Copy, Debug)]
pub struct StatFs {
    /// Total blocks (of `frsize` bytes).
    pub blocks: u64,
    /// Free blocks.
    pub bfree: u64,
    /// Free blocks for unprivileged users.
    pub bavail: u64,
    /// Total inodes.
    pub files: u64,
    /// Free inodes.
    pub ffree: u64,
    /// Block size.
    pub bsize: u32,
    /// Longest name.
    pub namemax: u32,
    /// Fragment size.
    pub frsize: u32,
}

/// `fstatvfs`.
#[allow(clippy::unnecessary_cast)]
pub fn fstatvfs(fd: BorrowedFd<'_>) -> io::Result<StatFs> {
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: `st` is a valid out-buffer.
    cvt(unsafe { libc::fstatvfs(fd.as_raw_fd(), st.as_mut_ptr()) })?;
    // SAFETY: fstatvfs succeeded and filled it.
    let s = unsafe { st.assume_init() };
    Ok(StatFs {
        blocks: s.f_blocks as u64,
        bfree: s.f_bfree as u64,
        bavail: s.f_bavail as u64,
        files: s.f_files as u64,
        ffree: s.f_ffree as u64,
        bsize: s.f_bsize as u32,
        namemax: s.f_namemax as u32,
        frsize: s.f_frsize as u32,
    })
}

/// `getxattr` of the inode behind `fd` (via `/proc/self/fd`); `size == 0` asks the size.
#[cfg(target_os = "linux")]
pub fn getxattr(fd: BorrowedFd<'_>, name: &CStr, size: usize) -> io::Result<Vec<u8>> {
    let path = proc_fd_path(fd);
    let mut buf = vec![0u8; size];
    // SAFETY: `buf` is writable for `size` bytes (a null pointer is fine for size 0).
    let n = cvt_ssize(unsafe {
        libc::getxattr(path.as_ptr(), name.as_ptr(), buf.as_mut_ptr().cast(), size)
    })?;
    if size == 0 {
        return Ok(vec![0u8; n]);
    }
    buf.truncate(n);
    Ok(buf)
}

/// `listxattr` (via `/proc/self/fd`); `size == 0` asks the size.
#[cfg(target_os = "linux")]
pub fn listxattr(fd: BorrowedFd<'_>, size: usize) -> io::Result<Vec<u8>> {
    let path = proc_fd_path(fd);
    let mut buf = vec![0u8; size];
    // SAFETY: `buf` is writable for `size` bytes.
    let n = cvt_ssize(unsafe { libc::listxattr(path.as_ptr(), buf.as_mut_ptr().cast(), size) })?;
    if size == 0 {
        return Ok(vec![0u8; n]);
    }
    buf.truncate(n);
    Ok(buf)
}

/// `setxattr` (via `/proc/self/fd`).
#[cfg(target_os = "linux")]
pub fn setxattr(fd: BorrowedFd<'_>, name: &CStr, value: &[u8], flags: i32) -> io::Result<()> {
    let path = proc_fd_path(fd);
    // SAFETY: `value` is readable for its length; strings are NUL-terminated.
    cvt(unsafe {
        libc::setxattr(
            path.as_ptr(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            flags,
        )
    })
    .map(drop)
}

/// `removexattr` (via `/proc/self/fd`).
#[cfg(target_os = "linux")]
pub fn removexattr(fd: BorrowedFd<'_>, name: &CStr) -> io::Result<()> {
    let path = proc_fd_path(fd);
    // SAFETY: both strings are NUL-terminated.
    cvt(unsafe { libc::removexattr(path.as_ptr(), name.as_ptr()) }).map(drop)
}

/// `fgetxattr` of an open fd (macOS has no `O_PATH`, so xattrs go through a real fd);
/// `size == 0` asks the size.
#[cfg(not(target_os = "linux"))]
pub fn fgetxattr(fd: BorrowedFd<'_>, name: &CStr, size: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; size];
    // SAFETY: `buf` is writable for `size` bytes (a null pointer is fine for size 0).
    let n = cvt_ssize(unsafe {
        libc::fgetxattr(
            fd.as_raw_fd(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            size,
            0,
            0,
        )
    })?;
    if size == 0 {
        return Ok(vec![0u8; n]);
    }
    buf.truncate(n);
    Ok(buf)
}

/// `flistxattr`; `size == 0` asks the size.
#[cfg(not(target_os = "linux"))]
pub fn flistxattr(fd: BorrowedFd<'_>, size: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; size];
    // SAFETY: `buf` is writable for `size` bytes.
    let n =
        cvt_ssize(unsafe { libc::flistxattr(fd.as_raw_fd(), buf.as_mut_ptr().cast(), size, 0) })?;
    if size == 0 {
        return Ok(vec![0u8; n]);
    }
    buf.truncate(n);
    Ok(buf)
}

/// `fsetxattr`; `flags` are the `XATTR_CREATE`/`XATTR_REPLACE` values macFUSE passes.
#[cfg(not(target_os = "linux"))]
pub fn fsetxattr(fd: BorrowedFd<'_>, name: &CStr, value: &[u8], flags: i32) -> io::Result<()> {
    // SAFETY: `value` is readable for its length; `name` is NUL-terminated.
    cvt(unsafe {
        libc::fsetxattr(
            fd.as_raw_fd(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
            flags,
        )
    })
    .map(drop)
}

/// `fremovexattr`.
#[cfg(not(target_os = "linux"))]
pub fn fremovexattr(fd: BorrowedFd<'_>, name: &CStr) -> io::Result<()> {
    // SAFETY: `name` is NUL-terminated.
    cvt(unsafe { libc::fremovexattr(fd.as_raw_fd(), name.as_ptr(), 0) }).map(drop)
}

/// Switches the calling thread's filesystem uid/gid (Linux `setfsuid`/`setfsgid` act per
/// thread) so files are created with the caller's ownership and permission checks on
/// the parent apply to the caller. Restored on drop.
pub struct FsCredsGuard {
    old_uid: u32,
    old_gid: u32,
}

#[cfg(target_os = "linux")]
impl FsCredsGuard {
    /// Switches to `uid`/`gid` (gid first: after dropping uid 0 we could not change it).
    pub fn switch(uid: u32, gid: u32) -> FsCredsGuard {
        // SAFETY: setfsuid/setfsgid take plain ids and cannot fail in a way that breaks
        // memory safety; they return the previous id.
        let old_gid = unsafe { libc::syscall(libc::SYS_setfsgid, gid) } as u32;
        // SAFETY: as above.
        let old_uid = unsafe { libc::syscall(libc::SYS_setfsuid, uid) } as u32;
        FsCredsGuard { old_uid, old_gid }
    }
}

#[cfg(target_os = "linux")]
impl Drop for FsCredsGuard {
    fn drop(&mut self) {
        // SAFETY: restores the ids saved by `switch`, uid first (to regain privilege).
        unsafe {
            libc::syscall(libc::SYS_setfsuid, self.old_uid);
            libc::syscall(libc::SYS_setfsgid, self.old_gid);
        }
    }
}

#[cfg(not(target_os = "linux"))]
unsafe extern "C" {
    /// Darwin's per-thread credentials (`<sys/kauth.h>`; what macFUSE's own examples use
    /// to act as the caller): `KAUTH_UID_NONE`/`KAUTH_GID_NONE` revert to the process's.
    fn pthread_setugid_np(uid: libc::uid_t, gid: libc::gid_t) -> libc::c_int;
}

/// `KAUTH_UID_NONE` and `KAUTH_GID_NONE`: `(uid_t)-1 - 100`.
#[cfg(not(target_os = "linux"))]
const KAUTH_ID_NONE: u32 = u32::MAX - 100;

/// macOS: the thread takes the caller's uid and gid with `pthread_setugid_np`, the
/// per-thread credentials Darwin offers instead of `setfsuid` (it also drops the
/// supplementary groups to the one gid, as `setfsgid` does not on Linux).
#[cfg(not(target_os = "linux"))]
impl FsCredsGuard {
    /// Switches to `uid`/`gid`; on failure the thread keeps the daemon's credentials
    /// (logged), as a failed `setfsuid` does on Linux.
    pub fn switch(uid: u32, gid: u32) -> FsCredsGuard {
        // SAFETY: plain ids; only this thread's credentials change.
        if unsafe { pthread_setugid_np(uid, gid) } != 0 {
            tracing::warn!(
                uid,
                gid,
                "pthread_setugid_np failed: {}",
                io::Error::last_os_error()
            );
        }
        FsCredsGuard {
            old_uid: KAUTH_ID_NONE,
            old_gid: KAUTH_ID_NONE,
        }
    }
}

#[cfg(not(target_os = "linux"))]
impl Drop for FsCredsGuard {
    fn drop(&mut self) {
        // SAFETY: KAUTH_UID_NONE/KAUTH_GID_NONE revert the thread to the process's ids.
        unsafe { pthread_setugid_np(self.old_uid, self.old_gid) };
    }
}

/// The daemon's effective uid.
pub fn geteuid() -> u32 {
    // SAFETY: geteuid has no failure mode.
    unsafe { libc::geteuid() }
}

/// Clears the process umask: the kernel already applied the caller's umask to every mode
/// it sends, and the backing filesystem must not apply the daemon's a second time.
pub fn clear_umask() {
    // SAFETY: umask cannot fail.
    unsafe { libc::umask(0) };
}

/// Raises RLIMIT_NOFILE: on Linux to `fs.nr_open` when the daemon may (root with
/// CAP_SYS_RESOURCE), else to the hard limit. Every inode the kernel remembers may hold
/// an fd (beyond the budget idle ones are closed: `InodeTable::evict_over_budget`).
pub fn raise_fd_limit() {
    #[cfg(target_os = "linux")]
    if let Some(max) = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse::<libc::rlim_t>().ok())
    {
        let lim = libc::rlimit {
            rlim_cur: max,
            rlim_max: max,
        };
        // SAFETY: `lim` is a valid in-buffer; failure (EPERM) leaves the limit as it was.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } == 0 {
            return;
        }
    }
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid out-buffer / in-buffer.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            #[cfg(target_os = "linux")]
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            // macOS refuses an unlimited soft limit: OPEN_MAX (10240) is the most it takes
            // without reading kern.maxfilesperproc.
            #[cfg(not(target_os = "linux"))]
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                lim.rlim_cur = lim.rlim_max.min(10240);
                libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            }
        }
    }
}

/// The soft `RLIMIT_NOFILE`: how many fds the daemon may hold.
pub fn fd_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid out-buffer.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return 1024;
    }
    lim.rlim_cur
}

/// `fork()` for `--daemon`; must run before any thread is started.
pub fn fork() -> io::Result<libc::pid_t> {
    // SAFETY: called while the process is single-threaded (before the session starts).
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(pid)
    }
}

/// `setsid()` for the daemon child.
pub fn setsid() {
    // SAFETY: no arguments; failure (already a group leader) is harmless.
    unsafe { libc::setsid() };
}

/// A pipe with both ends close-on-exec.
#[cfg(target_os = "linux")]
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: `fds` is a valid 2-element buffer.
    cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: both fds are fresh from the kernel.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// A pipe with both ends close-on-exec (macOS has no `pipe2`; the process is still
/// single-threaded when the daemon makes it, so no exec can race the flags).
#[cfg(not(target_os = "linux"))]
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: `fds` is a valid 2-element buffer.
    cvt(unsafe { libc::pipe(fds.as_mut_ptr()) })?;
    // SAFETY: both fds are fresh from the kernel.
    let ends = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    for fd in [&ends.0, &ends.1] {
        // SAFETY: plain integer arguments on an fd we own.
        cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) })?;
    }
    Ok(ends)
}

/// Points stdin/stdout/stderr at `/dev/null` (daemon mode).
pub fn detach_stdio() {
    if let Ok(null) = open_path(c"/dev/null", libc::O_RDWR) {
        for target in 0..3 {
            // SAFETY: dup2 onto the standard fds, which we own as a process.
            unsafe { libc::dup2(null.as_raw_fd(), target) };
        }
    }
}

/// `mount(2)`; used as root to mount `/dev/fuse` with the `fuse.sharefs` type.
#[cfg(target_os = "linux")]
pub fn mount(
    source: &CStr,
    target: &CStr,
    fstype: &CStr,
    flags: libc::c_ulong,
    data: &CStr,
) -> io::Result<()> {
    // SAFETY: all strings are NUL-terminated and outlive the call.
    cvt(unsafe {
        libc::mount(
            source.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            flags,
            data.as_ptr().cast(),
        )
    })
    .map(drop)
}

/// `umount2(target, MNT_DETACH)`: lazy unmount, so a busy mount still goes away from
/// the namespace at once and the session ends when the last user lets go.
#[cfg(target_os = "linux")]
pub fn umount_detach(target: &CStr) -> io::Result<()> {
    // SAFETY: `target` is NUL-terminated.
    cvt(unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) }).map(drop)
}

/// `unshare(flags)` (CLONE_NEWNS, CLONE_NEWUSER); must run while single-threaded.
#[cfg(target_os = "linux")]
pub fn unshare(flags: libc::c_int) -> io::Result<()> {
    // SAFETY: unshare takes plain flags and only affects this process.
    cvt(unsafe { libc::unshare(flags) }).map(drop)
}

/// Makes every mount below `/` private in the current mount namespace, so mounts made
/// here never propagate back to the host.
#[cfg(target_os = "linux")]
pub fn make_mounts_private() -> io::Result<()> {
    // SAFETY: constant NUL-terminated strings; a null fstype/data is allowed for a
    // propagation change.
    cvt(unsafe {
        libc::mount(
            c"none".as_ptr(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        )
    })
    .map(drop)
}

/// Sends `sig` to process `pid`.
pub fn kill(pid: u32, sig: libc::c_int) -> io::Result<()> {
    // SAFETY: kill takes plain integers.
    cvt(unsafe { libc::kill(pid as libc::pid_t, sig) }).map(drop)
}

/// The real uid and gid of the process.
pub fn getuid_gid() -> (u32, u32) {
    // SAFETY: getuid/getgid cannot fail.
    unsafe { (libc::getuid(), libc::getgid()) }
}

/// `posix_fadvise(POSIX_FADV_DONTNEED)` over the whole file: drop its cached pages.
#[cfg(target_os = "linux")]
pub fn fadvise_dontneed(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: plain integer arguments on an fd we hold.
    let r = unsafe { libc::posix_fadvise(fd.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    if r != 0 {
        Err(io::Error::from_raw_os_error(r))
    } else {
        Ok(())
    }
}

/// macOS has no `posix_fadvise`: `F_NOCACHE` keeps this fd's later I/O out of the unified
/// buffer cache instead, which is what a no-buffering handle wants.
#[cfg(not(target_os = "linux"))]
pub fn fadvise_dontneed(fd: BorrowedFd<'_>) -> io::Result<()> {
    set_nocache(fd)
}

/// `fcntl(F_NOCACHE, 1)`: macOS's `O_DIRECT` (no flag at open; set on the fd).
#[cfg(not(target_os = "linux"))]
pub fn set_nocache(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: plain integer arguments on an fd we hold.
    cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_NOCACHE, 1) }).map(drop)
}

/// Whether process `pid` exists (signal 0; `EPERM` means it exists but is not ours).
pub fn pid_alive(pid: u32) -> bool {
    // SAFETY: kill with signal 0 only checks; plain integers.
    let r = unsafe { libc::kill(pid as libc::pid_t, 0) };
    r == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// A string a libproc call writes into a buffer of `len` bytes; `None` when it fails.
#[cfg(target_os = "macos")]
fn libproc_string(
    len: usize,
    call: impl FnOnce(*mut libc::c_void, u32) -> libc::c_int,
) -> Option<String> {
    let mut buf = vec![0u8; len];
    let n = call(buf.as_mut_ptr().cast(), buf.len() as u32);
    if n <= 0 {
        return None;
    }
    buf.truncate(n as usize);
    Some(String::from_utf8_lossy(&buf).into_owned())
}

/// The short name of process `pid` (`proc_name`, libproc); `None` when it is gone.
#[cfg(target_os = "macos")]
pub fn proc_name(pid: u32) -> Option<String> {
    libproc_string(256, |buf, len| {
        // SAFETY: `buf` is writable for `len` bytes (libproc_string's buffer).
        unsafe { libc::proc_name(pid as libc::c_int, buf, len) }
    })
}

/// The executable of process `pid` (`proc_pidpath`, libproc); `None` when unknown.
#[cfg(target_os = "macos")]
pub fn proc_path(pid: u32) -> Option<String> {
    libproc_string(libc::PROC_PIDPATHINFO_MAXSIZE as usize, |buf, len| {
        // SAFETY: `buf` is writable for `len` bytes (libproc_string's buffer).
        unsafe { libc::proc_pidpath(pid as libc::c_int, buf, len) }
    })
}
