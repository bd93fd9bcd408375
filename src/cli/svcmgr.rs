//! `svcmgr [options] <action words>` and the service-named form; the help,
//! the usage and the completions all come from the action table
//! (`action::ACTIONS`).

use std::ffi::OsString;
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches, Parser};

use super::Color;
use super::usage::{self, Line};
use crate::action::{self, ACTIONS, Action, ActionInfo, Env, Group, Opt, Opts};
use crate::config;
use crate::exec::{DryRunner, RealRunner, Runner};
use crate::paths::{self, Paths};

const ABOUT: &str = "Start, stop and report on the services of this node";

/// The actions between the usage line and the options, as 1.5 listed them.
const TEMPLATE: &str =
    "{about}\n\n{usage-heading} {usage}\n\n{before-help}Options:\n{options}{after-help}";

#[derive(Parser, Debug)]
#[command(
    name = "svcmgr",
    about = ABOUT,
    version,
    disable_help_flag = true,
    help_template = TEMPLATE,
    after_help = "`svcmgr help ACTION` or `svcmgr ACTION --help`: what an action does and takes."
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
    #[arg(long, value_enum, default_value = "auto", value_name = "WHEN")]
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
    /// Print help (of an action when it follows the action's words)
    #[arg(short = 'h', long)]
    help: bool,
    /// The action, in one or several words (`print status` or `print_status`)
    #[arg(hide = true)]
    action: Vec<String>,
}

/// The name the user typed the command under, for the usage lines: the
/// service-named form (`p26.opensvc.com start`) takes no `-s`.
struct Form<'a> {
    bin: &'a str,
    named: bool,
}

impl Form<'_> {
    /// The usage line of every action.
    fn usage(&self) -> String {
        if self.named {
            format!("{} [options] <action>", self.bin)
        } else {
            "svcmgr [options] -s <svc>[,<svc>...] <action>".to_string()
        }
    }

    /// The usage line of one action.
    fn action_usage(&self, words: &str) -> String {
        if self.named {
            format!("{} {words} [options]", self.bin)
        } else {
            format!("svcmgr -s <svc>[,<svc>...] {words} [options]")
        }
    }

    /// The clap model of this form: `-s` hidden in the service-named one.
    fn command(&self) -> clap::Command {
        let cmd = Args::command().override_usage(self.usage());
        if self.named {
            cmd.bin_name(self.bin)
                .mut_arg("service", |a| a.hide(true))
                .after_help(format!(
                    "`{0} help ACTION` or `{0} ACTION --help`: what an action does and takes.",
                    self.bin
                ))
        } else {
            cmd
        }
    }
}

/// The clap id of an option of the table (a field of `Args`).
fn opt_id(o: Opt) -> &'static str {
    match o {
        Opt::Force => "force",
        Opt::Cluster => "cluster",
        Opt::Waitlock => "waitlock",
        Opt::Rid => "rid",
        Opt::Tags => "tags",
        Opt::DisableRollback => "disable_rollback",
        Opt::Param => "param",
        Opt::Value => "value",
        Opt::Format => "format",
        Opt::Cron => "cron",
        Opt::To => "to",
        Opt::Config => "config",
        Opt::Template => "template",
        Opt::Recover => "recover",
        Opt::Discard => "discard",
        Opt::Refresh => "refresh",
        Opt::Follow => "follow",
        Opt::DryRun => "dry_run",
    }
}

/// Options every action takes.
const COMMON: &[&str] = &["service", "debug", "color", "help"];

fn lines() -> Vec<Line> {
    ACTIONS
        .iter()
        .map(|i| Line {
            words: usage::spaced(i.name),
            group: i.group.title(),
            about: i.about,
        })
        .collect()
}

/// Every action grouped by theme, one line each.
pub(super) fn grouped_actions() -> String {
    let groups: Vec<&str> = Group::ALL.iter().map(|g| g.title()).collect();
    usage::grouped(&lines(), &groups)
}

fn names() -> Vec<&'static str> {
    ACTIONS
        .iter()
        .flat_map(|i| std::iter::once(i.name).chain(i.aliases.iter().copied()))
        .collect()
}

/// One action's own clap model: its description, its usage line and only
/// the options it takes.
fn action_command(form: &Form, info: &ActionInfo) -> clap::Command {
    let all = form.command();
    let wanted: Vec<&str> = COMMON
        .iter()
        .copied()
        .chain(info.opts.iter().map(|o| opt_id(*o)))
        .collect();
    let mut cmd = clap::Command::new(usage::spaced(info.name))
        .about(info.about)
        .override_usage(form.action_usage(&usage::spaced(info.name)))
        .disable_help_flag(true)
        .disable_version_flag(true)
        .help_template("{about}\n\n{usage-heading} {usage}\n\nOptions:\n{options}\n");
    for arg in all.get_arguments() {
        if wanted.contains(&arg.get_id().as_str()) && !arg.is_hide_set() {
            cmd = cmd.arg(arg.clone());
        }
    }
    cmd
}

/// The full help (`svcmgr --help`, `svcmgr help`) on stdout.
fn help(form: &Form) -> i32 {
    let mut cmd = form
        .command()
        .before_help(grouped_actions().trim_end().to_string());
    print!("{}", cmd.render_help());
    action::OK
}

/// Grouped usage and the error on stderr: bad input, exit 2.
fn usage_error(form: &Form, msg: &str) -> i32 {
    eprintln!(
        "Usage: {}\n\n{}\nsvcmgr: error: {msg}",
        form.usage(),
        grouped_actions()
    );
    action::BAD_CONFIG
}

/// The clap model for completions and the man page: each action a
/// subcommand with the options it takes, multi-word actions nested under
/// their first word (`print` → `status`, `config`).
pub(super) fn completion_command() -> clap::Command {
    let form = Form {
        bin: "svcmgr",
        named: false,
    };
    let mut top = form.command().mut_arg("help", |a| a.hide(true));
    let mut firsts: Vec<&str> = Vec::new();
    for info in ACTIONS {
        let first = info.name.split('_').next().unwrap_or(info.name);
        if !firsts.contains(&first) {
            firsts.push(first);
        }
    }
    for first in firsts {
        let mine: Vec<&ActionInfo> = ACTIONS
            .iter()
            .filter(|i| i.name.split('_').next() == Some(first))
            .collect();
        let sub = match mine.as_slice() {
            [one] if one.name == first => action_command(&form, one).name(first),
            _ => {
                let mut parent = clap::Command::new(first).about(
                    mine.iter()
                        .map(|i| usage::spaced(i.name))
                        .collect::<Vec<_>>()
                        .join(", "),
                );
                for i in mine {
                    let rest = i.name.split_once('_').map_or(i.name, |(_, r)| r);
                    parent = parent.subcommand(action_command(&form, i).name(rest.to_string()));
                }
                parent
            }
        };
        top = top.subcommand(sub);
    }
    top
}

/// The action the command line names, for the exit code of a command line
/// clap refused: `status` must not answer 2 (warn) to a bad option.
fn refused_code(form: &Form, args: &[OsString], clap_code: i32) -> i32 {
    let loose = form
        .command()
        .ignore_errors(true)
        .try_get_matches_from(args)
        .ok()
        .and_then(|m| Args::from_arg_matches(&m).ok());
    match loose.and_then(|a| Action::parse(&a.action.join("_"))) {
        Some(act) if clap_code != 0 => act.bad_input(),
        _ => clap_code,
    }
}

/// `service`: Some((name, cluster)) when invoked through a service-named link.
pub(super) fn main(args: Vec<OsString>, service: Option<(String, bool)>) -> i32 {
    let form = Form {
        bin: service.as_ref().map_or("svcmgr", |(n, _)| n.as_str()),
        named: service.is_some(),
    };
    let a = match form
        .command()
        .try_get_matches_from(&args)
        .and_then(|m| Args::from_arg_matches(&m))
    {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return refused_code(&form, &args, e.exit_code());
        }
    };
    let (words, want_help) = usage::help_request(&a.action, a.help);
    if words.is_empty() {
        return if want_help {
            help(&form)
        } else {
            usage_error(&form, "Missing action")
        };
    }
    let Some(info) = Action::lookup(&words.join("_")) else {
        return usage_error(&form, &usage::unsupported(&words, &names()));
    };
    if want_help {
        print!("{}", action_command(&form, info).render_help());
        return action::OK;
    }
    let act = info.action;
    if act == Action::Create && (form.named || a.service.len() != 1) {
        return usage_error(
            &form,
            "create takes exactly one service: svcmgr -s <svc> create",
        );
    }
    if a.dry_run && !act.can_dry_run() {
        return usage_error(
            &form,
            &format!(
                "--dry-run applies to start, stop, restart, switch and the resource-group actions, not '{}'",
                act.name()
            ),
        );
    }
    let json_opts = Opts {
        json: true,
        ..Opts::default()
    };
    if a.format.is_some() && !act.prints_json(&json_opts) {
        return usage_error(
            &form,
            &format!(
                "--format json applies to print status, status, ls, print config, validate config and get, not '{}'",
                act.name()
            ),
        );
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
    let services = match &service {
        Some((name, c)) => {
            if !a.service.is_empty() {
                usage_error(
                    &form,
                    "no such option: -s (the service is the command name)",
                );
                return act.bad_input();
            }
            cluster |= *c;
            vec![name.clone()]
        }
        None if !a.service.is_empty() => a.service.clone(),
        None => config::list_services(&paths),
    };
    if services.is_empty() && act == Action::Ls {
        return action::OK;
    }
    if services.is_empty() {
        eprintln!("No service specified. Try:\n svcmgr -s svcname,... <action>\n svcname <action>");
        // For `status`, 1 would read as "down".
        return if act == Action::Status {
            act.bad_input()
        } else {
            action::FAILED
        };
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
        create_from: a.config.or(a.template),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The table's options and names must be the command line's.
    #[test]
    fn the_table_matches_the_command_line() {
        let cmd = Args::command();
        let ids: Vec<&str> = cmd.get_arguments().map(|a| a.get_id().as_str()).collect();
        for info in ACTIONS {
            for o in info.opts {
                assert!(ids.contains(&opt_id(*o)), "{}: {o:?}", info.name);
            }
            assert_eq!(Action::parse(info.name), Some(info.action), "{}", info.name);
            assert_eq!(info.action.name(), info.name);
        }
        for id in COMMON {
            assert!(ids.contains(id), "{id}");
        }
        completion_command().debug_assert();
    }
}
