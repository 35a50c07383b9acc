//! The map from keys to entries that every key space uses: the document's
//! counters, registers and sets, and each set's elements.
//!
//! Why not a `BTreeMap<Key, V>` for each: every instantiation of the standard
//! B-tree compiles its own copy of the node code (search, insert, split,
//! rebalance on remove, clone, drop), about 7 KB of wasm each, and there were
//! four. Here the tree is always the same `BTreeMap<Key, usize>`, compiled
//! once, mapping a key to its slot in a plain vector of entries; what stays
//! generic over `V` is a few vector operations. Lookups stay O(log n), and an
//! insert or remove moves no entries (a remove swaps the last slot in).

use std::collections::{btree_map, BTreeMap};
use std::fmt;

use crate::doc::Key;

/// A map from shared string keys to `V`, iterated in key (UTF-8 byte) order.
#[derive(Clone)]
pub struct KeyMap<V> {
    /// Each key's position in `slots`.
    index: BTreeMap<Key, usize>,
    /// The entries, in no particular order; each holds its key so a remove
    /// can re-point the entry it swaps into the hole.
    slots: Vec<(Key, V)>,
}

impl<V> Default for KeyMap<V> {
    fn default() -> Self {
        KeyMap { index: BTreeMap::new(), slots: Vec::new() }
    }
}

impl<V> KeyMap<V> {
    /// An empty map (allocates nothing until the first insert).
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether the map holds no entry.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The entry of `key` with the map's own copy of the key (to share it).
    pub fn get_key_value(&self, key: &str) -> Option<(&Key, &V)> {
        let &i = self.index.get(key)?;
        self.slots.get(i).map(|(k, v)| (k, v))
    }

    /// As [`KeyMap::get_key_value`], the value mutable.
    pub fn get_key_value_mut(&mut self, key: &str) -> Option<(&Key, &mut V)> {
        let &i = self.index.get(key)?;
        self.slots.get_mut(i).map(|(k, v)| (&*k, v))
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
        self.index.contains_key(key)
    }

    /// The entry of `key` with the map's copy of the key, inserted first if
    /// absent: the key from `new_key` (a shared copy the caller holds, say),
    /// the value from `make`.
    pub fn entry_with(&mut self, key: &str, new_key: impl FnOnce() -> Key, make: impl FnOnce() -> V) -> (&Key, &mut V) {
        let i = match self.index.get(key) {
            Some(&i) => i,
            None => self.push(new_key(), make()),
        };
        // Every position in the index is a slot: this module keeps them so.
        let (k, v) = &mut self.slots[i];
        (&*k, v)
    }

    /// The entry of `key`, inserted from `make` if absent.
    pub fn entry(&mut self, key: &str, make: impl FnOnce() -> V) -> (&Key, &mut V) {
        self.entry_with(key, || Key::from(key), make)
    }

    /// Inserts or replaces; returns the old value.
    pub fn insert(&mut self, key: Key, value: V) -> Option<V> {
        match self.get_mut(&key) {
            Some(old) => Some(std::mem::replace(old, value)),
            None => {
                self.push(key, value);
                None
            }
        }
    }

    /// Inserts or replaces; returns the map's copy of the key (a new one only
    /// if the key was absent) and the old value.
    pub fn insert_str(&mut self, key: &str, value: V) -> (Key, Option<V>) {
        match self.get_key_value_mut(key) {
            Some((k, old)) => (k.clone(), Some(std::mem::replace(old, value))),
            None => {
                let key = Key::from(key);
                self.push(key.clone(), value);
                (key, None)
            }
        }
    }

    fn push(&mut self, key: Key, value: V) -> usize {
        let i = self.slots.len();
        self.index.insert(key.clone(), i);
        self.slots.push((key, value));
        i
    }

    /// Removes the entry of `key`; returns its value.
    pub fn remove(&mut self, key: &str) -> Option<V> {
        let i = self.index.remove(key)?;
        if i >= self.slots.len() {
            return None;
        }
        let (_, value) = self.slots.swap_remove(i);
        if let Some((moved, _)) = self.slots.get(i) {
            self.index.insert(moved.clone(), i);
        }
        Some(value)
    }

    /// Keeps the entries `keep` accepts, visiting them in no particular order.
    pub fn retain(&mut self, mut keep: impl FnMut(&Key, &mut V) -> bool) {
        // Where each entry moves as the vector closes its gaps; left empty
        // until the first removal (the entries before it do not move).
        let mut moved_to: Vec<usize> = Vec::new();
        let (mut visited, mut next) = (0, 0);
        let index = &mut self.index;
        self.slots.retain_mut(|(key, value)| {
            let kept = keep(key, value);
            if !kept && moved_to.is_empty() {
                moved_to.extend(0..visited);
            }
            if !kept || !moved_to.is_empty() {
                moved_to.push(next);
            }
            visited += 1;
            if kept {
                next += 1;
            } else {
                index.remove(&**key);
            }
            kept
        });
        if !moved_to.is_empty() {
            for i in self.index.values_mut() {
                *i = moved_to.get(*i).copied().unwrap_or(*i);
            }
        }
    }

    /// Entries in key order.
    pub fn iter(&self) -> Iter<'_, V> {
        Iter { positions: self.index.values(), slots: &self.slots }
    }

    /// Keys in key order.
    pub fn keys(&self) -> impl Iterator<Item = &Key> + '_ {
        self.index.keys()
    }

    /// Values in no particular order.
    pub fn values(&self) -> impl Iterator<Item = &V> + '_ {
        self.slots.iter().map(|(_, v)| v)
    }
}

/// The entries of a [`KeyMap`] in key order.
pub struct Iter<'a, V> {
    positions: btree_map::Values<'a, Key, usize>,
    slots: &'a [(Key, V)],
}

impl<'a, V> Iterator for Iter<'a, V> {
    type Item = (&'a Key, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        let &i = self.positions.next()?;
        self.slots.get(i).map(|(k, v)| (k, v))
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

    #[derive(Clone, Debug)]
    enum Op {
        Insert(u8, u32),
        InsertStr(u8, u32),
        Remove(u8),
        GetOrInsert(u8, u32),
        Retain(u32),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (any::<u8>(), any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
            (any::<u8>(), any::<u32>()).prop_map(|(k, v)| Op::InsertStr(k, v)),
            any::<u8>().prop_map(Op::Remove),
            (any::<u8>(), any::<u32>()).prop_map(|(k, v)| Op::GetOrInsert(k, v)),
            (1u32..5).prop_map(Op::Retain),
        ]
    }

    proptest! {
        /// Behaves like a BTreeMap under any sequence of operations, and
        /// iterates in key order.
        #[test]
        fn matches_a_btree_map(ops in proptest::collection::vec(op(), 0..200)) {
            let mut map = KeyMap::new();
            let mut model = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Insert(k, v) => {
                        let k = format!("k{k}");
                        prop_assert_eq!(map.insert(Key::from(k.as_str()), v), model.insert(k, v));
                    }
                    Op::InsertStr(k, v) => {
                        let k = format!("k{k}");
                        let (key, old) = map.insert_str(&k, v);
                        prop_assert_eq!(&*key, k.as_str());
                        prop_assert_eq!(old, model.insert(k, v));
                    }
                    Op::Remove(k) => {
                        let k = format!("k{k}");
                        prop_assert_eq!(map.remove(&k), model.remove(&k));
                    }
                    Op::GetOrInsert(k, v) => {
                        let k = format!("k{k}");
                        *map.entry(&k, || v).1 += 1;
                        *model.entry(k).or_insert(v) += 1;
                    }
                    Op::Retain(m) => {
                        map.retain(|_, v| *v % m != 0);
                        model.retain(|_, v| *v % m != 0);
                    }
                }
                prop_assert_eq!(map.len(), model.len());
                let got: Vec<(String, u32)> = map.iter().map(|(k, v)| (k.to_string(), *v)).collect();
                let want: Vec<(String, u32)> = model.iter().map(|(k, v)| (k.clone(), *v)).collect();
                prop_assert_eq!(got, want);
                for (k, v) in &model {
                    prop_assert_eq!(map.get(k), Some(v));
                }
            }
        }
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
        let mut m: KeyMap<u32> = (0..5).map(|i| (Key::from(format!("k{i}").as_str()), i)).collect();
        assert_eq!(m.remove("k1"), Some(1));
        assert_eq!(m.get("k4"), Some(&4));
        assert_eq!(m.remove("k4"), Some(4));
        assert_eq!(m.keys().map(|k| &**k).collect::<Vec<_>>(), ["k0", "k2", "k3"]);
    }
}
