// BroadcastSync over Node's global BroadcastChannel (SPEC §3).
import { test } from "node:test";
import assert from "node:assert/strict";
import { Doc, BroadcastSync } from "slotkv";

const until = async (cond, ms = 5000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${cond}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};
const channelName = () => `t-${Math.random().toString(36).slice(2)}`;

test("three replicas converge, and a late joiner catches up in one round trip", async () => {
  const channel = channelName();
  const docs = ["a", "b", "c"].map((clientId) => new Doc({ clientId }));
  const syncs = docs.map((d) => new BroadcastSync(d, channel));
  docs.forEach((d, i) => {
    d.increment("clicks", i + 1);
    d.add("s", d.clientId);
  });
  docs[0].set("status", "hi");
  await until(() => docs.every((d) => d.counter("clicks") === 6 && d.members("s").length === 3));

  const late = new Doc({ clientId: "late" });
  late.increment("clicks", 10);
  const lateSync = new BroadcastSync(late, channel);
  await until(() => [...docs, late].every((d) => d.counter("clicks") === 16));
  for (const d of docs) assert.deepEqual(d.toJSON(), late.toJSON());
  assert.deepEqual(late.toJSON().registers, { status: "hi" });
  assert.deepEqual(syncs[0].peers, ["b", "c", "late"]);
  for (const s of [...syncs, lateSync]) s.close();
});

test("an update is never sent back to where it came from", async () => {
  const channel = channelName();
  const a = new Doc({ clientId: "a" });
  const b = new Doc({ clientId: "b" });
  const sa = new BroadcastSync(a, channel);
  const sb = new BroadcastSync(b, channel);
  const spy = new BroadcastChannel(channel);
  const seen = [];
  spy.onmessage = (e) => seen.push(e.data);
  await until(() => sa.peers.includes("b") && sb.peers.includes("a"));
  seen.length = 0;
  a.increment("x");
  await until(() => b.counter("x") === 1);
  await new Promise((r) => setTimeout(r, 50));
  const updates = seen.filter((m) => m.t === "update");
  assert.equal(updates.length, 1, "b applied a's update and did not re-post it");
  assert.equal(updates[0].from, "a");
  spy.close();
  sa.close();
  sb.close();
});

test("presence: states are shared, and a replica leaves on close()", async () => {
  const channel = channelName();
  const a = new BroadcastSync(new Doc({ clientId: "a" }), channel);
  const b = new BroadcastSync(new Doc({ clientId: "b" }), channel);
  let events = 0;
  a.on("presence", () => events++);
  a.setPresence({ name: "Ann" });
  b.setPresence({ name: "Bob" });
  await until(() => a.presence().size === 2 && b.presence().size === 2);
  assert.deepEqual([...a.presence()].sort(), [["a", { name: "Ann" }], ["b", { name: "Bob" }]]);
  b.close();
  await until(() => a.peers.length === 0);
  assert.deepEqual([...a.presence().keys()], ["a"]);
  assert.ok(events >= 2);
  a.close();
});

test("presence: a silent replica leaves after the timeout", async () => {
  const channel = channelName();
  const a = new BroadcastSync(new Doc({ clientId: "a" }), channel, { heartbeatMs: 20, timeoutMs: 150 });
  // A peer that says hello once and then goes silent (a crashed tab).
  const ghost = new BroadcastChannel(channel);
  ghost.postMessage({ t: "presence", from: "ghost", state: { name: "Gus" } });
  await until(() => a.peers.includes("ghost"));
  assert.deepEqual(a.presence().get("ghost"), { name: "Gus" });
  await until(() => !a.peers.includes("ghost"), 3000);
  assert.equal(a.presence().has("ghost"), false);
  ghost.close();
  a.close();
});

test("malformed messages are dropped and reported, never fatal", async () => {
  const channel = channelName();
  const doc = new Doc({ clientId: "a" });
  const a = new BroadcastSync(doc, channel);
  const errors = [];
  a.on("error", (e) => errors.push(e.message));
  const evil = new BroadcastChannel(channel);
  const bad = [
    null,
    42,
    "hello",
    { t: "update" },
    { t: "update", from: "x", update: "not bytes" },
    { t: "update", from: "x", update: new Uint8Array([1, 2, 3]) },
    { t: "hello", from: "x" },
    { t: "sync", from: "x", to: "a", update: new Uint8Array([0xb7, 9]), version: new Uint8Array() },
    { t: "launch-missiles", from: "x" },
    { t: "update", from: "y".repeat(65), update: new Uint8Array() },
  ];
  for (const m of bad) evil.postMessage(m);
  await until(() => errors.length === bad.length);
  assert.ok(errors.some((m) => /cannot apply update/.test(m)));
  assert.ok(errors.some((m) => /unknown message type/.test(m)));
  // Still syncing afterwards.
  const b = new Doc({ clientId: "b" });
  const sb = new BroadcastSync(b, channel);
  b.increment("x");
  await until(() => doc.counter("x") === 1);
  evil.close();
  a.close();
  sb.close();
});

test("bad constructor arguments throw TypeError", () => {
  assert.throws(() => new BroadcastSync({}, "c"), TypeError);
  assert.throws(() => new BroadcastSync(new Doc(), ""), TypeError);
});
