//! `nodemgr`: node-level settings in `<etc>/node.conf` (docs/behaviour.md,
//! "nodemgr").

use std::ffi::OsString;

use clap::Parser;

use crate::action::{self, Action, Env, Opts};
use crate::config::{self, edit};
use crate::daemon;
use crate::exec::RealRunner;
use crate::node;
use crate::paths::{self, Paths};
use crate::render;

#[derive(Parser, Debug)]
#[command(name = "nodemgr", about = "Manage this node's settings (node.conf)")]
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
    /// get, set, unset or syncservices
    action: Vec<String>,
}

pub fn main(args: Vec<OsString>) -> i32 {
    let a = match Args::try_parse_from(&args) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return e.exit_code();
        }
    };
    if !nix::unistd::geteuid().is_root() {
        let cmd: Vec<String> = args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        eprintln!("Insufficient privileges. Try:\n sudo {}", cmd.join(" "));
        return 1;
    }
    let paths = Paths::from_env();
    let json = a.format.as_deref() == Some("json");
    match a.action.join("_").as_str() {
        "get" => get(&paths, a.param.as_deref(), json),
        "set" => set(&paths, a.param.as_deref(), a.value.as_deref()),
        "validate_config" => validate_config(&paths, json),
        "arbitrator_secret" => arbitrator_secret(&paths),
        "unset" => unset(&paths, a.param.as_deref()),
        "syncservices" => syncservices(&paths, a.debug, a.force),
        // The whole node: the orchestrator starts nothing here, and
        // svcmgr refuses actions, until thawed.
        "freeze" => report_node(action::freeze::freeze_node(&paths)),
        "thaw" => report_node(action::freeze::thaw_node(&paths)),
        "frozen" => i32::from(action::freeze::node_frozen(&paths)),
        "daemon_start" if a.foreground => {
            crate::log::init(a.debug, Some(&paths.log));
            daemon::run::foreground(&paths, &paths::nodename())
        }
        "daemon_start" => daemon::run::start(&paths),
        // The self-fencing supervisor the daemon starts (watchdog.rs).
        "daemon_watchdog" => {
            crate::log::init(a.debug, Some(&paths.log));
            daemon::watchdogd::run(&paths)
        }
        "daemon_stop" => daemon::run::stop(&paths),
        // Checked before the stop: a daemon is not stopped for a config
        // it could not start again with.
        "daemon_restart" if daemon::run::refuse_on_bad_node_conf(&paths).is_err() => 2,
        "daemon_restart" => match daemon::run::stop(&paths) {
            0 => daemon::run::start(&paths),
            c => c,
        },
        "daemon_running" => i32::from(!daemon::run::running(&paths)),
        "daemon_status" => super::svcmon::show(&paths, json, false),
        action @ ("daemon_blacklist_status" | "daemon_blacklist_clear") => {
            blacklist(&paths, action)
        }
        "" => usage("Missing action"),
        _ => usage("unsupported action"),
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

fn usage(msg: &str) -> i32 {
    eprintln!(
        "Usage: nodemgr [options] get|set|unset|validate config|arbitrator secret|syncservices|daemon start|stop|restart|status|running|blacklist_status|blacklist_clear|watchdog\n\nnodemgr: error: {msg}"
    );
    2
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
