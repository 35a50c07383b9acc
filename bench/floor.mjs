// What one write costs before any CRDT work, in a fresh process shaped like
// W1's write loop (20 replicas, 10 keys, a 500-call warm-up, then 5000 calls):
// how far the Map floor is from what any wasm library can reach.
//
//   node floor.mjs VARIANT      (prints one JSON line: { variant, warm, nsPerCall,
//                               medianBatchNsPerCall, slowBatchShare })
//   FLOOR_WARM=100000 node floor.mjs VARIANT   (a longer warm-up: V8 has then
//                                              optimised the loop and its callees)
//
// Variants, each a step closer to slotkv's increment:
//   map      the floor adapter: map.set(key, (map.get(key) ?? 0) + delta)
//   checks   a class method with the argument checks a library owes its users
//            (key is a well-formed, non-empty string; delta a safe integer)
//            and the key's bytes copied into a Uint8Array, as for wasm
//   wasm     the same, plus one call into a wasm function that does nothing
//            but read the first key byte: the JS -> wasm boundary alone
//   slotkv   Doc.increment from pkg/ (SLOTKV_PKG), every layer included
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const variant = process.argv[2];
const CLIENTS = 20;
const KEYS = Array.from({ length: 10 }, (_, i) => "k" + i);
const WARM = Number(process.env.FLOOR_WARM ?? 500);
const N = 5000;
const BATCH = 100;

// (module (memory (export "memory") 1 1)
//   (func (export "f") (param i32 i32 f64) (result i32)
//     (i32.add (i32.load8_u (local.get 0)) (local.get 1))))
const WASM = Uint8Array.of(
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
  0x01, 0x08, 0x01, 0x60, 0x03, 0x7f, 0x7f, 0x7c, 0x01, 0x7f, // type: (i32 i32 f64) -> i32
  0x03, 0x02, 0x01, 0x00, // function 0 has type 0
  0x05, 0x04, 0x01, 0x01, 0x01, 0x01, // memory: min 1 page, max 1
  0x07, 0x0e, 0x02, 0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, 0x02, 0x00, 0x01, 0x66, 0x00, 0x00, // exports "memory", "f"
  0x0a, 0x0c, 0x01, 0x0a, 0x00, 0x20, 0x00, 0x2d, 0x00, 0x00, 0x20, 0x01, 0x6a, 0x0b, // code
);

function checked(call) {
  let view;
  const pass = (key) => {
    const n = key.length;
    for (let i = 0; i < n; i++) view[64 + i] = key.charCodeAt(i);
    return n;
  };
  return class {
    static setMemory(buffer) {
      view = new Uint8Array(buffer);
    }
    constructor() {
      this.total = 0;
    }
    increment(key, delta = 1) {
      if (typeof key !== "string" || !key.isWellFormed()) throw new TypeError("key");
      if (key === "") throw new RangeError("key");
      if (!Number.isSafeInteger(delta)) throw new RangeError("delta");
      this.total += call(64, pass(key), delta);
    }
  };
}

async function replicas() {
  switch (variant) {
    case "map":
      return { make: () => new Map(), increment: (m, key, delta) => m.set(key, (m.get(key) ?? 0) + delta) };
    case "checks": {
      const C = checked((ptr, len, delta) => len + delta);
      C.setMemory(new ArrayBuffer(65536));
      return { make: () => new C(), increment: (d, key, delta) => d.increment(key, delta) };
    }
    case "wasm": {
      const { instance } = await WebAssembly.instantiate(WASM);
      const C = checked(instance.exports.f);
      C.setMemory(instance.exports.memory.buffer);
      return { make: () => new C(), increment: (d, key, delta) => d.increment(key, delta) };
    }
    case "slotkv": {
      const url = process.env.SLOTKV_PKG ? pathToFileURL(join(process.env.SLOTKV_PKG, "node.js")).href : "slotkv";
      const { Doc } = await import(url);
      let c = 0;
      return { make: () => new Doc({ clientId: `c${c++}` }), increment: (d, key, delta) => d.increment(key, delta) };
    }
    default:
      throw new Error(`unknown variant ${variant}`);
  }
}

const L = await replicas();
const loop = (docs, n, from = 0) => {
  for (let i = from; i < from + n; i++) L.increment(docs[i % CLIENTS], KEYS[(i * 7) % KEYS.length], 1 + (i % 3));
};
loop(Array.from({ length: CLIENTS }, L.make), WARM);
const docs = Array.from({ length: CLIENTS }, L.make);
// Timed in batches too, to tell the typical call from pauses (a garbage
// collection, V8 compiling on the other core): the median batch's per-call
// cost, and the share of the time spent in batches over twice as slow.
const batches = [];
const t = performance.now();
for (let done = 0; done < N; done += BATCH) {
  const b = performance.now();
  loop(docs, BATCH, done);
  batches.push(performance.now() - b);
}
const ms = performance.now() - t;
const median = [...batches].sort((a, b) => a - b)[batches.length >> 1];
const slow = batches.filter((b) => b > 2 * median).reduce((a, b) => a + b, 0);
process.stdout.write(JSON.stringify({ variant, warm: WARM, nsPerCall: (ms * 1e6) / N, medianBatchNsPerCall: (median * 1e6) / BATCH, slowBatchShare: slow / ms }) + "\n");
