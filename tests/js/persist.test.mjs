// persist()'s argument checks, which run before it touches storage (its
// storage behaviour is tested in Chromium: tests/e2e/persist.test.mjs).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Doc, persist } from "slotkv";

const PKG = fileURLToPath(new URL("../../pkg/", import.meta.url));

// Stand-ins for what persist() needs from a browser, which throw once used:
// the checks under test must come first.
const opened = [];
globalThis.indexedDB = {
  open(name) {
    opened.push(name);
    throw new Error("stand-in: IndexedDB was used");
  },
};
const hadNavigator = "navigator" in globalThis;
if (!hadNavigator) globalThis.navigator = {};
Object.defineProperty(globalThis.navigator, "locks", { value: {}, configurable: true });
after(() => {
  delete globalThis.indexedDB;
  delete globalThis.navigator.locks;
  if (!hadNavigator) delete globalThis.navigator;
});

// Found in review: a Doc of a second copy of the package (two bundles, two
// versions) passed persist()'s check, every stored record then failed to
// load into it and was skipped as corrupt, and the takeover rewrite stored
// its empty state over them.
test("persist refuses a Doc of another copy of the package before it touches storage", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "slotkv-copy-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(PKG, dir, { recursive: true });
  const other = await import(pathToFileURL(join(dir, "node.js")).href);
  const foreign = new other.Doc();
  assert.notEqual(other.Doc, Doc, "a second copy");
  await assert.rejects(persist(foreign, "x"), { name: "TypeError", message: /persist needs a Doc of the copy of slotkv it comes from/ });
  await assert.rejects(persist({ applyUpdate() {}, on() {} }, "x"), { name: "TypeError" });
  await assert.rejects(persist(null, "x"), { name: "TypeError", message: "slotkv: persist needs a Doc" });
  assert.deepEqual(opened, []);
  // A Doc of this copy gets past the checks, to storage.
  await assert.rejects(persist(new Doc(), "x"), /stand-in: IndexedDB was used/);
  assert.deepEqual(opened, ["slotkv:x"]);
  foreign.free();
});
