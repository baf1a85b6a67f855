import { describe, expect, it } from 'vitest';
import {
  deriveFileName,
  FALLBACK_FILE_NAME,
  hasUsableName,
  isPlaceholderName,
  isPlainSafeName,
  fileNameFromUrl,
  MAX_FILE_NAME_BYTES,
  numberedFileName,
  planFileNames,
  sanitizeAnyFileName,
  sanitizeFileName,
  splitExtension,
  truncateUtf8,
  utf8Length,
} from './file-names';

describe('sanitizeFileName', () => {
  it.each([
    ['report.csv', 'report.csv'],
    ['../../etc/passwd', 'passwd'],
    ['/abs', 'abs'],
    ['a/b', 'b'],
    ['a/b/', 'b'],
    ['a\\b\\c.txt', 'c.txt'],
    ['C:\\Windows\\System32\\drivers', 'drivers'],
    ['..', FALLBACK_FILE_NAME],
    ['.', FALLBACK_FILE_NAME],
    ['../..', FALLBACK_FILE_NAME],
    ['', FALLBACK_FILE_NAME],
    ['   ', FALLBACK_FILE_NAME],
    ['...', FALLBACK_FILE_NAME],
  ])('drops directories: %j -> %j', (raw, expected) => {
    expect(sanitizeFileName(raw)).toBe(expected);
  });

  it.each([
    ['.bashrc', '_.bashrc'],
    ['.x.part', '_.x.part'],
    ['..hidden', '_..hidden'],
  ])('never yields a hidden name: %j -> %j', (raw, expected) => {
    expect(sanitizeFileName(raw)).toBe(expected);
  });

  it.each([
    ['a\u0000b', 'a_b'],
    ['line\nbreak\r.txt', 'line_break_.txt'],
    ['tab\there', 'tab_here'],
    ['del\u007f', 'del_'],
    ['c1\u0085', 'c1_'],
    ['what?.txt', 'what_.txt'],
    ['a<b>c:d"e|f*g', 'a_b_c_d_e_f_g'],
    ['evil\u202Etxt.exe', 'evil_txt.exe'],
    ['lone\ud800surrogate', 'lone_surrogate'],
  ])('replaces unsafe characters: %j -> %j', (raw, expected) => {
    expect(sanitizeFileName(raw)).toBe(expected);
  });

  it.each([
    ['CON', '_CON'],
    ['con.txt', '_con.txt'],
    ['Nul.tar.gz', '_Nul.tar.gz'],
    ['COM1', '_COM1'],
    ['lpt9.log', '_lpt9.log'],
    ['console.txt', 'console.txt'],
    ['com10', 'com10'],
    ['COM0', '_COM0'],
    ['Com1 .log', '_Com1 .log'],
    ['aux. .txt', '_aux. .txt'],
    ['prn...', '_prn'],
    ['nul  ', '_nul'],
    ['CONIN$', '_CONIN$'],
    ['conin$.txt', '_conin$.txt'],
    ['conout$.txt', '_conout$.txt'],
    ['CONOUT$ . ', '_CONOUT$'],
    ['COM¹.txt', '_COM¹.txt'],
    ['com²', '_com²'],
    ['Com³.tar.gz', '_Com³.tar.gz'],
    ['LPT²', '_LPT²'],
    ['lpt¹.log', '_lpt¹.log'],
    ['lpt³ .txt', '_lpt³ .txt'],
    ['a/b/CONIN$', '_CONIN$'],
    ['com⁴', 'com⁴'],
    ['lpt¹²', 'lpt¹²'],
    ['conin', 'conin'],
    ['conin$$', 'conin$$'],
    ['xconout$', 'xconout$'],
    ['clock$', 'clock$'],
  ])('prefixes Windows device names: %j -> %j', (raw, expected) => {
    expect(sanitizeFileName(raw)).toBe(expected);
  });

  it.each([
    ['name. . ', 'name'],
    ['  lead.txt', 'lead.txt'],
    ['trail.txt...', 'trail.txt'],
  ])('trims trailing dots/spaces and leading spaces: %j -> %j', (raw, expected) => {
    expect(sanitizeFileName(raw)).toBe(expected);
  });

  it('normalises to NFC', () => {
    expect(sanitizeFileName('cafe\u0301.txt')).toBe('caf\u00e9.txt');
  });

  it('limits the length in UTF-8 bytes and keeps a short extension', () => {
    const long = `${'é'.repeat(300)}.csv`;
    const out = sanitizeFileName(long);
    expect(Buffer.byteLength(out, 'utf8')).toBeLessThanOrEqual(MAX_FILE_NAME_BYTES);
    expect(out.endsWith('.csv')).toBe(true);
    expect(out.startsWith('éé')).toBe(true);
    expect(out).not.toContain('\ufffd');
  });

  it('never splits a 4-byte code point when truncating', () => {
    const out = sanitizeFileName('😀'.repeat(100), 10);
    expect(out).toBe('😀😀');
  });

  it('truncates a name without a usable extension as a whole', () => {
    const out = sanitizeFileName(`a.${'b'.repeat(300)}`);
    expect(Buffer.byteLength(out, 'utf8')).toBe(MAX_FILE_NAME_BYTES);
  });

  it('takes its fast path only for names the general rules keep unchanged', () => {
    // Every short name over an alphabet of safe and borderline characters, plus
    // device names and lengths around the limit: the fast path must never let
    // through a name that the general path would change.
    const alphabet = ['a', 'Z', '0', '.', '_', '-', ' ', '$'];
    const names: string[] = [''];
    for (let len = 1; len <= 4; len++) {
      for (let n = 0; n < alphabet.length ** len; n++) {
        let name = '';
        for (let i = 0, v = n; i < len; i++, v = Math.floor(v / alphabet.length)) name += alphabet[v % alphabet.length];
        names.push(name);
      }
    }
    names.push('CON', 'con.txt', 'Nul.tar.gz', 'com1', 'COM9.log', 'lpt0', 'conin$', 'console', 'lpt10', 'aux_', '-aux');
    names.push('prn.a.b', 'AUX.', 'lpt9.tar.gz', 'conx', 'nul_.txt', 'com10.log', 'co.n', 'c.on', 'lpt.1', '_nul');
    names.push('x'.repeat(MAX_FILE_NAME_BYTES), 'x'.repeat(MAX_FILE_NAME_BYTES + 1), `${'x'.repeat(MAX_FILE_NAME_BYTES - 4)}.csv`);
    let fast = 0;
    for (const name of names) {
      const general = sanitizeAnyFileName(name);
      expect(sanitizeFileName(name), JSON.stringify(name)).toBe(general);
      if (isPlainSafeName(name)) {
        fast++;
        expect(general, JSON.stringify(name)).toBe(name);
        expect(hasUsableName(name), JSON.stringify(name)).toBe(true);
      }
    }
    // The fast path is taken (or this test proves nothing), and refused for what it must refuse.
    expect(fast).toBeGreaterThan(500);
    for (const name of ['CON', 'con.txt', 'com1', 'prn.a.b', 'lpt9.tar.gz', 'a.', '.a', 'a b', `${'x'.repeat(MAX_FILE_NAME_BYTES + 1)}`]) {
      expect(isPlainSafeName(name), name).toBe(false);
    }
  });

  it('is idempotent', () => {
    for (const raw of ['../x', '.a', 'CON', 'CONIN$', 'lpt².txt', 'a?b', `${'x'.repeat(400)}.txt`, 'ok.txt']) {
      const once = sanitizeFileName(raw);
      expect(sanitizeFileName(once)).toBe(once);
    }
  });
});

describe('truncateUtf8', () => {
  it('keeps strings that fit and cuts on code point boundaries', () => {
    expect(truncateUtf8('abc', 3)).toBe('abc');
    expect(truncateUtf8('aé', 2)).toBe('a');
    expect(truncateUtf8('日本語', 7)).toBe('日本');
  });
});

describe('fileNameFromUrl / deriveFileName', () => {
  it('takes the decoded last path segment, ignoring query and fragment', () => {
    expect(fileNameFromUrl(new URL('https://h/a/b/na%C3%AFve%20file.csv?x=1#y'))).toBe('naïve file.csv');
  });

  it('is empty for a path ending in a slash and for the root', () => {
    expect(fileNameFromUrl(new URL('https://h/dir/'))).toBe('');
    expect(fileNameFromUrl(new URL('https://h'))).toBe('');
  });

  it('keeps an undecodable segment as it is', () => {
    expect(fileNameFromUrl(new URL('https://h/bad%E0%A4%A.txt'))).toBe('bad%E0%A4%A.txt');
  });

  it('sanitizes what decoding reveals (an encoded slash cannot create a directory)', () => {
    expect(deriveFileName('', new URL('https://h/x/..%2F..%2Fetc%2Fpasswd'))).toBe('passwd');
  });

  it('prefers the task file name, falling back to the URL and then to the default', () => {
    expect(deriveFileName('mine.bin', new URL('https://h/theirs.bin'))).toBe('mine.bin');
    expect(deriveFileName('', new URL('https://h/theirs.bin'))).toBe('theirs.bin');
    expect(deriveFileName('', new URL('https://h/'))).toBe(FALLBACK_FILE_NAME);
  });
});

describe('utf8Length', () => {
  it('agrees with Buffer.byteLength, lone surrogates included', () => {
    for (const s of ['', 'abc', 'é', '日本語', '😀x', 'a\ud800b', '\udc00']) {
      expect(utf8Length(s)).toBe(Buffer.byteLength(s, 'utf8'));
    }
  });
});

describe('splitExtension / numberedFileName', () => {
  it.each([
    ['a.csv', 'a', '.csv'],
    ['a.tar.gz', 'a.tar', '.gz'],
    ['noext', 'noext', ''],
    ['_.bashrc', '_', '.bashrc'],
    ['v1.0 final', 'v1.0 final', ''],
    [`x.${'y'.repeat(20)}`, `x.${'y'.repeat(20)}`, ''],
  ])('%j -> %j + %j', (name, stem, ext) => {
    expect(splitExtension(name)).toEqual({ stem, ext });
  });

  it('numbers before the extension and stays within the length limit', () => {
    expect(numberedFileName('report.csv', 1)).toBe('report (1).csv');
    expect(numberedFileName('README', 12)).toBe('README (12)');
    const long = numberedFileName(`${'é'.repeat(150)}.csv`, 3);
    expect(utf8Length(long)).toBeLessThanOrEqual(MAX_FILE_NAME_BYTES);
    expect(long.endsWith(' (3).csv')).toBe(true);
  });
});

describe('planFileNames', () => {
  const plan = (items: Array<[string, string]>) =>
    planFileNames(items.map(([url, fileName]) => ({ url, fileName }))).map((p) => p.name);

  it('keeps distinct names and numbers later duplicates in item order', () => {
    expect(plan([['http://h/a.txt', ''], ['http://g/a.txt', ''], ['http://h/b.txt', ''], ['http://k/x/a.txt', '']])).toEqual([
      'a.txt',
      'a (1).txt',
      'b.txt',
      'a (2).txt',
    ]);
  });

  it('compares names case-insensitively', () => {
    expect(plan([['http://h/A.TXT', ''], ['http://h/a.txt', '']])).toEqual(['A.TXT', 'a (1).txt']);
  });

  it("never gives an item's own name to another item's duplicate", () => {
    expect(plan([['http://h/a.txt', ''], ['http://h/2/a.txt', ''], ['http://h/3/a%20(1).txt', '']])).toEqual([
      'a.txt',
      'a (2).txt',
      'a (1).txt',
    ]);
  });

  it('prefixes device names before comparing, so a device name and its prefixed form collide', () => {
    expect(plan([['http://h/CONIN$', ''], ['http://h/x', '_conin$'], ['http://h/y', 'COM%C2%B9.txt'], ['http://h/COM%C2%B9.txt', '']])).toEqual([
      '_CONIN$',
      '_conin$ (1)',
      'COM%C2%B9.txt',
      '_COM¹.txt',
    ]);
  });

  it('sanitizes before comparing, so names that only differ in unsafe characters collide', () => {
    expect(plan([['http://h/x', 'a?.txt'], ['http://h/y', 'a*.txt'], ['http://h/z', '../a_.txt']])).toEqual([
      'a_.txt',
      'a_ (1).txt',
      'a_ (2).txt',
    ]);
  });

  it('marks URLs without a name for Content-Disposition when no item has a name of its own', () => {
    const planned = planFileNames([
      { url: 'http://h/dir/', fileName: '' },
      { url: 'http://h/', fileName: '' },
      { url: 'http://h/..%2F..%2F', fileName: '' },
    ]);
    expect(planned).toEqual([
      { name: FALLBACK_FILE_NAME, fromResponse: true },
      { name: `${FALLBACK_FILE_NAME} (1)`, fromResponse: true },
      { name: `${FALLBACK_FILE_NAME} (2)`, fromResponse: true },
    ]);
  });

  it('keeps placeholders (no Content-Disposition) in a job where other items have names', () => {
    // A response could name its file `report.pdf`, which item 1 is planned to write.
    const planned = planFileNames([
      { url: 'http://h/dir/', fileName: '' },
      { url: 'http://h/report.pdf', fileName: '' },
      { url: 'http://h/', fileName: '' },
      { url: 'http://h/file.bin', fileName: 'mine.bin' },
    ]);
    expect(planned).toEqual([
      { name: FALLBACK_FILE_NAME, fromResponse: false },
      { name: 'report.pdf', fromResponse: false },
      { name: `${FALLBACK_FILE_NAME} (1)`, fromResponse: false },
      { name: 'mine.bin', fromResponse: false },
    ]);
  });

  it('tells placeholder names from others', () => {
    expect(['download', 'DOWNLOAD', 'download (1)', 'Download (27)'].filter(isPlaceholderName)).toHaveLength(4);
    expect(['download.pdf', 'download (0)', 'download (1).txt', 'downloads', 'my download', 'download ()'].filter(isPlaceholderName)).toEqual([]);
  });

  it('is linear for many identical names and deterministic', () => {
    const items = Array.from({ length: 20_000 }, (_, i) => ({ url: `http://h${i % 7}/index.html`, fileName: '' }));
    const a = planFileNames(items).map((p) => p.name);
    expect(new Set(a.map((n) => n.toLowerCase())).size).toBe(items.length);
    expect(a[19_999]).toBe('index (19999).html');
    expect(planFileNames(items).map((p) => p.name)).toEqual(a);
  });
});
