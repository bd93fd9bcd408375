//! Service configuration: `<etc>/<svc>.conf` or `.env` into a typed,
//! validated `ServiceConfig`, already scoped for the local node
//! (`kw@node`, `@nodes`, `@drpnodes`), DEFAULT inheritance applied.
//!
//! Every problem names the file, section, key and line (docs/contracts.md,
//! "Rules of the house").

pub(crate) mod duration;
pub(crate) mod edit;
pub(crate) mod guard;
pub(crate) mod hostname;
pub(crate) mod ini;
pub(crate) mod keywords;
pub(crate) mod load;
pub(crate) mod node;
pub(crate) mod node_keywords;
pub(crate) mod node_validate;
pub(crate) mod schedule;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

pub(crate) use load::{
    TextCheckError, Warnings, find_file, list_service_files, list_services, load, load_file,
    load_file_with, problems_of_text, validate, validate_text,
};
pub(crate) use schedule::Schedule;

/// One thing wrong in a config file, located for the user.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Problem {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub section: Option<String>,
    pub key: Option<String>,
    pub message: String,
}

/// `file:line: [section] key: message`, omitting the parts that are unknown.
impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        f.write_str(":")?;
        if let Some(s) = &self.section {
            write!(f, " [{s}]")?;
        }
        if let Some(k) = &self.key {
            write!(f, " {k}")?;
        }
        if self.section.is_some() || self.key.is_some() {
            f.write_str(":")?;
        }
        write!(f, " {}", self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum ConfigError {
    #[error("service {svc} not found: no {svc}.conf or {svc}.env in {etc}")]
    NotFound { svc: String, etc: PathBuf },
    #[error("service {svc} has both {conf} and {env}: remove one")]
    Both {
        svc: String,
        conf: PathBuf,
        env: PathBuf,
    },
    #[error("cannot read {file}: {err}")]
    Read { file: PathBuf, err: std::io::Error },
    #[error("{}", join_problems(.0))]
    Invalid(Vec<Problem>),
    #[error("service {svc} not managed here")]
    NotManagedHere { svc: String },
}

fn join_problems(p: &[Problem]) -> String {
    p.iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[derive(Debug, Clone)]
pub(crate) struct ServiceConfig {
    pub name: String,
    pub file: PathBuf,
    pub nodes: Vec<String>,
    pub drpnodes: Vec<String>,
    // DEFAULT keys 1.5 accepts: parsed and validated, read by nothing yet.
    #[allow(dead_code)]
    pub autostart_node: Vec<String>,
    pub service_type: String,
    #[allow(dead_code)]
    pub app: String,
    #[allow(dead_code)]
    pub comment: String,
    /// `no`, `start` or `ha`: whether the agent daemon starts the service
    /// and fails it over.
    pub orchestrate: String,
    /// `DEFAULT.monitor_action`: `freezestop`, `reboot` or `crash`; empty
    /// when unset (daemon/orchestration/restarts.rs then freezes and stops).
    pub monitor_action: String,
    /// `DEFAULT.placement`: `nodes order` (default) or `load avg`: how the
    /// daemon picks the node to run the service (src/placement.rs).
    pub placement: String,
    /// Resources in build order (hb, ip, vg, fs, app, user syncs, sync#i0),
    /// file order within a type. `app` always exists; `sync#i0` exists when
    /// nodes ∪ drpnodes has more than one node.
    pub resources: Vec<ResourceConfig>,
    /// What `validate config` would list that does not stop a load
    /// (unknown keywords, a `mount_opts` for `mnt_opt`): actions log them.
    pub warnings: Vec<Problem>,
}

/// Keywords every resource section accepts (docs/behaviour.md, "Keys of every
/// resource"), resolved for this node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Common {
    pub disable: bool,
    pub optional: bool,
    pub monitor: bool,
    pub restart: u32,
    pub tags: BTreeSet<String>,
    /// This node is in `always_on`: status becomes stdby up/down.
    pub always_on: bool,
    /// `pre_start`, `post_stop`...: argv, split on whitespace.
    pub triggers: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone)]
pub(crate) struct ResourceConfig {
    /// The section name exactly as written (`ip#0`), or `app`.
    pub rid: String,
    /// 1-based line of the section header, 0 for implicit resources;
    /// read by the tests that check where a problem is reported.
    #[allow(dead_code)]
    pub line: usize,
    pub common: Common,
    pub spec: ResourceSpec,
}

#[derive(Debug, Clone)]
pub(crate) enum ResourceSpec {
    Ip(IpConf),
    Vg(VgConf),
    Fs(FsConf),
    App(AppConf),
    Sync(SyncConf),
    Hb(OpenHaConf),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IpConf {
    pub ipname: String,
    pub ipdev: String,
    /// Dotted mask (v4) or prefix length (v6); None: take the parent's.
    pub netmask: Option<String>,
    pub gateway: Option<String>,
    /// `noalias` tag: plumb on ipdev itself.
    pub noalias: bool,
    /// `nonrouted` or `noaction` tag: no conflict check.
    pub skip_conflict_check: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VgConf {
    pub vgname: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FsConf {
    pub dev: String,
    /// One trailing `/` removed.
    pub mnt: String,
    /// '' means: no `-t`, no fsck.
    pub fstype: String,
    /// '' means: no `-o`.
    pub mnt_opt: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct AppConf {
    /// `[app] dir`: a real directory used instead of the `<svc>.d` link.
    pub dir: Option<PathBuf>,
    /// Per-launcher time limit; None means the default.
    pub timeout: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyncConf {
    /// `sync#i0`: the service's own config files.
    pub internal: bool,
    pub src: Vec<String>,
    pub dst: String,
    /// `nodes`, `drpnodes` or both.
    pub target: Vec<String>,
    /// Extra rsync arguments (`options`), split on whitespace.
    pub options: Vec<String>,
    pub bwlimit: Option<u64>,
    pub schedule: Schedule,
}

/// A service's `[hb#N]` resource: the OpenHA heartbeat (driver/hb.rs),
/// not the daemon's node.conf heartbeats (config/node.rs, `HbConf`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OpenHaConf {
    /// Lower-cased `type` (`openha`).
    pub hb_type: String,
    /// OpenHA service name; defaults to the service name.
    pub name: String,
}

/// A name that is safe as `<etc>/<name>.conf`: it comes from the network.
pub(crate) fn valid_svcname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name != "node"
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}
