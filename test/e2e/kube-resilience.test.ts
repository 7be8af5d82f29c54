// Kubernetes mode when the API server misbehaves: unreachable for a while (traffic keeps
// flowing from the last good table, /healthz stays 200, the changes made meanwhile are applied
// once it is back, with no help), a watch answered 500, and a watch whose resourceVersion was
// compacted away (410 → re-list; a delete made in the gap is not lost).

import { Client } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEchoes, type Echo } from '../support/echo-upstream.ts';
import { backendService, endpointSlice, ingressClass, simpleIngress, sleep } from '../support/harness.ts';
import { startKubeApi, type KubeApi } from '../support/kube-api-emulator.ts';
import { beginKubeGatehouse, eventually, put, startKubeGatehouse, type KubeGatehouse } from '../support/kube-harness.ts';

describe('kube mode: resilience to API server faults', () => {
  let e: Record<'a' | 'b' | 'c', Echo> & { closeAll(): Promise<void> };
  let api: KubeApi;
  let gh: KubeGatehouse;

  beforeAll(async () => {
    e = await startEchoes(['a', 'b', 'c'] as const);
    api = await startKubeApi();
    put(api, ingressClass('gatehouse'), backendService('a', e.a.port), backendService('b', e.b.port));
    put(api, simpleIngress('steady', 'steady.test', 'a'), simpleIngress('doomed', 'doomed.test', 'a'), simpleIngress('moving', 'moving.test', 'a'));
    gh = await startKubeGatehouse(api);
  });

  afterAll(async () => {
    await api?.faults.refuse(false);
    await gh?.close();
    await api?.close();
    await e?.closeAll();
  });

  it('API server unreachable for 2.5 s: every request still answered 200, /healthz 200; the changes made meanwhile applied after', async () => {
    const generation = gh.served().generation;
    const client = new Client(gh.origin, { pipelining: 1, keepAliveTimeout: 30_000 });
    const failures: string[] = [];
    let answered = 0;
    let stop = false;
    const load = (async () => {
      for (let i = 0; i < 100_000 && !stop; i++) {
        try {
          const res = await client.request({ path: `/r/${i}`, method: 'GET', headers: { host: 'steady.test' } });
          await res.body.dump();
          answered++;
          if (res.statusCode !== 200) failures.push(`request ${i}: ${res.statusCode}`);
        } catch (err) {
          failures.push(`request ${i}: ${(err as Error).message}`);
        }
        await sleep(5);
      }
    })();
    const health: number[] = [];
    let answeredWhileDown: number;
    try {
      await api.faults.refuse(true);
      const down = Date.now();
      const answeredBefore = answered;
      // Changes the controller cannot see yet.
      api.delete('Ingress', 'default', 'doomed');
      put(api, simpleIngress('moving', 'moving.test', 'b'));
      put(api, simpleIngress('born', 'born.test', 'b'));
      put(api, endpointSlice('a-0', 'a', { ports: [{ name: 'http', port: e.c.port }] }));
      // Away for 2.5 s, and for as long as it takes a busy machine to answer more than ten
      // /healthz probes and fifty requests meanwhile.
      while (Date.now() - down < 2500 || health.length <= 10 || answered - answeredBefore <= 50) {
        if (Date.now() - down > 20_000) throw new Error(`after 20 s: ${health.length} /healthz probes, ${answered - answeredBefore} requests answered`);
        health.push((await gh.admin('/healthz')).status);
        await sleep(100);
      }
      answeredWhileDown = answered - answeredBefore;
      // Nothing moved while the API server was away: the last good table keeps serving.
      expect(gh.served().generation).toBe(generation);
      expect(await gh.who('doomed.test')).toBe('a');
      expect(await gh.who('born.test')).toBe(404);
      await eventually('the informers to log their failures', () => gh.logs.some((l) => l.msg === 'list/watch failed; restarting it'));
      await api.faults.refuse(false);
      // No nudge: the informers come back on their own (backoff: the next retry is at most about
      // as far off as the outage was long) and catch up.
      await gh.until('born.test', 'b', '/', 20_000);
      await gh.until('doomed.test', 404);
      await gh.until('moving.test', 'b');
      await gh.until('steady.test', 'c');
    } finally {
      stop = true;
      await load;
      await client.close();
    }
    expect(health.length).toBeGreaterThan(10);
    expect(new Set(health)).toEqual(new Set([200]));
    expect(failures).toEqual([]);
    expect(answeredWhileDown).toBeGreaterThan(50);
    expect((await gh.admin('/readyz')).status).toBe(200);
    put(api, endpointSlice('a-0', 'a', { ports: [{ name: 'http', port: e.a.port }] }));
    await gh.until('steady.test', 'a');
  });

  it('a watch answered 500 (twice) is restarted with backoff and catches up', async () => {
    await eventually('the Ingress watch to be open', () => api.openWatches().some((w) => w.resource === 'ingresses'));
    const before = api.requests.length;
    api.faults.failNext(2, 500, { verb: 'watch', resource: 'ingresses' });
    expect(api.faults.dropWatches({ match: { resource: 'ingresses' } })).toBe(1);
    put(api, simpleIngress('after-500', 'after-500.test', 'b'));
    await gh.until('after-500.test', 'b', '/', 10_000);
    const watches = api.requests.slice(before).filter((r) => r.resource === 'ingresses' && r.verb === 'watch');
    expect(watches.map((r) => r.status)).toEqual([500, 500, 200]);
    // Resumed from its resourceVersion: no re-list was needed.
    expect(api.requests.slice(before).filter((r) => r.resource === 'ingresses' && r.verb === 'list')).toEqual([]);
  });

  it('410 on the re-watch (history compacted) → re-list; an Ingress deleted in the gap is removed, none lost', async () => {
    put(api, simpleIngress('gap', 'gap.test', 'a'), simpleIngress('kept', 'kept.test', 'a'));
    await gh.until('gap.test', 'a');
    await gh.until('kept.test', 'a');
    await eventually('the Ingress watch to be open', () => api.openWatches().some((w) => w.resource === 'ingresses'));
    const before = api.requests.length;
    // The re-watch is held at the API server while the delete happens and history is compacted.
    api.faults.delay(600, { verb: 'watch', resource: 'ingresses' });
    expect(api.faults.dropWatches({ match: { resource: 'ingresses' } })).toBe(1);
    await sleep(50);
    api.delete('Ingress', 'default', 'gap');
    put(api, simpleIngress('kept', 'kept.test', 'b'));
    api.faults.expireResourceVersions();
    try {
      await gh.until('gap.test', 404, '/', 10_000);
      await gh.until('kept.test', 'b');
    } finally {
      api.faults.delay(0);
    }
    await api.waitForWatch({ resource: 'ingresses' });
    const ingressRequests = api.requests.slice(before).filter((r) => r.resource === 'ingresses');
    // The held re-watch (from the old resourceVersion, answered with a 410 ERROR event), a list, a watch from the list's.
    expect(ingressRequests.map((r) => `${r.verb} ${r.status}`).slice(0, 3)).toEqual(['watch 200', 'list 200', 'watch 200']);
    expect(Number(ingressRequests[2]!.query.resourceVersion)).toBeGreaterThan(Number(ingressRequests[0]!.query.resourceVersion));
    expect(await gh.who('steady.test')).toBe('a');
  });
});

describe('kube mode: API server unreachable at start', () => {
  it('/healthz 200 and /readyz 503 while it cannot list; starts serving by itself once the API server answers', async () => {
    const e = await startEchoes(['a'] as const);
    const api = await startKubeApi();
    let gh: KubeGatehouse | null = null;
    try {
      put(api, ingressClass('gatehouse'), backendService('a', e.a.port), simpleIngress('late', 'late.test', 'a'));
      await api.faults.refuse(true);
      const starting = await beginKubeGatehouse(api);
      // The admin server starts once the Kubernetes client is loaded (launch imports it in Kubernetes mode only).
      await eventually('the admin server to answer', async () => (await starting.admin('/healthz').catch(() => null))?.status === 200);
      for (let i = 0; i < 10; i++) {
        expect((await starting.admin('/healthz')).status).toBe(200);
        expect((await starting.admin('/readyz')).status).toBe(503);
        await sleep(100);
      }
      // Every informer has failed at least once (five lines) before the API server comes back.
      await eventually('five list failures logged', () => starting.logs.filter((l) => l.msg === 'list/watch failed; restarting it').length >= 5);
      await api.faults.refuse(false);
      gh = await starting.started;
      expect((await gh.admin('/readyz')).status).toBe(200);
      expect(await gh.who('late.test')).toBe('a');
      expect(gh.logs.filter((l) => l.msg === 'list/watch failed; restarting it').length).toBeGreaterThanOrEqual(5);
    } finally {
      await api.faults.refuse(false);
      await gh?.close();
      await api.close();
      await e.closeAll();
    }
  });
});
