import { describe, expect, it } from 'vitest';
import { isStatsError } from '../errors';
import { CsvReader, FIELD_QUOTED, type CsvReaderOptions, type RecordView } from './reader';

/** Parses `input` fed in `chunks` pieces cut at `cuts`; returns records as string arrays. */
function parseChunks(input: Buffer, cuts: readonly number[], options?: CsvReaderOptions): string[][] {
  const records: string[][] = [];
  const reader = new CsvReader(
    {
      record(view: RecordView) {
        records.push(Array.from({ length: view.count }, (_, i) => view.text(i)));
      },
    },
    options,
  );
  let from = 0;
  for (const cut of [...cuts, input.length]) {
    // A fresh copy per chunk, overwritten afterwards: the reader must not keep references.
    const chunk = Buffer.from(input.subarray(from, cut));
    reader.push(chunk);
    chunk.fill(0x5a);
    from = cut;
  }
  reader.end();
  return records;
}

/** Parses `input` whole, then split at every position, then byte by byte; all must agree. */
function parseEveryWay(text: string | Buffer, options?: CsvReaderOptions): string[][] {
  const input = typeof text === 'string' ? Buffer.from(text) : text;
  const whole = parseChunks(input, [], options);
  for (let cut = 0; cut <= input.length; cut++) {
    expect(parseChunks(input, [cut], options), `split at ${cut}`).toEqual(whole);
  }
  const bytes = Array.from({ length: input.length }, (_, i) => i);
  expect(parseChunks(input, bytes, options), 'byte by byte').toEqual(whole);
  return whole;
}

function malformed(text: string, options?: CsvReaderOptions, cuts: readonly number[] = []): string {
  try {
    parseChunks(Buffer.from(text), cuts, options);
  } catch (err) {
    expect(isStatsError(err)).toBe(true);
    expect((err as { code: string }).code).toBe('CSV_MALFORMED');
    return (err as Error).message;
  }
  throw new Error('expected CSV_MALFORMED');
}

describe('CsvReader', () => {
  it.each<[string, string, string[][]]>([
    ['plain rows with a final newline', 'a,b\n1,2\n', [['a', 'b'], ['1', '2']]],
    ['no final newline', 'a,b\n1,2', [['a', 'b'], ['1', '2']]],
    ['CRLF line ends', 'a,b\r\n1,2\r\n', [['a', 'b'], ['1', '2']]],
    ['lone CR line ends', 'a,b\r1,2\r', [['a', 'b'], ['1', '2']]],
    ['empty fields', ',a,,\n,,', [['', 'a', '', ''], ['', '', '']]],
    ['quoted field with a comma', 'x,"a,b",y\n', [['x', 'a,b', 'y']]],
    ['quoted field with LF and CRLF', '"l1\nl2","c1\r\nc2"\n', [['l1\nl2', 'c1\r\nc2']]],
    ['doubled quotes', '"she said ""hi""",""""\n', [['she said "hi"', '"']]],
    ['empty quoted field', '"",x\n', [['', 'x']]],
    ['quoted field at EOF', 'a,"b"', [['a', 'b']]],
    ['quote inside an unquoted field is literal', 'a"b,5"\n', [['a"b', '5"']]],
    ['blank lines are skipped', 'a\n\n1\r\n\r\n2\n\n', [['a'], ['1'], ['2']]],
    ['a UTF-8 BOM is skipped', '\uFEFFa,b\n1,2\n', [['a', 'b'], ['1', '2']]],
    ['multi-byte characters', 'naïve,日本\n"é,è",ü\n', [['naïve', '日本'], ['é,è', 'ü']]],
    ['only a BOM', '\uFEFF', []],
    ['empty input', '', []],
  ])('%s', (_, text, expected) => {
    expect(parseEveryWay(text)).toEqual(expected);
  });

  it.each<[string, number, string, string[][]]>([
    ['semicolon', 0x3b, 'a;b,c\n"x;y";2\n', [['a', 'b,c'], ['x;y', '2']]],
    ['tab', 0x09, 'a\tb\n"1\t2"\t3\n', [['a', 'b'], ['1\t2', '3']]],
    ['pipe', 0x7c, 'a|b\n1|2', [['a', 'b'], ['1', '2']]],
  ])('uses the %s delimiter', (_, delimiter, text, expected) => {
    expect(parseEveryWay(text, { delimiter })).toEqual(expected);
  });

  it('marks quoted fields and points their ranges inside the quotes', () => {
    const seen: Array<[number, string]> = [];
    const reader = new CsvReader({
      record(view) {
        for (let i = 0; i < view.count; i++) {
          seen.push([view.flags[i]!, view.buf.toString('utf8', view.starts[i], view.ends[i])]);
        }
      },
    });
    reader.push(Buffer.from('"1.5",2\n'));
    reader.end();
    expect(seen).toEqual([
      [FIELD_QUOTED, '1.5'],
      [0, '2'],
    ]);
  });

  it('stops at the first record that starts at or after stopAt, and tells where it starts', () => {
    // Records start at 0 ("h"), 2 ("1"), 5 ("2", after a blank line), 7 ("33").
    const text = Buffer.from('h\n1\n\n2\n33\n');
    for (const [stopAt, expected, stopOffset] of [
      [0, [], 0],
      [1, [['h']], 2],
      [3, [['h'], ['1']], 4],
      [5, [['h'], ['1']], 5],
      [6, [['h'], ['1'], ['2']], 7],
      [100, [['h'], ['1'], ['2'], ['33']], -1],
    ] as const) {
      for (const cuts of [[], [1], [3, 4, 6], [8]]) {
        const records: string[][] = [];
        const reader = new CsvReader({ record: (v) => void records.push([v.text(0)]) }, { stopAt });
        let from = 0;
        for (const cut of [...cuts, text.length]) {
          reader.push(text.subarray(from, cut));
          from = cut;
        }
        reader.end();
        expect(records, `stopAt ${stopAt}, cuts ${cuts.join(' ')}`).toEqual(expected);
        expect(reader.stopOffset).toBe(stopOffset);
      }
    }
  });

  it('gives absolute offsets from startOffset, and looks for no BOM there', () => {
    const records: string[][] = [];
    const reader = new CsvReader({ record: (v) => void records.push([v.text(0)]) }, { startOffset: 1000, stopAt: 1006 });
    reader.push(Buffer.from('\uFEFFa\nbb\ncc\n'));
    reader.end();
    expect(records).toEqual([['\uFEFFa'], ['bb']]);
    expect(reader.stopOffset).toBe(1008);
    expect(malformed('x\n"y', { startOffset: 500 })).toMatch(/byte offset 502/);
  });

  it('hands quote-free runs of complete records to the fast path, and the rest to record()', () => {
    const fast: string[] = [];
    const slow: string[] = [];
    const sink = {
      record: (v: RecordView) => void slow.push(Array.from({ length: v.count }, (_, i) => v.text(i)).join('|')),
      records(buf: Buffer, start: number, end: number, limit: number): number {
        expect(buf[end - 1]).toBe(0x0a);
        expect(buf.subarray(start, end).includes(0x22)).toBe(false);
        let p = start;
        while (p < end && p < limit) {
          const lf = buf.indexOf(0x0a, p);
          fast.push(buf.toString('utf8', p, lf));
          p = lf + 1;
        }
        return p;
      },
    };
    const filler = Array.from({ length: 40 }, (_, i) => `row${i},${i}`).join('\n');
    const text = `${filler}\n"q,1",2\nlast,3\n`;
    const reader = new CsvReader(sink);
    reader.push(Buffer.from(text));
    reader.end();
    expect(fast.length + slow.length).toBe(42);
    expect(slow).toContain('q,1|2');
    expect([...fast, ...slow]).toContain('row0,0');
  });

  it('handles records with many fields', () => {
    const row = Array.from({ length: 1000 }, (_, i) => String(i));
    expect(parseChunks(Buffer.from(`${row.join(',')}\n`), [777])).toEqual([row]);
  });

  it('fails on an unterminated quoted field at EOF, naming its byte offset', () => {
    expect(malformed('a,b\n1,"oops\n2,3\n')).toMatch(/unterminated quoted field \(byte offset 6\)/);
    expect(malformed('a,b\n1,"oops\n2,3\n', {}, [3, 7, 9])).toMatch(/unterminated quoted field \(byte offset 6\)/);
  });

  it('fails on text after a closing quote', () => {
    expect(malformed('a,b\n"x"y,2\n')).toMatch(/after the closing quote of field 1 \(byte offset 7\)/);
  });

  it('fails on a record longer than maxRecordBytes, whether or not it spans chunks', () => {
    const long = `a,b\n${'x'.repeat(200)},1\nc,d\n`;
    expect(malformed(long, { maxRecordBytes: 100 })).toMatch(/record is longer than 100 bytes \(byte offset 4\)/);
    expect(malformed(long, { maxRecordBytes: 100 }, [10, 20, 150])).toMatch(/longer than 100 bytes/);
    expect(parseChunks(Buffer.from(long), [10, 20, 150], { maxRecordBytes: 300 })).toHaveLength(3);
  });

  it('refuses an endless line as soon as it passes the limit, without buffering it all', () => {
    const reader = new CsvReader({ record() {} }, { maxRecordBytes: 4096 });
    const chunk = Buffer.alloc(1024, 0x61);
    let pushed = 0;
    expect(() => {
      for (; pushed < 1000; pushed++) reader.push(chunk);
    }).toThrow(/longer than 4096 bytes/);
    expect(pushed).toBeLessThanOrEqual(5);
  });

  it('parses a long quoted multi-line field and a long line spread over many small chunks', () => {
    const cell = `${'x'.repeat(5000)}\n${'y'.repeat(5000)}`;
    const text = `a,b\n"${cell}",1\n${'z'.repeat(20_000)},2\n`;
    const input = Buffer.from(text);
    const cuts = Array.from({ length: Math.floor(input.length / 100) }, (_, i) => (i + 1) * 100);
    expect(parseChunks(input, cuts)).toEqual([['a', 'b'], [cell, '1'], ['z'.repeat(20_000), '2']]);
  });

  it('ends a record at a lone CR that is the last byte of a chunk', () => {
    expect(parseChunks(Buffer.from(`a\r${'b'.repeat(300)}\r`), [2, 100, 200])).toEqual([['a'], ['b'.repeat(300)]]);
  });

  it('rejects unusable delimiters', () => {
    expect(() => new CsvReader({ record() {} }, { delimiter: 0x22 })).toThrow(TypeError);
    expect(() => new CsvReader({ record() {} }, { delimiter: 0x0a })).toThrow(TypeError);
    expect(() => new CsvReader({ record() {} }, { delimiter: 300 })).toThrow(TypeError);
  });
});
