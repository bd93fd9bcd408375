//! Cluster-wide orders (docs/orchestration.md, "Orders typed by an
//! administrator"; 1.9's "global expect"): an
//! administrator's `svcmgr -s svc stop|start|freeze|thaw|switch --to node`
//! of an orchestrated service reaches every node, not only the one it was
//! typed on.
//!
//! The CLI does the local part itself and hands the order to its daemon
//! (`set_service_monitor` on the local socket). The orders form one
//! newest-wins register per service: every daemon keeps the newest order it
//! knows (memory.rs, across restarts) and advertises it in every heartbeat
//! for good, reached or not, and takes in any newer one a peer advertises
//! (order.rs says which is newer). So every node, including one that was
//! powered off or cut when the order was given, ends up holding the same
//! order; and each carries out its own part of it once:
//!
//! | target      | here, once per order                         | reached when every instance heard is |
//! |-------------|----------------------------------------------|--------------------------------------|
//! | `stopped`   | freeze; then stop while up                   | frozen and not up                    |
//! | `started`   | thaw (the placement starts it)               | thawed, and up somewhere             |
//! | `frozen`    | freeze                                       | frozen                               |
//! | `thawed`    | thaw                                         | thawed                               |
//! | `placed@n`  | thaw; elsewhere than n, stop while up and n can run it | thawed, up on n only        |
//!
//! Freezing before stopping is what keeps another daemon from starting the
//! service while it goes down. An order only reached or not: it is never
//! dropped, so an order advertised only until reached, judged on a peer's
//! stale view, can no longer leave two instances frozen while a third
//! runs (an earlier design did). A `placed@n` order steers the placement
//! to n (shell.rs) until reached, or for [`PLACE_LIFETIME`] when n
//! cannot run it.

use std::collections::{BTreeMap, BTreeSet};

use super::memory::Memory;
use super::view::NodeView;
use crate::order::{Order, Target};

/// A `placed@n` order n could not reach in this long stops steering.
pub(crate) const PLACE_LIFETIME_SECS: f64 = 600.0;

/// Takes in the orders given here (`inbox`) and those peers advertise that
/// are newer than the one held for the same local service. Returns the
/// services whose order changed. `now` is the wall clock (seconds).
pub(crate) fn take_in(
    memory: &mut Memory,
    inbox: Vec<(String, Order)>,
    peers: &BTreeMap<String, NodeView>,
    local: impl Fn(&str) -> bool,
    now: f64,
) -> Vec<String> {
    let mut offers: Vec<(String, Order)> = inbox;
    for data in peers.values() {
        for (svc, s) in data.services.iter() {
            if let Some(o) = &s.order {
                offers.push((svc.clone(), Order::clone(o)));
            }
        }
    }
    let mut changed = Vec::new();
    for (svc, o) in offers {
        if !local(&svc) || o.ahead(now).is_some() {
            continue;
        }
        if memory
            .orders
            .get(&svc)
            .is_none_or(|held| held.ahead(now).is_some() || o.newer_than(held))
        {
            // What was carried out or seen reached was the replaced
            // order's. Both are keyed by the order's time, which two
            // orders given in the same instant on two nodes share: kept,
            // the newer one (by node name) was taken for done, and an
            // instance frozen by the older stayed frozen (the simulation
            // found it, seed 5150484: stop and start typed at once).
            memory.applied.remove(&svc);
            memory.reached.remove(&svc);
            memory.orders.insert(svc.clone(), o);
            changed.push(svc);
        }
    }
    changed
}

/// One instance as its node reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Instance {
    pub node: String,
    pub frozen: bool,
    pub up: bool,
    /// Its node advertises the very order being judged.
    pub holds: bool,
}

/// Whether `target` holds over the instances heard (this node's included).
///
/// Only once every node heard holds the order too: a node still on an
/// older one may yet carry it out (a switch elsewhere stops its instance)
/// after the states looked right. An order judged reached stops steering
/// the placement here while the node still on the older order steers it
/// to its own target, and two nodes would each lead.
pub(crate) fn reached(target: &Target, instances: &[Instance]) -> bool {
    let all = |f: &dyn Fn(&Instance) -> bool| instances.iter().all(f);
    if !all(&|i| i.holds) {
        return false;
    }
    match target {
        Target::Stopped => all(&|i| i.frozen && !i.up),
        Target::Frozen => all(&|i| i.frozen),
        Target::Thawed => all(&|i| !i.frozen),
        Target::Started => all(&|i| !i.frozen) && instances.iter().any(|i| i.up),
        Target::Placed(n) => {
            all(&|i| !i.frozen && i.up == (i.node == *n)) && instances.iter().any(|i| i.up)
        }
    }
}

/// The services whose held order this node saw reached.
pub(crate) fn reached_here(memory: &Memory) -> BTreeSet<String> {
    memory
        .orders
        .iter()
        .filter(|(svc, o)| memory.reached.get(*svc) == Some(&o.at))
        .map(|(svc, _)| svc.clone())
        .collect()
}

/// Takes in that a peer saw the order this node holds reached: a node
/// that was down or cut while the others reached a switch would otherwise
/// go on steering by it while they no longer do, and with each side
/// leaving the start to the other, the service would run nowhere (the
/// simulation found it: seed 1796). Returns the services newly reached.
pub(crate) fn take_in_reached(
    memory: &mut Memory,
    peers: &BTreeMap<String, NodeView>,
) -> Vec<String> {
    let mut newly = Vec::new();
    for (svc, o) in &memory.orders {
        if memory.reached.get(svc) == Some(&o.at) {
            continue;
        }
        let seen = peers.values().any(|p| {
            p.services
                .get(svc)
                .is_some_and(|s| s.reached && s.order.as_deref() == Some(o))
        });
        if seen {
            newly.push(svc.clone());
        }
    }
    for svc in &newly {
        if let Some(at) = memory.orders.get(svc).map(|o| o.at) {
            memory.reached.insert(svc.clone(), at);
        }
    }
    newly
}

/// The node a `placed@n` order steers `svc` to, while it is not reached
/// and not too old.
pub(crate) fn placed_on<'m>(memory: &'m Memory, svc: &str, now: f64) -> Option<&'m str> {
    let o = memory.orders.get(svc)?;
    let Target::Placed(n) = &o.target else {
        return None;
    };
    let pending = memory.reached.get(svc) != Some(&o.at) && now - o.at < PLACE_LIFETIME_SECS;
    pending.then_some(n.as_str())
}

/// An order is taking this instance down or away: nothing else (a
/// resource restart) acts on it meanwhile.
/// `now` is the wall clock (seconds).
pub(crate) fn busy(memory: &Memory, svc: &str, local: &str, now: f64) -> bool {
    match memory.orders.get(svc).map(|o| &o.target) {
        Some(Target::Stopped) => memory.reached.get(svc) != memory.orders.get(svc).map(|o| &o.at),
        Some(Target::Placed(n)) => n != local && placed_on(memory, svc, now).is_some(),
        _ => false,
    }
}

/// An order that thaws every instance (`started`, `thawed`) is on its way:
/// the instances still frozen are frozen only until their node takes it
/// in, so the placement must not pass them over
/// (placement::Instances::Thawing).
pub(crate) fn thawing(memory: &Memory, svc: &str) -> bool {
    let Some(o) = memory.orders.get(svc) else {
        return false;
    };
    matches!(o.target, Target::Started | Target::Thawed) && memory.reached.get(svc) != Some(&o.at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::now;
    use serde_json::{Value, json};

    fn o(target: Target, at: f64, by: &str) -> Order {
        Order {
            target,
            at,
            by: by.into(),
        }
    }

    fn local() -> BTreeSet<String> {
        ["svc1".to_string()].into()
    }

    fn peer(v: Value) -> BTreeMap<String, NodeView> {
        [("node2".to_string(), NodeView::from_json(&v).unwrap())].into()
    }

    fn take_in(
        m: &mut Memory,
        inbox: Vec<(String, Order)>,
        peers: &BTreeMap<String, NodeView>,
        local: &BTreeSet<String>,
    ) -> Vec<String> {
        super::take_in(m, inbox, peers, |s| local.contains(s), now())
    }

    #[test]
    fn the_newest_order_wins_and_is_taken_in_once() {
        let mut m = Memory::default();
        let peers = peer(json!({"services": {"svc1": {
            "global_expect": "stopped", "global_expect_at": 20.0, "global_expect_by": "node2"}}}));
        let changed = take_in(
            &mut m,
            vec![("svc1".into(), o(Target::Started, 10.0, "node1"))],
            &peers,
            &local(),
        );
        assert_eq!(changed, ["svc1", "svc1"]);
        assert_eq!(m.orders["svc1"], o(Target::Stopped, 20.0, "node2"));
        // Still advertised by node2: held already, not taken in again.
        assert!(take_in(&mut m, vec![], &peers, &local()).is_empty());
        // An older order given later elsewhere loses too.
        let old = vec![("svc1".to_string(), o(Target::Started, 15.0, "node3"))];
        assert!(take_in(&mut m, old, &BTreeMap::new(), &local()).is_empty());
    }

    /// Two orders given in the same instant on two nodes: the one from the
    /// greater node name wins, and is carried out although the loser was
    /// carried out already at that very time.
    #[test]
    fn an_order_given_in_the_same_instant_replaces_what_was_done() {
        let mut m = Memory::default();
        let stop = o(Target::Stopped, 143.0, "node2");
        take_in(
            &mut m,
            vec![("svc1".into(), stop)],
            &BTreeMap::new(),
            &local(),
        );
        m.applied.insert("svc1".into(), 143.0);
        m.reached.insert("svc1".into(), 143.0);
        let start = o(Target::Started, 143.0, "node3");
        let peers = peer(json!({"services": {"svc1": start.to_json()}}));
        assert_eq!(take_in(&mut m, vec![], &peers, &local()), ["svc1"]);
        assert_eq!(m.orders["svc1"], start);
        assert!(
            !m.applied.contains_key("svc1"),
            "the new order is to carry out"
        );
        assert!(!m.reached.contains_key("svc1"), "and not reached yet");
    }

    /// A peer whose clock runs an hour ahead gives orders dated an hour
    /// ahead: newest-wins would lock every later order out for that hour.
    #[test]
    fn an_order_dated_ahead_of_the_clock_locks_nothing_out() {
        let now = crate::order::now();
        let future = o(Target::Stopped, now + 3600.0, "node2");
        let mut m = Memory::default();
        let peers = peer(json!({"services": {"svc1": future.to_json()}}));
        assert!(take_in(&mut m, vec![], &peers, &local()).is_empty());
        assert!(m.orders.is_empty(), "not taken in");
        // Held already (a state file written before the clock was stepped
        // back): any other order replaces it.
        m.orders.insert("svc1".into(), future);
        let typed = o(Target::Started, now, "node1");
        let changed = take_in(
            &mut m,
            vec![("svc1".into(), typed.clone())],
            &BTreeMap::new(),
            &local(),
        );
        assert_eq!(changed, ["svc1"]);
        assert_eq!(m.orders["svc1"], typed);
        // Within the tolerated skew, newest wins as always.
        let soon = o(Target::Frozen, now + 5.0, "node2");
        let peers = peer(json!({"services": {"svc1": soon.to_json()}}));
        assert_eq!(take_in(&mut m, vec![], &peers, &local()), ["svc1"]);
        assert_eq!(m.orders["svc1"], soon);
    }

    #[test]
    fn a_start_or_thaw_order_thaws_the_placement_until_reached() {
        let mut m = Memory::default();
        assert!(!thawing(&m, "svc1"), "no order");
        m.orders
            .insert("svc1".into(), o(Target::Started, 10.0, "node2"));
        assert!(thawing(&m, "svc1"));
        m.reached.insert("svc1".into(), 10.0);
        assert!(!thawing(&m, "svc1"), "reached: the flags are true again");
        m.orders
            .insert("svc1".into(), o(Target::Thawed, 11.0, "node2"));
        assert!(thawing(&m, "svc1"));
        m.orders
            .insert("svc1".into(), o(Target::Stopped, 12.0, "node2"));
        assert!(!thawing(&m, "svc1"));
    }

    #[test]
    fn orders_for_services_not_here_or_unknown_targets_are_ignored() {
        let mut m = Memory::default();
        let peers = peer(json!({"services": {
            "other": {"global_expect": "stopped", "global_expect_at": 1.0},
            "svc1": {"global_expect": "purged", "global_expect_at": 1.0},
        }}));
        assert!(take_in(&mut m, vec![], &peers, &local()).is_empty());
        assert!(m.orders.is_empty());
    }

    /// Node `to` hears node `from`'s heartbeat: its whole register.
    fn hear(mem: &mut [Memory], to: usize, from: usize) {
        let adv: serde_json::Map<String, Value> = mem[from]
            .orders
            .iter()
            .map(|(s, o)| (s.clone(), o.to_json()))
            .collect();
        let data = NodeView::from_json(&json!({"services": adv})).unwrap();
        let peers: BTreeMap<String, NodeView> = [(format!("node{}", from + 1), data)].into();
        take_in(&mut mem[to], vec![], &peers, &local());
    }

    /// The non-convergence an earlier design showed: orders dropped once
    /// reached (on a stale view) left a node holding an older order. Here
    /// every node gossips its register for good: whatever the order in
    /// which nodes hear what, they all end with the newest.
    #[test]
    fn any_delivery_order_converges_on_the_newest_order() {
        let orders = [
            ("node1", o(Target::Stopped, 100.0, "node1")),
            ("node2", o(Target::Started, 101.0, "node2")),
            ("node3", o(Target::Stopped, 101.5, "node3")),
            ("node1", o(Target::Started, 102.0, "node1")),
        ];
        // Every permutation of "who hears whom when": each node takes in
        // its own orders and, in rounds, one random peer's register.
        let mut seed = 7u64;
        let mut rnd = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for _ in 0..200 {
            let names = ["node1", "node2", "node3"];
            let mut mem: Vec<Memory> = (0..3).map(|_| Memory::default()).collect();
            let mut given = 0;
            for _ in 0..40 {
                if given < orders.len() && rnd(2) == 0 {
                    let (on, ord) = &orders[given];
                    let i = names.iter().position(|n| n == on).unwrap();
                    take_in(
                        &mut mem[i],
                        vec![("svc1".into(), ord.clone())],
                        &BTreeMap::new(),
                        &local(),
                    );
                    given += 1;
                }
                let (to, from) = (rnd(3), rnd(3));
                if to != from {
                    hear(&mut mem, to, from);
                }
            }
            for (on, ord) in &orders[given..] {
                let i = names.iter().position(|n| n == on).unwrap();
                take_in(
                    &mut mem[i],
                    vec![("svc1".into(), ord.clone())],
                    &BTreeMap::new(),
                    &local(),
                );
            }
            // Gossip until quiet: everyone holds the newest.
            for _ in 0..3 {
                for to in 0..3 {
                    for from in 0..3 {
                        hear(&mut mem, to, from);
                    }
                }
            }
            for m in &mem {
                assert_eq!(m.orders["svc1"], orders[3].1);
            }
        }
    }

    fn i(node: &str, frozen: bool, up: bool) -> Instance {
        Instance {
            node: node.into(),
            frozen,
            up,
            holds: true,
        }
    }

    #[test]
    fn targets_are_reached_over_every_instance_heard() {
        use Target::*;
        let st = |f1, u1, f2, u2| vec![i("node1", f1, u1), i("node2", f2, u2)];
        assert!(!reached(&Stopped, &st(true, false, true, true)));
        assert!(!reached(&Stopped, &st(true, false, false, false)));
        assert!(reached(&Stopped, &st(true, false, true, false)));
        assert!(!reached(&Started, &st(false, false, false, false)));
        assert!(!reached(&Started, &st(false, true, true, false)));
        assert!(reached(&Started, &st(false, true, false, false)));
        assert!(reached(&Frozen, &st(true, true, true, false)));
        assert!(!reached(&Thawed, &st(false, true, true, false)));
        let on2 = Placed("node2".into());
        assert!(reached(&on2, &st(false, false, false, true)));
        assert!(!reached(&on2, &st(false, true, false, false)));
        assert!(!reached(&on2, &st(false, true, false, true)));
        assert!(!reached(&on2, &st(false, false, true, true)));
    }

    /// Chaos seed 14168359073087895945 #26: `switch --to node3`, then
    /// `switch --to node2` typed on node1 while node2 ran the service.
    /// node1 judged the second reached at once; node2, still on the
    /// first, stopped its instance a moment later. node1 then led by
    /// `nodes` order and node2 by the switch: both started it.
    #[test]
    fn an_order_is_not_reached_while_a_node_heard_holds_an_older_one() {
        let on2 = Target::Placed("node2".into());
        let mut still_older = i("node2", false, true);
        still_older.holds = false;
        assert!(!reached(&on2, &[i("node1", false, false), still_older]));
        assert!(reached(
            &on2,
            &[i("node1", false, false), i("node2", false, true)]
        ));
    }

    #[test]
    fn a_placement_order_steers_until_reached_or_too_old() {
        let mut m = Memory::default();
        let t = now();
        m.orders
            .insert("svc1".into(), o(Target::Placed("node2".into()), t, "node1"));
        assert_eq!(placed_on(&m, "svc1", t + 1.0), Some("node2"));
        assert!(busy(&m, "svc1", "node1", t + 1.0));
        assert!(!busy(&m, "svc1", "node2", t + 1.0));
        assert_eq!(placed_on(&m, "svc1", t + PLACE_LIFETIME_SECS), None);
        m.reached.insert("svc1".into(), t);
        assert_eq!(placed_on(&m, "svc1", t + 1.0), None);
        assert!(!busy(&m, "svc1", "node1", t + 1.0));
        m.orders
            .insert("svc1".into(), o(Target::Stopped, t + 5.0, "node1"));
        assert!(busy(&m, "svc1", "node1", t + 1.0));
        m.reached.insert("svc1".into(), t + 5.0);
        assert!(!busy(&m, "svc1", "node1", t + 1.0));
    }
}
