import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The CLI bundled into one file by the build (scripts/bundle-cli.js), next to the
 * compiled modules it is made of. Node 20 resolves, reads, hashes (for the code cache)
 * and compiles each of the ~150 modules `spindle fetch` loads one by one; from one file,
 * `spindle fetch` of 5,000 URLs created its job 12–15 ms sooner after exec, and exited
 * 17–26 ms sooner (W1 and W3 of bench/downloads, alternating runs on one stack).
 */
export const BUNDLE_FILE = 'spindle.js';

/**
 * The bundle in `distDir` when it was made after the last compile of the modules it
 * holds (the CLI's and the SDK's, whose `tsc -b` build info records each compile):
 * `tsc -b` alone leaves an older bundle behind, which must not run in place of newer
 * code. Undefined otherwise: the CLI then loads its compiled modules.
 *
 * @param buildInfos the build info files of the packages in the bundle; one that
 *   cannot be read (an installation without them) is no evidence of a newer compile.
 */
export function freshBundle(distDir: string, buildInfos: readonly string[]): string | undefined {
  const bundle = path.join(distDir, BUNDLE_FILE);
  let made: number;
  try {
    made = fs.statSync(bundle).mtimeMs;
  } catch {
    return undefined;
  }
  for (const info of buildInfos) {
    const compiled = fs.statSync(info, { throwIfNoEntry: false })?.mtimeMs ?? 0;
    if (compiled > made) return undefined;
  }
  return bundle;
}

/** The build info files of the packages scripts/bundle-cli.js puts in the bundle. */
export function bundledBuildInfos(distDir: string): string[] {
  const infos = [path.join(distDir, '.tsbuildinfo')];
  try {
    infos.push(path.join(path.dirname(require.resolve('@spindle/sdk')), '.tsbuildinfo'));
  } catch {
    // No SDK to resolve: the bundle is all there is.
  }
  return infos;
}
