// Tab-to-tab latency in Chromium: two tabs of one origin, round trips over a raw
// BroadcastChannel vs through slotkv (Doc + BroadcastSync), alternating in short
// blocks so that both kinds see the same moments of a noisy machine.
import { chromium } from "playwright-core";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { serve } from "./serve.mjs";

// The launch arguments of tests/e2e/browser.mjs, plus the switches of
// Playwright's own launch that bear on timing (no throttling of timers or
// renderers, no IPC flood protection, no field trials).
const ARGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
  "--disable-field-trial-config", "--disable-background-timer-throttling", "--disable-backgrounding-occluded-windows", "--disable-renderer-backgrounding",
  "--disable-ipc-flooding-protection", "--disable-hang-monitor", "--disable-dev-shm-usage", "--disable-extensions", "--disable-breakpad",
  "--no-default-browser-check", "--metrics-recording-only", "--password-store=basic", "--mute-audio",
];
// V8 then prints a line for each wasm function it compiles; "using TurboFan"
// is a tier-up, run on a background thread.
const TRACE = "--js-flags=--trace-wasm-compilation-times";

export function percentile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

const median = (xs) => percentile(xs, 50);
const stats = (xs) => ({ n: xs.length, p50: percentile(xs, 50), p99: percentile(xs, 99), mean: xs.reduce((a, b) => a + b, 0) / xs.length });
const ratios = (raw, kv) => ({ p50: kv.p50 / raw.p50, p99: kv.p99 / raw.p99, mean: kv.mean / raw.mean });

// Chromium started here rather than by chromium.launch, to read its stdout
// (Playwright keeps a browser's output to its debug log); Playwright drives
// it over CDP.
async function launch() {
  const dir = mkdtempSync(join(tmpdir(), "slotkv-latency-"));
  const proc = spawn(process.env.CHROMIUM ?? "/usr/bin/chromium", [...ARGS, TRACE, "--remote-debugging-port=0", `--user-data-dir=${dir}`, "about:blank"], { stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise((r) => proc.once("exit", r));
  const counts = { compiles: 0, tierUps: 0 };
  createInterface({ input: proc.stdout }).on("line", (line) => {
    if (!line.includes("Compiled function")) return;
    counts.compiles++;
    if (line.includes("using TurboFan")) counts.tierUps++;
  });
  const close = async (browser) => {
    await browser?.close().catch(() => {});
    if (proc.pid !== undefined) {
      proc.kill();
      await exited;
    }
    // Chromium's helper processes may still be writing to the profile for a moment.
    for (let i = 0; i < 50; i++) {
      try {
        rmSync(dir, { recursive: true, force: true });
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };
  try {
    const endpoint = await new Promise((ok, fail) => {
      const timer = setTimeout(() => fail(new Error("Chromium did not start in 30 s")), 30000);
      const settle = (f) => (v) => {
        clearTimeout(timer);
        f(v);
      };
      createInterface({ input: proc.stderr }).on("line", (line) => {
        const m = /DevTools listening on (ws:\S+)/.exec(line);
        if (m) settle(ok)(m[1]);
      });
      exited.then((code) => settle(fail)(new Error(`Chromium exited (${code}) before it listened`)));
      proc.once("error", settle(fail));
    });
    const browser = await chromium.connectOverCDP(endpoint);
    return { browser, counts, close: () => close(browser) };
  } catch (e) {
    await close();
    throw e;
  }
}

// One run: a fresh browser, two tabs. After `warmup` round trips of each kind,
// rounds of `perRound` go on as warm-up until `quiet` rounds in a row saw no
// wasm tier-up (at most `maxTiering` rounds): V8 moves a function to TurboFan
// only when it has run enough, and the functions of one sync step, run once
// or twice per update, get there after thousands of updates. Those rounds are
// kept apart, as the latency while V8 tiers up. Then `rounds` × `perRound`
// round trips of each kind are measured, counting the tier-ups among them:
// the quiet rounds end the main burst, not the tier-ups, which go on at a few
// per round for as long as anyone has looked (17 000 trips).
async function oneRun({ rounds, perRound, warmup, quiet, maxTiering, url }) {
  const { browser, counts, close } = await launch();
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
    let offset = 0;
    let block;
    const trips = async (n) => {
      const got = await ping.evaluate(([n, o]) => globalThis.bench.pingBoth(n, o), [n, offset]);
      offset = got.next;
      block = got.block;
      return got;
    };
    await trips(warmup);
    const tiering = { raw: [], kv: [] };
    let calm = 0;
    let tieringRounds = 0;
    const tierUpsBefore = counts.tierUps;
    while (calm < quiet && tieringRounds < maxTiering) {
      const before = counts.tierUps;
      const got = await trips(perRound);
      tiering.raw.push(...got.raw);
      tiering.kv.push(...got.kv);
      tieringRounds++;
      calm = counts.tierUps === before ? calm + 1 : 0;
    }
    const tierUpsWhileWarming = counts.tierUps - tierUpsBefore;
    const measuredFrom = counts.tierUps;
    const raw = [];
    const kv = [];
    for (let r = 0; r < rounds; r++) {
      const got = await trips(perRound);
      raw.push(...got.raw);
      kv.push(...got.kv);
    }
    if (errors.length) throw errors[0];
    const isolated = await ping.evaluate(() => globalThis.bench.isolated);
    const tieringStats = { raw: stats(tiering.raw), slotkv: stats(tiering.kv) };
    tieringStats.ratio = ratios(tieringStats.raw, tieringStats.slotkv);
    return {
      browser: `Chromium ${browser.version()}`,
      isolated,
      block,
      warmTrips: warmup + tieringRounds * perRound,
      // Without a single compile line (Liftoff's at load included), this
      // browser does not print them: the tier-ups could not be counted.
      traced: counts.compiles > 0,
      settled: counts.compiles > 0 && calm >= quiet,
      tierUpsWhileWarming,
      tierUpsMeasured: counts.tierUps - measuredFrom,
      tiering: tieringStats,
      raw: stats(raw),
      slotkv: stats(kv),
    };
  } finally {
    await close();
  }
}

// `runs` runs, each in a fresh browser (as each workload run is a fresh Node process).
// The ratios slotkv ÷ raw are taken within each run, then their median across runs.
// The first `warmup` round trips are long enough for V8's first optimising
// compiles (70-90 ms per tab for the largest function); the quiet rounds after
// them wait out the main burst of tier-ups (see oneRun). The measured window
// is long so that its p99 (the slowest 1 % of its trips) holds several times
// more trips than the tier-ups that still land in it: over 1600 trips the p99
// was the 16 slowest, about as many as the tier-ups, and its ratio to raw
// spread over 1.19-3.24x between the runs of one `make bench`.
export async function measureLatency({ runs = 3, rounds = 20, perRound = 400, warmup = 1000, quiet = 2, maxTiering = 30, pkgDir, log = console.log } = {}) {
  const server = await serve(0, "127.0.0.1", pkgDir);
  const url = `http://127.0.0.1:${server.address().port}/`;
  try {
    const each = [];
    for (let k = 0; k < runs; k++) {
      const r = await oneRun({ rounds, perRound, warmup, quiet, maxTiering, url });
      r.ratio = ratios(r.raw, r.slotkv);
      each.push(r);
      log(`  latency run ${k + 1}/${runs}: warm after ${r.warmTrips} trips (${r.tierUpsWhileWarming} tier-ups${r.settled ? "" : ", NOT settled"}; p99 then ${r.tiering.ratio.p99.toFixed(2)}×), then raw p50 ${r.raw.p50.toFixed(3)} p99 ${r.raw.p99.toFixed(3)} ms, slotkv p50 ${r.slotkv.p50.toFixed(3)} p99 ${r.slotkv.p99.toFixed(3)} ms (p99 ${r.ratio.p99.toFixed(2)}×, ${r.tierUpsMeasured} tier-ups)`);
    }
    const over = (get) => Object.fromEntries(["p50", "p99", "mean"].map((m) => [m, median(each.map((r) => get(r)[m]))]));
    return { browser: each[0].browser, isolated: each[0].isolated, warmup, quiet, perRound, maxTiering, runs: each, ratio: over((r) => r.ratio), tieringRatio: over((r) => r.tiering.ratio) };
  } finally {
    await new Promise((r) => server.close(r));
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(JSON.stringify(await measureLatency(), null, 2));
}
