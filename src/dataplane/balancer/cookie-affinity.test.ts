import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AffinityCookie, AffinityPolicy, Endpoint } from '../../core/model.ts';
import { seeded } from '../../../test/support/seeded-random.ts';
import type { PickContext } from './balancer.ts';
import { CookieAffinity, persistentValue, sameSiteNoneCompatible } from './cookie-affinity.ts';

const BACKEND = 'shop/web:80';
const LIST: readonly Endpoint[] = Array.from({ length: 5 }, (_, i) => ({ address: `10.0.0.${i + 1}`, port: 8080 }));

function policy(mode: AffinityPolicy['mode'], cookie: Partial<AffinityCookie> = {}, changeOnFailure = false): AffinityPolicy {
  return { algorithm: 'cookie', mode, canaryBehavior: 'sticky', changeOnFailure, cookie: { name: 'INGRESSCOOKIE', path: '/', conditionalSameSiteNone: false, secure: false, ...cookie } };
}

function request(cookie?: string, o: { https?: boolean; ua?: string } = {}): PickContext {
  const headers: Record<string, string> = {};
  if (cookie !== undefined) headers.cookie = cookie;
  if (o.ua !== undefined) headers['user-agent'] = o.ua;
  return { url: '/', host: 'shop.example', clientIp: '192.0.2.1', https: o.https ?? false, headers, setCookie: null };
}

/** `NAME=VALUE` of a Set-Cookie value, ready to send back as a Cookie header. */
function cookieOf(setCookie: string | null): string {
  expect(setCookie).not.toBeNull();
  return setCookie!.split(';')[0]!;
}

/** A new session: the endpoint and the cookie to send back. */
function session(b: CookieAffinity, list: readonly Endpoint[] = LIST): { endpoint: Endpoint; cookie: string } {
  const ctx = request();
  const endpoint = b.pick(list, ctx)!;
  return { endpoint, cookie: cookieOf(ctx.setCookie) };
}

describe.each(['balanced', 'persistent'] as const)('cookie affinity, %s', (mode) => {
  it('sets a cookie on a new session, and none while the cookie is honoured', () => {
    const b = new CookieAffinity(policy(mode), BACKEND, seeded(1));
    const { endpoint, cookie } = session(b);
    for (let i = 0; i < 20; i++) {
      const ctx = request(`other=1; ${cookie}`);
      expect(b.pick(LIST, ctx)).toBe(endpoint);
      expect(ctx.setCookie).toBeNull();
    }
  });

  it('sends a cookie to the same endpoint from another instance (another worker or replica) and another list object', () => {
    const { endpoint, cookie } = session(new CookieAffinity(policy(mode), BACKEND, seeded(1)));
    const copy = LIST.map((e) => ({ ...e }));
    const other = new CookieAffinity(policy(mode), BACKEND, seeded(2));
    expect(other.pick(copy, request(cookie))).toEqual(endpoint);
  });

  it('names no pod address in the cookie', () => {
    for (let i = 0; i < 20; i++) {
      const { cookie } = session(new CookieAffinity(policy(mode), BACKEND, seeded(i)));
      expect(cookie).not.toMatch(/10\.0\.0|8080/);
      expect(cookie).toMatch(/^INGRESSCOOKIE=[A-Za-z0-9_-]{16,32}$/);
    }
  });

  it('starts new sessions on every endpoint', () => {
    const b = new CookieAffinity(policy(mode), BACKEND, seeded(3));
    const seen = new Set(Array.from({ length: 200 }, () => session(b).endpoint));
    expect(seen.size).toBe(LIST.length);
  });

  it('gives an unknown or malformed cookie a new session (and cookie)', () => {
    const b = new CookieAffinity(policy(mode), BACKEND, seeded(4));
    for (const value of ['', 'x'.repeat(200)]) {
      const ctx = request(`INGRESSCOOKIE=${value}`);
      expect(LIST).toContain(b.pick(LIST, ctx));
      expect(ctx.setCookie).not.toBeNull();
    }
  });

  it('reads the value up to a "|" (ingress-nginx appends a backend key)', () => {
    const b = new CookieAffinity(policy(mode), BACKEND, seeded(5));
    const { endpoint, cookie } = session(b);
    expect(b.pick(LIST, request(`${cookie}|0123abcd`))).toBe(endpoint);
  });

  it('serves a retry elsewhere but keeps the cookie, without change-on-failure', () => {
    const b = new CookieAffinity(policy(mode, {}, false), BACKEND, seeded(6));
    const { endpoint, cookie } = session(b);
    const ctx = request(cookie);
    const retry = b.pick(LIST, ctx, new Set([endpoint]))!;
    expect(retry).not.toBe(endpoint);
    expect(ctx.setCookie).toBeNull();
    // The next request goes back to the session's endpoint.
    expect(b.pick(LIST, request(cookie))).toBe(endpoint);
  });

  it('moves the session to the retry with change-on-failure (a new cookie naming it)', () => {
    const b = new CookieAffinity(policy(mode, {}, true), BACKEND, seeded(7));
    const { endpoint, cookie } = session(b);
    const ctx = request(cookie);
    const retry = b.pick(LIST, ctx, new Set([endpoint]))!;
    expect(retry).not.toBe(endpoint);
    const moved = cookieOf(ctx.setCookie);
    expect(moved).not.toBe(cookie);
    expect(b.pick(LIST, request(moved))).toBe(retry);
  });

  it('picks nothing when every endpoint is excluded', () => {
    const b = new CookieAffinity(policy(mode, {}, true), BACKEND, seeded(8));
    const { cookie } = session(b);
    expect(b.pick(LIST, request(cookie), new Set(LIST))).toBeUndefined();
    expect(b.pick(LIST, request(), new Set(LIST))).toBeUndefined();
  });
});

describe('cookie affinity: what happens when endpoints change', () => {
  it('persistent: a session never moves while its endpoint is there; one whose endpoint is gone gets a new one and a new cookie', () => {
    const b = new CookieAffinity(policy('persistent'), BACKEND, seeded(1));
    const sessions = Array.from({ length: 100 }, () => session(b));
    const grown = [...LIST, { address: '10.0.0.9', port: 8080 }, { address: '10.0.0.10', port: 8080 }];
    for (const s of sessions) expect(b.pick(grown, request(s.cookie))).toEqual(s.endpoint);
    const gone = LIST[0]!;
    const shrunk = LIST.slice(1);
    for (const s of sessions) {
      const ctx = request(s.cookie);
      const e = b.pick(shrunk, ctx)!;
      if (s.endpoint === gone) {
        expect(shrunk).toContain(e);
        expect(b.pick(shrunk, request(cookieOf(ctx.setCookie)))).toBe(e);
      } else {
        expect(e).toBe(s.endpoint);
        expect(ctx.setCookie).toBeNull();
      }
    }
  });

  it('persistent: the cookie value is a keyed hash of the endpoint, the key from the backend id', () => {
    const e = LIST[2]!;
    expect(persistentValue(BACKEND, e)).toMatch(/^[0-9a-f]{32}$/);
    expect(persistentValue(BACKEND, { ...e })).toBe(persistentValue(BACKEND, e));
    expect(persistentValue('shop/other:80', e)).not.toBe(persistentValue(BACKEND, e));
  });

  it('balanced: scaling from 5 to 10 endpoints moves about half the sessions, all to the new endpoints; removing one moves only its sessions', () => {
    const b = new CookieAffinity(policy('balanced'), BACKEND, seeded(2));
    const sessions = Array.from({ length: 2000 }, () => session(b));
    const added = Array.from({ length: 5 }, (_, i) => ({ address: `10.0.1.${i + 1}`, port: 8080 }));
    const grown = [...LIST, ...added];
    let moved = 0;
    for (const s of sessions) {
      const ctx = request(s.cookie);
      const e = b.pick(grown, ctx)!;
      expect(ctx.setCookie).toBeNull();
      if (e.address !== s.endpoint.address) {
        moved++;
        expect(added).toContain(e);
      }
    }
    // (n - c) / n = 0.5, as sticky_balanced.lua says.
    expect(moved / sessions.length).toBeGreaterThan(0.4);
    expect(moved / sessions.length).toBeLessThan(0.6);
    const gone = LIST[1]!;
    for (const s of sessions) {
      const e = b.pick(LIST.filter((x) => x !== gone), request(s.cookie))!;
      if (s.endpoint !== gone) expect(e).toBe(s.endpoint);
    }
  });
});

describe('the Set-Cookie value', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date('2026-03-01T12:00:00Z'));
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const setCookie = (cookie: Partial<AffinityCookie>, o: { https?: boolean; ua?: string } = {}) => {
    const ctx = request(undefined, o);
    new CookieAffinity(policy('persistent', cookie), BACKEND, seeded(1)).pick([LIST[0]!], ctx);
    return ctx.setCookie!.replace(/=[0-9a-f]{32}/, '=V');
  };

  it('has Path and HttpOnly by default', () => {
    expect(setCookie({})).toBe('INGRESSCOOKIE=V; Path=/; HttpOnly');
  });

  it('carries every attribute set, in order', () => {
    expect(setCookie({ name: 'route', path: '/app', domain: '.shop.example', maxAge: 3600, expires: 172800, secure: true, sameSite: 'Strict' })).toBe(
      'route=V; Expires=Tue, 03 Mar 2026 12:00:00 GMT; Max-Age=3600; Domain=.shop.example; Path=/app; Secure; HttpOnly; SameSite=Strict',
    );
  });

  it('is Secure on answers to https requests, and with session-cookie-secure on any', () => {
    expect(setCookie({}, { https: true })).toBe('INGRESSCOOKIE=V; Path=/; Secure; HttpOnly');
    expect(setCookie({ secure: true })).toBe('INGRESSCOOKIE=V; Path=/; Secure; HttpOnly');
  });

  it('takes negative and zero lifetimes as given (expired at once)', () => {
    expect(setCookie({ maxAge: 0, expires: -1 })).toBe('INGRESSCOOKIE=V; Expires=Sun, 01 Mar 2026 11:59:59 GMT; Max-Age=0; Path=/; HttpOnly');
  });

  it('leaves SameSite=None out for incompatible browsers with session-cookie-conditional-samesite-none', () => {
    const oldChrome = 'Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/59.0.3071.115 Safari/537.36';
    const newChrome = 'Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
    expect(setCookie({ sameSite: 'None', conditionalSameSiteNone: true }, { ua: oldChrome })).toBe('INGRESSCOOKIE=V; Path=/; HttpOnly');
    expect(setCookie({ sameSite: 'None', conditionalSameSiteNone: true }, { ua: newChrome })).toBe('INGRESSCOOKIE=V; Path=/; HttpOnly; SameSite=None');
    expect(setCookie({ sameSite: 'None' }, { ua: oldChrome })).toBe('INGRESSCOOKIE=V; Path=/; HttpOnly; SameSite=None');
    expect(setCookie({ sameSite: 'Lax', conditionalSameSiteNone: true }, { ua: oldChrome })).toBe('INGRESSCOOKIE=V; Path=/; HttpOnly; SameSite=Lax');
  });

  it("follows same_site.lua's list of incompatible user agents", () => {
    expect(sameSiteNoneCompatible(undefined)).toBe(true);
    expect(sameSiteNoneCompatible('Mozilla/5.0 (iPhone; CPU iPhone OS 12_0 like Mac OS X) AppleWebKit/605.1.15')).toBe(false);
    expect(sameSiteNoneCompatible('Mozilla/5.0 (iPad; CPU OS 12_1 like Mac OS X)')).toBe(false);
    expect(sameSiteNoneCompatible('Mozilla/5.0 (Macintosh; Intel Mac OS X 10_14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/12.1 Safari/605.1.15')).toBe(false);
    expect(sameSiteNoneCompatible('Mozilla/5.0 (Macintosh; Intel Mac OS X 10_14_6) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36')).toBe(true);
    expect(sameSiteNoneCompatible('Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 Safari/605.1.15')).toBe(true);
  });
});
