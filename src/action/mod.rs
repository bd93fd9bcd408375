//! Service actions: the table of actions and what each needs (lock, frozen
//! check, clusterware guard), and `run`, the pipeline of one service
//! (docs/behaviour.md, "Action pipeline").

mod config_cmds;
mod create;
mod delete;
mod edit_config;
mod executor;
pub(crate) mod freeze;
pub(crate) mod keywords;
mod logs;
mod ls;
mod order;
mod probe;
mod selection;

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::{self, ConfigError};
use crate::driver::Kind;
use crate::exec::Runner;
use crate::log::Logger;
use crate::paths::Paths;
use crate::service::Service;
use crate::{collector, lock, node, render};

pub(crate) use create::install_links;
pub(crate) use freeze::{freeze, is_frozen};
pub(crate) use probe::{Probing, collect, collect_with};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Start,
    Stop,
    Restart,
    StartIp,
    StopIp,
    StartVg,
    StopVg,
    StartFs,
    StopFs,
    StartApp,
    StopApp,
    PrintStatus,
    Status,
    JsonStatus,
    Freeze,
    Thaw,
    Frozen,
    Enable,
    Disable,
    Get,
    Set,
    Unset,
    PrintConfig,
    ValidateConfig,
    EditConfig,
    Create,
    SyncNodes,
    SyncDrp,
    SyncAll,
    PostSync,
    Switch,
    /// This node's services and their overall status, one per line.
    Ls,
    /// The service's log file, coloured; `--follow` waits for more.
    Logs,
    /// Remove the service's files, or with `--rid` those sections.
    Delete,
    /// Every section and keyword of a service file, with defaults.
    PrintKeywords,
}

use Action::{
    Create, Delete, Disable, EditConfig, Enable, Freeze, Frozen, Get, JsonStatus, Logs, Ls,
    PostSync, PrintConfig, PrintKeywords, PrintStatus, Restart, Set, Start, StartApp, StartFs,
    StartIp, StartVg, Status, Stop, StopApp, StopFs, StopIp, StopVg, Switch, SyncAll, SyncDrp,
    SyncNodes, Thaw, Unset, ValidateConfig,
};

/// The themes the usage groups actions under, in the order it lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Group {
    Service,
    Resources,
    Status,
    Config,
    Sync,
    Cluster,
}

impl Group {
    pub(crate) const ALL: [Group; 6] = [
        Group::Service,
        Group::Resources,
        Group::Status,
        Group::Config,
        Group::Sync,
        Group::Cluster,
    ];

    pub(crate) fn title(self) -> &'static str {
        match self {
            Group::Service => "Service actions",
            Group::Resources => "Resource group actions",
            Group::Status => "Status",
            Group::Config => "Configuration",
            Group::Sync => "Synchronization",
            Group::Cluster => "Cluster",
        }
    }
}

/// The options an action takes besides those every action takes (`-s`,
/// `--debug`, `--color`); the command line names each after its long form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Opt {
    Force,
    Cluster,
    Waitlock,
    Rid,
    Tags,
    DisableRollback,
    Param,
    Value,
    Format,
    Cron,
    To,
    Config,
    Template,
    Recover,
    Discard,
    Refresh,
    Follow,
    DryRun,
}

/// One line of the action table: everything the command line, its help,
/// its completions and its man page know of an action.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ActionInfo {
    /// Words joined by `_`, as 1.5 joined them (`print_status`).
    pub name: &'static str,
    pub action: Action,
    /// Other names that run it (also joined by `_`).
    pub aliases: &'static [&'static str],
    pub group: Group,
    /// One line, for the usage and `--help`.
    pub about: &'static str,
    pub opts: &'static [Opt],
}

const fn act(
    name: &'static str,
    action: Action,
    group: Group,
    about: &'static str,
    opts: &'static [Opt],
) -> ActionInfo {
    ActionInfo {
        name,
        action,
        aliases: &[],
        group,
        about,
        opts,
    }
}

use Opt::{
    Cluster, Config, Cron, DisableRollback, Discard, DryRun, Follow, Force, Format, Param, Recover,
    Refresh, Rid, Tags, Template, To, Value, Waitlock,
};
const START_OPTS: &[Opt] = &[Force, Cluster, Waitlock, Rid, Tags, DisableRollback, DryRun];
const STOP_OPTS: &[Opt] = &[Force, Cluster, Waitlock, Rid, Tags, DryRun];

/// Every action, in the order the usage lists them within their group.
/// A new action is one line here (and its arm in `dispatch_code`); one
/// with other names is `ActionInfo { aliases: &["..."], ..act(...) }`.
#[rustfmt::skip]
pub(crate) const ACTIONS: &[ActionInfo] = &[
    act("start",           Start,          Group::Service,   "start the resources: ip, vg, fs, app (rolled back on failure)", START_OPTS),
    act("stop",            Stop,           Group::Service,   "stop the resources: app, fs, vg, ip", STOP_OPTS),
    act("restart",         Restart,        Group::Service,   "stop, then start", START_OPTS),
    act("switch",          Switch,         Group::Service,   "stop here and start on the node given by --to", &[To, Cluster, Waitlock, DryRun]),
    act("freeze",          Freeze,         Group::Service,   "block start, stop and the agent daemon's orchestration", &[Cluster]),
    act("thaw",            Thaw,           Group::Service,   "undo freeze", &[Cluster]),
    act("enable",          Enable,         Group::Service,   "enable the resources given by --rid (or the service)", &[Rid, Waitlock]),
    act("disable",         Disable,        Group::Service,   "disable the resources given by --rid (or the service)", &[Rid, Waitlock]),
    act("startip",         StartIp,        Group::Resources, "bring the ip addresses up", START_OPTS),
    act("stopip",          StopIp,         Group::Resources, "take the ip addresses down", STOP_OPTS),
    act("startvg",         StartVg,        Group::Resources, "activate the volume groups", START_OPTS),
    act("stopvg",          StopVg,         Group::Resources, "deactivate the volume groups", STOP_OPTS),
    act("startfs",         StartFs,        Group::Resources, "activate the volume groups and mount the filesystems", START_OPTS),
    act("stopfs",          StopFs,         Group::Resources, "unmount the filesystems and deactivate the volume groups", STOP_OPTS),
    act("startapp",        StartApp,       Group::Resources, "run the launchers' start scripts (S*)", START_OPTS),
    act("stopapp",         StopApp,        Group::Resources, "run the launchers' stop scripts (K*)", STOP_OPTS),
    act("print_status",    PrintStatus,    Group::Status,    "print the status tree of the resources", &[Format, Refresh]),
    act("status",          Status,         Group::Status,    "print nothing, exit with the overall status (0 up, 1 down, 2 warn, 3 n/a)", &[Format]),
    act("json_status",     JsonStatus,     Group::Status,    "print the status as JSON", &[Refresh]),
    act("frozen",          Frozen,         Group::Status,    "exit 1 when the service is frozen, 0 when not", &[]),
    act("ls",              Ls,             Group::Status,    "list this node's services with their overall status", &[Format]),
    act("logs",            Logs,           Group::Status,    "print the service's log (--follow: wait for new lines)", &[Follow]),
    act("print_config",    PrintConfig,    Group::Config,    "print the config file", &[Format]),
    act("validate_config", ValidateConfig, Group::Config,    "list every problem of the config file with its line", &[Format]),
    act("edit_config",     EditConfig,     Group::Config,    "edit a copy of the config, installed only when it validates", &[Recover, Discard, Waitlock]),
    act("get",             Get,            Group::Config,    "print the value of --param section.key", &[Param, Format]),
    act("set",             Set,            Group::Config,    "set --param section.key to --value", &[Param, Value, Force, Waitlock]),
    act("unset",           Unset,          Group::Config,    "remove --param section.key", &[Param, Waitlock]),
    act("create",          Create,         Group::Config,    "create a new, frozen service (from --config or --template)", &[Config, Template]),
    act("delete",          Delete,         Group::Config,    "remove the service's files, or the sections given by --rid", &[Rid, Waitlock]),
    act("print_keywords",  PrintKeywords,  Group::Config,    "print every section and keyword of a service file, with defaults", &[]),
    act("syncnodes",       SyncNodes,      Group::Sync,      "send the config and the synced data to the other nodes", &[Force, Cron]),
    act("syncdrp",         SyncDrp,        Group::Sync,      "send them to the DRP nodes", &[Force, Cron]),
    act("syncall",         SyncAll,        Group::Sync,      "syncnodes, then syncdrp", &[Force, Cron]),
    act("postsync",        PostSync,       Group::Sync,      "what a peer runs after a sync: waits for the running action", &[Waitlock]),
];

impl Action {
    /// The action named by `word` (words joined by `_`), aliases included.
    pub(crate) fn parse(word: &str) -> Option<Action> {
        Action::lookup(word).map(|i| i.action)
    }

    pub(crate) fn lookup(word: &str) -> Option<&'static ActionInfo> {
        ACTIONS
            .iter()
            .find(|i| i.name == word || i.aliases.contains(&word))
    }

    pub(crate) fn info(self) -> &'static ActionInfo {
        match ACTIONS.iter().find(|i| i.action == self) {
            Some(i) => i,
            None => unreachable!("every action has a line in ACTIONS (tested)"),
        }
    }

    pub(crate) fn name(self) -> &'static str {
        self.info().name
    }

    /// What bad input (a bad command line, an unknown service, a config
    /// that does not load) exits with. `status` answers 0 to 7 with the
    /// service's status, so its bad input must not read as one of them
    /// (docs/contracts.md, "Exit codes").
    pub(crate) fn bad_input(self) -> i32 {
        if self == Status {
            STATUS_USAGE
        } else {
            BAD_CONFIG
        }
    }

    /// `bad_input` for a config that does not load.
    pub(crate) fn bad_config(self) -> i32 {
        if self == Status {
            STATUS_CONFIG
        } else {
            BAD_CONFIG
        }
    }

    /// Read-only and config actions run on frozen services and are never
    /// blocked by the clusterware guard (docs/behaviour.md, "Action pipeline").
    fn allowed_on_frozen(self) -> bool {
        matches!(
            self,
            PrintStatus
                | Status
                | JsonStatus
                | Freeze
                | Thaw
                | Frozen
                | Enable
                | Disable
                | Get
                | Set
                | Unset
                | PrintConfig
                | ValidateConfig
                | Ls
                | Logs
                | PrintKeywords
                | Delete
        )
    }

    /// Config replication is never blocked by the clusterware guard: the
    /// tutorial syncs a service under OpenHA (1.6 behaviour, docs/behaviour.md,
    /// "Clusterware guard").
    fn cluster_exempt(self) -> bool {
        self.allowed_on_frozen() || matches!(self, SyncNodes | SyncDrp | SyncAll | PostSync)
    }

    /// Sync actions try the lock once and, when it is held, say so and
    /// succeed: the running action is doing the job (docs/behaviour.md,
    /// "Action pipeline").
    fn is_sync(self) -> bool {
        matches!(self, SyncNodes | SyncDrp | SyncAll)
    }

    /// Actions that take the per-service lock (docs/behaviour.md, "Service lock").
    fn locked(self) -> bool {
        !matches!(
            self,
            PrintStatus
                | Status
                | JsonStatus
                | Freeze
                | Thaw
                | Frozen
                | Get
                | PrintConfig
                | ValidateConfig
                | Ls
                | Logs
                | PrintKeywords
        )
    }

    /// Whose stdout is data a script parses: no collector lines there.
    fn quiet_stdout(self, opts: &Opts) -> bool {
        matches!(self, JsonStatus | Get | PrintConfig | ValidateConfig) || self.prints_json(opts)
    }

    /// The actions `--dry-run` applies to: those that run the resources'
    /// commands (docs/behaviour.md, "Dry run").
    pub(crate) fn can_dry_run(self) -> bool {
        matches!(
            self,
            Start
                | Stop
                | Restart
                | StartIp
                | StopIp
                | StartVg
                | StopVg
                | StartFs
                | StopFs
                | StartApp
                | StopApp
                | Switch
        )
    }

    /// Whether this action answers with a JSON document (docs/json.md):
    /// `json status` always, the other data actions with `--format json`.
    pub(crate) fn prints_json(self, opts: &Opts) -> bool {
        self == JsonStatus
            || (opts.json
                && matches!(
                    self,
                    PrintStatus | Status | Ls | PrintConfig | ValidateConfig | Get
                ))
    }
}

/// Kinds a start-like action touches, in start order (docs/behaviour.md,
/// "Start order").
pub(crate) const START_KINDS: [Kind; 5] = [Kind::Ip, Kind::Vg, Kind::Fs, Kind::App, Kind::Hb];
/// Stop order (docs/behaviour.md, "Stop order").
const STOP_KINDS: [Kind; 5] = [Kind::Hb, Kind::App, Kind::Fs, Kind::Vg, Kind::Ip];

#[derive(Debug, Clone, Default)]
pub(crate) struct Opts {
    pub force: bool,
    pub cluster: bool,
    pub waitlock: Duration,
    pub rids: Vec<String>,
    pub tags: Vec<String>,
    pub disable_rollback: bool,
    pub color: bool,
    pub json: bool,
    /// `print status --refresh`: probe now, even when the local daemon
    /// holds a fresh status in memory.
    pub refresh: bool,
    pub param: Option<String>,
    pub value: Option<String>,
    /// Called from cron: sync skips are not logged.
    pub cron: bool,
    /// `switch --to <node>`.
    pub to: Option<String>,
    /// The daemon stopping an instance it has just frozen, for a
    /// cluster-wide stop or its split action: freezing first keeps every
    /// daemon from starting it meanwhile.
    pub frozen_ok: bool,
    /// `edit config`: edit again the copy a refused edit left.
    pub recover: bool,
    /// `edit config`: drop that copy and start from the live file.
    pub discard: bool,
    /// `create --config F` or `--template F`.
    pub create_from: Option<PathBuf>,
    /// No `-s`: the action runs on every service of this node (`ls`
    /// leaves out the files of services not for this node).
    pub every_service: bool,
    /// `logs --follow`: wait for new lines until SIGINT/SIGTERM.
    pub follow: bool,
}

/// Everything an action needs besides the service.
pub(crate) struct Env<'a> {
    pub paths: &'a Paths,
    pub nodename: &'a str,
    pub runner: &'a dyn Runner,
    pub opts: &'a Opts,
    pub svcmgr_bin: PathBuf,
}

impl Env<'_> {
    /// The same node, runner and binary, acting with other options.
    pub(crate) fn with_opts<'b>(&'b self, opts: &'b Opts) -> Env<'b> {
        Env {
            opts,
            svcmgr_bin: self.svcmgr_bin.clone(),
            ..*self
        }
    }
}

/// The running executable, target of the `.cluster`/`.stonith` links.
pub(crate) fn svcmgr_bin() -> PathBuf {
    std::env::current_exe().unwrap_or_else(|_| "/usr/bin/svcmgr".into())
}

/// Exit codes (docs/contracts.md, "Public contracts"): 0 success, 1 action
/// failed, 2 usage or config error; `status` returns the status code.
pub(crate) const OK: i32 = 0;
pub(crate) const FAILED: i32 = 1;
pub(crate) const BAD_CONFIG: i32 = 2;
/// `status` only: its command line is wrong (unknown option or service).
pub(crate) const STATUS_USAGE: i32 = 64;
/// `status` only: the service's config does not load.
pub(crate) const STATUS_CONFIG: i32 = 78;

/// Why a start did not complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The conflict gate: this resource is active on another host.
    Conflict(String),
    /// This resource failed to start here.
    Failed(String),
}

/// What an action ended with, for the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub code: i32,
    pub refused: Option<Refused>,
    /// The JSON document of a data action in JSON mode, not printed yet:
    /// the caller prints it alone or keyed by service (docs/json.md).
    pub data: Option<serde_json::Value>,
}

impl From<i32> for Outcome {
    fn from(code: i32) -> Outcome {
        Outcome {
            code,
            refused: None,
            data: None,
        }
    }
}

impl Outcome {
    pub(crate) fn data(code: i32, doc: serde_json::Value) -> Outcome {
        Outcome {
            code,
            refused: None,
            data: Some(doc),
        }
    }
}

/// Runs `action` on service `name`: the pipeline of docs/behaviour.md,
/// "Action pipeline". A JSON document is printed on stdout.
pub(crate) fn run(env: &Env, name: &str, action: Action) -> i32 {
    let out = run_outcome(env, name, action);
    if let Some(doc) = &out.data {
        let _ = std::io::stdout().write_all(render::json::to_text(doc).as_bytes());
    }
    out.code
}

/// `run`, saying why a start did not complete.
pub(crate) fn run_outcome(env: &Env, name: &str, action: Action) -> Outcome {
    pipeline(env, name, action)
}

fn pipeline(env: &Env, name: &str, action: Action) -> Outcome {
    let log = Logger::service(name);
    // These work on the file itself, so a broken config can be inspected and fixed.
    match action {
        ValidateConfig => return config_cmds::validate(env, name),
        EditConfig => {
            return edit_config::run(env, name, env.opts.recover, env.opts.discard, &log).into();
        }
        PrintConfig | Get | Set | Unset | Enable | Disable => {
            return config_cmds::run(env, name, action, &log);
        }
        Create => return create::create(env, name, env.opts.create_from.as_deref()).into(),
        Ls => return ls::run(env, name),
        Logs => return logs::run(env, name).into(),
        // Ignored, --tags would have turned a partial delete into the
        // removal of the whole service.
        Delete if !env.opts.tags.is_empty() => {
            eprintln!("delete takes --rid, not --tags");
            return BAD_CONFIG.into();
        }
        Delete if !env.opts.rids.is_empty() => return delete::rids(env, name, &log).into(),
        PrintKeywords => return keywords::run(env.opts).into(),
        _ => {}
    }
    let svc = match load(env, name) {
        Ok(s) => s,
        Err(ConfigError::NotFound { .. }) => return action.bad_input().into(),
        Err(_) => return action.bad_config().into(),
    };
    if let Err(msg) = selection::check(&svc, env.opts) {
        eprintln!("{msg}");
        return action.bad_input().into();
    }
    // A dry run writes nothing, the collector stamp included.
    if !env.runner.dry_run() {
        collector::push_if_needed(
            env.paths,
            name,
            &svc.config.file,
            !action.quiet_stdout(env.opts),
        );
    }
    if let Err(msg) = node::check_host_mode(env.paths, &svc.config.service_type) {
        log.error(format!("service {name} {msg}"));
        return FAILED.into();
    }
    // Bad input found without acting (launchers on an unsafe path) is
    // refused before anything, an order to the cluster included, happens.
    if matches!(action, Start | Stop | Restart | StartApp | StopApp)
        && !executor::Executor::new(env, &svc, &log).preflight()
    {
        return BAD_CONFIG.into();
    }
    // A manual start, stop, freeze or thaw of an orchestrated service is an
    // order to the cluster (order.rs). The daemon's own actions run with
    // --cluster.
    // A dry run shows the local plan: an order would hand the action to
    // the daemons, which cannot dry-run it.
    let ordered =
        order::is_order(&svc.config.orchestrate, env.opts.cluster, action) && !env.runner.dry_run();
    let mut order_at = None;
    if ordered {
        match order::before(env, name, &svc.info.nodes, action, &log) {
            Ok(at) => order_at = at,
            Err(code) => return code.into(),
        }
    }
    let frozen = freeze::is_frozen(env.paths, name);
    let gate = if ordered {
        env.paths.frozen_node().exists()
    } else {
        frozen
    };
    if gate && !action.allowed_on_frozen() && !env.opts.frozen_ok {
        log.info("Abort action for frozen service");
        return FAILED.into();
    }
    if svc.has_clusterware() && !env.opts.cluster && !action.cluster_exempt() {
        log.info(
            "this service is managed by a clusterware, thus direct service manipulation is disabled. the --cluster option circumvent this safety net.",
        );
        return FAILED.into();
    }
    let guard = if action.is_sync() {
        if let Ok(g) = lock::acquire(&env.paths.svc_lock(name), Duration::ZERO) {
            Some(g)
        } else {
            if !env.opts.cron {
                log.info(format!("{} action is already running", action.name()));
            }
            return OK.into();
        }
    } else if action.locked() {
        match lock::acquire(&env.paths.svc_lock(name), env.opts.waitlock) {
            Ok(g) => Some(g),
            Err(e) => {
                log.error(e.to_string());
                return FAILED.into();
            }
        }
    } else {
        None
    };
    let outcome = dispatch(env, &svc, action, frozen, &log);
    if ordered {
        drop(guard);
        return order::after(env, name, action, outcome.code, order_at, &log).into();
    }
    outcome
}

fn dispatch(env: &Env, svc: &Service, action: Action, frozen: bool, log: &Logger) -> Outcome {
    if action.prints_json(env.opts) {
        if action == Status {
            let st = collect(svc, env.runner, frozen);
            return Outcome::data(st.overall.exit_code(), render::json::summary(&st));
        }
        return Outcome::data(OK, status_doc(env, svc, frozen));
    }
    let ex = executor::Executor::new(env, svc, log);
    let code = dispatch_code(&ex, env, svc, action, frozen, log);
    Outcome {
        code,
        refused: ex.refused(),
        data: None,
    }
}

fn dispatch_code(
    ex: &executor::Executor,
    env: &Env,
    svc: &Service,
    action: Action,
    frozen: bool,
    log: &Logger,
) -> i32 {
    let ok = match action {
        Start => ex.start("start", &START_KINDS, true),
        Stop => ex.stop("stop", &STOP_KINDS),
        Restart => ex.stop("stop", &STOP_KINDS) && ex.start("start", &START_KINDS, true),
        StartIp => ex.start("startip", &[Kind::Ip], false),
        StopIp => ex.stop("stopip", &[Kind::Ip]),
        StartVg => ex.start("startvg", &[Kind::Vg], false),
        StopVg => ex.stop("stopvg", &[Kind::Vg]),
        StartFs => ex.start("startfs", &[Kind::Vg, Kind::Fs], false),
        StopFs => ex.stop("stopfs", &[Kind::Fs, Kind::Vg]),
        StartApp => ex.start("startapp", &[Kind::App], false),
        StopApp => ex.stop("stopapp", &[Kind::App]),
        PrintStatus => return print_status(env, svc, frozen),
        JsonStatus => unreachable!("a JSON document is made by dispatch"),
        Status => return collect(svc, env.runner, frozen).overall.exit_code(),
        Freeze => return freeze::freeze(env.paths, svc.name(), log),
        Thaw => return freeze::thaw(env.paths, svc.name(), log),
        Frozen => return if frozen { FAILED } else { OK },
        SyncNodes => ex.sync(&["nodes"]),
        SyncDrp => ex.sync(&["drpnodes"]),
        SyncAll => ex.sync(&["nodes", "drpnodes"]),
        // Nothing of ours needs work after receiving a sync: the lock taken
        // above is the point (the sender waits for our running action).
        PostSync => true,
        Switch => return ex.switch(),
        Delete => return delete::service(env, svc, log),
        Enable | Disable | Get | Set | Unset | PrintConfig | ValidateConfig | EditConfig | Ls
        | Logs | PrintKeywords | Create => {
            unreachable!("config actions are handled before the service is built")
        }
    };
    if ok { OK } else { FAILED }
}

fn print_status(env: &Env, svc: &Service, frozen: bool) -> i32 {
    if let Some(body) = from_daemon(env, svc, "tree") {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", svc.name());
        let _ = out.write_all(body.as_bytes());
        let _ = out.write_all(orchestrator_notes(env, svc).as_bytes());
        return OK;
    }
    // The name goes out before the probes run, so their log lines (hb link
    // fixes) appear under it, as in the tutorial.
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", svc.name());
    let _ = out.flush();
    drop(out);
    let st = collect(svc, env.runner, frozen);
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(render::tree::body(&st, env.opts.color).as_bytes());
    let _ = out.write_all(orchestrator_notes(env, svc).as_bytes());
    OK
}

/// Why the agent daemons do not run an orchestrated service where they
/// could, from the local daemon's view of every node; nothing when no
/// daemon answers or nothing is worth saying.
fn orchestrator_notes(env: &Env, svc: &Service) -> String {
    if svc.config.orchestrate == "no" {
        return String::new();
    }
    let Some(st) = crate::client::request(env.paths, "daemon_status") else {
        return String::new();
    };
    let notes = render::svcmon::notes(&st["data"], svc.name());
    if notes.is_empty() {
        return String::new();
    }
    let mut out = String::from("\nagent daemons:\n");
    for (node, why) in notes {
        out.push_str(&format!("  {node}: {why}\n"));
    }
    out
}

/// The status the local daemon's monitor last probed, rendered, when it is
/// as fresh as the monitor keeps it (src/daemon/status_memory.rs); None
/// with `--refresh`, without a daemon, or when only a probe can tell.
fn from_daemon(env: &Env, svc: &Service, format: &str) -> Option<String> {
    if env.opts.refresh {
        return None;
    }
    let req = serde_json::json!({
        "action": "service_status",
        "options": {"svcname": svc.name(), "format": format, "color": env.opts.color},
    });
    let answer = crate::client::ask(env.paths, &req)?;
    if answer["status"].as_i64() != Some(0) {
        return None;
    }
    answer["data"]["text"].as_str().map(str::to_string)
}

/// The `status` document (docs/json.md): the daemon's when it is fresh,
/// else probed now.
fn status_doc(env: &Env, svc: &Service, frozen: bool) -> serde_json::Value {
    if let Some(doc) = from_daemon(env, svc, "json").and_then(|t| serde_json::from_str(&t).ok()) {
        return doc;
    }
    render::json::value(&collect(svc, env.runner, frozen))
}

/// Loads and builds the service; config errors are printed with their
/// location, and the caller picks the exit code. Unknown keywords are
/// logged as warnings.
pub(crate) fn load(env: &Env, name: &str) -> Result<Service, ConfigError> {
    match config::load(env.paths, name, env.nodename) {
        Ok(cfg) => {
            warn_once(&Logger::service(name), &cfg.warnings);
            Ok(Service::build(
                cfg,
                env.nodename,
                env.paths,
                env.svcmgr_bin.clone(),
            ))
        }
        Err(e) => {
            report_config_error(name, &e);
            Err(e)
        }
    }
}

/// A `mount_opts` for `mnt_opt` is ignored by the action, so it is said
/// (issue 10, item 17); once per process, as an action may load the
/// service more than once and the daemon loads it every few seconds.
fn warn_once(log: &Logger, warnings: &[config::Problem]) {
    static SAID: std::sync::Mutex<std::collections::BTreeSet<String>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    let Ok(mut said) = SAID.lock() else { return };
    for w in warnings {
        let text = w.to_string();
        if said.insert(text.clone()) {
            log.warn(text);
        }
    }
}

pub(crate) fn report_config_error(name: &str, e: &ConfigError) {
    match e {
        ConfigError::NotManagedHere { .. } => Logger::service(name).error(e.to_string()),
        _ => eprintln!("{e}"),
    }
}
