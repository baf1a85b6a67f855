import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { makeTempDir } from '../../../test/helpers/temp-dir';
import { ServiceProcess, describeExit, stampLogLine } from './service-process';

describe('stampLogLine', () => {
  it('adds the service to JSON lines and wraps other lines', () => {
    expect(stampLogLine('coordinator', 'stdout', '{"level":30,"msg":"hi"}')).toBe(
      '{"service":"coordinator","level":30,"msg":"hi"}',
    );
    expect(stampLogLine('w', 'stdout', '{}')).toBe('{"service":"w"}');
    expect(stampLogLine('w', 'stdout', '{"service":"own","msg":"x"}')).toBe('{"service":"own","msg":"x"}');
    expect(JSON.parse(stampLogLine('w', 'stdout', '{not json}'))).toEqual({ service: 'w', stream: 'stdout', msg: '{not json}' });
    expect(JSON.parse(stampLogLine('w', 'stderr', 'Error: "boom"'))).toEqual({
      service: 'w',
      stream: 'stderr',
      msg: 'Error: "boom"',
    });
  });

  it('describes exits', () => {
    expect(describeExit({ code: 1, signal: null })).toBe('exited with code 1');
    expect(describeExit({ code: null, signal: 'SIGKILL' })).toBe('was killed by SIGKILL');
  });
});

describe('ServiceProcess', () => {
  const dir = makeTempDir('spindle-cli-service-');
  const started: ServiceProcess[] = [];
  afterEach(() => {
    for (const s of started.splice(0)) s.killNow();
  });

  function script(name: string, body: string): string {
    const file = path.join(dir, name);
    writeFileSync(file, body);
    return file;
  }

  function start(file: string, log = new PassThrough()): ServiceProcess {
    const s = new ServiceProcess({ name: 'svc', script: file, env: { ...process.env } }, log);
    started.push(s);
    return s;
  }

  it('waits for a JSON log line and forwards every line to the log', async () => {
    const file = script(
      'listen.js',
      `console.log('plain'); console.log(JSON.stringify({ msg: 'ready', port: 42 })); setInterval(() => {}, 1000);`,
    );
    const log = new PassThrough();
    const lines: string[] = [];
    log.on('data', (c: Buffer) => lines.push(...c.toString().split('\n').filter(Boolean)));
    const s = start(file, log);
    const entry = await s.waitForLog((e) => e.msg === 'ready', { timeoutMs: 10_000, what: 'ready' });
    expect(entry.port).toBe(42);
    await s.stop(5_000);
    expect(lines).toContain('{"service":"svc","stream":"stdout","msg":"plain"}');
    expect(lines).toContain('{"service":"svc","msg":"ready","port":42}');
  });

  it('rejects when the process exits before the line', async () => {
    const s = start(script('dies.js', `console.error('bad config'); process.exit(1);`));
    await expect(s.waitForLog(() => true, { timeoutMs: 10_000, what: 'ready' })).rejects.toThrow(
      'svc exited with code 1 before it logged "ready"',
    );
    expect(s.lastLines()).toContain('bad config');
  });

  it('kills a process that ignores SIGTERM after the grace period', async () => {
    const s = start(
      script('stubborn.js', `process.on('SIGTERM', () => {}); console.log('{"msg":"up"}'); setInterval(() => {}, 1000);`),
    );
    await s.waitForLog((e) => e.msg === 'up', { timeoutMs: 10_000, what: 'up' });
    const exit = await s.stop(300);
    expect(exit.signal).toBe('SIGKILL');
  });
});
