//! External conformance suites over a real mount: pjdfstest (POSIX syscall semantics)
//! and fsx (random I/O with every read verified). Under `CI=true` a missing tool fails
//! the test; elsewhere it is reported as skipped. See tests/conformance/README.md.
#![cfg(target_os = "linux")] // Mounts through Linux FUSE (/dev/fuse, fusermount3, /proc).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::Mount;

fn conformance_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/conformance")
        .join(name)
}

/// Runs pjdfstest in `dir` and returns (exit success, summary line, full output).
fn pjdfstest(bin: &Path, dir: &Path) -> (bool, String, String) {
    let out = Command::new(bin)
        .arg("-c")
        .arg(conformance_file("pjdfstest.toml"))
        .arg("-p")
        .arg(dir)
        .current_dir(dir)
        .output()
        .expect("run pjdfstest");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = text
        .lines()
        .find(|l| l.starts_with("Summary:"))
        .unwrap_or("no summary")
        .to_string();
    (out.status.success(), summary, text)
}

fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn pjdfstest_passes_over_the_posix_profile() {
    require_fuse!();
    let Some(bin) = common::tool("pjdfstest") else {
        return;
    };
    // The permission cases switch to other users: they must be able to traverse the
    // mount root (allow_other), and the root must be searchable (0755).
    let m = Mount::with_setup(&["--profile", "posix", "-o", "allow_other"], |b| {
        set_mode(b, 0o755)
    });
    set_mode(m.root.path(), 0o755);
    let (ok, summary, text) = pjdfstest(&bin, &m.mnt);
    // The same suite on the bare backing file system, for the report.
    let bare = tempfile::tempdir().unwrap();
    set_mode(bare.path(), 0o755);
    let (_, bare_summary, _) = pjdfstest(&bin, bare.path());
    eprintln!(
        "pjdfstest through sharefs: {summary}\npjdfstest on the bare backing fs: {bare_summary}"
    );
    let failures: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("FAILED") || l.contains("PASSED UNEXPECTEDLY"))
        .collect();
    assert!(
        ok && failures.is_empty(),
        "{summary}\n{}",
        failures.join("\n")
    );
}

fn fsx(bin: &Path, file: &Path, seed: u64, ops: u32, artifacts: &Path) -> (bool, String) {
    let out = Command::new(bin)
        .arg("-f")
        .arg(conformance_file("fsx.toml"))
        .arg("-N")
        .arg(ops.to_string())
        .arg("-S")
        .arg(seed.to_string())
        .arg("-P")
        .arg(artifacts)
        .arg(file)
        .output()
        .expect("run fsx");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

const SEEDS: [u64; 3] = [1, 20251125, 424242];
const OPS: u32 = 20_000;

#[test]
fn fsx_fixed_seeds_over_the_default_profile() {
    require_fuse!();
    let Some(bin) = common::tool("fsx") else {
        return;
    };
    let m = Mount::new(&[]);
    for seed in SEEDS {
        eprintln!("fsx seed {seed}, {OPS} ops");
        let artifacts = tempfile::tempdir().unwrap();
        let (ok, text) = fsx(
            &bin,
            &m.path(&format!("fsx-{seed}.dat")),
            seed,
            OPS,
            artifacts.path(),
        );
        assert!(ok, "fsx seed {seed} failed:\n{text}");
    }
}

#[test]
fn fsx_with_a_second_process_holding_the_file() {
    require_fuse!();
    let Some(bin) = common::tool("fsx") else {
        return;
    };
    let m = Mount::new(&[]);
    let file = m.path("held.dat");
    std::fs::write(&file, b"").unwrap();
    // A reader that shares read and write (the windows profile) keeps the file open
    // for the whole run; fsx's own reopen cycles must all be admitted next to it.
    let holder = common::Holder::open(&file, "rb");
    let artifacts = tempfile::tempdir().unwrap();
    let seed = 77;
    eprintln!("fsx seed {seed}, {OPS} ops, with a holder");
    let (ok, text) = fsx(&bin, &file, seed, OPS, artifacts.path());
    holder.release();
    assert!(ok, "fsx seed {seed} failed:\n{text}");
}
