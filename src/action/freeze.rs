//! freeze / thaw: `<var>/FROZEN.<svc>` per service, `<var>/FROZEN` for the
//! node. The one writer of both flags: `nodemgr freeze|thaw` and the
//! daemon's split action (freezestop) call the node functions here.

use crate::log::Logger;
use crate::paths::Paths;

use super::{FAILED, OK};

pub fn is_frozen(paths: &Paths, svc: &str) -> bool {
    paths.frozen_svc(svc).exists() || node_frozen(paths)
}

/// Whether the whole node is frozen: the orchestrator starts nothing and
/// svcmgr refuses actions until it is thawed.
pub fn node_frozen(paths: &Paths) -> bool {
    paths.frozen_node().exists()
}

/// Freezes the whole node; Err says which file could not be written.
pub fn freeze_node(paths: &Paths) -> Result<(), String> {
    let f = paths.frozen_node();
    std::fs::create_dir_all(&paths.var)
        .and_then(|_| std::fs::write(&f, b""))
        .map_err(|e| format!("cannot create {}: {e}", f.display()))
}

/// Thaws the whole node; thawing a node that is not frozen is no error.
pub fn thaw_node(paths: &Paths) -> Result<(), String> {
    let f = paths.frozen_node();
    match std::fs::remove_file(&f) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("cannot remove {}: {e}", f.display())),
    }
}

pub fn freeze(paths: &Paths, svc: &str, log: &Logger) -> i32 {
    let f = paths.frozen_svc(svc);
    let res = std::fs::create_dir_all(&paths.var).and_then(|_| std::fs::write(&f, b""));
    match res {
        Ok(()) => OK,
        Err(e) => {
            log.error(format!("cannot create {}: {e}", f.display()));
            FAILED
        }
    }
}

pub fn thaw(paths: &Paths, svc: &str, log: &Logger) -> i32 {
    let f = paths.frozen_svc(svc);
    match std::fs::remove_file(&f) {
        Ok(()) => OK,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => OK,
        Err(e) => {
            log.error(format!("cannot remove {}: {e}", f.display()));
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
