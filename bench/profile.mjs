// Where slotkv's time goes in local writes: `node --cpu-prof` over the W1 and
// W2 write loops (profile-target.mjs), self time of the samples taken inside
// the measured call of W1writes()/W2writes(), per frame and per layer.
//
// The shipped pkg/slotkv_wasm_bg.wasm has no name section (wasm-opt drops
// it), so wasm frames would read "wasm-function[123]". When the release build
// target/wasm32-unknown-unknown/release/slotkv.wasm and wasm-bindgen are
// present, this builds the same wasm with names kept (wasm-bindgen, then
// wasm-opt with the Makefile's flags and -g) into out/pkg-named/ beside a copy of pkg's JS, checks that
// the same build without -g is byte-identical to pkg's wasm, and profiles that.
// The raw profiles stay in out/*.cpuprofile (Chrome DevTools > Performance opens them).
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { homedir } from "node:os";
import { sections } from "./wasm-size.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..");
let PKG = join(root, "pkg");
// The Makefile's WASM_OPT_FLAGS, read from it (a copy here fell behind it once,
// and every named build then differed from pkg/).
function wasmOptFlags() {
  const vars = {};
  for (const m of readFileSync(join(root, "Makefile"), "utf8").matchAll(/^(\w+) := (.*)$/gm)) vars[m[1]] = m[2];
  const expand = (v) => v.replace(/\$\((\w+)\)/g, (_, n) => expand(vars[n] ?? ""));
  return expand(vars.WASM_OPT_FLAGS ?? "").split(/\s+/).filter(Boolean);
}

function which(cmd, extra = []) {
  for (const dir of [...extra, ...(process.env.PATH ?? "").split(":")]) if (dir && existsSync(join(dir, cmd))) return join(dir, cmd);
  return null;
}

/** Whether a wasm binary has a "name" custom section (function names for profiles). */
export function hasNames(buf) {
  for (const { id, r } of sections(buf)) if (id === 0 && r.name() === "name") return true;
  return false;
}

/** A named build of pkg's wasm, or null (with the reason) if it cannot be made or differs from pkg. */
export function namedBuild(outDir) {
  if (hasNames(readFileSync(join(PKG, "slotkv_wasm_bg.wasm")))) return { dir: null, why: null, shippedNames: true };
  const raw = join(root, "target/wasm32-unknown-unknown/release/slotkv.wasm");
  const bindgen = which("wasm-bindgen", [join(homedir(), ".cargo/bin")]);
  const opt = which("wasm-opt", [join(root, "node_modules/.bin")]);
  if (!existsSync(raw) || !bindgen || !opt) return { dir: null, why: "no target/ release build, wasm-bindgen or wasm-opt" };
  const dir = join(outDir, "pkg-named");
  // Reuse the last named build while target/ and pkg/ are unchanged (wasm-opt takes a while on 2 cores).
  const hash = createHash("sha256");
  for (const f of [raw, join(PKG, "slotkv_wasm_bg.wasm"), ...readdirSync(PKG).filter((f) => f.endsWith(".js")).sort().map((f) => join(PKG, f))]) hash.update(readFileSync(f));
  const stamp = hash.digest("hex");
  if (existsSync(join(dir, ".stamp")) && readFileSync(join(dir, ".stamp"), "utf8") === stamp) return { dir, why: null };
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  try {
    execFileSync(bindgen, ["--target", "web", "--out-dir", dir, "--out-name", "slotkv_wasm", raw], { stdio: "pipe" });
    const bg = join(dir, "slotkv_wasm_bg.wasm");
    execFileSync(opt, [...wasmOptFlags(), bg, "-o", join(dir, "plain.wasm")], { stdio: "pipe" });
    const same = readFileSync(join(dir, "plain.wasm")).equals(readFileSync(join(PKG, "slotkv_wasm_bg.wasm")));
    rmSync(join(dir, "plain.wasm"));
    if (!same) {
      rmSync(dir, { recursive: true, force: true });
      return { dir: null, why: "target/ holds a different build than pkg/; make build brings them in step" };
    }
    execFileSync(opt, [...wasmOptFlags(), "-g", bg, "-o", bg], { stdio: "pipe" });
    const glue = readFileSync(join(dir, "slotkv_wasm.js"));
    if (!glue.equals(readFileSync(join(PKG, "slotkv_wasm.js")))) {
      rmSync(dir, { recursive: true, force: true });
      return { dir: null, why: "the wasm-bindgen glue differs from pkg/" };
    }
    for (const f of readdirSync(PKG)) if (f.endsWith(".js") && f !== "slotkv_wasm.js") copyFileSync(join(PKG, f), join(dir, f));
    writeFileSync(join(dir, ".stamp"), stamp);
    return { dir, why: null };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    return { dir: null, why: `named build failed: ${String(e.stderr ?? e.message).split("\n")[0]}` };
  }
}

// Which layer a frame belongs to (names of the Rust build and the wasm-bindgen glue).
export function layer(cf) {
  const url = cf.url || "";
  const fn = cf.functionName || "";
  if (fn === "(garbage collector)") return "GC";
  if (fn === "(program)" || fn === "(idle)") return "V8 (program)";
  if (fn.startsWith("js-to-wasm") || fn.startsWith("wasm-to-js")) return "boundary: V8 JS<->wasm call wrappers";
  if (url.startsWith("wasm://") || url.includes(".wasm")) {
    if (/^wasm-function\[/.test(fn)) return "wasm: frames without a name";
    if (/^rawdoc_|multivalue shim|__wbg|wasm_bindgen|externref|closure|describe/.test(fn)) return "boundary: wasm-bindgen shims in wasm";
    if (/rlsf|dlmalloc|raw_vec|RawVec|::alloc::|__rust_alloc|__rust_dealloc|__rdl_|realloc|memcpy|memmove|memset|drop_in_place|Vec<T,A>>?::clear|as core::ops::drop::Drop>|Rc<T,A>>?::drop/.test(fn)) return "wasm: allocation, copies, drops";
    if (/key_map::hash|Index::find|SmallMap<K,V>>?::find|siphasher|btree|BTree|hashbrown|HashMap|memcmp|binary_search|partition_point|cmp::Ord|Ord>::cmp|partial_cmp|\bcmp\b/.test(fn)) return "wasm: map lookups (hashing, searches, key compares)";
    if (/json|Json|JSON/.test(fn)) return "wasm: JSON parsing";
    if (/encod|leb|varint|Encoder|Writer|serialize|take_update|takeUpdate|emit/.test(fn)) return "wasm: update encoding";
    return "wasm: CRDT core (other)";
  }
  if (url.endsWith("slotkv_wasm.js")) {
    if (/passStringToWasm|encodeString|getUint8ArrayMemory|getStringFromWasm|decodeText|cachedText|getArrayU8/.test(fn)) return "boundary: string passing (UTF-8 encode/decode, memory views)";
    if (fn.startsWith("__wbg_")) return "boundary: wasm->JS imports (e.g. Date.now for the HLC)";
    return "boundary: RawDoc method wrappers (JS glue)";
  }
  // Keys and elements written into the Doc's input buffer in wasm memory.
  if (url.endsWith("/doc.js") && /^#(put|grow|key)$/.test(fn)) return "boundary: string passing (UTF-8 encode/decode, memory views)";
  if (url.endsWith("/doc.js")) return "JS Doc wrapper (argument checks, JSON.stringify, dispatch)";
  if (url.includes("profile-target")) return "benchmark loop";
  if (!url) return "V8 builtins (" + (fn || "anonymous") + ")";
  return "other JS";
}

function summarise(profile, topN) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // Inside = under W1writes/W2writes called from measuredWrites (not the warm-up's call).
  const memo = new Map();
  const flags = (id) => {
    if (memo.has(id)) return memo.get(id);
    const fn = byId.get(id).callFrame.functionName;
    const up = parent.has(id) ? flags(parent.get(id)) : { loop: false, measured: false };
    const v = { loop: up.loop || /^W[12]writes$/.test(fn), measured: up.measured || fn === "measuredWrites" };
    memo.set(id, v);
    return v;
  };
  const isInside = (id) => {
    const f = flags(id);
    return f.loop && f.measured;
  };
  const self = new Map();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i + 1] ?? 0; // a sample's time is the gap to the next one
    const cf = byId.get(id).callFrame;
    if (!isInside(id) && cf.functionName !== "(garbage collector)") return;
    if (cf.functionName === "(garbage collector)" && !isInside(profile.samples[i - 1] ?? id)) return;
    total += dt;
    const file = (cf.url || "").split("/").pop();
    const wasm = (cf.url || "").startsWith("wasm://") || (file.includes("wasm") && !file.endsWith(".js"));
    const key = `${cf.functionName || "(anonymous)"}${file && !wasm ? ` (${file}:${cf.lineNumber + 1})` : ""}`;
    const e = self.get(key) ?? { name: key, layer: layer(cf), us: 0 };
    e.us += dt;
    self.set(key, e);
  });
  const frames = [...self.values()].sort((a, b) => b.us - a.us);
  const layers = new Map();
  for (const f of frames) layers.set(f.layer, (layers.get(f.layer) ?? 0) + f.us);
  return {
    sampledMs: total / 1000,
    layers: [...layers].sort((a, b) => b[1] - a[1]).map(([name, us]) => ({ name, ms: us / 1000, pct: (100 * us) / total })),
    top: frames.slice(0, topN).map((f) => ({ name: f.name, layer: f.layer, ms: f.us / 1000, pct: (100 * f.us) / total })),
  };
}

export function profileSlotkv({ n1 = 200_000, n2 = 50_000, topN = 14, outDir = join(here, "out"), pkgDir = null, log = () => {} } = {}) {
  if (pkgDir) PKG = pkgDir;
  mkdirSync(outDir, { recursive: true });
  const named = namedBuild(outDir);
  const target = named.dir ?? PKG;
  log(`  profiling ${named.dir ? "a named build identical to pkg/" : named.shippedNames ? "pkg/ as shipped (it has a name section)" : "pkg/ as shipped (" + named.why + ")"}`);
  const results = { named: !!named.dir, shippedNames: !!named.shippedNames, why: named.why };
  for (const [w, n] of [
    ["W1", n1],
    ["W2", n2],
  ]) {
    const profDir = join(outDir, `prof-${w}`);
    rmSync(profDir, { recursive: true, force: true });
    const res = spawnSync(process.execPath, ["--cpu-prof", "--cpu-prof-dir", profDir, "--cpu-prof-interval", "100", join(here, "profile-target.mjs"), w, String(n), target], { encoding: "utf8" });
    if (res.status !== 0) throw new Error(`profile-target ${w} failed: ${res.stderr}`);
    const { ms } = JSON.parse(res.stdout.trim().split("\n").pop());
    const file = readdirSync(profDir).find((f) => f.endsWith(".cpuprofile"));
    copyFileSync(join(profDir, file), join(outDir, `slotkv-${w}.cpuprofile`));
    rmSync(profDir, { recursive: true, force: true });
    const ops = w === "W1" ? n : n + 2 * 20 * Math.round(Math.sqrt(n));
    results[w] = { ops, wallMs: ms, nsPerWrite: (ms * 1e6) / ops, ...summarise(JSON.parse(readFileSync(join(outDir, `slotkv-${w}.cpuprofile`), "utf8")), topN) };
  }
  return results;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = profileSlotkv({ log: console.log });
  for (const w of ["W1", "W2"]) {
    const s = r[w];
    console.log(`${w}: ${s.ops} writes in ${s.wallMs.toFixed(0)} ms (${s.nsPerWrite.toFixed(0)} ns/write), ${s.sampledMs.toFixed(0)} ms sampled`);
    for (const l of s.layers) console.log(`  ${l.pct.toFixed(1).padStart(5)}%  ${l.name}`);
    for (const f of s.top) console.log(`    ${f.pct.toFixed(1).padStart(5)}%  ${f.name}  [${f.layer}]`);
  }
}
