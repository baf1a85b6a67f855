import { describe, expect, it } from 'vitest';
import { parseBoolean, parseTemporal, type ParsedTemporal } from './parse-temporal';

function temporal(text: string): ParsedTemporal | null {
  const out: ParsedTemporal = { ms: 0, hasTime: false };
  const buf = Buffer.from(`9${text}9`);
  return parseTemporal(buf, 1, buf.length - 1, out) ? out : null;
}

describe('parseTemporal', () => {
  it.each([
    ['2024-02-29', '2024-02-29T00:00:00.000Z', false],
    ['1969-12-31', '1969-12-31T00:00:00.000Z', false],
    ['2024-03-01T10:15', '2024-03-01T10:15:00.000Z', true],
    ['2024-03-01 10:15:30', '2024-03-01T10:15:30.000Z', true],
    ['2024-03-01T10:15:30.1234Z', '2024-03-01T10:15:30.123Z', true],
    ['2024-03-01T10:15:30+02:00', '2024-03-01T08:15:30.000Z', true],
    ['2024-03-01T10:15:30-0130', '2024-03-01T11:45:30.000Z', true],
    ['2024-03-01T00:00:00-05', '2024-03-01T05:00:00.000Z', true],
  ])('%s is %s', (text, iso, hasTime) => {
    const t = temporal(text);
    expect(t).not.toBeNull();
    expect(new Date(t!.ms).toISOString()).toBe(iso);
    expect(t!.hasTime).toBe(hasTime);
  });

  it.each(['2023-02-29', '2024-13-01', '2024-00-10', '2024-04-31', '24-01-01', '2024/01/01', '2024-01-01T24:00',
    '2024-01-01T10:60', '2024-01-01T10:00:00+', '2024-01-01X', '2024-01-01T10:00:00.', '20240101'])(
    'rejects %j',
    (text) => expect(temporal(text)).toBeNull(),
  );
});

describe('parseBoolean', () => {
  it.each([
    ['true', 1], ['TRUE', 1], ['Yes', 1], ['t', 1], ['false', 0], ['No', 0], ['F', 0],
    ['1', -1], ['0', -1], ['truth', -1], ['n', -1], ['y', -1], ['', -1], ['tru', -1],
  ])('%j → %d', (text, expected) => {
    const buf = Buffer.from(text);
    expect(parseBoolean(buf, 0, buf.length)).toBe(expected);
  });
});
