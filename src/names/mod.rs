//! Windows name semantics, platform-free (no FUSE here; docs/names.md):
//!
//! - [`fold`]: the case folding NTFS applies when it compares names (its upcase
//!   table, approximated by Rust's single-character upper-case mappings);
//! - [`rules`]: the names Win32 refuses (reserved device names, characters, trailing
//!   dots and spaces, lengths);
//! - [`index`]: a per-directory folded-name index (folded → stored spellings) and a
//!   cache of them keyed by directory and stamped with the directory's mtime/ctime;
//! - [`check`]: `sharefs check-names DIR`, the same rules over a tree without mounting.

// The index and the tree check work on byte names and serve the FUSE front-end; on
// Windows the OS compares and vets names itself.
#[cfg(unix)]
pub mod check;
pub mod fold;
#[cfg(unix)]
pub mod index;
pub mod rules;

pub use fold::{fold, fold_bytes};
#[cfg(unix)]
pub use index::{DirIndex, IndexCache, Resolved, Stamp};
pub use rules::{InvalidName, check_component, check_path_len};

/// How names are compared on a mount (`-o names=` / `--names`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NameMode {
    /// Exact bytes, as Linux does (the default).
    #[default]
    Posix,
    /// Case-insensitive, case-preserving, and Win32's name rules on creation.
    Windows,
}

impl std::str::FromStr for NameMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "posix" => Ok(NameMode::Posix),
            "windows" => Ok(NameMode::Windows),
            other => Err(format!(
                "unknown names mode '{other}'; use 'windows' or 'posix'"
            )),
        }
    }
}
