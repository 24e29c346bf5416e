//! The control interface programs that know sharefs use (docs/control-api.md): intents
//! for exact per-open modes, and the ioctl numbers for delete disposition and rename by
//! handle. Front-ends serve it; this module holds the protocol, independent of FUSE.

pub mod conflicts;
pub mod intent;
pub mod table;

pub use intent::{Intent, IntentError, IntentTable, OpenOptions};

/// Default name of the control directory at the mount root.
pub const DEFAULT_CONTROL_DIR: &str = ".sharefs";

/// `_IOW('s', 1, u32)`: set (1) or clear (0) delete pending through a handle.
pub const IOC_SET_DELETE: u32 = 0x4004_7301;
/// `_IOR('s', 2, u32)`: 1 while delete is pending.
pub const IOC_GET_DELETE: u32 = 0x8004_7302;
/// `_IOW('s', 3, struct { u32 replace; u8 target[4092]; })`: rename by handle.
pub const IOC_RENAME: u32 = 0x5000_7303;
/// Size of the rename ioctl's argument.
pub const RENAME_ARG_SIZE: usize = 4096;

#[cfg(test)]
mod tests {
    use super::*;

    /// The numbers follow Linux's `_IOC(dir, type, nr, size)` encoding.
    fn ioc(dir: u32, ty: u8, nr: u32, size: u32) -> u32 {
        (dir << 30) | (size << 16) | ((ty as u32) << 8) | nr
    }

    #[test]
    fn ioctl_numbers_match_their_encoding() {
        assert_eq!(IOC_SET_DELETE, ioc(1, b's', 1, 4));
        assert_eq!(IOC_GET_DELETE, ioc(2, b's', 2, 4));
        assert_eq!(IOC_RENAME, ioc(1, b's', 3, RENAME_ARG_SIZE as u32));
    }
}
