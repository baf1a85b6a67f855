import * as dns from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { allowsClass, classifyAddress, isMetadataHostName, type EgressRules } from '@spindle/runtime/egress';
import { StatsError } from '../errors';

/**
 * The stats worker's egress policy for URL sources, by the address rules it shares with
 * the fetch worker (@spindle/runtime/egress), checked on the URL's literal host and on the
 * address a connection is about to use (inside the socket's DNS lookup), so a host name
 * that resolves — or re-resolves, or redirects — to a forbidden address is refused as well
 * as a literal one.
 *
 * - Always refused: link-local (169.254.0.0/16, fe80::/10: the cloud metadata services)
 *   and the other metadata addresses, "this network" 0.0.0.0/8 and ::, multicast and
 *   reserved ranges, and metadata host names; also any of these carried inside an IPv6
 *   address (IPv4-mapped, NAT64 64:ff9b::/96 and 64:ff9b:1::/48, 6to4 2002::/16).
 * - Refused unless allowed: loopback (127.0.0.0/8, ::1) and private ranges (10/8, 172.16/12,
 *   192.168/16, 100.64/10, fc00::/7 and the documentation and benchmark ranges).
 */
export type { EgressRules } from '@spindle/runtime/egress';

/** Why `address` may not be reached, or null when it may. */
export function refusal(address: string, rules: EgressRules): string | null {
  if (isIP(address) === 0) return `${address} is not an IP address`;
  const cls = classifyAddress(address);
  if (allowsClass(cls, rules)) return null;
  switch (cls) {
    case 'loopback':
      return `${address} is a loopback address (set SPINDLE_STATS_ALLOW_LOOPBACK=true to allow)`;
    case 'private':
      return `${address} is a private address (set SPINDLE_STATS_ALLOW_PRIVATE=true to allow)`;
    default:
      return `${address} is a link-local, metadata or reserved address`;
  }
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
  if (isMetadataHostName(host)) throw new StatsError('PATH_FORBIDDEN', `${host} is a metadata service`);
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
