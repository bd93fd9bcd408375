//! Tier 4: the daemon restarts a crashed application (`restart = N`,
//! docs/orchestration.md, "A resource that fails") and, once the restarts are spent on a
//! `monitor = true` resource, runs the monitor action (freezestop): the
//! peer takes the service over.

use std::time::{Duration, Instant};

use crate::lab::{
    Lab, SERVICE_IP, avail, lab_test, log_lines, orchestrated_lab_with, running_on_node1, status,
    wait_for,
};

const PAGE: &str = "<html><body>It Works !</body></html>\n";
const SVC: &str = "p26.opensvc.com";

/// The web server's pid on `node`, from the launcher's pid file.
fn server_pid(lab: &Lab, node: &str) -> String {
    let out = lab.sh(node, "cat /svc1/app/webserver.pid");
    out.ok();
    let pid = out.stdout.trim().to_string();
    assert!(
        !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()),
        "{}",
        out.dump()
    );
    pid
}

/// Kills that pid only (in the node's PID namespace), never by name.
fn kill_server(lab: &Lab, node: &str) -> String {
    let pid = server_pid(lab, node);
    lab.sh(node, &format!("kill -KILL {pid}")).ok();
    pid
}

/// Polls `node`'s node.log until a line contains `what` (20 s at most).
fn wait_log(lab: &Lab, node: &str, what: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let lines = log_lines(lab, node, what);
        if !lines.is_empty() {
            return lines;
        }
        if Instant::now() >= deadline {
            let all = lab.sh(node, "cat /var/log/opensvc/node.log");
            panic!(
                "{node}: never logged {what:?}\n{}\n{:#}",
                all.dump(),
                status(lab, node)
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_killed_application_is_restarted_in_place() {
    lab_test!();
    let lab = orchestrated_lab_with(false, &["app.restart=2"]);
    running_on_node1(&lab);
    assert_eq!(lab.fetch(SERVICE_IP), PAGE);
    let killed = kill_server(&lab, "node1");
    wait_log(&lab, "node1", &format!("{SVC}: app down: restart 1/2"));
    assert_eq!(lab.fetch(SERVICE_IP), PAGE);
    assert_ne!(server_pid(&lab, "node1"), killed);
    // Up for STABLE_UP (10 s): the count goes back to 0, and the service
    // stayed on node1.
    wait_log(
        &lab,
        "node1",
        &format!("{SVC}: app up again: restart count reset"),
    );
    let st = wait_for(&lab, "node1", "reset the restart count", |st| {
        st["nodes"]["node1"]["services"][SVC]["restart"] == serde_json::json!({})
            && avail(st, "node1") == "up"
    });
    assert_eq!(avail(&st, "node2"), "down", "{st:#}");
    lab.sh("node1", "nodemgr daemon stop").ok();
    lab.sh("node2", "nodemgr daemon stop").ok();
}

/// restart = 1 spent on node1, monitor = true: the monitor action
/// (freezestop) takes node1 out of the placement for a back-off and stops
/// its instance, and node2 takes over; node1's instance is not left frozen.
#[test]
fn spent_restarts_of_a_monitored_app_move_the_service_to_the_peer() {
    lab_test!();
    let lab = orchestrated_lab_with(
        false,
        &[
            "app.restart=1",
            "app.monitor=true",
            "DEFAULT.monitor_action=freezestop",
        ],
    );
    running_on_node1(&lab);
    assert_eq!(lab.fetch(SERVICE_IP), PAGE);
    // Port 8080 taken on node1 only (on its loopback, which the server's
    // 0.0.0.0 bind collides with): a restarted server dies at once there,
    // while node2 still can run it. The squatter lives in node1's PID
    // namespace and ends with the lab.
    kill_server(&lab, "node1");
    let _squatter = lab.node_bg(
        "node1",
        "exec python3 -c 'import socket,time; s=socket.socket(); s.bind((\"127.0.0.1\", 8080)); s.listen(); time.sleep(600)'",
    );
    std::thread::sleep(Duration::from_millis(500));
    wait_log(&lab, "node1", &format!("{SVC}: app down: restart 1/1"));
    wait_log(
        &lab,
        "node1",
        &format!("{SVC}: app down, restarts exhausted: monitor_action freezestop"),
    );
    wait_log(
        &lab,
        "node1",
        &format!("{SVC}: app monitor_action: stopped here"),
    );
    let st = wait_for(&lab, "node2", "taken the service over", |st| {
        avail(st, "node2") == "up"
    });
    // Not frozen for good: node1 may run it again once its back-off
    // passed (or at once if node2 is lost: the failure is then history).
    assert_eq!(
        st["nodes"]["node1"]["services"][SVC]["frozen"], false,
        "{st:#}"
    );
    wait_log(
        &lab,
        "node1",
        &format!("{SVC}: app monitor_action: stopping here, out of the placement for 10s"),
    );
    assert_eq!(lab.fetch(SERVICE_IP), PAGE);
    lab.sh("node1", "nodemgr daemon stop").ok();
    lab.sh("node2", "nodemgr daemon stop").ok();
}

/// A filesystem unmounted lazily behind the agent's back while the web
/// server works in it (its working directory is /svc1/data): the kernel
/// keeps the device busy, so the filesystem cannot be checked and mounted
/// again alone. The restart then stops what starts after it (the app),
/// and starts both: the page is served again, from the same node.
#[test]
fn a_busy_filesystem_is_restarted_with_what_holds_it() {
    lab_test!();
    let lab = orchestrated_lab_with(false, &["fs#1.restart=1"]);
    running_on_node1(&lab);
    assert_eq!(lab.fetch(SERVICE_IP), PAGE);
    let before = server_pid(&lab, "node1");
    lab.sh("node1", "umount -l /svc1/data").ok();
    wait_log(
        &lab,
        "node1",
        &format!("{SVC}: fs#1 does not start alone: restarting it with what starts after it (app)"),
    );
    let st = wait_for(&lab, "node1", "the service up again", |st| {
        avail(st, "node1") == "up"
    });
    lab.sh("node1", "mountpoint -q /svc1/data").ok();
    assert_ne!(server_pid(&lab, "node1"), before, "the app was restarted");
    assert_eq!(lab.fetch(SERVICE_IP), PAGE);
    assert_eq!(avail(&st, "node2"), "down", "{st:#}");
    let failed = log_lines(&lab, "node1", &format!("{SVC}: fs#1 restart failed"));
    assert!(failed.is_empty(), "{failed:#?}");
    lab.sh("node1", "nodemgr daemon stop").ok();
    lab.sh("node2", "nodemgr daemon stop").ok();
}
