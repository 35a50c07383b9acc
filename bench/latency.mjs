// Tab-to-tab latency in Chromium: two tabs of one origin, round trips over a raw
// BroadcastChannel vs through slotkv (Doc + BroadcastSync), alternating in short
// blocks so that both kinds see the same moments of a noisy machine.
import { chromium } from "playwright-core";
import { fileURLToPath } from "node:url";
import { serve } from "./serve.mjs";

// The launch arguments of tests/e2e/browser.mjs.
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

export function percentile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

const median = (xs) => percentile(xs, 50);
const stats = (xs) => ({ n: xs.length, p50: percentile(xs, 50), p99: percentile(xs, 99), mean: xs.reduce((a, b) => a + b, 0) / xs.length });

// One run: a fresh browser, two tabs, `rounds` × `perRound` round trips of each kind.
async function oneRun({ rounds, perRound, warmup, url }) {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: ARGS });
  try {
    const context = await browser.newContext();
    const errors = [];
    const open = async () => {
      const page = await context.newPage();
      page.on("pageerror", (e) => errors.push(e));
      await page.goto(url);
      await page.waitForFunction(() => globalThis.bench?.ready);
      return page;
    };
    const ping = await open();
    const echo = await open();
    await echo.evaluate(() => {
      globalThis.bench.echoRaw();
      globalThis.bench.echoKv();
    });
    // Warm-up (not recorded).
    let offset = (await ping.evaluate(([n, o]) => globalThis.bench.pingBoth(n, o), [warmup, 0])).next;
    const raw = [];
    const kv = [];
    let block;
    for (let r = 0; r < rounds; r++) {
      const got = await ping.evaluate(([n, o]) => globalThis.bench.pingBoth(n, o), [perRound, offset]);
      raw.push(...got.raw);
      kv.push(...got.kv);
      offset = got.next;
      block = got.block;
    }
    if (errors.length) throw errors[0];
    const isolated = await ping.evaluate(() => globalThis.bench.isolated);
    return { browser: `Chromium ${browser.version()}`, isolated, block, raw: stats(raw), slotkv: stats(kv) };
  } finally {
    await browser.close();
  }
}

// `runs` runs, each in a fresh browser (as each workload run is a fresh Node process).
// The ratios slotkv ÷ raw are taken within each run, then their median across runs.
// The warm-up (round trips of each kind, not recorded) outlasts V8's first
// optimising compiles of the hot wasm functions: with 100, a trace showed one of
// 70-90 ms per tab on a background thread landing in the measured rounds.
export async function measureLatency({ runs = 3, rounds = 4, perRound = 400, warmup = 1000, pkgDir, log = console.log } = {}) {
  const server = await serve(0, "127.0.0.1", pkgDir);
  const url = `http://127.0.0.1:${server.address().port}/`;
  try {
    const each = [];
    for (let k = 0; k < runs; k++) {
      const r = await oneRun({ rounds, perRound, warmup, url });
      r.ratio = { p50: r.slotkv.p50 / r.raw.p50, p99: r.slotkv.p99 / r.raw.p99, mean: r.slotkv.mean / r.raw.mean };
      each.push(r);
      log(`  latency run ${k + 1}/${runs}: raw p50 ${r.raw.p50.toFixed(3)} p99 ${r.raw.p99.toFixed(3)} ms, slotkv p50 ${r.slotkv.p50.toFixed(3)} p99 ${r.slotkv.p99.toFixed(3)} ms (p99 ${r.ratio.p99.toFixed(2)}×)`);
    }
    const ratio = Object.fromEntries(["p50", "p99", "mean"].map((m) => [m, median(each.map((r) => r.ratio[m]))]));
    return { browser: each[0].browser, isolated: each[0].isolated, warmup, runs: each, ratio };
  } finally {
    await new Promise((r) => server.close(r));
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(JSON.stringify(await measureLatency(), null, 2));
}
