//! Decoding and merging stay near-linear on hostile input, and a stream of
//! small transactions costs what they change, not the size of the document.
//!
//! Each case builds updates of size n and of size 8n, as a hostile peer
//! would (or as a peer's ordinary writes do), and measures the CPU time of
//! applying them to a fresh document (the best of five runs each); the
//! writer's side, local writes each with its update encoded, is measured
//! the same way. Linear (or n log n) work grows about 8 to
//! 16 times; the quadratic paths these cases were written against grew 64
//! times or more (and took 15 to 25 s at the large size). The check is on
//! that ratio, never on a duration, so a slow machine passes as well as a
//! fast one, and it counts this thread's CPU time, not wall time, so other
//! processes taking the CPU do not count. All cases run in one test, one
//! after the other.

mod common;

use std::time::Duration;

use common::{Enc, TYPE_DELTA, TYPE_STATE};
use slotkv::{ClientId, Doc, Options};

/// Above this, work grew faster than n log n: 8n vs n is 8× for linear work,
/// ~9× for n log n (more with cache misses at the larger size), 64× for
/// quadratic.
const MAX_RATIO: f64 = 32.0;

/// CPU time this thread has used.
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid timespec for clock_gettime to fill in.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn doc() -> Doc {
    Doc::with_clock(Options::with_client_id("me"), Box::new(|| 1_700_000_000_000)).unwrap()
}

fn apply_all(updates: &[Vec<u8>]) -> Doc {
    let mut d = doc();
    for u in updates {
        let _ = d.apply_update(u);
    }
    d
}

/// The least CPU time of five runs of `run` (what it returns is dropped
/// after the clock stops).
fn best_of_five<T>(mut run: impl FnMut() -> T) -> Duration {
    (0..5)
        .map(|_| {
            let start = thread_cpu_time();
            let out = run();
            let took = thread_cpu_time().saturating_sub(start);
            drop(out);
            took
        })
        .min()
        .unwrap_or_default()
}

struct Case {
    name: &'static str,
    n: u64,
    build: fn(u64) -> Vec<Vec<u8>>,
    /// Checks the document that took the updates of size `n`.
    check: fn(&Doc, u64),
}

/// A version with n holes (every even change of one client), then an update
/// with the n odd ones: merged range by range, each insert shifted the
/// vector. Fixed by `VersionVector::union` merging sorted lists in one pass.
fn interleaved_ranges(n: u64) -> Vec<Vec<u8>> {
    let even: Vec<(u64, u64)> = (1..=n).map(|i| (2 * i, 2 * i)).collect();
    let odd: Vec<(u64, u64)> = (0..n).map(|i| (2 * i + 1, 2 * i + 1)).collect();
    [even, odd]
        .iter()
        .map(|ranges| {
            let mut u = Enc::header(TYPE_DELTA);
            u.tables(&["p"], &[]).u8(0).vv(&[(0, ranges)]).v(0).v(0).v(0).v(0);
            u.done()
        })
        .collect()
}

fn all_of_p(d: &Doc, n: u64) {
    assert_eq!(d.version_vector().contiguous(&ClientId::new("p").unwrap()), 2 * n);
}

/// One version naming a client twice: its n even changes, then its n odd
/// ones. Decoding inserted each odd range at the front. Fixed by sorting a
/// client's ranges before building (`VersionVector::from_ranges`).
fn client_named_twice(n: u64) -> Vec<Vec<u8>> {
    let even: Vec<(u64, u64)> = (1..=n).map(|i| (2 * i, 2 * i)).collect();
    let odd: Vec<(u64, u64)> = (0..n).map(|i| (2 * i + 1, 2 * i + 1)).collect();
    let mut u = Enc::header(TYPE_DELTA);
    u.tables(&["p"], &[]).u8(0).vv(&[(0, &even), (0, &odd)]).v(0).v(0).v(0).v(0);
    vec![u.done()]
}

/// A delta whose `seen` covers changes 1..=2n of one client and whose set
/// has n elements tagged with that client's odd changes in descending order.
/// Each tag's dot was recorded at the front of the range list. Fixed by
/// recording them all at once (`VersionVector::from_dots`, then `union`).
fn out_of_order_tag_dots(n: u64) -> Vec<Vec<u8>> {
    let names: Vec<String> = (0..n).map(|i| format!("e{i:07}")).collect();
    let strings: Vec<&[u8]> = std::iter::once(&b"k"[..]).chain(names.iter().map(|s| s.as_bytes())).collect();
    let mut u = Enc::header(TYPE_DELTA);
    u.tables(&["p"], &strings).u8(1).vv(&[(0, &[(1, 2 * n)])]).vv(&[]).v(0).v(0).v(0);
    u.v(1).v(0).v(n);
    for i in 0..n {
        u.v(i + 1).v(1).v(0).v(2 * (n - i) - 1);
    }
    u.v(0).v(0);
    vec![u.done()]
}

fn n_members(d: &Doc, n: u64) {
    assert_eq!(d.members("k").len(), n as usize);
}

/// One element with n tags, delivered twice: the second merge compared every
/// tag with every other. Fixed by merging the two sorted tag lists in one pass.
fn many_tags(n: u64) -> Vec<Vec<u8>> {
    let mut u = Enc::header(TYPE_DELTA);
    u.tables(&["p"], &[b"k", b"e"]).u8(0).vv(&[(0, &[(1, n)])]).v(0).v(0).v(0);
    u.v(1).v(0).v(1).v(1).v(n);
    for seq in 1..=n {
        u.v(0).v(seq);
    }
    u.v(0).v(0);
    vec![u.done(), u.done()]
}

fn has_e(d: &Doc, _: u64) {
    assert!(d.has("k", "e"));
}

/// Four updates of n clients each, the k-th naming clients 4i + k, each
/// with a slot in one counter: every client landed in the middle of the
/// sorted slots and version. Fixed by `SmallMap::merge_sorted`.
fn interleaved_clients(n: u64) -> Vec<Vec<u8>> {
    (0..4)
        .map(|residue| {
            let names: Vec<String> = (0..n).map(|i| format!("c{:07}", 4 * i + residue)).collect();
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let one: &[(u64, u64)] = &[(1, 1)];
            let ctx: Vec<(u64, &[(u64, u64)])> = (0..n).map(|i| (i, one)).collect();
            let mut u = Enc::header(TYPE_DELTA);
            u.tables(&refs, &[b"k"]).u8(0).vv(&ctx).v(0);
            u.v(1).v(0).v(n);
            for i in 0..n {
                u.v(i).v(1).v(1).v(0);
            }
            u.v(0).v(0);
            u.done()
        })
        .collect()
}

fn counted_4n(d: &Doc, n: u64) {
    assert_eq!(d.counter("k"), 4 * n as i128);
}

/// n adds to one set, each its own transaction with its update encoded (as
/// under a sync listener), by the client named `peer`.
fn add_each(peer: &str, n: u64) -> (Doc, Vec<Vec<u8>>) {
    let mut d = Doc::with_clock(Options::with_client_id(peer), Box::new(|| 1_700_000_000_000)).unwrap();
    let updates = (0..n)
        .filter_map(|i| {
            d.add("k", &format!("e{i:07}")).unwrap();
            d.finish(true).flatten()
        })
        .collect();
    (d, updates)
}

/// A peer's n adds to one set, one update each: every update was merged by
/// walking all the elements the set held, and every encoded update walked
/// them at the writer. Fixed by merging only when the update's dots touch
/// ours (`VersionVector::intersects`) and by building a transaction's part
/// of a set from the elements it added (`Set::removals_part`, then
/// `Set::pick_element` for each).
fn one_add_per_update(n: u64) -> Vec<Vec<u8>> {
    add_each("p", n).1
}

/// The same peer's n adds, then its removes of every other element, one
/// update each. An update names a remove's dropped tags by their dots only,
/// and every remove was merged by walking all the elements the set held to
/// find them. Fixed by the set's dot index, which finds the tags by dot.
fn one_remove_per_update(n: u64) -> Vec<Vec<u8>> {
    let (mut d, mut updates) = add_each("p", n);
    updates.extend((0..n).step_by(2).filter_map(|i| {
        d.remove("k", &format!("e{i:07}")).unwrap();
        d.finish(true).flatten()
    }));
    updates
}

/// A peer re-adding one present element n times, one update each (a
/// heartbeat: "I am online"). Every re-add kept the earlier adds' tags, so
/// the element's tags grew without bound and each re-add, at the writer and
/// at every receiver, cost their number. Fixed by making a re-add a remove
/// of the tags it has seen followed by the add, two changes (`Doc::add`).
fn re_add_each(peer: &str, n: u64) -> (Doc, Vec<Vec<u8>>) {
    let mut d = Doc::with_clock(Options::with_client_id(peer), Box::new(|| 1_700_000_000_000)).unwrap();
    let updates = (0..n)
        .filter_map(|_| {
            d.add("k", "online").unwrap();
            d.finish(true).flatten()
        })
        .collect();
    (d, updates)
}

fn one_re_add_per_update(n: u64) -> Vec<Vec<u8>> {
    re_add_each("p", n).1
}

fn online(d: &Doc, _: u64) {
    assert_eq!(d.members("k"), ["online"]);
}

fn half_members(d: &Doc, n: u64) {
    let members = d.members("k");
    assert_eq!(members.len(), (n / 2) as usize);
    assert!(members.iter().all(|e| e[1..].parse::<u64>().is_ok_and(|i| i % 2 == 1)));
}

/// Keys `k0`, `k1`, … as the string table of an update.
fn keys(n: u64) -> Vec<Vec<u8>> {
    (0..n).map(|i| format!("k{i}").into_bytes()).collect()
}

/// A state of client `h` whose ctx is n one-dot ranges (its even changes)
/// and which lists n empty sets: each set's merge read the whole ctx again
/// (does it meet this replica's version? how many dots?), n × n in all.
/// Fixed by reading it once per update (`set::PeerSeen`).
fn many_sets_many_ranges(n: u64) -> Vec<Vec<u8>> {
    let keys = keys(n);
    let strings: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
    let ranges: Vec<(u64, u64)> = (1..=n).map(|i| (2 * i, 2 * i)).collect();
    let mut u = Enc::header(TYPE_STATE);
    u.tables(&["h"], &strings).vv(&[(0, &ranges)]).v(0).v(0).v(0).v(n);
    for i in 0..n {
        u.v(i).v(0).v(0).v(0);
    }
    vec![u.done()]
}

fn read_all_of_h(d: &Doc, n: u64) {
    let h = ClientId::new("h").unwrap();
    assert!((1..=n).all(|i| d.version_vector().contains(&h, 2 * i)));
}

/// n sets of one element each, then a state of another client whose ctx is
/// n one-dot ranges and which lists none of them: each of this replica's
/// sets was merged with the absence against the whole ctx, n × n.
fn many_held_sets_absent_from_a_state(n: u64) -> Vec<Vec<u8>> {
    let keys = keys(n);
    let strings: Vec<&[u8]> = std::iter::once(&b"e"[..]).chain(keys.iter().map(Vec::as_slice)).collect();
    let mut sets = Enc::header(TYPE_DELTA);
    sets.tables(&["p"], &strings).u8(0).vv(&[(0, &[(1, n)])]).v(0).v(0).v(0).v(n);
    for i in 0..n {
        sets.v(i + 1).v(1).v(0).v(1).v(0).v(i + 1).v(0).v(0);
    }
    let ranges: Vec<(u64, u64)> = (1..=n).map(|i| (2 * i, 2 * i)).collect();
    let mut state = Enc::header(TYPE_STATE);
    state.tables(&["h"], &[]).vv(&[(0, &ranges)]).v(0).v(0).v(0).v(0);
    vec![sets.done(), state.done()]
}

fn n_sets_kept(d: &Doc, n: u64) {
    assert!((0..n).all(|i| d.has(&format!("k{i}"), "e")));
}

fn check_ratio(name: &str, t1: Duration, t8: Duration, failures: &mut Vec<String>) {
    let ratio = t8.as_secs_f64() / t1.as_secs_f64().max(1e-6);
    eprintln!("{name}: n {t1:?}, 8n {t8:?}, ratio {ratio:.1}");
    if ratio > MAX_RATIO {
        failures.push(format!("{name}: 8n took {ratio:.1}x as long as n ({t1:?} -> {t8:?})"));
    }
}

#[test]
fn decoding_merging_and_writing_stay_near_linear() {
    let cases = [
        Case { name: "interleaved version ranges", n: 40_000, build: interleaved_ranges, check: all_of_p },
        Case { name: "a client named twice in a version", n: 40_000, build: client_named_twice, check: all_of_p },
        Case { name: "out-of-order tag dots", n: 20_000, build: out_of_order_tag_dots, check: n_members },
        Case { name: "many tags on one element", n: 12_500, build: many_tags, check: has_e },
        // 8n = 65 536: the most clients one update may name.
        Case { name: "interleaved clients", n: 8_192, build: interleaved_clients, check: counted_4n },
        Case { name: "one add per update", n: 2_000, build: one_add_per_update, check: n_members },
        Case { name: "one remove per update", n: 2_000, build: one_remove_per_update, check: half_members },
        Case { name: "one re-add of a present element per update", n: 2_000, build: one_re_add_per_update, check: online },
        Case { name: "many sets against a version of many ranges", n: 10_000, build: many_sets_many_ranges, check: read_all_of_h },
        Case { name: "many held sets absent from a state", n: 10_000, build: many_held_sets_absent_from_a_state, check: n_sets_kept },
    ];
    let mut failures = Vec::new();
    for case in &cases {
        let small = (case.build)(case.n);
        (case.check)(&apply_all(&small), case.n);
        let large = (case.build)(8 * case.n);
        let (t1, t8) = (best_of_five(|| apply_all(&small)), best_of_five(|| apply_all(&large)));
        check_ratio(case.name, t1, t8, &mut failures);
    }
    // The writer's side of "one add per update".
    let n = 2_000;
    assert_eq!(add_each("w", n).0.members("k").len(), n as usize);
    let (t1, t8) = (best_of_five(|| add_each("w", n)), best_of_five(|| add_each("w", 8 * n)));
    check_ratio("adds, each with its update encoded", t1, t8, &mut failures);
    let (t1, t8) = (best_of_five(|| re_add_each("w", n)), best_of_five(|| re_add_each("w", 8 * n)));
    check_ratio("re-adds of a present element, each with its update encoded", t1, t8, &mut failures);
    assert!(failures.is_empty(), "super-linear:\n{}", failures.join("\n"));
}
