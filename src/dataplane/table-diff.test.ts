import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Backend, Route, RouteTable, VirtualHost } from '../core/model.ts';
import { Router } from './router/router.ts';
import { applyTableDiff, TableDiffer, type TableDiff } from './table-diff.ts';

const HOSTS = ['a.test', 'b.test', 'c.test', '*.w.test', ''];
const PATHS = ['/', '/a', '/a/b', '/b', '/c/d', '/a/b/c'];
/** Sorted, as compile sorts a table's backends. */
const BACKENDS = ['ns/one:80', 'ns/three:http', 'ns/two:80'];
const REQUESTS = ['a.test', 'b.test', 'c.test', 'x.w.test', 'other.test'].flatMap((h) => ['/', '/a', '/a/x', '/a/b', '/a/b/c/d', '/b/', '/c/d', '/zz'].map((p) => [h, p] as const));

const route: fc.Arbitrary<Route> = fc.record({
  path: fc.constantFrom(...PATHS),
  match: fc.constantFrom('Exact' as const, 'Prefix' as const),
  backend: fc.constantFrom(...BACKENDS),
  ingress: fc.constant('ns/ing'),
  sslRedirect: fc.boolean(),
});

const vhost = (host: string): fc.Arbitrary<VirtualHost> =>
  fc.record({
    host: fc.constant(host),
    // One route per path and match, as compile gives them.
    routes: fc.uniqueArray(route, { selector: (r) => `${r.match} ${r.path}`, maxLength: 4 }),
    defaultBackend: fc.option(fc.constantFrom(...BACKENDS), { nil: null }),
    tls: fc.boolean(),
    sslRedirect: fc.boolean(),
  });

const backend = (id: string): fc.Arbitrary<Backend> => fc.record({ id: fc.constant(id), namespace: fc.constant('ns'), service: fc.constant(id.slice(3, -3)), port: fc.constantFrom(80, 8080), target: fc.constant({ kind: 'endpoints' } as unknown as Backend['target']) });

const table = (generation: number): fc.Arbitrary<RouteTable> =>
  fc.record({
    hosts: fc.subarray(HOSTS).chain((hosts) => fc.tuple(...hosts.map(vhost))),
    backends: fc.subarray(BACKENDS).chain((ids) => fc.tuple(...ids.map(backend))),
    defaultBackend: fc.option(fc.constantFrom(...BACKENDS), { nil: null }),
    tls: fc.subarray(HOSTS).chain((hosts) => fc.tuple(...hosts.map((host) => fc.record({ host: fc.constant(host), secret: fc.constantFrom(null, 'ns/tls-a', 'ns/tls-b'), ingress: fc.constant('ns/ing'), field: fc.constant('spec.tls[0]') })))),
  }).map(({ hosts, backends, defaultBackend, tls }) => ({
    generation,
    fingerprint: `f${generation}`,
    hosts: [...hosts].sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0)),
    defaultBackend,
    backends: Object.fromEntries(backends.map((b) => [b.id, b])),
    tls: [...tls].sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0)),
    defaultCertificate: null,
  }));

/** What a router answers for every request of REQUESTS. */
function answers(router: Router): unknown[] {
  return REQUESTS.map(([h, p]) => {
    const m = router.lookup(h, p);
    return [m.backend, m.route?.path ?? null, m.route?.match ?? null, m.host?.host ?? null];
  });
}

/** The diff of the walk for hosts that are not sorted (both tables' hosts reversed). */
function unsortedDiff(before: RouteTable, after: RouteTable): TableDiff {
  const differ = new TableDiffer();
  differ.diff({ ...before, hosts: [...before.hosts].reverse() });
  return differ.diff({ ...after, hosts: [...after.hosts].reverse() })!;
}

function expectSameHostChanges(got: TableDiff, want: TableDiff): void {
  expect(new Set(got.hosts)).toEqual(new Set(want.hosts));
  expect(new Set(got.removedHosts)).toEqual(new Set(want.removedHosts));
}

describe('table diffs', () => {
  it('a worker applying the diff ends with the table and the router answers of the whole new table', () => {
    fc.assert(
      fc.property(table(1), table(2), fc.boolean(), (before, after, warm) => {
        const differ = new TableDiffer();
        expect(differ.diff(before)).toBeNull();
        const diff = differ.diff(after)!;
        // The worker's copy, as structured clone gives it.
        const served = structuredClone(before);
        const applied = applyTableDiff(served, structuredClone(diff));
        expect(applied).toEqual(after);
        expect(JSON.stringify(applied)).toBe(JSON.stringify(after));
        const old = new Router(served);
        // Matchers built (requests came) or not before the change.
        if (warm) answers(old);
        expect(answers(new Router(applied, {}, old))).toEqual(answers(new Router(after)));
      }),
      { numRuns: 300 },
    );
  });

  it('hosts changed in place (none added or removed) apply as the whole new table too', () => {
    fc.assert(
      fc.property(table(1), fc.array(fc.nat(), { maxLength: 5 }), (before, picks) => {
        const changed = new Set(picks.map((p) => p % Math.max(1, before.hosts.length)));
        const after = { ...before, generation: 2, fingerprint: 'after', hosts: before.hosts.map((vh, i) => (changed.has(i) ? { ...vh, routes: [], defaultBackend: null } : vh)) };
        const differ = new TableDiffer();
        differ.diff(before);
        const applied = applyTableDiff(structuredClone(before), structuredClone(differ.diff(after)!));
        expect(JSON.stringify(applied)).toBe(JSON.stringify(after));
      }),
      { numRuns: 300 },
    );
  });

  it('sends only the hosts and backends that changed, and keeps the objects of the others', () => {
    const vh = (host: string, path: string): VirtualHost => ({ host, routes: [{ path, match: 'Prefix', backend: 'ns/one:80', ingress: 'ns/ing', sslRedirect: false }], defaultBackend: null, tls: false, sslRedirect: false });
    const t = (generation: number, hosts: VirtualHost[]): RouteTable => ({ generation, fingerprint: `f${generation}`, hosts, defaultBackend: null, backends: {}, tls: [], defaultCertificate: null });
    const differ = new TableDiffer();
    differ.diff(t(1, [vh('a.test', '/a'), vh('b.test', '/b'), vh('c.test', '/c')]));
    const diff = differ.diff(t(2, [vh('a.test', '/a'), vh('b.test', '/new'), vh('d.test', '/d')]))!;
    expect(diff.hosts.map((h) => h.host)).toEqual(['b.test', 'd.test']);
    expect(diff.removedHosts).toEqual(['c.test']);
    const served = t(1, [vh('a.test', '/a'), vh('b.test', '/b'), vh('c.test', '/c')]);
    const applied = applyTableDiff(served, diff);
    expect(applied.hosts[0]).toBe(served.hosts[0]);
    expect(applied.generation).toBe(2);
  });

  it('finds the same changes in tables whose hosts are not sorted', () => {
    fc.assert(
      fc.property(table(1), table(2), (before, after) => {
        const sorted = new TableDiffer();
        sorted.diff(before);
        expectSameHostChanges(unsortedDiff(before, after), sorted.diff(after)!);
      }),
      { numRuns: 200 },
    );
  });

  it('a next table that keeps some of the hosts as the same objects (as compile does), in order or not, gives the changes the unsorted walk finds', () => {
    fc.assert(
      fc.property(table(1), table(2), fc.array(fc.constantFrom('keep', 'keep', 'change', 'drop'), { minLength: HOSTS.length, maxLength: HOSTS.length }), fc.boolean(), (before, extra, fates, shuffle) => {
        const kept = before.hosts.flatMap((vh, i) => (fates[i] === 'drop' ? [] : fates[i] === 'change' ? [{ ...vh, routes: [], defaultBackend: 'ns/changed:80' }] : [vh]));
        const names = new Set(kept.map((vh) => vh.host));
        const hosts = [...kept, ...extra.hosts.filter((vh) => !names.has(vh.host))].sort((x, y) => (x.host < y.host ? -1 : 1));
        const after = { ...extra, hosts: shuffle ? [...hosts].reverse() : hosts };
        const differ = new TableDiffer();
        differ.diff(before);
        const got = differ.diff(after)!;
        expectSameHostChanges(got, unsortedDiff(before, after));
        if (!shuffle) expect(JSON.stringify(applyTableDiff(structuredClone(before), structuredClone(got)))).toBe(JSON.stringify(after));
      }),
      { numRuns: 300 },
    );
  });

  it('refuses a diff made for another generation', () => {
    const t = (generation: number): RouteTable => ({ generation, fingerprint: 'f', hosts: [], defaultBackend: null, backends: {}, tls: [], defaultCertificate: null });
    const differ = new TableDiffer();
    differ.diff(t(1));
    expect(() => applyTableDiff(t(3), differ.diff(t(2))!)).toThrow(/generation 1 applied to generation 3/);
  });
});

describe('router reuse', () => {
  it('keeps the built matcher of a host whose VirtualHost is the same object, and builds a changed one afresh', () => {
    const a: VirtualHost = { host: 'a.test', routes: [{ path: '/a', match: 'Prefix', backend: 'ns/one:80', ingress: 'ns/ing', sslRedirect: false }], defaultBackend: null, tls: false, sslRedirect: false };
    const b: VirtualHost = { ...a, host: 'b.test' };
    const t = (hosts: VirtualHost[], defaultBackend: string | null = null): RouteTable => ({ generation: 1, fingerprint: 'f', hosts, defaultBackend, backends: {}, tls: [], defaultCertificate: null });
    const first = new Router(t([a, b]));
    const matchA = first.lookup('a.test', '/a/x');
    first.lookup('b.test', '/a/x');
    const b2: VirtualHost = { ...b, routes: [{ ...b.routes[0]!, backend: 'ns/two:80' }] };
    const second = new Router(t([a, b2]), {}, first);
    expect(second.lookup('a.test', '/a/x')).toBe(matchA);
    expect(second.lookup('b.test', '/a/x').backend).toBe('ns/two:80');
    // Another table default backend changes every host's miss: nothing is kept.
    const third = new Router(t([a, b2], 'ns/three:80'), {}, second);
    expect(third.lookup('a.test', '/zz').backend).toBe('ns/three:80');
    expect(third.lookup('a.test', '/a/x')).not.toBe(matchA);
  });

  it('answers a host whose matcher cannot be built as if it had no route, and says so', () => {
    const errors: string[] = [];
    const vh: VirtualHost = { host: 'a.test', routes: [{ path: '/a', match: 'Prefix', backend: 'ns/one:80', ingress: 'ns/ing', sslRedirect: false, policies: {} }], defaultBackend: 'ns/two:80', tls: false, sslRedirect: false };
    const router = new Router({ generation: 1, fingerprint: 'f', hosts: [vh], defaultBackend: null, backends: {}, tls: [], defaultCertificate: null }, { steps: (policies) => { if (policies !== undefined) throw new Error('no'); return []; }, onError: (_err, host) => errors.push(host) });
    expect(router.lookup('a.test', '/a').backend).toBe('ns/two:80');
    expect(errors).toEqual(['a.test']);
  });
});
