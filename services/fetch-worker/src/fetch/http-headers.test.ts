import { describe, expect, it } from 'vitest';
import { acceptsByteRanges, contentDispositionFileName, parseContentRange, resumeValidator } from './http-headers';

describe('contentDispositionFileName', () => {
  it.each([
    ['attachment; filename="report.csv"', 'report.csv'],
    ['attachment; filename=plain.txt', 'plain.txt'],
    ['attachment;filename="a \\"quoted\\" name.txt"', 'a "quoted" name.txt'],
    ['attachment; filename="semi;colon.txt"; size=3', 'semi;colon.txt'],
    ["attachment; filename=\"fallback.txt\"; filename*=UTF-8''%E2%82%AC%20rates.txt", '€ rates.txt'],
    ["attachment; filename*=utf-8'en'na%C3%AFve.csv", 'naïve.csv'],
    ["attachment; filename*=iso-8859-1''caf%E9.txt", 'café.txt'],
    ["attachment; filename*=UTF-8''%ZZbad; filename=\"ok.txt\"", 'ok.txt'],
    ["attachment; filename*=KOI8-R''x; filename=\"ok.txt\"", 'ok.txt'],
    ['attachment; FILENAME="upper.txt"', 'upper.txt'],
    ['attachment; filename="../../etc/passwd"', '../../etc/passwd'],
    ['inline', ''],
    ['attachment; filename=', ''],
  ])('%j -> %j', (header, name) => {
    expect(contentDispositionFileName(header)).toBe(name);
  });

  it('is empty without a header', () => {
    expect(contentDispositionFileName(undefined)).toBe('');
  });
});

describe('parseContentRange', () => {
  it.each([
    ['bytes 100-199/200', { first: 100, last: 199, complete: 200 }],
    ['bytes 0-0/*', { first: 0, last: 0, complete: null }],
    ['BYTES 5-9/10', { first: 5, last: 9, complete: 10 }],
    ['bytes */200', null],
    ['bytes 10-5/20', null],
    ['bytes 0-20/20', null],
    ['items 1-2/3', null],
  ])('%j', (header, expected) => {
    expect(parseContentRange(header)).toEqual(expected);
  });
});

describe('resumeValidator / acceptsByteRanges', () => {
  it('prefers a strong ETag, refuses weak ones, falls back to Last-Modified', () => {
    expect(resumeValidator('"abc"', 'Wed, 25 Nov 2026 10:00:00 GMT')).toBe('"abc"');
    expect(resumeValidator('W/"abc"', 'Wed, 25 Nov 2026 10:00:00 GMT')).toBe('Wed, 25 Nov 2026 10:00:00 GMT');
    expect(resumeValidator('W/"abc"', undefined)).toBe('');
    expect(resumeValidator(undefined, 'not a date')).toBe('');
  });

  it('recognises bytes among the range units', () => {
    expect(acceptsByteRanges('bytes')).toBe(true);
    expect(acceptsByteRanges('none, Bytes')).toBe(true);
    expect(acceptsByteRanges('none')).toBe(false);
    expect(acceptsByteRanges(undefined)).toBe(false);
  });
});
