// satisfy (core/annotations/satisfy.ts): how a route's access-phase steps — the access lists and
// every authentication (basic, external auth-url) — combine, as nginx's access phase does
// (ngx_http_core_access_phase):
// - `all` (default): each must pass; the first that refuses answers at once.
// - `any`: the first that passes admits the request and the authentication steps after it let it
//   through unchecked; a refusal is kept, not answered, and the next step gets its turn. When
//   none passed, satisfyAnyStep (after the last of them) answers the kept refusal: a 401 is kept
//   over a 403 (nginx's r->access_code), so a client that fails both an allow list and a
//   password gets the authentication's 401 and its challenge.
// The access list admits only when an allow rule matches: with a deny list alone, a client
// outside it is not admitted by it (nginx's access module declines when no rule matches), and
// under `any` it must authenticate; a client inside it passes with valid credentials.
//
// How an access-phase step uses this (one call each way):
//   if (!authRequired(ctx)) return false;                       // admitted already under any
//   ... check ...
//   return ok ? accessPassed(ctx, satisfy) : accessDenied(ctx, satisfy, 401, { 'WWW-Authenticate': … });
// An error that is not a refusal (a 500, a 503 for a missing Secret) is answered with
// ctx.respond at once, under either mode, as nginx finalizes any other status.

import type { AnswerHeaders } from '../proxy/proxy.ts';
import type { RequestContext, SyncStep } from './pipeline.ts';

export type Satisfy = 'all' | 'any';

/** Whether an authentication step must check this request: false once an earlier step admitted it under satisfy any. */
export function authRequired(ctx: RequestContext): boolean {
  return !ctx.accessAdmitted;
}

/** An access-phase step passed. Under any the request is admitted (a refusal kept earlier is dropped, as nginx clears its WWW-Authenticate). False: the request goes on. */
export function accessPassed(ctx: RequestContext, satisfy: Satisfy): false {
  if (satisfy === 'any') {
    ctx.accessAdmitted = true;
    ctx.accessDenial = null;
  }
  return false;
}

/**
 * An access-phase step refused with `status` (401, 403). Under all it is answered now (true);
 * under any it is kept — a 401 over a 403, else the latest — and the request goes on to the next
 * access-phase step (false).
 */
export function accessDenied(ctx: RequestContext, satisfy: Satisfy, status: number, headers?: AnswerHeaders): boolean {
  if (satisfy === 'all') {
    ctx.refusal = 'access';
    ctx.respond(status, headers);
    return true;
  }
  if (!(ctx.accessDenial?.status === 401 && status === 403)) ctx.accessDenial = { status, ...(headers ? { headers } : {}) };
  return false;
}

/** Under satisfy any, after the last access-phase step: the kept refusal, unless a step admitted the request. */
export const satisfyAnyStep: SyncStep = (ctx) => {
  const denial = ctx.accessDenial;
  if (ctx.accessAdmitted || denial === null) return false;
  ctx.refusal = 'access';
  ctx.respond(denial.status, denial.headers);
  return true;
};
