//! Waiting for the cluster to settle after a fault: the auditor's samples
//! until one meets every convergence rule (audit::differences), then the
//! checks too slow for every sample (the client's requests, `validate
//! config`, the state and config files), and the nodes' logs read for
//! panics and unexplained agent exits.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};

use sha2::{Digest, Sha256};

use crate::audit::{Auditor, differences, serving};
use crate::cluster::{Cluster, sleep};
use crate::kernel::{Kernel, Sample, VAR};
use crate::model::Model;
use crate::power::Power;
use crate::topology::{Node, SERVICES};

pub(crate) const NODE_LOG: &str = "var/log/opensvc/node.log";
pub(crate) const AGENT_LOG: &str = "var/log/svcmgr-lab/agent.log";

/// How a settle ended.
#[derive(Debug, Default)]
pub(crate) struct Verdict {
    /// Seconds from the end of the fault to the first settled sample.
    pub settled_after: Option<f64>,
    /// What still differed at the deadline.
    pub diffs: Vec<String>,
    /// Log lines that fail the run whatever the cluster looks like.
    pub problems: Vec<String>,
    pub notes: Vec<String>,
}

/// Reads what the nodes appended to their logs since the last scan, from
/// their disks (the overlay upper dirs): also a node powered off.
#[derive(Default)]
pub(crate) struct LogWatch {
    offsets: BTreeMap<(Node, &'static str), u64>,
    exits_137: BTreeMap<Node, usize>,
}

/// Lines that say a daemon crashed: a Rust panic (the release build
/// aborts after it), an abort.
fn crash_line(l: &str) -> bool {
    [
        "panicked",
        "fatal runtime error",
        "core dumped",
        "Aborted",
        "SIGABRT",
    ]
    .iter()
    .any(|w| l.contains(w))
}

impl LogWatch {
    fn new_lines(&mut self, k: &Kernel, n: Node, log: &'static str) -> Vec<String> {
        let path = k.disk_path(n, log);
        let Ok(mut f) = std::fs::File::open(&path) else {
            return Vec::new();
        };
        let len = f.metadata().map_or(0, |m| m.len());
        let off = self.offsets.entry((n, log)).or_insert(0);
        if len < *off {
            *off = 0; // truncated
        }
        let mut buf = Vec::new();
        if f.seek(SeekFrom::Start(*off)).is_err() || f.read_to_end(&mut buf).is_err() {
            return Vec::new();
        }
        // Only whole lines: the rest is still being written.
        let end = buf.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        *off += end as u64;
        String::from_utf8_lossy(&buf[..end])
            .lines()
            .map(String::from)
            .collect()
    }

    /// (problems, notes) in the new lines: crashes and unexplained agent
    /// exits; monitor actions, worth a note (they move a service).
    pub(crate) fn scan(&mut self, k: &Kernel, model: &Model) -> (Vec<String>, Vec<String>) {
        let mut problems = Vec::new();
        let mut notes = Vec::new();
        for &n in &k.topo.nodes {
            for l in self.new_lines(k, n, NODE_LOG) {
                if crash_line(&l) {
                    problems.push(format!("{n} node.log: {}", clip(&l)));
                }
                for svc in SERVICES {
                    if l.contains(&format!("{svc}: "))
                        && l.contains("restarts exhausted: monitor_action")
                    {
                        notes.push(format!("{n}: {svc}'s monitor action ran"));
                    }
                }
            }
            for l in self.new_lines(k, n, AGENT_LOG) {
                if crash_line(&l) {
                    problems.push(format!("{n} agent.log: {}", clip(&l)));
                }
                let Some(rc) = l.split("the agent exited with ").nth(1) else {
                    continue;
                };
                let kills = model.agent_kills.get(&n).copied().unwrap_or(0);
                if rc.trim() == "137" {
                    let seen = self.exits_137.entry(n).or_insert(0);
                    *seen += 1;
                    if *seen > kills {
                        problems.push(format!(
                            "{n} agent.log: {} (SIGKILL), but the runner killed it only {kills} time(s)",
                            clip(&l)
                        ));
                    }
                } else {
                    problems.push(format!("{n} agent.log: {}", clip(&l)));
                }
            }
        }
        (problems, notes)
    }
}

fn clip(l: &str) -> String {
    l.chars().take(300).collect()
}

/// The checks made once the kernel objects are right.
fn slow_checks(cl: &Cluster, s: &Sample, model: &Model) -> Vec<String> {
    let mut diffs = Vec::new();
    let live: Vec<(Node, u32)> = s
        .live()
        .filter_map(|(n, _)| Some((*n, cl.kernel.init_pid(*n)?)))
        .collect();
    for &(n, init) in &live {
        let path = Kernel::path(init, &format!("{VAR}/osvcd.state.json"));
        if let Ok(text) = std::fs::read_to_string(&path)
            && let Err(e) = serde_json::from_str::<serde_json::Value>(&text)
        {
            diffs.push(format!("{n}: /{VAR}/osvcd.state.json is not JSON: {e}"));
        }
    }
    diffs.extend(config_diffs(&live, model));
    if !diffs.is_empty() {
        return diffs;
    }
    for svc in serving(s, &cl.kernel.topo) {
        let (Some(addr), Some(web)) = (svc.addr(), svc.web()) else {
            continue;
        };
        let out = cl.client(
            &format!("curl -sf --max-time 1 http://{addr}:{}/", web.port),
            10,
        );
        if !out.stdout.contains(web.page) {
            diffs.push(format!(
                "{svc}: the client gets no page from http://{addr}:{}/ (curl rc {})",
                web.port, out.code
            ));
        }
    }
    if !diffs.is_empty() {
        return diffs;
    }
    let names: Vec<&str> = SERVICES.iter().map(|s| s.name()).collect();
    for &(n, _) in &live {
        let out = cl.on(
            n,
            &format!(
                "for s in {}; do out=$(svcmgr -s $s validate config 2>&1) || echo \"$s: $out\"; done",
                names.join(" ")
            ),
            60,
        );
        let text = out.stdout.trim();
        if out.code != 0 || !text.is_empty() {
            diffs.push(format!(
                "{n}: validate config fails: {}",
                clip(&text.replace('\n', " | "))
            ));
        }
    }
    diffs
}

/// Every live node holds the same config file for each service, with the
/// newest comment the runner set.
fn config_diffs(live: &[(Node, u32)], model: &Model) -> Vec<String> {
    let mut diffs = Vec::new();
    for svc in SERVICES {
        let files: Vec<(Node, Option<Vec<u8>>)> = live
            .iter()
            .map(|&(n, init)| {
                let p = Kernel::path(init, &format!("etc/opensvc/{}.conf", svc.name()));
                (n, std::fs::read(p).ok())
            })
            .collect();
        let differ = files.windows(2).any(|w| w[0].1 != w[1].1);
        if differ {
            let hashes: Vec<String> = files
                .iter()
                .map(|(n, c)| format!("{n} {}", c.as_deref().map_or("missing".into(), short_sha)))
                .collect();
            diffs.push(format!(
                "{svc}: the config differs between nodes (sha256 {})",
                hashes.join(", ")
            ));
        }
        if let Some(want) = model.comments.get(&svc) {
            let line = format!("comment = {want}");
            for (n, c) in &files {
                let has = c
                    .as_deref()
                    .is_some_and(|c| String::from_utf8_lossy(c).lines().any(|l| l.trim() == line));
                if !has {
                    diffs.push(format!("{svc}: {n}'s config lacks `{line}`"));
                }
            }
        }
    }
    diffs
}

fn short_sha(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    d.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// How long a settled state must hold before the settle ends: a state
/// that only passes through being right is not settled.
const HOLD: f64 = 3.0;

/// How long an agent that just began decides nothing: 2 x the longest
/// heartbeat timeout + 1 s (docs/orchestration.md, 3 s by default), and a
/// margin. A settle covers it, so that what the agent then decides (a
/// second start, say) is blamed on the fault that restarted it.
pub(crate) const AGENT_GRACE: f64 = 8.0;

/// What a settle waits for.
pub(crate) struct Wait {
    /// Run seconds when the fault's last step was done.
    pub from: f64,
    /// Give up this long after `from`.
    pub budget: f64,
    /// When an agent last began again during the fault (0: none).
    pub agent_back: f64,
}

/// Samples until the cluster is settled and stays so for HOLD (and past
/// the grace of any agent that began again), or the budget is spent.
/// The recovery time is that of the first sample of the settled stretch.
pub(crate) fn settle(
    cl: &Cluster,
    auditor: &Auditor,
    power: &Power,
    model: &mut Model,
    logs: &mut LogWatch,
    w: &Wait,
) -> Verdict {
    let mut v = Verdict::default();
    let mut shown = Vec::new();
    let mut settled_at: Option<f64> = None;
    loop {
        let (problems, notes) = logs.scan(&cl.kernel, model);
        v.problems.extend(problems);
        v.notes.extend(notes);
        let back = w.agent_back.max(power.last_boot());
        let quiet = if back > 0.0 { back + AGENT_GRACE } else { 0.0 };
        let deadline = (w.from + w.budget).max(quiet + HOLD);
        let s = auditor.sample_after(cl.clock.now());
        model.carry(|svc, to, t| auditor.ran_alone_on(svc, to, t));
        let mut diffs = differences(&s, &cl.kernel.topo, model);
        if diffs.is_empty() && settled_at.is_none() {
            diffs = slow_checks(cl, &s, model);
            if diffs.is_empty() {
                settled_at = Some(s.t);
            }
        }
        if !diffs.is_empty() {
            settled_at = None;
        }
        if let Some(t) = settled_at
            && (s.t >= (t + HOLD).max(quiet) || cl.clock.now() >= deadline)
        {
            v.settled_after = Some((t - w.from).max(0.0));
            return v;
        }
        if cl.verbose && diffs != shown {
            println!("      [{:7.1}s] not settled: {}", s.t, diffs.join("; "));
            shown = diffs.clone();
        }
        if cl.clock.now() >= deadline || crate::interrupt::interrupted() {
            v.diffs = diffs;
            return v;
        }
        sleep(0.3);
    }
}
