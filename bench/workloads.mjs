// The four workloads, written once against the adapter interface of
// adapters/*.mjs. Each returns its metrics and throws if a library's result is
// wrong (totals, convergence, add-wins membership, LWW candidates).
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";
import { clientIds, rng } from "./lib/prng.mjs";

const now = () => performance.now();

/** JS heap + external memory (wasm linear memory and ArrayBuffers count as external) after a full GC. */
export function memory() {
  if (globalThis.gc) {
    globalThis.gc();
    globalThis.gc();
  }
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

/** Same shape for every library: zero counters and empty sets dropped, sets sorted. */
export function norm(s) {
  const counters = {};
  for (const [k, v] of Object.entries(s.counters)) if (v !== 0) counters[k] = v;
  const registers = {};
  for (const [k, v] of Object.entries(s.registers)) if (v !== undefined && v !== null) registers[k] = v;
  const sets = {};
  for (const [k, v] of Object.entries(s.sets)) if (v.length) sets[k] = [...v].sort();
  return { counters, registers, sets };
}

function sorted(obj) {
  return Object.fromEntries(Object.entries(obj).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function same(a, b, what) {
  const x = norm(a);
  const y = norm(b);
  deepStrictEqual(
    { counters: sorted(x.counters), registers: sorted(x.registers), sets: sorted(x.sets) },
    { counters: sorted(y.counters), registers: sorted(y.registers), sets: sorted(y.sets) },
    what,
  );
}

/** Full state, then load + read every value once into a new replica; checks it holds the same. */
function stateAndLoad(L, replica, id, ctx, out) {
  const full = L.encodeState(replica);
  out.stateBytes = full.length;
  const t = now();
  const loaded = L.load(full, id, ctx);
  L.readAll(loaded);
  out.loadMs = now() - t;
  same(L.snapshot(loaded), L.snapshot(replica), "the loaded full state differs from the replica it came from");
  L.free(loaded);
}

const key = (i) => "k" + i;

// ---------------------------------------------------------------------------
// W1 counters: 20 clients x K increments over 10 keys, merged into a fresh replica.
export function w1(L, n, seed, baseline) {
  const CLIENTS = 20;
  const KEYS = 10;
  const K = Math.max(1, Math.round(n / CLIENTS));
  const ids = clientIds(seed, CLIENTS + 2);
  const keys = Array.from({ length: KEYS }, (_, i) => key(i));
  const ctx = { counterKeys: keys, setNames: [], peers: ids };
  const r = rng(seed);
  const ops = ids.slice(0, CLIENTS).map(() => {
    const k = new Uint8Array(K);
    const d = new Uint8Array(K);
    for (let i = 0; i < K; i++) {
      k[i] = r.int(KEYS);
      d[i] = 1 + r.int(3);
    }
    return { k, d };
  });
  const expected = Object.fromEntries(keys.map((k) => [k, 0]));
  for (const { k, d } of ops) for (let i = 0; i < K; i++) expected[keys[k[i]]] += d[i];

  const base = baseline ?? memory();
  const out = { ops: CLIENTS * K };
  const replicas = ids.slice(0, CLIENTS).map((id) => L.create(id, ctx));
  let t = now();
  for (let c = 0; c < CLIENTS; c++) {
    const rep = replicas[c];
    const { k, d } = ops[c];
    for (let i = 0; i < K; i++) L.increment(rep, keys[k[i]], d[i]);
  }
  out.writeMs = now() - t;
  // Each client sees exactly its own increments.
  const own = Object.fromEntries(keys.map((k) => [k, 0]));
  for (let i = 0; i < K; i++) own[keys[ops[0].k[i]]] += ops[0].d[i];
  for (const k of keys) strictEqual(L.counter(replicas[0], k), own[k], `client 0's local counter ${k}`);

  const states = replicas.map((rep) => L.encodeState(rep));
  for (const rep of replicas) L.free(rep);
  let merged = L.create(ids[CLIENTS], ctx);
  t = now();
  merged = L.merge(merged, states);
  out.mergeMs = now() - t;
  let total = 0;
  for (const k of keys) {
    strictEqual(L.counter(merged, k), expected[k], `merged counter ${k}`);
    total += L.counter(merged, k);
  }
  strictEqual(total, Object.values(expected).reduce((a, b) => a + b, 0), "the merged total");
  if (!L.floor) {
    // Merging again (duplicates) changes nothing.
    merged = L.merge(merged, states.slice(0, 3));
    for (const k of keys) strictEqual(L.counter(merged, k), expected[k], `counter ${k} after duplicate delivery`);
  }
  stateAndLoad(L, merged, ids[CLIENTS + 1], ctx, out);
  out.heapBytes = memory() - base;
  L.free(merged);
  out.checks = `total ${total} = sum of all increments, in the merged and the loaded replica`;
  return out;
}

// ---------------------------------------------------------------------------
// W2 LWW: 20*sqrt(N) clients set the same key (a number, then a string), plus
// one replica setting N distinct keys; everything merged into a fresh replica.
export function w2(L, n, seed, baseline) {
  const CLIENTS = 20 * Math.round(Math.sqrt(n));
  const ids = clientIds(seed, CLIENTS + 4);
  const ctx = { counterKeys: [], setNames: [], peers: ids };
  const r = rng(seed);
  const nums = Array.from({ length: CLIENTS }, () => r.int(1_000_000));
  const strs = Array.from({ length: CLIENTS }, (_, c) => `client ${c} says ${r.u32().toString(36)}`);
  const wide = Array.from({ length: n }, (_, i) => (i % 2 ? r.int(1_000_000_000) : "v" + r.u32().toString(36)));
  const HOT = "hot";
  const wideKeys = Array.from({ length: n }, (_, i) => "r" + i);

  const base = baseline ?? memory();
  const out = { ops: 2 * CLIENTS + n };
  const replicas = ids.slice(0, CLIENTS).map((id) => L.create(id, ctx));
  const wideReplica = L.create(ids[CLIENTS], ctx);
  let t = now();
  for (let c = 0; c < CLIENTS; c++) {
    L.set(replicas[c], HOT, nums[c]);
    L.set(replicas[c], HOT, strs[c]);
  }
  const hotMs = now() - t;
  t = now();
  for (let i = 0; i < n; i++) L.set(wideReplica, wideKeys[i], wide[i]);
  const wideMs = now() - t;
  out.writeMs = hotMs + wideMs;
  out.detail = { hotOpsPerSec: (2 * CLIENTS) / (hotMs / 1000), wideOpsPerSec: n / (wideMs / 1000) };
  strictEqual(L.get(replicas[0], HOT), strs[0], "a client's own last write");

  const states = replicas.map((rep) => L.encodeState(rep));
  states.push(L.encodeState(wideReplica));
  for (const rep of replicas) L.free(rep);
  L.free(wideReplica);
  let merged = L.create(ids[CLIENTS + 1], ctx);
  t = now();
  merged = L.merge(merged, states);
  out.mergeMs = now() - t;
  const winner = L.get(merged, HOT);
  ok(typeof winner === "string" && strs.includes(winner), `the contended key holds one client's last write (got ${JSON.stringify(winner)})`);
  for (let i = 0; i < n; i++) strictEqual(L.get(merged, wideKeys[i]), wide[i], `distinct key ${wideKeys[i]}`);
  if (!L.floor) {
    // Another replica merging in the opposite order picks the same winner.
    let other = L.create(ids[CLIENTS + 2], ctx);
    other = L.merge(other, [...states].reverse());
    strictEqual(L.get(other, HOT), winner, "the winner does not depend on merge order");
    L.free(other);
  }
  stateAndLoad(L, merged, ids[CLIENTS + 3], ctx, out);
  out.heapBytes = memory() - base;
  L.free(merged);
  out.checks = `${CLIENTS} clients: one winner (a last write), the same in both merge orders; all ${n} distinct keys exact`;
  return out;
}

// ---------------------------------------------------------------------------
// A reference observed-remove add-wins set: tags are "owner:seq"; a remove
// drops the tags its replica has seen; merge = union of tags minus union of removed.
// Two readings of a re-add of an element the replica already holds:
//  - every add is a new tag (ORSWOT, Yjs items, Automerge ops): a remove elsewhere
//    that saw only the earlier tag does not undo the re-add;
//  - reAddNoop: a replica keeps at most one tag of its own per element and re-adding
//    changes nothing, so that remove does take the element away.
// Both converge; W4 reports which one a library follows.
class RefSet {
  constructor(reAddNoop = false) {
    this.reAddNoop = reAddNoop;
    this.tags = new Map(); // element -> Set(tag)
    this.removed = new Set();
  }
  /** A local add by `owner`. */
  addOp(element, owner, seq) {
    if (this.reAddNoop) {
      const s = this.tags.get(element);
      if (s) for (const t of s) if (t.startsWith(owner + ":")) return;
    }
    this.add(element, `${owner}:${seq}`);
  }
  add(element, tag) {
    let s = this.tags.get(element);
    if (!s) this.tags.set(element, (s = new Set()));
    s.add(tag);
  }
  remove(element) {
    const s = this.tags.get(element);
    if (!s) return;
    for (const t of s) this.removed.add(t);
    this.tags.delete(element);
  }
  has(element) {
    return this.tags.has(element);
  }
  members() {
    return [...this.tags.keys()].sort();
  }
  merge(other) {
    for (const t of other.removed) this.removed.add(t);
    for (const [e, s] of other.tags) for (const t of s) this.add(e, t);
    for (const [e, s] of this.tags) {
      for (const t of s) if (this.removed.has(t)) s.delete(t);
      if (!s.size) this.tags.delete(e);
    }
  }
  clone() {
    const c = new RefSet(this.reAddNoop);
    for (const [e, s] of this.tags) c.tags.set(e, new Set(s));
    c.removed = new Set(this.removed);
    return c;
  }
}

// W3 sets: 10 clients add/remove seeded-random elements of one set, N operations, merged.
export function w3(L, n, seed, baseline) {
  const CLIENTS = 10;
  const UNIVERSE = 256;
  const PER = Math.max(1, Math.round(n / CLIENTS));
  const SET = "tags";
  const ids = clientIds(seed, CLIENTS + 3);
  const ctx = { counterKeys: [], setNames: [SET], peers: ids.slice(0, CLIENTS) };
  const r = rng(seed);
  const refs = [];
  const ops = [];
  for (let c = 0; c < CLIENTS; c++) {
    const ref = new RefSet();
    const list = [];
    for (let i = 0; i < PER; i++) {
      const present = [...ref.tags.keys()];
      if (present.length && r.float() < 0.35) {
        const e = present[r.int(present.length)];
        ref.remove(e);
        list.push([1, e]);
      } else {
        const e = "e" + r.int(UNIVERSE);
        ref.addOp(e, String(c), i);
        list.push([0, e]);
      }
    }
    refs.push(ref);
    ops.push(list);
  }
  const expected = refs.reduce((acc, x) => (acc.merge(x), acc), new RefSet()).members();

  const base = baseline ?? memory();
  const out = { ops: CLIENTS * PER };
  const replicas = ids.slice(0, CLIENTS).map((id) => L.create(id, ctx));
  let t = now();
  for (let c = 0; c < CLIENTS; c++) {
    const rep = replicas[c];
    for (const [rm, e] of ops[c]) rm ? L.remove(rep, SET, e) : L.add(rep, SET, e);
  }
  out.writeMs = now() - t;
  deepStrictEqual(L.members(replicas[0], SET), refs[0].members(), "client 0's local members");

  const states = replicas.map((rep) => L.encodeState(rep));
  for (const rep of replicas) L.free(rep);
  let merged = L.create(ids[CLIENTS], ctx);
  t = now();
  merged = L.merge(merged, states);
  out.mergeMs = now() - t;
  deepStrictEqual(L.members(merged, SET), expected, "merged members = the add-wins reference");
  if (!L.floor) {
    let other = L.create(ids[CLIENTS + 1], ctx);
    other = L.merge(other, [...states].reverse());
    deepStrictEqual(L.members(other, SET), expected, "members do not depend on merge order");
    L.free(other);
  }
  stateAndLoad(L, merged, ids[CLIENTS + 2], ctx, out);
  out.heapBytes = memory() - base;
  L.free(merged);
  out.checks = `${expected.length} members = the add-wins reference model, in both merge orders`;
  return out;
}

// ---------------------------------------------------------------------------
// W4 sync: A does N/2 operations and B catches up (the common past); then A and
// B each do N/2 more operations apart, exchange deltas and converge.
// Operations: 40% counter increments (10 keys), 30% register sets (N/20 keys),
// 30% set add/remove (one set of 256 possible elements).
export function w4(L, n, seed, baseline) {
  const HALF = Math.max(1, Math.round(n / 2));
  const REGS = Math.max(10, Math.round(n / 20));
  const SET = "tags";
  const ids = clientIds(seed, 3);
  const keys = Array.from({ length: 10 }, (_, i) => key(i));
  const ctx = { counterKeys: keys, setNames: [SET], peers: ids.slice(0, 2) };
  const r = rng(seed);
  let seq = 0;
  // Generate operations against the reference model of the replica that runs them.
  const gen = (model, who) => {
    const list = [];
    for (let i = 0; i < HALF; i++) {
      const x = r.float();
      if (x < 0.4) {
        const k = keys[r.int(10)];
        const d = 1 + r.int(3);
        model.counters[k] = (model.counters[k] ?? 0) + d;
        list.push([0, k, d]);
      } else if (x < 0.7) {
        const k = "r" + r.int(REGS);
        const v = r.float() < 0.5 ? r.int(1_000_000) : "s" + r.u32().toString(36);
        model.registers.set(k, v);
        list.push([1, k, v]);
      } else {
        const present = model.set.members();
        if (present.length && r.float() < 0.35) {
          const e = present[r.int(present.length)];
          model.set.remove(e);
          list.push([3, e]);
        } else {
          const e = "e" + r.int(256);
          model.set.addOp(e, who, seq++);
          list.push([2, e]);
        }
      }
    }
    return list;
  };
  const run = (rep, list) => {
    for (const op of list) {
      switch (op[0]) {
        case 0:
          L.increment(rep, op[1], op[2]);
          break;
        case 1:
          L.set(rep, op[1], op[2]);
          break;
        case 2:
          L.add(rep, SET, op[1]);
          break;
        default:
          L.remove(rep, SET, op[1]);
      }
    }
  };
  const mA = { counters: {}, registers: new Map(), set: new RefSet() };
  const common = gen(mA, "A");
  const mB = { counters: { ...mA.counters }, registers: new Map(mA.registers), set: mA.set.clone() };
  const onlyA = gen(mA, "A");
  const onlyB = gen(mB, "B");

  const base = baseline ?? memory();
  const out = { ops: 2 * HALF };
  const a = L.create(ids[0], ctx);
  run(a, common);
  let b = L.create(ids[1], ctx);
  b = L.merge(b, [L.encodeState(a)]);
  let t = now();
  run(a, onlyA);
  const tA = now() - t;
  t = now();
  run(b, onlyB);
  out.writeMs = tA + (now() - t);
  if (!L.sync) {
    out.heapBytes = memory() - base;
    out.checks = "local writes only";
    return out;
  }
  t = now();
  const s = L.sync(a, b);
  out.mergeMs = now() - t;
  out.deltaBytes = s.deltaBytes;
  out.versionBytes = s.versionBytes;
  out.messages = s.messages;
  same(L.snapshot(a), L.snapshot(b), "A and B differ after the exchange");
  // Counters: every increment of both sides counts.
  const total = {};
  for (const k of keys) {
    const d = (mA.counters[k] ?? 0) + (mB.counters[k] ?? 0);
    let c = 0;
    for (const [op, kk, dd] of common) if (op === 0 && kk === k) c += dd;
    total[k] = d - c;
    strictEqual(L.counter(a, k), total[k], `counter ${k} after sync`);
  }
  // Sets: the add-wins reference, in either reading of a re-add (see RefSet).
  const refSet = mA.set.clone();
  refSet.merge(mB.set);
  const replay = (ref, list, who) => {
    for (const op of list) if (op[0] === 2) ref.addOp(op[1], who, seq++);
    else if (op[0] === 3) ref.remove(op[1]);
  };
  const nA = new RefSet(true);
  replay(nA, common, "A");
  const nB = nA.clone();
  replay(nA, onlyA, "A");
  replay(nB, onlyB, "B");
  nA.merge(nB);
  const got = L.members(a, SET);
  const isNew = isDeepStrictEqual(got, refSet.members());
  const isNoop = isDeepStrictEqual(got, nA.members());
  if (!isNew && !isNoop) deepStrictEqual(got, refSet.members(), "members after sync = the add-wins reference (in neither reading of a re-add)");
  out.setSemantics = isNew && isNoop ? "both readings agree" : isNew ? "re-add is a new add" : "re-add is a no-op";
  // Registers: written on one side only -> that write; on both -> one of the two last writes.
  const lastA = new Map();
  for (const op of onlyA) if (op[0] === 1) lastA.set(op[1], op[2]);
  const lastB = new Map();
  for (const op of onlyB) if (op[0] === 1) lastB.set(op[1], op[2]);
  for (const [k, v] of mA.registers) {
    const got = L.get(a, k);
    if (lastA.has(k) && lastB.has(k)) ok(got === lastA.get(k) || got === lastB.get(k), `register ${k}: one of the concurrent writes`);
    else if (lastB.has(k)) strictEqual(got, lastB.get(k), `register ${k}: B's write`);
    else strictEqual(got, v, `register ${k}`);
  }
  for (const [k, v] of lastB) if (!mA.registers.has(k)) strictEqual(L.get(a, k), v, `register ${k}: B's write`);
  stateAndLoad(L, a, ids[2], ctx, out);
  out.heapBytes = memory() - base;
  L.free(a);
  L.free(b);
  out.checks = `converged; counters = all increments of both sides; set = add-wins reference (either reading of a re-add); registers = a last write`;
  return out;
}

export const WORKLOADS = { W1: w1, W2: w2, W3: w3, W4: w4 };
