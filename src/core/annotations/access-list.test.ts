import { describe, expect, it } from 'vitest';
import { annotated, fuzzAnnotation } from '../../../test/support/annotation-fuzz.ts';
import { readAccessList } from './access-list.ts';

const N = 'nginx.ingress.kubernetes.io/';
const G = 'gatehouse.io/';

describe('access-list family', () => {
  it('is absent when no list is set', () => {
    expect(readAccessList(annotated({}))).toEqual({ ok: true, value: undefined });
  });

  it('reads allow and deny lists of IPv4 and IPv6 addresses and CIDRs, entries trimmed', () => {
    const r = readAccessList(annotated({ [`${N}allowlist-source-range`]: '10.0.0.0/8, 192.168.1.7 ,2001:db8::/32,::ffff:127.0.0.1', [`${N}denylist-source-range`]: '10.1.0.0/16' }));
    expect(r).toEqual({ ok: true, value: { allow: ['10.0.0.0/8', '192.168.1.7', '2001:db8::/32', '::ffff:127.0.0.1'], deny: ['10.1.0.0/16'] } });
  });

  it('reads whitelist-source-range, the older name, when allowlist-source-range is not set', () => {
    expect(readAccessList(annotated({ [`${N}whitelist-source-range`]: '1.2.3.4/32' }))).toEqual({ ok: true, value: { allow: ['1.2.3.4/32'] } });
  });

  it('takes the ConfigMap\'s lists where the Ingress sets none, each list on its own (ingress-nginx\'s parsers fall back per list)', () => {
    const defaults = { allow: ['10.0.0.0/8'], deny: ['10.9.0.0/16'] };
    expect(readAccessList(annotated({}), defaults)).toEqual({ ok: true, value: { allow: ['10.0.0.0/8'], deny: ['10.9.0.0/16'] } });
    expect(readAccessList(annotated({ [`${N}whitelist-source-range`]: '192.0.2.0/24' }), defaults)).toEqual({ ok: true, value: { allow: ['192.0.2.0/24'], deny: ['10.9.0.0/16'] } });
    expect(readAccessList(annotated({ [`${G}denylist-source-range`]: '192.0.2.9' }), defaults)).toEqual({ ok: true, value: { allow: ['10.0.0.0/8'], deny: ['192.0.2.9'] } });
    expect(readAccessList(annotated({}), { deny: ['10.9.0.0/16'] })).toEqual({ ok: true, value: { deny: ['10.9.0.0/16'] } });
    // A bad annotation is still refused, not replaced by the default.
    expect(readAccessList(annotated({ [`${N}allowlist-source-range`]: 'nope' }), defaults).ok).toBe(false);
  });

  it('takes allowlist-source-range over whitelist-source-range, as ingress-nginx (the alias only when it is empty)', () => {
    expect(readAccessList(annotated({ [`${N}whitelist-source-range`]: '1.1.1.1', [`${N}allowlist-source-range`]: '2.2.2.2' }))).toEqual({ ok: true, value: { allow: ['2.2.2.2'] } });
    expect(readAccessList(annotated({ [`${N}whitelist-source-range`]: '1.1.1.1', [`${N}allowlist-source-range`]: '' }))).toEqual({ ok: true, value: { allow: ['1.1.1.1'] } });
    // Ours over ingress-nginx's prefix, for the same name.
    expect(readAccessList(annotated({ [`${G}allowlist-source-range`]: '3.3.3.3', [`${N}allowlist-source-range`]: '2.2.2.2' }))).toEqual({ ok: true, value: { allow: ['3.3.3.3'] } });
  });

  it.each([
    ['', '"" is not an IP address or CIDR range'],
    ['10.0.0.0/8,', '"" is not an IP address or CIDR range'],
    ['10.0.0.0/33', '"10.0.0.0/33" is not'],
    ['2001:db8::/129', '"2001:db8::/129" is not'],
    ['example.com', '"example.com" is not'],
    ['10.0.0.1 10.0.0.2', '"10.0.0.1 10.0.0.2" is not'],
    ['1.2.3.4/+8', '"1.2.3.4/+8" is not'],
  ])('refuses %j, naming the annotation, the entry and what was expected', (value, why) => {
    for (const name of ['allowlist-source-range', 'whitelist-source-range', 'denylist-source-range']) {
      const r = readAccessList(annotated({ [`${N}${name}`]: value }));
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.problems).toHaveLength(1);
        expect(r.problems[0]!.key).toBe(`${N}${name}`);
        expect(r.problems[0]!.message).toContain(`${N}${name}: ${why}`);
        expect(r.problems[0]!.message).toContain('expected a comma-separated list of IP addresses and CIDR ranges');
      }
    }
  });

  it('refuses an empty allowlist-source-range when there is no whitelist-source-range to fall back on (no silent "allow all")', () => {
    expect(readAccessList(annotated({ [`${N}allowlist-source-range`]: '' })).ok).toBe(false);
  });

  it('refuses a list of more than 1000 entries', () => {
    const r = readAccessList(annotated({ [`${N}denylist-source-range`]: Array.from({ length: 1001 }, (_, i) => `10.0.${i >> 8}.${i & 255}`).join(',') }));
    expect(r).toEqual({ ok: false, problems: [{ key: `${N}denylist-source-range`, message: expect.stringContaining('1001 entries; at most 1000') }] });
  });

  it('never throws on random values, and yields no control characters (fast-check)', () => {
    fuzzAnnotation([`${N}allowlist-source-range`, `${N}whitelist-source-range`, `${G}denylist-source-range`], readAccessList);
  });
});
