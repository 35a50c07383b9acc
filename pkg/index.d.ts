/**
 * slotkv: a replicated key-value document for web apps.
 *
 * ```ts
 * import { Doc, BroadcastSync } from "slotkv";
 * const doc = new Doc();
 * const sync = new BroadcastSync(doc, "my-app"); // every tab of the origin stays in sync
 * doc.increment("clicks");                       // concurrent clicks in two tabs count two
 * doc.on("change", (e) => console.log(e.counters, doc.counter("clicks")));
 * ```
 */

/** Options for a new document. */
export interface DocOptions {
  /** This replica's id, 1 to 64 bytes of UTF-8 (a `TypeError` if not a string, a `RangeError` if empty or longer). Default: 64 random bits as 16 hex characters. Never share one between live replicas. */
  clientId?: string;
  /**
   * Wall-clock source in milliseconds for register timestamps (default `Date.now`). Inject one to make tests deterministic.
   * If it throws or returns anything but a finite number >= 0, `Date.now()` is used for that reading. It must not use its own `Doc`.
   */
  now?: () => number;
  /**
   * How long a deleted register's tombstone is kept, in ms of the document's clock (a non-negative safe integer). Default 30 days.
   * After that it is dropped (at the latest by the next `encodeState`), unless it is the document's newest register write,
   * which stays until a later one (a replica loading the state sets its clock by it). A write this replica has seen still cannot come back, but a
   * truly concurrent write from a replica offline for longer than this can revive the key.
   */
  tombstoneRetentionMs?: number;
  /** Bounds on what this document accepts from its app, its peers and storage (see docs/SECURITY.md). Give every replica of a document the same limits. */
  limits?: Limits;
}

/** Each a positive integer, at most the cap given (past it, a `RangeError`: the caps keep one input within what a wasm32 module can address); omitted fields keep their defaults. */
export interface Limits {
  /** Largest update or version `applyUpdate`, `Doc.load` and `encodeDelta` take, in bytes. Default 64 MiB, at most 256 MiB. */
  maxUpdateBytes?: number;
  /** Longest set element (and string in an update), in UTF-8 bytes; keys are limited to it too when it is under 1024. Default 64 KiB, at most 256 MiB. */
  maxStringBytes?: number;
  /** Largest register value (its JSON text, or its bytes). Default 8 MiB, at most 256 MiB. */
  maxValueBytes?: number;
  /** Deepest nesting of arrays and objects in a register value, at most 1000. Default 128. */
  maxValueDepth?: number;
  /** Most client ids one update may name. Default 65 536, at most 4 194 304. */
  maxClients?: number;
  /** Most entries (strings, version ranges, slots, registers, elements, tags…) one update may hold. Default 1 048 576, at most 4 194 304. */
  maxEntries?: number;
  /** Most client ids the document holds, its own included. Default 1 048 576. */
  maxDocClients?: number;
}

/** The newest binary format version this build reads and writes (docs/FORMAT.md). */
export const FORMAT_VERSION: number;

/** Options of `Doc.encodeDelta`. */
export interface EncodeOptions {
  /** The newest format version the receiver reads (a positive integer; default `FORMAT_VERSION`). */
  format?: number;
}

/**
 * Any value JSON can hold exactly: what `set` accepts besides `Uint8Array`, and `get` returns equal. Plain objects (null-prototype
 * ones come back as plain objects), arrays without holes or extra properties, well-formed strings, finite numbers (`-0` is stored as
 * `0`), booleans and `null`; at most 128 deep and 8 MiB as JSON by default (`limits.maxValueDepth`, `limits.maxValueBytes`; else `RangeError`). Anything else (undefined, functions, symbols,
 * bigints, NaN, cycles, class instances such as `Date` or `Map`) is a `TypeError`.
 */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export type Kind = "counter" | "register" | "set";

/** Keys changed by one local transaction or one effective `applyUpdate` (never all three lists empty: an update that changed no key fires `update` only). */
export interface ChangeEvent {
  counters: string[];
  registers: string[];
  sets: string[];
  /** True for this replica's own transactions. */
  local: boolean;
  /** The `origin` given to `transact` or `applyUpdate`. */
  origin: unknown;
}

/** Who last wrote a register and when (hybrid logical clock time). */
export interface RegisterInfo {
  writer: string;
  /** Wall-clock milliseconds of the write's timestamp. */
  wall: number;
  /** Orders writes within the same millisecond. */
  logical: number;
  /** True if the last write was a `delete`. */
  deleted: boolean;
}

/**
 * A replicated key-value document. Keys are non-empty strings of at most 1024 bytes of UTF-8 (a key written, also at most `limits.maxStringBytes`) and set elements at most 64 KiB; every
 * method that takes one throws a `TypeError` for a non-string or a lone surrogate and a `RangeError` for a bad length. After `free()`,
 * every method throws an `Error`.
 */
export class Doc {
  constructor(options?: DocOptions);
  /** A document holding `state` (from `encodeState`, or any update). Throws like `applyUpdate` on bad bytes. */
  static load(state: Uint8Array, options?: DocOptions): Doc;
  readonly clientId: string;

  /** Adds `delta` (default 1, may be negative) to this replica's slot of counter `key`. A zero delta does nothing. A `RangeError` if `delta` or the counter would not be a safe integer, or if this replica's lifetime total of increments on `key`, or of decrements, would pass 2^53 − 1 (docs/SECURITY.md). */
  increment(key: string, delta?: number): void;
  /** Subtracts `delta` (default 1). */
  decrement(key: string, delta?: number): void;
  /** The counter's value: the sum of every client's slot; 0 when absent. */
  counter(key: string): number;
  /** clientId -> that client's net contribution to counter `key`. */
  counterSlots(key: string): Record<string, number>;

  /**
   * Writes a JSON-compatible value (see `JsonValue`) or bytes; the latest write (by hybrid logical clock) wins. Typed `unknown`, as
   * the SPEC has it, so that values typed by an interface or read from elsewhere need no cast; what JSON cannot hold exactly is a
   * `TypeError` at run time.
   */
  set(key: string, value: unknown): void;
  /** The register's value (a fresh copy: a plain object, array, primitive or `Uint8Array`); `undefined` when absent or deleted. */
  get(key: string): unknown;
  /** Deletes register `key` (a timestamped tombstone: a later `set` elsewhere still wins, and it beats an earlier one, even one this replica has not seen: so it is written whether or not the key holds a value here). */
  delete(key: string): void;
  /** Who last wrote register `key` and when, or `undefined` if it was never written (or its tombstone was purged). */
  registerInfo(key: string): RegisterInfo | undefined;

  /** Adds `element` to set `key`. A concurrent remove elsewhere does not undo it (add wins). */
  add(key: string, element: string): void;
  /** Removes `element` from set `key`: the additions this replica has seen. */
  remove(key: string, element: string): void;
  has(key: string, element: string): boolean;
  /** Members of set `key`, sorted by UTF-8 bytes. */
  members(key: string): string[];

  /** Live keys of one kind, sorted: counters with any slot, registers holding a value, sets with a member. */
  keys(kind: Kind): string[];
  /**
   * The live entries as plain objects. Their keys come in `keys()` order, except that JavaScript puts integer-like
   * keys ("7", "42") first, in numeric order, in any object: use `keys()` for the sorted order.
   */
  toJSON(): { counters: Record<string, number>; registers: Record<string, unknown>; sets: Record<string, string[]> };
  /** Runs `fn`; all its writes become one update and one change event. Nested calls join the outer one (and its origin). If `fn` throws, the writes it made are still committed. `fn` runs synchronously: an async one's writes after its first `await` are transactions of their own (a warning says so). */
  transact(fn: () => void, origin?: unknown): void;

  /** This replica's version vector, encoded. */
  version(): Uint8Array;
  /** The whole state. */
  encodeState(): Uint8Array;
  /**
   * What a replica at version `since` (from `version()`) lacks: the whole state if omitted. Throws an `Error` if `since` is not a version, and a `RangeError` if it is one past this document's `limits` (a peer's naming more client ids than `maxClients`, say): such a peer can be sent the whole state, `encodeDelta()`.
   * `options.format`: the newest format version the receiver reads, for a peer of an older slotkv (default `FORMAT_VERSION`); the delta then uses nothing a newer format adds.
   */
  encodeDelta(since?: Uint8Array, options?: EncodeOptions): Uint8Array;
  /** Merges a state or delta, in any order, any number of times. Atomic: on malformed, truncated, oversized (> `limits.maxUpdateBytes`, 64 MiB by default) or newer-format bytes it throws an `Error` saying why, and changes nothing. */
  applyUpdate(update: Uint8Array, origin?: unknown): void;
  /** Fires once per local transaction (with a delta of exactly it) and once per effective `applyUpdate`. Returns an unsubscribe function. */
  on(event: "update", fn: (update: Uint8Array, origin: unknown, local: boolean) => void): () => void;
  on(event: "change", fn: (e: ChangeEvent) => void): () => void;
  /** Releases the document's wasm memory now (it is also released when garbage-collected). */
  free(): void;
}

/** Each a positive number of milliseconds (else `RangeError`); `undefined` keeps the default. */
export interface BroadcastSyncOptions {
  /** How often this replica posts a presence heartbeat (default 2500 ms; at most 2147483647 ms, the longest timer delay). */
  heartbeatMs?: number;
  /** A replica silent for longer leaves `peers` and `presence()` (default 10000 ms); must be longer than `heartbeatMs`. */
  timeoutMs?: number;
}

export class BroadcastSync {
  /**
   * Syncs `doc` with every replica on BroadcastChannel `channel`: one round trip to catch up, then every transaction as it
   * happens. Updates `doc` applies from other transports are relayed to the channel, except those `persist`'s writer takes
   * from a tab that is itself a peer on the channel (that tab's own BroadcastSync sent them). Liveness is timed on a monotonic clock, so a change of the
   * wall clock neither keeps a gone peer nor drops a live one. Between `pagehide` and `pageshow` it ignores what it hears
   * (its own writes are still posted).
   */
  constructor(doc: Doc, channel: string, options?: BroadcastSyncOptions);
  /** Client ids of the replicas heard from within the timeout, sorted. */
  readonly peers: string[];
  /**
   * Sets this replica's ephemeral state (not persisted), shared with every peer. It is copied now (a later change to
   * the object is not shared); a value postMessage cannot clone (a function, say) is a `TypeError`.
   */
  setPresence(state: unknown): void;
  /** clientId -> presence state of every live replica that set one, this one included (copies: changing one shares nothing). */
  presence(): Map<string, unknown>;
  /** A replica joined or left, or a presence state was set (here or on a peer; a heartbeat repeating a state is no change). */
  on(event: "presence", fn: () => void): () => void;
  /** A malformed message was dropped, an update could not be applied, or another replica on the channel has this client id. */
  on(event: "error", fn: (error: Error) => void): () => void;
  /** Says goodbye to the peers and stops syncing (done at the next heartbeat if the Doc was freed). */
  close(): void;
}

/** A document kept in IndexedDB; see `persist`. */
export interface Persistence {
  /** True while this tab holds the single-writer lock (Web Locks) and writes storage. */
  readonly isWriter: boolean;
  /**
   * Resolves once every update this replica made is in IndexedDB (written by the writer tab). Rejects with an `Error` when
   * that cannot be: the writer's IndexedDB write failed (a full disk, say; a later write retries), or the writer tab could
   * not take an update of this tab's. Updates this replica applied from elsewhere (a server, say) are stored when this tab
   * is the writer; otherwise they are the other transport's to deliver to the writer tab. After `close()` nothing more is
   * saved: it resolves if the document has not changed since `close()` (and close()'s own flush succeeded), and rejects
   * with an `Error` otherwise. Persisting also stops, with a warning, when another connection deletes or upgrades the
   * database, and when it finds its Doc freed (at the next message, or when the lock comes to it): a writer then hands
   * the lock on, and `flush()` rejects.
   */
  flush(): Promise<void>;
  /** Flushes, releases the writer lock if held, and stops persisting; rejects if that last flush failed. */
  close(): Promise<void>;
}

/**
 * Loads what IndexedDB holds for `name` into `doc`, then keeps it saved. Every tab may call it; exactly one
 * (the holder of the Web Lock named after the document) writes, and the others hand it their writes over a
 * BroadcastChannel. When the writer tab goes away, another takes over and first saves its whole state.
 */
export function persist(doc: Doc, name: string, options?: PersistOptions): Promise<Persistence>;

export interface PersistOptions {
  /** Log records before the writer compacts the log into the snapshot (default 500). */
  compactAfter?: number;
  /** Log bytes before the writer compacts (default 4 MiB). */
  compactAfterBytes?: number;
  /** How long a non-writer's flush() waits for the writer's ack before asking again (default 2000 ms; at most 2147483647 ms). */
  ackTimeoutMs?: number;
}

/** Bytes of WebAssembly memory slotkv holds: grows with live documents, for diagnostics. */
export function wasmMemoryBytes(): number;
