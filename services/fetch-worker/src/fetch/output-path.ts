import * as fs from 'node:fs';
import * as path from 'node:path';
import { FetchError } from './error-codes';
import { sanitizeFileName } from '@spindle/runtime/file-names';

/** An output folder checked against the data root. */
export type OutputDirCheck =
  | { ok: true; /** POSIX path relative to the data root; '' is the root itself. */ rel: string }
  | { ok: false; code: 'INVALID_SPEC' | 'PATH_FORBIDDEN'; message: string };

/**
 * Checks `FetchTask.output_dir` (relative to the data root) lexically. Absolute
 * paths (`/x`, `C:\x`, `\\server\x`) and any `..` segment are PATH_FORBIDDEN,
 * even when the result would stay inside the root; NUL bytes are INVALID_SPEC.
 * `\` counts as a separator so that a Windows-style path cannot smuggle `..`.
 * An empty folder means `jobs/<jobId>`, the default of FetchJobSpec.output_dir.
 */
export function checkOutputDir(outputDir: string, jobId: string): OutputDirCheck {
  if (outputDir.includes('\0')) {
    return { ok: false, code: 'INVALID_SPEC', message: 'output_dir contains a NUL byte' };
  }
  if (outputDir === '') {
    return { ok: true, rel: jobId === '' ? '' : `jobs/${sanitizeFileName(jobId)}` };
  }
  const slashed = outputDir.replace(/\\/g, '/');
  if (slashed.startsWith('/') || /^[a-zA-Z]:/.test(slashed)) {
    return {
      ok: false,
      code: 'PATH_FORBIDDEN',
      message: `output_dir ${JSON.stringify(outputDir)} is absolute; it must be relative to the data root`,
    };
  }
  const segments = slashed.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) {
    return {
      ok: false,
      code: 'PATH_FORBIDDEN',
      message: `output_dir ${JSON.stringify(outputDir)} contains "..", which is not allowed`,
    };
  }
  return { ok: true, rel: segments.join('/') };
}

/**
 * Creates output folders under a data root and proves, once per folder, that
 * they resolve (symlinks followed) inside it. One instance per thread; after the
 * first task for a folder, later ones cost no system call.
 */
export class OutputDirs {
  readonly #root: string;
  #realRoot: Promise<string> | null = null;
  readonly #ready = new Map<string, Promise<string>>();
  /** Folders proven inside the root, for callers that want no promise hop. */
  readonly #resolved = new Map<string, string>();

  readonly #onNewDir: ((abs: string) => void) | undefined;

  /**
   * @param root absolute data root; created if missing.
   * @param onNewDir called once for each folder this instance proves (not awaited).
   */
  constructor(root: string, onNewDir?: (abs: string) => void) {
    this.#root = root;
    this.#onNewDir = onNewDir;
  }

  /**
   * Absolute path of the folder `rel` (from {@link checkOutputDir}), created if
   * missing. Rejects with PATH_FORBIDDEN when a symlink leads it out of the root.
   */
  ensure(rel: string): Promise<string> {
    let ready = this.#ready.get(rel);
    if (ready === undefined) {
      ready = this.#create(rel);
      this.#ready.set(rel, ready);
      ready.then(
        (abs) => {
          if (this.#ready.get(rel) !== ready) return;
          this.#resolved.set(rel, abs);
          this.#onNewDir?.(abs);
        },
        // Failures are not cached: the next task retries (the folder may be fixed by then).
        () => this.#ready.delete(rel),
      );
    }
    return ready;
  }

  /** The absolute path of a folder that {@link ensure} already proved, or undefined. */
  known(rel: string): string | undefined {
    return this.#resolved.get(rel);
  }

  /** Forgets a folder, e.g. after a write found it deleted. */
  forget(rel: string): void {
    this.#ready.delete(rel);
    this.#resolved.delete(rel);
  }

  async #create(rel: string): Promise<string> {
    const abs = path.join(this.#root, rel);
    if (!isInside(this.#root, abs)) {
      throw new FetchError('PATH_FORBIDDEN', `output folder ${rel} is outside the data root`);
    }
    await fs.promises.mkdir(abs, { recursive: true });
    if (this.#realRoot === null) {
      const realRoot = fs.promises.realpath(this.#root);
      this.#realRoot = realRoot;
      realRoot.catch(() => {
        if (this.#realRoot === realRoot) this.#realRoot = null;
      });
    }
    const realRoot = await this.#realRoot;
    const real = await fs.promises.realpath(abs);
    if (!isInside(realRoot, real)) {
      throw new FetchError('PATH_FORBIDDEN', `output folder ${rel} leads outside the data root (symlink)`);
    }
    return abs;
  }
}

/** Whether `p` is `root` or below it (both absolute and normalised). */
export function isInside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}
