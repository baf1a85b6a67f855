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

/**
 * The fetch worker sanitizes names with a fast path
 * that returns plain names without running the runtime's full rule (sanitizeFileName). Both
 * must treat Windows device names alike: the fast path's MAYBE_RESERVED has to stay a superset
 * of the runtime's WINDOWS_RESERVED on the names it accepts. This checks them against each
 * other on every device name in the usual spellings, and on look-alikes that are not devices.
 */
const DEVICES = [
  'con', 'prn', 'aux', 'nul',
  ...[...'0123456789¹²³'].flatMap((d) => [`com${d}`, `lpt${d}`]),
  'conin$', 'conout$',
];
const LOOK_ALIKES = ['com', 'lpt', 'com10', 'lpt⁴', 'com¹²', 'coma', 'conin', 'conout', 'conin$$', 'xcon', 'console', 'clock$', 'nul_'];
/** Case spellings, then what may follow the device name (Windows ignores all of it). */
const CASES = [(s: string) => s, (s: string) => s.toUpperCase(), (s: string) => s.charAt(0).toUpperCase() + s.slice(1)];
const TAILS = ['', '.txt', ' .txt', '.tar.gz', '.', ' ', '. .', '  .log'];

const spellings = (names: string[]): string[] => names.flatMap((n) => CASES.flatMap((c) => TAILS.map((t) => c(n) + t)));

describe('file names: the fetch worker fast path and sanitizeFileName', () => {
  it('prefix every Windows device name, in any case, with or without an extension', () => {
    const names = spellings(DEVICES);
    expect(names.length).toBe(DEVICES.length * CASES.length * TAILS.length);
    for (const name of names) {
      const slow = sanitizeFileName(name);
      expect(slow, JSON.stringify(name)).toMatch(/^_/);
      expect(sanitizeName(name), JSON.stringify(name)).toBe(slow);
      expect(sanitizeName(name, 8), JSON.stringify(name)).toBe(sanitizeFileName(name, 8));
    }
  });

  it('leave look-alikes that are not device names as the full rule does', () => {
    for (const name of spellings(LOOK_ALIKES)) {
      const slow = sanitizeFileName(name);
      expect(slow, JSON.stringify(name)).not.toMatch(/^_/);
      expect(sanitizeName(name), JSON.stringify(name)).toBe(slow);
    }
  });

  it('keep already prefixed device names as they are (sanitizing twice changes nothing)', () => {
    for (const name of spellings(DEVICES)) {
      const once = sanitizeName(name);
      expect(sanitizeName(once), JSON.stringify(name)).toBe(once);
      expect(sanitizeFileName(once), JSON.stringify(name)).toBe(once);
    }
  });
});
