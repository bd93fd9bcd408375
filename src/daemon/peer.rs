//! One request to a peer's listener and its answer, both sealed (wire.rs).
//!
//! The exchange, over one TCP connection:
//!
//! 1. the client writes one `FrameKind::Request` frame whose payload is
//!    `{"action": "<name>", "options": {...}}`;
//! 2. the listener opens it with the cluster key, runs the action and
//!    writes one `FrameKind::Response` frame whose payload is
//!    `{"status": 0|1, "data": ..., "error": "...", "req": <request seq>}`;
//! 3. the client opens the answer with the same key and checks `req`, which
//!    binds the answer to this request: an answer recorded earlier and
//!    replayed to a later request is refused.
//!
//! Both frames name their receiver (wire.rs, Frame): a request sealed for
//! node3 is refused by node1, and an answer is accepted only by its asker
//! and only from the node asked.
//!
//! Arbitrators are pinged the same way, with the arbitrator's cluster name
//! and its ping-only key (`wire::Key::arbitrator` of `[arbitrator#N]
//! secret`), as `ArbPing` and `ArbPong` frames addressed to no one (the
//! asker knows the arbitrator by address): holding that key lets a node
//! ping, and nothing else.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::deadline::Deadline;
use super::wire::{self, FrameKind, Key, Opened, Opener, Sealer, WireError};

#[derive(Debug, thiserror::Error)]
pub(crate) enum PeerError {
    #[error("cannot resolve {0}")]
    Resolve(String),
    #[error("cannot connect to {addr}: {err}")]
    Connect {
        addr: SocketAddr,
        err: std::io::Error,
    },
    #[error("{addr}: {err}")]
    Wire { addr: SocketAddr, err: WireError },
    #[error("{addr} answered another request (req {got}, expected {want})")]
    Unbound {
        addr: SocketAddr,
        got: u64,
        want: u64,
    },
    #[error("{addr} sent an answer that is not JSON")]
    BadAnswer { addr: SocketAddr },
    #[error("{addr} refused {action}: {error}")]
    Refused {
        addr: SocketAddr,
        action: String,
        error: String,
    },
}

/// `host:port` (a node name or an address) to a socket address.
pub(crate) fn resolve(host: &str, port: u16) -> Result<SocketAddr, PeerError> {
    (host, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| PeerError::Resolve(format!("{host}:{port}")))
}

/// Who asks: this node's name and cluster, the key of the cluster being
/// asked (ours, or an arbitrator's ping-only key), and who is asked.
pub(crate) struct Asker<'a> {
    pub nodename: &'a str,
    pub cluster: &'a str,
    pub key: &'a Key,
    pub asked: Asked<'a>,
}

/// Who a request is for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Asked<'a> {
    /// A node of this cluster, by its node name: the request is sealed for
    /// it alone, and only it may answer.
    Node(&'a str),
    /// An arbitrator: a ping under its ping-only key.
    Arbitrator,
}

/// Sends `action` with `options` to the listener at `addr` and returns the
/// answer's `data` when its `status` is 0. The whole exchange, connect
/// included, is bounded by `timeout`.
pub(crate) fn request(
    asker: &Asker,
    addr: SocketAddr,
    action: &str,
    options: Value,
    timeout: Duration,
) -> Result<Value, PeerError> {
    let deadline = crate::config::duration::deadline(Instant::now(), timeout);
    let wire_err = |err| PeerError::Wire { addr, err };
    let mut sealer =
        Sealer::new(asker.key.clone(), asker.nodename, asker.cluster).map_err(wire_err)?;
    let body = json!({"action": action, "options": options}).to_string();
    let (frame, answers) = match asker.asked {
        Asked::Node(node) => (
            sealer.seal_to(FrameKind::Request, node, body.as_bytes()),
            Opener::new(asker.key.clone(), asker.cluster, FrameKind::Response)
                .only_from(&[node.to_string()]),
        ),
        Asked::Arbitrator => (
            sealer.seal(FrameKind::ArbPing, body.as_bytes()),
            Opener::new(asker.key.clone(), asker.cluster, FrameKind::ArbPong),
        ),
    };
    let frame = frame.map_err(wire_err)?;
    // No clock bound on the answer: its `req` binds it to this request,
    // which no replay can match (wire.rs, Freshness).
    let mut opener = answers.to_me(asker.nodename).without_clock();
    let want = sealer.last_seq();
    let mut s = TcpStream::connect_timeout(&addr, timeout)
        .map_err(|err| PeerError::Connect { addr, err })?;
    let left = || {
        deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1))
    };
    let _ = s.set_write_timeout(Some(left()));
    wire::write_frame(&mut s, &frame).map_err(wire_err)?;
    // One deadline for the whole answer: a server trickling its answer a
    // byte at a time cannot stretch a 1 s request (the quorum grace
    // counts on it ending within its timeout).
    let answer = wire::read_frame(&mut Deadline::new(&s, left())).map_err(wire_err)?;
    let Opened { payload, .. } = opener.open(&answer).map_err(wire_err)?;
    read_answer(&payload, want, addr, action)
}

/// An opened answer's payload to the request of seq `want` (`action`,
/// sent to `addr`): its `data` when `status` is 0.
pub(crate) fn read_answer(
    payload: &[u8],
    want: u64,
    addr: SocketAddr,
    action: &str,
) -> Result<Value, PeerError> {
    let mut v: Value =
        serde_json::from_slice(payload).map_err(|_| PeerError::BadAnswer { addr })?;
    let got = v["req"].as_u64().unwrap_or(0);
    if got != want {
        return Err(PeerError::Unbound { addr, got, want });
    }
    if v["status"].as_i64() != Some(0) {
        return Err(PeerError::Refused {
            addr,
            action: action.to_string(),
            error: v["error"].as_str().unwrap_or("no reason given").to_string(),
        });
    }
    Ok(v["data"].take())
}

/// The answer to the request `req` (its `Opened::seq`), ready to seal.
pub(crate) fn answer(req: u64, result: Result<Value, String>) -> Vec<u8> {
    let v = match result {
        Ok(data) => json!({"status": 0, "data": data, "req": req}),
        Err(error) => json!({"status": 1, "error": error, "req": req}),
    };
    v.to_string().into_bytes()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::net::TcpListener;

    pub(crate) const TEST_SECRET: &str = "0123456789abcdef0123456789abcdef";

    /// A one-shot listener on loopback for node `me` of cluster `c1`
    /// (secret [`TEST_SECRET`]): it opens one request sealed for `me`,
    /// asks `reply` for the `req` to bind the answer to and its data, and
    /// answers like the daemon's listener. Shared with hb/fetch.rs's tests.
    pub(crate) fn serve_once_as(
        me: &'static str,
        reply: impl FnOnce(&wire::Opened, &Value) -> (u64, Value) + Send + 'static,
    ) -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let key = Key::from_secret(TEST_SECRET);
            let frame = wire::read_frame(&mut s).unwrap();
            let req = Opener::new(key.clone(), "c1", FrameKind::Request)
                .to_me(me)
                .open(&frame)
                .unwrap();
            let body: Value = serde_json::from_slice(&req.payload).unwrap();
            let (seq, data) = reply(&req, &body);
            let mut sealer = Sealer::new(key, me, "c1").unwrap();
            let out = sealer
                .seal_to(FrameKind::Response, &req.nodename, &answer(seq, Ok(data)))
                .unwrap();
            wire::write_frame(&mut s, &out).unwrap();
        });
        addr
    }

    /// The arbitrator `arb`, answering with the action asked and who asked;
    /// `tamper` changes the answer's `req` to test the binding.
    fn serve_once(tamper: bool) -> SocketAddr {
        serve_once_as("arb", move |req, body| {
            let seq = if tamper { req.seq + 1 } else { req.seq };
            (seq, json!({"pong": body["action"], "from": req.nodename}))
        })
    }

    #[test]
    fn a_request_gets_its_own_answer() {
        let addr = serve_once(false);
        let key = Key::from_secret(TEST_SECRET);
        let asker = Asker {
            nodename: "node1",
            cluster: "c1",
            key: &key,
            asked: Asked::Node("arb"),
        };
        let data = request(&asker, addr, "ping", json!({}), Duration::from_secs(2)).unwrap();
        assert_eq!(data, json!({"pong": "ping", "from": "node1"}));
    }

    #[test]
    fn an_answer_to_another_request_is_refused() {
        let addr = serve_once(true);
        let key = Key::from_secret(TEST_SECRET);
        let asker = Asker {
            nodename: "node1",
            cluster: "c1",
            key: &key,
            asked: Asked::Node("arb"),
        };
        let err = request(&asker, addr, "ping", json!({}), Duration::from_secs(2)).unwrap_err();
        assert!(matches!(err, PeerError::Unbound { .. }), "{err}");
    }

    #[test]
    fn nobody_listening_is_an_error_not_a_hang() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        let key = Key::from_secret(TEST_SECRET);
        let asker = Asker {
            nodename: "node1",
            cluster: "c1",
            key: &key,
            asked: Asked::Node("arb"),
        };
        let err = request(&asker, addr, "ping", json!({}), Duration::from_secs(1)).unwrap_err();
        assert!(matches!(err, PeerError::Connect { .. }), "{err}");
    }
    #[test]
    fn a_trickling_server_does_not_stretch_the_timeout() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            use std::io::Write;
            let (mut s, _) = l.accept().unwrap();
            // A length prefix announcing 1000 bytes, then a byte every
            // 200 ms: each read() gets something well within a 1 s timeout.
            let _ = s.write_all(&1000u32.to_be_bytes());
            for _ in 0..30 {
                if s.write_all(b"x").is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        let key = Key::from_secret(TEST_SECRET);
        let asker = Asker {
            nodename: "node1",
            cluster: "c1",
            key: &key,
            asked: Asked::Node("arb"),
        };
        let t0 = Instant::now();
        let err = request(&asker, addr, "ping", json!({}), Duration::from_secs(1)).unwrap_err();
        let took = t0.elapsed();
        assert!(matches!(err, PeerError::Wire { .. }), "{err}");
        assert!(
            took < Duration::from_secs(3),
            "a 1 s request took {took:?}: {err}"
        );
        server.join().unwrap();
    }
}
