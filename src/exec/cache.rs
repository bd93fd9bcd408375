//! One status pass runs each read-only probe command once: several ip
//! resources share one `ip addr`, vg resources their listings. Never used
//! by start or stop, where the answers change under our feet.
//!
//! A pass may also keep what the drivers made of an answer (`memo`): the
//! daemon's monitor probes a hundred services a second on a node with a
//! thousand, and parsing a thousand-line mount table for each of them was
//! most of its CPU.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use super::{Cmd, ExecError, Output, Runner, run_quiet};
use crate::log::Logger;

type Slot = Arc<OnceLock<Result<Output, ExecError>>>;
type Memo = Arc<OnceLock<Arc<dyn Any + Send + Sync>>>;

#[derive(Default)]
pub(crate) struct ProbeCache {
    slots: Mutex<HashMap<Vec<String>, Slot>>,
    memos: Mutex<HashMap<&'static str, Memo>>,
    wide: bool,
}

impl ProbeCache {
    /// A cache for one service's status (the command line).
    pub(crate) fn new() -> ProbeCache {
        ProbeCache::default()
    }

    /// A cache for a pass over many services (the daemon's monitor):
    /// drivers list every object of a kind once (`wide`) instead of asking
    /// about each one, since one `vgs` costs tens of ms whatever it lists.
    pub(crate) fn wide() -> ProbeCache {
        ProbeCache {
            wide: true,
            ..ProbeCache::default()
        }
    }

    /// Whether this pass probes many services: see `wide()`.
    pub(crate) fn is_wide(&self) -> bool {
        self.wide
    }

    /// `make()`, once per pass and `key`; concurrent callers wait for the
    /// first. A key reused with another type is computed again rather than
    /// trusted.
    pub(crate) fn memo<T: Any + Send + Sync>(
        &self,
        key: &'static str,
        make: impl FnOnce() -> T,
    ) -> Arc<T> {
        let slot = match self.memos.lock() {
            Ok(mut memos) => memos.entry(key).or_default().clone(),
            Err(_) => return Arc::new(make()),
        };
        let mut make = Some(make);
        let any = slot.get_or_init(|| match make.take() {
            Some(m) => Arc::new(m()),
            None => Arc::new(()),
        });
        match (any.clone().downcast::<T>(), make) {
            (Ok(v), _) => v,
            (Err(_), Some(m)) => Arc::new(m()),
            (Err(_), None) => unreachable!("the value just made is a T"),
        }
    }

    /// `run_quiet`, once per argv; concurrent callers wait for the first.
    pub(crate) fn run(
        &self,
        runner: &dyn Runner,
        log: &Logger,
        cmd: &Cmd,
    ) -> Result<Output, ExecError> {
        let slot = match self.slots.lock() {
            Ok(mut slots) => slots.entry(cmd.argv.clone()).or_default().clone(),
            Err(_) => return run_quiet(runner, log, cmd),
        };
        slot.get_or_init(|| run_quiet(runner, log, cmd)).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::FakeRunner;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn each_argv_runs_once_even_from_several_threads() {
        let r = FakeRunner::new();
        r.on(&["mount"], 0, "table", "");
        let cache = ProbeCache::new();
        let log = Logger::service("s");
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    let out = cache.run(&r, &log, &Cmd::new(["mount"])).unwrap();
                    assert_eq!(out.stdout, "table");
                });
            }
        });
        cache.run(&r, &log, &Cmd::new(["ip", "addr"])).unwrap();
        assert_eq!(r.calls(), ["mount", "ip addr"]);
    }

    #[test]
    fn a_memo_is_made_once_per_key_and_a_type_clash_is_made_again() {
        let cache = ProbeCache::new();
        let made = AtomicUsize::new(0);
        let make = || {
            made.fetch_add(1, Ordering::Relaxed);
            vec![1u32, 2]
        };
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| assert_eq!(*cache.memo("k", make), [1, 2]));
            }
        });
        assert_eq!(made.load(Ordering::Relaxed), 1);
        // Same key, other type: computed, not mistaken for the vector.
        assert_eq!(*cache.memo("k", || "text"), "text");
        assert!(!cache.is_wide());
        assert!(ProbeCache::wide().is_wide());
    }
}
