import { describe, expect, it } from 'vitest';
import { formatCidr, inRanges, parseCidr, parseCidrList } from './cidr.ts';
import { parseIp } from './ip-address.ts';

function within(list: string, ip: string): boolean {
  const ranges = parseCidrList(list);
  if (typeof ranges === 'string') throw new Error(ranges);
  return inRanges(ranges, parseIp(ip)!);
}

describe('CIDR ranges', () => {
  it.each([
    ['10.0.0.0/8', '10.255.1.2', true],
    ['10.0.0.0/8', '11.0.0.1', false],
    ['10.1.2.3/8', '10.9.9.9', true], // host bits masked off, as net.ParseCIDR
    ['192.0.2.7', '192.0.2.7', true],
    ['192.0.2.7', '192.0.2.8', false],
    ['192.0.2.0/25', '192.0.2.127', true],
    ['192.0.2.0/25', '192.0.2.128', false],
    ['0.0.0.0/0', '203.0.113.9', true],
    ['10.0.0.0/8', '::ffff:10.1.1.1', true], // IPv4-mapped IPv6
    ['::ffff:10.0.0.0/104', '10.1.1.1', true],
    ['2001:db8::/32', '2001:db8:ffff::1', true],
    ['2001:db8::/32', '2001:db9::1', false],
    ['2001:db8::/33', '2001:db8:8000::1', false],
    ['::/0', '2001:db8::1', true],
    ['10.0.0.0/8, 2001:db8::/32', '2001:db8::5', true],
    [' 10.0.0.0/8 ,192.168.0.0/16 ', '192.168.3.4', true],
  ] as const)('%s contains %s: %s', (list, ip, want) => {
    expect(within(list, ip)).toBe(want);
  });

  it.each(['10.0.0.0/33', '2001:db8::/129', 'example.com', '10.0.0.0/', '10.0.0/8', '', '10.0.0.0/8,', '10.0.0.0/-1', '1.2.3.4/08x'])('refuses %j', (text) => {
    expect(typeof parseCidrList(text)).toBe('string');
  });

  it('keeps the prefix length in the 128-bit space', () => {
    expect(parseCidr('10.0.0.0/8')?.bits).toBe(104);
    expect(parseCidr('2001:db8::/32')?.bits).toBe(32);
  });
});

describe('formatCidr', () => {
  it.each([
    ['10.1.2.3/8', '10.0.0.0/8'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['192.0.2.7', '192.0.2.7/32'],
    ['2001:DB8::1/32', '2001:db8::/32'],
    ['::/0', '::/0'],
    ['::ffff:10.0.0.0/104', '10.0.0.0/8'],
  ])('%s → %s', (text, want) => {
    expect(formatCidr(parseCidr(text)!)).toBe(want);
    expect(parseCidr(want)).toEqual(parseCidr(text));
  });
});
