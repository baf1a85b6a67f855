import { Job, JobEvent } from '@spindle/sdk';
import type { Output } from '../context';

/**
 * Machine output (`--json`). Streams are JSON Lines: one object per line, so that
 * `jq -c` and line-by-line readers work while the job runs. Everything else is one
 * JSON document. Messages use the proto3 JSON mapping (camelCase fields, enum
 * names, RFC 3339 times), the same shapes grpcurl prints.
 */
export function writeJsonLine(out: Output, value: unknown): void {
  out.write(JSON.stringify(value) + '\n');
}

/** One JSON document, indented for people who read it too. */
export function writeJsonDocument(out: Output, value: unknown): void {
  out.write(JSON.stringify(value, null, 2) + '\n');
}

/** `{"job": …}`: the first and last lines of a job stream (as accepted, as finished). */
export function jobLine(job: Job): { job: unknown } {
  return { job: Job.toJSON(job) };
}

/** `{"event": …}`: one event of a job stream, shaped like RunJobResponse. */
export function eventLine(event: JobEvent): { event: unknown } {
  return { event: JobEvent.toJSON(event) };
}
