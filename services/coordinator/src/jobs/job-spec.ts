import * as path from 'node:path';
import { invalidArgument, planFileNames, SpindleError } from '@spindle/runtime';
import {
  encodeMessage,
  ExistingFilePolicy,
  FetchTask,
  JobKind,
  StatsTask,
  TaskKind,
  type CsvDialect,
  type FetchJobSpec,
  type JobSpec,
  type RetryPolicy,
} from '@spindle/sdk';

/** A task to create, before it has ids. */
export interface PlannedTask {
  idx: number;
  kind: TaskKind;
  target: string;
  spec: Uint8Array;
}

/** The compiled retry policy with defaults applied. */
export interface CompiledRetryPolicy {
  maxAttempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
}

/** Limits a job spec is checked against. */
export interface SpecLimits {
  maxItemsPerJob: number;
}

const MAX_URL_LENGTH = 8192;

export function taskId(jobId: string, kind: TaskKind, idx: number): string {
  return `${jobId}/${kind === TaskKind.TASK_KIND_FETCH ? 'f' : 's'}/${idx}`;
}

export function jobKindOf(spec: JobSpec): JobKind {
  switch (spec.kind?.$case) {
    case 'fetch':
      return JobKind.JOB_KIND_FETCH;
    case 'stats':
      return JobKind.JOB_KIND_STATS;
    case 'fetchThenStats':
      return JobKind.JOB_KIND_FETCH_THEN_STATS;
    default:
      return JobKind.JOB_KIND_UNSPECIFIED;
  }
}

/**
 * The spec with its item lists emptied: what a running job needs of it (its kind,
 * options, dialect and retry policy). The items are in the task rows and in the
 * stored spec; a running job held them decoded (and the spec encoded) for its whole
 * life: ~160 bytes per URL.
 */
export function withoutItems(spec: JobSpec): JobSpec {
  const kind = spec.kind;
  switch (kind?.$case) {
    case 'fetch':
      return { ...spec, kind: { $case: 'fetch', value: { ...kind.value, items: [] } } };
    case 'fetchThenStats': {
      const fetch = kind.value.fetch && { ...kind.value.fetch, items: [] };
      return { ...spec, kind: { $case: 'fetchThenStats', value: { ...kind.value, fetch } } };
    }
    case 'stats':
      return { ...spec, kind: { $case: 'stats', value: { ...kind.value, sources: [] } } };
    default:
      return spec;
  }
}

export function compileRetryPolicy(p: RetryPolicy | undefined): CompiledRetryPolicy {
  const maxAttempts = p?.maxAttempts || 3;
  const initialBackoffMs = p?.initialBackoffMs || 500;
  const maxBackoffMs = Math.max(p?.maxBackoffMs || 10_000, initialBackoffMs);
  return { maxAttempts, initialBackoffMs, maxBackoffMs };
}

/** Backoff before attempt `attempt + 1`: exponential with full jitter in [d/2, d]. */
export function backoffMs(policy: CompiledRetryPolicy, attempt: number): number {
  const d = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(d / 2 + Math.random() * (d / 2));
}

function checkRelativeDir(field: string, dir: string): void {
  if (dir.includes('\0')) throw invalidArgument(field, 'must not contain NUL');
  if (path.posix.isAbsolute(dir) || path.win32.isAbsolute(dir)) {
    throw invalidArgument(field, `must be relative to the worker data root, got "${dir}"`);
  }
  if (dir.split(/[\\/]/).includes('..')) throw invalidArgument(field, `must not contain "..", got "${dir}"`);
}

/** The URL `raw`, parsed; INVALID_ARGUMENT naming `field` unless it is an absolute http(s) URL. */
function checkUrl(field: string, raw: string): URL {
  if (!raw) throw invalidArgument(field, 'is required');
  if (raw.length > MAX_URL_LENGTH) throw invalidArgument(field, `longer than ${MAX_URL_LENGTH} characters`);
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw invalidArgument(field, `not a valid URL: "${raw}"`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw invalidArgument(field, `only http and https URLs are supported, got "${u.protocol}"`);
  }
  // They would be stored and shown with the job, its results and exports (workers refuse
  // them too). Not echoed here, for the same reason.
  if (u.username !== '' || u.password !== '') {
    throw invalidArgument(field, 'credentials in URLs (user:password@host) are not supported');
  }
  return u;
}

function checkDialect(field: string, d: CsvDialect | undefined): void {
  if (d?.delimiter && [...d.delimiter].length !== 1) {
    throw invalidArgument(`${field}.delimiter`, `must be one character, got "${d.delimiter}"`);
  }
  if (d?.delimiter === '"' || d?.delimiter === '\n' || d?.delimiter === '\r') {
    throw invalidArgument(`${field}.delimiter`, 'cannot be a quote or a line break');
  }
}

function checkItemCount(field: string, n: number, limits: SpecLimits): void {
  if (n === 0) throw invalidArgument(field, 'at least one is required');
  if (n > limits.maxItemsPerJob) {
    throw new SpindleError(
      'RESOURCE_EXHAUSTED',
      `${field}: ${n} items exceed the limit of ${limits.maxItemsPerJob} per job`,
      { field },
    );
  }
}

/**
 * Plans a fetch job's tasks. Every item gets its final file name here, unique
 * within the job by the rule of `planFileNames` (docs/worker-protocol.md, "File
 * names"), so that items never overwrite each other whatever order they finish in.
 */
function planFetch(
  field: string,
  spec: FetchJobSpec | undefined,
  jobId: string,
  limits: SpecLimits,
  maxAttempts: number,
): PlannedTask[] {
  if (!spec) throw invalidArgument(field, 'is required');
  checkItemCount(`${field}.items`, spec.items.length, limits);
  checkRelativeDir(`${field}.output_dir`, spec.outputDir);
  const ifExists = spec.options?.ifExists;
  if (ifExists !== undefined && typeof ExistingFilePolicy[ifExists] !== 'string') {
    throw invalidArgument(`${field}.options.if_exists`, `unknown value ${ifExists}`);
  }
  const maxRedirects = spec.options?.maxRedirects;
  if (maxRedirects !== undefined && maxRedirects > 100) {
    throw invalidArgument(`${field}.options.max_redirects`, `at most 100, got ${maxRedirects}`);
  }
  const outputDir = spec.outputDir || `jobs/${jobId}`;
  // Parsed once, for the check and the file names (5,000 URLs: ~5 ms of SubmitJob).
  const urls = spec.items.map((item, idx) => {
    const f = `${field}.items[${idx}]`;
    const url = checkUrl(`${f}.url`, item.url);
    if (item.sha256 && !/^[0-9a-fA-F]{64}$/.test(item.sha256)) {
      throw invalidArgument(`${f}.sha256`, 'must be 64 hex digits');
    }
    if (item.fileName.length > 1024) throw invalidArgument(`${f}.file_name`, 'longer than 1024 characters');
    return url;
  });
  const names = planFileNames(spec.items.map((item, idx) => ({ fileName: item.fileName, url: urls[idx]! })));
  return spec.items.map((item, idx) => {
    const name = names[idx]!;
    const task = encodeMessage(FetchTask, {
      url: item.url,
      outputDir,
      fileName: name.name,
      sha256: item.sha256.toLowerCase(),
      expectedSize: item.expectedSize,
      options: spec.options,
      maxAttempts,
      nameFromResponse: name.fromResponse,
    });
    return { idx, kind: TaskKind.TASK_KIND_FETCH, target: item.url, spec: task };
  });
}

/**
 * Validates a job spec and plans its first tasks. Errors are INVALID_ARGUMENT
 * naming the field (e.g. `spec.fetch.items[2].url`) or RESOURCE_EXHAUSTED.
 */
export function planJob(spec: JobSpec | undefined, jobId: string, limits: SpecLimits): PlannedTask[] {
  if (!spec?.kind) throw invalidArgument('spec', 'one of spec.fetch, spec.stats, spec.fetch_then_stats is required');
  if (spec.name.length > 200) throw invalidArgument('spec.name', 'longer than 200 characters');
  if (spec.retry && spec.retry.maxAttempts > 20) throw invalidArgument('spec.retry.max_attempts', 'at most 20');
  const { maxAttempts } = compileRetryPolicy(spec.retry);
  switch (spec.kind.$case) {
    case 'fetch':
      return planFetch('spec.fetch', spec.kind.value, jobId, limits, maxAttempts);
    case 'fetchThenStats':
      checkDialect('spec.fetch_then_stats.dialect', spec.kind.value.dialect);
      return planFetch('spec.fetch_then_stats.fetch', spec.kind.value.fetch, jobId, limits, maxAttempts);
    case 'stats': {
      const s = spec.kind.value;
      checkItemCount('spec.stats.sources', s.sources.length, limits);
      checkDialect('spec.stats.dialect', s.dialect);
      return s.sources.map((source, idx) => {
        const f = `spec.stats.sources[${idx}]`;
        let target: string;
        if (source.source?.$case === 'url') {
          checkUrl(`${f}.url`, source.source.value);
          target = source.source.value;
        } else if (source.source?.$case === 'path') {
          if (!source.source.value || source.source.value.includes('\0')) {
            throw invalidArgument(`${f}.path`, 'must be a non-empty path');
          }
          target = source.source.value;
        } else {
          throw invalidArgument(f, 'one of path or url is required');
        }
        const task = encodeMessage(StatsTask, { source, dialect: s.dialect });
        return { idx, kind: TaskKind.TASK_KIND_STATS, target, spec: task };
      });
    }
  }
}

/** The stats task that follows a successful fetch in a fetch_then_stats job. */
export function planFollowUpStats(spec: JobSpec, idx: number, fetchedPath: string): PlannedTask | undefined {
  if (spec.kind?.$case !== 'fetchThenStats') return undefined;
  const task = encodeMessage(StatsTask, {
    source: { source: { $case: 'path', value: fetchedPath } },
    dialect: spec.kind.value.dialect,
  });
  return { idx, kind: TaskKind.TASK_KIND_STATS, target: fetchedPath, spec: task };
}
