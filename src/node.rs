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

/// The user to log in as on `peer` (`[node] ruser`, spec §9.1): a list
/// where a bare `user` is the default and `user@node` applies to one node;
/// root when unset.
pub fn ruser(paths: &Paths, peer: &str) -> String {
    let file = paths.node_conf();
    let list = if file.exists() {
        edit::get(&file, "node.ruser")
            .ok()
            .flatten()
            .unwrap_or_default()
    } else {
        String::new()
    };
    let mut default = "root".to_string();
    for item in list.split_whitespace() {
        match item.split_once('@') {
            Some((user, node)) if node.eq_ignore_ascii_case(peer) => return user.to_string(),
            Some(_) => {}
            None => default = item.to_string(),
        }
    }
    default
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ruser_default_and_per_node() {
        let d = tempfile::tempdir().unwrap();
        let paths = Paths::under(d.path());
        assert_eq!(ruser(&paths, "node2"), "root");
        std::fs::create_dir_all(&paths.etc).unwrap();
        std::fs::write(
            paths.node_conf(),
            "[node]\nruser = svcsync admin@node3\nhost_mode = prd\n",
        )
        .unwrap();
        assert_eq!(ruser(&paths, "node2"), "svcsync");
        assert_eq!(ruser(&paths, "NODE3"), "admin");
        assert_eq!(host_mode(&paths), "PRD");
        assert!(check_host_mode(&paths, "TST").is_err());
        assert!(check_host_mode(&paths, "PRD").is_ok());
    }
}
