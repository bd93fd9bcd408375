//! Tier 3: the status trees and log blocks of the first tutorial
//! (seed000, "Query service status" up to "Service Failover", plus the ip
//! conflict of L827-830 and the clusterware refusal of L1085-1086),
//! reproduced by the real binary from equivalent fake states.
//!
//! The golden texts in tests/golden are copied verbatim from the seed (the
//! file name says what; tests/golden/README.md gives the line numbers).
//! Outputs are compared after path normalisation (World::norm), masking of
//! the log times and launcher durations, and right-trimming.

mod common;
use common::*;

const START_IP: &[&str] = &[
    "ping -c 1 -W 5 -w 5 37.59.71.26",
    "ifconfig eth0:1 37.59.71.26 netmask 255.255.255.224 up",
    "arping -U -c 1 -I eth0 -s 37.59.71.26 0.0.0.0",
];

/// seed000 L338-350: vg active, nothing else up, nobody synced yet.
#[test]
fn first_print_status() {
    let w = World::tutorial();
    w.svc(&["print", "status"])
        .code(0)
        .stdout_is(&golden("status_initial.txt"))
        .stderr_is("");
}

/// seed000 L365-384 (vg already active, mount points missing), then the
/// tree of L411-424.
#[test]
fn first_start_then_status() {
    let w = World::tutorial();
    let r = w.svc(&["start"]);
    r.code(0).stdout_is("").stderr_is(&golden("start_first.txt"));
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
/// inactive vg (L581-607), status with the app up (L613-625), stop
/// (L638-654), status after the stop (L665-677), start again (L681-707).
#[test]
fn launcher_start_status_stop_status_start() {
    let w = World::tutorial_with_launchers();
    let pidfile = w.dir.path().join("webserver.pid");

    let r = w.svc(&["start"]);
    r.code(0).stdout_is("").stderr_is(&golden("start_launchers.txt"));
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
    assert!(pidfile.exists(), "S10weblauncher did not run\n{}", r.report());
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
        "ping -c 1 -W 1 -w 1 37.59.71.26",
    ]);
    assert!(!pidfile.exists(), "K90weblauncher did not run\n{}", r.report());
    assert!(!w.vg_active("vgsvc1") && !w.plumbed(ADDR));

    w.svc(&["print", "status"])
        .code(0)
        .stdout_is(&golden("status_stopped.txt"))
        .stderr_is("");

    let r = w.svc(&["start"]);
    r.code(0).stdout_is("").stderr_is(&golden("start_again.txt"));
    r.actions_are(&want);
}

/// seed000 L827-830: the address answers from another node. Only the
/// conflict check runs; nothing is touched.
#[test]
fn start_refused_on_ip_conflict() {
    let w = World::tutorial_with_launchers();
    w.remote_ip(ADDR);
    let r = w.svc(&["start"]);
    r.code(1).stdout_is("").stderr_is(&golden("conflict.txt"));
    r.actions_are(&["ping -c 1 -W 5 -w 5 37.59.71.26"]);
    assert!(!w.plumbed(ADDR) && !w.vg_active("vgsvc1"));
    assert!(!w.dir.path().join("webserver.pid").exists());
}

/// seed000 L1085-1086: with an OpenHA heartbeat, direct stop is refused
/// before anything runs.
#[test]
fn stop_refused_under_clusterware() {
    let w = World::tutorial_with_launchers();
    let conf = w.read_conf(SVC) + "\n[hb#0]\ntype = OpenHA\n";
    std::fs::write(w.conf_path(SVC), conf).unwrap();
    w.mark_pushed(SVC);
    let r = w.svc(&["stop"]);
    r.code(1).stdout_is("").stderr_is(&golden("clusterware.txt"));
    r.no_calls();
}
