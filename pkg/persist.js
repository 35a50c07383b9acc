// persist() (SPEC §4): keeps a Doc in IndexedDB, with exactly one writer tab.
//
// Every tab that persists document `name` uses three things of the origin:
//  - the Web Lock `slotkv:<name>`. Its holder is the writer, the only tab that
//    writes storage, so N tabs never race or write the same update N times.
//    Every other tab queues for the lock; when the writer closes or crashes the
//    browser hands it to one of them.
//  - the IndexedDB database `slotkv:<name>` (version 1): object store "snapshot"
//    holds one full state under the key "state"; object store "log" holds one
//    update (Uint8Array) per record, auto-increment keys in write order. Loading
//    applies the snapshot, then the log. The writer appends every update its Doc
//    emits that is in format 1, and "rewrites" (reads everything stored into its
//    Doc, puts encodeState() as the snapshot and clears the log, in one
//    transaction) when it takes over, when the log passes `compactAfter` records
//    or `compactAfterBytes`, and in place of appending an update in a newer
//    format (so that an earlier slotkv, after a rollback, reads all that is
//    stored). Reading before rewriting means a rewrite can never drop something
//    stored that this Doc had not seen; a record in a format newer than this
//    build reads stays in the log, for the newer build.
//  - the BroadcastChannel `slotkv-persist:<name>`, so persistence needs no
//    BroadcastSync. Messages (structured clones; `from` is the sender's random
//    instance id):
//      { t: "update", update, client } non-writer -> writer: a local transaction, or a catch-up delta;
//                                     `client`: the sender's Doc's client id (absent from an earlier slotkv)
//      { t: "flush", id }             non-writer -> writer: "ack when my updates so far are durable"
//      { t: "flushed", to, id, error? }
//                                     writer -> non-writer: they are; or, with `error`, they are not:
//                                     its IndexedDB write failed, or it could not take an update from you
//      { t: "hello" }                 non-writer -> writer: "tell me your version"
//      { t: "writer", version, format, to? }
//                                     writer -> non-writers (all when `to` is absent): each answers with
//                                     update: encodeDelta(version) and re-sends its pending flushes.
//                                     `format`: the newest format version the writer reads, so
//                                     that delta uses no newer one (none from an earlier
//                                     slotkv: it is sent format 1, which every build reads).
//    A new writer announces itself this way, so whatever the previous writer
//    received but never stored is sent again. A non-writer trusts an ack only
//    for a request it sent after catching up with that writer this way: then
//    the writer holds (and has stored) everything the non-writer ever wrote.

import { FORMAT_VERSION, applyStored, isDoc, isFreed } from "./doc.js";
import { FROM_TABS, MAX_DELAY_MS, catchUp, formatOf, isFormat, isId, isNewerFormat, readOptions } from "./message.js";

const DEFAULTS = { compactAfter: 500, compactAfterBytes: 4 << 20, ackTimeoutMs: 2000 };
const SNAPSHOT = "snapshot";
const LOG = "log";
const STATE = "state";

// ----- a tiny promise wrapper around IndexedDB -----

function request(req) {
  return new Promise((ok, fail) => {
    req.onsuccess = () => ok(req.result);
    req.onerror = () => fail(req.error);
  });
}

// A request whose failure does not abort its transaction: resolves { error } then.
function tolerant(req) {
  return new Promise((ok) => {
    req.onsuccess = () => ok({ value: req.result });
    req.onerror = (e) => {
      e.preventDefault();
      ok({ error: req.error });
    };
  });
}

function openDb(name) {
  const req = indexedDB.open(name, 1);
  req.onupgradeneeded = () => {
    req.result.createObjectStore(SNAPSHOT);
    req.result.createObjectStore(LOG, { autoIncrement: true });
  };
  return request(req);
}

// Runs fn(snapshotStore, logStore) in one transaction; resolves with fn's
// result once the transaction has committed. "strict" durability: flush()
// promises that the data is on disk, not merely queued by the OS.
async function transaction(db, mode, fn) {
  const tx = db.transaction([SNAPSHOT, LOG], mode, { durability: "strict" });
  const committed = new Promise((ok, fail) => {
    tx.oncomplete = () => ok();
    tx.onabort = () => fail(tx.error ?? new Error("slotkv: an IndexedDB transaction was aborted"));
  });
  try {
    // Awaiting IDB requests inside fn keeps the transaction active: their
    // promises settle in the microtasks right after each success event.
    const result = await fn(tx.objectStore(SNAPSHOT), tx.objectStore(LOG));
    await committed;
    return result;
  } catch (err) {
    committed.catch(() => {});
    try {
      tx.abort();
    } catch {} // already finished or aborted
    throw err;
  }
}

// ----- the channel protocol -----

function validate(m) {
  if (m === null || typeof m !== "object" || !isId(m.from)) return "not an object with an id in `from`";
  switch (m.t) {
    case "update":
      return m.update instanceof Uint8Array && (m.client === undefined || isId(m.client)) ? null : "update without bytes, or with a bad client id";
    case "flush":
      return Number.isSafeInteger(m.id) ? null : "flush without an id";
    case "flushed":
      return isId(m.to) && Number.isSafeInteger(m.id) && (m.error === undefined || typeof m.error === "string") ? null : "malformed flushed";
    case "hello":
      return null;
    case "writer":
      return m.version instanceof Uint8Array && (m.to === undefined || isId(m.to)) && isFormat(m.format) ? null : "malformed writer";
    default:
      return `unknown message type ${JSON.stringify(String(m.t))}`;
  }
}

function sameBytes(a, b) {
  return a.length === b?.length && a.every((x, i) => x === b[i]);
}

function randomId() {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// Gives persist() access to Persistence's private #start without making it
// part of the object users get.
let start;

class Persistence {
  #doc;
  #name;
  #opts;
  #id = randomId();
  #db;
  #channel;
  #off;
  // The origin of what persist loads, so the writer's listener can tell it
  // (already stored) from what other tabs send (to store).
  #fromStorage;
  #client; // this Doc's client id, read once (a call into wasm)
  #writer = false;
  #closing = null; // the close() promise once close() was called
  #closed = false;
  // The Doc's version when close() stopped listening to it: what storage can hold.
  #closedAt = null;
  // Why close()'s own flush failed, if it did: then storage may hold less.
  #closeError = null;
  #lockAbort = new AbortController();
  #release; // resolves the lock callback's promise: releases the lock
  #released = new Promise((ok) => (this.#release = ok));
  // Writer side: updates waiting for a transaction, and the chain of transactions.
  #queue = [];
  #scheduled = false;
  #rewriteNeeded = false;
  #tail = Promise.resolve();
  #logCount = 0;
  #logBytes = 0;
  // Records a newer slotkv wrote are warned about at the first load only (every rewrite reads them again).
  #newerWarned = false;
  // A takeover not yet announced: the other tabs are told once its rewrite is stored.
  #unannounced = false;
  // Tabs an update of which this writer could not apply: sender id -> why. Their flushes fail,
  // for as long as this tab is the writer: stored bytes are refused only for what no retry
  // mends (malformed, or nested deeper than this Doc's maxValueDepth).
  #refused = new Map();
  // Non-writer side: the writer we caught up with last, flushes waiting for
  // an ack, and the requests sent for them. A flush gets a new request each
  // time we catch up with a writer, so an ack to an older one proves nothing.
  #writerId = null;
  #waiting = new Set(); // { resolve, reject }
  #requests = new Map(); // request id -> { flush, writer: #writerId when sent }
  #nextRequest = 0;
  #retry;

  static {
    start = (p) => p.#start();
  }

  constructor(doc, name, opts) {
    this.#doc = doc;
    this.#name = name;
    this.#opts = opts;
    this.#fromStorage = Object.freeze({ persist: name, from: "storage" });
    this.#client = doc.clientId;
  }

  /** True while this tab holds the single-writer lock and writes storage. */
  get isWriter() {
    return this.#writer && !this.#closed;
  }

  /**
   * Resolves once every update this replica made is in IndexedDB. After close(), nothing more is saved:
   * it resolves if the document is as close() left it, and rejects if it has changed since.
   */
  flush() {
    if (this.#closed || !this.#alive()) return this.#closedFlush();
    return this.#writer ? this.#durable() : this.#flushViaWriter();
  }

  #closedFlush() {
    if (this.#closeError) return Promise.reject(this.#closeError);
    let unchanged = false;
    try {
      unchanged = sameBytes(this.#doc.version(), this.#closedAt);
    } catch {
      // The Doc was freed: what it held cannot be compared.
    }
    return unchanged ? Promise.resolve() : Promise.reject(new Error("slotkv: persist was closed and this Doc has changed since: those changes are not saved"));
  }

  /** Flushes, releases the writer lock if held, and stops persisting. Writes made after close() are not saved. */
  close() {
    this.#closing ??= (async () => {
      this.#off();
      this.#closedAt ??= this.#versionOrNull();
      try {
        await this.flush();
      } catch (err) {
        this.#closeError = err;
        throw err;
      } finally {
        this.#stop();
      }
    })();
    return this.#closing;
  }

  #versionOrNull() {
    try {
      return this.#doc.version();
    } catch {
      return null; // freed
    }
  }

  async #start() {
    try {
      // Listen before opening the database: a write made meanwhile goes to
      // the writer tab at once (a non-writer needs no database for that).
      this.#channel = new BroadcastChannel(`slotkv-persist:${this.#name}`);
      this.#channel.onmessage = (e) => this.#receive(e.data);
      this.#channel.onmessageerror = () => console.warn("slotkv: persist dropped a message that could not be deserialized");
      this.#off = this.#doc.on("update", (update, origin, local) => this.#onUpdate(update, origin, local));
      this.#db = await openDb(`slotkv:${this.#name}`);
      // Another connection wants to delete the database or upgrade it (an
      // app's "clear site data", a newer build): give way rather than block it.
      this.#db.onversionchange = () => {
        const why = `slotkv: persist(${JSON.stringify(this.#name)}) stopped: the database is being deleted or upgraded elsewhere`;
        console.warn(why);
        // What was queued or in flight is not saved, and what was saved may be gone.
        this.#halt(`${why}, so this Doc's writes are not saved`);
      };
      // Try the lock without queueing, so that persist() resolves knowing its
      // role; a writer's takeover rewrite doubles as its load.
      const takeover = await new Promise((decided, failed) => {
        navigator.locks
          .request(this.#lockName, { ifAvailable: true }, (lock) => {
            if (!lock) return decided(null);
            decided({ done: this.#takeOver() });
            return this.#released;
          })
          .catch(failed);
      });
      if (takeover) {
        await takeover.done;
      } else {
        await this.#loadOnly();
        this.#post({ t: "hello" }); // the writer answers with its version: we send it what it lacks
        this.#queueForLock();
      }
    } catch (err) {
      this.#off?.();
      this.#stop();
      throw err;
    }
    return this;
  }

  get #lockName() {
    return `slotkv:${this.#name}`;
  }

  #queueForLock() {
    navigator.locks
      .request(this.#lockName, { signal: this.#lockAbort.signal }, () => {
        if (this.#closed || !this.#alive()) return;
        this.#takeOver().catch(() => {}); // reported by #writeQueued; retried on the next write or flush
        return this.#released; // held until close() or the tab dies
      })
      .catch((err) => {
        if (err?.name !== "AbortError") console.error("slotkv: persist could not request the writer lock", err);
      });
  }

  // This tab just got the lock: store its whole state (merged with what is
  // stored), then ask the other tabs for anything the previous writer missed
  // (announced by #writeQueued once a rewrite is stored, however many tries that takes).
  #takeOver() {
    this.#writer = true;
    this.#rewriteNeeded = true;
    this.#unannounced = true;
    const done = this.#durable();
    // Our own waiting flushes: our snapshot holds everything we wrote.
    for (const { resolve, reject } of this.#waiting) done.then(resolve, reject);
    this.#waiting.clear();
    this.#requests.clear();
    this.#stopRetry();
    return done;
  }

  #onUpdate(update, origin, local) {
    if (this.#writer) {
      // An applied update is the caller's buffer, which it may reuse: the log gets a copy.
      if (origin !== this.#fromStorage) this.#append(local ? update : update.slice());
    } else if (local) {
      this.#postUpdate(update);
    }
  }

  // Applies the snapshot then the log, skipping (with a warning) what cannot be
  // read or applied: one torn record must not make the document unloadable.
  // (Chromium keeps a large value in a file of its own; if that file is lost,
  // reading the record fails, and reading all records at once fails with it.)
  // Returns the errors of what could not be read (Chromium then aborts the
  // transaction when it ends, even one that only read), the log's keys, and
  // the records a newer slotkv wrote, which this one cannot read but must not
  // drop: `key` null for the snapshot.
  async #load(snapshot, log) {
    const [state, all, keys] = await Promise.all([tolerant(snapshot.get(STATE)), tolerant(log.getAll()), request(log.getAllKeys())]);
    const unreadable = [];
    const newer = [];
    if (state.error) {
      unreadable.push(state.error);
      this.#skip("the snapshot", state.error);
    } else if (state.value !== undefined && !this.#applyStored(state.value, "the snapshot")) newer.push({ key: null, bytes: state.value });
    for (const [i, key] of keys.entries()) {
      const record = all.error ? await tolerant(log.get(key)) : { value: all.value[i] };
      if (record.error) {
        unreadable.push(record.error);
        this.#skip(`log record ${key}`, record.error);
      } else if (!this.#applyStored(record.value, `log record ${key}`)) newer.push({ key, bytes: record.value });
    }
    this.#newerWarned ||= newer.length > 0;
    return { unreadable, keys, newer };
  }

  // Loads storage into the Doc (a non-writer's start).
  async #loadOnly() {
    let unreadable = [];
    try {
      await transaction(this.#db, "readonly", async (snapshot, log) => {
        ({ unreadable } = await this.#load(snapshot, log));
      });
    } catch (err) {
      if (!unreadable.length) throw err; // else what could be read is loaded: the abort is the unreadable part's
    }
  }

  // Reads what is stored into the Doc, and stores the Doc's state in its
  // place. What a newer slotkv wrote stays, in the log, for that slotkv to
  // read when it runs here again (this build may be a rollback).
  async #rewrite() {
    let unreadable = [];
    let stored = { keys: [], newer: [] };
    const replace = (snapshot, log) => {
      snapshot.put(this.#doc.encodeState(), STATE);
      if (!stored.newer.length) return log.clear();
      const keep = new Set(stored.newer.map((r) => r.key));
      for (const key of stored.keys) if (!keep.has(key)) log.delete(key);
      if (keep.has(null)) log.add(stored.newer.find((r) => r.key === null).bytes);
    };
    try {
      await transaction(this.#db, "readwrite", async (snapshot, log) => {
        stored = await this.#load(snapshot, log);
        unreadable = stored.unreadable;
        replace(snapshot, log);
      });
    } catch (err) {
      // Only bytes that are gone are given up; another failure may pass, and the next rewrite retries.
      if (!unreadable.length || !unreadable.every((e) => e?.name === "NotReadableError" || e?.name === "NotFoundError")) throw err;
      // Aborted for what could not be read; the Doc holds all the rest. A
      // transaction that reads nothing stores it, and drops the unreadable records.
      await transaction(this.#db, "readwrite", replace);
    }
  }

  #skip(what, err) {
    console.warn(`slotkv: persist(${JSON.stringify(this.#name)}) skipped ${what}: ${err?.message ?? err}`);
  }

  // Applies one stored record; false if it is one a newer slotkv wrote.
  #applyStored(bytes, what) {
    if (!(bytes instanceof Uint8Array)) {
      this.#skip(what, "not a Uint8Array");
      return true;
    }
    try {
      // Not applyUpdate: the limits that bound a peer's update must not
      // keep a document that outgrew them from loading all of itself.
      applyStored(this.#doc, bytes, this.#fromStorage);
    } catch (err) {
      const newer = isNewerFormat(bytes, FORMAT_VERSION);
      if (!newer) this.#skip(what, err);
      else if (!this.#newerWarned) this.#skip(what, `${err?.message ?? err} (left in storage for that slotkv)`);
      return !newer;
    }
    return true;
  }

  // ----- writer: storage -----

  // The log holds format 1 only. After a rollback an earlier slotkv, which
  // reads no newer format, would skip such a record and then rewrite storage
  // without it. A delta in a newer format (a catch-up that lists a set in
  // part: one that brought a tab's offline set changes, say; never a
  // transaction's update) is stored by a rewrite instead, whose snapshot is a
  // state, always format 1. Rewrites queued meanwhile are done as one.
  #append(update) {
    if (formatOf(update) === 1) this.#queue.push(update);
    else this.#rewriteNeeded = true;
    this.#schedule();
  }

  // Everything queued so far committed (or a rejection if a write failed).
  #durable() {
    if (this.#queue.length || this.#rewriteNeeded) this.#schedule();
    return this.#tail;
  }

  // One transaction at a time; updates that arrive meanwhile share the next one.
  #schedule() {
    if (this.#scheduled) return;
    this.#scheduled = true;
    this.#tail = this.#tail
      .catch(() => {})
      .then(() => {
        this.#scheduled = false;
        return this.#writeQueued();
      });
    // A failed write is reported by #writeQueued and rejects flush(); with
    // nobody flushing it must not also be an unhandled rejection.
    this.#tail.catch(() => {});
  }

  async #writeQueued() {
    const batch = this.#queue;
    this.#queue = [];
    // Taken now, as the batch is: a rewrite asked for while this one runs may
    // come after its encodeState(), so it must run again.
    const rewrite = this.#rewriteNeeded;
    this.#rewriteNeeded = false;
    const bytes = batch.reduce((n, u) => n + u.byteLength, 0);
    const compact =
      rewrite ||
      this.#logCount + batch.length > this.#opts.compactAfter ||
      this.#logBytes + bytes > this.#opts.compactAfterBytes;
    if (!compact && !batch.length) return;
    try {
      if (compact) {
        // The batch is in the Doc already, so in its encodeState().
        await this.#rewrite();
        this.#logCount = this.#logBytes = 0;
        if (this.#unannounced && !this.#closing) {
          this.#unannounced = false;
          this.#post({ t: "writer", version: this.#doc.version(), format: FORMAT_VERSION });
        }
      } else {
        await transaction(this.#db, "readwrite", (snapshot, log) => {
          for (const update of batch) log.add(update);
        });
        this.#logCount += batch.length;
        this.#logBytes += bytes;
      }
    } catch (err) {
      // The Doc still holds these updates: the next write stores its whole state.
      this.#rewriteNeeded = true;
      console.error(`slotkv: persist(${JSON.stringify(this.#name)}) could not write IndexedDB`, err);
      throw err;
    }
  }

  // ----- the channel -----

  #post(message) {
    if (this.#closed) return;
    message.from = this.#id;
    try {
      this.#channel.postMessage(message);
    } catch (err) {
      console.warn("slotkv: persist could not post a message", err);
    }
  }

  // To the writer: an update of this tab's, with its client id (see #takeFromTab).
  #postUpdate(update) {
    this.#post({ t: "update", update, client: this.#client });
  }

  #receive(m) {
    if (this.#closed) return;
    const problem = validate(m);
    if (problem) {
      console.warn(`slotkv: persist dropped a malformed message: ${problem}`);
      return;
    }
    if (m.from === this.#id || !this.#alive()) return;
    try {
      if (m.t === "flushed") {
        if (m.to === this.#id) this.#acked(m.id, m.from, m.error);
      } else if (this.#writer) {
        // A closing writer takes nothing more: the next writer collects it.
        if (this.#closing) return;
        if (m.t === "update") this.#takeFromTab(m);
        else if (m.t === "flush") this.#ackFlush(m);
        else if (m.t === "hello") this.#post({ t: "writer", to: m.from, version: this.#doc.version(), format: FORMAT_VERSION });
      } else if (m.t === "writer" && (m.to === undefined || m.to === this.#id)) {
        this.#postUpdate(catchUp(this.#doc, m.version, m.format ?? 1));
        this.#writerId = m.from;
        for (const flush of this.#waiting) this.#sendFlush(flush);
      }
    } catch (err) {
      console.warn(`slotkv: persist could not handle a ${m.t} message: ${err.message}`);
    }
  }

  // ----- writer: what other tabs send -----

  // Another tab's write or catch-up delta, to store. Applied as stored bytes
  // are: it is this document's own, from a tab of the origin (which could as
  // well write the database), and may be larger than a peer's update is
  // allowed to be. If it still cannot be applied, that tab's flushes fail.
  #takeFromTab(m) {
    try {
      // FROM_TABS names the tab's client id: a BroadcastSync that has it as a
      // peer does not post the update back (that tab's own BroadcastSync sent it).
      applyStored(this.#doc, m.update, Object.freeze({ persist: this.#name, from: "tabs", [FROM_TABS]: m.client }));
    } catch (err) {
      this.#refused.set(m.from, err.message);
      throw err;
    }
  }

  #ackFlush(m) {
    const ack = (error) => this.#post({ t: "flushed", to: m.from, id: m.id, ...(error !== undefined && { error }) });
    const refused = this.#refused.get(m.from);
    if (refused !== undefined) ack(`the writer tab could not take an update from this tab (${refused})`);
    else this.#durable().then(() => ack(), (err) => ack(`the writer tab could not write IndexedDB (${err?.message ?? err})`));
  }

  // ----- non-writer: flush through the writer -----

  // The writer acks after storing what it received before the request (one
  // sender's messages arrive in order). No valid ack in time (no writer yet,
  // or it closed or crashed first): "hello" makes the current writer announce
  // itself, and we send it our delta and the request again.
  #flushViaWriter() {
    return new Promise((resolve, reject) => {
      const flush = { resolve, reject };
      this.#waiting.add(flush);
      this.#sendFlush(flush);
      this.#retry ??= setInterval(() => this.#alive() && this.#post({ t: "hello" }), this.#opts.ackTimeoutMs);
    });
  }

  #sendFlush(flush) {
    const id = ++this.#nextRequest;
    this.#requests.set(id, { flush, writer: this.#writerId });
    this.#post({ t: "flush", id });
  }

  #acked(id, writer, error) {
    const request = this.#requests.get(id);
    // Sent before we caught up with that writer (or to another one): proves nothing.
    if (!request || request.writer !== writer) return;
    const { flush } = request;
    for (const [other, r] of this.#requests) if (r.flush === flush) this.#requests.delete(other);
    this.#waiting.delete(flush);
    if (error === undefined) flush.resolve();
    else flush.reject(new Error(`slotkv: flush failed: ${error}`));
    if (!this.#waiting.size) this.#stopRetry();
  }

  #stopRetry() {
    clearInterval(this.#retry);
    this.#retry = undefined;
  }

  // A freed Doc has no replica left to save, and a writer that kept the lock
  // for it would keep every other tab's writes from storage: persist stops
  // (releasing the lock) once it finds its Doc freed, at the next message or
  // when the lock comes to it.
  #alive() {
    if (!isFreed(this.#doc)) return true;
    this.#halt(`slotkv: persist(${JSON.stringify(this.#name)}) stopped: its Doc was freed`);
    return false;
  }

  // Stops persisting for a reason other than close(): every later flush()
  // rejects with `why`.
  #halt(why) {
    this.#closeError ??= new Error(why);
    this.#closedAt ??= this.#versionOrNull();
    this.#off();
    this.#stop();
  }

  // Releases everything: lock (held or queued), channel, database.
  #stop() {
    if (this.#closed) return;
    this.#closed = true;
    this.#writer = false;
    this.#stopRetry();
    for (const { reject } of this.#waiting) reject(new Error("slotkv: persist was closed before the writer acknowledged a flush"));
    this.#waiting.clear();
    this.#requests.clear();
    this.#lockAbort.abort();
    this.#release();
    this.#channel?.close();
    this.#db?.close();
  }
}

/**
 * Loads what IndexedDB holds for `name` into `doc`, then keeps it saved. Every tab may call it; the one
 * holding the Web Lock `slotkv:<name>` writes, the others send it their writes. Options: `compactAfter`
 * (log records, default 500) and `compactAfterBytes` (default 4 MiB) before the writer compacts the log
 * into the snapshot; `ackTimeoutMs` (default 2000) before a non-writer's flush asks again.
 */
export async function persist(doc, name, options = {}) {
  if (typeof indexedDB === "undefined" || typeof navigator === "undefined" || !navigator.locks || typeof BroadcastChannel === "undefined") {
    throw new Error(
      "slotkv: persist() needs IndexedDB, Web Locks (navigator.locks) and BroadcastChannel, which this environment lacks; use it in a browser page or worker",
    );
  }
  if (!isDoc(doc)) {
    // A Doc of another copy of the package would load nothing and then be stored over what is stored.
    const other = typeof doc?.applyUpdate === "function";
    throw new TypeError(`slotkv: persist needs a Doc${other ? " of the copy of slotkv it comes from (two copies of the package are loaded: import Doc and persist from one)" : ""}`);
  }
  if (typeof name !== "string" || name === "") throw new TypeError("slotkv: the persist name must be a non-empty string");
  const opts = readOptions(options, DEFAULTS, "persist", (v) => Number.isSafeInteger(v) && v >= 1, "a positive integer", { ackTimeoutMs: MAX_DELAY_MS });
  return start(new Persistence(doc, name, opts));
}
