//! Test fixtures shared by the sync driver's tests: the tutorial's
//! times and its sync#i0.

use chrono::NaiveDateTime;

use super::Rsync;
use crate::config::{Schedule, SyncConf};

pub(super) fn ts(s: &str) -> NaiveDateTime {
    super::stamp::parse_stamp(s).unwrap()
}

/// A Monday, inside the default period.
pub(super) fn in_period() -> NaiveDateTime {
    ts("2014-02-17 04:30:00.250000")
}

/// When the tutorial's first `syncnodes` ran, outside the default period.
pub(super) fn out_of_period() -> NaiveDateTime {
    ts("2014-02-17 17:20:37.000000")
}

/// The service config's own sync, to every node and drp node.
pub(super) fn i0() -> Rsync {
    Rsync::new(
        "sync#i0".into(),
        SyncConf {
            internal: true,
            src: vec![],
            dst: "/".into(),
            target: vec!["drpnodes".into(), "nodes".into()],
            options: vec![],
            bwlimit: None,
            schedule: Schedule::default(),
        },
    )
}
