//! How a monitor pass spreads its probes over threads: in the monitor's
//! own thread while they compute, with helpers once they wait on tools.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How many services are probed at once, at most. Each one's resources
/// are probed in order (`Probing::InOrder`): a few threads per pass
/// instead of one per resource, hundreds a second on a node with many
/// services, and a pass with slow tools (an LVM command costs tens of ms)
/// still a quarter of its length in sequence.
pub(crate) const PROBERS: usize = 4;

/// A pass probes in the calling thread alone until its probes have spent
/// this long waiting (wall time not spent on that thread's CPU: tools
/// running, a slow disk), and only then calls helpers. Probes that only
/// compute gain nothing from more threads on a node's few cores: four
/// probers sharing the daemon's one malloc arena (run.rs) spent a quarter
/// of an idle daemon's CPU waking each other on its lock, and every pass
/// paid for their start.
pub(crate) const WAIT_BEFORE_HELPERS: Duration = Duration::from_millis(50);

/// `probe(i)` for every i below `n`, the results in that order. A probe
/// that panics ends the pass, as it would in one thread.
pub(crate) fn in_order<T: Send>(n: usize, probe: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let next = AtomicUsize::new(0);
    let out: Vec<Mutex<Option<T>>> = (0..n).map(|_| Mutex::new(None)).collect();
    // Runs the next probe nobody took yet; false when none is left.
    let probe_next = || {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= n {
            return false;
        }
        let p = probe(i);
        if let Ok(mut o) = out[i].lock() {
            *o = Some(p);
        }
        true
    };
    std::thread::scope(|s| {
        let started = Instant::now();
        let cpu_at_start = thread_cpu();
        let mut helped = false;
        while probe_next() {
            if helped {
                continue;
            }
            let waited = started
                .elapsed()
                .saturating_sub(thread_cpu().saturating_sub(cpu_at_start));
            let left = n.saturating_sub(next.load(Ordering::Relaxed));
            if left > 0 && waited >= WAIT_BEFORE_HELPERS {
                helped = true;
                for _ in 1..PROBERS.min(left + 1) {
                    s.spawn(|| while probe_next() {});
                }
            }
        }
    });
    out.into_iter()
        .map(|m| {
            // Every probe ran: a panic would have ended the scope above.
            m.into_inner()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .expect("each probe stored its result")
        })
        .collect()
}

/// The CPU time the calling thread has used (zero if the clock is
/// missing: every wait then counts as waiting on tools).
fn thread_cpu() -> Duration {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec it is given.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &raw mut t) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        t.tv_sec.max(0) as u64,
        t.tv_nsec.clamp(0, 999_999_999) as u32,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::thread::ThreadId;

    fn threads_of(results: &[(usize, ThreadId)]) -> HashSet<ThreadId> {
        results.iter().map(|(_, t)| *t).collect()
    }

    #[test]
    fn probes_that_compute_stay_in_the_calling_thread() {
        let out = in_order(200, |i| (i * 2, std::thread::current().id()));
        let firsts: Vec<usize> = out.iter().map(|(v, _)| *v).collect();
        assert_eq!(
            firsts,
            (0..200).map(|i| i * 2).collect::<Vec<_>>(),
            "{out:?}"
        );
        let threads = threads_of(&out);
        assert_eq!(
            threads,
            HashSet::from([std::thread::current().id()]),
            "{out:?}"
        );
    }

    #[test]
    fn probes_that_wait_get_helpers_and_keep_their_order() {
        // Each probe waits 20 ms, as on a slow tool: after three of them
        // the pass has waited 60 ms and calls helpers.
        let out = in_order(12, |i| {
            std::thread::sleep(Duration::from_millis(20));
            (i, std::thread::current().id())
        });
        let order: Vec<usize> = out.iter().map(|(v, _)| *v).collect();
        assert_eq!(order, (0..12).collect::<Vec<_>>(), "{out:?}");
        let threads = threads_of(&out);
        assert!(threads.len() > 1, "one thread ran every probe: {out:?}");
        assert!(
            threads.len() <= PROBERS,
            "{} threads: {out:?}",
            threads.len()
        );
    }

    #[test]
    fn no_probe_no_thread() {
        let out: Vec<usize> = in_order(0, |i| i);
        assert!(out.is_empty());
    }
}
