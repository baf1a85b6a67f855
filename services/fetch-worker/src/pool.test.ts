import { describe, expect, it } from 'vitest';
import { threadShares } from './pool';

describe('threadShares', () => {
  it('splits the slots exactly, the threads differing by one at most', () => {
    expect(threadShares(16, 2)).toEqual([8, 8]);
    expect(threadShares(3, 2)).toEqual([2, 1]);
    expect(threadShares(5, 2)).toEqual([3, 2]);
    expect(threadShares(7, 3)).toEqual([3, 2, 2]);
    for (let slots = 1; slots <= 40; slots++) {
      for (let threads = 1; threads <= 8; threads++) {
        const shares = threadShares(slots, threads);
        expect(shares.reduce((a, b) => a + b, 0)).toBe(slots);
        expect(Math.max(...shares) - Math.min(...shares)).toBeLessThanOrEqual(1);
      }
    }
  });

  it('starts no thread without a slot when there are fewer slots than threads', () => {
    expect(threadShares(1, 2)).toEqual([1]);
    expect(threadShares(3, 8)).toEqual([1, 1, 1]);
  });
});
