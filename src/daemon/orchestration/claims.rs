//! Claims (docs/orchestration.md, "Claims"): how two nodes that each see
//! themselves as a service's leader never both start it, whatever the
//! network loses.
//!
//! The ready period alone let them: node1, seeing node2 frozen, became
//! ready; node2 was thawed 0.4 s later, became ready, and each started the
//! service before a beat told it of the other (the simulation found it,
//! seed 741363486). A wait of any length can be outlived by lost beats;
//! an acknowledgment cannot.
//!
//! - A node that is about to start a service claims it: its dataset
//!   carries a token (the wall time the claim began) while it is `ready`
//!   or `starting`.
//! - A node acknowledges every claim it sees on a service it does not
//!   claim itself and does not run, and from then on does not claim that
//!   service while it still sees the claim.
//! - Two claims seen at once: the node first in the service's `nodes`
//!   keeps its claim, the other yields and acknowledges.
//! - A claimer starts only when every heard node of the service that
//!   lists it acknowledges its very token: a peer's yes, not a guess that
//!   a beat got through.
//!
//! Plain data in, plain data out: core.rs asks, the shell publishes.

use std::collections::BTreeMap;

use super::view::SvcView;

/// What this node advertises of one service's claims.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Claims {
    /// Its own claim's token, while it is ready or starting.
    pub token: Option<f64>,
    /// The peers' claims it yields to: node → token.
    pub acks: BTreeMap<String, f64>,
}

impl Claims {
    pub(crate) fn is_empty(&self) -> bool {
        self.token.is_none() && self.acks.is_empty()
    }
}

/// A token read back from a peer's JSON is the one sent: serde_json
/// prints the shortest form that reads back to the same float. The margin
/// only spares a future encoder's rounding.
fn same(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

/// Why this node must not claim the service now, or keep its claim: a
/// peer starting it, or claiming it before this node did, or claiming it
/// at the same time from before this node in `nodes`.
/// `peers`: the heard nodes of the service whose dataset lists it.
pub(crate) fn yield_to(
    peers: &[(&str, &SvcView)],
    nodes: &[String],
    local: &str,
    claiming: bool,
) -> Option<String> {
    let rank = |n: &str| nodes.iter().position(|m| m == n).unwrap_or(usize::MAX);
    for (n, s) in peers {
        if s.starting {
            return Some(format!("{n} is starting it"));
        }
        if s.claim.is_some() && (!claiming || rank(n) < rank(local)) {
            return Some(format!("{n} is about to start it (it claimed it first)"));
        }
    }
    None
}

/// The peers' claims this node acknowledges: all it sees, unless it
/// claims the service itself (having yielded, it does not) or runs it (a
/// claimer that sees it running stops claiming).
pub(crate) fn acks(
    peers: &[(&str, &SvcView)],
    claiming: bool,
    up_here: bool,
) -> BTreeMap<String, f64> {
    if claiming || up_here {
        return BTreeMap::new();
    }
    peers
        .iter()
        .filter_map(|(n, s)| Some((n.to_string(), s.claim?)))
        .collect()
}

/// The first heard node of the service that has not acknowledged this
/// node's claim `token`: the claimer waits for it.
pub(crate) fn unacked<'a>(
    peers: &[(&'a str, &SvcView)],
    local: &str,
    token: f64,
) -> Option<&'a str> {
    peers
        .iter()
        .find(|(_, s)| !s.acks.get(local).is_some_and(|t| same(*t, token)))
        .map(|(n, _)| *n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claiming(token: f64) -> SvcView {
        SvcView {
            claim: Some(token),
            ..SvcView::default()
        }
    }

    fn acking(node: &str, token: f64) -> SvcView {
        SvcView {
            acks: BTreeMap::from([(node.to_string(), token)]),
            ..SvcView::default()
        }
    }

    #[test]
    fn a_node_yields_to_a_claim_it_saw_first_and_to_the_first_of_two_at_once() {
        let nodes = vec!["node2".to_string(), "node1".to_string()];
        let c = claiming(5.0);
        // node1 not claiming yet: node2's claim came first.
        let why = yield_to(&[("node2", &c)], &nodes, "node1", false).unwrap();
        assert!(why.contains("node2"), "{why}");
        // Both claim: node2 comes first in nodes, node1 yields ...
        assert!(yield_to(&[("node2", &c)], &nodes, "node1", true).is_some());
        // ... and node2 keeps its claim.
        assert_eq!(yield_to(&[("node1", &c)], &nodes, "node2", true), None);
        // A peer starting it: everyone yields, first in nodes or not.
        let s = SvcView {
            starting: true,
            ..SvcView::default()
        };
        assert!(yield_to(&[("node1", &s)], &nodes, "node2", true).is_some());
        // Nobody claims: nothing to yield to.
        let idle = SvcView::default();
        assert_eq!(yield_to(&[("node2", &idle)], &nodes, "node1", false), None);
    }

    #[test]
    fn acks_go_to_every_claim_seen_unless_this_node_claims_or_runs_it() {
        let (a, b, idle) = (claiming(1.0), claiming(2.0), SvcView::default());
        let peers = [("node2", &a), ("node3", &b), ("node4", &idle)];
        assert_eq!(
            acks(&peers, false, false),
            BTreeMap::from([("node2".to_string(), 1.0), ("node3".to_string(), 2.0)])
        );
        assert!(acks(&peers, true, false).is_empty());
        assert!(acks(&peers, false, true).is_empty());
    }

    #[test]
    fn a_claimer_waits_for_every_peer_to_acknowledge_its_very_token() {
        let (yes, old, other) = (
            acking("node1", 7.0),
            acking("node1", 6.0),
            acking("node9", 7.0),
        );
        assert_eq!(unacked(&[("node2", &yes)], "node1", 7.0), None);
        assert_eq!(
            unacked(&[("node2", &yes), ("node3", &old)], "node1", 7.0),
            Some("node3")
        );
        assert_eq!(unacked(&[("node2", &other)], "node1", 7.0), Some("node2"));
        assert_eq!(unacked(&[], "node1", 7.0), None);
    }
}
