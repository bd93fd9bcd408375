//! What the run prints: one line per fault as it ends, the summary, and
//! for a failing run the seed, the whole fault list and, per failure, the
//! nodes' logs and svcmon as they were then: what a reader needs to debug
//! without running it again.

use crate::audit::Dual;
use crate::cluster::Cluster;
use crate::power::Reboot;
use crate::settle::{AGENT_LOG, NODE_LOG, Verdict};

pub(crate) struct Line {
    pub n: usize,
    /// Run seconds when it was injected.
    pub at: f64,
    pub what: String,
    pub notes: Vec<String>,
    pub reboots: Vec<Reboot>,
    /// From injection to all of its steps done.
    pub took: f64,
    /// From injection to the end of its settle (hold included).
    pub wall: f64,
    pub verdict: Verdict,
    /// For each of `verdict.diffs`, the earlier unrecovered fault it was
    /// already left by: a cluster that never recovered fails every fault
    /// after, and the first one is the one to read.
    pub carried: Vec<Option<usize>>,
    pub dual: Vec<Dual>,
    /// Logs and svcmon, taken when it failed.
    pub dump: Option<String>,
}

impl Line {
    pub(crate) fn unrecovered(&self) -> bool {
        self.verdict.settled_after.is_none()
    }

    /// Unrecovered with a difference no earlier fault left.
    pub(crate) fn newly_unrecovered(&self) -> bool {
        self.unrecovered() && self.carried.iter().any(Option::is_none)
    }

    pub(crate) fn failed(&self) -> bool {
        self.unrecovered() || !self.verdict.problems.is_empty() || !self.dual.is_empty()
    }

    /// A failure of its own, not only what an earlier fault left.
    pub(crate) fn new_failure(&self) -> bool {
        self.newly_unrecovered() || !self.verdict.problems.is_empty() || !self.dual.is_empty()
    }

    pub(crate) fn short(&self) -> String {
        let end = match self.verdict.settled_after {
            Some(s) => format!("settled in {s:.1}s"),
            None => "UNRECOVERED".into(),
        };
        let mut flags = String::new();
        if !self.dual.is_empty() {
            flags += &format!(", DUAL ACTIVE x{}", self.dual.len());
        }
        if !self.verdict.problems.is_empty() {
            flags += &format!(", {} log problem(s)", self.verdict.problems.len());
        }
        format!(
            "#{:<3} t={:6.1}s  {}  => {end} (fault {:.1}s){flags}",
            self.n, self.at, self.what, self.took
        )
    }

    pub(crate) fn print(&self) {
        println!("{}", self.short());
        for n in &self.notes {
            println!("        note: {n}");
        }
        for n in &self.verdict.notes {
            println!("        note: {n}");
        }
        for r in &self.reboots {
            match &r.error {
                None => println!(
                    "        {} rebooted by itself: found dead at {:.1}s, booted again at {:.1}s",
                    r.node, r.died, r.booted
                ),
                Some(e) => println!(
                    "        {} died by itself at {:.1}s; booting it again FAILED: {e}",
                    r.node, r.died
                ),
            }
        }
        for ep in episodes(&self.dual) {
            println!("        DUAL ACTIVE {ep}");
        }
        if self.unrecovered() {
            for (i, d) in self.verdict.diffs.iter().enumerate() {
                match self.carried.get(i).copied().flatten() {
                    Some(k) => println!("        still: {d} (left by #{k})"),
                    None => println!("        still: {d}"),
                }
            }
        }
        for p in &self.verdict.problems {
            println!("        PROBLEM: {p}");
        }
    }
}

/// Consecutive dual-active samples that saw the same thing, as one line.
pub(crate) fn episodes(dual: &[Dual]) -> Vec<String> {
    let mut out: Vec<(f64, f64, usize, &Vec<String>)> = Vec::new();
    for d in dual {
        match out.last_mut() {
            Some(last) if last.3 == &d.seen => {
                last.1 = d.t;
                last.2 += 1;
            }
            _ => out.push((d.t, d.t, 1, &d.seen)),
        }
    }
    out.into_iter()
        .map(|(a, b, count, seen)| {
            format!(
                "t={a:.1}s..{b:.1}s ({count} sample(s)): {}",
                seen.join("; ")
            )
        })
        .collect()
}

/// The last lines of every node's logs (read from its disk: a powered-off
/// node's too) and the svcmon of every live node.
pub(crate) fn dump(cl: &Cluster) -> String {
    let mut out = String::new();
    for &n in cl.nodes() {
        for (log, lines) in [(NODE_LOG, 60), (AGENT_LOG, 15)] {
            let text = std::fs::read_to_string(cl.kernel.disk_path(n, log)).unwrap_or_default();
            let all: Vec<&str> = text.lines().collect();
            out += &format!("---- {n}: tail -{lines} /{log}\n");
            for l in &all[all.len().saturating_sub(lines)..] {
                out += &format!("{l}\n");
            }
        }
    }
    for &n in cl.nodes() {
        if cl.kernel.init_pid(n).is_none() {
            out += &format!("---- {n}: svcmon: the node is off\n");
            continue;
        }
        let o = cl.on(n, "svcmon 2>&1", 20);
        out += &format!("---- {n}: svcmon (rc {})\n{}", o.code, o.stdout);
    }
    out
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Why the run stopped injecting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum End {
    /// Every planned fault ran.
    Done,
    /// `--max-minutes` passed.
    Capped,
    /// SIGINT or SIGTERM.
    Interrupted,
    /// The cluster never started its services: no fault was injected.
    NeverSettled,
}

pub(crate) struct Summary<'a> {
    pub seed: u64,
    pub lines: &'a [Line],
    pub planned: usize,
    pub samples: u64,
    pub dual: &'a [Dual],
    pub ended: End,
}

impl Summary<'_> {
    pub(crate) fn failed(&self) -> bool {
        !self.dual.is_empty()
            || self.lines.iter().any(|l| l.failed())
            || self.ended == End::Interrupted
    }

    pub(crate) fn print(&self) {
        // Line #0 is the cluster's own start, not a fault.
        let faults: Vec<&Line> = self.lines.iter().filter(|l| l.n > 0).collect();
        let run = faults.len();
        println!("\n==== chaos summary (seed {})", self.seed);
        println!(
            "faults run: {run} of {}{}",
            self.planned,
            match self.ended {
                End::Done => "",
                End::Capped => " (stopped by --max-minutes)",
                End::Interrupted => " (INTERRUPTED by a signal)",
                End::NeverSettled => " (the cluster never started its services)",
            }
        );
        println!(
            "auditor samples: {}, dual-active samples: {}",
            self.samples,
            self.dual.len()
        );
        for ep in episodes(self.dual) {
            println!("  DUAL ACTIVE {ep}");
        }
        let unrec: Vec<String> = self
            .lines
            .iter()
            .filter(|l| l.unrecovered())
            .map(|l| format!("#{}", l.n))
            .collect();
        let fresh: Vec<String> = self
            .lines
            .iter()
            .filter(|l| l.newly_unrecovered())
            .map(|l| format!("#{}", l.n))
            .collect();
        println!(
            "unrecovered faults: {} {} (with a difference of their own: {})",
            unrec.len(),
            unrec.join(" "),
            if fresh.is_empty() {
                "none".into()
            } else {
                fresh.join(" ")
            }
        );
        let probs: Vec<String> = self
            .lines
            .iter()
            .filter(|l| !l.verdict.problems.is_empty())
            .map(|l| format!("#{}", l.n))
            .collect();
        println!(
            "faults with log problems: {} {}",
            probs.len(),
            probs.join(" ")
        );
        let mut times: Vec<f64> = faults
            .iter()
            .filter_map(|l| l.verdict.settled_after)
            .collect();
        times.sort_by(f64::total_cmp);
        if times.is_empty() {
            println!("recovery time: no fault settled");
        } else {
            println!(
                "recovery time: median {:.1}s, p95 {:.1}s, max {:.1}s ({} settled)",
                percentile(&times, 0.5),
                percentile(&times, 0.95),
                times[times.len() - 1],
                times.len()
            );
        }
        if run > 0 {
            let total: f64 = faults.iter().map(|l| l.wall).sum();
            let inject: f64 = faults.iter().map(|l| l.took).sum();
            println!(
                "a fault took {:.1}s on average from injection to the end of its settle ({:.1}s of it the fault itself)",
                total / run as f64,
                inject / run as f64
            );
        }
    }
}
