//! Connections open now, by source, for the TCP receivers (hb/unicast.rs, peer_listener.rs):
//! a source may hold only a few at once and everyone a bounded number, so
//! that one client holding sockets open (silent, or trickling bytes)
//! cannot take every reader from the peers.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

pub(crate) struct Conns {
    per_source: usize,
    max: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection's place, given back when dropped.
pub(crate) struct Slot<'a> {
    conns: &'a Conns,
    ip: IpAddr,
}

impl Conns {
    pub(crate) fn new(per_source: usize, max: usize) -> Conns {
        Conns {
            per_source,
            max,
            open: Mutex::new(HashMap::new()),
        }
    }

    /// A slot for a connection from `ip`, unless that source or everyone
    /// holds too many already.
    pub(crate) fn take(&self, ip: IpAddr) -> Option<Slot<'_>> {
        let mut m = self.open.lock().ok()?;
        let total: usize = m.values().sum();
        let mine = m.entry(ip).or_default();
        if *mine >= self.per_source || total >= self.max {
            if *mine == 0 {
                m.remove(&ip);
            }
            return None;
        }
        *mine += 1;
        Some(Slot { conns: self, ip })
    }

    #[cfg(test)]
    fn held(&self) -> usize {
        self.open.lock().map_or(0, |m| m.values().sum())
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if let Ok(mut m) = self.conns.open.lock()
            && let Some(n) = m.get_mut(&self.ip)
        {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_holds_a_few_connections_and_everyone_a_bounded_number() {
        let conns = Conns::new(2, 5);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let held: Vec<Slot> = (0..2).map(|_| conns.take(a).unwrap()).collect();
        assert!(conns.take(a).is_none(), "one more from the same source");
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let other = conns.take(b).expect("another source is still served");
        drop(held);
        drop(other);
        assert_eq!(conns.held(), 0, "slots given back");
        let many: Vec<Slot> = (1..=5u32)
            .map(|i| {
                conns
                    .take(IpAddr::from(std::net::Ipv4Addr::from(i)))
                    .unwrap()
            })
            .collect();
        assert!(conns.take(a).is_none(), "no slot left for anyone");
        assert!(
            conns.open.lock().unwrap().get(&a).is_none(),
            "a refusal leaves no entry"
        );
        drop(many);
        assert!(conns.take(a).is_some());
    }
}
