//! The mirrored directory. Every name is resolved relative to a held directory fd, one
//! component at a time, never following a symlink: nothing can reach outside the backing
//! directory through `..`, symlinks (absolute or relative) or a rename race, because no
//! path is ever joined from strings for a syscall.
//!
//! Linux holds every inode as an `O_PATH` fd. macOS has neither `O_PATH` nor
//! `/proc/self/fd`: directories are held as directory fds, and any other inode is reached
//! again through its parent directory's fd and last known name, never following a
//! symlink, and checked against its `(dev, ino)` key before it is used (`ESTALE`
//! otherwise), so a name swapped behind the mount's back never redirects an operation
//! (docs/macos.md).

pub mod handle_table;
pub mod inode_table;
pub mod io_gate;
pub mod sys;

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
#[cfg(target_os = "linux")]
use std::os::unix::ffi::OsStringExt;
#[cfg(target_os = "linux")]
use std::os::unix::fs::{DirEntryExt, FileTypeExt};
use std::path::Path;
use std::sync::Arc;

pub use handle_table::{HandleTable, OpenFile};
pub use inode_table::{Inode, InodeTable, Kind, NodeFd, ROOT};
pub use sys::Stat;
use sys::mode;

use crate::core::FileKey;

/// One entry of a directory listing snapshot.
#[derive(Clone, Debug)]
pub struct DirEntry {
    /// Backing inode number (mapped to a node id by the front-end).
    pub ino: u64,
    /// File type from `d_type`, as `S_IF*` bits of a mode.
    pub type_bits: u32,
    /// Name as stored.
    pub name: OsString,
}

/// The backing directory and the inodes the kernel knows in it.
#[derive(Debug)]
pub struct Backing {
    /// Node ids ↔ backing inodes.
    pub inodes: Arc<InodeTable>,
    /// Device of the backing root (entries of a listing are assumed on it).
    pub root_dev: u64,
}

/// The identity of a stat result.
pub fn key_of(st: &Stat) -> FileKey {
    // `Stat` has the same widths everywhere (macOS `st_dev` is an i32 in `struct stat`).
    FileKey {
        dev: st.st_dev,
        ino: st.st_ino,
    }
}

/// Rejects names the kernel should never send for a single component.
fn check_name(name: &OsStr) -> io::Result<()> {
    let b = name.as_bytes();
    if b.is_empty() || b == b"." || b == b".." || b.contains(&b'/') {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    Ok(())
}

/// How a directory is opened to be held: `O_PATH` on Linux (no read permission needed);
/// a real `O_RDONLY` open on macOS, which has no `O_PATH` (so the daemon must be able to
/// read every directory it serves).
#[cfg(target_os = "linux")]
const DIR_HOLD: i32 = libc::O_PATH | libc::O_DIRECTORY;
#[cfg(not(target_os = "linux"))]
const DIR_HOLD: i32 = libc::O_RDONLY | libc::O_DIRECTORY;

/// Open flags that never reach a reopen: creation is `create_file`'s (`O_NOFOLLOW` is
/// added back by the open itself).
#[cfg(not(target_os = "linux"))]
const REOPEN_STRIPPED: i32 = libc::O_NOFOLLOW | libc::O_CREAT | libc::O_EXCL;

impl Backing {
    /// Opens the backing root (a trusted startup path: the user named it).
    pub fn open(root: &Path) -> io::Result<Backing> {
        let c = sys::cname(root.as_os_str())?;
        let fd = sys::open_path(&c, DIR_HOLD)?;
        Self::from_root_fd(fd)
    }

    /// Uses an already open directory fd as the root (for `sharefs run`, which opens the
    /// directory before mounting over it).
    pub fn from_root_fd(fd: OwnedFd) -> io::Result<Backing> {
        let st = sys::fstat(fd.as_fd())?;
        if Kind::from_mode(st.st_mode) != Kind::Dir {
            return Err(io::Error::from_raw_os_error(libc::ENOTDIR));
        }
        let inodes = Arc::new(InodeTable::new(fd, key_of(&st)));
        #[cfg(target_os = "linux")]
        InodeTable::watch_fd_shortage(&inodes);
        Ok(Backing {
            inodes,
            root_dev: st.st_dev,
        })
    }

    /// Opens `name` in `parent` as `O_PATH` without remembering it.
    pub fn probe(&self, parent: &Inode, name: &OsStr) -> io::Result<(NodeFd, Stat)> {
        check_name(name)?;
        Self::probe_at(parent.dir_fd()?, name)
    }

    /// Opens `name` (one component) in the directory `dir` as `O_PATH`.
    #[cfg(target_os = "linux")]
    pub fn probe_at(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<(NodeFd, Stat)> {
        let c = sys::cname(name)?;
        let fd = sys::open_beneath(dir, &c, libc::O_PATH, 0)?;
        let st = sys::fstat(fd.as_fd())?;
        Ok((fd, st))
    }

    /// Stats `name` (one component) in the directory `dir` without following it; a
    /// directory is also opened (and checked to be the entry stat saw), anything else is
    /// held by name.
    #[cfg(not(target_os = "linux"))]
    pub fn probe_at(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<(NodeFd, Stat)> {
        let c = sys::cname(name)?;
        let st = sys::fstatat_nofollow(dir, &c)?;
        if Kind::from_mode(st.st_mode) != Kind::Dir {
            return Ok((None, st));
        }
        let fd = sys::open_beneath(dir, &c, DIR_HOLD, 0)?;
        let held = sys::fstat(fd.as_fd())?;
        if key_of(&held) != key_of(&st) {
            return Err(io::Error::from_raw_os_error(libc::ESTALE));
        }
        Ok((Some(fd), held))
    }

    /// Opens a directory `name` in the directory `dir` the way directories are held.
    pub fn open_dir_at(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<OwnedFd> {
        sys::open_beneath(dir, &sys::cname(name)?, DIR_HOLD, 0)
    }

    /// A second fd of a directory inode, held the same way.
    pub fn dup_dir(&self, dir: &Inode) -> io::Result<OwnedFd> {
        #[cfg(target_os = "linux")]
        {
            sys::reopen(dir.dir_fd()?, libc::O_PATH)
        }
        #[cfg(not(target_os = "linux"))]
        {
            dir.dir_fd()?.try_clone_to_owned()
        }
    }

    /// Looks `name` up in `parent` and records one kernel reference to it.
    pub fn lookup(&self, parent: &Arc<Inode>, name: &OsStr) -> io::Result<(Arc<Inode>, Stat)> {
        let (fd, st) = self.probe(parent, name)?;
        let inode = self.remember(parent, name, fd, &st);
        Ok((inode, st))
    }

    /// Records one kernel reference to a probed inode.
    pub fn remember(&self, parent: &Arc<Inode>, name: &OsStr, fd: NodeFd, st: &Stat) -> Arc<Inode> {
        self.inodes
            .remember(key_of(st), fd, Kind::from_mode(st.st_mode), parent, name)
    }

    /// An inode's `O_PATH` fd (Linux). A non-directory's fd may have been closed to stay
    /// within the fd budget (`inode_table::Held`): the inode is then reached again by its
    /// last known name in its parent, never following a symlink, and used only if that
    /// name still refers to this very inode (`ESTALE` otherwise, as NFS says for a file
    /// that went away behind its back).
    #[cfg(target_os = "linux")]
    pub fn held_fd<'a>(&self, inode: &'a Inode) -> io::Result<inode_table::FdRef<'a>> {
        if let Some(fd) = inode.held_fd() {
            return Ok(fd);
        }
        let stale = || io::Error::from_raw_os_error(libc::ESTALE);
        let loc = inode.location().ok_or_else(stale)?;
        let parent = self.inodes.get(loc.parent).ok_or_else(stale)?;
        let c = sys::cname(&loc.name)?;
        let fd = match sys::open_beneath(parent.dir_fd()?, &c, libc::O_PATH, 0) {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Err(stale()),
            other => other?,
        };
        if key_of(&sys::fstat(fd.as_fd())?) != inode.key {
            return Err(stale());
        }
        let held = inode.rehold(fd);
        self.inodes.evict_over_budget();
        Ok(held)
    }

    /// Current attributes of an inode.
    #[cfg(target_os = "linux")]
    pub fn stat(&self, inode: &Inode) -> io::Result<Stat> {
        sys::fstat(self.held_fd(inode)?.as_fd())
    }

    /// Current attributes of an inode: `fstat` of a directory's fd, else `fstatat` of
    /// its location, which must still name the same `(dev, ino)`.
    #[cfg(not(target_os = "linux"))]
    pub fn stat(&self, inode: &Inode) -> io::Result<Stat> {
        if let Some(fd) = inode.node_fd() {
            return sys::fstat(fd.as_fd());
        }
        Ok(self.at_location(inode)?.2)
    }

    /// The parent inode, C name and current attributes of a non-directory inode (macOS),
    /// after checking that its last known name still refers to it: `ESTALE` when the
    /// name is gone or names another file now.
    #[cfg(not(target_os = "linux"))]
    fn at_location(&self, inode: &Inode) -> io::Result<(Arc<Inode>, std::ffi::CString, Stat)> {
        let stale = || io::Error::from_raw_os_error(libc::ESTALE);
        let loc = inode.location().ok_or_else(stale)?;
        let c = sys::cname(&loc.name)?;
        let st = match sys::fstatat_nofollow(loc.dir.dir_fd()?, &c) {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Err(stale()),
            other => other?,
        };
        if key_of(&st) != inode.key {
            return Err(stale());
        }
        Ok((loc.dir, c, st))
    }

    /// Opens an inode for I/O with `flags` (never creates; never follows a symlink).
    #[cfg(target_os = "linux")]
    pub fn open_io(&self, inode: &Inode, flags: i32) -> io::Result<File> {
        if inode.kind == Kind::Symlink {
            return Err(io::Error::from_raw_os_error(libc::ELOOP));
        }
        Ok(File::from(sys::reopen(
            self.held_fd(inode)?.as_fd(),
            flags,
        )?))
    }

    /// Opens an inode for I/O with `flags` (never creates; never follows a symlink): a
    /// directory through `openat(fd, ".")`, anything else through its location with
    /// `O_NOFOLLOW`, and the fd is used only if `fstat` shows the inode's own key.
    #[cfg(not(target_os = "linux"))]
    pub fn open_io(&self, inode: &Inode, flags: i32) -> io::Result<File> {
        if inode.kind == Kind::Symlink {
            return Err(io::Error::from_raw_os_error(libc::ELOOP));
        }
        let flags = flags & !REOPEN_STRIPPED;
        let fd = match inode.node_fd() {
            Some(dir) => sys::reopen_dir(dir.as_fd(), flags)?,
            None => {
                let loc = inode
                    .location()
                    .ok_or_else(|| io::Error::from_raw_os_error(libc::ESTALE))?;
                let c = sys::cname(&loc.name)?;
                sys::open_beneath(loc.dir.dir_fd()?, &c, flags, 0)?
            }
        };
        if key_of(&sys::fstat(fd.as_fd())?) != inode.key {
            return Err(io::Error::from_raw_os_error(libc::ESTALE));
        }
        Ok(File::from(fd))
    }

    /// Creates and opens a regular file `name` in `parent` (`O_CREAT | O_EXCL` always:
    /// opening an existing file goes through the share-mode check first).
    pub fn create_file(
        &self,
        parent: &Inode,
        name: &OsStr,
        flags: i32,
        mode: u32,
    ) -> io::Result<(File, NodeFd, Stat)> {
        check_name(name)?;
        let c = sys::cname(name)?;
        let flags = flags | libc::O_CREAT | libc::O_EXCL;
        let fd = sys::open_beneath(parent.dir_fd()?, &c, flags, mode & 0o7777)?;
        #[cfg(target_os = "linux")]
        let path_fd = sys::reopen(fd.as_fd(), libc::O_PATH)?;
        // A new regular file is held by its name (see `NodeFd`).
        #[cfg(not(target_os = "linux"))]
        let path_fd = None;
        let st = sys::fstat(fd.as_fd())?;
        Ok((File::from(fd), path_fd, st))
    }

    /// The parent's fd and a C name, for the `*at()` calls on one entry.
    pub fn entry<'a>(
        parent: &'a Inode,
        name: &OsStr,
    ) -> io::Result<(BorrowedFd<'a>, std::ffi::CString)> {
        check_name(name)?;
        Ok((parent.dir_fd()?, sys::cname(name)?))
    }

    /// Whether a directory inode has no entries.
    pub fn is_dir_inode_empty(&self, dir: &Inode) -> io::Result<bool> {
        #[cfg(target_os = "linux")]
        {
            self.is_dir_empty_at(dir.dir_fd()?)
        }
        #[cfg(not(target_os = "linux"))]
        {
            self.is_dir_empty(dir.node_fd())
        }
    }

    /// Whether a directory (given by an `O_PATH` fd) has no entries.
    #[cfg(target_os = "linux")]
    pub fn is_dir_empty(&self, fd: &NodeFd) -> io::Result<bool> {
        self.is_dir_empty_at(fd.as_fd())
    }

    #[cfg(target_os = "linux")]
    fn is_dir_empty_at(&self, fd: BorrowedFd<'_>) -> io::Result<bool> {
        let dir = sys::reopen(fd, libc::O_RDONLY | libc::O_DIRECTORY)?;
        let path = sys::proc_fd_path(dir.as_fd());
        let mut it = sys::retry_on_fd_shortage(|| {
            std::fs::read_dir(Path::new(OsStr::from_bytes(path.as_bytes())))
        })?;
        Ok(it.next().is_none())
    }

    /// Whether a directory (given by its held fd) has no entries.
    #[cfg(not(target_os = "linux"))]
    pub fn is_dir_empty(&self, fd: &NodeFd) -> io::Result<bool> {
        Ok(sys::read_dir(inode_table::dir_fd_of(fd)?)?.is_empty())
    }

    /// Reads a whole directory (without `.` and `..`) through an I/O fd of it.
    #[cfg(not(target_os = "linux"))]
    pub fn list(&self, dir: &File) -> io::Result<Vec<DirEntry>> {
        let mut out = Vec::new();
        for (ino, typ, name) in sys::read_dir(dir.as_fd())? {
            let type_bits = match typ {
                libc::DT_DIR => mode::S_IFDIR,
                libc::DT_LNK => mode::S_IFLNK,
                libc::DT_FIFO => mode::S_IFIFO,
                libc::DT_SOCK => mode::S_IFSOCK,
                libc::DT_CHR => mode::S_IFCHR,
                libc::DT_BLK => mode::S_IFBLK,
                _ => mode::S_IFREG,
            };
            out.push(DirEntry {
                ino,
                type_bits,
                name,
            });
        }
        Ok(out)
    }

    /// Reads a whole directory (without `.` and `..`) through an I/O fd of it.
    #[cfg(target_os = "linux")]
    pub fn list(&self, dir: &File) -> io::Result<Vec<DirEntry>> {
        let path = sys::proc_fd_path(dir.as_fd());
        let mut out = Vec::new();
        let entries = sys::retry_on_fd_shortage(|| {
            std::fs::read_dir(Path::new(OsStr::from_bytes(path.as_bytes())))
        })?;
        for entry in entries {
            let entry = entry?;
            let type_bits = match entry.file_type() {
                Ok(t) if t.is_dir() => mode::S_IFDIR,
                Ok(t) if t.is_symlink() => mode::S_IFLNK,
                Ok(t) if t.is_fifo() => mode::S_IFIFO,
                Ok(t) if t.is_socket() => mode::S_IFSOCK,
                Ok(t) if t.is_char_device() => mode::S_IFCHR,
                Ok(t) if t.is_block_device() => mode::S_IFBLK,
                _ => mode::S_IFREG,
            };
            out.push(DirEntry {
                ino: entry.ino(),
                type_bits,
                name: OsString::from_vec(entry.file_name().into_vec()),
            });
        }
        Ok(out)
    }

    /// `statfs` of the backing filesystem (through the root).
    pub fn statfs(&self) -> io::Result<sys::StatFs> {
        let root = self
            .inodes
            .get(ROOT)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ESTALE))?;
        sys::fstatvfs(root.dir_fd()?)
    }

    /// `chmod` of an inode (not a symlink: callers check).
    pub fn chmod(&self, inode: &Inode, mode: u32) -> io::Result<()> {
        #[cfg(target_os = "linux")]
        {
            sys::chmod_fd(self.held_fd(inode)?.as_fd(), mode)
        }
        #[cfg(not(target_os = "linux"))]
        {
            match inode.node_fd() {
                Some(fd) => sys::fchmod(fd.as_fd(), mode),
                None => {
                    let (dir, c, _) = self.at_location(inode)?;
                    sys::chmod_at_nofollow(dir.dir_fd()?, &c, mode)
                }
            }
        }
    }

    /// `chown` of an inode (a symlink itself, never its target); `None` leaves an id.
    pub fn chown(&self, inode: &Inode, uid: Option<u32>, gid: Option<u32>) -> io::Result<()> {
        #[cfg(target_os = "linux")]
        {
            sys::chown_fd(self.held_fd(inode)?.as_fd(), uid, gid)
        }
        #[cfg(not(target_os = "linux"))]
        {
            match inode.node_fd() {
                Some(fd) => sys::fchown(fd.as_fd(), uid, gid),
                None => {
                    let (dir, c, _) = self.at_location(inode)?;
                    sys::chown_at_nofollow(dir.dir_fd()?, &c, uid, gid)
                }
            }
        }
    }

    /// Timestamps of an inode that is not a symlink (a symlink's go through its name,
    /// `utimens_at_nofollow`).
    pub fn utimens(
        &self,
        inode: &Inode,
        atime: sys::TimeSpec,
        mtime: sys::TimeSpec,
    ) -> io::Result<()> {
        #[cfg(target_os = "linux")]
        {
            sys::utimens_fd(self.held_fd(inode)?.as_fd(), atime, mtime)
        }
        #[cfg(not(target_os = "linux"))]
        {
            match inode.node_fd() {
                Some(fd) => sys::futimens(fd.as_fd(), atime, mtime),
                None => {
                    let (dir, c, _) = self.at_location(inode)?;
                    sys::utimens_at_nofollow(dir.dir_fd()?, &c, atime, mtime)
                }
            }
        }
    }

    /// The target of a symlink inode, verbatim.
    pub fn readlink(&self, inode: &Inode) -> io::Result<Vec<u8>> {
        #[cfg(target_os = "linux")]
        {
            sys::readlink_fd(self.held_fd(inode)?.as_fd())
        }
        #[cfg(not(target_os = "linux"))]
        {
            let (dir, c, _) = self.at_location(inode)?;
            sys::readlinkat(dir.dir_fd()?, &c)
        }
    }

    /// A new hard link `newname` in `newdir` to `inode`. macOS links the inode's last
    /// known name, then checks that the new name is the inode (else removes it: `ESTALE`).
    pub fn link(
        &self,
        inode: &Inode,
        newdir: BorrowedFd<'_>,
        newname: &std::ffi::CStr,
    ) -> io::Result<()> {
        #[cfg(target_os = "linux")]
        {
            sys::link_fd(self.held_fd(inode)?.as_fd(), newdir, newname)
        }
        #[cfg(not(target_os = "linux"))]
        {
            let (dir, c, _) = self.at_location(inode)?;
            sys::linkat(dir.dir_fd()?, &c, newdir, newname)?;
            if sys::fstatat_nofollow(newdir, newname)
                .map(|st| key_of(&st))
                .ok()
                != Some(inode.key)
            {
                let _ = sys::unlinkat(newdir, newname, 0);
                return Err(io::Error::from_raw_os_error(libc::ESTALE));
            }
            Ok(())
        }
    }

    /// An fd for the xattr calls of a non-symlink inode (macOS: the directory's own fd,
    /// or a read-only, non-blocking open of a regular file checked against its key).
    #[cfg(not(target_os = "linux"))]
    fn xattr_fd(&self, inode: &Inode) -> io::Result<OwnedFd> {
        if let Some(fd) = inode.node_fd() {
            return fd.try_clone();
        }
        if inode.kind != Kind::File {
            // Opening a device node or FIFO has side effects (or blocks): not for xattrs.
            return Err(io::Error::from_raw_os_error(libc::EPERM));
        }
        Ok(self
            .open_io(inode, libc::O_RDONLY | libc::O_NONBLOCK)?
            .into())
    }

    /// `getxattr` of a non-symlink inode; `size == 0` asks the size.
    pub fn getxattr(
        &self,
        inode: &Inode,
        name: &std::ffi::CStr,
        size: usize,
    ) -> io::Result<Vec<u8>> {
        #[cfg(target_os = "linux")]
        {
            sys::getxattr(self.held_fd(inode)?.as_fd(), name, size)
        }
        #[cfg(not(target_os = "linux"))]
        {
            sys::fgetxattr(self.xattr_fd(inode)?.as_fd(), name, size)
        }
    }

    /// `listxattr` of a non-symlink inode; `size == 0` asks the size.
    pub fn listxattr(&self, inode: &Inode, size: usize) -> io::Result<Vec<u8>> {
        #[cfg(target_os = "linux")]
        {
            sys::listxattr(self.held_fd(inode)?.as_fd(), size)
        }
        #[cfg(not(target_os = "linux"))]
        {
            sys::flistxattr(self.xattr_fd(inode)?.as_fd(), size)
        }
    }

    /// `setxattr` of a non-symlink inode.
    pub fn setxattr(
        &self,
        inode: &Inode,
        name: &std::ffi::CStr,
        value: &[u8],
        flags: i32,
    ) -> io::Result<()> {
        #[cfg(target_os = "linux")]
        {
            sys::setxattr(self.held_fd(inode)?.as_fd(), name, value, flags)
        }
        #[cfg(not(target_os = "linux"))]
        {
            sys::fsetxattr(self.xattr_fd(inode)?.as_fd(), name, value, flags)
        }
    }

    /// `removexattr` of a non-symlink inode.
    pub fn removexattr(&self, inode: &Inode, name: &std::ffi::CStr) -> io::Result<()> {
        #[cfg(target_os = "linux")]
        {
            sys::removexattr(self.held_fd(inode)?.as_fd(), name)
        }
        #[cfg(not(target_os = "linux"))]
        {
            sys::fremovexattr(self.xattr_fd(inode)?.as_fd(), name)
        }
    }

    /// Removes `name` from `parent` (`dir` selects rmdir).
    pub fn remove(&self, parent: &Inode, name: &OsStr, dir: bool) -> io::Result<()> {
        let (fd, c) = Self::entry(parent, name)?;
        sys::unlinkat(fd, &c, if dir { libc::AT_REMOVEDIR } else { 0 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    /// The backing stat carries the birth time std reads (statx `STATX_BTIME` on Linux,
    /// `st_birthtime` on macOS), and none where the filesystem has none.
    #[test]
    fn stat_carries_the_birth_time_of_the_backing_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), b"x").unwrap();
        std::fs::create_dir(dir.path().join("d")).unwrap();
        let backing = Backing::open(dir.path()).unwrap();
        let root = backing.inodes.get(ROOT).unwrap();
        for name in ["f", "d"] {
            let (inode, looked_up) = backing.lookup(&root, OsStr::new(name)).unwrap();
            let st = backing.stat(&inode).unwrap();
            assert_eq!(st.st_birthtime, looked_up.st_birthtime, "{name}");
            let ours = st
                .st_birthtime
                .map(|(s, ns)| UNIX_EPOCH + Duration::new(s as u64, ns as u32));
            match std::fs::metadata(dir.path().join(name)).unwrap().created() {
                Ok(created) => assert_eq!(ours, Some(created), "{name}"),
                Err(_) => assert_eq!(ours, None, "{name}: std sees no birth time"),
            }
        }
    }

    /// Everything else statx reports matches std's view of the file.
    #[test]
    fn stat_matches_std_metadata() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), b"hello").unwrap();
        let backing = Backing::open(dir.path()).unwrap();
        let root = backing.inodes.get(ROOT).unwrap();
        let (_, st) = backing.lookup(&root, OsStr::new("f")).unwrap();
        let m = std::fs::symlink_metadata(dir.path().join("f")).unwrap();
        assert_eq!((st.st_dev, st.st_ino), (m.dev(), m.ino()));
        assert_eq!((st.st_mode, st.st_nlink), (m.mode(), m.nlink()));
        assert_eq!((st.st_uid, st.st_gid, st.st_size), (m.uid(), m.gid(), 5));
        assert_eq!((st.st_mtime, st.st_mtime_nsec), (m.mtime(), m.mtime_nsec()));
        assert_eq!((st.st_ctime, st.st_ctime_nsec), (m.ctime(), m.ctime_nsec()));
        assert_eq!(st.st_blocks, m.blocks() as i64);
    }

    /// Past the fd budget the least recently used idle non-directory fds are closed; an
    /// evicted inode is reached again by its name and works as before, and one whose
    /// name now holds another file answers ESTALE instead of acting on that file.
    #[cfg(target_os = "linux")]
    #[test]
    fn evicted_inodes_are_reached_again_by_name_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..200 {
            std::fs::write(dir.path().join(format!("f{i}")), format!("{i}")).unwrap();
        }
        let backing = Backing::open(dir.path()).unwrap();
        backing.inodes.set_fd_budget(16);
        let root = backing.inodes.get(ROOT).unwrap();
        let mut keys = Vec::new();
        for i in 0..200 {
            let (_, st) = backing.lookup(&root, OsStr::new(&format!("f{i}"))).unwrap();
            keys.push(key_of(&st));
        }
        let first = backing.inodes.by_key(keys[0]).unwrap();
        assert!(
            first.held_fd().is_none(),
            "the least recently used fd was closed"
        );
        // Every inode still works: stat, reopen for I/O, chmod.
        for (i, key) in keys.iter().enumerate() {
            let inode = backing.inodes.by_key(*key).unwrap();
            assert_eq!(key_of(&backing.stat(&inode).unwrap()), *key);
            let mut text = String::new();
            std::io::Read::read_to_string(
                &mut backing.open_io(&inode, libc::O_RDONLY).unwrap(),
                &mut text,
            )
            .unwrap();
            assert_eq!(text, i.to_string());
        }
        backing.chmod(&first, 0o600).unwrap();
        assert_eq!(backing.stat(&first).unwrap().st_mode & 0o777, 0o600);
        // Replace f1's name behind the table's back, then let its fd be evicted.
        let second = backing.inodes.by_key(keys[1]).unwrap();
        drop(second);
        std::fs::rename(dir.path().join("f1"), dir.path().join("f1.old")).unwrap();
        std::fs::write(dir.path().join("f1"), b"impostor").unwrap();
        for key in &keys[2..] {
            let inode = backing.inodes.by_key(*key).unwrap();
            backing.stat(&inode).unwrap();
        }
        let second = backing.inodes.by_key(keys[1]).unwrap();
        assert!(second.held_fd().is_none());
        let e = backing.chmod(&second, 0o600).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ESTALE));
        let m = std::fs::metadata(dir.path().join("f1")).unwrap();
        assert_ne!(
            std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777,
            0o600,
            "the impostor was not touched"
        );
    }
}
