//! Who may power a node off or on: the runner (its power-loss faults)
//! and the reviver, which boots again any node that died without the
//! runner killing it (its watchdog reset it, a split or monitor action
//! rebooted it): a machine that reboots by itself comes back.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::cluster::{Cluster, sleep, tail};
use crate::rng::Rng;
use crate::topology::Node;

/// A node the reviver booted again.
#[derive(Clone, Debug)]
pub(crate) struct Reboot {
    pub node: Node,
    /// When it was first seen dead, and booted (run seconds).
    pub died: f64,
    pub booted: f64,
    /// Why the boot failed, if it did.
    pub error: Option<String>,
}

#[derive(Default)]
pub(crate) struct Power {
    held: Mutex<BTreeSet<Node>>,
    reboots: Mutex<Vec<Reboot>>,
}

impl Power {
    /// Takes `n` for a power operation, waiting while the other party has it.
    pub(crate) fn claim(&self, n: Node) {
        while !self.try_claim(n) {
            sleep(0.05);
        }
    }

    pub(crate) fn try_claim(&self, n: Node) -> bool {
        self.held.lock().unwrap().insert(n)
    }

    pub(crate) fn release(&self, n: Node) {
        self.held.lock().unwrap().remove(&n);
    }

    fn held(&self, n: Node) -> bool {
        self.held.lock().unwrap().contains(&n)
    }

    /// When the reviver last booted a node (run seconds; 0 if never
    /// since the last drain).
    pub(crate) fn last_boot(&self) -> f64 {
        let r = self.reboots.lock().unwrap();
        r.iter().map(|b| b.booted).fold(0.0, f64::max)
    }

    /// The reboots since the last call.
    pub(crate) fn drain(&self) -> Vec<Reboot> {
        std::mem::take(&mut *self.reboots.lock().unwrap())
    }

    /// Until `stop`: a node found dead and not held by the runner is
    /// booted again 1-3 s later, as a machine that resets comes back.
    pub(crate) fn revive(&self, cl: &Cluster, stop: &AtomicBool, seed: u64) {
        let mut rng = Rng::stream(seed, u64::MAX - 1);
        // node -> (first seen dead, boot delay)
        let mut dead: Vec<(Node, f64, f64)> = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            let now = cl.clock.now();
            for &n in cl.nodes() {
                let known = dead.iter().position(|d| d.0 == n);
                if self.held(n) || cl.kernel.init_pid(n).is_some() {
                    if let Some(i) = known {
                        dead.remove(i);
                    }
                    continue;
                }
                let Some(i) = known else {
                    dead.push((n, now, rng.secs(1.0, 3.0)));
                    if cl.verbose {
                        println!("      [{now:7.1}s] {n} died by itself");
                    }
                    continue;
                };
                let (_, died, delay) = dead[i];
                if now - died < delay || !self.try_claim(n) {
                    continue;
                }
                dead.remove(i);
                // Still dead once claimed? The runner may have booted it.
                if cl.kernel.init_pid(n).is_some() {
                    self.release(n);
                    continue;
                }
                let out = cl.boot(n);
                let error = (out.code != 0).then(|| tail(&out, 3));
                self.reboots.lock().unwrap().push(Reboot {
                    node: n,
                    died,
                    booted: cl.clock.now(),
                    error,
                });
                self.release(n);
            }
            sleep(0.2);
        }
    }
}
