// The redirect family (ingress-nginx "Permanent Redirect", "Temporal Redirect", "Redirect
// from/to www" and rewrite's "app-root",
// https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/):
// - `temporal-redirect` (URL) answers every request of the Ingress's paths with
//   `temporal-redirect-code` (300-307, default 302) to the URL; it wins over `permanent-redirect`
//   (URL, `permanent-redirect-code` 300-308, default 301), as ingress-nginx reads them.
// - `app-root` (a path): a request for `/` answers 302 to it (ingress-nginx: `if ($uri = /)
//   return 302 $scheme://$http_host<app-root>`).
// - `from-to-www-redirect` (bool): requests for `www.<host>` (or `<host>` when the rule host is
//   `www.<host>`) answer 308 (ingress-nginx's http-redirect-code) to the rule host, same target;
//   compile adds the other name only when no Ingress routes it.
// The URL is data put in a Location header, never interpolated: like ingress-nginx (since its
// annotation validation, CVE-2023-5044) only http(s) URLs of URL characters are taken, `$` and
// quotes and spaces never; percent-escapes are allowed. A code out of range is refused with a
// condition (ingress-nginx silently falls back to the default).

import type { RedirectPolicy } from '../model.ts';
import type { KubeObject } from '../snapshot.ts';
import { parseBool, readAnnotation, type AnnotationProblem, type AnnotationResult, type AnnotationValue } from './read-annotation.ts';

// ingress-nginx's URLIsValidRegex (alphanumerics and `-._~/:,?&=`), plus `%XX` escapes.
const URL_CHARS = /^(?:[-._~/:,?&=A-Za-z0-9]|%[0-9A-Fa-f]{2})*$/;
const URL_SHAPE = /^https?:\/\/[A-Za-z0-9]/i;
// A path for app-root: starts with `/`, the same characters (ingress-nginx requires a path).
const APP_ROOT = /^\/(?:[-._~/:,?&=A-Za-z0-9]|%[0-9A-Fa-f]{2})*$/;

/** ingress-nginx's http-redirect-code, used for from-to-www-redirect. */
export const WWW_REDIRECT_CODE = 308;

export interface RedirectAnnotations {
  /** temporal/permanent-redirect and app-root, for the Ingress's routes; absent: none. */
  readonly redirect?: RedirectPolicy;
  /** from-to-www-redirect: compile adds the other name of each rule host, redirecting. */
  readonly fromToWww: boolean;
}

export function readRedirect(ing: KubeObject): AnnotationResult<RedirectAnnotations> {
  const problems: AnnotationProblem[] = [];
  const url = (v: AnnotationValue): string | undefined => {
    if (URL_SHAPE.test(v.value) && URL_CHARS.test(v.value) && v.value.length <= 2048) return v.value;
    problems.push({ key: v.key, message: `${v.key}: ${JSON.stringify(v.value)} is not an http:// or https:// URL of URL characters (letters, digits, - . _ ~ / : , ? & = and %-escapes)` });
    return undefined;
  };
  const code = (name: string, fallback: number, max: number): number => {
    const v = readAnnotation(ing.metadata, name);
    if (v === undefined) return fallback;
    const n = /^\d{3}$/.test(v.value) ? Number(v.value) : NaN;
    if (n >= 300 && n <= max) return n;
    problems.push({ key: v.key, message: `${v.key}: ${JSON.stringify(v.value)} is not a redirect status code (300-${max})` });
    return fallback;
  };

  const policy: { -readonly [K in keyof RedirectPolicy]: RedirectPolicy[K] } = {};
  const temporal = readAnnotation(ing.metadata, 'temporal-redirect');
  const permanent = readAnnotation(ing.metadata, 'permanent-redirect');
  const temporalCode = code('temporal-redirect-code', 302, 307);
  const permanentCode = code('permanent-redirect-code', 301, 308);
  if (temporal !== undefined && temporal.value !== '') {
    const to = url(temporal);
    if (to !== undefined) policy.to = { url: to, code: temporalCode };
  } else if (permanent !== undefined && permanent.value !== '') {
    const to = url(permanent);
    if (to !== undefined) policy.to = { url: to, code: permanentCode };
  }

  const appRoot = readAnnotation(ing.metadata, 'app-root');
  if (appRoot !== undefined && appRoot.value !== '') {
    if (APP_ROOT.test(appRoot.value) && appRoot.value.length <= 2048) policy.appRoot = appRoot.value;
    else problems.push({ key: appRoot.key, message: `${appRoot.key}: ${JSON.stringify(appRoot.value)} is not a path starting with "/"` });
  }

  const www = readAnnotation(ing.metadata, 'from-to-www-redirect');
  let fromToWww = false;
  if (www !== undefined) {
    const b = parseBool(www);
    if (typeof b === 'string') problems.push({ key: www.key, message: b });
    else fromToWww = b;
  }

  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, value: Object.keys(policy).length === 0 ? { fromToWww } : { redirect: policy, fromToWww } };
}

/**
 * The other name of `host` for from-to-www-redirect: `www.` added, or taken off when the host
 * starts with it. Null for hosts that have none (the catch-all, wildcards).
 */
export function wwwAlias(host: string): string | null {
  if (host === '' || host.startsWith('*.')) return null;
  return host.startsWith('www.') ? host.slice(4) : `www.${host}`;
}
