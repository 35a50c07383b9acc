// The Doc API of SPEC §2, imported exactly as a user would: by package name.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Doc } from "slotkv";

function exchange(a, b) {
  b.applyUpdate(a.encodeDelta(b.version()));
  a.applyUpdate(b.encodeDelta(a.version()));
}

test("a new Doc has a random 64-bit client id as 16 hex characters", () => {
  const a = new Doc();
  const b = new Doc();
  assert.match(a.clientId, /^[0-9a-f]{16}$/);
  assert.notEqual(a.clientId, b.clientId);
  assert.equal(new Doc({ clientId: "tab-1" }).clientId, "tab-1");
});

test("two tabs that click +1 at the same moment count two", () => {
  const a = new Doc({ clientId: "a" });
  const b = new Doc({ clientId: "b" });
  a.increment("clicks");
  b.increment("clicks");
  exchange(a, b);
  assert.equal(a.counter("clicks"), 2);
  assert.equal(b.counter("clicks"), 2);
  assert.deepEqual(a.counterSlots("clicks"), { a: 1, b: 1 });
});

test("counters: increments, decrements, absent keys and slots", () => {
  const d = new Doc({ clientId: "me" });
  assert.equal(d.counter("x"), 0);
  assert.deepEqual(d.counterSlots("x"), {});
  d.increment("x", 10);
  d.decrement("x", 3);
  d.increment("x", -2);
  assert.equal(d.counter("x"), 5);
  assert.deepEqual(d.counterSlots("x"), { me: 5 });
  assert.deepEqual(d.keys("counter"), ["x"]);
});

test("registers hold JSON values and bytes, and delete", () => {
  const d = new Doc();
  const value = { a: [1, "two", null, true, { b: -0.5 }], "": "empty key", "é": "ü" };
  d.set("json", value);
  assert.deepEqual(d.get("json"), value);
  d.set("bytes", new Uint8Array([0, 1, 255]));
  assert.deepEqual(d.get("bytes"), new Uint8Array([0, 1, 255]));
  assert.equal(d.get("missing"), undefined);
  d.delete("json");
  assert.equal(d.get("json"), undefined);
  assert.deepEqual(d.keys("register"), ["bytes"]);
});

test("sets: add, remove, has, members sorted by UTF-8 bytes", () => {
  const d = new Doc();
  for (const e of ["b", "a", "é", "Z", "👍"]) d.add("s", e);
  d.remove("s", "b");
  assert.equal(d.has("s", "a"), true);
  assert.equal(d.has("s", "b"), false);
  assert.deepEqual(d.members("s"), ["Z", "a", "é", "👍"]);
  assert.deepEqual(d.members("none"), []);
});

test("state round trip: load(encodeState()) gives the same document", () => {
  const a = new Doc();
  a.increment("c", 3);
  a.set("r", "hello");
  a.add("s", "x");
  const b = Doc.load(a.encodeState());
  assert.deepEqual(b.toJSON(), a.toJSON());
  assert.deepEqual(b.toJSON(), { counters: { c: 3 }, registers: { r: "hello" }, sets: { s: ["x"] } });
});

test("applyUpdate of a malformed update throws and changes nothing", () => {
  const d = new Doc();
  d.increment("c");
  const before = d.encodeState();
  const good = d.encodeState();
  for (const bad of [new Uint8Array(), new Uint8Array([1, 2, 3]), good.slice(0, good.length - 1)]) {
    assert.throws(() => d.applyUpdate(bad), (e) => e instanceof Error && /slotkv: cannot apply update/.test(e.message));
  }
  assert.deepEqual(d.encodeState(), before);
  d.increment("c");
  assert.equal(d.counter("c"), 2);
});

test("bad arguments throw TypeError or RangeError and the Doc keeps working", () => {
  const d = new Doc();
  assert.throws(() => d.increment(1), TypeError);
  assert.throws(() => d.increment("c", "1"), TypeError);
  assert.throws(() => d.increment("c", 0.5), RangeError);
  assert.throws(() => d.increment("c", 2 ** 53), RangeError);
  assert.throws(() => d.increment(""), RangeError);
  assert.throws(() => d.increment("k".repeat(1025)), RangeError);
  assert.throws(() => d.set("r", () => 1), TypeError);
  assert.throws(() => d.applyUpdate("nope"), TypeError);
  d.increment("c");
  assert.equal(d.counter("c"), 1);
});
