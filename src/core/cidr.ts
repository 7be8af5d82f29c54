// CIDR ranges for the annotations that take them (whitelist/allowlist/denylist-source-range,
// limit-whitelist, proxy-real-ip-cidr): ingress-nginx reads a comma-separated list of addresses
// and CIDRs (Go's net.ParseCIDR, host bits masked off; a bare address is a /32 or /128).
// Addresses are compared as 16 bytes, IPv4 in its IPv4-mapped form (ip-address.ts), so an IPv4
// range also covers the same client seen as ::ffff:a.b.c.d.

import { formatIp, parseIp, type IpBytes } from './ip-address.ts';

export interface Cidr {
  /** The network address, 16 bytes, host bits zero. */
  readonly ip: IpBytes;
  /** Prefix length in the 128-bit space (an IPv4 /8 is 104). */
  readonly bits: number;
}

/** The mask of one byte when `left` prefix bits remain from its first bit on. */
function byteMask(left: number): number {
  return left >= 8 ? 0xff : left <= 0 ? 0 : (0xff << (8 - left)) & 0xff;
}

/** One range (`10.0.0.0/8`, `2001:db8::/32`, `192.0.2.7`), or null when it is not one. */
export function parseCidr(text: string): Cidr | null {
  const slash = text.indexOf('/');
  const addr = slash === -1 ? text : text.slice(0, slash);
  const ip = parseIp(addr);
  if (ip === null) return null;
  const v4 = !addr.includes(':');
  const max = v4 ? 32 : 128;
  let bits = max;
  if (slash !== -1) {
    const len = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(len) || Number(len) > max) return null;
    bits = Number(len);
  }
  const total = v4 ? bits + 96 : bits;
  return { ip: ip.map((b, i) => b & byteMask(total - i * 8)), bits: total };
}

/** A comma-separated list (spaces around entries ignored), or the reason it is not one. */
export function parseCidrList(value: string): readonly Cidr[] | string {
  const out: Cidr[] = [];
  for (const raw of value.split(',')) {
    const entry = raw.trim();
    const cidr = parseCidr(entry);
    if (cidr === null) return `${JSON.stringify(entry)} is not an IP address or CIDR range`;
    out.push(cidr);
  }
  return out;
}

/** Whether `ip` (16 bytes) is inside one of `ranges`. */
export function inRanges(ranges: readonly Cidr[], ip: IpBytes): boolean {
  outer: for (const { ip: net, bits } of ranges) {
    for (let i = 0; i * 8 < bits; i++) {
      if ((ip[i]! & byteMask(bits - i * 8)) !== net[i]) continue outer;
    }
    return true;
  }
  return false;
}

/** A range as text (`10.0.0.0/8`, `2001:db8::/32`): an IPv4 one (IPv4-mapped, /96 or longer) in IPv4 notation. */
export function formatCidr({ ip, bits }: Cidr): string {
  const v4 = bits >= 96 && ip.slice(0, 10).every((b) => b === 0) && ip[10] === 0xff && ip[11] === 0xff;
  return `${formatIp(ip)}/${v4 ? bits - 96 : bits}`;
}
