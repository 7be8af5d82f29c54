// The body-size step (core/annotations/body-size.ts has the grammar): the route's proxy-body-size
// becomes the request's limit, and a declared Content-Length above it is answered 413 here, before
// anything is forwarded. A body of undeclared length is counted by the proxy as it streams
// (proxy/body-limit.ts). Routes without the annotation get the table's limit in the worker.

import { declaredTooLarge, sendTooLarge } from '../proxy/body-limit.ts';
import type { ProxyResponse } from '../proxy/proxy.ts';
import type { RequestContext, SyncStep } from './pipeline.ts';

export function bodySizeStep(limit: number): SyncStep {
  return (ctx: RequestContext): boolean => {
    ctx.bodyLimit = limit;
    if (!declaredTooLarge(ctx.req, limit)) return false;
    if (ctx.upgrade) ctx.respond(413);
    else sendTooLarge(ctx.res as ProxyResponse);
    return true;
  };
}
