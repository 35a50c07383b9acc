// The demo in real Chromium tabs: clicks in every tab add up everywhere.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { start } from "./browser.mjs";

let env;
before(async () => {
  env = await start();
});
after(async () => {
  await env?.close();
});

test("two tabs click concurrently and both show the sum", async () => {
  const a = await env.open();
  const b = await env.open();
  const clicks = [];
  for (let i = 0; i < 5; i++) clicks.push(a.click("[data-testid=plus]"), b.click("[data-testid=plus]"));
  await Promise.all(clicks);
  await b.click("[data-testid=plus]");
  for (const page of [a, b]) {
    await page.waitForFunction(() => document.querySelector("[data-testid=total]").textContent === "11", null, { timeout: 10000 });
  }
  assert.equal(await a.textContent("[data-testid=total]"), "11");
  assert.equal(await b.textContent("[data-testid=total]"), "11");
  const slots = await a.evaluate(() => globalThis.slotkv.doc.counterSlots("clicks"));
  assert.deepEqual(Object.values(slots).sort(), [5, 6]);
  assert.deepEqual(env.errors, []);
});
