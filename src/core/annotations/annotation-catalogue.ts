// Every annotation ingress-nginx reads (its parsers in internal/ingress/annotations/*/main.go and
// docs/user-guide/nginx-configuration/annotations.md), and the removed ones manifests still carry,
// each with what Gatehouse does with it. One table, read by compile (refusals and the non-blocking
// GH_ANNOTATION_UNSUPPORTED condition) and by `gatehouse check` (the migration report), so the live
// controller and the report tell one story. Pure: no node: imports.
//
// - supported: read with ingress-nginx's meaning (bad values are refused with GH_ANNOTATION_INVALID,
//   a difference every family shares and the report shows as `invalid`).
// - differs: read, but a valid value behaves differently in a way a user can see; the note says how
//   (docs/annotations.md, the "Differences from ingress-nginx" sections).
// - refused: by design. An Ingress that asks for the feature is left out (GH_ANNOTATION_SNIPPET for
//   snippets, GH_ANNOTATION_REFUSED otherwise), as ingress-nginx leaves out an Ingress with a
//   snippet when snippets are disabled: nobody should believe a rule is enforced when it is not.
//   `refuse` says which values ask for it: any value, a boolean that is true (`"false"` asks for
//   nothing), or any non-empty value.
// - unsupported: ingress-nginx reads it, Gatehouse does not act on it yet; the Ingress is served
//   without it (GH_ANNOTATION_UNSUPPORTED under ingress-nginx's prefix). The note says what happens.

import { parseBool } from './read-annotation.ts';

export type CatalogueStatus = 'supported' | 'differs' | 'refused' | 'unsupported';

export interface CatalogueEntry {
  readonly status: CatalogueStatus;
  /** One line: how it differs, why it is refused and what to use instead, or what happens. */
  readonly note: string;
  /** refused only: which values ask for the refused feature. */
  readonly refuse?: 'any' | 'true' | 'set';
}

const ok = (note: string): CatalogueEntry => ({ status: 'supported', note });
const differs = (note: string): CatalogueEntry => ({ status: 'differs', note });
const unsupported = (note: string): CatalogueEntry => ({ status: 'unsupported', note });
const refused = (refuse: CatalogueEntry['refuse'], note: string): CatalogueEntry => ({ status: 'refused', note, refuse });

const SNIPPET = 'raw nginx configuration, which Gatehouse never takes; express it with the typed annotations (docs/annotations.md), e.g. gatehouse.io/request-headers or response-headers for header lines';
const MODSECURITY = 'Gatehouse has no ModSecurity WAF, so the rules would not run; put a WAF in front of Gatehouse or beside the application';
const TRACING = 'Gatehouse has no tracing module; the Ingress would be served without the traces it asks for';
const STREAMING = 'Gatehouse streams bodies instead of buffering them in nginx buffers; no effect';

/** By name without prefix. */
export const CATALOGUE: Readonly<Record<string, CatalogueEntry>> = {
  // Redirects (redirect.ts, ssl-redirect.ts)
  'ssl-redirect': ok('redirects plain HTTP to https for hosts with TLS; /.well-known/acme-challenge/ is never redirected'),
  'force-ssl-redirect': ok('redirects plain HTTP to https even without TLS'),
  'permanent-redirect': ok('answers permanent-redirect-code with the URL; nginx variables in it are refused'),
  'permanent-redirect-code': ok('300-308, default 301'),
  'temporal-redirect': ok('answers temporal-redirect-code with the URL; wins over permanent-redirect'),
  'temporal-redirect-code': ok('300-307, default 302'),
  'app-root': differs('applies to the requests the Ingress\'s own routes match (usually /), not to the whole server'),
  'from-to-www-redirect': differs('the 308 keeps the request\'s port and trailing slash (ingress-nginx names the listener\'s port and drops a trailing slash)'),
  'use-port-in-redirects': unsupported('redirects Gatehouse makes name the port only when it is not the scheme\'s default'),
  'relative-redirects': unsupported('Gatehouse\'s own redirects are absolute URLs'),
  'preserve-trailing-slash': differs('defaults to "true": the ssl-redirect Location keeps a trailing slash unless "false" (ingress-nginx strips it unless "true")'),
  // Rewrites and regex paths (rewrite.ts)
  'rewrite-target': differs('regex paths are RE2 (no lookarounds or backreferences), anchored as a whole, and reserved escapes such as %2F reach the upstream as sent'),
  'use-regex': differs('RE2 regexes on the normalised path; Exact and Prefix paths of the host keep their Kubernetes meaning (ingress-nginx turns them into regexes too)'),
  'x-forwarded-prefix': differs('the header is sent whenever the annotation is set (ingress-nginx: only with a rewrite-target that differs from the path)'),
  'upstream-vhost': ok('sets Host (:authority) upstream; nginx variables are refused'),
  // Backend protocol and TLS to backends (backend-protocol.ts, proxy-ssl.ts)
  'backend-protocol': ok('HTTP, HTTPS, GRPC, GRPCS, H2C; AUTO_HTTP, FCGI and AJP are refused as invalid'),
  'proxy-ssl-secret': ok('ca.crt verifies the backend, tls.crt/tls.key are the client certificate; a missing or bad Secret answers 502'),
  'proxy-ssl-verify': ok('on/off; with on, the chain and name are checked'),
  'proxy-ssl-name': ok('the name checked (and sent as SNI with proxy-ssl-server-name)'),
  'proxy-ssl-server-name': ok('on/off: send SNI to the backend'),
  'proxy-ssl-verify-depth': unsupported('the whole chain to ca.crt is checked, whatever its length'),
  'proxy-ssl-ciphers': unsupported('TLS to backends uses Node\'s default ciphers'),
  'proxy-ssl-protocols': unsupported('TLS to backends uses TLS 1.2 and 1.3'),
  // Access lists, limits, body size (access-list.ts, rate-limit.ts, body-size.ts)
  'allowlist-source-range': ok('403 outside the list'),
  'whitelist-source-range': ok('the older name of allowlist-source-range'),
  'denylist-source-range': ok('403 inside the list, checked first'),
  'limit-rps': differs('refusals carry Retry-After; when the shared table is full a new client is admitted rather than refused'),
  'limit-rpm': differs('refusals carry Retry-After; when the shared table is full a new client is admitted rather than refused'),
  'limit-connections': differs('when the shared connection table is full a request is admitted uncounted (nginx\'s limit_conn answers 503)'),
  'limit-burst-multiplier': ok('the burst, as a multiple of limit-rps/limit-rpm'),
  'limit-whitelist': ok('clients not limited'),
  'limit-allowlist': ok('clients not limited; wins over limit-whitelist'),
  'limit-rate': differs('not applied to GRPC, GRPCS and H2C backends nor to WebSocket traffic yet'),
  'limit-rate-after': ok('with limit-rate: sent at once before the rate applies'),
  'proxy-body-size': ok('413 over the size; 0: no limit'),
  'client-body-buffer-size': unsupported(STREAMING),
  // CORS (cors.ts)
  'enable-cors': differs('a preflight needs Origin and Access-Control-Request-Method (other OPTIONS requests are forwarded), and Vary: Origin is sent with a list of origins'),
  'cors-allow-origin': differs('origins are matched as whole strings (ingress-nginx\'s regex also admits origins that merely end with a listed one)'),
  'cors-allow-methods': ok('Access-Control-Allow-Methods'),
  'cors-allow-headers': ok('Access-Control-Allow-Headers'),
  'cors-allow-credentials': ok('Access-Control-Allow-Credentials'),
  'cors-expose-headers': ok('Access-Control-Expose-Headers'),
  'cors-max-age': ok('Access-Control-Max-Age'),
  // Headers (custom-headers.ts)
  'custom-headers': differs('a missing ConfigMap or a header not in global-allowed-response-headers leaves the Ingress out with a condition (ingress-nginx answers 503)'),
  'connection-proxy-header': unsupported('Connection upstream is managed by the proxy (keep-alive, upgrades)'),
  // Retries and timeouts (forward-policy.ts)
  'proxy-connect-timeout': ok('seconds to connect to an endpoint'),
  'proxy-send-timeout': ok('seconds an endpoint may leave the request body untaken'),
  'proxy-read-timeout': ok('seconds to the response header and between reads'),
  'proxy-next-upstream': differs('tries go to endpoints not tried yet, and a request body is replayed only up to 64 KiB (nginx buffers it whole)'),
  'proxy-next-upstream-tries': differs('"0" means one try per endpoint (in nginx it lifts the limit)'),
  'proxy-next-upstream-timeout': ok('seconds for all tries; 0: no limit'),
  'proxy-buffering': unsupported(STREAMING),
  'proxy-buffer-size': unsupported(STREAMING),
  'proxy-buffers-number': unsupported(STREAMING),
  'proxy-busy-buffers-size': unsupported(STREAMING),
  'proxy-max-temp-file-size': unsupported(STREAMING),
  'proxy-request-buffering': unsupported('request bodies always stream to the endpoint, never buffered whole'),
  'proxy-http-version': unsupported('HTTP/1.1 to HTTP and HTTPS backends; use backend-protocol H2C or GRPC for HTTP/2'),
  'proxy-cookie-domain': unsupported('Set-Cookie domains from the upstream are passed on unchanged'),
  'proxy-cookie-path': unsupported('Set-Cookie paths from the upstream are passed on unchanged'),
  'proxy-redirect-from': unsupported('Location headers from the upstream are passed on unchanged'),
  'proxy-redirect-to': unsupported('Location headers from the upstream are passed on unchanged'),
  // Load balancing and affinity (load-balance.ts, affinity.ts)
  'load-balance': differs('ewma measures time to the answer\'s head and counts requests in flight; chash and sticky_* need upstream-hash-by or affinity'),
  'upstream-hash-by': ok('consistent hashing on the key; only the documented variables'),
  'upstream-hash-by-subset': differs('subsets hold distinct endpoints (ingress-nginx repeats endpoints to fill a subset)'),
  'upstream-hash-by-subset-size': ok('endpoints per subset'),
  affinity: ok('cookie affinity'),
  'affinity-mode': ok('balanced or persistent'),
  'affinity-canary-behavior': differs('read and checked, but main or canary is chosen per request in both modes, as legacy does (ingress-nginx\'s default, sticky, keeps a client on the one its cookie names)'),
  'session-cookie-name': ok('the affinity cookie\'s name'),
  'session-cookie-path': differs('a regex path without it gets Path=/ (ingress-nginx writes the regex into the path)'),
  'session-cookie-domain': ok('the cookie\'s Domain'),
  'session-cookie-samesite': ok('the cookie\'s SameSite'),
  'session-cookie-conditional-samesite-none': ok('SameSite=None left out for clients that reject it'),
  'session-cookie-secure': ok('the cookie\'s Secure'),
  'session-cookie-max-age': ok('the cookie\'s Max-Age'),
  'session-cookie-expires': ok('the cookie\'s Expires (IMF-fixdate)'),
  'session-cookie-change-on-failure': differs('"false": the retry goes to another endpoint and the cookie is kept (ingress-nginx retries the cookie\'s endpoint)'),
  // Basic, external and client-certificate authentication, satisfy (issue 9)
  'auth-type': ok('basic; digest is refused'),
  'auth-secret': differs('htpasswd entries are checked when the Secret is read: bcrypt (cost at most 12), apr1 and {SHA} serve; crypt(3) DES, $1$, $5$, $6$, {PLAIN} and {SSHA} entries are refused with a condition naming the user (nginx checks them with the system crypt)'),
  'auth-secret-type': ok('auth-file or auth-map'),
  'auth-realm': ok('the realm of WWW-Authenticate'),
  satisfy: ok('any or all, between access lists and authentication'),
  'auth-url': ok('external authentication sub-request'),
  'auth-method': ok('the sub-request\'s method'),
  'auth-signin': ok('where a 401 redirects'),
  'auth-signin-redirect-param': ok('the query parameter carrying the original URL'),
  'auth-response-headers': ok('headers copied from the auth answer to the upstream request'),
  'auth-request-redirect': ok('X-Auth-Request-Redirect'),
  'auth-proxy-set-headers': ok('headers sent to the auth service, from a ConfigMap'),
  'auth-cache-key': differs('the key auth answers are cached under; each worker keeps its own cache (ingress-nginx: one per pod), so another worker may ask the auth service once more'),
  'auth-cache-duration': ok('how long auth answers are cached'),
  'auth-always-set-cookie': ok('Set-Cookie from the auth answer also on failed requests'),
  'auth-keepalive': ok('idle connections kept to the auth service'),
  'auth-keepalive-requests': ok('requests per kept connection to the auth service'),
  'auth-keepalive-timeout': ok('how long a kept connection to the auth service stays idle'),
  'auth-keepalive-share-vars': differs('validated, and has no effect: the sub-request shares no variables with the request'),
  'enable-global-auth': unsupported('Gatehouse has no global-auth-url, so there is no global authentication to turn off'),
  'auth-tls-secret': ok('the CA bundle (ca.crt) client certificates are verified against, per host by SNI; without a usable ca.crt the host answers 403'),
  'auth-tls-verify-client': ok('on, off, optional or optional_no_ca; plain-HTTP requests present no certificate'),
  'auth-tls-verify-depth': ok('intermediates allowed below the CA bundle\'s root; those the client sends itself count as one'),
  'auth-tls-error-page': ok('where a failed verification redirects (302); absolute http(s) URLs only'),
  'auth-tls-pass-certificate-to-upstream': ok('ssl-client-cert to the upstream, URL-encoded PEM'),
  'auth-tls-match-cn': differs('an RE2 regex, not PCRE: no lookarounds or backreferences'),
  // Canary (issue 9)
  canary: differs('a canary attaches to the main Ingress\'s route of the same host, path and pathType only (ingress-nginx attaches it to the main route\'s Service, so every route to that Service gets it)'),
  'canary-by-header': ok('always/never header routing'),
  'canary-by-header-value': ok('header value routing'),
  'canary-by-header-pattern': ok('header regex routing'),
  'canary-by-cookie': ok('always/never cookie routing'),
  'canary-weight': ok('weighted routing'),
  'canary-weight-total': ok('the weights\' total, default 100'),
  // Errors and fallbacks (issue 9)
  'custom-http-errors': differs('Gatehouse\'s own 403, 413, 429 and authentication answers are not sent to the error backend (nginx\'s error_page covers them too), and its request carries the usual X-Forwarded-* headers'),
  'default-backend': ok('the Service (its first port) for the Ingress\'s backends without endpoints and its custom-http-errors'),
  'disable-proxy-intercept-errors': unsupported('custom-http-errors intercepts the codes it lists'),
  'server-alias': differs('no regexes, trailing wildcards or IP addresses, and *.example.com matches exactly one label; an alias gets a certificate only from a spec.tls entry naming it'),
  'service-upstream': ok('the Service\'s ClusterIP instead of its endpoints'),
  // Mirroring, FastCGI, logs, TLS server settings, HTTP/2 push
  'mirror-target': unsupported('no request is mirrored'),
  'mirror-host': unsupported('no request is mirrored'),
  'mirror-request-body': unsupported('no request is mirrored'),
  'fastcgi-index': unsupported('FastCGI backends are not served (backend-protocol FCGI is refused)'),
  'fastcgi-params-configmap': unsupported('FastCGI backends are not served (backend-protocol FCGI is refused)'),
  'enable-access-log': ok('"false" leaves the Ingress\'s requests out of the access log'),
  'enable-rewrite-log': unsupported('there is no rewrite log'),
  'ssl-ciphers': unsupported('every host gets Gatehouse\'s TLS 1.2/1.3 settings'),
  'ssl-prefer-server-ciphers': unsupported('every host gets Gatehouse\'s TLS 1.2/1.3 settings'),
  'http2-push-preload': unsupported('no HTTP/2 server push (browsers have dropped it, and nginx 1.25 too)'),
  // Refused by design
  'configuration-snippet': refused('any', SNIPPET),
  'server-snippet': refused('any', SNIPPET),
  'auth-snippet': refused('any', SNIPPET),
  'stream-snippet': refused('any', SNIPPET),
  'modsecurity-snippet': refused('any', `${SNIPPET}; ${MODSECURITY}`),
  'ssl-passthrough': refused('true', 'Gatehouse terminates TLS on every host (SNI routing at L7); a passthrough backend would get decrypted HTTP and clients Gatehouse\'s certificate. Route such hosts with a TCP/TLS load balancer or a Gateway API TLSRoute'),
  'enable-modsecurity': refused('true', MODSECURITY),
  'enable-owasp-core-rules': refused('true', MODSECURITY),
  'modsecurity-transaction-id': refused('set', MODSECURITY),
  'enable-opentelemetry': refused('true', `${TRACING}; export traces from the applications, or from a mesh`),
  'opentelemetry-trust-incoming-span': unsupported(`${TRACING}; traceparent headers are passed through unchanged`),
  'opentelemetry-operation-name': unsupported(`${TRACING}`),
  // Removed from ingress-nginx; manifests still carry them
  'enable-opentracing': refused('true', `${TRACING} (removed from ingress-nginx too); use OpenTelemetry in the applications`),
  'opentracing-trust-incoming-span': unsupported('removed from ingress-nginx; no effect'),
  'opentelemetry-trust-incoming-spans': unsupported('a misspelling older ingress-nginx docs used; no effect'),
  'enable-influxdb': refused('true', 'Gatehouse has no InfluxDB module (removed from ingress-nginx too); scrape the Prometheus metrics on the status port'),
  'influxdb-measurement': unsupported('removed from ingress-nginx; no effect'),
  'influxdb-port': unsupported('removed from ingress-nginx; no effect'),
  'influxdb-host': unsupported('removed from ingress-nginx; no effect'),
  'influxdb-server-name': unsupported('removed from ingress-nginx; no effect'),
  'global-rate-limit': unsupported('removed from ingress-nginx (it needed memcached); no effect: use limit-rps, counted per replica'),
  'global-rate-limit-window': unsupported('removed from ingress-nginx; no effect'),
  'global-rate-limit-key': unsupported('removed from ingress-nginx; no effect'),
  'global-rate-limit-ignored-cidrs': unsupported('removed from ingress-nginx; no effect'),
  'secure-backends': unsupported('removed from ingress-nginx; no effect: write backend-protocol: "HTTPS"'),
  'grpc-backend': unsupported('removed from ingress-nginx; no effect: write backend-protocol: "GRPC"'),
  'secure-verify-ca-secret': unsupported('removed from ingress-nginx; no effect: use proxy-ssl-secret and proxy-ssl-verify'),
  'session-cookie-hash': unsupported('removed from ingress-nginx; no effect'),
};

/** Gatehouse's own annotations: read under `gatehouse.io/` only (ingress-nginx has none of these). */
export const GATEHOUSE_ONLY: ReadonlySet<string> = new Set([
  'acme', 'request-headers', 'response-headers',
  'health-check-path', 'health-check-interval', 'health-check-timeout', 'health-check-healthy-threshold', 'health-check-unhealthy-threshold', 'health-check-status',
  'passive-health-consecutive-failures', 'passive-health-failures', 'passive-health-base-ejection', 'passive-health-max-ejection', 'passive-health-max-ejection-percent',
]);

/** Whether a refused annotation's value asks for the feature; `invalid`: the value is no boolean (why). */
export interface Refusal {
  readonly refused: boolean;
  readonly invalid?: string;
}

/** Whether `value` of the annotation `key` (full key), refused by design, asks for what Gatehouse refuses. */
export function refusal(entry: CatalogueEntry, key: string, value: string): Refusal {
  switch (entry.refuse) {
    case 'any':
      return { refused: true };
    case 'set':
      return { refused: value.trim() !== '' };
    case 'true': {
      const b = parseBool({ key, value });
      return typeof b === 'boolean' ? { refused: b } : { refused: false, invalid: b };
    }
    default:
      return { refused: false };
  }
}
