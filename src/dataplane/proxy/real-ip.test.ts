import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { RealIpPolicy } from '../../core/model.ts';
import type { ProxiedAddress } from '../proxy-protocol.ts';
import type { Forwarded } from './headers.ts';
import { RealIp } from './real-ip.ts';

const BASE: Forwarded = { clientIp: 'peer', forwardedFor: 'peer', proto: 'http', host: 'a.test', port: 8080 };
const UFH: RealIpPolicy = { trusted: ['0.0.0.0/0'], header: 'x-forwarded-for', forwardedHeaders: true, fullForwardedFor: false };

function client(policy: Partial<RealIpPolicy>, peer: string, headers: Record<string, string | string[]> = {}, proxied?: ProxiedAddress): string {
  return new RealIp({ ...UFH, ...policy }).forwarded(peer, proxied, headers, { ...BASE, clientIp: peer, forwardedFor: peer }).clientIp;
}

function pp(source: string): ProxiedAddress {
  return { source, sourcePort: 40000, destination: '10.9.9.9', destinationPort: 443 };
}

describe('RealIp: the client address (nginx real_ip, real_ip_recursive on)', () => {
  it('with the default 0.0.0.0/0 every IPv4 address is trusted: the leftmost of X-Forwarded-For is the client', () => {
    expect(client({}, '127.0.0.1', { 'x-forwarded-for': '203.0.113.7' })).toBe('203.0.113.7');
    expect(client({}, '127.0.0.1', { 'x-forwarded-for': '198.51.100.1, 203.0.113.7' })).toBe('198.51.100.1');
    expect(client({}, '127.0.0.1')).toBe('127.0.0.1');
  });

  it('right to left, the first address outside proxy-real-ip-cidr is the client', () => {
    const trusted = ['10.0.0.0/8'];
    expect(client({ trusted }, '10.0.0.1', { 'x-forwarded-for': '198.51.100.1, 203.0.113.7, 10.0.0.5' })).toBe('203.0.113.7');
    expect(client({ trusted }, '10.0.0.1', { 'x-forwarded-for': '10.1.1.1, 10.0.0.5' })).toBe('10.1.1.1');
  });

  it('a peer outside proxy-real-ip-cidr is the client, whatever it sends', () => {
    expect(client({ trusted: ['10.0.0.0/8'] }, '192.0.2.1', { 'x-forwarded-for': '203.0.113.7' })).toBe('192.0.2.1');
    expect(client({ trusted: [] }, '127.0.0.1', { 'x-forwarded-for': '203.0.113.7' })).toBe('127.0.0.1');
    // The default range is IPv4 only (ingress-nginx's): an IPv6 peer is not trusted by it.
    expect(client({}, '::1', { 'x-forwarded-for': '203.0.113.7' })).toBe('::1');
    expect(client({ trusted: ['::1/128'] }, '::1', { 'x-forwarded-for': '203.0.113.7' })).toBe('203.0.113.7');
  });

  it('an element that is no address stops the walk at the last trusted one (ngx_http_get_forwarded_addr)', () => {
    expect(client({ trusted: ['10.0.0.0/8'] }, '10.0.0.1', { 'x-forwarded-for': '203.0.113.7, unknown, 10.0.0.5' })).toBe('10.0.0.5');
    expect(client({ trusted: ['10.0.0.0/8'] }, '10.0.0.1', { 'x-forwarded-for': 'garbage' })).toBe('10.0.0.1');
  });

  it('reads addresses with ports, bracketed IPv6, spaces and empty elements, and prints them normalised', () => {
    expect(client({}, '127.0.0.1', { 'x-forwarded-for': '203.0.113.7:5678' })).toBe('203.0.113.7');
    expect(client({ trusted: ['::/0'] }, '::1', { 'x-forwarded-for': '[2001:DB8::0:1]:443' })).toBe('2001:db8::1');
    expect(client({ trusted: ['::/0'] }, '::1', { 'x-forwarded-for': '[2001:db8::1]' })).toBe('2001:db8::1');
    expect(client({ trusted: ['::/0'] }, '::1', { 'x-forwarded-for': '2001:db8::2' })).toBe('2001:db8::2');
    expect(client({ trusted: ['10.0.0.0/8'] }, '10.0.0.1', { 'x-forwarded-for': ' 203.0.113.7 ,, 10.0.0.5 , ' })).toBe('203.0.113.7');
    expect(client({ trusted: ['10.0.0.0/8'] }, '10.0.0.1', { 'x-forwarded-for': '::ffff:203.0.113.7' })).toBe('203.0.113.7');
    for (const bad of ['[::1', '[::1]x', '1.2.3.4:', '1.2.3.4:123456', '[1.2.3.4]']) expect(client({ trusted: ['10.0.0.0/8'] }, '10.0.0.1', { 'x-forwarded-for': bad }), bad).toBe('10.0.0.1');
  });

  it('repeated header lines count as one list, in order', () => {
    expect(client({ trusted: ['10.0.0.0/8'] }, '10.0.0.1', { 'x-forwarded-for': ['203.0.113.7', '10.0.0.9'] })).toBe('203.0.113.7');
  });

  it('forwarded-for-header names another header; X-Forwarded-For is then not read', () => {
    const policy = { header: 'cf-connecting-ip' };
    expect(client(policy, '127.0.0.1', { 'cf-connecting-ip': '203.0.113.7', 'x-forwarded-for': '198.51.100.1' })).toBe('203.0.113.7');
    expect(client(policy, '127.0.0.1', { 'x-forwarded-for': '198.51.100.1' })).toBe('127.0.0.1');
  });

  it('use-proxy-protocol: the PROXY source is the client when the TCP peer is trusted', () => {
    const only = { header: null, forwardedHeaders: false };
    expect(client(only, '10.0.0.1', { 'x-forwarded-for': '198.51.100.1' }, pp('203.0.113.7'))).toBe('203.0.113.7');
    expect(client({ ...only, trusted: ['10.0.0.0/8'] }, '192.0.2.1', {}, pp('203.0.113.7'))).toBe('192.0.2.1');
    // LOCAL or UNKNOWN: no PROXY address, the TCP peer stands.
    expect(client(only, '10.0.0.1', {})).toBe('10.0.0.1');
  });

  it('use-proxy-protocol with use-forwarded-headers: X-Forwarded-For is read when the PROXY source is trusted too', () => {
    const trusted = ['10.0.0.0/8', '192.0.2.0/24'];
    expect(client({ trusted }, '10.0.0.1', { 'x-forwarded-for': '203.0.113.7' }, pp('192.0.2.5'))).toBe('203.0.113.7');
    expect(client({ trusted }, '10.0.0.1', { 'x-forwarded-for': '203.0.113.7' }, pp('198.51.100.1'))).toBe('198.51.100.1');
  });
});

describe('RealIp: what goes upstream with use-forwarded-headers', () => {
  const fwd = (policy: Partial<RealIpPolicy>, peer: string, headers: Record<string, string>, proxied?: ProxiedAddress) =>
    new RealIp({ ...UFH, ...policy }).forwarded(peer, proxied, headers, { ...BASE, clientIp: peer, forwardedFor: peer });

  it('X-Forwarded-Proto, -Host and -Port from a trusted peer are passed on', () => {
    expect(fwd({}, '10.0.0.1', { 'x-forwarded-proto': 'HTTPS', 'x-forwarded-host': 'shop.example, inner', 'x-forwarded-port': '443' }))
      .toMatchObject({ proto: 'https', host: 'shop.example', port: 443 });
  });

  it('from a peer outside the range, or without use-forwarded-headers (enable-real-ip), they are not', () => {
    const headers = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example', 'x-forwarded-port': '443', 'x-forwarded-for': '203.0.113.7' };
    expect(fwd({ trusted: ['10.0.0.0/8'] }, '192.0.2.1', headers)).toMatchObject({ proto: 'http', host: 'a.test', port: 8080, clientIp: '192.0.2.1' });
    expect(fwd({ forwardedHeaders: false }, '10.0.0.1', headers)).toMatchObject({ proto: 'http', host: 'a.test', port: 8080, clientIp: '203.0.113.7' });
  });

  it('values that are not a scheme or a port are ignored', () => {
    expect(fwd({}, '10.0.0.1', { 'x-forwarded-proto': 'gopher', 'x-forwarded-port': '99999', 'x-forwarded-host': ' , x' })).toMatchObject({ proto: 'http', port: 8080, host: 'a.test' });
  });

  it('X-Forwarded-For is the client; with compute-full-forwarded-for the incoming chain with the peer appended', () => {
    expect(fwd({}, '10.0.0.1', { 'x-forwarded-for': '203.0.113.7' })).toMatchObject({ clientIp: '203.0.113.7', forwardedFor: '203.0.113.7' });
    const full = { fullForwardedFor: true, trusted: ['10.0.0.0/8'] };
    expect(fwd(full, '10.0.0.1', { 'x-forwarded-for': '198.51.100.1, 203.0.113.7' })).toMatchObject({ clientIp: '203.0.113.7', forwardedFor: '198.51.100.1, 203.0.113.7, 10.0.0.1' });
    expect(fwd(full, '10.0.0.1', {})).toMatchObject({ forwardedFor: '10.0.0.1' });
    // Appended whether the peer is trusted or not: the upstream decides (ingress-nginx's doc).
    expect(fwd(full, '192.0.2.1', { 'x-forwarded-for': '203.0.113.7' })).toMatchObject({ clientIp: '192.0.2.1', forwardedFor: '203.0.113.7, 192.0.2.1' });
    // Under use-proxy-protocol the PROXY source is what is appended.
    expect(fwd(full, '10.0.0.1', { 'x-forwarded-for': '203.0.113.7' }, pp('10.2.2.2'))).toMatchObject({ forwardedFor: '203.0.113.7, 10.2.2.2' });
  });
});

describe('RealIp: property', () => {
  it('random headers never throw; the client is the peer or an address, printed plainly', () => {
    const policy = fc.record({ trusted: fc.constantFrom(['0.0.0.0/0'], ['10.0.0.0/8', '::/0'], []), header: fc.constantFrom('x-forwarded-for', null), forwardedHeaders: fc.boolean(), fullForwardedFor: fc.boolean() });
    const value = fc.oneof(fc.string(), fc.array(fc.oneof(fc.ipV4(), fc.ipV6(), fc.string())).map((a) => a.join(', ')));
    fc.assert(fc.property(policy, value, value, value, (p, xff, proto, port) => {
      const out = new RealIp(p).forwarded('10.0.0.1', undefined, { 'x-forwarded-for': xff, 'x-forwarded-proto': proto, 'x-forwarded-port': port }, { ...BASE, clientIp: '10.0.0.1', forwardedFor: '10.0.0.1' });
      expect(out.clientIp).toMatch(/^[0-9a-f.:]+$/);
      expect(['http', 'https']).toContain(out.proto);
      expect(out.port >= 0 && out.port <= 65535).toBe(true);
    }), { numRuns: 1000 });
  });
});
