//! The ip resource (docs/behaviour.md, "ip"): an address stacked on an alias of `ipdev`
//! with `ifconfig`, announced with `arping -U`, guarded by a duplicate
//! address probe (`arping -D` and ICMP at once) before start and after stop.

use std::net::{IpAddr, ToSocketAddrs};
use std::time::Duration;

use super::*;
use crate::config::IpConf;
use crate::exec::{Cmd, ErrLevel, run_logged, run_passthrough, run_quiet};

use ifaces::{Iface, dotted_mask, parse_ip_addr};

/// Between activation and deactivation probes; unit tests must not wait.
const PAUSE: Duration = if cfg!(test) {
    Duration::ZERO
} else {
    Duration::from_secs(1)
};

/// How long `start` waits for the node-wide `startip` lock.
const STARTIP_WAIT: Duration = if cfg!(test) {
    Duration::from_millis(100)
} else {
    Duration::from_secs(30)
};

/// How long the duplicate-address probe listens for an answer. A neighbour
/// on the segment answers an ARP probe within a millisecond or two; 150 ms
/// keeps a wide margin where 1.5 waited a flat 5 s for a ping to time out.
const PROBE_WAIT: Duration = Duration::from_millis(150);

/// `arping -U -c 1` sends at once, then idles a whole second before it
/// exits; interrupted, it still prints its summary.
const ANNOUNCE_WAIT: Duration = Duration::from_millis(100);

/// Ping timeouts, in seconds, when arping is missing or the address is v6:
/// the reference's 5 s before start, 1 s per round after stop.
const FALLBACK_CONFLICT_SECS: u32 = 5;
const FALLBACK_GONE_SECS: u32 = 1;

pub struct Ip {
    conf: IpConf,
    /// Name resolution, replaceable so that tests never query a DNS server.
    resolve: fn(&str) -> Option<IpAddr>,
}

impl Ip {
    pub fn new(conf: IpConf) -> Ip {
        Ip {
            conf,
            resolve: resolve_system,
        }
    }

    fn addr(&self) -> Option<IpAddr> {
        (self.resolve)(&self.conf.ipname)
    }

    fn unresolved(&self) -> String {
        format!("could not resolve {} to an ip address", self.conf.ipname)
    }

    /// Whether `addr` answers on the network. Logs the reference's
    /// "checking" line, then asks by ARP — a duplicate-address probe (RFC
    /// 5227: sender 0.0.0.0, so no neighbour's cache changes) — and by ICMP
    /// at the same time; either answer counts, so a host that drops pings
    /// and a host behind a router are both seen. Without arping, or for v6,
    /// ICMP alone with the reference's wait of `fallback_secs`.
    fn answers(&self, ctx: &Ctx, addr: IpAddr, fallback_secs: u32) -> bool {
        ctx.log.info(format!("checking {addr} availability"));
        let target = addr.to_string();
        if addr.is_ipv6() || ctx.runner.which("arping").is_none() {
            let ping = if addr.is_ipv6() { "ping6" } else { "ping" };
            let secs = fallback_secs.to_string();
            let cmd = Cmd::new([ping, "-c", "1", "-W", &secs, "-w", &secs, &target]);
            return run_quiet(ctx.runner, &ctx.log, &cmd).is_ok_and(|o| o.ok());
        }
        let arp = Cmd::new([
            "arping",
            "-D",
            "-c",
            "2",
            "-w",
            "2",
            "-I",
            &self.conf.ipdev,
            &target,
        ])
        .interrupt_after(PROBE_WAIT)
        .timeout(Duration::from_secs(5));
        let wait = format!("{:.2}", PROBE_WAIT.as_secs_f64());
        let icmp =
            Cmd::new(["ping", "-c", "1", "-W", &wait, &target]).timeout(Duration::from_secs(5));
        std::thread::scope(|s| {
            let by_icmp = s.spawn(|| run_quiet(ctx.runner, &ctx.log, &icmp).is_ok_and(|o| o.ok()));
            // rc 1 alone also means "arping failed"; a reply line is proof.
            let by_arp = run_quiet(ctx.runner, &ctx.log, &arp)
                .is_ok_and(|o| o.rc == 1 && o.stdout.contains("reply from"));
            let by_icmp = by_icmp.join().unwrap_or(false);
            by_arp || by_icmp
        })
    }

    /// The `ifconfig` command that plumbs `addr`, or the error line to log.
    fn plumb_cmd(&self, ifaces: &[Iface], addr: IpAddr) -> Result<Cmd, String> {
        let dev = &self.conf.ipdev;
        if addr.is_ipv6() {
            // A v6 address never inherits the parent's v4 mask: only an
            // explicit prefix length makes sense here.
            let prefix = self
                .conf
                .netmask
                .as_deref()
                .and_then(|m| m.parse::<u8>().ok())
                .filter(|p| *p <= 128)
                .ok_or("netmask parameter is mandatory for ipv6 adresses")?;
            let target = format!("{addr}/{prefix}");
            return Ok(Cmd::new(["ifconfig", dev, "inet6", "add", &target]));
        }
        let mask = match &self.conf.netmask {
            Some(m) => v4_mask(m),
            None if self.conf.noalias => {
                return Err("netmask parameter is mandatory with 'noalias' tag".into());
            }
            None => find(ifaces, dev)
                .and_then(Iface::first_v4_prefix)
                .map(dotted_mask)
                .ok_or_else(|| format!("No netmask set on parent interface {dev}"))?,
        };
        if self.conf.noalias {
            // `ifconfig <dev> <addr>` would replace the interface's primary
            // address and cut the node off: add a secondary address instead.
            let target = format!("{addr}/{}", mask_prefix(&mask));
            return Ok(Cmd::new(["ip", "addr", "add", &target, "dev", dev]));
        }
        let alias = first_free_alias(ifaces, dev);
        Ok(Cmd::new([
            "ifconfig",
            &alias,
            &addr.to_string(),
            "netmask",
            &mask,
            "up",
        ]))
    }

    /// Re-reads the interfaces until `addr` shows up: a direct and certain
    /// check, where 1.5 pinged its own address.
    fn wait_plumbed(&self, ctx: &Ctx, addr: IpAddr) -> bool {
        for round in 0..5 {
            if round > 0 {
                std::thread::sleep(PAUSE);
            }
            if holder(&read_ifaces(ctx), addr).is_some() {
                return true;
            }
        }
        false
    }

    fn announce(&self, ctx: &Ctx, addr: IpAddr) {
        if ctx.runner.which("arping").is_none() {
            // "annouce" is the reference's spelling; scripts grep for it.
            ctx.log.warn("arp annouce skipped. install 'arping'");
            return;
        }
        let dev = &self.conf.ipdev;
        let cmd = Cmd::new([
            "arping",
            "-U",
            "-c",
            "1",
            "-I",
            dev,
            "-s",
            &addr.to_string(),
            "0.0.0.0",
        ])
        .interrupt_after(ANNOUNCE_WAIT);
        // A lost announce only delays neighbours' caches: never fatal.
        let _ = run_passthrough(ctx.runner, &ctx.log, &cmd);
    }

    /// Waits for the address to stop answering after an unplumb.
    fn wait_gone(&self, ctx: &Ctx, addr: IpAddr) -> bool {
        for round in 0..15 {
            if round > 0 {
                std::thread::sleep(PAUSE);
            }
            if !self.answers(ctx, addr, FALLBACK_GONE_SECS) {
                return true;
            }
        }
        false
    }
}

fn resolve_system(name: &str) -> Option<IpAddr> {
    (name, 0).to_socket_addrs().ok()?.next().map(|a| a.ip())
}

/// A configured v4 netmask may be written as a prefix length (`27`).
/// `255.255.255.224` -> 27 (a prefix length passes through).
fn mask_prefix(mask: &str) -> u32 {
    mask.parse::<std::net::Ipv4Addr>()
        .map(|m| u32::from(m).count_ones())
        .or_else(|_| mask.parse::<u32>())
        .unwrap_or(32)
}

fn v4_mask(m: &str) -> String {
    match m.parse::<u8>() {
        Ok(p) if p <= 32 => dotted_mask(p),
        _ => m.to_string(),
    }
}

fn read_ifaces(ctx: &Ctx) -> Vec<Iface> {
    match ctx.probe(&Cmd::new(["ip", "addr"])) {
        Ok(out) if out.ok() => parse_ip_addr(&out.stdout),
        _ => Vec::new(),
    }
}

fn find<'a>(ifaces: &'a [Iface], name: &str) -> Option<&'a Iface> {
    ifaces.iter().find(|i| i.name == name)
}

/// The interface and label carrying `addr`, on any interface.
fn holder(ifaces: &[Iface], addr: IpAddr) -> Option<(&Iface, &str)> {
    ifaces.iter().find_map(|i| {
        i.addrs
            .iter()
            .find(|a| a.ip == addr)
            .map(|a| (i, a.label.as_str()))
    })
}

fn first_free_alias(ifaces: &[Iface], dev: &str) -> String {
    let taken = |label: &str| {
        ifaces
            .iter()
            .flat_map(|i| &i.addrs)
            .any(|a| a.label == label)
    };
    (1u32..)
        .map(|n| format!("{dev}:{n}"))
        .find(|l| !taken(l))
        .unwrap_or_else(|| format!("{dev}:1"))
}

impl Driver for Ip {
    fn kind(&self) -> Kind {
        Kind::Ip
    }

    fn type_name(&self) -> &'static str {
        "ip"
    }

    fn label(&self) -> String {
        format!("{}@{}", self.conf.ipname, self.conf.ipdev)
    }

    fn env(&self, rid: &str) -> Vec<(String, String)> {
        let c = &self.conf;
        let addr = self.addr().map(|a| a.to_string());
        let mask = c.netmask.clone().unwrap_or_default();
        let index = rid.split_once('#').map(|(_, n)| n).unwrap_or("");
        let known = |v: &str| {
            if v.is_empty() {
                "unknown".to_string()
            } else {
                v.to_string()
            }
        };
        let summary = [
            known(&c.ipname),
            known(&c.ipdev),
            known(addr.as_deref().unwrap_or("")),
            known(&mask),
        ]
        .join(" ");
        vec![
            ("OPENSVC_IPDEV".into(), c.ipdev.clone()),
            ("OPENSVC_IPNAME".into(), c.ipname.clone()),
            ("OPENSVC_MASK".into(), mask),
            ("OPENSVC_IPADDR".into(), addr.unwrap_or_default()),
            (format!("OPENSVC_IP{index}"), summary),
        ]
    }

    fn abort_start(&self, ctx: &Ctx) -> bool {
        if self.conf.skip_conflict_check {
            return false;
        }
        let Some(addr) = self.addr() else {
            return false;
        };
        if holder(&read_ifaces(ctx), addr).is_some() {
            return false;
        }
        self.answers(ctx, addr, FALLBACK_CONFLICT_SECS)
    }

    fn start(&self, ctx: &Ctx) -> Result<Started, Failed> {
        let fail = |msg: &str| {
            ctx.log.error(msg);
            Failed::silent()
        };
        let dev = &self.conf.ipdev;
        let Some(addr) = self.addr() else {
            return Err(fail(&self.unresolved()));
        };
        let ifaces = read_ifaces(ctx);
        if !find(&ifaces, dev).is_some_and(|i| i.up) {
            return Err(fail(&format!(
                "Interface {dev} is not up. Cannot stack over it."
            )));
        }
        if holder(&ifaces, addr).is_some() {
            ctx.log.info(format!("{addr} is already up on {dev}"));
            return Ok(Started::AlreadyUp);
        }
        if !ctx.conflict_checked && self.answers(ctx, addr, FALLBACK_CONFLICT_SECS) {
            return Err(fail(&format!("{addr} is already up on another host")));
        }
        let lock = crate::lock::acquire(&ctx.svc.paths.lock.join("startip"), STARTIP_WAIT)
            .map_err(|e| fail(&e.to_string()))?;
        // Re-read under the lock: another service may have just taken the
        // alias we would otherwise pick.
        let ifaces = read_ifaces(ctx);
        let cmd = self.plumb_cmd(&ifaces, addr).map_err(|m| fail(&m))?;
        match run_logged(ctx.runner, &ctx.log, &cmd, ErrLevel::Default) {
            Ok(out) if out.ok() => {}
            _ => return Err(fail("failed")),
        }
        if !self.wait_plumbed(ctx, addr) {
            return Err(fail("timed out waiting for ip activation"));
        }
        drop(lock);
        if addr.is_ipv4() {
            self.announce(ctx, addr);
        }
        Ok(Started::Activated)
    }

    fn stop(&self, ctx: &Ctx) -> Result<(), Failed> {
        let fail = |msg: &str| {
            ctx.log.error(msg);
            Failed::silent()
        };
        let dev = &self.conf.ipdev;
        let Some(addr) = self.addr() else {
            return Err(fail(&self.unresolved()));
        };
        let ifaces = read_ifaces(ctx);
        let Some((iface, label)) = holder(&ifaces, addr) else {
            ctx.log.info(format!("{addr} is already down on {dev}"));
            return Ok(());
        };
        if iface.name != *dev {
            ctx.log.error(format!("{addr} is plumbed but not on {dev}"));
            return Err(fail("failed"));
        }
        let cmd = match addr {
            IpAddr::V4(_) if label.contains(':') => Cmd::new(["ifconfig", label, "down"]),
            // Not on an alias (noalias): `ifconfig <dev> down` would take the
            // whole interface down, so remove just this address.
            IpAddr::V4(_) => {
                let prefix = iface
                    .addrs
                    .iter()
                    .find(|a| a.ip == addr)
                    .map(|a| a.prefix)
                    .unwrap_or(32);
                let target = format!("{addr}/{prefix}");
                Cmd::new(["ip", "addr", "del", &target, "dev", dev])
            }
            IpAddr::V6(_) => {
                let prefix = iface
                    .addrs
                    .iter()
                    .find(|a| a.ip == addr)
                    .map(|a| a.prefix)
                    .unwrap_or(128);
                let target = format!("{addr}/{prefix}");
                Cmd::new(["ifconfig", dev, "inet6", "del", &target])
            }
        };
        match run_logged(ctx.runner, &ctx.log, &cmd, ErrLevel::Default) {
            Ok(out) if out.ok() => {}
            _ => return Err(fail("failed")),
        }
        if !self.wait_gone(ctx, addr) {
            return Err(fail(&format!("{addr} refuse to go down")));
        }
        Ok(())
    }

    fn status(&self, ctx: &Ctx, _deps: &Deps) -> Probe {
        let Some(addr) = self.addr() else {
            return Probe::with(Status::Warn, self.unresolved());
        };
        if holder(&read_ifaces(ctx), addr).is_some() {
            Probe::new(Status::Up)
        } else {
            Probe::new(Status::Down)
        }
    }
}

/// The interface table as `ip addr` prints it.
mod ifaces {
    use std::net::{IpAddr, Ipv4Addr};

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Iface {
        /// Without the `@ifN` peer suffix of veth and vlan links.
        pub name: String,
        /// The administrative UP flag.
        pub up: bool,
        pub addrs: Vec<Addr>,
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Addr {
        pub ip: IpAddr,
        pub prefix: u8,
        /// `eth0:1` for an alias; the interface name otherwise (and for v6).
        pub label: String,
    }

    impl Iface {
        /// The prefix of the interface's own first v4 address, preferring
        /// one not on an alias: the mask an alias inherits.
        pub fn first_v4_prefix(&self) -> Option<u8> {
            let v4 = || self.addrs.iter().filter(|a| a.ip.is_ipv4());
            v4().find(|a| a.label == self.name)
                .or_else(|| v4().next())
                .map(|a| a.prefix)
        }
    }

    pub fn dotted_mask(prefix: u8) -> String {
        let bits = u32::MAX
            .checked_shl(32 - u32::from(prefix.min(32)))
            .unwrap_or(0);
        Ipv4Addr::from(bits).to_string()
    }

    /// Lines it does not understand are skipped, so new iproute2 fields
    /// never hide an address.
    pub fn parse_ip_addr(text: &str) -> Vec<Iface> {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::{FakeRunner, Output};
    use crate::log::capture;
    use crate::paths::Paths;

    const DOWN: &str = "\
2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc pfifo_fast state UP qlen 1000
    inet 37.59.71.22/27 brd 37.59.71.31 scope global eth0
";
    const UP: &str = "\
2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc pfifo_fast state UP qlen 1000
    inet 37.59.71.22/27 brd 37.59.71.31 scope global eth0
    inet 37.59.71.26/27 brd 37.59.71.31 scope global secondary eth0:1
";
    const ADDR: &str = "37.59.71.26";

    fn svc(root: &std::path::Path) -> SvcInfo {
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

    fn ctx<'a>(runner: &'a FakeRunner, svc: &'a SvcInfo, conflict_checked: bool) -> Ctx<'a> {
        Ctx {
            runner,
            log: Logger::service("s1").resource("ip#0"),
            svc,
            env: &[],
            force: false,
            conflict_checked,
            cache: None,
        }
    }

    fn conf() -> IpConf {
        IpConf {
            ipname: ADDR.into(),
            ipdev: "eth0".into(),
            netmask: None,
            gateway: None,
            noalias: false,
            skip_conflict_check: false,
        }
    }

    fn unresolvable() -> Ip {
        Ip {
            conf: IpConf {
                ipname: "nowhere.invalid".into(),
                ..conf()
            },
            resolve: |_| None,
        }
    }

    fn out(stdout: &str) -> Output {
        Output {
            rc: 0,
            stdout: stdout.into(),
            stderr: String::new(),
        }
    }

    /// `ip addr` answers `first` once, then `rest` forever.
    fn ifaces(r: &FakeRunner, seq: &[&str]) {
        r.on_seq(&["ip", "addr"], seq.iter().map(|s| out(s)).collect());
    }

    const ARPING: &str = "arping -U -c 1 -I eth0 -s 37.59.71.26 0.0.0.0";

    #[test]
    fn start_after_the_executor_checked_matches_the_seed() {
        let d = tempfile::tempdir().unwrap();
        let (s, r) = (svc(d.path()), FakeRunner::new());
        ifaces(&r, &[DOWN, DOWN, UP]);
        let (res, lines) = capture(|| Ip::new(conf()).start(&ctx(&r, &s, true)));
        assert_eq!(res, Ok(Started::Activated));
        assert_eq!(
            r.calls(),
            [
                "ip addr",
                "ip addr",
                "ifconfig eth0:1 37.59.71.26 netmask 255.255.255.224 up",
                "ip addr",
                ARPING,
            ]
        );
        assert_eq!(
            lines,
            [
                "INFO S1.IP#0 ifconfig eth0:1 37.59.71.26 netmask 255.255.255.224 up",
                &format!("INFO S1.IP#0 {ARPING}"),
            ]
        );
        assert!(d.path().join("var/lock/startip").exists());
    }

    const ARP_PROBE: &str = "arping -D -c 2 -w 2 -I eth0 37.59.71.26";
    const ICMP_PROBE: &str = "ping -c 1 -W 0.15 37.59.71.26";
    const ARP_REPLY: &str = "ARPING 37.59.71.26 from 0.0.0.0 eth0\nUnicast reply from 37.59.71.26 [EE:6A:FE:78:4C:6B]  0.550ms\nSent 1 probes (1 broadcast(s))\nReceived 1 response(s)\n";

    /// The probe's two commands run at once: their order in the log is not fixed.
    fn calls_probe_sorted(r: &FakeRunner) -> Vec<String> {
        let mut calls = r.calls();
        let mut i = 0;
        while i + 1 < calls.len() {
            let pair = [calls[i].as_str(), calls[i + 1].as_str()];
            if pair.contains(&ARP_PROBE) && pair.contains(&ICMP_PROBE) {
                calls[i] = ARP_PROBE.into();
                calls[i + 1] = ICMP_PROBE.into();
                i += 1;
            }
            i += 1;
        }
        calls
    }

    #[test]
    fn abort_start_probes_by_arp_and_icmp_at_once() {
        let d = tempfile::tempdir().unwrap();
        let (s, r) = (svc(d.path()), FakeRunner::new());
        ifaces(&r, &[DOWN]);
        r.on(&["arping", "-D"], 1, ARP_REPLY, "");
        r.on(&["ping"], 1, "", "");
        let (conflict, lines) = capture(|| Ip::new(conf()).abort_start(&ctx(&r, &s, false)));
        assert!(conflict);
        assert_eq!(calls_probe_sorted(&r), ["ip addr", ARP_PROBE, ICMP_PROBE]);
        assert_eq!(lines, ["INFO S1.IP#0 checking 37.59.71.26 availability"]);
        let arp = r
            .cmds()
            .into_iter()
            .find(|c| c.argv[0] == "arping")
            .unwrap();
        assert_eq!(arp.interrupt_after, Some(PROBE_WAIT));
    }

    #[test]
    fn an_icmp_answer_alone_is_a_conflict() {
        let d = tempfile::tempdir().unwrap();
        let (s, r) = (svc(d.path()), FakeRunner::new());
        ifaces(&r, &[DOWN]);
        r.on(&["arping", "-D"], 0, "Received 0 response(s)\n", "");
        r.on(&["ping"], 0, "", "");
        assert!(capture(|| Ip::new(conf()).abort_start(&ctx(&r, &s, false))).0);
    }

    #[test]
    fn a_failing_arping_without_reply_is_no_conflict() {
        let d = tempfile::tempdir().unwrap();
        let (s, r) = (svc(d.path()), FakeRunner::new());
        ifaces(&r, &[DOWN]);
        r.on(&["arping", "-D"], 1, "", "arping: interface eth0 is down\n");
        r.on(&["ping"], 1, "", "");
        assert!(!capture(|| Ip::new(conf()).abort_start(&ctx(&r, &s, false))).0);
    }

    #[test]
    fn without_arping_the_check_is_the_references_five_second_ping() {
        let d = tempfile::tempdir().unwrap();
        let (s, r) = (svc(d.path()), FakeRunner::new());
        ifaces(&r, &[DOWN]);
        r.missing("arping");
        r.on(&["ping"], 0, "", "");
        let (conflict, _) = capture(|| Ip::new(conf()).abort_start(&ctx(&r, &s, false)));
        assert!(conflict);
        assert_eq!(r.calls(), ["ip addr", "ping -c 1 -W 5 -w 5 37.59.71.26"]);
    }

    #[test]
    fn abort_start_is_skipped_when_plumbed_tagged_or_unresolved() {
        let d = tempfile::tempdir().unwrap();
        let s = svc(d.path());
        let r = FakeRunner::new();
        ifaces(&r, &[UP]);
        r.on(&["ping"], 0, "", "");
        assert!(!Ip::new(conf()).abort_start(&ctx(&r, &s, false)));
        let tagged = Ip::new(IpConf {
            skip_conflict_check: true,
            ..conf()
        });
        assert!(!tagged.abort_start(&ctx(&r, &s, false)));
        assert!(!unresolvable().abort_start(&ctx(&r, &s, false)));
        assert_eq!(r.calls(), ["ip addr"]);
    }

    #[test]
    fn start_pings_itself_when_the_executor_did_not() {
        let d = tempfile::tempdir().unwrap();
        let (s, r) = (svc(d.path()), FakeRunner::new());
        ifaces(&r, &[DOWN, DOWN, UP]);
        r.on(&["ping"], 1, "", "");
        let (res, lines) = capture(|| Ip::new(conf()).start(&ctx(&r, &s, false)));
        assert_eq!(res, Ok(Started::Activated));
        assert_eq!(calls_probe_sorted(&r)[1..3], [ARP_PROBE, ICMP_PROBE]);
        assert_eq!(lines[0], "INFO S1.IP#0 checking 37.59.71.26 availability");
        assert_eq!(lines.len(), 3);
    }

    #[test]
    fn start_refuses_an_address_answering_elsewhere() {
        let d = tempfile::tempdir().unwrap();
        let (s, r) = (svc(d.path()), FakeRunner::new());
        ifaces(&r, &[DOWN]);
        r.on(&["ping"], 0, "", "");
        let (res, lines) = capture(|| Ip::new(conf()).start(&ctx(&r, &s, false)));
        assert_eq!(res, Err(Failed::silent()));
        assert_eq!(calls_probe_sorted(&r), ["ip addr", ARP_PROBE, ICMP_PROBE]);
        assert_eq!(
            lines,
            [
                "INFO S1.IP#0 checking 37.59.71.26 availability",
                "ERROR S1.IP#0 37.59.71.26 is already up on another host",
            ]
        );
    }

    #[test]
    fn start_of_a_plumbed_address_is_already_up() {
        let d = tempfile::tempdir().unwrap();
        let (s, r) = (svc(d.path()), FakeRunner::new());
        ifaces(&r, &[UP]);
        let (res, lines) = capture(|| Ip::new(conf()).start(&ctx(&r, &s, false)));
        assert_eq!(res, Ok(Started::AlreadyUp));
        assert_eq!(r.calls(), ["ip addr"]);
        assert_eq!(lines, ["INFO S1.IP#0 37.59.71.26 is already up on eth0"]);
    }

    #[test]
    fn start_needs_a_resolvable_name() {
        let d = tempfile::tempdir().unwrap();
        let (s, r) = (svc(d.path()), FakeRunner::new());
        let (res, lines) = capture(|| unresolvable().start(&ctx(&r, &s, true)));
        assert_eq!(res, Err(Failed::silent()));
        assert!(r.calls().is_empty());
        assert_eq!(
            lines,
            ["ERROR S1.IP#0 could not resolve nowhere.invalid to an ip address"]
        );
    }

    #[test]
    fn start_needs_an_up_parent() {
        let d = tempfile::tempdir().unwrap();
        let s = svc(d.path());
        for listing in ["", "2: eth0: <BROADCAST,MULTICAST> mtu 1500\n"] {
            let r = FakeRunner::new();
            ifaces(&r, &[listing]);
            let (res, lines) = capture(|| Ip::new(conf()).start(&ctx(&r, &s, true)));
            assert_eq!(res, Err(Failed::silent()));
            assert_eq!(
                lines,
                ["ERROR S1.IP#0 Interface eth0 is not up. Cannot stack over it."]
            );
        }
    }

    #[test]
    fn start_picks_the_first_free_alias_and_the_configured_mask() {
        let d = tempfile::tempdir().unwrap();
        let (s, r) = (svc(d.path()), FakeRunner::new());
        let busy = "\
2: eth0: <UP> mtu 1500
    inet 37.59.71.22/27 scope global eth0
    inet 37.59.71.27/27 scope global secondary eth0:1
    inet 37.59.71.28/27 scope global secondary eth0:3
";
        let after = format!("{busy}    inet 37.59.71.26/24 scope global secondary eth0:2\n");
        ifaces(&r, &[busy, busy, &after]);
        let ip = Ip::new(IpConf {
            netmask: Some("24".into()),
            ..conf()
        });
        let (res, _) = capture(|| ip.start(&ctx(&r, &s, true)));
        assert_eq!(res, Ok(Started::Activated));
        assert_eq!(
            r.calls()[2],
            "ifconfig eth0:2 37.59.71.26 netmask 255.255.255.0 up"
        );
    }

    #[test]
    fn noalias_plumbs_on_the_device_itself_and_needs_a_netmask() {
        let d = tempfile::tempdir().unwrap();
        let s = svc(d.path());
        let r = FakeRunner::new();
        ifaces(&r, &[DOWN, DOWN, UP]);
        let ip = Ip::new(IpConf {
            noalias: true,
            netmask: Some("255.255.255.224".into()),
            ..conf()
        });
        let (res, _) = capture(|| ip.start(&ctx(&r, &s, true)));
        assert_eq!(res, Ok(Started::Activated));
        // Never `ifconfig eth0 <addr>`: that would replace the primary address.
        assert_eq!(r.calls()[2], "ip addr add 37.59.71.26/27 dev eth0");

        let r = FakeRunner::new();
        ifaces(&r, &[DOWN]);
        let ip = Ip::new(IpConf {
            noalias: true,
            ..conf()
        });
        let (res, lines) = capture(|| ip.start(&ctx(&r, &s, true)));
        assert_eq!(res, Err(Failed::silent()));
        assert_eq!(r.calls(), ["ip addr", "ip addr"]);
        assert_eq!(
            lines,
            ["ERROR S1.IP#0 netmask parameter is mandatory with 'noalias' tag"]
        );
    }

    #[test]
    fn start_needs_a_parent_mask() {
        let d = tempfile::tempdir().unwrap();
        let (s, r) = (svc(d.path()), FakeRunner::new());
        ifaces(
            &r,
            &["2: eth0: <UP> mtu 1500\n    inet6 fe80::1/64 scope link\n"],
        );
        let (res, lines) = capture(|| Ip::new(conf()).start(&ctx(&r, &s, true)));
        assert_eq!(res, Err(Failed::silent()));
        assert_eq!(
            lines,
            ["ERROR S1.IP#0 No netmask set on parent interface eth0"]
        );
    }

    #[test]
    fn start_reports_a_failing_ifconfig() {
        let d = tempfile::tempdir().unwrap();
        let (s, r) = (svc(d.path()), FakeRunner::new());
        ifaces(&r, &[DOWN]);
        r.on(&["ifconfig"], 1, "", "SIOCSIFADDR: Permission denied\n");
        let (res, lines) = capture(|| Ip::new(conf()).start(&ctx(&r, &s, true)));
        assert_eq!(res, Err(Failed::silent()));
        assert_eq!(
            lines,
            [
                "INFO S1.IP#0 ifconfig eth0:1 37.59.71.26 netmask 255.255.255.224 up",
                "ERROR S1.IP#0 stderr:\nSIOCSIFADDR: Permission denied\n",
                "ERROR S1.IP#0 failed",
            ]
        );
    }

    #[test]
    fn start_times_out_when_the_address_never_shows() {
        let d = tempfile::tempdir().unwrap();
        let (s, r) = (svc(d.path()), FakeRunner::new());
        ifaces(&r, &[DOWN]);
        let (res, lines) = capture(|| Ip::new(conf()).start(&ctx(&r, &s, true)));
        assert_eq!(res, Err(Failed::silent()));
        assert_eq!(r.calls().iter().filter(|c| *c == "ip addr").count(), 7);
        assert_eq!(
            lines.last().unwrap(),
            "ERROR S1.IP#0 timed out waiting for ip activation"
        );
    }

    #[test]
    fn start_without_arping_warns() {
        let d = tempfile::tempdir().unwrap();
        let (s, r) = (svc(d.path()), FakeRunner::new());
        ifaces(&r, &[DOWN, DOWN, UP]);
        r.missing("arping");
        let (res, lines) = capture(|| Ip::new(conf()).start(&ctx(&r, &s, true)));
        assert_eq!(res, Ok(Started::Activated));
        assert!(!r.calls().iter().any(|c| c.starts_with("arping")));
        assert_eq!(
            lines.last().unwrap(),
            "WARNING S1.IP#0 arp annouce skipped. install 'arping'"
        );
    }

    #[test]
    fn start_reports_a_held_startip_lock() {
        let d = tempfile::tempdir().unwrap();
        let (s, r) = (svc(d.path()), FakeRunner::new());
        ifaces(&r, &[DOWN]);
        let path = s.paths.lock.join("startip");
        // Another open file description of the same file: flock conflicts
        // with it as it would with another svcmgr process.
        let _held = crate::lock::acquire(&path, Duration::ZERO).unwrap();
        let (res, lines) = capture(|| Ip::new(conf()).start(&ctx(&r, &s, true)));
        assert_eq!(res, Err(Failed::silent()));
        assert_eq!(
            lines,
            [format!(
                "ERROR S1.IP#0 timed out waiting for lock {}: another action is currently running (pid={})",
                path.display(),
                std::process::id()
            )]
        );
        assert_eq!(r.calls(), ["ip addr"]);
    }

    #[test]
    fn ipv6_start_uses_inet6_add_and_no_arping() {
        let d = tempfile::tempdir().unwrap();
        let s = svc(d.path());
        let parent = "2: eth0: <UP> mtu 1500\n    inet6 fe80::1/64 scope link\n";
        let after = format!("{parent}    inet6 2001:db8::5/64 scope global\n");
        let r = FakeRunner::new();
        ifaces(&r, &[parent, parent, &after]);
        r.on(&["ping6"], 1, "", "");
        let ip = Ip::new(IpConf {
            ipname: "2001:db8::5".into(),
            netmask: Some("64".into()),
            ..conf()
        });
        let (res, lines) = capture(|| ip.start(&ctx(&r, &s, false)));
        assert_eq!(res, Ok(Started::Activated));
        assert_eq!(
            r.calls(),
            [
                "ip addr",
                "ping6 -c 1 -W 5 -w 5 2001:db8::5",
                "ip addr",
                "ifconfig eth0 inet6 add 2001:db8::5/64",
                "ip addr",
            ]
        );
        assert_eq!(lines.len(), 2);

        let r = FakeRunner::new();
        ifaces(&r, &[parent]);
        let ip = Ip::new(IpConf {
            ipname: "2001:db8::5".into(),
            netmask: Some("255.255.255.0".into()),
            ..conf()
        });
        let (res, lines) = capture(|| ip.start(&ctx(&r, &s, true)));
        assert_eq!(res, Err(Failed::silent()));
        assert_eq!(
            lines,
            ["ERROR S1.IP#0 netmask parameter is mandatory for ipv6 adresses"]
        );
    }

    #[test]
    fn stop_matches_the_seed_with_one_check() {
        let d = tempfile::tempdir().unwrap();
        let (s, r) = (svc(d.path()), FakeRunner::new());
        ifaces(&r, &[UP]);
        r.on(&["ping"], 1, "", "");
        let (res, lines) = capture(|| Ip::new(conf()).stop(&ctx(&r, &s, false)));
        assert_eq!(res, Ok(()));
        assert_eq!(
            calls_probe_sorted(&r),
            ["ip addr", "ifconfig eth0:1 down", ARP_PROBE, ICMP_PROBE]
        );
        assert_eq!(
            lines,
            [
                "INFO S1.IP#0 ifconfig eth0:1 down",
                "INFO S1.IP#0 checking 37.59.71.26 availability",
            ]
        );
    }

    #[test]
    fn stop_of_an_address_without_alias_removes_only_that_address() {
        let d = tempfile::tempdir().unwrap();
        let (s, r) = (svc(d.path()), FakeRunner::new());
        let noalias = "\
2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc pfifo_fast state UP qlen 1000
    inet 37.59.71.22/27 brd 37.59.71.31 scope global eth0
    inet 37.59.71.26/27 scope global secondary eth0
";
        ifaces(&r, &[noalias]);
        r.on(&["ping"], 1, "", "");
        let (res, _) = capture(|| Ip::new(conf()).stop(&ctx(&r, &s, false)));
        assert_eq!(res, Ok(()));
        assert!(
            !r.calls().iter().any(|c| c == "ifconfig eth0 down"),
            "{:?}",
            r.calls()
        );
        assert_eq!(r.calls()[1], "ip addr del 37.59.71.26/27 dev eth0");
    }

    #[test]
    fn stop_of_an_unplumbed_address_is_already_down() {
        let d = tempfile::tempdir().unwrap();
        let (s, r) = (svc(d.path()), FakeRunner::new());
        ifaces(&r, &[DOWN]);
        let (res, lines) = capture(|| Ip::new(conf()).stop(&ctx(&r, &s, false)));
        assert_eq!(res, Ok(()));
        assert_eq!(r.calls(), ["ip addr"]);
        assert_eq!(lines, ["INFO S1.IP#0 37.59.71.26 is already down on eth0"]);
    }

    #[test]
    fn stop_refuses_an_address_on_another_interface() {
        let d = tempfile::tempdir().unwrap();
        let (s, r) = (svc(d.path()), FakeRunner::new());
        ifaces(
            &r,
            &["3: eth1: <UP> mtu 1\n    inet 37.59.71.26/27 scope global eth1:4\n"],
        );
        let (res, lines) = capture(|| Ip::new(conf()).stop(&ctx(&r, &s, false)));
        assert_eq!(res, Err(Failed::silent()));
        assert_eq!(r.calls(), ["ip addr"]);
        assert_eq!(
            lines,
            [
                "ERROR S1.IP#0 37.59.71.26 is plumbed but not on eth0",
                "ERROR S1.IP#0 failed",
            ]
        );
    }

    #[test]
    fn stop_reports_a_failing_ifconfig() {
        let d = tempfile::tempdir().unwrap();
        let (s, r) = (svc(d.path()), FakeRunner::new());
        ifaces(&r, &[UP]);
        r.on(&["ifconfig"], 1, "", "");
        let (res, lines) = capture(|| Ip::new(conf()).stop(&ctx(&r, &s, false)));
        assert_eq!(res, Err(Failed::silent()));
        assert_eq!(r.calls(), ["ip addr", "ifconfig eth0:1 down"]);
        assert_eq!(
            lines,
            ["INFO S1.IP#0 ifconfig eth0:1 down", "ERROR S1.IP#0 failed"]
        );
    }

    #[test]
    fn stop_gives_up_after_fifteen_answers() {
        let d = tempfile::tempdir().unwrap();
        let (s, r) = (svc(d.path()), FakeRunner::new());
        ifaces(&r, &[UP]);
        r.on(&["ping"], 0, "", "");
        let (res, lines) = capture(|| Ip::new(conf()).stop(&ctx(&r, &s, false)));
        assert_eq!(res, Err(Failed::silent()));
        assert_eq!(r.calls().len(), 2 + 2 * 15);
        assert_eq!(lines.len(), 1 + 15 + 1);
        assert_eq!(
            lines.last().unwrap(),
            "ERROR S1.IP#0 37.59.71.26 refuse to go down"
        );
    }

    #[test]
    fn ipv6_stop_uses_inet6_del_with_the_plumbed_prefix() {
        let d = tempfile::tempdir().unwrap();
        let (s, r) = (svc(d.path()), FakeRunner::new());
        ifaces(
            &r,
            &["2: eth0: <UP> mtu 1\n    inet6 2001:db8::5/64 scope global\n"],
        );
        r.on(&["ping6"], 1, "", "");
        let ip = Ip::new(IpConf {
            ipname: "2001:db8::5".into(),
            ..conf()
        });
        let (res, _) = capture(|| ip.stop(&ctx(&r, &s, false)));
        assert_eq!(res, Ok(()));
        assert_eq!(
            r.calls(),
            [
                "ip addr",
                "ifconfig eth0 inet6 del 2001:db8::5/64",
                "ping6 -c 1 -W 1 -w 1 2001:db8::5",
            ]
        );
    }

    #[test]
    fn status_values() {
        let d = tempfile::tempdir().unwrap();
        let s = svc(d.path());
        let r = FakeRunner::new();
        ifaces(&r, &[UP, DOWN]);
        let ip = Ip::new(conf());
        assert_eq!(
            ip.status(&ctx(&r, &s, false), &Deps::NONE),
            Probe::new(Status::Up)
        );
        assert_eq!(
            ip.status(&ctx(&r, &s, false), &Deps::NONE),
            Probe::new(Status::Down)
        );
        assert_eq!(
            unresolvable().status(&ctx(&r, &s, false), &Deps::NONE),
            Probe::with(
                Status::Warn,
                "could not resolve nowhere.invalid to an ip address"
            )
        );
        assert_eq!(r.calls(), ["ip addr", "ip addr"]);
    }

    #[test]
    fn env_exports_the_reference_variables() {
        let ip = Ip::new(IpConf {
            netmask: Some("255.255.255.224".into()),
            ..conf()
        });
        let want = |k: &str, v: &str| (k.to_string(), v.to_string());
        assert_eq!(
            ip.env("ip#3"),
            [
                want("OPENSVC_IPDEV", "eth0"),
                want("OPENSVC_IPNAME", ADDR),
                want("OPENSVC_MASK", "255.255.255.224"),
                want("OPENSVC_IPADDR", ADDR),
                want(
                    "OPENSVC_IP3",
                    "37.59.71.26 eth0 37.59.71.26 255.255.255.224"
                ),
            ]
        );
        let env = unresolvable().env("ip#0");
        assert_eq!(env[2], want("OPENSVC_MASK", ""));
        assert_eq!(env[3], want("OPENSVC_IPADDR", ""));
        assert_eq!(
            env[4],
            want("OPENSVC_IP0", "nowhere.invalid eth0 unknown unknown")
        );
    }
}
