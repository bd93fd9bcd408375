//! Fixtures shared by the drivers' unit tests.

use std::path::Path;

use super::{Ctx, SvcInfo};
use crate::exec::Runner;
use crate::log::Logger;
use crate::paths::Paths;

/// Service `s1`, on node `sles1` alone, its files under `root`.
pub(super) fn svc_s1(root: &Path) -> SvcInfo {
    SvcInfo {
        name: "s1".into(),
        nodename: "sles1".into(),
        nodes: vec!["sles1".into()],
        drpnodes: vec![],
        service_type: "PRD".into(),
        paths: Paths::under(root),
        svcmgr_bin: "/usr/bin/svcmgr".into(),
    }
}

/// An action's context for resource `rid` of `s1`: no status cache, no
/// `--force`, no conflict check done yet.
pub(super) fn ctx_s1<'a>(runner: &'a dyn Runner, svc: &'a SvcInfo, rid: &str) -> Ctx<'a> {
    Ctx {
        runner,
        log: Logger::service("s1").resource(rid),
        svc,
        env: &[],
        conflict_checked: false,
        cache: None,
    }
}
