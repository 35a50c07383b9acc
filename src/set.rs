//! The set: observed-remove, add wins (an ORSWOT: no tombstones per element).
//!
//! Every add tags its element with the add's dot. A remove drops the tags this
//! replica has seen; an add it has not seen (a concurrent one) survives, so
//! concurrent add and remove resolve to "present". Nothing is kept for removed
//! elements: the document's version vector says which dots a replica has seen,
//! so a tag that one side has seen and the other lacks was removed (Bieniusa
//! et al., 2012). Every add is a new add, a re-add of a present element too:
//! it adds a tag of its own, so a concurrent remove that saw only the earlier
//! add does not undo it. The document makes a re-add of a present element a
//! remove of the tags it has seen followed by the add (`Doc::add`): the new
//! tag stands for them, and an element re-added again and again (a heartbeat)
//! keeps one tag, not one per add. The remove is an ordinary one, with a
//! change number of its own: were it the add's, a later remove of the new tag
//! would tell peers that change was seen, and a peer learning of it only so
//! would never drop the tags it replaced. Tags of adds the re-adder had not
//! seen stay: an element carries one tag per concurrent add.
//!
//! To carry a removal in a *delta* (which does not list unchanged keys), a set
//! keeps a small removal record: each client's latest remove seq on this key
//! and when it happened. The document purges the record after the tombstone
//! retention period, like a register tombstone.
//!
//! ```
//! use slotkv::{ClientId, Set, VersionVector};
//! let (a, b) = (ClientId::new("a").unwrap(), ClientId::new("b").unwrap());
//! let (mut x, mut y) = (Set::default(), Set::default());
//! let (mut seen_x, mut seen_y) = (VersionVector::new(), VersionVector::new());
//! x.add("👍", &a, 1); seen_x.insert(&a, 1);
//! y.add("👍", &b, 1); seen_y.insert(&b, 1);
//! y.merge(&x, &seen_y, &seen_x); seen_y.insert(&a, 1);
//! x.remove("👍", &a, 2, 0).unwrap(); seen_x.insert(&a, 2); // a removes only what it saw
//! y.merge(&x, &seen_y, &seen_x);
//! assert!(y.contains("👍")); // b's add was concurrent: it wins
//! ```

use alloc::borrow::Cow;

use crate::client::ClientId;
use crate::doc::Key;
use crate::key_map::KeyMap;
use crate::prelude::*;
use crate::small_map::SmallMap;
use crate::version::{Lookup, VersionVector};

/// An element's add tags: the dots `(client, seq)` of the adds that put it
/// there and that no one who saw them has removed, sorted.
pub type Tags = Vec<(ClientId, u64)>;

/// An add-wins observed-remove set of strings.
#[derive(Debug, Default)]
pub struct Set {
    /// Elements are shared strings: an update that names one long element in
    /// many sets holds it once, as its string table does.
    elements: KeyMap<Tags>,
    /// Each client's latest remove here: while a peer has not seen it, deltas
    /// send this set whole so the peer can drop the removed tags too.
    removes: SmallMap<ClientId, u64>,
    /// Wall-clock milliseconds (document clock) of the latest remove.
    removed_at: u64,
    /// Where each tag is, once a merge has needed it.
    index: Index,
}

// The dot index is a cache of `elements`: a copy starts without one, and
// equality ignores it.
impl Clone for Set {
    fn clone(&self) -> Self {
        Set { elements: self.elements.clone(), removes: self.removes.clone(), removed_at: self.removed_at, index: Index::Unbuilt }
    }
}

impl PartialEq for Set {
    fn eq(&self, other: &Self) -> bool {
        self.elements == other.elements && self.removes == other.removes && self.removed_at == other.removed_at
    }
}

impl Eq for Set {}

/// How many tags one merge may insert out of seq order into a set's dot
/// index (each shifts the client's later entries) before it drops the index.
const MAX_SHIFTS: usize = 64;

/// A set's dot index: an update's dots name the tags a remove dropped, never
/// the element, so without one a replica receiving a remove walks the whole
/// set to find them. A set builds it the first time a merge brings fewer
/// dots than the set has elements. From then on every change to the
/// elements keeps it in step, or drops it, to be built again when next
/// wanted: a merge that walks and drops tags, or that would shift many
/// entries; a copy of the set starts without one.
#[derive(Debug, Default)]
enum Index {
    #[default]
    Unbuilt,
    Built(Dots),
    /// A dot tags two elements: every add has a dot of its own, so only a
    /// malformed update does that, and the merge walks this set as it
    /// would without an index (which handles it as every replica does).
    Shared,
}

/// For each client, its seqs that tag an element of the set, in order, with
/// the element. A dropped tag leaves a hole (`None`), and the holes go once
/// they outnumber the tags, so that dropping a tag costs no shift.
#[derive(Debug, Default)]
struct Dots {
    by_client: SmallMap<ClientId, Vec<(u64, Option<Key>)>>,
    holes: usize,
    tags: usize,
}

impl Dots {
    /// The index of `elements`; `None` if a dot tags two of them.
    fn of(elements: &KeyMap<Tags>) -> Option<Dots> {
        let mut by_client = SmallMap::new();
        let mut count = 0;
        for (element, tags) in elements.iter() {
            for (client, seq) in tags {
                by_client.get_or_insert_with(client, Vec::new).push((*seq, Some(element.clone())));
                count += 1;
            }
        }
        let mut shared = false;
        by_client.retain(|_, v: &mut Vec<(u64, Option<Key>)>| {
            crate::sort::sort_by(v, |a, b| a.0 < b.0);
            shared |= v.windows(2).any(|w| matches!(w, [a, b] if a.0 == b.0));
            true
        });
        (!shared).then_some(Dots { by_client, holes: 0, tags: count })
    }

    /// Records tag `(client, seq)` of `element`: `Some(whether it shifted
    /// later entries)`, or `None` if the dot already tags another element.
    fn insert(&mut self, client: &ClientId, seq: u64, element: &Key) -> Option<bool> {
        let v = self.by_client.get_or_insert_with(client, Vec::new);
        let i = v.partition_point(|(s, _)| *s < seq);
        let shifts = i < v.len();
        match v.get_mut(i) {
            Some((s, Some(e))) if *s == seq => (**e == **element).then_some(false),
            Some((s, slot)) if *s == seq => {
                *slot = Some(element.clone());
                self.holes -= 1;
                self.tags += 1;
                Some(false)
            }
            _ => {
                v.insert(i, (seq, Some(element.clone())));
                self.tags += 1;
                Some(shifts)
            }
        }
    }

    fn remove(&mut self, client: &ClientId, seq: u64) {
        let Some(v) = self.by_client.get_mut(client) else {
            return;
        };
        let Ok(i) = v.binary_search_by(|(s, _)| s.cmp(&seq)) else {
            return;
        };
        if let Some((_, slot)) = v.get_mut(i) {
            if slot.take().is_some() {
                self.holes += 1;
                self.tags -= 1;
            }
        }
        if self.holes > self.tags {
            self.by_client.retain(|_, v| {
                v.retain(|(_, slot)| slot.is_some());
                !v.is_empty()
            });
            self.holes = 0;
        }
    }

    /// Whether this lists exactly the tags of `elements`, and counts them right.
    fn lists(&self, elements: &KeyMap<Tags>) -> bool {
        let mut held: Vec<(&ClientId, u64, &str)> =
            elements.iter().flat_map(|(e, tags)| tags.iter().map(move |(c, s)| (c, *s, &**e))).collect();
        held.sort();
        let mut listed: Vec<(&ClientId, u64, &str)> = Vec::new();
        let mut slots = 0;
        for (client, v) in self.by_client.iter() {
            slots += v.len();
            let in_order = v.windows(2).all(|w| matches!(w, [a, b] if a.0 < b.0));
            if !in_order || v.is_empty() {
                return false;
            }
            listed.extend(v.iter().filter_map(|(s, e)| e.as_deref().map(|e| (client, *s, e))));
        }
        listed.sort();
        listed == held && self.tags == held.len() && self.holes == slots - held.len()
    }

    /// The tags whose dots are in `dots`, with their elements.
    fn tagged<'a>(&self, dots: &'a VersionVector) -> Vec<(&'a ClientId, u64, Key)> {
        let mut out = Vec::new();
        for (client, ranges) in dots.iter() {
            let Some(v) = self.by_client.get(client) else {
                continue;
            };
            for &(lo, hi) in ranges {
                let from = v.partition_point(|(s, _)| *s < lo);
                for (seq, element) in v.get(from..).unwrap_or(&[]) {
                    if *seq > hi {
                        break;
                    }
                    if let Some(element) = element {
                        out.push((client, *seq, element.clone()));
                    }
                }
            }
        }
        out
    }
}

impl Index {
    /// Records a new tag; returns whether that shifted other entries.
    fn tag(&mut self, client: &ClientId, seq: u64, element: &Key) -> bool {
        let Index::Built(dots) = self else {
            return false;
        };
        match dots.insert(client, seq, element) {
            Some(shifted) => shifted,
            None => {
                *self = Index::Shared;
                false
            }
        }
    }

    fn untag(&mut self, client: &ClientId, seq: u64) {
        if let Index::Built(dots) = self {
            dots.remove(client, seq);
        }
    }

    /// An element's tags went from `old` to `new` (both sorted). `shifts`
    /// counts the new tags of one merge that shifted other entries; past
    /// [`MAX_SHIFTS`] the index is dropped.
    fn retag(&mut self, element: &Key, old: &Tags, new: &Tags, shifts: &mut usize) {
        if !matches!(self, Index::Built(_)) {
            return;
        }
        for (client, seq) in old.iter().filter(|t| new.binary_search(t).is_err()) {
            self.untag(client, *seq);
        }
        for (client, seq) in new.iter().filter(|t| old.binary_search(t).is_err()) {
            if self.tag(client, *seq, element) {
                *shifts += 1;
                if *shifts > MAX_SHIFTS {
                    self.forget();
                }
            }
        }
    }

    /// Drops a built index (to be built again when next wanted).
    fn forget(&mut self) {
        if let Index::Built(_) = self {
            *self = Index::Unbuilt;
        }
    }
}

impl Set {
    /// Adds `element` with the tag `(client, seq)`: a new tag, whatever
    /// tags the element holds already. Returns the element as the set holds
    /// it (shared), so a transaction can name it without a copy.
    pub fn add(&mut self, element: &str, client: &ClientId, seq: u64) -> Key {
        let (element, tags) = self.elements.entry(element, || Tags::with_capacity(1));
        tags.push((client.clone(), seq));
        crate::sort::sort(tags);
        self.index.tag(client, seq, element);
        let element = element.clone();
        debug_assert!(self.index_in_step());
        element
    }

    /// Removes `element` (every tag seen here) as change `(client, seq)` at
    /// `now_ms`, returning the removed tags; `None`, changing nothing, if it
    /// is not a member.
    pub fn remove(&mut self, element: &str, client: &ClientId, seq: u64, now_ms: u64) -> Option<Tags> {
        let tags = self.elements.remove(element)?;
        for (c, s) in &tags {
            self.index.untag(c, *s);
        }
        self.removes.insert(client.clone(), seq);
        self.removed_at = self.removed_at.max(now_ms);
        debug_assert!(self.index_in_step());
        Some(tags)
    }

    /// Re-adds `element`, a member: removes every tag seen here as change
    /// `(client, seq)` at `now_ms`, then tags it with the next change,
    /// `(client, seq + 1)`, as [`Set::remove`] and then [`Set::add`] would,
    /// but in place: one search, and the element keeps its entry. Returns
    /// the element and the removed tags; `None`, changing nothing, if it is
    /// not a member.
    pub fn re_add(&mut self, element: &str, client: &ClientId, seq: u64, now_ms: u64) -> Option<(Key, Tags)> {
        let (element, tags) = self.elements.get_key_value_mut(element)?;
        let removed = core::mem::replace(tags, vec![(client.clone(), seq + 1)]);
        for (c, s) in &removed {
            self.index.untag(c, *s);
        }
        self.removes.insert(client.clone(), seq);
        self.removed_at = self.removed_at.max(now_ms);
        let element = element.clone();
        self.index.tag(client, seq + 1, &element);
        debug_assert!(self.index_in_step());
        Some((element, removed))
    }

    /// Whether `element` holds the tag `(client, seq)`.
    pub fn has_tag(&self, element: &str, client: &ClientId, seq: u64) -> bool {
        self.elements.get(element).is_some_and(|tags| tags.iter().any(|(c, s)| *s == seq && c == client))
    }

    pub fn contains(&self, element: &str) -> bool {
        self.elements.contains_key(element)
    }

    /// Members in UTF-8 byte order.
    pub fn members(&self) -> Vec<&str> {
        self.elements.keys_where(&|_| true)
    }

    /// Members with their tags.
    pub fn elements(&self) -> impl Iterator<Item = (&str, &Tags)> {
        self.elements.iter().map(|(e, t)| (&**e, t))
    }

    pub fn len(&self) -> usize {
        self.elements.len()
    }

    /// No members (the set may still hold a removal record).
    pub fn is_empty(&self) -> bool {
        self.elements.is_empty()
    }

    /// Each client's latest remove, and when the latest happened.
    pub fn removal_record(&self) -> (&SmallMap<ClientId, u64>, u64) {
        (&self.removes, self.removed_at)
    }

    /// Builds a set from decoded parts (tags sorted, unique, non-empty per element).
    pub fn from_parts(elements: KeyMap<Tags>, removes: SmallMap<ClientId, u64>, removed_at: u64) -> Set {
        Set { elements, removes, removed_at, index: Index::Unbuilt }
    }

    /// Drops the removal record once it is older than the retention period,
    /// reporting each purged dot to `purged`.
    pub fn purge_removals(&mut self, horizon_ms: u64, mut purged: impl FnMut(&ClientId, u64)) {
        if !self.removes.is_empty() && self.removed_at <= horizon_ms {
            for (client, &seq) in &self.removes {
                purged(client, seq);
            }
            self.removes.clear();
            self.removed_at = 0;
        }
    }

    /// Whether it holds a removal record (which a purge drops after the retention).
    pub fn holds_removals(&self) -> bool {
        !self.removes.is_empty()
    }

    /// Nothing left: no members and no removal record.
    pub fn is_vacant(&self) -> bool {
        self.elements.is_empty() && self.removes.is_empty()
    }

    /// What a replica that has seen `since` lacks of this set, and whether it
    /// is sent whole. It is whole while the replica has not seen one of our
    /// removes: then the receiver reads the sender's whole version against it
    /// to find the tags removed. Otherwise it holds only the tags `since` lacks.
    pub fn delta(&self, since: &Lookup<'_>) -> Option<(Cow<'_, Set>, bool)> {
        let removals = self.removes.iter().any(|(c, &s)| s > since.contiguous(c));
        if removals {
            return Some((Cow::Borrowed(self), true));
        }
        let part = self.part(|c, s| !since.contains(c, s));
        (!part.elements.is_empty()).then_some((Cow::Owned(part), false))
    }

    /// The tags and removal-record entries whose dots `pick` accepts.
    pub fn part(&self, pick: impl Fn(&ClientId, u64) -> bool) -> Set {
        let mut part = self.removals_part(&pick);
        for (element, tags) in &self.elements {
            part.keep(element, tags, &pick);
        }
        part
    }

    /// [`Set::part`] without any element: only the removal-record entries.
    /// [`Set::pick_element`] then adds the elements wanted, so the part a
    /// transaction's update carries costs what the transaction added, not
    /// the size of the set.
    pub fn removals_part(&self, pick: &dyn Fn(&ClientId, u64) -> bool) -> Set {
        let mut removes = SmallMap::new();
        for (c, s) in self.removes.iter() {
            if pick(c, *s) {
                removes.insert(c.clone(), *s);
            }
        }
        let removed_at = if removes.is_empty() { 0 } else { self.removed_at };
        Set { elements: KeyMap::new(), removes, removed_at, index: Index::Unbuilt }
    }

    /// Adds to this part the tags of `element` in `whole` that `pick` accepts.
    pub fn pick_element(&mut self, whole: &Set, element: &str, pick: &dyn Fn(&ClientId, u64) -> bool) {
        if let Some((element, tags)) = whole.elements.get_key_value(element) {
            self.keep(element, tags, pick);
        }
    }

    fn keep(&mut self, element: &Key, tags: &Tags, pick: &dyn Fn(&ClientId, u64) -> bool) {
        let mut picked = Tags::new();
        for (c, s) in tags {
            if pick(c, *s) {
                picked.push((c.clone(), *s));
            }
        }
        if !picked.is_empty() {
            self.index.forget(); // (a part, built for an update, has none)
            self.elements.insert(element.clone(), picked);
        }
    }

    /// Merges a peer's set into this one (the join of dot stores).
    ///
    /// A tag survives if both sides hold it, or if the side lacking it has not
    /// seen its dot. `their_seen` holds the dots whose fate `theirs` shows: the
    /// sender's whole version for a full state or a set sent whole, or the
    /// dots a delta delivers (whose tags, if the sender still holds them, are
    /// in the delta). Every tag this set holds must be in `my_seen` (a
    /// replica has seen what it holds). Returns whether anything changed.
    pub fn merge(&mut self, theirs: &Set, my_seen: &VersionVector, their_seen: &VersionVector) -> bool {
        self.merge_seen(theirs, my_seen, PeerSeen::new(their_seen, my_seen))
    }

    /// [`Set::merge`] with `their_seen` read beforehand, for the many sets
    /// of one update.
    pub fn merge_seen(&mut self, theirs: &Set, my_seen: &VersionVector, their_seen: PeerSeen<'_>) -> bool {
        self.merge_in(theirs, my_seen, their_seen, true)
    }

    /// Only the adds of [`Set::merge`]: takes the tags of `theirs` this
    /// replica has not seen, and removes nothing (against an empty
    /// `their_seen`, no tag of ours counts as removed there), nor takes the
    /// removal record. For a replica that cannot count `theirs`'s removes as
    /// seen (`Doc::apply` says when): it would then hold their effect
    /// without their dots, which no delta passes on.
    pub fn merge_adds(&mut self, theirs: &Set, my_seen: &VersionVector) -> bool {
        let none = VersionVector::default();
        self.merge_in(theirs, my_seen, PeerSeen::new(&none, my_seen), false)
    }

    fn merge_in(&mut self, theirs: &Set, my_seen: &VersionVector, seen: PeerSeen<'_>, removals: bool) -> bool {
        let their_seen = seen.vv;
        // Elements only we hold: keep the tags the peer has not seen. Every
        // tag we hold is in `my_seen`, so when the peer's dots are all new to
        // us (a transaction that only added, say) none is touched, and the
        // set, however large, is not looked at. When they are few (a
        // transaction that removed), the tags they name are looked up.
        let mut changed = seen.meets_mine && self.drop_seen(theirs, their_seen, seen.dots < self.elements.len() as u64);
        let mut shifts = 0;
        for (element, their_tags) in &theirs.elements {
            let empty = Tags::new();
            let (key, my_tags) = self.elements.get_key_value(element).unwrap_or((element, &empty));
            let merged = merge_tags(my_tags, their_tags, my_seen, their_seen);
            if &merged != my_tags {
                changed = true;
                self.index.retag(key, my_tags, &merged, &mut shifts);
                let key = key.clone();
                if merged.is_empty() {
                    self.elements.remove(&key);
                } else {
                    self.elements.insert(key, merged);
                }
            }
        }
        if !removals {
            debug_assert!(self.index_in_step());
            return changed;
        }
        // A remove this replica has seen is not taken again: its record entry
        // may have been purged after the retention, and must stay so.
        let mut fresh = false;
        for (client, &seq) in &theirs.removes {
            if my_seen.contains(client, seq) {
                continue;
            }
            fresh = true;
            let mine = self.removes.get_or_insert_with(client, || 0);
            if seq > *mine {
                *mine = seq;
                changed = true;
            }
        }
        if fresh && theirs.removed_at > self.removed_at {
            self.removed_at = theirs.removed_at;
            changed = true;
        }
        debug_assert!(self.index_in_step());
        changed
    }

    /// Whether the dot index, if there is one, is in step with the elements
    /// (checked in debug builds on sets small enough not to slow them down).
    fn index_in_step(&self) -> bool {
        let Index::Built(dots) = &self.index else {
            return true;
        };
        self.elements.len() > 256 || dots.lists(&self.elements)
    }

    /// Drops the tags seen in `their_seen` from the elements `theirs` does
    /// not hold, finding them through the dot index (`by_dot`: built if need
    /// be, and if it can be) or by walking every element. Returns whether
    /// any was dropped.
    fn drop_seen(&mut self, theirs: &Set, their_seen: &VersionVector, by_dot: bool) -> bool {
        if by_dot && matches!(self.index, Index::Unbuilt) {
            self.index = Dots::of(&self.elements).map_or(Index::Shared, Index::Built);
        }
        let mut changed = false;
        if let (true, Index::Built(dots)) = (by_dot, &mut self.index) {
            let elements = &mut self.elements;
            for (client, seq, element) in dots.tagged(their_seen) {
                if theirs.elements.contains_key(&element) {
                    continue;
                }
                let Some(tags) = elements.get_mut(&element) else {
                    continue; // (the index lists only elements held)
                };
                // An element is listed once per such tag: the first drops them all.
                if tags.binary_search_by(|(c, s)| c.cmp(client).then(s.cmp(&seq))).is_err() {
                    continue;
                }
                let before = tags.len();
                tags.retain(|(c, s)| {
                    let seen = their_seen.contains(c, *s);
                    if seen {
                        dots.remove(c, *s);
                    }
                    !seen
                });
                changed |= tags.len() != before;
                if tags.is_empty() {
                    elements.remove(&element);
                }
            }
        } else {
            self.elements.retain(|element, tags| {
                if theirs.elements.contains_key(element) {
                    return true;
                }
                let before = tags.len();
                tags.retain(|(c, s)| !their_seen.contains(c, *s));
                changed |= tags.len() != before;
                !tags.is_empty()
            });
            // Many tags may have gone: the next merge that wants the index
            // builds it again rather than this one updating it tag by tag.
            if changed {
                self.index.forget();
            }
        }
        changed
    }
}

/// The join of one element's tags: those both hold, ours the peer has not
/// seen, theirs we have not seen. Both lists are sorted and so is the
/// result: one merging pass.
fn merge_tags(mine: &Tags, theirs: &Tags, my_seen: &VersionVector, their_seen: &VersionVector) -> Tags {
    let mut out = Tags::with_capacity(mine.len().max(theirs.len()));
    let (mut a, mut b) = (mine.iter().peekable(), theirs.iter().peekable());
    loop {
        let (keep, tag) = match (a.peek(), b.peek()) {
            (Some(&x), Some(&y)) if x == y => {
                b.next();
                (true, a.next())
            }
            (Some(&x), Some(&y)) if x < y => (!their_seen.contains(&x.0, x.1), a.next()),
            (Some(&x), None) => (!their_seen.contains(&x.0, x.1), a.next()),
            (_, Some(&y)) => (!my_seen.contains(&y.0, y.1), b.next()),
            (None, None) => break,
        };
        if let (true, Some(t)) = (keep, tag) {
            out.push(t.clone());
        }
    }
    out
}

/// A peer's version as [`Set::merge`] reads it, with what every set's merge
/// asks of it found once: whether it holds a dot this replica has seen, and
/// how many dots it holds. One update may list many sets against a version
/// of many ranges, and asking per set would cost the product of the two.
#[derive(Clone, Copy)]
pub struct PeerSeen<'a> {
    vv: &'a VersionVector,
    meets_mine: bool,
    dots: u64,
}

impl<'a> PeerSeen<'a> {
    pub fn new(vv: &'a VersionVector, my_seen: &VersionVector) -> PeerSeen<'a> {
        PeerSeen { vv, meets_mine: vv.intersects(my_seen), dots: vv.len() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn c(s: &str) -> ClientId {
        ClientId::new(s).unwrap()
    }

    /// A replica of one set with its version vector, for the scenarios.
    #[derive(Clone, Debug, Default)]
    struct Replica {
        set: Set,
        seen: VersionVector,
        id: Option<ClientId>,
        seq: u64,
    }

    impl Replica {
        fn new(id: &str) -> Self {
            Replica { id: Some(c(id)), ..Default::default() }
        }
        fn me(&self) -> ClientId {
            self.id.clone().unwrap()
        }
        fn add(&mut self, e: &str) {
            self.seq += 1;
            let me = self.me();
            self.set.add(e, &me, self.seq);
            self.seen.insert(&me, self.seq);
        }
        fn remove(&mut self, e: &str) {
            let me = self.me();
            if self.set.remove(e, &me, self.seq + 1, 0).is_some() {
                self.seq += 1;
                self.seen.insert(&me, self.seq);
            }
        }
        fn receive(&mut self, other: &Replica) {
            self.set.merge(&other.set, &self.seen, &other.seen);
            self.seen.union(&other.seen);
        }
    }

    #[test]
    fn concurrent_add_survives_a_remove_that_did_not_see_it() {
        let mut a = Replica::new("a");
        let mut b = Replica::new("b");
        a.add("👍");
        b.receive(&a);
        a.remove("👍");
        b.add("👍"); // concurrent: b adds its own tag, which a has not seen
        a.receive(&b);
        b.receive(&a);
        assert!(a.set.contains("👍"));
        assert_eq!(a.set, b.set);
    }

    #[test]
    fn a_re_add_is_a_new_tag_that_survives_a_remove_that_saw_only_the_first_add() {
        let mut a = Replica::new("a");
        let mut b = Replica::new("b");
        a.add("x");
        b.receive(&a);
        a.add("x"); // a re-add: a second tag of a's
        assert_eq!(a.set.elements().next().map(|(_, t)| t.clone()), Some(vec![(c("a"), 1), (c("a"), 2)]));
        b.remove("x"); // concurrent: b saw only the first add
        a.receive(&b);
        b.receive(&a);
        assert!(a.set.contains("x") && b.set.contains("x"));
        assert_eq!(a.set.elements().collect::<Vec<_>>(), b.set.elements().collect::<Vec<_>>());
    }

    #[test]
    fn a_and_b_add_a_removes_after_seeing_only_its_own_add_the_element_stays() {
        let mut a = Replica::new("a");
        let mut b = Replica::new("b");
        a.add("👍");
        b.add("👍");
        a.remove("👍");
        a.receive(&b);
        b.receive(&a);
        assert!(a.set.contains("👍") && b.set.contains("👍"));
    }

    #[test]
    fn a_seen_remove_removes_everywhere() {
        let mut a = Replica::new("a");
        let mut b = Replica::new("b");
        a.add("x");
        b.receive(&a);
        b.remove("x");
        a.receive(&b);
        assert!(!a.set.contains("x"));
        b.receive(&a);
        assert!(!b.set.contains("x"));
    }

    #[test]
    fn per_user_elements_are_independent() {
        let mut a = Replica::new("a");
        let mut b = Replica::new("b");
        a.add("alice:👍");
        b.add("bob:👍");
        a.receive(&b);
        a.remove("alice:👍");
        b.receive(&a);
        assert_eq!(b.set.members(), vec!["bob:👍"]);
    }

    #[test]
    fn a_dot_on_two_elements_is_merged_as_without_an_index() {
        // Only a malformed update tags two elements with one dot. The index
        // cannot hold that, so the set walks, as a copy without one does.
        let (h, me) = (c("h"), c("me"));
        let mut set = Set::default();
        let mut seen = VersionVector::new();
        for (seq, e) in [(1, "p"), (2, "q"), (3, "r")] {
            set.add(e, &me, seq);
            seen.insert(&me, seq);
        }
        assert!(!set.drop_seen(&Set::default(), &VersionVector::new(), true));
        assert!(matches!(set.index, Index::Built(_)));
        let mut walked = set.clone();
        let mut evil = KeyMap::new();
        evil.insert(Key::from("X"), vec![(h.clone(), 5)]);
        evil.insert(Key::from("Y"), vec![(h.clone(), 5)]);
        let evil = Set::from_parts(evil, SmallMap::new(), 0);
        let evil_seen = VersionVector::from_dots([(&h, 5)]);
        for s in [&mut set, &mut walked] {
            assert!(s.merge(&evil, &seen, &evil_seen));
        }
        assert!(matches!(set.index, Index::Shared));
        seen.insert(&h, 5);
        // A remove, elsewhere, that saw (h, 5) and holds neither X nor Y.
        let remove_seen = VersionVector::from_dots([(&h, 5), (&h, 6)]);
        for s in [&mut set, &mut walked] {
            assert!(s.merge(&Set::default(), &seen, &remove_seen));
        }
        assert!(matches!(walked.index, Index::Shared));
        assert_eq!(set, walked);
        assert_eq!(set.members(), ["p", "q", "r"]);
    }

    #[derive(Clone, Debug)]
    enum Op {
        Add(usize, u8),
        Remove(usize, u8),
        Sync(usize, usize),
    }

    fn ops() -> impl Strategy<Value = Vec<Op>> {
        let op = prop_oneof![
            (0usize..3, 0u8..4).prop_map(|(r, e)| Op::Add(r, e)),
            (0usize..3, 0u8..4).prop_map(|(r, e)| Op::Remove(r, e)),
            (0usize..3, 0usize..3).prop_map(|(a, b)| Op::Sync(a, b)),
        ];
        prop::collection::vec(op, 0..40)
    }

    fn run(ops: &[Op]) -> Vec<Replica> {
        let mut rs = vec![Replica::new("r0"), Replica::new("r1"), Replica::new("r2")];
        for op in ops {
            match *op {
                Op::Add(r, e) => rs[r].add(&e.to_string()),
                Op::Remove(r, e) => rs[r].remove(&e.to_string()),
                Op::Sync(a, b) => {
                    let from = rs[a].clone();
                    rs[b].receive(&from);
                }
            }
        }
        rs
    }

    proptest! {
        /// Finding the tags to drop through the dot index gives what walking
        /// the set gives, and the index stays in step with the elements
        /// through the adds, removes and merges that follow.
        #[test]
        fn dropping_by_dot_agrees_with_walking(ops in ops()) {
            let mut rs = vec![Replica::new("r0"), Replica::new("r1"), Replica::new("r2")];
            for op in &ops {
                match *op {
                    Op::Add(r, e) => rs[r].add(&e.to_string()),
                    Op::Remove(r, e) => rs[r].remove(&e.to_string()),
                    Op::Sync(a, b) => {
                        let from = rs[a].clone();
                        let mut walked = rs[b].set.clone();
                        let by_walk = walked.drop_seen(&from.set, &from.seen, false);
                        let by_dot = rs[b].set.drop_seen(&from.set, &from.seen, true);
                        prop_assert_eq!(by_dot, by_walk);
                        prop_assert_eq!(&rs[b].set, &walked);
                        prop_assert!(matches!(rs[b].set.index, Index::Built(_)));
                        rs[b].receive(&from);
                    }
                }
                for r in &rs {
                    prop_assert!(!matches!(&r.set.index, Index::Built(d) if !d.lists(&r.set.elements)), "{:?}", r.set);
                }
            }
        }

        /// Whole-state merges of reachable states are commutative,
        /// associative and idempotent.
        #[test]
        fn merge_is_a_semilattice(ops in ops()) {
            let rs = run(&ops);
            let join = |l: &Replica, r: &Replica| { let mut m = l.clone(); m.receive(r); m };
            let (a, b, x) = (&rs[0], &rs[1], &rs[2]);
            let (ab, ba) = (join(a, b), join(b, a));
            prop_assert_eq!(&ab.set, &ba.set);
            prop_assert_eq!(&join(&join(a, b), x).set.elements, &join(a, &join(b, x)).set.elements);
            prop_assert_eq!(&join(a, a).set, &a.set);
        }

        /// A re-add in place leaves the set as a remove and then an add
        /// leave it, its dot index included, and returns the tags the
        /// remove returns.
        #[test]
        fn a_re_add_is_a_remove_then_an_add(ops in ops(), r in 0usize..3, e in 0u8..4) {
            let rs = run(&ops);
            let (me, seq, e) = (rs[r].me(), rs[r].seq + 1, e.to_string());
            let mut in_place = rs[r].set.clone();
            let mut two_steps = rs[r].set.clone();
            for s in [&mut in_place, &mut two_steps] {
                s.drop_seen(&Set::default(), &VersionVector::new(), true);
            }
            let got = in_place.re_add(&e, &me, seq, 7);
            let want = two_steps.remove(&e, &me, seq, 7);
            if want.is_some() {
                two_steps.add(&e, &me, seq + 1);
            }
            prop_assert_eq!(got.map(|(k, tags)| (k.to_string(), tags)), want.map(|tags| (e.clone(), tags)));
            prop_assert_eq!(&in_place, &two_steps);
            prop_assert!(!matches!(&in_place.index, Index::Built(d) if !d.lists(&in_place.elements)));
        }
    }
}
