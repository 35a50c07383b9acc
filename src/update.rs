//! The messages replicas exchange: a version, a full state, or a delta.
//!
//! [`Update`] is the decoded form of a state or a delta; [`Update::decode`]
//! validates every field (indices, lengths, key rules, safe integers, JSON,
//! limits) before the document sees any of it, which is what makes
//! `apply_update` atomic. The layout is documented in `docs/FORMAT.md`.

use alloc::borrow::Cow;

use crate::client::ClientId;
use crate::clock::Timestamp;
use crate::counter::{Slot, MAX_SAFE_INTEGER};
use crate::doc::Key;
use crate::encoding::{unzigzag, zigzag, Reader, Writer, FORMAT_VERSION, MAGIC};
use crate::error::{DecodeError, Error};
use crate::key_map::KeyMap;
use crate::limits::{in_update, Limits};
use crate::prelude::*;
use crate::register::{Register, Value};
use crate::set::{PeerSeen, Set, Tags};
use crate::small_map::SmallMap;
use crate::text::cat;
use crate::version::VersionVector;

/// Message type byte: an encoded version vector (`Doc::version`).
pub const TYPE_VERSION: u8 = 0;
/// Message type byte: a full state (`encode_state`).
pub const TYPE_STATE: u8 = 1;
/// Message type byte: a delta (`encode_delta`, transaction updates).
pub const TYPE_DELTA: u8 = 2;

const VALUE_TOMBSTONE: u8 = 0;
const VALUE_JSON: u8 = 1;
const VALUE_BYTES: u8 = 2;
/// JSON text that is an integer in canonical decimal form, as its number.
const VALUE_INTEGER: u8 = 3;
/// JSON text that is one string, without its two quotes.
const VALUE_STRING: u8 = 4;

/// The longest prefix a string of the table may share with the one before:
/// it keeps a tiny entry from standing for a long string (see `Tables::read`).
const MAX_SHARED_PREFIX: usize = 63;

/// Seen flag of a delta: no set removals, so no `seen`.
const SEEN_NONE: u8 = 0;
/// Seen flag: `seen` follows, and every set is listed whole (the only kind
/// format 1 has).
const SEEN_ALL_WHOLE: u8 = 1;
/// Seen flag: `seen` follows, and each set says whether it is listed whole
/// (format 2, its one addition to format 1).
const SEEN_PER_SET: u8 = 2;

/// A decoded state or delta. One being encoded borrows the document's
/// registers and sets (`'a`) rather than copying them; a decoded one owns
/// what it holds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Update<'a> {
    /// A full state lists every live entry: what it lacks, its sender removed.
    pub full: bool,
    /// The dots whose effects this update carries (a state: all its sender saw).
    pub ctx: VersionVector,
    /// A delta carrying set removals: everything its sender had seen, so a
    /// receiver can tell a removed tag of a set listed whole from one that
    /// was simply not sent.
    pub seen: Option<VersionVector>,
    /// The newest purged removal per client: a peer that has not seen up to
    /// here must be sent full states (see `Doc::encode_delta`).
    pub horizon: SmallMap<ClientId, u64>,
    pub counters: Vec<(Key, Vec<(ClientId, Slot)>)>,
    pub registers: Vec<(Key, Cow<'a, Register>)>,
    pub sets: Vec<(Key, ListedSet<'a>)>,
    /// The client table a decoded update named (empty when encoding: the
    /// encoder builds its own).
    pub clients: Vec<ClientId>,
}

/// A set as an update lists it: the sender's whole set, or only the tags
/// and removal records whose dots the receiver lacked.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ListedSet<'a> {
    pub set: Cow<'a, Set>,
    /// Listed whole in a delta that has `seen`: then `seen`, not `ctx`, holds
    /// the dots whose fate this copy shows (see [`Update::fate`]).
    pub whole: bool,
}

impl<'a> ListedSet<'a> {
    pub fn new(set: Cow<'a, Set>, whole: bool) -> ListedSet<'a> {
        ListedSet { set, whole }
    }
}

/// An update's versions as its sets' merges read them ([`Update::fates`]).
pub struct Fates<'a> {
    ctx: PeerSeen<'a>,
    seen: Option<PeerSeen<'a>>,
}

impl<'a> Fates<'a> {
    /// The dots whose fate `listed`, one of the update's sets, shows: a
    /// receiver's tag among them that the copy lacks was removed or replaced.
    /// For a set listed whole in a delta with removals, everything its sender
    /// had seen; otherwise the update's own dots (for a state, the same).
    pub fn of(&self, listed: &ListedSet<'_>) -> PeerSeen<'a> {
        match self.seen {
            Some(seen) if listed.whole => seen,
            _ => self.ctx,
        }
    }
}

impl<'a> Update<'a> {
    /// The versions whose fate this update's sets show (see [`Fates::of`]),
    /// read once for all of them against `my_seen`.
    pub fn fates(&self, my_seen: &VersionVector) -> Fates<'_> {
        Fates {
            ctx: PeerSeen::new(&self.ctx, my_seen),
            seen: self.seen.as_ref().map(|seen| PeerSeen::new(seen, my_seen)),
        }
    }

    /// The seen flag this delta is written with (`walk`): a per-set mark
    /// only when some set is not listed whole.
    fn seen_flag(&self) -> u8 {
        match &self.seen {
            None => SEEN_NONE,
            Some(_) if self.sets.iter().all(|(_, l)| l.whole) => SEEN_ALL_WHOLE,
            Some(_) => SEEN_PER_SET,
        }
    }

    /// The dots of every entry the update carries (slots, writes, tags, and,
    /// with `removals`, the sets' removal records) that `keep` accepts.
    /// (Loops, not an iterator chain: the chain's adapters were 1.4 KB of wasm.)
    pub fn entry_dots(&self, removals: bool, keep: &dyn Fn(&ClientId, u64) -> bool) -> VersionVector {
        let mut dots = Vec::new();
        let mut add = |client, seq| {
            if keep(client, seq) {
                dots.push((client, seq));
            }
        };
        for (_, slots) in &self.counters {
            for (client, slot) in slots {
                add(client, slot.seq);
            }
        }
        for (_, reg) in &self.registers {
            add(&reg.writer, reg.seq);
        }
        for (_, ListedSet { set, .. }) in &self.sets {
            for (_, tags) in set.elements() {
                for (client, seq) in tags {
                    add(client, *seq);
                }
            }
            if removals {
                for (client, &seq) in set.removal_record().0.iter() {
                    add(client, seq);
                }
            }
        }
        VersionVector::from_dots(dots)
    }

    pub fn encode(&self) -> Vec<u8> {
        // Two passes over the same walk: the first collects the client ids
        // and strings for the tables, the second writes the body against them.
        let seen_flag = self.seen_flag();
        let mut names = Names::default();
        self.walk(&mut names, seen_flag);
        // Format 1 unless the message uses what format 2 adds, so that older
        // builds still read it.
        let version = if !self.full && seen_flag == SEEN_PER_SET { 2 } else { 1 };
        let (tables, w) = names.start(if self.full { TYPE_STATE } else { TYPE_DELTA }, version);
        let mut body = Body { w, t: &tables, near: 0 };
        self.walk(&mut body, seen_flag);
        body.w.finish()
    }

    /// Feeds every field of the body, in format order, to `out`.
    /// `seen_flag` is [`Update::seen_flag`], found once for both passes.
    fn walk<'b, O: Sink<'b>>(&'b self, out: &mut O, seen_flag: u8) {
        if !self.full {
            out.u8(seen_flag);
            if let Some(seen) = &self.seen {
                walk_vv(out, seen);
            }
        }
        walk_vv(out, &self.ctx);
        out.varint(self.horizon.len() as u64);
        for (client, &seq) in &self.horizon {
            out.client(client);
            out.varint(seq);
        }
        out.varint(self.counters.len() as u64);
        for (key, slots) in &self.counters {
            out.string(key);
            out.varint(slots.len() as u64);
            for (client, slot) in slots {
                out.client(client);
                out.varint(slot.seq);
                out.varint(slot.p);
                out.varint(slot.n);
            }
        }
        out.varint(self.registers.len() as u64);
        // Wall times are written as offsets from the earliest, which is
        // written once: writes close in time cost a byte or two, not six.
        let base = self.registers.iter().map(|(_, r)| r.ts.wall).min().unwrap_or(0);
        if !self.registers.is_empty() {
            out.varint(base);
        }
        // Key, writer and seq as differences from the previous register's:
        // a state's registers are in key order, mostly by few writers.
        let (mut key_i, mut writer_i, mut prev_seq) = (0, 0, 0);
        for (key, reg) in &self.registers {
            out.row_names(key, &reg.writer, &mut key_i, &mut writer_i);
            out.svarint(reg.seq as i64 - prev_seq as i64);
            prev_seq = reg.seq;
            out.varint(reg.ts.wall - base);
            out.varint(reg.ts.logical as u64);
            if O::NAMES_ONLY {
                continue;
            }
            // The value type in the low 3 bits of one varint with the
            // payload's length (or the integer itself).
            let (kind, arg, payload) = match reg.value() {
                None => (VALUE_TOMBSTONE, 0, &[][..]),
                Some(Value::Json(text)) => match (as_integer(text), text.strip_prefix('"').and_then(|t| t.strip_suffix('"'))) {
                    (Some(v), _) => (VALUE_INTEGER, zigzag(v), &[][..]),
                    (None, Some(inner)) => (VALUE_STRING, inner.len() as u64, inner.as_bytes()),
                    (None, None) => (VALUE_JSON, text.len() as u64, text.as_bytes()),
                },
                Some(Value::Bytes(b)) => (VALUE_BYTES, b.len() as u64, &b[..]),
            };
            out.varint(arg << 3 | kind as u64);
            out.raw(payload);
        }
        out.varint(self.sets.len() as u64);
        for (key, ListedSet { set, whole }) in &self.sets {
            out.string(key);
            if !self.full && seen_flag == SEEN_PER_SET {
                out.u8(u8::from(*whole));
            }
            out.varint(set.len() as u64);
            for (element, tags) in set.elements() {
                out.string(element);
                out.varint(tags.len() as u64);
                for (client, seq) in tags {
                    out.client(client);
                    out.varint(*seq);
                }
            }
            let (removes, removed_at) = set.removal_record();
            out.varint(removes.len() as u64);
            for (client, &seq) in removes {
                out.client(client);
                out.varint(seq);
            }
            out.varint(removed_at);
        }
    }

    /// Decodes and validates a state or a delta.
    pub fn decode(bytes: &[u8], limits: &Limits) -> Result<Update<'static>, Error> {
        if bytes.len() as u64 > limits.max_update_bytes {
            return Err(DecodeError::TooLarge { what: "the update's size in bytes", limit: limits.max_update_bytes }.into());
        }
        let mut r = Reader::new(bytes);
        let (version, kind) = read_header(&mut r)?;
        let full = match kind {
            TYPE_STATE => true,
            TYPE_DELTA => false,
            TYPE_VERSION => return Err(Error::invalid("this is a version (from version()), not an update")),
            other => return Err(Error::invalid(cat!["unknown message type ", other])),
        };
        let mut b = Budget::new(limits);
        let t = Tables::read(&mut r, limits, &mut b)?;
        let mut u = Update { full, ..Update::default() };
        let mut seen_flag = SEEN_NONE;
        if !full {
            seen_flag = r.u8("the seen flag")?;
            u.seen = match seen_flag {
                SEEN_NONE => None,
                SEEN_ALL_WHOLE => Some(read_vv(&mut r, &t, &mut b)?),
                SEEN_PER_SET if version >= 2 => Some(read_vv(&mut r, &t, &mut b)?),
                SEEN_PER_SET => return Err(Error::invalid("seen flag 2 needs format version 2, the message says 1")),
                other => return Err(Error::invalid(cat!["seen flag must be 0, 1 or 2, got ", other])),
            };
        }
        u.ctx = read_vv(&mut r, &t, &mut b)?;
        // Set tags and removals of a set listed whole may be older than the
        // update (they are in `seen`); slots, register writes and the tags of
        // a set listed in part never are.
        let in_ctx = |c: &ClientId, seq: u64| -> Result<(), Error> {
            if u.ctx.contains(c, seq) {
                Ok(())
            } else {
                Err(Error::invalid(cat!["change ", seq, " of client \"", c.as_str(), "\" is not in the update's version"]))
            }
        };
        let covered = |whole: bool, c: &ClientId, seq: u64| -> Result<(), Error> {
            if whole && u.seen.as_ref().is_some_and(|s| s.contains(c, seq)) {
                Ok(())
            } else {
                in_ctx(c, seq)
            }
        };

        let mut horizon = Vec::new();
        for _ in 0..b.count(&mut r, "the horizon")? {
            horizon.push((t.client(&mut r)?, read_seq(&mut r)?));
        }
        u.horizon = SmallMap::from_pairs(horizon, max_into);

        let mut counters = Vec::new();
        for _ in 0..b.count(&mut r, "the counters")? {
            let key = t.key(&mut r, limits)?;
            let mut slots = Vec::new();
            for _ in 0..b.count(&mut r, "a counter's slots")? {
                let client = t.client(&mut r)?;
                let seq = read_seq(&mut r)?;
                in_ctx(&client, seq)?;
                let p = read_safe(&mut r, "a counter slot's increments")?;
                let n = read_safe(&mut r, "a counter slot's decrements")?;
                slots.push((client, Slot { p, n, seq }));
            }
            // In client order, one slot per client, as `Counter::merge_slots` wants.
            let slots = SmallMap::from_pairs(slots, |mine: &mut Slot, other| {
                mine.merge(&other);
            });
            counters.push((key, slots.into_vec()));
        }

        let mut registers = Vec::new();
        let n = b.count(&mut r, "the registers")?;
        let base = if n > 0 { read_safe(&mut r, "the registers' base wall-clock time")? } else { 0 };
        let (mut key_i, mut writer_i, mut seq) = (0, 0, 0);
        for _ in 0..n {
            let head = r.varint("a register row")?;
            let key = t.key_at(step(&mut key_i, unzigzag(head >> 1), t.strings.len(), "key index")?, limits)?;
            if head & 1 == 1 {
                step(&mut writer_i, r.svarint("a register's writer")?, t.clients.len(), "client index")?;
            }
            let writer = t.client_at(writer_i)?;
            seq = read_seq_after(&mut r, seq)?;
            in_ctx(&writer, seq)?;
            let wall = base
                .checked_add(r.varint("a register's timestamp")?)
                .filter(|&w| w <= MAX_SAFE_INTEGER)
                .ok_or_else(|| Error::invalid("a register timestamp's wall-clock time is above 2^53 - 1"))?;
            let logical = u32::try_from(r.varint("a register's timestamp")?)
                .map_err(|_| Error::invalid("a register timestamp's logical part exceeds 32 bits"))?;
            let head = r.varint("a register's value")?;
            let arg = head >> 3;
            let value = match (head & 7) as u8 {
                VALUE_TOMBSTONE if arg == 0 => None,
                VALUE_TOMBSTONE => return Err(Error::invalid("a deleted register's value has a length")),
                VALUE_JSON => {
                    let text = r.take_str(arg, "a register's JSON value")?;
                    limits.check_json(text).map_err(in_update)?;
                    Some(Value::Json(text.to_owned()))
                }
                VALUE_BYTES => {
                    let b = r.take(arg, "a register's bytes value")?;
                    limits.check_value_len(b.len()).map_err(in_update)?;
                    Some(Value::Bytes(b.to_vec()))
                }
                VALUE_INTEGER => match unzigzag(arg) {
                    v if v.unsigned_abs() <= MAX_SAFE_INTEGER => Some(Value::Json(cat![v])),
                    _ => return Err(Error::invalid("a register's integer value is beyond ±(2^53 - 1)")),
                },
                VALUE_STRING => {
                    let inner = r.take_str(arg, "a register's string value")?;
                    let mut text = String::with_capacity(inner.len() + 2);
                    text.push('"');
                    text.push_str(inner);
                    text.push('"');
                    limits.check_json(&text).map_err(in_update)?;
                    Some(Value::Json(text))
                }
                other => return Err(Error::invalid(cat!["unknown register value type ", other])),
            };
            registers.push((key, Cow::Owned(Register::new(value, Timestamp { wall, logical }, writer, seq))));
        }

        let mut sets = Vec::new();
        for _ in 0..b.count(&mut r, "the sets")? {
            let key = t.key(&mut r, limits)?;
            let whole = match seen_flag {
                SEEN_PER_SET => match r.u8("a set's whole mark")? {
                    0 => false,
                    1 => true,
                    other => return Err(Error::invalid(cat!["a set's whole mark must be 0 or 1, got ", other])),
                },
                SEEN_ALL_WHOLE => true,
                _ => full,
            };
            let mut elements = KeyMap::new();
            for _ in 0..b.count(&mut r, "a set's elements")? {
                let element = t.element(&mut r)?;
                let mut tags = Tags::new();
                for _ in 0..b.count(&mut r, "an element's tags")? {
                    let client = t.client(&mut r)?;
                    let seq = read_seq(&mut r)?;
                    covered(whole, &client, seq)?;
                    tags.push((client, seq));
                }
                crate::sort::sort(&mut tags);
                tags.dedup();
                if tags.is_empty() {
                    return Err(Error::invalid("a set element without tags"));
                }
                if let Some(element) = elements.insert(element.clone(), tags).map(|_| element) {
                    return Err(Error::invalid(cat!["set element \"", element, "\" appears twice in one set"]));
                }
            }
            let mut removes = Vec::new();
            for _ in 0..b.count(&mut r, "a set's removals")? {
                let client = t.client(&mut r)?;
                let seq = read_seq(&mut r)?;
                covered(whole, &client, seq)?;
                removes.push((client, seq));
            }
            let removes = SmallMap::from_pairs(removes, max_into);
            let removed_at = r.varint("a set's removal time")?;
            let removed_at = if removes.is_empty() { 0 } else { removed_at };
            sets.push((key, ListedSet::new(Cow::Owned(Set::from_parts(elements, removes, removed_at)), whole)));
        }
        r.end()?;
        // An encoder lists each key once per kind; a key listed twice would
        // make what applying the update does depend on how often it is applied.
        unique_keys(&counters, "counters")?;
        unique_keys(&registers, "registers")?;
        unique_keys(&sets, "sets")?;
        u.counters = counters;
        u.registers = registers;
        u.sets = sets;
        u.clients = t.clients;
        Ok(u)
    }
}

/// Refuses a list of entries that names a key twice.
fn unique_keys<V>(entries: &[(Key, V)], kind: &str) -> Result<(), Error> {
    let keys = sorted_keys(entries);
    match keys.windows(2).find(|w| w[0] == w[1]) {
        Some(w) => Err(Error::invalid(cat!["key \"", w[0], "\" appears twice among the ", kind])),
        None => Ok(()),
    }
}

/// The keys of an update's entries, sorted (for binary search).
pub fn sorted_keys<V>(entries: &[(Key, V)]) -> Vec<&str> {
    let mut keys = Vec::with_capacity(entries.len());
    for (k, _) in entries {
        keys.push(&**k);
    }
    crate::sort::sort(&mut keys);
    keys
}

/// Encodes a version vector as a version message (`Doc::version`).
pub fn encode_version(vv: &VersionVector) -> Vec<u8> {
    let mut names = Names::default();
    walk_vv(&mut names, vv);
    let (tables, w) = names.start(TYPE_VERSION, 1);
    let mut body = Body { w, t: &tables, near: 0 };
    walk_vv(&mut body, vv);
    body.w.finish()
}

/// Decodes a version message. One past the limits, once its header says it
/// is a version, is [`Error::VersionPastLimits`], not garbage.
pub fn decode_version(bytes: &[u8], limits: &Limits) -> Result<VersionVector, Error> {
    let mut r = Reader::new(bytes);
    let header = read_header(&mut r).and_then(|(_, kind)| match kind {
        TYPE_VERSION => Ok(()),
        TYPE_STATE | TYPE_DELTA => Err(Error::invalid("this is an update, not a version (from version())")),
        other => Err(Error::invalid(cat!["unknown message type ", other])),
    });
    let read = header.and_then(|()| {
        if bytes.len() as u64 > limits.max_update_bytes {
            return Err(DecodeError::TooLarge { what: "the version's size in bytes", limit: limits.max_update_bytes }.into());
        }
        read_version(&mut r, limits)
    });
    read.map_err(|e| match e {
        Error::Decode(DecodeError::TooLarge { what, limit }) => Error::VersionPastLimits { what, limit },
        Error::Decode(d) => Error::BadVersion(d),
        other => other,
    })
}

/// A version's body, after its header.
fn read_version(r: &mut Reader, limits: &Limits) -> Result<VersionVector, Error> {
    let mut b = Budget::new(limits);
    let t = Tables::read(r, limits, &mut b)?;
    let vv = read_vv(r, &t, &mut b)?;
    r.end()?;
    Ok(vv)
}

fn write_header(w: &mut Writer, version: u64, kind: u8) {
    w.u8(MAGIC);
    w.varint(version);
    w.u8(kind);
}

/// The format version and the message type.
fn read_header(r: &mut Reader) -> Result<(u64, u8), Error> {
    let magic = r.u8("the header")?;
    if magic != MAGIC {
        return Err(DecodeError::BadMagic { found: magic }.into());
    }
    let version = r.varint("the header")?;
    if version > FORMAT_VERSION {
        return Err(DecodeError::UnsupportedVersion { found: version }.into());
    }
    if version == 0 {
        return Err(Error::invalid("format version 0 does not exist"));
    }
    Ok((version, r.u8("the header")?))
}

/// A change number: 1 to 2^53 − 1, so a replica's own next change can never
/// overflow and every number is exact in JavaScript.
fn read_seq(r: &mut Reader) -> Result<u64, Error> {
    match r.varint("a change number")? {
        0 => Err(Error::invalid("change numbers start at 1")),
        seq if seq > MAX_SAFE_INTEGER => Err(Error::invalid("a change number is above 2^53 - 1")),
        seq => Ok(seq),
    }
}

/// Moves the index `prev` by `d`, which must keep it in a table of `len`.
fn step(prev: &mut usize, d: i64, len: usize, what: &'static str) -> Result<usize, Error> {
    match (*prev as i64).checked_add(d) {
        Some(i) if (0..len as i64).contains(&i) => {
            *prev = i as usize;
            Ok(*prev)
        }
        _ => Err(Error::invalid(cat![what, " is out of range (the table has ", len, ")"])),
    }
}

/// A change number written as the difference from the one before (`prev`).
fn read_seq_after(r: &mut Reader, prev: u64) -> Result<u64, Error> {
    let d = r.svarint("a change number")?;
    match (prev as i64).checked_add(d) {
        Some(seq) if (1..=MAX_SAFE_INTEGER as i64).contains(&seq) => Ok(seq as u64),
        _ => Err(Error::invalid("a change number is outside 1 to 2^53 - 1")),
    }
}

/// The number a JSON text stands for, when it is an integer within
/// ±(2^53 − 1) written the one way `to_string` writes it back (so a decoder
/// restores the very same text): no sign but `-`, no leading zeros, no `-0`.
fn as_integer(text: &str) -> Option<i64> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let canonical = !digits.is_empty()
        && digits.len() <= 16
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'))
        && text != "-0";
    if !canonical {
        return None;
    }
    // At most 16 digits: no overflow.
    let magnitude = digits.bytes().fold(0i64, |v, b| v * 10 + (b - b'0') as i64);
    let v = if digits.len() < text.len() { -magnitude } else { magnitude };
    (v.unsigned_abs() <= MAX_SAFE_INTEGER).then_some(v)
}

fn read_safe(r: &mut Reader, what: &'static str) -> Result<u64, Error> {
    let v = r.varint(what)?;
    if v > MAX_SAFE_INTEGER {
        return Err(Error::invalid(cat![what, " is above 2^53 - 1"]));
    }
    Ok(v)
}

/// Each client: its table index (as the difference from the previous
/// client's, in table order: a byte), then its ranges as (gap, length - 1)
/// pairs, each range starting `gap + 1` after the previous one ended (or 0).
fn walk_vv<'a>(out: &mut impl Sink<'a>, vv: &'a VersionVector) {
    out.varint(vv.client_count() as u64);
    let mut prev = 0;
    for (client, ranges) in vv.iter() {
        out.client_after(client, &mut prev);
        out.varint(ranges.len() as u64);
        let mut prev = 0;
        for &(lo, hi) in ranges {
            out.varint(lo - prev - 1);
            out.varint(hi - lo);
            prev = hi;
        }
    }
}

/// The 8 bytes of a default client id (16 lowercase hex digits).
fn hex_id(id: &str) -> Option<[u8; 8]> {
    let digits = id.as_bytes();
    if digits.len() != 16 {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut raw = [0u8; 8];
    for (byte, pair) in raw.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = (nibble(*pair.first()?)? << 4) | nibble(*pair.get(1)?)?;
    }
    Some(raw)
}

/// Reads the 8 bytes of a default client id back into its hex form.
fn hex_string(r: &mut Reader) -> Result<String, Error> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(16);
    for _ in 0..8 {
        let b = r.u8("a client id")?;
        for nibble in [b >> 4, b & 15] {
            out.push(HEX.get(nibble as usize).map_or('0', |&c| c as char));
        }
    }
    Ok(out)
}

fn max_into(a: &mut u64, b: u64) {
    *a = (*a).max(b);
}

/// The entries an update may still hold (`Limits::max_entries`), charged
/// as each count is read, before anything is allocated for them.
struct Budget {
    left: u64,
    limit: u64,
}

impl Budget {
    fn new(limits: &Limits) -> Budget {
        Budget { left: limits.max_entries, limit: limits.max_entries }
    }

    fn count(&mut self, r: &mut Reader, what: &'static str) -> Result<usize, Error> {
        let n = r.count(what)?;
        self.left = self.left.checked_sub(n as u64).ok_or(DecodeError::TooLarge { what: "the number of entries in the update", limit: self.limit })?;
        Ok(n)
    }
}

fn read_vv(r: &mut Reader, t: &Tables, b: &mut Budget) -> Result<VersionVector, Error> {
    let mut clients = Vec::new();
    let mut prev = 0;
    for _ in 0..b.count(r, "a version vector")? {
        let client = t.client_after(r, &mut prev)?;
        let mut ranges = Vec::new();
        let mut prev: u64 = 0;
        for _ in 0..b.count(r, "a version vector's ranges")? {
            let gap = r.varint("a version range")?;
            let len = r.varint("a version range")?;
            let lo = prev.checked_add(gap).and_then(|v| v.checked_add(1));
            let hi = lo.and_then(|lo| lo.checked_add(len));
            let (Some(lo), Some(hi)) = (lo, hi.filter(|&hi| hi <= MAX_SAFE_INTEGER)) else {
                return Err(Error::invalid("a version range goes above 2^53 - 1"));
            };
            ranges.push((lo, hi));
            prev = hi;
        }
        clients.push((client, ranges));
    }
    Ok(VersionVector::from_ranges(clients))
}

/// What the body of a message is written to: fields, and the client ids and
/// strings that the tables hold once and the body refers to by index.
trait Sink<'a> {
    /// Takes only the names (clients and strings), so the walk may skip
    /// what holds none (register values).
    const NAMES_ONLY: bool = false;
    fn u8(&mut self, b: u8);
    fn varint(&mut self, v: u64);
    fn svarint(&mut self, v: i64);
    fn client(&mut self, c: &'a ClientId);
    fn string(&mut self, s: &'a str);
    /// Bytes as they are (a length was written before them).
    fn raw(&mut self, b: &[u8]);
    /// A client's index as the difference from `prev`, which becomes it.
    fn client_after(&mut self, c: &'a ClientId, prev: &mut usize);
    /// A register row's key and writer, as differences from the previous
    /// row's indices: `zigzag(key difference) << 1 | writer changed`, then
    /// the writer's difference only if it changed.
    fn row_names(&mut self, key: &'a str, writer: &'a ClientId, prev_key: &mut usize, prev_writer: &mut usize);
}

/// The first pass: collects the names a message uses.
#[derive(Default)]
struct Names<'a> {
    clients: Vec<&'a ClientId>,
    strings: Vec<&'a str>,
}

impl<'a> Sink<'a> for Names<'a> {
    const NAMES_ONLY: bool = true;
    fn u8(&mut self, _: u8) {}
    fn varint(&mut self, _: u64) {}
    fn svarint(&mut self, _: i64) {}
    fn client(&mut self, c: &'a ClientId) {
        self.note_client(c);
    }
    fn string(&mut self, s: &'a str) {
        self.strings.push(s);
    }
    fn raw(&mut self, _: &[u8]) {}
    fn client_after(&mut self, c: &'a ClientId, _: &mut usize) {
        self.note_client(c);
    }
    fn row_names(&mut self, key: &'a str, writer: &'a ClientId, _: &mut usize, _: &mut usize) {
        self.strings.push(key);
        self.note_client(writer);
    }
}

impl<'a> Names<'a> {
    // A run of rows by one writer (the common case) lists it once.
    fn note_client(&mut self, c: &'a ClientId) {
        if self.clients.last().is_none_or(|last| last.addr() != c.addr()) {
            self.clients.push(c);
        }
    }

    /// The tables, each name once, sorted, so the second pass finds its
    /// index by binary search (no hashing, and no quadratic path however
    /// many names); and the message's header and tables written, with room
    /// for the body after them.
    fn start(mut self, kind: u8, version: u64) -> (NameTables<'a>, Writer) {
        // Most rows name a string (a key or an element) and take a few bytes.
        let body_bytes = 8 * self.strings.len();
        crate::sort::sort(&mut self.clients);
        self.clients.dedup();
        crate::sort::sort(&mut self.strings);
        self.strings.dedup();
        let tables = NameTables { clients: self.clients, strings: self.strings };
        let mut w = Writer::new();
        write_header(&mut w, version, kind);
        tables.write(&mut w);
        w.buf.reserve(body_bytes);
        (tables, w)
    }
}

/// The client and string tables of a message being written, sorted.
struct NameTables<'a> {
    clients: Vec<&'a ClientId>,
    strings: Vec<&'a str>,
}

impl NameTables<'_> {
    // Every name was collected in the first pass, so it is found.
    fn client_index(&self, c: &ClientId) -> usize {
        self.clients.binary_search(&c).unwrap_or_default()
    }

    /// The index of `s`: one of the few strings from `near` on if it is
    /// there, else found by binary search. A message names strings mostly
    /// in table order (a state walks each key space, and each set's
    /// elements, in key order), so the next is mostly just after the last.
    fn string_index(&self, s: &str, near: &mut usize) -> usize {
        let ahead = self.strings.get(*near..).unwrap_or_default().iter().take(4).position(|t| *t == s);
        *near = ahead.map_or_else(|| self.strings.binary_search(&s).unwrap_or_default(), |k| *near + k);
        *near
    }

    fn write(&self, w: &mut Writer) {
        w.usize(self.clients.len());
        for c in &self.clients {
            match hex_id(c.as_str()) {
                // A default id (16 lowercase hex digits) as its 8 bytes,
                // marked by the length 0 that no real id has.
                Some(raw) => {
                    w.u8(0);
                    w.raw(&raw);
                }
                None => w.bytes(c.as_str().as_bytes()),
            }
        }
        // Front coding: each string as the length of the prefix it shares
        // with the one before (at most 63 bytes) and the bytes that follow.
        // One varint `suffix length << 3 | min(shared, 7)` holds both (one
        // byte for a suffix of up to 15 bytes); a prefix of 7 bytes or more
        // follows as `shared − 7`.
        w.usize(self.strings.len());
        let mut prev: &[u8] = &[];
        for s in &self.strings {
            let s = s.as_bytes();
            let shared = prev.iter().zip(s).take(MAX_SHARED_PREFIX).take_while(|(a, b)| a == b).count();
            let suffix = s.get(shared..).unwrap_or_default();
            w.varint((suffix.len() as u64) << 3 | shared.min(7) as u64);
            if shared >= 7 {
                w.usize(shared - 7);
            }
            w.raw(suffix);
            prev = s;
        }
    }
}

/// The second pass: writes the body, names as table indices.
struct Body<'t, 'a> {
    w: Writer,
    t: &'t NameTables<'a>,
    /// The index of the last string written (see `NameTables::string_index`).
    near: usize,
}

impl<'a> Sink<'a> for Body<'_, 'a> {
    fn u8(&mut self, b: u8) {
        self.w.u8(b);
    }
    fn varint(&mut self, v: u64) {
        self.w.varint(v);
    }
    fn svarint(&mut self, v: i64) {
        self.w.svarint(v);
    }
    fn client(&mut self, c: &'a ClientId) {
        let i = self.t.client_index(c);
        self.w.usize(i);
    }
    fn string(&mut self, s: &'a str) {
        let i = self.t.string_index(s, &mut self.near);
        self.w.usize(i);
    }
    fn raw(&mut self, b: &[u8]) {
        self.w.raw(b);
    }
    fn client_after(&mut self, c: &'a ClientId, prev: &mut usize) {
        let i = self.t.client_index(c);
        self.w.svarint(i as i64 - *prev as i64);
        *prev = i;
    }
    fn row_names(&mut self, key: &'a str, writer: &'a ClientId, prev_key: &mut usize, prev_writer: &mut usize) {
        let (k, w) = (self.t.string_index(key, &mut self.near), self.t.client_index(writer));
        self.w.varint(zigzag(k as i64 - *prev_key as i64) << 1 | (w != *prev_writer) as u64);
        if w != *prev_writer {
            self.w.svarint(w as i64 - *prev_writer as i64);
        }
        *prev_key = k;
        *prev_writer = w;
    }
}

/// The client and string tables of a message being read.
#[derive(Default)]
struct Tables {
    clients: Vec<ClientId>,
    strings: Vec<Key>,
}

impl Tables {
    fn read(r: &mut Reader, limits: &Limits, b: &mut Budget) -> Result<Tables, Error> {
        let mut t = Tables::default();
        let n = r.count("the client table")?;
        if n as u64 > limits.max_clients {
            return Err(DecodeError::TooLarge { what: "the number of client ids", limit: limits.max_clients }.into());
        }
        for _ in 0..n {
            let id = match r.str("a client id")? {
                "" => hex_string(r)?,
                id => id.to_owned(),
            };
            t.clients.push(ClientId::new(&id).map_err(in_update)?);
        }
        let mut sorted: Vec<&ClientId> = t.clients.iter().collect();
        crate::sort::sort(&mut sorted);
        if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
            return Err(Error::invalid(cat!["client \"", w[0].as_str(), "\" appears twice in the client table"]));
        }
        // Front-coded (see `NameTables::write`). With shared prefixes of at
        // most 63 bytes, each entry (one byte or more) adds at most 63 bytes
        // beyond its own to what the table takes in memory.
        let mut prev: &[u8] = &[];
        let mut text = Vec::new();
        for _ in 0..b.count(r, "the string table")? {
            let head = r.varint("a string")?;
            let suffix_len = head >> 3;
            let mut shared = head & 7;
            if shared == 7 {
                shared = r.varint("a string")?.saturating_add(7);
            }
            if shared > MAX_SHARED_PREFIX as u64 {
                return Err(Error::invalid("a string shares more than 63 bytes with the one before"));
            }
            let common = prev.get(..shared as usize).ok_or_else(|| Error::invalid("a string shares more bytes with the one before than it has"))?;
            let suffix = r.take(suffix_len, "a string")?;
            if shared.saturating_add(suffix_len) > limits.max_string_bytes {
                return Err(DecodeError::TooLarge { what: "a string's length in bytes", limit: limits.max_string_bytes }.into());
            }
            text.clear();
            text.extend_from_slice(common);
            text.extend_from_slice(suffix);
            let s = core::str::from_utf8(&text).map_err(|_| Error::invalid("a string is not valid UTF-8"))?;
            t.strings.push(s.into());
            prev = t.strings.last().map(|k| k.as_bytes()).unwrap_or_default();
        }
        Ok(t)
    }

    fn index(r: &mut Reader, len: usize, what: &'static str) -> Result<usize, Error> {
        let i = r.varint(what)?;
        if i >= len as u64 {
            return Err(Error::invalid(cat![what, " ", i, " is out of range (the table has ", len, ")"]));
        }
        Ok(i as usize)
    }

    /// A client written as the difference from the index `prev`.
    fn client_after(&self, r: &mut Reader, prev: &mut usize) -> Result<ClientId, Error> {
        let i = step(prev, r.svarint("client index")?, self.clients.len(), "client index")?;
        self.client_at(i)
    }

    fn client_at(&self, i: usize) -> Result<ClientId, Error> {
        self.clients.get(i).cloned().ok_or_else(|| Error::invalid("client index out of range"))
    }

    fn key_at(&self, i: usize, limits: &Limits) -> Result<Key, Error> {
        let key = self.strings.get(i).ok_or_else(|| Error::invalid("key index out of range"))?;
        limits.check_key(key).map_err(in_update)?;
        Ok(key.clone())
    }

    fn client(&self, r: &mut Reader) -> Result<ClientId, Error> {
        let i = Self::index(r, self.clients.len(), "client index")?;
        self.client_at(i)
    }

    fn key(&self, r: &mut Reader, limits: &Limits) -> Result<Key, Error> {
        let i = Self::index(r, self.strings.len(), "key index")?;
        self.key_at(i, limits)
    }

    fn element(&self, r: &mut Reader) -> Result<Key, Error> {
        let i = Self::index(r, self.strings.len(), "element index")?;
        self.strings.get(i).cloned().ok_or_else(|| Error::invalid("element index out of range"))
    }
}
