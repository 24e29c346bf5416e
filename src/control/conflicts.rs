//! The conflict log: every refused open, unlink, rename, lock, read or write, naming
//! both parties; the last N kept in memory for `.sharefs/conflicts{,.json}` and counted
//! by kind for `.sharefs/stats` (docs/lock-table.md).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use super::table::{escape_path, lock_range, rfc3339};
use crate::core::{ByteLock, OpenRecord, Owner, SemanticError};

/// The party that was refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requester {
    /// Process id.
    pub pid: u32,
    /// Thread id.
    pub tid: u32,
    /// Process name.
    pub comm: String,
    /// Its language runtime as sharefs recognised it (`python`, `node`, `c`…).
    #[serde(default)]
    pub runtime: String,
    /// User id.
    pub uid: u32,
    /// What it asked for, e.g. `open access=rw- share=rw-`, `delete`, `rename to x`.
    pub asked: String,
}

/// One of the parties already holding the file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// Process id.
    pub pid: u32,
    /// Process name.
    pub comm: String,
    /// Its language runtime as sharefs recognised it.
    #[serde(default)]
    pub runtime: String,
    /// User id.
    pub uid: u32,
    /// What it holds, e.g. `access=r-- share=r--` or `EXCLUSIVE 0-99`.
    pub holds: String,
    /// Since when (RFC 3339 UTC, milliseconds).
    pub since: String,
    /// Path it opened.
    pub path: String,
}

/// A runtime name, or `?` when it was not looked up.
fn or_unknown(runtime: &str) -> &str {
    if runtime.is_empty() { "?" } else { runtime }
}

/// One refusal.
impl Holder {
    /// An open handle as the other party of a refusal.
    pub fn of_open(r: &OpenRecord) -> Holder {
        let mut holds = format!("access={} share={}", r.access.rwd(), r.share.rwd());
        if r.delete_on_close {
            holds.push_str(" delete_on_close");
        }
        Holder {
            pid: r.owner.pid,
            comm: r.owner.comm.clone(),
            runtime: r.owner.runtime.to_string(),
            uid: r.owner.uid,
            holds,
            since: rfc3339(r.since),
            path: r.path.to_string(),
        }
    }

    /// A byte-range lock as the other party of a refusal.
    pub fn of_lock(l: &ByteLock) -> Holder {
        let (start, end) = lock_range(l);
        let end = end.map_or_else(|| "EOF".to_string(), |e| e.to_string());
        let mode = if l.exclusive { "EXCLUSIVE" } else { "SHARED" };
        Holder {
            pid: l.taker.pid,
            comm: l.taker.comm.clone(),
            runtime: l.taker.runtime.to_string(),
            uid: l.taker.uid,
            holds: format!("{mode} {start}-{end}"),
            since: rfc3339(l.since),
            path: String::new(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    /// Sequence number, increasing for the life of the mount.
    pub seq: u64,
    /// When (RFC 3339 UTC, milliseconds).
    pub time: String,
    /// The operation: open, create, unlink, rmdir, rename, truncate, set_delete, …
    pub op: String,
    /// Refusal kind: sharing_violation, delete_pending, access_denied, …
    pub kind: String,
    /// errno returned to the requester.
    pub errno: i32,
    /// Its symbolic name.
    pub errno_name: String,
    /// Path relative to the mount root.
    pub path: String,
    /// Who was refused.
    pub requester: Requester,
    /// Who it conflicted with (empty for refusals without another party, e.g. delete
    /// pending).
    pub holders: Vec<Holder>,
}

impl Conflict {
    /// A refusal by the core, as either front-end records it: who asked what, and every
    /// open and lock that stood in the way. `errno`/`errno_name` are the front-end's own
    /// code for it (an errno on Linux and macOS, the Win32 error on Windows). `seq` is
    /// set by [`ConflictLog::record`].
    pub fn refusal(
        op: &str,
        path: &str,
        owner: &Owner,
        asked: &str,
        err: &SemanticError,
        (errno, errno_name): (i32, String),
    ) -> Conflict {
        Conflict {
            seq: 0,
            time: rfc3339(std::time::SystemTime::now()),
            op: op.to_string(),
            kind: err.kind().to_string(),
            errno,
            errno_name,
            path: path.to_string(),
            requester: Requester {
                pid: owner.pid,
                tid: owner.tid,
                comm: owner.comm.clone(),
                runtime: owner.runtime.to_string(),
                uid: owner.uid,
                asked: asked.to_string(),
            },
            holders: err
                .holders()
                .iter()
                .map(Holder::of_open)
                .chain(err.lock_holders().iter().map(Holder::of_lock))
                .collect(),
        }
    }

    /// One text line: `SEQ TIME OP KIND ERRNO PATH by … ; held by … | …`.
    pub fn to_line(&self) -> String {
        let r = &self.requester;
        let mut line = format!(
            "{} {} {} {} {} {} by pid={} comm={} runtime={} uid={} asked={}",
            self.seq,
            self.time,
            self.op,
            self.kind,
            self.errno_name,
            escape_path(self.path.as_bytes()),
            r.pid,
            escape_path(r.comm.as_bytes()),
            or_unknown(&r.runtime),
            r.uid,
            escape_path(r.asked.as_bytes()),
        );
        for (i, h) in self.holders.iter().enumerate() {
            line.push_str(if i == 0 { " ; held by " } else { " | " });
            line.push_str(&format!(
                "pid={} comm={} runtime={} uid={} holds={} since={}",
                h.pid,
                escape_path(h.comm.as_bytes()),
                or_unknown(&h.runtime),
                h.uid,
                escape_path(h.holds.as_bytes()),
                h.since
            ));
        }
        line
    }
}

/// Ring buffer of the last conflicts plus counters by kind.
#[derive(Debug)]
pub struct ConflictLog {
    ring: Mutex<VecDeque<Conflict>>,
    counts: Mutex<BTreeMap<String, u64>>,
    capacity: usize,
    seq: AtomicU64,
}

impl ConflictLog {
    /// Keeps the last `capacity` conflicts.
    pub fn new(capacity: usize) -> ConflictLog {
        ConflictLog {
            ring: Mutex::new(VecDeque::with_capacity(capacity.min(4096))),
            counts: Mutex::new(BTreeMap::new()),
            capacity,
            seq: AtomicU64::new(1),
        }
    }

    /// Records a conflict (its `seq` is assigned here) and returns the stored copy.
    pub fn record(&self, mut c: Conflict) -> Conflict {
        c.seq = self.seq.fetch_add(1, Ordering::Relaxed);
        *self
            .counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(c.kind.clone())
            .or_insert(0) += 1;
        if self.capacity > 0 {
            let mut ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
            if ring.len() == self.capacity {
                ring.pop_front();
            }
            ring.push_back(c.clone());
        }
        c
    }

    /// The kept conflicts, oldest first.
    pub fn entries(&self) -> Vec<Conflict> {
        self.ring
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    /// `.sharefs/conflicts`: one line each.
    pub fn render_text(&self) -> String {
        self.entries().iter().map(|c| c.to_line() + "\n").collect()
    }

    /// `.sharefs/conflicts.json`.
    pub fn render_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(&self.entries()).unwrap_or_else(|_| "[]".into());
        s.push('\n');
        s
    }

    /// `.sharefs/stats`: `kind count` lines (every kind, zeros included) and a total.
    pub fn render_stats(&self) -> String {
        let counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        let mut total = 0;
        for kind in KINDS {
            let n = counts.get(*kind).copied().unwrap_or(0);
            total += n;
            out.push_str(&format!("conflicts.{kind} {n}\n"));
        }
        for (kind, n) in counts.iter().filter(|(k, _)| !KINDS.contains(&k.as_str())) {
            total += n;
            out.push_str(&format!("conflicts.{kind} {n}\n"));
        }
        out.push_str(&format!("conflicts.total {total}\n"));
        out
    }
}

/// Kinds always listed in the stats, so scripts can rely on the lines.
const KINDS: &[&str] = &[
    "sharing_violation",
    "delete_pending",
    "access_denied",
    "cannot_delete",
    "lock_conflict",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn conflict(kind: &str) -> Conflict {
        Conflict {
            seq: 0,
            time: "t".into(),
            op: "unlink".into(),
            kind: kind.into(),
            errno: 16,
            errno_name: "EBUSY".into(),
            path: "a b".into(),
            requester: Requester {
                pid: 1,
                tid: 1,
                comm: "rm".into(),
                runtime: "c".into(),
                uid: 0,
                asked: "delete".into(),
            },
            holders: vec![Holder {
                pid: 2,
                comm: "python3".into(),
                runtime: "python".into(),
                uid: 0,
                holds: "access=r-- share=rw-".into(),
                since: "s".into(),
                path: "a b".into(),
            }],
        }
    }

    #[test]
    fn keeps_the_last_n_and_counts_all() {
        let log = ConflictLog::new(2);
        for _ in 0..3 {
            log.record(conflict("sharing_violation"));
        }
        log.record(conflict("delete_pending"));
        let e = log.entries();
        assert_eq!(e.iter().map(|c| c.seq).collect::<Vec<_>>(), vec![3, 4]);
        let stats = log.render_stats();
        assert!(stats.contains("conflicts.sharing_violation 3\n"), "{stats}");
        assert!(stats.contains("conflicts.delete_pending 1\n"), "{stats}");
        assert!(stats.contains("conflicts.total 4\n"), "{stats}");
    }

    #[test]
    fn line_names_both_parties() {
        let log = ConflictLog::new(10);
        let c = log.record(conflict("sharing_violation"));
        let line = c.to_line();
        assert!(line.contains("by pid=1 comm=rm"), "{line}");
        assert!(
            line.contains("held by pid=2 comm=python3 runtime=python"),
            "{line}"
        );
        assert!(line.contains("a\\040b"), "{line}");
        assert!(!line.contains('\n'));
        let json: Vec<Conflict> = serde_json::from_str(&log.render_json()).unwrap();
        assert_eq!(json, vec![c]);
    }
}
