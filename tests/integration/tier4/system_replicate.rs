//! Tier 4: the peer listener on port 1214 and config replication between
//! two daemons (docs/behaviour.md, "Listener", "Config replication"): a
//! service created on node1
//! and extended to node2 arrives there frozen, with its link; later edits
//! follow; an invalid config does not; hostile frames are refused.

use std::time::{Duration, Instant};

use crate::lab;
use crate::lab::{Lab, lab_test};

const SECRET: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// Daemons on `nodes`, one cluster, a unicast heartbeat (which carries
/// the config stamps) and the listener on its default 0.0.0.0:1214.
fn daemons(nodes: &[&str]) -> Lab {
    let lab = Lab::up(&["--nodes", &nodes.len().to_string()]);
    let list = nodes.join(" ");
    for n in nodes {
        lab.install(n);
        lab.sh(
            n,
            &format!(
                "nodemgr set --param cluster.nodes --value '{list}' && \
                 nodemgr set --param cluster.secret --value {SECRET} && \
                 nodemgr set --param hb#1.type --value unicast && nodemgr daemon start"
            ),
        )
        .ok();
    }
    lab
}

fn status(lab: &Lab, node: &str) -> serde_json::Value {
    let out = lab.sh(node, "svcmon --format json");
    out.ok();
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{}", out.dump()))
}

/// Polls a shell line on `node` until `ok` holds on its output (15 s).
fn wait_sh(lab: &Lab, node: &str, line: &str, what: &str, ok: impl Fn(&lab::Out) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let out = lab.sh(node, line);
        if ok(&out) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{node}: never {what}:\n{}\n=== node.log:\n{}",
            out.dump(),
            lab.sh(node, "cat /var/log/opensvc/node.log").stdout
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn conf(lab: &Lab, node: &str) -> String {
    lab.sh(node, "cat /etc/opensvc/svc1.conf").stdout
}

fn same_conf_on_node2(lab: &Lab, what: &str) {
    let want = conf(lab, "node1");
    wait_sh(lab, "node2", "cat /etc/opensvc/svc1.conf", what, |o| {
        o.code == 0 && o.stdout == want
    });
    // Both sides agree on the stamp: the origin's mtime was kept.
    let mtime = |n| lab.sh(n, "stat -c %Y /etc/opensvc/svc1.conf").stdout;
    assert_eq!(mtime("node1"), mtime("node2"));
}

#[test]
fn a_created_service_replicates_frozen_and_edits_follow_but_not_invalid_ones() {
    lab_test!();
    let lab = daemons(&["node1", "node2"]);
    let st = status(&lab, "node1");
    assert_eq!(st["threads"]["listener"]["info"], "0.0.0.0:1214", "{st:#}");
    let out = lab.sh("node1", "svcmon");
    assert!(
        out.stdout
            .lines()
            .any(|l| l == " listener  running 0.0.0.0:1214"),
        "{}",
        out.dump()
    );

    // (a) Created on node1 for node1 only: not sent; extended: it arrives.
    lab.sh("node1", "svcmgr -s svc1 create").ok();
    std::thread::sleep(Duration::from_secs(3));
    lab.sh("node2", "test ! -e /etc/opensvc/svc1.conf").ok();
    lab.sh(
        "node1",
        "svcmgr -s svc1 set --param DEFAULT.nodes --value 'node1 node2'",
    )
    .ok();
    same_conf_on_node2(&lab, "got svc1.conf");
    lab.sh("node2", "test -L /etc/opensvc/svc1").ok();
    // `frozen` exits 1 for a frozen service.
    lab.sh("node2", "svcmgr -s svc1 frozen").code(1);
    let log = lab.sh("node2", "cat /var/log/opensvc/node.log").stdout;
    assert!(
        log.contains("svc1: config installed from node1 (new service, frozen"),
        "{log}"
    );

    // (b) A later edit on node1 follows.
    lab.sh(
        "node1",
        "svcmgr -s svc1 set --param DEFAULT.comment --value 'second edit'",
    )
    .ok();
    same_conf_on_node2(&lab, "got the second edit");
    assert!(conf(&lab, "node2").contains("second edit"));

    // (c) An invalid config written on node1 is refused, node2 says why.
    let kept = conf(&lab, "node2");
    lab.sh(
        "node1",
        "printf '[bogus#1]\\nx = 1\\n' >> /etc/opensvc/svc1.conf",
    )
    .ok();
    lab.sh("node1", "svcmgr -s svc1 validate config").code(2);
    wait_sh(
        &lab,
        "node2",
        "cat /var/log/opensvc/node.log",
        "logged the refusal",
        |o| {
            o.stdout
                .contains("svc1: config from node1 refused, the live file is kept")
        },
    );
    let log = lab.sh("node2", "cat /var/log/opensvc/node.log").stdout;
    assert!(
        log.contains("/etc/opensvc/svc1.conf:") && log.contains(": [bogus#1]: unknown section"),
        "{log}"
    );
    assert_eq!(conf(&lab, "node2"), kept);
    // Logged once, not once a second.
    std::thread::sleep(Duration::from_secs(3));
    let log = lab.sh("node2", "cat /var/log/opensvc/node.log").stdout;
    assert_eq!(
        log.matches("svc1: config from node1 refused").count(),
        1,
        "{log}"
    );
    let st = status(&lab, "node1");
    assert!(
        st["threads"]["listener"]["stats"]["auth_validated"]
            .as_u64()
            .unwrap_or(0)
            >= 3,
        "{st:#}"
    );
    for n in ["node1", "node2"] {
        lab.sh(n, "nodemgr daemon stop").ok();
    }
}

#[test]
fn hostile_listener_frames_are_refused_counted_and_harmless() {
    lab_test!();
    let lab = daemons(&["node1"]);
    let before = lab
        .sh(
            "node1",
            "ls -A /etc/opensvc; ls /var/lib/opensvc | grep FROZEN",
        )
        .stdout;
    // From the client: forged (right framing, wrong key), truncated,
    // oversized length prefix, garbage, another cluster's name; then a
    // burst that gets the client blacklisted.
    let script = r#"
import socket, struct
def send(b):
    s = socket.create_connection(("192.0.2.21", 1214), timeout=5)
    try:
        s.sendall(b)
        s.shutdown(socket.SHUT_WR)
        got = s.recv(10)
    except OSError:
        got = b""
    s.close()
    assert got == b"", got
def frame(cluster):
    name = b"node2"
    hdr = b"SVM1" + bytes([2, len(name)]) + name + bytes([len(cluster)]) + cluster + struct.pack(">Q", 1)
    return hdr + bytes(24) + bytes(40)
forged = frame(b"default")
send(struct.pack(">I", len(forged)) + forged)
send(struct.pack(">I", len(forged)) + forged[:20])
send(struct.pack(">I", 50 * 1024 * 1024))
send(b"GET / HTTP/1.0\r\n\r\n")
other = frame(b"other")
send(struct.pack(">I", len(other)) + other)
for _ in range(3):
    send(b"\x00\x00\x00\x05hello")
print("sent")
"#;
    lab.client(&format!("python3 - <<'EOF'\n{script}\nEOF"))
        .ok();
    let deadline = Instant::now() + Duration::from_secs(10);
    let st = loop {
        let st = status(&lab, "node1");
        let s = &st["threads"]["listener"]["stats"];
        if s["rejected"].as_u64() == Some(6) && s["blacklisted"].as_u64() == Some(2) {
            break st;
        }
        assert!(Instant::now() < deadline, "never counted:\n{st:#}");
        std::thread::sleep(Duration::from_millis(200));
    };
    let s = &st["threads"]["listener"]["stats"];
    assert_eq!(s["accepted"], 8, "{st:#}");
    assert_eq!(s["auth_validated"], 0, "{st:#}");
    assert_eq!(st["threads"]["listener"]["state"], "running");
    lab.sh("node1", "nodemgr daemon running").ok();
    let after = lab
        .sh(
            "node1",
            "ls -A /etc/opensvc; ls /var/lib/opensvc | grep FROZEN",
        )
        .stdout;
    assert_eq!(before, after, "nothing was created or changed");
    let log = lab.sh("node1", "cat /var/log/opensvc/node.log").stdout;
    assert!(log.contains("192.0.2.10 blacklisted for 60 s"), "{log}");
    // Logged at most once per source per 5 s: the burst is one line.
    assert!(
        log.matches("refused a request from 192.0.2.10").count() <= 2,
        "{log}"
    );
    lab.sh("node1", "nodemgr daemon stop").ok();
}
