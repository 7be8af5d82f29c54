// Active health checks (gatehouse.io/health-check-*), run on the main thread once per replica
// (DESIGN.md "Request pipeline"): every endpoint of every backend with a policy is probed every
// interval; `unhealthyThreshold` failed probes in a row take a healthy endpoint out,
// `healthyThreshold` passing ones in a row bring it back. An endpoint starts healthy (a new pod
// that Kubernetes calls ready gets traffic at once, as without checks). The verdict — per backend,
// the endpoints down — goes to the workers beside the endpoint table (`onChange`), never through
// a recompile.
//
// No thundering herd: each endpoint's probes keep a phase of their own within the interval (a
// hash of the backend and endpoint), so 5,000 endpoints at 10 s are 500 probes a second, spread
// evenly, not 5,000 at once; and at most `maxInFlight` probes run at once (the others wait their
// turn, in order). A probe still running when its next one is due skips that one.

import type { ActiveHealthPolicy, Endpoint, EndpointTable, RouteTable } from '../../core/model.ts';
import { cyrb53 } from '../../core/hash.ts';
import type { ActiveHealth } from '../../dataplane/balancer/endpoint-health.ts';
import { endpointKey } from '../../dataplane/balancer/endpoint-health.ts';
import type { Probe } from './probe.ts';

/** Timers, injectable for tests (fake clocks). */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const SYSTEM_CLOCK: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** Probes running at once, at most. */
export const MAX_IN_FLIGHT = 64;

interface Target {
  readonly backend: string;
  readonly endpoint: Endpoint;
  readonly key: string;
  readonly policy: ActiveHealthPolicy;
  /** When the next probe is due (clock ms). */
  due: number;
  healthy: boolean;
  /** Passing (while down) or failing (while up) probes in a row. */
  streak: number;
  running: boolean;
  waiting: boolean;
  probes: number;
  removed: boolean;
}

export interface EndpointCheckStatus {
  readonly endpoint: string;
  readonly healthy: boolean;
  readonly streak: number;
  readonly probes: number;
}

export interface HealthCheckerOptions {
  readonly probe: Probe;
  /** A new verdict: per backend, the endpoints down (coalesced: at most one per turn of the event loop). */
  readonly onChange: (health: ActiveHealth) => void;
  readonly clock?: Clock;
  readonly maxInFlight?: number;
}

export class HealthChecker {
  private readonly targets = new Map<string, Target>();
  /** Targets by due time (a binary min-heap). */
  private heap: Target[] = [];
  private readonly queue: Target[] = [];
  private inFlight = 0;
  private timer: unknown = null;
  private timerAt = Infinity;
  private notifying = false;
  private closed = false;
  private readonly probe: Probe;
  private readonly onChange: (health: ActiveHealth) => void;
  private readonly clock: Clock;
  private readonly maxInFlight: number;

  constructor(options: HealthCheckerOptions) {
    this.probe = options.probe;
    this.onChange = options.onChange;
    this.clock = options.clock ?? SYSTEM_CLOCK;
    this.maxInFlight = options.maxInFlight ?? MAX_IN_FLIGHT;
  }

  /** The backends' policies (from the table) and their endpoints: targets added, kept (with their state) or dropped. */
  update(table: RouteTable, endpoints: EndpointTable): void {
    if (this.closed) return;
    const now = this.clock.now();
    const seen = new Set<string>();
    let dropped = false;
    for (const [id, backend] of Object.entries(table.backends)) {
      const policy = backend.health?.active;
      if (policy === undefined) continue;
      const policyKey = JSON.stringify(policy);
      for (const endpoint of endpoints.backends[id] ?? []) {
        const key = `${id}\n${endpointKey(endpoint)}\n${policyKey}`;
        seen.add(key);
        if (this.targets.has(key)) continue;
        // Its phase in the interval: the same for this endpoint whenever it is (re)added.
        const phase = cyrb53(`${id}\n${endpointKey(endpoint)}`, 0) % policy.intervalMs;
        const due = now + ((phase - (now % policy.intervalMs) + policy.intervalMs) % policy.intervalMs);
        const t: Target = { backend: id, endpoint, key, policy, due, healthy: true, streak: 0, running: false, waiting: false, probes: 0, removed: false };
        this.targets.set(key, t);
        this.push(t);
      }
    }
    for (const [key, t] of this.targets) {
      if (seen.has(key)) continue;
      t.removed = true;
      this.targets.delete(key);
      if (!t.healthy) dropped = true;
    }
    this.heap = this.heap.filter((t) => !t.removed);
    this.heapify();
    if (dropped) this.changed();
    this.arm();
  }

  /** The verdict now: per backend, its endpoints down, sorted. */
  verdict(): ActiveHealth {
    const down: Record<string, string[]> = {};
    for (const t of this.targets.values()) if (!t.healthy) (down[t.backend] ??= []).push(endpointKey(t.endpoint));
    for (const list of Object.values(down)) list.sort();
    return { down };
  }

  /** Each probed endpoint's state, per backend (/debug/table). */
  status(): Record<string, EndpointCheckStatus[]> {
    const out: Record<string, EndpointCheckStatus[]> = {};
    for (const t of this.targets.values()) (out[t.backend] ??= []).push({ endpoint: endpointKey(t.endpoint), healthy: t.healthy, streak: t.streak, probes: t.probes });
    return out;
  }

  /** Probes running now (tests). */
  running(): number {
    return this.inFlight;
  }

  /** Stops probing; probes under way finish unheard. Safe to call twice. */
  close(): void {
    this.closed = true;
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
    this.targets.clear();
    this.heap = [];
    this.queue.length = 0;
  }

  private arm(): void {
    const next = this.heap[0];
    if (next === undefined || this.closed) return;
    if (this.timer !== null && this.timerAt <= next.due) return;
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timerAt = next.due;
    this.timer = this.clock.setTimeout(() => this.tick(), Math.max(0, next.due - this.clock.now()));
  }

  private tick(): void {
    this.timer = null;
    this.timerAt = Infinity;
    const now = this.clock.now();
    while (this.heap.length > 0 && this.heap[0]!.due <= now) {
      const t = this.pop()!;
      // The next one keeps the phase; one missed while this ran is skipped.
      t.due += t.policy.intervalMs * Math.max(1, Math.ceil((now - t.due + 1) / t.policy.intervalMs));
      this.push(t);
      if (t.running || t.waiting) continue;
      t.waiting = true;
      this.queue.push(t);
    }
    this.startQueued();
    this.arm();
  }

  private startQueued(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      const t = this.queue.shift()!;
      t.waiting = false;
      if (t.removed) continue;
      t.running = true;
      this.inFlight++;
      this.probe(t.endpoint, t.policy)
        .catch(() => false)
        .then((ok) => {
          t.running = false;
          this.inFlight--;
          if (!this.closed && !t.removed) this.record(t, ok);
          this.startQueued();
        });
    }
  }

  /** One probe's result: the thresholds, counted exactly. */
  private record(t: Target, ok: boolean): void {
    t.probes++;
    if (ok === t.healthy) {
      t.streak = 0;
      return;
    }
    t.streak++;
    if (t.streak < (t.healthy ? t.policy.unhealthyThreshold : t.policy.healthyThreshold)) return;
    t.healthy = ok;
    t.streak = 0;
    this.changed();
  }

  private changed(): void {
    if (this.notifying) return;
    this.notifying = true;
    queueMicrotask(() => {
      this.notifying = false;
      if (!this.closed) this.onChange(this.verdict());
    });
  }

  private push(t: Target): void {
    const h = this.heap;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]!.due <= t.due) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = t;
  }

  private pop(): Target | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last !== undefined) {
      h[0] = last;
      this.down(0);
    }
    return top;
  }

  private heapify(): void {
    for (let i = (this.heap.length >> 1) - 1; i >= 0; i--) this.down(i);
  }

  private down(i: number): void {
    const h = this.heap;
    const n = h.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && h[l]!.due < h[m]!.due) m = l;
      if (r < n && h[r]!.due < h[m]!.due) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}
