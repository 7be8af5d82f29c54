// The plain data that flows from compile to the workers. Everything here is JSON-safe
// (it crosses postMessage) and frozen once built.

import type { ErrorCode } from '../errors.ts';

export type Kind = 'Ingress' | 'IngressClass' | 'Service' | 'EndpointSlice' | 'Secret' | 'ConfigMap';

export interface ObjectRef {
  readonly kind: Kind;
  readonly namespace: string; // '' for cluster-scoped kinds (IngressClass)
  readonly name: string;
}

/** A problem with one object; that object (or the one field) is left out, the rest is served. */
export interface Condition {
  readonly ref: ObjectRef;
  readonly code: ErrorCode;
  /** The field the condition is about, as a path (`spec.rules[0].http.paths[1].path`). */
  readonly field: string;
  readonly message: string;
}

/**
 * Match types after compile: ImplementationSpecific is served as Prefix, or as Regex on a host in
 * regex mode (use-regex or rewrite-target on any of its Ingresses; DESIGN.md, "Paths").
 */
export type MatchType = 'Exact' | 'Prefix' | 'Regex';

export interface Route {
  /**
   * Exact: the whole path. Prefix: normalised without a trailing slash (`/` stays `/`). Regex: the
   * pattern as written, matched case-insensitively at the start of the path (core/path-regex.ts).
   */
  readonly path: string;
  readonly match: MatchType;
  /** Key into RouteTable.backends. */
  readonly backend: string;
  /** `namespace/name` of the Ingress that contributed the route. */
  readonly ingress: string;
  /**
   * Plain-HTTP requests answer 308 to https: the Ingress's force-ssl-redirect, or its
   * ssl-redirect (default --default-ssl-redirect) when the host has a TLS binding
   * (ingress-nginx "Server-side HTTPS enforcement through redirect").
   */
  readonly sslRedirect: boolean;
  /**
   * How requests of this route reach the backend (backend-protocol, proxy-ssl-*); absent: plain
   * HTTP/1.1, the default. It lives on the route, not in the backend's identity, as in
   * ingress-nginx (a location setting): two Ingresses may send the same Service port different
   * protocols, and its endpoints, balancer and health stay one.
   */
  readonly upstream?: UpstreamPolicy;
  /** The traffic policies of the route's Ingress; absent: none (the common case, at no cost). */
  readonly policies?: RoutePolicies;
}

/**
 * The traffic policies of a route, typed data compiled from its Ingress's annotations (one file
 * per family in core/annotations/). Each field present becomes one step of the worker's request
 * pipeline (dataplane/policies/pipeline.ts), which fixes their order; a family adds one field.
 */
export interface RoutePolicies {
  /** permanent-redirect / temporal-redirect, app-root, from-to-www-redirect. */
  readonly redirect?: RedirectPolicy;
  /** limit-rps, limit-rpm, limit-connections, limit-whitelist, limit-rate (core/annotations/rate-limit.ts). */
  readonly rateLimit?: RateLimitPolicy;
  /** rewrite-target, x-forwarded-prefix, upstream-vhost, preserve-trailing-slash. */
  readonly rewrite?: RewritePolicy;
  /** whitelist/allowlist-source-range, denylist-source-range (403). */
  readonly accessList?: AccessListPolicy;
  /** enable-cors and cors-* (preflights answered 204, CORS headers on answers). */
  readonly cors?: CorsPolicy;
  /** proxy-body-size in bytes, 0: no limit (413); absent: the table's proxyBodySize. */
  readonly bodySize?: number;
  /** gatehouse.io/request-headers, gatehouse.io/response-headers. */
  readonly headers?: HeadersPolicy;
  /** load-balance, upstream-hash-by*, affinity and session-cookie-*: how an endpoint is chosen; absent: round robin. Not a step: the proxy's balancer reads it. */
  readonly balance?: BalancePolicy;
  /** auth-url and auth-* (external authentication by a sub-request; core/annotations/external-auth.ts). */
  readonly externalAuth?: ExternalAuthPolicy;
  /** canary-*: the canary Ingress attached to the route, and when its backend serves a request instead (core/annotations/canary.ts). */
  readonly canary?: CanaryPolicy;
  /** auth-type basic, auth-secret, auth-secret-type, auth-realm (401). */
  readonly basicAuth?: BasicAuthPolicy;
  /** satisfy any: access lists OR authentication admit a request (dataplane/policies/satisfy.ts); absent: all (both must). */
  readonly satisfy?: 'any';
  /** enable-access-log: "false": the route's requests are not in the access log (still in the metrics). Absent: logged. Not a step. */
  readonly accessLog?: false;
  /** custom-http-errors and default-backend: which answers the error backend replaces, and the fallback of a backend without endpoints. Not a step: the proxy reads it. */
  readonly errorPages?: ErrorPagesPolicy;
  /** auth-tls-*: client certificates (server level: every route of the host, and its defaultPolicies, carry the host's). */
  readonly clientCert?: ClientCertPolicy;
}

/** When a request goes to the canary (ingress-nginx balancer.lua): header, then cookie, then weight. */
export interface CanaryRules {
  /** canary-by-header (name lower case, `_` as `-`): equal to `value`, else matching `pattern` (RE2, anywhere), else `always` / `never`. */
  readonly header?: { readonly name: string; readonly value?: string; readonly pattern?: string };
  /** canary-by-cookie (name lower case, matched ignoring case): `always` / `never`. */
  readonly cookie?: string;
  /** canary-weight out of canary-weight-total: that share of the requests the header and cookie left undecided, at random. */
  readonly weight: number;
  readonly weightTotal: number;
}

/** The backend a request goes to instead of its route's: how it is reached and how its endpoint is chosen. */
export interface BackendChoice {
  /** Key into RouteTable.backends. */
  readonly backend: string;
  /** The main Ingress's backend-protocol, proxy-ssl-*, timeouts, for this backend; absent: plain HTTP/1.1. */
  readonly upstream?: UpstreamPolicy;
  /** The canary Ingress's load-balance, upstream-hash-by, affinity; absent: round robin. */
  readonly balance?: BalancePolicy;
}

/** A canary Ingress attached to a route (or a host's unmatched paths). */
export interface CanaryPolicy extends CanaryRules, BackendChoice {
  /** `namespace/name` of the canary Ingress. */
  readonly ingress: string;
}

/**
 * Basic authentication (core/annotations/basic-auth.ts). The table names the Secret; its data
 * never enters the table: the control plane reads and checks it and ships the entries to the
 * workers apart (TlsMaterial.basicAuth).
 */
export interface BasicAuthPolicy {
  /** The Secret, and the Ingress and annotation that named it. */
  readonly secret: UpstreamSecretRef;
  /** auth-file: the key `auth` holds an htpasswd file; auth-map: each key a user, its value the hash. */
  readonly secretType: 'auth-file' | 'auth-map';
  /** auth-realm, printable ASCII without `"` and `\` (quoted as is in WWW-Authenticate). */
  readonly realm: string;
}

/**
 * ingress-nginx's custom-http-errors and default-backend for one route (core/annotations/error-pages.ts,
 * dataplane/proxy/error-pages.ts). The error backend is `backend` while it has ready endpoints,
 * else the table's default backend, else the built-in 404 (ingress-nginx's own default server).
 */
export interface ErrorPagesPolicy {
  /** Statuses, sorted, whose answers (the upstream's, or Gatehouse's own 502/503/504) the error backend's answer replaces; empty: none. */
  readonly codes: readonly number[];
  /** default-backend: the backend id of the Service (its first port); also where requests go while the route's backend has no ready endpoint. Null: none. */
  readonly backend: string | null;
  /** X-Namespace, X-Ingress-Name: the route's Ingress. X-Service-Name, X-Service-Port: its Service and port as written ('' for none). */
  readonly namespace: string;
  readonly ingress: string;
  readonly service: string;
  readonly servicePort: string;
}

/** auth-tls-verify-client: nginx's ssl_verify_client. */
export type ClientCertVerify = 'on' | 'off' | 'optional' | 'optional_no_ca';

/**
 * ingress-nginx's "Client Certificate Authentication" for one host (core/annotations/client-cert.ts,
 * dataplane/policies/client-cert.ts). The CA bundle is the Secret's ca.crt: the control plane reads
 * and checks it, and its PEM travels apart from the table (TlsMaterial.clientAuth).
 */
export interface ClientCertPolicy {
  /** The virtual host it belongs to (lower case, or `*.example.com`): the key of its CA bundle. */
  readonly host: string;
  /** auth-tls-secret: `namespace/name`, with the Ingress and annotation that conditions about it name. */
  readonly secret: UpstreamSecretRef;
  readonly verify: ClientCertVerify;
  /** auth-tls-verify-depth: intermediate certificates allowed between the client's and the CA bundle's root (nginx ssl_verify_depth). */
  readonly depth: number;
  /** auth-tls-error-page: failed verification answers 302 to this URL instead of 400. */
  readonly errorPage?: string;
  /** auth-tls-pass-certificate-to-upstream: the ssl-client-cert header. */
  readonly passCertificate: boolean;
  /** auth-tls-match-cn: an RE2 regex (starting `CN=`) the client's subject DN must match, else 403. */
  readonly matchCn?: string;
}

/** load-balance algorithms (core/annotations/load-balance.ts maps ingress-nginx's values onto them). */
export type BalanceAlgorithm = 'round_robin' | 'least_request' | 'ewma';

/**
 * How a route's requests choose an endpoint of its backend (core/annotations/load-balance.ts,
 * dataplane/balancer/). As ingress-nginx's balancer.lua: cookie affinity, else upstream-hash-by,
 * else load-balance (else the ConfigMap's).
 */
export type BalancePolicy = { readonly algorithm: BalanceAlgorithm } | HashPolicy | AffinityPolicy;

/** upstream-hash-by (+ -subset, -subset-size): consistent hashing of a key made of request values. */
export interface HashPolicy {
  readonly algorithm: 'hash';
  /** The key: these parts' values, concatenated. */
  readonly key: readonly HashKeyPart[];
  /** upstream-hash-by-subset: the key picks a subset of this many endpoints, then one of them at random; 0: the key picks one endpoint. */
  readonly subset: number;
}

/** One part of an upstream-hash-by key: literal text, or an nginx variable's value for the request. */
export type HashKeyPart =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'request_uri' | 'remote_addr' | 'host' }
  /** $http_<name> (name: the header's, lower case, `_` as `-`), $cookie_<name>, $arg_<name> (names lower case, matched ignoring case, as nginx). */
  | { readonly kind: 'header' | 'cookie' | 'arg'; readonly name: string };

/**
 * One part of a value made of text and nginx variables (core/annotations/nginx-variables.ts): the
 * parts upstream-hash-by takes, and $scheme, $http_host (also $best_http_host: the Host as sent,
 * port kept) and $escaped_request_uri ($request_uri escaped as a URI component).
 */
export type RequestVariablePart = HashKeyPart | { readonly kind: 'scheme' | 'http_host' | 'escaped_request_uri' };

/**
 * ingress-nginx's "External Authentication" for one route (core/annotations/external-auth.ts,
 * dataplane/policies/external-auth.ts): each request is first sent, without its body, to `url`;
 * 2xx lets it through, 401 and 403 are answered, anything else is 500.
 */
export interface ExternalAuthPolicy {
  /** auth-url. */
  readonly url: AuthUrlTemplate;
  /** auth-method; null: GET, and no X-Original-URI / X-Scheme headers (ingress-nginx sends them only with auth-method). */
  readonly method: string | null;
  /** auth-signin with the auth-signin-redirect-param appended as ingress-nginx does: a 401 answers 302 there. Null: the 401 itself. */
  readonly signin: AuthUrlTemplate | null;
  /** auth-response-headers, lower case: copied from the auth answer onto the upstream request (removed there when the answer has none). */
  readonly responseHeaders: readonly string[];
  /** auth-request-redirect: the X-Auth-Request-Redirect header, literal; null: $request_uri. */
  readonly requestRedirect: string | null;
  /** auth-proxy-set-headers' ConfigMap: flat [name, value, …], names lower case, set on the sub-request; an empty value removes the header. */
  readonly proxySetHeaders: readonly string[];
  /** auth-cache-key and auth-cache-duration; null: no caching. */
  readonly cache: AuthCachePolicy | null;
  /** auth-always-set-cookie: the auth answer's Set-Cookie goes on every answer, not only on 200, 201, 204, 206, 301, 302, 303, 304, 307, 308. */
  readonly alwaysSetCookie: boolean;
  /** The route's proxy-connect-timeout and proxy-read-timeout, which bound the sub-request. */
  readonly connectTimeoutMs: number;
  readonly readTimeoutMs: number;
  /** auth-keepalive > 0: idle connections are kept (auth-keepalive-requests, auth-keepalive-timeout); null: one connection per sub-request (ingress-nginx's default). */
  readonly keepalive: { readonly requests: number; readonly timeoutMs: number } | null;
}

/** An auth URL: its scheme fixed, its host[:port] and its path and query made of parts. */
export interface AuthUrlTemplate {
  readonly scheme: 'http' | 'https';
  /** Text, $host or $http_host only. */
  readonly authority: readonly RequestVariablePart[];
  /** From the `/` on (or empty), query included. */
  readonly path: readonly RequestVariablePart[];
}

/** auth-cache-key and auth-cache-duration. */
export interface AuthCachePolicy {
  readonly key: readonly RequestVariablePart[];
  /** How long an answer of each status is kept, first match wins (nginx proxy_cache_valid); `statuses` null: any. */
  readonly durations: readonly { readonly statuses: readonly number[] | null; readonly ms: number }[];
}

/** affinity: cookie and its session-cookie-* settings (ingress-nginx "Session Affinity"). */
export interface AffinityPolicy {
  readonly algorithm: 'cookie';
  /** affinity-mode: balanced (a session moves when endpoints are added, rebalancing them) or persistent (it never moves while its endpoint is there). */
  readonly mode: 'balanced' | 'persistent';
  /** affinity-canary-behavior, kept for canary routing. */
  readonly canaryBehavior: 'sticky' | 'legacy';
  /** session-cookie-change-on-failure: a failed attempt moves the session (a new cookie) to the endpoint that served the retry. */
  readonly changeOnFailure: boolean;
  readonly cookie: AffinityCookie;
}

/** The attributes of the affinity cookie (session-cookie-*). */
export interface AffinityCookie {
  readonly name: string;
  /** session-cookie-path, else the route's path as written (compile fills it in; `/` for a regex path). */
  readonly path?: string;
  readonly domain?: string;
  readonly sameSite?: 'None' | 'Lax' | 'Strict';
  /** session-cookie-conditional-samesite-none: no SameSite=None to browsers known to mishandle it. */
  readonly conditionalSameSiteNone: boolean;
  /** session-cookie-secure: Secure on every answer; else only on answers to https requests. */
  readonly secure: boolean;
  /** session-cookie-max-age and session-cookie-expires, seconds. */
  readonly maxAge?: number;
  readonly expires?: number;
}

/** The access lists of ingress-nginx's source-range annotations (core/annotations/access-list.ts). */
export interface AccessListPolicy {
  /** Addresses and CIDRs, as written: a client outside all of them gets 403. Absent: any client. */
  readonly allow?: readonly string[];
  /** Addresses and CIDRs, as written: a client inside one gets 403 (checked first). */
  readonly deny?: readonly string[];
}

/** ingress-nginx's CORS annotations, defaults applied (core/annotations/cors.ts). */
export interface CorsPolicy {
  /** `*`, or origins lower-cased (`https://a.example`, `https://*.example.com:8443`, `null`). */
  readonly origins: '*' | readonly string[];
  /** Access-Control-Allow-Methods, -Allow-Headers and -Expose-Headers values ('' for none). */
  readonly methods: string;
  readonly headers: string;
  readonly exposeHeaders: string;
  /** Access-Control-Allow-Credentials: true. */
  readonly credentials: boolean;
  /** Access-Control-Max-Age, seconds. */
  readonly maxAge: number;
}

/** `[name, value]` pairs, names as written and unique ignoring case. */
export type HeaderList = readonly (readonly [string, string])[];

/** Headers set on the upstream request and on the answer (core/annotations/typed-headers.ts). */
export interface HeadersPolicy {
  readonly request?: HeaderList;
  readonly response?: HeaderList;
}

/**
 * ingress-nginx's "Rate Limiting" annotations for one Ingress (core/annotations/rate-limit.ts):
 * per client IP and replica; a count of 0 is no such limit.
 */
export interface RateLimitPolicy {
  /** `namespace/name` of the Ingress: all its paths share the counters (ingress-nginx: one zone per Ingress). */
  readonly zone: string;
  /** limit-rps and limit-rpm: requests per second / minute, each with a burst of that many × burstMultiplier. */
  readonly rps: number;
  readonly rpm: number;
  readonly burstMultiplier: number;
  /** limit-connections: requests of one client in progress at once on the Ingress. */
  readonly connections: number;
  /** limit-whitelist: client ranges (address or CIDR text, as written) that no limit applies to. */
  readonly whitelist: readonly string[];
  /** limit-rate: response bytes per second per request after the first `rateAfter` bytes (limit-rate-after); 0: none. */
  readonly rate: number;
  readonly rateAfter: number;
  /** limit-req-status-code and limit-conn-status-code (ConfigMap; default 503). */
  readonly reqStatus: number;
  readonly connStatus: number;
}

/** The redirects of ingress-nginx's "Redirect" annotations (core/annotations/redirect.ts). */
export interface RedirectPolicy {
  /** permanent-redirect or temporal-redirect: every request answers `code` to `url`. */
  readonly to?: { readonly url: string; readonly code: number };
  /** app-root: a request for `/` answers 302 to this path. */
  readonly appRoot?: string;
  /** from-to-www-redirect: requests for the other name answer `code` to this host, same target. */
  readonly host?: { readonly host: string; readonly code: number };
}

/**
 * ingress-nginx's "Rewrite" annotations for one route (core/annotations/rewrite.ts). Templates hold
 * `$1`…`$9`: the capture groups of `pattern` on the normalised path ('' without a pattern).
 */
export interface RewritePolicy {
  /** rewrite-target: the path sent upstream instead of the client's; its query string is kept. */
  readonly target?: string;
  /** x-forwarded-prefix: the X-Forwarded-Prefix request header. */
  readonly xForwardedPrefix?: string;
  /** The route's regex (a Regex route's path), when a template refers to a capture group. */
  readonly pattern?: string;
  /** upstream-vhost: the Host (`:authority`) sent upstream. */
  readonly upstreamVhost?: string;
  /** preserve-trailing-slash: "false": the ssl-redirect Location drops a trailing `/` (ingress-nginx). */
  readonly stripTrailingSlash?: true;
}

/** backend-protocol values Gatehouse serves (ingress-nginx's, less AUTO_HTTP/FCGI/AJP, plus H2C). */
export type BackendProtocol = 'HTTP' | 'HTTPS' | 'GRPC' | 'GRPCS' | 'H2C';

export interface UpstreamPolicy {
  /** HTTP and HTTPS: HTTP/1.1; H2C and GRPC: HTTP/2 cleartext (prior knowledge); GRPCS: HTTP/2 over TLS. */
  readonly protocol: BackendProtocol;
  /** TLS to the backend (HTTPS, GRPCS); null for the cleartext protocols. */
  readonly tls: UpstreamTlsPolicy | null;
  /** Timeouts and retries of the route's Ingress (proxy-*-timeout, proxy-next-upstream*); absent: the table's (GlobalPolicy.forward). */
  readonly forward?: ForwardPolicy;
}

/** A case proxy-next-upstream names (nginx's proxy_next_upstream, less `off` and `updating`). */
export type NextUpstreamCase = 'error' | 'timeout' | 'invalid_header' | 'http_500' | 'http_502' | 'http_503' | 'http_504' | 'http_403' | 'http_404' | 'http_429' | 'non_idempotent';

/** How a request is forwarded: timeouts and retries (core/annotations/forward-policy.ts); times in ms. */
export interface ForwardPolicy {
  /** proxy-connect-timeout: to open a connection to an endpoint. */
  readonly connectTimeoutMs: number;
  /** proxy-send-timeout: the longest the endpoint may leave the request body unread. */
  readonly sendTimeoutMs: number;
  /** proxy-read-timeout: for the response headers, and between two reads of the response body. */
  readonly readTimeoutMs: number;
  /** proxy-next-upstream: when a request goes to another endpoint, in the grammar's order; empty: never (`off`). */
  readonly nextUpstream: readonly NextUpstreamCase[];
  /** proxy-next-upstream-tries: tries in all, the first included; 0: one per endpoint. */
  readonly tries: number;
  /** proxy-next-upstream-timeout: no new try once this long has passed since the first began; 0: no limit. */
  readonly triesTimeoutMs: number;
}

/** proxy-ssl-* for one route (ingress-nginx "Backend Certificate Authentication"). */
export interface UpstreamTlsPolicy {
  /** proxy-ssl-verify: check the backend's certificate (chain and name); default false. */
  readonly verify: boolean;
  /**
   * proxy-ssl-secret (ca.crt to verify with; tls.crt + tls.key: the client certificate), or
   * null. The control plane reads and checks it; its PEM travels apart from the table.
   */
  readonly secret: UpstreamSecretRef | null;
  /** The name the certificate is checked against: proxy-ssl-name, else the Service's DNS name. */
  readonly name: string;
  /** proxy-ssl-server-name: send `name` as SNI; off: no SNI to an IP endpoint (nginx's default). */
  readonly serverName: boolean;
}

export interface UpstreamSecretRef {
  /** `namespace/name` of the Secret. */
  readonly ref: string;
  /** `namespace/name` of the Ingress, and the annotation, that conditions about the Secret name. */
  readonly ingress: string;
  readonly field: string;
}

export interface VirtualHost {
  /** Lower-case host; `*.example.com` for a one-label wildcard; '' for rules with no host. */
  readonly host: string;
  /** Sorted by path, then match type (Exact first). */
  readonly routes: readonly Route[];
  /** Backend for paths of this host that match no route (an Ingress's spec.defaultBackend). */
  readonly defaultBackend: string | null;
  /** A TLS binding covers the host (exactly, or by a one-label wildcard binding). */
  readonly tls: boolean;
  /**
   * sslRedirect for requests of this host that match no route, from the Ingress that set its
   * defaultBackend, else the oldest Ingress naming the host (ingress-nginx's root location).
   */
  readonly sslRedirect: boolean;
  /** The upstream policy of the Ingress that set defaultBackend; absent: plain HTTP/1.1. */
  readonly defaultUpstream?: UpstreamPolicy;
  /**
   * The policies for requests of this host that match no route: those of the Ingress whose
   * annotations hold for the host's unmatched paths (as sslRedirect). Absent: none.
   */
  readonly defaultPolicies?: RoutePolicies;
}

/** One spec.tls host after compile: which Secret serves it by SNI (DESIGN.md "TLS"). */
export interface TlsBinding {
  /** Lower-case host, or `*.example.com` for a one-label wildcard. */
  readonly host: string;
  /**
   * `namespace/name` of the kubernetes.io/tls Secret, or null when spec.tls names none (the
   * default certificate serves). The control plane reads and checks the Secret outside compile.
   */
  readonly secret: string | null;
  /** `namespace/name` of the Ingress, and the field, that conditions about the Secret name. */
  readonly ingress: string;
  readonly field: string;
}

/** Where a backend's endpoints come from. */
export type BackendTarget =
  | { readonly type: 'endpoints'; readonly portName: string; readonly targetPort: number | null }
  | { readonly type: 'externalName'; readonly hostname: string; readonly port: number }
  /** service-upstream: the Service's ClusterIP and port, one endpoint (kube-proxy balances). */
  | { readonly type: 'clusterIP'; readonly address: string; readonly port: number }
  | { readonly type: 'missing' };

export interface Backend {
  /** `namespace/service:port`, port as written in the Ingress (number or name). */
  readonly id: string;
  readonly namespace: string;
  readonly service: string;
  readonly port: number | string;
  readonly target: BackendTarget;
  /** Health checks of the backend (core/annotations/health-check.ts), from its oldest Ingress that sets them; absent: none. */
  readonly health?: HealthPolicy;
}

/** A backend's health checks: active probes from the main thread, passive ejection in the workers. */
export interface HealthPolicy {
  readonly active?: ActiveHealthPolicy;
  readonly passive?: PassiveHealthPolicy;
}

/** gatehouse.io/health-check-*: probes of each endpoint (control/health/). */
export interface ActiveHealthPolicy {
  readonly path: string;
  /** The backend-protocol of the Ingress that set the checks: HTTP/1.1 GET, h2c GET, or gRPC health (GRPC, GRPCS). */
  readonly protocol: BackendProtocol;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly healthyThreshold: number;
  readonly unhealthyThreshold: number;
  /** The statuses that pass, inclusive. */
  readonly statusMin: number;
  readonly statusMax: number;
}

/** What counts against an endpoint for passive health. */
export type PassiveHealthFailure = 'error' | 'timeout' | 'http_5xx' | 'http_500' | 'http_502' | 'http_503' | 'http_504';

/** gatehouse.io/passive-health-*: Envoy-style outlier detection (dataplane/shared/ejection-table.ts). */
export interface PassiveHealthPolicy {
  readonly consecutiveFailures: number;
  readonly failures: readonly PassiveHealthFailure[];
  readonly baseEjectionMs: number;
  readonly maxEjectionMs: number;
  readonly maxEjectionPercent: number;
}

export interface RouteTable {
  /** Increases by one for every table the control plane publishes. */
  readonly generation: number;
  /**
   * Hash of everything below and of the contents of the Secrets that `tls` and
   * `defaultCertificate` name (their data is not in the table); an unchanged fingerprint
   * publishes nothing.
   */
  readonly fingerprint: string;
  /** Sorted by host. */
  readonly hosts: readonly VirtualHost[];
  /** --default-backend-service, for requests that nothing else matches; null: the built-in 404. */
  readonly defaultBackend: string | null;
  /** By id, sorted by id. */
  readonly backends: Readonly<Record<string, Backend>>;
  /** SNI bindings, one per host, sorted by host. */
  readonly tls: readonly TlsBinding[];
  /** --default-ssl-certificate `namespace/name`, or null: a self-signed certificate made at start. */
  readonly defaultCertificate: string | null;
  /** CompileOptions.proxyBodySize when it is not the default; absent: 1 MiB (DEFAULT_PROXY_BODY_SIZE). */
  readonly proxyBodySize?: number;
  /** What every request follows, from the ConfigMap (--configmap) and flags; absent: the defaults. */
  readonly global?: GlobalPolicy;
}

/**
 * The settings of ingress-nginx's ConfigMap that hold for every connection and request
 * (core/global-config.ts). Each field absent: its default (nothing done).
 */
export interface GlobalPolicy {
  /** use-proxy-protocol: every connection starts with a PROXY protocol v1 or v2 header, read within the timeout. */
  readonly proxyProtocol?: { readonly headerTimeoutMs: number };
  /** Who the client is when a proxy or load balancer is the TCP peer (the PROXY header, X-Forwarded-For). */
  readonly realIp?: RealIpPolicy;
  /** proxy-set-headers: set on every upstream request, each replacing the client's; flat [name, value, …], names lower case; an empty value removes the header. */
  readonly requestHeaders?: readonly string[];
  /** add-headers: set on every response, each replacing the upstream's; flat [name, value, …], names lower case. */
  readonly responseHeaders?: readonly string[];
  /** Timeouts and retries of routes whose Ingress sets none, and of the default backends (ConfigMap over flags). */
  readonly forward?: ForwardPolicy;
  /** upstream-keepalive-*: the workers' connections to endpoints. */
  readonly upstreamKeepalive?: UpstreamKeepalivePolicy;
  /** generate-request-id: "false": no X-Request-ID is made for requests without one (the client's still passes). Absent: made. */
  readonly generateRequestId?: false;
  /** custom-http-errors: for requests that match no host (the table's default backend); the routes carry their own (RoutePolicies.errorPages). */
  readonly customHttpErrors?: readonly number[];
}

/** ingress-nginx's upstream-keepalive-* keys, as the workers' connection pools apply them (core/annotations/forward-policy.ts). */
export interface UpstreamKeepalivePolicy {
  /** upstream-keepalive-connections: connections to one endpoint per worker, at most; 0: none kept alive (and no bound). */
  readonly connections: number;
  /** upstream-keepalive-timeout: an idle connection closes after this long. */
  readonly timeoutMs: number;
  /** upstream-keepalive-requests: a connection closes after this many requests. */
  readonly requests: number;
  /** upstream-keepalive-time: a connection takes no new request after this long. */
  readonly timeMs: number;
}

/**
 * nginx's real_ip module as ingress-nginx sets it up (use-forwarded-headers, enable-real-ip,
 * use-proxy-protocol; real_ip_recursive on): starting from the TCP peer, while the address in
 * hand is in `trusted`, the next one to the left (the PROXY header's source, then the header's
 * addresses from right to left) is taken.
 */
export interface RealIpPolicy {
  /** proxy-real-ip-cidr, normalised (`10.0.0.0/8`): the peers whose word is taken. */
  readonly trusted: readonly string[];
  /** The lower-case request header the address chain is read from (forwarded-for-header), or null: only the PROXY header's source. */
  readonly header: string | null;
  /** use-forwarded-headers: X-Forwarded-Proto, -Host and -Port from a trusted peer are passed on, and the proto decides ssl-redirect. */
  readonly forwardedHeaders: boolean;
  /** compute-full-forwarded-for (with use-forwarded-headers): X-Forwarded-For is the incoming one with the peer appended. */
  readonly fullForwardedFor: boolean;
}

export interface Endpoint {
  /** IP address, or a DNS name for ExternalName Services. */
  readonly address: string;
  readonly port: number;
  /**
   * The EndpointSlice's `zone` and `hints.forZones` names, kept for topology-aware routing (not
   * used yet); absent when the slice does not say.
   */
  readonly zone?: string;
  readonly forZones?: readonly string[];
}

/** Ready endpoints per backend id. Travels apart from the route table. */
export interface EndpointTable {
  readonly fingerprint: string;
  readonly backends: Readonly<Record<string, readonly Endpoint[]>>;
}

/**
 * A certificate the ACME manager keeps (gatehouse.io/acme, issue 4 item 6): the hosts that the
 * annotated Ingresses bind to one Secret, which the certificate goes into. Not part of the
 * table: the control plane reads it, the workers never need it.
 */
export interface AcmeRequest {
  /** `namespace/name` of the kubernetes.io/tls Secret. */
  readonly secret: string;
  /** Lower-case DNS names (no wildcards), sorted, at least one. */
  readonly hosts: readonly string[];
  /** `namespace/name` of the annotated Ingresses that bind hosts to the Secret, sorted (conditions go to them). */
  readonly ingresses: readonly string[];
}

/**
 * The global defaults of the annotation families: the ConfigMap keys of the same names (else a
 * flag, for the status codes). Absent: ingress-nginx's default, said per field.
 */
export interface FamilyDefaults {
  /** proxy-body-size in bytes (0: no limit), for routes without the annotation. Absent: 1 MiB. */
  readonly proxyBodySize?: number;
  /** limit-req-status-code (else --limit-req-status-code): the answer over limit-rps/limit-rpm. Absent: 503. */
  readonly limitReqStatusCode?: number;
  /** limit-conn-status-code (else --limit-conn-status-code): the answer over limit-connections. Absent: 503. */
  readonly limitConnStatusCode?: number;
  /** limit-rate / limit-rate-after, kilobytes: the defaults of the annotations. Absent: 0. */
  readonly limitRate?: number;
  readonly limitRateAfter?: number;
  /** whitelist-source-range / denylist-source-range, normalised ranges: the lists of Ingresses without the annotation. Absent: none. */
  readonly whitelistSourceRange?: readonly string[];
  readonly denylistSourceRange?: readonly string[];
  /** global-allowed-response-headers, lower case: the names custom-headers may set. Absent: none. */
  readonly allowedResponseHeaders?: readonly string[];
  /** proxy-connect-timeout, proxy-send-timeout, proxy-read-timeout in ms (else the --proxy-*-timeout flags). Absent: 5 s, 60 s, 60 s. */
  readonly proxyConnectTimeoutMs?: number;
  readonly proxySendTimeoutMs?: number;
  readonly proxyReadTimeoutMs?: number;
  /** proxy-next-upstream (empty: off), proxy-next-upstream-tries, proxy-next-upstream-timeout in ms. Absent: error timeout, 3, 0 (none). */
  readonly proxyNextUpstream?: readonly NextUpstreamCase[];
  readonly proxyNextUpstreamTries?: number;
  readonly proxyNextUpstreamTimeoutMs?: number;
  /** retry-non-idempotent: every route's proxy-next-upstream gets non_idempotent. Absent: false. */
  readonly retryNonIdempotent?: boolean;
  /** load-balance: the algorithm of routes without load-balance, upstream-hash-by or affinity. Absent: round_robin. */
  readonly loadBalance?: BalanceAlgorithm;
  /** custom-http-errors: the statuses of Ingresses without the annotation, 300-599. Absent: none. */
  readonly customHttpErrors?: readonly number[];
  /** service-upstream: the default of the annotation. Absent: false. */
  readonly serviceUpstream?: boolean;
}

export interface CompileOptions extends FamilyDefaults {
  /** Our IngressClass controller value (`--controller-class`). */
  readonly controllerClass: string;
  /** Legacy annotation value (`--ingress-class`). */
  readonly ingressClass: string;
  readonly watchIngressWithoutClass: boolean;
  /** `namespace/name` (`--default-backend-service`), or null. */
  readonly defaultBackendService: string | null;
  /** `--default-ssl-redirect`: the ssl-redirect annotation's default. Absent: true (ingress-nginx). */
  readonly defaultSslRedirect?: boolean;
  /** `--default-ssl-certificate` `namespace/name`. Absent or null: the generated self-signed one. */
  readonly defaultSslCertificate?: string | null;
  /** ACME is configured (`--acme-directory`): gatehouse.io/acme Ingresses yield AcmeRequests. Absent: false. */
  readonly acme?: boolean;
  /** `--configmap` `namespace/name`: ingress-nginx's ConfigMap of global settings (core/global-config.ts). Absent or null: none. */
  readonly configMap?: string | null;
  /** `--use-proxy-protocol`: use-proxy-protocol when the ConfigMap does not say. Absent: false. */
  readonly useProxyProtocol?: boolean;
}
