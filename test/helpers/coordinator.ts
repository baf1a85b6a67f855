import * as path from 'node:path';
import { silentLogger } from '@spindle/runtime';
import { loadConfig, startCoordinator, type Coordinator } from '@spindle/coordinator';
import { makeTempDir } from './temp-dir';

/**
 * A coordinator in this process on 127.0.0.1:<free port> with its own SQLite file, in a
 * folder removed after the test file (a test may restart a coordinator on `dbPath`).
 */
export async function startTestCoordinator(
  env: Record<string, string> = {},
): Promise<Coordinator & { dir: string; dbPath: string }> {
  const dir = makeTempDir('spindle-coord-');
  // A restart passes the first coordinator's database in `env`: that is then its `dbPath`.
  const dbPath = env.SPINDLE_DB_PATH ?? path.join(dir, 'coordinator.db');
  const config = loadConfig({
    SPINDLE_LISTEN_ADDR: '127.0.0.1:0',
    SPINDLE_METRICS_ADDR: 'off',
    SPINDLE_SHUTDOWN_GRACE_MS: '1000',
    ...env,
    SPINDLE_DB_PATH: dbPath,
  });
  const c = await startCoordinator(config, silentLogger());
  return Object.assign(c, { dir, dbPath });
}
