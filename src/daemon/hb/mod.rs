//! Heartbeats (docs/behaviour.md, "Heartbeats"): one `hb#N.tx` and one `hb#N.rx` thread
//! per `[hb#N]` section of node.conf. Unicast for now: every `interval` the
//! tx thread sends this node's dataset, sealed (wire.rs), over one TCP
//! connection to each peer of `[cluster] nodes`; the rx thread accepts on
//! `port` and, for each frame that authenticates, refreshes that peer.
//! A peer is lost when no heartbeat has brought anything from it for
//! `timeout` (`Shared::prune`).

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::blacklist::Blacklist;
use super::conns::Conns;
use super::deadline::Deadline;
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
    conf_of_text(&text, nodename)
}

/// `read_conf` on node.conf's text (the fuzzer feeds it any text).
pub fn conf_of_text(text: &str, nodename: &str) -> ClusterConf {
    let ini = Ini::parse(text);
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

/// The frame kind of a heartbeat section's path: bound into every frame
/// it sends, and the only kind its rx opens (wire.rs). run.rs starts
/// only the three types node.conf validation admits.
pub fn path_kind(conf: &HbConf) -> Kind {
    match conf.hb_type.as_str() {
        "multicast" => Kind::HbMulticast,
        "disk" => Kind::HbDisk,
        _ => Kind::HbUnicast,
    }
}

/// The tx loop every network heartbeat shares: each `interval` until a
/// stop, seals this node's dataset as a frame of its path's kind and
/// hands it to `send`, which reports the peers' beats.
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
        match sealer.seal(path_kind(conf), payload.as_bytes()) {
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

/// What a network rx keeps from one frame to the next: the opener (its
/// replay windows) and when it last logged a refusal from each source.
pub(super) struct RxState {
    pub opener: Opener,
    said: Blacklist,
}

impl RxState {
    pub fn new(opener: Opener) -> RxState {
        RxState {
            opener,
            said: Blacklist::default(),
        }
    }

    /// What every network rx does with one opened (or refused) frame from
    /// `from`: a peer's heartbeat refreshes it; our own frame, reflected or
    /// looped back, is dropped (the opener takes only this path's kind); a
    /// refusal is counted, and logged at most once per source every few
    /// seconds (a junk stream must not rotate node.log away), naming the
    /// sender and, for a frame outside the clock bound, the skew.
    pub fn deliver(
        &mut self,
        tid: &str,
        from: IpAddr,
        result: Result<wire::Opened, wire::WireError>,
        shared: &Shared,
        log: &Logger,
    ) {
        match result {
            Ok(o) if o.nodename == shared.nodename => {}
            Ok(o) => {
                let data = serde_json::from_slice(&o.payload).unwrap_or(serde_json::Value::Null);
                shared.received(tid, &o.nodename, data);
            }
            Err(wire::WireError::Closed) => {}
            Err(e) => self.refused(tid, from, &e, log),
        }
        if let Some(e) = self.opener.take_floor_error() {
            log.warn(format!("{tid}: {e}"));
        }
        shared.set_rejections(tid, self.opener.stats.total());
    }

    fn refused(&mut self, tid: &str, from: IpAddr, e: &dyn std::fmt::Display, log: &Logger) {
        if let Some(unlogged) = self.said.may_log(from, Instant::now()) {
            let more = if unlogged > 0 {
                format!(" ({unlogged} more refused since the last line)")
            } else {
                String::new()
            };
            log.warn(format!("{tid}: from {from}: {e}{more}"));
        }
    }
}

/// At most this many connections at once from one source address: a peer
/// sends each beat on a connection of its own, done in milliseconds.
pub const PER_SOURCE: usize = 2;
/// At most this many at once in all, so that a flood costs bounded threads.
pub const MAX_CONNS: usize = 64;

/// The whole-frame deadline of a unicast beat: one that takes longer to
/// arrive is too late to matter, and a trickling client must not hold a
/// reader longer.
pub fn frame_deadline(conf: &HbConf) -> Duration {
    (conf.timeout / 2).clamp(Duration::from_millis(100), Duration::from_secs(2))
}

/// Where a unicast rx listens: `[hb#N] addr` (one local address), or every
/// address.
pub fn listen_on(conf: &HbConf) -> String {
    let host = conf.addr.as_deref().unwrap_or("0.0.0.0");
    if host.contains(':') {
        format!("[{host}]:{}", conf.port)
    } else {
        format!("{host}:{}", conf.port)
    }
}

/// `hb#N.rx`: accepts heartbeats until `stop`. Each connection is read by
/// a thread of its own within [`frame_deadline`], so one slow or silent
/// client (or a few per source, up to [`MAX_CONNS`]) cannot delay the
/// peers' beats.
pub fn rx(conf: HbConf, opener: Opener, shared: Arc<Shared>, stop: Arc<AtomicBool>, log: Logger) {
    let tid = format!("{}.rx", conf.id);
    let at = listen_on(&conf);
    let host = conf.addr.as_deref().unwrap_or("0.0.0.0");
    let listener = match TcpListener::bind((host, conf.port)) {
        Ok(l) => l,
        Err(e) => {
            log.error(format!(
                "{tid}: cannot listen on {at}: {e} (check [{}] addr and port in node.conf)",
                conf.id
            ));
            shared.set_thread(&tid, "stopped", &at);
            return;
        }
    };
    // Non-blocking accept, polled, so that a stop or a reload is noticed.
    let _ = listener.set_nonblocking(true);
    let state = Mutex::new(RxState::new(opener));
    let conns = Conns::new(PER_SOURCE, MAX_CONNS);
    let within = frame_deadline(&conf);
    std::thread::scope(|sc| {
        while !stop.load(Ordering::Relaxed) && !shared.stopping() {
            match listener.accept() {
                Ok((s, from)) => {
                    let Some(slot) = conns.take(from.ip()) else {
                        // Counted like a refused frame: a source that holds
                        // sockets open must show in svcmon.
                        if let Ok(mut st) = state.lock() {
                            let c = &mut st.opener.stats.crowded;
                            *c = c.saturating_add(1);
                            shared.set_rejections(&tid, st.opener.stats.total());
                            st.refused(
                                &tid,
                                from.ip(),
                                &"too many connections at once: closed",
                                &log,
                            );
                        }
                        continue;
                    };
                    let (tid, state, shared, log) = (&tid, &state, &shared, &log);
                    sc.spawn(move || {
                        let _slot = slot;
                        let _ = s.set_nonblocking(false);
                        let frame = wire::read_frame(&mut Deadline::new(&s, within));
                        drop(s);
                        let Ok(mut st) = state.lock() else { return };
                        // open() counts its own refusals; a bad stream is counted here.
                        let result = match frame {
                            Ok(frame) => st.opener.open(&frame),
                            Err(e) => {
                                st.opener.stats.record(&e);
                                Err(e)
                            }
                        };
                        st.deliver(tid, from.ip(), result, shared, log);
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    });
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

    fn unicast(addr: Option<&str>, timeout: Duration) -> HbConf {
        HbConf {
            id: "hb#1".into(),
            hb_type: "unicast".into(),
            port: 10000,
            dev: None,
            addr: addr.map(String::from),
            intf: None,
            interval: DEFAULT_INTERVAL,
            timeout,
        }
    }

    #[test]
    fn the_rx_listens_where_told_within_a_deadline_that_fits_the_timeout() {
        assert_eq!(listen_on(&unicast(None, DEFAULT_TIMEOUT)), "0.0.0.0:10000");
        assert_eq!(
            listen_on(&unicast(Some("10.0.0.1"), DEFAULT_TIMEOUT)),
            "10.0.0.1:10000"
        );
        assert_eq!(
            listen_on(&unicast(Some("fd00::1"), DEFAULT_TIMEOUT)),
            "[fd00::1]:10000"
        );
        let d = |t: f64| frame_deadline(&unicast(None, Duration::from_secs_f64(t)));
        assert_eq!(d(3.0), Duration::from_millis(1500));
        assert_eq!(d(0.8), Duration::from_millis(400));
        assert_eq!(d(0.1), Duration::from_millis(100));
        assert_eq!(d(60.0), Duration::from_secs(2));
    }

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
