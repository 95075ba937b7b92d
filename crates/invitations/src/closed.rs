//! Which positions of an account's invitation log hold an invitation closed
//! for good: accepted, cancelled, declined, or a draft that never became
//! reachable. Kept as ranges in the account's seat ledger and written by the
//! same swap that gives the seat back, so it costs no write of its own.
//!
//! A list of pending (or expired) invitations steps over these positions
//! without reading them: the newest pending page of an account whose history
//! is all answered reads one entry, not three batches of closed ones.
//!
//! A position is added only after its invitation's own compare-and-swap
//! closed it for good, so a position here is never one a pending list must
//! show. A position missing is only read: the ranges are capped at
//! [`ClosedPositions::MAX_RANGES`] (the oldest go first), and an account's
//! history from before they existed has none.

use serde::{Deserialize, Serialize};

/// Sorted, disjoint, non-adjacent inclusive ranges of positions.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClosedPositions(Vec<(i64, i64)>);

impl ClosedPositions {
    /// About 20 bytes each in the ledger.
    pub const MAX_RANGES: usize = 256;

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn ranges(&self) -> usize {
        self.0.len()
    }

    pub fn insert(&mut self, position: i64) {
        if position < 1 {
            return;
        }
        // The first range that ends at or after the position before it.
        let i = self.0.partition_point(|&(_, hi)| hi < position - 1);
        match self.0.get(i).copied() {
            Some((lo, hi)) if lo <= position && position <= hi => return,
            Some((lo, hi)) if lo == position + 1 => self.0[i] = (position, hi),
            Some((lo, hi)) if hi == position - 1 => {
                self.0[i] = (lo, position);
                // It may now touch the next range.
                if let Some(&(next_lo, next_hi)) = self.0.get(i + 1) {
                    if next_lo == position + 1 {
                        self.0[i] = (lo, next_hi);
                        self.0.remove(i + 1);
                    }
                }
            }
            _ => self.0.insert(i, (position, position)),
        }
        let excess = self.0.len().saturating_sub(Self::MAX_RANGES);
        self.0.drain(..excess);
    }

    pub fn contains(&self, position: i64) -> bool {
        let i = self.0.partition_point(|&(_, hi)| hi < position);
        self.0.get(i).is_some_and(|&(lo, _)| lo <= position)
    }

    /// The highest position at or below `position` not known closed; 0 when
    /// there is none.
    pub fn open_at_or_below(&self, position: i64) -> i64 {
        let i = self.0.partition_point(|&(_, hi)| hi < position);
        match self.0.get(i) {
            Some(&(lo, _)) if lo <= position => lo - 1,
            _ => position,
        }
        .max(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(positions: &[i64]) -> ClosedPositions {
        let mut c = ClosedPositions::default();
        for &p in positions {
            c.insert(p);
        }
        c
    }

    #[test]
    fn positions_merge_into_ranges_in_any_order() {
        assert_eq!(of(&[3, 1, 2]).0, vec![(1, 3)]);
        assert_eq!(of(&[5, 1, 3]).0, vec![(1, 1), (3, 3), (5, 5)]);
        assert_eq!(of(&[5, 1, 3, 2, 4]).0, vec![(1, 5)]);
        assert_eq!(of(&[7, 8, 2, 2, 0, -1]).0, vec![(2, 2), (7, 8)]);
    }

    #[test]
    fn stepping_down_skips_closed_ranges() {
        let c = of(&[2, 3, 4, 6, 9, 10]);
        assert_eq!(c.open_at_or_below(12), 12);
        assert_eq!(c.open_at_or_below(10), 8);
        assert_eq!(c.open_at_or_below(8), 8);
        assert_eq!(c.open_at_or_below(7), 7);
        assert_eq!(c.open_at_or_below(6), 5);
        assert_eq!(c.open_at_or_below(4), 1);
        assert_eq!(of(&[1, 2]).open_at_or_below(2), 0);
        assert!(c.contains(3) && c.contains(9) && !c.contains(5) && !c.contains(11));
    }

    #[test]
    fn past_the_cap_the_oldest_ranges_go() {
        let c = of(&(1..=600).map(|i| i * 2).collect::<Vec<_>>());
        assert_eq!(c.ranges(), ClosedPositions::MAX_RANGES);
        assert!(!c.contains(2));
        assert!(c.contains(1200));
    }

    #[test]
    fn ranges_agree_with_a_set_of_positions() {
        // Every insertion order of a few positions gives ranges that contain
        // exactly those positions.
        let mut seed = 7u64;
        for _ in 0..500 {
            let mut set = std::collections::BTreeSet::new();
            let mut c = ClosedPositions::default();
            for _ in 0..20 {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let p = (seed >> 33) as i64 % 30 + 1;
                set.insert(p);
                c.insert(p);
            }
            for p in 0..=31 {
                assert_eq!(c.contains(p), set.contains(&p), "{p} in {:?}", c.0);
            }
            for w in c.0.windows(2) {
                assert!(w[0].1 + 1 < w[1].0, "{:?}", c.0);
            }
        }
    }
}
