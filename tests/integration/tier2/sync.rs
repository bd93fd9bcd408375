//! Tier 2: the sync actions (docs/behaviour.md, "sync"; the tutorial's
//! "Service Failover" chapter) with fake ssh and
//! rsync: what is run, in which order, with which messages; the peer is
//! never contacted.

use crate::common::*;

const I_SVC: &str = "HH:MM:SS INFO    P26.OPENSVC.COM         ";
const I_SYNC: &str = "HH:MM:SS INFO    P26.OPENSVC.COM.SYNC#I0 ";
const E_SYNC: &str = "HH:MM:SS ERROR   P26.OPENSVC.COM.SYNC#I0 ";
const SSH: &str = "ssh -q -o StrictHostKeyChecking=accept-new -o ForwardX11=no -o BatchMode=yes -o ConnectTimeout=10";
const RSH: &str = "ssh -q -o StrictHostKeyChecking=accept-new -o ForwardX11=no -o BatchMode=yes -o ConnectTimeout=10";

/// The tutorial's service started on sles1 (the fake world's state).
fn started() -> World {
    let w = World::tutorial();
    w.svc(&["start"]).code(0);
    w
}

fn sync_calls(w: &World) -> Vec<String> {
    w.calls()
        .into_iter()
        .filter(|c| c.starts_with("ssh ") || c.starts_with("rsync "))
        .collect()
}

#[test]
fn syncnodes_force_pushes_the_config_then_runs_postsync() {
    let w = started();
    let before = w.calls().len();
    let r = w.svcmgr(&["-s", SVC, "syncnodes", "--force"]);
    r.code(0).stdout_is("").stderr_is(&format!(
        "{I_SVC}exec '/etc/opensvc/p26.opensvc.com --waitlock 3600 postsync' on node sles2\n"
    ));
    let calls: Vec<String> = w.calls()[before..]
        .iter()
        .filter(|c| c.starts_with("ssh ") || c.starts_with("rsync "))
        .cloned()
        .collect();
    assert_eq!(
        calls,
        [
            format!("{SSH} -l root -- sles2 nodemgr get --param node.host_mode"),
            format!(
                "rsync -HpogDtrlvx --stats --delete --force --timeout=3600 -R --exclude=*.core -e {RSH} -- \
                 /etc/opensvc/p26.opensvc.com /etc/opensvc/p26.opensvc.com.env /etc/opensvc/p26.opensvc.com.d /etc/opensvc/p26.opensvc.com.dir root@sles2:/"
            ),
            format!(
                "rsync -e {RSH} -R -- /var/lib/opensvc/sync/sles2/p26.opensvc.com!sync#i0 /var/lib/opensvc/sync/sles1/p26.opensvc.com!sync#i0 root@sles2:/"
            ),
            format!("{SSH} -l root -- sles2 /etc/opensvc/p26.opensvc.com --waitlock 3600 postsync"),
        ],
        "{}",
        r.report()
    );
    // The stamps say when: sync#i0 is now up on this node.
    let st = w.svc(&["print", "status"]);
    st.code(0).stdout_has(
        "|- sync                   up\n|  '- sync#i0        .... up       rsync svc config to drpnodes, nodes\n",
    );
    let stamp =
        std::fs::read_to_string(w.var().join("sync/sles2/p26.opensvc.com!sync#i0")).unwrap();
    assert!(
        stamp.len() == 27 && stamp.ends_with('\n') && stamp.as_bytes()[10] == b' ',
        "stamp {stamp:?}"
    );
    assert!(w.var().join("last_sync_p26.opensvc.com_sync#i0").exists());
}

#[test]
fn syncnodes_outside_the_period_is_skipped() {
    let w = started();
    let now = chrono::Local::now().format("%H:%M").to_string();
    if ("03:59"..="05:59").contains(&now.as_str()) {
        eprintln!("now is inside the default sync period: this case cannot be shown at {now}");
        return;
    }
    let r = w.svcmgr(&["-s", SVC, "syncnodes"]);
    r.code(0).stdout_is("").stderr_is(&format!(
        "{I_SYNC}skip sync: not in allowed period (['03:59', '05:59'])\n"
    ));
    assert!(sync_calls(&w).is_empty(), "{}", r.report());
}

#[test]
fn cron_silences_the_skip() {
    let w = started();
    w.append_conf("\n[sync]\nsync_interval = 0\n");
    w.mark_pushed(SVC);
    w.svcmgr(&["-s", SVC, "syncnodes", "--cron"])
        .code(0)
        .stderr_is("");
    w.svcmgr(&["-s", SVC, "syncnodes"])
        .code(0)
        .stderr_is(&format!(
            "{I_SYNC}skip sync: disabled by sync_interval = 0\n"
        ));
}

#[test]
fn a_service_not_up_is_not_synced_even_with_force() {
    let w = World::tutorial();
    let r = w.svcmgr(&["-s", SVC, "syncnodes", "--force"]);
    // vg up, the rest down: warn first, then the refusal.
    r.code(0).stderr_is(&format!(
        "{I_SYNC}won't sync this resource service in warn status\n{I_SYNC}won't sync this resource for a service not up\n"
    ));
    assert!(sync_calls(&w).is_empty(), "{}", r.report());
}

#[test]
fn a_sync_while_the_lock_is_held_says_so_and_succeeds() {
    let w = started();
    w.hold_lock(SVC);
    let before = w.calls().len();
    w.svcmgr(&["-s", SVC, "syncnodes", "--force"])
        .code(0)
        .stderr_is(&format!("{I_SVC}syncnodes action is already running\n"));
    assert_eq!(w.calls().len(), before, "nothing ran");
    w.svcmgr(&["-s", SVC, "syncnodes", "--force", "--cron"])
        .code(0)
        .stderr_is("");
}

#[test]
fn an_unreachable_peer_is_reported_and_fails_the_action() {
    let w = started();
    std::fs::write(w.state.join("unreachable"), "sles2\n").unwrap();
    let r = w.svcmgr(&["-s", SVC, "syncnodes", "--force"]);
    r.code(1).stderr_is(&format!(
        "{E_SYNC}node sles2 is unreachable: ssh: connect to host sles2 port 22: No route to host\n"
    ));
    assert!(!w.var().join("sync/sles2/p26.opensvc.com!sync#i0").exists());
}

#[test]
fn a_peer_in_another_host_mode_is_refused() {
    let w = started();
    std::fs::create_dir_all(w.state.join("remote_mode")).unwrap();
    std::fs::write(w.state.join("remote_mode/sles2"), "PRD\n").unwrap();
    let r = w.svcmgr(&["-s", SVC, "syncnodes", "--force"]);
    r.code(1).stderr_is(&format!(
        "{E_SYNC}incompatible remote node 'sles2' host mode: 'PRD' (expected in ['TST'])\n"
    ));
    assert_eq!(
        sync_calls(&w).len(),
        1,
        "only the host-mode query: {}",
        r.report()
    );
}

#[test]
fn a_non_root_ruser_logs_in_as_itself_and_uses_sudo() {
    let w = started();
    std::fs::write(w.etc().join("node.conf"), "[node]\nruser = svcsync\n").unwrap();
    let before = w.calls().len();
    w.svcmgr(&["-s", SVC, "syncnodes", "--force"]).code(0);
    let calls: Vec<String> = w.calls()[before..]
        .iter()
        .filter(|c| c.starts_with("ssh ") || c.starts_with("rsync "))
        .cloned()
        .collect();
    assert_eq!(
        calls[0],
        format!("{SSH} -l svcsync -- sles2 sudo nodemgr get --param node.host_mode")
    );
    assert!(
        calls[1].contains(" --rsync-path sudo rsync ") && calls[1].ends_with(" svcsync@sles2:/"),
        "{}",
        calls[1]
    );
    assert_eq!(
        calls[3],
        format!(
            "{SSH} -l svcsync -- sles2 sudo /etc/opensvc/p26.opensvc.com --waitlock 3600 postsync"
        )
    );
}

#[test]
fn postsync_and_syncall_are_actions() {
    let w = started();
    w.svc(&["postsync", "--waitlock", "3600"])
        .code(0)
        .stderr_is("");
    w.svc(&["syncall", "--force"])
        .code(0)
        .stderr_has("postsync' on node sles2");
}

#[test]
fn switch_validates_the_destination() {
    let w = started();
    w.svc(&["switch", "--to", "sles9"]).code(1).stderr_is(
        "HH:MM:SS ERROR   P26.OPENSVC.COM         destination node sles9 is not in service node list\n",
    );
    w.svc(&["switch", "--to", "sles1"]).code(1);
    assert!(w.plumbed("37.59.71.26"), "nothing was stopped");
}

/// What cron runs: syncall --cron for every service of the node; the
/// schedule applies (silently), --force bypasses it.
#[test]
fn nodemgr_syncservices_is_the_cron_entry_point() {
    let w = started();
    let nodemgr = w.root.join("nodemgr");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_svcmgr"), &nodemgr).unwrap();
    let now = chrono::Local::now().format("%H:%M").to_string();
    if !("03:59"..="05:59").contains(&now.as_str()) {
        w.run_as(&nodemgr, &["syncservices"]).code(0).stderr_is("");
        assert!(
            sync_calls(&w).is_empty(),
            "outside the period nothing is sent"
        );
    }
    w.run_as(&nodemgr, &["syncservices", "--force"])
        .code(0)
        .stderr_is(&format!(
            "{I_SVC}exec '/etc/opensvc/p26.opensvc.com --cron --waitlock 3600 postsync' on node sles2\n"
        ));
    w.run_as(&nodemgr, &["get", "--param", "node.host_mode"])
        .code(0)
        .stdout_is("TST\n");
}

/// A service without a sync resource: syncall (what the daemon's scheduler
/// runs for every service every minute) probes nothing and runs nothing.
#[test]
fn syncall_of_a_service_without_sync_runs_no_tool() {
    let w = World::new();
    w.one_node(
        "svc1",
        "[ip#0]\nipname = p26.opensvc.com\nipdev = eth0\n[vg#0]\nvgname = vgdata\n",
    );
    w.svcmgr(&["-s", "svc1", "syncall", "--cron"])
        .code(0)
        .stderr_is("")
        .no_calls();
    w.svcmgr(&["-s", "svc1", "syncall", "--force"])
        .code(0)
        .no_calls();
}
