//! Built-in profiles: the share set a program that cannot say one gets.

use std::fmt;
use std::str::FromStr;

use crate::core::{Classes, DeleteMode};

/// A named rule from an open's access to its share set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Profile {
    /// What the Microsoft C runtime gives most programs (`_wsopen` with `_SH_DENYNO`):
    /// share read and write, never delete. A file any process holds open cannot be
    /// deleted or renamed.
    #[default]
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
    pub const ALL: [Profile; 3] = [Profile::Windows, Profile::Strict, Profile::Posix];

    /// The profile's name.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Windows => "windows",
            Profile::Strict => "strict",
            Profile::Posix => "posix",
        }
    }

    /// The share set for a file open with `access`. Directory handles opened for listing
    /// share everything, as `FindFirstFile`'s do, so `ls` never blocks `rm -r`.
    pub fn share_for(self, access: Classes, is_dir: bool) -> Classes {
        if is_dir {
            return Classes::ALL;
        }
        match self {
            Profile::Windows => Classes::READ_WRITE,
            Profile::Strict if access.contains(Classes::WRITE) => Classes::NONE,
            Profile::Strict => Classes::READ,
            Profile::Posix => Classes::ALL,
        }
    }

    /// The delete mode this profile implies when the mount does not set one.
    pub fn default_delete_mode(self) -> DeleteMode {
        match self {
            Profile::Posix => DeleteMode::Posix,
            Profile::Windows | Profile::Strict => DeleteMode::Classic,
        }
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
            Profile::Windows.share_for(Classes::READ, false),
            Classes::READ_WRITE
        );
        assert_eq!(
            Profile::Windows.share_for(Classes::WRITE, false),
            Classes::READ_WRITE
        );
    }

    #[test]
    fn strict_profile_readers_share_read_writers_nothing() {
        assert_eq!(
            Profile::Strict.share_for(Classes::READ, false),
            Classes::READ
        );
        assert_eq!(
            Profile::Strict.share_for(Classes::READ_WRITE, false),
            Classes::NONE
        );
    }

    #[test]
    fn directories_share_everything_in_every_profile() {
        for p in Profile::ALL {
            assert_eq!(p.share_for(Classes::READ, true), Classes::ALL);
        }
    }

    #[test]
    fn unknown_profile_lists_the_known_ones() {
        let err = "nope".parse::<Profile>().unwrap_err();
        assert!(err.contains("windows, strict, posix"), "{err}");
    }
}
