// Leader election over a coordination.k8s.io/v1 Lease, with client-go's timings and rules
// (k8s.io/client-go/tools/leaderelection): a Lease held by another identity counts as
// expired only when its record has not changed for leaseDuration as *we* observed it (no
// trust in the other replica's clock); writes use optimistic concurrency on
// resourceVersion (409 → lost the round); the leader that cannot renew within
// renewDeadline stops leading; on shutdown the leader releases the Lease.

import { EventEmitter } from 'node:events';
import type { Log } from '../source.ts';
import { KubeApiError, type KubeHttp } from './kube-http.ts';

export interface LeaderElectionOptions {
  http: KubeHttp;
  namespace: string;
  name: string;
  identity: string;
  log: Log;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
}

interface LeaseSpec {
  holderIdentity?: string | null;
  leaseDurationSeconds?: number;
  acquireTime?: string | null;
  renewTime?: string | null;
  leaseTransitions?: number;
}

interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string };
  spec?: LeaseSpec;
}

/** RFC 3339 with microseconds, the Lease's MicroTime format. */
function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export class LeaderElector extends EventEmitter<{ started: []; stopped: [] }> {
  private readonly o: Required<LeaderElectionOptions>;
  private readonly path: string;
  private leader = false;
  private lastRenew = 0;
  private observed = '';
  private observedAt = 0;
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private busy: Promise<void> | null = null;

  constructor(options: LeaderElectionOptions) {
    super();
    this.o = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000, ...options };
    this.path = `/apis/coordination.k8s.io/v1/namespaces/${options.namespace}/leases`;
  }

  isLeader(): boolean {
    return this.leader;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.tick();
  }

  private tick(): void {
    if (!this.running) return;
    this.busy = this.round().finally(() => {
      this.busy = null;
      if (!this.running) return;
      // client-go's JitterFactor 1.2 for candidates; the leader renews every retryPeriod.
      const wait = this.leader ? this.o.retryPeriodMs : this.o.retryPeriodMs * (1 + Math.random() * 0.2);
      this.timer = setTimeout(() => this.tick(), wait);
    });
  }

  private async round(): Promise<void> {
    const now = Date.now();
    const ok = await this.tryAcquireOrRenew(now).catch((err: unknown) => {
      this.o.log.warn({ lease: `${this.o.namespace}/${this.o.name}`, err: (err as Error).message }, 'leader election: lease request failed');
      return false;
    });
    if (ok) {
      this.lastRenew = now;
      if (!this.leader) {
        this.leader = true;
        this.o.log.info({ lease: `${this.o.namespace}/${this.o.name}`, identity: this.o.identity }, 'became leader');
        this.emit('started');
      }
    } else if (this.leader && Date.now() - this.lastRenew > this.o.renewDeadlineMs) {
      this.leader = false;
      this.o.log.warn({ lease: `${this.o.namespace}/${this.o.name}` }, 'could not renew the lease within the renew deadline; no longer leader');
      this.emit('stopped');
    }
  }

  private spec(now: number, previous: LeaseSpec | undefined): LeaseSpec {
    const keeps = previous?.holderIdentity === this.o.identity;
    return {
      holderIdentity: this.o.identity,
      leaseDurationSeconds: Math.round(this.o.leaseDurationMs / 1000),
      acquireTime: keeps && previous?.acquireTime ? previous.acquireTime : microTime(now),
      renewTime: microTime(now),
      leaseTransitions: keeps ? (previous?.leaseTransitions ?? 0) : (previous?.leaseTransitions ?? -1) + 1,
    };
  }

  private async tryAcquireOrRenew(now: number): Promise<boolean> {
    let lease: Lease;
    try {
      lease = await this.o.http.request<Lease>('GET', `${this.path}/${this.o.name}`, { timeoutMs: this.o.retryPeriodMs * 2 });
    } catch (err) {
      if (!(err instanceof KubeApiError) || err.statusCode !== 404) throw err;
      try {
        await this.o.http.request('POST', this.path, {
          body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: this.o.name, namespace: this.o.namespace }, spec: this.spec(now, undefined) },
        });
        return true;
      } catch (e) {
        if (e instanceof KubeApiError && e.statusCode === 409) return false; // another replica created it first
        throw e;
      }
    }
    const record = lease.spec ?? {};
    const seen = JSON.stringify([record.holderIdentity, record.renewTime, lease.metadata.resourceVersion]);
    if (seen !== this.observed) {
      this.observed = seen;
      // client-go's observedTime: when the answer showing the change arrived, not when this round
      // began (a renewal written while our GET was in flight would otherwise age early).
      this.observedAt = Date.now();
    }
    const holder = record.holderIdentity ?? '';
    const durationMs = (record.leaseDurationSeconds ?? this.o.leaseDurationMs / 1000) * 1000;
    if (holder !== '' && holder !== this.o.identity && this.observedAt + durationMs > now) return false;
    try {
      await this.o.http.request('PUT', `${this.path}/${this.o.name}`, { body: { ...lease, spec: this.spec(now, record) }, timeoutMs: this.o.retryPeriodMs * 2 });
    } catch (err) {
      if (err instanceof KubeApiError && err.statusCode === 409) return false; // someone wrote it since our GET
      throw err;
    }
    return true;
  }

  /** Stop campaigning; a leader gives the Lease up so another replica takes over at once. Safe to call twice. */
  async release(): Promise<void> {
    this.running = false;
    if (this.timer !== null) clearTimeout(this.timer);
    await this.busy;
    if (!this.leader) return;
    this.leader = false;
    this.emit('stopped');
    try {
      const lease = await this.o.http.request<Lease>('GET', `${this.path}/${this.o.name}`, { timeoutMs: 2_000 });
      if (lease.spec?.holderIdentity !== this.o.identity) return;
      const now = Date.now();
      await this.o.http.request('PUT', `${this.path}/${this.o.name}`, {
        body: { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime(now), acquireTime: microTime(now) } },
        timeoutMs: 2_000,
      });
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message }, 'could not release the lease; it expires by itself');
    }
  }
}
