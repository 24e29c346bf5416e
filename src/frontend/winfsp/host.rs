//! `sharefs mount` on Windows: check the arguments, start WinFsp, serve until Ctrl-C.

use winfsp::host::{FileSystemHost, FineGuard, VolumeParams};

use super::filetime;
use super::fs::{Settings, SharefsWin};
use super::nt;
use crate::config::MountConfig;
use crate::core::DeleteMode;
use crate::policy::handle::PolicyHandle;

/// Mounts `cfg.backing` at `cfg.mountpoint` (a drive letter such as `S:`, or a directory
/// that does not exist yet, as WinFsp requires) and serves it until Ctrl-C.
pub fn mount(cfg: &MountConfig, daemon: bool) -> Result<(), String> {
    if daemon {
        return Err(
            "--daemon is not available on Windows: run sharefs as a service with \
                    WinFsp's launcher (docs/windows.md)"
                .into(),
        );
    }
    if !cfg.backing.is_dir() {
        return Err(format!(
            "backing directory {} does not exist or is not a directory",
            cfg.backing.display()
        ));
    }
    let policy = PolicyHandle::for_mount(cfg).map_err(|e| e.to_string())?;
    winfsp::winfsp_init().map_err(|_| {
        "WinFsp is not installed or its DLL cannot be loaded (install it from \
         https://winfsp.dev/rel/)"
            .to_string()
    })?;
    let root = nt::open_root(&cfg.backing).map_err(|e| {
        format!(
            "cannot open backing directory {}: {e}",
            cfg.backing.display()
        )
    })?;
    let delete_mode = cfg.delete_mode.unwrap_or_default();
    let settings = Settings {
        backing: cfg.backing.clone(),
        control_dir: cfg.control_dir.clone(),
        write_through: cfg.write_through,
        delete_mode,
        conflict_log: cfg.conflict_log,
    };
    let mut params = VolumeParams::new();
    params
        .filesystem_name("sharefs")
        .sector_size(4096)
        .sectors_per_allocation_unit(1)
        .max_component_length(255)
        .volume_creation_time(filetime::from_system_time(std::time::SystemTime::now()).unwrap_or(0))
        .case_sensitive_search(false)
        .case_preserved_names(true)
        .unicode_on_disk(true)
        .persistent_acls(false)
        // Every Cleanup is needed: it ends the core's open (where the driver drops the
        // share access) and tells a handle from an open the driver refused (fs.rs).
        .post_cleanup_when_modified_only(false)
        .supports_posix_unlink_rename(delete_mode == DeleteMode::Posix)
        .read_only_volume(cfg.read_only)
        .file_info_timeout(1000);
    let fs = SharefsWin::new(root, settings, policy);
    let mut host = FileSystemHost::<SharefsWin, FineGuard>::new(params, fs)
        .map_err(|e| format!("WinFsp: {e}"))?;
    host.mount(cfg.mountpoint.as_os_str())
        .map_err(|e| format!("cannot mount at {}: {e}", cfg.mountpoint.display()))?;
    host.start()
        .map_err(|e| format!("WinFsp dispatcher: {e}"))?;
    tracing::info!(
        backing = %cfg.backing.display(),
        mountpoint = %cfg.mountpoint.display(),
        "mounted; Ctrl-C unmounts"
    );
    let waited = nt::wait_for_stop();
    host.stop();
    host.unmount();
    waited.map_err(|e| format!("waiting for Ctrl-C: {e}"))
}
