//! Heartbeats (spec cluster-1.9 §2): one `hb#N.tx` and one `hb#N.rx` thread
//! per `[hb#N]` section of node.conf. Unicast for now: every `interval` the
//! tx thread sends this node's dataset, sealed (wire.rs), over one TCP
//! connection to each peer of `[cluster] nodes`; the rx thread accepts on
//! `port` and, for each frame that authenticates, refreshes that peer.
//! A peer is lost when no heartbeat has brought anything from it for
//! `timeout` (`Shared::prune`).

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::state::Shared;
use super::wire::{self, Kind, Opener, Sealer};
use crate::config::duration::deadline;
use crate::config::ini::Ini;
use crate::log::Logger;
use crate::paths::Paths;

pub const DEFAULT_PORT: u16 = 10000;
/// Shipped defaults: a beat a second, a peer lost after 3 s of silence on
/// every heartbeat (1.9: 5 s and 15 s).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HbConf {
    /// The section name, `hb#1`.
    pub id: String,
    pub hb_type: String,
    pub port: u16,
    /// Disk heartbeats: the shared block device.
    pub dev: Option<String>,
    /// Multicast heartbeats: the group (default in hb_mcast.rs), as written.
    pub addr: Option<String>,
    /// Multicast heartbeats: the interface to send and join on (default any).
    pub intf: Option<String>,
    pub interval: Duration,
    pub timeout: Duration,
}

/// The cluster part of node.conf the daemon acts on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClusterConf {
    /// `[cluster] nodes`, this node included.
    pub nodes: Vec<String>,
    pub hbs: Vec<HbConf>,
}

/// A node.conf duration in seconds, `2`, `0.5` or `2s`; None when it is
/// not one from 0 to a day (config/duration.rs: larger values panic the
/// conversions and the deadlines made from them).
pub(super) fn parse_secs(v: &str) -> Option<Duration> {
    crate::config::duration::parse_secs(v, Duration::ZERO, crate::config::duration::MAX).ok()
}

/// Heartbeat periods must be positive.
fn secs(v: Option<&str>, default: Duration) -> Duration {
    v.and_then(parse_secs)
        .filter(|d| !d.is_zero())
        .unwrap_or(default)
}

fn nonempty(v: Option<String>) -> Option<String> {
    v.map(|d| d.trim().to_string()).filter(|d| !d.is_empty())
}

/// Reads `[cluster] nodes` and every `[hb#N]` (unknown types are logged
/// and skipped by the caller).
pub fn read_conf(paths: &Paths, nodename: &str) -> ClusterConf {
    let text = std::fs::read_to_string(paths.node_conf()).unwrap_or_default();
    let ini = Ini::parse(&text);
    let mut nodes: Vec<String> = ini
        .get("cluster", "nodes")
        .map(|f| {
            f.value
                .split_whitespace()
                .map(|n| n.to_lowercase())
                .collect()
        })
        .unwrap_or_default();
    if !nodes.iter().any(|n| n == nodename) {
        nodes.insert(0, nodename.to_string());
    }
    let hbs = ini
        .section_names()
        .into_iter()
        .filter(|s| s.starts_with("hb#"))
        .map(|s| {
            let get = |k: &str| ini.get(s, k).map(|f| f.value.to_string());
            HbConf {
                id: s.to_string(),
                hb_type: get("type").unwrap_or_default().to_lowercase(),
                port: get("port")
                    .and_then(|p| p.trim().parse().ok())
                    .unwrap_or(DEFAULT_PORT),
                dev: nonempty(get("dev")),
                addr: nonempty(get("addr")),
                intf: nonempty(get("intf")),
                interval: secs(get("interval").as_deref(), DEFAULT_INTERVAL),
                timeout: secs(get("timeout").as_deref(), DEFAULT_TIMEOUT),
            }
        })
        .collect();
    ClusterConf { nodes, hbs }
}

/// Sleeps until `deadline` in short steps, returning early on a stop.
pub(super) fn sleep_until(deadline: Instant, stop: &AtomicBool, shared: &Shared) {
    while Instant::now() < deadline && !stop.load(Ordering::Relaxed) && !shared.stopping() {
        std::thread::sleep(Duration::from_millis(50).min(deadline - Instant::now()));
    }
}

fn resolve(node: &str, port: u16) -> Option<SocketAddr> {
    (node, port).to_socket_addrs().ok()?.next()
}

/// The tx loop every network heartbeat shares: each `interval` until a
/// stop, seals this node's dataset and hands the frame to `send`, which
/// reports the peers' beats.
pub(super) fn beat_every(
    conf: &HbConf,
    tid: &str,
    sealer: &mut Sealer,
    shared: &Shared,
    stop: &AtomicBool,
    log: &Logger,
    mut send: impl FnMut(&[u8]),
) {
    while !stop.load(Ordering::Relaxed) && !shared.stopping() {
        let started = Instant::now();
        // Alive and beating, whether or not the network carries it: the
        // watchdog's gate (watchdog.rs).
        shared.tick(&conf.id, |t, now| t.beat = Some(now));
        let payload = shared.local_dataset().to_string();
        match sealer.seal(Kind::Heartbeat, payload.as_bytes()) {
            Ok(frame) => send(&frame),
            Err(e) => log.error(format!("{tid}: cannot seal the heartbeat: {e}")),
        }
        sleep_until(deadline(started, conf.interval), stop, shared);
    }
}

/// `hb#N.tx`: beats until `stop`.
pub fn tx(
    conf: HbConf,
    peers: Vec<String>,
    mut sealer: Sealer,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    log: Logger,
) {
    let tid = format!("{}.tx", conf.id);
    // Each send is bounded by the interval: a peer behind a cut cable
    // (connect waits for a SYN answer that never comes) must not delay the
    // beats to the others, nor the next beat.
    let budget = conf.interval.min(Duration::from_secs(1));
    beat_every(&conf, &tid, &mut sealer, &shared, &stop, &log, |frame| {
        std::thread::scope(|s| {
            for peer in &peers {
                let (tid, shared) = (&tid, &shared);
                s.spawn(move || {
                    let ok = resolve(peer, conf.port)
                        .and_then(|a| TcpStream::connect_timeout(&a, budget).ok())
                        .is_some_and(|mut s| {
                            let _ = s.set_write_timeout(Some(budget));
                            wire::write_frame(&mut s, frame).is_ok() && s.flush().is_ok()
                        });
                    shared.beat(tid, peer, ok);
                });
            }
        });
    });
}

/// What every network rx does with one opened (or refused) frame: a peer's
/// heartbeat refreshes it; our own frame, reflected or looped back, and
/// other kinds are dropped; a refusal is logged and counted.
pub(super) fn deliver(
    tid: &str,
    result: Result<wire::Opened, wire::WireError>,
    opener: &Opener,
    shared: &Shared,
    log: &Logger,
) {
    match result {
        Ok(o) if o.nodename == shared.nodename || o.kind != Kind::Heartbeat => {}
        Ok(o) => {
            let data = serde_json::from_slice(&o.payload).unwrap_or(serde_json::Value::Null);
            shared.received(tid, &o.nodename, data);
        }
        Err(wire::WireError::Closed) => {}
        Err(e) => log.warn(format!("{tid}: {e}")),
    }
    shared.set_rejections(tid, opener.stats.total());
}

/// `hb#N.rx`: accepts heartbeats until `stop`.
pub fn rx(
    conf: HbConf,
    mut opener: Opener,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    log: Logger,
) {
    let tid = format!("{}.rx", conf.id);
    let listener = match TcpListener::bind(("0.0.0.0", conf.port)) {
        Ok(l) => l,
        Err(e) => {
            log.error(format!(
                "{tid}: cannot listen on 0.0.0.0:{}: {e}",
                conf.port
            ));
            shared.set_thread(&tid, "stopped", &format!("0.0.0.0:{}", conf.port));
            return;
        }
    };
    // Non-blocking accept, polled, so that a stop or a reload is noticed.
    let _ = listener.set_nonblocking(true);
    while !stop.load(Ordering::Relaxed) && !shared.stopping() {
        match listener.accept() {
            Ok((mut s, _)) => {
                let _ = s.set_nonblocking(false);
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                // open() counts its own refusals; a bad stream is counted here.
                let result = match wire::read_frame(&mut s) {
                    Ok(frame) => opener.open(&frame),
                    Err(e) => {
                        if !matches!(e, wire::WireError::Closed) {
                            opener.stats.record(&e);
                        }
                        Err(e)
                    }
                };
                deliver(&tid, result, &opener, &shared, &log);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// What changed between two heartbeat configurations.
pub fn diff(old: &[HbConf], new: &[HbConf]) -> (Vec<HbConf>, Vec<String>) {
    let by_id = |v: &[HbConf]| -> BTreeMap<String, HbConf> {
        v.iter().map(|h| (h.id.clone(), h.clone())).collect()
    };
    let (o, n) = (by_id(old), by_id(new));
    let start = n
        .values()
        .filter(|h| o.get(&h.id) != Some(h))
        .cloned()
        .collect();
    let stop = o
        .values()
        .filter(|h| n.get(&h.id) != Some(h))
        .map(|h| h.id.clone())
        .collect();
    (start, stop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_conf_gives_the_nodes_and_heartbeats() {
        let d = tempfile::tempdir().unwrap();
        let paths = Paths::under(d.path());
        std::fs::create_dir_all(&paths.etc).unwrap();
        assert_eq!(read_conf(&paths, "node1").nodes, ["node1"]);
        std::fs::write(
            paths.node_conf(),
            "[cluster]\nnodes = node2 NODE1\n[hb#1]\ntype = unicast\n[hb#2]\ntype = unicast\nport = 10001\ninterval = 0.5\ntimeout = 2s\n",
        )
        .unwrap();
        let c = read_conf(&paths, "node1");
        assert_eq!(c.nodes, ["node2", "node1"]);
        assert_eq!(
            c.hbs[0],
            HbConf {
                id: "hb#1".into(),
                hb_type: "unicast".into(),
                port: 10000,
                dev: None,
                addr: None,
                intf: None,
                interval: DEFAULT_INTERVAL,
                timeout: DEFAULT_TIMEOUT
            }
        );
        assert_eq!(
            (c.hbs[1].port, c.hbs[1].interval, c.hbs[1].timeout),
            (10001, Duration::from_millis(500), Duration::from_secs(2))
        );
    }

    #[test]
    fn multicast_takes_its_group_and_interface() {
        let d = tempfile::tempdir().unwrap();
        let paths = Paths::under(d.path());
        std::fs::create_dir_all(&paths.etc).unwrap();
        std::fs::write(
            paths.node_conf(),
            "[hb#1]\ntype = Multicast\n[hb#2]\ntype = multicast\naddr = 239.0.0.9 \nintf = eth1\nport = 10002\nfoo = ignored\n",
        )
        .unwrap();
        let c = read_conf(&paths, "node1");
        let got: Vec<_> = c
            .hbs
            .iter()
            .map(|h| {
                (
                    h.hb_type.as_str(),
                    h.addr.as_deref(),
                    h.intf.as_deref(),
                    h.port,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("multicast", None, None, 10000),
                ("multicast", Some("239.0.0.9"), Some("eth1"), 10002)
            ]
        );
    }

    #[test]
    fn a_changed_section_is_restarted_and_a_removed_one_stopped() {
        let hb = |id: &str, port| HbConf {
            id: id.into(),
            hb_type: "unicast".into(),
            port,
            dev: None,
            addr: None,
            intf: None,
            interval: DEFAULT_INTERVAL,
            timeout: DEFAULT_TIMEOUT,
        };
        let (start, stop) = diff(
            &[hb("hb#1", 1), hb("hb#2", 2)],
            &[hb("hb#1", 1), hb("hb#2", 3), hb("hb#3", 4)],
        );
        assert_eq!(
            start.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(),
            ["hb#2", "hb#3"]
        );
        assert_eq!(stop, ["hb#2"]);
    }
}
