//! Tier-4 support: a lab of namespace "nodes" (lab/lab.sh) owned by a drop
//! guard, so every namespace, loop device, mount and VG it made is removed
//! when the test ends, passed or failed.
#![allow(dead_code)]
// Tests drive the lab and the binary from outside: the "only src/exec/
// starts processes" rule is for the product.
#![allow(clippy::disallowed_methods)]

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_svcmgr");
pub(crate) const SERVICE_IP: &str = "192.0.2.26";

/// The first statement of every tier-4 test: when not root, a loud skip
/// line naming the test and a return, since the lab needs namespaces, loop
/// devices and LVM; as root, nothing. CI runs as root, so there the tests
/// always run.
///
/// A statement inside a plain `#[test] fn` rather than a macro wrapping the
/// whole `fn`: rustfmt leaves the inside of `name! { ... }` alone, and the
/// test bodies are long. The name comes from the function itself, so it
/// cannot drift from it as a hand-written string could.
// chaos includes this file and has no tier-4 tests.
#[allow(unused_macros)]
macro_rules! lab_test {
    () => {
        if !$crate::lab::root_or_skip($crate::lab::test_name({
            fn here() {}
            std::any::type_name_of_val(&here)
        })) {
            return;
        }
    };
}
#[allow(unused_imports)]
pub(crate) use lab_test;

/// True when root; otherwise false, after the loud skip line for `test`.
pub(crate) fn root_or_skip(test: &str) -> bool {
    if nix_is_root() {
        return true;
    }
    eprintln!("!!!! SKIPPED (not root): {test} needs root and real kernel objects !!!!");
    false
}

/// `tier4::system::the_test` from the type name of a function declared in
/// `the_test` (`integration::tier4::system::the_test::here`): a filter that
/// runs just that test with `cargo test --test integration`.
pub(crate) fn test_name(here: &str) -> &str {
    let path = here.strip_suffix("::here").unwrap_or(here);
    path.split_once("::").map_or(path, |(_crate, rest)| rest)
}

fn nix_is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub(crate) struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub what: String,
}

impl Out {
    fn from(what: String, o: Output) -> Out {
        Out {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
            what,
        }
    }

    /// Everything, for assertion messages.
    pub(crate) fn dump(&self) -> String {
        format!(
            "=== {}\n=== exit code {}\n=== stdout:\n{}=== stderr:\n{}",
            self.what, self.code, self.stdout, self.stderr
        )
    }

    /// `#[track_caller]` on this and the other assertions of this file, so
    /// that a failure names the test's line, not this file.
    #[track_caller]
    pub(crate) fn ok(&self) -> &Out {
        assert_eq!(self.code, 0, "{}", self.dump());
        self
    }

    #[track_caller]
    pub(crate) fn code(&self, c: i32) -> &Out {
        assert_eq!(self.code, c, "{}", self.dump());
        self
    }

    /// stderr with the `HH:MM:SS ` of each log line masked.
    pub(crate) fn log(&self) -> String {
        self.stderr
            .lines()
            .map(|l| {
                let b = l.as_bytes();
                if b.len() > 9 && b[2] == b':' && b[5] == b':' && b[8] == b' ' {
                    format!("HH:MM:SS{}", &l[8..])
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

pub(crate) struct Lab {
    pub id: String,
}

impl Lab {
    /// `args` as for `lab.sh up`, e.g. `["--nodes", "2", "--disks", "app:32M", "--vg"]`.
    pub(crate) fn up(args: &[&str]) -> Lab {
        let out = Command::new("bash")
            .arg(repo().join("lab/lab.sh"))
            .arg("up")
            .args(args)
            .output()
            .expect("run lab.sh");
        assert!(
            out.status.success(),
            "lab up failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Lab {
            id: String::from_utf8_lossy(&out.stdout).trim().to_string(),
        }
    }

    fn lab_cmd(&self) -> Command {
        let mut c = Command::new("bash");
        c.arg(repo().join("lab/lab.sh"));
        c
    }

    pub(crate) fn get(&self, key: &str) -> String {
        let out = self
            .lab_cmd()
            .args(["get", &self.id, key])
            .output()
            .unwrap();
        assert!(out.status.success(), "no {key} in lab {}", self.id);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Runs a bash line inside `node`, with the node's /etc/opensvc on PATH
    /// as the tutorial's profile does.
    pub(crate) fn sh(&self, node: &str, line: &str) -> Out {
        let out = self
            .lab_cmd()
            .args(["exec", &self.id, node, "env"])
            .arg("PATH=/etc/opensvc:/usr/sbin:/usr/bin:/sbin:/bin")
            .args(["bash", "-c", line])
            .output()
            .unwrap();
        Out::from(format!("{node}: {line}"), out)
    }

    /// Runs a bash line in the client namespace.
    pub(crate) fn client(&self, line: &str) -> Out {
        let out = self
            .lab_cmd()
            .args(["client", &self.id, "bash", "-c", line])
            .output()
            .unwrap();
        Out::from(format!("client: {line}"), out)
    }

    /// Starts a bash line in the client namespace in the background (a
    /// ping, say); `Bg::stop` ends it and returns what it printed.
    pub(crate) fn client_bg(&self, line: &str) -> Bg {
        self.bg(&["client", &self.id], line, "client")
    }

    /// A bash line in `node`, in the background, owned by the returned
    /// guard (a process started with `sh` and `&` would inherit the
    /// output pipe `sh` waits on, and hang it).
    pub(crate) fn node_bg(&self, node: &str, line: &str) -> Bg {
        self.bg(&["exec", &self.id, node], line, node)
    }

    fn bg(&self, lab_args: &[&str], line: &str, where_: &str) -> Bg {
        let child = self
            .lab_cmd()
            .args(lab_args)
            .args(["bash", "-c", line])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        Bg {
            child: Some(child),
            what: format!("{where_} (background): {line}"),
        }
    }

    /// The client pinging `ip` every 50 ms in the background, answering
    /// already (half a second of it).
    pub(crate) fn ping(&self, ip: &str) -> Bg {
        let bg = self.client_bg(&format!("exec ping -D -n -i 0.05 -W 0.05 {ip}"));
        std::thread::sleep(Duration::from_millis(500));
        bg
    }

    /// The page at http://IP:8080/ as the client gets it, retried for 5 s.
    pub(crate) fn fetch(&self, ip: &str) -> String {
        self.client(&format!(
            "for n in $(seq 50); do curl -sf --max-time 1 http://{ip}:8080/ && exit 0; sleep 0.1; done; exit 1"
        ))
        .stdout
    }

    /// SIGKILL of the node's PID 1: every process of the node dies at once.
    pub(crate) fn kill(&self, node: &str) {
        let _ = self.lab_cmd().args(["kill", &self.id, node]).status();
    }

    /// Powers `node` on again after it died (lab.sh boot): its disk kept,
    /// its agent started at boot when enabled.
    pub(crate) fn boot(&self, node: &str) {
        let out = self
            .lab_cmd()
            .args(["boot", &self.id, node])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "lab boot {node} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The tutorial's service on `nodes` (lab/tutorial.sh): config, links,
    /// svcmgr in each node's own /usr/bin, the application and its page on
    /// the shared disks `app` and `data`, and the lab's VG.
    pub(crate) fn tutorial(&self, nodes: &[&str]) {
        let out = self.script("tutorial.sh", &[&[self.id.as_str(), BIN], nodes].concat());
        assert!(
            out.status.success(),
            "lab/tutorial.sh failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The second tutorial's svc1 (after `svcmgr -s svc1 create` on
    /// node1) made a failover service through `svcmgr set`, and the same
    /// config on node2 (lab/svc1.sh).
    pub(crate) fn svc1(&self) -> Out {
        let out = self.script("svc1.sh", &[self.id.as_str()]);
        Out::from("lab/svc1.sh".into(), out)
    }

    /// The tutorial's service made orchestrated (`orchestrate = ha`) and the
    /// agent daemons started on node1 and node2 (lab/cluster.sh): a unicast
    /// heartbeat, and a disk heartbeat on `disk` when given.
    pub(crate) fn cluster(&self, disk: Option<&str>) {
        self.cluster_with(disk, &[]);
    }

    /// As `cluster`, with `SECTION.KEY=VALUE` set in both nodes' service
    /// config before the daemons start.
    pub(crate) fn cluster_with(&self, disk: Option<&str>, svc_params: &[&str]) {
        let mut args = vec![self.id.as_str()];
        if let Some(d) = disk {
            args.extend(["--disk", d]);
        }
        for p in svc_params {
            args.extend(["--svc-param", p]);
        }
        let out = self.script("cluster.sh", &args);
        assert!(
            out.status.success(),
            "lab/cluster.sh failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A lab with the disks lab/chaos-cluster.sh expects, on `nodes` nodes.
    pub(crate) fn up_for_chaos(nodes: usize) -> Lab {
        let nodes = nodes.to_string();
        Lab::up(&[
            "--nodes",
            &nodes,
            "--disks",
            "app:32M,data:32M,fsdata:32M,rawhb:8M",
            "--vg",
        ])
    }

    /// The chaos suite's cluster on every node (lab/chaos-cluster.sh):
    /// four orchestrated services, unicast and disk heartbeats, each
    /// node's agent run as systemd would, every node hearing every other.
    pub(crate) fn chaos_cluster(&self) {
        let out = self.script("chaos-cluster.sh", &[self.id.as_str(), BIN]);
        assert!(
            out.status.success(),
            "lab/chaos-cluster.sh failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn script(&self, name: &str, args: &[&str]) -> Output {
        Command::new("bash")
            .arg(repo().join("lab").join(name))
            .args(args)
            .output()
            .unwrap()
    }

    /// svcmgr and the nodemgr link in the node's own /usr/bin (its overlay:
    /// the host's is untouched).
    /// Installs the binary on node1 and node2, joins them in one cluster
    /// with a unicast heartbeat and a disk heartbeat on `dev`, and starts
    /// their daemons.
    pub(crate) fn start_pair_unicast_and_disk(&self, secret: &str, dev: &str) {
        for n in ["node1", "node2"] {
            self.install(n);
            self.sh(
                n,
                &format!(
                    "nodemgr set --param cluster.nodes --value 'node1 node2' && \
                     nodemgr set --param cluster.secret --value {secret} && \
                     nodemgr set --param hb#1.type --value unicast && \
                     nodemgr set --param hb#2.type --value disk && \
                     nodemgr set --param hb#2.dev --value {dev} && nodemgr daemon start"
                ),
            )
            .ok();
        }
    }

    pub(crate) fn install(&self, node: &str) {
        self.sh(
            node,
            &format!(
                "ln -sf {BIN} /usr/bin/svcmgr && ln -sf svcmgr /usr/bin/nodemgr && ln -sf svcmgr /usr/bin/svcmon"
            ),
        )
        .ok();
    }

    /// The MAC address of `node`'s eth0.
    pub(crate) fn mac(&self, node: &str) -> String {
        self.sh(node, "cat /sys/class/net/eth0/address")
            .ok()
            .stdout
            .trim()
            .to_string()
    }
}

/// The cell of `node` in the Services row of `svc`, read under the node's
/// name in the Services title row (so its alignment is checked too).
pub(crate) fn cell(out: &Out, svc: &str, node: &str) -> String {
    let text = &out.stdout;
    let title = text
        .lines()
        .find(|l| l.starts_with("Services "))
        .unwrap_or_else(|| panic!("no Services title row:\n{}", out.dump()));
    let col = title.find(node).unwrap_or_else(|| panic!("{}", out.dump()));
    let row = text
        .lines()
        .find(|l| l.starts_with(&format!(" {svc} ")))
        .unwrap_or_else(|| panic!("no {svc} row:\n{}", out.dump()));
    row.get(col..)
        .unwrap_or("")
        .split(' ')
        .next()
        .unwrap_or("")
        .to_string()
}

/// `node`'s daemon status (`svcmon --format json`).
#[track_caller]
pub(crate) fn status(lab: &Lab, node: &str) -> serde_json::Value {
    let out = lab.sh(node, "svcmon --format json");
    out.ok();
    // A match, not unwrap_or_else: a closure would hide the caller.
    match serde_json::from_str(&out.stdout) {
        Ok(v) => v,
        Err(e) => panic!("{e}\n{}", out.dump()),
    }
}

/// Polls `node`'s daemon status until `ok` holds (10 s at most).
#[track_caller]
pub(crate) fn wait_for(
    lab: &Lab,
    node: &str,
    what: &str,
    ok: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let st = status(lab, node);
        if ok(&st) {
            return st;
        }
        if Instant::now() >= deadline {
            // The daemon's log says why; the status alone rarely does.
            let log = lab.sh(node, "tail -n 60 /var/log/opensvc/*.log").stdout;
            panic!("{node}: never {what}:\n{st:#}\n--- {node} /var/log/opensvc (tails) ---\n{log}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The tutorial's service with `orchestrate = ha` on both nodes, daemons
/// with a unicast and a disk heartbeat (or unicast only), `svc_params`
/// (`SECTION.KEY=VALUE`) set in the service config before they start.
pub(crate) fn orchestrated_lab_with(disk_hb: bool, svc_params: &[&str]) -> Lab {
    let lab = Lab::up(&[
        "--nodes",
        "2",
        "--disks",
        "app:32M,data:32M,rawhb:8M",
        "--vg",
    ]);
    lab.tutorial(&["node1", "node2"]);
    let dev = lab.get("disk_rawhb");
    lab.cluster_with(disk_hb.then_some(dev.as_str()), svc_params);
    lab
}

pub(crate) fn orchestrated_lab(disk_hb: bool) -> Lab {
    orchestrated_lab_with(disk_hb, &[])
}

/// The tutorial service's avail on `node` as `st` shows it.
pub(crate) fn avail(st: &serde_json::Value, node: &str) -> String {
    st["nodes"][node]["services"]["p26.opensvc.com"]["avail"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// Waits until node1's daemon has started the service and node2 sees it.
#[track_caller]
pub(crate) fn running_on_node1(lab: &Lab) {
    wait_for(lab, "node1", "started the service", |st| {
        avail(st, "node1") == "up"
    });
    wait_for(lab, "node2", "seen it up on node1", |st| {
        avail(st, "node1") == "up"
    });
}

/// Lines of `node`'s node.log that contain `what`.
pub(crate) fn log_lines(lab: &Lab, node: &str, what: &str) -> Vec<String> {
    lab.sh(node, "cat /var/log/opensvc/node.log")
        .stdout
        .lines()
        .filter(|l| l.contains(what))
        .map(String::from)
        .collect()
}

/// Kills `node` (power loss) and asserts that `watcher` marks it stale on
/// `hb#1.rx` and forgets it within 6 s (a 3 s timeout, the prune tick and
/// this polling).
#[track_caller]
pub(crate) fn power_loss_is_seen(lab: &Lab, node: &str, watcher: &str) {
    lab.kill(node);
    let lost = Instant::now();
    wait_for(lab, watcher, &format!("lost {node}"), |st| {
        st["threads"]["hb#1.rx"]["peers"][node] == false && st["nodes"][node].is_null()
    });
    assert!(
        lost.elapsed() < Duration::from_secs(6),
        "{watcher} lost {node} after {:?}",
        lost.elapsed()
    );
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = self.lab_cmd().args(["down", &self.id]).status();
    }
}

/// A background process of a test (`Lab::client_bg`), killed by its pid
/// when stopped or dropped.
pub(crate) struct Bg {
    child: Option<Child>,
    what: String,
}

impl Bg {
    /// Waits for it to end by itself, then its output.
    pub(crate) fn wait(mut self) -> Out {
        let child = self.child.take().unwrap();
        Out::from(self.what.clone(), child.wait_with_output().unwrap())
    }

    /// SIGINT, so that what it buffered is written (ping prints its
    /// summary), then its output.
    pub(crate) fn stop(mut self) -> Out {
        let child = self.child.take().unwrap();
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT);
        Out::from(self.what.clone(), child.wait_with_output().unwrap())
    }
}

impl Drop for Bg {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Now, as `ping -D` stamps its lines.
pub(crate) fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Stops `ping` (half a second after now) and asserts it was answered
/// before the unix time `t` and again after it.
#[track_caller]
pub(crate) fn assert_ping_resumed(ping: Bg, t: f64) {
    std::thread::sleep(Duration::from_millis(500));
    let ping = ping.stop();
    let answers = ping_answers(&ping.stdout);
    assert!(
        answers.iter().any(|a| *a < t) && answers.iter().any(|a| *a > t),
        "the client's ping must answer before {t:.3} (the kill) and again after the takeover:\n{}",
        ping.dump()
    );
}

/// The times of the answered pings in `ping -D` output.
fn ping_answers(out: &str) -> Vec<f64> {
    out.lines()
        .filter(|l| l.contains(" bytes from "))
        .filter_map(|l| l.strip_prefix('[')?.split(']').next()?.parse().ok())
        .collect()
}

/// Whether lab `id`'s `node` is powered on: its PID 1, as the lab's state
/// file last recorded it (`init_<node>=PID:STARTTIME`), still runs. Read
/// from the files, not through lab.sh: cheap enough to sample often.
pub(crate) fn powered(id: &str, node: &str) -> bool {
    let state = std::fs::read_to_string(format!("/run/svcmgr-lab/{id}/state")).unwrap_or_default();
    let key = format!("init_{node}=");
    let Some(v) = state.lines().rev().find_map(|l| l.strip_prefix(&key)) else {
        return false;
    };
    let Some((pid, start)) = v.split_once(':') else {
        return false;
    };
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            // Field 22 (starttime), counted after the ")" that ends comm.
            let rest = s.rsplit_once(')')?.1;
            rest.split_whitespace().nth(19).map(|f| f == start)
        })
        .unwrap_or(false)
}

/// Whether `node`'s eth0 holds `addr` (its network namespace, seen from
/// the host: the namespace outlives the node, so check `powered` too).
pub(crate) fn holds_addr(id: &str, node: &str, addr: &str) -> bool {
    Command::new("ip")
        .args([
            "-n",
            &format!("{id}-{node}"),
            "-4",
            "-o",
            "addr",
            "show",
            "dev",
            "eth0",
        ])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(&format!(" {addr}/")))
}
