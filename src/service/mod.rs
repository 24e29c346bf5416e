//! The protocol-neutral service layer between the front-ends and the semantics core
//! (docs/architecture.md): what a request means for the policy, the caller and the
//! runtime table, with plain types only. Nothing here names fuser's or WinFsp's request
//! and reply types, so its operations can be unit-tested without a mount.
//!
//! - [`admission`]: who is asking ([`Caller`]) and what the live policy grants them: the
//!   decision of one open, unlink, rmdir or rename, the modes of an open with its
//!   control-API intent, and the errnos a refusal is reported in.
//! - [`process`]: thread id → process (`/proc` on Linux, libproc on macOS), and whether a
//!   process still reaches an inode.
//! - [`runtime_probe`]: which language runtime a process runs, for the runtime table.

pub mod admission;
pub mod process;
pub mod runtime_probe;

pub use admission::{Admission, Grant, OpenModes};

/// Who sent a request, as every front-end can say it: the calling thread (FUSE's
/// header carries the thread id; on macOS and WinFsp it is the process id) and the
/// credentials it acts with. The process behind the thread is resolved by
/// [`process::ProcessResolver`], lazily.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Caller {
    /// Thread id (0: the kernel itself, no process behind it).
    pub tid: u32,
    /// User id of the request.
    pub uid: u32,
    /// Group id of the request.
    pub gid: u32,
}
