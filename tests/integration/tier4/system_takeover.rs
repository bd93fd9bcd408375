//! Tier 4: parallel takeover. node1 runs ten orchestrated services, each
//! with its own address on the lab's bridge and an application
//! (lab/takeover-cluster.sh); node1 loses power; node2 starts every one of
//! them, several at once but never more than `[node] max_parallel`, each
//! address on an alias of its own, and the client reaches them all again.
// Tests drive the lab and the binary from outside.
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::lab::{BIN, Lab, Out, lab_test, status};

const COUNT: usize = 10;
const MAX_PARALLEL: usize = 3;

fn addr(i: usize) -> String {
    format!("198.51.100.{i}")
}

/// The services up on `node`, as `node`'s daemon sees them.
fn up_on(lab: &Lab, node: &str) -> Vec<String> {
    let st = status(lab, node);
    (1..=COUNT)
        .map(|i| format!("tk{i}"))
        .filter(|s| st["nodes"][node]["services"][s]["avail"] == "up")
        .collect()
}

/// Everything worth reading when this test fails.
fn evidence(lab: &Lab) -> String {
    let svcmon = lab.sh("node2", "svcmon").dump();
    let log = lab
        .sh(
            "node2",
            "grep -v DEBUG /var/log/opensvc/node.log | tail -n 80",
        )
        .dump();
    let addrs = lab.sh("node2", "ip -4 -o addr show dev eth0").dump();
    format!("{svcmon}\n{log}\n{addrs}")
}

/// From node2's node.log, in its order: the most starts in flight at once
/// (each logs `start begins` before its action and `start ends` after).
fn most_in_flight(log: &str) -> usize {
    let (mut now, mut most) = (0usize, 0usize);
    for l in log.lines() {
        if l.contains(": start begins (") {
            now += 1;
            most = most.max(now);
        } else if l.contains(": start ends (") {
            now = now.saturating_sub(1);
        }
    }
    most
}

#[test]
fn a_dead_nodes_services_start_at_once_each_on_its_own_alias() {
    lab_test!();
    let lab = Lab::up(&["--nodes", "2", "--disks", "rawhb:8M"]);
    let param = format!("node.max_parallel={MAX_PARALLEL}");
    let count = COUNT.to_string();
    let setup = Command::new("bash")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/lab/takeover-cluster.sh"
        ))
        .args([lab.id.as_str(), BIN, &count, "--param", &param])
        .output()
        .unwrap();
    let setup = Out {
        code: setup.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&setup.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&setup.stderr).into_owned(),
        what: "lab/takeover-cluster.sh".into(),
    };
    setup.ok();
    // node2 took nothing yet: its log's start lines are the takeover's.
    assert_eq!(
        lab.sh(
            "node2",
            "grep -c 'start begins' /var/log/opensvc/node.log || true"
        )
        .stdout
        .trim(),
        "0",
        "{}",
        evidence(&lab)
    );

    lab.kill("node1");
    // A bound on the wait, not a timing assertion: detection, proof and
    // ready wait take about 5 s, the starts a second or two.
    let deadline = Instant::now() + Duration::from_secs(90);
    while up_on(&lab, "node2").len() < COUNT {
        assert!(
            Instant::now() < deadline,
            "node2 did not take every service over:\n{}",
            evidence(&lab)
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // Every address answers the client again (the announce moved the
    // client's ARP entries to node2; a few tries absorb a late one).
    let pings = (1..=COUNT)
        .map(|i| format!("ping -c 1 -W 1 {} >/dev/null || exit 1", addr(i)))
        .collect::<Vec<_>>()
        .join("; ");
    let reached = lab.client(&format!(
        "for try in 1 2 3 4 5; do ( {pings} ) && exit 0; sleep 0.5; done; exit 1"
    ));
    assert_eq!(reached.code, 0, "{}\n{}", reached.dump(), evidence(&lab));

    // The starts overlapped, within the bound.
    let log = lab
        .sh("node2", "cat /var/log/opensvc/node.log")
        .ok()
        .stdout
        .clone();
    let most = most_in_flight(&log);
    assert!(
        (2..=MAX_PARALLEL).contains(&most),
        "wanted 2 to {MAX_PARALLEL} starts in flight at once on node2, saw {most}:\n{}",
        evidence(&lab)
    );
    assert!(
        log.contains(&format!(
            "starting {COUNT} services here, {MAX_PARALLEL} at a time"
        )),
        "{}",
        evidence(&lab)
    );

    // Each address on an alias label of its own (the startip lock).
    let ip = lab
        .sh("node2", "ip -4 -o addr show dev eth0")
        .ok()
        .stdout
        .clone();
    let mut labels: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for i in 1..=COUNT {
        let a = addr(i);
        let line = ip.lines().find(|l| l.contains(&format!(" {a}/")));
        let Some(line) = line else {
            panic!("{a} is not on node2's eth0:\n{}", evidence(&lab));
        };
        // `... scope global [secondary] eth0:N\ valid_lft ...`
        let label = line
            .split_whitespace()
            .skip_while(|w| *w != "scope")
            .find(|w| w.starts_with("eth0"))
            .unwrap_or("")
            .to_string();
        labels.entry(label).or_default().push(a);
    }
    assert!(
        labels.len() == COUNT && labels.keys().all(|l| l.starts_with("eth0:")),
        "every address wants an eth0:N label of its own: {labels:?}\n{}",
        evidence(&lab)
    );
}
