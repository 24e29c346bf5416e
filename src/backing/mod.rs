//! The mirrored directory. Every name is resolved relative to a held directory fd, one
//! component at a time, never following a symlink: nothing can reach outside the backing
//! directory through `..`, symlinks (absolute or relative) or a rename race, because no
//! path is ever joined from strings for a syscall.

pub mod handle_table;
pub mod inode_table;
pub mod io_gate;
pub mod sys;

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{DirEntryExt, FileTypeExt};
use std::path::Path;
use std::sync::Arc;

pub use handle_table::{HandleTable, OpenFile};
pub use inode_table::{Inode, InodeTable, Kind, ROOT};
pub use sys::Stat;

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
    pub inodes: InodeTable,
    /// Device of the backing root (entries of a listing are assumed on it).
    pub root_dev: u64,
}

/// The identity of a stat result.
pub fn key_of(st: &Stat) -> FileKey {
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

impl Backing {
    /// Opens the backing root (a trusted startup path: the user named it).
    pub fn open(root: &Path) -> io::Result<Backing> {
        let c = sys::cname(root.as_os_str())?;
        let fd = sys::open_path(&c, libc::O_PATH | libc::O_DIRECTORY)?;
        Self::from_root_fd(fd)
    }

    /// Uses an already open directory fd as the root (for `sharefs run`, which opens the
    /// directory before mounting over it).
    pub fn from_root_fd(fd: OwnedFd) -> io::Result<Backing> {
        let st = sys::fstat(fd.as_fd())?;
        if Kind::from_mode(st.st_mode) != Kind::Dir {
            return Err(io::Error::from_raw_os_error(libc::ENOTDIR));
        }
        Ok(Backing {
            inodes: InodeTable::new(fd, key_of(&st)),
            root_dev: st.st_dev,
        })
    }

    /// Opens `name` in `parent` as `O_PATH` without remembering it.
    pub fn probe(&self, parent: &Inode, name: &OsStr) -> io::Result<(OwnedFd, Stat)> {
        check_name(name)?;
        let c = sys::cname(name)?;
        let fd = sys::open_beneath(parent.fd(), &c, libc::O_PATH, 0)?;
        let st = sys::fstat(fd.as_fd())?;
        Ok((fd, st))
    }

    /// Looks `name` up in `parent` and records one kernel reference to it.
    pub fn lookup(&self, parent: &Inode, name: &OsStr) -> io::Result<(Arc<Inode>, Stat)> {
        let (fd, st) = self.probe(parent, name)?;
        let inode = self.remember(parent, name, fd, &st);
        Ok((inode, st))
    }

    /// Records one kernel reference to a probed inode.
    pub fn remember(&self, parent: &Inode, name: &OsStr, fd: OwnedFd, st: &Stat) -> Arc<Inode> {
        self.inodes.remember(
            key_of(st),
            fd,
            Kind::from_mode(st.st_mode),
            parent.node,
            name,
        )
    }

    /// Current attributes of an inode.
    pub fn stat(&self, inode: &Inode) -> io::Result<Stat> {
        sys::fstat(inode.fd())
    }

    /// Opens an inode for I/O with `flags` (never creates; never follows a symlink).
    pub fn open_io(&self, inode: &Inode, flags: i32) -> io::Result<File> {
        if inode.kind == Kind::Symlink {
            return Err(io::Error::from_raw_os_error(libc::ELOOP));
        }
        Ok(File::from(sys::reopen(inode.fd(), flags)?))
    }

    /// Creates and opens a regular file `name` in `parent` (`O_CREAT | O_EXCL` always:
    /// opening an existing file goes through the share-mode check first).
    pub fn create_file(
        &self,
        parent: &Inode,
        name: &OsStr,
        flags: i32,
        mode: u32,
    ) -> io::Result<(File, OwnedFd, Stat)> {
        check_name(name)?;
        let c = sys::cname(name)?;
        let flags = flags | libc::O_CREAT | libc::O_EXCL;
        let fd = sys::open_beneath(parent.fd(), &c, flags, mode & 0o7777)?;
        let path_fd = sys::reopen(fd.as_fd(), libc::O_PATH)?;
        let st = sys::fstat(fd.as_fd())?;
        Ok((File::from(fd), path_fd, st))
    }

    /// The parent's fd and a C name, for the `*at()` calls on one entry.
    pub fn entry<'a>(
        parent: &'a Inode,
        name: &OsStr,
    ) -> io::Result<(BorrowedFd<'a>, std::ffi::CString)> {
        check_name(name)?;
        Ok((parent.fd(), sys::cname(name)?))
    }

    /// Whether a directory (given by an `O_PATH` fd) has no entries.
    pub fn is_dir_empty(&self, fd: BorrowedFd<'_>) -> io::Result<bool> {
        let dir = sys::reopen(fd, libc::O_RDONLY | libc::O_DIRECTORY)?;
        let path = sys::proc_fd_path(dir.as_fd());
        let mut it = std::fs::read_dir(Path::new(OsStr::from_bytes(path.as_bytes())))?;
        Ok(it.next().is_none())
    }

    /// Reads a whole directory (without `.` and `..`) through an I/O fd of it.
    pub fn list(&self, dir: &File) -> io::Result<Vec<DirEntry>> {
        let path = sys::proc_fd_path(dir.as_fd());
        let mut out = Vec::new();
        for entry in std::fs::read_dir(Path::new(OsStr::from_bytes(path.as_bytes())))? {
            let entry = entry?;
            let type_bits = match entry.file_type() {
                Ok(t) if t.is_dir() => libc::S_IFDIR,
                Ok(t) if t.is_symlink() => libc::S_IFLNK,
                Ok(t) if t.is_fifo() => libc::S_IFIFO,
                Ok(t) if t.is_socket() => libc::S_IFSOCK,
                Ok(t) if t.is_char_device() => libc::S_IFCHR,
                Ok(t) if t.is_block_device() => libc::S_IFBLK,
                _ => libc::S_IFREG,
            };
            out.push(DirEntry {
                ino: entry.ino(),
                type_bits,
                name: OsString::from_vec(entry.file_name().into_vec()),
            });
        }
        Ok(out)
    }

    /// Removes `name` from `parent` (`dir` selects rmdir).
    pub fn remove(&self, parent: &Inode, name: &OsStr, dir: bool) -> io::Result<()> {
        let (fd, c) = Self::entry(parent, name)?;
        sys::unlinkat(fd, &c, if dir { libc::AT_REMOVEDIR } else { 0 })
    }
}
