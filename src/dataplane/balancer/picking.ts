// One request's use of a balancer, for the proxy: each attempt picks an endpoint not tried yet
// while others remain, then any again (proxy-next-upstream-tries may exceed the endpoints, as in
// ingress-nginx, whose balancer picks each try afresh), and each attempt is reported once (started, then finished with its latency and outcome), however
// the exchange ends. The latency is the time to the answer's head.

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

  constructor(balancer: Balancer, candidates: readonly Endpoint[], ctx: PickContext) {
    this.balancer = balancer;
    this.candidates = candidates;
    this.ctx = ctx;
  }

  /** The endpoint for the next attempt (the previous one, if unreported, failed); undefined: none at all. */
  next(): Endpoint | undefined {
    if (this.current !== undefined) {
      this.failed();
      (this.tried ??= new Set()).add(this.current);
    }
    let e = this.balancer.pick(this.candidates, this.ctx, this.tried);
    if (e === undefined && this.tried !== undefined) {
      // Every endpoint tried: a new round over all of them.
      this.tried.clear();
      e = this.balancer.pick(this.candidates, this.ctx);
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
  answered(out: Record<string, string | string[] | undefined>, res: HeaderTarget): void {
    this.report(true);
    const cookie = this.ctx.setCookie;
    if (cookie === null) return;
    // A Set-Cookie a policy set on the response (response-headers) replaces the upstream's; ours is added either way.
    const own = res.getHeader('set-cookie');
    if (own !== undefined) res.setHeader('set-cookie', [...list(own), cookie]);
    else out['set-cookie'] = [...list(out['set-cookie']), cookie];
  }

  /** The current attempt failed without an answer (refused, reset, timed out). */
  failed(): void {
    this.report(false);
  }

  /**
   * The exchange is over (the response closed): an attempt not reported yet `failed` (the proxy
   * answered 502 or 504 itself), or else ended with the client leaving, which is no fault of the endpoint.
   */
  end(failed: boolean): void {
    this.report(!failed);
  }

  private report(ok: boolean): void {
    if (!this.pending) return;
    this.pending = false;
    this.balancer.finished(this.current!, performance.now() - this.startedAt, ok);
  }
}
