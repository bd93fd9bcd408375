//! This node's services as its monitor last probed them, with a count of
//! the changes made to them.
//!
//! Why a count: every beat of every heartbeat sends the digest of the
//! services part, and the part is serialized and hashed again only when
//! what it is made of changed (state.rs, `memo_part`). Comparing a
//! thousand services with a copy of them kept for that, twice a second,
//! was a few percent of an idle daemon's CPU, and the copy was 0.3 MB.
//! Every change goes through the methods below, which count it; reading
//! goes through `Deref`, which cannot change anything.

use std::collections::BTreeMap;
use std::ops::Deref;

/// By service name, each one's `S` (state.rs: `ServiceData`).
#[derive(Debug, Clone)]
pub(crate) struct LocalServices<S> {
    map: BTreeMap<String, S>,
    /// Bumped by every change of `map`, never by a write of the same value.
    changes: u64,
}

impl<S> Default for LocalServices<S> {
    fn default() -> Self {
        LocalServices {
            map: BTreeMap::new(),
            changes: 0,
        }
    }
}

impl<S: PartialEq> LocalServices<S> {
    /// How many changes were made so far: equal counts, same services.
    pub(crate) fn changes(&self) -> u64 {
        self.changes
    }

    /// Sets a service's entry; a change only when it differs.
    pub(crate) fn put(&mut self, name: String, data: S) {
        if self.map.get(&name) != Some(&data) {
            self.map.insert(name, data);
            self.changes += 1;
        }
    }

    /// Keeps the services `keep` says yes to.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        let before = self.map.len();
        self.map.retain(|name, _| keep(name));
        if self.map.len() != before {
            self.changes += 1;
        }
    }

    /// Changes one field of a service's entry through `set`, which
    /// returns whether it changed anything; nothing when there is no such
    /// service.
    pub(crate) fn modify(&mut self, name: &str, set: impl FnOnce(&mut S) -> bool) {
        if let Some(s) = self.map.get_mut(name)
            && set(s)
        {
            self.changes += 1;
        }
    }
}

impl<S> Deref for LocalServices<S> {
    type Target = BTreeMap<String, S>;
    fn deref(&self) -> &Self::Target {
        &self.map
    }
}

/// The same services, whatever changes it took to get there.
impl<S: PartialEq> PartialEq for LocalServices<S> {
    fn eq(&self, other: &Self) -> bool {
        self.map == other.map
    }
}

impl<S> From<BTreeMap<String, S>> for LocalServices<S> {
    fn from(map: BTreeMap<String, S>) -> LocalServices<S> {
        LocalServices { map, changes: 0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_change_is_counted_and_a_same_value_write_is_not() {
        let mut s = LocalServices::default();
        s.put("a".into(), "up".to_string());
        assert_eq!(s.changes(), 1);
        s.put("a".into(), "up".to_string());
        assert_eq!(s.changes(), 1, "the same entry again");
        s.put("a".into(), "down".to_string());
        assert_eq!(s.changes(), 2);
        s.modify("a", |d| {
            d.push('!');
            true
        });
        assert_eq!(s.changes(), 3);
        assert_eq!(s["a"], "down!");
        s.modify("nope", |_| true);
        assert_eq!(s.changes(), 3, "no such service");
        s.retain(|n| n == "a");
        assert_eq!(s.changes(), 3, "nothing removed");
        s.retain(|_| false);
        assert_eq!((s.changes(), s.len()), (4, 0));
    }
}
