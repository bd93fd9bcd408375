//! Carries out one planned step on the lab: the fault itself, and what
//! runs during it (orders, a config change: orders.rs) in a thread of
//! its own.
//! Targets drawn as preferences are resolved here against a fresh look at
//! the kernel, and every substitution or skip is said in the notes.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::audit::owner;
use crate::cluster::{Cluster, sleep, tail};
use crate::kernel::{Agent, Kernel, is_daemon, is_web};
use crate::model::OrderRun;
use crate::orders::{ConfigRun, runs_text};
use crate::plan::{Fault, ResourceFault, Step};
use crate::power::Power;
use crate::topology::{Node, Svc};

/// What was done, for the model and the report.
#[derive(Default, Debug)]
pub(crate) struct Injected {
    /// The fault with its targets resolved.
    pub what: String,
    pub notes: Vec<String>,
    pub orders: Vec<OrderRun>,
    pub config: Option<ConfigRun>,
    /// Agents the runner SIGKILLed (the kill took).
    pub agent_kills: Vec<Node>,
    /// The last time (run seconds) an agent began again: a node booted,
    /// an agent restarted or continued. It decides nothing for a while
    /// after, so the settle must look past that.
    pub agent_back: f64,
}

pub(crate) struct Injector<'a> {
    pub cl: &'a Cluster,
    pub power: &'a Power,
    /// Service -> run time before which no resource of it is failed again.
    cooldown: Mutex<BTreeMap<Svc, f64>>,
}

/// How long a resource must stay up before the daemon forgets its
/// restarts (src/daemon/restart.rs, 10 s), with a margin.
const RESTART_RESET: f64 = 11.0;

impl<'a> Injector<'a> {
    pub(crate) fn new(cl: &'a Cluster, power: &'a Power) -> Injector<'a> {
        Injector {
            cl,
            power,
            cooldown: Mutex::new(BTreeMap::new()),
        }
    }

    /// The service's resources are back up at `t`: its restart counts
    /// reset 10 s later.
    pub(crate) fn resources_up(&self, svc: Svc, t: f64) {
        self.cooldown.lock().unwrap().insert(svc, t + RESTART_RESET);
    }

    pub(crate) fn run(&self, step: &Step) -> Injected {
        let mut rec = Injected::default();
        std::thread::scope(|s| {
            let t0 = self.cl.clock.now();
            let during = step
                .during
                .as_ref()
                .map(|d| s.spawn(move || self.during(d, t0, step.n)));
            rec.what = self.fault(&step.fault, &mut rec);
            if let Some(h) = during {
                let d = h.join().expect("the during thread panicked");
                rec.notes.extend(d.notes);
                rec.agent_back = rec.agent_back.max(d.agent_back);
                rec.orders.extend(d.orders);
                rec.config = d.config;
                rec.what = match (rec.what.is_empty(), d.what.is_empty()) {
                    (_, true) => std::mem::take(&mut rec.what),
                    // Nothing but what ran during it (Fault::Quiet).
                    (true, false) => d.what.replacen("during it: ", "", 1),
                    (false, false) => format!("{}; {}", rec.what, d.what),
                };
            }
        });
        rec
    }

    fn fault(&self, f: &Fault, rec: &mut Injected) -> String {
        match f {
            Fault::PowerLoss { node, down } => self.power_losses(&[(*node, *down)], 0.0, rec),
            Fault::OwnerPowerLoss {
                svc,
                fallback,
                down,
            } => {
                let s = self.cl.kernel.sample(self.cl.clock.now());
                let n = owner(*svc, &s, &self.cl.kernel.topo).unwrap_or_else(|| {
                    rec.notes
                        .push(format!("{svc} runs nowhere: {fallback} instead"));
                    *fallback
                });
                format!(
                    "{} ({svc}'s owner)",
                    self.power_losses(&[(n, *down)], 0.0, rec)
                )
            }
            Fault::DoublePowerLoss { nodes, gap, down } => {
                self.power_losses(&[(nodes[0], down[0]), (nodes[1], down[1])], *gap, rec)
            }
            Fault::CableCut { node, cut } => {
                self.note_failed(self.cl.cut(*node), rec);
                sleep(*cut);
                self.note_failed(self.cl.heal(*node), rec);
                format!("cable cut {node}, healed after {cut:.1}s")
            }
            Fault::CableFlap { node, holds } => {
                for (i, hold) in holds.iter().enumerate() {
                    let out = if i % 2 == 0 {
                        self.cl.cut(*node)
                    } else {
                        self.cl.heal(*node)
                    };
                    self.note_failed(out, rec);
                    sleep(*hold);
                }
                f.to_string()
            }
            Fault::AgentKill { node, hold } => self.agent_kill(*node, *hold, rec),
            Fault::AgentStop { node, stopped } => self.agent_stop(*node, *stopped, rec),
            Fault::Resource { svc, what } => self.resource(*svc, *what, rec),
            Fault::Orders(orders) => {
                let (runs, notes) = self.orders(orders);
                rec.notes.extend(notes);
                let what = runs_text(&runs);
                rec.orders.extend(runs);
                format!("orders: {what}")
            }
            Fault::Quiet => String::new(),
        }
    }

    fn note_failed(&self, out: crate::lab::Out, rec: &mut Injected) {
        if out.code != 0 {
            rec.notes.push(format!(
                "`{}` failed (rc {}): {}",
                out.what,
                out.code,
                tail(&out, 3)
            ));
        }
    }

    /// Powers off each target (`gap` s apart), never the last live node,
    /// and boots each `down` s after its own loss.
    fn power_losses(&self, targets: &[(Node, f64)], gap: f64, rec: &mut Injected) -> String {
        let mut off: Vec<(Node, f64)> = Vec::new();
        let mut what = Vec::new();
        for (i, &(n, down)) in targets.iter().enumerate() {
            if i > 0 {
                sleep(gap);
            }
            self.power.claim(n);
            let others_live = self
                .cl
                .nodes()
                .iter()
                .filter(|m| **m != n && !off.iter().any(|o| o.0 == **m))
                .filter(|m| self.cl.kernel.init_pid(**m).is_some())
                .count();
            if others_live == 0 {
                rec.notes
                    .push(format!("{n} not powered off: no other node is live"));
                self.power.release(n);
                continue;
            }
            if self.cl.kernel.init_pid(n).is_none() {
                rec.notes.push(format!("{n} was already off"));
            }
            let t = self.cl.clock.now();
            self.note_failed(self.cl.kill(n), rec);
            what.push(format!("{n} at {t:.1}s for {down:.1}s"));
            off.push((n, t + down));
        }
        off.sort_by(|a, b| a.1.total_cmp(&b.1));
        for (n, at) in off {
            sleep(at - self.cl.clock.now());
            self.note_failed(self.cl.boot(n), rec);
            rec.agent_back = self.cl.clock.now();
            self.power.release(n);
        }
        format!("power loss {}", what.join(", "))
    }

    /// The agent's pid (in the node's namespace) and start time, checked:
    /// a pid file may name a process that is no longer the daemon.
    fn agent_pid(&self, n: Node, rec: &mut Injected) -> Option<(u32, u32, u64)> {
        let Some(init) = self.cl.kernel.init_pid(n) else {
            rec.notes.push(format!("{n} is off: no agent to signal"));
            return None;
        };
        let pid = match Kernel::agent(init) {
            Agent::Running(p) | Agent::Stopped(p) => p,
            Agent::Down(why) => {
                rec.notes.push(format!("{n}: no agent to signal: {why}"));
                return None;
            }
        };
        let Some((start, _)) = Kernel::proc_stat(init, pid) else {
            rec.notes.push(format!("{n}: agent {pid} just ended"));
            return None;
        };
        Some((init, pid, start))
    }

    /// `kill -SIG PID` inside the node, only while PID is still the
    /// process that started at `start`.
    fn signal(&self, n: Node, sig: &str, pid: u32, start: u64) -> crate::lab::Out {
        self.cl.on(
            n,
            &format!(
                "[ \"$(awk '{{print $22}}' /proc/{pid}/stat 2>/dev/null)\" = {start} ] && kill -{sig} {pid}"
            ),
            10,
        )
    }

    fn agent_kill(&self, n: Node, hold: f64, rec: &mut Injected) -> String {
        let what = format!("agent SIGKILL {n}, restart held {hold:.1}s");
        let Some((init, pid, start)) = self.agent_pid(n, rec) else {
            return what;
        };
        // node-services.sh waits this long before its restart.
        let hold_file = Kernel::path(init, "run/svcmgr-lab/agent.hold");
        if let Err(e) = std::fs::write(&hold_file, format!("{hold:.1}\n")) {
            rec.notes
                .push(format!("{n}: cannot write {}: {e}", hold_file.display()));
        }
        let out = self.signal(n, "KILL", pid, start);
        if out.code == 0 {
            rec.agent_kills.push(n);
            sleep(hold + 0.3);
            rec.agent_back = self.cl.clock.now();
        } else {
            let _ = std::fs::remove_file(&hold_file);
            self.note_failed(out, rec);
        }
        format!("{what} (pid {pid})")
    }

    fn agent_stop(&self, n: Node, stopped: f64, rec: &mut Injected) -> String {
        let what = format!("agent SIGSTOP {n}, SIGCONT after {stopped:.1}s");
        let Some((init, pid, start)) = self.agent_pid(n, rec) else {
            return what;
        };
        let out = self.signal(n, "STOP", pid, start);
        if out.code != 0 {
            self.note_failed(out, rec);
            return what;
        }
        sleep(stopped);
        // Only the same process on the same boot of the node.
        let same = self.cl.kernel.init_pid(n) == Some(init)
            && Kernel::proc_stat(init, pid).is_some_and(|(s, _)| s == start)
            && Kernel::cmdline(init, pid).is_some_and(|c| is_daemon(&c));
        if same {
            self.note_failed(self.signal(n, "CONT", pid, start), rec);
            rec.agent_back = self.cl.clock.now();
        } else {
            rec.notes.push(format!(
                "{n} rebooted or its agent {pid} died meanwhile: no SIGCONT"
            ));
        }
        format!("{what} (pid {pid})")
    }

    fn resource(&self, svc: Svc, what: ResourceFault, rec: &mut Injected) -> String {
        // A second failure before the restart count reset would spend
        // the one restart: left down by design (no monitor), not a bug.
        // appsvc's app has monitor = true: its monitor action is wanted.
        if svc != Svc::App {
            let until = self.cooldown.lock().unwrap().get(&svc).copied();
            if let Some(until) = until {
                let wait = until - self.cl.clock.now();
                if wait > 0.0 {
                    rec.notes.push(format!(
                        "waited {wait:.1}s for {svc}'s restart count to reset"
                    ));
                    sleep(wait);
                }
            }
        }
        let topo = &self.cl.kernel.topo;
        let s = self.cl.kernel.sample(self.cl.clock.now());
        let holder = |has: &dyn Fn(&crate::kernel::NodeView) -> bool| {
            s.live().find(|(_, v)| has(v)).map(|(n, _)| *n)
        };
        match what {
            ResourceFault::KillApp => {
                let web = svc.web().expect("KillApp is planned for web services only");
                let Some(n) = holder(&|v| v.webs.contains(&web.port)) else {
                    rec.notes
                        .push(format!("{svc}'s web server runs nowhere: skipped"));
                    return format!("SIGKILL of {svc}'s web server");
                };
                let init = self.cl.kernel.init_pid(n).unwrap_or(0);
                let pid = std::fs::read_to_string(Kernel::path(init, web.pidfile))
                    .ok()
                    .and_then(|p| p.trim().parse::<u32>().ok());
                let checked = pid.and_then(|p| {
                    let cmd = Kernel::cmdline(init, p)?;
                    is_web(&cmd, web.port)
                        .then(|| Kernel::proc_stat(init, p))
                        .flatten()
                        .map(|(start, _)| (p, start))
                });
                let Some((pid, start)) = checked else {
                    rec.notes
                        .push(format!("{n}: {} names no web server: skipped", web.pidfile));
                    return format!("SIGKILL of {svc}'s web server on {n}");
                };
                self.note_failed(self.signal(n, "KILL", pid, start), rec);
                format!("SIGKILL of {svc}'s web server on {n} (pid {pid})")
            }
            ResourceFault::Unmount { mount } => {
                let (mnt, disk) = svc.mounts()[mount];
                let dev = topo.dev(disk).to_string();
                let Some(n) = holder(&|v| v.mounts.get(mnt) == Some(&dev)) else {
                    rec.notes.push(format!("{mnt} is mounted nowhere: skipped"));
                    return format!("umount -l {mnt} of {svc}");
                };
                self.note_failed(self.cl.on(n, &format!("umount -l {mnt}"), 20), rec);
                format!("umount -l {mnt} of {svc} on {n}")
            }
            ResourceFault::DeleteAddr => {
                let addr = svc
                    .addr()
                    .expect("DeleteAddr is planned for services with an address");
                let Some(n) = holder(&|v| v.addrs.contains(addr)) else {
                    rec.notes
                        .push(format!("{addr} is plumbed nowhere: skipped"));
                    return format!("ip addr del {addr} of {svc}");
                };
                self.note_failed(
                    self.cl
                        .on(n, &format!("ip addr del {addr}/27 dev eth0"), 20),
                    rec,
                );
                format!("ip addr del {addr} of {svc} on {n}")
            }
        }
    }
}
