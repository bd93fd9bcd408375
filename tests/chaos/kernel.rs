//! What the kernel says about each node, read from the host: the only
//! evidence the auditor trusts (never a daemon's own view).
//!
//! A node is its PID 1 (lab/node-init.sh, then lab/node-services.sh);
//! `/proc/<that pid>/root` is the node's own filesystem view with its
//! mounts, its /run and its /proc (the node's PID namespace, so the pids in
//! its pid files resolve there), and `/proc/<that pid>/net` is its network
//! namespace. Reading files is cheap enough for a sample every 0.25-0.5 s
//! where a process per node and sample (`ip -n`, `lab.sh alive`) is not.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::topology::{Node, SERVICES, Topology};

/// The node's agent daemon as its pid file and its /proc say.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Agent {
    Running(u32),
    /// SIGSTOPped (state T): alive, but deciding and beating nothing.
    Stopped(u32),
    /// No pid file, or it names no running `nodemgr|svcmgr daemon`.
    Down(String),
}

#[derive(Clone, Debug, Default)]
pub(crate) struct NodeView {
    pub live: bool,
    /// eth0 has carrier: its switch port is up (`lab.sh cut` takes it down).
    pub cabled: bool,
    pub agent: Option<Agent>,
    /// Local IPv4 addresses of the netns, the node's own included.
    pub addrs: BTreeSet<String>,
    /// Mount point -> device, as /proc/<pid1>/mounts lists them.
    pub mounts: BTreeMap<String, String>,
    /// Ports of the services' web servers that run here (pid file + cmdline).
    pub webs: BTreeSet<u16>,
    /// `<var>/FROZEN` (src/paths.rs frozen_node).
    pub frozen_node: bool,
    /// Services with `<var>/FROZEN.<svc>` (src/paths.rs frozen_svc).
    pub frozen: BTreeSet<String>,
}

impl NodeView {
    pub(crate) fn eligible(&self) -> bool {
        self.live && self.cabled && matches!(self.agent, Some(Agent::Running(_)))
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Sample {
    /// Seconds since the run started.
    pub t: f64,
    pub nodes: BTreeMap<Node, NodeView>,
}

impl Sample {
    pub(crate) fn live(&self) -> impl Iterator<Item = (&Node, &NodeView)> {
        self.nodes.iter().filter(|(_, v)| v.live)
    }
}

/// Reads the kernel objects of the lab's nodes.
#[derive(Clone)]
pub(crate) struct Kernel {
    pub topo: Topology,
    run_dir: PathBuf,
}

pub(crate) const VAR: &str = "var/lib/opensvc";

impl Kernel {
    pub(crate) fn new(topo: Topology) -> Kernel {
        let run_dir = PathBuf::from("/run/svcmgr-lab").join(&topo.lab);
        Kernel { topo, run_dir }
    }

    /// The pid (host's view) of the node's PID 1 while it runs: the last
    /// `init_<node>=PID:STARTTIME` of the lab's state file, still that
    /// process (a reused pid has another start time).
    pub(crate) fn init_pid(&self, n: Node) -> Option<u32> {
        let state = std::fs::read_to_string(self.run_dir.join("state")).ok()?;
        let key = format!("init_{n}=");
        let val = state.lines().rev().find_map(|l| l.strip_prefix(&key))?;
        let (pid, start) = val.split_once(':')?;
        let pid: u32 = pid.parse().ok()?;
        (running_since(&format!("/proc/{pid}/stat"))? == start.parse::<u64>().ok()?).then_some(pid)
    }

    /// A path inside the node, through its PID 1's root.
    pub(crate) fn path(init: u32, inside: &str) -> PathBuf {
        PathBuf::from(format!(
            "/proc/{init}/root/{}",
            inside.trim_start_matches('/')
        ))
    }

    /// A file of the node's disk (its overlay upper dir), readable also
    /// while the node is powered off: its logs after a crash.
    pub(crate) fn disk_path(&self, n: Node, inside: &str) -> PathBuf {
        self.run_dir
            .join(n.to_string())
            .join("upper")
            .join(inside.trim_start_matches('/'))
    }

    /// The command line of `pid` in the node's PID namespace, words
    /// joined by spaces; None for no process or a zombie.
    pub(crate) fn cmdline(init: u32, pid: u32) -> Option<String> {
        let raw = std::fs::read(Self::path(init, &format!("proc/{pid}/cmdline"))).ok()?;
        let words: Vec<String> = raw
            .split(|b| *b == 0)
            .filter(|w| !w.is_empty())
            .map(|w| String::from_utf8_lossy(w).into_owned())
            .collect();
        (!words.is_empty()).then(|| words.join(" "))
    }

    /// (start time, state letter) of `pid` in the node's namespace.
    pub(crate) fn proc_stat(init: u32, pid: u32) -> Option<(u64, char)> {
        let stat = std::fs::read_to_string(Self::path(init, &format!("proc/{pid}/stat"))).ok()?;
        let after = &stat[stat.rfind(')')? + 2..];
        let f: Vec<&str> = after.split_whitespace().collect();
        // After the comm: field 3 is the state, field 22 the start time.
        Some((f.get(19)?.parse().ok()?, f.first()?.chars().next()?))
    }

    /// The agent daemon the node's pid file names, checked in its /proc:
    /// a pid file may outlive its process, and the pid be reused.
    pub(crate) fn agent(init: u32) -> Agent {
        let pidfile = Self::path(init, &format!("{VAR}/osvcd.pid"));
        let Ok(text) = std::fs::read_to_string(&pidfile) else {
            return Agent::Down("no /var/lib/opensvc/osvcd.pid".into());
        };
        let Ok(pid) = text.trim().parse::<u32>() else {
            return Agent::Down(format!("osvcd.pid holds {:?}", text.trim()));
        };
        let cmd = Self::cmdline(init, pid).unwrap_or_default();
        if !is_daemon(&cmd) {
            return Agent::Down(format!(
                "osvcd.pid names {pid}, which is {}",
                if cmd.is_empty() { "no process" } else { &cmd }
            ));
        }
        match Self::proc_stat(init, pid) {
            Some((_, 'T' | 't')) => Agent::Stopped(pid),
            Some(_) => Agent::Running(pid),
            None => Agent::Down(format!("osvcd.pid names {pid}, which just ended")),
        }
    }

    pub(crate) fn view(&self, n: Node) -> NodeView {
        let Some(init) = self.init_pid(n) else {
            return NodeView::default();
        };
        let read = |inside: &str| std::fs::read_to_string(Self::path(init, inside)).ok();
        let mut v = NodeView {
            live: true,
            cabled: read("sys/class/net/eth0/carrier").is_some_and(|c| c.trim() == "1"),
            agent: Some(Self::agent(init)),
            addrs: std::fs::read_to_string(format!("/proc/{init}/net/fib_trie"))
                .map(|t| local_addrs(&t))
                .unwrap_or_default(),
            mounts: std::fs::read_to_string(format!("/proc/{init}/mounts"))
                .map(|m| mounts(&m))
                .unwrap_or_default(),
            frozen_node: Self::path(init, &format!("{VAR}/FROZEN")).exists(),
            ..NodeView::default()
        };
        for svc in SERVICES {
            if Self::path(init, &format!("{VAR}/FROZEN.{}", svc.name())).exists() {
                v.frozen.insert(svc.name().to_string());
            }
            let Some(web) = svc.web() else { continue };
            let pid = read(web.pidfile).and_then(|p| p.trim().parse::<u32>().ok());
            if pid.is_some_and(|p| is_web(&Self::cmdline(init, p).unwrap_or_default(), web.port)) {
                v.webs.insert(web.port);
            }
        }
        // Died while we looked: what we read may be half gone.
        if self.init_pid(n) != Some(init) {
            return NodeView::default();
        }
        v
    }

    pub(crate) fn sample(&self, t: f64) -> Sample {
        Sample {
            t,
            nodes: self
                .topo
                .nodes
                .iter()
                .map(|n| (*n, self.view(*n)))
                .collect(),
        }
    }
}

/// The agent as node-services.sh starts it (`nodemgr daemon start
/// --foreground`), or as an administrator would (`svcmgr daemon start`);
/// not its watchdog (`nodemgr daemon watchdog`), whose death is another fault.
pub(crate) fn is_daemon(cmd: &str) -> bool {
    let w: Vec<&str> = cmd.split_whitespace().collect();
    let argv0 = w.first().map_or("", |a| a.rsplit('/').next().unwrap_or(""));
    matches!(argv0, "nodemgr" | "svcmgr") && w.get(1..3) == Some(&["daemon", "start"][..])
}

/// The demo's web server (demo/weblauncher) on `port`.
pub(crate) fn is_web(cmd: &str, port: u16) -> bool {
    cmd.starts_with(&format!("python3 -m http.server {port}"))
}

/// The start time of a process that runs: not one that is exiting
/// (PF_EXITING: a node's PID 1 stays so while the kernel kills the rest
/// of the node) nor a zombie.
fn running_since(stat_path: &str) -> Option<u64> {
    const PF_EXITING: u64 = 0x4;
    let stat = std::fs::read_to_string(stat_path).ok()?;
    let f: Vec<&str> = stat[stat.rfind(')')? + 2..].split_whitespace().collect();
    // After the comm: field 3 the state, 9 the flags, 22 the start time.
    let state = f.first()?;
    let flags: u64 = f.get(6)?.parse().ok()?;
    if matches!(*state, "Z" | "X" | "x") || flags & PF_EXITING != 0 {
        return None;
    }
    f.get(19)?.parse().ok()
}

/// The `/32 host LOCAL` entries of /proc/net/fib_trie: the addresses
/// plumbed in the namespace.
fn local_addrs(trie: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut last = "";
    for line in trie.lines() {
        let l = line.trim();
        if let Some(a) = l.strip_prefix("|-- ") {
            last = a;
        } else if l == "/32 host LOCAL" && !last.is_empty() {
            out.insert(last.to_string());
        }
    }
    out
}

fn mounts(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let dev = f.next()?;
            let mnt = f.next()?;
            dev.starts_with("/dev/")
                .then(|| (mnt.to_string(), dev.to_string()))
        })
        .collect()
}
