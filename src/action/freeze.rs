//! freeze / thaw: `<var>/FROZEN.<svc>` per service, `<var>/FROZEN` for the node.

use crate::log::Logger;
use crate::paths::Paths;

use super::{FAILED, OK};

pub fn is_frozen(paths: &Paths, svc: &str) -> bool {
    paths.frozen_svc(svc).exists() || paths.frozen_node().exists()
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
