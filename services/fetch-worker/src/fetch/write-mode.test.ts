import { describe, expect, it } from 'vitest';
import { WriteMode } from './write-mode';

/** A clock the test moves; `write` advances it by `ms` as if the write took that long. */
function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('WriteMode', () => {
  it('writes synchronously while each write is within the limit', () => {
    const c = clock();
    const mode = new WriteMode(20, 10_000, c.now);
    expect(mode.sync).toBe(true);
    expect(mode.time(() => (c.advance(20), 42))).toBe(42);
    expect(mode.sync).toBe(true);
  });

  it('goes to the thread pool for the back-off after a slow write, then tries again', () => {
    const c = clock();
    const mode = new WriteMode(20, 10_000, c.now);
    mode.time(() => c.advance(21));
    expect(mode.sync).toBe(false);
    c.advance(9_999);
    expect(mode.sync).toBe(false);
    c.advance(1);
    expect(mode.sync).toBe(true);
  });

  it('counts a write that threw, and passes the error on', () => {
    const c = clock();
    const mode = new WriteMode(20, 10_000, c.now);
    const enospc = Object.assign(new Error('no space'), { code: 'ENOSPC' });
    expect(() =>
      mode.time(() => {
        c.advance(50);
        throw enospc;
      }),
    ).toThrow(enospc);
    expect(mode.sync).toBe(false);
  });

  it('never writes synchronously with a limit of 0', () => {
    const mode = new WriteMode(0, 10_000, clock().now);
    expect(mode.sync).toBe(false);
  });
});
