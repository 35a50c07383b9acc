// Shared setup for the end-to-end tests: the demo server and Debian's Chromium
// driven by playwright-core (no browser download).
import { chromium } from "playwright-core";
import { serve } from "../../tools/serve.mjs";

export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Starts the demo server and a browser; returns them with a `close()`. */
export async function start() {
  const server = await serve(0);
  const url = `http://127.0.0.1:${server.address().port}/`;
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: CHROMIUM_ARGS });
  const context = await browser.newContext();
  const errors = [];
  context.on("weberror", (e) => errors.push(e.error()));
  return {
    url,
    context,
    errors,
    async open() {
      const page = await context.newPage();
      page.on("console", (m) => {
        if (m.type() === "error") errors.push(new Error(m.text()));
      });
      await page.goto(url);
      await page.waitForFunction(() => globalThis.slotkv?.doc);
      return page;
    },
    async close() {
      await browser.close();
      await new Promise((r) => server.close(r));
    },
  };
}

/** Polls `fn` (in the test) until it returns a truthy value; fails naming `what` after `ms`. */
export async function waitFor(what, fn, ms = 15000, every = 50) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}
