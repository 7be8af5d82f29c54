// The typed-headers step (core/annotations/typed-headers.ts has the grammar): the request list is
// added to the headers sent upstream, each replacing the client's header of that name; the
// response list is set on the answer before forwarding, so it replaces the upstream's header of
// that name (the proxy lets headers set here win) and also marks the proxy's own error answers.
// Upgrades get the request list only: their 101 answer is the backend's, passed through.

import type { HeadersPolicy } from '../../core/model.ts';
import type { ProxyResponse } from '../proxy/proxy.ts';
import type { RequestContext, Step } from './pipeline.ts';

export function typedHeadersStep(policy: HeadersPolicy): Step {
  const request = (policy.request ?? []).flatMap(([name, value]) => [name.toLowerCase(), value]);
  const response = policy.response ?? [];
  return (ctx: RequestContext): boolean => {
    if (request.length !== 0) ctx.upstreamHeaders = ctx.upstreamHeaders === null ? [...request] : [...ctx.upstreamHeaders, ...request];
    if (!ctx.upgrade) for (const [name, value] of response) (ctx.res as ProxyResponse).setHeader(name, value);
    return false;
  };
}
