//! The OpenHA heartbeat resource (docs/behaviour.md, "OpenHA heartbeat
//! resource"): it reports the service state
//! as the clusterware sees it and takes no action itself. OpenHA drives the
//! service through `<etc>/<svc>.cluster` and `<etc>/<svc>.stonith`, so every
//! status makes sure those entry points exist.

use std::path::{Path, PathBuf};

use super::{Ctx, Deps, Driver, Failed, Kind, Probe, Started};
use crate::config::OpenHaConf;
use crate::exec::Cmd;
use crate::log::Logger;
use crate::status::Status;

/// Where OpenHA lives when `$EZ` is not set (its installer's default).
pub(crate) const DEFAULT_EZ: &str = "/usr/local/cluster";

pub(crate) struct Hb {
    conf: OpenHaConf,
    /// OpenHA's root; None: `$EZ`, else `DEFAULT_EZ`.
    ez: Option<PathBuf>,
}

impl Hb {
    pub(crate) fn new(conf: OpenHaConf) -> Hb {
        Hb { conf, ez: None }
    }

    /// An Hb looking for OpenHA below `ez` whatever the environment says.
    #[cfg(test)]
    pub(crate) fn with_ez(conf: OpenHaConf, ez: PathBuf) -> Hb {
        Hb { conf, ez: Some(ez) }
    }

    fn ez(&self) -> PathBuf {
        if let Some(ez) = &self.ez {
            return ez.clone();
        }
        match std::env::var_os("EZ") {
            Some(ez) if !ez.is_empty() => PathBuf::from(ez),
            _ => PathBuf::from(DEFAULT_EZ),
        }
    }

    /// The OpenHA service name (defaults to the service name).
    fn cluster_name<'a>(&'a self, ctx: &'a Ctx) -> &'a str {
        if self.conf.name.is_empty() {
            &ctx.svc.name
        } else {
            &self.conf.name
        }
    }

    fn fix_links(&self, ctx: &Ctx) {
        let etc = &ctx.svc.paths.etc;
        for suffix in ["cluster", "stonith"] {
            let link = etc.join(format!("{}.{suffix}", ctx.svc.name));
            fix_link(&ctx.log, &link, &ctx.svc.svcmgr_bin);
        }
    }

    fn daemons_running(&self, ctx: &Ctx, ez: &Path) -> bool {
        let monitor = ez.join("conf").join("monitor");
        let text = match std::fs::read_to_string(&monitor) {
            Ok(t) => t,
            // No monitor file: nothing we could check (1.5 counted it as running).
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return true,
            Err(e) => {
                ctx.log
                    .debug(format!("cannot read {}: {e}", monitor.display()));
                return false;
            }
        };
        let expected = expected_daemons(&text, &ez.join("bin"), &ctx.svc.nodename);
        let ps = match ctx.probe(&Cmd::new(["ps", "-ef"])) {
            Ok(out) if out.ok() => out.stdout,
            _ => return false,
        };
        expected.iter().all(|d| ps.contains(d.as_str()))
    }
}

/// Why `link` is not a link to `target`, or None when it is.
fn link_problem(link: &Path, target: &Path) -> Option<&'static str> {
    let Ok(meta) = std::fs::symlink_metadata(link) else {
        return Some("not regular file nor symlink");
    };
    if meta.file_type().is_symlink() {
        if std::fs::read_link(link).is_ok_and(|t| t == target) {
            return None;
        }
        // A relative link (`../bin/svcmgr`, as `create` made them) is fine
        // as long as it leads to the same file.
        return match (std::fs::canonicalize(link), std::fs::canonicalize(target)) {
            (Ok(a), Ok(b)) if a == b => None,
            (Ok(_), _) => Some("symlink exists but points to wrong file"),
            (Err(_), _) => Some("broken link"),
        };
    }
    if meta.is_file() {
        Some("regular file")
    } else {
        Some("not regular file nor symlink")
    }
}

/// Makes `link` a symlink to `target`, replacing whatever was there in one
/// rename so that OpenHA never finds the entry point missing.
fn fix_link(log: &Logger, link: &Path, target: &Path) {
    let Some(problem) = link_problem(link, target) else {
        log.debug(format!("{}: symlink ok", link.display()));
        return;
    };
    log.info(format!("{}: {problem}. fix.", link.display()));
    let name = link
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = link.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let res = std::os::unix::fs::symlink(target, &tmp).and_then(|()| std::fs::rename(&tmp, link));
    if let Err(e) = res {
        let _ = std::fs::remove_file(&tmp);
        log.error(format!(
            "{}: cannot link it to {}: {e}",
            link.display(),
            target.display()
        ));
    }
}

/// The command lines of the OpenHA daemons that `monitor` (OpenHA's
/// `conf/monitor`) implies on `node`: one heartd per local heartbeat, one
/// heartc per peer heartbeat, and nmond.
fn expected_daemons(monitor: &str, bin: &Path, node: &str) -> Vec<String> {
    let mut daemons = Vec::new();
    for line in monitor.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 4 || f[0].contains('#') {
            continue;
        }
        let suffix = if f[1] == "net" {
            String::new()
        } else {
            format!("_{}", f[1])
        };
        // heartd does not get the last field (the peer timeout) on its
        // command line; heartc does.
        let (daemon, args) = if f[0] == node {
            ("heartd", &f[2..f.len() - 1])
        } else {
            ("heartc", &f[2..])
        };
        let path = bin.join(format!("{daemon}{suffix}"));
        daemons.push(format!("{} {}", path.display(), args.join(" ")));
    }
    daemons.push(bin.join("nmond").display().to_string());
    daemons
}

/// OpenHA's service states, by the first character of `STATE.<node>`.
fn state_name(c: char) -> Option<&'static str> {
    Some(match c {
        '0' => "stopped",
        '1' => "stopping",
        '2' => "started",
        '3' => "starting",
        '4' => "start_failed",
        '5' => "stop_failed",
        '6' => "frozen_stop",
        '7' => "start_ready",
        '8' => "unknown",
        '9' => "force_stop",
        _ => return None,
    })
}

impl Driver for Hb {
    fn kind(&self) -> Kind {
        Kind::Hb
    }

    fn type_name(&self) -> &'static str {
        "hb.openha"
    }

    fn label(&self) -> String {
        "hb.openha".into()
    }

    fn start(&self, _ctx: &Ctx) -> Result<Started, Failed> {
        Ok(Started::AlreadyUp)
    }

    fn stop(&self, _ctx: &Ctx) -> Result<(), Failed> {
        Ok(())
    }

    fn status(&self, ctx: &Ctx, _deps: &Deps) -> Probe {
        self.fix_links(ctx);
        let ez = self.ez();
        if !ez.join("bin").join("service").exists() {
            return Probe::with(Status::Warn, "open-ha is not installed");
        }
        if !self.daemons_running(ctx, &ez) {
            return Probe::with(Status::Warn, "open-ha daemons are not running");
        }
        let file = ez
            .join("services")
            .join(self.cluster_name(ctx))
            .join(format!("STATE.{}", ctx.svc.nodename));
        let state = std::fs::read_to_string(&file)
            .ok()
            .and_then(|t| t.trim().chars().next())
            .and_then(state_name);
        match state {
            Some("started") => Probe::new(Status::Up),
            Some("stopped") => Probe::new(Status::Down),
            // OpenHA's own "unknown" is no more informative than no file.
            None | Some("unknown") => {
                Probe::with(Status::Warn, "unable to determine cluster service state")
            }
            Some(s) => Probe::with(Status::Warn, format!("cluster service status is {s}")),
        }
    }
}

#[cfg(test)]
#[path = "hb_tests.rs"]
mod tests;
