//! The peer listener (docs/behaviour.md, "Listener"): TCP `[listener] addr:port`
//! (default 0.0.0.0:1214), one sealed request per connection, answered as
//! peer.rs documents. Peers fetch service configs here (replicate.rs), and
//! arbitrators are pinged here by other clusters' nodes.
//!
//! # Bounds
//!
//! The accept loop never reads: it drops a blacklisted source at once and
//! hands every other connection to [`WORKERS`] handler threads through a
//! queue of [`QUEUE`]. A source holds at most [`PER_SOURCE`] connections,
//! queued or read; one more, or one more when the queue is full, is closed
//! at once, counted as rejected and a strike, as is a connection held
//! silent for [`IDLE_STRIKE`] and then closed: a source holding sockets
//! open ends blacklisted instead of starving the peers. Each connection gets [`DEADLINE`] for its whole
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

use std::io;
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::conns::{Conns, Slot};
use super::deadline::Deadline;
use super::state::Shared;
use super::wire::{self, Key, Kind, Opener, Sealer, WireError};
use super::{peer, secret};
use crate::config::ini::Ini;
use crate::log::Logger;
use crate::paths::Paths;

pub const DEFAULT_ADDR: &str = "0.0.0.0";
pub const WORKERS: usize = 8;
/// Connections one source may hold at once, queued or read: fewer than
/// [`WORKERS`], so that a source holding sockets open leaves readers to
/// the others.
pub const PER_SOURCE: usize = 2;
/// A connection that sent nothing for this long before closing held a
/// worker on purpose (a port probe closes at once): a strike.
pub const IDLE_STRIKE: Duration = Duration::from_millis(500);
pub const QUEUE: usize = 16;
pub const DEADLINE: Duration = Duration::from_secs(2);
const THREAD: &str = "listener";

/// `[listener] addr` and `port` of node.conf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerConf {
    pub addr: String,
    /// 0 binds an ephemeral port (tests).
    pub port: u16,
}

fn node_ini(paths: &Paths) -> Ini {
    Ini::parse(&std::fs::read_to_string(paths.node_conf()).unwrap_or_default())
}

fn port_of(ini: &Ini, key: &str) -> Option<u16> {
    ini.get("listener", key)
        .and_then(|f| f.value.trim().parse().ok())
}

pub fn read_conf(paths: &Paths) -> ListenerConf {
    let ini = node_ini(paths);
    ListenerConf {
        addr: ini
            .get("listener", "addr")
            .map(|f| f.value.trim().to_string())
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| DEFAULT_ADDR.to_string()),
        port: port_of(&ini, "port").unwrap_or(peer::DEFAULT_PORT),
    }
}

/// The port `node`'s listener is reached on: `[listener] port@<node>`,
/// else `port`, else 1214.
pub fn peer_port(paths: &Paths, node: &str) -> u16 {
    let ini = node_ini(paths);
    port_of(&ini, &format!("port@{node}"))
        .or_else(|| port_of(&ini, "port"))
        .unwrap_or(peer::DEFAULT_PORT)
}

pub fn bind(conf: &ListenerConf) -> io::Result<TcpListener> {
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
    fn load(paths: &Paths, nodename: &str) -> Result<(Auth, Option<String>), String> {
        let secret = secret::cluster_secret(paths).map_err(|e| e.to_string())?;
        let cluster = secret::cluster_name(paths);
        let key = Key::from_secret(&secret);
        let sealer = Sealer::new(key.clone(), nodename, &cluster).map_err(|e| e.to_string())?;
        let arb_key = Key::arbitrator(&secret);
        let arbitrator_sealer =
            Sealer::new(arb_key.clone(), nodename, &cluster).map_err(|e| e.to_string())?;
        let mut opener = Opener::new(key, &cluster, Kind::Request)
            .only_from(&members(paths, nodename))
            .to_me(nodename);
        let floors = opener.keep_floors(wire::floors_file(paths, FLOORS)).err();
        Ok((
            Auth {
                opener,
                // No clock bound: a ping changes nothing, and a skewed
                // node of another cluster must not lose its vote.
                arbitrator: Opener::new(arb_key, &cluster, Kind::ArbPing).without_clock(),
                arbitrator_sealer,
                secret,
                cluster,
                sealer,
            },
            floors,
        ))
    }
}

/// `[cluster] nodes`, this node included: the only senders of requests.
fn members(paths: &Paths, nodename: &str) -> Vec<String> {
    super::hb::read_conf(paths, nodename).nodes
}

struct Server<'a> {
    paths: &'a Paths,
    shared: Arc<Shared>,
    log: Logger,
    auth: Mutex<Option<Auth>>,
    stats: Mutex<Stats>,
}

/// Serves until the daemon stops. The thread shows as `listener` with the
/// bound address (the real port when `port = 0`).
pub fn serve(tcp: TcpListener, paths: &Paths, shared: Arc<Shared>, log: Logger) {
    let info = tcp.local_addr().map(|a| a.to_string()).unwrap_or_default();
    shared.set_thread(THREAD, "running", &info);
    let server = Server {
        paths,
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
    shared.set_thread(THREAD, "stopped", &info);
}

/// An accepted connection, its source and its place among the source's.
type Conn<'a> = (TcpStream, IpAddr, Slot<'a>);

impl Server<'_> {
    fn accept_loop<'c>(&self, tcp: &TcpListener, tx: &SyncSender<Conn<'c>>, conns: &'c Conns) {
        let node_conf = self.paths.node_conf();
        let mut seen = crate::fsutil::mtime(&node_conf);
        while !self.shared.stopping() {
            let now = crate::fsutil::mtime(&node_conf);
            if now != seen {
                seen = now;
                self.reload_auth();
            }
            let (stream, from) = match tcp.accept() {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(20));
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
            let Some(slot) = conns.take(ip) else {
                self.strike(ip, "too many connections at once from this source: closed");
                self.publish();
                continue;
            };
            match tx.try_send((stream, ip, slot)) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => {
                    self.strike(ip, "too many connections waiting: closed");
                    self.publish();
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
        // An invalid node.conf keeps the previous key (run.rs logs why).
        if crate::config::node_validate::read_valid(&self.paths.node_conf()).is_none() {
            return;
        }
        let Ok(mut auth) = self.auth.lock() else {
            return;
        };
        let same = auth.as_ref().is_some_and(|a| {
            a.secret.as_str() == secret::cluster_secret(self.paths).unwrap_or_default()
                && a.cluster == secret::cluster_name(self.paths)
        });
        if same {
            if let Some(a) = auth.as_mut() {
                let nodes = members(self.paths, &self.shared.nodename);
                a.opener.set_members(&nodes);
            }
            return;
        }
        // The old opener writes its floors as it goes, before the new one
        // reads them.
        *auth = None;
        match Auth::load(self.paths, &self.shared.nodename) {
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
        let ping = wire::peek_kind(&frame) == Some(Kind::ArbPing);
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
                        .seal_to(Kind::ArbPong, &opened.nodename, &body)
                }
                Some(a) => a.sealer.seal_to(Kind::Response, &opened.nodename, &body),
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
pub fn arbitrator_ping(payload: &[u8]) -> Result<Value, String> {
    let req: Value =
        serde_json::from_slice(payload).map_err(|_| "a ping that is not JSON".to_string())?;
    match req["action"].as_str() {
        Some("ping") => Ok(json!({})),
        _ => Err("only ping is answered under the arbitrator key".to_string()),
    }
}

/// Runs the request of authenticated node `from`: the decoding of an
/// opened request's payload, apart from the socket (the fuzzer calls it).
pub fn dispatch(
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
        Some("get_service_config") => super::replicate::serve_config(paths, &req["options"], from),
        Some(other) => Err(format!("unknown action {other}")),
        None => Err("a request without an action".to_string()),
    }
}

/// Where a peer's listener is reached: `[listener] addr@<node>` (1.9's
/// per-node override), else the node name; `peer_port` for the port.
pub fn peer_addr(paths: &Paths, node: &str) -> Result<SocketAddr, peer::PeerError> {
    let host = node_ini(paths)
        .get("listener", &format!("addr@{node}"))
        .map(|f| f.value.trim().to_string())
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| node.to_string());
    peer::resolve(&host, peer_port(paths, node))
}

#[cfg(test)]
#[path = "peer_listener_tests.rs"]
pub(crate) mod tests;
