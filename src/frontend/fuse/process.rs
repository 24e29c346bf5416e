//! Who is behind a request: FUSE's header carries the calling thread's id and its
//! uid/gid; the process (thread group) and its name come from `/proc`, cached briefly
//! because thread ids are reused.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lru::LruCache;

use crate::core::Owner;

/// How long a thread id → process mapping is trusted (thread ids are recycled).
const TTL: Duration = Duration::from_secs(2);

/// A cached thread → (process id, process name, when it was read).
type CachedProcess = (u32, Arc<str>, Instant);

/// Resolves thread ids to processes, with a small LRU cache.
#[derive(Debug)]
pub struct ProcessResolver {
    cache: Mutex<LruCache<u32, CachedProcess>>,
}

impl Default for ProcessResolver {
    fn default() -> Self {
        ProcessResolver::new()
    }
}

impl ProcessResolver {
    /// A resolver with room for 1024 threads.
    pub fn new() -> ProcessResolver {
        ProcessResolver {
            cache: Mutex::new(LruCache::new(
                NonZeroUsize::new(1024).unwrap_or(NonZeroUsize::MIN),
            )),
        }
    }

    /// The owner of a request from thread `tid` with credentials `uid`/`gid`. A thread
    /// that has already exited still gets an owner (its tid as pid, comm "?").
    pub fn owner(&self, tid: u32, uid: u32, gid: u32) -> Arc<Owner> {
        let (pid, comm) = self.process_of(tid);
        Arc::new(Owner {
            pid,
            tid,
            comm: comm.to_string(),
            uid,
            gid,
        })
    }

    fn process_of(&self, tid: u32) -> (u32, Arc<str>) {
        if tid == 0 {
            return (0, Arc::from("kernel"));
        }
        {
            let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((pid, comm, at)) = cache.get(&tid)
                && at.elapsed() < TTL
            {
                return (*pid, comm.clone());
            }
        }
        let (pid, comm) = read_status(tid).unwrap_or((tid, Arc::from("?")));
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .put(tid, (pid, comm.clone(), Instant::now()));
        (pid, comm)
    }
}

/// Parses `Name:` and `Tgid:` from `/proc/TID/status`.
fn read_status(tid: u32) -> Option<(u32, Arc<str>)> {
    let text = std::fs::read_to_string(format!("/proc/{tid}/status")).ok()?;
    let mut name = None;
    let mut tgid = None;
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("Name:") {
            name = Some(v.trim().to_string());
        } else if let Some(v) = line.strip_prefix("Tgid:") {
            tgid = v.trim().parse().ok();
        }
        if name.is_some() && tgid.is_some() {
            break;
        }
    }
    Some((tgid?, Arc::from(name?.as_str())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_own_process() {
        let r = ProcessResolver::new();
        let me = std::process::id();
        let o = r.owner(me, 0, 0);
        assert_eq!(o.pid, me);
        assert!(!o.comm.is_empty() && o.comm != "?");
    }

    #[test]
    fn vanished_thread_still_gets_an_owner() {
        let r = ProcessResolver::new();
        let o = r.owner(u32::MAX - 7, 5, 6);
        assert_eq!(o.pid, u32::MAX - 7);
        assert_eq!(o.comm, "?");
        assert_eq!((o.uid, o.gid), (5, 6));
    }
}
