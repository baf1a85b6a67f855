import { promises as fs, type BigIntStats } from 'node:fs';
import * as path from 'node:path';
import { StatsError } from '../errors';

/** A source file that is inside the data root, exists and is a regular file. */
export interface ResolvedSource {
  /** The real path (no symlinks, no `..`). */
  realPath: string;
  /** Size in bytes at resolution time. */
  size: number;
  /**
   * Device and inode (decimal strings: they may exceed 2^53) of the file that was checked.
   * The reader compares them after opening, so that swapping a path component for a
   * symlink between this check and the open cannot lead outside the root.
   */
  dev: string;
  ino: string;
}

/**
 * Resolves a StatsSource path against the data root and refuses anything outside it.
 *
 * `source` is relative to `dataRoot`, or absolute and inside it. A path that leaves the root
 * lexically (`..`, an absolute path elsewhere) is PATH_FORBIDDEN before the file system is
 * asked, so that the error does not reveal whether a file exists out there. Symlinks are then
 * followed with realpath and the target must still be inside the real data root
 * (PATH_FORBIDDEN). A missing file is FILE_NOT_FOUND; a directory, FIFO or device is
 * INVALID_SPEC (a FIFO would block the reader forever).
 *
 * @param realRoot the data root as returned by `fs.realpath` (absolute, no symlinks)
 * @param dataRoot the data root as configured (absolute); absolute sources may be under either
 * @throws StatsError with code INVALID_SPEC, PATH_FORBIDDEN or FILE_NOT_FOUND
 */
export async function resolveSourcePath(
  source: string,
  dataRoot: string,
  realRoot: string,
): Promise<ResolvedSource> {
  if (source === '') throw new StatsError('INVALID_SPEC', 'source.path is empty');
  if (source.includes('\0')) throw new StatsError('INVALID_SPEC', 'source.path contains a NUL byte');
  const candidate = path.isAbsolute(source) ? path.resolve(source) : path.resolve(dataRoot, source);
  if (!isInside(candidate, dataRoot) && !isInside(candidate, realRoot)) {
    throw new StatsError('PATH_FORBIDDEN', `${source}: path is outside the data root`);
  }
  let realPath: string;
  try {
    realPath = await fs.realpath(candidate);
  } catch (err) {
    throw fsError(source, err);
  }
  if (!isInside(realPath, realRoot)) {
    throw new StatsError('PATH_FORBIDDEN', `${source}: resolves (through a symlink) outside the data root`);
  }
  let stat: BigIntStats;
  try {
    stat = await fs.stat(realPath, { bigint: true });
  } catch (err) {
    throw fsError(source, err);
  }
  if (stat.isDirectory()) throw new StatsError('INVALID_SPEC', `${source}: is a directory, not a file`);
  if (!stat.isFile()) throw new StatsError('INVALID_SPEC', `${source}: is not a regular file`);
  return { realPath, size: Number(stat.size), dev: stat.dev.toString(), ino: stat.ino.toString() };
}

/** True when `p` is `root` itself or below it (both absolute and normalised). */
export function isInside(p: string, root: string): boolean {
  const rel = path.relative(root, p);
  return rel === '' || (rel !== '..' && !rel.startsWith('..' + path.sep) && !path.isAbsolute(rel));
}

function fsError(source: string, err: unknown): StatsError {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  switch (code) {
    case 'ENOENT':
    case 'ENOTDIR':
      return new StatsError('FILE_NOT_FOUND', `${source}: no such file`);
    case 'EACCES':
    case 'EPERM':
      return new StatsError('PATH_FORBIDDEN', `${source}: permission denied`);
    case 'ELOOP':
      return new StatsError('PATH_FORBIDDEN', `${source}: too many levels of symbolic links`);
    case 'ENAMETOOLONG':
      return new StatsError('INVALID_SPEC', `${source}: path is too long`);
    default:
      return new StatsError('INTERNAL', `${source}: ${(err as Error).message}`);
  }
}
