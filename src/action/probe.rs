//! Status collection: every probe of the first phase (ip, disk, fs, hb) runs
//! concurrently; app and sync, which depend on those, run in a second phase.

use crate::driver::{Ctx, Deps, Kind, Probe};
use crate::exec::{ProbeCache, Runner};
use crate::log::Logger;
use crate::service::{Resource, Service};
use crate::status::{self, ResourceStatus, ServiceStatus, Status};

/// On a node listed in a resource's `always_on`, the resource is meant to
/// be up whatever the service does: its status reads stdby up / stdby down.
fn standby(mut p: Probe, always_on: bool) -> Probe {
    if always_on {
        p.status = match p.status {
            Status::Up => Status::StdbyUp,
            Status::Down => Status::StdbyDown,
            s => s,
        };
    }
    p
}

/// Probes `rs` concurrently; disabled resources read n/a `disabled`.
/// How a service's resources are probed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Probing {
    /// All at once, a thread each: one service's status as fast as its
    /// slowest resource (the command line).
    Parallel,
    /// One after the other, on the caller's thread: the daemon's monitor,
    /// which probes several services at once and would otherwise start a
    /// thread per resource, hundreds a second on a node with many services.
    InOrder,
}

fn probe_each(
    svc: &Service,
    runner: &dyn Runner,
    cache: &ProbeCache,
    rs: &[&Resource],
    deps: Deps,
    how: Probing,
) -> Vec<Probe> {
    let log = Logger::service(svc.name());
    let probe = |r: &Resource| -> Probe {
        if r.disabled() {
            return Probe::with(Status::NotApplicable, "disabled");
        }
        let ctx = Ctx {
            runner,
            log: log.resource(r.rid()),
            svc: &svc.info,
            env: &[],
            conflict_checked: false,
            cache: Some(cache),
        };
        standby(r.driver.status(&ctx, &deps), r.conf.common.always_on)
    };
    if how == Probing::InOrder || rs.len() < 2 {
        return rs.iter().map(|r| probe(r)).collect();
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = rs.iter().map(|r| s.spawn(|| probe(r))).collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Probe::with(Status::Undef, "status probe crashed"))
            })
            .collect()
    })
}

fn is_base(r: &Resource) -> bool {
    matches!(r.kind(), Kind::Ip | Kind::Vg | Kind::Fs)
}

/// Merged status of the enabled ip, disk and fs resources: "is the service
/// up here", for app and sync.
fn merge_base(rs: &[&Resource], probes: &[Probe]) -> Status {
    status::merge_all(
        rs.iter()
            .zip(probes)
            .filter(|(r, _)| !r.disabled() && is_base(r))
            .map(|(_, p)| p.status),
    )
}

/// The base status alone (the sync actions' "service must be up" rule).
pub(super) fn base(svc: &Service, runner: &dyn Runner) -> Status {
    let rs: Vec<&Resource> = svc.resources.iter().filter(|r| is_base(r)).collect();
    merge_base(
        &rs,
        &probe_each(
            svc,
            runner,
            &ProbeCache::new(),
            &rs,
            Deps::NONE,
            Probing::Parallel,
        ),
    )
}

/// Every probe of the first phase (ip, disk, fs, hb) runs concurrently;
/// app and sync, which depend on those, run in a second phase.
pub(crate) fn collect(svc: &Service, runner: &dyn Runner, frozen: bool) -> ServiceStatus {
    collect_with(svc, runner, frozen, &ProbeCache::new(), Probing::Parallel)
}

/// `collect` with a cache shared by several services: the daemon's monitor
/// probes all its services in one pass, and they share `ip addr`, `mount`
/// and `ps` listings.
pub(crate) fn collect_with(
    svc: &Service,
    runner: &dyn Runner,
    frozen: bool,
    cache: &ProbeCache,
    how: Probing,
) -> ServiceStatus {
    let order = svc.display_order();
    let second = |r: &&Resource| matches!(r.kind(), Kind::App | Kind::Sync);
    let phase1: Vec<&Resource> = order.iter().copied().filter(|r| !second(r)).collect();
    let phase2: Vec<&Resource> = order.iter().copied().filter(second).collect();
    let p1 = probe_each(svc, runner, cache, &phase1, Deps::NONE, how);
    let base = merge_base(&phase1, &p1);
    let p2 = probe_each(svc, runner, cache, &phase2, Deps { base }, how);
    let mut probes: Vec<(&Resource, Probe)> = phase1
        .into_iter()
        .zip(p1)
        .chain(phase2.into_iter().zip(p2))
        .collect();
    probes.sort_by_key(|(r, _)| order.iter().position(|o| o.rid() == r.rid()));
    let rows = probes
        .into_iter()
        .map(|(r, p)| ResourceStatus {
            rid: r.rid().to_string(),
            group: r.kind().group(),
            type_name: r.driver.type_name(),
            label: r.driver.label(),
            status: p.status,
            log: p.log,
            monitor: r.conf.common.monitor,
            disable: r.disabled(),
            optional: r.conf.common.optional,
            encap: false,
        })
        .collect();
    status::aggregate(svc.name(), rows, frozen)
}
