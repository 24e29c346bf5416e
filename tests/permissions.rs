//! With allow_other, permissions are enforced for the caller, not for the daemon's user;
//! and a write by an unprivileged user drops set-id bits as the kernel does natively.
#![cfg(target_os = "linux")] // Mounts through Linux FUSE (/dev/fuse, fusermount3, /proc).

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use common::Mount;

fn as_nobody(script: &str) -> (bool, String) {
    let out = Command::new("setpriv")
        .args([
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "sh",
            "-c",
            script,
        ])
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn setup(b: &Path) {
    fs::set_permissions(b, fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(b.join("secret"), b"root only\n").unwrap();
    fs::set_permissions(b.join("secret"), fs::Permissions::from_mode(0o600)).unwrap();
    fs::create_dir(b.join("closed")).unwrap();
    fs::set_permissions(b.join("closed"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(b.join("suid"), b"x\n").unwrap();
    fs::set_permissions(b.join("suid"), fs::Permissions::from_mode(0o4777)).unwrap();
}

#[test]
fn allow_other_enforces_the_callers_permissions_and_ownership() {
    require_fuse!();
    let m = Mount::with_setup(&["-o", "allow_other"], setup);
    fs::set_permissions(m.root.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let mnt = m.mnt.display().to_string();
    let (ok, err) = as_nobody(&format!("cat {mnt}/secret"));
    assert!(!ok && err.contains("Permission denied"), "{err}");
    let (ok, err) = as_nobody(&format!("touch {mnt}/closed/new"));
    assert!(!ok && err.contains("Permission denied"), "{err}");
    assert!(!m.backing_path("closed/new").exists());
    // A file created by the caller belongs to the caller in the backing directory.
    fs::set_permissions(m.path("closed"), fs::Permissions::from_mode(0o777)).unwrap();
    let (ok, err) = as_nobody(&format!("touch {mnt}/closed/mine"));
    assert!(ok, "{err}");
    use std::os::unix::fs::MetadataExt;
    let meta = fs::metadata(m.backing_path("closed/mine")).unwrap();
    let nobody: u32 = String::from_utf8_lossy(
        &Command::new("id")
            .args(["-u", "nobody"])
            .output()
            .unwrap()
            .stdout,
    )
    .trim()
    .parse()
    .unwrap();
    assert_eq!(meta.uid(), nobody);
}

#[test]
fn an_unprivileged_write_drops_set_id_bits() {
    require_fuse!();
    let m = Mount::with_setup(&["-o", "allow_other"], setup);
    fs::set_permissions(m.root.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let (ok, err) = as_nobody(&format!("echo more >> {}/suid", m.mnt.display()));
    assert!(ok, "{err}");
    let mode = fs::metadata(m.backing_path("suid"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o777, "backing mode {mode:o}");
    std::thread::sleep(std::time::Duration::from_millis(100));
    let seen = fs::metadata(m.path("suid")).unwrap().permissions().mode();
    assert_eq!(seen & 0o7777, 0o777, "mount shows {seen:o}");
}
