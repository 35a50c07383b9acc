// Documents release their wasm memory: by free(), and when only garbage-collected.
import { test } from "node:test";
import assert from "node:assert/strict";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { Doc, wasmMemoryBytes } from "slotkv";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc");
const settle = async () => {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 10));
  }
};

function fill(doc) {
  doc.increment("clicks", 3);
  doc.set("status", { text: "x".repeat(200) });
  doc.add("tags", "a");
}

test("10 000 documents freed explicitly do not grow wasm memory", () => {
  for (let i = 0; i < 500; i++) {
    const d = new Doc();
    fill(d);
    d.free();
  }
  const base = wasmMemoryBytes();
  for (let i = 0; i < 10_000; i++) {
    const d = new Doc();
    fill(d);
    d.free();
  }
  assert.equal(wasmMemoryBytes(), base);
});

// (Each with a `now` option as well: the core holds the clock function, which
// must not hold the Doc, or the Doc could never be collected.)
test("10 000 documents dropped without free() are released by garbage collection", async () => {
  const batch = async () => {
    for (let i = 0; i < 500; i++) fill(new Doc());
    for (let i = 0; i < 500; i++) fill(new Doc({ now: () => 1_000 + i }));
    await settle();
  };
  await batch();
  const base = wasmMemoryBytes();
  for (let i = 0; i < 10; i++) await batch();
  // Held for good, 10 000 documents would need several MB more; released, memory stays within a page or two of reuse.
  assert.ok(wasmMemoryBytes() <= base + 256 * 1024, `grew from ${base} to ${wasmMemoryBytes()}`);
});
