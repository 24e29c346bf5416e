//! Who is behind a request: FUSE's header carries the calling thread's id and its
//! uid/gid; the process (thread group), its name, supplementary groups, executable and
//! command line come from `/proc`, cached briefly because thread ids are reused. The
//! executable, command line and language runtime ([`super::runtime_probe`]) are read
//! at the first decision that needs them.
//!
//! macOS has no `/proc`: macFUSE's header carries the process id itself, its name and
//! executable come from libproc (`proc_name`, `proc_pidpath`), and the command line and
//! supplementary groups are not known (docs/macos.md).

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use lru::LruCache;

use super::runtime_probe::RuntimeProbe;
use crate::core::Owner;
use crate::policy::Process;

/// How long a thread id → process mapping is trusted (thread ids are recycled).
const TTL: Duration = Duration::from_secs(2);

/// Longest command line kept for policy matching.
#[cfg(target_os = "linux")]
const MAX_CMDLINE: usize = 4096;

/// What `/proc/TID/status` said about a thread's process; `exited` when it could not be
/// read (the thread was gone).
#[derive(Debug)]
struct Entry {
    pid: u32,
    comm: Arc<str>,
    groups: Arc<[u32]>,
    exited: bool,
    /// The full identity, read on first need (exe and cmdline cost two more reads; the
    /// runtime is cached per process and per executable).
    identity: OnceLock<Option<Arc<Process>>>,
}

/// A cached thread → (its process, when it was read).
type CachedProcess = (Arc<Entry>, Instant);

/// Resolves thread ids to processes, with a small LRU cache.
#[derive(Debug)]
pub struct ProcessResolver {
    cache: Mutex<LruCache<u32, CachedProcess>>,
    /// Which runtime each process runs.
    runtimes: RuntimeProbe,
}

impl Default for ProcessResolver {
    fn default() -> Self {
        ProcessResolver::new()
    }
}

impl ProcessResolver {
    /// A resolver with room for 1024 threads, for the daemon serving `mountpoint`
    /// (whose files its runtime probe never reads).
    pub fn serving(mountpoint: Option<std::path::PathBuf>) -> ProcessResolver {
        ProcessResolver {
            runtimes: RuntimeProbe::serving(mountpoint),
            ..ProcessResolver::new()
        }
    }

    /// A resolver with room for 1024 threads.
    pub fn new() -> ProcessResolver {
        ProcessResolver {
            cache: Mutex::new(LruCache::new(
                NonZeroUsize::new(1024).unwrap_or(NonZeroUsize::MIN),
            )),
            runtimes: RuntimeProbe::default(),
        }
    }

    /// The owner of a request from thread `tid` with credentials `uid`/`gid`, with its
    /// runtime (for the lock table and the conflict log). A thread that has
    /// already exited still gets an owner (its tid as pid, comm "?").
    pub fn owner(&self, tid: u32, uid: u32, gid: u32) -> Arc<Owner> {
        let e = self.process_of(tid);
        let runtime = self.identity(tid).map_or("", |p| p.runtime.name());
        Arc::new(Owner {
            pid: e.pid,
            tid,
            comm: e.comm.to_string(),
            uid,
            gid,
            runtime,
        })
    }

    /// The full identity of thread `tid`'s process for policy matching (comm, exe,
    /// cmdline, groups), from the same short-lived cache; `None` when the process had
    /// exited (or `tid` is 0, a request from the kernel itself).
    ///
    /// The executable is read again on every call (one `readlink`): a process that
    /// called `exec` since (a shell's child that opened its redirections, then became
    /// `node`) is identified anew instead of keeping the shell's runtime.
    pub fn identity(&self, tid: u32) -> Option<Arc<Process>> {
        let e = self.process_of(tid);
        if e.exited || tid == 0 {
            return None;
        }
        if let Some(Some(known)) = e.identity.get()
            && read_exe(e.pid) != known.exe
        {
            self.cache
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .pop(&tid);
            let fresh = self.process_of(tid);
            if fresh.exited {
                return None;
            }
            return self.identity_of(&fresh);
        }
        self.identity_of(&e)
    }

    fn identity_of(&self, e: &Entry) -> Option<Arc<Process>> {
        e.identity
            .get_or_init(|| {
                let pid = e.pid;
                let exe = read_exe(pid);
                let cmdline = read_cmdline(pid);
                // Gone between the status and these reads: its comm alone is not to be
                // trusted to be the same process.
                if exe.is_none() && cmdline.is_none() && !proc_exists(pid) {
                    return None;
                }
                let runtime = self.runtimes.recognise(pid, exe.as_deref()).runtime;
                Some(Arc::new(Process {
                    pid,
                    comm: e.comm.clone(),
                    exe,
                    cmdline,
                    groups: e.groups.clone(),
                    runtime,
                }))
            })
            .clone()
    }

    fn process_of(&self, tid: u32) -> Arc<Entry> {
        if tid == 0 {
            return Arc::new(Entry {
                pid: 0,
                comm: Arc::from("kernel"),
                groups: Arc::from([]),
                exited: false,
                identity: OnceLock::new(),
            });
        }
        {
            let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((e, at)) = cache.get(&tid)
                && at.elapsed() < TTL
            {
                return e.clone();
            }
        }
        let e = Arc::new(read_status(tid).unwrap_or_else(|| Entry {
            pid: tid,
            comm: Arc::from("?"),
            groups: Arc::from([]),
            exited: true,
            identity: OnceLock::new(),
        }));
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .put(tid, (e.clone(), Instant::now()));
        e
    }
}

#[cfg(target_os = "linux")]
fn proc_exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(not(target_os = "linux"))]
fn proc_exists(pid: u32) -> bool {
    crate::backing::sys::pid_alive(pid)
}

/// The executable of a process (`/proc/PID/exe`).
#[cfg(target_os = "linux")]
fn read_exe(pid: u32) -> Option<Arc<str>> {
    std::fs::read_link(format!("/proc/{pid}/exe"))
        .ok()
        .map(|p| Arc::from(p.to_string_lossy().as_ref()))
}

/// The executable of a process (`proc_pidpath`).
#[cfg(target_os = "macos")]
fn read_exe(pid: u32) -> Option<Arc<str>> {
    crate::backing::sys::proc_path(pid).map(|p| Arc::from(p.as_str()))
}

/// No way to know the executable elsewhere.
#[cfg(not(any(target_os = "linux", target_os = "macos")))]
fn read_exe(_pid: u32) -> Option<Arc<str>> {
    None
}

/// Another process's arguments need `sysctl(KERN_PROCARGS2)` on macOS: not read, so
/// policy rules on the command line never match there.
#[cfg(not(target_os = "linux"))]
fn read_cmdline(_pid: u32) -> Option<Arc<str>> {
    None
}

/// The process behind a request on macOS: macFUSE passes the process id (there is no
/// thread id to map), named by `proc_name`; `None` when the process is gone.
#[cfg(target_os = "macos")]
fn read_status(pid: u32) -> Option<Entry> {
    let name = crate::backing::sys::proc_name(pid)?;
    Some(Entry {
        pid,
        comm: Arc::from(name.as_str()),
        groups: Arc::from([]),
        exited: false,
        identity: OnceLock::new(),
    })
}

/// No process information elsewhere: the id stands for itself while it exists.
#[cfg(not(any(target_os = "linux", target_os = "macos")))]
fn read_status(pid: u32) -> Option<Entry> {
    proc_exists(pid).then(|| Entry {
        pid,
        comm: Arc::from("?"),
        groups: Arc::from([]),
        exited: false,
        identity: OnceLock::new(),
    })
}

/// `/proc/PID/cmdline` with arguments joined by single spaces (bounded).
#[cfg(target_os = "linux")]
fn read_cmdline(pid: u32) -> Option<Arc<str>> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let raw = &raw[..raw.len().min(MAX_CMDLINE)];
    let text = String::from_utf8_lossy(raw);
    let joined: Vec<&str> = text.split('\0').filter(|a| !a.is_empty()).collect();
    Some(Arc::from(joined.join(" ").as_str()))
}

/// Parses `Name:`, `Tgid:` and `Groups:` from `/proc/TID/status`.
#[cfg(target_os = "linux")]
fn read_status(tid: u32) -> Option<Entry> {
    let text = std::fs::read_to_string(format!("/proc/{tid}/status")).ok()?;
    let mut name = None;
    let mut tgid = None;
    let mut groups: Vec<u32> = Vec::new();
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("Name:") {
            name = Some(v.trim().to_string());
        } else if let Some(v) = line.strip_prefix("Tgid:") {
            tgid = v.trim().parse().ok();
        } else if let Some(v) = line.strip_prefix("Groups:") {
            groups = v
                .split_whitespace()
                .filter_map(|g| g.parse().ok())
                .collect();
            break;
        }
    }
    Some(Entry {
        pid: tgid?,
        comm: Arc::from(name?.as_str()),
        groups: Arc::from(groups),
        exited: false,
        identity: OnceLock::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_own_process() {
        let r = ProcessResolver::new();
        let me = std::process::id();
        let o = r.owner(me, 0, 0);
        assert_eq!(o.pid, me);
        assert!(!o.comm.is_empty() && o.comm != "?");
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn identity_has_exe_cmdline_and_groups() {
        let r = ProcessResolver::new();
        let me = std::process::id();
        let p = r.identity(me).expect("own process");
        assert_eq!(p.pid, me);
        let exe = std::env::current_exe().unwrap();
        assert_eq!(p.exe.as_deref(), Some(exe.to_string_lossy().as_ref()));
        assert!(
            p.cmdline.as_deref().unwrap_or("").contains("sharefs"),
            "{p:?}"
        );
        assert!(r.identity(u32::MAX - 7).is_none());
        assert!(r.identity(0).is_none());
    }

    #[test]
    fn vanished_thread_still_gets_an_owner() {
        let r = ProcessResolver::new();
        let o = r.owner(u32::MAX - 7, 5, 6);
        assert_eq!(o.pid, u32::MAX - 7);
        assert_eq!(o.comm, "?");
        assert_eq!((o.uid, o.gid), (5, 6));
    }
}

/// What `/proc` says about whether a process still reaches one of the mount's inodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    /// A descriptor (`/proc/PID/fdinfo/N`, `ino:`) or a mapping (`/proc/PID/maps`) of
    /// the inode is still there.
    Holds,
    /// Neither: the close of it seen a moment ago was the process's last.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    Released,
    /// The process is gone, or its files cannot be read (another user's, without root).
    Unknown,
}

/// The device ("major:minor", decimal) of the FUSE mount at `mountpoint`, from the
/// daemon's own mountinfo (the topmost mount there: `sharefs run` mounts over DIR).
#[cfg(target_os = "linux")]
pub fn mount_device(mountpoint: &std::path::Path) -> Option<String> {
    let want = mountpoint.to_str()?.replace(' ', "\\040");
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    info.lines()
        .rev()
        .filter(|l| l.split(" - ").nth(1).is_some_and(|t| t.starts_with("fuse")))
        .find(|l| l.split(' ').nth(4) == Some(want.as_str()))
        .and_then(|l| l.split(' ').nth(2))
        .map(str::to_string)
}

/// macOS has no `/proc`.
#[cfg(not(target_os = "linux"))]
pub fn mount_device(_mountpoint: &std::path::Path) -> Option<String> {
    None
}

/// Whether process (or thread) `pid` still has a descriptor or a mapping of the inode
/// the kernel knows as `ino` on the mount with device `dev` (mountinfo's "0:53"). Read
/// only when a conflict or a lookup must decide whether to wait for a RELEASE
/// (docs/architecture.md, "The RELEASE race"): the process's mountinfo gives the ids of
/// its mounts of that device, then each descriptor's fdinfo (`mnt_id:`, `ino:`) and its
/// maps (device and inode columns) are compared. No request reaches the mount.
#[cfg(target_os = "linux")]
pub fn reach(pid: u32, dev: &str, ino: u64) -> Reach {
    let Ok(mounts) = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")) else {
        return Reach::Unknown;
    };
    let mount_ids: Vec<&str> = mounts
        .lines()
        .filter(|l| l.split(' ').nth(2) == Some(dev))
        .filter_map(|l| l.split(' ').next())
        .collect();
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fdinfo")) else {
        return Reach::Unknown;
    };
    let wanted = ino.to_string();
    for fd in fds.flatten() {
        let Ok(info) = std::fs::read_to_string(fd.path()) else {
            continue;
        };
        let field = |name: &str| {
            info.lines()
                .find_map(|l| l.strip_prefix(name))
                .map(str::trim)
                .unwrap_or_default()
                .to_string()
        };
        if field("ino:") == wanted && mount_ids.contains(&field("mnt_id:").as_str()) {
            return Reach::Holds;
        }
    }
    // A mapping keeps the file open after its descriptor is closed (its RELEASE comes
    // at munmap). maps: "start-end perms offset MAJ:MIN inode path", hex device.
    let maps_dev = dev.split_once(':').and_then(|(major, minor)| {
        Some(format!(
            "{:02x}:{:02x}",
            major.parse::<u32>().ok()?,
            minor.parse::<u32>().ok()?
        ))
    });
    if let (Ok(maps), Some(maps_dev)) = (
        std::fs::read_to_string(format!("/proc/{pid}/maps")),
        maps_dev,
    ) {
        let mapped = maps.lines().any(|l| {
            let mut cols = l.split_whitespace().skip(3);
            cols.next() == Some(maps_dev.as_str()) && cols.next() == Some(wanted.as_str())
        });
        if mapped {
            return Reach::Holds;
        }
    }
    Reach::Released
}

/// macOS has no `/proc`: whether a RELEASE is coming is never known there.
#[cfg(not(target_os = "linux"))]
pub fn reach(_pid: u32, _dev: &str, _ino: u64) -> Reach {
    Reach::Unknown
}
