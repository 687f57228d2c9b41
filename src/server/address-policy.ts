/**
 * Which network addresses the URL fetcher may connect to. The rule is "public
 * unicast only": anything loopback, private, link-local, metadata, multicast or
 * otherwise special is refused unless an operator allow-lists it by CIDR.
 *
 * Addresses are parsed here rather than with `net.BlockList` because the
 * decision depends on addresses embedded in IPv6 (IPv4-mapped, NAT64, 6to4):
 * `::ffff:127.0.0.1` must be judged as `127.0.0.1`.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { createError } from '../errors.ts';

/** A parsed address: IPv4 as a 32-bit value, IPv6 as a 128-bit value. */
interface Address {
  v6: boolean;
  value: bigint;
}

interface Range {
  v6: boolean;
  base: bigint;
  prefix: number;
}

/** Forbidden IPv4 ranges, most specific first (metadata before link-local). */
const IPV4_RULES: [string, string][] = [
  ['0.0.0.0/8', 'unspecified'],
  ['10.0.0.0/8', 'private'],
  ['100.64.0.0/10', 'carrier-grade NAT'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.169.254/32', 'cloud metadata'],
  ['169.254.0.0/16', 'link-local'],
  ['172.16.0.0/12', 'private'],
  ['192.0.0.0/24', 'reserved'],
  ['192.0.2.0/24', 'documentation'],
  ['192.88.99.0/24', 'reserved'], // deprecated 6to4 relay anycast
  ['192.168.0.0/16', 'private'],
  ['198.18.0.0/15', 'benchmarking'],
  ['198.51.100.0/24', 'documentation'],
  ['203.0.113.0/24', 'documentation'],
  ['224.0.0.0/4', 'multicast'],
  ['255.255.255.255/32', 'broadcast'],
  ['240.0.0.0/4', 'reserved'],
];

/** Forbidden IPv6 ranges that do not embed an IPv4 address. */
const IPV6_RULES: [string, string][] = [
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  ['::/96', 'deprecated IPv4-compatible'],
  ['64:ff9b:1::/48', 'local-use NAT64'],
  ['fc00::/7', 'unique-local'], // includes fd00:ec2::254, the AWS metadata service
  ['fe80::/10', 'link-local'],
  ['ff00::/8', 'multicast'],
  ['2001:db8::/32', 'documentation'],
  ['2001:2::/48', 'benchmarking'],
];

/** IPv6 ranges whose low bits carry an IPv4 address that decides the verdict. */
const EMBEDDING: { range: string; label: string; shift: bigint }[] = [
  { range: '::ffff:0:0/96', label: 'IPv4-mapped', shift: 0n },
  { range: '::ffff:0:0:0/96', label: 'IPv4-translated', shift: 0n },
  { range: '64:ff9b::/96', label: 'NAT64', shift: 0n },
  { range: '2002::/16', label: '6to4', shift: 80n }, // 2002:AABB:CCDD::/48
];

const GLOBAL_UNICAST = parseRange('2000::/3');
const compiled4 = IPV4_RULES.map(([cidr, name]) => ({ range: parseRange(cidr), name }));
const compiled6 = IPV6_RULES.map(([cidr, name]) => ({ range: parseRange(cidr), name }));
const embedding = EMBEDDING.map((e) => ({ ...e, parsed: parseRange(e.range) }));

/**
 * Name the forbidden range `ip` falls in ('loopback', 'private', 'cloud
 * metadata', 'IPv4-mapped loopback', ...), or undefined when it is public.
 * Anything that is not a plain IP address (zone ids, garbage) is forbidden too,
 * so a caller can never mistake a parse failure for "public". Never throws.
 */
export function classifyAddress(ip: string): string | undefined {
  if (ip.includes('%')) return 'zone-scoped';
  const address = parseAddress(ip);
  if (!address) return 'unparseable';
  return classify(address);
}

function classify(address: Address): string | undefined {
  if (!address.v6) return compiled4.find((r) => inRange(address, r.range))?.name;
  for (const e of embedding) {
    if (!inRange(address, e.parsed)) continue;
    const inner = classify(embeddedIPv4(address, e.shift));
    return inner === undefined ? undefined : `${e.label} ${inner}`;
  }
  const rule = compiled6.find((r) => inRange(address, r.range));
  if (rule) return rule.name;
  // Outside 2000::/3 nothing is assigned for public unicast: fail closed.
  return inRange(address, GLOBAL_UNICAST) ? undefined : 'reserved';
}

/** A compiled policy: the forbidden rule `ip` breaks, or undefined if it may be fetched. */
export type AddressPolicy = (ip: string) => string | undefined;

/**
 * Build the policy for one fetch: `classifyAddress`, except that addresses in
 * an `allow` CIDR (`'127.0.0.0/8'`, `'fd00::/8'`, or a bare address) are
 * permitted, for deployments that classify images on an internal network.
 * An IPv4-mapped IPv6 address matches IPv4 CIDRs, since it is the same host.
 * @throws ImgclsError INVALID_OPTION when an entry is not a valid CIDR.
 */
export function createAddressPolicy(allow: readonly string[] = []): AddressPolicy {
  const ranges = allow.map((cidr) => {
    const range = parseRange(cidr);
    if (!range) throw createError('INVALID_OPTION', `allow entry ${JSON.stringify(cidr)} is not a CIDR; expected e.g. "10.0.0.0/8" or "fd00::/8"`);
    return range;
  });
  return (ip) => {
    const rule = classifyAddress(ip);
    if (rule === undefined || ranges.length === 0) return rule;
    const address = parseAddress(ip);
    if (!address) return rule;
    const candidates = [address];
    if (address.v6 && embedding[0] && inRange(address, embedding[0].parsed)) candidates.push(embeddedIPv4(address, 0n));
    return candidates.some((a) => ranges.some((r) => inRange(a, r))) ? undefined : rule;
  };
}

/** "a loopback address", "an IPv4-mapped loopback address". */
export function describeRule(rule: string): string {
  // "a unique-local", but "an IPv4-mapped"
  return `${/^(?!uni)[aeiou]/i.test(rule) ? 'an' : 'a'} ${rule} address`;
}

function inRange(address: Address, range: Range | undefined): boolean {
  if (!range || address.v6 !== range.v6) return false;
  const bits = BigInt((range.v6 ? 128 : 32) - range.prefix);
  return address.value >> bits === range.base >> bits;
}

function embeddedIPv4(address: Address, shift: bigint): Address {
  return { v6: false, value: (address.value >> shift) & 0xffffffffn };
}

function parseRange(cidr: string): Range | undefined {
  const [ip, prefixText, extra] = cidr.trim().split('/');
  if (ip === undefined || extra !== undefined) return undefined;
  const address = parseAddress(ip);
  if (!address) return undefined;
  const max = address.v6 ? 128 : 32;
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (prefix > max) return undefined;
  return { v6: address.v6, base: address.value, prefix };
}

/** Strict parse: dotted-quad IPv4, or any RFC 4291 IPv6 text form without a zone. */
function parseAddress(ip: string): Address | undefined {
  if (isIPv4(ip)) return { v6: false, value: parseIPv4(ip) };
  if (!isIPv6(ip) || ip.includes('%')) return undefined;
  const [head = '', tail] = ip.split('::');
  const groups = (part: string): bigint[] =>
    part === '' ? [] : part.split(':').flatMap((g) => {
      if (!g.includes('.')) return [BigInt(`0x${g}`)];
      const v4 = parseIPv4(g);
      return [v4 >> 16n, v4 & 0xffffn];
    });
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const fill = tail === undefined ? 0 : Math.max(0, 8 - left.length - right.length);
  const all = [...left, ...Array<bigint>(fill).fill(0n), ...right];
  if (all.length !== 8) return undefined;
  return { v6: true, value: all.reduce((acc, g) => (acc << 16n) | g, 0n) };
}

function parseIPv4(ip: string): bigint {
  return ip.split('.').reduce((acc, octet) => (acc << 8n) | BigInt(Number(octet)), 0n);
}
