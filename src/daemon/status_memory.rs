//! The last probe of every local service, kept by the monitor, so that
//! `print status` and `json status` answer from the daemon's memory instead
//! of probing every resource again (docs/behaviour.md, "Status from the
//! daemon's memory").
//!
//! An answer is given only while it is as fresh as the monitor would keep
//! it: the service's files (config, log, frozen flag) are those it was
//! probed under, and it is younger than the monitor's probe interval for
//! that service. Every svcmgr action writes the service's log, so a
//! service changed by an action is never answered from memory: the CLI
//! probes it, and the monitor probes it again on its next pass.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use crate::fsutil::FileId;
use crate::paths::Paths;
use crate::status::ServiceStatus;

/// What a service's files looked like when it was probed.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub(crate) struct Stamp {
    /// The config file's id: the replication's stamps are keyed on it too,
    /// so one stat serves both.
    conf: Option<FileId>,
    log: Option<SystemTime>,
    /// The node's frozen flag, and the service's own (`FROZEN.<svc>`).
    node_frozen: bool,
    svc_frozen: bool,
}

impl Stamp {
    /// A few stats: cheap enough for every request.
    pub(crate) fn now(paths: &Paths, name: &str) -> Stamp {
        let file = crate::config::find_file(paths, name).ok();
        Stamp::of(
            paths,
            name,
            file.as_deref(),
            crate::action::freeze::node_frozen(paths),
        )
    }

    /// The stamp of `name`, whose config file (`file`, as `find_file` gives
    /// it) and the node's frozen flag the caller already knows: the
    /// monitor's pass, which looks at every service, has them from one
    /// listing and one stat.
    pub(crate) fn of(paths: &Paths, name: &str, file: Option<&Path>, node_frozen: bool) -> Stamp {
        Stamp {
            conf: file.and_then(FileId::of),
            log: crate::fsutil::mtime(&paths.svc_log(name)),
            node_frozen,
            svc_frozen: paths.frozen_svc(name).exists(),
        }
    }

    /// The config file's id when stamped (None: no file, or no stat).
    pub(crate) fn conf_id(&self) -> Option<FileId> {
        self.conf
    }

    /// The service or the node was frozen when stamped.
    pub(crate) fn frozen(&self) -> bool {
        self.node_frozen || self.svc_frozen
    }

    /// The service's own flag was set when stamped, whatever the node's:
    /// what a cluster-wide order freezes or thaws.
    pub(crate) fn svc_frozen(&self) -> bool {
        self.svc_frozen
    }
}

#[derive(Debug, Clone)]
struct Probed {
    at: Instant,
    stamp: Stamp,
    /// How long the monitor trusts this probe before it probes again.
    every: Duration,
    status: ServiceStatus,
}

#[derive(Debug, Default)]
pub(crate) struct StatusMemory {
    probes: Mutex<BTreeMap<String, Probed>>,
}

impl StatusMemory {
    /// The monitor probed `name` at `at`, with its files as in `stamp`.
    pub(crate) fn keep(
        &self,
        name: &str,
        at: Instant,
        stamp: Stamp,
        every: Duration,
        st: ServiceStatus,
    ) {
        if let Ok(mut p) = self.probes.lock() {
            p.insert(
                name.to_string(),
                Probed {
                    at,
                    stamp,
                    every,
                    status: st,
                },
            );
        }
    }

    /// Services removed from the node are forgotten with them: those not
    /// in `names` (sorted, as `config::list_services` gives them).
    pub(crate) fn retain(&self, names: &[String]) {
        if let Ok(mut p) = self.probes.lock() {
            p.retain(|n, _| names.binary_search(n).is_ok());
        }
    }

    /// The remembered status of `name` if it is still what a probe would
    /// find, as far as the monitor can tell: same files, and not older
    /// than its probe interval.
    pub(crate) fn fresh(
        &self,
        name: &str,
        now_stamp: &Stamp,
        now: Instant,
    ) -> Option<ServiceStatus> {
        let p = self.probes.lock().ok()?;
        let probed = p.get(name)?;
        let young = now.saturating_duration_since(probed.at) < probed.every;
        (young && probed.stamp == *now_stamp).then(|| probed.status.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::aggregate;

    fn stamp(log: u64) -> Stamp {
        Stamp {
            conf: None,
            log: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(log)),
            node_frozen: false,
            svc_frozen: false,
        }
    }

    #[test]
    fn an_answer_is_given_only_while_the_files_are_unchanged_and_the_probe_young() {
        let m = StatusMemory::default();
        let t0 = Instant::now();
        let every = Duration::from_secs(10);
        m.keep("s", t0, stamp(1), every, aggregate("s", vec![], false));
        assert!(
            m.fresh("s", &stamp(1), t0 + Duration::from_secs(9))
                .is_some()
        );
        assert!(
            m.fresh("s", &stamp(2), t0).is_none(),
            "an action wrote the log: probe again"
        );
        assert!(m.fresh("s", &stamp(1), t0 + every).is_none(), "too old");
        assert!(m.fresh("other", &stamp(1), t0).is_none());
        m.retain(&[]);
        assert!(m.fresh("s", &stamp(1), t0).is_none(), "forgotten");
    }

    #[test]
    fn a_stamp_tells_the_services_own_flag_from_the_nodes() {
        let d = tempfile::tempdir().unwrap();
        let paths = Paths::under(d.path());
        std::fs::create_dir_all(&paths.var).unwrap();
        let node_only = Stamp::of(&paths, "web", None, true);
        assert!(
            node_only.frozen() && !node_only.svc_frozen(),
            "{node_only:?}"
        );
        std::fs::write(paths.frozen_svc("web"), "").unwrap();
        let both = Stamp::of(&paths, "web", None, true);
        assert!(both.frozen() && both.svc_frozen(), "{both:?}");
        let svc_only = Stamp::of(&paths, "web", None, false);
        assert!(svc_only.frozen() && svc_only.svc_frozen(), "{svc_only:?}");
        assert_ne!(node_only, both, "the flag changes the stamp");
    }
}
