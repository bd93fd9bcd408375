//! Start failures: a failed takeover is not a permanent verdict.
//!
//! A start that failed here (a resource refused to come up: a mount, a
//! launcher) passes the placement to the next candidate (src/placement.rs skips
//! a node whose instance shows `start failed`), and this node tries again
//! after a back-off that doubles from [`FIRST_BACKOFF`] up to
//! [`MAX_BACKOFF`], like Pacemaker's failure-timeout: bounded, so nothing
//! loops, and never a record that needs a human. The record is dropped
//! when the service is seen up on any node (the failure is history), when
//! an operator freezes the service (the way to say "try again at once" is
//! freeze then thaw), and it survives a daemon restart (memory.rs) with
//! its retry time in wall-clock seconds, so a returning node cannot carry a
//! stale record past its time.
//!
//! A start refused because a resource is active elsewhere (the address
//! answers) is not a failure of this node: it is evidence that the service
//! runs somewhere this node cannot see. It is not recorded here; the
//! orchestrator looks again after [`CONFLICT_RETRY`] (shell.rs).

use std::time::Duration;

pub(crate) const FIRST_BACKOFF: Duration = Duration::from_secs(10);
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(300);
pub(crate) const CONFLICT_RETRY: Duration = Duration::from_secs(5);

/// One service's start failures on this node.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Failure {
    /// Failed starts in a row.
    pub count: u32,
    /// Wall-clock seconds since the epoch of the next try.
    pub retry_at: f64,
    /// What failed, for the log and svcmon.
    pub reason: String,
}

/// The back-off after the `count`th failure in a row.
pub(crate) fn backoff(count: u32) -> Duration {
    let doublings = count.saturating_sub(1).min(16);
    (FIRST_BACKOFF * 2u32.pow(doublings)).min(MAX_BACKOFF)
}

/// The record after one more failure at `now` (wall-clock seconds).
pub(crate) fn record(prev: Option<&Failure>, now: f64, reason: &str) -> Failure {
    let count = prev.map_or(0, |f| f.count).saturating_add(1);
    Failure {
        count,
        retry_at: now + backoff(count).as_secs_f64(),
        reason: reason.to_string(),
    }
}

impl Failure {
    /// Still holding this node out of the placement at `now`.
    pub(crate) fn active(&self, now: f64) -> bool {
        now < self.retry_at
    }

    /// Seconds left before the next try, rounded up, for people.
    pub(crate) fn retry_in(&self, now: f64) -> u64 {
        (self.retry_at - now).max(0.0).ceil() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_and_is_bounded() {
        let secs: Vec<u64> = (1..=8).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(secs, [10, 20, 40, 80, 160, 300, 300, 300]);
        assert_eq!(backoff(u32::MAX), MAX_BACKOFF);
    }

    #[test]
    fn a_record_counts_and_expires() {
        let f = record(None, 1000.0, "fs#0 failed");
        assert_eq!((f.count, f.retry_at), (1, 1010.0));
        assert!(f.active(1009.5) && !f.active(1010.0));
        assert_eq!(f.retry_in(1000.2), 10);
        let g = record(Some(&f), 1010.0, "fs#0 failed");
        assert_eq!((g.count, g.retry_at), (2, 1030.0));
        assert_eq!(g.retry_in(2000.0), 0);
    }
}
