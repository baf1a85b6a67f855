/**
 * Decimal number parsing straight from CSV bytes, without creating a string per cell.
 *
 * Accepted grammar (after the caller trims ASCII blanks):
 *   [+-]? ( digits [ "." digits? ] | "." digits ) ( [eE] [+-]? digits )?
 * Everything else is not a number: "12x", "abc", "?", "n/a", "0x1F", "Infinity", "NaN", "1_000".
 * (Number() accepts some of those; a CSV statistics engine should not.) Values that overflow to
 * ±Infinity ("1e400") are rejected too, so that one cell cannot turn a column's mean into NaN.
 *
 * The value is exactly what Number() returns for the same text: the fast path is Clinger's (an
 * integer mantissa below 2^53 scaled by an exact power of ten ≤ 10^22 is one correctly rounded
 * IEEE operation); anything beyond it falls back to Number() on the exact substring.
 */

/** Where {@link parseNumber} puts its answer, so that parsing allocates nothing. */
export interface ParsedNumber {
  value: number;
  /** True when the text is an integer literal: `[+-]?digits`, no point, no exponent. */
  integer: boolean;
}

const POW10: readonly number[] = Array.from({ length: 23 }, (_, i) => 10 ** i);
const MAX_EXACT_MANTISSA = Number.MAX_SAFE_INTEGER;

/**
 * Parses `buf[start, end)` as a decimal number into `out`. Returns false (leaving `out`
 * unspecified) when the bytes are not a number under the grammar above. The range must not
 * have leading or trailing blanks.
 */
export function parseNumber(buf: Uint8Array, start: number, end: number, out: ParsedNumber): boolean {
  let p = start;
  if (p >= end) return false;
  let c = buf[p]!;
  let negative = false;
  if (c === 0x2d /* - */ || c === 0x2b /* + */) {
    negative = c === 0x2d;
    p++;
  }
  let mantissa = 0;
  let digits = 0;
  let fractionDigits = 0;
  let integer = true;
  while (p < end) {
    c = buf[p]! - 0x30;
    if (c < 0 || c > 9) break;
    mantissa = mantissa * 10 + c;
    digits++;
    p++;
  }
  if (p < end && buf[p] === 0x2e /* . */) {
    integer = false;
    p++;
    while (p < end) {
      c = buf[p]! - 0x30;
      if (c < 0 || c > 9) break;
      mantissa = mantissa * 10 + c;
      fractionDigits++;
      p++;
    }
    digits += fractionDigits;
  }
  if (digits === 0) return false;
  let exponent = 0;
  if (p < end && (buf[p]! | 0x20) === 0x65 /* e or E */) {
    integer = false;
    p++;
    let exponentNegative = false;
    if (p < end && (buf[p] === 0x2d || buf[p] === 0x2b)) {
      exponentNegative = buf[p] === 0x2d;
      p++;
    }
    const exponentStart = p;
    while (p < end) {
      c = buf[p]! - 0x30;
      if (c < 0 || c > 9) break;
      // Saturate: the fallback below handles the real magnitude.
      if (exponent < 100_000) exponent = exponent * 10 + c;
      p++;
    }
    if (p === exponentStart) return false;
    if (exponentNegative) exponent = -exponent;
  }
  if (p !== end) return false;

  let value: number;
  const scale = exponent - fractionDigits;
  if (mantissa === 0) {
    value = 0;
  } else if (mantissa <= MAX_EXACT_MANTISSA && scale >= -22 && scale <= 22) {
    value = scale < 0 ? mantissa / POW10[-scale]! : mantissa * POW10[scale]!;
  } else {
    // Rare (more than 15-16 significant digits, or a large exponent): exact text to Number().
    value = Math.abs(Number(Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString('latin1')));
    if (!Number.isFinite(value)) return false;
  }
  out.value = negative ? -value : value;
  out.integer = integer;
  return true;
}
