//! Test harness for tiers 2 and 3: the real `svcmgr` binary run against a
//! fake little world.
//!
//! A `World` is a temporary directory holding
//! * `r/`: the svcmgr root (`OSVC_ROOT_PATH`), with `etc`, `var`, `log`, `tmp`;
//! * `state/`: the state of the fake tools (`FAKE_STATE`, see
//!   `tests/fakes/lib.sh`) and their `calls` log;
//! * `bin/`: links to every fake tool of `tests/fakes/bin`; it comes first in
//!   PATH, so the product never reaches a real `ip`, `mount` or `ping`;
//! * `hosts`: bind-mounted on `/etc/hosts` in a private mount namespace for
//!   each invocation, so `p26.opensvc.com` resolves to 37.59.71.26 without
//!   touching the machine's own `/etc/hosts`.
//!
//! 37.59.71.26 is a public address: only the fake tools may ever be pointed
//! at it. That is why `fakes_cover_every_tool` (tier2/cli.rs) checks the
//! fakes directory is complete.
#![allow(dead_code)]
// The harness drives the binary and the fake tools as processes: it is
// outside the product's "only src/exec starts processes" rule.
#![allow(clippy::disallowed_methods)]

use std::cell::RefCell;
use std::io::Read;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub(crate) const SVC: &str = "p26.opensvc.com";
pub(crate) const NODE: &str = "sles1";
pub(crate) const ADDR: &str = "37.59.71.26";

/// Every tool the product may run: each must have a fake.
pub(crate) const FAKE_TOOLS: &[&str] = &[
    "ip",
    "ifconfig",
    "ping",
    "ping6",
    "arping",
    "vgs",
    "lvs",
    "vgchange",
    "vgdisplay",
    "kpartx",
    "partx",
    "e2fsck",
    "mount",
    "umount",
    "fuser",
    "sync",
    "ps",
    "rsync",
    "ssh",
    "dmsetup",
    "losetup",
];

/// Where the product looks for tools after the caller's PATH.
pub(crate) const SYSTEM_DIRS: &[&str] = &[
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

/// Longest any single invocation may take before the test fails.
const RUN_LIMIT: Duration = Duration::from_secs(60);

pub(crate) fn svcmgr_bin() -> &'static str {
    env!("CARGO_BIN_EXE_svcmgr")
}

pub(crate) fn fakes_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fakes/bin")
}

pub(crate) fn golden(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

/// The tutorial's service file ("Service Creation"), inline comments included, with
/// `{R}` standing for the root so that dev and mnt live inside the World.
pub(crate) const TUTORIAL_CONF: &str = "\
[DEFAULT]                                       # Global section for service description
app = MyApp                                     # service application friendly name
service_type = TST                              # specify is service runs production, test, dev, ...
autostart_node = sles1                          # default running node, name returned by « hostname » command
nodes = sles1 sles2                             # cluster nodes where the service is able to run on

[ip#0]                                          # Ressource Section for ip address
ipname = p26.opensvc.com                        # specify the ip address on which the service will be bound
disable = False                                 # the ip address will be enabled at service startup
optional = False                                # mandatory ressource, the service can't work without it
ipdev = eth0                                    # the physical network device on which the ip address will be stacked

[vg#0]                                          # Ressource Section for volume group
vgname=vgsvc1                                   # volume group name

[fs#0]                                          # Ressource Section for filesystem
type = ext3                                     # filesystem type
disable = False                                 # filesystem is enabled at service startup
mnt = {R}/svc1/app                                 # filesystem mountpoint
optional = False                                # mandatory ressource, the service can't work without it
dev = {R}/dev/mapper/vgsvc1-lvappsvc1              # block device where the filesystem is hosted

[fs#1]
type = ext3
disable = False
mnt = {R}/svc1/data
optional = False
dev = {R}/dev/mapper/vgsvc1-lvdatasvc1
";

/// OpenHA's `conf/monitor` of the tutorial ("OpenHA Configuration").
pub(crate) const OPENHA_MONITOR: &str = "\
sles1 net eth0 239.131.50.10 1234 10
sles1 dio /dev/mapper/14f504e46494c45526967724d32682d553243692d4f336a4c 0 10
sles2 net eth0 239.131.50.10 4321 10
sles2 dio /dev/mapper/14f504e46494c45526967724d32682d553243692d4f336a4c 2 10
";

/// The tutorial's weblauncher ("Applications launcher script"), without
/// killall/pgrep by name: the "daemon" is a `sleep` whose pid is kept in a pid
/// file.
fn weblauncher(pidfile: &Path) -> String {
    format!(
        r#"#!/bin/bash
PIDFILE={pid}

function status {{
        [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null
}}

case $1 in
start)
        status && {{
                echo "already started"
                exit 0
        }}
        nohup sleep 600 >/dev/null 2>&1 &
        echo $! > "$PIDFILE"
        ;;
stop)
        status && kill "$(cat "$PIDFILE")"
        rm -f "$PIDFILE"
        ;;
info)
        echo "Name: webserver"
        ;;
status)
        status
        exit $?
        ;;
*)
        echo "unsupported action: $1" >&2
        exit 1
        ;;
esac
"#,
        pid = pidfile.display()
    )
}

/// How to enter a private mount namespace here: plain `unshare -m` as root,
/// else with a user namespace. Never silently skipped.
fn unshare_flags() -> &'static str {
    static FLAGS: OnceLock<&'static str> = OnceLock::new();
    FLAGS.get_or_init(|| {
        let mount = mount_bin();
        for flags in ["-m", "-rm"] {
            let ok = Command::new("unshare")
                .args([flags, "--", "/bin/sh", "-c"])
                .arg(format!("{mount} --bind /dev/null /dev/null"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                return flags;
            }
        }
        panic!(
            "neither `unshare -m` nor `unshare -rm` can bind-mount here: the tests need a \
             private mount namespace to give p26.opensvc.com a private /etc/hosts entry"
        );
    })
}

/// The real mount, by absolute path: the fakes come first in PATH.
fn mount_bin() -> &'static str {
    static MOUNT: OnceLock<&'static str> = OnceLock::new();
    MOUNT.get_or_init(|| {
        [
            "/usr/bin/mount",
            "/bin/mount",
            "/usr/sbin/mount",
            "/sbin/mount",
        ]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("no mount binary in /usr/bin, /bin, /usr/sbin or /sbin")
    })
}

/// The outcome of one invocation, with everything needed to explain a failure.
pub(crate) struct Run {
    pub argv: String,
    pub code: i32,
    /// Normalised (paths) but not masked.
    pub stdout: String,
    pub stderr: String,
    /// Fake tool calls made during this run, normalised.
    pub calls: Vec<String>,
    /// Every call since the World was made.
    pub all_calls: Vec<String>,
    pub elapsed: Duration,
}

impl Run {
    pub(crate) fn report(&self) -> String {
        format!(
            "=== command: {}\n=== exit code: {}  ({} ms)\n=== stdout:\n{}=== stderr:\n{}=== fake calls of this run:\n{}\n=== all fake calls:\n{}\n",
            self.argv,
            self.code,
            self.elapsed.as_millis(),
            self.stdout,
            self.stderr,
            self.calls.join("\n"),
            self.all_calls.join("\n"),
        )
    }

    /// Panics with `what` and the whole report. `#[track_caller]` here and
    /// on every assertion that ends here, so that a failure names the
    /// test's line, not this file.
    #[track_caller]
    pub(crate) fn fail(&self, what: &str) -> ! {
        panic!("{what}\n{}", self.report())
    }

    #[track_caller]
    pub(crate) fn code(&self, want: i32) -> &Run {
        if self.code != want {
            self.fail(&format!("exit code {} instead of {want}", self.code));
        }
        self
    }

    #[track_caller]
    pub(crate) fn stdout_is(&self, want: &str) -> &Run {
        compare_text("stdout", &self.stdout, want, self);
        self
    }

    #[track_caller]
    pub(crate) fn stderr_is(&self, want: &str) -> &Run {
        compare_text("stderr", &self.stderr, want, self);
        self
    }

    #[track_caller]
    pub(crate) fn stdout_has(&self, want: &str) -> &Run {
        if !mask(&self.stdout).contains(&mask(want)) {
            self.fail(&format!("stdout lacks {want:?}"));
        }
        self
    }

    #[track_caller]
    pub(crate) fn stderr_has(&self, want: &str) -> &Run {
        if !mask(&self.stderr).contains(&mask(want)) {
            self.fail(&format!("stderr lacks {want:?}"));
        }
        self
    }

    #[track_caller]
    pub(crate) fn stderr_lacks(&self, unwanted: &str) -> &Run {
        if self.stderr.contains(unwanted) {
            self.fail(&format!("stderr has {unwanted:?}"));
        }
        self
    }

    /// The exact sequence of fake tool calls of this run.
    #[track_caller]
    pub(crate) fn calls_are(&self, want: &[&str]) -> &Run {
        if self.calls != want {
            self.fail(&format!(
                "fake calls differ\n--- want:\n{}\n--- got:\n{}",
                want.join("\n"),
                self.calls.join("\n")
            ));
        }
        self
    }

    /// The calls of this run, leaving out the read-only probes (`ip addr`,
    /// `vgs`, `lvs`, `mount` without argument, `ps`): what changed the world,
    /// plus pings and fscks.
    pub(crate) fn actions(&self) -> Vec<String> {
        self.calls
            .iter()
            .filter(|c| !is_probe(c))
            .cloned()
            .collect()
    }

    #[track_caller]
    pub(crate) fn actions_are(&self, want: &[&str]) -> &Run {
        let got = self.actions();
        if got != want {
            self.fail(&format!(
                "fake actions (probes left out) differ\n--- want:\n{}\n--- got:\n{}",
                want.join("\n"),
                got.join("\n")
            ));
        }
        self
    }

    #[track_caller]
    pub(crate) fn no_calls(&self) -> &Run {
        if !self.calls.is_empty() {
            self.fail("the product ran tools although it should have touched nothing");
        }
        self
    }

    #[track_caller]
    pub(crate) fn json(&self) -> serde_json::Value {
        // A match, not unwrap_or_else: a closure would hide the caller.
        match serde_json::from_str(&self.stdout) {
            Ok(v) => v,
            Err(e) => self.fail(&format!("stdout is not JSON: {e}")),
        }
    }
}

pub(crate) fn is_probe(call: &str) -> bool {
    let w: Vec<&str> = call.split_whitespace().collect();
    matches!(
        w.as_slice(),
        ["ip", "addr", ..] | ["vgs" | "lvs" | "ps" | "vgdisplay", ..] | ["mount"]
    )
}

#[track_caller]
fn compare_text(what: &str, got: &str, want: &str, run: &Run) {
    let g = lines(&mask(got));
    let w = lines(&mask(want));
    if g != w {
        let mut diff = String::new();
        for i in 0..g.len().max(w.len()) {
            let a = w.get(i).map(String::as_str);
            let b = g.get(i).map(String::as_str);
            let mark = if a == b { ' ' } else { '!' };
            diff.push_str(&format!(
                "{mark} want| {}\n{mark}  got| {}\n",
                a.unwrap_or("<none>"),
                b.unwrap_or("<none>")
            ));
        }
        run.fail(&format!("{what} differs (masked, right-trimmed):\n{diff}"));
    }
}

/// Right-trimmed lines, trailing empty lines dropped.
pub(crate) fn lines(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s.lines().map(|l| l.trim_end().to_string()).collect();
    while v.last().is_some_and(|l| l.is_empty()) {
        v.pop();
    }
    v
}

/// Masks what changes from run to run: the `HH:MM:SS` at the start of log
/// lines and launcher durations (`start done in 0:00:00.007657 - ret`).
pub(crate) fn mask(s: &str) -> String {
    s.lines()
        .map(|l| mask_duration(&mask_time(l)))
        .collect::<Vec<_>>()
        .join("\n")
        + if s.ends_with('\n') { "\n" } else { "" }
}

fn mask_time(l: &str) -> String {
    let b = l.as_bytes();
    let is_time = b.len() >= 9
        && b[2] == b':'
        && b[5] == b':'
        && b[8] == b' '
        && [0, 1, 3, 4, 6, 7].iter().all(|&i| b[i].is_ascii_digit());
    if is_time {
        format!("HH:MM:SS{}", &l[8..])
    } else {
        l.to_string()
    }
}

/// Python's `str(timedelta)` under a day: `H:MM:SS`, then `.ffffff`
/// unless the microseconds are zero.
fn is_timedelta(t: &str) -> bool {
    let (hms, frac) = match t.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (t, None),
    };
    let parts: Vec<&str> = hms.split(':').collect();
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    parts.len() == 3
        && digits(parts[0])
        && (parts[0].len() == 1 || !parts[0].starts_with('0'))
        && parts[1..].iter().all(|p| p.len() == 2 && digits(p))
        && frac.is_none_or(|f| f.len() == 6 && digits(f))
}

fn mask_duration(l: &str) -> String {
    let mut out = l.to_string();
    for key in [" done in ", " interrupted after "] {
        if let Some(i) = out.find(key) {
            let start = i + key.len();
            if let Some(len) = out[start..].find(" - ret") {
                let token = &out[start..start + len];
                if is_timedelta(token) {
                    out.replace_range(start..start + len, "D");
                }
            }
        }
    }
    out
}

pub(crate) struct World {
    pub dir: tempfile::TempDir,
    /// R: OSVC_ROOT_PATH.
    pub root: PathBuf,
    /// FAKE_STATE.
    pub state: PathBuf,
    /// The fakes, first in PATH.
    pub bin: PathBuf,
    pub hosts: PathBuf,
    pub node: String,
    /// argv[0] links: `svcmgr`, and others a test may make.
    pub cmds: PathBuf,
    pub env: Vec<(String, String)>,
    /// Pid files of processes launchers started; killed by pid on drop.
    pidfiles: RefCell<Vec<PathBuf>>,
    /// Children the test started (lock holders); killed by pid on drop.
    children: RefCell<Vec<Child>>,
}

impl Drop for World {
    fn drop(&mut self) {
        for pf in self.pidfiles.borrow().iter() {
            if let Ok(s) = std::fs::read_to_string(pf)
                && let Ok(pid) = s.trim().parse::<i32>()
                && pid > 1
            {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        for c in self.children.borrow_mut().iter_mut() {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(c.id() as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
            let _ = c.wait();
        }
    }
}

fn write(p: &Path, text: &str) {
    if let Some(d) = p.parent() {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write(p, text).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
}

fn append(p: &Path, text: &str) {
    use std::io::Write;
    if let Some(d) = p.parent() {
        std::fs::create_dir_all(d).unwrap();
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(p)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// `mountinfo` from `mounts`, as `fake_mountinfo` in fakes/lib.sh makes
/// it: the product reads it (`OSVC_MOUNTINFO`) as /proc/self/mountinfo.
fn write_mountinfo(state: &Path) {
    let mounts = std::fs::read_to_string(state.join("mounts")).unwrap_or_default();
    let mut out = String::new();
    for (i, l) in mounts.lines().enumerate() {
        if let [dev, mnt, fstype, opts] = l.split_whitespace().collect::<Vec<_>>()[..] {
            let n = 21 + i;
            out.push_str(&format!(
                "{n} 1 0:{n} / {mnt} {opts} - {fstype} {dev} {opts}\n"
            ));
        }
    }
    write(&state.join("mountinfo"), &out);
}

fn key(p: &str) -> String {
    p.replace('/', "_")
}

impl World {
    /// An empty root, eth0 UP with 37.59.71.22/27, no vg, nothing mounted.
    pub(crate) fn new() -> World {
        let dir = tempfile::Builder::new()
            .prefix("svcmgr-it-")
            .tempdir()
            .unwrap();
        let base = dir.path().to_path_buf();
        let root = base.join("r");
        for d in ["etc", "var", "log", "tmp"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        let state = base.join("state");
        std::fs::create_dir_all(&state).unwrap();
        write(&state.join("calls"), "");
        write(
            &state.join("links"),
            "1 lo UP 00:00:00:00:00:00\n2 eth0 UP 52:54:00:db:db:29\n",
        );
        write(
            &state.join("addrs"),
            "lo lo 127.0.0.1/8\neth0 eth0 37.59.71.22/27\n",
        );
        write(&state.join("remote_ips"), "");
        write(&state.join("mounts"), "/dev/sda1 / ext4 rw,relatime\n");
        write_mountinfo(&state);
        let bin = base.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        for entry in std::fs::read_dir(fakes_dir()).unwrap() {
            let entry = entry.unwrap();
            symlink(entry.path(), bin.join(entry.file_name())).unwrap();
        }
        let hosts = base.join("hosts");
        write(
            &hosts,
            "127.0.0.1 localhost\n37.59.71.22 sles1\n37.59.71.26 p26.opensvc.com\n",
        );
        let cmds = base.join("cmds");
        std::fs::create_dir_all(&cmds).unwrap();
        symlink(svcmgr_bin(), cmds.join("svcmgr")).unwrap();
        let ez = base.join("ez");
        World {
            dir,
            root,
            state,
            bin,
            hosts,
            node: NODE.into(),
            cmds,
            env: vec![("EZ".into(), ez.display().to_string())],
            pidfiles: RefCell::new(Vec::new()),
            children: RefCell::new(Vec::new()),
        }
    }

    /// The tutorial before its first start ("Service Creation" and the first
    /// `print status`): config with
    /// its comments, `.d -> p26.opensvc.com.dir` (empty), the argv[0] link,
    /// vgsvc1 active with its two LVs, devices present, mount points absent,
    /// the collector already told about this config.
    pub(crate) fn tutorial() -> World {
        let w = World::new();
        w.write_conf(SVC, TUTORIAL_CONF);
        w.svc_link(SVC);
        let dir = w.etc().join(format!("{SVC}.dir"));
        std::fs::create_dir_all(&dir).unwrap();
        symlink(format!("{SVC}.dir"), w.etc().join(format!("{SVC}.d"))).unwrap();
        w.vg("vgsvc1", &["lvappsvc1", "lvdatasvc1"], true, &[]);
        w.device("dev/mapper/vgsvc1-lvappsvc1");
        w.device("dev/mapper/vgsvc1-lvdatasvc1");
        w.mark_pushed(SVC);
        w
    }

    /// The tutorial from "Application Integration" on (its first start with
    /// the launcher): the
    /// launcher directory moved to `/svc1/app/init.d` with the weblauncher
    /// and its S10/K90/C10 links, mount points existing, vg inactive.
    pub(crate) fn tutorial_with_launchers() -> World {
        let w = World::tutorial();
        let link = w.etc().join(format!("{SVC}.d"));
        std::fs::remove_file(&link).unwrap();
        std::fs::remove_dir(w.etc().join(format!("{SVC}.dir"))).unwrap();
        let initd = w.root.join("svc1/app/init.d");
        std::fs::create_dir_all(&initd).unwrap();
        std::fs::create_dir_all(w.root.join("svc1/data")).unwrap();
        symlink(&initd, &link).unwrap();
        w.install_weblauncher(&initd);
        w.vg("vgsvc1", &["lvappsvc1", "lvdatasvc1"], false, &[]);
        w.e2fsck_out(
            &w.r("dev/mapper/vgsvc1-lvappsvc1"),
            "{R}/dev/mapper/vgsvc1-lvappsvc1: clean, 19/3072 files, 2579/12288 blocks\n",
            0,
        );
        w.e2fsck_out(
            &w.r("dev/mapper/vgsvc1-lvdatasvc1"),
            "{R}/dev/mapper/vgsvc1-lvdatasvc1: clean, 13/3072 files, 1532/12288 blocks\n",
            0,
        );
        w
    }

    /// A one-node service `svc` (`nodes = sles1`, no sync#i0) made of
    /// `body`'s sections, with its argv[0] link, already pushed.
    pub(crate) fn one_node(&self, svc: &str, body: &str) -> PathBuf {
        let p = self.write_conf(
            svc,
            &format!("[DEFAULT]\nservice_type = TST\nnodes = sles1\n\n{body}"),
        );
        self.svc_link(svc);
        self.mark_pushed(svc);
        p
    }

    /// Rewrites the tutorial config with `from` replaced by `to` (once),
    /// marking it pushed.
    #[track_caller]
    pub(crate) fn tutorial_conf_with(&self, from: &str, to: &str) {
        assert!(
            TUTORIAL_CONF.contains(from),
            "the tutorial config has no {from:?}"
        );
        self.write_conf(SVC, &TUTORIAL_CONF.replacen(from, to, 1));
        self.mark_pushed(SVC);
    }

    /// Appends `text` to the tutorial config, marking it pushed.
    pub(crate) fn append_conf(&self, text: &str) {
        let conf = self.read_conf(SVC) + &self.subst(text);
        write(&self.conf_path(SVC), &conf);
        self.mark_pushed(SVC);
    }

    pub(crate) fn etc(&self) -> PathBuf {
        self.root.join("etc")
    }

    pub(crate) fn var(&self) -> PathBuf {
        self.root.join("var")
    }

    /// `R/<rel>` as a string.
    pub(crate) fn r(&self, rel: &str) -> String {
        self.root.join(rel).display().to_string()
    }

    /// Replaces `{R}` by the root.
    pub(crate) fn subst(&self, text: &str) -> String {
        text.replace("{R}", &self.root.display().to_string())
    }

    /// `R/etc/<svc>.env`; `{R}` in the text stands for the root.
    pub(crate) fn write_conf(&self, svc: &str, text: &str) -> PathBuf {
        let p = self.etc().join(format!("{svc}.env"));
        write(&p, &self.subst(text));
        p
    }

    pub(crate) fn write_conf_ext(&self, svc: &str, ext: &str, text: &str) -> PathBuf {
        let p = self.etc().join(format!("{svc}.{ext}"));
        write(&p, &self.subst(text));
        p
    }

    pub(crate) fn conf_path(&self, svc: &str) -> PathBuf {
        self.etc().join(format!("{svc}.env"))
    }

    pub(crate) fn read_conf(&self, svc: &str) -> String {
        std::fs::read_to_string(self.conf_path(svc)).unwrap()
    }

    /// `R/etc/<svc> -> svcmgr`.
    pub(crate) fn svc_link(&self, svc: &str) -> PathBuf {
        let p = self.etc().join(svc);
        let _ = std::fs::remove_file(&p);
        symlink(svcmgr_bin(), &p).unwrap();
        p
    }

    /// A regular file standing for a block device, so "device exists" holds.
    pub(crate) fn device(&self, rel: &str) -> String {
        let p = self.root.join(rel);
        write(&p, "");
        p.display().to_string()
    }

    /// Tells the collector stamp this config was pushed, so that the next
    /// command prints no `send ... to collector` lines.
    /// The stamp is the config's mtime (plus rounding slack), so that any
    /// later edit makes the config newer again.
    pub(crate) fn mark_pushed(&self, svc: &str) {
        let conf = ["env", "conf"]
            .iter()
            .map(|e| self.etc().join(format!("{svc}.{e}")))
            .find(|p| p.exists())
            .expect("mark_pushed needs a config file");
        let mtime = std::fs::metadata(&conf)
            .unwrap()
            .modified()
            .unwrap()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        write(
            &self.var().join(format!("{svc}.push")),
            &format!("{:.6}\n", mtime + 0.000_002),
        );
    }

    /// The weblauncher and its S10/K90/C10 links in `dir`.
    pub(crate) fn install_weblauncher(&self, dir: &Path) {
        let pidfile = self.dir.path().join("webserver.pid");
        self.launcher(dir, "weblauncher", &weblauncher(&pidfile));
        for l in ["S10weblauncher", "K90weblauncher", "C10weblauncher"] {
            symlink("weblauncher", dir.join(l)).unwrap();
        }
        self.pidfiles.borrow_mut().push(pidfile);
    }

    /// An executable script, mode 0755.
    pub(crate) fn launcher(&self, dir: &Path, name: &str, script: &str) -> PathBuf {
        let p = dir.join(name);
        write(&p, script);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    /// Registers a pid file whose process must be killed when the test ends.
    pub(crate) fn track_pidfile(&self, p: PathBuf) {
        self.pidfiles.borrow_mut().push(p);
    }

    /// Starts a child in its own process group, which the World kills (by
    /// the child's pid, as group id) when the test ends.
    /// Holds the service lock from a child process, as a running action
    /// would (its pid written in the file), until the test ends; returns
    /// the holder's pid once the lock is really held.
    #[track_caller]
    pub(crate) fn hold_lock(&self, svc: &str) -> u32 {
        let lock = self.var().join("lock").join(svc);
        std::fs::create_dir_all(lock.parent().unwrap()).unwrap();
        let pid = self.spawn_tracked(
            Command::new("/bin/sh")
                .arg("-c")
                .arg("echo $$ > \"$1\"; exec flock \"$1\" sleep 60")
                .arg("sh")
                .arg(&lock),
        );
        let held = (0..500).any(|_| {
            let free = Command::new("flock")
                .args(["-n"])
                .arg(&lock)
                .arg("true")
                .status()
                .unwrap()
                .success();
            if free {
                std::thread::sleep(Duration::from_millis(10));
            }
            !free
        });
        assert!(held, "the flock holder {pid} never took the lock");
        pid
    }

    pub(crate) fn spawn_tracked(&self, cmd: &mut Command) -> u32 {
        use std::os::unix::process::CommandExt;
        let child = cmd.process_group(0).spawn().unwrap();
        let pid = child.id();
        self.children.borrow_mut().push(child);
        pid
    }

    // ---- sync and OpenHA state ---------------------------------------------

    /// `<var>/sync/<node>/<svc>!sync#i0` at the current time: `node` last
    /// received the service's config now (what syncnodes leaves behind).
    pub(crate) fn sync_stamp(&self, node: &str) {
        let now = chrono::Local::now().naive_local();
        write(
            &self
                .var()
                .join("sync")
                .join(node)
                .join(format!("{SVC}!sync#i0")),
            &format!("{}\n", now.format("%Y-%m-%d %H:%M:%S%.6f")),
        );
    }

    /// `$EZ`, OpenHA's root (not installed until `openha_install`).
    pub(crate) fn ez(&self) -> PathBuf {
        self.dir.path().join("ez")
    }

    /// OpenHA installed, with the heartbeats of the tutorial's "OpenHA
    /// Configuration".
    pub(crate) fn openha_install(&self) {
        let ez = self.ez();
        self.launcher(&ez.join("bin"), "service", "#!/bin/sh\nexit 0\n");
        write(&ez.join("conf/monitor"), OPENHA_MONITOR);
    }

    /// `ps -ef` shows the OpenHA daemons `node` needs (or only init).
    pub(crate) fn openha_daemons(&self, node: &str, running: bool) {
        let bin = self.ez().join("bin");
        let bin = bin.display();
        let mut ps = String::from(
            "UID        PID  PPID  C STIME TTY          TIME CMD\nroot         1     0  0 10:00 ?        00:00:01 /sbin/init\n",
        );
        if running {
            let mut pid = 100;
            for line in OPENHA_MONITOR.lines() {
                let f: Vec<&str> = line.split_whitespace().collect();
                let suffix = if f[1] == "net" {
                    String::new()
                } else {
                    format!("_{}", f[1])
                };
                let cmd = if f[0] == node {
                    format!("{bin}/heartd{suffix} {}", f[2..f.len() - 1].join(" "))
                } else {
                    format!("{bin}/heartc{suffix} {}", f[2..].join(" "))
                };
                ps.push_str(&format!(
                    "root       {pid}     1  0 10:00 ?        00:00:00 {cmd}\n"
                ));
                pid += 1;
            }
            ps.push_str(&format!(
                "root       {pid}     1  0 10:00 ?        00:00:00 {bin}/nmond\n"
            ));
        }
        self.set_ps(&ps);
    }

    /// `$EZ/services/<svc>/STATE.<node>` (`2` started, `0` stopped...).
    pub(crate) fn openha_state(&self, node: &str, state: &str) {
        write(
            &self
                .ez()
                .join("services")
                .join(SVC)
                .join(format!("STATE.{node}")),
            &format!("{state}\n"),
        );
    }

    // ---- fake state --------------------------------------------------------

    pub(crate) fn vg(&self, name: &str, lvs: &[&str], active: bool, tags: &[&str]) {
        let d = self.state.join("vg").join(name);
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        let mut l = lvs.join("\n");
        if !l.is_empty() {
            l.push('\n');
        }
        write(&d.join("lvs"), &l);
        let mut t = tags.join("\n");
        if !t.is_empty() {
            t.push('\n');
        }
        write(&d.join("tags"), &t);
        if active {
            write(&d.join("active"), "");
        }
    }

    pub(crate) fn vg_active(&self, name: &str) -> bool {
        self.state.join("vg").join(name).join("active").exists()
    }

    pub(crate) fn vg_tags(&self, name: &str) -> Vec<String> {
        std::fs::read_to_string(self.state.join("vg").join(name).join("tags"))
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }

    /// An address on a local interface (`label` `eth0:1` for an alias).
    pub(crate) fn plumb(&self, dev: &str, label: &str, cidr: &str) {
        append(
            &self.state.join("addrs"),
            &format!("{dev} {label} {cidr}\n"),
        );
    }

    pub(crate) fn plumbed(&self, addr: &str) -> bool {
        std::fs::read_to_string(self.state.join("addrs"))
            .unwrap()
            .lines()
            .any(|l| {
                l.split_whitespace()
                    .nth(2)
                    .is_some_and(|c| c.starts_with(&format!("{addr}/")))
            })
    }

    pub(crate) fn addrs(&self) -> String {
        std::fs::read_to_string(self.state.join("addrs")).unwrap()
    }

    /// An address alive on another host: ping answers, it is not local.
    pub(crate) fn remote_ip(&self, addr: &str) {
        append(&self.state.join("remote_ips"), &format!("{addr}\n"));
    }

    pub(crate) fn set_link(&self, dev: &str, up: bool) {
        let p = self.state.join("links");
        let text = std::fs::read_to_string(&p).unwrap();
        let out: String = text
            .lines()
            .map(|l| {
                let mut w: Vec<&str> = l.split_whitespace().collect();
                if w.get(1) == Some(&dev) {
                    w[2] = if up { "UP" } else { "DOWN" };
                }
                w.join(" ") + "\n"
            })
            .collect();
        write(&p, &out);
    }

    /// A mounted fs in the fake mount table (the mount point is created).
    pub(crate) fn mounted(&self, dev: &str, mnt: &str, fstype: &str) {
        std::fs::create_dir_all(mnt).unwrap();
        let esc = |p: &str| p.replace(' ', "\\040");
        append(
            &self.state.join("mounts"),
            &format!("{} {} {fstype} rw\n", esc(dev), esc(mnt)),
        );
        write_mountinfo(&self.state);
    }

    pub(crate) fn mounts(&self) -> String {
        std::fs::read_to_string(self.state.join("mounts")).unwrap()
    }

    pub(crate) fn is_mounted(&self, mnt: &str) -> bool {
        self.mounts()
            .lines()
            .any(|l| l.split_whitespace().nth(1) == Some(mnt))
    }

    /// What `e2fsck -p <dev>` prints (`{R}` stands for the root) and returns.
    pub(crate) fn e2fsck_out(&self, dev: &str, out: &str, rc: i32) {
        let d = self.state.join("e2fsck");
        write(&d.join(format!("{}.out", key(dev))), &self.subst(out));
        write(&d.join(format!("{}.rc", key(dev))), &format!("{rc}\n"));
    }

    /// Makes `tool` fail with `rc` and `stderr`, only when its arguments
    /// contain `matching` (if given).
    pub(crate) fn fail_tool(&self, tool: &str, rc: i32, stderr: &str, matching: Option<&str>) {
        let d = self.state.join("fail");
        write(&d.join(tool), &format!("{rc}\n{stderr}"));
        if let Some(m) = matching {
            write(&d.join(format!("{tool}.match")), &self.subst(m));
        }
    }

    pub(crate) fn umount_busy(&self, mnt: &str) {
        write(&self.state.join("umount_busy").join(key(mnt)), "");
    }

    pub(crate) fn set_ps(&self, text: &str) {
        write(&self.state.join("ps"), text);
    }

    /// Makes a tool absent: its fake goes, and the real one is hidden in
    /// the run's mount namespace like every faked tool (see `binds`).
    #[track_caller]
    pub(crate) fn remove_tool(&self, tool: &str) {
        assert!(FAKE_TOOLS.contains(&tool), "{tool} is not a faked tool");
        std::fs::remove_file(self.bin.join(tool)).unwrap();
    }

    pub(crate) fn calls(&self) -> Vec<String> {
        let mut calls: Vec<String> = std::fs::read_to_string(self.state.join("calls"))
            .unwrap()
            .lines()
            .map(|l| self.norm(l))
            .collect();
        probe_pairs_in_order(&mut calls);
        calls
    }

    // ---- running -----------------------------------------------------------

    /// Replaces the World's paths by the tutorial's (FHS) ones.
    pub(crate) fn norm(&self, s: &str) -> String {
        let r = self.root.display().to_string();
        let mut out = s.to_string();
        for (from, to) in [
            ("/etc", "/etc/opensvc"),
            ("/var", "/var/lib/opensvc"),
            ("/tmp", "/var/tmp/opensvc"),
            ("/log", "/var/log/opensvc"),
            ("/dev", "/dev"),
            ("/svc1", "/svc1"),
        ] {
            out = out.replace(&format!("{r}{from}"), to);
        }
        out
    }

    /// `R/etc/<SVC> <args>`: the service-named form.
    pub(crate) fn svc(&self, args: &[&str]) -> Run {
        self.run_as(&self.etc().join(SVC), args)
    }

    /// `svcmgr <args>`.
    pub(crate) fn svcmgr(&self, args: &[&str]) -> Run {
        self.run_as(&self.cmds.join("svcmgr"), args)
    }

    /// Files bind-mounted over the system's for each invocation, in order:
    /// * our hosts, and a name service limited to files with a loopback
    ///   resolver, so that an unknown name never leaves the machine as a
    ///   DNS query;
    /// * a non-executable empty file over every real copy of the faked
    ///   tools in the system directories (which the product appends to
    ///   PATH): even if a fake were missing, the real `ping` or `ip` could
    ///   not be reached. `mount` comes last, since the wrapper uses it.
    fn binds(&self) -> Vec<(PathBuf, PathBuf)> {
        let d = self.dir.path();
        let mut v = vec![(self.hosts.clone(), PathBuf::from("/etc/hosts"))];
        if Path::new("/etc/nsswitch.conf").exists() {
            let p = d.join("nsswitch.conf");
            if !p.exists() {
                write(&p, "hosts: files\n");
            }
            v.push((p, "/etc/nsswitch.conf".into()));
        }
        if Path::new("/etc/resolv.conf").exists() {
            let p = d.join("resolv.conf");
            if !p.exists() {
                write(&p, "nameserver 127.0.0.1\n");
            }
            v.push((p, "/etc/resolv.conf".into()));
        }
        let noexec = d.join("noexec");
        if !noexec.exists() {
            write(&noexec, "");
            std::fs::set_permissions(&noexec, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        let mut real: Vec<PathBuf> = Vec::new();
        let mut mount_last: Vec<PathBuf> = Vec::new();
        for tool in FAKE_TOOLS {
            for dir in SYSTEM_DIRS {
                let Ok(p) = std::fs::canonicalize(Path::new(dir).join(tool)) else {
                    continue;
                };
                let dest = if *tool == "mount" {
                    &mut mount_last
                } else {
                    &mut real
                };
                if !dest.contains(&p) {
                    dest.push(p);
                }
            }
        }
        for p in real.into_iter().chain(mount_last) {
            v.push((noexec.clone(), p));
        }
        v
    }

    /// Runs the binary through `argv0` (a link to it), inside a private mount
    /// namespace whose /etc/hosts is this World's hosts file.
    pub(crate) fn run_as(&self, argv0: &Path, args: &[&str]) -> Run {
        self.run_env(argv0, args, &[])
    }

    pub(crate) fn run_env(&self, argv0: &Path, args: &[&str], extra_env: &[(&str, &str)]) -> Run {
        self.spawn_env(argv0, args, extra_env).finish()
    }

    /// Starts `<argv0> <args>` without waiting, for tests that act on the
    /// running process (signals); `Running::finish` collects the Run.
    pub(crate) fn spawn_env<'w>(
        &'w self,
        argv0: &Path,
        args: &[&str],
        extra_env: &[(&str, &str)],
    ) -> Running<'w> {
        let before = self.calls().len();
        let path = format!("{}:/usr/bin:/bin", self.bin.display());
        let mut cmd = Command::new("unshare");
        // unshare and sh both exec, so the child's pid ends up being svcmgr's.
        cmd.arg(unshare_flags())
            .arg("--")
            .arg("/bin/sh")
            .arg("-c")
            .arg(format!(
                "while [ \"$1\" != -- ]; do {} --bind \"$1\" \"$2\" || exit 97; shift 2; done; shift; exec \"$@\"",
                mount_bin()
            ))
            .arg("sh");
        for (file, target) in self.binds() {
            cmd.arg(file).arg(target);
        }
        cmd.arg("--")
            .arg(argv0)
            .args(args)
            .env_clear()
            .env("PATH", &path)
            .env("HOME", self.dir.path())
            .env("LANG", "C")
            .env("FAKE_STATE", &self.state)
            .env("OSVC_MOUNTINFO", self.state.join("mountinfo"))
            .env("OSVC_ROOT_PATH", &self.root)
            .env("OSVC_NODENAME", &self.node)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let t0 = Instant::now();
        let mut child = cmd.spawn().expect("cannot run unshare");
        let mut out = child.stdout.take().unwrap();
        let mut err = child.stderr.take().unwrap();
        let t_out = std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = out.read_to_end(&mut s);
            s
        });
        let t_err = std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = err.read_to_end(&mut s);
            s
        });
        Running {
            world: self,
            child,
            t_out,
            t_err,
            before,
            t0,
            argv: format!(
                "{} {}",
                argv0.file_name().unwrap().to_string_lossy(),
                args.join(" ")
            ),
        }
    }
}

/// A product invocation still running.
pub(crate) struct Running<'w> {
    world: &'w World,
    child: Child,
    t_out: std::thread::JoinHandle<Vec<u8>>,
    t_err: std::thread::JoinHandle<Vec<u8>>,
    before: usize,
    t0: Instant,
    argv: String,
}

impl Running<'_> {
    /// svcmgr's pid (unshare and sh exec into it).
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn signal(&self, sig: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid() as i32), sig).unwrap();
    }

    pub(crate) fn finish(mut self) -> Run {
        let status = loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                break Some(st);
            }
            if self.t0.elapsed() > RUN_LIMIT {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let elapsed = self.t0.elapsed();
        let w = self.world;
        let stdout = w.norm(&String::from_utf8_lossy(&self.t_out.join().unwrap()));
        let stderr = w.norm(&String::from_utf8_lossy(&self.t_err.join().unwrap()));
        let all_calls = w.calls();
        let run = Run {
            argv: self.argv,
            code: status.and_then(|s| s.code()).unwrap_or(-1),
            stdout,
            stderr,
            calls: all_calls[self.before.min(all_calls.len())..].to_vec(),
            all_calls,
            elapsed,
        };
        if run.code == 97 {
            run.fail("could not bind-mount the private /etc files in the namespace");
        }
        if status.is_none() {
            run.fail(&format!("killed after {RUN_LIMIT:?}"));
        }
        if run.stderr.contains("panicked at") || run.stderr.contains("not yet implemented") {
            run.fail("the product panicked");
        }
        run
    }
}

/// The ip probe runs `arping -D` and `ping` at once, so the calls log holds
/// them in either order: put each such pair in one order (ARP first).
fn probe_pairs_in_order(calls: &mut [String]) {
    let is_arp = |c: &str| c.starts_with("arping -D ");
    let is_icmp = |c: &str| c.starts_with("ping -c 1 -W 0.15 ");
    let mut i = 0;
    while i + 1 < calls.len() {
        let (a, b) = (calls[i].as_str(), calls[i + 1].as_str());
        if (is_arp(a) && is_icmp(b)) || (is_icmp(a) && is_arp(b)) {
            if is_icmp(a) {
                calls.swap(i, i + 1);
            }
            i += 2;
        } else {
            i += 1;
        }
    }
}
