// Live updates end to end: editing, breaking and removing manifest files while Gatehouse
// serves, and the flip test: a route switched back and forth between two upstreams while
// clients keep sending on kept-alive connections, with not one request failing.

import { Client } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEchoes, type Echo } from '../support/echo-upstream.ts';
import { servedBy } from '../support/http-client.ts';
import { backendService, ingressClass, manifest, simpleIngress, startGatehouse, waitFor, type Gatehouse } from '../support/harness.ts';

interface Readiness {
  ready: boolean;
  generation: number;
  workers: { id: number; generation: number; endpoints: string; restarts: number }[];
}

interface DebugTable {
  table: { generation: number; hosts: { host: string; routes: { path: string; backend: string }[] }[] };
  endpoints: { backends: Record<string, { address: string; port: number }[]> };
  workers: { generation: number }[];
}

describe('live updates', () => {
  let e: Record<'a' | 'b' | 'c', Echo> & { closeAll(): Promise<void> };
  let gh: Gatehouse;
  const who = async (host: string, path = '/') => {
    const r = await gh.request(path, { host });
    return r.status === 200 ? servedBy(r) : r.status;
  };

  beforeAll(async () => {
    e = await startEchoes(['a', 'b', 'c'] as const);
    gh = await startGatehouse({
      manifests: {
        'class.yaml': manifest(ingressClass('gatehouse')),
        'services.yaml': manifest(backendService('a', e.a.port), backendService('b', e.b.port)),
        'route.yaml': manifest(simpleIngress('live', 'live.test', 'a')),
      },
    });
  });

  afterAll(async () => {
    await gh?.close();
    await e?.closeAll();
  });

  it('follows an edited Ingress', async () => {
    expect(await who('live.test')).toBe('a');
    await gh.write('route.yaml', manifest(simpleIngress('live', 'live.test', 'b')));
    expect(await who('live.test')).toBe('b');
  });

  it('follows an edited EndpointSlice without publishing a new route table', async () => {
    const generation = gh.served().generation;
    await gh.write('services.yaml', manifest(backendService('a', e.a.port), backendService('b', e.c.port)));
    expect(await who('live.test')).toBe('c');
    expect(gh.served().generation).toBe(generation);
    await gh.write('services.yaml', manifest(backendService('a', e.a.port), backendService('b', e.b.port)));
    expect(await who('live.test')).toBe('b');
  });

  it('keeps the last good contents of a file that stops parsing', async () => {
    const before = gh.served();
    await gh.write('route.yaml', 'apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: live\n  spec: [unclosed\n', { expect: 'none' });
    expect(gh.served()).toEqual(before);
    expect(await who('live.test')).toBe('b');
    // Fixed again: followed again.
    await gh.write('route.yaml', manifest(simpleIngress('live', 'live.test', 'a')));
    expect(await who('live.test')).toBe('a');
  });

  it('drops the routes of a removed file', async () => {
    await gh.write('other.yaml', manifest(simpleIngress('other', 'other.test', 'b')));
    expect(await who('other.test')).toBe('b');
    await gh.remove('other.yaml');
    expect(await who('other.test')).toBe(404);
    expect(await who('live.test')).toBe('a');
  });

  it('reports readiness and the served table on the admin port', async () => {
    const ready = await gh.admin('/readyz');
    expect(ready.status).toBe(200);
    const r = ready.body as Readiness;
    expect(r.ready).toBe(true);
    expect(r.generation).toBe(gh.served().generation);
    expect(r.workers).toHaveLength(2);
    for (const w of r.workers) {
      expect(w.generation).toBe(r.generation);
      expect(w.endpoints).toBe(gh.served().endpoints);
    }
    const debug = await gh.admin('/debug/table');
    expect(debug.status).toBe(200);
    const d = debug.body as DebugTable;
    expect(d.table.generation).toBe(r.generation);
    const live = d.table.hosts.find((h) => h.host === 'live.test');
    expect(live?.routes).toEqual([expect.objectContaining({ path: '/', backend: 'default/a:80' })]);
    expect(d.endpoints.backends['default/a:80']).toEqual([{ address: '127.0.0.1', port: e.a.port }]);
  });

  it('THE FLIP TEST: a route flipped 20 times under continuous kept-alive load fails not one request', async () => {
    const FLIPS = 20;
    const CLIENTS = 4;
    const MAX_REQUESTS_PER_CLIENT = 20_000;
    const deadline = Date.now() + 45_000;
    const targets = ['a', 'b'] as const;

    // The phase: which upstream the route points at, and whether every worker serves it yet.
    let phase = { index: 0, target: 'a' as string, settled: false };
    await gh.write('flip.yaml', manifest(simpleIngress('flip', 'flip.test', 'a')));
    phase = { ...phase, settled: true };

    let stop = false;
    const failures: string[] = [];
    const stale: string[] = [];
    const seen = new Map<string, number>();
    const perPhase = Array.from({ length: CLIENTS }, () => new Set<number>());
    let total = 0;

    const clients = Array.from({ length: CLIENTS }, () => new Client(gh.origin, { pipelining: 1, keepAliveTimeout: 30_000 }));
    const loops = clients.map(async (client, c) => {
      for (let i = 0; i < MAX_REQUESTS_PER_CLIENT && !stop && Date.now() < deadline; i++) {
        const at = phase;
        try {
          const res = await client.request({ path: `/flip/${c}/${i}`, method: 'GET', headers: { host: 'flip.test' } });
          const name = String(res.headers['x-echo-name']);
          await res.body.dump();
          total++;
          if (res.statusCode !== 200) {
            failures.push(`client ${c} request ${i}: status ${res.statusCode}`);
            continue;
          }
          seen.set(name, (seen.get(name) ?? 0) + 1);
          // Started after every worker acked this phase's table, and no newer write began
          // before it was answered: it must have gone to this phase's upstream.
          if (at.settled && phase === at) {
            perPhase[c]!.add(at.index);
            if (name !== at.target) stale.push(`client ${c} request ${i}: phase ${at.index} routes to ${at.target}, served by ${name}`);
          }
        } catch (err) {
          failures.push(`client ${c} request ${i}: ${(err as Error).message}`);
        }
      }
    });

    try {
      for (let k = 1; k <= FLIPS; k++) {
        const target = targets[k % 2]!;
        phase = { index: k, target, settled: false };
        await gh.write('flip.yaml', manifest(simpleIngress('flip', 'flip.test', target)));
        phase = { ...phase, settled: true };
        // Let every client send at least one request in this settled phase (bounded).
        await waitFor(`every client to be served in phase ${k}`, () => perPhase.every((s) => s.has(k)) || stop, 5_000, 5);
      }
    } finally {
      stop = true;
      await Promise.all(loops);
      await Promise.all(clients.map((c) => c.close()));
    }

    expect(failures).toEqual([]);
    expect(stale).toEqual([]);
    expect(seen.get('a')).toBeGreaterThan(0);
    expect(seen.get('b')).toBeGreaterThan(0);
    expect(total).toBeGreaterThan(FLIPS * CLIENTS);
    // Every worker ends on the same, last generation.
    const r = (await gh.admin('/readyz')).body as Readiness;
    expect(new Set(r.workers.map((w) => w.generation))).toEqual(new Set([r.generation]));
  });
});
