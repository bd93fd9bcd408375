//! The starts one monitor pass decided, run at once (docs/orchestration.md,
//! "Takeover"): a node taking over the services of a lost peer starts them
//! concurrently, at most `[node] max_parallel` at a time, instead of one
//! after another (a start is mostly waiting: on the address probe's
//! answer, on a tool). The shell (shell.rs) feeds each outcome back to the
//! core on the monitor thread, in the order the core asked for the starts.
//!
//! Why the starts may share the daemon's process: each runs in-process
//! (actions.rs), and the action pipeline, the drivers, exec and the logging
//! keep no process-wide state a start changes. Checked, file by file:
//! - nothing in `src/` sets an environment variable, changes the current
//!   directory or the umask; commands get their variables per call
//!   (`exec::Cmd::env`), their own pipes, and no inherited descriptor
//!   (every descriptor is close-on-exec; exec/real.rs retries the
//!   `ETXTBSY` a concurrent fork may cause);
//! - the signal handlers are installed once when the daemon starts and
//!   only set an atomic (`exec::INTERRUPTED`) every running command reads;
//! - the logs: one global subscriber, one write per record under a lock,
//!   the per-service files behind one mutex (log.rs); nothing captures
//!   stdout (`log::capture` is per thread, and for unit tests);
//! - the service lock and the node-wide `startip` lock are flock(2) locks
//!   on a file opened per call, which conflict between open files, so
//!   between threads as between processes (the test below): one service
//!   is never started twice at once, and two addresses never pick one
//!   alias label (driver/ip);
//! - what a start writes is the service's own (its last-start stamp, its
//!   launchers' logs, the collector stamp), through fsutil's temp names
//!   (pid and random bytes);
//! - the few statics (action/mod.rs's warn-once set, exec/real.rs's
//!   one-time close-on-exec pass) sit behind a mutex or a `Once`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

/// Runs `job` on every item, at most `bound` at a time, each on a thread of
/// its own while the caller's thread waits; `done` gets every result on the
/// caller's thread in the items' order, each as soon as it and every
/// earlier one are in. One item, or a bound of 1, runs on the caller's
/// thread, one after another, as the daemon always did.
pub(crate) fn bounded<T, R>(
    items: &[T],
    bound: usize,
    job: impl Fn(usize, &T) -> R + Sync,
    mut done: impl FnMut(usize, R),
) where
    T: Sync,
    R: Send,
{
    let workers = bound.min(items.len());
    if workers <= 1 {
        for (i, item) in items.iter().enumerate() {
            done(i, job(i, item));
        }
        return;
    }
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<(usize, R)>();
    let work = |tx: mpsc::Sender<(usize, R)>| {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(i) else { break };
            if tx.send((i, job(i, item))).is_err() {
                break;
            }
        }
    };
    std::thread::scope(|s| {
        let spawned = (0..workers)
            .filter(|k| {
                let tx = tx.clone();
                std::thread::Builder::new()
                    .name(format!("start#{k}"))
                    .spawn_scoped(s, || work(tx))
                    .is_ok()
            })
            .count();
        // No thread to be had (a process limit): the caller does the work.
        if spawned == 0 {
            work(tx.clone());
        }
        drop(tx);
        let mut pending = BTreeMap::new();
        let mut want = 0;
        for (i, r) in rx {
            pending.insert(i, r);
            while let Some(r) = pending.remove(&want) {
                done(want, r);
                want += 1;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use std::sync::{Condvar, Mutex};
    use std::time::Duration;

    use super::*;

    /// Jobs in flight: how many now, the most at once, how many entered.
    /// Waits are bounded so that a broken bound fails the test instead of
    /// hanging it; no duration is asserted.
    #[derive(Default)]
    struct Flight {
        state: Mutex<(usize, usize, usize)>,
        changed: Condvar,
    }

    impl Flight {
        fn enter(&self) {
            let mut s = self.state.lock().unwrap();
            s.0 += 1;
            s.1 = s.1.max(s.0);
            s.2 += 1;
            self.changed.notify_all();
        }
        fn leave(&self) {
            self.state.lock().unwrap().0 -= 1;
            self.changed.notify_all();
        }
        fn wait_entered(&self, n: usize) {
            let s = self.state.lock().unwrap();
            let _ = self
                .changed
                .wait_timeout_while(s, Duration::from_secs(10), |s| s.2 < n)
                .unwrap();
        }
        fn most(&self) -> usize {
            self.state.lock().unwrap().1
        }
    }

    #[test]
    fn at_most_bound_jobs_run_at_once_and_that_many_do() {
        for (n, bound) in [(10, 3), (5, 2), (4, 8), (7, 1)] {
            let f = Flight::default();
            let mut got = Vec::new();
            bounded(
                &(0..n).collect::<Vec<usize>>(),
                bound,
                |i, _| {
                    f.enter();
                    // Job i stays until jobs i..i+bound-1 have all entered:
                    // within the bound they can, so `bound` run at once;
                    // with the bound broken, more are seen in flight.
                    f.wait_entered((i + bound).min(n));
                    f.leave();
                    i
                },
                |i, r| got.push((i, r)),
            );
            let want: Vec<(usize, usize)> = (0..n).map(|i| (i, i)).collect();
            assert_eq!(got, want, "n {n}, bound {bound}");
            assert_eq!(f.most(), bound.min(n), "n {n}, bound {bound}");
        }
    }

    #[test]
    fn results_are_handed_over_in_order_though_they_end_out_of_order() {
        // Job 0 ends only once job 1 has ended.
        let ended = Mutex::new(Vec::new());
        let one_done = (Mutex::new(false), Condvar::new());
        let mut order = Vec::new();
        bounded(
            &["svc0", "svc1", "svc2"],
            2,
            |i, name| {
                if i == 0 {
                    let g = one_done.0.lock().unwrap();
                    let _ = one_done
                        .1
                        .wait_timeout_while(g, Duration::from_secs(10), |d| !*d)
                        .unwrap();
                }
                ended.lock().unwrap().push(i);
                if i == 1 {
                    *one_done.0.lock().unwrap() = true;
                    one_done.1.notify_all();
                }
                name.to_string()
            },
            |i, name| order.push((i, name)),
        );
        let ended = ended.into_inner().unwrap();
        let at = |i| ended.iter().position(|e| *e == i);
        assert!(at(1) < at(0), "job 1 must end before job 0: {ended:?}");
        assert_eq!(
            order,
            [(0, "svc0".into()), (1, "svc1".into()), (2, "svc2".into())]
        );
    }

    #[test]
    fn a_bound_of_one_runs_on_the_callers_thread() {
        let me = std::thread::current().id();
        let mut on = Vec::new();
        bounded(
            &[1, 2, 3],
            1,
            |_, _| std::thread::current().id(),
            |_, id| on.push(id),
        );
        assert_eq!(on, [me, me, me]);
    }

    /// The service lock and the ip driver's `startip` lock hold between the
    /// threads of one process, not only between processes: two concurrent
    /// starts never pick one alias, nor run one service twice.
    #[test]
    fn the_action_locks_hold_between_threads() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("lock/startip");
        let held = crate::lock::acquire(&p, Duration::ZERO).unwrap();
        let other = std::thread::scope(|s| {
            s.spawn(|| crate::lock::acquire(&p, Duration::ZERO).is_ok())
                .join()
                .unwrap()
        });
        assert!(!other, "a second thread took the lock the first holds");
        drop(held);
        let after = std::thread::scope(|s| {
            s.spawn(|| crate::lock::acquire(&p, Duration::ZERO).is_ok())
                .join()
                .unwrap()
        });
        assert!(after, "the lock was released");
    }
}
