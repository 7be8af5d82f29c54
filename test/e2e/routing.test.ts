// Every routing rule of DESIGN.md "Kubernetes semantics", end to end: YAML in a watched
// directory → the real controller → worker threads → echo upstreams that say who they are.

import { lookup } from 'node:dns/promises';
import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { externalNameProblem } from '../../src/core/processors/external-name.ts';
import { startEcho, startEchoes, type Echo } from '../support/echo-upstream.ts';
import { servedBy } from '../support/http-client.ts';
import {
  backendService,
  endpointSlice,
  externalNameService,
  ingress,
  ingressClass,
  manifest,
  service,
  simpleIngress,
  startGatehouse,
  type Gatehouse,
} from '../support/harness.ts';

async function who(gh: Gatehouse, host: string, path: string): Promise<string | number> {
  const r = await gh.request(path, { host });
  return r.status === 200 ? (servedBy(r) ?? `200 from a non-echo: ${r.text}`) : r.status;
}

const LEGACY = 'kubernetes.io/ingress.class';

/**
 * An ExternalName target that the resolver maps to this machine, with an echo listening there:
 * the machine's host name (/etc/hosts gives it one of its own addresses). `localhost` cannot
 * serve, compile refuses it. null, with a line saying why, when the host name does not resolve
 * to a loopback IPv4 address an echo can listen on.
 */
async function startDnsTarget(): Promise<{ name: string; echo: Echo } | null> {
  const name = hostname().toLowerCase();
  const skip = (why: string) => {
    console.log(`routing.test.ts: skipping the ExternalName-by-DNS case: the host name ${JSON.stringify(name)} ${why}`);
    return null;
  };
  if (externalNameProblem(name) !== null) return skip('is refused as an ExternalName');
  let address: string;
  try {
    ({ address } = await lookup(name, { family: 4 }));
  } catch {
    return skip('does not resolve to an IPv4 address');
  }
  // Tests listen and send only on loopback: a host name that resolves elsewhere is not used.
  if (!address.startsWith('127.')) return skip(`resolves to ${address}, not a loopback address`);
  try {
    return { name, echo: await startEcho({ name: 'external-dns', host: address }) };
  } catch {
    return skip(`resolves to ${address}, which is not an address of this machine`);
  }
}

const dns = await startDnsTarget();

describe('routing with the default flags', () => {
  const names = [
    'ours', 'legacy', 'foo', 'foobar', 'exact', 'prefix', 'trail', 'wild', 'wild-exact',
    'merge-old', 'merge-new', 'host-default', 'port-web', 'port-alt', 'ready', 'not-ready', 'external', 'unready-only',
  ] as const;
  let e: Record<(typeof names)[number], Echo> & { closeAll(): Promise<void> };
  let gh: Gatehouse;

  beforeAll(async () => {
    e = await startEchoes(names);
    const plain = ['ours', 'legacy', 'foo', 'foobar', 'exact', 'prefix', 'trail', 'wild', 'wild-exact', 'merge-old', 'merge-new', 'host-default'] as const;
    const services = plain.map((n) => backendService(n, e[n].port));
    gh = await startGatehouse({
      manifests: {
        'classes.yaml': manifest(ingressClass('gatehouse'), ingressClass('other', { controller: 'example.com/other' })),
        'services.yaml': manifest(
          ...services,
          // Two named ports on one Service; the EndpointSlice says where each really goes.
          service('multi', { ports: [{ name: 'web', port: 80, targetPort: 8080 }, { name: 'alt', port: 81, targetPort: 8081 }] }),
          endpointSlice('multi-1', 'multi', { ports: [{ name: 'web', port: e['port-web'].port }, { name: 'alt', port: e['port-alt'].port }] }),
          // One ready and one not-ready endpoint.
          service('readiness'),
          endpointSlice('readiness-1', 'readiness', { ports: [{ name: 'http', port: e.ready.port }], endpoints: [{ ready: true }] }),
          endpointSlice('readiness-2', 'readiness', { ports: [{ name: 'http', port: e['not-ready'].port }], endpoints: [{ ready: false }] }),
          // Only not-ready endpoints; and a Service with no EndpointSlice at all.
          service('unready'),
          endpointSlice('unready-1', 'unready', { ports: [{ name: 'http', port: e['unready-only'].port }], endpoints: [{ ready: false }] }),
          service('no-slices'),
          // ExternalName `localhost` names the proxy's own host: refused, although the echo listens there.
          externalNameService('external', 'localhost', { ports: [{ name: 'http', port: e.external.port }] }),
          ...(dns ? [externalNameService('external-dns', dns.name, { ports: [{ name: 'http', port: dns.echo.port }] })] : []),
        ),
        'class.yaml': manifest(
          simpleIngress('class-ours', 'ours.test', 'ours'),
          simpleIngress('class-other', 'other.test', 'ours', { className: 'other' }),
          simpleIngress('class-unknown', 'unknown-class.test', 'ours', { className: 'no-such-class' }),
          ingress('class-legacy', { className: null, annotations: { [LEGACY]: 'gatehouse' }, rules: [{ host: 'legacy.test', paths: [{ service: 'legacy' }] }] }),
          ingress('class-legacy-other', { className: null, annotations: { [LEGACY]: 'nginx' }, rules: [{ host: 'legacy-other.test', paths: [{ service: 'legacy' }] }] }),
          simpleIngress('class-none', 'noclass.test', 'ours', { className: null }),
        ),
        'paths.yaml': manifest(
          // Order in YAML must not matter: the longest and the Exact ones come in odd places.
          ingress('paths', {
            rules: [
              {
                host: 'paths.test',
                paths: [
                  { path: '/foo/bar', pathType: 'Prefix', service: 'foobar' },
                  { path: '/eq', pathType: 'Exact', service: 'exact' },
                  { path: '/foo', pathType: 'Prefix', service: 'foo' },
                  { path: '/eq', pathType: 'Prefix', service: 'prefix' },
                  { path: '/trail/', pathType: 'Prefix', service: 'trail' },
                  { path: '/exact-only', pathType: 'Exact', service: 'exact' },
                  { path: '/slash/', pathType: 'Exact', service: 'exact' },
                ],
              },
            ],
          }),
        ),
        'hosts.yaml': manifest(
          simpleIngress('wild', '*.wild.test', 'wild'),
          simpleIngress('wild-exact', 'exact.wild.test', 'wild-exact'),
          // Newer but first in the file and first by name: the timestamp must decide.
          ingress('aaa-newer', {
            creationTimestamp: '2024-01-01T00:00:00Z',
            rules: [{ host: 'merge.test', paths: [{ path: '/two', service: 'merge-new' }, { path: '/shared', service: 'merge-new' }] }],
          }),
          ingress('zzz-older', {
            creationTimestamp: '2020-01-01T00:00:00Z',
            rules: [{ host: 'merge.test', paths: [{ path: '/one', service: 'merge-old' }, { path: '/shared', service: 'merge-old' }] }],
          }),
          ingress('host-default', {
            defaultBackend: { service: 'host-default' },
            rules: [{ host: 'dflt.test', paths: [{ path: '/x', pathType: 'Exact', service: 'ours' }] }],
          }),
        ),
        'backends.yaml': manifest(
          ingress('ports', {
            rules: [
              {
                host: 'ports.test',
                paths: [
                  { path: '/by-number', service: 'multi', port: 80 },
                  { path: '/by-number-81', service: 'multi', port: 81 },
                  { path: '/by-name', service: 'multi', port: 'alt' },
                ],
              },
            ],
          }),
          simpleIngress('readiness', 'ready.test', 'readiness'),
          ingress('external', { rules: [{ host: 'external.test', paths: [{ service: 'external', port: e.external.port }] }] }),
          ...(dns ? [ingress('external-dns', { rules: [{ host: 'external-dns.test', paths: [{ service: 'external-dns', port: 'http' }] }] })] : []),
          simpleIngress('missing', 'missing.test', 'does-not-exist'),
          simpleIngress('unready', 'unready.test', 'unready'),
          simpleIngress('no-slices', 'no-slices.test', 'no-slices'),
        ),
      },
    });
  });

  afterAll(async () => {
    await gh?.close();
    await e?.closeAll();
    await dns?.echo.close();
  });

  describe('class selection', () => {
    it('serves an Ingress whose ingressClassName is an IngressClass of our controller', async () => {
      expect(await who(gh, 'ours.test', '/')).toBe('ours');
    });
    it('ignores an Ingress whose class belongs to another controller, or names no IngressClass', async () => {
      expect(await who(gh, 'other.test', '/')).toBe(404);
      expect(await who(gh, 'unknown-class.test', '/')).toBe(404);
    });
    it('serves an Ingress with no class field whose legacy annotation equals --ingress-class', async () => {
      expect(await who(gh, 'legacy.test', '/')).toBe('legacy');
    });
    it('ignores an Ingress whose legacy annotation names another class', async () => {
      expect(await who(gh, 'legacy-other.test', '/')).toBe(404);
    });
    it('ignores an Ingress without any class when our class is not default and the watch flag is off', async () => {
      expect(await who(gh, 'noclass.test', '/')).toBe(404);
    });
  });

  describe('paths', () => {
    it('Prefix matches element-wise: the path itself, with a trailing slash, and below it', async () => {
      expect(await who(gh, 'paths.test', '/foo')).toBe('foo');
      expect(await who(gh, 'paths.test', '/foo/')).toBe('foo');
      expect(await who(gh, 'paths.test', '/foo/baz')).toBe('foo');
      expect(await who(gh, 'paths.test', '/foo/barn')).toBe('foo');
    });
    it('Prefix /foo does not match /foobar', async () => {
      expect(await who(gh, 'paths.test', '/foobar')).toBe(404);
    });
    it('the longest matching path wins, whatever the YAML order', async () => {
      expect(await who(gh, 'paths.test', '/foo/bar')).toBe('foobar');
      expect(await who(gh, 'paths.test', '/foo/bar/baz')).toBe('foobar');
    });
    it('Exact beats Prefix at equal length; below it only the Prefix applies', async () => {
      expect(await who(gh, 'paths.test', '/eq')).toBe('exact');
      expect(await who(gh, 'paths.test', '/eq/')).toBe('prefix');
      expect(await who(gh, 'paths.test', '/eq/x')).toBe('prefix');
    });
    it('a trailing slash in a Prefix path is ignored', async () => {
      expect(await who(gh, 'paths.test', '/trail')).toBe('trail');
      expect(await who(gh, 'paths.test', '/trail/')).toBe('trail');
      expect(await who(gh, 'paths.test', '/trail/x')).toBe('trail');
      expect(await who(gh, 'paths.test', '/trailx')).toBe(404);
    });
    it('Exact matches the whole path only, case-sensitively, trailing slash significant, query ignored', async () => {
      expect(await who(gh, 'paths.test', '/exact-only')).toBe('exact');
      expect(await who(gh, 'paths.test', '/exact-only?x=1')).toBe('exact');
      expect(await who(gh, 'paths.test', '/exact-only/')).toBe(404);
      expect(await who(gh, 'paths.test', '/exact-only/x')).toBe(404);
      expect(await who(gh, 'paths.test', '/Exact-only')).toBe(404);
      expect(await who(gh, 'paths.test', '/slash/')).toBe('exact');
      expect(await who(gh, 'paths.test', '/slash')).toBe(404);
    });
    it('paths are case-sensitive for Prefix too', async () => {
      expect(await who(gh, 'paths.test', '/FOO')).toBe(404);
    });
  });

  describe('hosts', () => {
    it('matches the host case-insensitively and ignores the port', async () => {
      expect(await who(gh, 'PaThS.TeSt', '/foo')).toBe('foo');
      expect(await who(gh, 'paths.test:31337', '/foo')).toBe('foo');
      expect(await who(gh, 'PATHS.TEST:80', '/foo/bar')).toBe('foobar');
      expect(await who(gh, 'paths.test.', '/foo')).toBe('foo');
    });
    it('a wildcard host matches exactly one extra label', async () => {
      expect(await who(gh, 'a.wild.test', '/')).toBe('wild');
      expect(await who(gh, 'B.Wild.Test:8080', '/x')).toBe('wild');
      expect(await who(gh, 'a.b.wild.test', '/')).toBe(404);
      expect(await who(gh, 'wild.test', '/')).toBe(404);
    });
    it('an exact host beats a wildcard', async () => {
      expect(await who(gh, 'exact.wild.test', '/')).toBe('wild-exact');
    });
    it('a host nothing matches gets the built-in 404: small plain text', async () => {
      const r = await gh.request('/', { host: 'nobody.test' });
      expect(r.status).toBe(404);
      expect(r.headers['content-type']).toBe('text/plain; charset=utf-8');
      expect(r.text).toBe('404 Not Found\n');
    });
  });

  describe('several Ingresses on one host', () => {
    it('merges their paths', async () => {
      expect(await who(gh, 'merge.test', '/one')).toBe('merge-old');
      expect(await who(gh, 'merge.test', '/two')).toBe('merge-new');
    });
    it('gives a conflicting path to the Ingress with the oldest creationTimestamp, and the loser a condition', async () => {
      expect(await who(gh, 'merge.test', '/shared')).toBe('merge-old');
      expect(await who(gh, 'merge.test', '/shared/deeper')).toBe('merge-old');
      const lost = gh.controller.conditions().filter((c) => c.code === 'GH_ROUTE_CONFLICT');
      expect(lost.map((c) => `${c.ref.namespace}/${c.ref.name}`)).toEqual(['default/aaa-newer']);
    });
  });

  describe('default backends', () => {
    it("an Ingress's spec.defaultBackend serves its own host's unmatched paths", async () => {
      expect(await who(gh, 'dflt.test', '/x')).toBe('ours');
      expect(await who(gh, 'dflt.test', '/')).toBe('host-default');
      expect(await who(gh, 'dflt.test', '/x/y')).toBe('host-default');
    });
    it("does not serve other hosts' unmatched paths", async () => {
      expect(await who(gh, 'paths.test', '/nothing-here')).toBe(404);
      expect(await who(gh, 'elsewhere.test', '/')).toBe(404);
    });
  });

  describe('backends', () => {
    it('resolves a Service port by number and by name, and uses the EndpointSlice port (not targetPort)', async () => {
      expect(await who(gh, 'ports.test', '/by-number')).toBe('port-web');
      expect(await who(gh, 'ports.test', '/by-number-81')).toBe('port-alt');
      expect(await who(gh, 'ports.test', '/by-name')).toBe('port-alt');
    });
    it('never sends to a not-ready endpoint', async () => {
      for (let i = 0; i < 12; i++) expect(await who(gh, 'ready.test', `/${i}`)).toBe('ready');
      expect(e['not-ready'].received).toHaveLength(0);
    });
    it.skipIf(dns === null)('proxies to an ExternalName Service resolved by DNS', async () => {
      expect(await who(gh, 'external-dns.test', '/ext')).toBe('external-dns');
      expect(dns!.echo.received.at(-1)?.url).toBe('/ext');
    });
    it('never proxies to an ExternalName Service that names the local host: 503, and the Ingress gets a condition', async () => {
      expect(await who(gh, 'external.test', '/ext')).toBe(503);
      expect(e.external.received).toHaveLength(0);
      const codes = gh.controller.conditions().filter((c) => c.ref.kind === 'Ingress' && c.ref.name === 'external').map((c) => c.code);
      expect(codes).toEqual(['GH_SERVICE_EXTERNALNAME_FORBIDDEN']);
    });
    it('answers 503 when the Service does not exist', async () => {
      const r = await gh.request('/', { host: 'missing.test' });
      expect(r.status).toBe(503);
      expect(r.text).toBe('503 Service Unavailable\n');
    });
    it('answers 503 when the Service has no ready endpoint', async () => {
      expect(await who(gh, 'unready.test', '/')).toBe(503);
      expect(await who(gh, 'no-slices.test', '/')).toBe(503);
      expect(e['unready-only'].received).toHaveLength(0);
    });
  });
});

describe('routing with --watch-ingress-without-class and --default-backend-service', () => {
  const names = ['noclass', 'nohost', 'catchall', 'catchall-newer', 'fallback'] as const;
  let e: Record<(typeof names)[number], Echo> & { closeAll(): Promise<void> };
  let gh: Gatehouse;

  beforeAll(async () => {
    e = await startEchoes(names);
    gh = await startGatehouse({
      options: { watchIngressWithoutClass: true, defaultBackendService: 'default/fallback' },
      manifests: manifest(
        ingressClass('other', { controller: 'example.com/other' }),
        ...names.map((n) => backendService(n, e[n].port)),
        simpleIngress('noclass', 'noclass.test', 'noclass', { className: null }),
        simpleIngress('other-class', 'other.test', 'noclass', { className: 'other' }),
        ingress('known', { className: null, rules: [{ host: 'known.test', paths: [{ path: '/x', pathType: 'Exact', service: 'noclass' }] }] }),
        // A rule without a host; and an Ingress with no rules at all (its defaultBackend is the catch-all).
        ingress('nohost-rule', { className: null, rules: [{ paths: [{ path: '/nohost', pathType: 'Prefix', service: 'nohost' }] }] }),
        ingress('catch-all-newer', { className: null, creationTimestamp: '2024-06-01T00:00:00Z', defaultBackend: { service: 'catchall-newer' } }),
        ingress('catch-all', { className: null, creationTimestamp: '2021-06-01T00:00:00Z', defaultBackend: { service: 'catchall' } }),
      ),
    });
  });

  afterAll(async () => {
    await gh?.close();
    await e?.closeAll();
  });

  it('serves an Ingress without any class when the watch flag is set', async () => {
    expect(await who(gh, 'noclass.test', '/')).toBe('noclass');
  });
  it('still ignores an Ingress of another controller', async () => {
    expect(await who(gh, 'other.test', '/')).toBe('catchall');
  });
  it('a rule with no host matches any host not otherwise matched', async () => {
    expect(await who(gh, 'anything.test', '/nohost')).toBe('nohost');
    expect(await who(gh, 'another.example', '/nohost/deeper')).toBe('nohost');
    expect(await who(gh, 'known.test', '/nohost')).toBe('fallback');
  });
  it('an Ingress with no rules is the catch-all for unmatched hosts; the oldest wins', async () => {
    expect(await who(gh, 'anything.test', '/')).toBe('catchall');
    expect(await who(gh, 'anything.test', '/nohostx')).toBe('catchall');
    expect(e['catchall-newer'].received).toHaveLength(0);
  });
  it('--default-backend-service serves unmatched paths of hosts without their own default', async () => {
    expect(await who(gh, 'known.test', '/x')).toBe('noclass');
    expect(await who(gh, 'known.test', '/y')).toBe('fallback');
  });
});

describe('routing when our IngressClass is the default class', () => {
  let e: Record<'noclass', Echo> & { closeAll(): Promise<void> };
  let gh: Gatehouse;

  beforeAll(async () => {
    e = await startEchoes(['noclass'] as const);
    gh = await startGatehouse({
      manifests: manifest(
        ingressClass('gatehouse', { isDefault: true }),
        backendService('noclass', e.noclass.port),
        simpleIngress('noclass', 'noclass.test', 'noclass', { className: null }),
        ingress('legacy-other', { className: null, annotations: { [LEGACY]: 'nginx' }, rules: [{ host: 'legacy-other.test', paths: [{ service: 'noclass' }] }] }),
      ),
    });
  });

  afterAll(async () => {
    await gh?.close();
    await e?.closeAll();
  });

  it('serves an Ingress without any class', async () => {
    expect(await who(gh, 'noclass.test', '/')).toBe('noclass');
  });
  it('still ignores an Ingress whose legacy annotation names another class', async () => {
    expect(await who(gh, 'legacy-other.test', '/')).toBe(404);
  });
});
