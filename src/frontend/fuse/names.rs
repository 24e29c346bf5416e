//! names=windows on the mount (docs/names.md): case-insensitive, case-preserving
//! lookups through the per-directory folded-name index, and the Win32 name rules on
//! every operation that creates a name. With names=posix every helper here is a no-op
//! that returns the name as asked.

use std::borrow::Cow;
use std::ffi::{OsStr, OsString};
#[cfg(target_os = "linux")]
use std::fs::File;
use std::os::unix::ffi::OsStrExt;
#[cfg(target_os = "linux")]
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use fuser::Request;

use super::{FsError, SharefsFs};
use crate::backing::{Inode, NodeFd, Stat};
use crate::core::SemanticError;
use crate::names::{DirIndex, NameMode, Resolved, Stamp, check_component, check_path_len};

impl SharefsFs {
    pub(super) fn windows_names(&self) -> bool {
        self.cfg.names == NameMode::Windows
    }

    /// The folded-name index of `dir`, rebuilt when its mtime/ctime moved.
    fn dir_index(&self, dir: &Inode) -> Result<Arc<DirIndex>, FsError> {
        let st = self.backing.stat(dir)?;
        let stamp = Stamp::new(
            (st.st_mtime, st.st_mtime_nsec),
            (st.st_ctime, st.st_ctime_nsec),
        );
        Ok(self.name_index.get(dir.node, stamp, || {
            let list = self.backing.list(
                &self
                    .backing
                    .open_io(dir, libc::O_RDONLY | libc::O_DIRECTORY)?,
            )?;
            Ok::<_, std::io::Error>(DirIndex::build(list.into_iter().map(|e| e.name)))
        })?)
    }

    /// The one stored spelling of `name` in another case (names=windows), if there is
    /// exactly one; several are ambiguous and resolve to none, with a log line.
    fn stored_spelling(&self, parent: &Inode, name: &OsStr) -> Result<Option<OsString>, FsError> {
        if !self.windows_names() {
            return Ok(None);
        }
        match self.dir_index(parent)?.resolve(name) {
            Resolved::Variant(v) => Ok(Some(v)),
            Resolved::Ambiguous(all) => {
                tracing::warn!(
                    target: "sharefs::names",
                    path = %self.child_path(parent.node, name),
                    candidates = ?all,
                    "ambiguous name: the backing directory holds several names that differ \
                     only in case; each is reachable by its exact name only"
                );
                Ok(None)
            }
            Resolved::Exact | Resolved::Missing => Ok(None),
        }
    }

    /// Probes `name` in `parent`: exact first, then (names=windows) its stored case
    /// variant. Returns the spelling found.
    pub(super) fn probe_name<'a>(
        &self,
        parent: &Inode,
        name: &'a OsStr,
    ) -> Result<(NodeFd, Stat, Cow<'a, OsStr>), FsError> {
        match self.backing.probe(parent, name) {
            Ok((fd, st)) => Ok((fd, st, Cow::Borrowed(name))),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                match self.stored_spelling(parent, name)? {
                    Some(stored) => {
                        let (fd, st) = self.backing.probe(parent, &stored)?;
                        Ok((fd, st, Cow::Owned(stored)))
                    }
                    None => Err(e.into()),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The stored spelling to use for an existing name (the name itself when it
    /// exists exactly, or under names=posix).
    pub(super) fn existing_spelling<'a>(
        &self,
        parent: &Inode,
        name: &'a OsStr,
    ) -> Result<Cow<'a, OsStr>, FsError> {
        if !self.windows_names() {
            return Ok(Cow::Borrowed(name));
        }
        match self.backing.probe(parent, name) {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(self
                .stored_spelling(parent, name)?
                .map_or(Cow::Borrowed(name), Cow::Owned)),
            _ => Ok(Cow::Borrowed(name)),
        }
    }

    /// Checks a name about to be created (names=windows): a name Win32 refuses fails
    /// with EINVAL and a conflict-log event. Returns the spelling to create: an
    /// existing name in another case replaces the asked one, so the creation finds it
    /// (EEXIST, or opens it) instead of making a second file.
    pub(super) fn name_to_create<'a>(
        &self,
        req: &Request,
        parent: &Inode,
        name: &'a OsStr,
        op: &str,
    ) -> Result<Cow<'a, OsStr>, FsError> {
        if !self.windows_names() {
            return Ok(Cow::Borrowed(name));
        }
        self.check_windows_name(req, parent, name, op)?;
        self.existing_spelling(parent, name)
    }

    /// The Win32 rules for a new name in `parent` (names=windows).
    pub(super) fn check_windows_name(
        &self,
        req: &Request,
        parent: &Inode,
        name: &OsStr,
        op: &str,
    ) -> Result<(), FsError> {
        if !self.windows_names() {
            return Ok(());
        }
        let path = self.child_path(parent.node, name);
        let verdict = match std::str::from_utf8(name.as_bytes()) {
            Ok(s) => check_component(s).and_then(|()| {
                if self.cfg.long_paths {
                    Ok(())
                } else {
                    check_path_len(&path)
                }
            }),
            // Bytes that are not UTF-8 have no UTF-16 form; Linux programs make them
            // rarely and they are left alone (docs/names.md).
            Err(_) => Ok(()),
        };
        let Err(why) = verdict else {
            return Ok(());
        };
        let owner = self.owner(req);
        Err(self.refused_with(
            crate::policy::Errnos::default(),
            op,
            &path,
            &owner,
            &format!("{op} ({})", why.kind()),
            SemanticError::InvalidName(why.to_string()).into(),
        ))
    }

    /// Whether a lookup of a case variant is the *target* lookup of a rename(2) by
    /// thread `tid` (names=windows). The kernel does nothing for a rename whose source
    /// and target are the same inode, so a case-only rename (`mv readme.md README.md`)
    /// must see the new spelling as absent. Reads the thread's current system call and
    /// its new-path argument from /proc; when they cannot be read, a lookup during any
    /// rename call counts as the target's.
    #[cfg(target_os = "linux")]
    pub(super) fn is_rename_target_lookup(&self, tid: u32, name: &OsStr) -> bool {
        // This runs on every lookup that finds a case variant: the file stays open per
        // thread and is re-read with one pread (the line is under 200 bytes).
        let mut buf = [0u8; 256];
        let Some(n) = self.read_syscall_line(tid, &mut buf) else {
            return false;
        };
        let Ok(text) = std::str::from_utf8(&buf[..n]) else {
            return false;
        };
        let mut fields = text.split_whitespace();
        let Some(nr) = fields.next().and_then(|n| n.parse::<i64>().ok()) else {
            return false;
        };
        let args: Vec<u64> = fields
            .take(6)
            .filter_map(|a| u64::from_str_radix(a.trim_start_matches("0x"), 16).ok())
            .collect();
        let new_arg = match nr {
            #[cfg(target_arch = "x86_64")]
            libc::SYS_rename => 1,
            libc::SYS_renameat | libc::SYS_renameat2 => 3,
            _ => return false,
        };
        let Some(&addr) = args.get(new_arg) else {
            return true;
        };
        match read_c_string(tid, addr) {
            Some(path) => {
                let last = path
                    .split(|b| *b == b'/')
                    .rfind(|c| !c.is_empty())
                    .unwrap_or(&[]);
                last == name.as_bytes()
            }
            None => true,
        }
    }
}

#[cfg(target_os = "linux")]
impl SharefsFs {
    /// Reads `/proc/TID/syscall` into `buf` through a cached fd; a thread that has
    /// exited (its fd now answers `ESRCH` or nothing) is opened again, as its id may
    /// belong to a new thread.
    fn read_syscall_line(&self, tid: u32, buf: &mut [u8]) -> Option<usize> {
        let cached = self
            .syscall_files
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&tid)
            .cloned();
        if let Some(f) = cached
            && let Ok(n) = f.read_at(buf, 0)
            && n > 0
        {
            return Some(n);
        }
        let f = Arc::new(File::open(format!("/proc/{tid}/syscall")).ok()?);
        let n = f.read_at(buf, 0).ok()?;
        self.syscall_files
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .put(tid, f);
        Some(n)
    }
}

/// Without `/proc/TID/syscall` (macOS) a lookup cannot tell a rename's target from any
/// other lookup: never treated as one, so a case-only rename through the mount is a
/// no-op there (docs/macos.md).
#[cfg(not(target_os = "linux"))]
impl SharefsFs {
    pub(super) fn is_rename_target_lookup(&self, _tid: u32, _name: &OsStr) -> bool {
        false
    }
}

/// A NUL-terminated string from another thread's memory (at most PATH_MAX bytes).
#[cfg(target_os = "linux")]
fn read_c_string(tid: u32, addr: u64) -> Option<Vec<u8>> {
    let mem = File::open(format!("/proc/{tid}/mem")).ok()?;
    let mut out = Vec::new();
    let mut buf = [0u8; 256];
    while out.len() < libc::PATH_MAX as usize {
        let n = mem.read_at(&mut buf, addr + out.len() as u64).ok()?;
        if n == 0 {
            return None;
        }
        if let Some(end) = buf[..n].iter().position(|b| *b == 0) {
            out.extend_from_slice(&buf[..end]);
            return Some(out);
        }
        out.extend_from_slice(&buf[..n]);
    }
    None
}
