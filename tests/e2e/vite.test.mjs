// A Vite (v7) app that imports slotkv builds, and runs in Chromium.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "vite";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS } from "./browser.mjs";

const appDir = fileURLToPath(new URL("../vite-app/", import.meta.url));
const MIME = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm" };

test("a Vite build of an app importing slotkv runs in Chromium", async () => {
  const outDir = await mkdtemp(join(tmpdir(), "slotkv-vite-"));
  try {
    await build({ root: appDir, logLevel: "error", build: { outDir, emptyOutDir: true } });
    const assets = await readdir(join(outDir, "assets"));
    assert.ok(assets.some((f) => f.endsWith(".wasm")), `the wasm is emitted as an asset: ${assets}`);

    const server = createServer(async (req, res) => {
      try {
        const path = new URL(req.url, "http://x").pathname;
        const file = join(outDir, path === "/" ? "index.html" : path);
        const body = await readFile(file);
        res.writeHead(200, { "content-type": MIME[extname(file)] ?? "application/octet-stream" });
        res.end(body);
      } catch {
        res.writeHead(404).end();
      }
    });
    await new Promise((r) => server.listen(0, "127.0.0.1", r));
    const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS });
    try {
      const page = await browser.newPage();
      const errors = [];
      page.on("pageerror", (e) => errors.push(e));
      await page.goto(`http://127.0.0.1:${server.address().port}/`);
      await page.waitForFunction(() => document.getElementById("out").textContent.startsWith("{"), null, { timeout: 15000 });
      const out = JSON.parse(await page.textContent("#out"));
      assert.deepEqual(out, { counters: { clicks: 2 }, registers: {}, sets: {} });
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
      server.close();
    }
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
});
