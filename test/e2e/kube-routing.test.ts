// Kubernetes mode end to end: the real controller (launch(), real flags) against the API
// emulator through the real @kubernetes/client-node, echo upstreams on 127.0.0.1 as the
// EndpointSlice addresses, requests through the HTTP port. Routing follows Ingress, Service
// and EndpointSlice changes; class filtering; the endpoints fast path; nothing served before
// every informer synced; --watch-namespace; token auth through a kubeconfig.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEchoes, type Echo } from '../support/echo-upstream.ts';
import { backendService, endpointSlice, ingress, ingressClass, simpleIngress, sleep } from '../support/harness.ts';
import { startKubeApi, type KubeApi } from '../support/kube-api-emulator.ts';
import { beginKubeGatehouse, eventually, put, startKubeGatehouse, type KubeGatehouse } from '../support/kube-harness.ts';

interface DebugTable {
  table: { generation: number; hosts: { host: string }[] } | null;
  endpoints: { fingerprint: string; backends: Record<string, { address: string; port: number }[]> } | null;
  workers: { generation: number; endpoints: string }[];
}

let e: Record<'a' | 'b' | 'c', Echo> & { closeAll(): Promise<void> };

beforeAll(async () => {
  e = await startEchoes(['a', 'b', 'c'] as const);
});

afterAll(async () => {
  await e?.closeAll();
});

describe('kube mode: routing follows the API server', () => {
  let api: KubeApi;
  let gh: KubeGatehouse;

  beforeAll(async () => {
    api = await startKubeApi();
    put(api, ingressClass('gatehouse'), ingressClass('other', { controller: 'other.io/ingress-controller' }));
    put(api, backendService('a', e.a.port), backendService('b', e.b.port));
    put(api, simpleIngress('first', 'first.test', 'a'));
    gh = await startKubeGatehouse(api);
  });

  afterAll(async () => {
    await gh?.close();
    await api?.close();
  });

  it('serves what was in the API server at start, through the HTTP port', async () => {
    expect(await gh.who('first.test')).toBe('a');
    expect(await gh.who('unknown.test')).toBe(404);
    expect((await gh.admin('/readyz')).status).toBe(200);
  });

  it('follows an Ingress created, updated and deleted', async () => {
    put(api, simpleIngress('web', 'web.test', 'a'));
    await gh.until('web.test', 'a');
    put(api, simpleIngress('web', 'web.test', 'b'));
    await gh.until('web.test', 'b');
    put(api, ingress('web', { rules: [{ host: 'web.test', paths: [{ path: '/b', service: 'b' }, { path: '/', service: 'a' }] }] }));
    await gh.until('web.test', 'a', '/x');
    expect(await gh.who('web.test', '/b/1')).toBe('b');
    api.delete('Ingress', 'default', 'web');
    await gh.until('web.test', 404);
    expect(await gh.who('first.test')).toBe('a');
  });

  it('follows a Service and its EndpointSlices created and deleted: 503 without them', async () => {
    put(api, simpleIngress('late', 'late.test', 'late'));
    await gh.until('late.test', 503);
    put(api, backendService('late', e.c.port));
    await gh.until('late.test', 'c');
    api.delete('EndpointSlice', 'default', 'late-0');
    await gh.until('late.test', 503);
    put(api, endpointSlice('late-0', 'late', { ports: [{ name: 'http', port: e.c.port }] }));
    await gh.until('late.test', 'c');
    api.delete('Service', 'default', 'late');
    await gh.until('late.test', 503);
    api.delete('Ingress', 'default', 'late');
    await gh.until('late.test', 404);
  });

  it('takes only Ingresses of its class: ingressClassName ours or another controller\'s, the legacy annotation', async () => {
    put(api, simpleIngress('mine', 'mine.test', 'a'));
    put(api, simpleIngress('theirs', 'theirs.test', 'a', { className: 'other' }));
    put(api, ingress('legacy-mine', { className: null, annotations: { 'kubernetes.io/ingress.class': 'gatehouse' }, rules: [{ host: 'legacy-mine.test', paths: [{ service: 'b' }] }] }));
    put(api, ingress('legacy-theirs', { className: null, annotations: { 'kubernetes.io/ingress.class': 'nginx' }, rules: [{ host: 'legacy-theirs.test', paths: [{ service: 'b' }] }] }));
    put(api, ingress('classless', { className: null, rules: [{ host: 'classless.test', paths: [{ service: 'b' }] }] }));
    await gh.until('mine.test', 'a');
    await gh.until('legacy-mine.test', 'b');
    expect(await gh.who('theirs.test')).toBe(404);
    expect(await gh.who('legacy-theirs.test')).toBe(404);
    expect(await gh.who('classless.test')).toBe(404);

    // The class changes hands both ways.
    put(api, simpleIngress('mine', 'mine.test', 'a', { className: 'other' }));
    put(api, simpleIngress('theirs', 'theirs.test', 'a'));
    await gh.until('mine.test', 404);
    await gh.until('theirs.test', 'a');

    // Our IngressClass made the default: the classless Ingress becomes ours.
    put(api, ingressClass('gatehouse', { isDefault: true }));
    await gh.until('classless.test', 'b');
    put(api, ingressClass('gatehouse'));
    await gh.until('classless.test', 404);

    // Our IngressClass deleted: Ingresses naming it are no longer ours.
    api.delete('IngressClass', undefined, 'gatehouse');
    await gh.until('theirs.test', 404);
    put(api, ingressClass('gatehouse'));
    await gh.until('theirs.test', 'a');
    for (const n of ['mine', 'theirs', 'legacy-mine', 'legacy-theirs', 'classless']) api.delete('Ingress', 'default', n);
    await gh.until('legacy-mine.test', 404);
  });

  it('an EndpointSlice change reaches every worker without a new route table generation', async () => {
    put(api, simpleIngress('fast', 'fast.test', 'b'));
    await gh.until('fast.test', 'b');
    const before = (await gh.admin('/debug/table')).body as DebugTable;
    const generation = before.table!.generation;

    put(api, endpointSlice('b-0', 'b', { ports: [{ name: 'http', port: e.c.port }] }));
    await gh.until('fast.test', 'c');
    // Two endpoints: both get traffic.
    put(api, endpointSlice('b-1', 'b', { ports: [{ name: 'http', port: e.a.port }] }));
    await eventually('both endpoints in the served endpoint table', () => gh.controller.endpoints()?.backends['default/b:80']?.length === 2);
    await gh.controller.settled();
    const seen = new Set<string | number>();
    for (let i = 0; i < 40 && seen.size < 2; i++) seen.add(await gh.who('fast.test'));
    expect(seen).toEqual(new Set(['c', 'a']));
    api.delete('EndpointSlice', 'default', 'b-1');
    put(api, endpointSlice('b-0', 'b', { ports: [{ name: 'http', port: e.b.port }] }));
    await gh.until('fast.test', 'b');
    await gh.controller.settled();

    const after = (await gh.admin('/debug/table')).body as DebugTable;
    expect(after.table!.generation).toBe(generation);
    expect(after.endpoints!.fingerprint).not.toBe('');
    for (const w of after.workers) expect(w).toMatchObject({ generation, endpoints: after.endpoints!.fingerprint });
    expect(after.endpoints!.backends['default/b:80']).toEqual([{ address: '127.0.0.1', port: e.b.port }]);
    api.delete('Ingress', 'default', 'fast');
    await gh.until('fast.test', 404);
  });

  it('ignores changes that do not matter: an Ingress status write publishes nothing', async () => {
    const before = gh.served();
    api.patch('Ingress', 'default', 'first', { status: { loadBalancer: { ingress: [{ ip: '203.0.113.7' }] } } });
    await sleep(300);
    expect(gh.served()).toEqual(before);
  });
});

describe('kube mode: readiness waits for every informer', () => {
  it('serves nothing and says 503 on /readyz (200 on /healthz) until the last informer listed; then 200', async () => {
    const api = await startKubeApi();
    try {
      put(api, ingressClass('gatehouse'), backendService('a', e.a.port), simpleIngress('r', 'r.test', 'a'));
      // The EndpointSlice list (and watch) is held at the API server until the probes are done:
      // every other informer syncs meanwhile.
      const slices = api.faults.hold({ resource: 'endpointslices' });
      const starting = await beginKubeGatehouse(api);
      let gh: KubeGatehouse | null = null;
      void starting.started.then((g) => (gh = g), () => undefined);
      try {
        await eventually('the EndpointSlice list to be held', () => slices.held() > 0);
        await eventually('the other informers to be watching', () => api.openWatches().filter((w) => w.resource !== 'endpointslices').length === 4);
        for (let probe = 0; probe < 5; probe++) {
          expect((await starting.admin('/readyz')).status).toBe(503);
          expect((await starting.admin('/healthz')).status).toBe(200);
          expect(((await starting.admin('/debug/table')).body as DebugTable).table).toBeNull();
          // The HTTP port is not served: no worker listens before it has a table.
          const served = await starting.request('/', { host: 'r.test' }).then((r) => r.status, () => 'no answer');
          expect(served).not.toBe(200);
          expect(gh).toBeNull();
          await sleep(100);
        }
        slices.release();
        const started = await starting.started;
        expect((await started.admin('/readyz')).status).toBe(200);
        expect(await started.who('r.test')).toBe('a');
        // The first table was compiled from the complete snapshot: generation 1, with endpoints.
        expect(started.served().generation).toBe(1);
      } finally {
        slices.release();
        await (await starting.started.catch(() => null))?.close();
      }
    } finally {
      await api.close();
    }
  });
});

describe('kube mode: --watch-namespace', () => {
  it('lists and watches one namespace only, and serves only its Ingresses', async () => {
    const api = await startKubeApi();
    let gh: KubeGatehouse | null = null;
    try {
      put(api, ingressClass('gatehouse'));
      put(api, backendService('a', e.a.port, { namespace: 'team-a' }), simpleIngress('web', 'a.test', 'a', { namespace: 'team-a' }));
      put(api, backendService('b', e.b.port, { namespace: 'team-b' }), simpleIngress('web', 'b.test', 'b', { namespace: 'team-b' }));
      gh = await startKubeGatehouse(api, { args: ['--watch-namespace', 'team-a'] });
      expect(await gh.who('a.test')).toBe('a');
      expect(await gh.who('b.test')).toBe(404);
      put(api, simpleIngress('more', 'more-b.test', 'b', { namespace: 'team-b' }));
      put(api, simpleIngress('more', 'more-a.test', 'a', { namespace: 'team-a' }));
      await gh.until('more-a.test', 'a');
      expect(await gh.who('more-b.test')).toBe(404);

      const informers = api.requests.filter((r) => r.verb === 'list' || r.verb === 'watch');
      const namespaced = informers.filter((r) => r.resource !== 'ingressclasses');
      expect(new Set(namespaced.map((r) => r.resource))).toEqual(new Set(['ingresses', 'services', 'endpointslices', 'secrets']));
      for (const r of namespaced) expect(`${r.verb} ${r.path}`).toMatch(/\/namespaces\/team-a\//);
      // IngressClasses are cluster-scoped.
      expect(informers.filter((r) => r.resource === 'ingressclasses').every((r) => r.namespace === undefined)).toBe(true);
    } finally {
      await gh?.close();
      await api.close();
    }
  });
});

describe('kube mode: authentication through a kubeconfig', () => {
  it('presents the kubeconfig\'s bearer token on every request (the API server answers 401 without it)', async () => {
    const api = await startKubeApi({ token: 's3cret' });
    let gh: KubeGatehouse | null = null;
    try {
      put(api, ingressClass('gatehouse'), backendService('a', e.a.port), simpleIngress('auth', 'auth.test', 'a'));
      gh = await startKubeGatehouse(api, { kubeconfig: { token: 's3cret' } });
      expect(await gh.who('auth.test')).toBe('a');
      put(api, simpleIngress('auth', 'auth.test', 'b'), backendService('b', e.b.port));
      await gh.until('auth.test', 'b');
      expect(api.requests.length).toBeGreaterThan(5);
      expect(api.requests.filter((r) => r.status === 401)).toEqual([]);
      const anonymous = await fetch(`${api.url}/apis/networking.k8s.io/v1/ingresses`);
      expect(anonymous.status).toBe(401);
    } finally {
      await gh?.close();
      await api.close();
    }
  });
});
