//! Document-level property tests (SPEC §1, §2, §5).
//!
//! - whole-state merge is commutative, associative and idempotent;
//! - 3 to 5 replicas converge, losing no increment, under an unreliable network
//!   (reordering, duplication, loss) followed by anti-entropy;
//! - applying `encode_delta(version)` equals applying `encode_state()`;
//! - the hybrid logical clock makes a local write beat everything seen, under skew;
//! - tombstones are purged after the retention period and seen writes never return;
//! - decoding garbage or mutated updates never panics, and an error changes nothing.
//!
//! The number of cases per property is `SLOTKV_PROPTEST_CASES` (default 64);
//! `make test-long` runs 10 000.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::rc::Rc;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use slotkv::{Changes, Counter, Doc, Kind, Options, Register, Set, Timestamp, Value, FORMAT_VERSION, MAGIC};

// ---------------------------------------------------------------------------
// Configuration and helpers
// ---------------------------------------------------------------------------

fn cases() -> u32 {
    std::env::var("SLOTKV_PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(64)
}

fn config() -> ProptestConfig {
    // No regression files: minimised failures are pinned as named tests instead.
    ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() }
}

/// A small alphabet so that replicas conflict often.
const KEYS: [&str; 3] = ["k0", "k1", "k2"];
const ELEMENTS: [&str; 3] = ["👍", "alice:👍", "e2"];

type Time = Rc<Cell<u64>>;

fn time(start: u64) -> Time {
    Rc::new(Cell::new(start))
}

/// A document whose wall clock reads `clock`.
fn doc_on(id: &str, clock: &Time, retention_ms: u64) -> Doc {
    let t = clock.clone();
    let options = Options { tombstone_retention_ms: retention_ms, ..Options::with_client_id(id) };
    Doc::with_clock(options, Box::new(move || t.get())).unwrap()
}

/// Long enough that nothing is purged in tests that do not ask for it.
const NO_PURGE: u64 = u64::MAX;

/// What a user sees, like `toJSON()`: live counters, registers and sets.
#[derive(Clone, Debug, PartialEq, Eq)]
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

/// The internal maps (slots, winning writes and tombstones, tags and removal records).
type Entries = (BTreeMap<String, Counter>, BTreeMap<String, Register>, BTreeMap<String, Set>);

fn entries(doc: &Doc) -> Entries {
    let (c, r, s) = doc.entries();
    (
        c.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
        r.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
        s.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
    )
}

/// `apply_update`, turning a refusal of bytes a real document produced into a test failure.
fn apply(doc: &mut Doc, bytes: &[u8], what: &str) -> Result<Option<Changes>, TestCaseError> {
    doc.apply_update(bytes)
        .map_err(|e| TestCaseError::fail(format!("{what}: {} refused a genuine update: {e}", doc.client_id())))
}

/// What `docs[from]` sends `docs[to]`: `encode_delta(docs[to].version())`.
fn delta(docs: &mut [Doc], from: usize, to: usize) -> Vec<u8> {
    let version = docs[to].version();
    docs[from].encode_delta(Some(&version)).expect("a version from version() decodes")
}

/// All pairs exchange `encode_delta(other.version())` both ways until a whole
/// round changes nothing. Fails if that takes more than `max_rounds`.
fn anti_entropy(docs: &mut [Doc], max_rounds: usize) -> Result<(), TestCaseError> {
    for _ in 0..max_rounds {
        let mut effective = false;
        for i in 0..docs.len() {
            for j in 0..docs.len() {
                if i == j {
                    continue;
                }
                let d = delta(docs, i, j);
                effective |= apply(&mut docs[j], &d, "anti-entropy")?.is_some();
            }
        }
        if !effective {
            return Ok(());
        }
    }
    Err(TestCaseError::fail(format!("anti-entropy not quiescent after {max_rounds} rounds")))
}

/// [`anti_entropy`] by whole states: all pairs exchange `encode_state`.
fn anti_entropy_by_states(docs: &mut [Doc], max_rounds: usize) -> Result<(), TestCaseError> {
    for _ in 0..max_rounds {
        let mut effective = false;
        for i in 0..docs.len() {
            let state = docs[i].encode_state();
            for (j, doc) in docs.iter_mut().enumerate() {
                if i != j {
                    effective |= apply(doc, &state, "anti-entropy by states")?.is_some();
                }
            }
        }
        if !effective {
            return Ok(());
        }
    }
    Err(TestCaseError::fail(format!("anti-entropy by states not quiescent after {max_rounds} rounds")))
}

fn assert_converged(docs: &[Doc]) -> Result<(), TestCaseError> {
    let (v0, e0) = (visible(&docs[0]), entries(&docs[0]));
    for d in &docs[1..] {
        prop_assert_eq!(&visible(d), &v0, "visible state of {} differs from {}", d.client_id(), docs[0].client_id());
        prop_assert_eq!(&entries(d), &e0, "entries of {} differ from {}", d.client_id(), docs[0].client_id());
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Random local operations
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Op {
    Increment(usize, i64),
    Set(usize, String),
    Delete(usize),
    Add(usize, usize),
    Remove(usize, usize),
}

fn json() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec!["null", "true", "\"x\"", "[1,{\"a\":\"👍\"}]", "{\"n\":-2.5}"])
            .prop_map(str::to_owned),
        any::<i32>().prop_map(|n| n.to_string()),
    ]
}

/// Only adds and removes, on one set and two elements: dense conflicts.
fn set_op() -> impl Strategy<Value = Op> + Clone {
    prop_oneof![(0..2usize).prop_map(|e| Op::Add(0, e)), (0..2usize).prop_map(|e| Op::Remove(0, e))]
}

fn op() -> impl Strategy<Value = Op> + Clone {
    prop_oneof![
        3 => (0..3usize, -3i64..=3).prop_map(|(k, d)| Op::Increment(k, d)),
        2 => (0..3usize, json()).prop_map(|(k, v)| Op::Set(k, v)),
        1 => (0..3usize).prop_map(Op::Delete),
        2 => (0..3usize, 0..3usize).prop_map(|(k, e)| Op::Add(k, e)),
        2 => (0..3usize, 0..3usize).prop_map(|(k, e)| Op::Remove(k, e)),
    ]
}

/// Performs `op` on `doc`; returns the counter key and delta if it was an increment.
fn perform(doc: &mut Doc, op: &Op) -> Option<(&'static str, i64)> {
    match op {
        Op::Increment(k, d) => {
            doc.increment(KEYS[*k], *d).unwrap();
            return Some((KEYS[*k], *d));
        }
        Op::Set(k, v) => doc.set(KEYS[*k], Value::Json(v.clone())).unwrap(),
        Op::Delete(k) => doc.delete(KEYS[*k]).unwrap(),
        Op::Add(k, e) => doc.add(KEYS[*k], ELEMENTS[*e]).unwrap(),
        Op::Remove(k, e) => doc.remove(KEYS[*k], ELEMENTS[*e]).unwrap(),
    }
    None
}

// ---------------------------------------------------------------------------
// Three documents with a shared, random history
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Step {
    Local(usize, Op),
    /// `to` applies `from.encode_delta(to.version())`, or `from.encode_state()` if `full`.
    Sync {
        from: usize,
        to: usize,
        full: bool,
    },
}

fn history(len: usize) -> impl Strategy<Value = Vec<Step>> {
    let step = prop_oneof![
        4 => (0..3usize, op()).prop_map(|(r, o)| Step::Local(r, o)),
        1 => (0..3usize, 1..3usize, any::<bool>()).prop_map(|(from, offset, full)| {
            Step::Sync { from, to: (from + offset) % 3, full }
        }),
    ];
    prop::collection::vec(step, 0..len)
}

/// Replays `steps` on three fresh replicas "a", "b", "c". Deterministic (the
/// clock advances one millisecond per step), so calling it twice gives two
/// identical sets of documents.
fn build(steps: &[Step]) -> Result<Vec<Doc>, TestCaseError> {
    build_on(&[], steps)
}

/// [`build`] on replicas that first apply `base` (a state; none if empty).
fn build_on(base: &[u8], steps: &[Step]) -> Result<Vec<Doc>, TestCaseError> {
    let clock = time(1_000);
    let mut docs: Vec<Doc> = ["a", "b", "c"].iter().map(|id| doc_on(id, &clock, NO_PURGE)).collect();
    if !base.is_empty() {
        for d in &mut docs {
            apply(d, base, "the base")?;
        }
    }
    for step in steps {
        clock.set(clock.get() + 1);
        match step {
            Step::Local(r, op) => {
                perform(&mut docs[*r], op);
                docs[*r].commit(false);
            }
            Step::Sync { from, to, full } => {
                let bytes = if *full { docs[*from].encode_state() } else { delta(&mut docs, *from, *to) };
                apply(&mut docs[*to], &bytes, "building history")?;
            }
        }
    }
    Ok(docs)
}

/// `x` with `y`'s whole state merged in.
fn merge_into(mut x: Doc, y: &mut Doc) -> Result<Doc, TestCaseError> {
    let state = y.encode_state();
    apply(&mut x, &state, "merge")?;
    Ok(x)
}

// ---------------------------------------------------------------------------
// Network simulation
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Net {
    /// A local operation; with `commit`, it ends the replica's transaction
    /// (otherwise the next operations join it).
    Local {
        at: usize,
        op: Op,
        commit: bool,
    },
    /// Delivers (and removes) one queued message, chosen by `pick`; with
    /// `relay`, the receiver forwards it to everyone else if it had an effect
    /// (as the BroadcastChannel provider does).
    Deliver {
        to: usize,
        pick: usize,
        relay: bool,
    },
    /// Delivers one queued message but leaves it queued (it will arrive again).
    Duplicate {
        to: usize,
        pick: usize,
    },
    /// Delivers (and removes) one queued message while the receiver's
    /// transaction is still open (an app's `applyUpdate` inside `transact`).
    DeliverOpen {
        to: usize,
        pick: usize,
    },
    /// `to` applies the delta `from` built for it while `from`'s transaction
    /// was still open (an app's `encodeDelta` inside `transact`).
    DeltaOpen {
        from: usize,
        to: usize,
    },
    /// Loses one queued message.
    Drop {
        to: usize,
        pick: usize,
    },
    DeltaSync {
        from: usize,
        to: usize,
    },
    StateSync {
        from: usize,
        to: usize,
    },
    /// `to` applies the delta `from` built for `built_for` (a catch-up posted
    /// to a whole channel, or relayed to another transport), in format 1 (for
    /// a tab of an older build) or the newest.
    Overheard {
        from: usize,
        built_for: usize,
        to: usize,
        format_1: bool,
    },
}

fn net_step(op: impl Strategy<Value = Op> + Clone) -> impl Strategy<Value = Net> {
    prop_oneof![
        6 => (0..5usize, op, prop::bool::weighted(0.8)).prop_map(|(at, op, commit)| Net::Local { at, op, commit }),
        5 => (0..5usize, any::<usize>(), prop::bool::weighted(0.2)).prop_map(|(to, pick, relay)| Net::Deliver { to, pick, relay }),
        1 => (0..5usize, any::<usize>()).prop_map(|(to, pick)| Net::Duplicate { to, pick }),
        1 => (0..5usize, any::<usize>()).prop_map(|(to, pick)| Net::DeliverOpen { to, pick }),
        1 => (0..5usize, 0..5usize).prop_map(|(from, to)| Net::DeltaOpen { from, to }),
        1 => (0..5usize, any::<usize>()).prop_map(|(to, pick)| Net::Drop { to, pick }),
        1 => (0..5usize, 0..5usize).prop_map(|(from, to)| Net::DeltaSync { from, to }),
        1 => (0..5usize, 0..5usize).prop_map(|(from, to)| Net::StateSync { from, to }),
        1 => (0..5usize, 0..5usize, 0..5usize, any::<bool>())
            .prop_map(|(from, built_for, to, format_1)| Net::Overheard { from, built_for, to, format_1 }),
    ]
}

struct Network {
    docs: Vec<Doc>,
    /// The replicas' shared wall clock; it advances a millisecond per local
    /// write when tombstones are purged, so that they age.
    clock: Time,
    purging: bool,
    /// Per destination, the updates in flight to it.
    queues: Vec<Vec<Vec<u8>>>,
    /// Per counter key, the sum of every increment made anywhere.
    sums: BTreeMap<&'static str, i128>,
}

impl Network {
    /// `n` replicas keeping tombstones for `retention_ms`.
    fn new(n: usize, retention_ms: u64) -> Network {
        let clock = time(1_000);
        // Shared content the steps never touch: with it a delta is shorter
        // than the state, and so is sent as a delta (built on its receiver's
        // version) rather than as the whole state.
        let mut base = doc_on("base", &clock, retention_ms);
        for i in 0..30 {
            base.set(&format!("base{i}"), Value::Json(i.to_string())).unwrap();
        }
        let base = base.encode_state();
        let mut docs: Vec<Doc> = (0..n).map(|i| doc_on(&format!("r{i}"), &clock, retention_ms)).collect();
        for d in &mut docs {
            d.apply_update(&base).unwrap();
        }
        Network {
            docs,
            clock,
            purging: retention_ms != NO_PURGE,
            queues: vec![Vec::new(); n],
            sums: BTreeMap::new(),
        }
    }

    /// Ends `at`'s open transaction and sends its update to everyone else.
    fn commit(&mut self, at: usize) -> Result<(), TestCaseError> {
        if let Some(c) = self.docs[at].commit(true) {
            let update = c.update.ok_or_else(|| TestCaseError::fail("commit(true) returned no update"))?;
            prop_assert!(!c.changes.is_empty(), "a commit with no changed keys");
            for (to, q) in self.queues.iter_mut().enumerate() {
                if to != at {
                    q.push(update.clone());
                }
            }
        }
        Ok(())
    }

    /// Replicas that have seen the same dots show the same document: a delta
    /// picks what to send by dots, so two that did not would stay apart.
    /// (Not with purging: the write a purge lets revive, docs/SECURITY.md.)
    fn equal_versions_agree(&self) -> Result<(), TestCaseError> {
        let versions: Vec<Vec<u8>> = self.docs.iter().map(Doc::version).collect();
        for i in 0..self.docs.len() {
            for j in i + 1..self.docs.len() {
                if versions[i] == versions[j] {
                    prop_assert_eq!(visible(&self.docs[i]), visible(&self.docs[j]), "replicas {} and {} have equal versions", i, j);
                }
            }
        }
        Ok(())
    }

    fn run(&mut self, step: &Net) -> Result<(), TestCaseError> {
        let n = self.docs.len();
        match step {
            Net::Local { at, op, commit } => {
                let at = at % n;
                if self.purging {
                    self.clock.set(self.clock.get() + 1);
                }
                if let Some((key, d)) = perform(&mut self.docs[at], op) {
                    if d != 0 {
                        *self.sums.entry(key).or_insert(0) += d as i128;
                    }
                }
                if *commit {
                    self.commit(at)?;
                }
            }
            Net::Deliver { to, pick, .. } | Net::Duplicate { to, pick } | Net::Drop { to, pick } | Net::DeliverOpen { to, pick } => {
                let to = to % n;
                if self.queues[to].is_empty() {
                    return Ok(());
                }
                if !matches!(step, Net::DeliverOpen { .. }) {
                    self.commit(to)?;
                }
                let i = pick % self.queues[to].len();
                let msg = match step {
                    Net::Duplicate { .. } => self.queues[to][i].clone(),
                    _ => self.queues[to].remove(i),
                };
                if matches!(step, Net::Drop { .. }) {
                    return Ok(());
                }
                let effective = apply(&mut self.docs[to], &msg, "delivery")?.is_some();
                if effective && matches!(step, Net::Deliver { relay: true, .. }) {
                    for (other, q) in self.queues.iter_mut().enumerate() {
                        if other != to {
                            q.push(msg.clone());
                        }
                    }
                }
            }
            Net::DeltaSync { from, to } | Net::StateSync { from, to } | Net::DeltaOpen { from, to } => {
                let (from, to) = (from % n, to % n);
                if from == to {
                    return Ok(());
                }
                if !matches!(step, Net::DeltaOpen { .. }) {
                    self.commit(from)?;
                }
                self.commit(to)?;
                let bytes = match step {
                    Net::StateSync { .. } => self.docs[from].encode_state(),
                    _ => delta(&mut self.docs, from, to),
                };
                apply(&mut self.docs[to], &bytes, "sync")?;
            }
            Net::Overheard { from, built_for, to, format_1 } => {
                let (from, built_for, to) = (from % n, built_for % n, to % n);
                if from == built_for || from == to {
                    return Ok(());
                }
                self.commit(from)?;
                self.commit(to)?;
                let version = self.docs[built_for].version();
                let format = if *format_1 { 1 } else { FORMAT_VERSION };
                let bytes = self.docs[from]
                    .encode_delta_in(Some(&version), format)
                    .map_err(|e| TestCaseError::fail(format!("encode_delta_in: {e}")))?;
                apply(&mut self.docs[to], &bytes, "an overheard delta")?;
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Clock skew
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Skew {
    /// Sets a replica's wall clock (jumps backwards and far ahead included).
    Clock(usize, u64),
    Write(usize, usize, i32),
    Delete(usize, usize),
    /// `to` applies `from`'s delta.
    Sync(usize, usize),
    /// A replica is replaced by one loaded from its state (a page reload).
    Reload(usize),
}

fn wall() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..20, 1_000u64..1_010, 1u64 << 45..(1u64 << 45) + 5, any::<u64>().prop_map(|t| t >> 16)]
}

fn skew_step() -> impl Strategy<Value = Skew> {
    prop_oneof![
        2 => (0..3usize, wall()).prop_map(|(r, t)| Skew::Clock(r, t)),
        3 => (0..3usize, 0..2usize, any::<i32>()).prop_map(|(r, k, v)| Skew::Write(r, k, v)),
        1 => (0..3usize, 0..2usize).prop_map(|(r, k)| Skew::Delete(r, k)),
        3 => (0..3usize, 0..3usize).prop_map(|(f, t)| Skew::Sync(f, t)),
        1 => (0..3usize).prop_map(Skew::Reload),
    ]
}

/// The latest `(timestamp, writer)` among a document's register entries.
fn latest_write(doc: &Doc) -> Option<(Timestamp, String)> {
    doc.entries().1.values().map(|r| (r.ts, r.writer.to_string())).max()
}

// ---------------------------------------------------------------------------
// Mutations of encodings
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
}

fn mutate(bytes: &mut Vec<u8>, m: &Mutation) {
    let len = bytes.len();
    match *m {
        Mutation::Flip(i, mask) if len > 0 => bytes[i % len] ^= mask.max(1),
        Mutation::Insert(i, b) => bytes.insert(i % (len + 1), b),
        Mutation::Delete(i) if len > 0 => {
            bytes.remove(i % len);
        }
        Mutation::Truncate(i) if len > 0 => bytes.truncate(i % len),
        _ => {}
    }
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), any::<u8>()).prop_map(|(i, m)| Mutation::Flip(i, m)),
        2 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        2 => any::<usize>().prop_map(Mutation::Delete),
        1 => any::<usize>().prop_map(Mutation::Truncate),
    ]
}

/// Applies `bytes` to `doc`: never panics (proptest reports a panic as a
/// failure); on error the document is exactly as before; on success it stays
/// usable and its state still decodes.
fn apply_untrusted(doc: &mut Doc, bytes: &[u8]) -> Result<(), TestCaseError> {
    let (state, before) = (doc.encode_state(), entries(doc));
    let version = doc.version();
    match doc.apply_update(bytes) {
        Err(e) => {
            prop_assert!(!e.to_string().is_empty());
            prop_assert_eq!(&entries(doc), &before, "a refused update changed the entries ({})", e);
            prop_assert_eq!(doc.version(), version, "a refused update changed the version ({})", e);
            prop_assert_eq!(doc.encode_state(), state, "a refused update changed the state ({})", e);
        }
        Ok(_) => {
            doc.add("probe", "x").unwrap();
            doc.set("probe", Value::Json("1".into())).unwrap();
            let update = doc.commit(true).and_then(|c| c.update);
            prop_assert!(update.is_some());
            let state = doc.encode_state();
            let clock = time(0);
            let copy = Doc::load(&state, Options::with_client_id("copy"), Box::new(move || clock.get()));
            prop_assert!(
                copy.is_ok(),
                "the state of a document that accepted an update does not load: {:?}",
                copy.err()
            );
        }
    }
    Ok(())
}

/// Runs `steps` on `n` replicas keeping tombstones for `retention_ms`, commits
/// every open transaction and syncs them with `sync`; then every replica must
/// be equal, and every counter the sum of all increments made.
fn run_and_settle(
    n: usize,
    retention_ms: u64,
    steps: &[Net],
    sync: fn(&mut [Doc], usize) -> Result<(), TestCaseError>,
) -> Result<Network, TestCaseError> {
    let mut net = Network::new(n, retention_ms);
    for step in steps {
        net.run(step)?;
        if !net.purging {
            net.equal_versions_agree()?;
        }
    }
    for at in 0..n {
        net.commit(at)?;
    }
    sync(&mut net.docs, n + 2)?;
    assert_converged(&net.docs)?;
    let expected: BTreeMap<String, i128> = net.sums.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    for d in &net.docs {
        prop_assert_eq!(&visible(d).counters, &expected, "{} lost or invented increments", d.client_id());
    }
    Ok(net)
}

/// Runs `steps` on `n` replicas, then anti-entropy: every replica must end
/// equal, every counter must equal the sum of all increments made, and
/// messages still in flight must change nothing when they arrive late.
fn converge_under_an_unreliable_network(n: usize, steps: &[Net]) -> Result<(), TestCaseError> {
    let mut net = run_and_settle(n, NO_PURGE, steps, anti_entropy)?;

    // Whatever is still in flight arrives late: it changes nothing.
    let converged = (visible(&net.docs[0]), entries(&net.docs[0]));
    for (to, queue) in std::mem::take(&mut net.queues).into_iter().enumerate() {
        for msg in queue {
            apply(&mut net.docs[to], &msg, "late delivery")?;
            prop_assert_eq!(
                &(visible(&net.docs[to]), entries(&net.docs[to])),
                &converged,
                "a late update changed {}",
                net.docs[to].client_id()
            );
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The properties
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    /// merge(x, y) = x + y.encode_state() is commutative, associative and
    /// idempotent, both in what users see and in the internal entries.
    #[test]
    fn whole_state_merge_is_commutative_associative_and_idempotent(steps in history(40)) {
        let fresh = || build(&steps);

        // Commutative: a + b == b + a.
        let (mut d1, mut d2) = (fresh()?, fresh()?);
        let ab = merge_into(d1.remove(0), &mut d1[0])?;
        let ba = merge_into(d2.remove(1), &mut d2[0])?;
        prop_assert_eq!(visible(&ab), visible(&ba));
        prop_assert_eq!(entries(&ab), entries(&ba));

        // Associative: (a + b) + c == a + (b + c).
        let mut d1 = fresh()?;
        let mut c1 = d1.pop().unwrap();
        let mut b1 = d1.pop().unwrap();
        let ab = merge_into(d1.pop().unwrap(), &mut b1)?;
        let ab_c = merge_into(ab, &mut c1)?;
        let mut d2 = fresh()?;
        let mut c2 = d2.pop().unwrap();
        let b2 = d2.pop().unwrap();
        let mut bc = merge_into(b2, &mut c2)?;
        let a_bc = merge_into(d2.pop().unwrap(), &mut bc)?;
        prop_assert_eq!(visible(&ab_c), visible(&a_bc));
        prop_assert_eq!(entries(&ab_c), entries(&a_bc));

        // Idempotent: a + a == a, and the second application is a no-op.
        for mut d in fresh()? {
            let before = (visible(&d), entries(&d));
            let state = d.encode_state();
            prop_assert_eq!(apply(&mut d, &state, "self-merge")?, None, "merging a document's own state changed it");
            prop_assert_eq!((visible(&d), entries(&d)), before);
        }
    }

    /// 3 to 5 replicas write concurrently on a few keys while the network
    /// reorders, duplicates and loses their updates (with some delta and state
    /// syncs mixed in). Anti-entropy then makes every replica equal, every
    /// counter equals the sum of all increments made, and late messages change
    /// nothing.
    #[test]
    fn replicas_converge_under_an_unreliable_network_and_no_increment_is_lost(
        n in 3usize..=5,
        steps in prop::collection::vec(net_step(op()), 0..80),
    ) {
        converge_under_an_unreliable_network(n, &steps)?;
    }

    /// With tombstones purged as soon as they are written (retention 0 on a
    /// clock that moves on), a purged delete may let a concurrent write show
    /// through where it was purged (SPEC §1): replicas that then exchange their
    /// whole states still converge, and no increment is lost.
    #[test]
    fn replicas_that_purge_at_once_converge_by_whole_states(
        n in 3usize..=5,
        steps in prop::collection::vec(net_step(op()), 0..80),
    ) {
        run_and_settle(n, 0, &steps, anti_entropy_by_states)?;
    }

    /// The same, with only adds and removes of two elements of one set, so
    /// that re-adds, removes and their out-of-order arrival meet often.
    #[test]
    fn set_replicas_converge_under_an_unreliable_network(
        n in 3usize..=4,
        steps in prop::collection::vec(net_step(set_op()), 0..60),
    ) {
        converge_under_an_unreliable_network(n, &steps)?;
    }

    /// Set replicas that purge their removal records a few milliseconds
    /// after a remove converge by deltas too; once every record is purged,
    /// an update still in flight is no news: it changes nothing, and says
    /// so (no change reported, so no event fires). Found in review: a remove
    /// delivered again re-created its purged record and reported a change.
    #[test]
    fn set_replicas_that_purge_converge_by_deltas_and_late_updates_are_no_news(
        n in 3usize..=4,
        retention in 0u64..5,
        steps in prop::collection::vec(net_step(set_op()), 0..60),
    ) {
        let mut net = Network::new(n, retention);
        for step in &steps {
            net.run(step)?;
        }
        for at in 0..n {
            net.commit(at)?;
        }
        anti_entropy(&mut net.docs, n + 2)?;
        // What users see is equal; removal records may not be, each replica
        // having purged its own at its own time.
        let shown = visible(&net.docs[0]);
        for d in &net.docs {
            prop_assert_eq!(&visible(d), &shown, "{} differs from {}", d.client_id(), net.docs[0].client_id());
        }
        net.clock.set(net.clock.get() + retention + 1);
        for d in &mut net.docs {
            d.encode_state(); // purges what is past the retention
        }
        for (to, queue) in std::mem::take(&mut net.queues).into_iter().enumerate() {
            for msg in queue {
                let before = (visible(&net.docs[to]), entries(&net.docs[to]));
                let changes = apply(&mut net.docs[to], &msg, "late delivery")?;
                prop_assert_eq!(changes, None, "a late update reported a change at {}", net.docs[to].client_id());
                prop_assert_eq!((visible(&net.docs[to]), entries(&net.docs[to])), before);
            }
        }
    }

    /// For replicas x and y from a random shared history, applying
    /// `y.encode_delta(x.version())` has the same effect as applying
    /// `y.encode_state()`, and the delta is never longer than the state.
    #[test]
    fn applying_a_delta_equals_applying_the_whole_state(steps in history(40)) {
        let mut senders = build(&steps)?;
        let mut by_delta = build(&steps)?;
        let mut by_state = build(&steps)?;
        for to in 0..3 {
            for (from, sender) in senders.iter_mut().enumerate() {
                if from == to {
                    continue;
                }
                prop_assert_eq!(by_delta[to].version(), by_state[to].version());
                let delta = sender.encode_delta(Some(&by_delta[to].version())).unwrap();
                let state = sender.encode_state();
                prop_assert!(delta.len() <= state.len(), "delta of {} bytes, state of {}", delta.len(), state.len());
                let r1 = apply(&mut by_delta[to], &delta, "delta")?;
                let r2 = apply(&mut by_state[to], &state, "state")?;
                prop_assert_eq!(r1.is_some(), r2.is_some(), "only one of delta and state had an effect");
                prop_assert_eq!(visible(&by_delta[to]), visible(&by_state[to]), "{} -> {}", from, to);
                prop_assert_eq!(entries(&by_delta[to]), entries(&by_state[to]), "{} -> {}", from, to);
            }
        }
    }

    /// Over a base large enough that deltas are shorter than states, the delta
    /// for a receiver that reads format 1 only (every set listed whole when
    /// one has removals) has the effect of the newest format's delta (which
    /// lists the others in part), and both that of the state.
    #[test]
    fn a_format_1_delta_has_the_effect_of_the_newest_delta(steps in history(40)) {
        let mut z = Doc::new(Options::with_client_id("z")).unwrap();
        for i in 0..40 {
            z.add(KEYS[0], &format!("base {i}")).unwrap();
            z.set(&format!("base {i}"), Value::Json(i.to_string())).unwrap();
        }
        let base = z.encode_state();
        let mut senders = build_on(&base, &steps)?;
        let mut by_newest = build_on(&base, &steps)?;
        let mut by_format_1 = build_on(&base, &steps)?;
        for to in 0..3 {
            for (from, sender) in senders.iter_mut().enumerate() {
                if from == to {
                    continue;
                }
                let since = by_newest[to].version();
                prop_assert_eq!(&by_format_1[to].version(), &since);
                let newest = sender.encode_delta(Some(&since)).unwrap();
                let old = sender.encode_delta_in(Some(&since), 1).unwrap();
                prop_assert_eq!(old[1], 1, "the format-1 delta is written in format {}", old[1]);
                prop_assert!(old.len() <= sender.encode_state().len());
                apply(&mut by_newest[to], &newest, "newest delta")?;
                apply(&mut by_format_1[to], &old, "format-1 delta")?;
                prop_assert_eq!(entries(&by_format_1[to]), entries(&by_newest[to]), "{} -> {}", from, to);
                let state = sender.encode_state();
                prop_assert!(apply(&mut by_format_1[to], &state, "state")?.is_none(), "the state adds to the delta: {} -> {}", from, to);
                prop_assert!(apply(&mut by_newest[to], &state, "state")?.is_none(), "the state adds to the delta: {} -> {}", from, to);
            }
        }
    }

    /// With skewed, jumping wall clocks and reloads, a replica's new write (or delete) is
    /// timestamped later than every write it holds, so it is what the replica
    /// reads right after; and once everyone has synced, every replica holds the
    /// write with the largest (timestamp, writer).
    #[test]
    fn a_local_write_beats_everything_seen_under_clock_skew(
        start in prop::collection::vec(wall(), 3),
        steps in prop::collection::vec(skew_step(), 0..60),
    ) {
        let clocks: Vec<Time> = start.iter().map(|&t| time(t)).collect();
        let mut docs: Vec<Doc> = (0..3).map(|i| doc_on(&format!("r{i}"), &clocks[i], NO_PURGE)).collect();
        // Every write made: key -> (timestamp, writer) -> value (None = delete).
        let mut writes: BTreeMap<&str, BTreeMap<(Timestamp, String), Option<String>>> = BTreeMap::new();
        for step in &steps {
            match *step {
                Skew::Clock(r, t) => clocks[r].set(t),
                Skew::Write(r, k, _) | Skew::Delete(r, k) => {
                    let value = match *step {
                        Skew::Write(_, _, v) => Some(v.to_string()),
                        _ => None,
                    };
                    let doc = &mut docs[r];
                    let before = latest_write(doc);
                    match &value {
                        Some(text) => doc.set(KEYS[k], Value::Json(text.clone())).unwrap(),
                        None => doc.delete(KEYS[k]).unwrap(),
                    }
                    doc.commit(false);
                    let reg = doc.register(KEYS[k]).unwrap().clone();
                    prop_assert_eq!(reg.writer.as_str(), format!("r{r}"));
                    let mine = (reg.ts, reg.writer.to_string());
                    if let Some(before) = before {
                        prop_assert!(mine > before, "new write {:?} does not beat {:?}", mine, before);
                    }
                    prop_assert_eq!(doc.get(KEYS[k]).cloned(), value.clone().map(Value::Json));
                    writes.entry(KEYS[k]).or_default().insert(mine, value);
                }
                Skew::Sync(from, to) => {
                    if from != to {
                        let d = delta(&mut docs, from, to);
                        apply(&mut docs[to], &d, "skewed sync")?;
                    }
                }
                Skew::Reload(r) => {
                    let state = docs[r].encode_state();
                    let t = clocks[r].clone();
                    let options = Options { tombstone_retention_ms: NO_PURGE, ..Options::with_client_id(&format!("r{r}")) };
                    docs[r] = Doc::load(&state, options, Box::new(move || t.get())).map_err(|e| TestCaseError::fail(format!("reload: {e}")))?;
                }
            }
        }
        anti_entropy(&mut docs, 5)?;
        assert_converged(&docs)?;
        for (key, ws) in &writes {
            let (_, winner) = ws.iter().next_back().unwrap();
            prop_assert_eq!(docs[0].get(key).cloned(), winner.clone().map(Value::Json), "key {}", key);
        }
    }

    /// A deleted register's tombstone is dropped once the retention has passed
    /// (at the latest by `encode_state`), unless it is the newest write.
    /// Re-applying old updates that carried
    /// the deleted value does not bring it back, and a peer that still holds
    /// the old value converges to "deleted" after syncing with the purged replica.
    #[test]
    fn purged_tombstones_are_gone_and_no_seen_write_comes_back(
        retention in 1u64..100_000,
        late_by in 1u64..1_000_000,
        value in json(),
        before in prop::collection::vec(op(), 0..12),
        offline in prop::collection::vec(op(), 0..8),
    ) {
        let (ta, tb) = (time(1_000_000), time(1_000_000));
        let mut a = doc_on("a", &ta, retention);
        let mut b = doc_on("b", &tb, retention);
        for op in &before {
            perform(&mut a, op);
        }
        a.set("k", Value::Json(value.clone())).unwrap();
        let old_update = a.commit(true).unwrap().update.unwrap();
        let old_state = a.encode_state();
        apply(&mut b, &old_state, "b catches up")?;
        prop_assert_eq!(b.get("k"), Some(&Value::Json(value.clone())));

        ta.set(ta.get() + 1);
        a.delete("k").unwrap();
        a.commit(false);
        prop_assert!(a.register("k").is_some_and(Register::is_tombstone), "delete keeps a tombstone");

        ta.set(ta.get() + retention + late_by);
        a.encode_state();
        // The newest write stays, so that a replica loading the state sets its clock past it.
        prop_assert!(a.entries().1.contains_key("k"), "the newest write, a delete, was purged");
        a.set("later", Value::Json("1".into())).unwrap();
        a.commit(false);
        a.encode_state();
        prop_assert!(!a.entries().1.contains_key("k"), "the tombstone outlived the retention");

        for (what, old) in [("old update", &old_update), ("old state", &old_state)] {
            apply(&mut a, old, what)?;
            prop_assert_eq!(a.get("k"), None, "{} brought the deleted value back", what);
            prop_assert!(!a.entries().1.contains_key("k"));
        }

        // b was offline all along (its own writes on other keys), and comes back now.
        for op in &offline {
            perform(&mut b, op);
        }
        b.commit(false);
        tb.set(ta.get());
        let mut docs = vec![a, b];
        anti_entropy(&mut docs, 4)?;
        prop_assert_eq!(docs[1].get("k"), None, "the peer kept the deleted value");
        assert_converged(&docs)?;
        for (what, old) in [("old update", &old_update), ("old state", &old_state)] {
            for d in &mut docs {
                apply(d, old, what)?;
                prop_assert_eq!(d.get("k"), None, "{} brought the deleted value back to {}", what, d.client_id());
            }
        }
    }

    /// Arbitrary bytes (some with a valid header) never panic the decoder, and
    /// an error leaves the document exactly as it was.
    #[test]
    fn arbitrary_bytes_never_panic_and_errors_change_nothing(
        steps in history(20),
        header in prop::option::of(0u8..4),
        body in prop::collection::vec(any::<u8>(), 0..120),
    ) {
        let mut docs = build(&steps)?;
        let mut bytes = match header {
            Some(kind) => vec![MAGIC, FORMAT_VERSION as u8, kind],
            None => Vec::new(),
        };
        bytes.extend_from_slice(&body);
        apply_untrusted(&mut docs[0], &bytes)?;
    }

    /// Real updates (states, deltas and transaction updates) with bytes
    /// flipped, inserted, deleted or cut off never panic the decoder; an error
    /// leaves the document exactly as it was; an accepted update leaves it usable.
    #[test]
    fn mutated_updates_never_panic_and_errors_change_nothing(
        steps in history(30),
        pick in any::<usize>(),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let mut docs = build(&steps)?;
        let mut candidates = vec![docs[0].encode_state(), docs[1].encode_state()];
        candidates.push(delta(&mut docs, 0, 1));
        candidates.push(delta(&mut docs, 1, 2));
        docs[0].increment("t", 1).unwrap();
        docs[0].remove(KEYS[0], ELEMENTS[0]).unwrap();
        docs[0].set(KEYS[1], Value::Json("[1]".into())).unwrap();
        candidates.extend(docs[0].commit(true).and_then(|c| c.update));

        let mut bytes = candidates[pick % candidates.len()].clone();
        for m in &mutations {
            mutate(&mut bytes, m);
        }
        let mut receivers = build(&steps)?;
        for d in &mut receivers {
            apply_untrusted(d, &bytes)?;
        }
    }
}
