// IP address literals, parsed here because core is pure (no node:net). Two IPv4 grammars:
// - 'dotted': four decimal parts of 0-255, leading zeros allowed. This is Go's net.ParseIP as
//   Kubernetes' netutils.ParseIPSloppy reads it, which the API server uses to refuse an IP
//   address as an Ingress rule host (networking/v1 validateIngressRules).
// - 'url': the WHATWG URL host parser's IPv4 (undici builds its origins with it), which reads
//   everything inet_aton(3) does (glibc getaddrinfo, so Node's dns.lookup, for net.connect):
//   1 to 4 parts, each decimal, octal (a leading 0) or hex (0x), the last filling the bytes
//   left, and one trailing dot ignored, so `127.1`, `0x7f.1`, `0177.0.0.1` and `2130706433`
//   are all 127.0.0.1. A name whose last label is a number is read as IPv4 by the URL
//   parser, and a URL with one that does not parse (`999.0.0.1`, `foo.08`) is invalid.
// IPv6 is RFC 4291 §2.2 text (hex groups, one `::`, a dotted IPv4 tail), without a zone.

export type Ipv4Grammar = 'dotted' | 'url';

/** An address as 16 bytes; an IPv4 address as its IPv4-mapped form ::ffff:a.b.c.d (RFC 4291 §2.5.5.2). */
export type IpBytes = readonly number[];

const DECIMAL = /^[0-9]+$/;
const OCTAL = /^0[0-7]*$/;
const HEX = /^0[xX][0-9a-fA-F]*$/;

/** A part's value, or null; stops early so that a long run of digits cannot lose precision. */
function partValue(part: string, grammar: Ipv4Grammar): number | null {
  let digits = part;
  let base = 10;
  if (grammar === 'url' && HEX.test(part)) {
    digits = part.slice(2);
    base = 16;
  } else if (grammar === 'url' && part.length > 1 && part.startsWith('0')) {
    if (!OCTAL.test(part)) return null;
    base = 8;
  } else if (!DECIMAL.test(part)) {
    return null;
  }
  let n = 0;
  for (const c of digits) {
    n = n * base + parseInt(c, 16);
    if (n > 0xffffffff) return null;
  }
  return n;
}

function mapped(v4: readonly number[]): IpBytes {
  return [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...v4];
}

/** The four bytes of an IPv4 address in `grammar`, or null. */
function parseIpv4(text: string, grammar: Ipv4Grammar): number[] | null {
  const parts = text.split('.');
  if (grammar === 'url' && parts.length > 1 && parts.at(-1) === '') parts.pop();
  if (grammar === 'dotted' ? parts.length !== 4 : parts.length > 4) return null;
  const values: number[] = [];
  for (const part of parts) {
    if (part === '') return null;
    const v = partValue(part, grammar);
    if (v === null) return null;
    values.push(v);
  }
  const last = values.pop()!;
  if (values.some((v) => v > 255) || last >= 256 ** (4 - values.length)) return null;
  const tail = [last >>> 24, (last >>> 16) & 0xff, (last >>> 8) & 0xff, last & 0xff].slice(values.length);
  return [...values, ...tail];
}

/** The 16 bytes of an IPv6 address, or null. */
function parseIpv6(text: string): number[] | null {
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const groups = (half: string): number[] | null => {
    if (half === '') return [];
    const out: number[] = [];
    const pieces = half.split(':');
    for (const [i, piece] of pieces.entries()) {
      if (i === pieces.length - 1 && piece.includes('.')) {
        const v4 = parseIpv4(piece, 'dotted');
        if (v4 === null) return null;
        out.push(...v4);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(piece)) return null;
        const v = parseInt(piece, 16);
        out.push(v >> 8, v & 0xff);
      }
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (head === null || tail === null) return null;
  // A dotted tail may only end the address.
  if (halves.length === 2 && halves[0]!.includes('.')) return null;
  if (halves.length === 1) return head.length === 16 ? head : null;
  const zeros = 16 - head.length - tail.length;
  return zeros < 0 ? null : [...head, ...new Array<number>(zeros).fill(0), ...tail];
}

/** The address `text` is a literal of, as 16 bytes, or null when it is not one. */
export function parseIp(text: string, ipv4: Ipv4Grammar = 'dotted'): IpBytes | null {
  if (text.includes(':')) return parseIpv6(text);
  const v4 = parseIpv4(text, ipv4);
  return v4 === null ? null : mapped(v4);
}

/**
 * Whether the WHATWG URL parser reads `text` as IPv4 ("ends in a number": its last label, one
 * trailing dot aside, is decimal digits or 0x hex). When it does and parseIp(text, 'url') is
 * null, a URL with this host is invalid.
 */
export function endsInANumber(text: string): boolean {
  const parts = text.split('.');
  if (parts.length > 1 && parts.at(-1) === '') parts.pop();
  const last = parts.at(-1)!;
  return DECIMAL.test(last) || HEX.test(last);
}

export type SpecialUse = 'unspecified' | 'loopback' | 'link-local' | 'link-local multicast';

function ipv4Use(a: number, b: number, c: number, d: number): SpecialUse | null {
  if (a === 0 && b === 0 && c === 0 && d === 0) return 'unspecified';
  if (a === 127) return 'loopback';
  if (a === 169 && b === 254) return 'link-local';
  if (a === 224 && b === 0 && c === 0) return 'link-local multicast';
  return null;
}

/**
 * The special use that makes an address no destination for a proxy, or null. The set is the
 * one Kubernetes refuses as an Endpoints or EndpointSlice address (core/validation
 * ValidateEndpointIP, with Go's net.IP predicates): unspecified (0.0.0.0, ::), loopback
 * (127.0.0.0/8, ::1), link-local (169.254.0.0/16, where clouds serve instance metadata at
 * 169.254.169.254, and fe80::/10) and link-local multicast (224.0.0.0/24, ff02::/16). An
 * IPv4-mapped address (::ffff:127.0.0.1) counts as its IPv4 address, as in Go; so does the
 * deprecated IPv4-compatible form (::127.0.0.1, RFC 4291 §2.5.5.1), to be safe.
 */
export function specialUse(ip: IpBytes): SpecialUse | null {
  const zeroPrefix = ip.slice(0, 10).every((b) => b === 0);
  const [a = 0, b = 0, c = 0, d = 0] = ip.slice(12);
  if (zeroPrefix && ip[10] === 0xff && ip[11] === 0xff) return ipv4Use(a, b, c, d);
  if (zeroPrefix && ip[10] === 0 && ip[11] === 0) {
    // ::/96 holds :: and ::1 themselves; the rest is the deprecated IPv4-compatible form.
    if (a === 0 && b === 0 && c === 0 && d <= 1) return d === 0 ? 'unspecified' : 'loopback';
    return ipv4Use(a, b, c, d);
  }
  const [h0 = 0, h1 = 0] = ip;
  if (h0 === 0xfe && (h1 & 0xc0) === 0x80) return 'link-local';
  if (h0 === 0xff && (h1 & 0x0f) === 0x02) return 'link-local multicast';
  return null;
}

/**
 * The text of an address as Node and nginx print a peer's: an IPv4-mapped address as its dotted
 * IPv4 (the way headers.ts clientIp() unwraps Node's `::ffff:a.b.c.d`), IPv6 as RFC 5952 says
 * (lower-case hex, no leading zeros, the longest run of two or more zero groups as `::`, the
 * first of equal runs).
 */
export function formatIp(ip: IpBytes): string {
  if (ip.slice(0, 10).every((b) => b === 0) && ip[10] === 0xff && ip[11] === 0xff) return ip.slice(12).join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((ip[i]! << 8) | ip[i + 1]!);
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j === i ? i + 1 : j;
  }
  const hex = (g: readonly number[]) => g.map((x) => x.toString(16)).join(':');
  if (best === -1) return hex(groups);
  return `${hex(groups.slice(0, best))}::${hex(groups.slice(best + bestLen))}`;
}
