//! The register: last writer wins, by hybrid logical clock timestamp.
//!
//! Each write (a value, or a delete's tombstone) carries the timestamp of its
//! writer's clock and the writer's client id. The larger `(timestamp, writer)`
//! wins, compared byte-wise on the id, so every replica picks the same winner
//! whatever order writes arrive in. A delete is a timestamped tombstone: a later
//! set beats an earlier delete and vice versa. Tombstones are purged by the
//! document after its retention period; the causal context (the version vector)
//! then stops a write this replica has already seen from coming back.
//!
//! ```
//! use slotkv::{ClientId, Register, Timestamp, Value};
//! let w = |s| ClientId::new(s).unwrap();
//! let t = Timestamp { wall: 7, logical: 0 };
//! let mut x = Register::new(Some(Value::Json("1".into())), t, w("a"), 1);
//! let y = Register::new(Some(Value::Json("2".into())), t, w("b"), 1);
//! assert!(x.merge(&y)); // same timestamp: the larger client id wins
//! assert_eq!(x.value(), Some(&Value::Json("2".into())));
//! ```

use crate::client::ClientId;
use crate::clock::Timestamp;
use crate::prelude::*;
use crate::version::Lookup;

/// What a register holds: JSON text, or raw bytes (a `Uint8Array` in JS).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Json(String),
    Bytes(Vec<u8>),
}

/// One write to a register: a value (or `None`, a delete's tombstone), when,
/// and by whom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Register {
    value: Option<Value>,
    pub ts: Timestamp,
    pub writer: ClientId,
    /// The writer's seq for this write: its dot is `(writer, seq)`.
    pub seq: u64,
}

impl Register {
    pub fn new(value: Option<Value>, ts: Timestamp, writer: ClientId, seq: u64) -> Self {
        Register { value, ts, writer, seq }
    }

    /// The value, or `None` after a delete.
    pub fn value(&self) -> Option<&Value> {
        self.value.as_ref()
    }

    pub fn is_tombstone(&self) -> bool {
        self.value.is_none()
    }

    /// Whether this write beats `other`: later timestamp, or the same
    /// timestamp and the larger writer id.
    pub fn wins_over(&self, other: &Register) -> bool {
        (self.ts, &self.writer) > (other.ts, &other.writer)
    }

    /// Keeps the winner of `self` and `other`. Returns whether `self` changed.
    pub fn merge(&mut self, other: &Register) -> bool {
        if other.wins_over(self) {
            *self = other.clone();
            true
        } else {
            false
        }
    }
}

/// Whether a peer's write is to be ignored rather than merged (with
/// [`Register::merge`], or taken as the key's entry if it has none).
///
/// A write whose dot this replica has already seen is ignored: it is either
/// the entry held here, or was beaten by one this replica holds or held (and
/// then purged as a tombstone). Deciding by the dot alone, not by what is
/// held for the key, keeps a second delivery a no-op even for a forged
/// update that files one dot under two keys.
pub fn is_stale(theirs: &Register, my_seen: &Lookup<'_>) -> bool {
    my_seen.contains(&theirs.writer, theirs.seq)
}

/// In a full-state merge, whether this replica's entry must go because the peer
/// has seen it and holds nothing for the key: a later delete there beat it
/// and has since been purged.
pub fn purged_by_peer(mine: &Register, their_seen: &Lookup<'_>) -> bool {
    their_seen.contains(&mine.writer, mine.seq)
}

/// In a full-state merge, whether this replica's entry must give way to the
/// peer's write for the same key (`theirs`): the peer has seen this entry and
/// holds another write, so there it was replaced. Either a later write beat
/// it (which the merge would pick anyway), or a delete that beat it was
/// purged and a concurrent write has shown through: the peer will never take
/// this entry back, so holding on to it here would keep the two apart for
/// good. The peer's write is then taken if this replica has not seen it, and
/// the key is emptied if it has (it was replaced here too).
pub fn replaced_by_peer(mine: &Register, theirs: &Register, their_seen: &Lookup<'_>) -> bool {
    (mine.seq, &mine.writer) != (theirs.seq, &theirs.writer) && their_seen.contains(&mine.writer, mine.seq)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::VersionVector;

    fn c(s: &str) -> ClientId {
        ClientId::new(s).unwrap()
    }
    fn json(s: &str) -> Option<Value> {
        Some(Value::Json(s.into()))
    }
    fn ts(wall: u64) -> Timestamp {
        Timestamp { wall, logical: 0 }
    }

    #[test]
    fn equal_timestamps_go_to_the_larger_client_id_on_every_replica() {
        let a = Register::new(json("\"a\""), ts(5), c("alice"), 1);
        let b = Register::new(json("\"b\""), ts(5), c("bob"), 1);
        let mut x = a.clone();
        x.merge(&b);
        let mut y = b.clone();
        y.merge(&a);
        assert_eq!(x, y);
        assert_eq!(x.writer, c("bob"));
    }

    #[test]
    fn delete_and_set_order_by_timestamp_both_ways() {
        let set_late = Register::new(json("1"), ts(11), c("a"), 2);
        let del = Register::new(None, ts(10), c("b"), 1);
        let mut x = del.clone();
        x.merge(&set_late);
        assert_eq!(x.value(), json("1").as_ref());

        let set_early = Register::new(json("1"), ts(10), c("a"), 1);
        let del_late = Register::new(None, ts(11), c("b"), 1);
        let mut y = set_early.clone();
        y.merge(&del_late);
        assert!(y.is_tombstone());
    }

    #[test]
    fn a_seen_write_does_not_return_after_its_tombstone_is_purged() {
        let old = Register::new(json("1"), ts(1), c("a"), 1);
        let mut seen = VersionVector::new();
        seen.insert(&c("a"), 1);
        assert!(is_stale(&old, &seen.lookup()));
        assert!(purged_by_peer(&old, &seen.lookup()));
        assert!(!purged_by_peer(&old, &VersionVector::new().lookup()));
        assert!(!is_stale(&old, &VersionVector::new().lookup()));
    }
}
