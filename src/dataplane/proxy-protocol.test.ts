import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseProxyHeader, V2_MAX, type ProxyHeaderResult } from './proxy-protocol.ts';

const SIGNATURE = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];

function ascii(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

/** A version 2 header: version/command byte, family/protocol byte, then the address block (and TLVs). */
function v2(command: number, familyTransport: number, block: readonly number[]): Uint8Array {
  return Uint8Array.from([...SIGNATURE, 0x20 | command, familyTransport, block.length >> 8, block.length & 0xff, ...block]);
}

const V4_BLOCK = [203, 0, 113, 7, 10, 0, 0, 1, 0xc3, 0x50, 0x01, 0xbb]; // 203.0.113.7:50000 → 10.0.0.1:443
const V6_BLOCK = [
  0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x07, // 2001:db8::7
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, // ::1
  0x04, 0xd2, 0x00, 0x50, // 1234 → 80
];

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

describe('parseProxyHeader, version 1', () => {
  it('TCP4: addresses, ports and the length of the line; what follows is not consumed', () => {
    const header = 'PROXY TCP4 203.0.113.7 10.0.0.1 50000 443\r\n';
    expect(parseProxyHeader(ascii(`${header}GET / HTTP/1.1\r\n`))).toEqual({
      state: 'done', length: header.length, address: { source: '203.0.113.7', sourcePort: 50000, destination: '10.0.0.1', destinationPort: 443 },
    });
  });

  it('TCP6: addresses in their printed form (an IPv4-mapped one as IPv4)', () => {
    expect(parseProxyHeader(ascii('PROXY TCP6 2001:DB8:0:0::7 ::1 1234 80\r\n'))).toEqual({
      state: 'done', length: 40, address: { source: '2001:db8::7', sourcePort: 1234, destination: '::1', destinationPort: 80 },
    });
    expect(parseProxyHeader(ascii('PROXY TCP6 ::ffff:198.51.100.2 ::1 1 2\r\n'))).toMatchObject({ address: { source: '198.51.100.2' } });
  });

  it('UNKNOWN, with or without addresses after it: the connection\'s own endpoints', () => {
    expect(parseProxyHeader(ascii('PROXY UNKNOWN\r\n'))).toEqual({ state: 'done', length: 15, address: null });
    expect(parseProxyHeader(ascii('PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\nrest'))).toEqual({ state: 'done', length: 59, address: null });
  });

  it('the longest header (107 bytes) is taken', () => {
    const max = 'PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n';
    expect(max.length).toBe(104);
    const unknown = `PROXY UNKNOWN ${'x'.repeat(107 - 16)}\r\n`;
    expect(unknown.length).toBe(107);
    expect(parseProxyHeader(ascii(max))).toMatchObject({ state: 'done', length: 104 });
    expect(parseProxyHeader(ascii(unknown))).toMatchObject({ state: 'done', length: 107 });
    expect(parseProxyHeader(ascii(`PROXY UNKNOWN ${'x'.repeat(107 - 15)}\r\n`))).toEqual({ state: 'invalid', reason: 'version 1 header: no CRLF within 107 bytes' });
  });

  it('every prefix of a valid header is incomplete', () => {
    const header = ascii('PROXY TCP4 203.0.113.7 10.0.0.1 50000 443\r\n');
    for (let i = 0; i < header.length; i++) expect(parseProxyHeader(header.subarray(0, i)), String(i)).toEqual({ state: 'incomplete' });
  });

  it.each([
    ['an HTTP request', 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', /does not start with a PROXY protocol header/],
    ['a TLS ClientHello', '\u0016\u0003\u0001\u0002\u0000\u0001', /does not start with a PROXY protocol header/],
    ['lower case', 'proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n', /does not start/],
    ['PROXY without its space', 'PROXYTCP4 1.2.3.4 5.6.7.8 1 2\r\n', /does not start/],
    ['a bare LF', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n', /not printable/],
    ['CR without LF', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX', /CR not followed by LF/],
    ['two spaces', 'PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n', /separated by single spaces/],
    ['a missing port', 'PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n', /two addresses and two ports/],
    ['another protocol', 'PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n', /protocol "UDP4" is not TCP4, TCP6 or UNKNOWN/],
    ['IPv6 under TCP4', 'PROXY TCP4 ::1 ::1 1 2\r\n', /is not an IPv4 address/],
    ['IPv4 under TCP6', 'PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n', /is not an IPv6 address/],
    ['a leading zero', 'PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n', /is not an IPv4 address/],
    ['an octet above 255', 'PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n', /is not an IPv4 address/],
    ['a host name', 'PROXY TCP4 lb.example 5.6.7.8 1 2\r\n', /is not an IPv4 address/],
    ['a port above 65535', 'PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n', /a port is not a number 0-65535/],
    ['a signed port', 'PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n', /a port is not/],
    ['a NUL', 'PROXY TCP4 1.2.3.4\u0000 5.6.7.8 1 2\r\n', /not printable/],
    ['a byte above 0x7e', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2\u00ff\r\n', /not printable/],
    ['no CRLF within 107 bytes', `PROXY TCP4 ${'1'.repeat(120)}`, /no CRLF within 107 bytes/],
  ])('refuses %s', (_what, text, reason) => {
    const r = parseProxyHeader(ascii(text));
    expect(r.state).toBe('invalid');
    expect((r as { reason: string }).reason).toMatch(reason);
  });

  it('refuses a non-PROXY first line as soon as its first bytes show it', () => {
    expect(parseProxyHeader(ascii('G')).state).toBe('invalid');
    expect(parseProxyHeader(ascii('PRI')).state).toBe('invalid');
    expect(parseProxyHeader(ascii('PROX')).state).toBe('incomplete');
  });
});

describe('parseProxyHeader, version 2', () => {
  it('PROXY TCP over IPv4', () => {
    expect(parseProxyHeader(concat(v2(1, 0x11, V4_BLOCK), ascii('GET /')))).toEqual({
      state: 'done', length: 28, address: { source: '203.0.113.7', sourcePort: 50000, destination: '10.0.0.1', destinationPort: 443 },
    });
  });

  it('PROXY TCP over IPv6', () => {
    expect(parseProxyHeader(v2(1, 0x21, V6_BLOCK))).toEqual({
      state: 'done', length: 52, address: { source: '2001:db8::7', sourcePort: 1234, destination: '::1', destinationPort: 80 },
    });
  });

  it('TLVs after the addresses (AWS VPC endpoint id, ALPN) are skipped with the header', () => {
    const tlvs = [0xea, 0x00, 0x05, 0x01, 0x76, 0x70, 0x63, 0x65, 0x01, 0x00, 0x02, 0x68, 0x32];
    expect(parseProxyHeader(concat(v2(1, 0x11, [...V4_BLOCK, ...tlvs]), ascii('rest')))).toMatchObject({ state: 'done', length: 16 + 12 + tlvs.length, address: { source: '203.0.113.7' } });
  });

  it('LOCAL (a health check from the load balancer): the connection\'s own endpoints, whatever the block', () => {
    expect(parseProxyHeader(v2(0, 0x00, []))).toEqual({ state: 'done', length: 16, address: null });
    expect(parseProxyHeader(v2(0, 0x11, V4_BLOCK))).toEqual({ state: 'done', length: 28, address: null });
  });

  it.each([
    ['UNSPEC', 0x00], ['UDP over IPv4', 0x12], ['UDP over IPv6', 0x22], ['UNIX stream', 0x31], ['UNIX datagram', 0x32],
  ])('PROXY with %s: the connection\'s own endpoints', (_what, ft) => {
    expect(parseProxyHeader(v2(1, ft, new Array<number>(216).fill(0)))).toEqual({ state: 'done', length: 232, address: null });
  });

  it('every prefix of a valid header is incomplete', () => {
    const header = v2(1, 0x21, V6_BLOCK);
    for (let i = 0; i < header.length; i++) expect(parseProxyHeader(header.subarray(0, i)), String(i)).toEqual({ state: 'incomplete' });
  });

  it('refuses a broken signature at its first wrong byte', () => {
    expect(parseProxyHeader(Uint8Array.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0b]))).toMatchObject({ state: 'invalid' });
    expect(parseProxyHeader(Uint8Array.from([0x0d, 0x0a, 0x0a]))).toMatchObject({ state: 'invalid' });
  });

  it.each([
    ['version 1 in the version byte', Uint8Array.from([...SIGNATURE, 0x11, 0x11, 0, 12, ...V4_BLOCK]), /version 1 in the version\/command byte/],
    ['command 2', Uint8Array.from([...SIGNATURE, 0x22, 0x11, 0, 12, ...V4_BLOCK]), /command 2 is neither LOCAL \(0\) nor PROXY \(1\)/],
    ['family 4', v2(1, 0x41, V4_BLOCK), /byte 0x41 is not defined/],
    ['transport 3', v2(1, 0x13, V4_BLOCK), /byte 0x13 is not defined/],
    ['an IPv4 block too short', v2(1, 0x11, V4_BLOCK.slice(0, 11)), /11 address bytes, fewer than the 12 of TCP over IPv4/],
    ['an IPv6 block too short', v2(1, 0x21, V4_BLOCK), /12 address bytes, fewer than the 36 of TCP over IPv6/],
    ['oversize', Uint8Array.from([...SIGNATURE, 0x21, 0x11, 0xff, 0xff]), new RegExp(`65551 bytes, more than ${V2_MAX}`)],
  ])('refuses %s', (_what, bytes, reason) => {
    const r = parseProxyHeader(bytes);
    expect(r.state).toBe('invalid');
    expect((r as { reason: string }).reason).toMatch(reason);
  });

  it('an oversize length is refused once the length is known, before the bytes arrive', () => {
    expect(parseProxyHeader(Uint8Array.from([...SIGNATURE, 0x21, 0x11, (V2_MAX - 15) >> 8, (V2_MAX - 15) & 0xff])).state).toBe('invalid');
    expect(parseProxyHeader(Uint8Array.from([...SIGNATURE, 0x21, 0x11, (V2_MAX - 16) >> 8, (V2_MAX - 16) & 0xff])).state).toBe('incomplete');
  });
});

describe('parseProxyHeader, properties', () => {
  const check = (r: ProxyHeaderResult, input: Uint8Array) => {
    expect(['incomplete', 'invalid', 'done']).toContain(r.state);
    if (r.state === 'done') {
      expect(r.length).toBeGreaterThan(0);
      expect(r.length).toBeLessThanOrEqual(Math.min(input.length, V2_MAX));
      if (r.address !== null) {
        for (const a of [r.address.source, r.address.destination]) expect(a).toMatch(/^[0-9a-f.:]+$/);
        for (const p of [r.address.sourcePort, r.address.destinationPort]) expect(p >= 0 && p <= 65535).toBe(true);
      }
    }
  };

  it('random bytes never throw, and a result is always well formed', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => check(parseProxyHeader(bytes), bytes)), { numRuns: 2000 });
  });

  it('random bytes after the signatures and prefixes (where parsing goes deep) never throw', () => {
    const head = fc.constantFrom(Uint8Array.from(SIGNATURE), ascii('PROXY '), ascii('PROXY TCP4 '), ascii('PROXY TCP6 '), Uint8Array.from([...SIGNATURE, 0x21]));
    fc.assert(fc.property(head, fc.uint8Array({ maxLength: 200 }), (h, tail) => {
      const bytes = concat(h, tail);
      check(parseProxyHeader(bytes), bytes);
    }), { numRuns: 2000 });
  });

  it('any valid TCP4 line is read back exactly, whatever follows it', () => {
    const octet = fc.integer({ min: 0, max: 255 });
    const ip = fc.tuple(octet, octet, octet, octet).map((o) => o.join('.'));
    const port = fc.integer({ min: 0, max: 65535 });
    fc.assert(fc.property(ip, ip, port, port, fc.uint8Array({ maxLength: 50 }), (src, dst, sp, dp, rest) => {
      const line = `PROXY TCP4 ${src} ${dst} ${sp} ${dp}\r\n`;
      expect(parseProxyHeader(concat(ascii(line), rest))).toEqual({ state: 'done', length: line.length, address: { source: src, sourcePort: sp, destination: dst, destinationPort: dp } });
    }));
  });
});
