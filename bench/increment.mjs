// The cost of one `increment` call from JavaScript, in ns: the whole call an
// app makes (argument checks in pkg/doc.js, the JS<->wasm crossing, the core's
// write and commit), on one key and on 1 000 keys, without and with an
// "update" listener (which makes every call also encode its update, as with
// BroadcastSync attached). Best of 5 rounds of 200 000 calls after a warm-up.
//   node bench/increment.mjs            (uses pkg/ through the "slotkv" package)
import { Doc } from "slotkv";

const CALLS = 200_000;
const ROUNDS = 5;

function measure(label, setup) {
  const best = [];
  for (let round = 0; round < ROUNDS + 1; round++) {
    const { doc, keys } = setup();
    const t = process.hrtime.bigint();
    for (let i = 0; i < CALLS; i++) doc.increment(keys[i % keys.length]);
    const ns = Number(process.hrtime.bigint() - t) / CALLS;
    doc.free();
    if (round > 0) best.push(ns); // round 0 warms the JIT up
  }
  const ns = Math.min(...best);
  console.log(`${label.padEnd(44)} ${ns.toFixed(0).padStart(6)} ns per call (${(1e3 / ns).toFixed(2)} M calls/s)`);
  return ns;
}

const oneKey = ["clicks"];
const manyKeys = Array.from({ length: 1000 }, (_, i) => `counter-${i}`);
const results = {
  oneKey: measure("increment, one key, no listener", () => ({ doc: new Doc({ clientId: "bench" }), keys: oneKey })),
  manyKeys: measure("increment, 1 000 keys, no listener", () => ({ doc: new Doc({ clientId: "bench" }), keys: manyKeys })),
  listened: measure("increment, one key, with an update listener", () => {
    const doc = new Doc({ clientId: "bench" });
    let bytes = 0;
    doc.on("update", (u) => (bytes += u.length));
    return { doc, keys: oneKey };
  }),
};
if (process.argv.includes("--json")) console.log(JSON.stringify(results));
