// The slotkv demo: one Doc per tab, kept in sync with every other tab by
// BroadcastSync and saved to IndexedDB by persist(). Everything on the page is
// rendered from the document (and from presence), never from local copies.
import * as slotkv from "slotkv";

const { Doc, BroadcastSync } = slotkv;
const CHANNEL = "slotkv-demo";
const STORAGE = "slotkv-demo";

const doc = new Doc();
const sync = new BroadcastSync(doc, CHANNEL);
const $ = (id) => document.getElementById(id);

// For tests and the curious: the live objects (`persistence` once it loaded).
const exposed = { doc, sync, persistence: null, persistError: null };
globalThis.slotkv = exposed;

// ---------------------------------------------------------------------------
// Identity: a friendly name and color derived from the client id, so every tab
// computes the same name for every other tab, even one that has closed.

const ADJECTIVES = [
  "Amber", "Brisk", "Calm", "Dapper", "Eager", "Fuzzy", "Gentle", "Happy",
  "Jolly", "Keen", "Lucky", "Mellow", "Nimble", "Plucky", "Quick", "Rosy",
  "Sunny", "Swift", "Tidy", "Witty", "Zesty", "Bold", "Breezy", "Cosy",
  "Daring", "Merry", "Noble", "Peppy", "Sly", "Snappy", "Spry", "Zippy",
];
const ANIMALS = [
  "Otter", "Falcon", "Lynx", "Panda", "Heron", "Badger", "Koala", "Marten",
  "Gecko", "Bison", "Crane", "Dingo", "Ferret", "Ibis", "Jaguar", "Lemur",
  "Moose", "Narwhal", "Ocelot", "Puffin", "Quokka", "Raven", "Seal", "Tapir",
  "Walrus", "Yak", "Zebra", "Beaver", "Coyote", "Dolphin", "Egret", "Fox",
];
const COLORS = [
  "#e11d48", "#ea580c", "#d97706", "#65a30d", "#16a34a", "#0d9488",
  "#0891b2", "#2563eb", "#4f46e5", "#7c3aed", "#c026d3", "#db2777",
];

function hash(s) {
  let h = 0x811c9dc5; // FNV-1a
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function derived(clientId) {
  const h = hash(clientId);
  return {
    name: `${ADJECTIVES[h % ADJECTIVES.length]} ${ANIMALS[(h >>> 8) % ANIMALS.length]}`,
    color: COLORS[(h >>> 16) % COLORS.length],
  };
}

const me = derived(doc.clientId);
const isColor = (c) => typeof c === "string" && /^#[0-9a-f]{6}$/i.test(c);

/** Name and color of a client: its presence state when it has one, else derived from its id. */
function who(clientId) {
  const p = presence.get(clientId);
  const d = derived(clientId);
  return {
    name: p && typeof p.name === "string" && p.name ? p.name.slice(0, 40) : d.name,
    color: p && isColor(p.color) ? p.color : d.color,
    online: presence.has(clientId),
    writer: !!(p && p.writer === true),
    me: clientId === doc.clientId,
  };
}

// ---------------------------------------------------------------------------
// Tiny DOM helpers.

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "style") el.style.cssText = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

function initials(name) {
  return name
    .split(/\s+/)
    .filter(Boolean)
    .slice(0, 2)
    .map((w) => w[0].toUpperCase())
    .join("");
}

function avatar(clientId, cls = "avatar") {
  const w = who(clientId);
  return h("span", { class: cls, style: `--c:${w.color}`, title: w.name, "aria-hidden": "true" }, initials(w.name));
}

const shortId = (id) => (id.length > 8 ? `${id.slice(0, 8)}…` : id);
const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

// ---------------------------------------------------------------------------
// Presence and persistence state.

let presence = new Map();
let persistence = null;
let persistError = null;
let persistLoading = true;

// `inflight`: this tab's naive writes still waiting, so that other tabs do not count them as lost.
function publishPresence() {
  sync.setPresence({ name: me.name, color: me.color, writer: !!persistence?.isWriter, inflight: inflight.length });
}

// ---------------------------------------------------------------------------
// 1. Clicks: a slot counter, and a naive read-modify-write register beside it.

let latency = 300;
const inflight = []; // { id, read, started, ms }
let nextOp = 0;

function click() {
  const current = doc.get("naive");
  const read = typeof current === "number" && Number.isSafeInteger(current) ? current : 0;
  const op = { id: ++nextOp, read, started: performance.now(), ms: latency };
  inflight.push(op); // before the increment renders: a click in flight is not lost (yet)
  publishPresence(); // and before the increment is posted, for the other tabs
  renderInflight();
  doc.increment("clicks");
  setTimeout(() => {
    doc.set("naive", read + 1); // overwrites whatever other tabs wrote meanwhile
    inflight.splice(inflight.indexOf(op), 1);
    publishPresence(); // after the write: a click is never neither in flight nor written
    renderInflight();
    renderClicks();
  }, op.ms);
}

function renderClicks() {
  const total = doc.counter("clicks");
  const stored = doc.get("naive");
  const naive = typeof stored === "number" ? stored : 0;
  $("total").textContent = total;
  $("naive").textContent = naive;
  // Clicks still waiting to be written, here or in an open tab, are not lost (yet).
  let waiting = inflight.length;
  for (const [id, p] of presence) if (id !== doc.clientId && Number.isSafeInteger(p?.inflight) && p.inflight > 0) waiting += p.inflight;
  const lost = Math.max(0, total - naive - waiting);
  const loss = $("loss");
  loss.dataset.lost = lost;
  $("loss-kept").style.width = total ? `${Math.min(100, (100 * naive) / total)}%` : "100%";
  const text = $("loss-text");
  text.replaceChildren();
  if (total === 0) {
    text.append("No clicks yet. Press ", h("b", {}, "+1"), " here and in another tab at the same time.");
  } else if (lost === 0) {
    text.append("The naive counter has kept up ", h("span", { class: "muted" }, "— so far. Raise the latency and click in two tabs at once."));
  } else {
    text.append(
      "The naive counter lost ",
      h("b", { class: "lost", "data-testid": "lost" }, String(lost)),
      ` of ${plural(total, "click")}: concurrent writes overwrote each other.`,
    );
  }
}

function renderInflight() {
  const box = $("inflight");
  box.dataset.count = inflight.length;
  box.replaceChildren(
    ...inflight.slice(-4).map((op) =>
      h(
        "span",
        { class: "op", style: `--ms:${op.ms}ms` },
        h("span", { class: "op-text" }, `read ${op.read} → write ${op.read + 1}`),
        h("span", { class: "op-bar" }),
      ),
    ),
  );
  if (inflight.length > 4) box.append(h("span", { class: "op-more" }, `+${inflight.length - 4} more`));
}

// ---------------------------------------------------------------------------
// 5. The slots of the click counter, one bar per client.

const MAX_SLOT_ROWS = 8;
const slotRows = new Map(); // clientId -> <li>

function slotRow(clientId) {
  let row = slotRows.get(clientId);
  if (!row) {
    row = h(
      "li",
      { class: "slot", "data-testid": "slot", "data-client": clientId },
      h("span", { class: "slot-who" }, h("span", { class: "avatar" }), h("span", { class: "slot-name" }), h("span", { class: "slot-tag" })),
      h("span", { class: "slot-track" }, h("span", { class: "slot-fill" })),
      h("span", { class: "slot-value", "data-testid": "slot-value" }),
    );
    slotRows.set(clientId, row);
  }
  return row;
}

function renderSlots() {
  const slots = doc.counterSlots("clicks");
  const total = doc.counter("clicks");
  const ids = Object.keys(slots).sort((a, b) => {
    const [wa, wb] = [who(a), who(b)];
    return wb.me - wa.me || wb.online - wa.online || slots[b] - slots[a] || (a < b ? -1 : 1);
  });
  const shown = ids.slice(0, ids.length > MAX_SLOT_ROWS ? MAX_SLOT_ROWS - 1 : MAX_SLOT_ROWS);
  const rest = ids.slice(shown.length);
  const max = Math.max(1, ...Object.values(slots));
  const list = $("slots");
  const rows = shown.map((id) => {
    const w = who(id);
    const row = slotRow(id);
    row.classList.toggle("is-me", w.me);
    row.classList.toggle("is-gone", !w.online && !w.me);
    row.dataset.name = w.name;
    const av = row.querySelector(".avatar");
    av.style.setProperty("--c", w.color);
    av.textContent = initials(w.name);
    row.querySelector(".slot-name").textContent = w.name;
    row.querySelector(".slot-tag").textContent = w.me ? "this tab" : w.online ? "" : "closed";
    row.querySelector(".slot-fill").style.cssText = `--c:${w.color};width:${(100 * Math.max(0, slots[id])) / max}%`;
    row.querySelector(".slot-value").textContent = slots[id];
    row.title = `${w.name} · ${id}`;
    return row;
  });
  if (rest.length) {
    const sum = rest.reduce((n, id) => n + slots[id], 0);
    const open = rest.filter((id) => who(id).online).length;
    const label = !open ? plural(rest.length, "earlier tab") : open === rest.length ? plural(rest.length, "more tab") : `${rest.length} more (${open} open)`;
    rows.push(
      h(
        "li",
        { class: `slot slot-rest${open ? "" : " is-gone"}` },
        h("span", { class: "slot-who" }, h("span", { class: "avatar avatar-more" }, `+${rest.length}`), h("span", { class: "slot-name" }, label)),
        h("span", { class: "slot-track" }, h("span", { class: "slot-fill", style: `--c:#94a3b8;width:${(100 * sum) / Math.max(max, sum)}%` })),
        h("span", { class: "slot-value" }, String(sum)),
      ),
    );
  }
  for (const [id, row] of slotRows) if (!shown.includes(id)) (row.remove(), slotRows.delete(id));
  list.querySelectorAll(".slot-rest").forEach((el) => el.remove());
  rows.forEach((row, i) => {
    if (list.children[i] !== row) list.insertBefore(row, list.children[i] ?? null);
  });
  if (!ids.length) {
    list.replaceChildren(h("li", { class: "empty" }, "No slots yet: the first click creates this tab's slot."));
    slotRows.clear();
  } else list.querySelector(".empty")?.remove();
  const raw = $("slots-raw");
  const entries = ids.slice(0, 5);
  raw.replaceChildren(
    "{",
    ...entries.flatMap((id, i) => [
      "\n  ",
      h("span", { class: "tok-key" }, JSON.stringify(id)),
      ": ",
      h("span", { class: "tok-num" }, String(slots[id])),
      i < ids.length - 1 ? "," : "",
      h("span", { class: "tok-comment" }, `  // ${who(id).name}${id === doc.clientId ? " (this tab)" : ""}`),
    ]),
    ids.length > entries.length ? h("span", { class: "tok-comment" }, `\n  // … ${plural(ids.length - entries.length, "more slot")}`) : "",
    ids.length ? "\n}" : "}",
  );
  const sum = $("slots-sum");
  sum.replaceChildren();
  if (ids.length) {
    sum.append(
      ids.length > 1 ? `${ids.map((id) => slots[id]).slice(0, 6).join(" + ")}${ids.length > 6 ? " + …" : ""} = ` : "value = ",
      h("b", {}, String(total)),
    );
  }
}

// ---------------------------------------------------------------------------
// 2. Reactions: set `reactions:<emoji>` holds the ids of the tabs that reacted.

const ICON = {
  like: '<path d="M14 9V5a3 3 0 0 0-3-3l-4 9v11h11.28a2 2 0 0 0 2-1.7l1.38-9a2 2 0 0 0-2-2.3zM7 22H4a2 2 0 0 1-2-2v-7a2 2 0 0 1 2-2h3"/>',
  love: '<path d="M20.84 4.61a5.5 5.5 0 0 0-7.78 0L12 5.67l-1.06-1.06a5.5 5.5 0 0 0-7.78 7.78l1.06 1.06L12 21.23l7.78-7.78 1.06-1.06a5.5 5.5 0 0 0 0-7.78z"/>',
  star: '<path d="M12 2l3.09 6.26L22 9.27l-5 4.87 1.18 6.88L12 17.77l-6.18 3.25L7 14.14 2 9.27l6.91-1.01z"/>',
  smile: '<circle cx="12" cy="12" r="10"/><path d="M8 14s1.5 2 4 2 4-2 4-2"/><path d="M9 9h.01M15 9h.01"/>',
  zap: '<path d="M13 2L3 14h9l-1 8 10-12h-9l1-8z"/>',
};
const REACTIONS = [
  { id: "like", emoji: "👍", label: "Like" },
  { id: "love", emoji: "❤️", label: "Love" },
  { id: "star", emoji: "⭐", label: "Star" },
  { id: "smile", emoji: "😄", label: "Ha" },
  { id: "zap", emoji: "⚡", label: "Zap" },
];
const reactionKey = (r) => `reactions:${r.emoji}`;

function buildReactions() {
  const box = $("reactions");
  for (const r of REACTIONS) {
    const btn = h(
      "button",
      { type: "button", class: "reaction", "data-testid": `reaction-${r.id}`, "data-reaction": r.id, "aria-pressed": "false" },
      h("span", { class: "reaction-fill" }),
      h("span", { class: "reaction-icon" }),
      h("span", { class: "reaction-label" }, r.label, h("span", { class: "reaction-you" }, "you")),
      h("span", { class: "reaction-who" }),
      h("span", { class: "reaction-count", "data-testid": `reaction-${r.id}-count` }, "0"),
    );
    btn.querySelector(".reaction-icon").innerHTML = `<svg viewBox="0 0 24 24" aria-hidden="true">${ICON[r.id]}</svg>`;
    btn.addEventListener("click", () => {
      const key = reactionKey(r);
      if (doc.has(key, doc.clientId)) doc.remove(key, doc.clientId);
      else doc.add(key, doc.clientId);
    });
    box.append(btn);
  }
}

function renderReactions() {
  const all = REACTIONS.map((r) => doc.members(reactionKey(r)));
  // Bars show the share of tabs that reacted (tabs that closed still count).
  const scale = Math.max(1, presence.size, ...all.map((m) => m.length));
  REACTIONS.forEach((r, i) => {
    const btn = document.querySelector(`[data-reaction=${r.id}]`);
    const members = all[i];
    const mine = members.includes(doc.clientId);
    btn.setAttribute("aria-pressed", String(mine));
    btn.setAttribute("aria-label", `${r.label}: ${members.length}${mine ? ", including this tab" : ""}`);
    btn.title = members.length ? members.map((id) => who(id).name).join(", ") : `No ${r.label} yet`;
    btn.querySelector(".reaction-count").textContent = members.length;
    btn.querySelector(".reaction-fill").style.width = `${(100 * members.length) / scale}%`;
    const shown = members.slice(0, 4);
    btn.querySelector(".reaction-who").replaceChildren(
      ...shown.map((id) => avatar(id, "avatar avatar-xs")),
      members.length > shown.length ? h("span", { class: "avatar avatar-xs avatar-more" }, `+${members.length - shown.length}`) : "",
    );
  });
}

// ---------------------------------------------------------------------------
// 3. Status: register `status` = { text }, with its writer and timestamp.

function setStatus(text) {
  text = text.trim();
  if (text) doc.set("status", { text });
}

function formatTime(ms) {
  const d = new Date(ms);
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

function ago(ms) {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 5) return "just now";
  if (s < 60) return `${s} s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ago`;
  const hrs = Math.floor(m / 60);
  return hrs < 48 ? `${hrs} h ago` : `${Math.floor(hrs / 24)} days ago`;
}

function renderStatus() {
  const info = doc.registerInfo("status");
  const value = doc.get("status");
  const view = $("status-view");
  const valueEl = $("status-value");
  const writerEl = $("status-writer");
  const timeEl = $("status-time");
  view.dataset.empty = String(!info);
  view.dataset.deleted = String(!!info?.deleted);
  if (!info) {
    valueEl.textContent = "No status yet";
    writerEl.replaceChildren();
    timeEl.replaceChildren();
    delete writerEl.dataset.writer;
    return;
  }
  const text = value && typeof value === "object" && typeof value.text === "string" ? value.text : value === undefined ? "" : JSON.stringify(value);
  valueEl.textContent = info.deleted ? "Cleared" : text;
  const w = who(info.writer);
  writerEl.dataset.writer = info.writer;
  writerEl.replaceChildren(
    avatar(info.writer, "avatar avatar-sm"),
    h("span", {}, info.deleted ? "cleared by " : "set by ", h("b", {}, w.name), w.me ? h("span", { class: "badge badge-me" }, "this tab") : ""),
  );
  timeEl.dataset.wall = info.wall;
  timeEl.replaceChildren(
    h("time", { datetime: new Date(info.wall).toISOString(), title: `hybrid logical clock: wall ${info.wall} ms, logical ${info.logical}` }, formatTime(info.wall)),
    h("span", { class: "hlc" }, `HLC ${info.wall}·${info.logical}`),
    h("span", { class: "ago" }, ago(info.wall)),
  );
}

// ---------------------------------------------------------------------------
// 4. Open tabs (presence).

const tabRows = new Map(); // clientId -> <li>, kept so a row only animates in once

function renderTabs() {
  const ids = [...presence.keys()].sort((a, b) => (b === doc.clientId) - (a === doc.clientId) || who(a).name.localeCompare(who(b).name) || (a < b ? -1 : 1));
  const slots = doc.counterSlots("clicks");
  $("tabs-count").textContent = ids.length;
  const rows = ids.map((id) => {
    const w = who(id);
    let row = tabRows.get(id);
    if (!row) tabRows.set(id, (row = h("li", { "data-testid": "tab", "data-client": id })));
    row.className = `tab${w.me ? " is-me" : ""}`;
    row.toggleAttribute("data-me", w.me);
    if (w.me) row.dataset.me = "true";
    row.toggleAttribute("data-writer", w.writer);
    if (w.writer) row.dataset.writer = "true";
    row.replaceChildren(
      avatar(id),
      h(
        "span",
        { class: "tab-text" },
        h("span", { class: "tab-name" }, w.name),
        h(
          "span",
          { class: "tab-meta" },
          h("code", { class: "id" }, shortId(id)),
          w.me ? h("span", { class: "badge badge-me" }, "this tab") : "",
          w.writer ? h("span", { class: "badge badge-writer", title: "Holds the Web Lock and writes IndexedDB" }, "storage writer") : "",
        ),
      ),
      h("span", { class: "tab-clicks", title: "this tab's slot of clicks" }, h("b", {}, String(slots[id] ?? 0)), slots[id] === 1 ? "click" : "clicks"),
    );
    return row;
  });
  for (const [id, row] of tabRows) if (!presence.has(id)) (row.remove(), tabRows.delete(id));
  const list = $("tabs");
  rows.forEach((row, i) => {
    if (list.children[i] !== row) list.insertBefore(row, list.children[i] ?? null);
  });
  const others = ids.length - (presence.has(doc.clientId) ? 1 : 0);
  const pill = $("sync-status");
  pill.dataset.state = others ? "ok" : "alone";
  pill.querySelector(".pill-text").textContent = others ? `In sync with ${plural(others, "other tab")}` : "No other tabs yet — open one";
}

// ---------------------------------------------------------------------------
// 6. Persistence.

function renderPersist() {
  const pill = $("persist-status");
  const text = pill.querySelector(".pill-text");
  if (persistLoading) {
    pill.dataset.state = "loading";
    text.textContent = "Loading saved state…";
  } else if (!persistence) {
    pill.dataset.state = "off";
    pill.title = persistError ? String(persistError.message ?? persistError) : "";
    text.textContent = "Not persisted — changes live only while a tab is open";
  } else if (persistence.isWriter) {
    pill.dataset.state = "writer";
    text.textContent = "Saved in IndexedDB — this tab is the storage writer";
  } else {
    const writer = [...presence.keys()].find((id) => id !== doc.clientId && who(id).writer);
    pill.dataset.state = "saved";
    text.textContent = writer ? `Saved in IndexedDB by ${who(writer).name}, the storage writer` : "Saved in IndexedDB by the storage writer tab";
  }
  pill.dataset.writer = String(!!persistence?.isWriter);
}

async function startPersistence() {
  try {
    if (typeof slotkv.persist !== "function") throw new Error("this build of slotkv has no persist()");
    persistence = await slotkv.persist(doc, STORAGE);
    exposed.persistence = persistence;
  } catch (err) {
    persistError = err;
    exposed.persistError = err;
    console.warn("slotkv demo: not persisted:", err?.message ?? err);
  }
  persistLoading = false;
  publishPresence();
  renderAll();
  // The lock can pass to this tab when the writer closes: watch for it.
  let wasWriter = !!persistence?.isWriter;
  if (persistence) {
    setInterval(() => {
      if (persistence.isWriter !== wasWriter) {
        wasWriter = persistence.isWriter;
        publishPresence();
        renderPersist();
      }
    }, 500);
  }
}

// ---------------------------------------------------------------------------
// Wiring.

function renderAll() {
  renderClicks();
  renderSlots();
  renderReactions();
  renderStatus();
  renderTabs();
  renderPersist();
}

function identity() {
  $("me-name").textContent = me.name;
  $("me-id").textContent = doc.clientId;
  $("me-id").title = "this tab's client id";
  const av = $("me-avatar");
  av.style.setProperty("--c", me.color);
  av.textContent = initials(me.name);
  document.documentElement.style.setProperty("--me", me.color);
  document.title = `${me.name} · slotkv demo`;
}

identity();
buildReactions();

$("plus").addEventListener("click", click);
$("latency").addEventListener("input", (e) => {
  latency = Number(e.target.value);
  $("latency-value").textContent = `${latency} ms`;
});
latency = Number($("latency").value);
$("latency-value").textContent = `${latency} ms`;

$("status-form").addEventListener("submit", (e) => {
  e.preventDefault();
  setStatus($("status-input").value);
  $("status-input").value = "";
});
for (const btn of $("presets").querySelectorAll(".chip-btn:not(#status-clear)")) {
  btn.addEventListener("click", () => setStatus(btn.textContent));
}
$("status-clear").addEventListener("click", () => {
  if (doc.get("status") !== undefined) doc.delete("status");
});

$("open-tab").addEventListener("click", () => window.open(location.href, "_blank"));

doc.on("change", (e) => {
  if (e.counters.length) (renderClicks(), renderSlots(), renderTabs());
  if (e.registers.length) (renderClicks(), renderStatus());
  if (e.sets.length) renderReactions();
});

sync.on("presence", () => {
  presence = sync.presence();
  renderClicks();
  renderSlots();
  renderTabs();
  renderReactions();
  renderStatus();
  renderPersist();
});
sync.on("error", (err) => console.warn("slotkv demo: sync:", err.message));

publishPresence();
presence = sync.presence();
renderAll();
setInterval(renderStatus, 1000); // keeps "… s ago" fresh
startPersistence();
