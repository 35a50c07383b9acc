// The Doc API of SPEC §2, imported exactly as a user would: by package name.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Doc, FORMAT_VERSION, wasmMemoryBytes } from "slotkv";
// How persist loads a document's own storage (the same module instance: node_modules/slotkv links to pkg/).
import { applyStored } from "../../pkg/doc.js";

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

// ----- options -----

const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

test("clientId: 1 to 64 bytes of UTF-8, counted in bytes, not characters", () => {
  for (const id of ["x", "k".repeat(64), "é".repeat(32), "😀".repeat(16), "€".repeat(21) + "a", "a b\0c"]) {
    assert.equal(new Doc({ clientId: id }).clientId, id);
  }
  for (const id of ["", "k".repeat(65), "é".repeat(32) + "a", "😀".repeat(16) + "a", "€".repeat(22)]) {
    assert.throws(() => new Doc({ clientId: id }), { name: "RangeError", message: /clientId must be 1 to 64 bytes of UTF-8/ }, id);
  }
  for (const id of [1, null, Symbol("id"), {}, "a\ud800"]) {
    assert.throws(() => new Doc({ clientId: id }), { name: "TypeError", message: /clientId/ });
  }
  // the message gives the byte length
  assert.throws(() => new Doc({ clientId: "é".repeat(33) }), /got 66/);
});

test("now: an injected clock makes register timestamps, and so whole states, deterministic", () => {
  let t = 1_000;
  const make = () => new Doc({ clientId: "tab", now: () => t });
  const [a, b] = [make(), make()];
  for (const d of [a, b]) {
    t = 1_000;
    d.set("r", 1);
    d.set("r", 2); // same millisecond: the logical counter orders it
    t = 2_000;
    d.set("q", "x");
    t = 500; // the wall clock goes back: still later than everything seen
    d.delete("q");
  }
  assert.deepEqual(a.registerInfo("r"), { writer: "tab", wall: 1_000, logical: 1, deleted: false });
  assert.deepEqual(a.registerInfo("q"), { writer: "tab", wall: 2_000, logical: 1, deleted: true });
  assert.deepEqual(b.registerInfo("r"), a.registerInfo("r"));
  assert.ok(same(a.encodeState(), b.encodeState()), "same clock, same client, same writes: same bytes");
});

test("registers: equal timestamps go to the larger client id on every replica", () => {
  const now = () => 7;
  const a = new Doc({ clientId: "a", now });
  const b = new Doc({ clientId: "b", now });
  a.set("r", "from a");
  b.set("r", "from b");
  assert.deepEqual(a.registerInfo("r"), { writer: "a", wall: 7, logical: 0, deleted: false });
  exchange(a, b);
  assert.equal(a.get("r"), "from b");
  assert.equal(b.get("r"), "from b");
  assert.equal(a.registerInfo("r").writer, "b");
});

test("registers: a later set beats an earlier delete and vice versa", () => {
  let t = 10;
  const a = new Doc({ clientId: "a", now: () => t });
  const b = new Doc({ clientId: "b", now: () => t });
  a.set("r", "v");
  exchange(a, b);
  t = 20;
  b.delete("r");
  t = 30;
  a.set("r", "later");
  exchange(a, b);
  assert.equal(b.get("r"), "later");
  t = 40;
  b.delete("r");
  exchange(a, b);
  assert.equal(a.get("r"), undefined);
  assert.equal(a.registerInfo("r").deleted, true);
});

test("tombstoneRetentionMs: validated, and a tombstone is dropped once it is older on the document's clock", () => {
  for (const bad of [-1, 1.5, NaN, Infinity, 2 ** 53, -(2 ** 53)]) {
    assert.throws(() => new Doc({ tombstoneRetentionMs: bad }), { name: "RangeError", message: /tombstoneRetentionMs/ }, String(bad));
  }
  for (const bad of ["100", null, 10n, {}]) {
    assert.throws(() => new Doc({ tombstoneRetentionMs: bad }), { name: "TypeError", message: /tombstoneRetentionMs/ });
  }
  assert.doesNotThrow(() => new Doc({ tombstoneRetentionMs: 0 }));
  assert.doesNotThrow(() => new Doc({ tombstoneRetentionMs: Number.MAX_SAFE_INTEGER }));

  let t = 1_000;
  const a = new Doc({ clientId: "a", now: () => t, tombstoneRetentionMs: 100 });
  a.set("r", "v");
  const before = a.encodeState(); // a replica that saw the set, not the delete
  t = 1_010;
  a.delete("r");
  t = 1_109; // younger than the retention: kept
  const kept = a.encodeState();
  assert.deepEqual(a.registerInfo("r"), { writer: "a", wall: 1_010, logical: 0, deleted: true });
  t = 1_110; // as old as the retention, but the newest write: kept (a replica loading the state sets its clock by it)
  assert.deepEqual(a.encodeState(), kept);
  a.set("later", 1); // now it is gone from the state
  const purged = a.encodeState();
  assert.equal(a.registerInfo("r"), undefined);
  assert.equal(Doc.load(purged).registerInfo("r"), undefined, "the tombstone is no longer in the state");
  // The causal context still stops the write this replica has seen from coming back.
  a.applyUpdate(before);
  assert.equal(a.get("r"), undefined);
  assert.deepEqual(a.keys("register"), ["later"]);
  // The default keeps it for 30 days.
  t = 1_000;
  const d = new Doc({ now: () => t });
  d.set("r", 1);
  d.delete("r");
  t += 30 * 24 * 3600 * 1000 - 1;
  d.encodeState();
  assert.equal(d.registerInfo("r").deleted, true);
  t += 1;
  d.set("later", 1);
  d.encodeState();
  assert.equal(d.registerInfo("r"), undefined);
});

test("options: only an object (or nothing); unknown options are ignored", () => {
  for (const bad of [null, 1, "a", true, () => {}, Symbol("o")]) {
    assert.throws(() => new Doc(bad), { name: "TypeError", message: /options must be an object/ });
    assert.throws(() => Doc.load(new Doc().encodeState(), bad), TypeError);
  }
  assert.match(new Doc({}).clientId, /^[0-9a-f]{16}$/);
  assert.match(new Doc({ clientID: "typo" }).clientId, /^[0-9a-f]{16}$/);
  assert.throws(() => new Doc({ now: 5 }), { name: "TypeError", message: /now option must be a function/ });
});

// ----- Doc.load -----

test("Doc.load takes options: client id, clock and retention apply to the loaded document", () => {
  const a = new Doc({ clientId: "a", now: () => 100 });
  a.increment("c", 2);
  a.set("r", "v");
  const b = Doc.load(a.encodeState(), { clientId: "b", now: () => 200, tombstoneRetentionMs: 0 });
  assert.equal(b.clientId, "b");
  assert.deepEqual(b.toJSON(), a.toJSON());
  b.delete("r");
  assert.deepEqual(b.registerInfo("r"), { writer: "b", wall: 200, logical: 0, deleted: true });
  b.set("later", 1);
  b.encodeState(); // retention 0: the next encodeState drops it (no longer the newest write)
  assert.equal(b.registerInfo("r"), undefined);
  // Loading a replica's own state continues its change numbers: a new write is not mistaken for an old one.
  const a2 = Doc.load(a.encodeState(), { clientId: "a" });
  a2.increment("c");
  const c = Doc.load(a.encodeState());
  c.applyUpdate(a2.encodeDelta(c.version()));
  assert.equal(c.counter("c"), 3);
});

test("Doc.load of bad bytes throws an Error saying why, and leaks nothing", () => {
  const good = new Doc().encodeState();
  const cases = [
    [new Uint8Array(), /truncated/],
    [good.subarray(0, 5), /truncated/],
    [Uint8Array.of(0x42, 1, 1), /not a slotkv update \(first byte is 0x42, expected 0xb7\)/],
    [Uint8Array.of(0xb7, 3, 1), /format version 3 is newer than this slotkv understands/],
    [new Doc().version(), /this is a version/],
  ];
  for (const [bytes, message] of cases) {
    assert.throws(() => Doc.load(bytes), (e) => e.constructor === Error && /^slotkv: cannot apply update: /.test(e.message) && message.test(e.message));
  }
  assert.throws(() => Doc.load("state"), TypeError);
  assert.throws(() => Doc.load(good, { clientId: "" }), RangeError);
  const fail = () => assert.throws(() => Doc.load(good.subarray(0, 9), { clientId: "x" }));
  for (let i = 0; i < 1000; i++) fail();
  const base = wasmMemoryBytes();
  for (let i = 0; i < 20_000; i++) fail();
  assert.equal(wasmMemoryBytes(), base, "failed loads free their documents");
});

// ----- keys() and toJSON() -----

test("keys: a counter is live once any client has a slot, even at value 0", () => {
  const a = new Doc({ clientId: "a" });
  a.increment("zero", 3);
  a.decrement("zero", 3);
  a.increment("noop", 0); // a zero delta creates nothing
  assert.deepEqual(a.keys("counter"), ["zero"]);
  assert.deepEqual(a.toJSON().counters, { zero: 0 });
  assert.deepEqual(a.counterSlots("zero"), { a: 0 });
  const b = Doc.load(a.encodeState());
  assert.deepEqual(b.keys("counter"), ["zero"]);
  assert.deepEqual(new Doc().keys("counter"), []);
});

test("keys: a register is live while it holds a value, not after delete", () => {
  const a = new Doc();
  a.set("r", null); // null is a value
  a.set("b", new Uint8Array());
  assert.deepEqual(a.keys("register"), ["b", "r"]);
  a.delete("r");
  assert.deepEqual(a.keys("register"), ["b"]);
  assert.deepEqual(a.toJSON().registers, { b: new Uint8Array() });
  a.set("r", 0);
  assert.deepEqual(a.keys("register"), ["b", "r"]);
  const b = Doc.load(a.encodeState());
  b.delete("b");
  a.applyUpdate(b.encodeDelta(a.version()));
  assert.deepEqual(a.keys("register"), ["r"]);
});

test("keys: a set is live only while it has a member", () => {
  const a = new Doc({ clientId: "a" });
  a.add("s", "x");
  a.add("t", "y");
  a.remove("s", "x");
  assert.deepEqual(a.keys("set"), ["t"]);
  assert.deepEqual(a.toJSON().sets, { t: ["y"] });
  a.add("s", ""); // the empty string is a member like any other
  assert.deepEqual(a.keys("set"), ["s", "t"]);
  assert.deepEqual(a.members("s"), [""]);
  const b = Doc.load(a.encodeState(), { clientId: "b" });
  b.remove("s", "");
  a.applyUpdate(b.encodeDelta(a.version()));
  assert.deepEqual(a.keys("set"), ["t"]);
});

test("keys: each kind its own key space, sorted by UTF-8 bytes; other kinds refused", () => {
  const d = new Doc();
  const keys = ["z", "Z", "é", "😀", "\uffff", "a", "__proto__"];
  for (const k of keys) {
    d.increment(k);
    d.set(k, k);
    d.add(k, k);
  }
  // UTF-16 order would put 😀 (a surrogate pair) before U+FFFF; UTF-8 order puts it after.
  const sorted = ["Z", "__proto__", "a", "z", "é", "\uffff", "😀"];
  for (const kind of ["counter", "register", "set"]) assert.deepEqual(d.keys(kind), sorted);
  d.delete("a");
  assert.deepEqual(d.keys("register"), sorted.filter((k) => k !== "a"));
  assert.deepEqual(d.keys("counter"), sorted);
  for (const bad of ["counters", "map", "Counter", "", "toString", "__proto__", 0, undefined]) {
    assert.throws(() => d.keys(bad), { name: "TypeError", message: /kind must be "counter", "register" or "set"/ });
  }
});

test("toJSON: three plain objects of live entries, own keys only, and JSON.stringify(doc) works", () => {
  const d = new Doc({ clientId: "me" });
  assert.deepEqual(d.toJSON(), { counters: {}, registers: {}, sets: {} });
  d.increment("__proto__", 2);
  d.set("__proto__", { polluted: true });
  d.set("bytes", Uint8Array.of(1));
  d.add("__proto__", "b");
  d.add("__proto__", "a");
  const json = d.toJSON();
  assert.deepEqual(Object.keys(json), ["counters", "registers", "sets"]);
  for (const part of Object.values(json)) assert.equal(Object.getPrototypeOf(part), Object.prototype);
  assert.deepEqual(Object.keys(json.counters), ["__proto__"]);
  assert.equal(Object.getOwnPropertyDescriptor(json.counters, "__proto__").value, 2);
  assert.deepEqual(Object.getOwnPropertyDescriptor(json.registers, "__proto__").value, { polluted: true });
  assert.deepEqual(Object.getOwnPropertyDescriptor(json.sets, "__proto__").value, ["a", "b"]);
  assert.deepEqual(json.registers.bytes, Uint8Array.of(1));
  assert.equal({}.polluted, undefined);
  // Bytes under "__proto__", between JSON values: an own property, in key order.
  const b = new Doc({ clientId: "b" });
  b.set("z", [1]);
  b.set("__proto__", Uint8Array.of(7));
  b.set("A", null);
  const regs = b.toJSON().registers;
  assert.deepEqual(Object.keys(regs), ["A", "__proto__", "z"]);
  assert.equal(Object.getPrototypeOf(regs), Object.prototype);
  assert.deepEqual(Object.getOwnPropertyDescriptor(regs, "__proto__").value, Uint8Array.of(7));
  assert.deepEqual(regs, { A: null, ["__proto__"]: Uint8Array.of(7), z: [1] });
  // A fresh object each time: changing it changes nothing.
  json.counters.x = 1;
  assert.equal(d.toJSON().counters.x, undefined);
  const e = new Doc();
  e.increment("c");
  assert.equal(JSON.stringify(e), '{"counters":{"c":1},"registers":{},"sets":{}}');
});

test("registers return fresh copies; set copies what it is given", () => {
  const d = new Doc();
  const value = { list: [1, 2] };
  const bytes = Uint8Array.of(1, 2);
  d.set("v", value);
  d.set("b", bytes);
  value.list.push(3);
  bytes[0] = 9;
  const got = d.get("v");
  got.list.push(4);
  d.get("b")[1] = 9;
  assert.deepEqual(d.get("v"), { list: [1, 2] });
  assert.deepEqual(d.get("b"), Uint8Array.of(1, 2));
});

// ----- sync -----

test("exchanging encodeDelta(other.version()) both ways makes toJSON equal, with concurrent writes of every kind", () => {
  let t = 100;
  const now = () => t;
  const a = new Doc({ clientId: "a", now });
  const b = new Doc({ clientId: "b", now });
  a.increment("c", 2);
  a.set("r", "a");
  a.add("s", "x");
  a.add("s", "y");
  exchange(a, b);
  t = 200;
  a.remove("s", "x"); // concurrent with b's add of x: add wins
  b.add("s", "x");
  b.remove("s", "y");
  a.set("r", "a2");
  t = 300;
  b.set("r", "b2");
  a.decrement("c", 5);
  b.increment("c", 1);
  b.set("only-b", [1]);
  a.delete("only-b");
  exchange(a, b);
  assert.deepEqual(a.toJSON(), b.toJSON());
  assert.deepEqual(a.toJSON(), { counters: { c: -2 }, registers: { r: "b2", "only-b": [1] }, sets: { s: ["x"] } });
});

test("B.encodeDelta(A.version()) applied to A gives the same state as B.encodeState()", () => {
  let t = 100;
  const now = () => t;
  const a = new Doc({ clientId: "a", now });
  const b = new Doc({ clientId: "b", now });
  a.increment("c");
  a.set("r", { v: 1 });
  a.add("s", "x");
  for (let i = 0; i < 20; i++) a.set(`shared ${i}`, i);
  exchange(a, b);
  t = 200;
  b.remove("s", "x");
  b.add("s", "y");
  b.delete("r");
  b.increment("c", 4);
  b.set("new", "n");
  a.add("s", "z");
  const viaDelta = Doc.load(a.encodeState(), { clientId: "a", now });
  const viaState = Doc.load(a.encodeState(), { clientId: "a", now });
  const delta = b.encodeDelta(a.version());
  const state = b.encodeState();
  assert.ok(delta.length < state.length, `a delta (${delta.length} bytes) is smaller than the state (${state.length})`);
  viaDelta.applyUpdate(delta);
  viaState.applyUpdate(state);
  assert.deepEqual(viaDelta.toJSON(), viaState.toJSON());
  assert.ok(same(viaDelta.encodeState(), viaState.encodeState()));
  assert.ok(same(viaDelta.version(), viaState.version()));
  // encodeDelta() without since is the whole state.
  assert.ok(same(b.encodeDelta(), b.encodeState()));
  // What a replica already has: applying it changes nothing.
  const before = b.encodeState();
  b.applyUpdate(b.encodeDelta(b.version()));
  assert.ok(same(b.encodeState(), before));
});

test("encodeDelta refuses a since that is not a version, with an Error saying so", () => {
  const d = new Doc();
  d.increment("c");
  for (const [since, message] of [
    [d.encodeState(), /this is an update, not a version/],
    [new Uint8Array(), /truncated/],
    [Uint8Array.of(1, 2, 3), /first byte is 0x01/],
    [Uint8Array.of(0xb7, 9, 0), /format version 9 is newer/],
  ]) {
    assert.throws(() => d.encodeDelta(since), (e) => e.constructor === Error && /^slotkv: since is not a version from version\(\): /.test(e.message) && message.test(e.message));
  }
  assert.throws(() => d.encodeDelta(null), TypeError);
  assert.throws(() => d.encodeDelta([183, 1, 0]), TypeError);
});

// A peer of an older slotkv reads fewer format versions; a transport that
// knows which (BroadcastSync and persist learn it from the peer's messages)
// writes for it.
test("encodeDelta(since, { format }) writes for a receiver that reads only that format", () => {
  // FORMAT_VERSION is the core's: the newest version the decoder reads.
  assert.throws(() => new Doc().applyUpdate(Uint8Array.of(0xb7, FORMAT_VERSION + 1, 1)), new RegExp(`newer than this slotkv understands \\(version ${FORMAT_VERSION}\\)`));
  const state = new Doc().encodeState();
  state[1] = FORMAT_VERSION; // a state reads the same in every version so far
  new Doc().applyUpdate(state);
  const a = new Doc({ clientId: "a" });
  a.add("online", "me");
  for (let i = 0; i < 300; i++) a.add("reactions", `user${i}`);
  const b = Doc.load(a.encodeState(), { clientId: "b" });
  a.add("online", "me"); // a re-add: a removal b has not seen
  a.add("reactions", "user300");
  const since = b.version();
  const newest = a.encodeDelta(since);
  assert.equal(newest[1], FORMAT_VERSION, "byte 1 is the format version: this delta needs the newest");
  assert.ok(same(a.encodeDelta(since, { format: FORMAT_VERSION }), newest));
  assert.ok(same(a.encodeDelta(since, { format: FORMAT_VERSION + 1 }), newest), "a newer receiver reads ours");
  assert.ok(same(a.encodeDelta(since, {}), newest));
  const old = a.encodeDelta(since, { format: 1 });
  assert.equal(old[1], 1);
  assert.ok(old.length > 20 * newest.length, `format 1 lists both sets whole: ${old.length} vs ${newest.length} bytes`);
  const [b1, b2] = [Doc.load(b.encodeState(), { clientId: "b" }), Doc.load(b.encodeState(), { clientId: "b" })];
  b1.applyUpdate(newest);
  b2.applyUpdate(old);
  assert.deepEqual(b2.toJSON(), a.toJSON());
  assert.ok(same(b2.encodeState(), b1.encodeState()));
  // Without since, the whole state, which is format 1 anyway.
  assert.ok(same(a.encodeDelta(undefined, { format: 1 }), a.encodeState()));
  for (const [options, type, message] of [
    [null, TypeError, /options must be an object, got null/],
    [1, TypeError, /options must be an object, got number/],
    [{ format: "1" }, TypeError, /format version must be a number, got a string/],
    [{ format: 0 }, RangeError, /whole number from 1 up, got 0/],
    [{ format: 1.5 }, RangeError, /got 1.5/],
    [{ format: -1 }, RangeError, /got -1/],
    [{ format: NaN }, RangeError, /got NaN/],
    [{ format: 2 ** 53 }, RangeError, /whole number from 1 up/],
  ]) {
    assert.throws(() => a.encodeDelta(since, options), (e) => e.constructor === type && /^slotkv: /.test(e.message) && message.test(e.message), String(options?.format ?? options));
  }
});

test("applyUpdate: applied in any order, any number of times", () => {
  const a = new Doc({ clientId: "a" });
  const updates = [];
  a.on("update", (u) => updates.push(u));
  a.increment("c");
  a.add("s", "x");
  a.set("r", 1);
  a.remove("s", "x");
  a.add("s", "y");
  a.set("r", 2);
  for (const order of [[0, 1, 2, 3, 4, 5], [5, 4, 3, 2, 1, 0], [3, 1, 5, 0, 4, 2, 3, 1]]) {
    const b = new Doc();
    for (const i of order) b.applyUpdate(updates[i]);
    b.applyUpdate(a.encodeState());
    for (const i of order) b.applyUpdate(updates[i]);
    assert.deepEqual(b.toJSON(), a.toJSON(), String(order));
  }
});

test("applyUpdate is atomic: every truncation of a real update throws an Error and changes nothing", () => {
  const a = new Doc({ clientId: "a", now: () => 1 });
  a.increment("c", 3);
  a.set("r", { deep: [1, { x: "y" }] });
  a.add("s", "x");
  a.add("s", "y");
  a.remove("s", "x");
  a.set("b", Uint8Array.of(1, 2, 3));
  a.delete("b");
  const good = a.encodeState();
  const d = new Doc({ clientId: "d", now: () => 1 });
  d.increment("mine");
  d.set("r", "mine");
  const before = d.encodeState();
  const version = d.version();
  for (let n = 0; n < good.length; n++) {
    assert.throws(() => d.applyUpdate(good.subarray(0, n)), (e) => {
      assert.equal(e.constructor, Error);
      assert.match(e.message, /^slotkv: cannot apply update: /);
      return true;
    }, `first ${n} bytes`);
    assert.ok(same(d.encodeState(), before), `first ${n} bytes: unchanged`);
    assert.ok(same(d.version(), version));
  }
  d.applyUpdate(good);
  assert.equal(d.counter("c"), 3);
  assert.equal(d.counter("mine"), 1);
});

test("applyUpdate: each kind of bad input has a message that says what is wrong", () => {
  const d = new Doc();
  d.increment("c");
  const good = d.encodeState();
  const withByte = (i, b) => {
    const u = good.slice();
    u[i] = b;
    return u;
  };
  assert.equal(good[0], 0xb7, "byte 0 is the magic");
  assert.equal(good[1], 1, "byte 1 is the format version: a state is written as version 1");
  const cases = [
    ["empty", new Uint8Array(), /input is truncated/],
    ["truncated", good.subarray(0, good.length - 1), /input is truncated \(it ends inside/],
    ["not slotkv", withByte(0, 0x7b), /not a slotkv update \(first byte is 0x7b, expected 0xb7\)/],
    ["format version 3", withByte(1, 3), /format version 3 is newer than this slotkv understands \(version 2\); upgrade slotkv/],
    ["format version 0", withByte(1, 0), /format version 0 does not exist/],
    ["unknown message type", withByte(2, 9), /unknown message type 9/],
    ["a version, not an update", d.version(), /this is a version \(from version\(\)\), not an update/],
    ["trailing bytes", Uint8Array.of(...good, 0, 0), /2 unexpected bytes after the end of the update/],
    ["oversized", new Uint8Array((64 << 20) + 1), /more than the limit of 67108864/],
  ];
  const before = d.encodeState();
  for (const [name, bytes, message] of cases) {
    assert.throws(() => d.applyUpdate(bytes), (e) => e.constructor === Error && message.test(e.message), name);
    assert.ok(same(d.encodeState(), before), `${name}: unchanged`);
  }
  // A larger format version, however encoded (a varint), is refused as newer.
  assert.throws(() => d.applyUpdate(Uint8Array.of(0xb7, 0x80, 0x01, 1)), /format version 128 is newer/);
  d.increment("c");
  assert.equal(d.counter("c"), 2);
});

// ----- free -----

test("free(): every method afterwards throws an Error saying the Doc was freed", () => {
  const d = new Doc();
  const other = new Doc();
  d.free();
  const calls = {
    clientId: () => d.clientId,
    increment: () => d.increment("c"),
    decrement: () => d.decrement("c"),
    counter: () => d.counter("c"),
    counterSlots: () => d.counterSlots("c"),
    set: () => d.set("r", 1),
    get: () => d.get("r"),
    delete: () => d.delete("r"),
    registerInfo: () => d.registerInfo("r"),
    add: () => d.add("s", "x"),
    remove: () => d.remove("s", "x"),
    has: () => d.has("s", "x"),
    // (The Doc is freed: that is the error, whatever the arguments.)
    "has, with a bad key": () => d.has(5, "x"),
    "counter, with a bad key": () => d.counter(5),
    "increment, with a bad key and delta": () => d.increment(5, 0.5),
    "set, with a bad key and value": () => d.set("", () => {}),
    "delete, with a bad key": () => d.delete(""),
    "add, with a bad element": () => d.add("s", 5),
    members: () => d.members("s"),
    keys: () => d.keys("set"),
    toJSON: () => d.toJSON(),
    transact: () => d.transact(() => {}),
    version: () => d.version(),
    encodeState: () => d.encodeState(),
    encodeDelta: () => d.encodeDelta(other.version()),
    applyUpdate: () => d.applyUpdate(other.encodeState()),
    on: () => d.on("change", () => {}),
  };
  for (const [name, call] of Object.entries(calls)) {
    assert.throws(call, { constructor: Error, message: "slotkv: this Doc was freed" }, name);
  }
  d.free();
  other.increment("c");
  assert.equal(other.counter("c"), 1);
});

test("limits: configurable per document, each enforced locally and on updates, with the same errors", () => {
  const limits = { maxStringBytes: 8, maxValueBytes: 16, maxValueDepth: 2, maxUpdateBytes: 300 };
  const d = new Doc({ clientId: "small", limits });
  d.add("s", "12345678");
  assert.throws(() => d.add("s", "123456789"), (e) => e instanceof RangeError && /at most 8 bytes/.test(e.message));
  d.set("r", [[1]]);
  assert.throws(() => d.set("r", [[[1]]]), (e) => e instanceof RangeError && /nested deeper than 2/.test(e.message));
  assert.throws(() => d.set("r", "x".repeat(20)), RangeError);
  assert.throws(() => d.set("r", new Uint8Array(17)), RangeError);
  // From a peer with the default limits: refused as a bad update, the document unchanged.
  const peer = new Doc({ clientId: "peer" });
  peer.add("s", "123456789");
  const before = d.encodeState();
  assert.throws(() => d.applyUpdate(peer.encodeState()), (e) => e.constructor === Error && /cannot apply update/.test(e.message));
  assert.deepEqual(d.encodeState(), before);
  const big = new Doc({ clientId: "big" });
  big.set("r", "y".repeat(400));
  assert.throws(() => d.applyUpdate(big.encodeState()), (e) => e.constructor === Error && /more than the limit of 300/.test(e.message));
  // Doc.load honours them too; the defaults still take the same state.
  assert.throws(() => Doc.load(peer.encodeState(), { limits }), /cannot apply update/);
  assert.deepEqual(Doc.load(peer.encodeState()).members("s"), ["123456789"]);
});

test("limits: a key longer than a smaller maxStringBytes is refused locally, so what a document writes a peer with its limits can read", () => {
  const limits = { maxStringBytes: 8 };
  const d = new Doc({ clientId: "small", limits });
  const before = d.encodeState();
  for (const key of ["k".repeat(9), "é".repeat(5)]) {
    const bytes = new TextEncoder().encode(key).length;
    for (const write of [() => d.increment(key), () => d.set(key, 1), () => d.set(key, new Uint8Array(1)), () => d.add(key, "x"), () => d.delete(key), () => d.remove(key, "x")]) {
      assert.throws(write, (e) => e instanceof RangeError && e.message === `slotkv: a key may be at most 8 bytes of UTF-8, this one is ${bytes}`, String(write));
    }
  }
  assert.deepEqual(d.encodeState(), before);
  d.increment("k".repeat(8));
  d.add("é".repeat(4), "x");
  const reader = Doc.load(d.encodeState(), { limits });
  assert.equal(reader.counter("k".repeat(8)), 1);
  assert.deepEqual(reader.members("é".repeat(4)), ["x"]);
  // The default limits still take 1024-byte keys.
  new Doc().increment("k".repeat(1024));
});

test("limits: encodeDelta of a version past this document's limits is a RangeError; of bytes that are not a version, an Error", () => {
  const many = new Doc({ clientId: "many" });
  for (let i = 0; i < 10; i++) {
    const w = new Doc({ clientId: `writer-${i}` });
    w.increment("c");
    many.applyUpdate(w.encodeState());
  }
  const version = many.version();
  for (const limits of [{ maxClients: 4 }, { maxEntries: 5 }, { maxUpdateBytes: version.length - 1 }]) {
    const d = new Doc({ clientId: "d", limits });
    assert.throws(
      () => d.encodeDelta(version),
      (e) => e instanceof RangeError && /^slotkv: since is a version past this document's limits \(.* exceeds the limit of \d+\); encodeDelta\(\) without since gives the whole state$/.test(e.message),
      JSON.stringify(limits),
    );
    many.applyUpdate(d.encodeDelta());
  }
  assert.ok(new Doc().encodeDelta(version) instanceof Uint8Array);
  const d = new Doc({ limits: { maxClients: 1, maxUpdateBytes: 4 } });
  for (const bad of [new Uint8Array(), new Uint8Array([0xb7]), new Uint8Array(100), many.encodeState()]) {
    assert.throws(() => d.encodeDelta(bad), (e) => e.constructor === Error && /^slotkv: since is not a version from version\(\)/.test(e.message), String(bad.length));
    // The same reason as with limits that let the bytes through.
    let reason;
    try {
      new Doc().encodeDelta(bad);
    } catch (e) {
      reason = e.message;
    }
    assert.throws(() => d.encodeDelta(bad), { message: reason });
  }
});

test("limits: a key longer than maxStringBytes that the document holds from its storage can still be read", () => {
  const big = new Doc({ clientId: "big" });
  const key = "k".repeat(12);
  big.increment(key);
  big.add(`${key}-set`, "x");
  const d = new Doc({ clientId: "small", limits: { maxStringBytes: 8 } });
  applyStored(d, big.encodeState()); // as persist loads its own storage: no limits on sizes
  assert.equal(d.counter(key), 1);
  assert.deepEqual(d.members(`${key}-set`), ["x"]);
  assert.equal(d.has(`${key}-set`, "x"), true);
  assert.throws(() => d.increment(key), { name: "RangeError", message: "slotkv: a key may be at most 8 bytes of UTF-8, this one is 12" });
});

test("limits: a limit per update on client ids and on entries, and a limit per document on client ids", () => {
  const writers = Array.from({ length: 3 }, (_, i) => {
    const w = new Doc({ clientId: `w${i}` });
    w.increment("c");
    return w;
  });
  const merged = new Doc({ clientId: "m" });
  for (const w of writers) merged.applyUpdate(w.encodeState());
  const state = merged.encodeState(); // names three client ids, six entries or so
  assert.throws(() => Doc.load(state, { limits: { maxClients: 2 } }), /client ids exceeds the limit of 2/);
  assert.throws(() => Doc.load(state, { limits: { maxEntries: 3 } }), /entries in the update exceeds the limit of 3/);
  const d = new Doc({ clientId: "me", limits: { maxDocClients: 3 } });
  d.applyUpdate(writers[0].encodeState());
  d.applyUpdate(writers[1].encodeState()); // me, w0, w1
  assert.throws(() => d.applyUpdate(writers[2].encodeState()), /client ids the document would hold exceeds the limit of 3/);
  assert.equal(d.counter("c"), 2);
  d.applyUpdate(writers[1].encodeState()); // known clients are still welcome
});

test("limits: bad values are a TypeError or RangeError", () => {
  for (const bad of [null, 1, "x"]) assert.throws(() => new Doc({ limits: bad }), TypeError);
  assert.throws(() => new Doc({ limits: { maxEntries: "1" } }), TypeError);
  for (const v of [0, -1, 1.5, NaN, Infinity, 2 ** 53]) assert.throws(() => new Doc({ limits: { maxEntries: v } }), RangeError, String(v));
  assert.throws(() => new Doc({ limits: { maxValueDepth: 1001 } }), /from 1 to 1000/);
  // Caps that keep one input within what wasm32 addresses (a size of 2^32
  // wrapped to 0 at the boundary and corrupted wasm memory for every Doc).
  for (const name of ["maxUpdateBytes", "maxStringBytes", "maxValueBytes"]) {
    assert.throws(() => new Doc({ limits: { [name]: 2 ** 28 + 1 } }), { name: "RangeError", message: `slotkv: limits.${name} must be an integer from 1 to 268435456, got ${2 ** 28 + 1}` });
    assert.doesNotThrow(() => new Doc({ limits: { [name]: 2 ** 28 } }));
  }
  for (const name of ["maxClients", "maxEntries"]) {
    assert.throws(() => new Doc({ limits: { [name]: 2 ** 22 + 1 } }), { name: "RangeError", message: /from 1 to 4194304/ });
  }
  assert.throws(() => new Doc({ limits: { maxUpdateBytes: 2 ** 40 } }), RangeError);
  assert.doesNotThrow(() => new Doc({ limits: { maxDocClients: Number.MAX_SAFE_INTEGER } }));
  assert.equal(new Doc({ limits: {} }).counter("x"), 0);
});

// The core reports an error as its message and its class (src/wasm.rs,
// Core::take_error); pkg/doc.js makes the Error, once per failed call.
test("an error the core finds is thrown with its own class and message, and the Doc keeps working", () => {
  const d = new Doc({ clientId: "a" });
  d.increment("y", Number.MAX_SAFE_INTEGER);
  const is = (Class, message) => (e) => e.constructor === Class && e.message === message;
  const unsafe = "slotkv: the counter's value after this change must be a safe integer (|x| <= 2^53 - 1)";
  for (let i = 0; i < 2; i++) assert.throws(() => d.increment("y", 1), is(RangeError, unsafe));
  assert.throws(() => d.applyUpdate(Uint8Array.of(0xb7, 9, 1)), is(Error, "slotkv: cannot apply update: format version 9 is newer than this slotkv understands (version 2); upgrade slotkv"));
  assert.throws(() => d.encodeDelta(Uint8Array.of(1, 2, 3)), is(Error, "slotkv: since is not a version from version(): not a slotkv update (first byte is 0x01, expected 0xb7)"));
  d.increment("y", -1);
  assert.equal(d.counter("y"), Number.MAX_SAFE_INTEGER - 1);
});

// Documented (index.d.ts, docs/SECURITY.md): a slot's two halves, the
// client's total increments and total decrements, are safe integers too.
test("a client's lifetime total of increments on a counter is at most 2^53 - 1, whatever the value", () => {
  const d = new Doc({ clientId: "a" });
  const M = Number.MAX_SAFE_INTEGER;
  d.increment("x", M);
  d.decrement("x", M);
  assert.equal(d.counter("x"), 0);
  assert.throws(() => d.increment("x", 1), { name: "RangeError", message: /this client's total of increments or decrements must be a safe integer/ });
  assert.equal(d.counter("x"), 0);
  d.decrement("other", 1); // other counters, and the Doc, still work
  assert.equal(d.counter("other"), -1);
});

test("a counter pushed past 2^53 - 1 by concurrent clients reads as 2^53 - 1 everywhere", () => {
  const a = new Doc({ clientId: "a" });
  const b = new Doc({ clientId: "b" });
  a.increment("y", Number.MAX_SAFE_INTEGER);
  b.increment("y", Number.MAX_SAFE_INTEGER);
  b.decrement("z", Number.MAX_SAFE_INTEGER);
  a.decrement("z", Number.MAX_SAFE_INTEGER);
  a.applyUpdate(b.encodeDelta(a.version()));
  b.applyUpdate(a.encodeDelta(b.version()));
  for (const d of [a, b]) {
    assert.equal(d.counter("y"), Number.MAX_SAFE_INTEGER);
    assert.equal(d.counter("z"), -Number.MAX_SAFE_INTEGER);
    assert.deepEqual(d.toJSON().counters, { y: Number.MAX_SAFE_INTEGER, z: -Number.MAX_SAFE_INTEGER });
    assert.deepEqual(d.counterSlots("y"), { a: Number.MAX_SAFE_INTEGER, b: Number.MAX_SAFE_INTEGER });
  }
  // Locally, a write that would leave the safe range is still refused.
  assert.throws(() => a.increment("y", 1), RangeError);
});

test("a peer's register value with a lone surrogate escape is refused", () => {
  const d = new Doc({ clientId: "me" });
  const p = new Doc({ clientId: "p" });
  p.set("r", "\u00e9"); // JSON text "é", stored as a string value (type 4): head 2 << 3 | 4, then "é" in UTF-8
  const bytes = p.encodeState();
  const value = [2 << 3 | 4, ...new TextEncoder().encode("\u00e9")];
  const at = bytes.findIndex((_, i) => value.every((t, j) => bytes[i + j] === t));
  assert.ok(at > 0);
  // The escape \ud800 is 6 bytes: head 6 << 3 | 4, then the escape (the decoder adds the quotes).
  const forged = [...bytes.slice(0, at), 6 << 3 | 4, ...new TextEncoder().encode("\\ud800"), ...bytes.slice(at + value.length)];
  assert.throws(() => d.applyUpdate(new Uint8Array(forged)), /lone surrogate/);
  assert.deepEqual(d.keys("register"), []);
});

// Keys and elements reach wasm through a buffer each Doc keeps in wasm memory
// (pkg/doc.js #put): ASCII copied char by char, the rest by TextEncoder, the
// buffer grown as needed, even in the middle of a string.
test("keys and elements of any text arrive intact, whatever the order of calls", () => {
  const texts = [
    "k",
    "a".repeat(300) + "é".repeat(200), // ASCII, then text that needs the buffer grown mid-string
    "é".repeat(512), // 1024 bytes
    "😀 and \u2028, \0 and \"quotes\\",
    "x".repeat(1024),
    "日本語のキー",
  ];
  const doc = new Doc({ clientId: "a" });
  // Each text as a key of every kind and as an element, in an order that
  // writes a short string over a long one and the reverse.
  for (const order of [texts, [...texts].reverse()]) {
    for (const t of order) {
      doc.increment(t);
      doc.set(t, t);
      doc.add(t, t);
      doc.add("elements", t);
    }
  }
  for (const t of texts) {
    assert.equal(doc.counter(t), 2, `counter ${JSON.stringify(t.slice(0, 20))}`);
    assert.equal(doc.get(t), t);
    assert.ok(doc.has(t, t));
    assert.deepEqual(doc.members(t), [t]);
    assert.deepEqual(doc.counterSlots(t), { a: 2 });
    assert.equal(doc.registerInfo(t).writer, "a");
  }
  const sorted = [...texts].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
  assert.deepEqual(doc.members("elements"), sorted);
  assert.deepEqual(doc.keys("counter"), sorted);
  // A replica decoded from the state has the same keys: the bytes were right.
  const copy = Doc.load(doc.encodeState());
  assert.deepEqual(copy.toJSON(), doc.toJSON());
  for (const t of texts) {
    doc.remove(t, t);
    doc.delete(t);
    assert.equal(doc.has(t, t), false);
    assert.equal(doc.get(t), undefined);
  }
  doc.free();
  copy.free();
});

test("writes still find their keys after wasm memory grew", () => {
  const doc = new Doc({ clientId: "a" });
  doc.increment("key");
  doc.increment("é-key");
  const before = wasmMemoryBytes();
  // Other documents take enough memory that the module must grow it.
  const others = [];
  while (wasmMemoryBytes() === before) {
    const other = new Doc();
    other.set("big", "x".repeat(1 << 16));
    others.push(other);
  }
  doc.increment("key");
  doc.increment("é-key");
  doc.add("s", "é-element");
  assert.equal(doc.counter("key"), 2);
  assert.equal(doc.counter("é-key"), 2);
  assert.deepEqual(doc.members("s"), ["é-element"]);
  for (const other of others) other.free();
  doc.free();
});
