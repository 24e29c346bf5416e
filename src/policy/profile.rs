//! Built-in profiles: the share set a program that cannot say one gets.

use std::fmt;
use std::str::FromStr;

use super::Runtime;
use crate::core::{Classes, DeleteMode};

/// A named rule from an open's access to its share set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Profile {
    /// Each process gets the row of its own language runtime (the runtime table,
    /// [`crate::policy::runtime`]): share set, delete and rename mode, read-only rule and
    /// errno dialect, as that runtime's ordinary file API gives them on Windows.
    #[default]
    Auto,
    /// What the Microsoft C runtime gives most programs (`_wsopen` with `_SH_DENYNO`):
    /// share read and write, never delete. A file any process holds open cannot be
    /// deleted or renamed.
    Windows,
    /// .NET's `File.OpenRead` (`FileShare.Read`) and `File.OpenWrite` / `File.Create`
    /// (`FileShare.None`): readers share read, writers share nothing.
    Strict,
    /// Share everything and delete the POSIX way: a plain passthrough that still keeps
    /// the open registry.
    Posix,
}

impl Profile {
    /// Every built-in profile, for error messages and `--help`.
    pub const ALL: [Profile; 4] = [
        Profile::Auto,
        Profile::Windows,
        Profile::Strict,
        Profile::Posix,
    ];

    /// The profile's name.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Auto => "auto",
            Profile::Windows => "windows",
            Profile::Strict => "strict",
            Profile::Posix => "posix",
        }
    }

    /// The share set for a file open with `access` by a process of `runtime`. Directory
    /// handles opened for listing share everything, as `FindFirstFile`'s do, so `ls`
    /// never blocks `rm -r`.
    pub fn share_for(self, access: Classes, is_dir: bool, runtime: Runtime) -> Classes {
        if is_dir {
            return Classes::ALL;
        }
        match self {
            Profile::Auto => runtime.row().share,
            Profile::Windows => Classes::READ_WRITE,
            Profile::Strict if access.contains(Classes::WRITE) => Classes::NONE,
            Profile::Strict => Classes::READ,
            Profile::Posix => Classes::ALL,
        }
    }

    /// The delete mode this profile implies for `runtime` when the mount does not set
    /// one.
    pub fn default_delete_mode(self, runtime: Runtime) -> DeleteMode {
        match self {
            Profile::Auto => runtime.row().delete,
            Profile::Posix => DeleteMode::Posix,
            Profile::Windows | Profile::Strict => DeleteMode::Classic,
        }
    }

    /// The rename mode (rules for an existing target) for `runtime`: the delete mode,
    /// except under `auto`, where the runtime's rename call decides.
    pub fn default_rename_mode(self, runtime: Runtime) -> DeleteMode {
        match self {
            Profile::Auto => runtime.row().rename,
            other => other.default_delete_mode(runtime),
        }
    }

    /// Whether the profile's choices depend on the caller's runtime.
    pub fn uses_runtime(self) -> bool {
        self == Profile::Auto
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Profile {
    type Err = String;

    fn from_str(s: &str) -> Result<Profile, String> {
        Profile::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Profile::ALL.iter().map(|p| p.name()).collect();
                format!(
                    "unknown profile '{s}'; known profiles: {}",
                    names.join(", ")
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_profile_shares_read_write_never_delete() {
        assert_eq!(
            Profile::Windows.share_for(Classes::READ, false, Runtime::C),
            Classes::READ_WRITE
        );
        assert_eq!(
            Profile::Windows.share_for(Classes::WRITE, false, Runtime::C),
            Classes::READ_WRITE
        );
    }

    #[test]
    fn strict_profile_readers_share_read_writers_nothing() {
        assert_eq!(
            Profile::Strict.share_for(Classes::READ, false, Runtime::C),
            Classes::READ
        );
        assert_eq!(
            Profile::Strict.share_for(Classes::READ_WRITE, false, Runtime::C),
            Classes::NONE
        );
    }

    #[test]
    fn directories_share_everything_in_every_profile() {
        for p in Profile::ALL {
            assert_eq!(
                p.share_for(Classes::READ, true, Runtime::Rust),
                Classes::ALL
            );
        }
    }

    #[test]
    fn auto_gives_each_runtime_its_row() {
        assert_eq!(
            Profile::Auto.share_for(Classes::READ, false, Runtime::Rust),
            Classes::ALL
        );
        assert_eq!(
            Profile::Auto.share_for(Classes::READ, false, Runtime::Python),
            Classes::READ_WRITE
        );
        assert_eq!(
            Profile::Auto.default_delete_mode(Runtime::Python),
            DeleteMode::Posix
        );
        assert_eq!(
            Profile::Auto.default_rename_mode(Runtime::Python),
            DeleteMode::Classic
        );
        assert_eq!(
            Profile::Windows.default_delete_mode(Runtime::Rust),
            DeleteMode::Classic
        );
    }

    #[test]
    fn unknown_profile_lists_the_known_ones() {
        let err = "nope".parse::<Profile>().unwrap_err();
        assert!(err.contains("auto, windows, strict, posix"), "{err}");
    }
}
