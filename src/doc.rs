//! The document: three independent key spaces (counters, registers, sets), one
//! version vector, transactions, and sync by states and deltas.
//!
//! How updates work: every local change gets a dot `(client, seq)`. Counter
//! slots, register writes and set tags each remember the dot of the change
//! that last wrote them, so `encode_delta(since)` sends exactly the entries
//! whose dots `since` lacks, plus the dots themselves. A delta that carries a
//! set removal also carries the sender's whole version and lists that set
//! whole, so the receiver can tell removed tags from unsent ones (see
//! `set.rs`); other sets it lists in part. Purged tombstones and
//! removal records raise a "horizon": a peer that has not seen up to it gets
//! the full state, whose absences speak for themselves.
//!
//! ```
//! use slotkv::{Doc, Options};
//! let mut a = Doc::new(Options::with_client_id("a")).unwrap();
//! let mut b = Doc::new(Options::with_client_id("b")).unwrap();
//! a.increment("clicks", 1).unwrap();
//! b.increment("clicks", 1).unwrap();
//! let to_b = a.encode_delta(Some(&b.version())).unwrap();
//! let to_a = b.encode_delta(Some(&a.version())).unwrap();
//! b.apply_update(&to_b).unwrap();
//! a.apply_update(&to_a).unwrap();
//! assert_eq!((a.counter("clicks"), b.counter("clicks")), (2, 2));
//! ```

use alloc::borrow::Cow;
use alloc::rc::Rc;

use crate::client::ClientId;
use crate::clock::{Hlc, WallClock, MAX_WALL_MS};
#[cfg(not(feature = "bundle"))]
use crate::clock::SystemClock;
use crate::counter::{Counter, MAX_SAFE_INTEGER};
use crate::encoding::FORMAT_VERSION;
use crate::error::{DecodeError, Error};
use crate::key_map::KeyMap;
use crate::limits::Limits;
use crate::prelude::*;
use crate::register::{self, Register, Value};
use crate::set::{PeerSeen, Set};
use crate::small_map::SmallMap;
use crate::update::{decode_version, encode_version, sorted_keys, ListedSet, Update};
use crate::version::VersionVector;

/// How long a deleted register's tombstone (and a set's removal record) is
/// kept by default: 30 days, as y-lwwmap does.
pub const DEFAULT_TOMBSTONE_RETENTION_MS: u64 = 30 * 24 * 60 * 60 * 1000;

/// The three value kinds, each with its own key space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Register,
    Set,
}

/// How to create a document.
#[derive(Clone, Debug)]
pub struct Options {
    /// This replica's id; random (64 bits as hex) when `None`.
    pub client_id: Option<String>,
    /// How long tombstones are kept, on the document's clock.
    pub tombstone_retention_ms: u64,
    pub limits: Limits,
}

impl Default for Options {
    fn default() -> Self {
        Options { client_id: None, tombstone_retention_ms: DEFAULT_TOMBSTONE_RETENTION_MS, limits: Limits::default() }
    }
}

impl Options {
    pub fn with_client_id(id: &str) -> Self {
        Options { client_id: Some(id.to_owned()), ..Options::default() }
    }
}

/// A key, shared between the document's map and the change lists that name
/// it, so recording a change allocates nothing.
pub type Key = Rc<str>;

/// Keys changed by a transaction or an update, per kind, sorted, no duplicates.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub counters: Vec<Key>,
    pub registers: Vec<Key>,
    pub sets: Vec<Key>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.counters.is_empty() && self.registers.is_empty() && self.sets.is_empty()
    }

    fn sort(&mut self) {
        for list in [&mut self.counters, &mut self.registers, &mut self.sets] {
            if list.len() > 1 {
                crate::sort::sort(list);
                list.dedup();
            }
        }
    }

    fn clear(&mut self) {
        self.counters.clear();
        self.registers.clear();
        self.sets.clear();
    }
}

/// Notes `key` as changed (duplicates are removed on commit; the map's own
/// copy of a key is shared, so the same key is the same pointer).
fn note(list: &mut Vec<Key>, key: Key) {
    if !list.last().is_some_and(|last| Rc::ptr_eq(last, &key)) {
        list.push(key);
    }
}

/// Every entry of a document, per kind (see [`Doc::entries`]).
pub type Entries<'a> = (&'a KeyMap<Counter>, &'a KeyMap<Register>, &'a KeyMap<Set>);

/// A finished local transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Committed {
    pub changes: Changes,
    /// The delta carrying exactly this transaction, when asked for.
    pub update: Option<Vec<u8>>,
}

/// A register write of a transaction (see `Txn::written`).
type Written = (Key, u64, Option<(ClientId, u64)>);

/// The local changes not yet committed. One lives as long as its document,
/// so its lists keep their buffers from one transaction to the next and a
/// write allocates nothing for them.
#[derive(Debug, Default)]
struct Txn {
    /// Whether a transaction is open.
    open: bool,
    /// Our seq before the first change.
    start: u64,
    /// Two lists of changed keys: this transaction's, `lists[current]`,
    /// and the other, the keys the last commit or applied update changed
    /// (see [`Txn::last`]). A commit flips `current` rather than moving
    /// the lists, and so keeps both buffers.
    lists: [Changes; 2],
    current: usize,
    /// The dots of the set tags this transaction removed and the register
    /// writes it overwrote. Its update carries them, so a receiver drops them
    /// too, or, if it has not seen them yet, ignores them when they arrive.
    /// A list (made a version only for the update), so a write allocates
    /// nothing for it.
    superseded: Vec<(ClientId, u64)>,
    /// Each register write of this transaction: its key, its seq, and the
    /// dot of the write it replaced (also among `superseded`).
    written: Vec<Written>,
    /// Each set add of this transaction: the set's key, the element and
    /// the add's seq.
    added: Vec<(Key, Key, u64)>,
    /// Whether an update was applied while this transaction was open: only
    /// then can something other than the transaction have undone what it
    /// wrote (see `Doc::transaction_update`).
    foreign: bool,
}

impl Txn {
    /// The keys this transaction changed.
    fn changes(&mut self) -> &mut Changes {
        &mut self.lists[self.current & 1]
    }

    /// [`Txn::changes`], to read.
    fn pending(&self) -> &Changes {
        &self.lists[self.current & 1]
    }

    /// The keys the last commit or applied update changed.
    fn last(&self) -> &Changes {
        &self.lists[(self.current ^ 1) & 1]
    }

    /// Records an applied update's changed keys as the last ones.
    fn set_last(&mut self, changes: Changes) {
        self.lists[(self.current ^ 1) & 1] = changes;
    }
}

/// A replicated key-value document.
pub struct Doc {
    me: ClientId,
    /// Our latest dot's seq.
    seq: u64,
    hlc: Hlc,
    clock: Box<dyn WallClock>,
    retention_ms: u64,
    limits: Limits,
    /// Every dot whose effect this document holds.
    seen: VersionVector,
    /// Per client, the newest dot whose record was purged.
    horizon: SmallMap<ClientId, u64>,
    counters: KeyMap<Counter>,
    registers: KeyMap<Register>,
    sets: KeyMap<Set>,
    /// Whether a register may be a tombstone, and a set may hold a removal
    /// record: false only when the last purge left none and nothing made
    /// one since, so that a purge with nothing to do skips the scan (every
    /// `encodeDelta` purges, and should cost what it carries).
    may_hold_tombstones: bool,
    may_hold_removals: bool,
    txn: Txn,
}

impl Doc {
    /// A new, empty document on the system clock.
    #[cfg(not(feature = "bundle"))]
    pub fn new(options: Options) -> Result<Doc, Error> {
        Doc::with_clock(options, Box::new(SystemClock))
    }

    /// A new, empty document reading wall-clock time from `clock`.
    pub fn with_clock(options: Options, clock: Box<dyn WallClock>) -> Result<Doc, Error> {
        crate::key_map::hash_key();
        let me = match &options.client_id {
            Some(id) => ClientId::new(id)?,
            None => ClientId::random()?,
        };
        Ok(Doc {
            me,
            seq: 0,
            hlc: Hlc::new(),
            clock,
            retention_ms: options.tombstone_retention_ms,
            limits: options.limits,
            seen: VersionVector::new(),
            horizon: SmallMap::new(),
            counters: KeyMap::new(),
            registers: KeyMap::new(),
            sets: KeyMap::new(),
            may_hold_tombstones: false,
            may_hold_removals: false,
            txn: Txn::default(),
        })
    }

    /// A document holding `state` (any update from `encode_state` or `encode_delta`).
    pub fn load(state: &[u8], options: Options, clock: Box<dyn WallClock>) -> Result<Doc, Error> {
        let mut doc = Doc::with_clock(options, clock)?;
        doc.apply(state)?;
        Ok(doc)
    }

    pub fn client_id(&self) -> &ClientId {
        &self.me
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The document's notion of now, in ms: its wall clock, never before the
    /// newest timestamp it has seen. Tombstone retention counts on this clock,
    /// so a peer whose clock runs ahead moves it forward.
    pub fn now(&mut self) -> u64 {
        let wall = self.wall();
        self.hlc.now(wall)
    }

    /// The wall clock, read as at most 2^53 − 1 ms.
    fn wall(&mut self) -> u64 {
        self.clock.now_ms().min(MAX_WALL_MS)
    }

    /// Refuses a write of `changes` changes when this replica's change
    /// numbers would run out (only a forged update claiming our change
    /// 2^53 − 1 or so gets there): they would be numbers no decoder accepts.
    fn check_seq(&self, changes: u64) -> Result<(), Error> {
        if self.seq > MAX_SAFE_INTEGER - changes {
            return Err(Error::Exhausted { what: "this client id's change number" });
        }
        Ok(())
    }

    fn open(&mut self) -> &mut Txn {
        if !self.txn.open {
            self.txn.open = true;
            self.txn.start = self.seq;
        }
        &mut self.txn
    }

    /// The next dot's seq, opening a transaction first if none is open.
    fn next_seq(&mut self) -> u64 {
        self.open();
        self.seq += 1;
        self.seen.insert(&self.me, self.seq);
        self.seq
    }

    // ----- counters -----

    /// Adds `delta` (negative to decrement) to this replica's slot of counter
    /// `key`. A zero delta changes nothing.
    pub fn increment(&mut self, key: &str, delta: i64) -> Result<(), Error> {
        self.limits.check_key(key)?;
        if delta == 0 {
            return Ok(());
        }
        self.check_seq(1)?;
        let seq = self.seq + 1;
        let key = match self.counters.get_key_value_mut(key) {
            Some((key, counter)) => {
                counter.increment(&self.me, delta, seq)?;
                key.clone()
            }
            None => {
                let mut counter = Counter::default();
                counter.increment(&self.me, delta, seq)?;
                self.counters.insert_str(key, counter).0
            }
        };
        self.next_seq();
        note(&mut self.open().changes().counters, key);
        Ok(())
    }

    /// The counter's value, 0 when absent.
    pub fn counter(&self, key: &str) -> i128 {
        self.counters.get(key).map_or(0, Counter::value)
    }

    /// The counter, if any client has a slot in it.
    pub fn counter_state(&self, key: &str) -> Option<&Counter> {
        self.counters.get(key)
    }

    // ----- registers -----

    /// Writes `value` to register `key`, timestamped later than anything seen.
    pub fn set(&mut self, key: &str, value: Value) -> Result<(), Error> {
        self.limits.check_key(key)?;
        match &value {
            Value::Json(text) => self.limits.check_json(text)?,
            Value::Bytes(b) => self.limits.check_value_len(b.len())?,
        }
        self.write_register(key, Some(value))
    }

    /// Deletes register `key` with a timestamped tombstone, whether or not it
    /// holds a value here: a peer may hold one this replica has not seen, and
    /// the delete beats it if it is later (SPEC: "a later set beats an
    /// earlier delete and vice versa").
    pub fn delete(&mut self, key: &str) -> Result<(), Error> {
        self.limits.check_key(key)?;
        self.write_register(key, None)
    }

    fn write_register(&mut self, key: &str, value: Option<Value>) -> Result<(), Error> {
        self.check_seq(1)?;
        let wall = self.wall();
        let ts = self.hlc.tick(wall).ok_or(Error::Exhausted { what: "the register clock (a peer wrote at the end of time)" })?;
        let seq = self.next_seq();
        self.may_hold_tombstones |= value.is_none();
        let (key, old) = self.registers.insert_str(key, Register::new(value, ts, self.me.clone(), seq));
        let txn = self.open();
        let old = old.map(|old| (old.writer, old.seq));
        if let Some(old) = &old {
            txn.superseded.push(old.clone());
        }
        txn.written.push((key.clone(), seq, old));
        note(&mut txn.changes().registers, key);
        Ok(())
    }

    /// The register's value; `None` when absent or deleted.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.registers.get(key).and_then(Register::value)
    }

    /// The register's latest write (value or tombstone), with timestamp and writer.
    pub fn register(&self, key: &str) -> Option<&Register> {
        self.registers.get(key)
    }

    // ----- sets -----

    /// Adds `element` to set `key`: a new tag, so a concurrent remove elsewhere
    /// (which has not seen it) does not undo this add. Re-adding a present
    /// element is a new add too, after a remove of the tags seen here (see
    /// `set.rs`), so re-adding never makes an element grow.
    pub fn add(&mut self, key: &str, element: &str) -> Result<(), Error> {
        self.limits.check_key(key)?;
        self.limits.check_element(element)?;
        // A re-add is a remove, then the add: two changes, so that the remove
        // keeps a change number of its own, which no later remove of the new
        // tag can mark seen without its effect (see set.rs).
        let re_add = self.has(key, element);
        self.check_seq(if re_add { 2 } else { 1 })?;
        let now = if re_add { self.now() } else { 0 };
        let seq = self.seq + 1;
        let (key, set) = self.sets.entry(key, Set::default);
        let key = key.clone();
        let (element, removed) = match re_add.then(|| set.re_add(element, &self.me, seq, now)).flatten() {
            Some((element, tags)) => (element, Some(tags)),
            None => (set.add(element, &self.me, seq), None),
        };
        if let Some(tags) = removed {
            self.may_hold_removals = true;
            self.next_seq();
            let txn = self.open();
            txn.superseded.extend(tags);
            note(&mut txn.changes().sets, key.clone());
        }
        let seq = self.next_seq();
        let txn = self.open();
        txn.added.push((key.clone(), element, seq));
        note(&mut txn.changes().sets, key);
        Ok(())
    }

    /// Removes `element` from set `key`: the additions seen here. Removing a
    /// non-member changes nothing.
    pub fn remove(&mut self, key: &str, element: &str) -> Result<(), Error> {
        self.limits.check_key(key)?;
        if !self.has(key, element) {
            return Ok(());
        }
        self.check_seq(1)?;
        let now = self.now();
        let seq = self.seq + 1;
        let Some((key, set)) = self.sets.get_key_value_mut(key) else {
            return Ok(());
        };
        let key = key.clone();
        if let Some(tags) = set.remove(element, &self.me, seq, now) {
            self.may_hold_removals = true;
            self.next_seq();
            let txn = self.open();
            txn.superseded.extend(tags);
            note(&mut txn.changes().sets, key);
        }
        Ok(())
    }

    pub fn has(&self, key: &str, element: &str) -> bool {
        self.sets.get(key).is_some_and(|s| s.contains(element))
    }

    /// Members of set `key` in UTF-8 byte order.
    pub fn members(&self, key: &str) -> Vec<&str> {
        self.sets.get(key).map_or_else(Vec::new, Set::members)
    }

    pub fn set_state(&self, key: &str) -> Option<&Set> {
        self.sets.get(key)
    }

    // ----- whole document -----

    /// Live keys of one kind, sorted: counters with any slot, registers
    /// holding a value, sets with a member.
    pub fn keys(&self, kind: Kind) -> Vec<&str> {
        match kind {
            Kind::Counter => self.counters.keys_where(&|c| !c.is_empty()),
            Kind::Register => self.registers.keys_where(&|r| !r.is_tombstone()),
            Kind::Set => self.sets.keys_where(&|s| !s.is_empty()),
        }
    }

    /// Whether local changes are waiting for `commit`.
    pub fn has_pending(&self) -> bool {
        self.txn.open && self.txn.start != self.seq
    }

    /// Ends the current transaction: every local change since the last commit.
    /// Returns `None` if there was none; with `encode`, the delta carrying
    /// exactly those changes.
    pub fn commit(&mut self, encode: bool) -> Option<Committed> {
        let update = self.finish(encode)?;
        Some(Committed { changes: self.txn.last().clone(), update })
    }

    /// [`Doc::commit`] without copying the changed keys out: they are
    /// [`Doc::last_changes`] until the next commit or update. `None` if the
    /// transaction changed nothing, else the update if `encode` asked for it.
    pub fn finish(&mut self, encode: bool) -> Option<Option<Vec<u8>>> {
        if !core::mem::replace(&mut self.txn.open, false) {
            return None;
        }
        let mut update = None;
        if self.txn.start != self.seq {
            self.txn.changes().sort();
            update = Some(encode.then(|| self.transaction_update(&self.txn).encode()));
            self.txn.current ^= 1;
        }
        self.txn.changes().clear();
        self.txn.written.clear();
        self.txn.added.clear();
        self.txn.foreign = false;
        // Removing an element drops all its tags, which peers may have made
        // many: a list that grew past its everyday size is given back.
        if self.txn.superseded.capacity() > 256 {
            self.txn.superseded = Vec::new();
        } else {
            self.txn.superseded.clear();
        }
        update
    }

    /// The keys the last committed transaction or applied update changed.
    pub fn last_changes(&self) -> &Changes {
        self.txn.last()
    }

    /// The update carrying exactly the transaction `txn` that made our changes
    /// `start + 1 ..= seq` to the keys it lists: our slots, writes and tags
    /// from it, and in `ctx` its dots and those of what it superseded.
    ///
    /// Not the dots of what an update applied while the transaction was
    /// open undid: its register writes whose key now holds no write of this
    /// transaction (and the writes those replaced), and its adds whose tag
    /// is gone. The update carries only what the transaction made, so not
    /// what undid them, and must not claim them: a receiver still holding a
    /// write they beat, or lacking the tag, would count them as seen and
    /// keep what it holds. An update can bring a later write to the key; a
    /// peer's full state can take the key (the peer had seen such a write,
    /// say a delete, and purged it); a remove can drop the tag (its replica
    /// saw the add in a catch-up built while the transaction was open).
    /// Left unclaimed, they reach the receiver with what undid them, in its
    /// next catch-up (a full state, after a purge: the peer's purge raised
    /// the horizon).
    // (Kept out of `finish`: a write no one listens to encodes nothing, and
    // a small `finish` is quicker for the engine to optimise.)
    #[inline(never)]
    fn transaction_update<'s>(&'s self, txn: &'s Txn) -> Update<'s> {
        let changes = txn.pending();
        let start = txn.start;
        let ours = |client: &ClientId, seq: u64| *client == self.me && seq > start;
        let mut ctx = VersionVector::from_dots(txn.superseded.iter().map(|(client, seq)| (client, *seq)));
        let mut taken = VersionVector::new();
        if txn.foreign {
            // A replaced key's writes, and the writes they replaced in turn.
            for (key, seq, old) in &txn.written {
                if !self.registers.get(key).is_some_and(|reg| ours(&reg.writer, reg.seq)) {
                    taken.insert(&self.me, *seq);
                    if let Some((client, seq)) = old {
                        taken.insert(client, *seq);
                    }
                }
            }
            // (A tag this transaction removed itself, by a later remove or
            // re-add, is among those it superseded.)
            for (key, element, seq) in &txn.added {
                if !ctx.contains(&self.me, *seq) && !self.sets.get(key).is_some_and(|set| set.has_tag(element, &self.me, *seq)) {
                    taken.insert(&self.me, *seq);
                }
            }
        }
        ctx.insert_range(&self.me, start + 1, self.seq);
        if !taken.is_empty() {
            ctx = ctx.difference(&taken);
        }
        let mut u = Update { ctx, ..Update::default() };
        for (key, counter) in select(&self.counters, &changes.counters) {
            if let Some(slot) = counter.slot(&self.me).filter(|s| s.seq > start) {
                u.counters.push((key.clone(), vec![(self.me.clone(), *slot)]));
            }
        }
        for (key, reg) in select(&self.registers, &changes.registers) {
            if ours(&reg.writer, reg.seq) {
                u.registers.push((key.clone(), Cow::Borrowed(reg)));
            }
        }
        // Sets are listed even without new tags, so receivers apply the removes
        // whose dropped tags `ctx` names. Our new tags are on the elements
        // this transaction added: only those are looked at.
        for (key, set) in select(&self.sets, &changes.sets) {
            u.sets.push((key.clone(), ListedSet::new(Cow::Owned(set.removals_part(&ours)), false)));
        }
        for (key, element, _) in &txn.added {
            let part = u.sets.binary_search_by(|(k, _)| (**k).cmp(&**key)).ok().and_then(|i| u.sets.get_mut(i));
            if let (Some((_, part)), Some(set)) = (part, self.sets.get(key)) {
                part.set.to_mut().pick_element(set, element, &ours);
            }
        }
        u
    }

    // ----- sync -----

    /// This replica's version vector, encoded (a version message).
    pub fn version(&self) -> Vec<u8> {
        encode_version(&self.seen)
    }

    pub fn version_vector(&self) -> &VersionVector {
        &self.seen
    }

    /// The whole state. Purges expired tombstones first.
    pub fn encode_state(&mut self) -> Vec<u8> {
        self.purge();
        let state = self.full_update().encode();
        debug_assert!(self.state_len_floor() <= state.len(), "{} > {}", self.state_len_floor(), state.len());
        state
    }

    /// What a replica at version `since` lacks (the whole state without
    /// `since`). Never larger than the state, and equal to it in effect, but
    /// for a register the receiver revived (a write older than a tombstone
    /// it had purged, see README): a state, which lists all its sender holds,
    /// drops it; a delta cannot.
    pub fn encode_delta(&mut self, since: Option<&[u8]>) -> Result<Vec<u8>, Error> {
        self.encode_delta_in(since, FORMAT_VERSION)
    }

    /// [`Doc::encode_delta`] for a receiver that reads format versions up to
    /// `format` only (a replica of an older slotkv; below 2 means 1): the
    /// delta never uses what a newer format adds. Format 1 has no per-set
    /// mark, so a delta with removals lists every set it carries whole.
    pub fn encode_delta_in(&mut self, since: Option<&[u8]>, format: u64) -> Result<Vec<u8>, Error> {
        // States are format 1 in every format so far: `format` bears only on deltas.
        let Some(since) = since else {
            return Ok(self.encode_state());
        };
        let since = decode_version(since, &self.limits)?;
        self.purge();
        if self.horizon.iter().any(|(c, &seq)| since.contiguous(c) < seq) {
            return Ok(self.full_update().encode());
        }
        let delta = self.build_delta(&since, format).encode();
        // Only a delta that might not be shorter is weighed against the
        // state, so a small delta of a large document costs what it carries.
        if delta.len() < self.state_len_floor() {
            return Ok(delta);
        }
        let state = self.full_update().encode();
        Ok(if delta.len() < state.len() { delta } else { state })
    }

    /// A lower bound on the length of the state, from the number of entries
    /// alone: every field of a state takes at least a byte (docs/FORMAT.md).
    fn state_len_floor(&self) -> usize {
        // Header 3; client table, string table, ctx and horizon 1 each; the
        // three counts of counters, registers and sets.
        let mut n = 3 + 4 + 3;
        for (_, counter) in &self.counters {
            n += 2 + 4 * counter.slots().count(); // key, count; client, seq, p, n
        }
        if !self.registers.is_empty() {
            n += 1 + 5 * self.registers.len(); // base; head, seq, wall, logical, value
        }
        for (_, set) in &self.sets {
            if !set.is_vacant() {
                n += 4 + 4 * set.len(); // key, counts, removed-at; element, count, tag
            }
        }
        n
    }

    fn full_update(&self) -> Update<'_> {
        let mut u = Update { full: true, ctx: self.seen.clone(), horizon: self.horizon.clone(), ..Update::default() };
        for (key, counter) in &self.counters {
            u.counters.push((key.clone(), counter.slot_list(&|_, _| true)));
        }
        for (key, reg) in &self.registers {
            u.registers.push((key.clone(), Cow::Borrowed(reg)));
        }
        for (key, set) in &self.sets {
            if !set.is_vacant() {
                u.sets.push((key.clone(), ListedSet::new(Cow::Borrowed(set), true)));
            }
        }
        u
    }

    /// The entries whose dots `since` lacks, for a receiver that reads
    /// formats up to `format`.
    fn build_delta(&self, since: &VersionVector, format: u64) -> Update<'_> {
        let mut u = Update { ctx: self.seen.difference(since), ..Update::default() };
        let lookup = since.lookup();
        for (key, counter) in &self.counters {
            let slots = counter.slot_list(&|c, s| !lookup.contains(c, s.seq));
            if !slots.is_empty() {
                u.counters.push((key.clone(), slots));
            }
        }
        for (key, reg) in self.registers.iter_unordered() {
            if !lookup.contains(&reg.writer, reg.seq) {
                u.registers.push((key.clone(), Cow::Borrowed(reg)));
            }
        }
        crate::sort::sort_by(&mut u.registers, |a, b| a.0 < b.0);
        // A set with removals the receiver lacks is listed whole, and the
        // receiver reads `seen` against it; the others only with what the
        // receiver lacks, read against `ctx` as usual.
        for (key, set) in &self.sets {
            if let Some((delta, whole)) = set.delta(&lookup) {
                u.sets.push((key.clone(), ListedSet::new(delta, whole)));
            }
        }
        // `seen` also lets a replica that overhears this delta tell that it
        // was built for another (see `Doc::apply`), so every delta that
        // carries dots has it. (A set listed whole has dots the receiver lacks.)
        if !u.ctx.is_empty() || u.sets.iter().any(|(_, l)| l.whole) {
            u.seen = Some(self.seen.clone());
            // Format 1 has no per-set mark: the receiver reads `seen` against
            // every set listed, so each is listed whole.
            if format < 2 {
                for (key, listed) in u.sets.iter_mut().filter(|(_, l)| !l.whole) {
                    if let Some(set) = self.sets.get(key) {
                        *listed = ListedSet::new(Cow::Borrowed(set), true);
                    }
                }
            }
        }
        u
    }

    /// Merges a state or delta from a peer. Atomic: the whole input is
    /// validated first, and on error nothing changes. Returns the changed keys
    /// if the update had any effect (new data or new dots), `None` if it was a
    /// no-op (a duplicate, say).
    pub fn apply_update(&mut self, bytes: &[u8]) -> Result<Option<Changes>, Error> {
        Ok(self.apply(bytes)?.then(|| self.txn.last().clone()))
    }

    /// [`Doc::apply_update`] without copying the changed keys out: returns
    /// whether the update had any effect; its changed keys are then
    /// [`Doc::last_changes`].
    pub fn apply(&mut self, bytes: &[u8]) -> Result<bool, Error> {
        let u = Update::decode(bytes, &self.limits)?;
        self.check_clients(&u)?;
        self.txn.foreign |= self.txn.open;
        let mut changes = Changes::default();
        // A catch-up delta carries all its sender had seen (`seen`); what of
        // that its `ctx` leaves out is what the replica it was built for held
        // already. This replica may lack some of it: a catch-up posted to a
        // whole channel, or relayed. The effects of the delta's dots can then
        // lie in what it lacks (a write that overwrote one in `ctx`, a remove
        // of an add it has not had), so they cannot all count as seen here:
        // only those of the entries it merges do, its sets take only adds,
        // and a later sync brings the rest. (What the delta's own entries
        // bring, a set listed whole, say, it no longer lacks.)
        let mut live = None;
        let built_for_me = u.seen.as_ref().is_none_or(|seen| {
            let lacked = seen.difference(&u.ctx).difference(&self.seen);
            lacked.is_empty() || live.insert(unseen_dots(&u, false, &self.seen)).covers(&lacked)
        });

        // (Only a counter this update named can be empty: one it created.)
        let mut empty = false;
        for (key, slots) in &u.counters {
            let (key, counter) = self.counters.entry_with(key, || key.clone(), Counter::default);
            if counter.merge_slots(slots) {
                changes.counters.push(key.clone());
            }
            empty |= counter.is_empty();
        }
        if empty {
            self.counters.retain(|_, c| !c.is_empty());
        }

        let seen = self.seen.lookup();
        let their_seen = u.full.then(|| u.ctx.lookup());
        for (key, reg) in &u.registers {
            self.hlc.observe(reg.ts);
            let stale = register::is_stale(reg, &seen);
            if let (Some(their_seen), Some(mine)) = (&their_seen, self.registers.get(key)) {
                if register::replaced_by_peer(mine, reg, their_seen) {
                    if stale {
                        self.registers.remove(key);
                    } else if let Some(entry) = self.registers.get_mut(key) {
                        *entry = Register::clone(reg);
                        self.may_hold_tombstones |= entry.is_tombstone();
                    }
                    changes.registers.push(key.clone());
                    continue;
                }
            }
            if stale {
                continue;
            }
            let mut new = false;
            let (key, entry) = self.registers.entry_with(key, || key.clone(), || {
                new = true;
                Register::clone(reg)
            });
            if new || entry.merge(reg) {
                self.may_hold_tombstones |= entry.is_tombstone();
                changes.registers.push(key.clone());
            }
        }

        let fates = u.fates(&self.seen);
        for (key, listed) in &u.sets {
            let (key, mine) = self.sets.entry_with(key, || key.clone(), Set::default);
            let changed = if built_for_me {
                mine.merge_seen(&listed.set, &self.seen, fates.of(listed))
            } else {
                mine.merge_adds(&listed.set, &self.seen)
            };
            self.may_hold_removals |= mine.holds_removals();
            let vacant = mine.is_vacant();
            let key = key.clone();
            if vacant {
                self.sets.remove(&key);
            }
            if changed {
                changes.sets.push(key);
            }
        }

        if u.full {
            self.merge_absences(&u, &mut changes);
        }

        // A whole set in a transaction's update may carry tags older than the
        // transaction; holding their effect now, this replica has seen them.
        // (Not its removal records' dots, in a delta built for another: see
        // `built_for_me`.)
        let unseen = match live {
            Some(dots) if !built_for_me => dots,
            _ => unseen_dots(&u, built_for_me, &self.seen),
        };
        let new_dots = (built_for_me && !self.seen.covers(&u.ctx)) || !unseen.is_empty();
        if built_for_me {
            self.seen.union(&u.ctx);
        }
        self.seen.union(&unseen);
        self.seq = self.seq.max(self.seen.max(&self.me));

        // A state's horizon names dots its sender saw, so they are seen now.
        // Only a crafted one names others: it is held to what was seen, so
        // that it can neither bring in client ids past `max_doc_clients`
        // (`check_clients` counts the seen ones) nor force full states for
        // dots no one has.
        let mut horizon_moved = false;
        for (client, &seq) in &u.horizon {
            let seq = seq.min(self.seen.max(client));
            if seq == 0 {
                continue;
            }
            let mine = self.horizon.get_or_insert_with(client, || 0);
            if seq > *mine {
                *mine = seq;
                horizon_moved = true;
            }
        }

        if !(new_dots || horizon_moved || !changes.is_empty()) {
            return Ok(false);
        }
        changes.sort();
        self.txn.set_last(changes);
        Ok(true)
    }

    /// [`Doc::apply`] for bytes this document's own storage holds: what an
    /// earlier session of it saved (a snapshot, a log of its updates).
    ///
    /// The [`Limits`] bound each update from a peer, not the document: local
    /// writes and many small updates can make a document whose state is
    /// larger than one update may be. Its own storage must still load all of
    /// it, or the next snapshot written would lack what did not load. So
    /// here only the bytes themselves bound sizes and counts (see
    /// [`Limits::for_stored`]); decoding is as strict as ever otherwise.
    pub fn apply_stored(&mut self, bytes: &[u8]) -> Result<bool, Error> {
        let stored = self.limits.for_stored();
        let limits = core::mem::replace(&mut self.limits, stored);
        let r = self.apply(bytes);
        self.limits = limits;
        r
    }

    /// Refuses an update that would bring the document past
    /// `Limits::max_doc_clients` client ids (this replica's own included).
    fn check_clients(&self, u: &Update) -> Result<(), Error> {
        let mut known = self.seen.client_count() as u64;
        if !self.seen.has_client(&self.me) {
            known += 1;
        }
        let new = u.clients.iter().filter(|c| **c != self.me && !self.seen.has_client(c)).count() as u64;
        if known + new > self.limits.max_doc_clients {
            return Err(DecodeError::TooLarge {
                what: "the number of client ids the document would hold",
                limit: self.limits.max_doc_clients,
            }
            .into());
        }
        Ok(())
    }

    /// A full state lists every live entry: registers and set tags here that
    /// its sender has seen but does not hold were removed there.
    fn merge_absences(&mut self, u: &Update, changes: &mut Changes) {
        let listed_registers = sorted_keys(&u.registers);
        let listed_sets = sorted_keys(&u.sets);
        let their_seen = u.ctx.lookup();
        self.registers.retain(|key, reg| {
            let gone = register::purged_by_peer(reg, &their_seen) && listed_registers.binary_search(&&**key).is_err();
            if gone {
                changes.registers.push(key.clone());
            }
            !gone
        });
        let empty = Set::default();
        let seen = &self.seen;
        let by_ctx = PeerSeen::new(&u.ctx, seen);
        self.sets.retain(|key, set| {
            if listed_sets.binary_search(&&**key).is_err() && set.merge_seen(&empty, seen, by_ctx) {
                changes.sets.push(key.clone());
            }
            !set.is_vacant()
        });
    }

    /// Drops tombstones and set removal records older than the retention
    /// period, raising the horizon past their dots. A tombstone that is the
    /// document's newest register write stays until a later write comes.
    fn purge(&mut self) {
        // Not while a transaction is open: its update must still carry the
        // removes and deletes it made, which purging would drop.
        if self.has_pending() {
            return;
        }
        let now = self.now();
        let Some(cutoff) = now.checked_sub(self.retention_ms) else {
            return;
        };
        let horizon = &mut self.horizon;
        let mut raise = |client: &ClientId, seq: u64| {
            let h = horizon.get_or_insert_with(client, || 0);
            *h = (*h).max(seq);
        };
        if self.may_hold_tombstones {
            // The newest write (its timestamp is the clock's) stays, even an
            // expired delete. A state carries no clock of its own: a replica
            // that loads one sets its clock by the writes it lists. Were the
            // newest a purged delete, that replica's next write to its key
            // could be timestamped before the delete it has seen, and lose to
            // it wherever it is still held.
            let newest = self.hlc.last();
            let mut left = false;
            self.registers.retain(|_, reg| {
                let expired = reg.is_tombstone() && reg.ts.wall <= cutoff && reg.ts != newest;
                if expired {
                    raise(&reg.writer, reg.seq);
                }
                left |= reg.is_tombstone() && !expired;
                !expired
            });
            self.may_hold_tombstones = left;
        }
        if self.may_hold_removals {
            let mut left = false;
            self.sets.retain(|_, set| {
                set.purge_removals(cutoff, &mut raise);
                left |= set.holds_removals();
                !set.is_vacant()
            });
            self.may_hold_removals = left;
        }
    }

    /// Counters, registers and sets as plain maps, for comparing replicas.
    pub fn entries(&self) -> Entries<'_> {
        (&self.counters, &self.registers, &self.sets)
    }
}

/// The dots of `u`'s entries (with `removals`, of its sets' removal records
/// too) that `seen` lacks.
fn unseen_dots(u: &Update, removals: bool, seen: &VersionVector) -> VersionVector {
    let seen = seen.lookup();
    u.entry_dots(removals, &|c, s| !seen.contains(c, s))
}

/// The entries of `map` named in `keys`.
fn select<'a, V>(map: &'a KeyMap<V>, keys: &'a [Key]) -> impl Iterator<Item = (&'a Key, &'a V)> + 'a {
    keys.iter().filter_map(move |k| map.get_key_value(k))
}
