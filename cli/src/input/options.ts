import { InvalidArgumentError } from 'commander';

/**
 * Parsers for option values, shaped for commander's `argParser`: each throws
 * InvalidArgumentError, which commander reports as a usage error (exit 2).
 */

/** An integer in [min, max]. */
export function intInRange(min: number, max: number): (value: string) => number {
  return (value: string): number => {
    if (!/^-?\d+$/.test(value.trim())) throw new InvalidArgumentError(`expected an integer from ${min} to ${max}.`);
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}.`);
    }
    return n;
  };
}

/** The coordinator's limits on what a submit names (job-spec.ts, job-manager.ts). */
export const MAX_ATTEMPTS = 20;
const MAX_NAME_LENGTH = 200;

/** `--name`: at most 200 characters, as the coordinator allows. */
export function parseJobName(value: string): string {
  if (value.length > MAX_NAME_LENGTH) {
    throw new InvalidArgumentError(`at most ${MAX_NAME_LENGTH} characters (got ${value.length}).`);
  }
  return value;
}

/** `--request-id`: 1-128 printable ASCII characters without spaces, as the coordinator allows. */
export function parseRequestId(value: string): string {
  if (!/^[\x21-\x7e]{1,128}$/.test(value)) {
    throw new InvalidArgumentError('expected 1-128 printable ASCII characters, no spaces.');
  }
  return value;
}

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
};

/** A size in bytes: `1048576`, `512k`, `10MiB`, `1.5G` (k/M/G are powers of 1024; kB/MB/GB of 1000). */
export function parseSize(value: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
  const unit = m ? SIZE_UNITS[(m[2] ?? '').toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw new InvalidArgumentError('expected a size such as 1048576, 512k, 10MiB or 1G.');
  }
  const bytes = Math.round(Number(m[1]) * unit);
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new InvalidArgumentError('expected a positive size.');
  return bytes;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A duration, returned in ms: `500ms`, `30s`, `2m`, `1h`; a bare number is seconds. */
export function parseDuration(value: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(value);
  if (!m) throw new InvalidArgumentError('expected a duration such as 500ms, 30s, 2m or 1h.');
  const ms = Math.round(Number(m[1]) * (DURATION_UNITS[m[2] ?? 's'] ?? 1000));
  // The proto carries timeouts as uint32 milliseconds.
  if (ms <= 0 || ms > 0xffffffff) throw new InvalidArgumentError('expected a duration above 0 and below 49 days.');
  return ms;
}

/** A CSV delimiter: one character; `\t` and `tab` mean a tab. */
export function parseDelimiter(value: string): string {
  const named: Record<string, string> = { '\\t': '\t', tab: '\t', comma: ',', semicolon: ';', pipe: '|', space: ' ' };
  const d = named[value.toLowerCase()] ?? value;
  if ([...d].length !== 1) throw new InvalidArgumentError('expected one character (or \\t / tab).');
  if (d === '"' || d === '\n' || d === '\r') throw new InvalidArgumentError('the delimiter cannot be a quote or a line break.');
  return d;
}

/** `host:port`; `port` 1-65535, or 0 too when `allowZero` (listen on an ephemeral port). */
export function checkAddress(value: string, allowZero = false): string {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535 || (port === 0 && !allowZero)) {
    throw new InvalidArgumentError('expected host:port, e.g. 127.0.0.1:7070.');
  }
  return value.trim();
}

/**
 * Job states as the user names them; the `jobs` command maps them to the API's JobState.
 * Names, not the SDK's enum, so that defining the options loads no SDK (and no gRPC).
 */
export const JOB_STATE_NAMES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type JobStateName = (typeof JOB_STATE_NAMES)[number];

/** A job state name (`running`, `failed`, …), case-insensitive. */
export function parseJobState(value: string): JobStateName {
  const name = JOB_STATE_NAMES.find((n) => n === value.toLowerCase());
  if (name === undefined) throw new InvalidArgumentError(`expected one of: ${JOB_STATE_NAMES.join(', ')}.`);
  return name;
}

/** `jobs --kind` values; the `jobs` command maps them to the API's JobKind. */
export const JOB_KIND_NAMES = ['fetch', 'stats', 'fetch-then-stats'] as const;
export type JobKindName = (typeof JOB_KIND_NAMES)[number];

/** `--if-exists` values; `fetch` maps them to the API's ExistingFilePolicy. */
export const IF_EXISTS_NAMES = ['overwrite', 'skip', 'rename'] as const;
export type IfExistsName = (typeof IF_EXISTS_NAMES)[number];

/** Parses `--if-exists`: overwrite, skip (when identical) or rename, case-insensitive. */
export function parseIfExists(value: string): IfExistsName {
  const name = IF_EXISTS_NAMES.find((n) => n === value.trim().toLowerCase());
  if (name === undefined) throw new InvalidArgumentError('expected overwrite, skip or rename.');
  return name;
}
