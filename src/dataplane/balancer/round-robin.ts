// Round robin over a backend's ready endpoints, per request (ingress-nginx's default
// load-balance algorithm). One counter per backend id; counters survive endpoint updates.

import type { Endpoint } from '../../core/model.ts';

export class RoundRobin {
  private readonly counters = new Map<string, number>();

  /** The next endpoint for `backend`, or undefined when it has none. */
  pick(backend: string, endpoints: readonly Endpoint[]): Endpoint | undefined {
    const n = endpoints.length;
    if (n === 0) return undefined;
    if (n === 1) return endpoints[0];
    const i = this.counters.get(backend) ?? 0;
    this.counters.set(backend, (i + 1) % n);
    return endpoints[i % n];
  }

  /** Forget counters of backends that are gone. */
  retain(backends: ReadonlySet<string>): void {
    for (const id of this.counters.keys()) if (!backends.has(id)) this.counters.delete(id);
  }
}
