//! Resource and service status values and the merge table
//! (docs/behaviour.md, "Status merge").

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Status {
    Up,
    Down,
    Warn,
    NotApplicable,
    // In the merge table (docs/behaviour.md, "Status merge") as 1.5 has it;
    // no driver of ours reports it.
    #[allow(dead_code)]
    Todo,
    Undef,
    StdbyUp,
    StdbyDown,
    /// Internal: standby up merged with up. Displays as `up`.
    StdbyUpWithUp,
    /// Internal: standby up merged with down. Displays as `stdby up`.
    StdbyUpWithDown,
}

use Status::{
    Down, NotApplicable, StdbyDown, StdbyUp, StdbyUpWithDown, StdbyUpWithUp, Todo, Undef, Up, Warn,
};

impl Status {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Up | StdbyUpWithUp => "up",
            Down => "down",
            Warn => "warn",
            NotApplicable => "n/a",
            Todo => "todo",
            Undef => "undef",
            StdbyUp | StdbyUpWithDown => "stdby up",
            StdbyDown => "stdby down",
        }
    }

    /// The `status` action's exit code (1.6 meaning): 0 up, 1 down, 2 warn,
    /// 3 n/a, then the rarer values.
    pub(crate) fn exit_code(self) -> i32 {
        match self {
            Up | StdbyUpWithUp => 0,
            Down => 1,
            Warn => 2,
            NotApplicable => 3,
            Todo => 4,
            Undef => 5,
            StdbyUp | StdbyUpWithDown => 6,
            StdbyDown => 7,
        }
    }

    /// Symmetric merge; `Undef` is the identity.
    pub(crate) fn merge(self, other: Status) -> Status {
        if self == Undef {
            return other;
        }
        if other == Undef {
            return self;
        }
        let (a, b) = if rank(self) <= rank(other) {
            (self, other)
        } else {
            (other, self)
        };
        match (a, b) {
            (Up, Up) => Up,
            (Up, Down) => Warn,
            (Up, Warn) => Warn,
            (Up, NotApplicable) => Up,
            (Up, Todo) => Warn,
            (Up, StdbyUp) => StdbyUpWithUp,
            (Up, StdbyDown) => Warn,
            (Up, StdbyUpWithUp) => StdbyUpWithUp,
            (Up, StdbyUpWithDown) => Warn,
            (Down, Down) => Down,
            (Down, Warn) => Warn,
            (Down, NotApplicable) => Down,
            (Down, Todo) => Warn,
            (Down, StdbyUp) => StdbyUpWithDown,
            (Down, StdbyDown) => StdbyDown,
            (Down, StdbyUpWithUp) => Warn,
            (Down, StdbyUpWithDown) => StdbyUpWithDown,
            (Warn, _) => Warn,
            (NotApplicable, NotApplicable) => NotApplicable,
            (NotApplicable, Todo) => Warn,
            (NotApplicable, x) => x,
            (Todo, _) => Todo,
            (StdbyUp, StdbyUp) => StdbyUp,
            (StdbyUp, StdbyDown) => Warn,
            (StdbyUp, StdbyUpWithUp) => StdbyUpWithUp,
            (StdbyUp, StdbyUpWithDown) => StdbyUpWithDown,
            (StdbyDown, StdbyDown) => StdbyDown,
            (StdbyDown, _) => Warn,
            (StdbyUpWithUp, StdbyUpWithUp) => StdbyUpWithUp,
            (StdbyUpWithUp, StdbyUpWithDown) => Warn,
            (StdbyUpWithDown, StdbyUpWithDown) => StdbyUpWithDown,
            // rank() orders pairs so that every combination is listed above.
            _ => Warn,
        }
    }

    /// Up-like for the "is the service up" questions (sync, app gating).
    pub(crate) fn is_up(self) -> bool {
        matches!(self, Up | StdbyUpWithUp)
    }
}

/// Column order of the table in docs/behaviour.md, "Status merge"; merge()
/// looks up the upper triangle.
fn rank(s: Status) -> u8 {
    match s {
        Up => 0,
        Down => 1,
        Warn => 2,
        NotApplicable => 3,
        Todo => 4,
        StdbyUp => 5,
        StdbyDown => 6,
        StdbyUpWithUp => 7,
        StdbyUpWithDown => 8,
        Undef => 9,
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Merge a sequence, starting from `Undef`.
pub(crate) fn merge_all(it: impl IntoIterator<Item = Status>) -> Status {
    it.into_iter().fold(Undef, Status::merge)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Status; 10] = [
        Up,
        Down,
        Warn,
        NotApplicable,
        Todo,
        Undef,
        StdbyUp,
        StdbyDown,
        StdbyUpWithUp,
        StdbyUpWithDown,
    ];

    #[test]
    fn merge_is_symmetric_and_undef_is_identity() {
        for a in ALL {
            assert_eq!(a.merge(Undef), a);
            for b in ALL {
                assert_eq!(a.merge(b), b.merge(a), "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn merge_table_rows_from_the_spec() {
        // (a, b, expected), one line per cell of the upper triangle of
        // docs/behaviour.md, "Status merge".
        let cells = [
            (Up, Up, Up),
            (Up, Down, Warn),
            (Up, Warn, Warn),
            (Up, NotApplicable, Up),
            (Up, Todo, Warn),
            (Up, StdbyUp, StdbyUpWithUp),
            (Up, StdbyDown, Warn),
            (Up, StdbyUpWithUp, StdbyUpWithUp),
            (Up, StdbyUpWithDown, Warn),
            (Down, Down, Down),
            (Down, Warn, Warn),
            (Down, NotApplicable, Down),
            (Down, Todo, Warn),
            (Down, StdbyUp, StdbyUpWithDown),
            (Down, StdbyDown, StdbyDown),
            (Down, StdbyUpWithUp, Warn),
            (Down, StdbyUpWithDown, StdbyUpWithDown),
            (Warn, Warn, Warn),
            (Warn, NotApplicable, Warn),
            (Warn, Todo, Warn),
            (Warn, StdbyUp, Warn),
            (Warn, StdbyDown, Warn),
            (Warn, StdbyUpWithUp, Warn),
            (Warn, StdbyUpWithDown, Warn),
            (NotApplicable, NotApplicable, NotApplicable),
            (NotApplicable, Todo, Warn),
            (NotApplicable, StdbyUp, StdbyUp),
            (NotApplicable, StdbyDown, StdbyDown),
            (NotApplicable, StdbyUpWithUp, StdbyUpWithUp),
            (NotApplicable, StdbyUpWithDown, StdbyUpWithDown),
            (Todo, Todo, Todo),
            (Todo, StdbyUp, Todo),
            (Todo, StdbyDown, Todo),
            (Todo, StdbyUpWithUp, Todo),
            (Todo, StdbyUpWithDown, Todo),
            (StdbyUp, StdbyUp, StdbyUp),
            (StdbyUp, StdbyDown, Warn),
            (StdbyUp, StdbyUpWithUp, StdbyUpWithUp),
            (StdbyUp, StdbyUpWithDown, StdbyUpWithDown),
            (StdbyDown, StdbyDown, StdbyDown),
            (StdbyDown, StdbyUpWithUp, Warn),
            (StdbyDown, StdbyUpWithDown, Warn),
            (StdbyUpWithUp, StdbyUpWithUp, StdbyUpWithUp),
            (StdbyUpWithUp, StdbyUpWithDown, Warn),
            (StdbyUpWithDown, StdbyUpWithDown, StdbyUpWithDown),
        ];
        for (a, b, want) in cells {
            assert_eq!(a.merge(b), want, "{a:?} + {b:?}");
        }
    }

    #[test]
    fn display_strings() {
        assert_eq!(StdbyUpWithUp.to_string(), "up");
        assert_eq!(StdbyUpWithDown.to_string(), "stdby up");
        assert_eq!(NotApplicable.to_string(), "n/a");
    }
}

/// Plain data for one resource row of `print status` / `json status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResourceStatus {
    pub rid: String,
    /// Status group: ip, disk, fs, app, sync, hb.
    pub group: &'static str,
    pub type_name: &'static str,
    pub label: String,
    pub status: Status,
    pub log: Vec<String>,
    pub monitor: bool,
    pub disable: bool,
    pub optional: bool,
    pub encap: bool,
}

/// The whole status of a service, ready to render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServiceStatus {
    pub name: String,
    /// In display order: disk, fs, ip, sync, app, hb.
    pub resources: Vec<ResourceStatus>,
    pub overall: Status,
    pub avail: Status,
    /// Group name → status, for every group (n/a when empty).
    pub groups: Vec<(&'static str, Status)>,
    pub frozen: bool,
}

pub(crate) const GROUPS: [&str; 6] = ["disk", "fs", "ip", "app", "sync", "hb"];

/// Group aggregation plus our overall rule (docs/behaviour.md, "Aggregation"): when
/// avail is down (or stdby down), overall is avail, whatever sync says.
pub(crate) fn aggregate(name: &str, resources: Vec<ResourceStatus>, frozen: bool) -> ServiceStatus {
    let set = |group: &str| {
        merge_all(
            resources
                .iter()
                .filter(|r| r.group == group && !r.disable && !r.encap)
                .map(|r| r.status),
        )
    };
    let mut groups: Vec<(&'static str, Status)> =
        GROUPS.iter().map(|g| (*g, NotApplicable)).collect();
    let mut avail = NotApplicable;
    for (g, st) in &mut groups {
        if matches!(*g, "sync" | "hb") {
            continue;
        }
        let s = set(g);
        *st = st.merge(s);
        avail = avail.merge(s);
    }
    match avail {
        StdbyUpWithUp => {
            avail = Up;
            for (_, st) in &mut groups {
                if st.as_str() == "stdby up" {
                    *st = Up;
                }
            }
        }
        StdbyUpWithDown => avail = StdbyUp,
        _ => {}
    }
    let mut overall = avail;
    for (g, st) in &mut groups {
        match *g {
            "hb" => {
                let s = set(g);
                *st = st.merge(s);
                overall = overall.merge(s);
            }
            "sync" => {
                let s = set(g);
                *st = st.merge(s);
                overall = overall.merge(match s {
                    Up => Undef,
                    NotApplicable | Undef | Todo => s,
                    _ => Warn,
                });
            }
            _ => {}
        }
    }
    if matches!(avail, Down | StdbyDown) {
        overall = avail;
    }
    ServiceStatus {
        name: name.to_string(),
        resources,
        overall,
        avail,
        groups,
        frozen,
    }
}

impl ServiceStatus {
    pub(crate) fn group(&self, name: &str) -> Status {
        self.groups
            .iter()
            .find(|(g, _)| *g == name)
            .map_or(NotApplicable, |(_, s)| *s)
    }
}

#[cfg(test)]
mod aggregate_tests {
    use super::*;

    fn res(rid: &str, group: &'static str, status: Status) -> ResourceStatus {
        ResourceStatus {
            rid: rid.into(),
            group,
            type_name: "x",
            label: String::new(),
            status,
            log: vec![],
            monitor: false,
            disable: false,
            optional: false,
            encap: false,
        }
    }

    #[test]
    fn tutorial_first_status_is_warn_everywhere() {
        let s = aggregate(
            "p26",
            vec![
                res("vg#0", "disk", Up),
                res("fs#0", "fs", Down),
                res("ip#0", "ip", Down),
                res("app", "app", NotApplicable),
                res("sync#i0", "sync", Warn),
            ],
            false,
        );
        assert_eq!(
            (s.overall, s.avail, s.group("sync"), s.group("hb")),
            (Warn, Warn, Warn, NotApplicable)
        );
    }

    #[test]
    fn up_with_sync_down_is_overall_warn() {
        let s = aggregate(
            "p26",
            vec![
                res("vg#0", "disk", Up),
                res("ip#0", "ip", Up),
                res("sync#i0", "sync", Down),
            ],
            false,
        );
        assert_eq!((s.overall, s.avail), (Warn, Up));
    }

    #[test]
    fn avail_down_makes_overall_down_whatever_sync_says() {
        let s = aggregate(
            "p26",
            vec![
                res("vg#0", "disk", Down),
                res("ip#0", "ip", Down),
                res("sync#i0", "sync", Down),
            ],
            false,
        );
        assert_eq!((s.overall, s.avail), (Down, Down));
    }

    #[test]
    fn hb_warn_makes_overall_warn() {
        let s = aggregate(
            "p26",
            vec![
                res("ip#0", "ip", Up),
                res("sync#i0", "sync", Up),
                res("hb#0", "hb", Warn),
            ],
            false,
        );
        assert_eq!((s.overall, s.avail, s.group("hb")), (Warn, Up, Warn));
    }

    #[test]
    fn disabled_resources_do_not_count() {
        let mut d = res("fs#0", "fs", NotApplicable);
        d.disable = true;
        let s = aggregate("p26", vec![res("ip#0", "ip", Up), d], false);
        assert_eq!((s.overall, s.group("fs")), (Up, NotApplicable));
    }
}
