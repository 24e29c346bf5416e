//! Write-through and no-buffering through a real mount (SEMANTICS.md §5): which writes
//! take the synchronous path, what survives a daemon killed mid-write, and ENOSPC.
#![cfg(target_os = "linux")] // Mounts through Linux FUSE (/dev/fuse, fusermount3, /proc).

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::{Mount, stderr};

/// `.sharefs/stats` as a name → value map.
fn stats(m: &Mount) -> std::collections::HashMap<String, u64> {
    fs::read_to_string(m.path(".sharefs/stats"))
        .unwrap()
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}

fn py(mnt: &Path, body: &str) -> String {
    let client = concat!(env!("CARGO_MANIFEST_DIR"), "/clients/python");
    let program = format!(
        "import os, sys\nsys.path.insert(0, {client:?})\nimport sharefs_client as sc\nroot = {:?}\ndef p(r): return os.path.join(root, r)\n{body}",
        mnt.to_str().unwrap()
    );
    let out = Command::new("python3")
        .arg("-c")
        .arg(program)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn write_through_handles_sync_every_write_and_others_do_not() {
    require_fuse!();
    let m = Mount::new(&[]);
    let before = stats(&m);
    let body = format!(
        r#"
backing = {:?}
fd = sc.open_fd(p('wt'), os.O_WRONLY | os.O_CREAT, 0o644, write_through=True)
for i in range(10):
    os.write(fd, b'x' * 4096)
    # Acknowledged means in the backing file, while the handle is still open.
    assert os.path.getsize(os.path.join(backing, 'wt')) == 4096 * (i + 1)
os.close(fd)
fd = os.open(p('plain'), os.O_WRONLY | os.O_CREAT, 0o644)
for i in range(10):
    os.write(fd, b'y' * 4096)
os.close(fd)
fd = os.open(p('dsync'), os.O_WRONLY | os.O_CREAT | os.O_DSYNC, 0o644)
for i in range(5):
    os.write(fd, b'z' * 4096)
os.close(fd)
"#,
        m.backing.to_str().unwrap()
    );
    py(&m.mnt, &body);
    let after = stats(&m);
    let d = |k: &str| after[k] - before[k];
    assert_eq!(d("io.writes"), 25);
    assert_eq!(
        d("io.write_through_writes"),
        15,
        "10 write_through + 5 O_DSYNC"
    );
    assert!(
        d("io.dir_syncs") >= 2,
        "created under write-through: parent synced"
    );
    assert_eq!(fs::metadata(m.backing_path("wt")).unwrap().len(), 40960);
}

#[test]
fn the_mount_option_makes_every_write_write_through() {
    require_fuse!();
    let m = Mount::new(&["-o", "write_through"]);
    let before = stats(&m);
    fs::write(m.path("a"), vec![1u8; 8192]).unwrap();
    fs::rename(m.path("a"), m.path("b")).unwrap();
    let after = stats(&m);
    assert_eq!(
        after["io.write_through_writes"] - before["io.write_through_writes"],
        after["io.writes"] - before["io.writes"]
    );
    assert!(after["io.writes"] > before["io.writes"]);
    assert!(
        after["io.dir_syncs"] - before["io.dir_syncs"] >= 2,
        "create and rename synced their directory"
    );
}

#[test]
fn no_buffering_uses_o_direct_for_aligned_requests() {
    require_fuse!();
    let m = Mount::new(&[]);
    let before = stats(&m);
    let out = py(
        &m.mnt,
        r#"
fd = sc.open_fd(p('nb'), os.O_RDWR | os.O_CREAT, 0o644, no_buffering=True)
os.pwrite(fd, b'a' * 8192, 0)       # aligned: O_DIRECT
os.pwrite(fd, b'b' * 100, 8192)     # unaligned: write-through fallback
print(os.pread(fd, 8192, 0) == b'a' * 8192, os.pread(fd, 100, 8192) == b'b' * 100)
os.close(fd)
"#,
    );
    assert_eq!(out, "True True");
    let after = stats(&m);
    // /tmp is ext4 here (O_DIRECT works); on tmpfs both go the fallback way.
    let direct = after["io.direct_writes"] - before["io.direct_writes"];
    let wt = after["io.write_through_writes"] - before["io.write_through_writes"];
    assert_eq!(
        direct + wt,
        2,
        "every no-buffering write is direct or write-through"
    );
    assert_eq!(fs::read(m.backing_path("nb")).unwrap().len(), 8292);
}

/// A writer appends numbered 512-byte records write-through and reports each
/// acknowledged number on stdout; the daemon is SIGKILLed at a random moment.
#[test]
fn records_acknowledged_before_a_daemon_kill_are_all_in_the_backing_file() {
    require_fuse!();
    for seed in [11u64, 2024, 77777] {
        let mut m = Mount::new(&[]);
        let program = format!(
            "import os, sys\nsys.path.insert(0, {:?})\nimport sharefs_client as sc\nfd = sc.open_fd({:?}, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644, write_through=True)\ni = 0\nwhile True:\n    rec = (b'%08d:' % i).ljust(511, b'r') + b'\\n'\n    try:\n        os.write(fd, rec)\n    except OSError:\n        break\n    print(i, flush=True)\n    i += 1\n",
            concat!(env!("CARGO_MANIFEST_DIR"), "/clients/python"),
            m.path("log").to_str().unwrap()
        );
        let mut writer = Command::new("python3")
            .arg("-c")
            .arg(&program)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Wait until the writer is writing, then kill after a pseudo-random delay from
        // the seed (logged).
        use std::io::{BufRead, Read};
        let mut out = std::io::BufReader::new(writer.stdout.take().unwrap());
        let mut first = String::new();
        out.read_line(&mut first).unwrap();
        let delay = 50 + (seed.wrapping_mul(6364136223846793005) >> 54) % 400;
        eprintln!("crash round: seed {seed}, kill after {delay} ms");
        std::thread::sleep(std::time::Duration::from_millis(delay));
        m.kill_daemon();
        let mut rest = String::new();
        out.read_to_string(&mut rest).unwrap();
        let _ = writer.wait();
        let acked: Vec<u64> = first
            .lines()
            .chain(rest.lines())
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        assert!(
            !acked.is_empty(),
            "seed {seed}: nothing written before the kill"
        );
        let data = fs::read(m.backing_path("log")).unwrap();
        assert_eq!(data.len() % 512, 0, "seed {seed}: torn record at the end");
        for (i, rec) in data.chunks(512).enumerate() {
            assert_eq!(
                &rec[..9],
                format!("{i:08}:").as_bytes(),
                "seed {seed}: record {i}"
            );
            assert_eq!(rec[511], b'\n');
        }
        let last = *acked.last().unwrap();
        assert!(
            data.len() as u64 / 512 > last,
            "seed {seed}: acknowledged record {last} missing ({} records)",
            data.len() / 512
        );
        m.unmount();
    }
}

#[test]
fn enospc_reaches_the_writer_and_the_daemon_survives() {
    require_fuse!();
    let small = tempfile::tempdir().unwrap();
    let status = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(small.path())
        .status()
        .unwrap();
    assert!(status.success(), "cannot mount a small tmpfs");
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
    let _guard = Unmount(small.path().to_path_buf());
    let backing = small.path().join("b");
    let mnt = small.path().join("../sharefs-enospc-mnt");
    fs::create_dir_all(&backing).unwrap();
    fs::create_dir_all(&mnt).unwrap();
    fs::write(backing.join("keep"), b"earlier data\n").unwrap();
    let mut child = Command::new(common::bin())
        .arg("mount")
        .arg(&backing)
        .arg(&mnt)
        .spawn()
        .unwrap();
    for _ in 0..200 {
        if common::mountinfo_line(&std::fs::canonicalize(&mnt).unwrap()).is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = py(
        &mnt,
        r#"
import errno
fd = os.open(p('fill'), os.O_WRONLY | os.O_CREAT, 0o644)
written = 0
try:
    while True:
        written += os.write(fd, b'f' * 65536)
except OSError as e:
    print(errno.errorcode[e.errno], written > 0)
os.close(fd)
print(open(p('keep')).read().strip())
"#,
    );
    let _ = Command::new("fusermount3").arg("-u").arg(&mnt).status();
    let alive_until_unmount = child.wait().unwrap();
    assert_eq!(out, "ENOSPC True\nearlier data", "{out}");
    assert!(
        alive_until_unmount.success(),
        "daemon exit {alive_until_unmount}"
    );
    assert_eq!(fs::read(backing.join("keep")).unwrap(), b"earlier data\n");
    let _ = fs::remove_dir(&mnt);
}
