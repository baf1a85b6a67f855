import { describe, expect, it } from 'vitest';
import { FetchError, fileSystemError, httpStatusError, parseRetryAfter, toTaskError } from './error-codes';

const URL_ = 'http://example.com/f';

function coded(code: string, message = 'boom'): Error {
  return Object.assign(new Error(message), { code });
}

describe('toTaskError', () => {
  it.each([
    ['UND_ERR_CONNECT_TIMEOUT', 'request', 'TIMEOUT', true],
    ['UND_ERR_HEADERS_TIMEOUT', 'request', 'TIMEOUT', true],
    ['UND_ERR_BODY_TIMEOUT', 'body', 'TIMEOUT', true],
    ['ETIMEDOUT', 'request', 'TIMEOUT', true],
    ['ENOTFOUND', 'request', 'DNS', false],
    ['EAI_AGAIN', 'request', 'DNS', true],
    ['EAI_FAIL', 'request', 'DNS', true],
    ['ECONNREFUSED', 'request', 'CONNECT', true],
    ['EHOSTUNREACH', 'request', 'CONNECT', true],
    ['ECONNRESET', 'request', 'CONNECT', true],
    ['UND_ERR_SOCKET', 'request', 'CONNECT', true],
    ['ECONNRESET', 'body', 'TRUNCATED', true],
    ['UND_ERR_SOCKET', 'body', 'TRUNCATED', true],
    ['UND_ERR_RES_CONTENT_LENGTH_MISMATCH', 'body', 'TRUNCATED', true],
    ['HPE_INVALID_EOF_STATE', 'body', 'TRUNCATED', true],
    ['HPE_INVALID_CONSTANT', 'request', 'PROTOCOL', false],
    ['CERT_HAS_EXPIRED', 'request', 'TLS', false],
    ['ERR_TLS_CERT_ALTNAME_INVALID', 'request', 'TLS', false],
    ['DEPTH_ZERO_SELF_SIGNED_CERT', 'request', 'TLS', false],
    ['ERR_SOMETHING_NEW', 'request', 'INTERNAL', false],
  ] as const)('maps %s in phase %s to %s (retryable=%s), naming the URL', (code, phase, expected, retryable) => {
    const e = toTaskError(coded(code), URL_, phase);
    expect(e).toMatchObject({ code: expected, retryable, httpStatus: 0 });
    expect(e.message).toContain(URL_);
    expect(e.message).toContain(code);
  });

  it('keeps a FetchError as it is, also inside a cause chain', () => {
    const tooBig = new FetchError('TOO_LARGE', 'too big');
    expect(toTaskError(tooBig, URL_)).toMatchObject({ code: 'TOO_LARGE', message: 'too big', retryable: false, httpStatus: 0 });
    const policy = new FetchError('POLICY', 'egress to x refused');
    expect(toTaskError(new Error('connect failed', { cause: policy }), URL_)).toMatchObject({ code: 'POLICY' });
  });

  it('carries Retry-After of a FetchError', () => {
    expect(toTaskError(httpStatusError(URL_, 429, URL_, '7'), URL_)).toMatchObject({
      code: 'HTTP_STATUS',
      httpStatus: 429,
      retryable: true,
      retryAfterMs: 7000,
    });
  });

  it('finds the code inside an AggregateError (Happy Eyeballs) and a cause chain', () => {
    const agg = new AggregateError([new Error('no code'), coded('ECONNREFUSED')], 'all failed');
    expect(toTaskError(agg, URL_)).toMatchObject({ code: 'CONNECT', retryable: true });
    const wrapped = new Error('outer', { cause: coded('UND_ERR_BODY_TIMEOUT') });
    expect(toTaskError(wrapped, URL_)).toMatchObject({ code: 'TIMEOUT' });
  });

  it('maps non-errors to INTERNAL', () => {
    expect(toTaskError('weird', URL_)).toMatchObject({ code: 'INTERNAL', retryable: false });
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('Wed, 25 Nov 2026 10:00:00 GMT');
  it.each([
    ['120', 120_000],
    [' 0 ', 0],
    ['Wed, 25 Nov 2026 10:00:30 GMT', 30_000],
    ['Wednesday, 25-Nov-26 10:01:00 GMT', 60_000],
    ['Wed, 25 Nov 2026 09:00:00 GMT', 0],
    ['-5', 0],
    ['soon', 0],
    ['1.5', 0],
    ['99999999', 24 * 3600 * 1000],
  ])('%j -> %i ms', (value, ms) => {
    expect(parseRetryAfter(value, now)).toBe(ms);
  });

  it('is 0 without a header', () => {
    expect(parseRetryAfter(undefined, now)).toBe(0);
  });
});

describe('httpStatusError', () => {
  it.each([408, 429, 500, 502, 503, 504])('HTTP %i is retryable', (status) => {
    expect(httpStatusError(URL_, status)).toMatchObject({ code: 'HTTP_STATUS', retryable: true, httpStatus: status });
  });

  it.each([400, 401, 403, 404, 410, 451, 501, 505])('HTTP %i is not retryable', (status) => {
    expect(httpStatusError(URL_, status)).toMatchObject({ retryable: false, httpStatus: status });
  });

  it('honours Retry-After for 429 and 503 only', () => {
    expect(httpStatusError(URL_, 503, URL_, '3')).toMatchObject({ retryAfterMs: 3000 });
    expect(httpStatusError(URL_, 429, URL_, '3').message).toContain('Retry-After 3 s');
    expect(httpStatusError(URL_, 500, URL_, '3')).toMatchObject({ retryAfterMs: 0 });
  });

  it('names where redirects led', () => {
    expect(httpStatusError(URL_, 404, 'http://other/x').message).toContain('redirected to http://other/x');
  });
});

describe('fileSystemError', () => {
  it('is INTERNAL, names the path, and is retryable only for resource exhaustion', () => {
    expect(fileSystemError(coded('ENOSPC'), URL_, 'out/f')).toMatchObject({ code: 'INTERNAL', retryable: true });
    const denied = fileSystemError(coded('EACCES'), URL_, 'out/f');
    expect(denied).toMatchObject({ code: 'INTERNAL', retryable: false });
    expect(denied.message).toContain('out/f');
  });
});
