// Run under `node --cpu-prof`: the W1 or W2 write loop of slotkv at a larger N,
// after a warm-up. profile.mjs keeps only the samples under W1writes()/W2writes().
//   node --cpu-prof profile-target.mjs W1|W2 N PKG_DIR
import { pathToFileURL } from "node:url";
import { join } from "node:path";
import { clientIds, rng } from "./lib/prng.mjs";

const [workload, nArg, pkgDir] = process.argv.slice(2);
const { Doc } = await import(pathToFileURL(join(pkgDir, "node.js")).href);

function prepare(w, n, seed) {
  const r = rng(seed);
  if (w === "W1") {
    const ids = clientIds(seed, 20);
    const K = Math.round(n / 20);
    const keys = Array.from({ length: 10 }, (_, i) => "k" + i);
    const docs = ids.map((id) => new Doc({ clientId: id.hex }));
    const ops = docs.map(() => {
      const k = new Uint8Array(K);
      const d = new Uint8Array(K);
      for (let i = 0; i < K; i++) {
        k[i] = r.int(10);
        d[i] = 1 + r.int(3);
      }
      return { k, d };
    });
    return { docs, run: () => W1writes(docs, keys, ops) };
  }
  const clients = 20 * Math.round(Math.sqrt(n));
  const ids = clientIds(seed, clients + 1);
  const docs = ids.map((id) => new Doc({ clientId: id.hex }));
  const vals = Array.from({ length: n }, (_, i) => (i % 2 ? r.int(1e9) : "v" + r.u32().toString(36)));
  const nums = Array.from({ length: clients }, () => r.int(1e6));
  const strs = Array.from({ length: clients }, (_, c) => `client ${c} says ${r.u32().toString(36)}`);
  const keys = Array.from({ length: n }, (_, i) => "r" + i);
  return { docs, run: () => W2writes(docs, clients, nums, strs, keys, vals) };
}

function W1writes(docs, keys, ops) {
  for (let c = 0; c < docs.length; c++) {
    const doc = docs[c];
    const { k, d } = ops[c];
    for (let i = 0; i < k.length; i++) doc.increment(keys[k[i]], d[i]);
  }
}

function W2writes(docs, clients, nums, strs, keys, vals) {
  for (let c = 0; c < clients; c++) {
    docs[c].set("hot", nums[c]);
    docs[c].set("hot", strs[c]);
  }
  const wide = docs[clients];
  for (let i = 0; i < keys.length; i++) wide.set(keys[i], vals[i]);
}

function measuredWrites(run) {
  const t = performance.now();
  run();
  return performance.now() - t;
}

const n = Number(nArg);
const warm = prepare(workload, Math.round(n / 10), 99);
warm.run();
for (const d of warm.docs) d.free();
const job = prepare(workload, n, 1);
const ms = measuredWrites(job.run);
process.stdout.write(JSON.stringify({ ms }) + "\n");
