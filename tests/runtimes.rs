//! Each program gets the Windows of its own runtime (the `auto` profile, the default):
//! unmodified python3, node, java, Go and Rust programs on one mount, each asserted
//! against what RUNTIMES.md says Windows does for that runtime.
//!
//! This test binary is itself a Rust program: its own `std::fs` calls are Rust std's row.
#![cfg(target_os = "linux")] // Mounts through Linux FUSE; recognition reads /proc.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{Holder, Mount};

fn out(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn python(script: &str) -> String {
    let o = Command::new("python3")
        .arg("-c")
        .arg(script)
        .output()
        .unwrap();
    out(&o).trim().to_string()
}

/// A runtime the test needs: missing under `CI=true` fails (setup.sh installs it).
fn runtime(name: &str) -> Option<PathBuf> {
    common::tool(name)
}

fn node(script: &str) -> Option<String> {
    let node = runtime("node")?;
    let o = Command::new(node).arg("-e").arg(script).output().unwrap();
    Some(out(&o).trim().to_string())
}

/// A node process holding `path` open for reading (libuv: shares read, write, delete);
/// each line on its stdin makes it print what it reads through the handle.
fn node_holder(path: &Path) -> Option<Holder> {
    let node = runtime("node")?;
    let mut cmd = Command::new(node);
    cmd.arg("-e").arg(format!(
        "const fs = require('fs'); const fd = fs.openSync({:?}, 'r'); console.log('held');\n\
         process.stdin.on('data', () => {{ const b = Buffer.alloc(64); \
         const n = fs.readSync(fd, b, 0, 64, 0); console.log('read ' + b.toString('utf8', 0, n)); }});\n\
         process.stdin.on('end', () => process.exit(0));",
        path.to_str().unwrap()
    ));
    Some(Holder::spawn(cmd))
}

fn locks_json(m: &Mount) -> serde_json::Value {
    let text = fs::read_to_string(m.path(".sharefs/locks.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The runtimes the lock table shows for `path`'s holders.
fn runtimes_holding(m: &Mount, path: &str) -> Vec<String> {
    let v = locks_json(m);
    let rows = v
        .get("rows")
        .and_then(|r| r.as_array())
        .cloned()
        .or_else(|| v.as_array().cloned())
        .unwrap_or_default();
    let mut names: Vec<String> = rows
        .iter()
        .filter(|r| r["path"] == path && r["kind"] == "SHARE")
        .map(|r| r["runtime"].as_str().unwrap_or("").to_string())
        .collect();
    names.sort();
    names
}

/// RUNTIMES.md: libuv opens share delete, so a CPython `os.unlink` of a file that node
/// holds succeeds, and since `DeleteFileW` is a POSIX delete the name goes at once while
/// node's handle keeps reading.
#[test]
fn a_file_node_holds_can_be_deleted_by_python_and_node_keeps_reading() {
    require_fuse!();
    let m = Mount::new(&[]);
    fs::write(m.path("n.txt"), "node data").unwrap();
    let Some(mut h) = node_holder(&m.path("n.txt")) else {
        return;
    };
    // Node 20 bundles libuv 1.46: the row with classic deletes (RUNTIMES.md).
    let node_row = runtimes_holding(&m, "n.txt");
    assert!(
        node_row == ["node"] || node_row == ["node-classic"],
        "{node_row:?}"
    );
    let p = m.path("n.txt");
    assert_eq!(
        python(&format!("import os; os.unlink({p:?}); print('gone')")),
        "gone"
    );
    assert!(!p.exists(), "POSIX delete: the name goes at once");
    assert!(
        !fs::read_dir(&m.mnt)
            .unwrap()
            .any(|e| e.unwrap().file_name() == "n.txt")
    );
    h.send_line();
    assert_eq!(h.read_line(), "read node data");
    // The name is free again at once.
    fs::write(&p, "new").unwrap();
    h.release();
}

/// The other way round: CPython shares read and write only, so node's `fs.unlinkSync`
/// gets EBUSY (libuv's sharing violation) and CPython's own `os.unlink` a
/// PermissionError with errno EACCES (PC/errmap.h), and `rm` (a C program: the CRT row)
/// EACCES. The conflict log names both parties with their runtimes.
#[test]
fn a_file_python_holds_is_refused_in_each_deleters_own_errno() {
    require_fuse!();
    let m = Mount::new(&[]);
    fs::write(m.path("p.txt"), "x").unwrap();
    let p = m.path("p.txt");
    let h = Holder::open(&p, "r");
    assert_eq!(runtimes_holding(&m, "p.txt"), ["python"]);
    if let Some(o) = node(&format!(
        "try {{ require('fs').unlinkSync({p:?}); console.log('deleted'); }} catch (e) {{ console.log(e.code); }}"
    )) {
        assert_eq!(o, "EBUSY");
    }
    assert_eq!(
        python(&format!(
            "import os\ntry:\n    os.unlink({p:?})\nexcept PermissionError as e:\n    print('PermissionError', e.errno == 13)"
        )),
        "PermissionError True"
    );
    let rm = Command::new("rm").arg(&p).output().unwrap();
    assert!(out(&rm).contains("Permission denied"), "{}", out(&rm));
    // This process is Rust: std's remove_file sees EBUSY (ResourceBusy; on Windows
    // Uncategorized: neither is PermissionDenied).
    let e = fs::remove_file(&p).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EBUSY), "{e}");
    let conflicts = fs::read_to_string(m.path(".sharefs/conflicts")).unwrap();
    assert!(
        conflicts.contains("comm=rm runtime=c") && conflicts.contains("runtime=python uid="),
        "{conflicts}"
    );
    assert!(p.exists());
    h.release();
}

/// RUNTIMES.md, "read-only file on delete": CPython refuses (PermissionError), libuv,
/// Go and Rust std clear the attribute and delete.
#[test]
fn read_only_files_are_deleted_by_the_runtimes_that_clear_the_attribute() {
    require_fuse!();
    let m = Mount::new(&[]);
    let make = |name: &str| {
        let p = m.path(name);
        fs::write(&p, "ro").unwrap();
        Command::new("chmod").arg("444").arg(&p).status().unwrap();
        p
    };
    let py = make("py.txt");
    assert_eq!(
        python(&format!(
            "import os\ntry:\n    os.unlink({py:?})\nexcept PermissionError as e:\n    print('refused', e.errno)"
        )),
        "refused 13"
    );
    assert!(py.exists());
    let rs = make("rs.txt");
    fs::remove_file(&rs).expect("Rust std deletes a read-only file");
    assert!(!rs.exists());
    let nd = make("nd.txt");
    if let Some(o) = node(&format!(
        "require('fs').unlinkSync({nd:?}); console.log('ok')"
    )) {
        assert_eq!(o, "ok");
        assert!(!nd.exists());
    }
}

/// Rust std renames with POSIX semantics: onto a target that is open (sharing delete,
/// as Rust's own opens do) it succeeds; CPython's `os.replace` (MoveFileExW) onto an
/// open target is access denied.
#[test]
fn rename_onto_an_open_target_follows_the_renamers_runtime() {
    require_fuse!();
    let m = Mount::new(&[]);
    fs::write(m.path("target"), "old").unwrap();
    fs::write(m.path("a"), "from rust").unwrap();
    fs::write(m.path("b"), "from python").unwrap();
    let held = fs::File::open(m.path("target")).unwrap();
    let (a, b, t) = (m.path("a"), m.path("b"), m.path("target"));
    assert_eq!(
        python(&format!(
            "import os\ntry:\n    os.replace({b:?}, {t:?})\nexcept PermissionError as e:\n    print('refused', e.errno)"
        )),
        "refused 13"
    );
    fs::rename(&a, &t).expect("Rust's POSIX rename replaces an open target");
    assert_eq!(fs::read_to_string(&t).unwrap(), "from rust");
    drop(held);
}

/// java.nio (the default row for `java`, docs/policy.md) shares delete: a file a Java
/// program holds through `Files.newInputStream` can be deleted by Python; Java's own
/// `Files.delete` of a file Python holds is a FileSystemException, not an
/// AccessDeniedException (WindowsException.java).
#[test]
fn java_nio_shares_delete_and_reports_a_sharing_violation_as_such() {
    require_fuse!();
    let Some(java) = runtime("java") else {
        return;
    };
    let m = Mount::new(&[]);
    let src = m.root.path().join("Hold.java");
    fs::write(
        &src,
        r#"import java.nio.file.*;
public class Hold {
    public static void main(String[] a) throws Exception {
        Path p = Paths.get(a[1]);
        if (a[0].equals("hold")) {
            try (java.io.InputStream in = Files.newInputStream(p)) {
                System.out.println("held");
                System.in.read();
            }
        } else {
            try { Files.delete(p); System.out.println("deleted"); }
            catch (AccessDeniedException e) { System.out.println("AccessDenied"); }
            catch (FileSystemException e) { System.out.println("FileSystemException"); }
        }
    }
}
"#,
    )
    .unwrap();
    fs::write(m.path("j.txt"), "java").unwrap();
    let j = m.path("j.txt");
    let mut cmd = Command::new(&java);
    cmd.arg(&src).arg("hold").arg(&j);
    let h = Holder::spawn(cmd);
    assert_eq!(runtimes_holding(&m, "j.txt"), ["java"]);
    assert_eq!(
        python(&format!("import os; os.unlink({j:?}); print('gone')")),
        "gone"
    );
    h.release();
    fs::write(m.path("k.txt"), "py").unwrap();
    let k = m.path("k.txt");
    let py = Holder::open(&k, "r");
    let o = Command::new(&java)
        .arg(&src)
        .arg("delete")
        .arg(&k)
        .output()
        .unwrap();
    assert_eq!(out(&o).trim(), "FileSystemException");
    py.release();
}

/// A Go binary built here is recognised from its ELF sections: Go shares read and
/// write only (golang/go#32088 was not adopted), so Python cannot delete what it holds;
/// `os.Remove` clears the read-only attribute and deletes.
#[test]
fn go_programs_are_recognised_and_get_gos_row() {
    require_fuse!();
    let Some(go) = runtime("go") else {
        return;
    };
    let m = Mount::new(&[]);
    let dir = m.root.path().join("gosrc");
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join("main.go"),
        r#"package main

import (
	"bufio"
	"fmt"
	"os"
)

func main() {
	if os.Args[1] == "hold" {
		f, err := os.Open(os.Args[2])
		if err != nil {
			panic(err)
		}
		fmt.Println("held")
		bufio.NewReader(os.Stdin).ReadString('\n')
		f.Close()
		return
	}
	if err := os.Remove(os.Args[2]); err != nil {
		fmt.Println("error", err)
		return
	}
	fmt.Println("removed")
}
"#,
    )
    .unwrap();
    let bin = dir.join("goprog");
    let built = Command::new(go)
        .args(["build", "-o"])
        .arg(&bin)
        .arg("main.go")
        .current_dir(&dir)
        .env("GOCACHE", dir.join("cache"))
        .env("GO111MODULE", "off")
        .output()
        .unwrap();
    assert!(built.status.success(), "{}", out(&built));
    fs::write(m.path("g.txt"), "go").unwrap();
    let g = m.path("g.txt");
    let mut cmd = Command::new(&bin);
    cmd.arg("hold").arg(&g);
    let h = Holder::spawn(cmd);
    assert_eq!(runtimes_holding(&m, "g.txt"), ["go"]);
    assert!(
        python(&format!(
            "import os\ntry:\n    os.unlink({g:?})\nexcept PermissionError:\n    print('refused')"
        ))
        .contains("refused")
    );
    h.release();
    fs::write(m.path("ro.txt"), "ro").unwrap();
    Command::new("chmod")
        .arg("444")
        .arg(m.path("ro.txt"))
        .status()
        .unwrap();
    let o = Command::new(&bin)
        .arg("rm")
        .arg(m.path("ro.txt"))
        .output()
        .unwrap();
    assert_eq!(out(&o).trim(), "removed");
}

/// A stripped Rust binary has no `.comment` left: it falls back to the C row, as a
/// C program would (RUNTIMES.md: the Rust heuristic is strippable). So does one that
/// runs from the mount.
#[test]
fn a_stripped_rust_binary_falls_back_to_the_c_row() {
    require_fuse!();
    let Some(rustc) = runtime("rustc") else {
        return;
    };
    let m = Mount::new(&[]);
    let dir = m.root.path().join("rs");
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join("hold.rs"),
        "fn main() { let p = std::env::args().nth(1).unwrap(); let _f = std::fs::File::open(p).unwrap(); println!(\"held\"); let mut s = String::new(); std::io::stdin().read_line(&mut s).unwrap(); }",
    )
    .unwrap();
    for (name, strip) in [("plain", "none"), ("stripped", "symbols")] {
        let built = Command::new(&rustc)
            .arg("-O")
            .arg(format!("-Cstrip={strip}"))
            .arg("-o")
            .arg(dir.join(name))
            .arg(dir.join("hold.rs"))
            .output()
            .unwrap();
        assert!(built.status.success(), "{}", out(&built));
    }
    let stripped_comment = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "objcopy --remove-section .comment {0} 2>/dev/null || strip -R .comment {0}",
            dir.join("stripped").display()
        ))
        .status()
        .unwrap();
    assert!(stripped_comment.success());
    fs::write(m.path("r.txt"), "r").unwrap();
    // The same Rust binary run from the mount itself: the daemon never reads a file
    // through its own mount (a worker would wait on another), so it is the C row.
    fs::copy(dir.join("plain"), m.path("on-mount")).unwrap();
    let mut on_mount = Command::new(m.path("on-mount"));
    on_mount.arg(m.path("r.txt"));
    let h = Holder::spawn(on_mount);
    assert_eq!(runtimes_holding(&m, "r.txt"), ["c"]);
    h.release();
    for (name, want) in [("plain", "rust"), ("stripped", "c")] {
        let mut cmd = Command::new(dir.join(name));
        cmd.arg(m.path("r.txt"));
        let h = Holder::spawn(cmd);
        assert_eq!(runtimes_holding(&m, "r.txt"), [want], "{name}");
        h.release();
    }
}
