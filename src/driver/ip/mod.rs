//! The ip resource (docs/behaviour.md, "ip"): an address stacked on an alias of `ipdev`
//! with `ifconfig`, announced with `arping -U`, guarded by a duplicate
//! address probe (`arping -D` and ICMP at once) before start and after stop.
//!
//! Here: start, stop, status and the plumb commands. `ifaces`: reading and
//! searching `ip addr`. `probe`: is the address in use on the network, and
//! the announce.

use std::net::{IpAddr, ToSocketAddrs};
use std::time::Duration;

use super::*;
use crate::config::IpConf;
use crate::exec::{Cmd, ErrLevel, run_logged};

mod ifaces;
mod probe;

use ifaces::{
    Iface, dotted_mask, find, first_free_alias, holder, mask_prefix, read_ifaces, v4_mask,
};

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

pub(crate) struct Ip {
    conf: IpConf,
    /// Name resolution, replaceable so that tests never query a DNS server.
    resolve: fn(&str) -> Option<IpAddr>,
}

impl Ip {
    pub(crate) fn new(conf: IpConf) -> Ip {
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
}

fn resolve_system(name: &str) -> Option<IpAddr> {
    (name, 0).to_socket_addrs().ok()?.next().map(|a| a.ip())
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
        let index = rid.split_once('#').map_or("", |(_, n)| n);
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
        probe::conflict(ctx, &self.conf.ipdev, addr)
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
        if !ctx.conflict_checked && probe::conflict(ctx, dev, addr) {
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
            probe::announce(ctx, dev, addr);
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
                    .map_or(32, |a| a.prefix);
                let target = format!("{addr}/{prefix}");
                Cmd::new(["ip", "addr", "del", &target, "dev", dev])
            }
            IpAddr::V6(_) => {
                let prefix = iface
                    .addrs
                    .iter()
                    .find(|a| a.ip == addr)
                    .map_or(128, |a| a.prefix);
                let target = format!("{addr}/{prefix}");
                Cmd::new(["ifconfig", dev, "inet6", "del", &target])
            }
        };
        match run_logged(ctx.runner, &ctx.log, &cmd, ErrLevel::Default) {
            Ok(out) if out.ok() => {}
            _ => return Err(fail("failed")),
        }
        if !probe::wait_gone(ctx, dev, addr) {
            return Err(fail(&format!("{addr} refuse to go down")));
        }
        Ok(())
    }

    fn status(&self, ctx: &Ctx, _deps: &Deps) -> Probe {
        let Some(addr) = self.addr() else {
            return Probe::with(Status::Warn, self.unresolved());
        };
        // A status pass runs `ip addr` once (the cache); parsing its
        // answer once too spares a node of a thousand addresses parsing
        // all of them for each one.
        let held = match ctx.cache {
            Some(c) => holder(&c.memo("ip addr", || read_ifaces(ctx)), addr).is_some(),
            None => holder(&read_ifaces(ctx), addr).is_some(),
        };
        if held {
            Probe::new(Status::Up)
        } else {
            Probe::new(Status::Down)
        }
    }
}

#[cfg(test)]
mod tests;
