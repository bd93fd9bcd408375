//! Which sections and keys a service file may hold (docs/behaviour.md,
//! "Service types and host modes" to "Resource keys by type"), and
//! which keys accept a `@node`, `@nodes`, `@drpnodes` or `@encapnodes` scope.
//! `load` ignores what is not here, as 1.5 did; `validate` lists it.

/// What a section name stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SectionKind {
    Default,
    Ip,
    Vg,
    Fs,
    App,
    /// User `sync#N`.
    Sync,
    Hb,
    /// `[sync]`: scheduling keys of the internal sync.
    SyncSchedule,
    /// `[sync#i0]`: options of the internal sync.
    SyncInternal,
    Unknown,
}

/// One known key: its name, whether `key@scope` forms are allowed, and
/// for the keyword reference (`print keywords`, docs/keywords.md) its
/// default and what it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Keyword {
    pub name: &'static str,
    pub scoped: bool,
    /// Empty when there is none.
    pub default: &'static str,
    pub doc: &'static str,
}

/// What a keyword 1.5 files carry but nothing here reads does.
const IGNORED: &str = "accepted for 1.5 files; no effect here";

const fn kw(name: &'static str, default: &'static str, doc: &'static str) -> Keyword {
    Keyword {
        name,
        scoped: false,
        default,
        doc,
    }
}

const fn scoped(name: &'static str, default: &'static str, doc: &'static str) -> Keyword {
    Keyword {
        name,
        scoped: true,
        default,
        doc,
    }
}

pub(crate) const TRIGGERS: [&str; 10] = [
    "pre_start",
    "post_start",
    "pre_stop",
    "post_stop",
    "pre_syncnodes",
    "post_syncnodes",
    "pre_syncdrp",
    "post_syncdrp",
    "pre_syncresync",
    "post_syncresync",
];

/// Keys every resource section accepts (docs/behaviour.md, "Keys of every
/// resource"), triggers apart.
const COMMON: &[Keyword] = &[
    scoped(
        "disable",
        "false",
        "true: the resource never starts or stops, and reads n/a",
    ),
    kw("disable_on", "", "nodes where disable is true"),
    kw(
        "optional",
        "false",
        "true: a failure of this resource does not fail the action",
    ),
    kw("optional_on", "", "nodes where optional is true"),
    kw(
        "monitor",
        "false",
        "true: the daemon watches this resource (flag M)",
    ),
    kw("monitor_on", "", "nodes where monitor is true"),
    scoped(
        "restart",
        "0",
        "how many times the daemon restarts the resource when it fails",
    ),
    scoped(
        "tags",
        "",
        "a set of words: noaction skips start and stop, nonrouted skips the conflict check, noalias puts an address on the device",
    ),
    kw(
        "always_on",
        "",
        "nodes where the resource stays up as standby (stdby up)",
    ),
];

const SCHEDULE: &[Keyword] = &[
    kw(
        "sync_interval",
        "121",
        "minutes between two syncs; 0 disables",
    ),
    kw(
        "sync_max_delay",
        "1500",
        "minutes after which a sync is late",
    ),
    kw(
        "sync_period",
        "[\"03:59\",\"05:59\"]",
        "time range(s) when scheduled syncs may run",
    ),
    kw(
        "sync_days",
        "every day",
        "days when scheduled syncs may run",
    ),
    kw("sync_min_delay", "", IGNORED),
];

const DEFAULT_KEYS: &[Keyword] = &[
    scoped("nodes", "", "nodes that run the service, space separated"),
    scoped("drpnodes", "", "disaster recovery nodes, space separated"),
    scoped("drpnode", "", "one more disaster recovery node"),
    scoped(
        "encapnodes",
        "",
        "nodes of the encapsulated service (scope @encapnodes)",
    ),
    scoped(
        "autostart_node",
        "",
        "node that starts the service at boot (informative)",
    ),
    kw(
        "service_type",
        "",
        "PRD PPRD REC INT DEV TST TMP DRP FOR PRA; must fit the node's host_mode",
    ),
    kw("app", "", "application name (informative)"),
    kw("comment", "", "free text (informative)"),
    scoped("mode", "hosted", "service mode"),
    scoped("cluster_type", "failover", "cluster type"),
    scoped("flex_primary", "", IGNORED),
    scoped("flex_min_nodes", "", IGNORED),
    scoped("flex_max_nodes", "", IGNORED),
    scoped("flex_cpu_min_threshold", "", IGNORED),
    scoped("flex_cpu_max_threshold", "", IGNORED),
    scoped("anti_affinity", "", IGNORED),
    kw("cluster", "", IGNORED),
    kw("drp_type", "", IGNORED),
    kw("monitor_action", "", IGNORED),
    kw("pre_snap_trigger", "", IGNORED),
    kw("post_snap_trigger", "", IGNORED),
    kw("containerize", "", IGNORED),
    kw("container_cpus", "", IGNORED),
    kw("container_mems", "", IGNORED),
    kw("container_cpu_shares", "", IGNORED),
    kw("container_mem_limit", "", IGNORED),
    kw("container_vmem_limit", "", IGNORED),
    kw("scsireserv", "", IGNORED),
    kw("no_preempt_abort", "", IGNORED),
    kw("pkg_name", "", IGNORED),
    scoped("bwlimit", "", "rsync bandwidth limit of the syncs, KB/s"),
    // Cluster orchestration, `no|start|ha` (docs/contracts.md, "Public
    // contracts").
    kw(
        "orchestrate",
        "no",
        "what the daemon does: no, start (start here once) or ha (start and fail over)",
    ),
    kw("placement", "", "how the daemon picks the node among nodes"),
];

const IP_KEYS: &[Keyword] = &[
    scoped(
        "ipname",
        "",
        "required: the address, or a name resolving to it",
    ),
    scoped(
        "ipdev",
        "",
        "required: the network device carrying the address",
    ),
    scoped("netmask", "the device's", "dotted mask or prefix length"),
    scoped("gateway", "", IGNORED),
    scoped("zone", "", IGNORED),
    scoped("type", "", IGNORED),
];

const VG_KEYS: &[Keyword] = &[
    scoped("vgname", "", "required: the LVM volume group"),
    scoped("type", "", IGNORED),
    scoped("vgtype", "", IGNORED),
    scoped("dsf", "", IGNORED),
    scoped("devs", "", IGNORED),
    scoped("scsireserv", "", IGNORED),
];

const FS_KEYS: &[Keyword] = &[
    scoped("dev", "", "required: the block device to mount"),
    scoped("mnt", "", "required: the mount point"),
    scoped("type", "", "filesystem type; empty: no -t and no fsck"),
    scoped("mnt_opt", "", "mount options; empty: no -o"),
    scoped("snap_size", "", IGNORED),
    scoped("zone", "", IGNORED),
];

const APP_KEYS: &[Keyword] = &[
    scoped("dir", "<svc>.d", "directory of the S/K/C launchers"),
    scoped(
        "timeout",
        "3600",
        "seconds a launcher may run (C scripts: 60)",
    ),
];

const SYNC_KEYS: &[Keyword] = &[
    scoped("src", "", "files to send, space separated, globs allowed"),
    scoped("dst", "", "destination directory on the peer"),
    scoped("target", "", "nodes, drpnodes, or both"),
    scoped("options", "", "extra rsync options"),
    scoped("exclude", "", IGNORED),
    scoped("dstfs", "", IGNORED),
    scoped("snap", "", IGNORED),
    scoped("bwlimit", "", "rsync bandwidth limit, KB/s"),
    scoped("type", "rsync", "sync driver"),
];

const HB_KEYS: &[Keyword] = &[
    kw("type", "", "OpenHA"),
    kw("name", "<svc>", "the OpenHA service name"),
];

const SYNC_INTERNAL_KEYS: &[Keyword] = &[scoped(
    "options",
    "",
    "extra rsync options of the config sync",
)];

const RESOURCE_TYPES: [(&str, SectionKind); 5] = [
    ("ip", SectionKind::Ip),
    ("vg", SectionKind::Vg),
    ("fs", SectionKind::Fs),
    ("sync", SectionKind::Sync),
    ("hb", SectionKind::Hb),
];

/// Like 1.5's `re.match('<type>#[0-9]', name, re.I)`: a prefix match, so
/// `ip#1x` is an ip resource and `ip#a` is nothing.
pub(crate) fn section_kind(name: &str) -> SectionKind {
    match name {
        super::ini::DEFAULT => return SectionKind::Default,
        "app" => return SectionKind::App,
        "sync" => return SectionKind::SyncSchedule,
        _ => {}
    }
    if name.eq_ignore_ascii_case("sync#i0") {
        return SectionKind::SyncInternal;
    }
    RESOURCE_TYPES
        .iter()
        .find(|(prefix, _)| is_resource_of(name, prefix))
        .map_or(SectionKind::Unknown, |(_, kind)| *kind)
}

fn is_resource_of(name: &str, prefix: &str) -> bool {
    let bytes = name.as_bytes();
    let n = prefix.len();
    bytes.len() > n + 1
        && bytes[..n].eq_ignore_ascii_case(prefix.as_bytes())
        && bytes[n] == b'#'
        && bytes[n + 1].is_ascii_digit()
}

/// Every keyword a section of this kind accepts. DEFAULT also accepts every
/// resource keyword, because RawConfigParser lets each section inherit it.
pub(crate) fn keywords(kind: SectionKind) -> Vec<Keyword> {
    let triggers = TRIGGERS.iter().map(|t| {
        scoped(
            t,
            "",
            "a command line run around the action; its rc is ignored",
        )
    });
    let common = COMMON.iter().copied().chain(triggers);
    let specific: &[&[Keyword]] = match kind {
        SectionKind::Default => &[
            DEFAULT_KEYS,
            SCHEDULE,
            IP_KEYS,
            VG_KEYS,
            FS_KEYS,
            APP_KEYS,
            SYNC_KEYS,
            HB_KEYS,
        ],
        SectionKind::Ip => &[IP_KEYS],
        SectionKind::Vg => &[VG_KEYS],
        SectionKind::Fs => &[FS_KEYS],
        SectionKind::App => &[APP_KEYS],
        SectionKind::Sync => &[SYNC_KEYS, SCHEDULE],
        SectionKind::Hb => &[HB_KEYS],
        SectionKind::SyncInternal => &[SYNC_INTERNAL_KEYS],
        SectionKind::SyncSchedule => return SCHEDULE.to_vec(),
        SectionKind::Unknown => return Vec::new(),
    };
    let mut all: Vec<Keyword> = common.collect();
    all.extend(specific.iter().flat_map(|k| k.iter().copied()));
    all
}

/// The keyword reference (`print keywords`, docs/keywords.md): each
/// section as a user writes its name, with its own keywords; the keys
/// every resource section shares come once, as their own entry.
pub(crate) fn reference() -> Vec<(&'static str, Vec<Keyword>)> {
    let common: Vec<Keyword> = keywords(SectionKind::Ip)
        .into_iter()
        .filter(|k| is_in(COMMON, k.name) || TRIGGERS.contains(&k.name))
        .collect();
    let with = |a: &[Keyword], b: &[Keyword]| [a, b].concat();
    vec![
        ("DEFAULT", with(DEFAULT_KEYS, SCHEDULE)),
        ("every resource section", common),
        ("ip#N", IP_KEYS.to_vec()),
        ("vg#N", VG_KEYS.to_vec()),
        ("fs#N", FS_KEYS.to_vec()),
        ("app", APP_KEYS.to_vec()),
        ("sync#N", with(SYNC_KEYS, SCHEDULE)),
        ("hb#N", HB_KEYS.to_vec()),
        ("sync", SCHEDULE.to_vec()),
        ("sync#i0", SYNC_INTERNAL_KEYS.to_vec()),
    ]
}

/// Whether `key` (maybe `name@scope`) is a keyword of this section kind.
/// A keyword scoped in one table and not in another counts as scoped.
pub(crate) fn is_known(kind: SectionKind, key: &str) -> bool {
    is_in(&keywords(kind), key)
}

/// `is_known` against a table built once for a whole section.
pub(crate) fn is_in(table: &[Keyword], key: &str) -> bool {
    match key.split_once('@') {
        None => table.iter().any(|k| k.name == key),
        Some((name, scope)) => {
            !scope.is_empty() && table.iter().any(|k| k.name == name && k.scoped)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SectionKind::*;
    use super::*;

    #[test]
    fn resource_sections_match_a_case_insensitive_prefix() {
        assert_eq!(section_kind("ip#0"), Ip);
        assert_eq!(section_kind("ip#12"), Ip);
        assert_eq!(section_kind("IP#1x"), Ip);
        assert_eq!(section_kind("ip#a"), Unknown);
        assert_eq!(section_kind("ip"), Unknown);
        assert_eq!(section_kind("ip#"), Unknown);
        assert_eq!(section_kind("vg#0"), Vg);
        assert_eq!(section_kind("fs#3"), Fs);
        assert_eq!(section_kind("sync#1"), Sync);
        assert_eq!(section_kind("hb#0"), Hb);
        assert_eq!(section_kind("disk#0"), Unknown);
    }

    #[test]
    fn fixed_section_names() {
        assert_eq!(section_kind("DEFAULT"), Default);
        assert_eq!(section_kind("app"), App);
        assert_eq!(section_kind("sync"), SyncSchedule);
        assert_eq!(section_kind("sync#i0"), SyncInternal);
        assert_eq!(section_kind("sync#i1"), Unknown);
        assert_eq!(section_kind("env"), Unknown);
    }

    #[test]
    fn known_keys_per_kind() {
        assert!(is_known(Ip, "ipname"));
        assert!(is_known(Ip, "ipname@sles1"));
        assert!(is_known(Ip, "disable@nodes"));
        assert!(is_known(Ip, "pre_start@drpnodes"));
        assert!(is_known(Ip, "disable_on"));
        assert!(!is_known(Ip, "optional@sles1"));
        assert!(!is_known(Ip, "ipname@"));
        assert!(!is_known(Ip, "mnt"));
        assert!(is_known(Fs, "mnt_opt"));
        assert!(is_known(Vg, "vgname"));
        assert!(is_known(App, "timeout"));
        assert!(is_known(Sync, "sync_period"));
        assert!(is_known(Sync, "src@n1"));
        assert!(is_known(Hb, "name"));
        assert!(!is_known(Hb, "type@n1"));
        assert!(is_known(SyncSchedule, "sync_days"));
        assert!(!is_known(SyncSchedule, "disable"));
        assert!(is_known(SyncInternal, "options"));
        assert!(is_known(SyncInternal, "disable"));
        assert!(!is_known(SyncInternal, "src"));
        assert!(!is_known(Unknown, "disable"));
    }

    #[test]
    fn default_knows_service_keys_out_of_scope_keys_and_inheritable_ones() {
        for k in [
            "nodes@sles1",
            "drpnode",
            "service_type",
            "orchestrate",
            "encapnodes",
            "container_cpus",
            "sync_min_delay",
            "bwlimit",
            "disable",
            "tags",
            "ipdev",
        ] {
            assert!(is_known(Default, k), "{k}");
        }
        assert!(!is_known(Default, "service_type@n1"));
        assert!(!is_known(Default, "nodez"));
    }
}
