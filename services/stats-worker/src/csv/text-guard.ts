import { isUtf8 } from 'node:buffer';
import { StatsError } from '../errors';

/**
 * Refuses input that is not UTF-8 text, chunk by chunk: a NUL byte means a binary file
 * (no text CSV has one), and any invalid UTF-8 sequence means another encoding or binary
 * data. Both checks run in native code (memchr, simdutf) at many GB/s, so the parser's
 * own byte loop stays free of them. A multi-byte character split across two chunks is
 * carried over and checked with the next chunk.
 */
export class TextGuard {
  #carry: Buffer = Buffer.alloc(0);
  /** Absolute offset of the next chunk's first byte, for error messages. */
  #offset = 0;

  /** Checks the next chunk. Throws CSV_MALFORMED naming the offset of the first bad byte. */
  check(chunk: Uint8Array): void {
    const base = this.#offset;
    this.#offset += chunk.length;
    const nul = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length).indexOf(0);
    if (nul !== -1) {
      throw new StatsError(
        'CSV_MALFORMED',
        `binary file, not CSV text: NUL byte at byte offset ${base + nul}`,
      );
    }
    let start = 0;
    if (this.#carry.length > 0) {
      // Complete the character split by the previous chunk boundary.
      const need = sequenceLength(this.#carry[0]!) - this.#carry.length;
      const take = Math.min(need, chunk.length);
      const joined = Buffer.concat([this.#carry, chunk.subarray(0, take)]);
      if (take < need) {
        this.#carry = joined;
        return;
      }
      if (!isUtf8(joined)) this.#fail(base - this.#carry.length, joined);
      this.#carry = Buffer.alloc(0);
      start = take;
    }
    const tail = incompleteTailStart(chunk, start);
    if (!isUtf8(chunk.subarray(start, tail))) this.#fail(base + start, chunk.subarray(start, tail));
    this.#carry = Buffer.from(chunk.subarray(tail));
  }

  /** Call at end of input: a character cut off by EOF is invalid too. */
  end(): void {
    if (this.#carry.length > 0) {
      this.#fail(this.#offset - this.#carry.length, this.#carry);
    }
  }

  #fail(base: number, bytes: Uint8Array): never {
    throw new StatsError(
      'CSV_MALFORMED',
      `not UTF-8 text (binary file or another encoding): invalid UTF-8 at byte offset ${
        base + firstInvalidUtf8(bytes)
      }`,
    );
  }
}

/** Length of the UTF-8 sequence a lead byte announces (1 for ASCII and stray bytes). */
function sequenceLength(lead: number): number {
  if (lead >= 0xf0) return 4;
  if (lead >= 0xe0) return 3;
  if (lead >= 0xc0) return 2;
  return 1;
}

/** Index where an incomplete multi-byte sequence at the end of `buf` starts, else `buf.length`. */
function incompleteTailStart(buf: Uint8Array, start: number): number {
  const len = buf.length;
  for (let k = 1; k <= 3 && len - k >= start; k++) {
    const b = buf[len - k]!;
    if ((b & 0xc0) === 0x80) continue; // continuation byte: look further back
    if (b >= 0xc0 && sequenceLength(b) > k) return len - k;
    return len;
  }
  return len;
}

/** Offset of the first invalid byte in `bytes` (slow; only used to word an error). */
function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const n = sequenceLength(bytes[i]!);
    if (n === 1 && bytes[i]! >= 0x80) return i;
    if (i + n > bytes.length || !isUtf8(bytes.subarray(i, i + n))) return i;
    i += n;
  }
  return 0;
}
