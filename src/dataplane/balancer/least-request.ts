// Least request with the power of two choices (Envoy's LEAST_REQUEST; `load-balance:
// least_request`, ours): of two endpoints chosen at random, the one with fewer requests in flight
// in this worker. Two random choices rather than the least loaded of all: every worker would
// otherwise pile onto the same idle endpoint between two updates of its counts, and two choices
// already take the longest queue from O(log n / log log n) to O(log log n) (Mitzenmacher).
// PeakEwma (peak-ewma.ts) is this with another score.

import type { Endpoint } from '../../core/model.ts';
import { allowed, powerOfTwo, type Balancer, type Random } from './balancer.ts';
import { EndpointLoads } from './endpoint-loads.ts';

export class LeastRequest implements Balancer {
  protected readonly loads: EndpointLoads;
  private readonly random: Random;
  private readonly scoreOf = (e: Endpoint) => this.score(e);

  constructor(loads = new EndpointLoads(), random: Random = Math.random) {
    this.loads = loads;
    this.random = random;
  }

  /** Lower is better: here the requests in flight. */
  protected score(e: Endpoint): number {
    return this.loads.of(e).inFlight;
  }

  pick(candidates: readonly Endpoint[], _ctx: unknown, exclude?: ReadonlySet<Endpoint>): Endpoint | undefined {
    return powerOfTwo(allowed(candidates, exclude), this.random, this.scoreOf);
  }

  started(e: Endpoint): void {
    this.loads.of(e).inFlight++;
  }

  finished(e: Endpoint, _latencyMs: number, _ok: boolean): void {
    const load = this.loads.of(e);
    if (load.inFlight > 0) load.inFlight--;
  }
}
