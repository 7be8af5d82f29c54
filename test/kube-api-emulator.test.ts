// The Kubernetes API emulator (test/support/kube-api-emulator.ts), driven by the real
// @kubernetes/client-node: typed clients, makeInformer/ListWatch and Watch. Besides pinning the
// emulator, the fault tests record what client-node 2.x itself does on each fault, which is what
// src/sources/kube has to cope with (see the "client-node on faults" block).

import { connect } from 'node:net';
import {
  ApiException,
  CoordinationV1Api,
  CoreV1Api,
  DiscoveryV1Api,
  EventsV1Api,
  KubeConfig,
  KubernetesObjectApi,
  makeInformer,
  NetworkingV1Api,
  PatchStrategy,
  setHeaderOptions,
  Watch,
  type KubernetesObject,
  type ListWatch,
  type V1Ingress,
} from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { startKubeApi, type KubeApi, type KubeApiOptions, type KubeObject, type RequestRecord } from './support/kube-api-emulator.ts';
import { applyJsonPatch, applyMergePatch } from './support/kube-api-emulator/patch.ts';
import { matchesLabels, parseLabelSelector } from './support/kube-api-emulator/selectors.ts';

const NS = 'web';

const apis: KubeApi[] = [];
const cleanups: Array<() => unknown> = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await Promise.all(apis.splice(0).map((a) => a.close()));
});

async function start(options?: KubeApiOptions): Promise<KubeApi> {
  const api = await startKubeApi(options);
  apis.push(api);
  return api;
}

function ingress(name: string, extra: { namespace?: string; labels?: Record<string, string>; host?: string; status?: unknown } = {}): KubeObject {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name, namespace: extra.namespace ?? NS, ...(extra.labels ? { labels: extra.labels } : {}) },
    spec: { ingressClassName: 'gatehouse', rules: [{ host: extra.host ?? `${name}.example.com` }] },
    ...(extra.status ? { status: extra.status } : {}),
  };
}

function configMap(name: string, labels: Record<string, string> = {}, namespace = NS): KubeObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace, labels }, data: { k: name } };
}

async function until(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The HTTP code and Status body of a failed client-node call. */
async function failureOf(p: Promise<unknown>): Promise<{ code: number; body: { kind?: string; reason?: string; message?: string; code?: number; details?: Record<string, unknown> } }> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ApiException) {
      const body = typeof err.body === 'string' && err.body ? JSON.parse(err.body) : {};
      return { code: err.code, body };
    }
    throw err;
  }
  throw new Error('expected the call to fail');
}

interface Recorded<T extends KubernetesObject> {
  informer: ListWatch<T>;
  events: string[];
  errors: unknown[];
  connects: () => number;
}

/** An informer with every callback recorded as `verb name`; stopped after the test. */
async function informer<T extends KubernetesObject>(kc: KubeConfig, path: string, list: () => Promise<{ items: T[]; metadata?: { resourceVersion?: string } }>, labelSelector?: string): Promise<Recorded<T>> {
  const inf = makeInformer<T>(kc, path, list as never, labelSelector) as ListWatch<T>;
  const events: string[] = [];
  const errors: unknown[] = [];
  let connects = 0;
  let stopped = false;
  inf.on('add', (o) => events.push(`add ${o.metadata?.name}`));
  inf.on('update', (o) => events.push(`update ${o.metadata?.name}`));
  inf.on('delete', (o) => events.push(`delete ${o.metadata?.name}`));
  inf.on('error', (e) => { if (!stopped) errors.push(e); });
  inf.on('connect', () => connects++);
  cleanups.push(async () => { stopped = true; await inf.stop(); });
  await inf.start();
  return { informer: inf, events, errors, connects: () => connects };
}

interface WatchEvent { type: string; object: KubeObject & { code?: number; reason?: string } }

/** A raw client-node Watch; `done` resolves with the error client-node reported (null on a clean end). */
async function rawWatch(kc: KubeConfig, path: string, query: Record<string, string | number | boolean>) {
  const events: WatchEvent[] = [];
  let resolveDone!: (err: unknown) => void;
  const done = new Promise<unknown>((r) => { resolveDone = r; });
  const controller = await new Watch(kc).watch(path, query, (type, object) => events.push({ type, object }), (err) => resolveDone(err));
  cleanups.push(() => controller.abort());
  return { events, done };
}

describe('kube API emulator: CRUD through client-node', () => {
  it('creates, reads, replaces and deletes an Ingress with real API server semantics', async () => {
    const api = await start();
    const net = api.kubeConfig().makeApiClient(NetworkingV1Api);
    const created = await net.createNamespacedIngress({ namespace: NS, body: ingress('shop') as V1Ingress });
    expect(created.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.metadata?.generation).toBe(1);
    expect(created.metadata?.resourceVersion).toBe(api.resourceVersion);
    // client-node turns the RFC 3339 string into a Date; the wire form has whole seconds.
    expect(api.get('Ingress', NS, 'shop')?.metadata?.creationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(created.kind).toBe('Ingress');

    const dup = await failureOf(net.createNamespacedIngress({ namespace: NS, body: ingress('shop') as V1Ingress }));
    expect(dup.code).toBe(409);
    expect(dup.body).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'AlreadyExists', code: 409, message: 'ingresses.networking.k8s.io "shop" already exists' });

    const missing = await failureOf(net.readNamespacedIngress({ namespace: NS, name: 'nope' }));
    expect(missing).toMatchObject({ code: 404, body: { reason: 'NotFound', message: 'ingresses.networking.k8s.io "nope" not found', details: { name: 'nope', group: 'networking.k8s.io', kind: 'ingresses' } } });

    const read = await net.readNamespacedIngress({ namespace: NS, name: 'shop' });
    read.spec!.rules![0]!.host = 'shop2.example.com';
    const replaced = await net.replaceNamespacedIngress({ namespace: NS, name: 'shop', body: read });
    expect(replaced.metadata?.generation).toBe(2);
    expect(Number(replaced.metadata?.resourceVersion)).toBeGreaterThan(Number(read.metadata?.resourceVersion));
    expect(replaced.metadata?.uid).toBe(created.metadata?.uid);

    // The same write again (stale resourceVersion) conflicts.
    const stale = await failureOf(net.replaceNamespacedIngress({ namespace: NS, name: 'shop', body: read }));
    expect(stale).toMatchObject({ code: 409, body: { reason: 'Conflict' } });
    expect(stale.body.message).toContain('the object has been modified');

    // An update that changes nothing writes nothing: same resourceVersion, no generation bump.
    const again = await net.replaceNamespacedIngress({ namespace: NS, name: 'shop', body: replaced });
    expect(again.metadata?.resourceVersion).toBe(replaced.metadata?.resourceVersion);

    const status = await net.deleteNamespacedIngress({ namespace: NS, name: 'shop' });
    expect(status).toMatchObject({ kind: 'Status', status: 'Success', details: { name: 'shop', kind: 'ingresses' } });
    expect((await failureOf(net.readNamespacedIngress({ namespace: NS, name: 'shop' }))).code).toBe(404);
  });

  it('serves cluster-scoped IngressClasses, Services, Secrets, ConfigMaps and EndpointSlices', async () => {
    const api = await start();
    const kc = api.kubeConfig();
    const net = kc.makeApiClient(NetworkingV1Api);
    const core = kc.makeApiClient(CoreV1Api);
    const disc = kc.makeApiClient(DiscoveryV1Api);
    await net.createIngressClass({ body: { metadata: { name: 'gatehouse' }, spec: { controller: 'gatehouse.io/ingress-controller' } } });
    expect((await net.readIngressClass({ name: 'gatehouse' })).spec?.controller).toBe('gatehouse.io/ingress-controller');
    expect((await net.listIngressClass()).items.map((c) => c.metadata?.name)).toEqual(['gatehouse']);
    expect(api.get('IngressClass', undefined, 'gatehouse')?.metadata?.namespace).toBeUndefined();

    const svc = await core.createNamespacedService({ namespace: NS, body: { metadata: { name: 'shop' }, spec: { ports: [{ port: 80, name: 'http' }] } } });
    expect(svc.spec?.type).toBe('ClusterIP'); // defaulted, as the API server does
    const secret = await core.createNamespacedSecret({ namespace: NS, body: { metadata: { name: 'plain' }, stringData: { a: 'b' } } });
    expect(secret.type).toBe('Opaque');
    await core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'conf' }, data: { a: '1' } } });
    await disc.createNamespacedEndpointSlice({
      namespace: NS,
      body: { metadata: { name: 'shop-abc', labels: { 'kubernetes.io/service-name': 'shop' } }, addressType: 'IPv4', endpoints: [{ addresses: ['10.0.0.1'], conditions: { ready: true } }], ports: [{ name: 'http', port: 8080 }] },
    });
    const slices = await disc.listNamespacedEndpointSlice({ namespace: NS, labelSelector: 'kubernetes.io/service-name=shop' });
    expect(slices.items.map((s) => s.endpoints?.[0]?.addresses)).toEqual([['10.0.0.1']]);
    // Cluster-wide paths list every namespace.
    api.create(configMap('other', {}, 'kube-system'));
    expect((await core.listConfigMapForAllNamespaces()).items.map((c) => `${c.metadata?.namespace}/${c.metadata?.name}`)).toEqual(['kube-system/other', 'web/conf']);
  });

  it('rejects bad input with the API server\'s Status: 400, 404 for unknown paths, 405, 422', async () => {
    const api = await start();
    const core = api.kubeConfig().makeApiClient(CoreV1Api);
    const wrongNs = await failureOf(core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'x', namespace: 'other' } } }));
    expect(wrongNs).toMatchObject({ code: 400, body: { reason: 'BadRequest' } });
    const badName = await failureOf(core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'Not_Valid' } } }));
    expect(badName).toMatchObject({ code: 422, body: { reason: 'Invalid' } });
    const generated = await core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { generateName: 'cm-' } } });
    expect(generated.metadata?.name).toMatch(/^cm-[a-z0-9]{5}$/);

    const unknown = await fetch(`${api.url}/apis/example.com/v1/widgets`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ kind: 'Status', reason: 'NotFound', code: 404 });
    const notAllowed = await fetch(`${api.url}/api/v1/namespaces/${NS}/configmaps`, { method: 'PUT', body: '{}' });
    expect(notAllowed.status).toBe(405);
  });

  it('serves discovery, so KubernetesObjectApi can read objects generically', async () => {
    const api = await start();
    api.create(ingress('shop'));
    const client = KubernetesObjectApi.makeApiClient(api.kubeConfig());
    const read = await client.read({ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'shop', namespace: NS } });
    expect(read.metadata?.name).toBe('shop');
    const version = await (await fetch(`${api.url}/version`)).json() as { major: string };
    expect(version.major).toBe('1');
  });

  it('works from a kubeconfig file as well as from kubeConfig()', async () => {
    const api = await start({ token: 's3cret' });
    api.create(configMap('a'));
    const kc = new KubeConfig();
    kc.loadFromString(api.kubeconfigYaml());
    expect(kc.getCurrentCluster()?.server).toBe(api.url);
    const list = await kc.makeApiClient(CoreV1Api).listNamespacedConfigMap({ namespace: NS });
    expect(list.items.map((c) => c.metadata?.name)).toEqual(['a']);
  });
});

describe('kube API emulator: status subresource', () => {
  it('writes only status through /status and never status through the main resource', async () => {
    const api = await start();
    const net = api.kubeConfig().makeApiClient(NetworkingV1Api);
    // Status in a create is dropped, as the Ingress strategy does.
    const created = await net.createNamespacedIngress({ namespace: NS, body: ingress('shop', { status: { loadBalancer: { ingress: [{ ip: '9.9.9.9' }] } } }) as V1Ingress });
    expect(created.status?.loadBalancer?.ingress).toBeUndefined();

    const body = structuredClone(created);
    body.status = { loadBalancer: { ingress: [{ ip: '10.0.0.1' }] } };
    body.spec!.rules![0]!.host = 'ignored.example.com';
    const afterStatus = await net.replaceNamespacedIngressStatus({ namespace: NS, name: 'shop', body });
    expect(afterStatus.status?.loadBalancer?.ingress).toEqual([{ ip: '10.0.0.1' }]);
    expect(afterStatus.spec?.rules?.[0]?.host).toBe('shop.example.com');
    expect(afterStatus.metadata?.generation).toBe(1);

    const main = structuredClone(afterStatus);
    main.status = { loadBalancer: { ingress: [{ hostname: 'ignored' }] } };
    main.spec!.rules![0]!.host = 'new.example.com';
    const afterMain = await net.replaceNamespacedIngress({ namespace: NS, name: 'shop', body: main });
    expect(afterMain.spec?.rules?.[0]?.host).toBe('new.example.com');
    expect(afterMain.status?.loadBalancer?.ingress).toEqual([{ ip: '10.0.0.1' }]);
    expect(afterMain.metadata?.generation).toBe(2);

    // client-node's default PATCH content type is JSON Patch; merge patch needs setHeaderOptions.
    const jsonPatched = await net.patchNamespacedIngressStatus({ namespace: NS, name: 'shop', body: [{ op: 'replace', path: '/status/loadBalancer/ingress/0/ip', value: '10.0.0.2' }] });
    expect(jsonPatched.status?.loadBalancer?.ingress).toEqual([{ ip: '10.0.0.2' }]);
    const merged = await net.patchNamespacedIngressStatus(
      { namespace: NS, name: 'shop', body: { status: { loadBalancer: { ingress: [{ ip: '10.0.0.3' }] } }, spec: { rules: [] } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    expect(merged.status?.loadBalancer?.ingress).toEqual([{ ip: '10.0.0.3' }]);
    expect(merged.spec?.rules).toHaveLength(1);

    // The same status again is a no-op write: the resourceVersion stays.
    const same = await net.replaceNamespacedIngressStatus({ namespace: NS, name: 'shop', body: merged });
    expect(same.metadata?.resourceVersion).toBe(merged.metadata?.resourceVersion);

    const statusWrites = api.requests.filter((r) => r.subresource === 'status' && (r.verb === 'update' || r.verb === 'patch'));
    expect(statusWrites.map((r) => `${r.verb} ${r.status}`)).toEqual(['update 200', 'patch 200', 'patch 200', 'update 200']);
    expect(statusWrites[2]?.contentType).toBe('application/merge-patch+json');
  });
});

describe('kube API emulator: Leases and Events', () => {
  it('Lease updates with a stale resourceVersion get 409 Conflict', async () => {
    const api = await start();
    const coord = api.kubeConfig().makeApiClient(CoordinationV1Api);
    const lease = await coord.createNamespacedLease({ namespace: 'gatehouse', body: { metadata: { name: 'gatehouse-leader' }, spec: { holderIdentity: 'a', leaseDurationSeconds: 15 } } });
    const a = structuredClone(lease);
    const b = structuredClone(lease);
    a.spec!.holderIdentity = 'a';
    a.spec!.renewTime = new Date();
    const renewed = await coord.replaceNamespacedLease({ namespace: 'gatehouse', name: 'gatehouse-leader', body: a });
    expect(Number(renewed.metadata?.resourceVersion)).toBeGreaterThan(Number(lease.metadata?.resourceVersion));
    b.spec!.holderIdentity = 'b';
    const lost = await failureOf(coord.replaceNamespacedLease({ namespace: 'gatehouse', name: 'gatehouse-leader', body: b }));
    expect(lost).toMatchObject({ code: 409, body: { reason: 'Conflict', details: { name: 'gatehouse-leader', group: 'coordination.k8s.io', kind: 'leases' } } });
    expect((await coord.readNamespacedLease({ namespace: 'gatehouse', name: 'gatehouse-leader' })).spec?.holderIdentity).toBe('a');

    // Leases allow create-on-update (PUT to a missing name creates it, 201).
    const fresh = await coord.replaceNamespacedLease({ namespace: 'gatehouse', name: 'other', body: { metadata: { name: 'other' }, spec: { holderIdentity: 'c' } } });
    expect(fresh.metadata?.uid).toBeDefined();
    expect(api.requests.at(-1)?.status).toBe(201);

    await coord.deleteNamespacedLease({ namespace: 'gatehouse', name: 'gatehouse-leader' });
    expect((await failureOf(coord.readNamespacedLease({ namespace: 'gatehouse', name: 'gatehouse-leader' }))).code).toBe(404);
  });

  it('creates and patches core v1 Events, creates events.k8s.io/v1 Events, and selects them by field', async () => {
    const api = await start();
    const kc = api.kubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    const involvedObject = { kind: 'Ingress', apiVersion: 'networking.k8s.io/v1', namespace: NS, name: 'shop' };
    await core.createNamespacedEvent({ namespace: NS, body: { metadata: { name: 'shop.1' }, involvedObject, reason: 'BadAnnotation', message: 'x', type: 'Warning', count: 1 } });
    await core.createNamespacedEvent({ namespace: NS, body: { metadata: { name: 'other.1' }, involvedObject: { ...involvedObject, name: 'other' }, reason: 'Sync', type: 'Normal' } });
    const patched = await core.patchNamespacedEvent({ namespace: NS, name: 'shop.1', body: { count: 2 } }, setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch));
    expect(patched.count).toBe(2);
    const byObject = await core.listNamespacedEvent({ namespace: NS, fieldSelector: 'involvedObject.name=shop,type=Warning' });
    expect(byObject.items.map((e) => e.metadata.name)).toEqual(['shop.1']);

    const ev = await kc.makeApiClient(EventsV1Api).createNamespacedEvent({
      namespace: NS,
      body: { metadata: { name: 'shop.2' }, eventTime: new Date(), regarding: involvedObject, reason: 'BadAnnotation', note: 'x', type: 'Warning', action: 'Compile', reportingController: 'gatehouse.io/ingress-controller', reportingInstance: 'pod-a' },
    });
    expect(ev.metadata?.uid).toBeDefined();
    expect(api.list('events.k8s.io/v1/Event', NS).map((e) => e.metadata?.name)).toEqual(['shop.2']);
  });
});

describe('kube API emulator: selectors and lists', () => {
  it('applies label selectors: =, ==, !=, exists, !key, in, notin, gt', async () => {
    const api = await start();
    api.create(configMap('a', { app: 'web', tier: 'front', n: '3' }));
    api.create(configMap('b', { app: 'web', tier: 'back' }));
    api.create(configMap('c', { app: 'db' }));
    api.create(configMap('d', {}));
    const core = api.kubeConfig().makeApiClient(CoreV1Api);
    const names = async (labelSelector: string): Promise<string> =>
      (await core.listNamespacedConfigMap({ namespace: NS, labelSelector })).items.map((c) => c.metadata?.name).join(',');
    expect(await names('app=web')).toBe('a,b');
    expect(await names('app==web,tier!=back')).toBe('a');
    expect(await names('tier')).toBe('a,b');
    expect(await names('!tier')).toBe('c,d');
    expect(await names('app in (db, web),tier notin (front)')).toBe('b,c');
    expect(await names('app!=web')).toBe('c,d');
    expect(await names('n>2')).toBe('a');
    expect(await names('')).toBe('a,b,c,d');
    const bad = await failureOf(core.listNamespacedConfigMap({ namespace: NS, labelSelector: 'app in web' }));
    expect(bad).toMatchObject({ code: 400, body: { reason: 'BadRequest' } });
  });

  it('applies field selectors and rejects unsupported fields as the API server does', async () => {
    const api = await start();
    api.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'tls', namespace: NS }, type: 'kubernetes.io/tls', data: {} });
    api.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'opaque', namespace: NS }, data: {} });
    api.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'tls', namespace: 'other' }, type: 'kubernetes.io/tls' });
    const core = api.kubeConfig().makeApiClient(CoreV1Api);
    const all = async (fieldSelector: string): Promise<string[]> =>
      (await core.listSecretForAllNamespaces({ fieldSelector })).items.map((s) => `${s.metadata?.namespace}/${s.metadata?.name}`);
    expect(await all('type=kubernetes.io/tls')).toEqual(['other/tls', 'web/tls']);
    expect(await all('type!=kubernetes.io/tls')).toEqual(['web/opaque']);
    expect(await all('metadata.namespace=web,metadata.name=tls')).toEqual(['web/tls']);
    const bad = await failureOf(core.listSecretForAllNamespaces({ fieldSelector: 'data.key=x' }));
    expect(bad).toMatchObject({ code: 400, body: { reason: 'BadRequest' } });
  });

  it('lists like the real API server: current resourceVersion, items without kind/apiVersion, limit/continue', async () => {
    const api = await start();
    for (const n of ['a', 'b', 'c']) api.create(configMap(n));
    const res = await fetch(`${api.url}/api/v1/namespaces/${NS}/configmaps?resourceVersion=0`);
    const list = await res.json() as { kind: string; apiVersion: string; metadata: { resourceVersion: string }; items: KubeObject[] };
    expect(list).toMatchObject({ kind: 'ConfigMapList', apiVersion: 'v1', metadata: { resourceVersion: api.resourceVersion } });
    expect(list.items.map((i) => [i.kind, i.apiVersion, i.metadata?.name])).toEqual([[undefined, undefined, 'a'], [undefined, undefined, 'b'], [undefined, undefined, 'c']]);

    const core = api.kubeConfig().makeApiClient(CoreV1Api);
    const page1 = await core.listNamespacedConfigMap({ namespace: NS, limit: 2 });
    expect(page1.items.map((c) => c.metadata?.name)).toEqual(['a', 'b']);
    expect(page1.metadata?.remainingItemCount).toBe(1);
    const page2 = await core.listNamespacedConfigMap({ namespace: NS, limit: 2, _continue: page1.metadata!._continue! });
    expect(page2.items.map((c) => c.metadata?.name)).toEqual(['c']);
    expect(page2.metadata?._continue).toBeUndefined();
    api.create(configMap('d'));
    api.faults.expireResourceVersions();
    const gone = await failureOf(core.listNamespacedConfigMap({ namespace: NS, limit: 2, _continue: page1.metadata!._continue! }));
    expect(gone).toMatchObject({ code: 410, body: { reason: 'Expired' } });
  });

  it('parses the selector grammar strictly (unit)', () => {
    const req = parseLabelSelector(' a = b , c!=d,e, !f, x in (a,b), y notin (c) ');
    expect(req.map((r) => r.op)).toEqual(['=', '!=', 'exists', '!', 'in', 'notin']);
    expect(matchesLabels(req, { a: 'b', e: '', x: 'a' })).toBe(true);
    expect(matchesLabels(req, { a: 'b', e: '', x: 'a', f: '1' })).toBe(false);
    expect(() => parseLabelSelector('a,,b')).toThrow(/unable to parse/);
    expect(() => parseLabelSelector('a > x')).toThrow(/integer/);
  });

  it('applies JSON Patch and merge patch per RFC 6902 / RFC 7386 (unit)', () => {
    const doc = { a: { b: [1, 2] }, c: 'x' };
    expect(applyJsonPatch(doc, [{ op: 'add', path: '/a/b/-', value: 3 }, { op: 'remove', path: '/c' }, { op: 'copy', from: '/a/b/0', path: '/d' }, { op: 'test', path: '/d', value: 1 }]))
      .toEqual({ a: { b: [1, 2, 3] }, d: 1 });
    expect(() => applyJsonPatch(doc, [{ op: 'test', path: '/c', value: 'y' }])).toThrow(/failed/);
    expect(() => applyJsonPatch(doc, [{ op: 'replace', path: '/zz', value: 1 }])).toThrow(/missing/);
    expect(doc).toEqual({ a: { b: [1, 2] }, c: 'x' });
    expect(applyMergePatch(doc, { a: { b: null, e: 1 }, c: null })).toEqual({ a: { e: 1 } });
  });
});

describe('kube API emulator: watch', () => {
  it('an informer sees add, update and delete; list items lack kind, watched objects carry it', async () => {
    const api = await start();
    api.create(ingress('early'));
    const kc = api.kubeConfig();
    const net = kc.makeApiClient(NetworkingV1Api);
    const inf = await informer<V1Ingress>(kc, '/apis/networking.k8s.io/v1/ingresses', () => net.listIngressForAllNamespaces());
    expect(inf.events).toEqual(['add early']);
    await net.createNamespacedIngress({ namespace: 'other', body: ingress('late', { namespace: 'other' }) as V1Ingress });
    api.patch('Ingress', NS, 'early', { metadata: { labels: { x: 'y' } } });
    api.delete('Ingress', 'other', 'late');
    await until(() => inf.events.length === 4, 'four informer events');
    expect(inf.events).toEqual(['add early', 'add late', 'update early', 'delete late']);
    expect(inf.informer.list().map((o) => o.metadata?.name)).toEqual(['early']);
    // What client-node's ObjectCache holds: the listed object has no kind (the API server omits it
    // on list items) and a Date creationTimestamp; objects from the watch are raw JSON with kind.
    const early = inf.informer.get('early', NS)!;
    expect(early.kind).toBe('Ingress'); // replaced by the MODIFIED event's object
    expect(typeof early.metadata?.creationTimestamp).toBe('string');
    expect(inf.informer.latestResourceVersion()).toBe(api.resourceVersion);
    expect(inf.errors).toEqual([]);
  });

  it('keeps the informer\'s listed objects as client-node deserialized them', async () => {
    const api = await start();
    api.create(ingress('listed'));
    const kc = api.kubeConfig();
    const net = kc.makeApiClient(NetworkingV1Api);
    const inf = await informer<V1Ingress>(kc, `/apis/networking.k8s.io/v1/namespaces/${NS}/ingresses`, () => net.listNamespacedIngress({ namespace: NS }));
    const listed = inf.informer.get('listed', NS)!;
    expect(listed.kind).toBeUndefined();
    expect(listed.metadata?.creationTimestamp).toBeInstanceOf(Date);
  });

  it('a labelSelector informer sees an object that stops matching as deleted, and one that starts matching as added', async () => {
    const api = await start();
    api.create(ingress('a', { labels: { owner: 'gatehouse' } }));
    api.create(ingress('b'));
    const kc = api.kubeConfig();
    const net = kc.makeApiClient(NetworkingV1Api);
    const inf = await informer<V1Ingress>(kc, `/apis/networking.k8s.io/v1/namespaces/${NS}/ingresses`,
      () => net.listNamespacedIngress({ namespace: NS, labelSelector: 'owner=gatehouse' }), 'owner=gatehouse');
    api.patch('Ingress', NS, 'a', { metadata: { labels: { owner: null } } });
    api.patch('Ingress', NS, 'b', { metadata: { labels: { owner: 'gatehouse' } } });
    await until(() => inf.events.length === 3, 'three events');
    expect(inf.events).toEqual(['add a', 'delete a', 'add b']);
  });

  it('streams raw watch events: initial ADDED without resourceVersion, namespace and name filters, DELETED with the final resourceVersion', async () => {
    const api = await start();
    api.create(configMap('x'));
    api.create(configMap('y', {}, 'other'));
    const kc = api.kubeConfig();
    const w = await rawWatch(kc, `/api/v1/namespaces/${NS}/configmaps`, {});
    const named = await rawWatch(kc, '/api/v1/configmaps', { fieldSelector: 'metadata.name=x' });
    api.create(configMap('z'));
    api.create(configMap('x', {}, 'other'));
    const deleted = api.delete('ConfigMap', NS, 'x')!;
    await until(() => w.events.length === 3 && named.events.length === 3, 'events');
    expect(w.events.map((e) => `${e.type} ${e.object.metadata?.name}`)).toEqual(['ADDED x', 'ADDED z', 'DELETED x']);
    expect(w.events[0]?.object.kind).toBe('ConfigMap');
    expect(w.events[2]?.object.metadata?.resourceVersion).toBe(deleted.metadata?.resourceVersion);
    expect(deleted.metadata?.resourceVersion).toBe(api.resourceVersion);
    expect(named.events.map((e) => `${e.type} ${e.object.metadata?.namespace}/${e.object.metadata?.name}`)).toEqual(['ADDED web/x', 'ADDED other/x', 'DELETED web/x']);
  });

  it('replays the events after a resourceVersion, and flushes headers before any event', async () => {
    const api = await start();
    api.create(configMap('a'));
    const from = api.resourceVersion;
    api.create(configMap('b'));
    api.patch('ConfigMap', NS, 'a', { data: { k: 'changed' } });
    const w = await rawWatch(api.kubeConfig(), `/api/v1/namespaces/${NS}/configmaps`, { resourceVersion: from });
    await until(() => w.events.length === 2, 'replay');
    expect(w.events.map((e) => `${e.type} ${e.object.metadata?.name}`)).toEqual(['ADDED b', 'MODIFIED a']);

    const controller = new AbortController();
    const res = await fetch(`${api.url}/api/v1/configmaps?watch=1&resourceVersion=${api.resourceVersion}`, { signal: controller.signal });
    expect(res.status).toBe(200); // resolved with no event sent: the headers were flushed at once
    expect(res.headers.get('content-type')).toBe('application/json');
    controller.abort();
  });

  it('sends BOOKMARKs carrying the global resourceVersion only when allowWatchBookmarks is set', async () => {
    const api = await start({ bookmarkIntervalMs: 50 });
    api.create(ingress('a'));
    const kc = api.kubeConfig();
    const withBookmarks = await rawWatch(kc, '/apis/networking.k8s.io/v1/ingresses', { resourceVersion: api.resourceVersion, allowWatchBookmarks: true });
    const without = await rawWatch(kc, '/apis/networking.k8s.io/v1/ingresses', { resourceVersion: api.resourceVersion });
    api.create(configMap('unrelated')); // moves the global resourceVersion past the last Ingress event
    const rv = api.resourceVersion;
    await until(() => withBookmarks.events.some((e) => e.type === 'BOOKMARK' && e.object.metadata?.resourceVersion === rv), 'a bookmark at the current resourceVersion');
    const bookmark = withBookmarks.events.find((e) => e.type === 'BOOKMARK')!;
    expect(bookmark.object).toEqual({ kind: 'Ingress', apiVersion: 'networking.k8s.io/v1', metadata: { resourceVersion: rv } });
    await sleep(150);
    expect(without.events).toEqual([]);
  });

  it('ends a watch after timeoutSeconds; client-node reports a clean end', async () => {
    const api = await start();
    const w = await rawWatch(api.kubeConfig(), '/api/v1/configmaps', { resourceVersion: api.resourceVersion, timeoutSeconds: 1 });
    expect(await w.done).toBeNull();
  });

  it('answers a watch below the compaction point with an ERROR event (410 Expired), then ends the stream', async () => {
    const api = await start();
    api.create(configMap('a'));
    const old = api.resourceVersion;
    api.create(configMap('b'));
    api.faults.expireResourceVersions();
    const w = await rawWatch(api.kubeConfig(), '/api/v1/configmaps', { resourceVersion: old });
    expect(await w.done).toBeNull();
    expect(w.events).toEqual([{ type: 'ERROR', object: expect.objectContaining({ kind: 'Status', code: 410, reason: 'Expired' }) }]);
    // The current resourceVersion is still fine.
    const ok = await rawWatch(api.kubeConfig(), '/api/v1/configmaps', { resourceVersion: api.resourceVersion });
    api.create(configMap('c'));
    await until(() => ok.events.length === 1, 'event after compaction');
  });

  it('410 on a stale resourceVersion makes the informer relist, and a delete made during the gap is observed', async () => {
    const api = await start();
    api.create(ingress('stays'));
    api.create(ingress('goes'));
    const kc = api.kubeConfig();
    const net = kc.makeApiClient(NetworkingV1Api);
    const inf = await informer<V1Ingress>(kc, '/apis/networking.k8s.io/v1/ingresses', () => net.listIngressForAllNamespaces());
    // The watch drops; before the informer is back, an Ingress goes and history is compacted.
    api.faults.dropWatches();
    api.delete('Ingress', NS, 'goes');
    api.create(ingress('new'));
    api.faults.expireResourceVersions();
    await until(() => inf.events.includes('delete goes') && inf.events.includes('add new'), 'relist');
    expect(inf.informer.list().map((o) => o.metadata?.name).sort()).toEqual(['new', 'stays']);
    expect(inf.errors).toEqual([]);
    expect(api.requests.filter((r) => r.verb === 'list').length).toBe(2);
    // client-node keeps going after the relist: it watches again and sees later changes.
    await api.waitForWatch({ resource: 'ingresses' });
    api.create(ingress('after'));
    await until(() => inf.events.includes('add after'), 'event after relist');
  });
});

describe('kube API emulator: authentication and authorization', () => {
  it('answers 401 without the bearer token or with a wrong one; /version stays public', async () => {
    const api = await start({ token: 's3cret' });
    const anonymous = api.kubeConfig({ token: null }).makeApiClient(CoreV1Api);
    const wrong = api.kubeConfig({ token: 'guess' }).makeApiClient(CoreV1Api);
    const right = api.kubeConfig().makeApiClient(CoreV1Api);
    expect((await failureOf(anonymous.listNamespacedConfigMap({ namespace: NS }))).code).toBe(401);
    expect((await failureOf(wrong.readNamespacedConfigMap({ namespace: NS, name: 'x' }))).code).toBe(401);
    expect((await right.listNamespacedConfigMap({ namespace: NS })).items).toEqual([]);
    expect((await fetch(`${api.url}/version`)).status).toBe(200);
    const raw = await fetch(`${api.url}/api/v1/configmaps`);
    expect(await raw.json()).toMatchObject({ kind: 'Status', reason: 'Unauthorized', code: 401 });
  });

  it('answers 403 for forbidden verb/resource/namespace, with subresources named apart as in RBAC', async () => {
    const api = await start({ forbidden: [{ verb: 'update', resource: 'ingresses/status' }, { verb: 'list', resource: 'secrets', namespace: 'kube-system' }] });
    api.create(ingress('shop'));
    const kc = api.kubeConfig();
    const net = kc.makeApiClient(NetworkingV1Api);
    const core = kc.makeApiClient(CoreV1Api);
    const ing = await net.readNamespacedIngress({ namespace: NS, name: 'shop' });
    const denied = await failureOf(net.replaceNamespacedIngressStatus({ namespace: NS, name: 'shop', body: ing }));
    expect(denied).toMatchObject({ code: 403, body: { reason: 'Forbidden', details: { name: 'shop', group: 'networking.k8s.io', kind: 'ingresses' } } });
    expect(denied.body.message).toBe('ingresses.networking.k8s.io "shop" is forbidden: User "system:serviceaccount:gatehouse:gatehouse" cannot update resource "ingresses/status" in API group "networking.k8s.io" in the namespace "web"');
    ing.metadata!.labels = { a: 'b' };
    await net.replaceNamespacedIngress({ namespace: NS, name: 'shop', body: ing }); // the main resource is allowed
    expect((await failureOf(core.listNamespacedSecret({ namespace: 'kube-system' }))).code).toBe(403);
    await core.listNamespacedSecret({ namespace: NS });
    // Rules can change at run time.
    api.forbidden.push({ verb: 'get', resource: '*' });
    expect((await failureOf(core.readNamespacedConfigMap({ namespace: NS, name: 'x' }))).code).toBe(403);
    // An informer allowed to list but not to watch: the list syncs, the watch's 403 is an error event.
    api.forbidden.push({ verb: 'watch', resource: 'configmaps' });
    const inf = await informer(kc, `/api/v1/namespaces/${NS}/configmaps`, () => core.listNamespacedConfigMap({ namespace: NS }));
    expect(inf.errors).toHaveLength(1);
    expect((inf.errors[0] as { statusCode?: number }).statusCode).toBe(403);
  });
});

// What @kubernetes/client-node 2.0.1's ListWatch (makeInformer) does on each fault, observed here
// (cache.js/watch.js for the why). src/sources/kube must restart informers itself: ListWatch only
// carries on by itself after a clean end of the stream or a 410.
// - Clean end of the stream (dropWatches(), timeoutSeconds, the server's watch timeout): no error;
//   re-watches from its last resourceVersion, no relist. The first re-watch is immediate; each
//   further one without an event or BOOKMARK in between waits 1 s, 2 s, ... up to 30 s.
// - ERROR event with code 410 (stale resourceVersion after compaction): clears its resourceVersion
//   and, when the stream ends, relists; objects gone from the list are emitted as `delete`. No error.
// - Abrupt end (dropWatches({ abrupt: true }), refuse(true) with a watch open): `error` with
//   TypeError "terminated" (cause code UND_ERR_SOCKET), then nothing: the informer is stopped.
// - Non-200 answer to the watch (failNext 500, 401, 403): `error` with an Error whose statusCode is
//   the HTTP status; stopped. A failed list (5xx, ECONNREFUSED): `error` with the ApiException or
//   the fetch error; stopped, and start() resolves without throwing.
// - ECONNREFUSED on the watch: `error` with TypeError "fetch failed" (cause ECONNREFUSED); stopped.
// - start() after any of these keeps the last resourceVersion: it re-watches (the missed events are
//   replayed, or a 410 makes it relist). stop() itself emits `error` with an AbortError.
// - delay(): only latency; client-node sets no timeout on list/get calls. A watch that sees no data
//   for 30 s aborts with a TimeoutError and re-watches (not exercised: too slow for this suite).
describe('kube API emulator: faults, and client-node on faults', () => {
  it('dropWatches(): a clean end of the stream; the informer re-watches from its resourceVersion without relisting or error', async () => {
    const api = await start();
    api.create(configMap('a'));
    const kc = api.kubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    const inf = await informer(kc, `/api/v1/namespaces/${NS}/configmaps`, () => core.listNamespacedConfigMap({ namespace: NS }));
    const rv = api.resourceVersion;
    expect(api.faults.dropWatches()).toBe(1);
    api.create(configMap('b')); // made while no watch is open: replayed from the resourceVersion
    await until(() => inf.events.includes('add b'), 'replayed add');
    await api.waitForWatch({ resource: 'configmaps' });
    const watches = api.requests.filter((r) => r.verb === 'watch');
    expect(watches.map((r) => r.query.resourceVersion)).toEqual([rv, rv]);
    expect(api.requests.filter((r) => r.verb === 'list')).toHaveLength(1);
    expect(inf.connects()).toBe(2);
    expect(inf.errors).toEqual([]);
  });

  it('dropWatches({ abrupt: true }): client-node emits error and the informer stops for good', async () => {
    const api = await start();
    const kc = api.kubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    const inf = await informer(kc, `/api/v1/namespaces/${NS}/configmaps`, () => core.listNamespacedConfigMap({ namespace: NS }));
    api.faults.dropWatches({ abrupt: true });
    await until(() => inf.errors.length === 1, 'error event');
    await sleep(200);
    expect(api.openWatches()).toEqual([]);
    expect(api.requests.filter((r) => r.verb === 'watch')).toHaveLength(1);
    // undici's "terminated" TypeError, caused by the socket closing mid-body.
    expect(String(inf.errors[0])).toBe('TypeError: terminated');
    expect((inf.errors[0] as { cause?: { code?: string } }).cause?.code).toBe('UND_ERR_SOCKET');
    // start() again is the way back; it keeps the last resourceVersion, so it re-watches without
    // relisting and the missed events are replayed.
    api.create(configMap('meanwhile'));
    await inf.informer.start();
    await until(() => inf.events.includes('add meanwhile'), 'replayed add');
    expect(api.requests.filter((r) => r.verb === 'list')).toHaveLength(1);
  });

  it('failNext(1, 500) on the re-watch: client-node emits error (statusCode 500) and stops; failNext on a call throws ApiException 500 once', async () => {
    const api = await start();
    const kc = api.kubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    const inf = await informer(kc, `/api/v1/namespaces/${NS}/configmaps`, () => core.listNamespacedConfigMap({ namespace: NS }));
    api.faults.failNext(1, 500, { verb: 'watch' });
    api.faults.dropWatches();
    await until(() => inf.errors.length === 1, 'error event');
    expect((inf.errors[0] as { statusCode?: number }).statusCode).toBe(500);
    await sleep(200);
    expect(api.openWatches()).toEqual([]);

    // A failed initial list: error event, start() resolves, no watch is opened.
    api.faults.failNext(1, 500, { verb: 'list' });
    const second = await informer(kc, `/api/v1/namespaces/${NS}/configmaps`, () => core.listNamespacedConfigMap({ namespace: NS }));
    expect(second.errors).toHaveLength(1);
    expect((second.errors[0] as ApiException<unknown>).code).toBe(500);
    expect(api.openWatches()).toEqual([]);

    api.faults.failNext(1);
    const failed = await failureOf(core.readNamespacedConfigMap({ namespace: NS, name: 'x' }));
    expect(failed).toMatchObject({ code: 500, body: { reason: 'InternalError' } });
    expect((await failureOf(core.readNamespacedConfigMap({ namespace: NS, name: 'x' }))).code).toBe(404);
    expect(api.requests.filter((r) => r.fault === 'failNext').map((r) => `${r.verb} ${r.status}`)).toEqual(['watch 500', 'list 500', 'get 500']);

    api.faults.failNext(2, 503, { verb: 'list', resource: 'configmaps' });
    expect((await failureOf(core.listNamespacedConfigMap({ namespace: NS }))).code).toBe(503);
    await core.readNamespacedConfigMap({ namespace: NS, name: 'x' }).catch(() => undefined); // a get does not consume it
    expect((await failureOf(core.listNamespacedConfigMap({ namespace: NS }))).code).toBe(503);
    await core.listNamespacedConfigMap({ namespace: NS });
  });

  it('refuse(true): ECONNREFUSED; the open watch breaks, the informer emits error and stops; refuse(false) listens on the same port', async () => {
    const api = await start();
    api.create(configMap('a'));
    api.create(configMap('doomed'));
    const kc = api.kubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    const inf = await informer(kc, `/api/v1/namespaces/${NS}/configmaps`, () => core.listNamespacedConfigMap({ namespace: NS }));
    await api.faults.refuse(true);
    await until(() => inf.errors.length === 1, 'error event');
    // The open watch's socket is destroyed: the same "terminated" error as an abrupt drop.
    expect((inf.errors[0] as { cause?: { code?: string } }).cause?.code).toBe('UND_ERR_SOCKET');
    const refused = await core.listNamespacedConfigMap({ namespace: NS }).then(() => undefined, (e: unknown) => e as { message?: string; cause?: { code?: string } });
    expect(refused?.message).toBe('fetch failed');
    expect(refused?.cause?.code).toBe('ECONNREFUSED');
    const tcp = await new Promise<string>((resolve) => {
      const s = connect(api.port, '127.0.0.1');
      s.on('connect', () => { s.destroy(); resolve('connected'); });
      s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    });
    expect(tcp).toBe('ECONNREFUSED');
    // start() while refused does not throw: the watch's ECONNREFUSED arrives as another error event.
    await inf.informer.start();
    await until(() => inf.errors.length === 2, 'second error event');
    expect(String(inf.errors[1])).toBe('TypeError: fetch failed');
    expect((inf.errors[1] as { cause?: { code?: string } }).cause?.code).toBe('ECONNREFUSED');

    // Changes made while the server is unreachable, and history compacted meanwhile.
    api.create(configMap('b'));
    api.delete('ConfigMap', NS, 'doomed');
    await api.faults.refuse(false);
    expect(new URL(api.url).port).toBe(String(api.port));
    api.faults.expireResourceVersions();
    await sleep(100);
    expect(api.openWatches()).toEqual([]); // client-node did not come back by itself
    // start() re-watches from its last resourceVersion, gets the 410 ERROR event, relists.
    await inf.informer.start();
    await until(() => inf.events.length === 4, 'relist');
    expect(inf.events).toEqual(['add a', 'add doomed', 'delete doomed', 'add b']);
    expect(inf.informer.list().map((o) => o.metadata?.name).sort()).toEqual(['a', 'b']);
    expect(api.requests.filter((r) => r.verb === 'list' && r.status === 200)).toHaveLength(2);
    expect(inf.errors).toHaveLength(2);
  });

  it('delay(ms, match) holds matching requests, watch headers included', async () => {
    const api = await start();
    api.create(configMap('a'));
    const core = api.kubeConfig().makeApiClient(CoreV1Api);
    api.faults.delay(200, { verb: 'get' });
    let t = performance.now();
    await core.readNamespacedConfigMap({ namespace: NS, name: 'a' });
    expect(performance.now() - t).toBeGreaterThanOrEqual(190);
    api.faults.delay(200, { verb: 'watch' });
    t = performance.now();
    await rawWatch(api.kubeConfig(), '/api/v1/configmaps', { resourceVersion: api.resourceVersion });
    expect(performance.now() - t).toBeGreaterThanOrEqual(190);
    api.faults.delay(0);
    expect(api.requests.map((r) => `${r.verb} ${r.status}`)).toEqual(['get 200', 'watch 200']);
  });

  it('hold(match) keeps matching requests until release(), lets others through, and records when each was answered (at)', async () => {
    const api = await start();
    api.create(configMap('a'));
    const core = api.kubeConfig().makeApiClient(CoreV1Api);
    const hold = api.faults.hold({ verb: 'get' });
    let answered = false;
    const held = core.readNamespacedConfigMap({ namespace: NS, name: 'a' }).then((cm) => {
      answered = true;
      return cm;
    });
    await until(() => hold.held() === 1, 'the get to be held');
    await core.listNamespacedConfigMap({ namespace: NS });
    expect(answered).toBe(false);
    expect(api.requests.map((r) => `${r.verb} ${r.status}`)).toEqual(['list 200']);
    const released = performance.now();
    hold.release();
    expect((await held).metadata?.name).toBe('a');
    expect(hold.held()).toBe(0);
    hold.release();
    await core.readNamespacedConfigMap({ namespace: NS, name: 'a' });
    expect(api.requests.map((r) => `${r.verb} ${r.status}`)).toEqual(['list 200', 'get 200', 'get 200']);
    const [list, get] = api.requests as [RequestRecord, RequestRecord];
    expect(list.at).toBeGreaterThan(0);
    expect(list.at).toBeLessThan(released);
    expect(get.at).toBeGreaterThanOrEqual(released);
  });

  it('stop() on a running informer emits error with an AbortError', async () => {
    const api = await start();
    const kc = api.kubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    const inf = makeInformer(kc, `/api/v1/namespaces/${NS}/configmaps`, () => core.listNamespacedConfigMap({ namespace: NS }));
    const errors: unknown[] = [];
    inf.on('error', (e) => errors.push(e));
    await inf.start();
    await inf.stop();
    await until(() => errors.length === 1, 'error after stop');
    expect((errors[0] as Error).name).toBe('AbortError');
  });

  it('close() is safe to call twice, also after refuse(true)', async () => {
    const api = await startKubeApi();
    await api.faults.refuse(true);
    await api.close();
    await api.close();
  });
});
