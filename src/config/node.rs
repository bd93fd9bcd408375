//! node.conf as one typed value: every section read from one read of the
//! file, once, into the types the daemon and the CLI use, with every
//! problem located (file:line) as a service config's are. node_validate.rs
//! finds the problems, node_keywords.rs says what each key may hold; this
//! module turns the values into typed fields, a default for any value that
//! is unset (or bad: a file with problems is refused by the daemon, and
//! its settings are never used there).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Problem;
use super::duration;
use super::ini::{Ini, Section};
use super::node_keywords::{self as nk, SectionKind, ValueKind};
use super::node_validate;

/// `[hb#N] port` when unset.
pub(crate) const DEFAULT_HB_PORT: u16 = 10000;
/// Shipped defaults: a beat a second, a peer lost after 3 s of silence on
/// every heartbeat (1.9: 5 s and 15 s).
pub(crate) const DEFAULT_HB_INTERVAL: Duration = Duration::from_secs(1);
pub(crate) const DEFAULT_HB_TIMEOUT: Duration = Duration::from_secs(3);
pub(crate) const DEFAULT_ARBITRATOR_TIMEOUT: Duration = Duration::from_secs(1);
pub(crate) const DEFAULT_LISTENER_ADDR: &str = "0.0.0.0";
/// The orchestrator's wait before starting a service on a node that just
/// came up (daemon/orchestration/core.rs).
pub(crate) const DEFAULT_READY_PERIOD: Duration = Duration::from_secs(1);
/// A pause of the agent this long resets the node, and every takeover of
/// its services waits as long (the advertised bound, watchdog.rs): 1 s
/// keeps a takeover at the defaults under 3 s, and leaves the agent, which
/// pets every 100 ms, ten times its pet period (a saturated machine at the
/// fastest documented settings, 0.5 s, reset nothing; BENCHMARKS.md).
pub(crate) const DEFAULT_WATCHDOG_TIMEOUT: Duration = Duration::from_secs(1);
pub(crate) const DEFAULT_HOST_MODE: &str = "TST";
pub(crate) const DEFAULT_CLUSTER_NAME: &str = "default";

pub(crate) use super::node_keywords::HbMedium;

/// One `[hb#N]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HbConf {
    /// The section name, `hb#1`.
    pub id: String,
    pub medium: HbMedium,
    pub port: u16,
    /// Disk heartbeats: the shared block device.
    pub dev: Option<String>,
    /// Unicast: the local address to listen on; multicast: the group
    /// (default in daemon/hb/mcast.rs), as written.
    pub addr: Option<String>,
    /// Multicast heartbeats: the interface to send and join on (default any).
    pub intf: Option<String>,
    pub interval: Duration,
    pub timeout: Duration,
}

/// One `[arbitrator#N]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Arbitrator {
    /// The section, `arbitrator#1`.
    pub id: String,
    /// Lower-cased host name.
    pub name: String,
    pub secret: String,
    pub cluster: String,
    pub port: u16,
    pub timeout: Duration,
}

/// `[node]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NodeSection {
    /// `host_mode` (1.9 calls it `env`), upper-cased; TST when unset.
    pub host_mode: String,
    /// `ruser` words: `user` (the default) and `user@node`.
    pub ruser: Vec<String>,
    pub watchdog: bool,
    pub watchdog_timeout: Duration,
    pub split_action: SplitAction,
    pub ready_period: Duration,
    /// How many starts of one takeover run at once (at least 1).
    pub max_parallel: usize,
}

/// `[cluster]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClusterSection {
    /// `nodes`, lower-cased, as written (see [`NodeConfig::members`]).
    pub nodes: Vec<String>,
    /// None when unset or blank: the daemon makes one (daemon/secret.rs).
    pub secret: Option<String>,
    pub name: String,
    pub quorum: bool,
}

/// `[listener]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ListenerSection {
    pub addr: String,
    /// 0 binds an ephemeral port (tests).
    pub port: u16,
    /// `addr@<node>`: where that node's listener is reached.
    pub addr_of: BTreeMap<String, String>,
    /// `port@<node>`.
    pub port_of: BTreeMap<String, u16>,
}

/// Everything node.conf says, typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NodeConfig {
    pub file: PathBuf,
    pub node: NodeSection,
    pub cluster: ClusterSection,
    pub listener: ListenerSection,
    /// In file order.
    pub hbs: Vec<HbConf>,
    /// In file order; one without name or secret is left out (it is a
    /// problem, and it could never vote).
    pub arbitrators: Vec<Arbitrator>,
    /// `[stonith#<node>] cmd` by fenced node, blank commands left out.
    pub stonith: BTreeMap<String, String>,
    /// Every problem, in file order of the sections.
    pub problems: Vec<Problem>,
}

impl NodeConfig {
    /// node.conf's text, parsed once. Never fails: problems are collected.
    pub(crate) fn parse(file: &Path, text: &str) -> NodeConfig {
        let ini = Ini::parse(text);
        let problems = node_validate::problems(file, &ini);
        let sections = |kind: SectionKind| {
            ini.sections()
                .iter()
                .filter(move |s| nk::section_kind(&s.name) == Ok(kind))
        };
        let one = |kind| sections(kind).next();
        NodeConfig {
            file: file.to_path_buf(),
            node: node_section(one(SectionKind::Node)),
            cluster: cluster_section(one(SectionKind::Cluster)),
            listener: listener_section(one(SectionKind::Listener)),
            hbs: sections(SectionKind::Hb).filter_map(hb_section).collect(),
            arbitrators: sections(SectionKind::Arbitrator)
                .filter_map(arbitrator_section)
                .collect(),
            stonith: sections(SectionKind::Stonith)
                .filter_map(|s| {
                    let node = s.name.split_once('#')?.1;
                    Some((node.to_string(), value(Some(s), "cmd")?.to_string()))
                })
                .collect(),
            problems,
        }
    }

    /// Reads `file` once; a missing file is an empty one (every key has a
    /// default). Err names the file when it cannot be read.
    pub(crate) fn load(file: &Path) -> Result<NodeConfig, String> {
        match std::fs::read(file) {
            Ok(bytes) => Ok(NodeConfig::parse(file, &String::from_utf8_lossy(&bytes))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(NodeConfig::parse(file, "")),
            Err(e) => Err(format!("cannot read {}: {e}", file.display())),
        }
    }

    /// `load`, an unreadable file read as an empty one: for readers that
    /// fall back on the defaults (the daemon refused to start on it).
    pub(crate) fn load_or_empty(file: &Path) -> NodeConfig {
        NodeConfig::load(file).unwrap_or_else(|_| NodeConfig::parse(file, ""))
    }

    /// `load`, but only a file without problems: what the daemon's
    /// readers act on; the message says where to look otherwise.
    pub(crate) fn load_valid(file: &Path) -> Result<NodeConfig, String> {
        let conf = NodeConfig::load(file)?;
        if conf.problems.is_empty() {
            Ok(conf)
        } else {
            Err(format!(
                "{} is invalid (nodemgr validate config)",
                file.display()
            ))
        }
    }

    /// `[cluster] nodes` with `nodename` in it: first when it is not listed.
    pub(crate) fn members(&self, nodename: &str) -> Vec<String> {
        let mut nodes = self.cluster.nodes.clone();
        if !nodes.iter().any(|n| n == nodename) {
            nodes.insert(0, nodename.to_string());
        }
        nodes
    }

    /// The user to log in as on `peer`: its `user@peer`, else the bare
    /// `user` (the last one), else root.
    pub(crate) fn ruser(&self, peer: &str) -> String {
        let mut default = "root".to_string();
        for item in &self.node.ruser {
            match item.split_once('@') {
                Some((user, node)) if node.eq_ignore_ascii_case(peer) => return user.to_string(),
                Some(_) => {}
                None => default = item.clone(),
            }
        }
        default
    }

    /// The port `node`'s listener is reached on: `port@<node>`, else
    /// `port`.
    pub(crate) fn peer_port(&self, node: &str) -> u16 {
        self.listener
            .port_of
            .get(node)
            .copied()
            .unwrap_or(self.listener.port)
    }

    /// Where `node`'s listener is reached: `addr@<node>`, else its name.
    pub(crate) fn peer_host(&self, node: &str) -> String {
        self.listener
            .addr_of
            .get(node)
            .cloned()
            .unwrap_or_else(|| node.to_string())
    }

    /// The command that fences `node`, if any.
    pub(crate) fn stonith_cmd(&self, node: &str) -> Option<&str> {
        self.stonith.get(node).map(String::as_str)
    }
}

/// A set, non-blank value of `s`.
fn value<'a>(s: Option<&'a Section>, key: &str) -> Option<&'a str> {
    s?.entry(key)
        .map(|e| e.value.trim())
        .filter(|v| !v.is_empty())
}

/// Seconds within the bounds node_keywords.rs gives `key`, else `default`.
fn secs(kind: SectionKind, s: Option<&Section>, key: &str, default: Duration) -> Duration {
    let bounds = nk::keyword(kind, key).map(|k| k.kind);
    match (value(s, key), bounds) {
        (Some(v), Ok(ValueKind::Secs { min, max })) => {
            duration::parse_secs(v, min, max).unwrap_or(default)
        }
        _ => default,
    }
}

fn bool_of(s: Option<&Section>, key: &str, default: bool) -> bool {
    value(s, key).and_then(nk::parse_bool).unwrap_or(default)
}

/// A port; 0 only where `zero_ok` (a port to bind).
fn port_of(v: Option<&str>, zero_ok: bool) -> Option<u16> {
    v?.parse::<u16>().ok().filter(|&p| zero_ok || p > 0)
}

fn node_section(s: Option<&Section>) -> NodeSection {
    let k = SectionKind::Node;
    NodeSection {
        host_mode: value(s, "host_mode")
            .or_else(|| value(s, "env"))
            .map_or_else(|| DEFAULT_HOST_MODE.into(), str::to_uppercase),
        ruser: value(s, "ruser")
            .map(|v| v.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default(),
        watchdog: bool_of(s, "watchdog", true),
        watchdog_timeout: secs(k, s, "watchdog_timeout", DEFAULT_WATCHDOG_TIMEOUT),
        split_action: value(s, "split_action")
            .and_then(SplitAction::parse)
            .unwrap_or(SplitAction::Crash),
        ready_period: secs(k, s, "ready_period", DEFAULT_READY_PERIOD),
        max_parallel: count(k, s, "max_parallel").unwrap_or_else(default_max_parallel),
    }
}

/// A whole number within the bounds node_keywords.rs gives `key`.
fn count(kind: SectionKind, s: Option<&Section>, key: &str) -> Option<usize> {
    let Ok(ValueKind::Count { min, max }) = nk::keyword(kind, key).map(|k| k.kind) else {
        return None;
    };
    let n = value(s, key)?.parse::<u64>().ok()?;
    (min..=max).contains(&n).then(|| usize::try_from(n).ok())?
}

/// `[node] max_parallel` when unset: twice the online CPUs, at least 8. A
/// start mostly waits (the address probe's 150 ms, the announce's 100 ms,
/// a tool), so the cores do not bound it: on 2 CPUs, 50 services took 3.5
/// times one service's gap 2 at a time, 1.75 times 8 at a time
/// (BENCHMARKS.md, "Parallel takeover").
pub(crate) fn default_max_parallel() -> usize {
    // SAFETY: sysconf only reads a system value.
    let online = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    usize::try_from(online)
        .unwrap_or(1)
        .saturating_mul(2)
        .max(8)
}

fn cluster_section(s: Option<&Section>) -> ClusterSection {
    ClusterSection {
        nodes: value(s, "nodes")
            .map(|v| v.split_whitespace().map(str::to_lowercase).collect())
            .unwrap_or_default(),
        secret: value(s, "secret").map(str::to_string),
        name: value(s, "name").unwrap_or(DEFAULT_CLUSTER_NAME).to_string(),
        quorum: bool_of(s, "quorum", false),
    }
}

fn listener_section(s: Option<&Section>) -> ListenerSection {
    let mut l = ListenerSection {
        addr: value(s, "addr")
            .unwrap_or(DEFAULT_LISTENER_ADDR)
            .to_string(),
        port: port_of(value(s, "port"), true).unwrap_or(DEFAULT_PORT),
        addr_of: BTreeMap::new(),
        port_of: BTreeMap::new(),
    };
    for e in s.iter().flat_map(|s| &s.entries) {
        let v = e.value.trim();
        match e.key.split_once('@') {
            Some(("addr", node)) if !v.is_empty() => {
                l.addr_of.insert(node.to_string(), v.to_string());
            }
            Some(("port", node)) => {
                if let Some(p) = port_of(Some(v), true) {
                    l.port_of.insert(node.to_string(), p);
                }
            }
            _ => {}
        }
    }
    l
}

/// None for a section without a type the daemon runs (a problem).
fn hb_section(section: &Section) -> Option<HbConf> {
    let (k, s) = (SectionKind::Hb, Some(section));
    let text = |key| value(s, key).map(str::to_string);
    Some(HbConf {
        id: section.name.clone(),
        medium: HbMedium::parse(value(s, "type")?)?,
        port: port_of(value(s, "port"), false).unwrap_or(DEFAULT_HB_PORT),
        dev: text("dev"),
        addr: text("addr"),
        intf: text("intf"),
        interval: secs(k, s, "interval", DEFAULT_HB_INTERVAL),
        timeout: secs(k, s, "timeout", DEFAULT_HB_TIMEOUT),
    })
}

fn arbitrator_section(section: &Section) -> Option<Arbitrator> {
    let s = Some(section);
    Some(Arbitrator {
        id: section.name.clone(),
        name: value(s, "name")?.to_lowercase(),
        secret: value(s, "secret")?.to_string(),
        cluster: value(s, "cluster")
            .unwrap_or(DEFAULT_CLUSTER_NAME)
            .to_string(),
        port: port_of(value(s, "port"), false).unwrap_or(DEFAULT_PORT),
        timeout: secs(
            SectionKind::Arbitrator,
            s,
            "timeout",
            DEFAULT_ARBITRATOR_TIMEOUT,
        ),
    })
}

/// `[node] split_action` (or `[cluster]`): what a node that lost quorum
/// does (src/daemon/orchestration/split.rs carries it out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SplitAction {
    Crash,
    Reboot,
    FreezeStop,
    Disabled,
}

impl SplitAction {
    pub(crate) fn parse(v: &str) -> Option<SplitAction> {
        match v.trim().to_lowercase().as_str() {
            "crash" => Some(SplitAction::Crash),
            "reboot" => Some(SplitAction::Reboot),
            "freezestop" => Some(SplitAction::FreezeStop),
            "disabled" => Some(SplitAction::Disabled),
            _ => None,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SplitAction::Crash => "crash",
            SplitAction::Reboot => "reboot",
            SplitAction::FreezeStop => "freezestop",
            SplitAction::Disabled => "disabled",
        }
    }
}

/// The peer listener's port when `[listener] port` does not say.
pub(crate) const DEFAULT_PORT: u16 = 1214;

#[cfg(test)]
#[path = "node_tests.rs"]
mod tests;
