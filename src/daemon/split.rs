//! What a node that lost quorum does to itself (`[node] split_action`):
//! the minority side of a split must stop running services before the
//! majority's grace ends and the majority starts them (quorum.rs).
//!
//! - `crash` (default, like 1.9 and om3): a kernel crash through
//!   `/proc/sysrq-trigger`. Instant, and nothing of this node — no stop
//!   script that hangs on a dead NFS mount, no unflushed page cache —
//!   can touch the shared data after the decision.
//! - `reboot`: `reboot(2)` `RB_AUTOBOOT`, no sync, for the same reason;
//!   for machines whose management board cannot power them back on after
//!   a crash (opensvc PR #263).
//! - `freezestop`: freezes the node, then stops every local service that
//!   is up through the normal action pipeline. The node survives, but a
//!   stop takes as long as it takes: the majority's grace does not bound
//!   it (see quorum.rs).
//! - `disabled`: only the log line.
//!
//! # Never the CI host
//!
//! The test lab's nodes are PID namespaces on the host. There, sysrq `c`
//! would crash the whole host, while `reboot(2)` from a non-initial PID
//! namespace only ends that namespace's init (the kernel's
//! `reboot_pid_ns`): the lab's power loss. So the sysrq crash is used only
//! when `/proc/self/status` proves this process is in the initial PID
//! namespace (`NStgid` has one field); a nested or unknown namespace gets
//! `reboot(2)`. Test builds of this crate cannot end anything at all.

use std::time::Duration;

use super::state::Shared;
use crate::action::{self, Action, Env, Opts};
use crate::log::Logger;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitAction {
    Crash,
    Reboot,
    FreezeStop,
    Disabled,
}

impl SplitAction {
    pub fn parse(v: &str) -> Option<SplitAction> {
        match v.trim().to_lowercase().as_str() {
            "crash" => Some(SplitAction::Crash),
            "reboot" => Some(SplitAction::Reboot),
            "freezestop" => Some(SplitAction::FreezeStop),
            "disabled" => Some(SplitAction::Disabled),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SplitAction::Crash => "crash",
            SplitAction::Reboot => "reboot",
            SplitAction::FreezeStop => "freezestop",
            SplitAction::Disabled => "disabled",
        }
    }
}

/// From `/proc/self/status`: Some(true) in the initial PID namespace
/// (`NStgid` has one pid), Some(false) in a nested one (one pid per
/// level), None when the kernel does not say (before 4.1).
pub fn initial_pid_ns(status: &str) -> Option<bool> {
    let line = status.lines().find(|l| l.starts_with("NStgid:"))?;
    let levels = line["NStgid:".len()..].split_whitespace().count();
    (levels > 0).then_some(levels == 1)
}

/// Runs `what`. Returns only for `freezestop` and `disabled`.
pub fn act(env: &Env, shared: &Shared, what: SplitAction, log: &Logger) {
    match what {
        SplitAction::Crash => crash(log),
        SplitAction::Reboot => reboot(log),
        SplitAction::FreezeStop => freezestop(env, shared, log),
        SplitAction::Disabled => {}
    }
}

fn freezestop(env: &Env, shared: &Shared, log: &Logger) {
    // Frozen first: from now on no orchestrator of this node starts anything.
    let flag = env.paths.frozen_node();
    if let Err(e) = std::fs::create_dir_all(&env.paths.var).and_then(|_| std::fs::write(&flag, b""))
    {
        log.error(format!(
            "split: cannot freeze the node ({}): {e}",
            flag.display()
        ));
    }
    let up: Vec<String> = shared
        .node
        .lock()
        .map(|n| {
            n.services
                .iter()
                .filter(|(_, s)| s.avail.as_str() != "down" && s.avail.as_str() != "n/a")
                .map(|(name, _)| name.clone())
                .collect()
        })
        .unwrap_or_default();
    let opts = Opts {
        cluster: true,
        split: true,
        waitlock: Duration::from_secs(60),
        ..Opts::default()
    };
    let stop_env = Env {
        paths: env.paths,
        nodename: env.nodename,
        runner: env.runner,
        opts: &opts,
        svcmgr_bin: env.svcmgr_bin.clone(),
    };
    for name in up {
        log.warn(format!("split: stopping {name}"));
        if action::run(&stop_env, &name, Action::Stop) != action::OK {
            log.error(format!("split: {name} did not stop: it may still run here"));
        }
    }
}

#[cfg(not(test))]
fn crash(log: &Logger) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    if initial_pid_ns(&status) == Some(true) {
        log.error("split: crashing the node (sysrq c)");
        // Only reached when this fails (no /proc, no permission).
        if let Err(e) = std::fs::write("/proc/sysrq-trigger", b"c") {
            log.error(format!(
                "split: sysrq crash failed ({e}): rebooting instead"
            ));
        }
    }
    reboot(log);
}

#[cfg(not(test))]
fn reboot(log: &Logger) {
    log.error("split: rebooting the node (reboot(2), no sync)");
    // Returns only on failure (no CAP_SYS_BOOT, seccomp).
    let Err(e) = nix::sys::reboot::reboot(nix::sys::reboot::RebootMode::RB_AUTOBOOT);
    log.error(format!(
        "split: reboot(2) failed ({e}): this node keeps running its services"
    ));
}

// Unit tests run on the developer's or CI's host: nothing may end it.
#[cfg(test)]
fn crash(_: &Logger) {
    panic!("a unit test reached the split crash");
}

#[cfg(test)]
fn reboot(_: &Logger) {
    panic!("a unit test reached the split reboot");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nstgid_tells_the_pid_namespace_level() {
        let host = "Name:\tsvcmgr\nTgid:\t4242\nNStgid:\t4242\nPid:\t4242\n";
        assert_eq!(initial_pid_ns(host), Some(true));
        let lab = "Name:\tsvcmgr\nTgid:\t4242\nNStgid:\t4242\t17\nPid:\t4242\n";
        assert_eq!(initial_pid_ns(lab), Some(false));
        let deeper = "NStgid:\t4242\t17\t3\n";
        assert_eq!(initial_pid_ns(deeper), Some(false));
        // An old kernel, or garbage: unknown, so never the sysrq crash.
        assert_eq!(initial_pid_ns("Name:\tx\nPid:\t1\n"), None);
        assert_eq!(initial_pid_ns("NStgid:\t\n"), None);
        assert_eq!(initial_pid_ns(""), None);
    }

    #[test]
    fn this_test_process_knows_its_namespace() {
        // Whatever the host: the real file parses (kernel >= 4.1).
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        assert!(initial_pid_ns(&status).is_some(), "{status}");
    }

    #[test]
    fn split_actions_parse() {
        for w in ["crash", "reboot", "freezestop", "disabled"] {
            assert_eq!(SplitAction::parse(w).map(|a| a.as_str()), Some(w));
        }
        assert_eq!(SplitAction::parse(" Crash "), Some(SplitAction::Crash));
        assert_eq!(SplitAction::parse("suicide"), None);
    }
}
