//! The counter: one slot per client, merged by pointwise maximum.
//!
//! Each client only ever writes its own slot, a pair `(p, n)` of increments and
//! decrements that only grow. Two tabs that both click "+1" write two different
//! slots, so nothing is lost; the value is `Σp − Σn`. Merging takes the maximum
//! of each slot, which is commutative, associative and idempotent, and a late
//! or duplicated update can never move a counter backwards.
//!
//! ```
//! use slotkv::{ClientId, Counter};
//! let (a, b) = (ClientId::new("a").unwrap(), ClientId::new("b").unwrap());
//! let mut x = Counter::default();
//! x.increment(&a, 5, 1).unwrap();
//! let mut y = x.clone();
//! x.increment(&a, 1, 2).unwrap();
//! y.increment(&b, 1, 1).unwrap();
//! x.merge(&y);
//! assert_eq!(x.value(), 7);
//! ```

use crate::client::ClientId;
use crate::error::Error;
use crate::prelude::*;
use crate::small_map::SmallMap;

/// The largest integer JavaScript numbers hold exactly: 2^53 − 1.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// One client's contribution to one counter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Slot {
    /// Sum of this client's increments.
    pub p: u64,
    /// Sum of this client's decrements (as a positive number).
    pub n: u64,
    /// The seq of this client's latest change to the slot: the slot is sent to
    /// peers that have not seen that dot.
    pub seq: u64,
}

impl Slot {
    /// The client's net contribution, `p − n`.
    pub fn net(&self) -> i64 {
        self.p as i64 - self.n as i64
    }

    /// Pointwise maximum. Returns whether `self` changed.
    pub fn merge(&mut self, other: &Slot) -> bool {
        let merged = Slot { p: self.p.max(other.p), n: self.n.max(other.n), seq: self.seq.max(other.seq) };
        let changed = merged != *self;
        *self = merged;
        changed
    }
}

/// A counter: the sum of per-client slots.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counter {
    slots: SmallMap<ClientId, Slot>,
    /// `Σp − Σn` over the slots, kept with them: an increment and a read
    /// then cost the same however many clients ever wrote the counter (a
    /// counter gets a slot per tab session that clicked it).
    value: i128,
}

impl Counter {
    /// `Σp − Σn` over all slots. Wide enough that no slot values overflow it.
    pub fn value(&self) -> i128 {
        self.value
    }

    fn sum(&self) -> i128 {
        self.slots.values().map(|s| s.p as i128 - s.n as i128).sum()
    }

    /// The value as JavaScript reads it: a safe integer. Each client keeps
    /// the value within ±(2^53 − 1), but several clients adding concurrently
    /// can pass it; such a value reads as ±(2^53 − 1) on every replica.
    pub fn safe_value(&self) -> i64 {
        saturate(self.value())
    }

    /// Adds `delta` (negative to decrement) to `client`'s slot as change `seq`.
    ///
    /// Refused, with nothing changed, when `delta`, the slot or the counter's
    /// value would leave the safe-integer range.
    pub fn increment(&mut self, client: &ClientId, delta: i64, seq: u64) -> Result<(), Error> {
        if delta.unsigned_abs() > MAX_SAFE_INTEGER {
            return Err(Error::UnsafeInteger { what: "a counter delta" });
        }
        let value = self.value() + delta as i128;
        if value.unsigned_abs() > MAX_SAFE_INTEGER as u128 {
            return Err(Error::UnsafeInteger { what: "the counter's value after this change" });
        }
        // One search for the slot; a new one is inserted only once it is valid.
        let mut fresh = Slot::default();
        let found = self.slots.get_mut(client);
        let is_new = found.is_none();
        let slot = found.unwrap_or(&mut fresh);
        let total = if delta >= 0 { slot.p } else { slot.n } + delta.unsigned_abs();
        if total > MAX_SAFE_INTEGER {
            return Err(Error::UnsafeInteger { what: "this client's total of increments or decrements" });
        }
        *(if delta >= 0 { &mut slot.p } else { &mut slot.n }) = total;
        slot.seq = seq;
        if is_new {
            self.slots.insert(client.clone(), fresh);
        }
        self.value = value;
        Ok(())
    }

    /// Merges slots from a peer, sorted by client (one pass over both sides
    /// when there are many). Returns whether anything changed.
    pub fn merge_slots(&mut self, slots: &[(ClientId, Slot)]) -> bool {
        self.merge_owned(slots.to_vec())
    }

    /// Merges a whole counter. Returns whether anything changed.
    pub fn merge(&mut self, other: &Counter) -> bool {
        self.merge_owned(other.slot_list(&|_, _| true))
    }

    fn merge_owned(&mut self, slots: Vec<(ClientId, Slot)>) -> bool {
        let mut changed = false;
        let added = self.slots.merge_sorted(slots, |mine, theirs| changed |= mine.merge(&theirs));
        let changed = changed || added > 0;
        if changed {
            self.value = self.sum();
        }
        changed
    }

    /// Each client's slot, ordered by client id.
    pub fn slots(&self) -> impl Iterator<Item = (&ClientId, &Slot)> {
        self.slots.iter()
    }

    /// A copy of the slots `keep` accepts, ordered by client id (as an
    /// update lists them).
    pub fn slot_list(&self, keep: &dyn Fn(&ClientId, &Slot) -> bool) -> Vec<(ClientId, Slot)> {
        let mut slots = Vec::new();
        for (c, s) in self.slots.iter() {
            if keep(c, s) {
                slots.push((c.clone(), *s));
            }
        }
        slots
    }

    pub fn slot(&self, client: &ClientId) -> Option<&Slot> {
        self.slots.get(client)
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}

/// `v` clamped to the safe-integer range ±(2^53 − 1).
pub fn saturate(v: i128) -> i64 {
    v.clamp(-(MAX_SAFE_INTEGER as i128), MAX_SAFE_INTEGER as i128) as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn c(s: &str) -> ClientId {
        ClientId::new(s).unwrap()
    }

    #[test]
    fn two_clients_increment_from_five_concurrently_to_seven() {
        let mut base = Counter::default();
        base.increment(&c("a"), 5, 1).unwrap();
        let mut a = base.clone();
        let mut b = base.clone();
        a.increment(&c("a"), 1, 2).unwrap();
        b.increment(&c("b"), 1, 1).unwrap();
        let mut a2 = a.clone();
        a2.merge(&b);
        b.merge(&a);
        assert_eq!(a2.value(), 7);
        assert_eq!(b.value(), 7);
    }

    #[test]
    fn a_late_update_never_moves_the_counter_backwards() {
        let mut a = Counter::default();
        a.increment(&c("a"), 3, 1).unwrap();
        let old = a.clone();
        a.increment(&c("a"), 4, 2).unwrap();
        assert!(!a.merge(&old));
        assert_eq!(a.value(), 7);
    }

    #[test]
    fn decrements_use_the_negative_half_of_the_slot() {
        let mut x = Counter::default();
        x.increment(&c("a"), 2, 1).unwrap();
        x.increment(&c("a"), -5, 2).unwrap();
        assert_eq!(x.value(), -3);
        assert_eq!(x.slot(&c("a")).unwrap(), &Slot { p: 2, n: 5, seq: 2 });
    }

    #[test]
    fn unsafe_integers_are_refused_and_change_nothing() {
        let mut x = Counter::default();
        x.increment(&c("a"), MAX_SAFE_INTEGER as i64, 1).unwrap();
        let before = x.clone();
        assert!(x.increment(&c("a"), 1, 2).is_err());
        assert!(x.increment(&c("b"), 1, 1).is_err());
        assert!(x.increment(&c("a"), i64::MIN, 2).is_err());
        assert_eq!(x, before);
        x.increment(&c("b"), -1, 1).unwrap();
        assert_eq!(x.value(), MAX_SAFE_INTEGER as i128 - 1);
        // A slot's own total is bounded too, whatever the value.
        let mut y = Counter::default();
        y.increment(&c("a"), MAX_SAFE_INTEGER as i64, 1).unwrap();
        y.increment(&c("a"), -(MAX_SAFE_INTEGER as i64), 2).unwrap();
        let before = y.clone();
        assert!(y.increment(&c("a"), 1, 3).is_err());
        assert!(y.increment(&c("a"), -1, 3).is_err());
        assert_eq!(y, before);
        y.increment(&c("b"), 1, 1).unwrap();
        assert_eq!(y.value(), 1);
    }

    #[test]
    fn concurrent_adds_past_the_safe_range_read_as_its_end() {
        let mut a = Counter::default();
        a.increment(&c("a"), MAX_SAFE_INTEGER as i64, 1).unwrap();
        let mut b = Counter::default();
        b.increment(&c("b"), MAX_SAFE_INTEGER as i64, 1).unwrap();
        a.merge(&b);
        assert_eq!(a.value(), 2 * MAX_SAFE_INTEGER as i128);
        assert_eq!(a.safe_value(), MAX_SAFE_INTEGER as i64);
        assert_eq!(saturate(-(3 * MAX_SAFE_INTEGER as i128)), -(MAX_SAFE_INTEGER as i64));
    }

    fn counter() -> impl Strategy<Value = Counter> {
        prop::collection::btree_map(0u8..4, (0u64..100, 0u64..100, 1u64..50), 0..4).prop_map(|m| {
            let mut counter = Counter::default();
            counter.merge_owned(m.into_iter().map(|(k, (p, n, seq))| (c(&format!("c{k}")), Slot { p, n, seq })).collect());
            counter
        })
    }

    proptest! {
        #[test]
        fn merge_is_a_semilattice(a in counter(), b in counter(), x in counter()) {
            let merged = |l: &Counter, r: &Counter| { let mut m = l.clone(); m.merge(r); m };
            prop_assert_eq!(merged(&a, &b), merged(&b, &a));
            prop_assert_eq!(merged(&merged(&a, &b), &x), merged(&a, &merged(&b, &x)));
            prop_assert_eq!(merged(&a, &a), a.clone());
        }

        /// The value kept with the slots is their sum after any increments
        /// and merges.
        #[test]
        fn the_kept_value_is_the_sum_of_the_slots(
            start in counter(),
            steps in prop::collection::vec((any::<bool>(), 0u8..4, -50i64..50, counter()), 0..12),
        ) {
            let mut x = start;
            prop_assert_eq!(x.value(), x.sum());
            for (seq, (merge, client, delta, other)) in (100u64..).zip(steps) {
                if merge {
                    x.merge(&other);
                } else {
                    x.increment(&c(&format!("c{client}")), delta, seq).unwrap();
                }
                prop_assert_eq!(x.value(), x.sum());
            }
        }
    }
}
