//! Which sections and keys node.conf may hold, and what each value must
//! be: the one table `nodemgr validate config`, `nodemgr set` and the
//! daemon's start and reload check against (node_validate.rs walks a file
//! through it). node.rs turns the values into typed fields and holds the
//! defaults; a key it reads must be listed here, or every node.conf using
//! it is refused.

use std::time::Duration;

use super::duration;
use super::hostname;

/// A closed set of section kinds; the part after `#` names the instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SectionKind {
    Node,
    Cluster,
    Listener,
    /// `hb#N`
    Hb,
    /// `arbitrator#N`
    Arbitrator,
    /// `stonith#<node>`: the node it fences.
    Stonith,
}

/// What a value must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueKind {
    /// Anything (a command line, a path).
    Text,
    /// A secret of at least 128 bits (daemon/secret.rs).
    Secret,
    /// One word without blanks (a cluster name, an interface).
    Word,
    Bool,
    /// 1 to 65535.
    Port,
    /// 0 to 65535: a port to listen on, 0 asking for any free one (tests).
    BindPort,
    /// Seconds (duration.rs), within these bounds.
    Secs {
        min: Duration,
        max: Duration,
    },
    /// One host name.
    Node,
    /// Host names separated by blanks.
    Nodes,
    /// An IP address or a host name to bind or send to.
    Addr,
    /// One of these words, any case; `what` names the set in messages.
    OneOf {
        what: &'static str,
        words: &'static [&'static str],
    },
    /// `user` and `user@node` words (node.rs).
    Ruser,
    /// A whole number within these bounds.
    Count {
        min: u64,
        max: u64,
    },
}

/// One known key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NodeKeyword {
    pub name: &'static str,
    pub kind: ValueKind,
    /// `key@<node>` forms are accepted too (`[listener] port@node2`).
    pub per_node: bool,
}

const fn kw(name: &'static str, kind: ValueKind) -> NodeKeyword {
    NodeKeyword {
        name,
        kind,
        per_node: false,
    }
}

const fn per_node(name: &'static str, kind: ValueKind) -> NodeKeyword {
    NodeKeyword {
        name,
        kind,
        per_node: true,
    }
}

const fn secs(min_ms: u64, max_s: u64) -> ValueKind {
    ValueKind::Secs {
        min: Duration::from_millis(min_ms),
        max: Duration::from_secs(max_s),
    }
}

/// A heartbeat period or timeout must be positive: a zero interval would
/// beat in a busy loop, a zero timeout lose every peer at once.
const POSITIVE_SECS: ValueKind = secs(1, duration::MAX.as_secs());

/// An arbitrator is asked on the quorum thread, and the takeover grace
/// waits twice its timeout: a minute is already far more than a ping needs.
const ARBITRATOR_SECS: ValueKind = secs(1, 60);

/// The heartbeat types the daemon runs: node.rs's `HbMedium`.
pub(crate) const HB_TYPE: ValueKind = ValueKind::OneOf {
    what: "a heartbeat type",
    words: &["unicast", "multicast", "disk"],
};

/// The host modes are the service types (docs/behaviour.md, "Service types
/// and host modes"); a typo would make
/// the node TST without a word.
const HOST_MODE: ValueKind = ValueKind::OneOf {
    what: "a host mode",
    words: &super::load::SERVICE_TYPES,
};

/// daemon/orchestration/split.rs's actions.
const SPLIT_ACTION: ValueKind = ValueKind::OneOf {
    what: "a split action",
    words: &["crash", "reboot", "freezestop", "disabled"],
};

/// More threads than this would only queue on the same few tools (and
/// LVM's own lock): a bound that still fits any machine.
pub(crate) const MAX_PARALLEL: ValueKind = ValueKind::Count { min: 1, max: 256 };

const NODE: &[NodeKeyword] = &[
    kw("host_mode", HOST_MODE),
    // 1.9's name of host_mode.
    kw("env", HOST_MODE),
    kw("ruser", ValueKind::Ruser),
    kw("watchdog", ValueKind::Bool),
    // watchdog.rs: below 0.5 s scheduling latency alone resets nodes.
    kw("watchdog_timeout", secs(500, 600)),
    kw("split_action", SPLIT_ACTION),
    kw("ready_period", secs(0, duration::MAX.as_secs())),
    // How many starts of one takeover run at once (orchestration/takeover.rs).
    kw("max_parallel", MAX_PARALLEL),
];

const CLUSTER: &[NodeKeyword] = &[
    kw("nodes", ValueKind::Nodes),
    kw("secret", ValueKind::Secret),
    kw("name", ValueKind::Word),
    kw("quorum", ValueKind::Bool),
];

const LISTENER: &[NodeKeyword] = &[
    per_node("addr", ValueKind::Addr),
    per_node("port", ValueKind::BindPort),
];

const HB: &[NodeKeyword] = &[
    kw("type", HB_TYPE),
    kw("port", ValueKind::Port),
    kw("dev", ValueKind::Text),
    kw("addr", ValueKind::Addr),
    kw("intf", ValueKind::Word),
    kw("interval", POSITIVE_SECS),
    kw("timeout", POSITIVE_SECS),
];

const ARBITRATOR: &[NodeKeyword] = &[
    kw("name", ValueKind::Node),
    kw("secret", ValueKind::Secret),
    kw("cluster", ValueKind::Word),
    kw("port", ValueKind::Port),
    kw("timeout", ARBITRATOR_SECS),
];

const STONITH: &[NodeKeyword] = &[kw("cmd", ValueKind::Text)];

/// What a section name stands for, or why it is not one node.conf knows.
pub(crate) fn section_kind(name: &str) -> Result<SectionKind, String> {
    match name {
        "node" => return Ok(SectionKind::Node),
        "cluster" => return Ok(SectionKind::Cluster),
        "listener" => return Ok(SectionKind::Listener),
        _ => {}
    }
    let unknown = || {
        "unknown section (node.conf has [node], [cluster], [listener], [hb#N], [arbitrator#N] and [stonith#<node>])".to_string()
    };
    let (prefix, id) = name.split_once('#').ok_or_else(unknown)?;
    let plain_id = !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric());
    match prefix {
        "hb" if plain_id => Ok(SectionKind::Hb),
        "arbitrator" if plain_id => Ok(SectionKind::Arbitrator),
        "hb" | "arbitrator" => Err(format!(
            "'{id}' is not a section index (letters and digits, e.g. [{prefix}#1])"
        )),
        "stonith" => hostname::check(id)
            .map(|()| SectionKind::Stonith)
            .map_err(|e| format!("the fenced node: {e}")),
        _ => Err(unknown()),
    }
}

pub(crate) fn keywords(kind: SectionKind) -> &'static [NodeKeyword] {
    match kind {
        SectionKind::Node => NODE,
        SectionKind::Cluster => CLUSTER,
        SectionKind::Listener => LISTENER,
        SectionKind::Hb => HB,
        SectionKind::Arbitrator => ARBITRATOR,
        SectionKind::Stonith => STONITH,
    }
}

/// The keyword `key` (lower-cased, maybe `name@node`) stands for in a
/// section of `kind`, or why it is none.
pub(crate) fn keyword(kind: SectionKind, key: &str) -> Result<NodeKeyword, String> {
    let (name, node) = match key.split_once('@') {
        Some((n, node)) => (n, Some(node)),
        None => (key, None),
    };
    let unknown = || {
        let known: Vec<&str> = keywords(kind).iter().map(|k| k.name).collect();
        format!("unknown keyword (this section has: {})", known.join(", "))
    };
    let k = *keywords(kind)
        .iter()
        .find(|k| k.name == name)
        .ok_or_else(unknown)?;
    match node {
        None => Ok(k),
        Some(_) if !k.per_node => Err(format!("{name} takes no @<node> form")),
        Some(node) => hostname::check(node)
            .map(|()| k)
            .map_err(|e| format!("{name}@<node>: {e}")),
    }
}

pub(crate) fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Some(true),
        "false" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// Why `value` is not a valid `kind`. An empty value means unset and
/// always passes: the reader then takes its default.
pub(crate) fn check_value(kind: ValueKind, value: &str) -> Result<(), String> {
    let v = value.trim();
    if v.is_empty() {
        return Ok(());
    }
    match kind {
        ValueKind::Text => Ok(()),
        ValueKind::Secret => check_strength(v),
        ValueKind::Word if v.split_whitespace().count() == 1 => Ok(()),
        ValueKind::Word => Err(format!("'{v}' is not one word")),
        ValueKind::Bool => parse_bool(v)
            .map(|_| ())
            .ok_or_else(|| format!("'{v}' is not true or false")),
        ValueKind::Port => match v.parse::<u16>() {
            Ok(p) if p > 0 => Ok(()),
            _ => Err(format!("'{v}' is not a port (1 to 65535)")),
        },
        ValueKind::BindPort => v
            .parse::<u16>()
            .map(|_| ())
            .map_err(|_| format!("'{v}' is not a port (0 to 65535)")),
        ValueKind::Secs { min, max } => duration::parse_secs(v, min, max).map(|_| ()),
        ValueKind::Node => hostname::check(v),
        ValueKind::Nodes => v.split_whitespace().try_for_each(hostname::check),
        ValueKind::Addr if v.parse::<std::net::IpAddr>().is_ok() => Ok(()),
        ValueKind::Addr => {
            hostname::check(v).map_err(|_| format!("'{v}' is not an IP address or a host name"))
        }
        ValueKind::OneOf { words, .. } if words.iter().any(|w| w.eq_ignore_ascii_case(v)) => Ok(()),
        ValueKind::OneOf { what, words } => {
            Err(format!("'{v}' is not {what} (one of {})", words.join(", ")))
        }
        ValueKind::Ruser => v.split_whitespace().try_for_each(|item| {
            let (user, node) = item.split_once('@').unwrap_or((item, ""));
            if user.is_empty() || user.starts_with('-') {
                return Err(format!("'{item}': not a user name"));
            }
            if node.is_empty() && item.contains('@') {
                return Err(format!("'{item}': no node after @"));
            }
            if node.is_empty() {
                return Ok(());
            }
            hostname::check(node)
        }),
        ValueKind::Count { min, max } => match v.parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(()),
            _ => Err(format!("'{v}' is not a whole number from {min} to {max}")),
        },
    }
}

/// What a heartbeat beats through: `[hb#N] type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum HbMedium {
    /// TCP to each peer (daemon/hb/unicast.rs).
    Unicast,
    /// UDP to a group (daemon/hb/mcast.rs).
    Multicast,
    /// Slots on a shared block device (daemon/hb/disk.rs).
    Disk,
}

impl HbMedium {
    pub(crate) const ALL: [HbMedium; 3] = [HbMedium::Unicast, HbMedium::Multicast, HbMedium::Disk];

    /// Any case, as node.conf writes it.
    pub(crate) fn parse(v: &str) -> Option<HbMedium> {
        let v = v.trim();
        HbMedium::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(v))
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            HbMedium::Unicast => "unicast",
            HbMedium::Multicast => "multicast",
            HbMedium::Disk => "disk",
        }
    }
}

/// A secret an operator sets must carry this much: the frame key is
/// derived from it with HKDF, which spreads its entropy but adds none
/// (src/daemon/secret.rs makes and stores the secret): the fewest bits.
pub(crate) const MIN_BITS: usize = 128;

/// Whether `secret` carries [`MIN_BITS`]: hex digits count 4 bits each,
/// base64 characters (either alphabet, padding aside) 6; anything else,
/// a pass phrase, is refused, since its entropy cannot be told. The
/// message never shows the secret.
pub(crate) fn check_strength(secret: &str) -> Result<(), String> {
    let s = secret.trim();
    let hex = s.chars().all(|c| c.is_ascii_hexdigit());
    let b64 = s
        .trim_end_matches('=')
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "+/-_".contains(c));
    let bits = if hex {
        s.len() * 4
    } else if b64 {
        s.trim_end_matches('=').len() * 6
    } else {
        0
    };
    if bits >= MIN_BITS {
        return Ok(());
    }
    Err(format!(
        "a secret of length {} is too weak: use at least {MIN_BITS} random bits, as 32 or more hex digits or 22 or more base64 characters (openssl rand -hex 32)",
        s.chars().count()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_are_a_closed_set() {
        assert_eq!(section_kind("node"), Ok(SectionKind::Node));
        assert_eq!(section_kind("hb#1"), Ok(SectionKind::Hb));
        assert_eq!(section_kind("arbitrator#a2"), Ok(SectionKind::Arbitrator));
        assert_eq!(section_kind("stonith#node-2"), Ok(SectionKind::Stonith));
        assert!(section_kind("hbs").unwrap_err().contains("unknown section"));
        assert!(section_kind("DEFAULT").is_err());
        assert!(section_kind("hb#").is_err());
        assert!(section_kind("stonith#-oProxyCommand=x").is_err());
    }

    #[test]
    fn keys_and_per_node_forms() {
        assert!(keyword(SectionKind::Listener, "port@node2").is_ok());
        assert!(keyword(SectionKind::Hb, "port@node2").is_err());
        assert!(keyword(SectionKind::Listener, "port@-x").is_err());
        let e = keyword(SectionKind::Hb, "intervall").unwrap_err();
        assert!(
            e.contains("unknown keyword") && e.contains("interval"),
            "{e}"
        );
    }

    #[test]
    fn values() {
        let ok = |k, v| check_value(k, v).is_ok();
        assert!(ok(ValueKind::Port, "10000") && !ok(ValueKind::Port, "abc"));
        assert!(!ok(ValueKind::Port, "0") && !ok(ValueKind::Port, "70000"));
        assert!(ok(POSITIVE_SECS, "0.2") && !ok(POSITIVE_SECS, "0"));
        assert!(!ok(POSITIVE_SECS, "500ms") && !ok(POSITIVE_SECS, "1e20"));
        assert!(!ok(ARBITRATOR_SECS, "1e19"));
        assert!(ok(HB_TYPE, "Unicast") && !ok(HB_TYPE, "unicat"));
        assert!(ok(SPLIT_ACTION, "reboot") && !ok(SPLIT_ACTION, "halt"));
        assert!(ok(HOST_MODE, "prd") && ok(HOST_MODE, "PPRD"));
        assert_eq!(
            check_value(HOST_MODE, "PDR").unwrap_err(),
            "'PDR' is not a host mode (one of PRD, PPRD, REC, INT, DEV, TST, TMP, DRP, FOR, PRA)"
        );
        assert!(ok(ValueKind::Nodes, "node1 node2"));
        assert!(!ok(ValueKind::Nodes, "n1 -oproxycommand=x"));
        assert!(ok(ValueKind::Ruser, "svcsync admin@node3"));
        assert!(!ok(ValueKind::Ruser, "admin@-x"));
        assert!(ok(ValueKind::Addr, "0.0.0.0") && ok(ValueKind::Addr, "::1"));
        assert!(!ok(ValueKind::Addr, "a b"));
        assert!(ok(ValueKind::Bool, "") && !ok(ValueKind::Bool, "maybe"));
        assert!(ok(MAX_PARALLEL, "1") && ok(MAX_PARALLEL, " 256 "));
        assert!(!ok(MAX_PARALLEL, "0") && !ok(MAX_PARALLEL, "257"));
        assert!(!ok(MAX_PARALLEL, "2.5") && !ok(MAX_PARALLEL, "-1"));
    }
}
