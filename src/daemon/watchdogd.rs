//! The watchdog supervisor (`nodemgr daemon watchdog`): a separate,
//! minimal process that resets the node when the agent stops petting it
//! (watchdog.rs says when the agent pets). It is separate so that it
//! survives what it guards against: a SIGKILL, an OOM kill, a SIGSTOP or a
//! deadlock of the agent. The agent starts it when none answers; it
//! outlives the agent, so that systemd's restart of a crashed agent finds
//! it still armed and pets it again in time.
//!
//! Protocol, datagrams on `<var>/lsnr/watchdog.sock` (a root-only
//! directory): `pet <ms>` arms it, or pushes the deadline `<ms>` from now;
//! `disarm` (a clean daemon stop) ends it without resetting anything.
//!
//! Reset: `reboot(2)` with no sync, through orchestration/split.rs's guarded path: in a
//! lab node (a PID namespace) that ends the node, never the host; a daemon
//! under `OSVC_ROOT_PATH` on the host (tier-2 tests) only logs it. Memory
//! is locked and the scheduling class raised when the system allows it,
//! so that a loaded machine does not delay the reset or a pet's reading.

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::time::{Duration, Instant};

use super::orchestration::split::{self, SplitAction};
use crate::log::Logger;
use crate::paths::Paths;

/// An unarmed supervisor that nobody pets for this long exits: an agent
/// that started it and died at once.
const IDLE_EXIT: Duration = Duration::from_secs(60);

/// What one datagram asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Msg {
    Pet(Duration),
    Disarm,
}

pub(crate) fn parse(msg: &[u8]) -> Option<Msg> {
    let text = std::str::from_utf8(msg).ok()?.trim();
    if text == "disarm" {
        return Some(Msg::Disarm);
    }
    let ms: u64 = text.strip_prefix("pet ")?.trim().parse().ok()?;
    (ms > 0 && ms <= 600_000).then(|| Msg::Pet(Duration::from_millis(ms)))
}

/// Runs until disarmed; returns the exit code.
pub(crate) fn run(paths: &Paths) -> i32 {
    let log = Logger::named("node", "watchdog");
    let path = super::watchdog::socket_path(paths);
    let sock = match bind(&path) {
        Ok(Some(s)) => s,
        Ok(None) => return 0, // another supervisor answers: nothing to do
        Err(e) => {
            log.error(format!("cannot listen on {}: {e}", path.display()));
            return 1;
        }
    };
    harden(&log);
    // Written now, so the log stays open: a reset logged into a root that
    // was removed meanwhile (a test's) goes to the open file instead of
    // making its directories again.
    log.info(format!(
        "supervising the agent (supervisor pid {})",
        std::process::id()
    ));
    let started = Instant::now();
    let mut deadline: Option<(Instant, Duration)> = None;
    let mut buf = [0u8; 64];
    loop {
        let wait = match deadline {
            Some((d, _)) => d.saturating_duration_since(Instant::now()),
            None => IDLE_EXIT.saturating_sub(started.elapsed()),
        };
        if wait.is_zero() {
            let Some((_, timeout)) = deadline else {
                let _ = std::fs::remove_file(&path);
                return 0;
            };
            log.error(format!(
                "the agent did not pet the watchdog for {:.2}s (dead, hung, or its heartbeats stalled): resetting the node",
                timeout.as_secs_f64()
            ));
            split::end_node(SplitAction::Reboot, "watchdog", &log);
            // Only reached when the reset was refused (a tier-2 daemon on
            // the host) or failed: nothing more this process can do.
            let _ = std::fs::remove_file(&path);
            return 1;
        }
        let _ = sock.set_read_timeout(Some(wait));
        let Ok(n) = sock.recv(&mut buf) else {
            continue;
        };
        match parse(&buf[..n]) {
            Some(Msg::Pet(t)) => deadline = Some((Instant::now() + t, t)),
            Some(Msg::Disarm) => {
                log.info("disarmed by the agent: exiting");
                let _ = std::fs::remove_file(&path);
                return 0;
            }
            None => {}
        }
    }
}

/// Binds the socket; None when a live supervisor already owns it (a stale
/// file left by a dead one is replaced).
fn bind(path: &Path) -> std::io::Result<Option<UnixDatagram>> {
    if let Some(dir) = path.parent() {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    match UnixDatagram::bind(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            // An empty datagram changes nothing for a live supervisor.
            let probe = UnixDatagram::unbound()?;
            if probe.send_to(b"", path).is_ok() {
                return Ok(None);
            }
            std::fs::remove_file(path)?;
            UnixDatagram::bind(path).map(Some)
        }
        Err(e) => Err(e),
    }
}

/// Locked in memory, first in the run queue, last for the OOM killer:
/// each where the system allows it, logged where not.
fn harden(log: &Logger) {
    // SAFETY: plain system calls on this process, with valid arguments.
    unsafe {
        if libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE) != 0 {
            log.warn(format!(
                "mlockall: {}: a swapped-out supervisor may reset late",
                std::io::Error::last_os_error()
            ));
        }
        let param = libc::sched_param { sched_priority: 50 };
        if libc::sched_setscheduler(0, libc::SCHED_FIFO, &raw const param) != 0 {
            log.warn(format!(
                "SCHED_FIFO: {}: a loaded machine may delay the reset",
                std::io::Error::last_os_error()
            ));
        }
    }
    let _ = std::fs::write("/proc/self/oom_score_adj", b"-1000");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_parse_and_nonsense_is_ignored() {
        assert_eq!(parse(b"pet 2000"), Some(Msg::Pet(Duration::from_secs(2))));
        assert_eq!(parse(b"disarm\n"), Some(Msg::Disarm));
        for bad in [
            &b""[..],
            b"pet",
            b"pet 0",
            b"pet -5",
            b"pet 9999999",
            b"pet 1e3",
            b"reset",
            b"\xff\xfe",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_second_supervisor_leaves_the_live_one_alone_and_a_stale_socket_is_replaced() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("lsnr").join("watchdog.sock");
        let first = bind(&path).unwrap().expect("bound");
        assert!(bind(&path).unwrap().is_none(), "a live one answers");
        drop(first);
        assert!(bind(&path).unwrap().is_some(), "a stale file is replaced");
    }
}
