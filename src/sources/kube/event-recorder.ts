// Kubernetes Events for conditions (leader only): type Warning, a reason derived from the
// stable code (GH_SERVICE_NOT_FOUND → ServiceNotFound), a message naming the field. One
// Event per condition while it persists (it is recorded again only after it went away and
// came back, or when this replica becomes leader), and a token bucket caps the rate, as
// client-go's event broadcaster does (burst 25).

import { conditionKey } from '../../core/conditions.ts';
import type { Condition } from '../../core/model.ts';
import type { Snapshot } from '../../core/snapshot.ts';
import type { Log } from '../source.ts';
import type { KubeHttp } from './kube-http.ts';
import type { LeaderElector } from './leader-election.ts';

const API_VERSIONS: Record<string, string> = { Ingress: 'networking.k8s.io/v1', IngressClass: 'networking.k8s.io/v1', Service: 'v1', Secret: 'v1', EndpointSlice: 'discovery.k8s.io/v1', ConfigMap: 'v1' };

export function reasonFor(code: string): string {
  return code.replace(/^GH_/, '').toLowerCase().replace(/(^|_)([a-z])/g, (_m, _s, c: string) => c.toUpperCase());
}

export interface EventRecorderOptions {
  http: KubeHttp;
  elector: LeaderElector;
  log: Log;
  identity: string;
  burst?: number;
  perSecond?: number;
}

export class EventRecorder {
  private readonly o: EventRecorderOptions;
  private recorded = new Set<string>();
  private conditions: readonly Condition[] = [];
  private snapshot: Snapshot | null = null;
  private tokens: number;
  private refilledAt = Date.now();

  constructor(options: EventRecorderOptions) {
    this.o = options;
    this.tokens = options.burst ?? 25;
  }

  /** After every compile: record the conditions that are new. */
  update(snapshot: Snapshot, conditions: readonly Condition[]): void {
    this.snapshot = snapshot;
    this.conditions = conditions;
    this.flush();
  }

  /** A new leader records every current condition once. */
  resync(): void {
    this.recorded.clear();
    this.flush();
  }

  private take(): boolean {
    const now = Date.now();
    const burst = this.o.burst ?? 25;
    this.tokens = Math.min(burst, this.tokens + ((now - this.refilledAt) / 1000) * (this.o.perSecond ?? 1));
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  private flush(): void {
    const current = new Set(this.conditions.map(conditionKey));
    for (const k of this.recorded) if (!current.has(k)) this.recorded.delete(k);
    if (!this.o.elector.isLeader()) return;
    for (const c of this.conditions) {
      const k = conditionKey(c);
      if (this.recorded.has(k)) continue;
      if (!this.take()) {
        this.o.log.debug({ code: c.code }, 'event rate limit reached; the event waits for the next change');
        return;
      }
      this.recorded.add(k);
      void this.post(c);
    }
  }

  private async post(c: Condition): Promise<void> {
    const namespace = c.ref.namespace || 'default';
    const uid = this.snapshot?.get(c.ref.kind, c.ref.namespace, c.ref.name)?.metadata.uid;
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    const body = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { generateName: `${c.ref.name}.`, namespace },
      involvedObject: { apiVersion: API_VERSIONS[c.ref.kind], kind: c.ref.kind, namespace: c.ref.namespace || undefined, name: c.ref.name, uid },
      type: 'Warning',
      reason: reasonFor(c.code),
      message: c.field ? `${c.field}: ${c.message}` : c.message,
      source: { component: 'gatehouse' },
      reportingComponent: 'gatehouse.io/ingress-controller',
      reportingInstance: this.o.identity,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    };
    try {
      await this.o.http.request('POST', `/api/v1/namespaces/${namespace}/events`, { body });
    } catch (err) {
      this.recorded.delete(conditionKey(c));
      this.o.log.warn({ code: c.code, err: (err as Error).message }, 'could not record an event');
    }
  }
}
