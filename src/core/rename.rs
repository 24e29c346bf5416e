//! The rename rules (SEMANTICS.md §3; smbtorture `raw/rename.c`, `smb2/rename.c`; Wine
//! `dlls/kernel32/tests/file.c: test_MoveFileA`, `dlls/ntdll/tests/file.c:
//! test_file_rename_information`).
//!
//! A rename by path is an implicit open of the source with delete access (so the sharing
//! rule applies and attribute-only opens never block it), followed by checks on the
//! parents and on an existing target.

use std::sync::Arc;

use super::access::{Classes, OpenRecord, Owner};
use super::error::SemanticError;
use super::{Core, DeleteMode, FileFacts, FileKey, HandleId};

/// An existing file at the rename's destination.
#[derive(Clone, Copy, Debug)]
pub struct RenameTarget {
    /// Its identity.
    pub key: FileKey,
    /// It is a directory.
    pub is_dir: bool,
    /// Its attributes.
    pub facts: FileFacts,
}

/// One rename, as the front-end sees it.
#[derive(Clone, Debug)]
pub struct RenameRequest {
    /// The file being renamed.
    pub source: FileKey,
    /// Directory the source is in.
    pub source_parent: FileKey,
    /// Directory the name goes to.
    pub target_parent: FileKey,
    /// The file already at the destination, if any.
    pub target: Option<RenameTarget>,
    /// RENAME_EXCHANGE: both names are sources.
    pub exchange: bool,
    /// Opens of files below the source directory (the front-end knows the tree; the core
    /// only knows identities). Any of them refuses a classic rename.
    pub open_descendants: Vec<OpenRecord>,
    /// Classic Windows rules or POSIX semantics (FILE_RENAME_POSIX_SEMANTICS).
    pub mode: DeleteMode,
    /// Rename through this open handle (it needs delete access) instead of by path.
    pub source_handle: Option<HandleId>,
    /// Who asks.
    pub owner: Arc<Owner>,
    /// Source path, for the implicit open's record.
    pub path: Arc<str>,
}

/// The implicit opens a granted rename holds until [`Core::finish_rename`].
#[derive(Debug)]
#[must_use = "a rename ticket must be finished, or the implicit opens stay registered"]
pub struct RenameTicket {
    /// The source's implicit delete open (`None` for a rename by handle).
    source: (FileKey, Option<HandleId>),
    target: Option<(FileKey, HandleId)>,
    /// The target is replaced while other handles keep it open (POSIX semantics only):
    /// it becomes delete-pending with its name gone.
    target_stays_open: bool,
}

impl Core {
    /// Decides a rename and registers its implicit opens.
    pub fn begin_rename(&self, req: &RenameRequest) -> Result<RenameTicket, SemanticError> {
        // Parent rule (SEMANTICS.md §3): a parent directory open with delete access, or
        // with data access and share-none, blocks renaming its children.
        self.check_parent(req.source_parent)?;
        if req.target_parent != req.source_parent {
            self.check_parent(req.target_parent)?;
        }
        let source = match req.source_handle {
            // FileRenameInformation through a handle: that handle's delete access is what
            // counts; its own share set does not (every other open was admitted against
            // it, so they all share delete).
            Some(handle) => {
                self.check_rename_handle(req.source, handle)?;
                None
            }
            None => Some(self.begin_implicit(
                req.source,
                Classes::DELETE,
                req.owner.clone(),
                req.path.clone(),
            )?),
        };
        let undo_source = |e: SemanticError| {
            if let Some(h) = source {
                self.end_implicit(req.source, h);
            }
            e
        };
        if req.mode == DeleteMode::Classic && !req.open_descendants.is_empty() {
            // "Renaming a directory that has any open file below it is access denied."
            return Err(undo_source(SemanticError::AccessDenied {
                reason: "directory has open files below it",
                holders: req.open_descendants.clone(),
            }));
        }
        let Some(target) = req.target.filter(|t| t.key != req.source) else {
            return Ok(RenameTicket {
                source: (req.source, source),
                target: None,
                target_stays_open: false,
            });
        };
        let (target_handle, target_stays_open) =
            self.admit_target(req, &target).map_err(undo_source)?;
        Ok(RenameTicket {
            source: (req.source, source),
            target: target_handle.map(|h| (target.key, h)),
            target_stays_open,
        })
    }

    fn check_rename_handle(&self, key: FileKey, handle: HandleId) -> Result<(), SemanticError> {
        let record = self
            .record(key, handle)
            .ok_or(SemanticError::UnknownHandle)?;
        if !record.access.contains(Classes::DELETE) {
            return Err(SemanticError::AccessDenied {
                reason: "rename by handle needs delete access",
                holders: Vec::new(),
            });
        }
        if self.delete_state(key).pending {
            return Err(SemanticError::DeletePending);
        }
        Ok(())
    }

    fn check_parent(&self, parent: FileKey) -> Result<(), SemanticError> {
        let c = self.counters(parent);
        if c.holding[Classes::index_of(Classes::DELETE)] == 0 && c.exclusive == 0 {
            return Ok(());
        }
        let holders: Vec<OpenRecord> = self
            .opens_of(parent)
            .into_iter()
            .filter(|r| {
                r.participates()
                    && (r.access.contains(Classes::DELETE)
                        || (r.share.is_empty() && r.access.intersects(Classes::READ_WRITE)))
            })
            .collect();
        Err(SemanticError::SharingViolation {
            conflict: super::SharingConflict::HeldNotShared(Classes::DELETE),
            holders,
        })
    }

    /// The destination rules. Classic: replacing needs a closed, non-read-only regular
    /// file (else access denied). POSIX: the target may stay open if every open of it
    /// shares delete. RENAME_EXCHANGE makes the target a second source.
    fn admit_target(
        &self,
        req: &RenameRequest,
        target: &RenameTarget,
    ) -> Result<(Option<HandleId>, bool), SemanticError> {
        let implicit_delete = || {
            self.begin_implicit(
                target.key,
                Classes::DELETE,
                req.owner.clone(),
                req.path.clone(),
            )
        };
        if req.exchange {
            return Ok((Some(implicit_delete()?), false));
        }
        if target.facts.readonly && !target.is_dir {
            return Err(SemanticError::AccessDenied {
                reason: "rename target is read-only",
                holders: Vec::new(),
            });
        }
        match req.mode {
            DeleteMode::Classic => {
                let holders = self.opens_of(target.key);
                if !holders.is_empty() {
                    return Err(SemanticError::AccessDenied {
                        reason: "rename target is open",
                        holders,
                    });
                }
                if target.is_dir {
                    return Err(SemanticError::AccessDenied {
                        reason: "rename target is a directory",
                        holders: Vec::new(),
                    });
                }
                Ok((None, false))
            }
            DeleteMode::Posix => {
                let handle = implicit_delete()?;
                let others = self.opens_of(target.key).len() > 1;
                Ok((Some(handle), others))
            }
        }
    }

    /// Ends a rename's implicit opens. When a replaced target is still open (POSIX
    /// semantics), it becomes delete-pending with its name already gone. Returns the
    /// files whose names the front-end must now remove (a file that became pending
    /// while the rename held its last open; see [`Core::end_implicit`]).
    #[must_use = "returned files are delete-pending with no open left: remove their names"]
    pub fn finish_rename(&self, ticket: RenameTicket, succeeded: bool) -> Vec<FileKey> {
        let mut settle = Vec::new();
        if let (key, Some(handle)) = ticket.source
            && self.end_implicit(key, handle).remove_name
        {
            settle.push(key);
        }
        if let Some((key, handle)) = ticket.target {
            if succeeded && ticket.target_stays_open {
                if self
                    .commit_delete(key, handle, DeleteMode::Posix, FileFacts::default())
                    .is_ok()
                {
                    self.name_removed(key, true);
                }
            } else if self.end_implicit(key, handle).remove_name {
                settle.push(key);
            }
        }
        settle
    }
}
