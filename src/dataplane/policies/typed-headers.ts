// The typed-headers step (core/annotations/typed-headers.ts has the grammar): the request list is
// added to the headers sent upstream, each replacing the client's header of that name; the
// response list is set on the answer before forwarding, so it replaces the upstream's header of
// that name (the proxy lets headers set here win) and also marks the proxy's own error answers;
// except Vary, which is added to a Vary already set (add-headers, CORS), as the proxy adds it to
// the upstream's. Upgrades get the request list only: their 101 answer is the backend's, passed
// through.

import type { HeadersPolicy } from '../../core/model.ts';
import { mergeVary } from '../proxy/headers.ts';
import type { ProxyResponse } from '../proxy/proxy.ts';
import type { RequestContext, SyncStep } from './pipeline.ts';

export function typedHeadersStep(policy: HeadersPolicy): SyncStep {
  const request = (policy.request ?? []).flatMap(([name, value]) => [name.toLowerCase(), value]);
  const response = (policy.response ?? []).map(([name, value]) => ({ name, value, vary: name.toLowerCase() === 'vary' }));
  return (ctx: RequestContext): boolean => {
    if (request.length !== 0) ctx.upstreamHeaders = ctx.upstreamHeaders === null ? [...request] : [...ctx.upstreamHeaders, ...request];
    if (ctx.upgrade) return false;
    const res = ctx.res as ProxyResponse;
    for (const { name, value, vary } of response) res.setHeader(name, vary ? mergeVary(res.getHeader(name), value) : value);
    return false;
  };
}
