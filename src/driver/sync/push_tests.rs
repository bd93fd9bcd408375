//! The push's tests: a fake runner stands for ssh and rsync.

use super::super::fixtures::{i0, in_period, out_of_period};
use super::super::rsync::RSYNC_RUN_LIMIT;
use super::*;
use crate::config::{Schedule, SyncConf};
use crate::exec::{FakeRunner, Runner};
use crate::log::capture;
use crate::paths::Paths;
use chrono::TimeDelta;
use std::path::PathBuf;

const SVC: &str = "p26.opensvc.com";
const I0: &str = "P26.OPENSVC.COM.SYNC#I0";
const RSH: &str = "ssh -q -o StrictHostKeyChecking=accept-new -o ForwardX11=no -o BatchMode=yes -o ConnectTimeout=10";

struct Lab {
    _dir: tempfile::TempDir,
    svc: SvcInfo,
    runner: FakeRunner,
}

impl Lab {
    /// A service with its config file, `<etc>/<svc>` link and `.d`
    /// link, as in the tutorial; ssh answers host mode TST.
    fn new(local: &str, nodes: &[&str], drpnodes: &[&str]) -> Lab {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::under(dir.path());
        std::fs::create_dir_all(&paths.etc).unwrap();
        std::fs::write(paths.etc.join(format!("{SVC}.conf")), "[DEFAULT]\n").unwrap();
        std::os::unix::fs::symlink("/usr/bin/svcmgr", paths.svc_link(SVC)).unwrap();
        std::os::unix::fs::symlink("/svc1/app/init.d", paths.launcher_dir(SVC)).unwrap();
        let svc = SvcInfo {
            name: SVC.into(),
            nodename: local.into(),
            nodes: nodes.iter().map(|s| s.to_string()).collect(),
            drpnodes: drpnodes.iter().map(|s| s.to_string()).collect(),
            service_type: "TST".into(),
            paths,
            svcmgr_bin: PathBuf::from("/usr/bin/svcmgr"),
        };
        let runner = FakeRunner::new();
        runner.on(&["ssh"], 0, "TST\n", "");
        Lab {
            _dir: dir,
            svc,
            runner,
        }
    }

    fn etc(&self, name: &str) -> String {
        self.svc.paths.etc.join(name).to_string_lossy().into_owned()
    }

    fn stamp_path(&self, node: &str, rid: &str) -> PathBuf {
        self.svc.paths.sync_stamp(node, SVC, rid)
    }

    fn node_conf(&self, text: &str) {
        std::fs::write(self.svc.paths.node_conf(), text).unwrap();
    }

    fn run(
        &self,
        s: &Rsync,
        req: &SyncRequest,
        now: NaiveDateTime,
    ) -> (Result<Synced, Failed>, Vec<String>) {
        let ctx = Ctx {
            runner: &self.runner as &dyn Runner,
            log: Logger::service(SVC).resource(&s.rid),
            svc: &self.svc,
            env: &[],
            conflict_checked: false,
            cache: None,
        };
        capture(|| s.sync_at(&ctx, req, now))
    }

    fn argvs(&self) -> Vec<Vec<String>> {
        self.runner.cmds().into_iter().map(|c| c.argv).collect()
    }
}

fn user_sync(src: &[&str], dst: &str) -> Rsync {
    Rsync::new(
        "sync#1".into(),
        SyncConf {
            internal: false,
            src: src.iter().map(|s| s.to_string()).collect(),
            dst: dst.into(),
            target: vec!["nodes".into()],
            options: vec![],
            bwlimit: None,
            schedule: Schedule::default(),
        },
    )
}

fn req(targets: &[&'static str], force: bool, base: Status) -> SyncRequest {
    SyncRequest {
        targets: targets.to_vec(),
        force,
        cron: false,
        base,
    }
}

fn syncnodes() -> SyncRequest {
    req(&["nodes"], false, Status::Up)
}

fn forced() -> SyncRequest {
    req(&["nodes"], true, Status::Up)
}

#[allow(
    clippy::unnecessary_wraps,
    reason = "compared with what sync_at returns"
)]
fn peers(p: &[&str]) -> Result<Synced, Failed> {
    Ok(Synced {
        peers: p.iter().map(|s| s.to_string()).collect(),
    })
}

fn v(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn host_mode_argv(user: &str, node: &str) -> Vec<String> {
    let remote = if user == "root" {
        "nodemgr get --param node.host_mode".to_string()
    } else {
        "sudo nodemgr get --param node.host_mode".to_string()
    };
    let mut a = v(&["ssh", "-q"]);
    a.extend(remote::SSH_OPTS.iter().map(|s| s.to_string()));
    a.extend(v(&["-l", user, "--", node]));
    a.push(remote);
    a
}

fn transport_argv(user: &str) -> Vec<String> {
    let mut a = v(&["-e", RSH]);
    if user != "root" {
        a.extend(v(&["--rsync-path", "sudo rsync"]));
    }
    a
}

fn i0_rsync_argv(lab: &Lab, user: &str, node: &str, src: &[&str]) -> Vec<String> {
    let mut a = v(&[
        "rsync",
        "-HpogDtrlvx",
        "--stats",
        "--delete",
        "--force",
        "--timeout=3600",
        "-R",
        "--exclude=*.core",
    ]);
    a.extend(transport_argv(user));
    a.push("--".into());
    a.extend(src.iter().map(|s| lab.etc(s)));
    a.push(format!("{user}@{node}:/"));
    a
}

fn stamp_argv(lab: &Lab, user: &str, local: &str, node: &str, rid: &str) -> Vec<String> {
    let mut a = v(&["rsync"]);
    a.extend(transport_argv(user));
    a.push("-R".into());
    a.push("--".into());
    a.push(lab.stamp_path(node, rid).to_string_lossy().into_owned());
    a.push(lab.stamp_path(local, rid).to_string_lossy().into_owned());
    a.push(format!("{user}@{node}:/"));
    a
}

const TUTORIAL_FILES: [&str; 3] = [SVC, "p26.opensvc.com.conf", "p26.opensvc.com.d"];

#[test]
fn forced_i0_sync_as_root_runs_quietly_and_stamps_both_sides() {
    // The tutorial's `syncnodes --force` on the up node ("Service
    // Failover").
    let lab = Lab::new("sles1", &["sles1", "sles2"], &[]);
    let (r, lines) = lab.run(&i0(), &forced(), out_of_period());
    assert_eq!(r, peers(&["sles2"]));
    assert!(lines.is_empty(), "{lines:?}");
    assert_eq!(
        lab.argvs(),
        vec![
            host_mode_argv("root", "sles2"),
            i0_rsync_argv(&lab, "root", "sles2", &TUTORIAL_FILES),
            stamp_argv(&lab, "root", "sles1", "sles2", "sync#i0"),
        ]
    );
    let text = "2014-02-17 17:20:37.000000\n";
    for f in [
        lab.stamp_path("sles2", "sync#i0"),
        lab.stamp_path("sles1", "sync#i0"),
        lab.svc.paths.var.join("last_sync_p26.opensvc.com_sync#i0"),
    ] {
        assert_eq!(
            std::fs::read_to_string(&f).unwrap(),
            text,
            "{}",
            f.display()
        );
    }
    assert_eq!(
        lab.runner.cmds()[1].timeout,
        RSYNC_RUN_LIMIT,
        "the transfer is bounded by rsync's own timeout, not the default"
    );
}

#[test]
fn non_root_ruser_goes_through_sudo() {
    let lab = Lab::new("sles1", &["sles1", "sles2", "sles3"], &[]);
    lab.node_conf("[node]\nruser = svcsync root@sles3\n");
    let (r, lines) = lab.run(&i0(), &forced(), in_period());
    assert_eq!(r, peers(&["sles2", "sles3"]));
    assert!(lines.is_empty(), "{lines:?}");
    assert_eq!(
        lab.argvs(),
        vec![
            host_mode_argv("svcsync", "sles2"),
            i0_rsync_argv(&lab, "svcsync", "sles2", &TUTORIAL_FILES),
            stamp_argv(&lab, "svcsync", "sles1", "sles2", "sync#i0"),
            host_mode_argv("root", "sles3"),
            i0_rsync_argv(&lab, "root", "sles3", &TUTORIAL_FILES),
            stamp_argv(&lab, "root", "sles1", "sles3", "sync#i0"),
        ]
    );
}

#[test]
fn out_of_period_is_skipped_without_force() {
    // The tutorial's first `syncnodes`: skipped outside the period.
    let lab = Lab::new("sles1", &["sles1", "sles2"], &[]);
    let (r, lines) = lab.run(&i0(), &syncnodes(), out_of_period());
    assert_eq!(r, peers(&[]));
    assert_eq!(
        lines,
        vec![format!(
            "INFO {I0} skip sync: not in allowed period (['03:59', '05:59'])"
        )]
    );
    assert!(lab.runner.calls().is_empty());
}

#[test]
fn schedule_messages_are_said_once_and_not_under_cron() {
    let lab = Lab::new("sles1", &["sles1", "sles2", "sles3"], &[]);
    let (r, lines) = lab.run(&i0(), &syncnodes(), out_of_period());
    assert_eq!(r, peers(&[]));
    assert_eq!(lines.len(), 1, "{lines:?}");
    let mut cron = syncnodes();
    cron.cron = true;
    let (r, lines) = lab.run(&i0(), &cron, out_of_period());
    assert_eq!(r, peers(&[]));
    assert!(lines.is_empty(), "{lines:?}");
    assert!(lab.runner.calls().is_empty());
}

#[test]
fn interval_zero_and_days_skip() {
    let lab = Lab::new("sles1", &["sles1", "sles2"], &[]);
    let mut s = i0();
    s.conf.schedule.days = vec!["monday".into(), "friday".into()];
    let tuesday = in_period() + TimeDelta::days(1);
    let (r, lines) = lab.run(&s, &syncnodes(), tuesday);
    assert_eq!(r, peers(&[]));
    assert_eq!(
        lines,
        vec![format!(
            "INFO {I0} skip sync: not in allowed days (['monday', 'friday'])"
        )]
    );
    s.conf.schedule.interval_min = 0;
    let (_, lines) = lab.run(&s, &syncnodes(), in_period());
    assert_eq!(
        lines,
        vec![format!(
            "INFO {I0} skip sync: disabled by sync_interval = 0"
        )]
    );
    assert!(lab.runner.calls().is_empty());
    // --force bypasses all of it.
    let (r, lines) = lab.run(&s, &forced(), tuesday);
    assert_eq!(r, peers(&["sles2"]));
    assert!(lines.is_empty(), "{lines:?}");
}

#[test]
fn in_period_first_sync_then_too_soon() {
    let lab = Lab::new("sles1", &["sles1", "sles2"], &[]);
    let now = in_period();
    let (r, lines) = lab.run(&i0(), &syncnodes(), now);
    assert_eq!(r, peers(&["sles2"]));
    assert_eq!(
        lines,
        vec![format!("INFO {I0} don't skip sync: no timestamp")]
    );
    assert_eq!(lab.runner.calls().len(), 3);
    // A second sync within the interval (121 min) is too soon.
    let later = now + TimeDelta::minutes(30);
    let (r, lines) = lab.run(&i0(), &syncnodes(), later);
    assert_eq!(r, peers(&[]));
    assert_eq!(lines, vec![format!("INFO {I0} skip sync: too soon (121)")]);
    assert_eq!(lab.runner.calls().len(), 3, "nothing more run");
    // Old enough (here a window wide enough for two syncs): synced
    // again, quietly.
    let mut s = i0();
    s.conf.schedule.periods = vec![("00:00".into(), "23:59".into())];
    let (r, lines) = lab.run(&s, &syncnodes(), now + TimeDelta::minutes(121));
    assert_eq!(r, peers(&["sles2"]));
    assert!(lines.is_empty(), "{lines:?}");
}

#[test]
fn only_peers_due_are_synced() {
    let lab = Lab::new("sles1", &["sles1", "sles2", "sles3"], &[]);
    let now = in_period();
    write_stamp(
        &lab.stamp_path("sles2", "sync#i0"),
        now - TimeDelta::minutes(10),
    )
    .unwrap();
    write_stamp(
        &lab.stamp_path("sles3", "sync#i0"),
        now - TimeDelta::minutes(200),
    )
    .unwrap();
    let (r, lines) = lab.run(&i0(), &syncnodes(), now);
    assert_eq!(r, peers(&["sles3"]));
    assert_eq!(lines, vec![format!("INFO {I0} skip sync: too soon (121)")]);
    assert_eq!(lab.argvs()[0], host_mode_argv("root", "sles3"));
}

#[test]
fn force_does_not_bypass_the_up_rule() {
    // --force bypasses the schedule, never the rule that the service be up.
    let lab = Lab::new("sles1", &["sles1", "sles2"], &[]);
    let (r, lines) = lab.run(&i0(), &req(&["nodes"], true, Status::Down), in_period());
    assert_eq!(r, peers(&[]));
    assert_eq!(
        lines,
        vec![format!(
            "INFO {I0} won't sync this resource for a service not up"
        )]
    );
    let (r, lines) = lab.run(&i0(), &req(&["nodes"], true, Status::Warn), in_period());
    assert_eq!(r, peers(&[]));
    assert_eq!(
        lines,
        vec![
            format!("INFO {I0} won't sync this resource service in warn status"),
            format!("INFO {I0} won't sync this resource for a service not up"),
        ]
    );
    assert!(lab.runner.calls().is_empty());
    // A service without ip, disk or fs counts as up.
    for base in [Status::Undef, Status::NotApplicable, Status::StdbyUpWithUp] {
        let (r, _) = lab.run(&i0(), &req(&["nodes"], true, base), in_period());
        assert_eq!(r, peers(&["sles2"]), "{base:?}");
    }
}

#[test]
fn the_schedule_is_checked_before_the_up_rule() {
    let lab = Lab::new("sles1", &["sles1", "sles2"], &[]);
    let (_, lines) = lab.run(
        &i0(),
        &req(&["nodes"], false, Status::Down),
        out_of_period(),
    );
    assert_eq!(
        lines,
        vec![format!(
            "INFO {I0} skip sync: not in allowed period (['03:59', '05:59'])"
        )]
    );
}

#[test]
fn unreachable_peer_is_an_error_and_others_still_sync() {
    let lab = Lab::new("sles1", &["sles1", "sles2", "sles3"], &[]);
    lab.runner.on(
        &host_mode_argv("root", "sles2")
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        255,
        "",
        "ssh: connect to host sles2 port 22: No route to host\r\nmore\n",
    );
    let (r, lines) = lab.run(&i0(), &forced(), in_period());
    assert_eq!(r, peers(&["sles3"]));
    assert_eq!(
        lines,
        vec![format!(
            "ERROR {I0} node sles2 is unreachable: ssh: connect to host sles2 port 22: No route to host"
        )]
    );
    assert_eq!(
        lab.argvs(),
        vec![
            host_mode_argv("root", "sles2"),
            host_mode_argv("root", "sles3"),
            i0_rsync_argv(&lab, "root", "sles3", &TUTORIAL_FILES),
            stamp_argv(&lab, "root", "sles1", "sles3", "sync#i0"),
        ]
    );
    assert!(
        lab.stamp_path("sles2", "sync#i0")
            .symlink_metadata()
            .is_err()
    );
}

#[test]
fn every_peer_failing_fails_the_action() {
    let lab = Lab::new("sles1", &["sles1", "sles2"], &[]);
    lab.runner.on(&["ssh"], 255, "", "");
    let (r, lines) = lab.run(&i0(), &forced(), in_period());
    assert_eq!(r, Err(Failed::silent()));
    assert_eq!(
        lines,
        vec![format!("ERROR {I0} node sles2 is unreachable: ssh failed")]
    );
}

#[test]
fn incompatible_host_modes() {
    let lab = Lab::new("sles1", &["sles1", "sles2"], &["drp1"]);
    lab.runner.on(&["ssh"], 0, "prd\n", "");
    let all = req(&["nodes", "drpnodes"], true, Status::Up);
    let (r, lines) = lab.run(&i0(), &all, in_period());
    assert_eq!(r, Err(Failed::silent()));
    assert_eq!(
        lines,
        vec![
            format!(
                "ERROR {I0} incompatible remote node 'sles2' host mode: 'PRD' (expected in ['TST'])"
            ),
            format!(
                "ERROR {I0} incompatible remote node 'drp1' host mode: 'PRD' (expected in ['PPRD', 'REC', 'INT', 'DEV', 'TST', 'TMP', 'DRP', 'FOR', 'PRA'])"
            ),
        ]
    );
    assert!(lab.runner.calls().iter().all(|c| c.starts_with("ssh ")));
}

#[test]
fn a_drp_node_may_have_any_mode_but_prd() {
    let lab = Lab::new("sles1", &["sles1"], &["drp1"]);
    lab.runner.on(&["ssh"], 0, "DEV\n", "");
    let (r, lines) = lab.run(&i0(), &req(&["drpnodes"], true, Status::Up), in_period());
    assert_eq!(r, peers(&["drp1"]));
    assert!(lines.is_empty(), "{lines:?}");
}

#[test]
fn a_failing_or_silent_nodemgr_means_tst() {
    let lab = Lab::new("sles1", &["sles1", "sles2", "sles3"], &[]);
    let prefix = |n: &str| host_mode_argv("root", n);
    let p2 = prefix("sles2");
    let p3 = prefix("sles3");
    lab.runner.on(
        &p2.iter().map(String::as_str).collect::<Vec<_>>(),
        1,
        "",
        "no such key",
    );
    lab.runner.on(
        &p3.iter().map(String::as_str).collect::<Vec<_>>(),
        0,
        "  \n",
        "",
    );
    let (r, lines) = lab.run(&i0(), &forced(), in_period());
    assert_eq!(r, peers(&["sles2", "sles3"]));
    assert!(lines.is_empty(), "{lines:?}");
    // A PRD service does not go to them.
    let mut lab = lab;
    lab.svc.service_type = "PRD".into();
    lab.node_conf("[node]\nhost_mode = PRD\n");
    let (r, lines) = lab.run(&i0(), &forced(), in_period());
    assert_eq!(r, Err(Failed::silent()));
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].ends_with("host mode: 'TST' (expected in ['PRD'])"));
}

#[test]
fn prd_service_on_a_non_prd_node_is_not_synced() {
    let mut lab = Lab::new("sles1", &["sles1", "sles2"], &[]);
    lab.svc.service_type = "PRD".into();
    let (r, lines) = lab.run(&i0(), &forced(), in_period());
    assert_eq!(r, peers(&[]));
    assert_eq!(
        lines,
        vec![format!(
            "INFO {I0} won't sync a PRD service running on a !PRD node"
        )]
    );
    assert!(lab.runner.calls().is_empty());
    lab.node_conf("[node]\nhost_mode = PRD\n");
    lab.runner.on(&["ssh"], 0, "PRD\n", "");
    let (r, lines) = lab.run(&i0(), &forced(), in_period());
    assert_eq!(r, peers(&["sles2"]));
    assert!(lines.is_empty(), "{lines:?}");
}

#[test]
fn nothing_to_sync() {
    // One node only.
    let lab = Lab::new("sles1", &["sles1"], &[]);
    let (r, lines) = lab.run(&i0(), &forced(), in_period());
    assert_eq!(r, peers(&[]));
    assert_eq!(lines, vec![format!("INFO {I0} no node to sync")]);
    // syncdrp without drpnodes, and not under cron.
    let lab = Lab::new("sles1", &["sles1", "sles2"], &[]);
    let mut r2 = req(&["drpnodes"], true, Status::Up);
    let (r, lines) = lab.run(&i0(), &r2, in_period());
    assert_eq!(r, peers(&[]));
    assert_eq!(lines, vec![format!("INFO {I0} no node to sync")]);
    r2.cron = true;
    let (_, lines) = lab.run(&i0(), &r2, in_period());
    assert!(lines.is_empty());
    // A resource that does not target the requested list.
    let mut s = i0();
    s.conf.target = vec!["drpnodes".into()];
    let (r, _) = lab.run(&s, &forced(), in_period());
    assert_eq!(r, peers(&[]));
    // A drp node never sends, even when up.
    let lab = Lab::new("drp1", &["sles1"], &["drp1", "drp2"]);
    let (r, lines) = lab.run(
        &i0(),
        &req(&["nodes", "drpnodes"], true, Status::Up),
        in_period(),
    );
    assert_eq!(r, peers(&[]));
    assert_eq!(lines, vec![format!("INFO {I0} no node to sync")]);
    assert!(lab.runner.calls().is_empty());
}

#[test]
fn syncall_reaches_nodes_and_drpnodes_once_each() {
    let lab = Lab::new("sles1", &["sles1", "sles2"], &["drp1", "sles2"]);
    let (r, _) = lab.run(
        &i0(),
        &req(&["nodes", "drpnodes"], true, Status::Up),
        in_period(),
    );
    assert_eq!(r, peers(&["sles2", "drp1"]));
    assert_eq!(lab.runner.calls().len(), 6);
}

#[test]
fn rsync_failure_goes_on_with_the_next_node() {
    let lab = Lab::new("sles1", &["sles1", "sles2", "sles3"], &[]);
    // Only sles3's data transfer succeeds.
    lab.runner.on_seq(
        &["rsync", "-HpogDtrlvx"],
        vec![
            crate::exec::Output {
                rc: 12,
                stdout: String::new(),
                stderr: "rsync error".into(),
            },
            crate::exec::Output::default(),
        ],
    );
    let (r, lines) = lab.run(&i0(), &forced(), in_period());
    assert_eq!(r, peers(&["sles3"]));
    let files: Vec<String> = TUTORIAL_FILES.iter().map(|f| lab.etc(f)).collect();
    assert_eq!(
        lines,
        vec![format!(
            "ERROR {I0} node sles2 synchronization failed ({} => /)",
            files.join(" ")
        )]
    );
    assert!(
        lab.stamp_path("sles2", "sync#i0")
            .symlink_metadata()
            .is_err()
    );
    assert!(lab.stamp_path("sles3", "sync#i0").exists());
}

#[test]
fn a_failed_stamp_send_is_a_warning_and_the_peer_still_counts() {
    let lab = Lab::new("sles1", &["sles1", "sles2"], &[]);
    lab.runner.on(&["rsync", "-e"], 12, "", "connection reset");
    let (r, lines) = lab.run(&i0(), &forced(), in_period());
    assert_eq!(r, peers(&["sles2"]));
    assert_eq!(
        lines,
        vec![format!(
            "WARNING {I0} could not send the sync timestamps to node sles2 (rsync rc 12)"
        )]
    );
}

#[test]
fn payload_follows_the_files_present() {
    // Without the link and the .d: the config file alone.
    let lab = Lab::new("sles1", &["sles1", "sles2"], &[]);
    std::fs::remove_file(lab.svc.paths.svc_link(SVC)).unwrap();
    std::fs::remove_file(lab.svc.paths.launcher_dir(SVC)).unwrap();
    std::fs::write(lab.svc.paths.etc.join(format!("{SVC}.stonith")), "").unwrap();
    let (r, _) = lab.run(&i0(), &forced(), in_period());
    assert_eq!(r, peers(&["sles2"]));
    assert_eq!(
        lab.argvs()[1],
        i0_rsync_argv(&lab, "root", "sles2", &["p26.opensvc.com.conf"])
    );
    // With .env instead of .conf, the .cluster link and the .dir tree;
    // never .stonith.
    let lab = Lab::new("sles1", &["sles1", "sles2"], &[]);
    let etc = &lab.svc.paths.etc;
    std::fs::rename(
        etc.join(format!("{SVC}.conf")),
        etc.join(format!("{SVC}.env")),
    )
    .unwrap();
    std::os::unix::fs::symlink("/usr/bin/svcmgr", etc.join(format!("{SVC}.cluster"))).unwrap();
    std::os::unix::fs::symlink("/usr/bin/svcmgr", etc.join(format!("{SVC}.stonith"))).unwrap();
    std::fs::create_dir_all(etc.join(format!("{SVC}.dir/sub"))).unwrap();
    let (r, _) = lab.run(&i0(), &forced(), in_period());
    assert_eq!(r, peers(&["sles2"]));
    assert_eq!(
        lab.argvs()[1],
        i0_rsync_argv(
            &lab,
            "root",
            "sles2",
            &[
                SVC,
                "p26.opensvc.com.env",
                "p26.opensvc.com.d",
                "p26.opensvc.com.cluster",
                "p26.opensvc.com.dir",
            ]
        )
    );
}

#[test]
fn a_missing_config_file_fails_before_any_transfer() {
    let lab = Lab::new("sles1", &["sles1", "sles2"], &[]);
    std::fs::remove_file(lab.svc.paths.etc.join(format!("{SVC}.conf"))).unwrap();
    let (r, lines) = lab.run(&i0(), &forced(), in_period());
    assert_eq!(r, Err(Failed::silent()));
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with(&format!("ERROR {I0} ")));
    assert!(lab.runner.calls().is_empty());
}

#[test]
fn i0_options_and_bwlimit_take_their_places() {
    let lab = Lab::new("sles1", &["sles1", "sles2"], &[]);
    let mut s = i0();
    s.conf.options = v(&["--exclude=*.tmp", "--numeric-ids"]);
    s.conf.bwlimit = Some(1000);
    lab.run(&s, &forced(), in_period()).0.unwrap();
    let mut want = v(&[
        "rsync",
        "-HpogDtrlvx",
        "--stats",
        "--delete",
        "--force",
        "--timeout=3600",
        "-R",
        "--exclude=*.core",
        "--exclude=*.tmp",
        "--numeric-ids",
    ]);
    want.extend(transport_argv("root"));
    want.push("--bwlimit=1000".into());
    want.push("--".into());
    want.extend(TUTORIAL_FILES.iter().map(|f| lab.etc(f)));
    want.push("root@sles2:/".into());
    assert_eq!(lab.argvs()[1], want);
}

/// A user data tree under the lab root.
fn data(lab: &Lab) -> (String, String) {
    let root = lab.svc.paths.etc.parent().unwrap().join("svc1");
    for f in ["data/a.db", "data/b.db", "app/bin"] {
        let p = root.join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, "").unwrap();
    }
    let r = root.to_string_lossy().into_owned();
    (format!("{r}/data/*.db"), format!("{r}/app"))
}

#[test]
fn user_sync_is_logged_with_globs_expanded() {
    let lab = Lab::new("sles1", &["sles1", "sles2"], &[]);
    lab.node_conf("[node]\nruser = svcsync\n");
    let (glob_src, app) = data(&lab);
    let s = user_sync(&[&glob_src, &app], "/backup");
    lab.runner
        .on(&["rsync", "-HpogDtrlvx"], 0, "sent 10 bytes\n", "");
    let (r, lines) = lab.run(&s, &forced(), in_period());
    assert_eq!(r, peers(&["sles2"]));
    let root = app.trim_end_matches("/app");
    let want = format!(
        "rsync -HpogDtrlvx --stats --delete --force --timeout=3600 -e {RSH} --rsync-path sudo rsync -- {root}/data/a.db {root}/data/b.db {app} svcsync@sles2:/backup"
    );
    let name = "P26.OPENSVC.COM.SYNC#1";
    assert_eq!(
        lines,
        vec![
            format!("INFO {name} {want}"),
            format!("INFO {name} output:\nsent 10 bytes\n"),
        ]
    );
    assert_eq!(lab.runner.calls()[1], want);
    assert_eq!(
        lab.argvs()[2],
        stamp_argv(&lab, "svcsync", "sles1", "sles2", "sync#1")
    );
    assert_eq!(
        std::fs::read_to_string(lab.stamp_path("sles2", "sync#1")).unwrap(),
        "2014-02-17 04:30:00.250000\n"
    );
}

#[test]
fn user_sync_failure_names_sources_and_destination() {
    let lab = Lab::new("sles1", &["sles1", "sles2"], &[]);
    let (_, app) = data(&lab);
    let s = user_sync(&[&app], "/backup");
    lab.runner
        .on(&["rsync", "-HpogDtrlvx"], 23, "", "some files vanished\n");
    let (r, lines) = lab.run(&s, &forced(), in_period());
    assert_eq!(r, Err(Failed::silent()));
    let name = "P26.OPENSVC.COM.SYNC#1";
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(
        lines[1],
        format!("ERROR {name} stderr:\nsome files vanished\n")
    );
    assert_eq!(
        lines[2],
        format!("ERROR {name} node sles2 synchronization failed ({app} => /backup)")
    );
}

#[test]
fn a_missing_user_source_fails_without_transfer() {
    let lab = Lab::new("sles1", &["sles1", "sles2"], &[]);
    let (_, app) = data(&lab);
    let gone = format!("{app}/nothing*");
    let s = user_sync(&[&app, &gone, "/nonexistent/dir"], "/backup");
    let (r, lines) = lab.run(&s, &forced(), in_period());
    assert_eq!(r, Err(Failed::silent()));
    let name = "P26.OPENSVC.COM.SYNC#1";
    assert_eq!(
        lines,
        vec![
            format!("ERROR {name} {gone} does not exist"),
            format!("ERROR {name} /nonexistent/dir does not exist"),
        ]
    );
    assert!(lab.runner.calls().is_empty());
}

#[test]
fn through_the_driver_trait() {
    use crate::driver::Driver;
    let lab = Lab::new("sles1", &["sles1", "sles2"], &[]);
    let ctx = Ctx {
        runner: &lab.runner as &dyn Runner,
        log: Logger::service(SVC).resource("sync#i0"),
        svc: &lab.svc,
        env: &[],
        conflict_checked: false,
        cache: None,
    };
    let before = chrono::Local::now().naive_local();
    let r = i0().sync(&ctx, &forced());
    assert_eq!(r, peers(&["sles2"]));
    let stamp = read_stamp(&lab.stamp_path("sles2", "sync#i0")).unwrap();
    assert!(stamp >= before && stamp <= chrono::Local::now().naive_local());
}
