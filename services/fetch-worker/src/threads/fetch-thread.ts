/**
 * piscina entry for fetch threads. Each thread runs many downloads at once (they
 * are I/O bound) over one keep-alive undici Agent. Cancellation never goes
 * through piscina (aborting a piscina task kills its thread, and every other
 * download on it): each task brings a MessagePort, and a 'cancel' message on it
 * aborts just that download, which removes its temporary file before the task
 * settles.
 */
import { workerData } from 'node:worker_threads';
import { Agent } from 'undici';
import { download, type DownloadEnv } from '../fetch/download';
import { errorCodeOf, FetchError, fileSystemError, toTaskError } from '../fetch/error-codes';
import { OutputDirs } from '../fetch/output-path';
import { EgressPolicy } from '../fetch/url-policy';
import type {
  FetchThreadConfig,
  FetchThreadResult,
  FetchThreadTask,
  FromThreadMessage,
  ToThreadMessage,
} from './protocol';

const config = readConfig(workerData);
const egress = new EgressPolicy(config);
const outputDirs = new OutputDirs(config.dataRoot);
// One Agent per distinct connect timeout (connect timeouts are per Agent in undici);
// in practice every task uses the worker default and there is exactly one.
const agents = new Map<number, Agent>();

const env: DownloadEnv = {
  dispatcher(connectTimeoutMs) {
    let agent = agents.get(connectTimeoutMs);
    if (agent === undefined) {
      agent = new Agent({
        connections: config.connectionsPerOrigin,
        connect: { timeout: connectTimeoutMs, lookup: egress.lookup },
      });
      agents.set(connectTimeoutMs, agent);
    }
    return agent;
  },
  egress,
  headers: { 'user-agent': config.userAgent, accept: '*/*' },
};

/** Runs one download; resolves with its result or task error, never rejects for a download failure. */
export default async function runFetchTask(task: FetchThreadTask): Promise<FetchThreadResult> {
  const { port } = task;
  const controller = new AbortController();
  const onMessage = (message: ToThreadMessage): void => {
    if (message.type === 'cancel') {
      controller.abort(new FetchError('CANCELLED', `GET ${task.url}: cancelled (${message.reason})`));
    }
  };
  port.on('message', onMessage);
  try {
    let dirAbs: string;
    try {
      dirAbs = await outputDirs.ensure(task.outputDir);
    } catch (err) {
      throw err instanceof FetchError ? err : fileSystemError(err, task.url, task.outputDir || '.');
    }
    const result = await download(
      {
        url: task.url,
        dirAbs,
        relPath: task.outputDir === '' ? task.fileName : `${task.outputDir}/${task.fileName}`,
        fileName: task.fileName,
        tempName: task.tempName,
        sha256: task.sha256,
        expectedSize: task.expectedSize,
        limits: task.limits,
      },
      env,
      {
        signal: controller.signal,
        onProgress: (bytesDone, bytesTotal) => {
          const message: FromThreadMessage = { type: 'progress', bytesDone, bytesTotal };
          port.postMessage(message);
        },
      },
    );
    return { type: 'ok', result };
  } catch (err) {
    // The folder vanished after it was created and cached: make the next task recreate it.
    if (err instanceof FetchError && errorCodeOf(err.cause) === 'ENOENT') outputDirs.forget(task.outputDir);
    return { type: 'error', error: toTaskError(err, task.url) };
  } finally {
    port.off('message', onMessage);
    port.close();
  }
}

function readConfig(data: unknown): FetchThreadConfig {
  const c = data as Partial<FetchThreadConfig> | null;
  if (
    c === null ||
    typeof c !== 'object' ||
    c.type !== 'fetch-thread-config' ||
    typeof c.dataRoot !== 'string' ||
    typeof c.allowLoopback !== 'boolean' ||
    typeof c.allowPrivate !== 'boolean' ||
    typeof c.connectionsPerOrigin !== 'number' ||
    typeof c.userAgent !== 'string'
  ) {
    throw new TypeError('fetch thread started without a valid FetchThreadConfig as workerData');
  }
  return c as FetchThreadConfig;
}
