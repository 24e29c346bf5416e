//! What the front-end reports about the core's state: conflict events (with both
//! parties) and the lock table rows.

use super::{FsError, SharefsFs};
use crate::control::conflicts::Conflict;
use crate::control::table::{self, Row};
use crate::core::Owner;
use crate::policy::Errnos;

/// The symbolic name of an errno (`EBUSY`), for logs and the conflict log.
pub(super) fn errno_name(code: i32) -> String {
    let names: &[(i32, &str)] = &[
        (libc::EBUSY, "EBUSY"),
        (libc::EACCES, "EACCES"),
        (libc::EAGAIN, "EAGAIN"),
        (libc::ENOTEMPTY, "ENOTEMPTY"),
        (libc::EINVAL, "EINVAL"),
        (libc::EEXIST, "EEXIST"),
        (libc::EIO, "EIO"),
        (libc::EDEADLK, "EDEADLK"),
        (libc::EINTR, "EINTR"),
    ];
    names
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, n)| n.to_string())
        .unwrap_or_else(|| format!("errno{code}"))
}

impl SharefsFs {
    /// Records a refusal by the core: one structured event naming both parties (log
    /// target `sharefs::conflict`) and one entry in the conflict log. Other errors pass
    /// through untouched.
    pub(super) fn refused(
        &self,
        op: &str,
        path: &str,
        owner: &Owner,
        asked: &str,
        e: FsError,
    ) -> FsError {
        let errnos = match &e {
            FsError::Denied(err) => self.admission.errnos_for(op, path, owner, err),
            FsError::Io(_) => Errnos::default(),
        };
        self.refused_with(errnos, op, path, owner, asked, e)
    }

    /// [`SharefsFs::refused`] with the errnos already chosen (by the policy decision of
    /// the refused operation): a refusal whose errno differs from the mount's default
    /// comes back as that errno.
    pub(super) fn refused_with(
        &self,
        errnos: Errnos,
        op: &str,
        path: &str,
        owner: &Owner,
        asked: &str,
        e: FsError,
    ) -> FsError {
        let FsError::Denied(err) = &e else {
            return e;
        };
        let errno = e.code_in(errnos);
        let converted = errno != e.code(self.cfg.sharing_errno);
        let conflict = self.conflicts.record(Conflict::refusal(
            op,
            path,
            owner,
            asked,
            err,
            (errno, errno_name(errno)),
        ));
        let holders: Vec<String> = conflict
            .holders
            .iter()
            .map(|h| {
                format!(
                    "pid={} comm={} {} since {}",
                    h.pid, h.comm, h.holds, h.since
                )
            })
            .collect();
        tracing::info!(
            target: "sharefs::conflict",
            seq = conflict.seq,
            op,
            path,
            pid = owner.pid,
            comm = %owner.comm,
            uid = owner.uid,
            runtime = owner.runtime,
            asked,
            kind = err.kind(),
            errno = %conflict.errno_name,
            holders = ?holders,
            "refused: {err}"
        );
        if converted {
            return FsError::errno(errno);
        }
        e
    }

    /// The lock table: one row per program handle (implicit opens are momentary and
    /// not shown) and per delete-pending file, from one consistent core snapshot.
    /// Returns the rows and their raw (unescaped) paths.
    pub(super) fn lock_rows(&self) -> (Vec<Row>, Vec<Vec<u8>>) {
        let inodes = &self.backing.inodes;
        table::rows_of(&self.core.table(), |key| {
            inodes.by_key(key).map(|i| inodes.path_bytes_of(i.node))
        })
    }
}
