// The access-list step (core/annotations/access-list.ts has the grammar and the ingress-nginx
// facts): a client inside the deny list, or outside the allow list, gets 403, as nginx's
// `deny …; allow …; deny all;` (the first rule that matches wins, deny rules first). The ranges are
// parsed once, when the worker builds its steps; the client's address once per request, only
// for routes that have a list. An address that does not parse (never from a socket) is refused.

import { inRanges, parseCidrList, type Cidr } from '../../core/cidr.ts';
import type { AccessListPolicy } from '../../core/model.ts';
import type { RequestContext, SyncStep } from './pipeline.ts';

/** Every address: a deny list that does not parse (a hand-made table; compile checks them) denies all. */
const EVERYONE: readonly Cidr[] = [{ ip: new Array<number>(16).fill(0), bits: 0 }];

function ranges(list: readonly string[] | undefined, unparsable: readonly Cidr[]): readonly Cidr[] | null {
  if (list === undefined) return null;
  const parsed = parseCidrList(list.join(','));
  return typeof parsed === 'string' ? unparsable : parsed;
}

export function accessListStep(policy: AccessListPolicy): SyncStep {
  const deny = ranges(policy.deny, EVERYONE);
  const allow = ranges(policy.allow, []);
  return (ctx: RequestContext): boolean => {
    const ip = ctx.clientAddress();
    if (ip !== null && (deny === null || !inRanges(deny, ip)) && (allow === null || inRanges(allow, ip))) return false;
    ctx.respond(403);
    return true;
  };
}
