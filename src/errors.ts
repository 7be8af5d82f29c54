// The one registry of error and condition codes. Callers check `code`, never message text.
// docs/errors.md is kept in step with this table by test/errors-doc.test.ts.

export const ERRORS = {
  GH_FLAG_INVALID: 'A command-line flag is unknown, or its value does not parse.',
  GH_MANIFEST_UNREADABLE: 'A manifest file could not be read or parsed; its last good contents stay in effect.',
  GH_OBJECT_INVALID: 'An object lacks apiVersion, kind or metadata.name, or one of its fields has the wrong type; it is left out.',
  GH_OBJECT_DUPLICATE: 'The same object (kind, namespace, name) appears in two manifest files; the first file in path order wins.',
  GH_INGRESS_HOST_INVALID: 'A rule host is an IP address, or not a valid DNS name or one-label wildcard (`*.example.com`); the rule is left out.',
  GH_INGRESS_PATH_INVALID: 'A path does not start with `/` or holds characters outside RFC 3986 path characters, or, as a regular expression (ImplementationSpecific in regex mode), does not compile in RE2, is too large, or is one on a host that is not in regex mode; the path is left out.',
  GH_INGRESS_PATH_TYPE_INVALID: 'A path has no pathType, or one other than Exact, Prefix or ImplementationSpecific; the path is left out.',
  GH_INGRESS_BACKEND_INVALID: 'A backend names no Service with a port (number or name), or uses a `resource` backend, which Gatehouse does not serve; the path is left out.',
  GH_ROUTE_CONFLICT: 'Another Ingress created earlier already routes the same host, path and path type; this one lost and is not served for it.',
  GH_DEFAULT_BACKEND_CONFLICT: 'Another Ingress created earlier already sets spec.defaultBackend for the same host; this one lost.',
  GH_SERVICE_NOT_FOUND: 'A backend names a Service that does not exist; requests routed to it answer 503 until it does.',
  GH_SERVICE_PORT_NOT_FOUND: 'A backend names a port (number or name) that its Service does not have; requests routed to it answer 503.',
  GH_SERVICE_EXTERNALNAME_FORBIDDEN: 'An ExternalName Service\'s spec.externalName names the proxy\'s own host or a link-local address (`localhost`, `*.localhost` and the usual /etc/hosts aliases of loopback, or an unspecified, loopback, link-local or link-local multicast IP in any notation, such as 127.0.0.1, 127.1, ::1, ::ffff:127.0.0.1, 0.0.0.0 or the cloud metadata endpoint 169.254.169.254); it is never proxied to, and requests routed to it answer 503.',
  GH_SERVICE_EXTERNALNAME_INVALID: 'An ExternalName Service\'s spec.externalName is neither a DNS name nor an IP address, or reads as a malformed IPv4 address (`999.0.0.1`); requests routed to it answer 503.',
  GH_SERVER_ALIAS_CONFLICT: 'A server-alias names a host that an Ingress routes as a real host, or that an older Ingress (or another host of this one) already takes as an alias, or the host already has the aliases of an older Ingress; that alias is not served for this Ingress, the rest of it is.',
  GH_SERVICE_UPSTREAM_NO_CLUSTER_IP: 'service-upstream is set, and the Service has no ClusterIP (a headless Service, `None`, or an ExternalName one); its endpoints are used instead, as ingress-nginx does.',
  GH_DEFAULT_BACKEND_SERVICE_NOT_FOUND: 'The Service named by --default-backend-service does not exist or has no port; unmatched requests answer 503.',
  GH_ANNOTATION_INVALID: 'An annotation (under `gatehouse.io/` or `nginx.ingress.kubernetes.io/`) has a value its grammar refuses; the Ingress is left out.',
  GH_ANNOTATION_UNKNOWN: 'An annotation under `gatehouse.io/` that Gatehouse does not read (a misspelt name, or a feature that does not exist); the Ingress is served without it.',
  GH_ANNOTATION_SNIPPET: 'A snippet annotation (`configuration-snippet`, `server-snippet`, `auth-snippet`, …) asks for raw nginx configuration, which Gatehouse never takes; the Ingress is left out (ingress-nginx refuses it too with snippets disabled, its default).',
  GH_ANNOTATION_REFUSED: 'An annotation refused by design asks for its feature (`ssl-passthrough`, `enable-modsecurity`, `enable-owasp-core-rules` or `enable-opentelemetry` set to true, `modsecurity-transaction-id` or `auth-tls-match-cn` set, …): the message says why and what to use instead; the Ingress is left out, so nobody believes the feature is in effect. Its value `"false"` asks for nothing.',
  GH_ANNOTATION_UNSUPPORTED: 'An ingress-nginx annotation (under `nginx.ingress.kubernetes.io/`) that Gatehouse does not act on yet (`proxy-buffering`, `mirror-target`, …; docs/check.md lists them): the message says what happens instead; the Ingress is served without it.',
  GH_HEALTH_CHECK_CONFLICT: "Another Ingress created earlier sets different health checks (`gatehouse.io/health-check-*`, `gatehouse.io/passive-health-*`) for the same backend (Service port); the earlier Ingress's checks apply, this one's are not used.",
  GH_CANARY_NO_MAIN: "A canary Ingress (`canary: \"true\"`) path, or its spec.defaultBackend, has no main Ingress to attach to: no other Ingress routes the same host, path and pathType (or sets the host's default backend); it is not served.",
  GH_CANARY_CONFLICT: 'Another canary Ingress created earlier is already attached to the same route; as in ingress-nginx one canary serves a route, and this one is not used for it.',
  GH_CANARY_DISABLED: 'canary-* annotations are set without `canary: "true"`; as in ingress-nginx they do nothing, and the Ingress is served as a normal one.',
  GH_TLS_CONFLICT: 'A spec.tls host is already bound to another Secret by an Ingress created earlier (or earlier in the same Ingress); this binding lost.',
  GH_TLS_SECRET_NOT_FOUND: 'A spec.tls secretName (or --default-ssl-certificate) names a Secret that does not exist; its hosts get the default certificate until it does.',
  GH_TLS_SECRET_INVALID: 'A TLS Secret is not of type kubernetes.io/tls, lacks tls.crt or tls.key, or they do not parse as a PEM certificate and private key; its hosts get the default certificate.',
  GH_TLS_KEY_MISMATCH: 'In a TLS Secret, tls.key is not the private key of the certificate in tls.crt; its hosts get the default certificate.',
  GH_TLS_CERT_EXPIRED: 'The certificate in a TLS Secret has expired (notAfter is past); its hosts get the default certificate.',
  GH_PROXY_SSL_SECRET_NOT_FOUND: 'The Secret named by proxy-ssl-secret does not exist; requests to the HTTPS or GRPCS backends of that Ingress answer 502 (never an unverified connection) until it does.',
  GH_PROXY_SSL_SECRET_INVALID: 'The proxy-ssl-secret Secret lacks ca.crt while proxy-ssl-verify is on, has only one of tls.crt and tls.key, or they do not parse (or the key is not the certificate\'s); requests to the HTTPS or GRPCS backends of that Ingress answer 502.',
  GH_AUTH_TYPE_UNSUPPORTED: 'An Ingress sets `auth-type: digest`; Gatehouse does basic authentication only (digest\'s user-file entries are password-equivalent, and over TLS it adds nothing); the Ingress is left out.',
  GH_AUTH_SECRET_NOT_FOUND: 'The Secret named by auth-secret does not exist; the routes of that Ingress answer 503 (never unauthenticated) until it does.',
  GH_AUTH_SECRET_INVALID: 'The auth-secret Secret has no usable data: with auth-secret-type auth-file no key `auth`, or an empty one; or it is too large (over 1 MiB of entries); the routes of that Ingress answer 503 (never unauthenticated).',
  GH_AUTH_ENTRY_REFUSED: 'A line of an auth-secret htpasswd file (or a key of an auth-map) is refused: plaintext, a crypt(3) DES, MD5-crypt `$1$` or SHA-crypt hash, a bcrypt hash above the cost cap (12), a malformed line or a repeated user; that user cannot log in, the others can. The condition names the line and user, never the hash.',
  GH_CLIENT_CERT_SECRET_NOT_FOUND: 'The Secret named by auth-tls-secret does not exist; requests to the host answer 403 (never served without the client certificates it asks for) until it does.',
  GH_CLIENT_CERT_SECRET_INVALID: 'The auth-tls-secret Secret has no ca.crt, or its ca.crt holds no PEM certificate or does not parse; requests to the host answer 403.',
  GH_CLIENT_CERT_CONFLICT: 'An Ingress sets other auth-tls-* values for a host whose client-certificate settings an Ingress created earlier already set (they apply per host, as ingress-nginx\'s per server); the earlier one\'s apply, this Ingress is still served under them.',
  GH_CONFIGMAP_NOT_FOUND: 'The ConfigMap named by --configmap, or by its add-headers or proxy-set-headers key, does not exist; the defaults apply (no headers are added) until it does.',
  GH_CONFIGMAP_KEY_INVALID: 'A key of the --configmap ConfigMap has a value its grammar refuses, or an entry of an add-headers or proxy-set-headers ConfigMap is not a header Gatehouse may set; that key (or header) is left out and its default applies, the rest of the ConfigMap applies.',
  GH_CONFIGMAP_KEY_UNSUPPORTED: 'The --configmap ConfigMap has keys Gatehouse does not read (ingress-nginx settings it does not implement, or misspelt names); they have no effect.',
  GH_CUSTOM_HEADERS_REFUSED: 'The ConfigMap named by a custom-headers annotation does not exist, or has an entry that is not a response header Gatehouse may set, or sets a header that the --configmap ConfigMap\'s global-allowed-response-headers does not list; the Ingress is left out until it is fixed (ingress-nginx denies its locations with 503).',
  GH_AUTH_HEADERS_REFUSED: 'The ConfigMap named by an auth-proxy-set-headers annotation does not exist, or has an entry that is not a request header Gatehouse may set (a header name, printable value, no nginx variable; not Host or a forwarding header); the Ingress is left out until it is fixed (ingress-nginx denies its locations with 503).',
  GH_ACME_NOT_CONFIGURED: 'An Ingress is annotated `gatehouse.io/acme`, but ACME is not configured (no --acme-directory); its Secrets are served as they are and nothing is ordered.',
  GH_ACME_TLS_INVALID: 'An Ingress annotated `gatehouse.io/acme` has a spec.tls entry ACME HTTP-01 cannot serve (a wildcard host, or no secretName), or no spec.tls host at all; nothing is ordered for it.',
  GH_ACME_ORDER_FAILED: 'Ordering a certificate from the ACME CA failed (directory unreachable, account refused, challenge invalid, order not issued); the Secret keeps what it holds and the order is retried with exponential backoff.',
  GH_ACME_STORAGE_FAILED: 'A certificate was issued but could not be written into its Secret (or the ACME account key could not be read or stored); the write is retried with backoff, without ordering again.',
} as const satisfies Record<string, string>;

export type ErrorCode = keyof typeof ERRORS;

/** An error with a stable code, for failures that stop the program (bad flags) rather than conditions. */
export class GatehouseError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'GatehouseError';
    this.code = code;
  }
}

/** The `code` of a thrown value (a Node system error's `ENOENT`, `ENOSPC`, ...), if it has one. */
export function errorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

/** A thrown value's message, for the `reason` of a log line. */
export function errorReason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
