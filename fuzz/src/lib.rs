//! Shared by the fuzz targets in `fuzz_targets/` and by `examples/seeds.rs`:
//! a busy fixture document, the checks every decoded input must pass, a
//! counting allocator, and the seed inputs (real encodings).
//!
//! Checks (each failure is a crash for libFuzzer):
//! - `apply_update` never panics; on error the document is byte-identical
//!   (same `encode_state()` and `version()`) and the message is the
//!   "slotkv: cannot apply update: …" kind;
//! - decoding and applying allocate at most `AMPLIFICATION` bytes per input
//!   byte (plus 1 MiB);
//! - an accepted update is idempotent (a second apply changes nothing and
//!   reports no change), the document's state still loads and re-encodes to
//!   the same bytes, and a local write afterwards still yields an update
//!   that peers accept.

use std::cell::Cell;
use std::rc::Rc;

use slotkv::{Doc, ErrorKind, Kind, Options, Value, FORMAT_VERSION, MAGIC};

#[path = "../../tests/common/counting_alloc.rs"]
mod counting_alloc;
pub use counting_alloc::peak_during;


/// Bytes allocated per input byte (plus 1 MiB) beyond which decoding counts
/// as a memory amplification. A one-element set costs ~600 bytes of B-tree
/// for 8 bytes on the wire (75x); a copied 64 KiB string per 1-byte
/// reference is thousands.
pub const AMPLIFICATION: usize = 512;

// ---------------------------------------------------------------------------
// Documents
// ---------------------------------------------------------------------------

pub const T0: u64 = 1_700_000_000_000;
pub const MAX_SAFE: u64 = (1 << 53) - 1;
// The newest format, which reads every body the older one does too.
pub const HEADER_STATE: [u8; 3] = [MAGIC, FORMAT_VERSION as u8, 1];
pub const HEADER_DELTA: [u8; 3] = [MAGIC, FORMAT_VERSION as u8, 2];
pub const HEADER_VERSION: [u8; 3] = [MAGIC, FORMAT_VERSION as u8, 0];

/// Options for a document that never purges (so `encode_state` does not
/// change it and can serve as a snapshot).
pub fn options(id: &str) -> Options {
    Options { tombstone_retention_ms: u64::MAX, ..Options::with_client_id(id) }
}

pub fn doc_at(id: &str, clock: &Rc<Cell<u64>>, retention_ms: u64) -> Doc {
    let t = clock.clone();
    let options = Options { tombstone_retention_ms: retention_ms, ..Options::with_client_id(id) };
    Doc::with_clock(options, Box::new(move || t.get())).unwrap()
}

pub fn load(bytes: &[u8], id: &str) -> Result<Doc, slotkv::Error> {
    Doc::load(bytes, options(id), Box::new(|| T0 + 1_000_000))
}

fn json(s: &str) -> Value {
    Value::Json(s.to_owned())
}

/// Three replicas with a shared history: counters with increments and
/// decrements, registers (JSON, bytes, tombstones, a purged tombstone),
/// sets with concurrent adds and removes, out-of-order delivery (holes in
/// versions), and a default-style hex client id. Returns the replicas and
/// every message they exchanged (transaction updates, deltas, states,
/// versions), for seeds.
pub fn history() -> (Vec<Doc>, Vec<Vec<u8>>) {
    let clock = Rc::new(Cell::new(T0));
    let mut a = doc_at("me", &clock, 60_000);
    let mut b = doc_at("peer", &clock, 60_000);
    let mut c = doc_at("0123456789abcdef", &clock, 60_000);
    let mut msgs = Vec::new();
    let commit = |d: &mut Doc, msgs: &mut Vec<Vec<u8>>| -> Vec<u8> {
        let u = d.commit(true).and_then(|c| c.update).unwrap_or_default();
        if !u.is_empty() {
            msgs.push(u.clone());
        }
        u
    };

    a.increment("clicks", 5).unwrap();
    a.increment("clicks", -2).unwrap();
    a.set("status", json("{\"text\":\"hi\",\"n\":[1,2.5,-3e2,true,null]}")).unwrap();
    let a1 = commit(&mut a, &mut msgs);
    a.add("poll", "👍").unwrap();
    a.add("poll", "alice:👍").unwrap();
    let a2 = commit(&mut a, &mut msgs);
    clock.set(T0 + 10);
    b.increment("clicks", 1).unwrap();
    let b1 = commit(&mut b, &mut msgs);
    b.set("blob", Value::Bytes(vec![0, 1, 2, 255])).unwrap();
    let b2 = commit(&mut b, &mut msgs);
    b.set("old", json("\"x\"")).unwrap();
    b.delete("old").unwrap();
    let b3 = commit(&mut b, &mut msgs);
    // Out of order: a sees b's third transaction before its first two.
    a.apply_update(&b3).unwrap();
    a.apply_update(&b1).unwrap();
    b.apply_update(&a2).unwrap();
    b.remove("poll", "👍").unwrap();
    b.add("poll", "bob").unwrap();
    b.add("tags", "new").unwrap(); // beside poll's remove: b's delta to c lists tags in part (format 2)
    let _b4 = commit(&mut b, &mut msgs);
    c.add("poll", "👍").unwrap();
    c.set("status", json("\"é\\u00e9\\n\"")).unwrap();
    c.increment("other", -7).unwrap();
    let _c1 = commit(&mut c, &mut msgs);
    c.apply_update(&a1).unwrap();
    // Deltas and states both ways.
    for (from, to) in [(0usize, 1usize), (1, 2), (2, 0), (1, 0)] {
        let docs = [&mut a, &mut b, &mut c];
        let since = docs[to].version();
        msgs.push(since.clone());
        let delta = docs[from].encode_delta(Some(&since)).unwrap();
        docs[to].apply_update(&delta).unwrap();
        msgs.push(delta);
    }
    msgs.push(b.encode_state());
    // A tombstone and a removal record purged after the retention period:
    // the state carries a horizon.
    clock.set(T0 + 120_000);
    let _ = b2;
    b.set("later", json("[[[[]]],{}]")).unwrap();
    commit(&mut b, &mut msgs);
    msgs.push(b.encode_state());
    msgs.push(c.encode_delta(Some(&a.version())).unwrap());
    msgs.push(a.encode_state());
    msgs.push(c.encode_state());
    (vec![a, b, c], msgs)
}

thread_local! {
    static FIXTURE: Vec<u8> = {
        let (mut docs, _) = history();
        docs[0].encode_state()
    };
}

/// The document fuzz inputs are applied to: replica "me" of `history()`.
pub fn fixture() -> Doc {
    FIXTURE.with(|state| load(state, "me").expect("the fixture state loads"))
}

/// What must not change when an update is refused.
pub fn snapshot(d: &mut Doc) -> (Vec<u8>, Vec<u8>) {
    (d.encode_state(), d.version())
}

/// The checks for one message applied to the fixture document.
pub fn check_apply(msg: &[u8]) {
    let mut d = fixture();
    let before = snapshot(&mut d);
    let (result, peak) = peak_during(|| d.apply_update(msg));
    let bound = AMPLIFICATION * msg.len() + (1 << 20);
    assert!(peak <= bound, "applying {} bytes allocated {peak} bytes (bound {bound})", msg.len());
    match result {
        Err(e) => {
            assert_eq!(snapshot(&mut d), before, "a refused update changed the document: {e}");
            assert_eq!(e.kind(), ErrorKind::Other, "{e}");
            let text = e.to_string();
            assert!(text.starts_with("slotkv: cannot apply update: "), "{text}");
        }
        Ok(_) => check_accepted(&mut d, msg),
    }
}

/// `d` just accepted `msg`.
pub fn check_accepted(d: &mut Doc, msg: &[u8]) {
    let after = snapshot(d);
    let again = d.apply_update(msg).expect("an update accepted once is accepted again");
    assert_eq!(snapshot(d), after, "applying the same update twice changed the document");
    assert!(again.is_none(), "a duplicate update reported changes: {again:?}");
    // The state loads and re-encodes to the same bytes.
    let state = after.0;
    let mut copy = load(&state, "copy").unwrap_or_else(|e| panic!("the document's state does not load: {e}"));
    assert_eq!(copy.encode_state(), state, "state -> load -> state is not stable");
    assert_eq!(copy.version(), after.1);
    // What a user sees is well-formed.
    for key in d.keys(Kind::Register) {
        assert!(d.get(key).is_some());
    }
    for key in d.keys(Kind::Set) {
        assert!(!d.members(key).is_empty());
    }
    // Local writes still make updates that a peer accepts, and a loadable state.
    let _ = d.increment("clicks", 1);
    let _ = d.increment("new", -1);
    let _ = d.set("status", json("1"));
    let _ = d.delete("blob");
    let _ = d.add("poll", "x");
    let _ = d.remove("poll", "👍");
    if let Some(c) = d.commit(true) {
        let update = c.update.expect("asked for");
        load(&update, "peer-of-me").unwrap_or_else(|e| panic!("a peer refuses our update after a write: {e}"));
    }
    let state = d.encode_state();
    load(&state, "copy").unwrap_or_else(|e| panic!("our state does not load after a write: {e}"));
}

/// Seed inputs: every message of `history()`, split by what each target reads.
pub struct Seeds {
    /// Full messages (states, deltas, versions).
    pub messages: Vec<Vec<u8>>,
    /// States without their 3-byte header.
    pub state_bodies: Vec<Vec<u8>>,
    /// Deltas (and transaction updates) without their 3-byte header.
    pub delta_bodies: Vec<Vec<u8>>,
    /// Version messages without their header.
    pub version_bodies: Vec<Vec<u8>>,
}

pub fn seeds() -> Seeds {
    let (_, msgs) = history();
    let body = |kind: u8| -> Vec<Vec<u8>> {
        msgs.iter().filter(|m| m.len() >= 3 && m[0] == MAGIC && (m[1] == 1 || m[1] == 2) && m[2] == kind).map(|m| m[3..].to_vec()).collect()
    };
    Seeds { state_bodies: body(1), delta_bodies: body(2), version_bodies: body(0), messages: msgs }
}
