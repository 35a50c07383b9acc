// `make bench`: every workload x library x run in a fresh Node process, bundle
// sizes, tab-to-tab latency in Chromium and a CPU profile of slotkv's writes;
// writes bench/RESULTS.md and bench/out/results.json.
//
//   node run.mjs [--n 5000] [--runs 5] [--libs slotkv,yjs,...] [--workloads W1,W2]
//                [--no-bundle] [--no-latency] [--no-floor] [--no-profile] [--out RESULTS.md]
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { cpus } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..");
const t0 = Number(process.env.BENCH_T0) || Date.now();
const tRun = Date.now();

// ---------------------------------------------------------------- options
const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const flag = (name) => argv.includes(`--${name}`);
const N = Number(opt("n", process.env.BENCH_N ?? 5000));
const RUNS = Number(opt("runs", process.env.BENCH_RUNS ?? 5));
const WARM = Math.max(100, Math.round(N / 10));
const LIBS = opt("libs", "slotkv,yjs,automerge,loro,map").split(",");
const WORKLOADS = opt("workloads", "W1,W2,W3,W4").split(",");
const OUT = resolve(here, opt("out", "RESULTS.md"));
const TIMEOUT_S = Number(opt("timeout", 300));
const FLOOR_VARIANTS = ["map", "checks", "wasm", "slotkv"];
// floor.mjs's warm-ups: the workloads' own, and one long enough for V8 to optimise the loop.
const FLOOR_WARMS = [WARM, 100_000];
const PEERS = LIBS.filter((l) => l !== "slotkv" && l !== "map");

const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(0)}s`;
const log = (...a) => console.log(`[${elapsed().padStart(4)}]`, ...a);

// ---------------------------------------------------------------- environment
const version = (p) => {
  try {
    return JSON.parse(readFileSync(join(here, "node_modules", p, "package.json"), "utf8")).version;
  } catch {
    return "?";
  }
};
const git = (...args) => {
  try {
    return execFileSync("git", ["-C", root, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "";
  }
};
const env = {
  date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
  node: process.version,
  cpu: `${cpus()[0]?.model?.trim() ?? "?"} (${cpus().length} cores)`,
  commit: git("rev-parse", "--short", "HEAD"),
  dirty: git("status", "--porcelain", "--", "src", "pkg").length > 0,
  versions: {
    slotkv: version("slotkv"),
    yjs: version("yjs"),
    "@automerge/automerge": version("@automerge/automerge"),
    "loro-crdt": version("loro-crdt"),
    esbuild: version("esbuild"),
    "playwright-core": version("playwright-core"),
  },
};

// ---------------------------------------------------------------- pkg snapshot
// Everything measures one copy of pkg/ taken now: other engineers may run `make build`
// while this runs, and a half-written pkg/ must not end up in the report.
const SNAP = join(here, "out", "pkg-snapshot");
rmSync(SNAP, { recursive: true, force: true });
mkdirSync(SNAP, { recursive: true });
for (const f of readdirSync(join(root, "pkg"))) if (/\.(js|wasm|json)$/.test(f)) copyFileSync(join(root, "pkg", f), join(SNAP, f));
const snapWasm = readFileSync(join(SNAP, "slotkv_wasm_bg.wasm"));
const { hasNames } = await import("./profile.mjs");
env.pkg = { sha256: createHash("sha256").update(snapWasm).digest("hex").slice(0, 12), wasmBytes: snapWasm.length, names: hasNames(snapWasm) };
process.env.SLOTKV_PKG = SNAP;

// ---------------------------------------------------------------- workloads
const median = (xs) => {
  const s = xs.filter((x) => typeof x === "number" && Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return undefined;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function runWorker(lib, w, seed) {
  const t = Date.now();
  const res = spawnSync(process.execPath, ["--expose-gc", join(here, "worker.mjs"), lib, w, String(N), String(seed), String(WARM)], {
    encoding: "utf8",
    timeout: TIMEOUT_S * 1000,
    maxBuffer: 1 << 24,
  });
  const secs = (Date.now() - t) / 1000;
  if (res.error || res.status !== 0) {
    const why = res.error?.code === "ETIMEDOUT" ? `timed out after ${TIMEOUT_S} s` : (res.stderr || String(res.error)).trim().split("\n").slice(-1)[0];
    return { lib, workload: w, seed, error: why, secs };
  }
  return { ...JSON.parse(res.stdout.trim().split("\n").pop()), secs };
}

const runs = [];
const total = RUNS * WORKLOADS.length * LIBS.length;
log(`slotkv bench: N = ${N}, ${RUNS} runs, warm-up ${WARM} ops, ${LIBS.join(", ")} x ${WORKLOADS.join(", ")} (${total} processes)`);
let k = 0;
for (let r = 0; r < RUNS; r++) {
  for (const w of WORKLOADS) {
    for (const lib of LIBS) {
      const res = runWorker(lib, w, 1 + r);
      runs.push(res);
      k++;
      const what = res.error
        ? `FAILED: ${res.error}`
        : `${fmtRate(res.ops / (res.writeMs / 1000))} ops/s` + (res.mergeMs !== undefined ? `, merge ${fmtMs(res.mergeMs)}` : "") + `, state ${fmtBytes(res.stateBytes)}`;
      log(`[${String(k).padStart(String(total).length)}/${total}] run ${r + 1} ${w} ${lib.padEnd(9)} ${what} (${res.secs.toFixed(1)} s)`);
    }
  }
}

// Medians per (workload, lib); a library that failed any run is reported as failed.
const METRICS = ["writeOps", "mergeMs", "stateBytes", "loadMs", "heapBytes", "deltaBytes", "versionBytes", "messages"];
const results = {};
for (const w of WORKLOADS) {
  results[w] = {};
  for (const lib of LIBS) {
    const rs = runs.filter((x) => x.workload === w && x.lib === lib);
    const failed = rs.find((x) => x.error);
    const any = rs.find((x) => !x.error) ?? rs[0];
    const m = { name: any?.name ?? lib, fidelity: any?.fidelity, note: any?.note, checks: any?.checks, runs: rs.length, error: failed?.error };
    const sem = [...new Set(rs.map((x) => x.setSemantics).filter((x) => x && x !== "both readings agree"))];
    if (sem.length) m.setSemantics = sem.join(" / ");
    if (!failed) {
      for (const x of rs) x.writeOps = x.ops / (x.writeMs / 1000);
      for (const key of METRICS) m[key] = median(rs.map((x) => x[key]));
      m.ops = any.ops;
      if (any.detail) m.detail = Object.fromEntries(Object.keys(any.detail).map((d) => [d, median(rs.map((x) => x.detail[d]))]));
      m.spread = { writeOps: [Math.min(...rs.map((x) => x.writeOps)), Math.max(...rs.map((x) => x.writeOps))] };
    }
    results[w][lib] = m;
  }
}

// ---------------------------------------------------------------- bundle, latency, profile
let bundles = null;
if (!flag("no-bundle")) {
  log("bundle sizes (esbuild --minify, gzip -9)");
  const { measureBundles } = await import("./bundle.mjs");
  bundles = await measureBundles(undefined, SNAP);
  for (const b of bundles) log(`  ${b.label}: ${fmtBytes(b.totalGz)} gzipped (JS ${fmtBytes(b.jsGz)} + wasm ${fmtBytes(b.wasmGz)})`);
}

// Where the wasm's bytes go, from a build of it that kept its function names.
let wasmSize = null;
if (!flag("no-bundle")) {
  const { namedBuild } = await import("./profile.mjs");
  const { sizeBreakdown } = await import("./wasm-size.mjs");
  const named = namedBuild(join(here, "out"));
  wasmSize = named.dir ? sizeBreakdown(join(named.dir, "slotkv_wasm_bg.wasm")) : { why: named.why ?? "pkg/'s wasm keeps its names" };
  if (wasmSize.groups) log(`  wasm code by origin: ${wasmSize.groups.slice(0, 4).map((g) => `${g.group} ${fmtBytes(g.bytes)}`).join(", ")}, …`);
}

let latency = null;
if (!flag("no-latency")) {
  log("tab-to-tab latency in Chromium (two tabs)");
  const { measureLatency } = await import("./latency.mjs");
  try {
    latency = await measureLatency({ runs: RUNS, pkgDir: SNAP, log: (m) => log(m) });
  } catch (e) {
    latency = { error: String(e?.message ?? e).split("\n")[0] };
    log(`  latency FAILED: ${latency.error}`);
  }
}

// The Map floor, taken apart: each variant of bench/floor.mjs in RUNS fresh processes, interleaved,
// after the workloads' short warm-up and after a long one.
let floor = null;
if (!flag("no-floor")) {
  log("the Map floor: one write's cost layer by layer (floor.mjs)");
  floor = {};
  for (const warm of FLOOR_WARMS) {
    const samples = Object.fromEntries(FLOOR_VARIANTS.map((v) => [v, []]));
    for (let r = 0; r < RUNS; r++) {
      for (const v of FLOOR_VARIANTS) {
        const res = spawnSync(process.execPath, [join(here, "floor.mjs"), v], {
          encoding: "utf8",
          timeout: 120_000,
          env: { ...process.env, FLOOR_WARM: String(warm) },
        });
        if (res.status === 0) samples[v].push(JSON.parse(res.stdout.trim().split("\n").pop()));
      }
    }
    const of = (v, field) => median(samples[v].map((x) => x[field]));
    floor[warm] = Object.fromEntries(FLOOR_VARIANTS.map((v) => [v, of(v, "nsPerCall")]));
    floor[warm].typical = Object.fromEntries(FLOOR_VARIANTS.map((v) => [v, of(v, "medianBatchNsPerCall")]));
    floor[warm].pauses = Object.fromEntries(FLOOR_VARIANTS.map((v) => [v, of(v, "slowBatchShare")]));
    log(`  warm-up ${warm}, ns per call: ${FLOOR_VARIANTS.map((v) => `${v} ${floor[warm][v]?.toFixed(0)}`).join(", ")}`);
  }
}

let profile = null;
if (!flag("no-profile")) {
  log("CPU profile of slotkv's W1/W2 local writes (node --cpu-prof)");
  const { profileSlotkv } = await import("./profile.mjs");
  try {
    profile = profileSlotkv({ n1: Math.max(20_000, 20 * N), n2: Math.max(10_000, 5 * N), pkgDir: SNAP, log: (m) => log(m) });
  } catch (e) {
    profile = { error: String(e?.message ?? e).split("\n")[0] };
    log(`  profile FAILED: ${profile.error}`);
  }
}

const seconds = (Date.now() - t0) / 1000;
mkdirSync(join(here, "out"), { recursive: true });
writeFileSync(join(here, "out", "results.json"), JSON.stringify({ env, N, RUNS, WARM, runs, results, bundles, wasmSize, latency, floor, profile, seconds }, null, 2));
writeFileSync(OUT, report());
log(`wrote ${OUT.replace(root + "/", "")} and bench/out/results.json in ${fmtSecs(seconds)} (${fmtSecs((Date.now() - tRun) / 1000)} in run.mjs)`);

// ================================================================= formatting
function fmtRate(x) {
  if (x === undefined || !Number.isFinite(x)) return "–";
  if (x >= 1e6) return `${(x / 1e6).toPrecision(3)}M`;
  if (x >= 1e3) return `${(x / 1e3).toPrecision(3)}k`;
  return x.toPrecision(3);
}
function fmtMs(x) {
  if (x === undefined || !Number.isFinite(x)) return "–";
  if (x >= 1000) return `${(x / 1000).toPrecision(3)} s`;
  if (x >= 1) return `${x.toPrecision(3)} ms`;
  return `${(x * 1000).toPrecision(3)} µs`;
}
function fmtBytes(x) {
  if (x === undefined || x === null || !Number.isFinite(x)) return "–";
  if (Math.abs(x) >= 1024 * 1024) return `${(x / 1024 / 1024).toPrecision(3)} MiB`;
  if (Math.abs(x) >= 1024) return `${(x / 1024).toPrecision(3)} KiB`;
  return `${Math.round(x)} B`;
}
function fmtSecs(s) {
  return s >= 60 ? `${Math.floor(s / 60)} min ${Math.round(s % 60)} s` : `${s.toFixed(0)} s`;
}
function fmtRatio(x) {
  if (x === undefined || !Number.isFinite(x)) return "–";
  if (x >= 100) return `${x.toFixed(0)}×`;
  if (x >= 10) return `${x.toFixed(1)}×`;
  if (x >= 0.1) return `${x.toFixed(2)}×`;
  return `${x.toPrecision(2)}×`;
}
// Rust symbol names, shortened for the table.
function shortName(name) {
  return name
    .replace(/\[[0-9a-f]{16}\]/g, "")
    .replace(/::h[0-9a-f]{16}$/, "")
    .replace(/^alloc::collections::btree::(\w+)::<impl .*>>::(\w+)$/, "btree::$1::$2")
    .replace(/^<dlmalloc::dlmalloc::Dlmalloc<[^>]*>>::(\w+)$/, "dlmalloc::$1")
    .replace(/^<alloc::raw_vec::RawVec<T,A> as core::ops::drop::Drop>::drop$/, "RawVec::drop")
    .replace(/alloc::collections::btree::map::BTreeMap<K,V,A>/g, "BTreeMap")
    .replace(/\|/g, "\\|");
}
function ok(b) {
  return b === undefined ? "–" : b ? "**met**" : "not met";
}

// ================================================================= report
function report() {
  const libs = LIBS;
  const name = (lib) => results[WORKLOADS[0]]?.[lib]?.name ?? lib;
  const L = [];
  const ROWS = [
    ["writeOps", "local writes (ops/s) ↑", fmtRate],
    ["mergeMs", "merge (ms) ↓", fmtMs],
    ["stateBytes", "full state (bytes) ↓", fmtBytes],
    ["loadMs", "load full state + read all ↓", fmtMs],
    ["heapBytes", "heap after (JS + wasm) ↓", fmtBytes],
    ["deltaBytes", "delta bytes, both ways ↓", fmtBytes],
  ];
  const v = (w, lib, key) => {
    const m = results[w]?.[lib];
    return m && !m.error ? m[key] : undefined;
  };
  const peerBest = (w, key, higher) => {
    const xs = PEERS.map((p) => v(w, p, key)).filter((x) => x !== undefined && x !== null);
    if (!xs.length) return undefined;
    return higher ? Math.max(...xs) : Math.min(...xs);
  };

  // ---- targets
  const has = (lib) => libs.includes(lib);
  const perW = (fn) => WORKLOADS.map((w) => ({ w, ...fn(w) }));
  const writesPeer = perW((w) => ({ r: v(w, "slotkv", "writeOps") / peerBest(w, "writeOps", true) }));
  const writesFloor = perW((w) => ({ r: v(w, "map", "writeOps") / v(w, "slotkv", "writeOps") }));
  const state = perW((w) => ({ r: v(w, "slotkv", "stateBytes") / peerBest(w, "stateBytes", false) }));
  const merge = perW((w) => ({ r: peerBest(w, "mergeMs", false) / v(w, "slotkv", "mergeMs") }));
  const delta = WORKLOADS.includes("W4") ? v("W4", "slotkv", "deltaBytes") / peerBest("W4", "deltaBytes", false) : undefined;
  const slotBundle = bundles?.find((b) => b.lib === "slotkv" && !b.extra);
  const LIMIT = 30 * 1024;
  const lat = latency && !latency.error ? latency.ratio : undefined;
  const all = (xs, pred) => (xs.every((x) => Number.isFinite(x.r)) ? xs.every((x) => pred(x.r)) : undefined);
  const list = (xs, f = fmtRatio) => xs.map((x) => `${x.w} ${f(x.r)}`).join(", ");

  L.push(`# slotkv benchmarks`);
  L.push("");
  L.push(`Generated by \`make bench\` (bench/run.mjs) on ${env.date}: N = ${N}, median of ${RUNS} runs, each run in a fresh Node process after a warm-up of ${WARM} operations. Do not edit by hand.`);
  L.push("");
  L.push(`Machine: ${env.cpu}, Node ${env.node}${latency?.browser ? `, ${latency.browser}` : ""}. Whole \`make bench\`: **${fmtSecs(seconds)}**${seconds < 600 ? " (under the 10-minute budget)" : " (OVER the 10-minute budget)"}.`);
  L.push("");
  L.push(`Versions: slotkv ${env.versions.slotkv} (pkg/ at git ${env.commit}${env.dirty ? " with uncommitted changes in src/ or pkg/" : ""}; wasm ${fmtBytes(env.pkg.wasmBytes)}, sha256 ${env.pkg.sha256}…${env.pkg.names ? ", WITH a name section: wasm-opt may not have run" : ""}; copied at the start of the run and measured from that copy), ` + Object.entries(env.versions).filter(([k]) => k !== "slotkv").map(([k, x]) => `${k} ${x}`).join(", ") + " (exact pins in bench/package.json and bench/package-lock.json).");
  L.push("");
  L.push("Ratios are always slotkv ÷ peer, so for ↑ metrics (throughput) above 1× is better for slotkv and for ↓ metrics (time, bytes) below 1× is better. \"Peers\" are yjs, Automerge and Loro; the plain `Map` is the floor, not a peer.");
  L.push("");

  L.push(`## Targets`);
  L.push("");
  L.push(`| target | measured | status |`);
  L.push(`| --- | --- | --- |`);
  L.push(`| local writes ≥ 1.5× the fastest peer, every workload | slotkv ÷ fastest peer: ${list(writesPeer)} | ${ok(all(writesPeer, (r) => r >= 1.5))} |`);
  if (has("map")) L.push(`| local writes within 3× of the plain Map floor | Map ÷ slotkv: ${list(writesFloor)} | ${ok(all(writesFloor, (r) => r <= 3))} |`);
  L.push(`| full-state size ≤ 0.7× the smallest peer | slotkv ÷ smallest peer: ${list(state)} | ${ok(all(state, (r) => r <= 0.7))} |`);
  if (delta !== undefined) L.push(`| W4 delta bytes ≤ 0.5× the smallest peer | slotkv ÷ smallest peer: ${fmtRatio(delta)} | ${ok(Number.isFinite(delta) ? delta <= 0.5 : undefined)} |`);
  L.push(`| merges ≥ 2× faster than the fastest peer | fastest peer's time ÷ slotkv's: ${list(merge)} | ${ok(all(merge, (r) => r >= 2))} |`);
  if (slotBundle) L.push(`| wasm + JS ≤ 30 KB gzipped, minified | ${fmtBytes(slotBundle.totalGz)} (JS ${fmtBytes(slotBundle.jsGz)} + wasm ${fmtBytes(slotBundle.wasmGz)}; 30 KB = 30 720 B) | ${ok(slotBundle.totalGz <= LIMIT)} |`);
  if (lat) {
    // Met when it holds both after the warm-up and during its tier-ups.
    // Whether V8 settled is told, not required: see the latency section.
    const settled = latency.runs.every((r) => r.settled);
    const tiering = latency.tieringRatio;
    const within = (r) => r.p50 <= 2 && r.p99 <= 2;
    const met = within(lat) && within(tiering);
    const why = !latency.runs.every((r) => r.traced)
      ? " (this Chromium printed no wasm compiles: tier-ups not counted)"
      : !within(lat) ? (lat.p50 <= 2 ? " (p50 met, p99 not)" : "")
      : !within(tiering) ? " (not while V8 tiers up)"
      : !settled ? " in both windows (V8 never settled: its tier-ups are in the windows)"
      : "";
    L.push(`| tab-to-tab latency ≤ 2× raw BroadcastChannel | after the warm-up (${latency.runs[0].raw.n} round trips of each kind per run): p50 ${fmtRatio(lat.p50)}, p99 ${fmtRatio(lat.p99)}; during the warm-up's tier-ups: p50 ${fmtRatio(tiering.p50)}, p99 ${fmtRatio(tiering.p99)} | ${ok(met)}${why} |`);
  }
  L.push(`| \`make bench\` under 10 minutes on this 2-core machine | ${fmtSecs(seconds)} | ${ok(seconds < 600)} |`);
  L.push("");

  L.push(`## Workloads and method`);
  L.push("");
  const K = Math.max(1, Math.round(N / 20));
  const C2 = 20 * Math.round(Math.sqrt(N));
  L.push(`- **W1 counters**: 20 clients × ${K} increments (delta 1–3) over 10 keys, then every client's full state is merged into a fresh replica; asserts each counter equals the sum of all increments (and that duplicate delivery changes nothing).`);
  L.push(`- **W2 LWW**: ${C2} clients (20·√N) each set the same key to a number, then to a string; one more replica sets ${N} distinct keys (numbers and strings); all ${C2 + 1} states are merged into a fresh replica. Asserts the contended key holds one client's last write, the same when merging in the opposite order, and every distinct key exactly.`);
  L.push(`- **W3 sets**: 10 clients × ${Math.round(N / 10)} seeded-random operations on one set (65% add of one of 256 elements, 35% remove of a present one), merged; asserts the members equal an observed-remove add-wins reference model, in both merge orders.`);
  L.push(`- **W4 sync**: replica A does ${Math.round(N / 2)} mixed operations (40% increments, 30% register sets over ${Math.max(10, Math.round(N / 20))} keys, 30% set add/remove) and B catches up; then A and B each do ${Math.round(N / 2)} more apart, exchange deltas (each sends what the other's version lacks) and must converge: same state, counters = all increments of both sides, set = add-wins reference, each register one of the last writes.`);
  L.push("");
  L.push(`Metrics: **local writes** = operations ÷ time of the write loop only (every JS call included, one transaction per write as an app makes one per user action; replicas created beforehand). **merge** = applying the already-encoded states to the fresh replica (W1–W3), or the whole exchange — versions, deltas, applying them — in W4. **full state** = the library's whole-document encoding of the merged replica (slotkv \`encodeState\`, yjs \`encodeStateAsUpdate\`, Automerge \`save\`, Loro \`export({ mode: "snapshot" })\`, Map: JSON). **load** = decoding that state into a new replica and reading every value once (so lazy decoders do not skip work); the loaded replica is checked equal to the merged one. **heap after** = JS heap used + external memory (wasm linear memory counts there) after a full GC at the end of the workload, minus the same right after the library loaded; wasm memory never shrinks, so it is the high-water mark of the run. **delta bytes** = both directions of the W4 exchange (version vectors listed separately).`);
  L.push("");
  L.push(`Same seeded operation stream (sfc32) for every library in a run; run k uses seed k (1–${RUNS}), its warm-up another seed.` + " Merges use each library's fastest way to take in a batch of states where it has one: yjs `mergeUpdates` then one `applyUpdate` when there are many (W2; one by one is faster for W1/W3's few large states), Automerge one `loadIncremental` of the concatenated saves, Loro `importBatch`; slotkv has no batch call and applies them one by one.");
  L.push("");

  L.push(`## Results`);
  for (const w of WORKLOADS) {
    const title = { W1: "W1 counters", W2: "W2 LWW registers", W3: "W3 add-wins set", W4: "W4 delta sync" }[w] ?? w;
    const ops = results[w]?.slotkv?.ops ?? Object.values(results[w]).find((m) => m.ops)?.ops;
    L.push("");
    L.push(`### ${title} (${ops ?? "?"} writes)`);
    L.push("");
    const head = ["metric", ...libs.map((l) => (results[w][l].error ? `${name(l)} ✗` : name(l))), ...libs.filter((l) => l !== "slotkv" && has("slotkv")).map((l) => `slotkv ÷ ${name(l)}`)];
    L.push(`| ${head.join(" | ")} |`);
    L.push(`| ${head.map((_, i) => (i ? "---:" : "---")).join(" | ")} |`);
    for (const [key, label, f] of ROWS) {
      if (key === "deltaBytes" && w !== "W4") continue;
      const cells = libs.map((l) => (results[w][l].error ? "FAILED" : f(v(w, l, key))));
      const ratios = libs.filter((l) => l !== "slotkv" && has("slotkv")).map((l) => fmtRatio(v(w, "slotkv", key) / v(w, l, key)));
      L.push(`| ${label} | ${cells.join(" | ")} | ${ratios.join(" | ")} |`);
      if (key === "writeOps" && RUNS > 1) {
        const sp = libs.map((l) => (results[w][l].spread ? `${fmtRate(results[w][l].spread.writeOps[0])}–${fmtRate(results[w][l].spread.writeOps[1])}` : "–"));
        L.push(`| ↳ min–max over the ${RUNS} runs | ${sp.join(" | ")} | ${libs.filter((l) => l !== "slotkv" && has("slotkv")).map(() => "").join(" | ")} |`);
      }
    }
    if (w === "W4") {
      L.push(`| version bytes, both ways | ${libs.map((l) => (v(w, l, "versionBytes") == null ? "–" : fmtBytes(v(w, l, "versionBytes")))).join(" | ")} | ${libs.filter((l) => l !== "slotkv").map(() => "").join(" | ")} |`);
      L.push(`| messages | ${libs.map((l) => v(w, l, "messages") ?? "–").join(" | ")} | ${libs.filter((l) => l !== "slotkv").map(() => "").join(" | ")} |`);
    }
    if (w === "W2") {
      const d = (l, k2) => results[w][l]?.detail?.[k2];
      L.push(`| ↳ contended-key writes (ops/s) | ${libs.map((l) => fmtRate(d(l, "hotOpsPerSec"))).join(" | ")} | ${libs.filter((l) => l !== "slotkv").map((l) => fmtRatio(d("slotkv", "hotOpsPerSec") / d(l, "hotOpsPerSec"))).join(" | ")} |`);
      L.push(`| ↳ distinct-key writes (ops/s) | ${libs.map((l) => fmtRate(d(l, "wideOpsPerSec"))).join(" | ")} | ${libs.filter((l) => l !== "slotkv").map((l) => fmtRatio(d("slotkv", "wideOpsPerSec") / d(l, "wideOpsPerSec"))).join(" | ")} |`);
    }
    L.push("");
    L.push(`How each library expresses it (✗ = an assertion failed; the numbers are then not reported):`);
    L.push("");
    for (const l of libs) {
      const m = results[w][l];
      L.push(`- **${m.name}** — ${m.fidelity ?? "?"}: ${m.note ?? ""}${m.setSemantics ? `. Set: **${m.setSemantics}**` : ""}${m.error ? ` — **FAILED: ${m.error}**` : ""}`);
    }
    const checks = results[w]?.slotkv?.checks ?? Object.values(results[w]).find((m) => m.checks)?.checks;
    if (checks) L.push(`- Asserted for every library: ${checks}.`);
    if (w === "W4" && libs.some((l) => results[w][l].setSemantics)) {
      L.push(`- Set re-adds: when replica A re-adds an element it already holds while B (which saw A's first add) removes it, \"re-add is a new add\" keeps the element (every add is a new tag, as in ORSWOT), \"re-add is a no-op\" loses it (one tag per client and element; re-adding changes nothing, so B's remove covers it). Both converge; the W4 check accepts either and says which one it saw.`);
    }
  }
  L.push("");

  if (bundles) {
    L.push(`## Bundle size`);
    L.push("");
    L.push("A tiny entry per library (create two documents, write, sync, read) bundled by esbuild (`--bundle --minify --format=esm --platform=browser`), gzip -9; plus the gzipped `.wasm` the bundle fetches at run time (slotkv: `pkg/slotkv_wasm_bg.wasm`; Automerge: `dist/automerge.wasm` through the `/slim` entry; Loro: `web/loro_wasm_bg.wasm` through `loro-crdt/web`). The wasm files are measured as published (Automerge's and Loro's keep their name sections).");
    L.push("");
    L.push("| bundle | JS min | JS gz | wasm | wasm gz | **total gz** | slotkv ÷ this |");
    L.push("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (const b of bundles) {
      L.push(`| ${b.label}${b.extra ? " (extra)" : ""} | ${fmtBytes(b.jsBytes)} | ${fmtBytes(b.jsGz)} | ${b.wasmBytes ? fmtBytes(b.wasmBytes) : "–"} | ${b.wasmBytes ? fmtBytes(b.wasmGz) : "–"} | **${fmtBytes(b.totalGz)}** | ${b === slotBundle ? "" : fmtRatio(slotBundle.totalGz / b.totalGz)} |`);
    }
    L.push("");
    if (wasmSize?.groups) {
      const w = wasmSize;
      const over = slotBundle ? slotBundle.totalGz - LIMIT : 0;
      L.push(`### Where slotkv's wasm goes`);
      L.push("");
      L.push(`The shipped wasm's ${w.functions} functions by who wrote them (bench/wasm-size.mjs, on a build that kept its function names and is otherwise byte-identical to pkg/'s): ${fmtBytes(w.code)} of code and ${fmtBytes(w.data)} of data (messages, tables). "Rust's generic std code" is \`Vec\`, iterator and slice code, instantiated once per type slotkv uses it with. A group's gzipped size alone is what gzip makes of its function bodies on their own; the module compresses better whole. The largest function is ${fmtBytes(w.largest)} raw.${over > 0 ? ` The bundle is ${fmtBytes(over)} over its target${Math.max(...w.groups.map((g) => g.gzAlone)) < over ? ", more than any one group makes gzipped on its own" : ""}.` : ""}`);
      L.push("");
      L.push("| code | functions | bytes | gzipped alone | share of the code |");
      L.push("| --- | ---: | ---: | ---: | ---: |");
      for (const g of w.groups) L.push(`| ${g.group} | ${g.functions} | ${fmtBytes(g.bytes)} | ${fmtBytes(g.gzAlone)} | ${((100 * g.bytes) / w.code).toFixed(1)} % |`);
      L.push("");
    } else if (wasmSize) {
      L.push(`(Where the wasm's bytes go is not shown: ${wasmSize.why}.)`);
      L.push("");
    }
  }

  if (latency) {
    L.push(`## Tab-to-tab latency`);
    L.push("");
    if (latency.error) L.push(`FAILED: ${latency.error}`);
    else {
      const n = latency.runs[0].raw.n;
      const tiering = latency.tieringRatio;
      const sameCounts = latency.runs.length > 1 && latency.runs.every((r) => r.tierUpsWhileWarming === latency.runs[0].tierUpsWhileWarming && r.tierUpsMeasured === latency.runs[0].tierUpsMeasured);
      L.push(`Two tabs of one origin in headless ${latency.browser}${latency.isolated ? " (cross-origin isolated, so \`performance.now()\` has 5 µs resolution)" : ""}, driven by Playwright over CDP. A round trip is: tab A writes, tab B sees it applied and answers, A sees the answer applied. **raw**: \`BroadcastChannel.postMessage({ i })\` echoed back. **slotkv**: \`doc.set("ping", i)\` → B's \`change\` event → \`doc.set("pong", i)\` → A's \`change\` event (two updates, each applied in the other tab through \`BroadcastSync\`). The two kinds alternate in blocks of ${latency.runs[0].block}, so that both meet the same moments of the machine (the first trip of each block is not recorded: the other tab may still be finishing the other kind's work). Each run is a fresh browser.`);
      L.push("");
      L.push(`**Warm-up, then a long measured window.** First ${latency.warmup} round trips of each kind, then rounds of ${latency.perRound} until ${latency.quiet} rounds in a row saw no wasm function move up to TurboFan (at most ${latency.maxTiering} rounds). Chromium runs with V8's \`--trace-wasm-compilation-times\`, and the harness counts the tier-ups it prints. V8 moves a wasm function to TurboFan only once it has run enough. A sync step's functions run once or twice per update, so they get there one by one over thousands of updates. Each tier-up is a 0.3–6 ms compile on a background thread, and on this 2-core machine it delays the message in flight: in a Chromium trace, half of the slow slotkv round trips overlapped one. The raw channel runs no wasm. The quiet rounds end the main burst of tier-ups, not the tier-ups: in one run of 17 000 round trips of each kind, functions still moved up in nearly every round of ${latency.perRound} to the end. So the window measured after the warm-up is long, ${n} round trips of each kind, whose p99 is its ${Math.ceil(n / 100)} slowest trips, several times the tier-ups that land in it (third column). Over the 1600 trips this harness measured before, the p99 was the 16 slowest, about as many as the 10 tier-ups among them, and the p99 ratio of one \`make bench\`'s runs spread over 1.19–3.24×. The target must hold in both: the measured window (first table) and the warm-up's tier-ups (second table). Whether V8 settled is reported but not required. With this workload it never does: functions still move up after 17 000 trips${sameCounts ? ", and the tier-up counts came out the same in every run (V8 tiers a function up once it has run a given amount)" : ""}, so a rule that asked for quiet rounds could not be met whatever slotkv's latency. Each window keeps the tier-ups that land in it, and they slow slotkv's trips (the raw channel runs no wasm), so neither window flatters slotkv. Ratios are taken within each run, then their median over the ${latency.runs.length} runs.`);
      L.push("");
      L.push(`| run | warm-up trips | tier-ups after the first ${latency.warmup} | tier-ups in the measured trips | raw p50 | raw p99 | slotkv p50 | slotkv p99 | ÷ p50 | ÷ p99 | ÷ mean |`);
      L.push("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
      latency.runs.forEach((r, k) => L.push(`| ${k + 1} | ${r.warmTrips}${!r.traced ? " (compiles not printed)" : r.settled ? "" : " (not settled)"} | ${r.tierUpsWhileWarming} | ${r.tierUpsMeasured} | ${fmtMs(r.raw.p50)} | ${fmtMs(r.raw.p99)} | ${fmtMs(r.slotkv.p50)} | ${fmtMs(r.slotkv.p99)} | ${fmtRatio(r.ratio.p50)} | ${fmtRatio(r.ratio.p99)} | ${fmtRatio(r.ratio.mean)} |`));
      L.push(`| **median** | | | | | | | | **${fmtRatio(lat.p50)}** | **${fmtRatio(lat.p99)}** | **${fmtRatio(lat.mean)}** |`);
      L.push("");
      L.push(`While V8 tiers up: the warm-up rounds after the first ${latency.warmup} trips, where the tier-ups of the table above happen (in both tabs together).`);
      L.push("");
      L.push("| run | trips of each kind | raw p50 | raw p99 | slotkv p50 | slotkv p99 | ÷ p50 | ÷ p99 | ÷ mean |");
      L.push("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
      latency.runs.forEach((r, k) => L.push(`| ${k + 1} | ${r.tiering.raw.n} | ${fmtMs(r.tiering.raw.p50)} | ${fmtMs(r.tiering.raw.p99)} | ${fmtMs(r.tiering.slotkv.p50)} | ${fmtMs(r.tiering.slotkv.p99)} | ${fmtRatio(r.tiering.ratio.p50)} | ${fmtRatio(r.tiering.ratio.p99)} | ${fmtRatio(r.tiering.ratio.mean)} |`));
      L.push(`| **median** | | | | | | **${fmtRatio(tiering.p50)}** | **${fmtRatio(tiering.p99)}** | **${fmtRatio(tiering.mean)}** |`);
    }
    L.push("");
  }

  const [cold, warm] = FLOOR_WARMS.map((w) => floor?.[w]);
  if (cold?.map && warm?.map) {
    L.push(`## How far the Map floor is`);
    L.push("");
    L.push(`One write in a fresh process shaped like W1's write loop (20 replicas, 10 keys, 5000 timed calls), built up layer by layer (bench/floor.mjs; median of ${RUNS} processes each): after the workloads' warm-up of ${FLOOR_WARMS[0]} calls, and after ${FLOOR_WARMS[1].toLocaleString("en-US")} calls, when V8 has optimised the loop and what it calls. The floor target asks for 3× the first row.`);
    L.push("");
    L.push(`| what one call does | ns per call (warm-up ${FLOOR_WARMS[0]}) | ÷ Map | ns per call (warm-up ${FLOOR_WARMS[1].toLocaleString("en-US")}) | ÷ Map |`);
    L.push("| --- | ---: | ---: | ---: | ---: |");
    const rows = {
      map: "the floor: `map.set(key, (map.get(key) ?? 0) + delta)`",
      checks: "a class method with a library's argument checks (well-formed non-empty string key, safe-integer delta) that copies the key's bytes into a buffer",
      wasm: "the same, plus one call into a wasm function that only reads the first key byte: the JS → wasm boundary alone",
      slotkv: "slotkv `Doc.increment`: all of the above, plus the counter, the dot, the version vector and the transaction",
    };
    const cell = (m, v) => (m[v] === undefined ? "– | –" : `${m[v].toFixed(0)} | ${fmtRatio(m[v] / m.map)}`);
    for (const v of FLOOR_VARIANTS) L.push(`| ${rows[v]} | ${cell(cold, v)} | ${cell(warm, v)} |`);
    L.push("");
    const boundary = cold.wasm / cold.map;
    L.push(
      boundary > 3
        ? `After the workloads' warm-up, a call that crosses into wasm already costs ${fmtRatio(boundary)} the Map floor before any CRDT work, so no library that makes one wasm call per write, as the SPEC's API does (each write is visible at once and is its own transaction), can come within 3× of the floor in these workloads. Once V8 has optimised the loop the boundary costs ${fmtRatio(warm.wasm / warm.map)} the Map, and slotkv ${fmtRatio(warm.slotkv / warm.map)}.`
        : `The boundary alone costs ${fmtRatio(boundary)} the Map floor after the workloads' warm-up, within the 3× the target allows; the rest of slotkv's cost is its own.`,
    );
    L.push("");
    if (cold.typical?.slotkv && cold.typical?.map) {
      const pct = (x) => `${Math.round(x * 100)} %`;
      L.push(`The same 5000 calls timed in batches of 100 (after the short warm-up): the median batch costs ${cold.typical.slotkv.toFixed(0)} ns per call for slotkv and ${cold.typical.map.toFixed(0)} ns for the Map (${fmtRatio(cold.typical.slotkv / cold.typical.map)}); batches more than twice as slow as the median, a garbage collection or V8 compiling the hot functions on the machine's other core, hold ${pct(cold.pauses.slotkv)} of slotkv's time and ${pct(cold.pauses.map)} of the Map's.`);
      L.push("");
    }
  }

  if (profile) {
    L.push(`## Where slotkv's time goes`);
    L.push("");
    if (profile.error) L.push(`FAILED: ${profile.error}`);
    else {
      L.push(`\`node --cpu-prof\` (100 µs sampling) over slotkv's W1 and W2 write loops at a larger N, after a warm-up; self time of the samples inside the loop, grouped by layer. ${profile.named ? "The wasm was rebuilt with its name section kept (wasm-bindgen, then wasm-opt with the Makefile's flags and `-g`, byte-identical to pkg/ without `-g`) so Rust frames have names." : profile.shippedNames ? "pkg/'s wasm carries a name section, so Rust frames have names." : `Wasm frames are unnamed (${profile.why}), so the wasm layers cannot be told apart.`} Raw profiles: \`bench/out/slotkv-W1.cpuprofile\`, \`bench/out/slotkv-W2.cpuprofile\` (Chrome DevTools → Performance → Load profile).`);
      L.push("");
      L.push("How to read the layers: **wasm** is time inside the Rust core (key lookups as `key_map::hash` and `Index::find`, searches and key compares; allocation as `rlsf` (the allocator), `RawVec` growth, clears and drops; encoding of the transaction's update; JSON parsing of register values). **boundary** is the price of each crossing: copying strings and bytes into wasm memory (keys, elements and register values by pkg/doc.js's `#put` into each document's input buffer; `TextEncoder.encodeInto` for long or non-ASCII text) and reading text back, V8's JS↔wasm wrappers of the plain exports pkg/doc.js calls, what wasm-bindgen glue is left (the constructor), and calls out of wasm (the clock for the hybrid logical clock, `Date.now` unless the app gave its own). **JS Doc wrapper** is pkg/doc.js: argument checks (`isWellFormed`, the register value's JSON text), the per-write status and event logic. **benchmark loop** is the loop itself plus whatever V8 inlined into it.");
      for (const w of ["W1", "W2"]) {
        const s = profile[w];
        if (!s) continue;
        L.push("");
        L.push(`### ${w}: ${s.ops} ${w === "W1" ? "increments" : "register sets"}, ${s.nsPerWrite.toFixed(0)} ns per write (${fmtRate(1e9 / s.nsPerWrite)} ops/s under the profiler)`);
        L.push("");
        const group = (re) => s.layers.filter((l) => re.test(l.name)).reduce((a, l) => a + l.pct, 0);
        L.push(`Split: **wasm core ${group(/^wasm/).toFixed(0)}%**, **JS↔wasm boundary ${group(/^boundary/).toFixed(0)}%**, **JS Doc wrapper ${group(/^JS Doc/).toFixed(0)}%**, GC ${group(/^GC/).toFixed(0)}%, other (loop, V8) ${group(/^(benchmark|V8|other)/).toFixed(0)}%.`);
        L.push("");
        L.push("| layer | self time | share |");
        L.push("| --- | ---: | ---: |");
        for (const l of s.layers.filter((l) => l.pct >= 0.5)) L.push(`| ${l.name} | ${fmtMs(l.ms)} | ${l.pct.toFixed(1)}% |`);
        L.push("");
        L.push("| top frames (self) | layer | share |");
        L.push("| --- | --- | ---: |");
        for (const f of s.top) L.push(`| \`${shortName(f.name)}\` | ${f.layer} | ${f.pct.toFixed(1)}% |`);
      }
    }
    L.push("");
  }

  L.push(`## Running it`);
  L.push("");
  L.push("`make bench` (from the repository root) installs bench/'s pinned dependencies (`npm ci` in bench/), builds pkg/ if needed and runs `node bench/run.mjs`. Knobs: `BENCH_N=20000 make bench`, `BENCH_RUNS=3` (default 5); `node bench/run.mjs --libs slotkv,yjs --workloads W1 --no-latency --no-profile --out /tmp/r.md` for a quick look. One measurement by hand: `node --expose-gc bench/worker.mjs slotkv W1 5000 1 500`. The Map-floor breakdown by hand: `node bench/floor.mjs wasm` (variants `map`, `checks`, `wasm`, `slotkv`; `FLOOR_WARM=100000` for the long warm-up). Where the wasm's bytes go, by hand: `node bench/wasm-size.mjs bench/out/pkg-named/slotkv_wasm_bg.wasm` (the named build `make bench` leaves there). Per-run numbers: bench/out/results.json. Live sync of a large set (adds, then removes, each with its update taken by a listener and applied by a peer; not part of `make bench`): `node bench/live-set.mjs 20000`. Catch-up of a peer on one changed key of a large document, against yjs and Loro (not part of `make bench`): `node bench/catch-up.mjs 20000`. Benchmarks are never part of `make test`.");
  L.push("");
  return L.join("\n");
}
