//! The rsync sync resources (docs/behaviour.md, "sync"): the status
//! computed from the timestamp files (`stamp`), and the push to peers
//! (`syncnodes`, `syncdrp`, `syncall`) in `push`, which writes those files.

use chrono::{Local, NaiveDateTime};

use super::{Ctx, Deps, Driver, Failed, Kind, Probe, Started, SvcInfo, SyncRequest, Synced};
use crate::config::SyncConf;
use crate::status::Status;

use schedule::is_stale;
pub(crate) use stamp::LastStart;
use stamp::read_stamp;

/// The service counts as up for a sync: its ip, disk and fs resources are
/// up, or it has none (Undef, n/a).
fn base_up(base: Status) -> bool {
    base.is_up() || matches!(base, Status::Undef | Status::NotApplicable)
}

/// Python's repr of a list of strings: `['a', 'b']`.
fn py_list<S: AsRef<str>>(items: &[S]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("'{}'", s.as_ref())).collect();
    format!("[{}]", quoted.join(", "))
}

/// A `sync.rsync` resource. Named after its tool: `Sync` would shadow the
/// std auto trait in every module that imports it.
pub(crate) struct Rsync {
    rid: String,
    conf: SyncConf,
}

impl Rsync {
    pub(crate) fn new(rid: String, conf: SyncConf) -> Rsync {
        Rsync { rid, conf }
    }

    /// The nodes this resource sends to, the local node included, in
    /// config order (nodes, then drpnodes) without duplicates.
    fn targets(&self, svc: &SvcInfo) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (key, list) in [("nodes", &svc.nodes), ("drpnodes", &svc.drpnodes)] {
            if !self.conf.target.iter().any(|t| t == key) {
                continue;
            }
            for n in list {
                if !out.contains(n) {
                    out.push(n.clone());
                }
            }
        }
        out
    }

    fn stamp(&self, svc: &SvcInfo, node: &str) -> Option<NaiveDateTime> {
        read_stamp(&svc.paths.sync_stamp(node, &svc.name, &self.rid))
    }

    /// Status as seen by a node that does not own the config.
    fn passive(&self, svc: &SvcInfo, targets: &[String], now: NaiveDateTime) -> Probe {
        if !targets.contains(&svc.nodename) {
            return Probe::with(
                Status::NotApplicable,
                "passive node not in sync destination nodes",
            );
        }
        if is_stale(self.stamp(svc, &svc.nodename), now, self.max_delay()) {
            return Probe::with(Status::Warn, "passive node needs update");
        }
        Probe::new(Status::Up)
    }

    fn max_delay(&self) -> u64 {
        self.conf.schedule.max_delay_min
    }

    /// Status at a given time, for tests.
    fn status_at(&self, svc: &SvcInfo, base: Status, now: NaiveDateTime) -> Probe {
        let targets = self.targets(svc);
        let peers: Vec<&String> = targets.iter().filter(|n| **n != svc.nodename).collect();
        if peers.is_empty() {
            return Probe::with(Status::NotApplicable, "no destination nodes");
        }
        let up = base_up(base);
        let drp_only = svc.drpnodes.contains(&svc.nodename) && !svc.nodes.contains(&svc.nodename);
        if up && drp_only {
            return Probe::with(
                Status::NotApplicable,
                "service up on drp node, sync disabled",
            );
        }
        // 1.5 called a stopped node passive even when it was the last to run
        // the service and never sent its config: it then showed "passive
        // node needs update" where the tutorial's status after the stop
        // (tests/golden/status_stopped.txt) shows the
        // peer late. A node that started the service since it last received
        // the config still owns it.
        let own = self.stamp(svc, &svc.nodename);
        let started_since = LastStart::of(&svc.paths, &svc.name)
            .read()
            .is_some_and(|started| own.is_none_or(|own| started > own));
        if !up && (drp_only || !started_since) {
            return self.passive(svc, &targets, now);
        }
        let late: Vec<&str> = peers
            .into_iter()
            .filter(|n| is_stale(self.stamp(svc, n), now, self.max_delay()))
            .map(String::as_str)
            .collect();
        if late.is_empty() {
            Probe::new(Status::Up)
        } else {
            Probe::with(Status::Down, format!("{} need update", late.join(", ")))
        }
    }
}

impl Driver for Rsync {
    fn kind(&self) -> Kind {
        Kind::Sync
    }

    fn type_name(&self) -> &'static str {
        "sync.rsync"
    }

    fn label(&self) -> String {
        if self.conf.internal {
            "rsync svc config to drpnodes, nodes".into()
        } else {
            format!("{} => {}", self.conf.src.join(" "), self.conf.dst)
        }
    }

    fn start(&self, _ctx: &Ctx) -> Result<Started, Failed> {
        Ok(Started::AlreadyUp)
    }

    fn stop(&self, _ctx: &Ctx) -> Result<(), Failed> {
        Ok(())
    }

    fn status(&self, ctx: &Ctx, deps: &Deps) -> Probe {
        self.status_at(ctx.svc, deps.base, Local::now().naive_local())
    }

    fn sync(&self, ctx: &Ctx, req: &SyncRequest) -> Result<Synced, Failed> {
        self.sync_at(ctx, req, Local::now().naive_local())
    }
}

#[cfg(test)]
mod fixtures;
mod glob;
mod push;
mod rsync;
mod schedule;
mod stamp;

#[cfg(test)]
mod tests {
    use super::fixtures::{i0, ts};
    use super::stamp::write_stamp;
    use super::*;
    use crate::exec::{FakeRunner, Runner};
    use crate::log::{Logger, capture};
    use crate::paths::Paths;
    use chrono::TimeDelta;
    use std::path::PathBuf;

    const SVC: &str = "p26.opensvc.com";
    const RID: &str = "sync#i0";

    fn now() -> NaiveDateTime {
        ts("2014-02-17 16:52:37.000000")
    }

    struct Lab {
        _dir: tempfile::TempDir,
        svc: SvcInfo,
    }

    impl Lab {
        fn new(local: &str, nodes: &[&str], drpnodes: &[&str]) -> Lab {
            let dir = tempfile::tempdir().unwrap();
            let svc = SvcInfo {
                name: SVC.into(),
                nodename: local.into(),
                nodes: nodes.iter().map(|s| s.to_string()).collect(),
                drpnodes: drpnodes.iter().map(|s| s.to_string()).collect(),
                service_type: "PRD".into(),
                paths: Paths::under(dir.path()),
                svcmgr_bin: PathBuf::from("/usr/bin/svcmgr"),
            };
            Lab { _dir: dir, svc }
        }

        fn stamp(&self, node: &str, t: &str) {
            write_stamp(&self.svc.paths.sync_stamp(node, SVC, RID), ts(t)).unwrap();
        }

        fn started(&self, t: &str) {
            LastStart::of(&self.svc.paths, SVC).record(ts(t)).unwrap();
        }
    }

    fn with_target(target: &[&str]) -> Rsync {
        let mut s = i0();
        s.conf.target = target.iter().map(|t| t.to_string()).collect();
        s
    }

    fn probe(s: Status, msg: &str) -> Probe {
        Probe::with(s, msg)
    }

    #[test]
    fn labels() {
        assert_eq!(i0().label(), "rsync svc config to drpnodes, nodes");
        let mut s = i0();
        s.conf.internal = false;
        s.conf.src = vec!["/svc1/app".into(), "/svc1/data".into()];
        s.conf.dst = "/backup".into();
        assert_eq!(s.label(), "/svc1/app /svc1/data => /backup");
        assert_eq!(s.type_name(), "sync.rsync");
    }

    #[test]
    fn no_destination_is_na() {
        let lab = Lab::new("sles1", &["sles1"], &[]);
        assert_eq!(
            i0().status_at(&lab.svc, Status::Up, now()),
            probe(Status::NotApplicable, "no destination nodes")
        );
        let lab = Lab::new("sles1", &["sles1", "sles2"], &[]);
        assert_eq!(
            with_target(&["drpnodes"]).status_at(&lab.svc, Status::Up, now()),
            probe(Status::NotApplicable, "no destination nodes")
        );
        assert_eq!(
            with_target(&[]).status_at(&lab.svc, Status::Up, now()),
            probe(Status::NotApplicable, "no destination nodes")
        );
    }

    #[test]
    fn passive_node_never_synced_needs_update() {
        // The tutorial's sles1 before the first start
        // (tests/golden/status_initial.txt).
        let lab = Lab::new("sles1", &["sles1", "sles2"], &[]);
        for base in [Status::Down, Status::Warn] {
            assert_eq!(
                i0().status_at(&lab.svc, base, now()),
                probe(Status::Warn, "passive node needs update")
            );
        }
        lab.stamp("sles1", "2014-02-15 16:52:37.000000");
        assert_eq!(
            i0().status_at(&lab.svc, Status::Down, now()),
            probe(Status::Warn, "passive node needs update"),
            "older than 1500 minutes"
        );
    }

    #[test]
    fn passive_node_recently_synced_is_up() {
        // The tutorial's sles2 after syncnodes
        // (tests/golden/status_passive_hb.stdout.txt).
        let lab = Lab::new("sles2", &["sles1", "sles2"], &[]);
        lab.stamp("sles2", "2014-02-17 11:55:50.000001");
        assert_eq!(
            i0().status_at(&lab.svc, Status::Down, now()),
            Probe::new(Status::Up)
        );
    }

    #[test]
    fn passive_node_not_a_target_is_na() {
        let lab = Lab::new("sles1", &["sles1", "sles2"], &["drp1"]);
        assert_eq!(
            with_target(&["drpnodes"]).status_at(&lab.svc, Status::Down, now()),
            probe(
                Status::NotApplicable,
                "passive node not in sync destination nodes"
            )
        );
    }

    #[test]
    fn up_node_with_a_late_peer_is_down() {
        // The tutorial's sles1 once started (tests/golden/status_started.txt).
        let lab = Lab::new("sles1", &["sles1", "sles2"], &[]);
        for base in [
            Status::Up,
            Status::StdbyUpWithUp,
            Status::Undef,
            Status::NotApplicable,
        ] {
            assert_eq!(
                i0().status_at(&lab.svc, base, now()),
                probe(Status::Down, "sles2 need update"),
                "{base:?}"
            );
        }
        let lab = Lab::new("sles1", &["sles1", "sles2", "sles3"], &["drp1"]);
        lab.stamp("sles3", "2014-02-17 16:00:00.000000");
        assert_eq!(
            i0().status_at(&lab.svc, Status::Up, now()),
            probe(Status::Down, "sles2, drp1 need update")
        );
    }

    #[test]
    fn up_node_with_fresh_peers_is_up() {
        // The tutorial's sles1 after syncnodes --force
        // (tests/golden/status_synced.txt, status_hb_daemons_down.stdout.txt).
        let lab = Lab::new("sles1", &["sles1", "sles2"], &[]);
        lab.stamp("sles2", "2014-02-17 11:55:50.000000");
        assert_eq!(
            i0().status_at(&lab.svc, Status::Up, now()),
            Probe::new(Status::Up)
        );
    }

    #[test]
    fn up_on_a_drp_node_is_na() {
        let lab = Lab::new("drp1", &["sles1"], &["drp1"]);
        assert_eq!(
            i0().status_at(&lab.svc, Status::Up, now()),
            probe(
                Status::NotApplicable,
                "service up on drp node, sync disabled"
            )
        );
        // Down on the drp node: it is a passive target.
        assert_eq!(
            i0().status_at(&lab.svc, Status::Down, now()),
            probe(Status::Warn, "passive node needs update")
        );
        // Having run the service there does not make it the owner.
        lab.started("2014-02-17 16:00:00.000000");
        assert_eq!(
            i0().status_at(&lab.svc, Status::Down, now()),
            probe(Status::Warn, "passive node needs update")
        );
    }

    #[test]
    fn stopped_node_that_last_ran_the_service_still_owns_it() {
        // The tutorial's sles1 started, never synced, stopped
        // (tests/golden/status_stopped.txt).
        let lab = Lab::new("sles1", &["sles1", "sles2"], &[]);
        lab.started("2014-02-17 16:52:37.000000");
        assert_eq!(
            i0().status_at(&lab.svc, Status::Down, now()),
            probe(Status::Down, "sles2 need update")
        );
        // Received the config after that start: passive again.
        lab.stamp("sles1", "2014-02-17 16:55:00.000000");
        assert_eq!(
            i0().status_at(&lab.svc, Status::Down, now()),
            Probe::new(Status::Up)
        );
        // Started again since: owner again, and sles2 is fresh.
        lab.stamp("sles2", "2014-02-17 16:55:00.000000");
        lab.started("2014-02-17 17:00:00.000000");
        assert_eq!(
            i0().status_at(&lab.svc, Status::Down, now()),
            Probe::new(Status::Up)
        );
    }

    #[test]
    fn status_through_the_driver_trait_uses_the_clock_and_is_quiet() {
        let lab = Lab::new("sles1", &["sles1", "sles2"], &[]);
        let runner = FakeRunner::new();
        let ctx = Ctx {
            runner: &runner as &dyn Runner,
            log: Logger::service(SVC).resource(RID),
            svc: &lab.svc,
            env: &[],
            conflict_checked: false,
            cache: None,
        };
        let recent = Local::now().naive_local() - TimeDelta::minutes(5);
        write_stamp(&lab.svc.paths.sync_stamp("sles2", SVC, RID), recent).unwrap();
        let deps = Deps { base: Status::Up };
        let (p, lines) = capture(|| i0().status(&ctx, &deps));
        assert_eq!(p, Probe::new(Status::Up));
        assert!(lines.is_empty());
        assert!(runner.calls().is_empty());
        assert_eq!(i0().start(&ctx), Ok(Started::AlreadyUp));
        assert_eq!(i0().stop(&ctx), Ok(()));
    }
}
