//! Running the app launchers: the `S*`/`K*` launchers one after the
//! other with their logs in `<tmp>`, the `C*` checks concurrently, and
//! the log lines 1.5 wrote about them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::safety::{Refusal, prepare, tmp_dir_message};
use super::{App, io_error_text};
use crate::driver::{Ctx, Failed};
use crate::exec::{Cmd, ExecError, Output};
use crate::log::Logger;
use crate::safepath;

/// Start and stop launchers may legitimately take long (a database
/// recovering its journal); 1.5 waited forever. One hour still ends a hung
/// launcher so that the service lock is eventually released.
pub(super) const DEFAULT_ACTION_TIMEOUT: Duration = Duration::from_secs(3600);

/// A check script blocks `print status`, so it gets much less time.
pub(super) const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(60);

impl App {
    /// Runs every launcher starting with `prefix` with `action` as argument.
    /// Only an unsafe launcher or an unusable log directory fail: launcher
    /// return codes are reported, never fatal (1.5).
    pub(super) fn run_launchers(&self, ctx: &Ctx, prefix: u8, action: &str) -> Result<(), Failed> {
        let paths = match self.launchers(prefix) {
            Ok(p) => p,
            Err(e) => {
                ctx.log
                    .error(format!("cannot read {}: {e}", self.dir.display()));
                return Err(Failed::because(format!(
                    "cannot list launchers in {}",
                    self.dir.display()
                )));
            }
        };
        let mut runnable = Vec::new();
        let mut unsafe_found = false;
        for p in paths {
            match prepare(&ctx.log, &p) {
                Ok(()) => runnable.push(p),
                Err(Refusal::Unsafe) => unsafe_found = true,
                Err(Refusal::Broken) => {}
            }
        }
        if unsafe_found {
            return Err(Failed::because(format!(
                "unsafe launchers in {}",
                self.dir.display()
            )));
        }
        let tmp = &self.tmp;
        if !runnable.is_empty()
            && let Err(e) = safepath::private_dir(tmp)
        {
            ctx.log.error(tmp_dir_message(&e));
            return Err(Failed::because(format!("unsafe {}", tmp.display())));
        }
        for p in runnable {
            if crate::exec::interrupted() {
                break;
            }
            // Again just before the exec: a launcher swapped while an
            // earlier one ran must not run.
            match prepare(&ctx.log, &p) {
                Ok(()) => self.run_one(ctx, &p, action),
                Err(Refusal::Unsafe) => {
                    return Err(Failed::because(format!(
                        "unsafe launchers in {}",
                        self.dir.display()
                    )));
                }
                Err(Refusal::Broken) => {}
            }
        }
        Ok(())
    }

    fn run_one(&self, ctx: &Ctx, path: &Path, action: &str) {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let logfile = self.tmp.join(format!("svc_{}_{name}.log", ctx.svc.name));
        let cmd = Cmd::new([path.to_string_lossy().into_owned(), action.to_string()])
            .env(ctx.env)
            .timeout(self.timeout(DEFAULT_ACTION_TIMEOUT))
            .output_file(logfile.clone());
        ctx.log.info(format!("spawn: {cmd}"));
        let t0 = Instant::now();
        let res = ctx.runner.run(&cmd);
        let took = fmt_timedelta(t0.elapsed());
        let logfile = logfile.display();
        match res {
            Ok(out) => ctx.log.info(format!(
                "{action} done in {took} - ret {} - logs in {logfile}",
                out.rc
            )),
            Err(ExecError::Timeout { .. } | ExecError::Interrupted) => ctx.log.error(format!(
                "{action} interrupted after {took} - ret 1 - logs in {logfile}"
            )),
            Err(e) => ctx.log.error(format!(
                "{} execution error ({})",
                path.display(),
                exec_error_text(&e)
            )),
        }
    }

    /// Runs the check scripts concurrently; returns, in script order,
    /// whether each one failed.
    pub(super) fn run_checks(&self, ctx: &Ctx, scripts: &[PathBuf]) -> Vec<bool> {
        let timeout = self.timeout(DEFAULT_CHECK_TIMEOUT);
        let cmds: Vec<Option<Cmd>> = scripts
            .iter()
            .map(|p| {
                prepare(&ctx.log, p).ok().map(|()| {
                    Cmd::new([p.to_string_lossy().into_owned(), "status".to_string()])
                        .env(ctx.env)
                        .timeout(timeout)
                })
            })
            .collect();
        let results = run_concurrently(ctx.runner, &cmds);
        // Logged here, in script order, rather than by the worker threads,
        // so that the log reads the same whatever finishes first.
        scripts
            .iter()
            .zip(cmds.iter().zip(results))
            .map(|(path, (cmd, res))| match (cmd, res) {
                (Some(cmd), Some(Ok(out))) => {
                    log_quiet(&ctx.log, cmd, &out);
                    out.rc != 0
                }
                (Some(_), Some(Err(e))) => {
                    ctx.log.error(format!(
                        "{} execution error ({})",
                        path.display(),
                        exec_error_text(&e)
                    ));
                    true
                }
                _ => true,
            })
            .collect()
    }
}

/// One result per command, `None` where there was no command (refused) or
/// where the worker died.
fn run_concurrently(
    runner: &dyn crate::exec::Runner,
    cmds: &[Option<Cmd>],
) -> Vec<Option<Result<Output, ExecError>>> {
    if cmds.iter().flatten().count() <= 1 {
        return cmds
            .iter()
            .map(|c| c.as_ref().map(|c| runner.run(c)))
            .collect();
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = cmds
            .iter()
            .map(|c| c.as_ref().map(|c| s.spawn(move || runner.run(c))))
            .collect();
        handles
            .into_iter()
            .map(|h| h.and_then(|h| h.join().ok()))
            .collect()
    })
}

/// What `run_quiet` would have logged, for a command run elsewhere.
fn log_quiet(log: &Logger, cmd: &Cmd, out: &Output) {
    log.debug(cmd.to_string());
    if !out.stdout.trim().is_empty() {
        log.debug(format!("output:\n{}", out.stdout));
    }
    if !out.stderr.trim().is_empty() {
        log.debug(format!("stderr:\n{}", out.stderr));
    }
}

/// The OS's short text for an error (`Exec format error`), as 1.5 printed it.
fn exec_error_text(e: &ExecError) -> String {
    match e {
        ExecError::Spawn { err, .. } => io_error_text(err),
        ExecError::NotFound(_) => "not found or not executable".to_string(),
        other => other.to_string(),
    }
}

/// Python's `str(timedelta)`: `H:MM:SS[.ffffff]`, with `N day(s), ` past
/// 24 h; the microseconds are left out when zero. Users compare these
/// durations with 1.5 logs.
pub(super) fn fmt_timedelta(d: Duration) -> String {
    const DAY_US: u128 = 86_400 * 1_000_000;
    let total = d.as_micros();
    let (days, rest) = (total / DAY_US, total % DAY_US);
    let (secs, micros) = (rest / 1_000_000, rest % 1_000_000);
    let mut s = String::new();
    if days > 0 {
        let plural = if days == 1 { "" } else { "s" };
        let _ = write!(s, "{days} day{plural}, ");
    }
    let _ = write!(
        s,
        "{}:{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    );
    if micros > 0 {
        let _ = write!(s, ".{micros:06}");
    }
    s
}
