import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { UsageError, errorMessage } from '../errors';

/** One URL to download, as given on the command line or in a URL list. */
export interface FetchItemInput {
  url: string;
  /** Bare file name to save under; '' = derived by the worker from the URL. */
  fileName: string;
  /** Expected SHA-256, lowercase hex; '' = not checked. */
  sha256: string;
}

const SHA256_RE = /^[0-9a-fA-F]{64}$/;

const OCTET = '(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';

/**
 * http(s) URLs that the URL parser returns unchanged: a lowercase scheme; a host that is
 * either a lowercase DNS name whose last label starts with a letter (so that no IPv4
 * parsing applies) or a dotted-quad IPv4 address as the parser prints it; a port
 * without leading zeros; a path, and optionally a query, of characters that the parser
 * neither escapes nor interprets (no '%' in the path; no '\', '#', quote, space or
 * non-ASCII anywhere). Punycode labels, default ports and dot segments are left to
 * the parser by {@link isPlainUrl}.
 */
const PLAIN_URL_RE = new RegExp(
  `^https?://(?:(?:[a-z0-9-]+\\.)*[a-z][a-z0-9-]*|(?:${OCTET}\\.){3}${OCTET})(?::[1-9][0-9]{0,4})?` +
    `/[A-Za-z0-9._~!$&()*+,;=:@/-]*(?:\\?[A-Za-z0-9._~!$&()*+,;=:@/?%-]*)?$`,
);
const DOT_SEGMENT_RE = /\/\.\.?(?:[/?]|$)/;

/** True when `new URL(raw).href` is `raw` itself and the URL is http(s) with a host. */
function isPlainUrl(raw: string): boolean {
  if (!PLAIN_URL_RE.test(raw) || raw.includes('xn--') || DOT_SEGMENT_RE.test(raw)) return false;
  // The host starts at 7 or 8 ("http://", "https://") and is not empty; a ':' before the
  // path is the port's.
  const pathStart = raw.indexOf('/', 8);
  const colon = raw.indexOf(':', 7);
  if (colon === -1 || colon > pathStart) return true;
  const port = Number(raw.slice(colon + 1, pathStart));
  return port <= 65535 && port !== (raw.startsWith('https:') ? 443 : 80);
}

/** C0 controls and DEL. */
const CONTROL_RE = /[\x00-\x1f\x7f]/;

/** The authority's userinfo (`user:password@`), up to the last '@' before the path. */
const USERINFO_RE = /^([A-Za-z][A-Za-z0-9+.-]*:[/\\]*)([^/?#\\]*)@/;

/** `raw` with the password of any userinfo replaced by `***`, so that messages never echo it. */
export function redactUrl(raw: string): string {
  return raw.replace(USERINFO_RE, (_all, scheme: string, userinfo: string) => {
    const colon = userinfo.indexOf(':');
    return `${scheme}${colon === -1 ? userinfo : userinfo.slice(0, colon) + ':***'}@`;
  });
}

/**
 * Checks that `raw` is an absolute http or https URL and returns it normalized.
 * @throws Error naming the problem (the caller adds where the URL came from); a
 *   password in the URL is never part of the message.
 */
export function checkUrl(raw: string): string {
  // Most lists hold URLs already in normal form: recognising them skips the URL
  // parser, ~2 µs a URL. Reading a 5,000-URL list took 9.5 ms, now 3.5 ms.
  // (PLAIN_URL_RE has no '@' before the path: a URL with credentials is never plain.)
  if (isPlainUrl(raw)) return raw;
  // The URL parser silently drops tabs and newlines and trims other controls: the URL
  // downloaded would not be the one written.
  const control = CONTROL_RE.exec(raw);
  if (control) {
    const code = control[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
    throw new Error(`URL contains a control character (U+${code}): ${JSON.stringify(redactUrl(raw))}`);
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`not a valid URL: ${redactUrl(raw)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`not an http or https URL: ${redactUrl(raw)}`);
  }
  if (url.hostname === '') throw new Error(`URL has no host: ${redactUrl(raw)}`);
  // The job would store and echo the password everywhere, and the fetch worker refuses
  // such URLs anyway (only after the job was accepted).
  if (url.username !== '' || url.password !== '') {
    throw new Error(`credentials in URLs are not supported: ${redactUrl(raw)}`);
  }
  return url.href;
}

/** Checks a `--sha256` value or list column: 64 hex digits, returned lowercase. */
export function checkSha256(raw: string): string {
  if (!SHA256_RE.test(raw)) throw new Error(`not a SHA-256 (64 hex digits): ${raw}`);
  return raw.toLowerCase();
}

/** Checks a file name for an item: a bare name, no directories. */
export function checkFileName(raw: string): string {
  if (raw === '.' || raw === '..' || raw.includes('/') || raw.includes('\\') || raw.includes('\0')) {
    throw new Error(`not a bare file name: ${raw}`);
  }
  return raw;
}

/**
 * Parses a URL list: one item per line (LF, CRLF or CR line ends), `URL [SHA256]
 * [FILE_NAME]` separated by spaces or tabs (a 64-hex-digit column is the checksum,
 * any other the file name). A `#` at the start of a line or after a space or tab
 * starts a comment that runs to the end of the line; a `#` inside a URL is its
 * fragment. Blank lines are skipped.
 *
 * @param source how to name the list in messages, e.g. the file name or "stdin".
 * @throws UsageError naming the source and line of the first bad entry.
 */
export function parseUrlList(text: string, source: string): FetchItemInput[] {
  const items: FetchItemInput[] = [];
  const lines = text.split(LINE_END_RE);
  for (let i = 0; i < lines.length; i++) {
    const line = withoutComment((lines[i] ?? '').trim());
    if (line === '') continue;
    try {
      items.push(parseListLine(line));
    } catch (err) {
      throw new UsageError(`${source}:${i + 1}: ${errorMessage(err)}`);
    }
  }
  return items;
}

/** What old Mac editors and some exports end lines with, besides LF and CRLF. */
const LINE_END_RE = /\r\n|\r|\n/;

/** `line` (trimmed) without its comment: from a leading `#`, or one after a space or tab. */
function withoutComment(line: string): string {
  if (line.startsWith('#')) return '';
  const hash = line.search(/[ \t]#/);
  return hash === -1 ? line : line.slice(0, hash).trimEnd();
}

/**
 * Decodes a URL list as UTF-8. Invalid bytes would otherwise become U+FFFD and change
 * the URL or file name downloaded, so they are an error naming the line.
 * @throws UsageError for invalid UTF-8 or a UTF-16 list.
 */
export function decodeUrlList(bytes: Uint8Array, source: string): string {
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
    throw new UsageError(`${source}: UTF-16 is not supported, save the list as UTF-8`);
  }
  try {
    // A UTF-8 BOM is dropped, as editors on Windows write one.
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new UsageError(`${source}:${badUtf8Line(bytes)}: not valid UTF-8`);
  }
}

/** The 1-based line (counted as parseUrlList counts lines) of the first invalid UTF-8 sequence. */
function badUtf8Line(bytes: Uint8Array): number {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let line = 1;
  let start = 0;
  for (let i = 0; i <= bytes.length; i++) {
    const b = bytes[i];
    if (i < bytes.length && b !== 0x0a && b !== 0x0d) continue;
    try {
      decoder.decode(bytes.subarray(start, i));
    } catch {
      return line;
    }
    if (b === 0x0d && bytes[i + 1] === 0x0a) i++;
    line++;
    start = i + 1;
  }
  return line;
}

function parseListLine(line: string): FetchItemInput {
  // The common line is a bare URL: no splitting, no columns to look at.
  if (!/[ \t]/.test(line)) return { url: checkUrl(line), fileName: '', sha256: '' };
  const [rawUrl = '', ...rest] = line.split(/[ \t]+/);
  const item: FetchItemInput = { url: checkUrl(rawUrl), fileName: '', sha256: '' };
  for (const column of rest) {
    if (SHA256_RE.test(column) && item.sha256 === '') item.sha256 = column.toLowerCase();
    else if (item.fileName === '') item.fileName = checkFileName(column);
    else throw new Error(`unexpected column "${column}" (expected: URL [SHA256] [FILE_NAME])`);
  }
  return item;
}

/** Where `spindle fetch` takes its URLs from. */
export interface UrlSources {
  /** URLs given as arguments. */
  args: readonly string[];
  /** `-i FILE`: a URL list file, or '-' for stdin. */
  inputFile?: string | undefined;
  /** `--sha256`: checksum of the single URL given. */
  sha256?: string | undefined;
}

/**
 * Collects and checks every item from arguments and the `-i` list.
 * @throws UsageError when there is no URL, the list cannot be read, or an entry is bad.
 */
export async function collectFetchItems(
  sources: UrlSources,
  io: { cwd: string; stdin: Readable },
): Promise<FetchItemInput[]> {
  const items: FetchItemInput[] = [];
  for (const arg of sources.args) {
    try {
      items.push({ url: checkUrl(arg), fileName: '', sha256: '' });
    } catch (err) {
      throw new UsageError(errorMessage(err));
    }
  }
  if (sources.inputFile !== undefined) {
    const name = sources.inputFile === '-' ? 'stdin' : sources.inputFile;
    let bytes: Uint8Array;
    try {
      bytes = sources.inputFile === '-' ? await readAll(io.stdin) : await readFile(path.resolve(io.cwd, sources.inputFile));
    } catch (err) {
      throw new UsageError(`cannot read URL list ${name}: ${errorMessage(err)}`);
    }
    items.push(...parseUrlList(decodeUrlList(bytes, name), name));
  }
  if (items.length === 0) {
    throw new UsageError(
      sources.inputFile === undefined
        ? 'no URLs given: pass URLs as arguments or a URL list with -i FILE'
        : `no URLs in ${sources.inputFile === '-' ? 'stdin' : sources.inputFile}`,
    );
  }
  if (sources.sha256 !== undefined) {
    if (items.length !== 1 || items[0] === undefined) {
      throw new UsageError('--sha256 needs exactly one URL; give per-URL checksums in the -i list instead');
    }
    let sha256: string;
    try {
      sha256 = checkSha256(sources.sha256);
    } catch (err) {
      throw new UsageError(`--sha256: ${errorMessage(err)}`);
    }
    // One of the two is wrong: downloading against either would hide which.
    if (items[0].sha256 !== '' && items[0].sha256 !== sha256) {
      throw new UsageError(`--sha256 ${sha256} differs from the checksum in the URL list (${items[0].sha256})`);
    }
    items[0].sha256 = sha256;
  }
  return items;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks);
}
