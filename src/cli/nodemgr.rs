//! `nodemgr`: node-level settings in `<etc>/node.conf` (docs/behaviour.md,
//! "nodemgr").

use std::ffi::OsString;

use clap::{CommandFactory, Parser};

use super::usage::{self, Line};

use crate::action::{self, Action, Env, Opts};
use crate::config::{self, edit};
use crate::daemon;
use crate::exec::RealRunner;
use crate::node;
use crate::paths::{self, Paths};
use crate::render;

/// One nodemgr action: its words joined by `_`, its group, what it does
/// and the options it takes besides `--debug` and `--help` (clap ids).
struct NodeAction {
    name: &'static str,
    group: &'static str,
    about: &'static str,
    opts: &'static [&'static str],
    run: fn(&Paths, &Args) -> i32,
}

const NODE: &str = "Node actions";
const CONFIG: &str = "Configuration";
const SYNC: &str = "Synchronization";
const DAEMON: &str = "Agent daemon";
const GROUPS: &[&str] = &[NODE, CONFIG, SYNC, DAEMON];

const fn na(
    name: &'static str,
    group: &'static str,
    about: &'static str,
    opts: &'static [&'static str],
    run: fn(&Paths, &Args) -> i32,
) -> NodeAction {
    NodeAction {
        name,
        group,
        about,
        opts,
        run,
    }
}

/// Every nodemgr action, with what runs it: an action is listed, described
/// and dispatched in one place.
#[rustfmt::skip]
const ACTIONS: &[NodeAction] = &[
    na("freeze",                  NODE,   "stop the orchestrator and svcmgr actions on this node", &[], node_freeze),
    na("thaw",                    NODE,   "undo freeze", &[], node_thaw),
    na("frozen",                  NODE,   "exit 1 when the node is frozen, 0 when not", &[], node_frozen),
    na("get",                     CONFIG, "print the value of --param section.key of node.conf", &["param", "format"], |p, a| get(p, a.param.as_deref(), json(a))),
    na("set",                     CONFIG, "set --param section.key to --value in node.conf", &["param", "value"], |p, a| set(p, a.param.as_deref(), a.value.as_deref())),
    na("unset",                   CONFIG, "remove --param section.key from node.conf", &["param"], |p, a| unset(p, a.param.as_deref())),
    na("validate_config",         CONFIG, "list every problem of node.conf with its line", &["format"], |p, a| validate_config(p, json(a))),
    na("arbitrator_secret",       CONFIG, "print the secret other clusters use to ping this arbitrator", &[], |p, _| arbitrator_secret(p)),
    na("syncservices",            SYNC,   "syncall every service, within its sync schedule (cron)", &["force"], |p, a| syncservices(p, a.debug, a.force)),
    na("daemon_start",            DAEMON, "start the agent daemon", &["foreground"], daemon_start),
    na("daemon_stop",             DAEMON, "stop the agent daemon and disarm its watchdog", &[], |p, _| daemon::run::stop(p)),
    na("daemon_restart",          DAEMON, "stop, then start the agent daemon", &[], |p, _| daemon_restart(p)),
    na("daemon_status",           DAEMON, "show the daemon's view of the nodes and services", &["format"], |p, a| super::svcmon::show(p, json(a), false)),
    na("daemon_running",          DAEMON, "exit 0 when the agent daemon runs, 1 when not", &[], |p, _| i32::from(!daemon::run::running(p))),
    na("daemon_blacklist_status", DAEMON, "print the peer sources the listener ignores", &[], |p, _| blacklist(p, "daemon_blacklist_status")),
    na("daemon_blacklist_clear",  DAEMON, "forgive every ignored source", &[], |p, _| blacklist(p, "daemon_blacklist_clear")),
    na("daemon_watchdog",         DAEMON, "the self-fencing supervisor (the daemon starts it)", &[], daemon_watchdog),
];

const USAGE: &str = "nodemgr [options] <action>";

#[derive(Parser, Debug)]
#[command(
    name = "nodemgr",
    about = "Manage this node's settings (node.conf) and its agent daemon",
    version,
    disable_help_flag = true,
    override_usage = USAGE,
    help_template = "{about}\n\n{usage-heading} {usage}\n\n{before-help}Options:\n{options}{after-help}",
    after_help = "`nodemgr help ACTION` or `nodemgr ACTION --help`: what an action does and takes."
)]
struct Args {
    /// `section.key`, e.g. node.host_mode
    #[arg(long)]
    param: Option<String>,
    /// The value for set
    #[arg(long)]
    value: Option<String>,
    /// Log at DEBUG level
    #[arg(long)]
    debug: bool,
    /// syncservices: bypass the sync schedules
    #[arg(short, long)]
    force: bool,
    /// daemon start: run in the foreground (systemd)
    #[arg(long)]
    foreground: bool,
    /// get, validate config, daemon status: output format
    #[arg(long, value_parser = ["json"])]
    format: Option<String>,
    /// Print help (of an action when it follows the action's words)
    #[arg(short = 'h', long)]
    help: bool,
    /// The action, in one or several words (`daemon start`)
    #[arg(hide = true)]
    action: Vec<String>,
}

fn lines() -> Vec<Line> {
    ACTIONS
        .iter()
        .map(|a| Line {
            words: usage::spaced(a.name),
            group: a.group,
            about: a.about,
        })
        .collect()
}

pub(super) fn grouped_actions() -> String {
    usage::grouped(&lines(), GROUPS)
}

fn action_command(a: &NodeAction) -> clap::Command {
    let all = Args::command();
    let mut cmd = clap::Command::new(usage::spaced(a.name))
        .about(a.about)
        .override_usage(format!("nodemgr {} [options]", usage::spaced(a.name)))
        .disable_help_flag(true)
        .disable_version_flag(true)
        .help_template("{about}\n\n{usage-heading} {usage}\n\nOptions:\n{options}\n");
    for arg in all.get_arguments() {
        let id = arg.get_id().as_str();
        if ["debug", "help"].contains(&id) || a.opts.contains(&id) {
            cmd = cmd.arg(arg.clone());
        }
    }
    cmd
}

/// For completions and the man page: each action a subcommand, the
/// multi-word ones under their first word (`daemon` → `start`, ...).
pub(super) fn completion_command() -> clap::Command {
    let mut top = Args::command().mut_arg("help", |a| a.hide(true));
    let mut daemon = clap::Command::new("daemon").about("the agent daemon");
    let mut arbitrator = clap::Command::new("arbitrator").about("arbitrator secret");
    let mut validate = clap::Command::new("validate").about("validate config");
    for a in ACTIONS {
        let sub = action_command(a);
        match a.name.split_once('_') {
            Some(("daemon", rest)) => daemon = daemon.subcommand(sub.name(rest.to_string())),
            Some(("arbitrator", rest)) => {
                arbitrator = arbitrator.subcommand(sub.name(rest.to_string()));
            }
            Some(("validate", rest)) => validate = validate.subcommand(sub.name(rest.to_string())),
            _ => top = top.subcommand(sub.name(a.name)),
        }
    }
    top.subcommand(validate)
        .subcommand(arbitrator)
        .subcommand(daemon)
}

/// Grouped usage and the error on stderr: bad input, exit 2.
fn usage(msg: &str) -> i32 {
    eprintln!(
        "Usage: {USAGE}\n\n{}\nnodemgr: error: {msg}",
        grouped_actions()
    );
    2
}

pub(super) fn main(args: Vec<OsString>) -> i32 {
    let a = match Args::try_parse_from(&args) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return e.exit_code();
        }
    };
    let (words, want_help) = usage::help_request(&a.action, a.help);
    if words.is_empty() {
        if want_help {
            let mut cmd = Args::command().before_help(grouped_actions().trim_end().to_string());
            print!("{}", cmd.render_help());
            return 0;
        }
        return usage("Missing action");
    }
    let word = words.join("_");
    let Some(act) = ACTIONS.iter().find(|x| x.name == word) else {
        let names: Vec<&str> = ACTIONS.iter().map(|x| x.name).collect();
        return usage(&usage::unsupported(&words, &names));
    };
    if want_help {
        print!("{}", action_command(act).render_help());
        return 0;
    }
    if !nix::unistd::geteuid().is_root() {
        let cmd: Vec<String> = args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        eprintln!("Insufficient privileges. Try:\n sudo {}", cmd.join(" "));
        return 1;
    }
    (act.run)(&Paths::from_env(), &a)
}

/// `--format json`.
fn json(a: &Args) -> bool {
    a.format.as_deref() == Some("json")
}

/// The whole node: the orchestrator starts nothing here, and svcmgr
/// refuses actions, until thawed.
fn node_freeze(paths: &Paths, _: &Args) -> i32 {
    report_node(action::freeze::freeze_node(paths))
}

fn node_thaw(paths: &Paths, _: &Args) -> i32 {
    report_node(action::freeze::thaw_node(paths))
}

fn node_frozen(paths: &Paths, _: &Args) -> i32 {
    i32::from(action::freeze::node_frozen(paths))
}

fn daemon_start(paths: &Paths, a: &Args) -> i32 {
    if a.foreground {
        crate::log::init(a.debug, Some(&paths.log));
        daemon::run::foreground(paths, &paths::nodename())
    } else {
        daemon::run::start(paths)
    }
}

/// The self-fencing supervisor the daemon starts (watchdog.rs).
fn daemon_watchdog(paths: &Paths, a: &Args) -> i32 {
    crate::log::init(a.debug, Some(&paths.log));
    daemon::watchdogd::run(paths)
}

/// Checked before the stop: a daemon is not stopped for a config it could
/// not start again with.
fn daemon_restart(paths: &Paths) -> i32 {
    if daemon::run::refuse_on_bad_node_conf(paths).is_err() {
        return 2;
    }
    match daemon::run::stop(paths) {
        0 => daemon::run::start(paths),
        c => c,
    }
}

/// The listener's banned sources as JSON, or clears them.
fn blacklist(paths: &Paths, action: &str) -> i32 {
    let Some(answer) = crate::client::request(paths, action) else {
        eprintln!(
            "no agent daemon answers on {}",
            crate::client::socket_path(paths).display()
        );
        return 1;
    };
    if action.ends_with("_status") {
        println!("{:#}", answer["data"]);
    }
    i32::from(answer["status"].as_i64() != Some(0))
}

fn param(p: Option<&str>) -> Result<&str, i32> {
    p.ok_or_else(|| usage("--param section.key is required"))
}

/// `node.host_mode` (or its 1.9 name `node.env`) prints the effective mode,
/// TST when unset: peers ask for it before a sync and must get an answer.
fn get(paths: &Paths, p: Option<&str>, json: bool) -> i32 {
    let p = match param(p) {
        Ok(p) => p,
        Err(c) => return c,
    };
    let print = |v: &str| {
        if json {
            print!("{}", render::json::to_text(&render::json::param(p, v)));
        } else {
            println!("{v}");
        }
    };
    if matches!(p, "node.host_mode" | "node.env") {
        print(&node::host_mode(paths));
        return 0;
    }
    let file = paths.node_conf();
    if !file.exists() {
        eprintln!("{p} is not set: {} does not exist", file.display());
        return 1;
    }
    match edit::get(&file, p) {
        Ok(Some(v)) => {
            print(&v);
            0
        }
        Ok(None) => {
            eprintln!("{p} is not set in {}", file.display());
            1
        }
        Err(e) => {
            eprintln!("{e}");
            1
        }
    }
}

fn set(paths: &Paths, p: Option<&str>, value: Option<&str>) -> i32 {
    let p = match param(p) {
        Ok(p) => p,
        Err(c) => return c,
    };
    let Some(v) = value else {
        return usage("--value is required for set");
    };
    let file = paths.node_conf();
    if let Err(problem) = config::node_validate::check_param(&file, p, v) {
        eprintln!("{problem}: nothing written");
        return 2;
    }
    if let Some(Err(e)) = file.parent().map(std::fs::create_dir_all) {
        eprintln!("cannot create {}: {e}", file.display());
        return 1;
    }
    // node.conf holds or may come to hold the cluster secret: 0600 from
    // the first byte, whatever mode it had (it was created 0644 here).
    report(edit::plan_set(&file, p, v).and_then(|plan| plan.private().commit()))
}

/// Every problem of node.conf on stdout, as `svcmgr validate config` lists
/// a service file's; exit 2 if any.
fn validate_config(paths: &Paths, json: bool) -> i32 {
    let file = paths.node_conf();
    match config::node::NodeConfig::load(&file) {
        Ok(conf) if json => {
            print!(
                "{}",
                render::json::to_text(&render::json::problems(&file, &conf.problems))
            );
            if conf.problems.is_empty() { 0 } else { 2 }
        }
        Ok(conf) if conf.problems.is_empty() => {
            println!("{}: no problem found", file.display());
            0
        }
        Ok(conf) => {
            for p in &conf.problems {
                println!("{p}");
            }
            2
        }
        Err(e) => {
            eprintln!("{e}");
            2
        }
    }
}

/// The ping secret other clusters put in `[arbitrator#N] secret` to use
/// this node as their arbitrator (daemon/wire.rs): it keys pings only, so
/// this cluster's own secret never has to leave it.
fn arbitrator_secret(paths: &Paths) -> i32 {
    match daemon::secret::cluster_secret(paths) {
        Ok(secret) => {
            println!("{}", daemon::wire::ping_secret(&secret));
            0
        }
        Err(e) => {
            eprintln!("{e}");
            2
        }
    }
}

fn unset(paths: &Paths, p: Option<&str>) -> i32 {
    match param(p) {
        Ok(p) => {
            report(edit::plan_unset(&paths.node_conf(), p).and_then(|plan| plan.private().commit()))
        }
        Err(c) => c,
    }
}

fn report_node(res: Result<(), String>) -> i32 {
    res.map_or_else(
        |e| {
            eprintln!("{e}");
            1
        },
        |()| 0,
    )
}

fn report(res: Result<(), edit::EditError>) -> i32 {
    match res {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{e}");
            1
        }
    }
}

/// What cron runs (packaging/): `syncall --cron` for every service of the
/// node, each under its own lock and schedule. 1.5 first slept a random
/// 0-300 s to spread the load on its collector; there is no collector here.
fn syncservices(paths: &Paths, debug: bool, force: bool) -> i32 {
    crate::log::init(debug, Some(&paths.log));
    crate::exec::install_signal_handlers();
    let nodename = paths::nodename();
    let runner = RealRunner::new();
    let opts = Opts {
        cron: true,
        force,
        ..Opts::default()
    };
    let env = Env {
        paths,
        nodename: &nodename,
        runner: &runner,
        opts: &opts,
        svcmgr_bin: action::svcmgr_bin(),
    };
    config::list_services(paths)
        .iter()
        .map(|s| action::run(&env, s, Action::SyncAll))
        .max()
        .unwrap_or(0)
}
