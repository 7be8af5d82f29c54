import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../snapshot.ts';
import { readRedirect, wwwAlias } from './redirect.ts';

function ing(annotations: Record<string, string> = {}): KubeObject {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'web', namespace: 'shop', annotations } };
}
const N = 'nginx.ingress.kubernetes.io/';

describe('redirect family', () => {
  it('has no policy without annotations', () => {
    expect(readRedirect(ing())).toEqual({ ok: true, value: { fromToWww: false } });
  });

  it('reads permanent-redirect with code 301 by default, or the code given', () => {
    expect(readRedirect(ing({ [`${N}permanent-redirect`]: 'https://new.example.com/x?a=1&b=2' }))).toEqual({ ok: true, value: { redirect: { to: { url: 'https://new.example.com/x?a=1&b=2', code: 301 } }, fromToWww: false } });
    expect(readRedirect(ing({ [`${N}permanent-redirect`]: 'http://a.test', [`${N}permanent-redirect-code`]: '308' }))).toEqual({ ok: true, value: { redirect: { to: { url: 'http://a.test', code: 308 } }, fromToWww: false } });
  });

  it('reads temporal-redirect with code 302 by default; it wins over permanent-redirect (ingress-nginx order)', () => {
    const r = readRedirect(ing({ [`${N}permanent-redirect`]: 'https://p.test', [`gatehouse.io/temporal-redirect`]: 'https://t.test/%7Eu', [`${N}temporal-redirect-code`]: '307' }));
    expect(r).toEqual({ ok: true, value: { redirect: { to: { url: 'https://t.test/%7Eu', code: 307 } }, fromToWww: false } });
    expect(readRedirect(ing({ [`${N}temporal-redirect`]: 'https://t.test' }))).toEqual({ ok: true, value: { redirect: { to: { url: 'https://t.test', code: 302 } }, fromToWww: false } });
  });

  it('reads app-root and from-to-www-redirect', () => {
    expect(readRedirect(ing({ [`${N}app-root`]: '/app/index.html', [`${N}from-to-www-redirect`]: 'true' }))).toEqual({ ok: true, value: { redirect: { appRoot: '/app/index.html' }, fromToWww: true } });
  });

  it.each([
    ['permanent-redirect', 'ftp://x.test'],
    ['permanent-redirect', 'https://x.test/$request_uri'],
    ['permanent-redirect', 'https://x.test/a b'],
    ['permanent-redirect', 'https://x.test/";\nreturn 200'],
    ['permanent-redirect', '/relative'],
    ['temporal-redirect', 'javascript:alert(1)'],
    ['permanent-redirect-code', '200'],
    ['permanent-redirect-code', '309'],
    ['temporal-redirect-code', '308'],
    ['temporal-redirect-code', 'abc'],
    ['app-root', 'app'],
    ['app-root', 'https://x.test/app'],
    ['app-root', '/a b'],
    ['from-to-www-redirect', 'yes'],
  ])('refuses %s %j with a message naming the annotation and the value', (name, value) => {
    const base = name.endsWith('-code') ? { [`${N}${name.replace('-code', '')}`]: 'https://ok.test' } : {};
    const r = readRedirect(ing({ ...base, [`${N}${name}`]: value }));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.problems).toHaveLength(1);
      expect(r.problems[0]!.key).toBe(`${N}${name}`);
      expect(r.problems[0]!.message).toContain(JSON.stringify(value));
    }
  });

  it('never throws, and whatever it accepts holds no control character, space, quote or `$`', () => {
    const names = ['permanent-redirect', 'temporal-redirect', 'permanent-redirect-code', 'temporal-redirect-code', 'app-root', 'from-to-www-redirect'];
    fc.assert(
      fc.property(fc.constantFrom(...names), fc.string({ unit: 'binary' }), (name, value) => {
        const r = readRedirect(ing({ [`${N}${name}`]: value }));
        if (!r.ok) return;
        const text = JSON.stringify(r.value.redirect ?? {});
        expect(JSON.parse(text)).toEqual(r.value.redirect ?? {});
        // eslint-disable-next-line no-control-regex -- control characters are what must never get through
        for (const s of [r.value.redirect?.to?.url, r.value.redirect?.appRoot]) if (s !== undefined) expect(s).not.toMatch(/[\u0000-\u0020"'$<>\\\u007f-\uffff]/);
      }),
    );
  });

  it('names the other host for from-to-www', () => {
    expect(wwwAlias('example.com')).toBe('www.example.com');
    expect(wwwAlias('www.example.com')).toBe('example.com');
    expect(wwwAlias('')).toBeNull();
    expect(wwwAlias('*.example.com')).toBeNull();
  });
});
