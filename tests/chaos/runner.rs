//! One fault from plan to report line: inject it, tell the model what
//! the runner did, wait for the settle, and say what happened, with the
//! nodes' logs when it failed.

use std::collections::BTreeMap;

use crate::audit::Auditor;
use crate::cluster::Cluster;
use crate::inject::{Injected, Injector};
use crate::model::Model;
use crate::plan::{Fault, Step};
use crate::power::Power;
use crate::report::{self, Line};
use crate::settle::{LogWatch, Verdict, Wait, settle};

/// A fault's settle budget; the first one, the cluster's own start, gets more.
const SETTLE_SECS: f64 = 30.0;
const FIRST_SETTLE_SECS: f64 = 90.0;

pub(crate) struct Runner<'a> {
    cl: &'a Cluster,
    auditor: &'a Auditor,
    power: &'a Power,
    inj: Injector<'a>,
    model: Model,
    logs: LogWatch,
    /// What the last unrecovered fault left -> the fault that first left it.
    left: BTreeMap<String, usize>,
}

impl<'a> Runner<'a> {
    pub(crate) fn new(cl: &'a Cluster, auditor: &'a Auditor, power: &'a Power) -> Runner<'a> {
        Runner {
            cl,
            auditor,
            power,
            inj: Injector::new(cl, power),
            model: Model::default(),
            logs: LogWatch::default(),
            left: BTreeMap::new(),
        }
    }

    /// Line #0: the agents start the services.
    pub(crate) fn start(&mut self) -> Line {
        let t = self.cl.clock.now();
        let verdict = self.settle(t, FIRST_SETTLE_SECS, t);
        let line = Line {
            n: 0,
            at: t,
            what: "the cluster starts its services".into(),
            notes: Vec::new(),
            reboots: self.power.drain(),
            took: 0.0,
            wall: self.cl.clock.now() - t,
            dual: self.auditor.dual_between(0.0, self.cl.clock.now()),
            dump: None,
            carried: Vec::new(),
            verdict,
        };
        self.with_dump(line)
    }

    pub(crate) fn step(&mut self, step: &Step) -> Line {
        let at = self.cl.clock.now();
        let done = self.inj.run(step);
        let took = self.cl.clock.now() - at;
        self.learn(&done);
        let verdict = self.settle(self.cl.clock.now(), SETTLE_SECS, done.agent_back);
        if verdict.settled_after.is_some() {
            self.model.settled();
        }
        if let (Fault::Resource { svc, .. }, Some(_)) = (&step.fault, verdict.settled_after) {
            self.inj.resources_up(*svc, self.cl.clock.now());
        }
        let carried = verdict
            .diffs
            .iter()
            .map(|d| self.left.get(d).copied())
            .collect();
        self.left = verdict
            .diffs
            .iter()
            .map(|d| (d.clone(), self.left.get(d).copied().unwrap_or(step.n)))
            .collect();
        let line = Line {
            carried,
            n: step.n,
            at,
            notes: notes(&done),
            what: done.what,
            reboots: self.power.drain(),
            took,
            wall: self.cl.clock.now() - at,
            dual: self.auditor.dual_between(at, self.cl.clock.now()),
            dump: None,
            verdict,
        };
        self.with_dump(line)
    }

    /// What the runner did that changes what a settled cluster looks like.
    fn learn(&mut self, done: &Injected) {
        for o in &done.orders {
            self.model.record(o.clone());
        }
        if let Some(c) = done.config.as_ref().filter(|c| c.code == 0) {
            self.model.comments.insert(c.svc, c.value.clone());
        }
        for n in &done.agent_kills {
            *self.model.agent_kills.entry(*n).or_insert(0) += 1;
        }
    }

    fn settle(&mut self, from: f64, budget: f64, agent_back: f64) -> Verdict {
        let wait = Wait {
            from,
            budget,
            agent_back,
        };
        settle(
            self.cl,
            self.auditor,
            self.power,
            &mut self.model,
            &mut self.logs,
            &wait,
        )
    }

    /// Takes the logs and svcmon now, while they show the failure.
    fn with_dump(&self, mut line: Line) -> Line {
        if line.new_failure() {
            line.dump = Some(report::dump(self.cl));
        }
        line
    }
}

/// The injector's notes, and the runner's commands that failed.
fn notes(done: &Injected) -> Vec<String> {
    let mut notes = done.notes.clone();
    notes.extend(
        done.orders
            .iter()
            .filter(|o| o.code != 0)
            .map(|o| format!("order failed: {o}")),
    );
    if let Some(c) = done.config.as_ref().filter(|c| c.code != 0) {
        notes.push(format!(
            "config change on {} failed (rc {}): {}",
            c.node, c.code, c.tail
        ));
    }
    notes
}
