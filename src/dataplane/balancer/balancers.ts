// A worker's balancers: one per backend and route policy (core/model.ts BalancePolicy), made on
// first use. Routes without a policy share one round robin per backend, kept across tables (as
// before there were policies); a policy's balancers live as long as the table's policy object
// (a new table starts them afresh: round-robin counters, rings and cookie tables are cheap to
// rebuild). Requests in flight and latency live in one EndpointLoads per worker, by endpoint, and
// survive both.

import type { BalancePolicy, EndpointTable } from '../../core/model.ts';
import type { Balancer } from './balancer.ts';
import { ConsistentHash } from './consistent-hash.ts';
import { CookieAffinity } from './cookie-affinity.ts';
import { EndpointLoads } from './endpoint-loads.ts';
import { hashKey } from './hash-key.ts';
import { HashSubset } from './hash-subset.ts';
import { LeastRequest } from './least-request.ts';
import { PeakEwma } from './peak-ewma.ts';
import { RoundRobin } from './round-robin.ts';

/** The balancer of `policy` for `backend`; `loads` is the worker's. */
export function createBalancer(policy: BalancePolicy, backend: string, loads: EndpointLoads): Balancer {
  switch (policy.algorithm) {
    case 'round_robin':
      return new RoundRobin();
    case 'least_request':
      return new LeastRequest(loads);
    case 'ewma':
      return new PeakEwma(loads);
    case 'hash':
      return policy.subset > 0 ? new HashSubset(hashKey(policy.key), policy.subset) : new ConsistentHash(hashKey(policy.key));
    case 'cookie':
      return new CookieAffinity(policy, backend);
  }
}

export class Balancers {
  private readonly loads = new EndpointLoads();
  private readonly roundRobin = new Map<string, RoundRobin>();
  private readonly byPolicy = new WeakMap<BalancePolicy, Map<string, Balancer>>();

  /** The balancer for `backend` under the route's `policy` (absent: round robin). */
  get(backend: string, policy: BalancePolicy | undefined): Balancer {
    if (policy === undefined) {
      let rr = this.roundRobin.get(backend);
      if (rr === undefined) this.roundRobin.set(backend, (rr = new RoundRobin()));
      return rr;
    }
    let byBackend = this.byPolicy.get(policy);
    if (byBackend === undefined) this.byPolicy.set(policy, (byBackend = new Map()));
    let balancer = byBackend.get(backend);
    if (balancer === undefined) byBackend.set(backend, (balancer = createBalancer(policy, backend, this.loads)));
    return balancer;
  }

  /** A new endpoint table: forget the counters of backends and the loads of endpoints that are gone. */
  retain(table: EndpointTable): void {
    for (const id of this.roundRobin.keys()) if (!(id in table.backends)) this.roundRobin.delete(id);
    this.loads.retain(Object.values(table.backends).flat());
  }
}
