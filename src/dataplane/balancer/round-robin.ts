// Round robin over a backend's endpoints, per request: ingress-nginx's default load-balance
// algorithm (round_robin). The counter survives endpoint updates (it is taken modulo the new
// count); an excluded endpoint is skipped, and the next request starts after the one chosen.

import type { Endpoint } from '../../core/model.ts';
import type { Balancer } from './balancer.ts';

export class RoundRobin implements Balancer {
  private next = 0;

  pick(candidates: readonly Endpoint[], _ctx: unknown, exclude?: ReadonlySet<Endpoint>): Endpoint | undefined {
    const n = candidates.length;
    if (n === 0) return undefined;
    for (let k = 0; k < n; k++) {
      const i = (this.next + k) % n;
      const e = candidates[i]!;
      if (exclude !== undefined && exclude.has(e)) continue;
      this.next = (i + 1) % n;
      return e;
    }
    return undefined;
  }

  started(): void {}

  finished(): void {}
}
