//! The version vector: which dots a replica has seen.
//!
//! Usually it is one number per client ("seen 1..=n"), but out-of-order
//! delivery can leave holes (seq 5 arrived, 3 and 4 not yet), and merges must
//! still know exactly which dots are in. So each client maps to sorted,
//! disjoint, non-adjacent ranges; in the common case that is a single range
//! `1..=n`, as compact as a plain vector. This is the causal context of
//! delta-state CRDTs (a version vector plus a "dot cloud").

use core::cell::Cell;

use crate::client::ClientId;
use crate::prelude::*;
use crate::small_map::SmallMap;

/// The set of dots a replica has seen (or an update carries).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VersionVector {
    ranges: SmallMap<ClientId, Vec<(u64, u64)>>,
}

impl VersionVector {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether dot `(client, seq)` has been seen.
    pub fn contains(&self, client: &ClientId, seq: u64) -> bool {
        match self.ranges.get(client) {
            Some(rs) => contains(rs, seq),
            None => false,
        }
    }

    /// [`VersionVector::contains`] for a scan over many dots, see [`Lookup`].
    pub fn lookup(&self) -> Lookup<'_> {
        Lookup { vv: self, last: Cell::new(0), ranges: Cell::new(&[]), held: Cell::new(None) }
    }

    /// The highest `n` such that every dot `1..=n` of `client` was seen.
    pub fn contiguous(&self, client: &ClientId) -> u64 {
        match self.ranges.get(client).and_then(|rs| rs.first()) {
            Some(&(1, hi)) => hi,
            _ => 0,
        }
    }

    /// The highest seq of `client` seen, holes or not.
    pub fn max(&self, client: &ClientId) -> u64 {
        self.ranges.get(client).and_then(|rs| rs.last()).map_or(0, |r| r.1)
    }

    /// A version from each client's ranges (clients and ranges in any order,
    /// overlapping or not), in O(n log n) however hostile the order.
    pub fn from_ranges(clients: Vec<(ClientId, Vec<(u64, u64)>)>) -> VersionVector {
        let mut ranges = SmallMap::from_pairs(clients, |mine, more| mine.extend(more));
        ranges.retain(|_, rs| {
            normalize(rs);
            !rs.is_empty()
        });
        VersionVector { ranges }
    }

    /// A version holding the given dots (in any order).
    pub fn from_dots<'a>(dots: impl IntoIterator<Item = (&'a ClientId, u64)>) -> VersionVector {
        let mut per_client: Vec<(ClientId, Vec<(u64, u64)>)> = Vec::new();
        for (client, seq) in dots {
            match per_client.last_mut() {
                Some((c, rs)) if c == client => rs.push((seq, seq)),
                _ => per_client.push((client.clone(), vec![(seq, seq)])),
            }
        }
        VersionVector::from_ranges(per_client)
    }

    /// Marks dots `lo..=hi` of `client` as seen. Does nothing if `lo > hi` or `lo == 0`.
    pub fn insert_range(&mut self, client: &ClientId, lo: u64, hi: u64) {
        if lo == 0 || lo > hi {
            return;
        }
        let rs = self.ranges.get_or_insert_with(client, Vec::new);
        insert(rs, lo, hi);
    }

    pub fn insert(&mut self, client: &ClientId, seq: u64) {
        self.insert_range(client, seq, seq);
    }

    /// Adds every dot of `other`, in one pass over both (linear, however
    /// the two interleave).
    pub fn union(&mut self, other: &VersionVector) {
        let mut theirs = Vec::with_capacity(other.ranges.len());
        for (c, rs) in other.ranges.iter() {
            theirs.push((c.clone(), rs.clone()));
        }
        self.ranges.merge_sorted(theirs, |mine, rs| union_ranges(mine, &rs));
    }

    /// The dots in `self` that `other` lacks.
    pub fn difference(&self, other: &VersionVector) -> VersionVector {
        let mut out = VersionVector::new();
        for (client, rs) in &self.ranges {
            let theirs = other.ranges.get(client).map(Vec::as_slice).unwrap_or(&[]);
            let mut left = Vec::new();
            for &(lo, hi) in rs {
                subtract(lo, hi, theirs, &mut left);
            }
            if !left.is_empty() {
                out.ranges.insert(client.clone(), left);
            }
        }
        out
    }

    /// Whether some dot is in both. Walks the ranges of `self` and looks each
    /// up in `other` by binary search: put the smaller side first.
    pub fn intersects(&self, other: &VersionVector) -> bool {
        self.ranges.iter().any(|(client, rs)| {
            let theirs = other.ranges.get(client).map(Vec::as_slice).unwrap_or(&[]);
            rs.iter().any(|&(lo, hi)| {
                // The first of `theirs` not wholly below `lo`.
                let i = theirs.partition_point(|&(_, h)| h < lo);
                theirs.get(i).is_some_and(|&(tlo, _)| tlo <= hi)
            })
        })
    }

    /// Whether every dot of `other` is in `self`.
    pub fn covers(&self, other: &VersionVector) -> bool {
        other.difference(self).is_empty()
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// How many clients have at least one dot.
    pub fn client_count(&self) -> usize {
        self.ranges.len()
    }

    /// Whether `client` has at least one dot.
    pub fn has_client(&self, client: &ClientId) -> bool {
        self.ranges.contains_key(client)
    }

    /// Clients with at least one dot, in order.
    pub fn clients(&self) -> impl Iterator<Item = &ClientId> {
        self.ranges.keys()
    }

    /// Each client with its sorted, disjoint ranges of seen dots.
    pub fn iter(&self) -> impl Iterator<Item = (&ClientId, &[(u64, u64)])> {
        self.ranges.iter().map(|(c, rs)| (c, rs.as_slice()))
    }

    /// Number of dots in the set (saturating).
    pub fn len(&self) -> u64 {
        self.ranges
            .values()
            .flat_map(|rs| rs.iter())
            .fold(0u64, |acc, &(lo, hi)| acc.saturating_add(hi - lo + 1))
    }
}

/// Answers [`VersionVector::contains`] for dot after dot, remembering the
/// ranges of the last client it looked up. The entries of a document share
/// one `ClientId` per writer, while a version decoded from a peer has copies
/// of its own, so a scan of the document (what a delta for that version
/// lists) would otherwise compare client ids byte by byte for every entry.
pub struct Lookup<'a> {
    vv: &'a VersionVector,
    // The last client looked up, by address, and its ranges. `held` keeps that
    // client alive, so no other id can take its address while this lives.
    last: Cell<usize>,
    ranges: Cell<&'a [(u64, u64)]>,
    held: Cell<Option<ClientId>>,
}

impl Lookup<'_> {
    #[inline]
    pub fn contains(&self, client: &ClientId, seq: u64) -> bool {
        if self.last.get() != client.addr() {
            self.ranges.set(self.vv.ranges.get(client).map_or(&[], Vec::as_slice));
            self.last.set(client.addr());
            self.held.set(Some(client.clone()));
        }
        contains(self.ranges.get(), seq)
    }

    /// [`VersionVector::contiguous`].
    pub fn contiguous(&self, client: &ClientId) -> u64 {
        self.vv.contiguous(client)
    }
}

fn contains(rs: &[(u64, u64)], seq: u64) -> bool {
    if let [(lo, hi)] = rs {
        return (*lo..=*hi).contains(&seq); // the common case: no holes
    }
    // First range whose end is >= seq.
    let i = rs.partition_point(|&(_, hi)| hi < seq);
    rs.get(i).is_some_and(|&(lo, _)| lo <= seq)
}

/// Inserts `lo..=hi`, merging with overlapping or adjacent ranges.
fn insert(rs: &mut Vec<(u64, u64)>, lo: u64, hi: u64) {
    // Fast path: appending right after the last range (local writes, in-order delivery).
    if let Some(last) = rs.last_mut() {
        if lo >= last.0 && lo <= last.1.saturating_add(1) {
            last.1 = last.1.max(hi);
            return;
        }
    }
    // Ranges entirely before `lo - 1` stay; ranges starting after `hi + 1` stay.
    let start = rs.partition_point(|&(_, h)| h.saturating_add(1) < lo);
    let end = rs.partition_point(|&(l, _)| l <= hi.saturating_add(1));
    if start >= end {
        rs.insert(start, (lo, hi));
        return;
    }
    let new_lo = rs.get(start).map_or(lo, |r| r.0.min(lo));
    let new_hi = rs.get(end - 1).map_or(hi, |r| r.1.max(hi));
    // (Not `splice`: this shift is a memmove; splice cost 1 KB of wasm.)
    if let Some(r) = rs.get_mut(start) {
        *r = (new_lo, new_hi);
    }
    let len = rs.len();
    if end < len {
        rs.copy_within(end.., start + 1);
    }
    rs.truncate(len - (end - start - 1));
}

/// Sorts ranges and joins overlapping or adjacent ones; drops empty ones.
fn normalize(rs: &mut Vec<(u64, u64)>) {
    rs.retain(|&(lo, hi)| lo != 0 && lo <= hi);
    crate::sort::sort(rs);
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(rs.len());
    for &(lo, hi) in rs.iter() {
        match out.last_mut() {
            Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
            _ => out.push((lo, hi)),
        }
    }
    *rs = out;
}

/// Adds `theirs` (sorted, disjoint) to `mine`: range by range when there are
/// a few, else in one merging pass.
fn union_ranges(mine: &mut Vec<(u64, u64)>, theirs: &[(u64, u64)]) {
    if theirs.len() <= 4 {
        for &(lo, hi) in theirs {
            insert(mine, lo, hi);
        }
        return;
    }
    let mut all: Vec<(u64, u64)> = Vec::with_capacity(mine.len() + theirs.len());
    let (mut a, mut b) = (mine.iter().peekable(), theirs.iter().peekable());
    loop {
        let next = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) if x <= y => a.next(),
            (Some(_), Some(_)) => b.next(),
            (Some(_), None) => a.next(),
            (None, Some(_)) => b.next(),
            (None, None) => break,
        };
        if let Some(&(lo, hi)) = next {
            match all.last_mut() {
                Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
                _ => all.push((lo, hi)),
            }
        }
    }
    *mine = all;
}

/// Pushes onto `out` the parts of `lo..=hi` not covered by `theirs`.
fn subtract(lo: u64, hi: u64, theirs: &[(u64, u64)], out: &mut Vec<(u64, u64)>) {
    let mut cur = lo;
    let first = theirs.partition_point(|&(_, h)| h < lo);
    for &(tlo, thi) in theirs.iter().skip(first) {
        if tlo > hi {
            break;
        }
        if tlo > cur {
            out.push((cur, tlo - 1));
        }
        cur = cur.max(thi.saturating_add(1));
        if cur > hi || thi == u64::MAX {
            return;
        }
    }
    if cur <= hi {
        out.push((cur, hi));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn c(s: &str) -> ClientId {
        ClientId::new(s).unwrap()
    }

    #[test]
    fn holes_are_recorded_and_filled() {
        let a = c("a");
        let mut v = VersionVector::new();
        v.insert(&a, 1);
        v.insert(&a, 2);
        v.insert(&a, 5);
        assert_eq!(v.contiguous(&a), 2);
        assert_eq!(v.max(&a), 5);
        assert!(!v.contains(&a, 3));
        v.insert_range(&a, 3, 4);
        assert_eq!(v.contiguous(&a), 5);
        assert_eq!(v.iter().next().unwrap().1, &[(1, 5)]);
    }

    fn model(v: &VersionVector) -> BTreeSet<(String, u64)> {
        v.iter()
            .flat_map(|(c, rs)| rs.iter().flat_map(move |&(l, h)| (l..=h).map(move |s| (c.to_string(), s))))
            .collect()
    }

    fn build(dots: &[(u8, u64)]) -> VersionVector {
        let mut v = VersionVector::new();
        for &(cl, s) in dots {
            v.insert(&c(&format!("c{cl}")), s);
        }
        v
    }

    fn dots() -> impl Strategy<Value = Vec<(u8, u64)>> {
        prop::collection::vec((0u8..3, 1u64..40), 0..40)
    }

    proptest! {
        #[test]
        fn matches_a_set_model(a in dots(), b in dots()) {
            let va = build(&a);
            let vb = build(&b);
            let ma = model(&va);
            let mb = model(&vb);
            // Ranges stay sorted, disjoint and non-adjacent.
            for (_, rs) in va.iter() {
                for w in rs.windows(2) {
                    prop_assert!(w[0].1 + 1 < w[1].0);
                }
            }
            let mut u = va.clone();
            u.union(&vb);
            prop_assert_eq!(model(&u), ma.union(&mb).cloned().collect::<BTreeSet<_>>());
            prop_assert_eq!(model(&va.difference(&vb)), ma.difference(&mb).cloned().collect::<BTreeSet<_>>());
            prop_assert_eq!(va.covers(&vb), mb.is_subset(&ma));
            prop_assert_eq!(va.intersects(&vb), !ma.is_disjoint(&mb));
            prop_assert_eq!(vb.intersects(&va), !ma.is_disjoint(&mb));
            // Built at once from the same dots in any order, with repeats.
            let mut all: Vec<(ClientId, u64)> = a.iter().chain(b.iter()).map(|&(cl, s)| (c(&format!("c{cl}")), s)).collect();
            all.reverse();
            let vd = VersionVector::from_dots(all.iter().map(|(cl, s)| (cl, *s)));
            prop_assert_eq!(&vd, &u);
            let pairs: Vec<(ClientId, Vec<(u64, u64)>)> = all.iter().map(|(cl, s)| (cl.clone(), vec![(*s, *s + 1)])).collect();
            let vr = VersionVector::from_ranges(pairs);
            let expect: BTreeSet<(String, u64)> = all.iter().flat_map(|(cl, s)| [(cl.to_string(), *s), (cl.to_string(), *s + 1)]).collect();
            prop_assert_eq!(model(&vr), expect);
            for s in 1..42 {
                prop_assert_eq!(va.contains(&c("c0"), s), ma.contains(&("c0".to_string(), s)));
            }
        }

        /// Inserting ranges in any order, each able to span, join or fall
        /// between the ranges held, keeps them sorted, disjoint and
        /// non-adjacent, and holds exactly the dots inserted.
        #[test]
        fn inserted_ranges_hold_exactly_their_dots(ranges in prop::collection::vec((1u64..60, 0u64..12), 0..30)) {
            let a = c("a");
            let mut v = VersionVector::new();
            let mut expect = BTreeSet::new();
            for &(lo, len) in &ranges {
                v.insert_range(&a, lo, lo + len);
                expect.extend((lo..=lo + len).map(|s| ("a".to_string(), s)));
                for (_, rs) in v.iter() {
                    for w in rs.windows(2) {
                        prop_assert!(w[0].1 + 1 < w[1].0, "{:?}", rs);
                    }
                }
            }
            prop_assert_eq!(model(&v), expect);
        }

        /// A lookup answers as the version does, query after query, whether
        /// the client asked about is the one before (the same shared id), an
        /// equal id of its own, or another client.
        #[test]
        fn a_lookup_answers_as_the_version(a in dots(), queries in prop::collection::vec((0u8..4, any::<bool>(), 0u64..42), 0..60)) {
            let va = build(&a);
            let shared: Vec<ClientId> = (0..4).map(|cl| c(&format!("c{cl}"))).collect();
            let lookup = va.lookup();
            for (cl, fresh, s) in queries {
                let id = if fresh { c(&format!("c{cl}")) } else { shared[cl as usize].clone() };
                prop_assert_eq!(lookup.contains(&id, s), va.contains(&id, s), "c{} seq {}", cl, s);
                prop_assert_eq!(lookup.contiguous(&id), va.contiguous(&id));
            }
        }
    }
}
