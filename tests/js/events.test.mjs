// Events and transactions (SPEC §2): what fires, when, and with what.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Doc } from "slotkv";

function record(doc) {
  const log = { update: [], change: [] };
  doc.on("update", (update, origin, local) => log.update.push({ update, origin, local }));
  doc.on("change", (e) => log.change.push(e));
  return log;
}

test("each local write outside transact is one update carrying exactly it", () => {
  const a = new Doc({ clientId: "a" });
  a.increment("before", 1);
  const b = Doc.load(a.encodeState(), { clientId: "b" });
  const log = record(a);
  a.increment("c", 2);
  assert.equal(log.update.length, 1);
  assert.equal(log.update[0].local, true);
  assert.equal(log.update[0].origin, undefined);
  assert.deepEqual(log.change, [{ counters: ["c"], registers: [], sets: [], local: true, origin: undefined }]);
  // The delta alone brings exactly the new write to a replica that had the rest.
  const fresh = new Doc({ clientId: "f" });
  fresh.applyUpdate(log.update[0].update);
  assert.deepEqual(fresh.toJSON(), { counters: { c: 2 }, registers: {}, sets: {} });
  b.applyUpdate(log.update[0].update);
  assert.deepEqual(b.toJSON(), a.toJSON());
});

test("transact: one update and one change event for all writes, with the origin", () => {
  const a = new Doc({ clientId: "a" });
  const log = record(a);
  const origin = { who: "button" };
  a.transact(() => {
    a.increment("c");
    a.set("r", [1]);
    a.add("s", "x");
    a.transact(() => a.increment("c")); // nested: joins the outer transaction
  }, origin);
  assert.equal(log.update.length, 1);
  assert.equal(log.change.length, 1);
  assert.equal(log.update[0].origin, origin);
  assert.deepEqual(log.change[0], { counters: ["c"], registers: ["r"], sets: ["s"], local: true, origin });
  const b = new Doc();
  b.applyUpdate(log.update[0].update);
  assert.deepEqual(b.toJSON(), { counters: { c: 2 }, registers: { r: [1] }, sets: { s: ["x"] } });
});

test("no-ops fire nothing: zero delta, removing a non-member, deleting nothing, a duplicate update, an empty transaction", () => {
  const a = new Doc();
  const b = new Doc();
  b.increment("c");
  const u = b.encodeState();
  a.applyUpdate(u);
  const log = record(a);
  a.increment("c", 0);
  a.remove("s", "nobody");
  a.delete("nothing");
  a.applyUpdate(u);
  a.transact(() => {});
  assert.deepEqual(log, { update: [], change: [] });
});

test("an effective applyUpdate fires update (local: false, with origin) and change", () => {
  const a = new Doc();
  const b = new Doc();
  b.set("r", "v");
  b.add("s", "x");
  const log = record(a);
  const bytes = b.encodeState();
  a.applyUpdate(bytes, "net");
  assert.equal(log.update.length, 1);
  assert.equal(log.update[0].update, bytes);
  assert.equal(log.update[0].origin, "net");
  assert.equal(log.update[0].local, false);
  assert.deepEqual(log.change, [{ counters: [], registers: ["r"], sets: ["s"], local: false, origin: "net" }]);
});

test("a listener that throws does not break the document or other listeners", (t) => {
  const a = new Doc();
  const errors = [];
  t.mock.method(console, "error", (...args) => errors.push(args));
  let seen = 0;
  a.on("change", () => {
    throw new Error("listener bug");
  });
  a.on("change", () => seen++);
  a.increment("c");
  a.increment("c");
  assert.equal(seen, 2);
  assert.equal(a.counter("c"), 2);
  assert.equal(errors.length, 2);
});

test("on() returns an unsubscribe function", () => {
  const a = new Doc();
  let n = 0;
  const off = a.on("update", () => n++);
  a.increment("c");
  off();
  a.increment("c");
  assert.equal(n, 1);
  assert.throws(() => a.on("nope", () => {}), TypeError);
  assert.throws(() => a.on("update", 1), TypeError);
});

test("a write that throws inside transact leaves earlier writes committed as one update", () => {
  const a = new Doc();
  const log = record(a);
  assert.throws(() =>
    a.transact(() => {
      a.increment("c");
      a.increment("c", 0.5);
    }),
  RangeError);
  assert.equal(a.counter("c"), 1);
  assert.equal(log.update.length, 1);
});

test("free() releases the document; later use throws a clear Error", () => {
  const a = new Doc();
  a.increment("c");
  a.free();
  a.free(); // twice is fine
  assert.throws(() => a.counter("c"), /this Doc was freed/);
});
