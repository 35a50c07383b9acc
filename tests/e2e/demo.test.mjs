// The demo (www/) in real Chromium tabs. Each test gets its own browser
// context: a fresh origin storage (IndexedDB, Web Locks) and its own
// BroadcastChannels, so persisted clicks of one test never leak into another.
// Everything waits for conditions in the page; no fixed sleeps.
import { test, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { start, waitFor } from "./browser.mjs";

const TEST_TIMEOUT = 30000;
const WAIT = 15000;
// Screenshots of each run (git-ignored); docs/screenshots/ holds copies of them.
const SCREENSHOTS = fileURLToPath(new URL("./artifacts/", import.meta.url));

let env;
let contexts = [];

before(async () => {
  env = await start();
});
afterEach(async () => {
  await Promise.all(contexts.map((c) => c.close().catch(() => {})));
  contexts = [];
});
after(async () => {
  await env?.close();
});

/**
 * A new browser context (think: a fresh browser profile) whose tabs share one
 * origin. `open()` opens the demo in a new tab and waits until it is running
 * and its persistence has settled (loaded, or failed and degraded).
 */
async function session(options = {}) {
  const { init, ...contextOptions } = options;
  const context = await env.context.browser().newContext(contextOptions);
  contexts.push(context);
  if (init) await context.addInitScript(init);
  const errors = [];
  context.on("weberror", (e) => errors.push(e.error()));
  return {
    context,
    errors,
    async open() {
      const page = await context.newPage();
      page.on("console", (m) => {
        if (m.type() === "error") errors.push(new Error(m.text()));
      });
      await page.goto(env.url);
      await page.waitForFunction(() => globalThis.slotkv?.doc && (globalThis.slotkv.persistence || globalThis.slotkv.persistError), null, { timeout: WAIT });
      return page;
    },
  };
}

const sel = (id) => `[data-testid="${id}"]`;
/**
 * Clicks a `data-testid` element with real mouse events, without Playwright's
 * actionability wait (it waits for animation frames, which background tabs
 * get rarely: 0.5 s a click on a slow machine).
 */
const press = (page, id) => page.click(sel(id), { force: true });
const text = (page, id) => page.textContent(sel(id));
const clientId = (page) => page.evaluate(() => globalThis.slotkv.doc.clientId);

/** Waits until the element's text (trimmed) is `value` in every page. */
async function waitText(pages, id, value) {
  for (const page of [pages].flat()) {
    await page.waitForFunction(
      ([s, v]) => document.querySelector(s)?.textContent.trim() === v,
      [sel(id), String(value)],
      { timeout: WAIT },
    );
  }
}

/** Waits until `fn(arg)` is truthy in `page`; returns its value. */
async function until(page, fn, arg) {
  const handle = await page.waitForFunction(fn, arg, { timeout: WAIT });
  return handle.jsonValue();
}


/** Presses +1 `n` times in each page, all pages at once. */
async function clickAll(pages, n) {
  await Promise.all(
    pages.map(async (page) => {
      for (let i = 0; i < n; i++) await press(page, "plus");
    }),
  );
}

async function setLatency(page, ms) {
  await page.evaluate((v) => {
    const input = document.querySelector('[data-testid="latency"]');
    input.value = String(v);
    input.dispatchEvent(new Event("input", { bubbles: true }));
  }, ms);
  await waitText(page, "latency-value", `${ms} ms`);
}

/** The client ids listed in the page's "Open tabs" card. */
const listedTabs = (page) => page.$$eval(sel("tab"), (rows) => rows.map((r) => r.dataset.client).sort());

test("two tabs click concurrently and both show the sum", { timeout: TEST_TIMEOUT }, async () => {
  const s = await session();
  const a = await s.open();
  const b = await s.open();
  const clicks = [];
  for (let i = 0; i < 5; i++) clicks.push(a.click(sel("plus")), b.click(sel("plus")));
  await Promise.all(clicks);
  await b.click(sel("plus"));
  await waitText([a, b], "total", 11);
  assert.equal(await text(a, "total"), "11");
  assert.equal(await text(b, "total"), "11");
  const slots = await a.evaluate(() => globalThis.slotkv.doc.counterSlots("clicks"));
  assert.deepEqual(Object.values(slots).sort(), [5, 6]);
  assert.deepEqual(s.errors, []);
});

test("three tabs click concurrently and converge to the total", { timeout: TEST_TIMEOUT }, async () => {
  const s = await session();
  const pages = [await s.open(), await s.open(), await s.open()];
  await clickAll(pages, 6);
  await press(pages[0], "plus");
  await waitText(pages, "total", 19);
  const ids = await Promise.all(pages.map(clientId));
  for (const page of pages) {
    const slots = await page.evaluate(() => globalThis.slotkv.doc.counterSlots("clicks"));
    assert.deepEqual(slots, { [ids[0]]: 7, [ids[1]]: 6, [ids[2]]: 6 });
    // The slots card draws one bar per tab, with that tab's slot.
    await until(page, () => document.querySelectorAll('[data-testid="slot"]').length === 3);
    const rows = await page.$$eval(sel("slot"), (rs) => rs.map((r) => [r.dataset.client, Number(r.querySelector('[data-testid="slot-value"]').textContent)]));
    assert.deepEqual(Object.fromEntries(rows), { [ids[0]]: 7, [ids[1]]: 6, [ids[2]]: 6 });
    // Labelled with the tabs' presence names.
    const names = await page.$$eval(sel("slot"), (rs) => rs.map((r) => r.dataset.name).sort());
    const expected = await Promise.all(pages.map((p) => text(p, "me")));
    assert.deepEqual(names, expected.sort());
  }
  assert.deepEqual(s.errors, []);
});

test("the naive counter loses concurrent clicks under latency; the slot counter does not", { timeout: TEST_TIMEOUT }, async () => {
  const s = await session();
  const a = await s.open();
  const b = await s.open();
  await setLatency(a, 400);
  await setLatency(b, 400);
  const rounds = 4;
  for (let i = 0; i < rounds; i++) await Promise.all([press(a, "plus"), press(b, "plus")]);
  const made = 2 * rounds;
  // Converged: no write in flight in either tab, and both show the same values.
  for (const page of [a, b]) await until(page, () => document.querySelector('[data-testid="inflight"]').dataset.count === "0");
  await waitText([a, b], "total", made);
  // With no write in flight, the tabs agree once each has the other's last write.
  let naive;
  await waitFor("both tabs to agree on the naive counter", async () => {
    const [x, y] = await Promise.all([a, b].map((p) => p.evaluate(() => globalThis.slotkv.doc.get("naive"))));
    naive = x;
    return typeof x === "number" && x === y;
  });
  await waitText([a, b], "naive", naive);
  assert.ok(naive >= 1 && naive < made, `naive counter ${naive} should have lost some of ${made} clicks`);
  assert.equal(Number(await text(a, "total")), made);
  assert.equal(await a.evaluate(() => globalThis.slotkv.doc.counter("clicks")), made);
  // The page says how many were lost.
  await waitText([a, b], "lost", made - naive);
  assert.deepEqual(s.errors, []);
});

// Found in review: a tab counted only its own naive writes in flight, so one
// click in another tab read as "lost 1 of 1" there until its write landed.
test("a click whose naive write is still in flight in another tab is not reported lost", { timeout: TEST_TIMEOUT }, async () => {
  const s = await session();
  const a = await s.open();
  const b = await s.open();
  await setLatency(a, 1000);
  await b.evaluate(() => {
    globalThis.sawLost = false;
    const look = () => (globalThis.sawLost ||= !!document.querySelector('[data-testid="lost"]'));
    new MutationObserver(look).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
  await press(a, "plus");
  await waitText(b, "total", 1);
  await waitText(b, "naive", 1);
  assert.equal(await b.evaluate(() => globalThis.sawLost), false, "b reported a click lost that was still in flight");
  assert.equal(await b.$(sel("lost")), null);
  assert.deepEqual(s.errors, []);
});

test("with no latency, clicks in one tab keep the naive counter exact", { timeout: TEST_TIMEOUT }, async () => {
  const s = await session();
  const a = await s.open();
  await setLatency(a, 0);
  for (let i = 0; i < 3; i++) {
    await press(a, "plus");
    await waitText(a, "naive", i + 1);
  }
  await waitText(a, "total", 3);
  assert.equal(await a.$(sel("lost")), null, "nothing is reported lost");
  assert.deepEqual(s.errors, []);
});

test("reactions sync between tabs and show whether this tab reacted", { timeout: TEST_TIMEOUT }, async () => {
  const s = await session();
  const a = await s.open();
  const b = await s.open();
  const pressed = (page, r) => page.getAttribute(sel(`reaction-${r}`), "aria-pressed");

  await press(a, "reaction-like");
  await waitText([a, b], "reaction-like-count", 1);
  assert.equal(await pressed(a, "like"), "true");
  assert.equal(await pressed(b, "like"), "false");

  // Both tabs at once (one page's clicks in order: a page has one mouse).
  await Promise.all([(async () => (await press(b, "reaction-like"), await press(b, "reaction-love")))(), press(a, "reaction-zap")]);
  await waitText([a, b], "reaction-like-count", 2);
  await waitText([a, b], "reaction-love-count", 1);
  await waitText([a, b], "reaction-zap-count", 1);
  assert.equal(await pressed(b, "like"), "true");
  assert.equal(await pressed(a, "love"), "false");

  await press(a, "reaction-like"); // toggles off
  await waitText([a, b], "reaction-like-count", 1);
  assert.equal(await pressed(a, "like"), "false");
  assert.equal(await pressed(b, "like"), "true");
  const members = await b.evaluate(() => globalThis.slotkv.doc.members("reactions:👍"));
  assert.deepEqual(members, [await clientId(b)]);
  assert.equal(await text(a, "reaction-star-count"), "0");
  assert.deepEqual(s.errors, []);
});

test("status syncs between tabs with its writer and timestamp", { timeout: TEST_TIMEOUT }, async () => {
  const s = await session();
  const a = await s.open();
  const b = await s.open();
  const [idA, idB] = [await clientId(a), await clientId(b)];
  const [nameA, nameB] = [await text(a, "me"), await text(b, "me")];
  await waitText([a, b], "status-value", "No status yet");

  const before = Date.now();
  await a.fill(sel("status-input"), "Deploying v2");
  await a.press(sel("status-input"), "Enter");
  await waitText([a, b], "status-value", "Deploying v2");
  for (const page of [a, b]) {
    await until(page, (id) => document.querySelector('[data-testid="status-writer"]').dataset.writer === id, idA);
    assert.match(await text(page, "status-writer"), new RegExp(`set by ${nameA}`));
    const wall = Number(await page.getAttribute(`${sel("status-time")}`, "data-wall"));
    assert.ok(wall >= before - 1000 && wall <= Date.now() + 1000, `timestamp ${wall} is about now`);
    assert.match(await text(page, "status-time"), /^\d\d:\d\d:\d\d\.\d{3}HLC \d+·\d+/);
  }
  assert.match(await text(a, "status-writer"), /this tab/);
  assert.doesNotMatch(await text(b, "status-writer"), /this tab/);
  const info = await b.evaluate(() => globalThis.slotkv.doc.registerInfo("status"));
  assert.equal(info.writer, idA);

  // A later write from the other tab wins everywhere.
  await b.click('#presets >> text="In a meeting"', { force: true });
  await waitText([a, b], "status-value", "In a meeting");
  await until(a, (id) => document.querySelector('[data-testid="status-writer"]').dataset.writer === id, idB);
  assert.match(await text(a, "status-writer"), new RegExp(`set by ${nameB}`));
  const later = await a.evaluate(() => globalThis.slotkv.doc.registerInfo("status"));
  assert.ok(later.wall > info.wall || (later.wall === info.wall && later.logical > info.logical), "the later write has a later timestamp");

  // Clearing is a delete: a timestamped tombstone with its writer.
  await press(a, "status-clear");
  await waitText([a, b], "status-value", "Cleared");
  assert.match(await text(b, "status-writer"), new RegExp(`cleared by ${nameA}`));
  assert.equal(await b.evaluate(() => globalThis.slotkv.doc.get("status")), undefined);
  assert.deepEqual(s.errors, []);
});

test("presence lists every open tab, marks this one and the storage writer, and drops a closed one", { timeout: TEST_TIMEOUT }, async () => {
  const s = await session();
  const pages = [await s.open(), await s.open()];
  // The third tab comes from the page's own "Open another tab" button.
  const [popup] = await Promise.all([s.context.waitForEvent("page"), press(pages[0], "open-tab")]);
  await popup.waitForFunction(() => globalThis.slotkv?.persistence, null, { timeout: WAIT });
  assert.equal(popup.url(), pages[0].url());
  pages.push(popup);
  const ids = await Promise.all(pages.map(clientId));
  const all = [...ids].sort();
  for (const [i, page] of pages.entries()) {
    await until(page, () => document.querySelectorAll('[data-testid="tab"]').length === 3);
    assert.deepEqual(await listedTabs(page), all);
    await waitText(page, "tabs-count", 3);
    assert.equal(await page.getAttribute(`${sel("tab")}[data-me]`, "data-client"), ids[i]);
  }
  // Exactly one tab holds the writer lock, and every tab says which.
  const writers = await Promise.all(pages.map((p) => p.evaluate(() => globalThis.slotkv.persistence.isWriter)));
  assert.equal(writers.filter(Boolean).length, 1);
  const writer = ids[writers.indexOf(true)];
  for (const page of pages) {
    await until(page, (id) => {
      const marked = [...document.querySelectorAll('[data-testid="tab"][data-writer]')].map((r) => r.dataset.client);
      return marked.length === 1 && marked[0] === id;
    }, writer);
  }
  assert.match(await text(pages[writers.indexOf(true)], "persist-status"), /this tab is the storage writer/);
  assert.match(await text(pages[(writers.indexOf(true) + 1) % 3], "persist-status"), /Saved in IndexedDB by .+, the storage writer/);

  // Close the writer tab: the others drop it, and one of them takes over the writing.
  const gone = writers.indexOf(true);
  await pages[gone].close({ runBeforeUnload: true });
  const rest = pages.filter((_, i) => i !== gone);
  const left = all.filter((id) => id !== ids[gone]);
  for (const page of rest) {
    await until(page, () => document.querySelectorAll('[data-testid="tab"]').length === 2);
    assert.deepEqual(await listedTabs(page), left);
    await waitText(page, "tabs-count", 2);
  }
  for (const page of rest) {
    await until(page, () => {
      const marked = document.querySelectorAll('[data-testid="tab"][data-writer]');
      return marked.length === 1;
    });
  }
  const nowWriters = await Promise.all(rest.map((p) => p.evaluate(() => globalThis.slotkv.persistence.isWriter)));
  assert.equal(nowWriters.filter(Boolean).length, 1, "one remaining tab took over the writer lock");
  assert.deepEqual(s.errors, []);
});

/**
 * Two demo tabs that list each other; b records every message on the demo's channel in `heard`. Then a's
 * page is hidden (`persisted`: into the back/forward cache) and b hears its "bye". Returns { s, a, b, idA }.
 */
async function hideOneOfTwoTabs(persisted) {
  const s = await session();
  const [a, b] = [await s.open(), await s.open()];
  const idA = await clientId(a);
  await until(b, (id) => globalThis.slotkv.sync.peers.includes(id), idA);
  await b.evaluate(() => {
    globalThis.heard = [];
    new BroadcastChannel("slotkv-demo").onmessage = (e) => globalThis.heard.push(`${e.data.t} ${e.data.from}`);
  });
  await a.evaluate((p) => dispatchEvent(new PageTransitionEvent("pagehide", { persisted: p })), persisted);
  await until(b, (id) => globalThis.heard.includes(`bye ${id}`) && !globalThis.slotkv.sync.peers.includes(id), idA);
  return { s, a, b, idA };
}

test("a tab back from the back/forward cache says hello again (which brings it what it missed), and its peers list it again", { timeout: TEST_TIMEOUT }, async () => {
  // Into the cache: "bye"; back from it: a hello (bfcache restores fire pageshow with persisted).
  const { s, a, b, idA } = await hideOneOfTwoTabs(true);
  await a.evaluate(() => dispatchEvent(new PageTransitionEvent("pageshow", { persisted: true })));
  await until(b, (id) => globalThis.heard.includes(`hello ${id}`) && globalThis.slotkv.sync.peers.includes(id), idA);
  assert.deepEqual(s.errors, []);
});

test("a tab that said goodbye on pagehide stays silent: what it hears then does not make it a peer again", { timeout: TEST_TIMEOUT }, async () => {
  // Leaving (not into the cache): "bye". A message arriving before the page is gone must not bring an answer.
  const { s, b, idA } = await hideOneOfTwoTabs(false);
  await b.evaluate(() =>
    new BroadcastChannel("slotkv-demo").postMessage({ t: "hello", from: "joiner", format: 2, version: globalThis.slotkv.doc.version() }),
  );
  // b answers the hello (its spy hears that); a, had it answered, would have by then, or soon after.
  const idB = await clientId(b);
  await until(b, (id) => globalThis.heard.includes(`sync ${id}`), idB);
  await new Promise((r) => setTimeout(r, 300));
  const after = await b.evaluate((id) => {
    const heard = globalThis.heard;
    return { peer: globalThis.slotkv.sync.peers.includes(id), sent: heard.slice(heard.indexOf(`bye ${id}`) + 1).filter((h) => h.endsWith(` ${id}`)) };
  }, idA);
  assert.deepEqual(after, { peer: false, sent: [] });
  assert.deepEqual(s.errors, []);
});

test("clicks, reactions and status survive a reload", { timeout: TEST_TIMEOUT }, async () => {
  const s = await session();
  const a = await s.open();
  const b = await s.open();
  await clickAll([a, b], 2);
  await press(a, "reaction-star");
  await b.fill(sel("status-input"), "Saved for later");
  await press(b, "status-set");
  await waitText([a, b], "total", 4);
  await waitText([a, b], "status-value", "Saved for later");
  await waitText([a, b], "reaction-star-count", 1);
  await Promise.all([a, b].map((p) => p.evaluate(() => globalThis.slotkv.persistence.flush())));

  await b.close({ runBeforeUnload: true });
  await a.reload();
  await a.waitForFunction(() => globalThis.slotkv?.persistence, null, { timeout: WAIT });
  await waitText(a, "total", 4);
  await waitText(a, "status-value", "Saved for later");
  await waitText(a, "reaction-star-count", 1);
  // A reloaded tab is a new replica: its old slot and reaction belong to its previous client id.
  assert.equal(await a.getAttribute(sel("reaction-star"), "aria-pressed"), "false");
  await until(a, () => globalThis.slotkv.persistence.isWriter);
  await until(a, () => /this tab is the storage writer/.test(document.querySelector('[data-testid="persist-status"]').textContent));
  assert.deepEqual(s.errors, []);
});

test("without persistence the page says so and keeps working", { timeout: TEST_TIMEOUT }, async () => {
  // A browser without Web Locks: persist() throws.
  const s = await session({ init: () => delete Object.getPrototypeOf(navigator).locks });
  const a = await s.open();
  const b = await s.open();
  assert.ok(await a.evaluate(() => globalThis.slotkv.persistError instanceof Error));
  await until(a, () => document.querySelector('[data-testid="persist-status"]').dataset.state === "off");
  assert.match(await text(a, "persist-status"), /not persisted/i);
  await clickAll([a, b], 2);
  await waitText([a, b], "total", 4);
  assert.deepEqual(s.errors, []);
});

/** Fills a session with a little of everything, so the screenshots show the demo in use. */
async function populate(pages) {
  const [a, b, c] = pages;
  await setLatency(a, 250);
  await clickAll(pages, 3);
  await press(a, "plus");
  await press(a, "reaction-like");
  if (b) await press(b, "reaction-like");
  if (c) await press(c, "reaction-love");
  if (b) await press(b, "reaction-zap");
  await (b ?? a).fill(sel("status-input"), "Shipping the demo");
  await press(b ?? a, "status-set");
  const total = 3 * pages.length + 1;
  await waitText(pages, "total", total);
  await waitText(a, "status-value", "Shipping the demo");
  await until(a, () => document.querySelector('[data-testid="inflight"]').dataset.count === "0");
  await until(a, (n) => document.querySelectorAll('[data-testid="tab"]').length === n, pages.length);
}

async function assertKeyElementsVisible(page) {
  for (const id of ["me", "open-tab", "persist-status", "total", "naive", "plus", "latency", "slots", "reactions", "reaction-like", "status-value", "status-writer", "status-time", "status-input", "tabs"]) {
    assert.ok(await page.isVisible(sel(id)), `${id} is visible`);
  }
}

const overflow = (page) => page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: innerWidth }));

test("renders at laptop size (1280×800)", { timeout: TEST_TIMEOUT }, async () => {
  await mkdir(SCREENSHOTS, { recursive: true });
  const s = await session({ viewport: { width: 1280, height: 800 }, colorScheme: "light" });
  const pages = [await s.open(), await s.open(), await s.open()];
  await populate(pages);
  const [a] = pages;
  await assertKeyElementsVisible(a);
  const { scroll, width } = await overflow(a);
  assert.ok(scroll <= width, `no horizontal overflow (${scroll} > ${width})`);
  // Cards sit side by side on a laptop: the clicks and slots cards share the first row.
  const [clicks, slots] = await Promise.all([a.locator(".card-clicks").boundingBox(), a.locator(".card-slots").boundingBox()]);
  assert.equal(Math.round(clicks.y), Math.round(slots.y));
  assert.ok(slots.x > clicks.x + clicks.width);
  await a.screenshot({ path: `${SCREENSHOTS}demo-laptop.png`, fullPage: true, animations: "disabled" });
  assert.deepEqual(s.errors, []);
});

test("renders at phone size (390×844) without horizontal scrolling", { timeout: TEST_TIMEOUT }, async () => {
  await mkdir(SCREENSHOTS, { recursive: true });
  const s = await session({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, colorScheme: "light" });
  const pages = [await s.open(), await s.open()];
  await populate(pages);
  const [a] = pages;
  await assertKeyElementsVisible(a);
  const { scroll, width } = await overflow(a);
  assert.equal(width, 390);
  assert.ok(scroll <= width, `no horizontal overflow (${scroll} > ${width})`);
  // One column: every card spans the width of the page.
  for (const box of await a.locator(".card").evaluateAll((cards) => cards.map((c) => c.getBoundingClientRect().toJSON()))) {
    assert.ok(box.left >= 0 && box.right <= 390, `card inside the viewport (${box.left}..${box.right})`);
    assert.ok(box.width > 330, `card is full width (${box.width})`);
  }
  await a.screenshot({ path: `${SCREENSHOTS}demo-phone.png`, fullPage: true, animations: "disabled" });
  assert.deepEqual(s.errors, []);
});
