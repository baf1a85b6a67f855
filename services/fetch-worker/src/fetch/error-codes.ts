import type { TaskError } from '@spindle/sdk';

/**
 * A TaskError with the fields this module does not set zeroed. Written out rather than
 * `TaskError.create` so that thread code does not load the SDK (and gRPC) at start.
 */
function taskError(
  e: Pick<TaskError, 'code' | 'message' | 'retryable' | 'httpStatus'> & Partial<TaskError>,
): TaskError {
  return { retryAfterMs: 0, attempts: 0, ...e };
}

/**
 * The failure classes a fetch task can end with (TaskError.code; the list and
 * what each means is in types.proto and docs/worker-protocol.md).
 */
export type FetchErrorCode =
  | 'INVALID_SPEC'
  | 'DNS'
  | 'CONNECT'
  | 'TLS'
  | 'TIMEOUT'
  | 'HTTP_STATUS'
  | 'TRUNCATED'
  | 'PROTOCOL'
  | 'CHECKSUM_MISMATCH'
  | 'TOO_LARGE'
  | 'POLICY'
  | 'REDIRECT'
  | 'PATH_FORBIDDEN'
  | 'CANCELLED'
  | 'INTERNAL';

/** Options of a {@link FetchError} besides code and message. */
export interface FetchErrorOptions {
  /** Another attempt may succeed. @default false */
  retryable?: boolean;
  /** Last HTTP status seen, 0 when none. @default 0 */
  httpStatus?: number;
  /** From a Retry-After header: wait at least this long before the next attempt, in ms. @default 0 */
  retryAfterMs?: number;
  cause?: unknown;
}

/**
 * A download failure that already knows its task error. Lives inside one thread:
 * it crosses the thread boundary only as a plain {@link TaskError} (see `toTaskError`).
 */
export class FetchError extends Error {
  override readonly name = 'FetchError';
  readonly retryable: boolean;
  readonly httpStatus: number;
  readonly retryAfterMs: number;

  constructor(
    readonly code: FetchErrorCode,
    message: string,
    options: FetchErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.retryable = options.retryable ?? false;
    this.httpStatus = options.httpStatus ?? 0;
    this.retryAfterMs = options.retryAfterMs ?? 0;
  }
}

/**
 * `err` with `status` as its HTTP status when it has none: a failure after a
 * response (a body cut short, too large or stalled; a redirect to a refused
 * address) still names the last status the server sent.
 */
export function withHttpStatus(err: FetchError, status: number): FetchError {
  if (err.httpStatus !== 0 || status === 0) return err;
  return new FetchError(err.code, err.message, {
    retryable: err.retryable,
    httpStatus: status,
    retryAfterMs: err.retryAfterMs,
    cause: err.cause,
  });
}

/**
 * HTTP statuses worth another attempt: undici's RetryHandler defaults plus 408.
 * Every other 4xx is the client's problem and will not change by asking again.
 */
export const RETRYABLE_HTTP_STATUSES: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504]);

/** Statuses whose Retry-After header is honoured (RFC 9110 §10.2.3: 503, and 429 by RFC 6585). */
const RETRY_AFTER_STATUSES: ReadonlySet<number> = new Set([429, 503]);

/** Longest Retry-After passed on, in ms; the coordinator waits it out up to SPINDLE_MAX_RETRY_AFTER_MS and fails the item beyond. */
const MAX_RETRY_AFTER_MS = 24 * 3600 * 1000;

/**
 * Parses a Retry-After header value (RFC 9110 §10.2.3): delay-seconds or an
 * HTTP-date. Returns the wait in ms (0 when absent, invalid or in the past).
 */
export function parseRetryAfter(value: string | undefined, nowMs = Date.now()): number {
  if (value === undefined) return 0;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Math.min(Number(v) * 1000, MAX_RETRY_AFTER_MS);
  // HTTP-dates (all three forms) start with a day name; Date.parse alone would accept far more.
  if (!/^(mon|tue|wed|thu|fri|sat|sun)/i.test(v)) return 0;
  const at = Date.parse(v);
  if (!Number.isFinite(at)) return 0;
  return Math.min(Math.max(0, at - nowMs), MAX_RETRY_AFTER_MS);
}

/**
 * A non-2xx final response; `finalUrl` is where redirects led, if anywhere
 * else. `retryAfter` is the response's Retry-After header, honoured for 429 and 503.
 */
export function httpStatusError(url: string, status: number, finalUrl = url, retryAfter?: string): FetchError {
  const via = finalUrl === url ? '' : ` (redirected to ${finalUrl})`;
  const retryAfterMs = RETRY_AFTER_STATUSES.has(status) ? parseRetryAfter(retryAfter) : 0;
  const wait = retryAfterMs > 0 ? `, Retry-After ${Math.ceil(retryAfterMs / 1000)} s` : '';
  return new FetchError('HTTP_STATUS', `GET ${url}${via}: server answered HTTP ${status}${wait}`, {
    retryable: RETRYABLE_HTTP_STATUSES.has(status),
    httpStatus: status,
    retryAfterMs,
  });
}

/**
 * Where in a request an error happened: before the response headers arrived
 * (`request`), or while a 2xx body was being received (`body`). The same socket
 * error (a reset, a close) is a CONNECT failure in the first case and a
 * TRUNCATED body in the second.
 */
export type FailurePhase = 'request' | 'body';

const TIMEOUT_CODES: Readonly<Record<string, string>> = {
  UND_ERR_CONNECT_TIMEOUT: 'connect timeout',
  UND_ERR_HEADERS_TIMEOUT: 'timed out waiting for response headers',
  UND_ERR_BODY_TIMEOUT: 'no body data for longer than the idle timeout',
  ETIMEDOUT: 'connection timed out',
};

/** DNS failures: [description, retryable]. A name that does not exist will not exist a second later. */
const DNS_CODES: Readonly<Record<string, readonly [string, boolean]>> = {
  ENOTFOUND: ['host not found', false],
  EAI_NONAME: ['host not found', false],
  EAI_NODATA: ['host has no address', false],
  EAI_AGAIN: ['temporary DNS failure', true],
  EAI_FAIL: ['DNS server failure', true],
};

/** Failures to reach the server at all; always retryable. */
const CONNECT_CODES: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  EHOSTUNREACH: 'host unreachable',
  EHOSTDOWN: 'host down',
  ENETUNREACH: 'network unreachable',
  ENETDOWN: 'network down',
  EADDRNOTAVAIL: 'no local address available',
};

/** The connection broke: before a response a CONNECT failure, during a body a TRUNCATED one. */
const BROKEN_CODES: Readonly<Record<string, string>> = {
  ECONNRESET: 'connection reset',
  ECONNABORTED: 'connection aborted',
  EPIPE: 'connection closed while sending',
  UND_ERR_SOCKET: 'connection closed by the server',
  UND_ERR_CLOSED: 'connection closed',
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: 'body shorter or longer than Content-Length',
  HPE_INVALID_EOF_STATE: 'connection closed before the end of the body',
};

/** Whether a code is a TLS certificate/handshake problem, which another attempt won't fix. */
function isTlsCode(code: string): boolean {
  return (
    code.startsWith('ERR_TLS_') ||
    code.startsWith('ERR_SSL_') ||
    code.startsWith('CERT_') ||
    code.startsWith('UNABLE_TO_') ||
    code === 'DEPTH_ZERO_SELF_SIGNED_CERT' ||
    code === 'SELF_SIGNED_CERT_IN_CHAIN' ||
    code === 'HOSTNAME_MISMATCH'
  );
}

/**
 * Finds the most specific error code on `err`: its own `code`, else the first
 * coded member of an AggregateError (Happy Eyeballs failures), else its `cause`.
 */
export function errorCodeOf(err: unknown, depth = 0): string | undefined {
  if (depth > 4 || typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && code !== '') return code;
  if (err instanceof AggregateError) {
    for (const inner of err.errors) {
      const c = errorCodeOf(inner, depth + 1);
      if (c !== undefined) return c;
    }
  }
  return errorCodeOf((err as { cause?: unknown }).cause, depth + 1);
}

/** A FetchError on `err` or in its cause chain / AggregateError (e.g. raised inside a DNS lookup). */
function findFetchError(err: unknown, depth = 0): FetchError | undefined {
  if (depth > 4 || typeof err !== 'object' || err === null) return undefined;
  if (err instanceof FetchError) return err;
  if (err instanceof AggregateError) {
    for (const inner of err.errors) {
      const f = findFetchError(inner, depth + 1);
      if (f !== undefined) return f;
    }
  }
  return findFetchError((err as { cause?: unknown }).cause, depth + 1);
}

function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/**
 * Classifies any failure of a download of `url` as a {@link FetchError}.
 * FetchErrors (also inside a cause chain) keep their class; undici, socket, DNS
 * and TLS errors are classified by their `code` and `phase`; anything else is
 * INTERNAL (a bug or an unforeseen failure), not retryable.
 */
export function classifyError(err: unknown, url: string, phase: FailurePhase = 'request'): FetchError {
  const known = findFetchError(err);
  if (known !== undefined) return known;
  const code = errorCodeOf(err);
  if (code !== undefined) {
    const timeout = TIMEOUT_CODES[code];
    if (timeout !== undefined) {
      return new FetchError('TIMEOUT', `GET ${url}: ${timeout} (${code})`, { retryable: true, cause: err });
    }
    const dns = DNS_CODES[code];
    if (dns !== undefined) {
      return new FetchError('DNS', `GET ${url}: ${dns[0]} (${code})`, { retryable: dns[1], cause: err });
    }
    const connect = CONNECT_CODES[code];
    if (connect !== undefined) {
      return new FetchError('CONNECT', `GET ${url}: ${connect} (${code})`, { retryable: true, cause: err });
    }
    const broken = BROKEN_CODES[code];
    if (broken !== undefined) {
      return phase === 'body'
        ? new FetchError('TRUNCATED', `GET ${url}: body cut short: ${broken} (${code})`, { retryable: true, cause: err })
        : new FetchError('CONNECT', `GET ${url}: ${broken} before a response (${code})`, { retryable: true, cause: err });
    }
    if (isTlsCode(code)) {
      return new FetchError('TLS', `GET ${url}: TLS failure (${code}): ${messageOf(err)}`, { cause: err });
    }
    if (code.startsWith('HPE_')) {
      // llhttp refused the response: the server speaks broken HTTP, and will again.
      return new FetchError('PROTOCOL', `GET ${url}: malformed HTTP response (${code})`, { cause: err });
    }
  }
  const suffix = code === undefined ? '' : ` (${code})`;
  return new FetchError('INTERNAL', `GET ${url}: ${messageOf(err)}${suffix}`, { cause: err });
}

/** The TaskError of any failure (see {@link classifyError}). */
export function toTaskError(err: unknown, url: string, phase: FailurePhase = 'request'): TaskError {
  const e = classifyError(err, url, phase);
  return taskError({
    code: e.code,
    message: e.message,
    retryable: e.retryable,
    httpStatus: e.httpStatus,
    retryAfterMs: Math.min(e.retryAfterMs, 0xffffffff),
  });
}

/** Local file system failures: out-of-space style errors may pass on another attempt or worker. */
const RETRYABLE_FS_CODES: ReadonlySet<string> = new Set(['ENOSPC', 'EDQUOT', 'EMFILE', 'ENFILE', 'EBUSY']);

/** Wraps a failure to write `relPath` (relative to the data root) as an INTERNAL task error. */
export function fileSystemError(err: unknown, url: string, relPath: string): FetchError {
  if (err instanceof FetchError) return err;
  const code = errorCodeOf(err) ?? 'unknown';
  return new FetchError('INTERNAL', `GET ${url}: cannot write ${relPath} (${code}): ${messageOf(err)}`, {
    retryable: RETRYABLE_FS_CODES.has(code),
    cause: err,
  });
}
