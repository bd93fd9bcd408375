//! Heartbeats (docs/behaviour.md, "Heartbeats"): one `hb#N.tx` and one
//! `hb#N.rx` thread per `[hb#N]` section of node.conf, over one of three
//! media: unicast.rs (TCP to each peer), mcast.rs (UDP to a group) and
//! disk.rs (slots on a shared device). A peer is lost when no heartbeat
//! has brought anything from it for `timeout` (`Shared::prune`).
//! supervisor.rs starts, stops and revives the threads as node.conf says.
//! What is shared by the media lives here: the beat loop, the frame kind
//! of each path, and what an rx does with a frame. A beat is compact
//! (dataset.rs): the node-level fields and the digest of the services
//! part, which a receiver fetches on change (fetch.rs; disk.rs reads it
//! from the slot).

pub(crate) mod dataset;
pub(crate) mod disk;
pub(crate) mod fetch;
pub(crate) mod mcast;
pub(crate) mod supervisor;
pub(crate) mod unicast;

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::blacklist::Blacklist;
use super::state::{Heard, Shared};
use super::wire::{self, FrameKind, Opener, Sealer};
use crate::config::duration::deadline;
use crate::log::Logger;
use dataset::Beat;
use fetch::Fetcher;

pub(crate) use crate::config::node::{DEFAULT_HB_INTERVAL as DEFAULT_INTERVAL, HbConf, HbMedium};
#[cfg(test)]
pub(crate) use crate::config::node::{
    DEFAULT_HB_PORT as DEFAULT_PORT, DEFAULT_HB_TIMEOUT as DEFAULT_TIMEOUT,
};
pub(crate) use unicast::{frame_deadline, listen_on};

/// Sleeps until `deadline`, returning early on a stop.
pub(super) fn sleep_until(deadline: Instant, stop: &AtomicBool, shared: &Shared) {
    shared.sleep_hb(deadline, || {
        stop.load(Ordering::Relaxed) || shared.stopping()
    });
}

/// The watchdog this node advertises now (watchdog.rs), read before a
/// beat is built: `sleep_until_promise_changes` compares with it.
pub(super) fn promise(shared: &Shared) -> Option<Duration> {
    shared.watchdog.lock().ok().and_then(|w| *w)
}

/// `sleep_until`, ending early when the watchdog this node advertises is
/// no longer `sent`, the one its last beat carried, or when its claims
/// changed since `claims` (each costs its peers a round trip before a
/// start, orchestration/claims.rs). A peer proves this node
/// down by the watchdog its last beat promised (orchestration/proof.rs);
/// the watchdog arms only once beats go out, so the first beats after an
/// agent (re)start promise nothing, and without this a node that died
/// within an interval of its agent's start (5 s at the defaults) could
/// never be proven down, and its services would not be taken over.
pub(super) fn sleep_until_promise_changes(
    deadline: Instant,
    stop: &AtomicBool,
    shared: &Shared,
    sent: Option<Duration>,
    claims: u64,
) {
    shared.sleep_hb(deadline, || {
        stop.load(Ordering::Relaxed)
            || shared.stopping()
            || promise(shared) != sent
            || shared.claims_changed() != claims
    });
}

/// The frame kind of a heartbeat section's path: bound into every frame
/// it sends, and the only kind its rx opens (wire.rs).
pub(crate) fn path_kind(conf: &HbConf) -> FrameKind {
    match conf.medium {
        HbMedium::Unicast => FrameKind::HbUnicast,
        HbMedium::Multicast => FrameKind::HbMulticast,
        HbMedium::Disk => FrameKind::HbDisk,
    }
}

/// The tx loop every network heartbeat shares: each `interval` until a
/// stop, seals this node's compact beat (dataset.rs) as a frame of its
/// path's kind and hands it to `send`, which reports the peers' beats.
pub(super) fn beat_every(
    conf: &HbConf,
    tid: &str,
    sealer: &mut Sealer,
    shared: &Shared,
    stop: &AtomicBool,
    log: &Logger,
    mut send: impl FnMut(&[u8]),
) {
    while !stop.load(Ordering::Relaxed) && !shared.stopping() {
        let started = Instant::now();
        // Alive and beating, whether or not the network carries it: the
        // watchdog's gate (watchdog.rs).
        shared.tick(&conf.id, |t, now| t.beat = Some(now));
        let sent = promise(shared);
        let claims = shared.claims_changed();
        let payload = shared.local_split().beat.to_string();
        match sealer.seal(path_kind(conf), payload.as_bytes()) {
            Ok(frame) => send(&frame),
            Err(e) => log.error(format!("{tid}: cannot seal the heartbeat: {e}")),
        }
        sleep_until_promise_changes(deadline(started, conf.interval), stop, shared, sent, claims);
    }
}

/// What every rx does with a beat of `peer` (dataset.rs), sealed at
/// `sent` (its frame's `seq`): a compact one refreshes the peer; a whole
/// dataset is taken whole; one that does not decode is refused and
/// counted. Returns the digest of the services part to fetch, when the
/// beat names one this node does not hold.
pub(crate) fn take_beat(
    tid: &str,
    peer: &str,
    beat: Result<Beat, String>,
    sent: u64,
    shared: &Shared,
) -> Option<String> {
    match beat {
        Ok(Beat::Compact { fields, digest }) => {
            match shared.heard(tid, peer, fields, digest, sent) {
                Heard::Wants(d) => Some(d),
                Heard::Current | Heard::Refused => None,
            }
        }
        Ok(Beat::Full(data)) => {
            shared.received(tid, peer, data, sent);
            None
        }
        Err(_) => {
            shared.refuse_dataset(tid);
            None
        }
    }
}

/// What a network rx keeps from one frame to the next: the opener (its
/// replay windows), when it last logged a refusal from each source, and
/// the fetcher of the services parts its beats name, with the timeout of
/// one fetch.
pub(super) struct RxState {
    pub opener: Opener,
    said: Blacklist,
    fetch: (Arc<Fetcher>, Duration),
}

impl RxState {
    pub(super) fn new(opener: Opener, fetcher: Arc<Fetcher>, conf: &HbConf) -> RxState {
        RxState {
            opener,
            said: Blacklist::default(),
            fetch: (fetcher, frame_deadline(conf)),
        }
    }

    /// What every network rx does with one opened (or refused) frame from
    /// `from`: a peer's heartbeat refreshes it, and a digest not held sends
    /// the fetcher for its services part (never waited for here); our own
    /// frame, reflected or looped back, is dropped (the opener takes only
    /// this path's kind); a refusal is counted, and logged at most once per
    /// source every few seconds (a junk stream must not rotate node.log
    /// away), naming the sender and, for a frame outside the clock bound,
    /// the skew.
    pub(super) fn deliver(
        &mut self,
        tid: &str,
        from: IpAddr,
        result: Result<wire::Opened, wire::WireError>,
        shared: &Arc<Shared>,
        log: &Logger,
    ) {
        match result {
            Ok(o) if o.nodename == shared.nodename => {}
            Ok(o) => {
                let beat = dataset::read_beat(&o.payload);
                if take_beat(tid, &o.nodename, beat, o.seq, shared).is_some() {
                    let (fetcher, timeout) = &self.fetch;
                    fetcher.want(tid, &o.nodename, *timeout, shared, log);
                }
            }
            Err(wire::WireError::Closed) => {}
            Err(e) => self.refused(tid, from, &e, log),
        }
        if let Some(e) = self.opener.take_floor_error() {
            log.warn(format!("{tid}: {e}"));
        }
        shared.set_rejections(tid, self.opener.stats.total());
    }

    fn refused(&mut self, tid: &str, from: IpAddr, e: &dyn std::fmt::Display, log: &Logger) {
        if let Some(unlogged) = self.said.may_log(from, Instant::now()) {
            let more = if unlogged > 0 {
                format!(" ({unlogged} more refused since the last line)")
            } else {
                String::new()
            };
            log.warn(format!("{tid}: from {from}: {e}{more}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A beat sent just before the watchdog armed is followed by one that
    /// carries it at once, not an interval later; with no change, the
    /// sleep lasts until its deadline.
    #[test]
    fn a_new_watchdog_promise_ends_the_sleep_between_beats() {
        let shared = Shared::new("node1");
        let stop = AtomicBool::new(false);
        let started = Instant::now();
        std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(100));
                *shared.watchdog.lock().unwrap() = Some(Duration::from_secs(2));
            });
            sleep_until_promise_changes(started + Duration::from_secs(30), &stop, &shared, None, 0);
        });
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "slept {:?} past a new promise",
            started.elapsed()
        );
        let sent = promise(&shared);
        let again = Instant::now();
        sleep_until_promise_changes(again + Duration::from_millis(200), &stop, &shared, sent, 0);
        assert!(again.elapsed() >= Duration::from_millis(200));
    }

    /// A claim or an acknowledgment goes out at once: each costs a round
    /// trip before a start (orchestration/claims.rs).
    #[test]
    fn a_change_of_the_claims_ends_the_sleep_between_beats() {
        use crate::daemon::orchestration::claims::Claims;
        let shared = Shared::new("node1");
        let stop = AtomicBool::new(false);
        let started = Instant::now();
        let seen = shared.claims_changed();
        std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(100));
                let c = Claims {
                    token: Some(1.0),
                    ..Claims::default()
                };
                shared.set_claims("svc1", c);
            });
            sleep_until_promise_changes(
                started + Duration::from_secs(30),
                &stop,
                &shared,
                None,
                seen,
            );
        });
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "slept {:?} past a new claim",
            started.elapsed()
        );
    }

    #[test]
    fn each_medium_binds_its_own_frame_kind() {
        let conf = |medium| HbConf {
            id: "hb#1".into(),
            medium,
            port: DEFAULT_PORT,
            dev: None,
            addr: None,
            intf: None,
            interval: DEFAULT_INTERVAL,
            timeout: DEFAULT_TIMEOUT,
        };
        let kinds: Vec<FrameKind> = HbMedium::ALL
            .into_iter()
            .map(|m| path_kind(&conf(m)))
            .collect();
        assert_eq!(
            kinds,
            [
                FrameKind::HbUnicast,
                FrameKind::HbMulticast,
                FrameKind::HbDisk
            ]
        );
    }
}

#[cfg(test)]
#[path = "pending_tests.rs"]
mod pending_tests;
