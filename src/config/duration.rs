//! Durations read from config files, and the deadlines made from them.
//!
//! Every configured duration is bounded when it is read: `Duration`
//! conversions panic on overflow (`from_secs_f64(1e20)`), and so does
//! `Instant + Duration` past the clock's range. The daemon runs actions
//! in-process with `panic = "abort"`, so a value that panics later, maybe
//! one that arrived by replication, would take the node down. Refusing
//! it at validation keeps it out; [`deadline`] guards what is left (a
//! value from the command line, a bound that grows by arithmetic).

use std::time::{Duration, Instant};

/// The longest duration any config keyword accepts. A day is longer than
/// any heartbeat, timeout or launcher limit that makes sense, and small
/// enough that sums and products of a few of them stay far from overflow.
pub(crate) const MAX: Duration = Duration::from_secs(86_400);

/// Seconds as node.conf writes them: `2`, `0.5` or `2s`, from `min` to
/// `max` inclusive. The message says what was expected.
pub(crate) fn parse_secs(value: &str, min: Duration, max: Duration) -> Result<Duration, String> {
    let v = value.trim();
    let bad = || {
        format!(
            "'{v}' is not a number of seconds from {} to {} (e.g. 2, 0.5 or 2s)",
            min.as_secs_f64(),
            max.as_secs_f64()
        )
    };
    let secs: f64 = v
        .strip_suffix('s')
        .unwrap_or(v)
        .parse()
        .map_err(|_| bad())?;
    // Compared as f64 before converting: from_secs_f64 panics on values
    // out of its range, NaN and infinities fail every comparison.
    if !(secs >= min.as_secs_f64() && secs <= max.as_secs_f64()) {
        return Err(bad());
    }
    // A `max` near Duration::MAX rounds up as f64 and lets 2^64 through:
    // the checked conversion keeps the function total (found by fuzzing).
    Duration::try_from_secs_f64(secs).map_err(|_| bad())
}

/// `from + d`, or a day past `from` when that is beyond what `Instant`
/// can hold: a deadline too far away to reach is, in practice, never.
pub(crate) fn deadline(from: Instant, d: Duration) -> Instant {
    from.checked_add(d)
        .or_else(|| from.checked_add(MAX))
        .unwrap_or(from)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn seconds_with_or_without_unit() {
        assert_eq!(parse_secs("2", Duration::ZERO, MAX), Ok(2 * S));
        assert_eq!(parse_secs(" 0.5s ", Duration::ZERO, MAX), Ok(S / 2));
        assert_eq!(parse_secs("86400", Duration::ZERO, MAX), Ok(MAX));
    }

    #[test]
    fn out_of_range_and_junk_are_refused_without_panic() {
        for v in [
            "1e20",
            "1e19",
            "-1",
            "NaN",
            "inf",
            "-inf",
            "86401",
            "500ms",
            "abc",
            "",
            "1 s",
            "18446744073709551615",
        ] {
            let e = parse_secs(v, Duration::ZERO, MAX).unwrap_err();
            assert!(
                e.contains("is not a number of seconds from 0 to 86400"),
                "{v}: {e}"
            );
        }
        assert!(parse_secs("0.1", S / 2, 10 * S).is_err());
        // 2^64 s passes an f64 comparison with Duration::MAX (it rounds
        // to the same f64), then would not fit a Duration.
        assert!(parse_secs("18446744073709551615", Duration::ZERO, Duration::MAX).is_err());
    }

    #[test]
    fn deadlines_never_overflow() {
        let now = Instant::now();
        assert_eq!(deadline(now, S), now + S);
        assert_eq!(deadline(now, Duration::MAX), now + MAX);
    }
}
