// One request's use of a balancer, for the proxy: each attempt picks an endpoint not tried yet
// while others remain, then any again (proxy-next-upstream-tries may exceed the endpoints, as in
// ingress-nginx, whose balancer picks each try afresh), and each attempt is reported once (started, then finished with its latency and outcome), however
// the exchange ends. The latency is the time to the answer's head.
// Health (endpoint-health.ts): the endpoints the backend's checks and ejections put down are
// excluded from every pick (all of them down: none is, panic mode), and each attempt's outcome
// (its status, or how it failed) goes to passive health.

import type { Endpoint } from '../../core/model.ts';
import type { Balancer, PickContext } from './balancer.ts';

/** What answered(…) needs of the response: its handler-set headers (getHeader/setHeader). */
interface HeaderTarget {
  getHeader(name: string): number | string | string[] | undefined;
  setHeader(name: string, value: string | string[]): unknown;
}

function list(v: number | string | string[] | undefined): string[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [String(v)];
}

/** The PickContext of a request: its target and headers, and who sent it (the proxy's Forwarded). */
export function pickContext(req: { readonly url?: string; readonly headers: PickContext['headers'] }, fwd: { readonly host: string; readonly clientIp: string; readonly proto: string }): PickContext {
  return { url: req.url ?? '', host: fwd.host, clientIp: fwd.clientIp, https: fwd.proto === 'https', headers: req.headers, setCookie: null };
}

/** How an attempt ended, for passive health: the answer's status, or a failure without one. */
export type Outcome = number | 'error' | 'timeout';

/** Health, as Picking sees it (endpoint-health.ts). */
export interface PickHealth {
  /** The candidates to avoid; undefined: none (or every one: panic mode). */
  down(backend: string, candidates: readonly Endpoint[]): ReadonlySet<Endpoint> | undefined;
  report(backend: string, endpoint: Endpoint, outcome: Outcome): void;
}

export class Picking {
  private readonly balancer: Balancer;
  private readonly candidates: readonly Endpoint[];
  readonly ctx: PickContext;
  /** The endpoint of the last attempt, whether it is reported yet, and when it started. */
  private current: Endpoint | undefined;
  private pending = false;
  private startedAt = 0;
  /** The endpoints of earlier attempts (made on the first retry). */
  private tried: Set<Endpoint> | undefined;
  private readonly health: PickHealth | undefined;
  private readonly backend: string;
  /** The candidates health puts down, for this request. */
  private readonly down: ReadonlySet<Endpoint> | undefined;

  constructor(balancer: Balancer, candidates: readonly Endpoint[], ctx: PickContext, health?: PickHealth, backend = '') {
    this.balancer = balancer;
    this.candidates = candidates;
    this.ctx = ctx;
    this.health = health;
    this.backend = backend;
    this.down = health?.down(backend, candidates);
  }

  /** The endpoints a pick avoids: those tried and those down. */
  private excluded(): ReadonlySet<Endpoint> | undefined {
    if (this.down === undefined) return this.tried;
    if (this.tried === undefined || this.tried.size === 0) return this.down;
    return new Set([...this.down, ...this.tried]);
  }

  /** The endpoint for the next attempt (the previous one, if unreported, failed); undefined: none at all. */
  next(): Endpoint | undefined {
    if (this.current !== undefined) {
      this.failed();
      (this.tried ??= new Set()).add(this.current);
    }
    let e = this.balancer.pick(this.candidates, this.ctx, this.excluded());
    if (e === undefined && this.tried !== undefined) {
      // Every endpoint up tried: a new round over all of them.
      this.tried.clear();
      e = this.balancer.pick(this.candidates, this.ctx, this.down);
    }
    this.current = e;
    if (e === undefined) return undefined;
    this.pending = true;
    this.startedAt = performance.now();
    this.balancer.started(e);
    return e;
  }

  /**
   * The current attempt's answer head arrived; `out` is the headers going to the client, `res` the
   * response (its handler-set headers win over `out`): the affinity cookie is added to them.
   */
  answered(out: Record<string, string | string[] | undefined>, res: HeaderTarget, status: number): void {
    this.report(true, status);
    const cookie = this.ctx.setCookie;
    if (cookie === null) return;
    // A Set-Cookie a policy set on the response (response-headers) replaces the upstream's; ours is added either way.
    const own = res.getHeader('set-cookie');
    if (own !== undefined) res.setHeader('set-cookie', [...list(own), cookie]);
    else out['set-cookie'] = [...list(out['set-cookie']), cookie];
  }

  /** The current attempt failed without an answer (refused, reset: `error`; timed out). */
  failed(how: 'error' | 'timeout' = 'error'): void {
    this.report(false, how);
  }

  /** The current attempt's answer has a status that sends the request to another try (proxy-next-upstream). */
  rejected(status: number): void {
    this.report(false, status);
  }

  /**
   * The exchange is over (the response closed): an attempt not reported yet `failed` (the proxy
   * answered 502 or 504 itself), or else ended with the client leaving, which is no fault of the endpoint.
   */
  end(failed: boolean): void {
    this.report(!failed, failed ? 'error' : undefined);
  }

  /** `outcome` undefined: no verdict on the endpoint (the client left). */
  private report(ok: boolean, outcome: Outcome | undefined): void {
    if (!this.pending) return;
    this.pending = false;
    this.balancer.finished(this.current!, performance.now() - this.startedAt, ok);
    if (outcome !== undefined) this.health?.report(this.backend, this.current!, outcome);
  }
}
