/**
 * Booleans and ISO 8601 dates/datetimes, parsed straight from CSV bytes (ASCII only, no
 * string per cell). The caller trims blanks first.
 */

/** `true`/`false`, `yes`/`no`, `t`/`f` in any letter case: 1, 0, or -1 when not a boolean. */
export function parseBoolean(buf: Uint8Array, start: number, end: number): number {
  const len = end - start;
  if (len < 1 || len > 5) return -1;
  const c = buf[start]! | 0x20;
  // Cheap first-letter test: most text cells fail here.
  if (c !== 0x74 && c !== 0x66 && c !== 0x79 && c !== 0x6e) return -1;
  let word = 0;
  for (let i = start; i < end; i++) {
    const b = buf[i]!;
    if (b < 0x41 || b > 0x7a) return -1;
    word = word * 32 + ((b | 0x20) - 0x60);
  }
  switch (word) {
    case TRUE:
    case YES:
    case T:
      return 1;
    case FALSE:
    case NO:
    case F:
      return 0;
    default:
      return -1;
  }
}

function wordOf(text: string): number {
  let w = 0;
  for (const ch of text) w = w * 32 + (ch.charCodeAt(0) - 0x60);
  return w;
}
const TRUE = wordOf('true');
const FALSE = wordOf('false');
const YES = wordOf('yes');
const NO = wordOf('no');
const T = wordOf('t');
const F = wordOf('f');

/** Where {@link parseTemporal} puts its answer. */
export interface ParsedTemporal {
  /** Milliseconds since 1970-01-01T00:00Z; a datetime without an offset is taken as UTC. */
  ms: number;
  /** True for a datetime, false for a plain date. */
  hasTime: boolean;
}

/**
 * Parses an ISO 8601 date `YYYY-MM-DD` or datetime
 * `YYYY-MM-DD[T| ]HH:MM[:SS[.fraction]][Z|±HH[:MM]|±HHMM]`, with real calendar checks (month
 * lengths, leap years, hours 0-23, minutes and seconds 0-59). Fractions beyond milliseconds
 * are truncated. Returns false for anything else.
 */
export function parseTemporal(buf: Uint8Array, start: number, end: number, out: ParsedTemporal): boolean {
  const len = end - start;
  if (len < 10 || len > 40) return false;
  const year = digits(buf, start, 4);
  if (year < 0 || buf[start + 4] !== 0x2d) return false;
  const month = digits(buf, start + 5, 2);
  if (month < 1 || month > 12 || buf[start + 7] !== 0x2d) return false;
  const day = digits(buf, start + 8, 2);
  if (day < 1 || day > daysInMonth(year, month)) return false;
  let ms = daysFromCivil(year, month, day) * 86_400_000;
  if (len === 10) {
    out.ms = ms;
    out.hasTime = false;
    return true;
  }
  let p = start + 10;
  const sep = buf[p];
  if ((sep !== 0x54 && sep !== 0x74 && sep !== 0x20) || end - p < 6) return false;
  const hour = digits(buf, p + 1, 2);
  if (hour < 0 || hour > 23 || buf[p + 3] !== 0x3a) return false;
  const minute = digits(buf, p + 4, 2);
  if (minute < 0 || minute > 59) return false;
  p += 6;
  let second = 0;
  let millis = 0;
  if (p < end && buf[p] === 0x3a) {
    second = digits(buf, p + 1, 2);
    if (second < 0 || second > 59 || p + 3 > end) return false;
    p += 3;
    if (p < end && (buf[p] === 0x2e || buf[p] === 0x2c)) {
      p++;
      const fractionStart = p;
      let scale = 100;
      while (p < end && buf[p]! >= 0x30 && buf[p]! <= 0x39) {
        millis += (buf[p]! - 0x30) * scale;
        scale /= 10;
        p++;
      }
      if (p === fractionStart) return false;
      millis = Math.floor(millis);
    }
  }
  ms += ((hour * 60 + minute) * 60 + second) * 1000 + millis;
  if (p < end) {
    const z = buf[p]!;
    if (z === 0x5a || z === 0x7a) {
      p++;
    } else if (z === 0x2b || z === 0x2d) {
      const offsetHours = digits(buf, p + 1, 2);
      if (offsetHours < 0 || offsetHours > 23) return false;
      p += 3;
      let offsetMinutes = 0;
      if (p < end) {
        if (buf[p] === 0x3a) p++;
        offsetMinutes = digits(buf, p, 2);
        if (offsetMinutes < 0 || offsetMinutes > 59) return false;
        p += 2;
      }
      const offset = (offsetHours * 60 + offsetMinutes) * 60_000;
      ms -= z === 0x2b ? offset : -offset;
    } else {
      return false;
    }
  }
  if (p !== end) return false;
  out.ms = ms;
  out.hasTime = true;
  return true;
}

/** `n` ASCII digits at `buf[p]` as a number, or -1 (also when they run past the buffer). */
function digits(buf: Uint8Array, p: number, n: number): number {
  let v = 0;
  for (let i = 0; i < n; i++) {
    const d = (buf[p + i] ?? 0) - 0x30;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}
