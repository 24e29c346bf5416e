//! Structural checks on the source tree.

use std::fs;
use std::path::{Path, PathBuf};

/// Words that would tie the semantics core to a platform or a front-end.
const FORBIDDEN: &[&str] = &["libc", "fuser", "winfsp", "std::os::"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// The semantics core (`src/core/`) imports nothing but `std`: no `libc`, no front-end
/// crate, no `std::os::*` (see the module documentation of `sharefs::core`). Comment
/// lines are ignored, so the rule may be written down there.
#[test]
fn core_is_platform_free() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let core = root.join("src").join("core");
    let mut files = Vec::new();
    rust_files(&core, &mut files);
    files.sort();
    assert!(
        files.iter().any(|f| f.ends_with("mod.rs")),
        "no src/core/mod.rs found under {}",
        core.display()
    );
    let mut violations = Vec::new();
    for file in &files {
        let text = fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for word in FORBIDDEN {
                if line.contains(word) {
                    violations.push(format!(
                        "{}:{}: uses `{word}`: {}",
                        file.strip_prefix(root).unwrap_or(file).display(),
                        n + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(
        violations.is_empty(),
        "the semantics core must stay platform-free:\n{}",
        violations.join("\n")
    );
}

/// The only files allowed to contain `unsafe` code: the syscall module of each platform.
const UNSAFE_HOMES: &[&str] = &["src/backing/sys.rs", "src/frontend/winfsp/nt.rs"];

/// `unsafe` lives in one syscall module per platform (Linux/macOS `backing/sys.rs`,
/// Windows `frontend/winfsp/nt.rs`), and every unsafe block or impl there has a
/// `// SAFETY:` comment in the lines just above it.
#[test]
fn unsafe_only_in_syscall_modules_with_safety_comments() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    files.sort();
    let mut violations = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(root).unwrap_or(file);
        let rel_str = rel.to_string_lossy().replace('\\', "/");
        let text = fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let lines: Vec<&str> = text.lines().collect();
        for (n, line) in lines.iter().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if !code.contains("unsafe") {
                continue;
            }
            if !UNSAFE_HOMES.contains(&rel_str.as_str()) {
                violations.push(format!(
                    "{rel_str}:{}: unsafe outside a syscall module",
                    n + 1
                ));
                continue;
            }
            // Declarations of foreign functions and `unsafe fn` signatures carry their
            // contract in docs; blocks and impls need a SAFETY line right above.
            let is_block = code.contains("unsafe {") || code.contains("unsafe impl");
            let documented = lines[n.saturating_sub(6)..n]
                .iter()
                .any(|l| l.contains("SAFETY:"));
            if is_block && !documented {
                violations.push(format!(
                    "{rel_str}:{}: unsafe without a SAFETY comment",
                    n + 1
                ));
            }
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}
