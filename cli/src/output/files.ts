import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { CliError, errorMessage } from '../errors';

/**
 * Writes `chunks` to `file` through a temp file in the same folder and a rename,
 * so that a reader never sees half a file and a failed export leaves the old one.
 */
export async function writeFileAtomic(
  file: string,
  chunks: AsyncIterable<Buffer | string>,
  opts: { signal?: AbortSignal } = {},
): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  try {
    await pipeline(Readable.from(chunks), createWriteStream(tmp, { flags: 'wx' }), { signal: opts.signal });
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    if (opts.signal?.aborted) throw opts.signal.reason;
    if (err instanceof CliError) throw err;
    throw new CliError(`cannot write ${file}: ${errorMessage(err)}`);
  }
}
