// The shared suite for the router interface (DESIGN.md, "Testing"): the same table-driven
// cases run against every implementation, then generated tables check that the find-my-way
// router and the naive reference matcher agree on every lookup. Requests are given as the
// client sends them and normalised first (core/normalise-uri-path.ts, as the worker does): a
// target that does not normalise is answered 400 before any lookup ('400' below).

import { describe, expect, it } from 'vitest';
import type { MatchType, Route, RouteTable, VirtualHost } from '../src/core/model.ts';
import { normaliseUriPath } from '../src/core/normalise-uri-path.ts';
import { Router } from '../src/dataplane/router/router.ts';
import type { Match } from '../src/dataplane/router/router.ts';
import { ReferenceMatcher } from './support/reference-matcher.ts';
import { seeded } from './support/seeded-random.ts';

interface Matcher {
  lookup(host: string, path: string): Match;
}
type Build = (table: RouteTable) => Matcher;

const IMPLEMENTATIONS: ReadonlyArray<readonly [string, Build]> = [
  ['find-my-way router (compiled)', (table) => new Router(table)],
  ['find-my-way router (interpreted)', (table) => new Router(table, { compile: false })],
  ['reference', (table) => new ReferenceMatcher(table)],
];

// ---- builders --------------------------------------------------------------------------------

function route(match: MatchType, path: string, backend: string): Route {
  return { path, match, backend, ingress: 'default/test', sslRedirect: false };
}
const exact = (path: string, backend: string): Route => route('Exact', path, backend);
const prefix = (path: string, backend: string): Route => route('Prefix', path, backend);
const regex = (path: string, backend: string): Route => route('Regex', path, backend);

function vhost(host: string, routes: Route[], defaultBackend: string | null = null): VirtualHost {
  return { host, routes, defaultBackend, tls: false, sslRedirect: false };
}

function table(hosts: VirtualHost[], defaultBackend: string | null = null): RouteTable {
  return { generation: 1, fingerprint: 'test', hosts, defaultBackend, backends: {}, tls: [], defaultCertificate: null };
}

// ---- hand-written cases ------------------------------------------------------------------------

/** [request host, request target, expected backend (null: built-in 404; '400': refused)]. */
type Case = readonly [string, string, string | null];

const HOSTS = table(
  [
    vhost('foo.com', [prefix('/', 'foo')]),
    vhost('*.foo.com', [prefix('/', 'wild-foo')]),
    vhost('*.bar.foo.com', [prefix('/', 'wild-bar-foo')]),
    vhost('exact.bar.foo.com', [prefix('/', 'exact-bar-foo')]),
    vhost('[::1]', [prefix('/', 'ipv6')]),
    vhost('127.0.0.1', [prefix('/', 'ipv4')]),
    vhost('', [prefix('/', 'catch-all')]),
  ],
  'table-default',
);

const HOST_CASES: readonly Case[] = [
  ['foo.com', '/', 'foo'],
  ['FOO.COM', '/', 'foo'],
  ['foo.com:8080', '/', 'foo'],
  ['foo.com:', '/', 'foo'],
  ['foo.com.', '/', 'foo'],
  ['Foo.Com.:443', '/', 'foo'],
  // Only one trailing dot is dropped.
  ['foo.com..', '/', 'catch-all'],
  // A wildcard matches exactly one extra label.
  ['a.foo.com', '/', 'wild-foo'],
  ['A.FOO.COM:80', '/', 'wild-foo'],
  ['a.foo.com.', '/', 'wild-foo'],
  ['bar.foo.com', '/', 'wild-foo'],
  ['a.b.foo.com', '/', 'catch-all'],
  ['x.bar.foo.com', '/', 'wild-bar-foo'],
  // An exact host beats a wildcard.
  ['exact.bar.foo.com', '/', 'exact-bar-foo'],
  ['EXACT.bar.foo.com:1', '/', 'exact-bar-foo'],
  // An empty first label is not a label.
  ['.foo.com', '/', 'catch-all'],
  ['foo.co', '/', 'catch-all'],
  ['', '/', 'catch-all'],
  ['other.org', '/', 'catch-all'],
  ['[::1]', '/', 'ipv6'],
  ['[::1]:8080', '/', 'ipv6'],
  ['127.0.0.1', '/', 'ipv4'],
  ['127.0.0.1:8443', '/', 'ipv4'],
];

const NO_CATCH_ALL = table([vhost('foo.com', [prefix('/', 'foo')]), vhost('*.foo.com', [exact('/', 'wild')])], 'table-default');
const NO_CATCH_ALL_CASES: readonly Case[] = [
  ['foo.com', '/x', 'foo'],
  ['a.foo.com', '/', 'wild'],
  // The wildcard host has no default backend: the table's answers, with no fall-through to foo.com.
  ['a.foo.com', '/x', 'table-default'],
  ['a.b.foo.com', '/', 'table-default'],
  ['bar.com', '/', 'table-default'],
  ['', '/', 'table-default'],
];

const NO_DEFAULTS = table([vhost('foo.com', [exact('/only', 'only')])], null);
const NO_DEFAULTS_CASES: readonly Case[] = [
  ['foo.com', '/only', 'only'],
  ['foo.com', '/only/', null],
  ['foo.com', '/', null],
  ['bar.com', '/only', null],
];

const PATHS = table(
  [
    vhost(
      'p.com',
      [
        prefix('/', 'root'),
        exact('/', 'root-exact'),
        prefix('/foo', 'foo-prefix'),
        exact('/foo', 'foo-exact'),
        exact('/foo/', 'foo-slash-exact'),
        prefix('/foo/bar', 'foo-bar-prefix'),
        prefix('/foobar', 'foobar-prefix'),
        exact('/Case', 'case'),
        prefix('/api:v1', 'colon'),
        prefix('/a-b.c~d@e', 'chars'),
        exact('/caf%C3%A9', 'cafe'),
        prefix('/caf%c3%a9/%7eu', 'cafe-u-written-encoded'),
        prefix('/x/y/z', 'xyz'),
        exact('/x/y', 'xy-exact'),
      ],
      'p-default',
    ),
  ],
  'table-default',
);

const PATH_CASES: readonly Case[] = [
  ['p.com', '/', 'root-exact'],
  ['p.com', '/?q=1', 'root-exact'],
  ['p.com', '/#frag', 'root-exact'],
  ['p.com', '/other', 'root'],
  // Exact beats Prefix at equal path; Exact `/foo/` is longer than Prefix `/foo`.
  ['p.com', '/foo', 'foo-exact'],
  ['p.com', '/foo?x=/foo/bar', 'foo-exact'],
  ['p.com', '/foo/', 'foo-slash-exact'],
  ['p.com', '/foo/x', 'foo-prefix'],
  ['p.com', '/foo/x/', 'foo-prefix'],
  ['p.com', '/foo/bar', 'foo-bar-prefix'],
  ['p.com', '/foo/bar/', 'foo-bar-prefix'],
  ['p.com', '/foo/bar/baz?q', 'foo-bar-prefix'],
  // Element-wise: `/foo/barx` is not under `/foo/bar`, so the next-longest prefix wins.
  ['p.com', '/foo/barx', 'foo-prefix'],
  ['p.com', '/foobar', 'foobar-prefix'],
  ['p.com', '/foobar/', 'foobar-prefix'],
  ['p.com', '/foobarx', 'root'],
  ['p.com', '/foob', 'root'],
  ['p.com', '/fo', 'root'],
  // Case-sensitive.
  ['p.com', '/FOO', 'root'],
  ['p.com', '/Case', 'case'],
  ['p.com', '/case', 'root'],
  ['p.com', '/Case/', 'root'],
  // Duplicate slashes merge.
  ['p.com', '/foo//bar', 'foo-bar-prefix'],
  ['p.com', '//foo', 'foo-exact'],
  ['p.com', '/x//y', 'xy-exact'],
  // Dot segments are removed; climbing above the root is refused.
  ['p.com', '/x/./y', 'xy-exact'],
  ['p.com', '/foo/../x/y', 'xy-exact'],
  ['p.com', '/foo/%2e%2e/x/y', 'xy-exact'],
  ['p.com', '/foo/bar/..', 'foo-slash-exact'],
  ['p.com', '/../foo', '400'],
  // `:` is a literal, not a find-my-way parameter.
  ['p.com', '/api:v1', 'colon'],
  ['p.com', '/api:v1/users', 'colon'],
  ['p.com', '/api:v2', 'root'],
  ['p.com', '/api', 'root'],
  ['p.com', '/a-b.c~d@e', 'chars'],
  ['p.com', '/a-b.c~d@e/f', 'chars'],
  ['p.com', '/a-b.c~d@ef', 'root'],
  // Escapes of unreserved characters decode; those of reserved ones (`: @ /`) do not.
  ['p.com', '/f%6Fo', 'foo-exact'],
  ['p.com', '/%66%6F%6F/b%61r', 'foo-bar-prefix'],
  ['p.com', '/a-b.c%7Ed@e', 'chars'],
  ['p.com', '/a-b.c~d%40e', 'root'],
  ['p.com', '/api%3Av1', 'root'],
  ['p.com', '/foo%2Fbar', 'root'],
  ['p.com', '/foo%2fbar', 'root'],
  // Non-ASCII: HTTP parsers hand bytes over as Latin-1 characters, which normalise to their
  // escapes, so the UTF-8 bytes of `é` match the route `/caf%C3%A9` spelled either way; route
  // paths are normalised like requests, so escapes written in a route match the same escapes.
  ['p.com', '/caf%C3%A9', 'cafe'],
  ['p.com', '/caf\u00c3\u00a9', 'cafe'],
  ['p.com', '/caf\u00e9', 'root'],
  ['p.com', '/caf%c3%a9', 'cafe'],
  ['p.com', '/caf%25C3%25A9', 'root'],
  ['p.com', '/caf%C3%A9/~u/v', 'cafe-u-written-encoded'],
  ['p.com', '/caf%c3%a9/%7Eu', 'cafe-u-written-encoded'],
  // A decoded byte-order mark is a character like any other, not dropped.
  ['p.com', '/%EF%BB%BFfoo', 'root'],
  // Malformed escapes are refused; bytes that are not UTF-8 are still bytes.
  ['p.com', '/foo/%zz', '400'],
  ['p.com', '/foo/%C3', 'foo-prefix'],
  ['p.com', '/%', '400'],
  ['p.com', '/foo?%zz', 'foo-exact'],
  // `;` is not a query delimiter.
  ['p.com', '/foo;jsessionid=1', 'root'],
  ['p.com', '/foo/;x', 'foo-prefix'],
  ['p.com', '/x/y', 'xy-exact'],
  ['p.com', '/x/y/', 'root'],
  ['p.com', '/x/y/z', 'xyz'],
  ['p.com', '/x/y/zz', 'root'],
  // Request-targets that are not origin-form are refused.
  ['p.com', '*', '400'],
  ['p.com', '', '400'],
  ['p.com', 'http://p.com/foo', '400'],
  ['p.com', 'foo', '400'],
];

// Host selection never falls through to another host's routes.
const NO_FALL_THROUGH = table(
  [
    vhost('h.com', [prefix('/a', 'h-a')], 'h-default'),
    vhost('n.com', [prefix('/a', 'n-a')]),
    vhost('empty.com', [], 'empty-default'),
    vhost('*.h.com', [exact('/w', 'w')]),
    vhost('', [prefix('/b', 'catch-b'), prefix('/a', 'catch-a')], 'catch-default'),
  ],
  'table-default',
);
const NO_FALL_THROUGH_CASES: readonly Case[] = [
  ['h.com', '/a/1', 'h-a'],
  ['h.com', '/b', 'h-default'],
  ['n.com', '/b', 'table-default'],
  ['empty.com', '/a', 'empty-default'],
  ['x.h.com', '/w', 'w'],
  ['x.h.com', '/a', 'table-default'],
  ['other.com', '/b/x', 'catch-b'],
  ['other.com', '/c', 'catch-default'],
];

// Regex mode (use-regex / rewrite-target on the host): every route of the host by descending path
// length, first match wins; Regex routes case-insensitive and anchored at the start, Exact and
// Prefix as everywhere else. Hosts without Regex routes are unaffected.
const REGEX = table(
  [
    vhost(
      'r.com',
      [
        prefix('/', 'root'),
        exact('/foo', 'foo-exact'),
        regex('/foo', 'foo-regex'),
        prefix('/foo/bar', 'foo-bar-prefix'),
        regex('/foo/bar/(.+)', 'foo-bar-any'),
        regex('/foo/bar/[a-z]{3}', 'three-letters'),
        regex('/api/v[0-9]+/', 'api-versioned'),
        prefix('/api', 'api-prefix'),
        regex('/case', 'case-regex'),
        exact('/Exact', 'exact-case'),
        regex('/baz', 'baz'),
        regex('/a1|/b1', 'alternatives'),
        regex('/end$', 'end'),
        regex('/a.c', 'dot-regex'),
        exact('/abc', 'abc-exact'),
      ],
      'r-default',
    ),
    vhost('nodefault.r.com', [regex('/only/[0-9]+', 'only')]),
    vhost('plain.com', [prefix('/foo', 'plain-foo'), exact('/Exact', 'plain-exact')], 'plain-default'),
  ],
  'table-default',
);

const REGEX_CASES: readonly Case[] = [
  // ingress-nginx's documented warning: the longer regex wins over the Prefix it shadows.
  ['r.com', '/foo/bar/bar', 'three-letters'],
  ['r.com', '/foo/bar/1', 'foo-bar-any'],
  ['r.com', '/foo/bar/ba1', 'foo-bar-any'],
  ['r.com', '/FOO/BAR/x1', 'foo-bar-any'],
  ['r.com', '/foo/bar', 'foo-bar-prefix'],
  ['r.com', '/foo/bar/', 'foo-bar-prefix'],
  // Prefix stays element-wise and case-sensitive; the shorter regex takes what it leaves.
  ['r.com', '/foo/barx', 'foo-regex'],
  ['r.com', '/Foo/bar', 'foo-regex'],
  // Exact before Regex at equal length; Exact stays case-sensitive.
  ['r.com', '/foo', 'foo-exact'],
  ['r.com', '/FOO', 'foo-regex'],
  ['r.com', '/foox', 'foo-regex'],
  ['r.com', '/abc', 'abc-exact'],
  ['r.com', '/ABC', 'dot-regex'],
  ['r.com', '/a-c/d', 'dot-regex'],
  ['r.com', '/Exact', 'exact-case'],
  ['r.com', '/exact', 'root'],
  ['r.com', '/api/v2/users', 'api-versioned'],
  ['r.com', '/API/V10/', 'api-versioned'],
  ['r.com', '/api/vx', 'api-prefix'],
  ['r.com', '/api', 'api-prefix'],
  ['r.com', '/apix', 'root'],
  ['r.com', '/Case/x', 'case-regex'],
  ['r.com', '/casex', 'case-regex'],
  // Anchored at the start of the path, every alternative.
  ['r.com', '/x/baz', 'root'],
  ['r.com', '/bazooka', 'baz'],
  ['r.com', '/b1', 'alternatives'],
  ['r.com', '/x/b1', 'root'],
  ['r.com', '/end', 'end'],
  ['r.com', '/end/', 'root'],
  ['r.com', '/other', 'root'],
  // Regexes see the normalised path.
  ['r.com', '/foo/./bar/baz', 'three-letters'],
  ['r.com', '/foo//bar/1', 'foo-bar-any'],
  ['r.com', '/%66oo', 'foo-exact'],
  ['r.com', '/x/../end', 'end'],
  ['r.com', '/end?x', 'end'],
  ['r.com', '/end%3F', 'root'],
  ['r.com', '/../end', '400'],
  // No route: the host's default, else the table's.
  ['nodefault.r.com', '/only/12', 'only'],
  ['nodefault.r.com', '/ONLY/1x', 'only'],
  ['nodefault.r.com', '/only/x', 'table-default'],
  ['nodefault.r.com', '/x/only/1', 'table-default'],
  // A host without Regex routes keeps plain matching.
  ['plain.com', '/foo/x', 'plain-foo'],
  ['plain.com', '/FOO', 'plain-default'],
  ['plain.com', '/foox', 'plain-default'],
  ['plain.com', '/Exact', 'plain-exact'],
  ['plain.com', '/exact', 'plain-default'],
];

const GROUPS: ReadonlyArray<readonly [string, RouteTable, readonly Case[]]> = [
  ['host selection', HOSTS, HOST_CASES],
  ['no catch-all host', NO_CATCH_ALL, NO_CATCH_ALL_CASES],
  ['no default backends (built-in 404)', NO_DEFAULTS, NO_DEFAULTS_CASES],
  ['path selection', PATHS, PATH_CASES],
  ['no fall-through between hosts', NO_FALL_THROUGH, NO_FALL_THROUGH_CASES],
  ['regex mode', REGEX, REGEX_CASES],
];

describe.each(IMPLEMENTATIONS)('%s', (_name, build) => {
  describe.each(GROUPS)('%s', (_group, routeTable, cases) => {
    const matcher = build(routeTable);
    it.each(cases)('host %j path %j → %j', (host, target, want) => {
      const path = normaliseUriPath(target);
      expect(path === null ? '400' : matcher.lookup(host, path).backend).toBe(want);
    });
  });

  it('reports the route and host that matched, or null for defaults', () => {
    const matcher = build(PATHS);
    const vh = PATHS.hosts[0]!;
    const hit = matcher.lookup('P.COM', '/foo/x');
    expect(hit.route).toBe(vh.routes[2]);
    expect(hit.host).toBe(vh);
    const miss = matcher.lookup('p.com', 'not-a-path');
    expect(miss).toEqual({ backend: 'p-default', route: null, host: vh, steps: [], series: 0 });
    expect(miss.host).toBe(vh);
    expect(matcher.lookup('nowhere.com', '/foo')).toEqual({ backend: 'table-default', route: null, host: null, steps: [], series: 0 });
  });

  it('serves an empty table with the table default backend', () => {
    expect(build(table([], 'd')).lookup('a.com', '/')).toEqual({ backend: 'd', route: null, host: null, steps: [], series: 0 });
    expect(build(table([], null)).lookup('a.com', '/')).toEqual({ backend: null, route: null, host: null, steps: [], series: 0 });
  });
});

// ---- generated tables: router vs reference -------------------------------------------------------

class Gen {
  readonly #next: () => number;
  constructor(seed: number) {
    // Seeded: a failure names a seed that reproduces it.
    this.#next = seeded(seed);
  }
  int(n: number): number {
    return Math.floor(this.#next() * n);
  }
  chance(p: number): boolean {
    return this.#next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}

// Segments chosen to share string prefixes (`foo`/`foobar`/`fo`), hold the characters find-my-way
// treats specially (`:` parameters, `-` and `.` inside parameters, `%` escapes) and others
// that are legal in paths (`~`, `@`), mixed case and non-ASCII.
const SEGMENTS = [
  'foo', 'foobar', 'fo', 'f', 'bar', 'a', 'b', 'api', 'v1', 'v1:beta', ':id', 'x::y',
  'a-b', 'a.b', '~u', 'me@host', 'Foo', 'café', 'caf%C3%A9', '%7E', '.', '-',
];
// Patterns RE2 and JavaScript's RegExp read alike, over the segments above.
const REGEX_PATTERNS = ['/foo.*', '/f(o|oo)bar', '/[a-z]{2}/', '/a.b$', '/.*/x', '/api/v[0-9]+', '/FOO', '/(.+)/bar', '/fo', '/caf', '/a-b|/a.b', '/v1:beta$', '/x::y/?$'];
const HOST_NAMES = ['foo.com', 'a.foo.com', 'b.a.foo.com', 'bar.org', '*.foo.com', '*.a.foo.com', '*.org', '[::1]', ''];
const REQUEST_HOSTS = [
  'foo.com', 'a.foo.com', 'b.a.foo.com', 'bar.org', 'z.foo.com', 'z.a.foo.com', 'z.b.a.foo.com', 'q.org',
  'x.y.org', 'org', 'foo.com.', 'FOO.com:8080', 'A.Foo.Com.:443', '[::1]:8080', '[::1]', '', 'unknown.net', '.foo.com',
];

function randomPath(g: Gen): string {
  if (g.chance(0.1)) return '/';
  const depth = 1 + g.int(3);
  const segments: string[] = [];
  for (let i = 0; i < depth; i++) segments.push(g.pick(SEGMENTS));
  return '/' + segments.join('/');
}

function randomTable(g: Gen): RouteTable {
  // A small path pool per table, so routes nest and collide (same path, Exact and Prefix).
  const pool: string[] = [];
  const poolSize = 2 + g.int(6);
  for (let i = 0; i < poolSize; i++) {
    const base = pool.length > 0 && g.chance(0.5) ? g.pick(pool) : '';
    pool.push(base === '' || base === '/' ? randomPath(g) : base + randomPath(g));
  }
  pool.push('/');

  const hosts: VirtualHost[] = [];
  const hostCount = g.int(5);
  const usedHosts = new Set<string>();
  let backendId = 0;
  for (let h = 0; h < hostCount; h++) {
    const name = g.pick(HOST_NAMES);
    if (usedHosts.has(name)) continue;
    usedHosts.add(name);
    const routes: Route[] = [];
    const seen = new Set<string>();
    const routeCount = g.int(8);
    for (let r = 0; r < routeCount; r++) {
      const match: MatchType = g.chance(0.5) ? 'Exact' : 'Prefix';
      let path = g.pick(pool);
      if (match === 'Exact' && path !== '/' && g.chance(0.3)) path += '/'; // Exact keeps a trailing slash
      const key = `${match} ${path}`;
      if (seen.has(key)) continue; // compile keeps one route per host, path and match
      seen.add(key);
      routes.push(route(match, path, `b${backendId++}`));
    }
    // Some hosts in regex mode: a few Regex routes among the others.
    if (g.chance(0.25)) {
      const regexCount = 1 + g.int(3);
      for (let r = 0; r < regexCount; r++) {
        const pattern = g.pick(REGEX_PATTERNS);
        if (seen.has(`Regex ${pattern}`)) continue;
        seen.add(`Regex ${pattern}`);
        routes.push(regex(pattern, `b${backendId++}`));
      }
    }
    routes.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : x.match < y.match ? -1 : x.match > y.match ? 1 : 0));
    hosts.push(vhost(name, routes, g.chance(0.4) ? `host-default-${h}` : null));
  }
  hosts.sort((x, y) => (x.host < y.host ? -1 : x.host > y.host ? 1 : 0));
  return table(hosts, g.chance(0.5) ? 'table-default' : null);
}

function encodeOneLetter(g: Gen, path: string): string {
  const letters: number[] = [];
  for (let i = 1; i < path.length; i++) if (/[A-Za-z]/.test(path[i]!)) letters.push(i);
  if (letters.length === 0) return path;
  const i = g.pick(letters);
  const hex = path.charCodeAt(i).toString(16);
  return path.slice(0, i) + '%' + (g.chance(0.5) ? hex : hex.toUpperCase()) + path.slice(i + 1);
}

function flipOneCase(g: Gen, path: string): string {
  const letters: number[] = [];
  for (let i = 1; i < path.length; i++) if (/[A-Za-z]/.test(path[i]!)) letters.push(i);
  if (letters.length === 0) return path;
  const i = g.pick(letters);
  const ch = path[i]!;
  return path.slice(0, i) + (ch === ch.toLowerCase() ? ch.toUpperCase() : ch.toLowerCase()) + path.slice(i + 1);
}

const MUTATIONS: ReadonlyArray<(g: Gen, path: string) => string> = [
  (_g, p) => p + '/x',
  (_g, p) => p + 'x',
  (_g, p) => p + '/',
  (_g, p) => p + '?q=1&r=/a/b',
  (_g, p) => p + '?',
  (_g, p) => p + '#frag',
  (_g, p) => p + '?%zz',
  (_g, p) => p + '/x?y=%2F',
  (_g, p) => p.slice(0, -1),
  flipOneCase,
  encodeOneLetter,
  (_g, p) => p.replace('é', '%C3%A9'),
  (_g, p) => p.replace('%C3%A9', 'é'),
  (_g, p) => p.replace('%', '%25'),
  (_g, p) => p.replace(':', '%3A'),
  (_g, p) => p.replace(':', '%3a'),
  (_g, p) => p.replace('@', '%40'),
  (_g, p) => p.replace('~', '%7E'),
  (_g, p) => p.replace('/', '//'),
  (_g, p) => p + '//',
  (_g, p) => p + '/%zz',
  (_g, p) => p + '%C3',
  (_g, p) => p + '/.',
  (_g, p) => p + '/..',
  (_g, p) => p + '/../x',
  (_g, p) => p.replace('/', '/./'),
  (_g, p) => p.replace('/', '/a/%2e%2E/'),
  (_g, p) => p + '%',
  (_g, p) => p + '%2F',
  (_g, p) => p + ';x=1',
  (_g, p) => p + '/aaaaaaaaaaaaaaaa', // long: find-my-way scans paths of 12+ characters differently
];

function randomRequestPath(g: Gen, t: RouteTable): string {
  const roll = g.int(20);
  if (roll === 0) return g.pick(['*', '', 'http://foo.com/foo', 'foo', '?x']);
  const routes = t.hosts.flatMap((h) => h.routes);
  let path = routes.length > 0 && roll > 3 ? g.pick(routes).path : randomPath(g);
  const mutations = g.int(3);
  for (let i = 0; i < mutations; i++) path = g.pick(MUTATIONS)(g, path);
  return path;
}

function randomRequestHost(g: Gen, t: RouteTable): string {
  if (t.hosts.length > 0 && g.chance(0.7)) {
    const name = g.pick(t.hosts).host;
    return name.startsWith('*.') ? g.pick(['z', 'Z', 'xn--caf-dma']) + name.slice(1) : name;
  }
  return g.pick(REQUEST_HOSTS);
}

const TABLES = 1000;
const LOOKUPS_PER_TABLE = 40;

function describeMatch(m: Match): string {
  return JSON.stringify({ backend: m.backend, route: m.route && `${m.route.match} ${m.route.path}`, host: m.host?.host ?? null });
}

describe.each(IMPLEMENTATIONS.filter(([name]) => name !== 'reference'))('%s agrees with the reference matcher', (_name, build) => {
  it(`on ${TABLES} generated tables × ${LOOKUPS_PER_TABLE} lookups`, () => {
    const mismatches: string[] = [];
    let lookups = 0;
    let routed = 0;
    let viaRoute = 0;
    let viaRegex = 0;
    for (let seed = 1; seed <= TABLES; seed++) {
      const g = new Gen(seed);
      const t = randomTable(g);
      const router = build(t);
      const reference = new ReferenceMatcher(t);
      for (let i = 0; i < LOOKUPS_PER_TABLE; i++) {
        const host = randomRequestHost(g, t);
        const path = normaliseUriPath(randomRequestPath(g, t));
        if (path === null) continue;
        const got = router.lookup(host, path);
        const want = reference.lookup(host, path);
        lookups++;
        if (want.backend !== null) routed++;
        if (want.route !== null) viaRoute++;
        if (want.route?.match === 'Regex') viaRegex++;
        if (got.backend !== want.backend || got.route !== want.route || got.host !== want.host) {
          if (mismatches.length < 20) {
            mismatches.push(`seed ${seed}: ${JSON.stringify(host)} ${JSON.stringify(path)}: got ${describeMatch(got)}, want ${describeMatch(want)}`);
          }
        }
      }
    }
    expect(mismatches).toEqual([]);
    expect(lookups).toBeGreaterThan(TABLES * LOOKUPS_PER_TABLE * 0.8);
    // The generator must exercise routes, not only defaults: guard against it drifting.
    expect(viaRoute).toBeGreaterThan(lookups / 5);
    expect(routed).toBeGreaterThan(viaRoute);
    expect(viaRegex).toBeGreaterThan(lookups / 50);
  });
});
