//! A sleep another thread can end early: a condition variable and the
//! lock under which sleepers check what would end their sleep and
//! wakers change it, so that no wake-up falls between a check and the
//! wait. The monitor's sleep between passes and the heartbeat threads'
//! sleeps between beats are both this one wait.

use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
pub(crate) struct Wakeup {
    lock: Mutex<()>,
    cv: Condvar,
}

impl Wakeup {
    /// Runs `change` under the lock, then wakes every sleeper: a sleeper
    /// about to wait has either seen the change or is woken by it.
    pub(crate) fn wake(&self, change: impl FnOnce()) {
        let _g = self.lock.lock();
        change();
        self.cv.notify_all();
    }

    /// Sleeps until `deadline`, or until `done` holds: looked at under the
    /// lock before each wait, on every `wake`, and at least every
    /// `recheck` (a change made without `wake` is seen that late at
    /// worst). `done` must not call `wake` on the same `Wakeup`. A
    /// poisoned lock ends the sleep.
    pub(crate) fn sleep(
        &self,
        deadline: Instant,
        recheck: Duration,
        mut done: impl FnMut() -> bool,
    ) {
        let Ok(mut g) = self.lock.lock() else {
            return;
        };
        loop {
            if done() {
                return;
            }
            let now = Instant::now();
            if now >= deadline {
                return;
            }
            g = match self.cv.wait_timeout(g, (deadline - now).min(recheck)) {
                Ok((g, _)) => g,
                Err(_) => return,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[test]
    fn a_wake_ends_the_sleep_and_the_deadline_ends_it_otherwise() {
        let w = Arc::new(Wakeup::default());
        let flag = Arc::new(AtomicBool::new(false));
        let (w2, f2) = (w.clone(), flag.clone());
        let waker = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            w2.wake(|| f2.store(true, Ordering::Relaxed));
        });
        let started = Instant::now();
        let far = started + Duration::from_secs(60);
        w.sleep(far, Duration::from_secs(60), || {
            flag.load(Ordering::Relaxed)
        });
        waker.join().unwrap();
        assert!(flag.load(Ordering::Relaxed), "ended before the change");
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{:?}",
            started.elapsed()
        );

        let started = Instant::now();
        w.sleep(
            started + Duration::from_millis(20),
            Duration::from_secs(60),
            || false,
        );
        assert!(
            started.elapsed() >= Duration::from_millis(20),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn a_change_made_without_waking_is_seen_at_the_recheck() {
        let w = Arc::new(Wakeup::default());
        let flag = Arc::new(AtomicBool::new(false));
        let f2 = flag.clone();
        let setter = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            f2.store(true, Ordering::Relaxed);
        });
        let started = Instant::now();
        w.sleep(
            started + Duration::from_secs(60),
            Duration::from_millis(10),
            || flag.load(Ordering::Relaxed),
        );
        setter.join().unwrap();
        assert!(flag.load(Ordering::Relaxed));
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{:?}",
            started.elapsed()
        );
    }
}
