//! Policy files through a real mount (docs/policy.md): rules by path, by process and by
//! user; backup readers; the EACCES dialect of examples/python.toml; reload (SIGHUP,
//! `sharefs policy reload`, `.sharefs/policy`) changes new opens only; a malformed file
//! is refused at mount and on reload, where the old policy stays. Files are held open
//! by this test process itself (its comm matches no rule).
#![cfg(target_os = "linux")] // Mounts through Linux FUSE (/dev/fuse, fusermount3, /proc).

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{Mount, bin, mountinfo_line, sh, stderr};

/// Writes `text` as `policy.toml` next to the mount's directories; returns its path.
fn policy_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    fs::write(&p, text).unwrap();
    p
}

/// A mount with `--policy FILE`, the file (`policy.toml` in a temp dir of its own), and
/// that dir.
struct PolicyMount {
    m: Mount,
    file: PathBuf,
    _dir: tempfile::TempDir,
}

/// Mounts with `--policy FILE` written from `policy`.
fn mount_with(policy: &str, extra: &[&str], setup: impl FnOnce(&Path)) -> PolicyMount {
    let dir = tempfile::Builder::new()
        .prefix("sharefs-policy-")
        .tempdir()
        .unwrap();
    let file = policy_file(dir.path(), "policy.toml", policy);
    let mut args: Vec<String> = vec!["--policy".into(), file.display().to_string()];
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    PolicyMount {
        m: Mount::with_setup(&args, setup),
        file,
        _dir: dir,
    }
}

fn open_rw(p: &Path) -> std::io::Result<fs::File> {
    fs::OpenOptions::new().read(true).write(true).open(p)
}

fn errno_of(r: std::io::Result<impl Sized>) -> Option<i32> {
    r.err().and_then(|e| e.raw_os_error())
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run")
}

fn which(name: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name} >/dev/null"))
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn rule_by_path_lets_logs_rotate_while_everything_else_stays_windows() {
    require_fuse!();
    let policy = r#"
default = "windows"

[profiles.shared-log]
shares = [
  { access = "write", share = "read,delete" },
  { access = "read", share = "read,write,delete" },
]
delete = "posix"

[[rule]]
name = "logs rotate"
path = "logs/**"
profile = "shared-log"
"#;
    let PolicyMount { m, .. } = mount_with(policy, &[], |b| {
        fs::create_dir(b.join("logs")).unwrap();
        fs::write(b.join("logs/app.log"), b"one\n").unwrap();
        fs::create_dir(b.join("data")).unwrap();
        fs::write(b.join("data/app.db"), b"db\n").unwrap();
    });
    // A writer keeps its log open; the rotator renames it and the writer goes on.
    let mut log = fs::OpenOptions::new()
        .append(true)
        .open(m.path("logs/app.log"))
        .unwrap();
    fs::rename(m.path("logs/app.log"), m.path("logs/app.log.1")).expect("rotation");
    use std::io::Write;
    log.write_all(b"two\n").unwrap();
    fs::write(m.path("logs/app.log"), b"new\n").unwrap();
    // The rotated file can be deleted while the writer still holds it (posix delete).
    fs::remove_file(m.path("logs/app.log.1")).expect("delete rotated log");
    assert!(!m.backing_path("logs/app.log.1").exists());
    drop(log);
    // Everything else: windows, no delete sharing.
    let db = open_rw(&m.path("data/app.db")).unwrap();
    let e = errno_of(fs::rename(m.path("data/app.db"), m.path("data/app.old")));
    assert_eq!(e, Some(libc::EBUSY), "{}", m.log());
    assert_eq!(
        errno_of(fs::remove_file(m.path("data/app.db"))),
        Some(libc::EBUSY)
    );
    // ... but read and write sharing, as the windows profile gives.
    open_rw(&m.path("data/app.db")).expect("second writer under windows");
    drop(db);
}

#[test]
fn rule_by_process_gives_python_strict_and_cat_windows() {
    require_fuse!();
    if !which("python3") {
        eprintln!("SKIPPED: python3 missing");
        return;
    }
    let policy = r#"
[[rule]]
name = "python"
comm = ["python3*", "python"]
profile = "strict"
"#;
    let PolicyMount { m, .. } =
        mount_with(policy, &[], |b| fs::write(b.join("f"), b"data\n").unwrap());
    // This process holds f for writing, sharing read and write (windows default).
    let _held = open_rw(&m.path("f")).unwrap();
    // cat (windows: a reader shares read and write) reads alongside.
    let out = run(Command::new("cat").arg(m.path("f")));
    assert!(out.status.success(), "cat: {}", stderr(&out));
    // python3 (strict: a reader shares read only) cannot open a file held for writing.
    let out = run(Command::new("python3").arg("-c").arg(format!(
        "import errno\ntry:\n    open({:?}).read(); print('OK')\nexcept OSError as e:\n    print(errno.errorcode[e.errno])",
        m.path("f").to_str().unwrap()
    )));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "EBUSY",
        "{}",
        stderr(&out)
    );
    // The conflict log names python as the requester.
    let conflicts = fs::read_to_string(m.path(".sharefs/conflicts")).unwrap();
    assert!(conflicts.contains("python"), "{conflicts}");
}

#[test]
fn python_example_makes_sharing_violations_permission_errors() {
    require_fuse!();
    if !which("python3") {
        eprintln!("SKIPPED: python3 missing");
        return;
    }
    let example =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/python.toml"))
            .unwrap();
    let PolicyMount { m, .. } =
        mount_with(&example, &[], |b| fs::write(b.join("f"), b"x\n").unwrap());
    let f = m.path("f");
    let script = format!(
        "import sys\ntry:\n    open({:?}, 'a')\n    print('OK')\nexcept PermissionError as e:\n    print('PermissionError', e.errno)\nexcept OSError as e:\n    print('OSError', e.errno)",
        f.to_str().unwrap()
    );
    // Held with share none through the control API, for the whole command.
    let out = run(Command::new(bin()).args(["hold", "--access", "read", "--share", "none"]).arg(&f).args([
        "--",
        "sh",
        "-c",
        &format!(
            "python3 -c \"$0\"; cat {} >/dev/null 2>&1; echo cat=$?; dd if={} of=/dev/null 2>&1 | head -1",
            f.display(),
            f.display()
        ),
        &script,
    ]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("PermissionError {}", libc::EACCES)),
        "{text}\n{}\n{}",
        stderr(&out),
        m.log()
    );
    // Other programs keep EBUSY.
    assert!(text.contains("cat=1"), "{text}");
    assert!(text.contains("Device or resource busy"), "{text}");
    let conflicts = fs::read_to_string(m.path(".sharefs/conflicts")).unwrap();
    assert!(
        conflicts.contains("EACCES") && conflicts.contains("EBUSY"),
        "{conflicts}"
    );
}

#[test]
fn rule_by_uid_applies_to_a_second_user_only() {
    require_fuse!();
    if !which("setpriv") || common::stderr(&sh(Path::new("/"), "id nobody")).contains("no such") {
        eprintln!("SKIPPED: setpriv or user nobody missing");
        return;
    }
    let policy = r#"
default = "windows"

[[rule]]
name = "guests"
user = "nobody"
profile = "strict"
"#;
    let PolicyMount { m, .. } = mount_with(policy, &["-o", "allow_other"], |b| {
        let root = b.parent().unwrap();
        fs::set_permissions(root, fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(b, fs::Permissions::from_mode(0o755)).unwrap();
        fs::write(b.join("f"), b"x\n").unwrap();
        fs::set_permissions(b.join("f"), fs::Permissions::from_mode(0o666)).unwrap();
    });
    fs::set_permissions(&m.mnt, fs::Permissions::from_mode(0o755)).ok();
    let f = m.path("f");
    let _held = fs::File::open(&f).unwrap();
    let as_nobody = |script: &str| {
        run(Command::new("setpriv")
            .args([
                "--reuid=nobody",
                "--regid=nogroup",
                "--clear-groups",
                "sh",
                "-c",
                script,
            ])
            .current_dir("/"))
    };
    // nobody (strict: a writer shares nothing) cannot write a file we are reading.
    let out = as_nobody(&format!("echo hi >> {}", f.display()));
    assert!(
        !out.status.success(),
        "nobody's write went through\n{}",
        m.log()
    );
    assert!(
        stderr(&out).contains("Device or resource busy"),
        "{}",
        stderr(&out)
    );
    // nobody's reads work (strict readers share read; we only read).
    let out = as_nobody(&format!("cat {}", f.display()));
    assert!(out.status.success(), "{}\n{}", stderr(&out), m.log());
    // root gets windows: the same write works.
    let out = sh(Path::new("/"), &format!("echo hi >> {}", f.display()));
    assert!(out.status.success(), "{}", stderr(&out));
}

/// The flags of the daemon's I/O descriptors of `backing_file` (from fdinfo).
fn daemon_fd_flags(pid: u32, backing_file: &Path) -> Vec<i32> {
    let mut out = Vec::new();
    for e in fs::read_dir(format!("/proc/{pid}/fd")).unwrap().flatten() {
        if fs::read_link(e.path()).ok().as_deref() == Some(backing_file) {
            let info = fs::read_to_string(format!(
                "/proc/{pid}/fdinfo/{}",
                e.file_name().to_string_lossy()
            ))
            .unwrap_or_default();
            if let Some(f) = info.lines().find_map(|l| l.strip_prefix("flags:")) {
                let flags = i32::from_str_radix(f.trim(), 8).unwrap();
                // The inode's O_PATH handle is not an I/O descriptor.
                if flags & libc::O_PATH == 0 {
                    out.push(flags);
                }
            }
        }
    }
    out
}

#[test]
fn write_through_rule_makes_the_backing_file_o_dsync_for_opens_and_creates() {
    require_fuse!();
    let policy = "[[rule]]\nname = \"dumps\"\npath = \"dumps/**\"\nwrite_through = true\n";
    let PolicyMount { m, .. } = mount_with(policy, &[], |b| {
        fs::create_dir(b.join("dumps")).unwrap();
        fs::write(b.join("dumps/old.dmp"), b"x").unwrap();
        fs::write(b.join("other"), b"x").unwrap();
    });
    let created = fs::File::create(m.path("dumps/new.dmp")).unwrap();
    let opened = open_rw(&m.path("dumps/old.dmp")).unwrap();
    let other = open_rw(&m.path("other")).unwrap();
    let canon = |rel: &str| fs::canonicalize(m.backing_path(rel)).unwrap();
    for rel in ["dumps/new.dmp", "dumps/old.dmp"] {
        let flags = daemon_fd_flags(m.pid(), &canon(rel));
        assert!(!flags.is_empty(), "no daemon fd for {rel}");
        assert!(
            flags.iter().all(|f| f & libc::O_DSYNC != 0),
            "{rel}: {flags:?}"
        );
    }
    let flags = daemon_fd_flags(m.pid(), &canon("other"));
    assert!(
        !flags.is_empty() && flags.iter().all(|f| f & libc::O_DSYNC == 0),
        "{flags:?}"
    );
    drop((created, opened, other));
}

#[test]
fn backup_reader_reads_past_share_modes_and_blocks_nobody() {
    require_fuse!();
    let policy = r#"
[[rule]]
name = "backup"
comm = ["cat", "tail"]
open = "read"
backup = true
"#;
    let PolicyMount { m, .. } = mount_with(policy, &[], |b| {
        fs::write(b.join("f"), b"secret\n").unwrap()
    });
    let f = m.path("f");
    // Held exclusively: cat (a backup reader) still reads; head does not.
    let out = run(Command::new(bin())
        .args(["hold", "--access", "read,write", "--share", "none"])
        .arg(&f)
        .args([
            "--",
            "sh",
            "-c",
            &format!(
                "cat {0}; head -c 3 {0} >/dev/null 2>&1; echo head=$?",
                f.display()
            ),
        ]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("secret") && text.contains("head=1"),
        "{text}\n{}",
        stderr(&out)
    );
    // A backup reader holding the file: shown as such, and nobody is held up by it.
    let mut tail = Command::new("tail")
        .args(["-f", "-s", "0.1"])
        .arg(&f)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let locks = loop {
        let t = fs::read_to_string(m.path(".sharefs/locks")).unwrap();
        if t.contains("tail") || Instant::now() > deadline {
            break t;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(locks.contains("backup"), "{locks}");
    let exclusive = run(Command::new(bin())
        .args(["hold", "--access", "read,write,delete", "--share", "none"])
        .arg(&f)
        .args(["--", "true"]));
    assert!(exclusive.status.success(), "{}", stderr(&exclusive));
    fs::remove_file(&f).expect("delete while a backup reader holds it");
    let _ = tail.kill();
    let _ = tail.wait();
    assert!(m.log().contains("backup open"), "{}", m.log());
}

#[test]
fn reload_changes_new_opens_only_and_a_malformed_reload_keeps_the_old_policy() {
    require_fuse!();
    let PolicyMount { m, file, _dir } = mount_with("default = \"windows\"\n", &[], |b| {
        fs::write(b.join("f"), b"x\n").unwrap();
    });
    let f = m.path("f");
    let status = || fs::read_to_string(m.path(".sharefs/policy")).unwrap();
    assert!(status().contains(&format!(
        "file {}",
        fs::canonicalize(&file).unwrap().display()
    )));
    assert!(status().contains("rules 0"), "{}", status());
    // Granted under windows: reads, sharing read and write.
    let held = fs::File::open(&f).unwrap();
    open_rw(&f)
        .expect("a writer alongside, under windows")
        .sync_all()
        .unwrap();
    // New policy: f is strict. Through `sharefs policy reload`.
    fs::write(&file, "[[rule]]\npath = \"f\"\nprofile = \"strict\"\n").unwrap();
    let out = run(Command::new(bin()).args(["policy", "reload"]).arg(&m.mnt));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 rules"));
    assert!(
        status().contains("rules 1") && status().contains("reloads 1"),
        "{}",
        status()
    );
    // New opens use it: a strict writer shares nothing, and we are reading.
    assert_eq!(errno_of(open_rw(&f)), Some(libc::EBUSY));
    // The open granted before keeps its share set (read, write); a new reader gets strict's.
    let reader = fs::File::open(&f).unwrap();
    let table = fs::read_to_string(m.path(".sharefs/locks")).unwrap();
    assert!(
        table.contains("share=rw-") && table.contains("share=r--"),
        "{table}"
    );
    drop(reader);
    // A malformed file: refused with file:line:column, the old policy stays.
    fs::write(&file, "[[rule]]\npath = \"f\"\nprofile = \"stirct\"\n").unwrap();
    let out = run(Command::new(bin()).args(["policy", "reload"]).arg(&m.mnt));
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("policy.toml:3:11: unknown profile 'stirct'"),
        "{}",
        stderr(&out)
    );
    assert!(
        status().contains("rules 1") && status().contains("last_error 2"),
        "{}",
        status()
    );
    assert_eq!(
        errno_of(open_rw(&f)),
        Some(libc::EBUSY),
        "the old policy applies"
    );
    let w = fs::OpenOptions::new()
        .write(true)
        .open(m.path(".sharefs/policy"))
        .unwrap();
    use std::io::Write;
    assert_eq!(errno_of((&w).write_all(b"reload\n")), Some(libc::EINVAL));
    assert_eq!(errno_of((&w).write_all(b"explode\n")), Some(libc::EINVAL));
    assert!(m.log().contains("policy reload failed"), "{}", m.log());
    // SIGHUP reloads too: back to windows for new opens.
    fs::write(&file, "default = \"windows\"\n").unwrap();
    let pid = m.pid() as i32;
    assert!(
        run(Command::new("kill").args(["-HUP", &pid.to_string()]))
            .status
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while !status().contains("rules 0") {
        assert!(
            Instant::now() < deadline,
            "SIGHUP did not reload: {}",
            status()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(status().contains("last_error none"));
    open_rw(&f).expect("windows again after SIGHUP");
    drop(held);
    // The mount is still serving after all that.
    assert!(mountinfo_line(&m.mnt).is_some());
}

#[test]
fn a_malformed_policy_stops_the_mount() {
    require_fuse!();
    let dir = tempfile::tempdir().unwrap();
    let (b, mnt) = (dir.path().join("b"), dir.path().join("m"));
    fs::create_dir(&b).unwrap();
    fs::create_dir(&mnt).unwrap();
    let bad = policy_file(
        dir.path(),
        "bad.toml",
        "[[rule]]\npath = \"a/[\"\nprofile = \"posix\"\n",
    );
    let out = run(Command::new(bin())
        .arg("mount")
        .arg(&b)
        .arg(&mnt)
        .arg("--policy")
        .arg(&bad));
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("bad.toml:2:8: path: bad glob"), "{err}");
    assert!(mountinfo_line(&mnt).is_none());
    // `sharefs policy check` says the same and exits non-zero.
    let out = run(Command::new(bin()).args(["policy", "check"]).arg(&bad));
    assert!(!out.status.success());
    assert!(stderr(&out).contains(":2:8:"), "{}", stderr(&out));
    let missing = run(Command::new(bin())
        .arg("mount")
        .arg(&b)
        .arg(&mnt)
        .args(["--policy", "/nonexistent.toml"]));
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("cannot read the policy file"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn explain_names_the_rule_and_why_earlier_ones_did_not_match() {
    let dir = tempfile::tempdir().unwrap();
    let p = policy_file(
        dir.path(),
        "p.toml",
        "[[rule]]\nname = \"py\"\nexe = \"python3*\"\nprofile = \"strict\"\n\n[[rule]]\nname = \"logs\"\npath = \"logs/**\"\nshare = \"all\"\ndelete = \"posix\"\n",
    );
    let out = run(Command::new(bin())
        .args(["policy", "explain", "--policy"])
        .arg(&p)
        .args([
            "logs/a.log",
            "--comm",
            "cat",
            "--uid",
            "5",
            "--open",
            "write",
        ]));
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("rule 1 \"py\" (line 1): no match: exe is not known"),
        "{text}"
    );
    assert!(text.contains("rule 2 \"logs\" (line 6): matches"), "{text}");
    assert!(text.contains("share=rwd delete=posix"), "{text}");
    let out = run(Command::new(bin())
        .args(["policy", "explain", "--policy"])
        .arg(&p)
        .args(["src/x", "--exe", "/usr/bin/python3.12"]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("matched: rule 1 \"py\""), "{text}");
    assert!(text.contains("share=r--"), "{text}");
}

/// A 1,000-rule policy that matches nothing a benchmark does: every rule is tried, and
/// rules match on paths, comm, exe and uid.
fn thousand_rules() -> String {
    let mut rules = String::from("default = \"windows\"\n");
    for i in 0..1000 {
        rules.push_str("\n[[rule]]\n");
        match i % 5 {
            0 => rules.push_str(&format!("path = \"project{i}/**\"\n")),
            1 => rules.push_str(&format!("path = \"**/*.ext{i}\"\n")),
            2 => rules.push_str(&format!("comm = \"tool{i}*\"\npath = \"src{i}/*\"\n")),
            3 => rules.push_str(&format!("exe = \"/opt/tool{i}/bin/*\"\n")),
            _ => rules.push_str(&format!("uid = {}\npath = \"d{i}/**\"\n", 10000 + i)),
        }
        rules.push_str(if i % 2 == 0 {
            "profile = \"strict\"\n"
        } else {
            "share = \"read\"\n"
        });
    }
    rules
}

/// The decision alone, in process: `cargo test --release --test policy_mount --
/// --ignored --nocapture decision_cost`.
#[test]
#[ignore]
fn decision_cost_with_a_thousand_rules() {
    use sharefs::core::Classes;
    use sharefs::policy::file::{MountBase, parse};
    use sharefs::policy::{Identity, OpenKinds, Process, Query};
    let t = Instant::now();
    let p = parse(&thousand_rules(), Path::new("p.toml"), MountBase::default()).unwrap();
    let load = t.elapsed();
    println!("loaded in {load:?}");
    let proc_ = Process {
        pid: 1,
        comm: "bench".into(),
        exe: Some("/usr/bin/bench".into()),
        cmdline: Some("bench -x".into()),
        groups: std::sync::Arc::from([]),
        runtime: Default::default(),
    };
    let q = Query {
        path: "some/dir/bench.dat",
        kinds: OpenKinds::READ,
        access: Classes::READ,
        is_dir: false,
        uid: 0,
        gid: 0,
        identity: Identity::Known(&proc_),
    };
    for _ in 0..3 {
        let t = Instant::now();
        std::hint::black_box(p.decide(std::hint::black_box(&q)));
        println!("one decide: {:?}", t.elapsed());
    }
    let n: usize = std::env::var("DECIDE_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(p.decide(std::hint::black_box(&q)));
    }
    println!(
        "1000-rule policy: loaded in {load:?}; decide {:.2} µs",
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );
}

/// Open/close through the mount with no policy and with a 1,000-rule policy that
/// matches nothing (every rule is tried, the process is looked up). Run with
/// `cargo test --release --test policy_mount -- --ignored --nocapture open_close`.
#[test]
#[ignore]
fn open_close_benchmark_with_a_thousand_rules() {
    require_fuse!();
    // BENCH_RULES=uids: 1,000 uid-only rules (no glob, no /proc), to split the cost.
    let rules = match std::env::var("BENCH_RULES").as_deref() {
        Ok("uids") => (0..1000).fold(String::new(), |s, i| {
            s + &format!("[[rule]]\nuid = {}\nprofile = \"strict\"\n", 10000 + i)
        }),
        _ => thousand_rules(),
    };
    let setup = |b: &Path| fs::write(b.join("bench.dat"), b"x").unwrap();
    let plain = Mount::with_setup(&[], setup);
    // BENCH_AA=1: both mounts without a policy, to see the measurement's own bias.
    let rules = if std::env::var("BENCH_AA").is_ok() {
        String::new()
    } else {
        rules
    };
    let PolicyMount { m: big, .. } = mount_with(&rules, &[], setup);
    // µs per open/close, over 20,000 opens after 2,000 to warm up. Long runs, taken
    // in turns: short batches that switch mounts measure thread wake-ups instead.
    let measure = |m: &Mount| {
        let f = m.path("bench.dat");
        for _ in 0..2000 {
            drop(fs::File::open(&f).unwrap());
        }
        let n = 20_000;
        let t = Instant::now();
        for _ in 0..n {
            drop(fs::File::open(&f).unwrap());
        }
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    };
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for round in 0..9 {
        if round % 2 == 0 {
            a.push(measure(&plain));
            b.push(measure(&big));
        } else {
            b.push(measure(&big));
            a.push(measure(&plain));
        }
    }
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    let (ma, mb) = (a[4], b[4]);
    println!(
        "open/close: default profile {ma:.1} µs, 1000-rule policy {mb:.1} µs ({:+.1}%, medians of 9); best {:.1} vs {:.1} µs ({:+.1}%); runs {a:.1?} vs {b:.1?}",
        (mb / ma - 1.0) * 100.0,
        a[0],
        b[0],
        (b[0] / a[0] - 1.0) * 100.0
    );
    let status = fs::read_to_string(big.path(".sharefs/policy")).unwrap();
    assert!(status.contains("rules 1000") || std::env::var("BENCH_AA").is_ok());
}
