// Tab-to-tab latency in Chromium: two tabs of one origin, round trips over a raw
// BroadcastChannel vs through slotkv (Doc + BroadcastSync), interleaved in rounds.
import { chromium } from "playwright-core";
import { fileURLToPath } from "node:url";
import { serve } from "./serve.mjs";

// The launch arguments of tests/e2e/browser.mjs.
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

export function percentile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

export async function measureLatency({ rounds = 4, perRound = 400, warmup = 100, pkgDir, log = console.log } = {}) {
  const server = await serve(0, "127.0.0.1", pkgDir);
  const url = `http://127.0.0.1:${server.address().port}/`;
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
    await ping.evaluate((n) => globalThis.bench.pingRaw(n), warmup);
    await ping.evaluate((n) => globalThis.bench.pingKv(n, 0), warmup);
    const raw = [];
    const kv = [];
    let offset = warmup;
    for (let r = 0; r < rounds; r++) {
      raw.push(...(await ping.evaluate((n) => globalThis.bench.pingRaw(n), perRound)));
      kv.push(...(await ping.evaluate(([n, o]) => globalThis.bench.pingKv(n, o), [perRound, offset])));
      offset += perRound;
      log(`  latency round ${r + 1}/${rounds}: raw p50 ${percentile(raw, 50).toFixed(3)} ms, slotkv p50 ${percentile(kv, 50).toFixed(3)} ms`);
    }
    if (errors.length) throw errors[0];
    const version = browser.version();
    const isolated = await ping.evaluate(() => globalThis.bench.isolated);
    const stats = (xs) => ({ n: xs.length, p50: percentile(xs, 50), p99: percentile(xs, 99), mean: xs.reduce((a, b) => a + b, 0) / xs.length });
    return { browser: `Chromium ${version}`, isolated, raw: stats(raw), slotkv: stats(kv) };
  } finally {
    await browser.close();
    await new Promise((r) => server.close(r));
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(JSON.stringify(await measureLatency(), null, 2));
}
