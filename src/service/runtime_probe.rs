//! Which language runtime a process runs (RUNTIMES.md, "What a Linux process shows of
//! its runtime"), for the `auto` profile's runtime table ([`crate::policy::runtime`]).
//!
//! Evidence, cheapest first: the executable's file name (`python3.11`, `node`, `java`,
//! `git`), the libraries mapped in `/proc/PID/maps` (libpython, libnode, libjvm,
//! libcoreclr, libLLVM, librustc_driver), then the executable's ELF sections
//! (`.go.buildinfo`/`.note.go.buildid` for Go, `.comment` with `rustc version` for
//! Rust). Results are cached per process (pid and start time, so a reused pid is a new
//! process; the executable's path, so an `exec` is noticed) and per executable file
//! (device, inode, mtime), so 50 short-lived processes of one binary read its sections
//! once. A process whose files cannot be read gets the C runtime's row, logged once.
//! Tests: the unit tests below (real Rust and Go binaries, live processes, a stripped
//! binary) and tests/runtimes.rs through a mount.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use lru::LruCache;

use crate::policy::Runtime;
use crate::policy::runtime::Libuv;

/// What was recognised, and from what (for the log and `sharefs policy explain`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recognition {
    /// The runtime.
    pub runtime: Runtime,
    /// The evidence: `exe name`, `maps`, `elf`, or `none` (the C row by default).
    pub evidence: &'static str,
}

/// A process as the per-process cache knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct ProcessKey {
    pid: u32,
    /// Start time in clock ticks since boot (`/proc/PID/stat` field 22).
    start: u64,
}

/// An executable file, as the ELF cache knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct FileKey {
    dev: u64,
    ino: u64,
    mtime: i64,
}

/// Caches of runtime recognition, shared by every request of a mount.
#[derive(Debug)]
pub struct RuntimeProbe {
    /// Process → (its executable when recognised, what it runs).
    processes: Mutex<LruCache<ProcessKey, (Arc<str>, Recognition)>>,
    /// Executable file → what its own sections say (`None`: nothing recognised).
    files: Mutex<LruCache<FileKey, Option<Recognition>>>,
    /// Node.js binary or libnode → its libuv (reading it scans the whole file).
    libuvs: Mutex<LruCache<FileKey, Libuv>>,
    /// The mount this daemon serves: files below it are never read here, because a
    /// worker reading through its own mount waits for another worker, and with every
    /// worker doing so the daemon would deadlock.
    own_mount: Option<std::path::PathBuf>,
}

impl Default for RuntimeProbe {
    fn default() -> Self {
        let room = |n| NonZeroUsize::new(n).unwrap_or(NonZeroUsize::MIN);
        RuntimeProbe {
            processes: Mutex::new(LruCache::new(room(4096))),
            files: Mutex::new(LruCache::new(room(512))),
            libuvs: Mutex::new(LruCache::new(room(64))),
            own_mount: None,
        }
    }
}

impl RuntimeProbe {
    /// A probe for the daemon serving `mountpoint` (absolute, resolved).
    pub fn serving(mountpoint: Option<std::path::PathBuf>) -> RuntimeProbe {
        RuntimeProbe {
            own_mount: mountpoint,
            ..RuntimeProbe::default()
        }
    }

    /// Whether the daemon may read `path` itself: not when it is on its own mount
    /// (tests: `files_on_the_served_mount_are_not_read`).
    fn readable_here(&self, path: &str) -> bool {
        self.own_mount
            .as_ref()
            .is_none_or(|m| !std::path::Path::new(path).starts_with(m))
    }

    /// The runtime of process `pid`, whose executable is `exe` (`None`: unreadable).
    pub fn recognise(&self, pid: u32, exe: Option<&str>) -> Recognition {
        let Some(exe) = exe else {
            return self.unreadable(pid);
        };
        let key = start_time(pid).map(|start| ProcessKey { pid, start });
        if let Some(key) = key {
            let mut cache = self.processes.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((seen, r)) = cache.get(&key)
                && **seen == *exe
            {
                return *r;
            }
        }
        let mut r = by_name(exe)
            .or_else(|| by_maps(pid))
            .or_else(|| self.by_sections(exe))
            .unwrap_or(Recognition {
                runtime: Runtime::C,
                evidence: "none",
            });
        if let Runtime::Node(_) = r.runtime {
            let binary = node_binary(pid).unwrap_or_else(|| exe.to_string());
            r.runtime = Runtime::Node(self.libuv_of(&binary));
        }
        if let Some(key) = key {
            self.processes
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .put(key, (Arc::from(exe), r));
            tracing::debug!(
                target: "sharefs::runtime",
                pid,
                exe,
                runtime = %r.runtime,
                evidence = r.evidence,
                "runtime recognised"
            );
        }
        r
    }

    /// A process whose executable cannot be read (another user's, and the daemon is not
    /// root): the C row, logged once per process.
    fn unreadable(&self, pid: u32) -> Recognition {
        let r = Recognition {
            runtime: Runtime::C,
            evidence: "none",
        };
        if let Some(start) = start_time(pid) {
            let key = ProcessKey { pid, start };
            let mut cache = self.processes.lock().unwrap_or_else(|p| p.into_inner());
            if cache.get(&key).is_none() {
                cache.put(key, (Arc::from(""), r));
                tracing::info!(
                    target: "sharefs::runtime",
                    pid,
                    "cannot read the executable of the process: the C runtime's row applies"
                );
            }
        }
        r
    }

    /// The executable's own sections, cached by file identity.
    fn by_sections(&self, exe: &str) -> Option<Recognition> {
        if !self.readable_here(exe) {
            return None;
        }
        let meta = std::fs::metadata(exe).ok()?;
        let key = file_key(&meta);
        if let Some(hit) = self
            .files
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return *hit;
        }
        let found = elf_runtime(exe).map(|runtime| Recognition {
            runtime,
            evidence: "elf",
        });
        self.files
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .put(key, found);
        found
    }
}

impl RuntimeProbe {
    /// The libuv of a Node.js binary, cached by file identity.
    fn libuv_of(&self, binary: &str) -> Libuv {
        if !self.readable_here(binary) {
            return Libuv::default();
        }
        let Ok(meta) = std::fs::metadata(binary) else {
            return Libuv::default();
        };
        let key = file_key(&meta);
        let mut cache = self.libuvs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(hit) = cache.get(&key) {
            return *hit;
        }
        drop(cache);
        let found = libuv_of(binary);
        self.libuvs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .put(key, found);
        found
    }
}

/// Where a Node.js process's libuv is: a mapped `libnode.so` or a system `libuv.so`
/// when there is one, else the executable itself.
#[cfg(target_os = "linux")]
fn node_binary(pid: u32) -> Option<String> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).ok()?;
    maps.lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .find(|p| {
            let lib = p.rsplit('/').next().unwrap_or(p);
            lib.starts_with("libnode.so") || lib.starts_with("libuv.so")
        })
        .map(str::to_string)
}

#[cfg(not(target_os = "linux"))]
fn node_binary(_pid: u32) -> Option<String> {
    None
}

#[cfg(unix)]
fn file_key(meta: &std::fs::Metadata) -> FileKey {
    use std::os::unix::fs::MetadataExt;
    FileKey {
        dev: meta.dev(),
        ino: meta.ino(),
        mtime: meta.mtime(),
    }
}

#[cfg(not(unix))]
fn file_key(meta: &std::fs::Metadata) -> FileKey {
    FileKey {
        dev: 0,
        ino: meta.len(),
        mtime: 0,
    }
}

/// The runtime an executable's file name gives away, with the JDK release read for
/// `java` (the libuv of `node` is filled in by the caller).
fn by_name(exe: &str) -> Option<Recognition> {
    let runtime = match Runtime::of_exe_name(exe)? {
        Runtime::Java(api, _) => Runtime::Java(api, jdk_release(exe)),
        other => other,
    };
    Some(Recognition {
        runtime,
        evidence: "exe name",
    })
}

/// The runtime of a library mapped into the process (an embedded interpreter, a JVM or
/// CoreCLR under an apphost, a tool linking libLLVM).
#[cfg(target_os = "linux")]
fn by_maps(pid: u32) -> Option<Recognition> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).ok()?;
    let mut found = None;
    for line in maps.lines() {
        let Some(path) = line.split_whitespace().nth(5) else {
            continue;
        };
        let lib = path.rsplit('/').next().unwrap_or(path);
        let runtime = if lib.starts_with("libpython3") {
            Runtime::Python
        } else if lib.starts_with("libnode.so") {
            Runtime::Node(Libuv::default())
        } else if lib == "libjvm.so" {
            Runtime::Java(Default::default(), jdk_of_libjvm(path))
        } else if lib.starts_with("libcoreclr.so") || lib.starts_with("libSystem.Native.so") {
            Runtime::DotNet
        } else if lib.starts_with("librustc_driver") {
            Runtime::Rust
        } else if lib.starts_with("libLLVM") {
            // Weaker than the others: a Python or a JVM may load libLLVM (numba, a JIT);
            // keep looking for one of them.
            found = found.or(Some(Runtime::Llvm));
            continue;
        } else {
            continue;
        };
        return Some(Recognition {
            runtime,
            evidence: "maps",
        });
    }
    found.map(|runtime| Recognition {
        runtime,
        evidence: "maps",
    })
}

#[cfg(not(target_os = "linux"))]
fn by_maps(_pid: u32) -> Option<Recognition> {
    None
}

/// Go or Rust from the ELF sections of `exe`, read on demand (a stripped Rust binary
/// has no `.comment` left and is not recognised).
fn elf_runtime(exe: &str) -> Option<Runtime> {
    use object::{Object, ObjectSection};
    let file = std::fs::File::open(exe).ok()?;
    let cache = object::ReadCache::new(file);
    let elf = object::File::parse(&cache).ok()?;
    if elf.section_by_name(".go.buildinfo").is_some()
        || elf.section_by_name(".note.go.buildid").is_some()
    {
        return Some(Runtime::Go);
    }
    let comment = elf.section_by_name(".comment")?.data().ok()?;
    let text = String::from_utf8_lossy(comment);
    text.contains("rustc version").then_some(Runtime::Rust)
}

/// The libuv version built into a Node.js binary or `libnode.so` (the string
/// `uv_version_string` returns sits beside libuv's own source paths), or the default
/// when it cannot be read.
fn libuv_of(binary: &str) -> Libuv {
    match libuv_version(binary) {
        Some((1, minor)) if minor < 49 => Libuv::Before149,
        Some(_) => Libuv::From149,
        None => Libuv::default(),
    }
}

/// `(major, minor)` of the libuv in `binary`: a NUL-terminated `1.N.M` right before a
/// `deps/uv/` or `libuv` string, within the read-only data.
fn libuv_version(binary: &str) -> Option<(u32, u32)> {
    use std::io::Read;
    const CHUNK: usize = 1 << 20;
    const MARKS: [&[u8]; 2] = [b"deps/uv/src/", b"src/unix/"];
    let mut file = std::fs::File::open(binary).ok()?;
    let mut buf = vec![0u8; CHUNK + 256];
    let mut carry = 0usize;
    loop {
        let n = file.read(&mut buf[carry..]).ok()?;
        if n == 0 {
            return None;
        }
        let window = &buf[..carry + n];
        for mark in MARKS {
            let mut from = 0;
            while let Some(at) = find(&window[from..], mark) {
                let at = from + at;
                if let Some(v) = version_before(&window[at.saturating_sub(128)..at]) {
                    return Some(v);
                }
                from = at + 1;
            }
        }
        // Keep the tail, so a mark split across two reads is still found.
        let keep = 256.min(window.len());
        let start = window.len() - keep;
        buf.copy_within(start..start + keep, 0);
        carry = keep;
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The last NUL-delimited `1.N.M` string in `bytes` whose next string starts at the end
/// or with `../` (the version string, then libuv's first assertion path).
fn version_before(bytes: &[u8]) -> Option<(u32, u32)> {
    bytes.split(|b| *b == 0).rev().find_map(|s| {
        let s = std::str::from_utf8(s).ok()?;
        let mut parts = s.split('.');
        let major = parts.next()?.parse::<u32>().ok()?;
        let minor = parts.next()?.parse::<u32>().ok()?;
        parts.next()?.parse::<u32>().ok()?;
        (parts.next().is_none() && major == 1).then_some((major, minor))
    })
}

/// The JDK feature release from the `release` file beside `bin/` (`JAVA_VERSION="17.0.15"`).
fn jdk_release(exe: &str) -> Option<u16> {
    let real = std::fs::canonicalize(exe).ok()?;
    let home = real.parent()?.parent()?;
    release_version(&home.join("release"))
}

/// The same from `lib/server/libjvm.so`.
#[cfg(target_os = "linux")]
fn jdk_of_libjvm(path: &str) -> Option<u16> {
    let home = std::path::Path::new(path).parent()?.parent()?.parent()?;
    release_version(&home.join("release"))
}

fn release_version(file: &std::path::Path) -> Option<u16> {
    let text = std::fs::read_to_string(file).ok()?;
    let line = text.lines().find(|l| l.starts_with("JAVA_VERSION="))?;
    let v = line.trim_start_matches("JAVA_VERSION=").trim_matches('"');
    // "1.8.0_392" is Java 8; "17.0.15" is 17.
    let mut parts = v.split(['.', '_', '-', '+']);
    let first = parts.next()?.parse::<u16>().ok()?;
    if first == 1 {
        parts.next()?.parse::<u16>().ok()
    } else {
        Some(first)
    }
}

/// Start time of a process in clock ticks since boot (`/proc/PID/stat` field 22; the
/// fields after the command name, which may hold spaces and parentheses).
#[cfg(target_os = "linux")]
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    after.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(not(target_os = "linux"))]
fn start_time(pid: u32) -> Option<u64> {
    Some(u64::from(pid))
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn names_of_runtimes() {
        let r = |exe: &str| by_name(exe).map(|r| r.runtime.family());
        assert_eq!(r("/usr/bin/python3.11"), Some("python"));
        assert_eq!(
            r("/root/.pyenv/versions/3.11.7/bin/python3"),
            Some("python")
        );
        assert_eq!(r("/usr/bin/node"), Some("node"));
        assert_eq!(r("/usr/lib/git-core/git-upload-pack"), Some("git"));
        assert_eq!(r("/usr/bin/git"), Some("git"));
        assert_eq!(r("/usr/bin/ld.lld"), Some("llvm"));
        assert_eq!(r("/usr/bin/cat"), None);
        assert_eq!(r("/usr/bin/gitk"), None);
    }

    #[test]
    fn version_strings() {
        assert_eq!(
            version_before(b"uv_loop_delete\x001.46.0\x00"),
            Some((1, 46))
        );
        assert_eq!(version_before(b"x\x001.50.2\x00"), Some((1, 50)));
        assert_eq!(version_before(b"x\x0017.0.1\x00"), None);
        assert_eq!(version_before(b"x\x001.2\x00"), None);
    }

    #[test]
    fn release_file_versions() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("release");
        std::fs::write(&f, "IMPLEMENTOR=\"x\"\nJAVA_VERSION=\"17.0.15\"\n").unwrap();
        assert_eq!(release_version(&f), Some(17));
        std::fs::write(&f, "JAVA_VERSION=\"1.8.0_392\"\n").unwrap();
        assert_eq!(release_version(&f), Some(8));
    }

    /// This test binary is Rust: its own process is recognised from its sections, and a
    /// second lookup comes from the cache.
    #[test]
    fn this_rust_process_is_rust() {
        let probe = RuntimeProbe::default();
        let exe = std::fs::read_link("/proc/self/exe").unwrap();
        let exe = exe.to_str().unwrap();
        let r = probe.recognise(std::process::id(), Some(exe));
        assert_eq!(r.runtime, Runtime::Rust, "{r:?}");
        assert_eq!(r.evidence, "elf");
        assert_eq!(probe.recognise(std::process::id(), Some(exe)), r);
    }

    /// An executable on the mount the daemon serves is never opened by the daemon: it
    /// falls back to the C row instead of reading its sections through its own mount.
    #[test]
    fn files_on_the_served_mount_are_not_read() {
        let exe = std::fs::read_link("/proc/self/exe").unwrap();
        let dir = exe.parent().unwrap().to_path_buf();
        let probe = RuntimeProbe::serving(Some(dir));
        let r = probe.recognise(std::process::id(), exe.to_str());
        assert_eq!(r.runtime, Runtime::C, "{r:?}");
        assert!(!probe.readable_here(exe.to_str().unwrap()));
        assert!(RuntimeProbe::default().readable_here(exe.to_str().unwrap()));
    }

    /// A C program (no runtime evidence) is the C row; an unreadable one too.
    #[test]
    fn a_c_program_and_an_unreadable_one_get_the_c_row() {
        let probe = RuntimeProbe::default();
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let exe = std::fs::read_link(format!("/proc/{}/exe", child.id())).unwrap();
        let r = probe.recognise(child.id(), exe.to_str());
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(r.runtime, Runtime::C, "{r:?}");
        assert_eq!(probe.recognise(1, None).runtime, Runtime::C);
    }

    /// The Node.js this machine has, when it has one, bundles a libuv whose version is
    /// found (CI installs Debian's nodejs; tests/runtimes.rs needs it under CI=true).
    #[test]
    fn node_libuv_version_is_read() {
        let Ok(out) = std::process::Command::new("node")
            .args(["-p", "process.versions.uv"])
            .output()
        else {
            assert!(
                std::env::var("CI").is_err(),
                "node is missing under CI=true"
            );
            return;
        };
        let want = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let node = std::fs::canonicalize(
            std::env::split_paths(&std::env::var_os("PATH").unwrap())
                .map(|d| d.join("node"))
                .find(|p| p.exists())
                .unwrap(),
        )
        .unwrap();
        let (major, minor) = libuv_version(node.to_str().unwrap()).expect("libuv version");
        assert!(
            want.starts_with(&format!("{major}.{minor}.")),
            "{want} vs {major}.{minor}"
        );
    }
}
