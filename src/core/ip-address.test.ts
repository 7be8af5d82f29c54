import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { endsInANumber, formatIp, parseIp, specialUse, type IpBytes } from './ip-address.ts';

/** Dotted IPv4 of an IPv4-mapped address, else colon-separated hex groups (no compression). */
function show(ip: IpBytes | null): string | null {
  if (ip === null) return null;
  if (ip.slice(0, 10).every((b) => b === 0) && ip[10] === 0xff && ip[11] === 0xff) return ip.slice(12).join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((ip[i]! << 8) | ip[i + 1]!).toString(16));
  return groups.join(':');
}

describe('parseIp, dotted IPv4 (Go net.ParseIP as Kubernetes reads an Ingress host)', () => {
  it.each([
    ['10.0.0.1', '10.0.0.1'],
    ['192.168.1.1', '192.168.1.1'],
    ['255.255.255.255', '255.255.255.255'],
    // ParseIPSloppy keeps Go's old parser: leading zeros are decimal, not octal.
    ['010.000.000.001', '10.0.0.1'],
  ])('reads %j as %s', (text, want) => {
    expect(show(parseIp(text))).toBe(want);
  });

  it.each(['1.2.3.256', '127.1', '2130706433', '0x7f.0.0.1', '1.2.3.4.', '1.2.3', '1.2.3.4.5', '1..2.3', '', 'a.b.c.d', '+1.2.3.4', ' 1.2.3.4'])(
    'does not read %j as an address', (text) => {
      expect(parseIp(text)).toBeNull();
    },
  );
});

describe('parseIp, URL IPv4 (what undici and getaddrinfo connect to)', () => {
  it.each([
    ['127.0.0.1', '127.0.0.1'],
    ['127.1', '127.0.0.1'],
    ['127.0.1', '127.0.0.1'],
    ['0x7f.1', '127.0.0.1'],
    ['0X7F.0.0.1', '127.0.0.1'],
    ['0177.0.0.1', '127.0.0.1'],
    ['2130706433', '127.0.0.1'],
    ['0x7f000001', '127.0.0.1'],
    ['127.0.0.1.', '127.0.0.1'],
    ['0', '0.0.0.0'],
    ['0x', '0.0.0.0'],
    ['010.000.000.001', '8.0.0.1'],
    ['4294967295', '255.255.255.255'],
    ['1.16777215', '1.255.255.255'],
  ])('reads %j as %s', (text, want) => {
    expect(show(parseIp(text, 'url'))).toBe(want);
  });

  it.each(['4294967296', '1.16777216', '256.0.0.1', '08.0.0.1', '1.2.3.4.5', '1.2.3.4..', '.1.2.3', 'foo.1', 'example.com'])(
    'does not read %j as an address', (text) => {
      expect(parseIp(text, 'url')).toBeNull();
    },
  );

  // The WHATWG URL parser (Node's global URL) is the reference: for every name it reads as
  // IPv4 we must read the same address, and where it refuses the host we must not read one.
  it.each([
    '127.0.0.1', '127.1', '127.0.1', '0x7f.1', '0x7F.0x0.0.01', '0177.1', '017700000001', '2130706433', '0x7f000001',
    '127.0.0.1.', '0', '0x', '00', '0.0', '169.254.43518', '169.16689662', '0xa9fea9fe', '1.2.3.4', '255.255.255.255',
    '4294967295', '4294967296', '256.1', '1.256.1', '08', '09.1', '0x1g', '1.2.3.4.5', '999.0.0.1', 'foo.08', 'foo.0x1',
  ])('agrees with the URL parser on %j', (text) => {
    let host: string | null;
    try {
      host = new URL(`http://${text}/`).hostname;
    } catch {
      host = null;
    }
    const ours = show(parseIp(text, 'url'));
    if (ours === null) expect(host === null || !/^[0-9.]+$/.test(host)).toBe(true);
    else expect(ours).toBe(host);
  });
});

describe('parseIp, IPv6', () => {
  it.each([
    ['::', '0:0:0:0:0:0:0:0'],
    ['::1', '0:0:0:0:0:0:0:1'],
    ['fe80::1', 'fe80:0:0:0:0:0:0:1'],
    ['FE80::A:b', 'fe80:0:0:0:0:0:a:b'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ['2001:db8::', '2001:db8:0:0:0:0:0:0'],
    ['::ffff:127.0.0.1', '127.0.0.1'],
    ['::ffff:7f00:1', '127.0.0.1'],
    ['::127.0.0.1', '0:0:0:0:0:0:7f00:1'],
    ['64:ff9b::1.2.3.4', '64:ff9b:0:0:0:0:102:304'],
  ])('reads %j as %s', (text, want) => {
    expect(show(parseIp(text))).toBe(want);
    expect(show(parseIp(text, 'url'))).toBe(want);
  });

  it.each([':::', '1::2::3', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', ':1::', '12345::', 'g::1', '::1.2.3', '1.2.3.4::', '::ffff:1.2.3.256', 'fe80::1%eth0', '[::1]'])(
    'does not read %j as an address', (text) => {
      expect(parseIp(text)).toBeNull();
    },
  );
});

describe('specialUse (what Kubernetes ValidateEndpointIP refuses)', () => {
  it.each([
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['::ffff:0.0.0.0', 'unspecified'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['::1', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::127.0.0.1', 'loopback'],
    ['169.254.169.254', 'link-local'],
    ['169.254.0.1', 'link-local'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['fe80::1', 'link-local'],
    ['febf:ffff::1', 'link-local'],
    ['224.0.0.251', 'link-local multicast'],
    ['ff02::1', 'link-local multicast'],
  ])('%s is %s', (text, want) => {
    expect(specialUse(parseIp(text, 'url')!)).toBe(want);
  });

  it.each(['10.0.0.5', '192.168.1.1', '172.16.0.1', '8.8.8.8', '1.0.0.1', '0.0.0.1', '128.0.0.1', '169.253.0.1', '224.0.1.1', '2001:db8::1', 'fec0::1', 'fe7f::1', 'ff05::1', '::2', '::ffff:10.0.0.5'])(
    '%s has none', (text) => {
      expect(specialUse(parseIp(text, 'url')!)).toBeNull();
    },
  );
});

describe('endsInANumber (WHATWG URL host parser)', () => {
  it.each([['1.2.3.4', true], ['foo.08', true], ['foo.0x1f', true], ['foo.0x', true], ['127.0.0.1.', true], ['foo.1a', false], ['example.com', false], ['foo.0xg', false]])(
    '%j: %s', (text, want) => {
      expect(endsInANumber(text)).toBe(want);
    },
  );
});

describe('formatIp (an address as Node prints a peer)', () => {
  it.each([
    ['1.2.3.4', '1.2.3.4'],
    ['::ffff:10.0.0.1', '10.0.0.1'],
    ['010.001.0.1', '10.1.0.1'],
    ['::', '::'],
    ['::1', '::1'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['fe80::', 'fe80::'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ['::1.2.3.4', '::102:304'],
  ])('%s → %s', (text, want) => {
    expect(formatIp(parseIp(text)!)).toBe(want);
  });

  it('prints any IPv6 address as the WHATWG URL serializer does (RFC 5952), and it reads back', () => {
    const group = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff }));
    fc.assert(fc.property(fc.array(group, { minLength: 8, maxLength: 8 }), (groups) => {
      const ip = parseIp(groups.map((g) => g.toString(16)).join(':'))!;
      const text = formatIp(ip);
      expect(parseIp(text)).toEqual(ip);
      if (text.includes(':')) expect(new URL(`http://[${text}]/`).hostname).toBe(`[${text}]`);
    }));
  });
});
