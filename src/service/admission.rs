//! Admission: what the live policy grants a caller for one open, unlink, rmdir or rename
//! (docs/policy.md), with the caller's process and runtime resolved only when the
//! policy's decision can depend on them. Front-ends ask here and never consult the policy
//! themselves. Tests: the unit tests below; tests/policy_mount.rs and tests/runtimes.rs
//! through a mount.

use std::sync::Arc;

use super::Caller;
use super::process::ProcessResolver;
use crate::control::OpenOptions;
use crate::core::{Classes, Owner, SemanticError};
use crate::policy::{Decision, Errnos, Identity, OpenKinds, PolicyHandle, Process, Query};

/// What the policy grants an open besides its share set and flags: carried from the
/// decision to the core's request and to the refusal's errno.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Grant {
    /// A backup-reader open: past share modes, blocking nobody.
    pub backup: bool,
    /// The errnos of a refusal of this open.
    pub errnos: Errnos,
}

/// Everything an open was granted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenModes {
    /// The classes the open holds.
    pub access: Classes,
    /// The classes it lets other opens hold.
    pub share: Classes,
    /// Per-handle options (from the intent, plus the policy's flags).
    pub options: OpenOptions,
    /// Backup and refusal errnos.
    pub grant: Grant,
}

/// What a control-API intent says about an open, for [`Admission::open_modes`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntentModes {
    /// The share set asked for (`None`: the policy's).
    pub share: Option<Classes>,
    /// Its options.
    pub options: OpenOptions,
}

/// One open, unlink, rmdir or rename to admit.
#[derive(Clone, Copy)]
pub struct Ask<'a> {
    /// Who asks.
    pub caller: Caller,
    /// The path relative to the mount root, computed only when a rule matches on paths.
    pub path_of: &'a dyn Fn() -> Arc<str>,
    /// Read, write, create, delete.
    pub kinds: OpenKinds,
    /// The access classes.
    pub access: Classes,
    /// A directory.
    pub is_dir: bool,
}

/// The live policy and the caller resolution it needs.
#[derive(Debug)]
pub struct Admission {
    policy: Arc<PolicyHandle>,
    procs: ProcessResolver,
}

impl Admission {
    /// Admission under `policy`.
    pub fn new(policy: Arc<PolicyHandle>) -> Admission {
        Admission::serving(policy, None)
    }

    /// Admission under `policy` for the daemon serving `mountpoint`.
    pub fn serving(policy: Arc<PolicyHandle>, mountpoint: Option<std::path::PathBuf>) -> Admission {
        Admission {
            policy,
            procs: ProcessResolver::serving(mountpoint),
        }
    }

    /// The live policy (status, reload).
    pub fn policy(&self) -> &PolicyHandle {
        &self.policy
    }

    /// The owner of a request, for the core's records and the conflict log.
    pub fn owner(&self, caller: Caller) -> Arc<Owner> {
        self.procs.owner(caller.tid, caller.uid, caller.gid)
    }

    /// The caller's process with its runtime (`None`: gone, or the kernel).
    pub fn identity(&self, caller: Caller) -> Option<Arc<Process>> {
        self.procs.identity(caller.tid)
    }

    /// The current policy's decision for `ask`. The process is looked up only when a
    /// rule or the runtime table can depend on it; one that has exited by then gets the
    /// default, and that is logged. Backup-reader decisions are logged.
    pub fn decide(&self, ask: Ask) -> Decision {
        let policy = self.policy.current();
        let path = policy.uses_path().then(ask.path_of);
        let tid = ask.caller.tid;
        let process = if policy.uses_process() || policy.uses_groups() || policy.uses_runtime() {
            self.procs.identity(tid)
        } else {
            None
        };
        let identity = match &process {
            Some(p) => Identity::Known(p),
            // tid 0: a request the kernel makes itself, no process behind it.
            None if policy.uses_process() && tid != 0 => Identity::Exited,
            None => Identity::Unneeded,
        };
        let q = Query {
            path: path.as_deref().unwrap_or(""),
            kinds: ask.kinds,
            access: ask.access,
            is_dir: ask.is_dir,
            uid: ask.caller.uid,
            gid: ask.caller.gid,
            identity,
        };
        let d = policy.decide(&q);
        if matches!(identity, Identity::Exited) {
            tracing::info!(
                target: "sharefs::policy",
                tid,
                uid = ask.caller.uid,
                open = %ask.kinds,
                "the process exited before it could be identified: default profile {}",
                policy.default_profile_name()
            );
        }
        if d.backup {
            let owner = self.owner(ask.caller);
            let shown = path.clone().unwrap_or_else(ask.path_of);
            tracing::info!(
                target: "sharefs::policy",
                pid = owner.pid,
                tid,
                comm = %owner.comm,
                uid = ask.caller.uid,
                path = %shown,
                rule = %policy.describe_match(&d),
                "backup open: reads past share modes and blocks nobody"
            );
        }
        d
    }

    /// Access, share, options and grant of an open holding `access` (from its flags or
    /// its intent), which creates the file or not: the intent's share wins over the
    /// policy's, and the policy's flags are added to the intent's.
    pub fn open_modes(
        &self,
        caller: Caller,
        path_of: &dyn Fn() -> Arc<str>,
        created: bool,
        is_dir: bool,
        access: Classes,
        intent: Option<IntentModes>,
    ) -> OpenModes {
        let d = self.decide(Ask {
            caller,
            path_of,
            kinds: OpenKinds::of_open(access, created),
            access,
            is_dir,
        });
        let (share, mut options) = match intent {
            Some(i) => (i.share.unwrap_or(d.share), i.options),
            None => (d.share, OpenOptions::default()),
        };
        options.write_through |= d.write_through;
        options.no_buffering |= d.no_buffering;
        options.atomic |= d.atomic;
        OpenModes {
            access,
            share,
            options,
            grant: Grant {
                backup: d.backup && !options.delete_on_close,
                errnos: d.errnos(),
            },
        }
    }

    /// The decision for unlink, rmdir or rename of `path` (delete and rename modes,
    /// read-only rule, errnos).
    pub fn delete_decision(&self, caller: Caller, path: &Arc<str>, is_dir: bool) -> Decision {
        self.decide(Ask {
            caller,
            path_of: &|| path.clone(),
            kinds: OpenKinds::DELETE,
            access: Classes::DELETE,
            is_dir,
        })
    }

    /// The errnos of a refusal reported without a decision at hand (truncate, a read in
    /// a locked range, a lock): the caller's rule or runtime for the operation decides.
    pub fn errnos_for(&self, op: &str, path: &str, owner: &Owner, e: &SemanticError) -> Errnos {
        let sets_errno = self.policy.current().sets_errno();
        let errno_class =
            matches!(e, SemanticError::SharingViolation { .. }) || e.is_access_denied();
        if !errno_class || !sets_errno {
            return Errnos::default();
        }
        let (kinds, access) = match op {
            "unlink" | "rmdir" | "rename" | "rename_by_handle" | "set_delete" => {
                (OpenKinds::DELETE, Classes::DELETE)
            }
            "truncate" | "write" => (OpenKinds::WRITE, Classes::WRITE),
            "read" => (OpenKinds::READ, Classes::READ),
            _ => (OpenKinds::READ | OpenKinds::WRITE, Classes::READ_WRITE),
        };
        let caller = Caller {
            tid: owner.tid,
            uid: owner.uid,
            gid: owner.gid,
        };
        self.decide(Ask {
            caller,
            path_of: &|| Arc::from(path),
            kinds,
            access,
            is_dir: false,
        })
        .errnos()
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use crate::policy::{ErrnoDialect, Profile};

    fn me() -> Caller {
        Caller {
            tid: std::process::id(),
            uid: 0,
            gid: 0,
        }
    }

    /// Under `auto` this test process (a Rust binary) gets Rust std's row: opens share
    /// delete, deletes and renames are POSIX, a sharing violation is EBUSY.
    #[test]
    fn auto_gives_this_rust_process_rusts_row() {
        let a = Admission::new(Arc::new(PolicyHandle::builtin(Profile::Auto, None)));
        let m = a.open_modes(me(), &|| Arc::from("f"), false, false, Classes::READ, None);
        assert_eq!(m.share, Classes::ALL);
        assert_eq!(m.grant.errnos.sharing_violation, ErrnoDialect::Ebusy);
        let d = a.delete_decision(me(), &Arc::from("f"), false);
        assert_eq!(d.delete, crate::core::DeleteMode::Posix);
        assert_eq!(d.rename, crate::core::DeleteMode::Posix);
        assert_eq!(d.runtime, crate::policy::Runtime::Rust);
        assert_eq!(a.owner(me()).runtime, "rust");
    }

    /// `windows` gives everyone the CRT share set and classic deletes, whatever runs.
    #[test]
    fn windows_ignores_the_runtime() {
        let a = Admission::new(Arc::new(PolicyHandle::builtin(Profile::Windows, None)));
        let m = a.open_modes(me(), &|| Arc::from("f"), false, false, Classes::READ, None);
        assert_eq!(m.share, Classes::READ_WRITE);
        assert_eq!(m.grant.errnos, Errnos::default());
        let d = a.delete_decision(me(), &Arc::from("f"), false);
        assert_eq!(d.delete, crate::core::DeleteMode::Classic);
    }

    /// An intent's share wins over the policy's; the policy's flags add to the intent's;
    /// a delete-on-close open is never a backup open.
    #[test]
    fn intent_share_wins_and_flags_add_up() {
        let a = Admission::new(Arc::new(PolicyHandle::builtin(Profile::Windows, None)));
        let options = OpenOptions {
            delete_on_close: true,
            ..OpenOptions::default()
        };
        let m = a.open_modes(
            me(),
            &|| Arc::from("f"),
            true,
            false,
            Classes::READ_WRITE | Classes::DELETE,
            Some(IntentModes {
                share: Some(Classes::NONE),
                options,
            }),
        );
        assert_eq!(m.share, Classes::NONE);
        assert!(m.options.delete_on_close);
        assert!(!m.grant.backup);
    }
}
