// Ingress status (leader only): owned Ingresses get the published addresses — the
// --publish-service's status.loadBalancer.ingress, or --publish-status-address — and an
// Ingress that stops being ours has them cleared. Writes happen only on change. After a compile
// only the Ingresses that are other objects than at the last sync are compared (a status can
// have changed only there); every one is, when the addresses or the owned Ingresses changed, a
// write failed, on the periodic resync and when this replica becomes leader.

import type { KubeObject, Snapshot } from '../../core/snapshot.ts';
import type { Log } from '../source.ts';
import { Informer } from './informer.ts';
import type { KubeHttp } from './kube-http.ts';
import type { LeaderElector } from './leader-election.ts';

export interface LoadBalancerIngress {
  ip?: string;
  hostname?: string;
}

export interface StatusPublisherOptions {
  http: KubeHttp;
  elector: LeaderElector;
  log: Log;
  /** `namespace/name`, or null. */
  publishService: string | null;
  publishStatusAddress: readonly string[] | null;
}

const IP = /^(\d{1,3}(\.\d{1,3}){3}|[0-9a-fA-F:]+)$/;

/** Only ip and hostname, sorted: what is compared and written. */
function normalise(list: unknown): LoadBalancerIngress[] {
  if (!Array.isArray(list)) return [];
  return list
    .map((e: { ip?: unknown; hostname?: unknown }) => ({ ...(typeof e?.ip === 'string' ? { ip: e.ip } : {}), ...(typeof e?.hostname === 'string' ? { hostname: e.hostname } : {}) }))
    .filter((e) => e.ip !== undefined || e.hostname !== undefined)
    .sort((a, b) => `${a.ip ?? ''} ${a.hostname ?? ''}`.localeCompare(`${b.ip ?? ''} ${b.hostname ?? ''}`));
}

function ingressStatus(o: unknown): LoadBalancerIngress[] {
  return normalise((o as { status?: { loadBalancer?: { ingress?: unknown } } } | undefined)?.status?.loadBalancer?.ingress);
}

export class StatusPublisher {
  private readonly o: StatusPublisherOptions;
  private addresses: LoadBalancerIngress[];
  private snapshot: Snapshot | null = null;
  private ownedList: readonly string[] = [];
  private owned = new Set<string>();
  /** What the last sync compared: the Ingresses as listed, and the addresses. */
  private checked: { list: readonly KubeObject[]; want: string } | null = null;
  /** The next sync compares every Ingress. */
  private everything = true;
  /** Owned at some point in this process: stops being ours → cleared. */
  private everOwned = new Set<string>();
  /**
   * What we wrote to each Ingress, and the resourceVersion it had before: until the snapshot
   * holds a newer version the watch has not caught up, and writing again would only repeat us.
   */
  private readonly written = new Map<string, { target: string; before: string | undefined }>();
  private service: Informer | null = null;
  private syncing: Promise<void> | null = null;
  private again = false;
  private timer: NodeJS.Timeout | null = null;

  constructor(options: StatusPublisherOptions) {
    this.o = options;
    this.addresses = normalise((options.publishStatusAddress ?? []).map((a) => (IP.test(a) ? { ip: a } : { hostname: a })));
  }

  /** Starts watching the publish Service (if any) and a periodic resync; returns at once. */
  start(): void {
    if (this.o.publishService !== null && this.o.publishStatusAddress === null) {
      const [namespace = '', name = ''] = this.o.publishService.split('/');
      this.service = new Informer(this.o.http, { kind: 'Service', apiVersion: 'v1', plural: 'services', namespaced: true, fieldSelector: `metadata.name=${name}` }, namespace, {
        upsert: (svc) => {
          this.addresses = ingressStatus(svc);
          this.sync();
        },
        remove: () => {
          this.addresses = [];
          this.sync();
        },
      }, this.o.log);
      void this.service.start();
    }
    // Someone else may edit status; put ours back now and then.
    this.timer = setInterval(() => this.sync(), 60_000);
    this.timer.unref();
  }

  /** After every compile: the snapshot and which Ingresses are ours. */
  update(snapshot: Snapshot, owned: readonly string[]): void {
    this.snapshot = snapshot;
    // compile hands out the same list while the owned Ingresses stay.
    if (owned !== this.ownedList && (owned.length !== this.ownedList.length || owned.some((k, i) => k !== this.ownedList[i]))) {
      this.owned = new Set(owned);
      for (const k of owned) this.everOwned.add(k);
      this.everything = true;
    }
    this.ownedList = owned;
    this.kick();
  }

  /** Bring every Ingress's status in line; coalesces calls made while a sync runs. */
  sync(): void {
    this.everything = true;
    this.kick();
  }

  /** Runs a sync now, or once the one running ends. */
  private kick(): void {
    if (this.syncing) {
      this.again = true;
      return;
    }
    this.syncing = this.run().finally(() => {
      this.syncing = null;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }

  private async run(): Promise<void> {
    if (!this.o.elector.isLeader() || this.snapshot === null) return;
    const want = JSON.stringify(this.addresses);
    const list = this.snapshot.list('Ingress');
    const last = this.checked;
    const all = this.everything || last === null || last.want !== want || last.list.length !== list.length;
    this.everything = false;
    this.checked = { list, want };
    for (let i = 0; i < list.length; i++) {
      const ing = list[i]!;
      if (!all && ing === last.list[i]) continue;
      const key = `${ing.metadata.namespace}/${ing.metadata.name}`;
      const current = JSON.stringify(ingressStatus(ing));
      let target: string;
      if (this.owned.has(key)) target = want;
      else if (current !== '[]' && (this.everOwned.has(key) || current === want)) target = '[]';
      else continue;
      if (current === target) {
        this.written.delete(key);
        continue;
      }
      // Written, and the watch has not delivered a newer version yet. Once it has, a status that
      // still differs was changed by someone else since, and is put back.
      const w = this.written.get(key);
      if (w?.target === target && w.before === ing.metadata.resourceVersion) continue;
      try {
        const ingress = target === '[]' ? null : (JSON.parse(target) as LoadBalancerIngress[]);
        await this.o.http.request('PATCH', `/apis/networking.k8s.io/v1/namespaces/${ing.metadata.namespace}/ingresses/${ing.metadata.name}/status`, {
          body: { status: { loadBalancer: { ingress } } },
        });
        this.written.set(key, { target, before: ing.metadata.resourceVersion });
        this.o.log.info({ ingress: key, addresses: ingress ?? [] }, ingress ? 'status updated' : 'status cleared');
      } catch (err) {
        this.o.log.warn({ ingress: key, err: (err as Error).message }, 'status write failed; retrying on the next sync');
        this.everything = true;
      }
    }
  }

  /** Resolves once no sync runs (or follows the one running). */
  async idle(): Promise<void> {
    while (this.syncing !== null) await this.syncing;
  }

  async close(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    await this.service?.stop();
    await this.syncing;
  }
}
