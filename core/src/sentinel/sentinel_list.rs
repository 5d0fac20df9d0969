//! The sentinels the machine knows, in the order it asks them: configured ones first, those
//! learned from `SENTINEL sentinels` and `+sentinel` after; an answering sentinel moves to the
//! front, one whose answer did not hold up to the back.

use super::interface::Addr;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// Most sentinels the machine keeps (configured ones always count); real deployments have a
/// handful.
pub(crate) const MAX_SENTINELS: usize = 64;

/// Known sentinels and when to refresh the list.
#[derive(Debug)]
pub(crate) struct SentinelList {
    order: Vec<Addr>,
    /// The configured ones are never dropped.
    configured: BTreeSet<Addr>,
    /// When the next walk also asks `SENTINEL sentinels` (clients only).
    refresh_at: Option<Instant>,
    /// Addresses connections to a known sentinel actually reached (a configured host name's
    /// IP), to the name it is known by: announcements of them are not new sentinels.
    aliases: std::collections::BTreeMap<Addr, Addr>,
}

impl SentinelList {
    /// The configured sentinels; `refresh_at` is when the list is first refreshed, if ever.
    pub(crate) fn new(configured: &[Addr], refresh_at: Option<Instant>) -> SentinelList {
        SentinelList {
            order: configured.to_vec(),
            configured: configured.iter().cloned().collect(),
            refresh_at,
            aliases: std::collections::BTreeMap::new(),
        }
    }

    /// Every known sentinel, in asking order.
    pub(crate) fn list(&self) -> &[Addr] {
        &self.order
    }

    /// The sentinel at `i` in asking order.
    pub(crate) fn get(&self, i: usize) -> Option<&Addr> {
        self.order.get(i)
    }

    /// How many are known.
    pub(crate) fn len(&self) -> usize {
        self.order.len()
    }

    /// True when `a` is known.
    pub(crate) fn contains(&self, a: &Addr) -> bool {
        self.order.contains(a)
    }

    /// The position of `a` in asking order.
    pub(crate) fn position(&self, a: &Addr) -> Option<usize> {
        self.order.iter().position(|s| s == a)
    }

    /// True when `a` came from the configuration.
    pub(crate) fn is_configured(&self, a: &Addr) -> bool {
        self.configured.contains(a)
    }

    /// The sentinel at `i` answered: ask it first from now on.
    pub(crate) fn move_to_front(&mut self, i: usize) {
        if i < self.order.len() {
            let s = self.order.remove(i);
            self.order.insert(0, s);
        }
    }

    /// `a`'s answer did not hold up: ask it last.
    pub(crate) fn move_to_back(&mut self, a: &Addr) {
        if let Some(pos) = self.position(a) {
            let s = self.order.remove(pos);
            self.order.push(s);
        }
    }

    /// Learns a sentinel; false when it was known (under that address or as an alias), or
    /// when [`MAX_SENTINELS`] are known already (a sentinel announcing thousands of others
    /// must not make the client open a connection to each).
    pub(crate) fn add(&mut self, a: Addr) -> bool {
        if self.contains(&a) || self.aliases.contains_key(&a) || self.order.len() >= MAX_SENTINELS {
            return false;
        }
        self.order.push(a);
        true
    }

    /// `resolved` is where a connection to the sentinel known as `known` arrived. True when
    /// `resolved` was listed as a separate, discovered sentinel (the caller drops it).
    pub(crate) fn alias(&mut self, resolved: Addr, known: Addr) -> bool {
        if !self.contains(&known) || self.is_configured(&resolved) {
            return false;
        }
        self.aliases.insert(resolved.clone(), known);
        self.contains(&resolved)
    }

    /// Forgets the sentinel at `pos`.
    pub(crate) fn remove_at(&mut self, pos: usize) {
        if pos < self.order.len() {
            self.order.remove(pos);
        }
    }

    /// True when the walk starting at `now` should also ask `SENTINEL sentinels`; the next
    /// refresh is then `interval` later.
    pub(crate) fn refresh_due(&mut self, now: Instant, interval: Duration) -> bool {
        if self.refresh_at.is_some_and(|t| t <= now) {
            self.refresh_at = Some(now + interval);
            return true;
        }
        false
    }

    /// Stops refreshing (the machine closed).
    pub(crate) fn stop_refreshing(&mut self) {
        self.refresh_at = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_moves_and_configured_are_remembered() {
        let a = |s: &str| -> Addr { s.parse().unwrap() };
        let mut l = SentinelList::new(&[a("s1:1"), a("s2:1")], None);
        assert!(l.add(a("s3:1")) && !l.add(a("s1:1")));
        l.move_to_front(2);
        assert_eq!(l.list(), &[a("s3:1"), a("s1:1"), a("s2:1")]);
        l.move_to_back(&a("s3:1"));
        assert_eq!(l.get(0), Some(&a("s1:1")));
        assert!(l.is_configured(&a("s1:1")) && !l.is_configured(&a("s3:1")));
        l.remove_at(2);
        assert_eq!(l.len(), 2);
        let mut big = SentinelList::new(&[], None);
        let added = (0..1000u16)
            .filter(|i| big.add(Addr::new("10.0.0.1", 1000 + i)))
            .count();
        assert_eq!(
            added, MAX_SENTINELS,
            "announcements cannot grow the list without bound"
        );
        let now = Instant::now();
        let mut r = SentinelList::new(&[], Some(now));
        assert!(r.refresh_due(now, Duration::from_secs(30)));
        assert!(!r.refresh_due(now + Duration::from_secs(29), Duration::from_secs(30)));
        assert!(r.refresh_due(now + Duration::from_secs(30), Duration::from_secs(30)));
    }
}
