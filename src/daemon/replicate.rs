//! Config replication (docs/behaviour.md, "Config replication"): every node advertises, per
//! local service, its config file's mtime and sha256 in its heartbeat
//! dataset; a node fetches a service's config from a peer in scope that
//! has it and it has not, or that has another one with a newer mtime.
//!
//! - Scope: the peer and this node are both in the service's `nodes` or
//!   `drpnodes` as the peer advertises them; a node of `nodes` does not take
//!   the config of a peer that is only a DRP node (1.9: production never
//!   fetches from a DRP node).
//! - A fetched config is validated as `svcmgr validate config` does, on a
//!   copy under `<var>/replicate`; the live file is kept when it is refused.
//! - It is installed atomically with the origin's mtime, so both nodes then
//!   advertise the same stamp and newest-wins is stable (no ping-pong).
//! - A new service is frozen before its config appears (no daemon may start
//!   it before its owner thaws it), then gets its links as `create` makes.
//! - A local `<svc>.env` is rewritten in place: installing a `.conf` next to
//!   it would give the service two files, which is an error.
//! - A config that keeps failing is not fetched again for the same cksum
//!   beyond [`MAX_TRIES`] (only transport errors are retried at all).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::state::{PeerData, Shared};
use super::{peer, secret, wire};
use crate::action::{self, Env};
use crate::config;
use crate::config::node::NodeConfig;
use crate::fsutil::FileId;
use crate::log::Logger;
use crate::paths::Paths;

pub(crate) const FETCH_TIMEOUT: Duration = Duration::from_secs(3);
pub(crate) const MAX_TRIES: u32 = 3;
/// The monitor thread does the fetches: a few per pass keeps its loop short.
const FETCHES_PER_PASS: usize = 2;
/// The largest config accepted from a peer. A real one is a few KiB; a
/// bigger one is a mistake or an attack, and validating it would hold the
/// monitor thread (issue 10, item 22).
pub(crate) const MAX_CONFIG_BYTES: usize = 1 << 20;

pub(crate) use super::state::ConfStamp;

/// An mtime on the wire, in whole microseconds: an f64 of seconds keeps
/// only about 0.24 µs at today's dates, so nanoseconds would not survive
/// the trip and an installed copy's stamp would differ from its origin's.
fn secs(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH).map_or(0.0, |d| {
        let us = (d.as_nanos() + 500) / 1000;
        // Microseconds since 1970 fit an f64's 53 bits until year 2255.
        us as f64 / 1e6
    })
}

/// The inverse of `secs`: that microsecond exactly.
fn from_secs(s: f64) -> Option<SystemTime> {
    let us = (s * 1e6).round();
    (us.is_finite() && us >= 0.0 && us < u64::MAX as f64)
        .then(|| UNIX_EPOCH + Duration::from_micros(us as u64))
}

pub(crate) fn stamp(file: &Path) -> Option<ConfStamp> {
    let bytes = std::fs::read(file).ok()?;
    Some(ConfStamp {
        mtime: secs(crate::fsutil::mtime(file)?),
        cksum: cksum(&bytes),
    })
}

/// The stamps of the local config files, read and hashed again only when
/// the file changed ([`FileId`]): the replication looks at every service
/// every monitor pass, and hashing a thousand files a second was a good
/// part of an idle daemon's CPU. Kept by service and updated in place, so
/// a pass where nothing changed allocates nothing.
#[derive(Debug, Default)]
pub(crate) struct Stamps {
    local: Local,
    /// By service: the file its stamp was read from, and that file's id.
    ids: BTreeMap<String, (std::path::PathBuf, FileId)>,
}

/// The config stamps of this node's services, by service: what the
/// replication compares with the peers' offers.
pub(crate) type Local = BTreeMap<String, Option<ConfStamp>>;

impl Stamps {
    /// Takes in the listed services, `(name, its config file, that file's
    /// id)`. `renamed`: the names listed, in order, when the caller saw
    /// them change since the last update; the services not among them are
    /// forgotten (None: the same names as last time, nothing to forget).
    pub(crate) fn update<'a>(
        &mut self,
        listed: impl Iterator<Item = (&'a str, Option<&'a Path>, Option<FileId>)>,
        renamed: Option<&[String]>,
    ) {
        if let Some(names) = renamed {
            let listed_here = |n: &String| names.binary_search(n).is_ok();
            self.local.retain(|n, _| listed_here(n));
            self.ids.retain(|n, _| listed_here(n));
        }
        for (svc, file, id) in listed {
            let known = match (file, id, self.ids.get(svc)) {
                (Some(f), Some(id), Some((was, was_id))) => was == f && *was_id == id,
                _ => false,
            };
            if known {
                continue;
            }
            // Read and hashed again; an unreadable file is tried again at
            // the next pass.
            let st = file.zip(id).and_then(|(f, id)| {
                let st = stamp(f)?;
                self.ids.insert(svc.to_string(), (f.to_path_buf(), id));
                Some(st)
            });
            if st.is_none() {
                self.ids.remove(svc);
            }
            match self.local.get_mut(svc) {
                Some(v) => *v = st,
                None => {
                    self.local.insert(svc.to_string(), st);
                }
            }
        }
    }

    /// The stamps as the last `update` left them.
    pub(crate) fn local(&self) -> &Local {
        &self.local
    }
}

fn cksum(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The listener's `get_service_config` for authenticated node `from`:
/// only a service this node has, and only to a node in its scope.
pub(crate) fn serve_config(paths: &Paths, options: &Value, from: &str) -> Result<Value, String> {
    let svc = options["svcname"]
        .as_str()
        .ok_or("get_service_config needs options.svcname")?;
    if !config::valid_svcname(svc) || !config::list_services(paths).iter().any(|s| s == svc) {
        return Err(format!("no service {svc} here"));
    }
    let file = config::find_file(paths, svc).map_err(|e| e.to_string())?;
    match config::load(paths, svc, from) {
        Ok(_) => {}
        Err(config::ConfigError::NotManagedHere { .. }) => {
            return Err(format!(
                "{from} is not in the nodes or drpnodes of {svc}: its config is not sent there"
            ));
        }
        Err(e) => return Err(e.to_string()),
    }
    let bytes = std::fs::read(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let mtime = crate::fsutil::mtime(&file).map_or(0.0, secs);
    Ok(json!({
        "svcname": svc,
        "text": String::from_utf8_lossy(&bytes),
        "mtime": mtime,
    }))
}

/// A service as one peer advertises it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Offer {
    pub peer: String,
    pub nodes: Vec<String>,
    pub drpnodes: Vec<String>,
    pub stamp: ConfStamp,
}

fn in_scope(me: &str, o: &Offer) -> bool {
    scope_allows(me, &o.peer, &o.nodes, &o.drpnodes)
}

/// `in_scope` for a service `peer` advertises with these node lists.
fn scope_allows(me: &str, peer: &str, nodes: &[String], drpnodes: &[String]) -> bool {
    let has = |l: &[String], n: &str| l.iter().any(|x| x == n);
    let (peer_prd, peer_drp) = (has(nodes, peer), has(drpnodes, peer));
    let (me_prd, me_drp) = (has(nodes, me), has(drpnodes, me));
    // A production node takes only a production node's config.
    let from_allowed = if me_prd {
        peer_prd
    } else {
        peer_prd || peer_drp
    };
    (me_prd || me_drp) && from_allowed
}

/// Newest wins: fetch when in scope and the service is missing here, or
/// differs and the peer's copy is newer. A copy dated ahead of this node's
/// clock by more than the skew orders tolerate (order.rs) is not taken: a
/// peer whose clock runs ahead would otherwise win over every edit made
/// here until its date came.
pub(crate) fn wanted(me: &str, local: Option<&ConfStamp>, o: &Offer) -> bool {
    let ahead = o.stamp.mtime > crate::order::now() + crate::order::MAX_SKEW;
    in_scope(me, o)
        && !ahead
        && local.is_none_or(|l| l.cksum != o.stamp.cksum && o.stamp.mtime > l.mtime)
}

/// For each service to fetch, the newest offer among the config stamps the
/// peers advertise (peer_services.rs).
pub(crate) fn choose(
    me: &str,
    local: &BTreeMap<String, Option<ConfStamp>>,
    peers: &BTreeMap<String, PeerData>,
) -> BTreeMap<String, Offer> {
    let mut out: BTreeMap<String, Offer> = BTreeMap::new();
    for (peer, data) in peers {
        for (svc, c) in data.services.configs() {
            // Most services, every pass: the same config here, or one
            // this node has no part in. Settled before copying anything.
            let local_stamp = local.get(svc).and_then(Option::as_ref);
            if local_stamp.is_some_and(|l| l.cksum == c.stamp.cksum)
                || !scope_allows(me, peer, &c.nodes, &c.drpnodes)
            {
                continue;
            }
            let offer = Offer {
                peer: peer.clone(),
                nodes: c.nodes.clone(),
                drpnodes: c.drpnodes.clone(),
                stamp: c.stamp.clone(),
            };
            if !config::valid_svcname(svc)
                || !wanted(me, local.get(svc).and_then(Option::as_ref), &offer)
            {
                continue;
            }
            if out
                .get(svc)
                .is_none_or(|o| offer.stamp.mtime > o.stamp.mtime)
            {
                out.insert(svc.clone(), offer);
            }
        }
    }
    out
}

enum Failure {
    /// Validation or the peer refused: not worth asking again.
    Refused(String),
    /// Network, resolution, local I/O: retried a few times.
    Transient(String),
}

struct Tries {
    count: u32,
    next: Instant,
}

/// The monitor's replication state: what failed, per service and cksum.
pub(crate) struct Replicator {
    tries: HashMap<(String, String), Tries>,
    /// Shared with the monitor's refresh, which advertises the same stamps.
    pub(crate) stamps: Stamps,
    log: Logger,
}

impl Default for Replicator {
    fn default() -> Self {
        Replicator {
            tries: HashMap::new(),
            stamps: Stamps::default(),
            log: Logger::named("node", "replicate"),
        }
    }
}

impl Replicator {
    /// One pass, on the config files as they are now.
    #[cfg(test)]
    pub(crate) fn step(&mut self, env: &Env, shared: &Shared, conf: &NodeConfig) {
        let files = config::list_service_files(env.paths);
        let names: Vec<String> = files.iter().map(|(svc, _)| svc.clone()).collect();
        self.stamps.update(
            files.iter().map(|(svc, f)| {
                let f = f.as_ref().ok().map(|f| f.as_path());
                (svc.as_str(), f, f.and_then(FileId::of))
            }),
            Some(&names),
        );
        self.step_listed(env, shared, conf);
    }

    /// One pass, after the monitor's refresh updated `stamps` from disk
    /// rather than from the dataset: right after an install the dataset
    /// may still show the old stamp.
    pub(crate) fn step_listed(&mut self, env: &Env, shared: &Shared, conf: &NodeConfig) {
        // Offers only from members: a dataset may outlive a node's removal
        // from [cluster] nodes until it is pruned, and a stranger's config
        // must never be chosen.
        let members = shared
            .cluster_nodes
            .lock()
            .map(|n| n.clone())
            .unwrap_or_default();
        let peers: BTreeMap<String, PeerData> = shared
            .peers
            .lock()
            .map(|p| {
                p.iter()
                    .filter(|(k, _)| members.contains(k))
                    .map(|(k, v)| (k.clone(), v.pass_data()))
                    .collect()
            })
            .unwrap_or_default();
        let wanted = choose(env.nodename, self.stamps.local(), &peers);
        self.tries
            .retain(|(svc, ck), _| wanted.get(svc).is_some_and(|o| &o.stamp.cksum == ck));
        let now = Instant::now();
        let due: Vec<(String, Offer)> = wanted
            .into_iter()
            .filter(|(svc, o)| {
                self.tries
                    .get(&(svc.clone(), o.stamp.cksum.clone()))
                    .is_none_or(|t| t.count < MAX_TRIES && now >= t.next)
            })
            .take(FETCHES_PER_PASS)
            .collect();
        for (svc, offer) in due {
            let key = (svc.clone(), offer.stamp.cksum.clone());
            let count = self.tries.get(&key).map_or(0, |t| t.count) + 1;
            match fetch_install(env, conf, &svc, &offer.peer) {
                Ok(line) => {
                    self.log.info(line);
                    self.tries.remove(&key);
                }
                Err(Failure::Refused(why)) => {
                    self.log.error(format!(
                        "{svc}: config from {} refused, the live file is kept: {why}",
                        offer.peer
                    ));
                    self.tries.insert(
                        key,
                        Tries {
                            count: MAX_TRIES,
                            next: now,
                        },
                    );
                }
                Err(Failure::Transient(why)) => {
                    let last = if count >= MAX_TRIES {
                        " (giving up until it changes again)"
                    } else {
                        ""
                    };
                    self.log.warn(format!(
                        "{svc}: cannot fetch its config from {}: {why}{last}",
                        offer.peer
                    ));
                    self.tries.insert(
                        key,
                        Tries {
                            count,
                            next: now + Duration::from_secs(2u64.pow(count)),
                        },
                    );
                }
            }
        }
    }
}

fn fetch_install(
    env: &Env,
    conf: &NodeConfig,
    svc: &str,
    peer_node: &str,
) -> Result<String, Failure> {
    let paths = env.paths;
    let t = Failure::Transient;
    let key = secret::secret_in(conf, paths).map_err(|e| t(e.to_string()))?;
    let key = wire::Key::from_secret(&key);
    let cluster = conf.cluster.name.clone();
    let asker = peer::Asker {
        nodename: env.nodename,
        cluster: &cluster,
        key: &key,
        asked: peer::Asked::Node(peer_node),
    };
    let addr = peer::resolve(&conf.peer_host(peer_node), conf.peer_port(peer_node))
        .map_err(|e| t(e.to_string()))?;
    let data = peer::request(
        &asker,
        addr,
        "get_service_config",
        json!({"svcname": svc}),
        FETCH_TIMEOUT,
    )
    .map_err(|e| match e {
        peer::PeerError::Refused { .. } => Failure::Refused(e.to_string()),
        _ => t(e.to_string()),
    })?;
    let (Some(text), Some(mtime)) = (data["text"].as_str(), data["mtime"].as_f64()) else {
        return Err(Failure::Refused(format!(
            "{peer_node} answered without text or mtime"
        )));
    };
    let mtime = from_secs(mtime)
        .ok_or_else(|| Failure::Refused(format!("{peer_node} sent an invalid mtime {mtime}")))?;
    let target =
        config::find_file(paths, svc).unwrap_or_else(|_| paths.etc.join(format!("{svc}.conf")));
    validate_copy(env, svc, text, &target)?;
    let new = target.symlink_metadata().is_err();
    if new && action::freeze(paths, svc, &Logger::service(svc)) != action::OK {
        return Err(t(format!(
            "cannot freeze the new service: {} not written",
            target.display()
        )));
    }
    crate::fsutil::write_atomic_at(&target, text.as_bytes(), Some(mtime))
        .map_err(|e| t(format!("cannot write {}: {e}", target.display())))?;
    if new {
        action::install_links(paths, svc, &env.svcmgr_bin).map_err(t)?;
    }
    let what = if new {
        "new service, frozen"
    } else {
        "updated"
    };
    Ok(format!(
        "{svc}: config installed from {peer_node} ({what}, {}, sha256 {})",
        target.display(),
        &cksum(text.as_bytes())[..12]
    ))
}

/// `svcmgr validate config` on a copy, never on the live file; problems
/// are reported against the file they would have replaced.
fn validate_copy(env: &Env, svc: &str, text: &str, target: &Path) -> Result<(), Failure> {
    if text.len() > MAX_CONFIG_BYTES {
        return Err(Failure::Refused(format!(
            "the config is {} bytes, more than the {MAX_CONFIG_BYTES} a replicated config may hold",
            text.len()
        )));
    }
    let scratch = env.paths.var.join("replicate");
    match config::validate_text(env.paths, svc, env.nodename, text, &scratch, target) {
        Ok(problems) if problems.is_empty() => Ok(()),
        Ok(problems) => Err(Failure::Refused(
            problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        )),
        Err(e @ config::TextCheckError::Scratch { .. }) => Err(Failure::Transient(e.to_string())),
        Err(e) => Err(Failure::Refused(e.to_string())),
    }
}

#[cfg(test)]
#[path = "replicate_tests.rs"]
mod tests;
