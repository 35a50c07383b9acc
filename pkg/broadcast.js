// BroadcastSync (SPEC §3): keeps a Doc in sync with every replica on a
// BroadcastChannel, with presence. Works on browsers' and Node's BroadcastChannel.
//
// Messages (structured-cloned objects, each with `from`: the sender's client
// id, and `format`: the newest binary format version the sender reads):
//   { t: "hello", version }           a replica joined; peers answer with "sync"
//   { t: "sync", to, update, version, lowest }
//                                     what `to` lacked, the sender's version, and the oldest
//                                     format among the replicas the sender has heard from
//   { t: "update", update }           a transaction's delta, or a catch-up delta
//   { t: "presence", state, rev }     heartbeat with the sender's presence state, if any, and
//                                     its revision (one more at each setPresence, from a
//                                     random start): the same revision heard again is no
//                                     change. (An earlier build sends no revision: each of
//                                     its heartbeats counts as a change.)
//   { t: "bye" }                      the sender is leaving
// A catch-up delta is written in no newer format than its readers read: the
// one in "sync" for `to`, the "update" after it for every replica heard from,
// by this one or by the sender of the "sync" (all of them receive it). A
// replica of an earlier slotkv sends no format: it is sent format 1, which
// every build reads. A delta relayed from another transport goes out as it
// came; when it is in a newer format than some replica heard from reads, a
// new hello follows, so that replica catches up through the syncs it brings.
import { FORMAT_VERSION, isFreed } from "./doc.js";
import { FROM_TABS, MAX_DELAY_MS, catchUp, formatOf, isEmptyVersion, isFormat, isId, readOptions } from "./message.js";

const DEFAULTS = { heartbeatMs: 2500, timeoutMs: 10000 };

// Doc -> channel name -> the Doc's version when a BroadcastSync on that
// channel closed with all of it sent.
const sent = new WeakMap();

const sameBytes = (a, b) => a !== undefined && a.length === b.length && a.every((x, i) => x === b[i]);

function validate(m) {
  if (m === null || typeof m !== "object" || !isId(m.from)) return "not an object with a client id in `from`";
  if (!isFormat(m.format)) return "a format that is not a positive integer";
  switch (m.t) {
    case "hello":
      return m.version instanceof Uint8Array ? null : "hello without a version";
    case "sync":
      return isId(m.to) && m.update instanceof Uint8Array && m.version instanceof Uint8Array && isFormat(m.lowest) ? null : "malformed sync";
    case "update":
      return m.update instanceof Uint8Array ? null : "update without bytes";
    case "presence":
      return m.rev === undefined || (Number.isSafeInteger(m.rev) && m.rev >= 0) ? null : "presence with a revision that is not a safe integer >= 0";
    case "bye":
      return null;
    default:
      return `unknown message type ${JSON.stringify(String(m.t))}`;
  }
}

// Liveness is timed on a clock that the wall clock's steps (NTP, a user
// setting it, a laptop waking) do not move.
const now = () => performance.now();

function unref(timer) {
  if (typeof timer === "object" && typeof timer.unref === "function") timer.unref();
  return timer;
}

export class BroadcastSync {
  #doc;
  #channel;
  #me;
  #opts;
  #peers = new Map(); // clientId -> { seen: ms, format, state, hasState, rev }
  #presence = undefined;
  #hasPresence = false;
  // Random at first, so that a later BroadcastSync with this client id (an
  // app's own id, across a reload that said no goodbye) does not repeat a
  // revision its peers still hold.
  #rev = Math.floor(Math.random() * 2 ** 48);
  #listeners = { presence: new Set(), error: new Set() };
  #off;
  #timer;
  #onPageHide;
  #onPageShow;
  #lastBeat = 0;
  #closed = false;
  // Between pagehide and pageshow: this replica said "bye" and stays silent.
  #hidden = false;
  #helloPending = false;
  #sharedIdReported = false;
  // Whether what the Doc held before joining has gone out: nothing to send
  // (an empty Doc, or one whose previous BroadcastSync on this channel left
  // with all of it sent); or the catch-up answering the first sync addressed
  // to this replica, which every replica there hears; or, at the first
  // heartbeat, the whole state, if a replica heard from got neither that nor
  // a sync answering its own hello. Until then, leaving posts the whole
  // state first, or those writes would reach no one.
  #caughtUp;
  #channelName;

  constructor(doc, channel, options = {}) {
    if (!doc || typeof doc.applyUpdate !== "function" || typeof doc.on !== "function" || typeof doc.encodeDelta !== "function") {
      throw new TypeError("slotkv: BroadcastSync needs a Doc");
    }
    if (typeof channel !== "string" || channel === "") throw new TypeError("slotkv: the channel name must be a non-empty string");
    this.#doc = doc;
    this.#me = doc.clientId;
    this.#channelName = channel;
    this.#opts = readOptions(options, DEFAULTS, "BroadcastSync", (v) => Number.isFinite(v) && v > 0, "a positive number of milliseconds", {
      heartbeatMs: MAX_DELAY_MS,
    });
    if (this.#opts.timeoutMs <= this.#opts.heartbeatMs) {
      throw new RangeError(`slotkv: BroadcastSync's timeoutMs (${this.#opts.timeoutMs}) must be longer than its heartbeatMs (${this.#opts.heartbeatMs}), or live peers would come and go`);
    }
    // Listening to the Doc first: if that throws, no channel is left open.
    this.#off = doc.on("update", (update, origin) => {
      // Not back to where an update came from: this channel, or (taken by
      // persist's writer from another tab) a tab that is a peer here, whose
      // own BroadcastSync sent it to every tab.
      if (origin === this || this.#peers.has(origin?.[FROM_TABS])) return;
      // An update from another transport may be a view into a larger
      // buffer (a network frame): postMessage would copy the whole buffer.
      const own = update.byteOffset === 0 && update.byteLength === update.buffer.byteLength && update.buffer instanceof ArrayBuffer;
      this.#post({ t: "update", update: own ? update : update.slice() });
      // A delta relayed from another transport may be in a newer format
      // than a replica heard from reads, and that
      // replica drops it. Saying hello again makes every peer answer with a
      // sync, and this replica's answer to each is a delta in a format all
      // of them read (see "sync" in #receive). Once per burst of updates.
      if (formatOf(update) > this.#formatOfAll() && !this.#helloPending) {
        this.#helloPending = true;
        queueMicrotask(() => {
          this.#helloPending = false;
          // (Closed, or its Doc freed, in the tick that relayed the update.)
          if (this.#closed || !this.#alive()) return;
          try {
            this.#post({ t: "hello", version: this.#doc.version() });
          } catch (err) {
            this.#report(err);
          }
        });
      }
    });
    try {
      this.#channel = new BroadcastChannel(channel);
    } catch (err) {
      this.#off();
      throw err;
    }
    this.#channel.onmessage = (e) => this.#receive(e.data);
    this.#channel.onmessageerror = () => this.#report(new Error("slotkv: a BroadcastSync message could not be deserialized"));
    const version = doc.version();
    this.#caughtUp = isEmptyVersion(version) || sameBytes(sent.get(doc)?.get(channel), version);
    this.#post({ t: "hello", version });
    this.#lastBeat = now(); // a hello tells the peers this replica is alive, as a beat does
    this.#timer = unref(setInterval(() => this.#tick(), this.#opts.heartbeatMs));
    if (typeof addEventListener === "function") {
      // Leaving, or into the back/forward cache: "bye", and silence until
      // pageshow (an answer to a message heard meanwhile would make this
      // replica a peer again, for a timeout, in tabs it has left).
      this.#onPageHide = () => {
        this.#leaving();
        this.#hidden = true;
      };
      // Back from the back/forward cache: the peers heard "bye", and updates
      // went by while the page was frozen. Join again.
      this.#onPageShow = (e) => {
        if (!this.#hidden) return;
        this.#hidden = false;
        if (e.persisted && this.#alive()) this.#post({ t: "hello", version: this.#doc.version() });
      };
      addEventListener("pagehide", this.#onPageHide);
      addEventListener("pageshow", this.#onPageShow);
    }
  }

  /** Client ids of the replicas heard from within the timeout, sorted. */
  get peers() {
    this.#expire();
    return [...this.#peers.keys()].sort();
  }

  /** Shares `state` (a structured-cloneable value, copied now) as this replica's presence. */
  setPresence(state) {
    if (this.#closed) return;
    try {
      state = structuredClone(state);
    } catch (err) {
      throw new TypeError(`slotkv: a presence state must be structured-cloneable, as postMessage needs: ${err.message}`);
    }
    this.#presence = state;
    this.#hasPresence = true;
    this.#rev++;
    this.#postPresence();
    this.#emit("presence");
  }

  /** clientId -> presence state of every live replica, this one included (copies: changing them changes nothing). */
  presence() {
    this.#expire();
    const out = new Map();
    if (this.#hasPresence) out.set(this.#me, structuredClone(this.#presence));
    for (const [id, p] of this.#peers) if (p.hasState) out.set(id, structuredClone(p.state));
    return out;
  }

  on(event, fn) {
    const set = Object.hasOwn(this.#listeners, event) ? this.#listeners[event] : undefined;
    if (!set) throw new TypeError(`slotkv: unknown event ${JSON.stringify(String(event))}; use "presence" or "error"`);
    if (typeof fn !== "function") throw new TypeError("slotkv: a listener must be a function");
    set.add(fn);
    return () => set.delete(fn);
  }

  close() {
    if (this.#closed) return;
    this.#leaving();
    if (!isFreed(this.#doc)) {
      // All of it has gone out: a BroadcastSync made next for this Doc and
      // channel (a component mounted again) has nothing to send on leaving.
      if (!sent.has(this.#doc)) sent.set(this.#doc, new Map());
      sent.get(this.#doc).set(this.#channelName, this.#doc.version());
    }
    this.#closed = true;
    clearInterval(this.#timer);
    this.#off();
    if (this.#onPageHide) {
      removeEventListener("pagehide", this.#onPageHide);
      removeEventListener("pageshow", this.#onPageShow);
    }
    this.#channel.close();
    this.#peers.clear();
  }

  // "bye", after the whole state if the writes made before joining have not
  // gone out yet (a replica that leaves within its first round trip).
  #leaving() {
    if (!this.#caughtUp && !this.#hidden && !isFreed(this.#doc)) this.#postState();
    this.#post({ t: "bye" });
  }

  #postState() {
    this.#caughtUp = true;
    try {
      this.#post({ t: "update", update: this.#doc.encodeState() }); // (a state reads the same in every format)
    } catch (err) {
      this.#report(err);
    }
  }

  #post(message) {
    if (this.#closed) return;
    message.from = this.#me;
    message.format = FORMAT_VERSION;
    try {
      this.#channel.postMessage(message);
    } catch (err) {
      this.#report(err);
    }
    // Posted after "bye" (by an app's own pagehide listener): the peers
    // take any message as a sign of life, so say goodbye again.
    if (this.#hidden && message.t !== "bye") this.#post({ t: "bye" });
  }

  #tick() {
    if (this.#hidden || !this.#alive()) return;
    if (!this.#caughtUp) {
      // Whoever joined later got what it lacks in the sync answering its
      // hello; one that did not, and sent no sync either, may lack it.
      if ([...this.#peers.values()].some((p) => !p.synced)) this.#postState();
      this.#caughtUp = true;
    }
    this.#beat();
    this.#expire();
  }

  // A freed Doc has no replica left to keep alive: this closes then.
  #alive() {
    if (!isFreed(this.#doc)) return true;
    this.close();
    return false;
  }

  #beat() {
    this.#lastBeat = now();
    if (this.#hasPresence) this.#postPresence();
    else this.#post({ t: "presence" });
  }

  #postPresence() {
    this.#post({ t: "presence", state: this.#presence, rev: this.#rev });
  }

  #expire() {
    const cutoff = now() - this.#opts.timeoutMs;
    let changed = false;
    for (const [id, p] of this.#peers) {
      if (p.seen < cutoff) {
        this.#peers.delete(id);
        changed = true;
      }
    }
    if (changed) this.#emit("presence");
  }

  // Marks a peer alive and notes the format it reads; returns whether it is new.
  #heard(id, format) {
    const p = this.#peers.get(id);
    if (p) {
      p.seen = now();
      p.format = format;
      return false;
    }
    this.#peers.set(id, { seen: now(), format, state: undefined, hasState: false, rev: undefined, synced: false });
    return true;
  }

  // The newest format that every replica heard from reads.
  #formatOfAll() {
    let format = FORMAT_VERSION;
    for (const p of this.#peers.values()) format = Math.min(format, p.format);
    return format;
  }

  #receive(m) {
    if (this.#closed || this.#hidden) return;
    const problem = validate(m);
    if (problem) {
      this.#report(new Error(`slotkv: dropped a malformed BroadcastSync message: ${problem}`));
      return;
    }
    if (!this.#alive()) return;
    if (m.from === this.#me) {
      // Not this object's own post (a channel does not hear itself): another
      // replica with this client id, which breaks single-writer slots.
      if (!this.#sharedIdReported) {
        this.#sharedIdReported = true;
        this.#report(new Error(`slotkv: another replica on this channel has client id ${JSON.stringify(this.#me)}; two live replicas must never share one (their writes would collide), so its messages are ignored`));
      }
      return;
    }
    if (m.t === "bye") {
      if (this.#peers.delete(m.from)) this.#emit("presence");
      return;
    }
    // The sender becomes a peer once its message has been taken in: one
    // whose bytes cannot be read is dropped, its sender unheard.
    let changed = false;
    const heard = () => (changed = this.#heard(m.from, m.format ?? 1));
    try {
      switch (m.t) {
        case "hello": {
          const update = catchUp(this.#doc, m.version, m.format ?? 1);
          heard();
          this.#peers.get(m.from).synced = true;
          this.#post({ t: "sync", to: m.from, update, version: this.#doc.version(), lowest: this.#formatOfAll() });
          if (this.#hasPresence) this.#postPresence();
          break;
        }
        case "sync":
          if (m.to === this.#me) {
            // Ours first: if theirs cannot be applied (past this Doc's
            // limits, say), what this replica wrote still reaches them.
            // (A joiner may not have heard every replica yet; the sender of the sync has.)
            const format = Math.min(this.#formatOfAll(), m.format ?? 1, m.lowest ?? 1);
            this.#post({ t: "update", update: catchUp(this.#doc, m.version, format) });
            this.#caughtUp = true;
            this.#doc.applyUpdate(m.update, this);
            heard();
          } else {
            heard();
          }
          break;
        case "update":
          this.#doc.applyUpdate(m.update, this);
          heard();
          break;
        case "presence": {
          heard();
          const p = this.#peers.get(m.from);
          if ("state" in m) {
            changed ||= !p.hasState || m.rev === undefined || m.rev !== p.rev;
            p.state = m.state;
            p.hasState = true;
            p.rev = m.rev;
          } else {
            // A heartbeat without a state: the sender has none, so one held
            // for its id is a previous instance's (restarted without a bye).
            changed ||= p.hasState;
            p.state = undefined;
            p.hasState = false;
            p.rev = undefined;
          }
          break;
        }
      }
    } catch (err) {
      this.#report(err);
    }
    if (changed) this.#emit("presence");
    // A hidden tab's timers may run once a minute, but messages still reach
    // it: a replica that hears its peers answers for itself when its own
    // heartbeat is late, so it stays among theirs.
    if (now() - this.#lastBeat > this.#opts.heartbeatMs) this.#beat();
  }

  #emit(event, ...args) {
    for (const fn of [...this.#listeners[event]]) {
      try {
        fn(...args);
      } catch (err) {
        console.error("slotkv: a BroadcastSync listener threw", err);
      }
    }
  }

  #report(err) {
    if (this.#listeners.error.size) this.#emit("error", err);
    else console.warn(err.message);
  }
}
