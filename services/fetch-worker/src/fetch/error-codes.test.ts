import { describe, expect, it } from 'vitest';
import { FetchError, fileSystemError, httpStatusError, toTaskError } from './error-codes';

const URL_ = 'http://example.com/f';

function coded(code: string, message = 'boom'): Error {
  return Object.assign(new Error(message), { code });
}

describe('toTaskError', () => {
  it.each([
    ['UND_ERR_CONNECT_TIMEOUT', 'TIMEOUT', true],
    ['UND_ERR_HEADERS_TIMEOUT', 'TIMEOUT', true],
    ['UND_ERR_BODY_TIMEOUT', 'TIMEOUT', true],
    ['ETIMEDOUT', 'TIMEOUT', true],
    ['ECONNREFUSED', 'NETWORK', true],
    ['ECONNRESET', 'NETWORK', true],
    ['ENOTFOUND', 'NETWORK', true],
    ['EAI_AGAIN', 'NETWORK', true],
    ['UND_ERR_SOCKET', 'NETWORK', true],
    ['UND_ERR_RES_CONTENT_LENGTH_MISMATCH', 'NETWORK', true],
    ['HPE_INVALID_CONSTANT', 'NETWORK', false],
    ['CERT_HAS_EXPIRED', 'NETWORK', false],
    ['ERR_TLS_CERT_ALTNAME_INVALID', 'NETWORK', false],
    ['DEPTH_ZERO_SELF_SIGNED_CERT', 'NETWORK', false],
    ['ERR_SOMETHING_NEW', 'INTERNAL', false],
  ])('maps %s to %s (retryable=%s), naming the URL', (code, expected, retryable) => {
    const e = toTaskError(coded(code), URL_);
    expect(e).toMatchObject({ code: expected, retryable, httpStatus: 0 });
    expect(e.message).toContain(URL_);
    expect(e.message).toContain(code);
  });

  it('keeps a FetchError as it is', () => {
    expect(toTaskError(new FetchError('TOO_LARGE', 'too big'), URL_)).toMatchObject({
      code: 'TOO_LARGE',
      message: 'too big',
      retryable: false,
      httpStatus: 0,
    });
  });

  it('finds the code inside an AggregateError (Happy Eyeballs) and a cause chain', () => {
    const agg = new AggregateError([new Error('no code'), coded('ECONNREFUSED')], 'all failed');
    expect(toTaskError(agg, URL_)).toMatchObject({ code: 'NETWORK', retryable: true });
    const wrapped = new Error('outer', { cause: coded('UND_ERR_BODY_TIMEOUT') });
    expect(toTaskError(wrapped, URL_)).toMatchObject({ code: 'TIMEOUT' });
  });

  it('maps non-errors to INTERNAL', () => {
    expect(toTaskError('weird', URL_)).toMatchObject({ code: 'INTERNAL', retryable: false });
  });
});

describe('httpStatusError', () => {
  it.each([408, 429, 500, 502, 503, 504])('HTTP %i is retryable', (status) => {
    expect(httpStatusError(URL_, status)).toMatchObject({ code: 'HTTP_STATUS', retryable: true, httpStatus: status });
  });

  it.each([400, 401, 403, 404, 410, 451, 501, 505])('HTTP %i is not retryable', (status) => {
    expect(httpStatusError(URL_, status)).toMatchObject({ retryable: false, httpStatus: status });
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
