//! Tier 2: start/stop and the partial actions of the real binary against
//! the fake tools, asserting the exact log lines and the exact sequence of
//! tool calls: the log name width, `sync#i0`, start and stop orders and
//! their messages per driver, optional and disabled resources, rollback,
//! the OpenHA resource and the clusterware guard, `@node` scoping and the
//! status comments of ip, fs and app (docs/behaviour.md, "Action pipeline"
//! and "Drivers").

use crate::common::*;
use std::path::PathBuf;

const INFO_IP: &str = "HH:MM:SS INFO    P26.OPENSVC.COM.IP#0    ";
const INFO_VG: &str = "HH:MM:SS INFO    P26.OPENSVC.COM.VG#0    ";
const INFO_SVC: &str = "HH:MM:SS INFO    P26.OPENSVC.COM         ";
const ERROR_SVC: &str = "HH:MM:SS ERROR   P26.OPENSVC.COM         ";

const ARPING_OUT: &str = "\
ARPING 0.0.0.0 from 37.59.71.26 eth0
Sent 1 probes (1 broadcast(s))
Received 0 response(s)
";

// ---- ip --------------------------------------------------------------------

/// startip checks the address (no conflict), plumbs it on
/// the first free alias with the parent's mask, announces it; stopip
/// unplumbs it and checks once that it is gone.
#[test]
fn startip_then_stopip() {
    let w = World::tutorial();
    let r = w.svc(&["startip"]);
    r.code(0).stdout_is("").stderr_is(&format!(
        "{INFO_IP}checking 37.59.71.26 availability\n\
         {INFO_IP}ifconfig eth0:1 37.59.71.26 netmask 255.255.255.224 up\n\
         {INFO_IP}arping -U -c 1 -I eth0 -s 37.59.71.26 0.0.0.0\n{ARPING_OUT}"
    ));
    r.calls_are(&[
        "ip addr",
        "arping -D -c 2 -w 2 -I eth0 37.59.71.26",
        "ping -c 1 -W 0.15 37.59.71.26",
        "ip addr",
        "ifconfig eth0:1 37.59.71.26 netmask 255.255.255.224 up",
        "ip addr",
        "arping -U -c 1 -I eth0 -s 37.59.71.26 0.0.0.0",
    ]);
    assert!(
        w.addrs().contains("eth0 eth0:1 37.59.71.26/27"),
        "{}",
        w.addrs()
    );

    let r = w.svc(&["stopip"]);
    r.code(0).stdout_is("").stderr_is(&format!(
        "{INFO_IP}ifconfig eth0:1 down\n{INFO_IP}checking 37.59.71.26 availability\n"
    ));
    r.calls_are(&[
        "ip addr",
        "ifconfig eth0:1 down",
        "arping -D -c 2 -w 2 -I eth0 37.59.71.26",
        "ping -c 1 -W 0.15 37.59.71.26",
    ]);
    assert!(!w.plumbed(ADDR));
}

/// eth0:1 is taken by another address, so eth0:2 is used.
#[test]
fn startip_takes_the_first_free_alias() {
    let w = World::tutorial();
    w.plumb("eth0", "eth0:1", "37.59.71.27/27");
    let r = w.svc(&["startip"]);
    r.code(0).stderr_has(&format!(
        "{INFO_IP}ifconfig eth0:2 37.59.71.26 netmask 255.255.255.224 up\n"
    ));
    r.actions_are(&[
        "arping -D -c 2 -w 2 -I eth0 37.59.71.26",
        "ping -c 1 -W 0.15 37.59.71.26",
        "ifconfig eth0:2 37.59.71.26 netmask 255.255.255.224 up",
        "arping -U -c 1 -I eth0 -s 37.59.71.26 0.0.0.0",
    ]);
}

/// Already plumbed / already gone.
#[test]
fn ip_start_and_stop_are_idempotent() {
    let w = World::tutorial();
    w.plumb("eth0", "eth0:1", "37.59.71.26/27");
    let r = w.svc(&["startip"]);
    r.code(0)
        .stderr_is(&format!("{INFO_IP}37.59.71.26 is already up on eth0\n"))
        .calls_are(&["ip addr"]);
    w.svc(&["stopip"]).code(0);
    let r = w.svc(&["stopip"]);
    r.code(0)
        .stderr_is(&format!("{INFO_IP}37.59.71.26 is already down on eth0\n"))
        .calls_are(&["ip addr"]);
}

/// The base interface is down: nothing is plumbed.
#[test]
fn start_refuses_to_stack_over_a_down_interface() {
    let w = World::tutorial();
    w.set_link("eth0", false);
    let r = w.svc(&["start"]);
    r.code(1).stdout_is("").stderr_is(&format!(
        "{INFO_IP}checking 37.59.71.26 availability\n\
         HH:MM:SS ERROR   P26.OPENSVC.COM.IP#0    Interface eth0 is not up. Cannot stack over it.\n\
         {ERROR_SVC}'start' action stopped on execution error\n\
         {INFO_SVC}skip rollback start: no resource activated\n"
    ));
    r.calls_are(&[
        "ip addr",
        "arping -D -c 2 -w 2 -I eth0 37.59.71.26",
        "ping -c 1 -W 0.15 37.59.71.26",
        "ip addr",
    ]);
}

/// `startip` alone: the conflict is detected by the driver itself.
#[test]
fn startip_refuses_an_address_alive_elsewhere() {
    let w = World::tutorial();
    w.remote_ip(ADDR);
    let r = w.svc(&["startip"]);
    r.code(1).stderr_is(&format!(
        "{INFO_IP}checking 37.59.71.26 availability\n\
         HH:MM:SS ERROR   P26.OPENSVC.COM.IP#0    37.59.71.26 is already up on another host\n\
         {ERROR_SVC}'startip' action stopped on execution error\n\
         {INFO_SVC}skip rollback startip: no resource activated\n"
    ));
    r.actions_are(&[
        "arping -D -c 2 -w 2 -I eth0 37.59.71.26",
        "ping -c 1 -W 0.15 37.59.71.26",
    ]);
    assert!(!w.plumbed(ADDR));
}

/// An unresolvable name is a warn in the status and an error
/// at start (nothing is pinged: no name, no address).
#[test]
fn unresolvable_ipname() {
    let w = World::tutorial();
    w.tutorial_conf_with("ipname = p26.opensvc.com  ", "ipname = nosuch.invalid   ");
    let r = w.svc(&["json", "status"]);
    let v = r.json();
    assert_eq!(v["resources"]["ip#0"]["status"], "warn", "{}", r.report());
    assert_eq!(
        v["resources"]["ip#0"]["log"],
        "# could not resolve nosuch.invalid to an ip address\n"
    );
    w.svc(&["print", "status"]).code(0).stdout_has(
        "|  |- ip#0           .... warn     nosuch.invalid@eth0\n\
         |  |                               # could not resolve nosuch.invalid to an ip\n\
         |  |                               address\n",
    );
    let r = w.svc(&["start"]);
    r.code(1).stderr_is(&format!(
        "HH:MM:SS ERROR   P26.OPENSVC.COM.IP#0    could not resolve nosuch.invalid to an ip address\n\
         {ERROR_SVC}'start' action stopped on execution error\n\
         {INFO_SVC}skip rollback start: no resource activated\n"
    ));
    r.no_calls();
}

/// `ipname@<node>` wins over `ipname` on that node, and
/// `ipname@nodes` applies by membership.
#[test]
fn scoped_ipname() {
    let w = World::tutorial();
    w.tutorial_conf_with(
        "ipname = p26.opensvc.com  ",
        "ipname = nosuch.invalid\nipname@sles1 = p26.opensvc.com",
    );
    w.svc(&["print", "status"])
        .code(0)
        .stdout_has("|  |- ip#0           .... down     p26.opensvc.com@eth0\n");
    w.tutorial_conf_with(
        "ipname = p26.opensvc.com  ",
        "ipname = nosuch.invalid\nipname@nodes = p26.opensvc.com",
    );
    w.svc(&["startip"]).code(0);
    assert!(w.plumbed(ADDR));
    w.tutorial_conf_with(
        "ipname = p26.opensvc.com  ",
        "ipname = p26.opensvc.com\nipname@sles2 = nosuch.invalid",
    );
    w.svc(&["print", "status"])
        .code(0)
        .stdout_has("|  |- ip#0           .... up       p26.opensvc.com@eth0\n");
}

/// The name column is len(svc)+8 wide, whatever the name.
#[test]
fn log_name_column_follows_the_service_name_length() {
    let w = World::new();
    w.one_node("svc1", "[ip#0]\nipname = p26.opensvc.com\nipdev = eth0\n");
    let r = w.svcmgr(&["-s", "svc1", "startip"]);
    r.code(0).stderr_is(&format!(
        "HH:MM:SS INFO    SVC1.IP#0    checking 37.59.71.26 availability\n\
         HH:MM:SS INFO    SVC1.IP#0    ifconfig eth0:1 37.59.71.26 netmask 255.255.255.224 up\n\
         HH:MM:SS INFO    SVC1.IP#0    arping -U -c 1 -I eth0 -s 37.59.71.26 0.0.0.0\n{ARPING_OUT}"
    ));
}

// ---- vg --------------------------------------------------------------------

/// startvg on an inactive VG carrying a stale tag
/// drops it, tags the VG for this node, activates it; stopvg untags, runs
/// kpartx per LV, deactivates; both are idempotent.
#[test]
fn startvg_then_stopvg() {
    let w = World::tutorial();
    w.vg("vgsvc1", &["lvappsvc1", "lvdatasvc1"], false, &["sles2"]);
    let r = w.svc(&["startvg"]);
    r.code(0).stdout_is("").stderr_is(&format!(
        "{INFO_VG}vgchange --deltag @sles2 vgsvc1\n\
         {INFO_VG}output:\n  Volume group \"vgsvc1\" successfully changed\n\n\
         {INFO_VG}vgchange --addtag @sles1 vgsvc1\n\
         {INFO_VG}output:\n  Volume group \"vgsvc1\" successfully changed\n\n\
         {INFO_VG}vgchange -a y vgsvc1\n\
         {INFO_VG}output:\n  2 logical volume(s) in volume group \"vgsvc1\" now active\n\n"
    ));
    r.calls_are(&[
        "vgs --noheadings --separator | -o vg_tags,lv_count vgsvc1",
        "lvs --noheadings -o lv_attr vgsvc1",
        "vgchange --deltag @sles2 vgsvc1",
        "vgchange --addtag @sles1 vgsvc1",
        "vgchange -a y vgsvc1",
    ]);
    assert!(w.vg_active("vgsvc1"));
    assert_eq!(w.vg_tags("vgsvc1"), ["sles1"]);

    w.svc(&["startvg"])
        .code(0)
        .stderr_is(&format!("{INFO_VG}vgsvc1 is already up\n"))
        .calls_are(&[
            "vgs --noheadings --separator | -o vg_tags,lv_count vgsvc1",
            "lvs --noheadings -o lv_attr vgsvc1",
        ]);

    let r = w.svc(&["stopvg"]);
    r.code(0).stdout_is("").stderr_is(&format!(
        "{INFO_VG}vgchange --deltag @sles1 vgsvc1\n\
         {INFO_VG}output:\n  Volume group \"vgsvc1\" successfully changed\n\n\
         {INFO_VG}kpartx -d /dev/vgsvc1/lvappsvc1\n\
         {INFO_VG}kpartx -d /dev/vgsvc1/lvdatasvc1\n\
         {INFO_VG}vgchange -a n vgsvc1\n\
         {INFO_VG}output:\n  0 logical volume(s) in volume group \"vgsvc1\" now active\n\n"
    ));
    r.calls_are(&[
        "vgs --noheadings --separator | -o vg_tags,lv_count vgsvc1",
        "lvs --noheadings -o lv_attr vgsvc1",
        "vgchange --deltag @sles1 vgsvc1",
        "lvs -o name --noheadings vgsvc1",
        "kpartx -d /dev/vgsvc1/lvappsvc1",
        "kpartx -d /dev/vgsvc1/lvdatasvc1",
        "vgchange -a n vgsvc1",
        "vgs --noheadings --separator | -o vg_tags,lv_count vgsvc1",
        "lvs --noheadings -o lv_attr vgsvc1",
    ]);
    assert!(!w.vg_active("vgsvc1"));
    assert!(w.vg_tags("vgsvc1").is_empty());

    w.svc(&["stopvg"])
        .code(0)
        .stderr_is(&format!("{INFO_VG}vgsvc1 is already down\n"))
        .calls_are(&[
            "vgs --noheadings --separator | -o vg_tags,lv_count vgsvc1",
            "lvs --noheadings -o lv_attr vgsvc1",
        ]);
}

/// A missing tool: `vgchange` is neither faked nor reachable (the real one
/// is hidden in the run's namespace), so the product reports it with the
/// reference message and the start fails before changing anything.
#[test]
fn missing_tool_is_reported() {
    let w = World::tutorial();
    w.vg("vgsvc1", &["lvappsvc1"], false, &[]);
    w.remove_tool("vgchange");
    let r = w.svc(&["startvg"]);
    r.code(1).stdout_is("").stderr_is(&format!(
        "{INFO_VG}vgchange --addtag @sles1 vgsvc1\n\
         HH:MM:SS ERROR   P26.OPENSVC.COM.VG#0    vgchange does not exist or not in path or is not executable\n\
         {ERROR_SVC}'startvg' action stopped on execution error\n\
         {INFO_SVC}skip rollback startvg: no resource activated\n"
    ));
    r.calls_are(&[
        "vgs --noheadings --separator | -o vg_tags,lv_count vgsvc1",
        "lvs --noheadings -o lv_attr vgsvc1",
    ]);
}

// ---- fs --------------------------------------------------------------------

/// startfs (vg, then fs in mount-point order with
/// fsck), stopfs (fs deepest first, then the vg), each idempotent.
#[test]
fn startfs_then_stopfs() {
    let w = World::tutorial();
    let r = w.svc(&["startfs"]);
    r.code(0).stdout_is("").stderr_is(
        "HH:MM:SS INFO    P26.OPENSVC.COM.VG#0    vgsvc1 is already up
HH:MM:SS INFO    P26.OPENSVC.COM.FS#0    create missing mountpoint /svc1/app
HH:MM:SS INFO    P26.OPENSVC.COM.FS#0    e2fsck -p /dev/mapper/vgsvc1-lvappsvc1
HH:MM:SS INFO    P26.OPENSVC.COM.FS#0    output:
/dev/mapper/vgsvc1-lvappsvc1: clean, 11/3072 files, 1530/12288 blocks

HH:MM:SS INFO    P26.OPENSVC.COM.FS#0    mount -t ext3 /dev/mapper/vgsvc1-lvappsvc1 /svc1/app
HH:MM:SS INFO    P26.OPENSVC.COM.FS#1    create missing mountpoint /svc1/data
HH:MM:SS INFO    P26.OPENSVC.COM.FS#1    e2fsck -p /dev/mapper/vgsvc1-lvdatasvc1
HH:MM:SS INFO    P26.OPENSVC.COM.FS#1    output:
/dev/mapper/vgsvc1-lvdatasvc1: clean, 11/3072 files, 1530/12288 blocks

HH:MM:SS INFO    P26.OPENSVC.COM.FS#1    mount -t ext3 /dev/mapper/vgsvc1-lvdatasvc1 /svc1/data
",
    );
    r.calls_are(&[
        "vgs --noheadings --separator | -o vg_tags,lv_count vgsvc1",
        "lvs --noheadings -o lv_attr vgsvc1",
        "e2fsck -p /dev/mapper/vgsvc1-lvappsvc1",
        "mount -t ext3 /dev/mapper/vgsvc1-lvappsvc1 /svc1/app",
        "e2fsck -p /dev/mapper/vgsvc1-lvdatasvc1",
        "mount -t ext3 /dev/mapper/vgsvc1-lvdatasvc1 /svc1/data",
    ]);
    assert!(w.is_mounted(&w.r("svc1/app")) && w.is_mounted(&w.r("svc1/data")));

    w.svc(&["startfs"])
        .code(0)
        .stderr_is(
            "HH:MM:SS INFO    P26.OPENSVC.COM.VG#0    vgsvc1 is already up
HH:MM:SS INFO    P26.OPENSVC.COM.FS#0    fs(/dev/mapper/vgsvc1-lvappsvc1 /svc1/app) is already mounted
HH:MM:SS INFO    P26.OPENSVC.COM.FS#1    fs(/dev/mapper/vgsvc1-lvdatasvc1 /svc1/data) is already mounted
",
        )
        .actions_are(&[]);

    let r = w.svc(&["stopfs"]);
    r.code(0).stdout_is("").stderr_is(&format!(
        "HH:MM:SS INFO    P26.OPENSVC.COM.FS#1    umount /svc1/data
HH:MM:SS INFO    P26.OPENSVC.COM.FS#0    umount /svc1/app
{INFO_VG}kpartx -d /dev/vgsvc1/lvappsvc1
{INFO_VG}kpartx -d /dev/vgsvc1/lvdatasvc1
{INFO_VG}vgchange -a n vgsvc1
{INFO_VG}output:
  0 logical volume(s) in volume group \"vgsvc1\" now active

"
    ));
    r.calls_are(&[
        "umount /svc1/data",
        "umount /svc1/app",
        "vgs --noheadings --separator | -o vg_tags,lv_count vgsvc1",
        "lvs --noheadings -o lv_attr vgsvc1",
        "lvs -o name --noheadings vgsvc1",
        "kpartx -d /dev/vgsvc1/lvappsvc1",
        "kpartx -d /dev/vgsvc1/lvdatasvc1",
        "vgchange -a n vgsvc1",
        "vgs --noheadings --separator | -o vg_tags,lv_count vgsvc1",
        "lvs --noheadings -o lv_attr vgsvc1",
    ]);
    assert!(!w.is_mounted(&w.r("svc1/app")) && !w.is_mounted(&w.r("svc1/data")));

    w.svc(&["stopfs"])
        .code(0)
        .stderr_is(&format!(
            "HH:MM:SS INFO    P26.OPENSVC.COM.FS#1    fs(/dev/mapper/vgsvc1-lvdatasvc1 /svc1/data) is already umounted
HH:MM:SS INFO    P26.OPENSVC.COM.FS#0    fs(/dev/mapper/vgsvc1-lvappsvc1 /svc1/app) is already umounted
{INFO_VG}vgsvc1 is already down
"
        ))
        .actions_are(&[]);
}

/// docs/behaviour.md, "Build order": fs sort by mount point, whatever the file
/// order: a parent mounts before its child and unmounts after it.
#[test]
fn filesystems_follow_mount_point_order() {
    let w = World::new();
    let d1 = w.device("dev/sdb");
    let d2 = w.device("dev/sdc");
    w.one_node(
        "svc1",
        &format!(
            "[fs#0]\ndev = {d1}\nmnt = {{R}}/svc1/app/data/\n\n[fs#1]\ndev = {d2}\nmnt = {{R}}/svc1/app\n"
        ),
    );
    let r = w.svcmgr(&["-s", "svc1", "startfs"]);
    r.code(0)
        .actions_are(&["mount /dev/sdc /svc1/app", "mount /dev/sdb /svc1/app/data"]);
    // No type: no fsck and no -t (docs/behaviour.md, "fs").
    r.stderr_lacks("e2fsck");
    let r = w.svcmgr(&["-s", "svc1", "stopfs"]);
    r.code(0)
        .actions_are(&["umount /svc1/app/data", "umount /svc1/app"]);
}

/// e2fsck rc 1 (errors fixed) is accepted, rc 4 stops the
/// start before the mount.
#[test]
fn e2fsck_return_codes() {
    let w = World::tutorial();
    let app = w.r("dev/mapper/vgsvc1-lvappsvc1");
    w.e2fsck_out(
        &app,
        "{R}/dev/mapper/vgsvc1-lvappsvc1: UNEXPECTED INCONSISTENCY; RUN fsck MANUALLY.\n",
        4,
    );
    let r = w.svc(&["startfs"]);
    r.code(1).stderr_is(
        "HH:MM:SS INFO    P26.OPENSVC.COM.VG#0    vgsvc1 is already up
HH:MM:SS INFO    P26.OPENSVC.COM.FS#0    create missing mountpoint /svc1/app
HH:MM:SS INFO    P26.OPENSVC.COM.FS#0    e2fsck -p /dev/mapper/vgsvc1-lvappsvc1
HH:MM:SS ERROR   P26.OPENSVC.COM.FS#0    command failed with stdout:
/dev/mapper/vgsvc1-lvappsvc1: UNEXPECTED INCONSISTENCY; RUN fsck MANUALLY.

HH:MM:SS ERROR   P26.OPENSVC.COM         'startfs' action stopped on execution error: e2fsck -p /dev/mapper/vgsvc1-lvappsvc1 exited with 4
HH:MM:SS INFO    P26.OPENSVC.COM         skip rollback startfs: no resource activated
",
    );
    r.actions_are(&["e2fsck -p /dev/mapper/vgsvc1-lvappsvc1"]);
    w.e2fsck_out(&app, "{R}/dev/mapper/vgsvc1-lvappsvc1: 1 error fixed\n", 1);
    let r = w.svc(&["startfs"]);
    r.code(0).actions_are(&[
        "e2fsck -p /dev/mapper/vgsvc1-lvappsvc1",
        "mount -t ext3 /dev/mapper/vgsvc1-lvappsvc1 /svc1/app",
        "e2fsck -p /dev/mapper/vgsvc1-lvdatasvc1",
        "mount -t ext3 /dev/mapper/vgsvc1-lvdatasvc1 /svc1/data",
    ]);
}

/// docs/behaviour.md, "fs": without e2fsck the check is bypassed with a warning.
#[test]
fn missing_e2fsck_is_bypassed() {
    let w = World::tutorial();
    w.remove_tool("e2fsck");
    let r = w.svc(&["startfs"]);
    r.code(0)
        .stderr_has("HH:MM:SS WARNING P26.OPENSVC.COM.FS#0    ext3 not found. bypass.\nHH:MM:SS INFO    P26.OPENSVC.COM.FS#0    mount -t ext3 /dev/mapper/vgsvc1-lvappsvc1 /svc1/app\n");
    r.actions_are(&[
        "mount -t ext3 /dev/mapper/vgsvc1-lvappsvc1 /svc1/app",
        "mount -t ext3 /dev/mapper/vgsvc1-lvdatasvc1 /svc1/data",
    ]);
}

/// docs/behaviour.md, "fs": a busy fs gets 3 rounds of umount, sync, and
/// 4 x (fuser -kmv, umount), then `failed to umount`; the stop stops there.
#[test]
fn busy_filesystem_fails_the_stop() {
    let w = World::tutorial();
    w.svc(&["startfs"]).code(0);
    w.umount_busy(&w.r("svc1/data"));
    let r = w.svc(&["stop"]);
    r.code(1).stderr_has(
        "HH:MM:SS ERROR   P26.OPENSVC.COM.FS#1    failed to umount /svc1/data\n\
         HH:MM:SS ERROR   P26.OPENSVC.COM         'stop' action stopped on execution error\n",
    );
    let round = [
        "umount /svc1/data",
        "sync",
        "fuser -kmv /svc1/data",
        "umount /svc1/data",
        "fuser -kmv /svc1/data",
        "umount /svc1/data",
        "fuser -kmv /svc1/data",
        "umount /svc1/data",
        "fuser -kmv /svc1/data",
        "umount /svc1/data",
    ];
    let want: Vec<&str> = round.iter().chain(&round).chain(&round).copied().collect();
    r.actions_are(&want);
    assert!(w.is_mounted(&w.r("svc1/app")) && w.vg_active("vgsvc1"));
}

/// A mounted fs where `<mnt>/.opensvc` cannot be written
/// (here a directory stands in its way: root writes anywhere) is warn.
#[test]
fn unwritable_filesystem_is_warn() {
    let w = World::tutorial();
    w.svc(&["startfs"]).code(0);
    std::fs::create_dir_all(w.root.join("svc1/app/.opensvc")).unwrap();
    w.svc(&["print", "status"]).code(0).stdout_has(
        "|  |- fs#0           .... warn     /dev/mapper/vgsvc1-lvappsvc1@/svc1/app\n\
         |  |                               # fs is not writable\n\
         |  |- fs#1           .... up       /dev/mapper/vgsvc1-lvdatasvc1@/svc1/data\n",
    );
    // The probe leaves its file on the writable one.
    assert!(w.root.join("svc1/data/.opensvc").is_file());
}

// ---- app -------------------------------------------------------------------

/// A one-node service whose launchers append their name and argument to
/// `order`; `R/etc/app1.d -> app1.dir`.
fn launcher_world(launchers: &[(&str, i32)]) -> (World, PathBuf, PathBuf) {
    let w = World::new();
    w.one_node("app1", "");
    let dir = w.etc().join("app1.dir");
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink("app1.dir", w.etc().join("app1.d")).unwrap();
    let order = w.dir.path().join("order");
    for (name, rc) in launchers {
        w.launcher(
            &dir,
            name,
            &format!(
                "#!/bin/sh\necho \"{name} $1\" >> {}\necho \"out of {name} $1\"\necho \"err of {name}\" >&2\nexit {rc}\n",
                order.display()
            ),
        );
    }
    (w, dir, order)
}

fn read(p: &std::path::Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

/// S* run in lexicographic order of their path (S2 after
/// S10), a non-zero launcher rc is logged, not fatal; their output goes to
/// `<tmp>/svc_<svc>_<name>.log` only, truncated each run. K* run in
/// ascending order too.
#[test]
fn launchers_order_rc_and_logs() {
    let (w, _dir, order) = launcher_world(&[
        ("S10a", 0),
        ("S2b", 3),
        ("S20c", 0),
        ("K10a", 0),
        ("K2b", 0),
        ("C10a", 0),
    ]);
    let app = "HH:MM:SS INFO    APP1.APP     ";
    let r = w.svcmgr(&["-s", "app1", "startapp"]);
    r.code(0).stdout_is("").stderr_is(&format!(
        "{app}spawn: /etc/opensvc/app1.d/S10a start
{app}start done in D - ret 0 - logs in /var/tmp/opensvc/svc_app1_S10a.log
{app}spawn: /etc/opensvc/app1.d/S20c start
{app}start done in D - ret 0 - logs in /var/tmp/opensvc/svc_app1_S20c.log
{app}spawn: /etc/opensvc/app1.d/S2b start
{app}start done in D - ret 3 - logs in /var/tmp/opensvc/svc_app1_S2b.log
"
    ));
    r.no_calls();
    assert_eq!(read(&order), "S10a start\nS20c start\nS2b start\n");
    let log = w.root.join("tmp/svc_app1_S2b.log");
    assert_eq!(read(&log), "out of S2b start\nerr of S2b\n");
    w.svcmgr(&["-s", "app1", "startapp"]).code(0);
    assert_eq!(
        read(&log),
        "out of S2b start\nerr of S2b\n",
        "not truncated"
    );

    std::fs::remove_file(&order).unwrap();
    let r = w.svcmgr(&["-s", "app1", "stopapp"]);
    r.code(0).stderr_is(&format!(
        "{app}spawn: /etc/opensvc/app1.d/K10a stop
{app}stop done in D - ret 0 - logs in /var/tmp/opensvc/svc_app1_K10a.log
{app}spawn: /etc/opensvc/app1.d/K2b stop
{app}stop done in D - ret 0 - logs in /var/tmp/opensvc/svc_app1_K2b.log
"
    ));
    assert_eq!(read(&order), "K10a stop\nK2b stop\n");
}

/// App status from the C* scripts of a one-node
/// service: none n/a `no checkup scripts`; all rc 0 up; one of two failing
/// warn `<path> returned errors`; all failing down.
#[test]
fn app_status_from_check_scripts() {
    let (w, dir, _order) = launcher_world(&[]);
    let status = |w: &World| {
        let r = w.svcmgr(&["-s", "app1", "json", "status"]);
        r.code(0);
        let v = r.json();
        (
            v["resources"]["app"]["status"]
                .as_str()
                .unwrap()
                .to_string(),
            w.norm(one_log(&v["resources"]["app"]["log"])),
        )
    };
    assert_eq!(status(&w), ("n/a".into(), "no checkup scripts".into()));
    w.launcher(
        &dir,
        "C10ok",
        "#!/bin/sh\n[ \"$1\" = status ] || exit 9\nexit 0\n",
    );
    w.launcher(&dir, "C20ok", "#!/bin/sh\nexit 0\n");
    assert_eq!(status(&w), ("up".into(), String::new()));
    w.svcmgr(&["-s", "app1", "print", "status"])
        .code(0)
        .stdout_is(
            "app1
overall                   up
|- avail                  up
|  '- app            .... up       app
|- sync                   n/a
'- hb                     n/a
",
        );
    w.launcher(&dir, "C20ok", "#!/bin/sh\nexit 2\n");
    assert_eq!(
        status(&w),
        (
            "warn".into(),
            "/etc/opensvc/app1.d/C20ok returned errors".into()
        )
    );
    w.svcmgr(&["-s", "app1", "print", "status"])
        .code(0)
        .stdout_has("|  '- app            .... warn     app\n");
    w.launcher(&dir, "C10ok", "#!/bin/sh\nexit 1\n");
    assert_eq!(status(&w), ("down".into(), String::new()));
}

/// On a multi-node service whose ip/fs are not all up, the
/// C scripts are not run and app is n/a without comment.
#[test]
fn app_status_waits_for_the_base_resources() {
    let w = World::tutorial_with_launchers();
    let marker = w.dir.path().join("checked");
    w.launcher(
        &w.root.join("svc1/app/init.d"),
        "C20mark",
        &format!("#!/bin/sh\ntouch {}\n", marker.display()),
    );
    w.svc(&["print", "status"])
        .code(0)
        .stdout_has("|  '- app            .... n/a      app\n|- sync");
    assert!(!marker.exists(), "a C script ran although the fs were down");
}

/// Security deviation: a launcher writable by group or others is refused,
/// no launcher runs, the start fails and what it had started is rolled back.
#[test]
fn group_writable_launcher_is_refused() {
    let w = World::tutorial_with_launchers();
    let target = w.root.join("svc1/app/init.d/weblauncher");
    std::fs::set_permissions(&target, std::os::unix::fs::PermissionsExt::from_mode(0o775)).unwrap();
    let r = w.svc(&["start"]);
    r.code(1).stdout_is("").stderr_has(
        "HH:MM:SS ERROR   P26.OPENSVC.COM.APP     /etc/opensvc/p26.opensvc.com.d/S10weblauncher is writable by group or others: refusing to run it (fix with: chmod go-w /svc1/app/init.d/weblauncher)
HH:MM:SS ERROR   P26.OPENSVC.COM         'start' action stopped on execution error: unsafe launchers in /etc/opensvc/p26.opensvc.com.d
HH:MM:SS INFO    P26.OPENSVC.COM         trying to rollback start on fs#1, fs#0, vg#0, ip#0
",
    );
    assert!(!w.dir.path().join("webserver.pid").exists());
    assert!(!w.plumbed(ADDR) && !w.vg_active("vgsvc1"));
    assert!(!w.is_mounted(&w.r("svc1/app")));
}

/// startapp/stopapp on the tutorial's weblauncher: the "daemon" starts and
/// stops, and the status follows.
#[test]
fn startapp_then_stopapp() {
    let w = World::tutorial_with_launchers();
    w.svc(&["startfs"]).code(0);
    w.svc(&["startip"]).code(0);
    let pidfile = w.dir.path().join("webserver.pid");
    let r = w.svc(&["startapp"]);
    r.code(0).stderr_is(
        "HH:MM:SS INFO    P26.OPENSVC.COM.APP     spawn: /etc/opensvc/p26.opensvc.com.d/S10weblauncher start
HH:MM:SS INFO    P26.OPENSVC.COM.APP     start done in D - ret 0 - logs in /var/tmp/opensvc/svc_p26.opensvc.com_S10weblauncher.log
",
    );
    r.no_calls();
    assert!(pidfile.exists());
    w.svc(&["print", "status"])
        .code(0)
        .stdout_has("|  '- app            .... up       app\n");
    let r = w.svc(&["stopapp"]);
    r.code(0).stderr_is(
        "HH:MM:SS INFO    P26.OPENSVC.COM.APP     spawn: /etc/opensvc/p26.opensvc.com.d/K90weblauncher stop
HH:MM:SS INFO    P26.OPENSVC.COM.APP     stop done in D - ret 0 - logs in /var/tmp/opensvc/svc_p26.opensvc.com_K90weblauncher.log
",
    );
    assert!(!pidfile.exists());
    w.svc(&["print", "status"])
        .code(0)
        .stdout_has("|  '- app            .... down     app\n");
}

// ---- whole service -----------------------------------------------------------

/// A second start finds everything up and changes
/// nothing.
#[test]
fn start_is_idempotent() {
    let w = World::tutorial();
    w.svc(&["start"]).code(0);
    let r = w.svc(&["start"]);
    r.code(0).stdout_is("").stderr_is(
        "HH:MM:SS INFO    P26.OPENSVC.COM.IP#0    37.59.71.26 is already up on eth0
HH:MM:SS INFO    P26.OPENSVC.COM.VG#0    vgsvc1 is already up
HH:MM:SS INFO    P26.OPENSVC.COM.FS#0    fs(/dev/mapper/vgsvc1-lvappsvc1 /svc1/app) is already mounted
HH:MM:SS INFO    P26.OPENSVC.COM.FS#1    fs(/dev/mapper/vgsvc1-lvdatasvc1 /svc1/data) is already mounted
",
    );
    r.calls_are(&[
        "ip addr",
        "ip addr",
        "vgs --noheadings --separator | -o vg_tags,lv_count vgsvc1",
        "lvs --noheadings -o lv_attr vgsvc1",
    ]);
}

/// Stopping a stopped service is a success that changes
/// nothing.
#[test]
fn stop_is_idempotent() {
    let w = World::tutorial();
    w.vg("vgsvc1", &["lvappsvc1", "lvdatasvc1"], false, &[]);
    let r = w.svc(&["stop"]);
    r.code(0).stdout_is("").stderr_is(
        "HH:MM:SS INFO    P26.OPENSVC.COM.FS#1    fs(/dev/mapper/vgsvc1-lvdatasvc1 /svc1/data) is already umounted
HH:MM:SS INFO    P26.OPENSVC.COM.FS#0    fs(/dev/mapper/vgsvc1-lvappsvc1 /svc1/app) is already umounted
HH:MM:SS INFO    P26.OPENSVC.COM.VG#0    vgsvc1 is already down
HH:MM:SS INFO    P26.OPENSVC.COM.IP#0    37.59.71.26 is already down on eth0
",
    );
    r.calls_are(&[
        "vgs --noheadings --separator | -o vg_tags,lv_count vgsvc1",
        "lvs --noheadings -o lv_attr vgsvc1",
        "ip addr",
    ]);
}

/// `restart` = stop then start.
#[test]
fn restart_stops_then_starts() {
    let w = World::tutorial_with_launchers();
    w.svc(&["start"]).code(0);
    let r = w.svc(&["restart"]);
    r.code(0);
    let want = golden("stop.txt") + &golden("start_launchers.txt");
    r.stderr_is(&want);
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
        "arping -D -c 2 -w 2 -I eth0 37.59.71.26",
        "ping -c 1 -W 0.15 37.59.71.26",
        "ifconfig eth0:1 37.59.71.26 netmask 255.255.255.224 up",
        "arping -U -c 1 -I eth0 -s 37.59.71.26 0.0.0.0",
        "vgchange --addtag @sles1 vgsvc1",
        "vgchange -a y vgsvc1",
        "e2fsck -p /dev/mapper/vgsvc1-lvappsvc1",
        "mount -t ext3 /dev/mapper/vgsvc1-lvappsvc1 /svc1/app",
        "e2fsck -p /dev/mapper/vgsvc1-lvdatasvc1",
        "mount -t ext3 /dev/mapper/vgsvc1-lvdatasvc1 /svc1/data",
    ]);
    assert!(w.dir.path().join("webserver.pid").exists());
}

const FAILED_MOUNT: &str = "mount: /svc1/data: wrong fs type, bad option, bad superblock\n";

/// The start of the tutorial (vg inactive) up to a failing fs#1 mount.
fn start_until_fs1_fails(rollback: &str) -> String {
    format!(
        "{INFO_IP}checking 37.59.71.26 availability
{INFO_IP}ifconfig eth0:1 37.59.71.26 netmask 255.255.255.224 up
{INFO_IP}arping -U -c 1 -I eth0 -s 37.59.71.26 0.0.0.0
{ARPING_OUT}{INFO_VG}vgchange --addtag @sles1 vgsvc1
{INFO_VG}output:
  Volume group \"vgsvc1\" successfully changed

{INFO_VG}vgchange -a y vgsvc1
{INFO_VG}output:
  2 logical volume(s) in volume group \"vgsvc1\" now active

HH:MM:SS INFO    P26.OPENSVC.COM.FS#0    create missing mountpoint /svc1/app
HH:MM:SS INFO    P26.OPENSVC.COM.FS#0    e2fsck -p /dev/mapper/vgsvc1-lvappsvc1
HH:MM:SS INFO    P26.OPENSVC.COM.FS#0    output:
/dev/mapper/vgsvc1-lvappsvc1: clean, 11/3072 files, 1530/12288 blocks

HH:MM:SS INFO    P26.OPENSVC.COM.FS#0    mount -t ext3 /dev/mapper/vgsvc1-lvappsvc1 /svc1/app
HH:MM:SS INFO    P26.OPENSVC.COM.FS#1    create missing mountpoint /svc1/data
HH:MM:SS INFO    P26.OPENSVC.COM.FS#1    e2fsck -p /dev/mapper/vgsvc1-lvdatasvc1
HH:MM:SS INFO    P26.OPENSVC.COM.FS#1    output:
/dev/mapper/vgsvc1-lvdatasvc1: clean, 11/3072 files, 1530/12288 blocks

HH:MM:SS INFO    P26.OPENSVC.COM.FS#1    mount -t ext3 /dev/mapper/vgsvc1-lvdatasvc1 /svc1/data
HH:MM:SS ERROR   P26.OPENSVC.COM.FS#1    stderr:
{FAILED_MOUNT}
{ERROR_SVC}'start' action stopped on execution error: mount -t ext3 /dev/mapper/vgsvc1-lvdatasvc1 /svc1/data exited with 32
{rollback}"
    )
}

const START_ACTIONS_TO_FS1: &[&str] = &[
    "arping -D -c 2 -w 2 -I eth0 37.59.71.26",
    "ping -c 1 -W 0.15 37.59.71.26",
    "ifconfig eth0:1 37.59.71.26 netmask 255.255.255.224 up",
    "arping -U -c 1 -I eth0 -s 37.59.71.26 0.0.0.0",
    "vgchange --addtag @sles1 vgsvc1",
    "vgchange -a y vgsvc1",
    "e2fsck -p /dev/mapper/vgsvc1-lvappsvc1",
    "mount -t ext3 /dev/mapper/vgsvc1-lvappsvc1 /svc1/app",
    "e2fsck -p /dev/mapper/vgsvc1-lvdatasvc1",
    "mount -t ext3 /dev/mapper/vgsvc1-lvdatasvc1 /svc1/data",
];

/// fs#1 fails to mount after ip#0, vg#0 and fs#0 came up:
/// exactly those are stopped again, in stop order.
#[test]
fn failed_start_rolls_back_what_it_activated() {
    let w = World::tutorial();
    w.vg("vgsvc1", &["lvappsvc1", "lvdatasvc1"], false, &[]);
    w.fail_tool("mount", 32, FAILED_MOUNT, Some("lvdatasvc1"));
    let r = w.svc(&["start"]);
    r.code(1)
        .stdout_is("")
        .stderr_is(&start_until_fs1_fails(&format!(
            "{INFO_SVC}trying to rollback start on fs#0, vg#0, ip#0
HH:MM:SS INFO    P26.OPENSVC.COM.FS#0    umount /svc1/app
{INFO_VG}vgchange --deltag @sles1 vgsvc1
{INFO_VG}output:
  Volume group \"vgsvc1\" successfully changed

{INFO_VG}kpartx -d /dev/vgsvc1/lvappsvc1
{INFO_VG}kpartx -d /dev/vgsvc1/lvdatasvc1
{INFO_VG}vgchange -a n vgsvc1
{INFO_VG}output:
  0 logical volume(s) in volume group \"vgsvc1\" now active

{INFO_IP}ifconfig eth0:1 down
{INFO_IP}checking 37.59.71.26 availability
"
        )));
    let mut want = START_ACTIONS_TO_FS1.to_vec();
    want.extend([
        "umount /svc1/app",
        "vgchange --deltag @sles1 vgsvc1",
        "kpartx -d /dev/vgsvc1/lvappsvc1",
        "kpartx -d /dev/vgsvc1/lvdatasvc1",
        "vgchange -a n vgsvc1",
        "ifconfig eth0:1 down",
        "arping -D -c 2 -w 2 -I eth0 37.59.71.26",
        "ping -c 1 -W 0.15 37.59.71.26",
    ]);
    r.actions_are(&want);
    assert!(!w.plumbed(ADDR) && !w.vg_active("vgsvc1") && !w.is_mounted(&w.r("svc1/app")));
    assert!(w.vg_tags("vgsvc1").is_empty());
}

/// A vg already up is not "activated" (deliberate deviation): the rollback
/// leaves it active.
#[test]
fn rollback_leaves_a_preexisting_vg_alone() {
    let w = World::tutorial();
    w.fail_tool("mount", 32, FAILED_MOUNT, Some("lvdatasvc1"));
    let r = w.svc(&["start"]);
    r.code(1).stderr_has(&format!(
        "{INFO_SVC}trying to rollback start on fs#0, ip#0\n"
    ));
    assert!(w.vg_active("vgsvc1") && !w.plumbed(ADDR));
}

/// `--disable-rollback`: a failed start leaves up what it started
/// (docs/behaviour.md, "Failures and rollback").
#[test]
fn disable_rollback_leaves_everything_up() {
    let w = World::tutorial();
    w.vg("vgsvc1", &["lvappsvc1", "lvdatasvc1"], false, &[]);
    w.fail_tool("mount", 32, FAILED_MOUNT, Some("lvdatasvc1"));
    let r = w.svc(&["start", "--disable-rollback"]);
    r.code(1)
        .stdout_is("")
        .stderr_is(&start_until_fs1_fails(&format!(
            "{INFO_SVC}skip rollback start: as instructed by --disable-rollback\n"
        )));
    r.actions_are(START_ACTIONS_TO_FS1);
    assert!(w.plumbed(ADDR) && w.vg_active("vgsvc1") && w.is_mounted(&w.r("svc1/app")));
}

/// An optional resource's failure is logged, and the start
/// goes on and succeeds; its row shows the `O` flag.
#[test]
fn optional_resource_failure_does_not_stop_the_start() {
    let w = World::tutorial_with_launchers();
    w.tutorial_conf_with(
        "mnt = {R}/svc1/data\noptional = False",
        "mnt = {R}/svc1/data\noptional = true",
    );
    w.fail_tool("mount", 32, FAILED_MOUNT, Some("lvdatasvc1"));
    let r = w.svc(&["start"]);
    r.code(0).stderr_has(&format!(
        "HH:MM:SS ERROR   P26.OPENSVC.COM.FS#1    stderr:\n{FAILED_MOUNT}\n\
         HH:MM:SS INFO    P26.OPENSVC.COM.APP     spawn: /etc/opensvc/p26.opensvc.com.d/S10weblauncher start\n"
    ));
    r.stderr_lacks("action stopped");
    assert!(w.dir.path().join("webserver.pid").exists());
    w.svc(&["print", "status"]).code(0).stdout_has(
        "|  |- fs#1           ..O. down     /dev/mapper/vgsvc1-lvdatasvc1@/svc1/data\n",
    );
}

/// `disable --rid ip#0` writes the flag; the row shows `.D..`,
/// `n/a`, `# disabled`; start and stop leave it alone (no conflict ping
/// either); `enable --rid` restores it.
#[test]
fn disabled_resource_is_left_alone() {
    let w = World::tutorial();
    w.svc(&["disable", "--rid", "ip#0"])
        .code(0)
        .stdout_is("")
        .stderr_is("");
    assert!(w.read_conf(SVC).contains("[ip#0]"), "{}", w.read_conf(SVC));
    w.svc(&["print", "status"]).code(0).stdout_is(
        "send /etc/opensvc/p26.opensvc.com.env to collector ... OK
update /var/lib/opensvc/p26.opensvc.com.push timestamp ... OK
p26.opensvc.com
overall                   warn
|- avail                  warn
|  |- vg#0           .... up       vgsvc1
|  |- fs#0           .... down     /dev/mapper/vgsvc1-lvappsvc1@/svc1/app
|  |- fs#1           .... down     /dev/mapper/vgsvc1-lvdatasvc1@/svc1/data
|  |- ip#0           .D.. n/a      p26.opensvc.com@eth0
|  |                               # disabled
|  '- app            .... n/a      app
|- sync                   warn
|  '- sync#i0        .... warn     rsync svc config to drpnodes, nodes
|                                  # passive node needs update
'- hb                     n/a
",
    );
    let r = w.svc(&["start"]);
    r.code(0).stderr_lacks("IP#0");
    r.actions_are(&[
        "e2fsck -p /dev/mapper/vgsvc1-lvappsvc1",
        "mount -t ext3 /dev/mapper/vgsvc1-lvappsvc1 /svc1/app",
        "e2fsck -p /dev/mapper/vgsvc1-lvdatasvc1",
        "mount -t ext3 /dev/mapper/vgsvc1-lvdatasvc1 /svc1/data",
    ]);
    let r = w.svc(&["stop"]);
    r.code(0).stderr_lacks("IP#0");
    assert!(
        r.calls
            .iter()
            .all(|c| !c.starts_with("ip ") && !c.starts_with("ifconfig"))
    );
    w.svc(&["enable", "--rid", "ip#0"]).code(0).stderr_is("");
    w.svc(&["startip"]).code(0);
    assert!(w.plumbed(ADDR));
}

const DEFAULT_LINE: &str =
    "[DEFAULT]                                       # Global section for service description\n";

/// `[DEFAULT] disable = true` disables every resource, the
/// implicit ones included: nothing runs.
#[test]
fn default_disable_disables_everything() {
    let w = World::tutorial_with_launchers();
    // Without the tutorial's explicit `disable = False` lines.
    let conf: String = TUTORIAL_CONF
        .replace(DEFAULT_LINE, "[DEFAULT]\ndisable = true\n")
        .lines()
        .filter(|l| !l.starts_with("disable = False"))
        .map(|l| format!("{l}\n"))
        .collect();
    w.write_conf(SVC, &conf);
    w.mark_pushed(SVC);
    w.svc(&["print", "status"]).code(0).stdout_is(
        "p26.opensvc.com
overall                   n/a
|- avail                  n/a
|  |- vg#0           .D.. n/a      vgsvc1
|  |                               # disabled
|  |- fs#0           .D.. n/a      /dev/mapper/vgsvc1-lvappsvc1@/svc1/app
|  |                               # disabled
|  |- fs#1           .D.. n/a      /dev/mapper/vgsvc1-lvdatasvc1@/svc1/data
|  |                               # disabled
|  |- ip#0           .D.. n/a      p26.opensvc.com@eth0
|  |                               # disabled
|  '- app            .D.. n/a      app
|                                  # disabled
|- sync                   n/a
|  '- sync#i0        .D.. n/a      rsync svc config to drpnodes, nodes
|                                  # disabled
'- hb                     n/a
",
    );
    w.svc(&["start"])
        .code(0)
        .stdout_is("")
        .stderr_is("")
        .no_calls();
    assert!(!w.dir.path().join("webserver.pid").exists());
    w.svc(&["stop"]).code(0).stderr_is("").no_calls();
}

/// docs/behaviour.md, "Parser": a section's own `disable = False` wins over
/// DEFAULT's (the
/// tutorial file has one in ip#0, fs#0 and fs#1).
#[test]
fn section_disable_overrides_default() {
    let w = World::tutorial();
    w.tutorial_conf_with(DEFAULT_LINE, "[DEFAULT]\ndisable = true\n");
    w.svc(&["print", "status"]).code(0).stdout_is(
        "p26.opensvc.com
overall                   down
|- avail                  down
|  |- vg#0           .D.. n/a      vgsvc1
|  |                               # disabled
|  |- fs#0           .... down     /dev/mapper/vgsvc1-lvappsvc1@/svc1/app
|  |- fs#1           .... down     /dev/mapper/vgsvc1-lvdatasvc1@/svc1/data
|  |- ip#0           .... down     p26.opensvc.com@eth0
|  '- app            .D.. n/a      app
|                                  # disabled
|- sync                   n/a
|  '- sync#i0        .D.. n/a      rsync svc config to drpnodes, nodes
|                                  # disabled
'- hb                     n/a
",
    );
    let r = w.svc(&["start"]);
    r.code(0).stderr_lacks("VG#0");
    r.actions_are(&[
        "arping -D -c 2 -w 2 -I eth0 37.59.71.26",
        "ping -c 1 -W 0.15 37.59.71.26",
        "ifconfig eth0:1 37.59.71.26 netmask 255.255.255.224 up",
        "arping -U -c 1 -I eth0 -s 37.59.71.26 0.0.0.0",
        "e2fsck -p /dev/mapper/vgsvc1-lvappsvc1",
        "mount -t ext3 /dev/mapper/vgsvc1-lvappsvc1 /svc1/app",
        "e2fsck -p /dev/mapper/vgsvc1-lvdatasvc1",
        "mount -t ext3 /dev/mapper/vgsvc1-lvdatasvc1 /svc1/data",
    ]);
}

/// `--rid` and `--tags` narrow start/stop to some resources; the conflict
/// check still covers every ip (docs/behaviour.md, "Start order").
#[test]
fn rid_and_tags_select_resources() {
    let w = World::tutorial();
    w.vg("vgsvc1", &["lvappsvc1", "lvdatasvc1"], false, &[]);
    w.tutorial_conf_with("vgname=vgsvc1 ", "tags = storage\nvgname=vgsvc1");
    let r = w.svc(&["start", "--rid", "fs#1,vg#0"]);
    r.code(0);
    r.actions_are(&[
        "arping -D -c 2 -w 2 -I eth0 37.59.71.26",
        "ping -c 1 -W 0.15 37.59.71.26",
        "vgchange --addtag @sles1 vgsvc1",
        "vgchange -a y vgsvc1",
        "e2fsck -p /dev/mapper/vgsvc1-lvdatasvc1",
        "mount -t ext3 /dev/mapper/vgsvc1-lvdatasvc1 /svc1/data",
    ]);
    let r = w.svc(&["stop", "--rid", "fs#1"]);
    r.code(0).actions_are(&["umount /svc1/data"]);
    let r = w.svc(&["stop", "--tags", "storage"]);
    r.code(0).actions_are(&[
        "vgchange --deltag @sles1 vgsvc1",
        "kpartx -d /dev/vgsvc1/lvappsvc1",
        "kpartx -d /dev/vgsvc1/lvdatasvc1",
        "vgchange -a n vgsvc1",
    ]);
    // An unknown tag or rid is refused: it would select nothing (issue 10,
    // item 15); bad_input.rs checks that nothing is written.
    w.svc(&["start", "--tags", "nosuch"])
        .code(2)
        .stderr_is("/etc/opensvc/p26.opensvc.com.env: no resource tagged nosuch (tags: storage)\n")
        .no_calls();
}

/// A one-node service has no sync#i0 and sync n/a.
#[test]
fn one_node_service_has_no_internal_sync() {
    let w = World::new();
    w.one_node("svc1", "[vg#0]\nvgname = vgsvc1\n");
    w.vg("vgsvc1", &["lv1"], true, &[]);
    w.svcmgr(&["-s", "svc1", "print", "status"])
        .code(0)
        .stdout_is(
            "svc1
overall                   up
|- avail                  up
|  |- vg#0           .... up       vgsvc1
|  '- app            .... n/a      app
|- sync                   n/a
'- hb                     n/a
",
        );
}

// ---- hb / clusterware --------------------------------------------------------

fn with_openha() -> World {
    let w = World::tutorial();
    w.append_conf("\n[hb#0]\ntype = OpenHA\n");
    w
}

/// A resource's single message out of its json `log` (`# text\n`, as 1.5
/// wrote it; empty when there is none).
fn one_log(log: &serde_json::Value) -> &str {
    let text = log.as_str().unwrap();
    text.strip_prefix("# ")
        .and_then(|t| t.strip_suffix('\n'))
        .unwrap_or(text)
}

fn hb_rows(w: &World) -> (String, String) {
    let r = w.svc(&["json", "status"]);
    r.code(0);
    let v = r.json();
    (
        v["resources"]["hb#0"]["status"]
            .as_str()
            .unwrap()
            .to_string(),
        one_log(&v["resources"]["hb#0"]["log"]).to_string(),
    )
}

/// The hb status from OpenHA's installation, daemons and
/// STATE file; the `.cluster`/`.stonith` links are made once.
#[test]
fn openha_heartbeat_status() {
    let w = with_openha();
    let r = w.svc(&["print", "status"]);
    r.code(0)
        .stdout_has(
            "'- hb                     warn
   '- hb#0           .... warn     hb.openha
                                   # open-ha is not installed
",
        )
        .stderr_is(
            "HH:MM:SS INFO    P26.OPENSVC.COM.HB#0    /etc/opensvc/p26.opensvc.com.cluster: not regular file nor symlink. fix.
HH:MM:SS INFO    P26.OPENSVC.COM.HB#0    /etc/opensvc/p26.opensvc.com.stonith: not regular file nor symlink. fix.
",
        );
    // Fixed once: the next status is quiet.
    w.svc(&["print", "status"]).code(0).stderr_is("");
    w.openha_install();
    w.openha_daemons(NODE, false);
    assert_eq!(
        hb_rows(&w),
        ("warn".into(), "open-ha daemons are not running".into())
    );
    w.openha_daemons(NODE, true);
    assert_eq!(
        hb_rows(&w),
        (
            "warn".into(),
            "unable to determine cluster service state".into()
        )
    );
    w.openha_state(NODE, "2");
    assert_eq!(hb_rows(&w), ("up".into(), String::new()));
    w.openha_state(NODE, "0");
    assert_eq!(hb_rows(&w), ("down".into(), String::new()));
    w.openha_state(NODE, "6");
    assert_eq!(
        hb_rows(&w),
        (
            "warn".into(),
            "cluster service status is frozen_stop".into()
        )
    );
    // A wrong link is replaced.
    let cluster = w.etc().join(format!("{SVC}.cluster"));
    std::fs::remove_file(&cluster).unwrap();
    std::fs::write(&cluster, "").unwrap();
    w.svc(&["print", "status"]).code(0).stderr_is(
        "HH:MM:SS INFO    P26.OPENSVC.COM.HB#0    /etc/opensvc/p26.opensvc.com.cluster: regular file. fix.\n",
    );
    assert!(
        std::fs::symlink_metadata(&cluster)
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

/// An hb resource blocks direct start/stop (nothing runs);
/// `--cluster` and the `<svc>.cluster` entry point bypass it; status is
/// never blocked; a disabled hb blocks nothing.
#[test]
fn clusterware_guard() {
    let w = with_openha();
    let guard = format!(
        "{INFO_SVC}this service is managed by a clusterware, thus direct service manipulation is disabled. the --cluster option circumvent this safety net.\n"
    );
    for action in [
        &["start"][..],
        &["stop"],
        &["startip"],
        &["stopvg"],
        &["restart"],
    ] {
        w.svc(action)
            .code(1)
            .stdout_is("")
            .stderr_is(&guard)
            .no_calls();
    }
    w.svc(&["print", "status"]).code(0);
    w.svc(&["status"]).code(2);
    let r = w.svc(&["startip", "--cluster"]);
    r.code(0).stderr_lacks("clusterware");
    assert!(w.plumbed(ADDR));
    let cluster = w.etc().join(format!("{SVC}.cluster"));
    assert!(cluster.exists(), "print status should have made the link");
    let r = w.run_as(&cluster, &["stopip"]);
    r.code(0).stderr_lacks("clusterware");
    assert!(!w.plumbed(ADDR));
    w.svc(&["disable", "--rid", "hb#0"]).code(0);
    w.svc(&["startip"]).code(0).stderr_lacks("clusterware");
}

/// avail up and hb warn make overall warn (docs/behaviour.md, "Aggregation";
/// the tree when hb is up too is golden/status_all_up_hb.txt, in
/// tests/integration/tier3/tutorial.rs).
#[test]
fn hb_warn_makes_overall_warn() {
    let w = with_openha();
    w.run_as(&w.etc().join(SVC), &["start", "--cluster"])
        .code(0);
    w.sync_stamp("sles2");
    let r = w.svc(&["json", "status"]);
    let v = r.json();
    assert_eq!(v["avail"], "up", "{}", r.report());
    assert_eq!(v["hb"], "warn");
    assert_eq!(v["overall"], "warn");
}

// ---- signals ---------------------------------------------------------------

/// docs/behaviour.md, "Other behaviours": SIGTERM during an action ends the
/// running launcher and stops the action with `interrupted by signal`, exit 1;
/// later launchers do not run.
#[test]
fn sigterm_interrupts_the_action() {
    let (w, dir, order) = launcher_world(&[("S20after", 0)]);
    let slow_pid = w.dir.path().join("slow.pid");
    w.track_pidfile(slow_pid.clone());
    w.launcher(
        &dir,
        "S10slow",
        &format!(
            "#!/bin/sh\necho $$ > {}\nexec sleep 30\n",
            slow_pid.display()
        ),
    );
    let running = w.spawn_env(&w.cmds.join("svcmgr"), &["-s", "app1", "startapp"], &[]);
    let started = (0..1000).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(10));
        read(&slow_pid).trim().parse::<i32>().is_ok()
    });
    assert!(started, "the slow launcher never started");
    running.signal(nix::sys::signal::Signal::SIGTERM);
    let r = running.finish();
    r.stderr_has(
        "HH:MM:SS INFO    APP1.APP     spawn: /etc/opensvc/app1.d/S10slow start
HH:MM:SS ERROR   APP1.APP     start interrupted after D - ret 1 - logs in /var/tmp/opensvc/svc_app1_S10slow.log
",
    );
    r.stderr_has("HH:MM:SS ERROR   APP1         interrupted by signal\n");
    r.code(1).stdout_is("");
    assert!(
        r.elapsed < std::time::Duration::from_secs(10),
        "{}",
        r.report()
    );
    assert_eq!(
        read(&order),
        "",
        "S20after ran after the interruption\n{}",
        r.report()
    );
    let pid: i32 = read(&slow_pid).trim().parse().unwrap();
    let alive = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok();
    assert!(
        !alive,
        "the interrupted launcher (pid {pid}) is still running"
    );
}

// ---- ordering, environment, triggers ------------------------------------------

/// docs/behaviour.md, "Build order" and "Start order": every ip is checked
/// before any is plumbed; ip and vg keep file order both to start and to stop;
/// the tree shows them in file order within their kind, vg first.
#[test]
fn ip_and_vg_keep_file_order_both_ways() {
    let w = World::new();
    w.one_node(
        "svc1",
        "[ip#1]\nipname = 37.59.71.27\nipdev = eth0\n\n[ip#0]\nipname = p26.opensvc.com\nipdev = eth0\n\n[vg#1]\nvgname = vgb\n\n[vg#0]\nvgname = vga\n",
    );
    w.vg("vga", &["lv"], false, &[]);
    w.vg("vgb", &["lv"], false, &[]);
    let r = w.svcmgr(&["-s", "svc1", "start"]);
    r.code(0).actions_are(&[
        "arping -D -c 2 -w 2 -I eth0 37.59.71.27",
        "ping -c 1 -W 0.15 37.59.71.27",
        "arping -D -c 2 -w 2 -I eth0 37.59.71.26",
        "ping -c 1 -W 0.15 37.59.71.26",
        "ifconfig eth0:1 37.59.71.27 netmask 255.255.255.224 up",
        "arping -U -c 1 -I eth0 -s 37.59.71.27 0.0.0.0",
        "ifconfig eth0:2 37.59.71.26 netmask 255.255.255.224 up",
        "arping -U -c 1 -I eth0 -s 37.59.71.26 0.0.0.0",
        "vgchange --addtag @sles1 vgb",
        "vgchange -a y vgb",
        "vgchange --addtag @sles1 vga",
        "vgchange -a y vga",
    ]);
    // No launcher directory: logged, not fatal (docs/behaviour.md, "What
    // makes a service").
    r.stderr_has("HH:MM:SS ERROR   SVC1.APP     /etc/opensvc/svc1.d is not present\n");
    w.svcmgr(&["-s", "svc1", "print", "status"])
        .code(0)
        .stdout_is(
            "svc1
overall                   up
|- avail                  up
|  |- vg#1           .... up       vgb
|  |- vg#0           .... up       vga
|  |- ip#1           .... up       37.59.71.27@eth0
|  |- ip#0           .... up       p26.opensvc.com@eth0
|  '- app            .... n/a      app
|- sync                   n/a
'- hb                     n/a
",
        );
    let r = w.svcmgr(&["-s", "svc1", "stop"]);
    r.code(0).actions_are(&[
        "vgchange --deltag @sles1 vgb",
        "kpartx -d /dev/vgb/lv",
        "vgchange -a n vgb",
        "vgchange --deltag @sles1 vga",
        "kpartx -d /dev/vga/lv",
        "vgchange -a n vga",
        "ifconfig eth0:1 down",
        "arping -D -c 2 -w 2 -I eth0 37.59.71.27",
        "ping -c 1 -W 0.15 37.59.71.27",
        "ifconfig eth0:2 down",
        "arping -D -c 2 -w 2 -I eth0 37.59.71.26",
        "ping -c 1 -W 0.15 37.59.71.26",
    ]);
    r.stderr_has("HH:MM:SS INFO    SVC1.APP     /etc/opensvc/svc1.d is not present, perhaps already stopped\n");
}

/// docs/behaviour.md, "Running commands": launchers get OPENSVC_SVCNAME and the
/// ip variables (`OPENSVC_MASK` empty without a netmask: deliberate deviation).
#[test]
fn launchers_get_the_service_environment() {
    let w = World::tutorial_with_launchers();
    let envf = w.dir.path().join("env.txt");
    w.launcher(
        &w.root.join("svc1/app/init.d"),
        "S20env",
        &format!(
            "#!/bin/sh\nenv | grep ^OPENSVC_ | sort > {}\n",
            envf.display()
        ),
    );
    w.svc(&["start"]).code(0);
    assert_eq!(
        read(&envf),
        "OPENSVC_IP0=p26.opensvc.com eth0 37.59.71.26 unknown
OPENSVC_IPADDR=37.59.71.26
OPENSVC_IPDEV=eth0
OPENSVC_IPNAME=p26.opensvc.com
OPENSVC_MASK=
OPENSVC_SVCNAME=p26.opensvc.com
"
    );
}

/// docs/behaviour.md, "Keys of every resource": pre_/post_ triggers run around
/// the resource's action, logged like any command; their return code is
/// ignored.
#[test]
fn triggers_run_around_the_action() {
    let w = World::tutorial();
    w.vg("vgsvc1", &["lvappsvc1"], false, &[]);
    let log = w.dir.path().join("trig.log");
    let trig = w.launcher(
        w.dir.path(),
        "trig",
        &format!("#!/bin/sh\necho \"trig $*\" >> {}\nexit 5\n", log.display()),
    );
    let t = trig.display();
    w.tutorial_conf_with(
        "vgname=vgsvc1 ",
        &format!("pre_start = {t} pre start\npost_start = {t} post start\npre_stop = {t} pre stop\nvgname=vgsvc1 "),
    );
    let r = w.svc(&["startvg"]);
    r.code(0).stderr_is(&format!(
        "{INFO_VG}{t} pre start
{INFO_VG}vgchange --addtag @sles1 vgsvc1
{INFO_VG}output:
  Volume group \"vgsvc1\" successfully changed

{INFO_VG}vgchange -a y vgsvc1
{INFO_VG}output:
  1 logical volume(s) in volume group \"vgsvc1\" now active

{INFO_VG}{t} post start
"
    ));
    w.svc(&["stopvg"]).code(0);
    assert_eq!(
        read(&log),
        "trig pre start\ntrig post start\ntrig pre stop\n"
    );
}

/// The address still answers after it was unplumbed (another
/// host took it): 15 probes one second apart, then `refuse to go down`.
/// The slowest test of the suite (about 14 s, the product's own pacing).
#[test]
fn ip_that_keeps_answering_refuses_to_go_down() {
    let w = World::tutorial();
    w.plumb("eth0", "eth0:1", "37.59.71.26/27");
    w.remote_ip(ADDR);
    let r = w.svc(&["stopip"]);
    let checks = format!("{INFO_IP}checking 37.59.71.26 availability\n").repeat(15);
    r.code(1).stdout_is("").stderr_is(&format!(
        "{INFO_IP}ifconfig eth0:1 down\n{checks}\
         HH:MM:SS ERROR   P26.OPENSVC.COM.IP#0    37.59.71.26 refuse to go down\n\
         {ERROR_SVC}'stopip' action stopped on execution error\n"
    ));
    let mut want = vec!["ip addr", "ifconfig eth0:1 down"];
    for _ in 0..15 {
        want.extend([
            "arping -D -c 2 -w 2 -I eth0 37.59.71.26",
            "ping -c 1 -W 0.15 37.59.71.26",
        ]);
    }
    r.calls_are(&want);
}

/// The flags column, `M` monitor, `D` disabled, `O` optional.
#[test]
fn resource_flags() {
    let w = World::new();
    w.one_node(
        "svc1",
        "[vg#0]\nvgname = vg1\nmonitor = true\noptional = true\n\n[vg#1]\nvgname = vg2\n\n[vg#2]\nvgname = vg3\ndisable = true\nmonitor = yes\noptional = on\n",
    );
    for vg in ["vg1", "vg2", "vg3"] {
        w.vg(vg, &["lv"], true, &[]);
    }
    w.svcmgr(&["-s", "svc1", "print", "status"])
        .code(0)
        .stdout_is(
            "svc1
overall                   up
|- avail                  up
|  |- vg#0           M.O. up       vg1
|  |- vg#1           .... up       vg2
|  |- vg#2           MDO. n/a      vg3
|  |                               # disabled
|  '- app            .... n/a      app
|- sync                   n/a
'- hb                     n/a
",
        );
    let v = w.svcmgr(&["-s", "svc1", "json", "status"]).json();
    assert_eq!(v["resources"]["vg#0"]["monitor"], true);
    assert_eq!(v["resources"]["vg#0"]["optional"], true);
    assert_eq!(v["resources"]["vg#2"]["disable"], true);
}

/// docs/behaviour.md, "Standby resources and triggers": stop skips a resource
/// whose `always_on` names this node, unless --force.
#[test]
fn always_on_resource_survives_stop() {
    let w = World::new();
    w.one_node(
        "svc1",
        "[vg#0]\nvgname = vg1\n\n[vg#1]\nvgname = vg2\nalways_on = sles1\n",
    );
    w.vg("vg1", &["lv"], true, &[]);
    w.vg("vg2", &["lv"], true, &[]);
    let r = w.svcmgr(&["-s", "svc1", "stop"]);
    r.code(0).stderr_has(
        "HH:MM:SS INFO    SVC1.VG#1    skip 'stop' on standby resource (--force to override)\n",
    );
    r.actions_are(&["kpartx -d /dev/vg1/lv", "vgchange -a n vg1"]);
    assert!(w.vg_active("vg2"));
    let r = w.svcmgr(&["-s", "svc1", "stop", "--force"]);
    r.code(0)
        .actions_are(&["kpartx -d /dev/vg2/lv", "vgchange -a n vg2"]);
}

/// docs/behaviour.md, "Keys of every resource" and "vg": on a node in
/// `always_on` the status is `stdby up` / `stdby down`.
#[test]
fn always_on_resource_reports_standby_status() {
    let w = World::new();
    w.one_node("svc1", "[vg#0]\nvgname = vg2\nalways_on = sles1\n");
    w.vg("vg2", &["lv"], true, &[]);
    let r = w.svcmgr(&["-s", "svc1", "json", "status"]);
    assert_eq!(
        r.json()["resources"]["vg#0"]["status"],
        "stdby up",
        "{}",
        r.report()
    );
    w.svcmgr(&["-s", "svc1", "print", "status"])
        .code(0)
        .stdout_has("|  |- vg#0           .... stdby up vg2\n");
    w.vg("vg2", &["lv"], false, &[]);
    let r = w.svcmgr(&["-s", "svc1", "json", "status"]);
    assert_eq!(
        r.json()["resources"]["vg#0"]["status"],
        "stdby down",
        "{}",
        r.report()
    );
}

/// docs/behaviour.md, "fs": a missing device fails the fs start (and what started is
/// rolled back).
#[test]
fn missing_device_fails_the_start() {
    let w = World::tutorial();
    std::fs::remove_file(w.root.join("dev/mapper/vgsvc1-lvdatasvc1")).unwrap();
    let r = w.svc(&["startfs"]);
    r.code(1).stderr_has(
        "HH:MM:SS ERROR   P26.OPENSVC.COM.FS#1    device does not exist /dev/mapper/vgsvc1-lvdatasvc1
HH:MM:SS ERROR   P26.OPENSVC.COM         'startfs' action stopped on execution error
HH:MM:SS INFO    P26.OPENSVC.COM         trying to rollback startfs on fs#0
HH:MM:SS INFO    P26.OPENSVC.COM.FS#0    umount /svc1/app
",
    );
    r.actions_are(&[
        "e2fsck -p /dev/mapper/vgsvc1-lvappsvc1",
        "mount -t ext3 /dev/mapper/vgsvc1-lvappsvc1 /svc1/app",
        "umount /svc1/app",
    ]);
}

/// Security deviation: a launcher owned by another user than root is
/// refused too (1.5 chowned it to root and ran it).
#[test]
fn foreign_owned_launcher_is_refused() {
    let (w, dir, order) = launcher_world(&[("S10a", 0), ("S20b", 0)]);
    std::os::unix::fs::chown(dir.join("S20b"), Some(1000), Some(1000)).unwrap();
    let r = w.svcmgr(&["-s", "app1", "startapp"]);
    r.code(1).stdout_is("").stderr_is(
        "HH:MM:SS ERROR   APP1.APP     /etc/opensvc/app1.d/S20b is owned by uid 1000: refusing to run it (launchers must be owned by root)
HH:MM:SS ERROR   APP1         'startapp' action stopped on execution error: unsafe launchers in /etc/opensvc/app1.d
HH:MM:SS INFO    APP1         skip rollback startapp: no resource activated
",
    );
    assert_eq!(read(&order), "", "a launcher ran although one was refused");
}

/// `mnt_opt` becomes `-o`.
/// Issue 10, item 23: a mount point with a space. `mount` output split it
/// in two fields, so the fs always read down (and a stop never unmounted
/// it); the kernel's mountinfo escapes it.
#[test]
fn a_mount_point_with_a_space_is_seen_mounted() {
    let w = World::tutorial();
    w.tutorial_conf_with("mnt = {R}/svc1/data\n", "mnt = {R}/svc1/my data\n");
    w.svc(&["startfs"]).code(0).actions_are(&[
        "e2fsck -p /dev/mapper/vgsvc1-lvappsvc1",
        "mount -t ext3 /dev/mapper/vgsvc1-lvappsvc1 /svc1/app",
        "e2fsck -p /dev/mapper/vgsvc1-lvdatasvc1",
        "mount -t ext3 /dev/mapper/vgsvc1-lvdatasvc1 /svc1/my data",
    ]);
    assert!(w.is_mounted(&w.r("svc1/my\\040data")), "{}", w.mounts());
    let st = w.svc(&["print", "status", "--format", "json"]).json();
    assert_eq!(st["resources"]["fs#1"]["status"], "up", "{st:#}");
    w.svc(&["startfs"])
        .code(0)
        .stderr_has("fs(/dev/mapper/vgsvc1-lvdatasvc1 /svc1/my data) is already mounted")
        .actions_are(&[]);
    w.svc(&["stopfs"]).code(0).actions_are(&[
        "umount /svc1/my data",
        "umount /svc1/app",
        "kpartx -d /dev/vgsvc1/lvappsvc1",
        "kpartx -d /dev/vgsvc1/lvdatasvc1",
        "vgchange -a n vgsvc1",
    ]);
    assert!(!w.is_mounted(&w.r("svc1/my\\040data")), "{}", w.mounts());
}

#[test]
fn mount_options_are_passed() {
    let w = World::tutorial();
    w.tutorial_conf_with(
        "mnt = {R}/svc1/data\n",
        "mnt = {R}/svc1/data\nmnt_opt = noatime,nodev\n",
    );
    let r = w.svc(&["startfs"]);
    r.code(0).stderr_has(
        "HH:MM:SS INFO    P26.OPENSVC.COM.FS#1    mount -t ext3 -o noatime,nodev /dev/mapper/vgsvc1-lvdatasvc1 /svc1/data\n",
    );
    r.actions_are(&[
        "e2fsck -p /dev/mapper/vgsvc1-lvappsvc1",
        "mount -t ext3 /dev/mapper/vgsvc1-lvappsvc1 /svc1/app",
        "e2fsck -p /dev/mapper/vgsvc1-lvdatasvc1",
        "mount -t ext3 -o noatime,nodev /dev/mapper/vgsvc1-lvdatasvc1 /svc1/data",
    ]);
}
