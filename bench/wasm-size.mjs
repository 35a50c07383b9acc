// Where a wasm module's bytes go: the code of each function, grouped by who
// wrote it, read from a build that kept its name section (profile.mjs's
// namedBuild). Tells a size target that one change could meet from one
// spread over hundreds of functions.
//
//   node wasm-size.mjs FILE.wasm     (prints the groups as JSON)
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";

function reader(bytes) {
  let at = 0;
  const u32 = () => {
    let v = 0;
    let shift = 0;
    for (;;) {
      const b = bytes[at++];
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
      shift += 7;
    }
  };
  const name = () => {
    const n = u32();
    const s = new TextDecoder().decode(bytes.subarray(at, at + n));
    at += n;
    return s;
  };
  return { u32, name, skip: (n) => (at += n), get at() { return at; }, set at(v) { at = v; } };
}

/**
 * The module's sections in order: each its id, size, end offset and a reader `r` at its first byte
 * (which the caller may move; the next section is found from `end`).
 */
export function* sections(bytes) {
  const r = reader(bytes);
  r.at = 8;
  while (r.at < bytes.length) {
    const id = bytes[r.at++];
    const size = r.u32();
    const end = r.at + size;
    yield { id, size, end, r };
    r.at = end;
  }
}

/** Each function's body (its bytes and its name) and the data segments' size. */
export function readModule(bytes) {
  let imported = 0;
  const bodies = [];
  const names = new Map();
  let data = 0;
  for (const { id, size, end, r } of sections(bytes)) {
    if (id === 2) {
      for (let n = r.u32(); n > 0; n--) {
        r.name();
        r.name();
        const kind = bytes[r.at++];
        const limits = () => {
          const flags = bytes[r.at++];
          r.u32();
          if (flags & 1) r.u32();
        };
        if (kind === 0) {
          imported++;
          r.u32();
        } else if (kind === 1) {
          r.skip(1);
          limits();
        } else if (kind === 2) limits();
        else r.skip(2); // a global: its type and mutability
      }
    } else if (id === 10) {
      for (let n = r.u32(); n > 0; n--) {
        const len = r.u32();
        bodies.push(bytes.subarray(r.at, r.at + len));
        r.skip(len);
      }
    } else if (id === 11) {
      data += size;
    } else if (id === 0 && r.name() === "name") {
      while (r.at < end) {
        const sub = bytes[r.at++];
        const len = r.u32();
        const subEnd = r.at + len;
        if (sub === 1) for (let n = r.u32(); n > 0; n--) names.set(r.u32(), r.name());
        r.at = subEnd;
      }
    }
  }
  return { functions: bodies.map((body, i) => ({ body, name: names.get(imported + i) ?? "" })), data };
}

// Who wrote a function, from its demangled name (crate hashes in [..] dropped):
// our modules by file; Rust's own generic code (Vec, iterators, slices,
// instantiated for our types) as one group; the rest by crate. A trait method
// (`<A as B>::f`) goes with the first crate its name mentions, the type's.
export function groupOf(name) {
  const n = name.replace(/\[[0-9a-f]+\]/g, "");
  if (/^(rawdoc_|__wbg|__wbindgen|__externref)/.test(n)) return "wasm-bindgen glue";
  if (/^(memcpy|memmove|memset|memcmp|bcmp)$/.test(n)) return "compiler builtins (memcpy, memcmp…)";
  const m = /(slotkv::\w+|alloc::|core::|std::|__rustc::|wasm_bindgen::|js_sys::|rlsf::|getrandom::)/.exec(n);
  const crate = m?.[1] ?? "";
  if (crate.startsWith("slotkv::")) return crate;
  if (/^(alloc|core|std|__rustc)::$/.test(crate)) return "Rust's generic std code (alloc, core)";
  if (/^(wasm_bindgen|js_sys)::$/.test(crate)) return "wasm-bindgen glue";
  if (crate === "rlsf::") return "allocator (rlsf)";
  if (crate) return "randomness (getrandom)";
  return "other";
}

/** Bytes of code per group, largest first, each with its functions' count and gzipped size alone. */
export function sizeBreakdown(file) {
  const { functions, data } = readModule(readFileSync(file));
  const groups = new Map();
  for (const f of functions) {
    const g = groupOf(f.name);
    const e = groups.get(g) ?? { group: g, functions: 0, bytes: 0, parts: [] };
    e.functions++;
    e.bytes += f.body.length;
    e.parts.push(f.body);
    groups.set(g, e);
  }
  const out = [...groups.values()].map(({ parts, ...e }) => ({ ...e, gzAlone: gzipSync(Buffer.concat(parts), { level: 9 }).length }));
  out.sort((a, b) => b.bytes - a.bytes);
  const code = out.reduce((s, e) => s + e.bytes, 0);
  return { groups: out, code, data, functions: functions.length, largest: Math.max(...functions.map((f) => f.body.length)) };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(JSON.stringify(sizeBreakdown(process.argv[2]), null, 2));
}
