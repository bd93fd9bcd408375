//! Tier 2: the command line of the real binary (docs/behaviour.md, "Command
//! line", "Service lock", "Other behaviours"): the service-named form,
//! which services exist, missing and unknown actions, action words joined
//! by `_`, logs on stderr and data on stdout, the collector lines, freeze,
//! waiting for the lock, exit codes; and the harness's own safety nets.

// Tests start helper processes (lock holders, fake tools) themselves.
#![allow(clippy::disallowed_methods)]

use crate::common::*;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

// ---- the harness -----------------------------------------------------------

/// Every tool the product may run has a fake: the product appends the system
/// directories to PATH, so a missing fake would let it reach a real `ping`
/// (to a public address) or a real `umount`.
#[test]
fn fakes_cover_every_tool() {
    let required = [
        "ip", "ifconfig", "ping", "arping", "vgs", "lvs", "vgchange", "kpartx", "e2fsck", "mount",
        "umount", "fuser", "sync", "ps", "rsync", "ssh",
    ];
    for tool in required.iter().chain(FAKE_TOOLS) {
        assert!(FAKE_TOOLS.contains(tool), "{tool} missing from FAKE_TOOLS");
        let p = fakes_dir().join(tool);
        let meta = std::fs::metadata(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert!(
            std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o111 != 0,
            "{} is not executable",
            p.display()
        );
    }
    // And each records its call.
    let w = World::new();
    for tool in FAKE_TOOLS {
        let out = Command::new(w.bin.join(tool))
            .arg("--probe-arg")
            .env("FAKE_STATE", &w.state)
            .env("PATH", format!("{}:/usr/bin:/bin", w.bin.display()))
            .output()
            .unwrap();
        assert!(
            w.calls().last() == Some(&format!("{tool} --probe-arg")),
            "{tool} did not record its call: {out:?}\n{:?}",
            w.calls()
        );
    }
}

/// Inside a run's namespace, every faked tool resolves to its fake and no
/// real copy is executable in the system directories (defence in depth).
#[test]
fn real_tools_are_unreachable_in_runs() {
    let w = World::new();
    let script = format!(
        "for t in {}; do for d in {}; do [ -x \"$d/$t\" ] && [ -f \"$d/$t\" ] && echo \"real $d/$t\"; done; command -v \"$t\"; done; exit 0",
        FAKE_TOOLS.join(" "),
        SYSTEM_DIRS.join(" ")
    );
    let r = w.run_as(Path::new("/bin/sh"), &["-c", &script]);
    r.code(0);
    let want: Vec<String> = FAKE_TOOLS
        .iter()
        .map(|t| w.bin.join(t).display().to_string())
        .collect();
    let got: Vec<String> = r.stdout.lines().map(String::from).collect();
    assert_eq!(got, want, "{}", r.report());
    // The private hosts file is in place.
    let r = w.run_as(Path::new("/bin/sh"), &["-c", "cat /etc/hosts"]);
    r.stdout_has("37.59.71.26 p26.opensvc.com");
}

/// The fakes answer from one shared state: what ifconfig plumbs, ip shows
/// and ping answers; vgchange -a y shows in lvs; mount shows in the table.
#[test]
fn fakes_form_a_consistent_world() {
    let w = World::new();
    w.vg("vgsvc1", &["lv1"], false, &["old"]);
    let dev = w.device("dev/sdb");
    let mnt = w.root.join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    let mnt = mnt.display().to_string();
    let script = format!(
        "ping -c 1 37.59.71.26; echo rc=$?
ifconfig eth0:1 37.59.71.26 netmask 255.255.255.224 up
ip addr
ping -c 1 37.59.71.26 >/dev/null; echo rc=$?
vgs -o tags --noheadings vgsvc1
vgchange -a y vgsvc1
lvs --noheadings -o lv_attr vgsvc1
mount -t ext4 {dev} {mnt}; echo rc=$?
mount
umount {mnt}; echo rc=$?
umount {mnt}; echo rc=$?
ifconfig eth0:1 down
ping -c 1 37.59.71.26 >/dev/null; echo rc=$?
"
    );
    let r = w.run_as(Path::new("/bin/bash"), &["-c", &script]);
    let want = "\
PING 37.59.71.26 (37.59.71.26) 56(84) bytes of data.

--- 37.59.71.26 ping statistics ---
1 packets transmitted, 0 received, 100% packet loss, time 0ms
rc=1
1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN
    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00
    inet 127.0.0.1/8 scope host lo
2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc pfifo_fast state UP qlen 1000
    link/ether 52:54:00:db:db:29 brd ff:ff:ff:ff:ff:ff
    inet 37.59.71.22/27 brd 37.59.71.31 scope global eth0
    inet 37.59.71.26/27 brd 37.59.71.31 scope global secondary eth0:1
    inet6 fe80::5054:ff:fedb:db29/64 scope link
       valid_lft forever preferred_lft forever
rc=0
  old
  1 logical volume(s) in volume group \"vgsvc1\" now active
  -wi-a-----
rc=0
/dev/sda1 on / type ext4 (rw,relatime)
/dev/sdb on /mnt type ext4 (rw)
rc=0
rc=32
rc=1
";
    // World::norm maps R/dev to /dev; R/mnt stays: map it by hand.
    let got = r
        .stdout
        .replace(&format!("{}/mnt", w.root.display()), "/mnt");
    if lines(&got) != lines(want) {
        r.fail(&format!("fake world answers differ; want:\n{want}"));
    }
    r.stderr_is(&format!("umount: {}/mnt: not mounted.\n", w.root.display()));
}

// ---- invocation forms --------------------------------------------------------

/// `svcmgr -s svc print status` ≡ `svc print status`, and
/// with no `-s` svcmgr acts on every service of the node.
#[test]
fn service_named_form_equals_svcmgr_s() {
    let w = World::tutorial();
    let a = w.svc(&["print", "status"]);
    let b = w.svcmgr(&["-s", SVC, "print", "status"]);
    let c = w.svcmgr(&["print", "status"]);
    a.code(0).stdout_is(&golden("status_initial.txt"));
    b.code(0).stdout_is(&a.stdout).stderr_is("");
    c.code(0).stdout_is(&a.stdout).stderr_is("");
}

/// Deliberate deviation: the config file alone makes a
/// service; the `<etc>/<svc>` link is a convenience.
#[test]
fn a_service_exists_without_its_link() {
    let w = World::tutorial();
    std::fs::remove_file(w.etc().join(SVC)).unwrap();
    w.svcmgr(&["-s", SVC, "print", "status"])
        .code(0)
        .stdout_is(&golden("status_initial.txt"));
    w.svcmgr(&["print", "status"])
        .code(0)
        .stdout_is(&golden("status_initial.txt"));
}

/// No service selected: the usage, exit 1 (docs/behaviour.md, "Command
/// line").
#[test]
fn no_service_specified() {
    let w = World::new();
    w.svcmgr(&["print", "status"])
        .code(1)
        .stdout_is("")
        .stderr_is(
            "No service specified. Try:\n svcmgr -s svcname,... <action>\n svcname <action>\n",
        )
        .no_calls();
}

/// The grouped usage every usage error starts with, from the golden file.
fn usage_text(bin: &str) -> String {
    let top = if bin == "svcmgr" {
        "svcmgr [options] -s <svc>[,<svc>...] <action>".to_string()
    } else {
        format!("{bin} [options] <action>")
    };
    format!("Usage: {top}\n\n{}\n", golden("help/actions.txt"))
}

/// No action words: the grouped usage and the error, exit 2.
#[test]
fn missing_action_is_a_usage_error() {
    let w = World::tutorial();
    w.svcmgr(&["-s", SVC])
        .code(2)
        .stdout_is("")
        .stderr_is(&format!(
            "{}svcmgr: error: Missing action\n",
            usage_text("svcmgr")
        ))
        .no_calls();
    w.svc(&[])
        .code(2)
        .stdout_is("")
        .stderr_is(&format!(
            "{}svcmgr: error: Missing action\n",
            usage_text(SVC)
        ))
        .no_calls();
}

/// Unknown words: the grouped usage, the words typed and the nearest
/// actions (a swap of two letters, a missing one, the first word of a
/// multi-word action), exit 2.
#[test]
fn unsupported_action_is_a_usage_error() {
    let w = World::tutorial();
    w.svcmgr(&["-s", SVC, "foo"])
        .code(2)
        .stderr_is(&format!(
            "{}svcmgr: error: unsupported action 'foo'\n",
            usage_text("svcmgr")
        ))
        .no_calls();
    let cases = [
        (
            &["strat"][..],
            "unsupported action 'strat'; did you mean 'start'?",
        ),
        (
            &["stauts"][..],
            "unsupported action 'stauts'; did you mean 'status'?",
        ),
        (
            &["prnt", "status"][..],
            "unsupported action 'prnt status'; did you mean 'print status'?",
        ),
        (
            &["printstatus"][..],
            "unsupported action 'printstatus'; did you mean 'print status'?",
        ),
        (
            &["star"][..],
            "unsupported action 'star'; did you mean 'start'?",
        ),
        (
            &["print", "foo"][..],
            "unsupported action 'print foo'; did you mean 'print status', 'print config' or 'print keywords'?",
        ),
    ];
    for (words, msg) in cases {
        w.svc(words)
            .code(2)
            .stdout_is("")
            .stderr_is(&format!("{}svcmgr: error: {msg}\n", usage_text(SVC)))
            .no_calls();
    }
}

/// docs/behaviour.md, "Command line": the service-named form takes no -s.
#[test]
fn dash_s_is_refused_in_the_service_named_form() {
    let w = World::tutorial();
    w.svc(&["-s", SVC, "print", "status"])
        .code(2)
        .stdout_is("")
        .stderr_is(&format!(
            "{}svcmgr: error: no such option: -s (the service is the command name)\n",
            usage_text(SVC)
        ))
        .no_calls();
}

// ---- help, version, completions --------------------------------------------

/// Compares with tests/golden/help/<name>; `UPDATE_GOLDEN=1` rewrites it.
fn help_golden(name: &str, got: &str) {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/help")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, got).unwrap();
        return;
    }
    let want = golden(&format!("help/{name}"));
    assert!(
        got == want,
        "{} differs (UPDATE_GOLDEN=1 rewrites it)\n--- got\n{got}\n--- want\n{want}",
        p.display()
    );
}

fn link(w: &World, name: &str) -> std::path::PathBuf {
    let p = w.root.join(name);
    if !p.exists() {
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_svcmgr"), &p).unwrap();
    }
    p
}

/// Every form of help prints on stdout, exits 0, runs nothing; an action's
/// help lists only its options, and the service-named form never `-s`.
#[test]
fn help_in_every_form() {
    let w = World::tutorial();
    let ok = |r: Run| -> String {
        r.code(0).stderr_is("").no_calls();
        r.stdout
    };
    let top = ok(w.svcmgr(&["--help"]));
    help_golden("svcmgr.txt", &top);
    assert!(top.contains(&golden("help/actions.txt")), "{top}");
    assert_eq!(ok(w.svcmgr(&["help"])), top);
    assert_eq!(ok(w.svcmgr(&["-h"])), top);
    let start = ok(w.svcmgr(&["start", "--help"]));
    help_golden("svcmgr_start.txt", &start);
    assert_eq!(ok(w.svcmgr(&["-s", "x", "start", "--help"])), start);
    assert_eq!(ok(w.svcmgr(&["help", "start"])), start);
    let ps = ok(w.svcmgr(&["print", "status", "--help"]));
    help_golden("svcmgr_print_status.txt", &ps);
    assert_eq!(ok(w.svcmgr(&["help", "print_status"])), ps);
    let named = ok(w.svc(&["--help"]));
    help_golden("svc.txt", &named.replace(SVC, "SVC"));
    let named_ps = ok(w.svc(&["print", "status", "--help"]));
    help_golden("svc_print_status.txt", &named_ps.replace(SVC, "SVC"));
    for text in [&named, &named_ps] {
        assert!(!text.contains("--service"), "{text}");
    }
    // A bad word after help is a usage error like any other.
    w.svcmgr(&["help", "strat"])
        .code(2)
        .stderr_has("svcmgr: error: unsupported action 'strat'; did you mean 'start'?");

    let nodemgr = link(&w, "nodemgr");
    let top = ok(w.run_as(&nodemgr, &["--help"]));
    help_golden("nodemgr.txt", &top);
    assert_eq!(ok(w.run_as(&nodemgr, &["help"])), top);
    let ds = ok(w.run_as(&nodemgr, &["daemon", "start", "--help"]));
    help_golden("nodemgr_daemon_start.txt", &ds);
    w.run_as(&nodemgr, &["daemon", "strat"])
        .code(2)
        .stdout_is("")
        .stderr_has(
            "nodemgr: error: unsupported action 'daemon strat'; did you mean 'daemon start'?",
        );
    w.run_as(&nodemgr, &[])
        .code(2)
        .stderr_has("Agent daemon:\n  daemon start ")
        .stderr_has("nodemgr: error: Missing action\n");

    let svcmon = link(&w, "svcmon");
    help_golden("svcmon.txt", &ok(w.run_as(&svcmon, &["--help"])));
}

#[test]
fn version_comes_from_cargo() {
    let w = World::new();
    let want = format!("svcmgr {}\n", env!("CARGO_PKG_VERSION"));
    w.svcmgr(&["--version"])
        .code(0)
        .stdout_is(&want)
        .stderr_is("");
    w.svcmgr(&["-V"]).code(0).stdout_is(&want);
    let nodemgr = link(&w, "nodemgr");
    w.run_as(&nodemgr, &["--version"])
        .code(0)
        .stdout_is(&format!("nodemgr {}\n", env!("CARGO_PKG_VERSION")));
}

/// The hidden generator: completions for the three shells and the man
/// pages, from the same model (what `make install` installs).
#[test]
fn completions_and_man_pages_are_generated() {
    let w = World::new();
    let gen_ = |args: &[&str]| -> String {
        let r = w.svcmgr(&[&["--generate"][..], args].concat());
        r.code(0).stderr_is("");
        r.stdout.clone()
    };
    let bash = gen_(&["bash"]);
    assert!(
        bash.contains("syncnodes") && bash.contains("--waitlock"),
        "{bash}"
    );
    let zsh = gen_(&["zsh", "nodemgr"]);
    assert!(
        zsh.contains("#compdef nodemgr") && zsh.contains("blacklist_status"),
        "{zsh}"
    );
    let fish = gen_(&["fish", "svcmon"]);
    assert!(
        fish.contains("-c svcmon") && fish.contains("watch"),
        "{fish}"
    );
    let man = gen_(&["man"]);
    assert!(man.contains(".TH svcmgr 8"), "{man}");
    assert!(
        man.contains("\\fBprint status\\fR\nprint the status tree"),
        "{man}"
    );
    assert!(gen_(&["man", "nodemgr"]).contains("\\fBdaemon blacklist clear\\fR"));
    w.svcmgr(&["--generate", "tcsh"])
        .code(2)
        .stderr_has("unknown shell 'tcsh'");
}

/// Action words join with `_`; the tree goes to stdout,
/// nothing to stderr.
#[test]
fn print_status_words_join_with_underscore() {
    let w = World::tutorial();
    let a = w.svc(&["print", "status"]);
    let b = w.svc(&["print_status"]);
    a.code(0).stderr_is("");
    b.code(0).stderr_is("").stdout_is(&a.stdout);
}

/// The exit code of several services (deliberate deviation: 1 when any
/// service failed, not the
/// count), with two services selected by `-s a,b`.
#[test]
fn several_services_exit_1_when_any_fails() {
    let w = World::new();
    w.one_node("svc1", "[vg#0]\nvgname = vg1\n");
    w.one_node("svc2", "[vg#0]\nvgname = vg2\n");
    w.vg("vg1", &[], false, &[]);
    w.vg("vg2", &[], false, &[]);
    w.svcmgr(&["-s", "svc1", "freeze"]).code(0);
    w.svcmgr(&["-s", "svc2", "freeze"]).code(0);
    w.svcmgr(&["-s", "svc1,svc2", "start"])
        .code(1)
        .stderr_is(
            "HH:MM:SS INFO    SVC1         Abort action for frozen service\n\
             HH:MM:SS INFO    SVC2         Abort action for frozen service\n",
        )
        .no_calls();
    w.svcmgr(&["-s", "svc2", "thaw"]).code(0);
    let r = w.svcmgr(&["-s", "svc1,svc2", "startvg"]);
    r.code(1)
        .stderr_has("HH:MM:SS INFO    SVC1         Abort action for frozen service\n");
    r.actions_are(&["vgchange --addtag @sles1 vg2", "vgchange -a y vg2"]);
}

// ---- status ----------------------------------------------------------------

/// `status` returns the overall status (1.6 meaning): 0 up, 1 down, 2 warn,
/// 3 n/a, and prints nothing.
#[test]
fn status_exit_code_is_the_overall_status() {
    let w = World::new();
    w.one_node("svc1", "[vg#0]\nvgname = vg1\n\n[vg#1]\nvgname = vg2\n");
    w.vg("vg1", &["lv1"], false, &[]);
    w.vg("vg2", &["lv2"], false, &[]);
    w.svcmgr(&["-s", "svc1", "status"])
        .code(1)
        .stdout_is("")
        .stderr_is("");
    w.vg("vg1", &["lv1"], true, &[]);
    w.svcmgr(&["-s", "svc1", "status"])
        .code(2)
        .stdout_is("")
        .stderr_is("");
    w.vg("vg2", &["lv2"], true, &[]);
    w.svcmgr(&["-s", "svc1", "status"])
        .code(0)
        .stdout_is("")
        .stderr_is("");
    // Nothing but the implicit app, without launchers: n/a.
    w.one_node("svc2", "");
    w.svcmgr(&["-s", "svc2", "status"])
        .code(3)
        .stdout_is("")
        .stderr_is("");
    // Tutorial, initial state: warn.
    let t = World::tutorial();
    t.svc(&["status"]).code(2).stdout_is("").stderr_is("");
}

/// `status` answers 0 to 7 with the status, so its bad input exits outside
/// them: 64 for a bad command line (option, service), 78 for a config that
/// does not load. Every other action keeps 2 for bad input
/// (docs/contracts.md, "Exit codes").
#[test]
fn status_bad_input_never_reads_as_a_status() {
    let w = World::new();
    w.one_node("svc1", "[vg#0]\nvgname = vg1\n");
    w.vg("vg1", &["lv1"], true, &[]);
    w.svcmgr(&["-s", "svc1", "status"]).code(0);
    w.svcmgr(&["-s", "nosuch", "status"])
        .code(64)
        .stdout_is("")
        .stderr_has("service nosuch not found");
    w.svcmgr(&["-s", "svc1", "status", "--bogus"])
        .code(64)
        .stderr_has("--bogus");
    w.svcmgr(&["-s", "svc1", "status", "--rid", "app#9"])
        .code(64);
    let svc1 = w.svc_link("svc1");
    w.run_as(&svc1, &["-s", "svc1", "status"]).code(64);
    w.run_as(&svc1, &["status"]).code(0);
    w.svcmgr(&["status"]).code(0);
    w.write_conf("svc2", "[DEFAULT]\nnodes = sles1\n[vg#0]\nvgname =\n");
    w.svcmgr(&["-s", "svc2", "status"])
        .code(78)
        .stdout_is("")
        .stderr_has("vgname must be set");
    // The other actions: 2, as before.
    w.svcmgr(&["-s", "svc2", "print", "status"]).code(2);
    w.svcmgr(&["-s", "nosuch", "print", "status"]).code(2);
    w.svcmgr(&["-s", "svc1", "print", "status", "--bogus"])
        .code(2);
    w.svcmgr(&["-s", "svc1", "start", "--rid", "app#9"]).code(2);
}

/// `--color auto|always|never`, the older `yes|no`, and the `=` form;
/// auto is off on a pipe (TERM=dumb is the unit tests' business: it needs
/// a terminal).
#[test]
fn color_options() {
    let w = World::tutorial();
    let plain = w.svc(&["print", "status"]);
    plain.code(0);
    assert!(!plain.stdout.contains('\x1b'), "{}", plain.report());
    for on in [
        &["--color=always"][..],
        &["--color", "yes"],
        &["--color", "always"],
    ] {
        let r = w.svc(&[&["print", "status"][..], on].concat());
        r.code(0);
        assert!(r.stdout.contains("\x1b["), "{on:?}: {}", r.report());
    }
    for off in [
        &["--color=never"][..],
        &["--color", "no"],
        &["--color=auto"],
    ] {
        let r = w.run_env(
            &w.etc().join(SVC),
            &[&["print", "status"][..], off].concat(),
            &[("TERM", "dumb")],
        );
        r.code(0).stdout_is(&plain.stdout);
    }
    w.svc(&["print", "status", "--color=rainbow"])
        .code(2)
        .stderr_has("possible values: auto, always, never");
}

/// On a terminal (a pty from script(1)): auto colours unless TERM=dumb,
/// and `svcmon --watch` clears the screen before each frame.
#[test]
fn terminal_colour_and_screen_clearing() {
    let w = World::tutorial();
    let on_tty = |cmd: String, term: &str| -> Run {
        w.run_env(
            Path::new("/usr/bin/timeout"),
            &["3", "script", "-qec", &cmd, "/dev/null"],
            &[("TERM", term)],
        )
    };
    let svc = w.etc().join(SVC).display().to_string();
    let r = on_tty(format!("{svc} print status"), "xterm");
    assert!(r.stdout.contains("\x1b[0m"), "{}", r.report());
    let r = on_tty(format!("{svc} print status"), "dumb");
    r.stdout_has(SVC);
    assert!(!r.stdout.contains('\x1b'), "{}", r.report());
    let svcmon = link(&w, "svcmon").display().to_string();
    let r = on_tty(format!("{svcmon} --watch --color never"), "dumb");
    assert!(r.stdout.starts_with("\x1b[H\x1b[2J"), "{}", r.report());
}

/// svcmon without an agent daemon: this node's services as `print
/// status` sees them, a one-line note on stderr, exit 1.
#[test]
fn svcmon_without_a_daemon_shows_the_local_services() {
    let w = World::tutorial();
    let svcmon = link(&w, "svcmon");
    let r = w.run_as(&svcmon, &[]);
    r.code(1);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.report());
    r.stderr_has("svcmon: no agent daemon answers on ")
        .stderr_has(": this node's services only (start it with 'nodemgr daemon start')");
    r.stdout_has("Nodes")
        .stdout_has("Services")
        .stdout_has(&format!(" {SVC}"));
    assert!(!r.stdout.contains("Threads"), "{}", r.report());
    // The same status print status computes: the tutorial's initial warn.
    let st = w.svc(&["json", "status"]).json();
    let run = w.run_as(&svcmon, &["--format", "json"]);
    let v = run.json();
    let mine = &v["nodes"]["sles1"]["services"][SVC];
    assert_eq!(mine["avail"], st["avail"], "{v:#}");
    assert_eq!(mine["overall"], st["overall"], "{v:#}");
    // The daemon's document shape (docs/json.md), this node only.
    crate::tier2::cli_actions::check("svcmon", &v, &run);
    crate::tier2::cli_actions::check("svcmon_node", &v["nodes"]["sles1"], &run);
    crate::tier2::cli_actions::check("svcmon_service", mine, &run);
}

/// `svcmon --watch | cat`: frames one after the other, no screen codes.
#[test]
fn svcmon_watch_into_a_pipe_does_not_clear() {
    let w = World::tutorial();
    let svcmon = link(&w, "svcmon");
    let running = w.spawn_env(&svcmon, &["--watch"], &[]);
    std::thread::sleep(Duration::from_millis(3500));
    running.signal(nix::sys::signal::Signal::SIGTERM);
    let r = running.finish();
    assert!(!r.stdout.contains('\x1b'), "{}", r.report());
    assert!(r.stdout.matches("Services").count() >= 2, "{}", r.report());
}

/// `json status` and `print status --format json`: one JSON object with
/// every group and every resource.
#[test]
fn json_status_carries_the_tree() {
    let w = World::tutorial();
    let a = w.svc(&["json", "status"]);
    a.code(0).stderr_is("");
    let v = a.json();
    for (k, want) in [
        ("overall", "warn"),
        ("avail", "warn"),
        ("disk", "up"),
        ("fs", "down"),
        ("ip", "down"),
        ("app", "n/a"),
        ("sync", "warn"),
        ("hb", "n/a"),
    ] {
        assert_eq!(v[k], want, "{k}\n{}", a.report());
    }
    assert_eq!(v["frozen"], false);
    let res = &v["resources"];
    assert_eq!(res.as_object().unwrap().len(), 6, "{}", a.report());
    assert_eq!(res["vg#0"]["status"], "up");
    assert_eq!(res["vg#0"]["label"], "vgsvc1");
    assert_eq!(res["vg#0"]["type"], "disk.vg");
    assert_eq!(res["ip#0"]["label"], "p26.opensvc.com@eth0");
    assert_eq!(res["ip#0"]["status"], "down");
    assert_eq!(
        res["fs#1"]["label"],
        "/dev/mapper/vgsvc1-lvdatasvc1@/svc1/data"
    );
    assert_eq!(res["sync#i0"]["status"], "warn");
    assert_eq!(res["sync#i0"]["log"], "# passive node needs update\n");
    assert_eq!(res["app"]["disable"], false);
    assert_eq!(res["app"]["optional"], false);
    let b = w.svc(&["print", "status", "--format", "json"]);
    b.code(0).stderr_is("");
    assert_eq!(b.json(), v, "{}", b.report());
}

/// The collector lines are kept off the stdout of data actions, so a fresh
/// config still gives parseable JSON.
#[test]
fn json_status_stays_json_after_a_config_change() {
    let w = World::tutorial();
    std::fs::remove_file(w.var().join(format!("{SVC}.push"))).unwrap();
    let r = w.svc(&["json", "status"]);
    r.code(0);
    assert_eq!(r.json()["overall"], "warn");
    // The push was recorded all the same: the next print status is clean.
    w.svc(&["print", "status"])
        .code(0)
        .stdout_is(&golden("status_initial.txt"));
}

/// The first command after a config edit tells the collector
/// (two stdout lines); the next does not.
#[test]
fn collector_lines_once_per_config_change() {
    let w = World::tutorial();
    std::fs::remove_file(w.var().join(format!("{SVC}.push"))).unwrap();
    let push = "send /etc/opensvc/p26.opensvc.com.env to collector ... OK\n\
                update /var/lib/opensvc/p26.opensvc.com.push timestamp ... OK\n";
    w.svc(&["print", "status"])
        .code(0)
        .stdout_is(&(push.to_string() + &golden("status_initial.txt")));
    assert!(w.var().join(format!("{SVC}.push")).exists());
    w.svc(&["print", "status"])
        .code(0)
        .stdout_is(&golden("status_initial.txt"));
    // An edit through svcmgr counts too.
    std::thread::sleep(Duration::from_millis(20));
    w.svc(&["set", "--param", "DEFAULT.comment", "--value", "tutorial"])
        .code(0)
        .stdout_is("");
    let r = w.svc(&["freeze"]);
    r.code(0).stdout_is(push);
    w.svc(&["thaw"]).code(0).stdout_is("");
}

// ---- freeze ----------------------------------------------------------------

/// A frozen service refuses start (nothing runs) but still
/// reports its status; thaw restores.
#[test]
fn freeze_blocks_start_until_thaw() {
    let w = World::tutorial();
    w.svc(&["frozen"]).code(0).stdout_is("").stderr_is("");
    w.svc(&["freeze"])
        .code(0)
        .stdout_is("")
        .stderr_is("")
        .no_calls();
    assert!(w.var().join(format!("FROZEN.{SVC}")).exists());
    w.svc(&["frozen"]).code(1).stdout_is("").stderr_is("");
    w.svc(&["start"])
        .code(1)
        .stdout_is("")
        .stderr_is("HH:MM:SS INFO    P26.OPENSVC.COM         Abort action for frozen service\n")
        .no_calls();
    w.svc(&["stop"]).code(1).no_calls();
    w.svc(&["print", "status"])
        .code(0)
        .stdout_is(&golden("status_initial.txt"))
        .stderr_is("");
    assert_eq!(w.svc(&["json", "status"]).json()["frozen"], true);
    w.svc(&["thaw"]).code(0).stdout_is("").stderr_is("");
    assert!(!w.var().join(format!("FROZEN.{SVC}")).exists());
    w.svc(&["frozen"]).code(0);
    w.svc(&["startvg"])
        .code(0)
        .stderr_is("HH:MM:SS INFO    P26.OPENSVC.COM.VG#0    vgsvc1 is already up\n");
}

/// A node-wide `<var>/FROZEN` freezes every service.
#[test]
fn node_freeze_blocks_every_service() {
    let w = World::tutorial();
    std::fs::write(w.var().join("FROZEN"), "").unwrap();
    w.svc(&["frozen"]).code(1);
    w.svc(&["startip"])
        .code(1)
        .stderr_is("HH:MM:SS INFO    P26.OPENSVC.COM         Abort action for frozen service\n")
        .no_calls();
}

// ---- lock ------------------------------------------------------------------

/// While another process holds the service lock, `start
/// --waitlock 1` gives up after about a second, names the holder, exits 1
/// and runs nothing. Read-only actions do not wait.
#[test]
fn start_waits_for_the_lock_then_fails() {
    let w = World::tutorial();
    let pid = w.hold_lock(SVC);
    let r = w.svc(&["start", "--waitlock", "1"]);
    r.code(1)
        .stdout_is("")
        .stderr_is(&format!(
            "HH:MM:SS ERROR   P26.OPENSVC.COM         timed out waiting for lock /var/lib/opensvc/lock/p26.opensvc.com: another action is currently running (pid={pid})\n"
        ))
        .no_calls();
    assert!(
        r.elapsed >= Duration::from_millis(900) && r.elapsed < Duration::from_secs(10),
        "waited {:?}\n{}",
        r.elapsed,
        r.report()
    );
    w.svc(&["print", "status"])
        .code(0)
        .stdout_is(&golden("status_initial.txt"));
    w.svc(&["freeze"]).code(0);
    w.svc(&["thaw"]).code(0);
}

// ---- config edits ------------------------------------------------------------

/// get/set/unset round-trip through `--param section.key`, keeping every
/// comment of the file.
#[test]
fn get_set_unset_round_trip_and_keep_comments() {
    let w = World::tutorial();
    let before = w.read_conf(SVC);
    w.svc(&["get", "--param", "DEFAULT.app"])
        .code(0)
        .stdout_is("MyApp\n")
        .stderr_is("");
    // The inline comment is not part of the value.
    w.svc(&["get", "--param", "ip#0.ipname"])
        .code(0)
        .stdout_is("p26.opensvc.com\n");
    w.svc(&["get", "--param", "vg#0.vgname"])
        .code(0)
        .stdout_is("vgsvc1\n");
    w.svc(&["set", "--param", "DEFAULT.app", "--value", "WebApp"])
        .code(0)
        .stdout_is("")
        .stderr_is("");
    w.svc(&["get", "--param", "DEFAULT.app"])
        .code(0)
        .stdout_is("WebApp\n");
    w.svc(&["set", "--param", "fs#1.mnt_opt", "--value", "noatime"])
        .code(0);
    w.svc(&["get", "--param", "fs#1.mnt_opt"])
        .code(0)
        .stdout_is("noatime\n");
    w.svc(&["unset", "--param", "fs#1.mnt_opt"])
        .code(0)
        .stderr_is("");
    w.svc(&["get", "--param", "fs#1.mnt_opt"])
        .code(1)
        .stdout_is("")
        .stderr_is("fs#1.mnt_opt is not set in /etc/opensvc/p26.opensvc.com.env\n");
    let after = w.read_conf(SVC);
    // Every comment survives; only the app line changed.
    for line in before
        .lines()
        .filter(|l| l.contains('#') && !l.starts_with('['))
    {
        let comment = &line[line.find(" #").map_or(0, |i| i + 1)..];
        if line.starts_with("app ") {
            continue;
        }
        assert!(
            after.contains(comment),
            "lost {comment:?}\n--- after:\n{after}"
        );
    }
    for header in [
        "[DEFAULT]                                       # Global section for service description",
        "[fs#0]                                          # Ressource Section for filesystem",
    ] {
        assert!(
            after.contains(header),
            "lost {header:?}\n--- after:\n{after}"
        );
    }
    let changed: Vec<(&str, &str)> = before
        .lines()
        .zip(after.lines())
        .filter(|(a, b)| a != b)
        .collect();
    assert_eq!(changed.len(), 1, "{changed:?}\n--- after:\n{after}");
    assert!(changed[0].1.starts_with("app = WebApp"), "{changed:?}");
    assert_eq!(before.lines().count(), after.lines().count(), "{after}");
    // And the service still loads.
    w.svc(&["validate", "config"])
        .code(0)
        .stdout_is("/etc/opensvc/p26.opensvc.com.env: no problem found\n");
}

#[test]
fn get_and_set_errors() {
    let w = World::tutorial();
    let before = w.read_conf(SVC);
    // Bad input: exit 2 (a missing value is exit 1).
    w.svc(&["get", "--param", "foo"])
        .code(2)
        .stdout_is("")
        .stderr_is("HH:MM:SS ERROR   P26.OPENSVC.COM         malformed parameter. format as 'section.key'\n");
    w.svc(&["get", "--param", "nosuch.foo"])
        .code(2)
        .stderr_is("HH:MM:SS ERROR   P26.OPENSVC.COM         section 'nosuch' not found\n");
    w.svc(&["get"])
        .code(2)
        .stderr_is("--param is required for 'get'\n");
    w.svc(&["set", "--param", "DEFAULT.app"])
        .code(2)
        .stderr_is("--value is required for 'set'\n");
    assert_eq!(w.read_conf(SVC), before);
}

/// `print config` shows the file as it is.
#[test]
fn print_config_shows_the_file() {
    let w = World::tutorial();
    let conf = w.norm(&w.read_conf(SVC));
    w.svc(&["print", "config"])
        .code(0)
        .stdout_is(&conf)
        .no_calls();
}

/// `validate config`: clean, then an unknown keyword and an unknown section,
/// each with its line, exit 2 and nothing run.
#[test]
fn validate_config_lists_unknown_keywords_with_their_line() {
    let w = World::tutorial();
    w.svc(&["validate", "config"])
        .code(0)
        .stdout_is("/etc/opensvc/p26.opensvc.com.env: no problem found\n")
        .stderr_is("")
        .no_calls();
    w.tutorial_conf_with("[vg#0]", "[foo]\nbar = 1\n\n[vg#0]\nvgsize = 10");
    w.svc(&["validate", "config"])
        .code(2)
        .stdout_is(
            "/etc/opensvc/p26.opensvc.com.env:13: [foo]: unknown section\n\
             /etc/opensvc/p26.opensvc.com.env:17: [vg#0] vgsize: unknown keyword\n",
        )
        .no_calls();
}

/// docs/behaviour.md, "Service lock", deliberate deviation: `--waitlock 0`
/// still tries once, so a free lock is taken.
#[test]
fn waitlock_zero_takes_a_free_lock() {
    let w = World::tutorial();
    w.svc(&["startvg", "--waitlock", "0"])
        .code(0)
        .stderr_is("HH:MM:SS INFO    P26.OPENSVC.COM.VG#0    vgsvc1 is already up\n");
}

/// docs/behaviour.md, "Log files": every record also goes to `<log>/<svc>.log` as
/// `YYYY-MM-DD HH:MM:SS,mmm - NAME - LEVEL - message`.
#[test]
fn actions_are_logged_to_the_service_log_file() {
    let w = World::tutorial();
    w.svc(&["startip"]).code(0);
    let text = std::fs::read_to_string(w.root.join(format!("log/{SVC}.log"))).unwrap();
    let got: Vec<String> = text
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (stamp, rest) = l.split_at(23.min(l.len()));
            let b = stamp.as_bytes();
            let dated = b.len() == 23
                && b[4] == b'-'
                && b[10] == b' '
                && b[19] == b','
                && stamp.chars().filter(|c| c.is_ascii_digit()).count() == 17;
            if dated {
                format!("DATE{rest}")
            } else {
                l.to_string()
            }
        })
        .collect();
    assert_eq!(
        got,
        [
            "DATE - P26.OPENSVC.COM.IP#0 - INFO - checking 37.59.71.26 availability",
            "DATE - P26.OPENSVC.COM.IP#0 - INFO - ifconfig eth0:1 37.59.71.26 netmask 255.255.255.224 up",
            "DATE - P26.OPENSVC.COM.IP#0 - INFO - arping -U -c 1 -I eth0 -s 37.59.71.26 0.0.0.0",
        ],
        "{text}"
    );
}

/// docs/behaviour.md, "What makes a service": a lower-case `[default]` section
/// is the DEFAULT section.
#[test]
fn lower_case_default_section() {
    let w = World::new();
    w.write_conf(
        "svc1",
        "[default]\nservice_type = TST\nnodes = sles1\n\n[vg#0]\nvgname = vg1\n",
    );
    w.mark_pushed("svc1");
    w.vg("vg1", &["lv"], true, &[]);
    w.svcmgr(&["-s", "svc1", "print", "status"])
        .code(0)
        .stdout_is(
            "svc1
overall                   up
|- avail                  up
|  |- vg#0           .... up       vg1
|  '- app            .... n/a      app
|- sync                   n/a
'- hb                     n/a
",
        );
}

/// `svcmgr -s svc1 create` (second tutorial): a minimal service, frozen
/// until its owner thaws it; a second create is refused.
#[test]
fn create_makes_a_frozen_service() {
    let w = World::new();
    w.svcmgr(&["-s", "svc1", "create"]).code(0).stdout_is("");
    assert_eq!(
        std::fs::read_to_string(w.etc().join("svc1.conf")).unwrap(),
        "[DEFAULT]\nnodes = sles1\nservice_type = TST\n"
    );
    w.svcmgr(&["-s", "svc1", "frozen"]).code(1);
    w.svcmgr(&["-s", "svc1", "start"])
        .code(1)
        .stderr_has("Abort action for frozen service");
    w.svcmgr(&["-s", "svc1", "thaw"]).code(0);
    w.svcmgr(&["-s", "svc1", "frozen"]).code(0);
    w.svcmgr(&["-s", "svc1", "create"])
        .code(1)
        .stderr_has("service svc1 already exists");
    w.svcmgr(&["create"])
        .code(2)
        .stderr_has("create takes exactly one service");
}

/// Issue 10, item 9: `nodemgr set` created node.conf 0644 (and kept a
/// wider mode), readable by all until the daemon narrowed it; node.conf
/// holds or may come to hold the cluster secret.
#[test]
fn nodemgr_set_keeps_node_conf_private() {
    use std::os::unix::fs::PermissionsExt;
    let w = World::new();
    let nodemgr = w.root.join("nodemgr");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_svcmgr"), &nodemgr).unwrap();
    let conf = w.etc().join("node.conf");
    let mode = || std::fs::metadata(&conf).unwrap().permissions().mode() & 0o7777;
    w.run_as(
        &nodemgr,
        &["set", "--param", "node.host_mode", "--value", "PRD"],
    )
    .code(0);
    assert_eq!(mode(), 0o600);
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o644)).unwrap();
    w.run_as(
        &nodemgr,
        &["set", "--param", "node.host_mode", "--value", "DEV"],
    )
    .code(0);
    assert_eq!(mode(), 0o600);
    let names: Vec<_> = std::fs::read_dir(w.etc())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["node.conf"], "a temp file was left");
}

/// Issue 10, item 3: an arbitrator hands out a ping secret, not its
/// cluster secret; the value is stable and carries enough bits to pass
/// `[arbitrator#N] secret`'s check on the pinging side.
#[test]
fn nodemgr_arbitrator_secret_prints_the_ping_secret() {
    let w = World::new();
    let nodemgr = w.root.join("nodemgr");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_svcmgr"), &nodemgr).unwrap();
    w.run_as(
        &nodemgr,
        &[
            "set",
            "--param",
            "cluster.secret",
            "--value",
            "0123456789abcdef0123456789abcdef",
        ],
    )
    .code(0);
    let first = w
        .run_as(&nodemgr, &["arbitrator", "secret"])
        .code(0)
        .stdout
        .clone();
    let secret = first.trim();
    assert!(secret.starts_with("ping-"), "{first:?}");
    assert_eq!(secret.len(), 5 + 64, "{first:?}");
    assert!(!first.contains("0123456789abcdef0123456789abcdef"));
    let again = w
        .run_as(&nodemgr, &["arbitrator", "secret"])
        .code(0)
        .stdout
        .clone();
    assert_eq!(first, again, "stable");
    w.run_as(
        &nodemgr,
        &["set", "--param", "arbitrator#1.secret", "--value", secret],
    )
    .code(0);
}
