//! The only place that starts processes (docs/contracts.md, "Rules of the
//! house").
//!
//! A command is an argv vector, never a shell line, so no config value ever
//! reaches a shell. `Runner` is a trait so that driver unit tests can script
//! answers with `FakeRunner`; the binary uses `RealRunner`.

mod cache;
mod dry;
#[cfg(test)]
mod fake;
mod logged;
mod real;

use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub(crate) use cache::ProbeCache;
pub(crate) use dry::DryRunner;
#[cfg(test)]
pub(crate) use fake::FakeRunner;
pub(crate) use logged::{ErrLevel, run_logged, run_passthrough, run_quiet};
pub(crate) use real::RealRunner;

/// Set by the SIGINT/SIGTERM handler; running commands are ended and the
/// executor stops with `interrupted by signal`.
pub(crate) static INTERRUPTED: AtomicBool = AtomicBool::new(false);

pub(crate) fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}

pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, Clone)]
pub(crate) struct Cmd {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub timeout: Duration,
    /// stdout and stderr both go to this file, truncated first (app launchers).
    pub output_file: Option<PathBuf>,
    /// Send SIGINT after this long and collect the output as usual: a
    /// bounded wait for tools that only take whole seconds (arping) but
    /// report what they saw when interrupted.
    pub interrupt_after: Option<Duration>,
}

impl Cmd {
    pub(crate) fn new<I, S>(argv: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Cmd {
            argv: argv.into_iter().map(Into::into).collect(),
            env: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            output_file: None,
            interrupt_after: None,
        }
    }

    pub(crate) fn env(mut self, vars: &[(String, String)]) -> Cmd {
        self.env.extend(vars.iter().cloned());
        self
    }

    pub(crate) fn timeout(mut self, t: Duration) -> Cmd {
        self.timeout = t;
        self
    }

    pub(crate) fn interrupt_after(mut self, d: Duration) -> Cmd {
        self.interrupt_after = Some(d);
        self
    }

    pub(crate) fn output_file(mut self, p: PathBuf) -> Cmd {
        self.output_file = Some(p);
        self
    }

    pub(crate) fn program(&self) -> &str {
        self.argv.first().map_or("", String::as_str)
    }
}

/// The command line as the logs show it: argv joined by single spaces.
impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.argv.join(" "))
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Output {
    pub rc: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub(crate) fn ok(&self) -> bool {
        self.rc == 0
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum ExecError {
    #[error("{0} does not exist or not in path or is not executable")]
    NotFound(String),
    #[error("{cmd} timed out after {secs}s and was killed")]
    Timeout { cmd: String, secs: u64 },
    #[error("interrupted by signal")]
    Interrupted,
    #[error("{cmd}: {err}")]
    Spawn {
        cmd: String,
        err: std::sync::Arc<std::io::Error>,
    },
}

pub(crate) trait Runner: Send + Sync {
    fn run(&self, cmd: &Cmd) -> Result<Output, ExecError>;
    /// `--dry-run` (dry.rs): commands other than probes are printed, not
    /// run, and what writes files itself must not write either.
    fn dry_run(&self) -> bool {
        false
    }
    /// Where `bin` would be found, for "is the tool installed" checks.
    fn which(&self, bin: &str) -> Option<PathBuf>;
    /// The kernel's mount table (driver/mountinfo.rs). Read through the
    /// runner, as the tools' answers are, so that tests can answer it.
    fn mountinfo(&self) -> Result<String, ExecError> {
        let path = mountinfo_path();
        std::fs::read_to_string(&path).map_err(|err| ExecError::Spawn {
            cmd: format!("read {}", path.display()),
            err: std::sync::Arc::new(err),
        })
    }
}

/// `/proc/self/mountinfo`, or `OSVC_MOUNTINFO`: the tier-2 tests and
/// `scripts/bench.sh` run the real binary with fake tools, and point it at
/// the table their fake `mount` keeps.
pub(crate) fn mountinfo_path() -> PathBuf {
    match std::env::var_os("OSVC_MOUNTINFO") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from("/proc/self/mountinfo"),
    }
}

extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::Relaxed);
}

/// SIGINT and SIGTERM end the running command and stop the action with
/// `interrupted by signal` (docs/behaviour.md, "Other behaviours") instead
/// of killing svcmgr mid-way.
pub(crate) fn install_signal_handlers() {
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for sig in [Signal::SIGINT, Signal::SIGTERM] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        let _ = unsafe { sigaction(sig, &action) };
    }
}
