// The external-auth step (core/annotations/external-auth.ts has the grammar), as ingress-nginx's
// auth_request location in nginx.tmpl does it: every request is first sent to auth-url, and waits.
//
// The sub-request: method auth-method (GET), no body (Content-Length dropped, as
// `proxy_pass_request_body off`), the client's headers (`proxy_pass_request_headers on`) less
// hop-by-hop ones and the client's forwarding headers, and:
//   Host                     the auth URL's host, without its port (ingress-nginx: the URL's Hostname())
//   X-Original-URL           $scheme://$http_host$request_uri
//   X-Original-Method        the client's method
//   X-Sent-From              nginx-ingress-controller (auth services may look for it)
//   X-Real-IP, X-Forwarded-For  the client's address (after real-ip)
//   X-Forwarded-Host         the Host as sent (ingress-nginx passes the client's own X-Forwarded-Host)
//   X-Auth-Request-Redirect  auth-request-redirect, else $request_uri
//   X-Original-URI, X-Scheme $request_uri and $scheme, only with auth-method (as ingress-nginx)
//   the auth-proxy-set-headers ConfigMap's entries (an empty value removes the header)
// and no X-Forwarded-Proto (ingress-nginx clears it there). Bounded by the route's
// proxy-connect-timeout and proxy-read-timeout.
//
// The answer (ngx_http_auth_request_module): 2xx lets the request through, with the
// auth-response-headers copied onto the upstream request (removed there when the answer lacks
// one, as `proxy_set_header X $authHeaderN` with an empty value); 401 is answered 401 with the
// answer's WWW-Authenticate, or 302 to auth-signin when set; 403 is answered 403; any other status,
// a timeout or a connection error is 500. The answer's Set-Cookie goes on the client's answer:
// on success on the statuses nginx's add_header takes (every one with auth-always-set-cookie), on
// the sign-in 302, and on 401/403 only with auth-always-set-cookie. A WebSocket upgrade passes the
// same way (its refusals carry no Set-Cookie: they are written raw to the socket).
//
// auth-cache-key: the answer (status and copied headers) is kept per key, per route and worker,
// for as long as auth-cache-duration says for its status, as nginx's proxy_cache_valid; as nginx,
// an answer with Set-Cookie or with Cache-Control no-store, no-cache or private is not kept, and
// Cache-Control max-age overrides the duration. Keys are hashed (SHA-256); at most MAX_CACHED
// answers per route (least recently used go first).
//
// Variables in the URLs are substituted per request: host values ($host, $http_host) must be a
// host[:port] or the request is answered 400 (and, in auth-url's host, must not be an unspecified
// or link-local address); $request_uri has characters a URL cannot hold escaped; $escaped_request_uri
// is escaped whole; every other value ($remote_addr, $http_*, $cookie_*, $arg_*) is escaped as a
// URI component, its %XX escapes kept, so that no value can add a parameter or change the path.
// A name that DNS resolves to such an address is refused when connecting (a 500).

import { createHash } from 'node:crypto';
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import type { EventEmitter } from 'node:events';
import { LRUCache } from 'lru-cache';
import type { Dispatcher } from 'undici';
import { Agent } from '../undici-dispatchers.ts';
import { splitAuthority } from '../../core/annotations/external-auth.ts';
import { parseIp, specialUse } from '../../core/ip-address.ts';
import type { AuthCachePolicy, AuthUrlTemplate, ExternalAuthPolicy, RequestVariablePart } from '../../core/model.ts';
import { variableValue, type VariableContext } from '../balancer/hash-key.ts';
import { upstreamRequestHeaders, upstreamRequestHeadersFromH2, type Forwarded } from '../proxy/headers.ts';
import { sslClientHeaders } from './client-cert.ts';
import type { ProxyResponse } from '../proxy/proxy.ts';
import type { RequestContext, Step } from './pipeline.ts';
import { accessDenied, accessPassed, authRequired, type Satisfy } from './satisfy.ts';

/** Cached answers per route and worker. */
const MAX_CACHED = 10_000;
/** Connections per auth origin and worker: a slow auth server cannot take every socket. */
const MAX_CONNECTIONS = 256;

/** What the step keeps of an auth answer. */
interface AuthAnswer {
  readonly status: number;
  /** The auth-response-headers' values, in the policy's order; undefined: absent. */
  readonly copied: readonly (string | undefined)[];
  readonly cookies: readonly string[];
  readonly wwwAuthenticate: string | undefined;
}

const FAILED: AuthAnswer = { status: 500, copied: [], cookies: [], wwwAuthenticate: undefined };

/** What the answer's headers say about keeping it (cacheHints). */
interface CacheHints {
  readonly noStore?: true;
  readonly maxAgeMs?: number;
}

// ---- URLs ----------------------------------------------------------------------------------

const HOST_VALUE = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;
/** Characters a request-target may hold as they are (RFC 3986 pchar, `/`, `?`), `%` checked apart. */
const URI_CHAR = /[A-Za-z0-9\-._~!$&'()*+,;=:@/?]/;
const COMPONENT_CHAR = /[A-Za-z0-9\-._~]/;
const HEX = '0123456789ABCDEF';

/** `v` with every character `keep` does not match as %XX (byte for byte), its well-formed %XX escapes kept. */
function escapeExcept(v: string, keep: RegExp): string {
  let out = '';
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!;
    if (keep.test(c) || (c === '%' && /^[0-9A-Fa-f]{2}$/.test(v.slice(i + 1, i + 3)))) out += c;
    else {
      const b = v.charCodeAt(i) & 0xff;
      out += `%${HEX[b >> 4]!}${HEX[b & 15]!}`;
    }
  }
  return out;
}

/** One part's text in a URL's path or query; null: a host value that is no host. */
function pathValue(part: RequestVariablePart, vars: VariableContext): string | null {
  switch (part.kind) {
    case 'text':
      return part.text;
    case 'host':
    case 'http_host': {
      const v = variableValue(part, vars);
      return HOST_VALUE.test(v) ? v : null;
    }
    case 'scheme':
    case 'escaped_request_uri':
      return variableValue(part, vars);
    case 'request_uri':
      return escapeExcept(vars.url, URI_CHAR);
    default:
      return escapeExcept(variableValue(part, vars), COMPONENT_CHAR);
  }
}

interface RenderedUrl {
  readonly origin: string;
  /** The host without port, lower case (brackets kept for IPv6). */
  readonly hostname: string;
  readonly path: string;
}

/** The URL for this request; null when a variable gave no usable host (answered 400). */
function renderUrl(t: AuthUrlTemplate, vars: VariableContext, checkAddress: boolean): RenderedUrl | null {
  let authority = '';
  for (const part of t.authority) {
    const v = pathValue(part, vars);
    if (v === null) return null;
    authority += v;
  }
  authority = authority.toLowerCase();
  const split = splitAuthority(authority, checkAddress);
  if (typeof split === 'string') return null;
  let path = '';
  for (const part of t.path) {
    const v = pathValue(part, vars);
    if (v === null) return null;
    path += v;
  }
  if (!path.startsWith('/')) path = `/${path}`;
  return { origin: `${t.scheme}://${authority}`, hostname: split.host, path };
}

// ---- the sub-request -----------------------------------------------------------------------

/** dns.lookup that refuses unspecified and link-local addresses (cloud metadata): a name may not lead there either. */
function guardedLookup(hostname: string, options: LookupOptions, callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void): void {
  dnsLookup(hostname, options, (err, address: string | LookupAddress[], family?: number) => {
    if (err !== null) return callback(err, '');
    for (const a of typeof address === 'string' ? [address] : address.map((x) => x.address)) {
      const ip = parseIp(a);
      const use = ip === null ? null : specialUse(ip);
      if (use !== null && use !== 'loopback') {
        const refused: NodeJS.ErrnoException = new Error(`${hostname} resolves to ${a}, a ${use} address, which an auth sub-request may not reach`);
        refused.code = 'EAUTHADDRESS';
        return callback(refused, '');
      }
    }
    callback(null, address, family);
  });
}

/** One Agent per connect timeout and keep-alive setting, shared by the routes of a worker. */
const agents = new LRUCache<string, Agent>({ max: 64, dispose: (agent) => void agent.close().catch(() => {}) });

function agentFor(policy: ExternalAuthPolicy): Agent {
  const ka = policy.keepalive;
  const key = `${policy.connectTimeoutMs}/${ka === null ? '-' : `${ka.requests}/${ka.timeoutMs}`}`;
  let agent = agents.get(key);
  if (agent === undefined) {
    agent = new Agent({
      connections: MAX_CONNECTIONS,
      pipelining: 1,
      ...(ka === null ? {} : { keepAliveTimeout: ka.timeoutMs, keepAliveMaxTimeout: ka.timeoutMs, maxRequestsPerClient: ka.requests }),
      // nginx's default in the auth location: proxy_ssl_verify off (as proxy-ssl-verify for backends).
      connect: { timeout: policy.connectTimeoutMs, lookup: guardedLookup, rejectUnauthorized: false },
    });
    agents.set(key, agent);
  }
  return agent;
}

/** Header names the step sets on the sub-request, and those it drops from the client's. */
const SET_OR_DROPPED = new Set(['host', 'content-length', 'x-forwarded-proto', 'x-forwarded-port', 'x-original-url', 'x-original-method', 'x-sent-from', 'x-auth-request-redirect', 'x-original-uri', 'x-scheme']);

function subRequestHeaders(ctx: RequestContext, policy: ExternalAuthPolicy, hostname: string): string[] {
  const fwd: Forwarded = { clientIp: ctx.clientIp, forwardedFor: ctx.clientIp, proto: ctx.scheme, host: ctx.host, port: 0 };
  const req = ctx.req;
  const base = req.httpVersionMajor === 2 ? upstreamRequestHeadersFromH2(req.rawHeaders, fwd) : upstreamRequestHeaders(req.rawHeaders, req.headers.connection, fwd);
  const set = policy.proxySetHeaders;
  const own = new Set<string>();
  for (let i = 0; i < set.length; i += 2) own.add(set[i]!);
  // auth-tls-*: the verification's headers, never the client's own of those names.
  const ssl = sslClientHeaders(ctx);
  const out: string[] = ['host', hostname];
  for (let i = 0; i < base.length; i += 2) {
    const lower = base[i]!.toLowerCase();
    if (!SET_OR_DROPPED.has(lower) && !own.has(lower) && !(ssl !== null && lower.startsWith('ssl-client-'))) out.push(base[i]!, base[i + 1]!);
  }
  if (ssl !== null) out.push(...ssl);
  out.push(
    'x-original-url', `${ctx.scheme}://${ctx.host}${ctx.url}`,
    'x-original-method', req.method ?? 'GET',
    'x-sent-from', 'nginx-ingress-controller',
    'x-auth-request-redirect', policy.requestRedirect ?? ctx.url,
  );
  if (policy.method !== null) out.push('x-original-uri', ctx.url, 'x-scheme', ctx.scheme);
  for (let i = 0; i < set.length; i += 2) if (set[i + 1] !== '') out.push(set[i]!, set[i + 1]!);
  return out;
}

function list(v: string | string[] | undefined): string[] {
  return v === undefined ? [] : typeof v === 'string' ? [v] : v;
}

/** Sends the sub-request; resolves to its answer, FAILED on a timeout or connection error, null when the client left. */
async function askAuth(ctx: RequestContext, policy: ExternalAuthPolicy, url: RenderedUrl): Promise<(AuthAnswer & CacheHints) | null> {
  // The client leaving ends the sub-request.
  const ac = new AbortController();
  const gone = ctx.res as EventEmitter;
  const onClose = () => ac.abort();
  gone.once('close', onClose);
  try {
    const { statusCode, headers, body } = await agentFor(policy).request({
      origin: url.origin,
      path: url.path,
      method: (policy.method ?? 'GET') as Dispatcher.HttpMethod,
      headers: subRequestHeaders(ctx, policy, url.hostname),
      headersTimeout: policy.readTimeoutMs,
      bodyTimeout: policy.readTimeoutMs,
      // auth-keepalive 0 (the default): one connection per sub-request, as nginx's auth location.
      reset: policy.keepalive === null,
      signal: ac.signal,
    });
    body.dump().catch(() => {});
    return {
      status: statusCode,
      copied: policy.responseHeaders.map((name) => {
        const v = headers[name];
        return v === undefined ? undefined : list(v).join(', ');
      }),
      cookies: list(headers['set-cookie']),
      wwwAuthenticate: headers['www-authenticate'] === undefined ? undefined : list(headers['www-authenticate']).join(', '),
      ...cacheHints(headers),
    };
  } catch {
    return ac.signal.aborted ? null : FAILED;
  } finally {
    gone.off('close', onClose);
  }
}

// ---- the cache -----------------------------------------------------------------------------

/** Why an answer may not be kept, or its own lifetime (max-age), from its headers. */
function cacheHints(headers: Record<string, string | string[] | undefined>): CacheHints {
  if (headers['set-cookie'] !== undefined) return { noStore: true };
  const cc = list(headers['cache-control']).join(',').toLowerCase();
  if (/(?:^|[\s,])(?:no-store|no-cache|private)(?:$|[\s,=])/.test(cc)) return { noStore: true };
  const m = /(?:^|[\s,])max-age=(\d{1,9})/.exec(cc);
  return m === null ? {} : { maxAgeMs: Number(m[1]) * 1000 };
}

class AuthCache {
  readonly #policy: AuthCachePolicy;
  readonly #answers = new LRUCache<string, AuthAnswer>({ max: MAX_CACHED });
  constructor(policy: AuthCachePolicy) {
    this.#policy = policy;
  }

  key(vars: VariableContext): string {
    let key = '';
    for (const part of this.#policy.key) key += variableValue(part, vars);
    return createHash('sha256').update(key, 'latin1').digest('base64');
  }

  get(key: string): AuthAnswer | undefined {
    return this.#answers.get(key);
  }

  keep(key: string, answer: AuthAnswer & CacheHints): void {
    if (answer === FAILED || answer.noStore === true) return;
    const ms = answer.maxAgeMs ?? this.#policy.durations.find((d) => d.statuses === null || d.statuses.includes(answer.status))?.ms;
    if (ms === undefined || ms <= 0) return;
    const { status, copied, cookies, wwwAuthenticate } = answer;
    this.#answers.set(key, { status, copied, cookies, wwwAuthenticate }, { ttl: ms });
  }
}

// ---- the step ------------------------------------------------------------------------------

export function externalAuthStep(policy: ExternalAuthPolicy, satisfy: Satisfy): Step {
  const cache = policy.cache === null ? null : new AuthCache(policy.cache);

  /** Acts on an answer: true when the request was answered here. */
  const decide = (ctx: RequestContext, answer: AuthAnswer, vars: VariableContext): boolean => {
    const { status } = answer;
    if (status >= 200 && status < 300) {
      policy.responseHeaders.forEach((name, i) => {
        const v = answer.copied[i];
        if (v === undefined) (ctx.upstreamRemoved ??= []).push(name);
        else (ctx.upstreamHeaders ??= []).push(name, v);
      });
      if (answer.cookies.length > 0) ctx.responseCookies = { values: answer.cookies, always: policy.alwaysSetCookie };
      return accessPassed(ctx, satisfy);
    }
    const cookies = (on: boolean) => {
      if (on && answer.cookies.length > 0 && !ctx.upgrade) (ctx.res as ProxyResponse).setHeader('set-cookie', [...answer.cookies]);
    };
    if (status === 401 && policy.signin !== null) {
      const to = renderUrl(policy.signin, vars, false);
      if (to === null) return respond(ctx, 400);
      // The sign-in location's add_header Set-Cookie (a 302 is one of its statuses).
      cookies(true);
      // nginx's error_page 401 = the sign-in location: the 401 is answered as this redirect.
      return accessDenied(ctx, satisfy, 302, { location: to.origin + to.path });
    }
    if (status === 401 || status === 403) {
      cookies(policy.alwaysSetCookie);
      return accessDenied(ctx, satisfy, status, status === 401 && answer.wwwAuthenticate !== undefined ? { 'www-authenticate': answer.wwwAuthenticate } : {});
    }
    return respond(ctx, 500);
  };

  return (ctx: RequestContext): boolean | Promise<boolean> => {
    if (!authRequired(ctx)) return false;
    const vars: VariableContext = { url: ctx.url, host: ctx.host, clientIp: ctx.clientIp, https: ctx.scheme === 'https', headers: ctx.req.headers };
    const key = cache?.key(vars);
    const hit = key === undefined ? undefined : cache!.get(key);
    if (hit !== undefined) return decide(ctx, hit, vars);
    const url = renderUrl(policy.url, vars, true);
    if (url === null) return respond(ctx, 400);
    return askAuth(ctx, policy, url).then((answer) => {
      // The client left: nothing to answer, nothing to forward.
      if (answer === null) return true;
      if (key !== undefined) cache!.keep(key, answer);
      return decide(ctx, answer, vars);
    });
  };
}

function respond(ctx: RequestContext, status: number): true {
  ctx.respond(status);
  return true;
}
