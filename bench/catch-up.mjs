// Catch-up of a peer in a large document: replica A holds N register keys, a
// peer loads A's state, A changes one key, and A computes what the peer lacks
// (what a sync provider does when a tab rejoins). Reports µs per catch-up and
// its bytes. The cost should follow what the peer lacks, not the document.
//
//   node bench/catch-up.mjs [N=20000] [lib=slotkv,yjs,loro]   (each lib in a fresh process)
//
// slotkv: encodeDelta(peer.version()); yjs: encodeStateAsUpdate(doc,
// encodeStateVector(peer)); loro: export({ mode: "update", from: peer.oplogVersion() }).
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const [nArg, libsArg, child] = process.argv.slice(2);
const N = Number(nArg ?? 20000);

async function setup(lib) {
  if (lib === "slotkv") {
    const url = process.env.SLOTKV_PKG ? pathToFileURL(join(process.env.SLOTKV_PKG, "node.js")).href : "slotkv";
    const { Doc } = await import(url);
    const a = new Doc();
    a.transact(() => {
      for (let i = 0; i < N; i++) a.set(`key${i}`, i);
    });
    const peer = Doc.load(a.encodeState());
    a.set("key7", "changed");
    const since = peer.version();
    return { state: () => a.encodeState(), catchUp: () => a.encodeDelta(since), check: (d) => (peer.applyUpdate(d), peer.get("key7")) };
  }
  if (lib === "yjs") {
    const Y = await import("yjs");
    const a = new Y.Doc();
    const m = a.getMap("registers");
    a.transact(() => {
      for (let i = 0; i < N; i++) m.set(`key${i}`, i);
    });
    const peer = new Y.Doc();
    Y.applyUpdate(peer, Y.encodeStateAsUpdate(a));
    m.set("key7", "changed");
    const sv = Y.encodeStateVector(peer);
    return {
      state: () => Y.encodeStateAsUpdate(a),
      catchUp: () => Y.encodeStateAsUpdate(a, sv),
      check: (d) => (Y.applyUpdate(peer, d), peer.getMap("registers").get("key7")),
    };
  }
  if (lib === "loro") {
    const { LoroDoc } = await import("loro-crdt");
    const a = new LoroDoc();
    const m = a.getMap("registers");
    for (let i = 0; i < N; i++) m.set(`key${i}`, i);
    a.commit();
    const peer = new LoroDoc();
    peer.import(a.export({ mode: "snapshot" }));
    m.set("key7", "changed");
    a.commit();
    const from = peer.oplogVersion();
    return {
      state: () => a.export({ mode: "snapshot" }),
      catchUp: () => a.export({ mode: "update", from }),
      check: (d) => (peer.import(d), peer.getMap("registers").get("key7")),
    };
  }
  throw new Error(`unknown lib ${lib}`);
}

function perCall(fn) {
  for (let i = 0; i < 20; i++) fn();
  const start = performance.now();
  let n = 0;
  while (performance.now() - start < 1500) {
    fn();
    n++;
  }
  return ((performance.now() - start) * 1000) / n;
}

if (child) {
  const s = await setup(child);
  const delta = s.catchUp();
  const got = s.check(delta);
  if (got !== "changed") throw new Error(`${child}: the peer read ${JSON.stringify(got)} after catching up`);
  const out = { lib: child, n: N, stateBytes: s.state().length, catchUpBytes: delta.length, catchUpUs: perCall(s.catchUp), stateUs: perCall(s.state) };
  console.log(JSON.stringify(out));
} else {
  const here = fileURLToPath(import.meta.url);
  const rows = [];
  for (const lib of (libsArg ?? "slotkv,yjs,loro").split(",")) {
    const r = spawnSync(process.execPath, [here, String(N), lib, lib], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
    if (r.status !== 0) throw new Error(`${lib} failed`);
    rows.push(JSON.parse(r.stdout.trim().split("\n").pop()));
  }
  console.log(`catch-up of one changed key in a document of ${N} register keys (µs per call, bytes)`);
  console.log("lib       catch-up µs   catch-up B   state µs     state B");
  for (const r of rows) {
    const f = (x, w) => String(typeof x === "number" && !Number.isInteger(x) ? x.toFixed(1) : x).padStart(w);
    console.log(`${r.lib.padEnd(8)}${f(r.catchUpUs, 12)}${f(r.catchUpBytes, 13)}${f(r.stateUs, 11)}${f(r.stateBytes, 12)}`);
  }
  const me = rows.find((r) => r.lib === "slotkv");
  const peers = rows.filter((r) => r.lib !== "slotkv");
  if (me && peers.length) {
    const best = Math.min(...peers.map((r) => r.catchUpUs));
    console.log(`slotkv catch-up time ÷ fastest peer's: ${(me.catchUpUs / best).toFixed(2)}×`);
  }
}
