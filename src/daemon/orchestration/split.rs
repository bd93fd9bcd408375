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
//! when this process is proven to be in the initial PID namespace: its
//! `/proc/self/ns/pid` link names the kernel's fixed inode for it,
//! `pid:[4026531836]` (`PROC_PID_INIT_INO`, include/linux/proc_ns.h, since
//! 3.8). A nested namespace, or a link that cannot be read, gets
//! `reboot(2)`.
//!
//! Not `NStgid` in `/proc/self/status`, which looks like the obvious test
//! (one pid per namespace level): it lists the levels from the namespace
//! of the *procfs mount* down, and a lab node (like any container) mounts
//! its own /proc, so there it shows one pid, exactly as on the host
//! (measured). The ns link is resolved for the caller, whatever /proc is
//! mounted.
//!
//! Test builds of this crate cannot end anything at all.

use crate::action::Env;
use crate::daemon::state::Shared;
use crate::log::Logger;

/// What to do on losing quorum: a node.conf value, typed in config/node.rs.
pub(crate) use crate::config::node::SplitAction;

/// The initial PID namespace's inode (`PROC_PID_INIT_INO`, 0xEFFFFFFC):
/// fixed by the kernel, never given to another namespace.
const INIT_PID_NS: &str = "pid:[4026531836]";

/// True only for the `/proc/self/ns/pid` link of a process in the
/// initial PID namespace; anything else (nested, unreadable) is false.
pub(crate) fn initial_pid_ns(ns_link: &str) -> bool {
    ns_link.trim() == INIT_PID_NS
}

#[cfg(not(test))]
fn relocated_on_the_host() -> bool {
    std::env::var_os("OSVC_ROOT_PATH").is_some_and(|r| !r.is_empty())
        && initial_pid_ns(&own_pid_ns())
}

#[cfg(test)]
fn relocated_on_the_host() -> bool {
    false
}

fn own_pid_ns() -> String {
    std::fs::read_link("/proc/self/ns/pid")
        .map(|l| l.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Runs `what`. Returns only for `freezestop` and `disabled` (and when
/// ending the node failed or was refused).
pub(crate) fn act(env: &Env, shared: &Shared, what: SplitAction, log: &Logger) {
    match what {
        SplitAction::Crash | SplitAction::Reboot => end_node(what, "split", log),
        SplitAction::FreezeStop => freezestop(env, shared, log),
        SplitAction::Disabled => {}
    }
}

/// Crashes or reboots this node (`crash` or `reboot`; any other action is
/// ignored), with the same guards as the split action: never the host of a
/// tier-2 test, sysrq only in the initial PID namespace. `why` starts every
/// log line (`split`, or the service and resource of a monitor action).
/// Returns only when ending the node was refused or failed.
pub(crate) fn end_node(what: SplitAction, why: &str, log: &Logger) {
    if !matches!(what, SplitAction::Crash | SplitAction::Reboot) {
        return;
    }
    if relocated_on_the_host() {
        // A daemon under OSVC_ROOT_PATH in the initial PID namespace is
        // the tier-2 test set-up (or a developer's sandbox): it shares the
        // host with everything else, which it must not crash or reboot.
        log.error(format!(
            "{why}: not ending the host: this daemon runs under OSVC_ROOT_PATH outside a node's PID namespace ({} refused)",
            what.as_str()
        ));
        return;
    }
    if what == SplitAction::Crash {
        crash(why, log);
    } else {
        reboot(why, log);
    }
}

fn freezestop(env: &Env, shared: &Shared, log: &Logger) {
    // Frozen first: from now on no orchestrator of this node starts anything.
    if let Err(e) = crate::action::freeze::freeze_node(env.paths) {
        log.error(format!("split: cannot freeze the node: {e}"));
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
    for name in up {
        log.warn(format!("split: stopping {name}"));
        super::actions::stop_frozen(env, &name, &format!("split: {name}"), log);
    }
}

#[cfg(not(test))]
fn crash(why: &str, log: &Logger) {
    if initial_pid_ns(&own_pid_ns()) {
        log.error(format!("{why}: crashing the node (sysrq c)"));
        // Only reached when this fails (no /proc, no permission).
        if let Err(e) = std::fs::write("/proc/sysrq-trigger", b"c") {
            log.error(format!(
                "{why}: sysrq crash failed ({e}): rebooting instead"
            ));
        }
    }
    reboot(why, log);
}

#[cfg(not(test))]
fn reboot(why: &str, log: &Logger) {
    log.error(format!("{why}: rebooting the node (reboot(2), no sync)"));
    // Returns only on failure (no CAP_SYS_BOOT, seccomp).
    let Err(e) = nix::sys::reboot::reboot(nix::sys::reboot::RebootMode::RB_AUTOBOOT);
    log.error(format!(
        "{why}: reboot(2) failed ({e}): this node keeps running its services"
    ));
}

// Unit tests run on the developer's or CI's host: nothing may end it.
#[cfg(test)]
fn crash(_: &str, _: &Logger) {
    panic!("a unit test reached the node crash");
}

#[cfg(test)]
fn reboot(_: &str, _: &Logger) {
    panic!("a unit test reached the node reboot");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_kernels_initial_pid_namespace_is_initial() {
        assert!(initial_pid_ns("pid:[4026531836]"));
        assert!(initial_pid_ns("pid:[4026531836]\n"));
        // A lab node's (measured: pid:[4026532681]), any container's.
        assert!(!initial_pid_ns("pid:[4026532681]"));
        // Unreadable: never the sysrq crash.
        assert!(!initial_pid_ns(""));
        assert!(!initial_pid_ns("net:[4026531836]"));
        assert!(!initial_pid_ns("pid:[4026531836"));
    }

    #[test]
    fn this_test_process_reads_its_namespace_link() {
        let link = own_pid_ns();
        assert!(
            link.starts_with("pid:[") && link.ends_with(']'),
            "unexpected /proc/self/ns/pid: {link:?}"
        );
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
