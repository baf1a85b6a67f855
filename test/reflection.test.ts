import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation, protoPath as healthProtoPath } from 'grpc-health-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCoordinator } from './helpers/coordinator';

const run = promisify(execFile);
const PYTHON = '/usr/bin/python3';
const CLIENT = path.join(__dirname, 'strict-client', 'reflect.py');

/**
 * The strict client needs Debian's python3-grpcio and python3-protobuf (C++
 * descriptor pool). CI installs them and sets SPINDLE_REQUIRE_STRICT_CLIENT=1, so
 * there a missing client fails the suite instead of skipping it.
 */
function strictClientAvailable(): boolean {
  try {
    execFileSync(PYTHON, ['-c', 'import grpc, google.protobuf'], { stdio: 'ignore' });
    return true;
  } catch {
    if (process.env.SPINDLE_REQUIRE_STRICT_CLIENT === '1') {
      throw new Error('strict reflection client unavailable: apt-get install python3-grpcio python3-protobuf');
    }
    return false;
  }
}
const available = fs.existsSync(PYTHON) && strictClientAvailable();

async function reflect(addr: string, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  try {
    const { stdout, stderr } = await run(PYTHON, [CLIENT, addr, ...args], { timeout: 30_000 });
    return { code: 0, out: stdout, err: stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: x.code ?? -1, out: x.stdout ?? '', err: x.stderr ?? '' };
  }
}

describe.skipIf(!available)('reflection as seen by a strict client (no local protos)', () => {
  let coord: Awaited<ReturnType<typeof startTestCoordinator>>;
  beforeAll(async () => {
    coord = await startTestCoordinator();
  });
  afterAll(async () => {
    await coord?.stop();
  });

  it('lists and describes every service on the port, health included', async () => {
    const r = await reflect(coord.address, 'describe');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const services = JSON.parse(r.out) as Record<string, string[]>;
    expect(Object.keys(services).sort()).toEqual(['grpc.health.v1.Health', 'spindle.v1.JobService', 'spindle.v1.WorkerService']);
    expect(services['grpc.health.v1.Health']).toContain(
      'List(grpc.health.v1.HealthListRequest) returns (grpc.health.v1.HealthListResponse)',
    );
    expect(services['spindle.v1.JobService']).toContain(
      'RunJob(spindle.v1.RunJobRequest) returns (stream spindle.v1.RunJobResponse)',
    );
    expect(services['spindle.v1.WorkerService']).toEqual([
      'Connect(stream spindle.v1.ConnectRequest) returns (stream spindle.v1.ConnectResponse)',
    ]);
  });

  it('calls health and JobService methods with JSON', async () => {
    const health = await reflect(coord.address, 'call', '/grpc.health.v1.Health/Check', '{"service":"spindle.v1.JobService"}');
    expect(JSON.parse(health.out)).toEqual({ status: 'SERVING' });
    const list = await reflect(coord.address, 'call', '/grpc.health.v1.Health/List', '{}');
    expect(JSON.parse(list.out).statuses['spindle.v1.WorkerService']).toEqual({ status: 'SERVING' });

    const submit = await reflect(
      coord.address,
      'call',
      '/spindle.v1.JobService/SubmitJob',
      JSON.stringify({ requestId: 'r1', spec: { name: 'via-json', stats: { sources: [{ path: 'a.csv' }] } } }),
    );
    expect(submit.code).toBe(0);
    const job = JSON.parse(submit.out).job;
    expect(job).toMatchObject({ name: 'via-json', kind: 'JOB_KIND_STATS', state: 'JOB_STATE_QUEUED' });

    const get = await reflect(coord.address, 'call', '/spindle.v1.JobService/GetJob', JSON.stringify({ jobId: job.id }));
    expect(JSON.parse(get.out).job.id).toBe(job.id);
    expect(JSON.parse(get.out).job.spec).toMatchObject({ name: 'via-json' });
    // `view` is a proto3 optional field (a synthetic oneof in the descriptors) with an enum.
    const basic = await reflect(
      coord.address,
      'call',
      '/spindle.v1.JobService/GetJob',
      JSON.stringify({ jobId: job.id, view: 'JOB_VIEW_BASIC' }),
    );
    expect(basic.code).toBe(0);
    expect(JSON.parse(basic.out).job).toMatchObject({ id: job.id, name: 'via-json' });
    expect(JSON.parse(basic.out).job.spec).toBeUndefined();
  });

  it('gets INVALID_ARGUMENT naming the field for a bad request', async () => {
    const r = await reflect(
      coord.address,
      'call',
      '/spindle.v1.JobService/SubmitJob',
      JSON.stringify({ spec: { fetch: { items: [{ url: 'ftp://example.invalid/x' }] } } }),
    );
    expect(r.code).toBe(3);
    const e = JSON.parse(r.out);
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.details).toContain('spec.fetch.items[0].url');
  });

  // Proves the check above can fail: what @grpc/reflection serves for health.proto
  // when given a proto-loader definition (the library's documented use) is rejected.
  it('rejects the descriptors @grpc/reflection derives from a proto-loader definition', async () => {
    const server = new Server();
    new HealthImplementation({ '': 'SERVING' }).addToServer(server);
    const def = protoLoader.loadSync(healthProtoPath);
    new ReflectionService(def).addToServer(server);
    const port = await new Promise<number>((res, rej) =>
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))),
    );
    try {
      const r = await reflect(`127.0.0.1:${port}`, 'describe');
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/descriptor rejected/);
    } finally {
      server.forceShutdown();
    }
  });
});
