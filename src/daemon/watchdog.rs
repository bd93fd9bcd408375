//! Self-fencing, the agent's side: a dead or hung agent must not leave its
//! node running services that the peers would then start elsewhere.
//!
//! The peers cannot see an agent's services, only its heartbeats. When
//! every heartbeat of a node falls silent, its disk slot included, the
//! agent stopped, but its services may run on (a SIGKILL, an OOM kill, a
//! SIGSTOP, a deadlock). So, as sbd does for Pacemaker, the agent arms a
//! watchdog: a small supervisor process (watchdogd.rs) that resets the node
//! unless the agent pets it every [`PET_EVERY`]; and the agent pets it only
//! while its heartbeats work ([`fresh`]). Silence then implies death within
//! a bound the node advertises in its heartbeat dataset (`watchdog`, in
//! seconds, see [`advertised`]): at most that long after its last disk
//! write (or beat), the node has been reset. The peers count a silent disk
//! slot as proof only once that much time has passed (orchestration/proof.rs).
//!
//! The gate, checked before every pet:
//! - some heartbeat's tx loop ran within its interval and [`slack`]: the
//!   agent beats (whether or not the network carries it);
//! - every disk heartbeat that wrote its slot in this agent's life, or any
//!   disk heartbeat at all while a service may run here, wrote it within
//!   its interval and slack: a node whose slot stops changing may be taken
//!   for dead, so it must die.
//!
//! `[node] watchdog = false` turns it off: the node then advertises no
//! watchdog, and its peers take its services over only on a stonith or a
//! quorum proof... which also needs the watchdog: so, only on stonith.
//! A clean `nodemgr daemon stop` disarms it (the node announced
//! maintenance, and is never taken over). systemd's restart of a crashed
//! agent (Restart=on-failure, 100 ms) fits in the timeout: the supervisor
//! outlives the agent, and the new agent pets it.

use std::collections::BTreeMap;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::hb::{HbConf, HbMedium};
use super::state::{Shared, Ticks};
use crate::config::node::NodeConfig;
use crate::exec::{Cmd, RealRunner};
use crate::log::Logger;
use crate::paths::Paths;

/// How often the agent pets the supervisor while the gate holds.
pub(crate) const PET_EVERY: Duration = Duration::from_millis(100);

/// `[node] watchdog_timeout` default: a pause of the agent longer than this
/// (after its heartbeats last worked) resets the node.
pub(crate) use crate::config::node::DEFAULT_WATCHDOG_TIMEOUT as DEFAULT_TIMEOUT;

/// How often a supervisor that does not answer is started again.
const SPAWN_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Conf {
    pub enabled: bool,
    pub timeout: Duration,
}

impl Default for Conf {
    fn default() -> Conf {
        Conf {
            enabled: true,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl Conf {
    /// `[node] watchdog` and `watchdog_timeout` (bounds in
    /// node_keywords.rs: a bad value never reaches the daemon).
    pub(crate) fn of(conf: &NodeConfig) -> Conf {
        Conf {
            enabled: conf.node.watchdog,
            timeout: conf.node.watchdog_timeout,
        }
    }
}

/// How late a heartbeat's loop may run past its interval before it counts
/// as stalled: half an interval, at least 100 ms.
pub(crate) fn slack(interval: Duration) -> Duration {
    (interval / 2).max(Duration::from_millis(100))
}

fn within(at: Option<Instant>, limit: Duration, now: Instant) -> bool {
    at.is_some_and(|t| now.saturating_duration_since(t) <= limit)
}

/// The gate: may the agent pet the watchdog at `now`? `services_may_run`:
/// a local service is up, or the monitor has not probed them yet. Err
/// says why not, for the log.
pub(crate) fn fresh(
    hbs: &[HbConf],
    ticks: &BTreeMap<String, Ticks>,
    services_may_run: bool,
    now: Instant,
) -> Result<(), String> {
    if hbs.is_empty() {
        // No heartbeat: no peer hears this node, none takes anything over.
        return Ok(());
    }
    let tick = |h: &HbConf| ticks.get(&h.id).copied().unwrap_or_default();
    let limit = |h: &HbConf| h.interval + slack(h.interval);
    if !hbs.iter().any(|h| within(tick(h).beat, limit(h), now)) {
        return Err("no heartbeat has beaten within its interval".into());
    }
    let stale: Vec<String> = hbs
        .iter()
        .filter(|h| h.medium == HbMedium::Disk)
        .filter(|h| services_may_run || tick(h).written.is_some())
        .filter(|h| !within(tick(h).written, limit(h), now))
        .map(|h| match tick(h).written {
            Some(w) => format!(
                "{} has not written its slot for {:.1}s",
                h.id,
                now.saturating_duration_since(w).as_secs_f64()
            ),
            None => format!(
                "{} has not written its slot, while a service may run here",
                h.id
            ),
        })
        .collect();
    if stale.is_empty() {
        Ok(())
    } else {
        Err(stale.join(", "))
    }
}

/// What this node promises its peers: at most this long after its last
/// disk write (or beat), it has been reset if its agent stopped. The gate
/// closes at most an interval and its slack after that write, and the
/// supervisor resets the node `timeout` after the last pet.
pub(crate) fn advertised(conf: &Conf, hbs: &[HbConf]) -> Duration {
    let gate = hbs
        .iter()
        .map(|h| h.interval + slack(h.interval))
        .max()
        .unwrap_or_default();
    gate + conf.timeout
}

/// The supervisor's socket, beside the local listener's (root only).
pub(crate) fn socket_path(paths: &Paths) -> PathBuf {
    paths.var.join("lsnr").join("watchdog.sock")
}

/// The agent's link to its supervisor.
pub(crate) struct Watchdog {
    path: PathBuf,
    sock: Option<UnixDatagram>,
    armed: bool,
    spawned: Option<Instant>,
    said_unarmed: bool,
    /// Since when the gate has been closed (logged once).
    closed: Option<Instant>,
    log: Logger,
}

impl Watchdog {
    pub(crate) fn new(paths: &Paths, log: &Logger) -> Watchdog {
        Watchdog {
            path: socket_path(paths),
            sock: UnixDatagram::unbound().ok(),
            armed: false,
            spawned: None,
            said_unarmed: false,
            closed: None,
            log: log.clone(),
        }
    }

    fn send(&self, msg: &str) -> std::io::Result<()> {
        let sock = self
            .sock
            .as_ref()
            .ok_or_else(|| std::io::Error::other("no socket"))?;
        sock.send_to(msg.as_bytes(), &self.path).map(|_| ())
    }

    /// One look, every [`PET_EVERY`]: pets when the gate holds, starts the
    /// supervisor when none answers, and sets what the node advertises.
    pub(crate) fn tick(&mut self, conf: &Conf, hbs: &[HbConf], shared: &Shared) {
        if !conf.enabled {
            if self.armed {
                self.disarm(shared);
                self.log.warn("watchdog turned off in node.conf: disarmed");
            }
            return;
        }
        let now = Instant::now();
        if let Err(why) = fresh(hbs, &shared.ticks(), shared.services_may_run(), now) {
            // Not petted: if this lasts, the supervisor resets the node.
            if self.armed && self.closed.is_none() {
                self.log.warn(format!(
                    "watchdog not petted: {why}: the node is reset if this lasts {:.2}s",
                    conf.timeout.as_secs_f64()
                ));
                self.closed = Some(now);
            }
            return;
        }
        if let Some(since) = self.closed.take() {
            self.log.info(format!(
                "watchdog petted again after {:.2}s",
                now.saturating_duration_since(since).as_secs_f64()
            ));
        }
        let msg = format!("pet {}", conf.timeout.as_millis());
        match self.send(&msg) {
            Ok(()) => {
                if !self.armed {
                    self.log.info(format!(
                        "watchdog armed: this node resets itself {:.2}s after its agent stops petting it",
                        conf.timeout.as_secs_f64()
                    ));
                }
                self.armed = true;
                self.said_unarmed = false;
                shared.set_promise(Some(advertised(conf, hbs)));
            }
            Err(e) => {
                // No supervisor (first start, or it died): until one
                // answers, this node promises nothing.
                shared.set_promise(None);
                if self.armed || !self.said_unarmed {
                    self.log.warn(format!(
                        "watchdog supervisor not answering on {} ({e}): starting one",
                        self.path.display()
                    ));
                    self.said_unarmed = true;
                }
                self.armed = false;
                if self.spawned.is_none_or(|t| t.elapsed() >= SPAWN_EVERY) {
                    self.spawned = Some(now);
                    spawn_supervisor(&self.log);
                }
            }
        }
    }

    /// A clean stop: the supervisor exits without resetting anything.
    pub(crate) fn disarm(&mut self, shared: &Shared) {
        shared.set_promise(None);
        if self.armed && self.send("disarm").is_ok() {
            self.log.info("watchdog disarmed");
        }
        self.armed = false;
    }
}

fn spawn_supervisor(log: &Logger) {
    let me = crate::action::svcmgr_bin();
    let cmd = Cmd::new([me.display().to_string(), "daemon".into(), "watchdog".into()]);
    if let Err(e) = RealRunner::new().spawn_detached(&cmd, "nodemgr") {
        log.error(format!("cannot start the watchdog supervisor: {e}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hb(id: &str, kind: &str, interval_ms: u64) -> HbConf {
        HbConf {
            id: id.into(),
            medium: HbMedium::parse(kind).unwrap(),
            port: 10000,
            dev: None,
            addr: None,
            intf: None,
            interval: Duration::from_millis(interval_ms),
            timeout: Duration::from_millis(3 * interval_ms),
        }
    }

    fn is_open(
        hbs: &[HbConf],
        ticks: &BTreeMap<String, Ticks>,
        services: bool,
        now: Instant,
    ) -> bool {
        fresh(hbs, ticks, services, now).is_ok()
    }

    #[test]
    fn a_closed_gate_says_why() {
        let now = Instant::now();
        let hbs = [hb("hb#1", "unicast", 1000), hb("hb#2", "disk", 1000)];
        let t = ticks(&[
            (
                "hb#1",
                Ticks {
                    beat: Some(now),
                    ..Ticks::default()
                },
            ),
            (
                "hb#2",
                Ticks {
                    beat: Some(now),
                    written: Some(now.checked_sub(Duration::from_millis(2500)).unwrap()),
                    ..Ticks::default()
                },
            ),
        ]);
        assert_eq!(
            fresh(&hbs, &t, true, now),
            Err("hb#2 has not written its slot for 2.5s".into())
        );
        assert_eq!(
            fresh(&hbs, &BTreeMap::new(), true, now),
            Err("no heartbeat has beaten within its interval".into())
        );
    }

    fn ticks(v: &[(&str, Ticks)]) -> BTreeMap<String, Ticks> {
        v.iter().map(|(k, t)| (k.to_string(), *t)).collect()
    }

    #[test]
    fn no_heartbeat_no_gate() {
        assert!(is_open(&[], &BTreeMap::new(), true, Instant::now()));
    }

    #[test]
    fn a_beating_network_heartbeat_opens_the_gate_and_a_stalled_one_closes_it() {
        let now = Instant::now();
        let hbs = [hb("hb#1", "unicast", 1000)];
        let at = |ago| Ticks {
            beat: Some(now.checked_sub(Duration::from_millis(ago)).unwrap()),
            ..Ticks::default()
        };
        assert!(is_open(&hbs, &ticks(&[("hb#1", at(1400))]), true, now));
        assert!(!is_open(&hbs, &ticks(&[("hb#1", at(1600))]), true, now));
        assert!(!is_open(&hbs, &BTreeMap::new(), true, now));
    }

    #[test]
    fn a_disk_that_stops_being_written_closes_the_gate() {
        let now = Instant::now();
        let hbs = [hb("hb#1", "unicast", 1000), hb("hb#2", "disk", 1000)];
        let net = Ticks {
            beat: Some(now),
            ..Ticks::default()
        };
        let disk = |ago: Option<u64>| Ticks {
            beat: Some(now),
            written: ago.map(|a| now.checked_sub(Duration::from_millis(a)).unwrap()),
            ..Ticks::default()
        };
        // Written lately: open.
        let t = ticks(&[("hb#1", net), ("hb#2", disk(Some(200)))]);
        assert!(is_open(&hbs, &t, true, now));
        // Written once, not lately: closed, services or not.
        let t = ticks(&[("hb#1", net), ("hb#2", disk(Some(5000)))]);
        assert!(!is_open(&hbs, &t, false, now));
        // Never written in this life: only matters while services may run.
        let t = ticks(&[("hb#1", net), ("hb#2", disk(None))]);
        assert!(is_open(&hbs, &t, false, now));
        assert!(!is_open(&hbs, &t, true, now));
    }

    #[test]
    fn the_promise_is_the_slowest_gate_plus_the_timeout() {
        let conf = Conf::default();
        let hbs = [hb("hb#1", "unicast", 1000), hb("hb#2", "disk", 200)];
        assert_eq!(advertised(&conf, &hbs), Duration::from_millis(2500));
        let fast = [hb("hb#1", "unicast", 200)];
        let c = Conf {
            enabled: true,
            timeout: Duration::from_millis(500),
        };
        assert_eq!(advertised(&c, &fast), Duration::from_millis(800));
    }

    #[test]
    fn node_conf_sets_it() {
        let conf = |t: &str| Conf::of(&NodeConfig::parse(std::path::Path::new("node.conf"), t));
        assert_eq!(conf(""), Conf::default());
        assert_eq!(
            conf("[node]\nwatchdog = false\nwatchdog_timeout = 4\n"),
            Conf {
                enabled: false,
                timeout: Duration::from_secs(4)
            }
        );
    }
}
