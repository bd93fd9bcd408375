//! What the listener remembers per source address: refused frames (the
//! blacklist) and when it last logged a refusal (no log flooding).
//!
//! 1.9 blacklisted a source after more than 5 refused frames until an
//! operator cleared it. Here the ban expires after [`BAN`]: a legitimate
//! node refused for a while (a secret changed on one side first) comes back
//! by itself once fixed, while a noisy source still costs one `accept` per
//! connection and nothing else.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// More refusals than this and the source is banned (1.9's threshold).
pub(crate) const STRIKES: u32 = 5;
pub(crate) const BAN: Duration = Duration::from_secs(60);
/// At most one log line per source this often; the lines in between are
/// counted and the next line says how many.
pub(crate) const LOG_EVERY: Duration = Duration::from_secs(5);
/// Bounds the memory a spray of source addresses can take.
const MAX_SOURCES: usize = 4096;

#[derive(Debug, Default, Clone)]
struct Source {
    strikes: u32,
    banned_until: Option<Instant>,
    last_log: Option<Instant>,
    unlogged: u64,
}

#[derive(Debug)]
pub(crate) struct Blacklist {
    strikes: u32,
    ban: Duration,
    sources: HashMap<IpAddr, Source>,
}

impl Default for Blacklist {
    fn default() -> Self {
        Blacklist::new(STRIKES, BAN)
    }
}

impl Blacklist {
    pub(crate) fn new(strikes: u32, ban: Duration) -> Blacklist {
        Blacklist {
            strikes,
            ban,
            sources: HashMap::new(),
        }
    }

    /// True while `ip` is banned; an expired ban is lifted with its strikes.
    pub(crate) fn banned(&mut self, ip: IpAddr, now: Instant) -> bool {
        let Some(s) = self.sources.get_mut(&ip) else {
            return false;
        };
        match s.banned_until {
            Some(until) if now < until => true,
            Some(_) => {
                s.banned_until = None;
                s.strikes = 0;
                false
            }
            None => false,
        }
    }

    /// Records a refused frame from `ip`; true when this one banned it.
    pub(crate) fn strike(&mut self, ip: IpAddr, now: Instant) -> bool {
        let (limit, ban) = (self.strikes, self.ban);
        let s = self.entry(ip, now);
        s.strikes = s.strikes.saturating_add(1);
        if s.strikes > limit && s.banned_until.is_none() {
            s.banned_until = Some(now + ban);
            return true;
        }
        false
    }

    /// Whether a refusal from `ip` may be logged now; if so, how many were
    /// not logged since the last line.
    pub(crate) fn may_log(&mut self, ip: IpAddr, now: Instant) -> Option<u64> {
        let s = self.entry(ip, now);
        match s.last_log {
            Some(at) if now.duration_since(at) < LOG_EVERY => {
                s.unlogged += 1;
                None
            }
            _ => {
                s.last_log = Some(now);
                Some(std::mem::take(&mut s.unlogged))
            }
        }
    }

    fn entry(&mut self, ip: IpAddr, now: Instant) -> &mut Source {
        if !self.sources.contains_key(&ip) && self.sources.len() >= MAX_SOURCES {
            self.forget_harmless(now);
        }
        self.sources.entry(ip).or_default()
    }

    /// Keeps banned sources: a spray of addresses must not unban one.
    fn forget_harmless(&mut self, now: Instant) {
        self.sources
            .retain(|_, s| s.banned_until.is_some_and(|u| now < u));
    }

    pub(crate) fn clear(&mut self) {
        self.sources.clear();
    }

    /// `{"<ip>": {"strikes": n, "expires_in": seconds}}` for banned sources.
    pub(crate) fn status(&self, now: Instant) -> Value {
        let m: serde_json::Map<String, Value> = self
            .sources
            .iter()
            .filter_map(|(ip, s)| {
                let until = s.banned_until.filter(|u| now < *u)?;
                Some((
                    ip.to_string(),
                    json!({"strikes": s.strikes, "expires_in": (until - now).as_secs()}),
                ))
            })
            .collect();
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 9));

    #[test]
    fn more_than_five_strikes_ban_until_the_ban_expires() {
        let mut b = Blacklist::default();
        let t0 = Instant::now();
        for _ in 0..5 {
            assert!(!b.strike(IP, t0));
            assert!(!b.banned(IP, t0));
        }
        assert!(b.strike(IP, t0), "the 6th refusal bans");
        assert!(!b.strike(IP, t0), "banned once");
        assert!(b.banned(
            IP,
            (t0 + BAN).checked_sub(Duration::from_millis(1)).unwrap()
        ));
        assert_eq!(b.status(t0)[IP.to_string()]["strikes"], 7);
        assert!(!b.banned(IP, t0 + BAN), "expired");
        assert!(b.status(t0 + BAN).as_object().unwrap().is_empty());
        // Strikes were forgotten with the ban: five more are tolerated.
        for _ in 0..5 {
            assert!(!b.strike(IP, t0 + BAN));
        }
        assert!(!b.banned(IP, t0 + BAN));
    }

    #[test]
    fn clear_lifts_every_ban() {
        let mut b = Blacklist::new(0, BAN);
        let t0 = Instant::now();
        assert!(b.strike(IP, t0));
        assert!(b.banned(IP, t0));
        b.clear();
        assert!(!b.banned(IP, t0));
    }

    #[test]
    fn logs_once_per_source_per_period_and_counts_the_rest() {
        let mut b = Blacklist::default();
        let t0 = Instant::now();
        assert_eq!(b.may_log(IP, t0), Some(0));
        assert_eq!(b.may_log(IP, t0 + Duration::from_secs(1)), None);
        assert_eq!(b.may_log(IP, t0 + Duration::from_secs(2)), None);
        assert_eq!(b.may_log(IP, t0 + LOG_EVERY), Some(2));
    }

    #[test]
    fn a_spray_of_sources_is_bounded_and_keeps_bans() {
        let mut b = Blacklist::new(0, BAN);
        let t0 = Instant::now();
        assert!(b.strike(IP, t0));
        for i in 0..(MAX_SOURCES as u32 + 10) {
            let ip = IpAddr::V6(std::net::Ipv6Addr::from(u128::from(i) + 1));
            b.may_log(ip, t0);
            assert!(b.sources.len() <= MAX_SOURCES);
        }
        assert!(b.banned(IP, t0));
    }
}
