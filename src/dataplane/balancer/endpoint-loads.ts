// What a worker knows of each endpoint's load: its requests in flight and its latency (a peak
// EWMA). One record per endpoint (address and port), shared by every balancer of the worker, so
// two routes balancing over the same pods see each other's requests. Per worker, never shared
// across threads: each worker samples the traffic the kernel spreads to it.

import type { Endpoint } from '../../core/model.ts';

export class Load {
  /** Requests sent whose answer's head has not arrived (nor failed). */
  inFlight = 0;
  /** Latency estimate, ms (peak-ewma.ts), as of `stamp`; meaningful once `observed`. */
  cost = 0;
  stamp = 0;
  observed = false;
}

function key(e: Endpoint): string {
  return `${e.address} ${e.port}`;
}

export class EndpointLoads {
  private readonly byKey = new Map<string, Load>();
  /** The same records by endpoint object (the table's), so the request path builds no string. */
  private readonly byEndpoint = new WeakMap<Endpoint, Load>();

  of(e: Endpoint): Load {
    let load = this.byEndpoint.get(e);
    if (load === undefined) {
      const k = key(e);
      load = this.byKey.get(k);
      if (load === undefined) this.byKey.set(k, (load = new Load()));
      this.byEndpoint.set(e, load);
    }
    return load;
  }

  /** Forget the endpoints no backend has any more (an exchange still in flight keeps its record until it ends). */
  retain(endpoints: Iterable<Endpoint>): void {
    const keep = new Set<string>();
    for (const e of endpoints) keep.add(key(e));
    for (const k of this.byKey.keys()) if (!keep.has(k)) this.byKey.delete(k);
  }
}
