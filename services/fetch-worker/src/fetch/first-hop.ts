import type { EgressPolicy } from './url-policy';

/** What the executor takes from a task's URL for the first request. */
export interface FirstHop {
  /** `url.origin` */
  origin: string;
  /** `url.host` (host:port), for the per-host limit. */
  host: string;
  /** `url.pathname + url.search` */
  path: string;
}

/** The authority of an http(s) URL when it needs no rewriting: no separators, spaces, controls or non-ASCII. */
const PLAIN_AUTHORITY = /^[A-Za-z0-9\-._~!$&()*+,;=:@%[\]]+$/;
/**
 * Path and query that the URL parser leaves exactly as they are: only
 * characters that are never percent-encoded in a path or an http(s) query, and
 * never removed (tabs, newlines) or rewritten (`\`). Dot segments are excluded
 * separately.
 */
const PLAIN_PATH = /^\/[A-Za-z0-9\-._~!$&()*+,;=:@/%?]*$/;
/** A segment that may start with a dot, or a percent-encoded dot: the parser may remove or merge segments. */
const MAYBE_DOT_SEGMENT = /\/\.|%2e/i;
/** Origins kept; a small cache, not a leak. */
const MAX_ORIGINS = 1000;

/**
 * The first hop of task URLs without parsing each one: the scheme and
 * authority (`http://host:port`) of thousands of URLs of a job are the same,
 * so their parse and egress check are done once and cached by the exact text;
 * the rest of a URL is used as its path when the parser would leave it
 * unchanged. Only authorities that passed {@link EgressPolicy.checkUrl} are
 * cached; anything else (a refused or unusual authority, dot segments,
 * characters that get encoded, an empty query) is left to `new URL`, whose
 * result this always equals. Measured per task: `new URL` + its getters + the
 * egress check 0.45 µs → 0.14 µs.
 */
export class FirstHopCache {
  readonly #egress: EgressPolicy;
  readonly #origins = new Map<string, { origin: string; host: string }>();

  constructor(egress: EgressPolicy) {
    this.#egress = egress;
  }

  /** The first hop of `raw` (already allowed by the egress policy), or null: parse it. */
  lookup(raw: string): FirstHop | null {
    const start = raw.startsWith('http://') ? 7 : raw.startsWith('https://') ? 8 : -1;
    if (start < 0) return null;
    const slash = raw.indexOf('/', start);
    if (slash <= start) return null; // no path, or no host
    const path = raw.slice(slash);
    if (!PLAIN_PATH.test(path) || MAYBE_DOT_SEGMENT.test(path)) return null;
    const query = path.indexOf('?');
    if (query === path.length - 1) return null; // an empty query is dropped from url.search
    const prefix = raw.slice(0, slash);
    let known = this.#origins.get(prefix);
    if (known === undefined) {
      const parsed = this.#parse(prefix);
      if (parsed === null) return null;
      if (this.#origins.size >= MAX_ORIGINS) this.#origins.clear();
      this.#origins.set(prefix, parsed);
      known = parsed;
    }
    return { origin: known.origin, host: known.host, path };
  }

  /**
   * Parses `scheme://authority` on its own. The authority of a URL ends at its
   * first `/` (none of `\ ? #` or whitespace comes before it here), so it
   * parses the same with any path after it.
   */
  #parse(prefix: string): { origin: string; host: string } | null {
    const authority = prefix.slice(prefix.indexOf('//') + 2);
    if (!PLAIN_AUTHORITY.test(authority)) return null;
    let url: URL;
    try {
      url = new URL(`${prefix}/`);
      this.#egress.checkUrl(url);
    } catch {
      return null; // the full parse reports it, with the whole URL in the message
    }
    return { origin: url.origin, host: url.host };
  }
}
