//! Tier 2: node.conf through its one parser (src/config/node.rs), as the
//! operator meets it: `nodemgr validate config` lists every problem with
//! its file and line and exits 2, exits 0 on a good file, and a daemon is
//! never started on a bad one. Nothing is written either way.

use crate::common::*;

/// As printed: the root is masked to the real paths.
const F: &str = "/etc/opensvc/node.conf";

fn nodemgr(w: &World) -> std::path::PathBuf {
    let nodemgr = w.root.join("nodemgr");
    if !nodemgr.exists() {
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_svcmgr"), &nodemgr).unwrap();
    }
    nodemgr
}

const GOOD: &str = "[node]\nhost_mode = PRD\nruser = svcsync admin@node3\nwatchdog = yes\n\
    watchdog_timeout = 0.5\nsplit_action = crash\nready_period = 0.2\nmax_parallel = 4\n\
    [cluster]\nnodes = node1 node2\nsecret = 0123456789abcdef0123456789abcdef\nname = c1\nquorum = true\n\
    [listener]\naddr = 127.0.0.1\nport = 0\naddr@node2 = 127.0.0.2\nport@node2 = 1300\n\
    [hb#1]\ntype = unicast\ninterval = 0.2\ntimeout = 0.8\nport = 10000\n\
    [hb#2]\ntype = disk\ndev = /dev/mapper/hb\n\
    [hb#3]\ntype = multicast\naddr = 224.3.29.71\nintf = eth0\n\
    [arbitrator#1]\nname = arb1\nsecret = q83vEjRWeJCrze8SNFZ4kA==\ncluster = arbiters\ntimeout = 1\nport = 1214\n\
    [stonith#node2]\ncmd = /usr/local/sbin/fence-node2 --hard\n";

#[test]
fn a_good_node_conf_validates_with_exit_0() {
    let w = World::new();
    let conf = w.etc().join("node.conf");
    std::fs::write(&conf, GOOD).unwrap();
    w.run_as(&nodemgr(&w), &["validate", "config"])
        .code(0)
        .stdout_is(&format!("{F}: no problem found\n"));
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), GOOD);
}

/// `[node] max_parallel` (how many starts of one takeover run at once) is
/// a whole number from 1 to 256: `nodemgr set` refuses anything else with
/// the validator's message, exit 2, writing nothing.
#[test]
fn max_parallel_is_a_whole_number_from_1_to_256() {
    let w = World::new();
    let nodemgr = nodemgr(&w);
    let conf = w.etc().join("node.conf");
    std::fs::write(&conf, GOOD).unwrap();
    for bad in ["0", "257", "2.5", "many"] {
        w.run_as(
            &nodemgr,
            &["set", "--param", "node.max_parallel", "--value", bad],
        )
        .code(2)
        .stderr_has(&format!(
            "[node] max_parallel: '{bad}' is not a whole number from 1 to 256"
        ));
        assert_eq!(std::fs::read_to_string(&conf).unwrap(), GOOD, "{bad}");
    }
    w.run_as(
        &nodemgr,
        &["set", "--param", "node.max_parallel", "--value", "8"],
    )
    .code(0);
    w.run_as(&nodemgr, &["validate", "config"]).code(0);
}

/// One bad line at a time, each kind of problem the parser finds: the
/// message names the file and the line, the exit code is 2, the file is
/// left as it was, and `nodemgr daemon start` refuses it the same way.
#[test]
fn every_kind_of_problem_is_located_and_exits_2_writing_nothing() {
    let w = World::new();
    let nodemgr = nodemgr(&w);
    let conf = w.etc().join("node.conf");
    let cases: &[(&str, &str)] = &[
        (
            "[hb#4]\ntype = token-ring\n",
            "[hb#4] type: 'token-ring' is not a heartbeat type (one of unicast, multicast, disk)",
        ),
        (
            "[hb#4]\ntype = unicast\ninterval = 0\n",
            "[hb#4] interval: '0' is not a number of seconds from 0.001 to 86400",
        ),
        (
            "[hb#4]\ntype = unicast\nport = 99999\n",
            "[hb#4] port: '99999' is not a port (1 to 65535)",
        ),
        (
            "[hb#4]\ntype = unicast\ncolour = blue\n",
            "[hb#4] colour: unknown keyword",
        ),
        (
            "[heartbeat]\ntype = unicast\n",
            "[heartbeat]: unknown section",
        ),
        (
            "[node]\nsplit_action = halt\n",
            "[node]: duplicate section, first at /etc/opensvc/node.conf:1",
        ),
        (
            "[hb#4]\ntype = unicast\ntype = disk\n",
            "[hb#4] type: duplicate keyword, first at /etc/opensvc/node.conf:",
        ),
        ("garbage line\n", "cannot parse 'garbage line'"),
    ];
    let lines = GOOD.lines().count();
    for (tail, want) in cases {
        let text = format!("{GOOD}{tail}");
        std::fs::write(&conf, &text).unwrap();
        let r = w.run_as(&nodemgr, &["validate", "config"]);
        r.code(2).stdout_has(want);
        // Every line printed is `file:line: ...`, the line one of the file's.
        for l in r.stdout.lines() {
            let n: usize = l
                .strip_prefix(&format!("{F}:"))
                .and_then(|rest| rest.split(':').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| r.fail(&format!("not located: {l}")));
            if n == 0 || n > lines + tail.lines().count() {
                r.fail(&format!("line {n} is not in the file: {l}"));
            }
        }
        w.run_as(&nodemgr, &["daemon", "start"])
            .code(2)
            .stderr_has(want)
            .stderr_has("the daemon does not start with an invalid node.conf");
        assert_eq!(std::fs::read_to_string(&conf).unwrap(), text, "{tail:?}");
        assert!(!w.var().join("osvcd.pid").exists(), "a daemon started");
    }
}
