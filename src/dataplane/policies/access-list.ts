// The access-list step (core/annotations/access-list.ts has the grammar and the ingress-nginx
// facts): a client inside the deny list, or outside the allow list, gets 403, as nginx's
// `deny …; allow …; deny all;` (the first rule that matches wins, deny rules first). The ranges are
// parsed once, when the worker builds its steps; the client's address once per request, only
// for routes that have a list. An address that does not parse (never from a socket) is refused.
// Under satisfy any (satisfy.ts) a refusal waits for the authentication steps, and only an allow
// rule admits: with a deny list alone no rule matches a client outside it, and nginx's access
// module declines.

import { inRanges, parseCidrList, type Cidr } from '../../core/cidr.ts';
import type { AccessListPolicy } from '../../core/model.ts';
import type { RequestContext, SyncStep } from './pipeline.ts';
import { accessDenied, accessPassed, type Satisfy } from './satisfy.ts';

/** Every address: a deny list that does not parse (a hand-made table; compile checks them) denies all. */
const EVERYONE: readonly Cidr[] = [{ ip: new Array<number>(16).fill(0), bits: 0 }];

function ranges(list: readonly string[] | undefined, unparsable: readonly Cidr[]): readonly Cidr[] | null {
  if (list === undefined) return null;
  const parsed = parseCidrList(list.join(','));
  return typeof parsed === 'string' ? unparsable : parsed;
}

export function accessListStep(policy: AccessListPolicy, satisfy: Satisfy = 'all'): SyncStep {
  const deny = ranges(policy.deny, EVERYONE);
  const allow = ranges(policy.allow, []);
  return (ctx: RequestContext): boolean => {
    const ip = ctx.clientAddress();
    if (ip !== null && (deny === null || !inRanges(deny, ip))) {
      if (allow === null) return false;
      if (inRanges(allow, ip)) return accessPassed(ctx, satisfy);
    }
    return accessDenied(ctx, satisfy, 403);
  };
}
