// Which annotation names Gatehouse reads, for the two checks that are about names rather than
// values (DESIGN.md "Annotations"):
// - An annotation under `gatehouse.io/` that no family reads is a typo or a feature that does not
//   exist: a condition says so (GH_ANNOTATION_UNKNOWN), and the Ingress is still served.
// - ingress-nginx's snippet annotations splice raw nginx configuration; Gatehouse never takes
//   configuration text, and a snippet often carries access rules, so an Ingress with one is left
//   out (GH_ANNOTATION_SNIPPET), as ingress-nginx does with snippets disabled (its default).
// - The other annotations refused by design (annotation-catalogue.ts: ssl-passthrough, ModSecurity,
//   tracing modules), when their value asks for the feature, leave the Ingress out too
//   (GH_ANNOTATION_REFUSED); an ingress-nginx annotation Gatehouse does not act on yet is reported
//   (GH_ANNOTATION_UNSUPPORTED) and the Ingress is served.
// A new family adds its names to KNOWN.

import { CATALOGUE, refusal } from './annotation-catalogue.ts';
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
  // external-auth.ts
  'auth-url', 'auth-method', 'auth-signin', 'auth-signin-redirect-param', 'auth-response-headers', 'auth-request-redirect', 'auth-proxy-set-headers',
  'auth-cache-key', 'auth-cache-duration', 'auth-always-set-cookie', 'auth-keepalive', 'auth-keepalive-requests', 'auth-keepalive-timeout', 'auth-keepalive-share-vars',
  // canary.ts
  'canary', 'canary-by-header', 'canary-by-header-value', 'canary-by-header-pattern', 'canary-by-cookie', 'canary-weight', 'canary-weight-total',
  // basic-auth.ts, satisfy.ts
  'auth-type', 'auth-secret', 'auth-secret-type', 'auth-realm', 'satisfy',
  // access-log.ts
  'enable-access-log',
  // client-cert.ts
  'auth-tls-secret', 'auth-tls-verify-client', 'auth-tls-verify-depth', 'auth-tls-error-page', 'auth-tls-pass-certificate-to-upstream', 'auth-tls-match-cn',
  // health-check.ts (ours only)
  'health-check-path', 'health-check-interval', 'health-check-timeout', 'health-check-healthy-threshold', 'health-check-unhealthy-threshold', 'health-check-status',
  'passive-health-consecutive-failures', 'passive-health-failures', 'passive-health-base-ejection', 'passive-health-max-ejection', 'passive-health-max-ejection-percent',
  // error-pages.ts, server-alias.ts, service-upstream.ts
  'custom-http-errors', 'default-backend', 'server-alias', 'service-upstream',
]);

const SNIPPETS: ReadonlySet<string> = new Set(Object.keys(CATALOGUE).filter((n) => n.endsWith('-snippet')));

/** A full key and the catalogue's note (or the grammar's message) about it. */
export interface NamedNote {
  readonly key: string;
  readonly note: string;
}

export interface NameProblems {
  /** Full keys under `gatehouse.io/` that no family reads. */
  readonly unknown: readonly string[];
  /** Full keys of snippet annotations, under either prefix. */
  readonly snippets: readonly string[];
  /** Annotations refused by design whose value asks for the feature, under either prefix. */
  readonly refused: readonly NamedNote[];
  /** Refused-by-design booleans whose value is no boolean (GH_ANNOTATION_INVALID). */
  readonly invalid: readonly NamedNote[];
  /** ingress-nginx annotations (its prefix) that Gatehouse does not act on. */
  readonly unsupported: readonly NamedNote[];
}

export function annotationNameProblems(annotations: Readonly<Record<string, unknown>> | undefined): NameProblems {
  const unknown: string[] = [];
  const snippets: string[] = [];
  const refused: NamedNote[] = [];
  const invalid: NamedNote[] = [];
  const unsupported: NamedNote[] = [];
  for (const [key, raw] of Object.entries(annotations ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const prefix = ANNOTATION_PREFIXES.find((p) => key.startsWith(p));
    if (prefix === undefined) continue;
    const name = key.slice(prefix.length);
    const entry = CATALOGUE[name];
    if (SNIPPETS.has(name)) {
      snippets.push(key);
      continue;
    }
    if (entry?.status === 'refused') {
      const r = refusal(entry, key, typeof raw === 'string' ? raw : JSON.stringify(raw ?? ''));
      if (r.refused) {
        refused.push({ key, note: entry.note });
        continue;
      }
      if (r.invalid !== undefined) {
        invalid.push({ key, note: r.invalid });
        continue;
      }
    }
    if (prefix === 'gatehouse.io/') {
      // A refused name whose value asks for nothing (`"false"`) is recognised, not unknown.
      if (!KNOWN.has(name) && entry?.status !== 'refused') unknown.push(key);
    } else if (entry?.status === 'unsupported' && !KNOWN.has(name)) unsupported.push({ key, note: entry.note });
  }
  return { unknown, snippets, refused, invalid, unsupported };
}
