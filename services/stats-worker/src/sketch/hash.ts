/**
 * Hashes for distinct counting, computed without creating strings: two independent 32-bit
 * hashes per value, so that a HyperLogLog can take its register index from one and its rank
 * from the other (46 useful bits at precision 14), and so that exact sets can probe with one.
 */

/** MurmurHash3's 32-bit finaliser: full avalanche of a 32-bit state. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

/**
 * The two hashes of a finite double, from its bits. `+0` and `-0` must be normalised by the
 * caller (`v + 0`), since they are equal but have different bits.
 * Writes the second hash to `out[0]` and returns the first.
 */
export function hashDouble(v: number, out: Uint32Array): number {
  f64[0] = v;
  const lo = u32[0]!;
  const hi = u32[1]!;
  out[0] = fmix32(Math.imul(hi, 0x9e3779b1) ^ lo ^ 0x5bd1e995);
  return fmix32(Math.imul(lo, 0xcc9e2d51) ^ hi);
}

/**
 * The two hashes of `buf[start, end)`: FNV-1a-style byte loops with different primes and
 * seeds, each finished with {@link fmix32}. Writes the second hash to `out[0]` and returns
 * the first.
 */
export function hashBytes(buf: Uint8Array, start: number, end: number, out: Uint32Array): number {
  let h1 = 0x811c9dc5;
  let h2 = 0x2545f491 ^ (end - start);
  for (let i = start; i < end; i++) {
    const c = buf[i]!;
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995);
  }
  out[0] = fmix32(h2 ^ (h2 >>> 15));
  return fmix32(h1);
}
