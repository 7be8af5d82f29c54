// The CORS step (core/annotations/cors.ts has the grammar and defaults), as ingress-nginx's CORS
// block in nginx.tmpl does it:
// - cors-allow-origin `*`: every request is in; Access-Control-Allow-Origin is `*`.
// - a list: a request whose Origin matches an entry (case-insensitively; `*.` one DNS label) is
//   in, and Access-Control-Allow-Origin repeats its Origin. Anything else (no Origin, another
//   one) goes on as if CORS were off: no CORS headers, forwarded (a preflight too).
// - a preflight that is in (OPTIONS with Origin and Access-Control-Request-Method, the Fetch
//   standard's CORS-preflight request) is answered 204 here and never forwarded, with
//   Allow-Origin, Allow-Credentials (when true), Allow-Methods, Allow-Headers, Expose-Headers
//   (when set) and Max-Age; any other request that is in gets the same headers on its answer,
//   replacing the upstream's (more_set_headers), and is forwarded.
// - with a list, every answer (in or not, preflight or not) carries `Vary: Origin`, merged with
//   the upstream's Vary: it depends on the request's Origin, so a shared cache must keep one per
//   Origin (the Fetch standard, "CORS protocol and HTTP caches"). ingress-nginx sends none.
// Upgrades (WebSocket) are not subject to CORS and pass untouched.

import type { CorsPolicy } from '../../core/model.ts';
import { mergeVary } from '../proxy/headers.ts';
import type { ProxyResponse } from '../proxy/proxy.ts';
import type { RequestContext, SyncStep } from './pipeline.ts';

const LABEL = /^[a-z0-9-]+$/;

/** Whether `origin` (lower case) matches one of `origins` (lower case; `scheme://*.rest`: one label for `*`). */
function originMatcher(origins: readonly string[]): (origin: string) => boolean {
  const exact = new Set<string>();
  const wildcards: { prefix: string; suffix: string }[] = [];
  for (const o of origins) {
    const star = o.indexOf('://*.');
    if (star === -1) exact.add(o);
    else wildcards.push({ prefix: o.slice(0, star + 3), suffix: o.slice(star + 4) });
  }
  return (origin) => {
    if (exact.has(origin)) return true;
    for (const { prefix, suffix } of wildcards) {
      if (origin.length > prefix.length + suffix.length && origin.startsWith(prefix) && origin.endsWith(suffix) && LABEL.test(origin.slice(prefix.length, origin.length - suffix.length))) return true;
    }
    return false;
  };
}

export function corsStep(policy: CorsPolicy): SyncStep {
  // The headers after Allow-Origin, in ingress-nginx's order.
  const rest: Record<string, string> = {};
  if (policy.credentials) rest['Access-Control-Allow-Credentials'] = 'true';
  rest['Access-Control-Allow-Methods'] = policy.methods;
  rest['Access-Control-Allow-Headers'] = policy.headers;
  if (policy.exposeHeaders !== '') rest['Access-Control-Expose-Headers'] = policy.exposeHeaders;
  rest['Access-Control-Max-Age'] = String(policy.maxAge);
  const names = Object.keys(rest);
  const matches = policy.origins === '*' ? null : originMatcher(policy.origins);

  return (ctx: RequestContext): boolean => {
    if (ctx.upgrade) return false;
    const { headers, method } = ctx.req;
    const origin = headers.origin;
    const res = ctx.res as ProxyResponse;
    let allowOrigin = '*';
    if (matches !== null) {
      res.setHeader('Vary', mergeVary(res.getHeader('vary'), 'Origin'));
      if (origin === undefined || !matches(origin.toLowerCase())) return false;
      allowOrigin = origin;
    }
    if (method === 'OPTIONS' && origin !== undefined && headers['access-control-request-method'] !== undefined) {
      ctx.respond(204, { 'Access-Control-Allow-Origin': allowOrigin, ...rest });
      return true;
    }
    res.setHeader('Access-Control-Allow-Origin', allowOrigin);
    for (const name of names) res.setHeader(name, rest[name]!);
    return false;
  };
}
