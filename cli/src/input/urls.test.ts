import { Readable } from 'node:stream';
import { mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
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
    const dir = mkdtempSync(path.join(os.tmpdir(), 'spindle-cli-test-'));
    writeFileSync(path.join(dir, 'empty.txt'), '# nothing\n');
    await expect(collectFetchItems({ args: [], inputFile: 'empty.txt' }, { ...noStdin, cwd: dir })).rejects.toThrow(
      /no URLs in empty\.txt/,
    );
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

  it('rejects a non-http argument before anything else', async () => {
    await expect(collectFetchItems({ args: ['http://a.test/', 'ftp://x'] }, noStdin)).rejects.toThrow(
      'not an http or https URL: ftp://x',
    );
  });
});
