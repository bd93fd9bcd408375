//! Tier 4: the disk heartbeat carries whole datasets (docs/behaviour.md,
//! "Heartbeats"): a compact beat in each slot's first block, the services
//! part after it, so that a node cut from the network is still seen with
//! what it runs, and a change it makes still reaches its peer.

use crate::lab::{Lab, lab_test, wait_for};

const SECRET: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

#[test]
fn a_node_cut_from_the_network_is_still_seen_with_its_services_on_the_disk() {
    lab_test!();
    let lab = Lab::up(&["--nodes", "2", "--disks", "rawhb:8M"]);
    let dev = lab.get("disk_rawhb");
    // A cheap service on node1: one app resource with no launchers.
    lab.sh(
        "node1",
        "mkdir -p /etc/opensvc/none.d && printf '[DEFAULT]\\nservice_type = TST\\nnodes = node1\\n\
         [app]\\ndir = /etc/opensvc/none.d\\n' >/etc/opensvc/cut1.conf",
    )
    .ok();
    // Cut before anything starts: node2 never hears node1 on the network,
    // nor reaches its listener; everything it learns comes from the disk.
    lab.sh("node1", "ip link set eth0 down").ok();
    lab.start_pair_unicast_and_disk(SECRET, &dev);
    let cut1 = |st: &serde_json::Value| st["nodes"]["node1"]["services"]["cut1"].clone();
    let st = wait_for(&lab, "node2", "seen node1's services on the disk", |st| {
        st["threads"]["hb#2.rx"]["peers"]["node1"] == true
            && st["nodes"]["node1"].get("pending").is_none()
            && cut1(st).is_object()
    });
    // Never heard on the network (absent, or stale).
    assert_ne!(st["threads"]["hb#1.rx"]["peers"]["node1"], true, "{st:#}");
    assert_eq!(cut1(&st)["frozen"], false, "{st:#}");
    // A change on node1 reaches node2 over the disk alone.
    lab.sh("node1", "svcmgr -s cut1 freeze").ok();
    wait_for(&lab, "node2", "seen cut1 frozen on node1", |st| {
        cut1(st)["frozen"] == true
    });
    lab.sh("node1", "ip link set eth0 up").ok();
    for n in ["node1", "node2"] {
        lab.sh(n, "nodemgr daemon stop").ok();
    }
}
