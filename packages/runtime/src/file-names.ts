/**
 * File names for downloads. A name comes from the task (`FetchTask.file_name`) or
 * from the URL, and is untrusted either way: it is reduced to one safe path
 * segment that is valid on Linux, macOS and Windows file systems.
 */

/** Longest file name produced, in UTF-8 bytes (most file systems allow 255). */
export const MAX_FILE_NAME_BYTES = 200;

/** The name used when nothing usable is left of the given one. */
export const FALLBACK_FILE_NAME = 'download';

/** Longest extension kept intact when a long name is truncated, in UTF-8 bytes. */
const MAX_KEPT_EXTENSION_BYTES = 16;

// C0 and C1 control characters, DEL, the characters Windows forbids, and the
// bidirectional controls that make "evil\u202Etxt.exe" display as "evilexe.txt".
const UNSAFE_CHARS = /[\u0000-\u001f\u007f-\u009f<>:"|?*\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const LONE_SURROGATES = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])$/i;

/**
 * Turns an untrusted name into one safe file name:
 *
 * - Directories are dropped: the name is the last segment after `/` or `\` that
 *   is not empty, `.` or `..` (so `../../etc/passwd` becomes `passwd`, `a/b`
 *   becomes `b`), as browsers do with Content-Disposition names (RFC 6266 §4.3).
 * - Unicode is NFC-normalised; control characters, bidi overrides, lone
 *   surrogates and `< > : " | ? *` become `_`.
 * - Trailing dots and spaces (invalid on Windows) and leading spaces are removed.
 * - A name starting with `.` gets a `_` prefix, so downloads are never hidden
 *   files and can never look like this worker's `.…part` temporary files.
 * - Windows device names (`CON`, `nul.txt`, `COM1`, …) get a `_` prefix.
 * - The result is at most `maxBytes` UTF-8 bytes, cut on a code point boundary;
 *   a short extension is kept (`very-long….csv`).
 * - An empty result becomes {@link FALLBACK_FILE_NAME}.
 */
export function sanitizeFileName(raw: string, maxBytes = MAX_FILE_NAME_BYTES): string {
  let name = lastSegment(raw.normalize('NFC'));
  name = name.replace(LONE_SURROGATES, '_').replace(UNSAFE_CHARS, '_');
  name = name.replace(/[. ]+$/, '').replace(/^ +/, '');
  if (name === '') return FALLBACK_FILE_NAME;
  if (name.startsWith('.')) name = `_${name}`;
  const stem = name.split('.', 1)[0] ?? '';
  if (WINDOWS_RESERVED.test(stem.trimEnd())) name = `_${name}`;
  name = truncateKeepingExtension(name, maxBytes);
  return name === '' ? FALLBACK_FILE_NAME : name;
}

/**
 * The file name a URL suggests: the last segment of its path, percent-decoded
 * (left as is when it is not valid UTF-8). Empty when the path ends in `/`.
 * The result is untrusted; pass it through {@link sanitizeFileName}.
 */
export function fileNameFromUrl(url: URL): string {
  const segment = url.pathname.slice(url.pathname.lastIndexOf('/') + 1);
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** The file name a download is saved under: the task's name if any, else the URL's; sanitized. */
export function deriveFileName(taskFileName: string, url: URL): string {
  return sanitizeFileName(taskFileName !== '' ? taskFileName : fileNameFromUrl(url));
}

function lastSegment(name: string): string {
  const segments = name.split(/[/\\]/);
  for (let i = segments.length - 1; i >= 0; i--) {
    const s = segments[i];
    if (s !== undefined && s !== '' && s !== '.' && s !== '..') return s;
  }
  return '';
}

/** Cuts `s` to at most `maxBytes` UTF-8 bytes without splitting a code point. */
export function truncateUtf8(s: string, maxBytes: number): string {
  if (Buffer.byteLength(s, 'utf8') <= maxBytes) return s;
  let bytes = 0;
  let end = 0;
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    const n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (bytes + n > maxBytes) break;
    bytes += n;
    end += ch.length;
  }
  return s.slice(0, end);
}

function truncateKeepingExtension(name: string, maxBytes: number): string {
  if (Buffer.byteLength(name, 'utf8') <= maxBytes) return name;
  const dot = name.lastIndexOf('.');
  const ext = dot > 0 ? name.slice(dot) : '';
  const extBytes = Buffer.byteLength(ext, 'utf8');
  if (ext !== '' && extBytes <= MAX_KEPT_EXTENSION_BYTES && extBytes < maxBytes) {
    const stem = truncateUtf8(name.slice(0, dot), maxBytes - extBytes).replace(/[. ]+$/, '');
    if (stem !== '') return stem + ext;
  }
  return truncateUtf8(name, maxBytes).replace(/[. ]+$/, '');
}
