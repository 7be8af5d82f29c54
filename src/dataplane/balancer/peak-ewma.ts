// Peak EWMA of upstream latency with the power of two choices (`load-balance: ewma`;
// ingress-nginx's rootfs/etc/nginx/lua/balancer/ewma.lua, after Finagle's PeakEwma):
// - Each endpoint's cost is a moving average of its latency, weighted by time: a sample `td` ms
//   after the last one moves it by a share 1 - e^(-td/τ), τ = 10 s (ewma.lua's DECAY_TIME). A
//   sample above the cost replaces it at once (the "peak": a slow endpoint is avoided from its
//   first slow answer, and comes back only as its cost decays).
// - Read between samples, the cost decays toward 0 (ewma.lua scores with a sample of 0), so an
//   endpoint left alone is tried again.
// - Score: cost × (requests in flight + 1), as Finagle (ewma.lua scores the cost alone): a slow
//   endpoint's queue counts before its answers arrive. An endpoint with no answer yet scores 0,
//   unless it has a request in flight: then it waits for that answer (Finagle's penalty), so a new
//   endpoint is not flooded before anything is known of it.
// - Two endpoints at random, the lower score wins (ewma.lua's PICK_SET_SIZE 2).
// - The latency is the time to the answer's head (ewma.lua: connect + full response time; a long
//   streamed body says little about the endpoint). An attempt that failed without an answer
//   counts as FAILURE_COST_MS, so an endpoint refusing connections fast does not look fast.
// Scores are per worker (ingress-nginx keeps them in a shared dictionary of the nginx instance);
// each worker sees a fair sample of the traffic, which the kernel spreads over the workers.

import type { Endpoint } from '../../core/model.ts';
import type { Random } from './balancer.ts';
import { EndpointLoads, type Load } from './endpoint-loads.ts';
import { LeastRequest } from './least-request.ts';

/** ewma.lua's DECAY_TIME (10 s), in ms. */
export const DECAY_MS = 10_000;
/** The latency a failed attempt (no answer) counts as. */
export const FAILURE_COST_MS = 1_000;
/** Finagle's penalty for an endpoint with a request in flight and no latency known yet. */
const UNKNOWN_BUSY = Number.MAX_SAFE_INTEGER;

export class PeakEwma extends LeastRequest {
  private readonly now: () => number;

  constructor(loads = new EndpointLoads(), random: Random = Math.random, now: () => number = performance.now.bind(performance)) {
    super(loads, random);
    this.now = now;
  }

  protected override score(e: Endpoint): number {
    const load = this.loads.of(e);
    if (!load.observed) return load.inFlight === 0 ? 0 : UNKNOWN_BUSY;
    return decayed(load, this.now()) * (load.inFlight + 1);
  }

  override finished(e: Endpoint, latencyMs: number, ok: boolean): void {
    super.finished(e, latencyMs, ok);
    const load = this.loads.of(e);
    const rtt = ok ? latencyMs : Math.max(latencyMs, FAILURE_COST_MS);
    const now = this.now();
    if (!load.observed || rtt > load.cost) {
      load.cost = rtt;
    } else {
      const w = Math.exp(-Math.max(0, now - load.stamp) / DECAY_MS);
      load.cost = load.cost * w + rtt * (1 - w);
    }
    load.stamp = now;
    load.observed = true;
  }
}

/** The cost read at `now`: decayed toward 0 since the last sample. */
function decayed(load: Load, now: number): number {
  return load.cost * Math.exp(-Math.max(0, now - load.stamp) / DECAY_MS);
}
