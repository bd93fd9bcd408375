//! Start and stop: resource selection, ordering, the conflict gate,
//! optional resources, triggers and rollback (docs/behaviour.md, "Start
//! order" to "Standby resources and triggers").

use std::io::Write;

use crate::driver::sync::LastStart;
use crate::driver::{Ctx, Kind, Started, SyncRequest, Synced};
use crate::exec::{self, Cmd, ErrLevel};
use crate::log::Logger;
use crate::paths::Paths;
use crate::service::{Resource, Service};
use crate::{node, remote};

use super::{Env, FAILED, OK, STOP_KINDS, probe};

pub(crate) struct Executor<'a> {
    env: &'a Env<'a>,
    svc: &'a Service,
    log: &'a Logger,
    vars: Vec<(String, String)>,
    /// Why the last start did not complete: the daemon tells a conflict
    /// (active elsewhere) from a failure of this node.
    refused: std::sync::Mutex<Option<super::Refused>>,
}

impl<'a> Executor<'a> {
    pub(crate) fn new(env: &'a Env<'a>, svc: &'a Service, log: &'a Logger) -> Executor<'a> {
        Executor {
            env,
            svc,
            log,
            vars: svc.env(),
            refused: std::sync::Mutex::new(None),
        }
    }

    fn refuse(&self, why: super::Refused) {
        if let Ok(mut r) = self.refused.lock() {
            *r = Some(why);
        }
    }

    /// Why the last start did not complete, if it did not.
    pub(crate) fn refused(&self) -> Option<super::Refused> {
        self.refused.lock().ok().and_then(|r| r.clone())
    }

    fn ctx(&self, r: &Resource, conflict_checked: bool) -> Ctx<'_> {
        Ctx {
            runner: self.env.runner,
            log: self.log.resource(r.rid()),
            svc: &self.svc.info,
            env: &self.vars,
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

    /// Checks that need no action, for the resources selected: false (and
    /// logged) when one refuses, before anything started.
    pub(crate) fn preflight(&self) -> bool {
        for r in self.svc.resources.iter().filter(|r| self.selected(r)) {
            if let Err(msg) = r.driver.preflight() {
                self.log.resource(r.rid()).error(msg);
                return false;
            }
        }
        true
    }

    /// True when the action completed. `gate`: run the ip conflict check first
    /// (the full `start` only, as 1.5).
    pub(crate) fn start(&self, action: &str, kinds: &[Kind], gate: bool) -> bool {
        if gate {
            // --rid/--tags do not exempt a resource from the conflict gate.
            for r in self
                .svc
                .resources
                .iter()
                .filter(|r| r.kind() == Kind::Ip && !r.disabled())
            {
                if r.driver.abort_start(&self.ctx(r, false)) {
                    self.refuse(super::Refused::Conflict(r.rid().to_string()));
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
                    self.refuse(super::Refused::Failed(r.rid().to_string()));
                    self.stopped(action, f.reason.as_deref());
                    self.rollback(action, &activated);
                    return false;
                }
            }
            self.trigger(r, "post_start");
        }
        if action == "start" && !self.env.runner.dry_run() {
            write_last_start(&self.svc.info.paths, self.svc.name());
        }
        true
    }

    pub(crate) fn stop(&self, action: &str, kinds: &[Kind]) -> bool {
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
                // filesystems and address held: go on (docs/behaviour.md, "Stop
                // order").
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

    /// syncnodes / syncdrp / syncall: every selected sync resource pushes at
    /// once (1.5 ran them in parallel too), then each peer that received
    /// data runs `postsync`.
    pub(crate) fn sync(&self, targets: &[&'static str]) -> bool {
        let syncs: Vec<&Resource> = self
            .svc
            .resources
            .iter()
            .filter(|r| r.kind() == Kind::Sync && self.selected(r))
            .collect();
        // Nothing to sync, nothing to probe: the daemon's scheduler asks
        // every service every minute, and probing the base resources of a
        // thousand services without a sync ran an `ip addr` and a `vgs`
        // for each of them.
        if syncs.is_empty() {
            return true;
        }
        let req = SyncRequest {
            targets: targets.to_vec(),
            force: self.env.opts.force,
            cron: self.env.opts.cron,
            base: probe::base(self.svc, self.env.runner),
        };
        let results: Vec<Result<Synced, _>> = std::thread::scope(|s| {
            let handles: Vec<_> = syncs
                .iter()
                .map(|r| {
                    let req = &req;
                    s.spawn(move || r.driver.sync(&self.ctx(r, false), req))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(crate::driver::Failed::silent()))
                })
                .collect()
        });
        let mut peers: Vec<String> = Vec::new();
        for p in results.iter().flatten().flat_map(|s| s.peers.iter()) {
            if !peers.contains(p) {
                peers.push(p.clone());
            }
        }
        for peer in &peers {
            self.postsync(peer);
        }
        results.iter().all(|r| r.is_ok())
    }

    /// `<etc>/<svc> [--cluster] [--cron] --waitlock 3600 postsync` on the
    /// peer, as `ruser` (1.5 ignored ruser here; docs/deviations.md, "Sync and
    /// peers").
    fn postsync(&self, peer: &str) {
        let entry = self
            .svc
            .info
            .paths
            .svc_link(self.svc.name())
            .display()
            .to_string();
        let mut argv = vec![entry.as_str()];
        if self.env.opts.cluster {
            argv.push("--cluster");
        }
        if self.env.opts.cron {
            argv.push("--cron");
        }
        argv.extend(["--waitlock", "3600", "postsync"]);
        self.log
            .info(format!("exec '{}' on node {peer}", argv.join(" ")));
        let cmd = remote::ssh(&node::ruser(self.env.paths, peer), peer, &argv);
        match exec::run_quiet(self.env.runner, self.log, &cmd) {
            Ok(out) if out.ok() => {}
            Ok(out) => self.log.warn(format!(
                "postsync on node {peer} failed (rc {}): {}",
                out.rc,
                out.stderr.trim()
            )),
            Err(_) => {}
        }
    }

    /// `switch --to <node>`: stop here, then start there over ssh, its log
    /// lines shown as they come back.
    pub(crate) fn switch(&self) -> i32 {
        let info = &self.svc.info;
        let to = self.env.opts.to.as_deref().unwrap_or("").to_lowercase();
        let member = info.nodes.iter().chain(&info.drpnodes).any(|n| *n == to);
        if to.is_empty() || !member || to == info.nodename {
            self.log
                .error(format!("destination node {to} is not in service node list"));
            return FAILED;
        }
        if !self.stop("stop", &STOP_KINDS) {
            return FAILED;
        }
        let entry = info.paths.svc_link(self.svc.name()).display().to_string();
        self.log.info(format!("exec '{entry} start' on node {to}"));
        let cmd = remote::ssh(&node::ruser(self.env.paths, &to), &to, &[&entry, "start"])
            .timeout(std::time::Duration::from_secs(3600));
        match self.env.runner.run(&cmd) {
            Ok(out) => {
                let mut err = std::io::stderr().lock();
                let _ = err.write_all(out.stdout.as_bytes());
                let _ = err.write_all(out.stderr.as_bytes());
                if out.ok() {
                    OK
                } else {
                    self.log.error(format!("start on node {to} failed"));
                    FAILED
                }
            }
            Err(e) => {
                self.log.error(format!("start on node {to} failed: {e}"));
                FAILED
            }
        }
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

    /// Triggers run like any logged command; their return code is ignored
    /// (docs/behaviour.md, "Keys of every resource").
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
fn write_last_start(paths: &Paths, svc: &str) {
    let last = LastStart::of(paths, svc);
    if let Err(e) = last.record_now() {
        Logger::service(svc).warn(format!(
            "cannot record the start in {}: {e}",
            last.path().display()
        ));
    }
}
