import { ConfigError } from '@spindle/runtime';
import { describe, expect, it } from 'vitest';
import { loadConfig } from './config';

describe('stats worker configuration', () => {
  it('gives URL sources a 30 s idle and a 30 min total timeout by default', () => {
    const c = loadConfig({});
    expect(c.httpTimeoutMs).toBe(30_000);
    expect(c.httpTotalTimeoutMs).toBe(30 * 60_000);
    expect(loadConfig({ SPINDLE_STATS_HTTP_TOTAL_TIMEOUT_MS: '5000' }).httpTotalTimeoutMs).toBe(5000);
  });

  it('refuses a total timeout that is not a whole number of ms, at least 100, naming the variable', () => {
    for (const bad of ['50', '1.5', 'soon']) {
      let err: unknown;
      try {
        loadConfig({ SPINDLE_STATS_HTTP_TOTAL_TIMEOUT_MS: bad });
      } catch (e) {
        err = e;
      }
      expect(err, bad).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).issues.join('\n')).toContain('SPINDLE_STATS_HTTP_TOTAL_TIMEOUT_MS');
    }
  });
});
