import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** Folders made by {@link makeTempDir} in the running test file. */
const made = new Set<string>();

/**
 * A fresh folder under the OS temp folder, removed with everything in it after the
 * test file's last test (test/setup.ts), so that a test may stop a process and start
 * another on the same files (a coordinator restarted on its database) and still leave
 * nothing behind.
 */
export function makeTempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  made.add(dir);
  return dir;
}

/** Removes the folders {@link makeTempDir} made; run after each test file. */
export function removeTempDirs(): void {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
  made.clear();
}
