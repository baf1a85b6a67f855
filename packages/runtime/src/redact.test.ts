import { describe, expect, it } from 'vitest';
import { REDACTED, redactUrlQueries } from './redact';

describe('redactUrlQueries', () => {
  it('replaces every query value and keeps the parameter names', () => {
    expect(
      redactUrlQueries('GET https://bucket.s3.amazonaws.com/a/b.csv?X-Amz-Expires=3600&X-Amz-Signature=abc123 failed'),
    ).toBe(`GET https://bucket.s3.amazonaws.com/a/b.csv?X-Amz-Expires=${REDACTED}&X-Amz-Signature=${REDACTED} failed`);
  });

  it('replaces a parameter without a value whole, and keeps empty parameters', () => {
    expect(redactUrlQueries('http://h/x?secrettoken')).toBe(`http://h/x?${REDACTED}`);
    expect(redactUrlQueries('http://h/x?a=1&&b')).toBe(`http://h/x?a=${REDACTED}&&${REDACTED}`);
    expect(redactUrlQueries('http://h/x?')).toBe('http://h/x?');
  });

  it('leaves punctuation that ends a sentence, the fragment and the rest of the text alone', () => {
    expect(redactUrlQueries('GET http://h/x?sig=s3cr3t: HTTP 403.')).toBe(`GET http://h/x?sig=${REDACTED}: HTTP 403.`);
    expect(redactUrlQueries('(see http://h/x?sig=s3cr3t).')).toBe(`(see http://h/x?sig=${REDACTED}).`);
    expect(redactUrlQueries('http://h/x?sig=s3cr3t#part')).toBe(`http://h/x?sig=${REDACTED}#part`);
  });

  it('redacts every URL of a line, in JSON too, whatever the scheme case', () => {
    const line = JSON.stringify({ msg: 'task failed', error: { message: 'HTTPS://a/x?k=v1 then http://b/y?k=v2' }, url: 'http://c/z?k=v3' });
    const out = redactUrlQueries(line);
    expect(out).not.toMatch(/v[123]/);
    expect(JSON.parse(out)).toEqual({
      msg: 'task failed',
      error: { message: `HTTPS://a/x?k=${REDACTED} then http://b/y?k=${REDACTED}` },
      url: `http://c/z?k=${REDACTED}`,
    });
  });

  it('redacts values with escaped quotes in JSON, stops at other escapes, and keeps the line valid JSON', () => {
    const line = JSON.stringify({ m: `http://h/x?a="quoted"&b=O'Brien\\x&c=1\nnext` });
    expect(JSON.parse(redactUrlQueries(line))).toEqual({ m: `http://h/x?a=${REDACTED}&b=${REDACTED}&c=${REDACTED}\nnext` });
  });

  it('changes nothing without a URL query', () => {
    for (const text of ['no url here', 'http://h/x/y.csv', 'ftp://h/x?a=1', 'a?b=c', '']) {
      expect(redactUrlQueries(text)).toBe(text);
    }
  });
});
