//! Is a silent node down? The evidence the orchestrator needs before it
//! starts a service that may run on a node no heartbeat hears: pure
//! decisions on plain data, so that every rule is unit-tested.
//!
//! Silence alone proves nothing: a node behind a cut cable is silent and
//! alive, and so is a node whose agent died or hangs while its services run
//! on. Each proof below rests on something the silent node itself promised
//! while it was heard:
//!
//! - **Watchdog** (watchdog.rs): a node advertises `watchdog: W` when its
//!   agent arms a watchdog that resets the node at most W after its last
//!   disk-heartbeat write (or its last beat when it has no disk heartbeat)
//!   if the agent dies or hangs. Without it, a silent disk slot proves only
//!   that the agent stopped writing, not that the services stopped.
//! - **Disk**: on a disk heartbeat this node reads, the silent node's slot
//!   has not changed for W plus a margin, read by a disk rx that works now;
//!   and that slot was changing up to the moment the node fell silent on
//!   every heartbeat (within [`DISK_LAG_TIMEOUTS`] of that disk
//!   heartbeat's timeout). A slot that stopped changing long before the
//!   network fell silent was not being written where this node reads (a
//!   slot mismatch, a failing write): its silence is no evidence. A node
//!   this daemon never heard proves nothing either.
//! - **Quorum** (quorum.rs): this side won the vote, the grace has passed,
//!   the lost node had said it ends itself on losing quorum, and its
//!   watchdog deadline has passed too (a hung agent runs no split action).
//! - **Stonith**: its `[stonith#node] cmd` succeeded (the orchestrator runs
//!   it last, since it acts).
//!
//! A node whose agent announced maintenance (a clean `nodemgr daemon
//! stop`) is never taken over: its services run on without an agent.

use std::time::{Duration, Instant};

/// Added to a promised deadline before it counts: the time a reset takes
/// once the supervisor's deadline passes (it is SCHED_FIFO and mlocked, and
/// reboot(2) does not sync). The deadline itself is already late: it runs
/// from this node's reading of the last beat or slot change, never earlier
/// than the silent node's own write.
pub(crate) const MARGIN: Duration = Duration::from_millis(250);

/// How long before the last beat heard (on any heartbeat) a disk slot may
/// have stopped changing, in that disk heartbeat's timeouts, and still
/// count as the same silence.
pub(crate) const DISK_LAG_TIMEOUTS: u32 = 2;

/// When a lost peer was last heard, and what it had promised then.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Lost {
    /// Its last beat on any heartbeat.
    pub at: Instant,
    /// Its advertised watchdog deadline, if it had one armed.
    pub watchdog: Option<Duration>,
    /// It had said it ends itself on losing quorum.
    pub fences_itself: bool,
}

/// What a disk heartbeat's rx saw of one peer's slot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct SlotSeen {
    /// When the slot's current content was first read.
    pub since: Instant,
    /// The content is a beat of that peer, accepted when read (not a
    /// stale frame found on the disk when this rx started).
    pub heard: bool,
    /// The watchdog deadline that beat advertised.
    pub watchdog: Option<Duration>,
}

/// One disk heartbeat, as the proof sees it for one silent peer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Disk {
    pub id: String,
    /// Its rx completed a scan of the device within its interval and a
    /// margin: what it says of the slots is current.
    pub rx_fresh: bool,
    pub timeout: Duration,
    /// The peer's slot, if it was ever read.
    pub slot: Option<SlotSeen>,
}

/// Everything known of one silent node.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Evidence {
    /// Its last word was `maintenance`.
    pub maintenance: bool,
    /// None: not heard since this daemon started.
    pub lost: Option<Lost>,
    pub disks: Vec<Disk>,
    /// This side won a quorum vote; the lost node counts down from then.
    pub quorum_down_at: Option<Instant>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Verdict {
    /// Proven down, and by what.
    Down(&'static str),
    /// Will be proven down at that instant if nothing changes (a watchdog
    /// deadline not reached yet).
    At(Instant, &'static str),
    /// Its agent stopped on purpose: never taken over.
    Resting,
    /// Nothing proves it down; the reason, for the log and svcmon.
    Unproven(String),
}

/// The verdict on one silent node at `now`, stonith apart.
pub(crate) fn judge(ev: &Evidence, now: Instant) -> Verdict {
    if ev.maintenance {
        return Verdict::Resting;
    }
    let Some(lost) = &ev.lost else {
        return Verdict::Unproven("never heard since this agent started".into());
    };
    let mut best: Option<(Instant, &'static str)> = None;
    let mut consider = |at: Instant, by: &'static str| {
        if best.is_none_or(|(b, _)| at < b) {
            best = Some((at, by));
        }
    };
    let disk = disk_deadline(ev, lost);
    if let Ok(at) = disk {
        consider(at, "disk heartbeat and watchdog");
    }
    if let (Some(q), Some(w)) = (ev.quorum_down_at, lost.watchdog)
        && lost.fences_itself
    {
        consider(q.max(lost.at + w + MARGIN), "quorum and watchdog");
    }
    match best {
        Some((at, by)) if at <= now => Verdict::Down(by),
        Some((at, by)) => Verdict::At(at, by),
        None => Verdict::Unproven(match disk {
            Err(why) => why,
            Ok(_) => unreachable!("a disk deadline is a verdict"),
        }),
    }
}

/// When the disk proof will hold, or why it cannot.
fn disk_deadline(ev: &Evidence, lost: &Lost) -> Result<Instant, String> {
    if ev.disks.is_empty() {
        return Err("no disk heartbeat".into());
    }
    let mut why = Vec::new();
    let mut best: Option<Instant> = None;
    for d in &ev.disks {
        let Some(slot) = d.slot.filter(|s| s.heard) else {
            why.push(format!("{} never heard it", d.id));
            continue;
        };
        if !d.rx_fresh {
            why.push(format!("{} cannot read its disk now", d.id));
            continue;
        }
        if slot.since + d.timeout * DISK_LAG_TIMEOUTS < lost.at {
            why.push(format!(
                "{} stopped hearing it long before the network did",
                d.id
            ));
            continue;
        }
        let Some(w) = slot.watchdog else {
            why.push(format!(
                "{} saw it without a watchdog armed (a silent slot proves only that its agent stopped)",
                d.id
            ));
            continue;
        };
        let at = slot.since + w + MARGIN;
        if best.is_none_or(|b| at < b) {
            best = Some(at);
        }
    }
    best.ok_or_else(|| why.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn lost(t0: Instant, watchdog: Option<Duration>) -> Lost {
        Lost {
            at: t0,
            watchdog,
            fences_itself: false,
        }
    }

    fn disk(since: Instant, fresh: bool, watchdog: Option<Duration>) -> Disk {
        Disk {
            id: "hb#2".into(),
            rx_fresh: fresh,
            timeout: 3 * S,
            slot: Some(SlotSeen {
                since,
                heard: true,
                watchdog,
            }),
        }
    }

    fn ev(lost: Option<Lost>, disks: Vec<Disk>) -> Evidence {
        Evidence {
            maintenance: false,
            lost,
            disks,
            quorum_down_at: None,
        }
    }

    #[test]
    fn a_silent_slot_proves_death_once_the_promised_watchdog_deadline_passed() {
        let t0 = Instant::now();
        let w = Some(3 * S);
        let e = ev(Some(lost(t0, w)), vec![disk(t0, true, w)]);
        let deadline = t0 + 3 * S + MARGIN;
        assert_eq!(
            judge(&e, t0 + 3 * S),
            Verdict::At(deadline, "disk heartbeat and watchdog")
        );
        assert_eq!(
            judge(&e, deadline),
            Verdict::Down("disk heartbeat and watchdog")
        );
    }

    #[test]
    fn without_a_watchdog_a_silent_slot_proves_only_a_dead_agent() {
        let t0 = Instant::now();
        let e = ev(Some(lost(t0, None)), vec![disk(t0, true, None)]);
        let Verdict::Unproven(why) = judge(&e, t0 + 60 * S) else {
            panic!("{:?}", judge(&e, t0 + 60 * S));
        };
        assert!(why.contains("without a watchdog"), "{why}");
    }

    #[test]
    fn a_disk_this_node_cannot_read_now_proves_nothing() {
        let t0 = Instant::now();
        let w = Some(3 * S);
        let e = ev(Some(lost(t0, w)), vec![disk(t0, false, w)]);
        assert!(
            matches!(judge(&e, t0 + 60 * S), Verdict::Unproven(w) if w.contains("cannot read"))
        );
    }

    #[test]
    fn a_slot_never_heard_or_silent_long_before_the_network_proves_nothing() {
        let t0 = Instant::now();
        let w = Some(3 * S);
        // Never heard on the disk (a slot mismatch, a disk it cannot write).
        let mut never = disk(t0, true, w);
        never.slot = None;
        let e = ev(Some(lost(t0 + 30 * S, w)), vec![never]);
        assert!(
            matches!(judge(&e, t0 + 90 * S), Verdict::Unproven(w) if w.contains("never heard it"))
        );
        // A stale slot read at start is not "heard" either.
        let mut stale = disk(t0, true, w);
        stale.slot = Some(SlotSeen {
            heard: false,
            ..stale.slot.unwrap()
        });
        let e = ev(Some(lost(t0, w)), vec![stale]);
        assert!(matches!(judge(&e, t0 + 90 * S), Verdict::Unproven(_)));
        // The slot stopped changing 30 s before the network fell silent.
        let e = ev(Some(lost(t0 + 30 * S, w)), vec![disk(t0, true, w)]);
        assert!(
            matches!(judge(&e, t0 + 90 * S), Verdict::Unproven(w) if w.contains("long before"))
        );
        // Within two disk timeouts of the network: the same silence.
        let e = ev(Some(lost(t0 + 6 * S, w)), vec![disk(t0, true, w)]);
        assert!(matches!(judge(&e, t0 + 90 * S), Verdict::Down(_)));
    }

    #[test]
    fn a_node_never_heard_or_in_maintenance_is_never_proven_down() {
        let t0 = Instant::now();
        let w = Some(3 * S);
        let e = ev(None, vec![disk(t0, true, w)]);
        assert!(
            matches!(judge(&e, t0 + 90 * S), Verdict::Unproven(w) if w.contains("never heard"))
        );
        let mut e = ev(Some(lost(t0, w)), vec![disk(t0, true, w)]);
        e.maintenance = true;
        assert_eq!(judge(&e, t0 + 90 * S), Verdict::Resting);
    }

    #[test]
    fn quorum_proves_a_node_that_fences_itself_after_its_watchdog_deadline() {
        let t0 = Instant::now();
        let mut l = lost(t0, Some(3 * S));
        l.fences_itself = true;
        let mut e = ev(Some(l.clone()), vec![]);
        e.quorum_down_at = Some(t0 + 5 * S);
        assert_eq!(judge(&e, t0 + 5 * S), Verdict::Down("quorum and watchdog"));
        // The grace ended before the watchdog deadline: wait for it.
        e.quorum_down_at = Some(t0 + S);
        assert_eq!(
            judge(&e, t0 + S),
            Verdict::At(t0 + 3 * S + MARGIN, "quorum and watchdog")
        );
        // No watchdog: a hung agent runs no split action.
        l.watchdog = None;
        e.lost = Some(l.clone());
        assert!(matches!(judge(&e, t0 + 60 * S), Verdict::Unproven(_)));
        // Does not fence itself.
        l.watchdog = Some(3 * S);
        l.fences_itself = false;
        e.lost = Some(l);
        assert!(matches!(judge(&e, t0 + 60 * S), Verdict::Unproven(_)));
    }

    #[test]
    fn the_earliest_proof_wins() {
        let t0 = Instant::now();
        let w = Some(3 * S);
        let mut l = lost(t0, w);
        l.fences_itself = true;
        let mut e = ev(Some(l), vec![disk(t0, true, w)]);
        e.quorum_down_at = Some(t0 + 10 * S);
        assert_eq!(
            judge(&e, t0),
            Verdict::At(t0 + 3 * S + MARGIN, "disk heartbeat and watchdog")
        );
    }
}
