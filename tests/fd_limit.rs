//! The daemon under a small RLIMIT_NOFILE: it never answers EMFILE while it holds idle
//! inode fds. The daemon runs with a hard limit of 256 that it cannot raise (setpriv
//! drops CAP_SYS_RESOURCE, prlimit sets the limit), after `stat` of 2,000 files has
//! filled its idle-fd budget. A budget of 200 leaves programs less than the limit
//! allows (as 9,514 idle fds did in issue #22's report): without the retry a program got
//! 42 opens, then EMFILE.
#![cfg(target_os = "linux")] // Mounts through Linux FUSE (/dev/fuse, fusermount3, /proc).

mod common;

use std::fs;
use std::process::Command;

use common::{Mount, sh_ok};

const LIMIT: u32 = 256;

fn limited_mount(args: &[&str]) -> Mount {
    let nofile = format!("--nofile={LIMIT}:{LIMIT}");
    let wrapper = [
        "setpriv",
        "--inh-caps=-sys_resource",
        "--bounding-set=-sys_resource",
        "--",
        "prlimit",
        nofile.as_str(),
        "--",
    ];
    Mount::wrapped(&wrapper, args, |b| {
        fs::create_dir(b.join("many")).unwrap();
        for i in 0..2000 {
            fs::write(b.join("many").join(format!("f{i}")), b"x").unwrap();
        }
        fs::create_dir(b.join("open")).unwrap();
        for i in 0..400 {
            fs::write(b.join("open").join(format!("g{i}")), b"y").unwrap();
        }
    })
}

/// Stats every file in `many/`, then opens files of `open/` one by one and keeps them;
/// prints how many opened and the errno name that stopped it.
const OPEN_UNTIL_FULL: &str = r#"
import errno, os, resource, sys
root = sys.argv[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
for name in os.listdir(os.path.join(root, 'many')):
    os.stat(os.path.join(root, 'many', name))
held, stop = [], 'none'
for i in range(400):
    try:
        held.append(os.open(os.path.join(root, 'open', f'g{i}'), os.O_RDONLY))
    except OSError as e:
        stop = errno.errorcode.get(e.errno, str(e.errno))
        break
print(len(held), stop)
"#;

/// Runs [`OPEN_UNTIL_FULL`] on the mount: (files opened, errno name that stopped it).
fn open_until_full(m: &Mount) -> (u32, String) {
    let out = Command::new("python3")
        .args(["-c", OPEN_UNTIL_FULL, m.mnt.to_str().unwrap()])
        .output()
        .expect("python3");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut it = text.split_whitespace();
    let opened = it.next().and_then(|n| n.parse().ok());
    let stop = it.next().map(str::to_string);
    (
        opened.unwrap_or_else(|| panic!("no count in {text:?}")),
        stop.unwrap_or_default(),
    )
}

fn daemon_limit(m: &Mount) -> String {
    let limits = fs::read_to_string(format!("/proc/{}/limits", m.pid())).unwrap();
    limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap_or_default()
        .split_whitespace()
        .skip(3)
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn idle_inode_fds_give_way_to_programs_opens() {
    require_fuse!();
    let m = limited_mount(&["-o", "inode_fds=200"]);
    assert_eq!(
        daemon_limit(&m),
        format!("{LIMIT} {LIMIT}"),
        "the daemon raised its limit"
    );
    let (opened, stop) = open_until_full(&m);
    eprintln!("opened {opened} files before {stop} under a daemon limit of {LIMIT}");
    // Each open file costs the daemon two fds (its inode's O_PATH fd and the handle's
    // I/O fd); about 30 more are the daemon's own (FUSE channels, directories, logs).
    // With idle fds kept back the program got 42.
    assert!(
        opened >= (LIMIT - 40) / 2,
        "only {opened} opens before {stop}; the daemon kept idle fds"
    );
    assert_eq!(
        stop, "EMFILE",
        "the limit must show as EMFILE, not another error"
    );
    // With the program's files closed again, creates and listings work.
    sh_ok(
        &m.mnt,
        "for i in $(seq 1 100); do echo z > open/new$i || exit 1; done; \
         ls -l many | wc -l >/dev/null && ls -l open >/dev/null && cat many/f1999",
    );
    assert!(
        m.log().contains("out of file descriptors"),
        "the shortage is logged: {}",
        m.log()
    );
}

/// With `-o inode_fds=16` the same holds when the budget is the smallest one.
#[test]
fn a_small_inode_fd_budget_keeps_the_mount_usable_at_the_limit() {
    require_fuse!();
    let m = limited_mount(&["-o", "inode_fds=16"]);
    let (opened, stop) = open_until_full(&m);
    assert!(
        opened >= (LIMIT - 40) / 2,
        "only {opened} opens before {stop}"
    );
    assert_eq!(stop, "EMFILE");
    sh_ok(&m.mnt, "ls -l many >/dev/null && find . -type f | wc -l");
}
