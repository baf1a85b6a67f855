import { Metadata, type CallOptions, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';

/**
 * Calls a callback-style grpc-js unary method and returns a promise. Typed against
 * the four-argument overload, the one TypeScript infers from for overloaded methods.
 */
export function unary<Req, Res>(
  fn: (req: Req, md: Metadata, opts: Partial<CallOptions>, cb: (err: ServiceError | null, res: Res) => void) => unknown,
  req: Req,
): Promise<Res> {
  return new Promise((resolve, reject) => fn(req, new Metadata(), {}, (err, res) => (err ? reject(err) : resolve(res))));
}

/** Collects every message of a server stream; rejects with the stream's error. */
export function collect<T>(stream: ClientReadableStream<T>): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const out: T[] = [];
    stream.on('data', (m: T) => out.push(m));
    stream.on('error', reject);
    stream.on('end', () => resolve(out));
  });
}

/** Waits until `check` returns a truthy value, polling; fails after `timeoutMs`. */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
