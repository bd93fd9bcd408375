//! Resource and service status values and the merge table (spec §6.1).

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Up,
    Down,
    Warn,
    NotApplicable,
    Todo,
    Undef,
    StdbyUp,
    StdbyDown,
    /// Internal: standby up merged with up. Displays as `up`.
    StdbyUpWithUp,
    /// Internal: standby up merged with down. Displays as `stdby up`.
    StdbyUpWithDown,
}

use Status::*;

impl Status {
    pub fn as_str(self) -> &'static str {
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
    pub fn exit_code(self) -> i32 {
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
    pub fn merge(self, other: Status) -> Status {
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
    pub fn is_up(self) -> bool {
        matches!(self, Up | StdbyUpWithUp)
    }
}

/// Column order of the table in spec §6.1; merge() looks up the upper triangle.
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
pub fn merge_all(it: impl IntoIterator<Item = Status>) -> Status {
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
        // (a, b, expected), one line per cell of spec §6.1's upper triangle.
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
