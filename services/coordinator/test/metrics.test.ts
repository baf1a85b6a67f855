import { createJobServiceClient } from '@spindle/sdk';
import { describe, expect, it } from 'vitest';
import { startTestCoordinator } from '../../../test/helpers/coordinator';
import { unary } from '../../../test/helpers/grpc';

describe('coordinator metrics', () => {
  it('counts submitted jobs by kind on GET /metrics and 404s elsewhere', async () => {
    const coord = await startTestCoordinator({ SPINDLE_METRICS_ADDR: '127.0.0.1:0' });
    const client = createJobServiceClient(coord.address);
    try {
      await unary(client.submitJob.bind(client), {
        requestId: '',
        spec: { name: 'm', kind: { $case: 'stats', value: { sources: [{ source: { $case: 'path', value: 'a.csv' } }] } } },
      });
      const res = await fetch(`http://${coord.metricsAddress}/metrics`);
      expect(res.headers.get('content-type')).toContain('text/plain');
      const body = await res.text();
      expect(body).toMatch(/spindle_jobs_submitted_total\{kind="JOB_KIND_STATS"\} 1/);
      expect(body).toContain('spindle_coordinator_process_resident_memory_bytes');
      expect((await fetch(`http://${coord.metricsAddress}/other`)).status).toBe(404);
    } finally {
      client.close();
      await coord.stop();
    }
  });
});
