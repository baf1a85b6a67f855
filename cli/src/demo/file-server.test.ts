import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeTempDir } from '../../../test/helpers/temp-dir';
import { DEMO_DATA_DIR } from './data';
import { serveCsvFiles } from './file-server';

describe('serveCsvFiles', () => {
  it('serves the CSV files of a folder by name, and nothing else', async () => {
    const dir = makeTempDir('spindle-cli-serve-');
    writeFileSync(path.join(dir, 'a.csv'), 'x,y\n1,2\n');
    writeFileSync(path.join(dir, 'secret.txt'), 'no');
    const server = await serveCsvFiles(dir);
    try {
      expect(server.files).toEqual([
        {
          name: 'a.csv',
          size: 8,
          sha256: createHash('sha256').update('x,y\n1,2\n').digest('hex'),
          url: `${server.baseUrl}/a.csv`,
        },
      ]);
      const ok = await fetch(`${server.baseUrl}/a.csv`);
      expect(ok.status).toBe(200);
      expect(ok.headers.get('content-type')).toMatch(/^text\/csv/);
      expect(await ok.text()).toBe('x,y\n1,2\n');
      for (const p of ['/secret.txt', '/sub/a.csv', '/%2e%2e%2fetc%2fpasswd', '/%E0%A4%A', '/']) {
        const res = await fetch(`${server.baseUrl}${p}`);
        expect(res.status, p).toBe(404);
        await res.arrayBuffer();
      }
    } finally {
      await server.close();
    }
  });

  it('the bundled demo data has eight CSV files', async () => {
    const server = await serveCsvFiles(DEMO_DATA_DIR);
    await server.close();
    expect(server.files.map((f) => f.name)).toHaveLength(8);
  });
});
