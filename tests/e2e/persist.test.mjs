// persist() in real Chromium tabs (one browser context: the tabs share
// IndexedDB, Web Locks and BroadcastChannel, as tabs of one origin do). No
// BroadcastSync here: every write a non-writer tab makes reaches storage over
// persist's own channel. The test page, www/test/persist.html, exposes
// helpers as `t` (see www/test/persist.js).
import { test, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS, start, waitFor } from "./browser.mjs";

const TEST_TIMEOUT = 30000;
let env;
let pages = [];
let count = 0;

before(async () => {
  env = await start();
});
afterEach(async () => {
  await Promise.all(pages.map((p) => p.close().catch(() => {})));
  pages = [];
});
after(async () => {
  await env?.close();
});

/** A database name no other test uses (the browser context outlives each test). */
const fresh = (label) => `${label}-${++count}`;

/** A new tab on the test page; collects its console warnings in `page.warnings`. */
async function tab() {
  const page = await env.context.newPage();
  page.warnings = [];
  page.on("console", (m) => {
    if (m.type() === "warning") page.warnings.push(m.text());
    if (m.type() === "error") env.errors.push(new Error(m.text()));
  });
  await page.goto(`${env.url}test/persist.html`);
  await page.waitForFunction(() => globalThis.ready === true);
  pages.push(page);
  return page;
}

/** Persists a new Doc (with `docOptions`) as `name` in `page`; returns { isWriter, state } as of persist() resolving. */
const open = (page, name, options, docOptions) => page.evaluate(([n, o, d]) => t.open(n, o, d), [name, options, docOptions]);
const isWriter = (page) => page.evaluate(() => t.p.isWriter);
const flush = (page) => page.evaluate(() => t.p.flush());
/** What the tab's flush() comes to: "resolved", or the message it rejects with. */
const flushOutcome = (page) => page.evaluate(() => t.p.flush().then(() => "resolved", (e) => e.message));
/** The tab's document as comparable JSON (Uint8Array values as { bytes: [...] }). */
const state = (page) => page.evaluate(() => t.state());


async function closeTabs(...tabs) {
  await Promise.all(tabs.map((p) => p.close()));
  pages = pages.filter((p) => !tabs.includes(p));
}

/** Closes `tabs` (as a user closing them would: no close() call) and loads `name` in a brand-new tab. */
async function reopen(name, tabs, options) {
  await closeTabs(...tabs);
  const page = await tab();
  await open(page, name, options);
  return page;
}

function assertNoErrors() {
  const errors = env.errors.splice(0);
  assert.deepEqual(errors.map(String), []);
}

test("exactly one of three tabs is the writer, holding the lock named after the document", { timeout: TEST_TIMEOUT }, async () => {
  const name = fresh("one-writer");
  const tabs = await Promise.all([tab(), tab(), tab()]);
  const opened = await Promise.all(tabs.map((p) => open(p, name)));
  assert.equal(opened.filter((o) => o.isWriter).length, 1, "one writer when persist() resolves");

  const locks = await tabs[0].evaluate(() => navigator.locks.query());
  assert.equal(locks.held.filter((l) => l.name === `slotkv:${name}`).length, 1);
  assert.equal(locks.pending.filter((l) => l.name === `slotkv:${name}`).length, 2, "the other tabs queue for the lock");

  // Still exactly one after every tab has written and flushed.
  await Promise.all(tabs.map((p) => p.evaluate(() => t.doc.increment("n"))));
  await Promise.all(tabs.map(flush));
  const roles = await Promise.all(tabs.map(isWriter));
  assert.equal(roles.filter(Boolean).length, 1);
  const writer = tabs[roles.indexOf(true)];
  assert.equal((await state(writer)).counters.n, 3, "the writer applied the others' writes");
  assertNoErrors();
});

test("writes from non-writer tabs are durable once their flush() resolves", { timeout: TEST_TIMEOUT }, async () => {
  const name = fresh("durable");
  const a = await tab();
  assert.equal((await open(a, name)).isWriter, true);
  const [b, c] = await Promise.all([tab(), tab()]);
  await open(b, name);
  // c's document has a write from before persist(): it must reach storage too.
  await c.evaluate(async (n) => {
    t.doc = new t.slotkv.Doc();
    t.doc.set("early", "before persist");
    t.p = await t.slotkv.persist(t.doc, n);
  }, name);
  assert.deepEqual(await Promise.all([isWriter(b), isWriter(c)]), [false, false]);

  await a.evaluate(() => t.doc.increment("clicks"));
  await b.evaluate(() => {
    t.doc.increment("clicks", 2);
    t.doc.set("status", { by: "b", n: 1 });
    t.doc.add("tags", "from-b");
  });
  await c.evaluate(() => {
    t.doc.transact(() => {
      t.doc.increment("clicks", 3);
      t.doc.add("tags", "from-c");
    });
    t.doc.add("tags", "gone");
    t.doc.remove("tags", "gone");
    t.doc.decrement("down", 4);
  });
  // Only the non-writers flush: their writes must be stored by the writer.
  await Promise.all([flush(b), flush(c)]);

  const expected = {
    counters: { clicks: 6, down: -4 },
    registers: { early: "before persist", status: { by: "b", n: 1 } },
    sets: { tags: ["from-b", "from-c"] },
  };
  // a's own increment was not flushed; b's and c's must be there.
  const stored = await a.evaluate((n) => t.stored(n), name);
  assert.ok(stored.counters.clicks >= 5, `b's and c's increments are stored (${stored.counters.clicks})`);
  assert.deepEqual(stored.sets, expected.sets);
  assert.deepEqual(stored.registers, expected.registers);

  await flush(a);
  const d = await reopen(name, [a, b, c]);
  assert.deepEqual(await state(d), expected);
  assertNoErrors();
});

test("closing the writer tab hands the lock to another tab and nothing written before is lost", { timeout: TEST_TIMEOUT }, async () => {
  const name = fresh("handover");
  const a = await tab();
  await open(a, name);
  const [b, c] = await Promise.all([tab(), tab()]);
  await Promise.all([open(b, name), open(c, name)]);
  assert.equal(await isWriter(a), true);

  await a.evaluate(() => t.doc.add("who", "a"));
  await flush(a);
  await b.evaluate(() => t.doc.add("who", "b"));
  await flush(b);
  // c writes and does not flush; then the writer goes away at once. c's write
  // may or may not have been stored: the next writer must collect it.
  await c.evaluate(() => t.doc.add("who", "c"));
  await closeTabs(a);

  const next = await waitFor("a new writer", async () => {
    const roles = await Promise.all([isWriter(b), isWriter(c)]);
    return roles.filter(Boolean).length === 1 && (roles[0] ? b : c);
  });
  const other = next === b ? c : b;
  assert.equal(await isWriter(other), false);

  // Both keep writing; flushes go to the new writer.
  await next.evaluate(() => t.doc.increment("after"));
  await other.evaluate(() => t.doc.increment("after"));
  await Promise.all([flush(next), flush(other)]);
  assert.deepEqual((await next.evaluate((n) => t.stored(n), name)).sets.who, ["a", "b", "c"]);

  const d = await reopen(name, [b, c]);
  assert.deepEqual(await state(d), { counters: { after: 2 }, registers: {}, sets: { who: ["a", "b", "c"] } });
  assertNoErrors();
});

test("close() flushes and releases the lock: another tab becomes the writer", { timeout: TEST_TIMEOUT }, async () => {
  const name = fresh("close");
  const a = await tab();
  await open(a, name);
  const b = await tab();
  await open(b, name);
  await b.evaluate(() => t.doc.set("k", "from b"));
  await a.evaluate(() => t.doc.increment("a"));
  // No flush before close(): close() flushes.
  await a.evaluate(() => t.p.close());
  assert.equal(await isWriter(a), false);
  await waitFor("b to become the writer", () => isWriter(b));
  await b.evaluate(() => t.doc.increment("b"));
  await flush(b);
  // a keeps its tab but no longer persists: its later writes are not stored,
  // and a flush() says so.
  const flushed = () => flushOutcome(a);
  assert.equal(await flushed(), "resolved", "nothing changed since close()");
  await a.evaluate(() => t.doc.increment("a", 100));
  assert.match(await flushed(), /persist was closed and this Doc has changed since/);

  const d = await reopen(name, [a, b]);
  assert.deepEqual(await state(d), { counters: { a: 1, b: 1 }, registers: { k: "from b" }, sets: {} });
  assertNoErrors();
});

test("a writer tab whose Doc is freed gives up the lock: another tab becomes the writer and stores its writes", { timeout: TEST_TIMEOUT }, async () => {
  const name = fresh("freed");
  const a = await tab();
  await open(a, name);
  const b = await tab();
  await open(b, name);
  assert.equal(await isWriter(a), true);
  await a.evaluate(() => t.doc.free()); // without close(): nothing is left for a to save
  await b.evaluate(() => t.doc.increment("b"));
  await flush(b); // reaches a, which stops and hands the lock on; b takes over and stores everything
  assert.equal(await isWriter(b), true);
  assert.equal(await isWriter(a), false);
  assert.match(await flushOutcome(a), /its Doc was freed/);
  assert.equal((await b.evaluate((n) => navigator.locks.query(), name)).held.filter((l) => l.name === `slotkv:${name}`).length, 1);
  const c = await reopen(name, [a, b]);
  assert.deepEqual(await state(c), { counters: { b: 1 }, registers: {}, sets: {} });
  assertNoErrors();
});

test("BroadcastSync does not post back what the writer took from another tab over persist's channel", { timeout: TEST_TIMEOUT }, async () => {
  const name = fresh("no-echo");
  const channel = `sync-${name}`;
  // persist first, then BroadcastSync: the writer then hears each write over persist's channel too.
  const [w, n] = [await tab(), await tab()];
  for (const page of [w, n]) {
    await open(page, name);
    await page.evaluate((ch) => (t.sync = new t.slotkv.BroadcastSync(t.doc, ch)), channel);
  }
  assert.equal(await isWriter(w), true);
  // The two have caught up with each other (hello, sync, update) before anyone counts.
  await waitFor("the tabs to hear each other", async () => (await n.evaluate(() => t.sync.peers.length)) === 1);
  await new Promise((r) => setTimeout(r, 200));
  const spy = await tab();
  await spy.evaluate((ch) => {
    globalThis.updates = [];
    new BroadcastChannel(ch).onmessage = (e) => e.data.t === "update" && globalThis.updates.push(e.data.from);
  }, channel);
  const writerId = await w.evaluate(() => t.doc.clientId);
  const writes = 20;
  await n.evaluate((k) => {
    for (let i = 0; i < k; i++) t.doc.increment("c");
  }, writes);
  await flush(n); // the writer has taken all of them over persist's channel
  await waitFor("the writer to hold every write", async () => (await state(w)).counters.c === writes);
  await waitFor("the spy to hear every write", async () => (await spy.evaluate(() => globalThis.updates.length)) >= writes);
  await new Promise((r) => setTimeout(r, 300)); // time for an echo to arrive, were there one
  const from = await spy.evaluate(() => globalThis.updates);
  assert.ok(!from.includes(writerId), "the writer posted none back");
  assert.equal(from.length, writes, `${from.length} updates on the channel for ${writes} writes`);
  assertNoErrors();
});

test("the writer relays to BroadcastSync what it took from a tab that persists without BroadcastSync", { timeout: TEST_TIMEOUT }, async () => {
  const name = fresh("relay");
  const channel = `sync-${name}`;
  const [w, o, n] = [await tab(), await tab(), await tab()];
  for (const page of [w, o, n]) await open(page, name);
  for (const page of [w, o]) await page.evaluate((ch) => (t.sync = new t.slotkv.BroadcastSync(t.doc, ch)), channel);
  assert.equal(await isWriter(w), true);
  await n.evaluate(() => t.doc.add("from", "n")); // reaches the writer over persist's channel only
  await flush(n);
  await waitFor("o to get n's write through the writer", async () => (await state(o)).sets.from?.[0] === "n");
  assertNoErrors();
});

test("a timer option above setTimeout's limit is a RangeError, not a 1 ms timer", { timeout: TEST_TIMEOUT }, async () => {
  const page = await tab();
  const error = await page.evaluate(() =>
    t.slotkv.persist(new t.slotkv.Doc(), "limit", { ackTimeoutMs: 2 ** 31 }).then(
      () => "resolved",
      (e) => `${e.name}: ${e.message}`,
    ),
  );
  assert.match(error, /^RangeError: .*ackTimeoutMs must be at most 2147483647 ms/);
  assertNoErrors();
});

test("a writer that crashes before storing what it received: the next writer collects it", { timeout: TEST_TIMEOUT }, async () => {
  const name = fresh("crash");
  const a = await tab();
  await open(a, name);
  const b = await tab();
  await open(b, name); // b queues for the lock before c: b is next
  const c = await tab();
  await open(c, name);
  await a.evaluate(() => t.doc.increment("n", 10));
  await c.evaluate(() => t.doc.increment("n", 5));
  await Promise.all([flush(a), flush(c)]);

  // a receives c's next write but cannot store it, so c's flush stays pending.
  await a.evaluate((n) => t.block(n), name);
  await c.evaluate(() => {
    t.doc.add("late", "c");
    t.flushed = false;
    t.p.flush().then(() => (t.flushed = true));
  });
  await waitFor("a to receive c's write", async () => (await state(a)).sets.late);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(await c.evaluate(() => t.flushed), false, "no ack while the writer cannot write");

  const crashed = new Promise((r) => a.once("crash", r));
  const cdp = await env.context.newCDPSession(a);
  cdp.send("Page.crash").catch(() => {}); // never answers: the renderer is gone
  await crashed;
  await waitFor("b to become the writer", () => isWriter(b));
  assert.equal(await isWriter(c), false);
  // b never had c's write; c sends it again when b announces itself, then its flush resolves.
  await waitFor("c's flush", () => c.evaluate(() => t.flushed));

  const d = await reopen(name, [a, b, c]);
  assert.deepEqual(await state(d), { counters: { n: 15 }, registers: {}, sets: { late: ["c"] } });
  assertNoErrors();
});

test("a flush() made during a handover resolves only once the new writer has stored everything", { timeout: TEST_TIMEOUT }, async () => {
  const name = fresh("handover-flush");
  const a = await tab();
  await open(a, name);
  const b = await tab();
  await open(b, name);
  const c = await tab();
  await open(c, name);
  const blocker = await tab(); // does not persist: it only stalls the database

  // a receives c's write but cannot store it.
  await blocker.evaluate((n) => t.block(n), name);
  await c.evaluate(() => {
    t.doc.add("late", "c1");
    t.p.flush();
  });
  await waitFor("a to receive c's write", async () => (await state(a)).sets.late);
  const crashed = new Promise((r) => a.once("crash", r));
  const cdp = await env.context.newCDPSession(a);
  cdp.send("Page.crash").catch(() => {});
  await crashed;
  // b holds the lock now but its takeover waits for the database. c flushes
  // again: b will answer that request, and c must not take that answer as
  // proof until b has caught up with c.
  await waitFor("b to become the writer", () => isWriter(b));
  await c.evaluate((n) => {
    t.doc.add("late", "c2");
    t.checked = t.p.flush().then(() => t.stored(n));
  }, name);
  await blocker.evaluate(() => t.unblock());
  const stored = await c.evaluate(() => t.checked);
  assert.deepEqual(stored.sets.late, ["c1", "c2"], "everything c wrote is stored when its flush resolves");
  assertNoErrors();
});

test("with BroadcastSync as well, each write is stored once, not once per tab", { timeout: TEST_TIMEOUT }, async () => {
  const name = fresh("with-sync");
  const tabs = [];
  for (let i = 0; i < 3; i++) {
    const page = await tab();
    await open(page, name);
    await page.evaluate((n) => (t.sync = new t.slotkv.BroadcastSync(t.doc, `sync-${n}`)), name);
    tabs.push(page);
  }
  // Each tab's write reaches the writer twice (BroadcastSync and persist's channel).
  await Promise.all(tabs.map((p, i) => p.evaluate((i) => t.doc.add("tabs", `tab${i}`), i)));
  await Promise.all(tabs.map(flush));
  for (const page of tabs) await waitFor("every tab to converge", async () => (await state(page)).sets.tabs?.length === 3);

  const raw = await tabs[0].evaluate((n) => t.raw(n), name);
  assert.ok(raw.log.length <= 3, `${raw.log.length} log records for 3 writes`);
  assert.deepEqual((await tabs[0].evaluate((n) => t.stored(n), name)).sets.tabs, ["tab0", "tab1", "tab2"]);
  assertNoErrors();
});

test("closing every tab and opening a new one loads everything, reload included", { timeout: TEST_TIMEOUT }, async () => {
  const name = fresh("reload");
  const a = await tab();
  await open(a, name);
  const b = await tab();
  await open(b, name);
  await a.evaluate(() => {
    t.doc.increment("clicks", 7);
    t.doc.set("bytes", new Uint8Array([0, 1, 254, 255]));
    t.doc.set("deleted", "soon");
    t.doc.delete("deleted");
    t.doc.set("nested", { list: [1, "two", null, { three: true }], "": "empty key" });
  });
  await b.evaluate(() => {
    t.doc.decrement("clicks", 2);
    for (let i = 0; i < 20; i++) t.doc.add("many", `e${String(i).padStart(2, "0")}`);
    t.doc.remove("many", "e13");
    t.doc.set("unicode", "héllo 🌍");
  });
  await Promise.all([flush(a), flush(b)]);
  const expected = await state(a);
  // The writer saw everything b wrote, so its state is the whole document.
  assert.deepEqual(expected, await b.evaluate((n) => t.stored(n), name));
  assert.equal(expected.sets.many.length, 19);

  // A reload of the only remaining tab (the demo's "persistence across reload").
  await closeTabs(a);
  await b.reload();
  await b.waitForFunction(() => globalThis.ready === true);
  const reloaded = await open(b, name);
  assert.equal(reloaded.isWriter, true);
  assert.deepEqual(await state(b), expected);

  const c = await reopen(name, [b]);
  assert.deepEqual(await state(c), expected);
  assertNoErrors();
});

test("a document that outgrew its update limits loads all of itself from storage", { timeout: TEST_TIMEOUT }, async () => {
  // The limits bound an update from a peer; local writes can make the
  // document larger. (Found in review: the compacted snapshot was then
  // skipped on load as if corrupt, and the next snapshot lacked it.)
  const name = fresh("outgrown");
  const docOptions = { limits: { maxEntries: 50, maxUpdateBytes: 500 } };
  const a = await tab();
  await open(a, name, { compactAfter: 5 }, docOptions);
  await a.evaluate(() => {
    for (let i = 0; i < 100; i++) t.doc.increment(`k${i}`);
  });
  await flush(a);
  const stored = await a.evaluate((n) => t.raw(n), name);
  assert.ok(stored.snapshot > 500, `a compacted snapshot larger than maxUpdateBytes (${stored.snapshot} B)`);
  const before = await state(a);
  await closeTabs(a);
  const b = await tab();
  await open(b, name, { compactAfter: 5 }, docOptions);
  assert.deepEqual(await state(b), before);
  assert.deepEqual(b.warnings, []);
  // A peer's update of that size is still refused.
  const refused = await b.evaluate(() => {
    try {
      new t.slotkv.Doc({ limits: { maxEntries: 50, maxUpdateBytes: 500 } }).applyUpdate(t.doc.encodeState());
      return "applied";
    } catch (e) {
      return e.message;
    }
  });
  assert.match(refused, /limit of 500/);
  assertNoErrors();
});

test("another tab's transaction larger than an update may be is stored, and its flush() means it", { timeout: TEST_TIMEOUT }, async () => {
  // (Found in review: the writer applied it as a peer's update, refused it
  // for its size, and acked the flush all the same.)
  const name = fresh("big-from-tab");
  const docOptions = { limits: { maxUpdateBytes: 500 } };
  const a = await tab();
  await open(a, name, {}, docOptions);
  const b = await tab();
  await open(b, name, {}, docOptions);
  const bytes = await b.evaluate(() => {
    let n = 0;
    const off = t.doc.on("update", (u) => (n = u.byteLength));
    t.doc.transact(() => {
      for (let i = 0; i < 60; i++) t.doc.increment(`k${i}`);
    });
    off();
    return n;
  });
  assert.ok(bytes > 500, `one update of ${bytes} B, over maxUpdateBytes`);
  await flush(b);
  assert.equal(Object.keys((await a.evaluate((n) => t.stored(n), name)).counters).length, 60);
  assertNoErrors();
});

test("a non-writer's flush() rejects when the writer cannot take its update or cannot write", { timeout: TEST_TIMEOUT }, async () => {
  const name = fresh("flush-fails");
  const a = await tab();
  await open(a, name, {}, { limits: { maxValueDepth: 2 } });
  const b = await tab();
  await open(b, name);
  // Nested deeper than the writer's Doc accepts: it cannot take b's write.
  await b.evaluate(() => t.doc.set("deep", { a: { b: { c: 1 } } }));
  assert.match(await flushOutcome(b), /flush failed: the writer tab could not take an update from this tab/);
  assert.equal(await flushOutcome(a), "resolved", "the writer itself stored all it holds");

  // The writer's IndexedDB writes fail from now on (a full disk, say): every
  // flush says so, a non-writer's included, which used to wait forever.
  const c = await tab();
  await open(c, name);
  await a.evaluate(() => t.failWrites());
  await c.evaluate(() => t.doc.increment("n"));
  assert.match(await flushOutcome(c), /flush failed: the writer tab could not write IndexedDB/);
  assert.match(await flushOutcome(a), /this write fails/);
  // close() fails too, and a flush() after it still says nothing was saved.
  assert.match(await a.evaluate(() => t.p.close().then(() => "resolved", (e) => e.message)), /this write fails/);
  assert.match(await flushOutcome(a), /this write fails/, "flush() after a close() that failed resolved");
  const errors = env.errors.splice(0).map(String);
  assert.ok(errors.length > 0 && errors.every((e) => /could not write IndexedDB/.test(e)), errors.join("\n"));
});

// Found in review: a tab whose Doc's limits refuse the writer's version (it
// names more client ids than maxClients: every tab session is a new client
// id) threw on the writer's announcement, so it never caught the writer up,
// and its flush() never resolved. It now sends its whole state instead.
test("a tab whose limits refuse the writer's version still gets its writes stored", { timeout: TEST_TIMEOUT }, async () => {
  const name = fresh("past-limits");
  const a = await tab();
  await open(a, name);
  await a.evaluate(() => {
    for (let i = 0; i < 10; i++) {
      const w = new t.slotkv.Doc({ clientId: `session-${i}` });
      w.increment("c");
      t.doc.applyUpdate(w.encodeState());
    }
  });
  await flush(a);
  const b = await tab();
  await open(b, name, {}, { limits: { maxClients: 4 } });
  assert.equal(await isWriter(b), false);
  await b.evaluate(() => t.doc.add("s", "from-b"));
  const outcome = await b.evaluate(() =>
    Promise.race([t.p.flush().then(() => "resolved", (e) => e.message), new Promise((r) => setTimeout(() => r("still waiting after 10 s"), 10000))]),
  );
  assert.equal(outcome, "resolved");
  const stored = await a.evaluate((n) => t.stored(n), name);
  assert.deepEqual(stored.sets, { s: ["from-b"] });
  assert.equal(stored.counters.c, 10);
  assertNoErrors();
});

test("a takeover whose first rewrite fails still gets the other tabs' unsaved writes", { timeout: TEST_TIMEOUT }, async () => {
  // (Found in review: the new writer announced itself only if its takeover
  // rewrite succeeded, so a tab's write the crashed writer never stored
  // stayed in that tab alone.)
  const name = fresh("takeover-fails");
  const a = await tab();
  await open(a, name);
  const b = await tab();
  await open(b, name); // next in line for the lock
  const c = await tab();
  await open(c, name);
  await a.evaluate(() => t.doc.increment("n"));
  await flush(a);
  await a.evaluate((n) => t.block(n), name);
  await c.evaluate(() => t.doc.add("late", "c")); // no flush()
  await waitFor("a to receive c's write", async () => (await state(a)).sets.late);
  await b.evaluate(() => t.failWrites(1));
  const crashed = new Promise((r) => a.once("crash", r));
  const cdp = await env.context.newCDPSession(a);
  cdp.send("Page.crash").catch(() => {});
  await crashed;
  await waitFor("b to become the writer", () => isWriter(b));
  await b.evaluate(() => t.doc.increment("b"));
  await waitFor("b to get c's write", async () => (await state(b)).sets.late);
  await flush(b);
  const d = await reopen(name, [a, b, c]); // c never flushed
  assert.deepEqual(await state(d), { counters: { n: 1, b: 1 }, registers: {}, sets: { late: ["c"] } });
  const errors = env.errors.splice(0).map(String);
  assert.ok(errors.every((e) => /could not write IndexedDB/.test(e)), errors.join("\n"));
});

test("the writer stores an applied update as it was, even if the caller then reuses its buffer", { timeout: TEST_TIMEOUT }, async () => {
  const name = fresh("reused-buffer");
  const a = await tab();
  await open(a, name);
  await a.evaluate(async () => {
    const other = new t.slotkv.Doc();
    other.set("k", "from elsewhere");
    const update = other.encodeState();
    t.doc.applyUpdate(update);
    update.fill(0);
    await t.p.flush();
  });
  assert.deepEqual((await a.evaluate((n) => t.stored(n), name)).registers, { k: "from elsewhere" });
  assert.deepEqual(a.warnings, []);
  assertNoErrors();
});

test("deleting the database from another tab is not blocked: persist stops, with a warning", { timeout: TEST_TIMEOUT }, async () => {
  const name = fresh("deleted");
  const a = await tab();
  await open(a, name);
  await a.evaluate(() => t.doc.increment("n"));
  await flush(a);
  const b = await tab();
  const deleted = await b.evaluate(
    (n) =>
      new Promise((ok) => {
        const req = indexedDB.deleteDatabase(`slotkv:${n}`);
        req.onsuccess = () => ok("deleted");
        req.onerror = () => ok(`failed: ${req.error}`);
        setTimeout(() => ok("still blocked after 5 s"), 5000);
      }),
    name,
  );
  assert.equal(deleted, "deleted");
  assert.equal(await isWriter(a), false);
  // What it held may be gone with the database, and nothing more is saved: flush() says so.
  assert.match(await flushOutcome(a), /deleted or upgraded elsewhere, so this Doc's writes are not saved/);
  assert.ok(a.warnings.some((w) => /stopped: the database is being deleted or upgraded elsewhere/.test(w)), a.warnings.join("\n"));
  assertNoErrors();
});

test("the writer compacts the log past the threshold and the reloaded state is identical", { timeout: TEST_TIMEOUT }, async () => {
  const name = fresh("compact");
  const options = { compactAfter: 5 };
  const a = await tab();
  await open(a, name, options);
  const b = await tab();
  await open(b, name, options);
  const raw = () => a.evaluate((n) => t.raw(n), name);
  assert.equal((await raw()).log.length, 0, "taking over writes a snapshot and leaves an empty log");

  // One record per flushed write, from both tabs: 5 fill the log...
  for (let i = 0; i < 5; i++) {
    const page = i % 2 ? b : a;
    await page.evaluate((i) => t.doc.set(`r${i}`, i), i);
    await flush(page);
  }
  let stored = await raw();
  assert.equal(stored.log.length, 5);
  assert.ok(stored.log.every((r) => r.kind === "bytes"));
  // ...the 6th passes the threshold: snapshot rewritten, log cleared.
  const before = stored.snapshot;
  await a.evaluate(() => t.doc.increment("sixth"));
  await flush(a);
  stored = await raw();
  assert.equal(stored.log.length, 0, "compacted");
  assert.ok(stored.snapshot > before, "the snapshot grew to hold the log");
  // A burst of writes never leaves more than the threshold in the log.
  await b.evaluate(() => {
    for (let i = 0; i < 40; i++) t.doc.add("burst", `x${i}`);
  });
  await flush(b);
  await a.evaluate(() => t.doc.set("last", "yes"));
  await flush(a);
  stored = await raw();
  assert.ok(stored.log.length <= 5, `log has ${stored.log.length} records`);

  // A byte threshold compacts too.
  await a.evaluate(() => t.p.close());
  await closeTabs(a);
  await waitFor("b to become the writer", () => isWriter(b));
  await b.evaluate(() => t.p.close());
  await b.evaluate((n) => t.open(n, { compactAfterBytes: 2000 }), name);
  await b.evaluate(() => {
    for (let i = 0; i < 5; i++) t.doc.set(`big${i}`, "x".repeat(600));
  });
  await flush(b);
  stored = await b.evaluate((n) => t.raw(n), name);
  assert.ok(stored.log.length < 4, `byte threshold: log has ${stored.log.length} records`);

  const expected = await state(b);
  assert.equal(expected.sets.burst.length, 40);
  assert.deepEqual(await b.evaluate((n) => t.stored(n), name), expected);
  const c = await reopen(name, [b]);
  assert.deepEqual(await state(c), expected);
  assertNoErrors();
});

test("a corrupt log record is skipped with a warning and the rest loads", { timeout: TEST_TIMEOUT }, async () => {
  const name = fresh("corrupt");
  const a = await tab();
  await open(a, name);
  for (const k of ["one", "two", "three"]) {
    await a.evaluate((k) => t.doc.add("words", k), k);
    await flush(a);
  }
  const expected = await state(a);
  await closeTabs(a);

  // Torn and foreign records between and after the good ones.
  const b = await tab();
  const keys = (await b.evaluate((n) => t.raw(n), name)).log.map((r) => r.key);
  assert.equal(keys.length, 3);
  await b.evaluate(
    ([n, k0, k2]) =>
      Promise.all([
        t.inject(n, "not bytes", k0 + 0.5),
        t.inject(n, new Uint8Array([0xb7, 1]), k2 + 0.5), // a torn update
        t.inject(n, new Uint8Array([1, 2, 3]), k2 + 0.75), // not an update at all
      ]),
    [name, keys[0], keys[2]],
  );
  assert.equal((await b.evaluate((n) => t.raw(n), name)).log.length, 6);

  const opened = await open(b, name);
  assert.deepEqual(opened.state, expected);
  await waitFor("3 warnings", () => b.warnings.filter((w) => w.includes("skipped log record")).length === 3);
  assert.match(b.warnings.join("\n"), /skipped log record [\d.]+: not a Uint8Array/);
  assert.match(b.warnings.join("\n"), /skipped log record [\d.]+: slotkv: cannot apply update: .*truncated/);

  // The writer's takeover rewrote storage: the next load is clean.
  assert.equal((await b.evaluate((n) => t.raw(n), name)).log.length, 0);
  const c = await reopen(name, [b]);
  assert.deepEqual(await state(c), expected);
  assert.deepEqual(c.warnings, []);
  assertNoErrors();
});

// Found in review: a record this build refuses as a newer format (one a newer
// slotkv wrote, before a rollback) was skipped as if corrupt, and the
// takeover rewrite then deleted it: after upgrading again, it was gone.
test("what a newer slotkv stored stays in storage through this build's rewrites", { timeout: TEST_TIMEOUT }, async () => {
  const name = fresh("newer");
  const a = await tab();
  await open(a, name);
  await a.evaluate(() => t.doc.set("mine", 1));
  await flush(a);
  // Two states as a newer build might write them: format 3, which this build refuses.
  const newer = await a.evaluate(() =>
    ["snapshot", "log"].map((k) => {
      const d = new t.slotkv.Doc();
      d.set(k, 2);
      const bytes = d.encodeState();
      bytes[1] = 3;
      return Array.from(bytes);
    }),
  );
  await closeTabs(a);

  const b = await tab();
  await b.evaluate(([n, s, l]) => Promise.all([t.putSnapshot(n, Uint8Array.from(s)), t.inject(n, Uint8Array.from(l), 1e9)]), [name, ...newer]);
  const opened = await open(b, name, { compactAfter: 2 });
  assert.deepEqual(opened.state.registers, { mine: 1 });
  await waitFor("2 warnings", () => b.warnings.filter((w) => w.includes("left in storage for that slotkv")).length === 2);
  for (let i = 0; i < 3; i++) await b.evaluate((i) => t.doc.set(`more${i}`, i), i); // and a compaction
  await flush(b);
  let stored = await b.evaluate((n) => t.raw(n), name);
  assert.equal(b.warnings.filter((w) => w.includes("left in storage for that slotkv")).length, 2, "warned once, not at every rewrite");
  assert.equal(stored.snapshotFormat <= 2, true, "the snapshot is this build's");
  assert.equal(stored.log.filter((r) => r.format === 3).length, 2, "both newer records are in the log");
  // As the newer build would read storage: those bytes, with their format put back.
  const kept = await b.evaluate(
    (n) =>
      new Promise((ok) => {
        indexedDB.open(`slotkv:${n}`).onsuccess = (e) => {
          const req = e.target.result.transaction("log").objectStore("log").getAll();
          req.onsuccess = () => ok(req.result.filter((r) => r[1] === 3).map((r) => Array.from(r)));
        };
      }),
    name,
  );
  assert.deepEqual(kept.sort(), newer.slice().sort());
  const c = await reopen(name, [b]);
  assert.deepEqual((await state(c)).registers, { mine: 1, more0: 0, more1: 1, more2: 2 });
  stored = await c.evaluate((n) => t.raw(n), name);
  assert.equal(stored.log.filter((r) => r.format === 3).length, 2);
  assertNoErrors();
});

// A writer tab still running an earlier slotkv says no format in its
// "writer" message: the non-writer's catch-up delta for it is format 1, which
// every build reads, so the writer can store it. A writer that names format 2
// gets format 2. Here the page itself plays that writer: it holds the lock and
// speaks persist's channel protocol (pkg/persist.js).
test("a log record whose bytes are lost from disk is skipped: the rest opens, and the next rewrite drops it", { timeout: 60000 }, async () => {
  // Chromium keeps a large value in a file of its own. Found in review: with
  // that file gone, reading all records failed, and so did persist(), for
  // good; and a transaction in which a read failed aborts, even one that
  // then only writes. A browser profile of its own, so that files can go.
  const dir = mkdtempSync(join(tmpdir(), "slotkv-profile-"));
  const name = "lost-file";
  const session = async (fn) => {
    const context = await chromium.launchPersistentContext(dir, { executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: CHROMIUM_ARGS });
    try {
      const page = await context.newPage();
      page.warnings = [];
      page.on("console", (m) => m.type() === "warning" && page.warnings.push(m.text()));
      await page.goto(`${env.url}test/persist.html`);
      await page.waitForFunction(() => globalThis.ready === true);
      return await fn(page);
    } finally {
      await context.close();
    }
  };
  try {
    await session((page) =>
      page.evaluate(async (n) => {
        await t.open(n, { compactAfterBytes: 100 << 20 });
        t.doc.set("small", 1);
        t.doc.set("big", Uint8Array.from({ length: 200_000 }, () => Math.random() * 256)); // incompressible: stored apart
        t.doc.set("after", 2);
        await t.p.close();
      }, name),
    );
    const walk = (d) => readdirSync(d).flatMap((f) => (statSync(join(d, f)).isDirectory() ? walk(join(d, f)) : [join(d, f)]));
    const files = walk(dir).filter((f) => f.includes(".indexeddb.blob"));
    assert.equal(files.length, 1, "the large value is a file of its own");
    rmSync(files[0]);
    const opened = await session(async (page) => {
      const { state } = await page.evaluate((n) => t.open(n), name);
      await page.evaluate(() => t.p.flush());
      return { state, warnings: page.warnings, stored: await page.evaluate((n) => t.raw(n), name) };
    });
    assert.deepEqual(opened.state.registers, { small: 1, after: 2 });
    assert.equal(opened.warnings.filter((w) => /skipped log record \d+: /.test(w)).length, 1, opened.warnings.join("\n"));
    assert.deepEqual(opened.stored.log, [], "the takeover rewrite dropped the unreadable record");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assertNoErrors();
});

test("a non-writer writes its catch-up delta in the format the writer says it reads, format 1 if it says none", { timeout: TEST_TIMEOUT }, async () => {
  const name = fresh("format");
  const a = await tab();
  const result = await a.evaluate(async (n) => {
    let release;
    await new Promise((held) => navigator.locks.request(`slotkv:${n}`, () => (held(), new Promise((r) => (release = r)))));
    const channel = new BroadcastChannel(`slotkv-persist:${n}`);
    const updates = [];
    channel.onmessage = (e) => e.data.t === "update" && updates.push(e.data.update);
    const { isWriter } = await t.open(n);
    const doc = t.doc;
    const arrived = async (count) => {
      while (updates.length < count) await new Promise((r) => setTimeout(r, 10));
    };
    doc.transact(() => {
      doc.add("online", "me");
      for (let i = 0; i < 300; i++) doc.add("reactions", `user${i}`);
    });
    const writer = new t.slotkv.Doc({ clientId: "writer" });
    writer.applyUpdate(doc.encodeState());
    doc.transact(() => {
      doc.add("online", "me"); // a re-add the writer has not seen
      doc.add("reactions", "user300");
    });
    await arrived(2); // the two transactions' updates, posted as they happened
    // The update after a "writer" message is the catch-up delta for it.
    const catchUp = async (message) => {
      updates.length = 0;
      channel.postMessage({ t: "writer", from: "old-writer", version: writer.version(), ...message });
      await arrived(1);
      return updates[0];
    };
    const old = await catchUp({});
    const newest = await catchUp({ format: 2 });
    writer.applyUpdate(old);
    const same = JSON.stringify(writer.toJSON()) === JSON.stringify(doc.toJSON());
    channel.close();
    release();
    await t.p.close();
    return { isWriter, old: [old[1], old.length], newest: [newest[1], newest.length], same };
  }, name);
  assert.equal(result.isWriter, false, "the page's own lock made persist() a non-writer");
  assert.equal(result.old[0], 1, "format 1 for a writer that names no format");
  assert.equal(result.newest[0], 2, "format 2 for a writer that reads it");
  assert.ok(result.newest[1] * 20 < result.old[1], `${result.newest[1]} vs ${result.old[1]} bytes`);
  assert.ok(result.same, "the format-1 delta brought the writer up to date");
  assertNoErrors();
});

// After a rollback, an earlier slotkv (it reads format 1 only) skips a stored
// record it cannot read, and its next rewrite would drop that record's writes.
// So the log holds format 1 only: a delta in a newer format (here one "a
// server" sent) is stored by a rewrite, whose snapshot is a state, which is
// always format 1.
test("a format-2 delta is stored by a rewrite, never as a log record, so an earlier build can read all that is stored", { timeout: TEST_TIMEOUT }, async () => {
  const name = fresh("log-format");
  const a = await tab();
  await open(a, name);
  const got = await a.evaluate(async (n) => {
    const source = new t.slotkv.Doc({ clientId: "server" });
    source.add("online", "me");
    for (let i = 0; i < 300; i++) source.add("reactions", `user${i}`);
    t.doc.applyUpdate(source.encodeState(), "server");
    t.doc.increment("clicks");
    await t.p.flush();
    const before = await t.raw(n);
    source.add("online", "me"); // a re-add this tab has not seen
    source.add("reactions", "user300");
    const delta = source.encodeDelta(t.doc.version());
    t.doc.applyUpdate(delta, "server");
    await t.p.flush();
    const after = await t.raw(n);
    t.doc.set("later", 1);
    await t.p.flush();
    return { delta: delta[1], before, after, last: await t.raw(n), members: t.doc.members("reactions").length };
  }, name);
  assert.equal(got.delta, 2, "the server's delta is format 2");
  assert.equal(got.members, 301);
  assert.ok(got.before.log.length >= 2, `${got.before.log.length} log records`);
  assert.ok(got.before.log.every((r) => r.format === 1), "format-1 updates are appended");
  assert.deepEqual(got.after.log, [], "the format-2 delta rewrote the snapshot and cleared the log");
  assert.equal(got.after.snapshotFormat, 1);
  assert.ok(got.after.snapshot > got.before.snapshot);
  assert.deepEqual(got.last.log.map((r) => r.format), [1], "later updates are appended again");
  assert.deepEqual(await a.evaluate((n) => t.stored(n), name), await state(a));
  const b = await reopen(name, [a]);
  assert.equal((await state(b)).sets.reactions.length, 301);
  assert.deepEqual(b.warnings, []);
  assertNoErrors();
});

test("in Node, persist() rejects: it needs IndexedDB and Web Locks", async () => {
  const { Doc, persist } = await import("../../pkg/node.js");
  const doc = new Doc();
  await assert.rejects(persist(doc, "x"), (err) => err instanceof Error && /IndexedDB/.test(err.message) && /Web Locks/.test(err.message));
  doc.free();
});
