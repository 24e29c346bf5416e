//! Front-ends translate an OS's filesystem protocol into calls on the core and the
//! backing layer. Linux and macOS: FUSE through `fuser`.

#[cfg(unix)]
pub mod fuse;
