// Two (then three) controller instances on one API emulator: exactly one holds the Lease;
// only it writes Ingress status (the published addresses, only on change, cleared when an
// Ingress stops being ours) and Events; a leader that shuts down releases the Lease and the
// other takes over at once; a leader that stops renewing without releasing (its Lease writes
// fail) is replaced one lease duration after its last renewal, and steps down itself first.
//
// The instances share the emulator and its request log; who did what is read from the Lease
// holder, each instance's elector, each instance's own log lines ("status updated"), and the
// Events' reportingInstance; when, from the emulator's request log (`at`), not from polling.
// Timings: lease 2 s, renew deadline 1 s, retry 200 ms.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEchoes, type Echo } from '../support/echo-upstream.ts';
import { backendService, ingressClass, simpleIngress, sleep } from '../support/harness.ts';
import { startKubeApi, type KubeApi, type RequestRecord } from '../support/kube-api-emulator.ts';
import { eventually, ingressStatus, put, startKubeGatehouse, TEST_TIMINGS, type KubeGatehouse } from '../support/kube-harness.ts';

const ADDRESS = '192.0.2.10';
const PUBLISHED = [{ ip: ADDRESS }];
const LEASE = { namespace: 'gatehouse', name: 'gatehouse-leader' };

/** The holderIdentity a Lease write carried. */
const writtenHolder = (r: RequestRecord): string | undefined => (r.body as Lease | undefined)?.spec?.holderIdentity;
/** `GET 200`, `PUT 200 gh-b`: a Lease request and, for a write, the holder it wrote. */
const leaseRequest = (r: RequestRecord): string => `${r.method} ${r.status}${r.method === 'GET' ? '' : ` ${writtenHolder(r)}`}`;

const statusWritesOf = (api: KubeApi, from = 0): RequestRecord[] => api.requests.slice(from).filter((r) => r.resource === 'ingresses' && r.subresource === 'status');

interface Lease {
  spec?: { holderIdentity?: string; leaseDurationSeconds?: number; leaseTransitions?: number };
}

interface KubeEvent {
  type: string;
  reason: string;
  message: string;
  reportingInstance?: string;
  involvedObject: { kind: string; namespace?: string; name: string };
}

describe('kube mode: leader election, status and Events across replicas', () => {
  let e: Record<'a', Echo> & { closeAll(): Promise<void> };
  let api: KubeApi;
  const instances: KubeGatehouse[] = [];
  let leader: KubeGatehouse;
  let follower: KubeGatehouse;

  const holder = () => (api.get('Lease', LEASE.namespace, LEASE.name) as Lease | undefined)?.spec?.holderIdentity ?? '';
  const statusWrites = (from = 0): RequestRecord[] => statusWritesOf(api, from);
  const statusLogged = (gh: KubeGatehouse, key: string) => gh.logs.filter((l) => (l.msg === 'status updated' || l.msg === 'status cleared') && l.ingress === key);
  const events = (reason: string) => (api.list('Event', 'default') as unknown as KubeEvent[]).filter((ev) => ev.reason === reason);
  const start = async (name: string) => {
    const gh = await startKubeGatehouse(api, { name, args: ['--publish-status-address', ADDRESS] });
    instances.push(gh);
    return gh;
  };

  beforeAll(async () => {
    e = await startEchoes(['a'] as const);
    api = await startKubeApi();
    put(api, ingressClass('gatehouse'), ingressClass('other', { controller: 'other.io/ingress-controller' }), backendService('a', e.a.port));
    put(api, simpleIngress('one', 'one.test', 'a'));
    await Promise.all([start('gh-a'), start('gh-b')]);
  });

  afterAll(async () => {
    for (const gh of instances) await gh.close();
    await api?.close();
    await e?.closeAll();
  });

  it('exactly one instance becomes leader and holds the Lease; both serve traffic', async () => {
    await eventually('a Lease holder', () => holder() !== '' && instances.some((gh) => gh.elector.isLeader()));
    const leaders = instances.filter((gh) => gh.elector.isLeader());
    expect(leaders).toHaveLength(1);
    leader = leaders[0]!;
    follower = instances.find((gh) => gh !== leader)!;
    expect(holder()).toBe(leader.name);
    // It stays that way over several renewals.
    for (let t = 0; t < 40; t++) {
      expect(instances.filter((gh) => gh.elector.isLeader()).map((gh) => gh.name)).toEqual([leader.name]);
      await sleep(25);
    }
    expect(holder()).toBe(leader.name);
    const lease = api.get('Lease', LEASE.namespace, LEASE.name) as Lease;
    expect(lease.spec?.leaseDurationSeconds).toBe(TEST_TIMINGS.leaseDurationMs / 1000);
    expect(leader.logs.filter((l) => l.msg === 'became leader')).toHaveLength(1);
    expect(follower.logs.filter((l) => l.msg === 'became leader')).toHaveLength(0);
    expect(await leader.who('one.test')).toBe('a');
    expect(await follower.who('one.test')).toBe('a');
    // gatehouse_leader on /metrics: 1 on the leader, 0 on the follower.
    const gauge = async (gh: typeof leader) => /^gatehouse_leader (\d)$/m.exec(await (await fetch(`http://127.0.0.1:${gh.adminPort}/metrics`)).text())?.[1];
    expect(await gauge(leader)).toBe('1');
    expect(await gauge(follower)).toBe('0');
  });

  it('status: the published addresses, written once, by the leader only', async () => {
    // The leader logs a write once its answer is back, after the emulator shows it: wait for both.
    await eventually('status of default/one, written and logged', () => JSON.stringify(ingressStatus(api, 'default', 'one')) === JSON.stringify(PUBLISHED) && statusLogged(leader, 'default/one').length > 0);
    expect(statusWrites()).toHaveLength(1);
    expect(statusWrites()[0]).toMatchObject({ method: 'PATCH', namespace: 'default', name: 'one', status: 200, body: { status: { loadBalancer: { ingress: PUBLISHED } } } });
    expect(statusLogged(leader, 'default/one')).toHaveLength(1);
    expect(statusLogged(follower, 'default/one')).toHaveLength(0);
  });

  it('status writes happen only on change: a new Ingress gets one write, nothing is rewritten later', async () => {
    const before = api.requests.length;
    put(api, simpleIngress('two', 'two.test', 'a'));
    await eventually('status of default/two', () => ingressStatus(api, 'default', 'two').length === 1);
    expect(ingressStatus(api, 'default', 'two')).toEqual(PUBLISHED);
    // Unrelated changes recompile both instances several times; renewals go on.
    put(api, simpleIngress('two', 'two.test', 'a'), backendService('a', e.a.port));
    put(api, simpleIngress('unrelated', 'unrelated.test', 'a', { className: 'other' }));
    await sleep(1500);
    expect(statusWrites(before).map((r) => r.name)).toEqual(['two']);
    expect(statusLogged(follower, 'default/two')).toHaveLength(0);
    expect(ingressStatus(api, 'default', 'unrelated')).toEqual([]);
  });

  it('a status changed by someone else after our write is put back on the next sync', async () => {
    put(api, simpleIngress('edited', 'edited.test', 'a'));
    await eventually('status of default/edited', () => ingressStatus(api, 'default', 'edited').length === 1);
    // Let our write come back through the watch (a status-only change compiles nothing).
    await sleep(300);
    const before = api.requests.length;
    api.patch('Ingress', 'default', 'edited', { status: { loadBalancer: { ingress: [{ ip: '203.0.113.99' }] } } });
    await sleep(200);
    // Any compile syncs status (the periodic resync would, too, after a minute).
    put(api, simpleIngress('nudge', 'nudge.test', 'a', { className: 'other' }));
    await eventually('status of default/edited restored', () => JSON.stringify(ingressStatus(api, 'default', 'edited')) === JSON.stringify(PUBLISHED));
    expect(statusWrites(before).map((r) => r.name)).toEqual(['edited']);
    expect(statusLogged(follower, 'default/edited')).toHaveLength(0);
    api.delete('Ingress', 'default', 'edited');
    api.delete('Ingress', 'default', 'nudge');
  });

  it('an Ingress whose class changes to another controller has its status cleared, once', async () => {
    const before = api.requests.length;
    put(api, simpleIngress('two', 'two.test', 'a', { className: 'other' }));
    await eventually('status of default/two cleared, and logged', () => ingressStatus(api, 'default', 'two').length === 0 && statusLogged(leader, 'default/two').some((l) => l.msg === 'status cleared'));
    await leader.until('two.test', 404);
    await sleep(500);
    expect(statusWrites(before).map((r) => `${r.name} ${JSON.stringify(r.body)}`)).toEqual(['two {"status":{"loadBalancer":{"ingress":null}}}']);
    expect(statusLogged(leader, 'default/two').map((l) => l.msg)).toEqual(['status updated', 'status cleared']);

    // Our IngressClass deleted: the Ingresses naming it are cleared too.
    put(api, ingressClass('second'), simpleIngress('via-second', 'via-second.test', 'a', { className: 'second' }));
    await eventually('status of default/via-second', () => ingressStatus(api, 'default', 'via-second').length === 1);
    api.delete('IngressClass', undefined, 'second');
    await eventually('status of default/via-second cleared', () => ingressStatus(api, 'default', 'via-second').length === 0);
    expect(statusLogged(follower, 'default/via-second')).toHaveLength(0);
    expect(ingressStatus(api, 'default', 'one')).toEqual(PUBLISHED);
  });

  it('a missing Service produces exactly one Warning Event, from the leader, not repeated on later compiles', async () => {
    put(api, simpleIngress('broken', 'broken.test', 'missing'));
    await eventually('a ServiceNotFound Event', () => events('ServiceNotFound').length > 0);
    // More compiles while the condition persists.
    put(api, simpleIngress('other-change', 'other-change.test', 'a'));
    put(api, simpleIngress('broken', 'broken.test', 'missing'), backendService('a', e.a.port));
    await leader.until('other-change.test', 'a');
    await follower.until('other-change.test', 'a');
    await sleep(500);
    const recorded = events('ServiceNotFound');
    expect(recorded).toHaveLength(1);
    expect(recorded[0]).toMatchObject({
      type: 'Warning',
      reason: 'ServiceNotFound',
      message: 'spec.rules[0].http.paths[0].backend.service: Service default/missing not found',
      reportingInstance: leader.name,
      involvedObject: { kind: 'Ingress', namespace: 'default', name: 'broken' },
    });
    expect(api.requests.filter((r) => r.resource === 'events' && r.verb === 'create')).toHaveLength(1);
    expect(await leader.who('broken.test')).toBe(503);
    api.delete('Ingress', 'default', 'broken');
    await leader.until('broken.test', 404);
    await follower.until('broken.test', 404);
  });

  it('the leader shut down releases the Lease: the other takes over at once and writes status', async () => {
    const before = api.requests.length;
    const old = leader;
    await old.close();
    await eventually('the follower to lead', () => follower.elector.isLeader());
    // At once, not after the released record expired: the follower (the only one left) took the
    // Lease in the first round that saw the release, its GET followed straight by its PUT.
    const leaseRequests = api.requests.slice(before).filter((r) => r.resource === 'leases');
    const release = leaseRequests.findIndex((r) => r.method === 'PUT' && r.status === 200 && writtenHolder(r) === '');
    expect(release, 'the release').toBeGreaterThanOrEqual(0);
    expect(leaseRequests.slice(release + 1, release + 3).map(leaseRequest)).toEqual(['GET 200', `PUT 200 ${follower.name}`]);
    expect(holder()).toBe(follower.name);
    expect(old.elector.isLeader()).toBe(false);
    [leader, follower] = [follower, old];

    put(api, simpleIngress('three', 'three.test', 'a'));
    await eventually('status of default/three, written and logged', () => ingressStatus(api, 'default', 'three').length === 1 && statusLogged(leader, 'default/three').length > 0);
    expect(ingressStatus(api, 'default', 'three')).toEqual(PUBLISHED);
    expect(statusLogged(leader, 'default/three')).toHaveLength(1);
    expect(statusLogged(follower, 'default/three')).toHaveLength(0);
    // The new leader rewrote nothing that was already right.
    expect(statusWrites(before).map((r) => r.name)).toEqual(['three']);
    expect(await leader.who('three.test')).toBe('a');
  });

  it('a leader that stops renewing without releasing is replaced one lease duration after its last renewal (not before), and steps down first', async () => {
    const standby = await start('gh-c');
    const stuck = leader;
    expect(standby.elector.isLeader()).toBe(false);
    // Leadership changes in the order they happened (isLeader() flips as these are emitted).
    const changes: string[] = [];
    for (const gh of [stuck, standby]) {
      gh.elector.on('started', () => changes.push(`${gh.name} started`));
      gh.elector.on('stopped', () => changes.push(`${gh.name} stopped`));
    }
    // Every Lease write by the stuck leader fails from now on (a hung or partitioned process).
    let blocked = true;
    const isStuckLeaseWrite = (r: RequestRecord) =>
      blocked && r.resource === 'leases' && (r.method === 'PUT' || r.method === 'POST') && writtenHolder(r) === stuck.name;
    api.faults.failNext(1_000_000, 500, isStuckLeaseWrite);
    try {
      await eventually('the standby to take over', () => standby.elector.isLeader());
    } finally {
      blocked = false;
    }
    // One hand-over: the stuck one gave up (its renew deadline passed) before the standby took over.
    expect(changes).toEqual([`${stuck.name} stopped`, `${standby.name} started`]);
    expect(stuck.logs.some((l) => l.msg.startsWith('could not renew the lease within the renew deadline'))).toBe(true);
    expect(holder()).toBe(standby.name);
    // Timed at the API server, from the stuck leader's last renewal to the standby's takeover.
    const leaseWrites = api.requests.filter((r) => r.resource === 'leases' && r.method === 'PUT' && r.status === 200);
    const lastRenewal = leaseWrites.filter((r) => writtenHolder(r) === stuck.name).at(-1)!;
    const takeover = leaseWrites.find((r) => writtenHolder(r) === standby.name)!;
    const gap = takeover.at - lastRenewal.at;
    // Not before the lease expired: the standby counts a lease duration from when it saw that
    // renewal, which was after it was written (whole milliseconds on the elector's clock).
    expect(gap).toBeGreaterThan(TEST_TIMINGS.leaseDurationMs - 5);
    // And about one lease duration after it: the standby notices within its next retries. The
    // bound is generous (a second lease duration), as retries run late on a busy machine.
    expect(gap).toBeLessThan(2 * TEST_TIMINGS.leaseDurationMs);
    // Once it can write again it does not take the Lease back.
    await sleep(3 * TEST_TIMINGS.retryPeriodMs);
    expect(changes).toEqual([`${stuck.name} stopped`, `${standby.name} started`]);
    expect(holder()).toBe(standby.name);

    put(api, simpleIngress('four', 'four.test', 'a'));
    await eventually('status of default/four, written and logged', () => ingressStatus(api, 'default', 'four').length === 1 && statusLogged(standby, 'default/four').length > 0);
    expect(statusLogged(standby, 'default/four')).toHaveLength(1);
    expect(statusLogged(stuck, 'default/four')).toHaveLength(0);
  });
});

describe('kube mode: --publish-service', () => {
  it('copies the Service\'s load-balancer addresses into owned Ingresses, and follows them when they change', async () => {
    const api = await startKubeApi();
    let gh: KubeGatehouse | null = null;
    try {
      put(api, ingressClass('gatehouse'), simpleIngress('x', 'x.test', 'a'), simpleIngress('y', 'y.test', 'a', { namespace: 'other' }));
      put(api, { apiVersion: 'v1', kind: 'Service', metadata: { name: 'gatehouse', namespace: 'gatehouse' }, spec: { type: 'LoadBalancer', ports: [{ name: 'http', port: 80 }] }, status: { loadBalancer: { ingress: [{ ip: '198.51.100.1' }] } } });
      gh = await startKubeGatehouse(api, { args: ['--publish-service', 'gatehouse/gatehouse'] });
      await eventually('status of x and y', () => ingressStatus(api, 'default', 'x').length === 1 && ingressStatus(api, 'other', 'y').length === 1);
      expect(ingressStatus(api, 'default', 'x')).toEqual([{ ip: '198.51.100.1' }]);
      const before = api.requests.length;
      // The cloud gives the load balancer another address and a hostname.
      api.patch('Service', 'gatehouse', 'gatehouse', { status: { loadBalancer: { ingress: [{ ip: '198.51.100.2' }, { hostname: 'lb.example.net' }] } } });
      const want = JSON.stringify([{ ip: '198.51.100.2' }, { hostname: 'lb.example.net' }].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))));
      const sorted = (l: unknown[]) => JSON.stringify([...l].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))));
      await eventually('status of x and y updated', () => sorted(ingressStatus(api, 'default', 'x')) === want && sorted(ingressStatus(api, 'other', 'y')) === want);
      await sleep(300);
      expect(statusWritesOf(api, before).map((r) => `${r.namespace}/${r.name}`).sort()).toEqual(['default/x', 'other/y']);
    } finally {
      await gh?.close();
      await api.close();
    }
  });
});
