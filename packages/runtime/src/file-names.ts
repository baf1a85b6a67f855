/**
 * File names for downloads, shared by the coordinator (which plans a unique name
 * for every item of a job) and the fetch worker (which never trusts a name it is
 * given). A name comes from the item, the URL or the server's
 * Content-Disposition, and is untrusted either way: it is reduced to one safe
 * path segment that is valid on Linux, macOS and Windows file systems.
 *
 * This module imports nothing, so that fetch threads can load it through the
 * `@spindle/runtime/file-names` entry point without the rest of the runtime.
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
// Windows device names, matched against the part before the first dot with trailing
// spaces trimmed (Windows ignores the extension and trailing dots and spaces). Besides
// the DOS names, Windows reserves COM and LPT with a superscript 1-3 (¹ ² ³) and the
// console buffers CONIN$ and CONOUT$.
const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)$/i;

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
 * - Windows device names get a `_` prefix, in any case, with or without an
 *   extension (`CON`, `nul.txt`, `Com1 .log`, `lpt²`, `CONIN$`, `conout$.txt`):
 *   `CON`, `PRN`, `AUX`, `NUL`, `COM0`–`COM9`, `COM¹`–`COM³`, `LPT0`–`LPT9`,
 *   `LPT¹`–`LPT³`, `CONIN$`, `CONOUT$`.
 * - The result is at most `maxBytes` UTF-8 bytes, cut on a code point boundary;
 *   a short extension is kept (`very-long….csv`).
 * - An empty result becomes {@link FALLBACK_FILE_NAME}.
 */
export function sanitizeFileName(raw: string, maxBytes = MAX_FILE_NAME_BYTES): string {
  return isPlainSafeName(raw, maxBytes) ? raw : sanitizeAnyFileName(raw, maxBytes);
}

/**
 * {@link sanitizeFileName} without its fast path for plain names.
 * @internal exported for the test that proves the fast path changes nothing.
 */
export function sanitizeAnyFileName(raw: string, maxBytes = MAX_FILE_NAME_BYTES): string {
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
 * A name every rule of {@link sanitizeFileName} would keep as it is: ASCII letters,
 * digits, `.`, `_` and `-` only, not starting with `.`, not ending with `.`, not a
 * Windows device name, and short enough. Most names are like this (`data-01.csv`),
 * and the coordinator sanitizes every item's name when it plans a job, on the way
 * to the job's first download: 5,000 names took 4.6 ms through the general path
 * (NFC, four regular expressions, a split), ~0.9 ms through this check.
 */
export function isPlainSafeName(raw: string, maxBytes = MAX_FILE_NAME_BYTES): boolean {
  if (raw.length > maxBytes || !PLAIN_SAFE_NAME.test(raw) || raw.charCodeAt(raw.length - 1) === 0x2e /* '.' */) return false;
  // In this alphabet a Windows device name (CON, COM1…) has 3 or 4 characters before the first dot.
  const dot = raw.indexOf('.');
  const stem = dot < 0 ? raw.length : dot;
  return (stem !== 3 && stem !== 4) || !WINDOWS_RESERVED.test(raw.slice(0, stem));
}

const PLAIN_SAFE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

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
  if (utf8Length(s) <= maxBytes) return s;
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
  if (utf8Length(name) <= maxBytes) return name;
  const { stem, ext } = splitExtension(name);
  const extBytes = utf8Length(ext);
  if (ext !== '' && extBytes < maxBytes) {
    const cut = truncateUtf8(stem, maxBytes - extBytes).replace(/[. ]+$/, '');
    if (cut !== '') return cut + ext;
  }
  return truncateUtf8(name, maxBytes).replace(/[. ]+$/, '');
}

/** Length of `s` in UTF-8 bytes (no Buffer, so that this module runs anywhere). */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

/**
 * Splits a name into stem and extension at the last dot. Only a short extension
 * (at most 16 UTF-8 bytes, after a non-empty stem) counts as one: `a.tar.gz` is
 * `a.tar` + `.gz`, `v1.0-final-release-candidate` has none.
 */
export function splitExtension(name: string): { stem: string; ext: string } {
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return { stem: name, ext: '' };
  const ext = name.slice(dot);
  if (utf8Length(ext) > MAX_KEPT_EXTENSION_BYTES || /[ ]/.test(ext)) return { stem: name, ext: '' };
  return { stem: name.slice(0, dot), ext };
}

/**
 * The k-th alternative of a sanitized name: `report (k).csv`, cut to
 * {@link MAX_FILE_NAME_BYTES} without touching the suffix or the extension.
 * Used for duplicate names within a job and for `if_exists: RENAME`.
 */
export function numberedFileName(name: string, k: number, maxBytes = MAX_FILE_NAME_BYTES): string {
  const { stem, ext } = splitExtension(name);
  const suffix = ` (${k})${ext}`;
  const room = Math.max(1, maxBytes - utf8Length(suffix));
  return truncateUtf8(stem, room) + suffix;
}

/**
 * The key two names collide under: case-insensitive, because Windows and macOS
 * file systems are, and a job's folder may be copied to one.
 */
export function fileNameKey(name: string): string {
  return name.toLowerCase();
}

/** Whether a raw name (from a URL or a header) contains anything usable as a file name. */
export function hasUsableName(raw: string): boolean {
  return lastSegment(raw.normalize('NFC')).replace(/[. ]+$/, '').replace(/^ +/, '') !== '';
}

/** The name planned for one item of a fetch job. */
export interface PlannedFileName {
  /** Sanitized, unique within the job (case-insensitively). */
  name: string;
  /**
   * True when neither the item nor its URL gives a name (`https://host/dir/`)
   * and no item of the job has a name of its own: `name` is then a placeholder
   * (`download`, `download (1)`, …) that the worker replaces with the server's
   * Content-Disposition file name when the response has one, it is not itself
   * placeholder-like ({@link isPlaceholderName}), and no file of that name
   * exists yet. In a job where other items have their own names, a response's
   * name could be one of theirs, and the item planned to have it would then
   * replace the file (or, with RENAME, the names would depend on which finished
   * first): such a job keeps its placeholders.
   */
  fromResponse: boolean;
}

/**
 * Whether `name` has the form of a placeholder ({@link FALLBACK_FILE_NAME} or
 * its numbered forms), case-insensitively. A worker does not take such a name
 * from Content-Disposition: it may be another item's placeholder.
 */
export function isPlaceholderName(name: string): boolean {
  return PLACEHOLDER_RE.test(name);
}

const PLACEHOLDER_RE = new RegExp(`^${FALLBACK_FILE_NAME}(?: \\([1-9][0-9]*\\))?$`, 'i');

/**
 * Plans the file names of a job's items, deterministically from the item list
 * alone (the rule is documented in docs/worker-protocol.md):
 *
 * 1. Each item's name is its `file_name`, else the last segment of its URL path
 *    (percent-decoded), else `download`; then {@link sanitizeFileName}.
 * 2. Names are compared case-insensitively. The item with the lowest index
 *    keeps a name; every later item with the same name gets the first free
 *    `stem (k).ext` (k = 1, 2, …), where "free" means no item's own name from
 *    step 1 and no earlier numbered name uses it. So an item's own name is
 *    never taken away by another item's numbered name.
 *
 * Runs in O(items) (plus the numbered names tried), so 100,000 identical names
 * are fine.
 */
export function planFileNames(items: ReadonlyArray<{ fileName: string; url: string | URL }>): PlannedFileName[] {
  const base: PlannedFileName[] = items.map((item) => {
    if (item.fileName !== '') return { name: sanitizeFileName(item.fileName), fromResponse: false };
    let raw = '';
    try {
      raw = fileNameFromUrl(typeof item.url === 'string' ? new URL(item.url) : item.url);
    } catch {
      // An invalid URL is the caller's error to report; it still gets a name here.
    }
    // A plain safe name is its own sanitized form, and usable.
    if (isPlainSafeName(raw)) return { name: raw, fromResponse: false };
    return { name: sanitizeAnyFileName(raw), fromResponse: !hasUsableName(raw) };
  });
  const keys = base.map((p) => fileNameKey(p.name));
  const owner = new Map<string, number>();
  keys.forEach((key, i) => {
    if (!owner.has(key)) owner.set(key, i);
  });
  const nextK = new Map<string, number>();
  // Content-Disposition names only where no item has a name of its own (see PlannedFileName).
  const fromResponse = base.every((p) => p.fromResponse);
  return base.map((p, i) => {
    const key = keys[i]!;
    if (owner.get(key) === i) return fromResponse === p.fromResponse ? p : { name: p.name, fromResponse: false };
    let k = nextK.get(key) ?? 1;
    let candidate = numberedFileName(p.name, k);
    while (owner.has(fileNameKey(candidate))) candidate = numberedFileName(p.name, ++k);
    nextK.set(key, k + 1);
    owner.set(fileNameKey(candidate), i);
    return { name: candidate, fromResponse };
  });
}
