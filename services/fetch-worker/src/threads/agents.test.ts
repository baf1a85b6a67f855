import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectTimeoutAgents, SPARE_AGENTS } from './agents';

describe('ConnectTimeoutAgents', () => {
  const made: Array<{ timeout: number; agent: Agent }> = [];
  let agents: ConnectTimeoutAgents;
  const create = (timeout: number): Agent => {
    const agent = new Agent({ connect: { timeout } });
    made.push({ timeout, agent });
    return agent;
  };
  const agentOf = (timeout: number): Agent | undefined => made.findLast((m) => m.timeout === timeout)?.agent;

  afterEach(async () => {
    await agents.destroy();
    made.length = 0;
  });

  it('serves the default timeout from one agent for good', () => {
    agents = new ConnectTimeoutAgents(10_000, create);
    for (let i = 0; i < 3; i++) {
      agents.acquire(10_000);
      expect(agents.get(10_000)).toBe(agentOf(10_000));
      agents.release(10_000);
    }
    expect(made).toHaveLength(1);
    expect(agents.size).toBe(1);
  });

  it('gives each timeout an agent made for it, and closes the least recently used idle ones beyond the spares', () => {
    agents = new ConnectTimeoutAgents(10_000, create);
    const distinct = SPARE_AGENTS + 20;
    for (let t = 1; t <= distinct; t++) {
      agents.acquire(t);
      expect(agents.get(t)).toBe(agentOf(t));
      agents.release(t);
      expect(agents.size).toBeLessThanOrEqual(1 + SPARE_AGENTS);
    }
    const closed = made.filter((m) => m.agent.closed).map((m) => m.timeout);
    expect(closed).toEqual(Array.from({ length: distinct - SPARE_AGENTS }, (_, i) => i + 1));
    // Using an evicted timeout again makes a new agent with that timeout.
    agents.acquire(1);
    expect(agents.get(1)).toBe(agentOf(1));
    expect(agents.get(1).closed).toBe(false);
    agents.release(1);
  });

  it('keeps an agent open while a download uses it, however many others come and go', async () => {
    let answer: (() => void) | undefined;
    const server = http.createServer((_req, res) => (answer = () => res.end('done')));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    agents = new ConnectTimeoutAgents(10_000, create);
    try {
      agents.acquire(500);
      const response = agents.get(500).request({ origin, path: '/slow', method: 'GET' });
      for (let t = 1; t <= SPARE_AGENTS + 10; t++) {
        agents.acquire(t);
        agents.release(t);
      }
      expect(agentOf(500)?.closed).toBe(false);
      // All in use at once: none closed, more than the spares open for as long as that lasts.
      for (let t = 1000; t < 1000 + SPARE_AGENTS + 3; t++) agents.acquire(t);
      expect(agents.size).toBe(1 + 1 + SPARE_AGENTS + 3);
      for (let t = 1000; t < 1000 + SPARE_AGENTS + 3; t++) agents.release(t);
      expect(agents.size).toBe(1 + SPARE_AGENTS);
      while (answer === undefined) await new Promise((resolve) => setImmediate(resolve));
      answer();
      expect(await (await response).body.text()).toBe('done');
      agents.release(500);
      // The oldest idle agent now; the next new timeout closes it.
      agents.acquire(9999);
      agents.release(9999);
      expect(agentOf(500)?.closed).toBe(true);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
