import { ConfigError } from '@spindle/runtime';
import { describe, expect, it } from 'vitest';
import { loadConfig } from './config';

describe('coordinator configuration', () => {
  it('waits out a server Retry-After of up to 10 minutes by default, up to a day when set', () => {
    expect(loadConfig({}).maxRetryAfterMs).toBe(600_000);
    expect(loadConfig({ SPINDLE_MAX_RETRY_AFTER_MS: '86400000' }).maxRetryAfterMs).toBe(86_400_000);
  });

  it('refuses a Retry-After limit under 1 s, over a day or not a whole number of ms, naming the variable', () => {
    for (const bad of ['999', '86400001', '1.5', 'soon']) {
      let err: unknown;
      try {
        loadConfig({ SPINDLE_MAX_RETRY_AFTER_MS: bad });
      } catch (e) {
        err = e;
      }
      expect(err, bad).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).issues.join('\n')).toContain('SPINDLE_MAX_RETRY_AFTER_MS');
    }
  });
});
