// Seeded PRNG (sfc32 seeded through splitmix32): every library gets the same
// operation stream for a given seed.
function splitmix32(a) {
  return () => {
    a = (a + 0x9e3779b9) | 0;
    let z = a;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

export function rng(seed) {
  const s = splitmix32(seed >>> 0);
  let a = s(), b = s(), c = s(), d = s();
  const next = () => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return t >>> 0;
  };
  return {
    u32: next,
    /** integer in [0, n) */
    int: (n) => next() % n,
    /** float in [0, 1) */
    float: () => next() / 4294967296,
  };
}

/** `count` distinct client identities, the same for every library. */
export function clientIds(seed, count) {
  const r = rng(seed ^ 0x5eed);
  const seen = new Set();
  const out = [];
  while (out.length < count) {
    const hi = r.u32() || 1;
    const lo = r.u32();
    if (seen.has(hi)) continue;
    seen.add(hi);
    const hex = hi.toString(16).padStart(8, "0") + lo.toString(16).padStart(8, "0");
    // yjs wants a uint32 clientID, loro a u64 peer id, automerge an even-length hex actor, slotkv any string.
    out.push({ index: out.length, hex, u32: hi, big: (BigInt(hi) << 32n) | BigInt(lo) });
  }
  return out;
}
