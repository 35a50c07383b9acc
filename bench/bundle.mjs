// Bundle size as a user ships it: a tiny entry per library bundled by esbuild
// (minify, format esm, platform browser), gzip -9 of the JS, plus gzip -9 of
// the .wasm file the bundle fetches at run time (esbuild leaves
// `new URL("x.wasm", import.meta.url)` alone; the file ships beside the bundle).
import { build } from "esbuild";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const here = dirname(fileURLToPath(import.meta.url));
const nm = (p) => join(here, "node_modules", p);

// Each entry uses the document API a CRDT user needs: create, write, encode, apply.
export const ENTRIES = [
  {
    lib: "slotkv",
    label: "slotkv (Doc)",
    code: `import { Doc } from "slotkv";
const a = new Doc(), b = new Doc();
a.increment("c"); a.set("r", 1); a.add("s", "x");
b.applyUpdate(a.encodeDelta(b.version()));
export default b.toJSON();`,
    wasm: nm("slotkv/slotkv_wasm_bg.wasm"),
  },
  {
    lib: "slotkv",
    label: "slotkv (Doc + BroadcastSync + persist)",
    code: `import { Doc, BroadcastSync, persist } from "slotkv";
const a = new Doc();
new BroadcastSync(a, "app");
export default persist(a, "app");`,
    wasm: nm("slotkv/slotkv_wasm_bg.wasm"),
    extra: true,
  },
  {
    lib: "yjs",
    label: "yjs",
    code: `import * as Y from "yjs";
const a = new Y.Doc(), b = new Y.Doc();
a.getMap("m").set("r", 1);
Y.applyUpdate(b, Y.encodeStateAsUpdate(a, Y.encodeStateVector(b)));
export default b.getMap("m").toJSON();`,
    wasm: null,
  },
  {
    lib: "automerge",
    label: "automerge (slim + .wasm)",
    code: `import * as A from "@automerge/automerge/slim";
await A.initializeWasm(new URL("./automerge.wasm", import.meta.url));
let a = A.from({ c: new A.Counter(), r: 1 });
a = A.change(a, (d) => d.c.increment());
const b = A.load(A.save(a));
export default A.toJS(b);`,
    wasm: nm("@automerge/automerge/dist/automerge.wasm"),
  },
  {
    lib: "automerge",
    label: "automerge (default import: wasm inlined as base64)",
    // platform browser picks the "browser" export (wasm as an ES module import, which esbuild
    // cannot load); the "webpack" condition selects the base64 build a bundler without wasm support gets.
    conditions: ["webpack"],
    code: `import * as A from "@automerge/automerge";
let a = A.from({ c: new A.Counter(), r: 1 });
a = A.change(a, (d) => d.c.increment());
const b = A.load(A.save(a));
export default A.toJS(b);`,
    wasm: null,
    extra: true,
  },
  {
    lib: "loro",
    label: "loro (web + .wasm)",
    code: `import init, { LoroDoc } from "loro-crdt/web";
await init();
const a = new LoroDoc(), b = new LoroDoc();
a.getCounter("c").increment(1); a.getMap("m").set("r", 1); a.commit();
b.import(a.export({ mode: "update", from: b.oplogVersion() }));
export default b.toJSON();`,
    wasm: nm("loro-crdt/web/loro_wasm_bg.wasm"),
  },
];

const gz = (buf) => gzipSync(buf, { level: 9 }).length;

export async function measureBundles(outDir = join(here, "out", "bundle"), pkgDir = null) {
  mkdirSync(outDir, { recursive: true });
  const rows = [];
  for (const [i, e] of ENTRIES.entries()) {
    const entry = join(outDir, `entry-${i}.mjs`);
    writeFileSync(entry, e.code + "\n");
    const res = await build({
      entryPoints: [entry],
      bundle: true,
      minify: true,
      format: "esm",
      platform: "browser",
      target: "es2022",
      write: false,
      outdir: join(outDir, `out-${i}`),
      absWorkingDir: here,
      nodePaths: [join(here, "node_modules")],
      logLevel: "error",
      ...(e.conditions ? { conditions: e.conditions } : {}),
      ...(pkgDir && e.lib === "slotkv" ? { alias: { slotkv: pkgDir } } : {}),
    });
    const js = res.outputFiles.filter((f) => f.path.endsWith(".js"));
    const jsBytes = js.reduce((a, f) => a + f.contents.length, 0);
    const jsGz = js.reduce((a, f) => a + gz(f.contents), 0);
    for (const f of res.outputFiles) writeFileSync(join(outDir, `entry-${i}.min.js`), f.contents);
    const wasm = e.wasm ? readFileSync(pkgDir && e.lib === "slotkv" ? join(pkgDir, "slotkv_wasm_bg.wasm") : e.wasm) : null;
    rows.push({
      lib: e.lib,
      label: e.label,
      extra: !!e.extra,
      jsBytes,
      jsGz,
      wasmBytes: wasm ? wasm.length : 0,
      wasmGz: wasm ? gz(wasm) : 0,
      totalGz: jsGz + (wasm ? gz(wasm) : 0),
    });
  }
  return rows;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.table(await measureBundles());
}
