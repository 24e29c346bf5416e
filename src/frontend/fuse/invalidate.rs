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
}

/// Queues invalidations until the session's notifier exists, then sends them in order.
#[derive(Debug, Default)]
pub struct Invalidator {
    tx: OnceLock<Mutex<Sender<Inval>>>,
}

impl Invalidator {
    /// An invalidator that drops requests until [`Invalidator::start`].
    pub fn new() -> Invalidator {
        Invalidator::default()
    }

    /// Starts the sending thread with the session's notifier.
    pub fn start(&self, notifier: Notifier) -> std::io::Result<()> {
        let (tx, rx) = channel::<Inval>();
        std::thread::Builder::new()
            .name("sharefs-inval".into())
            .spawn(move || {
                for msg in rx {
                    let Inval::Entry { parent, name } = msg;
                    // ENOENT just means the kernel had nothing cached.
                    if let Err(e) = notifier.inval_entry(INodeNo(parent), &name)
                        && e.raw_os_error() != Some(libc::ENOENT)
                    {
                        tracing::debug!("inval_entry({parent}, {name:?}): {e}");
                    }
                }
            })?;
        let _ = self.tx.set(Mutex::new(tx));
        Ok(())
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
