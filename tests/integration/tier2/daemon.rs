//! Tier 2: the agent daemon's life cycle and svcmon answered from its
//! memory (docs/behaviour.md, "Daemon process" and "svcmon"), with fake tools on PATH. A guard
//! stops the daemon by its recorded pid, whatever the test's outcome.

use crate::common::*;

struct Daemon<'a> {
    w: &'a World,
    nodemgr: std::path::PathBuf,
}

impl<'a> Daemon<'a> {
    fn new(w: &'a World) -> Daemon<'a> {
        let nodemgr = w.root.join("nodemgr");
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_svcmgr"), &nodemgr).unwrap();
        let svcmon = w.root.join("svcmon");
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_svcmgr"), &svcmon).unwrap();
        let d = Daemon { w, nodemgr };
        // On the host network: loopback and an ephemeral port, so that
        // tests neither expose 0.0.0.0:1214 nor collide with each other.
        d.nodemgr(&["set", "--param", "listener.addr", "--value", "127.0.0.1"])
            .code(0);
        d.nodemgr(&["set", "--param", "listener.port", "--value", "0"])
            .code(0);
        d
    }

    fn nodemgr(&self, args: &[&str]) -> Run {
        self.w.run_as(&self.nodemgr, args)
    }

    fn svcmon(&self, args: &[&str]) -> Run {
        self.w.run_as(&self.w.root.join("svcmon"), args)
    }

    fn pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.w.var().join("osvcd.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

impl Drop for Daemon<'_> {
    fn drop(&mut self) {
        if let Some(pid) = self.pid() {
            // Ours: started by this test; ended by its own pid.
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

#[test]
fn start_svcmon_stop() {
    let w = World::tutorial();
    let d = Daemon::new(&w);
    d.svcmon(&[])
        .code(1)
        .stderr_has("no agent daemon answers on");
    d.nodemgr(&["daemon", "running"]).code(1);
    d.nodemgr(&["daemon", "start"]).code(0);
    d.nodemgr(&["daemon", "running"]).code(0);
    let pid = d.pid().expect("pid file");
    d.nodemgr(&["daemon", "start"])
        .code(0)
        .stderr_is(&format!("the daemon is already running (pid {pid})\n"));
    // A second daemon in the foreground is refused by the lock.
    d.nodemgr(&["daemon", "start", "--foreground"])
        .code(1)
        .stderr_has(&format!("a daemon is already running (pid {pid})"));

    // The monitor fills the services in within its first pass.
    let mut out = String::new();
    for _ in 0..100 {
        let r = d.svcmon(&[]);
        out = r.stdout.clone();
        if out.contains(SVC) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let words = |first: &str| -> Vec<String> {
        out.lines()
            .find(|l| l.split_whitespace().next() == Some(first))
            .map(|l| l.split_whitespace().map(String::from).collect())
            .unwrap_or_default()
    };
    assert!(out.starts_with("Threads "), "{out}");
    // The peer listener, with the port the kernel gave; the local socket
    // is not a thread svcmon lists.
    let listener = words("listener");
    assert_eq!(listener[..2], ["listener", "running"], "{out}");
    let port: u16 = listener[2]
        .strip_prefix("127.0.0.1:")
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    assert!(port > 0 && listener.len() == 3, "{out}");
    assert!(!out.contains("lsnr.sock"), "{out}");
    assert_eq!(words("monitor"), ["monitor", "running"], "{out}");
    assert_eq!(words("scheduler"), ["scheduler", "running"], "{out}");
    assert_eq!(words("Nodes"), ["Nodes", "sles1"], "{out}");
    assert_eq!(words("15m")[1], "|", "{out}");
    // vg up, the rest down: avail warn, overall warn too ("!" twice).
    assert_eq!(words(SVC), [SVC, "warn!", "failover", "|", "!!"], "{out}");
    let json = d.svcmon(&["--format", "json"]);
    json.code(0);
    let v = json.json();
    assert_eq!(v["node"], "sles1");
    assert_eq!(v["threads"]["listener"]["state"], "running");
    assert_eq!(v["threads"]["listener"]["info"], listener[2].as_str());
    assert_eq!(
        v["threads"]["listener"]["stats"],
        serde_json::json!({"accepted": 0, "auth_validated": 0, "rejected": 0, "blacklisted": 0})
    );
    assert_eq!(
        v["threads"]
            .as_object()
            .map(|t| t.keys().cloned().collect::<Vec<_>>()),
        Some(vec![
            "listener".into(),
            "monitor".into(),
            "scheduler".into()
        ])
    );
    // Every local service advertises its config's stamp for replication.
    let conf = &v["nodes"]["sles1"]["services"][SVC]["config"];
    assert!(conf["mtime"].as_f64().unwrap_or(0.0) > 1e9, "{conf}");
    assert_eq!(conf["cksum"].as_str().map(str::len), Some(64), "{conf}");
    assert_eq!(v["nodes"]["sles1"]["services"][SVC]["avail"], "warn");

    d.nodemgr(&["daemon", "stop"]).code(0);
    d.nodemgr(&["daemon", "running"]).code(1);
    assert!(!w.var().join("osvcd.pid").exists());
    assert!(!w.var().join("lsnr/lsnr.sock").exists());
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    // Stopping a stopped daemon is fine.
    d.nodemgr(&["daemon", "stop"]).code(0);
}

#[test]
fn svcmon_shows_a_frozen_node_and_service() {
    let w = World::tutorial();
    let d = Daemon::new(&w);
    w.svc(&["freeze"]).code(0);
    std::fs::write(w.var().join("FROZEN"), "").unwrap();
    d.nodemgr(&["daemon", "start"]).code(0);
    let mut v = serde_json::Value::Null;
    for _ in 0..100 {
        v = d.svcmon(&["--format", "json"]).json();
        if !v["nodes"]["sles1"]["services"][SVC].is_null() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(v["nodes"]["sles1"]["frozen"], true, "{v}");
    assert_eq!(v["nodes"]["sles1"]["services"][SVC]["frozen"], true, "{v}");
    let out = d.svcmon(&[]).stdout;
    assert!(
        out.contains(" state ")
            && out
                .lines()
                .any(|l| l.starts_with(" state") && l.ends_with("| *")),
        "{out}"
    );
    d.nodemgr(&["daemon", "stop"]).code(0);
}

#[test]
fn nodemgr_freezes_and_thaws_the_node() {
    let w = World::tutorial();
    let d = Daemon::new(&w);
    d.nodemgr(&["frozen"]).code(0);
    d.nodemgr(&["freeze"]).code(0);
    d.nodemgr(&["frozen"]).code(1);
    w.svc(&["start"])
        .code(1)
        .stderr_is("HH:MM:SS INFO    P26.OPENSVC.COM         Abort action for frozen service\n");
    d.nodemgr(&["thaw"]).code(0);
    d.nodemgr(&["frozen"]).code(0);
    d.nodemgr(&["thaw"]).code(0);
}

/// A manual stop of an orchestrated service freezes it first (no daemon
/// will start it again), a manual start thaws it (1.9's global expects,
/// locally).
#[test]
fn manual_stop_and_start_of_an_orchestrated_service() {
    let w = World::tutorial();
    w.tutorial_conf_with("[DEFAULT]", "[DEFAULT]\norchestrate = ha");
    w.svc(&["start"]).code(0).stderr_has(
        "HH:MM:SS INFO    P26.OPENSVC.COM         thawed: the agent daemon may fail it over again\n",
    );
    w.svc(&["frozen"]).code(0);
    w.svc(&["stop"]).code(0).stderr_has(
        "HH:MM:SS INFO    P26.OPENSVC.COM         frozen: no agent daemon will start it again until it is started or thawed\n",
    );
    w.svc(&["frozen"]).code(1);
    // Frozen, it still obeys a manual start, which thaws it.
    w.svc(&["start"]).code(0);
    w.svc(&["frozen"]).code(0);
    // The daemon's own actions (--cluster) change nothing of that.
    w.svc(&["stop", "--cluster"])
        .code(0)
        .stderr_lacks("frozen:");
    w.svc(&["frozen"]).code(0);
}

/// An administrator's `stop --rid app` of an orchestrated service with
/// `restart = 2` on app: the service is frozen, so the daemon neither
/// restarts app nor stops the rest of the service (no cluster-wide order).
#[test]
fn a_resource_stopped_by_hand_is_not_restarted_by_the_daemon() {
    let w = World::tutorial();
    w.tutorial_conf_with("[DEFAULT]", "[DEFAULT]\norchestrate = ha");
    w.svc(&["set", "--param", "app.restart", "--value", "2"])
        .code(0);
    let d = Daemon::new(&w);
    w.svc(&["start"]).code(0);
    d.nodemgr(&["daemon", "start"]).code(0);
    w.svc(&["stop", "--rid", "app"])
        .code(0)
        .stderr_has("frozen: no agent daemon will start it again")
        .stderr_has("only part of the service was stopped: no cluster-wide order")
        .stderr_lacks("cluster-wide order 'stopped'");
    // Long enough for the daemon to settle and re-probe the service (2 s
    // for a service with restart) twice.
    std::thread::sleep(std::time::Duration::from_secs(5));
    let v = d.svcmon(&["--format", "json"]).json();
    let s = &v["nodes"]["sles1"]["services"][SVC];
    assert_eq!(s["frozen"], true, "{v:#}");
    assert_ne!(s["avail"], "down", "the rest must stay up: {v:#}");
    assert_eq!(s["restart"], serde_json::json!({}), "{v:#}");
    let log = std::fs::read_to_string(w.root.join("log/node.log")).unwrap_or_default();
    assert!(!log.contains("restart 1/2"), "{log}");
    d.nodemgr(&["daemon", "stop"]).code(0);
}

#[test]
fn garbage_on_the_listener_blacklists_the_source_until_cleared() {
    use std::io::{Read, Write};
    let w = World::tutorial();
    let d = Daemon::new(&w);
    d.nodemgr(&["daemon", "blacklist_status"])
        .code(1)
        .stderr_has("no agent daemon answers on");
    d.nodemgr(&["daemon", "start"]).code(0);
    let v = d.svcmon(&["--format", "json"]).json();
    let addr = v["threads"]["listener"]["info"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(addr.starts_with("127.0.0.1:"), "{v:#}");
    d.nodemgr(&["daemon", "blacklist_status"])
        .code(0)
        .stdout_is("{}\n");
    let send = || {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let _ = s.write_all(b"\x00\x00\x00\x05hello");
        let _ = s.shutdown(std::net::Shutdown::Write);
        let _ = s.read_to_end(&mut Vec::new());
    };
    for _ in 0..7 {
        send();
    }
    let mut out = String::new();
    for _ in 0..100 {
        out = d.nodemgr(&["daemon", "blacklist_status"]).stdout;
        if out.contains("127.0.0.1") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let banned: serde_json::Value = serde_json::from_str(&out).unwrap_or_default();
    assert_eq!(banned["127.0.0.1"]["strikes"], 6, "{out}");
    let stats = &d.svcmon(&["--format", "json"]).json()["threads"]["listener"]["stats"];
    assert_eq!(stats["rejected"], 6, "{stats}");
    assert_eq!(stats["blacklisted"], 1, "{stats}");
    d.nodemgr(&["daemon", "blacklist_clear"])
        .code(0)
        .stdout_is("");
    d.nodemgr(&["daemon", "blacklist_status"])
        .code(0)
        .stdout_is("{}\n");
    let log = std::fs::read_to_string(w.root.join("log/node.log")).unwrap_or_default();
    assert!(log.contains("127.0.0.1 blacklisted for 60 s"), "{log}");
    d.nodemgr(&["daemon", "stop"]).code(0);
}

/// A heartbeat thread that dies on its own (its port is taken) is started
/// again by the supervisor once the port is free.
#[test]
fn a_heartbeat_whose_port_was_taken_is_started_again() {
    let w = World::tutorial();
    let d = Daemon::new(&w);
    // Taken by this test on all addresses, as another program would. The
    // cluster has no other node: nothing is ever sent.
    let squatter = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = squatter.local_addr().unwrap().port().to_string();
    d.nodemgr(&["set", "--param", "hb#1.type", "--value", "unicast"])
        .code(0);
    d.nodemgr(&["set", "--param", "hb#1.port", "--value", &port])
        .code(0);
    d.nodemgr(&["daemon", "start"]).code(0);
    let rx_state = || {
        let r = d.svcmon(&["--format", "json"]);
        r.code(0);
        r.json()["threads"]["hb#1.rx"]["state"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    let until = |want: &str, secs: u64| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            let st = rx_state();
            if st == want {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "hb#1.rx is {st:?}, not {want:?}, after {secs} s"
            );
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    };
    until("stopped", 5);
    drop(squatter);
    // Revived within REVIVE_EVERY (10 s) plus a pass.
    until("running", 15);
    d.nodemgr(&["daemon", "stop"]).code(0);
}

/// The node.log lines of the World that contain `what`.
fn node_log(w: &World, what: &str) -> Vec<String> {
    std::fs::read_to_string(w.root.join("log/node.log"))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(what))
        .map(String::from)
        .collect()
}

/// Polls node.log until a line contains `what` (10 s at most).
fn wait_node_log(w: &World, what: &str) -> Vec<String> {
    for _ in 0..200 {
        let lines = node_log(w, what);
        if !lines.is_empty() {
            return lines;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!(
        "node.log never said {what:?}:\n{}",
        std::fs::read_to_string(w.root.join("log/node.log")).unwrap_or_default()
    );
}

/// The daemon arms its watchdog supervisor and disarms it on a clean
/// stop. Killed, it leaves the supervisor to expire: here, under
/// OSVC_ROOT_PATH on the host, the reset is refused and logged, never
/// done, and the supervisor exits.
#[test]
fn the_watchdog_is_armed_disarmed_and_never_resets_the_test_host() {
    let w = World::tutorial();
    let d = Daemon::new(&w);
    let sock = w.var().join("lsnr").join("watchdog.sock");
    d.nodemgr(&["daemon", "start"]).code(0);
    wait_node_log(&w, "watchdog armed: this node resets itself 1.00s after");
    assert!(
        sock.exists(),
        "the supervisor listens on {}",
        sock.display()
    );
    d.nodemgr(&["daemon", "stop"]).code(0);
    wait_node_log(&w, "watchdog disarmed");
    wait_node_log(&w, "disarmed by the agent: exiting");

    d.nodemgr(&["daemon", "start"]).code(0);
    for _ in 0..100 {
        if node_log(&w, "watchdog armed").len() == 2 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let pid = d.pid().expect("pid file");
    // Ours: started by this test, ended by its pid.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_node_log(&w, "the agent did not pet the watchdog for 1.00s");
    wait_node_log(&w, "watchdog: not ending the host");
    for _ in 0..100 {
        if !sock.exists() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("the supervisor did not exit: {} remains", sock.display());
}

/// `nodemgr set` refuses a watchdog value the daemon could not use.
#[test]
fn nodemgr_set_refuses_a_bad_watchdog_value_and_writes_nothing() {
    let w = World::tutorial();
    let d = Daemon::new(&w);
    let conf = w.etc().join("node.conf");
    let before = std::fs::read_to_string(&conf).unwrap_or_default();
    d.nodemgr(&["set", "--param", "node.watchdog", "--value", "maybe"])
        .code(2)
        .stderr_has("[node] watchdog: 'maybe' is not true or false: nothing written");
    d.nodemgr(&["set", "--param", "node.watchdog_timeout", "--value", "0"])
        .code(2)
        .stderr_has("[node] watchdog_timeout: '0' is not a number of seconds from 0.5 to 600");
    assert_eq!(std::fs::read_to_string(&conf).unwrap_or_default(), before);
    d.nodemgr(&["set", "--param", "node.watchdog_timeout", "--value", "1.5"])
        .code(0);
}

/// `nodemgr validate config` lists every problem of node.conf with its
/// line, as `svcmgr validate config` does for a service file, and exits 2.
#[test]
fn nodemgr_validate_config_lists_every_problem_of_node_conf() {
    let w = World::tutorial();
    let d = Daemon::new(&w);
    let conf = w.etc().join("node.conf");
    d.nodemgr(&["validate", "config"])
        .code(0)
        .stdout_is("/etc/opensvc/node.conf: no problem found\n");
    let before = std::fs::read_to_string(&conf).unwrap();
    let bad = format!(
        "{before}[hb#1]\ntype = unicat\ninterval = 500ms\nport = abc\n\
         [arbitrator#1]\nname = arb1\nsecret = s\ntimeout = 1e19\n\
         [cluster]\nnodes = sles1 -oproxycommand=x\n[hb#2]\ntype = unicast\nintervall = 1\n"
    );
    std::fs::write(&conf, &bad).unwrap();
    let n = before.lines().count();
    // As printed: the root is masked to the real paths.
    let f = "/etc/opensvc/node.conf";
    let want = [
        format!(
            "{f}:{}: [hb#1] type: 'unicat' is not a heartbeat type (one of unicast, multicast, disk)",
            n + 2
        ),
        format!(
            "{f}:{}: [hb#1] interval: '500ms' is not a number of seconds from 0.001 to 86400 (e.g. 2, 0.5 or 2s)",
            n + 3
        ),
        format!(
            "{f}:{}: [hb#1] port: 'abc' is not a port (1 to 65535)",
            n + 4
        ),
        format!(
            "{f}:{}: [arbitrator#1] secret: a secret of length 1 is too weak: use at least 128 random bits, as 32 or more hex digits or 22 or more base64 characters (openssl rand -hex 32)",
            n + 7
        ),
        format!(
            "{f}:{}: [arbitrator#1] timeout: '1e19' is not a number of seconds from 0.001 to 60 (e.g. 2, 0.5 or 2s)",
            n + 8
        ),
        format!(
            "{f}:{}: [cluster] nodes: '-oproxycommand=x' is not a valid node name: only letters, digits, hyphens and dots are allowed",
            n + 10
        ),
        format!(
            "{f}:{}: [hb#2] intervall: unknown keyword (this section has: type, port, dev, addr, intf, interval, timeout)",
            n + 13
        ),
    ];
    d.nodemgr(&["validate", "config"])
        .code(2)
        .stdout_is(&(want.join("\n") + "\n"));
    // Nothing was rewritten.
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), bad);
}

/// `nodemgr set` checks the value with the table `validate config` uses,
/// with the same message, and writes nothing when it is bad.
#[test]
fn nodemgr_set_refuses_unknown_keys_and_bad_values_and_writes_nothing() {
    let w = World::tutorial();
    let d = Daemon::new(&w);
    let conf = w.etc().join("node.conf");
    let before = std::fs::read_to_string(&conf).unwrap();
    // As printed: the root is masked to the real paths.
    let f = "/etc/opensvc/node.conf";
    for (param, value, msg) in [
        (
            "hb#1.port",
            "abc",
            "[hb#1] port: 'abc' is not a port (1 to 65535)",
        ),
        (
            "hb#1.type",
            "unicat",
            "[hb#1] type: 'unicat' is not a heartbeat type",
        ),
        (
            "hb#1.interval",
            "1e20",
            "[hb#1] interval: '1e20' is not a number of seconds",
        ),
        ("hb#1.colour", "blue", "[hb#1] colour: unknown keyword"),
        ("hbs#1.type", "unicast", "[hbs#1]: unknown section"),
        (
            "cluster.nodes",
            "n1 -oproxycommand=x",
            "[cluster] nodes: '-oproxycommand=x' is not a valid node name",
        ),
        (
            "cluster.secret",
            "hunter2",
            "[cluster] secret: a secret of length 7 is too weak",
        ),
        (
            "arbitrator#1.secret",
            "0123456789abcdef",
            "[arbitrator#1] secret: a secret of length 16 is too weak",
        ),
    ] {
        d.nodemgr(&["set", "--param", param, "--value", value])
            .code(2)
            .stderr_has(&format!("{f}: {msg}"))
            .stderr_has(": nothing written");
        assert_eq!(std::fs::read_to_string(&conf).unwrap(), before, "{param}");
    }
}

/// The daemon does not start on an invalid node.conf: it says why and
/// exits 2, and nothing runs (no pid file, no socket answers).
#[test]
fn the_daemon_refuses_to_start_on_an_invalid_node_conf() {
    let w = World::tutorial();
    let d = Daemon::new(&w);
    let conf = w.etc().join("node.conf");
    let text =
        std::fs::read_to_string(&conf).unwrap() + "[hb#1]\ntype = unicast\ninterval = 1e20\n";
    std::fs::write(&conf, text).unwrap();
    for args in [&["daemon", "start"][..], &["daemon", "restart"][..]] {
        d.nodemgr(args)
            .code(2)
            .stderr_has("[hb#1] interval: '1e20' is not a number of seconds from 0.001 to 86400")
            .stderr_has("the daemon does not start with an invalid node.conf");
    }
    assert_eq!(d.pid(), None);
    d.nodemgr(&["daemon", "running"]).code(1);
    // The foreground form (systemd's) refuses too, in the log.
    d.nodemgr(&["daemon", "start", "--foreground"]).code(2);
    assert_eq!(d.pid(), None);
    wait_node_log(&w, "the daemon does not start with an invalid node.conf");
}

/// A reload of an invalid node.conf keeps the running configuration and
/// says why; the fixed file is taken in.
#[test]
fn an_invalid_node_conf_on_reload_keeps_the_previous_configuration() {
    let w = World::tutorial();
    let d = Daemon::new(&w);
    d.nodemgr(&["set", "--param", "hb#1.type", "--value", "unicast"])
        .code(0);
    // Any free port: the cluster has no other node, nothing is sent.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    d.nodemgr(&["set", "--param", "hb#1.port", "--value", &port])
        .code(0);
    d.nodemgr(&["daemon", "start"]).code(0);
    let conf = w.etc().join("node.conf");
    let good = std::fs::read_to_string(&conf).unwrap();
    // A careless edit: the heartbeat type mistyped, a duration that would
    // overflow. Neither stops nor restarts the heartbeat.
    std::fs::write(
        &conf,
        good.replace("type = unicast", "type = unicat\ninterval = 1e20"),
    )
    .unwrap();
    wait_node_log(
        &w,
        "changed but is invalid: keeping the previous configuration",
    );
    wait_node_log(&w, "[hb#1] type: 'unicat' is not a heartbeat type");
    d.nodemgr(&["daemon", "running"]).code(0);
    let threads = d.svcmon(&["--format", "json"]).json()["threads"].clone();
    assert_eq!(threads["hb#1.tx"]["state"], "running", "{threads:#}");
    // The mistyped section never reached the heartbeat supervisor.
    assert!(node_log(&w, "unknown heartbeat type").is_empty());
    d.nodemgr(&["daemon", "stop"]).code(0);
}

/// A TCP connection to `to` from the loopback address `src` (127.0.0.0/8
/// is all on lo), so that a test can play two sources.
fn connect_from(
    src: std::net::Ipv4Addr,
    to: std::net::SocketAddrV4,
) -> std::io::Result<std::net::TcpStream> {
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, SockaddrIn, bind, connect, socket};
    use std::os::fd::AsRawFd;
    let fd = socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::empty(),
        None,
    )?;
    bind(
        fd.as_raw_fd(),
        &SockaddrIn::from(std::net::SocketAddrV4::new(src, 0)),
    )?;
    connect(fd.as_raw_fd(), &SockaddrIn::from(to))?;
    Ok(std::net::TcpStream::from(fd))
}

/// A port free on loopback now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The secret `with_unicast_peer` gives the cluster, for the tests that
/// play node2.
const PEER_SECRET: &str = "0123456789abcdef0123456789abcdef";

/// Makes node2 a member and `hb#1` a unicast heartbeat on a free loopback
/// port, which it returns: a test then plays node2 with [`PEER_SECRET`].
fn with_unicast_peer(d: &Daemon) -> u16 {
    let port = free_port();
    let nodes = format!("{NODE} node2");
    let port_s = port.to_string();
    for (k, v) in [
        ("cluster.secret", PEER_SECRET),
        ("cluster.nodes", nodes.as_str()),
        ("hb#1.type", "unicast"),
        ("hb#1.addr", "127.0.0.1"),
        ("hb#1.port", port_s.as_str()),
    ] {
        d.nodemgr(&["set", "--param", k, "--value", v]).code(0);
    }
    port
}

/// Clients trickling a byte every 0.3 s into the unicast heartbeat port,
/// on as many connections as they can open, do not silence a peer: every
/// connection has a whole-frame deadline and a reader of its own, and one
/// source holds at most a few. Before, one such client (each read()
/// timed alone, one connection served at a time) made the peer lost.
#[test]
fn a_trickling_client_does_not_silence_the_peers() {
    use std::io::Write;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};
    use svcmgr::daemon::wire::{FrameKind, Key, Sealer, write_frame};
    let w = World::tutorial();
    let d = Daemon::new(&w);
    let port = with_unicast_peer(&d);
    d.nodemgr(&["daemon", "start"]).code(0);
    let to = std::net::SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, port);
    let peer = std::net::Ipv4Addr::new(127, 0, 0, 2);
    let stop = AtomicBool::new(false);
    let heard = || {
        let v = d.svcmon(&["--format", "json"]).json();
        !v["nodes"]["node2"].is_null()
    };
    std::thread::scope(|s| {
        // node2: a beat every 0.5 s, from its own address.
        s.spawn(|| {
            let mut sealer =
                Sealer::new(Key::from_secret(PEER_SECRET), "node2", "default").unwrap();
            while !stop.load(Ordering::Relaxed) {
                let frame = sealer.seal(FrameKind::HbUnicast, b"{}").unwrap();
                if let Ok(mut c) = connect_from(peer, to) {
                    let _ = write_frame(&mut c, &frame);
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        while !heard() {
            assert!(Instant::now() < deadline, "node2 never heard");
            std::thread::sleep(Duration::from_millis(200));
        }
        // The tricklers: 6 connections from 127.0.0.1, each announcing a
        // 1000-byte frame and sending a byte every 0.3 s, reconnecting
        // when closed.
        for _ in 0..6 {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let Ok(mut c) = std::net::TcpStream::connect(to) else {
                        std::thread::sleep(Duration::from_millis(100));
                        continue;
                    };
                    let _ = c.write_all(&1000u32.to_be_bytes());
                    while !stop.load(Ordering::Relaxed) && c.write_all(b"x").is_ok() {
                        std::thread::sleep(Duration::from_millis(300));
                    }
                }
            });
        }
        // 8 s of trickling: more than twice the 3 s heartbeat timeout.
        let mut missing = 0;
        for _ in 0..20 {
            std::thread::sleep(Duration::from_millis(400));
            if !heard() {
                missing += 1;
            }
        }
        stop.store(true, Ordering::Relaxed);
        assert_eq!(missing, 0, "node2 was lost while a client trickled");
    });
    let rx = d.svcmon(&["--format", "json"]).json()["threads"]["hb#1.rx"].clone();
    assert!(
        rx["rejected"].as_u64().unwrap_or(0) >= 1,
        "the closed connections are counted: {rx:#}"
    );
    let log = std::fs::read_to_string(w.root.join("log/node.log")).unwrap_or_default();
    let refusals = log
        .lines()
        .filter(|l| l.contains("hb#1.rx: from 127.0.0.1"))
        .count();
    assert!(refusals >= 1, "the trickler's refusals are logged:\n{log}");
    assert!(refusals <= 6, "and rate-limited ({refusals} lines):\n{log}");
    d.nodemgr(&["daemon", "stop"]).code(0);
}

/// A heartbeat accepted before the receiving daemon restarts is refused
/// after it, and counted: the newest seq accepted per peer is kept under
/// `<var>/wire` across restarts. Before, the replay window started empty
/// in every new process and took any old frame once.
#[test]
fn a_heartbeat_replayed_after_a_restart_is_refused_and_counted() {
    use std::time::{Duration, Instant};
    use svcmgr::daemon::wire::{FrameKind, Key, Sealer, write_frame};
    let w = World::tutorial();
    let d = Daemon::new(&w);
    let port = with_unicast_peer(&d);
    let to = std::net::SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, port);
    let peer = std::net::Ipv4Addr::new(127, 0, 0, 2);
    let send = |frame: &[u8]| {
        if let Ok(mut c) = connect_from(peer, to) {
            let _ = write_frame(&mut c, frame);
        }
    };
    let status = || d.svcmon(&["--format", "json"]).json();
    let log = || std::fs::read_to_string(w.root.join("log/node.log")).unwrap_or_default();
    let floors =
        || std::fs::read_to_string(w.var().join("wire/hb#1.floors.json")).unwrap_or_default();
    let mut sealer = Sealer::new(Key::from_secret(PEER_SECRET), "node2", "default").unwrap();
    d.nodemgr(&["daemon", "start"]).code(0);
    // node2 beats until heard; the last beat before it is heard is the
    // one captured.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut captured = Vec::new();
    while status()["nodes"]["node2"].is_null() {
        assert!(
            Instant::now() < deadline,
            "node2 never heard:\n{:#}\n{}",
            status(),
            log()
        );
        captured = sealer.seal(FrameKind::HbUnicast, b"{}").unwrap();
        send(&captured);
        std::thread::sleep(Duration::from_millis(300));
    }
    let before = status()["threads"]["hb#1.rx"]["rejected"]
        .as_u64()
        .unwrap_or(0);
    d.nodemgr(&["daemon", "stop"]).code(0);
    assert!(
        floors().contains("\"node2\""),
        "the clean stop wrote the floors: {:?}\n{}",
        floors(),
        log()
    );
    d.nodemgr(&["daemon", "start"]).code(0);
    let deadline = Instant::now() + Duration::from_secs(10);
    while status()["threads"]["hb#1.rx"]["state"] != "running" {
        assert!(Instant::now() < deadline, "no hb#1.rx:\n{:#}", status());
        std::thread::sleep(Duration::from_millis(100));
    }
    // Give the rx the time to bind before replaying.
    std::thread::sleep(Duration::from_millis(500));
    send(&captured);
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut rx = serde_json::Value::Null;
    while Instant::now() < deadline {
        rx = status()["threads"]["hb#1.rx"].clone();
        if rx["rejected"].as_u64().unwrap_or(0) >= 1 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let s = status();
    let log = log();
    assert_eq!(before, 0, "nothing refused before the restart:\n{log}");
    assert_eq!(
        rx["rejected"].as_u64(),
        Some(1),
        "the replay is counted: {rx:#}\n{log}"
    );
    assert!(
        s["nodes"]["node2"].is_null(),
        "the replay did not bring node2 back: {s:#}\n{log}"
    );
    assert!(
        log.lines().any(
            |l| l.contains("hb#1.rx: from 127.0.0.2: frame from node2 replayed")
                && l.contains(
                    "not newer than the last frame accepted before this receiver restarted"
                )
        ),
        "the replay is logged with its sender:\n{log}"
    );
    // A fresh beat is heard again.
    send(&sealer.seal(FrameKind::HbUnicast, b"{}").unwrap());
    let deadline = Instant::now() + Duration::from_secs(5);
    while status()["nodes"]["node2"].is_null() {
        assert!(
            Instant::now() < deadline,
            "a fresh beat is heard:\n{:#}",
            status()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    d.nodemgr(&["daemon", "stop"]).code(0);
}

/// Waits until the monitor has probed `svc` once (svcmon lists it).
fn wait_probed(d: &Daemon, svc: &str) {
    for _ in 0..200 {
        if d.svcmon(&[]).stdout.contains(svc) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("the monitor never listed {svc}");
}

#[test]
fn print_status_answers_from_the_daemon_memory_until_the_service_changes() {
    // A steady service (down, nothing watched): the monitor probes it
    // again only after STATUS_INTERVAL (10 s), longer than this test.
    let w = World::new();
    w.one_node("svc1", "[vg#0]\nvgname = vgsvc1\n");
    let d = Daemon::new(&w);
    let probed = w
        .svcmgr(&["-s", "svc1", "print", "status"])
        .code(0)
        .stdout
        .clone();
    let probed_json = w.svcmgr(&["-s", "svc1", "json", "status"]).code(0).json();
    d.nodemgr(&["daemon", "start"]).code(0);
    wait_probed(&d, "svc1");
    // Behind the agent's back, the VG is activated: the daemon's memory
    // still answers what it probed (for up to the monitor's interval) ...
    w.vg("vgsvc1", &["lv1"], true, &[]);
    w.svcmgr(&["-s", "svc1", "print", "status"])
        .code(0)
        .stdout_is(&probed);
    let from_memory = w.svcmgr(&["-s", "svc1", "json", "status"]).code(0).json();
    assert_eq!(from_memory, probed_json);
    let same = w
        .svcmgr(&["-s", "svc1", "print", "status", "--format", "json"])
        .code(0)
        .json();
    assert_eq!(same, probed_json);
    // ... and --refresh probes now.
    let reprobed = w
        .svcmgr(&["-s", "svc1", "print", "status", "--refresh"])
        .code(0)
        .stdout_has("up")
        .stdout
        .clone();
    assert_ne!(reprobed, probed, "the probe must see the VG active");
    // An action writes the service's log: the next status is probed.
    w.svcmgr(&["-s", "svc1", "freeze"]).code(0);
    w.svcmgr(&["-s", "svc1", "print", "status"])
        .code(0)
        .stdout_has("up");
    // Without a daemon, every status is probed.
    w.svcmgr(&["-s", "svc1", "thaw"]).code(0);
    d.nodemgr(&["daemon", "stop"]).code(0);
    w.svcmgr(&["-s", "svc1", "print", "status"])
        .code(0)
        .stdout_is(&reprobed);
}

#[test]
fn svcmon_json_has_the_fields_docs_json_md_lists() {
    let w = World::tutorial();
    let d = Daemon::new(&w);
    d.nodemgr(&["daemon", "start"]).code(0);
    wait_probed(&d, SVC);
    let run = d.svcmon(&["--format", "json"]);
    run.code(0);
    let v = run.json();
    eprintln!("{v:#}");
    let nodes = v["nodes"].as_object().expect("nodes");
    crate::tier2::cli_actions::check("svcmon", &v, &run);
    for node in nodes.values() {
        crate::tier2::cli_actions::check("svcmon_node", node, &run);
        for svc in node["services"].as_object().expect("services").values() {
            crate::tier2::cli_actions::check("svcmon_service", svc, &run);
        }
    }
    for th in v["threads"].as_object().expect("threads").values() {
        crate::tier2::cli_actions::check("svcmon_thread", th, &run);
    }
}
