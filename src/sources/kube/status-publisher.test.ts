// The status publisher against the Kubernetes API emulator, through the real client and a real
// Lease: after a compile it writes the status of exactly the Ingresses whose status is not the
// published one, whether it compares them all or only those that are other objects than at its
// last sync.

import { afterEach, describe, expect, it } from 'vitest';
import { startKubeApi, type KubeObject as ApiObject } from '../../../test/support/kube-api-emulator.ts';
import { Snapshot, toKubeObject } from '../../core/snapshot.ts';
import { KubeHttp } from './kube-http.ts';
import { LeaderElector } from './leader-election.ts';
import { StatusPublisher } from './status-publisher.ts';

const NS = 'web';
const PUBLISHED = [{ ip: '192.0.2.10' }];
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function ingress(name: string): ApiObject {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name, namespace: NS }, spec: { ingressClassName: 'gatehouse', rules: [{ host: `${name}.test` }] } };
}

async function setUp(count: number) {
  const api = await startKubeApi();
  cleanups.push(() => api.close());
  for (let i = 0; i < count; i++) api.create(ingress(`ing-${i}`));
  const http = new KubeHttp(api.kubeConfig());
  const elector = new LeaderElector({ http, namespace: NS, name: 'status-test', identity: 'me', log: silent, leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 });
  const started = new Promise<void>((resolve) => elector.once('started', () => resolve()));
  elector.start();
  cleanups.push(() => elector.release());
  await started;
  const publisher = new StatusPublisher({ http, elector, log: silent, publishService: null, publishStatusAddress: PUBLISHED.map((a) => a.ip) });
  cleanups.push(() => publisher.close());
  const snapshot = new Snapshot();
  /** The API's current version of each named Ingress into the snapshot, as the watch would deliver it. */
  const deliver = (...names: string[]) => {
    for (const name of names) {
      const checked = toKubeObject(api.get('Ingress', NS, name));
      if (!checked.ok) throw new Error(checked.reason);
      snapshot.upsert(checked.object);
    }
  };
  const names = Array.from({ length: count }, (_, i) => `ing-${i}`);
  deliver(...names);
  const owned = names.map((n) => `${NS}/${n}`).sort();
  const writes = (from: number) => api.requests.slice(from).filter((r) => r.method === 'PATCH' && r.subresource === 'status').map((r) => r.name);
  const statusOf = (name: string) => (api.get('Ingress', NS, name) as { status?: { loadBalancer?: { ingress?: unknown } } }).status?.loadBalancer?.ingress ?? null;
  return { api, publisher, snapshot, deliver, names, owned, writes, statusOf };
}

describe('StatusPublisher', () => {
  it('after each compile writes the status of the Ingresses that differ only, and puts back one someone else changed', async () => {
    const { api, publisher, snapshot, deliver, names, owned, writes, statusOf } = await setUp(20);
    let from = api.requests.length;
    publisher.update(snapshot, owned);
    await publisher.idle();
    expect(writes(from).sort()).toEqual([...names].sort());
    deliver(...names);

    // The same owned list, nothing changed: nothing written.
    from = api.requests.length;
    publisher.update(snapshot, owned);
    await publisher.idle();
    expect(writes(from)).toEqual([]);

    // Someone else edits one status; the watch delivers it; the next compile puts it back.
    api.patch('Ingress', NS, 'ing-7', { status: { loadBalancer: { ingress: [{ ip: '203.0.113.9' }] } } });
    deliver('ing-7');
    from = api.requests.length;
    publisher.update(snapshot, owned);
    await publisher.idle();
    expect(writes(from)).toEqual(['ing-7']);
    expect(statusOf('ing-7')).toEqual(PUBLISHED);
    deliver('ing-7');

    // One Ingress stops being ours: cleared.
    from = api.requests.length;
    publisher.update(snapshot, owned.filter((k) => k !== `${NS}/ing-3`));
    await publisher.idle();
    expect(writes(from)).toEqual(['ing-3']);
    expect(statusOf('ing-3')).toBeNull();
  });

  it('retries a failed write on the next compile, though the Ingress did not change', async () => {
    const { api, publisher, snapshot, deliver, names, owned, writes, statusOf } = await setUp(5);
    publisher.update(snapshot, owned);
    await publisher.idle();
    deliver(...names);
    api.patch('Ingress', NS, 'ing-2', { status: { loadBalancer: { ingress: [{ ip: '203.0.113.9' }] } } });
    deliver('ing-2');
    api.faults.failNext(1, 500, (r) => r.subresource === 'status');
    let from = api.requests.length;
    publisher.update(snapshot, owned);
    await publisher.idle();
    expect(writes(from)).toEqual(['ing-2']);
    expect(statusOf('ing-2')).toEqual([{ ip: '203.0.113.9' }]);
    from = api.requests.length;
    publisher.update(snapshot, owned);
    await publisher.idle();
    expect(writes(from)).toEqual(['ing-2']);
    expect(statusOf('ing-2')).toEqual(PUBLISHED);
  });
});
