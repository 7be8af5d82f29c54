import { describe, expect, it } from 'vitest';
import type { AccessListPolicy } from '../../core/model.ts';
import type { ProxyRequest, ProxyResponse } from '../proxy/proxy.ts';
import { accessListStep } from './access-list.ts';
import { RequestContext } from './pipeline.ts';

/** The status the step answers for a client at `ip`, or null when it lets the request go on. */
function verdict(policy: AccessListPolicy, ip: string): number | null {
  const ctx = new RequestContext({} as ProxyRequest, {} as ProxyResponse, false, 'http', 'a.test', '/', '/', ip);
  let status: number | null = null;
  ctx.respond = (s) => void (status = s);
  const answered = accessListStep(policy)(ctx);
  expect(answered).toBe(status !== null);
  return status;
}

describe('access-list step', () => {
  it('admits clients inside the allow list, refuses the others with 403', () => {
    const policy = { allow: ['10.0.0.0/8', '2001:db8::/32'] };
    expect(verdict(policy, '10.1.2.3')).toBeNull();
    expect(verdict(policy, '2001:db8::7')).toBeNull();
    expect(verdict(policy, '2001:DB8:0:0::1')).toBeNull();
    expect(verdict(policy, '11.0.0.1')).toBe(403);
    expect(verdict(policy, '2001:db9::1')).toBe(403);
    expect(verdict(policy, '::1')).toBe(403);
  });

  it('refuses clients inside the deny list, first: an address in both lists is refused', () => {
    expect(verdict({ deny: ['192.0.2.0/24'] }, '192.0.2.200')).toBe(403);
    expect(verdict({ deny: ['192.0.2.0/24'] }, '192.0.3.1')).toBeNull();
    expect(verdict({ allow: ['192.0.2.0/24'], deny: ['192.0.2.7'] }, '192.0.2.7')).toBe(403);
    expect(verdict({ allow: ['192.0.2.0/24'], deny: ['192.0.2.7'] }, '192.0.2.8')).toBeNull();
  });

  it('matches IPv6 clients, the loopback and link-local ones with a zone', () => {
    expect(verdict({ allow: ['::1'] }, '::1')).toBeNull();
    expect(verdict({ deny: ['::1/128'] }, '::1')).toBe(403);
    expect(verdict({ allow: ['fe80::/10'] }, 'fe80::1%eth0')).toBeNull();
    expect(verdict({ deny: ['fe80::/10'] }, 'fe80::1%eth0')).toBe(403);
  });

  it('treats an IPv4 client and its IPv4-mapped IPv6 form alike, in either list', () => {
    // Node reports ::ffff:a.b.c.d on dual-stack sockets; clientIp unwraps it, the step takes both.
    for (const ip of ['127.0.0.1', '::ffff:127.0.0.1', '::ffff:7f00:1']) {
      expect(verdict({ allow: ['127.0.0.0/8'] }, ip), ip).toBeNull();
      expect(verdict({ allow: ['::ffff:127.0.0.1'] }, ip), ip).toBeNull();
      expect(verdict({ deny: ['::ffff:127.0.0.0/104'] }, ip), ip).toBe(403);
      expect(verdict({ deny: ['127.0.0.1'] }, ip), ip).toBe(403);
      expect(verdict({ allow: ['::1'] }, ip), ip).toBe(403);
    }
  });

  it('refuses a client whose address does not parse, and lists that do not (a hand-made table) fail closed', () => {
    expect(verdict({ deny: ['10.0.0.0/8'] }, '')).toBe(403);
    expect(verdict({ allow: ['not a range'] }, '10.0.0.1')).toBe(403);
    expect(verdict({ deny: ['not a range'] }, '10.0.0.1')).toBe(403);
  });

  it('parses the client address once per request', () => {
    const ctx = new RequestContext({} as ProxyRequest, {} as ProxyResponse, false, 'http', 'a.test', '/', '/', '::ffff:10.0.0.1');
    const first = ctx.clientAddress();
    expect(first).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1]);
    expect(ctx.clientAddress()).toBe(first);
  });
});
