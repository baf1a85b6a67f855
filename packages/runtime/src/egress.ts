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
// Oracle Cloud Classic / Cloud at Customer metadata (`curl http://192.0.0.192/` in
// Oracle's docs). The rest of 192.0.0.0/24 (IETF protocol assignments) stays private.
FORBIDDEN.addAddress('192.0.0.192', 'ipv4');
FORBIDDEN.addSubnet('::', 128, 'ipv6');
FORBIDDEN.addSubnet('fe80::', 10, 'ipv6');
FORBIDDEN.addSubnet('ff00::', 8, 'ipv6');
FORBIDDEN.addSubnet('100::', 64, 'ipv6'); // discard prefix
FORBIDDEN.addAddress('fd00:ec2::254', 'ipv6'); // AWS IMDS over IPv6
// GCE metadata over IPv6 (Google's Config Connector uses [fd20:ce::254] as the metadata
// host). Unique-local like AWS's, so fc00::/7 being private must not open it.
FORBIDDEN.addAddress('fd20:ce::254', 'ipv6');

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
 * (`::ffff:a.b.c.d`), NAT64 and 6to4 (`2002::/16`) addresses are judged by the
 * IPv4 address they carry (see {@link carriedIPv4} for the NAT64 forms); other
 * IPv4-compatible `::/96` addresses are forbidden. Anything that is not an IP
 * address is forbidden.
 */
export function classifyAddress(address: string): AddressClass {
  const family = isIP(address);
  if (family === 4) return classify(address, 'ipv4');
  if (family !== 6) return 'forbidden';
  const carried = carriedIPv4(address);
  if (carried === 'compat') return 'forbidden';
  if (carried !== null) return carried.map((v4) => classify(v4, 'ipv4')).reduce(stricter);
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

/**
 * The IPv4 addresses an IPv6 address leads to through a translator or tunnel,
 * 'compat' for `::a.b.c.d`, else null:
 *
 * - NAT64 well-known prefix `64:ff9b::/96` (RFC 6052): the last 32 bits.
 * - NAT64 local-use prefix `64:ff9b:1::/48` (RFC 8215): the operator picks the
 *   layout, so both that a translator may apply are read — the /48 format (IPv4 in
 *   bits 48–63 and 72–87, around the u-octet; the u-octet and the suffix are
 *   ignored, as translators ignore them) and a /96 prefix inside the /48 (the last
 *   32 bits, e.g. `64:ff9b:1::a9fe:a9fe`). A reading in 0.0.0.0/8 is dropped: it is
 *   what the other layout's zero bits give (`64:ff9b:1::/96` reads as 0.0.0.0 in the
 *   /48 format), and a translator cannot route there. The /56 and /64 formats are not
 *   read (their readings of /48 and /96 addresses are arbitrary bits, which would
 *   refuse real destinations at random).
 * - 6to4 `2002::/16`: bits 16–47.
 */
function carriedIPv4(address: string): readonly string[] | 'compat' | null {
  const h = expandIPv6(address);
  if (h === null) return null;
  const [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0, g6 = 0, g7 = 0] = h;
  const v4 = (hi: number, lo: number): string => `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
  if (g0 === 0x64 && g1 === 0xff9b) {
    if (g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) return [v4(g6, g7)];
    if (g2 === 1) {
      const readings = [v4(g3, ((g4 & 0xff) << 8) | (g5 >> 8)), v4(g6, g7)].filter((a) => !a.startsWith('0.'));
      // Nothing but 0.0.0.0/8 in either layout ("this network"): forbidden like 0.0.0.0.
      return readings.length > 0 ? readings : ['0.0.0.0'];
    }
  }
  if (g0 === 0x2002) return [v4(g1, g2)];
  const zeroHigh = h.slice(0, 6).every((x) => x === 0);
  // ::, ::1 are handled by the block lists; ::a.b.c.d (deprecated "compatible") is not routable.
  if (zeroHigh && (g6 !== 0 || g7 > 1)) return 'compat';
  return null;
}

/**
 * The class that allows a connection only when both `a` and `b` are allowed: two
 * different non-public classes (loopback and private) have no such class, so forbidden.
 */
function stricter(a: AddressClass, b: AddressClass): AddressClass {
  if (a === b || b === 'public') return a;
  if (a === 'public') return b;
  return 'forbidden';
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
