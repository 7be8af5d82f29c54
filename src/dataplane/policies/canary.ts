// The canary step, at the pipeline's "backend choice" position (core/annotations/canary.ts has the
// grammar and the ingress-nginx facts). As balancer.lua's route_to_alternative_balancer, in order:
// - canary-by-header: with a value, equal → canary; with a pattern, a match anywhere → canary;
//   with neither, `always` → canary, `never` → main; anything else (or no header) goes on.
// - canary-by-cookie: `always` → canary, `never` → main; else goes on.
// - canary-weight: `math.random(total) <= weight`, a fresh draw per request.
// The step never answers: it leaves its choice in ctx.backend for the forward, which keeps the
// route's backend when the canary's has no endpoint (balancer.lua has no balancer for it then).

import type { CanaryPolicy } from '../../core/model.ts';
import { compileHeaderPattern } from '../../core/annotations/canary.ts';
import { cookieValue } from '../balancer/hash-key.ts';
import type { RequestContext, SyncStep } from './pipeline.ts';

/** What the header says: true (canary), false (main), or null (the next rule decides). */
type Verdict = boolean | null;

function alwaysNever(value: string | undefined): Verdict {
  return value === 'always' ? true : value === 'never' ? false : null;
}

export function canaryStep(policy: CanaryPolicy): SyncStep {
  const header = policy.header;
  // A pattern that does not compile (a hand-made table; compile checks them) matches nothing.
  const compiled = header?.pattern === undefined ? null : compileHeaderPattern(header.pattern);
  const pattern = compiled === null || typeof compiled === 'string' ? null : compiled;
  const byHeader = (value: string, h: NonNullable<CanaryPolicy['header']>): Verdict => {
    if (h.value !== undefined) return value === h.value ? true : null;
    if (h.pattern !== undefined) return pattern !== null && pattern.matcher(value).find() ? true : null;
    return alwaysNever(value);
  };
  return (ctx: RequestContext): boolean => {
    let verdict: Verdict = null;
    if (header !== undefined) {
      const value = ctx.req.headers[header.name];
      if (value !== undefined) verdict = byHeader(Array.isArray(value) ? value.join(', ') : value, header);
    }
    if (verdict === null && policy.cookie !== undefined) verdict = alwaysNever(cookieValue(ctx.req.headers.cookie, policy.cookie, true));
    // math.random(total) is uniform on 1..total; a draw at most `weight` goes to the canary.
    if (verdict === null) verdict = Math.floor(Math.random() * policy.weightTotal) < policy.weight;
    if (verdict) ctx.backend = policy;
    return false;
  };
}
