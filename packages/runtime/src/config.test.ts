import { describe, expect, it } from 'vitest';
import { ConfigError, parseEnv } from './config';
import { compileWorkerConfig, workerEnvSchema } from './worker-config';

describe('worker configuration', () => {
  it('applies defaults and treats empty variables as unset', () => {
    const e = parseEnv(workerEnvSchema, { SPINDLE_COORDINATOR_ADDR: '', SPINDLE_WORKER_SLOTS: '8' });
    const c = compileWorkerConfig('fetch', e);
    expect(c.coordinatorAddress).toBe('127.0.0.1:7070');
    expect(c.slots).toBe(8);
    expect(c.workerId).toMatch(/^fetch-/);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('lists every invalid variable by name', () => {
    let err: unknown;
    try {
      parseEnv(workerEnvSchema, { SPINDLE_COORDINATOR_ADDR: 'nope', SPINDLE_WORKER_SLOTS: '-1', SPINDLE_LOG_LEVEL: 'loud' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const issues = (err as ConfigError).issues.join('\n');
    expect(issues).toContain('SPINDLE_COORDINATOR_ADDR');
    expect(issues).toContain('SPINDLE_WORKER_SLOTS');
    expect(issues).toContain('SPINDLE_LOG_LEVEL');
  });

  it('checks the drain grace against the shutdown deadline, naming both', () => {
    const e = parseEnv(workerEnvSchema, { SPINDLE_DRAIN_GRACE_MS: '40000', SPINDLE_SHUTDOWN_DEADLINE_MS: '30000' });
    expect(() => compileWorkerConfig('stats', e)).toThrow(/SPINDLE_DRAIN_GRACE_MS.*SPINDLE_SHUTDOWN_DEADLINE_MS/);
  });
});
