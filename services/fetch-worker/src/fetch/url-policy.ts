import * as dns from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { allowsClass, classifyAddress, isMetadataHostName, type EgressRules } from '@spindle/runtime/egress';
import { FetchError } from './error-codes';

/**
 * The fetch worker's egress (SSRF) policy: which addresses a download may connect
 * to, by the address rules shared with the stats worker (@spindle/runtime/egress).
 * The check runs twice per hop: on the URL before any request (scheme, literal
 * IPs, metadata host names), and on every address DNS returns, inside the
 * socket's `lookup`, so a name that resolves (or re-resolves) to a forbidden
 * address is refused too.
 */

/** Which non-public destinations are allowed. */
export type EgressPolicyOptions = EgressRules;

/**
 * One worker's egress policy. `checkUrl` runs before each request (and each
 * redirect hop); `lookup` goes into the HTTP agent's connect options so every
 * DNS answer is filtered before a socket connects.
 */
export class EgressPolicy {
  readonly #options: EgressPolicyOptions;
  /** Verdicts on literal IP hosts of URLs (classifying one allocates; thousands of URLs share a host). */
  readonly #literalVerdicts = new Map<string, boolean>();

  constructor(options: EgressPolicyOptions) {
    this.#options = { ...options };
  }

  /** Whether a connection to `address` is allowed. */
  allows(address: string): boolean {
    return allowsClass(classifyAddress(address), this.#options);
  }

  /**
   * Checks a URL before a request: http/https only, no credentials, no
   * forbidden literal address or metadata host name.
   * @throws FetchError POLICY (or INVALID_SPEC for credentials)
   */
  checkUrl(url: URL): void {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new FetchError('POLICY', `${url.href}: only http and https URLs are allowed`);
    }
    if (url.username !== '' || url.password !== '') {
      throw new FetchError('INVALID_SPEC', `${redact(url)}: credentials in URLs are not supported`);
    }
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    let verdict = this.#literalVerdicts.get(host);
    if (verdict === undefined && isIP(host) !== 0) {
      verdict = this.allows(host);
      if (this.#literalVerdicts.size >= 1024) this.#literalVerdicts.clear();
      this.#literalVerdicts.set(host, verdict);
    }
    if (verdict !== undefined) {
      if (!verdict) {
        throw new FetchError('POLICY', `${url.href}: egress to ${host} (${classifyAddress(host)}) is refused`);
      }
      return;
    }
    if (isMetadataHostName(host)) {
      throw new FetchError('POLICY', `${url.href}: egress to metadata service ${host.toLowerCase().replace(/\.$/, '')} is refused`);
    }
  }

  /**
   * A `lookup` for net/tls connect options: resolves with `dns.lookup` and drops
   * forbidden addresses; fails with POLICY when none is left.
   */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) {
        callback(err, '');
        return;
      }
      const allowed = addresses.filter((a) => this.allows(a.address));
      if (allowed.length === 0) {
        const seen = addresses.map((a) => `${a.address} (${classifyAddress(a.address)})`).join(', ');
        callback(new FetchError('POLICY', `egress to ${hostname} refused: it resolves to ${seen}`), '');
        return;
      }
      if (options.all === true) {
        callback(null, allowed);
      } else {
        const [first] = allowed;
        callback(null, first?.address ?? '', first?.family);
      }
    });
  };
}

function redact(url: URL): string {
  const copy = new URL(url.href);
  copy.username = '';
  copy.password = '';
  return copy.href;
}
