// Every Doc method, every argument position, every kind of JavaScript value
// (SPEC §2: "No input from JavaScript can panic the wasm module. Bad arguments
// throw TypeError/RangeError with a clear message.").
//
// Each call must either work as documented or throw the class the rules below
// name; a call that throws must leave the document byte-for-byte as it was,
// emit no event, and leave the Doc usable. Where slotkv has to run the
// caller's own code (reading an options object or a register value), an
// exception that code throws, like a Proxy trap's, passes through unchanged.
import { test } from "node:test";
import assert from "node:assert/strict";
import { types } from "node:util";
import { Doc, wasmMemoryBytes } from "slotkv";
// The binding itself, under pkg/doc.js (the same module instance: node_modules/slotkv links to pkg/).
import { RawDoc, initSync } from "../../pkg/slotkv_wasm.js";
import { readFileSync } from "node:fs";

// ---------------------------------------------------------------- the values

const trapError = new Error("a Proxy trap threw");
const throwingTraps = new Proxy({}, Object.fromEntries(
  ["get", "has", "ownKeys", "getOwnPropertyDescriptor", "getPrototypeOf", "set", "defineProperty", "apply"].map((t) => [t, () => { throw trapError; }]),
));
const revoked = Proxy.revocable({}, {});
revoked.revoke();
const cyclic = { name: "loop" };
cyclic.self = cyclic;
const cyclicArray = [1];
cyclicArray.push([cyclicArray]);
const nullProto = Object.assign(Object.create(null), { a: 1 });
const extraProperty = Object.assign([1, 2], { extra: true });
class Point {
  constructor() {
    this.x = 1;
  }
}
const big = new ArrayBuffer(16);
new Uint8Array(big).set([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
const detachedBuffer = new ArrayBuffer(8);
const detachedView = new Uint8Array(detachedBuffer, 2, 4);
structuredClone(detachedBuffer, { transfer: [detachedBuffer] });
assert.equal(detachedView.length, 0, "the view is detached");
const shared = new Uint8Array(new SharedArrayBuffer(4));
shared.set([4, 3, 2, 1]);
const lyingLength = new Uint8Array([7, 7, 7, 7]);
Object.defineProperty(lyingLength, "length", { value: 100_000 });
const fakeBytes = Object.setPrototypeOf({ length: 3, 0: 1, 1: 2, 2: 3 }, Uint8Array.prototype);
const nested = (depth) => {
  let v = 0;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
};
const source = new Doc({ clientId: "source", now: () => 5000 });
source.increment("from-source");
const realUpdate = source.encodeState();
const realVersion = new Doc({ clientId: "other" }).version();

// [name, value, how `set` takes it as a register value, extra facts]
// Register outcome: "ok" (get() returns the value, or `stored` where JSON
// normalises it), a class (TypeError/RangeError), or "own" (the value's own
// exception passes through).
const VALUES = [
  ["undefined", undefined, TypeError],
  ["null", null, "ok"],
  ["true", true, "ok"],
  ["false", false, "ok"],
  ["0", 0, "ok"],
  ["-0", -0, "ok", { stored: 0 }], // JSON has no -0: stored and returned as 0 (documented in index.d.ts)
  ["NaN", NaN, TypeError],
  ["Infinity", Infinity, TypeError],
  ["-Infinity", -Infinity, TypeError],
  ["1.5", 1.5, "ok"],
  ["2 ** 53", 2 ** 53, "ok"],
  ["-(2 ** 53)", -(2 ** 53), "ok"],
  ["MAX_SAFE_INTEGER", Number.MAX_SAFE_INTEGER, "ok"],
  ["MIN_SAFE_INTEGER", Number.MIN_SAFE_INTEGER, "ok"],
  ["Number.MAX_VALUE", Number.MAX_VALUE, "ok"],
  ["5e-324", 5e-324, "ok"],
  ["1n", 1n, TypeError],
  ["Symbol()", Symbol("s"), TypeError],
  ["Symbol.for('k')", Symbol.for("k"), TypeError],
  ["arrow function", () => 1, TypeError],
  ["class", Point, TypeError],
  ["plain object", { a: 1, b: [true, null, "x"], c: { d: -2.5 } }, "ok"],
  ["empty object", {}, "ok"],
  ["object with a __proto__ key", JSON.parse('{"__proto__": {"polluted": true}}'), "ok"],
  ["null-prototype object", nullProto, "ok", { stored: { a: 1 } }],
  ["object with an undefined property", { a: undefined }, TypeError],
  ["object with a toJSON method", { toJSON: () => 1 }, TypeError],
  ["object with a symbol key", { [Symbol("k")]: 1 }, TypeError],
  ["object with a lone surrogate key", { "\ud800": 1 }, TypeError],
  ["array", [1, "two", { three: 3 }], "ok"],
  ["empty array", [], "ok"],
  ["sparse array", [1, , 3], TypeError], // eslint-disable-line no-sparse-arrays
  ["array with an extra property", extraProperty, TypeError],
  ["cyclic object", cyclic, TypeError],
  ["cyclic array", cyclicArray, TypeError],
  ["128 nested arrays", nested(128), "ok"],
  ["129 nested arrays", nested(129), RangeError],
  ["100 000 nested arrays", nested(100_000), RangeError],
  ["Proxy of a plain object", new Proxy({ a: 1 }, {}), "ok", { stored: { a: 1 } }],
  ["Proxy whose traps throw", throwingTraps, "own"],
  ["revoked Proxy", revoked.proxy, TypeError],
  ["class instance", new Point(), TypeError],
  ["Date", new Date(0), TypeError],
  ["Map", new Map([["a", 1]]), TypeError],
  ["Set", new Set(["a"]), TypeError],
  ["boxed String", new String("k"), TypeError], // eslint-disable-line no-new-wrappers
  ["RegExp", /k/, TypeError],
  ["Error", new Error("e"), TypeError],
  ["Promise", Promise.resolve(1), TypeError],
  ["Int8Array", new Int8Array([1, -1]), TypeError],
  ["Uint16Array", new Uint16Array([1, 2]), TypeError],
  ["Float64Array", new Float64Array([1.5]), TypeError],
  ["BigInt64Array", new BigInt64Array([1n]), TypeError],
  ["Uint8ClampedArray", new Uint8ClampedArray([1, 2]), TypeError],
  ["DataView", new DataView(new ArrayBuffer(2)), TypeError],
  ["ArrayBuffer", new ArrayBuffer(2), TypeError],
  ["Uint8Array", new Uint8Array([1, 2, 255]), "ok"],
  ["empty Uint8Array", new Uint8Array(), "ok"],
  ["Buffer", Buffer.from([9, 8]), "ok", { stored: new Uint8Array([9, 8]) }],
  ["Uint8Array view at byteOffset 3", new Uint8Array(big, 3, 5), "ok", { stored: new Uint8Array([3, 4, 5, 6, 7]) }],
  ["view of a detached ArrayBuffer", detachedView, TypeError],
  ["Uint8Array over a SharedArrayBuffer", shared, "ok", { stored: new Uint8Array([4, 3, 2, 1]) }],
  ["Uint8Array with an own length of 100 000", lyingLength, "ok", { stored: new Uint8Array([7, 7, 7, 7]) }],
  ["object posing as a Uint8Array", fakeBytes, TypeError],
  ["Proxy of a Uint8Array", new Proxy(new Uint8Array([1]), {}), TypeError],
  ["9 MiB Uint8Array", new Uint8Array(9 << 20), RangeError],
  ["65 MiB Uint8Array", new Uint8Array(65 << 20), RangeError],
  ["a real update", realUpdate, "ok", { update: true }],
  ["a real version", realVersion, "ok", { version: true }],
  ["string", "k", "ok"],
  ["empty string", "", "ok"],
  ["1e6-character string", "x".repeat(1e6), "ok"],
  ["9 MiB string", "x".repeat(9 << 20), RangeError],
  ["lone high surrogate", "a\ud800", TypeError],
  ["lone low surrogate", "\udc00b", TypeError],
  ["reversed surrogate pair", "\ude00\ud83d", TypeError],
  ["surrogate pair", "😀", "ok"],
  ["NUL, U+2028 and quotes", "\0\u2028\"\\", "ok"],
  ["64 bytes of é", "é".repeat(32), "ok"],
  ["65 bytes (é × 32 + a)", "é".repeat(32) + "a", "ok"],
  ["1024 ASCII bytes", "k".repeat(1024), "ok"],
  ["1025 ASCII bytes", "k".repeat(1025), "ok"],
  ["1024 bytes of é", "é".repeat(512), "ok"],
  ["1025 bytes (é × 512 + a)", "é".repeat(512) + "a", "ok"],
  ["1024 bytes of 😀", "😀".repeat(256), "ok"],
  ["1026 bytes of €", "€".repeat(342), "ok"],
  ["65 536 bytes of é", "é".repeat(32768), "ok"],
  ["65 537 bytes (é × 32 768 + a)", "é".repeat(32768) + "a", "ok"],
  ["__proto__", "__proto__", "ok"],
  ["constructor", "constructor", "ok"],
  ["counter", "counter", "ok"],
  ["update", "update", "ok"],
].map(([name, value, register, facts = {}]) => ({ name, value, register, ...facts }));

// ---------------------------------------------- what each position accepts

const utf8 = (s) => new TextEncoder().encode(s).length;
const isBytes = (v) => types.isUint8Array(v) && v !== detachedView;

// A string of `min` to `max` UTF-8 bytes; others are TypeError/RangeError.
const stringOf = (min, max) => ({ value: v }) => {
  if (typeof v !== "string" || !v.isWellFormed()) return TypeError;
  const n = utf8(v);
  return n < min || n > max ? RangeError : "ok";
};
const oneOf = (...names) => ({ value: v }) => (typeof v === "string" && names.includes(v) ? "ok" : TypeError);
const optional = (rule) => (entry) => (entry.value === undefined ? "ok" : rule(entry));
const isFunction = ({ value: v }) => (typeof v === "function" ? "ok" : TypeError);

const RULES = {
  key: stringOf(1, 1024),
  element: stringOf(0, 65536),
  delta: optional(({ value: v }) => (typeof v !== "number" ? TypeError : Number.isSafeInteger(v) ? "ok" : RangeError)),
  value: ({ register }) => register,
  fn: isFunction,
  // A class is a function, but calling it throws the engine's TypeError.
  callback: (e) => (e.value === Point ? TypeError : isFunction(e)),
  any: () => "ok",
  kind: oneOf("counter", "register", "set"),
  event: oneOf("update", "change"),
  // Bytes to decode: not bytes is a TypeError; bytes that are not what is asked for, an Error.
  update: (e) => (!isBytes(e.value) ? TypeError : e.update ? "ok" : Error),
  since: optional((e) => (!isBytes(e.value) ? TypeError : e.version ? "ok" : Error)),
  options: (e) => {
    const v = e.value;
    if (v === undefined) return "ok";
    if (v === null || typeof v !== "object") return TypeError;
    if (v === throwingTraps) return "own";
    if (v === revoked.proxy) return TypeError;
    return "ok";
  },
  clientId: optional(stringOf(1, 64)),
  now: optional(isFunction),
  tombstoneRetentionMs: optional(({ value: v }) =>
    typeof v !== "number" ? TypeError : Number.isSafeInteger(v) && v >= 0 ? "ok" : RangeError),
};

// ---------------------------------------------------------------- fixtures

const T0 = 1_000_000;
function fixture() {
  const doc = new Doc({ clientId: "me", now: () => T0 });
  doc.increment("k", 5);
  doc.set("k", "v");
  doc.add("k", "e");
  doc.add("s", "x");
  const events = [];
  doc.on("update", () => events.push("update"));
  doc.on("change", () => events.push("change"));
  return { doc, events };
}

const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

// The Doc still works: a write, then a read.
function assertUsable(doc, why) {
  const before = doc.counter("usable");
  doc.increment("usable");
  assert.equal(doc.counter("usable"), before + 1, `${why}: the Doc works afterwards`);
}

/**
 * Calls `call(doc, value)` for every value, and checks the outcome against
 * `rule`. `then(doc, entry, result, why)` checks what an accepted call did.
 */
function exercise(label, rule, call, then = () => {}, { engineMessage = false } = {}) {
  const { doc, events } = fixture();
  for (const entry of VALUES) {
    const why = `${label} with ${entry.name}`;
    const expected = rule(entry);
    const state = doc.encodeState();
    const version = doc.version();
    const heard = events.length;
    let result;
    let error;
    try {
      result = call(doc, entry.value, entry);
    } catch (e) {
      error = e;
    }
    assert.ok(!(error instanceof WebAssembly.RuntimeError), `${why}: the wasm module trapped: ${error}`);
    if (expected === "ok") {
      assert.equal(error, undefined, `${why}: should work, threw ${error?.name}: ${error?.message}`);
      then(doc, entry, result, why);
    } else {
      assert.ok(error !== undefined, `${why}: should throw ${expected === "own" ? "the caller's own error" : expected.name}`);
      if (expected === "own") {
        assert.equal(error, trapError, `${why}: the trap's error passes through`);
      } else {
        assert.equal(error.constructor, expected, `${why}: threw ${error.name}: ${error.message}`);
        // slotkv's own messages name it; a revoked Proxy or a class constructor may fail in the engine first.
        if (!engineMessage && entry.value !== revoked.proxy && entry.value !== Point) {
          assert.match(error.message, /^slotkv: /, `${why}: the message says what is wrong`);
        }
      }
      assert.ok(same(doc.encodeState(), state), `${why}: the state is unchanged`);
      assert.ok(same(doc.version(), version), `${why}: the version is unchanged`);
      assert.equal(events.length, heard, `${why}: no event fired`);
    }
    assertUsable(doc, why);
  }
}

// ---------------------------------------------------------------- the calls

// Each method with one position varied; the other arguments are valid.
const CALLS = [
  // [method, position, rule, call, check of an accepted call]
  ["increment", "key", RULES.key, (d, v) => d.increment(v), (d, e) => assert.ok(d.counter(e.value) >= 1)],
  ["increment", "delta", RULES.delta, (d, v, e) => d.increment(`n ${e.name}`, v), (d, e) => {
    assert.equal(d.counter(`n ${e.name}`), (e.value ?? 1) || 0); // -0: nothing
  }],
  ["decrement", "key", RULES.key, (d, v) => d.decrement(v)],
  ["decrement", "delta", RULES.delta, (d, v, e) => d.decrement(`n ${e.name}`, v), (d, e) => {
    assert.equal(d.counter(`n ${e.name}`), -(e.value ?? 1) || 0);
  }],
  ["counter", "key", RULES.key, (d, v) => d.counter(v), (d, e, r) => assert.equal(typeof r, "number")],
  ["counterSlots", "key", RULES.key, (d, v) => d.counterSlots(v), (d, e, r) => assert.equal(Object.getPrototypeOf(r), Object.prototype)],
  ["set", "key", RULES.key, (d, v) => d.set(v, [1]), (d, e) => assert.deepEqual(d.get(e.value), [1])],
  ["set", "value", RULES.value, (d, v) => d.set("r", v), (d, e, _, why) => {
    const expected = "stored" in e ? e.stored : e.value;
    assert.deepEqual(d.get("r"), expected, `${why}: get() returns it`);
    const replica = Doc.load(d.encodeState());
    assert.deepEqual(replica.get("r"), expected, `${why}: a replica's get() returns it`);
    replica.free();
  }],
  ["get", "key", RULES.key, (d, v) => d.get(v)],
  ["delete", "key", RULES.key, (d, v) => d.delete(v), (d, e) => assert.equal(d.get(e.value), undefined)],
  ["registerInfo", "key", RULES.key, (d, v) => d.registerInfo(v)],
  ["add", "key", RULES.key, (d, v) => d.add(v, "e"), (d, e) => assert.ok(d.has(e.value, "e"))],
  ["add", "element", RULES.element, (d, v) => d.add("s", v), (d, e) => assert.ok(d.members("s").includes(e.value))],
  ["remove", "key", RULES.key, (d, v) => d.remove(v, "e"), (d, e) => assert.equal(d.has(e.value, "e"), false)],
  ["remove", "element", RULES.element, (d, v) => d.remove("s", v), (d, e) => assert.equal(d.has("s", e.value), false)],
  ["has", "key", RULES.key, (d, v) => d.has(v, "e"), (d, e, r) => assert.equal(typeof r, "boolean")],
  ["has", "element", RULES.element, (d, v) => d.has("s", v), (d, e, r) => assert.equal(r, d.members("s").includes(e.value))],
  ["members", "key", RULES.key, (d, v) => d.members(v), (d, e, r) => assert.ok(Array.isArray(r))],
  ["keys", "kind", RULES.kind, (d, v) => d.keys(v), (d, e, r) => assert.ok(r.includes("k"))],
  ["transact", "fn", RULES.callback, (d, v) => d.transact(v)],
  ["transact", "origin", RULES.any, (d, v) => d.transact(() => d.increment("t"), v)],
  ["encodeDelta", "since", RULES.since, (d, v) => d.encodeDelta(v), (d, e, r) => assert.ok(types.isUint8Array(r) && r[0] === 0xb7)],
  ["applyUpdate", "update", RULES.update, (d, v) => d.applyUpdate(v), (d) => assert.equal(d.counter("from-source"), 1)],
  ["applyUpdate", "origin", RULES.any, (d, v) => d.applyUpdate(realUpdate, v)],
  ["on", "event", RULES.event, (d, v) => d.on(v, () => {}), (d, e, off) => assert.equal(typeof off, "function")],
  ["on", "listener", RULES.fn, (d, v) => d.on("change", v), (d, e, off) => off()],
];
// No argument at all: whatever is passed is ignored.
for (const method of ["toJSON", "version", "encodeState"]) {
  CALLS.push([method, "an extra argument", RULES.any, (d, v) => d[method](v)]);
}

for (const [method, position, rule, call, then] of CALLS) {
  test(`${method}: ${position} of every type`, () => exercise(`${method}(${position})`, rule, call, then));
}

test("clientId is read-only, whatever is assigned", () => {
  exercise("clientId =", () => TypeError, (d, v) => {
    d.clientId = v; // ESM is strict: a getter-only property throws
  }, undefined, { engineMessage: true });
});

test("free: an extra argument of every type is ignored; the Doc is then freed", () => {
  for (const { name, value } of VALUES) {
    const d = new Doc();
    d.free(value);
    assert.throws(() => d.counter("k"), { constructor: Error, message: /this Doc was freed/ }, name);
  }
});

// ---------------------------------------------------------- construction

// A new Doc from options, checked like the methods (there is no "before": the Doc only has to work).
function construct(label, rule, make, then = () => {}) {
  for (const entry of VALUES) {
    const why = `${label} with ${entry.name}`;
    const expected = rule(entry);
    let doc;
    let error;
    try {
      doc = make(entry.value);
    } catch (e) {
      error = e;
    }
    assert.ok(!(error instanceof WebAssembly.RuntimeError), `${why}: the wasm module trapped`);
    if (expected === "ok") {
      assert.equal(error, undefined, `${why}: should work, threw ${error?.name}: ${error?.message}`);
      then(doc, entry, why);
      assertUsable(doc, why);
      doc.free();
    } else if (expected === "own") {
      assert.equal(error, trapError, `${why}: the trap's error passes through`);
    } else {
      assert.equal(error?.constructor, expected, `${why}: threw ${error?.name}: ${error?.message}`);
      if (entry.value !== revoked.proxy) assert.match(error.message, /^slotkv: /, why);
    }
  }
}

const optionChecks = {
  clientId: (doc, { value }, why) => value !== undefined && assert.equal(doc.clientId, value, why),
  now: (doc, _, why) => {
    doc.set("r", 1);
    assert.equal(typeof doc.registerInfo("r").wall, "number", why);
  },
  tombstoneRetentionMs: () => {},
};

test("constructor: options of every type", () => construct("new Doc(options)", RULES.options, (v) => new Doc(v)));
test("Doc.load: state of every type", () => {
  construct("Doc.load(state)", RULES.update, (v) => Doc.load(v), (doc) => assert.equal(doc.counter("from-source"), 1));
});
test("Doc.load: options of every type", () => construct("Doc.load(state, options)", RULES.options, (v) => Doc.load(realUpdate, v)));
for (const option of ["clientId", "now", "tombstoneRetentionMs"]) {
  test(`constructor and Doc.load: option ${option} of every type`, () => {
    construct(`new Doc({ ${option} })`, RULES[option], (v) => new Doc({ [option]: v }), optionChecks[option]);
    construct(`Doc.load(state, { ${option} })`, RULES[option], (v) => Doc.load(realUpdate, { [option]: v }), optionChecks[option]);
  });
}

test("now: a clock returning any value, or throwing, never breaks a write", () => {
  const clocks = VALUES.map(({ name, value }) => [`now returning ${name}`, () => value]);
  clocks.push(["a throwing now", () => { throw new Error("clock"); }]);
  for (const [name, now] of clocks) {
    const d = new Doc({ now });
    d.set("r", 1);
    d.set("r", 2);
    d.delete("r");
    const info = d.registerInfo("r");
    assert.ok(Number.isSafeInteger(info.wall) && info.wall >= 0, `${name}: wall ${info.wall}`);
    assert.equal(info.deleted, true, name);
    assert.ok(d.encodeState().length > 0);
    assertUsable(d, name);
  }
});

test("now: a clock that uses its own Doc cannot corrupt it", () => {
  // (A call that wrote its key to the Doc's input buffer first would
  // overwrite the key the core is writing: the write would go elsewhere.)
  const other = new Doc();
  other.increment("o");
  const calls = {
    free: [],
    counter: ["k"],
    counterSlots: ["k"],
    increment: ["k"],
    decrement: ["k"],
    encodeState: [],
    encodeDelta: [],
    version: [],
    applyUpdate: [other.encodeState()],
    get: ["k"],
    registerInfo: ["k"],
    set: ["k", 1],
    delete: ["k"],
    add: ["k", "e"],
    remove: ["k", "e"],
    has: ["k", "e"],
    members: ["k"],
    keys: ["set"],
    toJSON: [],
    transact: [() => {}],
    clientId: null,
  };
  // Every write that reads the clock, each as the outer call.
  const outers = {
    set: (d) => d.set("rrrr", "v"),
    delete: (d) => d.delete("dddd"),
    "add (a re-add)": (d) => d.add("ssss", "eeee"),
    remove: (d) => d.remove("ssss", "ffff"),
  };
  const check = {
    set: (d) => assert.equal(d.get("rrrr"), "v"),
    delete: (d) => assert.equal(d.registerInfo("dddd").deleted, true),
    "add (a re-add)": (d) => assert.deepEqual(d.members("ssss"), ["eeee", "ffff"]),
    remove: (d) => assert.deepEqual(d.members("ssss"), ["eeee"]),
  };
  for (const [outer, write] of Object.entries(outers)) {
    for (const [method, args] of Object.entries(calls)) {
      const why = `${method} inside now, during ${outer}`;
      let d;
      let inner;
      let armed = false;
      d = new Doc({
        now: () => {
          if (armed) {
            armed = false;
            try {
              if (args === null) d[method];
              else d[method](...args);
            } catch (e) {
              inner = e;
            }
          }
          return 42;
        },
      });
      d.set("dddd", 0);
      d.add("ssss", "eeee");
      d.add("ssss", "ffff");
      armed = true;
      write(d);
      assert.equal(armed, false, `${why}: the clock was read`);
      assert.equal(inner?.constructor, Error, `${why} throws an Error`);
      assert.match(inner.message, /must not use its own Doc/, why);
      check[outer](d);
      assertUsable(d, why);
    }
  }
});

// Without a `now` option the core reads Date.now, which a page or a test may
// have replaced with code of its own; the write's key is in the Doc's input
// buffer meanwhile.
test("a replaced Date.now that uses the Doc in the middle of a write cannot corrupt it", () => {
  const realNow = Date.now;
  try {
    for (const [label, write, check] of [
      ["set", (d) => d.set("aaaa", 1), (d) => assert.deepEqual(d.keys("register"), ["aaaa"])],
      ["set of a non-ASCII key", (d) => d.set("é", 2), (d) => assert.deepEqual(d.keys("register"), ["é"])],
      ["add of a member (a re-add)", (d) => d.add("ssss", "eeee"), (d) => assert.deepEqual(d.members("ssss"), ["eeee"])],
      ["remove", (d) => d.remove("ssss", "eeee"), (d) => assert.deepEqual(d.members("ssss"), [])],
    ]) {
      const d = new Doc();
      Date.now = realNow;
      d.add("ssss", "eeee");
      let inner;
      Date.now = () => {
        try {
          d.get("bbbb");
        } catch (e) {
          inner = e;
        }
        return realNow();
      };
      write(d);
      Date.now = realNow;
      assert.equal(inner?.constructor, Error, `${label}: the nested call throws`);
      assert.match(inner.message, /must not use its own Doc/);
      check(d);
      assertUsable(d, label);
      d.free();
    }
  } finally {
    Date.now = realNow;
  }
});

// (Found in review: the core called the clock as clock.call(), so a page's
// replaced Function.prototype.call ran before the Doc was marked busy, and
// could write to or free the Doc in the middle of a write.)
test("a replaced Function.prototype.call cannot use the Doc in the middle of a write", () => {
  const realCall = Function.prototype.call;
  for (const [label, inner] of [
    ["a write", (d) => d.set("zzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", 1)],
    ["free()", (d) => d.free()],
  ]) {
    const d = new Doc();
    d.set("reg", 1);
    d.add("s", "e");
    let armed = true;
    // (A plain function, not an arrow: `this` is the function being called.)
    Function.prototype.call = function (...args) {
      if (armed) {
        armed = false;
        try {
          inner(d);
        } catch {
          // Refused: fine.
        }
      }
      return Reflect.apply(this, args[0], args.slice(1));
    };
    try {
      d.delete("reg");
      d.remove("s", "e");
    } catch (e) {
      assert.match(String(e), /freed/, label);
    } finally {
      Function.prototype.call = realCall;
    }
    if (label === "a write") {
      assert.equal(d.get("reg"), undefined, `${label}: the delete took effect`);
      assert.deepEqual(d.members("s"), [], label);
      assertUsable(d, label);
    }
  }
});

// pkg/doc.js never calls into a document from inside a call on it; the
// binding refuses such a call itself, before it touches the document.
test("the binding traps a call into a document from inside a call on it, and frees it only after", () => {
  // (initSync returns the instance already made.)
  const wasm = initSync({ module: readFileSync(new URL("../../pkg/slotkv_wasm_bg.wasm", import.meta.url)) });
  const write = (core, key, json) => {
    const at = wasm.slotkv_input_buffer(core, key.length + json.length) >>> 0;
    new Uint8Array(wasm.memory.buffer).set(new TextEncoder().encode(key + json), at);
    return wasm.slotkv_set_json(core, key.length, json.length, 1);
  };
  let inner = () => {};
  let caught;
  const read = () => {
    try {
      inner();
    } catch (e) {
      caught = e;
    }
    return 5;
  };
  const raw = new RawDoc(undefined, { read }, -1, undefined);
  const core = raw.core();
  inner = () => wasm.slotkv_increment(core, 1, 1, 1);
  assert.equal(write(core, "k", "123"), 1, "the outer write commits");
  assert.ok(caught instanceof WebAssembly.RuntimeError, `the inner call trapped: ${caught}`);
  assert.equal(wasm.slotkv_get(core, 1), 2 * 3 + 1, "the outer write took effect");
  assert.equal(wasm.slotkv_counter(core, 1), 0, "the inner call did nothing");

  // Freed from inside a call: the call finishes on a document still there.
  caught = undefined;
  inner = () => raw.free();
  assert.equal(write(core, "k", "456"), 1);
  assert.equal(caught, undefined);
  assert.throws(() => raw.core(), /null pointer|freed|destroyed/i);
  assertUsable(new Doc(), "another Doc");
});

test("large and unusual arguments do not grow wasm memory before they are refused", () => {
  const d = new Doc();
  const before = wasmMemoryBytes();
  const huge = "k".repeat(50e6);
  for (const call of [
    () => d.counter(huge),
    () => d.add("s", huge),
    () => d.has("s", huge),
    () => d.set("r", huge),
    () => new Doc({ clientId: huge }),
    () => d.set("r", new Uint8Array(50 << 20)),
    // 9 MiB of UTF-8 in 3 Mi UTF-16 units: over the 8 MiB value limit, in bytes.
    () => d.set("r", "€".repeat(3 << 20)),
    () => d.set("r", { text: "€".repeat(3 << 20) }),
    () => d.applyUpdate(new Uint8Array(80 << 20)),
    () => d.encodeDelta(new Uint8Array(80 << 20)),
  ]) {
    assert.throws(call, (e) => e instanceof Error && /^slotkv: /.test(e.message));
  }
  assert.equal(wasmMemoryBytes(), before);
});

test("every message an update can be: each single-byte change of a real state applies whole or not at all", () => {
  const a = new Doc({ clientId: "a", now: () => T0 });
  a.increment("c", 3);
  a.set("r", { x: [1, 2] });
  a.set("b", new Uint8Array([1, 2]));
  a.add("s", "x");
  a.add("s", "y");
  a.remove("s", "x");
  a.delete("b");
  const good = a.encodeState();
  const target = new Doc({ clientId: "t", now: () => T0 });
  target.set("r", "mine");
  target.add("s", "z");
  const base = target.encodeState();
  let refused = 0;
  for (let i = 0; i < good.length; i++) {
    for (const byte of [0x00, 0x01, 0x02, 0x7f, 0x80, 0xff, good[i] ^ 0x01]) {
      if (byte === good[i]) continue;
      const bad = good.slice();
      bad[i] = byte;
      const d = Doc.load(base, { clientId: "t", now: () => T0 });
      try {
        d.applyUpdate(bad);
      } catch (e) {
        refused++;
        assert.equal(e.constructor, Error, `byte ${i} = ${byte}: ${e}`);
        assert.match(e.message, /^slotkv: cannot apply update: /);
        assert.ok(same(d.encodeState(), base), `byte ${i} = ${byte}: unchanged`);
      }
      assertUsable(d, `byte ${i} = ${byte}`);
      d.free();
    }
  }
  assert.ok(refused > good.length, `most changes are refused (${refused})`);
});

test("reads of large and small outputs, in turn, each get their own bytes", () => {
  // Text and bytes come back through one output buffer per Doc, given back
  // after a large output (pkg/doc.js, OUT_KEPT): no read may see another's.
  const d = new Doc({ clientId: "big" });
  const text = "x".repeat(200_000);
  const bytes = Uint8Array.from({ length: 150_000 }, (_, i) => i % 251);
  d.set("text", text);
  d.set("bytes", bytes);
  d.set("small", { a: 1 });
  for (let i = 0; i < 300; i++) d.add("set", `element ${i}`);
  for (let round = 0; round < 3; round++) {
    const state = d.encodeState();
    assert.ok(state.length > 350_000, `${state.length}`);
    assert.equal(d.get("text"), text);
    assert.deepEqual(d.get("small"), { a: 1 });
    assert.deepEqual(d.get("bytes"), bytes);
    assert.equal(d.members("set").length, 300);
    assert.deepEqual(d.registerInfo("small").writer, "big");
    assert.equal(d.clientId, "big");
    const copy = Doc.load(state);
    assert.deepEqual(copy.toJSON(), d.toJSON());
    assert.deepEqual(copy.encodeState(), state);
    assert.deepEqual(copy.version(), d.version());
    copy.free();
  }
  // The outputs are copies: a later write changes none of them.
  const before = d.get("bytes");
  d.set("bytes", new Uint8Array([1]));
  assert.deepEqual(before, bytes);
  assert.equal(d.get("missing"), undefined);
  assert.equal(d.registerInfo("missing"), undefined);
});

test("after all of the above the wasm instance is healthy", () => {
  const a = new Doc({ clientId: "a" });
  const b = new Doc({ clientId: "b" });
  a.increment("c");
  a.set("r", { ok: true });
  a.add("s", "x");
  b.applyUpdate(a.encodeState());
  assert.deepEqual(b.toJSON(), { counters: { c: 1 }, registers: { r: { ok: true } }, sets: { s: ["x"] } });
});
