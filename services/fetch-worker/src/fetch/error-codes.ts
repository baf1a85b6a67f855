import type { TaskError } from '@spindle/sdk';

/**
 * A TaskError with the fields this module does not set zeroed. Written out rather than
 * `TaskError.create` so that thread code does not load the SDK (and gRPC) at start.
 */
function taskError(e: Pick<TaskError, 'code' | 'message' | 'retryable' | 'httpStatus'> & Partial<TaskError>): TaskError {
  return { retryAfterMs: 0, attempts: 0, ...e };
}

/** The TaskError codes a fetch task can end with (see TaskError in types.proto). */
export type FetchErrorCode =
  | 'INVALID_SPEC'
  | 'HTTP_STATUS'
  | 'NETWORK'
  | 'TIMEOUT'
  | 'TOO_LARGE'
  | 'CHECKSUM_MISMATCH'
  | 'PATH_FORBIDDEN'
  | 'CANCELLED'
  | 'INTERNAL';

/**
 * A download failure that already knows its task error. Lives inside one thread:
 * it crosses the thread boundary only as a plain {@link TaskError} (see `toTaskError`).
 */
export class FetchError extends Error {
  override readonly name = 'FetchError';

  constructor(
    readonly code: FetchErrorCode,
    message: string,
    readonly retryable = false,
    /** Last HTTP status seen, 0 when none. */
    readonly httpStatus = 0,
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
  }
}

/** HTTP statuses worth another attempt, as in undici's RetryHandler defaults plus 408. */
export const RETRYABLE_HTTP_STATUSES: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504]);

/** A non-2xx final response; `finalUrl` is where redirects led, if anywhere else. */
export function httpStatusError(url: string, status: number, finalUrl = url): FetchError {
  const via = finalUrl === url ? '' : ` (redirected to ${finalUrl})`;
  return new FetchError(
    'HTTP_STATUS',
    `GET ${url}${via}: server answered HTTP ${status}`,
    RETRYABLE_HTTP_STATUSES.has(status),
    status,
  );
}

const TIMEOUT_CODES: Readonly<Record<string, string>> = {
  UND_ERR_CONNECT_TIMEOUT: 'connect timeout',
  UND_ERR_HEADERS_TIMEOUT: 'timed out waiting for response headers',
  UND_ERR_BODY_TIMEOUT: 'timed out waiting for body data',
  ETIMEDOUT: 'connection timed out',
};

const NETWORK_CODES: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ECONNABORTED: 'connection aborted',
  EPIPE: 'connection closed while sending',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'temporary DNS failure',
  EHOSTUNREACH: 'host unreachable',
  EHOSTDOWN: 'host down',
  ENETUNREACH: 'network unreachable',
  ENETDOWN: 'network down',
  UND_ERR_SOCKET: 'connection closed by the server',
  UND_ERR_CLOSED: 'connection closed',
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: 'body shorter or longer than Content-Length',
};

/** Whether a code is a TLS certificate/handshake problem, which another attempt won't fix. */
function isTlsCode(code: string): boolean {
  return (
    code.startsWith('ERR_TLS_') ||
    code.startsWith('ERR_SSL_') ||
    code.startsWith('CERT_') ||
    code.startsWith('UNABLE_TO_') ||
    code === 'DEPTH_ZERO_SELF_SIGNED_CERT' ||
    code === 'SELF_SIGNED_CERT_IN_CHAIN'
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

function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/**
 * Maps any failure of a download of `url` to a TaskError. FetchErrors keep their
 * code; undici and socket errors are classified by their `code`; anything else is
 * INTERNAL (a bug or an unforeseen failure), not retryable.
 */
export function toTaskError(err: unknown, url: string): TaskError {
  if (err instanceof FetchError) {
    return taskError({ code: err.code, message: err.message, retryable: err.retryable, httpStatus: err.httpStatus });
  }
  const code = errorCodeOf(err);
  if (code !== undefined) {
    const timeout = TIMEOUT_CODES[code];
    if (timeout !== undefined) {
      return taskError({ code: 'TIMEOUT', message: `GET ${url}: ${timeout} (${code})`, retryable: true, httpStatus: 0 });
    }
    const network = NETWORK_CODES[code];
    if (network !== undefined) {
      return taskError({ code: 'NETWORK', message: `GET ${url}: ${network} (${code})`, retryable: true, httpStatus: 0 });
    }
    if (isTlsCode(code)) {
      return taskError({ code: 'NETWORK',
        message: `GET ${url}: TLS failure (${code}): ${messageOf(err)}`,
        retryable: false,
        httpStatus: 0, });
    }
    if (code.startsWith('HPE_')) {
      // llhttp refused the response: the server speaks broken HTTP, and will again.
      return taskError({ code: 'NETWORK',
        message: `GET ${url}: malformed HTTP response (${code})`,
        retryable: false,
        httpStatus: 0, });
    }
  }
  const suffix = code === undefined ? '' : ` (${code})`;
  return taskError({ code: 'INTERNAL',
    message: `GET ${url}: ${messageOf(err)}${suffix}`,
    retryable: false,
    httpStatus: 0, });
}

/** Local file system failures: out-of-space style errors may pass on another attempt or worker. */
const RETRYABLE_FS_CODES: ReadonlySet<string> = new Set(['ENOSPC', 'EDQUOT', 'EMFILE', 'ENFILE', 'EBUSY']);

/** Wraps a failure to write `relPath` (relative to the data root) as an INTERNAL task error. */
export function fileSystemError(err: unknown, url: string, relPath: string): FetchError {
  const code = errorCodeOf(err) ?? 'unknown';
  return new FetchError(
    'INTERNAL',
    `GET ${url}: cannot write ${relPath} (${code}): ${messageOf(err)}`,
    RETRYABLE_FS_CODES.has(code),
    0,
    err,
  );
}
