import { describe, expect, it } from 'vitest';
import { closedPort, connectionCounter, runSpindle } from './helpers';

describe('spindle fetch: errors before and at submission', () => {
  it('exits 3 with "cannot reach coordinator at ADDR" when nothing listens', async () => {
    const addr = `127.0.0.1:${await closedPort()}`;
    const r = await runSpindle(['fetch', '--addr', addr, 'http://example.com/a.csv']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`cannot reach coordinator at ${addr}`);
    expect(r.stdout).toBe('');
  });

  it('takes the address from SPINDLE_ADDR', async () => {
    const addr = `127.0.0.1:${await closedPort()}`;
    const r = await runSpindle(['jobs'], { env: { SPINDLE_ADDR: addr } });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`cannot reach coordinator at ${addr}`);
  });

  it.each([
    [[], 'no URLs given'],
    [['ftp://example.com/a.csv'], 'not an http or https URL: ftp://example.com/a.csv'],
    [['-i', '/nonexistent/urls.txt'], 'cannot read URL list /nonexistent/urls.txt'],
    [['-i', '-'], 'no URLs in stdin'],
    [['--sha256', 'xyz', 'http://example.com/a'], '--sha256: not a SHA-256'],
  ])('fetch %j exits non-zero naming the problem and connects to nothing', async (args, message) => {
    const counter = await connectionCounter();
    try {
      const r = await runSpindle(['fetch', '--addr', counter.address, ...args]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(message);
      expect(counter.count()).toBe(0);
    } finally {
      await counter.close();
    }
  });

  it('reads a URL list from stdin and rejects a bad line with its number', async () => {
    const counter = await connectionCounter();
    try {
      const r = await runSpindle(['fetch', '--addr', counter.address, '-i', '-'], {
        input: 'http://example.com/a\n# comment\nnot a url\n',
      });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('stdin:3: not a valid URL: not');
      expect(counter.count()).toBe(0);
    } finally {
      await counter.close();
    }
  });
});
