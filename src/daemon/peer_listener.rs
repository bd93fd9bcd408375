//! The peer listener (docs/behaviour.md, "Listener"): TCP `[listener] addr:port`
//! (default 0.0.0.0:1214), one sealed request per connection, answered as
//! peer.rs documents. Peers fetch service configs here (replicate.rs) and
//! the services part of this node's dataset that its compact beats name
//! (`get_dataset`, hb/fetch.rs), and arbitrators are pinged here by other
//! clusters' nodes.
//!
//! # Bounds
//!
//! The accept loop never reads: it drops a blacklisted source at once and
//! hands every other connection to [`WORKERS`] handler threads through a
//! queue of [`QUEUE`]. A source holds at most [`PER_SOURCE`] connections,
//! queued or read; one more, or one more when the queue is full, is closed
//! at once and counted as rejected (not a strike: a busy listener must not
//! get a peer banned). A connection held silent for [`IDLE_STRIKE`] and
//! then closed is a strike: a source holding sockets open ends
//! blacklisted instead of starving the peers. Each connection gets [`DEADLINE`] for its whole
//! request, however slowly it trickles bytes, so a slow or silent client
//! holds one worker for 2 s at most and a handful of them cannot stall the
//! peers. A few threads rather than one per connection: memory stays bounded
//! (one frame of at most `wire::MAX_FRAME` per worker) whatever arrives.
//!
//! # Who is answered
//!
//! - A `Request` frame under the cluster key, from a node of `[cluster]
//!   nodes`, addressed to this node by name (wire.rs): any action.
//! - An `ArbPing` frame under this cluster's arbitrator key
//!   (`wire::Key::arbitrator` of `[cluster] secret`), from anyone: nodes of
//!   other clusters ping this node as their arbitrator. Only `ping` is
//!   answered under that key; nothing else is.
//!
//! # Refusals
//!
//! Every refused frame is counted in `threads.listener.stats.rejected` and
//! logged at most once per source every few seconds (blacklist.rs). A frame
//! that does not authenticate is also a strike against its source address;
//! an authenticated peer asking something wrong (a non-request kind, an
//! unknown action) is refused and counted but never blacklisted: it holds
//! the key, so banning its address would only cut a cluster node off.

use crate::daemon::state::ThreadState;
use std::io;
use std::net::{IpAddr, TcpListener, TcpStream};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::conns::{Conns, Slot};
use super::deadline::Deadline;
use super::hb::dataset;
use super::node_conf::InForce;
use super::state::Shared;
use super::wire::{self, FrameKind, Key, Opener, Sealer, WireError};
use super::{peer, secret};
use crate::config::node::NodeConfig;
use crate::log::Logger;
use crate::paths::Paths;

pub(crate) const WORKERS: usize = 8;
/// Connections one source may hold at once, queued or read: fewer than
/// [`WORKERS`], so that a source holding sockets open leaves readers to
/// the others.
pub(crate) const PER_SOURCE: usize = 2;
/// A connection that sent nothing for this long before closing held a
/// worker on purpose (a port probe closes at once): a strike.
pub(crate) const IDLE_STRIKE: Duration = Duration::from_millis(500);
pub(crate) const QUEUE: usize = 16;
pub(crate) const DEADLINE: Duration = Duration::from_secs(2);
const THREAD: &str = "listener";

/// `[listener] addr` and `port` of node.conf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ListenerConf {
    pub addr: String,
    /// 0 binds an ephemeral port (tests).
    pub port: u16,
}

impl ListenerConf {
    pub(crate) fn of(conf: &NodeConfig) -> ListenerConf {
        ListenerConf {
            addr: conf.listener.addr.clone(),
            port: conf.listener.port,
        }
    }
}

#[cfg(test)]
pub(crate) fn read_conf(paths: &Paths) -> ListenerConf {
    ListenerConf::of(&NodeConfig::load_or_empty(&paths.node_conf()))
}

/// The port `node`'s listener is reached on: `[listener] port@<node>`,
/// else `port`, else 1214.
#[cfg(test)]
pub(crate) fn peer_port(paths: &Paths, node: &str) -> u16 {
    NodeConfig::load_or_empty(&paths.node_conf()).peer_port(node)
}

pub(crate) fn bind(conf: &ListenerConf) -> io::Result<TcpListener> {
    TcpListener::bind((conf.addr.as_str(), conf.port))
}

#[derive(Debug, Default, Clone, Copy)]
struct Stats {
    accepted: u64,
    auth_validated: u64,
    rejected: u64,
    blacklisted: u64,
}

/// The keys and the replay windows: one Opener for the peers' requests
/// and one for arbitrator pings, renewed only when the secret or the
/// cluster name changes (a new `[cluster] nodes` is applied in place).
struct Auth {
    secret: String,
    cluster: String,
    opener: Opener,
    sealer: Sealer,
    arbitrator: Opener,
    arbitrator_sealer: Sealer,
}

/// The receive path name of the listener's floors file (wire.rs).
const FLOORS: &str = "listener";

impl Auth {
    /// The new Auth, and a problem to log with its floors file if any.
    fn load(
        paths: &Paths,
        conf: &NodeConfig,
        nodename: &str,
    ) -> Result<(Auth, Option<String>), String> {
        let secret = secret::secret_in(conf, paths).map_err(|e| e.to_string())?;
        let cluster = conf.cluster.name.clone();
        let key = Key::from_secret(&secret);
        let sealer = Sealer::new(key.clone(), nodename, &cluster).map_err(|e| e.to_string())?;
        let arb_key = Key::arbitrator(&secret);
        let arbitrator_sealer =
            Sealer::new(arb_key.clone(), nodename, &cluster).map_err(|e| e.to_string())?;
        let mut opener = Opener::new(key, &cluster, FrameKind::Request)
            .only_from(&conf.members(nodename))
            .to_me(nodename);
        let floors = opener.keep_floors(wire::floors_file(paths, FLOORS)).err();
        Ok((
            Auth {
                opener,
                // No clock bound: a ping changes nothing, and a skewed
                // node of another cluster must not lose its vote.
                arbitrator: Opener::new(arb_key, &cluster, FrameKind::ArbPing).without_clock(),
                arbitrator_sealer,
                secret,
                cluster,
                sealer,
            },
            floors,
        ))
    }
}

struct Server<'a> {
    paths: &'a Paths,
    /// The node.conf in force (run.rs reloads it).
    node_conf: Arc<InForce>,
    shared: Arc<Shared>,
    log: Logger,
    auth: Mutex<Option<Auth>>,
    stats: Mutex<Stats>,
}

/// Serves until the daemon stops. The thread shows as `listener` with the
/// bound address (the real port when `port = 0`).
pub(crate) fn serve(
    tcp: TcpListener,
    paths: &Paths,
    node_conf: Arc<InForce>,
    shared: Arc<Shared>,
    log: Logger,
) {
    let info = tcp.local_addr().map(|a| a.to_string()).unwrap_or_default();
    shared.set_thread(THREAD, ThreadState::Running, &info);
    let server = Server {
        paths,
        node_conf,
        shared: shared.clone(),
        log,
        auth: Mutex::new(None),
        stats: Mutex::new(Stats::default()),
    };
    server.reload_auth();
    server.publish();
    // Non-blocking accept, polled, so that a stop is noticed.
    let _ = tcp.set_nonblocking(true);
    let conns = Conns::new(PER_SOURCE, WORKERS + QUEUE);
    let (tx, rx) = sync_channel::<Conn>(QUEUE);
    let rx = Mutex::new(rx);
    std::thread::scope(|s| {
        for _ in 0..WORKERS {
            s.spawn(|| server.work(&rx));
        }
        server.accept_loop(&tcp, &tx, &conns);
    });
    shared.set_thread(THREAD, ThreadState::Stopped, &info);
}

/// An accepted connection, its source and its place among the source's.
type Conn<'a> = (TcpStream, IpAddr, Slot<'a>);

impl Server<'_> {
    fn accept_loop<'c>(&self, tcp: &TcpListener, tx: &SyncSender<Conn<'c>>, conns: &'c Conns) {
        let mut seen = self.node_conf.generation();
        while !self.shared.stopping() {
            let now = self.node_conf.generation();
            if now != seen {
                seen = now;
                self.reload_auth();
            }
            let (stream, from) = match tcp.accept() {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    super::deadline::wait_acceptable(tcp);
                    continue;
                }
                Err(_) => {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
            };
            let ip = from.ip();
            self.count(|s| s.accepted += 1);
            if self.with_blacklist(|b| b.banned(ip, Instant::now())) {
                // Dropped unread: a banned source costs an accept, nothing more.
                self.count(|s| s.blacklisted += 1);
                self.publish();
                continue;
            }
            // Closed at once, counted, but no strike: a closed connection
            // costs an accept, as a banned one does, and a peer whose
            // fetches time out on a busy listener (its closed connections
            // still hold their slots until a worker reads them) once
            // collected five strikes this way and was banned for 60 s,
            // its services unread all that time. A full queue is not the
            // source's doing at all. Connections held silent still strike.
            let Some(slot) = conns.take(ip) else {
                self.refuse(ip, "too many connections at once from this source: closed");
                continue;
            };
            match tx.try_send((stream, ip, slot)) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => {
                    self.refuse(ip, "too many connections waiting: closed");
                }
                Err(TrySendError::Disconnected(_)) => break,
            }
        }
    }

    fn work(&self, rx: &Mutex<Receiver<Conn<'_>>>) {
        while !self.shared.stopping() {
            let next = match rx.lock() {
                Ok(r) => r.recv_timeout(Duration::from_millis(100)),
                Err(_) => return,
            };
            if let Ok((stream, ip, _slot)) = next {
                let _ = stream.set_nonblocking(false);
                self.handle(&stream, ip);
                self.publish();
            }
        }
    }

    fn reload_auth(&self) {
        // Valid: an invalid node.conf never replaces the one in force.
        let conf = self.node_conf.get();
        let Ok(mut auth) = self.auth.lock() else {
            return;
        };
        let same = auth.as_ref().is_some_and(|a| {
            a.secret.as_str() == secret::secret_in(&conf, self.paths).unwrap_or_default()
                && a.cluster == conf.cluster.name
        });
        if same {
            if let Some(a) = auth.as_mut() {
                let nodes = conf.members(&self.shared.nodename);
                a.opener.set_members(&nodes);
            }
            return;
        }
        // The old opener writes its floors as it goes, before the new one
        // reads them.
        *auth = None;
        match Auth::load(self.paths, &conf, &self.shared.nodename) {
            Ok((a, floors)) => {
                if let Some(e) = floors {
                    self.log.warn(format!("listener: {e}"));
                }
                *auth = Some(a);
            }
            Err(e) => {
                self.log
                    .error(format!("listener: no peer request without a key: {e}"));
                *auth = None;
            }
        }
    }

    fn count(&self, f: impl FnOnce(&mut Stats)) {
        if let Ok(mut s) = self.stats.lock() {
            f(&mut s);
        }
    }

    fn with_blacklist<R>(&self, f: impl FnOnce(&mut super::blacklist::Blacklist) -> R) -> R
    where
        R: Default,
    {
        self.shared
            .blacklist
            .lock()
            .map(|mut b| f(&mut b))
            .unwrap_or_default()
    }

    fn publish(&self) {
        let s = self.stats.lock().map(|s| *s).unwrap_or_default();
        self.shared.set_stats(
            THREAD,
            json!({
                "accepted": s.accepted,
                "auth_validated": s.auth_validated,
                "rejected": s.rejected,
                "blacklisted": s.blacklisted,
            }),
        );
    }

    /// Logs a refusal from `ip`, at most once per source every few seconds.
    fn note(&self, ip: IpAddr, why: &str) {
        if let Some(unlogged) = self.with_blacklist(|b| b.may_log(ip, Instant::now())) {
            let more = if unlogged > 0 {
                format!(" ({unlogged} more refused since the last line)")
            } else {
                String::new()
            };
            self.log.warn(format!(
                "listener: refused a request from {ip}: {why}{more}"
            ));
        }
    }

    /// A frame that did not authenticate: counted, and a strike.
    fn refuse_frame(&self, ip: IpAddr, err: &WireError) {
        self.strike(ip, &err.to_string());
    }

    /// Counted as rejected, and a strike against `ip`: a frame that did
    /// not authenticate, or a connection that held the listener for
    /// nothing (too many at once, or silent until closed).
    /// Counted and said, not struck.
    fn refuse(&self, ip: IpAddr, why: &str) {
        self.count(|s| s.rejected += 1);
        self.note(ip, why);
        self.publish();
    }

    fn strike(&self, ip: IpAddr, why: &str) {
        self.count(|s| s.rejected += 1);
        if self.with_blacklist(|b| b.strike(ip, Instant::now())) {
            self.log.warn(format!(
                "listener: {ip} blacklisted for {} s after more than {} refused frames or idle connections",
                super::blacklist::BAN.as_secs(),
                super::blacklist::STRIKES
            ));
        }
        self.note(ip, why);
    }

    fn handle(&self, stream: &TcpStream, ip: IpAddr) {
        let mut r = Deadline::new(stream, DEADLINE);
        let t0 = Instant::now();
        let frame = match wire::read_frame(&mut r) {
            Ok(f) => f,
            // A connect and a close at once (a port probe) sent nothing to
            // refuse; a silent wait before closing held a worker for nothing.
            Err(WireError::Closed) if t0.elapsed() >= IDLE_STRIKE => {
                return self.strike(ip, "connection held silent, then closed");
            }
            Err(WireError::Closed) => return,
            Err(e) => return self.refuse_frame(ip, &e),
        };
        // The kind in the header picks the key; a frame relabelled to
        // the other kind fails that key's tag.
        let ping = wire::peek_kind(&frame) == Some(FrameKind::ArbPing);
        let (opened, floors) = {
            let Ok(mut guard) = self.auth.lock() else {
                return;
            };
            let Some(auth) = guard.as_mut() else {
                drop(guard);
                self.count(|s| s.rejected += 1);
                return self.note(ip, "this node has no cluster key");
            };
            if ping {
                (auth.arbitrator.open(&frame), None)
            } else {
                let opened = auth.opener.open(&frame);
                (opened, auth.opener.take_floor_error())
            }
        };
        if let Some(e) = floors {
            self.log.warn(format!("listener: {e}"));
        }
        let opened = match opened {
            Ok(o) => o,
            Err(e) => return self.refuse_frame(ip, &e),
        };
        self.count(|s| s.auth_validated += 1);
        let result = if ping {
            arbitrator_ping(&opened.payload)
        } else {
            self.dispatch(&opened.payload, &opened.nodename)
        };
        if let Err(why) = &result {
            self.count(|s| s.rejected += 1);
            self.note(ip, &format!("{}: {why}", opened.nodename));
        }
        let body = peer::answer(opened.seq, result);
        let sealed = match self.auth.lock() {
            Ok(mut g) => match g.as_mut() {
                Some(a) if ping => {
                    a.arbitrator_sealer
                        .seal_to(FrameKind::ArbPong, &opened.nodename, &body)
                }
                Some(a) => a
                    .sealer
                    .seal_to(FrameKind::Response, &opened.nodename, &body),
                None => return,
            },
            Err(_) => return,
        };
        match sealed {
            Ok(frame) => {
                let _ = stream.set_write_timeout(Some(DEADLINE));
                let mut w = stream;
                let _ = wire::write_frame(&mut w, &frame);
            }
            Err(e) => self
                .log
                .error(format!("listener: cannot seal an answer: {e}")),
        }
    }

    fn dispatch(&self, payload: &[u8], from: &str) -> Result<Value, String> {
        dispatch(self.paths, &self.shared, payload, from)
    }
}

/// What an arbitrator ping may ask: `ping`, and nothing else, whatever
/// the holder of the arbitrator key sends.
pub(crate) fn arbitrator_ping(payload: &[u8]) -> Result<Value, String> {
    let req: Value =
        serde_json::from_slice(payload).map_err(|_| "a ping that is not JSON".to_string())?;
    match req["action"].as_str() {
        Some("ping") => Ok(json!({})),
        _ => Err("only ping is answered under the arbitrator key".to_string()),
    }
}

/// Runs the request of authenticated node `from`: the decoding of an
/// opened request's payload, apart from the socket (the fuzzer calls it).
pub(crate) fn dispatch(
    paths: &Paths,
    shared: &Shared,
    payload: &[u8],
    from: &str,
) -> Result<Value, String> {
    let req: Value =
        serde_json::from_slice(payload).map_err(|_| "a request that is not JSON".to_string())?;
    match req["action"].as_str() {
        Some("ping") => Ok(json!({})),
        Some("daemon_status") => Ok(shared.status_json()),
        // The services part a compact beat names (hb/dataset.rs, hb/fetch.rs).
        Some("get_dataset") => Ok(dataset::services_answer(&shared.local_split())),
        Some("get_service_config") => super::replicate::serve_config(paths, &req["options"], from),
        Some(other) => Err(format!("unknown action {other}")),
        None => Err("a request without an action".to_string()),
    }
}

#[cfg(test)]
#[path = "peer_listener_tests.rs"]
pub(crate) mod tests;
