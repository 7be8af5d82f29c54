// server-alias (ingress-nginx "Server Alias", internal/ingress/annotations/alias): more names for
// the hosts of the Ingress's rules, served with the same routes. A comma list; entries trimmed,
// empty ones skipped, duplicates dropped. ingress-nginx puts each entry in nginx's server_name, so
// it takes regexes (`~^www\d+\.`), leading and trailing wildcards (`*.a.com`, which nginx matches
// to any number of labels, `www.a.*`, `.a.com`). Here an entry is a DNS name (lower-cased, a
// trailing dot dropped) or a one-label wildcard `*.a.com`, matched as an Ingress host wildcard is
// (exactly one extra label); anything else is refused with a condition. compile.ts decides which
// aliases are served (processors/aliases.ts).

import type { KubeObject } from '../snapshot.ts';
import { readAnnotation, type AnnotationResult } from './read-annotation.ts';
import { readRuleHost } from '../processors/ingress.ts';

/** The aliases, sorted; undefined when the Ingress has none. */
export function readServerAlias(ing: KubeObject): AnnotationResult<readonly string[] | undefined> {
  const v = readAnnotation(ing.metadata, 'server-alias');
  if (v === undefined) return { ok: true, value: undefined };
  const out = new Set<string>();
  for (const entry of v.value.split(',')) {
    const t = entry.trim();
    if (t === '') continue;
    // As a rule's host (an IP address is refused too); a trailing dot is dropped, as the router does.
    const host = readRuleHost(t.endsWith('.') ? t.slice(0, -1) : t);
    if (!host.ok || host.host === '') {
      return { ok: false, problems: [{ key: v.key, message: `${v.key}: ${JSON.stringify(t)} is not a host name or a one-label wildcard like "*.example.com" (regular expressions, IP addresses and other nginx server_name forms are not taken)` }] };
    }
    out.add(host.host);
  }
  return { ok: true, value: out.size === 0 ? undefined : [...out].sort() };
}
