//! Tier 2: the everyday actions of issue 12 (`ls`, `logs`, `delete`,
//! `print keywords`) and the JSON documents of every data action, checked
//! against the field lists of docs/json.md, on the real binary with the
//! fake tools.

// Tests start helper processes (a follower to signal) themselves.
#![allow(clippy::disallowed_methods)]

use crate::common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

// ---- docs/json.md ----------------------------------------------------------

/// `name → (field → type)` from the ```` ```fields <name> ```` blocks.
fn documented() -> BTreeMap<String, BTreeMap<String, String>> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/json.md");
    let text = std::fs::read_to_string(&p).unwrap();
    let mut docs = BTreeMap::new();
    let mut current: Option<(String, BTreeMap<String, String>)> = None;
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("```fields ") {
            current = Some((name.trim().to_string(), BTreeMap::new()));
        } else if line.starts_with("```") {
            if let Some((name, fields)) = current.take() {
                docs.insert(name, fields);
            }
        } else if let Some((_, fields)) = current.as_mut() {
            let mut w = line.split_whitespace();
            if let (Some(f), Some(t)) = (w.next(), w.next()) {
                fields.insert(f.to_string(), t.to_string());
            }
        }
    }
    assert!(
        docs.len() >= 8,
        "docs/json.md lost its field lists: {docs:?}"
    );
    docs
}

fn type_ok(v: &Value, ty: &str) -> bool {
    ty.split('|').any(|t| match t {
        "string" => v.is_string(),
        "integer" => v.is_u64() || v.is_i64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        "null" => v.is_null(),
        "absent" => false,
        _ => panic!("docs/json.md: unknown type {t}"),
    })
}

/// `v` has exactly the fields docs/json.md lists for `doc`, of their
/// types, and the documents nested in it do too.
pub(crate) fn check(doc: &str, v: &Value, run: &Run) {
    let docs = documented();
    let fields = docs
        .get(doc)
        .unwrap_or_else(|| panic!("docs/json.md has no `fields {doc}` block"));
    let obj = v
        .as_object()
        .unwrap_or_else(|| run.fail(&format!("{doc}: not an object")));
    for (f, ty) in fields {
        match obj.get(f) {
            None if ty.split('|').any(|t| t == "absent") => {}
            None => run.fail(&format!("{doc}: documented field {f} missing")),
            Some(x) if !type_ok(x, ty) => run.fail(&format!("{doc}.{f}: {x} is not {ty}")),
            _ => {}
        }
    }
    for k in obj.keys() {
        if !fields.contains_key(k) {
            run.fail(&format!("{doc}: field {k} is not in docs/json.md"));
        }
    }
    if obj.get("version").is_some() {
        assert_eq!(obj["version"], 1, "{}", run.report());
    }
    match doc {
        "status" => {
            for r in obj["resources"].as_object().unwrap().values() {
                check("resource", r, run);
            }
        }
        "problems" => {
            for p in obj["problems"].as_array().unwrap() {
                check("problem", p, run);
            }
        }
        _ => {}
    }
}

/// A keyed document whose services are each a `doc`.
fn check_keyed(doc: &str, v: &Value, names: &[&str], run: &Run) {
    check("keyed", v, run);
    let services = v["services"].as_object().unwrap();
    let got: Vec<&str> = services.keys().map(String::as_str).collect();
    assert_eq!(got, names, "{}", run.report());
    for s in services.values() {
        check(doc, s, run);
    }
}

const SMALL: &str = "[app]\n";

// ---- JSON documents ---------------------------------------------------------

#[test]
fn json_status_has_the_documented_fields_and_1_5_keys() {
    let w = World::tutorial();
    for args in [
        &["json", "status"][..],
        &["print", "status", "--format", "json"],
    ] {
        let r = w.svc(args);
        r.code(0).stderr_is("");
        let v = r.json();
        check("status", &v, &r);
        assert_eq!(v["container"], "n/a");
        assert_eq!(v["share"], "n/a");
        assert_eq!(
            v["resources"]["sync#i0"]["log"],
            "# passive node needs update\n"
        );
        assert_eq!(v["resources"]["vg#0"]["log"], "");
    }
}

#[test]
fn status_format_json_is_a_summary_and_keeps_the_exit_code() {
    let w = World::tutorial();
    // A config the collector was not told about yet: its lines stay off
    // the document.
    std::fs::remove_file(w.var().join(format!("{SVC}.push"))).unwrap();
    let r = w.svc(&["status", "--format", "json"]);
    r.code(2).stderr_is("");
    let v = r.json();
    check("summary", &v, &r);
    assert_eq!(v["overall"], "warn");
}

#[test]
fn several_services_make_one_document_keyed_by_name() {
    let w = World::tutorial();
    w.one_node("small", SMALL);
    let r = w.svcmgr(&["-s", &format!("{SVC},small"), "json", "status"]);
    r.code(0);
    check_keyed("status", &r.json(), &[SVC, "small"], &r);
    // Every service (no -s) is a list too.
    let r = w.svcmgr(&["print", "status", "--format", "json"]);
    r.code(0);
    check_keyed("status", &r.json(), &[SVC, "small"], &r);
    let r = w.svcmgr(&[
        "-s",
        &format!("{SVC},small"),
        "get",
        "--param",
        "DEFAULT.nodes",
        "--format",
        "json",
    ]);
    r.code(0);
    check_keyed("param", &r.json(), &[SVC, "small"], &r);
}

#[test]
fn config_documents() {
    let w = World::tutorial();
    let r = w.svc(&["print", "config", "--format", "json"]);
    r.code(0);
    let v = r.json();
    check("config", &v, &r);
    assert_eq!(v["sections"]["vg#0"]["vgname"], "vgsvc1");
    assert_eq!(v["sections"]["DEFAULT"]["nodes"], "sles1 sles2");

    let r = w.svc(&["get", "--param", "ip#0.ipdev", "--format", "json"]);
    r.code(0);
    let v = r.json();
    check("param", &v, &r);
    assert_eq!(v["value"], "eth0");

    let r = w.svc(&["validate", "config", "--format", "json"]);
    r.code(0);
    let v = r.json();
    check("problems", &v, &r);
    assert_eq!(v["problems"].as_array().unwrap().len(), 0);

    w.append_conf("[fs#9]\nmount_opts = ro\n");
    let r = w.svc(&["validate", "config", "--format", "json"]);
    r.code(2);
    let v = r.json();
    check("problems", &v, &r);
    let msgs: Vec<&str> = v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["message"].as_str().unwrap())
        .collect();
    assert!(msgs.iter().any(|m| m.contains("unknown")), "{}", r.report());
}

#[test]
fn nodemgr_documents() {
    let w = World::new();
    let nodemgr = w.root.join("nodemgr");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_svcmgr"), &nodemgr).unwrap();
    let r = w.run_as(
        &nodemgr,
        &["get", "--param", "node.host_mode", "--format", "json"],
    );
    r.code(0);
    let v = r.json();
    check("param", &v, &r);
    assert_eq!(v["value"], "TST");
    let r = w.run_as(&nodemgr, &["validate", "config", "--format", "json"]);
    r.code(0);
    check("problems", &r.json(), &r);
}

/// Errors in JSON mode: on stderr, the usual exit code, no document (or a
/// keyed one without the service that failed).
#[test]
fn errors_in_json_mode_stay_on_stderr() {
    let w = World::tutorial();
    let r = w.svcmgr(&["-s", "nosuch", "json", "status"]);
    r.code(2).stdout_is("");
    assert!(!r.stderr.is_empty(), "{}", r.report());
    let r = w.svc(&["get", "--param", "DEFAULT.nosuch", "--format", "json"]);
    r.code(1)
        .stdout_is("")
        .stderr_has("DEFAULT.nosuch is not set");
    let r = w.svcmgr(&["-s", &format!("{SVC},nosuch"), "json", "status"]);
    r.code(2);
    check_keyed("status", &r.json(), &[SVC], &r);
}

// ---- ls ---------------------------------------------------------------------

#[test]
fn ls_lists_this_nodes_services_and_their_status() {
    let w = World::tutorial();
    w.one_node("small", SMALL);
    // Another node's service is not listed.
    w.write_conf(
        "elsewhere",
        "[DEFAULT]\nservice_type = TST\nnodes = sles9\n",
    );
    w.svcmgr(&["-s", "small", "freeze"]).code(0);
    let r = w.svcmgr(&["ls"]);
    r.code(0).stderr_is("");
    assert_eq!(
        lines(&r.stdout),
        [
            format!("{SVC:<30} warn"),
            format!("{:<30} n/a frozen", "small"),
        ],
        "{}",
        r.report()
    );
    let r = w.svcmgr(&["ls", "--format", "json"]);
    r.code(0);
    check_keyed("summary", &r.json(), &[SVC, "small"], &r);
    assert_eq!(r.json()["services"]["small"]["frozen"], true);
}

#[test]
fn ls_on_an_empty_node_prints_nothing() {
    let w = World::new();
    w.svcmgr(&["ls"]).code(0).stdout_is("").stderr_is("");
}

// ---- logs -------------------------------------------------------------------

fn log_file(w: &World, svc: &str) -> std::path::PathBuf {
    w.root.join("log").join(format!("{svc}.log"))
}

#[test]
fn logs_prints_the_log_file_coloured_on_request() {
    let w = World::tutorial();
    w.one_node("small", SMALL);
    w.svcmgr(&["-s", "small", "logs"]).code(0).stdout_is("");
    let line = "2026-12-06 10:00:00,000 - SMALL - WARNING - a warning";
    write_file(&log_file(&w, "small"), &format!("{line}\nraw output\n"));
    w.svcmgr(&["-s", "small", "logs"])
        .code(0)
        .stdout_is(&format!("{line}\nraw output\n"));
    let r = w.svcmgr(&["-s", "small", "logs", "--color", "yes"]);
    r.code(0);
    assert!(
        r.stdout
            .contains("SMALL - \x1b[33mWARNING\x1b[0m - a warning"),
        "{}",
        r.report()
    );
    w.svcmgr(&["-s", "nosuch", "logs"]).code(2);
}

#[test]
fn logs_follow_shows_appended_lines_and_ends_on_sigterm() {
    let w = World::tutorial();
    w.one_node("small", SMALL);
    let f = log_file(&w, "small");
    write_file(&f, "first\n");
    let running = w.spawn_env(&w.etc().join("small"), &["logs", "--follow"], &[]);
    std::thread::sleep(Duration::from_millis(600));
    let mut text = std::fs::read_to_string(&f).unwrap();
    text.push_str("second\n");
    std::fs::write(&f, text).unwrap();
    std::thread::sleep(Duration::from_millis(600));
    running.signal(nix::sys::signal::Signal::SIGTERM);
    let r = running.finish();
    r.code(0).stdout_is("first\nsecond\n");
}

fn write_file(p: &std::path::Path, text: &str) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

// ---- delete -----------------------------------------------------------------

#[test]
fn delete_rid_removes_sections_and_keeps_the_rest() {
    let w = World::tutorial();
    let before = w.read_conf(SVC);
    // An unknown rid: exit 2, nothing written.
    w.svc(&["delete", "--rid", "fs#0,fs#7"])
        .code(2)
        .stderr_has("no resource fs#7");
    assert_eq!(w.read_conf(SVC), before);
    w.svc(&["delete", "--tags", "x"])
        .code(2)
        .stderr_has("delete takes --rid, not --tags");
    assert_eq!(w.read_conf(SVC), before);
    w.svc(&["delete", "--rid", "fs#0,ip#0"]).code(0);
    let after = w.read_conf(SVC);
    assert!(
        !after.contains("[fs#0]") && !after.contains("[ip#0]"),
        "{after}"
    );
    assert!(
        !after.contains("ipdev") && !after.contains("vgsvc1-lvappsvc1"),
        "{after}"
    );
    assert!(
        after.contains("[vg#0]") && after.contains("[fs#1]"),
        "{after}"
    );
    // Comments of the remaining sections are kept.
    assert!(after.contains("# volume group name"), "{after}");
    w.svc(&["validate", "config"]).code(0);
}

#[test]
fn delete_refuses_a_running_service_and_removes_a_stopped_one() {
    let w = World::new();
    w.svcmgr(&["-s", "svc1", "create"]).code(0);
    w.svcmgr(&[
        "-s",
        "svc1",
        "set",
        "--param",
        "vg#0.vgname",
        "--value",
        "vg1",
    ])
    .code(0);
    w.vg("vg1", &["lv1"], true, &[NODE]);
    let r = w.svcmgr(&["-s", "svc1", "delete"]);
    r.code(1)
        .stderr_has("cannot delete a running service: vg#0 up here");
    assert!(w.etc().join("svc1.conf").exists());
    w.vg("vg1", &["lv1"], false, &[]);
    let r = w.svcmgr(&["-s", "svc1", "delete"]);
    r.code(0);
    r.actions_are(&[]);
    for f in ["svc1.conf", "svc1", "svc1.d", "svc1.dir"] {
        assert!(
            w.etc().join(f).symlink_metadata().is_err(),
            "{f} left\n{}",
            r.report()
        );
    }
    assert!(!w.var().join("FROZEN.svc1").exists(), "{}", r.report());
    w.svcmgr(&["-s", "svc1", "print", "status"]).code(2);
}

// ---- print keywords --------------------------------------------------------

#[test]
fn print_keywords_lists_sections_keys_defaults() {
    let w = World::new();
    let r = w.svcmgr(&["print", "keywords"]);
    r.code(0).stderr_is("");
    r.stdout_has("[ip#N]\n  ipname@ ");
    r.stdout_has("  orchestrate              what the daemon does");
    r.stdout_has("(default: 121)");
}

// ---- --dry-run --------------------------------------------------------------

/// What the dry run lets through to the tools: the probes, the address
/// conflict probes and the launchers' `status`.
fn read_only(call: &str) -> bool {
    is_probe(call)
        || call.starts_with("ping ")
        || call.starts_with("arping -D ")
        || call.ends_with(" status")
}

/// The dry run's plan, then the real action: the plan is exactly the
/// commands the real action runs, and the dry run ran none of them.
fn dry_then_real(w: &World, args: &[&str]) {
    let mut dry_args = args.to_vec();
    dry_args.push("--dry-run");
    let dry = w.svc(&dry_args);
    dry.code(0);
    if let Some(c) = dry.calls.iter().find(|c| !read_only(c)) {
        dry.fail(&format!("the dry run ran {c}"));
    }
    let real = w.svc(args);
    real.code(0);
    let ran: Vec<String> = real
        .calls
        .iter()
        .filter(|c| !read_only(c))
        .cloned()
        .collect();
    // Launchers are no fake tools: the real run's `spawn:` lines say
    // which ran, in their place among the tools (app comes last at start,
    // first at stop).
    let spawned: Vec<String> = real
        .stderr
        .lines()
        .filter_map(|l| l.split_once("spawn: ").map(|(_, c)| c.to_string()))
        .collect();
    // The fake tools record their argv joined by spaces: the plan's shell
    // quotes go.
    let plan: Vec<String> = lines(&dry.stdout)
        .iter()
        .map(|l| l.replace('\'', ""))
        .collect();
    let (launchers, tools): (Vec<String>, Vec<String>) =
        plan.into_iter().partition(|l| l.contains(".d/"));
    assert!(!ran.is_empty(), "{}", real.report());
    assert!(
        tools == ran && launchers == spawned,
        "the plan differs from what ran\n--- planned tools:\n{}\n--- ran:\n{}\n--- planned launchers:\n{}\n--- spawned:\n{}\n{}\n{}",
        tools.join("\n"),
        ran.join("\n"),
        launchers.join("\n"),
        spawned.join("\n"),
        dry.report(),
        real.report()
    );
}

#[test]
fn dry_run_plans_exactly_what_start_and_stop_run() {
    let w = World::tutorial_with_launchers();
    let last_start = w.var().join(format!("last_start_{SVC}"));
    let mnt = w.root.join("svc1/app");
    dry_then_real(&w, &["start"]);
    assert!(last_start.exists());
    dry_then_real(&w, &["stop"]);
    // And nothing was written by a dry run.
    std::fs::remove_file(&last_start).unwrap();
    std::fs::remove_dir_all(&mnt).unwrap();
    let log = w.root.join("log").join(format!("{SVC}.log"));
    let log_before = std::fs::read_to_string(&log).unwrap();
    let r = w.svc(&["start", "--dry-run"]);
    r.code(0);
    assert!(!last_start.exists(), "{}", r.report());
    assert!(!mnt.exists(), "{}", r.report());
    assert_eq!(std::fs::read_to_string(&log).unwrap(), log_before);
}

#[test]
fn dry_run_of_resource_groups_and_what_is_up_already() {
    let w = World::tutorial();
    dry_then_real(&w, &["startip"]);
    // Up already: nothing to plan.
    let r = w.svc(&["startip", "--dry-run"]);
    r.code(0).stdout_is("");
    dry_then_real(&w, &["stopip"]);
    dry_then_real(&w, &["startfs"]);
    dry_then_real(&w, &["stopfs"]);
}

#[test]
fn dry_run_and_json_are_refused_where_they_mean_nothing() {
    let w = World::tutorial();
    w.svc(&["start", "--format", "json"])
        .code(2)
        .stderr_has("--format json applies to print status");
    w.svc(&["freeze", "--dry-run"])
        .code(2)
        .stderr_has("--dry-run applies to start, stop");
}

#[test]
fn dry_run_of_switch_plans_the_stop_and_the_remote_start() {
    let w = World::tutorial();
    w.svc(&["start"]).code(0);
    dry_then_real(&w, &["switch", "--to", "sles2"]);
}
