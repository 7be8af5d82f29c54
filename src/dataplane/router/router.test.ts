// Unit tests for the find-my-way router: its own choices (host normalisation, precomputed
// matches, robustness to tables that break the model's promises) and the find-my-way facts it
// relies on, pinned against find-my-way itself so an upgrade that changes them fails here.
// Routing semantics shared with the reference matcher live in test/router-vs-reference.test.ts.

import fc from 'fast-check';
import FindMyWay from 'find-my-way';
import { describe, expect, it } from 'vitest';
import type { MatchType, Route, RouteTable, VirtualHost } from '../../core/model.ts';
import { applyTableDiff, TableDiffer } from '../table-diff.ts';
import { normaliseHost, Router } from './router.ts';

function route(match: MatchType, path: string, backend: string): Route {
  return { path, match, backend, ingress: 'default/test', sslRedirect: false };
}
function vhost(host: string, routes: Route[], defaultBackend: string | null = null): VirtualHost {
  return { host, routes, defaultBackend, tls: false, sslRedirect: false };
}
function table(hosts: VirtualHost[], defaultBackend: string | null = null): RouteTable {
  return { generation: 7, fingerprint: 'f', hosts, defaultBackend, backends: {}, tls: [], defaultCertificate: null };
}
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

describe('normaliseHost', () => {
  it.each([
    ['example.com', 'example.com'],
    ['Example.COM', 'example.com'],
    ['example.com:8080', 'example.com'],
    ['example.com.', 'example.com'],
    ['EXAMPLE.com.:443', 'example.com'],
    ['example.com..', 'example.com.'],
    ['example.com:', 'example.com'],
    ['[::1]', '[::1]'],
    ['[::1]:8080', '[::1]'],
    ['[2001:DB8::A]:443', '[2001:db8::a]'],
    ['10.0.0.1:80', '10.0.0.1'],
    ['', ''],
    [':80', ''],
    ['.', ''],
    ['BÜCHER.de', 'bücher.de'],
  ])('%j → %j', (raw, want) => {
    expect(normaliseHost(raw)).toBe(want);
  });
});

describe('Router', () => {
  const api = route('Prefix', '/api', 'api');
  const apiExact = route('Exact', '/api', 'api-exact');
  const shop = vhost('shop.example.com', [apiExact, api], 'shop-default');
  const t = deepFreeze(table([shop, vhost('*.example.com', [route('Prefix', '/', 'wild')]), vhost('', [], 'catch-all')], 'table-default'));

  it('builds from a deep-frozen table (compile output is frozen) without touching it', () => {
    const before = JSON.stringify(t);
    const router = new Router(t);
    expect(router.lookup('shop.example.com', '/api/v1').backend).toBe('api');
    expect(JSON.stringify(t)).toBe(before);
  });

  it('returns the same frozen Match object for every lookup that lands on the same outcome', () => {
    const router = new Router(t);
    const first = router.lookup('shop.example.com', '/api/a');
    const second = router.lookup('SHOP.example.com:443', '/api/b/c');
    expect(first).toBe(second);
    expect(first).toEqual({ backend: 'api', route: api, host: shop, steps: [], series: 0 });
    expect(Object.isFrozen(first)).toBe(true);
    expect(router.lookup('shop.example.com', '/nope')).toBe(router.lookup('shop.example.com', '*'));
    expect(router.lookup('shop.example.com', '/nope')).toEqual({ backend: 'shop-default', route: null, host: shop, steps: [], series: 0 });
  });

  it('answers a host with no routes with its own default backend', () => {
    const router = new Router(t);
    expect(router.lookup('unknown.org', '/api')).toEqual({ backend: 'catch-all', route: null, host: t.hosts[2], steps: [], series: 0 });
  });

  it('routes a table that crossed postMessage (structured clone) to the clone’s own objects', () => {
    const copy = structuredClone(t);
    const match = new Router(copy).lookup('shop.example.com', '/api');
    expect(match.route).toBe(copy.hosts[0]!.routes[0]);
    expect(match.backend).toBe('api-exact');
  });

  it('serves hundreds of routes on one host and under one node (no 31-handler limit: no constraints)', () => {
    const routes: Route[] = [];
    for (let i = 0; i < 300; i++) {
      routes.push(route('Exact', `/s/${i}`, `exact-${i}`), route('Prefix', `/s/${i}`, `prefix-${i}`));
    }
    const router = new Router(table([vhost('many.test', routes)], 'd'));
    for (let i = 0; i < 300; i++) {
      expect(router.lookup('many.test', `/s/${i}`).backend).toBe(`exact-${i}`);
      expect(router.lookup('many.test', `/s/${i}/x`).backend).toBe(`prefix-${i}`);
      // Element-wise: Prefix `/s/1` does not cover `/s/1x`, and no route is spelled `/s/1x`.
      expect(router.lookup('many.test', `/s/${i}x`).backend).toBe('d');
    }
    expect(router.lookup('many.test', '/s/').backend).toBe('d');
  });

  it('serves thousands of hosts, exact and wildcard', () => {
    const hosts: VirtualHost[] = [];
    for (let i = 0; i < 2000; i++) {
      hosts.push(vhost(`h${i}.test`, [route('Prefix', '/', `exact-${i}`)]));
      hosts.push(vhost(`*.h${i}.test`, [route('Prefix', '/', `wild-${i}`)]));
    }
    const router = new Router(table(hosts));
    expect(router.lookup('h1234.test', '/').backend).toBe('exact-1234');
    expect(router.lookup('a.h1234.test', '/').backend).toBe('wild-1234');
    expect(router.lookup('a.b.h1234.test', '/').backend).toBe(null);
  });

  it('keeps the first of repeated hosts and repeated routes instead of throwing', () => {
    const router = new Router(
      table([
        vhost('dup.test', [route('Exact', '/a', 'first'), route('Exact', '/a', 'second'), route('Prefix', '/b', 'b1'), route('Prefix', '/b/', 'b2')]),
        vhost('DUP.test', [route('Prefix', '/', 'other-host')]),
      ]),
    );
    expect(router.lookup('dup.test', '/a').backend).toBe('first');
    expect(router.lookup('dup.test', '/b/c').backend).toBe('b1');
    expect(router.lookup('dup.test', '/x').backend).toBe(null);
  });

  it('skips routes compile would have rejected (no leading slash, `*`) and serves the rest', () => {
    const router = new Router(
      table([vhost('odd.test', [route('Prefix', 'relative', 'rel'), route('Prefix', '/a/*', 'star'), route('Exact', '', 'empty'), route('Prefix', '/ok', 'ok')], 'odd-default')]),
    );
    expect(router.lookup('odd.test', '/ok/1').backend).toBe('ok');
    expect(router.lookup('odd.test', '/a/b').backend).toBe('odd-default');
    expect(router.lookup('odd.test', '/a/*').backend).toBe('odd-default');
    expect(router.lookup('odd.test', 'relative').backend).toBe('odd-default');
  });

  it('treats a Prefix path with a trailing slash as the model’s normalised form', () => {
    const router = new Router(table([vhost('p.test', [route('Prefix', '/foo/', 'foo')])]));
    expect(router.lookup('p.test', '/foo').backend).toBe('foo');
    expect(router.lookup('p.test', '/foo/bar').backend).toBe('foo');
    expect(router.lookup('p.test', '/foobar').backend).toBe(null);
  });

  it('matches a VirtualHost whose host is not lower case (the model promises it is)', () => {
    const router = new Router(table([vhost('Upper.Test', [route('Prefix', '/', 'u')]), vhost('*.Wild.Test', [route('Prefix', '/', 'w')])]));
    expect(router.lookup('upper.test', '/').backend).toBe('u');
    expect(router.lookup('a.wild.test', '/').backend).toBe('w');
  });

  it.each([
    ['compiled', {}],
    ['interpreted', { compile: false }],
  ] as const)('gives the same answers with find-my-way %s', (_mode, options) => {
    const router = new Router(t, options);
    const cases: ReadonlyArray<readonly [string, string, string | null]> = [
      ['shop.example.com', '/api', 'api-exact'],
      ['shop.example.com', '/api/', 'api'],
      ['shop.example.com', '/apix', 'shop-default'],
      ['shop.example.com', '/api/x', 'api'],
      ['shop.example.com', '/api/%25', 'api'],
      ['a.example.com', '/anything', 'wild'],
      ['a.example.com', 'not-a-normal-path', 'table-default'],
      ['nobody', '/', 'catch-all'],
    ];
    for (const [host, path, want] of cases) expect([host, path, router.lookup(host, path).backend]).toEqual([host, path, want]);
  });
});

describe('Router in regex mode', () => {
  // A backtracking engine takes 2^50 steps here (V8's RegExp would never come back); RE2 is linear.
  it('matches a catastrophic-backtracking regex, (a+)+$ against 50 a and a !, in linear time', () => {
    const router = new Router(table([vhost('redos.test', [route('Regex', '/(a+)+$', 'redos'), route('Prefix', '/', 'root')])]));
    expect(router.lookup('redos.test', `/${'a'.repeat(50)}!`).backend).toBe('root');
    expect(router.lookup('redos.test', `/${'a'.repeat(16_000)}!`).backend).toBe('root');
    expect(router.lookup('redos.test', `/${'a'.repeat(50)}`).backend).toBe('redos');
  });

  it('skips a Regex route that does not compile (compile refuses it) and serves the rest', () => {
    const router = new Router(table([vhost('r.test', [route('Regex', '/(a', 'bad'), route('Regex', '/a(?=b)', 'lookahead'), route('Regex', '/a', 'a')])]));
    expect(router.lookup('r.test', '/ab').backend).toBe('a');
    expect(router.lookup('r.test', '/b').backend).toBe(null);
  });

  it('returns one frozen Match per route, with its steps, whichever request matched it', () => {
    const r = route('Regex', '/x/[0-9]+', 'x');
    const router = new Router(table([vhost('r.test', [r])]));
    const first = router.lookup('r.test', '/x/1');
    expect(first).toBe(router.lookup('R.test', '/X/22/y'));
    expect(first).toEqual({ backend: 'x', route: r, host: expect.anything(), steps: [], series: 0 });
    expect(Object.isFrozen(first)).toBe(true);
  });
});

// The find-my-way behaviour the router is built on, checked on find-my-way directly.
describe.each([
  ['interpreted', false],
  ['compiled', true],
])('find-my-way facts (%s)', (_mode, compile) => {
  function paths(patterns: string[]): (path: string) => string | null {
    const router = FindMyWay({ caseSensitive: true, ignoreTrailingSlash: false, ignoreDuplicateSlashes: false });
    for (const pattern of patterns) router.on('GET', pattern, () => {}, { pattern });
    if (compile) router.compile();
    return (path) => (router.find('GET', path)?.store as { pattern: string } | undefined)?.pattern ?? null;
  }

  it('backtracks from a failed static branch to the deepest wildcard passed', () => {
    const find = paths(['/foo', '/foo/*', '/foo/bar', '/foo/bar/*']);
    expect(find('/foo/barx')).toBe('/foo/*');
    expect(find('/foo/bar/x')).toBe('/foo/bar/*');
    expect(find('/foo/bar')).toBe('/foo/bar');
  });

  it('lets a wildcard match the empty rest: `/foo/*` matches `/foo/`', () => {
    const find = paths(['/foo/*']);
    expect(find('/foo/')).toBe('/foo/*');
    expect(find('/foo')).toBe(null);
    expect(find('/foobar')).toBe(null);
  });

  it('prefers a static route over a wildcard at the same node', () => {
    const find = paths(['/foo/', '/foo/*', '/*', '/']);
    expect(find('/foo/')).toBe('/foo/');
    expect(find('/')).toBe('/');
    expect(paths(['/*'])('/')).toBe('/*');
  });

  it('reads `:` as a parameter unless doubled', () => {
    expect(paths(['/a:b'])('/anything')).toBe('/a:b');
    expect(paths(['/a::b'])('/anything')).toBe(null);
    expect(paths(['/a::b'])('/a:b')).toBe('/a::b');
  });

  it('throws on a duplicate registration, so Exact and Prefix on one path must be merged', () => {
    const router = FindMyWay();
    router.on('GET', '/foo', () => {});
    expect(() => router.on('GET', '/foo', () => {})).toThrow(/already declared/);
  });

  it('compares a path without `%`, `?` or `#` as written, `|` included (the router spells `%` so)', () => {
    const find = paths(['/100|25', '/a|2Fb/*', '/caf|C3|A9']);
    expect(find('/100|25')).toBe('/100|25');
    expect(find('/a|2Fb/c')).toBe('/a|2Fb/*');
    expect(find('/caf|C3|A9')).toBe('/caf|C3|A9');
    expect(find('/caf|c3|a9')).toBe(null);
  });

  it('cuts the path at `?` and `#` but not at `;`, and keeps `//`', () => {
    const find = paths(['/foo', '/foo/*']);
    expect(find('/foo?x=/y')).toBe('/foo');
    expect(find('/foo#y')).toBe('/foo');
    expect(find('/foo;x')).toBe(null);
    expect(find('/foo//')).toBe('/foo/*');
  });
});

describe('Router from a table diff', () => {
  const HOSTS = ['', 'a.test', 'b.test', 'c.test', '*.w.test', 'x.w.test'];
  const PROBES = ['a.test', 'b.test', 'c.test', 'x.w.test', 'y.w.test', 'other.test', 'A.TEST:80'];
  const PATHS = ['/', '/api', '/api/v1', '/apix', '/other'];
  const routeArb = fc.record({ path: fc.constantFrom('/', '/api', '/api/v1'), match: fc.constantFrom<MatchType>('Exact', 'Prefix'), backend: fc.constantFrom('b1', 'b2', 'b3') });
  const tableArb = fc
    .record({
      hosts: fc.subarray(HOSTS).chain((names) => fc.tuple(...names.map((host) => fc.record({ routes: fc.array(routeArb, { maxLength: 3 }), defaultBackend: fc.constantFrom(null, 'd1') }).map(({ routes, defaultBackend }) => vhost(host, routes.map((r) => route(r.match, r.path, r.backend)), defaultBackend))))),
      defaultBackend: fc.constantFrom(null, 'td', 'td', 'td'),
    })
    .map(({ hosts, defaultBackend }) => deepFreeze(table([...hosts].sort((a, b) => (a.host < b.host ? -1 : 1)), defaultBackend)));

  it('routes every request as a router made from the whole table, after every table of a random sequence', () => {
    fc.assert(
      fc.property(fc.array(tableArb, { minLength: 2, maxLength: 8 }), fc.array(fc.tuple(fc.constantFrom(...PROBES), fc.constantFrom(...PATHS)), { maxLength: 4 }), (tables, early) => {
        const differ = new TableDiffer();
        differ.diff(tables[0]!);
        let served = structuredClone(tables[0]!);
        let router = new Router(served);
        tables.slice(1).forEach((next, generation) => {
          // Some hosts' matchers built before the change (kept when their host is).
          for (const [host, path] of early) router.lookup(host, path);
          const diff = structuredClone(differ.diff({ ...next, generation: generation + 8 })!);
          served = applyTableDiff(served, diff);
          router = new Router(served, {}, router, diff);
          const whole = new Router(served);
          for (const host of PROBES) {
            for (const path of PATHS) {
              const got = router.lookup(host, path);
              const want = whole.lookup(host, path);
              expect([got.backend, got.route, got.host]).toEqual([want.backend, want.route, want.host]);
              expect(got.route === want.route && got.host === want.host).toBe(true);
            }
          }
        });
      }),
      { numRuns: 300 },
    );
  });
});
