//! The only module with `unsafe`: thin wrappers over the `*at()` system calls sharefs
//! needs and std does not offer. Every wrapper takes directory fds and single names, never
//! joined paths, and returns `io::Result` with the OS error code intact.

use std::ffi::{CStr, CString, OsStr};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;

/// `struct stat` of the platform.
pub type Stat = libc::stat;

fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
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
pub fn open_beneath(
    dir: BorrowedFd<'_>,
    name: &CStr,
    flags: libc::c_int,
    mode: libc::mode_t,
) -> io::Result<OwnedFd> {
    if name.to_bytes().contains(&b'/') || name.to_bytes() == b".." {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let flags = flags | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    #[cfg(target_os = "linux")]
    match openat2_beneath(dir, name, flags, mode) {
        Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {}
        other => return other,
    }
    // SAFETY: `name` is NUL-terminated; the fd returned is fresh and owned by us.
    let fd = cvt(unsafe { libc::openat(dir.as_raw_fd(), name.as_ptr(), flags, mode) })?;
    // SAFETY: fresh fd from the kernel.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Opens an absolute path (startup only: the backing root, `/proc/self/fd`).
pub fn open_path(path: &CStr, flags: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: `path` is NUL-terminated; the fd returned is fresh and owned by us.
    let fd = cvt(unsafe { libc::open(path.as_ptr(), flags | libc::O_CLOEXEC) })?;
    // SAFETY: fresh fd from the kernel.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Re-opens the inode behind an `O_PATH` fd for I/O, through `/proc/self/fd` (the only
/// way to turn an `O_PATH` fd into an I/O fd; the inode is the one we hold, not a name).
pub fn reopen(fd: BorrowedFd<'_>, flags: libc::c_int) -> io::Result<OwnedFd> {
    let path = proc_fd_path(fd);
    let flags = (flags | libc::O_CLOEXEC) & !(libc::O_NOFOLLOW | libc::O_CREAT | libc::O_EXCL);
    // SAFETY: `path` is NUL-terminated; the fd returned is fresh and owned by us.
    let fd = cvt(unsafe { libc::open(path.as_ptr(), flags) })?;
    // SAFETY: fresh fd from the kernel.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `fstatat(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)`: works on `O_PATH` fds.
pub fn fstat(fd: BorrowedFd<'_>) -> io::Result<Stat> {
    let mut st = std::mem::MaybeUninit::<Stat>::zeroed();
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
    Ok(unsafe { st.assume_init() })
}

/// `mkdirat`.
pub fn mkdirat(dir: BorrowedFd<'_>, name: &CStr, mode: libc::mode_t) -> io::Result<()> {
    // SAFETY: `name` is NUL-terminated and outlives the call.
    cvt(unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), mode) }).map(drop)
}

/// `mknodat`.
pub fn mknodat(
    dir: BorrowedFd<'_>,
    name: &CStr,
    mode: libc::mode_t,
    rdev: libc::dev_t,
) -> io::Result<()> {
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

/// `renameat2` with `RENAME_NOREPLACE` / `RENAME_EXCHANGE` / `RENAME_WHITEOUT` flags.
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

/// Creates a hard link to the inode behind `fd` (an `O_PATH` fd) as `newdir/newname`.
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
pub fn chmod_fd(fd: BorrowedFd<'_>, mode: libc::mode_t) -> io::Result<()> {
    let path = proc_fd_path(fd);
    // SAFETY: `path` is NUL-terminated and outlives the call.
    cvt(unsafe { libc::chmod(path.as_ptr(), mode) }).map(drop)
}

/// `fchownat(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)`; -1 leaves an id unchanged.
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

/// `fallocate`.
pub fn fallocate(fd: BorrowedFd<'_>, mode: i32, offset: i64, len: i64) -> io::Result<()> {
    // SAFETY: plain integer arguments on an fd we hold.
    cvt(unsafe { libc::fallocate(fd.as_raw_fd(), mode, offset, len) }).map(drop)
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

/// `fstatvfs`.
pub fn fstatvfs(fd: BorrowedFd<'_>) -> io::Result<libc::statvfs> {
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: `st` is a valid out-buffer.
    cvt(unsafe { libc::fstatvfs(fd.as_raw_fd(), st.as_mut_ptr()) })?;
    // SAFETY: fstatvfs succeeded and filled it.
    Ok(unsafe { st.assume_init() })
}

/// `getxattr` of the inode behind `fd` (via `/proc/self/fd`); `size == 0` asks the size.
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
pub fn removexattr(fd: BorrowedFd<'_>, name: &CStr) -> io::Result<()> {
    let path = proc_fd_path(fd);
    // SAFETY: both strings are NUL-terminated.
    cvt(unsafe { libc::removexattr(path.as_ptr(), name.as_ptr()) }).map(drop)
}

/// Switches the calling thread's filesystem uid/gid (Linux `setfsuid`/`setfsgid` act per
/// thread) so files are created with the caller's ownership and permission checks on
/// the parent apply to the caller. Restored on drop.
pub struct FsCredsGuard {
    old_uid: u32,
    old_gid: u32,
}

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

impl Drop for FsCredsGuard {
    fn drop(&mut self) {
        // SAFETY: restores the ids saved by `switch`, uid first (to regain privilege).
        unsafe {
            libc::syscall(libc::SYS_setfsuid, self.old_uid);
            libc::syscall(libc::SYS_setfsgid, self.old_gid);
        }
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

/// Raises RLIMIT_NOFILE to its hard limit: every inode the kernel remembers holds an fd.
pub fn raise_fd_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid out-buffer / in-buffer.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
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
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: `fds` is a valid 2-element buffer.
    cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: both fds are fresh from the kernel.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
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
pub fn umount_detach(target: &CStr) -> io::Result<()> {
    // SAFETY: `target` is NUL-terminated.
    cvt(unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) }).map(drop)
}

/// `unshare(flags)` (CLONE_NEWNS, CLONE_NEWUSER); must run while single-threaded.
pub fn unshare(flags: libc::c_int) -> io::Result<()> {
    // SAFETY: unshare takes plain flags and only affects this process.
    cvt(unsafe { libc::unshare(flags) }).map(drop)
}

/// Makes every mount below `/` private in the current mount namespace, so mounts made
/// here never propagate back to the host.
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
pub fn fadvise_dontneed(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: plain integer arguments on an fd we hold.
    let r = unsafe { libc::posix_fadvise(fd.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    if r != 0 {
        Err(io::Error::from_raw_os_error(r))
    } else {
        Ok(())
    }
}
