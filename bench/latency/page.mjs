// Round trips between two tabs. The "echo" tab answers; the "ping" tab times.
//   raw:    postMessage({ i }) -> echo posts { i } back                 (2 x BroadcastChannel)
//   slotkv: doc.set("ping", i) -> echo tab's change event, doc.set("pong", i)
//           -> this tab's change event with pong === i                  (2 x update applied in the other tab)
// The two kinds alternate in short blocks (pingBoth).
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

// One raw channel and one Doc in the ping tab, made on the first call.
let ping;
async function setUp() {
  const raw = new BroadcastChannel(RAW);
  const doc = new Doc();
  const sync = new BroadcastSync(doc, KV);
  const p = { raw, doc, sync, resolve: null };
  raw.onmessage = (e) => p.resolve(e.data.i);
  doc.on("change", (e) => {
    if (!e.local && e.registers.includes("pong") && p.resolve) p.resolve(doc.get("pong"));
  });
  // Wait until the echo tab is a peer (the hello/sync round trip is done).
  const t0 = performance.now();
  while (!sync.peers.length) {
    if (performance.now() - t0 > 10000) throw new Error("the echo tab never joined");
    await new Promise((r) => setTimeout(r, 10));
  }
  return p;
}

// n raw round trips and n slotkv round trips, alternating in blocks of BLOCK,
// so that both kinds see the same moments of the machine (other processes, the
// browser's own work). The first trip of each block is not recorded: the other
// tab may still be finishing the work of the previous kind.
const BLOCK = 20;
async function pingBoth(n, offset) {
  ping ??= await setUp();
  const sendRaw = (i) => ping.raw.postMessage({ i });
  const sendKv = (i) => ping.doc.set("ping", i);
  const raw = [];
  const kv = [];
  let i = offset;
  const block = async (send, out, count) => {
    for (let k = 0; k <= count; k++, i++) {
      const got = new Promise((r) => (ping.resolve = r));
      const t = performance.now();
      send(i);
      const v = await got;
      const ms = performance.now() - t;
      if (v !== i) throw new Error(`echo out of order: ${v} != ${i}`);
      if (k > 0) out.push(ms);
    }
  };
  while (raw.length < n) {
    const count = Math.min(BLOCK, n - raw.length);
    await block(sendRaw, raw, count);
    await block(sendKv, kv, count);
  }
  ping.resolve = null;
  return { raw, kv, next: i, block: BLOCK };
}

globalThis.bench = { echoRaw, echoKv, pingBoth, isolated: globalThis.crossOriginIsolated, ready: true };
