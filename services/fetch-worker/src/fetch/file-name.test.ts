import { describe, expect, it } from 'vitest';
import { sanitizeFileName } from '@spindle/runtime/file-names';
import { sanitizeName } from './file-name';

/** A small deterministic generator, so that a failure can be reproduced. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('sanitizeName', () => {
  it.each([
    't0001.bin',
    'data (1).csv',
    'report.final.v2.pdf',
    "it's [done] {ok} ^ ~ + , ; = @ # $ % & !",
    '0195f5d2-7c1e-7a1b-9f00-123456789abc-f-12',
    'a',
    'x'.repeat(200),
  ])('returns the plain name %j unchanged, as sanitizeFileName does', (name) => {
    expect(sanitizeName(name)).toBe(name);
    expect(sanitizeFileName(name)).toBe(name);
  });

  it.each([
    '',
    '.hidden',
    ' lead',
    'trail.',
    'trail ',
    '../../etc/passwd',
    'a\\b',
    'a:b',
    'a<b>c',
    'a|b?c*d"e',
    'CON',
    'con.txt',
    'Nul .csv',
    'com1.log',
    'LPT9',
    'conin$',
    'évian.txt',
    'cafe\u0301.txt',
    'tab\there',
    'evil\u202Etxt.exe',
    'x'.repeat(201),
    `${'y'.repeat(230)}.csv`,
  ])('treats %j exactly as sanitizeFileName does', (name) => {
    expect(sanitizeName(name)).toBe(sanitizeFileName(name));
    expect(sanitizeName(name, 64)).toBe(sanitizeFileName(name, 64));
  });

  it('agrees with sanitizeFileName on random names', () => {
    const next = random(7);
    const alphabet = ['a', 'Z', '0', '.', ' ', '-', '_', '(', ')', '/', '\\', ':', '*', '?', '"', '<', '>', '|', '\t', '\u0000', '\u007f', 'é', '\u202e', '\ud800', 'con', 'nul', 'com1', 'lpt', '$', '%'];
    for (let i = 0; i < 20_000; i++) {
      const length = Math.floor(next() * 12);
      let name = '';
      for (let j = 0; j < length; j++) name += alphabet[Math.floor(next() * alphabet.length)] ?? '';
      const max = next() < 0.2 ? 8 : 200;
      expect(sanitizeName(name, max), JSON.stringify(name)).toBe(sanitizeFileName(name, max));
    }
  });
});
