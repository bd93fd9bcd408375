//! Tier 2: every config in examples/ (shipped in the package under
//! /usr/share/doc/svcmgr/examples) validates as it stands: the service
//! files with `svcmgr validate config`, the node.conf files with `nodemgr
//! validate config`, each exit 0 with nothing but "no problem found".

use crate::common::*;

use std::path::{Path, PathBuf};

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

fn example(name: &str) -> String {
    let p = examples_dir().join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The services, by name (the file is `<name>.conf`).
const SERVICES: &[&str] = &["p26.opensvc.com", "svc1"];

/// The node.conf files that validate as shipped.
const NODE_CONFS: &[&str] = &["node-heartbeats.conf", "node-stonith.conf"];

/// Validates once its placeholder secret is replaced (below).
const QUORUM: &str = "node-quorum.conf";

/// The examples name node1 and node2, as the lab does.
fn world() -> World {
    let mut w = World::new();
    w.node = "node1".into();
    w
}

#[test]
fn every_example_is_checked_here() {
    let mut listed: Vec<String> = SERVICES
        .iter()
        .map(|s| format!("{s}.conf"))
        .chain(NODE_CONFS.iter().map(|s| s.to_string()))
        .chain([QUORUM.to_string()])
        .collect();
    listed.sort();
    let mut found: Vec<String> = std::fs::read_dir(examples_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| {
            std::path::Path::new(n)
                .extension()
                .is_some_and(|e| e == "conf")
        })
        .collect();
    found.sort();
    assert_eq!(found, listed, "a .conf in examples/ that no test validates");
}

#[test]
fn the_service_examples_validate() {
    for svc in SERVICES {
        let w = world();
        w.write_conf_ext(svc, "conf", &example(&format!("{svc}.conf")));
        let link = w.svc_link(svc);
        w.run_as(&link, &["validate", "config"])
            .code(0)
            .stdout_is(&format!("/etc/opensvc/{svc}.conf: no problem found\n"))
            .stderr_is("");
    }
}

#[test]
fn the_node_conf_examples_validate() {
    for name in NODE_CONFS {
        let w = world();
        let nodemgr = w.cmds.join("nodemgr");
        std::os::unix::fs::symlink(svcmgr_bin(), &nodemgr).unwrap();
        std::fs::write(w.etc().join("node.conf"), example(name)).unwrap();
        w.run_as(&nodemgr, &["validate", "config"])
            .code(0)
            .stdout_is("/etc/opensvc/node.conf: no problem found\n")
            .stderr_is("");
    }
}

/// The quorum example's arbitrator secret is a placeholder the daemon
/// refuses, so that nobody runs a cluster on a secret printed in a
/// package; with a real secret in its place the file validates.
#[test]
fn the_quorum_example_needs_its_placeholder_replaced() {
    let w = world();
    let nodemgr = w.cmds.join("nodemgr");
    std::os::unix::fs::symlink(svcmgr_bin(), &nodemgr).unwrap();
    let text = example(QUORUM);
    let conf = w.etc().join("node.conf");
    std::fs::write(&conf, &text).unwrap();
    let line = text
        .lines()
        .position(|l| l.starts_with("secret = <replace"))
        .expect("the placeholder line")
        + 1;
    w.run_as(&nodemgr, &["validate", "config"])
        .code(2)
        .stdout_has(&format!(
            "/etc/opensvc/node.conf:{line}: [arbitrator#1] secret: a secret of length"
        ));
    let real = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    let fixed: String = text
        .lines()
        .map(|l| {
            if l.starts_with("secret = <replace") {
                format!("secret = {real}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(&conf, fixed).unwrap();
    w.run_as(&nodemgr, &["validate", "config"])
        .code(0)
        .stdout_is("/etc/opensvc/node.conf: no problem found\n");
}
