// README.md's example runs as written in a plain HTML page (import map, no bundler).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { start } from "./browser.mjs";
import { example, expected } from "../js/readme-example.mjs";

let env;
after(() => env?.close());

test("README example prints the documented results in a plain HTML page", async () => {
  env = await start();
  const page = await env.context.newPage();
  const html = `<!doctype html><meta charset="utf-8">
<script type="importmap">{ "imports": { "slotkv": "/pkg/index.js" } }</script>
<script type="module">${example}</script>`;
  await page.route("**/readme.html", (route) => route.fulfill({ body: html, contentType: "text/html; charset=utf-8" }));
  const logs = [];
  page.on("console", (m) => logs.push(m.text()));
  await page.goto(`${env.url}readme.html`);
  const deadline = Date.now() + 10000;
  while (logs.length < expected.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(logs, expected);
  assert.deepEqual(env.errors, []);
});
