// Chaos: several tabs of the demo (www/) in one browser context, so they share
// BroadcastChannel, Web Locks and IndexedDB like the tabs of one origin. A
// seeded PRNG drives at least CHAOS_OPS (default 1000) writes: +1 clicks (real
// mouse clicks, DOM clicks, doc.increment), set adds and removes, register
// writes and deletes, in one tab or in several tabs at once; between them it
// reloads tabs, closes the storage writer tab (sometimes right after it wrote)
// and opens a new tab in its place.
//
// At the end every open tab must hold and render the same document, and that
// document must be what the reference model says:
//  - counter "clicks": exactly the clicks made, slot by slot (one slot per tab
//    incarnation: a reloaded tab is a new replica);
//  - add-wins sets: an element is present iff one of its adds was observed by
//    no remove. Each add is made in one transaction with a witness counter
//    `chaos-tag:<id>`, so the removing tab reports exactly which adds it had
//    seen (a witness counter is present iff the add's update was applied).
//    Re-adds of an element a tab already holds are adds like any other (this
//    test found that the core once dropped them: see tests/js/events.test.mjs);
//  - last-writer-wins registers: the write with the largest (wall, logical,
//    writer) timestamp, read with registerInfo() in the same task as the write;
//  - and after flushing and closing every tab, a fresh tab loads the same
//    document from IndexedDB.
//
// A write counts as made once the page ran it (the evaluate or the mouse click
// resolved): by then it was handed to BroadcastChannel, so a tab closed or
// reloaded right after must not lose it.
//
// The model is also checked at every "settle" (all tabs converged), so a
// failure names the first batch where the document left the model, with the
// history of the keys that differ.
//
// Reproduce a run with CHAOS_SEED=<seed> (printed first); CHAOS_OPS=<n> changes
// the number of writes. No fixed sleeps: every wait is for a condition.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";
import { randomInt } from "node:crypto";
import { start, waitFor as waitUntil } from "./browser.mjs";

const SEED = process.env.CHAOS_SEED ? Number(process.env.CHAOS_SEED) : randomInt(2 ** 32);
const OPS = Number(process.env.CHAOS_OPS ?? 1000);
if (!Number.isSafeInteger(SEED) || SEED < 0 || SEED >= 2 ** 32) throw new RangeError(`CHAOS_SEED must be an integer in [0, 2^32), got ${process.env.CHAOS_SEED}`);
if (!Number.isSafeInteger(OPS) || OPS < 1) throw new RangeError(`CHAOS_OPS must be a positive integer, got ${process.env.CHAOS_OPS}`);
const TABS = 4;
const WAIT = 20000;
const SET_KEYS = ["chaos:a", "chaos:b"];
const ELEMENTS = ["e0", "e1", "e2", "e3", "e4"];
const REGISTER_KEYS = ["chaos:r0", "chaos:r1"];
const REACTIONS = { like: "👍", love: "❤️", star: "⭐", smile: "😄", zap: "⚡" };

// mulberry32: small, fast, good enough to pick operations.
function prng(seed) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rng = prng(SEED);
const int = (n) => Math.floor(rng() * n);
const pick = (list) => list[int(list.length)];
function weighted(table) {
  let r = rng() * Object.values(table).reduce((a, b) => a + b, 0);
  for (const [k, w] of Object.entries(table)) if ((r -= w) < 0) return k;
  return Object.keys(table)[0];
}
function shuffled(list) {
  const a = [...list];
  for (let i = a.length - 1; i > 0; i--) {
    const j = int(i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/** Register timestamps in the order last-writer-wins uses: wall, logical, then client id byte-wise. */
function compareStamp(a, b) {
  return a.wall - b.wall || a.logical - b.logical || (a.writer < b.writer ? -1 : a.writer > b.writer ? 1 : 0);
}

// ---------------------------------------------------------------------------
// The reference model.

class Model {
  clicks = new Map(); // clientId -> clicks made by that tab incarnation
  adds = []; // { id, key, element, client, tab, batch }
  removes = []; // { key, element, client, tab, batch, ids, seen }
  batch = 0; // the current batch, for failure reports
  observed = new Set(); // ids of adds some remove had seen: removed
  reactions = new Map(); // reaction key -> Set of client ids that reacted last
  writes = new Map(); // register key -> [{ info, value }]
  made = 0; // writes made (the OPS budget)
  unseenByRemove = 0; // (remove, add) pairs where the remove had not seen the add: add wins

  click(client) {
    this.clicks.set(client, (this.clicks.get(client) ?? 0) + 1);
    this.made++;
  }

  addIds(key, element) {
    return this.adds.filter((a) => a.key === key && a.element === element).map((a) => a.id);
  }

  get madeAdds() {
    return this.adds;
  }

  write(key, info, value) {
    if (!this.writes.has(key)) this.writes.set(key, []);
    this.writes.get(key).push({ info, value });
    this.made++;
  }

  /** The part of doc.toJSON() the model decides (everything but the demo's "naive" register). */
  expected() {
    const counters = {};
    // The key exists once a tab clicked (a settle can come before any click).
    if (this.clicks.size) counters.clicks = [...this.clicks.values()].reduce((a, b) => a + b, 0);
    for (const a of this.madeAdds) counters[`chaos-tag:${a.id}`] = 1;
    const sets = {};
    for (const key of SET_KEYS) {
      const live = new Set(this.madeAdds.filter((a) => a.key === key && !this.observed.has(a.id)).map((a) => a.element));
      if (live.size) sets[key] = [...live].sort();
    }
    for (const [key, members] of this.reactions) if (members.size) sets[key] = [...members].sort();
    const registers = {};
    for (const [key, writes] of this.writes) {
      const last = writes.reduce((a, b) => (compareStamp(a.info, b.info) >= 0 ? a : b));
      if (!last.info.deleted) registers[key] = last.value;
    }
    return { counters, registers, sets };
  }

  slots() {
    return Object.fromEntries([...this.clicks].filter(([, n]) => n > 0));
  }

  /** Why `json` (a tab's doc.toJSON()) is not what the model says, with the history of what differs; "" if it is. */
  differences(json) {
    const expected = this.expected();
    const out = [];
    const counters = new Set([...Object.keys(expected.counters), ...Object.keys(json.counters)]);
    for (const k of counters) {
      if (json.counters[k] !== expected.counters[k]) out.push(`counter ${k}: ${json.counters[k]}, expected ${expected.counters[k]}`);
    }
    const registers = new Set([...Object.keys(expected.registers), ...Object.keys(json.registers)]);
    registers.delete("naive");
    for (const k of registers) {
      if (!isDeepStrictEqual(json.registers[k], expected.registers[k])) {
        out.push(`register ${k}: ${JSON.stringify(json.registers[k])}, expected ${JSON.stringify(expected.registers[k])}`);
      }
    }
    const sets = new Set([...Object.keys(expected.sets), ...Object.keys(json.sets)]);
    for (const k of sets) {
      const [have, want] = [json.sets[k] ?? [], expected.sets[k] ?? []];
      for (const e of new Set([...have, ...want])) {
        if (have.includes(e) === want.includes(e)) continue;
        out.push(`set ${k}: ${e} is ${have.includes(e) ? "present" : "absent"}, expected ${want.includes(e) ? "present" : "absent"}`);
        for (const a of this.madeAdds) {
          if (a.key === k && a.element === e) out.push(`    batch ${a.batch}: add #${a.id} in ${a.tab} (${a.client})${this.observed.has(a.id) ? "" : " seen by no remove"}`);
        }
        for (const r of this.removes) {
          if (r.key === k && r.element === e) out.push(`    batch ${r.batch}: remove in ${r.tab} (${r.client}) saw adds [${r.seen}] of [${r.ids}]`);
        }
      }
    }
    return out.join("\n");
  }
}

// ---------------------------------------------------------------------------
// Browser side.

let env;
const errors = [];
const warnings = new Map(); // text -> count

before(async () => {
  env = await start();
  env.context.on("weberror", (e) => errors.push(String(e.error())));
});
after(async () => {
  await env?.close();
});

const sel = (id) => `[data-testid="${id}"]`;

/** Polls `fn` until it returns a truthy value (every 20 ms, for up to WAIT). */
const waitFor = (what, fn, ms = WAIT) => waitUntil(what, fn, ms, 20);

let tabCount = 0;

/** One tab: a page and the client id of the demo running in it (new after every reload). */
class Tab {
  constructor() {
    this.label = `tab${++tabCount}`;
  }

  async open() {
    this.page = await env.context.newPage();
    this.page.on("console", (m) => {
      if (m.type() === "error") errors.push(`${this.label}: ${m.text()}`);
      if (m.type() === "warning") warnings.set(m.text(), (warnings.get(m.text()) ?? 0) + 1);
    });
    this.page.on("pageerror", (e) => errors.push(`${this.label}: ${e.message}`));
    await this.page.goto(env.url);
    await this.#started();
  }

  async reload() {
    await this.page.reload();
    await this.#started();
  }

  // The demo runs (its Doc exists); persistence may still be loading: the
  // chaos goes on meanwhile.
  async #started() {
    await this.page.waitForFunction(() => globalThis.slotkv?.doc, null, { polling: 20, timeout: WAIT });
    this.id = await this.page.evaluate(() => globalThis.slotkv.doc.clientId);
    this.reacted = new Set(); // reactions of this incarnation
  }

  async close() {
    const runBeforeUnload = rng() < 0.5;
    const closed = new Promise((r) => this.page.once("close", r));
    await this.page.close({ runBeforeUnload });
    await closed;
  }

  eval(fn, arg) {
    return this.page.evaluate(fn, arg);
  }

  /** null while persistence loads, else whether this tab holds the writer lock. */
  role() {
    return this.eval(() => {
      const { persistence, persistError } = globalThis.slotkv;
      if (persistError) throw persistError;
      return persistence ? persistence.isWriter : null;
    });
  }
}

// ---------------------------------------------------------------------------
// Operations. plan() draws everything from the PRNG synchronously, so a seed
// makes the same sequence of choices (which tab is the writer, and the timing
// of everything, still vary from run to run); it returns the async work.

const OPS_WEIGHTS = { mouse: 12, domClick: 15, increment: 15, add: 16, remove: 9, reaction: 6, register: 12, status: 8 };

function plan(tab, model, kind = weighted(OPS_WEIGHTS), on = null) {
  switch (kind) {
    case "mouse":
      // A real mouse click (CDP input events) on +1; CDP answers once the page handled the events.
      return async () => {
        const box = await tab.eval((s) => {
          const r = document.querySelector(s).getBoundingClientRect();
          return { x: r.x + r.width / 2, y: r.y + r.height / 2 };
        }, sel("plus"));
        await tab.page.mouse.click(box.x, box.y);
        model.click(tab.id);
      };
    case "domClick":
      return async () => {
        await tab.eval((s) => document.querySelector(s).click(), sel("plus"));
        model.click(tab.id);
      };
    case "increment":
      return async () => {
        await tab.eval(() => globalThis.slotkv.doc.increment("clicks"));
        model.click(tab.id);
      };
    case "add": {
      const [key, element] = on ?? [pick(SET_KEYS), pick(ELEMENTS)];
      // Allocated now: a concurrent remove in this batch may see it.
      const add = { id: model.adds.length + 1, key, element, client: null, tab: tab.label, batch: model.batch };
      model.adds.push(add);
      return async () => {
        add.client = tab.id;
        await tab.eval(([k, e, id]) => {
          const { doc } = globalThis.slotkv;
          doc.transact(() => {
            doc.add(k, e);
            doc.increment(`chaos-tag:${id}`);
          });
        }, [key, element, add.id]);
        model.made++;
      };
    }
    case "remove": {
      const [key, element] = on ?? [pick(SET_KEYS), pick(ELEMENTS)];
      const ids = model.addIds(key, element); // includes adds running concurrently
      return async () => {
        const client = tab.id;
        const seen = await tab.eval(([k, e, ids]) => {
          const { doc } = globalThis.slotkv;
          const seen = ids.filter((id) => doc.counter(`chaos-tag:${id}`) > 0);
          doc.remove(k, e);
          return seen;
        }, [key, element, ids]);
        for (const a of model.madeAdds) {
          // This tab's own earlier adds are always seen (a sanity check of the witnesses).
          if (a.client === client && ids.includes(a.id)) assert.ok(seen.includes(a.id), `remove in ${tab.label} saw its own add ${a.id}`);
        }
        model.removes.push({ key, element, client, tab: tab.label, batch: model.batch, ids, seen });
        for (const id of seen) model.observed.add(id);
        if (seen.length < ids.length) model.unseenByRemove += ids.length - seen.length;
        model.made++;
      };
    }
    case "reaction": {
      const id = pick(Object.keys(REACTIONS));
      return async () => {
        const key = `reactions:${REACTIONS[id]}`;
        const r = await tab.eval(([id, key]) => {
          const { doc } = globalThis.slotkv;
          const had = doc.has(key, doc.clientId);
          document.querySelector(`[data-reaction=${id}]`).click(); // the page toggles this tab's membership
          return { had, has: doc.has(key, doc.clientId) };
        }, [id, key]);
        assert.equal(r.had, tab.reacted.has(id), `${tab.label}'s own reaction ${id}`);
        assert.equal(r.has, !r.had, "a reaction click toggles");
        if (r.has) tab.reacted.add(id);
        else tab.reacted.delete(id);
        if (!model.reactions.has(key)) model.reactions.set(key, new Set());
        if (r.has) model.reactions.get(key).add(tab.id);
        else model.reactions.get(key).delete(tab.id);
        model.made++;
      };
    }
    case "register": {
      const key = pick(REGISTER_KEYS);
      const value = rng() < 0.8 ? { n: model.made, r: int(1000) } : null; // null: delete
      return async () => {
        const r = await tab.eval(([key, value]) => {
          const { doc } = globalThis.slotkv;
          const before = doc.registerInfo(key);
          if (value === null) doc.delete(key);
          else doc.set(key, value);
          return { before, after: doc.registerInfo(key), value: doc.get(key) ?? null };
        }, [key, value]);
        registerWritten(tab, model, key, r);
      };
    }
    case "status": {
      const button = int(5); // the 4 presets, or Clear
      return async () => {
        const r = await tab.eval((i) => {
          const { doc } = globalThis.slotkv;
          const before = doc.registerInfo("status");
          document.querySelectorAll("#presets .chip-btn")[i].click();
          return { before, after: doc.registerInfo("status"), value: doc.get("status") ?? null };
        }, button);
        registerWritten(tab, model, "status", r);
      };
    }
  }
  throw new Error(`unknown operation ${kind}`);
}

// `r`: the register's timestamp just before and just after a write, read in the same task as the write.
function registerWritten(tab, model, key, r) {
  if (!r.after || (r.before && compareStamp(r.before, r.after) === 0)) return; // "Clear" with nothing to clear
  if (r.before) assert.ok(compareStamp(r.after, r.before) > 0, `a local write to ${key} is later than what its tab had seen`);
  assert.equal(r.after.writer, tab.id);
  model.write(key, r.after, r.value);
}

// ---------------------------------------------------------------------------

test(`chaos: ${TABS} demo tabs, ${OPS} random writes, reloads and writer closes`, { timeout: Math.max(170000, OPS * 170) }, async (t) => {
  console.log(`chaos seed ${SEED} (CHAOS_SEED=${SEED} reproduces this run's choices)`);
  t.diagnostic(`seed ${SEED}`);
  const started = Date.now();
  const model = new Model();
  const history = [];
  const note = (s) => history.push(`batch ${model.batch}: ${s}`);
  const stats = { batches: 0, concurrent: 0, conflicts: 0, reloads: 0, writerCloses: 0, writeThenGone: 0, flushChecks: 0, settles: 0 };

  const tabs = [];
  for (let i = 0; i < TABS; i++) {
    const tab = new Tab();
    await tab.open();
    tabs.push(tab);
  }

  /** The tab holding the writer lock, once exactly one does (never two at once). */
  async function writer() {
    return waitFor("a writer tab", async () => {
      const roles = await Promise.all(tabs.map((tab) => tab.role()));
      assert.ok(roles.filter((r) => r === true).length <= 1, `at most one writer: ${roles}`);
      return tabs[roles.indexOf(true)];
    });
  }

  /** Waits until every tab has loaded persistence, no naive write is in flight, and all hold the same document. */
  async function settle() {
    return waitFor("every tab to converge", async () => {
      const views = await Promise.all(
        tabs.map((tab) =>
          tab.eval((s) => {
            const { doc, persistence, persistError } = globalThis.slotkv;
            if (persistError) throw persistError;
            return {
              ready: !!persistence && document.querySelector(s).dataset.count === "0",
              version: Array.from(doc.version()).join(","),
              json: JSON.stringify(doc.toJSON()),
            };
          }, sel("inflight")),
        ),
      );
      return views.every((v) => v.ready && v.version === views[0].version && v.json === views[0].json) && JSON.parse(views[0].json);
    }, 60000);
  }

  // Sometimes a write right before the tab goes away (no round trip in between).
  function lastWrite(tab) {
    if (rng() < 0.5) return null;
    const kind = pick(["mouse", "domClick", "increment", "add", "register"]);
    stats.writeThenGone++;
    return { kind, run: plan(tab, model, kind) };
  }

  const events = {
    // Reloads a tab: its replica is gone, a new one (new client id) loads in its place.
    async reload(tab, last) {
      if (last) await last.run();
      const old = tab.id;
      await tab.reload();
      note(`reloaded ${tab.label} (${old} -> ${tab.id})${last ? ` right after a ${last.kind}` : ""}`);
      stats.reloads++;
    },
    // Closes the writer tab and opens a new tab in its place.
    async closeWriter(tab, last) {
      if (last) await last.run();
      await tab.close();
      const fresh = new Tab();
      tabs[tabs.indexOf(tab)] = fresh;
      await fresh.open();
      note(`closed writer ${tab.label} (${tab.id})${last ? ` right after a ${last.kind}` : ""}; opened ${fresh.label} (${fresh.id})`);
      stats.writerCloses++;
    },
    // flush() resolves once this tab's writes are in IndexedDB: read them back.
    async flushCheck(tab) {
      const r = await tab.eval(async () => {
        const { doc } = globalThis.slotkv;
        const me = doc.clientId;
        await new Promise((ok, fail) => {
          (function check() {
            if (globalThis.slotkv.persistError) fail(globalThis.slotkv.persistError);
            else if (globalThis.slotkv.persistence) ok();
            else setTimeout(check, 10);
          })();
        });
        const mine = Object.fromEntries(doc.keys("counter").map((k) => [k, doc.counterSlots(k)[me] ?? 0]).filter(([, v]) => v));
        await globalThis.slotkv.persistence.flush();
        const req = (r) => new Promise((ok, fail) => ((r.onsuccess = () => ok(r.result)), (r.onerror = () => fail(r.error))));
        const db = await req(indexedDB.open("slotkv:slotkv-demo"));
        const tx = db.transaction(["snapshot", "log"], "readonly");
        const [state, records] = await Promise.all([req(tx.objectStore("snapshot").get("state")), req(tx.objectStore("log").getAll())]);
        db.close();
        const stored = new doc.constructor();
        for (const bytes of [state, ...records]) if (bytes instanceof Uint8Array) stored.applyUpdate(bytes);
        const inStorage = Object.fromEntries(Object.keys(mine).map((k) => [k, stored.counterSlots(k)[me] ?? 0]));
        stored.free();
        return { mine, inStorage };
      });
      assert.deepEqual(r.inStorage, r.mine, `after flush() in ${tab.label}, storage holds its counter slots`);
      note(`flush in ${tab.label}: ${Object.keys(r.mine).length} own counter slots stored`);
      stats.flushChecks++;
    },
  };

  let again = null;
  try {
    while (model.made < OPS || again) {
      // Maybe an event (reload, writer close, flush check) and a batch of
      // writes (one in each of 1..TABS-1 other tabs), all at once. Everything
      // is drawn before anything runs: a remove's candidate adds include the
      // concurrent ones. A third of writer closes are followed at once by
      // another one: the new writer goes away while it may still be taking over.
      const event = again ?? weighted({ none: 91, reload: 3, closeWriter: 2, flushCheck: 2.5, settle: 1.5 });
      again = event === "closeWriter" && rng() < 0.33 ? "closeWriter" : null;
      if (event === "settle") {
        const json = await settle();
        assert.equal(model.differences(json), "", `settled document is the model's (batch ${model.batch})`);
        note("settled");
        stats.settles++;
        continue;
      }
      // Sometimes two tabs reload at once (the writer may be one of them).
      let targets = [];
      if (event === "closeWriter") targets = [await writer()];
      else if (event === "reload") targets = shuffled(tabs).slice(0, rng() < 0.3 ? 2 : 1);
      else if (event === "flushCheck") targets = [pick(tabs)];
      const lasts = targets.map((tab) => (event === "flushCheck" ? null : lastWrite(tab)));
      const others = shuffled(tabs.filter((tab) => !targets.includes(tab)));
      // While the writer goes away, another tab may flush: its flush() must
      // wait for the next writer to store everything it wrote.
      const flusher = event === "closeWriter" && rng() < 0.4 ? others.pop() : null;
      const n = Math.min(others.length, rng() < 0.5 ? 1 : 2 + int(TABS - 2));
      const jobs = [];
      if (n >= 2 && rng() < 0.3) {
        // An add and a remove of one element at once, in two tabs: add wins
        // unless the remove saw it.
        const on = [pick(SET_KEYS), pick(ELEMENTS)];
        jobs.push(plan(others[0], model, "add", on), plan(others[1], model, "remove", on));
        stats.conflicts++;
      }
      for (const tab of others.slice(jobs.length, n)) jobs.push(plan(tab, model));
      await Promise.all([
        ...jobs.map((job) => job()),
        ...targets.map((tab, i) => events[event](tab, lasts[i])),
        flusher && events.flushCheck(flusher),
      ]);
      stats.batches++;
      model.batch++;
      if (n > 1) stats.concurrent++;
    }
    const chaosMs = Date.now() - started;

    // Every tab holds and shows the same document, and it is the model's.
    const final = await settle();
    const expected = model.expected();
    assert.equal(final.counters.clicks, expected.counters.clicks, "the counter equals the clicks made");
    const slots = await tabs[0].eval(() => globalThis.slotkv.doc.counterSlots("clicks"));
    assert.deepEqual(slots, model.slots(), "each tab incarnation's slot holds exactly its clicks");
    for (const tab of tabs) {
      assert.equal(await tab.page.textContent(sel("total")), String(expected.counters.clicks ?? 0), `${tab.label} renders the total`);
      for (const [id, emoji] of Object.entries(REACTIONS)) {
        const count = String(final.sets[`reactions:${emoji}`]?.length ?? 0);
        assert.equal(await tab.page.textContent(sel(`reaction-${id}-count`)), count, `${tab.label} renders the ${id} count`);
      }
    }
    assert.equal(model.differences(final), "", "the document is the model's");
    const roles = await Promise.all(tabs.map((tab) => tab.role()));
    assert.equal(roles.filter((r) => r === true).length, 1, "exactly one writer");

    // Everything is saved: close every tab, and a new one loads the same document.
    await Promise.all(tabs.map((tab) => tab.eval(() => globalThis.slotkv.persistence.flush())));
    for (const tab of tabs) await tab.close();
    const fresh = new Tab();
    await fresh.open();
    await fresh.page.waitForFunction(() => globalThis.slotkv.persistence || globalThis.slotkv.persistError, null, { polling: 20, timeout: WAIT });
    await waitFor("the fresh tab to become the writer", () => fresh.role());
    const loaded = await fresh.eval(() => globalThis.slotkv.doc.toJSON());
    assert.deepEqual(loaded, final, "a fresh tab loads the whole document from IndexedDB");
    assert.equal(await fresh.page.textContent(sel("total")), String(expected.counters.clicks ?? 0));
    await fresh.close();

    assert.deepEqual(errors, [], "no errors in the pages");
    const adds = model.madeAdds.length;
    t.diagnostic(
      `seed ${SEED}: ${model.made} writes (${expected.counters.clicks} clicks, ${adds} set adds, ${model.observed.size} of them removed, ${model.unseenByRemove} times unseen by a remove, ` +
        `${[...model.writes.values()].reduce((n, w) => n + w.length, 0)} register writes) in ${stats.batches} batches ` +
        `(${stats.concurrent} concurrent, ${stats.conflicts} with an add and a remove of one element), ${stats.reloads} reloads, ${stats.writerCloses} writer closes ` +
        `(${stats.writeThenGone} right after a write), ${stats.flushChecks} flush checks, ${stats.settles} settles; ` +
        `chaos ${(chaosMs / 1000).toFixed(1)} s, total ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    if (warnings.size) t.diagnostic(`page warnings: ${JSON.stringify([...warnings])}`);
  } catch (err) {
    err.message += `\n  chaos seed ${SEED} (rerun with CHAOS_SEED=${SEED}); last events:\n    ${history.slice(-40).join("\n    ")}`;
    if (errors.length) err.message += `\n  page errors:\n    ${errors.slice(0, 10).join("\n    ")}`;
    throw err;
  }
});
