//! Driving the lab: lab.sh's power, cable and exec commands, every one
//! with a timeout, and the chaos cluster's installation
//! (lab/chaos-cluster.sh).

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::kernel::Kernel;
use crate::lab::{BIN, Lab, Out};
use crate::topology::{DISKS, Node, Topology};

const LAB_SH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/lab/lab.sh");
const CHAOS_CLUSTER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/lab/chaos-cluster.sh");
/// As the tutorial's profile: the services' links on PATH.
const NODE_PATH: &str = "PATH=/etc/opensvc:/usr/sbin:/usr/bin:/sbin:/bin";

/// Seconds since the run started, the time base of every report line.
#[derive(Clone, Copy)]
pub(crate) struct Clock(Instant);

impl Clock {
    pub(crate) fn start() -> Clock {
        Clock(Instant::now())
    }

    pub(crate) fn now(&self) -> f64 {
        self.0.elapsed().as_secs_f64()
    }
}

pub(crate) fn sleep(secs: f64) {
    if secs > 0.0 {
        std::thread::sleep(Duration::from_secs_f64(secs));
    }
}

pub(crate) struct Cluster {
    pub kernel: Kernel,
    pub verbose: bool,
    pub clock: Clock,
}

impl Cluster {
    /// The lab's nodes and disks, from its state file.
    pub(crate) fn of(lab: &Lab, verbose: bool, clock: Clock) -> Cluster {
        let nodes = lab
            .get("nodes")
            .split_whitespace()
            .filter_map(|n| n.strip_prefix("node")?.parse().ok().map(Node))
            .collect();
        let disks: BTreeMap<String, String> = DISKS
            .iter()
            .map(|d| (d.to_string(), lab.get(&format!("disk_{d}"))))
            .collect();
        let topo = Topology {
            lab: lab.id.clone(),
            nodes,
            disks,
        };
        Cluster {
            kernel: Kernel::new(topo),
            verbose,
            clock,
        }
    }

    pub(crate) fn id(&self) -> &str {
        &self.kernel.topo.lab
    }

    pub(crate) fn nodes(&self) -> &[Node] {
        &self.kernel.topo.nodes
    }

    /// `argv` on the host, killed after `secs` (coreutils `timeout`: TERM,
    /// then KILL 5 s later).
    fn run(&self, what: String, argv: &[&str], secs: u64) -> Out {
        let t = self.clock.now();
        let out = Command::new("timeout")
            .args(["-k", "5", &secs.to_string()])
            .args(argv)
            .output();
        let out = match out {
            Ok(o) => Out {
                code: o.status.code().unwrap_or(-1),
                stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
                what,
            },
            Err(e) => Out {
                code: -1,
                stdout: String::new(),
                stderr: format!("cannot run timeout(1): {e}"),
                what,
            },
        };
        if self.verbose {
            println!(
                "      [{t:7.1}s] {} -> {}{}",
                out.what,
                out.code,
                if out.code == 124 { " (timed out)" } else { "" }
            );
        }
        out
    }

    pub(crate) fn lab_sh(&self, args: &[&str], secs: u64) -> Out {
        let mut argv = vec!["bash", LAB_SH];
        argv.extend(args);
        self.run(format!("lab.sh {}", args.join(" ")), &argv, secs)
    }

    /// A bash line inside `node`, its /etc/opensvc on PATH, ended after
    /// `secs` by a `timeout` inside the node: ending nsenter from outside
    /// would leave the command running in there.
    pub(crate) fn on(&self, node: Node, line: &str, secs: u64) -> Out {
        let n = node.to_string();
        let secs_s = secs.to_string();
        let argv = [
            "bash",
            LAB_SH,
            "exec",
            self.id(),
            &n,
            "timeout",
            "-k",
            "5",
            &secs_s,
            "env",
            NODE_PATH,
            "bash",
            "-c",
            line,
        ];
        self.run(format!("{node}: {line}"), &argv, secs + 15)
    }

    /// A bash line in the client namespace.
    pub(crate) fn client(&self, line: &str, secs: u64) -> Out {
        let argv = ["bash", LAB_SH, "client", self.id(), "bash", "-c", line];
        self.run(format!("client: {line}"), &argv, secs)
    }

    pub(crate) fn kill(&self, n: Node) -> Out {
        self.lab_sh(&["kill", self.id(), &n.to_string()], 30)
    }

    pub(crate) fn boot(&self, n: Node) -> Out {
        self.lab_sh(&["boot", self.id(), &n.to_string()], 60)
    }

    pub(crate) fn cut(&self, n: Node) -> Out {
        self.lab_sh(&["cut", self.id(), &n.to_string()], 30)
    }

    pub(crate) fn heal(&self, n: Node) -> Out {
        self.lab_sh(&["heal", self.id(), &n.to_string()], 30)
    }

    /// lab/chaos-cluster.sh: configs, node.conf, agents enabled, and
    /// every daemon hearing every node.
    pub(crate) fn install(&self) -> Result<(), String> {
        let out = self.run(
            "lab/chaos-cluster.sh".into(),
            &["bash", CHAOS_CLUSTER, self.id(), BIN],
            300,
        );
        if out.code == 0 {
            Ok(())
        } else {
            Err(out.dump())
        }
    }
}

/// The last `n` lines of a command's stdout and stderr, for a report line.
pub(crate) fn tail(out: &Out, n: usize) -> String {
    let all: Vec<&str> = out
        .stdout
        .lines()
        .chain(out.stderr.lines())
        .filter(|l| !l.trim().is_empty())
        .collect();
    // Log lines pad their columns: one space is enough here.
    all[all.len().saturating_sub(n)..]
        .iter()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(" | ")
}
