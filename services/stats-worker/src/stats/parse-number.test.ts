import { describe, expect, it } from 'vitest';
import { parseNumber, type ParsedNumber } from './parse-number';

function parse(text: string): ParsedNumber | null {
  const out: ParsedNumber = { value: Number.NaN, integer: false };
  const bytes = Buffer.from(`xx${text}yy`, 'latin1');
  return parseNumber(bytes, 2, 2 + text.length, out) ? out : null;
}

describe('parseNumber', () => {
  it.each([
    ['0', 0, true],
    ['42', 42, true],
    ['-17', -17, true],
    ['+3', 3, true],
    ['007', 7, true],
    ['1e3', 1000, false],
    ['1E-3', 0.001, false],
    ['-0.5', -0.5, false],
    ['.5', 0.5, false],
    ['5.', 5, false],
    ['-.25e+2', -25, false],
    ['3.14159', 3.14159, false],
    ['0.1', 0.1, false],
    ['123456789012345678901234567890', 1.2345678901234568e29, true],
    ['0.30000000000000004', 0.30000000000000004, false],
    ['1e-400', 0, false],
    ['9007199254740993', 9007199254740992, true],
  ])('parses %j exactly as Number() does', (text, expected, integer) => {
    const parsed = parse(text);
    expect(parsed).not.toBeNull();
    expect(parsed!.value).toBe(expected);
    expect(parsed!.value).toBe(Number(text));
    expect(parsed!.integer).toBe(integer);
  });

  it('keeps the sign of negative zero', () => {
    expect(Object.is(parse('-0')!.value, -0)).toBe(true);
    expect(Object.is(parse('-0.0')!.value, -0)).toBe(true);
  });

  it.each([
    '', '+', '-', '.', 'e5', '1e', '1e+', '12x', 'abc', '?', 'n/a', 'NaN', 'Infinity', '-Infinity',
    '0x1F', '0b11', '1_000', '1,5', '1.2.3', '--1', '+-1', '1e400', '-1e400', '١٢', ' 1', '1 ',
  ])('rejects %j', (text) => {
    expect(parse(text)).toBeNull();
  });

  it('agrees with Number() on random decimal literals, including long and extreme ones', () => {
    let seed = 12345;
    const random = (): number => {
      // xorshift32: deterministic, so a failure is reproducible.
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) / 2 ** 32;
    };
    const digits = (n: number): string =>
      Array.from({ length: n }, () => Math.floor(random() * 10)).join('');
    for (let i = 0; i < 20_000; i++) {
      const sign = ['', '-', '+'][Math.floor(random() * 3)]!;
      const intPart = digits(Math.floor(random() * 20));
      const fracPart = random() < 0.6 ? `.${digits(Math.floor(random() * 20))}` : '';
      const exp = random() < 0.3 ? `e${Math.floor(random() * 80) - 40}` : '';
      const text = `${sign}${intPart}${fracPart}${exp}`;
      const expected = Number(text);
      const parsed = parse(text);
      if (Number.isNaN(expected) || /^[+-]?\.?(e|$)/.test(text)) {
        expect(parsed, text).toBeNull();
      } else {
        expect(parsed, text).not.toBeNull();
        expect(Object.is(parsed!.value, expected) || parsed!.value === expected, text).toBe(true);
      }
    }
  });
});
