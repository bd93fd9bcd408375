//! The daemon's own svcmgr actions, run in-process: as `--cluster` (they
//! carry out the cluster's decisions; they are not administrator orders,
//! action/order.rs), waiting up to a minute for the service's lock (an
//! administrator's action may hold it).

use std::time::Duration;

use crate::action::{self, Action, Env, Opts};
use crate::log::Logger;

/// How the daemon runs `action`.
#[derive(Debug, Clone, Default)]
pub(crate) struct How {
    /// Only these resources (`--rid`).
    pub rids: Vec<String>,
    /// On an instance the daemon has just frozen (a cluster-wide stop, a
    /// monitor or split action): freezing first keeps every daemon from
    /// starting it meanwhile, so the frozen gate must let this one by.
    pub frozen_ok: bool,
}

/// True when the action succeeded.
pub(crate) fn run(env: &Env, svc: &str, action: Action, how: How) -> bool {
    outcome(env, svc, action, how).code == action::OK
}

/// The action's outcome: for a start, why it did not complete.
pub(crate) fn outcome(env: &Env, svc: &str, action: Action, how: How) -> action::Outcome {
    let opts = Opts {
        cluster: true,
        waitlock: Duration::from_secs(60),
        rids: how.rids,
        frozen_ok: how.frozen_ok,
        ..Opts::default()
    };
    action::run_outcome(&env.with_opts(&opts), svc, action)
}

/// The stop of an instance the daemon has just frozen, logged under `why`
/// (what asked for it); true when it worked.
pub(crate) fn stop_frozen(env: &Env, svc: &str, why: &str, log: &Logger) -> bool {
    let how = How {
        frozen_ok: true,
        ..How::default()
    };
    let ok = run(env, svc, Action::Stop, how);
    if ok {
        log.info(format!("{why}: frozen and stopped here"));
    } else {
        log.error(format!(
            "{why}: the stop failed here, so the service may still run here: see {}",
            env.paths.svc_log(svc).display()
        ));
    }
    ok
}
