//! The disk.vg driver's tests: a fake runner answers the LVM tools.

use super::super::testing::{ctx_s1, svc_s1};
use super::*;
use crate::exec::{FakeRunner, Output};
use crate::log::capture;

const ATTR: &[&str] = &["lvs", "--noheadings", "-o", "lv_attr", "vgsvc1"];
const STATE: &[&str] = &[
    "vgs",
    "--noheadings",
    "--separator",
    "|",
    "-o",
    "vg_tags,lv_count",
    "vgsvc1",
];
const STATE_CALL: &str = "vgs --noheadings --separator | -o vg_tags,lv_count vgsvc1";
const ATTR_CALL: &str = "lvs --noheadings -o lv_attr vgsvc1";
const ACTIVE: &str = "  -wi-a-----\n  -wi-a-----\n";
const INACTIVE: &str = "  -wi-------\n  -wi-------\n";

fn svc() -> SvcInfo {
    svc_s1(std::path::Path::new("/nonexistent"))
}

fn ctx<'a>(runner: &'a FakeRunner, svc: &'a SvcInfo) -> Ctx<'a> {
    ctx_s1(runner, svc, "vg#0")
}

fn vg() -> Vg {
    Vg::new(VgConf {
        vgname: "vgsvc1".into(),
    })
}

fn out(stdout: &str) -> Output {
    Output {
        rc: 0,
        stdout: stdout.into(),
        stderr: String::new(),
    }
}

const CHANGED: &str = "  Volume group \"vgsvc1\" successfully changed\n";

#[test]
fn parsers() {
    assert_eq!(parse_tags("  sles1,old-node"), ["sles1", "old-node"]);
    assert_eq!(parse_tags("  "), Vec::<String>::new());
    assert_eq!(any_lv_active(ACTIVE), Some(true));
    assert_eq!(any_lv_active("  -wi-------\n  -wi-a-----\n"), Some(true));
    assert_eq!(any_lv_active(INACTIVE), Some(false));
    assert_eq!(any_lv_active("\n"), None);
}

#[test]
fn start_matches_the_seed() {
    let (s, r) = (svc(), FakeRunner::new());
    r.on(STATE, 0, "  |2\n", "");
    r.on(ATTR, 0, INACTIVE, "");
    r.on(&["vgchange", "--addtag"], 0, CHANGED, "");
    r.on(
        &["vgchange", "-a", "y"],
        0,
        "  2 logical volume(s) in volume group \"vgsvc1\" now active\n",
        "",
    );
    let (res, lines) = capture(|| vg().start(&ctx(&r, &s)));
    assert_eq!(res, Ok(Started::Activated));
    assert_eq!(
        r.calls(),
        [
            STATE_CALL,
            ATTR_CALL,
            "vgchange --addtag @sles1 vgsvc1",
            "vgchange -a y vgsvc1",
        ]
    );
    assert_eq!(
        lines,
        [
            "INFO S1.VG#0 vgchange --addtag @sles1 vgsvc1",
            "INFO S1.VG#0 output:\n  Volume group \"vgsvc1\" successfully changed\n",
            "INFO S1.VG#0 vgchange -a y vgsvc1",
            "INFO S1.VG#0 output:\n  2 logical volume(s) in volume group \"vgsvc1\" now active\n",
        ]
    );
}

#[test]
fn start_removes_stale_tags_first() {
    let (s, r) = (svc(), FakeRunner::new());
    r.on(STATE, 0, "  sles1,sles2|2\n", "");
    r.on(ATTR, 0, INACTIVE, "");
    let (res, _) = capture(|| vg().start(&ctx(&r, &s)));
    assert_eq!(res, Ok(Started::Activated));
    assert_eq!(
        r.calls()[2..],
        [
            "vgchange --deltag @sles2 vgsvc1",
            "vgchange --addtag @sles1 vgsvc1",
            "vgchange -a y vgsvc1",
        ]
    );
}

#[test]
fn start_of_an_active_vg_is_already_up() {
    let (s, r) = (svc(), FakeRunner::new());
    r.on(STATE, 0, "  |2\n", "");
    r.on(ATTR, 0, ACTIVE, "");
    let (res, lines) = capture(|| vg().start(&ctx(&r, &s)));
    assert_eq!(res, Ok(Started::AlreadyUp));
    assert_eq!(r.calls(), [STATE_CALL, ATTR_CALL]);
    assert_eq!(lines, ["INFO S1.VG#0 vgsvc1 is already up"]);
}

#[test]
fn start_fails_on_any_vgchange_error() {
    for failing in ["--deltag", "--addtag", "-a"] {
        let (s, r) = (svc(), FakeRunner::new());
        r.on(STATE, 0, "  sles2|2\n", "");
        r.on(ATTR, 0, INACTIVE, "");
        r.on(&["vgchange", failing], 5, "", "  boom\n");
        let (res, lines) = capture(|| vg().start(&ctx(&r, &s)));
        assert_eq!(res, Err(Failed::silent()), "{failing}");
        assert_eq!(lines.last().unwrap(), "ERROR S1.VG#0 stderr:\n  boom\n");
        assert!(
            r.calls()
                .last()
                .unwrap()
                .starts_with(&format!("vgchange {failing}"))
        );
    }
}

#[test]
fn a_vg_without_lvs_is_active_only_when_tagged_here_and_needs_one_command() {
    let (s, r) = (svc(), FakeRunner::new());
    r.on_seq(STATE, vec![out("  sles1|0\n"), out("  sles2|0\n")]);
    assert_eq!(
        vg().status(&ctx(&r, &s), &Deps::NONE),
        Probe::new(Status::Up)
    );
    assert_eq!(
        vg().status(&ctx(&r, &s), &Deps::NONE),
        Probe::new(Status::Down)
    );
    assert_eq!(r.calls(), [STATE_CALL, STATE_CALL]);
}

#[test]
fn a_missing_vg_is_down() {
    let (s, r) = (svc(), FakeRunner::new());
    r.on(STATE, 5, "", "  Volume group \"vgsvc1\" not found\n");
    assert_eq!(
        vg().status(&ctx(&r, &s), &Deps::NONE),
        Probe::new(Status::Down)
    );
    assert_eq!(r.calls(), [STATE_CALL]);
}

#[test]
fn stop_matches_the_seed() {
    let (s, r) = (svc(), FakeRunner::new());
    r.on_seq(STATE, vec![out("  sles1|2\n"), out("  |2\n")]);
    r.on_seq(ATTR, vec![out(ACTIVE), out(INACTIVE)]);
    r.on(&["vgchange", "--deltag"], 0, CHANGED, "");
    r.on(&["lvs", "-o", "name"], 0, "  lvappsvc1\n  lvdatasvc1\n", "");
    r.on(
        &["vgchange", "-a", "n"],
        0,
        "  0 logical volume(s) in volume group \"vgsvc1\" now active\n",
        "",
    );
    let (res, lines) = capture(|| vg().stop(&ctx(&r, &s)));
    assert_eq!(res, Ok(()));
    assert_eq!(
        r.calls(),
        [
            STATE_CALL,
            ATTR_CALL,
            "vgchange --deltag @sles1 vgsvc1",
            "lvs -o name --noheadings vgsvc1",
            "kpartx -d /dev/vgsvc1/lvappsvc1",
            "kpartx -d /dev/vgsvc1/lvdatasvc1",
            "vgchange -a n vgsvc1",
            STATE_CALL,
            ATTR_CALL,
        ]
    );
    assert_eq!(
        lines,
        [
            "INFO S1.VG#0 vgchange --deltag @sles1 vgsvc1",
            "INFO S1.VG#0 output:\n  Volume group \"vgsvc1\" successfully changed\n",
            "INFO S1.VG#0 kpartx -d /dev/vgsvc1/lvappsvc1",
            "INFO S1.VG#0 kpartx -d /dev/vgsvc1/lvdatasvc1",
            "INFO S1.VG#0 vgchange -a n vgsvc1",
            "INFO S1.VG#0 output:\n  0 logical volume(s) in volume group \"vgsvc1\" now active\n",
        ]
    );
}

#[test]
fn stop_without_our_tag_or_kpartx_only_deactivates() {
    let (s, r) = (svc(), FakeRunner::new());
    r.on(STATE, 0, "  |2\n", "");
    r.on_seq(ATTR, vec![out(ACTIVE), out(INACTIVE)]);
    r.missing("kpartx");
    let (res, _) = capture(|| vg().stop(&ctx(&r, &s)));
    assert_eq!(res, Ok(()));
    assert_eq!(
        r.calls(),
        [
            STATE_CALL,
            ATTR_CALL,
            "vgchange -a n vgsvc1",
            STATE_CALL,
            ATTR_CALL
        ]
    );
}

#[test]
fn stop_of_an_inactive_vg_is_already_down() {
    let (s, r) = (svc(), FakeRunner::new());
    r.on(STATE, 0, "  |2\n", "");
    r.on(ATTR, 0, INACTIVE, "");
    let (res, lines) = capture(|| vg().stop(&ctx(&r, &s)));
    assert_eq!(res, Ok(()));
    assert_eq!(r.calls(), [STATE_CALL, ATTR_CALL]);
    assert_eq!(lines, ["INFO S1.VG#0 vgsvc1 is already down"]);
}

#[test]
fn stop_retries_then_fails_on_a_vg_that_stays_active() {
    let (s, r) = (svc(), FakeRunner::new());
    r.on(STATE, 0, "  |1\n", "");
    r.on(ATTR, 0, ACTIVE, "");
    r.missing("kpartx");
    r.on(
        &["vgchange", "-a", "n"],
        5,
        "",
        "  Logical volume vgsvc1/lv1 in use.\n",
    );
    let (res, lines) = capture(|| vg().stop(&ctx(&r, &s)));
    assert_eq!(res, Err(Failed::silent()));
    let tries = r
        .calls()
        .iter()
        .filter(|c| *c == "vgchange -a n vgsvc1")
        .count();
    assert_eq!(tries, 4);
    assert_eq!(
        lines[..2],
        [
            "INFO S1.VG#0 vgchange -a n vgsvc1",
            "INFO S1.VG#0 stderr:\n  Logical volume vgsvc1/lv1 in use.\n",
        ]
    );
    assert_eq!(
        lines.last().unwrap(),
        "ERROR S1.VG#0 vgsvc1 is still active"
    );
}

#[test]
fn stop_of_a_tagged_vg_without_lvs_drops_the_tag_with_three_commands() {
    let (s, r) = (svc(), FakeRunner::new());
    r.on(STATE, 0, "  sles1|0\n", "");
    let (res, _) = capture(|| vg().stop(&ctx(&r, &s)));
    assert_eq!(res, Ok(()));
    assert_eq!(
        r.calls(),
        [
            STATE_CALL,
            "vgchange --deltag @sles1 vgsvc1",
            "vgchange -a n vgsvc1",
        ]
    );
}

#[test]
fn a_failed_deltag_on_a_vg_without_lvs_is_checked_again() {
    let (s, r) = (svc(), FakeRunner::new());
    r.on(STATE, 0, "  sles1|0\n", "");
    r.on(&["vgchange", "--deltag"], 5, "", "  boom\n");
    let (res, lines) = capture(|| vg().stop(&ctx(&r, &s)));
    assert_eq!(res, Err(Failed::silent()));
    assert_eq!(
        lines.last().unwrap(),
        "ERROR S1.VG#0 vgsvc1 is still active"
    );
}

const VG_LIST: &[&str] = &VG_LISTING;
const LV_LIST: &[&str] = &LV_LISTING;

fn named(name: &str) -> Vg {
    Vg::new(VgConf {
        vgname: name.into(),
    })
}

#[test]
fn listing_parsers_keep_each_vg_and_leave_out_odd_lines() {
    let vgs = parse_vg_listing("  vgsvc1|@sles1|2\n  bare||0\n  odd|x\n  |@n|1\n  extra|a|1|2\n");
    assert_eq!(vgs.len(), 2, "{vgs:?}");
    assert_eq!(vgs["vgsvc1"], (vec!["sles1".to_string()], 2));
    assert_eq!(vgs["bare"], (Vec::<String>::new(), 0));
    let lvs = parse_lv_listing("  vgsvc1|-wi-a-----\n  vgsvc1|-wi-------\n  other|-wi-------\n\n");
    assert_eq!(lvs["vgsvc1"], ["-wi-a-----", "-wi-------"]);
    assert_eq!(lvs["other"], ["-wi-------"]);
}

#[test]
fn a_wide_pass_lists_every_vg_once_for_all_its_vg_resources() {
    let (s, r) = (svc(), FakeRunner::new());
    r.on(
        VG_LIST,
        0,
        "  vgsvc1|@sles1|2\n  vgidle||0\n  vgother|@sles2|1\n",
        "",
    );
    r.on(
        LV_LIST,
        0,
        "  vgsvc1|-wi-a-----\n  vgsvc1|-wi-a-----\n  vgother|-wi-------\n",
        "",
    );
    let cache = crate::exec::ProbeCache::wide();
    let mut c = ctx(&r, &s);
    c.cache = Some(&cache);
    let deps = Deps::NONE;
    let states: Vec<Status> = ["vgsvc1", "vgidle", "vgother", "vgmissing"]
        .iter()
        .map(|n| named(n).status(&c, &deps).status)
        .collect();
    assert_eq!(
        states,
        [Status::Up, Status::Down, Status::Down, Status::Down],
        "calls: {:?}",
        r.calls()
    );
    assert_eq!(
        r.calls(),
        [
            "vgs --noheadings --separator | -o vg_name,vg_tags,lv_count",
            "lvs --noheadings --separator | -o vg_name,lv_attr",
        ]
    );
}

#[test]
fn a_failed_listing_falls_back_to_asking_about_each_vg() {
    let (s, r) = (svc(), FakeRunner::new());
    r.on(VG_LIST, 5, "", "  some PV missing\n");
    r.on(STATE, 0, "  @sles1|2\n", "");
    r.on(ATTR, 0, ACTIVE, "");
    let cache = crate::exec::ProbeCache::wide();
    let mut c = ctx(&r, &s);
    c.cache = Some(&cache);
    assert_eq!(vg().status(&c, &Deps::NONE).status, Status::Up);
    assert_eq!(
        r.calls(),
        [
            "vgs --noheadings --separator | -o vg_name,vg_tags,lv_count",
            STATE_CALL,
            ATTR_CALL,
        ]
    );
}

#[test]
fn a_narrow_pass_asks_about_its_own_vg_only() {
    let (s, r) = (svc(), FakeRunner::new());
    r.on(STATE, 0, "  @sles1|0\n", "");
    let cache = crate::exec::ProbeCache::new();
    let mut c = ctx(&r, &s);
    c.cache = Some(&cache);
    assert_eq!(vg().status(&c, &Deps::NONE).status, Status::Up);
    assert_eq!(r.calls(), [STATE_CALL]);
}
