//! Tier 4, two nodes: the first tutorial's "Service Failover" chapter on
//! the lab (sshd in every node, one root key pair trusted by all), then the
//! sync rules' edge cases: a service not up, a host-mode mismatch, an
//! unreachable peer, a non-root ruser, switch.

use crate::lab::{Lab, Out, lab_test};

const LAB: &[&str] = &[
    "--nodes",
    "2",
    "--disks",
    "app:32M,data:32M",
    "--vg",
    "--ssh",
];
const I: &str = "HH:MM:SS INFO    P26.OPENSVC.COM";

/// node1 has the tutorial's service; node2 only has svcmgr (its
/// /etc/opensvc is empty, as on the tutorial's fresh sles2).
fn failover_lab(args: &[&str]) -> Lab {
    let lab = Lab::up(args);
    lab.tutorial(&["node1"]);
    for n in 2..=node_count(args) {
        lab.install(&format!("node{n}"));
    }
    lab
}

fn node_count(args: &[&str]) -> usize {
    args.iter()
        .position(|a| *a == "--nodes")
        .and_then(|i| args[i + 1].parse().ok())
        .unwrap_or(2)
}

fn p26_files(lab: &Lab, node: &str) -> String {
    lab.sh(
        node,
        "cd /etc/opensvc && for f in p26.opensvc.com*; do [ -e \"$f\" ] || [ -L \"$f\" ] || continue; \
         if [ -L \"$f\" ]; then echo \"$f -> $(readlink \"$f\")\"; else echo \"$f\"; fi; done",
    )
    .stdout
}

/// Whether the local time is inside the default sync period, where the
/// tutorial's first syncnodes would not be skipped.
fn in_default_period(lab: &Lab) -> bool {
    let hm = lab.sh("node1", "date +%H:%M").stdout.trim().to_string();
    ("03:59"..="05:59").contains(&hm.as_str())
}

fn tree_sync_row(out: &Out) -> String {
    out.stdout
        .lines()
        .skip_while(|l| !l.starts_with("|- sync"))
        .take(3)
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_tutorials_service_failover_chapter() {
    lab_test!();
    let lab = failover_lab(LAB);
    let (app, data, vg) = (lab.get("disk_app"), lab.get("disk_data"), lab.get("vg"));
    lab.sh("node1", "p26.opensvc.com start").ok();
    let st = lab.sh("node1", "p26.opensvc.com print status");
    assert_eq!(
        tree_sync_row(&st),
        "|- sync                   down\n|  '- sync#i0        .... down     rsync svc config to drpnodes, nodes\n|                                  # node2 need update",
        "{}",
        st.dump()
    );
    assert_eq!(p26_files(&lab, "node2"), "", "node2 starts empty");

    let r = lab.sh("node1", "svcmgr -s p26.opensvc.com syncnodes");
    r.ok();
    if !in_default_period(&lab) {
        assert_eq!(
            r.log(),
            format!("{I}.SYNC#I0 skip sync: not in allowed period (['03:59', '05:59'])"),
            "{}",
            r.dump()
        );
        assert_eq!(p26_files(&lab, "node2"), "", "a skipped sync sends nothing");
    }

    let r = lab.sh("node1", "svcmgr -s p26.opensvc.com syncnodes --force");
    r.ok();
    assert_eq!(
        r.log(),
        format!(
            "{I}         exec '/etc/opensvc/p26.opensvc.com --waitlock 3600 postsync' on node node2"
        ),
        "{}",
        r.dump()
    );
    // Same paths on node2; the .d is still a link.
    assert_eq!(
        p26_files(&lab, "node2"),
        "p26.opensvc.com -> /usr/bin/svcmgr\np26.opensvc.com.conf\np26.opensvc.com.d -> /svc1/app/init.d\n"
    );

    let st = lab.sh("node1", "svcmgr -s p26.opensvc.com print status");
    assert_eq!(
        st.stdout,
        format!(
            "p26.opensvc.com
overall                   up
|- avail                  up
|  |- vg#0           .... up       {vg}
|  |- fs#0           .... up       {app}@/svc1/app
|  |- fs#1           .... up       {data}@/svc1/data
|  |- ip#0           .... up       p26.opensvc.com@eth0
|  '- app            .... up       app
|- sync                   up
|  '- sync#i0        .... up       rsync svc config to drpnodes, nodes
'- hb                     n/a
"
        ),
        "{}",
        st.dump()
    );
    let st = lab.sh("node2", "svcmgr -s p26.opensvc.com print status");
    assert_eq!(
        st.stdout.lines().take(3).collect::<Vec<_>>().join("\n") + "\n" + &tree_sync_row(&st),
        "p26.opensvc.com\noverall                   down\n|- avail                  down\n|- sync                   up\n|  '- sync#i0        .... up       rsync svc config to drpnodes, nodes\n'- hb                     n/a",
        "{}",
        st.dump()
    );

    lab.sh("node1", "svcmgr -s p26.opensvc.com stop").ok();
    lab.sh("node2", "p26.opensvc.com start").ok();
    let page = lab.client(
        "for n in $(seq 50); do curl -sf --max-time 1 http://192.0.2.26:8080/ && exit 0; sleep 0.1; done; exit 1",
    );
    assert_eq!(page.ok().stdout, "<html><body>It Works !</body></html>\n");
    let neigh = lab.client("ip neigh show 192.0.2.26").stdout;
    assert!(
        neigh.contains(&lab.mac("node2")),
        "the client talks to node2: {neigh}"
    );
    let st = lab.sh("node2", "p26.opensvc.com print status");
    assert!(
        st.stdout
            .starts_with("p26.opensvc.com\noverall                   up\n"),
        "{}",
        st.dump()
    );
    assert!(
        tree_sync_row(&st).starts_with("|- sync                   up"),
        "{}",
        st.dump()
    );

    let r = lab.sh("node1", "p26.opensvc.com start");
    r.code(1);
    assert_eq!(
        r.log(),
        format!(
            "{I}.IP#0    checking 192.0.2.26 availability
HH:MM:SS ERROR   P26.OPENSVC.COM         'start' action stopped on execution error: start aborted due to resource ip#0 conflict
{I}         skip rollback start: no resource activated"
        ),
        "{}",
        r.dump()
    );
    lab.sh("node2", "p26.opensvc.com stop").ok();
}

#[test]
fn no_sync_for_a_service_not_up() {
    lab_test!();
    let lab = failover_lab(LAB);
    let r = lab.sh("node1", "svcmgr -s p26.opensvc.com syncnodes --force");
    r.ok();
    assert_eq!(
        r.log(),
        format!("{I}.SYNC#I0 won't sync this resource for a service not up"),
        "{}",
        r.dump()
    );
    assert_eq!(p26_files(&lab, "node2"), "");
}

#[test]
fn a_host_mode_mismatch_is_refused() {
    lab_test!();
    let lab = failover_lab(LAB);
    // 1.9's name for the key is accepted too.
    lab.sh("node2", "nodemgr set --param node.env --value PRD")
        .ok();
    lab.sh("node1", "p26.opensvc.com startip").ok();
    lab.sh("node1", "p26.opensvc.com startfs").ok();
    let r = lab.sh("node1", "svcmgr -s p26.opensvc.com syncnodes --force");
    assert!(
        r.log().contains(
            "ERROR   P26.OPENSVC.COM.SYNC#I0 incompatible remote node 'node2' host mode: 'PRD' (expected in ['TST'])"
        ),
        "{}",
        r.dump()
    );
    assert_eq!(p26_files(&lab, "node2"), "");
    lab.sh("node1", "p26.opensvc.com stop").ok();
}

#[test]
fn an_unreachable_peer_does_not_stop_the_others() {
    lab_test!();
    let args = [
        "--nodes",
        "3",
        "--disks",
        "app:32M,data:32M",
        "--vg",
        "--ssh",
    ];
    let lab = failover_lab(&args);
    lab.sh(
        "node1",
        "sed -i 's/^nodes = node1 node2$/nodes = node1 node2 node3/' /etc/opensvc/p26.opensvc.com.conf",
    )
    .ok();
    // node3's link goes down: its sshd cannot be reached.
    lab.sh("node3", "ip link set eth0 down").ok();
    lab.sh("node1", "p26.opensvc.com start").ok();
    let r = lab.sh("node1", "svcmgr -s p26.opensvc.com syncnodes --force");
    assert!(
        r.log()
            .contains("ERROR   P26.OPENSVC.COM.SYNC#I0 node node3 is unreachable"),
        "{}",
        r.dump()
    );
    assert!(
        r.log()
            .contains("exec '/etc/opensvc/p26.opensvc.com --waitlock 3600 postsync' on node node2"),
        "{}",
        r.dump()
    );
    assert!(p26_files(&lab, "node2").contains("p26.opensvc.com.conf"));
    let st = lab.sh("node1", "p26.opensvc.com print status");
    assert!(st.stdout.contains("# node3 need update"), "{}", st.dump());
    lab.sh("node1", "p26.opensvc.com stop").ok();
}

#[test]
fn a_non_root_ruser_syncs_through_sudo() {
    lab_test!();
    let lab = failover_lab(LAB);
    // On node2: a sync user allowed to run exactly what the agent needs.
    lab.sh(
        "node2",
        "set -e; useradd -m -s /bin/bash svcsync
         install -d -m 700 -o svcsync -g svcsync /home/svcsync/.ssh
         install -m 600 -o svcsync -g svcsync /root/.ssh/authorized_keys /home/svcsync/.ssh/authorized_keys
         echo 'svcsync ALL=(root) NOPASSWD: /usr/bin/rsync, /usr/bin/nodemgr, /usr/bin/svcmgr, /etc/opensvc/*' >/etc/sudoers.d/svcsync
         chmod 440 /etc/sudoers.d/svcsync",
    )
    .ok();
    lab.sh("node1", "nodemgr set --param node.ruser --value svcsync")
        .ok();
    lab.sh("node1", "p26.opensvc.com start").ok();
    let r = lab.sh("node1", "svcmgr -s p26.opensvc.com syncnodes --force");
    r.ok();
    assert!(r.log().contains("postsync' on node node2"), "{}", r.dump());
    // Written as root through sudo rsync: owned by root, same paths.
    let owner = lab.sh("node2", "stat -c %U /etc/opensvc/p26.opensvc.com.conf");
    assert_eq!(owner.stdout.trim(), "root", "{}", owner.dump());
    // The postsync really ran on node2, as root through sudo: its log names it.
    let log = lab.sh(
        "node2",
        "cat /var/log/opensvc/p26.opensvc.com.log 2>/dev/null; ls /var/lib/opensvc/lock",
    );
    assert!(log.stdout.contains("p26.opensvc.com"), "{}", log.dump());
    lab.sh("node1", "p26.opensvc.com stop").ok();
}

#[test]
fn switch_moves_the_service() {
    lab_test!();
    let lab = failover_lab(LAB);
    lab.sh("node1", "p26.opensvc.com start").ok();
    lab.sh("node1", "svcmgr -s p26.opensvc.com syncnodes --force")
        .ok();
    let bad = lab.sh("node1", "p26.opensvc.com switch --to node9");
    bad.code(1);
    assert!(
        bad.log().contains(
            "ERROR   P26.OPENSVC.COM         destination node node9 is not in service node list"
        ),
        "{}",
        bad.dump()
    );
    let r = lab.sh("node1", "p26.opensvc.com switch --to node2");
    r.ok();
    assert!(
        r.log().contains(&format!(
            "{I}         exec '/etc/opensvc/p26.opensvc.com start' on node node2"
        )),
        "{}",
        r.dump()
    );
    // node2's own start log lines come back to the caller.
    assert!(
        r.stderr.contains(
            "P26.OPENSVC.COM.APP     spawn: /etc/opensvc/p26.opensvc.com.d/S10weblauncher start"
        ),
        "{}",
        r.dump()
    );
    lab.sh("node1", "ip -o addr show dev eth0 | grep -c 192.0.2.26")
        .code(1);
    let page = lab.client(
        "for n in $(seq 50); do curl -sf --max-time 1 http://192.0.2.26:8080/ && exit 0; sleep 0.1; done; exit 1",
    );
    assert_eq!(page.ok().stdout, "<html><body>It Works !</body></html>\n");
    lab.sh("node2", "p26.opensvc.com stop").ok();
}
