import { describe, expect, it } from 'vitest';
import { annotated, expectRefused, fuzzAnnotation } from '../../../test/support/annotation-fuzz.ts';
import { readAffinity } from './affinity.ts';

const N = 'nginx.ingress.kubernetes.io/';
const ON = { [`${N}affinity`]: 'cookie' };

describe('affinity family', () => {
  it('is off unless affinity is cookie', () => {
    expect(readAffinity(annotated({}))).toEqual({ ok: true, value: undefined });
    expect(readAffinity(annotated({ [`${N}session-cookie-name`]: 'X' }))).toEqual({ ok: true, value: undefined });
  });

  it("has ingress-nginx's defaults: balanced, sticky, INGRESSCOOKIE, no attributes set", () => {
    expect(readAffinity(annotated(ON))).toEqual({
      ok: true,
      value: { algorithm: 'cookie', mode: 'balanced', canaryBehavior: 'sticky', changeOnFailure: false, cookie: { name: 'INGRESSCOOKIE', conditionalSameSiteNone: false, secure: false } },
    });
  });

  it('reads every annotation', () => {
    const r = readAffinity(annotated({
      'gatehouse.io/affinity': ' cookie ',
      [`${N}affinity-mode`]: 'persistent',
      [`${N}affinity-canary-behavior`]: 'legacy',
      [`${N}session-cookie-name`]: 'route_1',
      [`${N}session-cookie-path`]: '/app',
      [`${N}session-cookie-domain`]: '.Shop.Example',
      [`${N}session-cookie-samesite`]: 'none',
      [`${N}session-cookie-secure`]: 'true',
      [`${N}session-cookie-max-age`]: '172800',
      [`${N}session-cookie-expires`]: '-1',
      [`${N}session-cookie-conditional-samesite-none`]: 'true',
      [`${N}session-cookie-change-on-failure`]: 'True',
    }));
    expect(r).toEqual({
      ok: true,
      value: {
        algorithm: 'cookie',
        mode: 'persistent',
        canaryBehavior: 'legacy',
        changeOnFailure: true,
        cookie: { name: 'route_1', path: '/app', domain: '.shop.example', sameSite: 'None', conditionalSameSiteNone: true, secure: true, maxAge: 172800, expires: -1 },
      },
    });
  });

  it.each([['Lax', 'Lax'], ['STRICT', 'Strict'], ['None', 'None']])('reads session-cookie-samesite %j as %s', (value, want) => {
    expect(readAffinity(annotated({ ...ON, [`${N}session-cookie-samesite`]: value }))).toMatchObject({ ok: true, value: { cookie: { sameSite: want } } });
  });

  it.each([
    ['affinity', 'ip', 'is not one of "cookie"'],
    ['affinity', 'Cookie', 'is not one of "cookie"'],
    ['affinity-mode', 'sticky', 'is not one of "balanced", "persistent"'],
    ['affinity-canary-behavior', 'always', 'is not one of "sticky", "legacy"'],
    ['session-cookie-name', '', 'is not a cookie name'],
    ['session-cookie-name', 'a b', 'is not a cookie name'],
    ['session-cookie-name', 'a=b', 'is not a cookie name'],
    ['session-cookie-name', 'a;Path=/', 'is not a cookie name'],
    ['session-cookie-path', 'app', 'is not a cookie path'],
    ['session-cookie-path', '/a;Domain=evil', 'is not a cookie path'],
    ['session-cookie-path', '/a b', 'is not a cookie path'],
    ['session-cookie-domain', 'shop example', 'is not a domain name'],
    ['session-cookie-domain', 'a..b', 'is not a domain name'],
    ['session-cookie-samesite', 'always', 'is not a SameSite value ("None", "Lax" or "Strict")'],
    ['session-cookie-secure', 'on', 'is not a boolean'],
    ['session-cookie-change-on-failure', 'yes', 'is not a boolean'],
    ['session-cookie-conditional-samesite-none', '2', 'is not a boolean'],
    ['session-cookie-max-age', '1.5', 'is not a whole number of seconds'],
    ['session-cookie-max-age', '01', 'is not a whole number of seconds'],
    ['session-cookie-max-age', '99999999999', 'is not a whole number of seconds'],
    ['session-cookie-expires', '1d', 'is not a whole number of seconds'],
  ])('refuses %s %j, naming the annotation and the value', (name, value, why) => {
    expectRefused(readAffinity(annotated({ ...ON, [`${N}${name}`]: value })), `${N}${name}`, value, why);
  });

  it('refuses bad values even when affinity is off', () => {
    expect(readAffinity(annotated({ [`${N}session-cookie-name`]: 'a b' })).ok).toBe(false);
  });

  it('never throws on random values, and yields no control characters (fast-check)', () => {
    const names = ['affinity', 'affinity-mode', 'affinity-canary-behavior', 'session-cookie-name', 'session-cookie-path', 'session-cookie-domain', 'session-cookie-samesite', 'session-cookie-secure', 'session-cookie-max-age', 'session-cookie-expires', 'session-cookie-conditional-samesite-none', 'session-cookie-change-on-failure'].map((n) => `${N}${n}`);
    fuzzAnnotation(names, readAffinity, ON);
  });
});
