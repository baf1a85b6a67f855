/**
 * The few response headers a download interprets beyond status and length:
 * Content-Disposition (file names), Content-Range and validators (resume).
 * Pure functions, no I/O.
 */

/**
 * The file name in a Content-Disposition header (RFC 6266), or '' when it has
 * none. `filename*` (RFC 8187, UTF-8 or ISO-8859-1, percent-encoded) wins over
 * `filename`. The result is untrusted: sanitize it before use.
 */
export function contentDispositionFileName(header: string | undefined): string {
  if (header === undefined) return '';
  const params = parseParameters(header);
  const extended = params.get('filename*');
  if (extended !== undefined) {
    const decoded = decodeExtValue(extended);
    if (decoded !== null && decoded !== '') return decoded;
  }
  return params.get('filename') ?? '';
}

/** The `;`-separated parameters after the disposition type, names lowercased; quoted strings unescaped. */
function parseParameters(header: string): Map<string, string> {
  const params = new Map<string, string>();
  let i = header.indexOf(';');
  while (i >= 0 && i < header.length) {
    i++; // past ';'
    while (header[i] === ' ' || header[i] === '\t') i++;
    const eq = header.indexOf('=', i);
    if (eq < 0) break;
    const name = header.slice(i, eq).trim().toLowerCase();
    i = eq + 1;
    while (header[i] === ' ' || header[i] === '\t') i++;
    let value = '';
    if (header[i] === '"') {
      i++;
      while (i < header.length && header[i] !== '"') {
        if (header[i] === '\\' && i + 1 < header.length) i++;
        value += header[i];
        i++;
      }
      i = header.indexOf(';', i);
    } else {
      const end = header.indexOf(';', i);
      value = (end < 0 ? header.slice(i) : header.slice(i, end)).trim();
      i = end;
    }
    // The first occurrence wins; a repeated parameter is a server error (RFC 6266 §4.1).
    if (name !== '' && !params.has(name)) params.set(name, value);
    if (i < 0) break;
  }
  return params;
}

/** Decodes an RFC 8187 ext-value `charset'language'pct-encoded`; null when malformed or an unknown charset. */
function decodeExtValue(value: string): string | null {
  const m = /^([A-Za-z0-9!#$%&+^_`{}~-]+)'[^']*'(.*)$/.exec(value);
  if (m === null) return null;
  const charset = (m[1] ?? '').toLowerCase();
  const encoded = m[2] ?? '';
  if (charset === 'utf-8') {
    try {
      return decodeURIComponent(encoded);
    } catch {
      return null;
    }
  }
  if (charset === 'iso-8859-1') {
    return encoded.replace(/%([0-9A-Fa-f]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  }
  return null;
}

/** A parsed `Content-Range: bytes first-last/complete` (complete null for `*`). */
export interface ContentRange {
  first: number;
  last: number;
  complete: number | null;
}

/** Parses a byte Content-Range of a 206 response; null when absent or malformed. */
export function parseContentRange(header: string | undefined): ContentRange | null {
  if (header === undefined) return null;
  const m = /^\s*bytes\s+(\d+)-(\d+)\/(\d+|\*)\s*$/i.exec(header);
  if (m === null) return null;
  const first = Number(m[1]);
  const last = Number(m[2]);
  const complete = m[3] === '*' ? null : Number(m[3]);
  if (!Number.isSafeInteger(first) || !Number.isSafeInteger(last) || last < first) return null;
  if (complete !== null && (!Number.isSafeInteger(complete) || last >= complete)) return null;
  return { first, last, complete };
}

/**
 * The validator to send in If-Range when resuming a response with these
 * headers, or '' when it cannot be resumed safely. A strong ETag is preferred;
 * weak ETags are not allowed in If-Range (RFC 9110 §13.1.5), so then the
 * Last-Modified date is used. Without either, a range could splice two
 * different versions of the file together, so there is no resume.
 */
export function resumeValidator(etag: string | undefined, lastModified: string | undefined): string {
  if (etag !== undefined && /^"[^"]*"$/.test(etag.trim())) return etag.trim();
  if (lastModified !== undefined && Number.isFinite(Date.parse(lastModified))) return lastModified.trim();
  return '';
}

/** Whether a response says the server serves byte ranges of this resource. */
export function acceptsByteRanges(acceptRanges: string | undefined): boolean {
  return acceptRanges !== undefined && /(^|,)\s*bytes\s*(,|$)/i.test(acceptRanges);
}
