//! Sync scheduling keys (spec §5.6): interval, max_delay, period, days.

/// Parsed scheduling keys of one sync resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
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
