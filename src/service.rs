//! A service ready to act on: its config, its resources with their drivers,
//! and the resource orderings of each action (docs/behaviour.md, "Build
//! order", "Start order", "Stop order").

use std::path::PathBuf;

use crate::config::{ResourceConfig, ServiceConfig};
use crate::driver::{self, Driver, Kind, SvcInfo};
use crate::paths::Paths;

pub(crate) struct Resource {
    pub conf: ResourceConfig,
    pub driver: Box<dyn Driver>,
}

impl Resource {
    pub(crate) fn rid(&self) -> &str {
        &self.conf.rid
    }

    pub(crate) fn kind(&self) -> Kind {
        self.driver.kind()
    }

    pub(crate) fn disabled(&self) -> bool {
        self.conf.common.disable
    }

    pub(crate) fn has_tag(&self, tag: &str) -> bool {
        self.conf.common.tags.contains(tag)
    }
}

pub(crate) struct Service {
    pub config: ServiceConfig,
    pub info: SvcInfo,
    /// Build order (config order): hb, ip, vg, fs, app, syncs.
    pub resources: Vec<Resource>,
}

impl Service {
    pub(crate) fn build(
        config: ServiceConfig,
        nodename: &str,
        paths: &Paths,
        svcmgr_bin: PathBuf,
    ) -> Service {
        let info = SvcInfo {
            name: config.name.clone(),
            nodename: nodename.to_string(),
            nodes: config.nodes.clone(),
            drpnodes: config.drpnodes.clone(),
            service_type: config.service_type.clone(),
            paths: paths.clone(),
            svcmgr_bin,
        };
        let resources = config
            .resources
            .iter()
            .map(|r| Resource {
                conf: r.clone(),
                driver: driver::build(r, &info),
            })
            .collect();
        Service {
            config,
            info,
            resources,
        }
    }

    pub(crate) fn name(&self) -> &str {
        &self.info.name
    }

    /// Resources of `kinds`, kinds in the given order. Within a kind, file
    /// order, except fs which sorts by mount point (ascending to start, so
    /// parents mount first; descending to stop). The sort is stable, so
    /// equal keys keep file order in both directions, as in 1.5.
    pub(crate) fn ordered(&self, kinds: &[Kind], ascending: bool) -> Vec<&Resource> {
        let mut out = Vec::new();
        for &k in kinds {
            let mut of_kind: Vec<&Resource> =
                self.resources.iter().filter(|r| r.kind() == k).collect();
            of_kind.sort_by(|a, b| {
                let (ka, kb) = (a.driver.sort_key(), b.driver.sort_key());
                if ascending { ka.cmp(&kb) } else { kb.cmp(&ka) }
            });
            out.extend(of_kind);
        }
        out
    }

    /// Display order of `print status`: disk, fs, ip, sync, app, hb; file order within a kind.
    pub(crate) fn display_order(&self) -> Vec<&Resource> {
        let mut out = Vec::new();
        for k in [
            Kind::Vg,
            Kind::Fs,
            Kind::Ip,
            Kind::Sync,
            Kind::App,
            Kind::Hb,
        ] {
            out.extend(self.resources.iter().filter(|r| r.kind() == k));
        }
        out
    }

    /// `OPENSVC_SVCNAME` plus every resource's variables (docs/behaviour.md,
    /// "Running commands").
    pub(crate) fn env(&self) -> Vec<(String, String)> {
        let mut env = vec![("OPENSVC_SVCNAME".to_string(), self.info.name.clone())];
        for r in self.resources.iter().filter(|r| !r.disabled()) {
            env.extend(r.driver.env(r.rid()));
        }
        env
    }

    /// An enabled heartbeat resource means a clusterware drives this service.
    pub(crate) fn has_clusterware(&self) -> bool {
        self.resources
            .iter()
            .any(|r| r.kind() == Kind::Hb && !r.disabled())
    }
}
