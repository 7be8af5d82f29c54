import { describe, expect, it } from 'vitest';
import { annotated, expectRefused, fuzzAnnotation } from '../../../test/support/annotation-fuzz.ts';
import { compile } from '../compile.ts';
import { Snapshot, toKubeObject, type KubeObject } from '../snapshot.ts';
import { parseAuthUrl, parseCacheDurations, readExternalAuth, type ExternalAuthContext } from './external-auth.ts';

const N = 'nginx.ingress.kubernetes.io/';
const URL = `${N}auth-url`;
const CONFIGMAPS: Record<string, KubeObject> = {
  'shop/auth-headers': { apiVersion: 'v1', kind: 'ConfigMap', metadata: { namespace: 'shop', name: 'auth-headers' }, data: { 'My-Custom-Header': '42', 'X-Empty': '' } },
  'shop/bad-headers': { apiVersion: 'v1', kind: 'ConfigMap', metadata: { namespace: 'shop', name: 'bad-headers' }, data: { 'X-Ip': '$remote_addr' } },
};
const CTX: ExternalAuthContext = { configMap: (ns, name) => CONFIGMAPS[`${ns}/${name}`], timeouts: { connectTimeoutMs: 5000, readTimeoutMs: 60_000 } };
const read = (a: Record<string, string>) => readExternalAuth(annotated(a), CTX);
const value = (a: Record<string, string>) => {
  const r = read(a);
  if (!r.ok) throw new Error(r.problems.map((p) => p.message).join('; '));
  return r.value!;
};
const text = (t: string) => ({ kind: 'text', text: t });

describe('external-auth family', () => {
  it('is off without auth-url, whatever its companions say', () => {
    expect(read({ [`${N}auth-signin`]: 'https://x.example/start', [`${N}auth-method`]: 'POST' })).toEqual({ ok: true, value: undefined });
  });

  it("has ingress-nginx's defaults", () => {
    expect(value({ [URL]: 'http://oauth2-proxy.auth.svc.cluster.local:4180/oauth2/auth' })).toEqual({
      url: { scheme: 'http', authority: [text('oauth2-proxy.auth.svc.cluster.local:4180')], path: [text('/oauth2/auth')] },
      method: null,
      signin: null,
      responseHeaders: [],
      requestRedirect: null,
      proxySetHeaders: [],
      cache: null,
      alwaysSetCookie: false,
      connectTimeoutMs: 5000,
      readTimeoutMs: 60_000,
      keepalive: null,
    });
  });

  it('parses the nginx variables real configurations use into typed parts', () => {
    const v = value({ [URL]: 'https://$host/oauth2/auth?u=$request_uri&x=${http_x_user}', [`${N}auth-signin`]: 'https://$host/oauth2/start?rd=$escaped_request_uri' });
    expect(v.url).toEqual({ scheme: 'https', authority: [{ kind: 'host' }], path: [text('/oauth2/auth?u='), { kind: 'request_uri' }, text('&x='), { kind: 'header', name: 'x-user' }] });
    // rd is already in the query: the sign-in URL is used as it is (buildAuthSignURL).
    expect(v.signin).toEqual({ scheme: 'https', authority: [{ kind: 'host' }], path: [text('/oauth2/start?rd='), { kind: 'escaped_request_uri' }] });
    expect(value({ [URL]: 'http://$best_http_host:8080/a' }).url.authority).toEqual([{ kind: 'http_host' }, text(':8080')]);
  });

  it("appends the redirect parameter to auth-signin as ingress-nginx's buildAuthSignURL does", () => {
    const tail = [{ kind: 'scheme' }, text('://'), { kind: 'http_host' }, { kind: 'escaped_request_uri' }];
    expect(value({ [URL]: 'http://a.example/', [`${N}auth-signin`]: 'http://$host/auth/start' }).signin!.path).toEqual([text('/auth/start?rd='), ...tail]);
    expect(value({ [URL]: 'http://a.example/', [`${N}auth-signin`]: 'http://$host/auth/start?x=1', [`${N}auth-signin-redirect-param`]: 'orig' }).signin!.path).toEqual([text('/auth/start?x=1&orig='), ...tail]);
    expect(value({ [URL]: 'http://a.example/', [`${N}auth-signin`]: 'https://login.example' }).signin!.path).toEqual([text('?rd='), ...tail]);
    // An empty rd= does not count (Go's q.Get returns "").
    expect(value({ [URL]: 'http://a.example/', [`${N}auth-signin`]: 'https://login.example/s?rd=' }).signin!.path).toEqual([text('/s?rd=&rd='), ...tail]);
  });

  it('reads every other annotation', () => {
    const v = value({
      [URL]: 'http://127.0.0.1:4180/auth',
      [`${N}auth-method`]: 'POST',
      [`${N}auth-response-headers`]: 'X-Auth-Request-User, X-Auth-Request-Email,,x-auth-request-user',
      [`${N}auth-request-redirect`]: 'https://app.example/cb?x=1',
      [`${N}auth-proxy-set-headers`]: 'shop/auth-headers',
      [`${N}auth-cache-key`]: '$http_authorization-${cookie__oauth2_proxy}fixed',
      [`${N}auth-cache-duration`]: '200 202 10m, 401 1h 30m',
      [`${N}auth-always-set-cookie`]: 'true',
      [`${N}auth-keepalive`]: '10',
      [`${N}auth-keepalive-requests`]: '100',
      [`${N}auth-keepalive-timeout`]: '30',
      [`${N}auth-keepalive-share-vars`]: 'true',
    });
    expect(v.method).toBe('POST');
    expect(v.responseHeaders).toEqual(['x-auth-request-user', 'x-auth-request-email']);
    expect(v.requestRedirect).toBe('https://app.example/cb?x=1');
    expect(v.proxySetHeaders).toEqual(['my-custom-header', '42', 'x-empty', '']);
    expect(v.alwaysSetCookie).toBe(true);
    expect(v.keepalive).toEqual({ requests: 100, timeoutMs: 30_000 });
    expect(v.cache).toEqual({
      key: [{ kind: 'header', name: 'authorization' }, text('-'), { kind: 'cookie', name: '_oauth2_proxy' }, text('fixed')],
      durations: [{ statuses: [200, 202], ms: 600_000 }, { statuses: [401], ms: 5_400_000 }],
    });
  });

  it('parses auth-cache-key with literal text, as ingress-nginx e2e does ("fixed"), and with variables', () => {
    expect(value({ [URL]: 'http://a.example/', [`${N}auth-cache-key`]: 'fixed' }).cache).toEqual({ key: [text('fixed')], durations: [{ statuses: [200, 202, 401], ms: 300_000 }] });
    expect(value({ [URL]: 'http://a.example/', [`${N}auth-cache-key`]: '$http_authorization$cookie__oauth2_proxy' }).cache!.key).toEqual([{ kind: 'header', name: 'authorization' }, { kind: 'cookie', name: '_oauth2_proxy' }]);
  });

  it('parses auth-cache-duration as proxy_cache_valid', () => {
    expect(parseCacheDurations('5m')).toEqual([{ statuses: [200, 301, 302], ms: 300_000 }]);
    expect(parseCacheDurations('any 1d')).toEqual([{ statuses: null, ms: 86_400_000 }]);
    expect(parseCacheDurations('200 500ms')).toEqual([{ statuses: [200], ms: 500 }]);
    expect(parseCacheDurations('200')).toContain('has no time');
    expect(parseCacheDurations('5m 200')).toContain('neither a status code');
    expect(parseCacheDurations('200 foo 5m')).toContain('"foo"');
  });

  it('allows loopback auth hosts (a sidecar), refuses unspecified and link-local ones in every notation', () => {
    for (const ok of ['http://127.0.0.1:4180/a', 'http://[::1]/a', 'http://localhost/a', 'http://10.0.0.5/a', 'https://auth.example.com/a']) expect(typeof parseAuthUrl(ok, true), ok).toBe('object');
    for (const bad of ['http://169.254.169.254/latest/meta-data', 'http://0xa9fea9fe/', 'http://2852039166/', 'http://0.0.0.0/', 'http://[::]/', 'http://[fe80::1]/', 'http://[::ffff:169.254.169.254]/', 'http://224.0.0.1/']) {
      expect(parseAuthUrl(bad, true), bad).toMatch(/address, which an auth sub-request may not reach/);
    }
    // auth-signin is a browser redirect, not a sub-request: the address is not checked.
    expect(typeof parseAuthUrl('http://169.254.1.1/start', false)).toBe('object');
  });

  it.each([
    ['auth-url', 'oauth2-proxy/auth', 'is not an absolute URL'],
    ['auth-url', 'ftp://a.example/', 'is neither http nor https'],
    ['auth-url', 'http://user:pw@a.example/', 'userinfo'],
    ['auth-url', 'http:///path', 'has no host'],
    ['auth-url', 'https://invalid..auth.url', 'neither a DNS name nor an IP address'],
    ['auth-url', 'http://a.example:0/', 'port 0'],
    ['auth-url', 'http://a.example/a b', 'whitespace'],
    ['auth-url', 'http://a.example/a\r\nX: y', 'whitespace'],
    ['auth-url', 'http://a.example/é', 'non-ASCII'],
    ['auth-url', 'http://a.example/a#frag', 'fragment'],
    ['auth-url', 'http://a.example/%zz', '"%" that starts no %XX'],
    ['auth-url', 'http://a.example/a;proxy_pass http://x', 'whitespace'],
    ['auth-url', 'http://a.example/{x}', '"{" at offset'],
    ['auth-url', 'http://a.example/$uri', '$uri is not a variable Gatehouse puts in a URL'],
    ['auth-url', 'http://$http_x_host/', '$http_x_host is not a variable Gatehouse puts in the host of a URL'],
    ['auth-url', 'http://a.example/$', '"$" at offset'],
    ['auth-url', 'http://a.example.1/', 'ends in a number'],
    ['auth-method', 'CONNECT', 'is not an HTTP method'],
    ['auth-method', 'get', 'is not an HTTP method'],
    ['auth-signin', '/oauth2/start', 'is not a sign-in URL'],
    ['auth-signin-redirect-param', 'a&b', 'is not a query parameter name'],
    ['auth-response-headers', 'X-User, X User', 'is not a header name'],
    ['auth-response-headers', 'Host', 'may not set on the upstream request'],
    ['auth-request-redirect', 'https://x/$request_uri', 'characters ingress-nginx allows'],
    ['auth-cache-key', '$remote_user', '$remote_user is not a variable Gatehouse builds a cache key of'],
    ['auth-cache-key', 'a.b', 'neither a letter'],
    ['auth-cache-duration', '200 5x', 'is not a cache duration'],
    ['auth-always-set-cookie', 'yes', 'is not a boolean'],
    ['auth-keepalive', '-1', 'is not a whole number 0-10000'],
    ['auth-keepalive-requests', '0', 'is not a whole number 1-'],
    ['auth-keepalive-timeout', '1m', 'is not a whole number 1-'],
  ])('refuses %s: %j', (name, bad, why) => {
    const a: Record<string, string> = { [URL]: 'http://a.example/auth', [`${N}auth-cache-key`]: 'k', [N + name]: bad };
    expectRefused(read(a), N + name, bad, why);
  });

  it('refuses auth-proxy-set-headers naming a missing ConfigMap, a bad one, or another namespace', () => {
    const missing = read({ [URL]: 'http://a.example/', [`${N}auth-proxy-set-headers`]: 'nope' });
    expect(missing.ok || missing.problems[0]).toMatchObject({ code: 'GH_AUTH_HEADERS_REFUSED', message: expect.stringContaining('ConfigMap shop/nope does not exist') });
    const bad = read({ [URL]: 'http://a.example/', [`${N}auth-proxy-set-headers`]: 'bad-headers' });
    expect(bad.ok || bad.problems[0]).toMatchObject({ code: 'GH_AUTH_HEADERS_REFUSED', message: expect.stringContaining('nginx variable') });
    const other = read({ [URL]: 'http://a.example/', [`${N}auth-proxy-set-headers`]: 'kube-system/auth-headers' });
    expect(other.ok || other.problems[0]!.message).toContain('another namespace');
  });

  it('never throws on random values, and yields no control characters', () => {
    const names = ['auth-url', 'auth-method', 'auth-signin', 'auth-signin-redirect-param', 'auth-response-headers', 'auth-request-redirect', 'auth-cache-key', 'auth-cache-duration', 'auth-keepalive'].map((n) => N + n);
    fuzzAnnotation(names, (ing) => readExternalAuth(ing, CTX), { [URL]: 'http://a.example/auth' });
  });
});

describe('auth-proxy-set-headers in compile', () => {
  it('lists the ConfigMap it names, missing or not, for Kubernetes mode to watch by name', () => {
    const snapshot = new Snapshot();
    const objects = [
      { apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: 'gatehouse' }, spec: { controller: 'gatehouse.io/ingress-controller' } },
      ...[['a', 'auth-h'], ['b', 'shop/gone']].map(([name, value]) => ({
        apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name, namespace: 'shop', annotations: { [URL]: 'http://a.example/', [`${N}auth-proxy-set-headers`]: value } }, spec: { ingressClassName: 'gatehouse' },
      })),
    ];
    for (const o of objects) {
      const checked = toKubeObject(o);
      if (!checked.ok) throw new Error(checked.reason);
      snapshot.upsert(checked.object);
    }
    const result = compile(snapshot, { controllerClass: 'gatehouse.io/ingress-controller', ingressClass: 'gatehouse', watchIngressWithoutClass: false, defaultBackendService: null }, 1);
    expect(result.configMaps).toEqual(['shop/auth-h', 'shop/gone']);
  });
});
