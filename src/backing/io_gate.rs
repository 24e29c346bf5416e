//! Per-file range gate for atomic I/O (NKS ATOMIC_RW, SEMANTICS.md §6): a read never
//! overlaps an in-flight write of the same bytes, and overlapping writes never
//! interleave. Reads run in parallel with each other, and I/O on disjoint ranges or other
//! files never waits. Held across the one `pread`/`pwrite` of a FUSE request — the only
//! lock held across a syscall.

use std::sync::{Condvar, Mutex};

#[derive(Debug)]
struct InFlight {
    id: u64,
    start: u128,
    end: u128,
    exclusive: bool,
}

/// The gate of one file.
#[derive(Debug, Default)]
pub struct RangeGate {
    inflight: Mutex<(Vec<InFlight>, u64)>,
    changed: Condvar,
}

/// An entered range; leaving happens on drop.
#[must_use = "the range is released when the guard drops"]
#[derive(Debug)]
pub struct GateGuard<'a> {
    gate: &'a RangeGate,
    id: u64,
}

impl RangeGate {
    /// Waits until no overlapping in-flight range conflicts (a writer conflicts with
    /// everything, readers only with writers), then enters `[start, start + len)`.
    pub fn enter(&self, start: u64, len: u64, exclusive: bool) -> GateGuard<'_> {
        let (s, e) = (start as u128, start as u128 + len.max(1) as u128);
        let mut guard = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
        while guard
            .0
            .iter()
            .any(|f| f.start < e && s < f.end && (exclusive || f.exclusive))
        {
            guard = self.changed.wait(guard).unwrap_or_else(|p| p.into_inner());
        }
        guard.1 += 1;
        let id = guard.1;
        guard.0.push(InFlight {
            id,
            start: s,
            end: e,
            exclusive,
        });
        GateGuard { gate: self, id }
    }
}

impl Drop for GateGuard<'_> {
    fn drop(&mut self) {
        let mut guard = self.gate.inflight.lock().unwrap_or_else(|p| p.into_inner());
        guard.0.retain(|f| f.id != self.id);
        drop(guard);
        self.gate.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    #[test]
    fn readers_share_writers_exclude_overlaps_only() {
        let gate = Arc::new(RangeGate::default());
        let r1 = gate.enter(0, 100, false);
        let _r2 = gate.enter(50, 100, false); // readers overlap freely
        let _w_far = gate.enter(1000, 10, true); // disjoint writer enters at once
        let entered = Arc::new(AtomicBool::new(false));
        let (g, e) = (gate.clone(), entered.clone());
        let t = std::thread::spawn(move || {
            let _w = g.enter(90, 20, true);
            e.store(true, Ordering::SeqCst);
        });
        std::thread::sleep(Duration::from_millis(50));
        assert!(
            !entered.load(Ordering::SeqCst),
            "writer waits for overlapping readers"
        );
        drop(r1);
        drop(_r2);
        t.join().unwrap();
        assert!(entered.load(Ordering::SeqCst));
    }
}
