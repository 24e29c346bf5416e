//! `-o names=windows` through a real mount, with unmodified programs (docs/names.md):
//! case-insensitive, case-preserving lookups, the Win32 name rules on creation, and
//! what `git checkout` does with a repository holding Readme.md and README.md.
#![cfg(target_os = "linux")] // Mounts through Linux FUSE (/dev/fuse, fusermount3, /proc).

mod common;

use std::fs;
use std::io::ErrorKind;
use std::path::Path;

use common::{Mount, sh, sh_ok, stderr};

fn windows_mount(setup: impl FnOnce(&Path)) -> Mount {
    Mount::with_setup(&["-o", "names=windows"], setup)
}

fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != ".sharefs")
        .collect();
    v.sort();
    v
}

#[test]
fn lookup_is_case_insensitive_and_case_preserving() {
    require_fuse!();
    let m = windows_mount(|b| fs::write(b.join("readme.md"), "hello\n").unwrap());
    // open("README.MD") finds readme.md.
    assert_eq!(sh_ok(&m.mnt, "cat README.MD"), "hello\n");
    assert_eq!(fs::read_to_string(m.path("ReadMe.Md")).unwrap(), "hello\n");
    // Creating Readme.md opens the existing file; readdir shows the name as stored.
    sh_ok(&m.mnt, "echo changed > Readme.md");
    assert_eq!(listing(&m.mnt), vec!["readme.md"]);
    assert_eq!(listing(&m.backing), vec!["readme.md"]);
    assert_eq!(
        fs::read_to_string(m.backing_path("readme.md")).unwrap(),
        "changed\n"
    );
    // O_EXCL: EEXIST; mkdir of another spelling: EEXIST.
    let py = sh(
        &m.mnt,
        "python3 -c \"import os; os.open('README.md', os.O_CREAT|os.O_EXCL|os.O_WRONLY)\"",
    );
    assert!(stderr(&py).contains("FileExistsError"), "{}", stderr(&py));
    let e = fs::create_dir(m.path("README.MD")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AlreadyExists);
    // Remove by another spelling removes the stored name.
    sh_ok(&m.mnt, "rm README.MD");
    assert!(listing(&m.backing).is_empty());
}

#[test]
fn case_only_rename_works_and_rename_onto_a_variant_replaces_it() {
    require_fuse!();
    let m = windows_mount(|b| {
        fs::write(b.join("readme.md"), "r\n").unwrap();
        fs::write(b.join("other"), "o\n").unwrap();
    });
    sh_ok(&m.mnt, "mv readme.md README.md");
    assert_eq!(listing(&m.backing), vec!["README.md", "other"]);
    sh_ok(
        &m.mnt,
        "python3 -c \"import os; os.rename('README.md', 'Readme.MD')\"",
    );
    assert_eq!(listing(&m.backing), vec!["Readme.MD", "other"]);
    assert_eq!(sh_ok(&m.mnt, "cat readme.md"), "r\n");
    // A different file renamed onto another spelling of an existing name replaces it
    // (MoveFileEx with REPLACE_EXISTING); the stored spelling is kept.
    sh_ok(
        &m.mnt,
        "python3 -c \"import os; os.rename('other', 'README.MD')\"",
    );
    assert_eq!(listing(&m.backing), vec!["Readme.MD"]);
    assert_eq!(sh_ok(&m.mnt, "cat readme.md"), "o\n");
    // A directory too.
    sh_ok(&m.mnt, "mkdir src && mv src Src");
    assert_eq!(listing(&m.backing), vec!["Readme.MD", "Src"]);
}

#[test]
fn changes_behind_the_mounts_back_are_seen() {
    require_fuse!();
    let m = windows_mount(|_| {});
    assert!(fs::metadata(m.path("EXTRA.TXT")).is_err());
    // Prime the directory's index, then change the backing dir directly.
    sh_ok(&m.mnt, "touch a.txt && cat A.TXT");
    fs::write(m.backing_path("Extra.txt"), "x").unwrap();
    assert_eq!(fs::read_to_string(m.path("EXTRA.TXT")).unwrap(), "x");
    fs::rename(m.backing_path("Extra.txt"), m.backing_path("moved.txt")).unwrap();
    assert_eq!(fs::read_to_string(m.path("MOVED.txt")).unwrap(), "x");
    assert!(fs::metadata(m.path("extra.TXT")).is_err());
}

#[test]
fn backing_names_differing_only_in_case_stay_reachable_by_exact_name() {
    require_fuse!();
    let m = windows_mount(|b| {
        fs::write(b.join("ab"), "lower").unwrap();
        fs::write(b.join("AB"), "upper").unwrap();
    });
    assert_eq!(fs::read_to_string(m.path("ab")).unwrap(), "lower");
    assert_eq!(fs::read_to_string(m.path("AB")).unwrap(), "upper");
    let e = fs::read_to_string(m.path("Ab")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(m.log().contains("ambiguous name"), "{}", m.log());
    // check-names reports the collision (exit 1), without mounting.
    let out = std::process::Command::new(common::bin())
        .args(["check-names"])
        .arg(&m.backing)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("case collision in .: AB, ab"));
}

/// Every Win32 rule through touch, mkdir, mv, ln, ln -s, mkfifo and python3: EINVAL
/// ("Invalid argument") and a conflict-log event of kind invalid_name.
#[test]
fn names_windows_refuses_fail_creation_with_einval() {
    require_fuse!();
    let m = windows_mount(|b| {
        // Existing backing names that break the rules stay readable.
        fs::write(b.join("aux.c"), "old").unwrap();
        fs::write(b.join("what?"), "q").unwrap();
        fs::write(b.join("src"), "s").unwrap();
    });
    assert_eq!(fs::read_to_string(m.path("aux.c")).unwrap(), "old");
    assert_eq!(fs::read_to_string(m.path("WHAT?")).unwrap(), "q");
    let bad = [
        "CON",
        "prn",
        "Aux",
        "nul.txt",
        "NUL.tar.gz",
        "com1",
        "COM9.log",
        "lpt1",
        "LPT9",
        "COM¹",
        "com²",
        "LPT³.txt",
        "a<b",
        "a>b",
        "a:b",
        "a\\\"b",
        "a\\\\b",
        "a|b",
        "a?b",
        "a*b",
        "tab\tname",
        "dot.",
        "space ",
    ];
    for name in bad {
        for cmd in [
            format!("touch \"{name}\""),
            format!("mkdir \"{name}\""),
            format!("mv src \"{name}\""),
            format!("ln -s src \"{name}\""),
            format!("ln src \"{name}\""),
            format!("mkfifo \"{name}\""),
        ] {
            let out = sh(&m.mnt, &cmd);
            assert!(!out.status.success(), "{cmd} succeeded");
            // GNU mv words rename(2)'s EINVAL as "cannot move ... to a subdirectory of
            // itself" (the only EINVAL POSIX documents for rename).
            let err = stderr(&out);
            assert!(
                err.contains("Invalid argument") || err.contains("subdirectory of itself"),
                "{cmd}: {err}"
            );
        }
    }
    let py = sh(&m.mnt, "python3 -c \"open('CON.txt', 'w')\"");
    assert!(stderr(&py).contains("Errno 22"), "{}", stderr(&py));
    // Control characters 0x01-0x1F.
    let py = sh(&m.mnt, "python3 -c \"open('a\\x01b', 'w')\"");
    assert!(stderr(&py).contains("Errno 22"), "{}", stderr(&py));
    // Nothing was created; the source of the refused mv is still there.
    assert_eq!(listing(&m.backing), vec!["aux.c", "src", "what?"]);
    // Names that are fine.
    sh_ok(
        &m.mnt,
        "touch CONSOLE COM0 COM10 nullable .hidden ' lead' 'ünï'",
    );
    let log = m.log();
    assert!(log.contains("invalid_name"), "{log}");
    let conflicts = fs::read_to_string(m.path(".sharefs/conflicts")).unwrap_or_default();
    assert!(
        conflicts.contains("invalid_name") || conflicts.contains("EINVAL"),
        "{conflicts}"
    );
}

/// MAX_PATH: 3 + the mount-relative path must not exceed 260, unless -o long_paths.
/// (A component over 255 UTF-16 units cannot reach the mount: Linux refuses names over
/// 255 bytes first, with ENAMETOOLONG; the rule is tested in src/names/rules.rs and by
/// check-names.)
#[test]
fn max_path_unless_long_paths() {
    require_fuse!();
    let m = windows_mount(|_| {});
    let dir = "d".repeat(200);
    fs::create_dir(m.path(&dir)).unwrap();
    // 3 + 200 + 1 + 56 = 260: allowed; one more: refused.
    fs::write(m.path(&format!("{dir}/{}", "f".repeat(56))), "").unwrap();
    let e = fs::write(m.path(&format!("{dir}/{}", "g".repeat(57))), "").unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
    drop(m);
    let m = Mount::new(&["-o", "names=windows,long_paths"]);
    fs::create_dir(m.path(&dir)).unwrap();
    fs::write(m.path(&format!("{dir}/{}", "g".repeat(57))), "").unwrap();
}

/// A repository whose tree holds Readme.md and README.md, checked out on the mount:
/// git sees a case-insensitive filesystem (core.ignorecase=true), writes both paths
/// into one file and warns that they collided, as it does on Windows and macOS.
#[test]
fn git_checkout_of_case_colliding_paths() {
    require_fuse!();
    let src = tempfile::tempdir().unwrap();
    sh_ok(
        src.path(),
        "git init -q -b main repo && cd repo && git config user.email t@t && \
         git config user.name t && echo upper > README.md && echo mixed > Readme.md && \
         git add . && git commit -qm init",
    );
    let m = windows_mount(|_| {});
    let out = sh(
        &m.mnt,
        &format!("git clone -q {}/repo clone 2>&1", src.path().display()),
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!("git clone on names=windows:\n{text}");
    assert!(out.status.success(), "{text}");
    assert!(text.contains("collided"), "{text}");
    assert_eq!(listing(&m.path("clone")).len(), 2, "one file + .git");
    assert_eq!(
        sh_ok(&m.path("clone"), "git config core.ignorecase"),
        "true\n"
    );
    // The one file holds the content of whichever path git wrote last; `git status`
    // (stat-cache clean here) may or may not list the other as modified, as on Windows.
    let body = fs::read_to_string(m.path("clone/readme.md")).unwrap();
    assert!(body == "upper\n" || body == "mixed\n", "{body}");
    let status = sh_ok(&m.path("clone"), "git status --porcelain");
    eprintln!("git status:\n{status}");
}

#[test]
fn posix_names_are_unchanged_by_default() {
    require_fuse!();
    let m = Mount::with_setup(&[], |b| fs::write(b.join("readme.md"), "x").unwrap());
    assert!(fs::metadata(m.path("README.MD")).is_err());
    sh_ok(&m.mnt, "touch CON 'a:b' README.MD");
    assert_eq!(
        listing(&m.backing),
        vec!["CON", "README.MD", "a:b", "readme.md"]
    );
}

/// Performance (report only; `cargo test --release --test names -- --ignored perf`):
/// stat of every file in a directory of 100,000 files, exact names on names=posix and
/// names=windows, and other-case names on names=windows (the folded index path).
#[test]
#[ignore]
fn perf_lookups_in_100k_directory() {
    require_fuse!();
    const N: usize = 100_000;
    // Lookups sampled: the daemon holds one fd per inode the kernel knows, so the run
    // stays under the fd limit.
    const LOOKUPS: usize = 15_000;
    let setup = |b: &Path| {
        let d = b.join("big");
        fs::create_dir(&d).unwrap();
        for i in 0..N {
            fs::File::create(d.join(format!("file{i:06}.txt"))).unwrap();
        }
    };
    let time = |m: &Mount, upper: bool| {
        // Let the directory's stamp age past the racy window.
        std::thread::sleep(std::time::Duration::from_millis(100));
        let start = std::time::Instant::now();
        for k in 0..LOOKUPS {
            let i = k * (N / LOOKUPS);
            let n = format!("file{i:06}.txt");
            let n = if upper { n.to_uppercase() } else { n };
            if let Err(e) = fs::symlink_metadata(m.path(&format!("big/{n}"))) {
                panic!("{n}: {e}\n{}", m.log());
            }
        }
        start.elapsed()
    };
    let posix = Mount::with_setup(&[], setup);
    let t_posix = time(&posix, false);
    drop(posix);
    let win = Mount::with_setup(&["-o", "names=windows"], setup);
    let t_exact = time(&win, false);
    drop(win);
    let win = Mount::with_setup(&["-o", "names=windows"], setup);
    let t_upper = time(&win, true);
    let per = |t: std::time::Duration| t.as_secs_f64() * 1e6 / LOOKUPS as f64;
    eprintln!(
        "lookups in a 100k-file dir: posix exact {:.1} us, windows exact {:.1} us, windows other-case {:.1} us \
         ({:.2}x of posix exact)",
        per(t_posix),
        per(t_exact),
        per(t_upper),
        t_upper.as_secs_f64() / t_posix.as_secs_f64()
    );
}
