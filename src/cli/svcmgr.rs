//! `svcmgr [options] <action words>` and the service-named form.

use std::ffi::OsString;
use std::time::Duration;

use clap::Parser;

use super::Color;
use crate::action::{self, ACTIONS, Action, Env, Opts};
use crate::config;
use crate::exec::{DryRunner, RealRunner, Runner};
use crate::paths::{self, Paths};

#[derive(Parser, Debug)]
#[command(
    name = "svcmgr",
    about = "Start, stop and report on the services of this node",
    after_help = "Actions: start stop restart startip stopip startvg stopvg startfs stopfs startapp stopapp\n         print status, status, json status, freeze, thaw, frozen, enable, disable,\n         get, set, unset, print config, validate config, edit config [--recover|--discard],\n         syncnodes, syncdrp, syncall, postsync, switch --to <node>,\n         create [--config FILE | --template FILE], delete [--rid a,b], ls, logs [--follow],\n         print keywords"
)]
struct Args {
    /// Services to act on, comma-separated (default: every service of this node)
    #[arg(short = 's', long = "service", value_delimiter = ',')]
    service: Vec<String>,
    /// Log at DEBUG level
    #[arg(long)]
    debug: bool,
    /// Act on standby resources too
    #[arg(short, long)]
    force: bool,
    /// Bypass the clusterware safety net (what the cluster itself uses)
    #[arg(short, long)]
    cluster: bool,
    /// Seconds to wait for the service lock
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    waitlock: u64,
    /// Limit start/stop to these resource ids, comma-separated
    #[arg(long, value_delimiter = ',')]
    rid: Vec<String>,
    /// Limit start/stop to resources with any of these tags, comma-separated
    #[arg(long, value_delimiter = ',')]
    tags: Vec<String>,
    /// Leave activated resources up when a start fails
    #[arg(long)]
    disable_rollback: bool,
    /// Colour the status words
    #[arg(long, value_enum, default_value = "auto")]
    color: Color,
    /// `section.key` for get, set and unset
    #[arg(long)]
    param: Option<String>,
    /// The value for set
    #[arg(long)]
    value: Option<String>,
    /// Output format of the data actions (print status, status, ls, print config, validate config, get)
    #[arg(long, value_parser = ["json"])]
    format: Option<String>,
    /// logs: wait for new lines until interrupted
    #[arg(long)]
    follow: bool,
    /// start, stop, switch and the resource-group actions: print the commands they would run, run none
    #[arg(long)]
    dry_run: bool,
    /// print status, json status: probe now instead of answering from the
    /// local daemon's memory
    #[arg(long)]
    refresh: bool,
    /// Run as cron does: sync skips are not logged
    #[arg(long)]
    cron: bool,
    /// The destination node of switch
    #[arg(long, value_name = "NODE")]
    to: Option<String>,
    /// create: install this config file
    #[arg(long, value_name = "FILE", conflicts_with = "template")]
    config: Option<std::path::PathBuf>,
    /// create: start from this template file
    #[arg(long, value_name = "FILE")]
    template: Option<std::path::PathBuf>,
    /// edit config: edit again the copy a refused edit left
    #[arg(long, conflicts_with = "discard")]
    recover: bool,
    /// edit config: drop that copy and start from the live file
    #[arg(long)]
    discard: bool,
    /// The action, in one or several words (`print status` or `print_status`)
    action: Vec<String>,
}

fn usage_error(msg: &str) -> i32 {
    eprintln!("Usage: svcmgr [options] -s <svc>[,<svc>...] <action>\n\nsvcmgr: error: {msg}");
    action::BAD_CONFIG
}

/// `svcmgr -s <svc> create`: exactly one new service.
fn create(a: &Args) -> i32 {
    let [name] = a.service.as_slice() else {
        return usage_error("create takes exactly one service: svcmgr -s <svc> create");
    };
    let paths = Paths::from_env();
    let nodename = paths::nodename();
    crate::log::init(a.debug, Some(&paths.log));
    let opts = Opts::default();
    let runner = RealRunner::new();
    let env = Env {
        paths: &paths,
        nodename: &nodename,
        runner: &runner,
        opts: &opts,
        svcmgr_bin: action::svcmgr_bin(),
    };
    action::create(&env, name, a.config.as_deref().or(a.template.as_deref()))
}

/// `service`: Some((name, cluster)) when invoked through a service-named link.
pub fn main(args: Vec<OsString>, service: Option<(String, bool)>) -> i32 {
    let a = match Args::try_parse_from(&args) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return e.exit_code();
        }
    };
    if a.action.is_empty() {
        return usage_error("Missing action");
    }
    let word = a.action.join("_");
    if word == "create" {
        return create(&a);
    }
    let Some(act) = Action::parse(&word) else {
        let near: Vec<&str> = ACTIONS
            .iter()
            .map(|(n, _)| *n)
            .filter(|n| n.starts_with(a.action[0].as_str()))
            .collect();
        let mut msg = "unsupported action".to_string();
        if !near.is_empty() {
            msg.push_str(&format!(
                "\n\nactions starting with '{}': {}",
                a.action[0],
                near.join(", ")
            ));
        }
        return usage_error(&msg);
    };
    if a.dry_run && !act.can_dry_run() {
        return usage_error(&format!(
            "--dry-run applies to start, stop, restart, switch and the resource-group actions, not '{}'",
            act.name()
        ));
    }
    let json_opts = Opts {
        json: true,
        ..Opts::default()
    };
    if a.format.is_some() && !act.prints_json(&json_opts) {
        return usage_error(&format!(
            "--format json applies to print status, status, ls, print config, validate config and get, not '{}'",
            act.name()
        ));
    }
    if act == Action::PrintKeywords {
        return action::keywords::run(&Opts::default());
    }
    let paths = Paths::from_env();
    let nodename = paths::nodename();
    // A dry run's log lines read like a real run's: they stay on the
    // console, out of the service's log file.
    crate::log::init(a.debug, (!a.dry_run).then_some(paths.log.as_path()));
    crate::exec::install_signal_handlers();
    let mut cluster = a.cluster;
    // A list of services (`-s a,b`, or every service) answers in JSON with
    // one document keyed by name; one named service keeps the single
    // document (docs/json.md).
    let every_service = service.is_none() && a.service.is_empty();
    let keyed = every_service || a.service.len() > 1 || act == Action::Ls;
    let services = match service {
        Some((name, c)) => {
            if !a.service.is_empty() {
                return usage_error("no such option: -s (the service is the command name)");
            }
            cluster |= c;
            vec![name]
        }
        None if !a.service.is_empty() => a.service.clone(),
        None => config::list_services(&paths),
    };
    if services.is_empty() && act == Action::Ls {
        return action::OK;
    }
    if services.is_empty() {
        eprintln!("No service specified. Try:\n svcmgr -s svcname,... <action>\n svcname <action>");
        return action::FAILED;
    }
    let opts = Opts {
        force: a.force,
        cluster,
        waitlock: Duration::from_secs(a.waitlock),
        rids: a.rid,
        tags: a.tags,
        disable_rollback: a.disable_rollback,
        color: a.color.enabled(),
        json: a.format.as_deref() == Some("json"),
        refresh: a.refresh,
        param: a.param,
        value: a.value,
        cron: a.cron,
        to: a.to,
        recover: a.recover,
        discard: a.discard,
        every_service,
        follow: a.follow,
        ..Opts::default()
    };
    let real = RealRunner::new();
    let dry = DryRunner::new(&real);
    let runner: &dyn Runner = if a.dry_run { &dry } else { &real };
    let env = Env {
        paths: &paths,
        nodename: &nodename,
        runner,
        opts: &opts,
        svcmgr_bin: action::svcmgr_bin(),
    };
    if keyed && act.prints_json(&opts) {
        return keyed_json(&env, &services, act);
    }
    services
        .iter()
        .map(|s| action::run(&env, s, act))
        .max()
        .unwrap_or(action::OK)
}

/// One document for several services; a service that failed is left out
/// of it, its error on stderr and in the exit code.
fn keyed_json(env: &Env, services: &[String], act: Action) -> i32 {
    let mut code = action::OK;
    let mut docs = Vec::new();
    for s in services {
        let out = action::run_outcome(env, s, act);
        code = code.max(out.code);
        if let Some(doc) = out.data {
            docs.push((s.clone(), doc));
        }
    }
    let doc = crate::render::json::keyed(docs);
    let _ = std::io::Write::write_all(
        &mut std::io::stdout(),
        crate::render::json::to_text(&doc).as_bytes(),
    );
    code
}
