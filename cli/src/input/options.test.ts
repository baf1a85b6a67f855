import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { checkAddress, intInRange, parseDelimiter, parseDuration, parseJobState, parseSize } from './options';

describe('option parsers', () => {
  it('intInRange accepts integers in range only', () => {
    const p = intInRange(1, 10);
    expect(p('1')).toBe(1);
    expect(p(' 10 ')).toBe(10);
    for (const bad of ['0', '11', '1.5', 'x', '', '1e1']) expect(() => p(bad)).toThrow(InvalidArgumentError);
  });

  it('parseSize reads binary and decimal units', () => {
    expect(parseSize('1048576')).toBe(1048576);
    expect(parseSize('512k')).toBe(512 * 1024);
    expect(parseSize('10MiB')).toBe(10 * 1024 ** 2);
    expect(parseSize('2MB')).toBe(2_000_000);
    expect(parseSize('1.5G')).toBe(1.5 * 1024 ** 3);
    for (const bad of ['0', '-1', '10 parsecs', 'M']) expect(() => parseSize(bad)).toThrow(InvalidArgumentError);
  });

  it('parseDuration returns ms; bare numbers are seconds', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('2m')).toBe(120_000);
    expect(parseDuration('1.5')).toBe(1500);
    for (const bad of ['0s', 'soon', '1d', '50d']) expect(() => parseDuration(bad)).toThrow(InvalidArgumentError);
  });

  it('parseDelimiter takes one character or a tab name', () => {
    expect(parseDelimiter(';')).toBe(';');
    expect(parseDelimiter('\\t')).toBe('\t');
    expect(parseDelimiter('tab')).toBe('\t');
    for (const bad of ['', ';;', '"', '\n']) expect(() => parseDelimiter(bad)).toThrow(InvalidArgumentError);
  });

  it('checkAddress wants host:port', () => {
    expect(checkAddress('127.0.0.1:7070')).toBe('127.0.0.1:7070');
    expect(checkAddress('coordinator.spindle.svc:7070')).toBe('coordinator.spindle.svc:7070');
    expect(checkAddress('[::1]:7070')).toBe('[::1]:7070');
    expect(checkAddress('127.0.0.1:0', true)).toBe('127.0.0.1:0');
    for (const bad of ['7070', 'host:', 'host:99999', 'http://host:1', '127.0.0.1:0']) {
      expect(() => checkAddress(bad)).toThrow(InvalidArgumentError);
    }
  });

  it('parseJobState accepts the state names case-insensitively', () => {
    expect(parseJobState('Running')).toBe('running');
    expect(() => parseJobState('done')).toThrow(/expected one of: queued, running/);
  });
});
