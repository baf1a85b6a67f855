import { describe, expect, it } from 'vitest';
import { UsageError } from '../errors';
import { ExistingFilePolicy } from '@spindle/sdk';
import { parseIfExists } from '../input/options';
import { buildFetchJob, checkOutputDir } from './fetch';
import { toStatsSources } from './stats';

const item = { url: 'http://a.test/x.csv', fileName: '', sha256: '' };
const base = { stats: false, header: true, detach: false };

describe('fetch job building', () => {
  it('checks the output folder', () => {
    expect(checkOutputDir('in/today/')).toBe('in/today');
    expect(() => checkOutputDir('/abs')).toThrow(UsageError);
    expect(() => checkOutputDir('a/../../b')).toThrow(/must not contain "\.\."/);
  });

  it('builds a fetch job, or fetch_then_stats with --stats', () => {
    const plain = buildFetchJob([item], { ...base, timeout: 5000, attempts: 2 });
    expect(plain.kind?.$case).toBe('fetch');
    expect(plain.name).toBe('fetch 1 URL');
    expect(plain.retry?.maxAttempts).toBe(2);
    expect(plain.kind?.$case === 'fetch' && plain.kind.value.options?.totalTimeoutMs).toBe(5000);
    const chained = buildFetchJob([item, item], { ...base, stats: true, delimiter: ';', header: false });
    expect(chained.kind).toMatchObject({
      $case: 'fetchThenStats',
      value: { dialect: { delimiter: ';', noHeader: true }, fetch: { items: [item, item].map((i) => ({ ...i, expectedSize: 0 })) } },
    });
    expect(chained.name).toBe('fetch and analyse 2 URLs');
  });

  it('passes download limits, the if-exists policy and the retry policy', () => {
    const job = buildFetchJob([item], {
      ...base,
      size: 10,
      perHost: 2,
      ifExists: parseIfExists('rename'),
      connectTimeout: 1000,
      headersTimeout: 2000,
      idleTimeout: 3000,
      maxRedirects: 4,
      backoff: 250,
      maxBackoff: 8000,
    });
    expect(job.kind?.$case === 'fetch' && job.kind.value).toMatchObject({
      items: [{ expectedSize: 10 }],
      options: {
        perHostConcurrency: 2,
        ifExists: ExistingFilePolicy.EXISTING_FILE_POLICY_RENAME,
        connectTimeoutMs: 1000,
        headersTimeoutMs: 2000,
        idleTimeoutMs: 3000,
        maxRedirects: 4,
      },
    });
    expect(job.retry).toEqual({ maxAttempts: 0, initialBackoffMs: 250, maxBackoffMs: 8000 });
    expect(buildFetchJob([item], base).retry).toBeUndefined();
    expect(() => buildFetchJob([item, item], { ...base, size: 10 })).toThrow(/--size needs exactly one URL/);
    expect(parseIfExists('SKIP')).toBe('skip');
    expect(() => parseIfExists('keep')).toThrow(/overwrite, skip or rename/);
  });

  it('rejects CSV options without --stats', () => {
    expect(() => buildFetchJob([item], { ...base, results: 'r.csv' })).toThrow(/need --stats/);
    expect(() => buildFetchJob([item], { ...base, header: false })).toThrow(/need --stats/);
  });
});

describe('stats sources', () => {
  it('makes paths absolute and keeps URLs', () => {
    expect(toStatsSources(['a.csv', '/d/b.csv', 'https://h.test/c.csv'], '/home/u')).toEqual([
      { source: { $case: 'path', value: '/home/u/a.csv' } },
      { source: { $case: 'path', value: '/d/b.csv' } },
      { source: { $case: 'url', value: 'https://h.test/c.csv' } },
    ]);
    expect(() => toStatsSources([], '/')).toThrow(/no files given/);
  });
});
