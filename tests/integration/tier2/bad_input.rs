//! Tier 2: bad input. Each case gets a clear message naming the file and
//! the line (or the service) where to look, exit code 2, and nothing on the
//! system is touched: the fake tools' call log stays EMPTY
//! (docs/contracts.md, "Rules of the house"): unknown sections and
//! keywords, a bad or missing service type, a node outside the service's
//! nodes and drpnodes, among others.

use crate::common::*;

const FILE: &str = "/etc/opensvc/p26.opensvc.com.env";

/// Runs print status, start and validate config on the current config and
/// checks each refuses with `problem` (stderr, or stdout for validate), exit
/// 2 and no tool run at all.
fn refused_everywhere(w: &World, problem: &str) {
    for action in [&["print", "status"][..], &["start"], &["stop"], &["status"]] {
        w.svc(action)
            .code(2)
            .stdout_is("")
            .stderr_is(&format!("{problem}\n"))
            .no_calls();
    }
    w.svc(&["validate", "config"])
        .code(2)
        .stdout_is(&format!("{problem}\n"))
        .stderr_is("")
        .no_calls();
    assert!(w.calls().is_empty(), "{:?}", w.calls());
}

#[test]
fn missing_ipname() {
    let w = World::tutorial();
    w.tutorial_conf_with("ipname = p26.opensvc.com  ", "#ipname = p26.opensvc.com ");
    refused_everywhere(
        &w,
        &format!(
            "{FILE}:7: [ip#0] ipname: nor ipname and ipname@sles1 defined in config file section ip#0"
        ),
    );
}

/// Deliberate deviation: 1.5 skipped the resource silently.
#[test]
fn missing_ipdev() {
    let w = World::tutorial();
    w.tutorial_conf_with("ipdev = eth0 ", "#ipdev = eth0 ");
    refused_everywhere(
        &w,
        &format!("{FILE}:7: [ip#0] ipdev: ipdev must be set in section ip#0"),
    );
}

#[test]
fn missing_vgname() {
    let w = World::tutorial();
    w.tutorial_conf_with("vgname=vgsvc1 ", "#vgname=vgsvc1 ");
    refused_everywhere(
        &w,
        &format!("{FILE}:13: [vg#0] vgname: vgname must be set in section vg#0"),
    );
}

#[test]
fn missing_fs_dev_and_mnt() {
    let w = World::tutorial();
    w.tutorial_conf_with("mnt = {R}/svc1/data\n", "");
    refused_everywhere(
        &w,
        &format!("{FILE}:23: [fs#1] mnt: mnt must be set in section fs#1"),
    );
    w.tutorial_conf_with("dev = {R}/dev/mapper/vgsvc1-lvdatasvc1\n", "");
    refused_everywhere(
        &w,
        &format!("{FILE}:23: [fs#1] dev: dev must be set in section fs#1"),
    );
}

#[test]
fn bad_boolean() {
    let w = World::tutorial();
    w.tutorial_conf_with(
        "disable = False                                 # filesystem",
        "disable = maybe                                 # filesystem",
    );
    refused_everywhere(
        &w,
        &format!(
            "{FILE}:18: [fs#0] disable: invalid boolean 'maybe' (expected true/false, yes/no, on/off, 1/0)"
        ),
    );
}

/// A missing or unknown `service_type` is a config error (docs/behaviour.md,
/// "Service types and host modes").
#[test]
fn missing_or_unknown_service_type() {
    let w = World::tutorial();
    w.tutorial_conf_with("service_type = TST ", "#service_type = TST ");
    refused_everywhere(
        &w,
        &format!("{FILE}:1: [DEFAULT] service_type: service_type must be set"),
    );
    w.tutorial_conf_with("service_type = TST ", "service_type = XYZ ");
    refused_everywhere(
        &w,
        &format!(
            "{FILE}:3: [DEFAULT] service_type: service p26.opensvc.com type XYZ is not a known service type (PRD, PPRD, REC, INT, DEV, TST, TMP, DRP, FOR, PRA)"
        ),
    );
}

/// Several problems are all reported at once, in file order.
#[test]
fn every_problem_is_listed() {
    let w = World::tutorial();
    w.write_conf(
        SVC,
        &TUTORIAL_CONF
            .replacen("vgname=vgsvc1 ", "#vgname=vgsvc1 ", 1)
            .replacen("type = ext3 ", "type = ext3\nmonitor = perhaps ", 1),
    );
    w.mark_pushed(SVC);
    let want = format!(
        "{FILE}:13: [vg#0] vgname: vgname must be set in section vg#0\n\
         {FILE}:18: [fs#0] monitor: invalid boolean 'perhaps' (expected true/false, yes/no, on/off, 1/0)\n"
    );
    w.svc(&["start"]).code(2).stderr_is(&want).no_calls();
    w.svc(&["validate", "config"])
        .code(2)
        .stdout_is(&want)
        .no_calls();
}

#[test]
fn unknown_service() {
    let w = World::tutorial();
    for action in [
        &["print", "status"][..],
        &["start"],
        &["validate", "config"],
        &["get", "--param", "DEFAULT.app"],
    ] {
        let mut args = vec!["-s", "nosuch"];
        args.extend(action);
        w.svcmgr(&args)
            .code(2)
            .stdout_is("")
            .stderr_is("service nosuch not found: no nosuch.conf or nosuch.env in /etc/opensvc\n")
            .no_calls();
    }
    // The service-named form through a link whose config is gone.
    let link = w.svc_link("gone.example.com");
    w.run_as(&link, &["start"])
        .code(2)
        .stderr_is("service gone.example.com not found: no gone.example.com.conf or gone.example.com.env in /etc/opensvc\n")
        .no_calls();
}

#[test]
fn both_env_and_conf() {
    let w = World::tutorial();
    w.write_conf_ext(SVC, "conf", TUTORIAL_CONF);
    let msg = "service p26.opensvc.com has both /etc/opensvc/p26.opensvc.com.conf and /etc/opensvc/p26.opensvc.com.env: remove one\n";
    for action in [
        &["print", "status"][..],
        &["start"],
        &["validate", "config"],
        &["set", "--param", "DEFAULT.app", "--value", "x"],
    ] {
        w.svc(action)
            .code(2)
            .stdout_is("")
            .stderr_is(msg)
            .no_calls();
    }
}

/// An unreadable config. Root reads any file whatever its mode, so the
/// config is a directory instead: reading it fails with EISDIR.
#[test]
fn unreadable_config() {
    let w = World::tutorial();
    std::fs::remove_file(w.conf_path(SVC)).unwrap();
    std::fs::create_dir(w.conf_path(SVC)).unwrap();
    let msg = format!("cannot read {FILE}: Is a directory (os error 21)\n");
    for action in [
        &["print", "status"][..],
        &["start"],
        &["validate", "config"],
    ] {
        w.svc(action)
            .code(2)
            .stdout_is("")
            .stderr_is(&msg)
            .no_calls();
    }
}

/// A node outside the service's nodes and drpnodes refuses it (exit 2 is a
/// deliberate deviation: 1.5 exited 0 in the
/// argv[0] form).
#[test]
fn node_not_in_nodes() {
    let w = World::tutorial();
    for action in [&["print", "status"][..], &["start"], &["stop"]] {
        w.run_env(&w.etc().join(SVC), action, &[("OSVC_NODENAME", "sles3")])
            .code(2)
            .stdout_is("")
            .stderr_is("HH:MM:SS ERROR   P26.OPENSVC.COM         service p26.opensvc.com not managed here\n")
            .no_calls();
    }
    // Listing every service skips... nothing silently: it is reported too.
    w.run_env(
        &w.cmds.join("svcmgr"),
        &["start"],
        &[("OSVC_NODENAME", "sles3")],
    )
    .code(2)
    .stderr_is(
        "HH:MM:SS ERROR   P26.OPENSVC.COM         service p26.opensvc.com not managed here\n",
    )
    .no_calls();
}

/// A PRD node runs PRD services only (docs/behaviour.md, "Service types and
/// host modes").
#[test]
fn non_prd_service_on_prd_node() {
    let w = World::tutorial();
    std::fs::write(w.etc().join("node.conf"), "[node]\nhost_mode = PRD\n").unwrap();
    w.svc(&["start"])
        .code(1)
        .stderr_is("HH:MM:SS ERROR   P26.OPENSVC.COM         service p26.opensvc.com type TST is not allowed to run on this node (host mode PRD)\n")
        .no_calls();
}

/// Unknown sections and keywords do not stop the actions, as
/// in 1.5, but each is logged as a warning, once, with the very line
/// `validate config` prints (issue 10, item 17: a `mount_opts` for
/// `mnt_opt` mounted without the options, and nobody was told).
#[test]
fn unknown_sections_and_keywords_are_warned_about() {
    let w = World::tutorial();
    w.write_conf(
        SVC,
        &TUTORIAL_CONF
            .replacen(
                "[vg#0]",
                "[foo]\nbar = 1\n\n[ip]\nipname = x\n\n[ip#a]\nipdev = eth9\n\n[vg#0]\nvgsize = 10",
                1,
            )
            .replacen("type = ext3 ", "mount_opts = ro\ntype = ext3 ", 1),
    );
    w.mark_pushed(SVC);
    let validate = w.svc(&["validate", "config"]);
    validate.code(2).stdout_has("[foo]: unknown section");
    let problems = lines(&validate.stdout);
    assert_eq!(problems.len(), 5, "{}", validate.report());
    let r = w.svc(&["print", "status"]);
    r.code(0).stdout_is(&golden("status_initial.txt"));
    let want: Vec<String> = problems
        .iter()
        .map(|p| format!("HH:MM:SS WARNING P26.OPENSVC.COM         {p}"))
        .collect();
    assert_eq!(lines(&mask(&r.stderr)), want, "{}", r.report());
}

/// Bad command-line values: usage errors, nothing run.
#[test]
fn bad_options() {
    let w = World::tutorial();
    let r = w.svc(&["start", "--waitlock", "soon"]);
    r.code(2).stdout_is("").stderr_has("soon").no_calls();
    let r = w.svc(&["print", "status", "--format", "xml"]);
    r.code(2).stdout_is("").stderr_has("xml").no_calls();
    let r = w.svc(&["start", "--no-such-option"]);
    r.code(2)
        .stdout_is("")
        .stderr_has("--no-such-option")
        .no_calls();
}

/// Config edits check their parameter and never leave a half-written file.
#[test]
fn bad_edits_leave_the_file_alone() {
    let w = World::tutorial();
    let before = w.read_conf(SVC);
    w.svc(&["set", "--param", "nodot", "--value", "x"])
        .code(2)
        .stderr_is("HH:MM:SS ERROR   P26.OPENSVC.COM         malformed parameter. format as 'section.key'\n")
        .no_calls();
    w.svc(&["unset", "--param", "nosuch.key"])
        .code(2)
        .stderr_is("HH:MM:SS ERROR   P26.OPENSVC.COM         section 'nosuch' not found\n")
        .no_calls();
    assert_eq!(w.read_conf(SVC), before);
    let tmp: Vec<_> = std::fs::read_dir(w.etc())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("tmp"))
        .collect();
    assert!(tmp.is_empty(), "{tmp:?}");
}

/// Node names reach ssh and rsync: one that ssh would read as an option
/// is refused before anything runs (issue 10, item 14).
#[test]
fn a_node_name_that_is_not_a_host_name() {
    let w = World::tutorial();
    w.tutorial_conf_with(
        "nodes = sles1 sles2 ",
        "nodes = sles1 sles2 -oproxycommand=touch${IFS}/tmp/pwned ",
    );
    refused_everywhere(
        &w,
        &format!(
            "{FILE}:5: [DEFAULT] nodes: '-oproxycommand=touch${{ifs}}/tmp/pwned' is not a valid node name: only letters, digits, hyphens and dots are allowed"
        ),
    );
    for other in ["sles2;id", "-l", "a_b"] {
        w.tutorial_conf_with("nodes = sles1 sles2 ", &format!("nodes = sles1 {other} "));
        w.svc(&["validate", "config"])
            .code(2)
            .stdout_has(&format!("'{other}' is not a valid node name"))
            .no_calls();
    }
    // An inline comment is no node name (deviations.md, Config).
    w.tutorial_conf_with(
        "nodes = sles1 sles2 ",
        "nodes = sles1 sles2\ndrpnodes = sles3 #x ",
    );
    w.svc(&["validate", "config"]).code(0).no_calls();
}

/// A launcher time limit past any clock: it validated clean and then
/// panicked the runner (in the daemon, with panic=abort). Durations are
/// bounded to a day.
#[test]
fn an_app_timeout_beyond_a_day() {
    let w = World::tutorial();
    let lines = w.read_conf(SVC).lines().count();
    w.append_conf("[app]\ntimeout = 18446744073709551615\n");
    refused_everywhere(
        &w,
        &format!(
            "{FILE}:{}: [app] timeout: timeout must be at most 86400 seconds (a day)",
            lines + 2
        ),
    );
    w.tutorial_conf_with("", "");
    w.append_conf("[app]\ntimeout = 86400\n");
    w.svc(&["validate", "config"]).code(0).no_calls();
}

/// Every file under the root but the logs, with its bytes: "nothing
/// written" means this does not change.
fn files(w: &World) -> std::collections::BTreeMap<std::path::PathBuf, Vec<u8>> {
    fn walk(
        dir: &std::path::Path,
        out: &mut std::collections::BTreeMap<std::path::PathBuf, Vec<u8>>,
    ) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.is_dir() {
                walk(&p, out);
            } else {
                out.insert(p.clone(), std::fs::read(&p).unwrap_or_default());
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    for d in ["etc", "var", "tmp"] {
        walk(&w.root.join(d), &mut out);
    }
    out
}

/// Runs `args` on the tutorial service and checks: exit 2, `stderr`
/// exactly, no tool run, no file written.
fn refused_untouched(w: &World, args: &[&str], stderr: &str) {
    let before = files(w);
    let r = w.svc(args);
    r.code(2).stdout_is("").stderr_is(stderr).no_calls();
    let after = files(w);
    assert!(before == after, "files changed by {args:?}\n{}", r.report());
}

const RESOURCES: &str = "(resources: ip#0, vg#0, fs#0, fs#1, app, sync#i0)";

/// Issue 10, item 15: `disable --rid ip#7` used to write an `[ip#7]` that
/// no longer loads, and `start --rid <typo>` did nothing, exited 0 and
/// wrote last_start.
#[test]
fn unknown_rids_and_tags_are_refused_and_nothing_is_written() {
    let w = World::tutorial();
    for action in [
        &["start"][..],
        &["stop"],
        &["startip"],
        &["print", "status"],
    ] {
        let mut args = action.to_vec();
        args.extend(["--rid", "ip#0,ip#7"]);
        refused_untouched(
            &w,
            &args,
            &format!("{FILE}: no resource ip#7 {RESOURCES}\n"),
        );
        let mut args = action.to_vec();
        args.extend(["--tags", "web"]);
        refused_untouched(
            &w,
            &args,
            &format!("{FILE}: no resource tagged web (no resource has tags)\n"),
        );
    }
    for action in ["disable", "enable"] {
        refused_untouched(
            &w,
            &[action, "--rid", "ip#7"],
            &format!("{FILE}: no resource ip#7 {RESOURCES}\n"),
        );
        refused_untouched(
            &w,
            &[action, "--tags", "web"],
            "enable and disable take --rid, not --tags\n",
        );
    }
    assert!(!w.var().join(format!("last_start_{SVC}")).exists());
    // Known rids still work, app and sync#i0 included (no section needed).
    w.svc(&["disable", "--rid", "fs#1,app"]).code(0).no_calls();
    let conf = w.read_conf(SVC);
    assert!(
        conf.contains("[fs#1]\ntype = ext3\ndisable = true\n"),
        "{conf}"
    );
    assert!(conf.ends_with("\n[app]\ndisable = true\n"), "{conf}");
    w.svc(&["validate", "config"]).code(0);
}

/// Issue 10, item 16: `set` refuses what `validate config` would report at
/// the key it sets, with the same line; `--force` writes an unknown
/// keyword, never a bad value.
#[test]
fn set_refuses_bad_values_and_unknown_keywords() {
    let w = World::tutorial();
    let bad = "orchestrate = maybe";
    // What validate config says of the same edit made by hand.
    w.tutorial_conf_with(
        "nodes = sles1 sles2 ",
        &format!("nodes = sles1 sles2\n{bad}\n#"),
    );
    let said = w.svc(&["validate", "config"]);
    said.code(2);
    w.tutorial_conf_with("app", "app");
    let original = w.read_conf(SVC);
    assert!(
        said.stdout
            .contains(":6: [DEFAULT] orchestrate: invalid orchestrate 'maybe'"),
        "{}",
        said.report()
    );
    for force in [&[][..], &["--force"]] {
        let mut args = vec!["set", "--param", "DEFAULT.orchestrate", "--value", "maybe"];
        args.extend(force);
        refused_untouched(&w, &args, &said.stdout);
    }
    let args = ["set", "--param", "fs#0.mount_opts", "--value", "ro"];
    refused_untouched(
        &w,
        &args,
        &format!(
            "{FILE}:22: [fs#0] mount_opts: unknown keyword\n\
             nothing written (--force writes an unknown keyword anyway)\n"
        ),
    );
    refused_untouched(
        &w,
        &["set", "--param", "disk#0.dev", "--value", "/dev/sdz"],
        &format!(
            "{FILE}:30: [disk#0]: unknown section\n\
             nothing written (--force writes an unknown keyword anyway)\n"
        ),
    );
    assert_eq!(w.read_conf(SVC), original);
    // Forced, it is written, and then warned about at every action.
    w.svc(&[
        "set",
        "--force",
        "--param",
        "fs#0.mount_opts",
        "--value",
        "ro",
    ])
    .code(0)
    .stderr_is("")
    .no_calls();
    assert!(w.read_conf(SVC).contains("mount_opts = ro\n"));
    w.svc(&["print", "status"]).code(0).stderr_is(&format!(
        "HH:MM:SS WARNING P26.OPENSVC.COM         {FILE}:22: [fs#0] mount_opts: unknown keyword\n"
    ));
    // A good value of a known keyword goes in.
    w.svc(&["set", "--param", "DEFAULT.orchestrate", "--value", "start"])
        .code(0)
        .stderr_is("");
    assert!(w.read_conf(SVC).contains("orchestrate = start\n"));
}

/// `unset` of a key that is not there: nothing to do for a keyword of the
/// section, a refused typo otherwise; a present unknown key (a typo in the
/// file) can be removed.
#[test]
fn unset_of_unknown_things() {
    let w = World::tutorial();
    let before = w.read_conf(SVC);
    w.svc(&["unset", "--param", "ip#0.netmask"])
        .code(0)
        .stderr_is("")
        .no_calls();
    assert_eq!(w.read_conf(SVC), before);
    refused_untouched(
        &w,
        &["unset", "--param", "ip#0.ipnmae"],
        &format!("{FILE}:7: [ip#0] ipnmae: unknown keyword\n"),
    );
    // Removing a required key would leave a service that does not load.
    refused_untouched(
        &w,
        &["unset", "--param", "ip#0.ipdev"],
        &format!("{FILE}:7: [ip#0] ipdev: ipdev must be set in section ip#0\n"),
    );
    // Item 21: the indented comment goes with its key, or it would be
    // left right after the header, where it does not parse.
    w.tutorial_conf_with("[vg#0]", "[vg#0]\nvgsize = 10\n    # a note on it\n#");
    w.svc(&["unset", "--param", "vg#0.vgsize"])
        .code(0)
        .stderr_is("");
    assert!(!w.read_conf(SVC).contains("a note"));
    w.svc(&["validate", "config"]).code(0);
}

/// Issue 10, item 18: which of two values is meant is anyone's guess, so
/// the service does not load; both lines are named.
#[test]
fn duplicate_sections_and_keys_are_refused() {
    let w = World::tutorial();
    w.tutorial_conf_with("vgname=vgsvc1 ", "vgname=vgsvc1\nvgname = vgother\n#");
    refused_everywhere(
        &w,
        &format!("{FILE}:15: [vg#0] vgname: duplicate keyword, first at {FILE}:14"),
    );
    w.tutorial_conf_with("app", "app");
    w.append_conf("\n[ip#0]\nnetmask = 27\n");
    refused_everywhere(
        &w,
        &format!("{FILE}:30: [ip#0]: duplicate section, first at {FILE}:7"),
    );
}

/// Issue 10, item 19: an empty file names line 1; a BOM is not part of
/// the first line; `set` keeps the bytes of the lines it does not change.
#[test]
fn odd_files() {
    let w = World::tutorial();
    w.write_conf(SVC, "");
    refused_everywhere(
        &w,
        &format!("{FILE}:1: [DEFAULT] service_type: service_type must be set"),
    );
    w.write_conf(SVC, &format!("\u{feff}{TUTORIAL_CONF}"));
    w.mark_pushed(SVC);
    w.svc(&["print", "status"])
        .code(0)
        .stdout_is(&golden("status_initial.txt"))
        .stderr_is("");
    // « and » in Latin-1, on a line the edit does not touch.
    let text = w
        .subst(TUTORIAL_CONF)
        .replace("« hostname »", "\u{1} hostname \u{2}");
    let latin1 = |s: &str| -> Vec<u8> {
        s.bytes()
            .map(|b| match b {
                1 => 0xab,
                2 => 0xbb,
                b => b,
            })
            .collect()
    };
    std::fs::write(w.conf_path(SVC), latin1(&text)).unwrap();
    w.svc(&["set", "--param", "DEFAULT.app", "--value", "Other"])
        .code(0)
        .stderr_is("");
    let app = "app = MyApp                                     # service application friendly name";
    assert_eq!(
        std::fs::read(w.conf_path(SVC)).unwrap(),
        latin1(&text.replace(app, "app = Other"))
    );
}

/// Issue 10, item 11: a launcher is as safe as the directories on its
/// path; one others can write is bad input, refused before anything runs.
#[test]
fn launchers_in_a_directory_others_can_write_are_refused() {
    let w = World::tutorial_with_launchers();
    let app = w.root.join("svc1/app");
    std::fs::set_permissions(&app, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    for action in ["start", "startapp", "stop"] {
        refused_untouched(
            &w,
            &[action],
            "HH:MM:SS ERROR   P26.OPENSVC.COM.APP     /etc/opensvc/p26.opensvc.com.d/S10weblauncher: /svc1/app is writable by group or others (mode 0777): refusing to run it (fix with: chmod go-w /svc1/app)\n",
        );
    }
    assert!(
        !w.dir.path().join("webserver.pid").exists(),
        "a launcher ran"
    );
}

/// Issue 10, item 10: a `/var/tmp/opensvc` made by someone else is
/// refused, not written through.
#[test]
fn a_temp_dir_someone_else_made_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let w = World::tutorial_with_launchers();
    let tmp = w.root.join("tmp");
    std::fs::set_permissions(&tmp, PermissionsExt::from_mode(0o777)).unwrap();
    refused_untouched(
        &w,
        &["start"],
        "HH:MM:SS ERROR   P26.OPENSVC.COM.APP     /var/tmp/opensvc is writable by group or others (mode 0777): refusing to write launcher logs there (remove it, or fix with: chown root:root /var/tmp/opensvc && chmod 0700 /var/tmp/opensvc)\n",
    );
    std::fs::set_permissions(&tmp, PermissionsExt::from_mode(0o700)).unwrap();
    std::os::unix::fs::chown(&tmp, Some(1000), Some(1000)).unwrap();
    refused_untouched(
        &w,
        &["startapp"],
        "HH:MM:SS ERROR   P26.OPENSVC.COM.APP     /var/tmp/opensvc is owned by uid 1000, not root: refusing to write launcher logs there (remove it, or fix with: chown root:root /var/tmp/opensvc && chmod 0700 /var/tmp/opensvc)\n",
    );
    assert!(
        !w.dir.path().join("webserver.pid").exists(),
        "a launcher ran"
    );
}
