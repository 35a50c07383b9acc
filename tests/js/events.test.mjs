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

test("a write outside transact fires the change event the core lists for it, for every kind of write", () => {
  // pkg/doc.js makes a single write's change event itself; inside transact()
  // it is read from the core's change list. Both must agree, no-ops included.
  const plain = new Doc({ clientId: "a" });
  const wrapped = new Doc({ clientId: "a" });
  const logs = [plain, wrapped].map((d) => {
    const events = [];
    d.on("change", (e) => events.push(e));
    return events;
  });
  let seed = 7;
  const next = (n) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
  const keys = ["k", "é", "k2", "🙂"];
  const writes = [
    (d, k) => d.increment(k, next(3)), // 0 is a no-op
    (d, k) => d.decrement(k, 1),
    (d, k) => d.set(k, next(2) ? "v" : { n: next(5) }),
    (d, k) => d.set(k, new Uint8Array([next(256)])),
    (d, k) => d.delete(k), // often of nothing
    (d, k) => d.add(k, "e" + next(3)),
    (d, k) => d.remove(k, "e" + next(3)),
  ];
  for (let i = 0; i < 400; i++) {
    const write = writes[next(writes.length)];
    const key = keys[next(keys.length)];
    const s = seed;
    try {
      write(plain, key);
    } catch {
      // (A key of another kind: the same error below.)
    }
    seed = s;
    try {
      wrapped.transact(() => write(wrapped, key));
    } catch {
      // (As above.)
    }
    assert.deepEqual(logs[0], logs[1], `write ${i}`);
  }
  assert.ok(logs[0].length > 100, `${logs[0].length} events`);
  assert.deepEqual(plain.toJSON(), wrapped.toJSON());
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

// (Deleting a key that holds no value is not a no-op: a tombstone, written to
// beat an earlier set elsewhere; see "delete of a key that holds no value".)
test("no-ops fire nothing: zero delta, removing a non-member, a duplicate update, an empty transaction", () => {
  const a = new Doc();
  const b = new Doc();
  b.increment("c");
  const u = b.encodeState();
  a.applyUpdate(u);
  const log = record(a);
  a.increment("c", 0);
  a.remove("s", "nobody");
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

test("an applied update whose writes all lose fires update (for relays) but no change event: no key changed", () => {
  let now = 2000;
  const a = new Doc({ clientId: "a", now: () => now });
  const b = new Doc({ clientId: "b", now: () => 1000 });
  a.set("k", "later");
  b.set("k", "earlier");
  const log = record(a);
  a.applyUpdate(b.encodeState());
  assert.equal(log.update.length, 1, "new dots: relays must hear it");
  assert.deepEqual(log.change, []);
  assert.equal(a.get("k"), "later");
});

test("transact with an async function warns that writes after its first await are not in the transaction", async (t) => {
  const warn = t.mock.method(console, "warn", () => {});
  const d = new Doc();
  const log = record(d);
  d.transact(async () => {
    d.increment("a");
    await null;
    d.increment("b");
  });
  await null;
  await null;
  assert.equal(warn.mock.callCount(), 1);
  assert.match(warn.mock.calls[0].arguments[0], /only its writes before the first await are in the transaction/);
  assert.equal(log.update.length, 2);
  d.transact(() => d.increment("c"));
  assert.equal(warn.mock.callCount(), 1, "a plain function does not warn");
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

test("on('update') local flag: true for this replica's transactions, false for applied updates", () => {
  const a = new Doc({ clientId: "a" });
  const b = new Doc({ clientId: "b" });
  const log = record(a);
  a.increment("c");
  a.transact(() => a.add("s", "x"), "ui");
  b.set("r", 1);
  a.applyUpdate(b.encodeState(), "peer");
  assert.deepEqual(log.update.map((u) => [u.local, u.origin]), [[true, undefined], [true, "ui"], [false, "peer"]]);
  assert.deepEqual(log.change.map((e) => [e.local, e.origin]), [[true, undefined], [true, "ui"], [false, "peer"]]);
});

test("on('update') after a transaction of every kind of write carries exactly that transaction", () => {
  let t = 10;
  const a = new Doc({ clientId: "a", now: () => t });
  a.increment("old", 1);
  a.set("gone", "v");
  a.set("kept", "v");
  a.add("s", "removed");
  a.add("s", "stays");
  const before = a.encodeState();
  const peer = Doc.load(before, { clientId: "p" });
  const log = record(a);
  t = 20;
  a.transact(() => {
    a.increment("c", 4);
    a.decrement("c");
    a.delete("gone");
    a.set("new", { n: 1 });
    a.remove("s", "removed");
    a.add("s", "added");
  }, "tx");
  assert.equal(log.update.length, 1);
  const [{ update }] = log.update;
  assert.deepEqual(log.change, [{ counters: ["c"], registers: ["gone", "new"], sets: ["s"], local: true, origin: "tx" }]);
  // A replica that had everything before gets exactly a's state from it.
  peer.applyUpdate(update);
  assert.deepEqual(peer.toJSON(), a.toJSON());
  // A replica that had nothing gets only the transaction's own entries, not the earlier writes.
  const fresh = new Doc({ clientId: "f" });
  fresh.applyUpdate(update);
  assert.deepEqual(fresh.toJSON(), { counters: { c: 3 }, registers: { new: { n: 1 } }, sets: { s: ["added"] } });
  // ... and when the earlier writes arrive late, the transaction's removes and deletes still hold.
  fresh.applyUpdate(before);
  assert.deepEqual(fresh.toJSON(), a.toJSON());
  // The update is smaller than the state: it is a delta.
  assert.ok(update.length < a.encodeState().length);
});

test("on('update') of a transaction has the effect of encodeDelta from the version before it", () => {
  const a = new Doc({ clientId: "a" });
  a.set("r", 1);
  const log = record(a);
  const at = a.version();
  a.increment("c", 2);
  const viaEvent = new Doc();
  const viaDelta = new Doc();
  viaEvent.applyUpdate(log.update[0].update);
  viaDelta.applyUpdate(a.encodeDelta(at));
  assert.deepEqual(viaEvent.toJSON(), viaDelta.toJSON());
  assert.deepEqual(viaEvent.toJSON(), { counters: { c: 2 }, registers: {}, sets: {} });
});

test("transact: nested calls join the outer transaction and its origin; the inner origin is ignored", () => {
  const a = new Doc();
  const log = record(a);
  a.transact(() => {
    a.increment("a");
    a.transact(() => {
      a.increment("b");
      a.transact(() => a.add("s", "x"), "innermost");
    }, "inner");
    assert.equal(log.update.length, 0, "nothing fires before the outer transaction ends");
  }, "outer");
  assert.equal(log.update.length, 1);
  assert.equal(log.update[0].origin, "outer");
  assert.deepEqual(log.change, [{ counters: ["a", "b"], registers: [], sets: ["s"], local: true, origin: "outer" }]);
});

test("transact: an inner transaction that throws propagates; the outer writes commit once", () => {
  const a = new Doc();
  const log = record(a);
  const oops = new Error("oops");
  assert.throws(() => a.transact(() => {
    a.increment("a");
    a.transact(() => {
      a.increment("b");
      throw oops;
    });
  }, "o"), (e) => e === oops);
  assert.equal(log.update.length, 1);
  assert.deepEqual(log.change[0].counters, ["a", "b"]);
  // The Doc is not left inside a transaction: the next write fires by itself.
  a.increment("c");
  assert.equal(log.update.length, 2);
});

test("transact: the origin can be any value and is passed through by identity", () => {
  const a = new Doc();
  const log = record(a);
  const origins = [undefined, null, 0, "", Symbol("o"), { some: "object" }, () => {}, 10n];
  for (const origin of origins) a.transact(() => a.increment("c"), origin);
  assert.deepEqual(log.update.map((u) => u.origin), origins);
  assert.deepEqual(log.change.map((e) => e.origin), origins);
});

test("transact: a transaction of no-ops, or one that only reads, fires nothing", () => {
  const a = new Doc();
  a.add("s", "x");
  const log = record(a);
  a.transact(() => {
    a.increment("c", 0);
    a.remove("s", "not-there");
    a.has("s", "x");
    a.counter("c");
    a.toJSON();
  });
  assert.deepEqual(log, { update: [], change: [] });
});

test("transact: changes listed once each, sorted by UTF-8 bytes", () => {
  const a = new Doc();
  const log = record(a);
  a.transact(() => {
    for (const k of ["😀", "b", "\uffff", "a", "b", "a"]) {
      a.increment(k);
      a.set(k, 1);
      a.add(k, "x");
    }
  });
  const keys = ["a", "b", "\uffff", "😀"];
  assert.deepEqual(log.change, [{ counters: keys, registers: keys, sets: keys, local: true, origin: undefined }]);
});

test("transact: applyUpdate inside fires its own events at once; the local writes still make one update", () => {
  const a = new Doc({ clientId: "a" });
  const b = new Doc({ clientId: "b" });
  b.set("remote", true);
  const log = record(a);
  a.transact(() => {
    a.increment("c");
    a.applyUpdate(b.encodeState(), "net");
    a.increment("d");
  }, "me");
  assert.deepEqual(log.update.map((u) => [u.origin, u.local]), [["net", false], ["me", true]]);
  const fresh = new Doc();
  fresh.applyUpdate(log.update[1].update);
  assert.deepEqual(fresh.toJSON(), { counters: { c: 1, d: 1 }, registers: {}, sets: {} });
});

test("transact: a listener added during the transaction hears its update", () => {
  const a = new Doc();
  const heard = [];
  a.transact(() => {
    a.increment("c");
    a.on("update", (u) => heard.push(u));
  });
  assert.equal(heard.length, 1);
  const b = new Doc();
  b.applyUpdate(heard[0]);
  assert.equal(b.counter("c"), 1);
});

test("transact: bad arguments and a freed Doc", () => {
  const a = new Doc();
  for (const bad of [undefined, null, 1, "fn", {}, Symbol("f")]) {
    assert.throws(() => a.transact(bad), { name: "TypeError", message: /transact needs a function/ });
  }
  // Freed inside its own transaction: the transaction ends quietly, later use throws.
  a.transact(() => {
    a.increment("c");
    a.free();
  });
  assert.throws(() => a.transact(() => {}), /this Doc was freed/);
});

test("applyUpdate fires once per effective update, with the very bytes given, and a relay converges a third replica", () => {
  const a = new Doc({ clientId: "a" });
  const relay = new Doc({ clientId: "r" });
  const third = new Doc({ clientId: "t" });
  relay.on("update", (update, origin, local) => {
    if (!local && origin !== "third") third.applyUpdate(update, "relay");
  });
  const log = record(relay);
  a.on("update", (u) => relay.applyUpdate(u, "a"));
  a.increment("c");
  a.set("r", [1]);
  a.add("s", "x");
  a.remove("s", "x");
  assert.equal(log.update.length, 4);
  assert.ok(log.update.every((u) => u.local === false && u.origin === "a"));
  assert.deepEqual(third.toJSON(), a.toJSON());
  // Applying them again is not effective: nothing fires.
  for (const { update } of [...log.update]) relay.applyUpdate(update, "a");
  assert.equal(log.update.length, 4);
});

test("an update listener that writes or applies an update: each change event lists its own keys", () => {
  // (Found in review: the outer change event was read after the update
  // listeners ran, so it listed the listener's keys, and its own were lost.)
  const d = new Doc({ clientId: "a" });
  const changes = [];
  let nested = (u, origin, local) => {
    nested = () => {};
    d.set("b", 1);
  };
  d.on("update", (...args) => nested(...args));
  d.on("change", (e) => changes.push({ ...e, counters: [...e.counters], registers: [...e.registers], sets: [...e.sets] }));
  d.set("a", 1);
  assert.deepEqual(
    changes.map((e) => [e.registers, e.local]),
    [
      [["b"], true],
      [["a"], true],
    ],
  );

  const r = new Doc({ clientId: "r" });
  r.increment("c", 5);
  changes.length = 0;
  nested = () => {
    nested = () => {};
    d.add("s", "x");
  };
  d.applyUpdate(r.encodeState(), "net");
  assert.deepEqual(
    changes.map((e) => [e.counters, e.sets, e.local, e.origin]),
    [
      [[], ["s"], true, undefined],
      [["c"], [], false, "net"],
    ],
  );

  changes.length = 0;
  nested = () => {
    nested = () => {};
    d.applyUpdate(r.encodeState(), "again"); // a duplicate: no event of its own
    d.increment("n");
  };
  d.transact(() => d.delete("a"), "txn");
  assert.deepEqual(
    changes.map((e) => [e.counters, e.registers, e.origin]),
    [
      [["n"], [], undefined],
      [[], ["a"], "txn"],
    ],
  );
});

test("a listener may free the document: the write that fired it does not throw", () => {
  const a = new Doc();
  a.on("update", () => a.free());
  let changes = 0;
  a.on("change", () => changes++);
  a.increment("c");
  assert.equal(changes, 0, "no change event from a freed Doc");
  assert.throws(() => a.counter("c"), /this Doc was freed/);
  const b = new Doc();
  const source = new Doc();
  source.increment("c");
  b.on("update", () => b.free());
  b.on("change", () => changes++);
  b.applyUpdate(source.encodeState());
  assert.equal(changes, 0);
});

test("listeners: each call of on() is its own subscription; unsubscribing during an event is safe", () => {
  const a = new Doc();
  const calls = [];
  const offA = a.on("change", () => {
    calls.push("a");
    offA();
    offB(); // b is still called for this event: listeners are read before it fires
  });
  const offB = a.on("change", () => calls.push("b"));
  a.increment("c");
  a.increment("c");
  assert.deepEqual(calls, ["a", "b"]);
  const listener = () => calls.push("same");
  const off1 = a.on("update", listener);
  a.on("update", listener); // the same function twice is one listener
  a.increment("c");
  off1();
  a.increment("c");
  assert.deepEqual(calls, ["a", "b", "same"]);
});

test("on(): event names are exactly 'update' and 'change'", () => {
  const a = new Doc();
  for (const bad of ["Update", "changes", "", "__proto__", "constructor", "toString", 1, null, undefined, Symbol("update")]) {
    assert.throws(() => a.on(bad, () => {}), { name: "TypeError", message: /unknown event .*use "update" or "change"/ });
  }
  for (const bad of [undefined, null, "fn", {}, 1]) {
    assert.throws(() => a.on("update", bad), { name: "TypeError", message: /a listener must be a function/ });
  }
});

test("a listener added later hears only later transactions, each update carrying only its own entries", () => {
  const a = new Doc({ clientId: "a" });
  a.increment("before");
  a.set("r", "before");
  const log = record(a);
  a.increment("after");
  assert.equal(log.update.length, 1);
  const b = new Doc();
  b.applyUpdate(log.update[0].update);
  assert.deepEqual(b.toJSON(), { counters: { after: 1 }, registers: {}, sets: {} });
  // A counter's update carries this client's whole slot (slots merge by maximum), not the difference.
  a.increment("before", 2);
  b.applyUpdate(log.update[1].update);
  assert.equal(b.counter("before"), 3);
});

// Found by the multi-tab chaos test (tests/e2e/chaos.test.mjs): a re-add must
// get a tag of its own, so a remove that saw only the earlier add cannot undo it.
test("a re-add of a present element is a new add: a concurrent remove that saw only the first does not undo it", () => {
  const a = new Doc({ clientId: "a" });
  const b = new Doc({ clientId: "b" });
  const exchange = () => {
    const [toB, toA] = [a.encodeDelta(b.version()), b.encodeDelta(a.version())];
    b.applyUpdate(toB);
    a.applyUpdate(toA);
  };
  a.add("tags", "x");
  exchange(); // b has seen a's first add
  const updates = [];
  a.on("update", (u) => updates.push(u));
  a.add("tags", "x"); // a adds it again: an update of its own...
  assert.equal(updates.length, 1);
  b.remove("tags", "x"); // ...while b removes what it saw
  exchange();
  assert.deepEqual([a.members("tags"), b.members("tags")], [["x"], ["x"]]);
  // A remove that has seen both adds removes the element everywhere.
  b.remove("tags", "x");
  exchange();
  assert.deepEqual([a.members("tags"), b.members("tags")], [[], []]);
});

// A heartbeat ("I am online", re-added every few seconds) must not make the
// document grow: each re-add replaces the tags it has seen.
test("re-adding a present element again and again keeps the state and its updates small", () => {
  const a = new Doc({ clientId: "a" });
  const peer = new Doc({ clientId: "peer" });
  const sizes = [];
  a.on("update", (u) => {
    sizes.push(u.length);
    peer.applyUpdate(u);
  });
  for (let i = 0; i < 1000; i++) a.add("online", "me");
  // (A re-add records its remove: a few bytes more than after the first add, once.)
  const size = a.encodeState().length;
  for (let i = 0; i < 1000; i++) a.add("online", "me");
  for (const d of [a, peer]) {
    assert.deepEqual(d.members("online"), ["me"]);
    assert.ok(d.encodeState().length <= size + 2, `state grew from ${size} to ${d.encodeState().length} bytes`);
  }
  assert.ok(Math.max(...sizes.slice(-100)) <= Math.max(...sizes.slice(0, 10)) + 8, "updates grew");
  assert.deepEqual(peer.toJSON(), a.toJSON());
});

test("a peer that missed a re-add catches up with a delta the size of what changed, not of the state", () => {
  const a = new Doc({ clientId: "a" });
  a.add("online", "me");
  for (let i = 0; i < 500; i++) a.add("reactions", `user${i}:👍`);
  const peer = Doc.load(a.encodeState(), { clientId: "peer" });
  const since = peer.version();
  a.add("online", "me"); // missed by peer: a remove of the add it holds, then a new add
  a.add("reactions", "user500:👍");
  const delta = a.encodeDelta(since);
  const state = a.encodeState();
  assert.ok(delta.length * 20 < state.length, `delta ${delta.length} bytes, state ${state.length}`);
  const changes = [];
  peer.on("change", (e) => changes.push(e));
  peer.applyUpdate(delta, "catch-up");
  assert.deepEqual(changes, [{ counters: [], registers: [], sets: ["online", "reactions"], local: false, origin: "catch-up" }]);
  assert.deepEqual(peer.toJSON(), a.toJSON());
  assert.deepEqual(peer.encodeState(), state, "the re-add's remove reached the peer");
});

// Once a set's removal record has been purged (the retention has passed),
// the remove's update arriving again is no news: no event.
test("a remove delivered again after its removal record was purged fires nothing", () => {
  let t = 1_000;
  const a = new Doc({ clientId: "a", now: () => t, tombstoneRetentionMs: 10 });
  const b = new Doc({ clientId: "b", now: () => t });
  const updates = [];
  b.on("update", (u) => updates.push(u));
  b.add("s", "x");
  b.add("s", "y");
  b.remove("s", "x");
  for (const u of updates) a.applyUpdate(u);
  assert.deepEqual(a.members("s"), ["y"]);
  t += 100;
  a.encodeDelta(b.version()); // purges the removal record
  const state = a.encodeState();
  const log = record(a);
  for (const u of updates) a.applyUpdate(u);
  assert.equal(log.update.length, 0, "an update event for a delivery that changed nothing");
  assert.equal(log.change.length, 0);
  assert.deepEqual(a.encodeState(), state);
});

// SPEC §1: "delete writes a tombstone with a timestamp: a later set beats an
// earlier delete and vice versa", so a delete is a write even where the key
// holds no value (a peer may hold one this replica has not seen).
test("delete of a key that holds no value here is a write: one update, and it beats an earlier set elsewhere", () => {
  const a = new Doc({ clientId: "a", now: () => 10 });
  const b = new Doc({ clientId: "b", now: () => 20 });
  a.set("k", 1);
  const log = record(b);
  b.delete("k");
  assert.equal(log.update.length, 1);
  assert.equal(log.update[0].local, true);
  assert.deepEqual(log.change.map((e) => e.registers), [["k"]]);
  a.applyUpdate(log.update[0].update);
  b.applyUpdate(a.encodeDelta(b.version()));
  assert.equal(a.get("k"), undefined);
  assert.equal(b.get("k"), undefined);
  assert.deepEqual(a.registerInfo("k"), { writer: "b", wall: 20, logical: 0, deleted: true });
});
