import * as dns from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { FetchError } from './error-codes';

/**
 * Egress (SSRF) rules: which addresses a download may connect to. The check runs
 * twice per hop: on the URL before any request (scheme, literal IPs, metadata
 * host names), and on every address DNS returns, inside the socket's `lookup`,
 * so a name that resolves (or re-resolves) to a forbidden address is refused too.
 */

/** What an IP address is, for the egress policy. */
export type AddressClass = 'public' | 'loopback' | 'private' | 'forbidden';

/** Which non-public destinations are allowed. */
export interface EgressPolicyOptions {
  /** Allow 127.0.0.0/8 and ::1 (tests, the local demo). */
  allowLoopback: boolean;
  /** Allow private networks: RFC 1918, CGNAT 100.64/10, fc00::/7 and similar. */
  allowPrivate: boolean;
}

// Never allowed: link-local (169.254/16 holds the cloud metadata services), "this
// network" (0.0.0.0 reaches the local host on Linux), multicast, reserved, and the
// metadata addresses that live outside link-local.
const FORBIDDEN = new BlockList();
FORBIDDEN.addSubnet('0.0.0.0', 8, 'ipv4');
FORBIDDEN.addSubnet('169.254.0.0', 16, 'ipv4');
FORBIDDEN.addSubnet('224.0.0.0', 4, 'ipv4');
FORBIDDEN.addSubnet('240.0.0.0', 4, 'ipv4');
FORBIDDEN.addAddress('100.100.100.200', 'ipv4'); // Alibaba Cloud metadata
FORBIDDEN.addSubnet('::', 128, 'ipv6');
FORBIDDEN.addSubnet('fe80::', 10, 'ipv6');
FORBIDDEN.addSubnet('ff00::', 8, 'ipv6');
FORBIDDEN.addSubnet('100::', 64, 'ipv6'); // discard prefix
FORBIDDEN.addAddress('fd00:ec2::254', 'ipv6'); // AWS IMDS over IPv6

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

const PRIVATE = new BlockList();
PRIVATE.addSubnet('10.0.0.0', 8, 'ipv4');
PRIVATE.addSubnet('172.16.0.0', 12, 'ipv4');
PRIVATE.addSubnet('192.168.0.0', 16, 'ipv4');
PRIVATE.addSubnet('100.64.0.0', 10, 'ipv4');
PRIVATE.addSubnet('192.0.0.0', 24, 'ipv4');
PRIVATE.addSubnet('198.18.0.0', 15, 'ipv4');
PRIVATE.addSubnet('192.0.2.0', 24, 'ipv4');
PRIVATE.addSubnet('198.51.100.0', 24, 'ipv4');
PRIVATE.addSubnet('203.0.113.0', 24, 'ipv4');
PRIVATE.addSubnet('fc00::', 7, 'ipv6');
PRIVATE.addSubnet('fec0::', 10, 'ipv6');
PRIVATE.addSubnet('2001:db8::', 32, 'ipv6');

/** Host names of metadata services, refused before any DNS query. */
const FORBIDDEN_HOSTNAMES: ReadonlySet<string> = new Set([
  'metadata.google.internal',
  'metadata.goog',
  'metadata.azure.com',
]);

/**
 * Classifies an IP address (v4 or v6, without brackets). IPv4-mapped
 * (`::ffff:a.b.c.d`), NAT64 (`64:ff9b::/96`) and 6to4 (`2002::/16`) addresses
 * are judged by the IPv4 address they carry; other IPv4-compatible `::/96`
 * addresses are forbidden. Anything that is not an IP address is forbidden.
 */
export function classifyAddress(address: string): AddressClass {
  const family = isIP(address);
  if (family === 4) return classify(address, 'ipv4');
  if (family !== 6) return 'forbidden';
  const embedded = embeddedIPv4(address);
  if (embedded === 'compat') return 'forbidden';
  if (embedded !== null) return classify(embedded, 'ipv4');
  return classify(address, 'ipv6');
}

function classify(address: string, family: 'ipv4' | 'ipv6'): AddressClass {
  // BlockList matches IPv4 rules against IPv4-mapped IPv6 addresses itself.
  if (FORBIDDEN.check(address, family)) return 'forbidden';
  if (LOOPBACK.check(address, family)) return 'loopback';
  if (PRIVATE.check(address, family)) return 'private';
  return 'public';
}

/** The IPv4 address inside a NAT64 or 6to4 address, 'compat' for `::a.b.c.d`, else null. */
function embeddedIPv4(address: string): string | 'compat' | null {
  const h = expandIPv6(address);
  if (h === null) return null;
  const v4 = (hi: number, lo: number): string => `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
  if (h[0] === 0x64 && h[1] === 0xff9b && h[2] === 0 && h[3] === 0 && h[4] === 0 && h[5] === 0) {
    return v4(h[6] ?? 0, h[7] ?? 0);
  }
  if (h[0] === 0x2002) return v4(h[1] ?? 0, h[2] ?? 0);
  const zeroHigh = h.slice(0, 6).every((x) => x === 0);
  // ::, ::1 are handled by the block lists; ::a.b.c.d (deprecated "compatible") is not routable.
  if (zeroHigh && ((h[6] ?? 0) !== 0 || (h[7] ?? 0) > 1)) return 'compat';
  return null;
}

/** The eight 16-bit groups of an IPv6 address, or null if it is not one. */
function expandIPv6(address: string): number[] | null {
  let text = address;
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  const lastColon = text.lastIndexOf(':');
  const last = text.slice(lastColon + 1);
  if (last.includes('.')) {
    // Dotted IPv4 tail (::ffff:1.2.3.4): rewrite it as two hex groups.
    const parts = last.split('.').map(Number);
    if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return null;
    const [a = 0, b = 0, c = 0, d = 0] = parts;
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const parse = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const head = parse(halves[0] ?? '');
  const rest = halves.length === 2 ? parse(halves[1] ?? '') : [];
  const groups = halves.length === 2 ? 8 - head.length - rest.length : 0;
  if (groups < 0) return null;
  const all = [...head, ...new Array<number>(groups).fill(0), ...rest];
  if (all.length !== 8 || all.some((g) => !Number.isInteger(g) || g < 0 || g > 0xffff)) return null;
  return all;
}

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
    switch (classifyAddress(address)) {
      case 'public':
        return true;
      case 'loopback':
        return this.#options.allowLoopback;
      case 'private':
        return this.#options.allowPrivate;
      case 'forbidden':
        return false;
    }
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
    const name = host.toLowerCase().replace(/\.$/, '');
    if (FORBIDDEN_HOSTNAMES.has(name)) {
      throw new FetchError('POLICY', `${url.href}: egress to metadata service ${name} is refused`);
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
