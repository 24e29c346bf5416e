//! Kernel cache invalidations, sent from a thread of their own: a notification written
//! from inside a request handler can deadlock on the directory lock the kernel holds for
//! that very request (e.g. invalidating an entry while its parent's unlink is running).

use std::ffi::{OsStr, OsString};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Mutex, OnceLock};

use fuser::{INodeNo, Notifier};

/// What to drop from the kernel's caches.
#[derive(Debug)]
enum Inval {
    /// A cached name → inode mapping.
    Entry { parent: u64, name: OsString },
    /// An inode's cached attributes.
    Attributes { node: u64 },
}

/// Sends invalidations in order from its own thread once the session's notifier exists;
/// requests made before that are dropped (the kernel has cached nothing yet).
#[derive(Debug, Default)]
pub struct Invalidator {
    tx: OnceLock<Mutex<Sender<Inval>>>,
    /// For the few callers that may notify synchronously (see [`Invalidator::entry_now`]).
    notifier: OnceLock<Notifier>,
}

impl Invalidator {
    /// An invalidator that drops requests until [`Invalidator::start`].
    pub fn new() -> Invalidator {
        Invalidator::default()
    }

    /// Starts the sending thread with the session's notifier.
    pub fn start(&self, notifier: Notifier) -> std::io::Result<()> {
        let _ = self.notifier.set(notifier.clone());
        let (tx, rx) = channel::<Inval>();
        std::thread::Builder::new()
            .name("sharefs-inval".into())
            .spawn(move || {
                for msg in rx {
                    // ENOENT just means the kernel had nothing cached.
                    let result = match &msg {
                        Inval::Entry { parent, name } => {
                            notifier.inval_entry(INodeNo(*parent), name)
                        }
                        Inval::Attributes { node } => notifier.inval_inode(INodeNo(*node), -1, 0),
                    };
                    if let Err(e) = result
                        && e.raw_os_error() != Some(libc::ENOENT)
                    {
                        tracing::debug!("{msg:?}: {e}");
                    }
                }
            })?;
        let _ = self.tx.set(Mutex::new(tx));
        Ok(())
    }

    /// Asks the kernel to drop an inode's cached attributes (not its data: offset -1).
    pub fn attributes(&self, node: u64) {
        if let Some(tx) = self.tx.get() {
            let _ = tx
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .send(Inval::Attributes { node });
        }
    }

    /// Forgets `name` in `parent` before returning. Only for requests during which the
    /// kernel holds no lock on `parent` (ioctl, release), so that the caller's very next
    /// path lookup already reaches the daemon.
    pub fn entry_now(&self, parent: u64, name: &OsStr) {
        match self.notifier.get() {
            Some(n) => {
                if let Err(e) = n.inval_entry(INodeNo(parent), name)
                    && e.raw_os_error() != Some(libc::ENOENT)
                {
                    tracing::debug!("inval_entry({parent}, {name:?}): {e}");
                }
            }
            None => self.entry(parent, name),
        }
    }

    /// Asks the kernel to forget `name` in `parent`.
    pub fn entry(&self, parent: u64, name: &OsStr) {
        if let Some(tx) = self.tx.get() {
            let _ = tx
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .send(Inval::Entry {
                    parent,
                    name: name.to_owned(),
                });
        }
    }
}
