//! Resource drivers: one file or folder per resource type, each calling
//! the system tools through `exec::Runner`. The executor (src/action/) owns
//! ordering, optional/disable, rollback and locking; a driver only knows
//! its resource.
//!
//! | type       | where                | tools it runs                                 |
//! |------------|----------------------|-----------------------------------------------|
//! | ip         | ip/mod.rs            | ifconfig, ip addr add/del (plumb, unplumb)    |
//! |            | ip/ifaces.rs         | ip addr (interfaces and addresses)            |
//! |            | ip/probe.rs          | arping -D, ping/ping6 (in use?), arping -U    |
//! | disk.vg    | vg.rs                | vgs, lvs, vgchange, kpartx                    |
//! | fs         | fs.rs, mountinfo.rs  | mount, umount, e2fsck, fuser, sync; reads     |
//! |            |                      | /proc/self/mountinfo                          |
//! | app        | app/mod.rs, run.rs   | the S*/K*/C* launchers of `<svc>.d`           |
//! |            | app/safety.rs        | none: checks launcher owners and modes        |
//! | sync.rsync | sync/mod.rs          | none: status from the stamp files (stamp.rs)  |
//! |            | sync/push.rs         | ssh <peer> nodemgr (host mode), rsync         |
//! |            | sync/rsync.rs        | none: builds the rsync command lines          |
//! |            | sync/schedule.rs     | none: is a peer due (period, interval, delay) |
//! |            | sync/glob.rs         | none: expands the `src` patterns              |
//! | hb.openha  | hb.rs                | ps (OpenHA daemons); reads STATE files        |
//!
//! Tests over a few hundred lines sit next to their module: `foo_tests.rs`
//! for `foo.rs` (`#[path]`, as in src/daemon), `tests.rs` for a folder's
//! `mod.rs`. Fixtures shared by several drivers' tests are in testing.rs.
//!
//! The shared types below are `pub` because `service::Service` exposes
//! them; everything else is `pub(crate)` or narrower.

mod app;
mod fs;
mod hb;
mod ip;
mod mountinfo;
pub(crate) mod sync;
#[cfg(test)]
mod testing;
mod vg;

use std::path::PathBuf;

use crate::config::{ResourceConfig, ResourceSpec};
use crate::exec::{Cmd, ExecError, Output, ProbeCache, Runner, run_quiet};
use crate::log::Logger;
use crate::paths::Paths;
use crate::status::Status;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Kind {
    Ip,
    Vg,
    Fs,
    App,
    Sync,
    Hb,
}

impl Kind {
    /// The status group this kind aggregates into (`disk` for vg).
    pub(crate) fn group(self) -> &'static str {
        match self {
            Kind::Ip => "ip",
            Kind::Vg => "disk",
            Kind::Fs => "fs",
            Kind::App => "app",
            Kind::Sync => "sync",
            Kind::Hb => "hb",
        }
    }
}

/// What every driver may know about the service it belongs to.
#[derive(Debug, Clone)]
pub(crate) struct SvcInfo {
    pub(crate) name: String,
    pub(crate) nodename: String,
    pub(crate) nodes: Vec<String>,
    pub(crate) drpnodes: Vec<String>,
    pub(crate) service_type: String,
    pub(crate) paths: Paths,
    /// The running svcmgr executable: target of the `.cluster`/`.stonith` links.
    pub(crate) svcmgr_bin: PathBuf,
}

impl SvcInfo {
    /// More than one node in nodes ∪ drpnodes.
    pub(crate) fn multi_node(&self) -> bool {
        let mut all: Vec<&String> = self.nodes.iter().chain(&self.drpnodes).collect();
        all.sort();
        all.dedup();
        all.len() > 1
    }
}

/// Per-call context handed to a driver.
pub(crate) struct Ctx<'a> {
    pub(crate) runner: &'a dyn Runner,
    /// This resource's logger (`SVC.RID`).
    pub(crate) log: Logger,
    pub(crate) svc: &'a SvcInfo,
    /// `OPENSVC_*` variables for launchers and triggers (docs/behaviour.md,
    /// "Running commands").
    pub(crate) env: &'a [(String, String)],
    /// The executor already ran `abort_start` for this action, so the ip
    /// driver must not ping again.
    pub(crate) conflict_checked: bool,
    /// Set during a status pass only: read-only probes share their answers.
    pub(crate) cache: Option<&'a ProbeCache>,
}

impl Ctx<'_> {
    /// Runs a read-only probe quietly, through the status pass's cache when
    /// there is one.
    pub(crate) fn probe(&self, cmd: &Cmd) -> Result<Output, ExecError> {
        match self.cache {
            Some(c) => c.run(self.runner, &self.log, cmd),
            None => run_quiet(self.runner, &self.log, cmd),
        }
    }
}

/// What a successful start did: only `Activated` resources are rolled back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Started {
    Activated,
    AlreadyUp,
}

/// A failed start or stop. The driver has already logged its own error
/// lines; `reason`, when set, is appended to the executor's
/// `'<action>' action stopped on execution error` line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Failed {
    pub(crate) reason: Option<String>,
}

impl Failed {
    pub(crate) fn silent() -> Failed {
        Failed { reason: None }
    }
    pub(crate) fn because(reason: impl Into<String>) -> Failed {
        Failed {
            reason: Some(reason.into()),
        }
    }
}

/// A status probe's answer: the value and the `# ...` comments shown under
/// the resource in `print status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Probe {
    pub(crate) status: Status,
    pub(crate) log: Vec<String>,
}

impl Probe {
    pub(crate) fn new(status: Status) -> Probe {
        Probe {
            status,
            log: Vec::new(),
        }
    }
    pub(crate) fn with(status: Status, msg: impl Into<String>) -> Probe {
        Probe {
            status,
            log: vec![msg.into()],
        }
    }
}

/// What second-phase probes (app, sync) need to know of the others.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deps {
    /// Merged status of the enabled ip, disk and fs resources (`Undef` when
    /// there are none).
    pub(crate) base: Status,
}

impl Deps {
    pub(crate) const NONE: Deps = Deps {
        base: Status::Undef,
    };
}

pub(crate) trait Driver: Send + Sync {
    fn kind(&self) -> Kind;
    /// The resource type shown in `json status` (`ip`, `disk.vg`, `hb.openha`...).
    fn type_name(&self) -> &'static str;
    fn label(&self) -> String;
    /// Orders resources of the same kind: fs uses the mount point, so that
    /// parents mount first and unmount last. Others keep file order.
    fn sort_key(&self) -> String {
        String::new()
    }
    /// Variables this resource exports to launchers (`OPENSVC_IP<N>`...).
    fn env(&self, _rid: &str) -> Vec<(String, String)> {
        Vec::new()
    }
    /// Pre-start safety gate: true when starting here would conflict with
    /// another node (the ip answers while not plumbed locally).
    fn abort_start(&self, _ctx: &Ctx) -> bool {
        false
    }
    /// Before a start or stop changes anything: a refusal here is bad
    /// input (exit 2), such as launchers on a path others could change.
    fn preflight(&self) -> Result<(), String> {
        Ok(())
    }
    fn start(&self, ctx: &Ctx) -> Result<Started, Failed>;
    fn stop(&self, ctx: &Ctx) -> Result<(), Failed>;
    fn status(&self, ctx: &Ctx, deps: &Deps) -> Probe;
    /// syncnodes / syncdrp / syncall: push this resource's data to peers.
    /// Only sync resources do anything.
    fn sync(&self, _ctx: &Ctx, _req: &SyncRequest) -> Result<Synced, Failed> {
        Ok(Synced::default())
    }
}

/// What a sync action asks of a sync resource.
#[derive(Debug, Clone)]
pub(crate) struct SyncRequest {
    /// `nodes`, `drpnodes` or both (syncall).
    pub(crate) targets: Vec<&'static str>,
    /// Bypass the schedule (period, days, interval); not the "service must
    /// be up" rule.
    pub(crate) force: bool,
    /// Called from cron: the routine "skip" messages are not logged.
    pub(crate) cron: bool,
    /// Merged status of the ip, disk and fs resources (the service is up here?).
    pub(crate) base: Status,
}

/// The peers a sync resource sent data to: they get a remote `postsync`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Synced {
    pub(crate) peers: Vec<String>,
}

/// The one place that maps a resource config to its driver.
pub(crate) fn build(res: &ResourceConfig, svc: &SvcInfo) -> Box<dyn Driver> {
    match &res.spec {
        ResourceSpec::Ip(c) => Box::new(ip::Ip::new(c.clone())),
        ResourceSpec::Vg(c) => Box::new(vg::Vg::new(c.clone())),
        ResourceSpec::Fs(c) => Box::new(fs::Fs::new(c.clone())),
        ResourceSpec::App(c) => Box::new(app::App::new(c.clone(), svc)),
        ResourceSpec::Sync(c) => Box::new(sync::Rsync::new(res.rid.clone(), c.clone())),
        ResourceSpec::Hb(c) => Box::new(hb::Hb::new(c.clone())),
    }
}
