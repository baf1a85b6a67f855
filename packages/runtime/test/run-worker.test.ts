import * as path from 'node:path';
import { credentials, loadPackageDefinition, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { protoPath as healthProto } from 'grpc-health-check';
import { createJobServiceClient, JobState, StatsResult, WorkerKind, type StatsTask } from '@spindle/sdk';
import { compileWorkerConfig, parseEnv, runWorker, silentLogger, workerEnvSchema, type TaskExecutor } from '@spindle/runtime';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestCoordinator } from '../../../test/helpers/coordinator';
import { unary, waitFor } from '../../../test/helpers/grpc';

type HealthClient = {
  check(req: { service: string }, cb: (err: ServiceError | null, res: { status: string }) => void): void;
  close(): void;
};

function healthClient(address: string): HealthClient {
  const def = loadPackageDefinition(loadSync(healthProto, { enums: String })) as unknown as {
    grpc: { health: { v1: { Health: new (a: string, c: ReturnType<typeof credentials.createInsecure>) => HealthClient } } };
  };
  return new def.grpc.health.v1.Health(address, credentials.createInsecure());
}

const check = (c: HealthClient, service = 'spindle.v1.WorkerService') =>
  new Promise<string>((resolve, reject) => c.check({ service }, (err, res) => (err ? reject(err) : resolve(res.status))));

const executor: TaskExecutor<StatsTask> = {
  slots: 1,
  run: async () => ({ $case: 'stats', value: StatsResult.create({ source: 'x' }) }),
  close: async () => {},
};

describe('runWorker', () => {
  const cleanup: Array<() => unknown> = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  it('is live throughout, ready only while the coordinator session is up, and serves metrics', async () => {
    const coord = await startTestCoordinator();
    let coordStopped = false;
    cleanup.push(() => (coordStopped ? undefined : coord.stop()));
    const config = compileWorkerConfig(
      'stats',
      parseEnv(workerEnvSchema, {
        SPINDLE_COORDINATOR_ADDR: coord.address,
        SPINDLE_DATA_ROOT: path.resolve('.'),
        SPINDLE_HEALTH_ADDR: '127.0.0.1:0',
        SPINDLE_METRICS_ADDR: '127.0.0.1:0',
        SPINDLE_DRAIN_GRACE_MS: '1000',
      }),
    );
    const worker = await runWorker({ kind: WorkerKind.WORKER_KIND_STATS, kindName: 'stats', version: 't', config, executor, logger: silentLogger() });
    cleanup.push(() => worker.stop());
    const health = healthClient(worker.healthAddress);
    cleanup.push(() => health.close());
    await waitFor(async () => (await check(health)) === 'SERVING', 5000, 'SERVING');
    expect(await check(health, '')).toBe('SERVING');

    const body = await (await fetch(`http://${worker.metricsAddress}/metrics`)).text();
    expect(body).toContain('spindle_stats_worker_tasks_running');
    expect(body).toContain('spindle_stats_worker_process_cpu_seconds_total');

    await coord.stop();
    coordStopped = true;
    await waitFor(async () => (await check(health)) === 'NOT_SERVING', 5000, 'NOT_SERVING');
    // Liveness stays SERVING: a coordinator outage must not get workers restarted.
    expect(await check(health, '')).toBe('SERVING');
  });

  it('reports an executor that throws or rejects (a bug) as a retryable INTERNAL error of the task', async () => {
    const coord = await startTestCoordinator();
    cleanup.push(() => coord.stop());
    const buggy: TaskExecutor<StatsTask> = {
      slots: 2,
      run: (spec) => {
        if (spec.source?.source?.value === 'throws') throw new Error('thrown in run');
        return Promise.reject(new Error('rejected by run'));
      },
      close: async () => {},
    };
    const config = compileWorkerConfig(
      'stats',
      parseEnv(workerEnvSchema, {
        SPINDLE_COORDINATOR_ADDR: coord.address,
        SPINDLE_DATA_ROOT: path.resolve('.'),
        SPINDLE_HEALTH_ADDR: 'off',
        SPINDLE_METRICS_ADDR: '127.0.0.1:0',
        SPINDLE_DRAIN_GRACE_MS: '1000',
      }),
    );
    const worker = await runWorker({ kind: WorkerKind.WORKER_KIND_STATS, kindName: 'stats', version: 't', config, executor: buggy, logger: silentLogger() });
    cleanup.push(() => worker.stop());
    const client = createJobServiceClient(coord.address);
    cleanup.push(() => client.close());
    const { job } = await unary(client.submitJob.bind(client), {
      requestId: '',
      spec: {
        name: 'buggy',
        retry: { maxAttempts: 1, initialBackoffMs: 0, maxBackoffMs: 0 },
        kind: { $case: 'stats', value: { sources: ['throws', 'rejects'].map((p) => ({ source: { $case: 'path' as const, value: p } })) } },
      },
    });
    await waitFor(async () => (await unary(client.getJob.bind(client), { jobId: job!.id })).job!.state === JobState.JOB_STATE_FAILED, 10_000, 'job failed');
    const { tasks } = await unary(client.listResults.bind(client), { jobId: job!.id, pageSize: 0, pageToken: '', state: 0 });
    const errors = tasks.map((t) => (t.outcome?.$case === 'error' ? t.outcome.value : undefined));
    expect(errors.map((e) => [e?.code, e?.retryable])).toEqual([
      ['INTERNAL', true],
      ['INTERNAL', true],
    ]);
    expect(errors[0]?.message).toContain('executor failed: thrown in run');
    expect(errors[1]?.message).toContain('executor failed: rejected by run');
    // Counted by outcome in the worker's metrics.
    const body = await (await fetch(`http://${worker.metricsAddress}/metrics`)).text();
    expect(body).toMatch(/^spindle_stats_worker_tasks_finished_total\{outcome="INTERNAL"\} 2$/m);
  });
});
