/**
 * The fetch worker sanitizes names with a fast path (services/fetch-worker/src/fetch/file-name.ts)
 * that returns plain names without running the runtime's full rule (sanitizeFileName). Both
 * must treat Windows device names alike: the fast path's MAYBE_RESERVED has to stay a superset
 * of the runtime's WINDOWS_RESERVED on the names it accepts. This checks them against each
 * other on every device name in the usual spellings, and on look-alikes that are not devices.
 */
import { describe, expect, it } from 'vitest';
import { sanitizeFileName } from '@spindle/runtime/file-names';
import { sanitizeName } from '../services/fetch-worker/src/fetch/file-name';

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
