//! freeze / thaw: `<var>/FROZEN.<svc>` per service, `<var>/FROZEN` for the
//! node. The one writer of both flags: `nodemgr freeze|thaw` and the
//! daemon's split action (freezestop) call the node functions here.

use std::path::Path;

use crate::log::Logger;
use crate::paths::Paths;

use super::{FAILED, OK};

pub(crate) fn is_frozen(paths: &Paths, svc: &str) -> bool {
    paths.frozen_svc(svc).exists() || node_frozen(paths)
}

/// Whether the whole node is frozen: the orchestrator starts nothing and
/// svcmgr refuses actions until it is thawed.
pub(crate) fn node_frozen(paths: &Paths) -> bool {
    paths.frozen_node().exists()
}

/// Freezes the whole node; Err says which file could not be written.
pub(crate) fn freeze_node(paths: &Paths) -> Result<(), String> {
    raise(paths, &paths.frozen_node())
}

/// Thaws the whole node; thawing a node that is not frozen is no error.
pub(crate) fn thaw_node(paths: &Paths) -> Result<(), String> {
    lower(&paths.frozen_node())
}

pub(crate) fn freeze(paths: &Paths, svc: &str, log: &Logger) -> i32 {
    logged(raise(paths, &paths.frozen_svc(svc)), log)
}

pub(crate) fn thaw(paths: &Paths, svc: &str, log: &Logger) -> i32 {
    logged(lower(&paths.frozen_svc(svc)), log)
}

fn raise(paths: &Paths, flag: &Path) -> Result<(), String> {
    std::fs::create_dir_all(&paths.var)
        .and_then(|()| std::fs::write(flag, b""))
        .map_err(|e| format!("cannot create {}: {e}", flag.display()))
}

fn lower(flag: &Path) -> Result<(), String> {
    match std::fs::remove_file(flag) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("cannot remove {}: {e}", flag.display())),
    }
}

fn logged(res: Result<(), String>, log: &Logger) -> i32 {
    match res {
        Ok(()) => OK,
        Err(e) => {
            log.error(e);
            FAILED
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_node_flag_freezes_every_service_until_thawed() {
        let d = tempfile::tempdir().unwrap();
        let paths = Paths::under(d.path());
        assert!(!node_frozen(&paths) && !is_frozen(&paths, "svc1"));
        freeze_node(&paths).unwrap();
        assert!(node_frozen(&paths) && is_frozen(&paths, "svc1"));
        thaw_node(&paths).unwrap();
        thaw_node(&paths).unwrap();
        assert!(!node_frozen(&paths) && !is_frozen(&paths, "svc1"));
        std::fs::create_dir_all(paths.frozen_node()).unwrap();
        let e = thaw_node(&paths).unwrap_err();
        assert!(
            e.starts_with("cannot remove ") && e.contains("FROZEN"),
            "{e}"
        );
    }
}
