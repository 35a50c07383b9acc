//! The hybrid logical clock that timestamps register writes.
//!
//! A timestamp is wall-clock milliseconds plus a logical counter (Kulkarni et
//! al., 2014). A local event is always later than everything this replica has
//! seen, even when the wall clock is behind a peer's or jumps backwards, and
//! events in the same millisecond stay ordered by the counter.

/// The latest wall time a timestamp may carry: 2^53 − 1 ms (JavaScript
/// numbers hold it exactly; it is some 285 000 years away). A faster wall
/// clock is read as this.
pub const MAX_WALL_MS: u64 = (1 << 53) - 1;

/// A point in hybrid logical time. Ordered by `wall`, then `logical`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    /// Milliseconds since the Unix epoch, as the wall clock (or a peer) said.
    pub wall: u64,
    /// Orders events that share a `wall` value.
    pub logical: u32,
}

/// A source of wall-clock milliseconds. Injectable so tests are deterministic.
pub trait WallClock {
    fn now_ms(&mut self) -> u64;
}

impl<F: FnMut() -> u64> WallClock for F {
    fn now_ms(&mut self) -> u64 {
        self()
    }
}

/// The system clock (not in the `no_std` wasm build: there the binding
/// supplies `Date.now()`).
#[cfg(not(feature = "bundle"))]
#[derive(Debug, Default)]
pub struct SystemClock;

#[cfg(not(feature = "bundle"))]
impl WallClock for SystemClock {
    fn now_ms(&mut self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    }
}

/// A hybrid logical clock: the latest timestamp this replica issued or saw.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Hlc {
    last: Timestamp,
}

impl Hlc {
    pub fn new() -> Self {
        Self::default()
    }

    /// A timestamp for a local event, later than every one issued or seen;
    /// `None`, changing nothing, when none is left (a peer's forged
    /// timestamp at the very end of time was seen).
    pub fn tick(&mut self, now_ms: u64) -> Option<Timestamp> {
        let now_ms = now_ms.min(MAX_WALL_MS);
        if now_ms > self.last.wall {
            self.last = Timestamp { wall: now_ms, logical: 0 };
        } else if self.last.logical == u32::MAX {
            if self.last.wall >= MAX_WALL_MS {
                return None;
            }
            // The counter is spent for this millisecond: borrow the next one.
            self.last = Timestamp { wall: self.last.wall + 1, logical: 0 };
        } else {
            self.last.logical += 1;
        }
        Some(self.last)
    }

    /// Records a timestamp seen from a peer, so later local events order after it.
    pub fn observe(&mut self, seen: Timestamp) {
        if seen > self.last {
            self.last = seen;
        }
    }

    /// The document's notion of "now" in milliseconds: the wall clock, never
    /// earlier than the latest timestamp seen.
    pub fn now(&self, now_ms: u64) -> u64 {
        now_ms.min(MAX_WALL_MS).max(self.last.wall)
    }

    pub fn last(&self) -> Timestamp {
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn same_millisecond_events_stay_ordered() {
        let mut c = Hlc::new();
        let a = c.tick(100).unwrap();
        let b = c.tick(100).unwrap();
        let d = c.tick(100).unwrap();
        assert!(a < b && b < d);
        assert_eq!(d, Timestamp { wall: 100, logical: 2 });
    }

    #[test]
    fn a_clock_behind_a_peer_still_writes_later() {
        let mut c = Hlc::new();
        c.observe(Timestamp { wall: 10_000, logical: 7 });
        let t = c.tick(5).unwrap();
        assert!(t > Timestamp { wall: 10_000, logical: 7 });
    }

    #[test]
    fn a_spent_logical_counter_moves_to_the_next_millisecond() {
        let mut c = Hlc::new();
        c.observe(Timestamp { wall: 7, logical: u32::MAX });
        assert_eq!(c.tick(7), Some(Timestamp { wall: 8, logical: 0 }));
    }

    #[test]
    fn time_ends_at_2_53_ms_and_then_local_events_are_refused() {
        let mut c = Hlc::new();
        assert_eq!(c.tick(u64::MAX), Some(Timestamp { wall: MAX_WALL_MS, logical: 0 }));
        c.observe(Timestamp { wall: MAX_WALL_MS, logical: u32::MAX });
        assert_eq!(c.tick(u64::MAX), None);
        assert_eq!(c.last(), Timestamp { wall: MAX_WALL_MS, logical: u32::MAX });
    }

    proptest! {
        /// Under any skew and any interleaving of local events and
        /// observations, each local timestamp is later than all before it.
        #[test]
        fn local_events_are_later_than_everything_seen(
            events in prop::collection::vec((any::<bool>(), 0u64..1_000, 0u32..5), 1..200)
        ) {
            let mut c = Hlc::new();
            let mut latest = Timestamp::default();
            for (local, wall, logical) in events {
                if local {
                    let t = c.tick(wall).unwrap();
                    prop_assert!(t > latest);
                    latest = t;
                } else {
                    let seen = Timestamp { wall, logical };
                    c.observe(seen);
                    latest = latest.max(seen);
                }
            }
        }
    }
}
