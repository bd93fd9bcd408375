//! Service actions: the table of actions and what each needs (lock, frozen
//! check, clusterware guard), and `run`, the pipeline of one service
//! (docs/behaviour.md, "Action pipeline").

mod config_cmds;
mod create;
mod delete;
mod edit_config;
mod executor;
pub mod freeze;
pub mod keywords;
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

pub use create::{create, install_links};
pub use freeze::{freeze, is_frozen};
pub use probe::{collect, collect_with};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
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

use Action::*;

/// Every action with its command-line name (words joined by `_`).
pub const ACTIONS: &[(&str, Action)] = &[
    ("start", Start),
    ("stop", Stop),
    ("restart", Restart),
    ("startip", StartIp),
    ("stopip", StopIp),
    ("startvg", StartVg),
    ("stopvg", StopVg),
    ("startfs", StartFs),
    ("stopfs", StopFs),
    ("startapp", StartApp),
    ("stopapp", StopApp),
    ("print_status", PrintStatus),
    ("status", Status),
    ("json_status", JsonStatus),
    ("freeze", Freeze),
    ("thaw", Thaw),
    ("frozen", Frozen),
    ("enable", Enable),
    ("disable", Disable),
    ("get", Get),
    ("set", Set),
    ("unset", Unset),
    ("print_config", PrintConfig),
    ("validate_config", ValidateConfig),
    ("edit_config", EditConfig),
    ("syncnodes", SyncNodes),
    ("syncdrp", SyncDrp),
    ("syncall", SyncAll),
    ("postsync", PostSync),
    ("switch", Switch),
    ("ls", Ls),
    ("logs", Logs),
    ("delete", Delete),
    ("print_keywords", PrintKeywords),
];

impl Action {
    pub fn parse(word: &str) -> Option<Action> {
        ACTIONS.iter().find(|(n, _)| *n == word).map(|(_, a)| *a)
    }

    pub fn name(self) -> &'static str {
        ACTIONS
            .iter()
            .find(|(_, a)| *a == self)
            .map(|(n, _)| *n)
            .unwrap_or("")
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
    pub fn can_dry_run(self) -> bool {
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
    pub fn prints_json(self, opts: &Opts) -> bool {
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
pub struct Opts {
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
    /// No `-s`: the action runs on every service of this node (`ls`
    /// leaves out the files of services not for this node).
    pub every_service: bool,
    /// `logs --follow`: wait for new lines until SIGINT/SIGTERM.
    pub follow: bool,
}

/// Everything an action needs besides the service.
pub struct Env<'a> {
    pub paths: &'a Paths,
    pub nodename: &'a str,
    pub runner: &'a dyn Runner,
    pub opts: &'a Opts,
    pub svcmgr_bin: PathBuf,
}

impl Env<'_> {
    /// The same node, runner and binary, acting with other options.
    pub fn with_opts<'b>(&'b self, opts: &'b Opts) -> Env<'b> {
        Env {
            opts,
            svcmgr_bin: self.svcmgr_bin.clone(),
            ..*self
        }
    }
}

/// The running executable, target of the `.cluster`/`.stonith` links.
pub fn svcmgr_bin() -> PathBuf {
    std::env::current_exe().unwrap_or_else(|_| "/usr/bin/svcmgr".into())
}

/// Exit codes (docs/contracts.md, "Public contracts"): 0 success, 1 action
/// failed, 2 usage or config error; `status` returns the status code.
pub const OK: i32 = 0;
pub const FAILED: i32 = 1;
pub const BAD_CONFIG: i32 = 2;

/// Why a start did not complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The conflict gate: this resource is active on another host.
    Conflict(String),
    /// This resource failed to start here.
    Failed(String),
}

/// What an action ended with, for the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
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
    pub fn data(code: i32, doc: serde_json::Value) -> Outcome {
        Outcome {
            code,
            refused: None,
            data: Some(doc),
        }
    }
}

/// Runs `action` on service `name`: the pipeline of docs/behaviour.md,
/// "Action pipeline". A JSON document is printed on stdout.
pub fn run(env: &Env, name: &str, action: Action) -> i32 {
    let out = run_outcome(env, name, action);
    if let Some(doc) = &out.data {
        let _ = std::io::stdout().write_all(render::json::to_text(doc).as_bytes());
    }
    out.code
}

/// `run`, saying why a start did not complete.
pub fn run_outcome(env: &Env, name: &str, action: Action) -> Outcome {
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
        Err(code) => return code.into(),
    };
    if let Err(msg) = selection::check(&svc, env.opts) {
        eprintln!("{msg}");
        return BAD_CONFIG.into();
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
    let _guard = if action.is_sync() {
        match lock::acquire(&env.paths.svc_lock(name), Duration::ZERO) {
            Ok(g) => Some(g),
            Err(_) => {
                if !env.opts.cron {
                    log.info(format!("{} action is already running", action.name()));
                }
                return OK.into();
            }
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
        drop(_guard);
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
        | Logs | PrintKeywords => {
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
/// location and give exit code 2. Unknown keywords are logged as warnings.
pub fn load(env: &Env, name: &str) -> Result<Service, i32> {
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
            Err(BAD_CONFIG)
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

pub fn report_config_error(name: &str, e: &ConfigError) {
    match e {
        ConfigError::NotManagedHere { .. } => Logger::service(name).error(e.to_string()),
        _ => eprintln!("{e}"),
    }
}
