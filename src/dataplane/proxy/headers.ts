// Request and response header rewriting for the proxy. RFC 9110 §7.6.1: hop-by-hop headers
// and every header named in Connection are not forwarded. X-Forwarded-* and X-Real-IP are
// set from the connection, never trusted from the client (ingress-nginx's default,
// use-forwarded-headers: false), or from a trusted peer's as real-ip.ts says. The ConfigMap's
// proxy-set-headers replace the client's headers of the same names.

import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { ObservedRequest } from '../observe/request-observer.ts';

const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization',
  'te', 'trailer', 'transfer-encoding', 'upgrade',
  // Node answers `Expect: 100-continue` itself before the body flows; undici refuses it.
  'expect',
]);

const REPLACED = new Set(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'x-real-ip']);
/** Replaced too when the request is observed (Forwarded.observed). */
const OBSERVED = new Set(['x-request-id', 'traceparent', 'tracestate']);

function connectionTokens(value: string | string[] | undefined): Set<string> | null {
  if (value === undefined) return null;
  const tokens = new Set<string>();
  for (const part of Array.isArray(value) ? value : [value]) {
    for (const t of part.split(',')) {
      const token = t.trim().toLowerCase();
      if (token !== '') tokens.add(token);
    }
  }
  return tokens;
}

export interface Forwarded {
  /** The client's address (X-Real-IP; what access lists and rate limits see). */
  clientIp: string;
  /** X-Forwarded-For: the client's address, or with compute-full-forwarded-for the incoming chain and the peer. */
  forwardedFor: string;
  proto: 'http' | 'https';
  host: string;
  port: number;
  /** proxy-set-headers (the ConfigMap's), or undefined: none. */
  setHeaders?: RequestHeaderSet;
  /**
   * Requests the worker observes (observe/request-observer.ts): X-Request-ID and the W3C trace
   * context sent upstream instead of the client's (undefined: none), and where the proxy records
   * the upstream side. Absent (a sub-request): the client's headers pass.
   */
  observed?: ObservedRequest;
}

/** Headers set on every upstream request, each replacing the client's of the same name; an empty value removes it. */
export interface RequestHeaderSet {
  /** Lower-case names. */
  readonly names: ReadonlySet<string>;
  /** Flat [name, value, …] of the non-empty ones. */
  readonly flat: readonly string[];
}

/** A RequestHeaderSet from a flat [name, value, …] list (GlobalPolicy.requestHeaders), built once per table. */
export function requestHeaderSet(flat: readonly string[]): RequestHeaderSet {
  const names = new Set<string>();
  const set: string[] = [];
  for (let i = 0; i < flat.length; i += 2) {
    names.add(flat[i]!);
    if (flat[i + 1] !== '') set.push(flat[i]!, flat[i + 1]!);
  }
  return { names, flat: set };
}

/** The client's IP without the IPv4-mapped IPv6 prefix. */
export function clientIp(remoteAddress: string | undefined): string {
  if (remoteAddress === undefined) return '';
  return remoteAddress.startsWith('::ffff:') ? remoteAddress.slice(7) : remoteAddress;
}

/**
 * The upstream request headers as a flat [name, value, …] list, in the client's order and
 * case, Host kept, hop-by-hop dropped, forwarding headers set.
 */
export function upstreamRequestHeaders(rawHeaders: readonly string[], connection: string | string[] | undefined, fwd: Forwarded, keepUpgrade = false): string[] {
  const named = connectionTokens(connection);
  const set = fwd.setHeaders?.names;
  const observed = fwd.observed !== undefined;
  const out: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const lower = name.toLowerCase();
    if (REPLACED.has(lower) || set?.has(lower) || (observed && OBSERVED.has(lower))) continue;
    if (HOP_BY_HOP.has(lower) || named?.has(lower)) {
      if (!(keepUpgrade && (lower === 'connection' || lower === 'upgrade'))) continue;
    }
    out.push(name, rawHeaders[i + 1]!);
  }
  pushForwarding(out, fwd);
  return out;
}

function pushForwarding(out: string[], fwd: Forwarded): void {
  out.push(
    'x-forwarded-for', fwd.forwardedFor,
    'x-real-ip', fwd.clientIp,
    'x-forwarded-proto', fwd.proto,
    'x-forwarded-host', fwd.host,
    'x-forwarded-port', String(fwd.port),
  );
  const o = fwd.observed;
  if (o !== undefined) {
    if (o.requestId !== undefined) out.push('x-request-id', o.requestId);
    if (o.traceparent !== undefined) out.push('traceparent', o.traceparent);
    if (o.tracestate !== undefined) out.push('tracestate', o.tracestate);
  }
  if (fwd.setHeaders !== undefined) out.push(...fwd.setHeaders.flat);
}

/**
 * The upstream request headers of an HTTP/2 request, for an HTTP/1.1 upstream (RFC 9113 §8.3.1):
 * pseudo-headers dropped, `:authority` becomes Host (first, as HTTP/1.1 wants it; a Host header
 * sent as well is dropped, §8.3.1 says they must agree), cookie crumbs joined with "; " into one
 * header (§8.2.3), connection-specific headers (which h2 forbids, §8.2.2) and TE dropped as
 * hop-by-hop, forwarding headers set.
 */
export function upstreamRequestHeadersFromH2(rawHeaders: readonly string[], fwd: Forwarded): string[] {
  let authority: string | undefined;
  let host: string | undefined;
  const cookies: string[] = [];
  const set = fwd.setHeaders?.names;
  const observed = fwd.observed !== undefined;
  const out: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const value = rawHeaders[i + 1]!;
    if (name.charCodeAt(0) === 58 /* : */) {
      if (name === ':authority') authority = value;
      continue;
    }
    const lower = name.toLowerCase();
    if (lower === 'host') host ??= value;
    else if (lower === 'cookie') {
      if (!set?.has(lower)) cookies.push(value);
    } else if (!REPLACED.has(lower) && !HOP_BY_HOP.has(lower) && !set?.has(lower) && !(observed && OBSERVED.has(lower))) out.push(name, value);
  }
  if (cookies.length > 0) out.push('cookie', cookies.join('; '));
  pushForwarding(out, fwd);
  const h = authority ?? host;
  return h === undefined ? out : ['host', h, ...out];
}

/**
 * The request headers for an HTTP/2 upstream (backend-protocol H2C, GRPC, GRPCS), from an HTTP/2
 * or an HTTP/1.1 request, as the object node:http2 takes: pseudo-headers built here (`:authority`
 * is the client's `:authority`, else its Host, which is dropped: RFC 9113 §8.3.1), hop-by-hop and
 * connection-specific headers dropped (§8.2.2: an h2 peer must treat them as malformed), TE kept
 * only as `trailers`, the one value h2 allows, and set to it whatever the client sent when
 * `teTrailers` (gRPC requires it: "TE: trailers" in gRPC's PROTOCOL-HTTP2.md, and HTTP/1.1
 * clients cannot send it across a hop), forwarding headers set. Names lower case; repeated ones
 * become arrays (cookie crumbs stay crumbs, §8.2.3 allows them).
 */
export function upstreamH2RequestHeaders(
  req: { readonly method?: string; readonly url?: string; readonly rawHeaders: readonly string[] },
  h2: boolean,
  connection: string | string[] | undefined,
  scheme: 'http' | 'https',
  fwd: Forwarded,
  teTrailers: boolean,
): OutgoingHttpHeaders {
  const named = h2 ? null : connectionTokens(connection);
  const out: Record<string, string | string[]> = { ':method': req.method ?? 'GET', ':scheme': scheme, ':path': req.url ?? '/' };
  let authority: string | undefined;
  let host: string | undefined;
  let te = teTrailers;
  const set = fwd.setHeaders?.names;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    if (name.charCodeAt(0) === 58 /* : */) {
      if (name === ':authority') authority = value;
      continue;
    }
    if (name === 'host') {
      host ??= value;
      continue;
    }
    if (name === 'te') {
      if (value.split(',').some((t) => t.trim().toLowerCase().split(';')[0] === 'trailers')) te = true;
      continue;
    }
    if (REPLACED.has(name) || HOP_BY_HOP.has(name) || named?.has(name) || set?.has(name) || (fwd.observed !== undefined && OBSERVED.has(name))) continue;
    const had = out[name];
    out[name] = had === undefined ? value : Array.isArray(had) ? [...had, value] : [had, value];
  }
  const a = authority ?? host;
  if (a !== undefined) out[':authority'] = a;
  if (te) out.te = 'trailers';
  out['x-forwarded-for'] = fwd.forwardedFor;
  out['x-real-ip'] = fwd.clientIp;
  out['x-forwarded-proto'] = fwd.proto;
  out['x-forwarded-host'] = fwd.host;
  out['x-forwarded-port'] = String(fwd.port);
  const o = fwd.observed;
  if (o?.requestId !== undefined) out['x-request-id'] = o.requestId;
  if (o?.traceparent !== undefined) out.traceparent = o.traceparent;
  if (o?.tracestate !== undefined) out.tracestate = o.tracestate;
  const extra = fwd.setHeaders?.flat ?? [];
  for (let i = 0; i < extra.length; i += 2) out[extra[i]!] = extra[i + 1]!;
  return out;
}

/** Connection values seen on nearly every answer, which name only a header dropped anyway (no token Set to build). */
const PLAIN_CONNECTION = new Set(['keep-alive', 'Keep-Alive']);

const NONE: readonly string[] = [];

/**
 * The response headers to send to the client, a new object: hop-by-hop ones and those named in
 * Connection left out, and those the handler (if `res` is given) already set on `res` (HSTS,
 * add-headers, the policies' response headers), which win; but a Vary set there is merged with
 * the upstream's (see dropHandlerHeaders). Built by copying what stays rather than deleting from
 * undici's object: `delete` turns an object into a slow dictionary (issue 12's profile:
 * DeleteProperty, MigrateToMap).
 */
export function downstreamResponseHeaders(headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>, res?: HeaderTarget): Record<string, string | string[] | undefined> {
  const connection = headers.connection;
  const named = connection === undefined || (typeof connection === 'string' && PLAIN_CONNECTION.has(connection)) ? null : connectionTokens(connection);
  const own = res === undefined ? NONE : res.getHeaderNames();
  const out: Record<string, string | string[] | undefined> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || HOP_BY_HOP.has(name) || (named !== null && named.has(name)) || (own.length !== 0 && own.includes(name))) continue;
    out[name] = value;
  }
  if (own.length !== 0 && headers.vary !== undefined && !(named !== null && named.has('vary'))) {
    const vary = res!.getHeader('vary');
    if (vary !== undefined) res!.setHeader('vary', mergeVary(headers.vary, vary));
  }
  return out;
}

/** Vary values merged: each element once (ignoring case, first spelling kept); `*` if any is `*`. */
export function mergeVary(...values: (string | string[] | number | undefined)[]): string {
  const seen = new Map<string, string>();
  for (const v of values) {
    for (const part of Array.isArray(v) ? v : v === undefined ? [] : [String(v)]) {
      for (const t of part.split(',')) {
        const token = t.trim();
        if (token !== '' && !seen.has(token.toLowerCase())) seen.set(token.toLowerCase(), token);
      }
    }
  }
  return seen.has('*') ? '*' : [...seen.values()].join(', ');
}

/** The part of a response (HTTP/1.1 or HTTP/2) the handler sets headers on before proxying. */
interface HeaderTarget {
  getHeaderNames(): string[];
  getHeader(name: string): string | string[] | number | undefined;
  setHeader(name: string, value: string | string[]): unknown;
}

/**
 * Takes out of the upstream's response headers `out` those the handler already set on `res`
 * (HSTS, add-headers, the policies' response headers), which win; but a Vary set there is merged
 * with the upstream's, since each lists request headers the answer depends on (dropping the
 * upstream's would let a cache serve one answer for another). Mutates `out` (and `res`'s Vary).
 */
export function dropHandlerHeaders(out: Record<string, string | string[] | undefined>, res: HeaderTarget): void {
  const vary = res.getHeader('vary');
  if (vary !== undefined && out.vary !== undefined) res.setHeader('vary', mergeVary(out.vary, vary));
  for (const name of res.getHeaderNames()) delete out[name];
}

/**
 * What the request pipeline (dataplane/policies) changes in the upstream request; every field
 * null when nothing is changed. RequestContext carries these.
 */
export interface UpstreamOverrides {
  /** The request-target to send instead of the client's (rewrite-target). */
  readonly upstreamTarget: string | null;
  /** The Host (`:authority` for HTTP/2 upstreams) to send instead of the client's (upstream-vhost). */
  readonly upstreamHost: string | null;
  /** Request headers to set, each replacing any of the same name: flat [name, value, …], names lower case. */
  readonly upstreamHeaders: readonly string[] | null;
  /** limit-rate (bytes per second) after limit-rate-after bytes of the response body; absent or 0: none. */
  readonly responseRate?: number;
  readonly responseRateAfter?: number;
  /** The client's request headers to drop (lower case; `upstreamHeaders` still set theirs): basic auth's Authorization, an auth-response-headers header the auth answer did not have. */
  readonly upstreamRemoved?: readonly string[] | null;
  /** Set-Cookie values added to the upstream's answer (the auth answer's). */
  readonly responseCookies?: ResponseCookies | null;
}

/** Set-Cookie values for the answer: on the statuses nginx's add_header takes, or on every one when `always` (add_header … always). */
export interface ResponseCookies {
  readonly values: readonly string[];
  readonly always: boolean;
}

/** The statuses nginx's add_header applies to without `always`. */
const ADD_HEADER_STATUSES = new Set([200, 201, 204, 206, 301, 302, 303, 304, 307, 308]);

/** Adds the overrides' Set-Cookie values to an upstream answer of `status` (`out`: its headers), or to a Set-Cookie a policy set on `res`, which replaces the upstream's. */
export function addResponseCookies(out: Record<string, string | string[] | undefined>, res: HeaderTarget, status: number, o: UpstreamOverrides | null): void {
  const c = o?.responseCookies;
  if (c == null || (!c.always && !ADD_HEADER_STATUSES.has(status))) return;
  const own = res.getHeader('set-cookie');
  const list = (v: string | string[] | number | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [String(v)]);
  if (own !== undefined) res.setHeader('set-cookie', [...list(own), ...c.values]);
  else out['set-cookie'] = [...list(out['set-cookie']), ...c.values];
}

/** A flat [name, value, …] list with the overrides' Host and headers set (replacing same-named ones). */
export function overrideFlatHeaders(flat: readonly string[], o: UpstreamOverrides): string[] {
  const set = new Map<string, string>();
  if (o.upstreamHost !== null) set.set('host', o.upstreamHost);
  const extra = o.upstreamHeaders ?? [];
  for (let i = 0; i < extra.length; i += 2) set.set(extra[i]!, extra[i + 1]!);
  const removed = o.upstreamRemoved ?? [];
  if (set.size === 0 && removed.length === 0) return [...flat];
  const out: string[] = [];
  // Host first, as HTTP/1.1 wants it (RFC 9112 §3.2 "SHOULD be sent first").
  const host = set.get('host');
  if (host !== undefined) out.push('host', host);
  for (let i = 0; i < flat.length; i += 2) {
    const lower = flat[i]!.toLowerCase();
    if (!set.has(lower) && !removed.includes(lower)) out.push(flat[i]!, flat[i + 1]!);
  }
  for (const [name, value] of set) if (name !== 'host') out.push(name, value);
  return out;
}

/** The same for the header object of an HTTP/2 upstream request: `:path`, `:authority`, headers. */
export function overrideH2Headers(headers: OutgoingHttpHeaders, o: UpstreamOverrides): OutgoingHttpHeaders {
  if (o.upstreamTarget !== null) headers[':path'] = o.upstreamTarget;
  if (o.upstreamHost !== null) headers[':authority'] = o.upstreamHost;
  for (const name of o.upstreamRemoved ?? []) delete headers[name];
  const extra = o.upstreamHeaders ?? [];
  for (let i = 0; i < extra.length; i += 2) headers[extra[i]!] = extra[i + 1]!;
  return headers;
}
