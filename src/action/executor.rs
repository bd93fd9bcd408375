//! Start and stop: resource selection, ordering, the conflict gate,
//! optional resources, triggers and rollback (spec §4.2–§4.5).

use crate::driver::{Ctx, Kind, Started};
use crate::exec::{self, Cmd, ErrLevel};
use crate::log::Logger;
use crate::paths::Paths;
use crate::service::{Resource, Service};

use super::{Env, STOP_KINDS};

pub struct Executor<'a> {
    env: &'a Env<'a>,
    svc: &'a Service,
    log: &'a Logger,
    vars: Vec<(String, String)>,
}

impl<'a> Executor<'a> {
    pub fn new(env: &'a Env<'a>, svc: &'a Service, log: &'a Logger) -> Executor<'a> {
        Executor {
            env,
            svc,
            log,
            vars: svc.env(),
        }
    }

    fn ctx(&self, r: &Resource, conflict_checked: bool) -> Ctx<'_> {
        Ctx {
            runner: self.env.runner,
            log: self.log.resource(r.rid()),
            svc: &self.svc.info,
            env: &self.vars,
            force: self.env.opts.force,
            conflict_checked,
            cache: None,
        }
    }

    /// Disabled and `noaction` resources never act; `--rid`/`--tags` narrow
    /// the selection.
    fn selected(&self, r: &Resource) -> bool {
        let o = self.env.opts;
        !r.disabled()
            && !r.has_tag("noaction")
            && (o.rids.is_empty() || o.rids.iter().any(|x| x == r.rid()))
            && (o.tags.is_empty() || o.tags.iter().any(|t| r.has_tag(t)))
    }

    /// True when the action completed. `gate`: run the ip conflict check first
    /// (the full `start` only, as 1.5).
    pub fn start(&self, action: &str, kinds: &[Kind], gate: bool) -> bool {
        if gate {
            // --rid/--tags do not exempt a resource from the conflict gate.
            for r in self
                .svc
                .resources
                .iter()
                .filter(|r| r.kind() == Kind::Ip && !r.disabled())
            {
                if r.driver.abort_start(&self.ctx(r, false)) {
                    self.stopped(
                        action,
                        Some(&format!(
                            "start aborted due to resource {} conflict",
                            r.rid()
                        )),
                    );
                    self.rollback(action, &[]);
                    return false;
                }
            }
        }
        let mut activated: Vec<&Resource> = Vec::new();
        for r in self.svc.ordered(kinds, true) {
            if !self.selected(r) {
                continue;
            }
            if exec::interrupted() {
                self.log.error("interrupted by signal");
                return false;
            }
            let ctx = self.ctx(r, gate);
            self.trigger(r, "pre_start");
            let res = r.driver.start(&ctx);
            // A driver may swallow an interrupted command (launcher rcs are
            // never fatal): the signal still ends the action here.
            if exec::interrupted() {
                self.log.error("interrupted by signal");
                return false;
            }
            match res {
                Ok(Started::Activated) => activated.push(r),
                Ok(Started::AlreadyUp) => {}
                Err(_) if r.conf.common.optional => {}
                Err(f) => {
                    self.stopped(action, f.reason.as_deref());
                    self.rollback(action, &activated);
                    return false;
                }
            }
            self.trigger(r, "post_start");
        }
        if action == "start" {
            write_last_start(&self.svc.info.paths, self.svc.name());
        }
        true
    }

    pub fn stop(&self, action: &str, kinds: &[Kind]) -> bool {
        for r in self.svc.ordered(kinds, false) {
            if !self.selected(r) {
                continue;
            }
            if exec::interrupted() {
                self.log.error("interrupted by signal");
                return false;
            }
            let ctx = self.ctx(r, false);
            if r.conf.common.always_on && !self.env.opts.force {
                ctx.log.info(format!(
                    "skip '{action}' on standby resource (--force to override)"
                ));
                continue;
            }
            self.trigger(r, "pre_stop");
            let res = r.driver.stop(&ctx);
            if exec::interrupted() {
                self.log.error("interrupted by signal");
                return false;
            }
            match res {
                Ok(()) => {}
                // An application that fails to stop must not keep its
                // filesystems and address held: go on (spec §4.3).
                Err(_) if r.kind() == Kind::App || r.conf.common.optional => {}
                Err(f) => {
                    self.stopped(action, f.reason.as_deref());
                    return false;
                }
            }
            self.trigger(r, "post_stop");
        }
        true
    }

    fn stopped(&self, action: &str, reason: Option<&str>) {
        match reason {
            Some(r) => self
                .log
                .error(format!("'{action}' action stopped on execution error: {r}")),
            None => self
                .log
                .error(format!("'{action}' action stopped on execution error")),
        }
    }

    /// Stops, in stop order, only what this action brought up.
    fn rollback(&self, action: &str, activated: &[&Resource]) {
        if self.env.opts.disable_rollback {
            self.log.info(format!(
                "skip rollback {action}: as instructed by --disable-rollback"
            ));
            return;
        }
        if activated.is_empty() {
            self.log
                .info(format!("skip rollback {action}: no resource activated"));
            return;
        }
        let undo: Vec<&Resource> = self
            .svc
            .ordered(&STOP_KINDS, false)
            .into_iter()
            .filter(|r| activated.iter().any(|a| a.rid() == r.rid()))
            .collect();
        let rids: Vec<&str> = undo.iter().map(|r| r.rid()).collect();
        self.log.info(format!(
            "trying to rollback {action} on {}",
            rids.join(", ")
        ));
        let mut ok = true;
        for r in undo {
            if r.driver.stop(&self.ctx(r, false)).is_err() {
                ok = false;
            }
        }
        if !ok {
            self.log.error(format!("rollback {action} failed"));
        }
    }

    /// Triggers run like any logged command; their return code is ignored (spec §2.4).
    fn trigger(&self, r: &Resource, name: &str) {
        if let Some(argv) = r.conf.common.triggers.get(name) {
            if argv.is_empty() {
                return;
            }
            let cmd = Cmd::new(argv.iter().cloned()).env(&self.vars);
            let _ = exec::run_logged(
                self.env.runner,
                &self.log.resource(r.rid()),
                &cmd,
                ErrLevel::Default,
            );
        }
    }
}

/// Records that this node last started the service: sync#i0 then keeps
/// reporting which peers lack this node's config after a stop (see
/// docs/deviations.md).
pub fn write_last_start(paths: &Paths, svc: &str) {
    let path = crate::driver::sync::last_start_path(paths, svc);
    let now = chrono::Local::now().naive_local();
    if let Err(e) = crate::driver::sync::write_stamp(&path, now) {
        Logger::service(svc).warn(format!(
            "cannot record the start in {}: {e}",
            path.display()
        ));
    }
}
