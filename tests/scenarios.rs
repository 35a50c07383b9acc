//! Document-level scenarios (SPEC §1, §2, §5), each a plain test.
//!
//! The last section pins, minimised, the bugs that `tests/properties.rs` found.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::rc::Rc;

use slotkv::{DecodeError, Doc, Error, Kind, Options, Timestamp, Value, FORMAT_VERSION, MAGIC};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

type Time = Rc<Cell<u64>>;

fn time(ms: u64) -> Time {
    Rc::new(Cell::new(ms))
}

/// A document whose wall clock reads `clock`.
fn doc_on(id: &str, clock: &Time) -> Doc {
    doc_with_retention(id, clock, slotkv::DEFAULT_TOMBSTONE_RETENTION_MS)
}

fn doc_with_retention(id: &str, clock: &Time, retention_ms: u64) -> Doc {
    let t = clock.clone();
    let options = Options { tombstone_retention_ms: retention_ms, ..Options::with_client_id(id) };
    Doc::with_clock(options, Box::new(move || t.get())).unwrap()
}

/// A document on a clock stuck at 1 000 ms.
fn doc(id: &str) -> Doc {
    doc_on(id, &time(1_000))
}

/// A copy of `state` as a new replica `id`.
fn load(state: &[u8], id: &str) -> Doc {
    Doc::load(state, Options::with_client_id(id), Box::new(|| 1_000u64)).unwrap()
}

fn json(text: &str) -> Value {
    Value::Json(text.to_owned())
}

/// Commits the open transaction and returns its update.
fn commit(doc: &mut Doc) -> Vec<u8> {
    doc.commit(true).expect("a transaction with changes").update.expect("an update when asked for")
}

/// A committed write to another key: a tombstone that was `doc`'s newest
/// register write is then no longer, and can be purged (see `Doc::purge`).
fn write_later(doc: &mut Doc) {
    doc.set("later", json("0")).unwrap();
    commit(doc);
}

/// `from.encode_delta(to.version())` applied to `to`; whether it had an effect.
fn send(from: &mut Doc, to: &mut Doc) -> bool {
    let delta = from.encode_delta(Some(&to.version())).unwrap();
    to.apply_update(&delta).unwrap().is_some()
}

/// Exchanges deltas both ways until nothing changes.
fn sync(a: &mut Doc, b: &mut Doc) {
    for _ in 0..5 {
        let changed = send(a, b) | send(b, a);
        if !changed {
            return;
        }
    }
    panic!("sync did not become quiescent");
}

/// Gives every doc in `docs` the same `n` registers (written by client "z"),
/// so that a delta between them is shorter than the state and is sent as a
/// delta.
fn share_bulk(docs: &mut [&mut Doc], n: usize) {
    let mut z = doc("z");
    for i in 0..n {
        z.set(&format!("bulk{i}"), json(&i.to_string())).unwrap();
    }
    let base = z.encode_state();
    for d in docs {
        d.apply_update(&base).unwrap();
    }
}

/// What a user sees, like `toJSON()`.
#[derive(Debug, PartialEq, Eq)]
struct Visible {
    counters: BTreeMap<String, i128>,
    registers: BTreeMap<String, Value>,
    sets: BTreeMap<String, Vec<String>>,
}

fn visible(doc: &Doc) -> Visible {
    Visible {
        counters: doc.keys(Kind::Counter).into_iter().map(|k| (k.to_owned(), doc.counter(k))).collect(),
        registers: doc.keys(Kind::Register).into_iter().map(|k| (k.to_owned(), doc.get(k).unwrap().clone())).collect(),
        sets: doc
            .keys(Kind::Set)
            .into_iter()
            .map(|k| (k.to_owned(), doc.members(k).into_iter().map(str::to_owned).collect()))
            .collect(),
    }
}

fn names<T: ToString>(keys: impl IntoIterator<Item = T>) -> Vec<String> {
    keys.into_iter().map(|k| k.to_string()).collect()
}

/// Everything observable about a document's state, to check "unchanged".
fn snapshot(doc: &mut Doc) -> (Visible, Vec<u8>, Vec<u8>) {
    (visible(doc), doc.version(), doc.encode_state())
}

// ---------------------------------------------------------------------------
// Counters
// ---------------------------------------------------------------------------

#[test]
fn two_clients_increment_from_five_concurrently_to_seven() {
    let mut a = doc("a");
    a.increment("clicks", 5).unwrap();
    commit(&mut a);
    let mut b = load(&a.encode_state(), "b");
    assert_eq!(b.counter("clicks"), 5);

    a.increment("clicks", 1).unwrap();
    let from_a = commit(&mut a);
    b.increment("clicks", 1).unwrap();
    let from_b = commit(&mut b);
    a.apply_update(&from_b).unwrap();
    b.apply_update(&from_a).unwrap();

    assert_eq!((a.counter("clicks"), b.counter("clicks")), (7, 7));
}

#[test]
fn a_late_update_never_moves_a_counter_backwards() {
    let mut a = doc("a");
    a.increment("x", 3).unwrap();
    let first = commit(&mut a);
    let old_state = a.encode_state();
    a.increment("x", 4).unwrap();
    a.increment("x", -2).unwrap();
    let second = commit(&mut a);

    let mut b = doc("b");
    b.apply_update(&second).unwrap();
    assert_eq!(b.counter("x"), 5);
    for late in [&first, &old_state, &second] {
        b.apply_update(late).unwrap();
        assert_eq!(b.counter("x"), 5);
    }
    a.apply_update(&old_state).unwrap();
    assert_eq!(a.counter("x"), 5);
}

#[test]
fn a_zero_delta_changes_nothing_and_emits_nothing() {
    let mut a = doc("a");
    a.increment("x", 0).unwrap();
    assert_eq!(a.commit(true), None);
    assert!(a.keys(Kind::Counter).is_empty(), "a zero delta must not create a counter");
    assert_eq!(a.version(), doc("a").version());

    a.increment("x", 2).unwrap();
    commit(&mut a);
    let version = a.version();
    a.increment("x", 0).unwrap();
    assert_eq!(a.commit(true), None);
    assert_eq!(a.version(), version, "a zero delta must not use a dot");
}

// ---------------------------------------------------------------------------
// Registers
// ---------------------------------------------------------------------------

#[test]
fn equal_timestamps_go_to_the_larger_client_id_on_every_replica() {
    let clock = time(1_000); // both write at the same wall-clock millisecond
    let mut alice = doc_on("alice", &clock);
    let mut bob = doc_on("bob", &clock);
    alice.set("k", json("\"alice\"")).unwrap();
    let from_alice = commit(&mut alice);
    bob.set("k", json("\"bob\"")).unwrap();
    let from_bob = commit(&mut bob);
    let tie = Timestamp { wall: 1_000, logical: 0 };
    assert_eq!(alice.register("k").unwrap().ts, tie);
    assert_eq!(bob.register("k").unwrap().ts, tie);

    // Both orders of arrival, on the writers and on two bystanders.
    alice.apply_update(&from_bob).unwrap();
    bob.apply_update(&from_alice).unwrap();
    let (mut x, mut y) = (doc_on("x", &clock), doc_on("y", &clock));
    x.apply_update(&from_alice).unwrap();
    x.apply_update(&from_bob).unwrap();
    y.apply_update(&from_bob).unwrap();
    y.apply_update(&from_alice).unwrap();
    for d in [&alice, &bob, &x, &y] {
        assert_eq!(d.get("k"), Some(&json("\"bob\"")), "on {}", d.client_id());
        assert_eq!(d.register("k").unwrap().writer.as_str(), "bob");
    }
}

/// `first` writes at T, `second` at T + 1, concurrently, after both saw "old".
fn concurrent_delete_and_set(delete_first: bool) -> (Doc, Doc) {
    let (ta, tb) = (time(100), time(100));
    let mut a = doc_on("a", &ta);
    let mut b = doc_on("b", &tb);
    a.set("k", json("\"old\"")).unwrap();
    b.apply_update(&commit(&mut a)).unwrap();

    ta.set(200);
    tb.set(201);
    if delete_first {
        a.delete("k").unwrap();
        b.set("k", json("\"new\"")).unwrap();
    } else {
        a.set("k", json("\"new\"")).unwrap();
        b.delete("k").unwrap();
    }
    let (from_a, from_b) = (commit(&mut a), commit(&mut b));
    a.apply_update(&from_b).unwrap();
    b.apply_update(&from_a).unwrap();
    (a, b)
}

#[test]
fn a_set_one_millisecond_after_a_concurrent_delete_wins() {
    let (a, b) = concurrent_delete_and_set(true);
    assert_eq!(a.get("k"), Some(&json("\"new\"")));
    assert_eq!(b.get("k"), Some(&json("\"new\"")));
}

#[test]
fn a_delete_one_millisecond_after_a_concurrent_set_wins() {
    let (a, b) = concurrent_delete_and_set(false);
    assert_eq!(a.get("k"), None);
    assert_eq!(b.get("k"), None);
    assert!(a.keys(Kind::Register).is_empty() && b.keys(Kind::Register).is_empty());
}

#[test]
fn a_write_after_seeing_a_future_timestamp_still_wins_locally() {
    let (ta, tb) = (time(1_000_000), time(5)); // b's wall clock is far behind
    let mut a = doc_on("a", &ta);
    let mut b = doc_on("b", &tb);
    a.set("k", json("1")).unwrap();
    b.apply_update(&commit(&mut a)).unwrap();
    b.set("k", json("2")).unwrap();
    assert_eq!(b.get("k"), Some(&json("2")));
    assert!(b.register("k").unwrap().ts > a.register("k").unwrap().ts);
    a.apply_update(&commit(&mut b)).unwrap();
    assert_eq!(a.get("k"), Some(&json("2")));
}

// ---------------------------------------------------------------------------
// Sets
// ---------------------------------------------------------------------------

#[test]
fn or_set_a_and_b_add_thumbs_up_a_removes_it_it_stays() {
    let mut a = doc("a");
    let mut b = doc("b");
    a.add("reactions", "👍").unwrap();
    let a_add = commit(&mut a);
    b.add("reactions", "👍").unwrap();
    let b_add = commit(&mut b);
    a.remove("reactions", "👍").unwrap(); // a has seen only its own add
    let a_remove = commit(&mut a);
    assert!(!a.has("reactions", "👍"));

    a.apply_update(&b_add).unwrap();
    b.apply_update(&a_add).unwrap();
    b.apply_update(&a_remove).unwrap();
    assert!(a.has("reactions", "👍") && b.has("reactions", "👍"), "b's concurrent add must win");
    sync(&mut a, &mut b);
    assert_eq!(a.members("reactions"), vec!["👍"]);
    assert_eq!(visible(&a), visible(&b));
}

#[test]
fn or_set_a_remove_of_every_seen_add_removes_it_everywhere() {
    let mut a = doc("a");
    let mut b = doc("b");
    a.add("reactions", "👍").unwrap();
    b.add("reactions", "👍").unwrap();
    sync(&mut a, &mut b);
    a.remove("reactions", "👍").unwrap();
    b.apply_update(&commit(&mut a)).unwrap();
    assert!(!b.has("reactions", "👍"));
    sync(&mut a, &mut b);
    assert!(a.keys(Kind::Set).is_empty() && b.keys(Kind::Set).is_empty());
}

#[test]
fn per_user_elements_are_independent() {
    let mut alice = doc("alice");
    let mut bob = doc("bob");
    alice.add("reactions", "alice:👍").unwrap();
    bob.add("reactions", "bob:👍").unwrap();
    sync(&mut alice, &mut bob);
    assert_eq!(alice.members("reactions"), vec!["alice:👍", "bob:👍"]);

    alice.remove("reactions", "alice:👍").unwrap();
    bob.apply_update(&commit(&mut alice)).unwrap();
    assert_eq!(bob.members("reactions"), vec!["bob:👍"]);
    sync(&mut alice, &mut bob);
    assert_eq!(alice.members("reactions"), vec!["bob:👍"]);
}

// ---------------------------------------------------------------------------
// Transactions and updates
// ---------------------------------------------------------------------------

#[test]
fn a_transaction_update_carries_exactly_that_transaction() {
    let mut a = doc("a");
    a.increment("clicks", 5).unwrap();
    a.set("title", json("\"draft\"")).unwrap();
    a.set("gone", json("1")).unwrap();
    a.add("tags", "old").unwrap();
    a.add("tags", "kept").unwrap();
    a.add("other", "x").unwrap();
    commit(&mut a);
    let prior = a.encode_state();

    // One transaction touching every kind.
    a.increment("clicks", 2).unwrap();
    a.increment("fresh", -1).unwrap();
    a.set("title", json("\"final\"")).unwrap();
    a.delete("gone").unwrap();
    a.add("tags", "new").unwrap();
    a.remove("tags", "old").unwrap();
    let txn = a.commit(true).unwrap();
    assert_eq!(names(&txn.changes.counters), ["clicks", "fresh"]);
    assert_eq!(names(&txn.changes.registers), ["gone", "title"]);
    assert_eq!(names(&txn.changes.sets), ["tags"]);

    // A replica holding exactly the prior state gets exactly the transaction.
    let mut b = load(&prior, "b");
    let changes = b.apply_update(txn.update.as_ref().unwrap()).unwrap().expect("the update has an effect");
    assert_eq!(names(&changes.counters), ["clicks", "fresh"]);
    assert_eq!(names(&changes.registers), ["gone", "title"]);
    assert_eq!(names(&changes.sets), ["tags"]);
    assert_eq!(visible(&b), visible(&a));
    assert_eq!(b.version(), a.version());

    // Alone, on an empty replica, it carries no key the transaction did not
    // touch. (A counter slot carries its client's running total, by design;
    // for what a set removal carries, see the regression tests below.)
    let mut empty = doc("c");
    empty.apply_update(txn.update.as_ref().unwrap()).unwrap();
    assert_eq!(empty.get("title"), Some(&json("\"final\"")));
    assert_eq!(empty.keys(Kind::Register), ["title"]);
    assert_eq!(empty.keys(Kind::Counter), ["clicks", "fresh"]);
    assert!(empty.members("other").is_empty());
}

/// A remote write that replaces one of ours while our transaction is open
/// leaves the transaction's update without that key (the register there is
/// not ours), so the update must not claim our write's dot either. (Found by
/// the core review's trace tester: a receiver holding an older write took
/// the dot without its effect, and so had the version of a replica holding
/// our write and another value.)
#[test]
fn a_transaction_update_does_not_claim_a_write_that_a_remote_one_replaced_before_the_commit() {
    let (t, mut a, mut b, mut c, mut d) = four_writers_of_k();
    t.set(1_200);
    a.set("k", json("\"a\"")).unwrap();
    // d hears of a's write before a commits, from a catch-up built meanwhile.
    assert!(send(&mut a, &mut d));
    t.set(1_300);
    b.set("k", json("\"b\"")).unwrap();
    let from_b = commit(&mut b);
    a.apply_update(&from_b).unwrap();
    assert_eq!(a.get("k"), Some(&json("\"b\"")));
    let from_a = commit(&mut a);
    c.apply_update(&from_a).unwrap();
    // b's write has reached neither c nor d: a's, the later of theirs, wins.
    agree_until_b_comes(&mut c, &mut d, "\"a\"", &from_b);
}

/// As above, for the write that ours replaced: the update lists neither, so
/// it must claim neither. (Found by the trace tester once the test above
/// passed.)
#[test]
fn a_transaction_update_does_not_claim_the_write_it_replaced_when_a_remote_one_replaced_it_in_turn() {
    let (t, mut a, mut b, mut c, mut d) = four_writers_of_k();
    t.set(1_200);
    a.set("k", json("\"a1\"")).unwrap();
    let first = commit(&mut a);
    d.apply_update(&first).unwrap();
    t.set(1_250);
    a.set("k", json("\"a2\"")).unwrap(); // a's transaction stays open
    t.set(1_300);
    b.set("k", json("\"b\"")).unwrap();
    let from_b = commit(&mut b);
    a.apply_update(&from_b).unwrap();
    let second = commit(&mut a);
    c.apply_update(&second).unwrap();
    // b's write has reached neither c nor d: a's first write, the latest of theirs, wins.
    agree_until_b_comes(&mut c, &mut d, "\"a1\"", &from_b);
}

/// a, b, c and d on one clock, sharing content (so that deltas between them
/// stay deltas), c having written "c" to register k at 1 100 ms.
fn four_writers_of_k() -> (Time, Doc, Doc, Doc, Doc) {
    let t = time(1_000);
    let (mut a, mut b, mut c, mut d) = (doc_on("a", &t), doc_on("b", &t), doc_on("c", &t), doc_on("d", &t));
    share_bulk(&mut [&mut a, &mut b, &mut c, &mut d], 30);
    t.set(1_100);
    c.set("k", json("\"c\"")).unwrap();
    commit(&mut c);
    (t, a, b, c, d)
}

/// c and d, once synced, have one version and one document, where k holds
/// `expected`; b's update then wins on both.
fn agree_until_b_comes(c: &mut Doc, d: &mut Doc, expected: &str, from_b: &[u8]) {
    sync(c, d);
    assert_eq!(c.version(), d.version());
    assert_eq!(visible(c), visible(d));
    assert_eq!(c.get("k"), Some(&json(expected)));
    for x in [c, d] {
        x.apply_update(from_b).unwrap();
        assert_eq!(x.get("k"), Some(&json("\"b\"")));
    }
}

/// The set twin of the test above: a remove that saw our add (from a
/// catch-up built while our transaction was open) and reached us before the
/// commit leaves the transaction's update without our tag, so the update
/// must not claim the add's dot either.
#[test]
fn a_transaction_update_does_not_claim_an_add_that_a_remote_remove_undid_before_the_commit() {
    let (mut a, mut c, mut d, mut e) = (doc("a"), doc("c"), doc("d"), doc("e"));
    share_bulk(&mut [&mut a, &mut c, &mut d, &mut e], 30);
    a.add("s", "x").unwrap();
    // d and e hear of a's add before a commits, from catch-ups built meanwhile.
    assert!(send(&mut a, &mut d));
    assert!(send(&mut a, &mut e));
    d.remove("s", "x").unwrap();
    let from_d = commit(&mut d);
    a.apply_update(&from_d).unwrap();
    assert!(!a.has("s", "x"));
    let from_a = commit(&mut a);
    c.apply_update(&from_a).unwrap();
    // d's remove has reached neither c nor e: a's add stands for both.
    sync(&mut c, &mut e);
    assert_eq!(c.version(), e.version());
    assert_eq!(visible(&c), visible(&e));
    assert!(c.has("s", "x"));
    // And d's remove, once it comes, removes it everywhere.
    for x in [&mut c, &mut e] {
        x.apply_update(&from_d).unwrap();
        assert!(!x.has("s", "x"));
    }
}

#[test]
fn a_duplicate_update_returns_none() {
    let mut a = doc("a");
    a.increment("x", 1).unwrap();
    a.set("k", json("true")).unwrap();
    a.add("s", "e").unwrap();
    let update = commit(&mut a);
    let state = a.encode_state();

    let mut b = doc("b");
    assert!(b.apply_update(&update).unwrap().is_some());
    let before = snapshot(&mut b);
    assert_eq!(b.apply_update(&update).unwrap(), None);
    assert_eq!(b.apply_update(&state).unwrap(), None);
    let delta = a.encode_delta(Some(&b.version())).unwrap();
    assert_eq!(b.apply_update(&delta).unwrap(), None);
    assert_eq!(snapshot(&mut b), before);
}

#[test]
fn a_truncated_update_is_refused_and_changes_nothing() {
    let mut a = doc("a");
    a.increment("x", 1).unwrap();
    a.set("k", json("{\"deep\":[1,2,3]}")).unwrap();
    a.add("s", "e").unwrap();
    a.remove("s", "e").unwrap();
    a.add("s", "f").unwrap();
    let update = commit(&mut a);
    let state = a.encode_state();

    let mut b = doc("b");
    b.increment("y", 7).unwrap();
    b.set("k", json("0")).unwrap();
    commit(&mut b);
    for bytes in [&update, &state] {
        for len in 0..bytes.len() {
            let before = snapshot(&mut b);
            let result = b.apply_update(&bytes[..len]);
            assert!(result.is_err(), "a {len}-byte prefix of {} bytes was accepted", bytes.len());
            assert_eq!(snapshot(&mut b), before, "a refused prefix of {len} bytes changed the document");
        }
    }
    b.apply_update(&update).unwrap(); // still usable
    assert_eq!(b.counter("x"), 1);
}

#[test]
fn a_newer_format_version_is_refused_with_a_clear_error() {
    let mut a = doc("a");
    a.set("k", json("1")).unwrap();
    let mut update = commit(&mut a);
    // Written as format 1: it uses nothing format 2 adds.
    assert_eq!(update[..2], [MAGIC, 1]);
    update[1] = (FORMAT_VERSION + 1) as u8;

    let mut b = doc("b");
    let before = snapshot(&mut b);
    let err = b.apply_update(&update).unwrap_err();
    assert_eq!(err, Error::Decode(DecodeError::UnsupportedVersion { found: FORMAT_VERSION + 1 }));
    let message = err.to_string();
    assert!(
        message.contains(&format!("format version {}", FORMAT_VERSION + 1)) && message.contains("newer"),
        "unclear message: {message}"
    );
    assert_eq!(snapshot(&mut b), before);
    let mut version = a.version();
    version[1] = (FORMAT_VERSION + 1) as u8;
    assert!(a.encode_delta(Some(&version)).unwrap_err().to_string().contains("newer"));
}

// ---------------------------------------------------------------------------
// Bugs found by tests/properties.rs, minimised
// ---------------------------------------------------------------------------

/// replicas_converge_... and applying_a_delta_equals_... : a delta that
/// carries a removal in one set (and so the sender's whole `seen`) also lists
/// other sets partially; the receiver read `seen` against those too and
/// dropped its own tags the delta simply did not resend. Silent loss of an
/// add, and the replicas never converge again (their versions are equal).
#[test]
fn a_delta_with_a_removal_in_one_set_keeps_the_tags_of_other_sets() {
    let mut a = doc("a");
    let mut c = doc("c");
    c.add("k1", "e").unwrap();
    c.remove("k1", "e").unwrap(); // k1 now has a removal record
    a.add("k0", "👍").unwrap();
    c.add("k0", "alice:👍").unwrap();
    send(&mut a, &mut c); // c has a's 👍

    send(&mut c, &mut a); // k1 whole (removal) + k0 partial (only alice:👍) + c's seen
    assert_eq!(a.members("k0"), vec!["alice:👍", "👍"], "a lost its own add");
    sync(&mut a, &mut c);
    assert_eq!(visible(&a), visible(&c));
}

/// `a` and `b` after `b` missed a re-add in the small set "online" and one
/// more element in the 500-element set "reactions".
fn missed_re_add() -> (Doc, Doc) {
    let (mut a, mut b) = (doc("a"), doc("b"));
    a.add("online", "me").unwrap();
    for i in 0..500 {
        a.add("reactions", &format!("user{i}:👍")).unwrap();
    }
    sync(&mut a, &mut b);
    a.add("online", "me").unwrap(); // a re-add: a remove of the tag b holds, then the add
    a.add("reactions", "user500:👍").unwrap();
    (a, b)
}

/// A peer that missed a re-add (a remove, then an add) in a small set while
/// a large set gained one element: the delta lists the small set whole and
/// the large one in part. Until format 2's per-set mark, a delta with any
/// removal listed every set it carried whole: here the size of the state.
#[test]
fn a_delta_with_a_removal_in_one_set_lists_only_that_set_whole() {
    let (mut a, mut b) = missed_re_add();
    let state = a.encode_state().len();
    let delta = a.encode_delta(Some(&b.version())).unwrap();
    println!("delta {} bytes, state {state}", delta.len());
    assert!(delta.len() < 100, "delta {} bytes, state {state}", delta.len());
    assert!(state > 5_000, "state {state}");
    b.apply_update(&delta).unwrap();
    assert_eq!(visible(&a), visible(&b));
    assert_eq!(b.encode_state(), a.encode_state(), "the re-add's remove reached b");
    assert_eq!(b.set_state("online").unwrap().elements().map(|(_, tags)| tags.len()).collect::<Vec<_>>(), [1]);
}

/// A receiver of an older slotkv reads format 1 only: for it the same delta
/// is written in format 1, which has no per-set mark, so every set it
/// carries is listed whole (the size of the state here), and it has the same
/// effect. A receiver that reads format 2 or newer gets the format-2 delta.
#[test]
fn a_delta_for_a_format_1_receiver_is_written_in_format_1_with_the_same_effect() {
    let (mut a, mut b) = missed_re_add();
    let mut b1 = load(&b.encode_state(), "b");
    let since = b.version();
    let newest = a.encode_delta(Some(&since)).unwrap();
    assert_eq!((newest[0], newest[1]), (MAGIC, 2));
    for format in [2, 3, u64::MAX] {
        assert_eq!(a.encode_delta_in(Some(&since), format).unwrap(), newest, "format {format}");
    }
    let old = a.encode_delta_in(Some(&since), 1).unwrap();
    assert_eq!((old[0], old[1]), (MAGIC, 1));
    assert_eq!(a.encode_delta_in(Some(&since), 0).unwrap(), old);
    assert!(old.len() > 5_000 && old.len() <= a.encode_state().len(), "format-1 delta {} bytes", old.len());
    b.apply_update(&newest).unwrap();
    b1.apply_update(&old).unwrap();
    assert_eq!(b1.encode_state(), a.encode_state());
    assert_eq!(b.encode_state(), a.encode_state());
    // Without removals too: a delta carries `seen` whenever it carries dots
    // (so that a replica overhearing it can tell it was built for another),
    // and format 1 then lists every set whole. The same effect.
    a.add("reactions", "user501:👍").unwrap();
    let since = b.version();
    let (old, newest) = (a.encode_delta_in(Some(&since), 1).unwrap(), a.encode_delta(Some(&since)).unwrap());
    assert_eq!((old[1], newest[1]), (1, 2));
    assert!(old.len() > 5_000 && newest.len() < 100, "format 1: {} bytes, format 2: {}", old.len(), newest.len());
    b1.apply_update(&old).unwrap();
    b.apply_update(&newest).unwrap();
    assert_eq!(b1.encode_state(), a.encode_state());
    assert_eq!(b.encode_state(), a.encode_state());
}

/// A transaction that removes from a set sends the set whole, with other
/// clients' tags the transaction's ctx does not cover. Before the fix the
/// receiver adopted them without recording their dots: it showed an add the
/// update did not carry, and its own states and deltas were then refused by
/// every decoder ("change 1 of client "a" is not in the update's version").
#[test]
fn a_transaction_removing_from_a_set_carries_only_that_transaction() {
    let mut a = doc("a");
    let mut c = doc("c");
    c.add("s", "from-c").unwrap();
    commit(&mut c);
    let mut b = load(&c.encode_state(), "b"); // b has c's add, not a's
    a.add("s", "from-a").unwrap();
    c.apply_update(&commit(&mut a)).unwrap();

    c.remove("s", "from-c").unwrap();
    let update = commit(&mut c);
    b.apply_update(&update).unwrap();
    assert!(!b.has("s", "from-c"));
    assert!(!b.has("s", "from-a"), "the update of c's remove carried a's add");

    // Whatever b now holds, it can still encode it for others.
    let state = b.encode_state();
    let reload = Doc::load(&state, Options::with_client_id("d"), Box::new(|| 1_000u64));
    assert!(reload.is_ok(), "b's own state is refused: {}", reload.err().unwrap());
    let mut d = doc("d");
    let delta = b.encode_delta(Some(&d.version())).unwrap();
    d.apply_update(&delta).expect("b's delta is refused");
}

/// A re-add is a new add (found by the multi-tab chaos test): a adds x, b
/// sees it; a adds x again while b, having seen only the first add, removes
/// it. Add wins: x stays on both, through transaction updates and deltas.
#[test]
fn a_re_add_is_a_new_add_that_a_concurrent_remove_does_not_undo() {
    for by_delta in [false, true] {
        let (mut a, mut b) = (doc("a"), doc("b"));
        a.add("s", "x").unwrap();
        let first = commit(&mut a);
        b.apply_update(&first).unwrap();
        a.add("s", "x").unwrap();
        let re_add = commit(&mut a);
        b.remove("s", "x").unwrap();
        let remove = commit(&mut b);
        if by_delta {
            sync(&mut a, &mut b);
        } else {
            a.apply_update(&remove).unwrap();
            b.apply_update(&re_add).unwrap();
        }
        assert!(a.has("s", "x") && b.has("s", "x"), "the re-add was lost (by delta: {by_delta})");
        assert_eq!(a.entries(), b.entries());
    }
}

/// A re-add replaces a's first tag on x. A replica r that holds only the
/// first hears of the re-add through c, in a delta (the document is large
/// enough that the delta is smaller than the state), then c removes x,
/// having seen the new tag: x is gone everywhere, and a late first add
/// revives nothing.
#[test]
fn a_re_add_reaches_a_replica_holding_only_the_first_add_through_a_third_one() {
    let (mut a, mut c, mut r) = (doc("a"), doc("c"), doc("r"));
    for i in 0..50 {
        a.increment(&format!("padding-{i}"), 1).unwrap();
    }
    let padding = commit(&mut a);
    c.apply_update(&padding).unwrap();
    r.apply_update(&padding).unwrap();
    a.add("s", "x").unwrap();
    let first = commit(&mut a);
    c.apply_update(&first).unwrap();
    r.apply_update(&first).unwrap();
    a.add("s", "x").unwrap();
    let re_add = commit(&mut a);
    c.apply_update(&re_add).unwrap();
    let delta = c.encode_delta(Some(&r.version())).unwrap();
    assert!(delta.len() < c.encode_state().len() / 2, "a delta, not the state");
    r.apply_update(&delta).unwrap();
    assert_eq!(r.entries(), c.entries());
    c.remove("s", "x").unwrap();
    let remove = commit(&mut c);
    r.apply_update(&remove).unwrap();
    a.apply_update(&remove).unwrap();
    for d in [&a, &c, &r] {
        assert!(!d.has("s", "x"), "{} still shows x after c removed every tag it saw", d.client_id());
    }
    // A late first add revives nothing: its dot was superseded by the re-add.
    let mut late = doc("late");
    late.apply_update(&re_add).unwrap();
    late.apply_update(&remove).unwrap();
    late.apply_update(&first).unwrap();
    assert!(!late.has("s", "x"));
}

/// Re-adding a present element (a heartbeat) keeps one tag, on the writer and
/// on a peer taking each update, so the state stays the size it had after
/// the first add: a re-add replaces the tags it has seen, whoever made them.
/// An add it had not seen (b's, concurrent) stays beside it.
#[test]
fn re_adding_a_present_element_again_and_again_keeps_one_tag() {
    let (mut a, mut b, mut c) = (doc("a"), doc("b"), doc("c"));
    b.add("online", "me").unwrap();
    let b_add = commit(&mut b);
    a.add("online", "me").unwrap();
    c.apply_update(&commit(&mut a)).unwrap();
    let size = a.encode_state().len();
    for _ in 0..1_000 {
        a.add("online", "me").unwrap();
        c.apply_update(&commit(&mut a)).unwrap();
    }
    for d in [&mut a, &mut c] {
        let set = d.set_state("online").unwrap();
        assert_eq!(set.elements().map(|(_, tags)| tags.len()).collect::<Vec<_>>(), [1], "{}", d.client_id());
        assert!(d.encode_state().len() <= size + 8, "the state grew from {size} to {} bytes", d.encode_state().len());
    }
    // b's add was concurrent with all of a's: none of them removed it.
    a.apply_update(&b_add).unwrap();
    c.apply_update(&b_add).unwrap();
    sync(&mut a, &mut b);
    sync(&mut b, &mut c);
    for d in [&a, &b, &c] {
        assert_eq!(d.set_state("online").unwrap().elements().map(|(_, tags)| tags.len()).collect::<Vec<_>>(), [2]);
    }
    assert_eq!(a.entries(), b.entries());
    assert_eq!(b.entries(), c.entries());
}

/// Found by the set convergence property test while a re-add's remove shared
/// the add's change number: r adds x; a, having seen it, re-adds x and then
/// removes it. r gets only the remove, whose update names the re-add's tag
/// as seen: had the re-add's remove no change number of its own, r would
/// count the re-add as applied and keep its first tag for good.
#[test]
fn a_re_add_heard_of_only_through_a_later_remove_still_drops_the_first_add() {
    let (mut a, mut r) = (doc("a"), doc("r"));
    r.add("s", "x").unwrap();
    a.apply_update(&commit(&mut r)).unwrap();
    a.add("s", "x").unwrap();
    let _re_add_lost = commit(&mut a);
    a.remove("s", "x").unwrap();
    r.apply_update(&commit(&mut a)).unwrap();
    sync(&mut a, &mut r);
    assert!(!a.has("s", "x") && !r.has("s", "x"), "a removed every tag it had seen, r's first add too");
    assert_eq!(a.entries(), r.entries());
}

/// Out-of-order delivery: a adds x, removes it and adds it again; r gets the
/// second add first, removes x, and gets the first add late. Whatever r shows
/// in between, a and r agree once they have synced.
#[test]
fn a_late_superseded_add_does_not_make_replicas_disagree_for_good() {
    let mut a = doc("a");
    let mut r = doc("r");
    a.add("s", "x").unwrap();
    let first = commit(&mut a);
    a.remove("s", "x").unwrap();
    a.add("s", "x").unwrap();
    let second = commit(&mut a);

    r.apply_update(&second).unwrap();
    r.remove("s", "x").unwrap();
    let remove = commit(&mut r);
    r.apply_update(&first).unwrap();
    a.apply_update(&remove).unwrap();
    sync(&mut a, &mut r);
    assert_eq!(visible(&a), visible(&r), "a and r disagree about x after syncing");
    assert!(!a.has("s", "x"), "r's remove saw the only live tag of x");
}

/// The same with a's second add lost on the way to r: r gets a's last remove
/// and, late, a's first add. r may show x until it hears of the remove that
/// dropped the first add; once synced, both agree that x is gone.
#[test]
fn a_late_add_does_not_revive_an_element_its_own_client_re_added_and_removed() {
    let mut a = doc("a");
    let mut r = doc("r");
    a.add("s", "x").unwrap();
    let first = commit(&mut a);
    a.remove("s", "x").unwrap();
    a.add("s", "x").unwrap();
    let _second_lost = commit(&mut a);
    a.remove("s", "x").unwrap();
    let remove = commit(&mut a);

    r.apply_update(&remove).unwrap();
    r.apply_update(&first).unwrap();
    sync(&mut a, &mut r);
    assert!(!r.has("s", "x"), "the late first add revived x at r");
    assert_eq!(visible(&a), visible(&r));
}

/// Registers: r receives a's second write to `k` (which overwrote a's first),
/// deletes `k`, and purges the tombstone after the retention. a's first write
/// then arrives late: r adopts it (its dot is not in r's version) although r's
/// delete causally follows it, and r and a never agree again.
#[test]
fn a_late_overwritten_write_does_not_revive_a_purged_key() {
    let (ta, tr) = (time(1_000), time(1_000));
    let mut a = doc_with_retention("a", &ta, 10);
    let mut r = doc_with_retention("r", &tr, 10);
    a.set("k", json("1")).unwrap();
    let first = commit(&mut a);
    ta.set(1_001);
    a.set("k", json("2")).unwrap();
    let second = commit(&mut a);

    r.apply_update(&second).unwrap();
    tr.set(1_002);
    r.delete("k").unwrap();
    let delete = commit(&mut r);
    write_later(&mut r);
    tr.set(2_000);
    r.encode_state(); // purges the tombstone
    assert!(!r.entries().1.contains_key("k"));
    r.apply_update(&first).unwrap();
    assert_eq!(r.get("k"), None, "a write r had overwritten (through a's second) came back");
    a.apply_update(&delete).unwrap();
    ta.set(2_000);
    sync(&mut a, &mut r);
    assert_eq!(visible(&a), visible(&r));
}

/// Found in review: a state carries no clock of its own, and a replica that
/// loads one sets its clock by the register writes the state lists. a deleted
/// k and then purged the tombstone, its newest write, in `encode_state`. l,
/// whose wall clock is a second behind, loaded that state (so it has seen the
/// delete) and wrote k: its write was timestamped before the delete, b (which
/// still held the tombstone) kept the delete, and no delta sync repaired it,
/// though both versions were equal. The newest write now stays through purges.
#[test]
fn a_write_made_after_loading_a_purged_state_beats_the_delete_it_has_seen() {
    let (ta, tb, tl) = (time(2_000), time(2_000), time(1_000));
    let mut a = doc_with_retention("a", &ta, 100);
    let mut b = doc_with_retention("b", &tb, 100_000);
    a.set("k", json("1")).unwrap();
    b.apply_update(&commit(&mut a)).unwrap();
    a.delete("k").unwrap();
    b.apply_update(&commit(&mut a)).unwrap();
    ta.set(2_200);
    let state = a.encode_state();
    let t = tl.clone();
    let options = Options { tombstone_retention_ms: 100, ..Options::with_client_id("l") };
    let mut l = Doc::load(&state, options, Box::new(move || t.get())).unwrap();
    assert!(l.version_vector().contains(a.client_id(), 2), "l has seen the delete");
    l.set("k", json("\"after the delete\"")).unwrap();
    b.apply_update(&commit(&mut l)).unwrap();
    sync(&mut l, &mut b);
    assert_eq!(b.get("k"), Some(&json("\"after the delete\"")), "a write made after the delete lost to it");
    assert_eq!(visible(&l), visible(&b));
}

/// The same with no clock skew: retention 0, and the state loaded by its own
/// client in the millisecond of the delete.
#[test]
fn a_write_in_the_millisecond_of_a_purged_delete_after_a_reload_beats_it() {
    let t = time(1_000);
    let mut a = doc_with_retention("a", &t, 0);
    let mut b = doc_with_retention("b", &t, u64::MAX);
    a.set("k", json("1")).unwrap();
    a.delete("k").unwrap();
    b.apply_update(&commit(&mut a)).unwrap();
    let state = a.encode_state();
    let clock = t.clone();
    let options = Options { tombstone_retention_ms: 0, ..Options::with_client_id("a") };
    let mut a2 = Doc::load(&state, options, Box::new(move || clock.get())).unwrap();
    a2.set("k", json("2")).unwrap();
    b.apply_update(&commit(&mut a2)).unwrap();
    assert_eq!((a2.get("k"), b.get("k")), (Some(&json("2")), Some(&json("2"))));
}

/// Tombstones and set removal records that arrive from a peer are purged
/// after the retention as the replica's own are: a purge with nothing of its
/// own to drop must still look at what merges brought.
#[test]
fn a_tombstone_and_a_removal_record_from_a_peer_are_purged_after_the_retention() {
    let (ta, tb) = (time(1_000), time(1_000));
    let mut a = doc_with_retention("a", &ta, 10);
    let mut b = doc_with_retention("b", &tb, 10);
    a.set("k", json("1")).unwrap();
    a.add("s", "x").unwrap();
    a.add("s", "y").unwrap();
    b.apply_update(&a.encode_state()).unwrap();
    b.encode_state(); // a purge with nothing to drop
    let since = b.version();
    a.delete("k").unwrap();
    a.remove("s", "x").unwrap();
    commit(&mut a);
    b.apply_update(&a.encode_delta(Some(&since)).unwrap()).unwrap();
    assert!(b.register("k").is_some_and(|r| r.is_tombstone()));
    assert!(!b.set_state("s").unwrap().removal_record().0.is_empty());
    b.encode_state(); // within the retention: both kept
    assert!(b.register("k").is_some() && !b.set_state("s").unwrap().removal_record().0.is_empty());
    write_later(&mut b);
    tb.set(2_000);
    b.encode_state();
    assert!(b.register("k").is_none(), "the tombstone from a is purged");
    assert!(b.set_state("s").unwrap().removal_record().0.is_empty(), "the removal record from a is purged");
    assert_eq!(b.members("s"), ["y"]);
}

// ---------------------------------------------------------------------------
// Hostile input: found by reading the decoder, not by the properties
// ---------------------------------------------------------------------------

/// LEB128 varint.
fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A full state from client table `[client]` whose ctx is `{client: seq}`
/// and which holds one register `"k"` = 1 written by `client` at `(wall, logical)`.
fn forged_state(client: &str, seq: u64, wall: u64, logical: u64) -> Vec<u8> {
    let mut m = vec![MAGIC, FORMAT_VERSION as u8, 1];
    m.push(1);
    m.push(client.len() as u8);
    m.extend_from_slice(client.as_bytes());
    m.extend([1, 1, b'k']); // string table ["k"]
    m.extend([1, 0, 1]); // ctx: one client (index 0), one range
    varint(seq - 1, &mut m); // gap: starts at seq
    m.push(0); // length 1
    m.push(0); // horizon
    m.push(0); // counters
    m.extend([1, 0, 0]); // one register: key 0, writer 0
    varint(seq, &mut m);
    varint(wall, &mut m);
    varint(logical, &mut m);
    m.extend([1, 1, b'1']); // JSON "1"
    m.push(0); // sets
    m
}

/// An update naming this replica's own client with the last possible seq is
/// accepted; the next local write then computes `seq + 1` and panics
/// ("attempt to add with overflow"). In a release build it wraps to 0
/// instead, and the document writes a state no decoder accepts.
#[test]
fn an_update_claiming_our_last_possible_change_does_not_make_local_writes_panic() {
    let mut a = doc("a");
    let forged = forged_state("a", u64::MAX, 1, 0);
    let accepted = a.apply_update(&forged).is_ok();
    let write = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| a.increment("x", 1)));
    let how = if accepted { "accepted" } else { "refused" };
    let Ok(write) = write else { panic!("a local write panicked after the forged update was {how}") };
    if write.is_ok() {
        let state = a.encode_state();
        let copy = Doc::load(&state, Options::with_client_id("b"), Box::new(|| 1_000u64));
        assert!(copy.is_ok_and(|b| b.counter("x") == 1), "the write after the forged update ({how}) was not kept");
    }
}

/// A peer timestamp at the very end of hybrid time `(u64::MAX, u32::MAX)` is
/// accepted; `Hlc::tick` then saturates at `(u64::MAX, 0)`, so the next local
/// write is older than a write its replica had seen: it shows locally but
/// loses everywhere else, and the replicas disagree for good.
#[test]
fn a_local_write_beats_a_peer_timestamp_at_the_end_of_time() {
    let forged = forged_state("b", 1, u64::MAX, u32::MAX as u64);
    let mut a = doc("a");
    if a.apply_update(&forged).is_err() {
        return; // refusing such a timestamp is a fine answer too
    }
    let mut x = doc("x");
    x.apply_update(&forged).unwrap();
    a.set("k", json("\"mine\"")).unwrap();
    x.apply_update(&commit(&mut a)).unwrap();
    assert_eq!(x.get("k"), Some(&json("\"mine\"")), "a's new write lost to a timestamp a had already seen");
}

/// The revival the SPEC allows, found by the `converge` fuzz target: a
/// deletes k while o, offline, writes k (concurrently, with an earlier
/// timestamp). r gets the delete, and purges its tombstone once the retention
/// has passed on r's clock; a has not purged yet. o's write then arrives at
/// both: a keeps k deleted (its tombstone wins), r has nothing left to compare
/// it with and adopts it. The two disagree about k, and only about k, until
/// someone writes k again: that write wins everywhere.
#[test]
fn a_concurrent_write_arriving_after_the_retention_revives_a_key_only_where_its_tombstone_was_purged() {
    let (ta, tr, to) = (time(1_000), time(1_000), time(1_000));
    let mut a = doc_with_retention("a", &ta, 100);
    let mut r = doc_with_retention("r", &tr, 100);
    let mut o = doc_with_retention("o", &to, 100);
    a.set("k", json("1")).unwrap();
    let set = commit(&mut a);
    ta.set(2_000);
    a.delete("k").unwrap();
    let delete = commit(&mut a);
    r.apply_update(&set).unwrap();
    r.apply_update(&delete).unwrap();
    o.set("k", json("\"offline\"")).unwrap(); // at 1 000 ms: earlier than the delete
    let offline = commit(&mut o);
    write_later(&mut r);
    tr.set(5_000);
    let _ = r.encode_state(); // purges the tombstone: 3 000 ms old, retention 100
    assert!(r.register("k").is_none());
    a.apply_update(&offline).unwrap();
    r.apply_update(&offline).unwrap();
    assert_eq!(a.get("k"), None, "a still holds the tombstone, which wins");
    assert_eq!(r.get("k"), Some(&json("\"offline\"")), "r purged it: the late write is revived there");
    sync(&mut a, &mut r);
    assert_ne!(a.get("k"), r.get("k"), "the disagreement is about k only, and stays until k is written");
    ta.set(6_000);
    a.set("k", json("2")).unwrap();
    let rewrite = commit(&mut a);
    r.apply_update(&rewrite).unwrap();
    assert_eq!((a.get("k"), r.get("k")), (Some(&json("2")), Some(&json("2"))));
    assert_eq!(visible(&a), visible(&r));
}

/// Found in review: c's write to k (which beats a's concurrent one by client
/// id) reaches b, b deletes k and purges the tombstone. a takes b's full state
/// (its own write is unseen there, so it stays). c then gets a full state from
/// a, which has seen c's write and holds a's: c used to keep its own, the
/// LWW winner of the two, while a and b, having seen it, never take it. All
/// three had the same version and c disagreed for good. A full state whose
/// sender has seen the entry held here and holds another write for the key
/// replaced it there: c now takes a's write, as a and b hold.
#[test]
fn a_write_a_full_states_sender_has_seen_and_replaced_gives_way_to_the_senders() {
    let clock = time(1_000);
    let mut a = doc_with_retention("a", &clock, 0);
    let mut b = doc_with_retention("b", &clock, 0);
    let mut c = doc_with_retention("c", &clock, 0);
    a.set("k", json("0")).unwrap();
    commit(&mut a);
    c.set("k", json("3")).unwrap();
    commit(&mut c);
    send(&mut c, &mut b);
    clock.set(1_010);
    b.delete("k").unwrap();
    commit(&mut b);
    clock.set(1_020);
    write_later(&mut b);
    b.encode_state(); // purges the tombstone
    assert!(b.register("k").is_none());
    a.apply_update(&b.encode_state()).unwrap();
    assert_eq!(a.get("k"), Some(&json("0")), "a's own write is unseen at b: it stays");
    c.apply_update(&a.encode_state()).unwrap();
    assert_eq!(c.get("k"), Some(&json("0")), "c kept a write a had seen and replaced");
    sync(&mut a, &mut b);
    sync(&mut b, &mut c);
    sync(&mut a, &mut c);
    assert_eq!(visible(&a), visible(&b));
    assert_eq!(visible(&a), visible(&c));
}

/// Found in review: b's catch-up delta for a, heard by c as well (BroadcastSync
/// posts it to the whole channel; an `update` listener may relay it anywhere).
/// It carries b's remove of x, but not a's add that the remove removed, since
/// a had that. c used to count the remove as seen all the same, so when a's
/// add reached it later it kept x, and no later delta listed the set whole
/// for it again: c held x for good, a and b did not. A replica that lacks
/// part of what a delta was built on now takes as seen only the dots of the
/// entries it holds, and a later sync brings it the remove.
#[test]
fn a_delta_built_for_another_replica_does_not_make_a_removed_element_survive() {
    let (mut a, mut b, mut c) = (doc("a"), doc("b"), doc("c"));
    // Shared content, so that a delta is shorter than the state and is sent.
    share_bulk(&mut [&mut a, &mut b, &mut c], 50);
    a.add("s", "x").unwrap();
    let add = commit(&mut a);
    b.apply_update(&add).unwrap();
    b.remove("s", "x").unwrap();
    commit(&mut b);
    let for_a = b.encode_delta(Some(&a.version())).unwrap();
    assert_eq!(for_a[2], 2, "a delta, not the whole state");
    a.apply_update(&for_a).unwrap();
    c.apply_update(&for_a).unwrap();
    c.apply_update(&add).unwrap();
    sync(&mut a, &mut b);
    sync(&mut b, &mut c);
    sync(&mut a, &mut c);
    assert!(!c.has("s", "x"), "c kept an element whose only add was removed");
    assert_eq!(visible(&a), visible(&c));
    assert_eq!(visible(&b), visible(&c));
}

/// Found in review (the same kind of delta as above): c overhears b's
/// catch-up for a, which lists set s whole without x, since b removed x.
/// c lacks b's earlier register write, which a had. c did not count the
/// remove as seen, yet still dropped x: it held a remove's effect without
/// its dot, which no delta passes on. a, which never got the remove, kept x,
/// and a and c then had equal versions and different sets. A replica that
/// lacks part of what a delta was built on now takes only its adds.
#[test]
fn a_delta_built_for_another_replica_removes_nothing_the_receiver_cannot_claim() {
    let (mut a, mut b, mut c) = (doc("a"), doc("b"), doc("c"));
    a.add("s", "x").unwrap();
    let add = commit(&mut a);
    b.apply_update(&add).unwrap();
    c.apply_update(&add).unwrap();
    b.set("k", json("1")).unwrap();
    let write = commit(&mut b);
    a.apply_update(&write).unwrap(); // c misses b's write
    b.remove("s", "x").unwrap();
    commit(&mut b); // this update reaches no one
    let for_a = b.encode_delta(Some(&a.version())).unwrap();
    assert_eq!(for_a[2], 2, "a delta, not the whole state");
    c.apply_update(&for_a).unwrap();
    sync(&mut a, &mut c);
    assert_eq!(a.version(), c.version());
    assert_eq!(visible(&a), visible(&c));
    // b's remove reaches them with its dot, and everyone agrees.
    sync(&mut a, &mut b);
    sync(&mut b, &mut c);
    assert!(!a.has("s", "x") && !c.has("s", "x"));
    assert_eq!(visible(&a), visible(&c));
}

/// Found in review: a's catch-up for b claims a's own write to k, which b's
/// write replaced there (b had it, so the delta does not carry it). x,
/// which had neither, took that claim and held nothing for k; c, which held
/// a's write, showed it. Equal versions, different values, and no delta
/// between them to mend it (and x's state would have deleted k in c). A
/// delta now carries what its sender had seen, so that x can tell it was
/// built for another and take only the dots of what it merges.
#[test]
fn a_delta_built_for_another_replica_claims_no_write_it_does_not_carry() {
    let (mut a, mut b, mut c, mut x) = (doc("a"), doc("b"), doc("c"), doc("x"));
    a.set("k", json("\"a\"")).unwrap();
    let ua = commit(&mut a);
    c.apply_update(&ua).unwrap();
    b.set("k", json("\"b\"")).unwrap(); // concurrent; wins (the larger client id)
    let ub = commit(&mut b);
    a.apply_update(&ub).unwrap();
    let for_b = a.encode_delta(Some(&b.version())).unwrap();
    x.apply_update(&for_b).unwrap();
    sync(&mut c, &mut x);
    assert_eq!(c.version(), x.version());
    assert_eq!(visible(&c), visible(&x));
    assert_eq!(x.get("k"), Some(&json("\"a\"")));
    // A whole state from x deletes nothing in c.
    c.apply_update(&x.encode_state()).unwrap();
    assert_eq!(c.get("k"), Some(&json("\"a\"")));
    sync(&mut a, &mut x);
    sync(&mut x, &mut c);
    assert_eq!(c.get("k"), Some(&json("\"b\"")));
    assert_eq!(visible(&a), visible(&x));
}

/// Found in review: the same, for a catch-up in format 1 (written for a tab
/// of an older build) that lists a set in part. Format 1 has no per-set mark,
/// so it carried no `seen`, and x could not tell the delta was not for it.
/// Format 1 now lists every set whole whenever the delta carries dots.
#[test]
fn a_format_1_delta_built_for_another_replica_claims_no_write_it_does_not_carry() {
    let (mut a, mut b, mut c, mut x) = (doc("a"), doc("b"), doc("c"), doc("x"));
    share_bulk(&mut [&mut a, &mut b, &mut c, &mut x], 30);
    a.set("k", json("\"a\"")).unwrap();
    c.apply_update(&commit(&mut a)).unwrap();
    b.set("k", json("\"b\"")).unwrap();
    a.apply_update(&commit(&mut b)).unwrap();
    a.add("s", "e").unwrap();
    commit(&mut a);
    let for_b = a.encode_delta_in(Some(&b.version()), 1).unwrap();
    assert_eq!((for_b[1], for_b[2]), (1, 2), "a format-1 delta");
    x.apply_update(&for_b).unwrap();
    sync(&mut c, &mut x);
    assert_eq!(c.version(), x.version());
    assert_eq!(visible(&c), visible(&x));
    c.apply_update(&x.encode_state()).unwrap();
    assert_eq!(c.get("k"), Some(&json("\"a\"")));
}

/// Applying an overheard delta a second time changes nothing more: what it
/// brings that the receiver lacked (a set listed whole carries older tags)
/// counts at once toward holding what it was built on.
#[test]
fn an_overheard_delta_applied_twice_has_no_effect_the_second_time() {
    let (mut a, mut b, mut c) = (doc("a"), doc("b"), doc("c"));
    share_bulk(&mut [&mut a, &mut b, &mut c], 30);
    b.add("s", "x").unwrap();
    let add = commit(&mut b);
    a.apply_update(&add).unwrap();
    b.add("s", "y").unwrap();
    b.remove("s", "y").unwrap();
    commit(&mut b);
    let for_a = b.encode_delta(Some(&a.version())).unwrap();
    assert_eq!(for_a[2], 2, "a delta, not the whole state");
    assert!(c.apply_update(&for_a).unwrap().is_some());
    assert_eq!(c.apply_update(&for_a).unwrap(), None);
    assert_eq!(c.members("s"), ["x"]);
    assert_eq!(c.version(), b.version());
}

/// In a full state, two writes to one key that each side has seen and the
/// other holds: each side's entry was replaced on the other, so neither stays.
/// x took y's write and purged the delete that beat it before its own revived
/// there; y did the same the other way. Both end empty, in either order.
#[test]
fn writes_each_side_has_seen_and_the_other_replaced_both_go_in_a_full_state_merge() {
    let clock = time(1_000);
    let mut p = doc_with_retention("p", &clock, 0);
    let mut q = doc_with_retention("q", &clock, 0);
    let mut x = doc_with_retention("x", &clock, 0);
    let mut y = doc_with_retention("y", &clock, 0);
    p.set("k", json("\"p\"")).unwrap();
    let write_p = commit(&mut p);
    q.set("k", json("\"q\"")).unwrap();
    let write_q = commit(&mut q);
    // x: q's write, deleted and purged, then p's arrives (unseen, so it revives).
    x.apply_update(&write_q).unwrap();
    clock.set(1_010);
    x.delete("k").unwrap();
    commit(&mut x);
    // y: p's write, deleted and purged, then q's arrives.
    y.apply_update(&write_p).unwrap();
    y.delete("k").unwrap();
    commit(&mut y);
    clock.set(1_020);
    write_later(&mut x);
    write_later(&mut y);
    x.encode_state();
    y.encode_state();
    x.apply_update(&write_p).unwrap();
    y.apply_update(&write_q).unwrap();
    assert_eq!(x.get("k"), Some(&json("\"p\"")));
    assert_eq!(y.get("k"), Some(&json("\"q\"")));
    let (sx, sy) = (x.encode_state(), y.encode_state());
    let mut x2 = load(&sx, "x2");
    x2.apply_update(&sy).unwrap();
    let mut y2 = load(&sy, "y2");
    y2.apply_update(&sx).unwrap();
    assert_eq!(x2.get("k"), None, "x kept p's write, which y had seen and replaced");
    assert_eq!(y2.get("k"), None, "y kept q's write, which x had seen and replaced");
    assert_eq!(visible(&x2), visible(&y2));
}

/// Found by the `converge` fuzz target: r1 writes k and then, in a transaction
/// not yet committed, deletes it. r2 gets the delete in a delta, and purges the
/// tombstone once it is older than the retention on r2's clock; r2's full
/// state then reaches r1 before r1 commits, and takes the tombstone (r2 had
/// seen it and holds nothing). r1's update used to name the delete's dot all
/// the same: r0, which held r1's first write, counted the delete as seen and
/// kept the write for good. Now the update leaves that dot out, so r0 lacks
/// it, and the horizon r2's purge raised gets r0 a full state that drops the
/// write. (A full state must take the tombstone: had r2 deleted k after r1's
/// write instead, its purge would have to win there too.)
#[test]
fn a_transaction_whose_write_a_peers_full_state_took_does_not_claim_it() {
    let (t0, t1, t2) = (time(1_000), time(1_000), time(1_000));
    let mut r0 = doc_with_retention("r0", &t0, 100);
    let mut r1 = doc_with_retention("r1", &t1, 100);
    let mut r2 = doc_with_retention("r2", &t2, 100);
    r1.set("k", json("1")).unwrap();
    let first = commit(&mut r1);
    r0.apply_update(&first).unwrap();
    r2.apply_update(&first).unwrap();
    r1.delete("k").unwrap(); // not committed yet
    let delta = r1.encode_delta(Some(&r2.version())).unwrap();
    r2.apply_update(&delta).unwrap();
    write_later(&mut r2);
    t2.set(10_000);
    let state = r2.encode_state(); // purges the tombstone
    assert!(r2.register("k").is_none());
    r1.apply_update(&state).unwrap();
    let update = commit(&mut r1);
    r0.apply_update(&update).unwrap();
    assert!(!r0.version_vector().contains(&slotkv::ClientId::new("r1").unwrap(), 2), "r0 counts the delete as seen");
    sync(&mut r0, &mut r1);
    assert_eq!(r0.get("k"), None, "r0 kept the write that r1 deleted");
    sync(&mut r1, &mut r2);
    sync(&mut r0, &mut r2);
    assert_eq!(visible(&r0), visible(&r1));
    assert_eq!(visible(&r1), visible(&r2));
}

/// The other side of it: r2 deletes the key r1 is writing in an open
/// transaction, after seeing r1's write, then purges its tombstone. r2's full
/// state takes r1's write, as the delete beat it.
#[test]
fn a_peers_full_state_takes_an_uncommitted_write_its_purged_delete_beat() {
    let (t1, t2) = (time(1_000), time(1_000));
    let mut r1 = doc_with_retention("r1", &t1, 100);
    let mut r2 = doc_with_retention("r2", &t2, 100);
    r1.set("k", json("1")).unwrap(); // not committed yet
    let delta = r1.encode_delta(Some(&r2.version())).unwrap();
    r2.apply_update(&delta).unwrap();
    t2.set(2_000);
    r2.delete("k").unwrap();
    commit(&mut r2);
    t2.set(10_000);
    let state = r2.encode_state();
    r1.apply_update(&state).unwrap();
    assert_eq!(r1.get("k"), None);
    commit(&mut r1);
    sync(&mut r1, &mut r2);
    assert_eq!(visible(&r1), visible(&r2));
}
