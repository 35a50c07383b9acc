//! The map from keys to entries that every key space uses: the document's
//! counters, registers and sets, and each set's elements.
//!
//! Why not a `BTreeMap<Key, V>`: every instantiation of the standard B-tree
//! compiles its own node code (search, insert, split, rebalance, drop), and
//! even one, a `BTreeMap<Key, usize>` indexing a vector, was about 10 KB of
//! wasm. Here the keys sit in a plain vector, the values in another beside
//! it, and a hash table finds a key's position; only the vector of values
//! depends on `V`, so the rest is compiled once for every key space.
//!
//! - Lookups, inserts and removes take expected O(1) time: the hash is
//!   SipHash-1-3 keyed with random bytes drawn once per process, so a hostile
//!   peer cannot pick keys that collide. Maps of up to [`SCAN_MAX`] keys have
//!   no table and are scanned.
//! - Iteration is in key (UTF-8 byte) order. The first iteration after a
//!   change sorts the positions; the next inserts and removes keep that order
//!   up to date (an O(log n) search and an O(n) shift of 4-byte positions
//!   each), so reading after every write costs O(n) a read, as the read does
//!   anyway. After [`ORDER_EDITS`] changes without a read the order is
//!   dropped and the next read sorts again: a long run of writes never pays
//!   for an order nobody reads.

use core::cell::{Cell, Ref, RefCell};
use core::fmt;

use crate::doc::Key;
use crate::prelude::*;

/// Up to this many entries a map is searched by scanning its keys; the
/// hash table is built when it grows past that.
const SCAN_MAX: usize = 8;

/// Inserts and removes that keep the sorted order up to date before it is
/// dropped (see the module comment).
const ORDER_EDITS: u32 = 32;

/// A map from shared string keys to `V`, iterated in key (UTF-8 byte) order.
pub struct KeyMap<V> {
    index: Index,
    /// `values[i]` belongs to `index.keys[i]`.
    values: Vec<V>,
}

/// The keys, where each one is, and their order: everything but the values.
#[derive(Default)]
struct Index {
    /// The keys, in no particular order (a remove swaps the last one in).
    keys: Vec<Key>,
    /// Open addressing with linear probing: each used bucket holds a key's
    /// 32-bit hash above its position + 1, an empty one 0. Either empty (the
    /// map is small enough to scan) or a power of two at least twice the
    /// number of keys long, so a probe always meets an empty bucket.
    table: Vec<u64>,
    /// The positions in key order, when `sorted` says they are.
    order: RefCell<Vec<u32>>,
    sorted: Cell<bool>,
    /// Inserts and removes since the last iteration.
    edits: Cell<u32>,
}

/// The process's hash key, drawn once (a fixed one if there is no random
/// source: then hashing still works, only without the collision defence).
/// Every map of the process hashes with the same key, so a thread that finds
/// the key being drawn waits for it (only native tests have threads).
/// `Doc::with_clock` draws it, so that the first draw, which in Node loads
/// its Web Crypto (about a millisecond), is not left to the write that
/// first makes a map large enough to hash.
pub(crate) fn hash_key() -> (u64, u64) {
    use core::sync::atomic::{AtomicU64, AtomicU8, Ordering};
    const UNSET: u8 = 0;
    const DRAWING: u8 = 1;
    const SET: u8 = 2;
    static STATE: AtomicU8 = AtomicU8::new(UNSET);
    static KEY: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];
    if STATE.load(Ordering::Acquire) != SET && STATE.compare_exchange(UNSET, DRAWING, Ordering::Acquire, Ordering::Acquire).is_ok() {
        let mut bytes = [0u8; 16];
        if getrandom::fill(&mut bytes).is_err() {
            bytes = *b"slotkv hash key.";
        }
        let [a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p] = bytes;
        KEY[0].store(u64::from_le_bytes([a, b, c, d, e, f, g, h]), Ordering::Relaxed);
        KEY[1].store(u64::from_le_bytes([i, j, k, l, m, n, o, p]), Ordering::Relaxed);
        STATE.store(SET, Ordering::Release);
    }
    while STATE.load(Ordering::Acquire) != SET {
        core::hint::spin_loop();
    }
    (KEY[0].load(Ordering::Relaxed), KEY[1].load(Ordering::Relaxed))
}

fn hash(key: &str) -> u32 {
    let (k0, k1) = hash_key();
    let x = siphash13(k0, k1, key.as_bytes());
    (x ^ (x >> 32)) as u32
}

/// SipHash-1-3 (what Rust's `std` hashes with) of `bytes` under the key
/// `(k0, k1)`. Written out for byte strings: a general `Hasher`, which
/// buffers its input for later writes, took twice the instructions on the
/// short keys apps use.
fn siphash13(k0: u64, k1: u64, bytes: &[u8]) -> u64 {
    let mut v = [k0 ^ 0x736f_6d65_7073_6575, k1 ^ 0x646f_7261_6e64_6f6d, k0 ^ 0x6c79_6765_6e65_7261, k1 ^ 0x7465_6462_7974_6573];
    #[inline(always)]
    fn round(v: &mut [u64; 4]) {
        let [mut v0, mut v1, mut v2, mut v3] = *v;
        v0 = v0.wrapping_add(v1);
        v1 = v1.rotate_left(13) ^ v0;
        v0 = v0.rotate_left(32);
        v2 = v2.wrapping_add(v3);
        v3 = v3.rotate_left(16) ^ v2;
        v0 = v0.wrapping_add(v3);
        v3 = v3.rotate_left(21) ^ v0;
        v2 = v2.wrapping_add(v1);
        v1 = v1.rotate_left(17) ^ v2;
        v2 = v2.rotate_left(32);
        *v = [v0, v1, v2, v3];
    }
    #[inline(always)]
    fn compress(v: &mut [u64; 4], m: u64) {
        v[3] ^= m;
        round(v);
        v[0] ^= m;
    }
    // Whole 8-byte words, then the last 0 to 7 bytes with the length's low
    // byte on top.
    let mut tail: &[u8] = &[];
    for chunk in bytes.chunks(8) {
        if chunk.len() < 8 {
            tail = chunk;
            break;
        }
        compress(&mut v, le_word(chunk));
    }
    compress(&mut v, le_word(tail) | (bytes.len() as u64) << 56);
    v[2] ^= 0xff;
    round(&mut v);
    round(&mut v);
    round(&mut v);
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

/// Up to 8 bytes as a little-endian word.
fn le_word(bytes: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    for (w, b) in word.iter_mut().zip(bytes) {
        *w = *b;
    }
    u64::from_le_bytes(word)
}

fn bucket(hash: u32, position: usize) -> u64 {
    (u64::from(hash) << 32) | (position as u64 + 1)
}

fn position_in(bucket: u64) -> usize {
    (bucket as u32 as usize).wrapping_sub(1)
}

fn hash_in(bucket: u64) -> u32 {
    (bucket >> 32) as u32
}

impl Index {
    /// Where `key` is: its position, and its bucket when there is a table.
    /// If absent, its hash when there is a table (for [`Index::push`]).
    fn find(&self, key: &str) -> Result<(usize, Option<usize>), Option<u32>> {
        if self.table.is_empty() {
            return self.keys.iter().position(|k| **k == *key).map(|p| (p, None)).ok_or(None);
        }
        let h = hash(key);
        let mask = self.table.len() - 1;
        let mut b = h as usize & mask;
        // A probe meets an empty bucket long before it has seen them all (the
        // table is at most half full); the bound only makes a hang impossible.
        for _ in 0..self.table.len() {
            let e = self.table.get(b).copied().unwrap_or(0);
            if e == 0 {
                break;
            }
            if hash_in(e) == h && self.keys.get(position_in(e)).is_some_and(|k| **k == *key) {
                return Ok((position_in(e), Some(b)));
            }
            b = (b + 1) & mask;
        }
        Err(Some(h))
    }

    /// Puts `e` in the first empty bucket from its hash's.
    fn place(table: &mut [u64], e: u64) {
        let mask = table.len().wrapping_sub(1);
        let mut b = hash_in(e) as usize & mask;
        for _ in 0..table.len() {
            match table.get_mut(b) {
                Some(slot) if *slot == 0 => {
                    *slot = e;
                    return;
                }
                _ => b = (b + 1) & mask,
            }
        }
    }

    /// A table for the keys there are and `more` to come: a new one from
    /// the keys' hashes, or a grown copy of the current one (whose buckets
    /// hold the hashes, so no key is hashed again).
    fn reindex(&mut self, more: usize) {
        let len = (2 * (self.keys.len() + more)).next_power_of_two().max(2 * SCAN_MAX);
        let mut table = vec![0; len];
        if self.table.is_empty() {
            for (p, k) in self.keys.iter().enumerate() {
                Index::place(&mut table, bucket(hash(k), p));
            }
        } else {
            for &e in self.table.iter().filter(|&&e| e != 0) {
                Index::place(&mut table, e);
            }
        }
        self.table = table;
    }

    /// Appends `key` (absent; `hash` is its hash if [`Index::find`] gave
    /// one) and returns its position.
    fn push(&mut self, key: Key, hash: Option<u32>) -> usize {
        let p = self.keys.len();
        self.keep_order(|order, keys| {
            let at = rank(order, keys, &key);
            order.insert(at, p as u32);
        });
        if !self.table.is_empty() || p >= SCAN_MAX {
            if 2 * (p + 1) > self.table.len() {
                self.reindex(1);
            }
            let h = hash.unwrap_or_else(|| self::hash(&key));
            Index::place(&mut self.table, bucket(h, p));
        }
        self.keys.push(key);
        p
    }

    /// Removes `key`; returns the position it had, which now holds the last
    /// key (unless it was the last).
    fn remove(&mut self, key: &str) -> Option<usize> {
        let (p, b) = self.find(key).ok()?;
        let last = self.keys.len() - 1;
        self.keep_order(|order, keys| {
            let at = rank(order, keys, key);
            if at < order.len() {
                order.remove(at);
            }
            if let Some(moved) = keys.get(last).filter(|_| p != last) {
                let at = rank(order, keys, moved);
                if let Some(slot) = order.get_mut(at) {
                    *slot = p as u32;
                }
            }
        });
        if let Some(b) = b {
            self.unplace(b);
            if p != last {
                if let Some((_, Some(mb))) = self.keys.get(last).and_then(|k| self.find(k).ok()) {
                    if let Some(e) = self.table.get_mut(mb) {
                        *e = bucket(hash_in(*e), p);
                    }
                }
            }
        }
        self.keys.swap_remove(p);
        Some(p)
    }

    /// Empties bucket `b`, moving later buckets of its run back so that
    /// every key stays reachable from its hash's bucket.
    fn unplace(&mut self, b: usize) {
        let mask = self.table.len() - 1;
        let (mut hole, mut next) = (b, b);
        for _ in 0..mask {
            next = (next + 1) & mask;
            let e = self.table.get(next).copied().unwrap_or(0);
            if e == 0 {
                break;
            }
            let home = hash_in(e) as usize & mask;
            // `e` may move into the hole if the hole is between its home bucket and it.
            if next.wrapping_sub(home) & mask >= next.wrapping_sub(hole) & mask {
                if let Some(slot) = self.table.get_mut(hole) {
                    *slot = e;
                }
                hole = next;
            }
        }
        if let Some(slot) = self.table.get_mut(hole) {
            *slot = 0;
        }
    }

    /// Applies `edit` to the sorted order if it is kept, or drops the order
    /// after too many edits without a read.
    fn keep_order(&mut self, edit: impl FnOnce(&mut Vec<u32>, &[Key])) {
        if !self.sorted.get() {
            return;
        }
        let edits = self.edits.get() + 1;
        self.edits.set(edits);
        if edits > ORDER_EDITS {
            self.sorted.set(false);
            self.order.get_mut().clear();
        } else {
            edit(self.order.get_mut(), &self.keys);
        }
    }

    /// The keys, in key order, at the positions `live` accepts (one loop
    /// for every value type).
    fn keys_where(&self, live: &dyn Fn(usize) -> bool) -> Vec<&str> {
        let order = self.order();
        let mut keys = Vec::new();
        let mut k = 0;
        while let Some(p) = order.get(k) {
            if let Some(key) = self.keys.get(p).filter(|_| live(p)) {
                keys.push(&**key);
            }
            k += 1;
        }
        keys
    }

    /// The positions in key order.
    fn order(&self) -> Positions<'_> {
        self.edits.set(0);
        if !self.sorted.get() {
            // Only `&mut self` methods unsort the order, so no iterator holds
            // it now and this borrow succeeds; if not, a copy serves this once.
            let order = sorted_positions(&self.keys);
            match self.order.try_borrow_mut() {
                Ok(mut kept) => *kept = order,
                Err(_) => return Positions::Own(order),
            }
            self.sorted.set(true);
        }
        match self.order.try_borrow() {
            Ok(kept) => Positions::Kept(kept),
            Err(_) => Positions::Own(sorted_positions(&self.keys)),
        }
    }
}

/// Where `key` is or would go in `order`: the number of keys before it.
fn rank(order: &[u32], keys: &[Key], key: &str) -> usize {
    order.partition_point(|&q| keys.get(q as usize).is_some_and(|k| **k < *key))
}

/// The positions of `keys` in key order.
fn sorted_positions(keys: &[Key]) -> Vec<u32> {
    let mut order: Vec<u32> = (0..keys.len() as u32).collect();
    crate::sort::sort_by(&mut order, |&a, &b| match (keys.get(a as usize), keys.get(b as usize)) {
        (Some(a), Some(b)) => a < b,
        _ => false,
    });
    order
}

/// A sorted order, kept by the map or made for one iteration.
enum Positions<'a> {
    Kept(Ref<'a, Vec<u32>>),
    Own(Vec<u32>),
}

impl Positions<'_> {
    fn get(&self, i: usize) -> Option<usize> {
        match self {
            Positions::Kept(v) => v.get(i),
            Positions::Own(v) => v.get(i),
        }
        .map(|&p| p as usize)
    }
}

impl Clone for Index {
    fn clone(&self) -> Self {
        Index { keys: self.keys.clone(), table: self.table.clone(), ..Index::default() }
    }
}

impl<V: Clone> Clone for KeyMap<V> {
    fn clone(&self) -> Self {
        KeyMap { index: self.index.clone(), values: self.values.clone() }
    }
}

impl<V> Default for KeyMap<V> {
    fn default() -> Self {
        KeyMap { index: Index::default(), values: Vec::new() }
    }
}

impl<V> KeyMap<V> {
    /// An empty map (allocates nothing until the first insert).
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether the map holds no entry.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The entry of `key` with the map's own copy of the key (to share it).
    pub fn get_key_value(&self, key: &str) -> Option<(&Key, &V)> {
        let (p, _) = self.index.find(key).ok()?;
        Some((self.index.keys.get(p)?, self.values.get(p)?))
    }

    /// As [`KeyMap::get_key_value`], the value mutable.
    pub fn get_key_value_mut(&mut self, key: &str) -> Option<(&Key, &mut V)> {
        let (p, _) = self.index.find(key).ok()?;
        Some((self.index.keys.get(p)?, self.values.get_mut(p)?))
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&V> {
        self.get_key_value(key).map(|(_, v)| v)
    }

    /// The value of `key`, mutable.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        self.get_key_value_mut(key).map(|(_, v)| v)
    }

    /// Whether `key` has an entry.
    pub fn contains_key(&self, key: &str) -> bool {
        self.index.find(key).is_ok()
    }

    /// The entry of `key` with the map's copy of the key, inserted first if
    /// absent: the key from `new_key` (a shared copy the caller holds, say),
    /// the value from `make`.
    pub fn entry_with(&mut self, key: &str, new_key: impl FnOnce() -> Key, make: impl FnOnce() -> V) -> (&Key, &mut V) {
        let p = match self.index.find(key) {
            Ok((p, _)) => p,
            Err(hash) => self.push(new_key(), make(), hash),
        };
        // Every position the index gives has a key and a value: this module keeps them so.
        (&self.index.keys[p], &mut self.values[p])
    }

    /// The entry of `key`, inserted from `make` if absent.
    pub fn entry(&mut self, key: &str, make: impl FnOnce() -> V) -> (&Key, &mut V) {
        self.entry_with(key, || Key::from(key), make)
    }

    /// Inserts or replaces; returns the old value.
    pub fn insert(&mut self, key: Key, value: V) -> Option<V> {
        match self.index.find(&key) {
            Ok((p, _)) => self.values.get_mut(p).map(|old| core::mem::replace(old, value)),
            Err(hash) => {
                self.push(key, value, hash);
                None
            }
        }
    }

    /// Inserts or replaces; returns the map's copy of the key (a new one only
    /// if the key was absent) and the old value.
    pub fn insert_str(&mut self, key: &str, value: V) -> (Key, Option<V>) {
        match self.index.find(key) {
            // A found position has a key: this module keeps them so.
            Ok((p, _)) => (self.index.keys[p].clone(), self.values.get_mut(p).map(|old| core::mem::replace(old, value))),
            Err(hash) => {
                let key = Key::from(key);
                self.push(key.clone(), value, hash);
                (key, None)
            }
        }
    }

    fn push(&mut self, key: Key, value: V, hash: Option<u32>) -> usize {
        self.values.push(value);
        self.index.push(key, hash)
    }

    /// Removes the entry of `key`; returns its value.
    pub fn remove(&mut self, key: &str) -> Option<V> {
        let p = self.index.remove(key)?;
        (p < self.values.len()).then(|| self.values.swap_remove(p))
    }

    /// Keeps the entries `keep` accepts, visiting them in no particular order.
    pub fn retain(&mut self, mut keep: impl FnMut(&Key, &mut V) -> bool) {
        self.retain_dyn(&mut keep);
    }

    /// [`KeyMap::retain`], compiled once per value type rather than once
    /// per caller (`keep` is a `dyn` call, once per entry).
    fn retain_dyn(&mut self, keep: &mut dyn FnMut(&Key, &mut V) -> bool) {
        // One flag per entry, from the first one refused (the entries before
        // it are all kept, so nothing is allocated while all are).
        let mut kept: Option<Vec<bool>> = None;
        for (i, (k, v)) in self.index.keys.iter().zip(self.values.iter_mut()).enumerate() {
            let yes = keep(k, v);
            match &mut kept {
                Some(flags) => flags.push(yes),
                None if !yes => {
                    let mut flags = vec![true; i];
                    flags.push(false);
                    kept = Some(flags);
                }
                None => {}
            }
        }
        let Some(kept) = kept else { return };
        crate::moves::keep_flagged(&mut self.values, &kept);
        self.index.retain(&kept);
    }

    /// Entries in key order.
    pub fn iter(&self) -> Iter<'_, V> {
        Iter { order: self.index.order(), next: 0, keys: &self.index.keys, values: &self.values }
    }

    /// The keys, in key order, whose values `live` accepts.
    pub fn keys_where(&self, live: &dyn Fn(&V) -> bool) -> Vec<&str> {
        self.index.keys_where(&|p| self.values.get(p).is_some_and(live))
    }

    /// Values in no particular order.
    pub fn values(&self) -> impl Iterator<Item = &V> + '_ {
        self.values.iter()
    }

    /// Entries in no particular order, without the indirection of key
    /// order: for a scan that keeps few of them and sorts those.
    pub fn iter_unordered(&self) -> impl Iterator<Item = (&Key, &V)> + '_ {
        self.index.keys.iter().zip(&self.values)
    }
}

impl Index {
    /// Keeps the keys whose flag is set (in order, one flag per key).
    fn retain(&mut self, kept: &[bool]) {
        crate::moves::keep_flagged(&mut self.keys, kept);
        self.sorted.set(false);
        self.order.get_mut().clear();
        if !self.table.is_empty() {
            // The positions moved: hash the keys again.
            self.table = Vec::new();
            self.reindex(0);
        }
    }
}

/// The entries of a [`KeyMap`] in key order.
pub struct Iter<'a, V> {
    order: Positions<'a>,
    next: usize,
    keys: &'a [Key],
    values: &'a [V],
}

impl<'a, V> Iterator for Iter<'a, V> {
    type Item = (&'a Key, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        let p = self.order.get(self.next)?;
        self.next += 1;
        Some((self.keys.get(p)?, self.values.get(p)?))
    }

    // Exact, so that collecting a map's entries allocates once.
    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.keys.len().saturating_sub(self.next);
        (left, Some(left))
    }
}

impl<'a, V> IntoIterator for &'a KeyMap<V> {
    type Item = (&'a Key, &'a V);
    type IntoIter = Iter<'a, V>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Equal when they hold the same entries, whatever order the slots are in.
impl<V: PartialEq> PartialEq for KeyMap<V> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl<V: Eq> Eq for KeyMap<V> {}

impl<V: fmt::Debug> fmt::Debug for KeyMap<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<V> FromIterator<(Key, V)> for KeyMap<V> {
    fn from_iter<I: IntoIterator<Item = (Key, V)>>(items: I) -> Self {
        let mut map = KeyMap::new();
        for (k, v) in items {
            map.insert(k, v);
        }
        map
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    proptest! {
        /// The written-out SipHash-1-3 is the siphasher crate's.
        #[test]
        fn siphash13_matches_the_siphasher_crate(k0 in any::<u64>(), k1 in any::<u64>(), bytes in prop::collection::vec(any::<u8>(), 0..40)) {
            use core::hash::Hasher;
            let mut h = siphasher::sip::SipHasher13::new_with_keys(k0, k1);
            h.write(&bytes);
            prop_assert_eq!(siphash13(k0, k1, &bytes), h.finish());
        }
    }

    #[derive(Clone, Debug)]
    enum Op {
        Insert(u8, u32),
        InsertStr(u8, u32),
        Remove(u8),
        GetOrInsert(u8, u32),
        Retain(u32),
        /// Compare the whole map, iteration order included, with the model.
        Check,
    }

    fn op(check_weight: u32) -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (any::<u8>(), any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
            4 => (any::<u8>(), any::<u32>()).prop_map(|(k, v)| Op::InsertStr(k, v)),
            4 => any::<u8>().prop_map(Op::Remove),
            4 => (any::<u8>(), any::<u32>()).prop_map(|(k, v)| Op::GetOrInsert(k, v)),
            1 => (1u32..5).prop_map(Op::Retain),
            check_weight => Just(Op::Check),
        ]
    }

    fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
        let mut map = KeyMap::new();
        let mut model = BTreeMap::new();
        for op in ops.into_iter().chain([Op::Check]) {
            let touched = match op {
                Op::Insert(k, v) => {
                    let k = format!("k{k}");
                    prop_assert_eq!(map.insert(Key::from(k.as_str()), v), model.insert(k.clone(), v));
                    Some(k)
                }
                Op::InsertStr(k, v) => {
                    let k = format!("k{k}");
                    let (key, old) = map.insert_str(&k, v);
                    prop_assert_eq!(&*key, k.as_str());
                    prop_assert_eq!(old, model.insert(k.clone(), v));
                    Some(k)
                }
                Op::Remove(k) => {
                    let k = format!("k{k}");
                    prop_assert_eq!(map.remove(&k), model.remove(&k));
                    Some(k)
                }
                Op::GetOrInsert(k, v) => {
                    let k = format!("k{k}");
                    *map.entry(&k, || v).1 += 1;
                    *model.entry(k.clone()).or_insert(v) += 1;
                    Some(k)
                }
                Op::Retain(m) => {
                    map.retain(|_, v| *v % m != 0);
                    model.retain(|_, v| *v % m != 0);
                    None
                }
                Op::Check => {
                    let got: Vec<(String, u32)> = map.iter().map(|(k, v)| (k.to_string(), *v)).collect();
                    let want: Vec<(String, u32)> = model.iter().map(|(k, v)| (k.clone(), *v)).collect();
                    prop_assert_eq!(got, want);
                    for (k, v) in &model {
                        prop_assert_eq!(map.get(k), Some(v));
                    }
                    None
                }
            };
            prop_assert_eq!(map.len(), model.len());
            if let Some(k) = touched {
                prop_assert_eq!(map.get(&k), model.get(&k));
                prop_assert_eq!(map.contains_key(&k), model.contains_key(&k));
            }
        }
        Ok(())
    }

    proptest! {
        /// Behaves like a BTreeMap under any sequence of operations and
        /// iterates in key order, whether it is read after every change
        /// (its order then kept up to date) or after long runs of changes
        /// (the order dropped and rebuilt).
        #[test]
        fn matches_a_btree_map_read_often(ops in proptest::collection::vec(op(16), 0..300)) {
            run(ops)?;
        }

        #[test]
        fn matches_a_btree_map_read_rarely(ops in proptest::collection::vec(op(1), 0..1200)) {
            run(ops)?;
        }
    }

    #[test]
    fn many_keys_survive_removes_in_the_table() {
        let mut m: KeyMap<u32> = KeyMap::new();
        for i in 0..10_000 {
            assert_eq!(m.insert(Key::from(format!("key {i}").as_str()), i), None);
        }
        for i in (0..10_000).step_by(2) {
            assert_eq!(m.remove(&format!("key {i}")), Some(i));
        }
        assert_eq!(m.len(), 5_000);
        for i in 0..10_000 {
            assert_eq!(m.get(&format!("key {i}")), (i % 2 == 1).then_some(&i), "key {i}");
        }
        let keys: Vec<&str> = m.keys_where(&|_| true);
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        assert_eq!(keys, sorted);
    }

    #[test]
    fn equality_ignores_slot_order() {
        let a: KeyMap<u32> = [("x", 1), ("y", 2)].into_iter().map(|(k, v)| (Key::from(k), v)).collect();
        let b: KeyMap<u32> = [("y", 2), ("x", 1)].into_iter().map(|(k, v)| (Key::from(k), v)).collect();
        assert_eq!(a, b);
        assert_eq!(format!("{a:?}"), r#"{"x": 1, "y": 2}"#);
    }

    #[test]
    fn a_remove_re_points_the_entry_swapped_in() {
        for n in [5, 40] {
            let mut m: KeyMap<u32> = (0..n).map(|i| (Key::from(format!("k{i:02}").as_str()), i)).collect();
            let _ = m.keys_where(&|_| true);
            assert_eq!(m.remove("k01"), Some(1));
            assert_eq!(m.get(&format!("k{:02}", n - 1)), Some(&(n - 1)));
            assert_eq!(m.remove(&format!("k{:02}", n - 1)), Some(n - 1));
            let want: Vec<String> = (0..n - 1).filter(|&i| i != 1).map(|i| format!("k{i:02}")).collect();
            assert_eq!(m.keys_where(&|_| true), want);
        }
    }

    #[test]
    fn iterating_twice_at_once_shares_the_order() {
        let m: KeyMap<u32> = (0..20).map(|i| (Key::from(format!("k{i:02}").as_str()), i)).collect();
        let pairs: Vec<(u32, u32)> = m.values().zip(m.iter().map(|(_, v)| *v)).map(|(a, b)| (*a, b)).collect();
        assert_eq!(pairs.len(), 20);
        assert!(m.iter().eq(m.iter()));
    }
}
