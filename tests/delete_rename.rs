//! Delete and rename rules that differ between Windows and POSIX (SEMANTICS.md §2–3),
//! through the mount with the Python control-API client.
#![cfg(target_os = "linux")] // Mounts through Linux FUSE (/dev/fuse, fusermount3, /proc).

mod common;

use common::{Mount, py_client as py};

/// FileRenameInformation onto the file's own name succeeds, with and without replace,
/// and leaves the file as it was.
#[test]
fn rename_by_handle_onto_its_own_name_succeeds() {
    require_fuse!();
    let m = Mount::with_setup(&[], |b| std::fs::write(b.join("same"), b"data").unwrap());
    let got = py(
        &m,
        "f = sc.open(os.path.join(root, 'same'), 'r+b', access=ALL, share=ALL)\n\
         print(err(lambda: sc.rename(f, 'same')), err(lambda: sc.rename(f, 'same', replace=True)))\n\
         f.close()\n\
         print(open(os.path.join(root, 'same'), 'rb').read())",
    );
    assert_eq!(got, "OK OK\nb'data'");
}

/// A delete-on-close create of a read-only file fails with CANNOT_DELETE (EACCES) and
/// creates nothing; the same create without delete-on-close works.
#[test]
fn delete_on_close_create_of_a_read_only_file_creates_nothing() {
    require_fuse!();
    let m = Mount::new(&[]);
    let got = py(
        &m,
        "p = os.path.join(root, 'ro')\n\
         print(err(lambda: sc.open_fd(p, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o444, access=ALL, share=ALL, delete_on_close=True)))\n\
         print(os.path.exists(p))\n\
         fd = sc.open_fd(p, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o444, access=ALL, share=ALL)\n\
         os.close(fd)\n\
         print(oct(os.stat(p).st_mode & 0o777))",
    );
    assert_eq!(got, "EACCES\nFalse\n0o444");
}

/// FileRenameInformation of a directory onto a closed file: with replace the directory
/// takes the name and the file is gone (Wine `test_file_rename_information`); without
/// replace, EEXIST. (rename(2) cannot ask for it: the kernel refuses a directory over
/// a file with ENOTDIR before the daemon sees the request.)
#[test]
fn a_directory_replaces_a_closed_file_by_handle() {
    require_fuse!();
    let m = Mount::with_setup(&[], |b| {
        std::fs::create_dir(b.join("dir")).unwrap();
        std::fs::write(b.join("dir").join("inside"), b"kept").unwrap();
        std::fs::write(b.join("file"), b"replaced").unwrap();
    });
    let got = py(
        &m,
        "fd = sc.open_fd(os.path.join(root, 'dir'), os.O_RDONLY | os.O_DIRECTORY, access=ALL, share=ALL)\n\
         print(err(lambda: sc.rename(fd, 'file')), err(lambda: sc.rename(fd, 'file', replace=True)))\n\
         os.close(fd)\n\
         print(sorted(os.listdir(root)), open(os.path.join(root, 'file', 'inside')).read())",
    );
    assert_eq!(got, "EEXIST OK\n['file'] kept");
    let backing: Vec<_> = std::fs::read_dir(&m.backing)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(backing, vec![std::ffi::OsString::from("file")]);
}

/// `--names windows`: a rename by handle without replace onto a name that exists in
/// another case fails with EEXIST, and both files stay as they were.
#[test]
fn rename_by_handle_without_replace_onto_another_case_is_eexist() {
    require_fuse!();
    let m = Mount::with_setup(&["-o", "names=windows"], |b| {
        std::fs::write(b.join("Target.txt"), b"target").unwrap();
        std::fs::write(b.join("source.txt"), b"source").unwrap();
    });
    let got = py(
        &m,
        "f = sc.open(os.path.join(root, 'source.txt'), 'rb', access=ALL, share=ALL)\n\
         print(err(lambda: sc.rename(f, 'TARGET.TXT')))\n\
         f.close()\n\
         print(sorted(os.listdir(root)))",
    );
    assert_eq!(got, "EEXIST\n['Target.txt', 'source.txt']");
}
