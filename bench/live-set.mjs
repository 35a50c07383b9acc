// Live sync of a large set: N adds of distinct elements to one set, each its
// own transaction, with an update listener (as a sync provider has) collecting
// each update; then a peer applies the N updates one by one. Then N/4 removes
// of members, the same way. Reports µs per write and per applied update. The
// cost must not grow with the set's size.
//
//   node bench/live-set.mjs [N=20000] [lib=slotkv,yjs,loro]   (each lib in a fresh process)
//
// slotkv: Doc.add + on("update"); yjs: a Y.Map key per element + doc.on("update");
// loro: a LoroMap key per element + commit() + subscribeLocalUpdates. (Yjs' and
// Loro's maps are LWW, not add-wins sets: the nearest structure each offers for
// this shape; W3 emulates add-wins sets faithfully for them.)
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const [nArg, libsArg, child] = process.argv.slice(2);
const N = Number(nArg ?? 20000);

async function run(lib) {
  const ups = [];
  let add, remove, apply, size;
  if (lib === "slotkv") {
    const url = process.env.SLOTKV_PKG ? pathToFileURL(join(process.env.SLOTKV_PKG, "node.js")).href : "slotkv";
    const { Doc } = await import(url);
    const [a, b] = [new Doc(), new Doc()];
    a.on("update", (u) => ups.push(u));
    add = (i) => a.add("s", "e" + i);
    remove = (i) => a.remove("s", "e" + i);
    apply = (u) => b.applyUpdate(u);
    size = () => b.members("s").length;
  } else if (lib === "yjs") {
    const Y = await import("yjs");
    const [a, b] = [new Y.Doc(), new Y.Doc()];
    a.on("update", (u) => ups.push(u));
    const m = a.getMap("s");
    add = (i) => m.set("e" + i, true);
    remove = (i) => m.delete("e" + i);
    apply = (u) => Y.applyUpdate(b, u);
    size = () => b.getMap("s").size;
  } else if (lib === "loro") {
    const { LoroDoc } = await import("loro-crdt");
    const [a, b] = [new LoroDoc(), new LoroDoc()];
    a.subscribeLocalUpdates((u) => ups.push(u));
    const m = a.getMap("s");
    add = (i) => {
      m.set("e" + i, true);
      a.commit();
    };
    remove = (i) => {
      m.delete("e" + i);
      a.commit();
    };
    apply = (u) => b.import(u);
    size = () => b.getMap("s").size;
  } else throw new Error(`unknown lib ${lib}`);
  // Times n writes, then the peer applying their n updates; µs each.
  const phase = (n, write) => {
    ups.length = 0;
    let t = performance.now();
    for (let i = 0; i < n; i++) write(i);
    const writeUs = ((performance.now() - t) * 1000) / n;
    t = performance.now();
    for (const u of ups) apply(u);
    return [writeUs, ((performance.now() - t) * 1000) / n];
  };
  const [addUs, applyUs] = phase(N, add);
  if (size() !== N) throw new Error(`${lib}: the peer holds ${size()} members, not ${N}`);
  // Every fourth element, spread over the set.
  const R = Math.floor(N / 4);
  const [removeUs, applyRemoveUs] = phase(R, (i) => remove(4 * i));
  if (size() !== N - R) throw new Error(`${lib}: after the removes the peer holds ${size()} members, not ${N - R}`);
  return { lib, N, addUs, applyUs, removeUs, applyRemoveUs };
}

if (child) {
  console.log(JSON.stringify(await run(child)));
} else {
  const here = fileURLToPath(import.meta.url);
  for (const lib of (libsArg ?? "slotkv,yjs,loro").split(",")) {
    const p = spawnSync(process.execPath, [here, String(N), "", lib], { encoding: "utf8" });
    if (p.status !== 0) throw new Error(p.stderr);
    const r = JSON.parse(p.stdout.trim().split("\n").pop());
    console.log(`${r.lib.padEnd(8)} N ${N}: ${r.addUs.toFixed(1)} µs per add with its update, ${r.applyUs.toFixed(1)} µs per update applied; ${r.removeUs.toFixed(1)} µs per remove, ${r.applyRemoveUs.toFixed(1)} µs per remove applied`);
  }
}
