//! Which sections and keys a service file may hold (docs/behaviour.md,
//! "Service types and host modes" to "Resource keys by type"), and
//! which keys accept a `@node`, `@nodes`, `@drpnodes` or `@encapnodes` scope.
//! `load` ignores what is not here, as 1.5 did; `validate` lists it.

/// What a section name stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SectionKind {
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

/// One known key: its name and whether `key@scope` forms are allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keyword {
    pub name: &'static str,
    pub scoped: bool,
}

const fn kw(name: &'static str) -> Keyword {
    Keyword {
        name,
        scoped: false,
    }
}

const fn scoped(name: &'static str) -> Keyword {
    Keyword { name, scoped: true }
}

pub const TRIGGERS: [&str; 10] = [
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
    scoped("disable"),
    kw("disable_on"),
    kw("optional"),
    kw("optional_on"),
    kw("monitor"),
    kw("monitor_on"),
    scoped("restart"),
    scoped("tags"),
    kw("always_on"),
];

const SCHEDULE: &[Keyword] = &[
    kw("sync_interval"),
    kw("sync_max_delay"),
    kw("sync_period"),
    kw("sync_days"),
    kw("sync_min_delay"),
];

const DEFAULT_KEYS: &[Keyword] = &[
    scoped("nodes"),
    scoped("drpnodes"),
    scoped("drpnode"),
    scoped("encapnodes"),
    scoped("autostart_node"),
    kw("service_type"),
    kw("app"),
    kw("comment"),
    scoped("mode"),
    scoped("cluster_type"),
    scoped("flex_primary"),
    scoped("flex_min_nodes"),
    scoped("flex_max_nodes"),
    scoped("flex_cpu_min_threshold"),
    scoped("flex_cpu_max_threshold"),
    scoped("anti_affinity"),
    kw("cluster"),
    kw("drp_type"),
    kw("monitor_action"),
    kw("pre_snap_trigger"),
    kw("post_snap_trigger"),
    kw("containerize"),
    kw("container_cpus"),
    kw("container_mems"),
    kw("container_cpu_shares"),
    kw("container_mem_limit"),
    kw("container_vmem_limit"),
    kw("scsireserv"),
    kw("no_preempt_abort"),
    kw("pkg_name"),
    scoped("bwlimit"),
    // Cluster orchestration, `no|start|ha` (docs/contracts.md, "Public
    // contracts").
    kw("orchestrate"),
    kw("placement"),
];

const IP_KEYS: &[Keyword] = &[
    scoped("ipname"),
    scoped("ipdev"),
    scoped("netmask"),
    scoped("gateway"),
    scoped("zone"),
    scoped("type"),
];

const VG_KEYS: &[Keyword] = &[
    scoped("vgname"),
    scoped("type"),
    scoped("vgtype"),
    scoped("dsf"),
    scoped("devs"),
    scoped("scsireserv"),
];

const FS_KEYS: &[Keyword] = &[
    scoped("dev"),
    scoped("mnt"),
    scoped("type"),
    scoped("mnt_opt"),
    scoped("snap_size"),
    scoped("zone"),
];

const APP_KEYS: &[Keyword] = &[scoped("dir"), scoped("timeout")];

const SYNC_KEYS: &[Keyword] = &[
    scoped("src"),
    scoped("dst"),
    scoped("target"),
    scoped("options"),
    scoped("exclude"),
    scoped("dstfs"),
    scoped("snap"),
    scoped("bwlimit"),
    scoped("type"),
];

const HB_KEYS: &[Keyword] = &[kw("type"), kw("name")];

const SYNC_INTERNAL_KEYS: &[Keyword] = &[scoped("options")];

const RESOURCE_TYPES: [(&str, SectionKind); 5] = [
    ("ip", SectionKind::Ip),
    ("vg", SectionKind::Vg),
    ("fs", SectionKind::Fs),
    ("sync", SectionKind::Sync),
    ("hb", SectionKind::Hb),
];

/// Like 1.5's `re.match('<type>#[0-9]', name, re.I)`: a prefix match, so
/// `ip#1x` is an ip resource and `ip#a` is nothing.
pub fn section_kind(name: &str) -> SectionKind {
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
pub fn keywords(kind: SectionKind) -> Vec<Keyword> {
    let triggers = TRIGGERS.iter().map(|t| scoped(t));
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

/// Whether `key` (maybe `name@scope`) is a keyword of this section kind.
/// A keyword scoped in one table and not in another counts as scoped.
pub fn is_known(kind: SectionKind, key: &str) -> bool {
    is_in(&keywords(kind), key)
}

/// `is_known` against a table built once for a whole section.
pub fn is_in(table: &[Keyword], key: &str) -> bool {
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
