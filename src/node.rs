//! Node-level settings from `<etc>/node.conf` (spec §9.1).

use crate::config::edit;
use crate::paths::Paths;

/// `[node] host_mode` (1.9 calls it `env`), default TST.
pub fn host_mode(paths: &Paths) -> String {
    let file = paths.node_conf();
    if !file.exists() {
        return "TST".into();
    }
    for key in ["node.host_mode", "node.env"] {
        if let Ok(Some(v)) = edit::get(&file, key) {
            let v = v.trim().to_uppercase();
            if !v.is_empty() {
                return v;
            }
        }
    }
    "TST".into()
}

/// A PRD node runs only PRD services (spec §2.3).
pub fn check_host_mode(paths: &Paths, service_type: &str) -> Result<(), String> {
    let mode = host_mode(paths);
    if mode == "PRD" && service_type != "PRD" {
        return Err(format!(
            "type {service_type} is not allowed to run on this node (host mode PRD)"
        ));
    }
    Ok(())
}
