// Health checks end to end (issue 10 items 2-4): active probes from the main thread take an
// endpoint out after exactly unhealthy-threshold failed probes and back in after exactly
// healthy-threshold passing ones (counted at the echo upstream); passive health ejects an endpoint
// after exactly N 5xx in a row whichever of the 4 workers served them (shared memory); panic mode
// sends traffic to every endpoint when all are down. Real controller, 4 workers, echo upstreams.

import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEcho, type Echo } from '../support/echo-upstream.ts';
import { servedBy } from '../support/http-client.ts';
import { backendService, ingress, ingressClass, manifest, startGatehouse, waitFor, type Gatehouse } from '../support/harness.ts';

const G = 'gatehouse.io/';

function hostIngress(name: string, host: string, svc: string, annotations: Record<string, string>) {
  return ingress(name, { annotations, rules: [{ host, paths: [{ path: '/', pathType: 'Prefix', service: svc }] }] });
}

interface DebugHealth {
  health: { active: Record<string, { endpoint: string; healthy: boolean }[]>; passive: Record<string, { endpoint: string; failures: number; ejections: number; ejectedForMs: number }[]> };
}

describe('health checks', () => {
  let gh: Gatehouse;
  let h1: Echo, h2: Echo, p1: Echo, p2: Echo, p3: Echo, x1: Echo, x2: Echo;

  beforeAll(async () => {
    [h1, h2, p1, p2, p3, x1, x2] = (await Promise.all(['h1', 'h2', 'p1', 'p2', 'p3', 'x1', 'x2'].map((name) => startEcho({ name })))) as [Echo, Echo, Echo, Echo, Echo, Echo, Echo];
    gh = await startGatehouse({
      options: { workers: 4 },
      manifests: manifest(
        ingressClass('gatehouse'),
        backendService('active', [h1.port, h2.port]),
        backendService('passive', [p1.port, p2.port, p3.port]),
        backendService('panic', [x1.port, x2.port]),
        // A 1 s interval against 20 ms polling: the state is read long before the next probe.
        hostIngress('active', 'active.test', 'active', { [`${G}health-check-path`]: '/__health', [`${G}health-check-interval`]: '1s', [`${G}health-check-timeout`]: '500ms', [`${G}health-check-unhealthy-threshold`]: '3', [`${G}health-check-healthy-threshold`]: '2' }),
        hostIngress('passive', 'passive.test', 'passive', { [`${G}passive-health-consecutive-failures`]: '3', [`${G}passive-health-base-ejection`]: '10m', 'nginx.ingress.kubernetes.io/proxy-next-upstream': 'off' }),
        hostIngress('panic', 'panic.test', 'panic', { [`${G}health-check-path`]: '/__health', [`${G}health-check-interval`]: '300ms', [`${G}health-check-timeout`]: '200ms', [`${G}health-check-unhealthy-threshold`]: '1' }),
      ),
    });
  });

  afterAll(async () => {
    await gh?.close();
    await Promise.all([h1, h2, p1, p2, p3, x1, x2].map((e) => e?.close()));
  });

  const probes = (e: Echo) => e.received.filter((r) => r.url === '/__health').length;
  const debug = async () => ((await gh.admin('/debug/table')).body as DebugHealth).health;
  const activeState = async (backend: string, e: Echo) => (await debug()).active[backend]?.find((s) => s.endpoint === `127.0.0.1|${e.port}`)?.healthy;
  /** `n` requests, each on a new connection (so they spread over the workers); the echo names that answered. */
  const spread = async (host: string, path: string, n: number) => {
    const out: (string | null)[] = [];
    for (let i = 0; i < n; i++) {
      const agent = new Agent({ pipelining: 0 });
      try {
        out.push(servedBy(await gh.request(path, { host }, agent)));
      } finally {
        await agent.close();
      }
    }
    return out;
  };

  it('active checks take an endpoint out after exactly unhealthy-threshold failed probes, and back after exactly healthy-threshold passing ones', async () => {
    await waitFor('first probes of both endpoints', () => probes(h1) > 0 && probes(h2) > 0);
    // Switch right after a probe: the next ones fail.
    const before = probes(h1);
    await waitFor('a probe', () => probes(h1) > before, 5000, 5);
    h1.healthStatus = 500;
    const failedFrom = probes(h1);
    await waitFor('h1 down', async () => (await activeState('default/active:80', h1)) === false, 15_000, 20);
    expect(probes(h1) - failedFrom).toBe(3);
    // Workers get the verdict beside the endpoints: h1 gets no request once they have it.
    await waitFor('requests avoid h1', async () => (await spread('active.test', '/x', 8)).every((n) => n === 'h2'), 5000, 20);
    const served = await spread('active.test', '/y', 20);
    expect(served.every((n) => n === 'h2')).toBe(true);
    expect(h1.received.filter((r) => r.url === '/y')).toHaveLength(0);

    h1.healthStatus = 200;
    const passingFrom = probes(h1);
    await waitFor('h1 up', async () => (await activeState('default/active:80', h1)) === true, 15_000, 20);
    expect(probes(h1) - passingFrom).toBe(2);
    await waitFor('h1 serves again', async () => (await spread('active.test', '/z', 8)).includes('h1'), 5000, 20);
  });

  it('passive health ejects an endpoint after exactly 3 5xx in a row, counted across 4 workers, for every worker', async () => {
    // p1 answers 500, the others 200; proxy-next-upstream off: each 500 goes to the client.
    const served = await spread('passive.test', '/__status/500?only=p1', 40);
    const failing = p1.received.filter((r) => r.url.startsWith('/__status/500'));
    expect(failing).toHaveLength(3);
    expect(served.filter((n) => n === 'p1')).toHaveLength(3);
    expect(served.filter((n) => n !== 'p1').length).toBe(37);
    const state = (await debug()).passive['default/passive:80']!;
    expect(state.find((s) => s.endpoint === `127.0.0.1|${p1.port}`)).toMatchObject({ ejections: 1, failures: 0 });
    expect(state.find((s) => s.endpoint === `127.0.0.1|${p1.port}`)!.ejectedForMs).toBeGreaterThan(0);
    // At most 50 % of 3 (one) ejected: p2 failing too stays in.
    const more = await spread('passive.test', '/__status/500?only=p2', 12);
    expect(more.filter((n) => n === 'p2').length).toBeGreaterThan(3);
  });

  it('panic mode: when every endpoint fails its checks, traffic goes to all of them rather than none', async () => {
    await waitFor('first probes', () => probes(x1) > 0 && probes(x2) > 0);
    x1.healthStatus = 503;
    await waitFor('x1 down', async () => (await activeState('default/panic:80', x1)) === false, 10_000, 20);
    await waitFor('requests avoid x1', async () => (await spread('panic.test', '/a', 6)).every((n) => n === 'x2'), 5000, 20);
    x2.healthStatus = 503;
    await waitFor('x2 down', async () => (await activeState('default/panic:80', x2)) === false, 10_000, 20);
    await waitFor('both serve (panic)', async () => {
      const served = await spread('panic.test', '/b', 8);
      return served.includes('x1') && served.includes('x2');
    }, 5000, 20);
    const statuses = await Promise.all(Array.from({ length: 6 }, () => gh.request('/c', { host: 'panic.test' }).then((r) => r.status)));
    expect(statuses.every((s) => s === 200)).toBe(true);
  });
});
