//! Tier 4: the multicast heartbeat between two lab nodes (docs/behaviour.md,
//! "Heartbeats"): each daemon sees the other beat through the group on eth0, a bad
//! group is refused by name, garbage datagrams to the group are counted and
//! harmless, and a dead peer is lost within the timeout; with compact beats
//! a thousand services reach the peer over multicast alone.

use std::time::Duration;

use crate::lab;
use crate::lab::{Lab, lab_test, status, wait_for};

const SECRET: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const GROUP: &str = "224.3.29.71:10000";

/// The svcmon line of `thread`, split on blanks.
fn svcmon_row(lab: &Lab, node: &str, thread: &str) -> (Vec<String>, String) {
    let out = lab.sh(node, "svcmon");
    out.ok();
    let row = out
        .stdout
        .lines()
        .find(|l| l.starts_with(&format!(" {thread} ")))
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    (row, out.dump())
}

/// Makes `node` a member of node1 and node2's cluster with a multicast
/// heartbeat on eth0 alone, runs `before_start` (shell, ending in `&& `
/// when not empty), and starts its daemon.
#[track_caller]
fn start_on_multicast(lab: &Lab, node: &str, before_start: &str) {
    lab.sh(
        node,
        &format!(
            "nodemgr set --param cluster.nodes --value 'node1 node2' && \
             nodemgr set --param cluster.secret --value {SECRET} && \
             nodemgr set --param hb#1.type --value multicast && \
             nodemgr set --param hb#1.intf --value eth0 && {before_start}\
             nodemgr daemon start"
        ),
    )
    .ok();
}

#[test]
fn multicast_heartbeats_see_the_peer_refuse_garbage_and_lose_a_dead_node() {
    lab_test!();
    let lab = Lab::up(&["--nodes", "2"]);
    for n in ["node1", "node2"] {
        lab.install(n);
        // node1 first has a section with a unicast address as the group:
        // the daemon refuses to start on it, naming it (exit 2); without
        // the section it starts.
        let bad = if n == "node1" {
            "nodemgr set --param hb#2.type --value multicast && \
             nodemgr set --param hb#2.addr --value 10.0.0.1 && \
             { nodemgr daemon start 2>/tmp/refused; test $? = 2; } && \
             grep -F \"[hb#2] addr: '10.0.0.1' is not an IPv4 multicast group\" /tmp/refused && \
             sed -i '/^\\[hb#2\\]/,$d' /etc/opensvc/node.conf && "
        } else {
            ""
        };
        start_on_multicast(&lab, n, bad);
    }
    for (me, peer) in [("node1", "node2"), ("node2", "node1")] {
        wait_for(&lab, me, &format!("seen {peer} beating"), |st| {
            st["threads"]["hb#1.rx"]["peers"][peer] == true
                && st["threads"]["hb#1.tx"]["peers"][peer] == true
                && st["nodes"][peer].is_object()
        });
    }
    for thread in ["hb#1.rx", "hb#1.tx"] {
        let (row, dump) = svcmon_row(&lab, "node1", thread);
        assert_eq!(row, [thread, "running", GROUP, "|", "/", "O"], "{dump}");
    }

    let st = status(&lab, "node1");
    assert!(st["threads"].get("hb#2.rx").is_none(), "{st:#}");
    assert!(st["threads"].get("hb#2.tx").is_none(), "{st:#}");

    // From the client: a forged frame (right layout, wrong key, claiming
    // node2), a truncated one, plain garbage and an empty datagram.
    let script = r#"
import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("192.0.2.10"))
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
name = b"node2"; cluster = b"default"
hdr = b"SVM2" + bytes([4, len(name)]) + name + bytes([len(cluster)]) + cluster + bytes([0]) + struct.pack(">Q", 1)
forged = hdr + bytes(24) + bytes(40)
for b in [forged, forged[:20], b"GET / HTTP/1.0\r\n\r\n", b""]:
    s.sendto(b, ("224.3.29.71", 10000))
"#;
    lab.client(&format!("python3 - <<'EOF'\n{script}\nEOF"))
        .ok();
    let st = wait_for(&lab, "node1", "counted the rejections", |st| {
        st["threads"]["hb#1.rx"]["rejected"].as_u64().unwrap_or(0) >= 4
    });
    assert_eq!(st["threads"]["hb#1.rx"]["state"], "running", "{st:#}");
    // Harmless: node2 still beats, seen through its real frames only.
    std::thread::sleep(Duration::from_secs(2));
    let st = status(&lab, "node1");
    assert_eq!(st["threads"]["hb#1.rx"]["peers"]["node2"], true, "{st:#}");
    assert!(st["nodes"]["node2"].is_object(), "{st:#}");
    lab.sh("node1", "nodemgr daemon running").ok();

    // Power loss on node2: node1 marks it stale and forgets it within the
    // 3 s timeout (+ the 200 ms prune tick and our polling).
    lab::power_loss_is_seen(&lab, "node2", "node1");
    lab.sh("node1", "nodemgr daemon stop").ok();
}

/// Polls `node`'s daemon status until `ok` holds, for `secs` at most;
/// says what it last saw of `peer`'s services when it gives up (the whole
/// status would be thousands of lines).
#[track_caller]
fn wait_long(
    lab: &Lab,
    node: &str,
    peer: &str,
    secs: u64,
    what: &str,
    ok: impl Fn(&serde_json::Value) -> bool,
) {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let st = status(lab, node);
        if ok(&st) {
            return;
        }
        if std::time::Instant::now() >= deadline {
            let services = &st["nodes"][peer]["services"];
            let count = services.as_object().map_or(0, serde_json::Map::len);
            let mut short = st.clone();
            short["nodes"][peer]["services"] = serde_json::json!(format!("{count} services"));
            let log = lab.sh(node, "tail -n 40 /var/log/opensvc/node.log").stdout;
            let peer_log = lab.sh(peer, "tail -n 40 /var/log/opensvc/node.log").stdout;
            panic!(
                "{node}: never {what} within {secs} s:\n{short:#}\n--- {node} node.log ---\n{log}\n--- {peer} node.log ---\n{peer_log}"
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A thousand services on node1 with a multicast heartbeat alone: every
/// beat is compact (a digest of the services), so it fits a datagram, and
/// node2 fetches the services from node1's listener; one service frozen
/// on node1 reaches node2 the same way.
#[test]
fn a_thousand_services_reach_the_peer_over_multicast_alone() {
    lab_test!();
    let lab = Lab::up(&["--nodes", "2"]);
    const COUNT: usize = 1000;
    // Cheap services: one app resource with no launchers, nothing to probe.
    lab.sh(
        "node1",
        &format!(
            "mkdir -p /etc/opensvc/none.d && for i in $(seq {COUNT}); do \
             printf '[DEFAULT]\\nservice_type = TST\\nnodes = node1\\n[app]\\ndir = /etc/opensvc/none.d\\n' \
             >/etc/opensvc/m$i.conf; done"
        ),
    )
    .ok();
    for n in ["node1", "node2"] {
        lab.install(n);
        start_on_multicast(&lab, n, "");
    }
    let services_of = |st: &serde_json::Value| {
        st["nodes"]["node1"]["services"]
            .as_object()
            .map_or(0, serde_json::Map::len)
    };
    wait_long(
        &lab,
        "node2",
        "node1",
        180,
        "saw node1's 1000 services",
        |st| services_of(st) == COUNT && st["threads"]["hb#1.rx"]["peers"]["node1"] == true,
    );
    // node1's beats went out whole: its tx sent them (a datagram too big
    // is not sent, and marks the peers not beating), and nothing was
    // refused on either side.
    let st1 = status(&lab, "node1");
    assert_eq!(
        st1["threads"]["hb#1.tx"]["peers"]["node2"], true,
        "{:#}",
        st1["threads"]
    );
    let st2 = status(&lab, "node2");
    assert!(
        st2["threads"]["hb#1.rx"].get("refused_datasets").is_none(),
        "{:#}",
        st2["threads"]
    );
    // A change on node1 reaches node2.
    lab.sh("node1", "svcmgr -s m500 freeze").ok();
    wait_long(
        &lab,
        "node2",
        "node1",
        30,
        "saw m500 frozen on node1",
        |st| {
            st["nodes"]["node1"]["services"]["m500"]["frozen"] == true
                && st["nodes"]["node1"]["services"]["m499"]["frozen"] == false
        },
    );
    for n in ["node1", "node2"] {
        lab.sh(n, "nodemgr daemon stop").ok();
    }
}
