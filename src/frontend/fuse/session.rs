//! Mounting and serving: preflight, optional daemonization, the fuser session, and a
//! clean unmount on SIGINT/SIGTERM.

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::sync::Arc;

use fuser::{Config, MountOption, Session, SessionACL};

use super::preflight::{self, PreflightError};
use super::{FsConfig, Invalidator, SharefsFs};
use crate::backing::{Backing, sys};
use crate::config::MountConfig;
use crate::core::Core;

/// Why `sharefs mount` failed, already worded for the user.
#[derive(Debug)]
pub struct MountError(pub String);

impl std::fmt::Display for MountError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<PreflightError> for MountError {
    fn from(e: PreflightError) -> Self {
        MountError(e.0)
    }
}

fn fuser_options(cfg: &MountConfig, backing: &std::path::Path) -> Config {
    let mut opts = vec![
        MountOption::FSName(
            cfg.fsname
                .clone()
                .unwrap_or_else(|| backing.display().to_string()),
        ),
        MountOption::Subtype("sharefs".into()),
    ];
    // With allow_other the caller's permissions must be enforced, not the daemon's:
    // the kernel checks mode bits against the caller (default_permissions).
    if cfg.default_permissions || cfg.allow_other || cfg.allow_root {
        opts.push(MountOption::DefaultPermissions);
    }
    if cfg.read_only {
        opts.push(MountOption::RO);
    }
    if cfg.auto_unmount {
        opts.push(MountOption::AutoUnmount);
    }
    for flag in &cfg.kernel_flags {
        opts.push(match flag.as_str() {
            "dev" => MountOption::Dev,
            "nodev" => MountOption::NoDev,
            "suid" => MountOption::Suid,
            "nosuid" => MountOption::NoSuid,
            "exec" => MountOption::Exec,
            "noexec" => MountOption::NoExec,
            "atime" => MountOption::Atime,
            "noatime" => MountOption::NoAtime,
            "sync" => MountOption::Sync,
            "async" => MountOption::Async,
            _ => MountOption::DirSync,
        });
    }
    let mut config = Config::default();
    config.mount_options = opts;
    config.acl = if cfg.allow_other {
        SessionACL::All
    } else if cfg.allow_root {
        SessionACL::RootAndOwner
    } else {
        SessionACL::Owner
    };
    // fuser runs several workers, each on a cloned /dev/fuse fd, on Linux only; it
    // refuses both elsewhere (session.rs, `Session::run`), so macOS serves with one.
    if cfg!(target_os = "linux") {
        config.n_threads = Some(cfg.threads);
        config.clone_fd = true;
    } else {
        config.n_threads = Some(1);
        config.clone_fd = false;
    }
    config
}

/// How many non-directory `O_PATH` fds the daemon keeps (Linux): `-o inode_fds`, else
/// half the fd limit, leaving the other half to directories, open files and the rest.
fn size_fd_budget(backing: &Backing, cfg: &MountConfig) {
    #[cfg(target_os = "linux")]
    {
        let limit = usize::try_from(sys::fd_limit()).unwrap_or(usize::MAX);
        let budget = cfg.inode_fds.unwrap_or(limit / 2);
        backing.inodes.set_fd_budget(budget);
        tracing::debug!(budget, limit, "inode fd budget");
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (backing, cfg);
}

/// The front-end's settings for a mount configuration.
pub fn fs_config(cfg: &MountConfig) -> FsConfig {
    FsConfig {
        profile: cfg.profile,
        entry_ttl: cfg.entry_ttl,
        attr_ttl: cfg.attr_ttl,
        sharing_errno: libc::EBUSY,
        switch_creds: sys::geteuid() == 0,
        threads: cfg.threads,
        control_name: cfg.control_dir.clone().into(),
        intent_ttl: cfg.intent_ttl,
        conflict_log: cfg.conflict_log,
        readonly_attr: cfg.readonly_attr(),
        write_through: cfg.write_through,
        names: cfg.names,
        long_paths: cfg.long_paths,
        mountpoint: None,
        policy: Arc::new(crate::policy::PolicyHandle::builtin(
            cfg.profile,
            cfg.delete_mode,
        )),
    }
}

/// The mount's policy; a malformed policy file stops the mount before anything starts.
fn load_policy(cfg: &MountConfig) -> Result<Arc<crate::policy::PolicyHandle>, MountError> {
    crate::policy::PolicyHandle::for_mount(cfg).map_err(|e| MountError(e.to_string()))
}

/// A mount served by background threads of this process (`sharefs run`, Linux only).
#[cfg(target_os = "linux")]
pub struct BackgroundMount {
    session: fuser::BackgroundSession,
    mountpoint: std::path::PathBuf,
    /// The mount's conflict log, for the end-of-run report.
    pub conflicts: Arc<crate::control::conflicts::ConflictLog>,
}

#[cfg(target_os = "linux")]
impl BackgroundMount {
    /// Lazily unmounts and waits (at most `wait`) for the session to end; processes
    /// that still hold files in the mount keep it alive, detached, until they exit.
    pub fn unmount(self, wait: std::time::Duration) {
        if let Ok(target) = sys::cname(self.mountpoint.as_os_str()) {
            if let Err(e) = sys::umount_detach(&target) {
                tracing::warn!("unmount of {} failed: {e}", self.mountpoint.display());
            }
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let session = self.session;
        let _ = std::thread::Builder::new()
            .name("sharefs-join".into())
            .spawn(move || {
                let _ = tx.send(session.join());
            });
        let _ = rx.recv_timeout(wait);
    }
}

/// Mounts `backing` on `mountpoint` (which may be the very directory `backing` was
/// opened from: the daemon mirrors it through the fd it holds) and serves it from
/// background threads. Root only (mount(2) directly).
#[cfg(target_os = "linux")]
pub fn mount_in_background(
    backing: Backing,
    cfg: &MountConfig,
    mountpoint: &std::path::Path,
) -> Result<BackgroundMount, MountError> {
    sys::raise_fd_limit();
    size_fd_budget(&backing, cfg);
    sys::clear_umask();
    let mut options = fuser_options(cfg, mountpoint);
    options
        .mount_options
        .retain(|o| *o != MountOption::AutoUnmount);
    let core = Arc::new(Core::new());
    let invalidator = Arc::new(Invalidator::new());
    let mut fs_cfg = fs_config(cfg);
    fs_cfg.policy = load_policy(cfg)?;
    fs_cfg.mountpoint = std::fs::canonicalize(mountpoint).ok();
    let fs = SharefsFs::new(backing, core, fs_cfg, invalidator.clone());
    let conflicts = fs.conflict_log();
    let session = direct_session(fs, mountpoint, &options)
        .map_err(|e| MountError(mount_failure(mountpoint, &e)))?;
    if let Err(e) = invalidator.start(session.notifier()) {
        tracing::warn!("cannot start the invalidation thread: {e}");
    }
    let session = session
        .spawn()
        .map_err(|e| MountError(format!("cannot start the FUSE session: {e}")))?;
    Ok(BackgroundMount {
        session,
        mountpoint: mountpoint.to_path_buf(),
        conflicts,
    })
}

/// Mounts and serves until unmounted. With `daemon`, returns in the parent as soon as
/// the mount is ready (or failed), and serves in a detached child.
pub fn mount(cfg: &MountConfig, daemon: bool) -> Result<(), MountError> {
    let policy = load_policy(cfg)?;
    let (backing_path, mountpoint) = preflight::check(cfg)?;
    let backing = Backing::open(&backing_path).map_err(|e| {
        MountError(format!(
            "cannot open backing directory {}: {e}",
            backing_path.display()
        ))
    })?;
    sys::raise_fd_limit();
    size_fd_budget(&backing, cfg);
    sys::clear_umask();
    let mut fs_cfg = fs_config(cfg);
    fs_cfg.policy = policy;
    let options = fuser_options(cfg, &backing_path);
    if !daemon {
        return serve(backing, fs_cfg, &mountpoint, &options, None);
    }
    let (read_end, write_end) =
        sys::pipe().map_err(|e| MountError(format!("cannot create a pipe: {e}")))?;
    match sys::fork().map_err(|e| MountError(format!("cannot fork: {e}")))? {
        0 => {
            drop(read_end);
            sys::setsid();
            let result = serve(backing, fs_cfg, &mountpoint, &options, Some(write_end));
            // In the child, a failure has already been reported through the pipe.
            std::process::exit(if result.is_ok() { 0 } else { 1 });
        }
        _child => {
            drop(write_end);
            wait_ready(read_end)
        }
    }
}

/// The parent side of `--daemon`: "ok" means mounted; anything else is the error text.
fn wait_ready(read_end: OwnedFd) -> Result<(), MountError> {
    let mut text = String::new();
    let _ = std::fs::File::from(read_end).read_to_string(&mut text);
    match text.strip_prefix("ok") {
        Some(_) => Ok(()),
        None if text.is_empty() => Err(MountError(
            "the daemon exited before the mount was ready (see its log)".into(),
        )),
        None => Err(MountError(text)),
    }
}

fn serve(
    backing: Backing,
    fs_cfg: FsConfig,
    mountpoint: &std::path::Path,
    options: &Config,
    ready: Option<OwnedFd>,
) -> Result<(), MountError> {
    let core = Arc::new(Core::new());
    let invalidator = Arc::new(Invalidator::new());
    let policy = fs_cfg.policy.clone();
    let mut fs_cfg = fs_cfg;
    fs_cfg.mountpoint = std::fs::canonicalize(mountpoint).ok();
    let fs = SharefsFs::new(backing, core, fs_cfg, invalidator.clone());
    let report = |ready: Option<OwnedFd>, msg: &str| {
        if let Some(fd) = ready {
            let _ = std::fs::File::from(fd).write_all(msg.as_bytes());
        }
    };
    // Mounting with mount(2) directly is Linux's; macOS always mounts through fuser
    // (macFUSE's mount helper).
    #[cfg(target_os = "linux")]
    let direct = sys::geteuid() == 0 && !options.mount_options.contains(&MountOption::AutoUnmount);
    #[cfg(target_os = "linux")]
    let session = if direct {
        direct_session(fs, mountpoint, options)
    } else {
        Session::new(fs, mountpoint, options)
    };
    #[cfg(not(target_os = "linux"))]
    let session = Session::new(fs, mountpoint, options);
    let mut session = match session {
        Ok(s) => s,
        Err(e) => {
            let msg = mount_failure(mountpoint, &e);
            report(ready, &msg);
            return Err(MountError(msg));
        }
    };
    if let Err(e) = invalidator.start(session.notifier()) {
        tracing::warn!("cannot start the invalidation thread: {e}");
    }
    #[cfg(target_os = "linux")]
    let direct_unmount = direct.then(|| {
        let target = sys::cname(mountpoint.as_os_str()).unwrap_or_default();
        Box::new(move || {
            if let Err(e) = sys::umount_detach(&target) {
                tracing::error!("unmount failed: {e}");
            }
        }) as Box<dyn FnMut() + Send>
    });
    #[cfg(not(target_os = "linux"))]
    let direct_unmount = None;
    let unmount: Box<dyn FnMut() + Send> = if let Some(unmount) = direct_unmount {
        unmount
    } else {
        let mut unmounter = session.unmount_callable();
        Box::new(move || {
            if let Err(e) = unmounter.unmount() {
                tracing::error!("unmount failed: {e}");
            }
        })
    };
    if let Err(e) = watch_signals(unmount, policy) {
        tracing::warn!("cannot install signal handlers: {e}");
    }
    tracing::info!(mountpoint = %mountpoint.display(), "mounted");
    if ready.is_some() {
        report(ready, "ok");
        sys::detach_stdio();
    }
    session
        .run()
        .map_err(|e| MountError(format!("the FUSE session ended with an error: {e}")))?;
    tracing::info!(mountpoint = %mountpoint.display(), "unmounted");
    Ok(())
}

fn mount_failure(mountpoint: &std::path::Path, e: &std::io::Error) -> String {
    let hint = match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => {
            " (mounting needs root, or fusermount3 and permission on the mountpoint; in a container: --device /dev/fuse --cap-add SYS_ADMIN)"
        }
        Some(libc::ENOENT) if preflight::which("fusermount3").is_none() => {
            " (fusermount3 is not installed: apt-get install fuse3)"
        }
        _ => "",
    };
    format!("cannot mount on {}: {e}{hint}", mountpoint.display())
}

/// SIGINT/SIGTERM unmount; the session loop then ends by itself. SIGHUP reloads the
/// policy file (a malformed one is logged and the old policy stays).
fn watch_signals(
    mut unmount: Box<dyn FnMut() + Send>,
    policy: Arc<crate::policy::PolicyHandle>,
) -> std::io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    std::thread::Builder::new()
        .name("sharefs-signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                if sig == SIGHUP {
                    tracing::info!(signal = sig, "reloading the policy");
                    let _ = policy.reload();
                    continue;
                }
                tracing::info!(signal = sig, "unmounting");
                unmount();
                break;
            }
        })?;
    Ok(())
}

/// Mounts as root with mount(2) directly, so the mount table shows the type
/// `fuse.sharefs` (fuser's own root path always says `fuse`), then serves the fd.
#[cfg(target_os = "linux")]
fn direct_session(
    fs: SharefsFs,
    mountpoint: &std::path::Path,
    options: &Config,
) -> std::io::Result<Session<SharefsFs>> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::PermissionsExt;

    let dev = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/fuse")?;
    let root_mode = std::fs::metadata(mountpoint)?.permissions().mode() & libc::S_IFMT;
    let mut data = format!(
        "fd={},rootmode={:o},user_id={},group_id={}",
        dev.as_raw_fd(),
        root_mode,
        sys::geteuid(),
        0
    );
    let mut flags: libc::c_ulong = 0;
    let (mut nosuid, mut nodev) = (true, true);
    let mut source = String::from("sharefs");
    for opt in &options.mount_options {
        match opt {
            MountOption::FSName(name) => source = name.clone(),
            MountOption::DefaultPermissions => data.push_str(",default_permissions"),
            MountOption::RO => flags |= libc::MS_RDONLY,
            MountOption::Suid => nosuid = false,
            MountOption::Dev => nodev = false,
            MountOption::NoExec => flags |= libc::MS_NOEXEC,
            MountOption::NoAtime => flags |= libc::MS_NOATIME,
            MountOption::Sync => flags |= libc::MS_SYNCHRONOUS,
            MountOption::DirSync => flags |= libc::MS_DIRSYNC,
            _ => {}
        }
    }
    if options.acl != SessionACL::Owner {
        data.push_str(",allow_other");
    }
    if nosuid {
        flags |= libc::MS_NOSUID;
    }
    if nodev {
        flags |= libc::MS_NODEV;
    }
    let invalid = |_| std::io::Error::from_raw_os_error(libc::EINVAL);
    sys::mount(
        &std::ffi::CString::new(source).map_err(invalid)?,
        &sys::cname(mountpoint.as_os_str())?,
        c"fuse.sharefs",
        flags,
        &std::ffi::CString::new(data).map_err(invalid)?,
    )?;
    let session = Session::from_fd(fs, OwnedFd::from(dev), options.acl, options.clone());
    if session.is_err() {
        let _ = sys::umount_detach(&sys::cname(mountpoint.as_os_str())?);
    }
    session
}
