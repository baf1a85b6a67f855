import type { Agent } from 'undici';

/**
 * Most agents a thread keeps open for connect timeouts other than the worker's
 * default while no download uses them. Jobs that set their own timeout are
 * few at a time; more distinct values only cost the evicted agents' warm
 * connections.
 */
export const SPARE_AGENTS = 8;

interface Entry {
  agent: Agent;
  /** Downloads between acquire and release of this timeout. */
  users: number;
}

/**
 * A fetch thread's keep-alive HTTP agents, one per connect timeout. undici
 * fixes the connect timeout of a Client when it builds its connector, and
 * calls the connector with the origin only, never with a request's options
 * (lib/dispatcher/client.js), so the timeout cannot be given per dispatch; a
 * pooled connection opened for one request also serves the next.
 *
 * Nearly every download uses the worker's default timeout: its agent lives as
 * long as the thread, and acquire/release of it cost one comparison. Other
 * values share a small LRU: an agent no download uses is closed once more
 * than {@link SPARE_AGENTS} others are open (`close()` lets requests still in
 * flight finish, then closes its sockets). An agent in use is never closed, so
 * at most 1 + max(SPARE_AGENTS, distinct timeouts of the running downloads)
 * are open. Without the bound, every distinct value a client sent kept an
 * agent and its keep-alive sockets until the thread stopped.
 */
export class ConnectTimeoutAgents {
  readonly #defaultMs: number;
  readonly #default: Agent;
  readonly #create: (connectTimeoutMs: number) => Agent;
  readonly #spare: number;
  /** Agents of other timeouts, least recently acquired first. */
  readonly #others = new Map<number, Entry>();
  readonly #closing = new Set<Promise<void>>();

  constructor(defaultMs: number, create: (connectTimeoutMs: number) => Agent, spare = SPARE_AGENTS) {
    this.#defaultMs = defaultMs;
    this.#create = create;
    this.#spare = spare;
    this.#default = create(defaultMs);
  }

  /** Agents open (the default one included); for tests. */
  get size(): number {
    return 1 + this.#others.size;
  }

  /** Marks a download with this timeout as started: its agent stays open until {@link release}. */
  acquire(connectTimeoutMs: number): void {
    if (connectTimeoutMs === this.#defaultMs) return;
    let entry = this.#others.get(connectTimeoutMs);
    if (entry === undefined) {
      entry = { agent: this.#create(connectTimeoutMs), users: 0 };
    } else {
      this.#others.delete(connectTimeoutMs); // re-inserted below as the most recent
    }
    this.#others.set(connectTimeoutMs, entry);
    entry.users++;
    this.#trim();
  }

  /** The agent of a timeout; between acquire and release it stays open. */
  get(connectTimeoutMs: number): Agent {
    if (connectTimeoutMs === this.#defaultMs) return this.#default;
    let entry = this.#others.get(connectTimeoutMs);
    if (entry === undefined) {
      // Not acquired (no caller does that): still an agent with the right timeout.
      entry = { agent: this.#create(connectTimeoutMs), users: 0 };
      this.#others.set(connectTimeoutMs, entry);
    }
    return entry.agent;
  }

  /** Marks a download with this timeout as ended. */
  release(connectTimeoutMs: number): void {
    if (connectTimeoutMs === this.#defaultMs) return;
    const entry = this.#others.get(connectTimeoutMs);
    if (entry === undefined || entry.users === 0) return;
    entry.users--;
    if (entry.users === 0) this.#trim();
  }

  /** Destroys every agent (their connections at once); for the thread's close. */
  async destroy(): Promise<void> {
    const agents = [this.#default, ...[...this.#others.values()].map((e) => e.agent)];
    this.#others.clear();
    await Promise.allSettled([...agents.map((a) => a.destroy()), ...this.#closing]);
  }

  /** Closes the least recently acquired idle agents beyond the spare ones. */
  #trim(): void {
    if (this.#others.size <= this.#spare) return;
    for (const [timeout, entry] of this.#others) {
      if (this.#others.size <= this.#spare) return;
      if (entry.users > 0) continue;
      this.#others.delete(timeout);
      const closing = entry.agent.close().catch(() => {
        // Nothing to do: it was idle, and a failure to close leaves nothing we could use.
      });
      this.#closing.add(closing);
      void closing.finally(() => this.#closing.delete(closing));
    }
  }
}
