// What the two channel protocols, BroadcastSync's (broadcast.js) and
// persist's (persist.js), share: the checks on the fields every message of
// either carries, and how they read the format of the updates they carry.
import { excess } from "./doc.js";

// A sender's id as a message carries it: well-formed, 1 to 64 bytes of UTF-8,
// as a client id is.
export const isId = (s) => typeof s === "string" && s.length > 0 && s.length <= 64 && !excess(s, 64) && s.isWellFormed();

// A format version a message names: absent (sent by an earlier slotkv, which
// reads format 1 only) or a whole number from 1 up.
export const isFormat = (f) => f === undefined || (Number.isSafeInteger(f) && f >= 1);

// The format version of an update, state or version message: its second byte
// (docs/FORMAT.md; a varint, one byte for every version so far).
export const formatOf = (bytes) => bytes[1];

// Whether a version message (from Doc.version()) names no client: the Doc
// has seen no write. Its client table's count is its fourth byte
// (docs/FORMAT.md: magic, format, type, then the count).
export const isEmptyVersion = (version) => version[3] === 0;

// Whether `bytes` start as a message of a format newer than `FORMAT_VERSION`:
// the magic byte, then a larger version.
export const isNewerFormat = (bytes, version) => bytes[0] === 0xb7 && formatOf(bytes) > version;

// What a replica at `version` (another tab's) lacks of `doc`, in `format`;
// the whole state when that version is past the Doc's limits (encodeDelta's
// RangeError: it names more client ids than its maxClients, say), so what
// this tab wrote still reaches one whose updates it cannot read. Bytes that
// are not a version throw.
export function catchUp(doc, version, format) {
  try {
    return doc.encodeDelta(version, { format });
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    return doc.encodeDelta(undefined, { format });
  }
}

// The longest delay setTimeout and setInterval take: they run a longer one
// after 1 ms, so a timer option above it would do the opposite of what it asks.
export const MAX_DELAY_MS = 2 ** 31 - 1;

// The key, on the origin of an update persist's writer took from another tab,
// of that tab's client id: a BroadcastSync that has it as a peer does not post
// the update back, since that tab's own BroadcastSync sent it. (Symbol.for, so
// that two copies of the package agree.)
export const FROM_TABS = Symbol.for("slotkv.fromTab");

// The options of BroadcastSync or persist: `defaults` with each option given
// and not undefined in place, if `valid` and at most its entry in `max`; else
// a RangeError saying it must be `expected`.
export function readOptions(options, defaults, what, valid, expected, max = {}) {
  if (options === null || typeof options !== "object") throw new TypeError(`slotkv: ${what} options must be an object`);
  const opts = { ...defaults };
  for (const key of Object.keys(defaults)) {
    const v = options[key];
    if (v === undefined) continue;
    if (typeof v !== "number" || !valid(v)) throw new RangeError(`slotkv: the ${what} option ${key} must be ${expected}, got ${String(v)}`);
    if (v > (max[key] ?? Infinity)) throw new RangeError(`slotkv: the ${what} option ${key} must be at most ${max[key]} ms (the longest delay a timer takes), got ${String(v)}`);
    opts[key] = v;
  }
  return opts;
}
