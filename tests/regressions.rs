//! Regression tests for what fuzzing and review of the decoder found, and
//! tests of the limits of `src/limits.rs` (docs/SECURITY.md lists them).
//!
//! Updates are built byte by byte with a small encoder below, so each test
//! shows exactly what a hostile or corrupt peer sends. Three kinds of checks:
//!
//! - a document that accepted an update (or a local write) can still encode
//!   a state that loads, and updates that peers accept (no "poisoning");
//! - decoding and applying an update costs memory proportional to its size
//!   (a counting allocator measures the peak; time is checked in
//!   `complexity.rs`);
//! - every limit is enforced with a clear error and the document unchanged.
//!
//! Tests named `fuzz_*` replay inputs the cargo-fuzz targets in `fuzz/` found.

use std::cell::Cell;
use std::rc::Rc;

mod common;

use common::{Enc, MAX_SAFE, TYPE_DELTA, TYPE_STATE, TYPE_VERSION};
use slotkv::{DecodeError, Doc, Error, ErrorKind, Kind, Limits, Options, Value, MAGIC, MAX_KEY_BYTES};

#[path = "common/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::peak_during;


// ---------------------------------------------------------------------------
// Documents
// ---------------------------------------------------------------------------

type Time = Rc<Cell<u64>>;

const T0: u64 = 1_700_000_000_000;

fn doc_on(id: &str, clock: &Time, limits: Limits) -> Doc {
    let t = clock.clone();
    Doc::with_clock(Options { limits, ..Options::with_client_id(id) }, Box::new(move || t.get())).unwrap()
}

/// A document on `clock` that keeps tombstones and removal records for `retention_ms`.
fn retaining(id: &str, clock: &Time, retention_ms: u64) -> Doc {
    let t = clock.clone();
    Doc::with_clock(Options { tombstone_retention_ms: retention_ms, ..Options::with_client_id(id) }, Box::new(move || t.get())).unwrap()
}

fn doc(id: &str) -> Doc {
    doc_on(id, &Rc::new(Cell::new(T0)), Limits::default())
}

fn load(state: &[u8], id: &str) -> Result<Doc, Error> {
    Doc::load(state, Options::with_client_id(id), Box::new(|| T0))
}

/// A document with something of every kind: counters, a register, a
/// tombstone, sets with a removal record, and another replica's entries.
fn busy_doc(id: &str) -> Doc {
    let clock = Rc::new(Cell::new(T0));
    let mut other = doc_on("peer", &clock, Limits::default());
    other.increment("c", 5).unwrap();
    other.add("s", "from-peer").unwrap();
    other.set("r2", Value::Bytes(vec![1, 2, 3])).unwrap();
    let mut d = doc_on(id, &clock, Limits::default());
    d.apply_update(&other.encode_state()).unwrap();
    d.increment("c", -2).unwrap();
    d.set("r", Value::Json("{\"a\":[1,2]}".into())).unwrap();
    d.set("gone", Value::Json("1".into())).unwrap();
    d.delete("gone").unwrap();
    d.add("s", "x").unwrap();
    d.add("s", "y").unwrap();
    d.remove("s", "y").unwrap();
    d.commit(false);
    d
}

/// Everything observable about a document: its state, its version, what it shows.
fn snapshot(d: &mut Doc) -> (Vec<u8>, Vec<u8>, String) {
    let shown = format!(
        "{:?} {:?} {:?}",
        d.keys(Kind::Counter).iter().map(|k| (k.to_string(), d.counter(k))).collect::<Vec<_>>(),
        d.keys(Kind::Register).iter().map(|k| (k.to_string(), d.get(k).cloned())).collect::<Vec<_>>(),
        d.keys(Kind::Set).iter().map(|k| (k.to_string(), d.members(k).join(","))).collect::<Vec<_>>(),
    );
    (d.encode_state(), d.version(), shown)
}

/// Applies `bytes` to a busy document, expecting a refusal that changes nothing.
#[track_caller]
fn refused(bytes: &[u8]) -> Error {
    let mut d = busy_doc("me");
    let before = snapshot(&mut d);
    let err = d.apply_update(bytes).expect_err("the update must be refused");
    assert_eq!(snapshot(&mut d), before, "a refused update changed the document ({err})");
    assert_eq!(err.kind(), ErrorKind::Other, "{err}");
    assert!(err.to_string().starts_with("slotkv: cannot apply update: "), "{err}");
    err
}

/// The state of `d` loads into a new replica and encodes to the same bytes,
/// and a local write there still makes an update a peer accepts.
#[track_caller]
fn assert_healthy(d: &mut Doc, what: &str) {
    let state = d.encode_state();
    let mut copy = load(&state, "reloaded").unwrap_or_else(|e| panic!("{what}: the document's own state does not load: {e}"));
    assert_eq!(copy.encode_state().len(), state.len(), "{what}: the reloaded state differs");
    assert_eq!(copy.version(), d.version(), "{what}: the reloaded version differs");
}

/// Commits `d`'s open transaction; a fresh peer must accept its update.
#[track_caller]
fn assert_update_accepted(d: &mut Doc, what: &str) {
    if let Some(c) = d.commit(true) {
        let update = c.update.unwrap();
        doc("peer-x")
            .apply_update(&update)
            .unwrap_or_else(|e| panic!("{what}: peers refuse this document's update: {e}"));
    }
}

// ---------------------------------------------------------------------------
// Poisoning: values a peer may send that the document cannot send back
// ---------------------------------------------------------------------------

/// A delta claiming change 2^53 − 1 of the receiver's own client id. Accepted
/// (a replica must catch up with its own past writes after a reload), but the
/// receiver's next change number would be 2^53, which every decoder refuses:
/// its state would no longer load and peers would refuse all its updates.
/// Fix: a local write whose change number would pass 2^53 − 1 is refused.
#[test]
fn a_forged_change_number_of_our_own_at_2_53_does_not_make_the_document_unloadable() {
    let mut d = busy_doc("victim");
    let mut forged = Enc::header(TYPE_DELTA);
    forged.tables(&["victim"], &[]).u8(0).vv(&[(0, &[(MAX_SAFE, MAX_SAFE)])]).v(0).v(0).v(0).v(0);
    d.apply_update(&forged.done()).expect("a well-formed delta");
    assert_healthy(&mut d, "after the forged change number");
    let writes = [
        d.increment("c", 1).is_ok(),
        d.set("r", Value::Json("2".into())).is_ok(),
        d.add("s", "z").is_ok(),
    ];
    assert_healthy(&mut d, "after local writes");
    assert_update_accepted(&mut d, "after local writes");
    // If writes are refused, they are refused as RangeErrors (an exhausted change number).
    if writes.contains(&false) {
        let e = d.increment("c", 1).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Range, "{e}");
    }
}

/// The same one change earlier: a re-add needs two change numbers (its
/// remove and its add), so with one left it is refused and changes nothing,
/// while an add of a new element takes the last one.
#[test]
fn a_re_add_with_one_change_number_left_is_refused_whole() {
    let mut d = doc("victim");
    d.add("s", "z").unwrap();
    d.commit(false);
    let mut forged = Enc::header(TYPE_DELTA);
    forged.tables(&["victim"], &[]).u8(0).vv(&[(0, &[(MAX_SAFE - 1, MAX_SAFE - 1)])]).v(0).v(0).v(0).v(0);
    d.apply_update(&forged.done()).expect("a well-formed delta");
    let before = d.set_state("s").cloned();
    let e = d.add("s", "z").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Range, "{e}");
    assert_eq!(d.set_state("s").cloned(), before, "the refused re-add changed the set");
    assert!(d.commit(false).is_none(), "the refused re-add left a change to commit");
    d.add("s", "new").unwrap();
    assert_eq!(d.members("s"), ["new", "z"]);
    assert_healthy(&mut d, "after the last change number");
    assert_update_accepted(&mut d, "after the last change number");
}

/// A register write timestamped (2^53 − 1 ms, logical 2^32 − 1): the largest
/// the decoder accepts. The receiver's clock observes it, so its next write is
/// stamped 2^53 ms, which every decoder refuses.
#[test]
fn a_register_timestamp_at_the_maximum_does_not_make_the_document_unloadable() {
    let mut d = busy_doc("victim");
    let mut forged = Enc::header(TYPE_DELTA);
    forged.tables(&["peer2"], &[b"r"]).u8(0).vv(&[(0, &[(1, 1)])]).v(0).v(0);
    forged.v(1).v(MAX_SAFE); // one register, base wall time 2^53 - 1
    forged.reg(0, 0, 1, 0, u32::MAX as u64).value(1, b"\"late\"");
    forged.v(0);
    d.apply_update(&forged.done()).expect("a well-formed delta");
    let _ = d.set("r", Value::Json("\"mine\"".into()));
    let _ = d.set("other", Value::Json("1".into()));
    assert_healthy(&mut d, "after writing past the maximum timestamp");
    assert_update_accepted(&mut d, "after writing past the maximum timestamp");
}

/// A wall clock past 2^53 ms (in JS: a `now` option returning 1e300, which
/// the binding turns into u64::MAX): register writes get timestamps the
/// decoder refuses.
#[test]
fn a_wall_clock_beyond_2_53_ms_does_not_make_the_document_unloadable() {
    for now in [MAX_SAFE + 1, 1 << 60, u64::MAX] {
        let mut d = doc_on("fast-clock", &Rc::new(Cell::new(now)), Limits::default());
        d.set("r", Value::Json("1".into())).unwrap();
        d.add("s", "e").unwrap();
        d.remove("s", "e").unwrap();
        assert_update_accepted(&mut d, &format!("clock at {now}"));
        assert_healthy(&mut d, &format!("clock at {now}"));
    }
}

/// Found by the `converge` fuzz target (minimised: add, commit, remove,
/// clock past the retention, `encode_state`, commit). `encode_state` purged
/// the removal record of a remove whose transaction was still open, so the
/// transaction's update no longer listed the set, while its `ctx` and the
/// raised horizon told peers they had seen everything: a peer that had
/// the element kept it for good. The same for a register deleted in an open
/// transaction. In JS: `transact(() => { remove(); encodeState() })` with a
/// short `tombstoneRetentionMs` (0, say) or a clock jump.
/// Fix: `Doc::purge` does nothing while a transaction has changes.
#[test]
fn fuzz_converge_purge_inside_an_open_transaction_does_not_lose_a_remove() {
    let clock = Rc::new(Cell::new(T0));
    let (mut a, mut b) = (retaining("a", &clock, 1_000), retaining("b", &clock, 1_000));
    a.add("s", "x").unwrap();
    a.set("r", Value::Json("1".into())).unwrap();
    let u1 = a.commit(true).unwrap().update.unwrap();
    b.apply_update(&u1).unwrap();
    a.remove("s", "x").unwrap();
    a.delete("r").unwrap();
    clock.set(T0 + 5_000);
    let _ = a.encode_state(); // inside the open transaction
    let u2 = a.commit(true).unwrap().update.unwrap();
    b.apply_update(&u2).unwrap();
    for _ in 0..3 {
        let to_b = a.encode_delta(Some(&b.version())).unwrap();
        b.apply_update(&to_b).unwrap();
        let to_a = b.encode_delta(Some(&a.version())).unwrap();
        a.apply_update(&to_a).unwrap();
    }
    assert_eq!(a.members("s"), Vec::<&str>::new());
    assert_eq!(b.members("s"), Vec::<&str>::new(), "b still holds the element a removed");
    assert_eq!(a.get("r"), None);
    assert_eq!(b.get("r"), None, "b still holds the register a deleted");
}

/// Found in review: once a set's removal record had been purged (retention
/// past), receiving the remove's update again put the record back and
/// reported a change (JS fired "update" and "change") though nothing a user
/// can see had changed. Fix: `Set::merge` takes no record entry for a remove
/// the replica has already seen.
#[test]
fn a_remove_received_again_after_its_record_was_purged_changes_nothing() {
    let clock = Rc::new(Cell::new(T0));
    let (mut a, mut b) = (retaining("a", &clock, 10), retaining("b", &clock, 10));
    let mut updates = Vec::new();
    for step in [|b: &mut Doc| b.add("s", "x"), |b: &mut Doc| b.add("s", "y"), |b: &mut Doc| b.remove("s", "x")] {
        step(&mut b).unwrap();
        updates.push(b.commit(true).unwrap().update.unwrap());
    }
    for u in &updates {
        a.apply_update(u).unwrap();
    }
    assert_eq!(a.members("s"), ["y"]);
    let b_state = b.encode_state(); // holds the record
    clock.set(T0 + 100);
    let _ = a.encode_delta(Some(&b.version())).unwrap(); // purges the removal record
    let purged = a.encode_state();
    for u in &updates {
        assert_eq!(a.apply_update(u).unwrap(), None, "a second delivery reported a change");
    }
    assert_eq!(a.encode_state(), purged, "a second delivery changed the state");
    // b's whole state, record and all, is no news either.
    assert_eq!(a.apply_update(&b_state).unwrap(), None);
    assert_eq!(a.members("s"), ["y"]);
}

/// Found in review: `delete` of a key this replica held no value for did
/// nothing, so a later delete lost to an earlier concurrent set (SPEC: "a
/// later set beats an earlier delete and vice versa"). Deleting again after
/// a delete did nothing too, so it lost to a set made in between elsewhere.
#[test]
fn a_delete_is_a_timestamped_write_even_where_the_key_holds_no_value() {
    let sync = |x: &mut Doc, y: &mut Doc| {
        y.apply_update(&x.encode_delta(Some(&y.version())).unwrap()).unwrap();
        x.apply_update(&y.encode_delta(Some(&x.version())).unwrap()).unwrap();
    };
    let (ta, tb) = (Rc::new(Cell::new(T0 + 10)), Rc::new(Cell::new(T0 + 20)));
    let (mut a, mut b) = (doc_on("a", &ta, Limits::default()), doc_on("b", &tb, Limits::default()));
    a.set("k", Value::Json("1".into())).unwrap();
    b.delete("k").unwrap(); // later, never having seen a's set
    sync(&mut a, &mut b);
    assert_eq!((a.get("k"), b.get("k")), (None, None));
    assert!(a.register("k").is_some_and(|r| r.is_tombstone() && r.writer.as_str() == "b"));

    // Deleting what is already deleted here, after a set elsewhere.
    let (ta, tb) = (Rc::new(Cell::new(T0 + 10)), Rc::new(Cell::new(T0 + 15)));
    let (mut a, mut b) = (doc_on("a", &ta, Limits::default()), doc_on("b", &tb, Limits::default()));
    a.set("k", Value::Json("1".into())).unwrap();
    sync(&mut a, &mut b);
    b.delete("k").unwrap();
    ta.set(T0 + 17);
    a.set("k", Value::Json("2".into())).unwrap(); // offline
    tb.set(T0 + 20);
    b.delete("k").unwrap(); // b holds no value: its delete must still count
    sync(&mut a, &mut b);
    assert_eq!((a.get("k"), b.get("k")), (None, None));
}

/// Found by the `apply_state` fuzz target: a forged update files a write
/// under another key than the one it was made for, with a dot this replica
/// has seen (peer's change 2, its write of "blob") and a later timestamp. Alone,
/// it was ignored (no entry for the key yet); once another update had written
/// that key, delivering it again let the seen write win: a second delivery
/// changed the document. (The fuzzer's input put both writes in one update;
/// a key listed twice is now refused outright.) Fix: a write whose dot was
/// seen is ignored, always.
#[test]
fn fuzz_apply_state_a_seen_write_filed_under_another_key_is_ignored_every_time() {
    let clock = Rc::new(Cell::new(T0));
    let mut peer = doc_on("peer", &clock, Limits::default());
    peer.set("a", Value::Json("1".into())).unwrap();
    peer.set("blob", Value::Json("2".into())).unwrap();
    let mut d = doc_on("me", &clock, Limits::default());
    d.apply_update(&peer.encode_state()).unwrap();
    let write = |client: &str, seq: u64, offset: u64, value: &[u8]| {
        let mut u = Enc::header(TYPE_DELTA);
        u.tables(&[client], &[b"x"]).u8(0).vv(&[(0, &[(seq, seq)])]).v(0).v(0);
        u.v(1).v(T0).reg(0, 0, seq as i64, offset, 0).value(1, value);
        u.v(0);
        u.done()
    };
    let seen = write("peer", 2, 20, b"\"seen\""); // key x, peer's change 2, T0 + 20
    let new = write("q", 1, 10, b"\"new\""); // key x, q's change 1, T0 + 10
    d.apply_update(&seen).unwrap();
    assert!(d.apply_update(&new).unwrap().is_some());
    let once = snapshot(&mut d);
    assert_eq!(d.get("x"), Some(&Value::Json("\"new\"".into())));
    d.apply_update(&seen).unwrap();
    assert_eq!(snapshot(&mut d), once, "a second delivery changed the document");
    assert_healthy(&mut d, "after the forged update");
}

/// Found by the `apply_state` fuzz target: a forged full state lists set "k"
/// twice, first without element "e", then with it. The first delivery added
/// the element's (unseen) tag; the second read the first listing as "the
/// sender has seen that tag and dropped it" and removed it again. Fix: an
/// update that lists a key twice per kind, or an element twice in one set, is
/// refused (no encoder writes one).
#[test]
fn fuzz_apply_state_a_key_listed_twice_is_refused() {
    // Set "k" listed twice: empty (with a removal record), then with "e" tagged (q, 1).
    let mut twice = Enc::header(TYPE_STATE);
    twice.tables(&["q"], &[b"k", b"e"]).vv(&[(0, &[(1, 2)])]).v(0).v(0).v(0);
    twice.v(2);
    twice.v(0).v(0).v(1).v(0).v(2).v(5); // key 0, no elements, one removal (q, 2) at 5 ms
    twice.v(0).v(1).v(1).v(1).v(0).v(1).v(0).v(0); // key 0, element 1 with tag (q, 1)
    let err = refused(&twice.done());
    assert!(err.to_string().contains("key \"k\" appears twice among the sets"), "{err}");

    let mut element_twice = Enc::header(TYPE_STATE);
    element_twice.tables(&["q"], &[b"k", b"e"]).vv(&[(0, &[(1, 2)])]).v(0).v(0).v(0);
    element_twice.v(1).v(0).v(2).v(1).v(1).v(0).v(1).v(1).v(1).v(0).v(2).v(0).v(0);
    let err = refused(&element_twice.done());
    assert!(err.to_string().contains("appears twice in one set"), "{err}");

    let mut counter_twice = Enc::header(TYPE_STATE);
    counter_twice.tables(&["q"], &[b"c"]).vv(&[(0, &[(1, 2)])]).v(0);
    counter_twice.v(2).v(0).v(1).v(0).v(1).v(1).v(0).v(0).v(1).v(0).v(2).v(2).v(0).v(0).v(0);
    let err = refused(&counter_twice.done());
    assert!(err.to_string().contains("among the counters"), "{err}");

    let mut register_twice = Enc::header(TYPE_STATE);
    register_twice.tables(&["q"], &[b"r"]).vv(&[(0, &[(1, 2)])]).v(0).v(0);
    register_twice.v(2).v(T0);
    register_twice.reg(0, 0, 1, 0, 0).value(1, b"1");
    register_twice.reg(0, 0, 1, 1, 0).value(1, b"2"); // the same key again, seq 1 + 1
    register_twice.v(0);
    let err = refused(&register_twice.done());
    assert!(err.to_string().contains("among the registers"), "{err}");
}

/// Found by review and by the `apply_delta` fuzz target (the index's debug
/// check failed): a forged delta tags two elements of a set with one dot,
/// which no encoder writes (every add has a dot of its own). A set's dot
/// index (which finds the tags a received remove drops) held one element per
/// dot, so a remove that saw the dot dropped one of the two elements where a
/// replica without an index, walking the set, dropped both: the replicas
/// diverged. Fix: a set whose tags share a dot is merged by walking, index
/// or not.
#[test]
fn fuzz_apply_delta_a_dot_on_two_elements_is_merged_alike_with_or_without_an_index() {
    let clock = Rc::new(Cell::new(T0));
    let mut d = doc_on("me", &clock, Limits::default());
    for e in ["p", "q", "r"] {
        d.add("k", e).unwrap();
    }
    // A peer's remove of "p": an update of two dots into a set of three
    // elements, so `d` builds its set's dot index to find p's tag.
    let mut b = doc_on("b", &clock, Limits::default());
    b.apply_update(&d.encode_state()).unwrap();
    b.remove("k", "p").unwrap();
    let removed_p = b.finish(true).flatten().unwrap();
    d.apply_update(&removed_p).unwrap();
    let mut without_index = doc_on("me", &clock, Limits::default());
    without_index.apply_update(&d.encode_state()).unwrap();

    // X and Y both tagged (h, 5).
    let mut shared = Enc::header(TYPE_DELTA);
    shared.tables(&["h"], &[b"k", b"X", b"Y"]).u8(0).vv(&[(0, &[(5, 5)])]).v(0).v(0).v(0);
    shared.v(1).v(0).v(2).v(1).v(1).v(0).v(5).v(2).v(1).v(0).v(5).v(0).v(0);
    // A remove by z that saw (h, 5) and holds neither: its update lists the
    // set with z's removal record, and names (h, 5) in its ctx.
    let mut remove = Enc::header(TYPE_DELTA);
    remove.tables(&["h", "z"], &[b"k"]).u8(0).vv(&[(0, &[(5, 5)]), (1, &[(1, 1)])]).v(0).v(0).v(0);
    remove.v(1).v(0).v(0).v(1).v(1).v(1).v(T0);
    for doc in [&mut d, &mut without_index] {
        doc.apply_update(&shared.done()).unwrap();
        assert_eq!(doc.members("k"), ["X", "Y", "q", "r"]);
        doc.apply_update(&remove.done()).unwrap();
        assert_eq!(doc.members("k"), ["q", "r"]);
    }
    assert_eq!(d.entries(), without_index.entries());
    assert_healthy(&mut d, "after the forged updates");
}

// ---------------------------------------------------------------------------
// Memory: decoding costs memory in proportion to the update's size
// ---------------------------------------------------------------------------

/// At most this many bytes allocated per byte of update (plus 1 MiB), while
/// decoding and applying it to an empty document. A register value or string
/// is copied once; every other entry (a slot, a tag, a set...) costs a few
/// dozen bytes for its one or two bytes on the wire. At 64 the default
/// maximum update (64 MiB) could cost 4 GiB, all a wasm32 module has; the
/// limits must keep the product below that.
const AMPLIFICATION: usize = 64;

#[track_caller]
fn assert_proportional(bytes: &[u8], what: &str) {
    let mut d = doc("me");
    let (result, peak) = peak_during(|| d.apply_update(bytes).map(|_| ()));
    let bound = AMPLIFICATION * bytes.len() + (1 << 20);
    assert!(
        peak <= bound,
        "{what}: applying {} bytes allocated {peak} bytes at peak (more than {bound}); result {result:?}",
        bytes.len()
    );
}

/// One string of 64 KiB in the string table, used as the element of 2 000
/// sets: 80 KB on the wire, 128 MB decoded, because each reference copies the
/// string (`Tables::element` returns `s.to_string()`). With the default 64 MiB
/// update limit, one update could ask for terabytes. Fix: share the table's
/// `Rc<str>` (elements as `Rc<str>`), or count the bytes of elements decoded
/// against a budget such as `max_update_bytes`.
#[test]
fn a_long_set_element_referenced_many_times_is_not_copied_each_time() {
    let big = vec![b'x'; 64 << 10];
    assert_proportional(&sets_of_one_element(&big, 2_000), "one 64 KiB element in 2 000 sets");
}

/// A delta listing set "k" `sets` times, each with the one element `element`
/// tagged (client 0, seq 1) and no removals.
fn sets_of_one_element(element: &[u8], sets: u64) -> Vec<u8> {
    let mut u = Enc::header(TYPE_DELTA);
    u.tables(&["p"], &[b"k", element]).u8(0).vv(&[(0, &[(1, 1)])]).v(0).v(0).v(0);
    u.v(sets);
    for _ in 0..sets {
        u.v(0).v(1).v(1).v(1).v(0).v(1).v(0).v(0);
    }
    u.done()
}

/// 500 000 sets of one one-byte element each: 4 MB on the wire. Each costs a
/// B-tree leaf (~550 bytes) and a tag vector, about 90 bytes per byte of
/// update: 64 MiB of such sets would need ~6 GB, more than wasm32 can address
/// (the module aborts). Fix: a maximum number of entries per update (the
/// issue's "maximum entries per update"), checked as counts are read.
#[test]
fn many_small_sets_cost_memory_in_proportion_to_the_update() {
    assert_proportional(&sets_of_one_element(b"e", 500_000), "500 000 one-element sets");
}

/// 2 000 000 counters with no slots, 4 MB on the wire.
#[test]
fn many_empty_counters_cost_memory_in_proportion_to_the_update() {
    let n = 2_000_000u64;
    let mut u = Enc::header(TYPE_DELTA);
    u.tables(&["p"], &[b"k"]).u8(0).vv(&[]).v(0);
    u.v(n);
    for _ in 0..n {
        u.v(0).v(0);
    }
    u.v(0).v(0);
    assert_proportional(&u.done(), "2 000 000 empty counters");
}

/// A version vector of 1 000 000 one-dot ranges (2 MB).
#[test]
fn a_version_vector_with_many_ranges_costs_memory_in_proportion() {
    let ranges: Vec<(u64, u64)> = (1..=1_000_000u64).map(|i| (2 * i, 2 * i)).collect();
    let mut u = Enc::header(TYPE_DELTA);
    u.tables(&["p"], &[]).u8(0).vv(&[(0, &ranges)]).v(0).v(0).v(0).v(0);
    assert_proportional(&u.done(), "1 000 000 version ranges");
}

/// Forged lengths and counts larger than the bytes that remain are refused
/// before anything is allocated.
#[test]
fn a_length_prefix_longer_than_the_input_is_refused_before_allocating() {
    let huge = [u64::MAX >> 1, 1 << 40, 1 << 32, 1 << 20, 100];
    for n in huge {
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("client table count", Enc::header(TYPE_STATE).v(n).done()),
            ("client id length", Enc::header(TYPE_STATE).v(1).v(n).done()),
            ("string table count", Enc::header(TYPE_STATE).v(0).v(n).done()),
            // A string's length is in its header, shifted left by 3 (front coding).
            ("string length", Enc::header(TYPE_STATE).v(0).v(1).v(n << 3).done()),
            ("version clients", Enc::header(TYPE_STATE).v(0).v(0).v(n).done()),
            ("counters", Enc::header(TYPE_STATE).v(0).v(0).v(0).v(0).v(n).done()),
            ("registers", Enc::header(TYPE_STATE).v(0).v(0).v(0).v(0).v(0).v(n).done()),
            ("sets", Enc::header(TYPE_STATE).v(0).v(0).v(0).v(0).v(0).v(0).v(n).done()),
            (
                "register JSON length",
                Enc::header(TYPE_STATE)
                    .tables(&["p"], &[b"k"])
                    .vv(&[(0, &[(1, 1)])])
                    .v(0)
                    .v(0)
                    .v(1)
                    .v(5)
                    .reg(0, 0, 1, 0, 0)
                    .v(n << 3 | 1) // JSON, length n
                    .done(),
            ),
        ];
        for (what, bytes) in cases {
            let (err, peak) = peak_during(|| refused(&bytes));
            assert!(
                matches!(err, Error::Decode(DecodeError::Truncated { .. })),
                "{what} = {n}: expected 'truncated', got {err}"
            );
            // The busy document and its snapshots take a few KB; nothing near `n`.
            assert!(peak < 1 << 20, "{what} = {n}: {peak} bytes allocated");
        }
    }
}

// ---------------------------------------------------------------------------
// Limits on entries per update and client ids per document
// ---------------------------------------------------------------------------

/// The default maximum of entries in one update (see docs/SECURITY.md).
const MAX_ENTRIES: u64 = 1 << 20;
/// The default maximum of client ids in one document.
const MAX_DOC_CLIENTS: u64 = 1 << 20;

/// 2^20 + 1 counters without slots: 2 MB on the wire, refused (as the count is
/// read, before allocating for them) by a maximum of entries per update.
/// Without the limit it was accepted after allocating ~80 MB; 64 MiB of such
/// entries would allocate ~2.6 GB, and of one-element sets ~6 GB (more than
/// wasm32 can address: the module aborts).
#[test]
fn an_update_with_more_entries_than_the_default_maximum_is_refused() {
    let n = MAX_ENTRIES + 1;
    let mut u = Enc::header(TYPE_DELTA);
    u.tables(&["p"], &[b"k"]).u8(0).vv(&[]).v(0);
    u.v(n);
    for _ in 0..n {
        u.v(0).v(0);
    }
    u.v(0).v(0);
    let bytes = u.done();
    let (result, peak) = peak_during(|| refused_quietly(&bytes));
    let err = result.expect_err("an update of 2^20 + 1 entries must be refused by the default limits");
    assert!(err.to_string().contains("entries"), "{err}");
    assert!(peak < 16 << 20, "refusing it allocated {peak} bytes");
    // Exactly the maximum is fine: 2^19 keys in the string table, and a
    // counter (without slots) for each.
    let n = MAX_ENTRIES / 2;
    let names: Vec<String> = (0..n).map(|i| format!("k{i:07}")).collect();
    let keys: Vec<&[u8]> = names.iter().map(|k| k.as_bytes()).collect();
    let mut u = Enc::header(TYPE_DELTA);
    u.tables(&["p"], &keys).u8(0).vv(&[]).v(0);
    u.v(n);
    for i in 0..n {
        u.v(i).v(0);
    }
    u.v(0).v(0);
    doc("me").apply_update(&u.done()).unwrap();
}

/// Like `refused`, but returns the result instead of requiring an error.
fn refused_quietly(bytes: &[u8]) -> Result<(), Error> {
    let mut d = doc("me");
    let before = snapshot(&mut d);
    let r = d.apply_update(bytes).map(|_| ());
    if r.is_err() {
        assert_eq!(snapshot(&mut d), before, "a refused update changed the document");
    }
    r
}

/// 16 updates of 65 536 new clients each fill a document with 2^20 client
/// ids; one more client is refused, and nothing changes. (Without the limit
/// a document took any number of clients, each update at most `max_clients`.)
#[test]
fn a_document_refuses_more_client_ids_than_the_default_maximum() {
    let per_update = 1u64 << 16;
    let update = |first: u64, n: u64| {
        let names: Vec<String> = (first..first + n).map(|i| format!("c{i:08}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let one: &[(u64, u64)] = &[(1, 1)];
        let ctx: Vec<(u64, &[(u64, u64)])> = (0..n).map(|i| (i, one)).collect();
        let mut u = Enc::header(TYPE_DELTA);
        u.tables(&refs, &[]).u8(0).vv(&ctx).v(0).v(0).v(0).v(0);
        u.done()
    };
    let mut d = doc_on("me", &Rc::new(Cell::new(T0)), Limits::default());
    // Our own id is one of them: fill up to the maximum exactly.
    let mut first = 0;
    let mut left = MAX_DOC_CLIENTS - 1;
    while left > 0 {
        let n = left.min(per_update);
        d.apply_update(&update(first, n)).expect("below the maximum");
        first += n;
        left -= n;
    }
    d.increment("k", 1).unwrap();
    d.commit(false);
    let before = d.version();
    let err = d.apply_update(&update(first, 1)).expect_err("one client more than the maximum");
    assert!(err.to_string().contains("client ids"), "{err}");
    assert_eq!(d.version(), before);
    // Known clients are still welcome.
    d.apply_update(&update(0, 1)).unwrap();
}

/// The limits bound each update from a peer, not the document: local writes
/// grow a document past what one update may hold. (Found in review: its own
/// state was then refused on load, and persist skipped that snapshot as if
/// it were corrupt, so the next one it wrote lacked it.) Its own storage
/// loads it all through `apply_stored`; a peer's update is still refused.
#[test]
fn a_document_larger_than_its_update_limits_loads_from_its_own_storage() {
    let limits = Limits { max_entries: 50, max_clients: 2, max_doc_clients: 2, max_update_bytes: 2_000, ..Limits::default() };
    let clock = Rc::new(Cell::new(T0));
    let mut d = doc_on("me", &clock, limits.clone());
    for i in 0..200 {
        d.increment(&format!("k{i}"), 1).unwrap();
        d.commit(false);
    }
    d.set("blob", Value::Bytes(vec![7; 1_500])).unwrap();
    d.commit(false);
    let mut peer = doc("peer");
    peer.add("s", "x").unwrap();
    peer.commit(false);
    d.apply_update(&peer.encode_state()).unwrap();
    let state = d.encode_state();
    assert!(state.len() > 2_000);

    let mut fresh = doc_on("me", &clock, limits.clone());
    let err = fresh.apply(&state).expect_err("as an update from a peer, the state is too large");
    assert!(err.to_string().contains("exceeds the limit"), "{err}");
    assert_eq!(fresh.encode_state(), doc_on("me", &clock, limits.clone()).encode_state(), "a refused update changed nothing");
    assert!(fresh.apply_stored(&state).unwrap());
    assert_eq!(snapshot(&mut fresh), snapshot(&mut d));
    assert_eq!(fresh.limits(), &limits, "the document's own limits are back in force");
    assert!(fresh.apply(&state).is_err());
    // Stored bytes are decoded as strictly as ever otherwise.
    for cut in [1, state.len() / 2, state.len() - 1] {
        let before = snapshot(&mut fresh);
        assert!(fresh.apply_stored(&state[..cut]).is_err());
        assert_eq!(snapshot(&mut fresh), before);
    }
}

/// Crafted states whose horizon names client ids they hold no dots of. (Found
/// in review: each one added its ids past `max_doc_clients`, which counts the
/// seen ones, and the document then refused its own state; a horizon above
/// what anyone had seen also made every later delta a full state.) A horizon
/// is now held to what the document has seen.
#[test]
fn a_horizon_naming_unseen_dots_adds_no_client_ids_and_forces_no_full_state() {
    let limits = Limits { max_doc_clients: 10, ..Limits::default() };
    let mut d = limited(limits.clone());
    d.increment("k", 1).unwrap();
    // (More than the one write the peer will lack, so that a delta is clearly the shorter.)
    for i in 0..20 {
        d.increment(&format!("other {i}"), 1).unwrap();
    }
    d.commit(false);
    for round in 0..20 {
        let names: Vec<String> = (0..9).map(|i| format!("h{round}-{i}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut u = Enc::header(TYPE_STATE);
        u.tables(&refs, &[]).vv(&[]).v(9);
        for i in 0..9 {
            u.v(i).v(1);
        }
        u.v(0).v(0).v(0);
        d.apply_update(&u.done()).unwrap();
    }
    // Our own dot, but a horizon far above it.
    let mut u = Enc::header(TYPE_STATE);
    u.tables(&["me"], &[]).vv(&[]).v(1).v(0).v(1_000).v(0).v(0).v(0);
    d.apply_update(&u.done()).unwrap();

    let state = d.encode_state();
    let mut fresh = limited(limits);
    fresh.apply_update(&state).expect("the document's own state loads under its own limits");
    assert_eq!(fresh.version(), d.version());
    let mut peer = doc("peer");
    peer.apply_update(&state).unwrap();
    d.increment("k", 1).unwrap();
    d.commit(false);
    let delta = d.encode_delta(Some(&peer.version())).unwrap();
    assert_eq!(delta[2], TYPE_DELTA, "a peer that has seen all of it but one write gets a delta");
}

// ---------------------------------------------------------------------------
// Limits: each enforced, with a clear error, nothing changed
// ---------------------------------------------------------------------------

fn limited(limits: Limits) -> Doc {
    doc_on("me", &Rc::new(Cell::new(T0)), limits)
}

#[test]
fn default_limits_are_the_documented_ones() {
    let l = Limits::default();
    assert_eq!(l.max_update_bytes, 64 << 20);
    assert_eq!(l.max_string_bytes, 64 << 10);
    assert_eq!(l.max_value_bytes, 8 << 20);
    assert_eq!(l.max_value_depth, 128);
    assert_eq!(l.max_clients, 1 << 16);
    assert_eq!(l.max_entries, MAX_ENTRIES);
    assert_eq!(l.max_doc_clients, MAX_DOC_CLIENTS);
    assert_eq!(MAX_KEY_BYTES, 1024);
    assert_eq!(slotkv::MAX_CLIENT_ID_BYTES, 64);
}

/// A document holding one increment of "c" from each of ten writers, `prefix0` to `prefix9`.
fn written_by_ten(prefix: &str) -> Doc {
    let mut many = doc("many");
    for i in 0..10 {
        let mut w = doc(&format!("{prefix}{i}"));
        w.increment("c", 1).unwrap();
        many.apply_update(&w.encode_state()).unwrap();
    }
    many
}

#[test]
fn an_update_larger_than_max_update_bytes_is_refused_before_decoding() {
    let mut d = limited(Limits { max_update_bytes: 100, ..Limits::default() });
    let mut big = doc("big");
    big.set("r", Value::Json(format!("\"{}\"", "x".repeat(200)))).unwrap();
    let state = big.encode_state();
    let err = d.apply_update(&state).unwrap_err();
    assert!(matches!(err, Error::Decode(DecodeError::TooLarge { limit: 100, .. })), "{err}");
    assert!(err.to_string().contains("exceeds the limit of 100"), "{err}");
    // Garbage of the same size gets the same answer: the size is checked first.
    let err = d.apply_update(&[0u8; 101]).unwrap_err();
    assert!(matches!(err, Error::Decode(DecodeError::TooLarge { .. })), "{err}");
    // Versions (the `since` of encode_delta) too: garbage is not a version,
    // and a real one that is too large is past this document's limits.
    let err = d.encode_delta(Some(&[0u8; 101])).unwrap_err();
    assert!(matches!(err, Error::BadVersion(DecodeError::BadMagic { .. })), "{err}");
    assert!(err.to_string().starts_with("slotkv: since is not a version from version(): "), "{err}");
    let many = written_by_ten("writer-with-a-long-name-");
    let err = d.encode_delta(Some(&many.version())).unwrap_err();
    assert_eq!(err, Error::VersionPastLimits { what: "the version's size in bytes", limit: 100 });
    assert_eq!(err.kind(), ErrorKind::Range);
    assert!(err.to_string().contains("encodeDelta() without since gives the whole state"), "{err}");
    assert!(d.apply_update(&doc("small").encode_state()).is_ok());
}

/// A peer's version naming more client ids (or entries) than this document's
/// limits take is not garbage: it is refused as past the limits (a
/// RangeError in JS), so a sync provider can send the whole state instead
/// (BroadcastSync does). Found in review: a joiner with `maxClients: 4` never
/// sent its writes to a peer whose writes came from ten clients.
#[test]
fn a_version_past_the_limits_is_told_apart_from_one_that_is_not_a_version() {
    let mut many = written_by_ten("w");
    let version = many.version();
    let mut d = limited(Limits { max_clients: 4, ..Limits::default() });
    let err = d.encode_delta(Some(&version)).unwrap_err();
    assert!(matches!(err, Error::VersionPastLimits { limit: 4, .. }), "{err}");
    assert_eq!(err.kind(), ErrorKind::Range);
    let mut d = limited(Limits { max_entries: 5, ..Limits::default() });
    assert!(matches!(d.encode_delta(Some(&version)).unwrap_err(), Error::VersionPastLimits { limit: 5, .. }));
    // With the defaults the same version is read.
    assert!(doc("d").encode_delta(Some(&version)).is_ok());
    // What is not a version stays a plain error, whatever the limits.
    let mut d = limited(Limits { max_clients: 1, max_update_bytes: 4, ..Limits::default() });
    for bad in [&b""[..], &[0xb7], &[0xb7, 1, 1, 0, 0], &[1, 2, 3, 4, 5, 6], &many.encode_state()] {
        let err = d.encode_delta(Some(bad)).unwrap_err();
        assert!(matches!(err, Error::BadVersion(_)), "{bad:?}: {err}");
        assert_eq!(err.kind(), ErrorKind::Other);
    }
}

#[test]
fn a_string_longer_than_max_string_bytes_is_refused_locally_and_from_peers() {
    let limits = Limits { max_string_bytes: 8, ..Limits::default() };
    let mut d = limited(limits.clone());
    let e = d.add("s", "123456789").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Range, "{e}");
    assert!(e.to_string().contains("at most 8 bytes"), "{e}");
    d.add("s", "12345678").unwrap();

    let mut peer = doc("peer");
    peer.add("s", "123456789").unwrap();
    let err = d.apply_update(&peer.encode_state()).unwrap_err();
    assert!(matches!(err, Error::Decode(DecodeError::TooLarge { limit: 8, .. })), "{err}");
    // And with the default limit, 64 KiB + 1.
    let mut d = busy_doc("me");
    let e = d.add("s", &"x".repeat((64 << 10) + 1)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Range, "{e}");
    let mut u = Enc::header(TYPE_STATE);
    u.tables(&["p"], &[&vec![b'x'; (64 << 10) + 1]]).vv(&[]).v(0).v(0).v(0).v(0);
    refused(&u.done());
}

#[test]
fn keys_longer_than_1024_bytes_or_empty_are_refused_locally_and_from_peers() {
    let mut d = busy_doc("me");
    let long = "é".repeat(513); // 1026 bytes, 513 characters
    for e in [d.increment(&long, 1), d.set(&long, Value::Json("1".into())), d.add(&long, "x"), d.delete(&long)] {
        let e = e.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Range, "{e}");
        assert!(e.to_string().contains("at most 1024 bytes"), "{e}");
    }
    for e in [d.increment("", 1), d.add("", "x")] {
        assert_eq!(e.unwrap_err().kind(), ErrorKind::Range);
    }
    d.increment(&"k".repeat(1024), 1).unwrap();
    for key in [vec![b'k'; 1025], vec![]] {
        let mut u = Enc::header(TYPE_DELTA);
        u.tables(&["p"], &[&key]).u8(0).vv(&[(0, &[(1, 1)])]).v(0).v(1).v(0).v(1).v(0).v(1).v(1).v(0).v(0).v(0);
        let err = refused(&u.done());
        assert!(err.to_string().contains("key"), "{err}");
    }
}

#[test]
fn a_key_longer_than_a_smaller_max_string_bytes_is_refused_locally_so_every_update_written_can_be_read_back() {
    // Keys travel in the string table, which the decoder bounds by
    // max_string_bytes: a document must not write a key it could not read.
    let limits = Limits { max_string_bytes: 8, ..Limits::default() };
    let mut d = limited(limits.clone());
    let long = "k".repeat(9);
    let before = d.encode_state();
    for e in [d.increment(&long, 1), d.set(&long, Value::Json("1".into())), d.add(&long, "x"), d.delete(&long), d.remove(&long, "x")] {
        let e = e.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Range, "{e}");
        assert!(e.to_string().contains("a key may be at most 8 bytes of UTF-8, this one is 9"), "{e}");
    }
    assert_eq!(d.encode_state(), before, "nothing was written");
    d.increment(&"k".repeat(8), 1).unwrap();
    let mut reader = limited(limits);
    reader.apply_update(&d.encode_state()).unwrap();
    assert_eq!(reader.counter(&"k".repeat(8)), 1);
}

fn register_update(value_type: u8, payload: &[u8]) -> Vec<u8> {
    let mut u = Enc::header(TYPE_DELTA);
    u.tables(&["p"], &[b"r"]).u8(0).vv(&[(0, &[(1, 1)])]).v(0).v(0);
    u.v(1).v(T0).reg(0, 0, 1, 0, 0).value(value_type, payload);
    u.v(0);
    u.done()
}

#[test]
fn register_values_deeper_or_larger_than_the_limits_are_refused() {
    let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    // Locally.
    let mut d = busy_doc("me");
    assert!(d.set("r", Value::Json(deep(128))).is_ok());
    let e = d.set("r", Value::Json(deep(129))).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Range, "{e}");
    assert!(e.to_string().contains("nested deeper than 128"), "{e}");
    let e = d.set("r", Value::Json(format!("\"{}\"", "x".repeat(8 << 20)))).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Range, "{e}");
    let e = d.set("r", Value::Bytes(vec![0; (8 << 20) + 1])).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Range, "{e}");
    let e = d.set("r", Value::Json("{\"a\":}".into())).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Type, "{e}");
    // From a peer: nothing changes, the error says why.
    assert!(doc("x").apply_update(&register_update(1, deep(128).as_bytes())).is_ok());
    let err = refused(&register_update(1, deep(129).as_bytes()));
    assert!(err.to_string().contains("nested deeper than 128"), "{err}");
    // A million-deep nesting is refused without exhausting the stack.
    refused(&register_update(1, deep(1_000_000).as_bytes()));
    refused(&register_update(1, "x".repeat((8 << 20) + 1).as_bytes()));
    refused(&register_update(2, &vec![0; (8 << 20) + 1]));
    refused(&register_update(1, b"NaN"));
    refused(&register_update(5, b""));
    // Configurable.
    let mut d = limited(Limits { max_value_bytes: 4, max_value_depth: 2, ..Limits::default() });
    assert!(d.set("r", Value::Json("[[]]".into())).is_ok());
    assert!(d.set("r", Value::Json("[[[]]]".into())).is_err());
    assert!(d.set("r", Value::Bytes(vec![0; 5])).is_err());
    assert!(d.apply_update(&register_update(2, &[0; 5])).is_err());
    assert!(d.apply_update(&register_update(1, b"[[[]]]")).is_err());
}

#[test]
fn a_client_table_longer_than_max_clients_is_refused() {
    let names: Vec<String> = (0..5).map(|i| format!("c{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut u = Enc::header(TYPE_STATE);
    u.tables(&refs, &[]).vv(&[]).v(0).v(0).v(0).v(0);
    let mut d = limited(Limits { max_clients: 4, ..Limits::default() });
    let err = d.apply_update(&u.done()).unwrap_err();
    assert!(matches!(err, Error::Decode(DecodeError::TooLarge { limit: 4, .. })), "{err}");
    assert!(err.to_string().contains("client ids"), "{err}");
    let mut d = limited(Limits { max_clients: 5, ..Limits::default() });
    d.apply_update(&u.done()).unwrap();
}

#[test]
fn client_ids_must_be_1_to_64_bytes_and_unique_in_a_table() {
    assert_eq!(Doc::new(Options::with_client_id("")).err().map(|e| e.kind()), Some(ErrorKind::Range));
    assert_eq!(Doc::new(Options::with_client_id(&"x".repeat(65))).err().map(|e| e.kind()), Some(ErrorKind::Range));
    let long = "x".repeat(65);
    let cases: Vec<Vec<u8>> = vec![
        Enc::header(TYPE_STATE).tables(&[&long], &[]).vv(&[]).v(0).v(0).v(0).v(0).done(),
        Enc::header(TYPE_STATE).tables(&["a", "a"], &[]).vv(&[]).v(0).v(0).v(0).v(0).done(),
        // "0123456789abcdef" spelt out and as its 8 raw bytes: the same id twice.
        {
            let mut u = Enc::header(TYPE_STATE);
            u.v(2).bytes(b"0123456789abcdef").u8(0);
            u.0.extend_from_slice(&[0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]);
            u.v(0).vv(&[]).v(0).v(0).v(0).v(0);
            u.done()
        },
        Enc::header(TYPE_STATE).v(1).bytes(&[0xff]).v(0).vv(&[]).v(0).v(0).v(0).v(0).done(),
    ];
    for bytes in cases {
        refused(&bytes);
    }
}

#[test]
fn malformed_headers_numbers_and_indices_are_refused() {
    let ok = Enc::header(TYPE_STATE).tables(&[], &[]).vv(&[]).v(0).v(0).v(0).v(0).done();
    assert!(doc("x").apply_update(&ok).is_ok());
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("bad magic", vec![0x00, 1, 1]),
        ("version 0", vec![MAGIC, 0, 1]),
        ("version 2", vec![MAGIC, 2, 1]),
        ("a version message", Enc::header(TYPE_VERSION).tables(&[], &[]).vv(&[]).done()),
        ("type 3", Enc::header(3).done()),
        ("over-long varint", [&[MAGIC, 1, 1][..], &[0xff; 11]].concat()),
        ("varint over 64 bits", [&[MAGIC, 1, 1][..], &[0xff; 9], &[0x02]].concat()),
        ("trailing byte", [ok.clone(), vec![0]].concat()),
        ("seen flag 2", Enc::header(TYPE_DELTA).tables(&[], &[]).u8(2).done()),
        ("client index out of range", Enc::header(TYPE_STATE).tables(&["a"], &[]).vv(&[(1, &[(1, 1)])]).done()),
        ("seq 0 in horizon", Enc::header(TYPE_STATE).tables(&["a"], &[]).vv(&[]).v(1).v(0).v(0).done()),
        (
            "seq 2^53 in horizon",
            Enc::header(TYPE_STATE).tables(&["a"], &[]).vv(&[]).v(1).v(0).v(MAX_SAFE + 1).v(0).v(0).v(0).done(),
        ),
        (
            "version range above 2^53",
            Enc::header(TYPE_STATE).tables(&["a"], &[]).v(1).v(0).v(1).v(MAX_SAFE).v(0).v(0).v(0).v(0).v(0).done(),
        ),
        (
            "slot outside ctx",
            Enc::header(TYPE_STATE).tables(&["a"], &[b"k"]).vv(&[]).v(0).v(1).v(0).v(1).v(0).v(1).v(1).v(0).v(0).v(0).done(),
        ),
        (
            "slot p above 2^53",
            Enc::header(TYPE_STATE)
                .tables(&["a"], &[b"k"])
                .vv(&[(0, &[(1, 1)])])
                .v(0)
                .v(1)
                .v(0)
                .v(1)
                .v(0)
                .v(1)
                .v(MAX_SAFE + 1)
                .v(0)
                .v(0)
                .v(0)
                .done(),
        ),
        ("register value type 9", register_update(9, b"")),
        ("register JSON not UTF-8", register_update(1, &[b'"', 0xff, b'"'])),
        (
            "set element without tags",
            Enc::header(TYPE_STATE).tables(&["a"], &[b"k", b"e"]).vv(&[]).v(0).v(0).v(0).v(1).v(0).v(1).v(1).v(0).v(0).v(0).done(),
        ),
    ];
    // Every strict prefix of a busy document's state is refused too.
    let state = busy_doc("other").encode_state();
    for cut in 0..state.len() {
        cases.push(("prefix", state[..cut].to_vec()));
    }
    for (what, bytes) in cases {
        let mut d = busy_doc("me");
        let before = snapshot(&mut d);
        match d.apply_update(&bytes) {
            Ok(_) => panic!("{what}: accepted"),
            Err(e) => {
                assert_eq!(snapshot(&mut d), before, "{what}: a refused update changed the document");
                assert!(e.to_string().starts_with("slotkv: cannot apply update: "), "{what}: {e}");
            }
        }
    }
}

#[test]
fn a_newer_format_version_is_refused_with_a_clear_error() {
    let err = refused(&[MAGIC, 3, TYPE_STATE]);
    assert!(err.to_string().contains("newer than this slotkv understands"), "{err}");
    let err = refused(&[MAGIC, 0x80, 0x80, 0x01, TYPE_STATE]);
    assert!(err.to_string().contains("newer"), "{err}");
}

/// A delta from client "p" that has seen p:1..=3 and carries p:3, listing
/// set "s" with the given whole mark and element "e" tagged p:`tag` (seen
/// flag `flag`, format `version`; the mark is written only for flag 2).
fn delta_with_set_mark(version: u8, flag: u8, mark: u8, tag: u64) -> Vec<u8> {
    let mut u = Enc::header(TYPE_DELTA);
    u.0[1] = version;
    u.tables(&["p"], &[b"e", b"s"]).u8(flag).vv(&[(0, &[(1, 3)])]).vv(&[(0, &[(3, 3)])]);
    u.v(0).v(0).v(0); // horizon, counters, registers
    u.v(1).v(1); // one set: "s"
    if flag == 2 {
        u.u8(mark);
    }
    u.v(1).v(0).v(1).v(0).v(tag); // element "e", one tag: p:tag
    u.v(0).v(0); // no removals
    u.done()
}

/// Format 2's one addition, the per-set whole mark of a delta with
/// removals: only under seen flag 2, only in format 2, only 0 or 1; a set
/// listed in part carries only tags of the delta's own dots; and a set
/// listed in part does not drop what it does not list.
#[test]
fn the_per_set_whole_mark_is_read_only_where_format_2_puts_it() {
    let err = refused(&delta_with_set_mark(1, 2, 0, 3));
    assert!(err.to_string().contains("seen flag 2 needs format version 2"), "{err}");
    let err = refused(&delta_with_set_mark(2, 3, 0, 3));
    assert!(err.to_string().contains("seen flag must be 0, 1 or 2, got 3"), "{err}");
    let err = refused(&delta_with_set_mark(2, 2, 2, 3));
    assert!(err.to_string().contains("whole mark must be 0 or 1, got 2"), "{err}");
    // p:1 is in seen, not in ctx: a set listed whole may carry it, one in part may not.
    let err = refused(&delta_with_set_mark(2, 2, 0, 1));
    assert!(err.to_string().contains("change 1 of client \"p\" is not in the update's version"), "{err}");
    let mut d = doc("me");
    d.apply_update(&delta_with_set_mark(2, 2, 1, 1)).expect("a set listed whole may carry older tags");
    assert_eq!(d.members("s"), ["e"]);

    // The receiver holds "x", tagged p:1, and has seen p:2 (so it holds what
    // the delta was built on: `seen` less `ctx`). Listed whole without "x",
    // the set says p:1 was removed; listed in part, it says nothing about it.
    let mut holder = Enc::header(TYPE_DELTA);
    holder.tables(&["p"], &[b"s", b"x"]).u8(0).vv(&[(0, &[(1, 2)])]);
    holder.v(0).v(0).v(0).v(1).v(0).v(1).v(1).v(1).v(0).v(1).v(0).v(0);
    let holder = holder.done();
    for (mark, members) in [(0, vec!["e", "x"]), (1, vec!["e"])] {
        let mut d = doc("me");
        d.apply_update(&holder).unwrap();
        assert_eq!(d.members("s"), ["x"]);
        d.apply_update(&delta_with_set_mark(2, 2, mark, 3)).unwrap();
        assert_eq!(d.members("s"), members, "whole mark {mark}");
    }
}

// ---------------------------------------------------------------------------
// Compact encodings: front-coded strings, typed register values, row deltas
// ---------------------------------------------------------------------------

/// A string table entry: `suffix length << 3 | min(shared, 7)`, then
/// `shared − 7` when the prefix is 7 bytes or more, then the suffix.
fn front_coded(e: &mut Enc, shared: u64, suffix: &[u8]) {
    e.v((suffix.len() as u64) << 3 | shared.min(7));
    if shared >= 7 {
        e.v(shared - 7);
    }
    e.0.extend_from_slice(suffix);
}

/// A state with counter "k…" slots, its string table front-coded by hand.
fn counters_with_strings(strings: &[(u64, &[u8])]) -> Vec<u8> {
    let mut u = Enc::header(TYPE_STATE);
    u.v(1).bytes(b"p").v(strings.len() as u64);
    for (shared, suffix) in strings {
        front_coded(&mut u, *shared, suffix);
    }
    u.vv(&[(0, &[(1, 1)])]).v(0).v(1).v(strings.len() as u64 - 1).v(1).v(0).v(1).v(1).v(0).v(0).v(0);
    u.done()
}

#[test]
fn front_coded_strings_rebuild_from_the_previous_one_and_refuse_impossible_prefixes() {
    // "k" + 40 × "a", then a string sharing all 41 bytes plus "b": a counter under the second.
    let first = [b"k".as_slice(), &[b'a'; 40]].concat();
    let d = load(&counters_with_strings(&[(0, &first), (41, b"b")]), "me").unwrap();
    let key = format!("k{}b", "a".repeat(40));
    assert_eq!(d.counter(&key), 1);

    let err = refused(&counters_with_strings(&[(0, b"ab"), (3, b"c")]));
    assert!(err.to_string().contains("shares more bytes with the one before than it has"), "{err}");
    let long = vec![b'k'; 100];
    let err = refused(&counters_with_strings(&[(0, &long), (64, b"c")]));
    assert!(err.to_string().contains("shares more than 63 bytes"), "{err}");
    // The rebuilt string must be UTF-8 as a whole: "é" cut after its first byte.
    let err = refused(&counters_with_strings(&[(0, "é".as_bytes()), (1, b"x")]));
    assert!(err.to_string().contains("not valid UTF-8"), "{err}");
}

/// Keys sharing long prefixes (longer than the 63 bytes a table entry may
/// share) and keys that are prefixes of each other survive the round trip.
#[test]
fn keys_with_long_common_prefixes_round_trip() {
    let mut d = doc("me");
    let base = "workspace/".repeat(20);
    let keys: Vec<String> = (0..50).map(|i| format!("{base}{}", "x".repeat(i))).chain((0..50).map(|i| format!("{base}{i}"))).collect();
    for (i, k) in keys.iter().enumerate() {
        d.increment(k, i as i64 + 1).unwrap();
        d.add(k, k).unwrap();
    }
    let copy = load(&d.encode_state(), "copy").unwrap();
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(copy.counter(k), i as i128 + 1, "{k}");
        assert!(copy.has(k, k), "{k}");
    }
}

/// Each entry may rebuild up to 63 shared bytes from one byte of input: a
/// table of such entries costs memory in proportion to its size, no more.
#[test]
fn a_table_of_shared_prefixes_costs_memory_in_proportion_to_its_size() {
    // 63 × "k", then 20 000 strings each sharing those 63 bytes and adding 3 of its own.
    let n = 20_000u32;
    let suffix = |i: u32| [b'a' + (i / 676) as u8, b'a' + (i / 26 % 26) as u8, b'a' + (i % 26) as u8];
    let mut strings: Vec<(u64, Vec<u8>)> = vec![(0, vec![b'k'; 63])];
    strings.extend((0..n).map(|i| (63, suffix(i).to_vec())));
    let refs: Vec<(u64, &[u8])> = strings.iter().map(|(s, b)| (*s, b.as_slice())).collect();
    let bytes = counters_with_strings(&refs);
    let last = format!("{}{}", "k".repeat(63), std::str::from_utf8(&suffix(n - 1)).unwrap());
    let (counter, peak) = peak_during(|| load(&bytes, "me").map(|d| d.counter(&last)));
    assert_eq!(counter.unwrap(), 1);
    // 66 bytes per string plus its allocation's overhead, for 4 bytes of input.
    assert!(peak < 40 * bytes.len() + (1 << 20), "{peak} bytes for a {}-byte update", bytes.len());
}

#[test]
fn register_values_round_trip_exactly_whatever_form_their_json_takes() {
    let texts = [
        "0", "-1", "1", "42", "9007199254740991", "-9007199254740991", "9007199254740992", "-0", "1.0", "1e3", "0.5", "-12.5e-3",
        "\"\"", "\"ok\"", "\"a\\\"b\"", "\"\\\\\"", "\"\\u00e9\"", "\"👍\"", "[1]", "{\"a\":1}", "true", "null", " 1", "\"x\" ",
    ];
    let mut d = doc("me");
    for (i, t) in texts.iter().enumerate() {
        d.set(&format!("r{i}"), Value::Json((*t).into())).unwrap();
    }
    let state = d.encode_state();
    let mut copy = load(&state, "copy").unwrap();
    for (i, t) in texts.iter().enumerate() {
        assert_eq!(copy.get(&format!("r{i}")), Some(&Value::Json((*t).into())), "{t}");
    }
    assert_eq!(copy.encode_state().len(), state.len());
}

#[test]
fn forged_integer_and_string_register_values_are_refused() {
    let int = |v: i64| {
        let mut u = Enc::header(TYPE_DELTA);
        u.tables(&["p"], &[b"r"]).u8(0).vv(&[(0, &[(1, 1)])]).v(0).v(0);
        u.v(1).v(T0).reg(0, 0, 1, 0, 0).int(v).v(0);
        u.done()
    };
    let mut d = doc("me");
    d.apply_update(&int(-(MAX_SAFE as i64))).unwrap();
    assert_eq!(d.get("r"), Some(&Value::Json("-9007199254740991".into())));
    let err = refused(&int(MAX_SAFE as i64 + 1));
    assert!(err.to_string().contains("integer value is beyond"), "{err}");
    refused(&int(i64::MIN));
    for inner in [&b"a\"b"[..], b"a\\", b"\x01", b"\\x"] {
        let err = refused(&register_update(4, inner));
        assert!(err.to_string().contains("JSON"), "{:?}: {err}", String::from_utf8_lossy(inner));
    }
    let err = refused(&register_update(0, b"x"));
    assert!(err.to_string().contains("a deleted register's value has a length"), "{err}");
    let mut d = doc("me");
    d.apply_update(&register_update(4, b"say \\\"hi\\\"")).unwrap();
    assert_eq!(d.get("r"), Some(&Value::Json("\"say \\\"hi\\\"\"".into())));
}

#[test]
fn register_rows_whose_differences_leave_the_tables_or_the_seqs_are_refused() {
    let row = |dkey: i64, dwriter: i64, dseq: i64| {
        let mut u = Enc::header(TYPE_DELTA);
        u.tables(&["p", "q"], &[b"r", b"s"]).u8(0).vv(&[(0, &[(1, 3)]), (1, &[(1, 3)])]).v(0).v(0);
        u.v(2).v(T0).reg(0, 0, 2, 0, 0).int(1).reg(dkey, dwriter, dseq, 0, 0).int(2).v(0);
        u.done()
    };
    let mut d = doc("me");
    d.apply_update(&row(1, 1, 1)).unwrap();
    assert_eq!((d.get("r"), d.get("s")), (Some(&Value::Json("1".into())), Some(&Value::Json("2".into()))));
    for (what, bytes, needle) in [
        ("key below 0", row(-1, 0, 1), "key index"),
        ("key past the table", row(2, 0, 1), "key index"),
        ("writer past the table", row(1, 2, 1), "client index"),
        ("writer below 0", row(1, -1, 1), "client index"),
        ("seq 0", row(1, 1, -2), "outside 1 to 2^53 - 1"),
        ("seq far below 0", row(1, 1, i64::MIN), "outside 1 to 2^53 - 1"),
        ("seq above 2^53", row(1, 1, MAX_SAFE as i64), "outside 1 to 2^53 - 1"),
    ] {
        let err = refused(&bytes);
        assert!(err.to_string().contains(needle), "{what}: {err}");
    }
}

/// Found by the `converge` fuzz target, whose check was wrong, not the
/// document: a peer whose clock ran 17 minutes ahead moved another replica's
/// document clock forward, so that replica purged its own delete's tombstone
/// (retention 100 s) although its wall clock had not moved, and a concurrent
/// write from a third replica then revived the key there — the revival the
/// SPEC allows, which the target had measured on the wall clock. The
/// document clock is never behind the newest timestamp seen, and retention
/// counts on it.
#[test]
fn fuzz_converge_retention_counts_on_the_document_clock_that_a_fast_peer_moves() {
    let retention = 100_000;
    let slow = Rc::new(Cell::new(T0));
    let fast = Rc::new(Cell::new(T0 + 1_016_304));
    let make = |id: &str, clock: &Time| retaining(id, clock, retention);
    let mut d = make("d", &slow);
    let mut ahead = make("ahead", &fast);
    d.set("k", Value::Json("1".into())).unwrap();
    d.delete("k").unwrap();
    d.commit(false);
    d.encode_state();
    assert!(d.register("k").is_some_and(|r| r.is_tombstone()), "the tombstone is kept while recent");
    assert_eq!(d.now(), T0);
    ahead.set("other", Value::Json("2".into())).unwrap();
    d.apply_update(&ahead.encode_state()).unwrap();
    assert_eq!(d.now(), T0 + 1_016_304, "the document clock follows the newest timestamp seen");
    assert_eq!(slow.get(), T0, "while the wall clock stays");
    d.encode_state(); // encoding purges what is past retention
    assert!(d.register("k").is_none(), "the delete's tombstone is purged by the document clock");
}
