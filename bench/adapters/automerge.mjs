// Automerge: Counter objects and map keys, one Automerge.change per write.
// Every replica starts from one shared initial change that creates the
// containers: concurrent creation of the same Counter or map under one key
// would conflict and drop the losing side's writes.
import * as A from "@automerge/automerge";

const bases = new WeakMap();

function base(ctx) {
  let b = bases.get(ctx);
  if (!b) {
    const counters = {};
    for (const k of ctx.counterKeys) counters[k] = new A.Counter();
    const sets = {};
    for (const s of ctx.setNames) sets[s] = {};
    b = A.save(A.from({ counters, registers: {}, sets }, { actor: "00" }));
    bases.set(ctx, b);
  }
  return b;
}

const plain = (v) => (A.isImmutableString(v) ? v.val : v);

export default {
  name: "automerge",
  pkg: "@automerge/automerge",
  create: (id, ctx) => ({ doc: A.load(base(ctx), { actor: id.hex }), ctx }),
  increment(r, key, delta) {
    r.doc = A.change(r.doc, (d) => d.counters[key].increment(delta));
  },
  counter: (r, key) => r.doc.counters[key]?.value ?? 0,
  set(r, key, value) {
    const v = typeof value === "string" ? new A.ImmutableString(value) : value;
    r.doc = A.change(r.doc, (d) => {
      d.registers[key] = v;
    });
  },
  get: (r, key) => plain(r.doc.registers[key]),
  add(r, set, element) {
    // Writing the value it already has is no operation in Automerge, so a re-add
    // flips the value: a new op that a concurrent remove has not seen (add wins).
    const v = r.doc.sets[set][element] !== true;
    r.doc = A.change(r.doc, (d) => {
      d.sets[set][element] = v;
    });
  },
  remove(r, set, element) {
    if (!(element in r.doc.sets[set])) return;
    r.doc = A.change(r.doc, (d) => {
      delete d.sets[set][element];
    });
  },
  members: (r, set) => Object.keys(r.doc.sets[set]).sort(),
  snapshot(r) {
    const js = A.toJS(r.doc);
    const counters = {};
    for (const [k, c] of Object.entries(js.counters)) counters[k] = c.value;
    const registers = {};
    for (const [k, v] of Object.entries(js.registers)) registers[k] = plain(v);
    const sets = {};
    for (const [k, s] of Object.entries(js.sets)) if (Object.keys(s).length) sets[k] = Object.keys(s).sort();
    return { counters, registers, sets };
  },
  readAll: (r) => A.toJS(r.doc),
  encodeState: (r) => A.save(r.doc),
  load: (bytes, id, ctx) => ({ doc: A.load(bytes, { actor: id.hex }), ctx }),
  /** Automerge loads a concatenation of saved documents in one call: far faster than one loadIncremental each. */
  merge(r, updates) {
    const all = new Uint8Array(updates.reduce((a, u) => a + u.length, 0));
    let at = 0;
    for (const u of updates) {
      all.set(u, at);
      at += u.length;
    }
    r.doc = A.loadIncremental(r.doc, all);
    return r;
  },
  /** Automerge's sync protocol until both sides are quiet (heads + bloom filter, then changes). */
  sync(a, b) {
    let sa = A.initSyncState();
    let sb = A.initSyncState();
    let bytes = 0;
    let messages = 0;
    for (;;) {
      let m1, m2;
      [sa, m1] = A.generateSyncMessage(a.doc, sa);
      if (m1) {
        bytes += m1.length;
        messages++;
        [b.doc, sb] = A.receiveSyncMessage(b.doc, sb, m1);
      }
      [sb, m2] = A.generateSyncMessage(b.doc, sb);
      if (m2) {
        bytes += m2.length;
        messages++;
        [a.doc, sa] = A.receiveSyncMessage(a.doc, sa, m2);
      }
      if (!m1 && !m2) break;
    }
    return { deltaBytes: bytes, versionBytes: null, messages };
  },
  free: (r) => A.free(r.doc),
  fidelity: { W1: "native", W2: "LWW by logical order", W3: "native", W4: "native (sync protocol)" },
  notes: {
    W1: "native Counter; the 10 counters are created in one shared initial change (concurrent creation would conflict)",
    W2: "map key register (strings as ImmutableString): concurrent sets resolved by op id (Lamport counter, actor), not by time",
    W3: "map of element -> boolean; a delete only removes the values it has seen, so it is add-wins natively (a re-add flips the value so that it is a new op)",
    W4: "sync protocol (generateSyncMessage/receiveSyncMessage) until quiet; bytes include its heads and Bloom filters",
  },
};
