//! Tier 4: the multicast heartbeat between two lab nodes (docs/behaviour.md,
//! "Heartbeats"): each daemon sees the other beat through the group on eth0, a bad
//! group is refused by name, garbage datagrams to the group are counted and
//! harmless, and a dead peer is lost within the timeout.

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
        lab.sh(
            n,
            &format!(
                "nodemgr set --param cluster.nodes --value 'node1 node2' && \
                 nodemgr set --param cluster.secret --value {SECRET} && \
                 nodemgr set --param hb#1.type --value multicast && \
                 nodemgr set --param hb#1.intf --value eth0 && {bad}\
                 nodemgr daemon start"
            ),
        )
        .ok();
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
