// Helpers for tests/e2e/persist.test.mjs. The page does nothing by itself: the
// test calls these through page.evaluate().
import * as slotkv from "slotkv";

// Raw IndexedDB, bypassing persist(): the schema is the one pkg/persist.js documents.
function req(r) {
  return new Promise((ok, fail) => {
    r.onsuccess = () => ok(r.result);
    r.onerror = () => fail(r.error);
  });
}

async function withDb(name, mode, fn) {
  const db = await req(indexedDB.open(`slotkv:${name}`));
  try {
    const tx = db.transaction(["snapshot", "log"], mode);
    const done = new Promise((ok, fail) => {
      tx.oncomplete = ok;
      tx.onabort = () => fail(tx.error);
    });
    const result = await fn(tx.objectStore("snapshot"), tx.objectStore("log"));
    await done;
    return result;
  } finally {
    db.close();
  }
}

// A Doc's toJSON() in a form that survives page.evaluate: Uint8Array as { bytes: [...] }.
const json = (doc) => JSON.parse(JSON.stringify(doc.toJSON(), (k, v) => (v instanceof Uint8Array ? { bytes: [...v] } : v)));

const kind = (v) => (v instanceof Uint8Array ? "bytes" : typeof v);

globalThis.t = {
  slotkv,
  doc: null,
  p: null,

  /** A new Doc in this tab, persisted as `name`. */
  async open(name, options, docOptions) {
    t.doc = new slotkv.Doc(docOptions);
    t.p = await slotkv.persist(t.doc, name, options);
    return { isWriter: t.p.isWriter, state: json(t.doc) };
  },

  /** This tab's document, as JSON. */
  state() {
    return json(t.doc);
  },

  /**
   * What the database holds: the snapshot's size and format version, and each log record's key, kind
   * and (for bytes) format version (byte 1, docs/FORMAT.md).
   */
  raw(name) {
    return withDb(name, "readonly", async (snapshot, log) => {
      const [state, records, keys] = await Promise.all([req(snapshot.get("state")), req(log.getAll()), req(log.getAllKeys())]);
      const format = (v) => (v instanceof Uint8Array ? v[1] : undefined);
      return {
        snapshot: state?.byteLength ?? null,
        snapshotFormat: format(state),
        log: records.map((r, i) => ({ key: keys[i], kind: kind(r), format: format(r) })),
      };
    });
  },

  /** The document the stored bytes make, read without persist(). */
  stored(name) {
    return withDb(name, "readonly", async (snapshot, log) => {
      const doc = new slotkv.Doc();
      const [state, records] = await Promise.all([req(snapshot.get("state")), req(log.getAll())]);
      for (const bytes of [state, ...records]) if (bytes instanceof Uint8Array) doc.applyUpdate(bytes);
      return json(doc);
    });
  },

  /**
   * Stalls every tab's writes to `name`: a readwrite transaction that does not end (it keeps issuing
   * requests) makes every later one wait, until t.unblock(), a crash or closing this tab.
   */
  async block(name) {
    const db = await req(indexedDB.open(`slotkv:${name}`));
    const log = db.transaction(["snapshot", "log"], "readwrite").objectStore("log");
    await req(log.count());
    let blocked = true;
    (function again() {
      if (blocked) log.count().onsuccess = again;
    })();
    t.unblock = () => {
      blocked = false;
      db.close();
    };
  },

  /**
   * Makes this tab's IndexedDB writes (put, add) throw, as a full disk would: the next `times` of them,
   * every one by default.
   */
  failWrites(times = Infinity) {
    const { put, add } = IDBObjectStore.prototype;
    let left = times;
    const failing = (write) =>
      function (...args) {
        if (left-- > 0) throw new DOMException("slotkv test: this write fails", "QuotaExceededError");
        return write.apply(this, args);
      };
    IDBObjectStore.prototype.put = failing(put);
    IDBObjectStore.prototype.add = failing(add);
  },

  /** Puts `value` in place of the snapshot. */
  putSnapshot(name, value) {
    return withDb(name, "readwrite", async (snapshot) => {
      await req(snapshot.put(value, "state"));
    });
  },

  /** Puts `value` into the log at `key` (an explicit, possibly fractional key places it between records). */
  inject(name, value, key) {
    return withDb(name, "readwrite", async (snapshot, log) => {
      await req(log.put(value, key));
    });
  },
};
globalThis.ready = true;
