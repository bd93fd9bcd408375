//! Sync scheduling keys (docs/behaviour.md, "sync"): interval, max_delay,
//! period, days.

/// Parsed scheduling keys of one sync resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Schedule {
    /// Minutes; 0 disables the sync.
    pub interval_min: u64,
    pub max_delay_min: u64,
    /// Allowed periods, `("HH:MM", "HH:MM")`, inclusive; may wrap past midnight.
    pub periods: Vec<(String, String)>,
    /// Allowed days, lower-case English names; empty means every day.
    pub days: Vec<String>,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            interval_min: 121,
            max_delay_min: 1500,
            periods: vec![("03:59".into(), "05:59".into())],
            days: Vec::new(),
        }
    }
}

/// A scheduling value that is not the JSON it must be; the caller names the
/// key in `malformed parameter value: <section>.<key>` (docs/behaviour.md,
/// "sync").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Malformed;

/// `sync_interval`, `sync_max_delay`: a JSON whole number of minutes.
pub(crate) fn parse_minutes(value: &str) -> Result<u64, Malformed> {
    match serde_json::from_str::<serde_json::Value>(value) {
        Ok(serde_json::Value::Number(n)) => n.as_u64().ok_or(Malformed),
        _ => Err(Malformed),
    }
}

/// `sync_period`: `["03:59","05:59"]` or a list of such pairs. Times are
/// normalised to `HH:MM` so that callers may compare them as strings.
pub(crate) fn parse_periods(value: &str) -> Result<Vec<(String, String)>, Malformed> {
    let json: serde_json::Value = serde_json::from_str(value).map_err(|_| Malformed)?;
    let serde_json::Value::Array(items) = json else {
        return Err(Malformed);
    };
    if items.iter().all(|i| i.is_string()) && !items.is_empty() {
        return period(&items).map(|p| vec![p]);
    }
    items
        .iter()
        .map(|i| match i {
            serde_json::Value::Array(pair) => period(pair),
            _ => Err(Malformed),
        })
        .collect()
}

fn period(pair: &[serde_json::Value]) -> Result<(String, String), Malformed> {
    match pair {
        [serde_json::Value::String(a), serde_json::Value::String(b)] => Ok((hh_mm(a)?, hh_mm(b)?)),
        _ => Err(Malformed),
    }
}

fn hh_mm(text: &str) -> Result<String, Malformed> {
    let (h, m) = text.trim().split_once(':').ok_or(Malformed)?;
    let digits = |s: &str| !s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(h) || m.len() != 2 || !digits(m) {
        return Err(Malformed);
    }
    let (h, m): (u32, u32) = (
        h.parse().map_err(|_| Malformed)?,
        m.parse().map_err(|_| Malformed)?,
    );
    if h > 23 || m > 59 {
        return Err(Malformed);
    }
    Ok(format!("{h:02}:{m:02}"))
}

const DAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// `sync_days`: a JSON list of English day names (any case), or one name.
pub(crate) fn parse_days(value: &str) -> Result<Vec<String>, Malformed> {
    let json: serde_json::Value = serde_json::from_str(value).map_err(|_| Malformed)?;
    let names: Vec<&str> = match &json {
        serde_json::Value::String(s) => vec![s.as_str()],
        serde_json::Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().ok_or(Malformed))
            .collect::<Result<_, _>>()?,
        _ => return Err(Malformed),
    };
    names
        .iter()
        .map(|n| {
            let n = n.trim().to_lowercase();
            if DAYS.contains(&n.as_str()) {
                Ok(n)
            } else {
                Err(Malformed)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_matches_the_reference() {
        let d = Schedule::default();
        assert_eq!(d.interval_min, 121);
        assert_eq!(d.max_delay_min, 1500);
        assert_eq!(d.periods, vec![("03:59".to_string(), "05:59".to_string())]);
        assert!(d.days.is_empty());
    }

    #[test]
    fn minutes_are_json_whole_numbers() {
        assert_eq!(parse_minutes("121"), Ok(121));
        assert_eq!(parse_minutes(" 0 "), Ok(0));
        assert_eq!(parse_minutes("-1"), Err(Malformed));
        assert_eq!(parse_minutes("1.5"), Err(Malformed));
        assert_eq!(parse_minutes("\"10\""), Err(Malformed));
        assert_eq!(parse_minutes("ten"), Err(Malformed));
    }

    #[test]
    fn one_period_or_a_list_of_periods() {
        let p = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(
            parse_periods(r#"["03:59","05:59"]"#),
            Ok(vec![p("03:59", "05:59")])
        );
        assert_eq!(
            parse_periods(r#"[["22:00","02:00"], ["9:05", "10:00"]]"#),
            Ok(vec![p("22:00", "02:00"), p("09:05", "10:00")])
        );
        assert_eq!(parse_periods("[]"), Ok(vec![]));
    }

    #[test]
    fn bad_periods_are_malformed() {
        for bad in [
            "03:59-05:59",
            r#"["03:59"]"#,
            r#"["03:59","05:59","06:00"]"#,
            r#"["24:00","05:59"]"#,
            r#"["03:60","05:59"]"#,
            r#"["0359","05:59"]"#,
            r#"["03:5","05:59"]"#,
            r#"[["03:59","05:59"], "x"]"#,
            r#"{"a": 1}"#,
        ] {
            assert_eq!(parse_periods(bad), Err(Malformed), "{bad}");
        }
    }

    #[test]
    fn days_are_lower_cased_english_names() {
        assert_eq!(
            parse_days(r#"["Monday", "sunday"]"#),
            Ok(vec!["monday".to_string(), "sunday".to_string()])
        );
        assert_eq!(parse_days(r#""friday""#), Ok(vec!["friday".to_string()]));
        assert_eq!(parse_days(r#"["mon"]"#), Err(Malformed));
        assert_eq!(parse_days("monday"), Err(Malformed));
    }
}
