// One interface for every load-balancing algorithm (DESIGN.md "Request pipeline": balancer →
// endpoint → forward). A Balancer serves one backend for one route policy in one worker; the
// proxy asks it for an endpoint per attempt and tells it how each exchange went:
//
//   pick(candidates, ctx, exclude?)   an endpoint of `candidates` not in `exclude`, or undefined
//   started(endpoint)                 a request went to it
//   finished(endpoint, latencyMs, ok) its answer's head arrived after latencyMs (ok), or it failed
//                                     (no answer: refused, reset, timed out; ok false)
//
// `candidates` is the backend's endpoint list from the endpoint table, the same array until the
// table changes (a balancer may cache what it derives from it, by identity). `exclude` holds the
// endpoints a pick must avoid: those a retry already tried, and those health checks or ejections
// put down (endpoint-health.ts), so a hash ring keeps every other key where it was.
//
// State is per worker, as ingress-nginx's Lua balancers are per nginx worker (its EWMA scores
// excepted: they live in a dictionary its workers share): round-robin counters, requests in
// flight and latency scores see the requests of their own worker. What must agree
// across workers (and replicas) is computed from shared data alone: the hash ring from the sorted
// endpoint list, the affinity cookie from the backend id and the endpoint.

import type { Endpoint } from '../../core/model.ts';

/** What a balancer may read of the request, and what it asks of the answer. */
export interface PickContext {
  /** The request-target as sent. */
  readonly url: string;
  /** The Host as sent (`:authority` for HTTP/2). */
  readonly host: string;
  /** The client's address (after real-ip). */
  readonly clientIp: string;
  /** The client's request came over https (or a trusted X-Forwarded-Proto says so). */
  readonly https: boolean;
  /** The request headers, lower-case names. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** A Set-Cookie value the answer must carry (cookie affinity sets it in pick); null: none. */
  setCookie: string | null;
}

export interface Balancer {
  /** An endpoint of `candidates` not in `exclude`; undefined when there is none. */
  pick(candidates: readonly Endpoint[], ctx: PickContext, exclude?: ReadonlySet<Endpoint>): Endpoint | undefined;
  started(endpoint: Endpoint): void;
  finished(endpoint: Endpoint, latencyMs: number, ok: boolean): void;
}

/** A source of numbers in [0, 1): Math.random, or a seeded one in tests. */
export type Random = () => number;

/** The candidates not in `exclude` (`candidates` itself when it excludes none of them). */
export function allowed(candidates: readonly Endpoint[], exclude: ReadonlySet<Endpoint> | undefined): readonly Endpoint[] {
  if (exclude === undefined || exclude.size === 0) return candidates;
  return candidates.filter((e) => !exclude.has(e));
}

/**
 * The power of two choices (Mitzenmacher; Envoy's least-request, Finagle's and ingress-nginx's
 * ewma): two distinct candidates at random, the one with the lower score (the first on a tie).
 */
export function powerOfTwo(list: readonly Endpoint[], random: Random, score: (e: Endpoint) => number): Endpoint | undefined {
  const n = list.length;
  if (n <= 1) return list[0];
  const i = Math.floor(random() * n);
  let j = Math.floor(random() * (n - 1));
  if (j >= i) j++;
  const a = list[i]!;
  const b = list[j]!;
  return score(b) < score(a) ? b : a;
}
