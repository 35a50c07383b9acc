// The Doc of SPEC §2: argument checks, events and transactions around the
// wasm core (RawDoc). Everything about merging lives in Rust.
//
// Every argument is checked here before it crosses into wasm, against the
// same limits the core enforces (the `limits` option, defaults below), so a
// bad or oversized argument throws a TypeError/RangeError without copying
// anything into wasm memory, which never shrinks.
import { RawDoc } from "./slotkv_wasm.js";

const COMMIT = 1;
const ENCODE = 2;
// What RawDoc's writes and applyUpdate return (src/wasm.rs says why a number).
const CHANGED = 1;
const FAILED = 2;
const KINDS = { counter: 0, register: 1, set: 2 };

/**
 * The newest binary format version this build reads and writes (src/encoding.rs,
 * docs/FORMAT.md). A transport tells a peer this number, and writes for a peer
 * that reads less with `encodeDelta(since, { format })`.
 */
export const FORMAT_VERSION = 2;

// Fixed by the format (src/limits.rs, src/client.rs).
const MAX_KEY_BYTES = 1024;
const MAX_CLIENT_ID_BYTES = 64;
// The configurable limits and their defaults (src/limits.rs, docs/SECURITY.md),
// in the order RawDoc takes them.
const LIMITS = {
  maxUpdateBytes: 64 << 20,
  maxStringBytes: 64 << 10,
  maxValueBytes: 8 << 20,
  maxValueDepth: 128,
  maxClients: 1 << 16,
  maxEntries: 1 << 20,
  maxDocClients: 1 << 20,
};
// The largest each limit may be set to. Deeper would risk the stack of the
// checks here and in the core; larger sizes and counts would let one input
// claim more than the 4 GiB a wasm32 module can address (an update costs a
// few times its bytes, and each entry a few hundred bytes, once decoded), and
// running out of memory aborts the call instead of throwing, leaving the Doc
// unusable.
const LIMIT_CAPS = {
  maxUpdateBytes: 2 ** 28,
  maxStringBytes: 2 ** 28,
  maxValueBytes: 2 ** 28,
  maxValueDepth: 1000,
  maxClients: 2 ** 22,
  maxEntries: 2 ** 22,
  maxDocClients: Number.MAX_SAFE_INTEGER,
};

function checkLimits(limits) {
  if (limits === undefined) return LIMITS;
  if (limits === null || typeof limits !== "object") throw new TypeError(`slotkv: the limits option must be an object, got ${describe(limits)}`);
  const out = { ...LIMITS };
  for (const name of Object.keys(LIMITS)) {
    const v = limits[name];
    if (v === undefined) continue;
    if (typeof v !== "number") throw new TypeError(`slotkv: limits.${name} must be a number, got ${describe(v)}`);
    const max = LIMIT_CAPS[name];
    if (!Number.isSafeInteger(v) || v < 1 || v > max) throw new RangeError(`slotkv: limits.${name} must be an integer from 1 to ${max}, got ${v}`);
    out[name] = v;
  }
  return out;
}

// Read through the built-in getters, so neither a Proxy, nor an object with
// Uint8Array.prototype, nor an own `length` property can pass for bytes.
const TypedArray = Object.getPrototypeOf(Uint8Array.prototype);
const getter = (name) => Object.getOwnPropertyDescriptor(TypedArray, name).get;
const [tagOf, bufferOf, offsetOf, lengthOf] = [Symbol.toStringTag, "buffer", "byteOffset", "length"].map(getter);

// For messages: never calls the value's toString, and never throws.
function describe(v) {
  if (v === null) return "null";
  if (typeof v === "string") return "a string";
  if (typeof v !== "object") return typeof v;
  try {
    return Array.isArray(v) ? "an array" : `an object (${Object.prototype.toString.call(v).slice(8, -1)})`;
  } catch {
    return "an object";
  }
}

// A string for a message, shortened.
const quote = (s) => JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s);

function checkString(s, what) {
  if (typeof s !== "string") throw new TypeError(`slotkv: ${what} must be a string, got ${describe(s)}`);
  if (!s.isWellFormed()) throw new TypeError(`slotkv: ${what} contains a lone surrogate (not valid Unicode)`);
  return s;
}

// The UTF-8 size of a well-formed string if it is more than `max` bytes
// (exact up to 4 × max, a lower bound beyond), else 0. Short strings are not scanned.
export function excess(s, max) {
  if (s.length * 3 <= max) return 0;
  if (s.length > 4 * max) return `more than ${4 * max}`;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    n += c < 0x80 ? 1 : c < 0x800 || (c & 0xf800) === 0xd800 ? 2 : 3; // a surrogate pair: 2 + 2
  }
  return n > max ? n : 0;
}

// (A write checks the key against the document's limits too, in the core:
// under 1024 bytes when maxStringBytes is less. A read takes any key a
// document can hold, its storage's included.)
function checkKey(key) {
  checkString(key, "a key");
  if (key === "") throw new RangeError("slotkv: a key must not be empty");
  const n = excess(key, MAX_KEY_BYTES);
  if (n) throw new RangeError(`slotkv: a key may be at most ${MAX_KEY_BYTES} bytes of UTF-8, this one is ${n}`);
  return key;
}

function checkElement(element, limits) {
  checkString(element, "a set element");
  const max = limits.maxStringBytes;
  const n = excess(element, max);
  if (n) throw new RangeError(`slotkv: a set element may be at most ${max} bytes of UTF-8, this one is ${n}`);
  return element;
}

// Copies the ASCII start of `s` to `mem` at `p`; returns its length.
function copyAscii(s, mem, p) {
  const n = s.length;
  let i = 0;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) break;
    mem[p + i] = c;
  }
  return i;
}

function isBytes(b) {
  return tagOf.call(b) === "Uint8Array";
}

// A plain view of the same bytes (Buffer, other realms and SharedArrayBuffer
// included), or a TypeError.
function checkBytes(b, what) {
  if (!isBytes(b)) throw new TypeError(`slotkv: ${what} must be a Uint8Array, got ${describe(b)}`);
  try {
    return new Uint8Array(bufferOf.call(b), offsetOf.call(b), lengthOf.call(b));
  } catch {
    throw new TypeError(`slotkv: ${what} is a view of a detached ArrayBuffer`);
  }
}

// Bytes to decode (an update or a version): too many is a decode error, as in the core.
function checkMessage(b, what, failure, limits) {
  const bytes = checkBytes(b, what);
  const max = limits.maxUpdateBytes;
  if (bytes.length > max) throw new Error(`slotkv: ${failure}: ${what} is ${bytes.length} bytes, more than the limit of ${max}`);
  return bytes;
}

const APPLY = "cannot apply update";

// `since` for encodeDelta. One too large whose header says it is a version is
// past this document's limits, a RangeError; of other bytes too large only
// the header goes to the core, which says why they are not a version (as
// the core reads a version: header first, then size; src/update.rs,
// decode_version).
function checkSince(since, limits) {
  const bytes = checkBytes(since, "since");
  const max = limits.maxUpdateBytes;
  if (bytes.length <= max) return bytes;
  if (bytes[0] === 0xb7 && bytes[1] >= 1 && bytes[1] <= FORMAT_VERSION && bytes[2] === 0) {
    throw new RangeError(`slotkv: since is a version past this document's limits (the version's size in bytes exceeds the limit of ${max}); encodeDelta() without since gives the whole state`);
  }
  return bytes.subarray(0, 12); // a header is at most 12 bytes: magic, a varint, the type
}

function checkDelta(delta) {
  if (typeof delta !== "number") throw new TypeError(`slotkv: a counter delta must be a number, got ${describe(delta)}`);
  if (!Number.isSafeInteger(delta)) {
    throw new RangeError(`slotkv: a counter delta must be a safe integer (|x| <= 2^53 - 1), got ${delta}`);
  }
  return delta;
}

function checkFormat(format) {
  if (typeof format !== "number") throw new TypeError(`slotkv: a format version must be a number, got ${describe(format)}`);
  if (!Number.isSafeInteger(format) || format < 1) {
    throw new RangeError(`slotkv: a format version is a whole number from 1 up, got ${format}`);
  }
  return format;
}

const tooLarge = (why) => new RangeError(`slotkv: register value or set element is too large: ${why}`);

// A register value as JSON text. Each property is read once, so what is
// checked is what is stored, and get() returns an equal value (-0 as 0).
// Refused with a TypeError: what JSON would drop or change (undefined,
// functions, symbols, bigints, NaN and ±Infinity, array holes and extra
// properties, symbol keys, class instances, lone surrogates, cycles).
// Larger or deeper than the core allows: RangeError, before any copy.
function jsonText(root, limits) {
  // A finite number or a well-formed string, the common case, without the
  // walker (anything else, or too large, goes there for its error), whose
  // closures would cost every call an allocation. (JSON writes a finite
  // number as String does.)
  let out;
  if (typeof root === "number") {
    if (Number.isFinite(root)) out = "" + root;
  } else if (typeof root === "string" && root.isWellFormed()) {
    out = JSON.stringify(root);
  }
  // (excess's own first test, inline: the common short value makes no call.)
  if (out !== undefined && (out.length * 3 <= limits.maxValueBytes || !excess(out, limits.maxValueBytes))) return out;
  return walkedJsonText(root, limits);
}

// jsonText of any value, walked.
function walkedJsonText(root, limits) {
  const { maxValueBytes, maxValueDepth } = limits;
  const ancestors = [];
  const path = [];
  let size = 0;
  const fail = (why) => {
    const at = path.map((k) => (typeof k === "number" ? `[${k}]` : `.${k}`)).join("");
    throw new TypeError(`slotkv: register value${at ? ` at ${at}` : ""} ${why}`);
  };
  const grow = (n) => {
    if ((size += n) > maxValueBytes) throw tooLarge(`at most ${maxValueBytes} bytes`);
  };
  const text = (v) => {
    let out;
    switch (typeof v) {
      case "string":
        if (!v.isWellFormed()) fail("contains a lone surrogate (not valid Unicode)");
        out = JSON.stringify(v);
        break;
      case "number":
        if (!Number.isFinite(v)) fail(`is ${v}, which JSON cannot hold`);
        out = JSON.stringify(v);
        break;
      case "boolean":
        out = v ? "true" : "false";
        break;
      case "object":
        if (v !== null) return container(v);
        out = "null";
        break;
      default:
        fail(`is ${describe(v)}, which JSON cannot hold`);
    }
    grow(out.length);
    return out;
  };
  const container = (v) => {
    if (ancestors.includes(v)) fail("is cyclic (it contains itself)");
    if (ancestors.length === maxValueDepth) throw tooLarge(`nested deeper than ${maxValueDepth}`);
    ancestors.push(v);
    const parts = [];
    let out;
    if (Array.isArray(v)) {
      const n = v.length;
      for (let i = 0; i < n; i++) {
        path.push(i);
        if (!Object.hasOwn(v, i)) fail("is a hole, which JSON cannot hold");
        parts.push(text(v[i]));
        path.pop();
      }
      if (Object.keys(v).length !== n) fail("is an array with other properties than its elements, which JSON would drop");
      out = `[${parts.join(",")}]`;
    } else {
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) fail(`is ${describe(v)}; use plain objects, arrays and primitives`);
      for (const k of Object.keys(v)) {
        path.push(k);
        if (!k.isWellFormed()) fail("has a key with a lone surrogate (not valid Unicode)");
        const name = JSON.stringify(k);
        grow(name.length + 1);
        parts.push(`${name}:${text(v[k])}`);
        path.pop();
      }
      out = `{${parts.join(",")}}`;
    }
    if (Object.getOwnPropertySymbols(v).some((s) => Object.prototype.propertyIsEnumerable.call(v, s))) fail("has symbol keys");
    grow(2 + Math.max(parts.length - 1, 0));
    ancestors.pop();
    return out;
  };
  // `grow` counted UTF-16 units, which stop the walk early; the limit is in
  // UTF-8 bytes, checked here before anything is copied into wasm memory.
  const out = text(root);
  const n = excess(out, maxValueBytes);
  if (n) throw tooLarge(`at most ${maxValueBytes} bytes of UTF-8, this one is ${n}`);
  return out;
}

function report(err) {
  console.error("slotkv: an event listener threw", err);
}

// For persist.js (the package does not export it): applies bytes this
// document's own storage holds, which only the bytes themselves bound (see
// Doc::apply_stored in src/doc.rs): the limits bound updates from peers, and a
// document can grow larger than one of those may be.
export let applyStored;

// For broadcast.js: whether `doc`, one of these Docs, was freed (false for
// anything else), without a call into wasm.
export let isFreed;

// For persist.js: whether `doc` is a Doc of this copy of the package (one
// from another copy has none of this one's private fields).
export let isDoc;

// Keys and elements reach wasm through each document's input buffer in wasm
// memory (src/wasm.rs, Core::input_buffer), written in place: passing them
// as strings would allocate and free wasm memory on every call, and so do
// the bytes of updates and values. Every call but the constructor goes
// straight to the module's plain exports (src/wasm.rs,
// hot_calls!), past wasm-bindgen's wrappers; the text and bytes they return
// are read in place (#text, #bytes). The entry module (index.js,
// node.js) hands over the module's exports once it is instantiated.
let wasm;
let heap = new Uint8Array(0);
const encoder = new TextEncoder();
const decoder = new TextDecoder();
// Output up to this size is left in wasm memory, until the next output
// replaces it; a larger one is given back once read (src/wasm.rs, slotkv_out).
const OUT_KEPT = 1 << 16;
// An input buffer grown past this (by an update or a value's bytes) is
// given back after the call; keys and elements of the default limits fit.
const IN_KEPT = 1 << 17;
// What a hot call returns for "failed" or takes for "no bytes" (src/wasm.rs, NONE).
const NONE = 0xffffffff;
// Strings longer than this go to the input buffer through TextEncoder, shorter
// ones char by char (faster for the short keys apps use).
const PUT_BY_CHARS = 32;

export function useWasm(exports) {
  wasm = exports;
}

// A view of wasm memory, made anew when memory grew (which detaches the old one).
const view = () => (heap.byteLength ? heap : (heap = new Uint8Array(wasm.memory.buffer)));

export class Doc {
  static {
    applyStored = (doc, bytes, origin) => doc.#applyStored(bytes, origin);
    isFreed = (doc) => #raw in doc && !doc.#raw;
    isDoc = (doc) => doc !== null && typeof doc === "object" && #raw in doc;
  }

  #raw;
  // The address of its Core, for the hot calls (see `#c`).
  #core = 0;
  // The input buffer: its address and size.
  #in = 0;
  #inSize = 0;
  #listeners = { update: new Set(), change: new Set() };
  #depth = 0;
  // Whether the core is reading the clock (see the constructor).
  #clock = { running: false };
  #limits;

  constructor(options = {}) {
    if (options === null || typeof options !== "object") {
      throw new TypeError(`slotkv: Doc options must be an object, got ${describe(options)}`);
    }
    const { clientId, now, tombstoneRetentionMs } = options;
    const limits = checkLimits(options.limits);
    if (clientId !== undefined) {
      checkString(clientId, "clientId");
      const n = excess(clientId, MAX_CLIENT_ID_BYTES);
      if (clientId === "" || n) throw new RangeError(`slotkv: clientId must be 1 to ${MAX_CLIENT_ID_BYTES} bytes of UTF-8, got ${n}`);
    }
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
    // The core reads the clock in the middle of a write, holding the write's
    // key in the input buffer: a clock that used this Doc then would
    // overwrite it, or find the Doc borrowed (see #r). So the clock, the
    // app's or Date.now (which an app or a test may have replaced too), runs
    // marked running. A `now` that throws or returns something other than
    // a finite number >= 0 means Date.now(); the clock itself never throws
    // (src/wasm.rs, JsClock, relies on it). It holds its mark, not this Doc:
    // the core holds the clock, and a Doc it held could never be
    // garbage-collected.
    // (An object with an own method `read`, which the core calls: calling a
    // function through its `call` would look that up on Function.prototype,
    // which a page can replace, and run it before the mark is set.)
    const mark = this.#clock;
    const read = () => {
      mark.running = true;
      try {
        if (now) {
          try {
            const t = now();
            if (Number.isFinite(t) && t >= 0) return t;
          } catch {
            // Date.now(), below.
          }
        }
        return Date.now();
      } catch {
        return 0; // (a replaced Date.now)
      } finally {
        mark.running = false;
      }
    };
    this.#limits = limits;
    this.#raw = new RawDoc(clientId, { read }, retention, limits === LIMITS ? undefined : new Float64Array(Object.values(limits)));
    this.#core = this.#raw.core();
  }

  /** A document holding `state` (from `encodeState`, or any update). */
  static load(state, options) {
    const doc = new Doc(options);
    try {
      doc.#apply(checkMessage(state, "the state", APPLY, doc.#limits), false);
    } catch (e) {
      doc.free();
      throw e;
    }
    return doc;
  }

  get #r() {
    if (this.#clock.running) throw new Error("slotkv: the clock (the now option, or Date.now) must not use its own Doc");
    if (!this.#raw) throw new Error("slotkv: this Doc was freed");
    return this.#raw;
  }

  // The Core address for a hot call, after the checks of `#r`: the hot
  // calls rely on them (a freed Doc's Core is gone; a call from inside the
  // clock would run inside another call on the same Core).
  get #c() {
    if (this.#clock.running || !this.#raw) this.#r; // throws why
    return this.#core;
  }

  // Writes the well-formed string `s` as UTF-8 at `at` in the input buffer;
  // returns its size in bytes. ASCII is copied char by char, which for short
  // strings beats TextEncoder. The caller has passed `#c` or `#r` first:
  // never into a freed Doc's buffer, nor while the core reads it (in the clock).
  #put(s, at) {
    const n = s.length;
    if (n > PUT_BY_CHARS) {
      if (at + 3 * n > this.#inSize) this.#grow(at + 3 * n);
      return encoder.encodeInto(s, view().subarray(this.#in + at, this.#in + at + 3 * n)).written;
    }
    if (at + n > this.#inSize) this.#grow(at + n);
    const i = copyAscii(s, view(), this.#in + at);
    if (i === n) return n;
    const end = at + i + 3 * (n - i); // at most 3 bytes per UTF-16 unit
    if (end > this.#inSize) this.#grow(end);
    return i + encoder.encodeInto(s.slice(i), view().subarray(this.#in + at + i, this.#in + end)).written;
  }

  #grow(size) {
    // (Growing keeps what the buffer holds.)
    // (Addresses and sizes come back as i32: made unsigned, past 2 GiB. A
    // size past 4 GiB would wrap, and the limits keep inputs far below.)
    const at = size < 2 ** 32 ? wasm.slotkv_input_buffer(this.#c, size) >>> 0 : 0;
    if (!at) throw new RangeError(`slotkv: no memory left for a ${size}-byte input`);
    this.#in = at;
    this.#inSize = size;
  }

  // The `n` bytes of a hot call's output (src/wasm.rs, slotkv_out), as
  // UTF-8 `text` or copied out. A large output's memory is given back at once.
  #out(n, text) {
    n >>>= 0;
    const p = wasm.slotkv_out(this.#core) >>> 0;
    const bytes = view().subarray(p, p + n);
    const out = text ? decoder.decode(bytes) : bytes.slice();
    if (n > OUT_KEPT) wasm.slotkv_out_free(this.#core);
    return out;
  }

  // The output's bytes, copied out.
  #bytes(n) {
    return this.#out(n, false);
  }

  // The output, UTF-8 text.
  #text(n) {
    return this.#out(n, true);
  }

  // A register's value from `slotkv_get` (src/wasm.rs, Core::get).
  #value(n) {
    if (!n) return undefined;
    return n & 1 ? JSON.parse(this.#text((n - 1) / 2)) : this.#bytes((n - 2) / 2);
  }

  // Writes `key` at the start of the input buffer, after `#c` (as `#put`);
  // returns its size in bytes, or throws why it is not a key. A short ASCII
  // key, the usual kind, is checked as it is copied: such a string is
  // well-formed and short enough.
  #key(key) {
    if (typeof key === "string" && key !== "" && key.length <= PUT_BY_CHARS && key.length <= this.#inSize) {
      const n = copyAscii(key, view(), this.#in);
      if (n === key.length) return n;
    }
    return this.#put(checkKey(key), 0);
  }

  // Copies `bytes` to `at` in the input buffer; returns their size. (After `#c`, as `#put`.)
  #putBytes(bytes, at) {
    const end = at + bytes.length;
    if (end > this.#inSize) this.#grow(end);
    view().set(bytes, this.#in + at);
    return bytes.length;
  }

  // Gives a large input buffer's memory back (see IN_KEPT).
  #trim() {
    if (this.#inSize <= IN_KEPT) return;
    wasm.slotkv_input_buffer(this.#core, 0);
    this.#in = 0;
    this.#inSize = 0;
  }

  // The error of the call that just failed (src/wasm.rs, Core::take_error).
  #error() {
    const n = wasm.slotkv_take_error(this.#core);
    const Class = [Error, TypeError, RangeError, Error][n % 4];
    return new Class(this.#text(Math.floor(n / 4)));
  }

  get clientId() {
    return this.#text(wasm.slotkv_client_id(this.#c));
  }

  // How RawDoc runs one write: outside transact() it is its own transaction,
  // whose update is encoded only if an update listener is there to take it.
  // A write that committed a change returns CHANGED (see `#wrote`).
  get #flags() {
    return this.#depth ? 0 : COMMIT | (this.#listeners.update.size ? ENCODE : 0);
  }

  // The status of a write of `key` (of `kind`): throws its error; if it
  // committed a change (outside transact()) and anyone listens, emits its
  // events. Its change event is made here without reading the core's change
  // list: a committed single write changes its own key, and only it.
  #wrote(status, kind, key) {
    if (status === FAILED) throw this.#error();
    if (status !== CHANGED || !(this.#listeners.change.size || this.#listeners.update.size)) return;
    let change = null;
    if (this.#listeners.change.size) {
      change = { counters: [], registers: [], sets: [], local: true, origin: undefined };
      change[kind].push(key);
    }
    this.#emitLocal(change, undefined);
  }

  // Emits what a local transaction committed, `change` its change event.
  #emitLocal(change, origin) {
    // The update was encoded only if an update listener was there to take it.
    if (this.#listeners.update.size) {
      const n = wasm.slotkv_take_update(this.#c);
      const update = n ? this.#bytes(n) : undefined;
      if (update) this.#emit("update", update, origin, true);
    }
    this.#emitChange(change);
  }

  #emitApplied(update, origin) {
    const change = this.#changeEvent(false, origin);
    this.#emit("update", update, origin, false);
    this.#emitChange(change);
  }

  // The change event of what was just committed or applied, read before any
  // listener runs: a listener's own write or applyUpdate has changes of its own.
  #changeEvent(local, origin) {
    if (!this.#listeners.change.size) return null;
    const e = JSON.parse(this.#text(wasm.slotkv_last_changes(this.#core)));
    // An update whose only news was dots (a write that lost, say) changed no key.
    if (!e.counters.length && !e.registers.length && !e.sets.length) return null;
    e.local = local;
    e.origin = origin;
    return e;
  }

  #emitChange(e) {
    // (An update listener may have freed the document.)
    if (e && this.#raw) this.#emit("change", e);
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
    const core = this.#c;
    const n = this.#key(key);
    this.#wrote(wasm.slotkv_increment(core, n, checkDelta(delta), this.#flags), "counters", key);
  }

  decrement(key, delta = 1) {
    const core = this.#c;
    const n = this.#key(key);
    this.#wrote(wasm.slotkv_increment(core, n, -checkDelta(delta), this.#flags), "counters", key);
  }

  counter(key) {
    return wasm.slotkv_counter(this.#c, this.#key(key));
  }

  counterSlots(key) {
    return JSON.parse(this.#text(wasm.slotkv_counter_slots(this.#c, this.#key(key))));
  }

  // ----- registers -----
  set(key, value) {
    this.#c; // a freed Doc says so first, as everywhere (and again below: the value's getters may free it)
    checkKey(key);
    if (isBytes(value)) {
      const bytes = checkBytes(value, "a register value");
      const max = this.#limits.maxValueBytes;
      if (bytes.length > max) throw tooLarge(`at most ${max} bytes, this one is ${bytes.length}`);
      const core = this.#c;
      const n = this.#put(key, 0);
      const status = wasm.slotkv_set_bytes(core, n, this.#putBytes(bytes, n), this.#flags);
      this.#trim();
      this.#wrote(status, "registers", key);
      return;
    }
    const json = jsonText(value, this.#limits);
    const core = this.#c;
    const n = this.#put(key, 0);
    const status = wasm.slotkv_set_json(core, n, this.#put(json, n), this.#flags);
    this.#trim();
    this.#wrote(status, "registers", key);
  }

  get(key) {
    return this.#value(wasm.slotkv_get(this.#c, this.#key(key)));
  }

  /** Who last wrote register `key`, and when (hybrid logical clock time). */
  registerInfo(key) {
    const n = wasm.slotkv_register_info(this.#c, this.#key(key));
    return n ? JSON.parse(this.#text(n)) : undefined;
  }

  delete(key) {
    const core = this.#c;
    this.#wrote(wasm.slotkv_delete(core, this.#key(key), this.#flags), "registers", key);
  }

  // ----- sets -----
  add(key, element) {
    const core = this.#c;
    const n = this.#key(key);
    this.#wrote(wasm.slotkv_add(core, n, this.#put(checkElement(element, this.#limits), n), this.#flags), "sets", key);
  }

  remove(key, element) {
    const core = this.#c;
    const n = this.#key(key);
    this.#wrote(wasm.slotkv_remove(core, n, this.#put(checkElement(element, this.#limits), n), this.#flags), "sets", key);
  }

  has(key, element) {
    const core = this.#c; // a freed Doc says so before the arguments are checked, as everywhere
    const n = this.#key(key);
    return wasm.slotkv_has(core, n, this.#put(checkElement(element, this.#limits), n)) === 1;
  }

  members(key) {
    return JSON.parse(this.#text(wasm.slotkv_members(this.#c, this.#key(key))));
  }

  // ----- whole document -----
  keys(kind) {
    if (typeof kind !== "string" || !Object.hasOwn(KINDS, kind)) {
      const got = typeof kind === "string" ? quote(kind) : describe(kind);
      throw new TypeError(`slotkv: kind must be "counter", "register" or "set", got ${got}`);
    }
    return JSON.parse(this.#text(wasm.slotkv_keys(this.#c, KINDS[kind])));
  }

  toJSON() {
    // One crossing: JSON.parse makes every key an own property, "__proto__" too.
    const { counters, registers, sets, bytes } = JSON.parse(this.#text(wasm.slotkv_entries_json(this.#c)));
    for (const key of bytes) registers[key] = this.#value(wasm.slotkv_get(this.#core, this.#put(key, 0)));
    return { counters, registers, sets };
  }

  transact(fn, origin) {
    if (typeof fn !== "function") throw new TypeError(`slotkv: transact needs a function, got ${describe(fn)}`);
    this.#r; // throws if freed
    if (this.#depth) {
      fn(); // joins the outer transaction (and its origin)
      return;
    }
    this.#depth = 1;
    try {
      const result = fn();
      if (typeof result?.then === "function") {
        console.warn("slotkv: transact() was given an async function: only its writes before the first await are in the transaction");
      }
    } finally {
      this.#depth = 0;
      // (fn may have freed the document.)
      if (this.#raw && wasm.slotkv_commit(this.#core, this.#listeners.update.size > 0 ? 1 : 0) === 1) this.#emitLocal(this.#changeEvent(true, origin), origin);
    }
  }

  // ----- sync -----
  version() {
    return this.#bytes(wasm.slotkv_version(this.#c));
  }

  encodeState() {
    return this.#bytes(wasm.slotkv_encode_state(this.#c));
  }

  // `format`: the newest format version the receiver reads (a peer of an
  // older slotkv); the delta then uses nothing a newer format adds.
  encodeDelta(since, options) {
    let format = FORMAT_VERSION;
    if (options !== undefined) {
      if (options === null || typeof options !== "object") {
        throw new TypeError(`slotkv: encodeDelta options must be an object, got ${describe(options)}`);
      }
      if (options.format !== undefined) format = checkFormat(options.format);
    }
    const core = this.#c;
    const len = since === undefined ? NONE : this.#putBytes(checkSince(since, this.#limits), 0);
    const n = wasm.slotkv_encode_delta(core, len, format) >>> 0;
    this.#trim();
    if (n === NONE) throw this.#error();
    return this.#bytes(n);
  }

  applyUpdate(update, origin) {
    const bytes = checkMessage(update, "the update", APPLY, this.#limits);
    if (this.#apply(bytes, false)) this.#emitApplied(update, origin);
  }

  #applyStored(update, origin) {
    if (this.#apply(checkBytes(update, "a stored update"), true)) this.#emitApplied(update, origin);
  }

  // Applies the update `bytes` (of this document's storage, if `stored`);
  // returns whether it changed anything, or throws its error.
  #apply(bytes, stored) {
    const core = this.#c;
    const n = this.#putBytes(bytes, 0);
    const status = stored ? wasm.slotkv_apply_stored(core, n) : wasm.slotkv_apply_update(core, n);
    this.#trim();
    if (status === FAILED) throw this.#error();
    return status === CHANGED;
  }

  on(event, fn) {
    if (typeof event !== "string" || !Object.hasOwn(this.#listeners, event)) {
      const got = typeof event === "string" ? quote(event) : describe(event);
      throw new TypeError(`slotkv: unknown event ${got}; use "update" or "change"`);
    }
    if (typeof fn !== "function") throw new TypeError(`slotkv: a listener must be a function, got ${describe(fn)}`);
    this.#r; // throws if freed
    const set = this.#listeners[event];
    set.add(fn);
    return () => {
      set.delete(fn);
    };
  }

  free() {
    if (this.#clock.running) throw new Error("slotkv: the clock (the now option, or Date.now) must not use its own Doc");
    if (this.#raw) {
      this.#raw.free();
      this.#raw = undefined;
      this.#core = 0;
    }
  }
}
