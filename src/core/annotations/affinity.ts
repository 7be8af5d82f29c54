// The cookie-affinity annotations (ingress-nginx "Session Affinity" and "Cookie affinity",
// internal/ingress/annotations/sessionaffinity/main.go, rootfs/etc/nginx/lua/balancer/sticky*.lua):
// - `affinity`: `cookie` (the only type) turns it on for every path of the Ingress.
// - `affinity-mode`: `balanced` (default) or `persistent`; `affinity-canary-behavior`: `sticky`
//   (default) or `legacy`, kept for canary routing.
// - `session-cookie-name` (default INGRESSCOOKIE), `-path` (default: the route's path as written),
//   `-domain`, `-samesite` (None, Lax, Strict, any case), `-secure`, `-max-age` and `-expires`
//   (whole seconds, may be negative), `-conditional-samesite-none`, `-change-on-failure` (booleans).
// ingress-nginx validates names and paths with broad character classes and otherwise ignores a bad
// value; here each value has the grammar the Set-Cookie header needs (RFC 6265 §4.1.1: a token
// for the name, no `;` or control character in an attribute), and a bad one leaves the Ingress out
// with a condition naming it. The settings are checked whether or not `affinity` is set; without
// it they have no effect, as in ingress-nginx.

import type { AffinityCookie, AffinityPolicy } from '../model.ts';
import type { KubeObject } from '../snapshot.ts';
import { readAnnotation, readBool, type AnnotationProblem, type AnnotationResult } from './read-annotation.ts';

const DEFAULT_AFFINITY_COOKIE = 'INGRESSCOOKIE';

// RFC 6265 §4.1.1 cookie-name: an RFC 2616 token.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,256}$/;
/** A cookie Path: `/` and RFC 3986 path characters, without `;` (which would end the attribute). */
export const COOKIE_PATH = /^\/[A-Za-z0-9\-._~!$&'()*+,=:@%/]{0,1023}$/;
// A Domain attribute: DNS labels, an optional leading dot (RFC 6265 §5.2.3 ignores it).
const DOMAIN = /^\.?[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
// Whole seconds, optionally negative (ingress-nginx's affinityCookieExpiresRegex `(^0|-?[1-9]\d*$)`, anchored at both ends).
const SECONDS = /^-?(?:0|[1-9]\d{0,9})$/;
const MAX_SECONDS = 2 ** 31 - 1;
const SAME_SITE: Readonly<Record<string, 'None' | 'Lax' | 'Strict'>> = { none: 'None', lax: 'Lax', strict: 'Strict' };

/** The affinity policy of the Ingress (path not yet fitted to a route), or undefined when `affinity` is not set. */
export function readAffinity(ing: KubeObject): AnnotationResult<AffinityPolicy | undefined> {
  const problems: AnnotationProblem[] = [];
  const get = (name: string) => readAnnotation(ing.metadata, name);
  const refuse = (key: string, value: string, expected: string) => problems.push({ key, message: `${key}: ${JSON.stringify(value)} is not ${expected}` });
  /** One of `options` (trimmed, case-sensitive, as ingress-nginx's ValidateOptions). */
  const option = <T extends string>(name: string, options: readonly T[]): T | undefined => {
    const v = get(name);
    if (v === undefined) return undefined;
    const t = v.value.trim();
    if ((options as readonly string[]).includes(t)) return t as T;
    refuse(v.key, v.value, `one of ${options.map((o) => JSON.stringify(o)).join(', ')}`);
    return undefined;
  };
  const bool = (name: string): boolean => readBool(ing.metadata, name, false, problems);
  /** The value, trimmed, when it matches `re`. */
  const text = (name: string, re: RegExp, expected: string): string | undefined => {
    const v = get(name);
    if (v === undefined) return undefined;
    const t = v.value.trim();
    if (re.test(t)) return t;
    refuse(v.key, v.value, expected);
    return undefined;
  };
  const seconds = (name: string): number | undefined => {
    const v = get(name);
    if (v === undefined) return undefined;
    const t = v.value.trim();
    if (SECONDS.test(t) && Math.abs(Number(t)) <= MAX_SECONDS) return Number(t);
    refuse(v.key, v.value, `a whole number of seconds (-${MAX_SECONDS} to ${MAX_SECONDS})`);
    return undefined;
  };

  const type = option('affinity', ['cookie']);
  const mode = option('affinity-mode', ['balanced', 'persistent']) ?? 'balanced';
  const canaryBehavior = option('affinity-canary-behavior', ['sticky', 'legacy']) ?? 'sticky';
  const name = text('session-cookie-name', TOKEN, 'a cookie name (RFC 6265 token: letters, digits and !#$%&\'*+-.^_`|~)') ?? DEFAULT_AFFINITY_COOKIE;
  const path = text('session-cookie-path', COOKIE_PATH, 'a cookie path ("/" then RFC 3986 path characters, no ";")');
  const domain = text('session-cookie-domain', DOMAIN, 'a domain name (DNS labels, optionally with a leading ".")');
  const sameSiteValue = get('session-cookie-samesite');
  let sameSite: AffinityCookie['sameSite'];
  if (sameSiteValue !== undefined) {
    sameSite = SAME_SITE[sameSiteValue.value.trim().toLowerCase()];
    if (sameSite === undefined) refuse(sameSiteValue.key, sameSiteValue.value, 'a SameSite value ("None", "Lax" or "Strict")');
  }
  const secure = bool('session-cookie-secure');
  const conditionalSameSiteNone = bool('session-cookie-conditional-samesite-none');
  const changeOnFailure = bool('session-cookie-change-on-failure');
  const maxAge = seconds('session-cookie-max-age');
  const expires = seconds('session-cookie-expires');
  if (problems.length > 0) return { ok: false, problems };
  if (type === undefined) return { ok: true, value: undefined };
  const cookie: AffinityCookie = {
    name,
    ...(path !== undefined ? { path } : {}),
    ...(domain !== undefined ? { domain: domain.toLowerCase() } : {}),
    ...(sameSite !== undefined ? { sameSite } : {}),
    conditionalSameSiteNone,
    secure,
    ...(maxAge !== undefined ? { maxAge } : {}),
    ...(expires !== undefined ? { expires } : {}),
  };
  return { ok: true, value: { algorithm: 'cookie', mode, canaryBehavior, changeOnFailure, cookie } };
}
