//! The logging conventions around a command (docs/behaviour.md, "Running
//! commands"): the command line at INFO, then `output:` / `stderr:` blocks
//! whose level depends on the rc.

use super::{Cmd, ExecError, Output, Runner};
use crate::log::Logger;

/// How to report a non-empty stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrLevel {
    /// ERROR when rc != 0, else WARNING "command succesful but stderr".
    Default,
    Info,
    Warn,
}

/// Runs `cmd`, logging it and its output. A missing binary is logged at
/// ERROR with the reference message and returned as an error.
pub(crate) fn run_logged(
    runner: &dyn Runner,
    log: &Logger,
    cmd: &Cmd,
    err_level: ErrLevel,
) -> Result<Output, ExecError> {
    log.info(cmd.to_string());
    let out = run_reporting(runner, log, cmd)?;
    if !out.stderr.trim().is_empty() {
        let text = format!("stderr:\n{}", out.stderr);
        match err_level {
            ErrLevel::Info => log.info(text),
            ErrLevel::Warn => log.warn(text),
            ErrLevel::Default if out.rc != 0 => log.error(text),
            // "succesful" is the reference's spelling; scripts grep for it.
            ErrLevel::Default => log.warn(format!("command succesful but stderr:\n{}", out.stderr)),
        }
    }
    if !out.stdout.trim().is_empty() {
        if out.rc == 0 {
            log.info(format!("output:\n{}", out.stdout));
        } else {
            let text = format!("command failed with stdout:\n{}", out.stdout);
            match err_level {
                ErrLevel::Info => log.info(text),
                ErrLevel::Warn => log.warn(text),
                ErrLevel::Default => log.error(text),
            }
        }
    }
    Ok(out)
}

/// Runs `cmd` with DEBUG logging only (status probes).
pub(crate) fn run_quiet(runner: &dyn Runner, log: &Logger, cmd: &Cmd) -> Result<Output, ExecError> {
    log.debug(cmd.to_string());
    let out = run_reporting(runner, log, cmd)?;
    if !out.stdout.trim().is_empty() {
        log.debug(format!("output:\n{}", out.stdout));
    }
    if !out.stderr.trim().is_empty() {
        log.debug(format!("stderr:\n{}", out.stderr));
    }
    Ok(out)
}

/// Logs the command line, then copies its output raw to stderr (arping,
/// as the tutorial shows it between the log lines).
pub(crate) fn run_passthrough(
    runner: &dyn Runner,
    log: &Logger,
    cmd: &Cmd,
) -> Result<Output, ExecError> {
    use std::io::Write;
    log.info(cmd.to_string());
    let out = run_reporting(runner, log, cmd)?;
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(out.stdout.as_bytes());
    let _ = err.write_all(out.stderr.as_bytes());
    Ok(out)
}

fn run_reporting(runner: &dyn Runner, log: &Logger, cmd: &Cmd) -> Result<Output, ExecError> {
    // An interruption is reported once, by the executor, at service level.
    runner.run(cmd).inspect_err(|e| {
        if !matches!(e, ExecError::Interrupted) {
            log.error(e.to_string());
        }
    })
}
