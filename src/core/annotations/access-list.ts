// The access-list family (ingress-nginx "Allowlist source range" and "Denylist source range",
// https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/):
// - `allowlist-source-range`, or its older name `whitelist-source-range`: a comma-separated list
//   of IPv4/IPv6 addresses and CIDRs; a client outside it gets 403. When both names are set the
//   newer one wins, as ingress-nginx reads the alias only when `allowlist-source-range` is empty
//   (parser.checkAnnotation, AnnotationAliases).
// - `denylist-source-range`: the same syntax; a client inside it gets 403.
// ingress-nginx writes them as nginx `deny` rules, then `allow` rules and `deny all` (nginx.tmpl),
// and nginx's access module takes the first rule that matches: a client in both lists is denied.
// The ranges are read with Go's net.ParseCIDR / ParseIP (core/cidr.ts: host bits masked, a bare
// address is a /32 or /128, an IPv4 range also covers its IPv4-mapped IPv6 form).
//
// ingress-nginx answers every request of a location whose list does not parse with 503; an empty
// value is such a list. Here a value that fails leaves the Ingress out with a condition.
//
// The ConfigMap keys `whitelist-source-range` and `denylist-source-range` are the defaults: an
// Ingress without an allow list annotation gets the global allow list, one without a deny list
// annotation the global deny list, each list on its own (ingress-nginx's ipallowlist and
// ipdenylist parsers fall back to the ConfigMap's list when their annotation is missing).

import { parseCidrList } from '../cidr.ts';
import type { AccessListPolicy } from '../model.ts';
import type { KubeObject } from '../snapshot.ts';
import { readAnnotation, type AnnotationProblem, type AnnotationResult, type AnnotationValue } from './read-annotation.ts';

/** More entries than this is a list no one wrote by hand; refused rather than checked per request. */
const MAX_ENTRIES = 1000;

/** The ConfigMap's lists (core/global-config.ts), normalised. */
export interface AccessListDefaults {
  readonly allow?: readonly string[];
  readonly deny?: readonly string[];
}

/** The access lists of the Ingress, the ConfigMap's where it sets none (absent: none). */
export function readAccessList(ing: KubeObject, defaults: AccessListDefaults = {}): AnnotationResult<AccessListPolicy | undefined> {
  const problems: AnnotationProblem[] = [];
  const list = (v: AnnotationValue | undefined): readonly string[] | undefined => {
    if (v === undefined) return undefined;
    const entries = v.value.split(',').map((e) => e.trim());
    const parsed = parseCidrList(v.value);
    if (typeof parsed === 'string') problems.push({ key: v.key, message: `${v.key}: ${parsed} (expected a comma-separated list of IP addresses and CIDR ranges, like "10.0.0.0/8,2001:db8::/32")` });
    else if (entries.length > MAX_ENTRIES) problems.push({ key: v.key, message: `${v.key}: ${entries.length} entries; at most ${MAX_ENTRIES} are allowed` });
    else return entries;
    return undefined;
  };
  const allowlist = readAnnotation(ing.metadata, 'allowlist-source-range');
  const allow = list(nonEmpty(allowlist) ?? readAnnotation(ing.metadata, 'whitelist-source-range') ?? allowlist) ?? defaults.allow;
  const deny = list(readAnnotation(ing.metadata, 'denylist-source-range')) ?? defaults.deny;
  if (problems.length > 0) return { ok: false, problems };
  if (allow === undefined && deny === undefined) return { ok: true, value: undefined };
  return { ok: true, value: { ...(allow ? { allow } : {}), ...(deny ? { deny } : {}) } };
}

/** The annotation unless its value is empty: ingress-nginx then reads the older name instead (if set). */
function nonEmpty(v: AnnotationValue | undefined): AnnotationValue | undefined {
  return v === undefined || v.value === '' ? undefined : v;
}
