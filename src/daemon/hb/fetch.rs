//! Fetches a peer's services part from its listener (`get_dataset`,
//! peer_listener.rs) when a compact beat names a digest this node does not
//! hold (dataset.rs). Off the rx threads: each fetch runs on a thread of
//! its own, at most one per peer at a time, bounded by a short timeout,
//! so a slow or hostile peer never delays the beats of the others (a
//! delayed beat would make a live node look lost). A fetch that fails is
//! tried again at the peer's next beat that still names a digest not held.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::dataset;
use crate::config::node::NodeConfig;
use crate::daemon::peer;
use crate::daemon::state::{Fresh, Shared};
use crate::daemon::wire::Key;
use crate::log::Logger;

/// Where and how the peers' listeners are asked, from the node.conf in
/// force (the supervisor updates it at each reconcile).
#[derive(Default)]
struct Conf {
    key: Option<Key>,
    cluster: String,
    /// Per peer, its listener's host and port (`[listener] addr@`, `port@`).
    listeners: BTreeMap<String, (String, u16)>,
}

/// The fetches of every heartbeat section, shared so that a beat heard on
/// two paths costs one fetch.
#[derive(Default)]
pub(crate) struct Fetcher {
    conf: Mutex<Conf>,
    /// The peers with a fetch under way.
    busy: Mutex<BTreeSet<String>>,
    /// The peers whose last fetch failed and was logged: logged once until
    /// a fetch works again (one line per beat would rotate node.log away).
    failing: Mutex<BTreeSet<String>>,
}

impl Fetcher {
    /// The listeners of node.conf's peers.
    pub(crate) fn configure(&self, conf: &NodeConfig, nodename: &str) {
        if let Ok(mut c) = self.conf.lock() {
            c.cluster = conf.cluster.name.clone();
            c.listeners = conf
                .members(nodename)
                .into_iter()
                .filter(|n| n != nodename)
                .map(|n| {
                    let at = (conf.peer_host(&n), conf.peer_port(&n));
                    (n, at)
                })
                .collect();
        }
    }

    /// The cluster key the requests are sealed with.
    pub(crate) fn set_key(&self, key: Key) {
        if let Ok(mut c) = self.conf.lock() {
            c.key = Some(key);
        }
    }

    /// Fetches `peer`'s services part unless a fetch of it is under way;
    /// `tid` is the rx thread whose beat asked (refusals are counted there).
    pub(crate) fn want(
        self: &Arc<Self>,
        tid: &str,
        peer: &str,
        timeout: Duration,
        shared: &Arc<Shared>,
        log: &Logger,
    ) {
        let Ok(mut busy) = self.busy.lock() else {
            return;
        };
        if !busy.insert(peer.to_string()) {
            return;
        }
        drop(busy);
        let (me, t, p) = (self.clone(), tid.to_string(), peer.to_string());
        let (sh, lg) = (shared.clone(), log.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("fetch {peer}"))
            .spawn(move || {
                // Before the request: its answer is at least this new.
                let asked = Fresh::AskedAt(Instant::now());
                let result = me.fetch(&sh.nodename, &p, timeout);
                me.done(&t, &p, result, asked, &sh, &lg);
            });
        if let Err(e) = spawned {
            log.warn(format!(
                "{tid}: cannot start a fetch of {peer}'s dataset: {e}"
            ));
            self.release(peer);
        }
    }

    fn release(&self, peer: &str) {
        if let Ok(mut b) = self.busy.lock() {
            b.remove(peer);
        }
    }

    /// One `get_dataset` request, checked.
    fn fetch(
        &self,
        nodename: &str,
        peer: &str,
        timeout: Duration,
    ) -> Result<(String, Arc<str>), Fetched> {
        let (key, cluster, host, port) = {
            let c = self
                .conf
                .lock()
                .map_err(|_| Fetched::Failed("no conf".into()))?;
            let key = c
                .key
                .clone()
                .ok_or_else(|| Fetched::Failed("no cluster key".into()))?;
            let (host, port) = c
                .listeners
                .get(peer)
                .cloned()
                .ok_or_else(|| Fetched::Failed(format!("{peer} is not in [cluster] nodes")))?;
            (key, c.cluster.clone(), host, port)
        };
        let asker = peer::Asker {
            nodename,
            cluster: &cluster,
            key: &key,
            asked: peer::Asked::Node(peer),
        };
        let addr = peer::resolve(&host, port).map_err(|e| Fetched::Failed(e.to_string()))?;
        let answer = peer::request(&asker, addr, "get_dataset", serde_json::json!({}), timeout)
            .map_err(|e| Fetched::Failed(e.to_string()))?;
        dataset::read_services(&answer).map_err(Fetched::Refused)
    }

    fn done(
        &self,
        tid: &str,
        peer: &str,
        result: Result<(String, Arc<str>), Fetched>,
        asked: Fresh,
        shared: &Shared,
        log: &Logger,
    ) {
        self.release(peer);
        let failure = match result {
            Ok((digest, services)) => {
                if shared.fetched(tid, peer, &digest, services, asked) {
                    if let Ok(mut f) = self.failing.lock() {
                        f.remove(peer);
                    }
                    return;
                }
                // Lost while the fetch ran: nothing to say.
                if shared.peers.lock().is_ok_and(|p| !p.contains_key(peer)) {
                    return;
                }
                "its services part does not decode: refused".to_string()
            }
            Err(Fetched::Refused(why)) => {
                shared.refuse_dataset(tid);
                format!("{why}: refused")
            }
            Err(Fetched::Failed(why)) => why,
        };
        if self
            .failing
            .lock()
            .is_ok_and(|mut f| f.insert(peer.to_string()))
        {
            log.warn(format!(
                "{tid}: cannot fetch {peer}'s dataset: {failure} (tried again at its next beat; \
                 until then no service {peer} may run is started here)"
            ));
        }
    }
}

/// Why a fetch brought nothing.
enum Fetched {
    /// The peer could not be asked, or did not answer in time.
    Failed(String),
    /// It answered something that does not check (dataset.rs).
    Refused(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::state::Heard;
    use serde_json::{Value, json};
    use std::net::TcpListener;
    use std::time::Instant;

    use crate::daemon::peer::tests::{TEST_SECRET as SECRET, serve_once_as};

    /// node1's listener on loopback for one request, answering `data`.
    fn serve_once(data: Value) -> u16 {
        serve_once_as("node1", move |req, body| {
            assert_eq!(body["action"], "get_dataset");
            (req.seq, data)
        })
        .port()
    }

    /// node.conf of node2 with node1's listener on `port`.
    fn conf(port: u16) -> NodeConfig {
        NodeConfig::parse(
            std::path::Path::new("node.conf"),
            &format!(
                "[cluster]\nname = c1\nnodes = node1 node2\n[listener]\naddr@node1 = 127.0.0.1\nport@node1 = {port}\n"
            ),
        )
    }

    /// node2, having heard node1 name `digest`, and its fetcher of node1's
    /// listener on `port`.
    fn node2(port: u16, digest: &str) -> (Arc<Shared>, Arc<Fetcher>) {
        let f = Arc::new(Fetcher::default());
        f.configure(&conf(port), "node2");
        f.set_key(Key::from_secret(SECRET));
        let sh = Arc::new(Shared::new("node2"));
        let heard = sh.heard(
            "hb#1.rx",
            "node1",
            json!({}),
            digest.to_string(),
            crate::daemon::wire::now_us(),
        );
        assert_eq!(heard, Heard::Wants(digest.to_string()));
        (sh, f)
    }

    /// Runs one fetch of node1 and waits for it to end.
    fn fetch_once(sh: &Arc<Shared>, f: &Arc<Fetcher>) {
        f.want(
            "hb#1.rx",
            "node1",
            Duration::from_secs(2),
            sh,
            &Logger::named("node", "test"),
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while !f.busy.lock().unwrap().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(f.busy.lock().unwrap().is_empty(), "the fetch never ended");
    }

    #[test]
    fn an_answer_whose_digest_is_not_its_texts_is_refused_and_counted() {
        let text = r#"{"svc1":{"avail":"up"}}"#;
        let claimed = dataset::digest_of(b"{}");
        let port = serve_once(json!({"digest": claimed, "services": text}));
        let (sh, f) = node2(port, &claimed);
        fetch_once(&sh, &f);
        let p = sh.peers.lock().unwrap()["node1"].clone();
        assert!(p.view.pending && p.view.services.is_empty(), "{p:?}");
        assert_eq!(sh.refused_datasets.lock().unwrap()["hb#1.rx"], 1);
        assert!(f.failing.lock().unwrap().contains("node1"), "logged once");
    }

    #[test]
    fn a_peer_that_does_not_answer_stays_pending_and_is_asked_again() {
        // A port nobody listens on.
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let digest = dataset::digest_of(b"{}");
        let (sh, f) = node2(port, &digest);
        fetch_once(&sh, &f);
        assert!(sh.peers.lock().unwrap()["node1"].view.pending);
        assert!(
            sh.refused_datasets.lock().unwrap().is_empty(),
            "not a refusal"
        );
        // The next beat still names it: asked again (node1's listener is
        // up now), and this time answered.
        let port = serve_once(json!({"digest": digest, "services": "{}"}));
        f.configure(&conf(port), "node2");
        fetch_once(&sh, &f);
        assert!(!sh.peers.lock().unwrap()["node1"].view.pending);
        assert!(
            f.failing.lock().unwrap().is_empty(),
            "said again if it fails again"
        );
    }
}
