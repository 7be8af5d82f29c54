import { describe, expect, it } from 'vitest';
import type { Backend, Route, RouteTable, VirtualHost } from '../../core/model.ts';
import { Router } from '../router/router.ts';
import { MAX_SERIES } from './request-metrics.ts';
import { OVERFLOW, seriesKey, SeriesRegistry, UNROUTED } from './series.ts';

function backend(id: string): Backend {
  const [namespace = '', rest = ''] = id.split('/');
  return { id, namespace, service: rest.split(':')[0]!, port: 80, target: { type: 'missing' } };
}
function route(path: string, b: string, ingress: string): Route {
  return { path, match: 'Prefix', backend: b, ingress, sslRedirect: false };
}
function table(hosts: VirtualHost[], backends: string[], defaultBackend: string | null = null): RouteTable {
  return { generation: 1, fingerprint: 'f', hosts, defaultBackend, backends: Object.fromEntries(backends.map((id) => [id, backend(id)])), tls: [], defaultCertificate: null };
}

describe('metrics series', () => {
  const t = table(
    [
      { host: 'a.test', routes: [route('/', 'shop/web:80', 'shop/front'), route('/api', 'shop/api:80', 'shop/front')], defaultBackend: 'shop/fallback:80', tls: false, sslRedirect: false },
      { host: 'b.test', routes: [route('/', 'shop/web:80', 'shop/front')], defaultBackend: null, tls: false, sslRedirect: false },
    ],
    ['shop/web:80', 'shop/api:80', 'shop/fallback:80', 'ops/default:80'],
    'ops/default:80',
  );

  it('numbers each label set once, keeps numbers across tables, and labels defaults with their Service and no Ingress', () => {
    const r = new SeriesRegistry();
    r.add(t);
    const first = r.index();
    expect(r.labels()).toEqual([
      { namespace: '', ingress: '', service: '' },
      { namespace: '', ingress: '_overflow', service: '' },
      { namespace: 'ops', ingress: '', service: 'default' },
      { namespace: 'shop', ingress: '', service: 'fallback' },
      { namespace: 'shop', ingress: 'front', service: 'web' },
      { namespace: 'shop', ingress: 'front', service: 'api' },
    ]);
    // The route's Ingress and its backend's Service, both hosts alike.
    expect(first[seriesKey(t, 'shop/web:80', t.hosts[1]!.routes[0]!)]).toBe(4);
    const next = table([{ host: 'c.test', routes: [route('/', 'shop/api:80', 'shop/other')], defaultBackend: null, tls: false, sslRedirect: false }], ['shop/api:80']);
    // add answers only the label sets it numbered; the index keeps the others.
    expect(r.add(next)).toEqual({ [seriesKey(next, 'shop/api:80', next.hosts[0]!.routes[0]!)]: 6 });
    expect(r.index()[seriesKey(t, 'shop/api:80', t.hosts[0]!.routes[1]!)]).toBe(5);
    expect(r.index()[seriesKey(next, 'shop/api:80', next.hosts[0]!.routes[0]!)]).toBe(6);
  });

  it('puts label sets past MAX_SERIES into the overflow series', () => {
    const r = new SeriesRegistry();
    const hosts: VirtualHost[] = Array.from({ length: MAX_SERIES + 10 }, (_, i) => ({ host: `h${i}.test`, routes: [route('/', 'shop/web:80', `shop/i${i}`)], defaultBackend: null, tls: false, sslRedirect: false }));
    const index = r.add(table(hosts, ['shop/web:80']));
    expect(r.labels()).toHaveLength(MAX_SERIES);
    expect(index[seriesKey({ backends: { 'shop/web:80': backend('shop/web:80') } }, 'shop/web:80', hosts.at(-1)!.routes[0]!)]).toBe(OVERFLOW);
  });

  it('puts its series on each Match, once per table', () => {
    const r = new SeriesRegistry();
    r.add(t);
    const index = r.index();
    const router = new Router(t, { series: (b, r) => index[seriesKey(t, b, r)] ?? OVERFLOW });
    expect(router.lookup('a.test', '/api/x').series).toBe(5);
    expect(router.lookup('b.test', '/').series).toBe(4);
    expect(router.lookup('nowhere.test', '/').series).toBe(2);
    expect(new Router(table([], [])).lookup('x', '/').series).toBe(UNROUTED);
  });
});
