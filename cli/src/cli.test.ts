import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runCli } from './cli';
import type { CliContext } from './context';

function context(env: NodeJS.ProcessEnv = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const ctx: CliContext = {
    stdout: { write: (s: string) => (out.push(s), true) },
    stderr: { write: (s: string) => (err.push(s), true) },
    stdin: Readable.from([]),
    env,
    cwd: '/',
    signal: new AbortController().signal,
    onExit: () => () => undefined,
  };
  return { ctx, stdout: () => out.join(''), stderr: () => err.join('') };
}

describe('runCli', () => {
  it('--help and --version exit 0', async () => {
    const help = context();
    expect(await runCli(['--help'], help.ctx)).toBe(0);
    expect(help.stdout()).toMatch(/Usage: spindle/);
    const version = context();
    expect(await runCli(['--version'], version.ctx)).toBe(0);
    expect(version.stdout()).toMatch(/^\d+\.\d+\.\d+\n$/);
  });

  it.each([
    [['bogus'], /unknown command 'bogus'/],
    [[], /Usage: spindle/],
    [['jobs', '--limit', '0'], /--limit <n>' argument '0' is invalid/],
    [['--addr', 'nope', 'jobs'], /--addr <host:port>' argument 'nope' is invalid/],
    [['stats'], /missing required argument 'files'/],
    [['results', 'j', '--format', 'xml'], /argument 'xml' is invalid/],
    [['fetch', '--attempts', '21', 'http://ok.test/'], /option '--attempts <n>' argument '21' is invalid\. expected an integer from 1 to 20/],
    [['stats', '--attempts', '0', 'a.csv'], /option '--attempts <n>' argument '0' is invalid/],
    [['fetch', '--name', 'n'.repeat(201), 'http://ok.test/'], /option '--name <label>' argument '.*' is invalid\. at most 200 characters \(got 201\)/],
    [['fetch', '--request-id', 'a b', 'http://ok.test/'], /option '--request-id <id>' argument 'a b' is invalid/],
    [['stats', '--request-id', 'r'.repeat(129), 'a.csv'], /option '--request-id <id>' argument '.*' is invalid/],
    [['fetch', '--request-id', '', 'http://ok.test/'], /option '--request-id <id>' argument '' is invalid/],
    [['fetch', '--request-id', 'é', 'http://ok.test/'], /option '--request-id <id>' argument 'é' is invalid/],
  ])('usage error %j exits 2', async (argv, message) => {
    const c = context();
    expect(await runCli(argv, c.ctx)).toBe(2);
    expect(c.stderr()).toMatch(message);
  });

  it('the largest --attempts, --name and --request-id the coordinator takes get past option parsing', async () => {
    // Nothing listens on port 1: getting that far (exit 3) means the options were accepted.
    const c = context({ SPINDLE_ADDR: '127.0.0.1:1' });
    const argv = ['fetch', '--attempts', '20', '--name', 'n'.repeat(200), '--request-id', '~'.repeat(128), 'http://ok.test/'];
    expect(await runCli(argv, c.ctx)).toBe(3);
  });

  it('fetch notes URLs given more than once (each is still downloaded)', async () => {
    // Nothing listens on port 1: the note comes before connecting (exit 3).
    const c = context({ SPINDLE_ADDR: '127.0.0.1:1' });
    expect(await runCli(['fetch', 'http://ok.test/a', 'http://ok.test/b', 'http://ok.test/a', 'http://ok.test/a'], c.ctx)).toBe(3);
    expect(c.stderr()).toContain('note: 2 URLs are given more than once; each copy is downloaded, under its own name');
    const once = context({ SPINDLE_ADDR: '127.0.0.1:1' });
    expect(await runCli(['fetch', 'http://ok.test/a', 'http://ok.test/b'], once.ctx)).toBe(3);
    expect(once.stderr()).not.toContain('note:');
  });

  it('fetch without URLs exits 2 naming the problem, without connecting', async () => {
    const c = context({ SPINDLE_ADDR: '127.0.0.1:1' });
    expect(await runCli(['fetch'], c.ctx)).toBe(2);
    expect(c.stderr()).toBe('error: no URLs given: pass URLs as arguments or a URL list with -i FILE\n');
  });

  it('fetch of a non-http URL exits 2', async () => {
    const c = context();
    expect(await runCli(['fetch', 'http://ok.test/', 'ftp://bad.test/x'], c.ctx)).toBe(2);
    expect(c.stderr()).toBe('error: not an http or https URL: ftp://bad.test/x\n');
  });

  it('fetch of a URL with credentials exits 2 without echoing the password', async () => {
    const c = context({ SPINDLE_ADDR: '127.0.0.1:1' });
    expect(await runCli(['fetch', 'http://user:s3cret@ok.test/f'], c.ctx)).toBe(2);
    expect(c.stderr()).toBe('error: credentials in URLs are not supported: http://user:***@ok.test/f\n');
  });

  it.each([
    [['fetch', '--stats', '--results', '/nonexistent/r.csv', 'http://ok.test/'], '--results: cannot write /nonexistent/r.csv: folder /nonexistent does not exist'],
    [['fetch', '--stats', '--results', '/', 'http://ok.test/'], '--results: cannot write /: it is a folder'],
    [['fetch', '--stats', '--results', '/dev/null/r.csv', 'http://ok.test/'], '--results: cannot write /dev/null/r.csv: /dev/null is not a folder'],
    [['stats', '-o', '/nonexistent/r.csv', 'a.csv'], '--output: cannot write /nonexistent/r.csv: folder /nonexistent does not exist'],
    [['stats', '--columns-output', '/nonexistent/c.csv', 'a.csv'], '--columns-output: cannot write /nonexistent/c.csv'],
  ])('%j: an unwritable results file exits 2 before connecting', async (argv, message) => {
    // Nothing listens on port 1: connecting would exit 3.
    const c = context({ SPINDLE_ADDR: '127.0.0.1:1' });
    expect(await runCli(argv, c.ctx)).toBe(2);
    expect(c.stderr()).toContain(`error: ${message}`);
  });

  it('fetch -o with ".." exits 2', async () => {
    const c = context();
    expect(await runCli(['fetch', '-o', '../up', 'http://ok.test/'], c.ctx)).toBe(2);
    expect(c.stderr()).toMatch(/--output-dir must not contain "\.\."/);
  });

  it('an unreachable coordinator exits 3 (address from SPINDLE_ADDR)', async () => {
    const c = context({ SPINDLE_ADDR: '127.0.0.1:1' });
    expect(await runCli(['jobs'], c.ctx)).toBe(3);
    expect(c.stderr()).toMatch(/^error: cannot reach coordinator at 127\.0\.0\.1:1/);
  });

  it('global options work after the command name too', async () => {
    const c = context();
    expect(await runCli(['workers', '--addr', '127.0.0.1:1', '--json'], c.ctx)).toBe(3);
    expect(c.stderr()).toMatch(/cannot reach coordinator at 127\.0\.0\.1:1/);
  });
});
