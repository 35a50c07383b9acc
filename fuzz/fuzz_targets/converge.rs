//! Structure-aware: three replicas run a random sequence of local writes,
//! transactions, reloads and clock steps, and exchange transaction updates,
//! deltas (for current and stale versions) and full states over a network
//! that reorders, duplicates and drops. Then every pending message is
//! delivered and the replicas run anti-entropy until quiescent. Asserts:
//!
//! - every genuine message is accepted;
//! - applying `encode_delta(to.version())` gives what applying
//!   `encode_state()` gives (the same entries without purging; the same
//!   visible state with purging), and so does the delta for a receiver that
//!   reads format 1 only (`encode_delta_in(since, 1)`, written in format 1);
//! - anti-entropy becomes quiescent, and the replicas converge: the same
//!   visible state, and the same entries when nothing is purged. One case is
//!   exempt, as the SPEC says: a register write that reaches a replica more
//!   than the retention period after it was made (on that replica's document
//!   clock: its wall clock or the newest timestamp it saw, if later),
//!   for a key that replica holds nothing for, may be a write that a purged
//!   tombstone beat; adopting it there revives the key there only. Once that
//!   happened the registers may differ (between replicas, and between what a
//!   delta and a state leave: a state drops the revived key); counters, sets
//!   and versions may not;
//! - no increment is lost: each counter is the sum of all deltas;
//! - each replica's state loads and re-encodes to the same bytes.
#![no_main]

use std::cell::Cell;
use std::collections::BTreeMap;
use std::rc::Rc;

use arbitrary::{Arbitrary, Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use slotkv::{Doc, Kind, Options, Value};
use slotkv_fuzz::T0;

const N: usize = 3;
const IDS: [&str; N] = ["r0", "0123456789abcdef", "r2"];
const KEYS: [&str; 3] = ["k0", "k1", "👍"];
const ELEMENTS: [&str; 3] = ["a", "alice:👍", ""];
const VALUES: [&str; 5] = ["null", "1", "\"x\"", "[1,{\"a\":\"é\"}]", "{\"n\":-2.5e3}"];
const MAX_STEPS: usize = 200;

#[derive(Arbitrary, Debug)]
enum Op {
    Increment { r: u8, key: u8, delta: i8 },
    Set { r: u8, key: u8, value: u8 },
    SetBytes { r: u8, key: u8, byte: u8 },
    Delete { r: u8, key: u8 },
    Add { r: u8, key: u8, element: u8 },
    Remove { r: u8, key: u8, element: u8 },
    Commit { r: u8 },
    Deliver { to: u8, pick: u8 },
    Duplicate { to: u8, pick: u8 },
    Drop { to: u8, pick: u8 },
    SyncDelta { from: u8, to: u8 },
    SyncStale { from: u8, to: u8, pick: u8 },
    SyncState { from: u8, to: u8 },
    Tick { r: u8, ms: u16 },
    Reload { r: u8 },
}

struct Replica {
    doc: Doc,
    clock: Rc<Cell<u64>>,
    /// Versions this replica had, for stale deltas.
    versions: Vec<Vec<u8>>,
}

struct World {
    replicas: Vec<Replica>,
    /// Messages in flight to each replica.
    inbox: Vec<Vec<Vec<u8>>>,
    retention: u64,
    /// Sum of all increments per counter key.
    totals: BTreeMap<&'static str, i128>,
    /// A replica adopted, for a key it held nothing for, a write older than
    /// the retention period on its clock (see the exemption above).
    revived: bool,
}

fn r(x: u8) -> usize {
    x as usize % N
}

fn other(from: u8, to: u8) -> (usize, usize) {
    let from = r(from);
    (from, (from + 1 + to as usize % (N - 1)) % N)
}

fn make(id: &str, clock: &Rc<Cell<u64>>, retention: u64) -> Doc {
    let t = clock.clone();
    let options = Options { tombstone_retention_ms: retention, ..Options::with_client_id(id) };
    Doc::with_clock(options, Box::new(move || t.get())).unwrap()
}

fn apply(doc: &mut Doc, bytes: &[u8], what: &str) {
    if let Err(e) = doc.apply_update(bytes) {
        panic!("{what}: {} refused a genuine message: {e}", doc.client_id());
    }
}

type Visible = (BTreeMap<String, i128>, BTreeMap<String, Value>, BTreeMap<String, Vec<String>>);

fn visible(d: &Doc) -> Visible {
    (
        d.keys(Kind::Counter).into_iter().map(|k| (k.to_owned(), d.counter(k))).collect(),
        d.keys(Kind::Register).into_iter().map(|k| (k.to_owned(), d.get(k).unwrap().clone())).collect(),
        d.keys(Kind::Set).into_iter().map(|k| (k.to_owned(), d.members(k).into_iter().map(str::to_owned).collect())).collect(),
    )
}

impl World {
    fn new(retention: u64) -> World {
        let replicas = IDS
            .iter()
            .map(|id| {
                let clock = Rc::new(Cell::new(T0));
                Replica { doc: make(id, &clock, retention), clock, versions: Vec::new() }
            })
            .collect();
        World { replicas, inbox: vec![Vec::new(); N], retention, totals: BTreeMap::new(), revived: false }
    }

    fn purges(&self) -> bool {
        self.retention != u64::MAX
    }

    /// Applies a genuine message to replica `to`, noting a late revival.
    fn deliver(&mut self, to: usize, bytes: &[u8], what: &str) -> bool {
        let rep = &mut self.replicas[to];
        let absent: Vec<&str> = KEYS.iter().copied().filter(|k| rep.doc.register(k).is_none()).collect();
        let changed = match rep.doc.apply_update(bytes) {
            Ok(changed) => changed.is_some(),
            Err(e) => panic!("{what}: {} refused a genuine message: {e}", rep.doc.client_id()),
        };
        // On the document's clock, which purges by it: never behind the
        // newest timestamp it has seen, so a peer's fast clock moves it on.
        let cutoff = rep.doc.now().saturating_sub(self.retention);
        if absent.iter().any(|k| rep.doc.register(k).is_some_and(|r| r.ts.wall < cutoff)) {
            self.revived = true;
        }
        changed
    }

    fn commit(&mut self, i: usize) {
        if let Some(c) = self.replicas[i].doc.commit(true) {
            let update = c.update.expect("asked for");
            for j in 0..N {
                if j != i {
                    self.inbox[j].push(update.clone());
                }
            }
        }
    }

    fn step(&mut self, op: Op) {
        match op {
            Op::Increment { r: i, key, delta } => {
                let key = KEYS[key as usize % KEYS.len()];
                self.replicas[r(i)].doc.increment(key, delta as i64).unwrap();
                *self.totals.entry(key).or_default() += delta as i128;
            }
            Op::Set { r: i, key, value } => {
                let v = Value::Json(VALUES[value as usize % VALUES.len()].to_owned());
                self.replicas[r(i)].doc.set(KEYS[key as usize % KEYS.len()], v).unwrap();
            }
            Op::SetBytes { r: i, key, byte } => {
                self.replicas[r(i)].doc.set(KEYS[key as usize % KEYS.len()], Value::Bytes(vec![byte; byte as usize % 4])).unwrap();
            }
            Op::Delete { r: i, key } => self.replicas[r(i)].doc.delete(KEYS[key as usize % KEYS.len()]).unwrap(),
            Op::Add { r: i, key, element } => self.replicas[r(i)]
                .doc
                .add(KEYS[key as usize % KEYS.len()], ELEMENTS[element as usize % ELEMENTS.len()])
                .unwrap(),
            Op::Remove { r: i, key, element } => self.replicas[r(i)]
                .doc
                .remove(KEYS[key as usize % KEYS.len()], ELEMENTS[element as usize % ELEMENTS.len()])
                .unwrap(),
            Op::Commit { r: i } => self.commit(r(i)),
            Op::Deliver { to, pick } | Op::Duplicate { to, pick } | Op::Drop { to, pick } => {
                let to = r(to);
                if self.inbox[to].is_empty() {
                    return;
                }
                let k = pick as usize % self.inbox[to].len();
                let msg = if matches!(op, Op::Duplicate { .. }) { self.inbox[to][k].clone() } else { self.inbox[to].remove(k) };
                if !matches!(op, Op::Drop { .. }) {
                    self.deliver(to, &msg, "a transaction update");
                }
            }
            Op::SyncDelta { from, to } => {
                let (from, to) = other(from, to);
                let since = self.replicas[to].doc.version();
                self.replicas[to].versions.push(since.clone());
                let delta = self.replicas[from].doc.encode_delta(Some(&since)).expect("a genuine version");
                let old = self.replicas[from].doc.encode_delta_in(Some(&since), 1).expect("a genuine version");
                assert_eq!(old[1], 1, "a delta for a format-1 receiver is in format {}", old[1]);
                let state = self.replicas[from].doc.encode_state();
                // A twin of `to` takes the state, another the delta in format
                // 1, `to` the newest delta: the same result.
                let to_state = self.replicas[to].doc.encode_state();
                let mut twin = make("twin", &self.replicas[to].clock, self.retention);
                apply(&mut twin, &to_state, "a twin's state");
                let mut twin_1 = make("twin_1", &self.replicas[to].clock, self.retention);
                apply(&mut twin_1, &to_state, "a twin's state");
                apply(&mut twin, &state, "a full state");
                apply(&mut twin_1, &old, "a format-1 delta");
                self.deliver(to, &delta, "a delta");
                let doc = &self.replicas[to].doc;
                assert_eq!(visible(&twin_1), visible(doc), "the format-1 and the newest delta differ");
                if self.purges() {
                    let (mut by_state, mut by_delta) = (visible(&twin), visible(doc));
                    // A revived key (see above) is dropped by a state, which
                    // lists what its sender holds, but not by a delta.
                    if self.revived {
                        (by_state.1, by_delta.1) = (BTreeMap::new(), BTreeMap::new());
                    }
                    assert_eq!(by_state, by_delta, "applying the delta and the state differ");
                } else {
                    assert_eq!(twin.entries(), doc.entries(), "applying the delta and the state differ");
                    assert_eq!(twin.version(), doc.version(), "applying the delta and the state differ in version");
                }
            }
            Op::SyncStale { from, to, pick } => {
                let (from, to) = other(from, to);
                let versions = &self.replicas[to].versions;
                if versions.is_empty() {
                    return;
                }
                let since = versions[pick as usize % versions.len()].clone();
                let delta = self.replicas[from].doc.encode_delta(Some(&since)).expect("a genuine version");
                self.deliver(to, &delta, "a delta for an older version");
            }
            Op::SyncState { from, to } => {
                let (from, to) = other(from, to);
                let state = self.replicas[from].doc.encode_state();
                self.deliver(to, &state, "a full state");
            }
            Op::Tick { r: i, ms } => {
                let c = &self.replicas[r(i)].clock;
                c.set(c.get() + ms as u64 * 16);
            }
            Op::Reload { r: i } => {
                let i = r(i);
                self.commit(i);
                let rep = &mut self.replicas[i];
                let state = rep.doc.encode_state();
                let mut doc = make(IDS[i], &rep.clock, self.retention);
                apply(&mut doc, &state, "its own state on reload");
                rep.doc = doc;
            }
        }
    }

    fn finish(&mut self) {
        for i in 0..N {
            self.commit(i);
        }
        for to in 0..N {
            for msg in std::mem::take(&mut self.inbox[to]) {
                self.deliver(to, &msg, "a late transaction update");
            }
        }
        let mut quiet = false;
        for _ in 0..8 {
            let mut effective = false;
            for from in 0..N {
                for to in 0..N {
                    if from == to {
                        continue;
                    }
                    let since = self.replicas[to].doc.version();
                    let delta = self.replicas[from].doc.encode_delta(Some(&since)).expect("a genuine version");
                    effective |= self.deliver(to, &delta, "anti-entropy");
                }
            }
            if !effective {
                quiet = true;
                break;
            }
        }
        assert!(quiet, "anti-entropy is not quiescent after 8 rounds");

        let mut first = visible(&self.replicas[0].doc);
        for rep in &self.replicas[1..] {
            let mut seen = visible(&rep.doc);
            if self.revived {
                (seen.1, first.1) = (BTreeMap::new(), BTreeMap::new());
            }
            assert_eq!(seen, first, "replicas {} and r0 see different things", rep.doc.client_id());
            if !self.purges() {
                assert_eq!(rep.doc.entries(), self.replicas[0].doc.entries(), "replicas hold different entries");
            }
            assert_eq!(rep.doc.version(), self.replicas[0].doc.version(), "replicas have different versions");
        }
        for (key, total) in &self.totals {
            assert_eq!(first.0.get(*key).copied().unwrap_or(0), *total, "counter {key} lost increments");
        }
        for rep in &mut self.replicas {
            let state = rep.doc.encode_state();
            let mut copy = make("copy", &rep.clock, u64::MAX);
            apply(&mut copy, &state, "a state round trip");
            assert_eq!(copy.encode_state(), state, "state -> load -> state is not stable");
        }
    }
}

fn run(u: &mut Unstructured) -> Result<()> {
    let retention = match u8::arbitrary(u)? % 3 {
        0 => u64::MAX,
        1 => 1_000,
        _ => 100_000,
    };
    let trace = std::env::var_os("SLOTKV_FUZZ_TRACE").is_some();
    if trace {
        eprintln!("retention {retention}");
    }
    let mut world = World::new(retention);
    for _ in 0..MAX_STEPS {
        if u.is_empty() {
            break;
        }
        let op = Op::arbitrary(u)?;
        if trace {
            eprintln!("{op:?}");
        }
        world.step(op);
    }
    world.finish();
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});
