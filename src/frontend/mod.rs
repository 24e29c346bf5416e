//! Front-ends translate an OS's filesystem protocol into calls on the core and the
//! backing layer. Linux and macOS: FUSE through `fuser`. Windows: WinFsp.

#[cfg(unix)]
pub mod fuse;
pub mod winfsp;
