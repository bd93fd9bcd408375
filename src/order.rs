//! A cluster-wide order for one service, as data: what an administrator
//! asked (`svcmgr -s svc start|stop|freeze|thaw|switch --to node`), when,
//! and on which node. orders.rs and core.rs carry orders out; this file only says
//! what an order is and which of two is newer.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

/// What the order wants of every instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// Thawed everywhere, up on one node.
    Started,
    /// Frozen and down everywhere.
    Stopped,
    Frozen,
    Thawed,
    /// Thawed everywhere, up on that node (`switch --to`).
    Placed(String),
}

impl Target {
    pub(crate) fn parse(s: &str) -> Option<Target> {
        match s {
            "started" => Some(Target::Started),
            "stopped" => Some(Target::Stopped),
            "frozen" => Some(Target::Frozen),
            "thawed" => Some(Target::Thawed),
            _ => {
                let node = s.strip_prefix("placed@")?;
                valid_node(node).then(|| Target::Placed(node.to_string()))
            }
        }
    }

    pub(crate) fn as_string(&self) -> String {
        match self {
            Target::Started => "started".into(),
            Target::Stopped => "stopped".into(),
            Target::Frozen => "frozen".into(),
            Target::Thawed => "thawed".into(),
            Target::Placed(n) => format!("placed@{n}"),
        }
    }

    /// Whether it leaves every instance frozen (true) or thawed (false).
    pub(crate) fn freezes(&self) -> bool {
        matches!(self, Target::Stopped | Target::Frozen)
    }
}

/// The targets a CLI may send, for error messages.
pub(crate) const TARGETS: &str = "started, stopped, frozen, thawed, placed@<node>";

fn valid_node(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 255
        && n.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b".-_".contains(&b))
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Order {
    pub target: Target,
    /// Seconds since the epoch when it was given.
    pub at: f64,
    /// The node it was typed on (ties between equal times).
    pub by: String,
}

impl Order {
    /// The newer of two orders wins everywhere: by time, then by node name,
    /// so that every node picks the same one.
    pub(crate) fn newer_than(&self, other: &Order) -> bool {
        self.at
            .total_cmp(&other.at)
            .then_with(|| self.by.cmp(&other.by))
            .is_gt()
    }

    /// How it travels in a heartbeat dataset's service entry.
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "global_expect": self.target.as_string(),
            "global_expect_at": self.at,
            "global_expect_by": self.by,
        })
    }

    /// From a service entry of a peer's dataset (or the memory file).
    pub(crate) fn from_json(v: &Value) -> Option<Order> {
        let target = Target::parse(v["global_expect"].as_str()?)?;
        let at = v["global_expect_at"].as_f64().filter(|t| t.is_finite())?;
        let by = v["global_expect_by"].as_str().unwrap_or("").to_string();
        Some(Order { target, at, by })
    }

    /// `given on node3 at 23:35:50`, in local time, for people.
    pub(crate) fn given(&self) -> String {
        let when = chrono::DateTime::from_timestamp(self.at as i64, 0)
            .map(|t| {
                t.with_timezone(&chrono::Local)
                    .format("%H:%M:%S")
                    .to_string()
            })
            .unwrap_or_default();
        if self.by.is_empty() {
            format!("given at {when}")
        } else {
            format!("given on {} at {when}", self.by)
        }
    }
}

/// How far ahead of this node's clock an order may be dated (seconds).
/// Newest wins, so an order dated in the future (a peer whose clock runs
/// ahead) would lock every later order out until that time came: such an
/// order is not taken in, and one held here that the clock now finds
/// ahead (the clock was stepped back) loses to any other. The nodes'
/// clocks must agree within this (NTP does far better).
pub(crate) const MAX_SKEW: f64 = 10.0;

impl Order {
    /// By how much it is dated ahead of `now` beyond [`MAX_SKEW`].
    pub(crate) fn ahead(&self, now: f64) -> Option<f64> {
        let d = self.at - now;
        (d > MAX_SKEW).then_some(d)
    }
}

pub(crate) fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_and_print_back() {
        for t in ["started", "stopped", "frozen", "thawed", "placed@node2"] {
            assert_eq!(Target::parse(t).unwrap().as_string(), t);
        }
        for bad in ["purged", "placed@", "placed@Node2", "placed@a b", ""] {
            assert_eq!(Target::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_newest_wins_and_equal_times_go_to_the_greater_node_name() {
        let o = |at, by: &str| Order {
            target: Target::Started,
            at,
            by: by.into(),
        };
        assert!(o(2.0, "node1").newer_than(&o(1.0, "node3")));
        assert!(o(1.0, "node3").newer_than(&o(1.0, "node1")));
        assert!(!o(1.0, "node1").newer_than(&o(1.0, "node1")));
    }

    #[test]
    fn orders_travel_as_json() {
        let o = Order {
            target: Target::Placed("node2".into()),
            at: 1_700_000_000.5,
            by: "node3".into(),
        };
        assert_eq!(Order::from_json(&o.to_json()), Some(o));
        let old = json!({"global_expect": "stopped", "global_expect_at": 3.0});
        assert_eq!(Order::from_json(&old).unwrap().by, "");
        assert_eq!(
            Order::from_json(&json!({"global_expect": "nonsense", "global_expect_at": 1.0})),
            None
        );
        assert_eq!(Order::from_json(&json!({"global_expect": "stopped"})), None);
    }
}
