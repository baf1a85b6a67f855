import * as dns from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { StatsError } from '../errors';

/**
 * The stats worker's egress rules for URL sources, checked on the address a connection is
 * about to use (inside the socket's DNS lookup), so a host name that resolves — or re-resolves,
 * or redirects — to a forbidden address is refused as well as a literal one.
 *
 * - Always refused: link-local (169.254.0.0/16, fe80::/10: the cloud metadata services),
 *   "this network" 0.0.0.0/8 and ::, multicast and reserved ranges, and metadata host names.
 * - Refused unless allowed: loopback (127.0.0.0/8, ::1) and private ranges (10/8, 172.16/12,
 *   192.168/16, 100.64/10, fc00::/7).
 * IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are judged as the IPv4 address.
 *
 * A small policy of the stats worker's own: services do not import each other, and this one
 * only needs these few ranges (the fetch worker has its own, richer one).
 */
export interface EgressRules {
  allowLoopback: boolean;
  allowPrivate: boolean;
}

const FORBIDDEN = new BlockList();
FORBIDDEN.addSubnet('0.0.0.0', 8, 'ipv4');
FORBIDDEN.addSubnet('169.254.0.0', 16, 'ipv4');
FORBIDDEN.addSubnet('224.0.0.0', 3, 'ipv4');
FORBIDDEN.addAddress('::', 'ipv6');
FORBIDDEN.addSubnet('fe80::', 10, 'ipv6');
FORBIDDEN.addSubnet('ff00::', 8, 'ipv6');

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

const PRIVATE = new BlockList();
PRIVATE.addSubnet('10.0.0.0', 8, 'ipv4');
PRIVATE.addSubnet('172.16.0.0', 12, 'ipv4');
PRIVATE.addSubnet('192.168.0.0', 16, 'ipv4');
PRIVATE.addSubnet('100.64.0.0', 10, 'ipv4');
PRIVATE.addSubnet('fc00::', 7, 'ipv6');

const METADATA_HOSTS: ReadonlySet<string> = new Set(['metadata.google.internal', 'metadata.goog', 'metadata.azure.com']);

/** Why `address` may not be reached, or null when it may. */
export function refusal(address: string, rules: EgressRules): string | null {
  let ip = address;
  let family = isIP(ip);
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) {
    ip = mapped[1]!;
    family = 4;
  }
  if (family === 0) return `${address} is not an IP address`;
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (FORBIDDEN.check(ip, type)) return `${address} is a link-local, metadata or reserved address`;
  if (LOOPBACK.check(ip, type) && !rules.allowLoopback) {
    return `${address} is a loopback address (set SPINDLE_STATS_ALLOW_LOOPBACK=true to allow)`;
  }
  if (PRIVATE.check(ip, type) && !rules.allowPrivate) {
    return `${address} is a private address (set SPINDLE_STATS_ALLOW_PRIVATE=true to allow)`;
  }
  return null;
}

/** Checks a URL before any request: http(s) only, and no literal forbidden address or metadata host. */
export function checkUrl(url: string, rules: EgressRules): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new StatsError('INVALID_SPEC', 'not a valid URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new StatsError('INVALID_SPEC', `only http and https URLs are supported, not ${parsed.protocol}`);
  }
  const host = parsed.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (METADATA_HOSTS.has(host)) throw new StatsError('PATH_FORBIDDEN', `${host} is a metadata service`);
  if (isIP(host) !== 0) {
    const why = refusal(host, rules);
    if (why !== null) throw new StatsError('PATH_FORBIDDEN', why);
  }
  return parsed;
}

/**
 * A `lookup` for undici's connect options: resolves all addresses with dns.lookup and fails
 * with PATH_FORBIDDEN when any is refused (all of them, so that no fallback can reach one).
 */
export function egressLookup(rules: EgressRules): LookupFunction {
  return (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) {
        callback(err, '', 0);
        return;
      }
      for (const { address } of addresses) {
        const why = refusal(address, rules);
        if (why !== null) {
          callback(new StatsError('PATH_FORBIDDEN', `${hostname}: ${why}`) as unknown as NodeJS.ErrnoException, '', 0);
          return;
        }
      }
      if (options.all) callback(null, addresses);
      else callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
}
