// /metrics after known traffic, across a pool of 2 workers: every request counted exactly once, by
// the Ingress and Service that served it, method and status class (unrouted requests with empty
// namespace and ingress), its duration and upstream duration in the histograms, its bytes, the
// refusals of a rate limit and an access list by reason; connections by listener, TLS handshakes
// by version, certificate expiry per Secret, generation, applies and conditions by code. No path,
// client address or query ever appears in a label.

import { Client } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCa, tlsSecret } from '../support/certs.ts';
import { startEcho, type Echo } from '../support/echo-upstream.ts';
import { backendService, freePort, ingress, ingressClass, manifest, startGatehouse, waitFor, type Gatehouse } from '../support/harness.ts';
import { parsePrometheusText, type Scrape } from '../support/prometheus-text.ts';

const NGINX = 'nginx.ingress.kubernetes.io/';
const DAY_MS = 86_400_000;

async function scrape(gh: Gatehouse): Promise<Scrape> {
  const res = await fetch(`http://127.0.0.1:${gh.adminPort}/metrics`);
  expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  return parsePrometheusText(await res.text());
}

describe('Prometheus metrics over a pool of 2 workers', () => {
  let echo: Echo;
  let gh: Gatehouse;
  const notAfter = new Date(Date.now() + 30 * DAY_MS);
  let dead = 0;

  beforeAll(async () => {
    echo = await startEcho({ name: 'metrics' });
    dead = await freePort();
    const ca = await createCa();
    const pair = await ca.issue({ dnsNames: ['shop.test'], notAfter });
    const shop = ingress('shop', { namespace: 'store', rules: [{ host: 'shop.test', paths: [{ path: '/', service: 'echo' }] }] });
    (shop.spec as Record<string, unknown>).tls = [{ hosts: ['shop.test'], secretName: 'shop-tls' }];
    gh = await startGatehouse({
      options: { workers: 2 },
      manifests: manifest(
        ingressClass('gatehouse'),
        backendService('echo', echo.port, { namespace: 'store' }),
        tlsSecret('shop-tls', pair, { namespace: 'store' }),
        shop,
        ingress('limited', { namespace: 'store', annotations: { [`${NGINX}limit-rpm`]: '1', [`${NGINX}limit-burst-multiplier`]: '1' }, rules: [{ host: 'limited.test', paths: [{ path: '/', service: 'echo' }] }] }),
        ingress('private', { namespace: 'store', annotations: { [`${NGINX}whitelist-source-range`]: '10.0.0.0/8' }, rules: [{ host: 'private.test', paths: [{ path: '/', service: 'echo' }] }] }),
        // Active health checks: one endpoint answers, one refuses connections.
        backendService('checked', [echo.port, dead], { namespace: 'store' }),
        ingress('checked', {
          namespace: 'store',
          annotations: { 'gatehouse.io/health-check-path': '/__health', 'gatehouse.io/health-check-interval': '1s', 'gatehouse.io/health-check-timeout': '900ms', 'gatehouse.io/health-check-unhealthy-threshold': '1' },
          rules: [{ host: 'checked.test', paths: [{ path: '/', service: 'checked' }] }],
        }),
        // A bad annotation: a condition by code.
        ingress('broken', { namespace: 'store', annotations: { [`${NGINX}limit-rps`]: 'many' }, rules: [{ host: 'broken.test', paths: [{ path: '/', service: 'echo' }] }] }),
      ),
    });
  });

  afterAll(async () => {
    await gh?.close();
    await echo?.close();
  });

  it('counts each request once, exactly, whichever worker served it', async () => {
    // Connections of their own over HTTPS, so each handshake shows which worker took it: opened
    // (one HEAD each) until both workers have some.
    const clients: Client[] = [];
    const plain = new Client(gh.origin, { pipelining: 1 });
    const get = async (c: Client, o: { host: string; path?: string; method?: string; body?: string }) => {
      const res = await c.request({ path: o.path ?? '/', method: (o.method ?? 'GET') as 'GET', headers: { host: o.host }, body: o.body });
      await res.body.dump();
      return res.statusCode;
    };
    try {
      while (clients.length < 8 || (clients.length < 64 && !gh.controller.pool.status().every((w) => w.counters.tlsHandshakes > 0))) {
        const c = new Client(`https://127.0.0.1:${gh.httpsPort}`, { pipelining: 1, connect: { rejectUnauthorized: false, servername: 'shop.test' } });
        clients.push(c);
        expect(await get(c, { host: 'shop.test', method: 'HEAD' })).toBe(200);
      }
      expect(gh.controller.pool.status().map((w) => w.counters.tlsHandshakes > 0)).toEqual([true, true]);
      const n = clients.length;
      const statuses: number[] = [];
      const limitedStatuses: number[] = [];
      for (let i = 0; i < 24; i++) statuses.push(await get(clients[i % n]!, { host: 'shop.test', path: `/item/${i}?token=t${i}` }));
      for (let i = 0; i < 6; i++) statuses.push(await get(clients[i % n]!, { host: 'shop.test', method: 'POST', body: 'x'.repeat(100) }));
      echo.healthStatus = 503;
      for (let i = 0; i < 5; i++) statuses.push(await get(clients[i % n]!, { host: 'shop.test', path: '/__health' }));
      echo.healthStatus = 200;
      for (let i = 0; i < 3; i++) statuses.push(await get(plain, { host: 'nobody.test' }));
      for (let i = 0; i < 4; i++) limitedStatuses.push(await get(plain, { host: 'limited.test' }));
      for (let i = 0; i < 2; i++) statuses.push(await get(plain, { host: 'private.test' }));
      expect(statuses.filter((s) => s === 200)).toHaveLength(30);
      // limit-rpm 1 with its burst (limit-burst-multiplier 1): some admitted, the rest refused with 503.
      const admitted = limitedStatuses.filter((s) => s === 200).length;
      expect(admitted).toBeGreaterThan(0);
      expect(admitted).toBeLessThan(4);
      expect(limitedStatuses.filter((s) => s === 503)).toHaveLength(4 - admitted);

      // The responses are counted when they close: wait for the last one.
      await waitFor('every request counted', async () => (await scrape(gh)).sum('gatehouse_requests_total') === 44 + n);
      const m = await scrape(gh);
      const shop = { namespace: 'store', ingress: 'shop', service: 'echo' };
      expect(m.value('gatehouse_requests_total', { ...shop, method: 'GET', status_class: '2xx' })).toBe(24);
      expect(m.value('gatehouse_requests_total', { ...shop, method: 'POST', status_class: '2xx' })).toBe(6);
      expect(m.value('gatehouse_requests_total', { ...shop, method: 'HEAD', status_class: '2xx' })).toBe(n);
      expect(m.value('gatehouse_requests_total', { ...shop, method: 'GET', status_class: '5xx' })).toBe(5);
      expect(m.value('gatehouse_requests_total', { namespace: '', ingress: '', service: '', method: 'GET', status_class: '4xx' })).toBe(3);
      const limited = { namespace: 'store', ingress: 'limited', service: 'echo' };
      expect(m.value('gatehouse_requests_total', { ...limited, method: 'GET', status_class: '2xx' })).toBe(admitted);
      expect(m.value('gatehouse_requests_total', { ...limited, method: 'GET', status_class: '5xx' })).toBe(4 - admitted);
      expect(m.value('gatehouse_requests_refused_total', { ...limited, reason: 'rate_limit' })).toBe(4 - admitted);
      const priv = { namespace: 'store', ingress: 'private', service: 'echo' };
      expect(m.value('gatehouse_requests_total', { ...priv, method: 'GET', status_class: '4xx' })).toBe(2);
      expect(m.value('gatehouse_requests_refused_total', { ...priv, reason: 'access' })).toBe(2);

      // Histograms: every shop request in the request histogram and, as each reached the echo, in the upstream one.
      expect(m.value('gatehouse_request_duration_seconds_count', shop)).toBe(35 + n);
      expect(m.value('gatehouse_request_duration_seconds_bucket', { ...shop, le: '+Inf' })).toBe(35 + n);
      expect(m.value('gatehouse_upstream_duration_seconds_count', shop)).toBe(35 + n);
      expect(m.value('gatehouse_upstream_duration_seconds_count', priv)).toBeUndefined();
      expect(m.value('gatehouse_request_duration_seconds_sum', shop)).toBeGreaterThan(0);
      // Buckets are cumulative.
      const buckets = m.samples.filter((s) => s.name === 'gatehouse_request_duration_seconds_bucket' && s.labels.ingress === 'shop').map((s) => s.value);
      expect(buckets).toEqual([...buckets].sort((a, b) => a - b));
      // Bytes: the POST bodies at least, and every response's headers and body.
      expect(m.value('gatehouse_request_bytes_total', shop)).toBeGreaterThan(600);
      expect(m.value('gatehouse_response_bytes_total', shop)).toBeGreaterThan(35 * 100);

      // Connections by listener: the HTTPS clients and the plain one are open.
      expect(m.value('gatehouse_client_connections', { listener: 'https' })).toBe(n);
      expect(m.value('gatehouse_client_connections', { listener: 'http' })).toBe(1);
      expect(m.value('gatehouse_tls_handshakes_total', { version: 'TLSv1.3', outcome: 'success' })).toBe(n);

      // No path, query or client address in any label (endpoint labels name upstreams, here on 127.0.0.1).
      for (const s of m.samples) for (const [k, v] of Object.entries(s.labels)) if (k !== 'endpoint') expect(v).not.toMatch(/\/item|token|127\.0\.0\.1/);
    } finally {
      await Promise.all([...clients, plain].map((c) => c.close()));
    }
    await waitFor('closed connections counted out', async () => (await scrape(gh)).sum('gatehouse_client_connections') === 0);
  });

  it('reports the control plane: generation, applies, conditions by code, certificate expiry, endpoints', async () => {
    const m = await scrape(gh);
    expect(m.value('gatehouse_config_generation')).toBe(gh.controller.table()!.generation);
    expect(m.value('gatehouse_config_applies_total')).toBeGreaterThanOrEqual(1);
    expect(m.value('gatehouse_config_last_apply_timestamp_seconds')).toBeGreaterThan(Date.now() / 1000 - 600);
    expect(m.value('gatehouse_config_compile_duration_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(m.value('gatehouse_conditions', { code: 'GH_ANNOTATION_INVALID' })).toBe(1);
    const expiry = m.value('gatehouse_certificate_expiry_seconds', { namespace: 'store', secret: 'shop-tls' })!;
    expect(Math.abs(expiry - (notAfter.getTime() - Date.now()) / 1000)).toBeLessThan(120);
    expect(m.value('gatehouse_backend_endpoints', { backend: 'store/echo:80' })).toBe(1);
    expect(m.value('gatehouse_backend_endpoints', { backend: 'store/checked:80' })).toBe(2);
    expect(m.value('gatehouse_workers')).toBe(2);
    // Local mode holds no Lease: no leader gauge.
    expect(m.value('gatehouse_leader')).toBeUndefined();
  });

  it('reports the health of the endpoints of backends with health checks', async () => {
    const healthy = async (port: number) => (await scrape(gh)).value('gatehouse_endpoint_healthy', { backend: 'store/checked:80', endpoint: `127.0.0.1:${port}` });
    // A probe of the live one that a busy machine delays past its timeout marks it down until the next: waited for together.
    await waitFor('the dead endpoint reported unhealthy, the live one healthy', async () => (await healthy(dead)) === 0 && (await healthy(echo.port)) === 1);
    expect((await scrape(gh)).value('gatehouse_endpoint_ejections_total', { backend: 'store/checked:80', endpoint: `127.0.0.1:${echo.port}` })).toBe(0);
  });
});
