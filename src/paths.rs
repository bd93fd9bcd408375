//! Where svcmgr keeps its files: the FHS layout by default, or everything
//! below one root when `OSVC_ROOT_PATH` is set (tests and relocated installs).

use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Paths {
    pub etc: PathBuf,
    pub var: PathBuf,
    pub log: PathBuf,
    pub tmp: PathBuf,
    pub lock: PathBuf,
}

impl Paths {
    /// Reads `OSVC_ROOT_PATH`; unset or empty means the FHS layout.
    pub fn from_env() -> Paths {
        match std::env::var_os("OSVC_ROOT_PATH") {
            Some(root) if !root.is_empty() => Paths::under(Path::new(&root)),
            _ => Paths::fhs(),
        }
    }

    pub fn fhs() -> Paths {
        let var = PathBuf::from("/var/lib/opensvc");
        Paths {
            etc: PathBuf::from("/etc/opensvc"),
            lock: var.join("lock"),
            var,
            log: PathBuf::from("/var/log/opensvc"),
            tmp: PathBuf::from("/var/tmp/opensvc"),
        }
    }

    pub fn under(root: &Path) -> Paths {
        let var = root.join("var");
        Paths {
            etc: root.join("etc"),
            lock: var.join("lock"),
            var,
            log: root.join("log"),
            tmp: root.join("tmp"),
        }
    }

    pub fn node_conf(&self) -> PathBuf {
        self.etc.join("node.conf")
    }

    /// `<etc>/<svc>`: the argv[0] symlink, also the remote postsync entry point.
    pub fn svc_link(&self, svc: &str) -> PathBuf {
        self.etc.join(svc)
    }

    /// `<etc>/<svc>.d`: the launcher directory (usually a link).
    pub fn launcher_dir(&self, svc: &str) -> PathBuf {
        self.etc.join(format!("{svc}.d"))
    }

    pub fn svc_log(&self, svc: &str) -> PathBuf {
        self.log.join(format!("{svc}.log"))
    }

    pub fn svc_lock(&self, svc: &str) -> PathBuf {
        self.lock.join(svc)
    }

    pub fn frozen_node(&self) -> PathBuf {
        self.var.join("FROZEN")
    }

    pub fn frozen_svc(&self, svc: &str) -> PathBuf {
        self.var.join(format!("FROZEN.{svc}"))
    }

    /// `<var>/sync/<node>/<svc>!<rid>`: when `node` last received `rid`.
    pub fn sync_stamp(&self, node: &str, svc: &str, rid: &str) -> PathBuf {
        self.var
            .join("sync")
            .join(node)
            .join(format!("{svc}!{rid}"))
    }
}

/// The local node name: `OSVC_NODENAME`, else the host name, lower-cased.
pub(crate) fn nodename() -> String {
    if let Some(n) = std::env::var_os("OSVC_NODENAME") {
        let n = n.to_string_lossy().trim().to_lowercase();
        if !n.is_empty() {
            return n;
        }
    }
    nix::unistd::gethostname().map_or_else(
        |_| "localhost".to_string(),
        |h| h.to_string_lossy().to_lowercase(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_relocation_puts_everything_below_root() {
        let p = Paths::under(Path::new("/r"));
        assert_eq!(p.etc, PathBuf::from("/r/etc"));
        assert_eq!(p.var, PathBuf::from("/r/var"));
        assert_eq!(p.log, PathBuf::from("/r/log"));
        assert_eq!(p.tmp, PathBuf::from("/r/tmp"));
        assert_eq!(p.lock, PathBuf::from("/r/var/lock"));
        assert_eq!(
            p.sync_stamp("n2", "s", "sync#i0"),
            PathBuf::from("/r/var/sync/n2/s!sync#i0")
        );
    }

    #[test]
    fn fhs_defaults_match_the_public_contract() {
        let p = Paths::fhs();
        assert_eq!(p.etc, PathBuf::from("/etc/opensvc"));
        assert_eq!(p.var, PathBuf::from("/var/lib/opensvc"));
        assert_eq!(p.log, PathBuf::from("/var/log/opensvc"));
        assert_eq!(p.tmp, PathBuf::from("/var/tmp/opensvc"));
        assert_eq!(p.lock, PathBuf::from("/var/lib/opensvc/lock"));
    }
}
