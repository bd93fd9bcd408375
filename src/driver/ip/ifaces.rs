//! The interface table of the ip resource: `ip addr` read and parsed,
//! lookups in it (which interface holds an address, the first free alias),
//! and the netmask notations.

use std::net::{IpAddr, Ipv4Addr};

use crate::driver::Ctx;
use crate::exec::Cmd;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Iface {
    /// Without the `@ifN` peer suffix of veth and vlan links.
    pub(super) name: String,
    /// The administrative UP flag.
    pub(super) up: bool,
    pub(super) addrs: Vec<Addr>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Addr {
    pub(super) ip: IpAddr,
    pub(super) prefix: u8,
    /// `eth0:1` for an alias; the interface name otherwise (and for v6).
    pub(super) label: String,
}

impl Iface {
    /// The prefix of the interface's own first v4 address, preferring
    /// one not on an alias: the mask an alias inherits.
    pub(super) fn first_v4_prefix(&self) -> Option<u8> {
        let v4 = || self.addrs.iter().filter(|a| a.ip.is_ipv4());
        v4().find(|a| a.label == self.name)
            .or_else(|| v4().next())
            .map(|a| a.prefix)
    }
}

pub(super) fn dotted_mask(prefix: u8) -> String {
    let bits = u32::MAX
        .checked_shl(32 - u32::from(prefix.min(32)))
        .unwrap_or(0);
    Ipv4Addr::from(bits).to_string()
}

/// Lines it does not understand are skipped, so new iproute2 fields
/// never hide an address.
pub(super) fn parse_ip_addr(text: &str) -> Vec<Iface> {
    let mut out: Vec<Iface> = Vec::new();
    for line in text.lines() {
        if !line.starts_with(char::is_whitespace) {
            if let Some(i) = parse_header(line) {
                out.push(i);
            }
            continue;
        }
        if let Some(iface) = out.last_mut()
            && let Some(a) = parse_addr(line, &iface.name)
        {
            iface.addrs.push(a);
        }
    }
    out
}

/// `2: eth0@if7: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 ...`
fn parse_header(line: &str) -> Option<Iface> {
    let (index, rest) = line.split_once(": ")?;
    index.trim().parse::<u32>().ok()?;
    let (name, rest) = rest.split_once(": ")?;
    let name = name.split('@').next().unwrap_or(name);
    let flags = rest.strip_prefix('<')?.split('>').next()?;
    Some(Iface {
        name: name.to_string(),
        up: flags.split(',').any(|f| f == "UP"),
        addrs: Vec::new(),
    })
}

/// `inet 37.59.71.26/27 brd 37.59.71.31 scope global secondary eth0:1`
/// or `inet6 fe80::1/64 scope link`; the label ends v4 lines only.
fn parse_addr(line: &str, iface: &str) -> Option<Addr> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let (family, cidr) = (*words.first()?, *words.get(1)?);
    let full = match family {
        "inet" => 32,
        "inet6" => 128,
        _ => return None,
    };
    let (ip, prefix) = match cidr.split_once('/') {
        Some((ip, p)) => (ip, p.parse::<u8>().ok()?),
        None => (cidr, full),
    };
    let last = words.last().copied().unwrap_or(iface);
    let label = if family == "inet" && words.len() > 2 && last.starts_with(iface) {
        last
    } else {
        iface
    };
    Some(Addr {
        ip: ip.parse().ok()?,
        prefix,
        label: label.to_string(),
    })
}

/// The interfaces as `ip addr` shows them now (none when it fails).
pub(super) fn read_ifaces(ctx: &Ctx) -> Vec<Iface> {
    match ctx.probe(&Cmd::new(["ip", "addr"])) {
        Ok(out) if out.ok() => parse_ip_addr(&out.stdout),
        _ => Vec::new(),
    }
}

pub(super) fn find<'a>(ifaces: &'a [Iface], name: &str) -> Option<&'a Iface> {
    ifaces.iter().find(|i| i.name == name)
}

/// The interface and label carrying `addr`, on any interface.
pub(super) fn holder(ifaces: &[Iface], addr: IpAddr) -> Option<(&Iface, &str)> {
    ifaces.iter().find_map(|i| {
        i.addrs
            .iter()
            .find(|a| a.ip == addr)
            .map(|a| (i, a.label.as_str()))
    })
}

/// `<dev>:<n>` with the smallest `n` no address uses.
pub(super) fn first_free_alias(ifaces: &[Iface], dev: &str) -> String {
    let taken = |label: &str| {
        ifaces
            .iter()
            .flat_map(|i| &i.addrs)
            .any(|a| a.label == label)
    };
    (1..=u32::MAX)
        .map(|n| format!("{dev}:{n}"))
        .find(|l| !taken(l))
        .unwrap_or_else(|| format!("{dev}:1"))
}

/// A configured v4 netmask may be written as a prefix length (`27`).
/// `255.255.255.224` -> 27 (a prefix length passes through).
pub(super) fn mask_prefix(mask: &str) -> u32 {
    mask.parse::<std::net::Ipv4Addr>()
        .map(|m| u32::from(m).count_ones())
        .or_else(|_| mask.parse::<u32>())
        .unwrap_or(32)
}

/// A configured v4 netmask, dotted (`27` -> `255.255.255.224`).
pub(super) fn v4_mask(m: &str) -> String {
    match m.parse::<u8>() {
        Ok(p) if p <= 32 => dotted_mask(p),
        _ => m.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = "\
1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN
    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00
    inet 127.0.0.1/8 scope host lo
       valid_lft forever preferred_lft forever
    inet6 ::1/128 scope host
2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc pfifo_fast state UP qlen 1000
    link/ether 52:54:00:db:db:29 brd ff:ff:ff:ff:ff:ff
    inet 37.59.71.22/27 brd 37.59.71.31 scope global eth0
    inet 37.59.71.26/27 brd 37.59.71.31 scope global secondary eth0:1
    inet6 fe80::5054:ff:fedb:db29/64 scope link
       valid_lft forever preferred_lft forever
3: veth1@if4: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN
    inet 10.0.0.1 peer 10.0.0.2/32 scope global veth1
";

    fn addr(ip: &str, prefix: u8, label: &str) -> Addr {
        Addr {
            ip: ip.parse().unwrap(),
            prefix,
            label: label.into(),
        }
    }

    #[test]
    fn parses_the_seed_listing() {
        let ifaces = parse_ip_addr(SEED);
        let names: Vec<_> = ifaces.iter().map(|i| (i.name.as_str(), i.up)).collect();
        assert_eq!(names, [("lo", true), ("eth0", true), ("veth1", false)]);
        assert_eq!(
            ifaces[1].addrs,
            [
                addr("37.59.71.22", 27, "eth0"),
                addr("37.59.71.26", 27, "eth0:1"),
                addr("fe80::5054:ff:fedb:db29", 64, "eth0"),
            ]
        );
        assert_eq!(ifaces[0].addrs[1], addr("::1", 128, "lo"));
        assert_eq!(ifaces[2].addrs, [addr("10.0.0.1", 32, "veth1")]);
    }

    #[test]
    fn odd_lines_are_skipped() {
        let text = "garbage\n    inet 1.2.3.4/8 scope global x\n2: eth0: <UP> mtu 1\n    inet bogus/24 scope global eth0\n    inet 10.1.1.1/24 scope global eth0\n";
        let ifaces = parse_ip_addr(text);
        assert_eq!(ifaces.len(), 1);
        assert_eq!(ifaces[0].addrs, [addr("10.1.1.1", 24, "eth0")]);
    }

    #[test]
    fn parent_mask_prefers_the_primary_address() {
        let i = Iface {
            name: "eth0".into(),
            up: true,
            addrs: vec![
                addr("fe80::1", 64, "eth0"),
                addr("10.0.0.9", 8, "eth0:1"),
                addr("10.0.0.1", 24, "eth0"),
            ],
        };
        assert_eq!(i.first_v4_prefix(), Some(24));
    }

    #[test]
    fn dotted_masks() {
        assert_eq!(dotted_mask(27), "255.255.255.224");
        assert_eq!(dotted_mask(32), "255.255.255.255");
        assert_eq!(dotted_mask(0), "0.0.0.0");
        assert_eq!(dotted_mask(99), "255.255.255.255");
    }
}
