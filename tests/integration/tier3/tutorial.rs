//! Tier 3: the status trees and log blocks of the first tutorial (from
//! "Service Testing" up to "Service Failover", plus the ip conflict on sles1
//! and the clusterware refusal of "OpenHA Testing"), reproduced by the real
//! binary from equivalent fake states (docs/behaviour.md, "The tutorials").
//!
//! The golden texts in tests/golden are copied verbatim from the tutorial
//! (the file name says what; tests/golden/README.md gives the step).
//! Outputs are compared after path normalisation (World::norm), masking of
//! the log times and launcher durations, and right-trimming.

use crate::common::*;

const START_IP: &[&str] = &[
    "arping -D -c 2 -w 2 -I eth0 37.59.71.26",
    "ping -c 1 -W 0.15 37.59.71.26",
    "ifconfig eth0:1 37.59.71.26 netmask 255.255.255.224 up",
    "arping -U -c 1 -I eth0 -s 37.59.71.26 0.0.0.0",
];

/// The first `print status` (golden/status_initial.txt): vg active, nothing
/// else up, nobody synced yet.
#[test]
fn first_print_status() {
    let w = World::tutorial();
    w.svc(&["print", "status"])
        .code(0)
        .stdout_is(&golden("status_initial.txt"))
        .stderr_is("");
}

/// The first start (golden/start_first.txt: vg already active, mount points
/// missing), then its tree (golden/status_started.txt).
#[test]
fn first_start_then_status() {
    let w = World::tutorial();
    let r = w.svc(&["start"]);
    r.code(0)
        .stdout_is("")
        .stderr_is(&golden("start_first.txt"));
    let mut want: Vec<&str> = START_IP.to_vec();
    want.extend([
        "e2fsck -p /dev/mapper/vgsvc1-lvappsvc1",
        "mount -t ext3 /dev/mapper/vgsvc1-lvappsvc1 /svc1/app",
        "e2fsck -p /dev/mapper/vgsvc1-lvdatasvc1",
        "mount -t ext3 /dev/mapper/vgsvc1-lvdatasvc1 /svc1/data",
    ]);
    r.actions_are(&want);
    assert!(w.root.join("svc1/app").is_dir() && w.root.join("svc1/data").is_dir());
    assert!(w.plumbed(ADDR), "{}", r.report());
    w.svc(&["print", "status"])
        .code(0)
        .stdout_is(&golden("status_started.txt"))
        .stderr_is("");
}

/// The "Application Integration" sequence: start with launchers and an
/// inactive vg (golden/start_launchers.txt), status with the app up
/// (status_app_up.txt), stop (stop.txt), status after the stop
/// (status_stopped.txt), start again (start_again.txt).
#[test]
fn launcher_start_status_stop_status_start() {
    let w = World::tutorial_with_launchers();
    let pidfile = w.dir.path().join("webserver.pid");

    let r = w.svc(&["start"]);
    r.code(0)
        .stdout_is("")
        .stderr_is(&golden("start_launchers.txt"));
    let mut want: Vec<&str> = START_IP.to_vec();
    want.extend([
        "vgchange --addtag @sles1 vgsvc1",
        "vgchange -a y vgsvc1",
        "e2fsck -p /dev/mapper/vgsvc1-lvappsvc1",
        "mount -t ext3 /dev/mapper/vgsvc1-lvappsvc1 /svc1/app",
        "e2fsck -p /dev/mapper/vgsvc1-lvdatasvc1",
        "mount -t ext3 /dev/mapper/vgsvc1-lvdatasvc1 /svc1/data",
    ]);
    r.actions_are(&want);
    assert!(
        pidfile.exists(),
        "S10weblauncher did not run\n{}",
        r.report()
    );
    let log = w.root.join("tmp/svc_p26.opensvc.com_S10weblauncher.log");
    assert!(log.exists(), "no launcher log\n{}", r.report());

    w.svc(&["print", "status"])
        .code(0)
        .stdout_is(&golden("status_app_up.txt"))
        .stderr_is("");

    let r = w.svc(&["stop"]);
    r.code(0).stdout_is("").stderr_is(&golden("stop.txt"));
    r.actions_are(&[
        "umount /svc1/data",
        "umount /svc1/app",
        "vgchange --deltag @sles1 vgsvc1",
        "kpartx -d /dev/vgsvc1/lvappsvc1",
        "kpartx -d /dev/vgsvc1/lvdatasvc1",
        "vgchange -a n vgsvc1",
        "ifconfig eth0:1 down",
        "arping -D -c 2 -w 2 -I eth0 37.59.71.26",
        "ping -c 1 -W 0.15 37.59.71.26",
    ]);
    assert!(
        !pidfile.exists(),
        "K90weblauncher did not run\n{}",
        r.report()
    );
    assert!(!w.vg_active("vgsvc1") && !w.plumbed(ADDR));

    w.svc(&["print", "status"])
        .code(0)
        .stdout_is(&golden("status_stopped.txt"))
        .stderr_is("");

    let r = w.svc(&["start"]);
    r.code(0)
        .stdout_is("")
        .stderr_is(&golden("start_again.txt"));
    r.actions_are(&want);
}

/// golden/conflict.txt: the address answers from another node. Only the
/// conflict check runs; nothing is touched.
#[test]
fn start_refused_on_ip_conflict() {
    let w = World::tutorial_with_launchers();
    w.remote_ip(ADDR);
    let r = w.svc(&["start"]);
    r.code(1).stdout_is("").stderr_is(&golden("conflict.txt"));
    r.actions_are(&[
        "arping -D -c 2 -w 2 -I eth0 37.59.71.26",
        "ping -c 1 -W 0.15 37.59.71.26",
    ]);
    assert!(!w.plumbed(ADDR) && !w.vg_active("vgsvc1"));
    assert!(!w.dir.path().join("webserver.pid").exists());
}

/// golden/clusterware.txt: with an OpenHA heartbeat, direct stop is refused
/// before anything runs.
#[test]
fn stop_refused_under_clusterware() {
    let w = World::tutorial_with_launchers();
    let conf = w.read_conf(SVC) + "\n[hb#0]\ntype = OpenHA\n";
    std::fs::write(w.conf_path(SVC), conf).unwrap();
    w.mark_pushed(SVC);
    let r = w.svc(&["stop"]);
    r.code(1)
        .stdout_is("")
        .stderr_is(&golden("clusterware.txt"));
    r.no_calls();
}

/// golden/status_synced.txt: after `syncnodes --force` the peer has the config
/// (its stamp is fresh): sync#i0 up, overall up.
#[test]
fn status_after_the_config_reached_the_peer() {
    let w = World::tutorial_with_launchers();
    w.svc(&["start"]).code(0);
    w.sync_stamp("sles2");
    w.sync_stamp("sles1");
    w.svcmgr(&["-s", SVC, "print", "status"])
        .code(0)
        .stdout_is(&golden("status_synced.txt"))
        .stderr_is("");
}

/// golden/start_sles2.txt, status_sles2_up.txt: the same start on sles2, which
/// received the config from sles1, then its status.
#[test]
fn start_and_status_on_the_second_node() {
    let mut w = World::tutorial_with_launchers();
    w.node = "sles2".into();
    w.sync_stamp("sles1");
    w.sync_stamp("sles2");
    let r = w.svc(&["start"]);
    r.code(0)
        .stdout_is("")
        .stderr_is(&golden("start_sles2.txt"));
    assert_eq!(w.vg_tags("vgsvc1"), ["sles2"]);
    w.svc(&["print", "status"])
        .code(0)
        .stdout_is(&golden("status_sles2_up.txt"))
        .stderr_is("");
}

/// golden/status_hb_daemons_down.*: `[hb#0] type = OpenHA` appended, OpenHA installed but
/// its daemons not running: the collector lines (the config changed), the
/// `.cluster`/`.stonith` links created with their log lines (padded by 4;
/// docs/behaviour.md, "The tutorials"), hb warn and overall warn.
#[test]
fn status_with_openha_daemons_down() {
    let w = World::tutorial_with_launchers();
    w.svc(&["start"]).code(0);
    w.sync_stamp("sles2");
    w.sync_stamp("sles1");
    let conf = w.read_conf(SVC) + "\n[hb#0]\ntype = OpenHA\n";
    std::fs::write(w.conf_path(SVC), conf).unwrap();
    w.openha_install();
    w.openha_daemons(NODE, false);
    w.svcmgr(&["-s", SVC, "print", "status"])
        .code(0)
        .stdout_is(&golden("status_hb_daemons_down.stdout.txt"))
        .stderr_is(&golden("status_hb_daemons_down.stderr.txt"));
    for l in ["cluster", "stonith"] {
        let p = w.etc().join(format!("{SVC}.{l}"));
        assert_eq!(
            std::fs::canonicalize(&p).unwrap(),
            std::fs::canonicalize(svcmgr_bin()).unwrap(),
            "{}",
            p.display()
        );
    }
}

/// golden/status_passive_hb.*: on the passive node, which received the config: the
/// links fixed there too, everything down, sync up, hb warn, overall down.
#[test]
fn passive_node_status_with_openha() {
    let mut w = World::tutorial_with_launchers();
    w.node = "sles2".into();
    w.append_conf("\n[hb#0]\ntype = OpenHA\n");
    w.sync_stamp("sles2");
    w.openha_install();
    w.openha_daemons("sles2", false);
    w.svcmgr(&["-s", SVC, "print", "status"])
        .code(0)
        .stdout_is(&golden("status_passive_hb.stdout.txt"))
        .stderr_is(&golden("status_passive_hb.stderr.txt"));
}

/// golden/status_all_up_hb.txt: OpenHA started the service (through the `.cluster`
/// entry point) and reports it started: everything up.
#[test]
fn status_when_openha_runs_the_service() {
    let w = World::tutorial_with_launchers();
    w.append_conf("\n[hb#0]\ntype = OpenHA\n");
    w.openha_install();
    w.openha_daemons(NODE, true);
    w.openha_state(NODE, "2");
    // The links, as the first status made them.
    w.svc(&["print", "status"]).code(0);
    w.run_as(&w.etc().join(format!("{SVC}.cluster")), &["start"])
        .code(0)
        .stderr_is(&golden("start_launchers.txt"));
    w.sync_stamp("sles2");
    w.sync_stamp("sles1");
    w.svc(&["print", "status"])
        .code(0)
        .stdout_is(&golden("status_all_up_hb.txt"))
        .stderr_is("");
}
