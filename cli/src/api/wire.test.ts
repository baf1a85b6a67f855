import { FetchItem, JobView, SubmitJobRequest, type JobSpec } from '@spindle/sdk';
import { describe, expect, it } from 'vitest';
import { encodeSubmitJobRequest } from './wire';

describe('encodeSubmitJobRequest', () => {
  const items: FetchItem[] = [
    { url: 'http://a.test/1.csv', fileName: '', sha256: '', expectedSize: 0 },
    { url: 'https://b.test/ünï?q=1', fileName: 'b.csv', sha256: 'f'.repeat(64), expectedSize: 300 },
    { url: 'http://c.test/' + 'x'.repeat(200), fileName: 'ĉ.csv', sha256: '', expectedSize: 2 ** 40 + 1 },
    { url: '', fileName: '', sha256: '', expectedSize: 127 },
  ];
  const specs: [string, JobSpec][] = [
    ['fetch', { name: 'n', kind: { $case: 'fetch', value: { items, outputDir: 'out', options: undefined } }, retry: undefined }],
    [
      'fetch with options and retry',
      {
        name: '',
        kind: {
          $case: 'fetch',
          value: {
            items,
            outputDir: '',
            options: {
              maxBytes: 1,
              maxRedirects: 2,
              connectTimeoutMs: 3,
              headersTimeoutMs: 4,
              idleTimeoutMs: 5,
              totalTimeoutMs: 6,
              perHostConcurrency: 7,
              ifExists: 2,
            },
          },
        },
        retry: { maxAttempts: 3, initialBackoffMs: 250, maxBackoffMs: 8000 },
      },
    ],
    [
      'fetch then stats',
      {
        name: 'chained',
        kind: {
          $case: 'fetchThenStats',
          value: { fetch: { items, outputDir: 'd', options: undefined }, dialect: { delimiter: ';', noHeader: true } },
        },
        retry: undefined,
      },
    ],
    [
      'fetch without items',
      { name: 'n', kind: { $case: 'fetch', value: { items: [], outputDir: '', options: undefined } }, retry: undefined },
    ],
    [
      'stats',
      {
        name: 's',
        kind: { $case: 'stats', value: { sources: [{ source: { $case: 'path', value: '/a.csv' } }], dialect: undefined } },
        retry: undefined,
      },
    ],
    ['no kind', { name: 'n', kind: undefined, retry: undefined }],
  ];

  it.each(specs)('writes the bytes the SDK writes: %s', (_name, spec) => {
    // The view (a field after the spec) must survive the spec's rewrite.
    const request = { requestId: 'req-1', spec, view: JobView.JOB_VIEW_BASIC };
    expect(encodeSubmitJobRequest(request)).toEqual(Buffer.from(SubmitJobRequest.encode(request).finish()));
    expect(SubmitJobRequest.decode(encodeSubmitJobRequest(request))).toEqual(SubmitJobRequest.fromPartial(request));
  });

  it('writes the bytes the SDK writes for a big list', () => {
    const many = Array.from({ length: 5000 }, (_, i) => FetchItem.fromPartial({ url: `http://h.test/${i}.bin` }));
    const spec: JobSpec = { name: '', kind: { $case: 'fetch', value: { items: many, outputDir: '', options: undefined } }, retry: undefined };
    const request = { requestId: '', spec, view: JobView.JOB_VIEW_UNSPECIFIED };
    expect(encodeSubmitJobRequest(request)).toEqual(Buffer.from(SubmitJobRequest.encode(request).finish()));
  });

  it('knows every field of FetchItem', () => {
    // encodeFetchItems writes these four; a new FetchItem field must be added there too.
    expect(Object.keys(FetchItem.fromPartial({})).sort()).toEqual(['expectedSize', 'fileName', 'sha256', 'url']);
  });
});
