// Which annotation names Gatehouse reads, for the two checks that are about names rather than
// values (DESIGN.md "Annotations"):
// - An annotation under `gatehouse.io/` that no family reads is a typo or a feature that does not
//   exist: a condition says so (GH_ANNOTATION_UNKNOWN), and the Ingress is still served.
// - ingress-nginx's snippet annotations splice raw nginx configuration; Gatehouse never takes
//   configuration text, and a snippet often carries access rules, so an Ingress with one is left
//   out (GH_ANNOTATION_SNIPPET), as ingress-nginx does with snippets disabled (its default).
// A new family adds its names to KNOWN.

import { ANNOTATION_PREFIXES } from './read-annotation.ts';

/** The names (without prefix) some family reads, under either prefix. */
export const KNOWN: ReadonlySet<string> = new Set([
  // ssl-redirect.ts
  'ssl-redirect', 'force-ssl-redirect',
  // acme.ts (ours only)
  'acme',
  // backend-protocol.ts, proxy-ssl.ts
  'backend-protocol', 'proxy-ssl-secret', 'proxy-ssl-verify', 'proxy-ssl-name', 'proxy-ssl-server-name',
  // redirect.ts
  'permanent-redirect', 'permanent-redirect-code', 'temporal-redirect', 'temporal-redirect-code', 'app-root', 'from-to-www-redirect',
  // rewrite.ts
  'rewrite-target', 'use-regex', 'x-forwarded-prefix', 'upstream-vhost', 'preserve-trailing-slash',
  // rate-limit.ts
  'limit-rps', 'limit-rpm', 'limit-connections', 'limit-burst-multiplier', 'limit-whitelist', 'limit-allowlist', 'limit-rate', 'limit-rate-after',
  // access-list.ts, body-size.ts, cors.ts, typed-headers.ts (the last two ours only)
  'allowlist-source-range', 'whitelist-source-range', 'denylist-source-range', 'proxy-body-size',
  'enable-cors', 'cors-allow-origin', 'cors-allow-methods', 'cors-allow-headers', 'cors-allow-credentials', 'cors-expose-headers', 'cors-max-age',
  'request-headers', 'response-headers',
  // custom-headers.ts
  'custom-headers',
  // forward-policy.ts
  'proxy-connect-timeout', 'proxy-send-timeout', 'proxy-read-timeout', 'proxy-next-upstream', 'proxy-next-upstream-tries', 'proxy-next-upstream-timeout',
  // load-balance.ts, affinity.ts
  'load-balance', 'upstream-hash-by', 'upstream-hash-by-subset', 'upstream-hash-by-subset-size',
  'affinity', 'affinity-mode', 'affinity-canary-behavior', 'session-cookie-name', 'session-cookie-path', 'session-cookie-domain', 'session-cookie-samesite',
  'session-cookie-secure', 'session-cookie-max-age', 'session-cookie-expires', 'session-cookie-conditional-samesite-none', 'session-cookie-change-on-failure',
  // client-cert.ts
  'auth-tls-secret', 'auth-tls-verify-client', 'auth-tls-verify-depth', 'auth-tls-error-page', 'auth-tls-pass-certificate-to-upstream', 'auth-tls-match-cn',
  // health-check.ts (ours only)
  'health-check-path', 'health-check-interval', 'health-check-timeout', 'health-check-healthy-threshold', 'health-check-unhealthy-threshold', 'health-check-status',
  'passive-health-consecutive-failures', 'passive-health-failures', 'passive-health-base-ejection', 'passive-health-max-ejection', 'passive-health-max-ejection-percent',
]);

const SNIPPETS: ReadonlySet<string> = new Set(['configuration-snippet', 'server-snippet', 'auth-snippet', 'stream-snippet', 'modsecurity-snippet']);

export interface NameProblems {
  /** Full keys under `gatehouse.io/` that no family reads. */
  readonly unknown: readonly string[];
  /** Full keys of snippet annotations, under either prefix. */
  readonly snippets: readonly string[];
}

export function annotationNameProblems(annotations: Readonly<Record<string, unknown>> | undefined): NameProblems {
  const unknown: string[] = [];
  const snippets: string[] = [];
  for (const key of Object.keys(annotations ?? {}).sort()) {
    const prefix = ANNOTATION_PREFIXES.find((p) => key.startsWith(p));
    if (prefix === undefined) continue;
    const name = key.slice(prefix.length);
    if (SNIPPETS.has(name)) snippets.push(key);
    else if (prefix === 'gatehouse.io/' && !KNOWN.has(name)) unknown.push(key);
  }
  return { unknown, snippets };
}
