import { describe, expect, it } from 'vitest';
import { adaptivePrefetch, PREFETCH_COVER_MS } from './executor';

describe('adaptivePrefetch', () => {
  const every = (gapMs: number, n = 32) => Array.from({ length: n }, (_, i) => 10_000 + i * gapMs);

  it('queues one task while the completion rate is unknown', () => {
    expect(adaptivePrefetch([], 0, 64)).toBe(1);
    expect(adaptivePrefetch([5], 6, 64)).toBe(1);
  });

  it('covers PREFETCH_COVER_MS of completions: deep for tiny files, shallow for long downloads', () => {
    const fast = every(0.2); // 5,000 completions/s
    expect(adaptivePrefetch(fast, fast.at(-1)!, 512)).toBe(Math.ceil(PREFETCH_COVER_MS / 0.2));
    const slow = every(500); // two a second
    expect(adaptivePrefetch(slow, slow.at(-1)!, 512)).toBe(1);
  });

  it('is capped by the configured prefetch and off when it is 0', () => {
    const burst = every(0.01);
    expect(adaptivePrefetch(burst, burst.at(-1)!, 64)).toBe(64);
    expect(adaptivePrefetch(burst, burst.at(-1)!, 0)).toBe(0);
  });

  it('falls back to one when nothing finished for a second', () => {
    const fast = every(0.2);
    expect(adaptivePrefetch(fast, fast.at(-1)! + 1000, 64)).toBe(1);
  });
});
