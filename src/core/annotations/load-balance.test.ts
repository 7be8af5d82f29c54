import { describe, expect, it } from 'vitest';
import { annotated, expectRefused, fuzzAnnotation } from '../../../test/support/annotation-fuzz.ts';
import { parseHashBy, readLoadBalance, routeBalance } from './load-balance.ts';
import type { AffinityPolicy } from '../model.ts';

const N = 'nginx.ingress.kubernetes.io/';
const G = 'gatehouse.io/';

describe('load-balance family', () => {
  it('is round robin (no policy) without annotations', () => {
    expect(readLoadBalance(annotated({}))).toEqual({ ok: true, value: undefined });
    expect(readLoadBalance(annotated({ [`${N}load-balance`]: 'round_robin' }))).toEqual({ ok: true, value: undefined });
  });

  it.each([
    ['ewma', 'ewma'],
    [' ewma ', 'ewma'],
    ['least_request', 'least_request'],
  ])('reads load-balance %j as %s', (value, algorithm) => {
    expect(readLoadBalance(annotated({ [`${N}load-balance`]: value }))).toEqual({ ok: true, value: { algorithm } });
  });

  it("takes the ConfigMap's load-balance as the default, and the annotation over it", () => {
    expect(readLoadBalance(annotated({}), { loadBalance: 'ewma' })).toEqual({ ok: true, value: { algorithm: 'ewma' } });
    expect(readLoadBalance(annotated({ [`${G}load-balance`]: 'round_robin' }), { loadBalance: 'ewma' })).toEqual({ ok: true, value: undefined });
    expect(readLoadBalance(annotated({}), { loadBalance: 'round_robin' })).toEqual({ ok: true, value: undefined });
  });

  it('prefers gatehouse.io/ over the nginx prefix', () => {
    expect(readLoadBalance(annotated({ [`${G}load-balance`]: 'least_request', [`${N}load-balance`]: 'ewma' }))).toEqual({ ok: true, value: { algorithm: 'least_request' } });
  });

  it('reads upstream-hash-by into parts, over load-balance (as balancer.lua)', () => {
    expect(readLoadBalance(annotated({ [`${N}upstream-hash-by`]: '$request_uri', [`${N}load-balance`]: 'ewma' }))).toEqual({ ok: true, value: { algorithm: 'hash', key: [{ kind: 'request_uri' }], subset: 0 } });
    expect(readLoadBalance(annotated({ [`${N}upstream-hash-by`]: '$arg_user', [`${N}load-balance`]: 'chash' }))).toEqual({ ok: true, value: { algorithm: 'hash', key: [{ kind: 'arg', name: 'user' }], subset: 0 } });
  });

  it('reads upstream-hash-by-subset and its size (default 3; 0 is the default, as ingress-nginx)', () => {
    const hash = { [`${N}upstream-hash-by`]: '$remote_addr' };
    const key = [{ kind: 'remote_addr' }];
    expect(readLoadBalance(annotated({ ...hash, [`${N}upstream-hash-by-subset`]: 'true' }))).toEqual({ ok: true, value: { algorithm: 'hash', key, subset: 3 } });
    expect(readLoadBalance(annotated({ ...hash, [`${N}upstream-hash-by-subset`]: 'true', [`${N}upstream-hash-by-subset-size`]: '5', [`${N}load-balance`]: 'chashsubset' }))).toEqual({ ok: true, value: { algorithm: 'hash', key, subset: 5 } });
    expect(readLoadBalance(annotated({ ...hash, [`${N}upstream-hash-by-subset`]: 'true', [`${N}upstream-hash-by-subset-size`]: '0' }))).toEqual({ ok: true, value: { algorithm: 'hash', key, subset: 3 } });
    // A size without the subset flag has no effect.
    expect(readLoadBalance(annotated({ ...hash, [`${N}upstream-hash-by-subset-size`]: '5' }))).toEqual({ ok: true, value: { algorithm: 'hash', key, subset: 0 } });
    // Subset settings without upstream-hash-by have no effect (as ingress-nginx).
    expect(readLoadBalance(annotated({ [`${N}upstream-hash-by-subset`]: 'true' }))).toEqual({ ok: true, value: undefined });
  });

  it('puts affinity over upstream-hash-by and load-balance (sticky_* accepted with it)', () => {
    const r = readLoadBalance(annotated({ [`${N}affinity`]: 'cookie', [`${N}upstream-hash-by`]: '$host', [`${N}load-balance`]: 'sticky_persistent' }));
    expect(r).toMatchObject({ ok: true, value: { algorithm: 'cookie', mode: 'balanced' } });
  });

  it.each([
    ['load-balance', 'least_conn', 'is not a load-balancing algorithm ("round_robin", "ewma", "least_request"'],
    ['load-balance', 'EWMA', 'is not a load-balancing algorithm'],
    ['load-balance', '', 'is not a load-balancing algorithm'],
    ['load-balance', 'chash', 'hashes by the key upstream-hash-by names, and this Ingress sets none'],
    ['load-balance', 'chashsubset', 'hashes by the key upstream-hash-by names'],
    ['load-balance', 'sticky_balanced', 'is cookie affinity, and this Ingress does not set affinity: cookie'],
    ['upstream-hash-by', '', 'names no variable'],
    ['upstream-hash-by', 'constant', 'names no variable'],
    ['upstream-hash-by', '$uri', '$uri is not a variable Gatehouse hashes by ($request_uri, $remote_addr, $host, $http_<name>, $cookie_<name>, $arg_<name>)'],
    ['upstream-hash-by', '$hostx', '$hostx is not a variable'],
    ['upstream-hash-by', '$http_', '$http_ is not a variable'],
    ['upstream-hash-by', '$', '"$" at offset 0 starts no variable name'],
    ['upstream-hash-by', '${host', '"$" at offset 0 starts no variable name'],
    ['upstream-hash-by', '$host}', '"}" at offset 5 is neither a letter, digit, "-", "_" nor a "$" variable'],
    ['upstream-hash-by', '$host $request_uri', '" " at offset 5'],
    ['upstream-hash-by', '$host;$request_uri', '";" at offset 5'],
    ['upstream-hash-by', '$host'.repeat(17), 'more than 16 parts'],
    ['upstream-hash-by-subset', 'yes', 'is not a boolean'],
    ['upstream-hash-by-subset-size', '-1', 'is not a subset size (a whole number 1-1000)'],
    ['upstream-hash-by-subset-size', '1001', 'is not a subset size'],
    ['upstream-hash-by-subset-size', 'three', 'is not a subset size'],
  ])('refuses %s %j, naming the annotation and the value', (name, value, why) => {
    const r = readLoadBalance(annotated({ [`${N}${name}`]: value, ...(name.startsWith('upstream-hash-by-') ? { [`${N}upstream-hash-by`]: '$host' } : {}) }));
    expectRefused(r, `${N}${name}`, value, why);
  });

  it('reports bad affinity settings with the rest', () => {
    const r = readLoadBalance(annotated({ [`${N}affinity`]: 'ip', [`${N}load-balance`]: 'nope' }));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problems.map((p) => p.key)).toEqual([`${N}affinity`, `${N}load-balance`]);
  });

  it('never throws on random values, and yields no control characters (fast-check)', () => {
    const names = ['load-balance', 'upstream-hash-by', 'upstream-hash-by-subset', 'upstream-hash-by-subset-size'].map((n) => `${N}${n}`);
    fuzzAnnotation(names, (ing) => readLoadBalance(ing));
    fuzzAnnotation(names, (ing) => readLoadBalance(ing), { [`${N}upstream-hash-by`]: '$host', [`${N}affinity`]: 'cookie' });
  });
});

describe('upstream-hash-by grammar', () => {
  it.each([
    ['$request_uri', [{ kind: 'request_uri' }]],
    ['$remote_addr', [{ kind: 'remote_addr' }]],
    ['$host', [{ kind: 'host' }]],
    ['$host$request_uri', [{ kind: 'host' }, { kind: 'request_uri' }]],
    ['${request_uri}-text-value', [{ kind: 'request_uri' }, { kind: 'text', text: '-text-value' }]],
    ['$request_uri-x', [{ kind: 'request_uri' }, { kind: 'text', text: '-x' }]],
    ['pre_${host}_post', [{ kind: 'text', text: 'pre_' }, { kind: 'host' }, { kind: 'text', text: '_post' }]],
    ['$http_x_user_ID', [{ kind: 'header', name: 'x-user-id' }]],
    ['$cookie_SessionId', [{ kind: 'cookie', name: 'sessionid' }]],
    ['$cookie_a_b', [{ kind: 'cookie', name: 'a_b' }]],
    ['$arg_user', [{ kind: 'arg', name: 'user' }]],
    ['${arg_user}${http_x}', [{ kind: 'arg', name: 'user' }, { kind: 'header', name: 'x' }]],
    ['  $host  ', [{ kind: 'host' }]],
  ])('%j', (value, parts) => {
    expect(parseHashBy(value)).toEqual(parts);
  });
});

describe('routeBalance', () => {
  const cookie: AffinityPolicy = { algorithm: 'cookie', mode: 'balanced', canaryBehavior: 'sticky', changeOnFailure: false, cookie: { name: 'INGRESSCOOKIE', conditionalSameSiteNone: false, secure: false } };

  it("gives the affinity cookie the route's path as written ($location_path)", () => {
    expect(routeBalance(cookie, '/app/', false)).toEqual({ ...cookie, cookie: { ...cookie.cookie, path: '/app/' } });
  });

  it('gives `/` for a regex path, or one a cookie Path cannot hold', () => {
    expect(routeBalance(cookie, '/api/(.*)', true)).toMatchObject({ cookie: { path: '/' } });
    expect(routeBalance(cookie, '/a;b', false)).toMatchObject({ cookie: { path: '/' } });
  });

  it('keeps session-cookie-path, and other policies, as they are', () => {
    const withPath = { ...cookie, cookie: { ...cookie.cookie, path: '/x' } };
    expect(routeBalance(withPath, '/app', false)).toBe(withPath);
    const ewma = { algorithm: 'ewma' } as const;
    expect(routeBalance(ewma, '/app', false)).toBe(ewma);
  });
});
