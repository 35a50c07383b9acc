//! The messages replicas exchange: a version, a full state, or a delta.
//!
//! [`Update`] is the decoded form of a state or a delta; [`Update::decode`]
//! validates every field (indices, lengths, key rules, safe integers, JSON,
//! limits) before the document sees any of it, which is what makes
//! `apply_update` atomic. The layout is documented in `docs/FORMAT.md`.

use std::collections::BTreeMap;

use crate::client::ClientId;
use crate::clock::Timestamp;
use crate::counter::{Slot, MAX_SAFE_INTEGER};
use crate::doc::Key;
use crate::encoding::{Reader, Writer, FORMAT_VERSION, MAGIC};
use crate::error::{DecodeError, Error};
use crate::limits::{in_update, Limits};
use crate::register::{Register, Value};
use crate::set::{Set, Tags};
use crate::small_map::SmallMap;
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

/// A decoded state or delta.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Update {
    /// A full state lists every live entry: what it lacks, its sender removed.
    pub full: bool,
    /// The dots whose effects this update carries (a state: all its sender saw).
    pub ctx: VersionVector,
    /// A delta carrying removals: everything its sender had seen, so a
    /// receiver can tell a removed set tag from one that was simply not sent.
    pub seen: Option<VersionVector>,
    /// The newest purged removal per client: a peer that has not seen up to
    /// here must be sent full states (see `Doc::encode_delta`).
    pub horizon: SmallMap<ClientId, u64>,
    pub counters: Vec<(Key, Vec<(ClientId, Slot)>)>,
    pub registers: Vec<(Key, Register)>,
    pub sets: Vec<(Key, Set)>,
    /// The client table a decoded update named (empty when encoding: the
    /// encoder builds its own).
    pub clients: Vec<ClientId>,
}

impl Update {
    /// The dots whose fate this update shows: a receiver's set tag among them
    /// that the update's copy of the set lacks was removed or replaced.
    pub fn sender_seen(&self) -> &VersionVector {
        self.seen.as_ref().unwrap_or(&self.ctx)
    }

    /// The dots of every entry the update carries (slots, writes, tags, removals).
    pub fn entry_dots(&self) -> impl Iterator<Item = (&ClientId, u64)> {
        let slots = self.counters.iter().flat_map(|(_, slots)| slots.iter().map(|(c, s)| (c, s.seq)));
        let writes = self.registers.iter().map(|(_, r)| (&r.writer, r.seq));
        let sets = self.sets.iter().flat_map(|(_, set)| {
            let tags = set.elements().flat_map(|(_, tags)| tags.iter().map(|(c, s)| (c, *s)));
            tags.chain(set.removal_record().0.iter().map(|(c, &s)| (c, s)))
        });
        slots.chain(writes).chain(sets)
    }

    pub fn encode(&self) -> Vec<u8> {
        // Two passes over the same walk: the first collects the client ids
        // and strings for the tables, the second writes the body against them.
        let mut names = Names::default();
        self.walk(&mut names);
        let tables = names.into_tables();
        let mut body = Body { w: Writer::new(), t: &tables };
        self.walk(&mut body);
        finish(if self.full { TYPE_STATE } else { TYPE_DELTA }, &tables, body.w)
    }

    /// Feeds every field of the body, in format order, to `out`.
    fn walk<'a>(&'a self, out: &mut impl Sink<'a>) {
        if !self.full {
            match &self.seen {
                Some(seen) => {
                    out.u8(1);
                    walk_vv(out, seen);
                }
                None => out.u8(0),
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
        for (key, reg) in &self.registers {
            out.string(key);
            out.client(&reg.writer);
            out.varint(reg.seq);
            out.varint(reg.ts.wall - base);
            out.varint(reg.ts.logical as u64);
            match reg.value() {
                None => out.u8(VALUE_TOMBSTONE),
                Some(Value::Json(s)) => {
                    out.u8(VALUE_JSON);
                    out.bytes(s.as_bytes());
                }
                Some(Value::Bytes(b)) => {
                    out.u8(VALUE_BYTES);
                    out.bytes(b);
                }
            }
        }
        out.varint(self.sets.len() as u64);
        for (key, set) in &self.sets {
            out.string(key);
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
    pub fn decode(bytes: &[u8], limits: &Limits) -> Result<Update, Error> {
        if bytes.len() as u64 > limits.max_update_bytes {
            return Err(DecodeError::TooLarge { what: "the update's size in bytes", limit: limits.max_update_bytes }.into());
        }
        let mut r = Reader::new(bytes);
        let kind = read_header(&mut r)?;
        let full = match kind {
            TYPE_STATE => true,
            TYPE_DELTA => false,
            TYPE_VERSION => return Err(Error::invalid("this is a version (from version()), not an update")),
            other => return Err(Error::invalid(format!("unknown message type {other}"))),
        };
        let mut b = Budget::new(limits);
        let t = Tables::read(&mut r, limits, &mut b)?;
        let mut u = Update { full, ..Update::default() };
        if !full {
            u.seen = match r.u8("the seen flag")? {
                0 => None,
                1 => Some(read_vv(&mut r, &t, &mut b)?),
                other => return Err(Error::invalid(format!("seen flag must be 0 or 1, got {other}"))),
            };
        }
        u.ctx = read_vv(&mut r, &t, &mut b)?;
        // Set tags and removals of a set sent whole may be older than the
        // update (they are in `seen`); slots and register writes never are.
        let in_ctx = |c: &ClientId, seq: u64| -> Result<(), Error> {
            if u.ctx.contains(c, seq) {
                Ok(())
            } else {
                Err(Error::invalid(format!("change {seq} of client \"{c}\" is not in the update's version")))
            }
        };
        let covered = |c: &ClientId, seq: u64| -> Result<(), Error> {
            if u.seen.as_ref().is_some_and(|s| s.contains(c, seq)) {
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
        for _ in 0..n {
            let key = t.key(&mut r, limits)?;
            let writer = t.client(&mut r)?;
            let seq = read_seq(&mut r)?;
            in_ctx(&writer, seq)?;
            let wall = base
                .checked_add(r.varint("a register's timestamp")?)
                .filter(|&w| w <= MAX_SAFE_INTEGER)
                .ok_or_else(|| Error::invalid("a register timestamp's wall-clock time is above 2^53 - 1"))?;
            let logical = u32::try_from(r.varint("a register's timestamp")?)
                .map_err(|_| Error::invalid("a register timestamp's logical part exceeds 32 bits"))?;
            let value = match r.u8("a register's value type")? {
                VALUE_TOMBSTONE => None,
                VALUE_JSON => {
                    let text = r.str("a register's JSON value")?;
                    limits.check_json(text).map_err(in_update)?;
                    Some(Value::Json(text.to_owned()))
                }
                VALUE_BYTES => {
                    let b = r.bytes("a register's bytes value")?;
                    limits.check_value_len(b.len()).map_err(in_update)?;
                    Some(Value::Bytes(b.to_vec()))
                }
                other => return Err(Error::invalid(format!("unknown register value type {other}"))),
            };
            registers.push((key, Register::new(value, Timestamp { wall, logical }, writer, seq)));
        }

        let mut sets = Vec::new();
        for _ in 0..b.count(&mut r, "the sets")? {
            let key = t.key(&mut r, limits)?;
            let mut elements = BTreeMap::new();
            for _ in 0..b.count(&mut r, "a set's elements")? {
                let element = t.element(&mut r)?;
                let mut tags = Tags::new();
                for _ in 0..b.count(&mut r, "an element's tags")? {
                    let client = t.client(&mut r)?;
                    let seq = read_seq(&mut r)?;
                    covered(&client, seq)?;
                    tags.push((client, seq));
                }
                crate::sort::sort(&mut tags);
                tags.dedup();
                if tags.is_empty() {
                    return Err(Error::invalid("a set element without tags"));
                }
                if let Some(element) = elements.insert(element.clone(), tags).map(|_| element) {
                    return Err(Error::invalid(format!("set element \"{element}\" appears twice in one set")));
                }
            }
            let mut removes = Vec::new();
            for _ in 0..b.count(&mut r, "a set's removals")? {
                let client = t.client(&mut r)?;
                let seq = read_seq(&mut r)?;
                covered(&client, seq)?;
                removes.push((client, seq));
            }
            let removes = SmallMap::from_pairs(removes, max_into);
            let removed_at = r.varint("a set's removal time")?;
            let removed_at = if removes.is_empty() { 0 } else { removed_at };
            sets.push((key, Set::from_parts(elements, removes, removed_at)));
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
    let mut keys: Vec<&str> = entries.iter().map(|(k, _)| &**k).collect();
    crate::sort::sort(&mut keys);
    match keys.windows(2).find(|w| w[0] == w[1]) {
        Some(w) => Err(Error::invalid(format!("key \"{}\" appears twice among the {kind}", w[0]))),
        None => Ok(()),
    }
}

/// Encodes a version vector as a version message (`Doc::version`).
pub fn encode_version(vv: &VersionVector) -> Vec<u8> {
    let mut names = Names::default();
    walk_vv(&mut names, vv);
    let tables = names.into_tables();
    let mut body = Body { w: Writer::new(), t: &tables };
    walk_vv(&mut body, vv);
    finish(TYPE_VERSION, &tables, body.w)
}

/// Header, tables, then the body.
fn finish(kind: u8, tables: &NameTables, body: Writer) -> Vec<u8> {
    let mut out = Writer::new();
    write_header(&mut out, kind);
    tables.write(&mut out);
    out.buf.extend_from_slice(&body.buf);
    out.finish()
}

/// Decodes a version message.
pub fn decode_version(bytes: &[u8], limits: &Limits) -> Result<VersionVector, Error> {
    read_version(bytes, limits).map_err(|e| match e {
        Error::Decode(d) => Error::BadVersion(d),
        other => other,
    })
}

fn read_version(bytes: &[u8], limits: &Limits) -> Result<VersionVector, Error> {
    if bytes.len() as u64 > limits.max_update_bytes {
        return Err(DecodeError::TooLarge { what: "the version's size in bytes", limit: limits.max_update_bytes }.into());
    }
    let mut r = Reader::new(bytes);
    match read_header(&mut r)? {
        TYPE_VERSION => {}
        TYPE_STATE | TYPE_DELTA => return Err(Error::invalid("this is an update, not a version (from version())")),
        other => return Err(Error::invalid(format!("unknown message type {other}"))),
    }
    let mut b = Budget::new(limits);
    let t = Tables::read(&mut r, limits, &mut b)?;
    let vv = read_vv(&mut r, &t, &mut b)?;
    r.end()?;
    Ok(vv)
}

fn write_header(w: &mut Writer, kind: u8) {
    w.u8(MAGIC);
    w.varint(FORMAT_VERSION);
    w.u8(kind);
}

fn read_header(r: &mut Reader) -> Result<u8, Error> {
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
    Ok(r.u8("the header")?)
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

fn read_safe(r: &mut Reader, what: &'static str) -> Result<u64, Error> {
    let v = r.varint(what)?;
    if v > MAX_SAFE_INTEGER {
        return Err(Error::invalid(format!("{what} is above 2^53 - 1")));
    }
    Ok(v)
}

/// Each client: its table index, then its ranges as (gap, length - 1) pairs,
/// each range starting `gap + 1` after the previous one ended (or after 0).
fn walk_vv<'a>(out: &mut impl Sink<'a>, vv: &'a VersionVector) {
    out.varint(vv.client_count() as u64);
    for (client, ranges) in vv.iter() {
        out.client(client);
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
    for _ in 0..b.count(r, "a version vector")? {
        let client = t.client(r)?;
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
    fn u8(&mut self, b: u8);
    fn varint(&mut self, v: u64);
    fn bytes(&mut self, b: &[u8]);
    fn client(&mut self, c: &'a ClientId);
    fn string(&mut self, s: &'a str);
}

/// The first pass: collects the names a message uses.
#[derive(Default)]
struct Names<'a> {
    clients: Vec<&'a ClientId>,
    strings: Vec<&'a str>,
}

impl<'a> Sink<'a> for Names<'a> {
    fn u8(&mut self, _: u8) {}
    fn varint(&mut self, _: u64) {}
    fn bytes(&mut self, _: &[u8]) {}
    fn client(&mut self, c: &'a ClientId) {
        self.clients.push(c);
    }
    fn string(&mut self, s: &'a str) {
        self.strings.push(s);
    }
}

impl<'a> Names<'a> {
    /// Each name once, sorted, so the second pass finds its index by binary
    /// search (no hashing, and no quadratic path however many names).
    fn into_tables(mut self) -> NameTables<'a> {
        crate::sort::sort(&mut self.clients);
        self.clients.dedup();
        crate::sort::sort(&mut self.strings);
        self.strings.dedup();
        NameTables { clients: self.clients, strings: self.strings }
    }
}

/// The client and string tables of a message being written, sorted.
struct NameTables<'a> {
    clients: Vec<&'a ClientId>,
    strings: Vec<&'a str>,
}

impl NameTables<'_> {
    fn write(&self, w: &mut Writer) {
        w.usize(self.clients.len());
        for c in &self.clients {
            match hex_id(c.as_str()) {
                // A default id (16 lowercase hex digits) as its 8 bytes,
                // marked by the length 0 that no real id has.
                Some(raw) => {
                    w.u8(0);
                    w.buf.extend_from_slice(&raw);
                }
                None => w.bytes(c.as_str().as_bytes()),
            }
        }
        w.usize(self.strings.len());
        for s in &self.strings {
            w.bytes(s.as_bytes());
        }
    }
}

/// The second pass: writes the body, names as table indices.
struct Body<'t, 'a> {
    w: Writer,
    t: &'t NameTables<'a>,
}

impl<'a> Sink<'a> for Body<'_, 'a> {
    fn u8(&mut self, b: u8) {
        self.w.u8(b);
    }
    fn varint(&mut self, v: u64) {
        self.w.varint(v);
    }
    fn bytes(&mut self, b: &[u8]) {
        self.w.bytes(b);
    }
    fn client(&mut self, c: &'a ClientId) {
        // Every name was collected in the first pass, so it is found.
        let i = self.t.clients.binary_search(&c).unwrap_or_default();
        self.w.usize(i);
    }
    fn string(&mut self, s: &'a str) {
        let i = self.t.strings.binary_search(&s).unwrap_or_default();
        self.w.usize(i);
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
            return Err(Error::invalid(format!("client \"{}\" appears twice in the client table", w[0])));
        }
        for _ in 0..b.count(r, "the string table")? {
            let s = r.str("a string")?;
            if s.len() as u64 > limits.max_string_bytes {
                return Err(DecodeError::TooLarge { what: "a string's length in bytes", limit: limits.max_string_bytes }.into());
            }
            t.strings.push(s.into());
        }
        Ok(t)
    }

    fn index(r: &mut Reader, len: usize, what: &'static str) -> Result<usize, Error> {
        let i = r.varint(what)?;
        if i >= len as u64 {
            return Err(Error::invalid(format!("{what} {i} is out of range (the table has {len})")));
        }
        Ok(i as usize)
    }

    fn client(&self, r: &mut Reader) -> Result<ClientId, Error> {
        let i = Self::index(r, self.clients.len(), "client index")?;
        self.clients.get(i).cloned().ok_or_else(|| Error::invalid("client index out of range"))
    }

    fn key(&self, r: &mut Reader, limits: &Limits) -> Result<Key, Error> {
        let i = Self::index(r, self.strings.len(), "key index")?;
        let key = self.strings.get(i).ok_or_else(|| Error::invalid("key index out of range"))?;
        limits.check_key(key).map_err(in_update)?;
        Ok(key.clone())
    }

    fn element(&self, r: &mut Reader) -> Result<Key, Error> {
        let i = Self::index(r, self.strings.len(), "element index")?;
        self.strings.get(i).cloned().ok_or_else(|| Error::invalid("element index out of range"))
    }
}
