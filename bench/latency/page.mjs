// Round trips between two tabs. The "echo" tab answers; the "ping" tab times.
//   raw:    postMessage({ i }) -> echo posts { i } back                 (2 x BroadcastChannel)
//   slotkv: doc.set("ping", i) -> echo tab's change event, doc.set("pong", i)
//           -> this tab's change event with pong === i                  (2 x update applied in the other tab)
import { BroadcastSync, Doc } from "/pkg/index.js";

const RAW = "bench-raw";
const KV = "bench-kv";

function echoRaw() {
  const ch = new BroadcastChannel(RAW);
  ch.onmessage = (e) => ch.postMessage(e.data);
}

function echoKv() {
  const doc = new Doc();
  const sync = new BroadcastSync(doc, KV);
  doc.on("change", (e) => {
    if (!e.local && e.registers.includes("ping")) doc.set("pong", doc.get("ping"));
  });
  return { doc, sync };
}

async function pingRaw(n) {
  const ch = new BroadcastChannel(RAW);
  const out = [];
  let rawResolve;
  ch.onmessage = (e) => rawResolve(e.data);
  for (let i = 0; i < n; i++) {
    const got = new Promise((r) => (rawResolve = r));
    const t = performance.now();
    ch.postMessage({ i });
    const m = await got;
    out.push(performance.now() - t);
    if (m.i !== i) throw new Error(`raw echo out of order: ${m.i} != ${i}`);
  }
  ch.close();
  return out;
}

let kv;
let resolve;
async function pingKv(n, offset) {
  if (!kv) {
    const doc = new Doc();
    const sync = new BroadcastSync(doc, KV);
    kv = { doc, sync };
    doc.on("change", (e) => {
      if (!e.local && e.registers.includes("pong") && resolve) resolve(doc.get("pong"));
    });
    // Wait until the echo tab is a peer (the hello/sync round trip is done).
    const t0 = performance.now();
    while (!sync.peers.length) {
      if (performance.now() - t0 > 10000) throw new Error("the echo tab never joined");
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  const { doc } = kv;
  const out = [];
  for (let k = 0; k < n; k++) {
    const i = offset + k;
    const got = new Promise((r) => (resolve = r));
    const t = performance.now();
    doc.set("ping", i);
    const v = await got;
    out.push(performance.now() - t);
    if (v !== i) throw new Error(`slotkv echo out of order: ${v} != ${i}`);
  }
  resolve = null;
  return out;
}

globalThis.bench = { echoRaw, echoKv, pingRaw, pingKv, isolated: globalThis.crossOriginIsolated, ready: true };
