//! Node-level settings from `<etc>/node.conf` (docs/behaviour.md,
//! "node.conf").

use crate::config::node::NodeConfig;
use crate::paths::Paths;

fn conf(paths: &Paths) -> NodeConfig {
    NodeConfig::load_or_empty(&paths.node_conf())
}

/// `[node] host_mode` (1.9 calls it `env`), default TST.
pub(crate) fn host_mode(paths: &Paths) -> String {
    conf(paths).node.host_mode
}

/// The user to log in as on `peer` (`[node] ruser`, docs/behaviour.md,
/// "node.conf"): a list
/// where a bare `user` is the default and `user@node` applies to one node;
/// root when unset.
pub(crate) fn ruser(paths: &Paths, peer: &str) -> String {
    conf(paths).ruser(peer)
}

/// `[stonith#<node>] cmd`, the command that fences `node`; None when
/// there is none. Err when node.conf is invalid: a command from a file
/// being edited is not run.
pub(crate) fn stonith_cmd(paths: &Paths, node: &str) -> Result<Option<String>, String> {
    let conf = NodeConfig::load_valid(&paths.node_conf())?;
    Ok(conf.stonith_cmd(node).map(str::to_string))
}

/// A PRD node runs only PRD services (docs/behaviour.md, "Service types and
/// host modes").
pub(crate) fn check_host_mode(paths: &Paths, service_type: &str) -> Result<(), String> {
    let mode = host_mode(paths);
    if mode == "PRD" && service_type != "PRD" {
        return Err(format!(
            "type {service_type} is not allowed to run on this node (host mode PRD)"
        ));
    }
    Ok(())
}

/// The 15-minute load average (placement by `load avg`, svcmon's row).
pub(crate) fn load15() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().nth(2).and_then(|v| v.parse().ok()))
        .unwrap_or(0.0)
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

    #[test]
    fn stonith_command_of_a_node_with_dots_and_none_from_an_invalid_file() {
        let d = tempfile::tempdir().unwrap();
        let paths = Paths::under(d.path());
        assert_eq!(stonith_cmd(&paths, "n2"), Ok(None));
        std::fs::create_dir_all(&paths.etc).unwrap();
        let conf = "[stonith#n2.example.com]\ncmd = /sbin/fence n2\n[stonith#n3]\ncmd =\n";
        std::fs::write(paths.node_conf(), conf).unwrap();
        assert_eq!(
            stonith_cmd(&paths, "n2.example.com"),
            Ok(Some("/sbin/fence n2".into()))
        );
        assert_eq!(stonith_cmd(&paths, "n3"), Ok(None));
        assert_eq!(stonith_cmd(&paths, "n4"), Ok(None));
        std::fs::write(paths.node_conf(), format!("{conf}[hb#1]\ntype = unicat\n")).unwrap();
        let e = stonith_cmd(&paths, "n2.example.com").unwrap_err();
        assert!(
            e.ends_with("node.conf is invalid (nodemgr validate config)"),
            "{e}"
        );
    }
}
