//! The app resource: the `S*` (start), `K*` (stop) and `C*` (check)
//! launchers of `<etc>/<svc>.d` (docs/behaviour.md, "app launchers").
//!
//! Launchers run as root with the service's environment, so before running
//! one we check that only root (or the user running svcmgr) can change it.
//! 1.5 silently chowned foreign launchers to root instead, which handed root
//! to whoever could write them.

//!
//! Here: the launcher directory and its listing, preflight, start, stop
//! and status. `safety`: may this launcher run as root. `run`: running the
//! launchers and checks, and their log lines.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use super::{Ctx, Deps, Driver, Failed, Kind, Probe, Started, SvcInfo};
use crate::config::AppConf;
use crate::safepath;
use crate::status::Status;

mod run;
mod safety;

use safety::{tmp_dir_message, unsafe_dir_message};

pub(crate) struct App {
    conf: AppConf,
    /// `initd`: where the launchers are, as written (logs show this path,
    /// not the link's target).
    dir: PathBuf,
    /// Where the launcher logs go (`/var/tmp/opensvc`).
    tmp: PathBuf,
}

/// What a launcher directory looks like before an action.
#[derive(Debug, PartialEq, Eq)]
enum Initd {
    Missing,
    NotLink,
    Usable,
}

impl App {
    pub(crate) fn new(conf: AppConf, svc: &SvcInfo) -> App {
        let dir = conf
            .dir
            .clone()
            .unwrap_or_else(|| svc.paths.launcher_dir(&svc.name));
        App {
            conf,
            dir,
            tmp: svc.paths.tmp.clone(),
        }
    }

    /// Before an action touches anything: a launcher directory on an
    /// unsafe path, or a log directory someone else made, is bad input
    /// (exit 2), refused before any resource starts. The same checks run
    /// again just before each launcher (`prepare`), where a change made
    /// meanwhile fails the action.
    fn check_paths(&self) -> Result<(), String> {
        if self.initd() != Initd::Usable {
            return Ok(());
        }
        let launchers: Vec<PathBuf> = [b'S', b'K', b'C']
            .into_iter()
            .filter_map(|p| self.launchers(p).ok())
            .flatten()
            .collect();
        for p in &launchers {
            if let Err(e) = safepath::check_path(p) {
                return Err(unsafe_dir_message(p, &e));
            }
        }
        if launchers.is_empty() {
            return Ok(());
        }
        safepath::private_dir(&self.tmp).map_err(|e| tmp_dir_message(&e))
    }

    fn initd(&self) -> Initd {
        // exists() follows the link: a link into an unmounted fs is "missing".
        if !self.dir.exists() {
            return Initd::Missing;
        }
        let is_link =
            std::fs::symlink_metadata(&self.dir).is_ok_and(|m| m.file_type().is_symlink());
        if self.conf.dir.is_none() && !is_link {
            return Initd::NotLink;
        }
        Initd::Usable
    }

    /// The launchers whose name starts with `prefix`, in lexicographic
    /// order of the full path (`S2x` after `S10x`, as 1.5).
    fn launchers(&self, prefix: u8) -> io::Result<Vec<PathBuf>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&self.dir)? {
            let name = entry?.file_name();
            if name.as_encoded_bytes().first() == Some(&prefix) {
                names.push(name);
            }
        }
        names.sort();
        Ok(names.into_iter().map(|n| self.dir.join(n)).collect())
    }

    fn timeout(&self, default: Duration) -> Duration {
        self.conf.timeout.unwrap_or(default)
    }
}

/// The OS's short text for an I/O error (`Permission denied`), as 1.5
/// printed it.
fn io_error_text(err: &io::Error) -> String {
    match err.raw_os_error() {
        Some(code) => nix::errno::Errno::from_raw(code).desc().to_string(),
        None => err.to_string(),
    }
}

impl Driver for App {
    fn kind(&self) -> Kind {
        Kind::App
    }

    fn type_name(&self) -> &'static str {
        "app"
    }

    fn label(&self) -> String {
        "app".into()
    }

    fn preflight(&self) -> Result<(), String> {
        self.check_paths()
    }

    fn start(&self, ctx: &Ctx) -> Result<Started, Failed> {
        // A missing or wrong launcher dir is logged but does not fail the
        // start (1.5): the service may have no application at all.
        match self.initd() {
            Initd::Missing => {
                ctx.log
                    .error(format!("{} is not present", self.dir.display()));
            }
            Initd::NotLink => {
                ctx.log
                    .error(format!("{} is not a link", self.dir.display()));
            }
            Initd::Usable => self.run_launchers(ctx, b'S', "start")?,
        }
        Ok(Started::Activated)
    }

    fn stop(&self, ctx: &Ctx) -> Result<(), Failed> {
        match self.initd() {
            Initd::Missing => ctx.log.info(format!(
                "{} is not present, perhaps already stopped",
                self.dir.display()
            )),
            Initd::NotLink => {
                ctx.log
                    .error(format!("{} is not a link", self.dir.display()));
            }
            Initd::Usable => self.run_launchers(ctx, b'K', "stop")?,
        }
        Ok(())
    }

    fn status(&self, ctx: &Ctx, deps: &Deps) -> Probe {
        if !self.dir.exists() {
            return Probe::new(Status::NotApplicable);
        }
        let base_up =
            deps.base.is_up() || matches!(deps.base, Status::Undef | Status::NotApplicable);
        // The app may run on another node: its check scripts would only
        // report "down" for a service that is simply elsewhere.
        if ctx.svc.multi_node() && !base_up {
            return Probe::new(Status::NotApplicable);
        }
        let scripts = match self.launchers(b'C') {
            Ok(s) => s,
            Err(e) => {
                return Probe::with(
                    Status::NotApplicable,
                    format!("cannot read {}: {e}", self.dir.display()),
                );
            }
        };
        if scripts.is_empty() {
            return Probe::with(Status::NotApplicable, "no checkup scripts");
        }
        let failed = self.run_checks(ctx, &scripts);
        let failing: Vec<String> = scripts
            .iter()
            .zip(&failed)
            .filter(|(_, f)| **f)
            .map(|(p, _)| p.display().to_string())
            .collect();
        if failing.is_empty() {
            Probe::new(Status::Up)
        } else if failing.len() == scripts.len() {
            Probe::new(Status::Down)
        } else {
            Probe::with(
                Status::Warn,
                format!("{} returned errors", failing.join(", ")),
            )
        }
    }
}

#[cfg(test)]
mod tests;
