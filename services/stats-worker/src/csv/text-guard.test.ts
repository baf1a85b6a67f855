import { describe, expect, it } from 'vitest';
import { TextGuard } from './text-guard';

function check(input: Buffer, cuts: readonly number[] = []): void {
  const guard = new TextGuard();
  let from = 0;
  for (const cut of [...cuts, input.length]) {
    guard.check(input.subarray(from, cut));
    from = cut;
  }
  guard.end();
}

describe('TextGuard', () => {
  it('accepts UTF-8 text with characters of every length split at any chunk boundary', () => {
    const input = Buffer.from('a,é,€,😀\n"日本",ü\n');
    for (let cut = 0; cut <= input.length; cut++) {
      expect(() => check(input, [cut]), `cut ${cut}`).not.toThrow();
    }
    const everyByte = Array.from({ length: input.length }, (_, i) => i);
    expect(() => check(input, everyByte)).not.toThrow();
  });

  it('calls a file with a NUL byte binary, naming the offset', () => {
    const input = Buffer.from('a,b\n1,\u00002\n');
    expect(() => check(input)).toThrow(/binary file, not CSV text: NUL byte at byte offset 6/);
    expect(() => check(input, [5])).toThrow(/byte offset 6/);
  });

  it('refuses Latin-1 text as not UTF-8, naming the offset', () => {
    const input = Buffer.from('name\ncaf\xe9\n', 'latin1');
    expect(() => check(input)).toThrow(/not UTF-8 text .* at byte offset 8/);
    for (let cut = 0; cut <= input.length; cut++) {
      expect(() => check(input, [cut]), `cut ${cut}`).toThrow(/not UTF-8/);
    }
  });

  it('refuses a multi-byte character cut off by EOF', () => {
    const input = Buffer.from('ok,€').subarray(0, 4);
    expect(() => check(input)).toThrow(/not UTF-8 text .* at byte offset 3/);
  });

  it('refuses random binary data', () => {
    const input = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 197 + 13) % 255 + 1));
    expect(() => check(input, [1000, 2000])).toThrow(/not UTF-8/);
  });
});
