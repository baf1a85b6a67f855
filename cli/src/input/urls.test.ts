import { Readable } from 'node:stream';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeTempDir } from '../../../test/helpers/temp-dir';
import { UsageError } from '../errors';
import { checkUrl, collectFetchItems, parseUrlList } from './urls';

const SHA = 'a'.repeat(64);
const noStdin = { cwd: '/', stdin: Readable.from([]) };

describe('checkUrl', () => {
  it('accepts http and https URLs and normalizes them', () => {
    expect(checkUrl('http://example.com')).toBe('http://example.com/');
    expect(checkUrl('HTTPS://Example.COM/a b')).toBe('https://example.com/a%20b');
  });

  it.each([
    ['ftp://example.com/x', /not an http or https URL/],
    ['file:///etc/passwd', /not an http or https URL/],
    ['example.com/x', /not a valid URL/],
    ['', /not a valid URL/],
    ['javascript:alert(1)', /not an http or https URL/],
  ])('rejects %j', (url, message) => {
    expect(() => checkUrl(url)).toThrow(message);
  });

  it.each([
    ['http://user:s3cret@a.test/f', 'http://user:***@a.test/f'],
    ['https://user@a.test/f', 'https://user@a.test/f'],
    ['http://:s3cret@a.test/', 'http://:***@a.test/'],
    ['http://u:s3cret@1.2.3.4:8080/f', 'http://u:***@1.2.3.4:8080/f'],
    ['HTTP://U:s3cret@A.test/a b', 'HTTP://U:***@A.test/a b'],
    ['http://u:p@ss:s3cret@a.test/', 'http://u:***@a.test/'],
  ])('rejects credentials in %j without echoing the password', (raw, shown) => {
    expect(() => checkUrl(raw)).toThrow(`credentials in URLs are not supported: ${shown}`);
  });

  it('never echoes a password in other errors either', () => {
    expect(() => checkUrl('ftp://u:s3cret@a.test/')).toThrow('not an http or https URL: ftp://u:***@a.test/');
    expect(() => checkUrl('http://u:s3cret@[bad/')).toThrow('not a valid URL: http://u:***@[bad/');
  });

  it.each([
    ['http://a.test/a\tb', 'U+0009'],
    ['http://a.test/a\nb', 'U+000A'],
    ['\x01http://a.test/x', 'U+0001'],
    ['http://a.test/x\x7f', 'U+007F'],
    ['http://a.test/x\x00', 'U+0000'],
  ])('rejects control characters the URL parser would drop: %j', (raw, code) => {
    expect(() => checkUrl(raw)).toThrow(`URL contains a control character (${code})`);
  });

  /** What checkUrl must return: the URL parser's normal form, or an error. */
  function parsed(raw: string): string | undefined {
    try {
      const url = new URL(raw);
      if (/[\x00-\x1f\x7f]/.test(raw)) return undefined;
      const ok = (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
      return ok && url.username === '' && url.password === '' ? url.href : undefined;
    } catch {
      return undefined;
    }
  }

  function expectSameAsParser(raw: string): void {
    const want = parsed(raw);
    if (want === undefined) expect(() => checkUrl(raw), raw).toThrow();
    else expect(checkUrl(raw), raw).toBe(want);
  }

  // checkUrl skips the URL parser for URLs already in normal form: the result must not change.
  it.each([
    'http://a.test/x.csv',
    'https://files.example.com:8443/data/2024/a_b-c~d.csv?sig=ab%2Fcd&x=1',
    'http://127.0.0.1:18080/data/w3/t0000.bin',
    'http://0.0.0.0/',
    'http://255.255.255.255/x',
    'http://256.1.1.1/',
    'http://127.1/',
    'http://127.000.0.1/',
    'http://0x7f.0.0.1/',
    'http://1.2.3.4./',
    'http://a.0x1/',
    'http://a.1b/',
    'http://1.2.3.a/',
    'http://-a-.b--c.test/',
    'http://xn--a.test/',
    'http://xn--bcher-kva.test/',
    'http://Example.test/',
    'HTTP://a.test/',
    'http://a.test',
    'http://a.test:80/',
    'https://a.test:443/',
    'http://a.test:443/',
    'https://a.test:80/',
    'http://a.test:0080/',
    'http://a.test:0/',
    'http://a.test:65535/',
    'http://a.test:65536/',
    'http://a.test:99999/',
    'http://a.test/a/./b',
    'http://a.test/a/../b',
    'http://a.test/a/..',
    'http://a.test/a/.',
    'http://a.test/a/.b/..c',
    'http://a.test/./?q',
    'http://a.test/%2e/b',
    'http://a.test/%zz',
    'http://a.test/a//b',
    'http://a.test/a b',
    'http://a.test/a\\b',
    'http://a.test/a\tb',
    'http://a.test/é',
    "http://a.test/it's",
    "http://a.test/?it's",
    'http://a.test/?a^b`c{d}',
    'http://a.test/?q=%zz&r=/./',
    'http://a.test/?',
    'http://a.test/#frag',
    'http://user:pw@a.test/',
    'http://@a.test/',
    'http://a_b.test/',
    'http://[::1]:8080/',
    'http://a.test:/',
    'https:/a.test/',
    'http:a.test/',
    'ws://a.test/',
  ])('gives the URL parser’s answer for %j', (raw) => {
    expectSameAsParser(raw);
  });

  it('gives the URL parser’s answer for random URLs', () => {
    // Deterministic: a failure names the URL, and the run can be repeated.
    let seed = 12345;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const pick = (parts: readonly string[]): string => parts[random(parts.length)] ?? '';
    const schemes = ['http://', 'https://', 'HTTP://', 'http:/', 'ftp://'];
    const hosts = ['a.test', 'b-1.c2.test', '10.0.0.1', '010.0.0.1', '1.2.3', '0x1.test', 'a.test.', 'A.test', 'xn--a.test', ''];
    const ports = ['', '', ':80', ':443', ':8080', ':080', ':65536', ':'];
    const pieces = ['a', 'Z', '0', '-', '_', '.', '..', '/', '%', '%2e', '%41', '?', '#', ' ', "'", '"', '\\'];
    pieces.push('~', '!', '$', '&', '(', '*', '+', ',', ';', '=', ':', '@', '^', '`', '{', '|', 'é');
    for (let i = 0; i < 20_000; i++) {
      let rest = pick(['/', '/', '', '?']);
      for (let n = random(8); n > 0; n--) rest += pick(pieces);
      expectSameAsParser(pick(schemes) + pick(hosts) + pick(ports) + rest);
    }
  });
});

describe('parseUrlList', () => {
  it('reads one URL per line, skipping blanks and comments', () => {
    const items = parseUrlList('# data\nhttp://a.test/1.csv\n\n  https://b.test/2.csv  \r\n', 'list.txt');
    expect(items.map((i) => i.url)).toEqual(['http://a.test/1.csv', 'https://b.test/2.csv']);
  });

  it('reads optional checksum and file name columns in either order', () => {
    const [a, b] = parseUrlList(`http://a.test/x ${SHA.toUpperCase()} x.csv\nhttp://b.test/y\ty.csv\t${SHA}`, 'l');
    expect(a).toEqual({ url: 'http://a.test/x', sha256: SHA, fileName: 'x.csv' });
    expect(b).toEqual({ url: 'http://b.test/y', sha256: SHA, fileName: 'y.csv' });
  });

  it('names the source and line of a bad entry', () => {
    expect(() => parseUrlList('http://ok.test/\n\nftp://bad.test/', 'urls.txt')).toThrow(
      /^urls\.txt:3: not an http or https URL: ftp:\/\/bad\.test\/$/,
    );
  });

  it('rejects credentials with the line, without the password', () => {
    expect(() => parseUrlList('http://ok.test/\nhttp://me:s3cret@a.test/f x.csv', 'urls.txt')).toThrow(
      /^urls\.txt:2: credentials in URLs are not supported: http:\/\/me:\*\*\*@a\.test\/f$/,
    );
  });

  it('ends lines at LF, CRLF and a lone CR', () => {
    const items = parseUrlList('http://a.test/1\rhttp://b.test/2\r\nhttp://c.test/3\nhttp://d.test/4\r', 'l');
    expect(items.map((i) => i.url)).toEqual(['http://a.test/1', 'http://b.test/2', 'http://c.test/3', 'http://d.test/4']);
    expect(() => parseUrlList('http://a.test/\rftp://b.test/', 'l')).toThrow(/^l:2: /);
  });

  it('treats # after a space or tab as a comment, and # inside a URL as its fragment', () => {
    const items = parseUrlList(
      `http://a.test/x #mirror 2\nhttp://b.test/y\t# old\nhttp://c.test/z#part c.csv # note\n  # indented\nhttp://d.test/w ${SHA} #x`,
      'l',
    );
    expect(items).toEqual([
      { url: 'http://a.test/x', fileName: '', sha256: '' },
      { url: 'http://b.test/y', fileName: '', sha256: '' },
      { url: 'http://c.test/z#part', fileName: 'c.csv', sha256: '' },
      { url: 'http://d.test/w', fileName: '', sha256: SHA },
    ]);
  });

  it('rejects a control character inside a URL with its line', () => {
    expect(() => parseUrlList('http://ok.test/\nhttp://a.test/x\x0by', 'l')).toThrow(/^l:2: URL contains a control character \(U\+000B\)/);
  });

  it('rejects file names with directories and extra columns', () => {
    expect(() => parseUrlList('http://a.test/ ../x', 'l')).toThrow(/l:1: not a bare file name/);
    expect(() => parseUrlList('http://a.test/ x y', 'l')).toThrow(/unexpected column "y"/);
  });
});

describe('collectFetchItems', () => {
  it('fails without any URL, naming the problem', async () => {
    await expect(collectFetchItems({ args: [] }, noStdin)).rejects.toThrow(UsageError);
    await expect(collectFetchItems({ args: [] }, noStdin)).rejects.toThrow(/no URLs given/);
  });

  it('fails on an unreadable list file', async () => {
    await expect(collectFetchItems({ args: [], inputFile: '/nonexistent/urls.txt' }, noStdin)).rejects.toThrow(
      /cannot read URL list \/nonexistent\/urls\.txt: ENOENT/,
    );
  });

  it('fails on an empty list file', async () => {
    const dir = makeTempDir('spindle-cli-test-');
    writeFileSync(path.join(dir, 'empty.txt'), '# nothing\n');
    await expect(collectFetchItems({ args: [], inputFile: 'empty.txt' }, { ...noStdin, cwd: dir })).rejects.toThrow(
      /no URLs in empty\.txt/,
    );
  });

  it('rejects invalid UTF-8 naming the line, and UTF-16 naming the encoding', async () => {
    const dir = makeTempDir('spindle-cli-test-');
    const bad = Buffer.concat([Buffer.from('http://a.test/1\r\nhttp://a.test/2\rhttp://a.test/'), Buffer.from([0xe9]), Buffer.from('.csv\n')]);
    writeFileSync(path.join(dir, 'latin1.txt'), bad);
    await expect(collectFetchItems({ args: [], inputFile: 'latin1.txt' }, { ...noStdin, cwd: dir })).rejects.toThrow(
      /^latin1\.txt:3: not valid UTF-8$/,
    );
    const stdin = Readable.from([Buffer.from('http://a.test/ok\nhttp://a.test/\xff\n', 'latin1')]);
    await expect(collectFetchItems({ args: [], inputFile: '-' }, { cwd: '/', stdin })).rejects.toThrow(/^stdin:2: not valid UTF-8$/);
    writeFileSync(path.join(dir, 'utf16.txt'), Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('http://a.test/\n', 'utf16le')]));
    await expect(collectFetchItems({ args: [], inputFile: 'utf16.txt' }, { ...noStdin, cwd: dir })).rejects.toThrow(
      'utf16.txt: UTF-16 is not supported, save the list as UTF-8',
    );
    // A UTF-8 BOM is not part of the first URL; valid UTF-8 is kept as written.
    writeFileSync(path.join(dir, 'bom.txt'), Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('http://a.test/é\n')]));
    const items = await collectFetchItems({ args: [], inputFile: 'bom.txt' }, { ...noStdin, cwd: dir });
    expect(items.map((i) => i.url)).toEqual(['http://a.test/%C3%A9']);
  });

  it("reads '-' from stdin and merges with arguments", async () => {
    const stdin = Readable.from([Buffer.from('http://b.test/\n'), Buffer.from('http://c.test/\n')]);
    const items = await collectFetchItems({ args: ['http://a.test/'], inputFile: '-' }, { cwd: '/', stdin });
    expect(items.map((i) => i.url)).toEqual(['http://a.test/', 'http://b.test/', 'http://c.test/']);
  });

  it('applies --sha256 to a single URL only', async () => {
    const [item] = await collectFetchItems({ args: ['http://a.test/'], sha256: SHA }, noStdin);
    expect(item?.sha256).toBe(SHA);
    await expect(collectFetchItems({ args: ['http://a.test/', 'http://b.test/'], sha256: SHA }, noStdin)).rejects.toThrow(
      /--sha256 needs exactly one URL/,
    );
    await expect(collectFetchItems({ args: ['http://a.test/'], sha256: 'abc' }, noStdin)).rejects.toThrow(
      /--sha256: not a SHA-256/,
    );
  });

  it('refuses a --sha256 that contradicts the checksum in a one-line list, and takes one that agrees', async () => {
    const dir = makeTempDir('spindle-cli-test-');
    writeFileSync(path.join(dir, 'one.txt'), `http://a.test/x ${SHA}\n`);
    const other = 'f'.repeat(64);
    await expect(collectFetchItems({ args: [], inputFile: 'one.txt', sha256: other }, { ...noStdin, cwd: dir })).rejects.toThrow(
      `--sha256 ${other} differs from the checksum in the URL list (${SHA})`,
    );
    const [item] = await collectFetchItems({ args: [], inputFile: 'one.txt', sha256: SHA.toUpperCase() }, { ...noStdin, cwd: dir });
    expect(item?.sha256).toBe(SHA);
  });

  it('rejects a non-http argument before anything else', async () => {
    await expect(collectFetchItems({ args: ['http://a.test/', 'ftp://x'] }, noStdin)).rejects.toThrow(
      'not an http or https URL: ftp://x',
    );
  });
});
