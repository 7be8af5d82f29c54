// The rewrite step (core/annotations/rewrite.ts has the grammar and the ingress-nginx facts): it
// answers nothing, it leaves the forward a new request-target (rewrite-target), an
// X-Forwarded-Prefix header and a Host (upstream-vhost). `$1`…`$9` are the groups of the route's
// regex on the normalised path, the one routing matched (a group that took no part, or a route
// without a regex: nothing, as nginx expands an unset capture).
//
// The rewritten path is built from the normalised path, as nginx's rewrite works on $uri (the
// normalised one): `/a/./b//c` is `/a/b/c` to the regex and to the target alike. It stays a valid
// request-target without re-escaping, since the normal form is ASCII with every other character
// percent-encoded (`%2F` stays `%2F`; nginx decodes every escape in $uri and re-escapes only space,
// `#`, `%`, `?`, controls and non-ASCII when it proxies, so there `%2F` reaches the upstream as `/`).
// The client's query string follows the new path byte for byte, as nginx appends the arguments when
// the replacement has no `?` (rewrite-target cannot hold one).

import { parseTemplate } from '../../core/annotations/rewrite.ts';
import type { RewritePolicy } from '../../core/model.ts';
import { compilePathRegex } from '../../core/path-regex.ts';
import type { Match } from '../router/router.ts';
import type { RequestContext, SyncStep } from './pipeline.ts';

const NO_GROUPS: readonly string[] = Object.freeze([]);

export function rewriteStep(policy: RewritePolicy): SyncStep {
  const re = policy.pattern === undefined ? null : compilePathRegex(policy.pattern);
  // Compile checked the pattern; should one not compile here, its groups expand to nothing.
  const groupsOf = re === null || typeof re === 'string' ? null : re.groups;
  const target = policy.target === undefined ? null : parseTemplate(policy.target);
  const prefix = policy.xForwardedPrefix === undefined ? null : parseTemplate(policy.xForwardedPrefix);
  const vhost = policy.upstreamVhost ?? null;
  return (ctx: RequestContext): boolean => {
    const groups = groupsOf === null ? NO_GROUPS : (groupsOf(ctx.path) ?? NO_GROUPS);
    if (target !== null) ctx.upstreamTarget = upstreamTarget(expand(target, groups), ctx.url);
    if (prefix !== null) (ctx.upstreamHeaders ??= []).push('x-forwarded-prefix', expand(prefix, groups));
    if (vhost !== null) ctx.upstreamHost = vhost;
    return false;
  };
}

function expand(parts: readonly (string | number)[], groups: readonly string[]): string {
  let out = '';
  for (const part of parts) out += typeof part === 'string' ? part : (groups[part - 1] ?? '');
  return out;
}

// A `%` that does not start an escape: a group may end inside one (`/a(.)` on `/a%2F`).
const STRAY_PERCENT = /%(?![0-9A-Fa-f]{2})/g;
// Characters a request-target may not carry as they are (RFC 9112 §3.2, RFC 3986 §2.1).
const UNSAFE = /[^\x21-\x7e]/;
const UTF8 = new TextEncoder();

/**
 * The request-target sent upstream: `path` (a leading `/` added when the target left it out,
 * e.g. `rewrite-target: $1`), then the query of `url` (the client's target) when it has one.
 */
export function upstreamTarget(path: string, url: string): string {
  let p = path.charCodeAt(0) === 47 ? path : `/${path}`;
  if (p.includes('%')) p = p.replace(STRAY_PERCENT, '%25');
  // The query runs from the first `?` to a `#`; a `#` first starts a fragment, never sent.
  const q = url.search(/[?#]/);
  if (q === -1 || url.charCodeAt(q) === 35) return p;
  const hash = url.indexOf('#', q);
  const query = url.slice(q + 1, hash === -1 ? url.length : hash);
  // nginx appends `?args` only when there are some.
  if (query === '') return p;
  return `${p}?${UNSAFE.test(query) ? encodeUnsafe(query) : query}`;
}

/** Percent-encodes what may not stand in a request-target: a byte below U+0100, UTF-8 above. */
function encodeUnsafe(text: string): string {
  let out = '';
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    if (c > 0x20 && c < 0x7f) out += ch;
    else if (c < 0x100) out += `%${c.toString(16).toUpperCase().padStart(2, '0')}`;
    else for (const b of UTF8.encode(ch)) out += `%${b.toString(16).toUpperCase()}`;
  }
  return out;
}

/**
 * The request-target an ssl-redirect Location carries: as sent, or without its last byte when
 * that is `/` and the route's Ingress says preserve-trailing-slash: "false" (ingress-nginx's
 * lua_ingress.lua strips it from $request_uri, query included, unless the annotation is "true").
 */
export function sslRedirectTarget(match: Match, url: string): string {
  const policy = (match.route !== null ? match.route.policies : match.host?.defaultPolicies)?.rewrite;
  return policy?.stripTrailingSlash === true && url.endsWith('/') ? url.slice(0, -1) : url;
}
