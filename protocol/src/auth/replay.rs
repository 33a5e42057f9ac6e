//! The replay cache: (key id, nonce) pairs seen within the clock window, in a fixed
//! capacity, and a floor below which nothing is accepted.

use heapless::Vec;

use super::error::AuthError;
use super::keys::KeyId;

#[derive(Debug, Clone, Copy)]
struct Entry {
    kid: KeyId,
    tag: [u8; 16],
    ts: u64,
}

/// Up to `N` nonces accepted within the window, and a floor.
///
/// Every entry that leaves the cache — the one with the smallest `ts` when the cache is full,
/// or one whose `ts` has left the window — raises the floor to its `ts`, and a frame whose
/// `ts` is at or below the floor is refused. So no nonce is ever accepted twice whatever `N`:
/// one still cached is found, one evicted is at or below the floor, one expired is `stale`
/// (and at or below the floor, should the clock step back). The price of a small `N` is that
/// under a burst of more than `N` frames within the window, a late frame whose `ts` is older
/// than the evicted ones is refused although it is new.
#[derive(Debug, Clone)]
pub struct ReplayCache<const N: usize> {
    entries: Vec<Entry, N>,
    floor: Option<u64>,
}

impl<const N: usize> Default for ReplayCache<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> ReplayCache<N> {
    /// An empty cache with no floor.
    pub const fn new() -> Self {
        ReplayCache {
            entries: Vec::new(),
            floor: None,
        }
    }

    /// The `ts` at or below which every frame is refused, once an entry has left.
    pub const fn floor(&self) -> Option<u64> {
        self.floor
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Refuses (`replayed`) a `ts` at or below the floor or a (kid, tag) already held;
    /// otherwise records it. Entries more than `skew_ms` before `now_ms` are dropped first.
    pub fn check_and_insert(
        &mut self,
        kid: &KeyId,
        tag: &[u8; 16],
        ts: u64,
        now_ms: u64,
        skew_ms: u64,
    ) -> Result<(), AuthError> {
        if self.floor.is_some_and(|floor| ts <= floor) {
            return Err(AuthError::Replayed);
        }
        if self.entries.iter().any(|e| e.kid == *kid && e.tag == *tag) {
            return Err(AuthError::Replayed);
        }
        let oldest_kept = now_ms.saturating_sub(skew_ms);
        let mut i = 0;
        while let Some(entry) = self.entries.get(i) {
            if entry.ts < oldest_kept {
                let gone = self.entries.swap_remove(i);
                self.raise(gone.ts);
            } else {
                i += 1;
            }
        }
        let entry = Entry {
            kid: *kid,
            tag: *tag,
            ts,
        };
        if self.entries.is_full() {
            let oldest = self
                .entries
                .iter()
                .enumerate()
                .min_by_key(|(_, e)| e.ts)
                .map(|(i, _)| i);
            if let Some(i) = oldest {
                let gone = self.entries.swap_remove(i);
                self.raise(gone.ts);
            }
        }
        if let Err(entry) = self.entries.push(entry) {
            // Capacity 0: the entry leaves at once.
            self.raise(entry.ts);
        }
        Ok(())
    }

    fn raise(&mut self, ts: u64) {
        self.floor = Some(self.floor.map_or(ts, |floor| floor.max(ts)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K: KeyId = KeyId([1; 8]);

    fn tag(n: u8) -> [u8; 16] {
        [n; 16]
    }

    #[test]
    fn refuses_a_nonce_seen_and_accepts_others() {
        let mut c = ReplayCache::<4>::new();
        assert_eq!(c.check_and_insert(&K, &tag(1), 100, 100, 30), Ok(()));
        assert_eq!(
            c.check_and_insert(&K, &tag(1), 100, 100, 30),
            Err(AuthError::Replayed)
        );
        assert_eq!(
            c.check_and_insert(&KeyId([2; 8]), &tag(1), 100, 100, 30),
            Ok(())
        );
        assert_eq!(c.len(), 2);
        assert_eq!(c.floor(), None);
    }

    #[test]
    fn full_cache_evicts_the_oldest_and_raises_the_floor() {
        let mut c = ReplayCache::<2>::new();
        c.check_and_insert(&K, &tag(1), 50, 60, 1000).unwrap();
        c.check_and_insert(&K, &tag(2), 40, 60, 1000).unwrap();
        c.check_and_insert(&K, &tag(3), 55, 60, 1000).unwrap();
        assert_eq!(c.floor(), Some(40));
        assert_eq!(
            c.check_and_insert(&K, &tag(2), 40, 60, 1000),
            Err(AuthError::Replayed)
        );
        assert_eq!(
            c.check_and_insert(&K, &tag(9), 39, 60, 1000),
            Err(AuthError::Replayed)
        );
        c.check_and_insert(&K, &tag(4), 41, 60, 1000).unwrap();
        assert_eq!(c.floor(), Some(50));
        assert_eq!(
            c.check_and_insert(&K, &tag(1), 50, 60, 1000),
            Err(AuthError::Replayed)
        );
    }

    #[test]
    fn expired_entries_leave_and_raise_the_floor() {
        let mut c = ReplayCache::<8>::new();
        c.check_and_insert(&K, &tag(1), 1_000, 1_000, 100).unwrap();
        c.check_and_insert(&K, &tag(2), 1_200, 1_200, 100).unwrap();
        assert_eq!((c.len(), c.floor()), (1, Some(1_000)));
        // The clock stepped back: the expired nonce is still refused.
        assert_eq!(
            c.check_and_insert(&K, &tag(1), 1_000, 1_000, 100),
            Err(AuthError::Replayed)
        );
    }

    #[test]
    fn capacity_zero_accepts_only_rising_ts() {
        let mut c = ReplayCache::<0>::new();
        c.check_and_insert(&K, &tag(1), 10, 10, 100).unwrap();
        assert_eq!(
            c.check_and_insert(&K, &tag(2), 10, 10, 100),
            Err(AuthError::Replayed)
        );
        c.check_and_insert(&K, &tag(2), 11, 11, 100).unwrap();
    }
}
