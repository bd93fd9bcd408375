//! The ip driver's tests: a fake runner answers `ip addr`, arping and ping.

use super::super::testing::{ctx_s1, svc_s1};
use super::probe::PROBE_WAIT;
use super::*;
use crate::exec::{FakeRunner, Output};
use crate::log::capture;

const DOWN: &str = "\
2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc pfifo_fast state UP qlen 1000
    inet 37.59.71.22/27 brd 37.59.71.31 scope global eth0
";
const UP: &str = "\
2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc pfifo_fast state UP qlen 1000
    inet 37.59.71.22/27 brd 37.59.71.31 scope global eth0
    inet 37.59.71.26/27 brd 37.59.71.31 scope global secondary eth0:1
";
const ADDR: &str = "37.59.71.26";

fn svc(root: &std::path::Path) -> SvcInfo {
    svc_s1(root)
}

fn ctx<'a>(runner: &'a FakeRunner, svc: &'a SvcInfo, conflict_checked: bool) -> Ctx<'a> {
    Ctx {
        conflict_checked,
        ..ctx_s1(runner, svc, "ip#0")
    }
}

fn conf() -> IpConf {
    IpConf {
        ipname: ADDR.into(),
        ipdev: "eth0".into(),
        netmask: None,
        gateway: None,
        noalias: false,
        skip_conflict_check: false,
    }
}

fn unresolvable() -> Ip {
    Ip {
        conf: IpConf {
            ipname: "nowhere.invalid".into(),
            ..conf()
        },
        resolve: |_| None,
    }
}

fn out(stdout: &str) -> Output {
    Output {
        rc: 0,
        stdout: stdout.into(),
        stderr: String::new(),
    }
}

/// `ip addr` answers `first` once, then `rest` forever.
fn ifaces(r: &FakeRunner, seq: &[&str]) {
    r.on_seq(&["ip", "addr"], seq.iter().map(|s| out(s)).collect());
}

const ARPING: &str = "arping -U -c 1 -I eth0 -s 37.59.71.26 0.0.0.0";

#[test]
fn start_after_the_executor_checked_matches_the_seed() {
    let d = tempfile::tempdir().unwrap();
    let (s, r) = (svc(d.path()), FakeRunner::new());
    ifaces(&r, &[DOWN, DOWN, UP]);
    let (res, lines) = capture(|| Ip::new(conf()).start(&ctx(&r, &s, true)));
    assert_eq!(res, Ok(Started::Activated));
    assert_eq!(
        r.calls(),
        [
            "ip addr",
            "ip addr",
            "ifconfig eth0:1 37.59.71.26 netmask 255.255.255.224 up",
            "ip addr",
            ARPING,
        ]
    );
    assert_eq!(
        lines,
        [
            "INFO S1.IP#0 ifconfig eth0:1 37.59.71.26 netmask 255.255.255.224 up",
            &format!("INFO S1.IP#0 {ARPING}"),
        ]
    );
    assert!(d.path().join("var/lock/startip").exists());
}

const ARP_PROBE: &str = "arping -D -c 2 -w 2 -I eth0 37.59.71.26";
const ICMP_PROBE: &str = "ping -c 1 -W 0.15 37.59.71.26";
const ARP_REPLY: &str = "ARPING 37.59.71.26 from 0.0.0.0 eth0\nUnicast reply from 37.59.71.26 [EE:6A:FE:78:4C:6B]  0.550ms\nSent 1 probes (1 broadcast(s))\nReceived 1 response(s)\n";

/// The probe's two commands run at once: their order in the log is not fixed.
fn calls_probe_sorted(r: &FakeRunner) -> Vec<String> {
    let mut calls = r.calls();
    let mut i = 0;
    while i + 1 < calls.len() {
        let pair = [calls[i].as_str(), calls[i + 1].as_str()];
        if pair.contains(&ARP_PROBE) && pair.contains(&ICMP_PROBE) {
            calls[i] = ARP_PROBE.into();
            calls[i + 1] = ICMP_PROBE.into();
            i += 1;
        }
        i += 1;
    }
    calls
}

#[test]
fn abort_start_probes_by_arp_and_icmp_at_once() {
    let d = tempfile::tempdir().unwrap();
    let (s, r) = (svc(d.path()), FakeRunner::new());
    ifaces(&r, &[DOWN]);
    r.on(&["arping", "-D"], 1, ARP_REPLY, "");
    r.on(&["ping"], 1, "", "");
    let (conflict, lines) = capture(|| Ip::new(conf()).abort_start(&ctx(&r, &s, false)));
    assert!(conflict);
    assert_eq!(calls_probe_sorted(&r), ["ip addr", ARP_PROBE, ICMP_PROBE]);
    assert_eq!(lines, ["INFO S1.IP#0 checking 37.59.71.26 availability"]);
    let arp = r
        .cmds()
        .into_iter()
        .find(|c| c.argv[0] == "arping")
        .unwrap();
    assert_eq!(arp.interrupt_after, Some(PROBE_WAIT));
}

#[test]
fn an_icmp_answer_alone_is_a_conflict() {
    let d = tempfile::tempdir().unwrap();
    let (s, r) = (svc(d.path()), FakeRunner::new());
    ifaces(&r, &[DOWN]);
    r.on(&["arping", "-D"], 0, "Received 0 response(s)\n", "");
    r.on(&["ping"], 0, "", "");
    assert!(capture(|| Ip::new(conf()).abort_start(&ctx(&r, &s, false))).0);
}

#[test]
fn a_failing_arping_without_reply_is_no_conflict() {
    let d = tempfile::tempdir().unwrap();
    let (s, r) = (svc(d.path()), FakeRunner::new());
    ifaces(&r, &[DOWN]);
    r.on(&["arping", "-D"], 1, "", "arping: interface eth0 is down\n");
    r.on(&["ping"], 1, "", "");
    assert!(!capture(|| Ip::new(conf()).abort_start(&ctx(&r, &s, false))).0);
}

#[test]
fn without_arping_the_check_is_the_references_five_second_ping() {
    let d = tempfile::tempdir().unwrap();
    let (s, r) = (svc(d.path()), FakeRunner::new());
    ifaces(&r, &[DOWN]);
    r.missing("arping");
    r.on(&["ping"], 0, "", "");
    let (conflict, _) = capture(|| Ip::new(conf()).abort_start(&ctx(&r, &s, false)));
    assert!(conflict);
    assert_eq!(r.calls(), ["ip addr", "ping -c 1 -W 5 -w 5 37.59.71.26"]);
}

#[test]
fn abort_start_is_skipped_when_plumbed_tagged_or_unresolved() {
    let d = tempfile::tempdir().unwrap();
    let s = svc(d.path());
    let r = FakeRunner::new();
    ifaces(&r, &[UP]);
    r.on(&["ping"], 0, "", "");
    assert!(!Ip::new(conf()).abort_start(&ctx(&r, &s, false)));
    let tagged = Ip::new(IpConf {
        skip_conflict_check: true,
        ..conf()
    });
    assert!(!tagged.abort_start(&ctx(&r, &s, false)));
    assert!(!unresolvable().abort_start(&ctx(&r, &s, false)));
    assert_eq!(r.calls(), ["ip addr"]);
}

#[test]
fn start_pings_itself_when_the_executor_did_not() {
    let d = tempfile::tempdir().unwrap();
    let (s, r) = (svc(d.path()), FakeRunner::new());
    ifaces(&r, &[DOWN, DOWN, UP]);
    r.on(&["ping"], 1, "", "");
    let (res, lines) = capture(|| Ip::new(conf()).start(&ctx(&r, &s, false)));
    assert_eq!(res, Ok(Started::Activated));
    assert_eq!(calls_probe_sorted(&r)[1..3], [ARP_PROBE, ICMP_PROBE]);
    assert_eq!(lines[0], "INFO S1.IP#0 checking 37.59.71.26 availability");
    assert_eq!(lines.len(), 3);
}

#[test]
fn start_refuses_an_address_answering_elsewhere() {
    let d = tempfile::tempdir().unwrap();
    let (s, r) = (svc(d.path()), FakeRunner::new());
    ifaces(&r, &[DOWN]);
    r.on(&["ping"], 0, "", "");
    let (res, lines) = capture(|| Ip::new(conf()).start(&ctx(&r, &s, false)));
    assert_eq!(res, Err(Failed::silent()));
    assert_eq!(calls_probe_sorted(&r), ["ip addr", ARP_PROBE, ICMP_PROBE]);
    assert_eq!(
        lines,
        [
            "INFO S1.IP#0 checking 37.59.71.26 availability",
            "ERROR S1.IP#0 37.59.71.26 is already up on another host",
        ]
    );
}

#[test]
fn start_of_a_plumbed_address_is_already_up() {
    let d = tempfile::tempdir().unwrap();
    let (s, r) = (svc(d.path()), FakeRunner::new());
    ifaces(&r, &[UP]);
    let (res, lines) = capture(|| Ip::new(conf()).start(&ctx(&r, &s, false)));
    assert_eq!(res, Ok(Started::AlreadyUp));
    assert_eq!(r.calls(), ["ip addr"]);
    assert_eq!(lines, ["INFO S1.IP#0 37.59.71.26 is already up on eth0"]);
}

#[test]
fn start_needs_a_resolvable_name() {
    let d = tempfile::tempdir().unwrap();
    let (s, r) = (svc(d.path()), FakeRunner::new());
    let (res, lines) = capture(|| unresolvable().start(&ctx(&r, &s, true)));
    assert_eq!(res, Err(Failed::silent()));
    assert!(r.calls().is_empty());
    assert_eq!(
        lines,
        ["ERROR S1.IP#0 could not resolve nowhere.invalid to an ip address"]
    );
}

#[test]
fn start_needs_an_up_parent() {
    let d = tempfile::tempdir().unwrap();
    let s = svc(d.path());
    for listing in ["", "2: eth0: <BROADCAST,MULTICAST> mtu 1500\n"] {
        let r = FakeRunner::new();
        ifaces(&r, &[listing]);
        let (res, lines) = capture(|| Ip::new(conf()).start(&ctx(&r, &s, true)));
        assert_eq!(res, Err(Failed::silent()));
        assert_eq!(
            lines,
            ["ERROR S1.IP#0 Interface eth0 is not up. Cannot stack over it."]
        );
    }
}

#[test]
fn start_picks_the_first_free_alias_and_the_configured_mask() {
    let d = tempfile::tempdir().unwrap();
    let (s, r) = (svc(d.path()), FakeRunner::new());
    let busy = "\
2: eth0: <UP> mtu 1500
    inet 37.59.71.22/27 scope global eth0
    inet 37.59.71.27/27 scope global secondary eth0:1
    inet 37.59.71.28/27 scope global secondary eth0:3
";
    let after = format!("{busy}    inet 37.59.71.26/24 scope global secondary eth0:2\n");
    ifaces(&r, &[busy, busy, &after]);
    let ip = Ip::new(IpConf {
        netmask: Some("24".into()),
        ..conf()
    });
    let (res, _) = capture(|| ip.start(&ctx(&r, &s, true)));
    assert_eq!(res, Ok(Started::Activated));
    assert_eq!(
        r.calls()[2],
        "ifconfig eth0:2 37.59.71.26 netmask 255.255.255.0 up"
    );
}

#[test]
fn noalias_plumbs_on_the_device_itself_and_needs_a_netmask() {
    let d = tempfile::tempdir().unwrap();
    let s = svc(d.path());
    let r = FakeRunner::new();
    ifaces(&r, &[DOWN, DOWN, UP]);
    let ip = Ip::new(IpConf {
        noalias: true,
        netmask: Some("255.255.255.224".into()),
        ..conf()
    });
    let (res, _) = capture(|| ip.start(&ctx(&r, &s, true)));
    assert_eq!(res, Ok(Started::Activated));
    // Never `ifconfig eth0 <addr>`: that would replace the primary address.
    assert_eq!(r.calls()[2], "ip addr add 37.59.71.26/27 dev eth0");

    let r = FakeRunner::new();
    ifaces(&r, &[DOWN]);
    let ip = Ip::new(IpConf {
        noalias: true,
        ..conf()
    });
    let (res, lines) = capture(|| ip.start(&ctx(&r, &s, true)));
    assert_eq!(res, Err(Failed::silent()));
    assert_eq!(r.calls(), ["ip addr", "ip addr"]);
    assert_eq!(
        lines,
        ["ERROR S1.IP#0 netmask parameter is mandatory with 'noalias' tag"]
    );
}

#[test]
fn start_needs_a_parent_mask() {
    let d = tempfile::tempdir().unwrap();
    let (s, r) = (svc(d.path()), FakeRunner::new());
    ifaces(
        &r,
        &["2: eth0: <UP> mtu 1500\n    inet6 fe80::1/64 scope link\n"],
    );
    let (res, lines) = capture(|| Ip::new(conf()).start(&ctx(&r, &s, true)));
    assert_eq!(res, Err(Failed::silent()));
    assert_eq!(
        lines,
        ["ERROR S1.IP#0 No netmask set on parent interface eth0"]
    );
}

#[test]
fn start_reports_a_failing_ifconfig() {
    let d = tempfile::tempdir().unwrap();
    let (s, r) = (svc(d.path()), FakeRunner::new());
    ifaces(&r, &[DOWN]);
    r.on(&["ifconfig"], 1, "", "SIOCSIFADDR: Permission denied\n");
    let (res, lines) = capture(|| Ip::new(conf()).start(&ctx(&r, &s, true)));
    assert_eq!(res, Err(Failed::silent()));
    assert_eq!(
        lines,
        [
            "INFO S1.IP#0 ifconfig eth0:1 37.59.71.26 netmask 255.255.255.224 up",
            "ERROR S1.IP#0 stderr:\nSIOCSIFADDR: Permission denied\n",
            "ERROR S1.IP#0 failed",
        ]
    );
}

#[test]
fn start_times_out_when_the_address_never_shows() {
    let d = tempfile::tempdir().unwrap();
    let (s, r) = (svc(d.path()), FakeRunner::new());
    ifaces(&r, &[DOWN]);
    let (res, lines) = capture(|| Ip::new(conf()).start(&ctx(&r, &s, true)));
    assert_eq!(res, Err(Failed::silent()));
    assert_eq!(r.calls().iter().filter(|c| *c == "ip addr").count(), 7);
    assert_eq!(
        lines.last().unwrap(),
        "ERROR S1.IP#0 timed out waiting for ip activation"
    );
}

#[test]
fn start_without_arping_warns() {
    let d = tempfile::tempdir().unwrap();
    let (s, r) = (svc(d.path()), FakeRunner::new());
    ifaces(&r, &[DOWN, DOWN, UP]);
    r.missing("arping");
    let (res, lines) = capture(|| Ip::new(conf()).start(&ctx(&r, &s, true)));
    assert_eq!(res, Ok(Started::Activated));
    assert!(!r.calls().iter().any(|c| c.starts_with("arping")));
    assert_eq!(
        lines.last().unwrap(),
        "WARNING S1.IP#0 arp annouce skipped. install 'arping'"
    );
}

#[test]
fn start_reports_a_held_startip_lock() {
    let d = tempfile::tempdir().unwrap();
    let (s, r) = (svc(d.path()), FakeRunner::new());
    ifaces(&r, &[DOWN]);
    let path = s.paths.lock.join("startip");
    // Another open file description of the same file: flock conflicts
    // with it as it would with another svcmgr process.
    let _held = crate::lock::acquire(&path, Duration::ZERO).unwrap();
    let (res, lines) = capture(|| Ip::new(conf()).start(&ctx(&r, &s, true)));
    assert_eq!(res, Err(Failed::silent()));
    assert_eq!(
        lines,
        [format!(
            "ERROR S1.IP#0 timed out waiting for lock {}: another action is currently running (pid={})",
            path.display(),
            std::process::id()
        )]
    );
    assert_eq!(r.calls(), ["ip addr"]);
}

#[test]
fn ipv6_start_uses_inet6_add_and_no_arping() {
    let d = tempfile::tempdir().unwrap();
    let s = svc(d.path());
    let parent = "2: eth0: <UP> mtu 1500\n    inet6 fe80::1/64 scope link\n";
    let after = format!("{parent}    inet6 2001:db8::5/64 scope global\n");
    let r = FakeRunner::new();
    ifaces(&r, &[parent, parent, &after]);
    r.on(&["ping6"], 1, "", "");
    let ip = Ip::new(IpConf {
        ipname: "2001:db8::5".into(),
        netmask: Some("64".into()),
        ..conf()
    });
    let (res, lines) = capture(|| ip.start(&ctx(&r, &s, false)));
    assert_eq!(res, Ok(Started::Activated));
    assert_eq!(
        r.calls(),
        [
            "ip addr",
            "ping6 -c 1 -W 5 -w 5 2001:db8::5",
            "ip addr",
            "ifconfig eth0 inet6 add 2001:db8::5/64",
            "ip addr",
        ]
    );
    assert_eq!(lines.len(), 2);

    let r = FakeRunner::new();
    ifaces(&r, &[parent]);
    let ip = Ip::new(IpConf {
        ipname: "2001:db8::5".into(),
        netmask: Some("255.255.255.0".into()),
        ..conf()
    });
    let (res, lines) = capture(|| ip.start(&ctx(&r, &s, true)));
    assert_eq!(res, Err(Failed::silent()));
    assert_eq!(
        lines,
        ["ERROR S1.IP#0 netmask parameter is mandatory for ipv6 adresses"]
    );
}

#[test]
fn stop_matches_the_seed_with_one_check() {
    let d = tempfile::tempdir().unwrap();
    let (s, r) = (svc(d.path()), FakeRunner::new());
    ifaces(&r, &[UP]);
    r.on(&["ping"], 1, "", "");
    let (res, lines) = capture(|| Ip::new(conf()).stop(&ctx(&r, &s, false)));
    assert_eq!(res, Ok(()));
    assert_eq!(
        calls_probe_sorted(&r),
        ["ip addr", "ifconfig eth0:1 down", ARP_PROBE, ICMP_PROBE]
    );
    assert_eq!(
        lines,
        [
            "INFO S1.IP#0 ifconfig eth0:1 down",
            "INFO S1.IP#0 checking 37.59.71.26 availability",
        ]
    );
}

#[test]
fn stop_of_an_address_without_alias_removes_only_that_address() {
    let d = tempfile::tempdir().unwrap();
    let (s, r) = (svc(d.path()), FakeRunner::new());
    let noalias = "\
2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc pfifo_fast state UP qlen 1000
    inet 37.59.71.22/27 brd 37.59.71.31 scope global eth0
    inet 37.59.71.26/27 scope global secondary eth0
";
    ifaces(&r, &[noalias]);
    r.on(&["ping"], 1, "", "");
    let (res, _) = capture(|| Ip::new(conf()).stop(&ctx(&r, &s, false)));
    assert_eq!(res, Ok(()));
    assert!(
        !r.calls().iter().any(|c| c == "ifconfig eth0 down"),
        "{:?}",
        r.calls()
    );
    assert_eq!(r.calls()[1], "ip addr del 37.59.71.26/27 dev eth0");
}

#[test]
fn stop_of_an_unplumbed_address_is_already_down() {
    let d = tempfile::tempdir().unwrap();
    let (s, r) = (svc(d.path()), FakeRunner::new());
    ifaces(&r, &[DOWN]);
    let (res, lines) = capture(|| Ip::new(conf()).stop(&ctx(&r, &s, false)));
    assert_eq!(res, Ok(()));
    assert_eq!(r.calls(), ["ip addr"]);
    assert_eq!(lines, ["INFO S1.IP#0 37.59.71.26 is already down on eth0"]);
}

#[test]
fn stop_refuses_an_address_on_another_interface() {
    let d = tempfile::tempdir().unwrap();
    let (s, r) = (svc(d.path()), FakeRunner::new());
    ifaces(
        &r,
        &["3: eth1: <UP> mtu 1\n    inet 37.59.71.26/27 scope global eth1:4\n"],
    );
    let (res, lines) = capture(|| Ip::new(conf()).stop(&ctx(&r, &s, false)));
    assert_eq!(res, Err(Failed::silent()));
    assert_eq!(r.calls(), ["ip addr"]);
    assert_eq!(
        lines,
        [
            "ERROR S1.IP#0 37.59.71.26 is plumbed but not on eth0",
            "ERROR S1.IP#0 failed",
        ]
    );
}

#[test]
fn stop_reports_a_failing_ifconfig() {
    let d = tempfile::tempdir().unwrap();
    let (s, r) = (svc(d.path()), FakeRunner::new());
    ifaces(&r, &[UP]);
    r.on(&["ifconfig"], 1, "", "");
    let (res, lines) = capture(|| Ip::new(conf()).stop(&ctx(&r, &s, false)));
    assert_eq!(res, Err(Failed::silent()));
    assert_eq!(r.calls(), ["ip addr", "ifconfig eth0:1 down"]);
    assert_eq!(
        lines,
        ["INFO S1.IP#0 ifconfig eth0:1 down", "ERROR S1.IP#0 failed"]
    );
}

#[test]
fn stop_gives_up_after_fifteen_answers() {
    let d = tempfile::tempdir().unwrap();
    let (s, r) = (svc(d.path()), FakeRunner::new());
    ifaces(&r, &[UP]);
    r.on(&["ping"], 0, "", "");
    let (res, lines) = capture(|| Ip::new(conf()).stop(&ctx(&r, &s, false)));
    assert_eq!(res, Err(Failed::silent()));
    assert_eq!(r.calls().len(), 2 + 2 * 15);
    assert_eq!(lines.len(), 1 + 15 + 1);
    assert_eq!(
        lines.last().unwrap(),
        "ERROR S1.IP#0 37.59.71.26 refuse to go down"
    );
}

#[test]
fn ipv6_stop_uses_inet6_del_with_the_plumbed_prefix() {
    let d = tempfile::tempdir().unwrap();
    let (s, r) = (svc(d.path()), FakeRunner::new());
    ifaces(
        &r,
        &["2: eth0: <UP> mtu 1\n    inet6 2001:db8::5/64 scope global\n"],
    );
    r.on(&["ping6"], 1, "", "");
    let ip = Ip::new(IpConf {
        ipname: "2001:db8::5".into(),
        ..conf()
    });
    let (res, _) = capture(|| ip.stop(&ctx(&r, &s, false)));
    assert_eq!(res, Ok(()));
    assert_eq!(
        r.calls(),
        [
            "ip addr",
            "ifconfig eth0 inet6 del 2001:db8::5/64",
            "ping6 -c 1 -W 1 -w 1 2001:db8::5",
        ]
    );
}

#[test]
fn status_values() {
    let d = tempfile::tempdir().unwrap();
    let s = svc(d.path());
    let r = FakeRunner::new();
    ifaces(&r, &[UP, DOWN]);
    let ip = Ip::new(conf());
    assert_eq!(
        ip.status(&ctx(&r, &s, false), &Deps::NONE),
        Probe::new(Status::Up)
    );
    assert_eq!(
        ip.status(&ctx(&r, &s, false), &Deps::NONE),
        Probe::new(Status::Down)
    );
    assert_eq!(
        unresolvable().status(&ctx(&r, &s, false), &Deps::NONE),
        Probe::with(
            Status::Warn,
            "could not resolve nowhere.invalid to an ip address"
        )
    );
    assert_eq!(r.calls(), ["ip addr", "ip addr"]);
}

#[test]
fn env_exports_the_reference_variables() {
    let ip = Ip::new(IpConf {
        netmask: Some("255.255.255.224".into()),
        ..conf()
    });
    let want = |k: &str, v: &str| (k.to_string(), v.to_string());
    assert_eq!(
        ip.env("ip#3"),
        [
            want("OPENSVC_IPDEV", "eth0"),
            want("OPENSVC_IPNAME", ADDR),
            want("OPENSVC_MASK", "255.255.255.224"),
            want("OPENSVC_IPADDR", ADDR),
            want(
                "OPENSVC_IP3",
                "37.59.71.26 eth0 37.59.71.26 255.255.255.224"
            ),
        ]
    );
    let env = unresolvable().env("ip#0");
    assert_eq!(env[2], want("OPENSVC_MASK", ""));
    assert_eq!(env[3], want("OPENSVC_IPADDR", ""));
    assert_eq!(
        env[4],
        want("OPENSVC_IP0", "nowhere.invalid eth0 unknown unknown")
    );
}
