// slotkv: the Doc API of pkg/ as an app would call it (one transaction per write).
// run.mjs points SLOTKV_PKG at a snapshot of pkg/ taken when the run started, so a
// `make build` running elsewhere meanwhile cannot mix two builds into one report.
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const { Doc } = await import(process.env.SLOTKV_PKG ? pathToFileURL(join(process.env.SLOTKV_PKG, "node.js")).href : "slotkv");

export default {
  name: "slotkv",
  pkg: "slotkv",
  create: (id) => new Doc({ clientId: id.hex }),
  increment: (d, key, delta) => d.increment(key, delta),
  counter: (d, key) => d.counter(key),
  set: (d, key, value) => d.set(key, value),
  get: (d, key) => d.get(key),
  add: (d, set, element) => d.add(set, element),
  remove: (d, set, element) => d.remove(set, element),
  members: (d, set) => d.members(set),
  /** Normalised { counters, registers, sets } for assertions. */
  snapshot: (d) => d.toJSON(),
  /** Reads every value once (part of the load-time metric). */
  readAll: (d) => d.toJSON(),
  encodeState: (d) => d.encodeState(),
  load: (bytes, id) => Doc.load(bytes, { clientId: id.hex }),
  merge(d, updates) {
    for (const u of updates) d.applyUpdate(u);
    return d;
  },
  /** One round trip: versions both ways, then each side's delta. */
  sync(a, b) {
    const va = a.version();
    const vb = b.version();
    const toB = a.encodeDelta(vb);
    const toA = b.encodeDelta(va);
    b.applyUpdate(toB);
    a.applyUpdate(toA);
    return { deltaBytes: toB.length + toA.length, versionBytes: va.length + vb.length, messages: 4 };
  },
  free: (d) => d.free(),
  fidelity: { W1: "native", W2: "native", W3: "native", W4: "native" },
  notes: {
    W1: "native per-client counter slots",
    W2: "native LWW register (hybrid logical clock)",
    W3: "native add-wins set",
    W4: "version() + encodeDelta(since): one round trip",
  },
};
