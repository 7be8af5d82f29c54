// ingress-nginx's "External Authentication" (internal/ingress/annotations/authreq/, the
// `location = /_external-auth-…` block and auth_request lines of nginx.tmpl): `auth-url` and the
// `auth-*` annotations that shape the sub-request, read into an ExternalAuthPolicy. The step
// (dataplane/policies/external-auth.ts) makes the sub-request.
//
// URLs (auth-url, auth-signin) are checked against a grammar and parsed into parts, never
// interpolated into anything (ingress-nginx's CVE-2025-24514 came from splicing auth-url into
// nginx configuration): `http` or `https`, `://`, a host (a DNS name, an IPv4 address or a
// bracketed IPv6 one) with an optional port, no userinfo, then a path and query of URL
// characters (RFC 3986: unreserved, sub-delims, `:@/?`, and well-formed %XX escapes); no
// fragment, whitespace, control or non-ASCII character. Both may hold nginx variables, as real
// configurations do (`https://$host/oauth2/auth`, `https://$host/oauth2/start?rd=$escaped_request_uri`,
// oauth2-proxy's documentation): in the host only $host, $http_host and $best_http_host; in the
// path and query also $scheme, $request_uri, $escaped_request_uri, $remote_addr, $http_<name>,
// $cookie_<name>, $arg_<name>. Any other `$` is refused. The data plane substitutes them per
// request with escaping (see the step).
//
// An auth-url whose host is an unspecified, link-local (169.254.0.0/16: cloud instance metadata;
// fe80::/10) or link-local multicast address is refused: a sub-request must not be a way to the
// node's metadata service. Loopback stays allowed: an auth sidecar in the controller's pod is a
// real setup. (A name that resolves to such an address is refused when the data plane connects.)
//
// Where ingress-nginx logs a bad value and goes on without it (auth-signin, auth-cache-key,
// auth-keepalive*), the Ingress is left out here with a condition, as for every other annotation.

import type { AuthCachePolicy, AuthUrlTemplate, ExternalAuthPolicy, ForwardPolicy, RequestVariablePart } from '../model.ts';
import type { KubeObject } from '../snapshot.ts';
import { parseHeaderData } from '../global-config.ts';
import { endsInANumber, parseIp, specialUse } from '../ip-address.ts';
import { isDnsName } from '../processors/ingress.ts';
import { readConfigMapRef, type CustomHeadersContext } from './custom-headers.ts';
import { parseVariables, variableSet } from './nginx-variables.ts';
import { readAnnotation, readBool, type AnnotationProblem, type AnnotationResult } from './read-annotation.ts';

/** ingress-nginx's DefaultCacheDuration. */
const DEFAULT_CACHE_DURATION = '200 202 401 5m';
/** ingress-nginx's defaultGlobalAuthRedirectParam. */
const DEFAULT_REDIRECT_PARAM = 'rd';
const DEFAULT_KEEPALIVE_REQUESTS = 1000;
const DEFAULT_KEEPALIVE_TIMEOUT_S = 60;
const MAX_URL = 2048;

/** What the family reads besides the annotations: the snapshot's ConfigMaps, and the route's timeouts. */
export interface ExternalAuthContext {
  readonly configMap: CustomHeadersContext['configMap'];
  readonly timeouts: Pick<ForwardPolicy, 'connectTimeoutMs' | 'readTimeoutMs'>;
}

const HOST_VARIABLES = variableSet(['host', 'http_host', 'best_http_host'], false, 'puts in the host of a URL');
const PATH_VARIABLES = variableSet(['host', 'http_host', 'best_http_host', 'scheme', 'request_uri', 'escaped_request_uri', 'remote_addr'], true, 'puts in a URL');
const KEY_VARIABLES = variableSet(['host', 'http_host', 'best_http_host', 'scheme', 'request_uri', 'escaped_request_uri', 'remote_addr'], true, 'builds a cache key of');

const HOST_TEXT = /^[A-Za-z0-9.:[\]-]+/;
// RFC 3986 pchar and `/?`, `$` aside (it starts a variable); `%` is checked for two hex digits after.
const PATH_TEXT = /^[A-Za-z0-9\-._~!&'()*+,;=:@/?%]+/;
const PATH_EXPECTED = 'a URL character (RFC 3986 unreserved, sub-delims, ":@/?" or a %XX escape)';

// ingress-nginx's methodsRegex, less CONNECT (a tunnel request, not an HTTP exchange with an answer to read).
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE'];
// RFC 9110 tokens; ingress-nginx's headerRegexp is narrower ([a-zA-Z\d\-_]), and we take its names.
const HEADER_NAME = /^[A-Za-z0-9_-]{1,256}$/;
/** Headers an auth answer may not set on the upstream request: framing, hop-by-hop, the Host. */
const NOT_COPIED = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'te', 'trailer', 'upgrade', 'proxy-connection', 'expect']);
// ingress-nginx's URLIsValidRegex: auth-request-redirect goes into a header as it is.
const REQUEST_REDIRECT = /^[-._~a-zA-Z0-9/:,?&=]{1,2048}$/;
const PARAM = /^[A-Za-z0-9._~-]{1,64}$/;

/** Why the host `h` (lower case, brackets kept, no port) is no auth host, or null. */
function authHostProblem(h: string, checkAddress: boolean): string | null {
  const v6 = h.startsWith('[') && h.endsWith(']');
  const ip = parseIp(v6 ? h.slice(1, -1) : h, 'url');
  if (v6 && (ip === null || !h.includes(':'))) return `${JSON.stringify(h)} is not an IPv6 address`;
  if (ip === null) {
    if (!isDnsName(h)) return `${JSON.stringify(h)} is neither a DNS name nor an IP address`;
    if (endsInANumber(h)) return `${JSON.stringify(h)} ends in a number but is not an IPv4 address`;
    return null;
  }
  const use = specialUse(ip);
  if (!checkAddress || use === null || use === 'loopback') return null;
  return `${JSON.stringify(h)} is ${use === 'unspecified' ? 'the unspecified' : `a ${use}`} address, which an auth sub-request may not reach`;
}

/** host[:port] text (lower case) split and checked; a string is why it is refused. */
export function splitAuthority(authority: string, checkAddress: boolean): { host: string; port: number | null } | string {
  const m = /^(\[[^\]]*\]|[^:[\]]*)(?::(\d{1,5}))?$/.exec(authority);
  if (m === null || m[1] === '') return `${JSON.stringify(authority)} is not a host with an optional port`;
  const port = m[2] === undefined ? null : Number(m[2]);
  if (port !== null && (port < 1 || port > 65535)) return `port ${m[2]!} is not 1-65535`;
  const problem = authHostProblem(m[1]!, checkAddress);
  return problem ?? { host: m[1]!, port };
}

/** An auth-url or auth-signin value as a template; a string is why it is refused. */
export function parseAuthUrl(value: string, checkAddress: boolean): AuthUrlTemplate | string {
  const t = value.trim();
  if (t.length > MAX_URL) return `it is longer than ${MAX_URL} characters`;
  if (/[^\x21-\x7e]/.test(t)) return 'it holds whitespace, a control or a non-ASCII character';
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(.*)$/.exec(t);
  if (m === null) return 'it is not an absolute URL (http:// or https://, a host, then the path)';
  const scheme = m[1]!.toLowerCase();
  if (scheme !== 'http' && scheme !== 'https') return `its scheme ${JSON.stringify(m[1])} is neither http nor https`;
  const rawAuthority = m[2]!;
  if (rawAuthority.includes('@')) return 'it has userinfo (user:password@), which is refused';
  if (rawAuthority === '') return 'it has no host';
  const authority = parseVariables(rawAuthority, HOST_VARIABLES, HOST_TEXT, 'a host character');
  if (typeof authority === 'string') return `its host: ${authority}`;
  if (authority.every((p) => p.kind === 'text')) {
    const checked = splitAuthority(rawAuthority.toLowerCase(), checkAddress);
    if (typeof checked === 'string') return `its host: ${checked}`;
  }
  const rest = m[3]!;
  if (rest !== '' && !rest.startsWith('/') && !rest.startsWith('?')) return 'its path does not start with "/"';
  if (rest.includes('#')) return 'it has a fragment ("#")';
  const path = parseVariables(rest, PATH_VARIABLES, PATH_TEXT, PATH_EXPECTED);
  if (typeof path === 'string') return `its path: ${path}`;
  for (const p of path) if (p.kind === 'text' && /%(?![0-9A-Fa-f]{2})/.test(p.text)) return 'it has a "%" that starts no %XX escape';
  const lowered = authority.map((p) => (p.kind === 'text' ? { kind: 'text' as const, text: p.text.toLowerCase() } : p));
  return { scheme, authority: lowered, path };
}

/**
 * The signin template with the redirect parameter as ingress-nginx's buildAuthSignURL adds it:
 * `?<param>=$scheme://$http_host$escaped_request_uri` with no query, `&…` with one, and nothing
 * when the query already has a non-empty `<param>`.
 */
function withRedirectParam(signin: AuthUrlTemplate, raw: string, param: string): AuthUrlTemplate {
  const q = raw.indexOf('?');
  const query = q === -1 ? '' : raw.slice(q + 1);
  if (query.split('&').some((pair) => pair.startsWith(`${param}=`) && pair.length > param.length + 1)) return signin;
  const lead = `${q === -1 ? '?' : '&'}${param}=`;
  const path = [...signin.path];
  const last = path.at(-1);
  if (last?.kind === 'text') path[path.length - 1] = { kind: 'text', text: last.text + lead };
  else path.push({ kind: 'text', text: lead });
  const tail: RequestVariablePart[] = [{ kind: 'scheme' }, { kind: 'text', text: '://' }, { kind: 'http_host' }, { kind: 'escaped_request_uri' }];
  return { ...signin, path: [...path, ...tail] };
}

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, M: 2_592_000_000, y: 31_536_000_000 };

/**
 * auth-cache-duration: comma-separated entries of nginx's proxy_cache_valid, `[code …] time …`
 * (`200 202 10m, 401 5m`; times add up, `1h 30m`; `any` for every code; no code: 200, 301 and
 * 302, as nginx). A string is why it is refused.
 */
export function parseCacheDurations(value: string): AuthCachePolicy['durations'] | string {
  const out: { statuses: number[] | null; ms: number }[] = [];
  for (const entry of value.split(',')) {
    const words = entry.trim().split(/\s+/).filter((w) => w !== '');
    if (words.length === 0) continue;
    let statuses: number[] | null = [];
    let ms = 0;
    let timed = false;
    for (const w of words) {
      const time = /^(\d{1,9})(ms|s|m|h|d|w|M|y)?$/.exec(w);
      if (!timed && /^[1-5]\d\d$/.test(w)) statuses?.push(Number(w));
      else if (!timed && w === 'any') statuses = null;
      else if (time !== null && time[2] !== undefined) {
        timed = true;
        ms += Number(time[1]) * UNIT_MS[time[2]]!;
      } else return `${JSON.stringify(w)} in ${JSON.stringify(entry.trim())} is neither a status code (100-599, any) before the time nor a time (a number with ms, s, m, h, d, w, M or y)`;
    }
    if (!timed) return `${JSON.stringify(entry.trim())} has no time (e.g. 5m)`;
    out.push({ statuses: statuses !== null && statuses.length === 0 ? [200, 301, 302] : statuses, ms });
  }
  if (out.length === 0) return 'it holds no entry';
  return out;
}

/** A whole number annotation in [min, max]; undefined when unset; pushes a problem when invalid. */
function readInt(ing: KubeObject, name: string, min: number, max: number, problems: AnnotationProblem[]): number | undefined {
  const v = readAnnotation(ing.metadata, name);
  if (v === undefined) return undefined;
  const t = v.value.trim();
  if (/^\d{1,9}$/.test(t) && Number(t) >= min && Number(t) <= max) return Number(t);
  problems.push({ key: v.key, message: `${v.key}: ${JSON.stringify(v.value)} is not a whole number ${min}-${max}` });
  return undefined;
}

/** The Ingress's external-auth policy; undefined without auth-url (its companions alone do nothing, as in ingress-nginx). */
export function readExternalAuth(ing: KubeObject, ctx: ExternalAuthContext): AnnotationResult<ExternalAuthPolicy | undefined> {
  const get = (name: string) => readAnnotation(ing.metadata, name);
  const urlValue = get('auth-url');
  if (urlValue === undefined) return { ok: true, value: undefined };
  const problems: AnnotationProblem[] = [];
  const refuse = (key: string, value: string, why: string) => problems.push({ key, message: `${key}: ${JSON.stringify(value)} ${why}` });

  const url = parseAuthUrl(urlValue.value, true);
  if (typeof url === 'string') refuse(urlValue.key, urlValue.value, `is not an auth URL: ${url}`);

  let method: string | null = null;
  const m = get('auth-method');
  if (m !== undefined) {
    if (METHODS.includes(m.value.trim())) method = m.value.trim();
    else refuse(m.key, m.value, `is not an HTTP method for the sub-request (${METHODS.join(', ')})`);
  }

  let param = DEFAULT_REDIRECT_PARAM;
  const p = get('auth-signin-redirect-param');
  if (p !== undefined) {
    if (PARAM.test(p.value.trim())) param = p.value.trim();
    else refuse(p.key, p.value, 'is not a query parameter name (letters, digits, "-", ".", "_", "~")');
  }
  let signin: AuthUrlTemplate | null = null;
  const s = get('auth-signin');
  if (s !== undefined && s.value.trim() !== '') {
    const parsed = parseAuthUrl(s.value, false);
    if (typeof parsed === 'string') refuse(s.key, s.value, `is not a sign-in URL: ${parsed}`);
    else signin = withRedirectParam(parsed, s.value.trim(), param);
  }

  const responseHeaders: string[] = [];
  const h = get('auth-response-headers');
  if (h !== undefined) {
    for (const raw of h.value.split(',')) {
      const name = raw.trim();
      if (name === '') continue;
      if (!HEADER_NAME.test(name)) refuse(h.key, h.value, `has ${JSON.stringify(name)}, which is not a header name (letters, digits, "-", "_")`);
      else if (NOT_COPIED.has(name.toLowerCase())) refuse(h.key, h.value, `has ${JSON.stringify(name)}, a header the auth answer may not set on the upstream request`);
      else if (!responseHeaders.includes(name.toLowerCase())) responseHeaders.push(name.toLowerCase());
    }
  }

  let requestRedirect: string | null = null;
  const r = get('auth-request-redirect');
  if (r !== undefined && r.value.trim() !== '') {
    if (REQUEST_REDIRECT.test(r.value.trim())) requestRedirect = r.value.trim();
    else refuse(r.key, r.value, 'is not a URL of the characters ingress-nginx allows here (letters, digits and "-._~/:,?&=")');
  }

  let proxySetHeaders: string[] = [];
  const ref = readConfigMapRef(ing, 'auth-proxy-set-headers');
  if (!ref.ok) problems.push(...ref.problems);
  else if (ref.value !== undefined) {
    const { key, namespace, name } = ref.value;
    const cm = ctx.configMap(namespace, name);
    const found = cm === undefined ? null : parseHeaderData(cm.data, 'request');
    const why = found === null ? 'does not exist' : found.problems.map((q) => q.message).join('; ');
    if (found === null || found.problems.length > 0) problems.push({ key, code: 'GH_AUTH_HEADERS_REFUSED', message: `${key}: ConfigMap ${namespace}/${name} ${why}` });
    else proxySetHeaders = found.headers;
  }

  let cache: AuthCachePolicy | null = null;
  const k = get('auth-cache-key');
  const d = get('auth-cache-duration');
  let durations = parseCacheDurations(DEFAULT_CACHE_DURATION) as AuthCachePolicy['durations'];
  if (d !== undefined && d.value.trim() !== '') {
    const parsed = parseCacheDurations(d.value);
    if (typeof parsed === 'string') refuse(d.key, d.value, `is not a cache duration: ${parsed}`);
    else durations = parsed;
  }
  if (k !== undefined && k.value.trim() !== '') {
    const key = parseVariables(k.value.trim(), KEY_VARIABLES, /^[A-Za-z0-9_-]+/, 'a letter, digit, "-", "_"');
    if (typeof key === 'string') refuse(k.key, k.value, `is not a cache key: ${key}`);
    else cache = { key, durations };
  }

  const alwaysSetCookie = readBool(ing.metadata, 'auth-always-set-cookie', false, problems);
  const connections = readInt(ing, 'auth-keepalive', 0, 10_000, problems) ?? 0;
  const requests = readInt(ing, 'auth-keepalive-requests', 1, 1_000_000, problems) ?? DEFAULT_KEEPALIVE_REQUESTS;
  const idle = readInt(ing, 'auth-keepalive-timeout', 1, 86_400, problems) ?? DEFAULT_KEEPALIVE_TIMEOUT_S;
  // auth-keepalive-share-vars: nginx variables shared with the sub-request; there are none here to share.
  readBool(ing.metadata, 'auth-keepalive-share-vars', false, problems);

  if (problems.length > 0 || typeof url === 'string') return { ok: false, problems };
  return {
    ok: true,
    value: {
      url,
      method,
      signin,
      responseHeaders,
      requestRedirect,
      proxySetHeaders,
      cache,
      alwaysSetCookie,
      connectTimeoutMs: ctx.timeouts.connectTimeoutMs,
      readTimeoutMs: ctx.timeouts.readTimeoutMs,
      keepalive: connections > 0 ? { requests, timeoutMs: idle * 1000 } : null,
    },
  };
}
