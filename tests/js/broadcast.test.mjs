// BroadcastSync over Node's global BroadcastChannel (SPEC §3).
import { test } from "node:test";
import assert from "node:assert/strict";
import { Doc, BroadcastSync } from "slotkv";

const until = async (cond, ms = 2000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 5));
  }
};

test("two replicas on a channel converge, and a late joiner catches up", async () => {
  const channel = `t-${Math.random()}`;
  const a = new Doc({ clientId: "a" });
  const b = new Doc({ clientId: "b" });
  const sa = new BroadcastSync(a, channel);
  const sb = new BroadcastSync(b, channel);
  a.increment("clicks");
  b.increment("clicks");
  b.add("s", "x");
  await until(() => a.counter("clicks") === 2 && b.counter("clicks") === 2 && a.has("s", "x"));

  const c = new Doc({ clientId: "c" });
  c.increment("clicks", 5);
  const sc = new BroadcastSync(c, channel);
  await until(() => [a, b, c].every((d) => d.counter("clicks") === 7));
  assert.deepEqual(a.toJSON(), c.toJSON());
  assert.deepEqual(b.toJSON(), c.toJSON());
  assert.deepEqual(sa.peers, ["b", "c"]);
  for (const s of [sa, sb, sc]) s.close();
});
