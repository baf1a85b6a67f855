import { BlockList, isIP } from 'node:net';

/**
 * Egress (SSRF) address rules, shared by every worker that connects to a URL a job
 * gave it: the fetch worker's downloads and the stats worker's URL sources. One
 * table, so that a range added for one worker protects the other as well (the stats
 * worker once kept its own, shorter copy, which let NAT64 and 6to4 spellings of the
 * metadata address through).
 *
 * Each worker wraps these in its own policy with its own error type; the checks run
 * on the URL's literal host before a request and on every address DNS returns.
 *
 * This module imports only node:net, so that worker threads can load it through the
 * `@spindle/runtime/egress` entry point without the rest of the runtime.
 */

/** What an IP address is, for the egress policy. */
export type AddressClass = 'public' | 'loopback' | 'private' | 'forbidden';

/** Which non-public destinations a deployment allows. */
export interface EgressRules {
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
const METADATA_HOST_NAMES: ReadonlySet<string> = new Set([
  'metadata.google.internal',
  'metadata.goog',
  'metadata.azure.com',
]);

/**
 * Whether a URL's host name (any case, with or without the trailing dot) names a
 * cloud metadata service.
 */
export function isMetadataHostName(hostname: string): boolean {
  return METADATA_HOST_NAMES.has(hostname.toLowerCase().replace(/\.$/, ''));
}

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

/** Whether `rules` allow a connection to an address of class `cls`. */
export function allowsClass(cls: AddressClass, rules: EgressRules): boolean {
  switch (cls) {
    case 'public':
      return true;
    case 'loopback':
      return rules.allowLoopback;
    case 'private':
      return rules.allowPrivate;
    case 'forbidden':
      return false;
  }
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
