//! A map kept as a sorted vector, for the small per-entry maps that hold one
//! item per client (counter slots, version ranges, removal records).
//!
//! Such maps have a handful of entries, so a binary search over a vector is
//! as fast as a tree and much smaller in the compiled module: every `BTreeMap`
//! instantiation adds kilobytes of node-balancing code to the wasm.

use core::borrow::Borrow;

use crate::prelude::*;

/// A map from `K` to `V`, ordered by key, stored as a sorted `Vec`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmallMap<K, V> {
    items: Vec<(K, V)>,
}

impl<K, V> Default for SmallMap<K, V> {
    fn default() -> Self {
        SmallMap { items: Vec::new() }
    }
}

impl<K: Ord, V> SmallMap<K, V> {
    pub fn new() -> Self {
        Self::default()
    }

    fn find<Q: Ord + ?Sized>(&self, key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
    {
        self.items.binary_search_by(|(k, _)| k.borrow().cmp(key))
    }

    pub fn get<Q: Ord + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().and_then(|i| self.items.get(i)).map(|(_, v)| v)
    }

    pub fn get_mut<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
    {
        let i = self.find(key).ok()?;
        self.items.get_mut(i).map(|(_, v)| v)
    }

    pub fn contains_key<Q: Ord + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.find(key).is_ok()
    }

    /// Inserts or replaces; returns the old value.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(i) => self.items.get_mut(i).map(|slot| core::mem::replace(&mut slot.1, value)),
            Err(i) => {
                self.items.insert(i, (key, value));
                None
            }
        }
    }

    /// The value for `key`, inserting `make()` first if there is none.
    pub fn get_or_insert_with(&mut self, key: &K, make: impl FnOnce() -> V) -> &mut V
    where
        K: Clone,
    {
        let i = match self.find(key) {
            Ok(i) => i,
            Err(i) => {
                self.items.insert(i, (key.clone(), make()));
                i
            }
        };
        // `i` is in bounds: it was found or just inserted.
        &mut self.items[i].1
    }

    pub fn remove<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        let i = self.find(key).ok()?;
        Some(self.items.remove(i).1)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.items.iter().map(|(k, v)| (k, v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &K> {
        self.items.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.items.iter().map(|(_, v)| v)
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        self.items.retain_mut(|(k, v)| keep(k, v));
    }

    pub fn clear(&mut self) {
        self.items.clear();
    }

    /// The pairs, sorted by key.
    pub fn into_vec(self) -> Vec<(K, V)> {
        self.items
    }
}

impl<K: Ord, V> SmallMap<K, V> {
    /// Builds a map from pairs in any order in O(n log n), combining the
    /// values of equal keys with `merge`. (Inserting unsorted pairs one by
    /// one would be quadratic: decoders use this on input from peers.)
    pub fn from_pairs(mut pairs: Vec<(K, V)>, mut merge: impl FnMut(&mut V, V)) -> Self {
        crate::sort::sort_by(&mut pairs, |a, b| a.0 < b.0);
        let mut items: Vec<(K, V)> = Vec::with_capacity(pairs.len());
        for (k, v) in pairs {
            match items.last_mut() {
                Some(last) if last.0 == k => merge(&mut last.1, v),
                _ => items.push((k, v)),
            }
        }
        SmallMap { items }
    }
}

impl<K: Ord, V> SmallMap<K, V> {
    /// Merges `other` (sorted by key) into this map: `combine` folds a value
    /// into the one already held for its key; keys only `other` has are
    /// inserted as they are. Returns how many keys were inserted.
    ///
    /// A few pairs are inserted one by one; more are merged in one pass, so
    /// merging a peer's many clients costs O(n + m), not O(n · m) moves.
    pub fn merge_sorted(&mut self, other: Vec<(K, V)>, mut combine: impl FnMut(&mut V, V)) -> usize {
        let before = self.items.len();
        if other.len() <= 4 {
            for (k, v) in other {
                match self.find(&k) {
                    Ok(i) => {
                        if let Some(slot) = self.items.get_mut(i) {
                            combine(&mut slot.1, v);
                        }
                    }
                    Err(i) => self.items.insert(i, (k, v)),
                }
            }
            return self.items.len() - before;
        }
        let mut merged: Vec<(K, V)> = Vec::with_capacity(before + other.len());
        let mut mine = core::mem::take(&mut self.items).into_iter();
        // The next of our items not yet moved to `merged` (held here rather
        // than by `Peekable`, whose adapters compiled to as much wasm as this).
        let mut next = mine.next();
        for (k, v) in other {
            while let Some(item) = next.take() {
                if item.0 < k {
                    merged.push(item);
                    next = mine.next();
                } else {
                    next = Some(item);
                    break;
                }
            }
            match merged.last_mut() {
                // `other` named this key twice: fold it in as well.
                Some(last) if last.0 == k => combine(&mut last.1, v),
                _ => match next.take() {
                    Some(mut item) if item.0 == k => {
                        combine(&mut item.1, v);
                        merged.push(item);
                        next = mine.next();
                    }
                    held => {
                        next = held;
                        merged.push((k, v));
                    }
                },
            }
        }
        if let Some(item) = next {
            merged.push(item);
        }
        merged.extend(mine);
        self.items = merged;
        self.items.len() - before
    }
}

impl<K: Ord, V> FromIterator<(K, V)> for SmallMap<K, V> {
    /// Later pairs win over earlier ones with the same key.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut map = SmallMap::new();
        for (k, v) in iter {
            map.insert(k, v);
        }
        map
    }
}

impl<'a, K, V> IntoIterator for &'a SmallMap<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = core::iter::Map<core::slice::Iter<'a, (K, V)>, fn(&'a (K, V)) -> (&'a K, &'a V)>;

    fn into_iter(self) -> Self::IntoIter {
        self.items.iter().map(|(k, v)| (k, v))
    }
}

#[cfg(test)]
mod tests {
    use super::SmallMap;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    proptest! {
        /// Behaves like a BTreeMap under any sequence of inserts and removes.
        #[test]
        fn matches_btreemap(ops in prop::collection::vec((any::<bool>(), 0u8..20, any::<u16>()), 0..100)) {
            let mut small = SmallMap::new();
            let mut model = BTreeMap::new();
            for (insert, k, v) in ops {
                if insert {
                    prop_assert_eq!(small.insert(k, v), model.insert(k, v));
                } else {
                    prop_assert_eq!(small.remove(&k), model.remove(&k));
                }
                prop_assert!(small.iter().eq(model.iter()));
                prop_assert_eq!(small.get(&k), model.get(&k));
            }
        }

        /// A sorted merge gives what inserting the pairs one by one gives,
        /// when `other` names a key twice too.
        #[test]
        fn merge_sorted_matches_inserts(
            mine in prop::collection::btree_map(0u16..200, 0u32..1000, 0..60),
            mut theirs in prop::collection::vec((0u16..200, 0u32..1000), 0..60),
        ) {
            theirs.sort_by_key(|(k, _)| *k);
            let mut small: SmallMap<u16, u32> = mine.iter().map(|(k, v)| (*k, *v)).collect();
            let mut model = mine.clone();
            let added = small.merge_sorted(theirs.clone(), |a, b| *a = (*a).max(b));
            for (k, v) in &theirs {
                let e = model.entry(*k).or_insert(*v);
                *e = (*e).max(*v);
            }
            prop_assert!(small.iter().eq(model.iter()));
            prop_assert_eq!(added, model.len() - mine.len());
        }
    }
}
