// The redirect step (core/annotations/redirect.ts has the grammar and the ingress-nginx facts):
// permanent/temporal-redirect answer every request; app-root answers a request for `/`;
// from-to-www answers every request of the other name, keeping scheme, port and target.

import type { RedirectPolicy } from '../../core/model.ts';
import { hostPort, redirectHost } from '../proxy/redirect.ts';
import type { RequestContext, SyncStep } from './pipeline.ts';

export function redirectStep(policy: RedirectPolicy): SyncStep {
  const { to, appRoot, host } = policy;
  return (ctx: RequestContext): boolean => {
    if (to !== undefined) {
      ctx.respond(to.code, { location: to.url });
      return true;
    }
    if (host !== undefined) {
      // The target byte for byte (query and escapes kept); the client's own port.
      ctx.respond(host.code, { location: `${ctx.scheme}://${host.host}${hostPort(ctx.host)}${ctx.url}` });
      return true;
    }
    if (appRoot !== undefined && ctx.path === '/') {
      // As ingress-nginx: `$scheme://$http_host<app-root>`, 302, the query not kept.
      const name = redirectHost(ctx.host);
      if (name === null) ctx.respond(400);
      else ctx.respond(302, { location: `${ctx.scheme}://${name}${hostPort(ctx.host)}${appRoot}` });
      return true;
    }
    return false;
  };
}
