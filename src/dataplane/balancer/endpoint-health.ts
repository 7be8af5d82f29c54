// A worker's view of endpoint health (DESIGN.md "Request pipeline": balancer → endpoint (health,
// ejections)): which endpoints of a backend a request should avoid, and where each try's outcome
// goes for passive health.
//
// - Active: the main thread's probes (control/health/) send the endpoints that failed their checks,
//   per backend, with the endpoint table's updates (`setActive`): no route is recompiled.
// - Passive: the backend's policy (Backend.health.passive) and the pool's EjectionTable, which
//   every worker reads and writes (an ejection is seen by all at once).
//
// `down(backend, candidates)` is what Picking excludes (so retries and every balancer respect it,
// and a hash ring keeps every other key where it was). A backend with no active failures and no
// passive policy (or no ejection ever made) costs two map lookups. Otherwise the set is cached per
// backend until the candidates, the active set or the table's ejection count change, or the
// earliest ejection ends. Panic mode: when every endpoint is down, none is excluded (traffic goes
// to all rather than none, as Envoy's panic threshold at its extreme), logged once per transition.

import type { Backend, Endpoint, PassiveHealthPolicy } from '../../core/model.ts';
import { monotonicMs, type EjectionTable } from '../shared/ejection-table.ts';
import type { Outcome, PickHealth } from './picking.ts';

/** The active checks' verdict, as the main thread sends it: per backend, the endpoints (`address|port`) that failed their checks. */
export interface ActiveHealth {
  readonly down: Readonly<Record<string, readonly string[]>>;
}

interface Cached {
  readonly candidates: readonly Endpoint[];
  readonly version: number;
  /** The earliest ejection's end (monotonicMs); Infinity: none. */
  readonly until: number;
  readonly down: ReadonlySet<Endpoint> | undefined;
}

/** `address|port`: how health names an endpoint of a backend (core/endpoints.ts's key). */
export function endpointKey(e: Endpoint): string {
  return `${e.address}|${e.port}`;
}

/** Whether `outcome` counts as a failure under `policy`: true, false (a success), or null (neither). */
export function isFailure(policy: PassiveHealthPolicy, outcome: Outcome): boolean | null {
  if (typeof outcome === 'number') return outcome >= 500 && outcome <= 599 && (policy.failures.includes('http_5xx') || policy.failures.includes(`http_${outcome}` as never));
  return policy.failures.includes(outcome) ? true : null;
}

export class EndpointHealth implements PickHealth {
  private readonly table: EjectionTable;
  private readonly onPanic: (backend: string, panic: boolean, endpoints: number) => void;
  private passive = new Map<string, PassiveHealthPolicy>();
  private active = new Map<string, ReadonlySet<string>>();
  private endpoints: Readonly<Record<string, readonly Endpoint[]>> = {};
  private readonly cache = new Map<string, Cached>();
  /** The backends in panic mode (kept across verdicts and tables: a transition is logged once). */
  private readonly panicking = new Set<string>();

  constructor(table: EjectionTable, onPanic: (backend: string, panic: boolean, endpoints: number) => void) {
    this.table = table;
    this.onPanic = onPanic;
  }

  /** A new route table: the passive policies of its backends. */
  setBackends(backends: Readonly<Record<string, Backend>>): void {
    this.passive = new Map();
    for (const [id, b] of Object.entries(backends)) if (b.health?.passive) this.passive.set(id, b.health.passive);
    this.cache.clear();
  }

  /** A new endpoint table (the max ejected share is of the backend's endpoints now). */
  setEndpoints(backends: Readonly<Record<string, readonly Endpoint[]>>): void {
    this.endpoints = backends;
  }

  /** The active checks' verdict: per backend, the endpoints (`address|port`) that failed them. */
  setActive(down: Readonly<Record<string, readonly string[]>>): void {
    this.active = new Map(Object.entries(down).filter(([, list]) => list.length > 0).map(([id, list]) => [id, new Set(list)]));
    this.cache.clear();
  }

  down(backend: string, candidates: readonly Endpoint[]): ReadonlySet<Endpoint> | undefined {
    const active = this.active.get(backend);
    const passive = this.passive.has(backend);
    if (active === undefined && (!passive || this.table.version() === 0)) {
      if (this.panicking.size > 0) this.panic(backend, false, candidates.length);
      return undefined;
    }
    const version = passive ? this.table.version() : 0;
    const had = this.cache.get(backend);
    if (had !== undefined && had.candidates === candidates && had.version === version && (had.until === Infinity || monotonicMs() < had.until)) return had.down;
    const now = monotonicMs();
    const down = new Set<Endpoint>();
    let until = Infinity;
    for (const e of candidates) {
      const key = endpointKey(e);
      if (active?.has(key)) {
        down.add(e);
        continue;
      }
      if (!passive) continue;
      const left = this.table.ejectedFor(this.table.key(backend, key), now);
      if (left > 0) {
        down.add(e);
        until = Math.min(until, now + left);
      }
    }
    const panic = candidates.length > 0 && down.size === candidates.length;
    this.panic(backend, panic, candidates.length);
    const result = down.size === 0 || panic ? undefined : down;
    this.cache.set(backend, { candidates, version, until, down: result });
    return result;
  }

  private panic(backend: string, panic: boolean, endpoints: number): void {
    if (panic === this.panicking.has(backend)) return;
    if (panic) this.panicking.add(backend);
    else this.panicking.delete(backend);
    this.onPanic(backend, panic, endpoints);
  }

  report(backend: string, endpoint: Endpoint, outcome: Outcome): void {
    const policy = this.passive.get(backend);
    if (policy === undefined) return;
    const failure = isFailure(policy, outcome);
    if (failure === null) return;
    const key = this.table.key(backend, endpointKey(endpoint));
    if (!failure) return this.table.success(key);
    this.table.failure(key, policy, () => this.mayEject(backend, policy));
  }

  /** Fewer than the max share of the backend's endpoints are ejected now (one may always be, as Envoy). */
  private mayEject(backend: string, policy: PassiveHealthPolicy): boolean {
    const list = this.endpoints[backend] ?? [];
    const now = monotonicMs();
    let ejected = 0;
    for (const e of list) if (this.table.ejectedFor(this.table.key(backend, endpointKey(e)), now) > 0) ejected++;
    return ejected < Math.max(1, Math.floor((list.length * policy.maxEjectionPercent) / 100));
  }
}
