//! SQLite and other mmap- and lock-heavy programs as real clients through the mount:
//! many processes on one database in DELETE and WAL journal mode, `locking_mode =
//! EXCLUSIVE`, busy timeouts, readers during writes, a writer killed mid-transaction;
//! diskcache (SQLite in WAL mode) from several processes; Python's shelve/dbm; git's
//! packfile maps read by concurrent processes. Every run ends with SQLite's own
//! `PRAGMA integrity_check` and exact row counts.
//!
//! WAL maps `-shm` MAP_SHARED and takes fcntl locks on its bytes 120..135: before mapped
//! I/O was exempt from mandatory locks (tests/mapped_io.rs) two to five of six WAL
//! writers died of SIGBUS in every run.
#![cfg(target_os = "linux")] // Mounts through Linux FUSE (/dev/fuse, fusermount3, /proc).

mod common;

use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{Holder, Mount, sh_ok};

/// Writes one row per transaction (`BEGIN IMMEDIATE`), reading the table between
/// writes; prints the number of rows it wrote.
const WRITER: &str = r#"
import os, sqlite3, sys
db, worker, rows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
c = sqlite3.connect(db, timeout=60, isolation_level=None)
c.execute('PRAGMA synchronous=NORMAL')
done = 0
for i in range(rows):
    c.execute('BEGIN IMMEDIATE')
    c.execute('INSERT INTO t (worker, seq, pad) VALUES (?, ?, ?)', (worker, i, os.urandom(48).hex()))
    c.execute('COMMIT')
    done += 1
    if i % 25 == 0:
        c.execute('SELECT count(*), max(seq) FROM t').fetchone()
c.close()
print(done)
"#;

/// Counts rows in a loop while the writers run; the count never goes down. Prints the
/// number of reads and the last count.
const READER: &str = r#"
import sqlite3, sys, time
db, seconds = sys.argv[1], float(sys.argv[2])
c = sqlite3.connect(db, timeout=60, isolation_level=None)
last, reads, end = 0, 0, time.time() + seconds
while time.time() < end:
    (n,) = c.execute('SELECT count(*) FROM t').fetchone()
    assert n >= last, (n, last)
    last, reads = n, reads + 1
print(reads, last)
"#;

/// Python on a script file in the test's temp dir (outside the mount).
fn script(root: &Path, name: &str, body: &str) -> PathBuf {
    let path = root.join(name);
    fs::write(&path, body).unwrap();
    path
}

fn python(args: &[&std::ffi::OsStr]) -> Child {
    Command::new("python3")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3")
}

/// Waits for a child and asserts that it exited 0, not killed by a signal (SIGBUS).
fn finished(child: Child, what: &str) -> String {
    let out: Output = child.wait_with_output().expect("wait");
    assert_eq!(
        out.status.signal(),
        None,
        "{what} was killed by signal {:?}: {}",
        out.status.signal(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Runs a one-shot Python program and returns its stdout (asserting success).
fn py(program: &str) -> String {
    let child = python(&["-c".as_ref(), program.as_ref()]);
    finished(child, "python3 -c")
}

fn create_table(db: &Path, journal: &str) {
    let got = py(&format!(
        "import sqlite3\n\
         c = sqlite3.connect({db:?}, isolation_level=None)\n\
         print(c.execute('PRAGMA journal_mode={journal}').fetchone()[0])\n\
         c.execute('CREATE TABLE t (id INTEGER PRIMARY KEY, worker INT, seq INT, pad TEXT)')\n\
         c.close()",
        db = db.to_str().unwrap()
    ));
    assert_eq!(got, journal.to_lowercase());
}

/// (rows, distinct (worker, seq) pairs, integrity_check).
fn verify(db: &Path) -> (u64, u64, String) {
    let out = py(&format!(
        "import sqlite3\n\
         c = sqlite3.connect({db:?})\n\
         n = c.execute('SELECT count(*) FROM t').fetchone()[0]\n\
         d = c.execute('SELECT count(*) FROM (SELECT DISTINCT worker, seq FROM t)').fetchone()[0]\n\
         ok = c.execute('PRAGMA integrity_check').fetchone()[0]\n\
         print(n, d, ok)",
        db = db.to_str().unwrap()
    ));
    let mut it = out.split_whitespace();
    let n = it.next().unwrap().parse().unwrap();
    let d = it.next().unwrap().parse().unwrap();
    (n, d, it.collect::<Vec<_>>().join(" "))
}

/// Six writers and two readers on one database, all at once.
fn many_processes(journal: &str) {
    require_fuse!();
    const WRITERS: u32 = 6;
    const ROWS: u32 = 300;
    let m = Mount::new(&[]);
    let writer = script(m.root.path(), "writer.py", WRITER);
    let reader = script(m.root.path(), "reader.py", READER);
    let db = m.path("app.db");
    create_table(&db, journal);
    let started = Instant::now();
    let writers: Vec<Child> = (0..WRITERS)
        .map(|w| {
            python(&[
                writer.as_os_str(),
                db.as_os_str(),
                w.to_string().as_ref(),
                ROWS.to_string().as_ref(),
            ])
        })
        .collect();
    let readers: Vec<Child> = (0..2)
        .map(|_| python(&[reader.as_os_str(), db.as_os_str(), "3".as_ref()]))
        .collect();
    for (w, child) in writers.into_iter().enumerate() {
        assert_eq!(finished(child, &format!("writer {w}")), ROWS.to_string());
    }
    for (r, child) in readers.into_iter().enumerate() {
        let out = finished(child, &format!("reader {r}"));
        let reads: u64 = out.split_whitespace().next().unwrap().parse().unwrap();
        assert!(reads > 0, "reader {r} never read: {out}");
    }
    eprintln!(
        "{journal}: {} rows by {WRITERS} writers in {:?}",
        WRITERS * ROWS,
        started.elapsed()
    );
    let want = u64::from(WRITERS * ROWS);
    assert_eq!(verify(&db), (want, want, "ok".to_string()));
    let log = m.log();
    assert!(!log.contains("panicked"), "daemon log: {log}");
}

#[test]
fn many_processes_write_and_read_one_database_in_wal_mode() {
    many_processes("WAL");
}

#[test]
fn many_processes_write_and_read_one_database_in_delete_mode() {
    many_processes("DELETE");
}

/// `PRAGMA locking_mode = EXCLUSIVE`: the first writer keeps its lock until it closes;
/// a second connection gets "database is locked" after its busy timeout (as on
/// Windows, where SQLite's LockFileEx locks do the same), then succeeds once the holder
/// is gone. In WAL mode an exclusive connection uses no `-shm` map at all.
#[test]
fn exclusive_locking_mode_keeps_others_out_until_the_holder_closes() {
    require_fuse!();
    let m = Mount::new(&[]);
    for journal in ["DELETE", "WAL"] {
        let db = m.path(&format!("excl-{journal}.db"));
        create_table(&db, journal);
        let holder = Holder::python(&format!(
            "import sqlite3, sys\n\
             c = sqlite3.connect({db:?}, isolation_level=None)\n\
             c.execute('PRAGMA locking_mode=EXCLUSIVE')\n\
             c.execute('BEGIN IMMEDIATE')\n\
             c.execute(\"INSERT INTO t (worker, seq, pad) VALUES (0, 0, 'x')\")\n\
             c.execute('COMMIT')\n\
             print('held', flush=True)\n\
             sys.stdin.read()",
            db = db.to_str().unwrap()
        ));
        let started = Instant::now();
        let refused = py(&format!(
            "import sqlite3\n\
             c = sqlite3.connect({db:?}, timeout=0.3)\n\
             try:\n    c.execute('SELECT count(*) FROM t').fetchone(); print('read')\n\
             except sqlite3.OperationalError as e:\n    print(e)",
            db = db.to_str().unwrap()
        ));
        assert_eq!(refused, "database is locked", "{journal}");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{journal}: the busy timeout took {:?}",
            started.elapsed()
        );
        holder.release();
        assert_eq!(verify(&db), (1, 1, "ok".to_string()), "{journal}");
    }
}

/// A writer killed with SIGKILL in the middle of a large transaction: the next
/// connection rolls it back (hot journal, or the WAL's uncommitted frames) and finds
/// exactly the committed rows, an intact database, and can write.
#[test]
fn a_writer_killed_mid_transaction_loses_only_its_uncommitted_rows() {
    require_fuse!();
    let m = Mount::new(&[]);
    for journal in ["DELETE", "WAL"] {
        let db = m.path(&format!("killed-{journal}.db"));
        create_table(&db, journal);
        let holder = Holder::python(&format!(
            "import sqlite3, sys\n\
             c = sqlite3.connect({db:?}, isolation_level=None)\n\
             c.execute('PRAGMA cache_size=10')\n\
             for i in range(100):\n    c.execute(\"INSERT INTO t (worker, seq, pad) VALUES (1, ?, 'committed')\", (i,))\n\
             c.execute('BEGIN IMMEDIATE')\n\
             for i in range(100, 5100):\n    c.execute('INSERT INTO t (worker, seq, pad) VALUES (1, ?, ?)', (i, 'x' * 200))\n\
             print('held', flush=True)\n\
             sys.stdin.read()",
            db = db.to_str().unwrap()
        ));
        holder.kill();
        assert_eq!(verify(&db), (100, 100, "ok".to_string()), "{journal}");
        let after = py(&format!(
            "import sqlite3\n\
             c = sqlite3.connect({db:?}, timeout=10, isolation_level=None)\n\
             c.execute(\"INSERT INTO t (worker, seq, pad) VALUES (2, 0, 'after')\")\n\
             print(c.execute('SELECT count(*) FROM t').fetchone()[0])",
            db = db.to_str().unwrap()
        ));
        assert_eq!(after, "101", "{journal}");
    }
}

/// Whether a Python module is importable; under `CI=true` a missing one fails the test
/// (mount-scripts/setup.sh --test-tools installs it).
fn python_has(module: &str) -> bool {
    let ok = Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "python3 cannot import {module} and CI=true (mount-scripts/setup.sh --test-tools installs it)"
        );
        eprintln!("SKIPPED: python3 cannot import {module}");
    }
    ok
}

/// diskcache: a cache directory of SQLite in WAL mode plus value files. Four processes
/// write and read one cache at once; used to hang under sharefs, its readers refused
/// on `-shm`.
#[test]
fn diskcache_shared_by_four_processes() {
    require_fuse!();
    if !python_has("diskcache") {
        return;
    }
    let m = Mount::new(&[]);
    let worker = script(
        m.root.path(),
        "cache_worker.py",
        r#"
import sys, diskcache
directory, worker = sys.argv[1], int(sys.argv[2])
cache = diskcache.Cache(directory, timeout=60)
for i in range(250):
    cache.set(f'{worker}-{i}', f'value {worker} {i}')
    # Large values live in files beside the database.
    if i % 50 == 0:
        cache.set(f'big-{worker}-{i}', bytes([worker]) * 100_000)
    cache.get(f'{(worker + 1) % 4}-{i // 2}')
    cache.incr('counter', 1, default=0)
cache.close()
print('done')
"#,
    );
    let dir = m.path("cache");
    let started = Instant::now();
    let children: Vec<Child> = (0..4)
        .map(|w| python(&[worker.as_os_str(), dir.as_os_str(), w.to_string().as_ref()]))
        .collect();
    for (w, child) in children.into_iter().enumerate() {
        assert_eq!(finished(child, &format!("diskcache worker {w}")), "done");
    }
    eprintln!("diskcache: 4 workers in {:?}", started.elapsed());
    let got = py(&format!(
        "import diskcache\n\
         c = diskcache.Cache({dir:?})\n\
         small = all(c.get(f'{{w}}-{{i}}') == f'value {{w}} {{i}}' for w in range(4) for i in range(250))\n\
         big = all(c.get(f'big-{{w}}-{{i}}') == bytes([w]) * 100_000 for w in range(4) for i in range(0, 250, 50))\n\
         print(len(c), c.get('counter'), small, big, c.check() == [])",
        dir = dir.to_str().unwrap()
    ));
    assert_eq!(got, "1021 1000 True True True");
}

/// shelve over Python's dbm (dbm.dumb here: rewrites its `.dir` index by rename at every
/// sync): four processes take turns writing under an flock, then four read at once.
#[test]
fn shelve_written_in_turns_and_read_concurrently() {
    require_fuse!();
    let m = Mount::new(&[]);
    let worker = script(
        m.root.path(),
        "shelf_worker.py",
        r#"
import fcntl, os, shelve, sys
path, worker, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
lock = open(path + '.lock', 'a')
if mode == 'write':
    for round in range(5):
        fcntl.flock(lock, fcntl.LOCK_EX)
        with shelve.open(path) as s:
            for i in range(40):
                s[f'{worker}-{round}-{i}'] = {'worker': worker, 'i': i, 'pad': 'x' * 100}
        fcntl.flock(lock, fcntl.LOCK_UN)
    print('done')
else:
    fcntl.flock(lock, fcntl.LOCK_SH)
    with shelve.open(path, flag='r') as s:
        good = sum(1 for k in s.keys() if s[k]['worker'] == int(k.split('-')[0]))
    print(good)
"#,
    );
    let shelf = m.path("shelf");
    let run_all = |mode: &str| -> Vec<String> {
        let children: Vec<Child> = (0..4)
            .map(|w| {
                python(&[
                    worker.as_os_str(),
                    shelf.as_os_str(),
                    w.to_string().as_ref(),
                    mode.as_ref(),
                ])
            })
            .collect();
        children
            .into_iter()
            .enumerate()
            .map(|(w, c)| finished(c, &format!("shelve {mode}r {w}")))
            .collect()
    };
    assert_eq!(run_all("write"), vec!["done"; 4]);
    assert_eq!(run_all("read"), vec!["800"; 4]);
}

/// git maps its packfiles and index: four processes read one packed repository at once
/// (log with patches, every object, fsck) while nothing writes.
#[test]
fn git_packfiles_read_by_concurrent_processes() {
    require_fuse!();
    let m = Mount::new(&[]);
    let env = "GIT_CONFIG_NOSYSTEM=1 HOME=/nonexistent GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@t \
               GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@t";
    sh_ok(
        &m.mnt,
        &format!(
            "{env} git init -q -b main repo && cd repo \
             && for i in $(seq 1 40); do seq $i 3000 > f$((i % 7)).txt; head -c 20000 /dev/urandom > b$((i % 3)).bin; \
                git add -A && git commit -qm c$i || exit 1; done \
             && git gc -q --aggressive && test -n \"$(ls .git/objects/pack/*.pack)\""
        ),
    );
    let repo = m.path("repo");
    let readers: Vec<Child> = (0..4)
        .map(|_| {
            Command::new("sh")
                .arg("-c")
                .arg(format!(
                    "for k in 1 2 3; do {env} git log -p --stat >/dev/null && \
                     {env} git cat-file --batch-all-objects --batch >/dev/null && \
                     {env} git fsck --full --strict 2>&1 || exit 1; done; \
                     {env} git rev-list --all --objects | wc -l"
                ))
                .current_dir(&repo)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("sh")
        })
        .collect();
    let counts: Vec<String> = readers
        .into_iter()
        .enumerate()
        .map(|(r, c)| finished(c, &format!("git reader {r}")))
        .collect();
    // 40 commits, each with its tree and the blobs it changed: same count for all.
    assert!(counts.iter().all(|c| c == &counts[0]), "{counts:?}");
    let objects: u64 = counts[0].lines().last().unwrap().trim().parse().unwrap();
    assert!(objects >= 80, "{counts:?}");
}
