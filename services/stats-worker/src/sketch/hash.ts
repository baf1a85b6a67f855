/**
 * Hashes for distinct counting, computed without creating strings: one 32-bit hash per value,
 * which both probes the exact sets and feeds the HyperLogLog (index from its top bits, rank
 * from the rest; the estimator corrects for 32-bit collisions). One hash instead of two
 * halved the cost of distinct counting, a quarter of a thread's time on numeric files.
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
 * A 32-bit hash of a finite double, from its bits. `+0` and `-0` must be normalised by the
 * caller (`v + 0`), since they are equal but have different bits.
 */
export function hashDouble(v: number): number {
  f64[0] = v;
  return fmix32(Math.imul(u32[0]!, 0xcc9e2d51) ^ Math.imul(u32[1]! ^ 0x5bd1e995, 0x1b873593));
}

/** A 32-bit hash of `buf[start, end)`: FNV-1a over the bytes, finished with {@link fmix32}. */
export function hashBytes(buf: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5 ^ (end - start);
  for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
  return fmix32(h);
}
