//! The scheduler: what cron's `nodemgr syncservices` does, from inside the
//! daemon — every minute each service's `syncall --cron`, which its own
//! schedule (sync_period, sync_interval, sync_days) usually skips at once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::state::Shared;
use crate::action::{self, Action, Env};
use crate::config;

pub(crate) const INTERVAL: Duration = Duration::from_secs(60);

pub(crate) fn run(env: &Env, shared: Arc<Shared>) {
    let mut next = Instant::now() + INTERVAL;
    while !shared.stopping() {
        if Instant::now() >= next {
            for name in config::list_services(env.paths) {
                if shared.stop_requested() {
                    break;
                }
                action::run(env, &name, Action::SyncAll);
            }
            next = Instant::now() + INTERVAL;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
