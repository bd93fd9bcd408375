//! The quorum decisions (docs/orchestration.md, "Quorum"), pure: given
//! what this node sees when the supervisor finds peers lost — the cluster
//! nodes, the peers still heard, the arbitrators' answers as data, what
//! each lost peer last said of itself — whether this node holds quorum,
//! and so which lost peers count as proven down (and from when), or runs
//! its split action. No I/O, no clock: quorum.rs pings the arbitrators
//! and carries the commands out (split.rs ends or freezes the node); the
//! simulation (sim/) runs this very code.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use super::core::{Command, Level};
use crate::config::node::SplitAction;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Vote {
    pub votes: usize,
    pub total: usize,
}

impl Vote {
    /// A strict majority: of two halves, at most one can hold it.
    pub(crate) fn holds(self) -> bool {
        self.votes * 2 > self.total
    }
}

/// `nodes` is `[cluster] nodes` (this node included), `heard` the peers
/// still heard, `answered` how many arbitrators answered.
pub(crate) fn count(
    nodes: &[String],
    heard: &BTreeSet<String>,
    arbitrators: usize,
    answered: usize,
) -> Vote {
    let peers_heard = heard.iter().filter(|n| nodes.contains(n)).count();
    Vote {
        votes: 1 + peers_heard + answered.min(arbitrators),
        total: nodes.len() + arbitrators,
    }
}

/// Before any arbitrator is asked: None when a vote is to be held, else
/// what to do instead (quorum off: nothing; this node frozen: say so, no
/// vote and no split action, 1.9's "an operator at work on it").
pub(crate) fn no_vote(enabled: bool, node_frozen: bool, lost: &[String]) -> Option<Vec<Command>> {
    if !enabled {
        return Some(Vec::new());
    }
    node_frozen.then(|| {
        vec![Command::Log(
            Level::Warn,
            format!(
                "quorum: {} lost while this node is frozen: no vote, no split action",
                lost.join(", ")
            ),
        )]
    })
}

/// What a vote is held on.
#[derive(Debug, Clone)]
pub(crate) struct Ballot {
    /// `[cluster] nodes`.
    pub nodes: Vec<String>,
    /// The peers still heard.
    pub heard: BTreeSet<String>,
    /// The peers just lost.
    pub lost: Vec<String>,
    /// Each lost peer's last word on whether it ends itself on losing
    /// quorum (its `fences_itself`); absent is no.
    pub fences_itself: BTreeMap<String, bool>,
    /// Each arbitrator's answer to `ping`, by name: the reason when none.
    pub answers: Vec<(String, Result<(), String>)>,
    pub split_action: SplitAction,
    /// How long the minority may take to end itself (quorum.rs, `grace`).
    pub grace: Duration,
    /// When the vote ended.
    pub now: Instant,
}

/// The vote's verdict: with quorum, a [`Command::QuorumDown`] for each
/// lost peer that ends itself; without, the [`Command::SplitAction`].
pub(crate) fn verdict(b: &Ballot) -> Vec<Command> {
    let answered = b.answers.iter().filter(|(_, r)| r.is_ok()).count();
    let v = count(&b.nodes, &b.heard, b.answers.len(), answered);
    let mut out = Vec::new();
    if v.holds() {
        let at = crate::config::duration::deadline(b.now, b.grace);
        let mut proven = Vec::new();
        for n in &b.lost {
            // It did not say it would end itself (quorum off there,
            // split_action freezestop or disabled, or frozen): the
            // majority cannot count on it being down.
            if b.fences_itself.get(n).copied().unwrap_or(false) {
                out.push(Command::QuorumDown {
                    node: n.clone(),
                    at,
                });
                proven.push(n.as_str());
            } else {
                out.push(Command::Log(Level::Warn, format!(
                    "quorum: {}/{} votes, but {n} does not fence itself (quorum off, split_action neither crash nor reboot, or frozen): quorum does not prove it down",
                    v.votes, v.total
                )));
            }
        }
        if !proven.is_empty() {
            out.push(Command::Log(
                Level::Info,
                format!(
                    "quorum: {}/{} votes, {} proven down in {} s (the minority side fences itself)",
                    v.votes,
                    v.total,
                    proven.join(", "),
                    b.grace.as_secs_f64()
                ),
            ));
        }
        return out;
    }
    let why: Vec<String> = b
        .answers
        .iter()
        .filter_map(|(n, r)| r.as_ref().err().map(|e| format!("arbitrator {n}: {e}")))
        .collect();
    out.push(Command::Log(
        Level::Error,
        format!(
            "quorum lost: {}/{} votes after losing {}{}: split action {}",
            v.votes,
            v.total,
            b.lost.join(", "),
            if why.is_empty() {
                String::new()
            } else {
                format!(" ({})", why.join("; "))
            },
            b.split_action.as_str()
        ),
    ));
    out.push(Command::SplitAction(b.split_action));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ballot(heard: &[&str], answers: &[bool]) -> Ballot {
        Ballot {
            nodes: ["node1", "node2", "node3"].map(String::from).to_vec(),
            heard: heard.iter().map(|s| s.to_string()).collect(),
            lost: vec!["node3".into()],
            fences_itself: [("node3".to_string(), true)].into(),
            answers: answers
                .iter()
                .enumerate()
                .map(|(i, ok)| {
                    let r = if *ok { Ok(()) } else { Err("no answer".into()) };
                    (format!("arb{i}"), r)
                })
                .collect(),
            split_action: SplitAction::Crash,
            grace: Duration::from_secs(4),
            now: Instant::now(),
        }
    }

    #[test]
    fn the_majority_proves_a_self_fencing_peer_down_after_the_grace() {
        let b = ballot(&["node2"], &[true]);
        let cmds = verdict(&b);
        let at = b.now + Duration::from_secs(4);
        assert!(
            cmds.contains(&Command::QuorumDown {
                node: "node3".into(),
                at
            }),
            "{cmds:#?}"
        );
        assert!(!cmds.iter().any(|c| matches!(c, Command::SplitAction(_))));
        // A peer that does not end itself is never proven down by quorum.
        let mut b = b;
        b.fences_itself.clear();
        let cmds = verdict(&b);
        assert!(
            !cmds.iter().any(|c| matches!(c, Command::QuorumDown { .. })),
            "{cmds:#?}"
        );
    }

    #[test]
    fn the_minority_runs_its_split_action_and_proves_nothing() {
        // Alone, the arbitrator silent: 1/4.
        let cmds = verdict(&ballot(&[], &[false]));
        assert!(
            cmds.contains(&Command::SplitAction(SplitAction::Crash)),
            "{cmds:#?}"
        );
        assert!(!cmds.iter().any(|c| matches!(c, Command::QuorumDown { .. })));
        // Alone with the arbitrator: 2/4, half is not a majority.
        let cmds = verdict(&ballot(&[], &[true]));
        assert!(
            cmds.contains(&Command::SplitAction(SplitAction::Crash)),
            "{cmds:#?}"
        );
    }

    #[test]
    fn a_frozen_node_or_quorum_off_holds_no_vote() {
        let lost = ["node3".to_string()];
        assert_eq!(no_vote(false, false, &lost), Some(Vec::new()));
        assert!(no_vote(true, true, &lost).is_some_and(|c| c.len() == 1));
        assert_eq!(no_vote(true, false, &lost), None);
    }
}
