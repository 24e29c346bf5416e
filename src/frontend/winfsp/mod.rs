//! The Windows front-end: a WinFsp file system that mirrors a backing directory and
//! registers every open and delete disposition with the same [`crate::core::Core`] the
//! FUSE front-end uses, so the policy, the lock table, the conflict log and
//! `sharefs locks` behave the same on Windows (docs/windows.md).
//!
//! WinFsp's kernel driver already enforces share access, delete pending and byte-range
//! locks natively; docs/architecture.md ("Windows") lists which rules Windows enforces
//! and which the core adds, and the front-end logs every disagreement between the two
//! (target `sharefs::agreement`).
//!
//! - [`filetime`], [`tables`]: FILETIME ↔ Unix time and the NT ↔ core translation
//!   tables; platform-free, so their tests run on every host.
//! - `nt` (Windows only): every Windows API call and all of this front-end's `unsafe`.
//! - `fs` (Windows only): the `FileSystemContext`: translates, asks the core, replies.
//! - `host` (Windows only): `sharefs mount` on Windows.

pub mod filetime;
pub mod tables;

#[cfg(windows)]
mod fs;
#[cfg(windows)]
mod host;
#[cfg(windows)]
mod nt;

#[cfg(windows)]
pub use host::mount;
