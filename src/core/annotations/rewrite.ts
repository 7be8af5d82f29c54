// The rewrite family (ingress-nginx "Rewrite", "Use Regex", "X-Forwarded-Prefix Header", "Custom
// NGINX upstream vhost" and "Server-side HTTPS enforcement through redirect",
// https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/):
// - `rewrite-target` (path with `$1`…`$9`): the upstream gets this path instead of the client's,
//   the groups taken from the route's regex, the query string kept. ingress-nginx writes
//   `rewrite "(?i)<path>" <target> break;` (template.go buildProxyPass), which replaces the whole
//   URI, and only when the target differs from the path as written. Any such rewrite-target puts
//   every path of the host in regex mode (template.go enforceRegexModifier).
// - `use-regex` (bool, default false): regex mode for every path of the Ingress's hosts.
// - `x-forwarded-prefix` (path with `$1`…`$9`): the X-Forwarded-Prefix request header.
// - `upstream-vhost` (host[:port]): the Host header sent upstream (`proxy_set_header Host`).
// - `preserve-trailing-slash` (bool): "false" drops a trailing `/` from the ssl-redirect Location,
//   as ingress-nginx's lua_ingress.lua does by default (see RewritePolicy.stripTrailingSlash).
// `app-root` belongs to the redirect family (redirect.ts).
//
// Values are data, never nginx text: a `$` is a capture group reference and nothing else (no nginx
// variables), and the characters are ingress-nginx's validators' (RegexPathWithCapture for the
// paths, ValidateServerName narrowed to host[:port] for the vhost). A value that fails is refused
// with a condition (ingress-nginx logs a warning and drops it).

import type { RewritePolicy } from '../model.ts';
import type { KubeObject } from '../snapshot.ts';
import { parseBool, readAnnotation, type AnnotationProblem, type AnnotationResult, type AnnotationValue } from './read-annotation.ts';

// ingress-nginx's RegexPathWithCapture: `^/?[\-\.\_\~a-zA-Z0-9\/:\$]*$`; a `$` must name a group.
const CAPTURE_PATH = /^\/?(?:[-._~A-Za-z0-9/:]|\$[1-9])*$/;
// A rewrite-target also starts with `/` or a group: nginx answers a replacement that starts with
// `http://` or `https://` with a redirect instead (temporal-redirect does that here), and one
// that starts otherwise makes no request-target.
const TARGET = /^(?:\/|\$[1-9])/;
// A host name or IP literal, with an optional port.
const VHOST = /^(?:[A-Za-z0-9_](?:[-A-Za-z0-9_.]*[A-Za-z0-9_])?|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}))?$/;
const MAX_LENGTH = 2048;

export interface RewriteAnnotations {
  /** use-regex. */
  readonly useRegex: boolean;
  /** The Ingress's rewrite policy, before compile fits it to each route (routeRewrite); absent: none. */
  readonly rewrite?: RewritePolicy;
}

export function readRewrite(ing: KubeObject): AnnotationResult<RewriteAnnotations> {
  const problems: AnnotationProblem[] = [];
  const refuse = (v: AnnotationValue, expected: string): undefined => {
    problems.push({ key: v.key, message: `${v.key}: ${JSON.stringify(v.value)} is not ${expected}` });
    return undefined;
  };
  const chars = 'letters, digits, "-._~/:" and capture groups $1 to $9';
  // An empty value is no value (ingress-nginx's parser.GetStringAnnotation).
  const read = (name: string, trim: boolean): AnnotationValue | undefined => {
    const v = readAnnotation(ing.metadata, name);
    return v === undefined || (trim ? v.value.trim() : v.value) === '' ? undefined : v;
  };
  const bool = (name: string): boolean | undefined => {
    const v = readAnnotation(ing.metadata, name);
    if (v === undefined) return undefined;
    const b = parseBool(v);
    if (typeof b === 'boolean') return b;
    problems.push({ key: v.key, message: b });
    return undefined;
  };

  const policy: { -readonly [K in keyof RewritePolicy]: RewritePolicy[K] } = {};
  const target = read('rewrite-target', false);
  if (target !== undefined) {
    if (TARGET.test(target.value) && CAPTURE_PATH.test(target.value) && target.value.length <= MAX_LENGTH) policy.target = target.value;
    else refuse(target, `a path starting with "/" or a group, of ${chars}`);
  }
  const prefix = read('x-forwarded-prefix', true);
  if (prefix !== undefined) {
    const value = prefix.value.trim();
    if (CAPTURE_PATH.test(value) && value.length <= MAX_LENGTH) policy.xForwardedPrefix = value;
    else refuse(prefix, `a path of ${chars}`);
  }
  const vhost = read('upstream-vhost', true);
  if (vhost !== undefined) {
    const value = vhost.value.trim();
    const m = VHOST.exec(value);
    if (m !== null && value.length <= 255 && (m[1] === undefined || Number(m[1]) <= 65535)) policy.upstreamVhost = value;
    else refuse(vhost, 'a host name or IP address with an optional port (nginx variables are not supported)');
  }
  if (bool('preserve-trailing-slash') === false) policy.stripTrailingSlash = true;
  const useRegex = bool('use-regex') ?? false;

  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, value: Object.keys(policy).length === 0 ? { useRegex } : { useRegex, rewrite: policy } };
}

/**
 * Whether an Ingress puts the hosts of its paths in regex mode: use-regex, or a rewrite-target
 * that differs from the path as written (ingress-nginx template.go needsRewrite and
 * enforceRegexModifier).
 */
export function wantsRegexMode(a: RewriteAnnotations, writtenPath: string): boolean {
  return a.useRegex || (a.rewrite?.target !== undefined && a.rewrite.target !== writtenPath);
}

/**
 * The Ingress's rewrite policy fitted to one route: no rewrite where the target is the path as
 * written (ingress-nginx proxies such a path unchanged), and the route's regex where a template
 * refers to a capture group. Undefined when nothing is left.
 */
export function routeRewrite(policy: RewritePolicy | undefined, writtenPath: string, regex: string | null): RewritePolicy | undefined {
  if (policy === undefined) return undefined;
  const { target, ...rest } = policy;
  const out: { -readonly [K in keyof RewritePolicy]: RewritePolicy[K] } = { ...rest };
  if (target !== undefined && target !== writtenPath) out.target = target;
  if (regex !== null && [out.target, out.xForwardedPrefix].some((t) => t !== undefined && t.includes('$'))) out.pattern = regex;
  if (Object.keys(out).length === 0) return undefined;
  return out;
}

/** A template split into literal text and capture group numbers (`/a/$2` → ['/a/', 2]). */
export function parseTemplate(template: string): readonly (string | number)[] {
  const parts: (string | number)[] = [];
  let text = '';
  for (let i = 0; i < template.length; i++) {
    const c = template[i]!;
    const n = template.charCodeAt(i + 1) - 48;
    if (c === '$' && n >= 1 && n <= 9) {
      if (text !== '') parts.push(text);
      text = '';
      parts.push(n);
      i++;
    } else {
      text += c;
    }
  }
  if (text !== '') parts.push(text);
  return parts;
}
