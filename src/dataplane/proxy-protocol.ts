// The PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and 2) that a load
// balancer sends at the start of each connection to say who the client is (ingress-nginx's
// use-proxy-protocol). Pure: this reads bytes already received; proxy-protocol-intake.ts does the
// socket work. Both versions are taken on the same listener, told apart by the first byte, and
// a connection whose first bytes cannot start a header is refused at once.

import { formatIp, parseIp } from '../core/ip-address.ts';

/** The addresses a PROXY header gives: the client's (source) and the one it connected to. */
export interface ProxiedAddress {
  readonly source: string;
  readonly sourcePort: number;
  readonly destination: string;
  readonly destinationPort: number;
}

export type ProxyHeaderResult =
  /** The bytes so far are a valid beginning; wait for more. */
  | { readonly state: 'incomplete' }
  | { readonly state: 'invalid'; readonly reason: string }
  /**
   * A whole header of `length` bytes. `address` null: the connection's own endpoints stand (v2
   * LOCAL, a load balancer's health check; v1 UNKNOWN; v2 UNSPEC, UDP or UNIX families).
   */
  | { readonly state: 'done'; readonly length: number; readonly address: ProxiedAddress | null };

/** Version 1 is one line of at most 107 bytes, CRLF included (spec §2.1). */
const V1_MAX = 107;
/**
 * The most bytes a version 2 header may take here, TLVs included (nginx's limit too); the spec
 * allows 16 + 65535, but cloud load balancers send a few hundred at most.
 */
export const V2_MAX = 4096;
const V1_PREFIX = 'PROXY ';
const V2_SIGNATURE = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];
// Dotted decimal as inet_pton(AF_INET) takes it: four parts 0-255, no leading zeros.
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const PORT = /^\d{1,5}$/;

const INCOMPLETE: ProxyHeaderResult = { state: 'incomplete' };

function invalid(reason: string): ProxyHeaderResult {
  return { state: 'invalid', reason };
}

/** The header at the start of `bytes` (the first bytes a connection received). Never throws. */
export function parseProxyHeader(bytes: Uint8Array): ProxyHeaderResult {
  if (bytes.length === 0) return INCOMPLETE;
  if (bytes[0] === V1_PREFIX.charCodeAt(0)) return parseV1(bytes);
  if (bytes[0] === V2_SIGNATURE[0]) return parseV2(bytes);
  return invalid('the connection does not start with a PROXY protocol header');
}

function parseV1(bytes: Uint8Array): ProxyHeaderResult {
  const n = Math.min(bytes.length, V1_MAX);
  for (let i = 0; i < Math.min(n, V1_PREFIX.length); i++) {
    if (bytes[i] !== V1_PREFIX.charCodeAt(i)) return invalid('the connection does not start with a PROXY protocol header');
  }
  let end = -1;
  for (let i = 0; i < n; i++) {
    const b = bytes[i]!;
    if (b === 0x0d) {
      if (i + 1 < bytes.length && bytes[i + 1] !== 0x0a) return invalid('version 1 header: CR not followed by LF');
      end = i;
      break;
    }
    // Only printable US-ASCII in the line (addresses, ports, protocol names, single spaces).
    if (b < 0x20 || b > 0x7e) return invalid('version 1 header: a byte that is not printable US-ASCII');
  }
  if (end === -1) return bytes.length >= V1_MAX ? invalid(`version 1 header: no CRLF within ${V1_MAX} bytes`) : INCOMPLETE;
  if (end + 1 >= bytes.length) return INCOMPLETE;
  const length = end + 2;
  if (length > V1_MAX) return invalid(`version 1 header: no CRLF within ${V1_MAX} bytes`);
  const line = String.fromCharCode(...bytes.subarray(0, end));
  const parts = line.split(' ');
  // "PROXY UNKNOWN" may be followed by anything up to CRLF, which the receiver ignores (§2.1).
  if (parts[1] === 'UNKNOWN') return { state: 'done', length, address: null };
  if (parts.length !== 6) return invalid('version 1 header: expected PROXY, TCP4 or TCP6, two addresses and two ports, separated by single spaces');
  const [, protocol, src, dst, sport, dport] = parts as [string, string, string, string, string, string];
  if (protocol !== 'TCP4' && protocol !== 'TCP6') return invalid(`version 1 header: protocol ${JSON.stringify(protocol)} is not TCP4, TCP6 or UNKNOWN`);
  const address = (text: string): string | null => {
    if (protocol === 'TCP4') return IPV4.test(text) ? text : null;
    const ip = text.includes(':') ? parseIp(text) : null;
    return ip === null ? null : formatIp(ip);
  };
  const port = (text: string): number | null => (PORT.test(text) && Number(text) <= 65535 ? Number(text) : null);
  const source = address(src);
  const destination = address(dst);
  if (source === null || destination === null) return invalid(`version 1 header: an address is not an ${protocol === 'TCP4' ? 'IPv4' : 'IPv6'} address`);
  const sourcePort = port(sport);
  const destinationPort = port(dport);
  if (sourcePort === null || destinationPort === null) return invalid('version 1 header: a port is not a number 0-65535');
  return { state: 'done', length, address: { source, sourcePort, destination, destinationPort } };
}

function parseV2(bytes: Uint8Array): ProxyHeaderResult {
  for (let i = 0; i < Math.min(bytes.length, V2_SIGNATURE.length); i++) {
    if (bytes[i] !== V2_SIGNATURE[i]) return invalid('the connection does not start with a PROXY protocol header');
  }
  if (bytes.length < 16) return INCOMPLETE;
  const version = bytes[12]! >> 4;
  const command = bytes[12]! & 0x0f;
  if (version !== 2) return invalid(`version 2 header: version ${version} in the version/command byte`);
  if (command > 1) return invalid(`version 2 header: command ${command} is neither LOCAL (0) nor PROXY (1)`);
  const length = 16 + ((bytes[14]! << 8) | bytes[15]!);
  if (length > V2_MAX) return invalid(`version 2 header: ${length} bytes, more than ${V2_MAX}`);
  if (bytes.length < length) return INCOMPLETE;
  // LOCAL: the load balancer's own connection (health checks); the address block is ignored.
  if (command === 0) return { state: 'done', length, address: null };
  const familyTransport = bytes[13]!;
  // The only combinations the spec defines (§2.2); others must be refused.
  if (![0x00, 0x11, 0x12, 0x21, 0x22, 0x31, 0x32].includes(familyTransport)) return invalid(`version 2 header: address family and protocol byte 0x${familyTransport.toString(16).padStart(2, '0')} is not defined`);
  // UNSPEC, UDP and UNIX: nothing a TCP client address can be taken from; the connection's own stands.
  if (familyTransport !== 0x11 && familyTransport !== 0x21) return { state: 'done', length, address: null };
  const v4 = familyTransport === 0x11;
  const size = v4 ? 12 : 36;
  if (length - 16 < size) return invalid(`version 2 header: ${length - 16} address bytes, fewer than the ${size} of ${v4 ? 'TCP over IPv4' : 'TCP over IPv6'}`);
  const ipAt = (at: number): string => {
    if (v4) return Array.from(bytes.subarray(at, at + 4)).join('.');
    return formatIp(Array.from(bytes.subarray(at, at + 16)));
  };
  const portAt = (at: number): number => (bytes[at]! << 8) | bytes[at + 1]!;
  const addrLen = v4 ? 4 : 16;
  return {
    state: 'done',
    length,
    address: { source: ipAt(16), destination: ipAt(16 + addrLen), sourcePort: portAt(16 + 2 * addrLen), destinationPort: portAt(18 + 2 * addrLen) },
  };
}
