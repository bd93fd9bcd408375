//! When a sync resource is due (docs/behaviour.md, "sync"): the push's
//! schedule check of each peer (`sync_interval`, `sync_days`,
//! `sync_period`), and the status's staleness check (`sync_max_delay`).
//! Pure functions of the local time and the peer's last stamp.

use chrono::{Datelike, NaiveDateTime, TimeDelta, Timelike};

use super::py_list;
use crate::config::Schedule;

/// A stamp older than `max_delay_min` minutes, or none, needs a new sync.
pub(super) fn is_stale(
    stamp: Option<NaiveDateTime>,
    now: NaiveDateTime,
    max_delay_min: u64,
) -> bool {
    let max = TimeDelta::try_minutes(i64::try_from(max_delay_min).unwrap_or(i64::MAX))
        .unwrap_or(TimeDelta::MAX);
    match stamp {
        None => true,
        Some(ts) => now.signed_duration_since(ts) > max,
    }
}

/// What the schedule says about one peer.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    Go,
    /// Go, and say so: the peer never received this resource.
    NoStamp,
    Skip(String),
}

/// The schedule check of one peer (docs/behaviour.md, "sync"), as a pure
/// function of the local time and the peer's last sync.
pub(super) fn verdict(s: &Schedule, last: Option<NaiveDateTime>, now: NaiveDateTime) -> Verdict {
    if s.interval_min == 0 {
        return Verdict::Skip("skip sync: disabled by sync_interval = 0".into());
    }
    if !in_days(&s.days, now) {
        return Verdict::Skip(format!(
            "skip sync: not in allowed days ({})",
            py_list(&s.days)
        ));
    }
    if !in_periods(&s.periods, now) {
        return Verdict::Skip(format!(
            "skip sync: not in allowed period ({})",
            periods_repr(&s.periods)
        ));
    }
    let Some(last) = last else {
        return Verdict::NoStamp;
    };
    let interval = TimeDelta::try_minutes(i64::try_from(s.interval_min).unwrap_or(i64::MAX))
        .unwrap_or(TimeDelta::MAX);
    if now.signed_duration_since(last) < interval {
        Verdict::Skip(format!("skip sync: too soon ({})", s.interval_min))
    } else {
        Verdict::Go
    }
}

/// No days listed means every day.
fn in_days(days: &[String], now: NaiveDateTime) -> bool {
    let today = day_name(now);
    days.is_empty() || days.iter().any(|d| d.eq_ignore_ascii_case(today))
}

fn day_name(now: NaiveDateTime) -> &'static str {
    match now.weekday() {
        chrono::Weekday::Mon => "monday",
        chrono::Weekday::Tue => "tuesday",
        chrono::Weekday::Wed => "wednesday",
        chrono::Weekday::Thu => "thursday",
        chrono::Weekday::Fri => "friday",
        chrono::Weekday::Sat => "saturday",
        chrono::Weekday::Sun => "sunday",
    }
}

/// Inside one of the periods, to the minute, bounds included; a period
/// whose end comes before its start wraps past midnight. 1.5 crashed on an
/// empty list; here it means no restriction.
fn in_periods(periods: &[(String, String)], now: NaiveDateTime) -> bool {
    let m = now.hour() * 60 + now.minute();
    periods.is_empty()
        || periods.iter().any(|(a, b)| match (minutes(a), minutes(b)) {
            (Some(a), Some(b)) if a <= b => a <= m && m <= b,
            (Some(a), Some(b)) => m >= a || m <= b,
            _ => false,
        })
}

fn minutes(hh_mm: &str) -> Option<u32> {
    let (h, m) = hh_mm.split_once(':')?;
    Some(h.trim().parse::<u32>().ok()? * 60 + m.trim().parse::<u32>().ok()?)
}

/// One period prints as a pair, several as a list of pairs (1.5 printed
/// the config value).
fn periods_repr(periods: &[(String, String)]) -> String {
    if let [(a, b)] = periods {
        py_list(&[a, b])
    } else {
        let pairs: Vec<String> = periods.iter().map(|(a, b)| py_list(&[a, b])).collect();
        format!("[{}]", pairs.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{in_period, out_of_period, ts};
    use super::*;

    fn now() -> NaiveDateTime {
        ts("2014-02-17 16:52:37.000000")
    }

    #[test]
    fn staleness_uses_max_delay_minutes() {
        let n = now();
        assert!(is_stale(None, n, 1500));
        assert!(!is_stale(Some(n - TimeDelta::minutes(1500)), n, 1500));
        assert!(is_stale(
            Some(n - TimeDelta::minutes(1500) - TimeDelta::microseconds(1)),
            n,
            1500
        ));
        assert!(!is_stale(Some(n + TimeDelta::minutes(10)), n, 1500));
        assert!(!is_stale(Some(n - TimeDelta::days(10000)), n, u64::MAX));
    }

    fn sched(periods: &[(&str, &str)], days: &[&str]) -> Schedule {
        Schedule {
            periods: periods
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            days: days.iter().map(|d| d.to_string()).collect(),
            ..Schedule::default()
        }
    }

    fn at(hh_mm_ss: &str) -> NaiveDateTime {
        ts(&format!("2014-02-17 {hh_mm_ss}"))
    }

    #[test]
    fn the_fixed_times_are_what_the_tests_think() {
        assert_eq!(day_name(in_period()), "monday");
        assert_eq!(day_name(ts("2014-02-23 00:00:00")), "sunday");
    }

    #[test]
    fn periods_are_inclusive_to_the_minute() {
        let p = sched(&[("03:59", "05:59")], &[]).periods;
        assert!(!in_periods(&p, at("03:58:59")));
        assert!(in_periods(&p, at("03:59:00")));
        assert!(in_periods(&p, at("05:59:59")));
        assert!(!in_periods(&p, at("06:00:00")));
        assert!(!in_periods(&p, at("17:20:37")));
    }

    #[test]
    fn periods_wrap_past_midnight() {
        let p = sched(&[("23:00", "01:00")], &[]).periods;
        assert!(in_periods(&p, at("23:00:00")));
        assert!(in_periods(&p, at("23:59:59")));
        assert!(in_periods(&p, at("00:00:00")));
        assert!(in_periods(&p, at("01:00:30")));
        assert!(!in_periods(&p, at("01:01:00")));
        assert!(!in_periods(&p, at("22:59:00")));
        assert!(!in_periods(&p, at("12:00:00")));
    }

    #[test]
    fn any_of_several_periods_will_do() {
        let p = sched(&[("03:59", "05:59"), ("22:00", "23:00")], &[]).periods;
        assert!(in_periods(&p, at("04:00:00")));
        assert!(in_periods(&p, at("22:30:00")));
        assert!(!in_periods(&p, at("12:00:00")));
        assert!(in_periods(&[], at("12:00:00")), "no period: any time");
        // A single-minute period.
        let one = sched(&[("12:00", "12:00")], &[]).periods;
        assert!(in_periods(&one, at("12:00:59")));
        assert!(!in_periods(&one, at("12:01:00")));
    }

    #[test]
    fn days_are_english_lower_case_names() {
        let monday = in_period();
        assert!(in_days(&[], monday));
        assert!(in_days(&["monday".into(), "friday".into()], monday));
        assert!(!in_days(&["tuesday".into()], monday));
        assert!(!in_days(&["friday".into()], monday + TimeDelta::days(1)));
    }

    #[test]
    fn verdicts_in_reference_order_with_python_reprs() {
        let now = out_of_period();
        let skip = |s: &str| Verdict::Skip(s.to_string());
        let mut s = Schedule::default();
        assert_eq!(
            verdict(&s, None, now),
            skip("skip sync: not in allowed period (['03:59', '05:59'])")
        );
        s.periods = sched(&[("03:59", "05:59"), ("22:00", "23:00")], &[]).periods;
        assert_eq!(
            verdict(&s, None, now),
            skip("skip sync: not in allowed period ([['03:59', '05:59'], ['22:00', '23:00']])")
        );
        s.days = vec!["tuesday".into(), "friday".into()];
        assert_eq!(
            verdict(&s, None, now),
            skip("skip sync: not in allowed days (['tuesday', 'friday'])")
        );
        s.interval_min = 0;
        assert_eq!(
            verdict(&s, None, now),
            skip("skip sync: disabled by sync_interval = 0")
        );
        let s = Schedule::default();
        let now = in_period();
        assert_eq!(verdict(&s, None, now), Verdict::NoStamp);
        assert_eq!(
            verdict(&s, Some(now - TimeDelta::minutes(120)), now),
            skip("skip sync: too soon (121)")
        );
        assert_eq!(
            verdict(&s, Some(now + TimeDelta::minutes(5)), now),
            skip("skip sync: too soon (121)"),
            "a stamp from the future is not old enough"
        );
        assert_eq!(
            verdict(&s, Some(now - TimeDelta::minutes(121)), now),
            Verdict::Go
        );
        assert_eq!(
            verdict(&s, Some(now - TimeDelta::days(3)), now),
            Verdict::Go
        );
    }
}
