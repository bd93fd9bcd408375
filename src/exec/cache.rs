//! One status pass runs each read-only probe command once: several ip
//! resources share one `ip addr`, vg resources their listings. Never used
//! by start or stop, where the answers change under our feet.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use super::{Cmd, ExecError, Output, Runner, run_quiet};
use crate::log::Logger;

type Slot = Arc<OnceLock<Result<Output, ExecError>>>;

#[derive(Default)]
pub(crate) struct ProbeCache {
    slots: Mutex<HashMap<Vec<String>, Slot>>,
}

impl ProbeCache {
    pub(crate) fn new() -> ProbeCache {
        ProbeCache::default()
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
}
