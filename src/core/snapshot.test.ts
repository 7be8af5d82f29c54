import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Kind } from './model.ts';
import { KINDS, Snapshot, mergeChange, objectKey, toKubeObject, type KubeObject } from './snapshot.ts';

function obj(kind: Kind, name: string, namespace?: string, extra: Record<string, unknown> = {}): KubeObject {
  const checked = toKubeObject({ apiVersion: 'v1', kind, metadata: { name, ...(namespace === undefined ? {} : { namespace }) }, ...extra });
  if (!checked.ok) throw new Error(checked.reason);
  return checked.object;
}

function withMeta(o: KubeObject, meta: Record<string, unknown>): KubeObject {
  return { ...o, metadata: { ...o.metadata, ...meta } };
}

describe('toKubeObject', () => {
  it('accepts every watched kind', () => {
    for (const kind of KINDS) expect(toKubeObject({ apiVersion: 'v1', kind, metadata: { name: 'a', namespace: 'b' } }).ok).toBe(true);
  });

  it('marks kinds we do not watch as ignored, not as malformed', () => {
    for (const kind of ['Deployment', 'Pod', 'Gateway', 'ingress']) {
      const r = toKubeObject({ apiVersion: 'v1', kind, metadata: { name: 'a', namespace: 'b' } });
      expect(r).toMatchObject({ ok: false, ignored: true });
    }
  });

  it.each([
    ['null', null],
    ['a string', 'kind: Ingress'],
    ['a list', [{ apiVersion: 'v1', kind: 'Service', metadata: { name: 'a' } }]],
    ['no apiVersion', { kind: 'Service', metadata: { name: 'a' } }],
    ['an empty apiVersion', { apiVersion: '', kind: 'Service', metadata: { name: 'a' } }],
    ['a non-string apiVersion', { apiVersion: 1, kind: 'Service', metadata: { name: 'a' } }],
    ['no kind', { apiVersion: 'v1', metadata: { name: 'a' } }],
    ['an empty kind', { apiVersion: 'v1', kind: '', metadata: { name: 'a' } }],
    ['no metadata', { apiVersion: 'v1', kind: 'Service' }],
    ['metadata that is a list', { apiVersion: 'v1', kind: 'Service', metadata: [] }],
    ['no name', { apiVersion: 'v1', kind: 'Service', metadata: {} }],
    ['an upper-case name', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'Web' } }],
    ['a name ending in a dash', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web-' } }],
    ['a non-string name', { apiVersion: 'v1', kind: 'Service', metadata: { name: 7 } }],
    ['an invalid namespace', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'a', namespace: 'Shop_1' } }],
    ['a non-string namespace', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'a', namespace: 5 } }],
    ['annotations that are a list', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'a', annotations: ['x'] } }],
    ['labels that are a string', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'a', labels: 'app=web' } }],
  ])('refuses an envelope with %s, with a reason', (_what, raw) => {
    const r = toKubeObject(raw);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.reason).not.toBe('');
      expect(r.ignored).toBeUndefined();
    }
  });

  it('accepts null annotations and labels (YAML `annotations:` with nothing after it)', () => {
    expect(toKubeObject({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'a', annotations: null, labels: null } }).ok).toBe(true);
  });

  it('puts a namespaced object without a namespace in default, as kubectl does', () => {
    for (const kind of ['Ingress', 'Service', 'EndpointSlice', 'Secret'] as const) {
      expect(obj(kind, 'a').metadata.namespace).toBe('default');
    }
    expect(obj('Service', 'a', 'shop').metadata.namespace).toBe('shop');
  });

  it('gives the cluster-scoped IngressClass the namespace "", even when one is written', () => {
    expect(obj('IngressClass', 'gatehouse').metadata.namespace).toBe('');
    expect(obj('IngressClass', 'gatehouse', 'shop').metadata.namespace).toBe('');
  });

  it('keeps the other fields and does not modify its input', () => {
    const raw = { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'web-1', labels: { a: 'b' } }, ports: [{ port: 80 }], endpoints: [] };
    const copy = structuredClone(raw);
    const r = toKubeObject(raw);
    expect(raw).toEqual(copy);
    expect(r.ok && r.object).toEqual({ ...raw, metadata: { name: 'web-1', namespace: 'default', labels: { a: 'b' } } });
  });
});

describe('Snapshot', () => {
  it('answers routes for a new object of a route kind and endpoints for a new EndpointSlice', () => {
    const s = new Snapshot();
    expect(s.upsert(obj('Ingress', 'web', 'shop'))).toBe('routes');
    expect(s.upsert(obj('IngressClass', 'gatehouse'))).toBe('routes');
    expect(s.upsert(obj('Service', 'web', 'shop'))).toBe('routes');
    expect(s.upsert(obj('Secret', 'tls', 'shop'))).toBe('routes');
    expect(s.upsert(obj('EndpointSlice', 'web-1', 'shop'))).toBe('endpoints');
  });

  it('answers none for the same content again', () => {
    const s = new Snapshot();
    const svc = obj('Service', 'web', 'shop', { spec: { ports: [{ port: 80 }] } });
    s.upsert(svc);
    expect(s.upsert(structuredClone(svc))).toBe('none');
    const slice = obj('EndpointSlice', 'web-1', 'shop', { endpoints: [{ addresses: ['10.0.0.1'] }] });
    s.upsert(slice);
    expect(s.upsert(structuredClone(slice))).toBe('none');
  });

  it('answers none when only resourceVersion or managedFields changed, and keeps the newest object', () => {
    const s = new Snapshot();
    const v1 = withMeta(obj('Ingress', 'web', 'shop', { spec: { rules: [] } }), { resourceVersion: '100' });
    s.upsert(v1);
    const v2 = withMeta(v1, { resourceVersion: '101', managedFields: [{ manager: 'kubectl' }] });
    expect(s.upsert(v2)).toBe('none');
    expect(s.get('Ingress', 'shop', 'web')?.metadata.resourceVersion).toBe('101');
    const slice = withMeta(obj('EndpointSlice', 'web-1', 'shop'), { resourceVersion: '7' });
    s.upsert(slice);
    expect(s.upsert(withMeta(slice, { resourceVersion: '8' }))).toBe('none');
  });

  it('answers routes when the spec, labels or annotations of a route kind change', () => {
    const s = new Snapshot();
    const ing = obj('Ingress', 'web', 'shop', { spec: { rules: [] } });
    s.upsert(ing);
    expect(s.upsert({ ...ing, spec: { rules: [{ host: 'a.example.com' }] } })).toBe('routes');
    expect(s.upsert(withMeta(ing, { annotations: { 'kubernetes.io/ingress.class': 'gatehouse' } }))).toBe('routes');
    expect(s.upsert(withMeta(ing, { labels: { app: 'web' } }))).toBe('routes');
  });

  it('answers endpoints when an EndpointSlice changes', () => {
    const s = new Snapshot();
    const slice = obj('EndpointSlice', 'web-1', 'shop', { endpoints: [{ addresses: ['10.0.0.1'] }] });
    s.upsert(slice);
    expect(s.upsert({ ...slice, endpoints: [{ addresses: ['10.0.0.2'] }] })).toBe('endpoints');
  });

  it('keys objects by kind, namespace and name', () => {
    const s = new Snapshot();
    expect(s.upsert(obj('Service', 'web', 'shop'))).toBe('routes');
    expect(s.upsert(obj('Service', 'web', 'staging'))).toBe('routes');
    expect(s.upsert(obj('Secret', 'web', 'shop'))).toBe('routes');
    expect(s.list('Service')).toHaveLength(2);
    expect(s.get('Secret', 'shop', 'web')?.kind).toBe('Secret');
    expect(s.get('Service', 'other', 'web')).toBeUndefined();
    expect(objectKey('IngressClass', '', 'gatehouse')).toBe('IngressClass/gatehouse');
    expect(objectKey('Service', 'shop', 'web')).toBe('Service/shop/web');
  });

  it('remove answers the change its kind calls for, and none for an object it does not hold', () => {
    const s = new Snapshot();
    s.upsert(obj('Ingress', 'web', 'shop'));
    s.upsert(obj('EndpointSlice', 'web-1', 'shop'));
    s.upsert(obj('IngressClass', 'gatehouse'));
    expect(s.remove('Ingress', 'shop', 'web')).toBe('routes');
    expect(s.get('Ingress', 'shop', 'web')).toBeUndefined();
    expect(s.remove('Ingress', 'shop', 'web')).toBe('none');
    expect(s.remove('EndpointSlice', 'shop', 'web-1')).toBe('endpoints');
    expect(s.remove('EndpointSlice', 'shop', 'web-1')).toBe('none');
    expect(s.remove('IngressClass', '', 'gatehouse')).toBe('routes');
    expect(s.remove('Service', 'shop', 'never-added')).toBe('none');
    // After a remove, the same content counts as new again.
    expect(s.upsert(obj('Ingress', 'web', 'shop'))).toBe('routes');
  });

  it('lists in key order whatever the arrival order', () => {
    const names: Array<[string, string]> = [['b', 'x'], ['a', 'z'], ['a', 'y'], ['c', 'a']];
    const forward = new Snapshot();
    const backward = new Snapshot();
    for (const [ns, name] of names) forward.upsert(obj('Ingress', name, ns));
    for (const [ns, name] of [...names].reverse()) backward.upsert(obj('Ingress', name, ns));
    const order = (s: Snapshot) => s.list('Ingress').map((o) => `${o.metadata.namespace}/${o.metadata.name}`);
    expect(order(forward)).toEqual(['a/y', 'a/z', 'b/x', 'c/a']);
    expect(order(backward)).toEqual(order(forward));
    expect(forward.list('Service')).toEqual([]);
  });

  it('keys() lists every object it holds', () => {
    const s = new Snapshot();
    s.upsert(obj('Ingress', 'web', 'shop'));
    s.upsert(obj('IngressClass', 'gatehouse'));
    s.upsert(obj('EndpointSlice', 'web-1', 'shop'));
    expect(s.keys()).toEqual(expect.arrayContaining([
      { kind: 'Ingress', namespace: 'shop', name: 'web' },
      { kind: 'IngressClass', namespace: '', name: 'gatehouse' },
      { kind: 'EndpointSlice', namespace: 'shop', name: 'web-1' },
    ]));
    expect(s.keys()).toHaveLength(3);
  });
});

describe('mergeChange', () => {
  it('lets routes dominate endpoints, which dominate none', () => {
    expect(mergeChange('none', 'none')).toBe('none');
    expect(mergeChange('none', 'endpoints')).toBe('endpoints');
    expect(mergeChange('endpoints', 'none')).toBe('endpoints');
    expect(mergeChange('endpoints', 'routes')).toBe('routes');
    expect(mergeChange('routes', 'none')).toBe('routes');
  });
});

describe('Snapshot.list', () => {
  it('lists the current objects in key order after any sequence of upserts and removes (its kept order included)', () => {
    const names = ['a', 'b', 'c', 'd'];
    const op = fc.record({ remove: fc.boolean(), kind: fc.constantFrom<Kind>('Service', 'Ingress'), name: fc.constantFrom(...names), namespace: fc.constantFrom('x', 'y'), port: fc.nat(3) });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 30 }), (ops) => {
        const s = new Snapshot();
        const want = new Map<string, KubeObject>();
        for (const o of ops) {
          const key = objectKey(o.kind, o.namespace, o.name);
          if (o.remove) {
            s.remove(o.kind, o.namespace, o.name);
            want.delete(key);
          } else {
            const object = obj(o.kind, o.name, o.namespace, { spec: { port: o.port } });
            s.upsert(object);
            want.set(key, object);
          }
          for (const kind of ['Service', 'Ingress'] as const) {
            const expected = [...want.entries()].filter(([k]) => k.startsWith(`${kind}/`)).sort(([a], [b]) => (a < b ? -1 : 1)).map(([, v]) => v);
            expect(s.list(kind)).toEqual(expected);
            for (const [i, v] of s.list(kind).entries()) expect(v).toBe(expected[i]);
          }
        }
      }),
      { numRuns: 200 },
    );
  });

  it('hands out a copy: sorting or emptying it leaves the next list alone', () => {
    const s = new Snapshot();
    for (const name of ['b', 'a', 'c']) s.upsert(obj('Service', name, 'x'));
    const first = s.list('Service');
    first.reverse();
    first.length = 1;
    expect(s.list('Service').map((o) => o.metadata.name)).toEqual(['a', 'b', 'c']);
  });
});
