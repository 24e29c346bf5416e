//! The policy's part in serving a request (docs/policy.md): one decision per open,
//! unlink, rmdir and rename, from one whole policy; the errno of a sharing violation by
//! the caller's rule; `.sharefs/policy` (status and `reload`).

use std::sync::Arc;

use fuser::Request;

use super::{FsError, SharefsFs};
use crate::control::OpenOptions;
use crate::core::{Classes, Owner, SemanticError};
use crate::policy::{Decision, Identity, OpenKinds, Query};

/// What the policy grants an open besides its share set and flags: carried from the
/// decision to the core's request and to the refusal's errno.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Grant {
    /// A backup-reader open: past share modes, blocking nobody.
    pub backup: bool,
    /// errno of a sharing violation for this open.
    pub errno: i32,
}

impl Default for Grant {
    fn default() -> Self {
        Grant {
            backup: false,
            errno: libc::EBUSY,
        }
    }
}

/// Access, share, options and grant of one open.
pub(super) type Modes = (Classes, Classes, OpenOptions, Grant);

impl SharefsFs {
    /// The current policy's decision for thread `tid` (with `uid`/`gid`) doing `kinds`
    /// on `path` (computed only when a rule matches on paths). The process is looked up
    /// only when a rule matches on it; one that has exited by then gets the default, and
    /// that is logged. Backup-reader decisions are logged.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn policy_decision(
        &self,
        tid: u32,
        uid: u32,
        gid: u32,
        path_of: &dyn Fn() -> Arc<str>,
        kinds: OpenKinds,
        access: Classes,
        is_dir: bool,
    ) -> Decision {
        let policy = self.cfg.policy.current();
        let path = policy.uses_path().then(path_of);
        let process = if policy.uses_process() || policy.uses_groups() {
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
            kinds,
            access,
            is_dir,
            uid,
            gid,
            identity,
        };
        let d = policy.decide(&q);
        if matches!(identity, Identity::Exited) {
            tracing::info!(
                target: "sharefs::policy",
                tid,
                uid,
                open = %kinds,
                "the process exited before it could be identified: default profile {}",
                policy.default_profile_name()
            );
        }
        if d.backup {
            let owner = self.procs.owner(tid, uid, gid);
            let shown = path.clone().unwrap_or_else(path_of);
            tracing::info!(
                target: "sharefs::policy",
                pid = owner.pid,
                tid,
                comm = %owner.comm,
                uid,
                path = %shown,
                rule = %policy.describe_match(&d),
                "backup open: reads past share modes and blocks nobody"
            );
        }
        d
    }

    /// Access, share, options and grant of an open from its flags (or intent-given
    /// access) and the policy: the intent's share wins over the policy's, and the
    /// policy's flags are added to the intent's.
    pub(super) fn policy_modes(
        &self,
        req: &Request,
        node: u64,
        flags: i32,
        is_dir: bool,
        access: Classes,
        intent: Option<(Option<Classes>, OpenOptions)>,
    ) -> Modes {
        let created = flags & libc::O_CREAT != 0;
        let d = self.policy_decision(
            req.pid(),
            req.uid(),
            req.gid(),
            &|| self.path_of(node),
            OpenKinds::of_open(access, created),
            access,
            is_dir,
        );
        let (share, mut options) = match intent {
            Some((share, options)) => (share.unwrap_or(d.share), options),
            None => (d.share, OpenOptions::default()),
        };
        options.write_through |= d.write_through;
        options.no_buffering |= d.no_buffering;
        options.atomic |= d.atomic;
        let grant = Grant {
            backup: d.backup && !options.delete_on_close,
            errno: d.errno.errno(),
        };
        (access, share, options, grant)
    }

    /// The decision for unlink, rmdir or rename of `path` (delete mode, errno).
    pub(super) fn delete_decision(&self, req: &Request, path: &Arc<str>, is_dir: bool) -> Decision {
        self.policy_decision(
            req.pid(),
            req.uid(),
            req.gid(),
            &|| path.clone(),
            OpenKinds::DELETE,
            Classes::DELETE,
            is_dir,
        )
    }

    /// errno of a refusal reported without a decision at hand: the caller's rule for
    /// the operation decides it for sharing violations; other refusals keep theirs.
    pub(super) fn sharing_errno_for(
        &self,
        op: &str,
        path: &str,
        owner: &Owner,
        e: &FsError,
    ) -> i32 {
        let default = self.cfg.sharing_errno;
        if !matches!(e, FsError::Denied(SemanticError::SharingViolation { .. }))
            || !self.cfg.policy.current().sets_errno()
        {
            return default;
        }
        let (kinds, access) = match op {
            "unlink" | "rmdir" | "rename" | "rename_by_handle" | "set_delete" => {
                (OpenKinds::DELETE, Classes::DELETE)
            }
            "truncate" | "write" => (OpenKinds::WRITE, Classes::WRITE),
            "read" => (OpenKinds::READ, Classes::READ),
            _ => (OpenKinds::READ | OpenKinds::WRITE, Classes::READ_WRITE),
        };
        self.policy_decision(
            owner.tid,
            owner.uid,
            owner.gid,
            &|| Arc::from(path),
            kinds,
            access,
            false,
        )
        .errno
        .errno()
    }

    /// `.sharefs/policy` read: the policy file, load time, rule count, reload status.
    pub(super) fn render_policy(&self) -> String {
        self.cfg.policy.render_status()
    }

    /// `.sharefs/policy` write: `reload` reloads the policy file; a malformed file (or
    /// any other text) fails with EINVAL and the old policy stays.
    pub(super) fn policy_write(&self, req: &Request, data: &[u8]) -> Result<u32, FsError> {
        let text = String::from_utf8_lossy(data);
        if text.trim() != "reload" {
            tracing::warn!(
                target: "sharefs::policy",
                tid = req.pid(),
                "unknown policy command {:?} (write \"reload\")",
                text.chars().take(64).collect::<String>()
            );
            return Err(FsError::errno(libc::EINVAL));
        }
        tracing::info!(target: "sharefs::policy", tid = req.pid(), uid = req.uid(), "policy reload asked");
        match self.cfg.policy.reload() {
            Ok(_) => Ok(data.len() as u32),
            Err(_) => Err(FsError::errno(libc::EINVAL)),
        }
    }
}
