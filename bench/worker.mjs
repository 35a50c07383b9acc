// One measurement in a fresh process:
//   node --expose-gc worker.mjs LIB WORKLOAD N SEED [WARMUP_N]
// Loads the library, runs the workload once at WARMUP_N operations with another
// seed (JIT and wasm tier-up, the same for every library), then at N, and prints
// one JSON line: the metrics, or { error } if an assertion failed. Heap is
// measured against the memory right after loading the library (before the
// warm-up): wasm linear memory never shrinks, so it holds the high-water mark.
import { memory, WORKLOADS } from "./workloads.mjs";

const [lib, workload, n, seed, warm] = process.argv.slice(2);
const { default: adapter } = await import(`./adapters/${lib}.mjs`);
const head = { lib, name: adapter.name, workload, n: Number(n), seed: Number(seed), fidelity: adapter.fidelity[workload], note: adapter.notes[workload] };
let result;
try {
  const base = memory();
  const run = WORKLOADS[workload];
  if (Number(warm) > 0) run(adapter, Number(warm), Number(seed) + 7919);
  result = { ...head, ...run(adapter, Number(n), Number(seed), base) };
} catch (e) {
  result = { ...head, error: String(e?.message ?? e).split("\n")[0] };
}
process.stdout.write(JSON.stringify(result) + "\n");
