// The floor: plain JS Maps and Sets, no CRDT metadata at all. Its state is
// JSON of the data; its "merge" is naive (sum counters, last merged register
// wins, union sets): right in W1/W3 only because each client's state is merged
// exactly once, order-dependent in W2, and it has no deltas (W4 sync: n/a).
const enc = new TextEncoder();
const dec = new TextDecoder();

function fresh() {
  return { c: new Map(), r: new Map(), s: new Map() };
}

function setOf(m, name) {
  let s = m.s.get(name);
  if (!s) m.s.set(name, (s = new Set()));
  return s;
}

function parse(bytes) {
  const o = JSON.parse(dec.decode(bytes));
  return { c: new Map(o.c), r: new Map(o.r), s: new Map(o.s.map(([n, els]) => [n, new Set(els)])) };
}

export default {
  name: "Map (floor)",
  pkg: null,
  floor: true,
  create: () => fresh(),
  increment(m, key, delta) {
    m.c.set(key, (m.c.get(key) ?? 0) + delta);
  },
  counter: (m, key) => m.c.get(key) ?? 0,
  set: (m, key, value) => void m.r.set(key, value),
  get: (m, key) => m.r.get(key),
  add: (m, set, element) => void setOf(m, set).add(element),
  remove: (m, set, element) => void m.s.get(set)?.delete(element),
  members: (m, set) => [...(m.s.get(set) ?? [])].sort(),
  snapshot(m) {
    const sets = {};
    for (const [n, s] of m.s) if (s.size) sets[n] = [...s].sort();
    return { counters: Object.fromEntries(m.c), registers: Object.fromEntries(m.r), sets };
  },
  readAll: (m) => m,
  encodeState: (m) => enc.encode(JSON.stringify({ c: [...m.c], r: [...m.r], s: [...m.s].map(([n, s]) => [n, [...s]]) })),
  load: (bytes) => parse(bytes),
  merge(m, updates) {
    for (const u of updates) {
      const o = parse(u);
      for (const [k, v] of o.c) m.c.set(k, (m.c.get(k) ?? 0) + v);
      for (const [k, v] of o.r) m.r.set(k, v);
      for (const [n, s] of o.s) for (const e of s) setOf(m, n).add(e);
    }
    return m;
  },
  sync: null,
  free() {},
  fidelity: { W1: "floor", W2: "floor, not convergent", W3: "floor", W4: "floor, no sync" },
  notes: {
    W1: "no CRDT: naive sum-merge, right only because each client is merged once",
    W2: "no CRDT: last merged wins (order-dependent, not convergent); convergence not asserted",
    W3: "no CRDT: union merge, right here only because no replica removes what another added",
    W4: "no CRDT: local writes only (no versions or deltas)",
  },
};
