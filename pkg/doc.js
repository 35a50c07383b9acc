// The Doc of SPEC §2: argument checks, events and transactions around the
// wasm core (RawDoc). Everything about merging lives in Rust.
import { RawDoc } from "./slotkv_wasm.js";

const COMMIT = 1;
const ENCODE = 2;
const KINDS = { counter: 0, register: 1, set: 2 };

function describe(v) {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return typeof v === "object" ? `an object (${Object.prototype.toString.call(v).slice(8, -1)})` : typeof v;
}

function checkString(s, what) {
  if (typeof s !== "string") throw new TypeError(`slotkv: ${what} must be a string, got ${describe(s)}`);
  if (!s.isWellFormed()) throw new TypeError(`slotkv: ${what} contains a lone surrogate (not valid Unicode)`);
  return s;
}

function checkBytes(b, what) {
  if (!(b instanceof Uint8Array)) throw new TypeError(`slotkv: ${what} must be a Uint8Array, got ${describe(b)}`);
  return b;
}

function checkDelta(delta) {
  if (typeof delta !== "number") throw new TypeError(`slotkv: a counter delta must be a number, got ${describe(delta)}`);
  if (!Number.isSafeInteger(delta)) {
    throw new RangeError(`slotkv: a counter delta must be a safe integer (|x| <= 2^53 - 1), got ${delta}`);
  }
  return delta;
}

// Register values must survive JSON exactly: plain data only.
function checkJson(value, path, ancestors) {
  switch (typeof value) {
    case "string":
      if (!value.isWellFormed()) throw new TypeError(`slotkv: register value ${path} contains a lone surrogate`);
      return;
    case "boolean":
      return;
    case "number":
      if (!Number.isFinite(value)) throw new TypeError(`slotkv: register value ${path} is ${value}, which JSON cannot hold`);
      return;
    case "object":
      break;
    default:
      throw new TypeError(`slotkv: register value ${path} is ${describe(value)}, which JSON cannot hold`);
  }
  if (value === null) return;
  if (ancestors.includes(value)) throw new TypeError(`slotkv: register value ${path} is cyclic`);
  ancestors.push(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      if (!(i in value)) throw new TypeError(`slotkv: register value ${path}[${i}] is a hole, which JSON cannot hold`);
      checkJson(value[i], `${path}[${i}]`, ancestors);
    }
  } else {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      throw new TypeError(`slotkv: register value ${path} is ${describe(value)}; use plain objects, arrays and primitives`);
    }
    if (Object.getOwnPropertySymbols(value).length) throw new TypeError(`slotkv: register value ${path} has symbol keys`);
    for (const k of Object.keys(value)) {
      checkString(k, `the key ${JSON.stringify(k)} in register value ${path}`);
      checkJson(value[k], `${path}.${k}`, ancestors);
    }
  }
  ancestors.pop();
}

function report(err) {
  console.error("slotkv: an event listener threw", err);
}

export class Doc {
  #raw;
  #listeners = { update: new Set(), change: new Set() };
  #depth = 0;

  constructor(options = {}) {
    if (options === null || typeof options !== "object") {
      throw new TypeError(`slotkv: Doc options must be an object, got ${describe(options)}`);
    }
    const { clientId, now, tombstoneRetentionMs } = options;
    if (clientId !== undefined) checkString(clientId, "clientId");
    if (now !== undefined && typeof now !== "function") {
      throw new TypeError(`slotkv: the now option must be a function returning milliseconds, got ${describe(now)}`);
    }
    let retention = -1;
    if (tombstoneRetentionMs !== undefined) {
      if (typeof tombstoneRetentionMs !== "number") {
        throw new TypeError(`slotkv: tombstoneRetentionMs must be a number, got ${describe(tombstoneRetentionMs)}`);
      }
      if (!Number.isSafeInteger(tombstoneRetentionMs) || tombstoneRetentionMs < 0) {
        throw new RangeError(`slotkv: tombstoneRetentionMs must be a non-negative safe integer, got ${tombstoneRetentionMs}`);
      }
      retention = tombstoneRetentionMs;
    }
    this.#raw = new RawDoc(clientId, now, retention);
  }

  /** A document holding `state` (from `encodeState`, or any update). */
  static load(state, options) {
    checkBytes(state, "the state");
    const doc = new Doc(options);
    try {
      doc.#r.applyUpdate(state);
    } catch (e) {
      doc.free();
      throw e;
    }
    return doc;
  }

  get #r() {
    if (!this.#raw) throw new Error("slotkv: this Doc was freed");
    return this.#raw;
  }

  get clientId() {
    return this.#r.clientId();
  }

  // Runs one write; outside transact() it is its own transaction.
  #write(call) {
    const flags = this.#depth ? 0 : COMMIT | (this.#listeners.update.size ? ENCODE : 0);
    if (call(this.#r, flags)) this.#emitLocal(undefined);
  }

  #emitLocal(origin) {
    const update = this.#r.takeUpdate();
    if (update) this.#emit("update", update, origin, true);
    this.#emitChange(true, origin);
  }

  #emitChange(local, origin) {
    if (!this.#listeners.change.size) return;
    const e = JSON.parse(this.#r.lastChanges());
    e.local = local;
    e.origin = origin;
    this.#emit("change", e);
  }

  #emit(event, ...args) {
    for (const fn of [...this.#listeners[event]]) {
      try {
        fn(...args);
      } catch (err) {
        report(err);
      }
    }
  }

  // ----- counters -----
  increment(key, delta = 1) {
    checkString(key, "a key");
    checkDelta(delta);
    this.#write((r, f) => r.increment(key, delta, f));
  }

  decrement(key, delta = 1) {
    checkString(key, "a key");
    checkDelta(delta);
    this.#write((r, f) => r.increment(key, -delta, f));
  }

  counter(key) {
    return this.#r.counter(checkString(key, "a key"));
  }

  counterSlots(key) {
    return JSON.parse(this.#r.counterSlots(checkString(key, "a key")));
  }

  // ----- registers -----
  set(key, value) {
    checkString(key, "a key");
    if (value instanceof Uint8Array) {
      this.#write((r, f) => r.setBytes(key, value, f));
      return;
    }
    checkJson(value, "", []);
    const json = JSON.stringify(value);
    this.#write((r, f) => r.setJson(key, json, f));
  }

  get(key) {
    const v = this.#r.get(checkString(key, "a key"));
    return typeof v === "string" ? JSON.parse(v) : v;
  }

  /** Who last wrote register `key`, and when (hybrid logical clock time). */
  registerInfo(key) {
    const info = this.#r.registerInfo(checkString(key, "a key"));
    return info ? JSON.parse(info) : undefined;
  }

  delete(key) {
    checkString(key, "a key");
    this.#write((r, f) => r.delete(key, f));
  }

  // ----- sets -----
  add(key, element) {
    checkString(key, "a key");
    checkString(element, "a set element");
    this.#write((r, f) => r.add(key, element, f));
  }

  remove(key, element) {
    checkString(key, "a key");
    checkString(element, "a set element");
    this.#write((r, f) => r.remove(key, element, f));
  }

  has(key, element) {
    return this.#r.has(checkString(key, "a key"), checkString(element, "a set element"));
  }

  members(key) {
    return this.#r.members(checkString(key, "a key"));
  }

  // ----- whole document -----
  keys(kind) {
    const k = KINDS[kind];
    if (k === undefined || !Object.hasOwn(KINDS, kind)) {
      throw new TypeError(`slotkv: kind must be "counter", "register" or "set", got ${JSON.stringify(String(kind))}`);
    }
    return this.#r.keys(k);
  }

  toJSON() {
    const { counters, sets } = JSON.parse(this.#r.countersAndSetsJson());
    const registers = {};
    for (const key of this.#r.keys(KINDS.register)) {
      Object.defineProperty(registers, key, { value: this.get(key), enumerable: true, writable: true, configurable: true });
    }
    return { counters, registers, sets };
  }

  transact(fn, origin) {
    if (typeof fn !== "function") throw new TypeError(`slotkv: transact needs a function, got ${describe(fn)}`);
    if (this.#depth) {
      fn();
      return;
    }
    this.#depth = 1;
    try {
      fn();
    } finally {
      this.#depth = 0;
      if (this.#r.commit(this.#listeners.update.size > 0)) this.#emitLocal(origin);
    }
  }

  // ----- sync -----
  version() {
    return this.#r.version();
  }

  encodeState() {
    return this.#r.encodeState();
  }

  encodeDelta(since) {
    if (since !== undefined) checkBytes(since, "since (a version)");
    return this.#r.encodeDelta(since);
  }

  applyUpdate(update, origin) {
    checkBytes(update, "an update");
    if (this.#r.applyUpdate(update)) {
      this.#emit("update", update, origin, false);
      this.#emitChange(false, origin);
    }
  }

  on(event, fn) {
    const set = Object.hasOwn(this.#listeners, event) ? this.#listeners[event] : undefined;
    if (!set) throw new TypeError(`slotkv: unknown event ${JSON.stringify(String(event))}; use "update" or "change"`);
    if (typeof fn !== "function") throw new TypeError(`slotkv: a listener must be a function, got ${describe(fn)}`);
    set.add(fn);
    return () => set.delete(fn);
  }

  free() {
    if (this.#raw) {
      this.#raw.free();
      this.#raw = undefined;
    }
  }
}
