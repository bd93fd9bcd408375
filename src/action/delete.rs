//! `svcmgr -s <svc> delete` (docs/behaviour.md, "svcmgr delete"): with
//! `--rid`, those sections leave the config in one atomic edit; without,
//! the service's files go, exactly what `create` made and what running it
//! left in the var directory, and only while nothing of it runs.

use std::path::{Path, PathBuf};

use super::{BAD_CONFIG, Env, FAILED, OK, collect};
use crate::config::edit::{self, EditError};
use crate::config::guard;
use crate::config::ini::Ini;
use crate::config::{self};
use crate::log::Logger;
use crate::service::Service;
use crate::status::Status;

/// `delete --rid a,b`: the sections go, or nothing is written (an unknown
/// rid is bad input, exit 2).
pub(super) fn rids(env: &Env, name: &str, log: &Logger) -> i32 {
    let file = match config::find_file(env.paths, name) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{e}");
            return BAD_CONFIG;
        }
    };
    let text = match std::fs::read(&file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("cannot read {}: {e}", file.display());
            return FAILED;
        }
    };
    let ini = Ini::parse(&String::from_utf8_lossy(&text));
    // Only sections the file has: `app` and `sync#i0` exist without one,
    // and there is nothing to remove for them.
    let present: Vec<String> = guard::resource_ids(&ini)
        .into_iter()
        .filter(|r| ini.has_section(r))
        .collect();
    if let Err(msg) = guard::check_rids(&file, &env.opts.rids, &present) {
        eprintln!("{msg}");
        return BAD_CONFIG;
    }
    let done = edit::plan_remove_sections(&file, &env.opts.rids).and_then(|p| p.commit());
    match done {
        Ok(()) => {
            log.info(format!(
                "removed {} from {}",
                env.opts.rids.join(", "),
                file.display()
            ));
            OK
        }
        Err(e @ (EditError::Read { .. } | EditError::Write { .. })) => {
            log.error(e.to_string());
            FAILED
        }
        Err(e) => {
            log.error(e.to_string());
            BAD_CONFIG
        }
    }
}

/// The whole service. Refused (exit 1, nothing removed) while any of its
/// ip, disk, fs or app resources is up here: stop it first.
pub(super) fn service(env: &Env, svc: &Service, log: &Logger) -> i32 {
    let st = collect(svc, env.runner, false);
    let running: Vec<&str> = st
        .resources
        .iter()
        .filter(|r| !matches!(r.group, "sync" | "hb"))
        .filter(|r| matches!(r.status, Status::Up | Status::StdbyUp | Status::Warn))
        .map(|r| r.rid.as_str())
        .collect();
    if !running.is_empty() {
        log.error(format!(
            "cannot delete a running service: {} up here, stop it first",
            running.join(", ")
        ));
        return FAILED;
    }
    let name = svc.name();
    let mut ok = true;
    for path in files_of(env, name) {
        match std::fs::remove_file(&path) {
            Ok(()) => log.info(format!("removed {}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                log.error(format!("cannot remove {}: {e}", path.display()));
                ok = false;
            }
        }
    }
    // `create` made it empty; launchers put there are the user's, kept.
    let dir = env.paths.etc.join(format!("{name}.dir"));
    if dir.is_dir() && !dir.is_symlink() {
        match std::fs::remove_dir(&dir) {
            Ok(()) => log.info(format!("removed {}", dir.display())),
            Err(_) => log.warn(format!("{} is not empty: kept", dir.display())),
        }
    }
    if ok { OK } else { FAILED }
}

/// The service's files: its config, the links `create` and the hb driver
/// make (only when they are links), and its var-directory state. Logs are
/// history and stay.
fn files_of(env: &Env, name: &str) -> Vec<PathBuf> {
    let p = env.paths;
    let mut files: Vec<PathBuf> = ["conf", "env"]
        .iter()
        .map(|ext| p.etc.join(format!("{name}.{ext}")))
        .collect();
    let links = [
        p.svc_link(name),
        p.launcher_dir(name),
        p.etc.join(format!("{name}.cluster")),
        p.etc.join(format!("{name}.stonith")),
    ];
    files.extend(links.into_iter().filter(|l| l.is_symlink()));
    files.push(p.frozen_svc(name));
    files.push(p.var.join(format!("{name}.push")));
    files.push(
        crate::driver::sync::LastStart::of(p, name)
            .path()
            .to_path_buf(),
    );
    let prefix = format!("last_sync_{name}_");
    files.extend(matching(&p.var, |f| f.starts_with(&prefix)));
    // Sync stamps: `<var>/sync/<node>/<svc>!<rid>`.
    let stamp = format!("{name}!");
    if let Ok(nodes) = std::fs::read_dir(p.var.join("sync")) {
        for node in nodes.flatten() {
            files.extend(matching(&node.path(), |f| f.starts_with(&stamp)));
        }
    }
    files
}

fn matching(dir: &Path, keep: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| keep(&e.file_name().to_string_lossy()))
        .map(|e| e.path())
        .collect()
}
